/* SPDX-License-Identifier: MIT */
/* Key pairs, CSRs, certificate checks: libcrypto but for PKCS#7 (pkcs7.c) and names (dn.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config.h"

/* At the start of main: OpenSSL without openssl.cnf, until crypto_load_config(). */
void crypto_start(void);
/* Reads openssl.cnf, once a process: before keys, CSRs, TLS, or parsing certificates whole. */
void crypto_load_config(void);

/* Logs what (once, at error level) followed by the drained OpenSSL error queue. */
void crypto_log_errors(const char *what);

/* Checks key_params for alg (curve OpenSSL knows / RSA bits 2048..8192 / none for Ed25519). 0 or
 * -EINVAL, reason in out_why (static). */
int crypto_check_key_params(enum key_alg alg, const char *params, const char **out_why);
/* Checks that csr_signer (e.g. "SHA384WITHECDSA", case-insensitive) fits alg. 0 or -EINVAL, reason
 * in out_why. */
int crypto_check_signer(enum key_alg alg, const char *signer, const char **out_why);
/* NID of a curve as OpenSSL ("prime256v1"), NIST ("P-256") or SEC 2 ("secp256r1") names it, or
 * NID_undef. */
int crypto_curve_nid(const char *name);
/* Default key_params text for alg ("prime256v1", "2048", ""); static. */
const char *crypto_default_key_params(enum key_alg alg);

/* EVP_PKEY_EC, EVP_PKEY_RSA or EVP_PKEY_ED25519 for alg. */
int crypto_key_alg_pkey_id(enum key_alg alg);
/* True when key is of algorithm alg with params (curve in any spelling crypto_curve_nid knows, RSA
 * bits; NULL or "" = crypto_default_key_params(alg)). */
bool crypto_key_fits(EVP_PKEY *key, enum key_alg alg, const char *params);
/* True when a and b hold the same public key (either may be a private key); false for NULL. */
bool crypto_keys_equal(EVP_PKEY *a, EVP_PKEY *b);
/* Generates a key pair. Returns 0 or -errno; caller EVP_PKEY_free()s. */
int crypto_keygen(enum key_alg alg, const char *params, EVP_PKEY **out_key);
/* Private key as PKCS#8 PEM (unencrypted); caller wipe_free()s. */
int crypto_key_to_pem(EVP_PKEY *key, char **out_pem, size_t *out_len);
/* First private key found in a PEM buffer (PKCS#8, PKCS#1 or SEC1). -ENOKEY if none. */
int crypto_key_from_pem(const char *pem, size_t len, EVP_PKEY **out_key);
/* Private key from DER (PKCS#8, also PKCS#1 RSA). */
int crypto_key_from_der(const unsigned char *der, size_t len, EVP_PKEY **out_key);

struct csr_params {
	EVP_PKEY *key;
	const X509_NAME *subject;
	const char *signer; /* NULL: SHA-256 for EC/RSA (SHA-384 for P-384, SHA-512 for P-521), none
			       for Ed25519 */
	const char *challenge_password;		    /* NULL: no challengePassword attribute */
	const STACK_OF(X509_EXTENSION) *extensions; /* NULL: no extensionRequest */
	/* A key inside a TPM or a token signs in its provider's context (crypto_hw_libctx(),
	 * crypto_hw_propq()); NULL, NULL: OpenSSL's default context. */
	OSSL_LIB_CTX *libctx;
	const char *propq;
};
/* Builds and signs a PKCS#10 request; DER out. Caller OPENSSL_free()s. */
int crypto_csr_build(const struct csr_params *p, unsigned char **out_der, size_t *out_len);

/* All certificates in a PEM buffer, in order; -ENOENT if none. Caller sk_X509_pop_free(..,
 * X509_free). */
int crypto_certs_from_pem(const char *pem, size_t len, STACK_OF(X509) **out_certs);
/* Appends cert as PEM to a growing buffer (*buf, *len). */
int crypto_cert_append_pem(X509 *cert, char **buf, size_t *len);
/* True when cert's public key equals key's. */
bool crypto_cert_matches_key(X509 *cert, EVP_PKEY *key);
/*
 * Verifies leaf against anchors (trusted, partial chain allowed) with untrusted as intermediates,
 * at time now (0 = current time). 0, or -EBADMSG with the reason logged.
 */
int crypto_verify_chain(X509 *leaf, STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors, time_t now);
/* notBefore / notAfter as time_t. */
int crypto_cert_validity(X509 *cert, time_t *out_not_before, time_t *out_not_after);
/* One-line subject (RFC 2253 form); caller frees with OPENSSL_free. */
/* A name in RFC 2253 form for people to read, or NULL; caller OPENSSL_free()s. */
char *crypto_name_string(const X509_NAME *name);
char *crypto_cert_subject(X509 *cert);
char *crypto_cert_issuer(X509 *cert);
/* Serial as hex; caller OPENSSL_free()s. */
char *crypto_cert_serial(X509 *cert);
/* SHA-256 fingerprint of the cert DER, hex, into out. */
int crypto_cert_fingerprint(X509 *cert, char out[65]);
