#!/bin/bash
# SPDX-License-Identifier: MIT
# Bench comparison: strongSwan's EST client, key and CSR made with pki as its users do.
# Usage: est-pki.sh enroll|renew URL ROOT-PEM DIR ecdsa|rsa BITS
#   URL is https://HOST:PORT (pki appends /.well-known/est/...); the server must send
#   base64 as one line (tests/est-server.py --no-wrap), the only form pki parses.
#   renew: pki --est --cert/--key: /simplereenroll with the current cert as TLS client cert
set -euo pipefail
op=$1 url=$2 root=$3 dir=$4 type=$5 size=$6
cd "$dir"
umask 077
pki --gen --type "$type" --size "$size" --outform pem >key.new
pki --req --in key.new --dn "CN=bench-pki" --outform pem >csr.pem
if [ "$op" = enroll ]; then
	pki --est --url "$url" --cacert "$root" --in csr.pem --outform pem >cert.new
else
	pki --est --url "$url" --cacert "$root" --in csr.pem --cert cert.pem --key key.pem \
		--outform pem >cert.new
fi
grep -q 'BEGIN CERTIFICATE' cert.new
mv key.new key.pem
mv cert.new cert.pem
