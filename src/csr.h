/* SPDX-License-Identifier: MIT */
/* What goes into our CSR: subject or the current identity, PoP binding, what the server asked for.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config.h"
#include "csrattrs.h"
#include "http.h"

struct csr_input {
	const struct config *cfg;
	struct http *http; /* the connection that will carry the request (PoP binding) */
	EVP_PKEY *key;
	X509 *current; /* renewal: subject and subjectAltName come from it; NULL otherwise */
	const struct csrattrs *attrs; /* the server's /csrattrs, or NULL */
	enum csr_pop {
		CSR_POP_NONE,
		CSR_POP_TLS_UNIQUE,   /* RFC 5929, TLS <= 1.2 */
		CSR_POP_TLS_EXPORTER, /* RFC 9266, TLS 1.3 */
	} pop; /* the channel binding put in challengePassword (RFC 7030 3.5) */
	/* Where key signs: a hardware key's provider context (pass_key_signer); NULL, NULL:
	 * OpenSSL's default context. */
	OSSL_LIB_CTX *libctx;
	const char *propq;
};

/* Builds and signs the CSR; DER out, caller OPENSSL_free()s. 0 or -errno (logged). */
int csr_make(const struct csr_input *in, unsigned char **out_der, size_t *out_len);
