/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: certs-only PKCS#7 parsing of what an EST server sends. */
#include "autoconf.h"

#include <stdint.h>

#include <openssl/x509.h>

#include "pkcs7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL;

	if (pkcs7_certs_parse(data, size, &certs) == 0)
		sk_X509_pop_free(certs, X509_free);
	return 0;
}
