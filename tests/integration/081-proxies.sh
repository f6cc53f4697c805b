#!/bin/bash
# SPDX-License-Identifier: MIT
# Proxies beyond 079's http:// one (issue 14), in a network and mount namespace of the test's own
# with private /etc/hosts, /etc/resolv.conf, /etc/nsswitch.conf and system CA bundle:
# 1. an https:// proxy, trusted through the system CA bundle (a test CA bind-mounted over
#    /etc/ssl/certs/ca-certificates.crt), that asks for a client certificate: enrollment and
#    renewal go through it and the device's key pair is never shown to it, also when the
#    proxy's certificate names the EST server's host too (the same address; a wildcard of the
#    site's CA, which also issued the EST server's); the system bundle never vouches for the
#    EST server;
# 2. a socks5h:// proxy with username/password (RFC 1929): the name goes to the proxy, and
#    refused credentials end the pass at once with the store unchanged (its exit code as a
#    "# exit N" line);
# 3. a proxy of the environment (https_proxy) with credentials, a quote in the password or a
#    one-character user information: they reach no output at -vv and -vvv, nothing crashes.
# The peers are tests/net-faults.py; each is first checked with curl(1), so a failure below is
# the client's, not the fixture's.
. "$(dirname "$0")/netns.sh"
BUNDLE=/etc/ssl/certs/ca-certificates.crt
CACERTS=/.well-known/est/cacerts

# timed LIMIT ARGS...: the binary on the test's config, killed after LIMIT s (exit 124) should it
# hang; sets RC and MS (wall clock, ms).
timed() {
	local limit=$1 t0 t1
	shift
	t0=$(date +%s%N)
	timeout -k 2 "$limit" "$EST_ENROLL" -c "$T/est.conf" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
	echo "# est-enroll $*: exit $RC after $MS ms"
}

# curl_t ARGS...: curl, bounded; sets CRC; stderr in $T/curl.err.
curl_t() {
	timeout -k 2 30 curl -sS "$@" 2>"$T/curl.err"
	CRC=$?
}

# unchanged WHAT BEFORE: both copies of the store are as store_print said BEFORE.
unchanged() {
	is "$1: both copies of the store are unchanged" "$(store_print)" "$2"
	check "$1: the keyring and the file copy agree" copies_agree
}

# new_pair SHA256SUM-BEFORE: both copies hold the same pair, another than before.
new_pair() {
	both_same est-enrolled-key-pair &&
		[ "$(file_pipe est-enrolled-key-pair | sha256sum)" != "$1" ]
}

# absent STRING FILE...: no FILE holds STRING (fixed string).
absent() {
	local s=$1
	shift
	! grep -qF -- "$s" "$@"
}

# no_cert_to_proxy LOG: the https proxy logged TLS handshakes, and got a client certificate in none.
no_cert_to_proxy() {
	grep -q '^tls .* client-cert none$' "$1" || return 1
	! grep '^tls .* client-cert ' "$1" | grep -vq ' client-cert none$'
}

# proxy_saw LOG: the TLS handshakes of the https proxy's log, counted, as TAP diagnostics.
proxy_saw() {
	sed -n 's/^tls //p' "$1" | sort | uniq -c | sed 's/^ *\([0-9]*\) /# the proxy saw, x\1: tls /'
}

# no_retry_timeout: the config without retry_timeout (unset: --once makes one attempt).
no_retry_timeout() { sed -i '/^retry_timeout =/d' "$T/est.conf"; }

# cert NAME SUBJECT SAN [CA-PEM CA-KEY]: a key and a server certificate $PX/NAME.{key,pem},
# issued by the proxy's test CA or by CA-PEM.
cert() {
	local ext="subjectAltName = $3"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$PX/$1.key" -out "$PX/$1.csr" -subj "$2" 2>>"$T/openssl.err" &&
		openssl x509 -req -in "$PX/$1.csr" -CA "${4:-$PX/ca.pem}" \
			-CAkey "${5:-$PX/ca.key}" -CAcreateserial -days 10 -out "$PX/$1.pem" \
			-extfile <(printf '%s\n' "$ext" "extendedKeyUsage = serverAuth" \
				"basicConstraints = CA:FALSE") 2>>"$T/openssl.err"
}

# --- the namespace ---------------------------------------------------------------------------
ip link set lo up || { echo "Bail out! ip link set lo up failed"; exit 1; }
# far.test is known to the SOCKS proxy only; nothing answers DNS on 127.0.0.1.
printf '127.0.0.1 localhost\n127.0.0.1 proxy.test proxy.corp.test est.corp.test\n' >"$T/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$T/resolv.conf"
printf 'hosts: files dns\n' >"$T/nsswitch.conf"
for f in hosts resolv.conf nsswitch.conf; do
	mount --bind "$T/$f" "/etc/$f" || { echo "Bail out! cannot bind-mount /etc/$f"; exit 1; }
done
check "the namespace: the user keyring is reachable" keyctl rdescribe @u
check "the namespace: far.test does not resolve here" bash -c '! getent hosts far.test'

# The proxy's CA, unrelated to the EST server's: the proxy's certificate (proxy.test,
# 127.0.0.1) and a fake EST server's (localhost, 127.0.0.1).
PX="$T/px"
mkdir -p "$PX"
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$PX/ca.key" -out "$PX/ca.pem" -subj "/CN=Proxy Test CA" -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	2>"$T/openssl.err" ||
	! cert proxy /CN=proxy.test "DNS:proxy.test, IP:127.0.0.1" ||
	! cert fake /CN=localhost "DNS:localhost, IP:127.0.0.1"; then
	sed 's/^/# /' "$T/openssl.err"
	echo "Bail out! openssl failed"
	exit 1
fi

start_server --san far.test --san est.corp.test
echo "dummy" >"$T/dummy.b64"

# --- 1. an https:// proxy ----------------------------------------------------------------------
# It asks for a client certificate and would take the device's (one issued under the EST root).
fixture "$T/hp.port" proxy --cert "$PX/proxy.pem" --key "$PX/proxy.key" \
	--client-ca "$SRV/root.pem" --port-file "$T/hp.port" --log "$T/hp.log"
HP=$(cat "$T/hp.port")
HPROXY="https://127.0.0.1:$HP"

curl_t -o /dev/null --max-time 10 --proxy "$HPROXY" --cacert "$SRV/root.pem" \
	"https://localhost:$PORT$CACERTS"
check "fixture: with the machine's own bundle curl does not trust the https proxy (exit $CRC)" \
	test "$CRC" -ne 0
: >"$T/hp.log"
curl_t -o /dev/null --max-time 10 --proxy "$HPROXY" --proxy-cacert "$PX/ca.pem" \
	--cacert "$SRV/root.pem" "https://localhost:$PORT$CACERTS"
is "fixture: curl --proxy-cacert gets /cacerts through the https proxy" "$CRC" 0
check "fixture: the proxy logged the CONNECT" grep -q "^CONNECT localhost:$PORT 200 " "$T/hp.log"
check "fixture: the proxy logged that curl sent no client certificate" \
	grep -q "^tls TLSv1\.[23] client-cert none$" "$T/hp.log"
: >"$T/hp.log"
curl_t -o /dev/null --max-time 10 --proxy "$HPROXY" --proxy-cacert "$PX/ca.pem" \
	--proxy-cert "$SRV/client-auth.pem" --cacert "$SRV/root.pem" \
	"https://localhost:$PORT$CACERTS"
is "fixture: curl --proxy-cert (a certificate of the EST CA) gets through too" "$CRC" 0
check "fixture: the proxy logged the client certificate it got" \
	grep -q "^tls TLSv1\.[23] client-cert CN=client" "$T/hp.log"

write_config "proxy = $HPROXY"
no_retry_timeout
before=$(store_print)
: >"$T/hp.log"
timed 30 enroll --once
check "https proxy the system does not trust: enroll --once fails (exit $RC)" test "$RC" -ne 0
check "https proxy the system does not trust: nothing went through it" \
	absent CONNECT "$T/hp.log"
unchanged "https proxy the system does not trust" "$before"

# From here on the system bundle is the proxy's CA alone.
mount --bind "$PX/ca.pem" "$BUNDLE" || { echo "Bail out! cannot bind-mount $BUNDLE"; exit 1; }
curl_t -o /dev/null --max-time 10 --proxy "$HPROXY" --cacert "$SRV/root.pem" \
	"https://localhost:$PORT$CACERTS"
is "fixture: with the test CA as the system bundle, plain curl trusts the https proxy" "$CRC" 0

: >"$T/hp.log"
timed 30 -vvv enroll --once
is "https proxy: enroll --once exits 0" "$RC" 0
check "https proxy: the proxy tunnelled to the EST server" \
	grep -q "^CONNECT localhost:$PORT 200 " "$T/hp.log"
check "https proxy: the pair is in both copies" both_same est-enrolled-key-pair
check "https proxy: the key fits the certificate" pair_fits keyring
check "https proxy: the keyring and the file copy agree" copies_agree

before=$(file_pipe est-enrolled-key-pair | sha256sum)
: >"$T/hp.log"
timed 30 renew --once
is "https proxy: renew --once exits 0" "$RC" 0
check "https proxy: the renewal went through the proxy" \
	grep -q "^CONNECT localhost:$PORT 200 " "$T/hp.log"
check "https proxy: the EST server got the enrolled certificate on /simplereenroll" \
	bash -c "grep '/simplereenroll' '$SRV/requests.log' | tail -1 |
		grep -q '\"client_cert_subject\": \"CN=gw-0042'"
check "https proxy: a new pair in both copies" new_pair "$before"
check "https proxy: the proxy asked the client for a certificate at least once" \
	grep -q "^tls " "$T/hp.log"
check "https proxy: the enrolled key pair was never presented to the proxy" \
	no_cert_to_proxy "$T/hp.log"
proxy_saw "$T/hp.log"

# The proxy and the EST server on the same address: the proxy's certificate names the server's
# host too (IP:127.0.0.1), and still is not the EST server.
write_config "server = 127.0.0.1:$PORT" "proxy = $HPROXY"
no_retry_timeout
: >"$T/hp.log"
timed 30 enroll --once
is "https proxy on the server's address: enroll --once exits 0" "$RC" 0
before=$(file_pipe est-enrolled-key-pair | sha256sum)
timed 30 renew --once
is "https proxy on the server's address: renew --once exits 0" "$RC" 0
check "https proxy on the server's address: both went through the proxy" \
	test "$(grep -c "^CONNECT 127\.0\.0\.1:$PORT 200 " "$T/hp.log")" -ge 2
check "https proxy on the server's address: a new pair in both copies" new_pair "$before"
check "https proxy on the server's address: the key pair was never presented to the proxy" \
	no_cert_to_proxy "$T/hp.log"
proxy_saw "$T/hp.log"

# A fake EST server whose certificate (localhost, 127.0.0.1) chains to the proxy's CA only:
# in the system bundle, not among the EST anchors.
fixture "$T/fake.port" close-delimited --cert "$PX/fake.pem" --key "$PX/fake.key" \
	--body "$T/dummy.b64" --port-file "$T/fake.port" --log "$T/fake.log"
FP=$(cat "$T/fake.port")
curl_t -o /dev/null --max-time 10 --proxy "$HPROXY" "https://localhost:$FP$CACERTS"
is "fixture: through the proxy, curl trusts the fake EST server by the system bundle" "$CRC" 0
curl_t -o /dev/null --max-time 10 --proxy "$HPROXY" --cacert "$SRV/root.pem" \
	"https://localhost:$FP$CACERTS"
# libcurl 7.88 reports this refusal inside an https proxy's tunnel as 35 (SSL_ERROR_SYSCALL)
check "fixture: by the EST root, curl does not, through the proxy (exit $CRC)" test "$CRC" -ne 0
curl_t -o /dev/null --max-time 10 --cacert "$SRV/root.pem" "https://localhost:$FP$CACERTS"
is "fixture: nor directly (exit 60)" "$CRC" 60

write_config "server = localhost:$FP" "proxy = $HPROXY"
no_retry_timeout
before=$(store_print)
: >"$T/hp.log"
: >"$T/fake.log"
timed 30 enroll --once
is "fake EST server trusted by the system bundle only: enroll --once exits 1" "$RC" 1
check "fake EST server: \"does not verify\"" grep -q "does not verify" "$T/err"
check "fake EST server: the proxy tunnelled to it" grep -q "^CONNECT localhost:$FP 200 " "$T/hp.log"
check "fake EST server: no request reached it" test ! -s "$T/fake.log"
unchanged "fake EST server" "$before"

# A site's own CA issues both the EST server's certificate and the proxy's, a wildcard for
# *.corp.test: the EST root is among the EST anchors and in the system bundle, and the proxy's
# certificate names est.corp.test too. The proxy still is not the EST server.
if ! cert corp /CN=proxy.corp.test "DNS:*.corp.test" "$SRV/root.pem" "$SRV/root.key"; then
	sed 's/^/# /' "$T/openssl.err"
	echo "Bail out! openssl failed"
	exit 1
fi
cat "$PX/ca.pem" "$SRV/root.pem" >"$PX/bundle2.pem"
if ! umount "$BUNDLE" || ! mount --bind "$PX/bundle2.pem" "$BUNDLE"; then
	echo "Bail out! cannot bind-mount $BUNDLE"
	exit 1
fi
fixture "$T/cp.port" proxy --cert "$PX/corp.pem" --key "$PX/corp.key" \
	--client-ca "$SRV/root.pem" --port-file "$T/cp.port" --log "$T/cp.log"
CPROXY="https://proxy.corp.test:$(cat "$T/cp.port")"
curl_t -o /dev/null --max-time 10 --proxy "$CPROXY" --cacert "$SRV/root.pem" \
	"https://est.corp.test:$PORT$CACERTS"
is "fixture: curl gets /cacerts from est.corp.test through the *.corp.test proxy" "$CRC" 0
write_config "server = est.corp.test:$PORT" "proxy = $CPROXY"
no_retry_timeout
: >"$T/cp.log"
timed 30 enroll --once
is "*.corp.test proxy, same CA as the server: enroll --once exits 0" "$RC" 0
before=$(file_pipe est-enrolled-key-pair | sha256sum)
timed 30 renew --once
is "*.corp.test proxy: renew --once exits 0" "$RC" 0
check "*.corp.test proxy: both went through the proxy" \
	test "$(grep -c "^CONNECT est\.corp\.test:$PORT 200 " "$T/cp.log")" -ge 2
check "*.corp.test proxy: the renewal authenticated with the enrolled certificate" \
	bash -c "grep '/simplereenroll' '$SRV/requests.log' | tail -1 |
		grep -q '\"client_cert_subject\": \"CN=gw-0042'"
check "*.corp.test proxy: a new pair in both copies" new_pair "$before"
check "*.corp.test proxy: the key pair was never presented to the proxy" \
	no_cert_to_proxy "$T/cp.log"
proxy_saw "$T/cp.log"

# --- 2. a socks5h:// proxy with a user name and a password ----------------------------------
SPW=s0cks-pw-7q
fixture "$T/sp.port" socks5 --auth "suser:$SPW" --resolve far.test=127.0.0.1 \
	--port-file "$T/sp.port" --log "$T/sp.log"
SP=$(cat "$T/sp.port")
curl_t -o /dev/null --max-time 10 --proxy "socks5h://suser:$SPW@127.0.0.1:$SP" \
	--cacert "$SRV/root.pem" "https://far.test:$PORT$CACERTS"
is "fixture: curl gets /cacerts from far.test through the SOCKS5 proxy" "$CRC" 0
check "fixture: the SOCKS5 proxy took the user name and password" grep -q "^auth ok$" "$T/sp.log"
check "fixture: the SOCKS5 proxy got the name far.test" \
	grep -q "^CONNECT domain far.test:$PORT 00$" "$T/sp.log"
: >"$T/sp.log"
curl_t -o /dev/null --max-time 10 --proxy "socks5h://suser:nope@127.0.0.1:$SP" \
	--cacert "$SRV/root.pem" "https://far.test:$PORT$CACERTS"
is "fixture: a wrong password: curl exits 97 (CURLE_PROXY)" "$CRC" 97
check "fixture: the SOCKS5 proxy refused it" grep -q "^auth wrong$" "$T/sp.log"

write_config "server = far.test:$PORT" "proxy = socks5h://suser:$SPW@127.0.0.1:$SP"
no_retry_timeout
before=$(file_pipe est-enrolled-key-pair | sha256sum)
: >"$T/sp.log"
timed 30 -vvv enroll --once
is "socks5h proxy: enroll --once exits 0" "$RC" 0
check "socks5h proxy: user name and password accepted" grep -q "^auth ok$" "$T/sp.log"
check "socks5h proxy: the proxy got the host name, not an address" \
	grep -q "^CONNECT domain far.test:$PORT 00$" "$T/sp.log"
check "socks5h proxy: and never an address" bash -c "! grep -q '^CONNECT ipv' '$T/sp.log'"
check "socks5h proxy: a new pair in both copies" new_pair "$before"
check "socks5h proxy: the keyring and the file copy agree" copies_agree
check "socks5h proxy: the password is in no output of -vvv" absent "$SPW" "$T/out" "$T/err"

write_config "server = far.test:$PORT" "proxy = socks5h://suser:wr0ng-pw@127.0.0.1:$SP"
no_retry_timeout
before=$(store_print)
: >"$T/sp.log"
timed 30 -vvv enroll --once
check "socks5h, wrong password: enroll --once fails" test "$RC" -ne 0
echo "# exit $RC"
grep -v 'curl: \|TLS: ' "$T/err" | tail -2 | sed 's/^/#   /'
check "socks5h, wrong password: promptly (< 10 s; $MS ms)" test "$MS" -lt 10000
check "socks5h, wrong password: the proxy refused it" grep -q "^auth wrong$" "$T/sp.log"
check "socks5h, wrong password: tried at most 3 times" \
	test "$(grep -c '^auth ' "$T/sp.log")" -le 3
check "socks5h, wrong password: nothing tunnelled" bash -c "! grep -q '^CONNECT' '$T/sp.log'"
check "socks5h, wrong password: not in the output" absent wr0ng-pw "$T/out" "$T/err"
unchanged "socks5h, wrong password" "$before"

# --- 3. a proxy of the environment with credentials -----------------------------------------
# $1: user:password as the proxy wants it, $2: the proxy URL's user information.
env_proxy() {
	local want=$1 info=$2 secret b64 v pf="$T/ep$FIX_N.port"
	fixture "$pf" proxy --auth "$want" --port-file "$pf" --log "$T/ep.log"
	EP_PID=$FIX_PID
	EP=$(cat "$pf")
	EPROXY="http://$info@127.0.0.1:$EP"
	b64=$(printf '%s' "$want" | base64)
	secret=${want#*:}
	: >"$T/ep.log"
	https_proxy=$EPROXY curl_t -o /dev/null --max-time 10 --cacert "$SRV/root.pem" \
		"https://localhost:$PORT$CACERTS"
	is "fixture: curl with https_proxy=http://$info@...: through the proxy" "$CRC" 0
	check "fixture: the proxy took http://$info@'s credentials" \
		grep -q "^CONNECT localhost:$PORT 200 ok" "$T/ep.log"
	write_config
	no_retry_timeout
	: >"$T/leaks"
	for v in -vv -vvv; do
		: >"$T/ep.log"
		https_proxy=$EPROXY timed 30 "$v" enroll --once
		is "https_proxy=http://$info@..., $v: enroll --once exits 0" "$RC" 0
		check "https_proxy=http://$info@..., $v: through the proxy, credentials taken" \
			grep -q "^CONNECT localhost:$PORT 200 ok" "$T/ep.log"
		cat "$T/out" "$T/err" >>"$T/leaks"
	done
	check "https_proxy=http://$info@...: -vv and -vvv wrote something" test -s "$T/leaks"
	if [ -n "$secret" ]; then
		check "https_proxy=http://$info@...: the password is in no output" \
			absent "$secret" "$T/leaks"
	fi
	check "https_proxy=http://$info@...: nor the credentials in base64 ($b64)" \
		absent "$b64" "$T/leaks"
	check "https_proxy=http://$info@...: nor a Proxy-Authorization header" \
		bash -c "! grep -qi 'proxy-authorization' '$T/leaks'"
	stop_fixture "$EP_PID"
}
env_proxy "user:p4ss-w0rd'x" "user:p4ss-w0rd'x"
env_proxy "u:" "u"

done_testing
