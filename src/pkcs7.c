/* SPDX-License-Identifier: MIT */
/* Certs-only PKCS#7 (RFC 7030 /cacerts, /simpleenroll answers). */
#include "autoconf.h"

#include <errno.h>

#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "pkcs7.h"

int pkcs7_certs_parse(const unsigned char *der, size_t len, STACK_OF(X509) * *out_certs)
{
	const unsigned char *p = der;
	STACK_OF(X509) *certs = NULL, *in;
	PKCS7 *p7;
	int i, r = -EBADMSG;

	if (len > (1u << 30))
		return -EBADMSG;
	p7 = d2i_PKCS7(NULL, &p, (long)len);
	/* Trailing bytes mean the answer is not what it claims to be. */
	if (!p7 || p != der + len || !PKCS7_type_is_signed(p7) || !p7->d.sign)
		goto out;
	in = p7->d.sign->cert;
	r = -ENOENT;
	if (!in || sk_X509_num(in) == 0)
		goto out;
	certs = sk_X509_new_null();
	if (!certs) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < sk_X509_num(in); i++) {
		X509 *c = sk_X509_value(in, i);

		if (X509_up_ref(c) && !sk_X509_push(certs, c))
			X509_free(c);
		if (sk_X509_num(certs) != i + 1) {
			sk_X509_pop_free(certs, X509_free);
			r = -ENOMEM;
			goto out;
		}
	}
	*out_certs = certs;
	r = 0;
out:
	ERR_clear_error();
	PKCS7_free(p7);
	return r;
}
