#!/bin/bash
# SPDX-License-Identifier: MIT
# CA certificates: refresh when due, RFC 7030 root key update (for a device online at the update
# and for one that missed it), a set that does not chain is refused, and a change of
# server/label/ca_root triggers a new bootstrap.
. "$(dirname "$0")/helpers.sh"

# Device B: a second device of the same server, with a keystore, keyring and store of its own.
EXTRA_KEYRINGS="${KEYRING}b"
write_config_b() {
	sed -e "s|^keystore = it\$|keystore = itb|" -e "s|^\[keystore it\]\$|[keystore itb]|" \
		-e "s|^keyring = .*|keyring = ${KEYRING}b|" -e "s|^path = .*|path = $T/store-b|" \
		"$T/est.conf" >"$T/est-b.conf"
}
est_b() {
	"$EST_ENROLL" -c "$T/est-b.conf" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}
# anchors_b: device B's CA certificates, from its file copy, concatenated.
anchors_b() {
	cat "$T"/store-b/est-cacerts_*.pem 2>/dev/null
}
# holds_cert DIR CERT: one of the est-cacerts_*.pem in DIR is CERT.
holds_cert() {
	local f
	for f in "$1"/est-cacerts_*.pem; do
		cmp -s <(openssl x509 -in "$f" -outform DER) <(openssl x509 -in "$2" -outform DER) &&
			return 0
	done
	return 1
}

start_server
write_config
est run --once
is "enrolled under the old root: exit 0" "$RC" 0
anchors_before=$(key_pipe est-cacerts_0 | sha256sum)
# Device B trusts the stored anchors only (RFC 7030 3.6.1 strict), not ca_root.
write_config "server_trust = cacerts"
write_config_b
write_config
est_b run --once
is "device B enrolled under the old root: exit 0" "$RC" 0
is "device B holds one CA certificate, the old root" "$(anchors_b)" "$(cat "$SRV/root.pem")"

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
is "four CA certificates are stored (NewWithNew, NewWithOld, OldWithNew, OldWithOld)" \
	"$(anchor_count keyring) $(anchor_count file)" "4 4"
check "the new root is among them" bash -c "
	for i in 0 1 2 3; do keyctl pipe \$(keyctl search $(keyring_id) user est-cacerts_\$i); done |
		grep -v '^\$' > '$T/anchors.pem'
	openssl x509 -in '$SRV/root-new.pem' -noout -fingerprint -sha256 > '$T/fp-new'
	while openssl x509 -noout -fingerprint -sha256 2>/dev/null; do :; done < '$T/anchors.pem' | grep -qf '$T/fp-new'"
check "the certificate from before the update still chains to the stored set" chains keyring
est renew --once
is "renewal after the rollover: exit 0" "$RC" 0
check "the renewed certificate chains to the new root" bash -c \
	"keyctl pipe $(key_serial est-enrolled-key-pair) | openssl verify -CAfile '$SRV/root-new.pem'"

# Device B missed the /cacerts answer (offline, killed): it holds only the old root, and the
# server presents NewWithOld after its certificate (RFC 7030 4.1.3), so B connects, takes the
# new set and renews under the new root.
est_b cacerts --once
is "device B, only the old root, after the update: cacerts exits 0" "$RC" 0
is "device B: four CA certificates stored" "$(ls "$T"/store-b/est-cacerts_*.pem | wc -l)" 4
check "device B: the new root is among them" holds_cert "$T/store-b" "$SRV/root-new.pem"
est_b renew --once
is "device B: renewal after the update: exit 0" "$RC" 0
check "device B: the renewed certificate chains to the new root" bash -c \
	"openssl verify -CAfile '$SRV/root-new.pem' '$T/store-b/est-enrolled-key-pair.pem'"

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

# Re-bootstrap on change: label and ca_root (now the new root) change; the previous pair stays
# until the new one is stored.
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
