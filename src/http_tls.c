/* SPDX-License-Identifier: MIT */
/*
 * The TLS side of http.c. libssl is bound at run time, on the first http_new: a pass with
 * nothing to do, status and load never map it. Every SSL_* and TLS_* function used goes through
 * the table below (libssl is not linked: a direct call would not link); libcrypto is linked.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http.h"
#include "http_net.h"
#include "http_tls.h"
#include "log.h"
#include "util.h"

#define TLS_UNIQUE_MAX 64 /* a Finished message's verify_data: 12 bytes in practice */
#define EXPORTER_LEN 32	  /* RFC 9266 section 2 */
#define EXPORTER_LABEL "EXPORTER-Channel-Binding"
#define LIBSSL_SONAME "libssl.so.3"

#define SSL_FUNCTIONS(X)                                                                           \
	X(TLS_client_method)                                                                       \
	X(SSL_CTX_new)                                                                             \
	X(SSL_CTX_free)                                                                            \
	X(SSL_CTX_ctrl)                                                                            \
	X(SSL_CTX_set_options)                                                                     \
	X(SSL_CTX_set_verify)                                                                      \
	X(SSL_CTX_get_cert_store)                                                                  \
	X(SSL_CTX_use_certificate)                                                                 \
	X(SSL_CTX_use_PrivateKey)                                                                  \
	X(SSL_CTX_check_private_key)                                                               \
	X(SSL_new)                                                                                 \
	X(SSL_free)                                                                                \
	X(SSL_ctrl)                                                                                \
	X(SSL_set_bio)                                                                             \
	X(SSL_set_ex_data)                                                                         \
	X(SSL_get_ex_data)                                                                         \
	X(SSL_set_info_callback)                                                                   \
	X(SSL_get0_param)                                                                          \
	X(SSL_set_session)                                                                         \
	X(SSL_get1_session)                                                                        \
	X(SSL_SESSION_free)                                                                        \
	X(SSL_SESSION_is_resumable)                                                                \
	X(SSL_connect)                                                                             \
	X(SSL_read)                                                                                \
	X(SSL_write)                                                                               \
	X(SSL_shutdown)                                                                            \
	X(SSL_get_error)                                                                           \
	X(SSL_alert_desc_string_long)                                                              \
	X(SSL_export_keying_material)                                                              \
	X(SSL_get0_verified_chain)                                                                 \
	X(SSL_get_current_cipher)                                                                  \
	X(SSL_CIPHER_get_name)                                                                     \
	X(SSL_get_finished)                                                                        \
	X(SSL_get_peer_cert_chain)                                                                 \
	X(SSL_get_peer_finished)                                                                   \
	X(SSL_get_verify_result)                                                                   \
	X(SSL_get_version)                                                                         \
	X(SSL_session_reused)                                                                      \
	X(SSL_version)

/* The libssl functions used here, resolved by http_tls_load(). */
static struct libssl {
#define FIELD(name) typeof(name) *name;
	SSL_FUNCTIONS(FIELD)
#undef FIELD
} lssl;

/* What the bindings and messages need of a connection, taken once its handshake is done. */
struct tls_facts {
	bool valid;
	const char *version; /* static string owned by OpenSSL */
	unsigned char unique[TLS_UNIQUE_MAX];
	size_t unique_len; /* 0: no tls-unique (TLS 1.3) */
	unsigned char exporter[EXPORTER_LEN];
	bool has_exporter; /* TLS 1.3 only */
};

struct http_tls {
	const struct http_opts *o;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	bool at_eof;	      /* the server ended the stream */
	SSL_SESSION *session; /* of the last connection, to resume */
	struct tls_facts facts;
	/* Fatal TLS alerts of the request in flight, -1 when none: from the server, from us. */
	int alert_received, alert_sent;
};

int http_tls_load(void)
{
	static const struct {
		const char *name;
		size_t offset;
	} syms[] = {
#define SYM(name) {#name, offsetof(struct libssl, name)},
		SSL_FUNCTIONS(SYM)
#undef SYM
	};
	static int state;     /* 0 not tried, 1 loaded, < 0 failed */
	static char why[512]; /* what failed */
	struct libssl l = {0};
	const char *e;
	void *dl = NULL, *fn;
	size_t i;

	if (state == 0) {
		dl = dlopen(LIBSSL_SONAME, RTLD_NOW | RTLD_LOCAL);
		state = dl ? 1 : -ELIBACC;
		if (!dl) {
			e = dlerror();
			snprintf(why, sizeof(why), LIBSSL_SONAME ": cannot load: %s",
				 e ? e : "dlopen failed");
		}
		for (i = 0; dl && i < ARRAY_SIZE(syms); i++) {
			(void)dlerror();
			fn = dlsym(dl, syms[i].name);
			if (!fn) {
				e = dlerror();
				snprintf(why, sizeof(why), LIBSSL_SONAME ": cannot load: %s",
					 e ? e : syms[i].name);
				state = -ELIBACC;
				break;
			}
			/* A data pointer into a function pointer, the way POSIX dlsym intends. */
			memcpy((char *)&l + syms[i].offset, &fn, sizeof(fn));
		}
		if (state == 1)
			lssl = l;
		else if (dl)
			dlclose(dl);
	}
	if (state < 0)
		log_err("%s", why);
	return state < 0 ? state : 0;
}

/* ---- a socket BIO that never raises SIGPIPE (send with MSG_NOSIGNAL) ---- */

static int bio_write(BIO *b, const char *buf, int n)
{
	int fd = *(int *)BIO_get_data(b);
	ssize_t w;

	BIO_clear_retry_flags(b);
	w = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)w;
}

static int bio_read(BIO *b, char *buf, int n)
{
	int fd = *(int *)BIO_get_data(b);
	ssize_t r;

	BIO_clear_retry_flags(b);
	r = recv(fd, buf, (size_t)n, 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/* The method, made once a process (never freed: BIOs of later handles use it). */
static BIO *socket_bio(int *fd)
{
	static BIO_METHOD *m;
	BIO *b;

	if (!m) {
		m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "est-enroll socket");
		if (!m || BIO_meth_set_write(m, bio_write) != 1 ||
		    BIO_meth_set_read(m, bio_read) != 1 || BIO_meth_set_ctrl(m, bio_ctrl) != 1) {
			BIO_meth_free(m);
			m = NULL;
			return NULL;
		}
	}
	b = BIO_new(m);
	if (b) {
		BIO_set_data(b, fd);
		BIO_set_init(b, 1);
	}
	return b;
}

/* ---- the context ---- */

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

/* Only the given anchors go into the store: no system CA file or directory. */
static int load_trust(struct http_tls *t)
{
	X509_STORE *store = lssl.SSL_CTX_get_cert_store(t->ctx);

	/* An intermediate among the anchors is enough (RFC 7030 explicit trust anchors), as in
	 * crypto_verify_chain and as libcurl had it. */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	STACK_OF(X509) *certs = read_certs(t->o->trust_pem, t->o->trust_len);
	bool trace = log_enabled(LOG_LEVEL_TRACE);
	char buf[600];
	int i, r = 0;

	for (i = 0; certs && i < sk_X509_num(certs); i++) {
		if (trace)
			log_trace("TLS: trust anchor %d: %s", i,
				  cert_line(sk_X509_value(certs, i), buf, sizeof(buf)));
		/* A certificate in both sets is already there: harmless. */
		if (X509_STORE_add_cert(store, sk_X509_value(certs, i)) != 1)
			ERR_clear_error();
	}
	if (!certs)
		r = -EPROTO;
	if (r < 0)
		log_err("TLS: cannot read the %s", t->o->trust_name);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* Key block and certificate blocks of one PEM buffer: the first certificate is the leaf. */
static int load_client(struct http_tls *t)
{
	BIO *bio = BIO_new_mem_buf(t->o->client_pem,
				   t->o->client_len > INT_MAX ? 0 : (int)t->o->client_len);
	STACK_OF(X509) *certs = read_certs(t->o->client_pem, t->o->client_len);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	const char *why = NULL;
	int i;

	if (!key)
		why = "no private key";
	else if (!certs || sk_X509_num(certs) < 1)
		why = "no certificate";
	else if (lssl.SSL_CTX_use_certificate(t->ctx, sk_X509_value(certs, 0)) != 1 ||
		 lssl.SSL_CTX_use_PrivateKey(t->ctx, key) != 1 ||
		 lssl.SSL_CTX_check_private_key(t->ctx) != 1)
		why = "the key does not match the certificate";
	for (i = 1; !why && i < sk_X509_num(certs); i++)
		if (lssl.SSL_CTX_ctrl(t->ctx, SSL_CTRL_CHAIN_CERT, 1, sk_X509_value(certs, i)) != 1)
			why = "cannot add the chain";
	if (why)
		log_err("TLS client key pair: %s (%s)", why,
			ERR_reason_error_string(ERR_peek_last_error())
				? ERR_reason_error_string(ERR_peek_last_error())
				: "unusable");
	ERR_clear_error();
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	return why ? -EPROTO : 0;
}

int http_tls_new(const struct http_opts *o, struct http_tls **out_t)
{
	struct http_tls *t = xzalloc(sizeof(*t));
	long min = o->tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION;
	long max = o->tls12_only ? TLS1_2_VERSION : 0;
	int r = -EPROTO;

	t->o = o;
	t->fd = -1;
	t->alert_received = t->alert_sent = -1;
	t->ctx = lssl.SSL_CTX_new(lssl.TLS_client_method());
	if (!t->ctx || lssl.SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, min, NULL) != 1 ||
	    lssl.SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, max, NULL) != 1) {
		log_err("TLS: cannot set up a context: %s",
			ERR_error_string(ERR_get_error(), NULL));
		goto out;
	}
	/* A server gone without close_notify ends a read-until-close body, as with curl. */
	lssl.SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	lssl.SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	r = load_trust(t);
	if (r == 0 && o->client_pem && o->client_len)
		r = load_client(t);
out:
	ERR_clear_error();
	if (r < 0)
		http_tls_free(t);
	else
		*out_t = t;
	return r;
}

void http_tls_free(struct http_tls *t)
{
	if (!t)
		return;
	http_tls_close(t);
	if (t->session)
		lssl.SSL_SESSION_free(t->session);
	if (t->ctx)
		lssl.SSL_CTX_free(t->ctx);
	free(t);
}

/* ---- one connection ---- */

static void on_tls_info(const SSL *ssl, int where, int ret)
{
	struct http_tls *t;

	if (!(where & SSL_CB_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
		return;
	t = lssl.SSL_get_ex_data(ssl, 0);
	if (!t)
		return;
	if (where & SSL_CB_READ)
		t->alert_received = ret & 0xff;
	else
		t->alert_sent = ret & 0xff;
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

static const char *versions_offered(const struct http_tls *t)
{
	if (t->o->tls12_only)
		return "TLS 1.2 only";
	return t->o->tls13_only ? "TLS 1.3 only" : "TLS 1.2 and 1.3";
}

/* What an alert means here, in words. */
static const char *alert_meaning(const struct http_tls *t, int desc)
{
	if (alert_is_version(desc))
		return "no TLS version or parameters in common";
	if (desc == SSL_AD_CERTIFICATE_REQUIRED)
		return "the server requires a TLS client certificate";
	return t->o->client_pem ? "the server refused our TLS client certificate"
				: "the server refused the handshake";
}

/* A final alert of this connection, in err: -ECONNABORTED, or 0 when there was none. */
static int tls_refusal(struct http_tls *t, char *err, size_t errlen)
{
	const char *why = t->o->version_why;
	char detail[256];
	int desc = -1;

	if (alert_is_final(t->alert_received))
		desc = t->alert_received;
	else if (t->alert_sent == SSL_AD_PROTOCOL_VERSION ||
		 t->alert_sent == SSL_AD_HANDSHAKE_FAILURE)
		desc = t->alert_sent;
	if (desc < 0)
		return 0;
	if (alert_is_version(desc))
		snprintf(detail, sizeof(detail), "; this client offers %.40s%s%.100s%s",
			 versions_offered(t), why ? " (" : "", why ? why : "", why ? ")" : "");
	else
		detail[0] = '\0';
	snprintf(err, errlen,
		 "TLS handshake %s (alert: %.60s): %.120s%s; server authenticated by the %.60s",
		 desc == t->alert_received ? "refused by the server" : "abandoned by this client",
		 lssl.SSL_alert_desc_string_long(desc), alert_meaning(t, desc), detail,
		 t->o->trust_name);
	return -ECONNABORTED;
}

/* The server's certificate did not verify, in err: -EPERM, or 0 when it did. */
static int verify_refusal(struct http_tls *t, char *err, size_t errlen)
{
	long v = lssl.SSL_get_verify_result(t->ssl);

	if (v == X509_V_OK)
		return 0;
	snprintf(err, errlen,
		 "TLS: the server's certificate does not verify against the %.60s: %.200s",
		 t->o->trust_name, X509_verify_cert_error_string(v));
	return -EPERM;
}

/*
 * After a failed SSL_* call: 1 to call it again (it waited for the socket), or the error with
 * its reason in err. what: "handshake", "sending", "receiving".
 */
static int io_failure(struct http_tls *t, int ret, int64_t deadline, const char *what, char *err,
		      size_t errlen)
{
	int e = lssl.SSL_get_error(t->ssl, ret), r, saved = errno;
	unsigned long code = ERR_peek_last_error();

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		r = http_net_wait(t->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (r == 0)
			return 1;
		snprintf(err, errlen, "TLS %s: %s", what,
			 r == -ETIMEDOUT ? "timed out" : strerror(-r));
		return r == -ETIMEDOUT ? r : -ECONNRESET;
	}
	r = tls_refusal(t, err, errlen);
	if (r == 0 && !strcmp(what, "handshake"))
		r = verify_refusal(t, err, errlen);
	if (r == 0) {
		/* Cut short without a final alert: may work next time. */
		if (e == SSL_ERROR_SSL && code)
			snprintf(err, errlen, "TLS %s failed: %s", what,
				 ERR_reason_error_string(code) ? ERR_reason_error_string(code)
							       : "error");
		else if (e == SSL_ERROR_SYSCALL && ret < 0)
			snprintf(err, errlen, "TLS %s failed: %s", what, strerror(saved));
		else
			snprintf(err, errlen, "TLS %s failed: the server closed the connection",
				 what);
		r = -ECONNRESET;
	}
	ERR_clear_error();
	return r;
}

/* -vv: the chain the server sent, and the trust anchor it was verified up to. Certificates
 * only: nothing secret. */
static void trace_chain(SSL *ssl)
{
	STACK_OF(X509) *sent = lssl.SSL_get_peer_cert_chain(ssl);
	STACK_OF(X509) *verified = lssl.SSL_get0_verified_chain(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char buf[600], *hex;
	X509 *anchor;
	int i;

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

static void capture_facts(struct http_tls *t)
{
	struct tls_facts *f = &t->facts;
	SSL *ssl = t->ssl;
	size_t n;

	wipe(f, sizeof(*f));
	if (log_enabled(LOG_LEVEL_TRACE))
		trace_chain(ssl);
	f->version = lssl.SSL_get_version(ssl);
	if (lssl.SSL_version(ssl) == TLS1_3_VERSION) {
		f->has_exporter = lssl.SSL_export_keying_material(
					  ssl, f->exporter, EXPORTER_LEN, EXPORTER_LABEL,
					  strlen(EXPORTER_LABEL), NULL, 0, 0) == 1;
		if (!f->has_exporter) {
			log_debug("tls-exporter: %s", ERR_error_string(ERR_get_error(), NULL));
			ERR_clear_error();
		}
	} else {
		/* RFC 5929 3.1: the first Finished of the handshake, the server's on resumption. */
		if (lssl.SSL_session_reused(ssl))
			n = lssl.SSL_get_peer_finished(ssl, f->unique, sizeof(f->unique));
		else
			n = lssl.SSL_get_finished(ssl, f->unique, sizeof(f->unique));
		f->unique_len = n <= sizeof(f->unique) ? n : 0;
	}
	f->valid = true;
}

/* Names the server for the certificate check, and SNI for names (not for IP literals). */
static int set_peer(struct http_tls *t)
{
	X509_VERIFY_PARAM *param = lssl.SSL_get0_param(t->ssl);
	const char *host = t->o->host;
	unsigned char addr[16];

	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : -EPROTO;
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
		return -EPROTO;
	return lssl.SSL_ctrl(t->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
			     (void *)host) == 1
		       ? 0
		       : -EPROTO;
}

int http_tls_connect(struct http_tls *t, int fd, int64_t deadline, char *err, size_t errlen)
{
	BIO *bio;
	int r = -EPROTO, n;

	http_tls_close(t);
	t->fd = fd;
	t->ssl = lssl.SSL_new(t->ctx);
	bio = t->ssl ? socket_bio(&t->fd) : NULL;
	if (!bio || lssl.SSL_set_ex_data(t->ssl, 0, t) != 1 || set_peer(t) < 0) {
		snprintf(err, errlen, "TLS: cannot set up the connection: %s",
			 ERR_error_string(ERR_get_error(), NULL));
		BIO_free(bio);
		goto out;
	}
	lssl.SSL_set_bio(t->ssl, bio, bio);
	lssl.SSL_set_info_callback(t->ssl, on_tls_info);
	if (t->session)
		lssl.SSL_set_session(t->ssl, t->session);
	do
		n = lssl.SSL_connect(t->ssl);
	while (n != 1 && (r = io_failure(t, n, deadline, "handshake", err, errlen)) == 1);
	if (n == 1) {
		r = 0;
		capture_facts(t);
		log_debug("TLS: %s handshake done%s", t->facts.version,
			  lssl.SSL_session_reused(t->ssl) ? " (session resumed)" : "");
	}
out:
	ERR_clear_error();
	if (r < 0) {
		/* Not a session to resume: this handshake failed. */
		if (t->ssl)
			lssl.SSL_free(t->ssl);
		t->ssl = NULL;
		close(t->fd);
		t->fd = -1;
	}
	return r;
}

int http_tls_write(struct http_tls *t, const void *buf, size_t len, int64_t deadline, char *err,
		   size_t errlen)
{
	int n, r;

	if (len > INT_MAX) {
		snprintf(err, errlen, "request too large");
		return -EPROTO;
	}
	/* One SSL_write (repeated only with the same arguments while the socket is full). */
	for (;;) {
		n = lssl.SSL_write(t->ssl, buf, (int)len);
		if (n > 0)
			return 0;
		r = io_failure(t, n, deadline, "sending", err, errlen);
		if (r != 1)
			return r;
	}
}

int http_tls_read(struct http_tls *t, void *buf, size_t len, int64_t deadline, size_t *out_n,
		  char *err, size_t errlen)
{
	int n, r;

	if (t->at_eof) {
		*out_n = 0;
		return 0;
	}
	for (;;) {
		n = lssl.SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
		if (n > 0) {
			*out_n = (size_t)n;
			return 0;
		}
		if (lssl.SSL_get_error(t->ssl, n) == SSL_ERROR_ZERO_RETURN) {
			ERR_clear_error();
			t->at_eof = true;
			*out_n = 0;
			return 0;
		}
		r = io_failure(t, n, deadline, "receiving", err, errlen);
		if (r != 1)
			return r;
	}
}

void http_tls_close(struct http_tls *t)
{
	SSL_SESSION *s;

	if (t->ssl) {
		s = lssl.SSL_get1_session(t->ssl);
		if (s && lssl.SSL_SESSION_is_resumable(s)) {
			if (t->session)
				lssl.SSL_SESSION_free(t->session);
			t->session = s;
		} else if (s) {
			lssl.SSL_SESSION_free(s);
		}
		/* Best effort close_notify; the socket is non-blocking, nothing waits. */
		if (!t->at_eof)
			(void)lssl.SSL_shutdown(t->ssl);
		lssl.SSL_free(t->ssl);
		t->ssl = NULL;
		ERR_clear_error();
	}
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->at_eof = false;
	wipe(&t->facts, sizeof(t->facts));
}

bool http_tls_open(struct http_tls *t)
{
	struct pollfd p = {.fd = t->fd, .events = POLLIN};
	unsigned char byte;
	int n;

	if (!t->ssl || !t->facts.valid)
		return false;
	if (t->at_eof) {
		http_tls_close(t);
		return false;
	}
	if (poll(&p, 1, 0) == 0)
		return true;
	/*
	 * An idle connection with something to read: a TLS 1.3 session ticket (still open), or a
	 * close_notify, EOF, an alert (gone: closed now so the next request reconnects).
	 */
	n = lssl.SSL_read(t->ssl, &byte, 1);
	if (n <= 0 && lssl.SSL_get_error(t->ssl, n) == SSL_ERROR_WANT_READ) {
		ERR_clear_error();
		return true;
	}
	ERR_clear_error();
	if (n <= 0)
		t->at_eof = true;
	http_tls_close(t);
	return false;
}

void http_tls_forget_alerts(struct http_tls *t)
{
	t->alert_received = t->alert_sent = -1;
}

int http_tls_last_alert(const struct http_tls *t)
{
	return t->alert_received;
}

bool http_tls_cert_refused(const struct http_tls *t)
{
	int desc = t->alert_received;

	return t->o->client_pem && alert_is_final(desc) && !alert_is_version(desc);
}

int http_tls_binding(const struct http_tls *t, bool exporter, unsigned char *buf, size_t buflen,
		     size_t *out_len)
{
	const unsigned char *src = exporter ? t->facts.exporter : t->facts.unique;
	size_t n = exporter ? (t->facts.has_exporter ? EXPORTER_LEN : 0) : t->facts.unique_len;

	if (!t->facts.valid)
		return -ENOTCONN;
	if (!n)
		return -EPROTO;
	if (n > buflen)
		return -ENOBUFS;
	memcpy(buf, src, n);
	*out_len = n;
	return 0;
}

const char *http_tls_conn_version(const struct http_tls *t)
{
	return t->facts.valid ? t->facts.version : NULL;
}
