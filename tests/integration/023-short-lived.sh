#!/bin/bash
# SPDX-License-Identifier: MIT
# Short-lived certificates are not renewed on every pass; a re-enrollment the server refuses
# falls back to /simpleenroll with the configured credentials.
. "$(dirname "$0")/helpers.sh"

# A 7-day certificate under the default expiration_check (30d).
start_server --cert-days 7
write_config
est run --once
is "7-day certificate: enrolled, exit 0" "$RC" 0
n=$(requests_count)
est run --once
is "the next pass: exit 0" "$RC" 0
is "the next pass renews nothing (no request)" "$(requests_count)" "$n"
est status --json
due=$("$PYTHON3" -c 'import json,sys,datetime
d=json.load(open(sys.argv[1]))
print(int(datetime.datetime.strptime(d["next_due"],"%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()))' "$T/out")
nb=$(date -d "$(key_pipe est-enrolled-key-pair | openssl x509 -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(key_pipe est-enrolled-key-pair | openssl x509 -noout -enddate | cut -d= -f2)" +%s)
is "status: the renewal is due when a third of the lifetime is left" "$due" "$((na - (na - nb) / 3))"
stop_server

# A renewal refused (403) while credentials are configured: enroll with them instead.
rm -rf "$T/srv" "$T/store"
keyctl clear "$(keyring_id)"
start_server --auth basic --user gw --password s3cret
write_config "http_auth = basic" "username = gw" "password = s3cret"
est run --once
is "enrolled with basic auth: exit 0" "$RC" 0
before=$(file_pipe est-enrolled-key-pair | openssl x509 -noout -fingerprint -sha256)
behaviour "simplereenroll-status 403"
n=$(requests_to simpleenroll)
est renew --once
is "re-enrollment refused: renew falls back and exits 0" "$RC" 0
check "it says it falls back" grep -q "enrolling with the configured credentials" "$T/err"
is "one /simpleenroll was sent after the refused /simplereenroll" \
	"$(($(requests_to simpleenroll) - n))" 1
after=$(file_pipe est-enrolled-key-pair | openssl x509 -noout -fingerprint -sha256)
check "a new certificate in the file copy" test "$before" != "$after"
check "the keyring holds the same bundle" both_same est-enrolled-key-pair

# Without credentials the refusal is the answer: 77, the pair kept in both copies.
write_config
before=$(file_pipe est-enrolled-key-pair | sha256sum)
est renew --once
is "re-enrollment refused without credentials: exit 77" "$RC" 77
is "the pair is kept (file copy)" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$before"
is "the pair is kept (keyring)" "$(key_pipe est-enrolled-key-pair | sha256sum)" "$before"
behaviour ""
stop_server

# The same when the refusal is a TLS alert: the server does not know the current certificate's
# CA (a pair put in place by hand), while the bootstrap client pair is configured.
rm -rf "$T/srv" "$T/store"
keyctl clear "$(keyring_id)"
start_server --auth cert --tls 1.2
client_keystore
install -m 0600 "$SRV/client-auth.pem" "$T/client/client-auth-certs.pem"
est run --once
is "enrolled with the bootstrap client pair: exit 0" "$RC" 0
srv_dir=$SRV
make_pki >/dev/null
SRV=$srv_dir
install -m 0600 "$T/pki/bundle.pem" "$T/store/..data/est-enrolled-key-pair.pem" # into the current data directory
keyctl padd user est-enrolled-key-pair "$(keyring_id)" <"$T/pki/bundle.pem" >/dev/null
n=$(requests_to simpleenroll)
est renew --once
is "current certificate refused at the TLS handshake: renew falls back, exit 0" "$RC" 0
check "it says it falls back" grep -q "enrolling with the configured credentials" "$T/err"
is "one /simpleenroll was sent" "$(($(requests_to simpleenroll) - n))" 1
check "the new pair chains to the stored anchors (file copy)" chains file
check "the keyring holds the same bundle" both_same est-enrolled-key-pair

done_testing
