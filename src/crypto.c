/* SPDX-License-Identifier: MIT */
/* Key pairs, CSRs, certificate checks: libcrypto but for PKCS#7 (pkcs7.c) and names (dn.c). */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "key_der.h"
#include "log.h"
#include "pem.h"
#include "sha256.h"
#include "util.h"

/*
 * OpenSSL reads openssl.cnf on first use, and what it sets up then (providers, the TLS
 * defaults) maps about 1 MiB of libcrypto: a pass with nothing to do, status and load use none
 * of it. So it starts without, and crypto_load_config() reads the file the way OpenSSL would
 * (OPENSSL_CONF or OPENSSLDIR/openssl.cnf, section openssl_conf) before anything that makes
 * keys, parses them or talks TLS.
 */
void crypto_start(void)
{
	/* No OPENSSL_cleanup at exit either: a process that ends frees its memory by ending,
	 * and the teardown would page in more of libcrypto than an idle pass uses. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL);
}

void crypto_load_config(void)
{
	static bool loaded;
	char *file, why[256];

	if (loaded)
		return;
	loaded = true;
	OPENSSL_load_builtin_modules();
	if (CONF_modules_load_file(NULL, NULL,
				   CONF_MFLAGS_DEFAULT_SECTION | CONF_MFLAGS_IGNORE_MISSING_FILE) <=
	    0) {
		ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
		file = CONF_get1_default_config_file();
		log_warn("%s: %s: OpenSSL's defaults stand where it did not apply",
			 file ? file : "openssl.cnf", why);
		OPENSSL_free(file);
	}
	ERR_clear_error();
}

void crypto_log_errors(const char *what)
{
	char buf[1024] = "", line[256];
	const char *data = NULL;
	unsigned long e;
	int flags = 0;
	size_t used = 0;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		ERR_error_string_n(e, line, sizeof(line));
		if (used >= sizeof(buf) - 1)
			continue; /* keep draining */
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s%s%s",
					 used ? "; " : "", line,
					 (flags & ERR_TXT_STRING) && data && *data ? ": " : "",
					 (flags & ERR_TXT_STRING) && data ? data : "");
	}
	if (buf[0])
		log_err("%s: %s", what, buf);
	else
		log_err("%s", what);
}

int crypto_curve_nid(const char *name)
{
	/* SEC 2 names OpenSSL files under their X9.62 names; Java and RFC 5480 use these. */
	static const struct {
		const char *name;
		int nid;
	} sec2[] = {
		{"secp192r1", NID_X9_62_prime192v1},
		{"secp256r1", NID_X9_62_prime256v1},
		/* The usual names, without a look-up in OpenSSL's object table (most of an idle
		 * pass's libcrypto pages otherwise). */
		{"prime256v1", NID_X9_62_prime256v1},
		{"P-256", NID_X9_62_prime256v1},
		{"secp384r1", NID_secp384r1},
		{"P-384", NID_secp384r1},
		{"secp521r1", NID_secp521r1},
		{"P-521", NID_secp521r1},
	};
	size_t i;
	int nid;

	if (!name || !*name)
		return NID_undef;
	for (i = 0; i < ARRAY_SIZE(sec2); i++)
		if (!strcmp(sec2[i].name, name))
			return sec2[i].nid;
	nid = EC_curve_nist2nid(name);
	if (nid == NID_undef)
		nid = OBJ_sn2nid(name);
	if (nid == NID_undef)
		nid = OBJ_ln2nid(name);
	return nid;
}

static bool curve_supported(int nid)
{
	EC_builtin_curve *curves;
	size_t i, n;
	bool found = false;

	/* The NIST curves every OpenSSL 3 build has (FIPS included), without reading its list. */
	if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_secp521r1)
		return true;
	n = EC_get_builtin_curves(NULL, 0);
	if (nid == NID_undef || n == 0)
		return false;
	curves = xzalloc(sizeof(*curves) * n);
	n = EC_get_builtin_curves(curves, n);
	for (i = 0; i < n && !found; i++)
		found = curves[i].nid == nid;
	free(curves);
	return found;
}

const char *crypto_default_key_params(enum key_alg alg)
{
	switch (alg) {
	case KEY_ALG_EC:
		return "prime256v1";
	case KEY_ALG_RSA:
		return "2048";
	case KEY_ALG_ED25519:
		return "";
	}
	return "";
}

int crypto_check_key_params(enum key_alg alg, const char *params, const char **out_why)
{
	const char *why = NULL;
	unsigned long bits;

	switch (alg) {
	case KEY_ALG_EC:
		if (params && *params && !curve_supported(crypto_curve_nid(params)))
			why = "unknown curve (see openssl ecparam -list_curves)";
		break;
	case KEY_ALG_RSA:
		if (params && *params && parse_uint(params, 2048, 8192, &bits) < 0)
			why = "RSA key size must be 2048 to 8192 bits";
		break;
	case KEY_ALG_ED25519:
		if (params && *params)
			why = "ED25519 takes no parameters";
		break;
	}
	if (why) {
		*out_why = why;
		return -EINVAL;
	}
	return 0;
}

struct signer {
	const char *name;
	int md_nid; /* NID_undef: pure signature (Ed25519) */
	enum key_alg alg;
};

static const struct signer signers[] = {
	{"SHA224WITHECDSA", NID_sha224, KEY_ALG_EC}, {"SHA256WITHECDSA", NID_sha256, KEY_ALG_EC},
	{"SHA384WITHECDSA", NID_sha384, KEY_ALG_EC}, {"SHA512WITHECDSA", NID_sha512, KEY_ALG_EC},
	{"SHA224WITHRSA", NID_sha224, KEY_ALG_RSA},  {"SHA256WITHRSA", NID_sha256, KEY_ALG_RSA},
	{"SHA384WITHRSA", NID_sha384, KEY_ALG_RSA},  {"SHA512WITHRSA", NID_sha512, KEY_ALG_RSA},
	{"ED25519", NID_undef, KEY_ALG_ED25519},
};

static const struct signer *find_signer(const char *name)
{
	size_t i;

	for (i = 0; name && i < ARRAY_SIZE(signers); i++)
		if (!strcasecmp(signers[i].name, name))
			return &signers[i];
	return NULL;
}

int crypto_key_alg_pkey_id(enum key_alg alg)
{
	switch (alg) {
	case KEY_ALG_EC:
		return EVP_PKEY_EC;
	case KEY_ALG_RSA:
		return EVP_PKEY_RSA;
	case KEY_ALG_ED25519:
		return EVP_PKEY_ED25519;
	}
	return EVP_PKEY_NONE;
}

int crypto_check_signer(enum key_alg alg, const char *signer, const char **out_why)
{
	/* [signer's algorithm][key's algorithm] */
	static const char *const mismatch[3][3] = {
		[KEY_ALG_EC][KEY_ALG_RSA] = "an ECDSA signer does not fit an RSA key",
		[KEY_ALG_EC][KEY_ALG_ED25519] = "an ECDSA signer does not fit an ED25519 key",
		[KEY_ALG_RSA][KEY_ALG_EC] = "an RSA signer does not fit an EC key",
		[KEY_ALG_RSA][KEY_ALG_ED25519] = "an RSA signer does not fit an ED25519 key",
		[KEY_ALG_ED25519][KEY_ALG_EC] = "ED25519 does not fit an EC key",
		[KEY_ALG_ED25519][KEY_ALG_RSA] = "ED25519 does not fit an RSA key",
	};
	const struct signer *s = find_signer(signer);

	if (!s) {
		*out_why =
			"unknown signer algorithm (e.g. SHA256WITHECDSA, SHA256WITHRSA, ED25519)";
		return -EINVAL;
	}
	if (s->alg != alg) {
		*out_why = (unsigned int)alg < ARRAY_SIZE(mismatch) ? mismatch[s->alg][alg] : NULL;
		if (!*out_why)
			*out_why = "signer does not fit the key algorithm";
		return -EINVAL;
	}
	return 0;
}

bool crypto_key_fits(EVP_PKEY *key, enum key_alg alg, const char *params)
{
	char group[64] = "";
	unsigned long bits;
	bool fits = false;

	if (!key || EVP_PKEY_get_base_id(key) != crypto_key_alg_pkey_id(alg))
		return false;
	if (!params || !*params)
		params = crypto_default_key_params(alg);
	switch (alg) {
	case KEY_ALG_EC:
		fits = EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
						      sizeof(group), NULL) == 1 &&
		       crypto_curve_nid(params) != NID_undef &&
		       crypto_curve_nid(group) == crypto_curve_nid(params);
		break;
	case KEY_ALG_RSA:
		fits = parse_uint(params, 1, INT_MAX, &bits) == 0 &&
		       EVP_PKEY_get_bits(key) == (int)bits;
		break;
	case KEY_ALG_ED25519:
		fits = !*params;
		break;
	}
	ERR_clear_error();
	return fits;
}

int crypto_keygen(enum key_alg alg, const char *params, EVP_PKEY **out_key)
{
	EVP_PKEY *key = NULL;
	const char *why = NULL;
	unsigned long bits = 2048;
	int r = crypto_check_key_params(alg, params, &why);

	if (r < 0) {
		log_err("key_params %s: %s", params, why);
		goto out;
	}
	switch (alg) {
	case KEY_ALG_EC:
		key = EVP_PKEY_Q_keygen(
			NULL, NULL, "EC",
			OBJ_nid2sn(crypto_curve_nid(params && *params ? params : "prime256v1")));
		break;
	case KEY_ALG_RSA:
		if (params && *params && parse_uint(params, 2048, 8192, &bits) < 0)
			break; /* checked above */
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
		break;
	case KEY_ALG_ED25519:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (!key) {
		crypto_log_errors("key generation failed");
		r = -EIO;
		goto out;
	}
	*out_key = key;
out:
	return r;
}

/* Copies a memory BIO out to a NUL-terminated xmalloc'd buffer, wiping the BIO's copy. */
static int bio_take(BIO *bio, char **out, size_t *out_len)
{
	BUF_MEM *mem = NULL;
	char *buf;

	if (BIO_get_mem_ptr(bio, &mem) <= 0 || !mem)
		return -EIO;
	buf = xmalloc(mem->length + 1);
	memcpy(buf, mem->data, mem->length);
	buf[mem->length] = '\0';
	*out_len = mem->length;
	OPENSSL_cleanse(mem->data, mem->length);
	*out = buf;
	return 0;
}

int crypto_key_to_pem(EVP_PKEY *key, char **out_pem, size_t *out_len)
{
	BIO *bio;
	int r = key_der_ec_pkcs8_pem(key, out_pem, out_len);

	if (r != -ENOTSUP)
		return r;
	/* secmem: the buffer is wiped when it grows and when it is freed. */
	bio = BIO_new(BIO_s_secmem());
	r = -EIO;
	if (!bio) {
		crypto_log_errors("cannot encode the private key");
		r = -ENOMEM;
		goto out;
	}
	if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		crypto_log_errors("cannot encode the private key");
		goto out;
	}
	r = bio_take(bio, out_pem, out_len);
out:
	BIO_free(bio);
	return r;
}

/* A whole DER buffer as a private key: PKCS#8, or PKCS#1 / SEC1 ("traditional"). */
static EVP_PKEY *key_from_der(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	EVP_PKEY *key = der && len > 0 ? d2i_AutoPrivateKey(NULL, &p, len) : NULL;

	if (key && p != der + len) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

int crypto_key_from_pem(const char *pem, size_t len, EVP_PKEY **out_key)
{
	struct pem_block b = {0};
	struct pem_reader rd;
	EVP_PKEY *key = NULL;
	int r;

	if (len > LONG_MAX)
		return -EFBIG;
	pem_reader_init(&rd, pem, len);
	while ((r = pem_next(&rd, &b)) == 1 && !pem_is_plain_key(&b))
		log_debug("PEM: skipping a %s block", b.name);
	if (r == 0)
		r = -ENOKEY;
	if (r < 0)
		goto out;
	key = key_from_der(b.data, (long)b.len);
	if (!key) {
		log_debug("PEM: the %s block does not decode", b.name);
		r = -EBADMSG;
		goto out;
	}
	*out_key = key;
	r = 0;
out:
	ERR_clear_error();
	pem_block_clear(&b);
	return r;
}

int crypto_key_from_der(const unsigned char *der, size_t len, EVP_PKEY **out_key)
{
	EVP_PKEY *key = len <= LONG_MAX ? key_from_der(der, (long)len) : NULL;

	ERR_clear_error();
	if (!key)
		return -EBADMSG;
	*out_key = key;
	return 0;
}

/* The digest for the CSR signature: from signer, else from the key (NULL for Ed25519). */
static int csr_md(EVP_PKEY *key, const char *signer, const EVP_MD **out_md)
{
	const struct signer *s = find_signer(signer);
	int id = EVP_PKEY_get_base_id(key), nid = NID_sha256;
	char group[64] = "";

	if (signer && (!s || crypto_key_alg_pkey_id(s->alg) != id)) {
		log_err("csr_signer %s does not fit the %s key", signer,
			EVP_PKEY_get0_type_name(key));
		return -EINVAL;
	}
	if (s)
		nid = s->md_nid;
	else if (id == EVP_PKEY_ED25519)
		nid = NID_undef;
	else if (id == EVP_PKEY_EC &&
		 EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
						sizeof(group), NULL) == 1)
		nid = crypto_curve_nid(group) == NID_secp384r1	 ? NID_sha384
		      : crypto_curve_nid(group) == NID_secp521r1 ? NID_sha512
								 : NID_sha256;
	*out_md = nid == NID_undef ? NULL : EVP_get_digestbynid(nid);
	if (nid != NID_undef && !*out_md) {
		crypto_log_errors("CSR digest not available");
		return -EIO;
	}
	return 0;
}

/* RFC 7030 3.5 puts base64 here: PrintableString holds it; anything else goes as UTF8String. */
static int csr_add_challenge(X509_REQ *req, const char *challenge)
{
	static const char printable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					"0123456789 '()+,-./:=?";
	size_t n = strlen(challenge);
	int type = strspn(challenge, printable) == n ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;

	if (n == 0 || n > 255) {
		log_err("challengePassword must be 1 to 255 characters");
		return -EINVAL;
	}
	if (!X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, type,
				       (const unsigned char *)challenge, (int)n)) {
		crypto_log_errors("cannot add the challengePassword");
		return -EIO;
	}
	return 0;
}

/* Subject, key, attributes and signature: the request before encoding. */
static int csr_fill(X509_REQ *req, const struct csr_params *p, const EVP_MD *md)
{
	int r = -EIO;

	if (X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_subject_name(req, p->subject) != 1 ||
	    (key_der_ec_set_spki(X509_REQ_get_X509_PUBKEY(req), p->key) < 0 &&
	     X509_REQ_set_pubkey(req, p->key) != 1)) {
		crypto_log_errors("cannot set the CSR subject and key");
		goto out;
	}
	if (p->challenge_password) {
		r = csr_add_challenge(req, p->challenge_password);
		if (r < 0)
			goto out;
		r = -EIO;
	}
	if (p->extensions && sk_X509_EXTENSION_num(p->extensions) > 0 &&
	    X509_REQ_add_extensions(req, p->extensions) != 1) {
		crypto_log_errors("cannot add the extension request");
		goto out;
	}
	if (X509_REQ_sign(req, p->key, md) <= 0) {
		crypto_log_errors("cannot sign the CSR");
		goto out;
	}
	r = 0;
out:
	return r;
}

int crypto_csr_build(const struct csr_params *p, unsigned char **out_der, size_t *out_len)
{
	X509_REQ *req = NULL;
	unsigned char *der = NULL;
	const EVP_MD *md = NULL;
	int r, len;

	r = csr_md(p->key, p->signer, &md);
	if (r < 0)
		goto out;
	req = X509_REQ_new_ex(p->libctx, p->propq);
	if (!req) {
		crypto_log_errors("cannot build the CSR");
		r = -ENOMEM;
		goto out;
	}
	r = csr_fill(req, p, md);
	if (r < 0)
		goto out;
	len = i2d_X509_REQ(req, &der);
	if (len <= 0) {
		crypto_log_errors("cannot encode the CSR");
		r = -EIO;
		goto out;
	}
	*out_der = der;
	*out_len = (size_t)len;
out:
	X509_REQ_free(req);
	return r;
}

/* A whole DER certificate; TRUSTED CERTIFICATE blocks carry trust settings after it. */
static X509 *cert_from_der(const unsigned char *der, long len, bool aux)
{
	const unsigned char *p = der;
	X509 *c = aux ? d2i_X509_AUX(NULL, &p, len) : d2i_X509(NULL, &p, len);

	if (c && p != der + len) {
		X509_free(c);
		c = NULL;
	}
	return c;
}

/* Appends the certificate of block b (if it holds one) to certs: 1 added, 0 not a certificate. */
static int certs_push_block(STACK_OF(X509) *certs, const struct pem_block *b)
{
	bool aux = !strcmp(b->name, "TRUSTED CERTIFICATE");
	X509 *c;

	if (!pem_is_certificate(b))
		return 0;
	c = cert_from_der(b->data, (long)b->len, aux);
	if (!c) {
		log_debug("PEM: a %s block does not decode", b->name);
		return -EBADMSG;
	}
	if (!sk_X509_push(certs, c)) {
		X509_free(c);
		return -ENOMEM;
	}
	return 1;
}

int crypto_certs_from_pem(const char *pem, size_t len, STACK_OF(X509) **out_certs)
{
	struct pem_block b = {0};
	STACK_OF(X509) *certs = sk_X509_new_null();
	struct pem_reader rd;
	int r = len > LONG_MAX ? -EFBIG : -ENOMEM;

	if (!certs || len > LONG_MAX)
		goto out;
	pem_reader_init(&rd, pem, len);
	while ((r = pem_next(&rd, &b)) == 1) {
		r = certs_push_block(certs, &b);
		if (r < 0)
			goto out;
	}
	if (r == 0 && sk_X509_num(certs) == 0)
		r = -ENOENT;
	if (r < 0)
		goto out;
	*out_certs = certs;
	certs = NULL;
out:
	ERR_clear_error();
	pem_block_clear(&b);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

int crypto_cert_append_pem(X509 *cert, char **buf, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	size_t plen = 0;
	int r = -EIO;

	if (!bio || PEM_write_bio_X509(bio, cert) != 1) {
		crypto_log_errors("cannot encode a certificate as PEM");
		goto out;
	}
	r = bio_take(bio, &pem, &plen);
	if (r < 0)
		goto out;
	*buf = xrealloc(*buf, *len + plen + 1);
	memcpy(*buf + *len, pem, plen + 1);
	*len += plen;
out:
	free(pem);
	BIO_free(bio);
	return r;
}

bool crypto_keys_equal(EVP_PKEY *a, EVP_PKEY *b)
{
	bool eq = a && b && EVP_PKEY_eq(a, b) == 1;

	ERR_clear_error();
	return eq;
}

bool crypto_cert_matches_key(X509 *cert, EVP_PKEY *key)
{
	EVP_PKEY *pub = cert && key ? X509_get0_pubkey(cert) : NULL;

	return crypto_keys_equal(pub, key);
}

static int store_add_anchors(X509_STORE *store, STACK_OF(X509) *anchors)
{
	int i;

	for (i = 0; i < sk_X509_num(anchors); i++)
		if (X509_STORE_add_cert(store, sk_X509_value(anchors, i)) != 1)
			return -EIO;
	/* An intermediate among the anchors is enough (RFC 7030 explicit trust anchors). */
	return X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) == 1 ? 0 : -EIO;
}

static void log_verify_failure(X509_STORE_CTX *ctx, X509 *leaf)
{
	X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
	char *subject = crypto_cert_subject(leaf), *where = NULL;

	if (bad && bad != leaf)
		where = crypto_cert_subject(bad);
	log_err("certificate %s does not verify: %s%s%s", subject ? subject : "?",
		X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)), where ? " at " : "",
		where ? where : "");
	OPENSSL_free(subject);
	OPENSSL_free(where);
}

int crypto_verify_chain(X509 *leaf, STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors, time_t now)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int r = -EIO;

	if (!store || !ctx || store_add_anchors(store, anchors) < 0 ||
	    X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY) != 1) {
		crypto_log_errors("cannot set up certificate verification");
		goto out;
	}
	if (now)
		X509_STORE_CTX_set_time(ctx, 0, now); /* sets X509_V_FLAG_USE_CHECK_TIME */
	r = 0;
	if (X509_verify_cert(ctx) != 1) {
		log_verify_failure(ctx, leaf);
		r = -EBADMSG;
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return r;
}

int crypto_cert_validity(X509 *cert, time_t *out_not_before, time_t *out_not_after)
{
	struct tm nb, na;

	if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &nb) != 1 ||
	    ASN1_TIME_to_tm(X509_get0_notAfter(cert), &na) != 1) {
		ERR_clear_error();
		return -EBADMSG;
	}
	*out_not_before = timegm(&nb);
	*out_not_after = timegm(&na);
	return 0;
}

/* RFC 2253 form, UTF-8 left as is rather than \XX escaped: for people to read. */
char *crypto_name_string(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *s = NULL;
	long n;

	if (!bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n >= 0)
		s = OPENSSL_strndup(n ? data : "", (size_t)n);
out:
	if (!s)
		crypto_log_errors("cannot print a name");
	BIO_free(bio);
	return s;
}

char *crypto_cert_subject(X509 *cert)
{
	return crypto_name_string(X509_get_subject_name(cert));
}

char *crypto_cert_issuer(X509 *cert)
{
	return crypto_name_string(X509_get_issuer_name(cert));
}

char *crypto_cert_serial(X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	if (!hex)
		crypto_log_errors("cannot print a serial number");
	BN_free(bn);
	return hex;
}

int crypto_cert_fingerprint(X509 *cert, char out[65])
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der), r = -EIO;

	if (len <= 0) {
		crypto_log_errors("cannot encode a certificate");
		goto out;
	}
	sha256_hex(der, (size_t)len, out);
	r = 0;
out:
	OPENSSL_free(der);
	return r;
}
