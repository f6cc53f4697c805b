/* SPDX-License-Identifier: MIT */
/* SHA-256 in hex, for fingerprints and records: libcrypto's own digest, without a provider. */
#pragma once

#include <stddef.h>

struct sha256 {
	/* SHA256_CTX, kept opaque here so callers need no OpenSSL header */
	unsigned long long state[16];
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* 64 lowercase hex chars + NUL into out; s is wiped. */
void sha256_final_hex(struct sha256 *s, char out[65]);
/* All three at once. */
void sha256_hex(const void *data, size_t len, char out[65]);
