#!/bin/bash
# SPDX-License-Identifier: MIT
# Configuration errors through the real binary: one line FILE:LINE: KEY: reason, exit 2, nothing touched.
. "$(dirname "$0")/helpers.sh"

make_pki

# bad LINE EXPECTED-PREFIX: the config with LINE appended to [est] (which is line 9) fails so.
bad() {
	write_config "$1"
	est run
	is "'$1' exits 2" "$RC" 2
	check "'$1' reports '$2'" grep -qF "$T/est.conf:$2" "$T/err"
}

bad "colour = blue" "9: colour"
bad "renew = maybe" "9: renew"
bad "expiration_check = 5 minutes" "9: expiration_check"
bad "expiration_check = 150%" "9: expiration_check"
bad "key_algorithm = DSA" "9: key_algorithm"
bad "key_params = curve25519x" "9: key_params"
bad "http_auth = basic" "9: http_auth"
bad "tls_client_keystore = nowhere" "9: tls_client_keystore"

write_config "renew = true" "renew = false"
est check-config
is "a duplicate key exits 2" "$RC" 2
check "the duplicate is reported on its line" grep -qF "$T/est.conf:10: renew: duplicate key" "$T/err"

write_config
sed -i "s|^server = .*|server = https://localhost:8443|" "$T/est.conf"
est run
is "server with a scheme exits 2" "$RC" 2
check "server with a scheme is reported on line 2" grep -qF "$T/est.conf:2: server" "$T/err"

write_config
sed -i "s|^ca_root = .*|ca_root = $T/nonexistent.pem|" "$T/est.conf"
est run
is "unreadable ca_root exits 2" "$RC" 2
check "ca_root is reported on line 3" grep -qF "$T/est.conf:3: ca_root" "$T/err"
check "nothing was stored" test ! -e "$T/store"

# load, status and export need neither the password nor ca_root (they run at boot, before
# credentials exist): they behave as without them; run reports what is missing.
# offline_commands WHAT: status and load exit 0, export of a missing alias 1, never 2.
offline_commands() {
	est status
	is "$1: status exits 0" "$RC" 0
	est load
	is "$1: load exits 0" "$RC" 0
	est export est-nothing-here
	is "$1: export of a missing alias exits 1" "$RC" 1
	check "$1: export names the alias" grep -q "est-nothing-here: no such alias" "$T/err"
}
write_config
offline_commands "no auth"
write_config "http_auth = basic" "username = u"
offline_commands "basic auth without a password"
est run
is "basic auth without a password: run exits 2" "$RC" 2
check "basic auth without a password: run reports it on its line" \
	grep -qF "$T/est.conf:9: http_auth: basic needs password" "$T/err"
write_config "http_auth = basic" "username = u" "password_file = $T/no-password"
offline_commands "missing password_file"
est enroll
is "missing password_file: enroll exits 2" "$RC" 2
check "missing password_file: enroll reports it on its line" \
	grep -qF "$T/est.conf:11: password_file: cannot read $T/no-password" "$T/err"
est check-config
is "missing password_file: check-config exits 2" "$RC" 2
write_config
sed -i "s|^ca_root = .*|ca_root = $T/nonexistent.pem|" "$T/est.conf"
offline_commands "missing ca_root"
est run
is "missing ca_root: run exits 2" "$RC" 2
check "missing ca_root: run reports it on its line" \
	grep -qF "$T/est.conf:3: ca_root: cannot read $T/nonexistent.pem" "$T/err"
est check-config
is "missing ca_root: check-config exits 2" "$RC" 2
est cacerts
is "missing ca_root: cacerts exits 2" "$RC" 2

write_config
printf '[bogus]\nx = 1\n' >>"$T/est.conf"
est check-config
is "an unknown section exits 2" "$RC" 2
check "the unknown section is named" grep -q "bogus" "$T/err"

# key_storage: checked like any key; the PIN never printed; hardware that is not there stops a
# pass before the server is asked or the store touched, never a software key instead.
bad "key_storage = pkcs11:token=a?pin-value=1234" "9: key_storage: no PIN in the URI"
bad "tpm_tcti = device:/dev/tpmrm0" "9: tpm_tcti: only with key_storage = tpm"
write_config "key_storage = tpm" "key_source = server"
est check-config
is "key_storage = tpm with key_source = server exits 2" "$RC" 2
check "and says why on the key_storage line" \
	grep -qF "$T/est.conf:9: key_storage: tpm keeps the key inside the hardware" "$T/err"
printf '8642\n' >"$T/pin"
chmod 600 "$T/pin"
write_config "key_storage = pkcs11:token=device" "pkcs11_pin_file = $T/pin"
est check-config
is "a PKCS#11 key_storage with a PIN file: check-config exits 0" "$RC" 0
check "check-config names the PIN file" grep -qxF "pkcs11_pin_file = $T/pin" "$T/out"
check "and never the PIN" bash -c '! grep -q 8642 "$1" "$2"' _ "$T/out" "$T/err"
write_config "key_storage = tpm" "tpm_tcti = swtpm:port=1"
est run
is "key_storage = tpm and no TPM reachable: run exits 1" "$RC" 1
check "and says the TPM is not reachable, in one line" \
	bash -c '[ "$(grep -c . "$1")" = 1 ] && grep -q "no TPM reachable" "$1"' _ "$T/err"
check "before the server was asked" bash -c '! grep -q localhost:1 "$1"' _ "$T/err"
check "nothing was stored" bash -c '! ls "$1"/*.pem 2>/dev/null | grep -q .' _ "$T/store"

done_testing
