#!/bin/bash
# SPDX-License-Identifier: MIT
# Failure paths: untrusted server, server down, HTTP errors, broken answers. A working pair is never lost.
. "$(dirname "$0")/helpers.sh"

# A server whose certificate does not chain to ca_root: exit 1, nothing stored.
start_server --server-cert-untrusted
write_config
est run --once
is "untrusted server: exit 1" "$RC" 1
check "untrusted server: nothing stored" bash -c "! keyctl search @u keyring '$KEYRING' >/dev/null 2>&1 || [ -z \"\$(keyctl rdescribe $(keyring_id) >/dev/null; keyctl rlist $(keyring_id))\" ]"
check "untrusted server: no CA certificate" bash -c "! keyctl search $(keyring_id) user est-cacerts_0 2>/dev/null"
is "untrusted server: no request was answered" "$(requests_count)" 0
stop_server
rm -rf "$T/srv" "$T/store"

# Server down: 75 once the retry budget runs out.
start_server
port=$PORT
stop_server
write_config "retry_interval = 1s" "retry_timeout = 3s"
sed -i "s|^server = .*|server = localhost:$port|" "$T/est.conf"
start=$(date +%s)
est run
end=$(date +%s)
is "server down: exit 75" "$RC" 75
check "server down: gave up within the bound ($((end - start))s)" test $((end - start)) -le 8
check "server down: it did retry" bash -c "[ \$(grep -c 'retrying' '$T/err') -ge 1 ]"
est run --once
is "server down with --once: exit 75" "$RC" 75
rm -rf "$T/srv"

# Enroll once for real, then break the server in every way: the pair stays as it was.
start_server
write_config "retry_interval = 1s" "retry_timeout = 3s"
est run --once
is "baseline enrollment: exit 0" "$RC" 0
before=$(key_pipe est-enrolled-key-pair | sha256sum)
cas_before=$(key_pipe est-cacerts_0 | sha256sum)

expect() { # BEHAVIOUR EXIT-CODE
	behaviour "$1"
	est enroll --once
	is "$1: exit $2" "$RC" "$2"
	is "$1: the enrolled pair is untouched" "$(key_pipe est-enrolled-key-pair | sha256sum)" "$before"
	is "$1: the enrolled pair is untouched (file copy)" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$before"
}
expect "status 401" 77
expect "status 403" 77
expect "status 500" 75
expect "status 503" 75
expect "status 400" 1
expect "garbage" 1
expect "wrong-content-type" 1
expect "bad-pkcs7" 1
expect "other-key" 1
expect "huge" 1
check "huge: the cap is reported" grep -qi "large\|too big\|exceed" "$T/err"

behaviour "cacerts-garbage"
est cacerts --once
is "cacerts-garbage: exit 1" "$RC" 1
is "cacerts-garbage: the CA certificates are untouched" "$(key_pipe est-cacerts_0 | sha256sum)" "$cas_before"
is "cacerts-garbage: the CA certificates are untouched (file copy)" "$(file_pipe est-cacerts_0 | sha256sum)" "$cas_before"

behaviour "slow"
write_config "timeout = 2s" "retry_timeout = 3s"
start=$(date +%s)
est enroll --once
end=$(date +%s)
is "slow body: exit 75" "$RC" 75
check "slow body: cut at the timeout ($((end - start))s)" test $((end - start)) -le 6
is "slow body: the pair is untouched" "$(key_pipe est-enrolled-key-pair | sha256sum)" "$before"
is "slow body: the pair is untouched (file copy)" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$before"

behaviour ""
est enroll --once
is "back to normal: enroll exits 0" "$RC" 0
check "back to normal: the pair changed" test "$(key_pipe est-enrolled-key-pair | sha256sum)" != "$before"

done_testing
