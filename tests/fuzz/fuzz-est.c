/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: every parser of what an EST server sends (base64, Retry-After, multipart, csrattrs). */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "csrattrs.h"
#include "est.h"
#include "util.h"

static int part(void *ctx, const char *headers, size_t hlen, const char *body, size_t blen)
{
	(void)ctx;
	(void)headers;
	(void)body;
	return hlen + blen > 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct csrattrs *attrs = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	uint64_t secs;

	if (base64_decode((const char *)data, size, &der, &len) == 0) {
		if (csrattrs_parse(der, len, &attrs) == 0)
			csrattrs_free(attrs);
		free(der);
	}
	est_parse_retry_after(s, 1000000, 86400, &secs);
	est_multipart_parse((const char *)data, size, "b", part, NULL);
	attrs = NULL;
	if (csrattrs_parse(data, size, &attrs) == 0)
		csrattrs_free(attrs);
	free(s);
	return 0;
}
