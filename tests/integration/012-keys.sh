#!/bin/bash
# SPDX-License-Identifier: MIT
# Key algorithms and CSR signers: EC curves, RSA sizes, Ed25519.
. "$(dirname "$0")/helpers.sh"

start_server

enroll_with() { # DESCRIPTION GREP-PATTERN CONFIG-LINES...
	desc=$1 pattern=$2
	shift 2
	write_config "$@"
	est enroll --once
	is "$desc: enroll exits 0" "$RC" 0
	check "$desc: key type" bash -c "keyctl pipe $(key_serial est-enrolled-key-pair) | openssl pkey -noout -text 2>/dev/null | grep -q '$pattern'"
	check "$desc: certificate verifies" bash -c \
		"keyctl pipe $(key_serial est-enrolled-key-pair) | openssl verify -CAfile '$SRV/root.pem'"
}

enroll_with "EC secp384r1" "secp384r1\|P-384" "key_params = secp384r1"
enroll_with "EC secp384r1 signed with SHA384WITHECDSA" "secp384r1\|P-384" \
	"key_params = secp384r1" "csr_signer = sha384withecdsa"
enroll_with "RSA 2048" "Private-Key: (2048 bit" "key_algorithm = RSA"
enroll_with "RSA 3072 with SHA512WITHRSA" "Private-Key: (3072 bit" "key_algorithm = RSA" \
	"key_params = 3072" "csr_signer = SHA512WITHRSA"
enroll_with "Ed25519" "ED25519" "key_algorithm = ED25519"
check "the CSR for Ed25519 was signed with Ed25519" "$PYTHON3" -c '
import json,sys,base64
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
r=json.loads(open(sys.argv[1]).read().splitlines()[-1])
csr=x509.load_der_x509_csr(base64.b64decode(r["body"]))
assert isinstance(csr.public_key(), ed25519.Ed25519PublicKey)' "$SRV/requests.log"

write_config "key_algorithm = RSA" "csr_signer = SHA256WITHECDSA"
est run
is "an ECDSA signer for an RSA key is a config error" "$RC" 2

# An RFC 4514 subject with escapes and a multi-valued RDN.
write_config 'subject = CN=gw\, 0042+serialNumber=42,OU=Plant 7,O=Example,C=IT'
est enroll --once
is "escaped multi-valued subject: enroll exits 0" "$RC" 0
subject=$(key_pipe est-enrolled-key-pair | openssl x509 -noout -subject -nameopt RFC2253)
check "escaped multi-valued subject: as requested ($subject)" bash -c "echo '$subject' | grep -q 'CN=gw\\\\, 0042' && echo '$subject' | grep -q 'serialNumber=42' && echo '$subject' | grep -q 'OU=Plant 7,O=Example,C=IT'"

done_testing
