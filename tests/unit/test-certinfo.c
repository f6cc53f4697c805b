/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for what a pass with nothing to do and status read without OpenSSL's providers:
 * PEM blocks (pem.c), SHA-256 (sha256.c), a certificate's fields from its DER (certinfo.c) and
 * its names in RFC 2253 form (dn_print.c). Each is checked against OpenSSL's own reading of
 * certificates made here.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "crypto.h"
#include "dn_print.h"
#include "log.h"
#include "pem.h"
#include "sha256.h"
#include "tap.h"
#include "util.h"

/* A self-signed certificate for key with the given subject, serial (DER content octets of a
 * positive INTEGER via a BIGNUM) and validity. */
static X509 *make_cert(EVP_PKEY *key, X509_NAME *name, const char *serial_hex, time_t nb, time_t na)
{
	X509 *c = X509_new();
	BIGNUM *bn = NULL;

	X509_set_version(c, 2);
	BN_hex2bn(&bn, serial_hex);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c));
	BN_free(bn);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, name);
	ASN1_TIME_set(X509_getm_notBefore(c), nb);
	ASN1_TIME_set(X509_getm_notAfter(c), na);
	X509_set_pubkey(c, key);
	X509_sign(c, key, EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256());
	return c;
}

static X509_NAME *name_of(const char *dn)
{
	X509_NAME *n = X509_NAME_new();
	char *copy = xstrdup(dn), *save = NULL, *part;

	/* "TYPE=VALUE/TYPE=VALUE", most significant first; "+TYPE=VALUE" joins the last RDN. */
	for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		bool join = part[0] == '+';
		char *eq = strchr(part + join, '=');

		*eq = '\0';
		X509_NAME_add_entry_by_txt(n, part + join, MBSTRING_UTF8,
					   (const unsigned char *)eq + 1, -1, -1, join ? 1 : 0);
	}
	free(copy);
	return n;
}

static char *pem_of(X509 *c)
{
	char *pem = NULL;
	size_t len = 0;

	crypto_cert_append_pem(c, &pem, &len);
	return pem;
}

struct got {
	struct certinfo ci;
	char *subject, *issuer, *serial, fp[65];
	const char *type;
	int bits;
	char curve[64];
};

static int take(const struct certinfo *ci, void *ctx)
{
	struct got *g = ctx;

	g->ci = *ci;
	g->subject = certinfo_subject(ci);
	g->issuer = certinfo_issuer(ci);
	g->serial = certinfo_serial(ci);
	sha256_hex(ci->der, ci->der_len, g->fp);
	certinfo_key(ci, &g->type, &g->bits, g->curve, sizeof(g->curve));
	return 1;
}

/* Everything certinfo reads of c equals what OpenSSL reads of it. */
static void check_against_openssl(X509 *c, const char *what)
{
	char *pem = pem_of(c), *want_s = crypto_cert_subject(c), *want_i = crypto_cert_issuer(c);
	char *want_serial = crypto_cert_serial(c), want_fp[65], want_curve[64] = "";
	EVP_PKEY *pk = X509_get0_pubkey(c);
	struct got g = {0};
	time_t nb = 0, na = 0;
	int n;

	crypto_cert_validity(c, &nb, &na);
	crypto_cert_fingerprint(c, want_fp);
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC)
		EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, want_curve,
					       sizeof(want_curve), NULL);
	n = certinfo_each_pem(pem, strlen(pem), take, &g);
	ok(n == 1, "%s: one certificate read", what);
	ok(g.ci.not_before == nb && g.ci.not_after == na, "%s: validity as OpenSSL reads it", what);
	ok(g.subject && !strcmp(g.subject, want_s), "%s: subject %s", what,
	   g.subject ? g.subject : "(null)");
	ok(g.issuer && !strcmp(g.issuer, want_i), "%s: issuer", what);
	ok(g.serial && !strcmp(g.serial, want_serial), "%s: serial %s = %s", what,
	   g.serial ? g.serial : "(null)", want_serial);
	ok(!strcmp(g.fp, want_fp), "%s: SHA-256 of the DER", what);
	ok(g.bits == EVP_PKEY_get_bits(pk) && !strcmp(g.curve, want_curve), "%s: key %s %d %s",
	   what, g.type, g.bits, g.curve);
	OPENSSL_free(g.subject);
	OPENSSL_free(g.issuer);
	OPENSSL_free(g.serial);
	OPENSSL_free(want_s);
	OPENSSL_free(want_i);
	OPENSSL_free(want_serial);
	free(pem);
}

static void test_fields(void)
{
	static const struct {
		enum key_alg alg;
		const char *params, *type;
	} keys[] = {
		{KEY_ALG_EC, "prime256v1", "EC"}, {KEY_ALG_EC, "secp384r1", "EC"},
		{KEY_ALG_EC, "secp521r1", "EC"},  {KEY_ALG_EC, "brainpoolP256r1", "EC"},
		{KEY_ALG_RSA, "2048", "RSA"},	  {KEY_ALG_ED25519, "", "ED25519"},
	};
	static const struct {
		const char *dn, *why;
	} names[] = {
		{"CN=device 1/O=Example", "two RDNs"},
		{"C=DE/O=Ex, Inc./OU=a+b/CN=x;y", "escapes , + ;"},
		{"CN=# lead/O=trail ", "leading # and trailing space"},
		{"CN=\"q\"\\<>", "quote, backslash, angle brackets"},
		{"O=Example/CN=dev/+serialNumber=42", "a multi-valued RDN"},
		{"DC=org/DC=example/UID=u1/emailAddress=a@b.c", "DC, UID, emailAddress"},
		{"CN=caf\xc3\xa9", "UTF-8 (left to OpenSSL)"},
		{"1.2.3.4=x/CN=y", "an OID outside the table (left to OpenSSL)"},
	};
	static const char *serials[] = {"01",
					"00",
					"7F",
					"80",
					"1234AB",
					"00FF00",
					"7C13691BB03FBAB6833FD7F5C81819C75A01CDD5"};
	time_t now = time(NULL);
	EVP_PKEY *key = NULL;
	X509_NAME *n;
	X509 *c;
	size_t i;
	char what[96];

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		ok(crypto_keygen(keys[i].alg, keys[i].params, &key) == 0, "key %s %s", keys[i].type,
		   keys[i].params);
		n = name_of("CN=key test");
		c = make_cert(key, n, "05", now - 60, now + 86400);
		snprintf(what, sizeof(what), "%s %s", keys[i].type, keys[i].params);
		check_against_openssl(c, what);
		X509_free(c);
		X509_NAME_free(n);
		EVP_PKEY_free(key);
		key = NULL;
	}
	crypto_keygen(KEY_ALG_EC, "prime256v1", &key);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		n = name_of(names[i].dn);
		c = make_cert(key, n, "05", now - 60, now + 86400);
		check_against_openssl(c, names[i].why);
		X509_free(c);
		X509_NAME_free(n);
	}
	n = name_of("CN=serial");
	for (i = 0; i < ARRAY_SIZE(serials); i++) {
		c = make_cert(key, n, serials[i], now - 60, now + 86400);
		snprintf(what, sizeof(what), "serial %s", serials[i]);
		check_against_openssl(c, what);
		X509_free(c);
	}
	/* RFC 5280 4.1.2.5: GeneralizedTime from 2050 on, UTCTime before. */
	c = make_cert(key, n, "06", 2524608000 - 1, 4102444800);
	check_against_openssl(c, "UTCTime 2049 and GeneralizedTime 2100");
	X509_free(c);
	X509_NAME_free(n);
	EVP_PKEY_free(key);
}

static void test_refusals(void)
{
	EVP_PKEY *key = NULL;
	X509_NAME *n = name_of("CN=cut");
	X509 *c;
	char *pem, *key_pem = NULL, *cut, fp[65];
	size_t klen = 0;
	time_t nb, na;
	unsigned char *der = NULL;
	struct certinfo ci;
	int dlen;

	crypto_keygen(KEY_ALG_EC, "prime256v1", &key);
	c = make_cert(key, n, "07", 1000000000, 2000000000);
	pem = pem_of(c);
	crypto_key_to_pem(key, &key_pem, &klen);
	ok(certinfo_first_pem(pem, strlen(pem), &nb, &na) == 0 && nb == 1000000000 &&
		   na == 2000000000,
	   "first certificate: its validity");
	cut = xstrndup(pem, strlen(pem) - 40);
	ok(certinfo_first_pem(cut, strlen(cut), &nb, &na) == -EBADMSG,
	   "a cut PEM block is -EBADMSG");
	free(cut);
	ok(certinfo_first_pem(key_pem, klen, &nb, &na) == -ENOENT, "a key alone: -ENOENT");
	dlen = i2d_X509(c, &der);
	ok(certinfo_parse(der, (size_t)dlen, &ci) == 0 && ci.der_len == (size_t)dlen,
	   "the DER reads, its length is the certificate's");
	ok(certinfo_parse(der, (size_t)dlen - 1, &ci) == -EBADMSG, "one byte short: -EBADMSG");
	der[0] = 0x31;
	ok(certinfo_parse(der, (size_t)dlen, &ci) == -EBADMSG, "not a SEQUENCE: -EBADMSG");
	der[0] = 0x30;
	der[1] = 0x80;
	ok(certinfo_parse(der, (size_t)dlen, &ci) == -EBADMSG, "indefinite length: -EBADMSG");
	strcpy(fp, "untouched");
	ok(certinfo_pem_sha256(key_pem, klen, fp) == -ENOENT && !strcmp(fp, "untouched"),
	   "SHA-256 of no certificate: -ENOENT, out untouched");
	ok(ERR_peek_error() == 0, "the OpenSSL error queue is left empty");
	OPENSSL_free(der);
	wipe_free(key_pem, klen);
	free(pem);
	X509_free(c);
	X509_NAME_free(n);
	EVP_PKEY_free(key);
}

/* What certinfo_pem_sha256 should give: SHA-256 over the DER of a, then b. */
static void der_sha256(X509 *a, X509 *b, char out[65])
{
	unsigned char *da = NULL, *db = NULL;
	int la = i2d_X509(a, &da), lb = b ? i2d_X509(b, &db) : 0;
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, da, (size_t)la);
	if (lb)
		sha256_update(&s, db, (size_t)lb);
	sha256_final_hex(&s, out);
	OPENSSL_free(da);
	OPENSSL_free(db);
}

/* Every "\n" of s as "\r\n". Caller frees. */
static char *crlf(const char *s)
{
	char *out = xmalloc(2 * strlen(s) + 1), *o = out;

	for (; *s; s++) {
		if (*s == '\n')
			*o++ = '\r';
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

static void test_certs_digest(void)
{
	char want[65], want_leaf[65], got[65], other[65];
	char *pem = NULL, *edited, *pem_crlf, *key_pem = NULL;
	size_t len = 0, klen = 0, plen;
	time_t now = time(NULL);
	X509_NAME *n1 = name_of("CN=one"), *n2 = name_of("CN=two");
	EVP_PKEY *key = NULL;
	X509 *leaf, *ca;

	crypto_keygen(KEY_ALG_EC, "prime256v1", &key);
	leaf = make_cert(key, n1, "01", now, now + 86400);
	ca = make_cert(key, n2, "02", now, now + 86400);
	der_sha256(leaf, ca, want);
	der_sha256(leaf, NULL, want_leaf);
	crypto_cert_append_pem(leaf, &pem, &len);
	plen = len;
	crypto_cert_append_pem(ca, &pem, &len);
	ok(certinfo_pem_sha256(pem, len, got) == 0 && !strcmp(got, want),
	   "certs DER SHA-256: over the DER of each certificate, in order");
	edited = xasprintf("# our root\n\n%.*s\nsome words between\n  \n%s\n\n", (int)plen, pem,
			   pem + plen);
	ok(certinfo_pem_sha256(edited, strlen(edited), got) == 0 && !strcmp(got, want),
	   "certs DER SHA-256: comments and blank lines do not change it");
	pem_crlf = crlf(pem);
	ok(certinfo_pem_sha256(pem_crlf, strlen(pem_crlf), got) == 0 && !strcmp(got, want),
	   "certs DER SHA-256: CRLF line endings do not change it");
	ok(certinfo_pem_sha256(pem, plen, got) == 0 && !strcmp(got, want_leaf) && strcmp(got, want),
	   "certs DER SHA-256: one certificate fewer changes it");
	free(edited);
	edited = xasprintf("%s%.*s", pem + plen, (int)plen, pem);
	ok(certinfo_pem_sha256(edited, strlen(edited), other) == 0 && strcmp(other, want),
	   "certs DER SHA-256: another order changes it");
	free(edited);
	crypto_key_to_pem(key, &key_pem, &klen);
	edited = xasprintf("%s%s", key_pem, pem);
	ok(certinfo_pem_sha256(edited, strlen(edited), got) == 0 && !strcmp(got, want),
	   "certs DER SHA-256: a private key block is not part of it");
	wipe_str(edited);
	ok(certinfo_pem_sha256("", 0, got) == -ENOENT, "certs DER SHA-256: empty is -ENOENT");
	ok(certinfo_pem_sha256(pem, len - 40, got) == -EBADMSG,
	   "certs DER SHA-256: a cut certificate is -EBADMSG");
	free(pem_crlf);
	free(pem);
	wipe_free(key_pem, klen);
	X509_free(leaf);
	X509_free(ca);
	X509_NAME_free(n1);
	X509_NAME_free(n2);
	EVP_PKEY_free(key);
}

static void test_pem(void)
{
	static const char two[] = "text before\n"
				  "-----BEGIN ONE-----\nAQID\n-----END ONE-----\n"
				  "between\r\n"
				  "-----BEGIN TWO-----\r\nBAUG\r\nBw==\r\n-----END TWO-----\r\n";
	static const char hdr[] = "-----BEGIN RSA PRIVATE KEY-----\n"
				  "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"
				  "AQID\n-----END RSA PRIVATE KEY-----\n";
	static const char mismatch[] = "-----BEGIN ONE-----\nAQID\n-----END TWO-----\n";
	static const char notb64[] = "-----BEGIN ONE-----\nA*ID\n-----END ONE-----\n";
	struct pem_reader r;
	struct pem_block b = {0};

	pem_reader_init(&r, two, strlen(two));
	ok(pem_next(&r, &b) == 1 && !strcmp(b.name, "ONE") && b.len == 3 && b.data[2] == 3 &&
		   !b.header,
	   "PEM: the first block, text before it skipped");
	ok(pem_next(&r, &b) == 1 && !strcmp(b.name, "TWO") && b.len == 4 && b.data[3] == 7,
	   "PEM: the second, CRLF and two base64 lines");
	ok(pem_next(&r, &b) == 0, "PEM: then the end");
	pem_reader_init(&r, hdr, strlen(hdr));
	ok(pem_next(&r, &b) == 1 && b.header && strstr(b.header, "ENCRYPTED") &&
		   !pem_is_plain_key(&b) && b.len == 3,
	   "PEM: RFC 1421 headers kept apart; an encrypted key is not a plain key");
	pem_reader_init(&r, mismatch, strlen(mismatch));
	ok(pem_next(&r, &b) == -EBADMSG && !b.name, "PEM: an END of another label is refused");
	pem_reader_init(&r, notb64, strlen(notb64));
	ok(pem_next(&r, &b) == -EBADMSG, "PEM: a body that is not base64 is refused");
	pem_block_clear(&b);
}

static void test_canonical(void)
{
	EVP_PKEY *key = NULL;
	X509_NAME *n = name_of("CN=canonical");
	X509 *c;
	char *pem, *cr;
	struct pem_reader r;
	struct pem_block b = {0};

	crypto_keygen(KEY_ALG_EC, "prime256v1", &key);
	c = make_cert(key, n, "08", 1000000000, 2000000000);
	pem = pem_of(c);
	pem_reader_init(&r, pem, strlen(pem));
	ok(pem_next(&r, &b) == 1 && pem_is_canonical(&b) && b.text == pem &&
		   b.text_len == strlen(pem),
	   "canonical: OpenSSL's PEM writer's text, the whole block");
	cr = crlf(pem);
	pem_reader_init(&r, cr, strlen(cr));
	ok(pem_next(&r, &b) == 1 && !pem_is_canonical(&b), "canonical: not with CRLF");
	free(cr);
	cr = xstrndup(pem, strlen(pem) - 1);
	pem_reader_init(&r, cr, strlen(cr));
	ok(pem_next(&r, &b) == 1 && !pem_is_canonical(&b), "canonical: not without the last LF");
	free(cr);
	pem_block_clear(&b);
	free(pem);
	X509_free(c);
	X509_NAME_free(n);
	EVP_PKEY_free(key);
}

static void test_sha256(void)
{
	char fp[65];

	sha256_hex("abc", 3, fp);
	ok(!strcmp(fp, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	   "SHA-256 of abc");
	sha256_hex("", 0, fp);
	ok(!strcmp(fp, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	   "SHA-256 of nothing");
}

static void test_dn_print(void)
{
	/* SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, PrintableString "a" } } } */
	static const unsigned char cn_a[] = {0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06,
					     0x03, 0x55, 0x04, 0x03, 0x13, 0x01, 'a'};
	static const unsigned char bmp[] = {0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03,
					    0x55, 0x04, 0x03, 0x1e, 0x02, 0x00, 'a'};
	static const unsigned char empty[] = {0x30, 0x00};
	char *s;

	s = dn_print_der(cn_a, sizeof(cn_a));
	ok(s && !strcmp(s, "CN=a"), "dn_print: CN=a");
	OPENSSL_free(s);
	s = dn_print_der(empty, sizeof(empty));
	ok(s && !strcmp(s, ""), "dn_print: an empty name is empty");
	OPENSSL_free(s);
	ok(!dn_print_der(bmp, sizeof(bmp)), "dn_print: a BMPString is left to OpenSSL");
	ok(!dn_print_der(cn_a, sizeof(cn_a) - 1), "dn_print: a cut name is NULL");
}

int main(void)
{
	log_init(getenv("TEST_VERBOSE") ? 1 : -1);
	test_pem();
	test_sha256();
	test_fields();
	test_refusals();
	test_certs_digest();
	test_canonical();
	test_dn_print();
	return tap_done();
}
