/* SPDX-License-Identifier: MIT */
/* Unit tests for crypto.c, pkcs7.c and cacerts.c: keys, subjects, CSRs, chains, root key update. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "cacerts.h"
#include "crypto.h"
#include "pkcs7.h"
#include "tap.h"
#include "util.h"

static void test_key_params(void)
{
	static const struct {
		enum key_alg alg;
		const char *params;
		int ok;
	} cases[] = {
		{ KEY_ALG_EC, "prime256v1", 1 }, { KEY_ALG_EC, "secp384r1", 1 },
		{ KEY_ALG_EC, "P-521", 1 }, { KEY_ALG_EC, "brainpoolP256r1", 1 },
		{ KEY_ALG_EC, "curve25519x", 0 }, { KEY_ALG_EC, "2048", 0 },
		{ KEY_ALG_RSA, "2048", 1 }, { KEY_ALG_RSA, "8192", 1 }, { KEY_ALG_RSA, "1024", 0 },
		{ KEY_ALG_RSA, "9000", 0 }, { KEY_ALG_RSA, "big", 0 }, { KEY_ALG_ED25519, "", 1 },
		{ KEY_ALG_ED25519, "2048", 0 },
	};
	const char *why = NULL;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		ok((crypto_check_key_params(cases[i].alg, cases[i].params, &why) == 0) == cases[i].ok,
		   "key_params %s for %s is %s", cases[i].params, config_key_alg_name(cases[i].alg),
		   cases[i].ok ? "accepted" : "refused");
}

static void test_signers(void)
{
	static const struct {
		enum key_alg alg;
		const char *signer;
		int ok;
	} cases[] = {
		{ KEY_ALG_EC, "SHA256WITHECDSA", 1 }, { KEY_ALG_EC, "sha384withecdsa", 1 },
		{ KEY_ALG_EC, "SHA256WITHRSA", 0 }, { KEY_ALG_RSA, "SHA512WITHRSA", 1 },
		{ KEY_ALG_RSA, "SHA256WITHECDSA", 0 }, { KEY_ALG_ED25519, "ED25519", 1 },
		{ KEY_ALG_ED25519, "SHA256WITHECDSA", 0 }, { KEY_ALG_EC, "MD5WITHRSA", 0 },
	};
	const char *why = NULL;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		ok((crypto_check_signer(cases[i].alg, cases[i].signer, &why) == 0) == cases[i].ok,
		   "signer %s for %s is %s", cases[i].signer, config_key_alg_name(cases[i].alg),
		   cases[i].ok ? "accepted" : "refused");
}

static char *name_text(X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s;
	long n;

	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	n = BIO_get_mem_data(bio, &s);
	s = xstrndup(s, (size_t)n);
	BIO_free(bio);
	return s;
}

static void test_subjects(void)
{
	static const struct {
		const char *in;
		const char *want;	/* RFC 2253 print; NULL: refused */
		int first_nid;		/* first RDN in DER order */
	} cases[] = {
		{ "CN=gw-0042,O=Example,C=IT", "CN=gw-0042,O=Example,C=IT", NID_countryName },
		{ " CN = gw , O = Ex ", "CN=gw,O=Ex", NID_organizationName },
		{ "CN=a\\,b,O=x", "CN=a\\,b,O=x", NID_organizationName },
		/* DER sorts the members of a multi-valued RDN. */
		{ "CN=a+serialNumber=42,C=IT", "serialNumber=42+CN=a,C=IT", NID_countryName },
		{ "2.5.4.3=oid-name", "CN=oid-name", NID_commonName },
		{ "CN=caf\\C3\\A9", "CN=caf\xc3\xa9", NID_commonName },
		{ "CN=trailing\\ ", "CN=trailing\\ ", NID_commonName },
		{ "emailAddress=a@b.c,DC=example,DC=net", "emailAddress=a@b.c,DC=example,DC=net", NID_domainComponent },
		{ "", NULL, 0 }, { "CN", NULL, 0 }, { "XX=1", NULL, 0 }, { "CN=", NULL, 0 },
		{ "CN=a,", NULL, 0 }, { "CN=a\\q", NULL, 0 }, { "CN=#0403666f6f", NULL, 0 },
		{ "C=ITA", NULL, 0 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		X509_NAME *name = NULL;
		const char *why = NULL;
		int r = crypto_subject_parse(cases[i].in, &name, &why);

		if (!cases[i].want) {
			ok(r == -EINVAL && why && !name, "subject '%s' refused (%s)", cases[i].in,
			   why ? why : "?");
			continue;
		}
		char *text = r == 0 ? name_text(name) : NULL;

		ok(r == 0 && !strcmp(text, cases[i].want), "subject '%s' -> '%s'", cases[i].in,
		   text ? text : why);
		ok(r == 0 && OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, 0))) ==
				     cases[i].first_nid,
		   "subject '%s': DER order is the reverse of the string", cases[i].in);
		free(text);
		X509_NAME_free(name);
	}
}

static void test_keys_and_csrs(void)
{
	static const struct {
		enum key_alg alg;
		const char *params;
		const char *signer;
		int md_nid;
	} cases[] = {
		{ KEY_ALG_EC, "prime256v1", NULL, NID_sha256 },
		{ KEY_ALG_EC, "secp384r1", NULL, NID_sha384 },
		{ KEY_ALG_EC, "prime256v1", "SHA512WITHECDSA", NID_sha512 },
		{ KEY_ALG_RSA, "2048", "sha384withrsa", NID_sha384 },
		{ KEY_ALG_ED25519, "", NULL, NID_undef },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		EVP_PKEY *key = NULL, *back = NULL;
		X509_NAME *subject = NULL;
		unsigned char *der = NULL;
		const unsigned char *p;
		X509_REQ *req = NULL;
		char *pem = NULL;
		size_t len = 0, der_len = 0;
		const char *why;
		int md_nid = -1, pk_nid;
		struct csr_params cp = { 0 };

		ok(crypto_keygen(cases[i].alg, cases[i].params, &key) == 0, "keygen %s %s",
		   config_key_alg_name(cases[i].alg), cases[i].params);
		ok(crypto_key_to_pem(key, &pem, &len) == 0 && strstr(pem, "PRIVATE KEY"),
		   "key to PEM");
		ok(crypto_key_from_pem(pem, len, &back) == 0 && EVP_PKEY_eq(key, back) == 1,
		   "PEM to key round-trips");
		crypto_subject_parse("CN=unit,O=Test", &subject, &why);
		cp.key = key;
		cp.subject = subject;
		cp.signer = cases[i].signer;
		cp.challenge_password = "Zm9vYmFyMTIzNDU2";
		ok(crypto_csr_build(&cp, &der, &der_len) == 0, "CSR builds");
		p = der;
		req = d2i_X509_REQ(NULL, &p, (long)der_len);
		ok(req && X509_REQ_verify(req, key) == 1, "CSR verifies with the key");
		OBJ_find_sigid_algs(X509_REQ_get_signature_nid(req), &md_nid, &pk_nid);
		ok(md_nid == cases[i].md_nid, "CSR digest is %s", OBJ_nid2sn(cases[i].md_nid));
		ok(X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1) >= 0,
		   "CSR carries the challengePassword");
		X509_REQ_free(req);
		OPENSSL_free(der);
		X509_NAME_free(subject);
		wipe_free(pem, len);
		EVP_PKEY_free(key);
		EVP_PKEY_free(back);
	}
}

/* A certificate for key named cn, signed by issuer_key under issuer (NULL: self-signed). */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
		       bool ca, long days)
{
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), (long)rand());
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), days * 86400);
	X509_set_pubkey(c, key);
	X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
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

static void test_chains_and_pkcs7(void)
{
	EVP_PKEY *ca_key = NULL, *leaf_key = NULL, *other_key = NULL;
	X509 *ca, *leaf, *other;
	STACK_OF(X509) *anchors, *others, *parsed = NULL;
	unsigned char *der = NULL, *garbage;
	PKCS7 *p7;
	int len;

	crypto_keygen(KEY_ALG_EC, "prime256v1", &ca_key);
	crypto_keygen(KEY_ALG_EC, "prime256v1", &leaf_key);
	crypto_keygen(KEY_ALG_EC, "prime256v1", &other_key);
	ca = make_cert("Unit Root", ca_key, NULL, NULL, true, 30);
	leaf = make_cert("leaf", leaf_key, ca, ca_key, false, 10);
	other = make_cert("Other Root", other_key, NULL, NULL, true, 30);
	anchors = stack_of(ca, NULL, NULL);
	others = stack_of(other, NULL, NULL);
	ok(crypto_verify_chain(leaf, NULL, anchors, 0) == 0, "leaf chains to its CA");
	ok(crypto_verify_chain(leaf, NULL, others, 0) == -EBADMSG, "leaf does not chain to another CA");
	ok(crypto_verify_chain(leaf, NULL, anchors, time(NULL) + 20 * 86400) == -EBADMSG,
	   "an expired leaf does not verify");
	ok(crypto_cert_matches_key(leaf, leaf_key), "leaf matches its key");
	ok(!crypto_cert_matches_key(leaf, other_key), "leaf does not match another key");

	p7 = PKCS7_new();
	PKCS7_set_type(p7, NID_pkcs7_signed);
	PKCS7_content_new(p7, NID_pkcs7_data);
	PKCS7_add_certificate(p7, leaf);
	PKCS7_add_certificate(p7, ca);
	len = i2d_PKCS7(p7, &der);
	ok(pkcs7_certs_parse(der, (size_t)len, &parsed) == 0 && sk_X509_num(parsed) == 2 &&
		   X509_cmp(sk_X509_value(parsed, 0), leaf) == 0,
	   "certs-only PKCS#7 parses in order");
	sk_X509_pop_free(parsed, X509_free);
	parsed = NULL;
	ok(pkcs7_certs_parse(der, (size_t)len - 1, &parsed) == -EBADMSG, "truncated PKCS#7 refused");
	garbage = xmalloc((size_t)len + 1);
	memcpy(garbage, der, (size_t)len);
	garbage[len] = 0;
	ok(pkcs7_certs_parse(garbage, (size_t)len + 1, &parsed) == -EBADMSG,
	   "PKCS#7 with trailing bytes refused");
	ok(pkcs7_certs_parse((const unsigned char *)"hello", 5, &parsed) == -EBADMSG,
	   "garbage refused");
	free(garbage);
	OPENSSL_free(der);
	PKCS7_free(p7);
	p7 = PKCS7_new();
	PKCS7_set_type(p7, NID_pkcs7_signed);
	PKCS7_content_new(p7, NID_pkcs7_data);
	der = NULL;
	len = i2d_PKCS7(p7, &der);
	ok(pkcs7_certs_parse(der, (size_t)len, &parsed) == -ENOENT, "PKCS#7 without certificates");
	OPENSSL_free(der);
	PKCS7_free(p7);

	sk_X509_free(anchors);
	sk_X509_free(others);
	X509_free(ca);
	X509_free(leaf);
	X509_free(other);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(other_key);
}

/* RFC 7030 4.1.3: NewWithNew, NewWithOld, OldWithNew under the same name. */
static void test_root_key_update(void)
{
	EVP_PKEY *old_key = NULL, *new_key = NULL, *rogue_key = NULL;
	X509 *old_root, *nwn, *nwo, *own, *rogue_nwo, *sub;
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
	test_key_params();
	test_signers();
	test_subjects();
	test_keys_and_csrs();
	test_chains_and_pkcs7();
	test_root_key_update();
	return tap_done();
}
