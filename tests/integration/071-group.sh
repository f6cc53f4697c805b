#!/bin/bash
# SPDX-License-Identifier: MIT
# [keystore NAME] group = G under umask 077: every directory the tool makes is traversable, item
# files are 0640 with G, keys carry G's view/read/search, the serials file is 0644; a member of
# G (another uid) reads the key from the files and, by its serial, from the keyring; others not.
# A group added, changed or removed is applied by the next pass (an idle one too) or load: the
# store's directory and files, the keys, the [export] files; status shows the store's owner,
# group and mode; a store in shape is left untouched (issue 15, case 3).
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
# A store item's stable name is a symlink into the data directory: its file is what counts.
mode_of() { stat -L -c %a "$1" 2>/dev/null; }
group_of() { stat -L -c %g "$1" 2>/dev/null; }

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

# ---- Permissions follow the configuration on every pass (issue 15, case 3) ----
# A group added, changed or removed is applied by the next pass alone (idle: nothing due) or by
# `load`: the store's directory and files, the keyring's keys, the [export] files. Each change
# starts from files a commit wrote under the previous setting, as a real store would be.
G2=47114
EXP="$T/exp"
# EXP_OWNER owns the exported files while there is a group (not the readers' uid 65534).
EXP_OWNER=1
# configure GROUP: the store's group (none when empty); [export app] gives its files to the
# same group, 0640 and EXP_OWNER with it, 0600 and the defaults (root) without.
configure() {
	KEYSTORE_EXTRA=${1:+group = $1}
	write_config
	sed -i "s|^path = .*|path = $STORE|" "$T/est.conf"
	{
		echo
		echo "[export app]"
		echo "key = $EXP/key.pem"
		echo "bundle = $EXP/bundle.pem"
		if [ -n "$1" ]; then
			echo "owner = $EXP_OWNER"
			echo "group = $1"
			echo "mode = 0640"
		fi
	} >>"$T/est.conf"
}
# files_are MODE GID: every PATH/*.pem (its file in the data directory) has that mode and group,
# and is owned by root; the data directory is 0750 with the group (0640), else 0700.
files_are() {
	local f n=0 d=700
	[ "$1" = 640 ] && d=750
	[ "$(stat -L -c '%a %g %u' "$STORE/..data")" = "$d $2 0" ] || return 1
	for f in "$STORE"/*.pem; do
		[ "$(stat -L -c '%a %g %u' "$f")" = "$1 $2 0" ] || return 1
		n=$((n + 1))
	done
	[ "$n" -ge 3 ]
}
# as_gid GID CMD...: CMD as uid 65534 with GID as its only group, in a session keyring of its own.
as_gid() {
	setpriv --reuid=$OTHER --regid="$1" --clear-groups keyctl session - "${@:2}" 2>/dev/null
}
pub_of() { openssl pkey -pubout 2>/dev/null; }
# key_access: "GID;PERM" of the bundle's key and of the named keyring, one line each.
key_access() {
	keyctl rdescribe "$(key_serial est-enrolled-key-pair)" | cut -d';' -f3,4
	keyctl rdescribe "$(keyring_id)" | cut -d';' -f3,4
}
# reads_file GID FILE / reads_key GID: the key read as that group (its public half, or nothing).
reads_file() { as_gid "$1" cat "$2" | pub_of; }
reads_key() { as_gid "$1" keyctl pipe "$(key_serial est-enrolled-key-pair)" | pub_of; }
# applied VERB: runs the command that must apply the configuration (an idle run, or load).
applied() {
	if [ "$1" = run ]; then
		local n
		n=$(requests_count)
		est run --once
		is "$1: exit 0" "$RC" 0
		check "$1: nothing due (an idle pass)" grep -q "nothing due" "$T/err"
		is "$1: no request to the server" "$(requests_count)" "$n"
	else
		est load
		is "$1: exit 0" "$RC" 0
	fi
}
# committed GROUP: a renewal under GROUP, so the files are what a commit writes with it.
committed() {
	configure "$1"
	est renew --once
	is "renewed with group '${1}': exit 0" "$RC" 0
}
# name_of passwd|group ID: the name, or the number when there is none.
name_of() { getent "$1" "$2" | cut -d: -f1 | grep . || echo "$2"; }
# status_shows UID GID MODE FILEMODE: status (text and JSON) shows the store's access.
status_shows() {
	local who
	who="$(name_of passwd "$1"):$(name_of group "$2")"
	est status
	check "$verb: status shows the store's owner, group and mode" \
		grep -qE "^access: +directory 0$3 $who, files 0$4 $who \(as configured\)$" "$T/out"
	est status --json
	check "$verb: status --json shows them too" "$PYTHON3" -c '
import grp, json, pwd, sys
def name(get, i):
    try:
        return get(i)[0]
    except KeyError:
        return None
a = json.load(open(sys.argv[1]))["store_access"]
uid, gid, mode, fmode = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
want = dict(uid=uid, owner=name(pwd.getpwuid, uid), gid=gid, group=name(grp.getgrgid, gid),
            mode=mode, file_uid=uid, file_gid=gid, file_mode=fmode, as_configured=True,
            configured_gid=gid, configured_mode=mode, configured_file_mode=fmode)
sys.exit(any(a[k] != v for k, v in want.items()) or a["files"] < 3)' \
		"$T/out" "$1" "$2" "0$3" "0$4"
}

for verb in run load; do
	echo "# applied by $verb"
	committed ""
	want=$(pub_of <"$STORE/est-enrolled-key-pair.pem")

	# Added.
	configure $G
	applied $verb
	is "$verb: group added: the directory is 0750 with it" "$(stat -c '%a %g' "$STORE")" "750 $G"
	check "$verb: group added: every file is 0640 with it" files_are 640 $G
	is "$verb: group added: a member reads the key file" \
		"$(reads_file $G "$STORE/est-enrolled-key-pair.pem")" "$want"
	is "$verb: group added: a member reads the key from the keyring" "$(reads_key $G)" "$want"
	is "$verb: group added: the key and the keyring carry it, view/read/search" \
		"$(key_access | sort -u)" "$G;3f3f0b00"
	is "$verb: group added: a non-member reads neither" \
		"$(reads_file $OTHER "$STORE/est-enrolled-key-pair.pem")$(reads_key $OTHER)" ""
	is "$verb: group added: the export is 0640, uid $EXP_OWNER, the group" \
		"$(stat -c '%a %u %g' "$EXP/key.pem" "$EXP/bundle.pem" | sort -u)" "640 $EXP_OWNER $G"
	is "$verb: group added: a member reads the exported key" "$(reads_file $G "$EXP/key.pem")" "$want"
	status_shows 0 $G 750 640

	# Changed: from files a commit wrote with G.
	committed $G
	want=$(pub_of <"$STORE/est-enrolled-key-pair.pem")
	configure $G2
	applied $verb
	is "$verb: group changed: the directory is 0750 with the new one" \
		"$(stat -c '%a %g' "$STORE")" "750 $G2"
	check "$verb: group changed: every file is 0640 with the new one" files_are 640 $G2
	is "$verb: group changed: a former member reads no file" \
		"$(reads_file $G "$STORE/est-enrolled-key-pair.pem")" ""
	is "$verb: group changed: nor the key from the keyring" "$(reads_key $G)" ""
	is "$verb: group changed: the key and the keyring carry the new one" \
		"$(key_access | sort -u)" "$G2;3f3f0b00"
	is "$verb: group changed: a new member reads the key file" \
		"$(reads_file $G2 "$STORE/est-enrolled-key-pair.pem")" "$want"
	is "$verb: group changed: and the key from the keyring" "$(reads_key $G2)" "$want"
	is "$verb: group changed: the export has the new group" \
		"$(stat -c '%a %u %g' "$EXP/key.pem" "$EXP/bundle.pem" | sort -u)" "640 $EXP_OWNER $G2"
	is "$verb: group changed: a former member reads no exported key" \
		"$(reads_file $G "$EXP/key.pem")" ""
	status_shows 0 $G2 750 640

	# Removed: from files a commit wrote with G2.
	committed $G2
	want=$(pub_of <"$STORE/est-enrolled-key-pair.pem")
	configure ""
	applied $verb
	is "$verb: group removed: the directory is 0700, root's" "$(stat -c '%a %u %g' "$STORE")" "700 0 0"
	check "$verb: group removed: every file is 0600, root's" files_are 600 0
	is "$verb: group removed: a former member reads no file" \
		"$(reads_file $G2 "$STORE/est-enrolled-key-pair.pem")" ""
	is "$verb: group removed: nor the key from the keyring" "$(reads_key $G2)" ""
	is "$verb: group removed: the key and the keyring give the group nothing" \
		"$(key_access | cut -d';' -f2 | sort -u)" "3f3f0000"
	is "$verb: group removed: the export is 0600, root's" \
		"$(stat -c '%a %u %g' "$EXP/key.pem" "$EXP/bundle.pem" | sort -u)" "600 0 0"
	is "$verb: group removed: root still reads the key from the keyring" \
		"$(keyctl pipe "$(key_serial est-enrolled-key-pair)" | pub_of)" "$want"
	status_shows 0 0 700 600
done

# A store in shape: the next pass changes no owner, group or mode and syncs nothing.
configure $G
est run --once
is "group again: exit 0" "$RC" 0
check "group again: every file is 0640 with it" files_are 640 $G
if command -v strace >/dev/null; then
	# LeakSanitizer cannot run under ptrace: off for this run of a sanitized build.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -o "$T/trace" \
		-e trace=chmod,fchmod,fchmodat,chown,fchown,fchownat,lchown,fsync,fdatasync,syncfs,rename,renameat,renameat2,unlink,unlinkat \
		"$EST_ENROLL" -c "$T/est.conf" run --once >"$T/out" 2>"$T/err"
	is "in shape: exit 0" "$?" 0
	check "in shape: nothing due" grep -q "nothing due" "$T/err"
	check "in shape: no chmod, chown, sync, rename or unlink" \
		bash -c "! grep -vE '^[0-9]+ +(\\+\\+\\+|---)' '$T/trace' | grep -q ."
else
	echo "# strace not installed: the store in shape is not traced"
fi

# Someone else's hand: a file made readable to others, the directory to another group.
chmod 0644 "$STORE/est-state.pem"
chgrp $G2 "$STORE"
est run --once
is "meddled with: exit 0" "$RC" 0
is "meddled with: the directory has the group again" "$(stat -c '%a %g' "$STORE")" "750 $G"
check "meddled with: every file is 0640 with the group again" files_are 640 $G
chmod 0600 "$STORE/est-state.pem"
est status
check "status says when the store is not as configured" \
	grep -qE "^access: .*files differ.*not as configured" "$T/out"

done_testing
