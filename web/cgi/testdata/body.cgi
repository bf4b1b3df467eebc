#!/bin/sh
printf 'Content-Type: text/plain\n\nlength=%s read=%s\n' "$CONTENT_LENGTH" "$(wc -c | tr -d ' ')"
