#!/bin/bash
# SPDX-License-Identifier: MIT
# load, status and export work at boot, before the run-time credentials exist (no password file,
# no password, no readable ca_root); run still refuses such a config. status creates nothing.
. "$(dirname "$0")/helpers.sh"

# The systemd credential would stand in for a missing password: this test wants none.
unset CREDENTIALS_DIRECTORY

start_server

# status changes nothing: no store directory, no keyring, no runtime directory appear.
write_config
est status
is "nothing stored yet: status exits 0" "$RC" 0
est status --json
is "nothing stored yet: status --json exits 0" "$RC" 0
check "status created no store directory" test ! -e "$T/store"
check "status created no keyring" bash -c "! keyctl search @u keyring '$KEYRING'"
check "status created no runtime directory" test ! -e "$RUNTIME_DIRECTORY"

write_config
est run --once
is "enrolled with the full config: exit 0" "$RC" 0

# line_of KEY: the line of the config that sets KEY.
line_of() {
	grep -n "^$1 = " "$T/est.conf" | cut -d: -f1
}

# boot_case NAME LOCATION: after a keyring loss, load/status/export with the current config
# work without the credential; run exits 2 naming LOCATION (a grep -E pattern for FILE:LINE:).
boot_case() {
	local name=$1 location=$2 n

	keyctl clear "$(keyring_id)"
	est load
	is "$name: load exits 0" "$RC" 0
	check "$name: load restored the bundle" both_same est-enrolled-key-pair
	check "$name: load restored the whole store (both copies agree)" copies_agree
	est status
	is "$name: status exits 0" "$RC" 0
	est status --json
	is "$name: status --json exits 0" "$RC" 0
	est export est-enrolled-key-pair
	is "$name: export exits 0" "$RC" 0
	check "$name: export prints the bundle" cmp -s "$T/out" "$T/store/est-enrolled-key-pair.pem"
	n=$(requests_count)
	est run --once
	is "$name: run exits 2" "$RC" 2
	check "$name: run names the file and line" grep -qE "$location" "$T/err"
	is "$name: run contacted nobody" "$(requests_count)" "$n"
}

# http_auth = basic with a password_file that does not exist yet.
write_config "http_auth = basic" "username = u" "password_file = $T/no-such-password"
boot_case "missing password_file" "$T/est.conf:$(line_of password_file):"

# http_auth = basic and no password at all.
write_config "http_auth = basic" "username = u"
boot_case "no password" "$T/est.conf:[0-9]+:"

# ca_root that is not there (yet).
write_config "ca_root = $T/no-such-root.pem"
boot_case "missing ca_root" "$T/est.conf:$(line_of ca_root):"

done_testing
