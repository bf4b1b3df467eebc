#!/bin/sh
# Sends a first line, then waits for the test to write to stream.fifo.
printf 'Content-Type: text/plain\n\nfirst\n'
read line < stream.fifo
printf 'second %s\n' "$line"
