/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 in hex, for fingerprints and records. OpenSSL 3's EVP digests run in a provider, and
 * starting the default provider maps about 1.3 MiB of libcrypto and costs ~1 M instructions: an
 * idle pass, status and load need a digest but nothing else of it. The low-level SHA256_*
 * functions are the same code without the provider, deprecated only as an interface.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "autoconf.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "sha256.h"

_Static_assert(sizeof(SHA256_CTX) <= sizeof(struct sha256), "struct sha256 too small");

void sha256_init(struct sha256 *s)
{
	SHA256_Init((SHA256_CTX *)s->state);
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	SHA256_Update((SHA256_CTX *)s->state, data, len);
}

void sha256_final_hex(struct sha256 *s, char out[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned int i;

	SHA256_Final(md, (SHA256_CTX *)s->state);
	OPENSSL_cleanse(s, sizeof(*s));
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 0xf];
	}
	out[64] = '\0';
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final_hex(&s, out);
}
