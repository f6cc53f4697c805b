/* SPDX-License-Identifier: MIT */
/* What a server asks of our CSR (RFC 7030 4.5, RFC 9908, /csrattrs): parsed and checked against
 * the config. */
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
	/* The subject of an RFC 9908 template, or NULL: an entry with an empty value is for the
	 * client to fill in (csrattrs_subject). */
	X509_NAME *subject;
	bool from_template; /* all of the above came from an RFC 9908 template */
};

/*
 * Parses DER CsrAttrs attribute by attribute: what is understood is kept, a malformed attribute
 * is skipped and what cannot be honoured is left out, each with one warning for the whole
 * answer. When the answer holds an RFC 9908 CertificationRequestInfoTemplate, the template
 * alone counts (RFC 9908 4). 0, or -EBADMSG when der is not a SEQUENCE at all (logged).
 * Caller csrattrs_free()s.
 */
int csrattrs_parse(const unsigned char *der, size_t len, struct csrattrs **out_attrs);
void csrattrs_free(struct csrattrs *a);
/* Checks a required key type/size/curve against the configured key. 0 or -EPROTO (logged). */
int csrattrs_check_key(const struct csrattrs *a, enum key_alg alg, const char *params);
/*
 * The subject a's template asks for, its empty values filled in from configured (the n-th
 * entry of a type from the n-th of that type there). -ENOENT when a has no subject or
 * configured lacks a value it needs (logged); caller X509_NAME_free()s.
 */
int csrattrs_subject(const struct csrattrs *a, const X509_NAME *configured, X509_NAME **out_name);
