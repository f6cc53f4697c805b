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
SERVER_B_PID=
PROXY_PID=
HOLDER_PID=
# AS_UID: run the binary and keyctl as this uid (setpriv), for tests of another user's quota.
AS_UID=
TAP_N=0
TAP_FAILED=0

cleanup() {
	stop_server
	stop_server_b
	stop_proxy
	release_store_lock
	kr=$(kctl search @u keyring "$KEYRING" 2>/dev/null) && {
		kctl clear "$kr" >/dev/null 2>&1
		kctl unlink "$kr" @u >/dev/null 2>&1
	}
	for extra in ${EXTRA_KEYRINGS:-}; do
		kr=$(kctl search @u keyring "$extra" 2>/dev/null) && {
			kctl clear "$kr" >/dev/null 2>&1
			kctl unlink "$kr" @u >/dev/null 2>&1
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

# launch_server DIR LOG [est-server.py options]: starts a test server with its own CA in DIR
# and waits (bounded) for its port file; sets LAUNCHED_PID. Bails out when it does not start.
launch_server() {
	local dir=$1 log=$2
	shift 2
	mkdir -p "$dir"
	rm -f "$dir/port"
	"$PYTHON3" "$EST_SERVER" --dir "$dir" --port-file "$dir/port" "$@" \
		>"$log.out" 2>"$log.err" &
	LAUNCHED_PID=$!
	for _ in $(seq 1 200); do
		[ -s "$dir/port" ] && break
		kill -0 "$LAUNCHED_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$dir/port" ]; then
		echo "# test server did not start:" >&2
		sed 's/^/# /' "$log.err" >&2
		echo "Bail out! test server did not start"
		exit 1
	fi
}

# start_server [est-server.py options]: starts the test server in $T/srv, sets PORT and SRV.
start_server() {
	SRV="$T/srv"
	launch_server "$SRV" "$T/server" "$@"
	SERVER_PID=$LAUNCHED_PID
	PORT=$(cat "$SRV/port")
}

stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		SERVER_PID=
	fi
}

# start_server_b [est-server.py options]: a second, unrelated server (its own CA) in $T/srvb,
# for moves from one server to another; sets PORT_B and SRV_B. SRV and PORT stay server A's;
# `SRV=$SRV_B requests_to OP` counts B's requests.
start_server_b() {
	SRV_B="$T/srvb"
	launch_server "$SRV_B" "$T/server-b" "$@"
	SERVER_B_PID=$LAUNCHED_PID
	PORT_B=$(cat "$SRV_B/port")
}

stop_server_b() {
	if [ -n "$SERVER_B_PID" ]; then
		kill "$SERVER_B_PID" 2>/dev/null
		wait "$SERVER_B_PID" 2>/dev/null
		SERVER_B_PID=
	fi
}

# start_proxy: an HTTP CONNECT proxy on loopback (tests/connect-proxy.py); sets PROXY_PORT and
# PROXY_LOG (one line a request it got: "CONNECT host:port").
start_proxy() {
	PROXY_LOG="$T/proxy.log"
	: >"$PROXY_LOG"
	rm -f "$T/proxy.port"
	"$PYTHON3" "$(dirname "$EST_SERVER")/connect-proxy.py" --port-file "$T/proxy.port" \
		--log "$PROXY_LOG" 2>"$T/proxy.err" &
	PROXY_PID=$!
	for _ in $(seq 1 200); do
		[ -s "$T/proxy.port" ] && break
		sleep 0.05
	done
	[ -s "$T/proxy.port" ] || { echo "Bail out! the proxy did not start"; exit 1; }
	PROXY_PORT=$(cat "$T/proxy.port")
}

stop_proxy() {
	if [ -n "$PROXY_PID" ]; then
		kill "$PROXY_PID" 2>/dev/null
		wait "$PROXY_PID" 2>/dev/null
		PROXY_PID=
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

# kctl ARGS...: keyctl, as $AS_UID when set (its own user keyring; @u is addressed explicitly).
kctl() {
	if [ -n "$AS_UID" ]; then
		setpriv --reuid="$AS_UID" --regid="$AS_UID" --clear-groups keyctl "$@"
	else
		keyctl "$@"
	fi
}

# est [ARGS...]: runs the binary on the test's config; sets RC, output in $T/out and $T/err.
est() {
	if [ -n "$AS_UID" ]; then
		setpriv --reuid="$AS_UID" --regid="$AS_UID" --clear-groups \
			"$EST_ENROLL" -c "$T/est.conf" "$@" >"$T/out" 2>"$T/err"
	else
		"$EST_ENROLL" -c "$T/est.conf" "$@" >"$T/out" 2>"$T/err"
	fi
	RC=$?
}

keyring_id() {
	kctl search @u keyring "$KEYRING" 2>/dev/null
}

# key_pipe ALIAS: the payload of a key in the test's keyring, on stdout.
key_pipe() {
	kr=$(keyring_id) || return 1
	id=$(kctl search "$kr" user "$1" 2>/dev/null) || return 1
	kctl pipe "$id"
}

key_serial() {
	kr=$(keyring_id) || return 1
	kctl search "$kr" user "$1" 2>/dev/null
}

# file_pipe ALIAS: the payload of an alias in the file copy ($T/store), on stdout.
file_pipe() {
	cat "$T/store/$1.pem" 2>/dev/null
}

# copy_pipe keyring|file ALIAS: the payload of an alias in one of the two copies of the store.
copy_pipe() {
	case $1 in
	keyring) key_pipe "$2" ;;
	file) file_pipe "$2" ;;
	*) return 1 ;;
	esac
}

# copy_has keyring|file ALIAS: that copy holds the alias.
copy_has() {
	case $1 in
	keyring) key_serial "$2" >/dev/null ;;
	file) [ -f "$T/store/$2.pem" ] ;;
	*) return 1 ;;
	esac
}

# both_same ALIAS: both copies hold the alias, byte for byte the same.
both_same() {
	copy_has keyring "$1" && copy_has file "$1" || return 1
	cmp -s <(key_pipe "$1") "$T/store/$1.pem"
}

# est_aliases keyring|file: the est-* aliases one copy holds, sorted, one a line.
est_aliases() {
	local kr id
	case $1 in
	keyring)
		kr=$(keyring_id) || return 0
		for id in $(kctl rlist "$kr" 2>/dev/null); do
			kctl rdescribe "$id" 2>/dev/null | awk -F';' '$1 == "user" { print $5 }'
		done
		;;
	file)
		ls "$T/store" 2>/dev/null | sed -n 's/\.pem$//p'
		;;
	esac | grep '^est-' | sort
}

# copies_agree: the keyring and the file copy hold the same est-* aliases, each byte-identical.
copies_agree() {
	local a
	[ "$(est_aliases keyring)" = "$(est_aliases file)" ] || return 1
	for a in $(est_aliases file); do
		both_same "$a" || return 1
	done
}

# anchors COPY: the CA certificates est-cacerts_0, _1, ... of one copy, concatenated.
anchors() {
	local i=0
	while copy_has "$1" "est-cacerts_$i"; do
		copy_pipe "$1" "est-cacerts_$i"
		i=$((i + 1))
	done
}

# anchor_count COPY: how many est-cacerts_N one copy holds (the set is contiguous from 0).
anchor_count() {
	local i=0
	while copy_has "$1" "est-cacerts_$i"; do i=$((i + 1)); done
	echo "$i"
}

# leaf_fp COPY: SHA-256 fingerprint of the enrolled certificate in one copy ("" when none).
leaf_fp() {
	copy_pipe "$1" est-enrolled-key-pair 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null
}

# leaf_serial COPY: serial number of the enrolled certificate in one copy.
leaf_serial() {
	copy_pipe "$1" est-enrolled-key-pair 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}

# pair_fits COPY: the bundle of one copy holds a private key and a certificate for that key.
pair_fits() {
	local key cert
	key=$(copy_pipe "$1" est-enrolled-key-pair 2>/dev/null | openssl pkey -pubout 2>/dev/null)
	cert=$(copy_pipe "$1" est-enrolled-key-pair 2>/dev/null |
		openssl x509 -noout -pubkey 2>/dev/null)
	[ -n "$key" ] && [ "$key" = "$cert" ]
}

# chains COPY: the enrolled certificate of one copy verifies against that copy's anchors
# (openssl verify, the bundle's chain as untrusted intermediates).
chains() {
	local d="$T/verify-$1"
	mkdir -p "$d"
	copy_pipe "$1" est-enrolled-key-pair 2>/dev/null |
		sed -n '/-BEGIN CERTIFICATE-/,/-END CERTIFICATE-/p' >"$d/certs.pem"
	anchors "$1" >"$d/anchors.pem" 2>/dev/null
	[ -s "$d/certs.pem" ] && [ -s "$d/anchors.pem" ] || return 1
	openssl x509 -in "$d/certs.pem" -out "$d/leaf.pem" 2>/dev/null &&
		openssl verify -CAfile "$d/anchors.pem" -untrusted "$d/certs.pem" "$d/leaf.pem" \
			>/dev/null 2>&1
}

# store_lock_held: /proc/locks shows a lock granted (not waiting) on the store directory.
store_lock_held() {
	local dev
	# /proc/locks names the inode as MAJOR:MINOR:INODE, the device numbers in hex.
	dev=$(printf '%02x:%02x:%s' "$(stat -c %Hd "$T/store")" "$(stat -c %Ld "$T/store")" \
		"$(stat -c %i "$T/store")")
	grep -q "^[0-9]*: FLOCK .* $dev " /proc/locks
}

# hold_store_lock: a background flock(1) on the store directory, held until release_store_lock
# (or at most 60 s); returns once the kernel shows the lock granted. Sets HOLDER_PID.
hold_store_lock() {
	rm -f "$T/release"
	flock -x "$T/store" -c \
		"for _ in \$(seq 1 1200); do [ -e '$T/release' ] && exit 0; sleep 0.05; done" &
	HOLDER_PID=$!
	for _ in $(seq 1 200); do
		store_lock_held && return 0
		kill -0 "$HOLDER_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "Bail out! could not take the store lock"
	exit 1
}

release_store_lock() {
	if [ -n "$HOLDER_PID" ]; then
		touch "$T/release"
		wait "$HOLDER_PID" 2>/dev/null
		HOLDER_PID=
	fi
}

# blocked_on_lock PID: the kernel shows PID waiting for a flock (a "->" line in /proc/locks).
blocked_on_lock() {
	grep -q -- "-> FLOCK .* $1 " /proc/locks
}

# wait_until SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds or time runs out.
wait_until() {
	local n=$(($1 * 20))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		n=$((n - 1))
		sleep 0.05
	done
	return 1
}

# exited PID: the process is gone (a child of this shell: reaped by the following wait).
exited() {
	! kill -0 "$1" 2>/dev/null
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

# wait_not_before: waits (bounded, 10 s) until the Retry-After recorded with the pending request
# key has passed, as the next pass would.
wait_not_before() {
	local nb
	nb=$(sed -n 's/.*not_before=\([0-9]*\).*/\1/p' "$T/store/est-request-key-pair.pem" 2>/dev/null)
	for _ in $(seq 1 100); do
		[ "$(date +%s)" -gt "${nb:-0}" ] && return 0
		sleep 0.1
	done
	return 1
}

# client_keystore [EXTRA [est] LINES...]: a config whose first enrollment presents the TLS client
# pair client-auth-certs from a file keystore "client" in $T/client (created empty, 0700).
client_keystore() {
	write_config "tls_client_auth = true" "tls_client_keystore = client" \
		"tls_client_alias = client-auth-certs" "$@"
	cat >>"$T/est.conf" <<EOC
[keystore client]
type = file
path = $T/client
EOC
	mkdir -p -m 0700 "$T/client"
}

# our_keyrings: the keyrings in @u named KEYRING, or KEYRING plus a suffix (e.g. a staging one).
# keyctl rlist, not /proc/keys: a seq_file read by the shell can skip entries under churn.
our_keyrings() {
	local id d
	for id in $(keyctl rlist @u 2>/dev/null); do
		d=$(keyctl rdescribe "$id" 2>/dev/null) || continue
		case $d in
		"keyring;"*";$KEYRING" | "keyring;"*";$KEYRING"[!0-9]*) echo "$id" ;;
		esac
	done
}

# drop_keyrings: clears and unlinks them all (cleanup does only KEYRING itself).
drop_keyrings() {
	local kr
	for kr in $(our_keyrings); do
		keyctl clear "$kr"
		keyctl unlink "$kr" @u
	done >/dev/null 2>&1
}

# under_shim AT ARGS...: the binary under tests/helpers/killpoint.so, killed at store mutation AT
# (0: only counts), the mutations logged to $T/kp.log; file mutations count under KP_PATHS
# (directories, colon-separated), keyring mutations always. Sets RC; the shell's "Killed"
# notice is kept out of the TAP stream.
under_shim() {
	local at=$1
	shift
	rm -f "$T/kp.log"
	{
		KILLPOINT_AT=$at KILLPOINT_LOG="$T/kp.log" KILLPOINT_PATHS="$KP_PATHS" \
			LD_PRELOAD="$KILLPOINT${LD_PRELOAD:+:$LD_PRELOAD}" \
			"$EST_ENROLL" -c "$T/est.conf" "$@" >"$T/out" 2>"$T/err"
	} 2>/dev/null
	RC=$?
}

# verdict DESCRIPTION PROBLEMS: ok when there are none, else not ok listing them.
verdict() {
	if [ -z "$2" ]; then
		tap_result 0 "$1"
	else
		tap_result 1 "$1"
		printf '%s\n' "$2" | sed 's/^/#   - /'
	fi
}

# export_all: appends an [export all] section of every kind (files under $EXP) to the config.
export_all() {
	cat >>"$T/est.conf" <<EOC

[export all]
key = $EXP/key.pem
cert = $EXP/cert.pem
ca = $EXP/ca.pem
bundle = $EXP/bundle.pem
EOC
}

# dump_keyring DIR: the keyring's aliases as DIR/ALIAS.pem (the same layout as the file copy,
# so one checker reads both).
dump_keyring() {
	local kr id hex line desc type
	local -A name=()
	rm -rf "$1"
	mkdir -p "$1"
	kr=$(keyring_id) || return 0
	# Descriptions from one read of /proc/keys ("SERIAL ... TYPE DESCRIPTION: SUMMARY").
	while read -r hex _ _ _ _ _ _ type desc; do
		[ "$type" = user ] && name[$hex]=${desc%: *}
	done <<<"$(cat /proc/keys 2>/dev/null)"
	for id in $(keyctl rlist "$kr" 2>/dev/null); do
		printf -v hex '%08x' "$id"
		desc=${name[$hex]:-}
		if [ -z "$desc" ]; then # not listed: not a user key, or missed
			line=$(keyctl rdescribe "$id" 2>/dev/null) || continue
			case $line in "user;"*) desc=${line##*;} ;; *) continue ;; esac
		fi
		keyctl pipe "$id" >"$1/$desc.pem" 2>/dev/null
	done
}
