/* SPDX-License-Identifier: MIT */
/*
 * HTTPS exchanges with the EST server: one libcurl easy handle per pass, so one kept-alive
 * connection and one TLS handshake for all of its requests. The only libcurl user.
 *
 * libcurl is bound at run time, on the first http_new (systemd's dlopen-* pattern: one table,
 * one loader, the library named in the ELF .note.dlopen below): an idle pass, status, load,
 * export and import never map it, nor the libraries it needs. libssl, which libcurl maps, is
 * bound with it for what is read of the connection: trust and client key pair set from memory
 * on its SSL_CTX, the PoP channel bindings, the alerts that end a handshake.
 */
#include "autoconf.h"

#include <dlfcn.h>
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

/* Plain prototypes: the calls go through the table, not through curl.h's type-checking macros. */
#define CURL_DISABLE_TYPECHECK
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
#define LIBCURL_SONAME "libcurl.so.4"
#define LIBSSL_SONAME "libssl.so.3"

/* The dlopen()ed libraries, for packaging tools (systemd's ELF .note.dlopen, FDO type
 * 0x407c0c0a): a JSON list of features and their sonames. */
#define DLOPEN_NOTE_JSON                                                                           \
	"[{\"feature\":\"curl\",\"description\":\"HTTPS transport to the EST server\","            \
	"\"priority\":\"required\",\"soname\":[\"" LIBCURL_SONAME "\"]},"                          \
	"{\"feature\":\"ssl\",\"description\":\"TLS state of libcurl's connections\","             \
	"\"priority\":\"required\",\"soname\":[\"" LIBSSL_SONAME "\"]}]"
__attribute__((used, section(".note.dlopen"), aligned(4))) static const struct {
	uint32_t n_namesz, n_descsz, n_type;
	char name[4];
	char desc[(sizeof(DLOPEN_NOTE_JSON) + 3) & ~(size_t)3];
} dlopen_note = {4, sizeof(DLOPEN_NOTE_JSON), 0x407c0c0a, "FDO", DLOPEN_NOTE_JSON};

#define CURL_FUNCTIONS(X)                                                                          \
	X(curl_global_init)                                                                        \
	X(curl_easy_init)                                                                          \
	X(curl_easy_setopt)                                                                        \
	X(curl_easy_getinfo)                                                                       \
	X(curl_easy_perform)                                                                       \
	X(curl_easy_cleanup)                                                                       \
	X(curl_easy_strerror)                                                                      \
	X(curl_slist_append)                                                                       \
	X(curl_slist_free_all)                                                                     \
	X(curl_version_info)

#define SSL_FUNCTIONS(X)                                                                           \
	X(SSL_CTX_get_cert_store)                                                                  \
	X(SSL_CTX_use_certificate)                                                                 \
	X(SSL_CTX_use_PrivateKey)                                                                  \
	X(SSL_CTX_check_private_key)                                                               \
	X(SSL_CTX_ctrl)                                                                            \
	X(SSL_CTX_get_ex_data)                                                                     \
	X(SSL_CTX_set_ex_data)                                                                     \
	X(SSL_CTX_set_info_callback)                                                               \
	X(SSL_CTX_set_options)                                                                     \
	X(SSL_alert_desc_string_long)                                                              \
	X(SSL_export_keying_material)                                                              \
	X(SSL_get0_verified_chain)                                                                 \
	X(SSL_get_SSL_CTX)                                                                         \
	X(SSL_get_current_cipher)                                                                  \
	X(SSL_CIPHER_get_name)                                                                     \
	X(SSL_get_finished)                                                                        \
	X(SSL_get_peer_cert_chain)                                                                 \
	X(SSL_get_peer_finished)                                                                   \
	X(SSL_get_verify_result)                                                                   \
	X(SSL_get_version)                                                                         \
	X(SSL_session_reused)                                                                      \
	X(SSL_version)

#define FIELD(name) typeof(name) *name;
static struct libcurl {
	CURL_FUNCTIONS(FIELD)
} lc;
static struct libssl {
	SSL_FUNCTIONS(FIELD)
} lssl;
#undef FIELD

struct sym {
	const char *name;
	size_t offset;
};

/* Opens soname and fills table from syms. 0, or -ELIBACC with the reason in why. */
static int bind_library(const char *soname, const struct sym *syms, size_t n, void *table,
			char *why, size_t why_len)
{
	const char *e;
	void *dl, *fn;
	size_t i;

	/* Lazy: libcurl's many dependencies are bound as used, not all before the first request
	 * (those linked with -z now are bound at once anyway). */
	dl = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
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

/* Whether libcurl's TLS is the OpenSSL 3 this process uses: its SSL_CTX is handed to us. */
static bool curl_uses_openssl(const struct libcurl *c)
{
	const curl_version_info_data *v = c->curl_version_info(CURLVERSION_NOW);

	return v && v->ssl_version && !strncmp(v->ssl_version, "OpenSSL/3", 9);
}

/*
 * Binds libcurl and libssl and initialises libcurl, once a process (never unloaded:
 * curl_global_cleanup is left to exit). 0, or -ELIBACC with the reason logged (each call).
 */
static int dlopen_curl(void)
{
#define SYM(name) {#name, offsetof(struct libcurl, name)},
	static const struct sym curl_syms[] = {CURL_FUNCTIONS(SYM)};
#undef SYM
#define SYM(name) {#name, offsetof(struct libssl, name)},
	static const struct sym ssl_syms[] = {SSL_FUNCTIONS(SYM)};
#undef SYM
	static int state;     /* 0 not tried, 1 loaded, < 0 failed */
	static char why[512]; /* what failed */
	struct libcurl c = {0};
	struct libssl l = {0};

	if (state == 0) {
		state = bind_library(LIBCURL_SONAME, curl_syms, ARRAY_SIZE(curl_syms), &c, why,
				     sizeof(why));
		if (state == 0 && !curl_uses_openssl(&c)) {
			snprintf(why, sizeof(why),
				 LIBCURL_SONAME ": cannot load: built with %s, not OpenSSL 3 "
						"(install libcurl4, not libcurl3-gnutls)",
				 c.curl_version_info(CURLVERSION_NOW)->ssl_version
					 ? c.curl_version_info(CURLVERSION_NOW)->ssl_version
					 : "no TLS");
			state = -ELIBACC;
		}
		if (state == 0)
			state = bind_library(LIBSSL_SONAME, ssl_syms, ARRAY_SIZE(ssl_syms), &l, why,
					     sizeof(why));
		if (state == 0 && c.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
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

/*
 * What the bindings and messages need of a connection. libcurl shows the SSL * only while a
 * transfer has the connection (CURLINFO_TLS_SSL_PTR), so it is read from the header callback.
 */
struct tls_facts {
	bool valid;
	const char *version; /* static string owned by OpenSSL */
	unsigned char unique[TLS_UNIQUE_MAX];
	size_t unique_len; /* 0: no tls-unique (TLS 1.3) */
	unsigned char exporter[EXPORTER_LEN];
	bool has_exporter; /* TLS 1.3 only */
};

struct http {
	CURL *curl;
	struct http_opts o;
	STACK_OF(X509) *anchors;       /* trust_pem and extra_trust_pem */
	EVP_PKEY *client_key;	       /* the TLS client key pair, when given */
	STACK_OF(X509) *client_certs;  /* leaf first */
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
	struct tls_facts tls;
	/* Fatal TLS alerts of the request in flight, -1 when none: from the server, from us. */
	int alert_received, alert_sent;
	bool ctx_failed;	/* the trust or the key pair could not be set on a connection */
	bool trace;		/* -vv: libcurl's account, the server's chain */
	const void *traced_ssl; /* the connection whose chain was logged */
};

/* Where an SSL_CTX keeps its struct http, for on_tls_info. */
static int ctx_index = -1;

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
	log_trace("TLS: %s with %s", lssl.SSL_get_version(ssl),
		  lssl.SSL_CIPHER_get_name(lssl.SSL_get_current_cipher(ssl)));
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
	if (lc.curl_easy_getinfo(h->curl, CURLINFO_TLS_SSL_PTR, &tsi) != CURLE_OK || !tsi ||
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
		/* A new answer (after a 1xx, a 401 challenge, a proxy's CONNECT): forget the last.
		 */
		reset_answer(h);
		capture_tls(h);
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

	if (!h->tls.valid || lc.curl_easy_getinfo(h->curl, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
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

/* The client key pair onto a connection's context: leaf, key, then the rest of the chain. */
static int use_client_pair(struct http *h, SSL_CTX *ctx)
{
	int i;

	if (lssl.SSL_CTX_use_certificate(ctx, sk_X509_value(h->client_certs, 0)) != 1 ||
	    lssl.SSL_CTX_use_PrivateKey(ctx, h->client_key) != 1 ||
	    lssl.SSL_CTX_check_private_key(ctx) != 1)
		return -EPROTO;
	for (i = 1; i < sk_X509_num(h->client_certs); i++)
		if (lssl.SSL_CTX_ctrl(ctx, SSL_CTRL_CHAIN_CERT, 1,
				      sk_X509_value(h->client_certs, i)) != 1)
			return -EPROTO;
	return 0;
}

/*
 * Called by libcurl for each new connection's context: our anchors (libcurl was given no CA
 * file, directory or blob, so there are no others), the client key pair, and our eye on its
 * alerts. A failure fails the connection, never one without our trust.
 */
static CURLcode on_ssl_ctx(CURL *curl, void *ctx, void *userdata)
{
	struct http *h = userdata;
	X509_STORE *store = lssl.SSL_CTX_get_cert_store(ctx);
	int i;

	(void)curl;
	if (!store)
		goto fail;
	/* An intermediate among the anchors is enough (RFC 7030 explicit trust anchors). */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	for (i = 0; i < sk_X509_num(h->anchors); i++)
		if (X509_STORE_add_cert(store, sk_X509_value(h->anchors, i)) != 1)
			ERR_clear_error(); /* a certificate in both sets: already there */
	if (h->client_key && use_client_pair(h, ctx) < 0)
		goto fail;
	if (lssl.SSL_CTX_set_ex_data(ctx, ctx_index, h) == 1)
		lssl.SSL_CTX_set_info_callback(ctx, on_tls_info);
	/* A server gone without close_notify ends a read-until-close body, as with curl. */
	lssl.SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	return CURLE_OK;
fail:
	h->ctx_failed = true;
	ERR_clear_error();
	return CURLE_SSL_CERTPROBLEM;
}

/* Masks the user:password@ of URLs in s, in place: scheme, then ***@host. */
static void mask_userinfo(char *s)
{
	char *p = s, *end, *at, *slash;

	while ((p = strstr(p, "://"))) {
		p += 3;
		end = p + strcspn(p, " \t'\"<>");
		at = memchr(p, '@', (size_t)(end - p));
		slash = memchr(p, '/', (size_t)(end - p));
		if (at && (!slash || at < slash)) {
			memmove(p + 3, at, strlen(at) + 1);
			memcpy(p, "***", 3);
		}
	}
}

/* -vv: libcurl's own words on the connection (CURLINFO_TEXT: resolving, connecting, the TLS
 * handshake). Never headers or data: they carry Authorization and keys; URLs with credentials
 * (a proxy from the environment) are masked. */
static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *userdata)
{
	char *line;

	(void)c;
	(void)userdata;
	if (type != CURLINFO_TEXT)
		return 0;
	while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
		size--;
	if (!size)
		return 0;
	line = xstrndup(data, size);
	mask_userinfo(line);
	log_trace("curl: %s", line);
	wipe_str(line);
	return 0;
}

/* The certificates of a PEM buffer (other blocks skipped), in order; NULL on a bad block. */
static STACK_OF(X509) *read_certs(const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, len > INT_MAX ? 0 : (int)len);
	STACK_OF(X509) *certs = sk_X509_new_null();
	unsigned long e;
	X509 *c;

	while (bio && certs && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (!sk_X509_push(certs, c)) {
			X509_free(c);
			break;
		}
	}
	e = ERR_peek_last_error();
	/* The end of the buffer ends the loop with PEM_R_NO_START_LINE: not a failure. */
	if (!bio || !certs || (e && ERR_GET_REASON(e) != PEM_R_NO_START_LINE)) {
		sk_X509_pop_free(certs, X509_free);
		certs = NULL;
	}
	ERR_clear_error();
	BIO_free(bio);
	return certs;
}

/* The trust anchors, both sets, parsed once for every connection of the handle. */
static int load_trust(struct http *h)
{
	STACK_OF(X509) *extra = NULL;
	char buf[600];
	int i;

	h->anchors = read_certs(h->o.trust_pem, h->o.trust_len);
	if (h->anchors && h->o.extra_trust_pem && h->o.extra_trust_len) {
		extra = read_certs(h->o.extra_trust_pem, h->o.extra_trust_len);
		for (i = 0; extra && i < sk_X509_num(extra); i++)
			if (sk_X509_push(h->anchors, sk_X509_value(extra, i)))
				X509_up_ref(sk_X509_value(extra, i));
		if (!extra) {
			sk_X509_pop_free(h->anchors, X509_free);
			h->anchors = NULL;
		}
		sk_X509_pop_free(extra, X509_free);
	}
	if (!h->anchors || sk_X509_num(h->anchors) == 0) {
		log_err("TLS: cannot read the %s", h->o.trust_name);
		return -EPROTO;
	}
	for (i = 0; h->trace && i < sk_X509_num(h->anchors); i++)
		log_trace("TLS: trust anchor %d: %s", i,
			  cert_line(sk_X509_value(h->anchors, i), buf, sizeof(buf)));
	return 0;
}

/* Key block and certificate blocks of one PEM buffer: the first certificate is the leaf. */
static int load_client(struct http *h)
{
	BIO *bio = BIO_new_mem_buf(h->o.client_pem,
				   h->o.client_len > INT_MAX ? 0 : (int)h->o.client_len);
	const char *why = NULL;

	h->client_key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	h->client_certs = read_certs(h->o.client_pem, h->o.client_len);
	if (!h->client_key)
		why = "no private key";
	else if (!h->client_certs || sk_X509_num(h->client_certs) < 1)
		why = "no certificate";
	else if (X509_check_private_key(sk_X509_value(h->client_certs, 0), h->client_key) != 1)
		why = "the key does not match the certificate";
	if (why)
		log_err("TLS client key pair: %s", why);
	ERR_clear_error();
	BIO_free(bio);
	return why ? -EPROTO : 0;
}

static bool setopt_failed(struct http *h, CURLoption opt, ...)
{
	va_list ap;
	CURLcode c;

	/* Every option is a long, a curl_off_t or a pointer (functions too, as libcurl reads
	 * them): pass it on as it came. */
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		c = lc.curl_easy_setopt(h->curl, opt, va_arg(ap, long));
	else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB)
		c = lc.curl_easy_setopt(h->curl, opt, va_arg(ap, curl_off_t));
	else
		c = lc.curl_easy_setopt(h->curl, opt, va_arg(ap, void *));
	va_end(ap);
	if (c != CURLE_OK)
		log_debug("libcurl: option %d: %s", (int)opt, lc.curl_easy_strerror(c));
	return c != CURLE_OK;
}

/* NULL: the environment's (libcurl reads https_proxy, all_proxy, no_proxy); "": never. */
static bool setup_proxy(struct http *h)
{
	bool bad = false;

	if (!h->o.proxy)
		return false;
	bad |= setopt_failed(h, CURLOPT_PROXY, h->o.proxy);
	/* "*": no host goes through any proxy, the environment's included; "": the configured
	 * proxy takes every request, whatever the environment's no_proxy says. */
	bad |= setopt_failed(h, CURLOPT_NOPROXY, *h->o.proxy ? "" : "*");
	if (*h->o.proxy)
		bad |= setopt_failed(h, CURLOPT_PROXYAUTH, (long)CURLAUTH_ANY);
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
	/* Only our anchors, set by on_ssl_ctx: no system CA file or directory. */
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
	r = dlopen_curl();
	if (r < 0)
		goto out;
	h = xzalloc(sizeof(*h));
	h->o = *o;
	h->alert_received = h->alert_sent = -1;
	h->trace = log_enabled(LOG_LEVEL_TRACE);
	if (!h->o.trust_name)
		h->o.trust_name = "trust anchors";
	r = load_trust(h);
	if (r == 0 && o->client_pem && o->client_len)
		r = load_client(h);
	if (r < 0)
		goto out;
	if (ctx_index < 0)
		ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	h->curl = lc.curl_easy_init();
	if (!h->curl || ctx_index < 0) {
		r = -ENOMEM;
		goto out;
	}
	/* RFC 3986: an IPv6 literal goes in brackets. */
	h->origin = xasprintf(strchr(o->host, ':') ? "https://[%s]:%u" : "https://%s:%u", o->host,
			      o->port);
	if (setup_transport(h) || setup_tls(h) || setup_auth(h)) {
		log_err("libcurl %s lacks a needed option",
			lc.curl_version_info(CURLVERSION_NOW)->version);
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
	if (!h)
		return;
	if (h->curl)
		lc.curl_easy_cleanup(h->curl);
	reset_answer(h);
	wipe(&h->tls, sizeof(h->tls));
	sk_X509_pop_free(h->anchors, X509_free);
	sk_X509_pop_free(h->client_certs, X509_free);
	EVP_PKEY_free(h->client_key);
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
	struct curl_slist *l = lc.curl_slist_append(list, s);

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

static bool alert_is_version(int desc)
{
	return desc == SSL_AD_PROTOCOL_VERSION || desc == SSL_AD_HANDSHAKE_FAILURE ||
	       desc == SSL_AD_INSUFFICIENT_SECURITY;
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
	if (alert_is_version(desc))
		return "no TLS version or parameters in common";
	if (desc == SSL_AD_CERTIFICATE_REQUIRED)
		return "the server requires a TLS client certificate";
	return h->client_key ? "the server refused our TLS client certificate"
			     : "the server refused the handshake";
}

/* The TLS failures trying again does not mend, in h->err: -EPERM, -ECONNABORTED, or 0. */
static int tls_refusal(struct http *h, CURLcode c)
{
	const char *why = h->o.version_why;
	long verify = X509_V_OK;
	char detail[256];
	int desc = -1;

	if (c == CURLE_PEER_FAILED_VERIFICATION) {
		lc.curl_easy_getinfo(h->curl, CURLINFO_SSL_VERIFYRESULT, &verify);
		if (verify != X509_V_OK && verify != X509_V_ERR_UNSPECIFIED)
			set_error(
				h,
				"TLS: the server's certificate does not verify against the %.60s: "
				"%.200s",
				h->o.trust_name, X509_verify_cert_error_string(verify));
		else
			set_error(h,
				  "TLS: the server's certificate is refused: %.200s (trust: the "
				  "%.60s)",
				  h->errbuf, h->o.trust_name);
		return -EPERM;
	}
	if (alert_is_final(h->alert_received))
		desc = h->alert_received;
	else if (h->alert_sent == SSL_AD_PROTOCOL_VERSION ||
		 h->alert_sent == SSL_AD_HANDSHAKE_FAILURE)
		desc = h->alert_sent;
	if (desc < 0)
		return 0;
	if (alert_is_version(desc))
		snprintf(detail, sizeof(detail), "; this client offers %.40s%s%.100s%s",
			 versions_offered(h), why ? " (" : "", why ? why : "", why ? ")" : "");
	else
		detail[0] = '\0';
	set_error(h, "TLS handshake %s (alert: %.60s): %.120s%s; server authenticated by the %.60s",
		  desc == h->alert_received ? "refused by the server" : "abandoned by this client",
		  lssl.SSL_alert_desc_string_long(desc), alert_meaning(h, desc), detail,
		  h->o.trust_name);
	return -ECONNABORTED;
}

/* A proxy's refusal of the tunnel: its status, for good when it wants credentials. */
static int proxy_refusal(struct http *h)
{
	long code = 0;

	if (lc.curl_easy_getinfo(h->curl, CURLINFO_HTTP_CONNECTCODE, &code) != CURLE_OK ||
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

	if (r == 0)
		r = proxy_refusal(h);
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
			set_error(h, "%s", h->errbuf[0] ? h->errbuf : lc.curl_easy_strerror(c));
	}
	/* libcurl's words may name a proxy URL of the environment: never its credentials. */
	mask_userinfo(h->err);
	if (r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ETIMEDOUT || r == -ECONNRESET)
		log_warn("%s: %s", url, h->err);
	else
		log_err("%s: %s", url, h->err);
	return r;
}

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
	CURLcode c;
	int r;

	reset_answer(h);
	wipe(&h->tls, sizeof(h->tls));
	h->too_big = h->ctx_failed = false;
	h->errbuf[0] = h->err[0] = '\0';
	h->alert_received = h->alert_sent = -1;
	r = prepare(h, url, headers, body, body_len);
	if (r < 0)
		goto out;
	c = lc.curl_easy_perform(h->curl);
	lc.curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &conns);
	h->connects += conns > 0 ? (unsigned int)conns : 0;
	if (c != CURLE_OK) {
		r = transfer_error(h, c, url, now_ms() - start);
		goto out;
	}
	lc.curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
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
	/* The list is freed here: leave libcurl no pointer to it, nor to the body. */
	setopt_failed(h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	lc.curl_slist_free_all(headers);
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

	return h->client_key && alert_is_final(desc) && !alert_is_version(desc);
}

bool http_version_refused(struct http *h)
{
	return alert_is_version(h->alert_received) || alert_is_version(h->alert_sent);
}

int http_tls_alert(struct http *h)
{
	return h->alert_received;
}

const char *http_last_error(struct http *h)
{
	return h->err;
}
