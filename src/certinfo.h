/* SPDX-License-Identifier: MIT */
/* What a certificate says, read from its DER without decoding its public key (certinfo.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Pieces of one certificate; the pointers are into the DER it was read from. */
struct certinfo {
	const unsigned char *der; /* the Certificate, without what follows it (TRUSTED aux) */
	size_t der_len;
	const unsigned char *serial, *issuer, *subject, *spki; /* whole TLVs */
	long serial_len, issuer_len, subject_len, spki_len;
	time_t not_before, not_after;
};

/* Reads der (a Certificate, maybe followed by more bytes) into ci. 0 or -EBADMSG. */
int certinfo_parse(const unsigned char *der, size_t len, struct certinfo *ci);

/* Calls fn for each certificate block of a PEM buffer, in order, until fn returns non-zero
 * (returned, if negative). Returns the number of certificates seen, -EBADMSG for a block that
 * does not read, or fn's error. */
int certinfo_each_pem(const char *pem, size_t len, int (*fn)(const struct certinfo *ci, void *ctx),
		      void *ctx);

/* The validity of the first certificate of a PEM buffer. 0, -ENOENT when there is none,
 * -EBADMSG. */
int certinfo_first_pem(const char *pem, size_t len, time_t *not_before, time_t *not_after);

/* SHA-256, hex, over the concatenated DER of every certificate in a PEM buffer, so text,
 * comments and line endings around them do not change it. -ENOENT if none, -EBADMSG. */
int certinfo_pem_sha256(const char *pem, size_t len, char out[65]);

/* For status: RFC 2253 subject and issuer (OPENSSL_free), serial in hex (OPENSSL_free). */
char *certinfo_subject(const struct certinfo *ci);
char *certinfo_issuer(const struct certinfo *ci);
char *certinfo_serial(const struct certinfo *ci);
/* The public key's type ("EC", "RSA", "ED25519", "ED448", or OpenSSL's short name of the
 * algorithm), size in bits as OpenSSL counts it, and the EC curve's name ("" if none). */
void certinfo_key(const struct certinfo *ci, const char **type, int *bits, char *curve,
		  size_t curve_len);
