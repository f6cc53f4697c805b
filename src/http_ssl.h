/* SPDX-License-Identifier: MIT */
/* Private to http.c: the TLS side of libcurl's OpenSSL connections (http_ssl.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define LIBSSL_SONAME "libssl.so.3"

struct http_opts;
struct http_ssl;

/* Binds libssl.so.3 (mapped by libcurl already), once a process. 0, or -ELIBACC with the
 * reason in why. */
int http_ssl_bind(char *why, size_t why_len);

/* The trust anchors and client key pair of o, parsed once for every connection. 0, or -EPROTO
 * (logged). o's strings must outlive s. */
int http_ssl_new(const struct http_opts *o, struct http_ssl **out_s);
void http_ssl_free(struct http_ssl *s);

/*
 * Prepares a context libcurl made for a new connection (CURLOPT_SSL_CTX_FUNCTION), to the EST
 * server (est) or to an https:// proxy: the EST server is verified against our anchors only, and
 * gets our key pair when it asks; a proxy is left to libcurl's own checks. 0 or -EPROTO.
 */
int http_ssl_setup_ctx(struct http_ssl *s, void *ssl_ctx, bool est);

/* Forgets the alerts and connection facts before a request. */
void http_ssl_forget(struct http_ssl *s);
/* Takes the bindings and version of ssl (an SSL * of libcurl's), if it is the EST server's. */
void http_ssl_capture(struct http_ssl *s, void *ssl);
/* True when facts of an EST server connection were taken since http_ssl_forget. */
bool http_ssl_captured(const struct http_ssl *s);
/* "TLSv1.3" etc. of the captured connection, or NULL. */
const char *http_ssl_version(const struct http_ssl *s);
/* The captured connection's binding: tls-unique (TLS <= 1.2) or tls-exporter (TLS 1.3). 0,
 * -EPROTO (that binding does not exist on it), -ENOBUFS. */
int http_ssl_binding(const struct http_ssl *s, bool exporter, unsigned char *buf, size_t buflen,
		     size_t *out_len);

/* True when a client key pair was given. */
bool http_ssl_has_client(const struct http_ssl *s);
/* The fatal alert the EST server sent in the last request, or -1. */
int http_ssl_alert(const struct http_ssl *s);
/* True when that alert turned down our client certificate. */
bool http_ssl_cert_refused(const struct http_ssl *s);
/* True when the last handshake found no TLS version or parameters in common. */
bool http_ssl_version_refused(const struct http_ssl *s);
/*
 * A handshake refused for good, in err: -EPERM (verify_failed: the server's certificate did not
 * verify, verify_result being its X509_V_ code; curl_err libcurl's words), -ECONNABORTED (a final
 * alert), or 0 when it was neither.
 */
int http_ssl_refusal(const struct http_ssl *s, bool verify_failed, long verify_result,
		     const char *curl_err, char *err, size_t errlen);
