/* SPDX-License-Identifier: MIT */
/* `status`: what is stored, for whom, until when, and when the next action is due. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certinfo.h"
#include "crypto.h"
#include "crypto_hw.h"
#include "enroll.h"
#include "keystore.h"
#include "log.h"
#include "p11.h"
#include "sha256.h"
#include "status.h"
#include "status_report.h"
#include "util.h"

/* The first line of est-request-key-pair (pass_store.c writes it; est-enroll(8) documents it). */
#define REQUEST_TAG "est-enroll request:"

static void key_info(X509 *c, struct cert_info *ci)
{
	EVP_PKEY *pk = X509_get0_pubkey(c);

	ci->key_type = "";
	ci->curve[0] = '\0';
	if (!pk)
		return;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_EC:
		ci->key_type = "EC";
		if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, ci->curve,
						   sizeof(ci->curve), NULL) != 1)
			ci->curve[0] = '\0';
		break;
	case EVP_PKEY_RSA:
		ci->key_type = "RSA";
		break;
	case EVP_PKEY_ED25519:
		ci->key_type = "ED25519";
		break;
	default:
		ci->key_type = EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "";
		break;
	}
	ci->key_bits = EVP_PKEY_get_bits(pk);
}

static void cert_info_fill(X509 *c, struct cert_info *ci)
{
	ci->subject = crypto_cert_subject(c);
	ci->issuer = crypto_cert_issuer(c);
	ci->serial = crypto_cert_serial(c);
	if (crypto_cert_fingerprint(c, ci->fingerprint) < 0)
		ci->fingerprint[0] = '\0';
	if (crypto_cert_validity(c, &ci->not_before, &ci->not_after) < 0)
		ci->not_before = ci->not_after = 0;
	key_info(c, ci);
}

static int info_from_der(const struct certinfo *c, void *ctx)
{
	struct cert_info *ci = ctx;

	ci->subject = certinfo_subject(c);
	ci->issuer = certinfo_issuer(c);
	ci->serial = certinfo_serial(c);
	sha256_hex(c->der, c->der_len, ci->fingerprint);
	ci->not_before = c->not_before;
	ci->not_after = c->not_after;
	certinfo_key(c, &ci->key_type, &ci->key_bits, ci->curve, sizeof(ci->curve));
	return 1;
}

static void cert_info_clear(struct cert_info *ci)
{
	OPENSSL_free(ci->subject);
	OPENSSL_free(ci->issuer);
	OPENSSL_free(ci->serial);
}

static const char *alias_kind(const char *alias)
{
	if (!strncmp(alias, KS_ALIAS_CACERTS_PREFIX, strlen(KS_ALIAS_CACERTS_PREFIX)))
		return "cacert";
	if (!strcmp(alias, KS_ALIAS_ENROLLED))
		return "enrolled";
	if (!strcmp(alias, KS_ALIAS_REQUEST))
		return "request";
	if (!strcmp(alias, KS_ALIAS_STATE))
		return "state";
	return "other";
}

/* True when alias is one of the comma-separated list. */
static bool listed(const char *list, const char *alias)
{
	size_t n = strlen(alias);
	const char *p = list;

	while (p && *p) {
		if (!strncmp(p, alias, n) && (p[n] == ',' || !p[n]))
			return true;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return false;
}

/* key=ALG:PARAMS of the tag, ALG a number: as the config spells it, "EC:prime256v1". */
static char *request_key(const char *line)
{
	char *v = kv_value(line, "key"), *colon, *out;
	unsigned long alg;

	colon = v ? strchr(v, ':') : NULL;
	if (!colon)
		return v;
	*colon = '\0';
	if (parse_uint(v, 0, KEY_ALG_ED25519, &alg) < 0) {
		*colon = ':';
		return v;
	}
	out = xasprintf("%s:%s", config_key_alg_name((enum key_alg)alg), colon + 1);
	free(v);
	return out;
}

static void request_fill(const struct config *cfg, const char *pem, struct request_info *rq)
{
	const char *tag = strstr(pem, REQUEST_TAG);
	char *v, *line;

	rq->present = true;
	if (!tag)
		return;
	line = xstrndup(tag + strlen(REQUEST_TAG), strcspn(tag, "\n") - strlen(REQUEST_TAG));
	rq->made_for = kv_value(line, "for");
	rq->server = kv_value(line, "server");
	rq->label = kv_value(line, "label");
	rq->key = request_key(line);
	v = kv_value(line, "not_before");
	rq->not_before = v ? (time_t)strtoll(v, NULL, 10) : 0;
	free(v);
	/* pass_request.c's rule: a 202 recorded; tags of 0.1 had only a not_before from one. */
	v = kv_value(line, "pending");
	rq->at_server = v ? !strcmp(v, "1") : rq->not_before > 0;
	/* Only a request for the configured server and label is resumed (and waited for). */
	rq->resumable = rq->server && !strcmp(rq->server, cfg->server) && rq->label &&
			!strcmp(rq->label, cfg->label ? cfg->label : "");
	free(v);
	free(line);
}

/*
 * What the first certificate of data (a PEM item) says, into ci: true if there is one. Read from
 * its DER (certinfo.c), so status starts none of OpenSSL's providers; a certificate outside
 * what that reads (a BER time, say) is parsed whole instead.
 */
static bool first_cert_info(const char *data, size_t len, struct cert_info *ci)
{
	STACK_OF(X509) *certs = NULL;
	int r = certinfo_each_pem(data, len, info_from_der, ci);

	if (r != -EBADMSG)
		return r > 0;
	if (crypto_certs_from_pem(data, len, &certs) == 0)
		cert_info_fill(sk_X509_value(certs, 0), ci);
	sk_X509_pop_free(certs, X509_free);
	return certs != NULL;
}

/* Where the key of a pair lives, from its reference alone (no provider, no PIN). */
static void key_fill(struct item *it, const char *pem, size_t len)
{
	char *uri = NULL;

	it->has_key = true;
	it->key_where = crypto_hw_pem_storage(pem, len);
	if (it->key_where == KEY_STORAGE_PKCS11)
		uri = crypto_hw_pem_uri(pem, len);
	if (uri) {
		it->key_token = p11_uri_attr(uri, "token");
		it->key_object = p11_uri_attr(uri, "object");
		it->key_id = p11_uri_attr_hex(uri, "id");
	}
	free(uri);
}

static void item_fill(const struct config *cfg, struct keystore *ks, struct report *rep,
		      struct item *it)
{
	const struct keystore_conf *kc = config_keystore(cfg, cfg->keystore);
	char *data = NULL;
	size_t len = 0;

	it->kind = alias_kind(it->alias);
	it->serial = keystore_key_serial(ks, it->alias);
	it->file = xasprintf("%s/%s.pem", kc->path, it->alias);
	if (access(it->file, F_OK) < 0) {
		free(it->file);
		it->file = NULL;
	}
	it->agrees = rep->disagree ? !listed(rep->disagree, it->alias) : -1;
	if (keystore_get(ks, it->alias, &data, &len) < 0)
		return;
	/* Possibly secret (a key pair): only what a certificate says is kept. */
	if (strcmp(it->kind, "state"))
		it->has_cert = first_cert_info(data, len, &it->cert);
	if (!strcmp(it->kind, "request"))
		request_fill(cfg, data, &rep->request);
	if (!strcmp(it->kind, "enrolled") || !strcmp(it->kind, "request"))
		key_fill(it, data, len);
	if (!strcmp(it->kind, "state"))
		rep->state = xstrdup(data);
	wipe_free(data, len);
}

static struct item *find_item(struct report *rep, const char *alias)
{
	size_t i;

	for (i = 0; i < rep->n_items; i++)
		if (!strcmp(rep->items[i].alias, alias))
			return &rep->items[i];
	return NULL;
}

static int gather(const struct config *cfg, struct keystore *ks, struct report *rep)
{
	char **aliases = NULL, *alias;
	struct item *it;
	size_t n = 0, i;
	int r;

	rep->disagree = keystore_disagreement(ks);
	rep->has_access = keystore_access(ks, &rep->access) == 0;
	r = keystore_list(ks, &aliases, &n);
	if (r < 0)
		return r;
	rep->items = xzalloc(sizeof(*rep->items) * (n ? n : 1));
	for (i = 0; i < n; i++) {
		rep->items[i].alias = aliases[i];
		item_fill(cfg, ks, rep, &rep->items[i]);
	}
	rep->n_items = n;
	free(aliases);
	for (;;) {
		alias = xasprintf(KS_ALIAS_CACERTS_PREFIX "%d", rep->n_cas);
		it = find_item(rep, alias);
		free(alias);
		if (!it || !it->has_cert)
			break;
		rep->cas = xrealloc(rep->cas, sizeof(*rep->cas) * (size_t)(rep->n_cas + 1));
		rep->cas[rep->n_cas++] = it;
	}
	it = find_item(rep, KS_ALIAS_ENROLLED);
	rep->pair = it && it->has_cert ? it : NULL;
	return 0;
}

static void plan(const struct config *cfg, struct report *rep)
{
	const struct request_info *rq = &rep->request;
	int i;

	if (!rep->n_cas) {
		rep->next_action = "bootstrap";
		rep->next_due = time(NULL);
	} else if (!rep->pair) {
		rep->next_action = rq->present ? "resume pending enrollment" : "enroll";
		rep->next_due = time(NULL);
	} else if (cfg->renew) {
		rep->next_action = "renew";
		rep->next_due =
			enroll_due_time(cfg, rep->pair->cert.not_before, rep->pair->cert.not_after);
	}
	/* RFC 7030 4.2.3: the server's Retry-After is a floor for the request it answered. */
	if (rep->next_action && rq->present && rq->resumable && rq->not_before > rep->next_due)
		rep->next_due = rq->not_before;
	for (i = 0; rep->pair && cfg->ca_rollover && i < rep->n_cas; i++) {
		time_t due = enroll_due_time(cfg, rep->cas[i]->cert.not_before,
					     rep->cas[i]->cert.not_after);

		if (!rep->next_action || due < rep->next_due) {
			rep->next_action = "refresh CA certificates";
			rep->next_due = due;
		}
	}
}

long status_days_left(time_t not_after, time_t now)
{
	time_t d = not_after - now;

	/* Whole days, rounded down: an expired certificate has a negative count. */
	return d >= 0 ? (long)(d / 86400) : -(long)((-d + 86399) / 86400);
}

char *status_state_value(const char *state, const char *key)
{
	return state ? kv_value(state, key) : NULL;
}

static void report_clear(struct report *rep)
{
	size_t i;

	for (i = 0; i < rep->n_items; i++) {
		free(rep->items[i].alias);
		free(rep->items[i].file);
		free(rep->items[i].key_token);
		free(rep->items[i].key_object);
		free(rep->items[i].key_id);
		cert_info_clear(&rep->items[i].cert);
	}
	free(rep->items);
	free(rep->cas);
	free(rep->request.made_for);
	free(rep->request.server);
	free(rep->request.label);
	free(rep->request.key);
	free(rep->state);
	free(rep->disagree);
}

int status_print(const struct config *cfg, bool json, FILE *out)
{
	struct report rep = {0};
	struct keystore *ks = NULL;
	int r;

	/* Reading only: no lock, nothing created, an unfinished commit read as committed. */
	r = keystore_open(config_keystore(cfg, cfg->keystore), KEYSTORE_READ, &ks);
	if (r < 0) {
		log_err("keystore %s: %s", cfg->keystore, strerror(-r));
		return r;
	}
	r = gather(cfg, ks, &rep);
	if (r < 0) {
		log_err("keystore %s: %s", cfg->keystore, strerror(-r));
		goto out;
	}
	plan(cfg, &rep);
	rep.now = time(NULL);
	if (json)
		status_print_json(cfg, ks, &rep, out);
	else
		status_print_text(cfg, ks, &rep, out);
	r = fflush(out) == 0 ? 0 : -EIO;
out:
	report_clear(&rep);
	keystore_free(ks);
	return r;
}
