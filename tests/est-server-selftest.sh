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
	for n in plain basic digest tls12 untrusted cert; do
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
	"t_enroll_ec:EC CSR enrolls, cert verifies against root.pem, SAN and key copied"
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
	"t_sigterm:SIGTERM stops the servers with exit 0, nothing on stderr"
)

start plain --behaviour "202 0 1"
start basic --bind ::1 --auth basic --user estuser --password estpwd --intermediate --no-wrap
start digest --auth digest --user alice --password s3cret --cte drop
start tls12 --tls 1.2 --pop
start untrusted --server-cert-untrusted
start cert --auth cert

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
