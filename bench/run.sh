#!/bin/bash
# SPDX-License-Identifier: MIT
# Benchmarks of issue 10 (never timed tests; CI does not run them). Against the local EST
# test server (tests/est-server.py, real TLS on 127.0.0.1), over repeated runs:
#   passes   est-enroll: first enrollment EC P-256 / RSA-2048 / RSA-4096, renew, idle pass,
#            status, load; side by side strongSwan's `pki --est` and an openssl+curl shell
#            script: wall, client CPU, peak RSS, TCP connections, TLS handshakes, HTTP
#            requests, bytes each way, ratios; P-256 enrollment and renewal with the key in
#            a SoftHSM2 token and in swtpm behind tpm2-abrmd (issue 16; started under the
#            results directory, stopped by PID; left out when their packages are absent)
#   fleet    1..500 clients enrolling together; an outage and four ways back (timer with and
#            without RandomizedDelaySec, in-process retry with and without jitter);
#            draws bench/fleet.png
#   profile  callgrind: where the instructions of a pass go
# Usage: bench/run.sh [-n N] [--quick] [--no-fleet] [--no-profile] [--out DIR] [BUILD-DIR]
#   BUILD-DIR: where est-enroll was built (default: build-check, else build)
#   -n N       runs per figure (default 7; --quick: 3)
#   --quick    fewer runs, fleet sizes up to 100, shorter outage runs; the fleet picture goes
#              to the results directory instead of bench/fleet.png
# Checks the targets of issue 10 on the medians and exits 1 when one is over (see
# bench/RESULTS.md for the figures of the last run on the 2-core machine); bench/deps.list
# names the Debian packages it uses.
set -eu
cd "$(dirname "$0")/.."
n=7 quick=0 fleet=1 profile=1 out=
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=$2; shift 2 ;;
	-n*) n=${1#-n}; shift ;;
	--quick) quick=1; shift ;;
	--no-fleet) fleet=0; shift ;;
	--no-profile) profile=0; shift ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ $# -gt 0 ]; then
	B=$1
elif [ -x build-check/est-enroll ]; then
	B=build-check
else
	B=build
fi
[ -x "$B/est-enroll" ] || { echo "bench/run.sh: build first (no $B/est-enroll)" >&2; exit 1; }
[ $quick = 1 ] && [ $n = 7 ] && n=3
PY=/usr/bin/python3
"$PY" -c 'import cryptography' 2>/dev/null ||
	{ echo "bench/run.sh: needs python3-cryptography (bench/deps.list)" >&2; exit 1; }
for t in cc curl openssl keyctl; do
	command -v "$t" >/dev/null || { echo "bench/run.sh: needs $t (bench/deps.list)" >&2; exit 1; }
done
command -v pki >/dev/null || echo "bench/run.sh: no pki (strongswan-pki): its rows are left out" >&2
if [ -z "$out" ]; then
	out=$(mktemp -d /tmp/est-bench.XXXXXX)
else
	mkdir -p "$out"
fi
export BENCH_ID=$$ BENCH_MEASURE=$out/measure
cc -O2 -o "$BENCH_MEASURE" bench/measure.c
echo "bench: results in $out" >&2
{
	echo "# est-enroll bench, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
		"$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)," \
		"$(. /etc/os-release && echo "$PRETTY_NAME"); est-enroll $(git describe --always --dirty 2>/dev/null || echo '?')" \
		"built in $B ($(sed -n 's/^CFLAGS = //p' "$B/Makefile" 2>/dev/null || echo '?'))"
	echo "Clients: $(openssl version | cut -d' ' -f1-2), $(curl --version | head -n1 | cut -d' ' -f1-2)," \
		"$(command -v pki >/dev/null && pki --help 2>/dev/null | sed -n 's/ PKI tool//p' | head -n1 || echo 'no pki')"
	echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running on the machine shows in the spreads)"
	echo
} >"$out/results.md"
rc=0
"$PY" bench/bench.py passes --build "$B" --out "$out" -n "$n" || rc=$?
[ $rc -gt 1 ] && exit $rc
{ echo "## Passes"; echo; cat "$out/passes.md"; echo; } >>"$out/results.md"
if [ $fleet = 1 ]; then
	if [ $quick = 1 ]; then
		"$PY" bench/bench.py fleet --build "$B" --out "$out" --sizes 1,10,100 --spread 5 \
			--outage 2 --retry-long 20
	else
		"$PY" bench/bench.py fleet --build "$B" --out "$out"
	fi
	{ echo "## Fleet"; echo; cat "$out/fleet.md"; echo; } >>"$out/results.md"
	# the full run redraws the picture of RESULTS.md; --quick draws into the results dir
	png=bench/fleet.png
	[ $quick = 1 ] && png=$out/fleet.png
	if command -v gnuplot >/dev/null; then
		"$PY" bench/bench.py plot --out "$out" --png "$png"
	else
		echo "bench/run.sh: no gnuplot (gnuplot-nox): no bench/fleet.png" >&2
	fi
fi
if [ $profile = 1 ]; then
	if command -v valgrind >/dev/null; then
		"$PY" bench/bench.py profile --build "$B" --out "$out"
		{ echo "## Profile"; echo; cat "$out/profile.md"; echo; } >>"$out/results.md"
	else
		echo "bench/run.sh: no valgrind: no profile" >&2
	fi
fi
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/results.md"
echo "bench: all tables in $out/results.md" >&2
exit $rc
