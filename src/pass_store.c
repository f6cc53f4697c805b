/* SPDX-License-Identifier: MIT */
/* What a pass reads from the store and stages into it: anchors, the pair, the request key, state.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "crypto_hw.h"
#include "keystore.h"
#include "log.h"
#include "pass.h"
#include "sha256.h"
#include "util.h"

/*
 * A pass never writes the identity piecemeal. Everything an attempt learns (the anchors of a
 * bootstrap or CA refresh, the issued bundle, the bootstrap record, the removal of the request
 * key) is staged in p->txn and committed by pass_commit in one keystore transaction, after
 * checking that the store will then hold a key pair whose certificate chains to its anchors.
 * So a failed re-bootstrap leaves the previous server's anchors, pair and record in place, and
 * a crash leaves the old identity or the new one (keystore_txn.c says how the commit is made).
 * The request key is the one exception (pass_request.c).
 */

/*
 * What this pass parsed, by the stored bytes it came from. OpenSSL 3 costs about a million
 * instructions a certificate (its key decoders run for every one) and several for a private
 * key, and a pass reads the same items more than once: at the start, in each attempt, at the
 * commit. Keyed by the bytes, an entry can never stand for anything but what they hold.
 */
struct pass_parsed {
	char *data; /* secret: may hold a key */
	size_t len;
	STACK_OF(X509) *certs;
	EVP_PKEY *key; /* NULL until asked for */
	struct pass_parsed *next;
};

static struct pass_parsed *parsed_find(struct pass *p, const char *data, size_t len)
{
	struct pass_parsed *e;

	for (e = p->parsed; e; e = e->next)
		if (e->len == len && !memcmp(e->data, data, len))
			return e;
	return NULL;
}

/* Takes certs (the parse of data, copied). */
static struct pass_parsed *parsed_add(struct pass *p, const char *data, size_t len,
				      STACK_OF(X509) *certs)
{
	struct pass_parsed *e = xzalloc(sizeof(*e));

	e->data = xmalloc(len + 1);
	memcpy(e->data, data, len);
	e->data[len] = '\0';
	e->len = len;
	e->certs = certs;
	e->next = p->parsed;
	p->parsed = e;
	return e;
}

void pass_parsed_clear(struct pass *p)
{
	struct pass_parsed *e, *next;

	for (e = p->parsed; e; e = next) {
		next = e->next;
		wipe_free(e->data, e->len);
		sk_X509_pop_free(e->certs, X509_free);
		EVP_PKEY_free(e->key);
		free(e);
	}
	p->parsed = NULL;
}

/* The certificates of a stored item, parsed once a pass; the caller owns the copy. */
static int parsed_certs(struct pass *p, const char *data, size_t len,
			struct pass_parsed **out_entry, STACK_OF(X509) **out_certs)
{
	struct pass_parsed *e = parsed_find(p, data, len);
	STACK_OF(X509) *certs = NULL;
	int r;

	if (!e) {
		r = crypto_certs_from_pem(data, len, &certs);
		if (r < 0)
			return r;
		e = parsed_add(p, data, len, certs);
	}
	*out_certs = X509_chain_up_ref(e->certs);
	if (out_entry)
		*out_entry = e;
	return *out_certs ? 0 : -ENOMEM;
}

void pass_drop_anchors(struct pass *p)
{
	p->anchors_gen++;
	sk_X509_pop_free(p->anchors, X509_free);
	p->anchors = NULL;
	p->anchors_staged = false;
	/* An open connection may still read the old trust PEM: keep it until the pass closes it. */
	free(p->retired_pem);
	p->retired_pem = p->http ? p->anchors_pem : NULL;
	if (!p->http)
		free(p->anchors_pem);
	p->anchors_pem = NULL;
	p->anchors_len = 0;
}

/* Adds certs (taking them) and their PEM to p->anchors. */
static int add_anchors(struct pass *p, STACK_OF(X509) *certs)
{
	int r = 0;

	p->anchors_gen++;
	if (!p->anchors)
		p->anchors = sk_X509_new_null();
	while (r == 0 && sk_X509_num(certs) > 0) {
		X509 *c = sk_X509_shift(certs);

		r = crypto_cert_append_pem(c, &p->anchors_pem, &p->anchors_len);
		sk_X509_push(p->anchors, c);
	}
	return r;
}

static int load_item(int index, const char *pem, size_t len, void *ctx)
{
	struct pass *p = ctx;
	STACK_OF(X509) *certs = NULL;
	int r = parsed_certs(p, pem, len, NULL, &certs);

	if (r < 0) {
		log_err("stored " KS_ALIAS_CACERTS_PREFIX "%d is not a certificate", index);
		return r;
	}
	r = add_anchors(p, certs);
	sk_X509_free(certs);
	return r;
}

int pass_load_anchors(struct pass *p)
{
	int r;

	pass_drop_anchors(p);
	p->anchors_changed = false;
	r = keystore_each_in_set(p->ks, KS_ALIAS_CACERTS_PREFIX, load_item, p);
	return r < 0 ? r : 0;
}

/* True when pems, concatenated, are the current anchors (encoded the same way). */
static bool same_set(const struct pass *p, char *const *pems, const size_t *lens, int n)
{
	size_t off = 0;
	int i;

	if (!p->anchors_pem)
		return false;
	for (i = 0; i < n; i++) {
		if (off + lens[i] > p->anchors_len ||
		    memcmp(p->anchors_pem + off, pems[i], lens[i]))
			return false;
		off += lens[i];
	}
	return off == p->anchors_len;
}

static STACK_OF(X509) *one_cert(X509 *c)
{
	STACK_OF(X509) *s = sk_X509_new_null();

	if (s && sk_X509_push(s, c))
		X509_up_ref(c);
	return s;
}

int pass_stage_anchors(struct pass *p, STACK_OF(X509) *certs)
{
	int i, n = sk_X509_num(certs), r = 0;
	char **pems = xzalloc(sizeof(*pems) * (size_t)(n ? n : 1));
	size_t *lens = xzalloc(sizeof(*lens) * (size_t)(n ? n : 1));
	STACK_OF(X509) *copy = NULL;

	for (i = 0; i < n && r == 0; i++)
		r = crypto_cert_append_pem(sk_X509_value(certs, i), &pems[i], &lens[i]);
	if (r == 0)
		r = keystore_txn_replace_set(p->txn, KS_ALIAS_CACERTS_PREFIX,
					     (const char *const *)pems, lens, (size_t)n);
	if (r < 0) {
		log_err("staging CA certificates: %s", strerror(-r));
		goto out;
	}
	if (r == 0) {
		struct sha256 d;

		sha256_init(&d);
		for (i = 0; i < n; i++)
			sha256_update(&d, pems[i], lens[i]);
		sha256_final_hex(&d, p->anchors_fp);
	}
	/* Once committed, the next pass_load_anchors reads these bytes: no need to parse them. */
	for (i = 0; i < n && r == 0; i++)
		if (!parsed_find(p, pems[i], lens[i]))
			parsed_add(p, pems[i], lens[i], one_cert(sk_X509_value(certs, i)));
	/* A refresh that brings the set already held changes nothing a hook should hear of. */
	if (!p->anchors_changed)
		p->anchors_changed = !same_set(p, pems, lens, n);
	/* From now on this attempt trusts what it will store. */
	copy = X509_chain_up_ref(certs);
	pass_drop_anchors(p);
	r = add_anchors(p, copy);
	p->anchors_staged = true;
out:
	sk_X509_free(copy);
	for (i = 0; i < n; i++)
		free(pems[i]);
	free(pems);
	free(lens);
	return r;
}

/* The key and certificates of a stored pair (its bytes), parsed once a pass. */
static int parsed_pair(struct pass *p, const char *pem, size_t len, EVP_PKEY **out_key,
		       STACK_OF(X509) **out_certs)
{
	STACK_OF(X509) *certs = NULL;
	struct pass_parsed *e = parsed_find(p, pem, len);
	EVP_PKEY *key = NULL;
	int r = 0;

	if (!e || !e->key) {
		r = pass_key_from_pem(p, pem, len, &key);
		/* The hardware key_storage names does not know it: not a pair to replace unasked.
		 */
		if (r < 0 && crypto_hw_pem_storage(pem, len) == p->cfg->key_storage &&
		    p->cfg->key_storage != KEY_STORAGE_SOFTWARE)
			p->hw_key_error = r;
		if (r < 0)
			goto out;
	}
	r = parsed_certs(p, pem, len, &e, &certs);
	if (r < 0)
		goto out;
	if (!e->key)
		e->key = key;
	else
		EVP_PKEY_free(key);
	key = e->key;
	EVP_PKEY_up_ref(key);
	*out_key = key;
	*out_certs = certs;
	key = NULL;
	certs = NULL;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

int pass_load_enrolled(struct pass *p, EVP_PKEY **out_key, STACK_OF(X509) **out_certs)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	r = keystore_get(p->ks, KS_ALIAS_ENROLLED, &pem, &len);
	if (r == 0)
		r = parsed_pair(p, pem, len, out_key, out_certs);
	wipe_free(pem, len);
	return r;
}

int pass_parsed_key(struct pass *p, const char *pem, size_t len, EVP_PKEY **out_key)
{
	STACK_OF(X509) *certs = NULL;
	int r = parsed_pair(p, pem, len, out_key, &certs);

	sk_X509_pop_free(certs, X509_free);
	return r;
}

bool pass_record_matches(const struct pass *p, const char *state)
{
	const struct config *cfg = p->cfg;
	char *fp;
	bool same;

	if (!kv_is(state, "server", cfg->server) || !kv_is(state, "label", cfg->label))
		return false;
	/* The certificates count, not their encoding: a comment in ca_root re-enrolls no one. */
	fp = kv_value(state, "ca_root_certs_sha256");
	if (fp)
		same = !strcmp(fp, p->ca_root_fp);
	else
		same = kv_is(state, "ca_root_sha256", p->ca_root_file_fp);
	free(fp);
	return same;
}

bool pass_state_matches(struct pass *p, bool *out_absent)
{
	char *state = NULL;
	size_t len = 0;
	int r = keystore_get(p->ks, KS_ALIAS_STATE, &state, &len);
	bool same = r == 0 && pass_record_matches(p, state);

	if (out_absent)
		*out_absent = r == -ENOKEY;
	free(state);
	return same;
}

static int stage_record(struct pass *p, time_t bootstrapped, const char *pair_fp,
			const char *cacerts_fp, bool sweep_owed)
{
	const struct config *cfg = p->cfg;
	/* A token may hold an object the store lets go of: the next pass is not idle until
	 * pass_sweep destroyed it. */
	bool sweep =
		cfg->key_storage == KEY_STORAGE_PKCS11 && (p->issued || (sweep_owed && !p->swept));
	char *state;
	int r;

	/* Outside an attempt (an idle pass's upgrade), what the record says is kept. */
	if (!p->pop_read) {
		p->pop_known = pass_record_pop(p);
		p->pop_read = true;
	}
	state = xasprintf("server=%s\nlabel=%s\nca_root_certs_sha256=%s\nbootstrapped=%lld\n"
			  "%s%s%s%s%s%s%s%s",
			  cfg->server, cfg->label ? cfg->label : "", p->ca_root_fp,
			  (long long)bootstrapped, pair_fp ? "pair_sha256=" : "",
			  pair_fp ? pair_fp : "", pair_fp ? "\n" : "",
			  cacerts_fp ? "cacerts_sha256=" : "", cacerts_fp ? cacerts_fp : "",
			  cacerts_fp ? "\n" : "",
			  p->pop_known == CSR_POP_TLS_UNIQUE	 ? "pop=tls-unique\n"
			  : p->pop_known == CSR_POP_TLS_EXPORTER ? "pop=tls-exporter\n"
								 : "",
			  sweep ? "sweep=1\n" : "");
	r = keystore_txn_put(p->txn, KS_ALIAS_STATE, state, strlen(state));
	free(state);
	return r;
}

enum csr_pop pass_record_pop(struct pass *p)
{
	enum csr_pop pop = CSR_POP_NONE;
	char *state = NULL;
	size_t len = 0;

	if (keystore_get(p->ks, KS_ALIAS_STATE, &state, &len) == 0 &&
	    pass_record_matches(p, state)) {
		if (kv_is(state, "pop", "tls-unique"))
			pop = CSR_POP_TLS_UNIQUE;
		else if (kv_is(state, "pop", "tls-exporter"))
			pop = CSR_POP_TLS_EXPORTER;
	}
	free(state);
	return pop;
}

int pass_stage_state(struct pass *p)
{
	p->state_staged = true;
	return stage_record(p, time(NULL), NULL, NULL, false);
}

int pass_stage_record(struct pass *p, const char *pair_fp, const char *cacerts_fp)
{
	char *state = NULL, *at = NULL, *pair = NULL, *cas = NULL;
	time_t when = time(NULL);
	bool owed = false;
	size_t len = 0;
	int r;

	if (keystore_get(p->ks, KS_ALIAS_STATE, &state, &len) == 0) {
		at = kv_value(state, "bootstrapped");
		pair = kv_value(state, "pair_sha256");
		cas = kv_value(state, "cacerts_sha256");
		owed = kv_is(state, "sweep", "1");
	}
	if (!p->state_staged && at)
		when = (time_t)strtoll(at, NULL, 10);
	/* A new bootstrap vouches only for what it stages itself. */
	r = stage_record(p, when,
			 pair_fp	   ? pair_fp
			 : p->state_staged ? NULL
					   : pair,
			 cacerts_fp	   ? cacerts_fp
			 : p->state_staged ? NULL
					   : cas,
			 owed);
	free(at);
	free(pair);
	free(cas);
	free(state);
	return r;
}

/* The issuer of c among the server's answer and the anchors, or NULL. */
static X509 *find_issuer(X509 *c, STACK_OF(X509) *certs, STACK_OF(X509) *anchors)
{
	STACK_OF(X509) *pool[2] = {certs, anchors};
	int i, k;

	for (k = 0; k < 2; k++)
		for (i = 0; i < sk_X509_num(pool[k]); i++)
			if (sk_X509_value(pool[k], i) != c &&
			    X509_check_issued(sk_X509_value(pool[k], i), c) == X509_V_OK)
				return sk_X509_value(pool[k], i);
	return NULL;
}

/* Appends the chain above leaf (intermediates, not the self-signed root) for consumers. */
static int append_chain(X509 *leaf, STACK_OF(X509) *certs, STACK_OF(X509) *anchors, char **bundle,
			size_t *blen)
{
	X509 *c = leaf, *issuer;
	int depth, r = 0;

	for (depth = 0; depth < 8 && r == 0; depth++) {
		issuer = find_issuer(c, certs, anchors);
		if (!issuer || X509_check_issued(issuer, issuer) == X509_V_OK)
			break;
		r = crypto_cert_append_pem(issuer, bundle, blen);
		c = issuer;
	}
	return r;
}

static void log_issued(X509 *leaf, const char *what)
{
	char *subject = crypto_cert_subject(leaf), *serial = crypto_cert_serial(leaf);
	time_t nb = 0, na = 0;
	char until[32] = "";
	struct tm tm;

	if (crypto_cert_validity(leaf, &nb, &na) == 0)
		strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&na, &tm));
	log_info("%s: %s (serial %s), valid until %s", what, subject ? subject : "?",
		 serial ? serial : "?", until);
	OPENSSL_free(subject);
	OPENSSL_free(serial);
}

/*
 * The certificates are gathered first, so the buffer holding the key is never reallocated
 * (a realloc would leave an unwiped copy of the key behind).
 */
int pass_stage_issued(struct pass *p, EVP_PKEY *key, STACK_OF(X509) *certs, const char *what,
		      bool renewal)
{
	char *pem = NULL, *chain = NULL, *bundle = NULL;
	size_t len = 0, clen = 0, blen = 0;
	X509 *leaf = NULL;
	int i, r;

	for (i = 0; i < sk_X509_num(certs) && !leaf; i++)
		if (crypto_cert_matches_key(sk_X509_value(certs, i), key))
			leaf = sk_X509_value(certs, i);
	if (!leaf) {
		log_err("the server returned no certificate for our public key: nothing stored");
		return -EBADMSG;
	}
	r = crypto_verify_chain(leaf, certs, p->anchors, 0);
	if (r < 0) {
		log_err("the issued certificate does not chain to the trust anchors: nothing "
			"stored");
		return r;
	}
	r = crypto_cert_append_pem(leaf, &chain, &clen);
	if (r == 0)
		r = append_chain(leaf, certs, p->anchors, &chain, &clen);
	if (r == 0 && key == p->req_key && p->req_pem) {
		len = p->req_pem_len;
		pem = xmalloc(len + 1);
		memcpy(pem, p->req_pem, len + 1);
	} else if (r == 0) {
		r = pass_key_pem(p, key, &pem, &len);
	}
	if (r == 0) {
		blen = len + clen;
		bundle = xmalloc(blen + 1);
		memcpy(bundle, pem, len);
		memcpy(bundle + len, chain, clen + 1);
		r = keystore_txn_put(p->txn, KS_ALIAS_ENROLLED, bundle, blen);
		sha256_hex(bundle, blen, p->pair_fp);
	}
	/* The pending request, if any, is answered: its key goes with the commit. */
	if (r == 0)
		r = keystore_txn_remove(p->txn, KS_ALIAS_REQUEST);
	if (r == 0) {
		X509_free(p->issued);
		sk_X509_pop_free(p->issued_chain, X509_free);
		X509_up_ref(leaf);
		p->issued = leaf;
		p->issued_chain = X509_chain_up_ref(certs);
		p->issued_what = what;
		p->issued_renewal = renewal;
		p->issued_gen = p->anchors_gen;
	} else {
		log_err("staging " KS_ALIAS_ENROLLED ": %s", strerror(-r));
	}
	wipe_free(pem, len);
	wipe_free(bundle, blen);
	free(chain);
	return r;
}

/* The store's invariant for this pass: the pair it will hold chains to the anchors it will
 * hold (at a time the certificate is valid, so an expired one can still get new anchors). */
static int check_identity(struct pass *p)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	X509 *leaf = p->issued;
	STACK_OF(X509) *chain = p->issued_chain;
	time_t nb = 0, na = 0, now = time(NULL);
	int r = 0;

	if (!leaf) {
		if (pass_load_enrolled(p, &key, &certs) < 0)
			goto out; /* no identity yet: nothing to keep consistent */
		leaf = sk_X509_value(certs, 0);
		chain = certs;
	}
	/* pass_stage_issued verified it against these very anchors, now: once is enough. */
	if (leaf == p->issued && p->issued_gen == p->anchors_gen)
		goto out;
	if (crypto_cert_validity(leaf, &nb, &na) == 0 && (now < nb || now >= na))
		now = nb + (na - nb) / 2;
	r = p->anchors ? crypto_verify_chain(leaf, chain, p->anchors, now) : -EBADMSG;
	if (r < 0)
		log_err("refusing to commit a certificate and CA certificates that do not chain: "
			"the stored identity is kept");
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

const char *enroll_event_name(enum enroll_event e)
{
	switch (e) {
	case ENROLL_EVENT_NONE:
		return NULL;
	case ENROLL_EVENT_CACERTS:
		return "cacerts";
	case ENROLL_EVENT_ENROLLED:
		return "enrolled";
	case ENROLL_EVENT_RENEWED:
		return "renewed";
	}
	return NULL;
}

enum enroll_event enroll_event_from_name(const char *name, size_t len)
{
	static const enum enroll_event all[] = {ENROLL_EVENT_CACERTS, ENROLL_EVENT_ENROLLED,
						ENROLL_EVENT_RENEWED};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(all); i++)
		if (strlen(enroll_event_name(all[i])) == len &&
		    !memcmp(enroll_event_name(all[i]), name, len))
			return all[i];
	return ENROLL_EVENT_NONE;
}

/* What the staged changes amount to for consumers: the pair, else the CA certificates. */
static enum enroll_event staged_event(const struct pass *p)
{
	if (p->issued)
		return p->issued_renewal ? ENROLL_EVENT_RENEWED : ENROLL_EVENT_ENROLLED;
	return p->anchors_changed ? ENROLL_EVENT_CACERTS : ENROLL_EVENT_NONE;
}

/*
 * The change goes into est-events in the same transaction as the change itself, after those the
 * hooks have not heard of yet: if the process dies after the commit point, the next command
 * that takes the lock still runs the hooks for it (hooks_deliver), and a change that was not
 * committed is never announced.
 */
static int stage_event(struct pass *p, enum enroll_event e)
{
	char *have = NULL, *all;
	uint64_t id = 0;
	size_t len = 0;
	int r;

	if (e == ENROLL_EVENT_NONE)
		return 0;
	r = keystore_get(p->ks, KS_ALIAS_EVENTS, &have, &len);
	if (r < 0 && r != -ENOKEY)
		return r;
	/* An id of its own: hooks_deliver takes out exactly the lines it told, never a later one
	 * of the same kind. A line cut short (a damaged item) is ended first. */
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	all = xasprintf("%s%s%s %016llx\n", r == 0 ? have : "",
			r == 0 && len && have[len - 1] != '\n' ? "\n" : "", enroll_event_name(e),
			(unsigned long long)id);
	r = keystore_txn_put(p->txn, KS_ALIAS_EVENTS, all, strlen(all));
	free(all);
	free(have);
	return r;
}

bool pass_events_pending(struct pass *p)
{
	char *have = NULL;
	size_t len = 0;
	bool pending = keystore_get(p->ks, KS_ALIAS_EVENTS, &have, &len) == 0;

	free(have);
	return pending;
}

int pass_commit(struct pass *p)
{
	int r;

	if (!p->txn || keystore_txn_empty(p->txn))
		return 0;
	/* The record vouches for the pair and the CA certificates it goes with (pass_idle.c). */
	r = p->issued || p->anchors_staged
		    ? pass_stage_record(p, p->issued ? p->pair_fp : NULL,
					p->anchors_staged ? p->anchors_fp : NULL)
		    : 0;
	if (r == 0)
		r = stage_event(p, staged_event(p));
	if (r == 0)
		r = check_identity(p);
	if (r == 0)
		r = keystore_txn_commit(p->txn);
	if (r < 0)
		log_err("keystore %s: nothing was changed: %s", keystore_name(p->ks), strerror(-r));
	else if (p->issued)
		log_issued(p->issued, p->issued_what);
	if (r == 0 && p->issued)
		p->swept = false;
	return r;
}
