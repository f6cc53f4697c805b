#!/bin/bash
# SPDX-License-Identifier: MIT
# The request key a forced renewal leaves when it dies before the server's answer (issue 15,
# case 7): the server holds no request for it, so no pass resumes it; the next pass discards it
# from both copies, and status says which kind a stored request key is. One the server answered
# 202 for is kept and resumed (015-pending).
. "$(dirname "$0")/helpers.sh"

start_server
write_config
est run --once
is "enrolled: exit 0" "$RC" 0

# leftover PENDING: a request key as a killed renewal leaves it, in both copies (the same bytes).
leftover() {
	{
		printf 'est-enroll request: for=renew server=localhost:%s label= key=0:prime256v1 not_before=%s pending=%s\n' \
			"$PORT" "${2:-0}" "$1"
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 2>/dev/null
	} >"$T/req.pem"
	install -m 0600 "$T/req.pem" "$T/store/..data/est-request-key-pair.pem" # into the current data directory
	kctl padd user est-request-key-pair "$(keyring_id)" <"$T/req.pem" >/dev/null
	openssl pkey -in "$T/req.pem" -pubout 2>/dev/null >"$T/req.pub"
}

leftover 0
est status
is "status: exit 0" "$RC" 0
check "status: the leftover is shown as not held by the server" \
	grep -q "pending request: yes, for renew.*no answer pending at the server: the next pass discards it" "$T/out"
est status --json
check "status --json: at_server false" grep -q '"at_server": false' "$T/out"
n=$(requests_count)
est run --once
is "the next pass (nothing due): exit 0" "$RC" 0
check "it says why it discards the key" grep -q "discarding est-request-key-pair" "$T/err"
is "it contacts nobody" "$(requests_count)" "$n"
check "the file copy holds no request key" test ! -e "$T/store/est-request-key-pair.pem"
check "the keyring holds none" bash -c "! kctl search $(keyring_id) user est-request-key-pair >/dev/null 2>&1"
check "the pair is kept" both_same est-enrolled-key-pair
est status
check "status: no pending request now" grep -q "^pending request: no" "$T/out"
est run --once
is "then an idle pass: exit 0" "$RC" 0
check "which says nothing is due" grep -q "nothing due" "$T/err"

# A due renewal never takes the leftover's key: it makes a new one.
leftover 0
write_config "expiration_check = 400d"
est run --once
is "a due renewal with a leftover: exit 0" "$RC" 0
new=$(file_pipe est-enrolled-key-pair | openssl x509 -noout -pubkey)
check "the renewed certificate is not for the leftover's key" test "$new" != "$(cat "$T/req.pub")"
check "and the leftover is gone from both copies" bash -c \
	"[ ! -e '$T/store/est-request-key-pair.pem' ] && ! kctl search $(keyring_id) user est-request-key-pair >/dev/null 2>&1"

# One the server answered 202 for is the server's: status says it is resumed, a pass keeps it.
write_config
leftover 1 "$(($(date +%s) + 3600))"
est status
check "status: a 202'd request is shown as held by the server" \
	grep -q "the server holds it, 202: resumed with this key" "$T/out"
est status --json
check "status --json: at_server true" grep -q '"at_server": true' "$T/out"
est run --once
is "a pass with a 202'd request, nothing due: exit 0" "$RC" 0
check "the 202'd request key is kept" test -e "$T/store/est-request-key-pair.pem"
# Real answers: a 503 with Retry-After is no 202: its key is not the server's, the next pass
# discards it; a 202 without Retry-After is, and the key is kept.
stop_server
start_server
write_config
est run --once
is "a fresh enrollment: exit 0" "$RC" 0
behaviour "times 1 simplereenroll-status 503 1"
est renew --once
is "a renewal answered 503 + Retry-After: exit 75" "$RC" 75
check "its request key is tagged as not held by the server" grep -q 'pending=0' "$T/store/est-request-key-pair.pem"
behaviour "202 1 0"
est renew --once
is "a renewal answered 202 with Retry-After 0: exit 75" "$RC" 75
check "its request key is tagged as held by the server" grep -q 'pending=1' "$T/store/est-request-key-pair.pem"
est status
check "status: held by the server" grep -q "the server holds it, 202" "$T/out"
stop_server
done_testing
