#!/bin/bash
# SPDX-License-Identifier: MIT
# No core dump carries a secret: every command makes itself non-dumpable and sets its core
# limit to 0, soft and hard, before it opens its configuration (which may hold the password)
# or anything else of the test's; a pass that holds its key and password, killed by SIGABRT
# under "ulimit -c unlimited", writes no core where a dumpable process run the same way does.
# The machine's kernel.core_pattern is read, never changed.
. "$(dirname "$0")/helpers.sh"

command -v setpriv >/dev/null || skip_all "setpriv not installed"
NOGROUP=65534
start_server --auth basic --user estuser --password estpwd
printf 'estpwd\n' >"$T/password"
write_config "http_auth = basic" "username = estuser" "password_file = $T/password" \
	"timeout = 60s" "retry_timeout = 60s"
est run --once
is "enrolled with the password: exit 0" "$RC" 0

# 1. The order of the first system calls, for every command.
if command -v strace >/dev/null; then
	# traced CMD...: the binary under strace -f; the trace in $T/trace. LeakSanitizer cannot
	# run under ptrace (065-sandbox).
	traced() {
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
			strace -f -qq -o "$T/trace" -e trace=prctl,prlimit64,setrlimit,openat \
			"$EST_ENROLL" -c "$T/est.conf" "$@" >"$T/out" 2>"$T/err"
	}
	# first_line PATTERN: the line number of the first trace line matching it (grep -E), or 0.
	first_line() {
		local n
		n=$(grep -n -m1 -E "$1" "$T/trace" | cut -d: -f1)
		echo "${n:-0}"
	}
	DUMPABLE='prctl\(PR_SET_DUMPABLE, (0|SUID_DUMP_DISABLE)\) = 0'
	NOCORE='(prlimit64\(0, |setrlimit\()RLIMIT_CORE, \{rlim_cur=0, rlim_max=0\}.* = 0'
	OURS="openat\\([^\"]*\"$T/"
	order() { # NAME CMD...
		local name=$1 d c o
		shift
		traced "$@"
		d=$(first_line "$DUMPABLE")
		c=$(first_line "$NOCORE")
		o=$(first_line "$OURS")
		check "$name: the trace shows the configuration opened" \
			grep -qE "openat\\([^\"]*\"$T/est.conf\"" "$T/trace"
		check "$name: PR_SET_DUMPABLE 0 before the first open of the test's files" \
			test "$d" -gt 0 -a "$d" -lt "$o"
		check "$name: RLIMIT_CORE 0/0 before the first open of the test's files" \
			test "$c" -gt 0 -a "$c" -lt "$o"
		is "$name: never dumpable again, no core limit raised" \
			"$(grep -cE 'PR_SET_DUMPABLE, (1|SUID_DUMP_USER)|RLIMIT_CORE, \{rlim_cur=[1-9R]' \
				"$T/trace")" 0
	}
	order run run --once
	order status status
	order check-config check-config
	order load load
	order export export est-enrolled-key-pair --out "$T/pair.pem"
	order import import client-auth-certs "$SRV/client-auth.pem"
	order cacerts cacerts --once
	order renew renew --once
	order enroll enroll --once
else
	echo "# strace not installed: the order of the system calls is not checked"
fi

# 2. Live processes. proc(5): the files in /proc/PID belong to root:root while a process is
# not dumpable, to its effective uid and gid otherwise. So the commands run as root with the
# group nogroup (setpriv): a group of 0 on /proc/PID/status means "not dumpable".
# as_nogroup CMD... &: only in the background, where it replaces the subshell, so $! is CMD's
# process.
as_nogroup() {
	exec setpriv --regid="$NOGROUP" --clear-groups "$@"
}
# core_limit PID: "SOFT HARD" of RLIMIT_CORE.
core_limit() {
	awk '/^Max core file size/ { print $5, $6 }' "/proc/$1/limits"
}
proc_group() {
	stat -c %g "/proc/$1/status"
}
# proc_group_is PID GID: for wait_until.
proc_group_is() {
	[ "$(proc_group "$1")" = "$2" ]
}
# The method itself: a dumpable process run the same way shows its group.
as_nogroup sleep 30 &
ctl=$!
wait_until 5 proc_group_is $ctl "$NOGROUP"
is "control: a dumpable process run as group nogroup owns /proc/PID/status" \
	"$(proc_group $ctl)" "$NOGROUP"
kill $ctl
wait $ctl 2>/dev/null

# load waiting for the store's lock: no network, no credentials, about to read the keys.
hold_store_lock
as_nogroup "$EST_ENROLL" -c "$T/est.conf" load >"$T/out" 2>"$T/err" &
pid=$!
wait_until 10 blocked_on_lock "$pid"
check "load waits for the lock" blocked_on_lock "$pid"
is "load: not dumpable (/proc/PID/status is root's group)" "$(proc_group "$pid")" 0
is "load: core limit 0, soft and hard" "$(core_limit "$pid")" "0 0"
release_store_lock
wait "$pid"
is "load then exits 0" "$?" 0

# A forced enrollment waiting on a slow server: it has read the password, generated the key
# and sent the request.
behaviour "simpleenroll-delay 30"
mkdir -p "$T/crash" "$T/crash-ctl"
asked=$(requests_to simpleenroll)
asked_more() {
	[ "$(requests_to simpleenroll)" -gt "$asked" ]
}
(cd "$T/crash" && ulimit -c unlimited &&
	as_nogroup "$EST_ENROLL" -c "$T/est.conf" enroll --once >"$T/out" 2>"$T/err") &
pid=$!
wait_until 20 asked_more
check "enroll: the request reached the server (key and password in memory)" asked_more
check "enroll: the request carried the password" bash -c \
	"tail -n1 '$SRV/requests.log' | grep -q '\"authorization\": \"Basic '"
is "enroll: not dumpable (/proc/PID/status is root's group)" "$(proc_group "$pid")" 0
is "enroll: core limit 0, soft and hard" "$(core_limit "$pid")" "0 0"

# A real crash, where the kernel writes cores into the crashing process's directory (a
# relative core_pattern); a pipe to a helper (systemd-coredump, apport) or an absolute path
# is not looked into: the flags above are what those honour.
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null)
case $pattern in
"" | "|"* | /*)
	tap_result 0 "# SKIP core_pattern '$pattern' does not write into the working directory"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	;;
*)
	(cd "$T/crash-ctl" && ulimit -c unlimited && exec sleep 30) &
	ctl=$!
	sleep 0.2
	kill -ABRT $ctl
	wait $ctl 2>/dev/null
	if [ -z "$(ls -A "$T/crash-ctl")" ]; then
		tap_result 0 "# SKIP a dumpable process killed by SIGABRT wrote no core into its directory"
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
	else
		# SIGABRT, as abort() sends: AddressSanitizer leaves it alone, unlike SIGSEGV.
		kill -ABRT "$pid"
		wait "$pid" 2>/dev/null
		is "enroll killed by SIGABRT" "$?" 134
		is "no core file was written (a dumpable process wrote $(ls "$T/crash-ctl"))" \
			"$(ls -A "$T/crash")" ""
	fi
	;;
esac
behaviour ""

done_testing
