/* SPDX-License-Identifier: MIT */
/* HTTP Digest access authentication (RFC 7616, RFC 2617): the challenge and our answer. */
#pragma once

#include <stdbool.h>

struct http_digest;

/*
 * The Digest challenge to answer among a WWW-Authenticate list (several challenges, comma
 * separated): SHA-256 preferred over MD5, -sess variants, qop=auth or none. Returns 0,
 * -ENOENT when there is none we can answer, -EPROTO when the list is malformed.
 * Caller frees with http_digest_free().
 */
int http_digest_parse(const char *challenges, struct http_digest **out_d);
void http_digest_free(struct http_digest *d);
/* True when the server said the nonce we used had gone stale. */
bool http_digest_stale(const struct http_digest *d);
/*
 * The Authorization value ("Digest username=...") for one request, advancing the nonce count.
 * Returns NULL only when a hash fails. Caller wipe_str()s: it derives from the password.
 */
char *http_digest_answer(struct http_digest *d, const char *user, const char *password,
			 const char *method, const char *uri);
