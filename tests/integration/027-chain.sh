#!/bin/bash
# SPDX-License-Identifier: MIT
# A server that answers the leaf alone: the stored bundle still carries the chain, completed
# from the CA certificates (key, leaf, intermediate), and verifies against the root.
. "$(dirname "$0")/helpers.sh"

# bundle_is COPY WHAT: the bundle of one copy is a key, the leaf for it, then the intermediate
# (and nothing more), and openssl verify accepts the leaf against root.pem with that chain.
bundle_is() {
	local d="$T/b-$1"
	mkdir -p "$d"
	copy_pipe "$1" est-enrolled-key-pair >"$d/bundle.pem"
	is "$2 ($1): the bundle's blocks" \
		"$(grep -- '-----BEGIN' "$d/bundle.pem" | tr '\n' ' ')" \
		"-----BEGIN PRIVATE KEY----- -----BEGIN CERTIFICATE----- -----BEGIN CERTIFICATE----- "
	awk '/BEGIN CERTIFICATE/ { n++ } n { print > ("'"$d"'/cert" n ".pem") }' "$d/bundle.pem"
	check "$2 ($1): the key fits the first certificate" pair_fits "$1"
	is "$2 ($1): the second certificate is the intermediate" \
		"$(openssl x509 -in "$d/cert2.pem" -outform DER | sha256sum)" \
		"$(openssl x509 -in "$SRV/intermediate.pem" -outform DER | sha256sum)"
	check "$2 ($1): openssl verify of the leaf against the root with the stored chain" \
		openssl verify -CAfile "$SRV/root.pem" -untrusted "$d/bundle.pem" "$d/cert1.pem"
	check "$2 ($1): the leaf alone does not verify against the root" \
		bash -c "! openssl verify -CAfile '$SRV/root.pem' '$d/cert1.pem' 2>/dev/null"
}

start_server --intermediate
write_config
est run --once
is "leaf-only answers, intermediate CA: exit 0" "$RC" 0
# what_server_sends: how many certificates the server's /simpleenroll answer holds
what_server_sends() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/probe.key" \
		-subj /CN=probe -outform DER -out "$T/probe.der" 2>/dev/null &&
		openssl base64 -in "$T/probe.der" -out "$T/probe.b64" &&
		curl -sS --max-time 10 --cacert "$SRV/root.pem" -H 'Content-Type: application/pkcs10' \
			--data-binary "@$T/probe.b64" -o "$T/probe.out" \
			"https://localhost:$PORT/.well-known/est/simpleenroll" &&
		base64 -d "$T/probe.out" | openssl pkcs7 -inform DER -print_certs 2>/dev/null |
		grep -c 'BEGIN CERTIFICATE'
}
is "the server answers the leaf alone" "$(what_server_sends)" 1
is "the anchors are the intermediate and the root" "$(anchor_count file) $(anchor_count keyring)" "2 2"
bundle_is file "enrolled"
bundle_is keyring "enrolled"
check "enrolled: both copies hold the same bundle" both_same est-enrolled-key-pair

est renew --once
is "renewal, leaf only: exit 0" "$RC" 0
bundle_is file "renewed"
bundle_is keyring "renewed"
check "renewed: the copies agree" copies_agree
stop_server
kctl clear "$(keyring_id)"
rm -rf "$T/store" "$T/srv"

# A server that sends the chain itself, root included: the root is not repeated in the bundle.
start_server --intermediate --enroll-chain
write_config
is "the server answers the leaf, the intermediate and the root" "$(what_server_sends)" 3
est run --once
is "leaf + chain answers: exit 0" "$RC" 0
bundle_is file "leaf + chain"
bundle_is keyring "leaf + chain"

done_testing
