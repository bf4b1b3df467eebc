#!/bin/sh
printf 'HTTP/1.1 202 Accepted\r\nContent-Type: text/plain\r\n\r\naccepted\n'
