/* SPDX-License-Identifier: MIT */
/*
 * The TLS side of http.c: what is set on and read from libcurl's OpenSSL connections. libssl
 * is not linked (a pass with nothing to do never maps it): it is bound with libcurl, which maps
 * it anyway, and every SSL_* function goes through the table below; libcrypto is linked.
 *
 * libcurl calls our context hook for every TLS connection of the handle: the EST server's, and
 * an https:// proxy's before it. They are told apart when the peer's certificate is checked:
 * one that names the EST server is verified against our trust anchors alone (never the system
 * store libcurl loads for a proxy) and is the only peer our client key pair is shown to, whose
 * alerts we read, and whose channel bindings go into a CSR. Any other peer's certificate is left
 * to libcurl's store and its host name check, which refuses an EST server whose certificate
 * names another host.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http.h"
#include "dl.h"
#include "http_ssl.h"
#include "log.h"
#include "util.h"

#define TLS_UNIQUE_MAX 64 /* a Finished message's verify_data: 12 bytes in practice */
#define EXPORTER_LEN 32	  /* RFC 9266 section 2 */
#define EXPORTER_LABEL "EXPORTER-Channel-Binding"

#define SSL_FUNCTIONS(X)                                                                           \
	X(SSL_CTX_set_cert_verify_callback)                                                        \
	X(SSL_CTX_set_cert_cb)                                                                     \
	X(SSL_CTX_set_info_callback)                                                               \
	X(SSL_CTX_set_options)                                                                     \
	X(SSL_CTX_set_ex_data)                                                                     \
	X(SSL_CTX_get_ex_data)                                                                     \
	X(SSL_get_SSL_CTX)                                                                         \
	X(SSL_get_ex_data_X509_STORE_CTX_idx)                                                      \
	X(SSL_set_ex_data)                                                                         \
	X(SSL_get_ex_data)                                                                         \
	X(SSL_use_certificate)                                                                     \
	X(SSL_use_PrivateKey)                                                                      \
	X(SSL_ctrl)                                                                                \
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

static struct libssl {
#define FIELD(name) typeof(name) *name;
	SSL_FUNCTIONS(FIELD)
#undef FIELD
} lssl;

/* What a TLS connection is to us, in its SSL_CTX's ex_data (libcurl makes one a connection). */
enum peer {
	PEER_EST = 1, /* the EST server: our anchors, our key pair */
	PEER_PROXY,   /* an https:// proxy: libcurl's checks, nothing of ours */
};

struct http_ssl {
	const struct http_opts *o;
	STACK_OF(X509) *anchors;      /* trust_pem and extra_trust_pem */
	EVP_PKEY *client_key;	      /* the TLS client key pair, when given */
	STACK_OF(X509) *client_certs; /* leaf first */
	bool trace;		      /* -vv: the server's chain */
	const void *traced;	      /* the connection whose chain was logged */
	/* Fatal alerts of the request in flight on an EST server connection, -1 when none. */
	int alert_received, alert_sent;
	long verify_error; /* why the EST server's certificate was refused, X509_V_OK if not */
	/* What the bindings and messages need of the last EST server connection. */
	bool valid;
	const char *version; /* static string owned by OpenSSL */
	unsigned char unique[TLS_UNIQUE_MAX];
	size_t unique_len; /* 0: no tls-unique (TLS 1.3) */
	unsigned char exporter[EXPORTER_LEN];
	bool has_exporter; /* TLS 1.3 only */
};

static int role_index = -1;  /* SSL_CTX ex_data: enum peer, as a pointer-sized integer */
static int owner_index = -1; /* SSL_CTX ex_data: its struct http_ssl */

int http_ssl_bind(char *why, size_t why_len)
{
#define SYM(name) {#name, offsetof(struct libssl, name)},
	static const struct dl_sym syms[] = {SSL_FUNCTIONS(SYM)};
#undef SYM
	struct libssl l = {0};
	int r;

	r = dl_bind(LIBSSL_SONAME, syms, ARRAY_SIZE(syms), &l, why, why_len);
	if (r < 0)
		return r;
	role_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	owner_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (role_index < 0 || owner_index < 0) {
		snprintf(why, why_len, LIBSSL_SONAME ": cannot load: no ex_data index");
		return -ELIBACC;
	}
	lssl = l;
	return 0;
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

static int load_trust(struct http_ssl *s)
{
	STACK_OF(X509) *extra = NULL;
	char buf[600];
	int i;

	s->anchors = read_certs(s->o->trust_pem, s->o->trust_len);
	if (s->anchors && s->o->extra_trust_pem && s->o->extra_trust_len) {
		extra = read_certs(s->o->extra_trust_pem, s->o->extra_trust_len);
		for (i = 0; extra && i < sk_X509_num(extra); i++)
			if (sk_X509_push(s->anchors, sk_X509_value(extra, i)))
				X509_up_ref(sk_X509_value(extra, i));
		if (!extra) {
			sk_X509_pop_free(s->anchors, X509_free);
			s->anchors = NULL;
		}
		sk_X509_pop_free(extra, X509_free);
	}
	if (!s->anchors || sk_X509_num(s->anchors) == 0) {
		log_err("TLS: cannot read the %s", s->o->trust_name);
		return -EPROTO;
	}
	for (i = 0; s->trace && i < sk_X509_num(s->anchors); i++)
		log_trace("TLS: trust anchor %d: %s", i,
			  cert_line(sk_X509_value(s->anchors, i), buf, sizeof(buf)));
	return 0;
}

/* Key block and certificate blocks of one PEM buffer: the first certificate is the leaf. */
static int load_client(struct http_ssl *s)
{
	BIO *bio = BIO_new_mem_buf(s->o->client_pem,
				   s->o->client_len > INT_MAX ? 0 : (int)s->o->client_len);
	const char *why = NULL;

	if (s->o->client_key && EVP_PKEY_up_ref(s->o->client_key) == 1)
		s->client_key = s->o->client_key;
	else if (!s->o->client_key && bio)
		s->client_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	s->client_certs = read_certs(s->o->client_pem, s->o->client_len);
	if (!s->client_key)
		why = "no private key";
	else if (!s->client_certs || sk_X509_num(s->client_certs) < 1)
		why = "no certificate";
	else if (X509_check_private_key(sk_X509_value(s->client_certs, 0), s->client_key) != 1)
		why = "the key does not match the certificate";
	if (why)
		log_err("TLS client key pair: %s", why);
	ERR_clear_error();
	BIO_free(bio);
	return why ? -EPROTO : 0;
}

int http_ssl_new(const struct http_opts *o, struct http_ssl **out_s)
{
	struct http_ssl *s = xzalloc(sizeof(*s));
	int r;

	s->o = o;
	s->trace = log_enabled(LOG_LEVEL_TRACE);
	s->alert_received = s->alert_sent = -1;
	r = load_trust(s);
	if (r == 0 && o->client_pem && o->client_len)
		r = load_client(s);
	if (r < 0)
		http_ssl_free(s);
	else
		*out_s = s;
	return r;
}

void http_ssl_free(struct http_ssl *s)
{
	if (!s)
		return;
	sk_X509_pop_free(s->anchors, X509_free);
	sk_X509_pop_free(s->client_certs, X509_free);
	EVP_PKEY_free(s->client_key);
	wipe(s, sizeof(*s));
	free(s);
}

static enum peer peer_of(const SSL *ssl)
{
	return (enum peer)(uintptr_t)lssl.SSL_CTX_get_ex_data(lssl.SSL_get_SSL_CTX(ssl),
							      role_index);
}

/* The peer's chain: the EST server's against our anchors only, a proxy's as libcurl set up. */
static int verify_peer(X509_STORE_CTX *xctx, void *arg)
{
	struct http_ssl *s = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(xctx, lssl.SSL_get_ex_data_X509_STORE_CTX_idx());
	int ok;

	if (!ssl || peer_of(ssl) != PEER_EST)
		return X509_verify_cert(xctx);
	/* An intermediate among the anchors is enough (RFC 7030 explicit trust anchors). */
	X509_STORE_CTX_set0_trusted_stack(xctx, s->anchors);
	X509_STORE_CTX_set_flags(xctx, X509_V_FLAG_PARTIAL_CHAIN);
	ok = X509_verify_cert(xctx);
	/* Inside a proxy's tunnel libcurl reports the failure as a mere TLS error: keep why. */
	if (ok != 1)
		s->verify_error = X509_STORE_CTX_get_error(xctx);
	return ok;
}

/* Asked for a client certificate: ours, to the EST server only (verified by then). */
static int client_cert(SSL *ssl, void *arg)
{
	struct http_ssl *s = arg;
	int i;

	if (!s->client_key || peer_of(ssl) != PEER_EST)
		return 1; /* no certificate: a proxy never sees the device's identity */
	if (lssl.SSL_use_certificate(ssl, sk_X509_value(s->client_certs, 0)) != 1 ||
	    lssl.SSL_use_PrivateKey(ssl, s->client_key) != 1)
		return 0;
	for (i = 1; i < sk_X509_num(s->client_certs); i++)
		if (lssl.SSL_ctrl(ssl, SSL_CTRL_CHAIN_CERT, 1, sk_X509_value(s->client_certs, i)) !=
		    1)
			return 0;
	return 1;
}

static void on_tls_info(const SSL *ssl, int where, int ret)
{
	struct http_ssl *s;

	if (!(where & SSL_CB_ALERT) || (ret >> 8) != SSL3_AL_FATAL || peer_of(ssl) != PEER_EST)
		return;
	s = lssl.SSL_CTX_get_ex_data(lssl.SSL_get_SSL_CTX(ssl), owner_index);
	if (!s)
		return;
	if (where & SSL_CB_READ)
		s->alert_received = ret & 0xff;
	else
		s->alert_sent = ret & 0xff;
}

int http_ssl_setup_ctx(struct http_ssl *s, void *ctx, bool est)
{
	if (lssl.SSL_CTX_set_ex_data(ctx, owner_index, s) != 1 ||
	    lssl.SSL_CTX_set_ex_data(ctx, role_index,
				     (void *)(uintptr_t)(est ? PEER_EST : PEER_PROXY)) != 1)
		return -EPROTO;
	lssl.SSL_CTX_set_cert_verify_callback(ctx, verify_peer, s);
	lssl.SSL_CTX_set_cert_cb(ctx, client_cert, s);
	lssl.SSL_CTX_set_info_callback(ctx, on_tls_info);
	/* A server gone without close_notify ends a read-until-close body, as curl has it; the
	 * records that carried a key or a password are cleansed once read. */
	lssl.SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CLEANSE_PLAINTEXT);
	return 0;
}

void http_ssl_forget(struct http_ssl *s)
{
	s->alert_received = s->alert_sent = -1;
	s->verify_error = X509_V_OK;
	s->valid = false;
	s->version = NULL;
	wipe(s->unique, sizeof(s->unique));
	wipe(s->exporter, sizeof(s->exporter));
	s->unique_len = 0;
	s->has_exporter = false;
}

/* -vv: the chain the server sent, and the trust anchor it was verified up to (once a
 * connection). Certificates only: nothing secret. */
static void trace_chain(struct http_ssl *s, SSL *ssl)
{
	STACK_OF(X509) *sent = lssl.SSL_get_peer_cert_chain(ssl);
	STACK_OF(X509) *verified = lssl.SSL_get0_verified_chain(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char buf[600], *hex;
	X509 *anchor;
	int i;

	if (!s->trace || s->traced == ssl)
		return;
	s->traced = ssl;
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

void http_ssl_capture(struct http_ssl *s, void *p)
{
	SSL *ssl = p;
	size_t n;

	if (peer_of(ssl) != PEER_EST)
		return; /* a proxy's answer to CONNECT */
	http_ssl_forget(s);
	trace_chain(s, ssl);
	s->version = lssl.SSL_get_version(ssl);
	if (lssl.SSL_version(ssl) == TLS1_3_VERSION) {
		s->has_exporter = lssl.SSL_export_keying_material(
					  ssl, s->exporter, EXPORTER_LEN, EXPORTER_LABEL,
					  strlen(EXPORTER_LABEL), NULL, 0, 0) == 1;
		if (!s->has_exporter) {
			log_debug("tls-exporter: %s", ERR_error_string(ERR_get_error(), NULL));
			ERR_clear_error();
		}
	} else {
		/* RFC 5929 3.1: the first Finished of the handshake, the server's on resumption. */
		if (lssl.SSL_session_reused(ssl))
			n = lssl.SSL_get_peer_finished(ssl, s->unique, sizeof(s->unique));
		else
			n = lssl.SSL_get_finished(ssl, s->unique, sizeof(s->unique));
		s->unique_len = n <= sizeof(s->unique) ? n : 0;
	}
	s->valid = true;
}

bool http_ssl_captured(const struct http_ssl *s)
{
	return s->valid;
}

const char *http_ssl_version(const struct http_ssl *s)
{
	return s->valid ? s->version : NULL;
}

int http_ssl_binding(const struct http_ssl *s, bool exporter, unsigned char *buf, size_t buflen,
		     size_t *out_len)
{
	const unsigned char *src = exporter ? s->exporter : s->unique;
	size_t n = exporter ? (s->has_exporter ? EXPORTER_LEN : 0) : s->unique_len;

	if (!n)
		return -EPROTO;
	if (n > buflen)
		return -ENOBUFS;
	memcpy(buf, src, n);
	*out_len = n;
	return 0;
}

bool http_ssl_has_client(const struct http_ssl *s)
{
	return s->client_key != NULL;
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

int http_ssl_alert(const struct http_ssl *s)
{
	return s->alert_received;
}

bool http_ssl_cert_refused(const struct http_ssl *s)
{
	int desc = s->alert_received;

	return s->client_key && alert_is_final(desc) && !alert_is_version(desc);
}

bool http_ssl_version_refused(const struct http_ssl *s)
{
	return alert_is_version(s->alert_received) || alert_is_version(s->alert_sent);
}

static const char *versions_offered(const struct http_ssl *s)
{
	if (s->o->tls12_only)
		return "TLS 1.2 only";
	return s->o->tls13_only ? "TLS 1.3 only" : "TLS 1.2 and 1.3";
}

/* What an alert means here, in words. */
static const char *alert_meaning(const struct http_ssl *s, int desc)
{
	if (alert_is_version(desc))
		return "no TLS version or parameters in common";
	if (desc == SSL_AD_CERTIFICATE_REQUIRED)
		return "the server requires a TLS client certificate";
	return s->client_key ? "the server refused our TLS client certificate"
			     : "the server refused the handshake";
}

int http_ssl_refusal(const struct http_ssl *s, bool verify_failed, long verify_result,
		     const char *curl_err, char *err, size_t errlen)
{
	const char *why = s->o->version_why;
	char detail[256];
	int desc = -1;

	if (!verify_failed && s->verify_error != X509_V_OK) {
		verify_failed = true;
		verify_result = s->verify_error;
	}
	if (verify_failed) {
		if (verify_result != X509_V_OK && verify_result != X509_V_ERR_UNSPECIFIED)
			snprintf(err, errlen,
				 "TLS: the server's certificate does not verify against the %.60s: "
				 "%.200s",
				 s->o->trust_name, X509_verify_cert_error_string(verify_result));
		else
			snprintf(err, errlen,
				 "TLS: the server's certificate is refused: %.200s (trust: the "
				 "%.60s)",
				 curl_err, s->o->trust_name);
		return -EPERM;
	}
	if (alert_is_final(s->alert_received))
		desc = s->alert_received;
	else if (s->alert_sent == SSL_AD_PROTOCOL_VERSION ||
		 s->alert_sent == SSL_AD_HANDSHAKE_FAILURE)
		desc = s->alert_sent;
	if (desc < 0)
		return 0;
	if (alert_is_version(desc))
		snprintf(detail, sizeof(detail), "; this client offers %.40s%s%.100s%s",
			 versions_offered(s), why ? " (" : "", why ? why : "", why ? ")" : "");
	else
		detail[0] = '\0';
	snprintf(err, errlen,
		 "TLS handshake %s (alert: %.60s): %.120s%s; server authenticated by the %.60s",
		 desc == s->alert_received ? "refused by the server" : "abandoned by this client",
		 lssl.SSL_alert_desc_string_long(desc), alert_meaning(s, desc), detail,
		 s->o->trust_name);
	return -ECONNABORTED;
}
