/* SPDX-License-Identifier: MIT */
/* What a server asks of our CSR (RFC 7030 4.5, /csrattrs): parsed and checked against the config.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config.h"

struct csrattrs {
	bool challenge_password;	      /* the server wants Proof-of-Possession */
	STACK_OF(X509_EXTENSION) *extensions; /* to put into the extensionRequest */
	int key_type;			      /* EVP_PKEY_EC, EVP_PKEY_RSA, EVP_PKEY_ED25519 or 0 */
	int curve_nid;			      /* for EC, or 0 */
	int rsa_bits;			      /* for RSA, or 0 */
	const EVP_MD *md;		      /* wanted signature hash, or NULL */
};

/* Parses DER CsrAttrs. 0 or -EBADMSG. Caller csrattrs_free()s. */
int csrattrs_parse(const unsigned char *der, size_t len, struct csrattrs **out_attrs);
void csrattrs_free(struct csrattrs *a);
/* Checks a required key type/size/curve against the configured key. 0 or -EPROTO (logged). */
int csrattrs_check_key(const struct csrattrs *a, enum key_alg alg, const char *params);
