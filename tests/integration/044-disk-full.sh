#!/bin/bash
# SPDX-License-Identifier: MIT
# A full disk under the file copy: a renewal fails (exit 1) and both copies keep the old pair,
# without temporary files left behind; once there is room, passes work again. A root key update
# that runs out of space after 0, 1, 2 or 3 pages leaves a CA set that still vouches for the
# enrolled certificate, the same in both copies.
. "$(dirname "$0")/helpers.sh"

# The store on a tiny tmpfs of its own, so it can be filled without touching anything else.
mkdir -m 0700 "$T/store"
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$T/store" 2>/dev/null ||
	skip_all "cannot mount a tmpfs (no privilege or no tmpfs)"
trap 'umount "$T/store" 2>/dev/null; cleanup' EXIT

start_server
write_config
est run --once
is "enrolled on the small file system: exit 0" "$RC" 0
cp "$T/store/est-enrolled-key-pair.pem" "$T/old-bundle.pem"
check "before filling the disk the two copies agree" copies_agree

# Fill it: dd stops at ENOSPC.
dd if=/dev/zero of="$T/store/filler" bs=4k 2>/dev/null
is "the store's file system is full" "$(stat -f -c %a "$T/store")" 0

est renew --once
is "disk full: renew exits 1" "$RC" 1
check "disk full: the keyring still holds the old pair" \
	cmp -s <(key_pipe est-enrolled-key-pair) "$T/old-bundle.pem"
check "disk full: the file copy still holds the old pair" \
	cmp -s "$T/store/est-enrolled-key-pair.pem" "$T/old-bundle.pem"
check "disk full: no temporary file is left" bash -c "! ls -a '$T/store' | grep -q '\.tmp\.'"
check "disk full: the two copies agree" copies_agree

rm -f "$T/store/filler"
est run --once
is "room again: run exits 0" "$RC" 0
est renew --once
is "room again: renew exits 0" "$RC" 0
check "room again: a new pair" test "$(leaf_fp file)" != \
	"$(openssl x509 -in "$T/old-bundle.pem" -noout -fingerprint -sha256)"
check "room again: the two copies agree" copies_agree

# A root key update (three CA certificates replace one) with room for only PAGES more pages:
# every write pattern runs out somewhere, and wherever it does, the set left behind is the old
# or the new one. Each case starts from a fresh server and store: once the test server has
# rolled over, its TLS certificate no longer verifies under the old root alone, so a client that
# rightly kept the old set cannot carry on with that server.
for pages in 0 1 2 3; do
	stop_server
	rm -rf "$SRV" "$T/store"/*
	keyctl clear "$(keyring_id)"
	start_server
	write_config
	est run --once
	is "rollover, $pages page(s) free: enrolled first, exit 0" "$RC" 0
	dd if=/dev/zero of="$T/store/filler" bs=4k 2>/dev/null
	[ "$pages" -gt 0 ] && truncate -s "-$((pages * 4096))" "$T/store/filler"
	is "rollover, $pages page(s) free: the file system has that much room" \
		"$(stat -f -c %a "$T/store")" "$pages"
	behaviour "rollover"
	est cacerts --once
	check "rollover, $pages page(s) free: the certificate verifies under the keyring's set" \
		chains keyring
	check "rollover, $pages page(s) free: the certificate verifies under the file copy's set" \
		chains file
	check "rollover, $pages page(s) free: the two copies agree" copies_agree
	check "rollover, $pages page(s) free: no temporary file is left" \
		bash -c "! ls -a '$T/store' | grep -q '\.tmp\.'"
done

done_testing
