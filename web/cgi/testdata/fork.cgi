#!/bin/sh
# Answers, leaves a child behind that holds its stdout, and exits.
printf 'Content-Type: text/plain\n\nparent done\n'
sleep 1000 &
echo $! > fork.pid
exit 0
