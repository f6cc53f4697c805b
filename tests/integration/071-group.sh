#!/bin/bash
# SPDX-License-Identifier: MIT
# [keystore NAME] group = G under umask 077: every directory the tool makes is traversable, item
# files are 0640 with G, keys carry G's view/read/search, the serials file is 0644; a member of
# G (another uid) reads the key from the files and, by its serial, from the keyring; others not.
. "$(dirname "$0")/helpers.sh"

command -v setpriv >/dev/null || skip_all "setpriv not installed"

umask 077
# A gid nobody has: numeric groups are accepted as they are.
G=47113
OTHER=65534
# The test directory is 0700 (mktemp): open it, so only what the tool makes decides.
chmod 0755 "$T"

# as_member / as_other CMD...: CMD as uid 65534, in or out of G, in a session keyring of its own
# (root's session keyring links root's user keyring: sharing it would make the keys possessed).
as_member() {
	setpriv --reuid=$OTHER --regid=$OTHER --groups=$G keyctl session - "$@" 2>/dev/null
}
as_other() {
	setpriv --reuid=$OTHER --regid=$OTHER --clear-groups keyctl session - "$@" 2>/dev/null
}
mode_of() { stat -c %a "$1" 2>/dev/null; }
group_of() { stat -c %g "$1" 2>/dev/null; }

start_server
STORE="$T/pub/a/b/store"
export RUNTIME_DIRECTORY="$T/rt/est-enroll"
KEYSTORE_EXTRA="group = $G"
write_config
sed -i "s|^path = .*|path = $STORE|" "$T/est.conf"
est run --once
is "enrolled with group = $G: exit 0" "$RC" 0

is "store parents created 0755 (umask 077)" \
	"$(mode_of "$T/pub") $(mode_of "$T/pub/a") $(mode_of "$T/pub/a/b")" "755 755 755"
is "the store directory is 0750" "$(mode_of "$STORE")" 750
is "the store directory belongs to the group" "$(group_of "$STORE")" $G
bad=0
for f in "$STORE"/*.pem; do
	[ "$(mode_of "$f") $(group_of "$f")" = "640 $G" ] || bad=1
done
is "every item file is 0640 with the group" $bad 0
is "the runtime directory and its parent are 0755" \
	"$(mode_of "$T/rt") $(mode_of "$RUNTIME_DIRECTORY")" "755 755"
is "the serials file is 0644" "$(mode_of "$RUNTIME_DIRECTORY/it.keys")" 644

serial=$(awk '$1 == "est-enrolled-key-pair" { print $2 }' "$RUNTIME_DIRECTORY/it.keys")
check "the serials file names the bundle" test -n "$serial"
is "the serial is the bundle's" "$serial" "$(key_serial est-enrolled-key-pair)"
# user;UID;GID;PERM;DESC, PERM: possessor and owner all, group view/read/search, others none.
is "the key carries the group and its view/read/search" \
	"$(keyctl rdescribe "$serial" | cut -d';' -f3,4)" "$G;3f3f0b00"
is "so does the named keyring" \
	"$(keyctl rdescribe "$(keyring_id)" | cut -d';' -f3,4)" "$G;3f3f0b00"

want=$(cat "$STORE/est-enrolled-key-pair.pem" | openssl pkey -pubout 2>/dev/null)
check "the file copy holds a key" test -n "$want"
is "a member reads the key from the file store" \
	"$(as_member cat "$STORE/est-enrolled-key-pair.pem" | openssl pkey -pubout 2>/dev/null)" "$want"
is "a member finds the serial and reads the key from the keyring" \
	"$(as_member sh -c "keyctl pipe \$(awk '\$1 == \"est-enrolled-key-pair\" { print \$2 }' \
		'$RUNTIME_DIRECTORY/it.keys')" | openssl pkey -pubout 2>/dev/null)" "$want"
check "a member reads the CA certificates from the keyring too" \
	as_member keyctl pipe "$(key_serial est-cacerts_0)"
check "a non-member reads the serials file (not secret)" as_other cat "$RUNTIME_DIRECTORY/it.keys"
check "a non-member cannot read the key file" bash -c \
	"! setpriv --reuid=$OTHER --regid=$OTHER --clear-groups cat '$STORE/est-enrolled-key-pair.pem' 2>/dev/null"
check "a non-member cannot read the key from the keyring" bash -c \
	"! setpriv --reuid=$OTHER --regid=$OTHER --clear-groups keyctl session - keyctl pipe $serial >/dev/null 2>&1"

# The same after a renewal: new files and new keys get the same access.
est renew --once
is "renewed: exit 0" "$RC" 0
serial2=$(awk '$1 == "est-enrolled-key-pair" { print $2 }' "$RUNTIME_DIRECTORY/it.keys")
check "the renewed bundle has a new serial" test "$serial2" != "$serial"
is "after the renewal a member still reads the key from the keyring" \
	"$(as_member keyctl pipe "$serial2" | openssl pkey -pubout 2>/dev/null)" \
	"$(cat "$STORE/est-enrolled-key-pair.pem" | openssl pkey -pubout 2>/dev/null)"
is "after the renewal the bundle file is 0640 with the group" \
	"$(mode_of "$STORE/est-enrolled-key-pair.pem") $(group_of "$STORE/est-enrolled-key-pair.pem")" \
	"640 $G"

# Without group nothing is opened up beyond the parents.
rm -rf "$T/pub" "$T/rt"
keyctl clear "$(keyring_id)"
KEYSTORE_EXTRA=""
write_config
sed -i "s|^path = .*|path = $STORE|" "$T/est.conf"
est run --once
is "without group: exit 0" "$RC" 0
is "without group the store directory is 0700" "$(mode_of "$STORE")" 700
is "without group the parents are still 0755" "$(mode_of "$T/pub/a/b")" 755
is "without group the bundle file is 0600" "$(mode_of "$STORE/est-enrolled-key-pair.pem")" 600
check "without group a member of $G cannot read the key from the keyring" bash -c \
	"! setpriv --reuid=$OTHER --regid=$OTHER --groups=$G keyctl session - keyctl pipe $(key_serial est-enrolled-key-pair) >/dev/null 2>&1"

done_testing
