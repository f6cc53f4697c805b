#!/bin/bash
# SPDX-License-Identifier: MIT
# First enrollment against the test server: bootstrap, key pair, CSR, /simpleenroll, store.
. "$(dirname "$0")/helpers.sh"

start_server
write_config

est run --once
is "run exits 0" "$RC" 0
check "the CA certificate is stored" key_serial est-cacerts_0
check "the enrolled pair is stored" key_serial est-enrolled-key-pair
check "no request key is left" bash -c "! keyctl search $(keyring_id) user est-request-key-pair"
subject=$(key_pipe est-enrolled-key-pair | openssl x509 -noout -subject -nameopt RFC2253)
is "the certificate has the configured subject" "$subject" "subject=CN=gw-0042,O=Example,C=IT"
check "the key parses" bash -c "keyctl pipe $(key_serial est-enrolled-key-pair) | openssl pkey -noout"
check "the bundle's key matches its certificate" bash -c "
	a=\$(keyctl pipe $(key_serial est-enrolled-key-pair) | openssl pkey -pubout)
	b=\$(keyctl pipe $(key_serial est-enrolled-key-pair) | openssl x509 -noout -pubkey)
	[ \"\$a\" = \"\$b\" ]"
check "the certificate verifies against the server's root" bash -c \
	"keyctl pipe $(key_serial est-enrolled-key-pair) | openssl verify -CAfile '$SRV/root.pem'"
check "the key is EC P-256 by default" bash -c \
	"keyctl pipe $(key_serial est-enrolled-key-pair) | openssl pkey -noout -text | grep -q 'prime256v1\|P-256'"
perm=$(keyctl rdescribe "$(key_serial est-enrolled-key-pair)" | cut -d';' -f4)
is "the pair's key permissions" "$perm" "3f3f0000"
check "the persistent copy exists" test -s "$T/store/est-enrolled-key-pair.pem"
is "the persistent copy is 0600" "$(stat -L -c %a "$T/store/est-enrolled-key-pair.pem")" 600
check "the serials file names the pair" grep -q "^est-enrolled-key-pair [0-9]" "$T/run/it.keys"
check "the bootstrap state is recorded" bash -c "keyctl pipe $(key_serial est-state) | grep -q '^server=localhost:$PORT'"

# What the server saw.
is "three requests: cacerts, csrattrs, simpleenroll" "$(requests_count)" 3
is "first request path" "$(request_field 1 path)" "/.well-known/est/cacerts"
is "second request path" "$(request_field 2 path)" "/.well-known/est/csrattrs"
is "third request path" "$(request_field 3 path)" "/.well-known/est/simpleenroll"
is "third request method" "$(request_field 3 method)" "POST"
is "one TLS connection for the pass" "$(request_field 3 conn)" "$(request_field 1 conn)"
ct=$(request_field 3 Content-Type)
is "the CSR's media type" "$ct" "application/pkcs10"
check "the CSR body is base64 DER ending in a newline" "$PYTHON3" -c '
import json,sys,base64
r=json.loads(open(sys.argv[1]).read().splitlines()[2])
assert r["body"].endswith("\n")
der=base64.b64decode(r["body"])
assert der[0]==0x30' "$SRV/requests.log"

# Nothing due on the second run: no network.
est run --once
is "second run exits 0" "$RC" 0
is "second run made no request" "$(requests_count)" 3
check "second run says nothing is due" grep -q "nothing due" "$T/err"

est status
is "status exits 0" "$RC" 0
check "status shows the subject" grep -q "certificate: *CN=gw-0042" "$T/out"

# A forced enrollment replaces the pair with a new key.
old=$(key_pipe est-enrolled-key-pair | openssl pkey -pubout)
serial_before=$(key_serial est-enrolled-key-pair)
est enroll --once
is "enroll exits 0" "$RC" 0
new=$(key_pipe est-enrolled-key-pair | openssl pkey -pubout)
check "enroll made a new key" test "$old" != "$new"
# The keyring is switched as a whole: a new key, found by name, listed in the serials file.
serial_after=$(key_serial est-enrolled-key-pair)
check "the new pair is a new key in the keyring" test "$serial_after" != "$serial_before"
check "the serials file lists it" grep -q "^est-enrolled-key-pair $serial_after\$" "$RUNTIME_DIRECTORY/it.keys"
est cacerts --once
is "cacerts exits 0" "$RC" 0
is "cacerts fetched /cacerts again" "$(request_field "$(requests_count)" path)" "/.well-known/est/cacerts"

done_testing
