#!/bin/bash
# SPDX-License-Identifier: MIT
# Passes with keys that never leave the hardware (issue 16): a SoftHSM2 token of this test's own
# and an swtpm behind tpm2-abrmd on a private D-Bus, against the TLS test server. Enrollment,
# renewal authenticated by the hardware key over TLS 1.2 and 1.3 (rekey: the old token objects
# destroyed; no rekey: the same key), a 202 resumed with the same hardware key, PoP; both copies
# of the store hold references, never a plain key nor the PIN. A wrong PIN, a token absent or
# full, another TPM, a TPM gone: exit 1, the store untouched in both copies, no software key, no
# object left. A token renewal killed at each step of its commits: the stored pair always names
# a key the token holds, and no orphan object survives the next pass (sweep=1 in est-state).
. "$(dirname "$0")/helpers.sh"
. "$(dirname "$0")/hw.sh"

: "${KILLPOINT:?run through make check}"
keyctl show @u >/dev/null 2>&1 || skip_all "no kernel keyring"

PIN=Qx7-pin-4k9Z # distinctive: found by grep wherever it leaks
EXP=$T/exp
ALL=$T/all.log # every output of the binary, searched for the PIN at the end
PLAIN_KEY='-----BEGIN ([A-Z]+ )*PRIVATE KEY-----' # PKCS#8, EC, RSA, ENCRYPTED; not TSS2
CERT_DAYS=10                                       # 5d: not due; 10d: due
LABEL_RE='^est-it-[0-9a-f]{8}-[0-9a-f]{16}$' # keystore it, this store's id, the key's
: >"$ALL"

# est ARGS...: as helpers.sh's, everything it printed also kept in $ALL.
eval "orig_$(declare -f est)"
est() {
	orig_est "$@"
	cat "$T/out" "$T/err" >>"$ALL"
}

# hw_config KIND [EXTRA [est] LINES...]: the test's config for KIND (p11, p11-badpin,
# p11-absent, tpm, tpm-other), with an [export] of every kind unless NO_EXPORT is set.
hw_config() {
	local kind=$1 lines=()
	shift
	case $kind in
	p11) lines=("key_storage = pkcs11:token=device" "pkcs11_module = $SOFTHSM"
		"pkcs11_pin_file = $T/pin") ;;
	p11-badpin) lines=("key_storage = pkcs11:token=device" "pkcs11_module = $SOFTHSM"
		"pkcs11_pin_file = $T/badpin") ;;
	p11-absent) lines=("key_storage = pkcs11:token=nosuch" "pkcs11_module = $SOFTHSM"
		"pkcs11_pin_file = $T/pin") ;;
	tpm) lines=("key_storage = tpm" "tpm_tcti = $TCTI") ;;
	tpm-other) lines=("key_storage = tpm" "tpm_tcti = swtpm:port=$PORT_B") ;;
	esac
	write_config "${lines[@]}" "$@"
	[ -n "${NO_EXPORT:-}" ] && return 0
	export_all
}

# restart_server [est-server.py options]: the server again, same CA, same port (the store's
# recorded server), other options.
restart_server() {
	stop_server
	start_server --reuse-ca --port "$PORT" --cert-days "$CERT_DAYS" "$@"
}

# block PEM-LABEL: the first PEM block of that label from stdin.
block() { sed -n "/^-----BEGIN $1-----\$/,/^-----END $1-----\$/{p;/^-----END/q}"; }

# ref_label: the object label named by a PKCS#11 provider URI PEM on stdin ("" when none).
ref_label() {
	block 'PKCS#11 PROVIDER URI' | sed '1d;$d' | openssl base64 -d 2>/dev/null |
		grep -ao 'object=[^;]*' | head -1 | sed 's/^object=//'
}

# label COPY ALIAS: the object label of the reference in one copy's alias.
label() { copy_pipe "$1" "$2" 2>/dev/null | ref_label; }

# first_line COPY ALIAS
first_line() { copy_pipe "$1" "$2" 2>/dev/null | head -1; }

# first_pem COPY ALIAS: the first PEM header line (a request key has a line of its own before).
first_pem() { copy_pipe "$1" "$2" 2>/dev/null | grep -m1 '^-----BEGIN '; }

# cert_pub COPY: the public key of the enrolled certificate in one copy, PEM.
cert_pub() {
	copy_pipe "$1" est-enrolled-key-pair 2>/dev/null | openssl x509 -noout -pubkey 2>/dev/null
}

# token_pub LABEL: the token's public key of that label, PEM (read by pkcs11-tool, not by us).
token_pub() { p11_pubkey "$1" "$T/tokpub.pem" && cat "$T/tokpub.pem"; }

# our_labels: the labels of this keystore's objects in the token (LABEL_RE), sorted, each
# once.
our_labels() { p11_labels | grep -E "$LABEL_RE" | grep -v '^est-it-00000000-' | uniq; }

# referenced: the labels the store's pair and request key name (both copies), sorted, each once.
referenced() {
	local c a
	for c in keyring file; do
		for a in est-enrolled-key-pair est-request-key-pair; do label "$c" "$a"; done
	done | grep . | sort -u
}

# tpm_pub: the public key of a TSS2 PEM on stdin, through the tpm2 provider (openssl CLI).
tpm_pub() {
	block 'TSS2 PRIVATE KEY' >"$T/tss2.pem"
	[ -s "$T/tss2.pem" ] || return 1
	TPM2OPENSSL_TCTI="$TCTI" openssl pkey -provider default -provider tpm2 \
		-propquery '?provider=tpm2' -in "$T/tss2.pem" -pubout 2>/dev/null
}

# blob COPY ALIAS: the TSS2 PEM block of one copy's alias.
blob() { copy_pipe "$1" "$2" 2>/dev/null | block 'TSS2 PRIVATE KEY'; }

# store_state [KEYRING DIR]: the keyring's items (serial, description, digest) and the file
# copy's tree and digests (default: the test's store): equal before and after = untouched.
store_state() {
	local kr id dir=${2:-$T/store}
	if kr=$(kctl search @u keyring "${1:-$KEYRING}" 2>/dev/null); then
		for id in $(kctl rlist "$kr" 2>/dev/null); do
			echo "$id $(kctl rdescribe "$id" 2>/dev/null) $(kctl pipe "$id" 2>/dev/null | sha256sum)"
		done | sort
	fi
	if [ -d "$dir" ]; then
		(cd "$dir" && find . -printf '%p %y %l %s %m\n' | sort &&
			find . -type f -exec sha256sum {} + | sort)
	fi
}

# store_content: what both copies hold, item by item (no keyring serials, no data directory
# names): a pass that wrote the record and put it back leaves this unchanged.
store_content() {
	local kr id
	if kr=$(kctl search @u keyring "$KEYRING" 2>/dev/null); then
		for id in $(kctl rlist "$kr" 2>/dev/null); do
			echo "$(kctl rdescribe "$id" 2>/dev/null | cut -d';' -f5) $(kctl pipe "$id" 2>/dev/null | sha256sum)"
		done | sort
	fi
	(cd "$T/store" && for f in *.pem; do echo "$f $(sha256sum <"$f")"; done)
}

# leaks PATTERN...: grep -E/-F args; where the store (both copies; the one of LEAK_KEYRING and
# LEAK_DIR when set) and the exports hold it.
leaks() {
	local kr id
	grep -rl "$@" "${LEAK_DIR:-$T/store}" "$EXP" 2>/dev/null
	if kr=$(kctl search @u keyring "${LEAK_KEYRING:-$KEYRING}" 2>/dev/null); then
		for id in $(kctl rlist "$kr" 2>/dev/null); do
			kctl pipe "$id" 2>/dev/null | grep -q "$@" && echo "keyring item $id"
		done
	fi
	return 0
}

# plain_keys: where a plain private key is (nothing expected).
plain_keys() { leaks -E -- "$PLAIN_KEY"; }

# status_key [id]: what status --json says of where the enrolled key lives, as
# "STORAGE TOKEN OBJECT" (- for a field not given), then with "id" a line with its key_id: from the object that carries "key_storage",
# the certificate's first, else anywhere.
status_key() {
	est status --json
	"$PYTHON3" -c 'import json, sys
doc = json.load(open(sys.argv[1]))
found = []
def walk(v, path):
    if isinstance(v, dict):
        if "key_storage" in v:
            found.append((path, v))
        for k, x in v.items():
            walk(x, path + [k])
    elif isinstance(v, list):
        for x in v:
            walk(x, path)
walk(doc, [])
found.sort(key=lambda f: 0 if "certificate" in f[0] else 1)
if found:
    d = found[0][1]
    print(" ".join(str(d.get(k) if d.get(k) is not None else "-")
                   for k in ("key_storage", "key_token", "key_object")))
    if len(sys.argv) > 2:
        print(d.get("key_id"))' "$T/out" ${1:+"$1"} 2>/dev/null
}

# last_request OP: the number of the last request to OP in the server's log.
last_request() { grep -n "\"path\": \"[^\"]*/$1\"" "$SRV/requests.log" | tail -1 | cut -d: -f1; }

# request_auth OP: "path tls_version client-subject" of the last request to OP.
request_auth() {
	local n
	n=$(last_request "$1")
	[ -n "$n" ] || return 0
	echo "$(request_field "$n" path) $(request_field "$n" tls_version) $(request_field "$n" client_cert_subject)"
}

# pop_bound OP: the CSR of the last request to OP carries challengePassword = its tls-unique.
pop_bound() {
	"$PYTHON3" -c 'import json, sys, base64
from cryptography import x509
r = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l).get("op") == sys.argv[2]][-1]
csr = x509.load_der_x509_csr(base64.b64decode(r["body"]))
assert csr.is_signature_valid
cp = csr.attributes.get_attribute_for_oid(x509.ObjectIdentifier("1.2.840.113549.1.9.7")).value
cp = cp.decode() if isinstance(cp, bytes) else cp
assert r["tls_unique"] and cp == r["tls_unique"], (cp, r["tls_unique"])' "$SRV/requests.log" "$1"
}

# same DESCRIPTION ACTUAL EXPECTED: is, but an expectation with an empty field (a value an
# earlier step did not give) fails rather than matching an empty result.
same() {
	case " $3 " in
	*"  "*)
		tap_result 1 "$1"
		echo "#   expected has an empty field: '$3'"
		;;
	*) is "$@" ;;
	esac
}

# pair_agrees: both copies hold the pair, and agree in everything.
pair_agrees() { both_same est-enrolled-key-pair && copies_agree; }

# under_shim (helpers.sh) counts keyring and store-file mutations here; the token's own files
# are 032's, exports 030's. Its outputs go into $ALL too.
KP_PATHS=$T/store:$RUNTIME_DIRECTORY
eval "orig_$(declare -f under_shim)"
under_shim() {
	orig_under_shim "$@"
	cat "$T/out" "$T/err" >>"$ALL"
}

# sweep_flag COPY: est-state's sweep= line in one copy ("" when none).
sweep_flag() { copy_pipe "$1" est-state 2>/dev/null | grep '^sweep=' | head -1; }

# untouched WHAT BEFORE-STATE BEFORE-LABELS: after a pass that had to fail, the store is as it
# was (both copies), no plain key was made, and no token object was added or removed.
untouched() {
	is "$1: the store is untouched (keyring and file copy)" "$(store_state)" "$2"
	is "$1: no plain private key anywhere" "$(plain_keys)" ""
	[ -n "$3" ] && is "$1: no token object made or destroyed" "$(p11_labels)" "$3"
}

# ======== PKCS#11: a SoftHSM2 token in this test's directory ========
P11_N=95
if why=$(p11_missing "$EST_ENROLL"); then
	skip_part "$why" $P11_N
else
	p11_token "$T/p11" "$PIN"
	printf '%s\n' "$PIN" >"$T/pin"
	printf '9999-not-it\n' >"$T/badpin"
	chmod 600 "$T/pin" "$T/badpin"
	# Objects that are not this keystore's: another application's, another keystore's on the
	# same token (est-it-x-... is keystore "it-x", est-other-... keystore "other", and
	# est-it-00000000-... a keystore "it" of another store: another host, another path).
	for l in other-app est-it-x-0123456789abcdef est-other-0123456789abcdef \
		est-it-00000000-0123456789abcdef; do
		"${P11[@]}" --keypairgen --key-type EC:prime256v1 --label "$l" >/dev/null 2>&1
	done
	FOREIGN=$(p11_labels)

	start_server --cert-days $CERT_DAYS
	hw_config p11 "key_source = server"
	est check-config
	is "PKCS#11: key_source = server with a token key_storage: exit 2" "$RC" 2
	hw_config p11 "expiration_check = 5d"
	est -v -v -v check-config
	is "PKCS#11: check-config -v -v -v: exit 0" "$RC" 0
	check "PKCS#11: check-config names the PIN file, never the PIN" \
		bash -c 'grep -qF "$1" "$2" && ! grep -qF "$3" "$2" "$4"' _ "$T/pin" "$T/out" "$PIN" "$T/err"

	# -- first enrollment by a run pass --
	est run --once
	is "PKCS#11: run enrolls (exit 0)" "$RC" 0
	is "PKCS#11: the pair is a provider URI PEM (keyring)" \
		"$(first_line keyring est-enrolled-key-pair)" "-----BEGIN PKCS#11 PROVIDER URI-----"
	is "PKCS#11: the pair is a provider URI PEM (file copy)" \
		"$(first_line file est-enrolled-key-pair)" "-----BEGIN PKCS#11 PROVIDER URI-----"
	check "PKCS#11: both copies agree" pair_agrees
	L1=$(label file est-enrolled-key-pair)
	check "PKCS#11: the object label is est-<keystore>-<16 hex>" \
		bash -c '[[ $1 =~ $2 ]]' _ "$L1" "$LABEL_RE"
	is "PKCS#11: the token holds its private and public object" "$(p11_objects "$L1")" 2
	check "PKCS#11: the certificate carries the token's public key" \
		bash -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$(cert_pub keyring)" "$(token_pub "$L1")"
	check "PKCS#11: the certificate verifies against the server's root" chains keyring
	is "PKCS#11: no request key is left" "$(est_aliases file | grep -c request)" 0
	is "PKCS#11: no plain private key in the store, the keyring or the exports" "$(plain_keys)" ""
	check "PKCS#11: the exports were written" test -s "$EXP/cert.pem"
	is "PKCS#11: the exported key is the reference" "$(head -1 "$EXP/key.pem" 2>/dev/null)" \
		"-----BEGIN PKCS#11 PROVIDER URI-----"
	is "PKCS#11: status --json: the key lives in the token, under its label" "$(status_key)" \
		"pkcs11 device $L1"
	is "PKCS#11: status --json: and its object id is the token's" "$(status_key id | tail -1)" \
		"$("${P11[@]}" -O 2>/dev/null | grep -A4 "label: *$L1\$" | sed -n 's/^ *ID: *//p' | head -1)"
	is "PKCS#11: the token holds this keystore's one key, and the others' untouched" \
		"$(p11_labels)" "$(printf '%s\n' "$FOREIGN" "$L1" "$L1" | sort)"

	n=$(requests_count)
	est run --once
	is "PKCS#11: the next run has nothing to do (exit 0, no request)" "$RC:$(requests_count)" "0:$n"
	same "PKCS#11: and leaves the token alone" "$(our_labels)" "$L1"

	# -- a forced enrollment: a new key inside, the old one's objects destroyed --
	est enroll --once
	L2=$(label file est-enrolled-key-pair)
	same "PKCS#11: enroll makes a new key in the token, the old objects destroyed (exit 0)" \
		"$RC $(our_labels)" "0 $L2"
	check "PKCS#11: enroll: the certificate carries the new token key" \
		bash -c '[ "$1" != "$2" ] && [ -n "$3" ] && [ "$3" = "$4" ]' _ "$L2" "$L1" \
		"$(cert_pub keyring)" "$(token_pub "$L2")"

	# -- renewal with rekey, authenticated by the token key, at TLS 1.2 and 1.3 --
	prev=$L2
	for v in 1.2 1.3; do
		restart_server --auth cert --tls $v
		fp=$(leaf_fp file)
		est renew --once
		is "PKCS#11: TLS $v, client certificate required: renew (exit 0)" "$RC" 0
		is "PKCS#11: TLS $v: /simplereenroll authenticated by the token key" \
			"$(request_auth simplereenroll)" \
			"/.well-known/est/simplereenroll TLSv$v CN=gw-0042,O=Example,C=IT"
		new=$(label file est-enrolled-key-pair)
		check "PKCS#11: TLS $v: a new certificate for a new key in the token" \
			bash -c '[ "$1" != "$2" ] && [ "$3" != "$4" ] && [[ $3 =~ $5 ]]' _ \
			"$fp" "$(leaf_fp file)" "$new" "$prev" "$LABEL_RE"
		is "PKCS#11: TLS $v: the old objects destroyed, the new ones there" \
			"$(p11_objects "$prev"):$(p11_objects "$new")" "0:2"
		check "PKCS#11: TLS $v: the certificate carries the new token key" \
			bash -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$(cert_pub file)" "$(token_pub "$new")"
		check "PKCS#11: TLS $v: both copies agree" pair_agrees
		prev=$new
	done
	hw_config p11 "expiration_check = 5d" "renew_rekey = false"
	fp=$(leaf_fp file)
	est renew --once
	is "PKCS#11: renew_rekey = false: renew (exit 0)" "$RC" 0
	same "PKCS#11: renew_rekey = false: the same token key" \
		"$(label keyring est-enrolled-key-pair) $(label file est-enrolled-key-pair) $(our_labels)" \
		"$prev $prev $prev"
	check "PKCS#11: renew_rekey = false: a new certificate for it" \
		bash -c '[ "$1" != "$2" ] && [ "$3" = "$4" ]' _ "$fp" "$(leaf_fp file)" \
		"$(cert_pub file)" "$(token_pub "$prev")"

	# -- a due renewal in a run pass --
	hw_config p11 "expiration_check = 10d"
	est run --once
	is "PKCS#11: a due renewal in run (exit 0)" "$RC" 0
	new=$(label file est-enrolled-key-pair)
	is "PKCS#11: run: over /simplereenroll with the token key (TLS 1.3)" \
		"$(request_auth simplereenroll)" \
		"/.well-known/est/simplereenroll TLSv1.3 CN=gw-0042,O=Example,C=IT"
	same "PKCS#11: run: rekeyed, the old objects destroyed" \
		"$([ "$new" != "$prev" ] && echo new) $(our_labels)" "new $new"
	prev=$new

	# -- consumers first: the hooks run while the old key's objects are still in the token --
	mkdir -p "$T/hooks.d"
	printf '#!/bin/sh\n%s -O 2>/dev/null | sed -n "s/^ *label: *//p" | sort -u >"%s"\n' \
		"${P11[*]}" "$T/hook-labels" >"$T/hooks.d/10-labels"
	chmod 0755 "$T/hooks.d/10-labels"
	hw_config p11 "expiration_check = 10d" "hooks = $T/hooks.d"
	est run --once
	new=$(label file est-enrolled-key-pair)
	is "PKCS#11: a renewal with a hook (exit 0)" "$RC" 0
	check "PKCS#11: the hook ran with the old key's objects still there, and the new ones" \
		bash -c 'grep -qxF "$2" "$1" && grep -qxF "$3" "$1" && [ "$2" != "$3" ]' _ \
		"$T/hook-labels" "$prev" "$new"
	same "PKCS#11: after the command, only the new key's objects" "$(our_labels)" "$new"
	prev=$new

	# -- an idle pass binds neither the provider nor the token's module --
	hw_config p11 "expiration_check = 5d"
	LD_DEBUG=files est run --once
	is "PKCS#11: an idle run (exit 0)" "$RC" 0
	is "PKCS#11: loads neither pkcs11-provider nor the module" \
		"$(grep -cE 'file=.*(ossl-modules/pkcs11\.so|libsofthsm2\.so)' "$T/err")" 0

	# -- failures: the store untouched in both copies, no software key, no object left --
	restart_server
	hw_config p11-badpin "expiration_check = 5d"
	before=$(store_state)
	before_content=$(store_content)
	labels=$(p11_labels)
	est renew --once
	is "PKCS#11: a wrong PIN: renew exits 1" "$RC" 1
	untouched "PKCS#11: wrong PIN, renew" "$before" "$labels"
	est enroll --once
	is "PKCS#11: a wrong PIN: enroll exits 1" "$RC" 1
	untouched "PKCS#11: wrong PIN, enroll" "$before" "$labels"
	hw_config p11-absent "expiration_check = 5d"
	est enroll --once
	is "PKCS#11: a token that is not there: enroll exits 1" "$RC" 1
	untouched "PKCS#11: token absent" "$before" "$labels"

	# A full token: its directory on a small tmpfs, filled, in a mount namespace of its own
	# (the copy there is the token as it is; it goes with the namespace).
	hw_config p11 "expiration_check = 5d"
	if unshare -m --propagation private mount -t tmpfs -o size=64k tmpfs "$T/p11/tokens" \
		2>/dev/null; then
		cp -a "$T/p11/tokens" "$T/p11/tokens.copy"
		unshare -m --propagation private bash -c '
			set -u
			tok=$1 est=$2 conf=$3 out=$4 rc=$5 labels=$6
			shift 6
			mount -t tmpfs -o size=1m tmpfs "$tok" || exit 1
			cp -a "$tok.copy/." "$tok/" || exit 1
			dd if=/dev/zero of="$tok/filler" bs=4k 2>/dev/null
			"$est" -c "$conf" renew --once >"$out.out" 2>"$out.err"
			echo $? >"$rc"
			"$@" -O 2>/dev/null | sed -n "s/^ *label: *//p" | sort >"$labels"
		' _ "$T/p11/tokens" "$EST_ENROLL" "$T/est.conf" "$T/full" "$T/full.rc" \
			"$T/full.labels" "${P11[@]}"
		cat "$T/full.out" "$T/full.err" >>"$ALL" 2>/dev/null
		is "PKCS#11: a full token: renew exits 1" "$(cat "$T/full.rc" 2>/dev/null)" 1
		is "PKCS#11: a full token: no object left in it" "$(cat "$T/full.labels")" "$labels"
		# A key is made only after the record says sweep=1 (a kill in the generation must
		# not leave an object the next, idle, pass never looks for); when the token makes
		# none, the record is put back: the same items, not the same keyring serials.
		is "PKCS#11: token full: both copies hold what they held" "$(store_content)" \
			"$before_content"
		is "PKCS#11: token full: no sweep=1 left in the record" \
			"$(grep -c '^sweep=1' "$T/store/est-state.pem")" 0
		is "PKCS#11: token full: no plain private key anywhere" "$(plain_keys)" ""
	else
		skip_part "no mount namespace with a tmpfs (unshare -m)" 5
	fi

	# -- a renewal answered 202: the request key is kept, the next pass resumes with it --
	hw_config p11 "expiration_check = 10d"
	behaviour "simplereenroll-202 1 1"
	fp=$(leaf_fp file)
	est run --once
	is "PKCS#11: renewal answered 202: exit 75" "$RC" 75
	is "PKCS#11: 202: the request key is a provider URI PEM (keyring, file copy)" \
		"$(first_pem keyring est-request-key-pair) $(first_pem file est-request-key-pair)" \
		"-----BEGIN PKCS#11 PROVIDER URI----- -----BEGIN PKCS#11 PROVIDER URI-----"
	req=$(label file est-request-key-pair)
	check "PKCS#11: 202: a new key in the token, the pair's kept" bash -c \
		'[[ $1 =~ $3 ]] && [ "$1" != "$2" ] && [ "$(printf "%s\n" "$1" "$2" | sort)" = "$4" ]' _ \
		"$req" "$prev" "$LABEL_RE" "$(our_labels)"
	same "PKCS#11: 202: the current pair stays (both copies)" \
		"$(leaf_fp keyring) $(label keyring est-enrolled-key-pair)" "$fp $prev"
	check "PKCS#11: 202: both copies agree" pair_agrees
	wait_not_before
	est run --once
	is "PKCS#11: the next run completes the renewal (exit 0)" "$RC" 0
	same "PKCS#11: with the request's token key" \
		"$(label keyring est-enrolled-key-pair) $(label file est-enrolled-key-pair)" "$req $req"
	check "PKCS#11: the certificate carries that key" \
		bash -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$(cert_pub keyring)" "$(token_pub "$req")"
	same "PKCS#11: the request key gone from both copies, the old objects from the token" \
		"$(est_aliases keyring | grep -c request) $(est_aliases file | grep -c request) $(our_labels)" \
		"0 0 $req"
	behaviour ""
	prev=$req

	# -- PoP: the CSR signed in the token carries the channel binding --
	restart_server --pop
	hw_config p11 "expiration_check = 5d" "pop = true"
	est renew --once
	is "PKCS#11: PoP required, pop = true: renew (exit 0)" "$RC" 0
	check "PKCS#11: PoP: the CSR signed in the token carried its connection's tls-unique" \
		pop_bound simplereenroll
	new=$(label file est-enrolled-key-pair)
	check "PKCS#11: PoP: the certificate carries the new token key" \
		bash -c '[ "$1" != "$2" ] && [ -n "$3" ] && [ "$3" = "$4" ]' _ "$new" "$prev" \
		"$(cert_pub file)" "$(token_pub "$new")"
	prev=$new
	restart_server

	# -- an object of this keystore's label form that the store does not name: swept; others kept --
	orphan=$(label file est-enrolled-key-pair)
	orphan=${orphan%-*}-00000000deadbeef # this store's prefix
	"${P11[@]}" --keypairgen --key-type EC:prime256v1 --label $orphan >/dev/null 2>&1
	hw_config p11 "expiration_check = 5d"
	est renew --once
	new=$(label file est-enrolled-key-pair)
	same "PKCS#11: an unrecorded est-it- object is swept by the next renewal (exit 0)" \
		"$RC $(our_labels)" "0 $new"
	is "PKCS#11: objects of other applications and other keystores are kept" \
		"$(p11_labels | grep -vxF "$new")" "$FOREIGN"
	prev=$new

	# -- kill points over a token renewal (rekey) --
	# One kill at each step that changes what a reader of the store sees: keyring operations,
	# renames, data directories made and removed (the writes and fsyncs between them are
	# 030's). A renewal commits several times (the request key, the pair, est-state without
	# sweep=1): every kill leaves a stored pair whose key the token holds, the next renewal
	# leaves no object the store does not name, and a kill after the pair's commit but before
	# the old key's destruction is recorded (sweep=1) and swept by an idle run.
	NO_EXPORT=1 hw_config p11 "expiration_check = 5d"
	under_shim 0 renew --once
	is "PKCS#11: kill points: a counted renewal (exit 0)" "$RC" 0
	points=$(awk '$2 ~ /^(add_key|keyctl_|rename|rmdir|mkdtemp)/ { print $1 }' "$T/kp.log" 2>/dev/null)
	prev=$(label file est-enrolled-key-pair)
	problems=
	killed=0
	stale=0
	hit=0
	swept=0
	for at in $points 0; do
		under_shim "$at" renew --once
		[ "$RC" = 137 ] && killed=$((killed + 1))
		# Each copy names a key whose objects the token holds, and the certificate fits it.
		for c in keyring file; do
			l=$(label $c est-enrolled-key-pair)
			if [ -z "$l" ] || [ "$(p11_objects "$l")" != 2 ]; then
				problems+="at $at: the $c copy names '$l', not in the token; "
			elif [ "$(cert_pub $c)" != "$(token_pub "$l")" ]; then
				problems+="at $at: the $c copy's certificate is not for $l; "
			fi
		done
		kl=$(label keyring est-enrolled-key-pair)
		fl=$(label file est-enrolled-key-pair)
		if [ "$kl" = "$fl" ] && [ "$fl" != "$prev" ] && [ "$(p11_objects "$prev")" != 0 ]; then
			# Committed, the old key not yet destroyed: recorded, and swept by an idle pass.
			hit=$((hit + 1))
			[ "$(sweep_flag keyring) $(sweep_flag file)" = "sweep=1 sweep=1" ] || stale=$((stale + 1))
			n=$(requests_count)
			est run --once
			[ "$RC:$(requests_count):$(p11_objects "$prev"):$(sweep_flag file)" = "0:$n:0:" ] &&
				swept=$((swept + 1))
		fi
		est renew --once
		[ "$RC" = 0 ] || problems+="at $at: the next renewal exits $RC; "
		[ "$(our_labels)" = "$(referenced)" ] ||
			problems+="at $at: the token holds $(our_labels | tr '\n' ' ')for $(referenced | tr '\n' ' '); "
		prev=$(label file est-enrolled-key-pair)
	done
	is "PKCS#11: kill points: each of the $(echo $points | wc -w) killed the renewal" \
		"$killed" "$(echo $points | wc -w)"
	is "PKCS#11: kill points: the store always names a key the token holds, and no orphan survives the next pass" \
		"$problems" ""
	check "PKCS#11: kill points: a kill between the commit and the old key's destruction ($hit)" \
		test "$hit" -gt 0
	is "PKCS#11: kill points: there est-state records sweep=1 (both copies)" "$stale" 0
	is "PKCS#11: kill points: an idle run then sweeps the old objects, with no request" \
		"$swept" "$hit"
	is "PKCS#11: kill points: others' objects kept" \
		"$(p11_labels | grep -vxF "$prev")" "$FOREIGN"

	# -- the PIN: nowhere --
	hw_config p11 "expiration_check = 5d"
	est -v -v -v renew --once
	is "PKCS#11: a verbose renewal (exit 0)" "$RC" 0
	is "PKCS#11: the PIN is in no output of any pass nor of check-config" \
		"$(grep -cF "$PIN" "$ALL")" 0
	is "PKCS#11: the PIN is in neither copy of the store nor the exports" "$(leaks -F -- "$PIN")" ""

	# -- a move to another label while the record owes a sweep: the move is not lost --
	hw_config p11 "expiration_check = 10d"
	behaviour "simplereenroll-202 1 1"
	est run --once
	is "PKCS#11: a renewal answered 202 leaves sweep=1 owed (both copies)" \
		"$(sweep_flag file) $(sweep_flag keyring)" "sweep=1 sweep=1"
	behaviour ""
	hw_config p11 "expiration_check = 5d" "label = newlabel"
	est run --once
	is "PKCS#11: then label = newlabel: the next run enrolls anew (exit 0)" "$RC" 0
	is "PKCS#11: under the new label" "$(request_field "$(last_request simpleenroll)" label)" \
		"newlabel"
	is "PKCS#11: the record names it, and owes no sweep" \
		"$(copy_pipe file est-state | grep -E '^(label|sweep)=' | tr '\n' ' ')" "label=newlabel "

	# -- import: a reference pair as the TLS client pair; only where key_storage can use it --
	est import client-auth-certs "$EXP/bundle.pem"
	is "PKCS#11: import of the exported reference pair as tls_client_alias (exit 0)" "$RC" 0
	is "PKCS#11: the imported alias holds the reference" \
		"$(head -1 "$T/store/client-auth-certs.pem" 2>/dev/null)" \
		"-----BEGIN PKCS#11 PROVIDER URI-----"
	imported=$(our_labels)
	est renew --once
	is "PKCS#11: a rekey keeps the key the imported pair names" "$(p11_labels | grep -cxF "$imported")" 2
	write_config
	est import client-auth-certs "$EXP/bundle.pem"
	is "PKCS#11: with key_storage = software the reference is refused (exit 2)" "$RC" 2
	check "PKCS#11: and says why" grep -q "the key lives in a PKCS#11 token, but key_storage = software" "$T/err"
	unset SOFTHSM2_CONF
fi

# ======== TPM: an swtpm behind tpm2-abrmd on a private D-Bus ========
TPM_N=51
if why=$(tpm_missing); then
	skip_part "$why" $TPM_N
else
	export TSS2_LOG=all+none # the TCTI loader's own trace is not what this test reads
	stop_server
	keyctl clear "$(keyring_id)" 2>/dev/null
	rm -rf "$T/store" "$T/srv" "$EXP"
	PORT_A=$(start_swtpm "$T/tpm-a")
	SWTPM_PIDS="$(cat "$T/tpm-a/pid")"
	start_abrmd "$PORT_A" || sed 's/^/#   abrmd: /' "$T/abrmd.log" | head -20
	TCTI="tabrmd:bus_type=session,bus_name=$BUS_NAME"
	start_server --cert-days $CERT_DAYS --behaviour "202 1 1"

	hw_config tpm "key_source = server"
	est check-config
	is "TPM: key_source = server with key_storage = tpm: exit 2" "$RC" 2

	# -- first enrollment answered 202, resumed with the same TPM key --
	hw_config tpm "expiration_check = 5d"
	est run --once
	is "TPM: enrollment answered 202: exit 75" "$RC" 75
	is "TPM: 202: the request key is a TSS2 blob (keyring, file copy)" \
		"$(first_pem keyring est-request-key-pair) $(first_pem file est-request-key-pair)" \
		"-----BEGIN TSS2 PRIVATE KEY----- -----BEGIN TSS2 PRIVATE KEY-----"
	is "TPM: 202: no pair yet" \
		"$(est_aliases keyring | grep -c enrolled) $(est_aliases file | grep -c enrolled)" "0 0"
	reqblob=$(blob file est-request-key-pair)
	reqpub=$(printf '%s\n' "$reqblob" | tpm_pub)
	check "TPM: 202: the TPM loads the request key" test -n "$reqpub"
	wait_not_before
	est run --once
	is "TPM: the next run completes the enrollment (exit 0)" "$RC" 0
	is "TPM: the pair is a TSS2 blob (keyring, file copy)" \
		"$(first_line keyring est-enrolled-key-pair) $(first_line file est-enrolled-key-pair)" \
		"-----BEGIN TSS2 PRIVATE KEY----- -----BEGIN TSS2 PRIVATE KEY-----"
	check "TPM: both copies agree" pair_agrees
	same "TPM: the pair holds the request's blob" "$(blob keyring est-enrolled-key-pair)" "$reqblob"
	check "TPM: the certificate carries the TPM key of the request" \
		bash -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$(cert_pub keyring)" "$reqpub"
	check "TPM: the certificate verifies against the server's root" chains file
	is "TPM: the request key is gone (both copies)" \
		"$(est_aliases keyring | grep -c request) $(est_aliases file | grep -c request)" "0 0"
	is "TPM: no plain private key in the store, the keyring or the exports" "$(plain_keys)" ""
	is "TPM: the exported key is the TSS2 blob" "$(head -1 "$EXP/key.pem" 2>/dev/null)" \
		"-----BEGIN TSS2 PRIVATE KEY-----"
	is "TPM: status --json: the key lives in the TPM (no token, no object)" "$(status_key)" "tpm - -"
	behaviour ""

	# -- renewal with rekey, authenticated by the TPM key, at TLS 1.2 and 1.3 --
	for v in 1.2 1.3; do
		restart_server --auth cert --tls $v
		oldblob=$(blob file est-enrolled-key-pair)
		oldpub=$(cert_pub file)
		est renew --once
		is "TPM: TLS $v, client certificate required: renew (exit 0)" "$RC" 0
		is "TPM: TLS $v: /simplereenroll authenticated by the TPM key" \
			"$(request_auth simplereenroll)" \
			"/.well-known/est/simplereenroll TLSv$v CN=gw-0042,O=Example,C=IT"
		newblob=$(blob file est-enrolled-key-pair)
		check "TPM: TLS $v: a new key made in the TPM, its blob in the pair" \
			bash -c '[ -n "$1" ] && [ "$1" != "$2" ] && [ "$3" != "$4" ]' _ \
			"$newblob" "$oldblob" "$(cert_pub file)" "$oldpub"
		check "TPM: TLS $v: the certificate carries the new TPM key" bash -c \
			'[ -n "$1" ] && [ "$1" = "$2" ]' _ "$(cert_pub file)" "$(printf '%s\n' "$newblob" | tpm_pub)"
		check "TPM: TLS $v: both copies agree" pair_agrees
	done
	hw_config tpm "expiration_check = 5d" "renew_rekey = false"
	oldblob=$(blob file est-enrolled-key-pair)
	fp=$(leaf_fp file)
	est renew --once
	is "TPM: renew_rekey = false: renew (exit 0)" "$RC" 0
	check "TPM: renew_rekey = false: the same blob, a new certificate for it" \
		bash -c '[ "$1" = "$2" ] && [ "$3" = "$4" ] && [ "$5" != "$6" ]' _ \
		"$(blob keyring est-enrolled-key-pair)" "$oldblob" "$(blob file est-enrolled-key-pair)" \
		"$oldblob" "$(leaf_fp file)" "$fp"

	# -- an idle pass binds no TPM provider --
	hw_config tpm "expiration_check = 5d"
	LD_DEBUG=files est run --once
	is "TPM: an idle run (exit 0)" "$RC" 0
	is "TPM: loads neither tpm2-openssl nor a TCTI" \
		"$(grep -cE 'file=.*(ossl-modules/tpm2\.so|libtss2-tcti)' "$T/err")" 0

	# -- an RSA key in the TPM: libssl signs with it (RSA-PSS) through crypto_hw_tls.c --
	hw_config tpm "expiration_check = 5d" "key_algorithm = RSA"
	restart_server --auth cert --tls 1.3
	est renew --once
	is "TPM RSA: a renewal makes an RSA key in the TPM (exit 0)" "$RC" 0
	is "TPM RSA: the certificate's key is RSA" \
		"$(cert_pub file | openssl pkey -pubin -noout -text 2>/dev/null | head -1)" \
		"Public-Key: (2048 bit)"
	for v in 1.2 1.3; do
		restart_server --auth cert --tls $v
		est renew --once
		is "TPM RSA: TLS $v, client certificate required: renew (exit 0)" "$RC" 0
		is "TPM RSA: TLS $v: /simplereenroll authenticated by the TPM's RSA key" \
			"$(request_auth simplereenroll)" \
			"/.well-known/est/simplereenroll TLSv$v CN=gw-0042,O=Example,C=IT"
	done
	hw_config tpm "expiration_check = 5d"
	est renew --once
	is "TPM: and back to an EC key (exit 0)" "$RC" 0

	# -- PoP asked by /csrattrs, on TLS 1.2 --
	restart_server --csrattrs-preset pop --pop --tls 1.2
	hw_config tpm "expiration_check = 5d"
	oldblob=$(blob file est-enrolled-key-pair)
	est enroll --once
	is "TPM: csrattrs asks for PoP: enroll (exit 0)" "$RC" 0
	check "TPM: PoP: the CSR signed in the TPM carried its connection's tls-unique" \
		pop_bound simpleenroll
	check "TPM: PoP: the certificate carries the new TPM key" bash -c \
		'[ "$1" != "$2" ] && [ -n "$3" ] && [ "$3" = "$4" ]' _ "$(blob file est-enrolled-key-pair)" \
		"$oldblob" "$(cert_pub file)" "$(blob file est-enrolled-key-pair | tpm_pub)"
	restart_server

	# -- another TPM refuses the blob: the pair copied into a second store (keyring
	#    $KEYRING-b, files in $T/store-b) whose config names another swtpm --
	PORT_B=$(start_swtpm "$T/tpm-b")
	SWTPM_PIDS="$SWTPM_PIDS $(cat "$T/tpm-b/pid")"
	NO_EXPORT=1 hw_config tpm-other "expiration_check = 5d"
	sed -e "s|^keyring = $KEYRING\$|keyring = $KEYRING-b|" -e "s|^path = $T/store\$|path = $T/store-b|" \
		"$T/est.conf" >"$T/other.conf"
	cp -a "$T/store" "$T/store-b"
	EXTRA_KEYRINGS="$KEYRING-b"
	# est: that store, with a runtime directory of its own (its serials file).
	other() {
		RUNTIME_DIRECTORY="$T/run-b" "$EST_ENROLL" -c "$T/other.conf" "$@" >"$T/out" 2>"$T/err"
		RC=$?
		cat "$T/out" "$T/err" >>"$ALL"
	}
	other load
	is "TPM: the copied store loads into its keyring (exit 0)" "$RC" 0
	before=$(store_state "$KEYRING-b" "$T/store-b")
	other renew --once
	is "TPM: the blob on another TPM: renew exits 1" "$RC" 1
	is "TPM: another TPM: that store is untouched (keyring and file copy)" \
		"$(store_state "$KEYRING-b" "$T/store-b")" "$before"
	is "TPM: another TPM: no plain private key there" \
		"$(LEAK_KEYRING=$KEYRING-b LEAK_DIR=$T/store-b plain_keys)" ""
	stop_swtpm "$T/tpm-b"
	hw_config tpm "expiration_check = 5d"
	before=$(store_state)

	# -- the TPM gone: abrmd and swtpm stopped --
	stop_abrmd
	stop_swtpm "$T/tpm-a"
	est renew --once
	is "TPM: the TPM gone: renew exits 1" "$RC" 1
	untouched "TPM: gone, renew" "$before" ""
	est enroll --once
	is "TPM: the TPM gone: enroll exits 1" "$RC" 1
	untouched "TPM: gone, enroll" "$before" ""
	PORT_A=$(start_swtpm "$T/tpm-a")
	SWTPM_PIDS="$SWTPM_PIDS $(cat "$T/tpm-a/pid")"
	start_abrmd "$PORT_A"
	est renew --once
	is "TPM: the TPM back (same state): the kept blob renews (exit 0)" "$RC" 0
	is "TPM: no plain private key at the end" "$(plain_keys)" ""
fi

done_testing
