/* SPDX-License-Identifier: MIT */
/* HTTPS exchanges with the EST server, over libcurl (bound at run time): one handle per pass. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#include "config.h"

#define HTTP_MAX_BODY (4u << 20)

struct http_opts {
	const char *host; /* name or IP literal without brackets */
	unsigned int port;
	/* Trust anchors as a PEM buffer (one or more certificates); the server must chain to one.
	 */
	const char *trust_pem;
	size_t trust_len;
	/* NULL, or more anchors trusted as well (ca_root beside the stored CA certificates). */
	const char *extra_trust_pem;
	size_t extra_trust_len;
	/* What the anchors are, for messages: "ca_root", "stored CA certificates", ... */
	const char *trust_name;
	/* NULL: the environment's https_proxy and no_proxy; "": never a proxy; else its URL
	 * (http://, https://, socks5h://, credentials allowed): then no_proxy does not apply. */
	const char *proxy;
	/* Optional TLS client key pair: PEM key and PEM certificate chain (may be the same buffer).
	 */
	const char *client_pem;
	size_t client_len;
	/* NULL, or the key to use instead of client_pem's key block (a key inside a TPM or a
	 * token: client_pem holds its reference). Up-referenced while the handle lives. */
	EVP_PKEY *client_key;
	enum http_auth auth;
	const char *username;
	const char *password;
	uint64_t timeout; /* seconds for one exchange, connect to last byte */
	time_t deadline;  /* 0 or absolute time after which no exchange may run (retry_timeout) */
	bool tls12_only;  /* cap at TLS 1.2 (tls-unique PoP) */
	bool tls13_only;  /* require TLS 1.3 (tls-exporter PoP) */
	const char *version_why; /* NULL, or why the version is restricted, for messages */
	bool version_probe;	 /* a handshake refused for its version is logged as info only */
};

struct http_response {
	long status;
	char *content_type;  /* NULL when absent */
	char *retry_after;   /* raw header value, NULL when absent */
	unsigned char *body; /* NUL-terminated for convenience */
	size_t body_len;
};

struct http;

/* Copies nothing from o but pointers it needs while alive: o's buffers must outlive the handle. */
int http_new(const struct http_opts *o, struct http **out_h);
void http_free(struct http *h);

/*
 * One exchange over the handle's connection (reused across calls: one TLS handshake per pass).
 * body NULL = GET. extra_headers: NULL-terminated "Name: value" strings or NULL.
 * Returns 0 with out_resp filled for any HTTP status, or
 *   -ECONNREFUSED/-EHOSTUNREACH/-ETIMEDOUT/-ECONNRESET  network trouble (temporary),
 *   -EPERM        the server's certificate does not verify against the trust anchors (does
 *                 not chain, expired, host mismatch): for good,
 *   -ECONNABORTED the server ended the handshake with a fatal alert that trying again does not
 *                 change (protocol_version, handshake_failure, bad_certificate, unknown_ca,
 *                 certificate_required, ...; see http_tls_alert): for good,
 *   -EFBIG        body larger than HTTP_MAX_BODY,
 *   -EPROTO       anything else: a malformed answer (headers over HTTP_MAX_HEAD), an
 *                 unusable proxy URL, ...
 * Each failure is logged once, naming the cause and, for TLS, the trust anchors used.
 * Caller frees with http_response_clear().
 */
int http_request(struct http *h, const char *path, const char *content_type,
		 const char *const *extra_headers, const void *body, size_t body_len,
		 struct http_response *out_resp);
void http_response_clear(struct http_response *r);

/*
 * Channel binding of the current connection (after a request was made on it):
 * tls-unique (TLS <= 1.2, RFC 5929) or tls-exporter (TLS 1.3, RFC 9266), raw bytes.
 * Returns 0, -ENOTCONN when no connection is open, -EPROTO when the binding is not available.
 */
int http_channel_binding(struct http *h, bool exporter, unsigned char *buf, size_t buflen,
			 size_t *out_len);
/* "TLSv1.3" etc. of the current connection, or NULL. */
const char *http_tls_version(struct http *h);
/* The TLS alert (SSL_AD_*) the server sent to end the last failed request, or -1. */
int http_tls_alert(struct http *h);
/* True when the last failed request's handshake found no TLS version in common. */
bool http_version_refused(struct http *h);
/* True when that alert turned down the TLS client certificate we presented. */
bool http_client_cert_refused(struct http *h);
/* Why the last http_request failed, in words ("" if it did not); owned by h. */
const char *http_last_error(struct http *h);
