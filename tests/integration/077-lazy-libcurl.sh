#!/bin/bash
# SPDX-License-Identifier: MIT
# libcurl is bound only when a pass opens a connection: with no loadable libcurl.so.4, an idle
# pass, status and load still work, and a pass that needs the server fails for good, saying why.
. "$(dirname "$0")/helpers.sh"

start_server
write_config
est run --once
is "enrolled with libcurl" "$RC" 0
mkdir -p "$T/nocurl"
echo "not a shared library" >"$T/nocurl/libcurl.so.4"
before=$(requests_count)

LD_LIBRARY_PATH="$T/nocurl" est run --once
is "no libcurl: the idle pass exits 0" "$RC" 0
check "no libcurl: the idle pass says nothing is due" grep -q "nothing due" "$T/err"
LD_LIBRARY_PATH="$T/nocurl" est status
is "no libcurl: status exits 0" "$RC" 0
LD_LIBRARY_PATH="$T/nocurl" est load
is "no libcurl: load exits 0" "$RC" 0

LD_LIBRARY_PATH="$T/nocurl" est renew --once
is "no libcurl: a renewal exits 1" "$RC" 1
check "no libcurl: the renewal names the library and the reason" \
	grep -q "error: libcurl.so.4: cannot load: .*libcurl.so.4: " "$T/err"
is "no libcurl: nothing reached the server" "$(requests_count)" "$before"
check "no libcurl: the pair is still stored" key_serial est-enrolled-key-pair

est renew --once
is "libcurl back: the renewal exits 0" "$RC" 0
stop_server
done_testing
