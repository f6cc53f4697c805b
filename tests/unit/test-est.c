/* SPDX-License-Identifier: MIT */
/* Unit tests for est.c: base64 both ways, Retry-After, paths, multipart, media types. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base64.h"
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
		b64 = base64_encode(in, n);
		ok(b64[strlen(b64) - 1] == '\n', "encode(%zu) ends in a newline", n);
		ok(base64_decode(b64, strlen(b64), &out, &out_len) == 0 && out_len == n &&
			   !memcmp(out, in, n),
		   "decode(encode(%zu bytes)) round-trips", n);
		free(out);
		out = NULL;
		free(b64);
	}
	b64 = base64_encode(in, 100);
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
		int r = base64_decode(cases[i].in, strlen(cases[i].in), &out, &len);

		if (cases[i].want)
			ok(r == 0 && len == strlen(cases[i].want) && !memcmp(out, cases[i].want, len),
			   "base64 '%s' decodes", cases[i].in);
		else
			ok(r == -EBADMSG, "base64 '%s' is refused", cases[i].in);
		free(out);
	}
}

/* libest sends the C string's NUL after the base64: fine at the end, nowhere else. */
static void test_base64_nul(void)
{
	static const char tail[] = "aGVsbG8=\n\0", two[] = "aGVsbG8=\0\0", mid[] = "aGVs\0bG8=";
	unsigned char *out = NULL;
	size_t len = 0;

	ok(base64_decode(tail, sizeof(tail) - 1, &out, &len) == 0 && len == 5 &&
		   !memcmp(out, "hello", 5),
	   "a NUL after the base64 is ignored");
	free(out);
	out = NULL;
	ok(base64_decode(two, sizeof(two) - 1, &out, &len) == 0 && len == 5,
	   "NULs at the end are ignored");
	free(out);
	out = NULL;
	ok(base64_decode(mid, sizeof(mid) - 1, &out, &len) == -EBADMSG,
	   "a NUL inside the base64 is refused");
	ok(base64_decode("\0", 1, &out, &len) == -EBADMSG, "a NUL alone is refused");
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
	ok(est_parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now, 3600, &s) == 0 && s == 60,
	   "RFC 850 date a minute ahead");
	ok(est_parse_retry_after("Sun Nov  6 08:50:37 1994", now, 3600, &s) == 0 && s == 60,
	   "asctime date a minute ahead");
	ok(est_parse_retry_after("Sun Nov 16 08:49:37 1994", now, 864000, &s) == 0 &&
		   s == 10 * 86400,
	   "asctime date with a two-digit day");
	ok(est_parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT  ", now, 3600, &s) == 0 && s == 60,
	   "trailing blanks after a date");
	/* 2030-01-01 00:00:00 as now: "99" is 1999, "30" is 2030, "79" is 2079 (49 years on). */
	ok(est_parse_retry_after("Friday, 01-Jan-99 00:00:00 GMT", 1893456000, 3600, &s) == 0 &&
		   s == 0,
	   "RFC 850 two-digit year in the past");
	ok(est_parse_retry_after("Tuesday, 01-Jan-30 00:01:00 GMT", 1893456000, 3600, &s) == 0 &&
		   s == 60,
	   "RFC 850 two-digit year of this century");
	ok(est_parse_retry_after("Sunday, 01-Jan-79 00:00:00 GMT", 1893456000, 1ULL << 40, &s) ==
			   0 &&
		   s == 3439756800ULL - 1893456000ULL,
	   "RFC 850 two-digit year 49 years ahead stays ahead");
	ok(est_parse_retry_after("Monday, 01-Jan-81 00:00:00 GMT", 1893456000, 1ULL << 40, &s) ==
			   0 &&
		   s == 0,
	   "RFC 850 two-digit year 51 years ahead is the past century");
	s = 7;
	ok(est_parse_retry_after("Sun, 06 Nov 1994 08:50:37", now, 3600, &s) == -EINVAL && s == 7,
	   "IMF-fixdate without GMT refused");
	ok(est_parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT x", now, 3600, &s) == -EINVAL,
	   "a date with trailing garbage refused");
	ok(est_parse_retry_after("Sun, 36 Nov 1994 08:50:37 GMT", now, 3600, &s) == -EINVAL,
	   "a date with day 36 refused");
	ok(est_parse_retry_after("", now, 3600, &s) == -EINVAL, "empty refused");
	s = 7;
	ok(est_parse_retry_after("soon", now, 3600, &s) == -EINVAL && s == 7, "garbage refused");
	ok(est_parse_retry_after("12abc", now, 3600, &s) == -EINVAL, "trailing garbage refused");
	ok(est_parse_retry_after("-5", now, 3600, &s) == -EINVAL, "negative refused");
}

struct parts {
	int n;
	char hdr[4][128];
	char body[4][256];
};

static int collect(void *ctx, const char *headers, size_t hlen, const char *part, size_t plen)
{
	struct parts *p = ctx;

	if (p->n >= 4 || hlen >= sizeof(p->hdr[0]) || plen >= sizeof(p->body[0]))
		return -E2BIG;
	memcpy(p->hdr[p->n], headers, hlen);
	p->hdr[p->n][hlen] = '\0';
	memcpy(p->body[p->n], part, plen);
	p->body[p->n][plen] = '\0';
	p->n++;
	return 0;
}

static int multipart(const char *body, const char *boundary, struct parts *p)
{
	memset(p, 0, sizeof(*p));
	return est_multipart_parse(body, strlen(body), boundary, collect, p);
}

static void test_multipart(void)
{
	struct parts p;
	int r;

	r = multipart("--b\r\nContent-Type: a/b\r\n\r\nAAAA\n\nBBBB\r\n--b\r\n"
		      "Content-Type: c/d\r\n\r\nCCCC\r\n--b--\r\n",
		      "b", &p);
	ok(r == 0 && p.n == 2, "CRLF multipart: two parts");
	ok(!strcmp(p.hdr[0], "Content-Type: a/b\r\n"), "the headers end at the empty CRLF line");
	ok(!strcmp(p.body[0], "AAAA\n\nBBBB"), "a body holding \\n\\n is not cut: '%s'", p.body[0]);
	ok(!strcmp(p.body[1], "CCCC"), "the CRLF before the delimiter belongs to it");

	r = multipart("--b\nContent-Type: a/b\n\nAAAA\n--b--\n", "b", &p);
	ok(r == 0 && p.n == 1 && !strcmp(p.body[0], "AAAA") &&
		   !strcmp(p.hdr[0], "Content-Type: a/b\n"),
	   "bare-LF multipart");

	r = multipart("preamble --b not here\r\n--b\r\n\r\nxx--b yy\r\n--bb\r\nzz\r\n"
		      "--b  \r\nContent-Type: c/d\r\n\r\nw\r\n--b--\r\nepilogue --b\r\n",
		      "b", &p);
	ok(r == 0 && p.n == 2, "boundary only at a line start, padding allowed: %d parts", p.n);
	ok(!strcmp(p.hdr[0], ""), "a part without headers");
	ok(!strcmp(p.body[0], "xx--b yy\r\n--bb\r\nzz"),
	   "--b inside a line and --bb are body: '%s'", p.body[0]);
	ok(!strcmp(p.body[1], "w"), "the part after a padded delimiter");

	ok(multipart("--b\r\nContent-Type: a/b\r\n\r\nAAAA\r\n", "b", &p) == -EBADMSG,
	   "no closing delimiter: refused");
	ok(multipart("--b--\r\n", "b", &p) == -EBADMSG, "no part at all: refused");
	ok(multipart("--b\r\nContent-Type: a/b\r\nAAAA\r\n--b--\r\n", "b", &p) == -EBADMSG,
	   "headers without an empty line: refused");
	ok(multipart("x--b\r\n\r\nA\r\nx--b--\r\n", "b", &p) == -EBADMSG,
	   "delimiters not at a line start: refused");
	ok(multipart("", "b", &p) == -EBADMSG, "empty body: refused");
}

static void test_media_types(void)
{
	static const struct {
		const char *ct;
		const char *want; /* NULL: no boundary */
	} cases[] = {
		{"multipart/mixed; boundary=est-1234", "est-1234"},
		{"Multipart/Mixed;boundary=\"a b:c\"", "a b:c"},
		{"multipart/mixed; charset=x; BOUNDARY = zz ; q=1", "zz"},
		{"multipart/mixed; xboundary=no; boundary=yes", "yes"},
		{"multipart/mixed; name=\"boundary=no\"; boundary=yes", "yes"},
		{"multipart/mixed; boundary=\"q\\\"x\"", NULL},
		{"multipart/mixed; boundary=\"unterminated", NULL},
		{"multipart/mixed; boundary=", NULL},
		{"multipart/mixed", NULL},
		{"multipart/mixedx; boundary=a", NULL},
		{"text/plain; boundary=a", NULL},
		{"multipart/mixed; boundary=\"ends in space \"", NULL},
		{"multipart/mixed; boundary=\"12345678901234567890123456789012345678901234567890"
		 "123456789012345678901\"",
		 NULL},
		{"multipart/mixed; boundary=\"\"", NULL},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *b = est_multipart_boundary(cases[i].ct);

		if (cases[i].want)
			ok(b && !strcmp(b, cases[i].want), "boundary of '%s' is '%s' (got '%s')",
			   cases[i].ct, cases[i].want, b ? b : "(none)");
		else
			ok(!b, "'%s' has no usable boundary", cases[i].ct);
		free(b);
	}
	ok(est_media_type_is("application/pkcs7-mime; smime-type=certs-only",
			     "application/pkcs7-mime"),
	   "media type with parameters");
	ok(est_media_type_is("Application/PKCS7-MIME", "application/pkcs7-mime"),
	   "media type compared case-insensitively");
	ok(!est_media_type_is("application/pkcs7-mimex", "application/pkcs7-mime"),
	   "a longer subtype is another type");
	ok(!est_media_type_is(NULL, "application/pkcs7-mime"), "no Content-Type is no match");
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
	test_base64_nul();
	test_retry_after();
	test_paths();
	test_multipart();
	test_media_types();
	return tap_done();
}
