#!/bin/bash
# SPDX-License-Identifier: MIT
# certmonger-helper: certmonger's CA helper protocol run by hand (each operation, each exit
# status, the cookie, the trust, nothing written to the store), then under the real certmonger on
# a private session bus: a request reaches MONITORING, resubmit renews, a 202 is polled until
# issued, a refusal ends in CA_REJECTED with the server's reason.
. "$(dirname "$0")/helpers.sh"

DBUS_PID=
CM_PID=
cm_cleanup() {
	if [ -n "$CM_PID" ]; then
		kill "$CM_PID" 2>/dev/null
		wait "$CM_PID" 2>/dev/null
	fi
	if [ -n "$DBUS_PID" ]; then
		kill "$DBUS_PID" 2>/dev/null
		wait "$DBUS_PID" 2>/dev/null
	fi
	cleanup
}
trap cm_cleanup EXIT

# helper OP [VAR=VALUE...]: the helper as certmonger runs it, CERTMONGER_OPERATION=OP and only
# the CERTMONGER_* variables given; sets RC, output in $T/out and $T/err.
helper() {
	local op=$1
	shift
	env -u CERTMONGER_CSR -u CERTMONGER_CA_COOKIE CERTMONGER_OPERATION="$op" "$@" \
		"$EST_ENROLL" ${HELPER_OPTS:-} -c "$T/est.conf" certmonger-helper >"$T/out" 2>"$T/err"
	RC=$?
}

# pubkey FILE: the public key of a PEM certificate, key or CSR.
pubkey() {
	openssl x509 -in "$1" -noout -pubkey 2>/dev/null || openssl pkey -in "$1" -pubout 2>/dev/null ||
		openssl req -in "$1" -noout -pubkey 2>/dev/null
}

# store_state: the store's files (names, sizes, modification times, contents) and the keyring's
# keys, for "the helper wrote nothing".
store_state() {
	if [ -d "$T/store" ]; then
		find "$T/store" -printf '%p %s %T@\n' | sort
		find "$T/store" -type f -exec sha256sum {} + | sort
	fi
	kr=$(keyring_id) && keyctl rlist "$kr"
	echo
}

start_server --tls-ca
write_config "ca_root = $SRV/tls-ca.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/key.pem" \
	-out "$T/req.pem" -subj "/CN=cm-unit" 2>/dev/null || { echo "Bail out! openssl req"; exit 1; }
CSR=$(cat "$T/req.pem")
version=$("$EST_ENROLL" --version | sed 's/^est-enroll //')

# --- the protocol by hand --------------------------------------------------------------------

helper IDENTIFY
is "IDENTIFY: exit 0" "$RC" 0
is "IDENTIFY: the version and the server" "$(cat "$T/out")" "est-enroll $version (server localhost:$PORT)"

helper SUBMIT CERTMONGER_CSR="$CSR"
is "SUBMIT: exit 0" "$RC" 0
is "SUBMIT: the certificate is for the CSR's key" "$(pubkey "$T/out")" "$(pubkey "$T/key.pem")"
check "SUBMIT: it is issued by the enrollment CA (not ca_root, the TLS CA)" \
	openssl verify -CAfile "$SRV/root.pem" "$T/out"
is "SUBMIT: the subject is the CSR's" "$(openssl x509 -in "$T/out" -noout -subject)" \
	"subject=CN = cm-unit"
check "SUBMIT: certmonger's first PEM block is the certificate" \
	bash -c "head -1 '$T/out' | grep -qx -- '-----BEGIN CERTIFICATE-----'"
check "nothing was written: no store directory" test ! -e "$T/store"
check "nothing was written: no keyring" bash -c "! keyctl search @u keyring '$KEYRING'"

n=$(requests_to simpleenroll)
behaviour "202 1 7"
helper SUBMIT CERTMONGER_CSR="$CSR"
is "202: exit 5 (wait, with a delay)" "$RC" 5
is "202: two lines on stdout" "$(wc -l <"$T/out")" 2
is "202: the delay is the server's Retry-After" "$(sed -n 1p "$T/out")" 7
cookie=$(sed -n 2p "$T/out")
is "202: the cookie is the CSR (base64 DER, one line)" "$cookie" \
	"$(openssl req -in "$T/req.pem" -outform der | base64 -w0)"
behaviour ""
helper POLL CERTMONGER_CA_COOKIE="$cookie"
is "POLL with the cookie alone: exit 0" "$RC" 0
is "POLL: the certificate is for the key of the request" "$(pubkey "$T/out")" \
	"$(pubkey "$T/key.pem")"
is "POLL sent the CSR again (RFC 7030 4.2.3)" "$(($(requests_to simpleenroll) - n))" 2

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/key2.pem" \
	-out "$T/req2.pem" -subj "/CN=cm-unit-2" 2>/dev/null
helper POLL CERTMONGER_CA_COOKIE="$cookie" CERTMONGER_CSR="$(cat "$T/req2.pem")"
is "POLL with certmonger's CSR and an older cookie: exit 0" "$RC" 0
is "... the certificate is for certmonger's current key" "$(pubkey "$T/out")" \
	"$(pubkey "$T/key2.pem")"

helper "" CERTMONGER_CA_COOKIE="$cookie"
is "no CERTMONGER_OPERATION but a cookie: POLL (helpers.txt), exit 0" "$RC" 0

behaviour "status 503 9"
helper SUBMIT CERTMONGER_CSR="$CSR"
is "503 with Retry-After: exit 5" "$RC:$(sed -n 1p "$T/out")" "5:9"
behaviour "status 503"
helper SUBMIT CERTMONGER_CSR="$CSR"
is "503 without Retry-After: exit 3 (unreachable)" "$RC" 3
check "... saying so" grep -q "HTTP 503" "$T/out"

# A CSR whose signature does not verify: the server's own words come back.
"$PYTHON3" -c 'import base64,sys
der=bytearray(base64.b64decode("".join(l for l in open(sys.argv[1]).read().split("\n") if l and not l.startswith("-----"))))
der[-3]^=0xff
b=base64.b64encode(bytes(der)).decode()
print("-----BEGIN CERTIFICATE REQUEST-----")
print("\n".join(b[i:i+64] for i in range(0,len(b),64)))
print("-----END CERTIFICATE REQUEST-----")' "$T/req.pem" >"$T/bad.pem"
behaviour ""
helper SUBMIT CERTMONGER_CSR="$(cat "$T/bad.pem")"
is "refused (400): exit 2 (rejected)" "$RC" 2
check "... with the server's reason on the first line" \
	bash -c "head -1 '$T/out' | grep -q 'HTTP 400.*CSR signature does not verify'"
behaviour "status 403"
helper SUBMIT CERTMONGER_CSR="$CSR"
is "403: exit 2 (rejected)" "$RC" 2
behaviour "status 401"
HELPER_OPTS="-v -v"
write_config "ca_root = $SRV/tls-ca.pem" "http_auth = basic" "username = estuser" \
	"password = cm-Secret-4711"
helper SUBMIT CERTMONGER_CSR="$CSR"
HELPER_OPTS=
is "401: exit 4 (under-configured: the credentials are configuration)" "$RC" 4
check "... naming what to fix" grep -q "http_auth, username and password" "$T/out"
check "the password is in no output, even with -vv" \
	bash -c "! grep -q -e cm-Secret-4711 -e '$(printf 'estuser:cm-Secret-4711' | base64)' \
		'$T/out' '$T/err'"
behaviour ""

write_config "ca_root = $SRV/tls-ca.pem" "server = localhost:1"
helper SUBMIT CERTMONGER_CSR="$CSR"
is "server unreachable: exit 3" "$RC" 3
check "... saying so" grep -q "cannot reach localhost:1" "$T/out"
write_config "ca_root = $SRV/tls-ca.pem" "no_such_key = 1"
helper SUBMIT CERTMONGER_CSR="$CSR"
is "bad configuration: exit 4 (under-configured), not 2" "$RC" 4
check "... saying so" grep -q "configuration" "$T/out"
write_config "ca_root = $T/missing.pem"
helper FETCH-ROOTS
is "unreadable ca_root: exit 4" "$RC" 4
write_config "ca_root = $SRV/tls-ca.pem"
helper SUBMIT
is "no CSR: exit 4" "$RC" 4
helper SUBMIT CERTMONGER_CSR="not a CSR"
is "not a CSR: exit 4" "$RC" 4
helper POLL CERTMONGER_CA_COOKIE="bm90IGEgQ1NS"
is "POLL without a CSR and a cookie that holds none: exit 4" "$RC" 4
check "... saying so" grep -q "the cookie holds no PKCS#10 request" "$T/out"
"$EST_ENROLL" -c "$T/est.conf" certmonger-helper extra >"$T/out" 2>"$T/err"
is "an extra argument, run by hand: a usage error, exit 2 as for every command" "$?" 2
CERTMONGER_OPERATION=SUBMIT "$EST_ENROLL" --bogus -c "$T/est.conf" certmonger-helper \
	>"$T/out" 2>"$T/err"
is "a bad command line under certmonger: exit 4 (under-configured), not 2 (rejected)" "$?" 4
check "... with a line for certmonger's ca-error" grep -q "bad command line" "$T/out"

helper GET-NEW-REQUEST-REQUIREMENTS
is "another operation: exit 6, nothing on stdout" "$RC:$(cat "$T/out")" "6:"
helper FETCH-SCEP-CA-CAPS
is "an SCEP operation: exit 6" "$RC" 6

helper FETCH-ROOTS
is "FETCH-ROOTS: exit 0" "$RC" 0
"$PYTHON3" -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(len(d["roots"]), len(d["other-roots"]), len(d["other"]))
open(sys.argv[2],"w").write(d["roots"][0]["certificate"])
print(d["roots"][0]["nickname"])' "$T/out" "$T/fetched.pem" >"$T/roots" 2>"$T/err"
is "FETCH-ROOTS: certmonger's JSON, one root, no other certificates" "$(sed -n 1p "$T/roots")" \
	"1 0 0"
is "FETCH-ROOTS: the root is the enrollment CA's (/cacerts), not ca_root" \
	"$(cat "$T/fetched.pem")" "$(cat "$SRV/root.pem")"
is "FETCH-ROOTS: its nickname is its subject" "$(sed -n 2p "$T/roots")" \
	"$(openssl x509 -in "$SRV/root.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
check "after every operation: still no store directory" test ! -e "$T/store"
check "after every operation: still no keyring" bash -c "! keyctl search @u keyring '$KEYRING'"

# --- the trust: the stored CA certificates after a bootstrap, as a pass has it ---------------

est run --once
is "a pass bootstraps and enrolls" "$RC" 0
before=$(store_state)
write_config "ca_root = $SRV/tls-ca.pem" "server_trust = cacerts"
helper SUBMIT CERTMONGER_CSR="$CSR"
is "server_trust = cacerts after the bootstrap: the TLS CA no longer vouches, exit 4" "$RC" 4
check "... naming the stored CA certificates" grep -q "stored CA certificates" "$T/out"
write_config "ca_root = $SRV/tls-ca.pem"
helper SUBMIT CERTMONGER_CSR="$CSR"
is "the default server_trust (stored CA certificates and ca_root): exit 0" "$RC" 0
is "the store and the keyring are unchanged" "$(store_state)" "$before"
# After the bootstrap FETCH-ROOTS hands certmonger only what a pass would take: not a new root
# that no stored anchor vouches for.
behaviour "cacerts-rollover-bad"
helper FETCH-ROOTS
is "FETCH-ROOTS, a root update no stored anchor vouches for: exit 3" "$RC" 3
check "... saying so, and printing no certificate" bash -c \
	"grep -q 'a pass would not take' '$T/out' && ! grep -q 'BEGIN CERTIFICATE' '$T/out'"
behaviour ""
helper FETCH-ROOTS
is "FETCH-ROOTS after the bootstrap, the same set: exit 0" "$RC" 0

# --- the real certmonger ----------------------------------------------------------------------

skip_rest() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N # SKIP $*"
	done_testing
}
for tool in certmonger getcert dbus-daemon; do
	command -v "$tool" >/dev/null || skip_rest "$tool not installed"
done

CM="$T/cm"
mkdir -p "$CM/requests" "$CM/cas" "$CM/local" "$CM/config" "$CM/tmp"
# A bus of the test's own: no service directories, so nothing is activated behind its back.
cat >"$CM/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$CM/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$CM/bus.conf" --nofork --print-address=3 3>"$CM/address" \
	2>"$CM/dbus.err" &
DBUS_PID=$!
wait_until 10 test -s "$CM/address"
check "a private session bus runs" test -s "$CM/address"
export DBUS_SESSION_BUS_ADDRESS
DBUS_SESSION_BUS_ADDRESS=$(head -1 "$CM/address")
export CERTMONGER_REQUESTS_DIR="$CM/requests" CERTMONGER_CAS_DIR="$CM/cas" \
	CERTMONGER_LOCAL_CA_DIR="$CM/local" CERTMONGER_CONFIG_DIR="$CM/config" \
	CERTMONGER_TMPDIR="$CM/tmp"
certmonger -s -n -d 2 >"$CM/log" 2>&1 &
CM_PID=$!
wait_until 20 getcert list-cas -s >/dev/null 2>&1
check "certmonger answers on it" getcert list-cas -s

# cm_status ID: the request's status as getcert lists it.
cm_status() {
	getcert list -s -i "$1" 2>/dev/null | sed -n 's/^[[:space:]]*status: //p'
}
cm_is() {
	[ "$(cm_status "$1")" = "$2" ]
}
cm_ca_file() {
	grep -l "^id=$1\$" "$CM"/cas/* 2>/dev/null | head -1
}

getcert add-ca -s -c EST -e "$EST_ENROLL -c $T/est.conf certmonger-helper" >"$T/out" 2>&1
is "getcert add-ca with the helper" "$?" 0
wait_until 20 bash -c "getcert list-cas -s -v -c EST | grep -q 'self-identifies as: est-enroll $version'"
check "certmonger ran IDENTIFY" \
	bash -c "getcert list-cas -s -v -c EST | grep -q 'self-identifies as: est-enroll $version (server localhost:$PORT)'"
wait_until 20 bash -c "grep -q '^ca_root_certs=' \"\$(grep -l '^id=EST\$' '$CM'/cas/*)\""
check "certmonger ran FETCH-ROOTS and keeps the root" \
	bash -c "grep -q '^ca_root_certs=$(openssl x509 -in "$SRV/root.pem" -noout -subject \
		-nameopt RFC2253 | sed 's/^subject=//')' '$(cm_ca_file EST)'"

n=$(requests_to simpleenroll)
getcert request -s -w -c EST -f "$CM/cert.pem" -k "$CM/key.pem" -N CN=cm-real -I real \
	-F "$CM/roots.pem" >"$T/out" 2>&1
wait_until 30 cm_is real MONITORING
is "getcert request -w: MONITORING" "$(cm_status real)" MONITORING
is "the certificate is for certmonger's key" "$(pubkey "$CM/cert.pem")" "$(pubkey "$CM/key.pem")"
check "it is the test server's, for the subject asked" bash -c \
	"openssl verify -CAfile '$SRV/root.pem' '$CM/cert.pem' >/dev/null &&
	 openssl x509 -in '$CM/cert.pem' -noout -subject | grep -qx 'subject=CN = cm-real'"
is "one enrollment request" "$(($(requests_to simpleenroll) - n))" 1
is "certmonger saved the root from FETCH-ROOTS (-F)" \
	"$(openssl x509 -in "$CM/roots.pem" -noout -fingerprint -sha256 2>/dev/null)" \
	"$(openssl x509 -in "$SRV/root.pem" -noout -fingerprint -sha256)"

serial=$(openssl x509 -in "$CM/cert.pem" -noout -serial)
getcert resubmit -s -w -i real >"$T/out" 2>&1
wait_until 30 bash -c "[ \"\$(openssl x509 -in '$CM/cert.pem' -noout -serial)\" != '$serial' ]"
wait_until 30 cm_is real MONITORING
is "getcert resubmit -w: MONITORING again" "$(cm_status real)" MONITORING
check "... with a new certificate" \
	test "$(openssl x509 -in "$CM/cert.pem" -noout -serial)" != "$serial"
is "... for the same key" "$(pubkey "$CM/cert.pem")" "$(pubkey "$CM/key.pem")"

n=$(requests_to simpleenroll)
behaviour "202 2 1"
getcert request -s -w -c EST -f "$CM/pending.pem" -k "$CM/pending.key" -N CN=cm-pending \
	-I pending >"$T/out" 2>&1
wait_until 60 cm_is pending MONITORING
is "a 202 twice: certmonger polls until MONITORING" "$(cm_status pending)" MONITORING
is "... three requests: SUBMIT, then two POLLs" "$(($(requests_to simpleenroll) - n))" 3
check "... the helper was run with POLL" grep -q "POLL: sending the CSR" "$CM/log"
is "... the certificate is for certmonger's key" "$(pubkey "$CM/pending.pem")" \
	"$(pubkey "$CM/pending.key")"
behaviour ""

# A server that wants proof of possession certmonger's CSR cannot give: a refusal, with reason.
start_server_b --pop --tls 1.2
sed -e "s/^server = .*/server = localhost:$PORT_B/" -e "s|^ca_root = .*|ca_root = $SRV_B/root.pem|" \
	"$T/est.conf" >"$T/est-b.conf"
getcert add-ca -s -c EST-POP -e "$EST_ENROLL -c $T/est-b.conf certmonger-helper" >"$T/out" 2>&1
getcert request -s -w -c EST-POP -f "$CM/refused.pem" -k "$CM/refused.key" -N CN=cm-refused \
	-I refused >"$T/out" 2>&1
wait_until 30 cm_is refused CA_REJECTED
is "a refused request: CA_REJECTED" "$(cm_status refused)" CA_REJECTED
check "getcert list shows the server's reason" bash -c \
	"getcert list -s -i refused | grep -q 'ca-error: .*HTTP 400.*PoP: CSR has no challengePassword'"
check "no certificate was saved for it" test ! -e "$CM/refused.pem"

is "under certmonger too, the store and the keyring are unchanged" "$(store_state)" "$before"

done_testing
