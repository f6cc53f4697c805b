#!/bin/bash
# SPDX-License-Identifier: MIT
# A change of server: a move that fails leaves server A's identity and anchors in both copies and
# reverting to A keeps working; a move that succeeds through `cacerts` alone re-enrolls under the
# new server, so the stored certificate always chains to the stored anchors.
. "$(dirname "$0")/helpers.sh"

start_server
write_config
est run --once
is "enrolled at server A: exit 0" "$RC" 0

# What A left, in both copies (they agree, checked below), to compare with after the failed move.
anchors file >"$T/a-anchors.pem"
cp "$T/store/est-enrolled-key-pair.pem" "$T/a-bundle.pem"
cp "$T/store/est-state.pem" "$T/a-state.pem"
a_count=$(anchor_count file)
check "before the move the two copies agree" copies_agree

# 3. Server B has its own CA and wants credentials the config does not have: 401.
start_server_b --auth basic --user x --password y
write_config "server = localhost:$PORT_B" "ca_root = $SRV_B/root.pem"
est run --once
is "move to B refused (401): exit 77" "$RC" 77
is "failed move: the keyring holds as many CA certificates as before" \
	"$(anchor_count keyring)" "$a_count"
check "failed move: the keyring still holds A's CA certificates" \
	cmp -s <(anchors keyring) "$T/a-anchors.pem"
check "failed move: the file copy still holds A's CA certificates" \
	cmp -s <(anchors file) "$T/a-anchors.pem"
check "failed move: the keyring still holds A's bundle" \
	cmp -s <(key_pipe est-enrolled-key-pair) "$T/a-bundle.pem"
check "failed move: the file copy still holds A's bundle" \
	cmp -s "$T/store/est-enrolled-key-pair.pem" "$T/a-bundle.pem"
check "failed move: the keyring still holds A's est-state" \
	cmp -s <(key_pipe est-state) "$T/a-state.pem"
check "failed move: the file copy still holds A's est-state" \
	cmp -s "$T/store/est-state.pem" "$T/a-state.pem"

# Back to A: the identity from A still authenticates to A, and A's anchors still vouch for it.
write_config
est renew --once
is "reverted to A: renew exits 0" "$RC" 0
check "reverted to A: a new certificate" test "$(leaf_fp file)" != \
	"$(openssl x509 -in "$T/a-bundle.pem" -noout -fingerprint -sha256)"
est cacerts --once
is "reverted to A: cacerts exits 0" "$RC" 0
check "reverted to A: the renewed certificate verifies under the keyring's anchors" chains keyring
check "reverted to A: the renewed certificate verifies under the file copy's anchors" chains file
check "reverted to A: the two copies agree" copies_agree

# 4. Server B now works without credentials; `cacerts` alone after the switch. New anchors
# without a certificate under them would be a mix, so the re-bootstrap brings B's certificate.
stop_server_b
rm -rf "$SRV_B"
start_server_b
write_config "server = localhost:$PORT_B" "ca_root = $SRV_B/root.pem"
est cacerts --once
is "switched to B: cacerts exits 0" "$RC" 0
check "switched to B: the keyring's certificate chains to the keyring's anchors" chains keyring
check "switched to B: the file copy's certificate chains to its anchors" chains file
check "switched to B: the keyring's certificate was issued by B's CA" bash -c \
	"keyctl pipe $(key_serial est-enrolled-key-pair) | openssl verify -CAfile '$SRV_B/root.pem'"
check "switched to B: the file copy's certificate was issued by B's CA" \
	openssl verify -CAfile "$SRV_B/root.pem" "$T/store/est-enrolled-key-pair.pem"
check "switched to B: the two copies agree" copies_agree
na=$(requests_count)
nb=$(SRV=$SRV_B requests_count)
est run --once
is "switched to B: the next run exits 0" "$RC" 0
is "switched to B: the next run sends nothing to B (nothing due)" \
	"$(SRV=$SRV_B requests_count)" "$nb"
is "switched to B: the next run sends nothing to A" "$(requests_count)" "$na"

done_testing
