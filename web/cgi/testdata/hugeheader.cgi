#!/bin/sh
# A header line that never ends: 1 MB of it.
printf 'Content-Type: text/plain\nX-Big: '
head -c 1000000 /dev/zero | tr '\0' a
printf '\n\nbody\n'
