#!/bin/bash
# SPDX-License-Identifier: MIT
# A server whose TLS certificate comes from a TLS CA of its own (ca_root) while /cacerts answers
# the enrollment CA: enrollment and renewal work with server_trust = cacerts+ca_root (the
# default); with server_trust = cacerts the renewal is refused, naming the trust set.
. "$(dirname "$0")/helpers.sh"

start_server --tls-ca
write_config "ca_root = $SRV/tls-ca.pem" "retry_interval = 1s" "retry_timeout = 10s"
est run --once
is "separate TLS CA: enrollment exits 0" "$RC" 0
is "the anchors are the enrollment CA, not ca_root" "$(anchors file)" "$(cat "$SRV/root.pem")"
check "the keyring holds the same anchors" both_same est-cacerts_0
check "the certificate chains to the anchors (file copy)" chains file
check "the certificate chains to the anchors (keyring)" chains keyring

first=$(leaf_fp file)
est renew --once
is "default trust: the renewal exits 0" "$RC" 0
check "default trust: the renewal went over the stored CA certificates and ca_root" \
	bash -c "! grep -q 'does not verify' '$T/err'"
check "default trust: a new certificate" test "$(leaf_fp file)" != "$first"
check "default trust: both copies hold it" test "$(leaf_fp keyring)" = "$(leaf_fp file)"
check "default trust: the copies agree" copies_agree
check "default trust: it chains" chains file

bundle=$(file_pipe est-enrolled-key-pair | sha256sum)
cas=$(anchors file | sha256sum)
sent=$(requests_count)
write_config "ca_root = $SRV/tls-ca.pem" "server_trust = cacerts" "retry_interval = 1s" \
	"retry_timeout = 10s"
est renew
is "server_trust = cacerts: the renewal exits 1" "$RC" 1
check "server_trust = cacerts: not retried" bash -c "! grep -q 'retrying' '$T/err'"
check "server_trust = cacerts: the message names the trust set used" \
	grep -q 'does not verify against the stored CA certificates:' "$T/err"
is "server_trust = cacerts: no request got through" "$(requests_count)" "$sent"
is "server_trust = cacerts: the file copy keeps the pair" \
	"$(file_pipe est-enrolled-key-pair | sha256sum)" "$bundle"
check "server_trust = cacerts: the keyring keeps the same pair" both_same est-enrolled-key-pair
is "server_trust = cacerts: the anchors are kept" "$(anchors file | sha256sum)" "$cas"
check "server_trust = cacerts: the copies agree" copies_agree
est cacerts --once
is "server_trust = cacerts: a CA refresh exits 1 too" "$RC" 1
is "server_trust = cacerts: still no request got through" "$(requests_count)" "$sent"

write_config "ca_root = $SRV/tls-ca.pem"
est renew --once
is "back to the default: the renewal exits 0" "$RC" 0
check "back to the default: the copies agree" copies_agree

done_testing
