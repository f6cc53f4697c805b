#!/bin/bash
# SPDX-License-Identifier: MIT
# A full disk under the file copy: a renewal fails (exit 1) and both copies keep the old pair,
# without temporary files left behind; once there is room, passes work again. A root key update
# that runs out of space after 0, 1, 2 or 3 pages leaves a CA set that still vouches for the
# enrolled certificate, the same in both copies, for a device that missed the update.
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

# A root key update (four CA certificates replace one) with room for only PAGES more pages:
# every write pattern runs out somewhere, and wherever it does, the set left behind is the old
# or the new one. The server rolls its root over once; each case is a device that missed that
# /cacerts answer: the store as enrolled under the old root, put back in both copies (keyctl,
# not the code under test). The server's TLS chain carries NewWithOld (RFC 7030 4.1.3), so the
# old root alone still reaches it.
stop_server
rm -rf "$SRV" "$T/store"/*
keyctl clear "$(keyring_id)"
start_server
write_config
est run --once
is "rollover: enrolled under the old root first, exit 0" "$RC" 0
rm -rf "$T/pre"
cp -a "$T/store" "$T/pre"
behaviour "rollover"
curl -sS -o /dev/null --max-time 10 --cacert "$SRV/root.pem" \
	"https://127.0.0.1:$PORT/.well-known/est/cacerts" 2>"$T/err"
check "rollover: the server rolled its root over" test -s "$SRV/root-new.pem"
# put_back: the pre-rollover store in the file copy and in the keyring.
put_back() {
	local kr f a
	rm -rf "$T/store"/* "$T/store"/.[!.]*
	cp -a "$T/pre"/. "$T/store"/
	kr=$(keyring_id)
	keyctl clear "$kr"
	for f in "$T/store"/*.pem; do
		a=${f##*/}
		keyctl padd user "${a%.pem}" "$kr" <"$f" >/dev/null
	done
}
for pages in 0 1 2 3; do
	put_back
	check "rollover, $pages page(s) free: the device holds only the old root" \
		test "$(anchor_count keyring) $(anchor_count file)" = "1 1"
	asked=$(requests_to cacerts)
	dd if=/dev/zero of="$T/store/filler" bs=4k 2>/dev/null
	[ "$pages" -gt 0 ] && truncate -s "-$((pages * 4096))" "$T/store/filler"
	is "rollover, $pages page(s) free: the file system has that much room" \
		"$(stat -f -c %a "$T/store")" "$pages"
	est cacerts --once
	is "rollover, $pages page(s) free: the old root reached the rolled-over server" \
		"$(requests_to cacerts)" $((asked + 1))
	check "rollover, $pages page(s) free: the certificate verifies under the keyring's set" \
		chains keyring
	check "rollover, $pages page(s) free: the certificate verifies under the file copy's set" \
		chains file
	check "rollover, $pages page(s) free: the two copies agree" copies_agree
	check "rollover, $pages page(s) free: no temporary file is left" \
		bash -c "! ls -a '$T/store' | grep -q '\.tmp\.'"
	rm -f "$T/store/filler"
done

# With room again, the device that missed the update takes the new set.
put_back
est cacerts --once
is "rollover, room again: cacerts exits 0" "$RC" 0
is "rollover, room again: four CA certificates in each copy" \
	"$(anchor_count keyring) $(anchor_count file)" "4 4"
check "rollover, room again: the certificate verifies under the new set" chains file
check "rollover, room again: the two copies agree" copies_agree

done_testing
