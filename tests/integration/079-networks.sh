#!/bin/bash
# SPDX-License-Identifier: MIT
# Real networks (issue 14), in a network and mount namespace of the test's own with private
# /etc/hosts, /etc/resolv.conf and /etc/nsswitch.conf: a name whose IPv6 address black-holes
# SYNs while IPv4 works, a resolver that never answers, an endless stream of 100 Continue, an
# answer delimited by the connection's close without TLS close_notify, a proxy that wants
# Basic credentials (and never sees them leak). A failed pass leaves both copies of the store
# as they were. The misbehaving peers are tests/net-faults.py; each is first checked with
# curl(1), so a failure below is the client's, not the fixture's.
. "$(dirname "$0")/netns.sh"

# timed LIMIT ARGS...: the binary on the test's config, killed after LIMIT s (exit 124) should it
# hang; sets RC, MS (wall clock, ms) and CPU_MS (its user + system time, ms).
timed() {
	local limit=$1 t0 t1 TIMEFORMAT='%3U %3S'
	shift
	t0=$(date +%s%N)
	{ time timeout -k 2 "$limit" "$EST_ENROLL" -c "$T/est.conf" "$@" >"$T/out" 2>"$T/err"; } \
		2>"$T/time"
	RC=$?
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
	CPU_MS=$(awk '{ printf "%d", ($1 + $2) * 1000 }' "$T/time")
	echo "# est-enroll $*: exit $RC after $MS ms, $CPU_MS ms of CPU"
}

# curl_t ARGS...: curl, bounded; sets CRC and CMS (wall clock, ms); stderr in $T/curl.err.
curl_t() {
	local t0 t1
	t0=$(date +%s%N)
	timeout -k 2 30 curl -sS "$@" 2>"$T/curl.err"
	CRC=$?
	t1=$(date +%s%N)
	CMS=$(((t1 - t0) / 1000000))
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

# keyring_lacks STRING: no key of the test's keyring holds STRING.
keyring_lacks() {
	local a
	[ -n "$(est_aliases keyring)" ] || return 1
	for a in $(est_aliases keyring); do
		key_pipe "$a"
	done | grep -qF -- "$1" && return 1
	return 0
}

# fingerprints: the sorted SHA-256 fingerprints of the PEM certificates on stdin.
fingerprints() {
	local f
	rm -f "$T"/fp.*
	awk -v out="$T/fp." '/-BEGIN CERTIFICATE-/ { n++ } n { print > (out n) }'
	for f in "$T"/fp.*; do
		[ -e "$f" ] && openssl x509 -in "$f" -noout -fingerprint -sha256
	done | sort
}

# no_retry_timeout: the config without retry_timeout (unset: --once makes one attempt).
no_retry_timeout() { sed -i '/^retry_timeout =/d' "$T/est.conf"; }

# --- the namespace ---------------------------------------------------------------------------
ip link set lo up || { echo "Bail out! ip link set lo up failed"; exit 1; }
printf '127.0.0.1 localhost\n::1 est.test\n127.0.0.1 est.test\n' >"$T/hosts"
printf 'nameserver 127.0.0.1\n' >"$T/resolv.conf"
printf 'hosts: files dns\n' >"$T/nsswitch.conf"
for f in hosts resolv.conf nsswitch.conf; do
	mount --bind "$T/$f" "/etc/$f" || { echo "Bail out! cannot bind-mount /etc/$f"; exit 1; }
done
check "the namespace: the user keyring is reachable" keyctl rdescribe @u
is "the namespace: est.test resolves to ::1 first, then 127.0.0.1" \
	"$(getent ahosts est.test | awk '$2 == "STREAM" { printf "%s ", $1 }')" "::1 127.0.0.1 "

# A first identity, from the test server on 127.0.0.1 by the name localhost (IPv4 only here).
start_server --bind 127.0.0.1 --san est.test
write_config
timed 30 enroll --once
is "baseline: enroll --once against localhost:$PORT exits 0" "$RC" 0
check "baseline: the pair is in both copies" both_same est-enrolled-key-pair

# --- 1. dual stack, IPv6 black-holed -----------------------------------------------------------
fixture "$T/blackhole.ready" blackhole --bind ::1 --port "$PORT" --ready "$T/blackhole.ready"
BLACKHOLE_PID=$FIX_PID
curl_t -o /dev/null --connect-timeout 2 --cacert "$SRV/root.pem" "https://[::1]:$PORT/"
is "fixture: a connect to [::1]:$PORT hangs (curl --connect-timeout 2: exit 28)" "$CRC" 28
curl_t -o "$T/cacerts.curl" --max-time 10 --cacert "$SRV/root.pem" \
	"https://est.test:$PORT/.well-known/est/cacerts"
is "fixture: curl gets /cacerts from est.test:$PORT (over IPv4)" "$CRC" 0
check "fixture: curl took under 3 s ($CMS ms)" test "$CMS" -lt 3000

write_config "server = est.test:$PORT" "timeout = 12s"
no_retry_timeout
before=$(file_pipe est-enrolled-key-pair | sha256sum)
timed 40 enroll --once
is "dual stack, ::1 black-holed: enroll --once exits 0" "$RC" 0
check "dual stack: well under the 12 s timeout (< 8 s; $MS ms)" test "$MS" -lt 8000
check "dual stack: a new pair in both copies" new_pair "$before"
check "dual stack: the key fits the certificate" pair_fits keyring
check "dual stack: the keyring and the file copy agree" copies_agree
stop_fixture "$BLACKHOLE_PID"

# --- 2. a resolver that never answers ----------------------------------------------------------
fixture "$T/dns.ready" dns-blackhole --bind 127.0.0.1 --ready "$T/dns.ready" --log "$T/dns.log"
curl_t -o /dev/null --max-time 3 --cacert "$SRV/root.pem" "https://nowhere.test:$PORT/"
is "fixture: resolving nowhere.test hangs (curl --max-time 3: exit 28)" "$CRC" 28
check "fixture: curl gave up at its --max-time, not the resolver's (< 6 s; $CMS ms)" \
	test "$CMS" -lt 6000
check "fixture: the resolver got the query" grep -q "^query nowhere.test " "$T/dns.log"

before=$(store_print)
write_config "server = nowhere.test:$PORT" "timeout = 4s"
no_retry_timeout
: >"$T/dns.log"
timed 30 enroll --once
is "resolver never answers: enroll --once exits 75" "$RC" 75
check "resolver never answers: within the 4 s timeout and a margin (< 9 s; $MS ms)" \
	test "$MS" -lt 9000
check "resolver never answers: the client did ask it" grep -q "^query nowhere.test " "$T/dns.log"
unchanged "resolver never answers" "$before"

# --- 3. an endless stream of 100 Continue ------------------------------------------------------
FX="$T/fx"
mkdir -p "$FX"
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$FX/ca.key" -out "$FX/ca.pem" -subj "/CN=Net Faults Test CA" -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	2>"$T/openssl.err" ||
	! openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$FX/server.key" -out "$FX/server.csr" -subj "/CN=localhost" 2>>"$T/openssl.err" ||
	! openssl x509 -req -in "$FX/server.csr" -CA "$FX/ca.pem" -CAkey "$FX/ca.key" \
		-CAcreateserial -days 10 -out "$FX/server.pem" -extfile <(
			printf '%s\n' "subjectAltName = DNS:localhost, DNS:est.test, IP:127.0.0.1" \
				"extendedKeyUsage = serverAuth" "basicConstraints = CA:FALSE"
		) 2>>"$T/openssl.err"; then
	sed 's/^/# /' "$T/openssl.err"
	echo "Bail out! openssl failed"
	exit 1
fi
fixture "$T/continue.port" continue --cert "$FX/server.pem" --key "$FX/server.key" \
	--port-file "$T/continue.port" --log "$T/continue.log"
CONTINUE_PID=$FIX_PID
CPORT=$(cat "$T/continue.port")
curl_t -v -o /dev/null --max-time 2 --cacert "$FX/ca.pem" \
	"https://localhost:$CPORT/.well-known/est/cacerts"
is "fixture: endless 100 Continue (curl --max-time 2: exit 28)" "$CRC" 28
check "fixture: curl read 100 Continue heads over TLS" \
	test "$(grep -c '^< HTTP/1.1 100 Continue' "$T/curl.err")" -ge 10

before=$(store_print)
write_config "server = localhost:$CPORT" "ca_root = $FX/ca.pem" "timeout = 5s"
no_retry_timeout
: >"$T/continue.log"
timed 30 enroll --once
check "endless 100 Continue: enroll --once exits 75 or 1 (exit $RC)" \
	test "$RC" -eq 75 -o "$RC" -eq 1
check "endless 100 Continue: within the 5 s timeout and a margin (< 10 s; $MS ms)" \
	test "$MS" -lt 10000
check "endless 100 Continue: the client's CPU time is under half the wall clock ($CPU_MS ms)" \
	test $((CPU_MS * 2)) -lt "$MS"
wait_until 10 grep -q '^sent ' "$T/continue.log"
check "endless 100 Continue: the client got the stream" \
	test "$(sed -n 's/^sent //p' "$T/continue.log" | head -1)" -ge 10 2>/dev/null
unchanged "endless 100 Continue" "$before"
stop_fixture "$CONTINUE_PID"

# --- 5. a proxy that wants Basic credentials ---------------------------------------------------
PW=s3cr3t-pw
fixture "$T/proxy.port" proxy --auth "user:$PW" --port-file "$T/proxy.port" --log "$T/proxy.log"
PROXY_FX_PID=$FIX_PID
PP=$(cat "$T/proxy.port")
curl_t -o /dev/null --max-time 10 --proxy "http://127.0.0.1:$PP" --cacert "$SRV/root.pem" \
	"https://est.test:$PORT/.well-known/est/cacerts"
check "fixture: the proxy answers 407 without credentials (curl: exit $CRC)" \
	grep -q "^CONNECT est.test:$PORT 407 none" "$T/proxy.log"
curl_t -o /dev/null --max-time 10 --proxy "http://user:wrong@127.0.0.1:$PP" \
	--cacert "$SRV/root.pem" "https://est.test:$PORT/.well-known/est/cacerts"
check "fixture: the proxy answers 407 to a wrong password (curl: exit $CRC)" \
	grep -q "^CONNECT est.test:$PORT 407 wrong" "$T/proxy.log"
curl_t -o /dev/null --max-time 10 --proxy "http://user:$PW@127.0.0.1:$PP" \
	--cacert "$SRV/root.pem" "https://est.test:$PORT/.well-known/est/cacerts"
is "fixture: curl gets /cacerts through the proxy with the credentials" "$CRC" 0
check "fixture: the proxy saw the credentials" \
	grep -q "^CONNECT est.test:$PORT 200 ok" "$T/proxy.log"

before=$(file_pipe est-enrolled-key-pair | sha256sum)
write_config "server = est.test:$PORT" "proxy = http://user:$PW@127.0.0.1:$PP"
: >"$T/leaks"
for v in -v -vv -vvv; do
	: >"$T/proxy.log"
	timed 30 "$v" enroll --once
	is "proxy with Basic credentials, $v: enroll --once exits 0" "$RC" 0
	check "proxy with Basic credentials, $v: the proxy saw them" \
		grep -q "^CONNECT est.test:$PORT 200 ok" "$T/proxy.log"
	cat "$T/out" "$T/err" >>"$T/leaks"
done
check "proxy: a new pair in both copies" new_pair "$before"
check "proxy: the keyring and the file copy agree" copies_agree
check "proxy: -v, -vv, -vvv wrote something" test -s "$T/leaks"
check "proxy: the password is in no output of -v, -vv, -vvv" bash -c "! grep -q '$PW' '$T/leaks'"
check "proxy: nor the credentials in base64" \
	bash -c "! grep -q '$(printf 'user:%s' "$PW" | base64)' '$T/leaks'"
check "proxy: nor a Proxy-Authorization header" \
	bash -c "! grep -qi 'proxy-authorization:' '$T/leaks'"
timed 30 check-config
is "proxy: check-config exits 0" "$RC" 0
check "proxy: check-config shows the proxy, with a user and a password" \
	grep -q "^proxy = http://user:[^@]*@127\.0\.0\.1:$PP" "$T/out"
check "proxy: check-config masks the password" bash -c "! grep -q '$PW' '$T/out' '$T/err'"
check "proxy: the password is not in the file copy or the runtime directory" \
	bash -c "! grep -rq '$PW' '$T/store' '$RUNTIME_DIRECTORY'"
check "proxy: the password is not in the keyring" keyring_lacks "$PW"

before=$(store_print)
write_config "server = est.test:$PORT" "proxy = http://user:wrong-pw@127.0.0.1:$PP"
: >"$T/proxy.log"
timed 30 -vvv enroll --once
check "proxy, wrong password: enroll --once fails with 1, 75 or 77 (exit $RC)" \
	test "$RC" -eq 1 -o "$RC" -eq 75 -o "$RC" -eq 77
check "proxy, wrong password: within the 10 s timeout ($MS ms)" test "$MS" -lt 10000
check "proxy, wrong password: no endless 407 loop (at most 3 tries)" \
	test "$(grep -c " 407 " "$T/proxy.log")" -le 3
check "proxy, wrong password: the proxy never tunnelled" bash -c "! grep -q ' 200 ' '$T/proxy.log'"
check "proxy, wrong password: not in the output" bash -c "! grep -q 'wrong-pw' '$T/out' '$T/err'"
unchanged "proxy, wrong password" "$before"
stop_fixture "$PROXY_FX_PID"

fixture "$T/proxy2.port" proxy --auth "user:p@ss-9z" --port-file "$T/proxy2.port" \
	--log "$T/proxy2.log"
PROXY_FX_PID=$FIX_PID
PP=$(cat "$T/proxy2.port")
curl_t -o /dev/null --max-time 10 --proxy "http://user:p%40ss-9z@127.0.0.1:$PP" \
	--cacert "$SRV/root.pem" "https://est.test:$PORT/.well-known/est/cacerts"
is "fixture: curl decodes p%40ss-9z for the proxy" "$CRC" 0
before=$(file_pipe est-enrolled-key-pair | sha256sum)
write_config "server = est.test:$PORT" "proxy = http://user:p%40ss-9z@127.0.0.1:$PP"
: >"$T/proxy2.log"
timed 30 -vvv enroll --once
is "proxy, percent-encoded password (p%40ss-9z): enroll --once exits 0" "$RC" 0
check "proxy, percent-encoded password: the proxy saw user:p@ss-9z" \
	grep -q "^CONNECT est.test:$PORT 200 ok" "$T/proxy2.log"
check "proxy, percent-encoded password: a new pair in both copies" new_pair "$before"
check "proxy, percent-encoded password: the copies agree" copies_agree
check "proxy, percent-encoded password: in no output" \
	bash -c "! grep -q 'p%40ss-9z\|p@ss-9z' '$T/out' '$T/err'"
stop_fixture "$PROXY_FX_PID"

# --- 4. an answer delimited by the connection's close, no close_notify -------------------------
# An identity from the test server under the name localhost; the server rolls its root over and
# curl fetches the new set (NewWithNew, NewWithOld, OldWithNew, OldWithOld); then the fixture
# takes the server's address and TLS identity and serves that set to cacerts.
write_config
timed 30 enroll --once
is "before the close-delimited answer: enroll --once against the test server exits 0" "$RC" 0
mkdir -p "$T/fx4"
cp "$SRV/server.pem" "$SRV/server.key" "$T/fx4/"
behaviour "rollover"
curl_t -o "$T/rolled.b64" --max-time 10 --cacert "$SRV/root.pem" \
	"https://est.test:$PORT/.well-known/est/cacerts"
is "fixture: curl gets the rolled-over CA set" "$CRC" 0
base64 -d "$T/rolled.b64" 2>/dev/null | openssl pkcs7 -inform DER -print_certs 2>/dev/null |
	sed -n '/-BEGIN/,/-END/p' >"$T/rolled.pem"
is "fixture: the set holds four certificates" "$(grep -c 'BEGIN CERTIFICATE' "$T/rolled.pem")" 4
stop_server
fixture "$T/close.port" close-delimited --cert "$T/fx4/server.pem" --key "$T/fx4/server.key" \
	--body "$T/rolled.b64" --port "$PORT" --port-file "$T/close.port" --log "$T/close.log"
curl_t -o "$T/close.curl" --max-time 10 --cacert "$SRV/root.pem" \
	"https://est.test:$PORT/.well-known/est/cacerts"
is "fixture: curl accepts the close-delimited answer without close_notify" "$CRC" 0
check "fixture: curl got the whole body" cmp -s "$T/close.curl" "$T/rolled.b64"
is "fixture: the TLS stream ends without close_notify" "$("$PYTHON3" -c '
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)  # set by default in some 3.11
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10),
                    server_hostname="localhost", suppress_ragged_eofs=False)
s.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: localhost\r\n\r\n")
n = 0
try:
    while True:
        data = s.recv(65536)
        if not data:
            break
        n += len(data)
    print(f"close_notify after {n} bytes")
except ssl.SSLError as e:  # SSLEOFError, or UNEXPECTED_EOF_WHILE_READING
    print("no close_notify" if isinstance(e, ssl.SSLEOFError) or "EOF" in str(e) else e)
' "$SRV/root.pem" "$PORT" 2>&1)" "no close_notify"

: >"$T/close.log"
timed 30 cacerts --once
is "close-delimited /cacerts, no close_notify: cacerts --once exits 0" "$RC" 0
check "close-delimited: the request reached the fixture" \
	grep -q "^GET /.well-known/est/cacerts " "$T/close.log"
is "close-delimited: four CA certificates in the keyring" "$(anchor_count keyring)" 4
is "close-delimited: four CA certificates in the file copy" "$(anchor_count file)" 4
check "close-delimited: the keyring and the file copy agree" copies_agree
is "close-delimited: the anchors are the served set" "$(anchors file | fingerprints)" \
	"$(fingerprints <"$T/rolled.pem")"

done_testing
