/* SPDX-License-Identifier: MIT */
/* Unit tests for key_der.c: a generated EC key's PKCS#8 PEM and its CSR public key, byte for
 * byte OpenSSL's. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "key_der.h"
#include "log.h"
#include "tap.h"
#include "util.h"

#define KEYS_PER_CURVE 60

/* What OpenSSL's encoder writes for key. Caller frees. */
static char *openssl_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	long n;

	if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(bio, &data)) > 0)
		out = xstrndup(data, (size_t)n);
	BIO_free(bio);
	return out;
}

static void test_curve(const char *curve)
{
	int i, same = 0, back = 0;

	for (i = 0; i < KEYS_PER_CURVE; i++) {
		EVP_PKEY *key = NULL, *parsed = NULL;
		char *ours = NULL, *theirs;
		size_t len = 0;

		if (crypto_keygen(KEY_ALG_EC, curve, &key) < 0)
			break;
		theirs = openssl_pem(key);
		if (key_der_ec_pkcs8_pem(key, &ours, &len) == 0 && theirs &&
		    len == strlen(theirs) && !memcmp(ours, theirs, len))
			same++;
		if (ours && crypto_key_from_pem(ours, len, &parsed) == 0 &&
		    crypto_keys_equal(parsed, key) && EVP_PKEY_eq(parsed, key) == 1)
			back++;
		EVP_PKEY_free(parsed);
		if (ours)
			wipe_free(ours, len);
		if (theirs)
			wipe_str(theirs);
		EVP_PKEY_free(key);
	}
	ok(same == KEYS_PER_CURVE, "%s: %d of %d keys written byte for byte as OpenSSL writes them",
	   curve, same, KEYS_PER_CURVE);
	ok(back == KEYS_PER_CURVE, "%s: and each reads back as the same private key", curve);
}

/* A private key of 1 (its public key the generator): the padding of a short scalar. */
static void test_short_scalar(void)
{
	static const unsigned char g[] = {
		0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5,
		0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4,
		0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a,
		0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33,
		0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *one = BN_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY *key = NULL;
	char *ours = NULL, *theirs = NULL;
	size_t len = 0;

	BN_one(one);
	OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, one);
	OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, g, sizeof(g));
	params = OSSL_PARAM_BLD_to_param(bld);
	if (ctx && params && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params);
	theirs = key ? openssl_pem(key) : NULL;
	ok(theirs && key_der_ec_pkcs8_pem(key, &ours, &len) == 0 && len == strlen(theirs) &&
		   !memcmp(ours, theirs, len),
	   "a private key of 1: padded to 32 bytes as OpenSSL does");
	if (ours)
		wipe_free(ours, len);
	free(theirs);
	EVP_PKEY_free(key);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(one);
	EVP_PKEY_CTX_free(ctx);
}

/* A CSR's SubjectPublicKeyInfo as X509_PUBKEY_set would have it, and a CSR that verifies. */
static void test_csr_spki(const char *curve)
{
	EVP_PKEY *key = NULL;
	X509_NAME *name = X509_NAME_new();
	struct csr_params cp = {0};
	unsigned char *der = NULL, *want = NULL, *got = NULL;
	const unsigned char *q;
	X509_REQ *req = NULL;
	size_t len = 0;
	int wl = 0, gl = 0;

	crypto_keygen(KEY_ALG_EC, curve, &key);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"spki", -1, -1,
				   0);
	cp.key = key;
	cp.subject = name;
	if (key && crypto_csr_build(&cp, &der, &len) == 0) {
		q = der;
		req = d2i_X509_REQ(NULL, &q, (long)len);
	}
	if (req) {
		wl = i2d_PUBKEY(key, &want);
		gl = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &got);
	}
	ok(req && wl > 0 && wl == gl && !memcmp(want, got, (size_t)wl),
	   "%s: the CSR's SubjectPublicKeyInfo is OpenSSL's encoding of the key", curve);
	ok(req && X509_REQ_verify(req, key) == 1 &&
		   EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key) == 1,
	   "%s: the CSR verifies with the key and carries it", curve);
	OPENSSL_free(want);
	OPENSSL_free(got);
	OPENSSL_free(der);
	X509_REQ_free(req);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
}

static void test_left_to_openssl(void)
{
	static const struct {
		enum key_alg alg;
		const char *params;
	} others[] = {
		{KEY_ALG_RSA, "2048"}, {KEY_ALG_ED25519, ""}, {KEY_ALG_EC, "brainpoolP256r1"}};
	size_t i, len = 0;
	char *pem = NULL, *theirs;
	EVP_PKEY *key = NULL;

	for (i = 0; i < ARRAY_SIZE(others); i++) {
		key = NULL;
		pem = NULL;
		crypto_keygen(others[i].alg, others[i].params, &key);
		ok(key && key_der_ec_pkcs8_pem(key, &pem, &len) == -ENOTSUP && !pem,
		   "%s: left to OpenSSL", others[i].params[0] ? others[i].params : "ED25519");
		theirs = key ? openssl_pem(key) : NULL;
		ok(theirs && crypto_key_to_pem(key, &pem, &len) == 0 && len == strlen(theirs) &&
			   !memcmp(pem, theirs, len),
		   "%s: crypto_key_to_pem writes OpenSSL's PEM",
		   others[i].params[0] ? others[i].params : "ED25519");
		if (pem)
			wipe_free(pem, len);
		if (theirs)
			wipe_str(theirs);
		EVP_PKEY_free(key);
	}
}

int main(void)
{
	log_init(getenv("TEST_VERBOSE") ? 1 : -1);
	test_curve("prime256v1");
	test_curve("secp384r1");
	test_curve("secp521r1");
	test_short_scalar();
	test_csr_spki("prime256v1");
	test_csr_spki("secp384r1");
	test_csr_spki("secp521r1");
	test_left_to_openssl();
	return tap_done();
}
