#!/bin/bash
# SPDX-License-Identifier: MIT
# With the keyring syscalls blocked (seccomp, ENOSYS), a keyring store falls back to its files.
. "$(dirname "$0")/helpers.sh"

[ -x "${NOKEYRING:-}" ] || skip_all "nokeyring helper not built (no libseccomp)"
"$NOKEYRING" keyctl show @u >/dev/null 2>&1 && skip_all "seccomp filter had no effect"

make_pki
write_config
mkdir -p -m 0700 "$T/store"
install -m 0600 "$SRV/bundle.pem" "$T/store/est-enrolled-key-pair.pem"

"$NOKEYRING" "$EST_ENROLL" -c "$T/est.conf" status --json >"$T/out" 2>"$T/err"
is "status without a keyring exits 0" "$?" 0
check "it reports the file backend" grep -q '"backend": "file"' "$T/out"
check "it reads the stored certificate" grep -q 'CN=gw-0042' "$T/out"
is "it warns once" "$(grep -c 'keyring unavailable' "$T/err")" 1
check "no keyring was created" bash -c "! keyctl search @u keyring '$KEYRING'"

"$NOKEYRING" "$EST_ENROLL" -c "$T/est.conf" export est-enrolled-key-pair --out "$T/x.pem" 2>"$T/err"
is "export without a keyring exits 0" "$?" 0
check "export without a keyring reads the files" cmp "$T/x.pem" "$SRV/bundle.pem"

KEYSTORE_EXTRA="fallback = false" write_config
"$NOKEYRING" "$EST_ENROLL" -c "$T/est.conf" status >"$T/out" 2>"$T/err"
is "fallback = false without a keyring fails (exit 1)" "$?" 1
check "and says why" grep -qi "keyring\|function not implemented" "$T/err"

done_testing
