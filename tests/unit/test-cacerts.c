/* SPDX-License-Identifier: MIT */
/* Unit tests for cacerts.c: which certificates of a /cacerts answer may become trust anchors. */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cacerts.h"
#include "crypto.h"
#include "log.h"
#include "tap.h"

static EVP_PKEY *key;

/* A self-signed certificate named cn with basicConstraints bc (NULL: none) and keyUsage ku. */
static X509 *make_cert(const char *cn, const char *bc, const char *ku)
{
	static long serial = 0x5a17;
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, name);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400);
	X509_set_pubkey(c, key);
	X509V3_set_ctx(&ctx, c, c, NULL, NULL, 0);
	if (bc) {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, bc);
		X509_add_ext(c, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (ku) {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, ku);
		X509_add_ext(c, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(c, key, EVP_sha256());
	X509_NAME_free(name);
	return c;
}

static bool holds(STACK_OF(X509) *s, X509 *c)
{
	int i;

	for (i = 0; i < sk_X509_num(s); i++)
		if (sk_X509_value(s, i) == c)
			return true;
	return false;
}

static void test_keep_cas(void)
{
	X509 *ca = make_cert("CA", "critical,CA:TRUE", "critical,keyCertSign,cRLSign");
	X509 *ca_no_ku = make_cert("CA without keyUsage", "critical,CA:TRUE", NULL);
	X509 *ca_no_sign = make_cert("CA without keyCertSign", "critical,CA:TRUE",
				     "critical,digitalSignature");
	X509 *ee = make_cert("gw-0042", "CA:FALSE", "critical,digitalSignature");
	X509 *bare = make_cert("No basicConstraints", NULL, NULL);
	STACK_OF(X509) *s = sk_X509_new_null();

	X509_up_ref(ca);
	X509_up_ref(ca_no_ku);
	sk_X509_push(s, ee);
	sk_X509_push(s, ca);
	sk_X509_push(s, ca_no_sign);
	sk_X509_push(s, ca_no_ku);
	sk_X509_push(s, bare);
	ok(cacerts_keep_cas(s) == 0, "a set with CA certificates is kept");
	ok(sk_X509_num(s) == 2 && holds(s, ca) && holds(s, ca_no_ku),
	   "CA:TRUE with keyCertSign, or without keyUsage, stay (%d left)", sk_X509_num(s));
	ok(sk_X509_value(s, 0) == ca, "in their order");
	sk_X509_pop_free(s, X509_free);
	s = sk_X509_new_null();
	sk_X509_push(s, make_cert("gw-0042", "CA:FALSE", NULL));
	ok(cacerts_keep_cas(s) == -EBADMSG && sk_X509_num(s) == 0,
	   "an end-entity certificate alone: -EBADMSG");
	ok(cacerts_keep_cas(s) == -EBADMSG, "an empty set: -EBADMSG");
	sk_X509_pop_free(s, X509_free);
	X509_free(ca);
	X509_free(ca_no_ku);
}

int main(void)
{
	log_init(getenv("TEST_VERBOSE") ? 1 : -1);
	if (crypto_keygen(KEY_ALG_EC, "prime256v1", &key) < 0) {
		printf("Bail out! keygen\n");
		return 1;
	}
	test_keep_cas();
	EVP_PKEY_free(key);
	return tap_done();
}
