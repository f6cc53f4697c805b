#!/bin/bash
# SPDX-License-Identifier: MIT
# Bench baseline: EST the way many people script it, with openssl and curl command lines.
# Usage: est-shell.sh enroll|renew BASE-URL ROOT-PEM DIR EC:CURVE|RSA:BITS
#   enroll: GET /cacerts (trusting ROOT-PEM), key, CSR, POST /simpleenroll
#   renew:  key, CSR, POST /simplereenroll with the current cert as TLS client cert
# Writes DIR/cacerts.pem, DIR/key.pem (0600), DIR/cert.pem.
set -euo pipefail
op=$1 base=$2 root=$3 dir=$4 spec=$5
cd "$dir"
umask 077
case $spec in
EC:*) kopt=(-algorithm EC -pkeyopt "ec_paramgen_curve:${spec#EC:}") ;;
RSA:*) kopt=(-algorithm RSA -pkeyopt "rsa_keygen_bits:${spec#RSA:}") ;;
*) echo "bad key spec $spec" >&2; exit 2 ;;
esac
if [ "$op" = enroll ]; then
	curl -sS --fail --cacert "$root" "$base/cacerts" | base64 -d |
		openssl pkcs7 -inform DER -print_certs -out cacerts.pem
	auth=() path=simpleenroll
else
	auth=(--cert cert.pem --key key.pem) path=simplereenroll
fi
openssl genpkey "${kopt[@]}" -out key.new
openssl req -new -key key.new -subj "/CN=bench-shell" -outform DER | base64 -w0 >csr.b64
curl -sS --fail --cacert cacerts.pem "${auth[@]}" -H 'Content-Type: application/pkcs10' \
	--data-binary @csr.b64 "$base/$path" | base64 -d |
	openssl pkcs7 -inform DER -print_certs -out cert.new
grep -q 'BEGIN CERTIFICATE' cert.new
mv key.new key.pem
mv cert.new cert.pem
