#!/bin/sh
printf 'Status: 204 No Content\n\n'
