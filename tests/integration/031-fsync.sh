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

# The store's figures (keystore_txn.c): the store directory made (1), the request key alone
# (2), the commit of key pair, CA certificate and est-state with the request key removed
# (3 staged copies + 3). A renewal: the request key (2), key pair and est-state (which records
# the new pair's SHA-256 for the idle check) with the removal (2 + 3). Each adds est-events,
# the change recorded for the hooks in the same commit (1 staged copy), and its removal once
# the hooks ran (1: the directory).
FIRST_MAX=11
RENEW_MAX=9

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
# singles M": the journaled commits and the one-item writes seen (so nothing passes vacuously).
order() {
	awk -v store="$(realpath "$T")/store" -v run="$(realpath "$RUNTIME_DIRECTORY")" '
	function base(p) { sub(".*/", "", p); return p }
	function in_store(p) { return index(p, store "/") == 1 }
	function problem(s) { print NR ": " s; bad++ }
	$2 ~ /sync/ && index($3, run) == 1 { problem("a sync in the runtime directory: " $3) }
	$2 == "mkdir" && $3 == store { made = 1 }
	$2 == "fsync" && made && $3 == substr(store, 1, length(store) - 6) { made = 0; parent = 1 }
	# A mutation of the store while a one-item write waits for its directory sync.
	in_store($3) && single != "" && !($2 == "fsync" && $3 == store) {
		problem(single " renamed into place, then " $2 " " $3 " before the directory sync")
		single = ""
	}
	$2 == "fsync" && $3 == store {
		single = ""
		if (journal && !installing) durable = 1
		if (installing) installed = 1
	}
	$2 == "open" && base($3) ~ /^\..*\.new$/ && in_store($3) { staged[$3] = 1 }
	$2 == "fsync" && ($3 in staged) { synced[$3] = 1 }
	$2 == "fsync" && $3 ~ /\.tmp\./ { tmp_synced[$3] = 1 }
	$2 == "rename" && $3 == store "/.est-commit" {
		for (s in staged)
			if (!(s in synced)) problem(base(s) " not synced before the commit point")
		if (!($5 in tmp_synced)) problem("the journal renamed before its data was synced")
		journal = 1; durable = 0; installing = 0; commits++
	}
	$2 == "rename" && in_store($3) && base($5) ~ /^\..*\.new$/ {
		if (!journal) problem(base($5) " installed without a journal")
		else if (!durable) problem(base($5) " installed before the journal was synced")
		installing = 1; installed = 0
	}
	$2 == "rename" && in_store($3) && base($5) ~ /\.pem\.tmp\./ {
		if (!($5 in tmp_synced)) problem(base($3) " renamed before its data was synced")
		single = base($3); singles++
	}
	$2 == "unlink" && in_store($3) && base($3) ~ /\.pem$/ && journal {
		if (!durable) problem(base($3) " removed before the journal was synced")
		installing = 1; installed = 0
	}
	$2 == "unlink" && $3 == store "/.est-commit" {
		if (installing && !installed) problem("the journal removed before the installs were synced")
		journal = 0; installing = 0; delete staged; delete synced
	}
	END {
		if (single != "") problem(single " renamed into place, never synced into the directory")
		if (made) problem("the store directory made, never synced into its parent")
		printf "commits %d singles %d parent %d\n", commits, singles, parent
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
	"$(cat "$T/order")" "commits 1 singles 1 parent 1"

counted renew --once
is "renewal: exits 0 under the shim" "$RC" 0
n=$(syncs)
echo "# renewal: $n syncs"
check "renewal: the shim counted syncs ($n)" test "$n" -gt 0
check "renewal: at most $RENEW_MAX syncs ($n)" test "$n" -le "$RENEW_MAX"
order >"$T/order"
is "renewal: the syncs are where a power cut needs them" \
	"$(cat "$T/order")" "commits 1 singles 1 parent 0"

counted run --once
is "an idle pass: exits 0 under the shim" "$RC" 0
is "an idle pass: no sync" "$(syncs)" 0

done_testing
