/* SPDX-License-Identifier: MIT */
/*
 * The request key (est-request-key-pair): the one item a pass commits on its own, before the
 * request is sent, so that the key of a CSR that reached the server survives a crash. Its tag
 * records what it was made for and whether the server holds the request (a 202 with its
 * Retry-After). A request pending at the server is resumed with the same key; any other
 * leftover (a forced renewal or re-enrollment killed before its answer) is discarded by the
 * next pass once an identity is stored: it is never resumed for a renewal, and status says
 * which of the two it is. Before the first enrollment the key of an unanswered request is
 * resumed, as nothing else could use it.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "keystore.h"
#include "log.h"
#include "pass.h"
#include "util.h"

#define REQUEST_TAG "est-enroll request:"

/* What the request key was made for, before its PEM (PEM readers skip leading text). */
static char *request_tag(const struct pass *p, bool renew, time_t not_before, bool pending)
{
	const struct config *cfg = p->cfg;
	const char *params =
		cfg->key_params ? cfg->key_params : crypto_default_key_params(cfg->key_algorithm);

	return xasprintf(REQUEST_TAG " for=%s server=%s label=%s key=%d:%s not_before=%lld "
				     "pending=%d\n",
			 renew ? "renew" : "enroll", cfg->server, cfg->label ? cfg->label : "",
			 (int)cfg->key_algorithm, params, (long long)not_before, pending);
}

bool pass_request_pending(const char *pem)
{
	const char *tag = strstr(pem, REQUEST_TAG);
	char *v = tag ? kv_value(tag, "pending") : NULL, *nb;
	bool pending;

	if (v) {
		pending = !strcmp(v, "1");
		free(v);
		return pending;
	}
	/* Tags of 0.1 (no pending=): a not_before came from a 202 or a 5xx's Retry-After; taken
	 * as held, so no key the server may hold is thrown away. */
	nb = tag ? kv_value(tag, "not_before") : NULL;
	pending = nb && strtoll(nb, NULL, 10) > 0;
	free(nb);
	return pending;
}

/* Why a stored request key must not be resumed, or NULL with *out_key set. */
static const char *request_unfit(struct pass *p, const char *pem, size_t len, bool renew,
				 EVP_PKEY **out_key)
{
	const struct config *cfg = p->cfg;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL, *cur = NULL;
	const char *why = NULL;
	const char *tag = strstr(pem, REQUEST_TAG);
	bool enrolled;

	if (pass_key_moves(p, pem, len))
		return "it is not where key_storage says keys live";
	if (pass_key_from_pem(p, pem, len, &key) < 0)
		return "it is unreadable";
	enrolled = pass_load_enrolled(p, &cur, &certs) == 0;
	if (!crypto_key_fits(key, cfg->key_algorithm, cfg->key_params))
		why = "it was made for other key parameters";
	else if (tag && (!kv_is(tag, "server", cfg->server) || !kv_is(tag, "label", cfg->label)))
		why = "it was made for another server or label";
	else if (enrolled && crypto_keys_equal(key, cur))
		why = "it is the enrolled key";
	else if ((renew || enrolled) && !pass_request_pending(pem))
		why = "the server holds no request for it (no 202)";
	EVP_PKEY_free(cur);
	sk_X509_pop_free(certs, X509_free);
	if (why)
		EVP_PKEY_free(key);
	else
		*out_key = key;
	return why;
}

/* Commits p->req_key with its tag. */
static int store_request_key(struct pass *p, time_t not_before, bool pending)
{
	char *pem = NULL, *tag = request_tag(p, p->req_renew, not_before, pending), *item = NULL;
	size_t len = 0, tlen = strlen(tag);
	int r;

	/* Kept for the bundle (pass_stage_issued): OpenSSL 3 encodes a key at a high cost, and
	 * a hardware key has no other text than its reference. */
	if (!p->req_pem) {
		r = crypto_key_to_pem(p->req_key, &pem, &len);
		if (r < 0)
			goto out;
		p->req_pem = pem;
		p->req_pem_len = len;
		pem = NULL;
	}
	len = p->req_pem_len;
	item = xmalloc(tlen + len + 1);
	memcpy(item, tag, tlen);
	memcpy(item + tlen, p->req_pem, len + 1);
	r = keystore_put(p->ks, KS_ALIAS_REQUEST, item, tlen + len);
	if (r < 0)
		log_err("storing " KS_ALIAS_REQUEST ": %s", strerror(-r));
out:
	wipe_free(pem, len);
	wipe_free(item, tlen + len);
	free(tag);
	return r;
}

/* req_key is about to change: the PEM kept for it must not outlive it. */
static void drop_req_pem(struct pass *p)
{
	wipe_free(p->req_pem, p->req_pem_len);
	p->req_pem = NULL;
	p->req_pem_len = 0;
}

/* Generates the request key and commits it, before anything is sent. */
static int new_request_key(struct pass *p, bool renew)
{
	int r;

	drop_req_pem(p);
	r = pass_new_key(p, &p->req_key, &p->req_pem, &p->req_pem_len);
	p->req_renew = renew;
	if (r == 0)
		r = store_request_key(p, 0, false);
	if (r < 0) {
		EVP_PKEY_free(p->req_key);
		p->req_key = NULL;
		drop_req_pem(p);
	}
	return r;
}

int pass_defer_request(struct pass *p, time_t not_before, bool accepted)
{
	return p->req_key ? store_request_key(p, not_before, accepted) : 0;
}

time_t pass_request_not_before(struct pass *p)
{
	EVP_PKEY *key = NULL;
	char *pem = NULL, *v = NULL;
	size_t len = 0;
	time_t nb = 0;

	if (keystore_get(p->ks, KS_ALIAS_REQUEST, &pem, &len) < 0)
		return 0;
	if (!request_unfit(p, pem, len, false, &key) && strstr(pem, REQUEST_TAG))
		v = kv_value(strstr(pem, REQUEST_TAG), "not_before");
	if (v)
		nb = (time_t)strtoll(v, NULL, 10);
	free(v);
	EVP_PKEY_free(key);
	wipe_free(pem, len);
	return nb;
}

int pass_request_key(struct pass *p, bool fresh, bool renew)
{
	const char *why;
	char *pem = NULL;
	size_t len = 0;

	if (p->req_key)
		return 0;
	drop_req_pem(p);
	if (!fresh && keystore_get(p->ks, KS_ALIAS_REQUEST, &pem, &len) == 0) {
		why = request_unfit(p, pem, len, renew, &p->req_key);
		/* Its text without the tag: what the bundle will hold (a reference cannot be
		 * written again from the key). */
		if (!why && strstr(pem, "-----BEGIN")) {
			p->req_pem = xstrdup(strstr(pem, "-----BEGIN"));
			p->req_pem_len = strlen(p->req_pem);
		}
		wipe_free(pem, len);
		if (!why) {
			p->req_renew = renew;
			log_info("resuming the pending request with the stored key");
			return 0;
		}
		log_warn("not resuming the stored " KS_ALIAS_REQUEST ": %s; generating a new key",
			 why);
	}
	return new_request_key(p, renew);
}

int pass_drop_stale_request(struct pass *p)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *cur = NULL;
	char *pem = NULL;
	size_t len = 0;
	int r;

	if (keystore_get(p->ks, KS_ALIAS_REQUEST, &pem, &len) < 0)
		return 0;
	r = pass_request_pending(pem) || pass_load_enrolled(p, &cur, &certs) < 0 ? 0 : 1;
	wipe_free(pem, len);
	EVP_PKEY_free(cur);
	sk_X509_pop_free(certs, X509_free);
	if (r == 0)
		return 0;
	log_info("discarding " KS_ALIAS_REQUEST ", left by an interrupted request the server "
		 "holds no answer for (no 202)");
	r = keystore_remove(p->ks, KS_ALIAS_REQUEST);
	if (r < 0)
		log_warn("keystore %s: cannot remove " KS_ALIAS_REQUEST ": %s",
			 keystore_name(p->ks), strerror(-r));
	return r;
}
