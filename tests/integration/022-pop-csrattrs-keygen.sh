#!/bin/bash
# SPDX-License-Identifier: MIT
# Proof-of-Possession (tls-unique, tls-exporter), /csrattrs, /serverkeygen.
. "$(dirname "$0")/helpers.sh"

reset() { stop_server; keyctl clear "$(keyring_id)" 2>/dev/null; rm -rf "$T/store" "$T/srv"; }

start_server --pop
write_config
est run --once
is "PoP required, pop = false, TLS 1.3: refused (exit 1)" "$RC" 1
write_config "pop = true"
est run --once
is "pop = true (tls-unique): exit 0" "$RC" 0
is "pop = true: the connection was capped at TLS 1.2" "$(request_field "$(requests_count)" tls_version)" "TLSv1.2"
check "pop = true: the CSR carried the tls-unique of its connection" "$PYTHON3" -c '
import json,sys,base64
from cryptography import x509
r=json.loads(open(sys.argv[1]).read().splitlines()[-1])
csr=x509.load_der_x509_csr(base64.b64decode(r["body"]))
cp=csr.attributes.get_attribute_for_oid(x509.ObjectIdentifier("1.2.840.113549.1.9.7")).value
cp=cp.decode() if isinstance(cp,bytes) else cp
assert cp==r["tls_unique"], (cp, r["tls_unique"])' "$SRV/requests.log"
reset

start_server --pop --pop-binding tls-exporter --tls 1.3
write_config "pop = true" "pop_binding = tls-exporter"
est run --once
is "pop_binding = tls-exporter on TLS 1.3: exit 0" "$RC" 0
reset

start_server --csrattrs-preset pop --tls 1.2 --pop
write_config
est run --once
is "csrattrs asks for challengePassword: PoP is done (exit 0)" "$RC" 0
is "csrattrs was fetched before the CSR" "$(request_field 2 path)" "/.well-known/est/csrattrs"
reset

start_server --csrattrs-preset ext
write_config
est run --once
is "csrattrs asks for extensions: exit 0" "$RC" 0
check "the requested subjectAltName is in the certificate" bash -c \
	"keyctl pipe $(key_serial est-enrolled-key-pair) | openssl x509 -noout -ext subjectAltName | grep -q 'gw.example.net'"
check "the requested extendedKeyUsage is in the certificate" bash -c \
	"keyctl pipe $(key_serial est-enrolled-key-pair) | openssl x509 -noout -ext extendedKeyUsage | grep -q 'Client Authentication'"
reset

start_server --csrattrs-preset ec384
write_config
est run --once
is "csrattrs requires P-384, config says P-256: exit 1" "$RC" 1
check "csrattrs conflict: a clear error" grep -q "requires curve" "$T/err"
write_config "key_params = secp384r1"
est run --once
is "csrattrs requires P-384, config agrees: exit 0" "$RC" 0
check "csrattrs ec384: signed with SHA-384" "$PYTHON3" -c '
import json,sys,base64
from cryptography import x509
r=json.loads(open(sys.argv[1]).read().splitlines()[-1])
csr=x509.load_der_x509_csr(base64.b64decode(r["body"]))
assert csr.signature_hash_algorithm.name=="sha384", csr.signature_hash_algorithm.name' "$SRV/requests.log"
reset

start_server --csrattrs-preset unknown
write_config
est run --once
is "csrattrs with an unknown attribute: ignored, exit 0" "$RC" 0
reset

start_server
write_config "key_source = server"
est run --once
is "key_source = server: exit 0" "$RC" 0
is "key_source = server: /serverkeygen was used" "$(request_field "$(requests_count)" path)" "/.well-known/est/serverkeygen"
check "key_source = server: the stored key matches the certificate" bash -c "
	a=\$(keyctl pipe $(key_serial est-enrolled-key-pair) | openssl pkey -pubout)
	b=\$(keyctl pipe $(key_serial est-enrolled-key-pair) | openssl x509 -noout -pubkey)
	[ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ]"
check "key_source = server: no key file outside the store" bash -c "! grep -rl 'PRIVATE KEY' '$T' --include='*.pem' | grep -v '/store/\|/srv/'"

done_testing
