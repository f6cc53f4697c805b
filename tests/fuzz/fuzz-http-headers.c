/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for what an EST server puts in its headers: the input's first line as a
 * Content-Type (media type, multipart boundary), its second as a Retry-After, the rest as the
 * multipart body split at that boundary; each also escaped for the log.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "est.h"
#include "log.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int part(void *ctx, const char *headers, size_t hlen, const char *body, size_t blen)
{
	size_t *n = ctx;

	/* Touch every byte handed out: ASan catches a span that runs off the body. */
	for (; hlen; hlen--)
		*n += (unsigned char)headers[hlen - 1];
	for (; blen; blen--)
		*n += (unsigned char)body[blen - 1];
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(-1);
	return 0;
}

/* The next line of [*p, end) as a string; *p moves past it. Caller frees. */
static char *line(const char **p, const char *end)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = xstrndup(*p, n);

	*p += nl ? n + 1 : n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char *ctype = line(&p, end), *retry = line(&p, end), *boundary, *e;
	uint64_t secs = 0;
	size_t sum = 0;

	(void)est_media_type_is(ctype, "application/pkcs7-mime");
	(void)est_media_type_is(ctype, "multipart/mixed");
	boundary = est_multipart_boundary(ctype);
	est_multipart_parse(p, (size_t)(end - p), boundary ? boundary : "b", part, &sum);
	est_parse_retry_after(retry, 1000000000, 86400, &secs);
	est_parse_retry_after(retry, 0, UINT64_MAX, &secs);
	e = escape_for_log((const char *)data, size, 200);
	free(e);
	e = escape_for_log(ctype, (size_t)-1, 16);
	free(e);
	free(boundary);
	free(retry);
	free(ctype);
	return 0;
}
