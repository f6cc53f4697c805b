#!/bin/bash
# SPDX-License-Identifier: MIT
# pkcs11-provider (1.0) is only in bookworm-backports: that suite alone, through a one-line list
# of its own naming the mirror the machine's bookworm source already uses, without changing the
# machine's sources. Nothing when it is installed. Used by tests/deps.sh and .ci/run.
set -eu
dpkg -s pkcs11-provider >/dev/null 2>&1 && exit 0
# The URIs of the deb822 stanza whose Suites has bookworm, else a one-line bookworm source.
uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v RS= '{
	u = ""; s = 0; n = split($0, l, "\n")
	for (i = 1; i <= n; i++) {
		if (l[i] ~ /^URIs:/) { split(l[i], f, /[ \t]+/); u = f[2] }
		if (l[i] ~ /^Suites:/ && (l[i] " ") ~ /[ \t]bookworm[ \t]/) s = 1
	}
	if (s && u != "") { print u; exit }
}')
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
	/etc/apt/sources.list 2>/dev/null || true)
if [ -z "$uri" ]; then
	echo "deps-backports.sh: no bookworm source found: pkcs11-provider not installed" >&2
	exit 1
fi
list=$(mktemp)
trap 'rm -f "$list"' EXIT
echo "deb $uri bookworm-backports main" >"$list"
apt-get update -qq -o Dir::Etc::sourcelist="$list" -o Dir::Etc::sourceparts=- \
	-o APT::Get::List-Cleanup=0
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports \
	-o Dir::Etc::sourcelist="$list" -o Dir::Etc::sourceparts=- pkcs11-provider >/dev/null
