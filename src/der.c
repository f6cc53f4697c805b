/* SPDX-License-Identifier: MIT */
/* Walking DER (X.690) one TLV at a time, without libcrypto. */
#include "autoconf.h"

#include "der.h"

bool der_next(const unsigned char **p, const unsigned char *end, unsigned char id, struct der *t)
{
	const unsigned char *q = *p;
	size_t len = 0, n;

	if (q >= end || end - q < 2 || *q++ != id)
		return false;
	if (*q < 0x80) {
		len = *q++;
	} else {
		n = *q++ & 0x7f;
		if (n == 0 || n > 4 || (size_t)(end - q) < n)
			return false; /* indefinite (BER) or absurd */
		while (n--)
			len = len << 8 | *q++;
	}
	if (len > (size_t)(end - q))
		return false;
	t->start = *p;
	t->content = q;
	t->content_len = len;
	t->len = (size_t)(q - *p) + len;
	*p = q + len;
	return true;
}
