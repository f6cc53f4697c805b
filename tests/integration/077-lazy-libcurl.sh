#!/bin/bash
# SPDX-License-Identifier: MIT
# libssl is bound only when a pass opens a connection: with no loadable libssl.so.3, an idle
# pass, status and load still work, and a pass that needs the server fails for good, saying why.
# Only libssl.so.3 is in the directory: libcrypto, linked, still loads from the system path.
. "$(dirname "$0")/helpers.sh"

start_server
write_config
est run --once
is "enrolled with libssl" "$RC" 0
mkdir -p "$T/nossl"
echo "not a shared library" >"$T/nossl/libssl.so.3"
before=$(requests_count)

LD_LIBRARY_PATH="$T/nossl" est run --once
is "no libssl: the idle pass exits 0" "$RC" 0
check "no libssl: the idle pass says nothing is due" grep -q "nothing due" "$T/err"
LD_LIBRARY_PATH="$T/nossl" est status
is "no libssl: status exits 0" "$RC" 0
LD_LIBRARY_PATH="$T/nossl" est load
is "no libssl: load exits 0" "$RC" 0

LD_LIBRARY_PATH="$T/nossl" est renew --once
is "no libssl: a renewal exits 1" "$RC" 1
check "no libssl: the renewal names the library and the reason" \
	grep -q "error: libssl.so.3: cannot load: .*libssl.so.3: " "$T/err"
is "no libssl: nothing reached the server" "$(requests_count)" "$before"
check "no libssl: the pair is still stored" key_serial est-enrolled-key-pair

est renew --once
is "libssl back: the renewal exits 0" "$RC" 0
stop_server
done_testing
