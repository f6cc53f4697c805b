/* SPDX-License-Identifier: MIT */
/* Base64 (RFC 4648) as EST servers send it and PEM carries it. */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>

#include "base64.h"
#include "util.h"

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
	unsigned int acc = 0, bits = 0, pad = 0;
	unsigned char *buf;
	size_t i, n = 0;

	/* libest ends its base64 with the C string's NUL: tolerated at the very end only. */
	while (len && (in[len - 1] == '\0' || isspace((unsigned char)in[len - 1])))
		len--;
	buf = xmalloc(len / 4 * 3 + 3);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (isspace(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = b64_value(c);
		/* Data after padding, or a byte outside the alphabet, is not base64. */
		if (v < 0 || pad)
			goto bad;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (n == 0 || pad > 2 || bits >= 6)
		goto bad;
	*out = buf;
	*out_len = n;
	return 0;
bad:
	wipe_free(buf, len / 4 * 3 + 3);
	return -EBADMSG;
}

char *base64_encode(const unsigned char *in, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t groups = (len + 2) / 3;
	char *s = xmalloc(groups * 4 + groups / 16 + 2);
	size_t i, n = 0;

	for (i = 0; i < len; i += 3) {
		unsigned int v = (unsigned int)in[i] << 16;

		if (i + 1 < len)
			v |= (unsigned int)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		s[n++] = alphabet[(v >> 18) & 63];
		s[n++] = alphabet[(v >> 12) & 63];
		s[n++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		s[n++] = i + 2 < len ? alphabet[v & 63] : '=';
		if ((i / 3 + 1) % 16 == 0 && i + 3 < len)
			s[n++] = '\n';
	}
	s[n++] = '\n';
	s[n] = '\0';
	return s;
}
