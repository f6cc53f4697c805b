/* SPDX-License-Identifier: MIT */
/* RFC 4514 distinguished names (the subject setting) parsed into an X509_NAME. */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "dn.h"
#include "util.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 4514 section 3 names, case-insensitive, and a few more in common use; then OpenSSL's own
 * short and long names; then a dotted OID. */
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
		{"S", NID_stateOrProvinceName},
		{"O", NID_organizationName},
		{"OU", NID_organizationalUnitName},
		{"STREET", NID_streetAddress},
		{"DC", NID_domainComponent},
		{"UID", NID_userId},
		{"SERIALNUMBER", NID_serialNumber},
		{"E", NID_pkcs9_emailAddress},
		{"EMAIL", NID_pkcs9_emailAddress},
		{"EMAILADDRESS", NID_pkcs9_emailAddress},
		{"T", NID_title},
		{"TITLE", NID_title},
		{"G", NID_givenName},
		{"GN", NID_givenName},
		{"GIVENNAME", NID_givenName},
		{"SN", NID_surname},
		{"SURNAME", NID_surname},
		{"PSEUDONYM", NID_pseudonym},
		{"INITIALS", NID_initials},
		{"GENERATIONQUALIFIER", NID_generationQualifier},
		{"DNQUALIFIER", NID_dnQualifier},
		{"POSTALCODE", NID_postalCode},
		{"ORGANIZATIONIDENTIFIER", NID_organizationIdentifier},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(names[i].name, name))
			return OBJ_nid2obj(names[i].nid);
	return OBJ_txt2obj(name, isdigit((unsigned char)name[0]) ? 1 : 0);
}

struct dn_parser {
	const char *p;	    /* next character of the string */
	unsigned char *buf; /* the current value, unescaped */
	size_t len;
	bool hex; /* buf holds the BER of a #hexstring */
	X509_NAME *name;
	const char *why;
};

static void skip_spaces(struct dn_parser *dp)
{
	while (*dp->p == ' ')
		dp->p++;
}

static bool at_separator(const struct dn_parser *dp)
{
	return !*dp->p || *dp->p == ',' || *dp->p == '+';
}

/* "TYPE =" at dp->p; the type as an object. */
static int dn_type(struct dn_parser *dp, ASN1_OBJECT **out_obj)
{
	const char *t;
	size_t n;
	char *type;

	skip_spaces(dp);
	t = dp->p;
	while (isalnum((unsigned char)*dp->p) || *dp->p == '-' || *dp->p == '.')
		dp->p++;
	n = (size_t)(dp->p - t);
	skip_spaces(dp);
	if (n == 0 || *dp->p != '=') {
		dp->why = n == 0 && at_separator(dp) ? "empty RDN"
			  : n == 0		     ? "bad attribute type"
						     : "expected '=' after the attribute type";
		return -EINVAL;
	}
	dp->p++;
	type = xstrndup(t, n);
	*out_obj = attr_type(type);
	free(type);
	if (!*out_obj) {
		ERR_clear_error();
		dp->why = "unknown attribute type";
		return -EINVAL;
	}
	return 0;
}

/* "#hexstring": the BER encoding of the value, in pairs of hex digits. */
static int dn_hexstring(struct dn_parser *dp)
{
	dp->p++;
	dp->hex = true;
	while (hexval(dp->p[0]) >= 0 && hexval(dp->p[1]) >= 0) {
		dp->buf[dp->len++] = (unsigned char)(hexval(dp->p[0]) << 4 | hexval(dp->p[1]));
		dp->p += 2;
	}
	skip_spaces(dp);
	if (dp->len == 0 || !at_separator(dp)) {
		dp->why = "bad #hexstring value";
		return -EINVAL;
	}
	return 0;
}

/* One escape after '\\': a special character or two hex digits (a byte of UTF-8). */
static int dn_escape(struct dn_parser *dp)
{
	const char *p = dp->p + 1;

	if (hexval(p[0]) >= 0 && hexval(p[1]) >= 0) {
		dp->buf[dp->len] = (unsigned char)(hexval(p[0]) << 4 | hexval(p[1]));
		dp->p = p + 2;
	} else if (*p && strchr(" \"#+,;<=>\\", *p)) {
		dp->buf[dp->len] = (unsigned char)*p;
		dp->p = p + 1;
	} else {
		dp->why = "bad escape (use \\ before , + \" \\ < > ; = # space, or \\XX hex)";
		return -EINVAL;
	}
	if (dp->buf[dp->len] == '\0') {
		dp->why = "NUL in attribute value";
		return -EINVAL;
	}
	dp->len++;
	return 0;
}

/* The value up to an unescaped ',' or '+', or the end; spaces around it are dropped. */
static int dn_value(struct dn_parser *dp)
{
	size_t keep = 0;

	dp->len = 0;
	dp->hex = false;
	skip_spaces(dp);
	if (*dp->p == '#')
		return dn_hexstring(dp);
	while (!at_separator(dp)) {
		if (*dp->p == '\\') {
			if (dn_escape(dp) < 0)
				return -EINVAL;
			keep = dp->len; /* an escaped space at the end stays */
			continue;
		}
		if (strchr("\";<>", *dp->p)) {
			dp->why = "unescaped special character in value (\" ; < > need a \\)";
			return -EINVAL;
		}
		dp->buf[dp->len++] = (unsigned char)*dp->p;
		if (*dp->p++ != ' ')
			keep = dp->len;
	}
	dp->len = keep;
	if (dp->len == 0) {
		dp->why = "empty attribute value";
		return -EINVAL;
	}
	return 0;
}

/* ASN.1 string types a #hexstring value may carry. */
#define DN_HEX_TYPES                                                                               \
	(B_ASN1_UTF8STRING | B_ASN1_PRINTABLESTRING | B_ASN1_IA5STRING | B_ASN1_T61STRING |        \
	 B_ASN1_BMPSTRING | B_ASN1_UNIVERSALSTRING | B_ASN1_NUMERICSTRING | B_ASN1_VISIBLESTRING)

/* Adds the parsed value: as the first member of a new RDN in front (the string lists the most
 * significant RDN last), or as one more member of the RDN added last. */
static int dn_add(struct dn_parser *dp, const ASN1_OBJECT *obj, bool new_rdn)
{
	const unsigned char *data = dp->buf, *p = dp->buf;
	ASN1_TYPE *at = NULL;
	int type = MBSTRING_UTF8, len = (int)dp->len, r = -EINVAL;

	if (dp->hex) {
		at = d2i_ASN1_TYPE(NULL, &p, (long)dp->len);
		if (!at || p != dp->buf + dp->len || !(ASN1_tag2bit(at->type) & DN_HEX_TYPES)) {
			dp->why = "#hexstring is not the BER encoding of a string";
			goto out;
		}
		type = at->type;
		data = ASN1_STRING_get0_data(at->value.asn1_string);
		len = ASN1_STRING_length(at->value.asn1_string);
	}
	if (!dp->name) {
		r = 0; /* dn_check: the value is checked for its type when the name is built */
		goto out;
	}
	if (!X509_NAME_add_entry_by_OBJ(dp->name, obj, type, data, len, new_rdn ? 0 : 1,
					new_rdn ? 0 : -1)) {
		dp->why = "value not valid for this attribute type (characters or length)";
		goto out;
	}
	r = 0;
out:
	/* Only after a failure: the first ERR call of a thread loads OpenSSL's error strings. */
	if (r < 0)
		ERR_clear_error();
	ASN1_TYPE_free(at);
	return r;
}

/* "TYPE=VALUE" at dp->p, added to the name. */
static int dn_attribute(struct dn_parser *dp, bool new_rdn)
{
	ASN1_OBJECT *obj = NULL;
	int r = dn_type(dp, &obj);

	if (r == 0)
		r = dn_value(dp);
	if (r == 0)
		r = dn_add(dp, obj, new_rdn);
	ASN1_OBJECT_free(obj);
	return r;
}

static int parse(const char *dn, X509_NAME **out_name, const char **out_why)
{
	struct dn_parser dp = {.p = dn ? dn : "", .why = "empty subject"};
	bool new_rdn = true;
	int r = -EINVAL;

	dp.buf = xmalloc(strlen(dp.p) + 1);
	dp.name = out_name ? X509_NAME_new() : NULL;
	if (out_name && !dp.name) {
		dp.why = "out of memory";
		r = -ENOMEM;
		goto out;
	}
	skip_spaces(&dp);
	if (!*dp.p)
		goto out;
	for (;;) {
		r = dn_attribute(&dp, new_rdn);
		if (r < 0 || !*dp.p)
			break;
		/* ',' ends the RDN, '+' adds a member to it. */
		new_rdn = *dp.p++ == ',';
	}
out:
	free(dp.buf);
	if (r < 0) {
		*out_why = dp.why;
		X509_NAME_free(dp.name);
		return r;
	}
	if (out_name)
		*out_name = dp.name;
	return 0;
}

int dn_parse(const char *dn, X509_NAME **out_name, const char **out_why)
{
	return parse(dn, out_name, out_why);
}

int dn_check(const char *dn, const char **out_why)
{
	return parse(dn, NULL, out_why);
}
