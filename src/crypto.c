/* SPDX-License-Identifier: MIT */
/* Key pairs, CSRs, certificate checks: everything that touches libcrypto but PKCS#7. */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "log.h"
#include "util.h"

void crypto_log_errors(const char *what)
{
	char buf[1024] = "", line[256];
	const char *file, *func, *data;
	unsigned long e;
	int lineno, flags;
	size_t used = 0;

	while ((e = ERR_get_error_all(&file, &lineno, &func, &data, &flags)) != 0) {
		ERR_error_string_n(e, line, sizeof(line));
		if (used < sizeof(buf) - 1)
			used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s",
						 used ? "; " : "", line);
	}
	if (buf[0])
		log_err("%s: %s", what, buf);
	else
		log_err("%s", what);
}

static int curve_nid(const char *name)
{
	int nid;

	if (!name || !*name)
		return NID_undef;
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
	size_t i, n = EC_get_builtin_curves(NULL, 0);
	bool found = false;

	curves = xzalloc(sizeof(*curves) * (n ? n : 1));
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
	unsigned long bits;

	switch (alg) {
	case KEY_ALG_EC:
		if (!params || !*params)
			return 0;
		if (curve_nid(params) == NID_undef || !curve_supported(curve_nid(params))) {
			*out_why = "unknown curve (see openssl ecparam -list_curves)";
			return -EINVAL;
		}
		return 0;
	case KEY_ALG_RSA:
		if (!params || !*params)
			return 0;
		if (parse_uint(params, 2048, 8192, &bits) < 0) {
			*out_why = "RSA key size must be 2048 to 8192 bits";
			return -EINVAL;
		}
		return 0;
	case KEY_ALG_ED25519:
		if (params && *params) {
			*out_why = "ED25519 takes no parameters";
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

struct signer {
	const char *name;
	int md_nid; /* NID_undef: pure signature (Ed25519) */
	int pkey;   /* EVP_PKEY_EC, EVP_PKEY_RSA, EVP_PKEY_ED25519 */
};

static const struct signer signers[] = {
	{"SHA224WITHECDSA", NID_sha224, EVP_PKEY_EC}, {"SHA256WITHECDSA", NID_sha256, EVP_PKEY_EC},
	{"SHA384WITHECDSA", NID_sha384, EVP_PKEY_EC}, {"SHA512WITHECDSA", NID_sha512, EVP_PKEY_EC},
	{"SHA224WITHRSA", NID_sha224, EVP_PKEY_RSA},  {"SHA256WITHRSA", NID_sha256, EVP_PKEY_RSA},
	{"SHA384WITHRSA", NID_sha384, EVP_PKEY_RSA},  {"SHA512WITHRSA", NID_sha512, EVP_PKEY_RSA},
	{"ED25519", NID_undef, EVP_PKEY_ED25519},
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
	return 0;
}

int crypto_check_signer(enum key_alg alg, const char *signer, const char **out_why)
{
	const struct signer *s = find_signer(signer);

	if (!s) {
		*out_why = "unknown signer algorithm";
		return -EINVAL;
	}
	if (s->pkey != crypto_key_alg_pkey_id(alg)) {
		*out_why = alg == KEY_ALG_RSA  ? "does not fit an RSA key"
			   : alg == KEY_ALG_EC ? "does not fit an EC key"
					       : "does not fit an ED25519 key";
		return -EINVAL;
	}
	return 0;
}

int crypto_keygen(enum key_alg alg, const char *params, EVP_PKEY **out_key)
{
	EVP_PKEY *key = NULL;
	unsigned long bits = 2048;

	switch (alg) {
	case KEY_ALG_EC:
		key = EVP_PKEY_Q_keygen(
			NULL, NULL, "EC",
			OBJ_nid2sn(curve_nid(params && *params ? params : "prime256v1")));
		break;
	case KEY_ALG_RSA:
		if (params && *params && parse_uint(params, 2048, 8192, &bits) < 0)
			return -EINVAL;
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
		break;
	case KEY_ALG_ED25519:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (!key) {
		crypto_log_errors("key generation failed");
		return -EIO;
	}
	*out_key = key;
	return 0;
}

/* Copies a memory BIO out to a NUL-terminated buffer, wiping the BIO's copy. */
static int bio_take(BIO *bio, char **out, size_t *out_len)
{
	BUF_MEM *mem = NULL;
	char *buf;

	BIO_get_mem_ptr(bio, &mem);
	if (!mem)
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
	BIO *bio = BIO_new(BIO_s_mem());
	int r = -EIO;

	if (!bio)
		return -ENOMEM;
	if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
		r = bio_take(bio, out_pem, out_len);
	else
		crypto_log_errors("cannot encode the private key");
	BIO_free(bio);
	return r;
}

int crypto_key_from_pem(const char *pem, size_t len, EVP_PKEY **out_key)
{
	const char *p = pem, *end = pem + len;
	EVP_PKEY *key = NULL;

	/* PEM_read_bio_PrivateKey stops at the first block; find the key block ourselves. */
	while (p < end && !key) {
		const char *begin = memmem(p, (size_t)(end - p), "-----BEGIN ", 11);
		BIO *bio;

		if (!begin)
			break;
		p = begin + 11;
		if (!memmem(begin, (size_t)(end - begin) < 64 ? (size_t)(end - begin) : 64,
			    "PRIVATE KEY-----", 16))
			continue;
		bio = BIO_new_mem_buf(begin, (int)(end - begin));
		if (bio)
			key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	if (!key)
		return -ENOKEY;
	*out_key = key;
	return 0;
}

int crypto_key_from_der(const unsigned char *der, size_t len, EVP_PKEY **out_key)
{
	const unsigned char *p = der;
	EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &p, (long)len);

	if (!key) {
		ERR_clear_error();
		return -EBADMSG;
	}
	*out_key = key;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Attribute names RFC 4514 lists and a few more in common use; else OpenSSL's names or a dotted
 * OID. */
static ASN1_OBJECT *attr_type(const char *name)
{
	static const struct {
		const char *name;
		int nid;
	} names[] = {
		{"CN", NID_commonName},
		{"C", NID_countryName},
		{"L", NID_localityName},
		{"ST", NID_stateOrProvinceName},
		{"O", NID_organizationName},
		{"OU", NID_organizationalUnitName},
		{"STREET", NID_streetAddress},
		{"DC", NID_domainComponent},
		{"UID", NID_userId},
		{"SERIALNUMBER", NID_serialNumber},
		{"E", NID_pkcs9_emailAddress},
		{"EMAILADDRESS", NID_pkcs9_emailAddress},
		{"T", NID_title},
		{"TITLE", NID_title},
		{"GN", NID_givenName},
		{"SN", NID_surname},
		{"PSEUDONYM", NID_pseudonym},
		{"INITIALS", NID_initials},
		{"DNQUALIFIER", NID_dnQualifier},
		{"POSTALCODE", NID_postalCode},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(names[i].name, name))
			return OBJ_nid2obj(names[i].nid);
	if (isdigit((unsigned char)name[0]))
		return OBJ_txt2obj(name, 1);
	return OBJ_txt2obj(name, 0);
}

struct dn_parser {
	const char *p;
	const char *why;
};

/* Reads an attribute value up to an unescaped ',' or '+'; unescapes into out (len at most strlen).
 */
static int dn_value(struct dn_parser *dp, char *out, size_t *out_len)
{
	const char *p = dp->p;
	size_t n = 0, keep = 0;

	while (*p == ' ')
		p++;
	if (*p == '#') {
		dp->why = "#hexstring values are not supported";
		return -EINVAL;
	}
	for (; *p && *p != ',' && *p != '+'; p++) {
		if (*p != '\\') {
			out[n++] = *p;
			if (*p != ' ')
				keep = n;
			continue;
		}
		p++;
		if (hexval(p[0]) >= 0 && hexval(p[1]) >= 0) {
			out[n++] = (char)(hexval(p[0]) << 4 | hexval(p[1]));
			p++;
		} else if (*p && strchr(",+\"\\<>;=# ", *p)) {
			out[n++] = *p;
		} else {
			dp->why = "bad escape";
			return -EINVAL;
		}
		keep = n; /* an escaped space at the end is kept */
	}
	out[keep] = '\0';
	*out_len = keep;
	dp->p = p;
	return 0;
}

struct dn_attr {
	ASN1_OBJECT *obj;
	char *value;
	size_t len;
	int rdn;
};

/* One "type=value" at dp->p into *out. */
static int dn_attribute(struct dn_parser *dp, char *buf, struct dn_attr *out)
{
	const char *eq = strchr(dp->p, '='), *t = dp->p;
	size_t tlen, vlen = 0;
	char *type;
	int r;

	while (*t == ' ')
		t++;
	if (!eq || eq == t) {
		dp->why = "expected TYPE=VALUE";
		return -EINVAL;
	}
	tlen = (size_t)(eq - t);
	while (tlen && t[tlen - 1] == ' ')
		tlen--;
	type = xstrndup(t, tlen);
	out->obj = attr_type(type);
	free(type);
	if (!out->obj) {
		ERR_clear_error();
		dp->why = "unknown attribute type";
		return -EINVAL;
	}
	dp->p = eq + 1;
	r = dn_value(dp, buf, &vlen);
	if (r == 0 && vlen == 0) {
		dp->why = "empty attribute value";
		r = -EINVAL;
	}
	if (r < 0) {
		ASN1_OBJECT_free(out->obj);
		out->obj = NULL;
		return r;
	}
	out->value = xstrndup(buf, vlen);
	out->len = vlen;
	return 0;
}

/* Builds the name: RFC 4514 writes the last RDN first, so RDNs are added in reverse. */
static int dn_build(struct dn_attr *attrs, size_t n, X509_NAME *name, const char **out_why)
{
	size_t i, j;
	int rdn;

	for (rdn = n ? attrs[n - 1].rdn : 0; rdn >= 0; rdn--) {
		bool first = true;

		for (j = 0; j < n; j++) {
			i = j;
			if (attrs[i].rdn != rdn)
				continue;
			if (!X509_NAME_add_entry_by_OBJ(name, attrs[i].obj, MBSTRING_UTF8,
							(const unsigned char *)attrs[i].value,
							(int)attrs[i].len, -1, first ? 0 : -1)) {
				ERR_clear_error();
				*out_why = "value not allowed for this attribute type";
				return -EINVAL;
			}
			first = false;
		}
	}
	return 0;
}

int crypto_subject_parse(const char *dn, X509_NAME **out_name, const char **out_why)
{
	struct dn_parser dp = {.p = dn, .why = "empty subject"};
	size_t n = 0, i, cap = strlen(dn) / 2 + 1;
	struct dn_attr *attrs = xzalloc(sizeof(*attrs) * cap);
	char *buf = xmalloc(strlen(dn) + 1);
	X509_NAME *name = NULL;
	int r = -EINVAL, rdn = 0;

	while (*dp.p == ' ')
		dp.p++;
	while (*dp.p && n < cap) {
		r = dn_attribute(&dp, buf, &attrs[n]);
		if (r < 0)
			break;
		attrs[n++].rdn = rdn;
		if (*dp.p == ',')
			rdn++;
		else if (*dp.p != '+')
			break;
		dp.p++;
		if (!*dp.p) {
			dp.why = "empty RDN at the end";
			r = -EINVAL;
			break;
		}
	}
	if (r == 0) {
		name = X509_NAME_new();
		r = name ? dn_build(attrs, n, name, &dp.why) : -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		ASN1_OBJECT_free(attrs[i].obj);
		free(attrs[i].value);
	}
	free(attrs);
	free(buf);
	if (r < 0) {
		*out_why = dp.why;
		X509_NAME_free(name);
		return r == -ENOMEM ? r : -EINVAL;
	}
	*out_name = name;
	return 0;
}

static const EVP_MD *csr_md(EVP_PKEY *key, const char *signer, int *r)
{
	const struct signer *s = find_signer(signer);
	char group[64] = "";
	size_t glen = 0;

	*r = 0;
	if (EVP_PKEY_get_id(key) == EVP_PKEY_ED25519)
		return NULL;
	if (signer) {
		if (!s || s->pkey != EVP_PKEY_get_id(key) || s->md_nid == NID_undef) {
			log_err("csr_signer %s does not fit the key", signer);
			*r = -EINVAL;
			return NULL;
		}
		return EVP_get_digestbynid(s->md_nid);
	}
	if (EVP_PKEY_get_id(key) == EVP_PKEY_EC &&
	    EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &glen)) {
		if (curve_nid(group) == NID_secp384r1)
			return EVP_sha384();
		if (curve_nid(group) == NID_secp521r1)
			return EVP_sha512();
	}
	return EVP_sha256();
}

static int csr_add_challenge(X509_REQ *req, const char *challenge)
{
	/* PrintableString holds base64 but '='? It does: A-Z a-z 0-9 ' ( ) + , - . / : = ? space.
	 */
	int type = strspn(challenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789 '()+,-./:=?") == strlen(challenge)
			   ? V_ASN1_PRINTABLESTRING
			   : MBSTRING_UTF8;

	if (!X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, type,
				       (const unsigned char *)challenge, (int)strlen(challenge)))
		return -EIO;
	return 0;
}

int crypto_csr_build(const struct csr_params *p, unsigned char **out_der, size_t *out_len)
{
	X509_REQ *req = X509_REQ_new();
	unsigned char *der = NULL;
	const EVP_MD *md;
	int r = -EIO, len;

	if (!req)
		return -ENOMEM;
	md = csr_md(p->key, p->signer, &r);
	if (r < 0)
		goto out;
	r = -EIO;
	if (!X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, (X509_NAME *)p->subject) ||
	    !X509_REQ_set_pubkey(req, p->key))
		goto fail;
	if (p->challenge_password && csr_add_challenge(req, p->challenge_password) < 0)
		goto fail;
	if (p->extensions && sk_X509_EXTENSION_num(p->extensions) > 0 &&
	    !X509_REQ_add_extensions(req, (STACK_OF(X509_EXTENSION) *)p->extensions))
		goto fail;
	if (!X509_REQ_sign(req, p->key, md))
		goto fail;
	len = i2d_X509_REQ(req, &der);
	if (len <= 0)
		goto fail;
	*out_der = der;
	*out_len = (size_t)len;
	r = 0;
	goto out;
fail:
	crypto_log_errors("cannot build the CSR");
out:
	X509_REQ_free(req);
	return r;
}

int crypto_certs_from_pem(const char *pem, size_t len, STACK_OF(X509) * *out_certs)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	const char *p = pem, *end = pem + len;
	int r = -ENOENT;

	if (!certs)
		return -ENOMEM;
	while (p < end) {
		const char *begin = memmem(p, (size_t)(end - p), "-----BEGIN CERTIFICATE-----", 27);
		BIO *bio;
		X509 *c = NULL;

		if (!begin)
			break;
		bio = BIO_new_mem_buf(begin, (int)(end - begin));
		if (bio)
			c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (!c || !sk_X509_push(certs, c)) {
			X509_free(c);
			r = -EBADMSG;
			break;
		}
		r = 0;
		p = begin + 27;
	}
	ERR_clear_error();
	if (r < 0) {
		sk_X509_pop_free(certs, X509_free);
		return r;
	}
	*out_certs = certs;
	return 0;
}

int crypto_cert_append_pem(X509 *cert, char **buf, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	size_t plen = 0;
	int r = -EIO;

	if (!bio)
		return -ENOMEM;
	if (PEM_write_bio_X509(bio, cert) == 1)
		r = bio_take(bio, &pem, &plen);
	BIO_free(bio);
	if (r < 0)
		return r;
	*buf = xrealloc(*buf, *len + plen + 1);
	memcpy(*buf + *len, pem, plen + 1);
	*len += plen;
	free(pem);
	return 0;
}

bool crypto_cert_matches_key(X509 *cert, EVP_PKEY *key)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);

	return pub && EVP_PKEY_eq(pub, key) == 1;
}

int crypto_verify_chain(X509 *leaf, STACK_OF(X509) * untrusted, STACK_OF(X509) * anchors,
			time_t now)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int i, r = -EBADMSG;

	if (!store || !ctx) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < sk_X509_num(anchors); i++)
		X509_STORE_add_cert(store, sk_X509_value(anchors, i));
	/* An intermediate among the anchors is enough (RFC 7030 explicit trust anchors). */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted))
		goto out;
	if (now)
		X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) == 1) {
		r = 0;
	} else {
		char *subject = crypto_cert_subject(leaf);

		log_err("certificate %s: %s", subject ? subject : "?",
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		OPENSSL_free(subject);
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
	    ASN1_TIME_to_tm(X509_get0_notAfter(cert), &na) != 1)
		return -EBADMSG;
	*out_not_before = timegm(&nb);
	*out_not_after = timegm(&na);
	return 0;
}

static char *name_string(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL, *out = NULL;
	size_t len = 0;

	if (!bio)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    bio_take(bio, &s, &len) == 0) {
		out = OPENSSL_strdup(s);
		free(s);
	}
	BIO_free(bio);
	return out;
}

char *crypto_cert_subject(X509 *cert)
{
	return name_string(X509_get_subject_name(cert));
}

char *crypto_cert_issuer(X509 *cert)
{
	return name_string(X509_get_issuer_name(cert));
}

char *crypto_cert_serial(X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	BN_free(bn);
	return hex;
}

int crypto_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *hex;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -EIO;
	hex = hex_encode(md, 32);
	memcpy(out, hex, 65);
	free(hex);
	return 0;
}

int crypto_cert_fingerprint(X509 *cert, char out[65])
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der), r;

	if (len <= 0)
		return -EIO;
	r = crypto_sha256_hex(der, (size_t)len, out);
	OPENSSL_free(der);
	return r;
}
