/* SPDX-License-Identifier: MIT */
/* What goes into our CSR: subject or the current identity, PoP binding, what the server asked for.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base64.h"
#include "crypto.h"
#include "csr.h"
#include "dn.h"
#include "est.h"
#include "log.h"
#include "util.h"

/* RFC 7030 3.5: the channel binding of this connection, base64, as challengePassword. */
static int pop_challenge(const struct csr_input *in, char **out_challenge)
{
	bool exporter = in->pop == CSR_POP_TLS_EXPORTER;
	const char *version = http_tls_version(in->http);
	unsigned char cb[64];
	size_t cb_len = 0;
	char *b64;
	int r;

	/* The pass opened the connection for it (pass_pop_connection). */
	r = http_channel_binding(in->http, exporter, cb, sizeof(cb), &cb_len);
	if (r < 0) {
		log_err("pop: no %s channel binding on %s%s",
			exporter ? "tls-exporter" : "tls-unique",
			version ? version : "a connection the server closed",
			exporter ? " (pop_binding = tls-exporter needs TLS 1.3)" : "");
		return -EPROTO;
	}
	b64 = base64_encode(cb, cb_len);
	b64[strcspn(b64, "\n")] = '\0';
	*out_challenge = b64;
	return 0;
}

/* Adds ext to exts unless an extension of the same type is there already. */
static void add_ext(STACK_OF(X509_EXTENSION) *exts, X509_EXTENSION *ext)
{
	int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext)), i;
	X509_EXTENSION *dup;

	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		if (OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i))) == nid)
			return;
	dup = X509_EXTENSION_dup(ext);
	if (dup && !sk_X509_EXTENSION_push(exts, dup))
		X509_EXTENSION_free(dup);
}

/* The extensionRequest: the current certificate's subjectAltName, then what the server asked for.
 */
static STACK_OF(X509_EXTENSION) *wanted_extensions(const struct csr_input *in)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	int i, idx;

	if (!exts)
		return NULL;
	if (in->current) {
		idx = X509_get_ext_by_NID(in->current, NID_subject_alt_name, -1);
		if (idx >= 0)
			add_ext(exts, X509_get_ext(in->current, idx));
	}
	for (i = 0; in->attrs && i < sk_X509_EXTENSION_num(in->attrs->extensions); i++)
		add_ext(exts, sk_X509_EXTENSION_value(in->attrs->extensions, i));
	if (sk_X509_EXTENSION_num(exts) == 0) {
		sk_X509_EXTENSION_free(exts);
		return NULL;
	}
	return exts;
}

/* An RFC 9908 template's subject, its blanks filled in from the configured one, replaces it. */
static void template_subject(const struct csr_input *in, X509_NAME **subject)
{
	X509_NAME *name = NULL;
	char *s;

	if (!in->attrs || !in->attrs->subject || csrattrs_subject(in->attrs, *subject, &name) < 0)
		return;
	if (X509_NAME_cmp(name, *subject) != 0) {
		s = crypto_name_string(name);
		log_info("csrattrs: the server's template sets the subject: %s", s ? s : "?");
		OPENSSL_free(s);
	}
	X509_NAME_free(*subject);
	*subject = name;
}

/* The signer: configured, else what the server asked for, else derived from the key. */
static const char *signer_name(const struct csr_input *in)
{
	if (in->cfg->csr_signer || !in->attrs || !in->attrs->md ||
	    EVP_PKEY_get_id(in->key) == EVP_PKEY_ED25519)
		return in->cfg->csr_signer;
	switch (EVP_MD_get_type(in->attrs->md)) {
	case NID_sha384:
		return EVP_PKEY_get_id(in->key) == EVP_PKEY_RSA ? "SHA384WITHRSA"
								: "SHA384WITHECDSA";
	case NID_sha512:
		return EVP_PKEY_get_id(in->key) == EVP_PKEY_RSA ? "SHA512WITHRSA"
								: "SHA512WITHECDSA";
	default:
		return NULL;
	}
}

int csr_make(const struct csr_input *in, unsigned char **out_der, size_t *out_len)
{
	struct csr_params cp = {.key = in->key,
				.signer = signer_name(in),
				.libctx = in->libctx,
				.propq = in->propq};
	STACK_OF(X509_EXTENSION) *exts = wanted_extensions(in);
	X509_NAME *subject = NULL;
	char *challenge = NULL;
	const char *why = NULL;
	int r = 0;

	cp.extensions = exts;
	if (in->current) {
		/* A renewal keeps the identity of the current certificate. */
		cp.subject = X509_get_subject_name(in->current);
	} else {
		r = dn_parse(in->cfg->subject, &subject, &why);
		if (r < 0) {
			log_err("subject: %s", why);
			goto out;
		}
		template_subject(in, &subject);
		cp.subject = subject;
	}
	if (in->pop != CSR_POP_NONE) {
		r = pop_challenge(in, &challenge);
		if (r < 0)
			goto out;
		cp.challenge_password = challenge;
	}
	r = crypto_csr_build(&cp, out_der, out_len);
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subject);
	free(challenge);
	return r;
}
