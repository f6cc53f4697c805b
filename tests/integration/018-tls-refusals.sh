#!/bin/bash
# SPDX-License-Identifier: MIT
# A TLS handshake the server refuses for good is exit 1 at once, with the cause and the trust
# anchors named; the stored identity stays as it was in both copies.
. "$(dirname "$0")/helpers.sh"

# nothing_stored WHAT: neither copy holds any est-* alias
nothing_stored() {
	is "$1: the keyring holds nothing" "$(est_aliases keyring)" ""
	is "$1: the file copy holds nothing" "$(est_aliases file)" ""
}

# A TLS 1.3-only server and a PoP pass capped at TLS 1.2 for a forced tls-unique: no version in
# common.
start_server --tls 1.3
write_config "pop = true" "pop_binding = tls-unique" "retry_interval = 1s" "retry_timeout = 10s"
start=$(date +%s)
est run
end=$(date +%s)
is "TLS 1.3-only server, pass capped at 1.2: exit 1" "$RC" 1
check "TLS 1.3-only server: not retried ($((end - start))s)" test $((end - start)) -le 3
check "TLS 1.3-only server: no retry was logged" bash -c "! grep -q 'retrying' '$T/err'"
check "TLS 1.3-only server: the message names the alert" grep -q '(alert: protocol version)' "$T/err"
check "TLS 1.3-only server: and what this client offered, and why" \
	grep -q 'offers TLS 1.2 only (pop = true with pop_binding = tls-unique)' "$T/err"
check "TLS 1.3-only server: and the trust anchors of the bootstrap" grep -q 'authenticated by the ca_root' "$T/err"
is "TLS 1.3-only server: no request got through" "$(requests_count)" 0
nothing_stored "TLS 1.3-only server"

# Enrolled without PoP over TLS 1.3; then PoP with tls-unique is asked for: the renewal is
# refused by the handshake, the identity stays.
write_config
est run --once
is "TLS 1.3 without PoP: exit 0" "$RC" 0
bundle=$(file_pipe est-enrolled-key-pair | sha256sum)
cas=$(anchors file | sha256sum)
sent=$(requests_count)
write_config "pop = true" "pop_binding = tls-unique"
est renew --once
is "renewal capped at TLS 1.2 against TLS 1.3 only: exit 1" "$RC" 1
check "renewal: the message names the stored CA certificates" \
	grep -q 'authenticated by the stored CA certificates' "$T/err"
is "renewal: no request got through" "$(requests_count)" "$sent"
is "renewal: the file copy keeps the pair" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$bundle"
check "renewal: the keyring keeps the same pair" both_same est-enrolled-key-pair
is "renewal: the CA certificates are kept" "$(anchors file | sha256sum)" "$cas"
check "renewal: the copies agree" copies_agree

# With pop_binding left to the pass, a server without TLS 1.2 gets tls-exporter instead.
write_config "pop = true"
est renew --once
is "pop = true, pop_binding empty, TLS 1.3-only server: renewed" "$RC" 0
check "pop_binding empty: tls-exporter was used, saying why" \
	grep -q 'offers no TLS 1.2: proof of possession with tls-exporter' "$T/err"
check "pop_binding empty: the copies agree" copies_agree
stop_server
kctl clear "$(keyring_id)"
rm -rf "$T/store" "$T/srv"

# pop_binding = tls-exporter needs TLS 1.3: against a TLS 1.2-only server the pass fails at its
# first request, before any key is generated.
start_server --tls 1.2
write_config "pop = true" "pop_binding = tls-exporter"
est run --once
is "tls-exporter against TLS 1.2 only: exit 1" "$RC" 1
check "tls-exporter against TLS 1.2 only: the message says why TLS 1.3 is needed" \
	grep -q 'offers TLS 1.3 only (pop = true with pop_binding = tls-exporter)' "$T/err"
is "tls-exporter against TLS 1.2 only: no request got through" "$(requests_count)" 0
nothing_stored "tls-exporter against TLS 1.2 only"
write_config
est run --once
is "TLS 1.2 without PoP: exit 0" "$RC" 0
bundle=$(file_pipe est-enrolled-key-pair | sha256sum)
sent=$(requests_count)
write_config "pop = true" "pop_binding = tls-exporter"
est enroll --once
is "forced enrollment with tls-exporter against TLS 1.2: exit 1" "$RC" 1
is "forced enrollment: no request got through" "$(requests_count)" "$sent"
check "forced enrollment: no request key was generated (file copy)" \
	bash -c "! test -e '$T/store/est-request-key-pair.pem'"
check "forced enrollment: no request key was generated (keyring)" \
	bash -c "! copy_has keyring est-request-key-pair" 2>/dev/null
is "forced enrollment: the file copy keeps the pair" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$bundle"
check "forced enrollment: the keyring keeps the same pair" both_same est-enrolled-key-pair
check "forced enrollment: the copies agree" copies_agree
stop_server
kctl clear "$(keyring_id)"
rm -rf "$T/store" "$T/srv"

# A server whose certificate does not chain to ca_root: exit 1 at once, ca_root named.
start_server --server-cert-untrusted
write_config "retry_interval = 1s" "retry_timeout = 10s"
est run
is "untrusted server certificate: exit 1" "$RC" 1
check "untrusted server certificate: not retried" bash -c "! grep -q 'retrying' '$T/err'"
check "untrusted server certificate: the message says it does not verify against ca_root" \
	grep -q 'does not verify against the ca_root' "$T/err"
is "untrusted server certificate: no request got through" "$(requests_count)" 0
nothing_stored "untrusted server certificate"

stop_server
rm -rf "$T/srv" "$T/store"

# A TLS client certificate of a CA the server does not know: the server's alert ends the
# handshake, exit 1 at once. Under TLS 1.3 the alert comes after the client's side of the
# handshake is done: it is read with the answer to the first request, and classified the same.
for v in 1.2 1.3; do
	start_server --auth cert --tls $v
	make_pki >/dev/null
	SRV="$T/srv"
	client_keystore "retry_interval = 1s" "retry_timeout = 10s"
	install -m 0600 "$T/pki/bundle.pem" "$T/client/client-auth-certs.pem"
	est run
	is "TLS $v, client certificate of an unknown CA: exit 1" "$RC" 1
	check "TLS $v, client certificate of an unknown CA: not retried" \
		bash -c "! grep -q 'retrying' '$T/err'"
	check "TLS $v, client certificate of an unknown CA: the alert and its meaning are named" \
		grep -Eq 'refused by the server \(alert: [a-zA-Z ]+\): the server refused our TLS client certificate' "$T/err"
	is "TLS $v, client certificate of an unknown CA: no enrollment request got through" \
		"$(requests_to simpleenroll)" 0
	nothing_stored "TLS $v, client certificate of an unknown CA"
	stop_server
	rm -rf "$T/srv" "$T/store" "$T/pki" "$T/client"
done

done_testing
