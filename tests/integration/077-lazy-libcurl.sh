#!/bin/bash
# SPDX-License-Identifier: MIT
# libcurl is bound only when a pass needs the server: an idle pass, status, load, export and
# import never map it (nor the libssl it brings); an enrollment does. With no loadable
# libcurl.so.4 those still work, and a pass that needs the server fails for good, saying why.
. "$(dirname "$0")/helpers.sh"

# maps_of WHAT: the shared objects the command maps, from ld.so's own account (LD_DEBUG=files).
maps_of() {
	LD_DEBUG=files LD_DEBUG_OUTPUT="$T/ld" est "$@"
	cat "$T"/ld.* 2>/dev/null | grep -o 'file=[^ ]*' | sort -u
	rm -f "$T"/ld.*
}

start_server
write_config
maps_of run --once >"$T/maps"
is "an enrollment exits 0" "$RC" 0
check "an enrollment maps libcurl" grep -q "file=libcurl.so.4" "$T/maps"
check "and libssl" grep -q "file=libssl.so.3" "$T/maps"

maps_of run --once >"$T/maps"
is "an idle pass exits 0" "$RC" 0
check "an idle pass says nothing is due" grep -q "nothing due" "$T/err"
check "an idle pass maps neither libcurl nor libssl" bash -c "! grep -q 'file=libcurl\|file=libssl' '$T/maps'"
maps_of status >"$T/maps"
is "status exits 0" "$RC" 0
check "status maps no libcurl" bash -c "! grep -q 'file=libcurl' '$T/maps'"
maps_of load >"$T/maps"
is "load exits 0" "$RC" 0
check "load maps no libcurl" bash -c "! grep -q 'file=libcurl' '$T/maps'"
maps_of export est-enrolled-key-pair --out "$T/pair.pem" >"$T/maps"
is "export exits 0" "$RC" 0
check "export maps no libcurl" bash -c "! grep -q 'file=libcurl' '$T/maps'"
maps_of import client-auth-certs "$T/pair.pem" >"$T/maps"
is "import exits 0" "$RC" 0
check "import maps no libcurl" bash -c "! grep -q 'file=libcurl' '$T/maps'"

check "the binary names libcurl.so.4 in its .note.dlopen" \
	bash -c "readelf -p .note.dlopen '$EST_ENROLL' 2>/dev/null | grep -q 'libcurl.so.4' ||
		objcopy -O binary --only-section=.note.dlopen '$EST_ENROLL' /dev/stdout | grep -aq 'libcurl.so.4'"

mkdir -p "$T/nocurl"
echo "not a shared library" >"$T/nocurl/libcurl.so.4"
before=$(requests_count)
bundle=$(file_pipe est-enrolled-key-pair | sha256sum)
serial=$(key_serial est-enrolled-key-pair)

LD_LIBRARY_PATH="$T/nocurl" est run --once
is "no libcurl: the idle pass exits 0" "$RC" 0
LD_LIBRARY_PATH="$T/nocurl" est status
is "no libcurl: status exits 0" "$RC" 0
LD_LIBRARY_PATH="$T/nocurl" est load
is "no libcurl: load exits 0" "$RC" 0

LD_LIBRARY_PATH="$T/nocurl" est renew --once
is "no libcurl: a renewal exits 1" "$RC" 1
check "no libcurl: one line names the library and the reason" \
	grep -q "error: libcurl.so.4: cannot load: .*libcurl.so.4: " "$T/err"
is "no libcurl: nothing reached the server" "$(requests_count)" "$before"
is "no libcurl: the file copy is unchanged" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$bundle"
is "no libcurl: the keyring copy is unchanged" "$(key_serial est-enrolled-key-pair)" "$serial"

est renew --once
is "libcurl back: the renewal exits 0" "$RC" 0
stop_server
done_testing
