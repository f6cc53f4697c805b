/* SPDX-License-Identifier: MIT */
/* The TLS side of http.c: libssl bound at run time, the context, one connection at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_opts;
struct http_tls;

/* Binds libssl.so.3, once a process. 0, or -ELIBACC with the reason logged (each call). */
int http_tls_load(void);
/*
 * The TLS client context for o (after http_tls_load): only o's trust anchors, o's versions,
 * o's client key pair. 0, or -EPROTO with the reason logged. o must outlive t.
 */
int http_tls_new(const struct http_opts *o, struct http_tls **out_t);
/* Closes the connection, frees t; NULL-safe. */
void http_tls_free(struct http_tls *t);

/*
 * The handshake over fd, which t then owns (closed on failure too). 0, or -EPERM (does not
 * verify), -ECONNABORTED (final alert), -ECONNRESET, -ETIMEDOUT; the reason in err.
 */
int http_tls_connect(struct http_tls *t, int fd, int64_t deadline, char *err, size_t errlen);
/* All of buf in one SSL_write. 0, -ECONNABORTED, -ECONNRESET, -ETIMEDOUT; reason in err. */
int http_tls_write(struct http_tls *t, const void *buf, size_t len, int64_t deadline, char *err,
		   size_t errlen);
/* Up to len bytes into buf: 0 with *out_n (0 at the end of the stream), or the errors of
 * http_tls_write. */
int http_tls_read(struct http_tls *t, void *buf, size_t len, int64_t deadline, size_t *out_n,
		  char *err, size_t errlen);
/* Ends the connection (if any), keeping its session so the next one resumes it. */
void http_tls_close(struct http_tls *t);
/* True when a connection is open and the server has not closed it; closes it if it has. */
bool http_tls_open(struct http_tls *t);

/* Forgets the alerts of the last request. */
void http_tls_forget_alerts(struct http_tls *t);
/* The fatal alert the server sent (SSL_AD_*), or -1. */
int http_tls_last_alert(const struct http_tls *t);
/* True when that alert turned down the client certificate we presented. */
bool http_tls_cert_refused(const struct http_tls *t);
/* The current connection's binding: see http_channel_binding(). */
int http_tls_binding(const struct http_tls *t, bool exporter, unsigned char *buf, size_t buflen,
		     size_t *out_len);
/* "TLSv1.3" etc. of the current connection, or NULL. */
const char *http_tls_conn_version(const struct http_tls *t);
