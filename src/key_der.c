/* SPDX-License-Identifier: MIT */
/*
 * A generated EC key as PKCS#8 PEM, byte for byte what PEM_write_bio_PrivateKey writes, and its
 * SubjectPublicKeyInfo for the CSR, without OpenSSL 3's encoders: the first encoder a process
 * uses makes OpenSSL build every encoder of its providers (3.5 M instructions, a tenth of an
 * enrollment), and X509_REQ_set_pubkey decodes what it encoded again (1.5 M).
 *   PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier { id-ecPublicKey, namedCurve },
 *                                 OCTET STRING { ECPrivateKey } }                 (RFC 5208, 5480)
 *   ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [1] publicKey BIT STRING }
 *                                                                                 (RFC 5915)
 * The private key is padded to the order's length and the parameters are left out of the
 * ECPrivateKey, as OpenSSL does in PKCS#8. The three NIST curves only; anything else (RSA,
 * Ed25519, another curve, a compressed point) is left to OpenSSL: -ENOTSUP.
 * tests/unit/test-key-der.c compares the output with OpenSSL's for many keys of each curve.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "base64.h"
#include "key_der.h"
#include "util.h"

static const struct {
	const char *group;
	int nid;
	unsigned char oid_len;
	unsigned char oid[8];
	size_t priv_len; /* bytes of the order */
} curves[] = {
	{"prime256v1",
	 NID_X9_62_prime256v1,
	 8,
	 {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07},
	 32},
	{"secp384r1", NID_secp384r1, 5, {0x2b, 0x81, 0x04, 0x00, 0x22}, 48},
	{"secp521r1", NID_secp521r1, 5, {0x2b, 0x81, 0x04, 0x00, 0x23}, 66},
};

static const unsigned char ec_public_key_oid[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};

/* A DER tag and length (definite, short or long form) at out; its size. */
static size_t put_header(unsigned char *out, unsigned char tag, size_t len)
{
	size_t n = 0;

	out[n++] = tag;
	if (len < 0x80) {
		out[n++] = (unsigned char)len;
	} else if (len < 0x100) {
		out[n++] = 0x81;
		out[n++] = (unsigned char)len;
	} else {
		out[n++] = 0x82;
		out[n++] = (unsigned char)(len >> 8);
		out[n++] = (unsigned char)len;
	}
	return n;
}

static size_t header_len(size_t len)
{
	return len < 0x80 ? 2 : len < 0x100 ? 3 : 4;
}

/* Appends tag + len + data at *p. */
static void put(unsigned char **p, unsigned char tag, const void *data, size_t len)
{
	*p += put_header(*p, tag, len);
	memcpy(*p, data, len);
	*p += len;
}

/* The curve (index into curves) and uncompressed public point of an EC key of those curves:
 * 0, or -ENOTSUP. pub holds 1 + 2 * 66 bytes. */
static int ec_public(EVP_PKEY *key, size_t *out_curve, unsigned char *pub, size_t *out_pub_len)
{
	size_t i, c = sizeof(curves) / sizeof(curves[0]);
	char group[32] = "";

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   NULL) != 1)
		return -ENOTSUP;
	for (i = 0; i < c && strcmp(curves[i].group, group); i++)
		;
	if (i == c ||
	    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * 66,
					    out_pub_len) != 1 ||
	    *out_pub_len != 1 + 2 * curves[i].priv_len || pub[0] != 0x04)
		return -ENOTSUP;
	*out_curve = i;
	return 0;
}

int key_der_ec_set_spki(X509_PUBKEY *spki, EVP_PKEY *key)
{
	unsigned char pub[1 + 2 * 66], *bits;
	size_t i = 0, pub_len = 0;

	if (!spki || ec_public(key, &i, pub, &pub_len) < 0)
		return -ENOTSUP;
	/* As OpenSSL's own EC method does: static objects, the point's bytes handed over. */
	bits = OPENSSL_memdup(pub, pub_len);
	if (!bits ||
	    X509_PUBKEY_set0_param(spki, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
				   OBJ_nid2obj(curves[i].nid), bits, (int)pub_len) != 1) {
		OPENSSL_free(bits);
		return -ENOTSUP;
	}
	return 0;
}

int key_der_ec_pkcs8_pem(EVP_PKEY *key, char **out_pem, size_t *out_len)
{
	unsigned char priv[66], pub[1 + 2 * 66], *der = NULL, *p;
	size_t i = 0, pub_len = 0, alg_len, ecpk_len, inner_len, total, der_len;
	char *b64, *pem;
	BIGNUM *bn = NULL;
	int r = -ENOTSUP;

	if (ec_public(key, &i, pub, &pub_len) < 0)
		return -ENOTSUP;
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1 ||
	    BN_bn2binpad(bn, priv, (int)curves[i].priv_len) != (int)curves[i].priv_len)
		goto out;
	/* ECPrivateKey: INTEGER 1, OCTET STRING priv, [1] { BIT STRING 00 || pub } */
	ecpk_len = 3 + header_len(curves[i].priv_len) + curves[i].priv_len +
		   header_len(header_len(pub_len + 1) + pub_len + 1) + header_len(pub_len + 1) +
		   pub_len + 1;
	alg_len = 2 + sizeof(ec_public_key_oid) + 2 + curves[i].oid_len;
	inner_len = header_len(ecpk_len) + ecpk_len;
	total = 3 + header_len(alg_len) + alg_len + header_len(inner_len) + inner_len;
	der_len = header_len(total) + total;
	der = p = xmalloc(der_len);
	p += put_header(p, 0x30, total);
	put(&p, 0x02, "\0", 1);
	p += put_header(p, 0x30, alg_len);
	put(&p, 0x06, ec_public_key_oid, sizeof(ec_public_key_oid));
	put(&p, 0x06, curves[i].oid, curves[i].oid_len);
	p += put_header(p, 0x04, inner_len);
	p += put_header(p, 0x30, ecpk_len);
	put(&p, 0x02, "\1", 1);
	put(&p, 0x04, priv, curves[i].priv_len);
	p += put_header(p, 0xa1, header_len(pub_len + 1) + pub_len + 1);
	p += put_header(p, 0x03, pub_len + 1);
	*p++ = 0x00; /* no unused bits */
	memcpy(p, pub, pub_len);
	p += pub_len;
	if ((size_t)(p - der) != der_len)
		goto out;
	b64 = base64_encode(der, der_len);
	pem = xasprintf("-----BEGIN PRIVATE KEY-----\n%s-----END PRIVATE KEY-----\n", b64);
	wipe_str(b64);
	*out_pem = pem;
	*out_len = strlen(pem);
	r = 0;
out:
	OPENSSL_cleanse(priv, sizeof(priv));
	BN_clear_free(bn);
	if (der)
		wipe_free(der, der_len);
	return r;
}
