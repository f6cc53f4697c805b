/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for what a server sends back: the input as an answer head (http_head_len,
 * http_head_parse), what follows it as a chunked body fed in pieces, and the head's
 * WWW-Authenticate as Digest challenges.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_digest.h"
#include "http_parse.h"
#include "log.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(-1);
	return 0;
}

/* The rest as a chunked body, in pieces whose size the first byte picks. */
static void chunked(const uint8_t *data, size_t size)
{
	struct http_chunked c = {0};
	size_t step = size ? (size_t)data[0] % 17 + 1 : 1, pos = 0, n, used, got, sum = 0, i;
	unsigned char *buf = xmalloc(size + 1);
	int r = 0;

	while (r == 0 && pos < size) {
		n = size - pos < step ? size - pos : step;
		memcpy(buf, data + pos, n);
		r = http_chunked_decode(&c, buf, n, &used, &got);
		if (r < 0 || used > n || got > used)
			break;
		for (i = 0; i < got; i++)
			sum += buf[i];
		pos += used;
		if (!used && r == 0)
			break;
	}
	(void)sum;
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct http_head h = {0};
	struct http_digest *d = NULL;
	size_t hl = http_head_len(p, size);
	char *a;

	if (hl && http_head_parse(p, hl, &h) == 0 && h.www_authenticate &&
	    http_digest_parse(h.www_authenticate, &d) == 0) {
		a = http_digest_answer(d, "user", "pass", "GET", "/x");
		wipe_str(a);
		http_digest_free(d);
	}
	http_head_clear(&h);
	chunked(data + hl, size - hl);
	return 0;
}
