/* SPDX-License-Identifier: MIT */
/* Certs-only PKCS#7 (RFC 7030 /cacerts, /simpleenroll answers). */
#pragma once

#include <stddef.h>

#include <openssl/x509.h>

/*
 * Parses DER certs-only PKCS#7 (signedData with certificates, no signers required).
 * Returns 0 or -EBADMSG (not PKCS#7 / not signedData), -ENOENT (no certificates).
 * Caller sk_X509_pop_free(.., X509_free)s.
 */
int pkcs7_certs_parse(const unsigned char *der, size_t len, STACK_OF(X509) **out_certs);
