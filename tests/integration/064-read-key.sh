#!/bin/bash
# SPDX-License-Identifier: MIT
# The consumer's example of est-enroll-keyring(7), tests/helpers/read-key.c: after a real
# enrollment it reads the pair by name and through the serials file, exactly what keyctl
# reads; a member of the keystore's group reads it through the serials file, others cannot.
. "$(dirname "$0")/helpers.sh"

: "${READ_KEY:?run through make check}"
test -x "$READ_KEY" || { echo "Bail out! $READ_KEY not built"; exit 1; }

start_server
write_config
est run --once
is "enrolled: exit 0" "$RC" 0
SERIALS="$RUNTIME_DIRECTORY/it.keys"

"$READ_KEY" "$KEYRING" est-enrolled-key-pair >"$T/by-name" 2>"$T/err"
is "read-key KEYRING ALIAS exits 0" "$?" 0
check "and prints what keyctl reads" cmp -s "$T/by-name" <(key_pipe est-enrolled-key-pair)
check "a certificate" openssl x509 -noout -in "$T/by-name"
check "and a private key" openssl pkey -noout -in "$T/by-name"

"$READ_KEY" -s "$SERIALS" est-enrolled-key-pair >"$T/by-serial" 2>"$T/err"
is "read-key -s SERIALS ALIAS exits 0" "$?" 0
check "and prints the same" cmp -s "$T/by-serial" "$T/by-name"
"$READ_KEY" -s "$SERIALS" est-cacerts_0 >"$T/ca" 2>"$T/err"
is "the CA certificate through the serials file" "$?" 0
check "is the stored anchor" cmp -s "$T/ca" <(key_pipe est-cacerts_0)

"$READ_KEY" "$KEYRING" no-such-alias >"$T/out" 2>"$T/err"
is "an absent alias: exit 1" "$?" 1
check "with a reason" grep -q "no-such-alias" "$T/err"
"$READ_KEY" -s "$T/missing.keys" est-enrolled-key-pair >"$T/out" 2>"$T/err"
is "a missing serials file: exit 1" "$?" 1
"$READ_KEY" >"$T/out" 2>"$T/err"
is "no arguments: usage, exit 2" "$?" 2

# After a change the serials change: a consumer that kept the old one must look again.
old=$(key_serial est-enrolled-key-pair)
est enroll --once
is "a forced enrollment: exit 0" "$RC" 0
new=$(awk '$1 == "est-enrolled-key-pair" { print $2 }' "$SERIALS")
check "the serials file names the new pair's serial" test "$new" = "$(key_serial est-enrolled-key-pair)"
check "which differs from the old one" test "$new" != "$old"
"$READ_KEY" -s "$SERIALS" est-enrolled-key-pair >"$T/by-serial" 2>"$T/err"
check "read-key -s reads the new pair" cmp -s "$T/by-serial" <(key_pipe est-enrolled-key-pair)

# A member of the keystore's group (uid nobody) reads through the serials file; a non-member
# cannot. The group is a numeric gid no group on this host has, so the host's files stay as
# they are; the test's directories must be traversable for that uid.
GID=61000
while getent group "$GID" >/dev/null; do GID=$((GID + 1)); done
KEYSTORE_EXTRA="group = $GID"
write_config
est enroll --once
is "a forced enrollment with group = $GID: exit 0" "$RC" 0
chmod 0755 "$T" "$RUNTIME_DIRECTORY"
member() { setpriv --reuid=65534 --regid=65534 --groups="$GID" "$@"; }
outsider() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
member "$READ_KEY" -s "$SERIALS" est-enrolled-key-pair >"$T/member" 2>"$T/err"
is "a group member reads the pair through the serials file" "$?" 0
check "the same pair root reads" cmp -s "$T/member" <(key_pipe est-enrolled-key-pair)
member bash -c 'keyctl pipe "$(awk '\''$1 == "est-enrolled-key-pair" { print $2 }'\'' "$1")"' \
	_ "$SERIALS" >"$T/member-keyctl" 2>"$T/err"
is "the keyctl recipe of est-enroll-keyring(7) works for a member" "$?" 0
check "and reads the pair" cmp -s "$T/member-keyctl" "$T/member"
outsider "$READ_KEY" -s "$SERIALS" est-enrolled-key-pair >"$T/outsider" 2>"$T/err"
is "a non-member cannot read the pair (exit 1)" "$?" 1
check "and got nothing" test ! -s "$T/outsider"

done_testing
