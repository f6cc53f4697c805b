#!/bin/bash
# SPDX-License-Identifier: MIT
# Profiles: a file that names no keystore stores into the keystore named after the file (gw.conf:
# gw; est-enroll.conf: default), so two profiles get two keystores, keyrings and directories.
. "$(dirname "$0")/helpers.sh"

start_server
# Names of this test's own, so no real est:gw is touched (cleanup unlinks these keyrings).
A="gw-it$$"
B="lab-it$$"
EXTRA_KEYRINGS="est:$A est:$B"
mkdir -p "$T/etc"

# profile NAME [LINES...]: $T/etc/NAME.conf without keystore =, its store under $T/NAME.
profile() {
	local name=$1
	shift
	{
		echo "[est]"
		echo "server = localhost:$PORT"
		echo "ca_root = $SRV/root.pem"
		echo "subject = CN=$name,O=Example,C=IT"
		echo "retry_timeout = 10s"
		echo
		echo "[keystore $name]"
		echo "path = $T/$name"
		for line in "$@"; do echo "$line"; done
	} >"$T/etc/$name.conf"
}

# json FILE EXPR: a value of the status --json in FILE, through python's json.
json() {
	"$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

profile "$A"
profile "$B"
for p in "$A" "$B"; do
	"$EST_ENROLL" -c "$T/etc/$p.conf" run --once >"$T/out" 2>"$T/err"
	is "profile $p enrolls: exit 0" "$?" 0
done

for p in "$A" "$B"; do
	"$EST_ENROLL" -c "$T/etc/$p.conf" status --json >"$T/status-$p" 2>"$T/err"
	is "profile $p: status --json exits 0" "$?" 0
	is "profile $p: its keystore is named after the file" "$(json "$T/status-$p" 'd["keystore"]')" "$p"
	check "profile $p: its keyring is est:$p" grep -q "\"location\": \"keyring est:$p (serial" "$T/status-$p"
	check "profile $p: the keyring exists" keyctl search @u keyring "est:$p"
	check "profile $p: its directory holds its pair" test -f "$T/$p/est-enrolled-key-pair.pem"
	is "profile $p: status names its directory" "$(json "$T/status-$p" 'd["path"]')" "$T/$p"
	is "profile $p: status names its keyring" "$(json "$T/status-$p" 'd["keyring"]')" "est:$p"
	is "profile $p: its certificate is its own" \
		"$(json "$T/status-$p" 'd["certificate"]["subject"]')" "CN=$p,O=Example,C=IT"
done
check "two profiles: two keyrings" test "$(keyctl search @u keyring "est:$A")" != \
	"$(keyctl search @u keyring "est:$B")"
check "two profiles: two different pairs" bash -c \
	"! cmp -s '$T/$A/est-enrolled-key-pair.pem' '$T/$B/est-enrolled-key-pair.pem'"

# A second pass of each is idle: neither re-enrolls the other's identity.
n=$(requests_count)
for p in "$A" "$B"; do
	"$EST_ENROLL" -c "$T/etc/$p.conf" run --once >"$T/out" 2>"$T/err"
	is "profile $p: a second pass exits 0" "$?" 0
done
is "a second pass of each profile contacts nobody" "$(requests_count)" "$n"

# Without a [keystore] section the defaults are those of the profile's name.
cat >"$T/etc/c-it$$.conf" <<EOC
[est]
server = localhost:$PORT
ca_root = $SRV/root.pem
subject = CN=c
EOC
"$EST_ENROLL" -c "$T/etc/c-it$$.conf" check-config >"$T/out" 2>"$T/err"
is "a profile without any [keystore]: check-config exits 0" "$?" 0
check "it prints keystore = c-it$$" grep -qx "keystore = c-it$$" "$T/out"
check "and [keystore c-it$$] with keyring est:c-it$$" grep -qx "keyring = est:c-it$$" "$T/out"
check "and the path named after it" grep -qE "^path = /.*/lib/est-enroll/c-it$$\$" "$T/out"
"$EST_ENROLL" -c "$T/etc/c-it$$.conf" status --json >"$T/out" 2>"$T/err"
is "its status --json exits 0 (nothing stored)" "$?" 0
is "and names keystore c-it$$" "$(json "$T/out" 'd["keystore"]')" "c-it$$"

# est-enroll.conf is the default profile.
sed "s/^subject = .*/subject = CN=d/" "$T/etc/c-it$$.conf" >"$T/etc/est-enroll.conf"
"$EST_ENROLL" -c "$T/etc/est-enroll.conf" check-config >"$T/out" 2>"$T/err"
is "est-enroll.conf: check-config exits 0" "$?" 0
check "est-enroll.conf stores into keystore default" grep -qx "keystore = default" "$T/out"

# A [keystore default] the profile would not use is an error, not a surprise.
profile "$A"
printf '[keystore default]\ngroup = root\n' >>"$T/etc/$A.conf"
"$EST_ENROLL" -c "$T/etc/$A.conf" check-config >"$T/out" 2>"$T/err"
is "an unused [keystore default] in $A.conf exits 2" "$?" 2
check "and says the profile stores into $A" grep -qF "$T/etc/$A.conf:9: [keystore default]: this profile stores into keystore $A" "$T/err"

# A file name that makes no keystore name asks for keystore =.
cp "$T/etc/c-it$$.conf" "$T/etc/bad name.conf"
"$EST_ENROLL" -c "$T/etc/bad name.conf" check-config >"$T/out" 2>"$T/err"
is "'bad name.conf' without keystore = exits 2" "$?" 2
check "and asks for keystore =" grep -qF "$T/etc/bad name.conf:1: keystore: the file name gives no keystore name" "$T/err"

done_testing
