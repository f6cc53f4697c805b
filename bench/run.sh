#!/bin/bash
# Benchmarks (never timed tests): wall time, peak memory and instruction counts of one
# bootstrap+enrollment pass and of a "nothing due" pass, against the local EST test server.
# Usage: bench/run.sh [BUILD-DIR]   (default build-check; run tests/run.sh first)
# Targets: a nothing-due pass < 20 ms and < 12 MiB peak RSS; a full enrollment (EC P-256,
# loopback) < 300 ms and < 16 MiB. Measured 2026-11-26 on the 2-core CI machine: 11 ms /
# 10.4 MiB, 114 ms / 11.8 MiB; 27.0 M instructions for a nothing-due pass (callgrind).
set -eu
cd "$(dirname "$0")/.."
B=${1:-build-check}
EST=$B/est-enroll
[ -x "$EST" ] || { echo "build first: tests/run.sh" >&2; exit 1; }
D=$(mktemp -d /tmp/est-bench.XXXXXX)
KR="est:bench-$$"
export RUNTIME_DIRECTORY=$D/run
cleanup() {
	kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
	kr=$(keyctl search @u keyring "$KR" 2>/dev/null) && keyctl unlink "$kr" @u >/dev/null
	rm -rf "$D"
}
/usr/bin/python3 tests/est-server.py --dir "$D/srv" --port-file "$D/port" &
srv=$!
trap cleanup EXIT
for _ in $(seq 1 200); do [ -s "$D/port" ] && break; sleep 0.05; done
cat >"$D/conf" <<EOC
[est]
server = localhost:$(cat "$D/port")
ca_root = $D/srv/root.pem
subject = CN=bench
keystore = b
[keystore b]
keyring = $KR
path = $D/store
EOC
over=0
measure() { # NAME MAX-MS MAX-KIB ARGS...
	local name=$1 max_ms=$2 max_kb=$3
	shift 3
	/usr/bin/python3 - "$name" "$max_ms" "$max_kb" "$EST" -q -c "$D/conf" "$@" <<'EOPY' || over=1
import resource, subprocess, sys, time
name, max_ms, max_kb = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
t = time.monotonic()
subprocess.run(sys.argv[4:], stdout=subprocess.DEVNULL, check=False)
ms = (time.monotonic() - t) * 1000
kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
within = ms <= max_ms and kb <= max_kb
print("%-24s %8.1f ms %8d KiB peak RSS  (target %g ms, %d KiB) %s"
      % (name, ms, kb, max_ms, max_kb, "ok" if within else "OVER"))
sys.exit(0 if within else 1)
EOPY
}
measure "enroll (bootstrap+CSR)" 300 16384 run --once
measure "run, nothing due" 20 12288 run --once
measure "forced enroll" 300 16384 enroll --once
measure "status" 20 12288 status
if command -v valgrind >/dev/null; then
	valgrind --tool=callgrind --callgrind-out-file="$D/cg" "$EST" -q -c "$D/conf" run --once \
		2>"$D/vg" >/dev/null
	printf '%-22s %s instructions\n' "run, nothing due" \
		"$(grep -o 'Collected : [0-9]*' "$D/vg" | grep -o '[0-9]*')"
fi
exit $over
