/* SPDX-License-Identifier: MIT */
/*
 * HTTPS exchanges with the EST server: one libcurl handle, one kept-alive TLS connection.
 * libcurl and libssl are bound at run time, on the first http_new: a pass with nothing to do,
 * status and load never map them nor the dozens of libraries libcurl needs.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "http.h"
#include "log.h"
#include "util.h"

#define TLS_UNIQUE_MAX 64 /* a Finished message's verify_data: 12 bytes in practice */
#define EXPORTER_LEN 32	  /* RFC 9266 section 2 */
#define EXPORTER_LABEL "EXPORTER-Channel-Binding"

/*
 * What we need of a connection's TLS state. libcurl shows the SSL * only while a transfer has
 * the connection attached (CURLINFO_TLS_SSL_PTR is NULL once curl_easy_perform returns), so
 * it is copied from the header callback of every answer.
 */
struct tls_facts {
	bool valid;
	const char *version; /* static string owned by OpenSSL */
	unsigned char unique[TLS_UNIQUE_MAX];
	size_t unique_len; /* 0: no tls-unique (TLS 1.3) */
	unsigned char exporter[EXPORTER_LEN];
	bool has_exporter; /* TLS 1.3 only */
};

#define LIBCURL_SONAME "libcurl.so.4"

/* The libcurl functions used here, resolved by dlopen_curl(). */
static struct libcurl {
	typeof(curl_global_init) *global_init;
	typeof(curl_easy_init) *easy_init;
	typeof(curl_easy_setopt) *easy_setopt;
	typeof(curl_easy_getinfo) *easy_getinfo;
	typeof(curl_easy_perform) *easy_perform;
	typeof(curl_easy_cleanup) *easy_cleanup;
	typeof(curl_easy_strerror) *easy_strerror;
	typeof(curl_slist_append) *slist_append;
	typeof(curl_slist_free_all) *slist_free_all;
	typeof(curl_version_info) *version_info;
} lc;

#define LIBSSL_SONAME "libssl.so.3"

/* What http.c reads of libcurl's TLS connections: libssl, loaded by libcurl anyway, bound with
 * it so a pass that opens no connection does not map it either. */
static struct libssl {
	typeof(SSL_CTX_get_ex_data) *SSL_CTX_get_ex_data;
	typeof(SSL_CTX_set_ex_data) *SSL_CTX_set_ex_data;
	typeof(SSL_CTX_set_info_callback) *SSL_CTX_set_info_callback;
	typeof(SSL_alert_desc_string_long) *SSL_alert_desc_string_long;
	typeof(SSL_export_keying_material) *SSL_export_keying_material;
	typeof(SSL_get0_verified_chain) *SSL_get0_verified_chain;
	typeof(SSL_get_SSL_CTX) *SSL_get_SSL_CTX;
	typeof(SSL_get_finished) *SSL_get_finished;
	typeof(SSL_get_peer_cert_chain) *SSL_get_peer_cert_chain;
	typeof(SSL_get_peer_finished) *SSL_get_peer_finished;
	typeof(SSL_get_verify_result) *SSL_get_verify_result;
	typeof(SSL_get_version) *SSL_get_version;
	typeof(SSL_session_reused) *SSL_session_reused;
	typeof(SSL_version) *SSL_version;
} lssl;

struct sym {
	const char *name;
	size_t offset;
};

/* Opens soname and fills table (of table_size bytes) from syms. 0, or -ELIBACC with the reason
 * in why. */
static int bind_library(const char *soname, const struct sym *syms, size_t n, void *table,
			size_t table_size, char *why, size_t why_len)
{
	const char *e;
	void *dl, *fn;
	size_t i;

	memset(table, 0, table_size);
	dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		e = dlerror();
		snprintf(why, why_len, "%s: cannot load: %s", soname, e ? e : "dlopen failed");
		return -ELIBACC;
	}
	for (i = 0; i < n; i++) {
		(void)dlerror();
		fn = dlsym(dl, syms[i].name);
		if (!fn) {
			e = dlerror();
			snprintf(why, why_len, "%s: cannot load: %s", soname, e ? e : syms[i].name);
			dlclose(dl);
			return -ELIBACC;
		}
		/* A data pointer into a function pointer, the way POSIX dlsym intends. */
		memcpy((char *)table + syms[i].offset, &fn, sizeof(fn));
	}
	return 0;
}

/*
 * Loads libcurl and libssl and initialises libcurl, once a process (never unloaded:
 * curl_global_cleanup is left to exit). Returns 0, or -ELIBACC with the reason logged (the same
 * reason each call).
 */
static int dlopen_curl(void)
{
	static const struct sym curl_syms[] = {
		{"curl_global_init", offsetof(struct libcurl, global_init)},
		{"curl_easy_init", offsetof(struct libcurl, easy_init)},
		{"curl_easy_setopt", offsetof(struct libcurl, easy_setopt)},
		{"curl_easy_getinfo", offsetof(struct libcurl, easy_getinfo)},
		{"curl_easy_perform", offsetof(struct libcurl, easy_perform)},
		{"curl_easy_cleanup", offsetof(struct libcurl, easy_cleanup)},
		{"curl_easy_strerror", offsetof(struct libcurl, easy_strerror)},
		{"curl_slist_append", offsetof(struct libcurl, slist_append)},
		{"curl_slist_free_all", offsetof(struct libcurl, slist_free_all)},
		{"curl_version_info", offsetof(struct libcurl, version_info)},
	};
	static const struct sym ssl_syms[] = {
		{"SSL_CTX_get_ex_data", offsetof(struct libssl, SSL_CTX_get_ex_data)},
		{"SSL_CTX_set_ex_data", offsetof(struct libssl, SSL_CTX_set_ex_data)},
		{"SSL_CTX_set_info_callback", offsetof(struct libssl, SSL_CTX_set_info_callback)},
		{"SSL_alert_desc_string_long", offsetof(struct libssl, SSL_alert_desc_string_long)},
		{"SSL_export_keying_material", offsetof(struct libssl, SSL_export_keying_material)},
		{"SSL_get0_verified_chain", offsetof(struct libssl, SSL_get0_verified_chain)},
		{"SSL_get_SSL_CTX", offsetof(struct libssl, SSL_get_SSL_CTX)},
		{"SSL_get_finished", offsetof(struct libssl, SSL_get_finished)},
		{"SSL_get_peer_cert_chain", offsetof(struct libssl, SSL_get_peer_cert_chain)},
		{"SSL_get_peer_finished", offsetof(struct libssl, SSL_get_peer_finished)},
		{"SSL_get_verify_result", offsetof(struct libssl, SSL_get_verify_result)},
		{"SSL_get_version", offsetof(struct libssl, SSL_get_version)},
		{"SSL_session_reused", offsetof(struct libssl, SSL_session_reused)},
		{"SSL_version", offsetof(struct libssl, SSL_version)},
	};
	static int state;     /* 0 not tried, 1 loaded, < 0 failed */
	static char why[512]; /* what failed */
	struct libcurl c;
	struct libssl l;

	if (state == 0) {
		state = bind_library(LIBCURL_SONAME, curl_syms, ARRAY_SIZE(curl_syms), &c,
				     sizeof(c), why, sizeof(why));
		if (state == 0)
			state = bind_library(LIBSSL_SONAME, ssl_syms, ARRAY_SIZE(ssl_syms), &l,
					     sizeof(l), why, sizeof(why));
		/* libcurl stays mapped if this fails: it may have started something. */
		if (state == 0 && c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(why, sizeof(why),
				 LIBCURL_SONAME ": cannot load: curl_global_init failed");
			state = -ELIBACC;
		}
		if (state == 0) {
			lc = c;
			lssl = l;
			state = 1;
		}
	}
	if (state < 0)
		log_err("%s", why);
	return state < 0 ? state : 0;
}

struct http {
	CURL *curl;
	struct http_opts o;
	char *trust;  /* trust_pem and extra_trust_pem together, when both are given */
	char *origin; /* "https://host:port" */
	char errbuf[CURL_ERROR_SIZE];
	/* The answer in flight; the body may hold a server-generated private key. */
	unsigned char *body;
	size_t body_len, body_cap;
	bool too_big;
	char *content_type;
	char *retry_after;
	struct tls_facts tls;
	/* Fatal TLS alerts of the request in flight, -1 when none: from the server, from us. */
	int alert_received, alert_sent;
	bool trace;		/* -vv: libcurl's account, the server's chain */
	const void *traced_ssl; /* the connection whose chain was logged */
};

/* Where the SSL_CTX of a connection keeps its struct http, for on_tls_info. */
static int ctx_index = -1;

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
		/* Grow by hand rather than realloc so no unwiped copy is left behind. */
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

/* Keeps the value of header line if it is "name: value", trimmed. */
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

/* "subject (issued by issuer)" of cert into buf, RFC 2253. */
static const char *cert_line(X509 *cert, char *buf, size_t len)
{
	char subject[256] = "?", issuer[256] = "?";
	BIO *bio = BIO_new(BIO_s_mem());
	int n;

	if (bio && X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(bio, subject, sizeof(subject) - 1)) > 0)
		subject[n] = '\0';
	(void)BIO_reset(bio);
	if (bio && X509_NAME_print_ex(bio, X509_get_issuer_name(cert), 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(bio, issuer, sizeof(issuer) - 1)) > 0)
		issuer[n] = '\0';
	BIO_free(bio);
	snprintf(buf, len, "%s (issued by %s)", subject, issuer);
	return buf;
}

/* -vv: the chain the server sent, and the trust anchor it was verified up to (once a
 * connection). Certificates only: nothing secret. */
static void trace_chain(struct http *h, SSL *ssl)
{
	STACK_OF(X509) *sent = lssl.SSL_get_peer_cert_chain(ssl);
	STACK_OF(X509) *verified = lssl.SSL_get0_verified_chain(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char buf[600], *hex;
	X509 *anchor;
	int i;

	if (!h->trace || h->traced_ssl == ssl)
		return;
	h->traced_ssl = ssl;
	for (i = 0; i < sk_X509_num(sent); i++)
		log_trace("TLS: server certificate %d: %s", i,
			  cert_line(sk_X509_value(sent, i), buf, sizeof(buf)));
	anchor = sk_X509_num(verified) > 0 ? sk_X509_value(verified, sk_X509_num(verified) - 1)
					   : NULL;
	if (!anchor || X509_digest(anchor, EVP_sha256(), md, &mdlen) != 1) {
		log_trace("TLS: no verified chain (%s)",
			  X509_verify_cert_error_string(lssl.SSL_get_verify_result(ssl)));
		ERR_clear_error();
		return;
	}
	hex = hex_encode(md, mdlen);
	log_trace("TLS: verified (%d certificate(s)) up to the trust anchor %s, sha256 %s",
		  sk_X509_num(verified), cert_line(anchor, buf, sizeof(buf)), hex);
	free(hex);
}

static void capture_tls(struct http *h)
{
	struct curl_tlssessioninfo *tsi = NULL;
	struct tls_facts *t = &h->tls;
	size_t n;
	SSL *ssl;

	wipe(t, sizeof(*t));
	if (lc.easy_getinfo(h->curl, CURLINFO_TLS_SSL_PTR, &tsi) != CURLE_OK || !tsi ||
	    tsi->backend != CURLSSLBACKEND_OPENSSL || !tsi->internals)
		return;
	ssl = tsi->internals;
	trace_chain(h, ssl);
	t->version = lssl.SSL_get_version(ssl);
	if (lssl.SSL_version(ssl) == TLS1_3_VERSION) {
		t->has_exporter = lssl.SSL_export_keying_material(
					  ssl, t->exporter, EXPORTER_LEN, EXPORTER_LABEL,
					  strlen(EXPORTER_LABEL), NULL, 0, 0) == 1;
		if (!t->has_exporter) {
			log_debug("tls-exporter: %s", ERR_error_string(ERR_get_error(), NULL));
			ERR_clear_error();
		}
	} else {
		/* RFC 5929 3.1: the first Finished of the handshake, the server's on resumption. */
		if (lssl.SSL_session_reused(ssl))
			n = lssl.SSL_get_peer_finished(ssl, t->unique, sizeof(t->unique));
		else
			n = lssl.SSL_get_finished(ssl, t->unique, sizeof(t->unique));
		t->unique_len = n <= sizeof(t->unique) ? n : 0;
	}
	t->valid = true;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
	struct http *h = userdata;
	size_t n = size * nmemb;

	if (n >= 5 && !memcmp(line, "HTTP/", 5)) {
		/* A new answer (after a 401 challenge, a proxy CONNECT): forget the last. */
		reset_answer(h);
		capture_tls(h);
		return n;
	}
	keep_header(line, n, "Content-Type", &h->content_type);
	keep_header(line, n, "Retry-After", &h->retry_after);
	return n;
}

static bool connected(struct http *h)
{
	curl_socket_t s = CURL_SOCKET_BAD;
	struct pollfd p;

	if (!h->tls.valid || lc.easy_getinfo(h->curl, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
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

static void on_tls_info(const SSL *ssl, int where, int ret)
{
	struct http *h;

	if (!(where & SSL_CB_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
		return;
	h = lssl.SSL_CTX_get_ex_data(lssl.SSL_get_SSL_CTX(ssl), ctx_index);
	if (!h)
		return;
	if (where & SSL_CB_READ)
		h->alert_received = ret & 0xff;
	else
		h->alert_sent = ret & 0xff;
}

/* Called by libcurl for every new connection: watch its alerts. */
static CURLcode on_ssl_ctx(CURL *curl, void *ctx, void *userdata)
{
	(void)curl;
	if (lssl.SSL_CTX_set_ex_data(ctx, ctx_index, userdata) == 1)
		lssl.SSL_CTX_set_info_callback(ctx, on_tls_info);
	return CURLE_OK;
}

static int setup_proxy(struct http *h)
{
	const char *proxy = h->o.proxy;
	CURL *c = h->curl;
	bool bad = false;

	if (!proxy)
		return 0; /* libcurl reads https_proxy and no_proxy itself */
	/* "" disables any proxy, the environment's too; NOPROXY "" sends every host to it. */
	bad |= lc.easy_setopt(c, CURLOPT_PROXY, proxy) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_NOPROXY, *proxy ? "" : "*") != CURLE_OK;
	return bad ? -ENOTSUP : 0;
}

/* -vv: libcurl's own words on the connection (CURLINFO_TEXT: resolving, connecting, the TLS
 * handshake and its verification). Never headers or data: they carry Authorization and keys. */
static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *userdata)
{
	(void)c;
	(void)userdata;
	if (type != CURLINFO_TEXT)
		return 0;
	while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
		size--;
	if (size)
		log_trace("curl: %.*s", (int)(size > INT_MAX ? INT_MAX : size), data);
	return 0;
}

/* -vv: what this handle will trust, so the log says which set verified the server. */
static void trace_trust(const struct http *h)
{
	BIO *bio = BIO_new_mem_buf(h->o.trust_pem,
				   (int)(h->o.trust_len > INT_MAX ? 0 : h->o.trust_len));
	char buf[600];
	X509 *c;
	int n = 0;

	while (bio && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		log_trace("TLS: trust anchor %d: %s", n++, cert_line(c, buf, sizeof(buf)));
		X509_free(c);
	}
	ERR_clear_error();
	BIO_free(bio);
}

static int setup_trace(struct http *h)
{
	CURL *c = h->curl;
	bool bad = false;

	h->trace = log_enabled(LOG_LEVEL_TRACE);
	if (!h->trace)
		return 0;
	trace_trust(h);
	bad |= lc.easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_DEBUGDATA, h) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_VERBOSE, 1L) != CURLE_OK;
	return bad ? -ENOTSUP : 0;
}

static int setup_transport(struct http *h)
{
	CURL *c = h->curl;
	bool bad = false;

	bad |= lc.easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	bad |= lc.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
#else
	bad |= lc.easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS) != CURLE_OK;
#endif
	bad |= lc.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_FORBID_REUSE, 0L) != CURLE_OK;
	/* RFC 7030 speaks HTTP/1.1; no ALPN surprises behind a proxying RA. */
	bad |= lc.easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_USERAGENT, "est-enroll/" PACKAGE_VERSION) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_BODY) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_WRITEDATA, h) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_HEADERDATA, h) != CURLE_OK;
	return bad ? -ENOTSUP : setup_proxy(h);
}

static int setup_tls(struct http *h)
{
	struct curl_blob trust = {(void *)h->o.trust_pem, h->o.trust_len, CURL_BLOB_NOCOPY};
	struct curl_blob client = {(void *)h->o.client_pem, h->o.client_len, CURL_BLOB_NOCOPY};
	long version = CURL_SSLVERSION_TLSv1_2;
	CURL *c = h->curl;
	bool bad = false;

	if (h->o.tls12_only)
		version |= CURL_SSLVERSION_MAX_TLSv1_2;
	if (h->o.tls13_only)
		version = CURL_SSLVERSION_TLSv1_3;
	bad |= lc.easy_setopt(c, CURLOPT_SSLVERSION, version) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	/* Only our trust anchors: no system CA file or directory. */
	bad |= lc.easy_setopt(c, CURLOPT_CAINFO, NULL) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_CAINFO_BLOB, &trust) != CURLE_OK;
	if (h->o.client_pem && h->o.client_len) {
		/* OpenSSL's PEM readers skip blocks of another type, so one bundle serves both. */
		bad |= lc.easy_setopt(c, CURLOPT_SSLCERT_BLOB, &client) != CURLE_OK;
		bad |= lc.easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK;
		bad |= lc.easy_setopt(c, CURLOPT_SSLKEY_BLOB, &client) != CURLE_OK;
		bad |= lc.easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK;
	}
	/* Best effort: without it a refused handshake is only told apart less precisely. */
	if (ctx_index >= 0 && lc.easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) == CURLE_OK)
		lc.easy_setopt(c, CURLOPT_SSL_CTX_DATA, h);
	return bad ? -ENOTSUP : 0;
}

static int setup_auth(struct http *h)
{
	CURL *c = h->curl;
	long mask = CURLAUTH_NONE;
	bool bad = false;

	switch (h->o.auth) {
	case HTTP_AUTH_NONE:
		return 0;
	case HTTP_AUTH_BASIC:
		mask = CURLAUTH_BASIC;
		break;
	case HTTP_AUTH_DIGEST:
		mask = CURLAUTH_DIGEST;
		break;
	}
	bad |= lc.easy_setopt(c, CURLOPT_HTTPAUTH, mask) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_USERNAME, h->o.username) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_PASSWORD, h->o.password) != CURLE_OK;
	return bad ? -ENOTSUP : 0;
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
	r = dlopen_curl();
	if (r < 0)
		goto out;
	h = xzalloc(sizeof(*h));
	h->o = *o;
	h->alert_received = h->alert_sent = -1;
	if (o->extra_trust_pem && o->extra_trust_len) {
		/* One blob for libcurl; a certificate in both is harmless. */
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
	if (ctx_index < 0)
		ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	h->curl = lc.easy_init();
	if (!h->curl) {
		r = -ENOMEM;
		goto out;
	}
	/* RFC 3986: an IPv6 literal goes in brackets. */
	h->origin = xasprintf(strchr(o->host, ':') ? "https://[%s]:%u" : "https://%s:%u", o->host,
			      o->port);
	r = setup_transport(h);
	if (r == 0)
		r = setup_tls(h);
	if (r == 0)
		r = setup_auth(h);
	if (r == 0)
		r = setup_trace(h);
	if (r < 0)
		log_err("libcurl %s lacks a needed option",
			lc.version_info(CURLVERSION_NOW)->version);
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
	if (h->curl)
		lc.easy_cleanup(h->curl);
	reset_answer(h);
	wipe(&h->tls, sizeof(h->tls));
	free(h->trust);
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
	struct curl_slist *l = lc.slist_append(list, s);

	if (!l) {
		fputs("est-enroll: out of memory\n", stderr);
		abort();
	}
	return l;
}

static struct curl_slist *build_headers(const char *content_type, const char *const *extra_headers,
					bool post)
{
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
	CURL *c = h->curl;
	long ms = 0;
	bool bad = false;
	int r;

	r = exchange_timeout(h, &ms);
	if (r < 0) {
		snprintf(h->errbuf, sizeof(h->errbuf), "retry_timeout reached, not sent");
		log_warn("%s: %s", url, h->errbuf);
		return r;
	}
	bad |= lc.easy_setopt(c, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
	bad |= lc.easy_setopt(c, CURLOPT_HTTPHEADER, headers) != CURLE_OK;
	if (body) {
		bad |= lc.easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK;
		bad |= lc.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) !=
		       CURLE_OK;
	} else {
		bad |= lc.easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	}
	if (bad) {
		snprintf(h->errbuf, sizeof(h->errbuf), "cannot set up the request");
		log_err("%s: %s", url, h->errbuf);
		return -EPROTO;
	}
	return 0;
}

static int map_error(CURLcode c, bool too_big)
{
	if (c == CURLE_COULDNT_CONNECT)
		return -ECONNREFUSED;
	if (c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_RESOLVE_PROXY)
		return -EHOSTUNREACH;
	if (c == CURLE_OPERATION_TIMEDOUT)
		return -ETIMEDOUT;
	/* A handshake cut short without a final alert (tls_refusal) may work next time. */
	if (c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR || c == CURLE_GOT_NOTHING ||
	    c == CURLE_PARTIAL_FILE || c == CURLE_SSL_CONNECT_ERROR)
		return -ECONNRESET;
	if (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE)
		return -EPERM;
	if (c == CURLE_FILESIZE_EXCEEDED || (c == CURLE_WRITE_ERROR && too_big))
		return -EFBIG;
	return -EPROTO;
}

/* Alerts after which the same handshake gets the same answer: no point in trying again. */
static bool alert_is_final(int desc)
{
	switch (desc) {
	case SSL_AD_HANDSHAKE_FAILURE:
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED:
	case SSL_AD_PROTOCOL_VERSION:
	case SSL_AD_INSUFFICIENT_SECURITY:
	case SSL_AD_CERTIFICATE_REQUIRED:
		return true;
	default:
		return false;
	}
}

static const char *versions_offered(const struct http *h)
{
	if (h->o.tls12_only)
		return "TLS 1.2 only";
	return h->o.tls13_only ? "TLS 1.3 only" : "TLS 1.2 and 1.3";
}

/* What an alert means here, in words. */
static const char *alert_meaning(const struct http *h, int desc)
{
	switch (desc) {
	case SSL_AD_PROTOCOL_VERSION:
	case SSL_AD_HANDSHAKE_FAILURE:
	case SSL_AD_INSUFFICIENT_SECURITY:
		return "no TLS version or parameters in common";
	case SSL_AD_CERTIFICATE_REQUIRED:
		return "the server requires a TLS client certificate";
	default:
		return h->o.client_pem ? "the server refused our TLS client certificate"
				       : "the server refused the handshake";
	}
}

/*
 * The TLS failures trying again does not mend, written into errbuf: -EPERM, -ECONNABORTED, or
 * 0 when c is something else.
 */
/* Replaces h->errbuf by msg, cut to fit (a log line, not data). */
static void set_error(struct http *h, const char *msg)
{
	size_t n = strnlen(msg, sizeof(h->errbuf) - 1);

	memcpy(h->errbuf, msg, n);
	h->errbuf[n] = '\0';
}

static int tls_refusal(struct http *h, CURLcode c)
{
	char msg[2 * CURL_ERROR_SIZE + 256];
	long verify = X509_V_OK;
	const char *why = h->o.version_why;
	char detail[CURL_ERROR_SIZE];
	int desc = -1;

	snprintf(detail, sizeof(detail), "%s", h->errbuf);
	if (c == CURLE_PEER_FAILED_VERIFICATION) {
		lc.easy_getinfo(h->curl, CURLINFO_SSL_VERIFYRESULT, &verify);
		if (verify != X509_V_OK && verify != X509_V_ERR_UNSPECIFIED)
			snprintf(msg, sizeof(msg),
				 "TLS: the server's certificate does not verify against the %.60s: "
				 "%.200s",
				 h->o.trust_name, X509_verify_cert_error_string(verify));
		else
			snprintf(msg, sizeof(msg),
				 "TLS: the server's certificate is refused: %s (trust: the %.60s)",
				 detail, h->o.trust_name);
		set_error(h, msg);
		return -EPERM;
	}
	if (alert_is_final(h->alert_received))
		desc = h->alert_received;
	else if (h->alert_sent == SSL_AD_PROTOCOL_VERSION ||
		 h->alert_sent == SSL_AD_HANDSHAKE_FAILURE)
		desc = h->alert_sent;
	if (desc < 0)
		return 0;
	if (desc == SSL_AD_PROTOCOL_VERSION || desc == SSL_AD_HANDSHAKE_FAILURE ||
	    desc == SSL_AD_INSUFFICIENT_SECURITY)
		snprintf(detail, sizeof(detail), "; this client offers %.40s%s%.100s%s",
			 versions_offered(h), why ? " (" : "", why ? why : "", why ? ")" : "");
	else
		detail[0] = '\0';
	snprintf(msg, sizeof(msg),
		 "TLS handshake %s (alert: %.60s): %.120s%s; server authenticated by the %.60s",
		 desc == h->alert_received ? "refused by the server" : "abandoned by this client",
		 lssl.SSL_alert_desc_string_long(desc), alert_meaning(h, desc), detail,
		 h->o.trust_name);
	set_error(h, msg);
	return -ECONNABORTED;
}

static int transfer_error(struct http *h, CURLcode c, const char *url)
{
	int r = tls_refusal(h, c);

	if (r < 0) {
		log_err("%s: %s", url, h->errbuf);
		return r;
	}
	r = map_error(c, h->too_big);
	if (r == -EFBIG)
		snprintf(h->errbuf, sizeof(h->errbuf), "answer larger than %u bytes",
			 HTTP_MAX_BODY);
	else if (!h->errbuf[0])
		snprintf(h->errbuf, sizeof(h->errbuf), "%s", lc.easy_strerror(c));
	if (r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ETIMEDOUT || r == -ECONNRESET)
		log_warn("%s: %s", url, h->errbuf);
	else
		log_err("%s: %s", url, h->errbuf);
	return r;
}

int http_request(struct http *h, const char *path, const char *content_type,
		 const char *const *extra_headers, const void *body, size_t body_len,
		 struct http_response *out_resp)
{
	struct curl_slist *headers = build_headers(content_type, extra_headers, body != NULL);
	char *url = xasprintf("%s%s%s", h->origin, path[0] == '/' ? "" : "/", path);
	long status = 0, conns = 0;
	CURLcode c;
	int r;

	reset_answer(h);
	wipe(&h->tls, sizeof(h->tls));
	h->too_big = false;
	h->errbuf[0] = '\0';
	h->alert_received = h->alert_sent = -1;
	r = prepare(h, url, headers, body, body_len);
	if (r < 0)
		goto out;
	c = lc.easy_perform(h->curl);
	if (c != CURLE_OK) {
		r = transfer_error(h, c, url);
		goto out;
	}
	h->errbuf[0] = '\0';
	lc.easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	lc.easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &conns);
	log_debug("%s %s: HTTP %ld, %zu bytes (%s, %s connection)", body ? "POST" : "GET", url,
		  status, h->body_len, h->tls.version ? h->tls.version : "?",
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
	/* The list is freed here: leave libcurl no pointer to it. */
	lc.easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	lc.slist_free_all(headers);
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
	const unsigned char *src;
	size_t n;

	if (!connected(h))
		return -ENOTCONN;
	src = exporter ? h->tls.exporter : h->tls.unique;
	n = exporter ? (h->tls.has_exporter ? EXPORTER_LEN : 0) : h->tls.unique_len;
	if (!n)
		return -EPROTO;
	if (n > buflen)
		return -ENOBUFS;
	memcpy(buf, src, n);
	*out_len = n;
	return 0;
}

const char *http_tls_version(struct http *h)
{
	return connected(h) ? h->tls.version : NULL;
}

bool http_client_cert_refused(struct http *h)
{
	int desc = h->alert_received;

	return h->o.client_pem && alert_is_final(desc) && desc != SSL_AD_PROTOCOL_VERSION &&
	       desc != SSL_AD_HANDSHAKE_FAILURE && desc != SSL_AD_INSUFFICIENT_SECURITY;
}

int http_tls_alert(struct http *h)
{
	return h->alert_received;
}

const char *http_last_error(struct http *h)
{
	return h->errbuf;
}
