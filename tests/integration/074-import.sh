#!/bin/bash
# SPDX-License-Identifier: MIT
# import ALIAS [FILE]: a PEM into both copies of the store in one commit, the bootstrap client pair
# that tls_client_auth then uses, kept by load; est-* aliases, bad PEM and mismatched pairs are
# refused (exit 2, nothing stored); no network, credentials or ca_root needed; waits for the lock.
. "$(dirname "$0")/helpers.sh"

start_server --auth cert
PAIR="$SRV/client-auth.pem"

est import
is "import without an alias is a usage error (exit 2)" "$RC" 2
est import a b c
is "import with three arguments is a usage error (exit 2)" "$RC" 2

write_config "tls_client_auth = true"
est import client-auth-certs <"$PAIR"
is "import of the client pair from stdin: exit 0" "$RC" 0
check "both copies hold it" both_same client-auth-certs
check "byte for byte what was given" cmp -s "$T/store/client-auth-certs.pem" "$PAIR"
is "its file is 0600" "$(stat -L -c %a "$T/store/client-auth-certs.pem")" 600
is "import contacted nobody" "$(requests_count)" 0

est run --once
is "tls_client_auth = true enrolls with the imported pair: exit 0" "$RC" 0
check "the pair is stored" both_same est-enrolled-key-pair
is "the server saw the imported client certificate" \
	"$(request_field "$(requests_count)" client_cert_subject | grep -c 'client')" 1

keyctl clear "$(keyring_id)"
est load
is "load after a keyring loss: exit 0" "$RC" 0
check "load restored the imported pair to the keyring" both_same client-auth-certs

est import extra-ca "$SRV/root.pem"
is "import of a certificate from FILE: exit 0" "$RC" 0
check "both copies hold it" both_same extra-ca

# Refusals: nothing is stored, the exit code is 2.
before=$(leaf_fp keyring)
est import est-enrolled-key-pair "$PAIR"
is "import into est-enrolled-key-pair is refused (exit 2)" "$RC" 2
check "and says why" grep -q "est-enrolled-key-pair: the est-\* aliases are est-enroll's own" "$T/err"
is "the enrolled pair is untouched" "$(leaf_fp keyring)" "$before"
est import est-cacerts_0 "$SRV/root.pem"
is "import into est-cacerts_0 is refused (exit 2)" "$RC" 2

echo "not a PEM at all" | est import junk
is "a file without PEM is refused (exit 2)" "$RC" 2
check "and says so" grep -q "import: stdin: no PEM private key or certificate" "$T/err"
check "nothing stored under that alias (files)" test ! -e "$T/store/junk.pem"
check "nothing stored under that alias (keyring)" bash -c "! keyctl search $(keyring_id) user junk"

printf -- '-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n' >"$T/damaged.pem"
est import damaged "$T/damaged.pem"
is "a damaged PEM block is refused (exit 2)" "$RC" 2
check "and says so" grep -q "a PEM block is damaged" "$T/err"
check "nothing stored" test ! -e "$T/store/damaged.pem"

# A key with somebody else's certificate.
sed -n '/PRIVATE KEY-----/,/END.*PRIVATE KEY-----/p' "$PAIR" >"$T/mismatch.pem"
cat "$SRV/root.pem" >>"$T/mismatch.pem"
cp "$T/store/client-auth-certs.pem" "$T/client-before.pem"
est import client-auth-certs "$T/mismatch.pem"
is "a key that does not match its certificate is refused (exit 2)" "$RC" 2
check "and says so" grep -q "the private key does not match the first certificate" "$T/err"
check "the stored client pair is untouched" cmp -s "$T/store/client-auth-certs.pem" "$T/client-before.pem"
est import other-pair "$T/mismatch.pem"
is "a mismatched pair is refused under any alias (exit 2)" "$RC" 2

est import client-auth-certs "$SRV/root.pem"
is "the client alias without a key is refused (exit 2)" "$RC" 2
check "and says it needs both" grep -q "needs a private key and its certificate" "$T/err"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:x \
	-out "$T/enc.pem" 2>/dev/null
est import enc-key "$T/enc.pem"
is "an encrypted key is refused (exit 2)" "$RC" 2
check "and says so" grep -q "the private key is encrypted" "$T/err"

est import nothing "$T/no-such-file.pem"
is "a missing FILE fails (exit 1)" "$RC" 1
check "and names it" grep -q "no-such-file.pem" "$T/err"
est import ".hidden" "$SRV/root.pem"
is "a bad alias is refused (exit 2)" "$RC" 2

# At boot: no ca_root, no password needed.
write_config "ca_root = $T/no-such-root.pem" "http_auth = basic" "username = u"
est import boot-ca "$SRV/root.pem"
is "import without ca_root or password: exit 0" "$RC" 0
check "stored" both_same boot-ca

# It waits for the store's lock, as a forced command does.
write_config
hold_store_lock
"$EST_ENROLL" -c "$T/est.conf" import late-ca "$SRV/root.pem" >"$T/out" 2>"$T/err" &
pid=$!
check "import waits while the lock is held" wait_until 5 blocked_on_lock "$pid"
check "and has stored nothing yet" test ! -e "$T/store/late-ca.pem"
release_store_lock
wait "$pid"
is "once the lock is released import finishes: exit 0" "$?" 0
check "stored" both_same late-ca

# The client pair goes into tls_client_keystore when that is another keystore.
write_config "tls_client_keystore = client"
printf '[keystore client]\ntype = file\npath = %s/client\n' "$T" >>"$T/est.conf"
est import client-auth-certs "$PAIR"
is "import of the client pair with tls_client_keystore = client: exit 0" "$RC" 0
check "it went into that keystore" cmp -s "$T/client/client-auth-certs.pem" "$PAIR"

done_testing
