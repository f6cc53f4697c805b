#!/bin/bash
# Installs the build and test dependencies on Debian 12 (only what is missing).
set -eu
deps="build-essential autoconf automake pkg-config libssl-dev libcurl4-openssl-dev
	libinih-dev libkeyutils-dev libseccomp-dev keyutils openssl curl python3 python3-cryptography clang-format"
# shellcheck disable=SC2086
if ! dpkg -s $deps >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $deps >/dev/null
fi
