/* SPDX-License-Identifier: MIT */
/* RFC 7030 operations over an http handle: paths, media types, base64, 202/Retry-After. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "http.h"

/*
 * Error convention of the est_* operations (besides http_request's network errors):
 *   -EAGAIN        202 Accepted or 5xx: try later, *out_retry_after holds the server's wish (0 =
 * none) -EKEYREJECTED  401/403: authentication refused -EBADMSG       the answer is malformed
 * (media type, base64, PKCS#7) -EPROTO        any other refusal (4xx)
 */

/* GET /cacerts: the CA certificates. Caller sk_X509_pop_free()s. */
int est_cacerts(struct http *h, const char *label, STACK_OF(X509) **out_certs,
		uint64_t *out_retry_after);
/* POST /simpleenroll or /simplereenroll with a DER CSR; the returned certificates (issued first if
 * found). */
int est_enroll(struct http *h, const char *label, bool reenroll, const unsigned char *csr,
	       size_t csr_len, STACK_OF(X509) **out_certs, uint64_t *out_retry_after);
/* est_enroll, telling also the HTTP status of the answer when one came (out_status untouched
 * otherwise) and, for one that is not 200, the server's words escaped for one line ("" when it
 * gave none; caller frees): what the certmonger helper passes on. Either may be NULL. */
int est_enroll_answer(struct http *h, const char *label, bool reenroll, const unsigned char *csr,
		      size_t csr_len, STACK_OF(X509) **out_certs, uint64_t *out_retry_after,
		      long *out_status, char **out_says);

/* Retry-After: delta-seconds or HTTP-date, relative to now; clamped to max. 0 or -EINVAL. */
int est_parse_retry_after(const char *value, time_t now, uint64_t max, uint64_t *out_seconds);
/* "/.well-known/est[/label]/op"; caller frees. */
char *est_path(const char *label, const char *op);

/* GET /csrattrs: the DER CsrAttrs in out_der (caller frees); -ENOENT when the server has none
 * (204, 404) or its answer is unusable (any other status, media type, not base64: logged, never
 * retried); or http_request's network errors. */
int est_csrattrs(struct http *h, const char *label, unsigned char **out_der, size_t *out_len);

/*
 * POST /serverkeygen with a DER CSR. Parses the multipart/mixed answer: the private key
 * (application/pkcs8, also PKCS#1) and the certificate (certs-only PKCS#7).
 * Caller EVP_PKEY_free()s the key and sk_X509_pop_free()s the certificates.
 */
int est_serverkeygen(struct http *h, const char *label, const unsigned char *csr, size_t csr_len,
		     EVP_PKEY **out_key, STACK_OF(X509) **out_certs, uint64_t *out_retry_after);

/* True when a Content-Type value names the media type want (case-insensitive, parameters
 * ignored). NULL content_type: false. */
bool est_media_type_is(const char *content_type, const char *want);
/* The boundary parameter of a multipart/mixed Content-Type (token or quoted-string, RFC 2046
 * bchars), or NULL. Caller frees. */
char *est_multipart_boundary(const char *content_type);
/*
 * Splits a multipart body at boundary (RFC 2046 5.1.1: delimiters only at a line start, each
 * part's headers end at the first empty line, CRLF or bare LF); calls fn for each part with its
 * headers and body. 0 when the closing delimiter was reached after at least one part, fn's error,
 * or -EBADMSG. Exposed for tests. */
int est_multipart_parse(const char *body, size_t len, const char *boundary,
			int (*fn)(void *ctx, const char *headers, size_t hlen, const char *part,
				  size_t plen),
			void *ctx);
