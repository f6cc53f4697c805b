/* SPDX-License-Identifier: MIT */
/* Unit tests for est.c: base64 both ways, Retry-After, paths. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "est.h"
#include "util.h"
#include "tap.h"

static void test_base64_roundtrip(void)
{
	unsigned char in[300], *out = NULL;
	size_t i, n, out_len = 0;
	char *b64;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (n = 1; n <= sizeof(in); n += 37) {
		b64 = est_base64_encode(in, n);
		ok(b64[strlen(b64) - 1] == '\n', "encode(%zu) ends in a newline", n);
		ok(est_base64_decode(b64, strlen(b64), &out, &out_len) == 0 && out_len == n &&
			   !memcmp(out, in, n),
		   "decode(encode(%zu bytes)) round-trips", n);
		free(out);
		out = NULL;
		free(b64);
	}
	b64 = est_base64_encode(in, 100);
	ok(strchr(b64, '\n') - b64 == 64, "encoding wraps at 64 columns");
	free(b64);
}

static void test_base64_lenient(void)
{
	static const struct {
		const char *in;
		const char *want;	/* NULL: must fail */
	} cases[] = {
		{ "aGVsbG8=", "hello" },
		{ "aGVs\nbG8=\n", "hello" },
		{ "aGVs\r\nbG8=\r\n", "hello" },
		{ "  aGVsbG8=  ", "hello" },
		{ "aGVsbG8", "hello" },
		{ "aGVsbA==", "hell" },
		{ "aGVsbG8=aGVs", NULL },
		{ "aGVs*G8=", NULL },
		{ "", NULL },
		{ "\n\n", NULL },
		{ "a", NULL },
		{ "aGVsbG8===", NULL },
		{ "<html>", NULL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned char *out = NULL;
		size_t len = 0;
		int r = est_base64_decode(cases[i].in, strlen(cases[i].in), &out, &len);

		if (cases[i].want)
			ok(r == 0 && len == strlen(cases[i].want) && !memcmp(out, cases[i].want, len),
			   "base64 '%s' decodes", cases[i].in);
		else
			ok(r == -EBADMSG, "base64 '%s' is refused", cases[i].in);
		free(out);
	}
}

static void test_retry_after(void)
{
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	uint64_t s = 12345;

	ok(est_parse_retry_after("120", now, 3600, &s) == 0 && s == 120, "delta-seconds");
	ok(est_parse_retry_after(" 5 ", now, 3600, &s) == 0 && s == 5, "delta-seconds with blanks");
	ok(est_parse_retry_after("99999999", now, 3600, &s) == 0 && s == 3600, "delta clamped");
	ok(est_parse_retry_after("99999999999999999999999", now, 3600, &s) == 0 && s == 3600,
	   "overflowing delta clamped");
	ok(est_parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now, 3600, &s) == 0 && s == 60,
	   "HTTP-date a minute ahead");
	ok(est_parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now, 3600, &s) == 0 && s == 0,
	   "HTTP-date in the past is 0");
	ok(est_parse_retry_after("Mon, 06 Nov 2094 08:00:00 GMT", now, 3600, &s) == 0 && s == 3600,
	   "HTTP-date far ahead clamped");
	s = 7;
	ok(est_parse_retry_after("soon", now, 3600, &s) == -EINVAL && s == 7, "garbage refused");
	ok(est_parse_retry_after("12abc", now, 3600, &s) == -EINVAL, "trailing garbage refused");
	ok(est_parse_retry_after("-5", now, 3600, &s) == -EINVAL, "negative refused");
}

static void test_paths(void)
{
	char *p = est_path(NULL, "cacerts");

	ok(!strcmp(p, "/.well-known/est/cacerts"), "path without label");
	free(p);
	p = est_path("", "simpleenroll");
	ok(!strcmp(p, "/.well-known/est/simpleenroll"), "empty label is no label");
	free(p);
	p = est_path("plant7", "simplereenroll");
	ok(!strcmp(p, "/.well-known/est/plant7/simplereenroll"), "path with label");
	free(p);
}

int main(void)
{
	test_base64_roundtrip();
	test_base64_lenient();
	test_retry_after();
	test_paths();
	return tap_done();
}
