/* SPDX-License-Identifier: MIT */
/*
 * A DER Name (RFC 5280 4.1.2.4) in RFC 2253 form, the way crypto_name_string() has OpenSSL print
 * it (XN_FLAG_RFC2253 without ESC_MSB), for the names people use: status shows every stored
 * certificate's subject and issuer, and OpenSSL's d2i_X509_NAME and X509_NAME_print_ex would be
 * most of the libcrypto it pages in. Anything outside the common case returns NULL, and the
 * caller lets OpenSSL print it.
 *   Name ::= SEQUENCE OF RelativeDistinguishedName
 *   RelativeDistinguishedName ::= SET OF AttributeTypeAndValue
 *   AttributeTypeAndValue ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY }
 */
#include "autoconf.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>

#include "der.h"
#include "dn_print.h"

/* Attribute types by the content octets of their OID, with OpenSSL's short names. */
static const struct {
	const char *sn;
	unsigned char len;
	unsigned char oid[10];
} types[] = {
	{"CN", 3, {0x55, 0x04, 0x03}},
	{"SN", 3, {0x55, 0x04, 0x04}},
	{"serialNumber", 3, {0x55, 0x04, 0x05}},
	{"C", 3, {0x55, 0x04, 0x06}},
	{"L", 3, {0x55, 0x04, 0x07}},
	{"ST", 3, {0x55, 0x04, 0x08}},
	{"street", 3, {0x55, 0x04, 0x09}},
	{"O", 3, {0x55, 0x04, 0x0a}},
	{"OU", 3, {0x55, 0x04, 0x0b}},
	{"title", 3, {0x55, 0x04, 0x0c}},
	{"postalCode", 3, {0x55, 0x04, 0x11}},
	{"GN", 3, {0x55, 0x04, 0x2a}},
	{"initials", 3, {0x55, 0x04, 0x2b}},
	{"generationQualifier", 3, {0x55, 0x04, 0x2c}},
	{"dnQualifier", 3, {0x55, 0x04, 0x2e}},
	{"pseudonym", 3, {0x55, 0x04, 0x41}},
	{"organizationIdentifier", 3, {0x55, 0x04, 0x61}},
	{"emailAddress", 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01}},
	{"UID", 10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01}},
	{"DC", 10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19}},
};

#define TAG_UTF8 0x0c
#define TAG_PRINTABLE 0x13
#define TAG_IA5 0x16
#define TAG_SEQUENCE 0x30
#define TAG_SET 0x31
#define TAG_OID 0x06

struct ava {
	const char *sn;
	const unsigned char *value;
	size_t len;
	int rdn; /* which RDN it belongs to */
};

static const char *type_name(const unsigned char *oid, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].len == len && !memcmp(types[i].oid, oid, len))
			return types[i].sn;
	return NULL;
}

/* One AttributeTypeAndValue into a, if it is of the kind printed here. */
static bool read_ava(const unsigned char **p, const unsigned char *end, struct ava *a)
{
	const unsigned char *q, *cend;
	struct der seq, oid, v;
	size_t i;
	unsigned char tag;

	if (!der_next(p, end, TAG_SEQUENCE, &seq))
		return false;
	q = seq.content;
	cend = seq.content + seq.content_len;
	if (!der_next(&q, cend, TAG_OID, &oid) ||
	    !(a->sn = type_name(oid.content, oid.content_len)) || q >= cend)
		return false;
	tag = *q;
	if ((tag != TAG_UTF8 && tag != TAG_PRINTABLE && tag != TAG_IA5) ||
	    !der_next(&q, cend, tag, &v) || q != cend)
		return false;
	/* Printable ASCII only: OpenSSL escapes control bytes and converts the others. */
	for (i = 0; i < v.content_len; i++)
		if (v.content[i] < 0x20 || v.content[i] > 0x7e)
			return false;
	a->value = v.content;
	a->len = v.content_len;
	return true;
}

/* RFC 2253 2.4, as OpenSSL's do_esc_char does it for ESC_2253. */
static size_t escape(const struct ava *a, char *out)
{
	size_t i, n = 0;

	for (i = 0; i < a->len; i++) {
		char ch = (char)a->value[i];
		bool edge = (i == 0 && (ch == '#' || ch == ' ')) || (i == a->len - 1 && ch == ' ');

		if (edge || strchr(",+\"\\<>;", ch))
			out[n++] = '\\';
		out[n++] = ch;
	}
	return n;
}

char *dn_print_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der, *end = der + len, *name, *set, *q;
	size_t nlen, slen, n = 0, cap = 1, i, k;
	struct der t;
	struct ava *avas = NULL, *grown;
	int rdn = 0;
	char *s = NULL;

	if (!der_next(&p, end, TAG_SEQUENCE, &t) || p != end)
		return NULL;
	name = t.content;
	nlen = t.content_len;
	for (p = name; p < name + nlen; rdn++) {
		if (!der_next(&p, name + nlen, TAG_SET, &t) || t.content_len == 0)
			goto out;
		set = t.content;
		slen = t.content_len;
		for (q = set; q < set + slen; n++) {
			grown = OPENSSL_realloc(avas, sizeof(*avas) * (n + 1));
			if (!grown)
				goto out;
			avas = grown;
			if (!read_ava(&q, set + slen, &avas[n]))
				goto out;
			avas[n].rdn = rdn;
			cap += strlen(avas[n].sn) + 2 + 2 * avas[n].len;
		}
	}
	s = OPENSSL_malloc(cap);
	if (!s)
		goto out;
	/* Last RDN first, and inside one RDN last value first, as XN_FLAG_DN_REV does. */
	for (k = 0, i = n; i-- > 0;) {
		if (i != n - 1)
			s[k++] = avas[i].rdn == avas[i + 1].rdn ? '+' : ',';
		memcpy(s + k, avas[i].sn, strlen(avas[i].sn));
		k += strlen(avas[i].sn);
		s[k++] = '=';
		k += escape(&avas[i], s + k);
	}
	s[k] = '\0';
out:
	OPENSSL_free(avas);
	return s;
}
