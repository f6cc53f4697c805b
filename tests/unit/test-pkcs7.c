/* SPDX-License-Identifier: MIT */
/* Unit tests for pkcs7.c: certs-only PKCS#7 as EST servers send it, and what they should not. */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "pkcs7.h"
#include "tap.h"

#define UNTOUCHED ((STACK_OF(X509) *)1)

static X509 *make_cert(const char *cn, EVP_PKEY *key, long serial)
{
	X509 *c = X509_new();
	X509_NAME *name = X509_get_subject_name(c);

	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c, name);
	X509_gmtime_adj(X509_getm_notBefore(c), 0);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400);
	X509_set_pubkey(c, key);
	X509_sign(c, key, EVP_sha256());
	return c;
}

/* signedData with content type data, no signers, the given certificates (n may be 0). */
static PKCS7 *make_p7(X509 **certs, int n)
{
	PKCS7 *p7 = PKCS7_new();
	int i;

	PKCS7_set_type(p7, NID_pkcs7_signed);
	PKCS7_content_new(p7, NID_pkcs7_data);
	for (i = 0; i < n; i++)
		PKCS7_add_certificate(p7, certs[i]);
	return p7;
}

static unsigned char *p7_der(PKCS7 *p7, size_t *out_len)
{
	unsigned char *der = NULL;
	int len = i2d_PKCS7(p7, &der);

	*out_len = len > 0 ? (size_t)len : 0;
	return der;
}

static bool same_certs(STACK_OF(X509) * got, X509 **want, int n)
{
	int i;

	if (got == UNTOUCHED || sk_X509_num(got) != n)
		return false;
	for (i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(got, i), want[i]) != 0)
			return false;
	return true;
}

static void free_certs(STACK_OF(X509) * *certs)
{
	if (*certs != UNTOUCHED)
		sk_X509_pop_free(*certs, X509_free);
	*certs = UNTOUCHED;
}

static void test_good(X509 **certs)
{
	STACK_OF(X509) *got = UNTOUCHED;
	unsigned char *der;
	size_t len;
	PKCS7 *p7;
	int n;

	for (n = 1; n <= 3; n++) {
		p7 = make_p7(certs, n);
		der = p7_der(p7, &len);
		ok(pkcs7_certs_parse(der, len, &got) == 0 && same_certs(got, certs, n),
		   "certs-only PKCS#7 with %d certificate(s) parses in order", n);
		free_certs(&got);
		OPENSSL_free(der);
		PKCS7_free(p7);
	}
	/* The parsed certificates outlive the PKCS#7 and the DER buffer. */
	p7 = make_p7(certs, 2);
	der = p7_der(p7, &len);
	pkcs7_certs_parse(der, len, &got);
	OPENSSL_cleanse(der, len);
	OPENSSL_free(der);
	PKCS7_free(p7);
	ok(same_certs(got, certs, 2), "certificates stay valid after the input is gone");
	free_certs(&got);
}

static void test_bad(X509 **certs)
{
	static const unsigned char not_p7[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	STACK_OF(X509) *got = UNTOUCHED;
	unsigned char *der, *longer;
	size_t len, i;
	PKCS7 *p7 = make_p7(certs, 2);
	bool all = true;

	der = p7_der(p7, &len);
	ok(pkcs7_certs_parse((const unsigned char *)"hello", 5, &got) == -EBADMSG &&
		   got == UNTOUCHED,
	   "garbage refused");
	ok(pkcs7_certs_parse(not_p7, sizeof(not_p7), &got) == -EBADMSG && got == UNTOUCHED,
	   "a DER SEQUENCE that is not PKCS#7 refused");
	ok(pkcs7_certs_parse(der, 0, &got) == -EBADMSG && got == UNTOUCHED, "empty input refused");
	ok(pkcs7_certs_parse(NULL, 0, &got) == -EBADMSG && got == UNTOUCHED, "NULL input refused");
	for (i = 1; i < len; i++) {
		int r = pkcs7_certs_parse(der, i, &got);

		all = all && r == -EBADMSG && got == UNTOUCHED;
		free_certs(&got);
	}
	ok(all, "every truncation (1..%zu bytes) refused", len - 1);
	longer = malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	ok(pkcs7_certs_parse(longer, len + 1, &got) == -EBADMSG && got == UNTOUCHED,
	   "a trailing byte refused");
	free(longer);
	OPENSSL_free(der);
	PKCS7_free(p7);
}

static void test_wrong_content(X509 **certs)
{
	STACK_OF(X509) *got = UNTOUCHED;
	unsigned char *der;
	size_t len;
	PKCS7 *p7;

	p7 = make_p7(certs, 0);
	der = p7_der(p7, &len);
	ok(pkcs7_certs_parse(der, len, &got) == -ENOENT && got == UNTOUCHED,
	   "signedData without certificates: -ENOENT");
	OPENSSL_free(der);
	PKCS7_free(p7);

	/* An empty certificates [0] SET present rather than absent. */
	p7 = make_p7(certs, 0);
	p7->d.sign->cert = sk_X509_new_null();
	der = p7_der(p7, &len);
	ok(der && pkcs7_certs_parse(der, len, &got) == -ENOENT && got == UNTOUCHED,
	   "signedData with an empty certificate set: -ENOENT");
	OPENSSL_free(der);
	PKCS7_free(p7);

	p7 = PKCS7_new();
	PKCS7_set_type(p7, NID_pkcs7_data);
	der = p7_der(p7, &len);
	ok(der && pkcs7_certs_parse(der, len, &got) == -EBADMSG && got == UNTOUCHED,
	   "PKCS#7 data (not signedData) refused");
	OPENSSL_free(der);
	PKCS7_free(p7);

	der = NULL;
	len = (size_t)i2d_X509(certs[0], &der);
	ok(pkcs7_certs_parse(der, len, &got) == -EBADMSG && got == UNTOUCHED,
	   "a bare DER certificate refused");
	OPENSSL_free(der);
}

/* Flips every bit of a small PKCS#7 in turn: no crash, no leak, and a success holds certs. */
static void test_bit_flips(X509 **certs)
{
	STACK_OF(X509) *got = UNTOUCHED;
	PKCS7 *p7 = make_p7(certs, 1);
	size_t len, i;
	unsigned char *der = p7_der(p7, &len);
	int bit, parsed = 0, sane = 1;

	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			der[i] ^= (unsigned char)(1u << bit);
			if (pkcs7_certs_parse(der, len, &got) == 0) {
				parsed++;
				sane = sane && got != UNTOUCHED && sk_X509_num(got) == 1;
			} else {
				sane = sane && got == UNTOUCHED;
			}
			free_certs(&got);
			der[i] ^= (unsigned char)(1u << bit);
		}
	}
	ok(sane, "%zu bit flips: %d parsed (no signature check here), the rest refused cleanly",
	   len * 8, parsed);
	OPENSSL_free(der);
	PKCS7_free(p7);
}

int main(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
	X509 *certs[3];
	int i;

	log_init(getenv("TEST_VERBOSE") ? 1 : -1);
	certs[0] = make_cert("leaf", key, 1);
	certs[1] = make_cert("Issuing CA", key, 2);
	certs[2] = make_cert("Root CA", key, 3);
	test_good(certs);
	test_bad(certs);
	test_wrong_content(certs);
	test_bit_flips(certs);
	for (i = 0; i < 3; i++)
		X509_free(certs[i]);
	EVP_PKEY_free(key);
	return tap_done();
}
