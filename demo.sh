#!/bin/bash
# Quick start: install dependencies, build, start the bundled EST test server on loopback,
# enroll into the kernel keyring (keyring "est:demo"), print the status, stop the server.
set -eu
cd "$(dirname "$0")"
tests/deps.sh
[ -x configure ] || ./autogen.sh >/dev/null
mkdir -p build-demo
if [ ! -f build-demo/Makefile ]; then
	(cd build-demo && ../configure >/dev/null)
fi
make -C build-demo -j"$(nproc)" >/dev/null

D=$PWD/build-demo/demo
rm -rf "$D" && mkdir -p "$D"
export RUNTIME_DIRECTORY="$D/run"
/usr/bin/python3 tests/est-server.py --dir "$D/server" --port-file "$D/port" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 1 200); do [ -s "$D/port" ] && break; sleep 0.05; done
[ -s "$D/port" ] || { echo "the test server did not start" >&2; exit 1; }

cat >"$D/est-enroll.conf" <<EOC
[est]
server = localhost:$(cat "$D/port")
ca_root = $D/server/root.pem
subject = CN=gw-0042,O=Example,C=IT
keystore = demo

[keystore demo]
keyring = est:demo
path = $D/store
EOC
kr=$(keyctl search @u keyring est:demo 2>/dev/null) && keyctl clear "$kr"
echo "\$ est-enroll -c $D/est-enroll.conf run --once"
build-demo/est-enroll -c "$D/est-enroll.conf" run --once
echo
echo "\$ est-enroll -c $D/est-enroll.conf status"
build-demo/est-enroll -c "$D/est-enroll.conf" status
echo
if kr=$(keyctl search @u keyring est:demo 2>/dev/null); then
	echo "\$ keyctl show %keyring:est:demo"
	keyctl show "$kr"
	echo
	echo "\$ keyctl pipe %user:est-enrolled-key-pair | openssl x509 -noout -subject -issuer -enddate"
	keyctl pipe "$(keyctl search "$kr" user est-enrolled-key-pair)" |
		openssl x509 -noout -subject -issuer -enddate
	echo
	echo "(remove it with: keyctl unlink $kr @u)"
fi
