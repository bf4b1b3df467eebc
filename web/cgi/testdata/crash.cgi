#!/bin/sh
echo "Traceback: internal secret detail" >&2
exit 3
