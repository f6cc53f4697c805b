# SPDX-License-Identifier: MIT
# Sourced after helpers.sh by the hardware-key tests (090, 091): a SoftHSM2 token in the test's
# own directory, an swtpm on free ports, tpm2-abrmd on a private D-Bus; each daemon stopped by
# the PID it was started with. The *_missing functions name what is not installed, so that a
# part skips only for that.

SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
MODULES=$(openssl version -m | sed 's/^MODULESDIR: "\(.*\)"$/\1/')
SWTPM_PIDS=
SSERVER_PID=
DBUS_PID=
ABRMD_PID=

hw_cleanup() {
	# Each daemon by the PID it was started with, never by name.
	[ -n "$SSERVER_PID" ] && kill "$SSERVER_PID" 2>/dev/null
	[ -n "$ABRMD_PID" ] && kill "$ABRMD_PID" 2>/dev/null
	[ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2>/dev/null
	for pid in $SWTPM_PIDS; do kill "$pid" 2>/dev/null; done
	cleanup
}
trap hw_cleanup EXIT

# skip_part REASON N: N skipped results, one reason.
skip_part() {
	for _ in $(seq "$2"); do
		TAP_N=$((TAP_N + 1))
		echo "ok $TAP_N # SKIP $1"
	done
}

# p11_missing BINARY: prints why the PKCS#11 part cannot run with BINARY (nothing, status 1,
# when it can).
p11_missing() {
	if [ ! -e "$MODULES/pkcs11.so" ]; then
		echo "pkcs11-provider not installed (bookworm-backports)"
	elif ldd "$1" 2>/dev/null | grep -q libasan; then
		# The tpm2 part runs sanitized; this one cannot (the TPM's libraries are opened plainly).
		echo "pkcs11-provider opens the module with RTLD_DEEPBIND, which ASan refuses"
	elif [ ! -e "$SOFTHSM" ] || ! command -v softhsm2-util >/dev/null; then
		echo "softhsm2 not installed"
	elif ! command -v pkcs11-tool >/dev/null; then
		echo "opensc (pkcs11-tool) not installed"
	else
		return 1
	fi
}

# p11_token DIR PIN: a SoftHSM2 configuration and token directory in DIR (SOFTHSM2_CONF
# exported), a token labelled "device" with user PIN PIN (SO PIN 5678); sets P11 to the
# pkcs11-tool command logged in to it.
p11_token() {
	export SOFTHSM2_CONF="$1/softhsm2.conf"
	mkdir -p "$1/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$1/tokens" >"$SOFTHSM2_CONF"
	softhsm2-util --init-token --free --label device --pin "$2" --so-pin 5678 >/dev/null
	P11=(pkcs11-tool --module "$SOFTHSM" --token-label device --login --pin "$2")
}

# p11_objects LABEL: how many objects of that label the token holds.
p11_objects() { "${P11[@]}" -O 2>/dev/null | grep -c "label: *$1\$"; }

# p11_labels: the labels of the token's objects, sorted, one a line (a pair's label twice).
p11_labels() { "${P11[@]}" -O 2>/dev/null | sed -n 's/^ *label: *//p' | sort; }

# p11_pubkey LABEL OUT: the token's public key of that label, as PEM to OUT.
p11_pubkey() {
	"${P11[@]}" --read-object --type pubkey --label "$1" -o "$2.der" >/dev/null 2>&1 &&
		openssl pkey -pubin -inform DER -in "$2.der" -out "$2" 2>/dev/null
}

# tpm_missing: prints why the TPM part cannot run (nothing, status 1, when it can).
tpm_missing() {
	if [ ! -e "$MODULES/tpm2.so" ]; then
		echo "tpm2-openssl not installed"
	elif ! command -v swtpm >/dev/null || ! ls /usr/lib/*/libtss2-tcti-swtpm.so.0 >/dev/null 2>&1; then
		echo "swtpm or libtss2-tcti-swtpm0 not installed"
	elif ! command -v tpm2-abrmd >/dev/null || ! command -v dbus-daemon >/dev/null ||
		! ls /usr/lib/*/libtss2-tcti-tabrmd.so.0 >/dev/null 2>&1; then
		echo "tpm2-abrmd, libtss2-tcti-tabrmd0 or dbus-daemon not installed"
	else
		return 1
	fi
}

# free_port_pair: a port P with P+1 free too (swtpm's TCTI finds the control port at P+1).
free_port_pair() {
	"$PYTHON3" -c '
import socket
for _ in range(100):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass
'
}

# start_swtpm DIR: an swtpm with its state in DIR (kept across restarts); prints its port, its
# PID in DIR/pid, added to SWTPM_PIDS by the caller.
start_swtpm() {
	local port
	mkdir -p "$1"
	port=$(free_port_pair)
	swtpm socket --tpm2 --tpmstate dir="$1" --flags not-need-init,startup-clear \
		--server type=tcp,port="$port",bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
		--pid file="$1/pid" --log file="$1/log" --daemon || return 1
	echo "$port"
}

# start_abrmd PORT: a private dbus-daemon (once; DBUS_SESSION_BUS_ADDRESS exported, DBUS_PID)
# and a tpm2-abrmd on it for the swtpm at PORT (ABRMD_PID, BUS_NAME, its log in $T/abrmd.log).
# Returns once abrmd owns its bus name (bounded, 20 s), 1 if it never does.
start_abrmd() {
	if [ -z "$DBUS_PID" ]; then
		dbus-daemon --session --fork --nopidfile --print-address=1 --print-pid=1 \
			>"$T/dbus" 2>&1
		DBUS_PID=$(sed -n 2p "$T/dbus")
		DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p "$T/dbus")
		export DBUS_SESSION_BUS_ADDRESS
	fi
	BUS_NAME="com.intel.tss2.Tabrmd.esttest$$"
	tpm2-abrmd --session --allow-root --dbus-name="$BUS_NAME" --tcti="swtpm:port=$1" \
		>"$T/abrmd.log" 2>&1 &
	ABRMD_PID=$!
	# abrmd takes its bus name a moment after it starts.
	for _ in $(seq 200); do
		kill -0 "$ABRMD_PID" 2>/dev/null || return 1
		busctl --address="$DBUS_SESSION_BUS_ADDRESS" list --no-legend 2>/dev/null |
			awk '{ print $1 }' | grep -qxF "$BUS_NAME" && return 0
		sleep 0.1
	done
	return 1
}

# stop_abrmd: abrmd stopped by its PID and reaped.
stop_abrmd() {
	if [ -n "$ABRMD_PID" ]; then
		kill "$ABRMD_PID" 2>/dev/null
		wait "$ABRMD_PID" 2>/dev/null
		ABRMD_PID=
	fi
}

# stop_swtpm DIR: the swtpm of that state directory stopped by its PID (dropped from SWTPM_PIDS);
# returns once it is gone (bounded, 5 s).
stop_swtpm() {
	local pid
	pid=$(cat "$1/pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	SWTPM_PIDS=$(echo " $SWTPM_PIDS " | sed "s/ $pid / /")
	wait_until 5 exited "$pid"
}
