/* SPDX-License-Identifier: MIT */
/* Unit tests for csrattrs.c: RFC 7030 attributes and OIDs, RFC 9908 templates, what is skipped. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "csrattrs.h"
#include "dn.h"
#include "log.h"
#include "util.h"
#include "tap.h"

/* Made with tests/est_interop.py's encoder. */
/* RFC 7030 4.5.2's example as printed. */
static const unsigned char rfc7030_example[] = {
	0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07, 0x30,
	0x12, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x31, 0x07, 0x06, 0x05,
	0x2b, 0x81, 0x04, 0x00, 0x22, 0x30, 0x16, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	0x0d, 0x01, 0x09, 0x0e, 0x31, 0x09, 0x06, 0x07, 0x2b, 0x06, 0x01, 0x01, 0x01, 0x01,
	0x16, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
};

/* est-server.py --print-csrattrs rfc9908 */
static const unsigned char rfc9908_template[] = {
	0x30, 0x81, 0xa7, 0x30, 0x81, 0x9a, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x09, 0x10, 0x02, 0x3d, 0x31, 0x81, 0x8a, 0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x20,
	0x31, 0x07, 0x30, 0x05, 0x06, 0x03, 0x55, 0x04, 0x03, 0x31, 0x15, 0x30, 0x13, 0x06, 0x03,
	0x55, 0x04, 0x0a, 0x0c, 0x0c, 0x54, 0x65, 0x6d, 0x70, 0x6c, 0x61, 0x74, 0x65, 0x20, 0x4f,
	0x72, 0x67, 0xa0, 0x15, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0xa1, 0x49, 0x30, 0x47, 0x06,
	0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x3e, 0x31, 0x38, 0x30,
	0x36, 0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04, 0x16, 0x30, 0x14, 0x82, 0x10, 0x74,
	0x6d, 0x70, 0x6c, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74,
	0x87, 0x00, 0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x04, 0x03,
	0x02, 0x03, 0x88, 0x30, 0x05, 0x06, 0x03, 0x55, 0x1d, 0x25, 0x06, 0x08, 0x2a, 0x86, 0x48,
	0xce, 0x3d, 0x04, 0x03, 0x04,
};

/* est-server.py --print-csrattrs bad-attr */
static const unsigned char bad_attr[] = {
	0x30, 0x59, 0x30, 0x2a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x09, 0x0e, 0x31, 0x1d, 0x30, 0x1b, 0x30, 0x19, 0x06, 0x03, 0x55, 0x1d, 0x11,
	0x04, 0x12, 0x30, 0x10, 0x82, 0x0e, 0x67, 0x77, 0x2e, 0x65, 0x78, 0x61, 0x6d,
	0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86,
	0x48, 0xce, 0x3d, 0x02, 0x01, 0x02, 0x01, 0x05, 0x30, 0x13, 0x06, 0x09, 0x2a,
	0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e, 0x31, 0x06, 0x04, 0x04, 0x6a,
	0x75, 0x6e, 0x6b, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
};

/* est-server.py --print-csrattrs ec384 */
static const unsigned char ec384[] = {
	0x30, 0x1e, 0x30, 0x12, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x31, 0x07, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
};

/* est-server.py --print-csrattrs rsa */
static const unsigned char rsa3072[] = {
	0x30, 0x13, 0x30, 0x11, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	0x0d, 0x01, 0x01, 0x01, 0x31, 0x04, 0x02, 0x02, 0x0c, 0x00,
};

/* A template of version 1 (malformed), then a legacy id-ecPublicKey { secp384r1 }. */
static const unsigned char template_bad_then_legacy[] = {
	0x30, 0x2c, 0x30, 0x16, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
	0x01, 0x09, 0x10, 0x02, 0x3d, 0x31, 0x07, 0x30, 0x05, 0x02, 0x01, 0x01,
	0xa1, 0x00, 0x30, 0x12, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
	0x01, 0x31, 0x07, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22,
};

/* Template: subject { CN (blank) + serialNumber=SN-7, OU (blank), OU=Ops, OU (blank) },
 * attributes { extensionRequest { extKeyUsage clientAuth }, challengePassword }. */
static const unsigned char template_multi[] = {
	0x30, 0x81, 0x88, 0x30, 0x81, 0x85, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
	0x01, 0x09, 0x10, 0x02, 0x3d, 0x31, 0x76, 0x30, 0x74, 0x02, 0x01, 0x00, 0x30, 0x36,
	0x31, 0x14, 0x30, 0x05, 0x06, 0x03, 0x55, 0x04, 0x03, 0x30, 0x0b, 0x06, 0x03, 0x55,
	0x04, 0x05, 0x13, 0x04, 0x53, 0x4e, 0x2d, 0x37, 0x31, 0x07, 0x30, 0x05, 0x06, 0x03,
	0x55, 0x04, 0x0b, 0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x0b, 0x0c, 0x03,
	0x4f, 0x70, 0x73, 0x31, 0x07, 0x30, 0x05, 0x06, 0x03, 0x55, 0x04, 0x0b, 0xa1, 0x37,
	0x30, 0x24, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e, 0x31,
	0x17, 0x30, 0x15, 0x30, 0x13, 0x06, 0x03, 0x55, 0x1d, 0x25, 0x04, 0x0c, 0x30, 0x0a,
	0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02, 0x30, 0x0f, 0x06, 0x09,
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07, 0x31, 0x02, 0x0c, 0x00,
};

/* Template whose subjectAltName holds only blanks: an empty iPAddress, a NULL-DN. */
static const unsigned char template_san_blanks[] = {
	0x30, 0x3c, 0x30, 0x3a, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x09, 0x10, 0x02, 0x3d, 0x31, 0x2b, 0x30, 0x29, 0x02, 0x01, 0x00, 0xa1, 0x24,
	0x30, 0x22, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10,
	0x02, 0x3e, 0x31, 0x13, 0x30, 0x11, 0x30, 0x0f, 0x06, 0x03, 0x55, 0x1d, 0x11,
	0x04, 0x08, 0x30, 0x06, 0x87, 0x00, 0xa4, 0x02, 0x30, 0x00,
};

/* Two extensionRequests, each with a subjectAltName (first, then second.example.net). */
static const unsigned char two_ext_reqs[] = {
	0x30, 0x5f, 0x30, 0x2d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09,
	0x0e, 0x31, 0x20, 0x30, 0x1e, 0x30, 0x1c, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04, 0x15,
	0x30, 0x13, 0x82, 0x11, 0x66, 0x69, 0x72, 0x73, 0x74, 0x2e, 0x65, 0x78, 0x61, 0x6d,
	0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74, 0x30, 0x2e, 0x06, 0x09, 0x2a, 0x86, 0x48,
	0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e, 0x31, 0x21, 0x30, 0x1f, 0x30, 0x1d, 0x06, 0x03,
	0x55, 0x1d, 0x11, 0x04, 0x16, 0x30, 0x14, 0x82, 0x12, 0x73, 0x65, 0x63, 0x6f, 0x6e,
	0x64, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74,
};

static char err_path[] = "/tmp/test-csrattrs.XXXXXX";

/* Parses der with stderr in a file; *out_log holds what was logged. */
static int parse(const unsigned char *der, size_t len, struct csrattrs **out, char **out_log)
{
	int saved, fd = open(err_path, O_WRONLY | O_TRUNC | O_CLOEXEC), r;
	size_t n;

	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);
	*out = NULL;
	r = csrattrs_parse(der, len, out);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (read_file(err_path, 1 << 16, out_log, &n) < 0)
		*out_log = xstrdup("");
	return r;
}

static int count(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

static X509_EXTENSION *ext_of(const struct csrattrs *a, int nid)
{
	int i;

	for (i = 0; a && i < sk_X509_EXTENSION_num(a->extensions); i++)
		if (OBJ_obj2nid(X509_EXTENSION_get_object(
			    sk_X509_EXTENSION_value(a->extensions, i))) == nid)
			return sk_X509_EXTENSION_value(a->extensions, i);
	return NULL;
}

/* The subjectAltName of a as "DNS:a, IP:b" (GENERAL_NAME_print), "" when none. */
static void san_text(const struct csrattrs *a, char *buf, size_t len)
{
	X509_EXTENSION *ext = ext_of(a, NID_subject_alt_name);
	GENERAL_NAMES *names = ext ? X509V3_EXT_d2i(ext) : NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n = 0;
	int i;

	for (i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		if (i)
			BIO_puts(bio, ", ");
		GENERAL_NAME_print(bio, sk_GENERAL_NAME_value(names, i));
	}
	n = BIO_get_mem_data(bio, &data);
	snprintf(buf, len, "%.*s", (int)n, data ? data : "");
	GENERAL_NAMES_free(names);
	BIO_free(bio);
}

static void test_rfc7030_example(void)
{
	struct csrattrs *a = NULL;
	char *log = NULL;

	ok(parse(rfc7030_example, sizeof(rfc7030_example), &a, &log) == 0 && a,
	   "RFC 7030 4.5.2's example parses (its extensionRequest holds a bare OID)");
	if (!a)
		goto out;
	ok(a->challenge_password, "it asks for challengePassword");
	ok(a->key_type == EVP_PKEY_EC && a->curve_nid == NID_secp384r1, "for an EC key on P-384");
	ok(a->md == EVP_sha384(), "signed with SHA-384");
	ok(!a->extensions && !a->subject && !a->from_template, "nothing else");
	ok(count(log, "warning: ") == 1 && strstr(log, "1.3.6.1.1.1.1.22 to fill in"),
	   "one warning: the macAddress it cannot provide (%s)", log);
	ok(!strstr(log, "error"), "no error");
	ok(csrattrs_check_key(a, KEY_ALG_EC, "secp384r1") == 0, "P-384 configured: accepted");
out:
	csrattrs_free(a);
	free(log);
}

static void test_rfc9908_template(void)
{
	X509_EXTENSION *ku;
	struct csrattrs *a = NULL;
	char *log = NULL, san[256];

	ok(parse(rfc9908_template, sizeof(rfc9908_template), &a, &log) == 0 && a,
	   "RFC 9908 template parses");
	if (!a)
		goto out;
	ok(a->from_template, "the template is followed");
	ok(a->key_type == EVP_PKEY_EC && a->curve_nid == NID_X9_62_prime256v1,
	   "its key: EC on P-256");
	ok(!a->md, "the ecdsa-with-SHA512 outside the template is ignored (RFC 9908 4)");
	ok(a->subject && X509_NAME_entry_count(a->subject) == 2, "its subject has two entries");
	san_text(a, san, sizeof(san));
	ok(!strcmp(san, "DNS:tmpl.example.net"),
	   "subjectAltName kept without the empty iPAddress to fill in: '%s'", san);
	ku = ext_of(a, NID_key_usage);
	ok(ku && X509_EXTENSION_get_critical(ku), "keyUsage, critical as asked");
	ok(!ext_of(a, NID_ext_key_usage), "extKeyUsage without a value is left out");
	ok(count(log, "warning: ") == 1 && strstr(log, "extendedKeyUsage to fill in"),
	   "one warning names it: %s", log);
out:
	csrattrs_free(a);
	free(log);
}

static void test_bad_attribute(void)
{
	struct csrattrs *a = NULL;
	char *log = NULL, san[256];

	ok(parse(bad_attr, sizeof(bad_attr), &a, &log) == 0 && a,
	   "three malformed attributes among good ones: still parses");
	if (!a)
		goto out;
	san_text(a, san, sizeof(san));
	ok(!strcmp(san, "DNS:gw.example.net"), "the good extensionRequest is kept: '%s'", san);
	ok(a->md == EVP_sha384(), "the good signature OID is kept");
	ok(count(log, "warning: ") == 1 && strstr(log, "skipped 3 malformed attribute(s)"),
	   "one warning for the three: %s", log);
out:
	csrattrs_free(a);
	free(log);
}

/* Found by fuzz-csrattrs: a second extension of a type replaced the first badly. */
static void test_duplicate_extensions(void)
{
	struct csrattrs *a = NULL;
	char *log = NULL, san[256] = "";

	ok(parse(two_ext_reqs, sizeof(two_ext_reqs), &a, &log) == 0 && a,
	   "two extensionRequests with a subjectAltName each");
	san_text(a, san, sizeof(san));
	ok(a && sk_X509_EXTENSION_num(a->extensions) == 1 && !strcmp(san, "DNS:second.example.net"),
	   "one subjectAltName is requested, the last: '%s'", san);
	csrattrs_free(a);
	free(log);
}

static void test_legacy_keys(void)
{
	struct csrattrs *a = NULL;
	char *log = NULL;

	ok(parse(ec384, sizeof(ec384), &a, &log) == 0 && a && a->curve_nid == NID_secp384r1 &&
		   a->key_type == EVP_PKEY_EC && a->md == EVP_sha384() && !*log,
	   "id-ecPublicKey { secp384r1 } and ecdsa-with-SHA384, silently");
	ok(a && csrattrs_check_key(a, KEY_ALG_EC, "prime256v1") == -EPROTO,
	   "P-256 configured: refused");
	ok(a && csrattrs_check_key(a, KEY_ALG_RSA, "2048") == -EPROTO, "RSA configured: refused");
	csrattrs_free(a);
	free(log);
	ok(parse(rsa3072, sizeof(rsa3072), &a, &log) == 0 && a && a->rsa_bits == 3072 &&
		   a->key_type == EVP_PKEY_RSA,
	   "rsaEncryption { 3072 }");
	ok(a && csrattrs_check_key(a, KEY_ALG_RSA, "2048") == -EPROTO &&
		   csrattrs_check_key(a, KEY_ALG_RSA, "3072") == 0,
	   "RSA size checked against key_params");
	csrattrs_free(a);
	free(log);
}

/* DER TLV of tag around content (lengths up to 64 KiB). Caller frees. */
static unsigned char *wrap(unsigned char tag, const unsigned char *content, size_t len,
			   size_t *out_len)
{
	unsigned char *p = xmalloc(len + 4);
	size_t h = len < 0x80 ? 2 : len < 0x100 ? 3 : 4;

	p[0] = tag;
	if (h == 2) {
		p[1] = (unsigned char)len;
	} else if (h == 3) {
		p[1] = 0x81;
		p[2] = (unsigned char)len;
	} else {
		p[1] = 0x82;
		p[2] = (unsigned char)(len >> 8);
		p[3] = (unsigned char)len;
	}
	memcpy(p + h, content, len);
	*out_len = h + len;
	return p;
}

/* A template whose subjectPKInfo carries a real RSA public key: its size is asked for. */
static void test_template_rsa(void)
{
	static const unsigned char head[] = {0x02, 0x01, 0x00}; /* version 0 */
	static const unsigned char oid[] = {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7,
					    0x0d, 0x01, 0x09, 0x10, 0x02, 0x3d}; /* template */
	EVP_PKEY *key = EVP_RSA_gen(2048);
	unsigned char *spki = NULL, *buf = NULL, *t = NULL, *set = NULL, *attr = NULL, *all = NULL;
	size_t n, tn, sn, an, alln;
	struct csrattrs *a = NULL;
	char *log = NULL;
	int len = key ? i2d_PUBKEY(key, &spki) : -1;

	if (len < 0) {
		ok(0, "cannot make an RSA key");
		goto out;
	}
	spki[0] = 0xa0; /* [0] IMPLICIT SubjectPublicKeyInfoTemplate */
	n = sizeof(head) + (size_t)len + 2;
	buf = xmalloc(n);
	memcpy(buf, head, sizeof(head));
	memcpy(buf + sizeof(head), spki, (size_t)len);
	memcpy(buf + sizeof(head) + len, "\xa1\x00", 2); /* [1] no attributes */
	t = wrap(0x30, buf, n, &tn);
	set = wrap(0x31, t, tn, &sn);
	free(buf);
	buf = xmalloc(sizeof(oid) + sn);
	memcpy(buf, oid, sizeof(oid));
	memcpy(buf + sizeof(oid), set, sn);
	attr = wrap(0x30, buf, sizeof(oid) + sn, &an);
	all = wrap(0x30, attr, an, &alln);
	ok(parse(all, alln, &a, &log) == 0 && a && a->from_template, "template with an RSA key");
	ok(a && a->key_type == EVP_PKEY_RSA && a->rsa_bits == 2048,
	   "its key type and size (%d bits)", a ? a->rsa_bits : 0);
	ok(a && csrattrs_check_key(a, KEY_ALG_RSA, "3072") == -EPROTO,
	   "another size configured: refused");
out:
	csrattrs_free(a);
	free(log);
	free(all);
	free(attr);
	free(set);
	free(t);
	free(buf);
	OPENSSL_free(spki);
	EVP_PKEY_free(key);
}

static void test_template_fallback(void)
{
	struct csrattrs *a = NULL;
	char *log = NULL;

	ok(parse(template_bad_then_legacy, sizeof(template_bad_then_legacy), &a, &log) == 0 && a,
	   "a malformed template beside legacy attributes: parses");
	ok(a && !a->from_template && a->curve_nid == NID_secp384r1,
	   "the legacy attributes count then");
	ok(count(log, "warning: ") == 1 && strstr(log, "skipped 1 malformed"),
	   "the template counted once as malformed: %s", log);
	csrattrs_free(a);
	free(log);
	ok(parse(template_san_blanks, sizeof(template_san_blanks), &a, &log) == 0 && a &&
		   !ext_of(a, NID_subject_alt_name) && strstr(log, "subjectAltName to fill in"),
	   "a subjectAltName of blanks only is left out, said so");
	csrattrs_free(a);
	free(log);
}

static char *name_of(const X509_NAME *n)
{
	char *s = crypto_name_string(n), *c = xstrdup(s ? s : "?");

	OPENSSL_free(s);
	return c;
}

static void test_template_subject(void)
{
	X509_NAME *cfg = NULL, *got = NULL;
	struct csrattrs *a = NULL;
	const char *why = NULL;
	char *log = NULL, *s;
	X509_EXTENSION *eku;

	ok(parse(template_multi, sizeof(template_multi), &a, &log) == 0 && a && a->subject,
	   "template with a multi-valued RDN and blanks");
	if (!a)
		goto out;
	eku = ext_of(a, NID_ext_key_usage);
	ok(eku && a->challenge_password, "its attributes: an extensionRequest, challengePassword");
	ok(dn_parse("CN=gw-0042,OU=Lab,OU=Field,O=Example,C=IT", &cfg, &why) == 0, "dn_parse");
	ok(csrattrs_subject(a, cfg, &got) == 0, "the template's subject is filled in");
	s = got ? name_of(got) : xstrdup("");
	/* RFC 4514 strings, dn_parse's input and this output, name the last RDN first: the
	 * configured OUs are Field, then Lab, and fill the template's blanks in that order. */
	ok(!strcmp(s, "OU=Lab,OU=Ops,OU=Field,serialNumber=SN-7+CN=gw-0042"),
	   "blanks take the configured values in order, the RDN stays multi-valued: %s", s);
	free(s);
	X509_NAME_free(got);
	got = NULL;
	X509_NAME_free(cfg);
	cfg = NULL;
	ok(dn_parse("CN=gw-0042,OU=Lab,C=IT", &cfg, &why) == 0, "dn_parse");
	ok(csrattrs_subject(a, cfg, &got) == -ENOENT && !got,
	   "a blank the configured subject cannot fill: -ENOENT");
	csrattrs_free(a);
	a = NULL;
	ok(csrattrs_subject(a, cfg, &got) == -ENOENT, "no template: -ENOENT");
out:
	X509_NAME_free(cfg);
	X509_NAME_free(got);
	csrattrs_free(a);
	free(log);
}

static void test_not_csrattrs(void)
{
	static const unsigned char empty[] = {0x30, 0x00};
	static const unsigned char trailing[] = {0x30, 0x00, 0x00};
	static const unsigned char set[] = {0x31, 0x00};
	static const unsigned char indefinite[] = {0x30, 0x80, 0x00, 0x00};
	static const unsigned char inner_cut[] = {0x30, 0x04, 0x06, 0x09, 0x2a, 0x86};
	struct csrattrs *a = NULL;
	char *log = NULL;
	size_t n;
	int bad = 0;

	ok(parse(empty, sizeof(empty), &a, &log) == 0 && a && !a->extensions && !*log,
	   "an empty SEQUENCE: no attributes, silently");
	csrattrs_free(a);
	free(log);
	ok(parse(trailing, sizeof(trailing), &a, &log) == -EBADMSG && !a,
	   "trailing bytes: refused");
	free(log);
	ok(parse(set, sizeof(set), &a, &log) == -EBADMSG && strstr(log, "warning: "),
	   "a SET: refused with a warning");
	free(log);
	ok(parse(indefinite, sizeof(indefinite), &a, &log) == -EBADMSG, "BER indefinite length");
	free(log);
	ok(parse((const unsigned char *)"", 0, &a, &log) == -EBADMSG, "nothing: refused");
	free(log);
	ok(parse(inner_cut, sizeof(inner_cut), &a, &log) == 0 && a &&
		   strstr(log, "skipped 1 malformed"),
	   "an item cut short inside the SEQUENCE: skipped");
	csrattrs_free(a);
	free(log);
	/* Every prefix and every one-byte corruption of the template: no crash, no leak. */
	for (n = 0; n < sizeof(rfc9908_template); n++) {
		unsigned char copy[sizeof(rfc9908_template)];

		if (parse(rfc9908_template, n, &a, &log) == 0 && n != sizeof(rfc9908_template))
			bad++;
		csrattrs_free(a);
		free(log);
		memcpy(copy, rfc9908_template, sizeof(copy));
		copy[n] ^= 0x5a;
		parse(copy, sizeof(copy), &a, &log);
		csrattrs_free(a);
		free(log);
	}
	ok(!bad, "no prefix of a template parses as a whole answer");
}

int main(void)
{
	int fd;

	log_init(0);
	unsetenv("JOURNAL_STREAM");
	fd = mkstemp(err_path);
	if (fd < 0) {
		printf("Bail out! mkstemp\n");
		return 1;
	}
	close(fd);
	test_rfc7030_example();
	test_rfc9908_template();
	test_bad_attribute();
	test_duplicate_extensions();
	test_legacy_keys();
	test_template_rsa();
	test_template_fallback();
	test_template_subject();
	test_not_csrattrs();
	unlink(err_path);
	return tap_done();
}
