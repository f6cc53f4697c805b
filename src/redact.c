/* SPDX-License-Identifier: MIT */
/* Secrets out of log lines: the user information of URLs and given strings, masked. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "util.h"

/* in with each occurrence of secret as "***". Caller wipe_str()s. */
static char *replace_secret(const char *in, const char *secret)
{
	size_t n = strlen(in), k = strlen(secret), o = 0;
	char *out = xmalloc(3 * n + 1);
	const char *p = in, *hit;

	while (k && (hit = strstr(p, secret))) {
		memcpy(out + o, p, (size_t)(hit - p));
		o += (size_t)(hit - p);
		memcpy(out + o, "***", 3);
		o += 3;
		p = hit + k;
	}
	memcpy(out + o, p, strlen(p) + 1);
	return out;
}

char *redact_text(const char *text, char *const *secrets)
{
	size_t n = strlen(text), o = 0, k;
	char *out = xmalloc(3 * n + 1), *next;
	const char *p = text, *scheme, *end, *at;
	char *const *sec;

	while ((scheme = strstr(p, "://"))) {
		k = (size_t)(scheme + 3 - p);
		memcpy(out + o, p, k);
		o += k;
		p = scheme + 3;
		/* scheme://userinfo@host: the last @ before the path, a blank or a quote ends it */
		end = p + strcspn(p, "/ \t<>\"?#");
		at = memrchr(p, '@', (size_t)(end - p));
		if (at) {
			memcpy(out + o, "***", 3);
			o += 3;
			p = at;
		}
	}
	memcpy(out + o, p, strlen(p) + 1);
	for (sec = secrets; sec && *sec; sec++) {
		next = replace_secret(out, *sec);
		wipe_str(out);
		out = next;
	}
	return out;
}

char *url_userinfo(const char *url)
{
	const char *p = url ? strstr(url, "://") : NULL, *end, *at;

	if (!p)
		return NULL;
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memrchr(p, '@', (size_t)(end - p));
	return at && at > p ? xstrndup(p, (size_t)(at - p)) : NULL;
}

char *percent_decode(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), hex[3] = {0};
	size_t o = 0;

	for (; *s; s++) {
		if (*s == '%' && s[1] && s[2]) {
			hex[0] = s[1];
			hex[1] = s[2];
			out[o++] = (char)strtoul(hex, NULL, 16);
			s += 2;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}
