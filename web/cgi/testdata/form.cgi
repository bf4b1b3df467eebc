#!/usr/bin/python3
"""Parses a form (query string or POST body) and answers JSON."""
import json
import os
import sys
import urllib.parse

length = int(os.environ.get("CONTENT_LENGTH") or 0)
body = sys.stdin.buffer.read(length).decode() if length else ""
fields = urllib.parse.parse_qs(os.environ.get("QUERY_STRING", ""))
fields.update(urllib.parse.parse_qs(body))
sys.stdout.write("Content-Type: application/json\r\n")
sys.stdout.write("Set-Cookie: a=1\r\n")
sys.stdout.write("Set-Cookie: b=2\r\n")
sys.stdout.write("\r\n")
sys.stdout.write(json.dumps({"method": os.environ["REQUEST_METHOD"], "fields": fields}, sort_keys=True))
sys.stdout.write("\n")
