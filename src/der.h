/* SPDX-License-Identifier: MIT */
/* Walking DER (X.690) one TLV at a time, without libcrypto: for certinfo.c and dn_print.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct der {
	const unsigned char *start; /* the whole TLV */
	size_t len;
	const unsigned char *content;
	size_t content_len;
};

/* Reads the TLV at *p (not beyond end) if its identifier octet is id (0x30 SEQUENCE, 0x02
 * INTEGER, 0xa0 [0], ...: low tag numbers only, which is all a certificate's outline and names
 * use) and its length is definite, in the short form or at most 4 octets (DER); moves *p past
 * it. */
bool der_next(const unsigned char **p, const unsigned char *end, unsigned char id, struct der *t);
