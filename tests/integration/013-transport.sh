#!/bin/bash
# SPDX-License-Identifier: MIT
# A label, IPv6 loopback, TLS 1.2 and 1.3 servers, line-wrapped and one-line answers.
. "$(dirname "$0")/helpers.sh"

start_server
write_config "label = arbitrary-label1"
est run --once
is "label: run exits 0" "$RC" 0
is "label: cacerts under the label" "$(request_field 1 path)" "/.well-known/est/arbitrary-label1/cacerts"
is "label: csrattrs under the label" "$(request_field 2 path)" "/.well-known/est/arbitrary-label1/csrattrs"
is "label: simpleenroll under the label" "$(request_field 3 path)" "/.well-known/est/arbitrary-label1/simpleenroll"
stop_server
keyctl clear "$(keyring_id)"; rm -rf "$T/store" "$T/srv"

if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
	start_server --bind ::1
	write_config
	sed -i "s|^server = .*|server = [::1]:$PORT|" "$T/est.conf"
	est run --once
	is "IPv6 [::1]: run exits 0" "$RC" 0
	check "IPv6 [::1]: the pair is stored" key_serial est-enrolled-key-pair
	stop_server
	keyctl clear "$(keyring_id)"; rm -rf "$T/store" "$T/srv"
else
	tap_result 0 "# SKIP no IPv6 loopback"
fi

for v in 1.2 1.3; do
	start_server --tls "$v"
	write_config
	est run --once
	is "TLS $v: run exits 0" "$RC" 0
	is "TLS $v: the server saw TLSv$v" "$(request_field 3 tls_version)" "TLSv$v"
	stop_server
	keyctl clear "$(keyring_id)"; rm -rf "$T/store" "$T/srv"
done

start_server --no-wrap --cte drop --intermediate
write_config
est run --once
is "one-line base64, no Content-Transfer-Encoding, an intermediate CA: exit 0" "$RC" 0
check "two CA certificates were stored" key_serial est-cacerts_1
check "the chain follows the certificate in the bundle" bash -c \
	"[ \$(keyctl pipe $(key_serial est-enrolled-key-pair) | grep -c 'BEGIN CERTIFICATE') -ge 2 ]"

done_testing
