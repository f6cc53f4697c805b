#!/bin/bash
# SPDX-License-Identifier: MIT
# A /cacerts answer must hold a usable CA certificate: an end-entity certificate alone is
# refused (exit 1, the stored set kept in both copies); one beside the CA is not stored.
. "$(dirname "$0")/helpers.sh"

# Bootstrap against an answer holding only an end-entity certificate: nothing is stored.
start_server --behaviour "cacerts-ee-only"
write_config
est run --once
is "bootstrap, end-entity certificate only: exit 1" "$RC" 1
check "bootstrap: the end-entity certificate is named as not a CA" \
	grep -q 'is not a CA certificate (basicConstraints CA:FALSE)' "$T/err"
check "bootstrap: the refusal says no usable CA" grep -q 'holds no usable CA certificate' "$T/err"
is "bootstrap: /cacerts was asked once" "$(requests_to cacerts)" 1
is "bootstrap: no enrollment was sent" "$(requests_to simpleenroll)" 0
is "bootstrap: the keyring holds nothing" "$(est_aliases keyring)" ""
is "bootstrap: the file copy holds nothing" "$(est_aliases file)" ""

# The chain and an end-entity certificate: the CA is stored, the end-entity one is not.
behaviour "cacerts-ee-extra"
est run --once
is "bootstrap, chain + end-entity certificate: exit 0" "$RC" 0
check "bootstrap: the end-entity certificate was left out, said so" \
	grep -q 'not stored as a trust anchor' "$T/err"
is "bootstrap: one anchor in the keyring" "$(anchor_count keyring)" 1
is "bootstrap: one anchor in the file copy" "$(anchor_count file)" 1
is "bootstrap: the anchor is the root" "$(anchors file)" "$(cat "$SRV/root.pem")"
check "bootstrap: both copies hold it" both_same est-cacerts_0
check "bootstrap: the certificate chains" chains keyring

# A refresh that answers an end-entity certificate alone: refused, the stored set kept.
behaviour "cacerts-ee-only"
cas=$(anchors file | sha256sum)
cas_kr=$(anchors keyring | sha256sum)
bundle=$(file_pipe est-enrolled-key-pair | sha256sum)
asked=$(requests_to cacerts)
est cacerts --once
is "refresh, end-entity certificate only: exit 1" "$RC" 1
is "refresh: /cacerts was asked" "$(requests_to cacerts)" $((asked + 1))
is "refresh: the file copy keeps its anchors" "$(anchors file | sha256sum)" "$cas"
is "refresh: the keyring keeps its anchors" "$(anchors keyring | sha256sum)" "$cas_kr"
is "refresh: still one anchor in each copy" "$(anchor_count file) $(anchor_count keyring)" "1 1"
is "refresh: the pair is kept" "$(file_pipe est-enrolled-key-pair | sha256sum)" "$bundle"
check "refresh: the copies agree" copies_agree

# An answer with the chain and an end-entity certificate refreshes the set without the latter.
behaviour "cacerts-ee-extra"
est cacerts --once
is "refresh, chain + end-entity certificate: exit 0" "$RC" 0
is "refresh: still one anchor in each copy" "$(anchor_count file) $(anchor_count keyring)" "1 1"
check "refresh: the copies agree" copies_agree

done_testing
