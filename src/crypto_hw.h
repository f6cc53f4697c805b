/* SPDX-License-Identifier: MIT */
/* Keys inside a TPM 2.0 or a PKCS#11 token, through OpenSSL's tpm2 and pkcs11 providers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "config.h"

struct crypto_hw;

/*
 * Binds the provider cfg->key_storage names (tpm2 for tpm, pkcs11 for a token URI) in a private
 * library context of its own, with OpenSSL's default provider before it; nothing is loaded for
 * software keys (-EINVAL). 0, -ENOPKG when the provider cannot be loaded (the package is named
 * in the log), -EIO. Caller crypto_hw_free()s.
 */
int crypto_hw_new(const struct config *cfg, struct crypto_hw **out_hw);
void crypto_hw_free(struct crypto_hw *hw);

/* Where a key of that storage lives, for messages: "a TPM", "a PKCS#11 token", "software". */
const char *crypto_hw_place(enum key_storage where);
/* KEY_STORAGE_TPM or KEY_STORAGE_PKCS11: what hw binds. */
enum key_storage crypto_hw_storage(const struct crypto_hw *hw);
/* The library context the keys live in and the property query that signs with them ("?provider=
 * tpm2"): for EVP_DigestSignInit_ex, X509_REQ_sign_ex and the like. Owned by hw. */
OSSL_LIB_CTX *crypto_hw_libctx(const struct crypto_hw *hw);
const char *crypto_hw_propq(const struct crypto_hw *hw);

/*
 * Generates a key pair of alg and params (crypto_default_key_params() when NULL or "") inside
 * the hardware; label names the PKCS#11 objects (letters, digits and -_.), ignored for a TPM.
 * out_key signs through the provider; out_pem is the reference the store keeps (TSS2 PRIVATE
 * KEY, or PKCS#11 PROVIDER URI: no PIN, no key material). 0, -ENOTSUP (an algorithm the hardware
 * does not make), -EIO with the OpenSSL errors logged. Caller frees the key and wipe_free()s
 * the PEM.
 */
int crypto_hw_keygen(struct crypto_hw *hw, enum key_alg alg, const char *params, const char *label,
		     EVP_PKEY **out_key, char **out_pem, size_t *out_len);
/* The key a reference PEM (as crypto_hw_keygen() wrote it) stands for. 0, -ENOKEY, -EIO. */
int crypto_hw_key_from_pem(struct crypto_hw *hw, const char *pem, size_t len, EVP_PKEY **out_key);
/*
 * Where the first key of a stored PEM bundle lives, from its block's label alone (no OpenSSL,
 * no provider): KEY_STORAGE_TPM for a TSS2 PRIVATE KEY, KEY_STORAGE_PKCS11 for a PKCS#11
 * PROVIDER URI, KEY_STORAGE_SOFTWARE for a plain key, no key or a damaged bundle.
 */
enum key_storage crypto_hw_pem_storage(const char *pem, size_t len);
/* The PKCS#11 URI (token and object) a stored PKCS#11 PROVIDER URI block holds, when the bundle
 * starts with one; NULL otherwise. No provider needed. Caller frees. */
char *crypto_hw_pem_uri(const char *pem, size_t len);
/* True when key is one of hw's provider (made or loaded through hw), so signs through it. */
bool crypto_hw_holds(const struct crypto_hw *hw, EVP_PKEY *key);

/*
 * key (of hw) as libssl's SSL_CTX_use_PrivateKey() can use it on a context of OpenSSL's default
 * library context (libcurl's): a token's key itself; a TPM's EC or RSA key through a bridge that
 * signs in hw's provider (tpm2-openssl 1.1.1 would give libssl the public half only). hw must
 * outlive the key. 0 or -EIO. Caller EVP_PKEY_free()s (crypto_hw_tls.c).
 */
int crypto_hw_tls_key(struct crypto_hw *hw, EVP_PKEY *key, EVP_PKEY **out_key);
