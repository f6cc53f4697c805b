#!/bin/bash
# SPDX-License-Identifier: MIT
# CA certificates: refresh when due, RFC 7030 root key update, a set that does not chain is refused,
# and a change of server/label/ca_root triggers a new bootstrap.
. "$(dirname "$0")/helpers.sh"

start_server
write_config
est run --once
is "enrolled under the old root: exit 0" "$RC" 0
anchors_before=$(key_pipe est-cacerts_0 | sha256sum)

# A rollover answer that does not chain to the stored anchors is refused.
behaviour "cacerts-rollover-bad"
est cacerts --once
is "a rollover set that does not chain: exit 1" "$RC" 1
is "the stored anchors are kept" "$(key_pipe est-cacerts_0 | sha256sum)" "$anchors_before"
is "the stored anchors are kept (file copy)" "$(file_pipe est-cacerts_0 | sha256sum)" "$anchors_before"
check "no est-cacerts_1 appeared" bash -c "! keyctl search $(keyring_id) user est-cacerts_1"
check "no est-cacerts_1 appeared (file copy)" test ! -e "$T/store/est-cacerts_1.pem"

# The server rolls its root over; the device renews under the new one.
behaviour "rollover"
est cacerts --once
is "root key update: cacerts exits 0" "$RC" 0
check "three CA certificates are stored (NewWithNew, NewWithOld, OldWithNew)" key_serial est-cacerts_2
check "the new root is among them" bash -c "
	for i in 0 1 2; do keyctl pipe \$(keyctl search $(keyring_id) user est-cacerts_\$i); done |
		grep -v '^\$' > '$T/anchors.pem'
	openssl x509 -in '$SRV/root-new.pem' -noout -fingerprint -sha256 > '$T/fp-new'
	while openssl x509 -noout -fingerprint -sha256 2>/dev/null; do :; done < '$T/anchors.pem' | grep -qf '$T/fp-new'"
est renew --once
is "renewal after the rollover: exit 0" "$RC" 0
check "the renewed certificate chains to the new root" bash -c \
	"keyctl pipe $(key_serial est-enrolled-key-pair) | openssl verify -CAfile '$SRV/root-new.pem'"

# CA refresh when an anchor is within expiration_check of its end.
n=$(requests_count)
write_config "expiration_check = 3650d" "renew = false"
est run --once
is "CA certificates due: run exits 0" "$RC" 0
is "CA certificates due: /cacerts was fetched" "$(request_field "$(requests_count)" path)" "/.well-known/est/cacerts"
write_config "expiration_check = 3650d" "renew = false" "ca_rollover = false"
n=$(requests_count)
est run --once
is "ca_rollover = false: nothing fetched" "$(requests_count)" "$n"

# Re-bootstrap on change: label and ca_root change (after the rollover the old root no longer
# vouches for the server); the previous pair stays until the new one is stored.
before=$(key_pipe est-enrolled-key-pair | sha256sum)
write_config "label = other" "ca_root = $SRV/root-new.pem"
behaviour "simpleenroll-status 500"
est run --once
is "label changed, enrollment fails: exit 75" "$RC" 75
check "the request went to the new label" grep -q '/.well-known/est/other/cacerts' "$SRV/requests.log"
is "the previous pair stays" "$(key_pipe est-enrolled-key-pair | sha256sum)" "$before"
is "the previous pair stays (file copy)" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$before"
behaviour ""
est run --once
is "label changed: re-bootstrap and enroll, exit 0" "$RC" 0
check "label changed: it says why it bootstraps again" grep -q "changed since the last bootstrap" "$T/err"
check "the pair was replaced" test "$(key_pipe est-enrolled-key-pair | sha256sum)" != "$before"
check "the state records the new label" bash -c "key_pipe() { :; }; keyctl pipe $(key_serial est-state) | grep -q '^label=other'"
n=$(requests_count)
est run --once
is "after the re-bootstrap nothing is due" "$(requests_count)" "$n"

done_testing
