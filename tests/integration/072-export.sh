#!/bin/bash
# SPDX-License-Identifier: MIT
# [export NAME] sections: key, certificate chain and CA files with their owner, group and mode,
# written when missing or stale (after a change, on load, when a section is added), untouched by
# an idle pass; config errors FILE:LINE: KEY: reason.
. "$(dirname "$0")/helpers.sh"

command -v setpriv >/dev/null || skip_all "setpriv not installed"

umask 077
G=47114
OTHER=65534
chmod 0755 "$T"
E="$T/exp"

mode_of() { stat -c %a "$1" 2>/dev/null; }
owner_of() { stat -c %u:%g "$1" 2>/dev/null; }
stamp() { stat -c '%i %Y' "$@" 2>/dev/null; }
# fps FILE: the SHA-256 fingerprints of the certificates in FILE, in order.
fps() {
	rm -rf "$T/split" && mkdir "$T/split"
	awk -v d="$T/split" '/-BEGIN CERTIFICATE-/ { n++; f = sprintf("%s/%03d.pem", d, n) }
		f { print > f } /-END CERTIFICATE-/ { close(f); f = "" }' "$1"
	for c in "$T/split"/*.pem; do
		[ -e "$c" ] && openssl x509 -in "$c" -noout -fingerprint -sha256
	done
}
exports() {
	cat >>"$T/est.conf" <<EOC

[export web]
key = $E/web/key.pem
cert = $E/web/cert.pem
ca = $E/web/ca.pem
group = $G
mode = 0640

[export trust]
ca = $E/trust/ca.pem
owner = $OTHER
EOC
}

start_server --intermediate --enroll-chain
write_config
exports
est check-config
is "check-config accepts the [export] sections" "$RC" 0
check "and prints them" grep -qx "\[export web\]" "$T/out"
est run --once
is "enrolled with two [export] sections: exit 0" "$RC" 0

for f in key cert ca; do
	check "web: the $f file is there" test -s "$E/web/$f.pem"
done
is "web: the key file is 0640, root and the group" "$(mode_of "$E/web/key.pem") $(owner_of "$E/web/key.pem")" "640 0:$G"
is "web: the cert file is 0644, root and the group" "$(mode_of "$E/web/cert.pem") $(owner_of "$E/web/cert.pem")" "644 0:$G"
is "web: the ca file is 0644" "$(mode_of "$E/web/ca.pem")" 644
is "trust: the ca file is 0644, owned by $OTHER" "$(mode_of "$E/trust/ca.pem") $(owner_of "$E/trust/ca.pem")" "644 $OTHER:0"
is "the directories made on the way are 0755 (umask 077)" \
	"$(mode_of "$E") $(mode_of "$E/web") $(mode_of "$E/trust")" "755 755 755"
check "no temporary file is left" bash -c "! ls '$E/web' | grep -q tmp"

is "the key file holds one private key and nothing else" "$(grep -c -- '-----BEGIN' "$E/web/key.pem")" 1
check "the key file is a private key" openssl pkey -in "$E/web/key.pem" -noout
is "the key matches the certificate" "$(openssl pkey -in "$E/web/key.pem" -pubout)" \
	"$(openssl x509 -in "$E/web/cert.pem" -noout -pubkey)"
is "the cert file starts with the enrolled certificate" \
	"$(fps "$E/web/cert.pem" | head -1)" "$(leaf_fp keyring)"
is "the cert file is the leaf then its chain, as stored" "$(fps "$E/web/cert.pem")" \
	"$(fps "$T/store/est-enrolled-key-pair.pem")"
check "the chain is there (the server sends one)" test "$(fps "$E/web/cert.pem" | wc -l)" -ge 2
anchors file >"$T/anchors.pem"
is "the ca file is every est-cacerts_N, in order" "$(fps "$E/web/ca.pem")" "$(fps "$T/anchors.pem")"
check "there are several CA certificates (root and intermediate)" test "$(anchor_count file)" -ge 2
check "the ca files of both sections agree" cmp -s "$E/web/ca.pem" "$E/trust/ca.pem"

# A member of the group reads the key through the directories made for it; others cannot.
check "a member of the group reads the key file" \
	setpriv --reuid=$OTHER --regid=$OTHER --groups=$G openssl pkey -in "$E/web/key.pem" -noout
check "a non-member cannot read the key file" bash -c \
	"! setpriv --reuid=$OTHER --regid=$OTHER --clear-groups cat '$E/web/key.pem' 2>/dev/null"

# An idle pass leaves every file alone.
before=$(stamp "$E"/web/*.pem "$E/trust/ca.pem")
sleep 1.1
n=$(requests_count)
est run --once
is "an idle pass: exit 0" "$RC" 0
is "an idle pass contacts nobody" "$(requests_count)" "$n"
is "an idle pass rewrites no exported file (inode, mtime)" "$(stamp "$E"/web/*.pem "$E/trust/ca.pem")" "$before"

# A renewal refreshes what changed.
old_fp=$(fps "$E/web/cert.pem" | head -1)
old_key=$(openssl pkey -in "$E/web/key.pem" -pubout)
est renew --once
is "renewed: exit 0" "$RC" 0
check "the cert file holds the new certificate" test "$(fps "$E/web/cert.pem" | head -1)" != "$old_fp"
is "the cert file's leaf is the stored one" "$(fps "$E/web/cert.pem" | head -1)" "$(leaf_fp file)"
check "the key file holds the new key" test "$(openssl pkey -in "$E/web/key.pem" -pubout)" != "$old_key"
is "the new key matches the new certificate" "$(openssl pkey -in "$E/web/key.pem" -pubout)" \
	"$(openssl x509 -in "$E/web/cert.pem" -noout -pubkey)"
is "after the renewal the key file is still 0640 with the group" \
	"$(mode_of "$E/web/key.pem") $(owner_of "$E/web/key.pem")" "640 0:$G"

# Missing or altered files are put back by the next pass, without the server.
rm -f "$E/web/cert.pem"
chmod 0600 "$E/trust/ca.pem"
echo tampered >"$E/web/ca.pem"
n=$(requests_count)
est run --once
is "a pass after files were removed or changed: exit 0" "$RC" 0
is "and contacts nobody" "$(requests_count)" "$n"
is "the removed cert file is back" "$(fps "$E/web/cert.pem" | head -1)" "$(leaf_fp file)"
is "the altered ca file is back" "$(fps "$E/web/ca.pem")" "$(fps "$T/anchors.pem")"
is "the ca file's mode is back to 0644" "$(mode_of "$E/trust/ca.pem")" 644

# load (at boot) writes them too.
rm -rf "$E"
est load
is "load: exit 0" "$RC" 0
check "load wrote the key file" openssl pkey -in "$E/web/key.pem" -noout
check "load wrote the ca file of the other section" test -s "$E/trust/ca.pem"

# A section added later is filled by the next pass, not at the next renewal.
cat >>"$T/est.conf" <<EOC

[export late]
cert = $E/late/cert.pem
EOC
n=$(requests_count)
est run --once
is "a pass after adding a section: exit 0" "$RC" 0
is "it contacts nobody" "$(requests_count)" "$n"
is "the new section's file is written" "$(fps "$E/late/cert.pem" | head -1)" "$(leaf_fp file)"

# A file that cannot be written fails the command (1), the others are still written.
write_config
exports
touch "$T/not-a-dir"
printf '\n[export broken]\nca = %s/not-a-dir/ca.pem\n' "$T" >>"$T/est.conf"
rm -f "$E/web/key.pem"
est run --once
is "an export that cannot be written: exit 1" "$RC" 1
check "it says which file" grep -q "export broken: $T/not-a-dir/ca.pem" "$T/err"
check "the other sections are still written" test -s "$E/web/key.pem"

# bundle: key, certificate and chain in one file, mode `mode`; readable by the tools as both.
write_config
cat >>"$T/est.conf" <<EOC

[export haproxy]
bundle = $E/haproxy/bundle.pem
group = $G
mode = 0640
EOC
est run --once
is "a bundle export: exit 0" "$RC" 0
is "the bundle is 0640, root and the group" "$(mode_of "$E/haproxy/bundle.pem") $(owner_of "$E/haproxy/bundle.pem")" "640 0:$G"
is "the bundle's certificates are the stored pair's chain" "$(fps "$E/haproxy/bundle.pem")" \
	"$(copy_pipe file est-enrolled-key-pair >"$T/pair.pem" && fps "$T/pair.pem")"
check "the bundle's key is the certificate's" bash -c \
	"[ \"\$(openssl pkey -in '$E/haproxy/bundle.pem' -pubout)\" = \"\$(openssl x509 -in '$E/haproxy/bundle.pem' -noout -pubkey)\" ]"
check "the key comes first" bash -c "head -1 '$E/haproxy/bundle.pem' | grep -q 'BEGIN PRIVATE KEY'"
check "a member of the group reads it" setpriv --reuid "$OTHER" --regid "$G" --clear-groups \
	cat "$E/haproxy/bundle.pem"
check "another user does not" bash -c "! setpriv --reuid $OTHER --regid $OTHER --clear-groups cat '$E/haproxy/bundle.pem' 2>/dev/null"
old=$(fps "$E/haproxy/bundle.pem" | head -1)
est renew --once
is "renewed: exit 0" "$RC" 0
check "the bundle holds the renewed pair" test "$(fps "$E/haproxy/bundle.pem" | head -1)" != "$old"
is "and it is the stored one" "$(fps "$E/haproxy/bundle.pem" | head -1)" "$(leaf_fp file)"

# What a killed export leaves beside a file (PATH.tmp.XXXXXX) is removed by the next pass; a
# file of another name is not.
printf 'PRIVATE KEY LEFT\n' >"$E/haproxy/bundle.pem.tmp.Ab12Cd"
printf 'mine\n' >"$E/haproxy/bundle.pem.tmp.keep-me"
est run --once
is "a pass with a leftover: exit 0" "$RC" 0
check "the leftover is gone" test ! -e "$E/haproxy/bundle.pem.tmp.Ab12Cd"
check "and said so" grep -q "removed $E/haproxy/bundle.pem.tmp.Ab12Cd" "$T/err"
check "another file is kept" test -e "$E/haproxy/bundle.pem.tmp.keep-me"

# Config errors: FILE:LINE: KEY: reason, exit 2.
bad_export() { # LINE EXPECTED
	write_config
	printf '\n[export x]\nca = /tmp/x.pem\n%s\n' "$1" >>"$T/est.conf"
	line=$(($(wc -l <"$T/est.conf")))
	est check-config
	is "'$1' exits 2" "$RC" 2
	check "'$1' says '$T/est.conf:$line: $2'" grep -qF "$T/est.conf:$line: $2" "$T/err"
}
bad_export "colour = blue" "colour: unknown key"
bad_export "mode = 0999" "mode: must be an octal file mode"
bad_export "owner = no-such-user-zz" "owner: unknown user no-such-user-zz"
bad_export "group = no-such-group-zz" "group: unknown group no-such-group-zz"
bad_export "key = relative/key.pem" "key: must be an absolute path"
bad_export "bundle = /tmp/x.pem" "bundle: /tmp/x.pem is also ca of [export x]"
bad_export "keystore = nowhere" "keystore: no [keystore nowhere] section"

done_testing
