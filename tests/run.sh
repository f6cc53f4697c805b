#!/bin/bash
# The whole test suite: install dependencies, build in build-NAME with -Werror, make check.
# Usage: tests/run.sh [NAME [CONFIGURE-ARGS...]]   (default NAME: check)
# Prints "N passed, N failed" (TAP assertions of all tests) as its last line.
set -u
cd "$(dirname "$0")/.."
name=${1:-check}
[ $# -gt 0 ] && shift
dir="build-$name"

tests/deps.sh || { echo "installing dependencies failed"; echo "0 passed, 1 failed"; exit 1; }
[ -x configure ] || ./autogen.sh >/dev/null 2>&1 ||
	{ echo "autogen.sh failed"; echo "0 passed, 1 failed"; exit 1; }
rm -rf "$dir" && mkdir "$dir"
if ! (cd "$dir" && ../configure --enable-werror "$@" >configure.log 2>&1); then
	tail -30 "$dir/configure.log"; echo "0 passed, 1 failed"; exit 1
fi
if ! make -C "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1; then
	tail -40 "$dir/build.log"; echo "0 passed, 1 failed"; exit 1
fi
make -C "$dir" -j"$(nproc)" check
rc=$?
if [ $rc -ne 0 ]; then
	for f in "$dir"/tests/*/*.log; do
		if grep -q '^not ok\|^Bail out\|ERROR' "$f" 2>/dev/null; then
			echo "--- $f"
			grep -v '^ok' "$f" | head -40
		fi
	done
fi
passed=$(cat "$dir"/tests/*/*.trs 2>/dev/null | grep -c '^:test-result: PASS')
failed=$(cat "$dir"/tests/*/*.trs 2>/dev/null | grep -c '^:test-result: \(FAIL\|XPASS\|ERROR\)')
[ $rc -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed"
[ $rc -eq 0 ]
