/* SPDX-License-Identifier: MIT */
/*
 * Most passes a timer starts find nothing due. They can tell from the stored bytes alone, without
 * OpenSSL's providers, its configuration or a parsed key: the bootstrap record names the server,
 * label and ca_root (its certificates' DER digest, certinfo.c); it also holds the SHA-256 of the
 * pair it was committed with, which pass_commit checked (key and certificate match, chain to
 * the anchors). A stored pair with that digest is that pair, so its validity and the anchors'
 * are all a pass needs to read. Anything else (no record, another digest, a pair or an anchor
 * due or unreadable) goes the whole way, in enroll.c, which decides the same from parsed data.
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

/* True when every stored CA certificate reads and (with ca_rollover) none is due; at least one. */
static bool anchors_quiet(struct pass *p, time_t now)
{
	struct due d = {.cfg = p->cfg, .now = now};
	char *alias, *pem = NULL;
	size_t len = 0;
	int i, n = 0, r;

	for (i = 0;; i++) {
		alias = xasprintf(KS_ALIAS_CACERTS_PREFIX "%d", i);
		r = keystore_get(p->ks, alias, &pem, &len);
		free(alias);
		if (r == -ENOKEY)
			break;
		if (r < 0)
			return false;
		r = certinfo_each_pem(pem, len, cert_due, &d);
		free(pem);
		if (r <= 0)
			return false;
		n += r;
	}
	return n > 0 && (!p->cfg->ca_rollover || !d.due);
}

bool pass_idle(struct pass *p)
{
	const struct config *cfg = p->cfg;
	time_t now = time(NULL), nb, na;
	char *pair = NULL;
	size_t len = 0;
	bool idle = false;

	if (!pass_state_matches(p, NULL) || keystore_get(p->ks, KS_ALIAS_ENROLLED, &pair, &len) < 0)
		return false;
	if (!keystore_pair_vouched(p->ks, pair, len) || certinfo_first_pem(pair, len, &nb, &na) < 0)
		goto out;
	if (cfg->renew && now >= enroll_due_time(cfg, nb, na))
		goto out;
	idle = anchors_quiet(p, now);
out:
	wipe_free(pair, len);
	return idle;
}

void pass_record_pair(struct pass *p)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	char *pair = NULL, fp[65];
	size_t len = 0;

	if (!p->anchors || !pass_state_matches(p, NULL) ||
	    keystore_get(p->ks, KS_ALIAS_ENROLLED, &pair, &len) < 0 ||
	    keystore_pair_vouched(p->ks, pair, len))
		goto out;
	if (crypto_key_from_pem(pair, len, &key) < 0 ||
	    crypto_certs_from_pem(pair, len, &certs) < 0 ||
	    !crypto_cert_matches_key(sk_X509_value(certs, 0), key))
		goto out;
	sha256_hex(pair, len, fp);
	p->txn = keystore_txn_new(p->ks);
	p->state_staged = false;
	/* pass_commit checks that the pair chains to the anchors before the record says so. */
	if (pass_stage_pair_record(p, fp) == 0 && pass_commit(p) == 0)
		log_info("recorded the stored pair's SHA-256 with the bootstrap: idle passes read "
			 "no more than its validity");
	keystore_txn_free(p->txn);
	p->txn = NULL;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	wipe_free(pair, len);
}
