#!/bin/bash
# Installs the build and test dependencies listed in tests/deps.list (only what is missing).
set -eu
mapfile -t deps < <(grep -v '^#' "$(dirname "$0")/deps.list")
if ! dpkg -s "${deps[@]}" >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${deps[@]}" >/dev/null
fi

"$(dirname "$0")/deps-backports.sh"
