#!/bin/sh
i=0
while [ $i -lt 300 ]; do echo "stderr line $i" >&2; i=$((i+1)); done
printf 'Content-Type: text/plain\n\nok\n'
