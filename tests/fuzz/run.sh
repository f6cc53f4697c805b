#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs each libFuzzer harness for a bounded time (FUZZ_SECONDS, default 5) from a seed corpus;
# TAP. Skips when the build has no harnesses (configure --enable-fuzzing builds them).
set -u
: "${FUZZ_DIR:?run through make check}"
secs=${FUZZ_SECONDS:-5}
harnesses=(fuzz-pkcs7 fuzz-config fuzz-est fuzz-http-headers fuzz-csrattrs)
here=$(cd "$(dirname "$0")" && pwd)

[ -x "$FUZZ_DIR/fuzz-http-headers" ] || { echo "1..0 # SKIP not built with --enable-fuzzing"; exit 0; }
T=$(mktemp -d /tmp/est-fuzz.XXXXXX)
trap 'rm -rf "$T"' EXIT

# seed NAME DIR: a few valid inputs, so the fuzzer starts from the formats it must handle
seed() {
	local d=$2 p
	mkdir -p "$d"
	case $1 in
	fuzz-http-headers)
		printf 'multipart/mixed; boundary="a b:c"\nSun, 06 Nov 1994 08:49:37 GMT\n--a b:c\r\nContent-Type: application/pkcs8\r\n\r\nAAAA\r\n--a b:c--\r\n' >"$d/1"
		printf 'multipart/mixed; boundary=est\nSunday, 06-Nov-94 08:49:37 GMT\n--est\nContent-Type: x/y\n\nB\n\nC\n--est--\n' >"$d/2"
		printf 'application/pkcs7-mime; smime-type=certs-only\nSun Nov  6 08:49:37 1994\n' >"$d/3"
		printf 'text/plain\n120\n' >"$d/4"
		;;
	fuzz-csrattrs)
		for p in pop ext ec384 rsa unknown empty rfc7030 rfc9908 bad-attr; do
			"${PYTHON3:-python3}" "$here/../est-server.py" --print-csrattrs "$p" >"$d/$p" 2>/dev/null
		done
		;;
	fuzz-est)
		printf 'MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJ\nBgcrBgEBAQEWBggqhkjOPQQDAw==\n' >"$d/1"
		;;
	fuzz-config)
		printf '[est]\nserver = localhost:8443\nca_root = /nonexistent\nsubject = CN=x\nproxy = http://[::1]:3128\nserver_trust = cacerts\n[keystore default]\ntype = file\n' >"$d/1"
		;;
	*)
		: >"$d/empty"
		;;
	esac
}

echo "1..${#harnesses[@]}"
n=0 failed=0
for h in "${harnesses[@]}"; do
	n=$((n + 1))
	if [ ! -x "$FUZZ_DIR/$h" ]; then
		echo "ok $n - $h # SKIP not built"
		continue
	fi
	seed "$h" "$T/$h"
	if "$FUZZ_DIR/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 \
		-artifact_prefix="$T/$h-" "$T/$h" >"$T/$h.log" 2>&1; then
		echo "ok $n - $h ran ${secs}s without a finding"
	else
		echo "not ok $n - $h"
		tail -30 "$T/$h.log" | sed 's/^/# /'
		for a in "$T/$h"-*; do
			[ -e "$a" ] && echo "# artifact: $(od -An -c "$a" | head -5 | tr -s ' ')"
		done
		failed=$((failed + 1))
	fi
done
[ $failed -eq 0 ]
