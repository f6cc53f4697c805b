/* SPDX-License-Identifier: MIT */
/* RFC 7030 operations over an http handle: paths, media types, base64, 202/Retry-After. */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/x509.h>

#include "base64.h"
#include "crypto.h"
#include "est.h"
#include "http.h"
#include "log.h"
#include "pkcs7.h"
#include "util.h"

#define MEDIA_PKCS7 "application/pkcs7-mime"
#define MEDIA_PKCS10 "application/pkcs10"
/* How much of a string from the server goes into a log line. */
#define LOG_TEXT_MAX 200
/* A Retry-After beyond this is taken as this: a pass should not sleep for days. */
/* Honoured as the server asks, up to a bound that still lets a device recover by itself. */
#define RETRY_AFTER_MAX (30 * 24 * 3600)

char *est_path(const char *label, const char *op)
{
	if (label && *label)
		return xasprintf("/.well-known/est/%s/%s", label, op);
	return xasprintf("/.well-known/est/%s", op);
}

/* RFC 9110 5.6.7: a two-digit year more than 50 years ahead is the most recent such past year. */
static void fix_two_digit_year(struct tm *tm, time_t now)
{
	struct tm today;
	int year, yy = tm->tm_year % 100;

	gmtime_r(&now, &today);
	year = today.tm_year + 1900;
	year = year - year % 100 + yy;
	if (year > today.tm_year + 1900 + 50)
		year -= 100;
	tm->tm_year = year - 1900;
}

/* An HTTP-date: IMF-fixdate, or the obsolete RFC 850 and asctime forms a recipient must also
 * accept (RFC 9110 5.6.7). Names are English whatever the locale: the program never sets one. */
static int parse_http_date(const char *value, time_t now, time_t *out)
{
	static const char *const forms[] = {
		"%a, %d %b %Y %H:%M:%S GMT", /* Sun, 06 Nov 1994 08:49:37 GMT */
		"%A, %d-%b-%y %H:%M:%S GMT", /* Sunday, 06-Nov-94 08:49:37 GMT */
		"%a %b %e %H:%M:%S %Y",	     /* Sun Nov  6 08:49:37 1994 */
	};
	const char *end = NULL;
	struct tm tm;
	size_t i;
	time_t when;

	for (i = 0; i < ARRAY_SIZE(forms); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(value, forms[i], &tm);
		while (end && (*end == ' ' || *end == '\t'))
			end++;
		if (end && *end == '\0')
			break;
	}
	if (i == ARRAY_SIZE(forms))
		return -EINVAL;
	if (i == 1)
		fix_two_digit_year(&tm, now);
	when = timegm(&tm);
	if (when == (time_t)-1)
		return -EINVAL;
	*out = when;
	return 0;
}

int est_parse_retry_after(const char *value, time_t now, uint64_t max, uint64_t *out_seconds)
{
	uint64_t secs;
	time_t when;

	while (*value == ' ' || *value == '\t')
		value++;
	if (*value >= '0' && *value <= '9') {
		char *e;
		unsigned long long v;

		errno = 0;
		v = strtoull(value, &e, 10);
		while (*e == ' ' || *e == '\t')
			e++;
		if (*e != '\0')
			return -EINVAL;
		secs = errno == ERANGE || v > max ? max : v;
		*out_seconds = secs;
		return 0;
	}
	if (parse_http_date(value, now, &when) < 0)
		return -EINVAL;
	secs = when <= now ? 0 : (uint64_t)(when - now);
	*out_seconds = secs > max ? max : secs;
	return 0;
}

bool est_media_type_is(const char *content_type, const char *want)
{
	size_t n = strlen(want);

	if (!content_type || strncasecmp(content_type, want, n) != 0)
		return false;
	return content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ' ||
	       content_type[n] == '\t';
}

/* The server's own words in an error answer, escaped and capped for a log line: ": text", or "". */
static char *server_says(const struct http_response *resp)
{
	size_t n = resp->body_len;
	char *e, *s;

	while (n && isspace(resp->body[n - 1]))
		n--;
	if (!n)
		return xstrdup("");
	e = escape_for_log((const char *)resp->body, n, LOG_TEXT_MAX);
	s = xasprintf(": %s", e);
	free(e);
	return s;
}

/* Maps the status of an answer to the error convention in est.h. */
static int check_status(const struct http_response *resp, const char *op, uint64_t *out_retry_after)
{
	uint64_t retry = 0;
	char *says, *e;
	int r;

	if (resp->status == 200)
		return 0;
	if (resp->retry_after &&
	    est_parse_retry_after(resp->retry_after, time(NULL), RETRY_AFTER_MAX, &retry) < 0) {
		e = escape_for_log(resp->retry_after, (size_t)-1, LOG_TEXT_MAX);
		log_warn("%s: ignoring unparsable Retry-After '%s'", op, e);
		free(e);
	}
	if (resp->status == 202) {
		log_warn("%s: server answered 202 (request pending)", op);
		*out_retry_after = retry;
		return -EAGAIN;
	}
	says = server_says(resp);
	if (resp->status >= 500) {
		log_warn("%s: server answered %ld%s", op, resp->status, says);
		*out_retry_after = retry;
		r = -EAGAIN;
	} else if (resp->status == 401 || resp->status == 403) {
		log_err("%s: server refused authentication (HTTP %ld)%s", op, resp->status, says);
		r = -EKEYREJECTED;
	} else {
		log_err("%s: server refused the request (HTTP %ld)%s", op, resp->status, says);
		r = resp->status >= 400 ? -EPROTO : -EBADMSG;
	}
	free(says);
	return r;
}

/* True when the answer has media type want; logs once otherwise. */
static bool expect_type(const struct http_response *resp, const char *op, const char *want)
{
	char *e;

	if (est_media_type_is(resp->content_type, want))
		return true;
	e = escape_for_log(resp->content_type, (size_t)-1, LOG_TEXT_MAX);
	log_err("%s: unexpected content type '%s' (want %s)", op, e, want);
	free(e);
	return false;
}

/* One RFC 7030 exchange: GET (csr NULL) or POST of a base64 DER CSR to the operation's path. */
static int exchange(struct http *h, const char *label, const char *op, const unsigned char *csr,
		    size_t csr_len, struct http_response *resp)
{
	static const char *const headers[] = {"Content-Transfer-Encoding: base64", NULL};
	char *path = est_path(label, op), *body = NULL;
	int r;

	if (csr)
		body = base64_encode(csr, csr_len);
	r = http_request(h, path, csr ? MEDIA_PKCS10 : NULL, csr ? headers : NULL, body,
			 body ? strlen(body) : 0, resp);
	free(body);
	free(path);
	return r;
}

/* Decodes a base64 certs-only PKCS#7 body. */
static int parse_certs(const struct http_response *resp, const char *op, STACK_OF(X509) **out_certs)
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	int r;

	if (!expect_type(resp, op, MEDIA_PKCS7))
		return -EBADMSG;
	r = base64_decode((const char *)resp->body, resp->body_len, &der, &der_len);
	if (r < 0) {
		log_err("%s: answer is not base64", op);
		return r;
	}
	r = pkcs7_certs_parse(der, der_len, out_certs);
	if (r < 0)
		log_err("%s: answer is not a certs-only PKCS#7 with certificates", op);
	free(der);
	return r == -ENOENT ? -EBADMSG : r;
}

int est_cacerts(struct http *h, const char *label, STACK_OF(X509) **out_certs,
		uint64_t *out_retry_after)
{
	struct http_response resp = {0};
	int r;

	r = exchange(h, label, "cacerts", NULL, 0, &resp);
	if (r == 0)
		r = check_status(&resp, "cacerts", out_retry_after);
	if (r == 0)
		r = parse_certs(&resp, "cacerts", out_certs);
	http_response_clear(&resp);
	return r;
}

int est_enroll(struct http *h, const char *label, bool reenroll, const unsigned char *csr,
	       size_t csr_len, STACK_OF(X509) **out_certs, uint64_t *out_retry_after)
{
	return est_enroll_answer(h, label, reenroll, csr, csr_len, out_certs, out_retry_after, NULL,
				 NULL);
}

int est_enroll_answer(struct http *h, const char *label, bool reenroll, const unsigned char *csr,
		      size_t csr_len, STACK_OF(X509) **out_certs, uint64_t *out_retry_after,
		      long *out_status, char **out_says)
{
	const char *op = reenroll ? "simplereenroll" : "simpleenroll";
	struct http_response resp = {0};
	char *says;
	int r;

	r = exchange(h, label, op, csr, csr_len, &resp);
	if (r == 0) {
		if (out_status)
			*out_status = resp.status;
		r = check_status(&resp, op, out_retry_after);
		if (r < 0 && out_says) {
			says = server_says(&resp);
			*out_says = xstrdup(*says ? says + 2 : ""); /* without the ": " */
			free(says);
		}
	}
	if (r == 0)
		r = parse_certs(&resp, op, out_certs);
	http_response_clear(&resp);
	return r;
}

int est_csrattrs(struct http *h, const char *label, unsigned char **out_der, size_t *out_len)
{
	struct http_response resp = {0};
	char *says = NULL, *e = NULL;
	int r;

	r = exchange(h, label, "csrattrs", NULL, 0, &resp);
	if (r < 0)
		goto out;
	r = -ENOENT;
	/* RFC 7030 4.5.2: 204 or 404 mean the server has no attributes to ask for. */
	if (resp.status == 204 || resp.status == 404 || (resp.status == 200 && resp.body_len == 0))
		goto out;
	/* Optional information (RFC 7030 4.5): anything else unusable is no attributes either,
	 * neither retried nor an error. */
	if (resp.status != 200) {
		says = server_says(&resp);
		log_warn("csrattrs: server answered %ld%s: enrolling without CSR attributes",
			 resp.status, says);
	} else if (!est_media_type_is(resp.content_type, "application/csrattrs")) {
		e = escape_for_log(resp.content_type, (size_t)-1, LOG_TEXT_MAX);
		log_warn("csrattrs: content type '%s', not application/csrattrs: ignored", e);
	} else if (base64_decode((const char *)resp.body, resp.body_len, out_der, out_len) < 0) {
		log_warn("csrattrs: the answer is not base64: ignored");
	} else {
		r = 0;
	}
out:
	free(says);
	free(e);
	http_response_clear(&resp);
	return r;
}

/* The start of the line after p, or end. */
static const char *next_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl + 1 : end;
}

static bool blank_line(const char *p, const char *end)
{
	return p < end && (*p == '\n' || (*p == '\r' && end - p >= 2 && p[1] == '\n'));
}

/*
 * True when the line at p is a delimiter line (RFC 2046 5.1.1): "--boundary", then "--" for the
 * closing one, or else only transport padding (blanks) up to the line break.
 */
static bool delimiter_at(const char *p, const char *end, const char *delim, size_t dlen,
			 bool *out_close)
{
	const char *q = p + dlen;

	if ((size_t)(end - p) < dlen || memcmp(p, delim, dlen) != 0)
		return false;
	if (end - q >= 2 && q[0] == '-' && q[1] == '-') {
		*out_close = true;
		return true;
	}
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	*out_close = false;
	return q == end || blank_line(q, end);
}

/* The first delimiter line at or after the line start p (a boundary only counts at a line
 * start: "\r\n--boundary", "\n--boundary" or the very beginning of the body). */
static const char *find_delimiter(const char *p, const char *end, const char *delim, size_t dlen,
				  bool *out_close)
{
	for (; p < end; p = next_line(p, end))
		if (delimiter_at(p, end, delim, dlen, out_close))
			return p;
	return NULL;
}

/* One part between the delimiter lines at p and next: headers up to the first empty line, then
 * the body without the line break that belongs to the next delimiter. */
static int one_part(const char *p, const char *next,
		    int (*fn)(void *ctx, const char *headers, size_t hlen, const char *part,
			      size_t plen),
		    void *ctx)
{
	const char *hdr = next_line(p, next), *line, *part, *part_end = next;

	for (line = hdr; line < next && !blank_line(line, next); line = next_line(line, next))
		;
	if (line >= next)
		return -EBADMSG;
	part = next_line(line, next);
	if (part_end > part && part_end[-1] == '\n')
		part_end--;
	if (part_end > part && part_end[-1] == '\r')
		part_end--;
	return fn(ctx, hdr, (size_t)(line - hdr), part, (size_t)(part_end - part));
}

int est_multipart_parse(const char *body, size_t len, const char *boundary,
			int (*fn)(void *ctx, const char *headers, size_t hlen, const char *part,
				  size_t plen),
			void *ctx)
{
	const char *end = body + len, *p, *next;
	char *delim = xasprintf("--%s", boundary);
	size_t dlen = strlen(delim);
	bool closing = false, next_closing = false;
	int r = 0, parts = 0;

	/* Whatever precedes the first delimiter (the preamble) and follows the last is ignored. */
	p = find_delimiter(body, end, delim, dlen, &closing);
	while (p && !closing && r == 0) {
		next = find_delimiter(next_line(p, end), end, delim, dlen, &next_closing);
		if (!next)
			break;
		r = one_part(p, next, fn, ctx);
		parts++;
		p = next;
		closing = next_closing;
	}
	free(delim);
	if (r < 0)
		return r;
	return p && closing && parts ? 0 : -EBADMSG;
}

struct keygen_parts {
	EVP_PKEY *key;
	STACK_OF(X509) *certs;
};

/* The value of Content-Type in a part's headers, as a pointer into them. */
static const char *part_type(const char *headers, size_t hlen, size_t *out_len)
{
	const char *p = headers, *end = headers + hlen;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);

		if (n > 13 && !strncasecmp(p, "content-type:", 13)) {
			p += 13;
			n -= 13;
			while (n && (*p == ' ' || *p == '\t')) {
				p++;
				n--;
			}
			while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
				n--;
			*out_len = n;
			return p;
		}
		p += n + 1;
	}
	return NULL;
}

static int keygen_part(void *ctx, const char *headers, size_t hlen, const char *part, size_t plen)
{
	struct keygen_parts *kp = ctx;
	unsigned char *der = NULL;
	size_t der_len = 0, tlen = 0;
	const char *type = part_type(headers, hlen, &tlen);
	char *t = type ? xstrndup(type, tlen) : NULL;
	int r = 0;

	if (!t)
		goto out;
	if (est_media_type_is(t, "application/pkcs8") && !kp->key) {
		r = base64_decode(part, plen, &der, &der_len);
		if (r == 0)
			r = crypto_key_from_der(der, der_len, &kp->key);
	} else if (est_media_type_is(t, MEDIA_PKCS7) && !kp->certs) {
		r = base64_decode(part, plen, &der, &der_len);
		if (r == 0)
			r = pkcs7_certs_parse(der, der_len, &kp->certs);
	} else {
		char *e = escape_for_log(t, (size_t)-1, LOG_TEXT_MAX);

		log_debug("serverkeygen: ignoring a part of type '%s'", e);
		free(e);
	}
out:
	/* The key part is a secret. */
	wipe_free(der, der_len);
	free(t);
	return r < 0 ? -EBADMSG : 0;
}

/* A quoted-string (RFC 9110 5.6.4) at p, unquoted; *p moves past it. NULL when unterminated. */
static char *quoted_string(const char **p)
{
	const char *q = *p + 1;
	char *out = xmalloc(strlen(q) + 1);
	size_t n = 0;

	for (; *q && *q != '"'; q++) {
		if (*q == '\\' && q[1])
			q++;
		out[n++] = *q;
	}
	if (*q != '"') {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*p = q + 1;
	return out;
}

/* The value of parameter name of a media type ("type/sub; a=b; name=value"), or NULL. */
static char *media_param(const char *content_type, const char *name)
{
	const char *p = strchr(content_type, ';'), *k;
	size_t nlen = strlen(name), klen;
	char *v;

	while (p) {
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		k = p;
		klen = strcspn(p, "=; \t");
		for (p += klen; *p == ' ' || *p == '\t'; p++)
			;
		if (*p != '=') {
			p = strchr(p, ';');
			continue;
		}
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '"') {
			v = quoted_string(&p);
			if (!v)
				return NULL;
		} else {
			v = xstrndup(p, strcspn(p, "; \t"));
			p += strlen(v);
		}
		if (klen == nlen && !strncasecmp(k, name, nlen))
			return v;
		free(v);
		p = strchr(p, ';');
	}
	return NULL;
}

/* RFC 2046 5.1.1: 1 to 70 of bchars, not ending in a space. */
static bool boundary_valid(const char *b)
{
	size_t n = strlen(b);

	if (n < 1 || n > 70 || b[n - 1] == ' ')
		return false;
	return strspn(b, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "'()+_,-./:=? ") == n;
}

char *est_multipart_boundary(const char *content_type)
{
	char *b;

	if (!est_media_type_is(content_type, "multipart/mixed"))
		return NULL;
	b = media_param(content_type, "boundary");
	if (b && !boundary_valid(b)) {
		free(b);
		b = NULL;
	}
	return b;
}

int est_serverkeygen(struct http *h, const char *label, const unsigned char *csr, size_t csr_len,
		     EVP_PKEY **out_key, STACK_OF(X509) **out_certs, uint64_t *out_retry_after)
{
	struct keygen_parts kp = {NULL, NULL};
	struct http_response resp = {0};
	char *boundary = NULL;
	int r;

	r = exchange(h, label, "serverkeygen", csr, csr_len, &resp);
	if (r < 0)
		goto out;
	r = check_status(&resp, "serverkeygen", out_retry_after);
	if (r < 0)
		goto out;
	boundary = est_multipart_boundary(resp.content_type);
	r = boundary ? est_multipart_parse((const char *)resp.body, resp.body_len, boundary,
					   keygen_part, &kp)
		     : -EBADMSG;
	if (r < 0 || !kp.key || !kp.certs) {
		log_err("serverkeygen: the answer is not multipart/mixed with a key and a "
			"certificate");
		r = -EBADMSG;
		goto out;
	}
	*out_key = kp.key;
	*out_certs = kp.certs;
	kp.key = NULL;
	kp.certs = NULL;
out:
	EVP_PKEY_free(kp.key);
	sk_X509_pop_free(kp.certs, X509_free);
	/* The answer held the private key: http_response_clear wipes the body. */
	http_response_clear(&resp);
	free(boundary);
	return r;
}
