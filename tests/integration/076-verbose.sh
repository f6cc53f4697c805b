#!/bin/bash
# SPDX-License-Identifier: MIT
# -vv adds to -v: the client's account of the connection (resolving, connecting, TLS version and
# cipher), the trust anchors, the chain the server sent and the anchor that verified it; never
# the password or an Authorization header.
. "$(dirname "$0")/helpers.sh"

start_server --intermediate --auth basic --user dev --password 'Sec-ret-42'
write_config "http_auth = basic" "username = dev" "password = Sec-ret-42"
root_fp=$(openssl x509 -in "$SRV/root.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : |
	tr 'A-F' 'a-f')

est -v run --once
is "-v: exit 0" "$RC" 0
cp "$T/err" "$T/v.log"
check "-v logs debug messages" grep -q "debug:" "$T/v.log"
check "-v logs no trace" bash -c "! grep -q 'trace:' '$T/v.log'"

keyctl clear "$(keyring_id)"
rm -rf "$T/store"
est -vv run --once
is "-vv: exit 0" "$RC" 0
cp "$T/err" "$T/vv.log"
check "-vv logs more than -v" test "$(wc -l <"$T/vv.log")" -gt "$(wc -l <"$T/v.log")"
check "-vv keeps the debug messages" grep -q "debug:" "$T/vv.log"
check "-vv: the connection, address and port" \
	grep -q "trace: curl: Connected to localhost (.*) port $PORT" "$T/vv.log"
check "-vv: the TLS version and cipher" grep -q "trace: TLS: TLSv1\.3 with TLS_" "$T/vv.log"
check "-vv: the trust anchors of the bootstrap (ca_root)" \
	grep -q "trace: TLS: trust anchor 0: CN=EST Test Root CA" "$T/vv.log"
check "-vv: the chain the server sent" grep -q "trace: TLS: server certificate 0: CN=localhost" "$T/vv.log"
check "-vv: the anchor that verified it, by fingerprint" \
	grep -q "trace: TLS: verified .* up to the trust anchor CN=EST Test Root CA.*sha256 $root_fp" "$T/vv.log"
check "-vv: not the password" bash -c "! grep -q 'Sec-ret-42' '$T/vv.log'"
check "-vv: not the credentials in base64" bash -c \
	"! grep -q '$(printf 'dev:Sec-ret-42' | base64)' '$T/vv.log'"
check "-vv: no Authorization header" bash -c "! grep -qi 'authorization:' '$T/vv.log'"
check "-vv: no private key" bash -c "! grep -q 'PRIVATE KEY' '$T/vv.log'"

# After the bootstrap the stored anchors are the trust set: the intermediate is one of them.
est -vv renew --once
is "-vv renew: exit 0" "$RC" 0
check "-vv renew: the stored CA certificates are the trust anchors" \
	grep -q "trace: TLS: trust anchor [0-9]: CN=EST Test Intermediate CA" "$T/err"

done_testing
