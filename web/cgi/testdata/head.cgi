#!/bin/sh
printf 'Content-Type: text/plain\nX-Method: %s\n\nbody of %s\n' "$REQUEST_METHOD" "$REQUEST_METHOD"
