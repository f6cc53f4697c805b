#!/bin/bash
# SPDX-License-Identifier: MIT
# Keyring quota: a user whose key quota is almost full enrolls into the file copy (fallback) and
# the keyring never holds half an identity; once there is room, load fills the keyring. With
# fallback = false nothing is issued and nothing stored. Runs the binary as nobody (setpriv),
# since root's quota is too large to fill.
. "$(dirname "$0")/helpers.sh"

command -v setpriv >/dev/null || skip_all "setpriv not installed"
NOBODY=65534
FILLERS=

# Fillers first (they are nobody's, in nobody's @u), then the shared cleanup.
unfill() {
	local id
	for id in $FILLERS; do
		kctl unlink "$id" @u >/dev/null 2>&1
	done
	FILLERS=
}
trap 'unfill; cleanup' EXIT

start_server

# Everything the binary reads or writes must be reachable by nobody: a 0755 test directory,
# its own store and runtime directories, a world-readable config and ca_root.
chmod 0755 "$T"
install -m 0644 "$SRV/root.pem" "$T/root.pem"
mkdir -m 0700 "$T/store" "$RUNTIME_DIRECTORY"
chown "$NOBODY:$NOBODY" "$T/store" "$RUNTIME_DIRECTORY"
config() {
	write_config "ca_root = $T/root.pem"
	chmod 0644 "$T/est.conf"
}
config
AS_UID=$NOBODY

# quota_used: bytes of nobody's key quota in use, from /proc/key-users (0 without an entry).
quota_used() {
	awk -v u="$NOBODY:" '$1 == u { split($5, q, "/"); print q[1]; found = 1 }
		END { if (!found) print 0 }' /proc/key-users
}

# quota_keys: how many keys nobody owns.
quota_keys() {
	awk -v u="$NOBODY:" '$1 == u { split($3, n, "/"); print n[1]; found = 1 }
		END { if (!found) print 0 }' /proc/key-users
}

# quota_settled: nobody owns only its user and user-session keyrings (earlier runs' keys,
# unlinked, are freed by the key GC some time later).
quota_settled() {
	[ "$(quota_keys)" -le 2 ]
}

# quota_back: the quota is used no more than at the start, the key GC is done with what we
# unlinked (a keyring first, its keys in a later round).
quota_back() {
	[ "$(quota_used)" -le "$base" ]
}

# fillers_freed: the key GC has given the fillers' bytes back (the store's keyring stays).
fillers_freed() {
	[ "$(quota_free)" -gt 5000 ]
}

# quota_free: bytes left of nobody's key quota.
quota_free() {
	echo $(($(cat /proc/sys/kernel/keys/maxbytes) - $(quota_used)))
}

# fill_quota LEAVE: filler user keys in nobody's @u until LEAVE to LEAVE+64 bytes are free.
# A user key holds at most 32767 bytes, so a large quota takes several fillers.
fill_quota() {
	local free size id i=0
	while :; do
		free=$(quota_free)
		[ "$free" -le $(($1 + 64)) ] && return 0
		size=$((free - $1 - 32))
		[ "$size" -gt 32767 ] && size=32767
		id=$(head -c "$size" /dev/zero | tr '\0' x | kctl padd user "est-it-filler$i" @u) ||
			return 1
		FILLERS="$FILLERS $id"
		i=$((i + 1))
	done
}

no_keyring_pair() {
	! copy_has keyring est-enrolled-key-pair
}

# no_half_identity: the keyring holds the same as the copy, or none of the identity (anchors and
# pair); an est-state it holds is at least the copy's.
no_half_identity() {
	copies_agree && return 0
	est_aliases keyring | grep -q '^est-enrolled-key-pair$\|^est-cacerts_' && return 1
	! copy_has keyring est-state || both_same est-state
}

kctl show @u >/dev/null 2>&1 # nobody's user keyrings exist from here on
wait_until 10 quota_settled || echo "# nobody owns other keys: filling around them"
base=$(quota_used)

# Room for the named keyring itself (a description, no payload), not for a CA certificate
# (~600 bytes of PEM) or a key pair bundle (~1 KiB).
fill_quota 300 || { echo "Bail out! could not fill the key quota"; exit 1; }
check "the key quota is almost full" test "$(quota_free)" -le 364

est run --once
is "quota almost full: run exits 0 (fallback)" "$RC" 0
check "quota almost full: it warns about the keyring" grep -qi "keyring" "$T/err"
check "quota almost full: the file copy holds a key and its certificate" pair_fits file
check "quota almost full: the file copy's certificate chains to its anchors" chains file
check "quota almost full: the keyring holds no est-enrolled-key-pair" no_keyring_pair
check "quota almost full: the keyring does not disagree with the file copy" no_half_identity
est status
is "quota almost full: status exits 0" "$RC" 0
check "quota almost full: status shows the certificate of the file copy" grep -q "CN=gw-0042" \
	"$T/out"
cp "$T/out" "$T/status.txt"
est status --json
check "quota almost full: status reports the file store (fallback)" bash -c \
	"grep -q '\"backend\": \"file\"' '$T/out' || grep -qi 'fallback' '$T/status.txt'"
est run --once
is "quota almost full: a second run exits 0" "$RC" 0
is "quota almost full: one /simpleenroll in all (the second run sent none)" \
	"$(requests_to simpleenroll)" 1

# Room again: load brings the copy into the keyring.
unfill
wait_until 10 fillers_freed || echo "# the key GC did not free the fillers"
est load
is "room again: load exits 0" "$RC" 0
check "room again: the keyring holds the file copy's bundle" both_same est-enrolled-key-pair
check "room again: the two copies agree" copies_agree

# A renewal the keyring refuses (quota) while it holds the whole old identity: the commit goes
# on in the files, and the tool's keys leave the keyring in one step (issue 15, case 6): a
# same-named keyring without them, or the named keyring taken out whole; never key by key, so
# a kill in between cannot leave half an identity. Seen with strace: no KEYCTL_UNLINK of a key
# from the named keyring.
unfill
wait_until 10 fillers_freed || echo "# the key GC did not free the fillers"
fill_quota 300 || { echo "Bail out! could not fill the key quota"; exit 1; }
named=$(keyring_id) # not kr: the helpers set that one
# LeakSanitizer cannot run under ptrace: off for this run of a sanitized build.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -e trace=keyctl -o "$T/keyctl.trace" setpriv --reuid="$NOBODY" --regid="$NOBODY" \
	--clear-groups "$EST_ENROLL" -c "$T/est.conf" renew --once >"$T/out" 2>"$T/err"
RC=$?
is "renewal refused by the keyring: exit 0 (fallback)" "$RC" 0
check "the file copy holds the renewed pair" pair_fits file
check "the keyring holds the new identity whole, or none of it" no_half_identity
check "no key was unlinked from the named keyring one by one" bash -c \
	"! grep -E 'KEYCTL_UNLINK, [0-9]+, $named\\)' '$T/keyctl.trace'"
check "the keys went in one step (a keyring switched in, or the named one unlinked)" \
	grep -qE "KEYCTL_(LINK, [0-9]+, KEY_SPEC_USER_KEYRING|UNLINK, $named, KEY_SPEC_USER_KEYRING)" \
	"$T/keyctl.trace"

# fallback = false, a fresh store (no keyring, empty directory), the quota almost full again:
# refused before anything is requested, nothing stored in either copy.
kctl unlink "$(keyring_id)" @u >/dev/null
rm -rf "$T/store" && mkdir -m 0700 "$T/store"
wait_until 10 quota_back || echo "# the key GC did not free the keyring"
fill_quota 300 || { echo "Bail out! could not fill the key quota"; exit 1; }
check "the key quota is almost full again" test "$(quota_free)" -le 364
KEYSTORE_EXTRA="fallback = false" config
e=$(requests_to simpleenroll)
est run --once
is "fallback = false, quota almost full: run exits 1" "$RC" 1
check "fallback = false: no est-enrolled-key-pair in the keyring" no_keyring_pair
check "fallback = false: no est-enrolled-key-pair in the file copy" \
	test ! -e "$T/store/est-enrolled-key-pair.pem"
is "fallback = false: no certificate was issued" "$(requests_to simpleenroll)" "$e"

done_testing
