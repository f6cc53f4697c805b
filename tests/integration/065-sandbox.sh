#!/bin/bash
# SPDX-License-Identifier: MIT
# A real pass under the restrictions est-enroll.service sets, rebuilt without systemd: no
# capabilities, no new privileges, the file system read-only but for the store and the
# runtime directory (ProtectSystem=strict), /proc with processes only (ProcSubset=pid), a
# session keyring of its own, membership of the keystore's group (SupplementaryGroups=). The
# pass enrolls, gives files and keys to the group, and uses only the system calls and socket
# families the installed unit allows.
. "$(dirname "$0")/helpers.sh"
. "$TESTS_SRCDIR/helpers/installed.sh"

command -v systemd-analyze >/dev/null || skip_all "systemd-analyze not installed"
unshare -m true 2>/dev/null || skip_all "no mount namespaces (unshare -m)"

install_destdir
UNIT="$UNITS/est-enroll.service"
GID=61000
while getent group "$GID" >/dev/null; do GID=$((GID + 1)); done

start_server
KEYSTORE_EXTRA="group = $GID"
write_config
mkdir -p "$RUNTIME_DIRECTORY"

# sandboxed CMD...: CMD in a mount namespace where / is read-only and $T writable, a /proc
# of processes only, then without capabilities, in the group, in a new session keyring with
# root's user keyring linked in (KeyringMode=shared; "private" would leave that out), with
# the units' UMask=0077.
# NO_NETWORK=1: in a network namespace of its own too (PrivateNetwork=yes).
sandboxed() {
	unshare -m ${NO_NETWORK:+-n} sh -c '
		mount --make-rprivate / &&
		mount --bind "$1" "$1" &&
		mount -o remount,bind,ro / &&
		mount -t proc -o subset=pid,hidepid=invisible proc /proc || exit 99
		gid=$2
		shift 2
		umask 0077
		exec setpriv --bounding-set=-all --inh-caps=-all --groups="$gid" --no-new-privs \
			sh -c "keyctl new_session >/dev/null && keyctl link @u @s >/dev/null &&
				exec \"\$@\"" _ "$@"
		' _ "$T" "$GID" "$@"
}
# The sandbox itself holds: nothing outside $T is writable, no capability is left.
sandboxed sh -c "touch /var/est-it-probe-$$" >"$T/probe" 2>&1
rm -f "/var/est-it-probe-$$"
check "the sandbox refuses writes outside the test directory" grep -q "Read-only file system" "$T/probe"
check "and allows them inside" sandboxed sh -c "touch '$T/probe-inside'"
is "the sandbox leaves no capability" \
	"$(sandboxed sh -c 'grep ^CapBnd /proc/self/status' | awk '{print $2}')" 0000000000000000

if command -v strace >/dev/null; then
	# LeakSanitizer cannot run under ptrace: the --enable-asan build checks leaks elsewhere.
	TRACE=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
		strace -f -qq -o "$T/trace")
else
	TRACE=()
	echo "# strace not installed: the system calls are not checked"
fi
sandboxed "${TRACE[@]}" "$EST_ENROLL" -c "$T/est.conf" run --once >"$T/out" 2>"$T/err"
is "a pass in the sandbox enrolls (exit 0)" "$?" 0
check "the pair is in root's user keyring, seen from outside" key_serial est-enrolled-key-pair
check "the keyring copy and the file copy agree" copies_agree
is "the store directory belongs to the group (0750)" "$(stat -c '%a %g' "$T/store")" "750 $GID"
is "the pair's file is the group's (0640)" \
	"$(stat -L -c '%a %g' "$T/store/est-enrolled-key-pair.pem")" "640 $GID"
is "the pair's key is the group's" \
	"$(keyctl rdescribe "$(key_serial est-enrolled-key-pair)" | cut -d';' -f3)" "$GID"
check "the serials file is written" grep -q "^est-enrolled-key-pair " "$RUNTIME_DIRECTORY/it.keys"

# expand SET: the system calls of a systemd-analyze syscall-filter set, groups expanded.
expand() {
	systemd-analyze syscall-filter "$1" | tail -n +2 | sed 's/^ *//' | grep -v '^#' |
		while read -r x; do
			case $x in
			@*) expand "$x" ;;
			?*) echo "$x" ;;
			esac
		done
}
# check_trace NAME UNIT-FILE: the system calls and socket families in $T/trace are those
# UNIT-FILE's SystemCallFilter= and RestrictAddressFamilies= allow.
check_trace() {
	local name=$1 unit=$2 f af bad="" families allowed_af
	[ ${#TRACE[@]} -gt 0 ] || return 0
	: >"$T/allow"
	: >"$T/deny"
	for f in $(sed -n 's/^SystemCallFilter=//p' "$unit"); do
		case $f in
		~*) expand "${f#\~}" >>"$T/deny" ;;
		*) expand "$f" >>"$T/allow" ;;
		esac
	done
	sed -n '/^#\|^-/d; s/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p' "$T/trace" | sort -u >"$T/used"
	sort -u "$T/allow" -o "$T/allow"
	sort -u "$T/deny" -o "$T/deny"
	check "$name: the trace holds its system calls" test "$(wc -l <"$T/used")" -gt 20
	is "$name: every system call is in SystemCallFilter= of ${unit##*/}" \
		"$(comm -23 "$T/used" "$T/allow" | tr '\n' ' ')" ""
	is "$name: none is in its deny list" "$(comm -12 "$T/used" "$T/deny" | tr '\n' ' ')" ""
	families=$(sed -n 's/.* socket(\(AF_[A-Z0-9]*\),.*/\1/p' "$T/trace" | sort -u | tr '\n' ' ')
	allowed_af=" $(sed -n 's/^RestrictAddressFamilies=//p' "$unit") "
	for af in $families; do
		case $allowed_af in *" $af "*) ;; *) bad="$bad $af" ;; esac
	done
	echo "# $name: socket families used: $families"
	is "$name: every socket family is in RestrictAddressFamilies=" "$bad" ""
}
check_trace "the pass" "$UNIT"

# The boot-time load, sandboxed the same way and without a network (PrivateNetwork=yes),
# restores an emptied keyring.
keyctl clear "$(keyring_id)"
rm -f "$T/trace"
NO_NETWORK=1 sandboxed "${TRACE[@]}" "$EST_ENROLL" -c "$T/est.conf" load >"$T/out" 2>"$T/err"
is "load in the sandbox, without a network, exits 0" "$?" 0
check "and restores the keyring from the file copy" copies_agree
check "the pair is back" key_serial est-enrolled-key-pair
check_trace "load" "$UNITS/est-enroll-load.service"

done_testing
