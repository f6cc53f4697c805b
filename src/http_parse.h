/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 answer parsing over buffers, no I/O: the head, and chunked bodies (fuzzed). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A server's head (status line and headers) larger than this is refused. */
#define HTTP_MAX_HEAD (64u << 10)

struct http_head {
	long status;
	bool close;	 /* Connection: close, or HTTP/1.0 without keep-alive */
	bool chunked;	 /* Transfer-Encoding: chunked */
	bool has_length; /* Content-Length given */
	uint64_t length;
	char *content_type; /* trimmed values; NULL when absent, the last one when repeated */
	char *retry_after;
	char *www_authenticate; /* every WWW-Authenticate joined with ", " */
};

/* Length of the head at the start of buf, through its empty line; 0 while incomplete. */
size_t http_head_len(const char *buf, size_t len);
/* Parses a complete head (http_head_len bytes). 0, or -EPROTO with out cleared. */
int http_head_parse(const char *buf, size_t len, struct http_head *out);
/* Frees the strings of h and zeroes it; NULL-safe. */
void http_head_clear(struct http_head *h);
/* True when an answer of this status carries no body (1xx, 204, 304). */
bool http_status_bodiless(long status);

struct http_chunked {
	int state;
	uint64_t left;	 /* bytes left in the current chunk */
	size_t trailer;	 /* bytes of trailers seen, capped at HTTP_MAX_HEAD */
	unsigned digits; /* hex digits of the current size */
};

/*
 * Decodes len bytes of a chunked body in place: the data bytes among them are moved to the
 * front of buf (*out_data of them), *out_used bytes of input were consumed. Returns 1 when the
 * last chunk and its trailers are complete (*out_used stops there), 0 when more is needed,
 * -EPROTO on malformed framing. c starts zeroed.
 */
int http_chunked_decode(struct http_chunked *c, unsigned char *buf, size_t len, size_t *out_used,
			size_t *out_data);
