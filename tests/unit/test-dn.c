/* SPDX-License-Identifier: MIT */
/* Unit tests for dn.c: RFC 4514 strings to X509_NAME, their DER structure, and refusals. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "dn.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static char *name_text(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;
	long n;

	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	n = BIO_get_mem_data(bio, &s);
	s = xstrndup(n > 0 ? s : "", n > 0 ? (size_t)n : 0);
	BIO_free(bio);
	return s;
}

/* The name after a DER round trip, so set members come back in DER (sorted) order. */
static X509_NAME *name_der_round_trip(const X509_NAME *name)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509_NAME(name, &der);
	X509_NAME *back;

	p = der;
	back = len > 0 ? d2i_X509_NAME(NULL, &p, len) : NULL;
	OPENSSL_free(der);
	return back;
}

static void test_subjects_good(void)
{
	static const struct {
		const char *in;
		const char *want; /* RFC 2253 print (most significant RDN last) */
		int first_nid;	  /* first RDN in DER order */
		int entries;
	} cases[] = {
		{"CN=gw-0042,O=Example,C=IT", "CN=gw-0042,O=Example,C=IT", NID_countryName, 3},
		{" CN = gw , O = Ex ", "CN=gw,O=Ex", NID_organizationName, 2},
		{"cn=lower,o=case", "CN=lower,O=case", NID_organizationName, 2},
		{"CN=a\\,b\\+c\\;d\\\"e\\<f\\>g\\=h\\\\i", "CN=a\\,b\\+c\\;d\\\"e\\<f\\>g=h\\\\i",
		 NID_commonName, 1},
		{"CN=a=b", "CN=a=b", NID_commonName, 1},
		{"CN=\\#hash", "CN=\\#hash", NID_commonName, 1},
		{"CN=\\ both\\ ", "CN=\\ both\\ ", NID_commonName, 1},
		{"CN=in side", "CN=in side", NID_commonName, 1},
		{"CN=caf\\C3\\A9", "CN=caf\xc3\xa9", NID_commonName, 1},
		{"CN=caf\xc3\xa9", "CN=caf\xc3\xa9", NID_commonName, 1},
		/* DER sorts the members of a multi-valued RDN. */
		{"CN=a+serialNumber=42,C=IT", "serialNumber=42+CN=a,C=IT", NID_countryName, 3},
		{"OU=x+OU=y+OU=z,O=o", "OU=z+OU=y+OU=x,O=o", NID_organizationName, 4},
		{"2.5.4.3=oid-name", "CN=oid-name", NID_commonName, 1},
		{"emailAddress=a@b.c,DC=example,DC=net", "emailAddress=a@b.c,DC=example,DC=net",
		 NID_domainComponent, 3},
		{"E=a@b.c", "emailAddress=a@b.c", NID_pkcs9_emailAddress, 1},
		{"UID=jdoe,SERIALNUMBER=123,T=Eng,GN=Ann,SN=Smith",
		 "UID=jdoe,serialNumber=123,title=Eng,GN=Ann,SN=Smith", NID_surname, 5},
		{"STREET=Via 1,L=Rome,ST=Lazio,pseudonym=p,organizationName=Long",
		 "street=Via 1,L=Rome,ST=Lazio,pseudonym=p,O=Long", NID_organizationName, 5},
		{"CN=#0c03666f6f", "CN=foo", NID_commonName, 1},
		{"CN=#1303666F6F , C=IT", "CN=foo,C=IT", NID_countryName, 2},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		X509_NAME *name = (X509_NAME *)1, *back = NULL;
		const char *why = NULL;
		char *text = NULL;
		int r = dn_parse(cases[i].in, &name, &why);

		if (r == 0)
			back = name_der_round_trip(name);
		if (back)
			text = name_text(back);
		ok(r == 0 && text && !strcmp(text, cases[i].want), "subject '%s' -> '%s'",
		   cases[i].in, text ? text : why);
		ok(back && X509_NAME_entry_count(back) == cases[i].entries &&
			   OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(back, 0))) ==
				   cases[i].first_nid,
		   "subject '%s': %d entries, DER order is the reverse of the string", cases[i].in,
		   cases[i].entries);
		free(text);
		X509_NAME_free(back);
		if (r == 0)
			X509_NAME_free(name);
	}
}

static void test_subjects_structure(void)
{
	X509_NAME *name = NULL, *want = X509_NAME_new();
	const X509_NAME_ENTRY *e;
	const char *why = NULL;

	/* What `openssl req -subj /C=IT/O=Example/CN=gw-0042` writes. */
	X509_NAME_add_entry_by_txt(want, "C", MBSTRING_UTF8, (const unsigned char *)"IT", -1, -1,
				   0);
	X509_NAME_add_entry_by_txt(want, "O", MBSTRING_UTF8, (const unsigned char *)"Example", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(want, "CN", MBSTRING_UTF8, (const unsigned char *)"gw-0042", -1,
				   -1, 0);
	ok(dn_parse("CN=gw-0042,O=Example,C=IT", &name, &why) == 0 &&
		   X509_NAME_cmp(name, want) == 0,
	   "CN=gw-0042,O=Example,C=IT is the DER sequence C, O, CN");
	X509_NAME_free(name);
	X509_NAME_free(want);

	name = NULL;
	ok(dn_parse("CN=a+OU=b,C=IT", &name, &why) == 0 && X509_NAME_entry_count(name) == 3 &&
		   X509_NAME_ENTRY_set(X509_NAME_get_entry(name, 1)) ==
			   X509_NAME_ENTRY_set(X509_NAME_get_entry(name, 2)) &&
		   X509_NAME_ENTRY_set(X509_NAME_get_entry(name, 0)) !=
			   X509_NAME_ENTRY_set(X509_NAME_get_entry(name, 1)),
	   "'+' puts CN and OU in one RDN, C in another");
	X509_NAME_free(name);

	name = NULL;
	ok(dn_parse("1.2.3.4=custom,C=IT", &name, &why) == 0 &&
		   (e = X509_NAME_get_entry(name, 1)) &&
		   OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) == NID_undef &&
		   ASN1_STRING_length(X509_NAME_ENTRY_get_data(e)) == 6,
	   "an unknown dotted OID is taken as the type");
	X509_NAME_free(name);

	name = NULL;
	ok(dn_parse("CN=#1e0400660066", &name, &why) == 0 && (e = X509_NAME_get_entry(name, 0)) &&
		   ASN1_STRING_type(X509_NAME_ENTRY_get_data(e)) == V_ASN1_BMPSTRING,
	   "#hexstring keeps its string type (BMPString)");
	X509_NAME_free(name);

	name = NULL;
	ok(dn_parse("CN=caf\\C3\\A9", &name, &why) == 0 && (e = X509_NAME_get_entry(name, 0)) &&
		   ASN1_STRING_type(X509_NAME_ENTRY_get_data(e)) == V_ASN1_UTF8STRING &&
		   ASN1_STRING_length(X509_NAME_ENTRY_get_data(e)) == 5,
	   "hex escapes are UTF-8 bytes in a UTF8String");
	X509_NAME_free(name);
}

static void test_subjects_bad(void)
{
	static const char *const bad[] = {
		"",
		"   ",
		"CN",
		"CN a",
		"=x",
		"XX=1",
		"CN=",
		"CN=   ",
		"CN=a,",
		"CN=a,,O=b",
		",CN=a",
		"CN=a+",
		"CN=a\\q",
		"CN=a\\",
		"CN=a\\4",
		"CN=a;O=b",
		"CN=<x>",
		"CN=a\"b",
		"CN=\\00x",
		"CN=\\C3",
		"CN=#0403666f6f",
		"CN=#0c03666f",
		"CN=#0c03666f6f00",
		"CN=#",
		"CN=#zz",
		"CN=#0c03666f6f x",
		"C=ITA",
		"C=I\xc3\xa9",
		"CN=0123456789012345678901234567890123456789012345678901234567890123456789",
		"CN=a,OU=b,O",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		X509_NAME *name = (X509_NAME *)1;
		const char *why = NULL;
		int r = dn_parse(bad[i], &name, &why);

		ok(r == -EINVAL && why && name == (X509_NAME *)1, "subject '%s' refused: %s",
		   bad[i], why ? why : "?");
		if (r == 0)
			X509_NAME_free(name);
	}
}

int main(void)
{
	/* Refusals are expected here: keep their log lines out of the way. */
	log_init(getenv("TEST_VERBOSE") ? 1 : -1);
	test_subjects_good();
	test_subjects_structure();
	test_subjects_bad();
	return tap_done();
}
