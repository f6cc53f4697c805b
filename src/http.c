/* SPDX-License-Identifier: MIT */
/*
 * HTTPS exchanges with the EST server: one libcurl easy handle per pass, so one kept-alive
 * connection and one TLS handshake for all of its requests. The only libcurl user.
 *
 * libcurl is bound at run time, on the first http_new (http_curl.c): an idle pass, status,
 * load, export and import never map it, nor the libraries it needs. libssl, which libcurl maps,
 * is bound with it for what is read of the connection (http_ssl.c): trust and client key pair
 * set from memory on its SSL_CTX, the PoP channel bindings, the alerts that end a handshake.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "http.h"
#include "http_curl.h"
#include "http_ssl.h"
#include "redact.h"
#include "log.h"
#include "util.h"

struct http {
	CURL *curl;
	struct http_opts o;
	struct http_ssl *ssl;	       /* trust, key pair, what is read of the connection */
	char **secrets;		       /* what never goes into a log line, NULL-terminated */
	char *origin;		       /* "https://host:port" */
	char errbuf[CURL_ERROR_SIZE];  /* libcurl's words on the last failure */
	char err[2 * CURL_ERROR_SIZE]; /* ours: what http_last_error says */
	unsigned int connects;	       /* connections opened, over the handle's life */
	/* The answer in flight; the body may hold a server-generated private key. */
	unsigned char *body;
	size_t body_len, body_cap;
	bool too_big;
	char *content_type;
	char *retry_after;
	bool ctx_failed;       /* a connection's TLS context could not be set up */
	unsigned int contexts; /* TLS contexts libcurl made in the request in flight */
	bool reset_unheard;    /* every new connection reset before an answer, no alert heard */
	bool trace;	       /* -vv: libcurl's account */
};

static void __attribute__((format(printf, 2, 3))) set_error(struct http *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
}

static void reset_answer(struct http *h)
{
	wipe_free(h->body, h->body_cap);
	h->body = NULL;
	h->body_len = h->body_cap = 0;
	free(h->content_type);
	h->content_type = NULL;
	free(h->retry_after);
	h->retry_after = NULL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct http *h = userdata;
	size_t n = size * nmemb, cap;
	unsigned char *p;

	if (n > HTTP_MAX_BODY - h->body_len) {
		h->too_big = true;
		return 0;
	}
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
	return n;
}

/* Keeps the value of header line if it is "name: value", trimmed; the last one wins. */
static void keep_header(const char *line, size_t n, const char *name, char **value)
{
	size_t len = strlen(name);
	const char *v, *end = line + n;

	if (n <= len || strncasecmp(line, name, len) != 0 || line[len] != ':')
		return;
	for (v = line + len + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	free(*value);
	*value = xstrndup(v, (size_t)(end - v));
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
	struct http *h = userdata;
	size_t n = size * nmemb;

	struct curl_tlssessioninfo *tsi = NULL;

	if (n >= 5 && !memcmp(line, "HTTP/", 5)) {
		/* A new answer (after a 1xx, a 401 challenge, a proxy's CONNECT): forget the last;
		 * the connection's TLS facts now, while libcurl shows its SSL *. */
		reset_answer(h);
		if (http_lib.curl_easy_getinfo(h->curl, CURLINFO_TLS_SSL_PTR, &tsi) == CURLE_OK &&
		    tsi && tsi->backend == CURLSSLBACKEND_OPENSSL && tsi->internals)
			http_ssl_capture(h->ssl, tsi->internals);
		return n;
	}
	keep_header(line, n, "Content-Type", &h->content_type);
	keep_header(line, n, "Retry-After", &h->retry_after);
	return n;
}

/* True while the connection the next request would use is open. */
static bool connected(struct http *h)
{
	curl_socket_t s = CURL_SOCKET_BAD;
	struct pollfd p;

	if (!http_ssl_captured(h->ssl) ||
	    http_lib.curl_easy_getinfo(h->curl, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
	    s == CURL_SOCKET_BAD)
		return false;
	/*
	 * libcurl notices a server's close (keep-alive timeout) only at the next request. On an
	 * idle connection anything readable is a close_notify or EOF: count it as gone, so a
	 * binding is never taken from a connection the next request will not use.
	 */
	p = (struct pollfd){.fd = s, .events = POLLIN};
	return poll(&p, 1, 0) == 0;
}

/*
 * Called by libcurl for each new connection's TLS context: the EST server's, or an https://
 * proxy's, which libcurl sets up first, before the tunnel and the server's within it. So with
 * `proxy` naming an https:// proxy (every request goes through it then), the contexts of a
 * request alternate: proxy, server. Otherwise each is the server's, and strictly so: an https://
 * proxy from the environment would be verified as if it were the EST server, and refused
 * (est-enroll(8) says to give it in `proxy`).
 */
static CURLcode on_ssl_ctx(CURL *curl, void *ctx, void *userdata)
{
	struct http *h = userdata;
	bool est = true;

	(void)curl;
	if (h->o.proxy && !strncasecmp(h->o.proxy, "https://", 8))
		est = h->contexts++ % 2 == 1;
	if (http_ssl_setup_ctx(h->ssl, ctx, est) == 0)
		return CURLE_OK;
	h->ctx_failed = true;
	return CURLE_SSL_CERTPROBLEM;
}

/* text fit for a log line (redact.c): URLs' user information and h's secrets masked. */
static char *redact(const struct http *h, const char *text)
{
	return redact_text(text, h->secrets);
}

static void add_secret(struct http *h, size_t *n, char *secret)
{
	if (!secret || !*secret) {
		free(secret);
		return;
	}
	h->secrets = xrealloc(h->secrets, sizeof(*h->secrets) * (*n + 2));
	h->secrets[(*n)++] = secret;
	h->secrets[*n] = NULL;
}

/* What libcurl might write into a log line and must not: the password, the Basic credentials,
 * a proxy's password (given, or from the environment), plain and decoded. */
static void collect_secrets(struct http *h)
{
	static const char *const env[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
	unsigned char *b64 = NULL;
	char *plain, *info;
	size_t n = 0, i, len;

	if (h->o.password) {
		add_secret(h, &n, xstrdup(h->o.password));
		plain = xasprintf("%s:%s", h->o.username ? h->o.username : "", h->o.password);
		len = strlen(plain);
		b64 = xmalloc(4 * ((len + 2) / 3) + 1);
		EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)len);
		add_secret(h, &n, (char *)b64);
		wipe_str(plain);
	}
	for (i = 0; i <= ARRAY_SIZE(env); i++) {
		info = url_userinfo(i < ARRAY_SIZE(env) ? getenv(env[i]) : h->o.proxy);
		/* user:password: the password is the secret, as given and as decoded */
		if (info && strchr(info, ':')) {
			add_secret(h, &n, percent_decode(strchr(info, ':') + 1));
			add_secret(h, &n, xstrdup(strchr(info, ':') + 1));
		}
		wipe_str(info);
	}
}

/*
 * -vv: libcurl's own words on the connection (CURLINFO_TEXT: resolving, connecting, the TLS
 * handshake). Never headers or data, which carry Authorization and keys, nor the lines in which
 * libcurl spells out HTTP/2 and HTTP/3 request headers as text; the rest redacted.
 */
static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *userdata)
{
	static const char *const headers[] = {"h2h3 [", "[HTTP/2] [", "[HTTP/3] ["};
	struct http *h = userdata;
	char *line, *shown;
	size_t i;

	(void)c;
	if (type != CURLINFO_TEXT)
		return 0;
	while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
		size--;
	for (i = 0; i < ARRAY_SIZE(headers); i++)
		if (size >= strlen(headers[i]) && !memcmp(data, headers[i], strlen(headers[i])))
			return 0;
	if (!size)
		return 0;
	line = xstrndup(data, size);
	shown = redact(h, line);
	log_trace("curl: %s", shown);
	wipe_str(shown);
	wipe_str(line);
	return 0;
}

static bool setopt_failed(struct http *h, CURLoption opt, ...)
{
	va_list ap;
	CURLcode c;

	/* Every option is a long, a curl_off_t or a pointer (functions too, as libcurl reads
	 * them): pass it on as it came. */
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		c = http_lib.curl_easy_setopt(h->curl, opt, va_arg(ap, long));
	else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB)
		c = http_lib.curl_easy_setopt(h->curl, opt, va_arg(ap, curl_off_t));
	else
		c = http_lib.curl_easy_setopt(h->curl, opt, va_arg(ap, void *));
	va_end(ap);
	if (c != CURLE_OK)
		log_debug("libcurl: option %d: %s", (int)opt, http_lib.curl_easy_strerror(c));
	return c != CURLE_OK;
}

/* NULL: the environment's (libcurl reads https_proxy, all_proxy, no_proxy); "": never. */
static bool setup_proxy(struct http *h)
{
	bool bad = false;

	/* Whatever the proxy asks for: Basic, Digest, NTLM, Negotiate. */
	bad |= setopt_failed(h, CURLOPT_PROXYAUTH, (long)CURLAUTH_ANY);
	if (!h->o.proxy)
		return bad;
	bad |= setopt_failed(h, CURLOPT_PROXY, h->o.proxy);
	/* "*": no host goes through any proxy, the environment's included; "": the configured
	 * proxy takes every request, whatever the environment's no_proxy says. */
	bad |= setopt_failed(h, CURLOPT_NOPROXY, *h->o.proxy ? "" : "*");
	return bad;
}

static bool setup_transport(struct http *h)
{
	bool bad = false;

	bad |= setopt_failed(h, CURLOPT_ERRORBUFFER, h->errbuf);
	bad |= setopt_failed(h, CURLOPT_NOSIGNAL, 1L);
	/* A resolver that never answers: do not wait for its thread past the timeout (7.87). */
	bad |= setopt_failed(h, CURLOPT_QUICK_EXIT, 1L);
	bad |= setopt_failed(h, CURLOPT_PROTOCOLS_STR, "https");
	/* RFC 7030 3.2.1: redirects are the caller's to see, never followed to elsewhere. */
	bad |= setopt_failed(h, CURLOPT_FOLLOWLOCATION, 0L);
	bad |= setopt_failed(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	bad |= setopt_failed(h, CURLOPT_USERAGENT, "est-enroll/" PACKAGE_VERSION);
	bad |= setopt_failed(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_BODY);
	bad |= setopt_failed(h, CURLOPT_WRITEFUNCTION, on_body);
	bad |= setopt_failed(h, CURLOPT_WRITEDATA, h);
	bad |= setopt_failed(h, CURLOPT_HEADERFUNCTION, on_header);
	bad |= setopt_failed(h, CURLOPT_HEADERDATA, h);
	if (h->trace) {
		bad |= setopt_failed(h, CURLOPT_DEBUGFUNCTION, on_debug);
		bad |= setopt_failed(h, CURLOPT_DEBUGDATA, h);
		bad |= setopt_failed(h, CURLOPT_VERBOSE, 1L);
	}
	return bad || setup_proxy(h);
}

static bool setup_tls(struct http *h)
{
	long version = CURL_SSLVERSION_TLSv1_2;
	bool bad = false;

	if (h->o.tls12_only)
		version |= CURL_SSLVERSION_MAX_TLSv1_2;
	if (h->o.tls13_only)
		version = CURL_SSLVERSION_TLSv1_3;
	bad |= setopt_failed(h, CURLOPT_SSLVERSION, version);
	bad |= setopt_failed(h, CURLOPT_SSL_VERIFYPEER, 1L);
	bad |= setopt_failed(h, CURLOPT_SSL_VERIFYHOST, 2L);
	/* No system CA file or directory: on_ssl_ctx verifies the EST server against our
	 * anchors alone (an https:// proxy keeps libcurl's default, the system's). */
	bad |= setopt_failed(h, CURLOPT_CAINFO, (char *)NULL);
	bad |= setopt_failed(h, CURLOPT_CAPATH, (char *)NULL);
	bad |= setopt_failed(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	bad |= setopt_failed(h, CURLOPT_SSL_CTX_DATA, h);
	return bad;
}

static bool setup_auth(struct http *h)
{
	long mask = CURLAUTH_NONE;
	bool bad = false;

	switch (h->o.auth) {
	case HTTP_AUTH_NONE:
		return false;
	case HTTP_AUTH_BASIC:
		mask = CURLAUTH_BASIC; /* alone: sent with the first request */
		break;
	case HTTP_AUTH_DIGEST:
		mask = CURLAUTH_DIGEST;
		break;
	}
	bad |= setopt_failed(h, CURLOPT_HTTPAUTH, mask);
	bad |= setopt_failed(h, CURLOPT_USERNAME, h->o.username);
	bad |= setopt_failed(h, CURLOPT_PASSWORD, h->o.password);
	return bad;
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
	r = http_curl_bind();
	if (r < 0)
		goto out;
	h = xzalloc(sizeof(*h));
	h->o = *o;
	h->trace = log_enabled(LOG_LEVEL_TRACE);
	if (!h->o.trust_name)
		h->o.trust_name = "trust anchors";
	r = http_ssl_new(&h->o, &h->ssl);
	if (r < 0)
		goto out;
	collect_secrets(h);
	h->curl = http_lib.curl_easy_init();
	if (!h->curl) {
		r = -ENOMEM;
		goto out;
	}
	/* RFC 3986: an IPv6 literal goes in brackets. */
	h->origin = xasprintf(strchr(o->host, ':') ? "https://[%s]:%u" : "https://%s:%u", o->host,
			      o->port);
	if (setup_transport(h) || setup_tls(h) || setup_auth(h)) {
		log_err("libcurl %s lacks a needed option",
			http_lib.curl_version_info(CURLVERSION_NOW)->version);
		r = -EPROTO;
	}
out:
	if (r < 0)
		http_free(h);
	else
		*out_h = h;
	return r;
}

void http_free(struct http *h)
{
	size_t i;

	if (!h)
		return;
	if (h->curl)
		http_lib.curl_easy_cleanup(h->curl);
	reset_answer(h);
	http_ssl_free(h->ssl);
	for (i = 0; h->secrets && h->secrets[i]; i++)
		wipe_str(h->secrets[i]);
	free(h->secrets);
	free(h->origin);
	free(h);
}

/* The limit of this exchange in ms (0 = none): timeout, cut to what is left before deadline. */
static int exchange_timeout(const struct http *h, long *out_ms)
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
	if (secs > LONG_MAX / 1000)
		secs = LONG_MAX / 1000;
	*out_ms = (long)secs * 1000;
	return 0;
}

static struct curl_slist *append(struct curl_slist *list, const char *s)
{
	struct curl_slist *l = http_lib.curl_slist_append(list, s);

	if (!l) {
		fputs("est-enroll: out of memory\n", stderr);
		abort();
	}
	return l;
}

static struct curl_slist *build_headers(const char *content_type, const char *const *extra_headers,
					bool post)
{
	/* No "Expect: 100-continue": one round trip, and nothing for a server to stall on. */
	struct curl_slist *list = append(NULL, "Expect:");
	char *ct;

	if (content_type) {
		ct = xasprintf("Content-Type: %s", content_type);
		list = append(list, ct);
		free(ct);
	} else if (post) {
		/* Not libcurl's default application/x-www-form-urlencoded. */
		list = append(list, "Content-Type:");
	}
	for (; extra_headers && *extra_headers; extra_headers++)
		list = append(list, *extra_headers);
	return list;
}

static int prepare(struct http *h, const char *url, const struct curl_slist *headers,
		   const void *body, size_t body_len)
{
	long ms = 0;
	bool bad = false;

	if (exchange_timeout(h, &ms) < 0) {
		set_error(h, "retry_timeout reached, not sent");
		log_warn("%s: %s", url, h->err);
		return -ETIMEDOUT;
	}
	bad |= setopt_failed(h, CURLOPT_TIMEOUT_MS, ms);
	bad |= setopt_failed(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	bad |= setopt_failed(h, CURLOPT_URL, url);
	bad |= setopt_failed(h, CURLOPT_HTTPHEADER, headers);
	if (body) {
		bad |= setopt_failed(h, CURLOPT_POSTFIELDS, body);
		bad |= setopt_failed(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else {
		bad |= setopt_failed(h, CURLOPT_HTTPGET, 1L);
	}
	if (bad) {
		set_error(h, "cannot set up the request");
		log_err("%s: %s", url, h->err);
		return -EPROTO;
	}
	return 0;
}

static int map_error(CURLcode c)
{
	/* An if chain, not a switch: libcurl's enum is not ours to list whole. */
	if (c == CURLE_COULDNT_CONNECT)
		return -ECONNREFUSED;
	if (c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_RESOLVE_PROXY)
		return -EHOSTUNREACH;
	if (c == CURLE_OPERATION_TIMEDOUT)
		return -ETIMEDOUT;
	/* Cut short without a final alert (tls_refusal): may work next time. */
	if (c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR || c == CURLE_GOT_NOTHING ||
	    c == CURLE_PARTIAL_FILE || c == CURLE_SSL_CONNECT_ERROR || c == CURLE_HTTP2 ||
	    c == CURLE_HTTP2_STREAM || c == CURLE_PROXY)
		return -ECONNRESET;
	if (c == CURLE_PEER_FAILED_VERIFICATION)
		return -EPERM;
	if (c == CURLE_FILESIZE_EXCEEDED)
		return -EFBIG;
	return -EPROTO;
}

/* The TLS failures trying again does not mend, in h->err: -EPERM, -ECONNABORTED, or 0. */
static int tls_refusal(struct http *h, CURLcode c)
{
	long verify = X509_V_OK;

	if (c == CURLE_PEER_FAILED_VERIFICATION)
		http_lib.curl_easy_getinfo(h->curl, CURLINFO_SSL_VERIFYRESULT, &verify);
	return http_ssl_refusal(h->ssl, c == CURLE_PEER_FAILED_VERIFICATION, verify, h->errbuf,
				h->err, sizeof(h->err));
}

/* A proxy's refusal of the tunnel: its status, for good when it wants credentials. */
static int proxy_refusal(struct http *h, CURLcode c)
{
	long code = 0;

	/* SOCKS: credentials refused, or none the proxy accepts: trying again will not mend it. */
	if (c == CURLE_PROXY &&
	    http_lib.curl_easy_getinfo(h->curl, CURLINFO_PROXY_ERROR, &code) == CURLE_OK &&
	    (code == CURLPX_USER_REJECTED || code == CURLPX_NO_AUTH)) {
		set_error(h, "the SOCKS proxy refused %s",
			  code == CURLPX_NO_AUTH ? "every authentication this client offers"
						 : "the user name and password of the proxy URL");
		return -EACCES;
	}
	if (http_lib.curl_easy_getinfo(h->curl, CURLINFO_HTTP_CONNECTCODE, &code) != CURLE_OK ||
	    code < 300)
		return 0;
	if (code == 407) {
		set_error(
			h, "the proxy refused %s (HTTP 407)",
			h->o.proxy && strchr(h->o.proxy, '@')
				? "the user name and password of the proxy URL"
				: "to connect without credentials (give user:password@ in proxy)");
		return -EACCES;
	}
	set_error(h, "the proxy refused the tunnel to the server (HTTP %ld)", code);
	return -ECONNREFUSED;
}

static int transfer_error(struct http *h, CURLcode c, const char *url, int64_t ms)
{
	int r = tls_refusal(h, c);
	char *shown;

	if (r == 0)
		r = proxy_refusal(h, c);
	if (r == 0 && h->reset_unheard) {
		set_error(h,
			  "TLS: the server closed each new connection right after the handshake, "
			  "before any answer: with TLS 1.3 that is a refused client certificate "
			  "whose alert was lost (trust: the %.60s)",
			  h->o.trust_name);
		r = -ECONNABORTED;
	}
	if (r == 0 && h->ctx_failed) {
		set_error(h, "TLS: cannot set the trust anchors or the client key pair");
		r = -EPROTO;
	}
	if (r == 0) {
		r = map_error(c);
		if (c == CURLE_WRITE_ERROR && h->too_big)
			r = -EFBIG;
		if (r == -EFBIG)
			set_error(h, "answer larger than %u bytes", HTTP_MAX_BODY);
		else if (r == -ETIMEDOUT)
			set_error(
				h, "timed out after %lld ms (%s; %zu bytes of the answer received)",
				(long long)ms, h->errbuf[0] ? h->errbuf : "no answer", h->body_len);
		else
			set_error(h, "%s",
				  h->errbuf[0] ? h->errbuf : http_lib.curl_easy_strerror(c));
	}
	/* libcurl's words may name a proxy URL of the environment: never its credentials. */
	shown = redact(h, h->err);
	set_error(h, "%s", shown);
	wipe_str(shown);
	if (r == -ECONNABORTED && h->o.version_probe && http_ssl_version_refused(h->ssl))
		log_info("%s: %s", url, h->err);
	else if (r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ETIMEDOUT || r == -ECONNRESET)
		log_warn("%s: %s", url, h->err);
	else
		log_err("%s: %s", url, h->err);
	return r;
}

/* A new connection that presented our client certificate, reset with no alert heard. */
static bool refused_unheard(const struct http *h, CURLcode c, long conns)
{
	return http_ssl_has_client(h->ssl) && conns > 0 && http_ssl_alert(h->ssl) < 0 &&
	       !h->body_len &&
	       (c == CURLE_SEND_ERROR || c == CURLE_RECV_ERROR || c == CURLE_GOT_NOTHING);
}

/* The waits before each new handshake after a reset that hid a refusal (refused_unheard). */
static const unsigned int unheard_waits_ms[] = {0, 100, 400};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_request(struct http *h, const char *path, const char *content_type,
		 const char *const *extra_headers, const void *body, size_t body_len,
		 struct http_response *out_resp)
{
	struct curl_slist *headers = build_headers(content_type, extra_headers, body != NULL);
	char *url = xasprintf("%s%s%s", h->origin, path[0] == '/' ? "" : "/", path);
	long status = 0, conns = 0;
	int64_t start = now_ms();
	size_t i;
	CURLcode c;
	int r;

	reset_answer(h);
	http_ssl_forget(h->ssl);
	h->reset_unheard = false;
	h->too_big = h->ctx_failed = false;
	h->contexts = 0;
	h->errbuf[0] = h->err[0] = '\0';
	r = prepare(h, url, headers, body, body_len);
	if (r < 0)
		goto out;
	c = http_lib.curl_easy_perform(h->curl);
	http_lib.curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &conns);
	h->connects += conns > 0 ? (unsigned int)conns : 0;
	/*
	 * TLS 1.3: a server refusing our certificate after the handshake may reset the connection
	 * before its alert is read (the reset drops it). New handshakes, a little apart, hear why;
	 * when none does, the resets are taken as that refusal (transfer_error).
	 */
	for (i = 0; i < ARRAY_SIZE(unheard_waits_ms) && refused_unheard(h, c, conns); i++) {
		log_debug("%s: the new connection was reset before any answer: again", url);
		sleep_ms(unheard_waits_ms[i]);
		h->errbuf[0] = '\0';
		http_ssl_forget(h->ssl);
		reset_answer(h);
		h->contexts = 0;
		c = http_lib.curl_easy_perform(h->curl);
		http_lib.curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &conns);
		h->connects += conns > 0 ? (unsigned int)conns : 0;
	}
	h->reset_unheard = refused_unheard(h, c, conns);
	if (c != CURLE_OK) {
		r = transfer_error(h, c, url, now_ms() - start);
		goto out;
	}
	http_lib.curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	log_debug("%s %s: HTTP %ld, %zu bytes (%s, %s connection)", body ? "POST" : "GET", url,
		  status, h->body_len, http_ssl_version(h->ssl) ? http_ssl_version(h->ssl) : "?",
		  conns ? "new" : "reused");
	if (!h->body)
		h->body = xzalloc(1);
	*out_resp = (struct http_response){
		.status = status,
		.content_type = h->content_type,
		.retry_after = h->retry_after,
		.body = h->body,
		.body_len = h->body_len,
	};
	h->content_type = h->retry_after = NULL;
	h->body = NULL;
	h->body_len = h->body_cap = 0;
out:
	if (r < 0)
		reset_answer(h);
	/* The list and the body are the caller's: leave libcurl no pointer to them. */
	setopt_failed(h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	setopt_failed(h, CURLOPT_POSTFIELDS, (char *)NULL);
	http_lib.curl_slist_free_all(headers);
	free(url);
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
	if (!connected(h))
		return -ENOTCONN;
	return http_ssl_binding(h->ssl, exporter, buf, buflen, out_len);
}

const char *http_tls_version(struct http *h)
{
	return connected(h) ? http_ssl_version(h->ssl) : NULL;
}

bool http_client_cert_refused(struct http *h)
{
	return http_ssl_cert_refused(h->ssl);
}

bool http_version_refused(struct http *h)
{
	return http_ssl_version_refused(h->ssl);
}

int http_tls_alert(struct http *h)
{
	return http_ssl_alert(h->ssl);
}

const char *http_last_error(struct http *h)
{
	return h->err;
}
