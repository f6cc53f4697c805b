#!/bin/bash
# SPDX-License-Identifier: MIT
# Self-test of the local EST test server (tests/est-server.py) with curl and openssl; TAP output.
set -u

here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
SERVER="$here/est-server.py"
T=$(mktemp -d /tmp/est-selftest.XXXXXX)
declare -A PORT PID
EST=/.well-known/est

cleanup() {
	local p
	for p in "${PID[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

for tool in curl openssl "$PYTHON"; do
	command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool missing"; exit 77; }
done
"$PYTHON" -c 'import cryptography' 2>/dev/null || { echo "1..0 # SKIP python3-cryptography missing"; exit 77; }

# start NAME ARGS...: server with DIR=$T/NAME, in the background
start() {
	local name=$1
	shift
	"$PYTHON" "$SERVER" --dir "$T/$name" --port-file "$T/$name.port" "$@" 2>"$T/$name.err" &
	PID[$name]=$!
}

# wait_port NAME: poll for the port file, at most ~10 s
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		if [ -s "$T/$1.port" ]; then
			PORT[$1]=$(cat "$T/$1.port")
			return 0
		fi
		sleep 0.1
	done
	echo "# server $1 did not start: $(cat "$T/$1.err")"
	return 1
}

# req NAME URL-PATH [curl args...]: HTTPS request to server NAME; body in $T/out,
# headers in $T/hdr, status code on stdout
req() {
	local name=$1 path=$2 host=localhost
	shift 2
	[ "$name" = basic ] && host='[::1]'
	curl -sS --max-time 10 --cacert "$T/$name/root.pem" -o "$T/out" -D "$T/hdr" \
		-w '%{http_code}' "$@" "https://$host:${PORT[$name]}$path"
}

header() { # header NAME: value of a response header in $T/hdr
	grep -i "^$1:" "$T/hdr" | head -n1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'
}

csr() { # csr FILE SUBJECT [KEYSPEC]: base64 PKCS#10 into FILE, key in FILE.key
	local out=$1 subj=$2 key=(-newkey "${3:-ec}")
	[ $# -lt 3 ] && key+=(-pkeyopt ec_paramgen_curve:P-256)
	openssl req -new "${key[@]}" -nodes -keyout "$out.key" -subj "$subj" \
		-addext "subjectAltName=DNS:dev.example" -addext "keyUsage=critical,digitalSignature" \
		-addext "extendedKeyUsage=clientAuth" -outform DER -out "$out.der" 2>/dev/null &&
		openssl base64 -in "$out.der" -out "$out"
}

# certs_of FILE: base64 certs-only PKCS#7 in FILE -> PEM certs in FILE.pem
certs_of() {
	base64 -d "$1" >"$1.der" 2>/dev/null &&
		openssl pkcs7 -inform DER -in "$1.der" -print_certs -out "$1.pem" 2>/dev/null &&
		grep -q 'BEGIN CERTIFICATE' "$1.pem"
}

enroll() { # enroll NAME CSRFILE [curl args]: status code on stdout
	local name=$1 file=$2
	shift 2
	req "$name" "$EST/simpleenroll" -H 'Content-Type: application/pkcs10' \
		--data-binary "@$file" "$@"
}

t_start() {
	local n rc=0
	for n in plain basic digest tls12 untrusted cert roll rolli exp interop connlog; do
		wait_port "$n" || rc=1
	done
	[ -s "$T/plain/root.pem" ] && [ -s "$T/plain/client-auth.pem" ] && return $rc
}

t_cacerts() {
	[ "$(req plain "$EST/cacerts")" = 200 ] &&
		[ "$(header Content-Type)" = application/pkcs7-mime ] &&
		[ "$(header Content-Transfer-Encoding)" = base64 ] &&
		certs_of "$T/out" && openssl verify -CAfile "$T/plain/root.pem" "$T/out.pem" >/dev/null
}

t_label() {
	[ "$(req plain "$EST/arbitraryLabel1/cacerts")" = 200 ] && certs_of "$T/out"
}

t_404() {
	[ "$(req plain "$EST/nosuchop")" = 404 ] && [ "$(req plain /index.html)" = 404 ] &&
		[ "$(req plain "$EST/a/b/cacerts")" = 404 ]
}

t_csrattrs() {
	[ "$(req plain "$EST/csrattrs")" = 204 ]
}

t_enroll_ec() {
	csr "$T/ec.csr" /CN=dev-ec && [ "$(enroll plain "$T/ec.csr")" = 200 ] &&
		header Content-Type | grep -q 'application/pkcs7-mime; *smime-type=certs-only' &&
		certs_of "$T/out" && openssl verify -CAfile "$T/plain/root.pem" "$T/out.pem" >/dev/null &&
		openssl x509 -in "$T/out.pem" -noout -ext subjectAltName | grep -q DNS:dev.example &&
		openssl x509 -in "$T/out.pem" -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication' &&
		openssl x509 -in "$T/out.pem" -noout -ext keyUsage | grep -q 'Digital Signature' &&
		openssl x509 -in "$T/out.pem" -noout -ext basicConstraints | grep -q 'CA:FALSE' &&
		[ "$(openssl x509 -in "$T/out.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/ec.csr.key" -pubout)" ]
}

t_enroll_rsa_ed25519() {
	csr "$T/rsa.csr" /CN=dev-rsa rsa:2048 && [ "$(enroll plain "$T/rsa.csr")" = 200 ] &&
		certs_of "$T/out" && openssl verify -CAfile "$T/plain/root.pem" "$T/out.pem" >/dev/null &&
		csr "$T/ed.csr" /CN=dev-ed ed25519 && [ "$(enroll plain "$T/ed.csr")" = 200 ] &&
		certs_of "$T/out" && openssl verify -CAfile "$T/plain/root.pem" "$T/out.pem" >/dev/null
}

t_bad_csr() {
	printf 'bm90IGEgQ1NS\n' >"$T/bad.csr"
	[ "$(enroll plain "$T/bad.csr")" = 400 ] && [ "$(enroll plain "$T/ec.csr.der")" = 400 ]
}

t_reenroll() {
	local c="$T/plain/client-auth.pem"
	csr "$T/re.csr" /CN=client && csr "$T/other.csr" /CN=someone-else &&
		[ "$(req plain "$EST/simplereenroll" --data-binary "@$T/re.csr")" = 401 ] &&
		[ "$(req plain "$EST/simplereenroll" --cert "$c" --data-binary "@$T/other.csr")" = 400 ] &&
		[ "$(req plain "$EST/simplereenroll" --cert "$c" --data-binary "@$T/re.csr")" = 200 ] &&
		certs_of "$T/out" && openssl verify -CAfile "$T/plain/root.pem" "$T/out.pem" >/dev/null
}

t_serverkeygen() {
	[ "$(req plain "$EST/serverkeygen" --data-binary "@$T/ec.csr")" = 200 ] &&
		header Content-Type | grep -q '^multipart/mixed; boundary=' &&
		grep -q '^Content-Type: application/pkcs8' "$T/out" &&
		grep -q '^Content-Type: application/pkcs7-mime; smime-type=certs-only' "$T/out"
}

t_202() {
	echo "202 1 5" >"$T/plain/behaviour"
	[ "$(enroll plain "$T/ec.csr")" = 202 ] && [ "$(header Retry-After)" = 5 ] &&
		[ "$(enroll plain "$T/ec.csr")" = 200 ] && certs_of "$T/out"
}

t_behaviours() {
	local rc=0
	echo "status 503" >"$T/plain/behaviour"
	[ "$(enroll plain "$T/ec.csr")" = 503 ] || rc=1
	[ "$(req plain "$EST/cacerts")" = 200 ] || rc=1
	echo "cacerts-garbage" >"$T/plain/behaviour"
	[ "$(req plain "$EST/cacerts")" = 200 ] && ! certs_of "$T/out" || rc=1
	echo "times 1 wrong-content-type" >"$T/plain/behaviour"
	[ "$(enroll plain "$T/ec.csr")" = 200 ] && [ "$(header Content-Type)" = text/plain ] || rc=1
	[ "$(enroll plain "$T/ec.csr")" = 200 ] && [ "$(header Content-Type)" != text/plain ] || rc=1
	echo "other-key" >"$T/plain/behaviour"
	[ "$(enroll plain "$T/ec.csr")" = 200 ] && certs_of "$T/out" &&
		[ "$(openssl x509 -in "$T/out.pem" -noout -pubkey)" != "$(openssl pkey -in "$T/ec.csr.key" -pubout)" ] || rc=1
	echo "huge 2" >"$T/plain/behaviour"
	[ "$(enroll plain "$T/ec.csr")" = 200 ] && [ "$(stat -c %s "$T/out")" = 2097152 ] || rc=1
	echo "slow" >"$T/plain/behaviour"
	# one byte a second: curl gives up, having got the headers and a byte or two
	enroll plain "$T/ec.csr" --max-time 2 >/dev/null && rc=1
	[ "$(header Content-Length)" -gt 500 ] && [ "$(stat -c %s "$T/out")" -le 3 ] || rc=1
	rm -f "$T/plain/behaviour"
	[ "$(enroll plain "$T/ec.csr")" = 200 ] || rc=1
	return $rc
}

t_keepalive_log() {
	: >"$T/plain/requests.log"
	# two requests in one curl run reuse one TLS connection
	curl -sS --max-time 10 --cacert "$T/plain/root.pem" -o /dev/null -o /dev/null \
		"https://localhost:${PORT[plain]}$EST/cacerts" "https://localhost:${PORT[plain]}$EST/cacerts" &&
		req plain "$EST/cacerts" >/dev/null &&
		"$PYTHON" - "$T/plain/requests.log" <<-'EOF'
			import json, sys
			lines = [json.loads(l) for l in open(sys.argv[1])]
			assert len(lines) == 3, lines
			c = [l["conn"] for l in lines]
			assert c[0] == c[1] != c[2], c
			for l in lines:
			    assert l["method"] == "GET" and l["op"] == "cacerts" and l["tls_version"], l
			    assert isinstance(l["headers"], dict) and l["client_cert_subject"] is None
		EOF
}

t_log_json() {
	"$PYTHON" -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/basic/requests.log"
}

t_basic_ipv6() {
	[ "$(enroll basic "$T/ec.csr")" = 401 ] && header WWW-Authenticate | grep -q '^Basic realm="est"' &&
		[ "$(enroll basic "$T/ec.csr" -u estuser:wrong)" = 401 ] &&
		[ "$(enroll basic "$T/ec.csr" -u estuser:estpwd)" = 200 ] && certs_of "$T/out" &&
		[ "$(req basic "$EST/cacerts")" = 200 ]
}

t_intermediate() {
	req basic "$EST/cacerts" >/dev/null && certs_of "$T/out" &&
		[ "$(grep -c 'BEGIN CERTIFICATE' "$T/out.pem")" = 2 ] && cp "$T/out.pem" "$T/chain.pem" &&
		[ "$(enroll basic "$T/ec.csr" -u estuser:estpwd)" = 200 ] && certs_of "$T/out" &&
		openssl verify -CAfile "$T/basic/root.pem" -untrusted "$T/chain.pem" "$T/out.pem" >/dev/null
}

t_digest() {
	[ "$(enroll digest "$T/ec.csr")" = 401 ] && header WWW-Authenticate | grep -q '^Digest ' &&
		[ "$(enroll digest "$T/ec.csr" --digest -u alice:wrong)" = 401 ] &&
		[ "$(enroll digest "$T/ec.csr" --digest -u alice:s3cret)" = 200 ] && certs_of "$T/out" &&
		[ "$(enroll digest "$T/ec.csr" --basic -u alice:s3cret)" = 401 ]
}

t_tls12() {
	[ "$(req tls12 "$EST/cacerts" --tlsv1.2)" = 200 ] &&
		! req tls12 "$EST/cacerts" --tlsv1.3 >/dev/null 2>&1 &&
		[ "$(req plain "$EST/cacerts" --tlsv1.3)" = 200 ]
}

t_pop() {
	# a PoP-linked CSR must carry base64(tls-unique) of the very connection it is posted on
	"$PYTHON" - "$T/tls12" "${PORT[tls12]}" <<-'EOF'
		import base64, http.client, ssl, sys, warnings
		from cryptography import x509
		from cryptography.hazmat.primitives import hashes, serialization
		from cryptography.hazmat.primitives.asymmetric import ec
		from cryptography.x509.oid import AttributeOID, NameOID
		d, port = sys.argv[1], int(sys.argv[2])
		ctx = ssl.create_default_context(cafile=d + "/root.pem")
		key = ec.generate_private_key(ec.SECP256R1())
		def post(pw):
		    c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
		    c.connect()
		    tu = base64.b64encode(c.sock.get_channel_binding("tls-unique"))
		    b = x509.CertificateSigningRequestBuilder().subject_name(
		        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pop")]))
		    if pw is not None:
		        b = b.add_attribute(AttributeOID.CHALLENGE_PASSWORD, tu if pw == "tu" else pw)
		    der = b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
		    c.request("POST", "/.well-known/est/simpleenroll", base64.encodebytes(der),
		              {"Content-Type": "application/pkcs10"})
		    return c.getresponse().status
		got = (post("tu"), post(b"AAAAAAAAAAAAAAAA"), post(None))
		assert got == (200, 400, 400), got
	EOF
}

t_untrusted() {
	! req untrusted "$EST/cacerts" >/dev/null 2>&1 &&
		[ "$(req untrusted "$EST/cacerts" --cacert "$T/untrusted/untrusted-ca.pem")" = 200 ]
}

t_cert_auth() {
	[ "$(enroll cert "$T/ec.csr")" = 401 ] && [ "$(req cert "$EST/cacerts")" = 200 ] &&
		[ "$(enroll cert "$T/ec.csr" --cert "$T/cert/client-auth.pem")" = 200 ] && certs_of "$T/out" &&
		! enroll cert "$T/ec.csr" --cert "$T/plain/client-auth.pem" >/dev/null 2>&1
}

# pem_split FILE PREFIX: the certificates of a PEM file into PREFIX1.pem, PREFIX2.pem, ...
pem_split() {
	rm -f "$2"[0-9]*.pem
	awk -v p="$2" '/BEGIN CERTIFICATE/ { n++ } n { print > (p n ".pem") }' "$1"
}

pubkey() { openssl x509 -in "$1" -noout -pubkey; }

same_cert() { cmp -s <(openssl x509 -in "$1" -outform DER) <(openssl x509 -in "$2" -outform DER); }

# server_cert NAME FILE: the TLS server certificate NAME presents, into FILE
server_cert() {
	timeout 10 openssl s_client -connect "127.0.0.1:${PORT[$1]}" -servername localhost \
		</dev/null 2>/dev/null | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' >"$2"
	[ -s "$2" ]
}

# server_chain NAME FILE: every certificate NAME presents in its TLS handshake, into FILE
server_chain() {
	timeout 10 openssl s_client -connect "127.0.0.1:${PORT[$1]}" -servername localhost \
		-showcerts </dev/null 2>/dev/null | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' >"$2"
	[ -s "$2" ]
}

enddate() { openssl x509 -in "$1" -noout -enddate; }

t_csrattrs_presets() {
	local p want rc=0
	for p in pop ext ec384 rsa unknown empty rfc7030 rfc9908 bad-attr; do
		case $p in
		pop) want='challengePassword' ;;
		ext) want='Extension Request.*Subject Alternative Name.*Extended Key Usage' ;;
		ec384) want='id-ecPublicKey.*secp384r1.*ecdsa-with-SHA384' ;;
		rsa) want='rsaEncryption.*INTEGER *:0C00' ;;
		unknown) want='1\.3\.6\.1\.4\.1\.99999\.1' ;;
		empty) want='d=0 *hl=2 *l= *0 cons: SEQUENCE' ;;
		rfc7030) want='challengePassword.*secp384r1.*Extension Request.*SET.*OBJECT *:1\.3\.6\.1\.1\.1\.1\.22.*ecdsa-with-SHA384' ;;
		rfc9908) want='1\.2\.840\.113549\.1\.9\.16\.2\.61.*commonName.*Template Org.*cont \[ 0 \].*prime256v1.*cont \[ 1 \].*1\.2\.840\.113549\.1\.9\.16\.2\.62.*Subject Alternative Name.*Key Usage.*Extended Key Usage.*ecdsa-with-SHA512' ;;
		bad-attr) want='Extension Request.*Subject Alternative Name.*INTEGER *:05.*OCTET STRING *:junk.*ecdsa-with-SHA384' ;;
		esac
		"$PYTHON" "$SERVER" --print-csrattrs "$p" >"$T/ca-$p.der" &&
			openssl asn1parse -inform DER -in "$T/ca-$p.der" >"$T/ca-$p.txt" &&
			tr '\n' ' ' <"$T/ca-$p.txt" | grep -q "$want" || { echo "# preset $p"; rc=1; }
	done
	return $rc
}

t_csrattrs_served() {
	[ "$(req exp "$EST/csrattrs")" = 200 ] && [ "$(header Content-Type)" = application/csrattrs ] &&
		base64 -d "$T/out" >"$T/out.der" && cmp "$T/out.der" "$T/exp/csrattrs.der" &&
		openssl asn1parse -inform DER -in "$T/out.der" | grep -q secp384r1 &&
		[ "$(req digest "$EST/csrattrs")" = 200 ] && [ "$(header Content-Type)" = application/csrattrs ] &&
		base64 -d "$T/out" | cmp - "$T/csrattrs-ext.der"
}

# s_client_exporter NAME CIPHERSUITE: GET cacerts over TLS 1.3 with openssl s_client; prints
# its RFC 9266 tls-exporter (hex) and the one the server logged for that connection
s_client_exporter() {
	printf 'GET %s/cacerts HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$EST" |
		timeout 10 openssl s_client -tls1_3 -ciphersuites "$2" -connect "127.0.0.1:${PORT[$1]}" \
			-servername localhost -CAfile "$T/$1/root.pem" -ign_eof \
			-keymatexport EXPORTER-Channel-Binding -keymatexportlen 32 2>/dev/null |
		sed -n 's/^ *Keying material: *//p' | tr -d '\r' | tr 'A-F' 'a-f'
	"$PYTHON" -c 'import base64, json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r["tls_version"] == "TLSv1.3" and r["op"] == "cacerts", r
print(base64.b64decode(r["tls_exporter"]).hex())' "$T/$1/requests.log"
}

t_exporter_keymat() {
	local cs out rc=0
	for cs in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384; do
		out=$(s_client_exporter exp "$cs")
		echo "# $cs: client, server:" $out
		[ "$(echo "$out" | wc -l)" = 2 ] && [ "$(echo "$out" | sed -n 1p | wc -c)" = 65 ] &&
			[ "$(echo "$out" | sed -n 1p)" = "$(echo "$out" | sed -n 2p)" ] || rc=1
	done
	return $rc
}

# pop_exporter NAME: simpleenroll over openssl s_client (TLS 1.3), the CSR's challengePassword
# made from the keying material s_client exported on that very connection; status on stdout
pop_exporter() {
	local line km cb n from to pid
	coproc SC { exec timeout 10 openssl s_client -tls1_3 -connect "127.0.0.1:${PORT[$1]}" \
		-servername localhost -CAfile "$T/$1/root.pem" -ign_eof \
		-keymatexport EXPORTER-Channel-Binding -keymatexportlen 32 2>/dev/null; }
	pid=$SC_PID
	# bash drops SC[] when the coprocess ends: keep copies of its pipes
	exec {from}<&"${SC[0]}" {to}>&"${SC[1]}"
	km=
	while IFS= read -r -t 10 line <&"$from"; do
		case $line in *"Keying material:"*) km=${line##*: } && break ;; esac
	done
	km=${km%$'\r'}
	cb=$("$PYTHON" -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$km") ||
		cb=x
	printf '[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\n[dn]\nCN = pop-exporter\n[attrs]\nchallengePassword = %s\n' \
		"$cb" >"$T/pop.cnf"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/pop.key" \
		-config "$T/pop.cnf" -outform DER 2>/dev/null | base64 >"$T/pop.csr"
	n=$(stat -c %s "$T/pop.csr")
	{
		printf 'POST %s/simpleenroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/pkcs10\r\n' "$EST"
		printf 'Content-Length: %s\r\nConnection: close\r\n\r\n' "$n"
		cat "$T/pop.csr"
	} >&"$to"
	exec {to}>&-
	sed -n 's/^HTTP\/1.1 \([0-9]*\).*/\1/p' <&"$from" | head -n1
	exec {from}<&-
	wait "$pid" 2>/dev/null
	return 0
}

t_exporter_pop() {
	[ "$(pop_exporter exp)" = 200 ] &&
		[ "$(enroll exp "$T/pop.csr" --tlsv1.3)" = 400 ] && grep -q 'tls-exporter' "$T/out" &&
		[ "$(enroll exp "$T/pop.csr" --tlsv1.2 --tls-max 1.2)" = 400 ] && grep -q 'TLS 1.3' "$T/out" &&
		"$PYTHON" -c 'import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r["tls_version"] == "TLSv1.2" and r["tls_exporter"] is None and r["tls_unique"], r' \
			"$T/exp/requests.log"
}

t_rollover() {
	local d="$T/roll"
	csr "$T/old.csr" /CN=dev-old && [ "$(enroll roll "$T/old.csr")" = 200 ] && certs_of "$T/out" &&
		cp "$T/out.pem" "$T/old.pem" && cp "$d/root.pem" "$T/root-before.pem" || return 1
	echo rollover >"$d/behaviour"
	[ "$(req roll "$EST/cacerts")" = 200 ] && certs_of "$T/out" || return 1
	! grep -q rollover "$d/behaviour" && cmp "$d/root.pem" "$T/root-before.pem" &&
		[ "$(grep -c 'BEGIN CERTIFICATE' "$T/out.pem")" = 4 ] && pem_split "$T/out.pem" "$T/ro" &&
		# NewWithNew first: root-new.pem, same subject as the old root, a new key
		same_cert "$T/ro1.pem" "$d/root-new.pem" &&
		[ "$(openssl x509 -in "$T/ro1.pem" -noout -subject)" = "$(openssl x509 -in "$d/root.pem" -noout -subject)" ] &&
		[ "$(pubkey "$T/ro1.pem")" != "$(pubkey "$d/root.pem")" ] &&
		# NewWithOld: the new key, verifies against the old root
		[ "$(pubkey "$T/ro2.pem")" = "$(pubkey "$T/ro1.pem")" ] &&
		openssl verify -partial_chain -CAfile "$d/root.pem" "$T/ro2.pem" &&
		! openssl verify -partial_chain -CAfile "$d/root-new.pem" "$T/ro2.pem" 2>/dev/null &&
		# OldWithNew: the old key, verifies against the new root
		[ "$(pubkey "$T/ro3.pem")" = "$(pubkey "$d/root.pem")" ] &&
		openssl verify -partial_chain -CAfile "$d/root-new.pem" "$T/ro3.pem" &&
		# OldWithOld: the old root itself, still valid
		same_cert "$T/ro4.pem" "$d/root.pem" &&
		# the link certificates end with the old root (RFC 4210 4.4)
		[ "$(enddate "$T/ro2.pem")" = "$(enddate "$d/root.pem")" ] &&
		[ "$(enddate "$T/ro3.pem")" = "$(enddate "$d/root.pem")" ] &&
		for c in 1 2 3 4; do
			openssl x509 -in "$T/ro$c.pem" -noout -ext basicConstraints,keyUsage | tr '\n' ' ' |
				grep 'CA:TRUE' | grep -q 'Certificate Sign' || return 1
		done
}

t_rollover_tls() {
	local d="$T/roll"
	[ "$(req roll "$EST/cacerts" --cacert "$d/root-new.pem")" = 200 ] &&
		# a client that trusts only the old root (req's --cacert root.pem) still connects
		[ "$(req roll "$EST/cacerts")" = 200 ] &&
		server_cert roll "$T/srv.pem" && openssl verify -CAfile "$d/root-new.pem" "$T/srv.pem" &&
		! openssl verify -CAfile "$d/root.pem" "$T/srv.pem" 2>/dev/null &&
		# because the chain after the leaf is NewWithOld
		server_chain roll "$T/chain.pem" && pem_split "$T/chain.pem" "$T/sc" &&
		[ "$(grep -c 'BEGIN CERTIFICATE' "$T/chain.pem")" = 2 ] &&
		same_cert "$T/sc2.pem" "$d/root-newwithold.pem" &&
		openssl verify -CAfile "$d/root.pem" -untrusted "$T/sc2.pem" "$T/srv.pem" &&
		# the reloaded TLS context still writes the key log: tls_exporter is still known
		[ "$(req roll "$EST/cacerts" --cacert "$d/root-new.pem" --tlsv1.3)" = 200 ] &&
		tail -n1 "$d/requests.log" | grep -q '"tls_exporter": "[A-Za-z0-9+/]\{43\}="'
}

t_rollover_enroll() {
	local d="$T/roll"
	csr "$T/new.csr" /CN=dev-new && [ "$(enroll roll "$T/new.csr" --cacert "$d/root-new.pem")" = 200 ] &&
		certs_of "$T/out" && openssl verify -CAfile "$d/root-new.pem" "$T/out.pem" &&
		! openssl verify -CAfile "$d/root.pem" "$T/out.pem" 2>/dev/null
}

t_rollover_reenroll() {
	local d="$T/roll" k
	k=(--cacert "$d/root-new.pem" --cert "$T/old.pem" --key "$T/old.csr.key")
	openssl verify -CAfile "$d/root.pem" "$T/old.pem" &&
		[ "$(req roll "$EST/simplereenroll" "${k[@]}" --data-binary "@$T/new.csr")" = 400 ] &&
		[ "$(req roll "$EST/simplereenroll" "${k[@]}" --data-binary "@$T/old.csr")" = 200 ] &&
		certs_of "$T/out" && openssl verify -CAfile "$d/root-new.pem" "$T/out.pem" &&
		[ "$(req roll "$EST/simplereenroll" --cacert "$d/root-new.pem" --cert "$d/client-auth.pem" \
			--data-binary "@$T/re.csr")" = 200 ] &&
		[ "$(req roll "$EST/simplereenroll" --cacert "$d/root-new.pem" --cert "$d/client-auth-new.pem" \
			--data-binary "@$T/re.csr")" = 200 ]
}

t_rollover_bad() {
	local d="$T/rolli"
	echo cacerts-rollover-bad >"$d/behaviour"
	[ "$(req rolli "$EST/cacerts")" = 200 ] && certs_of "$T/out" &&
		[ "$(grep -c 'BEGIN CERTIFICATE' "$T/out.pem")" = 4 ] && pem_split "$T/out.pem" "$T/rb" &&
		[ "$(openssl x509 -in "$T/rb3.pem" -noout -issuer)" = "issuer=$(openssl x509 -in "$d/root.pem" -noout -subject | cut -d= -f2-)" ] &&
		! openssl verify -partial_chain -CAfile "$d/root.pem" "$T/rb3.pem" 2>/dev/null &&
		[ ! -e "$d/root-new.pem" ] && rm "$d/behaviour" &&
		[ "$(req rolli "$EST/cacerts")" = 200 ] && certs_of "$T/out" &&
		[ "$(grep -c 'BEGIN CERTIFICATE' "$T/out.pem")" = 2 ]
}

t_rollover_intermediate() {
	local d="$T/rolli"
	csr "$T/ri.csr" /CN=client && echo rollover >"$d/behaviour" &&
		[ "$(req rolli "$EST/cacerts")" = 200 ] && certs_of "$T/out" &&
		[ "$(grep -c 'BEGIN CERTIFICATE' "$T/out.pem")" = 5 ] && pem_split "$T/out.pem" "$T/ri" &&
		same_cert "$T/ri1.pem" "$d/intermediate-new.pem" && same_cert "$T/ri2.pem" "$d/root-new.pem" &&
		openssl verify -partial_chain -CAfile "$d/root.pem" "$T/ri3.pem" &&
		same_cert "$T/ri5.pem" "$d/root.pem" &&
		# TLS: leaf, new intermediate, NewWithOld; the old root alone suffices
		server_chain rolli "$T/chaini.pem" && pem_split "$T/chaini.pem" "$T/sci" &&
		[ "$(grep -c 'BEGIN CERTIFICATE' "$T/chaini.pem")" = 3 ] &&
		same_cert "$T/sci2.pem" "$d/intermediate-new.pem" &&
		same_cert "$T/sci3.pem" "$d/root-newwithold.pem" &&
		[ "$(req rolli "$EST/cacerts")" = 200 ] &&
		[ "$(req rolli "$EST/simplereenroll" --cacert "$d/root-new.pem" --cert "$d/client-auth.pem" \
			--data-binary "@$T/ri.csr")" = 200 ] && certs_of "$T/out" &&
		openssl verify -CAfile "$d/root-new.pem" -untrusted "$d/intermediate-new.pem" "$T/out.pem"
}

t_conn_log() {
	# two requests on one keep-alive connection, then a connection that is not TLS
	curl -sS --max-time 10 --cacert "$T/connlog/root.pem" -o /dev/null -o /dev/null \
		"https://localhost:${PORT[connlog]}$EST/cacerts" \
		"https://localhost:${PORT[connlog]}$EST/csrattrs" || return 1
	curl -s --max-time 10 -o /dev/null "http://localhost:${PORT[connlog]}$EST/cacerts"
	sleep 0.3
	"$PYTHON" - "$T/connlog.conns" <<'EOPY'
import json, sys
c = [json.loads(line) for line in open(sys.argv[1])]
assert len(c) == 2, c
ok, bad = c
assert ok["handshake"] and ok["conn"] == 1 and ok["requests"] == 2, ok
assert ok["bytes_in"] > 300 and ok["bytes_out"] > 1000 and ok["time"] <= ok["end"], ok
assert not bad["handshake"] and bad["conn"] is None and bad["requests"] == 0, bad
EOPY
}

t_tls_ca() {
	! req interop "$EST/cacerts" >/dev/null 2>&1 &&
		[ "$(req interop "$EST/cacerts" --cacert "$T/interop/tls-ca.pem")" = 200 ] &&
		certs_of "$T/out" && same_cert "$T/out.pem" "$T/interop/root.pem" &&
		! openssl verify -CAfile "$T/interop/tls-ca.pem" "$T/out.pem" >/dev/null 2>&1
}

# ireq PATH [curl args]: request to the interop server (its TLS CA), status on stdout
ireq() {
	local path=$1
	shift
	req interop "$path" --cacert "$T/interop/tls-ca.pem" "$@"
}

# multipart_ok: $T/out is multipart/mixed as $T/hdr says, a pkcs8 and a pkcs7 part whose base64 decodes
multipart_ok() {
	"$PYTHON" -c 'import base64, email, sys
hdr = open(sys.argv[1], "rb").read().decode("latin-1")
ctype = [l.split(":", 1)[1].strip() for l in hdr.splitlines() if l.lower().startswith("content-type:")][0]
msg = email.message_from_bytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + open(sys.argv[2], "rb").read())
parts = msg.get_payload()
assert [p.get_content_type() for p in parts] == ["application/pkcs8", "application/pkcs7-mime"], parts
for p in parts:
    base64.b64decode(p.get_payload(), validate=False)' "$T/hdr" "$T/out"
}

t_interop_behaviours() {
	local d="$T/interop" rc=0
	echo csrattrs-trailing-nul >"$d/behaviour"
	{ [ "$(ireq "$EST/csrattrs")" = 200 ] && [ "$(tail -c1 "$T/out" | od -An -tx1 | tr -d ' ')" = 00 ] &&
		head -c -1 "$T/out" | base64 -d | cmp -s - "$d/csrattrs.der"; } || { echo "# trailing-nul"; rc=1; }
	echo cacerts-ee-only >"$d/behaviour"
	{ [ "$(ireq "$EST/cacerts")" = 200 ] && certs_of "$T/out" &&
		[ "$(grep -c 'BEGIN CERTIFICATE' "$T/out.pem")" = 1 ] &&
		openssl x509 -in "$T/out.pem" -noout -ext basicConstraints | grep -q 'CA:FALSE'; } || { echo "# ee-only"; rc=1; }
	echo cacerts-ee-extra >"$d/behaviour"
	{ [ "$(ireq "$EST/cacerts")" = 200 ] && certs_of "$T/out" &&
		[ "$(grep -c 'BEGIN CERTIFICATE' "$T/out.pem")" = 2 ] && pem_split "$T/out.pem" "$T/ee" &&
		same_cert "$T/ee1.pem" "$d/root.pem" &&
		openssl x509 -in "$T/ee2.pem" -noout -ext basicConstraints | grep -q 'CA:FALSE'; } || { echo "# ee-extra"; rc=1; }
	echo "hostile 400" >"$d/behaviour"
	{ [ "$(ireq "$EST/simpleenroll" --data-binary "@$T/ec.csr")" = 400 ] &&
		header Retry-After | grep -q $'\x1b' && grep -q $'\x1b\\[2J' "$T/out" &&
		[ "$(wc -c <"$T/out")" -gt 5000 ]; } || { echo "# hostile"; rc=1; }
	echo "202rfc850 1 60" >"$d/behaviour"
	{ [ "$(ireq "$EST/simpleenroll" --data-binary "@$T/ec.csr")" = 202 ] &&
		header Retry-After | grep -Eq '^[A-Z][a-z]+day, [0-9]{2}-[A-Z][a-z]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$'; } ||
		{ echo "# 202rfc850: $(header Retry-After)"; rc=1; }
	echo "202asctime 1 60" >"$d/behaviour"
	{ [ "$(ireq "$EST/simpleenroll" --data-binary "@$T/ec.csr")" = 202 ] &&
		header Retry-After | grep -Eq '^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$'; } ||
		{ echo "# 202asctime: $(header Retry-After)"; rc=1; }
	for k in lf tricky; do
		echo "serverkeygen-multipart-$k" >"$d/behaviour"
		{ [ "$(ireq "$EST/serverkeygen" --data-binary "@$T/ec.csr")" = 200 ] && multipart_ok; } ||
			{ echo "# multipart-$k"; rc=1; }
	done
	grep -q '^preamble' "$T/out" || { echo "# multipart-tricky has no preamble"; rc=1; }
	rm -f "$d/behaviour"
	return $rc
}

t_sigterm() {
	local n rc=0
	for n in "${!PID[@]}"; do
		kill -TERM "${PID[$n]}" && wait "${PID[$n]}" || { echo "# $n: exit $?"; rc=1; }
		unset "PID[$n]"
		[ -s "$T/$n.err" ] && { sed "s/^/# $n: /" "$T/$n.err"; rc=1; }
	done
	return $rc
}

tests=(
	"t_start:servers start and write their port files"
	"t_cacerts:GET cacerts is base64 certs-only PKCS#7 of root.pem"
	"t_label:cacerts under a label path"
	"t_404:unknown paths give 404"
	"t_csrattrs:csrattrs without a file gives 204"
	"t_enroll_ec:EC CSR enrolls, cert verifies against root.pem, SAN/KU/EKU and key copied"
	"t_enroll_rsa_ed25519:RSA and Ed25519 CSRs enroll"
	"t_bad_csr:non-CSR and non-base64 bodies give 400"
	"t_reenroll:simplereenroll: 401 without cert, 400 other subject, 200 with client-auth.pem"
	"t_serverkeygen:serverkeygen answers multipart pkcs8 + pkcs7"
	"t_202:behaviour 202 1 5 gives 202 Retry-After: 5, then 200"
	"t_behaviours:status, cacerts-garbage, times, other-key, huge, slow behaviours"
	"t_keepalive_log:requests.log: JSON lines, conn id shared over keep-alive"
	"t_basic_ipv6:basic auth 401/200 on ::1"
	"t_intermediate:intermediate CA: cacerts has 2 certs, issued cert chains to root"
	"t_log_json:requests.log of the basic server parses as JSON"
	"t_digest:digest auth with curl --digest: right 200, wrong 401"
	"t_tls12:--tls 1.2 refuses curl --tlsv1.3"
	"t_pop:--pop: challengePassword = base64(tls-unique) 200, wrong or missing 400"
	"t_untrusted:--server-cert-untrusted fails verification with root.pem"
	"t_cert_auth:--auth cert: 401 without client cert, 200 with client-auth.pem, other CA refused"
	"t_csrattrs_presets:--print-csrattrs: every preset parses with openssl asn1parse, right OIDs"
	"t_csrattrs_served:csrattrs: --csrattrs-preset and --csrattrs-file served as application/csrattrs"
	"t_exporter_keymat:tls_exporter in requests.log = openssl s_client -keymatexport (SHA-256, SHA-384)"
	"t_exporter_pop:--pop-binding tls-exporter: s_client PoP 200, other connection 400, TLS 1.2 400"
	"t_rollover:rollover: cacerts NewWithNew, NewWithOld (old root signs), OldWithNew (new root signs), OldWithOld"
	"t_rollover_tls:rollover: the TLS chain is leaf + NewWithOld: the old root and root-new.pem both verify it"
	"t_rollover_enroll:rollover: a new enrollment verifies against root-new.pem, not root.pem"
	"t_rollover_reenroll:rollover: simplereenroll with a client cert from before the rollover"
	"t_rollover_bad:cacerts-rollover-bad: NewWithOld does not verify, the CA is not switched"
	"t_rollover_intermediate:rollover with --intermediate: new intermediate, old client cert renews, TLS chain via NewWithOld"
	"t_conn_log:--conn-log: one line per TCP connection, requests and bytes; failed handshake"
	"t_tls_ca:--tls-ca: the TLS certificate verifies with tls-ca.pem only, cacerts answers root.pem"
	"t_interop_behaviours:trailing-nul, cacerts-ee-only/-ee-extra, hostile, 202rfc850/asctime, multipart-lf/tricky"
	"t_sigterm:SIGTERM stops the servers with exit 0, nothing on stderr"
)

start plain --behaviour "202 0 1"
start basic --bind ::1 --auth basic --user estuser --password estpwd --intermediate --no-wrap
"$PYTHON" "$SERVER" --print-csrattrs ext >"$T/csrattrs-ext.der"
start digest --auth digest --user alice --password s3cret --cte drop --csrattrs-file "$T/csrattrs-ext.der"
start tls12 --tls 1.2 --pop
start untrusted --server-cert-untrusted
start cert --auth cert
start roll
start rolli --intermediate
start exp --pop-binding tls-exporter --csrattrs-preset ec384
start connlog --conn-log "$T/connlog.conns" --nodelay
start interop --tls-ca --csrattrs-preset rfc9908

echo "1..${#tests[@]}"
n=0 failed=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	[ -n "${VERBOSE:-}" ] && set -x
	"${t%%:*}" >"$T/test.log" 2>&1
	rc=$?
	{ set +x; } 2>/dev/null
	if [ $rc = 0 ]; then
		echo "ok $n - ${t#*:}"
	else
		echo "not ok $n - ${t#*:}"
		sed 's/^/# /' "$T/test.log"
		failed=$((failed + 1))
	fi
done
[ $failed = 0 ]
