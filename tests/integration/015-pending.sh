#!/bin/bash
# SPDX-License-Identifier: MIT
# 202 + Retry-After: the request key is kept and resumed; in-process retries honour Retry-After.
. "$(dirname "$0")/helpers.sh"

start_server --behaviour "202 1 1"
write_config
est run --once
is "202 with --once: exit 75" "$RC" 75
check "the request key is stored" key_serial est-request-key-pair
check "no pair yet" bash -c "! keyctl search $(keyring_id) user est-enrolled-key-pair"
check "no pair yet (file copy)" test ! -e "$T/store/est-enrolled-key-pair.pem"
pending=$(key_pipe est-request-key-pair | openssl pkey -pubout)
est status --json
check "status reports the pending request" grep -q '"pending_request": true' "$T/out"

# The next pass waits for the server's Retry-After (1 s) first, as a pass started later would.
wait_not_before
est run --once
is "second --once run: exit 0" "$RC" 0
issued=$(key_pipe est-enrolled-key-pair | openssl x509 -noout -pubkey)
is "the certificate is for the key of the pending request" "$issued" "$pending"
check "the request key is gone" bash -c "! keyctl search $(keyring_id) user est-request-key-pair"

# In-process retry: two 202s, Retry-After 1 s each, then 200 in one pass.
keyctl clear "$(keyring_id)"
rm -rf "$T/store"
behaviour "202 2 1"
n=$(requests_to simpleenroll)
est run
is "202 twice then 200 in one pass: exit 0" "$RC" 0
is "three enroll requests were made" "$(($(requests_to simpleenroll) - n))" 3
check "the wait followed Retry-After (plus 0-50% jitter)" grep -Eq 'retrying in 1\.[0-5]s' "$T/err"

# An HTTP-date Retry-After.
keyctl clear "$(keyring_id)"
rm -rf "$T/store"
behaviour "202date 1 2"
est run
is "202 with an HTTP-date Retry-After then 200: exit 0" "$RC" 0

# A forced command overrides the floor, and says so.
keyctl clear "$(keyring_id)"
rm -rf "$T/store"
behaviour "202 1 600"
est run --once
is "202 with Retry-After 600: exit 75" "$RC" 75
# Retry-After is a floor across passes too (RFC 7030 4.2.3): until it has passed, run gives way.
n=$(requests_count)
est run --once
is "the next run within 600 s: exit 75 without a request" "$RC:$(requests_count)" "75:$n"
check "... saying why" grep -q "Retry-After" "$T/err"
not_before=$(key_pipe est-request-key-pair | sed -n 's/.*not_before=\([0-9]*\).*/\1/p')
check "the not-before time (about now + 600 s) is recorded with the request key, in both copies" \
	bash -c "[ '$not_before' -gt $(($(date +%s) + 500)) ] &&
		grep -q 'not_before=$not_before' '$T/store/est-request-key-pair.pem'"
behaviour ""
est enroll --once
is "a forced enroll goes ahead: exit 0" "$RC" 0
check "... saying it overrides Retry-After" grep -q "overriding the server's Retry-After" "$T/err"

# A Retry-After beyond what a pass sleeps through ends the pass (75); the next pass waits for it.
keyctl clear "$(keyring_id)"
rm -rf "$T/store"
behaviour "202 1 7200"
est run
is "Retry-After 2 h within a pass without --once: exit 75, no sleeping" "$RC" 75
check "... saying a later pass goes on" grep -q "a later pass goes on" "$T/err"
behaviour "202 1 172800"
est enroll --once
check "a Retry-After over a day is honoured and said" grep -q "more than a day: honoured" "$T/err"
behaviour ""

# Retry budget exhausted while pending: 75, key kept.
keyctl clear "$(keyring_id)"
rm -rf "$T/store"
behaviour "202 100 60"
write_config "retry_timeout = 2s"
est run
is "pending beyond the retry budget: exit 75" "$RC" 75
check "the request key is kept for the next pass" key_serial est-request-key-pair

done_testing
