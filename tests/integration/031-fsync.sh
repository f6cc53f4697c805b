#!/bin/bash
# SPDX-License-Identifier: MIT
# The syncs of a pass: how many (a first enrollment and a renewal stay at or under the figures
# the store's design needs, so a regression shows), and where. SIGKILL (030) cannot see a
# missing fsync; the order a power cut depends on (keystore_txn.c) is checked here on the
# kill-point shim's log of every file mutation, in counting mode.
. "$(dirname "$0")/helpers.sh"

: "${KILLPOINT:?run through make check}"
[ -f "$KILLPOINT" ] || skip_all "kill-point shim not built: $KILLPOINT"
keyctl show @u >/dev/null 2>&1 || skip_all "no kernel keyring"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# The store's figures (keystore_txn.c): the store directory made (1); each commit syncs each
# new or changed file of its data directory, the data directory, the store directory before the
# switch and after it (changed + 3). A first enrollment: the request key alone (1 + 3), then key
# pair, CA certificate, est-state and est-events, the change recorded for the hooks, with the
# request key removed (4 + 3), then est-events removed once the hooks ran (0 + 3). A renewal:
# the request key (1 + 3), key pair, est-state (which records the new pair's SHA-256 for the
# idle check) and est-events (3 + 3), est-events removed (0 + 3).
FIRST_MAX=15
RENEW_MAX=13

# counted ARGS...: the binary under the shim, counting only, every path (no KILLPOINT_PATHS);
# the log in $T/kp.log, RC set.
counted() {
	rm -f "$T/kp.log"
	KILLPOINT_LOG="$T/kp.log" LD_PRELOAD="$KILLPOINT${LD_PRELOAD:+:$LD_PRELOAD}" \
		"$EST_ENROLL" -c "$T/est.conf" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

syncs() {
	awk '$2 ~ /^(fsync|fdatasync|syncfs|sync_file_range)$/' "$T/kp.log" | wc -l
}

# order: what the log shows against the commit order, one problem a line, then "commits N
# files F parent P": the switches and the data directories' files synced seen (so nothing
# passes vacuously), the store directory synced into its parent. The order (keystore_txn.c): a new data directory PATH/..data-XXXXXX (mkdtemp), its
# files written and each synced (or hard-linked from the current one, synced when written), the
# data directory synced; the symlink PATH/..data.tmp and the new stable names PATH/ALIAS.pem;
# PATH synced; PATH/..data.tmp renamed over PATH/..data (the switch); PATH synced before
# anything else in the store changes (tidying: gone names, the old data directory).
order() {
	awk -v store="$(realpath "$T")/store" -v run="$(realpath "$RUNTIME_DIRECTORY")" '
	function base(p) { sub(".*/", "", p); return p }
	function in_store(p) { return index(p, store "/") == 1 }
	function data_dir(p) {
		if (index(p, store "/..data-") != 1) return ""
		sub("/[^/]*$", "", p)
		return p
	}
	function problem(s) { print NR ": " s; bad++ }
	$2 ~ /sync/ && index($3, run) == 1 { problem("a sync in the runtime directory: " $3) }
	$2 == "mkdir" && $3 == store { made = 1 }
	$2 == "fsync" && made && $3 == substr(store, 1, length(store) - 6) { made = 0; parent = 1 }
	# The journal of the old layout is never written any more.
	in_store($3) && (base($3) == ".est-commit" || base($3) ~ /^\..*\.new$/) {
		problem("a journal file: " $2 " " $3)
	}
	# After the switch, nothing in the store changes before PATH is synced.
	switched && in_store($3) && !($2 == "fsync" && $3 == store) {
		problem($2 " " base($3) " after the switch, before the store directory was synced")
		switched = 0
	}
	$2 == "fsync" && $3 == store {
		if (switched) { switched = 0; commits++ }
		else if (pending && linked) synced_before = 1
	}
	$2 == "mkdtemp" && index($3, store "/..data-") == 1 {
		if (pending) problem("a data directory made while another commit is pending")
		pending = 1; linked = 0; synced_before = 0; dir = ""; delete written; delete synced
	}
	$2 == "open" && data_dir($3) != "" && base($3) !~ /^\.\.data-/ {
		written[$3] = 1; dir = data_dir($3); dir_synced = 0
	}
	$2 == "link" && data_dir($3) != "" { dir = data_dir($3); dir_synced = 0 }
	$2 == "fsync" && ($3 in written) { synced[$3] = 1; files++ }
	$2 == "fsync" && pending && $3 == dir {
		for (f in written)
			if (!(f in synced)) problem(base(f) " not synced before its data directory")
		dir_synced = 1
	}
	$2 == "fsync" && pending && dir == "" && index($3, store "/..data-") == 1 { dir = $3; dir_synced = 1 }
	$2 == "symlink" && $3 == store "/..data.tmp" {
		if (!pending) problem("..data.tmp made without a new data directory")
		else if (!dir_synced) problem("..data.tmp made before the data directory was synced")
		linked = 1
	}
	$2 == "symlink" && in_store($3) && base($3) ~ /\.pem$/ && !linked {
		problem("the stable name " base($3) " made outside a commit")
	}
	$2 == "rename" && $3 == store "/..data" {
		if ($5 != store "/..data.tmp") problem("..data replaced by " $5)
		else if (!pending || !linked) problem("a switch without a data directory")
		else if (!dir_synced) problem("the switch before the data directory was synced")
		else if (!synced_before) problem("the switch before the store directory was synced")
		switched = 1; pending = 0; linked = 0
	}
	END {
		if (switched) problem("a switch never synced")
		if (pending) problem("a commit left pending")
		if (made) problem("the store directory made, never synced into its parent")
		printf "commits %d files %d parent %d\n", commits, files, parent
	}' "$T/kp.log"
}

start_server
write_config

counted run --once
is "first enrollment: exits 0 under the shim" "$RC" 0
n=$(syncs)
echo "# first enrollment: $n syncs"
check "first enrollment: the shim counted syncs ($n)" test "$n" -gt 0
check "first enrollment: at most $FIRST_MAX syncs ($n)" test "$n" -le "$FIRST_MAX"
order >"$T/order"
is "first enrollment: the syncs are where a power cut needs them" \
	"$(cat "$T/order")" "commits 3 files 5 parent 1"

counted renew --once
is "renewal: exits 0 under the shim" "$RC" 0
n=$(syncs)
echo "# renewal: $n syncs"
check "renewal: the shim counted syncs ($n)" test "$n" -gt 0
check "renewal: at most $RENEW_MAX syncs ($n)" test "$n" -le "$RENEW_MAX"
order >"$T/order"
is "renewal: the syncs are where a power cut needs them" \
	"$(cat "$T/order")" "commits 3 files 4 parent 0"

counted run --once
is "an idle pass: exits 0 under the shim" "$RC" 0
is "an idle pass: no sync" "$(syncs)" 0

done_testing
