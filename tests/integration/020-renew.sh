#!/bin/bash
# SPDX-License-Identifier: MIT
# Renewal: due by expiration_check, /simplereenroll with the current pair, rekey or not,
# the old pair kept on failure, an expired certificate falls back to /simpleenroll.
. "$(dirname "$0")/helpers.sh"

start_server --cert-days 10
write_config "expiration_check = 5d"
est run --once
is "first enrollment: exit 0" "$RC" 0
first_cert=$(key_pipe est-enrolled-key-pair | openssl x509 -noout -fingerprint -sha256)
first_key=$(key_pipe est-enrolled-key-pair | openssl pkey -pubout)
n=$(requests_count)
est run --once
is "not due yet (10-day cert, 5d check): exit 0" "$RC" 0
is "not due yet: no request" "$(requests_count)" "$n"
est status --json
check "status says renew is next" grep -q '"next_action": "renew"' "$T/out"

write_config "expiration_check = 10d"
est run --once
is "due (10d check, the whole lifetime): run renews, exit 0" "$RC" 0
check "the renewal went to /simplereenroll" grep -q '"path": "/.well-known/est/simplereenroll"' "$SRV/requests.log"
is "the renewal was authenticated with the current certificate" \
	"$(request_field "$(requests_count)" client_cert_subject | grep -c 'gw-0042')" 1
check "the CA certificates were refreshed with the renewal" bash -c \
	"tail -n 3 '$SRV/requests.log' | grep -q '/cacerts'"
second_cert=$(key_pipe est-enrolled-key-pair | openssl x509 -noout -fingerprint -sha256)
second_key=$(key_pipe est-enrolled-key-pair | openssl pkey -pubout)
check "a new certificate" test "$first_cert" != "$second_cert"
check "a new key (renew_rekey = true)" test "$first_key" != "$second_key"
subject=$(key_pipe est-enrolled-key-pair | openssl x509 -noout -subject -nameopt RFC2253)
is "the subject is kept" "$subject" "subject=CN=gw-0042,O=Example,C=IT"

write_config "expiration_check = 5d" "renew_rekey = false"
est renew --once
is "forced renew with renew_rekey = false: exit 0" "$RC" 0
third_key=$(key_pipe est-enrolled-key-pair | openssl pkey -pubout)
is "the key is kept" "$third_key" "$second_key"

write_config "expiration_check = 10d" "renew = false"
n=$(requests_count)
est run --once
is "renew = false: nothing is done" "$(requests_count)" "$n"

# A renewal answered 202 is resumed by the next pass with the same new key.
behaviour "simplereenroll-202 1 1"
before=$(key_pipe est-enrolled-key-pair | sha256sum)
write_config "expiration_check = 10d"
est run --once
is "renewal answered 202 with --once: exit 75" "$RC" 75
is "renewal pending: the current pair stays" "$(key_pipe est-enrolled-key-pair | sha256sum)" "$before"
is "renewal pending: the current pair stays (file copy)" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$before"
pending=$(key_pipe est-request-key-pair | openssl pkey -pubout)
check "renewal pending: the request key is stored" test -n "$pending"
wait_not_before
est run --once
is "the next pass completes the renewal: exit 0" "$RC" 0
is "the renewed certificate is for the pending key" \
	"$(key_pipe est-enrolled-key-pair | openssl x509 -noout -pubkey)" "$pending"
behaviour ""
write_config "expiration_check = 5d"

# A renewal answered with a certificate for another key: the old pair stays.
before=$(key_pipe est-enrolled-key-pair | sha256sum)
behaviour "simplereenroll-other-key"
est renew --once
is "renewal with a certificate for another key: exit 1" "$RC" 1
is "the old pair is kept" "$(key_pipe est-enrolled-key-pair | sha256sum)" "$before"
is "the old pair is kept (file copy)" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$before"
behaviour ""
stop_server

# An expired certificate cannot authenticate: fall back to /simpleenroll.
rm -rf "$T/srv"
keyctl clear "$(keyring_id)"
rm -rf "$T/store"
start_server --cert-seconds 2 --expired-client-cert-ok
write_config
est run --once
is "short-lived enrollment: exit 0" "$RC" 0
# Wait (bounded) until the certificate has really expired.
expired=1
for _ in $(seq 1 100); do
	if ! key_pipe est-enrolled-key-pair | openssl x509 -noout -checkend 0 >/dev/null 2>&1; then
		expired=0
		break
	fi
	sleep 0.1
done
is "the certificate expired" "$expired" 0
est run --once
is "expired: run exits 0" "$RC" 0
check "expired: it says so" grep -q "expired" "$T/err"
is "expired: the fallback went to /simpleenroll" "$(request_field "$(requests_count)" path)" \
	"/.well-known/est/simpleenroll"

done_testing
