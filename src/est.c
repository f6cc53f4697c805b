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

#include "crypto.h"
#include "est.h"
#include "http.h"
#include "log.h"
#include "pkcs7.h"
#include "util.h"

#define MEDIA_PKCS7 "application/pkcs7-mime"
#define MEDIA_PKCS10 "application/pkcs10"
/* A Retry-After beyond this is taken as this: a pass should not sleep for days. */
/* Honoured as the server asks, up to a bound that still lets a device recover by itself. */
#define RETRY_AFTER_MAX (30 * 24 * 3600)

char *est_path(const char *label, const char *op)
{
	if (label && *label)
		return xasprintf("/.well-known/est/%s/%s", label, op);
	return xasprintf("/.well-known/est/%s", op);
}

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

int est_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
	unsigned char *buf = xmalloc(len / 4 * 3 + 3);
	unsigned int acc = 0, bits = 0, pad = 0;
	size_t i, n = 0;

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

char *est_base64_encode(const unsigned char *in, size_t len)
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

int est_parse_retry_after(const char *value, time_t now, uint64_t max, uint64_t *out_seconds)
{
	struct tm tm = {0};
	const char *end;
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
	/* IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7). */
	end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end != '\0')
		return -EINVAL;
	when = timegm(&tm);
	if (when == (time_t)-1)
		return -EINVAL;
	secs = when <= now ? 0 : (uint64_t)(when - now);
	*out_seconds = secs > max ? max : secs;
	return 0;
}

static bool media_type_is(const char *content_type, const char *want)
{
	size_t n = strlen(want);

	if (!content_type || strncasecmp(content_type, want, n) != 0)
		return false;
	return content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ';
}

/* Maps the status of an answer to the error convention in est.h. */
static int check_status(const struct http_response *resp, const char *op, uint64_t *out_retry_after)
{
	uint64_t retry = 0;

	if (resp->status == 200)
		return 0;
	if (resp->retry_after &&
	    est_parse_retry_after(resp->retry_after, time(NULL), RETRY_AFTER_MAX, &retry) < 0)
		log_warn("%s: ignoring unparsable Retry-After '%s'", op, resp->retry_after);
	if (resp->status == 202 || resp->status >= 500) {
		log_warn("%s: server answered %ld%s", op, resp->status,
			 resp->status == 202 ? " (request pending)" : "");
		*out_retry_after = retry;
		return -EAGAIN;
	}
	if (resp->status == 401 || resp->status == 403) {
		log_err("%s: server refused authentication (HTTP %ld)", op, resp->status);
		return -EKEYREJECTED;
	}
	log_err("%s: server refused the request (HTTP %ld)", op, resp->status);
	return resp->status >= 400 ? -EPROTO : -EBADMSG;
}

/* True when the answer has media type want; logs once otherwise. */
static bool expect_type(const struct http_response *resp, const char *op, const char *want)
{
	if (media_type_is(resp->content_type, want))
		return true;
	log_err("%s: unexpected content type '%s' (want %s)", op,
		resp->content_type ? resp->content_type : "(none)", want);
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
		body = est_base64_encode(csr, csr_len);
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
	r = est_base64_decode((const char *)resp->body, resp->body_len, &der, &der_len);
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
	const char *op = reenroll ? "simplereenroll" : "simpleenroll";
	struct http_response resp = {0};
	int r;

	r = exchange(h, label, op, csr, csr_len, &resp);
	if (r == 0)
		r = check_status(&resp, op, out_retry_after);
	if (r == 0)
		r = parse_certs(&resp, op, out_certs);
	http_response_clear(&resp);
	return r;
}

int est_csrattrs(struct http *h, const char *label, unsigned char **out_der, size_t *out_len,
		 uint64_t *out_retry_after)
{
	struct http_response resp = {0};
	int r;

	r = exchange(h, label, "csrattrs", NULL, 0, &resp);
	if (r < 0)
		goto out;
	/* RFC 7030 4.5.2: 204 or 404 mean the server has no attributes to ask for. */
	if (resp.status == 204 || resp.status == 404 ||
	    (resp.status == 200 && resp.body_len == 0)) {
		r = -ENOENT;
		goto out;
	}
	r = check_status(&resp, "csrattrs", out_retry_after);
	if (r < 0)
		goto out;
	if (!expect_type(&resp, "csrattrs", "application/csrattrs")) {
		r = -EBADMSG;
		goto out;
	}
	r = est_base64_decode((const char *)resp.body, resp.body_len, out_der, out_len);
	if (r < 0)
		log_err("csrattrs: answer is not base64");
out:
	http_response_clear(&resp);
	return r;
}

/* Finds "\r\n--boundary" or "\n--boundary" from p; returns the start of the delimiter line. */
static const char *find_delimiter(const char *p, const char *end, const char *delim, size_t dlen)
{
	for (; p + dlen <= end; p++) {
		if (memcmp(p, delim, dlen) != 0)
			continue;
		return p;
	}
	return NULL;
}

int est_multipart_parse(const char *body, size_t len, const char *boundary,
			int (*fn)(void *ctx, const char *headers, size_t hlen, const char *part,
				  size_t plen),
			void *ctx)
{
	const char *end = body + len, *p, *next;
	char *delim = xasprintf("--%s", boundary);
	size_t dlen = strlen(delim);
	int r = -EBADMSG, parts = 0;

	p = find_delimiter(body, end, delim, dlen);
	while (p) {
		const char *hdr, *sep;

		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			r = parts ? 0 : -EBADMSG; /* closing delimiter */
			break;
		}
		hdr = memchr(p, '\n', (size_t)(end - p));
		if (!hdr)
			break;
		hdr++;
		next = find_delimiter(hdr, end, delim, dlen);
		if (!next)
			break;
		sep = memmem(hdr, (size_t)(next - hdr), "\n\n", 2);
		if (!sep)
			sep = memmem(hdr, (size_t)(next - hdr), "\r\n\r\n", 4);
		if (!sep)
			break;
		r = fn(ctx, hdr, (size_t)(sep - hdr), sep, (size_t)(next - sep));
		if (r < 0)
			break;
		parts++;
		r = -EBADMSG;
		p = next;
	}
	free(delim);
	return r;
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
	if (media_type_is(t, "application/pkcs8") && !kp->key) {
		r = est_base64_decode(part, plen, &der, &der_len);
		if (r == 0)
			r = crypto_key_from_der(der, der_len, &kp->key);
	} else if (media_type_is(t, MEDIA_PKCS7) && !kp->certs) {
		r = est_base64_decode(part, plen, &der, &der_len);
		if (r == 0)
			r = pkcs7_certs_parse(der, der_len, &kp->certs);
	} else {
		log_debug("serverkeygen: ignoring a part of type %s", t);
	}
out:
	/* The key part is a secret. */
	wipe_free(der, der_len);
	free(t);
	return r < 0 ? -EBADMSG : 0;
}

static char *multipart_boundary(const char *content_type)
{
	const char *b;
	size_t n;

	if (!content_type || strncasecmp(content_type, "multipart/mixed", 15) != 0)
		return NULL;
	b = strcasestr(content_type, "boundary=");
	if (!b)
		return NULL;
	b += 9;
	if (*b == '"') {
		b++;
		n = strcspn(b, "\"");
	} else {
		n = strcspn(b, "; \t");
	}
	return n ? xstrndup(b, n) : NULL;
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
	boundary = multipart_boundary(resp.content_type);
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
