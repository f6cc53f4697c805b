/* SPDX-License-Identifier: MIT */
/* What a server asks of our CSR (RFC 7030 4.5, RFC 9908, /csrattrs): parsed and checked against
 * the config. */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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

/*
 * /csrattrs is optional information (RFC 7030 4.5): nothing in it may stop an enrollment but a
 * key requirement the configuration contradicts. So the answer is read one attribute at a time
 * with a small DER walker, and whatever is not understood or malformed is left out, with one
 * warning for the whole answer.
 */

#define CSRATTRS_MAX 65536
#define NOTES_MAX 240
#define OID_CRI_TEMPLATE "1.2.840.113549.1.9.16.2.61" /* id-aa-certificationRequestInfoTemplate */
#define OID_EXT_REQ_TEMPLATE "1.2.840.113549.1.9.16.2.62" /* id-aa-extensionReqTemplate */

#define TAG_BOOLEAN 0x01
#define TAG_INTEGER 0x02
#define TAG_BIT_STRING 0x03
#define TAG_OCTET_STRING 0x04
#define TAG_OID 0x06
#define TAG_SEQUENCE 0x30
#define TAG_SET 0x31
#define TAG_CTX0 0xa0
#define TAG_CTX1 0xa1

/* A span of DER: one element (TLV) or the content of one. */
struct der {
	const unsigned char *p;
	size_t len;
};

struct parse {
	struct csrattrs *a;
	int malformed;
	char notes[NOTES_MAX]; /* what is not understood, for the warning */
	size_t notes_len;
	bool template_seen;
};

/* Takes the next element off in: its tag, its content and the whole of it. */
static bool der_next(struct der *in, unsigned char *out_tag, struct der *out_content,
		     struct der *out_whole)
{
	const unsigned char *p = in->p;
	size_t left = in->len, hdr = 2, len, i, n;

	if (left < 2 || (p[0] & 0x1f) == 0x1f)
		return false;
	len = p[1];
	if (len & 0x80) {
		n = len & 0x7f;
		if (n == 0 || n > 4 || left < 2 + n)
			return false; /* indefinite (BER) or absurd */
		for (len = 0, i = 0; i < n; i++)
			len = len << 8 | p[2 + i];
		hdr += n;
	}
	if (len > left - hdr)
		return false;
	*out_tag = p[0];
	*out_content = (struct der){p + hdr, len};
	if (out_whole)
		*out_whole = (struct der){p, hdr + len};
	in->p += hdr + len;
	in->len -= hdr + len;
	return true;
}

static ASN1_OBJECT *der_object(const struct der *whole)
{
	const unsigned char *p = whole->p;

	return d2i_ASN1_OBJECT(NULL, &p, (long)whole->len);
}

/* The next element of in if it has tag; in moves past it. */
static bool der_take(struct der *in, unsigned char tag, struct der *out_content,
		     struct der *out_whole)
{
	struct der copy = *in, content, whole;
	unsigned char t;

	if (!der_next(&copy, &t, &content, &whole) || t != tag)
		return false;
	*in = copy;
	if (out_content)
		*out_content = content;
	if (out_whole)
		*out_whole = whole;
	return true;
}

__attribute__((format(printf, 2, 3))) static void note(struct parse *ps, const char *fmt, ...)
{
	char buf[96];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = snprintf(ps->notes + ps->notes_len, sizeof(ps->notes) - ps->notes_len, "%s%s",
		     ps->notes_len ? ", " : "", buf);
	if (n > 0)
		ps->notes_len += (size_t)n < sizeof(ps->notes) - ps->notes_len
					 ? (size_t)n
					 : sizeof(ps->notes) - ps->notes_len - 1;
}

/* The short name of obj (extendedKeyUsage), else its dotted form. */
static void oid_text(const ASN1_OBJECT *obj, char *buf, size_t len)
{
	int nid = OBJ_obj2nid(obj);

	if (nid != NID_undef && OBJ_nid2sn(nid))
		snprintf(buf, len, "%s", OBJ_nid2sn(nid));
	else if (OBJ_obj2txt(buf, (int)len, obj, 1) <= 0)
		snprintf(buf, len, "?");
}

static bool oid_is(const ASN1_OBJECT *obj, const char *dotted)
{
	char buf[80];

	return OBJ_obj2txt(buf, sizeof(buf), obj, 1) > 0 && !strcmp(buf, dotted);
}

/* An OID alone: a wish for an attribute, a key type or a signature algorithm. */
static void apply_oid(struct parse *ps, const ASN1_OBJECT *obj)
{
	int nid = OBJ_obj2nid(obj), md_nid = 0, pkey_nid = 0;
	struct csrattrs *a = ps->a;
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
	oid_text(obj, buf, sizeof(buf));
	note(ps, "%s", buf);
}

/* Puts ext into the request, replacing one of the same type (RFC 9908: one of each). */
static void add_extension(struct parse *ps, X509_EXTENSION *ext)
{
	STACK_OF(X509_EXTENSION) *exts = ps->a->extensions;
	int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext)), i;

	if (!exts)
		exts = ps->a->extensions = sk_X509_EXTENSION_new_null();
	for (i = 0; exts && nid != NID_undef && i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *old = sk_X509_EXTENSION_value(exts, i);

		if (OBJ_obj2nid(X509_EXTENSION_get_object(old)) == nid) {
			/* sk_set returns the new element, not the one it replaces. */
			sk_X509_EXTENSION_set(exts, i, ext);
			X509_EXTENSION_free(old);
			return;
		}
	}
	if (!exts || !sk_X509_EXTENSION_push(exts, ext))
		X509_EXTENSION_free(ext);
}

/* RFC 9908: an empty iPAddress or a directoryName of no RDNs in a subjectAltName is for the
 * client to fill in. We cannot: they are dropped, the rest is kept. NULL when nothing is left. */
static X509_EXTENSION *san_without_blanks(X509_EXTENSION *ext)
{
	GENERAL_NAMES *names = X509V3_EXT_d2i(ext);
	X509_EXTENSION *out = NULL;
	int i;

	if (!names)
		return NULL;
	for (i = sk_GENERAL_NAME_num(names) - 1; i >= 0; i--) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

		if ((g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 0) ||
		    (g->type == GEN_DIRNAME && X509_NAME_entry_count(g->d.directoryName) == 0))
			GENERAL_NAME_free(sk_GENERAL_NAME_delete(names, i));
	}
	if (sk_GENERAL_NAME_num(names) > 0)
		out = X509V3_EXT_i2d(NID_subject_alt_name, X509_EXTENSION_get_critical(ext), names);
	GENERAL_NAMES_free(names);
	return out;
}

/* One Extension or ExtensionTemplate { extnID, critical DEFAULT FALSE, extnValue OPTIONAL }. */
static int apply_extension(struct parse *ps, struct der in)
{
	struct der oid, crit, value;
	ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL, *kept;
	char buf[80];
	int critical = 0, r = -EBADMSG;

	if (!der_take(&in, TAG_OID, NULL, &oid) || !(obj = der_object(&oid)))
		goto out;
	if (der_take(&in, TAG_BOOLEAN, &crit, NULL))
		critical = crit.len == 1 && crit.p[0] != 0;
	if (!der_take(&in, TAG_OCTET_STRING, &value, NULL)) {
		if (in.len)
			goto out;
		oid_text(obj, buf, sizeof(buf));
		note(ps, "%s to fill in", buf);
		r = 0;
		goto out;
	}
	if (in.len || !(os = ASN1_OCTET_STRING_new()) ||
	    !ASN1_OCTET_STRING_set(os, value.p, (int)value.len))
		goto out;
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, os);
	if (!ext)
		goto out;
	r = 0;
	if (OBJ_obj2nid(obj) == NID_subject_alt_name) {
		kept = san_without_blanks(ext);
		X509_EXTENSION_free(ext);
		ext = kept;
		if (!ext) {
			note(ps, "subjectAltName to fill in");
			goto out;
		}
	}
	add_extension(ps, ext);
	ext = NULL;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return r;
}

/* Extensions, or ExtensionTemplates (RFC 9908): SEQUENCE OF one of them. */
static int apply_extensions(struct parse *ps, struct der seq)
{
	struct der content;
	unsigned char tag;
	int r = 0;

	while (seq.len && r == 0) {
		if (!der_next(&seq, &tag, &content, NULL) || tag != TAG_SEQUENCE)
			return -EBADMSG;
		r = apply_extension(ps, content);
	}
	return r;
}

/* The values of an extensionRequest: Extensions, or (RFC 7030 4.5.2's example, RFC 9908 3.2)
 * the bare OID of an extension the client is to fill in. */
static int apply_ext_req(struct parse *ps, struct der values)
{
	struct der content, whole;
	ASN1_OBJECT *obj;
	unsigned char tag;
	char buf[80];
	int r = 0;

	while (values.len && r == 0) {
		if (!der_next(&values, &tag, &content, &whole))
			return -EBADMSG;
		if (tag == TAG_SEQUENCE) {
			r = apply_extensions(ps, content);
		} else if (tag == TAG_OID && (obj = der_object(&whole))) {
			oid_text(obj, buf, sizeof(buf));
			note(ps, "%s to fill in", buf);
			ASN1_OBJECT_free(obj);
		} else {
			r = -EBADMSG;
		}
	}
	return r;
}

/* SubjectPublicKeyInfoTemplate { algorithm, subjectPublicKey OPTIONAL } (RFC 9908): the key type,
 * the curve in the parameters, or an RSA size from a dummy key. */
static int apply_spki(struct parse *ps, struct der spki)
{
	struct der alg, alg_whole, oid, params, copy = spki;
	ASN1_OBJECT *obj = NULL, *curve = NULL;
	unsigned char *full = NULL;
	const unsigned char *p;
	EVP_PKEY *key = NULL;
	size_t n;
	int r = -EBADMSG;

	if (!der_take(&copy, TAG_SEQUENCE, &alg, &alg_whole) ||
	    !der_take(&alg, TAG_OID, NULL, &oid) || !(obj = der_object(&oid)))
		goto out;
	apply_oid(ps, obj);
	if (OBJ_obj2nid(obj) == NID_X9_62_id_ecPublicKey &&
	    der_take(&alg, TAG_OID, NULL, &params) && (curve = der_object(&params)))
		ps->a->curve_nid = OBJ_obj2nid(curve);
	r = 0;
	if (OBJ_obj2nid(obj) != NID_rsaEncryption || !copy.len || spki.len > 0xffff)
		goto out;
	/* A dummy RSA key gives the size: the template's content as a SubjectPublicKeyInfo. */
	full = xmalloc(spki.len + 4);
	full[0] = TAG_SEQUENCE;
	if (spki.len < 0x80) {
		full[1] = (unsigned char)spki.len;
		n = 2;
	} else if (spki.len < 0x100) {
		full[1] = 0x81;
		full[2] = (unsigned char)spki.len;
		n = 3;
	} else {
		full[1] = 0x82;
		full[2] = (unsigned char)(spki.len >> 8);
		full[3] = (unsigned char)spki.len;
		n = 4;
	}
	memcpy(full + n, spki.p, spki.len);
	p = full;
	key = d2i_PUBKEY(NULL, &p, (long)(n + spki.len));
	if (key)
		ps->a->rsa_bits = EVP_PKEY_get_bits(key);
	else
		r = -EBADMSG;
out:
	EVP_PKEY_free(key);
	free(full);
	ASN1_OBJECT_free(curve);
	ASN1_OBJECT_free(obj);
	return r;
}

static bool string_tag(unsigned char tag)
{
	return tag == V_ASN1_UTF8STRING || tag == V_ASN1_PRINTABLESTRING ||
	       tag == V_ASN1_IA5STRING || tag == V_ASN1_T61STRING || tag == V_ASN1_BMPSTRING ||
	       tag == V_ASN1_UNIVERSALSTRING || tag == V_ASN1_NUMERICSTRING;
}

/* NameTemplate: RDNs whose SingleAttributeTemplate values may be absent (to fill in). */
static int apply_name(struct parse *ps, struct der rdns)
{
	struct der rdn, atv, oid, value;
	X509_NAME *name = X509_NAME_new();
	ASN1_OBJECT *obj = NULL;
	unsigned char tag;
	int set, r = -EBADMSG;

	while (name && rdns.len) {
		if (!der_next(&rdns, &tag, &rdn, NULL) || tag != TAG_SET || !rdn.len)
			goto out;
		for (set = 0; rdn.len; set = -1) {
			if (!der_next(&rdn, &tag, &atv, NULL) || tag != TAG_SEQUENCE ||
			    !der_take(&atv, TAG_OID, NULL, &oid) || !(obj = der_object(&oid)))
				goto out;
			value = (struct der){(const unsigned char *)"", 0};
			tag = V_ASN1_UTF8STRING;
			if (atv.len && (!der_next(&atv, &tag, &value, NULL) || !string_tag(tag) ||
					!value.len || atv.len))
				goto out;
			if (!X509_NAME_add_entry_by_OBJ(name, obj, tag, value.p, (int)value.len, -1,
							set))
				goto out;
			ASN1_OBJECT_free(obj);
			obj = NULL;
		}
	}
	r = name ? 0 : -ENOMEM;
	X509_NAME_free(ps->a->subject);
	ps->a->subject = name;
	name = NULL;
out:
	ASN1_OBJECT_free(obj);
	X509_NAME_free(name);
	return r;
}

static int apply_attribute(struct parse *ps, struct der attr, bool in_template);

/* CertificationRequestInfoTemplate { version, subject OPTIONAL, [0] subjectPKInfo OPTIONAL,
 * [1] attributes } (RFC 9908 3.4). */
static int apply_template(struct parse *ps, struct der tmpl)
{
	struct der version, part, attr;
	unsigned char tag;
	int r = 0;

	if (!der_take(&tmpl, TAG_INTEGER, &version, NULL) || version.len != 1 || version.p[0])
		return -EBADMSG;
	if (der_take(&tmpl, TAG_SEQUENCE, &part, NULL))
		r = apply_name(ps, part);
	if (r == 0 && der_take(&tmpl, TAG_CTX0, &part, NULL))
		r = apply_spki(ps, part);
	if (r == 0 && der_take(&tmpl, TAG_CTX1, &part, NULL)) {
		while (part.len) {
			if (!der_next(&part, &tag, &attr, NULL) || tag != TAG_SEQUENCE)
				return -EBADMSG;
			if (apply_attribute(ps, attr, true) < 0)
				ps->malformed++;
		}
	}
	return r == 0 && tmpl.len ? -EBADMSG : r;
}

/* An Attribute { type, values SET }: what the type says of its values. */
static int apply_attribute(struct parse *ps, struct der attr, bool in_template)
{
	struct der oid, values, copy, content, whole;
	ASN1_OBJECT *obj = NULL, *v = NULL;
	size_t i;
	int nid, r = -EBADMSG;

	if (!der_take(&attr, TAG_OID, NULL, &oid) || !der_take(&attr, TAG_SET, &values, NULL) ||
	    attr.len || !values.len || !(obj = der_object(&oid)))
		goto out;
	nid = OBJ_obj2nid(obj);
	copy = values;
	if (nid == NID_ext_req) {
		r = apply_ext_req(ps, values);
	} else if (oid_is(obj, OID_EXT_REQ_TEMPLATE)) {
		r = der_take(&copy, TAG_SEQUENCE, &content, NULL) && !copy.len
			    ? apply_extensions(ps, content)
			    : -EBADMSG;
	} else if (oid_is(obj, OID_CRI_TEMPLATE)) {
		/* A template in a template is not a template. */
		r = !in_template && der_take(&copy, TAG_SEQUENCE, &content, NULL) && !copy.len
			    ? apply_template(ps, content)
			    : -EBADMSG;
	} else if (nid == NID_X9_62_id_ecPublicKey) {
		r = der_take(&copy, TAG_OID, NULL, &whole) && (v = der_object(&whole)) ? 0
										       : -EBADMSG;
		if (r == 0)
			ps->a->curve_nid = OBJ_obj2nid(v);
	} else if (nid == NID_rsaEncryption) {
		r = der_take(&copy, TAG_INTEGER, &content, NULL) && content.len &&
				    content.len <= 3 && !(content.p[0] & 0x80)
			    ? 0
			    : -EBADMSG;
		for (i = 0; r == 0 && i < content.len; i++)
			ps->a->rsa_bits = ps->a->rsa_bits << 8 | content.p[i];
	} else {
		r = 0;
	}
	/* challengePassword, id-ecPublicKey, rsaEncryption: the type itself is a wish too. */
	if (r == 0 && nid != NID_ext_req && !oid_is(obj, OID_EXT_REQ_TEMPLATE) &&
	    !oid_is(obj, OID_CRI_TEMPLATE))
		apply_oid(ps, obj);
out:
	ASN1_OBJECT_free(v);
	ASN1_OBJECT_free(obj);
	return r;
}

void csrattrs_free(struct csrattrs *a)
{
	if (!a)
		return;
	sk_X509_EXTENSION_pop_free(a->extensions, X509_EXTENSION_free);
	X509_NAME_free(a->subject);
	free(a);
}

/* The first CertificationRequestInfoTemplate attribute among items, parsed into ps; false when
 * there is none or it is malformed (counted). */
static bool parse_template(struct parse *ps, struct der items)
{
	struct der item, oid;
	ASN1_OBJECT *obj;
	unsigned char tag;
	bool is_template;

	while (der_next(&items, &tag, &item, NULL)) {
		if (tag != TAG_SEQUENCE)
			continue;
		oid = item;
		if (!der_take(&oid, TAG_OID, NULL, &oid) || !(obj = der_object(&oid)))
			continue;
		is_template = oid_is(obj, OID_CRI_TEMPLATE);
		ASN1_OBJECT_free(obj);
		if (!is_template)
			continue;
		ps->template_seen = true;
		if (apply_attribute(ps, item, false) == 0)
			return true;
		ps->malformed++;
		ps->notes_len = 0;
		ps->notes[0] = '\0';
		return false;
	}
	return false;
}

/* Every AttrOrOID of items into ps, but a template parse_template found malformed. */
static void parse_items(struct parse *ps, struct der items)
{
	struct der item, whole, oid;
	ASN1_OBJECT *obj;
	unsigned char tag;
	bool skip;

	while (items.len) {
		if (!der_next(&items, &tag, &item, &whole)) {
			ps->malformed++; /* the rest cannot be told apart */
			return;
		}
		oid = item;
		if (ps->template_seen && tag == TAG_SEQUENCE &&
		    der_take(&oid, TAG_OID, NULL, &oid) && (obj = der_object(&oid))) {
			skip = oid_is(obj, OID_CRI_TEMPLATE);
			ASN1_OBJECT_free(obj);
			if (skip)
				continue;
		}
		if (tag == TAG_OID && (obj = der_object(&whole))) {
			apply_oid(ps, obj);
			ASN1_OBJECT_free(obj);
		} else if (tag != TAG_SEQUENCE || apply_attribute(ps, item, false) < 0) {
			ps->malformed++;
		}
	}
}

static void report(const struct parse *ps)
{
	if (ps->malformed)
		log_warn("csrattrs: skipped %d malformed attribute(s) of the server's answer",
			 ps->malformed);
	if (ps->notes_len)
		log_warn("csrattrs: left out what this client cannot provide: %s", ps->notes);
}

int csrattrs_parse(const unsigned char *der, size_t len, struct csrattrs **out_attrs)
{
	struct der in = {der, len}, items;
	struct parse ps = {.a = xzalloc(sizeof(*ps.a))};
	unsigned char tag;

	if (len > CSRATTRS_MAX || !der_next(&in, &tag, &items, NULL) || tag != TAG_SEQUENCE ||
	    in.len) {
		log_warn("csrattrs: the server's answer is not a CsrAttrs SEQUENCE: ignored");
		csrattrs_free(ps.a);
		return -EBADMSG;
	}
	/* RFC 9908 4: a client that understands the template uses it alone. */
	if (parse_template(&ps, items)) {
		ps.a->from_template = true;
		log_info("csrattrs: following the server's CSR template (RFC 9908)");
	} else {
		csrattrs_free(ps.a);
		ps.a = xzalloc(sizeof(*ps.a));
		parse_items(&ps, items);
	}
	report(&ps);
	*out_attrs = ps.a;
	return 0;
}

static const char *key_type_name(int pkey_id)
{
	switch (pkey_id) {
	case EVP_PKEY_EC:
		return "EC";
	case EVP_PKEY_RSA:
		return "RSA";
	case EVP_PKEY_ED25519:
		return "ED25519";
	default:
		return "?";
	}
}

int csrattrs_check_key(const struct csrattrs *a, enum key_alg alg, const char *params)
{
	int curve = 0;

	if (a->key_type && a->key_type != crypto_key_alg_pkey_id(alg)) {
		log_err("csrattrs: the server requires key_algorithm = %s, the configuration says "
			"%s",
			key_type_name(a->key_type), config_key_alg_name(alg));
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

/* The value of the k-th entry of type obj in name, or NULL. */
static const ASN1_STRING *nth_value(const X509_NAME *name, const ASN1_OBJECT *obj, int k)
{
	int i = -1;

	do
		i = X509_NAME_get_index_by_OBJ(name, obj, i);
	while (i >= 0 && k-- > 0);
	return i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)) : NULL;
}

int csrattrs_subject(const struct csrattrs *a, const X509_NAME *configured, X509_NAME **out_name)
{
	X509_NAME *name = NULL;
	int i, j, k, n, prev_set = -1, r = 0;
	char buf[80];

	if (!a || !a->subject)
		return -ENOENT;
	name = X509_NAME_new();
	n = X509_NAME_entry_count(a->subject);
	for (i = 0; name && i < n && r == 0; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(a->subject, i);
		const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
		int set = X509_NAME_ENTRY_set(e);

		if (ASN1_STRING_length(v) == 0) {
			/* The k-th blank of this type takes the k-th value of the configured one.
			 */
			for (j = 0, k = 0; j < i; j++)
				k += !OBJ_cmp(X509_NAME_ENTRY_get_object(
						      X509_NAME_get_entry(a->subject, j)),
					      obj) &&
				     ASN1_STRING_length(X509_NAME_ENTRY_get_data(
					     X509_NAME_get_entry(a->subject, j))) == 0;
			v = nth_value(configured, obj, k);
		}
		if (!v) {
			oid_text(obj, buf, sizeof(buf));
			log_warn("csrattrs: the server's template asks for %s, which the "
				 "configured subject does not have: keeping the configured subject",
				 buf);
			r = -ENOENT;
		} else if (!X509_NAME_add_entry_by_OBJ(
				   name, obj, ASN1_STRING_type(v), ASN1_STRING_get0_data(v),
				   ASN1_STRING_length(v), -1, set == prev_set ? -1 : 0)) {
			r = -ENOMEM;
		}
		prev_set = set;
	}
	if (!name)
		r = -ENOMEM;
	if (r < 0)
		X509_NAME_free(name);
	else
		*out_name = name;
	return r;
}
