#!/bin/bash
# SPDX-License-Identifier: MIT
# proxy: an explicit http://host:port, the environment's https_proxy/no_proxy when empty,
# none whatever the environment says.
. "$(dirname "$0")/helpers.sh"

start_server
start_proxy
unset https_proxy HTTPS_PROXY no_proxy NO_PROXY all_proxy ALL_PROXY

# proxy_saw: how many CONNECTs the proxy tunnelled to the test server
proxy_saw() { grep -c "^CONNECT localhost:$PORT\$" "$PROXY_LOG"; }

write_config "proxy = http://127.0.0.1:$PROXY_PORT"
est run --once
is "proxy = http://...: exit 0" "$RC" 0
check "proxy = http://...: the connection went through the proxy" test "$(proxy_saw)" -ge 1
check "proxy = http://...: the pair is stored in both copies" both_same est-enrolled-key-pair
before=$(proxy_saw)

write_config
https_proxy="http://127.0.0.1:$PROXY_PORT" est enroll --once
is "proxy empty, https_proxy set: exit 0" "$RC" 0
check "proxy empty: the environment's proxy was used" test "$(proxy_saw)" -gt "$before"
before=$(proxy_saw)

https_proxy="http://127.0.0.1:$PROXY_PORT" no_proxy=localhost est enroll --once
is "proxy empty, no_proxy names the server: exit 0" "$RC" 0
is "proxy empty, no_proxy names the server: no proxy" "$(proxy_saw)" "$before"

write_config "proxy = none"
https_proxy="http://127.0.0.1:$PROXY_PORT" est enroll --once
is "proxy = none, https_proxy set: exit 0" "$RC" 0
is "proxy = none: the environment's proxy was not used" "$(proxy_saw)" "$before"

# A proxy that is not there is network trouble: 75, the identity kept.
bundle=$(file_pipe est-enrolled-key-pair | sha256sum)
stop_proxy
sent=$(requests_count)
write_config "proxy = http://127.0.0.1:$PROXY_PORT"
est enroll --once
is "proxy down: exit 75" "$RC" 75
is "proxy down: nothing reached the server" "$(requests_count)" "$sent"
is "proxy down: the file copy keeps the pair" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$bundle"
check "proxy down: the keyring keeps the same pair" both_same est-enrolled-key-pair

write_config "proxy = ftp://127.0.0.1:$PROXY_PORT"
est check-config
is "proxy = ftp://...: configuration error (exit 2)" "$RC" 2
check "proxy = ftp://...: FILE:LINE: proxy: reason" grep -q "est.conf:[0-9]*: proxy: must be" "$T/err"

done_testing
