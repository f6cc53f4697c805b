/* SPDX-License-Identifier: MIT */
/*
 * Most passes a timer starts find nothing due. They can tell from the stored bytes alone, without
 * OpenSSL's providers, its configuration or a parsed key: the bootstrap record names the server,
 * label and ca_root (its certificates' DER digest, certinfo.c); it also holds the SHA-256 of the
 * pair and of the CA certificates it was committed with, which pass_commit checked (key and
 * certificate match, chain to the CA certificates). Stored bytes with those digests are what was
 * checked, so their validity is all a pass needs to read. Anything else (no record, another
 * digest, a certificate due or unreadable) goes the whole way, in enroll.c, which decides the
 * same from parsed data.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certinfo.h"
#include "crypto.h"
#include "enroll.h"
#include "keystore.h"
#include "log.h"
#include "pass.h"
#include "sha256.h"
#include "util.h"

struct due {
	const struct config *cfg;
	time_t now;
	bool due;
};

static int cert_due(const struct certinfo *ci, void *ctx)
{
	struct due *d = ctx;

	if (d->now >= enroll_due_time(d->cfg, ci->not_before, ci->not_after))
		d->due = true;
	return 0;
}

struct anchors_read {
	struct sha256 sum;
	struct due *due; /* NULL: the digest only */
	int certs;
};

static int read_item(int index, const char *pem, size_t len, void *ctx)
{
	struct anchors_read *a = ctx;
	int r;

	(void)index;
	sha256_update(&a->sum, pem, len);
	r = a->due ? certinfo_each_pem(pem, len, cert_due, a->due) : 1;
	if (r <= 0)
		return r < 0 ? r : -EBADMSG;
	a->certs += r;
	return 0;
}

/* The est-cacerts_N items as stored, their SHA-256 (as pass_stage_anchors takes it) into fp and
 * whether any certificate of them is due into d. Certificates read, or -errno. */
static int read_anchors(struct pass *p, struct due *d, char fp[65])
{
	struct anchors_read a = {.due = d};
	int r;

	sha256_init(&a.sum);
	r = keystore_each_in_set(p->ks, KS_ALIAS_CACERTS_PREFIX, read_item, &a);
	sha256_final_hex(&a.sum, fp);
	return r < 0 ? r : a.certs;
}

/* The stored record, when it matches the configuration (server, label, ca_root). Caller
 * frees. */
static char *matching_record(struct pass *p)
{
	char *state = NULL;
	size_t len = 0;

	if (keystore_get(p->ks, KS_ALIAS_STATE, &state, &len) == 0 && pass_record_matches(p, state))
		return state;
	free(state);
	return NULL;
}

bool pass_idle(struct pass *p)
{
	const struct config *cfg = p->cfg;
	struct due d = {.cfg = cfg, .now = time(NULL)};
	char *state = matching_record(p), *pair = NULL, *req = NULL, fp[65];
	time_t nb, na;
	size_t len = 0, rlen = 0;
	bool idle = false;

	if (!state || keystore_get(p->ks, KS_ALIAS_ENROLLED, &pair, &len) < 0)
		goto out;
	if (!keystore_state_vouches(state, pair, len) ||
	    certinfo_first_pem(pair, len, &nb, &na) < 0)
		goto out;
	/* A key to move into the hardware, or a token object to destroy (pass_hw.c). */
	if (pass_key_moves(p, pair, len) ||
	    (cfg->key_storage == KEY_STORAGE_PKCS11 && kv_is(state, "sweep", "1")))
		goto out;
	if (cfg->renew && d.now >= enroll_due_time(cfg, nb, na))
		goto out;
	/* At least one CA certificate, the set the record vouches for, none due (ca_rollover). */
	if (read_anchors(p, &d, fp) <= 0 || !kv_is(state, "cacerts_sha256", fp))
		goto out;
	idle = !cfg->ca_rollover || !d.due;
	/* A request key the server holds nothing for is discarded by a pass that does not idle. */
	if (idle && keystore_get(p->ks, KS_ALIAS_REQUEST, &req, &rlen) == 0)
		idle = pass_request_pending(req);
out:
	wipe_free(req, rlen);
	wipe_free(pair, len);
	free(state);
	return idle;
}

void pass_record_digests(struct pass *p)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	char *state = p->anchors ? matching_record(p) : NULL, *pair = NULL, fp[65], cas_fp[65];
	size_t len = 0;

	if (!state || keystore_get(p->ks, KS_ALIAS_ENROLLED, &pair, &len) < 0 ||
	    read_anchors(p, NULL, cas_fp) <= 0)
		goto out;
	if (keystore_state_vouches(state, pair, len) && kv_is(state, "cacerts_sha256", cas_fp))
		goto out;
	/* p->anchors were parsed from these items (pass_load_anchors); the pair is checked here. */
	if (pass_load_enrolled(p, &key, &certs) < 0 ||
	    !crypto_cert_matches_key(sk_X509_value(certs, 0), key))
		goto out;
	sha256_hex(pair, len, fp);
	p->txn = keystore_txn_new(p->ks);
	p->state_staged = false;
	/* pass_commit checks that the pair chains to the anchors before the record says so. */
	if (pass_stage_record(p, fp, cas_fp) == 0 && pass_commit(p) == 0)
		log_info("recorded the SHA-256 of the stored pair and CA certificates with the "
			 "bootstrap: idle passes read no more than their validity");
	keystore_txn_free(p->txn);
	p->txn = NULL;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	wipe_free(pair, len);
	free(state);
}
