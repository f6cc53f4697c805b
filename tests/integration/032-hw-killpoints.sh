#!/bin/bash
# SPDX-License-Identifier: MIT
# Kill points over a renewal whose keys live in a PKCS#11 token (issue 16): a SoftHSM2 token of
# this test's own, a pair enrolled into it, then `renew` (renew_rekey, the default) dies at each
# mutation in turn - of the store, of the runtime directory and of the token's own files (the
# new key's objects, the old key's destruction) - and the next `run` must leave: both copies of
# the store whole and alike, with the old pair or the new one; the token holding exactly the
# objects of the stored pair's key (no orphan est-it-*: pass_hw.c's sweep), whose public half is
# the certificate's; est-state without sweep=1. The token's writes reach the shim through
# tests/helpers/p11-forward.so (pkcs11-provider opens its module with RTLD_DEEPBIND). Two kinds
# of SoftHSM's own writes are not est-enroll's to survive: the in-place rewrite of token.object
# (those points are skipped, see below) and a new object's attributes, written one by one (a
# kill there can leave a half-made object without a label: counted, not a failure).
. "$(dirname "$0")/helpers.sh"

: "${KILLPOINT:?run through make check}"
: "${P11_FORWARD:?run through make check}"
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
MODULES=$(openssl version -m | sed 's/^MODULESDIR: "\(.*\)"$/\1/')
[ -e "$MODULES/pkcs11.so" ] || skip_all "pkcs11-provider not installed (bookworm-backports)"
[ -e "$SOFTHSM" ] && command -v softhsm2-util >/dev/null || skip_all "softhsm2 not installed"
command -v pkcs11-tool >/dev/null || skip_all "opensc (pkcs11-tool) not installed"
[ -f "$KILLPOINT" ] && [ -f "$P11_FORWARD" ] || skip_all "test helpers not built"
keyctl show @u >/dev/null 2>&1 || skip_all "no kernel keyring"
ldd "$EST_ENROLL" 2>/dev/null | grep -q libasan &&
	skip_all "pkcs11-provider opens the module with RTLD_DEEPBIND, which ASan refuses"

STORE=$T/store
TOKENS=$T/tokens
KP_PATHS=$STORE:$RUNTIME_DIRECTORY:$TOKENS # what under_shim counts: the token's writes too
PREFIX=est-it- # keystore "it" (write_config)
MAX_POINTS=1000 # a bound for the loop, far above what one renewal does
export SOFTHSM2_CONF=$T/softhsm2.conf
export P11_FORWARD_MODULE=$SOFTHSM # what p11-forward.so opens
trap 'drop_keyrings; cleanup' EXIT

mkdir -p "$TOKENS"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$TOKENS" \
	>"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label device --pin 1234 --so-pin 5678 >/dev/null ||
	{ echo "Bail out! softhsm2-util --init-token failed"; exit 1; }
printf '1234\n' >"$T/pin"
chmod 0600 "$T/pin"
p11=(pkcs11-tool --module "$SOFTHSM" --token-label device --login --pin 1234)



# restore: the enrolled pre-state: the file copy and the token directory from their copies, the
# keyring rebuilt from the file copy with keyctl, the runtime directory gone (so that every run
# counts the same mutations).
restore() {
	local kr f a
	drop_keyrings
	rm -rf "$STORE" "$TOKENS" "$RUNTIME_DIRECTORY"
	cp -a "$T/pre/store" "$STORE"
	cp -a "$T/pre/tokens" "$TOKENS"
	kr=$(keyctl newring "$KEYRING" @u) || { echo "Bail out! keyctl newring failed"; exit 1; }
	for f in "$STORE"/*.pem; do
		a=${f##*/}
		keyctl padd user "${a%.pem}" "$kr" <"$f" >/dev/null ||
			{ echo "Bail out! keyctl padd ${a%.pem} failed"; exit 1; }
	done
}


# token_scan: what the module shows: TOK_ERR (why it shows no token, else empty), TOK_OBJS (one
# "CLASS LABEL" per object, "-" for no label) and TOK_POINT[LABEL] (a public key's EC point,
# the DER octet string as hex).
declare -A TOK_POINT
token_scan() {
	local out line class='' label='' point=''
	TOK_ERR=
	TOK_OBJS=()
	TOK_POINT=()
	if ! out=$("${p11[@]}" -O 2>"$T/p11.err"); then
		TOK_ERR=$(head -3 "$T/p11.err" | tr '\n' ' ')
		return
	fi
	while IFS= read -r line; do
		case $line in
		"  label:"*) label=${line#*:} label=${label//[[:space:]]/} ;;
		"  EC_POINT:"*) point=${line#*:} point=${point//[[:space:]]/} ;;
		" "* | "" | "Using slot"*) ;;
		*)
			[ -n "$class" ] && TOK_OBJS+=("$class ${label:--}")
			[ -n "$class" ] && [ -n "$point" ] && TOK_POINT[${label:--}]=$point
			class=${line%% Object;*} class=${class// /_} label='' point=''
			;;
		esac
	done <<<"$out"
	[ -n "$class" ] && TOK_OBJS+=("$class ${label:--}")
	[ -n "$class" ] && [ -n "$point" ] && TOK_POINT[${label:--}]=$point
	return 0
}

# pair_info FILE HASH: of a bundle (cached by its SHA-256): P_LABEL (the object label in the
# PKCS#11 URI of its first block, empty if that is no such reference), P_FP (the certificate's
# SHA-256 fingerprint), P_POINT (the certificate's EC point, hex) and P_VERIFIES (1 when the
# certificate verifies against the file copy's est-cacerts_0).
declare -A SEEN_LABEL SEEN_FP SEEN_POINT SEEN_VERIFIES
pair_info() {
	local text
	if [ -z "${SEEN_FP[$2]+set}" ]; then
		SEEN_LABEL[$2]=$(sed -n '1{/^-----BEGIN PKCS#11 PROVIDER URI-----$/!q}
			2,/^-----END/{/^-----/!p}' "$1" |
			base64 -d 2>/dev/null | grep -aoE 'object=[^;]*' | head -1)
		text=$(openssl x509 -in "$1" -noout -fingerprint -sha256 -text 2>/dev/null)
		SEEN_FP[$2]=$(sed -n 's/^sha256 Fingerprint=//p' <<<"$text")
		SEEN_POINT[$2]=$(sed -n '/^ *pub:$/,/^ *ASN1 OID/{/pub:$/d;/ASN1/d;p}' <<<"$text" |
			tr -d ' :\n')
		SEEN_VERIFIES[$2]=0
		openssl verify -CAfile "$STORE/est-cacerts_0.pem" "$1" >/dev/null 2>&1 &&
			SEEN_VERIFIES[$2]=1
	fi
	P_LABEL=${SEEN_LABEL[$2]#object=}
	P_FP=${SEEN_FP[$2]}
	P_POINT=${SEEN_POINT[$2]}
	P_VERIFIES=${SEEN_VERIFIES[$2]}
}

# state_value KEY: a line KEY=VALUE of the file copy's est-state, or empty.
state_value() {
	local line
	[ -f "$STORE/est-state.pem" ] || return 0
	while IFS= read -r line; do
		[ "${line%%=*}" = "$1" ] && { echo "${line#*=}"; return; }
	done <"$STORE/est-state.pem"
}

# store_problems [TOKEN_KILL]: both copies and the token after the next run; one problem a
# line. Sets S_LABEL, S_FP (the stored pair's label and fingerprint) and S_HALF (objects without
# a label). TOKEN_KILL = 1: the kill came inside a write of the token, where SoftHSM may have
# left a half-made object: it writes a new object's attributes one by one, the label late, so
# a kill there can leave one with no label (or no class) that no label names: not a problem.
store_problems() {
	local fsum ksum h l c rest got=0
	S_LABEL=
	S_FP=
	S_HALF=0
	dump_keyring "$T/c-key"
	fsum=$(cd "$STORE" && sha256sum -- *.pem 2>/dev/null)
	ksum=$(cd "$T/c-key" && sha256sum -- *.pem 2>/dev/null)
	[ "$fsum" = "$ksum" ] || echo "the keyring and the file copy differ (< keyring, > file copy):" \
		"$(diff <(echo "$ksum") <(echo "$fsum") | sed -n 's/^\([<>]\) [0-9a-f]*  /\1/p' |
			tr '\n' ' ')"
	h=$(sed -n 's/  est-enrolled-key-pair.pem$//p' <<<"$fsum")
	if [ -z "$h" ]; then
		echo "no est-enrolled-key-pair in the file copy"
		return
	fi
	[ -f "$STORE/est-cacerts_0.pem" ] || echo "no est-cacerts_0 in the file copy"
	pair_info "$STORE/est-enrolled-key-pair.pem" "$h"
	S_LABEL=$P_LABEL
	S_FP=$P_FP
	[ -n "$P_LABEL" ] || echo "est-enrolled-key-pair holds no PKCS#11 reference"
	[ -n "$P_FP" ] || echo "est-enrolled-key-pair holds no certificate"
	[ -z "$P_FP" ] || [ "$P_VERIFIES" -eq 1 ] ||
		echo "est-enrolled-key-pair does not verify against est-cacerts_0"
	[ "$(state_value pair_sha256)" = "$h" ] || echo "est-state does not vouch for the stored pair"
	[ -z "$(state_value sweep)" ] || echo "est-state still says sweep=$(state_value sweep)"
	if [ "$P_FP" = "$PRE_FP" ]; then
		[ "$P_LABEL" = "$PRE_LABEL" ] || echo "the old certificate with another key ($P_LABEL)"
	elif [ "$P_LABEL" = "$PRE_LABEL" ]; then
		echo "a new certificate with the old key (renew_rekey = true)"
	fi
	token_scan
	if [ -n "$TOK_ERR" ]; then
		echo "the module shows no token 'device': $TOK_ERR"
		return
	fi
	for c in "${TOK_OBJS[@]}"; do
		l=${c#* }
		case $l in
		"$P_LABEL") got=$((got + 1)) ;;
		"$PREFIX"*) echo "an orphan object in the token: ${c// / }" ;;
		- | "<empty>")
			S_HALF=$((S_HALF + 1))
			[ "${1:-0}" -eq 1 ] || echo "an object without a label in the token: ${c%% *}"
			;;
		*) echo "an object that is not the pair's in the token: ${c// / }" ;;
		esac
	done
	[ "$got" -eq 2 ] || echo "the token holds $got object(s) of the stored pair's key $P_LABEL, not 2"
	rest=${TOK_POINT[$P_LABEL]:-}
	# The DER octet string: 04, a one-byte length, the point.
	[ -n "$rest" ] && [ "${rest:4}" = "$P_POINT" ] ||
		echo "the token's public key $P_LABEL is not the certificate's"
}

# The first enrollment, normally, into the token.
start_server --nodelay # the answers leave at once, not after a delayed ACK
write_config "key_storage = pkcs11:token=device" "pkcs11_module = $P11_FORWARD" \
	"pkcs11_pin_file = $T/pin"
est check-config
check "renew_rekey is true by default" grep -qx "renew_rekey = true" "$T/out"
est run --once
is "first enrollment with the key in the token: exit 0" "$RC" 0
mkdir -p "$T/pre"
cp -a "$STORE" "$T/pre/store"
cp -a "$TOKENS" "$T/pre/tokens"
pair_info "$STORE/est-enrolled-key-pair.pem" pre
PRE_FP=$P_FP
PRE_LABEL=$P_LABEL
restore
store_problems >"$T/problems"
verdict "pre-state: both copies agree, the token holds the pair's key $PRE_LABEL" \
	"$(cat "$T/problems")"
if [ -z "$PRE_LABEL" ] || [ -z "$PRE_FP" ]; then
	echo "Bail out! no enrolled pair in the token"
	exit 1
fi

# The counting run: every mutation of the renewal, logged.
under_shim 0 renew --once
is "the renewal succeeds under the shim (counting only)" "$RC" 0
mapfile -t POINTS <"$T/kp.log"
M=${#POINTS[@]}
check "the shim sees the token's own writes" grep -q " $TOKENS/" "$T/kp.log"
# SoftHSM 2.6 rewrites token.object in place once a process (in its first C_OpenSession):
# ftruncate, then a stdio stream flushed at fclose. A kill in between leaves it empty and the
# module no longer shows the token ("No slot with token named device"): SoftHSM's file store
# does not survive that, whoever its user is. Those points are skipped.
declare -A INSIDE_TOKEN_OBJECT
inside=0
for ((n = 1; n <= M; n++)); do
	line=${POINTS[n - 1]}
	[ $inside -eq 1 ] && INSIDE_TOKEN_OBJECT[$n]=1
	case $line in
	*" ftruncate $TOKENS/"*/token.object) inside=1 ;;
	*" fclose $TOKENS/"*/token.object) inside=0 ;;
	esac
done
# The kill right after the commit, before the old key's first object is destroyed.
DESTROY=$(grep -m1 -n " unlink $TOKENS/.*\.object\$" "$T/kp.log" | cut -d: -f1)
echo "# the renewal: $M mutations, ${#INSIDE_TOKEN_OBJECT[@]} inside token.object's rewrite," \
	"the old key's destruction from $DESTROY"

TOTAL=0
HALF_MADE=()
for ((n = 1; n <= MAX_POINTS; n++)); do
	what="none: the renewal completes"
	[ "$n" -gt "$M" ] || what=${POINTS[n - 1]#* }
	what=${what//$T\//}
	what=${what//$KEYRING/KEYRING}
	label="N=$n [$what]"
	if [ -n "${INSIDE_TOKEN_OBJECT[$n]:-}" ]; then
		TAP_N=$((TAP_N + 1))
		echo "ok $TAP_N - $label # SKIP a kill there empties SoftHSM's token.object"
		continue
	fi
	restore
	under_shim "$n" renew --once
	probs=
	killed=0
	case $RC in
	0) [ "$n" -gt "$M" ] || probs="the renewal completed before mutation $n" ;;
	137)
		killed=1
		TOTAL=$((TOTAL + 1))
		;;
	*) probs="the renewal exits $RC, neither killed nor done: $(head -c 300 "$T/err")" ;;
	esac
	new_fp=
	if [ "$n" = "$DESTROY" ]; then
		# The pair is committed, the old key not yet destroyed: an orphan, and sweep=1 owed.
		pair_info "$STORE/est-enrolled-key-pair.pem" \
			"$(sha256sum <"$STORE/est-enrolled-key-pair.pem" | cut -d' ' -f1)"
		[ "$P_FP" != "$PRE_FP" ] && [ "$P_LABEL" != "$PRE_LABEL" ] && new_fp=$P_FP
		check "$label: killed after the commit, before the old key's destruction: a new pair" \
			test -n "$new_fp"
		is "$label: est-state says sweep=1" "$(state_value sweep)" 1
		token_scan
		is "$label: the old key's objects are still in the token (an orphan)" \
			"$(printf '%s\n' "${TOK_OBJS[@]}" | grep -c " $PRE_LABEL\$")" 2
	fi
	est run --once
	[ "$RC" -eq 0 ] || probs=${probs:+$probs$'\n'}"the next run exits $RC: $(head -c 300 "$T/err")"
	token_kill=0
	[ "$killed" -eq 1 ] && [[ ${POINTS[n - 1]} == *" $TOKENS/"* ]] && token_kill=1
	store_problems "$token_kill" >"$T/problems" # not in a subshell: it sets S_*, fills caches
	[ "$S_HALF" -eq 0 ] || HALF_MADE+=("$n")
	p=$(<"$T/problems")
	probs=${probs:+$probs${p:+$'\n'}}$p
	[ -z "$new_fp" ] || [ "$S_FP" = "$new_fp" ] ||
		probs=${probs:+$probs$'\n'}"the next run did not keep the committed pair"
	verdict "$label: the next run exits 0, the copies agree, the token holds only the pair's key" \
		"$probs"
	[ "$killed" -eq 1 ] || break
done
echo "# $TOTAL kill points exercised, ${#INSIDE_TOKEN_OBJECT[@]} skipped (inside token.object)"
[ ${#HALF_MADE[@]} -eq 0 ] || echo "# ${#HALF_MADE[@]} kills inside the key generation" \
	"(N=${HALF_MADE[0]}..${HALF_MADE[-1]}) left a half-made object without a label in the" \
	"token: SoftHSM's own, no label names it"
is "the loop ends where the renewal completes, after its $M mutations" "$n" $((M + 1))

# The identity works from the last state: a further renewal, again with a new key.
before=$S_LABEL
est renew --once
is "a further renewal exits 0" "$RC" 0
store_problems >"$T/problems"
verdict "after it, the copies agree and the token holds only the new pair's key" \
	"$(cat "$T/problems")"
check "with a new key" test "$S_LABEL" != "$before"
done_testing
