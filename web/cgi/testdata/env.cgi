#!/bin/sh
# Prints the CGI meta-variables, the working directory, the arguments and
# the request body.
printf 'Content-Type: text/plain\n\n'
for v in GATEWAY_INTERFACE SERVER_SOFTWARE SERVER_NAME SERVER_PORT SERVER_PROTOCOL \
	REQUEST_METHOD SCRIPT_NAME PATH_INFO PATH_TRANSLATED QUERY_STRING REMOTE_ADDR \
	CONTENT_TYPE CONTENT_LENGTH HTTP_HOST HTTP_PROXY HTTP_X_TEST HTTPS NOTIFY_SOCKET; do
	eval "printf '%s=%s\n' $v \"\${$v-<unset>}\""
done
printf 'cwd=%s\n' "$(pwd)"
printf 'args=%s\n' "$#"
printf 'body=%s\n' "$(cat)"
