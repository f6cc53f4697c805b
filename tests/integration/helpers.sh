# SPDX-License-Identifier: MIT
# Sourced by every integration test: TAP output, a private keyring and runtime dir, the test server.
set -u

: "${EST_ENROLL:?run through make check}"
: "${EST_SERVER:=$(dirname "$0")/../est-server.py}"
: "${PYTHON3:=/usr/bin/python3}"

T=$(mktemp -d /tmp/est-it.XXXXXX)
NAME=$(basename "$0" .sh)
KEYRING="est:it-$NAME-$$"
export RUNTIME_DIRECTORY="$T/run"
SERVER_PID=
TAP_N=0
TAP_FAILED=0

cleanup() {
	stop_server
	kr=$(keyctl search @u keyring "$KEYRING" 2>/dev/null) && {
		keyctl clear "$kr" >/dev/null 2>&1
		keyctl unlink "$kr" @u >/dev/null 2>&1
	}
	for extra in ${EXTRA_KEYRINGS:-}; do
		kr=$(keyctl search @u keyring "$extra" 2>/dev/null) && {
			keyctl clear "$kr" >/dev/null 2>&1
			keyctl unlink "$kr" @u >/dev/null 2>&1
		}
	done
	rm -rf "$T"
}
trap cleanup EXIT

tap_result() { # status description
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		TAP_FAILED=$((TAP_FAILED + 1))
		[ -s "$T/err" ] && sed 's/^/#   stderr: /' "$T/err" | head -20
	fi
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	desc=$1
	shift
	if "$@" >/dev/null 2>&1; then tap_result 0 "$desc"; else tap_result 1 "$desc"; fi
}

# is DESCRIPTION ACTUAL EXPECTED
is() {
	if [ "$2" = "$3" ]; then
		tap_result 0 "$1"
	else
		tap_result 1 "$1"
		echo "#   got:      '$2'"
		echo "#   expected: '$3'"
	fi
}

done_testing() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
	exit $?
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# start_server [est-server.py options]: starts the test server in $T/srv, sets PORT and SRV.
start_server() {
	SRV="$T/srv"
	mkdir -p "$SRV"
	rm -f "$SRV/port"
	"$PYTHON3" "$EST_SERVER" --dir "$SRV" --port-file "$SRV/port" "$@" \
		>"$T/server.out" 2>"$T/server.err" &
	SERVER_PID=$!
	for _ in $(seq 1 200); do
		[ -s "$SRV/port" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$SRV/port" ]; then
		echo "# test server did not start:" >&2
		sed 's/^/# /' "$T/server.err" >&2
		echo "Bail out! test server did not start"
		exit 1
	fi
	PORT=$(cat "$SRV/port")
}

stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		SERVER_PID=
	fi
}

# behaviour LINE: what the test server does from its next request on ("" = normal).
behaviour() {
	if [ -n "$1" ]; then
		printf '%s\n' "$1" >"$SRV/behaviour.tmp" && mv "$SRV/behaviour.tmp" "$SRV/behaviour"
	else
		rm -f "$SRV/behaviour" "$SRV/behaviour-state"
	fi
}

# write_config [EXTRA [est] LINES...]: a config for this test's keyring and store.
# An extra line for a key the defaults set replaces the default (duplicate keys are errors).
write_config() {
	local defaults line key skip
	defaults=("server = localhost:${PORT:-1}" "ca_root = ${SRV:-$T}/root.pem"
		"subject = CN=gw-0042,O=Example,C=IT" "keystore = it" "retry_interval = 1s"
		"retry_timeout = 10s" "timeout = 10s")
	{
		echo "[est]"
		for line in "${defaults[@]}"; do
			key=${line%% =*}
			skip=0
			for extra in "$@"; do
				[ "${extra%% =*}" = "$key" ] && skip=1
			done
			[ $skip -eq 0 ] && echo "$line"
		done
		for line in "$@"; do echo "$line"; done
		echo
		echo "[keystore it]"
		echo "keyring = $KEYRING"
		echo "path = $T/store"
		printf '%s\n' "${KEYSTORE_EXTRA:-}"
	} >"$T/est.conf"
}

# requests_to PATH-SUFFIX: how many recorded requests went to a path ending so.
requests_to() {
	if [ -f "$SRV/requests.log" ]; then
		grep -c "\"path\": \"[^\"]*/$1\"" "$SRV/requests.log"
	else
		echo 0
	fi
}

# est [ARGS...]: runs the binary on the test's config; sets RC, output in $T/out and $T/err.
est() {
	"$EST_ENROLL" -c "$T/est.conf" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

keyring_id() {
	keyctl search @u keyring "$KEYRING" 2>/dev/null
}

# key_pipe ALIAS: the payload of a key in the test's keyring, on stdout.
key_pipe() {
	kr=$(keyring_id) || return 1
	id=$(keyctl search "$kr" user "$1" 2>/dev/null) || return 1
	keyctl pipe "$id"
}

key_serial() {
	kr=$(keyring_id) || return 1
	keyctl search "$kr" user "$1" 2>/dev/null
}

# requests_count: how many requests the test server recorded.
requests_count() {
	if [ -f "$SRV/requests.log" ]; then wc -l <"$SRV/requests.log" | tr -d ' '; else echo 0; fi
}

# request_field N FIELD: field of the Nth (1-based) recorded request, through python's json.
request_field() {
	"$PYTHON3" -c 'import json,sys
lines=open(sys.argv[1]).read().splitlines()
r=json.loads(lines[int(sys.argv[2])-1])
v=r
for k in sys.argv[3].split("."):
    v=v.get(k) if isinstance(v,dict) else None
    if v is None:
        lk={kk.lower():vv for kk,vv in (r.get("headers") or {}).items()}
        v=lk.get(sys.argv[3].split(".")[-1].lower())
        break
print("" if v is None else v)' "$SRV/requests.log" "$1" "$2"
}

# make_pki: an offline CA ($T/pki/ca.pem, also root.pem, the ca_root) and a leaf bundle
# ($T/pki/bundle.pem: key, cert, CA) made with the openssl CLI, for tests that put material in
# place without a server. Sets SRV to $T/pki so write_config points ca_root there.
make_pki() {
	P="$T/pki"
	mkdir -p "$P"
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$P/ca.key" -out "$P/ca.pem" -subj "/CN=Offline Test CA" -days 30 \
		-addext basicConstraints=critical,CA:TRUE 2>/dev/null ||
		! openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$P/leaf.key" -out "$P/leaf.csr" -subj "/C=IT/O=Example/CN=gw-0042" 2>/dev/null ||
		! openssl x509 -req -in "$P/leaf.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" \
		-CAcreateserial -days 10 -out "$P/leaf.pem" 2>/dev/null; then
		echo "Bail out! openssl failed"
		exit 1
	fi
	cat "$P/leaf.key" "$P/leaf.pem" "$P/ca.pem" >"$P/bundle.pem"
	cp "$P/ca.pem" "$P/root.pem"
	SRV=$P
}
