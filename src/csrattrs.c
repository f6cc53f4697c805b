/* SPDX-License-Identifier: MIT */
/* What a server asks of our CSR (RFC 7030 4.5, /csrattrs): parsed and checked against the config.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "csrattrs.h"
#include "log.h"
#include "util.h"

void csrattrs_free(struct csrattrs *a)
{
	if (!a)
		return;
	sk_X509_EXTENSION_pop_free(a->extensions, X509_EXTENSION_free);
	free(a);
}

/* An OID alone: a wish for an attribute, a key type or a signature algorithm. */
static void apply_oid(struct csrattrs *a, const ASN1_OBJECT *obj)
{
	int nid = OBJ_obj2nid(obj), md_nid = 0, pkey_nid = 0;
	char buf[80];

	switch (nid) {
	case NID_pkcs9_challengePassword:
		a->challenge_password = true;
		return;
	case NID_X9_62_id_ecPublicKey:
		a->key_type = EVP_PKEY_EC;
		return;
	case NID_rsaEncryption:
		a->key_type = EVP_PKEY_RSA;
		return;
	case NID_ED25519:
		a->key_type = EVP_PKEY_ED25519;
		return;
	default:
		break;
	}
	if (OBJ_find_sigid_algs(nid, &md_nid, &pkey_nid) && md_nid != NID_undef) {
		a->md = EVP_get_digestbynid(md_nid);
		return;
	}
	OBJ_obj2txt(buf, sizeof(buf), obj, 1);
	log_debug("csrattrs: ignoring OID %s", buf);
}

static int apply_ext_req(struct csrattrs *a, const ASN1_TYPE *v)
{
	const unsigned char *p;
	STACK_OF(X509_EXTENSION) *exts;

	if (v->type != V_ASN1_SEQUENCE)
		return -EBADMSG;
	p = v->value.sequence->data;
	exts = d2i_X509_EXTENSIONS(NULL, &p, v->value.sequence->length);
	if (!exts)
		return -EBADMSG;
	sk_X509_EXTENSION_pop_free(a->extensions, X509_EXTENSION_free);
	a->extensions = exts;
	return 0;
}

/* An Attribute { type, values }: extensionRequest, or a key type with its parameter. */
static int apply_attribute(struct csrattrs *a, const ASN1_TYPE *seq)
{
	const unsigned char *p = seq->value.sequence->data;
	STACK_OF(ASN1_TYPE) *parts = d2i_ASN1_SEQUENCE_ANY(NULL, &p, seq->value.sequence->length);
	STACK_OF(ASN1_TYPE) *values = NULL;
	const ASN1_TYPE *type, *set, *v;
	int nid, r = -EBADMSG;

	if (!parts || sk_ASN1_TYPE_num(parts) != 2)
		goto out;
	type = sk_ASN1_TYPE_value(parts, 0);
	set = sk_ASN1_TYPE_value(parts, 1);
	if (type->type != V_ASN1_OBJECT || set->type != V_ASN1_SET)
		goto out;
	p = set->value.set->data;
	values = d2i_ASN1_SET_ANY(NULL, &p, set->value.set->length);
	if (!values || sk_ASN1_TYPE_num(values) < 1)
		goto out;
	v = sk_ASN1_TYPE_value(values, 0);
	nid = OBJ_obj2nid(type->value.object);
	r = 0;
	if (nid == NID_ext_req)
		r = apply_ext_req(a, v);
	else if (nid == NID_X9_62_id_ecPublicKey && v->type == V_ASN1_OBJECT)
		a->curve_nid = OBJ_obj2nid(v->value.object);
	else if (nid == NID_rsaEncryption && v->type == V_ASN1_INTEGER)
		a->rsa_bits = (int)ASN1_INTEGER_get(v->value.integer);
	/* challengePassword, id-ecPublicKey, rsaEncryption: the type itself is a wish too. */
	if (r == 0 && nid != NID_ext_req)
		apply_oid(a, type->value.object);
out:
	sk_ASN1_TYPE_pop_free(values, ASN1_TYPE_free);
	sk_ASN1_TYPE_pop_free(parts, ASN1_TYPE_free);
	return r;
}

int csrattrs_parse(const unsigned char *der, size_t len, struct csrattrs **out_attrs)
{
	const unsigned char *p = der;
	STACK_OF(ASN1_TYPE) *items = NULL;
	struct csrattrs *a = xzalloc(sizeof(*a));
	int i, r = -EBADMSG;

	if (len > 65536)
		goto out;
	items = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len);
	if (!items || p != der + len)
		goto out;
	r = 0;
	for (i = 0; i < sk_ASN1_TYPE_num(items) && r == 0; i++) {
		const ASN1_TYPE *t = sk_ASN1_TYPE_value(items, i);

		if (t->type == V_ASN1_OBJECT)
			apply_oid(a, t->value.object);
		else if (t->type == V_ASN1_SEQUENCE)
			r = apply_attribute(a, t);
		else
			r = -EBADMSG;
	}
	if (r == 0) {
		*out_attrs = a;
		a = NULL;
	}
out:
	if (r < 0)
		log_err("csrattrs: the server's CSR attributes are malformed");
	sk_ASN1_TYPE_pop_free(items, ASN1_TYPE_free);
	csrattrs_free(a);
	return r;
}

int csrattrs_check_key(const struct csrattrs *a, enum key_alg alg, const char *params)
{
	int curve = 0;

	if (a->key_type && a->key_type != crypto_key_alg_pkey_id(alg)) {
		log_err("csrattrs: the server requires a %s key, the configuration says %s",
			OBJ_nid2sn(a->key_type), config_key_alg_name(alg));
		return -EPROTO;
	}
	if (alg == KEY_ALG_EC && a->curve_nid && params) {
		curve = crypto_curve_nid(params);
		if (curve != a->curve_nid) {
			log_err("csrattrs: the server requires curve %s, the configuration says %s",
				OBJ_nid2sn(a->curve_nid), params);
			return -EPROTO;
		}
	}
	if (alg == KEY_ALG_RSA && a->rsa_bits && params && atoi(params) != a->rsa_bits) {
		log_err("csrattrs: the server requires %d-bit RSA, the configuration says %s",
			a->rsa_bits, params);
		return -EPROTO;
	}
	return 0;
}
