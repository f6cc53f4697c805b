/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 answer parsing over buffers: what a server sends is outside input, so no I/O here. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"
#include "util.h"

size_t http_head_len(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		p = nl + 1;
		if (p < end && *p == '\n')
			return (size_t)(p + 1 - buf);
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			return (size_t)(p + 2 - buf);
	}
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* "HTTP/1.x NNN[ reason]". */
static int status_line(const char *s, size_t n, long *out_status, bool *out_http10)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !is_digit(s[7]) || s[8] != ' ')
		return -EPROTO;
	if (!is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11]) || (n > 12 && s[12] != ' '))
		return -EPROTO;
	*out_status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	*out_http10 = s[7] == '0';
	return *out_status >= 100 ? 0 : -EPROTO;
}

/* Does the comma-separated list v (n bytes) hold token (case-insensitive)? With last, only
 * as its last element. */
static bool has_token(const char *v, size_t n, const char *token, bool last)
{
	size_t tl = strlen(token), k;
	const char *end = v + n, *comma;
	bool found = false;

	while (v < end) {
		comma = memchr(v, ',', (size_t)(end - v));
		k = (size_t)((comma ? comma : end) - v);
		while (k && is_blank(*v)) {
			v++;
			k--;
		}
		while (k && is_blank(v[k - 1]))
			k--;
		found = k == tl && strncasecmp(v, token, tl) == 0;
		if (found && !last)
			return true;
		v = comma ? comma + 1 : end;
	}
	return found;
}

static int content_length(struct http_head *h, const char *v, size_t n)
{
	uint64_t x = 0;
	size_t i;

	if (!n || n > 18)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return -EPROTO;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	/* Two different lengths: which one ends the answer is anybody's guess. */
	if (h->has_length && h->length != x)
		return -EPROTO;
	h->has_length = true;
	h->length = x;
	return 0;
}

static void keep(char **dst, const char *v, size_t n)
{
	free(*dst);
	*dst = xstrndup(v, n);
}

static void append_challenge(struct http_head *h, const char *v, size_t n)
{
	char *s;

	if (!h->www_authenticate) {
		h->www_authenticate = xstrndup(v, n);
		return;
	}
	s = xasprintf("%s, %.*s", h->www_authenticate, (int)n, v);
	free(h->www_authenticate);
	h->www_authenticate = s;
}

struct head_flags {
	bool http10, close, keep_alive, te;
};

/* One "Name: value" line (without its end of line). */
static int header_line(struct http_head *h, struct head_flags *f, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n), *v;
	size_t name_len, vlen;

	if (is_blank(*s))
		return 0; /* obsolete line folding: continues a header we ignore or already have */
	if (!colon || colon == s || is_blank(colon[-1]))
		return -EPROTO;
	name_len = (size_t)(colon - s);
	v = colon + 1;
	vlen = n - name_len - 1;
	while (vlen && is_blank(*v)) {
		v++;
		vlen--;
	}
	while (vlen && is_blank(v[vlen - 1]))
		vlen--;
#define IS(name) (name_len == sizeof(name) - 1 && strncasecmp(s, name, name_len) == 0)
	if (IS("Content-Type"))
		keep(&h->content_type, v, vlen);
	else if (IS("Retry-After"))
		keep(&h->retry_after, v, vlen);
	else if (IS("WWW-Authenticate"))
		append_challenge(h, v, vlen);
	else if (IS("Content-Length"))
		return content_length(h, v, vlen);
	else if (IS("Transfer-Encoding")) {
		/* We send no TE header: chunked alone is the only coding a server may use (a
		 * gzip under it would reach the caller undecoded). */
		f->te = true;
		if (vlen != strlen("chunked") || strncasecmp(v, "chunked", vlen) != 0)
			return -EPROTO;
		h->chunked = true;
	} else if (IS("Connection")) {
		f->close |= has_token(v, vlen, "close", false);
		f->keep_alive |= has_token(v, vlen, "keep-alive", false);
	}
#undef IS
	return 0;
}

int http_head_parse(const char *buf, size_t len, struct http_head *out)
{
	struct http_head h = {0};
	struct head_flags f = {0};
	const char *p = buf, *end = buf + len, *nl;
	size_t n;
	int r = -EPROTO;

	if (len > HTTP_MAX_HEAD || memchr(buf, '\0', len))
		goto out;
	for (; (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
		n = (size_t)(nl - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (p == buf)
			r = status_line(p, n, &h.status, &f.http10);
		else if (!n)
			break;
		else
			r = header_line(&h, &f, p, n);
		if (r < 0)
			goto out;
	}
	if (!nl || p == buf) {
		r = -EPROTO; /* no empty line: not a complete head */
		goto out;
	}
	if (f.te)
		h.has_length = false; /* RFC 9112 6.3: Transfer-Encoding overrides Content-Length */
	h.close = f.close || (f.http10 && !f.keep_alive);
	r = 0;
out:
	if (r < 0)
		http_head_clear(&h);
	*out = h;
	return r;
}

void http_head_clear(struct http_head *h)
{
	if (!h)
		return;
	free(h->content_type);
	free(h->retry_after);
	free(h->www_authenticate);
	*h = (struct http_head){0};
}

bool http_status_bodiless(long status)
{
	return (status >= 100 && status < 200) || status == 204 || status == 304;
}

enum {
	CS_SIZE,
	CS_EXT,
	CS_SIZE_LF,
	CS_DATA,
	CS_DATA_CR,
	CS_DATA_LF,
	CS_TRAILER,
	CS_TRAILER_LINE,
	CS_END_LF,
	CS_DONE,
};

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A size line ended: data follows, or the trailers after the last chunk. */
static void size_done(struct http_chunked *c)
{
	c->digits = 0;
	c->state = c->left ? CS_DATA : CS_TRAILER;
}

/* One framing byte ch in state c->state: 0, 1 at the end, -EPROTO. */
static int framing_byte(struct http_chunked *c, unsigned char ch)
{
	int v;

	switch (c->state) {
	case CS_SIZE:
		v = hex_value(ch);
		if (v >= 0) {
			if (c->digits++ >= 15)
				return -EPROTO;
			c->left = c->left * 16 + (uint64_t)v;
		} else if (!c->digits) {
			return -EPROTO;
		} else if (ch == ';' || ch == ' ' || ch == '\t') {
			c->state = CS_EXT;
		} else if (ch == '\r') {
			c->state = CS_SIZE_LF;
		} else if (ch == '\n') {
			size_done(c);
		} else {
			return -EPROTO;
		}
		return 0;
	case CS_EXT:
		if (++c->trailer > HTTP_MAX_HEAD)
			return -EPROTO;
		if (ch == '\r')
			c->state = CS_SIZE_LF;
		else if (ch == '\n')
			size_done(c);
		return 0;
	case CS_SIZE_LF:
		if (ch != '\n')
			return -EPROTO;
		size_done(c);
		return 0;
	case CS_DATA_CR:
		if (ch == '\r')
			c->state = CS_DATA_LF;
		else if (ch == '\n')
			c->state = CS_SIZE;
		else
			return -EPROTO;
		return 0;
	case CS_DATA_LF:
		if (ch != '\n')
			return -EPROTO;
		c->state = CS_SIZE;
		return 0;
	case CS_TRAILER:
		if (ch == '\n') {
			c->state = CS_DONE;
			return 1;
		}
		c->state = ch == '\r' ? CS_END_LF : CS_TRAILER_LINE;
		return 0;
	case CS_TRAILER_LINE:
		if (++c->trailer > HTTP_MAX_HEAD)
			return -EPROTO;
		if (ch == '\n')
			c->state = CS_TRAILER;
		return 0;
	case CS_END_LF:
		if (ch != '\n')
			return -EPROTO;
		c->state = CS_DONE;
		return 1;
	case CS_DATA:
	case CS_DONE:
		break;
	}
	return -EPROTO; /* not reached: CS_DATA and CS_DONE are handled by the caller */
}

int http_chunked_decode(struct http_chunked *c, unsigned char *buf, size_t len, size_t *out_used,
			size_t *out_data)
{
	size_t i = 0, data = 0, n;
	int r = 0;

	while (i < len && c->state != CS_DONE) {
		if (c->state == CS_DATA) {
			n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			memmove(buf + data, buf + i, n);
			data += n;
			i += n;
			c->left -= n;
			if (!c->left)
				c->state = CS_DATA_CR;
			continue;
		}
		r = framing_byte(c, buf[i++]);
		if (r < 0)
			return r;
	}
	*out_used = i;
	*out_data = data;
	return c->state == CS_DONE ? 1 : 0;
}
