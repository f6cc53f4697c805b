/* SPDX-License-Identifier: MIT */
/* Accepting a new CA certificate set: plain refresh and RFC 7030 4.1.3 root key update. */
#pragma once

#include <openssl/x509.h>

/*
 * Keeps in certs only the usable CA certificates, basicConstraints CA:TRUE and, where keyUsage
 * is present, keyCertSign: an end-entity certificate in a /cacerts answer is no trust anchor
 * (each one dropped is logged). 0, or -EBADMSG when none is left (logged: keep the stored set).
 */
int cacerts_keep_cas(STACK_OF(X509) *certs);
/*
 * Checks a /cacerts answer against the stored trust anchors. Every certificate must chain to a
 * stored anchor, except a new self-signed root (NewWithNew), which is accepted only when the
 * answer also holds a NewWithOld certificate (same subject and key) that chains to a stored
 * anchor. Returns 0, or -EBADMSG with the reason logged (keep the stored set).
 */
int cacerts_verify_update(STACK_OF(X509) *anchors, STACK_OF(X509) *received);
