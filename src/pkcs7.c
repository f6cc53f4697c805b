/* SPDX-License-Identifier: MIT */
/* Certs-only PKCS#7 (RFC 7030 /cacerts, /simpleenroll answers). */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>

#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "log.h"
#include "pkcs7.h"

/* A new stack holding references to the certificates of in, in order. */
static int certs_copy(STACK_OF(X509) *in, STACK_OF(X509) **out_certs)
{
	STACK_OF(X509) *certs = sk_X509_new_reserve(NULL, sk_X509_num(in));
	int i, r = -ENOMEM;

	if (!certs)
		goto out;
	for (i = 0; i < sk_X509_num(in); i++) {
		X509 *c = sk_X509_value(in, i);

		if (!c || X509_up_ref(c) != 1)
			goto out;
		if (!sk_X509_push(certs, c)) {
			X509_free(c);
			goto out;
		}
	}
	*out_certs = certs;
	certs = NULL;
	r = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	return r;
}

int pkcs7_certs_parse(const unsigned char *der, size_t len, STACK_OF(X509) **out_certs)
{
	const unsigned char *p = der;
	STACK_OF(X509) *in;
	PKCS7 *p7 = NULL;
	int r = -EBADMSG;

	if (!der || len == 0 || len > INT_MAX)
		goto out;
	p7 = d2i_PKCS7(NULL, &p, (long)len);
	if (!p7) {
		log_debug("PKCS#7: not DER PKCS#7");
		goto out;
	}
	/* Trailing bytes mean the answer is not what it claims to be. */
	if (p != der + len || !PKCS7_type_is_signed(p7) || !p7->d.sign) {
		log_debug("PKCS#7: trailing bytes or not signedData");
		goto out;
	}
	in = p7->d.sign->cert;
	if (sk_X509_num(in) <= 0) {
		r = -ENOENT;
		goto out;
	}
	r = certs_copy(in, out_certs);
out:
	ERR_clear_error();
	PKCS7_free(p7);
	return r;
}
