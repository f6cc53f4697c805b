# SPDX-License-Identifier: MIT
# Sourced by the network tests (079, 081) instead of helpers.sh: the test re-runs itself in a
# network and mount namespace of its own (skipped where there is none), then helpers.sh, and the
# tests/net-faults.py fixtures, stopped at exit.
if [ -z "${EST_IT_NETNS:-}" ]; then
	if ! unshare -n -m --propagation private true 2>/dev/null; then
		echo "1..0 # SKIP no network and mount namespaces (unshare -n -m)"
		exit 0
	fi
	EST_IT_NETNS=1 exec unshare -n -m --propagation private "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/helpers.sh"

FAULTS="${TESTS_SRCDIR:-$(dirname "$EST_SERVER")}/net-faults.py"
FIX_PIDS=
FIX_N=0
unset https_proxy HTTPS_PROXY no_proxy NO_PROXY all_proxy ALL_PROXY http_proxy

net_cleanup() {
	local p
	for p in $FIX_PIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	cleanup
}
trap net_cleanup EXIT

# fixture READY-FILE ARGS...: net-faults.py ARGS in the background, waited for (bounded) until
# it wrote READY-FILE; sets FIX_PID. Bails out when it does not come up.
fixture() {
	local ready=$1
	shift
	FIX_N=$((FIX_N + 1))
	rm -f "$ready"
	"$PYTHON3" "$FAULTS" "$@" 2>"$T/fixture-$FIX_N.err" &
	FIX_PID=$!
	FIX_PIDS="$FIX_PIDS $FIX_PID"
	if ! wait_until 10 test -s "$ready"; then
		echo "# net-faults.py $1 did not start:"
		sed 's/^/# /' "$T/fixture-$FIX_N.err"
		echo "Bail out! net-faults.py $1 did not start"
		exit 1
	fi
}

stop_fixture() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# store_print: every est-* alias of both copies with the SHA-256 of its payload, and the
# keyring serial (a serial changes when its key is replaced).
store_print() {
	local a
	for a in $(est_aliases keyring); do
		echo "keyring $a $(key_serial "$a") $(key_pipe "$a" | sha256sum | cut -c1-64)"
	done
	for a in $(est_aliases file); do
		echo "file $a $(file_pipe "$a" | sha256sum | cut -c1-64)"
	done
}
