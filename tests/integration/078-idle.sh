#!/bin/bash
# SPDX-License-Identifier: MIT
# A pass with nothing due decides from the stored bytes: est-state records the SHA-256 of the
# pair it vouches for, and such a pass, status, load and the [export] files read neither
# openssl.cnf nor a key (an openssl.cnf that does not parse is only complained about by a pass
# with work). A record without the digest (an upgrade) gets it once, without an enrollment; a
# damaged pair is not trusted for its digest; a renewal records the new pair's digest; the
# subject's values are checked when a CSR can be made, with FILE:LINE.
. "$(dirname "$0")/helpers.sh"

# not COMMAND...: succeeds when the command fails.
not() { ! "$@"; }

start_server
write_config
cat >>"$T/est.conf" <<EOF

[export app]
key = $T/exp/key.pem
cert = $T/exp/cert.pem
ca = $T/exp/ca.pem
EOF
est run --once
is "enrolled: exit 0" "$RC" 0

# pair_digest keyring|file: the pair_sha256 est-state records in that copy.
pair_digest() {
	copy_pipe "$1" est-state | sed -n 's/^pair_sha256=//p'
}
pair_sum() {
	file_pipe est-enrolled-key-pair | sha256sum | cut -d' ' -f1
}
is "the file copy's est-state records the pair's SHA-256" "$(pair_digest file)" "$(pair_sum)"
is "so does the keyring's" "$(pair_digest keyring)" "$(pair_sum)"
# cacerts_digest: what est-state records of the CA certificates; cacerts_sum: their items' SHA-256.
cacerts_digest() {
	file_pipe est-state | sed -n 's/^cacerts_sha256=//p'
}
cacerts_sum() {
	local i=0
	while [ -f "$T/store/est-cacerts_$i.pem" ]; do
		cat "$T/store/est-cacerts_$i.pem"
		i=$((i + 1))
	done | sha256sum | cut -d' ' -f1
}
is "est-state records the CA certificates' SHA-256" "$(cacerts_digest)" "$(cacerts_sum)"

# An openssl.cnf that does not parse: only a pass that reads it says so.
printf 'openssl_conf = init\n[init\nx = y\n' >"$T/bad.cnf"
export OPENSSL_CONF="$T/bad.cnf"
complained() { grep -q "bad.cnf: .*missing close square bracket" "$T/err"; }

n=$(requests_count)
est run --once
is "idle pass: exit 0" "$RC" 0
check "idle pass: nothing due" grep -q "nothing due" "$T/err"
check "idle pass: openssl.cnf is not read" not complained
is "idle pass: no request" "$(requests_count)" "$n"
est status
is "status: exit 0" "$RC" 0
check "status: openssl.cnf is not read" not complained
keyctl clear "$(keyring_id)"
est load
is "load into an emptied keyring: exit 0" "$RC" 0
check "load: openssl.cnf is not read" not complained
check "load: the pair is back" both_same est-enrolled-key-pair

# The [export] files, as the store holds them, written without parsing the pair.
rm -rf "$T/exp"
est run --once
is "idle pass with the exports gone: exit 0" "$RC" 0
check "idle pass, exports: openssl.cnf is not read" not complained
check "the key file is the stored key, as openssl reads it" \
	cmp -s "$T/exp/key.pem" <(openssl pkey -in "$T/store/est-enrolled-key-pair.pem")
check "the certificate file starts with the leaf, as openssl reads it" \
	cmp -s <(openssl x509 -in "$T/exp/cert.pem") \
	<(openssl x509 -in "$T/store/est-enrolled-key-pair.pem")
is "the certificate file holds every certificate of the pair" \
	"$(grep -c 'BEGIN CERTIFICATE' "$T/exp/cert.pem")" \
	"$(grep -c 'BEGIN CERTIFICATE' "$T/store/est-enrolled-key-pair.pem")"
is "the key file is 0600" "$(stat -c %a "$T/exp/key.pem")" 600

# An upgrade: a record without the digest. The pair is checked once and its digest recorded.
state_without_digest() {
	sed -i '/^pair_sha256=/d; /^cacerts_sha256=/d' "$T/store/..data/est-state.pem"
}
state_without_digest
n=$(requests_count)
est run --once
is "record without the digest: exit 0" "$RC" 0
check "record without the digest: the digest is recorded" \
	grep -q "recorded the SHA-256 of the stored pair and CA certificates" "$T/err"
is "record without the digest: no request" "$(requests_count)" "$n"
is "record without the digest: the file copy has it again" "$(pair_digest file)" "$(pair_sum)"
is "record without the digest: the keyring too" "$(pair_digest keyring)" "$(pair_sum)"
is "record without the digest: and the CA certificates' digest" "$(cacerts_digest)" "$(cacerts_sum)"
check "record without the digest: openssl.cnf was read for that check" complained
est run --once
is "the next pass: exit 0" "$RC" 0
check "the next pass records nothing" not grep -q "recorded the stored pair" "$T/err"
check "the next pass reads no openssl.cnf" not complained

# A damaged pair: its digest no longer matches, so the whole way decides: it is unreadable,
# so a new pair is enrolled.
cp "$T/store/est-enrolled-key-pair.pem" "$T/pair-before.pem"
awk '/BEGIN PRIVATE KEY/ { getline; print "-----BEGIN PRIVATE KEY-----"; print "AAAA" substr($0, 5); next } { print }' \
	"$T/pair-before.pem" >"$T/store/est-enrolled-key-pair.pem"
check "the pair is damaged" not cmp -s "$T/pair-before.pem" "$T/store/est-enrolled-key-pair.pem"
e=$(requests_to simpleenroll)
est run --once
is "damaged pair: exit 0" "$RC" 0
is "damaged pair: one new enrollment" "$(requests_to simpleenroll)" "$((e + 1))"
check "damaged pair: the new pair fits" pair_fits file
check "damaged pair: both copies agree" copies_agree
is "damaged pair: the record vouches for the new pair" "$(pair_digest file)" "$(pair_sum)"

# A damaged CA certificate (still PEM, bytes of its DER changed): not the set the record
# vouches for, so the whole way reads it and says what is wrong (it does not parse, or the pair
# no longer chains to it), and nothing is recorded for it.
good=$(cacerts_digest)
cp "$T/store/est-cacerts_0.pem" "$T/ca-before.pem"
awk 'NR == 3 { $0 = (substr($0, 1, 10) == "AAAAAAAAAA" ? "BBBBBBBBBB" : "AAAAAAAAAA") substr($0, 11) } { print }' \
	"$T/ca-before.pem" >"$T/store/est-cacerts_0.pem"
est run --once
check "damaged CA certificate: not passed as idle" not grep -q "^est-enroll: nothing due$" "$T/err"
check "damaged CA certificate: the pass says what is wrong with it" \
	grep -Eq "est-cacerts_0 is not a certificate|do not chain" "$T/err"
is "damaged CA certificate: the record still vouches for the set it was given" \
	"$(cacerts_digest)" "$good"
cp "$T/ca-before.pem" "$T/store/est-cacerts_0.pem"
est run --once
is "CA certificate restored: exit 0" "$RC" 0
check "CA certificate restored: the idle way again, nothing said" \
	not grep -q "do not chain\|recorded" "$T/err"

# A renewal records its pair's digest and keeps the bootstrap time.
at=$(file_pipe est-state | sed -n 's/^bootstrapped=//p')
est renew --once
is "renewal: exit 0" "$RC" 0
is "renewal: the record vouches for the renewed pair" "$(pair_digest file)" "$(pair_sum)"
is "renewal: the bootstrap time stays" "$(file_pipe est-state | sed -n 's/^bootstrapped=//p')" "$at"
unset OPENSSL_CONF

# The subject's values are checked once a CSR can be made: an idle pass does not need it.
sed -i 's/^subject = .*/subject = CN=gw,C=ITALY/' "$T/est.conf"
line=$(grep -n '^subject' "$T/est.conf" | cut -d: -f1)
est run --once
is "a subject value unfit for its type: the idle pass exits 0" "$RC" 0
est check-config
is "check-config: exit 2 (a configuration error)" "$RC" 2
check "check-config: FILE:LINE: subject: why" grep -q "est.conf:$line: subject: value not valid" "$T/err"
est enroll --once
is "enroll: exit 2 (a configuration error)" "$RC" 2
check "enroll: FILE:LINE: subject" grep -q "est.conf:$line: subject: value not valid" "$T/err"
check "enroll: the pair is kept" pair_fits file

done_testing
