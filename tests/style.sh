#!/bin/bash
# SPDX-License-Identifier: MIT
# House style: every C file under src/ is as clang-format (.clang-format) would write it.
top=$(cd "$(dirname "$0")/.." && pwd)
command -v clang-format >/dev/null || { echo "1..0 # SKIP clang-format not installed"; exit 0; }
n=0
failed=0
for f in "$top"/src/*.c "$top"/src/*.h; do
	n=$((n + 1))
	if clang-format --style=file:"$top/.clang-format" "$f" | cmp -s - "$f"; then
		echo "ok $n - ${f#"$top"/} is formatted"
	else
		echo "not ok $n - ${f#"$top"/} is not formatted (run clang-format -i)"
		failed=$((failed + 1))
	fi
done
echo "1..$n"
[ $failed -eq 0 ]
