#!/bin/sh
# Answers in part, then hangs.
printf 'Content-Type: text/plain\n\npartial\n'
exec sleep 1000
