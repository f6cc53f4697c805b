/* SPDX-License-Identifier: MIT */
/* Base64 (RFC 4648) as EST servers send it and PEM carries it. */
#pragma once

#include <stddef.h>

/* Base64 (RFC 4648) decoding that skips whitespace and line breaks (RFC 8951) and NUL bytes at
 * the very end (libest). Caller frees. */
int base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);
/* Base64 encoding, 64-column lines, trailing newline. Caller frees. */
char *base64_encode(const unsigned char *in, size_t len);
