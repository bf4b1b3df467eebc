#!/bin/sh
printf 'Status: 404 Not Found\nContent-Type: text/plain\nX-Script: status\n\nnothing here\n'
