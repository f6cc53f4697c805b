/* SPDX-License-Identifier: MIT */
/* PEM blocks one by one, decoded to DER (RFC 7468): no ASN.1 parsing, no OpenSSL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct pem_reader {
	const char *p, *end;
};

struct pem_block {
	char *name;	     /* "CERTIFICATE", "PRIVATE KEY", ... */
	char *header;	     /* RFC 1421 header lines ("Proc-Type: 4,ENCRYPTED"), or NULL */
	unsigned char *data; /* the DER */
	size_t len;
	const char *text; /* the block in the input, BEGIN line to END line and its newline */
	size_t text_len;
};

void pem_reader_init(struct pem_reader *r, const char *data, size_t len);
/* Reads the next block into b (cleared first): 1, 0 when no block is left, -EBADMSG for a
 * damaged one (no END line, another label at the END, not base64). Text around blocks is
 * skipped. */
int pem_next(struct pem_reader *r, struct pem_block *b);
/* True when b's text is as OpenSSL's PEM writers put it: no headers, base64 in lines of 64,
 * LF line ends. Such a text is what re-encoding its DER would give. */
bool pem_is_canonical(const struct pem_block *b);
/* Frees b, wiping the DER (it may be a key). */
void pem_block_clear(struct pem_block *b);
/* "CERTIFICATE", "X509 CERTIFICATE" or "TRUSTED CERTIFICATE" (the certificate, then aux data). */
bool pem_is_certificate(const struct pem_block *b);
/* True for "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY": blocks we can read without a
 * passphrase (an encrypted key has another name or a Proc-Type header). */
bool pem_is_plain_key(const struct pem_block *b);
