#!/bin/bash
# SPDX-License-Identifier: MIT
# load, export and status on material put in place by hand (openssl + the file layout).
. "$(dirname "$0")/helpers.sh"

make_pki
write_config

# The persistent copy, as a previous boot left it.
mkdir -p -m 0700 "$T/store"
install -m 0600 "$SRV/bundle.pem" "$T/store/est-enrolled-key-pair.pem"
install -m 0600 "$SRV/ca.pem" "$T/store/est-cacerts_0.pem"

est load
is "load exits 0" "$RC" 0
check "the keyring exists" keyring_id
check "the bundle is in the keyring" bash -c "cmp <(keyctl pipe $(key_serial est-enrolled-key-pair)) '$SRV/bundle.pem'"
subject=$(key_pipe est-enrolled-key-pair | openssl x509 -noout -subject -nameopt RFC2253)
is "keyctl pipe | openssl x509 reads the certificate" "$subject" "subject=CN=gw-0042,O=Example,C=IT"
check "keyctl pipe | openssl pkey reads the key" bash -c "keyctl pipe $(key_serial est-enrolled-key-pair) | openssl pkey -noout"
check "the CA certificate is in the keyring" key_serial est-cacerts_0
check "serials are published" grep -q "^est-enrolled-key-pair $(key_serial est-enrolled-key-pair)\$" "$T/run/it.keys"
perm=$(keyctl rdescribe "$(key_serial est-enrolled-key-pair)" | cut -d';' -f4)
is "key permissions: possessor and owner all, others nothing" "$perm" "3f3f0000"

est status
is "status exits 0" "$RC" 0
check "status shows the subject" grep -q "CN=gw-0042" "$T/out"
check "status shows the CA" grep -q "Offline Test CA" "$T/out"
check "status shows the next action" grep -q "^next action: *renew at" "$T/out"
est status --json
is "status --json exits 0" "$RC" 0
check "status --json is JSON" "$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["certificate"]["subject"].startswith("CN=gw-0042"); assert len(d["cacerts"])==1; assert d["pending_request"] is False' "$T/out"

est export est-enrolled-key-pair
is "export to stdout exits 0" "$RC" 0
check "export prints the bundle" cmp "$T/out" "$SRV/bundle.pem"
est export est-enrolled-key-pair --out "$T/exported.pem"
is "export --out exits 0" "$RC" 0
check "export --out writes the bundle" cmp "$T/exported.pem" "$SRV/bundle.pem"
is "export --out defaults to 0600" "$(stat -c %a "$T/exported.pem")" 600
est export est-cacerts_0 --out "$T/ca-export.pem" --mode 0644
is "export --mode 0644 exits 0" "$RC" 0
is "export --mode sets the mode" "$(stat -c %a "$T/ca-export.pem")" 644
check "no temporary file is left" bash -c "! ls '$T' | grep -q '\.tmp\.'"

# After a keyring loss, load rebuilds it from the files.
keyctl clear "$(keyring_id)"
check "the keyring was emptied" bash -c "! keyctl search $(keyring_id) user est-enrolled-key-pair"
est load
is "load after a keyring loss exits 0" "$RC" 0
check "the bundle is back" bash -c "cmp <(keyctl pipe $(key_serial est-enrolled-key-pair)) '$SRV/bundle.pem'"

# A file-type keystore works the same way, without the keyring.
KEYSTORE_EXTRA="type = file" write_config
est status --json
is "status on a file keystore exits 0" "$RC" 0
check "the file keystore reports its backend" grep -q '"backend": "file"' "$T/out"

done_testing
