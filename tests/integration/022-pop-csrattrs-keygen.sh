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

# The server asks (challengePassword in /csrattrs), pop = false, and checks tls-unique on a
# server with TLS 1.2 and 1.3: one reconnection capped at TLS 1.2, remembered in est-state.
start_server --csrattrs-preset pop --pop
write_config
est run --once
is "csrattrs asks, TLS 1.2+1.3: enrolled with tls-unique (exit 0)" "$RC" 0
n=$(requests_count)
is "csrattrs asks: the first request went over TLS 1.3" "$(request_field 1 tls_version)" "TLSv1.3"
is "csrattrs asks: the enrollment went over TLS 1.2" "$(request_field "$n" tls_version)" "TLSv1.2"
check "csrattrs asks: the reconnection was logged" grep -q "reconnecting with TLS 1.2" "$T/err"
check "csrattrs asks: est-state remembers that the server asks" \
	bash -c "grep -q '^pop=tls-unique\$' <<<'$(file_pipe est-state)'"
check "csrattrs asks: the keyring's est-state says the same" \
	bash -c "keyctl pipe $(key_serial est-state) | grep -q '^pop=tls-unique\$'"
est renew --once
is "csrattrs asks, forced renewal: exit 0" "$RC" 0
first=$((n + 1))
n=$(requests_count)
same=1
for i in $(seq "$first" "$n"); do
	[ "$(request_field "$i" tls_version)" = TLSv1.2 ] || same=0
	[ "$(request_field "$i" tls_unique)" = "$(request_field "$first" tls_unique)" ] || same=0
done
is "remembered: every request of the renewal on one TLS 1.2 connection" "$same" 1
check "remembered: no reconnection this time" bash -c "! grep -q 'reconnecting with TLS 1.2' '$T/err'"
reset

# The server asks and has TLS 1.3 only, checking tls-exporter: forced by pop_binding, or chosen
# by the pass when its TLS 1.2 attempt is refused.
start_server --csrattrs-preset pop --pop --pop-binding tls-exporter --tls 1.3
write_config "pop_binding = tls-exporter"
est run --once
is "csrattrs asks, TLS 1.3 only, pop_binding = tls-exporter: enrolled (exit 0)" "$RC" 0
is "tls-exporter: the enrollment went over TLS 1.3" "$(request_field "$(requests_count)" tls_version)" "TLSv1.3"
write_config
est enroll --once
is "csrattrs asks, TLS 1.3 only, pop_binding empty: enrolled with tls-exporter (exit 0)" "$RC" 0
check "pop_binding empty: the fallback was logged" grep -q "offers no TLS 1.2" "$T/err"
check "pop_binding empty: the refused TLS 1.2 probe is no error" bash -c "! grep -q 'error:' '$T/err'"
check "pop_binding empty: est-state remembers tls-exporter" \
	bash -c "grep -q '^pop=tls-exporter\$' <<<'$(file_pipe est-state)'"
est renew --once
is "remembered tls-exporter: renewed (exit 0)" "$RC" 0
check "remembered tls-exporter: no TLS 1.2 probe this time" bash -c "! grep -q 'TLS 1.2' '$T/err'"
reset

# A server that stops asking: the TLS 1.2 start is forgotten with the next enrollment.
est_interop_preset() { "$PYTHON3" "$EST_SERVER" --print-csrattrs "$1" >"$T/attrs.der"; }
est_interop_preset pop
start_server --csrattrs-file "$T/attrs.der"
write_config
est run --once
is "csrattrs asks (unchecked): enrolled (exit 0)" "$RC" 0
check "csrattrs asks: remembered" bash -c "grep -q '^pop=tls-unique\$' <<<'$(file_pipe est-state)'"
est_interop_preset ext
est renew --once
is "the server no longer asks: renewed (exit 0)" "$RC" 0
check "the server no longer asks: est-state forgets it" \
	bash -c "! grep -q '^pop=' <<<'$(file_pipe est-state)'"
est renew --once
is "then: renewed again (exit 0)" "$RC" 0
is "then: the renewal went over TLS 1.3 again" "$(request_field "$(requests_count)" tls_version)" "TLSv1.3"
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
