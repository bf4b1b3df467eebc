#!/bin/sh
# A local redirect (RFC 3875 section 6.2.2): the server serves /hello.txt.
printf 'Location: /hello.txt\n\n'
