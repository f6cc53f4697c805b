#!/bin/bash
# SPDX-License-Identifier: MIT
# The keyring and its file copy are one store: a lost keyring is restored from the copy without
# a request, a lost est-state is rebuilt, status tells when the copies disagree, ca_root is
# compared by its certificates (not its bytes), a root key update leaves a usable CA set, and a
# stale request key never becomes the next key.
. "$(dirname "$0")/helpers.sh"

start_server
write_config
est run --once
is "enrolled: exit 0" "$RC" 0
check "after the enrollment the two copies agree" copies_agree

# snapshot DIR: the file copy as it is now, to compare with after a pass.
snapshot() {
	rm -rf "$1"
	cp -a "$T/store" "$1"
}

# Every check of a restore, the same for each way of losing the keyring.
check_restored() {
	is "$1: run exits 0" "$RC" 0
	is "$1: no request was sent" "$(requests_count)" "$n"
	check "$1: the keyring holds the bundle it held before" \
		cmp -s <(key_pipe est-enrolled-key-pair) "$T/before/est-enrolled-key-pair.pem"
	check "$1: the keyring's bundle is the file copy's" both_same est-enrolled-key-pair
	is "$1: every est-cacerts_N is back" "$(anchor_count keyring)" "$(anchor_count file)"
	check "$1: the CA certificates equal the file copy" \
		cmp -s <(anchors keyring) <(anchors file)
	check "$1: est-state is back, equal to the file copy" both_same est-state
	is "$1: the certificate serial is unchanged" "$(leaf_serial keyring)" "$serial"
}

# 1. keyctl clear: the keyring is there but empty. The copy is intact, so nothing is due.
snapshot "$T/before"
serial=$(leaf_serial file)
n=$(requests_count)
keyctl clear "$(keyring_id)"
est run --once
check_restored "keyring cleared"

# The same when the keyring itself is gone from @u, as after a reboot.
keyctl unlink "$(keyring_id)" @u >/dev/null
n=$(requests_count)
est run --once
check_restored "keyring unlinked"

# 7. An identity without est-state (a crash between the pair and the state in older versions):
# the anchors and the pair are valid, so the state is rebuilt, not a new certificate requested.
snapshot "$T/before"
keyctl unlink "$(key_serial est-state)" "$(keyring_id)" >/dev/null
rm -f "$T/store/est-state.pem"
e=$(requests_to simpleenroll)
est run --once
is "no est-state: run exits 0" "$RC" 0
is "no est-state: no /simpleenroll" "$(requests_to simpleenroll)" "$e"
check "no est-state: the keyring holds est-state again" copy_has keyring est-state
check "no est-state: the file copy holds est-state again" copy_has file est-state
check "no est-state: the enrolled pair is kept in both copies" bash -c \
	"cmp -s '$T/before/est-enrolled-key-pair.pem' '$T/store/est-enrolled-key-pair.pem' &&
	test \"$(leaf_fp keyring)\" = \"$(leaf_fp file)\""

# The config-change detection compares the DER of ca_root: a comment and a blank line added to
# the PEM file change nothing that matters, so nothing is bootstrapped again.
fp=$(leaf_fp file)
printf '# x\n\n' >>"$SRV/root.pem"
n=$(requests_count)
est run --once
is "ca_root with a comment added: run exits 0" "$RC" 0
is "ca_root with a comment added: no request (no re-bootstrap)" "$(requests_count)" "$n"
check "ca_root with a comment added: the pair is kept in both copies" \
	test "$(leaf_fp keyring)" = "$fp" -a "$(leaf_fp file)" = "$fp"

# status says when the copies disagree: the keyring's est-cacerts_0 replaced by another CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/other.key" \
	-out "$T/other.pem" -subj "/CN=Other CA" -days 30 2>/dev/null
keyctl pupdate "$(key_serial est-cacerts_0)" <"$T/other.pem"
est status
is "copies disagree: status exits 0" "$RC" 0
check "copies disagree: status says so" grep -qi "disagree" "$T/out" "$T/err"
est status --json
is "copies disagree: status --json exits 0" "$RC" 0
check "copies disagree: status --json has \"consistent\": false" grep -q '"consistent": false' \
	"$T/out"
est load
is "copies disagree: load exits 0" "$RC" 0
check "load restored est-cacerts_0 from the file copy" both_same est-cacerts_0
est status --json
check "after load: status --json has \"consistent\": true" grep -q '"consistent": true' "$T/out"

# 5. Root key update (not killed midway: the kill points are another test's): the CA set left
# behind still vouches for the enrolled certificate, in both copies alike, and renewal works.
behaviour "rollover"
est cacerts --once
is "root key update: cacerts exits 0" "$RC" 0
check "root key update: the enrolled certificate verifies under the keyring's CA set" \
	chains keyring
check "root key update: the enrolled certificate verifies under the file copy's CA set" \
	chains file
is "root key update: both copies hold as many CA certificates" \
	"$(anchor_count keyring)" "$(anchor_count file)"
check "root key update: both copies hold the same CA certificates" \
	cmp -s <(anchors keyring) <(anchors file)
est renew --once
is "renew after the root key update: exit 0" "$RC" 0
check "renewed: the certificate verifies under the keyring's CA set" chains keyring
check "renewed: the certificate verifies under the file copy's CA set" chains file

# 6. A stored est-request-key-pair that is the enrolled key itself (or does not fit key_algorithm)
# is not a pending request to resume: with renew_rekey = true the next key is a fresh one.
# plant_request_key FILE: FILE becomes est-request-key-pair in both copies.
plant_request_key() {
	install -m 0600 "$1" "$T/store/est-request-key-pair.pem"
	keyctl padd user est-request-key-pair "$(keyring_id)" <"$1" >/dev/null
}

# key_of COPY: the public key of the enrolled pair in one copy.
key_of() {
	copy_pipe "$1" est-enrolled-key-pair | openssl pkey -pubout 2>/dev/null
}

# is_p256 COPY: the enrolled key of one copy is an EC P-256 key.
is_p256() {
	copy_pipe "$1" est-enrolled-key-pair | openssl pkey -noout -text 2>/dev/null |
		grep -q "ASN1 OID: prime256v1"
}

# Both ways a renewal starts: forced (renew) and due (run with a check beyond the lifetime).
for how in "renew --once" "run --once"; do
	# 365d is the whole lifetime of the test server's certificates (issued 60 s backdated): due.
	if [ "$how" = "run --once" ]; then
		write_config "expiration_check = 365d"
	else
		write_config
	fi

	key_pipe est-enrolled-key-pair | openssl pkey >"$T/req.pem"
	old=$(key_of file)
	plant_request_key "$T/req.pem"
	est $how
	is "request key = enrolled key, $how: exit 0" "$RC" 0
	check "request key = enrolled key, $how: a new key in the keyring" \
		test -n "$(key_of keyring)" -a "$(key_of keyring)" != "$old"
	check "request key = enrolled key, $how: a new key in the file copy" \
		test -n "$(key_of file)" -a "$(key_of file)" != "$old"
	check "request key = enrolled key, $how: no est-request-key-pair in the keyring" \
		bash -c "! keyctl search $(keyring_id) user est-request-key-pair"
	check "request key = enrolled key, $how: no est-request-key-pair in the file copy" \
		test ! -e "$T/store/est-request-key-pair.pem"

	# An RSA-2048 request key while key_algorithm = EC (the default, P-256).
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.pem" 2>/dev/null
	plant_request_key "$T/rsa.pem"
	est $how
	is "RSA request key under key_algorithm = EC, $how: exit 0" "$RC" 0
	check "RSA request key, $how: the new key in the keyring is EC P-256" is_p256 keyring
	check "RSA request key, $how: the new key in the file copy is EC P-256" is_p256 file
	check "RSA request key, $how: no est-request-key-pair left in either copy" bash -c \
		"! keyctl search $(keyring_id) user est-request-key-pair >/dev/null 2>&1 &&
		test ! -e '$T/store/est-request-key-pair.pem'"
done
check "in the end the two copies agree" copies_agree

done_testing
