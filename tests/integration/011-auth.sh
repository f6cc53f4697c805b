#!/bin/bash
# SPDX-License-Identifier: MIT
# HTTP basic, HTTP digest and TLS client certificate authentication; refused credentials are 77.
. "$(dirname "$0")/helpers.sh"

for mode in basic digest; do
	start_server --auth "$mode" --user dev --password 'right-Pa55'
	write_config "http_auth = $mode" "username = dev" "password = wrong-Pa55"
	est run --once
	is "$mode: a wrong password exits 77" "$RC" 77
	check "$mode: no pair is stored" bash -c "! keyctl search $(keyring_id) user est-enrolled-key-pair"
	check "$mode: the password is not logged" bash -c "! grep -q 'Pa55' '$T/err'"
	n=$(requests_to simpleenroll)
	est run
	is "$mode: 401 is not retried (exit 77 at once)" "$RC" 77
	# One attempt: digest needs the challenge round trip, so two HTTP requests.
	per_attempt=1
	[ "$mode" = digest ] && per_attempt=2
	is "$mode: one attempt only" "$(($(requests_to simpleenroll) - n))" "$per_attempt"

	printf 'right-Pa55\n' >"$T/password"
	chmod 0600 "$T/password"
	write_config "http_auth = $mode" "username = dev" "password_file = $T/password"
	est run --once
	is "$mode: the right password from password_file enrolls (exit 0)" "$RC" 0
	check "$mode: the pair is stored" key_serial est-enrolled-key-pair
	check "$mode: no warning for a 0600 password file" bash -c "! grep -q 'readable by' '$T/err'"
	keyctl clear "$(keyring_id)"
	rm -rf "$T/store"
	stop_server
	rm -rf "$T/srv"
done

# TLS client certificate: the key pair is taken from a keystore alias.
start_server --auth cert
write_config "tls_client_auth = false"
est run --once
is "cert: without a client certificate the server refuses (77)" "$RC" 77

client_keystore
est run --once
is "cert: a missing client key pair fails (exit 1)" "$RC" 1
check "cert: the missing alias is named" grep -q "client-auth-certs" "$T/err"
install -m 0600 "$SRV/client-auth.pem" "$T/client/client-auth-certs.pem"
est run --once
is "cert: with the client certificate enrollment succeeds" "$RC" 0
check "cert: the pair is stored" key_serial est-enrolled-key-pair
is "cert: the server saw the client certificate" \
	"$(request_field "$(requests_count)" client_cert_subject | grep -c 'client')" 1

done_testing
