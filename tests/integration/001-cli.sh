#!/bin/bash
# SPDX-License-Identifier: MIT
# The command line: usage errors exit 2, help and version exit 0, every command is reachable.
. "$(dirname "$0")/helpers.sh"

make_pki
write_config

"$EST_ENROLL" --help >"$T/out" 2>&1; is "--help exits 0" "$?" 0
check "--help lists export" grep -q "export ALIAS" "$T/out"
"$EST_ENROLL" -V >"$T/out" 2>&1; is "-V exits 0" "$?" 0
check "-V prints the version" grep -q "^est-enroll [0-9]" "$T/out"

for args in "--bogus" "-x" "frobnicate" "export" "export a b" "status extra" \
	"run --json" "status --out f" "check-config --mode 600"; do
	# shellcheck disable=SC2086
	est $args
	is "'$args' is a usage error (exit 2)" "$RC" 2
	check "'$args' prints usage on stderr" grep -q "^Usage: est-enroll" "$T/err"
done

"$EST_ENROLL" -c "$T/missing.conf" check-config >"$T/out" 2>"$T/err"
is "a missing config file is exit 2" "$?" 2
check "the missing file is named" grep -q "missing.conf" "$T/err"

est check-config
is "check-config exits 0" "$RC" 0
check "check-config prints [est]" grep -q '^\[est\]' "$T/out"
check "check-config prints the keystore" grep -q "^\[keystore it\]" "$T/out"
check "check-config prints the default keystore" grep -q "^\[keystore default\]" "$T/out"

write_config "http_auth = basic" "username = dev" "password = s3cr3t-Pa55"
est check-config
is "check-config with a password exits 0" "$RC" 0
check "the password is masked" bash -c "! grep -q 's3cr3t-Pa55' '$T/out' '$T/err'"
check "the password line is there" grep -q "^password" "$T/out"

write_config "enabled = false"
est run
is "run with enabled = false exits 0" "$RC" 0
check "and says it is disabled" grep -qi "disabled" "$T/err"
check "and touched no store" test ! -e "$T/store"

write_config
est export est-enrolled-key-pair
is "export of an absent alias fails (exit 1)" "$RC" 1
check "and names the alias" grep -q "est-enrolled-key-pair" "$T/err"
est export x --mode 9z9
is "export --mode with a bad mode is exit 2" "$RC" 2

done_testing
