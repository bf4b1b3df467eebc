#!/bin/sh
# Never answers: a child sleeps, the script waits for it.
sleep 1000 &
echo $! > forever.pid
wait
