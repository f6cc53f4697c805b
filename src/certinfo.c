/* SPDX-License-Identifier: MIT */
/*
 * What a certificate says, read from its DER without decoding its public key. OpenSSL 3 turns
 * every parsed certificate's key into an EVP_PKEY through its provider decoders: ~1 M
 * instructions a certificate, and the providers' start on the first. A pass that finds nothing
 * due, status and the ca_root fingerprint need the validity, the names, the serial and the
 * key's type, which are plain fields of the TBSCertificate (RFC 5280 4.1):
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
 *   TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer,
 *                                 validity, subject, subjectPublicKeyInfo, ... }
 * The outline and the validity are read here, without libcrypto; names, serial and key type
 * (for status) with its small d2i functions. Whatever checks a signature, a chain or a key match
 * still parses the certificate whole. Errors are cleared only after a failure: the first ERR
 * call loads OpenSSL's error strings.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "certinfo.h"
#include "crypto.h"
#include "der.h"
#include "dn_print.h"
#include "pem.h"
#include "sha256.h"

/* n decimal digits at s, or -1. */
static int digits(const unsigned char *s, int n)
{
	int v = 0;

	while (n--) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

static int days_in_month(int year, int mon)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[mon] + (mon == 1 && leap);
}

/* A Time as RFC 5280 4.1.2.5 has it in a certificate: UTCTime YYMMDDHHMMSSZ (years 1950-2049)
 * or GeneralizedTime YYYYMMDDHHMMSSZ. */
static bool read_time(const struct der *t, time_t *out)
{
	const unsigned char *c = t->content;
	bool utc = t->start[0] == V_ASN1_UTCTIME;
	size_t want = utc ? 13 : 15;
	struct tm tm = {0};
	int year;

	if (t->content_len != want || c[want - 1] != 'Z')
		return false;
	year = utc ? digits(c, 2) : digits(c, 4);
	if (year < 0)
		return false;
	if (utc)
		year += year < 50 ? 2000 : 1900;
	c += utc ? 2 : 4;
	tm.tm_year = year - 1900;
	tm.tm_mon = digits(c, 2) - 1;
	tm.tm_mday = digits(c + 2, 2);
	tm.tm_hour = digits(c + 4, 2);
	tm.tm_min = digits(c + 6, 2);
	tm.tm_sec = digits(c + 8, 2);
	/* As OpenSSL checks it (ossl_asn1_time_to_tm): real days of the month, seconds to 59. */
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > days_in_month(year, tm.tm_mon) || tm.tm_hour < 0 || tm.tm_hour > 23 ||
	    tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 59)
		return false;
	*out = timegm(&tm);
	return true;
}

int certinfo_parse(const unsigned char *der, size_t len, struct certinfo *ci)
{
	const unsigned char *p = der, *end = der + len, *tend, *vend;
	struct der cert, tbs, t, nb, na;

	memset(ci, 0, sizeof(*ci));
	if (len > LONG_MAX || !der_next(&p, end, 0x30, &cert))
		return -EBADMSG;
	ci->der = cert.start;
	ci->der_len = cert.len;
	p = cert.content;
	end = cert.content + cert.content_len;
	if (!der_next(&p, end, 0x30, &tbs))
		return -EBADMSG;
	p = tbs.content;
	tend = tbs.content + tbs.content_len;
	if (p < tend && *p == 0xa0 && !der_next(&p, tend, 0xa0, &t))
		return -EBADMSG; /* [0] EXPLICIT Version */
	if (!der_next(&p, tend, 0x02, &t))
		return -EBADMSG;
	ci->serial = t.start;
	ci->serial_len = (long)t.len;
	if (!der_next(&p, tend, 0x30, &t))
		return -EBADMSG; /* signature AlgorithmIdentifier */
	if (!der_next(&p, tend, 0x30, &t))
		return -EBADMSG;
	ci->issuer = t.start;
	ci->issuer_len = (long)t.len;
	if (!der_next(&p, tend, 0x30, &t))
		return -EBADMSG;
	vend = t.content + t.content_len;
	{
		const unsigned char *v = t.content;
		int tag = v < vend && *v == V_ASN1_GENERALIZEDTIME ? V_ASN1_GENERALIZEDTIME
								   : V_ASN1_UTCTIME;

		if (!der_next(&v, vend, (unsigned char)tag, &nb))
			return -EBADMSG;
		tag = v < vend && *v == V_ASN1_GENERALIZEDTIME ? V_ASN1_GENERALIZEDTIME
							       : V_ASN1_UTCTIME;
		if (!der_next(&v, vend, (unsigned char)tag, &na) || v != vend)
			return -EBADMSG;
	}
	if (!read_time(&nb, &ci->not_before) || !read_time(&na, &ci->not_after))
		return -EBADMSG;
	if (!der_next(&p, tend, 0x30, &t))
		return -EBADMSG;
	ci->subject = t.start;
	ci->subject_len = (long)t.len;
	if (!der_next(&p, tend, 0x30, &t))
		return -EBADMSG;
	ci->spki = t.start;
	ci->spki_len = (long)t.len;
	return 0;
}

int certinfo_each_pem(const char *pem, size_t len, int (*fn)(const struct certinfo *ci, void *ctx),
		      void *ctx)
{
	struct pem_block b = {0};
	struct pem_reader rd;
	struct certinfo ci;
	int n = 0, r;

	pem_reader_init(&rd, pem, len);
	while ((r = pem_next(&rd, &b)) == 1) {
		if (!pem_is_certificate(&b))
			continue;
		r = certinfo_parse(b.data, b.len, &ci);
		if (r < 0)
			break;
		n++;
		r = fn(&ci, ctx);
		if (r)
			break;
	}
	pem_block_clear(&b);
	return r < 0 ? r : n;
}

struct first {
	time_t nb, na;
};

static int take_first(const struct certinfo *ci, void *ctx)
{
	struct first *f = ctx;

	f->nb = ci->not_before;
	f->na = ci->not_after;
	return 1;
}

int certinfo_first_pem(const char *pem, size_t len, time_t *not_before, time_t *not_after)
{
	struct first f = {0, 0};
	int r = certinfo_each_pem(pem, len, take_first, &f);

	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	*not_before = f.nb;
	*not_after = f.na;
	return 0;
}

static int hash_one(const struct certinfo *ci, void *ctx)
{
	sha256_update(ctx, ci->der, ci->der_len);
	return 0;
}

int certinfo_pem_sha256(const char *pem, size_t len, char out[65])
{
	struct sha256 s;
	char hex[65];
	int r;

	sha256_init(&s);
	r = certinfo_each_pem(pem, len, hash_one, &s);
	sha256_final_hex(&s, hex);
	if (r == 0)
		return -ENOENT;
	if (r < 0)
		return r;
	memcpy(out, hex, sizeof(hex));
	return 0;
}

static char *name_string(const unsigned char *der, long len)
{
	const unsigned char *q = der;
	X509_NAME *name;
	char *s = dn_print_der(der, (size_t)len);

	if (s)
		return s;
	name = d2i_X509_NAME(NULL, &q, len);
	s = name ? crypto_name_string(name) : NULL;

	X509_NAME_free(name);
	if (!s)
		ERR_clear_error();
	return s;
}

char *certinfo_subject(const struct certinfo *ci)
{
	return name_string(ci->subject, ci->subject_len);
}

char *certinfo_issuer(const struct certinfo *ci)
{
	return name_string(ci->issuer, ci->issuer_len);
}

/* Bits of the INTEGER TLV at p, or 0. */
/* Bits of a positive INTEGER's content octets, as BN_num_bits counts them; 0 for zero. */
static int integer_bits(const unsigned char *c, long len)
{
	int top = 0;

	while (len > 1 && c[0] == 0) {
		c++;
		len--;
	}
	if (len < 1 || c[0] == 0)
		return 0;
	for (unsigned int v = c[0]; v; v >>= 1)
		top++;
	return 8 * (int)(len - 1) + top;
}

/* A positive INTEGER's content as BN_bn2hex prints it: upper-case pairs, no leading zero
 * octets, "0" for zero; NULL for a negative one (left to OpenSSL). */
static char *integer_hex(const unsigned char *c, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *s, *o;

	if (len == 0 || (c[0] & 0x80))
		return NULL;
	while (len > 1 && c[0] == 0) {
		c++;
		len--;
	}
	if (len == 1 && c[0] == 0)
		return OPENSSL_strdup("0");
	s = o = OPENSSL_malloc(2 * len + 1);
	if (!s)
		return NULL;
	for (; len; len--, c++) {
		*o++ = hex[*c >> 4];
		*o++ = hex[*c & 0xf];
	}
	*o = '\0';
	return s;
}

char *certinfo_serial(const struct certinfo *ci)
{
	const unsigned char *q = ci->serial, *end = ci->serial + ci->serial_len;
	struct der t;
	char *own = der_next(&q, end, 0x02, &t) ? integer_hex(t.content, t.content_len) : NULL;

	if (own)
		return own;
	q = ci->serial;
	ASN1_INTEGER *i = d2i_ASN1_INTEGER(NULL, &q, ci->serial_len);
	BIGNUM *bn = i ? ASN1_INTEGER_to_BN(i, NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	BN_free(bn);
	ASN1_INTEGER_free(i);
	if (!hex)
		ERR_clear_error();
	return hex;
}

/* OIDs a certificate's key is usually of, by their content octets: no look-up in OpenSSL's
 * object table (which pages in a good part of libcrypto). */
static const struct {
	int nid;
	unsigned char len;
	unsigned char oid[9];
} known_oids[] = {
	{NID_X9_62_id_ecPublicKey, 7, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}},
	{NID_rsaEncryption, 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}},
	{NID_rsassaPss, 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a}},
	{NID_ED25519, 3, {0x2b, 0x65, 0x70}},
	{NID_ED448, 3, {0x2b, 0x65, 0x71}},
	{NID_X9_62_prime256v1, 8, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
	{NID_secp384r1, 5, {0x2b, 0x81, 0x04, 0x00, 0x22}},
	{NID_secp521r1, 5, {0x2b, 0x81, 0x04, 0x00, 0x23}},
};

static int object_nid(const struct der *t)
{
	const unsigned char *q = t->start;
	ASN1_OBJECT *o;
	size_t i;
	int nid;

	for (i = 0; i < sizeof(known_oids) / sizeof(known_oids[0]); i++)
		if (known_oids[i].len == t->content_len &&
		    !memcmp(known_oids[i].oid, t->content, known_oids[i].len))
			return known_oids[i].nid;
	o = d2i_ASN1_OBJECT(NULL, &q, (long)t->len);
	nid = o ? OBJ_obj2nid(o) : NID_undef;
	ASN1_OBJECT_free(o);
	if (nid == NID_undef)
		ERR_clear_error();
	return nid;
}

/* EC: the named curve of the parameters, its name and order bits. */
static void ec_curve(const unsigned char *p, const unsigned char *end, int *bits, char *curve,
		     size_t curve_len)
{
	struct der t;
	EC_GROUP *g;
	int nid;

	if (!der_next(&p, end, 0x06, &t))
		return;
	nid = object_nid(&t);
	if (nid == NID_undef)
		return;
	snprintf(curve, curve_len, "%s", OBJ_nid2sn(nid));
	if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_secp521r1) {
		*bits = nid == NID_X9_62_prime256v1 ? 256 : nid == NID_secp384r1 ? 384 : 521;
		return;
	}
	g = EC_GROUP_new_by_curve_name(nid);
	*bits = g ? EC_GROUP_order_bits(g) : 0;
	EC_GROUP_free(g);
	if (!g)
		ERR_clear_error();
}

/* RSA: bits of the modulus, the first INTEGER of the RSAPublicKey in the BIT STRING. */
static int rsa_bits(const struct der *bits)
{
	const unsigned char *p = bits->content + 1, *end = bits->content + bits->content_len;
	struct der seq, n;

	if (bits->content_len < 1 || bits->content[0] != 0 || !der_next(&p, end, 0x30, &seq))
		return 0;
	p = seq.content;
	if (!der_next(&p, seq.content + seq.content_len, 0x02, &n))
		return 0;
	return integer_bits(n.content, (long)n.content_len);
}

void certinfo_key(const struct certinfo *ci, const char **type, int *bits, char *curve,
		  size_t curve_len)
{
	const unsigned char *p = ci->spki, *end = ci->spki + ci->spki_len, *a, *aend;
	struct der spki, alg, oid, key;
	int nid;

	*type = "";
	*bits = 0;
	curve[0] = '\0';
	if (!der_next(&p, end, 0x30, &spki))
		return;
	p = spki.content;
	end = spki.content + spki.content_len;
	if (!der_next(&p, end, 0x30, &alg) || !der_next(&p, end, 0x03, &key))
		return;
	a = alg.content;
	aend = alg.content + alg.content_len;
	if (!der_next(&a, aend, 0x06, &oid))
		return;
	nid = object_nid(&oid);
	switch (nid) {
	case NID_X9_62_id_ecPublicKey:
		*type = "EC";
		ec_curve(a, aend, bits, curve, curve_len);
		break;
	case NID_rsaEncryption:
		*type = "RSA";
		*bits = rsa_bits(&key);
		break;
	case NID_rsassaPss:
		*type = "RSA-PSS";
		*bits = rsa_bits(&key);
		break;
	case NID_ED25519:
		*type = "ED25519";
		*bits = 256; /* as OpenSSL counts it (EVP_PKEY_get_bits) */
		break;
	case NID_ED448:
		*type = "ED448";
		*bits = 456;
		break;
	default:
		*type = nid != NID_undef && OBJ_nid2sn(nid) ? OBJ_nid2sn(nid) : "";
		break;
	}
}
