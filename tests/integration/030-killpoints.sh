#!/bin/bash
# SPDX-License-Identifier: MIT
# Kill points: each store mutation of an operation in turn is where the process dies (SIGKILL
# from tests/helpers/killpoint.so, LD_PRELOADed; SQLite's crash tests). After every kill each
# copy of the store, the file copy and the keyring, holds the previous identity or the new one,
# complete, and the next pass carries on from it without enrolling again (SPEC "Consistency").
# What consumers see too: the hooks ran at least once for each change that became the stored
# identity, never for one that did not (SPEC "Hooks"), also after a simulated reboot (keyring
# gone, load), and no temporary file is left beside an export. And what direct file readers
# see: a reader of PATH/..data/ (the data directory resolved once a round) running beside every
# killed operation finds the pair and the CA set of one commit, never a mix (issue 15).
. "$(dirname "$0")/helpers.sh"

: "${KILLPOINT:?run through make check}"
[ -f "$KILLPOINT" ] || skip_all "kill-point shim not built: $KILLPOINT"
keyctl show @u >/dev/null 2>&1 || skip_all "no kernel keyring"
# The shim is not built with ASan; under an ASan build it comes first in the library list.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

shopt -s extglob
STORE=$T/store
EXP=$T/exp
KP_PATHS=$STORE:$RUNTIME_DIRECTORY:$EXP # what under_shim counts
HOOKS=$T/hooks.d
mkdir -p "$HOOKS"
# The hook notes the change and what the store holds as it runs: the pair's fingerprint and a
# digest of the CA set, both from the file copy (the store), or - when absent.
cat >"$HOOKS/10-note" <<EOH
#!/bin/sh
fp=\$(openssl x509 -in '$T/store/est-enrolled-key-pair.pem' -noout -fingerprint -sha256 2>/dev/null)
cas=\$(cat '$T/store/'est-cacerts_*.pem 2>/dev/null | sha256sum | cut -c1-16)
echo "\$EST_ENROLL_EVENT \${fp##*=} \$cas" >>'$T/hooks.log'
EOH
chmod 0755 "$HOOKS/10-note"
# write_config with the hooks and an [export] section of every kind.
eval "orig_$(declare -f write_config)"
write_config() {
	orig_write_config "hooks = $HOOKS" "$@"
	export_all
}
MAX_POINTS=400 # a bound for the loops, far above what one operation does
TOTAL=0
OTHER_PID=
trap 'stop_other; drop_keyrings; cleanup' EXIT

# start_other DIR [est-server.py options]: a second test server (own CA in DIR); sets OTHER_PORT.
start_other() {
	try_other "$@" && return 0
	sed 's/^/# /' "$T/other.err" >&2
	echo "Bail out! second test server did not start"
	exit 1
}

# try_other DIR [options]: start_other, but returns 1 if the server did not start.
try_other() {
	local dir=$1
	shift
	mkdir -p "$dir"
	rm -f "$dir/port"
	"$PYTHON3" "$EST_SERVER" --dir "$dir" --port-file "$dir/port" "$@" \
		>>"$T/other.out" 2>>"$T/other.err" &
	OTHER_PID=$!
	for _ in $(seq 1 200); do
		[ -s "$dir/port" ] && break
		kill -0 "$OTHER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$dir/port" ]; then
		stop_other
		return 1
	fi
	OTHER_PORT=$(cat "$dir/port")
}

stop_other() {
	if [ -n "$OTHER_PID" ]; then
		kill "$OTHER_PID" 2>/dev/null
		wait "$OTHER_PID" 2>/dev/null
		OTHER_PID=
	fi
}




# snapshot: the file copy as it is now (hidden files too) is the pre-state of the next scenarios.
snapshot() {
	rm -rf "$T/pre"
	mkdir -p "$T/pre"
	[ -d "$STORE" ] && cp -a "$STORE" "$T/pre/store"
	[ -d "$EXP" ] && cp -a "$EXP" "$T/pre/exp"
	return 0
}

# restore copy|empty|none: the pre-state. The file copy from the snapshot; the keyring rebuilt
# with keyctl from PATH/ALIAS.pem (copy), left empty (empty) or absent (none), so the setup does
# not depend on the code under test.
restore() {
	local kr f a
	drop_keyrings
	if keyring_id >/dev/null; then
		echo "Bail out! restore: $KEYRING is still in @u"
		exit 1
	fi
	rm -rf "$STORE" "$EXP"
	[ -d "$T/pre/store" ] && cp -a "$T/pre/store" "$STORE"
	# The exports as the pre-state left them, so every run writes the same files.
	[ -d "$T/pre/exp" ] && cp -a "$T/pre/exp" "$EXP"
	[ -d "$STORE" ] && find "$STORE" -name '*.tmp.*' -delete
	# The whole runtime directory, so every run creates it alike (a kill point count that
	# depends on what an earlier run left would make N drift).
	rm -rf "$RUNTIME_DIRECTORY"
	[ "$1" = none ] && return 0
	kr=$(keyctl newring "$KEYRING" @u) || {
		echo "Bail out! keyctl newring $KEYRING failed"
		exit 1
	}
	[ "$1" = empty ] && return 0
	for f in "$STORE"/*.pem; do
		[ -f "$f" ] || continue
		a=${f##*/}
		keyctl padd user "${a%.pem}" "$kr" <"$f" >/dev/null || {
			echo "Bail out! keyctl padd ${a%.pem} failed"
			exit 1
		}
	done
}

# dump_files DIR, dump_keyring DIR (helpers.sh): one copy's aliases as DIR/ALIAS.pem, so one
# checker reads both.
dump_files() {
	rm -rf "$1"
	mkdir -p "$1"
	cp "$STORE"/*.pem "$1/" 2>/dev/null
	return 0
}

# inspect DIR: checks one copy. Sets I_PROBLEMS (what is wrong with it, one line each; empty: it
# is whole), I_FP (its identity: the leaf's SHA-256 fingerprint, empty without a pair), I_PUB (a
# hash of the leaf's public key) and I_KEY (a hash of the content). The result depends on the
# content only, so it is kept (most kills leave a copy as it was); openssl x509, slow to start,
# runs once.
declare -A SEEN_PROBLEMS SEEN_FP SEEN_PUB
inspect() {
	I_KEY=$(cd "$1" && sha256sum -- *.pem 2>/dev/null | sha256sum)
	I_KEY=${I_KEY%% *}
	if [ -z "${SEEN_FP[$I_KEY]+set}" ]; then
		inspect_copy "$1" >"$1.problems"
		SEEN_PROBLEMS[$I_KEY]=$(cat "$1.problems")
		SEEN_FP[$I_KEY]=$INSPECT_FP
		SEEN_PUB[$I_KEY]=$INSPECT_PUB
	fi
	I_PROBLEMS=${SEEN_PROBLEMS[$I_KEY]}
	I_FP=${SEEN_FP[$I_KEY]}
	I_PUB=${SEEN_PUB[$I_KEY]}
}

# inspect_copy DIR: the checks themselves; problems on stdout, INSPECT_FP and INSPECT_PUB set.
inspect_copy() {
	local d=$1 n=0 i f args=() x509 keypub certpub
	INSPECT_FP=
	INSPECT_PUB=
	while [ -f "$d/est-cacerts_$n.pem" ]; do n=$((n + 1)); done
	for f in "$d"/est-cacerts_*.pem; do
		[ -f "$f" ] || continue
		i=${f##*/est-cacerts_}
		i=${i%.pem}
		[ "$i" -lt "$n" ] 2>/dev/null || echo "est-cacerts_$i without est-cacerts_$n (a gap)"
	done
	: >"$d.anchors"
	for ((i = 0; i < n; i++)); do
		args+=(-certfile "$d/est-cacerts_$i.pem")
		cat "$d/est-cacerts_$i.pem" >>"$d.anchors"
	done
	# One certificate each: counted all at once, named one by one only on a mismatch.
	if [ "$n" -gt 0 ] && [ "$(openssl crl2pkcs7 -nocrl "${args[@]}" 2>/dev/null |
		openssl pkcs7 -print_certs -noout 2>/dev/null | grep -c '^subject=')" -ne "$n" ]; then
		for ((i = 0; i < n; i++)); do
			[ "$(openssl crl2pkcs7 -nocrl -certfile "$d/est-cacerts_$i.pem" 2>/dev/null |
				openssl pkcs7 -print_certs -noout 2>/dev/null | grep -c '^subject=')" -eq 1 ] ||
				echo "est-cacerts_$i is not one certificate"
		done
	fi
	f=$d/est-enrolled-key-pair.pem
	[ -f "$f" ] || return 0
	x509=$(openssl x509 -in "$f" -noout -pubkey -fingerprint -sha256 2>/dev/null)
	certpub=${x509%%$'\n'sha256 Fingerprint=*}
	if [ -z "$x509" ] || [ "$certpub" = "$x509" ]; then
		echo "est-enrolled-key-pair holds no certificate"
		return 0
	fi
	INSPECT_FP=${x509##*sha256 Fingerprint=}
	INSPECT_PUB=$(printf '%s\n' "$certpub" | sha256sum)
	INSPECT_PUB=${INSPECT_PUB%% *}
	keypub=$(openssl pkey -in "$f" -pubout 2>/dev/null)
	[ -n "$keypub" ] && [ "$keypub" = "$certpub" ] ||
		echo "est-enrolled-key-pair: the private key does not match the certificate"
	sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/{p;/END CERTIFICATE/q}' "$f" >"$d.leaf"
	if [ "$n" -eq 0 ]; then
		echo "est-enrolled-key-pair but no est-cacerts_0"
	elif ! openssl verify -partial_chain -CAfile "$d.anchors" -untrusted "$f" "$d.leaf" \
		>/dev/null 2>&1; then
		echo "est-enrolled-key-pair does not verify against this copy's est-cacerts_*"
	fi
}

# csr_keys FROM TO: sets CSR_KEYS to the hashes (as I_PUB has them) of the public keys of the
# CSRs sent to /simpleenroll and /simplereenroll in lines FROM+1..TO of LOG, the scenario's
# server; kept per scenario.
declare -A SEEN_CSRS
csr_keys() {
	local range=$1-$2 b
	if [ -z "${SEEN_CSRS[$range]+set}" ]; then
		SEEN_CSRS[$range]=$([ -f "$LOG" ] && "$PYTHON3" -c 'import json, sys
for i, line in enumerate(open(sys.argv[1])):
    if int(sys.argv[2]) <= i < int(sys.argv[3]):
        r = json.loads(line)
        if r.get("op") in ("simpleenroll", "simplereenroll") and r.get("body"):
            print("".join(r["body"].split()))' "$LOG" "$1" "$2" | while read -r b; do
			printf '%s' "$b" | base64 -d 2>/dev/null |
				openssl req -inform DER -noout -pubkey 2>/dev/null | sha256sum | cut -d' ' -f1
		done)
	fi
	CSR_KEYS=${SEEN_CSRS[$range]}
}

# log_lines: requests in LOG so far.
log_lines() {
	local n=0
	[ -f "$LOG" ] && n=$(wc -l <"$LOG")
	echo $((n))
}

# enroll_requests: /simpleenroll + /simplereenroll requests in LOG so far (requests_to).
enroll_requests() {
	local srv=${LOG%/requests.log}
	echo $(($(SRV=$srv requests_to simpleenroll) + $(SRV=$srv requests_to simplereenroll)))
}

# copy_problems NAME MUST FROM TO: what inspect found (I_*), and the identity: the pre-state one
# (PRE_FP) or one the operation produced (a certificate for the key of a CSR in request-log lines
# FROM..TO); MUST = 1: a pair must be there.
copy_problems() {
	[ -n "$I_PROBLEMS" ] && printf '%s: %s\n' "$1" "${I_PROBLEMS//$'\n'/$'\n'"$1: "}"
	if [ -z "$I_FP" ]; then
		[ "$2" -eq 1 ] && [[ $I_PROBLEMS != *"holds no certificate"* ]] &&
			echo "$1: no est-enrolled-key-pair (the identity was lost)"
		return 0
	fi
	[ "$I_FP" = "$PRE_FP" ] && return 0
	csr_keys "$3" "$4"
	case $'\n'"$CSR_KEYS"$'\n' in
	*$'\n'"$I_PUB"$'\n'*) ;;
	*) echo "$1: est-enrolled-key-pair is neither the previous identity nor one this operation requested" ;;
	esac
}

# same_store A B: the two copies hold the same bundle and the same CA set, byte for byte.
same_store() {
	local f a
	if [ -e "$1/est-enrolled-key-pair.pem" ] || [ -e "$2/est-enrolled-key-pair.pem" ]; then
		cmp -s "$1/est-enrolled-key-pair.pem" "$2/est-enrolled-key-pair.pem" 2>/dev/null ||
			echo "the copies hold different est-enrolled-key-pair"
	fi
	for f in "$1"/est-cacerts_*.pem "$2"/est-cacerts_*.pem; do
		[ -f "$f" ] || continue
		a=${f##*/}
		cmp -s "$1/$a" "$2/$a" 2>/dev/null || echo "the copies differ in ${a%.pem}"
	done | sort -u
}

# The scenario being run: name, operation, keyring pre-state, which checks apply.
SC=
SC_OP=()
SC_KEYRING=copy # restore copy|empty|none
SC_MUST=0       # 1: the pre-state identity is never lost, both copies hold a pair (b-e)
SC_NO_ENROLL=0  # 1: the next run sends no enrollment request (b, c, d, f)
SC_EVENT6=0     # 1: the pending request key is not the enrolled one (b)
SC_PREP=:       # run before every attempt
SC_NOTE=        # appended to the description of the check after the kill
SC_REBOOT=0     # 1: a simulated reboot (keyring gone, load) between the kill and the next run
SC_CACERTS_EVENT=0 # 1: a new CA set must be announced (d; a re-bootstrap announces its pair)
PRE_CAS=

# layout_problems: the file copy as recovery leaves it (keystore_txn.c): one data directory, the
# one PATH/..data names, no half-made switch, and the stable names PATH/ALIAS.pem exactly the
# symlinks ..data/ALIAS.pem of its items.
layout_problems() {
	local n=0 l
	[ -e "$STORE/..data.tmp" ] || [ -L "$STORE/..data.tmp" ] &&
		echo "file copy: ..data.tmp is still there"
	for l in "$STORE"/..data-*; do
		[ -d "$l" ] && n=$((n + 1))
	done
	[ $n -eq 1 ] || echo "file copy: $n data directories"
	[ -d "$STORE/..data/" ] || echo "file copy: ..data names no data directory"
	for l in "$STORE"/*.pem; do
		[ -e "$l" ] || [ -L "$l" ] || continue
		[ -L "$l" ] && [ "$(readlink "$l")" = "..data/${l##*/}" ] && [ -f "$l" ] ||
			echo "file copy: ${l##*/} is not the stable name of an item"
	done
	for l in "$STORE"/..data/*.pem; do
		[ -e "$l" ] || continue
		[ -L "$STORE/${l##*/}" ] || echo "file copy: ${l##*/} has no stable name"
	done
}

# check_copies WHEN FROM TO: dumps and inspects both copies (the file copy through its stable
# names: there is no mid-commit state a reader could see), after the next run (WHEN = after)
# with its layout. Problems on stdout; NEW_IN_FILES = 1 when the file copy holds a new identity.
check_copies() {
	local when=$1 from=$2 to=$3 must=$SC_MUST fkey ffp
	dump_files "$T/c-file"
	dump_keyring "$T/c-key"
	if [ "$when" = after ]; then
		must=1 # a run that exits 0 leaves an enrolled pair in both copies
		layout_problems
	fi
	inspect "$T/c-file"
	fkey=$I_KEY
	ffp=$I_FP
	NEW_IN_FILES=0
	[ -n "$ffp" ] && [ "$ffp" != "$PRE_FP" ] && NEW_IN_FILES=1
	copy_problems "file copy" "$must" "$from" "$to"
	inspect "$T/c-key"
	copy_problems keyring "$must" "$from" "$to"
	[ $NEW_IN_FILES -eq 1 ] && [ -n "$I_FP" ] && [ "$I_FP" != "$PRE_FP" ] &&
		[ "$I_FP" != "$ffp" ] && echo "the copies hold two different new identities"
	[ "$when" = after ] && [ "$I_KEY" != "$fkey" ] && same_store "$T/c-file" "$T/c-key"
	return 0
}

# hooks_problems: what the hook log of this kill point says against the store now. Every line a
# hook wrote names a change the store held when it ran: a pair other than the pre-state's for
# enrolled and renewed, a CA set other than the pre-state's for cacerts. And a store that holds
# a new pair (a new CA set) was announced: a line names it.
hooks_problems() {
	local ev fp cas now_fp now_cas
	now_fp=$(openssl x509 -in "$STORE/est-enrolled-key-pair.pem" -noout -fingerprint -sha256 2>/dev/null)
	now_fp=${now_fp##*=}
	now_cas=$(cat "$STORE"/est-cacerts_*.pem 2>/dev/null | sha256sum | cut -c1-16)
	[ -f "$T/hooks.log" ] && while read -r ev fp cas; do
		case $ev in
		enrolled | renewed)
			[ -n "$fp" ] && [ "$fp" != "$PRE_FP" ] ||
				echo "a hook ran for '$ev' while the store held the previous pair" ;;
		cacerts)
			[ "$cas" != "$PRE_CAS" ] ||
				echo "a hook ran for 'cacerts' while the store held the previous CA set" ;;
		*) echo "a hook ran for an unknown event '$ev'" ;;
		esac
	done <"$T/hooks.log"
	if [ -n "$now_fp" ] && [ "$now_fp" != "$PRE_FP" ] &&
		! grep -qE "^(enrolled|renewed) $now_fp " "$T/hooks.log" 2>/dev/null; then
		echo "the store holds a new pair no hook heard of"
	fi
	if [ "$SC_CACERTS_EVENT" -eq 1 ] && [ "$now_cas" != "$PRE_CAS" ] &&
		! grep -qE "^(cacerts|enrolled|renewed) .* $now_cas\$" "$T/hooks.log" 2>/dev/null; then
		echo "the store holds a new CA set no hook heard of"
	fi
	[ -e "$STORE/est-events.pem" ] && echo "est-events is still there after the hooks ran"
	return 0
}

# reader: what a direct file reader does, as est-enroll-keyring(7) tells it to: resolve
# PATH/..data once a round (here: cd into it), then read the items there. A round that finds a
# pair checks it against the CA set beside it (openssl verify -partial_chain); one that does
# not verify goes to $T/reader.bad. A round whose directory lost a file meanwhile (removed after
# a later switch: its listing changed under the copy) is not counted. At most READER_ROUNDS
# rounds, until $T/reader.stop appears; verified rounds are counted in $T/reader.rounds.
READER_ROUNDS=4
reader() {
	local i d=$T/rd
	for ((i = 1; i <= READER_ROUNDS; i++)); do
		[ -e "$T/reader.stop" ] && break
		rm -rf "$d"
		mkdir -p "$d"
		(
			cd -P "$STORE/..data/" 2>/dev/null || exit 1
			before=$(ls)
			cp est-enrolled-key-pair.pem est-cacerts_*.pem "$d/" 2>/dev/null
			[ -n "$before" ] && [ "$(ls)" = "$before" ]
		) || continue
		[ -f "$d/est-enrolled-key-pair.pem" ] || continue
		echo "$i" >>"$T/reader.rounds"
		cat "$d"/est-cacerts_*.pem >"$d/cas" 2>/dev/null
		sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/{p;/END CERTIFICATE/q}' \
			"$d/est-enrolled-key-pair.pem" >"$d/leaf"
		openssl verify -partial_chain -CAfile "$d/cas" -untrusted "$d/est-enrolled-key-pair.pem" \
			"$d/leaf" >/dev/null 2>&1 ||
			echo "round $i: est-enrolled-key-pair does not verify against the est-cacerts_* beside it" \
				>>"$T/reader.bad"
	done
}

READER_PID=
reader_start() {
	rm -f "$T/reader.stop" "$T/reader.bad"
	reader &
	READER_PID=$!
}

reader_stop() {
	touch "$T/reader.stop"
	wait "$READER_PID" 2>/dev/null
	READER_PID=
}

# kill_at N: one kill point of the scenario, and what must hold after it.
kill_at() {
	local n=$1 lines what label probs r0 r1 e1 new_in_files rk ek c before after
	restore "$SC_KEYRING"
	$SC_PREP
	r0=$(log_lines)
	rm -f "$T/hooks.log"
	reader_start
	under_shim "$n" "${SC_OP[@]}"
	reader_stop
	lines=()
	[ -f "$T/kp.log" ] && mapfile -t -s $((n - 1)) -n 1 lines <"$T/kp.log"
	# Stable across runs: no serials, no random names, no temporary directory.
	what=${lines[0]:-}
	what=${what#* }
	what=${what//$T\//}
	what=${what//$KEYRING/KEYRING}
	what=${what//?(-)+([0-9]) (/(}
	what=${what//.tmp.??????/.tmp.*}
	what=${what//..data-??????/..data-*}
	label="$SC N=$n [${what:-no mutation $n: the run made $(wc -l <"$T/kp.log" 2>/dev/null || echo 0)}]"
	is "$label: killed there" "$RC" 137
	r1=$(log_lines)
	check_copies kill "$r0" "$r1" >"$T/problems"
	new_in_files=$NEW_IN_FILES
	verdict "$label: after the kill, each copy is whole, with the old or the new identity$SC_NOTE" \
		"$(cat "$T/problems")"
	verdict "$label: a reader of PATH/..data/ saw one commit's pair and CA set in each round" \
		"$(cat "$T/reader.bad" 2>/dev/null)"

	e1=$(enroll_requests)
	if [ "$SC_REBOOT" -eq 1 ]; then
		# A reboot after the kill: the keyring is gone, load at boot restores it from the files.
		drop_keyrings
		est load
		is "$label: after a reboot, load exits 0" "$RC" 0
		verdict "$label: after the reboot's load, the hooks heard of each change, of none other" \
			"$(hooks_problems)"
	fi
	est run --once
	is "$label: the next run --once exits 0" "$RC" 0
	verdict "$label: after the next run, the hooks heard of each change, of none other" \
		"$(hooks_problems)"
	verdict "$label: after the next run, no temporary file beside an export" \
		"$(find "$EXP" -name '*.tmp.*' 2>/dev/null)"
	# A next run that must not enroll may only show what the killed operation requested.
	[ "$SC_NO_ENROLL" -eq 1 ] || r1=$(log_lines)
	check_copies after "$r0" "$r1" >"$T/problems"
	verdict "$label: after the next run, both copies are whole and hold the same" \
		"$(cat "$T/problems")"
	if [ "$SC_NO_ENROLL" -eq 1 ]; then
		is "$label: the next run sent no /simpleenroll or /simplereenroll" \
			"$(enroll_requests)" "$e1"
	elif [ "$new_in_files" -eq 1 ]; then
		is "$label: event 7: the file copy held the new pair, the next run sent no /simpleenroll" \
			"$(enroll_requests)" "$e1"
	fi
	[ "$SC_EVENT6" -eq 1 ] || return 0
	probs=$(for c in file key; do
		[ -f "$T/c-$c/est-request-key-pair.pem" ] || continue
		[ -f "$T/c-$c/est-enrolled-key-pair.pem" ] || continue
		rk=$(openssl pkey -in "$T/c-$c/est-request-key-pair.pem" -pubout 2>/dev/null)
		ek=$(openssl pkey -in "$T/c-$c/est-enrolled-key-pair.pem" -pubout 2>/dev/null)
		[ "$rk" != "$ek" ] || echo "$c: est-request-key-pair holds the enrolled key"
	done)
	verdict "$label: event 6: no pending request key equal to the enrolled key" "$probs"
	before=$(key_pipe est-enrolled-key-pair | openssl pkey -pubout 2>/dev/null)
	est renew --once
	after=$(key_pipe est-enrolled-key-pair | openssl pkey -pubout 2>/dev/null)
	[ "$RC" -eq 0 ] && [ -n "$after" ] && [ "$before" != "$after" ]
	tap_result $? "$label: event 6: a forced renew exits 0 with a new key"
}

# scenario NAME OP...: counts the operation's mutations on the pre-state, then kills each one.
scenario() {
	local m n
	SC=$1
	shift
	SC_OP=("$@")
	SEEN_CSRS=() # request-log lines are counted per server
	restore "$SC_KEYRING"
	$SC_PREP
	under_shim 0 "${SC_OP[@]}"
	is "$SC: the operation succeeds under the shim (counting only)" "$RC" 0
	m=$(wc -l <"$T/kp.log" 2>/dev/null || echo 0)
	echo "# scenario $SC: $m kill points"
	if [ "$m" -eq 0 ]; then
		tap_result 1 "$SC: the harness kills nothing"
		return
	fi
	[ "$m" -le $MAX_POINTS ] || m=$MAX_POINTS
	for ((n = 1; n <= m; n++)); do
		kill_at "$n"
	done
	TOTAL=$((TOTAL + m))
}

# pre_state NAME: really enrolls with the current configuration, from nothing, and snapshots it.
pre_state() {
	rm -rf "$T/pre"
	restore none
	est run --once
	is "pre-state: enrolled against $1" "$RC" 0
	snapshot
	dump_files "$T/c-file"
	inspect "$T/c-file"
	PRE_FP=$I_FP
	PRE_CAS=$(cat "$STORE"/est-cacerts_*.pem 2>/dev/null | sha256sum | cut -c1-16)
	is "pre-state: $1: the file copy is whole" "$I_PROBLEMS" ""
	check "pre-state: $1: it holds an identity" test -n "$PRE_FP"
}

start_server
LOG=$SRV/requests.log

# a. First enrollment: run on an empty store, no keyring yet.
rm -rf "$T/pre"
PRE_FP=
PRE_CAS=$(printf '' | sha256sum | cut -c1-16)
write_config
SC_KEYRING=none
scenario "a (first enrollment)" run --once

# The pre-state of b, c, e, f: really enrolled against server A.
pre_state "server A"
SC_KEYRING=copy
SC_MUST=1
SC_NO_ENROLL=1

# b. Renewal with rekey; a reboot between the kill and the next run.
SC_EVENT6=1
SC_REBOOT=1
write_config "renew_rekey = true"
scenario "b (renew, rekey)" renew --once
SC_EVENT6=0
SC_REBOOT=0

# c. Renewal with the same key.
write_config "renew_rekey = false"
scenario "c (renew, same key)" renew --once

# f. load after the keyring was emptied; the file copy is intact.
write_config
SC_KEYRING=empty
SC_MUST=0
scenario "f (load into an emptied keyring)" load
SC_KEYRING=copy
SC_MUST=1

# e. Re-bootstrap: the configuration switches to server B, with its own CA in another --dir.
start_other "$T/srv-b"
LOG=$T/srv-b/requests.log
PORT=$OTHER_PORT
write_config "ca_root = $T/srv-b/root.pem"
SC_NO_ENROLL=0
scenario "e (re-bootstrap on server B)" run --once
stop_other

# d. CA refresh after a root key update the device missed (offline, or killed before it stored
# the /cacerts answer): server D rolls its root over once, after the pre-state was enrolled, and
# every attempt starts from that pre-state, which trusts only the old root. The server presents
# NewWithOld after its certificate (RFC 7030 4.1.3), so the old root alone reaches it.
SRV_D=$T/srv-d
start_other "$SRV_D"
LOG=$SRV_D/requests.log
PORT=$OTHER_PORT
write_config "ca_root = $SRV_D/root.pem"
pre_state "server D"
printf 'rollover\n' >"$SRV_D/behaviour"
curl -sS -o /dev/null --max-time 10 --cacert "$SRV_D/root.pem" \
	"https://127.0.0.1:$PORT/.well-known/est/cacerts" 2>"$T/err"
check "server D rolled its root over" test -s "$SRV_D/root-new.pem"
SC_NO_ENROLL=1
SC_NOTE=" (event 5: the certificate verifies against the copy's CA set)"
scenario "d (CA refresh after a missed root key update)" cacerts --once
SC_NOTE=
stop_other

echo "# total: $TOTAL kill points"
rounds=$(wc -l <"$T/reader.rounds" 2>/dev/null || echo 0)
echo "# the reader verified a pair against its CA set in $rounds rounds"
check "the reader verified pairs beside the killed operations ($rounds rounds)" test "$rounds" -gt 0
done_testing
