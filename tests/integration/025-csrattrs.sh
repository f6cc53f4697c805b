#!/bin/bash
# SPDX-License-Identifier: MIT
# /csrattrs is optional information: RFC 7030 4.5.2's own example, an RFC 9908 template, a
# malformed attribute among good ones, a 5xx, libest's trailing NUL, garbage.
. "$(dirname "$0")/helpers.sh"

reset() { stop_server; kctl clear "$(keyring_id)" 2>/dev/null; rm -rf "$T/store" "$T/srv"; }

# csr_check PYTHON-ASSERTIONS: run against the last CSR the server got (csr, a cryptography
# CertificateSigningRequest); passes when they hold.
csr_check() {
	"$PYTHON3" -c 'import json, sys, base64
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtensionOID, AttributeOID
r = [json.loads(l) for l in open(sys.argv[1]) if "enroll" in l][-1]
csr = x509.load_der_x509_csr(base64.b64decode(r["body"]))
exec(sys.argv[2])' "$SRV/requests.log" "$1"
}

# no_errors WHAT: no "error:" line in stderr
no_errors() { check "$1: no error was logged" bash -c "! grep -q 'error:' '$T/err'"; }
# warnings WHAT N: exactly N warning lines in stderr
warnings() { is "$1: $2 warning(s)" "$(grep -c 'warning:' "$T/err")" "$2"; }

# RFC 7030 4.5.2's example: challengePassword, P-384, an extensionRequest holding the bare
# macAddress OID, SHA-384.
start_server --csrattrs-preset rfc7030 --tls 1.2
write_config
est run --once
is "RFC 7030 example, P-256 configured: exit 1 (the server requires P-384)" "$RC" 1
check "RFC 7030 example, P-256: the conflict is named" grep -q "requires curve secp384r1" "$T/err"
is "RFC 7030 example, P-256: no enrollment was sent" "$(requests_to simpleenroll)" 0
is "RFC 7030 example, P-256: the keyring holds nothing" "$(est_aliases keyring)" ""
is "RFC 7030 example, P-256: the file copy holds nothing" "$(est_aliases file)" ""
write_config "key_params = secp384r1"
est run --once
is "RFC 7030 example, P-384 configured: exit 0" "$RC" 0
no_errors "RFC 7030 example"
warnings "RFC 7030 example" 1
check "RFC 7030 example: the warning names the macAddress it cannot provide" \
	grep -q 'cannot provide: 1.3.6.1.1.1.1.22 to fill in' "$T/err"
check "RFC 7030 example: the CSR has a challengePassword, a P-384 key, SHA-384" csr_check '
assert csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD)
assert csr.public_key().curve.name == "secp384r1"
assert csr.signature_hash_algorithm.name == "sha384"'
check "RFC 7030 example: the copies agree" copies_agree
reset

# An RFC 9908 template: its subject (CN to fill in, O dictated), key, extensions; the
# ecdsa-with-SHA512 outside it ignored.
start_server --csrattrs-preset rfc9908
write_config
est run --once
is "RFC 9908 template: exit 0" "$RC" 0
no_errors "RFC 9908 template"
warnings "RFC 9908 template" 1
check "RFC 9908 template: the warning names the extKeyUsage to fill in" \
	grep -q 'cannot provide: extendedKeyUsage to fill in' "$T/err"
check "RFC 9908 template: the template is followed" grep -q "following the server's CSR template" "$T/err"
check "RFC 9908 template: the CSR's subject is the template's, filled in" csr_check '
assert csr.subject.rfc4514_string() == "O=Template Org,CN=gw-0042", csr.subject.rfc4514_string()'
check "RFC 9908 template: the CSR asks for its subjectAltName, without the blank iPAddress" csr_check '
san = csr.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
assert [str(n.value) for n in san] == ["tmpl.example.net"], san'
check "RFC 9908 template: and its keyUsage, critical" csr_check '
ku = csr.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
assert ku.critical and ku.value.digital_signature and ku.value.key_agreement'
check "RFC 9908 template: signed with SHA-256, not the SHA-512 outside the template" csr_check '
assert csr.signature_hash_algorithm.name == "sha256"'
check "RFC 9908 template: the issued certificate has that subject" bash -c \
	"keyctl pipe $(key_serial est-enrolled-key-pair) | openssl x509 -noout -subject | grep -q 'CN = gw-0042, O = Template Org'"
est renew --once
is "RFC 9908 template: the renewal exits 0" "$RC" 0
check "RFC 9908 template: the renewal keeps the certificate's subject" csr_check '
assert csr.subject.rfc4514_string() == "O=Template Org,CN=gw-0042", csr.subject.rfc4514_string()'
check "RFC 9908 template: the copies agree" copies_agree
reset

# Three malformed attributes among good ones: skipped with one warning, the rest used.
start_server --csrattrs-preset bad-attr
write_config
est run --once
is "one bad attribute among good ones: exit 0" "$RC" 0
no_errors "bad attributes"
warnings "bad attributes" 1
check "bad attributes: the warning counts them" grep -q 'skipped 3 malformed attribute(s)' "$T/err"
check "bad attributes: the good extensionRequest and signature OID are used" csr_check '
san = csr.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
assert [str(n.value) for n in san] == ["gw.example.net"], san
assert csr.signature_hash_algorithm.name == "sha384"'
check "bad attributes: the copies agree" copies_agree
reset

# A 5xx from /csrattrs: no attributes, not retried, the enrollment goes on at once.
start_server --csrattrs-preset ext
write_config "retry_interval = 1s" "retry_timeout = 20s"
behaviour "csrattrs-status 503 30"
start=$(date +%s)
est run
end=$(date +%s)
is "csrattrs 503: exit 0" "$RC" 0
check "csrattrs 503: at once ($((end - start))s)" test $((end - start)) -le 3
is "csrattrs 503: /csrattrs asked once" "$(requests_to csrattrs)" 1
is "csrattrs 503: /simpleenroll sent once" "$(requests_to simpleenroll)" 1
check "csrattrs 503: not retried" bash -c "! grep -q 'retrying' '$T/err'"
warnings "csrattrs 503" 1
check "csrattrs 503: the warning says so" grep -q 'csrattrs: server answered 503' "$T/err"
check "csrattrs 503: no extension from the attributes" csr_check '
assert not list(csr.extensions)'

# libest ends its base64 with a NUL: accepted silently.
behaviour "csrattrs-trailing-nul"
est enroll --once
is "csrattrs with a trailing NUL: exit 0" "$RC" 0
no_errors "trailing NUL"
warnings "trailing NUL" 0
check "trailing NUL: the attributes were used" csr_check '
san = csr.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
assert [str(n.value) for n in san] == ["gw.example.net"], san'

for kind in garbage wrong-content-type "status 400" "status 401"; do
	behaviour "csrattrs-$kind"
	sent=$(requests_to simpleenroll)
	est enroll --once
	is "csrattrs $kind: exit 0" "$RC" 0
	no_errors "csrattrs $kind"
	warnings "csrattrs $kind" 1
	is "csrattrs $kind: enrolled without attributes" "$(requests_to simpleenroll)" $((sent + 1))
done
check "after all that: the copies agree" copies_agree

done_testing
