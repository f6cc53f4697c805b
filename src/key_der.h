/* SPDX-License-Identifier: MIT */
/* A generated EC key as PKCS#8 PEM without OpenSSL's encoders (key_der.c). */
#pragma once

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* key (P-256, P-384 or P-521, uncompressed public point) as PEM_write_bio_PrivateKey writes
 * it; caller wipe_free()s. 0, or -ENOTSUP for any other key, which OpenSSL then writes. */
int key_der_ec_pkcs8_pem(EVP_PKEY *key, char **out_pem, size_t *out_len);
/* Sets spki (a CSR's, X509_REQ_get_X509_PUBKEY) to key's public key the way X509_PUBKEY_set
 * would (id-ecPublicKey, namedCurve, the uncompressed point): 0, or -ENOTSUP as above. */
int key_der_ec_set_spki(X509_PUBKEY *spki, EVP_PKEY *key);
