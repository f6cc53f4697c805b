/* SPDX-License-Identifier: MIT */
/* Accepting a new CA certificate set: plain refresh and RFC 7030 4.1.3 root key update. */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cacerts.h"
#include "crypto.h"
#include "log.h"

static bool self_signed(X509 *c)
{
	return X509_check_issued(c, c) == X509_V_OK && X509_verify(c, X509_get0_pubkey(c)) == 1;
}

static bool same_key(X509 *a, X509 *b)
{
	return EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1;
}

static bool is_anchor(STACK_OF(X509) *anchors, X509 *c)
{
	int i;

	for (i = 0; i < sk_X509_num(anchors); i++)
		if (X509_cmp(sk_X509_value(anchors, i), c) == 0)
			return true;
	return false;
}

/* True when c's signature verifies with the key of a certificate in set named as its issuer. */
static bool signed_by_one_of(STACK_OF(X509) *set, X509 *c)
{
	int i;

	for (i = 0; i < sk_X509_num(set); i++) {
		X509 *t = sk_X509_value(set, i);

		if (X509_NAME_cmp(X509_get_subject_name(t), X509_get_issuer_name(c)) == 0 &&
		    X509_verify(c, X509_get0_pubkey(t)) == 1)
			return true;
	}
	return false;
}

/*
 * A new root is accepted when its key is already trusted under the same name (a re-issued root),
 * or when a NewWithOld certificate (same subject and key, signed by a stored anchor) vouches for
 * it.
 */
static bool vouched(STACK_OF(X509) *anchors, STACK_OF(X509) *received, X509 *root)
{
	STACK_OF(X509) *pool[2] = {anchors, received};
	int i, k;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < sk_X509_num(pool[k]); i++) {
			X509 *w = sk_X509_value(pool[k], i);

			if (w == root || !same_key(w, root) ||
			    X509_NAME_cmp(X509_get_subject_name(w), X509_get_subject_name(root)) !=
				    0)
				continue;
			if (k == 0 || (!self_signed(w) && signed_by_one_of(anchors, w)))
				return true;
		}
	}
	return false;
}

/* Accepts, link by link, every non-root certificate signed by something trusted; grows trusted. */
static int chain_rest(STACK_OF(X509) *trusted, STACK_OF(X509) *received)
{
	int n = sk_X509_num(received), done = 0, i;
	bool progress = true;
	char *accepted = calloc((size_t)n + 1, 1);

	if (!accepted)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (self_signed(sk_X509_value(received, i)) && (accepted[i] = 1))
			done++;
	while (progress && done < n) {
		progress = false;
		for (i = 0; i < n; i++) {
			X509 *c = sk_X509_value(received, i);

			if (accepted[i] ||
			    (!is_anchor(trusted, c) && !signed_by_one_of(trusted, c)))
				continue;
			accepted[i] = 1;
			done++;
			progress = true;
			sk_X509_push(trusted, c);
		}
	}
	free(accepted);
	if (done < n) {
		log_err("cacerts: the new CA certificates do not chain to the stored anchors");
		return -EBADMSG;
	}
	return 0;
}

/* An expired CA certificate (e.g. an old OldWithNew) must not become a trust anchor. */
static int check_validity(STACK_OF(X509) *received)
{
	time_t now = time(NULL), nb, na;
	int i;

	for (i = 0; i < sk_X509_num(received); i++) {
		X509 *c = sk_X509_value(received, i);
		char *subject;

		if (crypto_cert_validity(c, &nb, &na) == 0 && now < na)
			continue;
		subject = crypto_cert_subject(c);
		log_err("cacerts: CA certificate %s has expired", subject ? subject : "?");
		OPENSSL_free(subject);
		return -EBADMSG;
	}
	return 0;
}

/* Why c cannot be a trust anchor, or NULL. */
static const char *not_a_ca(X509 *c)
{
	uint32_t flags = X509_get_extension_flags(c);

	if (flags & EXFLAG_INVALID)
		return "its extensions do not parse";
	if (!(flags & EXFLAG_BCONS))
		return "it has no basicConstraints";
	if (!(flags & EXFLAG_CA))
		return "basicConstraints CA:FALSE";
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(c) & KU_KEY_CERT_SIGN))
		return "its keyUsage lacks keyCertSign";
	return NULL;
}

int cacerts_keep_cas(STACK_OF(X509) *certs)
{
	const char *why;
	char *subject;
	int i;

	for (i = sk_X509_num(certs) - 1; i >= 0; i--) {
		X509 *c = sk_X509_value(certs, i);

		why = not_a_ca(c);
		if (!why)
			continue;
		subject = crypto_cert_subject(c);
		log_warn("cacerts: %s is not a CA certificate (%s): not stored as a trust anchor",
			 subject ? subject : "?", why);
		OPENSSL_free(subject);
		X509_free(sk_X509_delete(certs, i));
	}
	if (sk_X509_num(certs) > 0)
		return 0;
	log_err("cacerts: the answer holds no usable CA certificate (CA:TRUE, keyCertSign): the "
		"stored CA certificates, if any, are kept");
	return -EBADMSG;
}

int cacerts_verify_update(STACK_OF(X509) *anchors, STACK_OF(X509) *received)
{
	STACK_OF(X509) *trusted;
	int i, r;

	r = check_validity(received);
	if (r < 0)
		return r;
	trusted = sk_X509_dup(anchors);
	if (!trusted)
		return -ENOMEM;
	/* First the roots: each must be known already or vouched for by the old key. */
	for (i = 0; i < sk_X509_num(received) && r == 0; i++) {
		X509 *c = sk_X509_value(received, i);
		char *subject;

		if (!self_signed(c) || is_anchor(anchors, c))
			continue;
		if (!vouched(anchors, received, c)) {
			subject = crypto_cert_subject(c);
			log_err("cacerts: new root %s is not vouched for by a stored anchor",
				subject ? subject : "?");
			OPENSSL_free(subject);
			r = -EBADMSG;
			break;
		}
		log_info("cacerts: root key update: accepting a new root vouched for by the old "
			 "one");
		sk_X509_push(trusted, c);
	}
	/* Then every other certificate, each link signed as claimed. */
	if (r == 0)
		r = chain_rest(trusted, received);
	sk_X509_free(trusted);
	return r;
}
