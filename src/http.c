/* SPDX-License-Identifier: MIT */
/*
 * HTTPS exchanges with the EST server: HTTP/1.1 over one kept-alive TLS connection per handle,
 * reopened when the server closed it; auth, timeouts, size caps, error mapping.
 * http_tls.c owns libssl (bound on the first http_new), http_net.c the TCP side and proxies,
 * http_parse.c the answer's framing, http_digest.c Digest auth.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "http.h"
#include "http_digest.h"
#include "http_net.h"
#include "http_parse.h"
#include "http_tls.h"
#include "log.h"
#include "util.h"

#define READ_CHUNK 16384

struct http {
	struct http_opts o;
	char *trust;	 /* trust_pem and extra_trust_pem together, when both are given */
	char *origin;	 /* "https://host:port", for messages */
	char *authority; /* "host:port", brackets around an IPv6 literal: the Host header */
	struct http_tls *tls;
	struct http_digest *digest; /* the server's last challenge, answered from then on */
	char err[768];
	int64_t deadline;      /* of the exchange in flight, ms on CLOCK_MONOTONIC, 0 none */
	unsigned int connects; /* connections opened, over the handle's life */
	/* What was read from the connection and not used yet (no pipelining: little). */
	unsigned char rbuf[READ_CHUNK];
	size_t rpos, rlen;
	/* The answer in flight; the body may hold a server-generated private key. */
	struct http_head head;
	unsigned char *body;
	size_t body_len, body_cap;
};

static void reset_answer(struct http *h)
{
	http_head_clear(&h->head);
	wipe_free(h->body, h->body_cap);
	h->body = NULL;
	h->body_len = h->body_cap = 0;
}

/* Replaces h->err by a formatted message (a log line, not data). */
static void __attribute__((format(printf, 2, 3))) set_error(struct http *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
}

static bool opts_valid(const struct http_opts *o)
{
	if (!o->host || !*o->host || !o->port || o->port > 65535)
		return false;
	if (!o->trust_pem || !o->trust_len || (o->tls12_only && o->tls13_only))
		return false;
	return o->auth == HTTP_AUTH_NONE || (o->username && o->password);
}

int http_new(const struct http_opts *o, struct http **out_h)
{
	struct http *h = NULL;
	int r = -EINVAL;

	if (!opts_valid(o))
		goto out;
	r = http_tls_load();
	if (r < 0)
		goto out;
	h = xzalloc(sizeof(*h));
	h->o = *o;
	if (o->extra_trust_pem && o->extra_trust_len) {
		/* One buffer for the store; a certificate in both is harmless. */
		h->trust = xmalloc(o->trust_len + 1 + o->extra_trust_len + 1);
		memcpy(h->trust, o->trust_pem, o->trust_len);
		h->trust[o->trust_len] = '\n';
		memcpy(h->trust + o->trust_len + 1, o->extra_trust_pem, o->extra_trust_len);
		h->o.trust_len = o->trust_len + 1 + o->extra_trust_len;
		h->trust[h->o.trust_len] = '\0';
		h->o.trust_pem = h->trust;
	}
	if (!h->o.trust_name)
		h->o.trust_name = "trust anchors";
	/* RFC 3986: an IPv6 literal goes in brackets. */
	h->authority = xasprintf(strchr(o->host, ':') ? "[%s]:%u" : "%s:%u", o->host, o->port);
	h->origin = xasprintf("https://%s", h->authority);
	r = http_tls_new(&h->o, &h->tls);
out:
	if (r < 0)
		http_free(h);
	else
		*out_h = h;
	return r;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	http_tls_free(h->tls);
	http_digest_free(h->digest);
	reset_answer(h);
	wipe(h->rbuf, sizeof(h->rbuf));
	free(h->trust);
	free(h->origin);
	free(h->authority);
	free(h);
}

/* The limit of this exchange in ms (0 = none): timeout, cut to what is left before deadline. */
static int exchange_timeout(const struct http *h, int64_t *out_ms)
{
	uint64_t secs = h->o.timeout;
	time_t now;

	if (h->o.deadline) {
		now = time(NULL);
		if (now >= h->o.deadline)
			return -ETIMEDOUT;
		if (!secs || (uint64_t)(h->o.deadline - now) < secs)
			secs = (uint64_t)(h->o.deadline - now);
	}
	if (secs > INT64_MAX / 2000)
		secs = INT64_MAX / 2000;
	*out_ms = (int64_t)secs * 1000;
	return 0;
}

/* A new connection to the server, directly or through the proxy's tunnel. */
static int connect_server(struct http *h)
{
	struct http_route rt = {0};
	int r, fd = -1;

	h->rpos = h->rlen = 0;
	r = http_net_route(h->o.proxy, h->o.host, &rt, h->err, sizeof(h->err));
	if (r < 0)
		goto out;
	if (rt.proxy_host) {
		r = http_net_connect(rt.proxy_host, rt.proxy_port, "proxy", h->deadline, &fd,
				     h->err, sizeof(h->err));
		if (r == 0)
			r = http_net_tunnel(fd, &rt, h->o.host, h->o.port, h->deadline, h->err,
					    sizeof(h->err));
	} else {
		r = http_net_connect(h->o.host, h->o.port, "host", h->deadline, &fd, h->err,
				     sizeof(h->err));
	}
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	h->connects++;
	r = http_tls_connect(h->tls, fd, h->deadline, h->err, sizeof(h->err));
out:
	http_net_route_clear(&rt);
	return r;
}

/* The Authorization value of this attempt, or NULL. Caller wipe_str()s. */
static char *authorization(struct http *h, const char *method, const char *uri)
{
	unsigned char *b64;
	char *plain, *v;
	size_t n;

	switch (h->o.auth) {
	case HTTP_AUTH_NONE:
		return NULL;
	case HTTP_AUTH_BASIC:
		/* Preemptive: one round trip, no challenge needed. */
		plain = xasprintf("%s:%s", h->o.username, h->o.password);
		n = strlen(plain);
		b64 = xmalloc(4 * ((n + 2) / 3) + 1);
		EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)n);
		v = xasprintf("Basic %s", b64);
		wipe_str((char *)b64);
		wipe_str(plain);
		return v;
	case HTTP_AUTH_DIGEST:
		if (!h->digest)
			return NULL;
		return http_digest_answer(h->digest, h->o.username, h->o.password, method, uri);
	}
	return NULL;
}

/* The request, headers and body in one buffer: one SSL_write. Caller wipe_free()s. */
static char *build_request(const struct http *h, const char *method, const char *uri,
			   const char *content_type, const char *const *extra_headers,
			   const char *authz, const void *body, size_t body_len, size_t *out_len)
{
	char *head, *extra = xstrdup(""), *t, *req;
	size_t hl;

	for (; extra_headers && *extra_headers; extra_headers++) {
		t = xasprintf("%s%s\r\n", extra, *extra_headers);
		free(extra);
		extra = t;
	}
	head = xasprintf("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: est-enroll/" PACKAGE_VERSION
			 "\r\nAccept: */*\r\n%s%s%s",
			 method, uri, h->authority, authz ? "Authorization: " : "",
			 authz ? authz : "", authz ? "\r\n" : "");
	if (body && content_type)
		t = xasprintf("%sContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n", head,
			      content_type, body_len, extra);
	else if (body)
		t = xasprintf("%sContent-Length: %zu\r\n%s\r\n", head, body_len, extra);
	else
		t = xasprintf("%s%s\r\n", head, extra);
	wipe_str(head);
	free(extra);
	hl = strlen(t);
	req = xmalloc(hl + body_len + 1);
	memcpy(req, t, hl);
	if (body_len)
		memcpy(req + hl, body, body_len);
	req[hl + body_len] = '\0';
	wipe_str(t);
	*out_len = hl + body_len;
	return req;
}

/* More bytes into rbuf: 0 with *out_n (0 at the end of the stream), or the error. */
static int fill(struct http *h, size_t *out_n)
{
	int r;

	if (h->rpos == h->rlen)
		h->rpos = h->rlen = 0;
	r = http_tls_read(h->tls, h->rbuf + h->rlen, sizeof(h->rbuf) - h->rlen, h->deadline, out_n,
			  h->err, sizeof(h->err));
	if (r == 0)
		h->rlen += *out_n;
	return r;
}

static int append_body(struct http *h, const unsigned char *data, size_t n)
{
	size_t cap;
	unsigned char *p;

	if (n > HTTP_MAX_BODY - h->body_len)
		return -EFBIG;
	if (h->body_len + n + 1 > h->body_cap) {
		/* Grown by hand rather than realloc so no unwiped copy is left behind. */
		for (cap = h->body_cap ? h->body_cap : 4096; cap < h->body_len + n + 1; cap *= 2)
			;
		p = xmalloc(cap);
		if (h->body_len)
			memcpy(p, h->body, h->body_len);
		wipe_free(h->body, h->body_cap);
		h->body = p;
		h->body_cap = cap;
	}
	memcpy(h->body + h->body_len, data, n);
	h->body_len += n;
	h->body[h->body_len] = '\0';
	return 0;
}

/* The head of an answer into h->head. -ENODATA: the connection ended before its first byte. */
static int read_head(struct http *h)
{
	char *buf = NULL;
	size_t len = 0, take, hl, n;
	int r;

	for (;;) {
		if (h->rpos == h->rlen) {
			r = fill(h, &n);
			if (r == -ECONNRESET && !len)
				r = -ENODATA; /* reset before answering: as good as closed */
			if (r < 0)
				goto out;
			if (!n) {
				r = len ? -ECONNRESET : -ENODATA;
				set_error(h, "the server closed the connection %s",
					  len ? "in the middle of the answer's headers"
					      : "without answering");
				goto out;
			}
		}
		take = h->rlen - h->rpos;
		buf = xrealloc(buf, len + take + 1);
		memcpy(buf + len, h->rbuf + h->rpos, take);
		hl = http_head_len(buf, len + take);
		if (hl) {
			h->rpos += hl - len;
			len = hl;
			break;
		}
		h->rpos += take;
		len += take;
		if (len > HTTP_MAX_HEAD) {
			set_error(h, "answer headers larger than %u bytes", HTTP_MAX_HEAD);
			r = -EPROTO;
			goto out;
		}
	}
	r = http_head_parse(buf, len, &h->head);
	if (r < 0)
		set_error(h,
			  len > HTTP_MAX_HEAD ? "answer headers larger than %u bytes"
					      : "malformed answer headers (%u bytes at most)",
			  HTTP_MAX_HEAD);
out:
	free(buf);
	return r;
}

/* Body bytes from rbuf (and the connection) as the head frames them. */
static int read_body(struct http *h)
{
	struct http_chunked ch = {0};
	uint64_t left = h->head.length;
	size_t n, used, data;
	int r = 0;

	if (http_status_bodiless(h->head.status))
		return 0;
	if (!h->head.chunked && h->head.has_length && left > HTTP_MAX_BODY)
		return -EFBIG;
	for (;;) {
		if (!h->head.chunked && h->head.has_length && !left)
			return 0;
		if (h->rpos == h->rlen) {
			r = fill(h, &n);
			if (r < 0)
				return r;
			if (!n && !h->head.chunked && !h->head.has_length)
				return 0; /* the end of the stream ends this body */
			if (!n) {
				set_error(h,
					  "the server closed the connection before the end of "
					  "the answer (%zu bytes received)",
					  h->body_len);
				return -ECONNRESET;
			}
		}
		n = h->rlen - h->rpos;
		if (h->head.chunked) {
			r = http_chunked_decode(&ch, h->rbuf + h->rpos, n, &used, &data);
			if (r < 0) {
				set_error(h, "malformed chunked answer");
				return r;
			}
			if (append_body(h, h->rbuf + h->rpos, data) < 0)
				return -EFBIG;
			h->rpos += used;
			if (r == 1)
				return 0;
			continue;
		}
		if (h->head.has_length && n > left)
			n = (size_t)left;
		if (append_body(h, h->rbuf + h->rpos, n) < 0)
			return -EFBIG;
		h->rpos += n;
		left -= n;
	}
}

/* One answer, after interim 1xx ones. */
static int read_answer(struct http *h)
{
	int r;

	for (;;) {
		reset_answer(h);
		r = read_head(h);
		if (r < 0)
			return r;
		if (h->head.status == 101) {
			set_error(h, "the server switched protocols (HTTP 101)");
			return -EPROTO;
		}
		if (h->head.status >= 200)
			break;
	}
	r = read_body(h);
	if (r == 0 && !h->head.chunked && !h->head.has_length &&
	    !http_status_bodiless(h->head.status))
		h->head.close = true;
	return r;
}

/*
 * One request and its answer, on the open connection or a new one. -EAGAIN: a reused
 * connection turned out closed before answering (the server's keep-alive ran out): the caller
 * may send again on a new one.
 */
static int exchange(struct http *h, const char *req, size_t req_len, bool *out_new)
{
	bool reused = http_tls_open(h->tls);
	int r = 0;

	if (!reused)
		r = connect_server(h);
	if (r < 0)
		return r;
	*out_new = !reused;
	r = http_tls_write(h->tls, req, req_len, h->deadline, h->err, sizeof(h->err));
	if (r == 0)
		r = read_answer(h);
	else if (reused && r == -ECONNRESET)
		r = -EAGAIN;
	else if (r == -ECONNRESET && read_answer(h) == -ECONNABORTED)
		r = -ECONNABORTED; /* refused after the handshake (TLS 1.3): the alert says why */
	if (r == -ENODATA)
		r = reused ? -EAGAIN : -ECONNRESET;
	/* An answer we could not frame, or the server's close: the connection is done. */
	if (r < 0 || h->head.close || h->rpos != h->rlen)
		http_tls_close(h->tls);
	return r;
}

static int map_and_log(struct http *h, int r, const char *url, int64_t start)
{
	char why[sizeof(h->err)];

	if (r == -EFBIG)
		set_error(h, "answer larger than %u bytes", HTTP_MAX_BODY);
	else if (r == -ETIMEDOUT) {
		snprintf(why, sizeof(why), "%s", h->err);
		set_error(h, "timed out after %lld ms (%s; %zu bytes of the answer received)",
			  (long long)(http_net_now_ms() - start), why, h->body_len);
	} else if (r != -ECONNREFUSED && r != -EHOSTUNREACH && r != -ECONNRESET && r != -EPERM &&
		   r != -ECONNABORTED)
		r = -EPROTO;
	if (!h->err[0])
		set_error(h, "%s", strerror(-r));
	if (r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ETIMEDOUT || r == -ECONNRESET)
		log_warn("%s: %s", url, h->err);
	else
		log_err("%s: %s", url, h->err);
	return r;
}

/* Request and answer, again on a new connection if the kept one had gone, again with
 * credentials after a Digest challenge. */
static int run(struct http *h, const char *uri, const char *content_type,
	       const char *const *extra_headers, const void *body, size_t body_len, bool *out_new)
{
	const char *method = body ? "POST" : "GET";
	bool retried = false, fresh = false;
	struct http_digest *d;
	size_t req_len = 0;
	char *authz, *req;
	int r;

	for (;;) {
		authz = authorization(h, method, uri);
		req = build_request(h, method, uri, content_type, extra_headers, authz, body,
				    body_len, &req_len);
		wipe_str(authz);
		r = exchange(h, req, req_len, out_new);
		wipe_free(req, req_len + 1);
		/*
		 * Sent again once when the kept connection turned out closed before any byte of
		 * an answer (a server's keep-alive timeout). RFC 9112 9.3.1 leaves retrying a
		 * POST to the client: a server that did take it would issue a second certificate
		 * for the same key and CSR, which the next pass would ask for anyway; nothing
		 * is stored until an answer is read whole.
		 */
		if (r == -EAGAIN && !retried) {
			log_debug("%s%s: the kept connection had closed, reconnecting", h->origin,
				  uri);
			retried = true;
			h->err[0] = '\0';
			continue;
		}
		if (r == -EAGAIN)
			r = -ECONNRESET;
		if (r < 0 || h->head.status != 401 || h->o.auth != HTTP_AUTH_DIGEST || fresh)
			return r;
		/* Answer the challenge; a 401 after that is the caller's to see. */
		if (!h->head.www_authenticate ||
		    http_digest_parse(h->head.www_authenticate, &d) < 0)
			return 0;
		log_debug("%s%s: answering the Digest challenge%s", h->origin, uri,
			  http_digest_stale(d) ? " (stale nonce)" : "");
		http_digest_free(h->digest);
		h->digest = d;
		fresh = true;
	}
}

int http_request(struct http *h, const char *path, const char *content_type,
		 const char *const *extra_headers, const void *body, size_t body_len,
		 struct http_response *out_resp)
{
	char *uri = xasprintf("%s%s", path[0] == '/' ? "" : "/", path);
	char *url = xasprintf("%s%s", h->origin, uri);
	bool fresh_conn = false;
	int64_t ms = 0, start = http_net_now_ms();
	int r;

	reset_answer(h);
	h->err[0] = '\0';
	http_tls_forget_alerts(h->tls);
	r = exchange_timeout(h, &ms);
	if (r < 0) {
		set_error(h, "retry_timeout reached, not sent");
		log_warn("%s: %s", url, h->err);
		goto out;
	}
	h->deadline = ms ? http_net_now_ms() + ms : 0;
	r = run(h, uri, content_type, extra_headers, body, body_len, &fresh_conn);
	if (r < 0) {
		r = map_and_log(h, r, url, start);
		goto out;
	}
	h->err[0] = '\0';
	log_debug("%s %s: HTTP %ld, %zu bytes (%s, %s connection)", body ? "POST" : "GET", url,
		  h->head.status, h->body_len,
		  http_tls_conn_version(h->tls) ? http_tls_conn_version(h->tls) : "closed",
		  fresh_conn ? "new" : "reused");
	if (!h->body)
		h->body = xzalloc(1);
	*out_resp = (struct http_response){
		.status = h->head.status,
		.content_type = h->head.content_type,
		.retry_after = h->head.retry_after,
		.body = h->body,
		.body_len = h->body_len,
	};
	h->head.content_type = h->head.retry_after = NULL;
	h->body = NULL;
	h->body_len = h->body_cap = 0;
out:
	reset_answer(h);
	/* What was read is in the answer now, or dropped with its connection (exchange() closes
	 * one with bytes left over): no copy of a key stays behind, nor of an earlier, longer
	 * answer further in the buffer. */
	wipe(h->rbuf, sizeof(h->rbuf));
	h->rpos = h->rlen = 0;
	free(url);
	free(uri);
	return r;
}

void http_response_clear(struct http_response *r)
{
	if (!r)
		return;
	free(r->content_type);
	free(r->retry_after);
	wipe_free(r->body, r->body_len);
	*r = (struct http_response){0};
}

int http_channel_binding(struct http *h, bool exporter, unsigned char *buf, size_t buflen,
			 size_t *out_len)
{
	/* Only from a connection still open: the one the next request will use. */
	if (!http_tls_open(h->tls))
		return -ENOTCONN;
	return http_tls_binding(h->tls, exporter, buf, buflen, out_len);
}

const char *http_tls_version(struct http *h)
{
	return http_tls_open(h->tls) ? http_tls_conn_version(h->tls) : NULL;
}

bool http_client_cert_refused(struct http *h)
{
	return http_tls_cert_refused(h->tls);
}

int http_tls_alert(struct http *h)
{
	return http_tls_last_alert(h->tls);
}

const char *http_last_error(struct http *h)
{
	return h->err;
}
