/* SPDX-License-Identifier: MIT */
/* Unit tests for crypto.c (and cacerts.c's root key update): keys, CSRs, chains. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cacerts.h"
#include "crypto.h"
#include "dn.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static const char *alg_name(enum key_alg alg)
{
	switch (alg) {
	case KEY_ALG_EC:
		return "EC";
	case KEY_ALG_RSA:
		return "RSA";
	case KEY_ALG_ED25519:
		return "ED25519";
	}
	return "?";
}

static void test_key_params(void)
{
	static const struct {
		enum key_alg alg;
		const char *params;
		int ok;
	} cases[] = {
		{KEY_ALG_EC, "prime256v1", 1}, {KEY_ALG_EC, "secp384r1", 1},
		{KEY_ALG_EC, "secp521r1", 1},  {KEY_ALG_EC, "P-256", 1},
		{KEY_ALG_EC, "P-521", 1},      {KEY_ALG_EC, "brainpoolP256r1", 1},
		{KEY_ALG_EC, "secp256r1", 1},  {KEY_ALG_EC, "secp192r1", 1},
		{KEY_ALG_EC, "secp256R1", 0},  {KEY_ALG_EC, "secp999r1", 0},
		{KEY_ALG_EC, "", 1},	       {KEY_ALG_EC, NULL, 1},
		{KEY_ALG_EC, "foo", 0},	       {KEY_ALG_EC, "curve25519x", 0},
		{KEY_ALG_EC, "2048", 0},       {KEY_ALG_EC, "sha256", 0},
		{KEY_ALG_RSA, "2048", 1},      {KEY_ALG_RSA, "3072", 1},
		{KEY_ALG_RSA, "8192", 1},      {KEY_ALG_RSA, "", 1},
		{KEY_ALG_RSA, "1024", 0},      {KEY_ALG_RSA, "2047", 0},
		{KEY_ALG_RSA, "8193", 0},      {KEY_ALG_RSA, "big", 0},
		{KEY_ALG_RSA, "-2048", 0},     {KEY_ALG_RSA, "prime256v1", 0},
		{KEY_ALG_ED25519, "", 1},      {KEY_ALG_ED25519, NULL, 1},
		{KEY_ALG_ED25519, "2048", 0},  {KEY_ALG_ED25519, "prime256v1", 0},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		int r = crypto_check_key_params(cases[i].alg, cases[i].params, &why);

		ok(cases[i].ok ? r == 0 && !why : r == -EINVAL && why,
		   "key_params '%s' for %s is %s (%s)",
		   cases[i].params ? cases[i].params : "(null)", alg_name(cases[i].alg),
		   cases[i].ok ? "accepted" : "refused", why ? why : "-");
	}
	ok(!strcmp(crypto_default_key_params(KEY_ALG_EC), "prime256v1") &&
		   !strcmp(crypto_default_key_params(KEY_ALG_RSA), "2048") &&
		   !strcmp(crypto_default_key_params(KEY_ALG_ED25519), ""),
	   "default key_params");
	ok(crypto_curve_nid("P-256") == NID_X9_62_prime256v1 &&
		   crypto_curve_nid("prime256v1") == NID_X9_62_prime256v1 &&
		   crypto_curve_nid("secp256r1") == NID_X9_62_prime256v1 &&
		   crypto_curve_nid("secp384r1") == NID_secp384r1 &&
		   crypto_curve_nid("P-384") == NID_secp384r1 &&
		   crypto_curve_nid("") == NID_undef && crypto_curve_nid(NULL) == NID_undef &&
		   crypto_curve_nid("foo") == NID_undef,
	   "curve names: OpenSSL, NIST and SEC 2 spellings");
	ok(crypto_key_alg_pkey_id(KEY_ALG_EC) == EVP_PKEY_EC &&
		   crypto_key_alg_pkey_id(KEY_ALG_RSA) == EVP_PKEY_RSA &&
		   crypto_key_alg_pkey_id(KEY_ALG_ED25519) == EVP_PKEY_ED25519,
	   "key algorithm to EVP_PKEY id");
}

static void test_signers(void)
{
	static const struct {
		enum key_alg alg;
		const char *signer;
		const char *why; /* NULL: accepted; else a word the reason contains */
	} cases[] = {
		{KEY_ALG_EC, "SHA256WITHECDSA", NULL},
		{KEY_ALG_EC, "sha384withecdsa", NULL},
		{KEY_ALG_EC, "SHA512WithECDSA", NULL},
		{KEY_ALG_EC, "SHA224WITHECDSA", NULL},
		{KEY_ALG_RSA, "SHA256WITHRSA", NULL},
		{KEY_ALG_RSA, "SHA384WITHRSA", NULL},
		{KEY_ALG_RSA, "sha512withrsa", NULL},
		{KEY_ALG_ED25519, "ED25519", NULL},
		{KEY_ALG_ED25519, "ed25519", NULL},
		{KEY_ALG_RSA, "SHA256WITHECDSA", "RSA key"},
		{KEY_ALG_EC, "SHA256WITHRSA", "EC key"},
		{KEY_ALG_ED25519, "SHA256WITHECDSA", "ED25519 key"},
		{KEY_ALG_EC, "ED25519", "EC key"},
		{KEY_ALG_EC, "MD5WITHRSA", "unknown"},
		{KEY_ALG_EC, "SHA256", "unknown"},
		{KEY_ALG_EC, "", "unknown"},
		{KEY_ALG_RSA, NULL, "unknown"},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		int r = crypto_check_signer(cases[i].alg, cases[i].signer, &why);

		ok(cases[i].why ? r == -EINVAL && why && strstr(why, cases[i].why) : r == 0 && !why,
		   "signer '%s' for %s: %s", cases[i].signer ? cases[i].signer : "(null)",
		   alg_name(cases[i].alg), why ? why : "accepted");
	}
}

static void test_key_pem(EVP_PKEY *key)
{
	EVP_PKEY *back = NULL;
	char *pem = NULL;
	size_t len = 0;

	ok(crypto_key_to_pem(key, &pem, &len) == 0 && len == strlen(pem) &&
		   !strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28),
	   "%s key to PKCS#8 PEM", EVP_PKEY_get0_type_name(key));
	ok(crypto_key_from_pem(pem, len, &back) == 0 && EVP_PKEY_eq(key, back) == 1,
	   "PEM to key round-trips");
	EVP_PKEY_free(back);
	wipe_free(pem, len);
}

static void test_keygen(void)
{
	static const struct {
		enum key_alg alg;
		const char *params;
		int bits;
	} cases[] = {
		{KEY_ALG_EC, "prime256v1", 256}, {KEY_ALG_EC, "secp384r1", 384},
		{KEY_ALG_EC, "P-521", 521},	 {KEY_ALG_EC, NULL, 256},
		{KEY_ALG_EC, "secp256r1", 256},	 {KEY_ALG_RSA, "2048", 2048},
		{KEY_ALG_ED25519, "", 256},
	};
	EVP_PKEY *key = NULL;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		key = NULL;
		ok(crypto_keygen(cases[i].alg, cases[i].params, &key) == 0 && key &&
			   EVP_PKEY_get_base_id(key) == crypto_key_alg_pkey_id(cases[i].alg) &&
			   EVP_PKEY_get_bits(key) == cases[i].bits,
		   "keygen %s %s: %d bits", alg_name(cases[i].alg),
		   cases[i].params ? cases[i].params : "(default)", cases[i].bits);
		if (key)
			test_key_pem(key);
		EVP_PKEY_free(key);
	}
	key = NULL;
	ok(crypto_keygen(KEY_ALG_EC, "foo", &key) == -EINVAL && !key,
	   "keygen on curve foo refused");
	ok(crypto_keygen(KEY_ALG_RSA, "1024", &key) == -EINVAL && !key, "keygen RSA 1024 refused");
}

static void test_key_fits(void)
{
	static const struct {
		int key; /* index into keys[] */
		enum key_alg alg;
		const char *params;
		bool fits;
	} cases[] = {
		{0, KEY_ALG_EC, "prime256v1", true}, {0, KEY_ALG_EC, "P-256", true},
		{0, KEY_ALG_EC, "secp256r1", true},  {0, KEY_ALG_EC, NULL, true},
		{0, KEY_ALG_EC, "", true},	     {0, KEY_ALG_EC, "secp384r1", false},
		{0, KEY_ALG_EC, "P-384", false},     {0, KEY_ALG_EC, "foo", false},
		{0, KEY_ALG_RSA, NULL, false},	     {0, KEY_ALG_ED25519, NULL, false},
		{1, KEY_ALG_EC, "secp384r1", true},  {1, KEY_ALG_EC, "P-384", true},
		{1, KEY_ALG_EC, NULL, false},	     {1, KEY_ALG_EC, "prime256v1", false},
		{2, KEY_ALG_RSA, "2048", true},	     {2, KEY_ALG_RSA, NULL, true},
		{2, KEY_ALG_RSA, "", true},	     {2, KEY_ALG_RSA, "3072", false},
		{2, KEY_ALG_RSA, "big", false},	     {2, KEY_ALG_EC, NULL, false},
		{3, KEY_ALG_ED25519, NULL, true},    {3, KEY_ALG_ED25519, "", true},
		{3, KEY_ALG_ED25519, "2048", false}, {3, KEY_ALG_EC, NULL, false},
	};
	EVP_PKEY *keys[4] = {NULL}, *back = NULL;
	char *pem = NULL;
	size_t i, len = 0;

	crypto_keygen(KEY_ALG_EC, "P-256", &keys[0]);
	crypto_keygen(KEY_ALG_EC, "secp384r1", &keys[1]);
	crypto_keygen(KEY_ALG_RSA, "2048", &keys[2]);
	crypto_keygen(KEY_ALG_ED25519, NULL, &keys[3]);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		ok(crypto_key_fits(keys[cases[i].key], cases[i].alg, cases[i].params) ==
			   cases[i].fits,
		   "%s key %s %s '%s'", EVP_PKEY_get0_type_name(keys[cases[i].key]),
		   cases[i].fits ? "fits" : "does not fit", alg_name(cases[i].alg),
		   cases[i].params ? cases[i].params : "(null)");
	ok(!crypto_key_fits(NULL, KEY_ALG_EC, NULL), "a NULL key fits nothing");
	crypto_key_to_pem(keys[0], &pem, &len);
	crypto_key_from_pem(pem, len, &back);
	ok(crypto_key_fits(back, KEY_ALG_EC, "P-256") &&
		   !crypto_key_fits(back, KEY_ALG_EC, "P-521"),
	   "a key read back from PEM fits as generated");

	ok(crypto_keys_equal(keys[0], back), "a key equals itself read back from PEM");
	ok(crypto_keys_equal(keys[0], keys[0]), "a key equals itself");
	ok(!crypto_keys_equal(keys[0], keys[1]) && !crypto_keys_equal(keys[1], keys[0]),
	   "keys on different curves differ");
	ok(!crypto_keys_equal(keys[0], keys[2]) && !crypto_keys_equal(keys[2], keys[3]),
	   "keys of different algorithms differ");
	ok(!crypto_keys_equal(keys[0], NULL) && !crypto_keys_equal(NULL, keys[0]) &&
		   !crypto_keys_equal(NULL, NULL),
	   "NULL equals nothing");
	EVP_PKEY_free(back);
	back = NULL;
	crypto_keygen(KEY_ALG_EC, "P-256", &back);
	ok(!crypto_keys_equal(keys[0], back), "two P-256 keys differ");
	ok(ERR_peek_error() == 0, "the OpenSSL error queue is left empty");
	EVP_PKEY_free(back);
	wipe_free(pem, len);
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		EVP_PKEY_free(keys[i]);
}

/* A certificate for key named cn, signed by issuer_key under issuer (NULL: self-signed). */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
		       long days)
{
	static long serial = 0x1234AB;
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), days * 86400);
	X509_set_pubkey(c, key);
	X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
				  ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(c, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256());
	X509_NAME_free(name);
	return c;
}

static STACK_OF(X509) *stack_of(X509 *a, X509 *b, X509 *c)
{
	STACK_OF(X509) *s = sk_X509_new_null();

	if (a)
		sk_X509_push(s, a);
	if (b)
		sk_X509_push(s, b);
	if (c)
		sk_X509_push(s, c);
	return s;
}

static char *key_pem_traditional(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;
	long n;

	PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &s);
	s = xstrndup(s, (size_t)n);
	BIO_free(bio);
	return s;
}

static char *key_pem_encrypted(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;
	long n;

	PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), "secret", 6, NULL, NULL);
	n = BIO_get_mem_data(bio, &s);
	s = xstrndup(s, (size_t)n);
	BIO_free(bio);
	return s;
}

/* Private key as PKCS#8 DER (keep) or traditional DER, e.g. PKCS#1 for RSA. */
static unsigned char *key_der(EVP_PKEY *key, bool pkcs8, int *out_len)
{
	PKCS8_PRIV_KEY_INFO *p8 = pkcs8 ? EVP_PKEY2PKCS8(key) : NULL;
	unsigned char *der = NULL;

	*out_len = pkcs8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : i2d_PrivateKey(key, &der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return der;
}

static void test_key_pem_formats(EVP_PKEY *rsa, EVP_PKEY *ec, X509 *cert)
{
	EVP_PKEY *back = NULL;
	char *pem, *bundle = NULL, *key_pem = NULL;
	size_t blen = 0, klen = 0, koff;

	pem = key_pem_traditional(rsa);
	ok(strstr(pem, "BEGIN RSA PRIVATE KEY") &&
		   crypto_key_from_pem(pem, strlen(pem), &back) == 0 && EVP_PKEY_eq(rsa, back) == 1,
	   "PKCS#1 PEM (RSA PRIVATE KEY) is read");
	EVP_PKEY_free(back);
	back = NULL;
	free(pem);
	pem = key_pem_traditional(ec);
	ok(strstr(pem, "BEGIN EC PRIVATE KEY") &&
		   crypto_key_from_pem(pem, strlen(pem), &back) == 0 && EVP_PKEY_eq(ec, back) == 1,
	   "SEC1 PEM (EC PRIVATE KEY) is read");
	EVP_PKEY_free(back);
	back = NULL;
	free(pem);
	pem = key_pem_encrypted(ec);
	ok(strstr(pem, "ENCRYPTED PRIVATE KEY") &&
		   crypto_key_from_pem(pem, strlen(pem), &back) == -ENOKEY && !back,
	   "an encrypted key is not a key we can use (and no passphrase prompt)");
	free(pem);

	/* A certificate first, then the key, then the certificate again. */
	crypto_cert_append_pem(cert, &bundle, &blen);
	crypto_key_to_pem(ec, &key_pem, &klen);
	koff = blen;
	bundle = xrealloc(bundle, blen + klen + 1);
	memcpy(bundle + blen, key_pem, klen + 1);
	blen += klen;
	crypto_cert_append_pem(cert, &bundle, &blen);
	ok(crypto_key_from_pem(bundle, blen, &back) == 0 && EVP_PKEY_eq(ec, back) == 1,
	   "the key is found among certificates");
	EVP_PKEY_free(back);
	back = NULL;
	ok(crypto_key_from_pem(bundle, koff, &back) == -ENOKEY && !back,
	   "certificates only: no key");
	ok(crypto_key_from_pem(bundle, koff + klen - 10, &back) == -EBADMSG && !back,
	   "a key block without its end line is refused");
	ok(crypto_key_from_pem("hello", 5, &back) == -ENOKEY && !back, "no PEM at all: no key");
	ok(crypto_key_from_pem("", 0, &back) == -ENOKEY && !back, "empty buffer: no key");
	/* Damage the DER inside the base64 of the key ("MI" starts every PKCS#8 body). */
	pem = strstr(bundle + koff, "\nMI");
	ok(pem != NULL, "key body found");
	if (pem) {
		memcpy(pem + 1, "AA", 2);
		ok(crypto_key_from_pem(bundle, blen, &back) == -EBADMSG && !back,
		   "a damaged key block is refused");
	}
	wipe_free(key_pem, klen);
	free(bundle);
}

static void test_key_der_formats(EVP_PKEY *rsa, EVP_PKEY *ec)
{
	EVP_PKEY *back = NULL;
	unsigned char *der, *longer;
	int len;

	der = key_der(rsa, true, &len);
	ok(crypto_key_from_der(der, (size_t)len, &back) == 0 && EVP_PKEY_eq(rsa, back) == 1,
	   "PKCS#8 DER RSA key is read");
	EVP_PKEY_free(back);
	back = NULL;
	longer = xmalloc((size_t)len + 1);
	memcpy(longer, der, (size_t)len);
	longer[len] = 0;
	ok(crypto_key_from_der(longer, (size_t)len + 1, &back) == -EBADMSG && !back,
	   "DER key with a trailing byte refused");
	ok(crypto_key_from_der(der, (size_t)len / 2, &back) == -EBADMSG && !back,
	   "truncated DER key refused");
	free(longer);
	OPENSSL_clear_free(der, (size_t)len);
	der = key_der(rsa, false, &len);
	ok(crypto_key_from_der(der, (size_t)len, &back) == 0 && EVP_PKEY_eq(rsa, back) == 1,
	   "PKCS#1 DER RSA key is read");
	EVP_PKEY_free(back);
	back = NULL;
	OPENSSL_clear_free(der, (size_t)len);
	der = key_der(ec, true, &len);
	ok(crypto_key_from_der(der, (size_t)len, &back) == 0 && EVP_PKEY_eq(ec, back) == 1,
	   "PKCS#8 DER EC key is read");
	EVP_PKEY_free(back);
	back = NULL;
	OPENSSL_clear_free(der, (size_t)len);
	ok(crypto_key_from_der((const unsigned char *)"\x30\x03\x02\x01\x00", 5, &back) ==
			   -EBADMSG &&
		   !back,
	   "garbage DER refused");
}

static void test_key_formats(void)
{
	EVP_PKEY *rsa = NULL, *ec = NULL;
	X509 *cert;

	crypto_keygen(KEY_ALG_RSA, "2048", &rsa);
	crypto_keygen(KEY_ALG_EC, "prime256v1", &ec);
	cert = make_cert("bundle", ec, NULL, NULL, false, 1);
	test_key_pem_formats(rsa, ec, cert);
	test_key_der_formats(rsa, ec);
	X509_free(cert);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

static STACK_OF(X509_EXTENSION) *make_extensions(void)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();

	sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
							 "DNS:gw-0042.example.net"));
	sk_X509_EXTENSION_push(
		exts, X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,digitalSignature"));
	return exts;
}

/* The challengePassword of req: its string type, and whether its text is want. */
static int challenge_type(X509_REQ *req, const char *want)
{
	int i = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
	X509_ATTRIBUTE *a = i >= 0 ? X509_REQ_get_attr(req, i) : NULL;
	ASN1_TYPE *t = a && X509_ATTRIBUTE_count(a) == 1 ? X509_ATTRIBUTE_get0_type(a, 0) : NULL;

	if (!t || (t->type != V_ASN1_PRINTABLESTRING && t->type != V_ASN1_UTF8STRING))
		return -1;
	if (ASN1_STRING_length(t->value.asn1_string) != (int)strlen(want) ||
	    memcmp(ASN1_STRING_get0_data(t->value.asn1_string), want, strlen(want)) != 0)
		return -1;
	return t->type;
}

static X509_REQ *csr_build_parse(struct csr_params *cp, int *out_r)
{
	unsigned char *der = (unsigned char *)1;
	const unsigned char *p;
	size_t len = 0;
	X509_REQ *req = NULL;

	*out_r = crypto_csr_build(cp, &der, &len);
	if (*out_r == 0) {
		p = der;
		req = d2i_X509_REQ(NULL, &p, (long)len);
		if (p != der + len) {
			X509_REQ_free(req);
			req = NULL;
		}
		OPENSSL_free(der);
	}
	return req;
}

struct csr_case {
	enum key_alg alg;
	const char *params;
	const char *signer;
	int md_nid;
	const char *challenge;
	int challenge_type;
	bool exts;
};

/* What a parsed request must hold for case c. */
static void check_csr(X509_REQ *req, const struct csr_case *c, const X509_NAME *subject)
{
	STACK_OF(X509_EXTENSION) *got = NULL;
	int md_nid = -1, pk_nid = -1;

	OBJ_find_sigid_algs(X509_REQ_get_signature_nid(req), &md_nid, &pk_nid);
	ok(md_nid == c->md_nid && X509_NAME_cmp(X509_REQ_get_subject_name(req), subject) == 0,
	   "CSR digest is %s, subject as given", OBJ_nid2sn(c->md_nid));
	ok(c->challenge ? challenge_type(req, c->challenge) == c->challenge_type
			: X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1) < 0,
	   "challengePassword %s", c->challenge ? "present, right string type" : "absent");
	got = X509_REQ_get_extensions(req);
	ok(c->exts ? sk_X509_EXTENSION_num(got) == 2 &&
			     X509v3_get_ext_by_NID(got, NID_subject_alt_name, -1) >= 0
		   : sk_X509_EXTENSION_num(got) <= 0,
	   "extensionRequest %s", c->exts ? "carries SAN and keyUsage" : "absent");
	sk_X509_EXTENSION_pop_free(got, X509_EXTENSION_free);
}

static void test_csrs(void)
{
	static const struct csr_case cases[] = {
		{KEY_ALG_EC, "prime256v1", NULL, NID_sha256, "Zm9v+/YmFy==", V_ASN1_PRINTABLESTRING,
		 true},
		{KEY_ALG_EC, "secp384r1", NULL, NID_sha384, NULL, 0, false},
		{KEY_ALG_EC, "secp521r1", NULL, NID_sha512, NULL, 0, true},
		{KEY_ALG_EC, "prime256v1", "SHA512WITHECDSA", NID_sha512, "p@ss_w\xc3\xb6rd",
		 V_ASN1_UTF8STRING, false},
		{KEY_ALG_RSA, "2048", NULL, NID_sha256, "abc", V_ASN1_PRINTABLESTRING, true},
		{KEY_ALG_RSA, "2048", "sha384withrsa", NID_sha384, NULL, 0, false},
		{KEY_ALG_ED25519, "", NULL, NID_undef, "Zm9vYmFy", V_ASN1_PRINTABLESTRING, true},
		{KEY_ALG_ED25519, "", "ED25519", NID_undef, NULL, 0, false},
	};
	STACK_OF(X509_EXTENSION) *exts = make_extensions();
	X509_NAME *subject = NULL;
	const char *why;
	size_t i;

	dn_parse("CN=unit,O=Test,C=IT", &subject, &why);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct csr_params cp = {0};
		EVP_PKEY *key = NULL;
		X509_REQ *req;
		int r;

		crypto_keygen(cases[i].alg, cases[i].params, &key);
		cp.key = key;
		cp.subject = subject;
		cp.signer = cases[i].signer;
		cp.challenge_password = cases[i].challenge;
		cp.extensions = cases[i].exts ? exts : NULL;
		req = csr_build_parse(&cp, &r);
		ok(r == 0 && req && X509_REQ_verify(req, key) == 1 &&
			   X509_REQ_get_version(req) == 0,
		   "CSR %s %s %s: builds, v1, verifies with the key", alg_name(cases[i].alg),
		   cases[i].params, cases[i].signer ? cases[i].signer : "(default signer)");
		if (req)
			check_csr(req, &cases[i], subject);
		X509_REQ_free(req);
		EVP_PKEY_free(key);
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subject);
}

static void test_csr_errors(void)
{
	struct csr_params cp = {0};
	EVP_PKEY *key = NULL;
	X509_NAME *subject = NULL;
	const char *why;
	int r;

	crypto_keygen(KEY_ALG_EC, "prime256v1", &key);
	dn_parse("CN=unit", &subject, &why);
	cp.key = key;
	cp.subject = subject;
	cp.signer = "SHA256WITHRSA";
	ok(!csr_build_parse(&cp, &r) && r == -EINVAL, "an RSA signer with an EC key is refused");
	cp.signer = "ED25519";
	ok(!csr_build_parse(&cp, &r) && r == -EINVAL, "ED25519 signer with an EC key is refused");
	cp.signer = "bogus";
	ok(!csr_build_parse(&cp, &r) && r == -EINVAL, "an unknown signer is refused");
	cp.signer = NULL;
	cp.challenge_password = "";
	ok(!csr_build_parse(&cp, &r) && r == -EINVAL, "an empty challengePassword is refused");
	X509_NAME_free(subject);
	EVP_PKEY_free(key);
}

static void test_certs_pem(X509 *leaf, X509 *ca, EVP_PKEY *key)
{
	STACK_OF(X509) *certs = (STACK_OF(X509) *)1;
	char *pem = NULL, *key_pem = NULL;
	size_t len = 0, klen = 0;

	crypto_key_to_pem(key, &key_pem, &klen);
	pem = xstrdup(key_pem);
	len = klen;
	ok(crypto_certs_from_pem(pem, len, &certs) == -ENOENT && certs == (STACK_OF(X509) *)1,
	   "a key alone holds no certificate");
	ok(crypto_cert_append_pem(leaf, &pem, &len) == 0 &&
		   crypto_cert_append_pem(ca, &pem, &len) == 0 && len == strlen(pem),
	   "certificates appended as PEM");
	ok(crypto_certs_from_pem(pem, len, &certs) == 0 && sk_X509_num(certs) == 2 &&
		   X509_cmp(sk_X509_value(certs, 0), leaf) == 0 &&
		   X509_cmp(sk_X509_value(certs, 1), ca) == 0,
	   "certificates of the bundle read in order, the key skipped");
	if (certs != (STACK_OF(X509) *)1)
		sk_X509_pop_free(certs, X509_free);
	certs = (STACK_OF(X509) *)1;
	ok(crypto_certs_from_pem(pem, len - 40, &certs) == -EBADMSG && certs == (STACK_OF(X509) *)1,
	   "a cut certificate is refused");
	ok(crypto_certs_from_pem("", 0, &certs) == -ENOENT, "empty buffer: no certificate");
	wipe_free(pem, len);
	wipe_free(key_pem, klen);
}

static void test_chains(void)
{
	EVP_PKEY *ca_key = NULL, *int_key = NULL, *leaf_key = NULL, *other_key = NULL;
	X509 *ca, *inter, *leaf, *other;
	STACK_OF(X509) *roots, *inters, *others;
	time_t now = time(NULL);

	crypto_keygen(KEY_ALG_EC, "prime256v1", &ca_key);
	crypto_keygen(KEY_ALG_EC, "prime256v1", &int_key);
	crypto_keygen(KEY_ALG_EC, "prime256v1", &leaf_key);
	crypto_keygen(KEY_ALG_EC, "prime256v1", &other_key);
	ca = make_cert("Unit Root", ca_key, NULL, NULL, true, 30);
	inter = make_cert("Unit Issuing", int_key, ca, ca_key, true, 20);
	leaf = make_cert("leaf", leaf_key, inter, int_key, false, 10);
	other = make_cert("Other Root", other_key, NULL, NULL, true, 30);
	roots = stack_of(ca, NULL, NULL);
	inters = stack_of(inter, NULL, NULL);
	others = stack_of(other, NULL, NULL);

	ok(crypto_verify_chain(leaf, inters, roots, 0) == 0, "leaf chains to the root");
	ok(crypto_verify_chain(leaf, NULL, roots, 0) == -EBADMSG, "without the intermediate: no");
	ok(crypto_verify_chain(leaf, NULL, inters, 0) == 0, "an intermediate as anchor is enough");
	ok(crypto_verify_chain(leaf, inters, others, 0) == -EBADMSG, "another root: no");
	ok(crypto_verify_chain(leaf, inters, NULL, 0) == -EBADMSG, "no anchors: no");
	ok(crypto_verify_chain(leaf, inters, roots, now + 86400) == 0, "verifies tomorrow");
	ok(crypto_verify_chain(leaf, inters, roots, now + 15 * 86400) == -EBADMSG,
	   "an expired leaf does not verify");
	ok(crypto_verify_chain(leaf, inters, roots, now - 86400) == -EBADMSG,
	   "a leaf not yet valid does not verify");
	ok(crypto_cert_matches_key(leaf, leaf_key), "leaf matches its key");
	ok(!crypto_cert_matches_key(leaf, other_key), "leaf does not match another key");
	test_certs_pem(leaf, inter, leaf_key);

	sk_X509_free(roots);
	sk_X509_free(inters);
	sk_X509_free(others);
	X509_free(ca);
	X509_free(inter);
	X509_free(leaf);
	X509_free(other);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(int_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(other_key);
}

static void test_cert_info(void)
{
	EVP_PKEY *key = NULL;
	X509 *c;
	time_t nb = 0, na = 0, now = time(NULL);
	char fp[65], want[65], *s;
	unsigned char md[32];
	unsigned int i, n = 0;

	crypto_keygen(KEY_ALG_EC, "prime256v1", &key);
	c = make_cert("caf\xc3\xa9, Inc.", key, NULL, NULL, true, 2);
	ok(crypto_cert_validity(c, &nb, &na) == 0 && labs((long)(nb - (now - 3600))) < 5 &&
		   labs((long)(na - (now + 2 * 86400))) < 5,
	   "validity as time_t");
	s = crypto_cert_subject(c);
	ok(s && !strcmp(s, "CN=caf\xc3\xa9\\, Inc."), "subject in RFC 2253 form: %s", s);
	OPENSSL_free(s);
	s = crypto_cert_issuer(c);
	ok(s && !strcmp(s, "CN=caf\xc3\xa9\\, Inc."), "issuer in RFC 2253 form");
	OPENSSL_free(s);
	ASN1_INTEGER_set(X509_get_serialNumber(c), 0x1234AB);
	s = crypto_cert_serial(c);
	ok(s && !strcmp(s, "1234AB"), "serial in hex: %s", s);
	OPENSSL_free(s);
	X509_digest(c, EVP_sha256(), md, &n);
	for (i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	ok(crypto_cert_fingerprint(c, fp) == 0 && !strcmp(fp, want), "SHA-256 fingerprint");
	X509_free(c);
	EVP_PKEY_free(key);
}

static void test_log_errors(void)
{
	ERR_raise_data(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE, "detail %d", 42);
	ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
	crypto_log_errors("unit test: two errors");
	ok(ERR_peek_error() == 0, "crypto_log_errors drains the queue");
	crypto_log_errors("unit test: no error");
	ok(ERR_peek_error() == 0, "crypto_log_errors with an empty queue");
}

/* RFC 7030 4.1.3: NewWithNew, NewWithOld, OldWithNew under the same name. */
static void test_root_key_update(void)
{
	EVP_PKEY *old_key = NULL, *new_key = NULL, *rogue_key = NULL;
	X509 *old_root, *nwn, *nwo, *own, *rogue_nwo, *sub, *expired;
	STACK_OF(X509) *anchors, *update, *bad, *plain;

	crypto_keygen(KEY_ALG_EC, "prime256v1", &old_key);
	crypto_keygen(KEY_ALG_EC, "prime256v1", &new_key);
	crypto_keygen(KEY_ALG_EC, "prime256v1", &rogue_key);
	old_root = make_cert("Root", old_key, NULL, NULL, true, 30);
	nwn = make_cert("Root", new_key, NULL, NULL, true, 3650);
	nwo = make_cert("Root", new_key, old_root, old_key, true, 30);
	own = make_cert("Root", old_key, nwn, new_key, true, 30);
	rogue_nwo = make_cert("Root", new_key, old_root, rogue_key, true, 30);
	sub = make_cert("Sub CA", rogue_key, nwn, new_key, true, 30);
	anchors = stack_of(old_root, NULL, NULL);
	update = stack_of(nwn, nwo, own);
	bad = stack_of(nwn, rogue_nwo, NULL);
	plain = stack_of(old_root, NULL, NULL);
	ok(cacerts_verify_update(anchors, plain) == 0, "the same root again is accepted");
	ok(cacerts_verify_update(anchors, update) == 0, "a root key update is accepted");
	ok(cacerts_verify_update(anchors, bad) == -EBADMSG,
	   "a NewWithOld not signed by the old key is refused");
	sk_X509_pop(bad);
	ok(cacerts_verify_update(anchors, bad) == -EBADMSG, "a bare new root is refused");
	sk_X509_push(update, sub);
	ok(cacerts_verify_update(anchors, update) == 0, "a sub CA under the new root is accepted");
	expired = make_cert("Old Sub CA", rogue_key, nwn, new_key, true, -1);
	sk_X509_push(update, expired);
	ok(cacerts_verify_update(anchors, update) == -EBADMSG,
	   "an expired CA certificate in the set is refused");
	X509_free(expired);
	sk_X509_free(anchors);
	sk_X509_free(update);
	sk_X509_free(bad);
	sk_X509_free(plain);
	X509_free(old_root);
	X509_free(nwn);
	X509_free(nwo);
	X509_free(own);
	X509_free(rogue_nwo);
	X509_free(sub);
	EVP_PKEY_free(old_key);
	EVP_PKEY_free(new_key);
	EVP_PKEY_free(rogue_key);
}

int main(void)
{
	/* Refusals are expected here: keep their log lines out of the way. */
	log_init(getenv("TEST_VERBOSE") ? 1 : -1);
	test_key_params();
	test_signers();
	test_keygen();
	test_key_fits();
	test_key_formats();
	test_csrs();
	test_csr_errors();
	test_chains();
	test_cert_info();
	test_log_errors();
	test_root_key_update();
	return tap_done();
}
