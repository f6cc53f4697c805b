/* SPDX-License-Identifier: MIT */
/* One pass: decide bootstrap, enroll, renew, CA refresh or nothing, and do it. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cacerts.h"
#include "certinfo.h"
#include "crypto.h"
#include "crypto_hw.h"
#include "csr.h"
#include "csrattrs.h"
#include "enroll.h"
#include "est.h"
#include "http.h"
#include "keystore.h"
#include "log.h"
#include "pass.h"
#include "sha256.h"
#include "util.h"

/*
 * An attempt stages what it learns and commits it at its end (pass_store.c): a bootstrap's or a
 * refresh's anchors, the issued pair and the bootstrap record become visible together or not
 * at all. Only a CA refresh may be committed without the enrollment it came with, and only when
 * the stored certificate chains to the new set.
 */

enum step {
	STEP_BOOTSTRAP = 1 << 0,
	STEP_ENROLL = 1 << 1,
	STEP_RENEW = 1 << 2,
	STEP_CACERTS = 1 << 3,
};

static bool is_temporary(int r)
{
	return r == -EAGAIN || r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ETIMEDOUT ||
	       r == -ECONNRESET;
}

/* Longest wait a pass sleeps through; a longer Retry-After ends the pass (75). */
#define IN_PASS_WAIT_MAX 3600

static bool short_lived(const struct config *cfg, time_t not_before, time_t not_after)
{
	return !cfg->expiration_check_pct &&
	       not_after - not_before <= (time_t)cfg->expiration_check;
}

time_t enroll_due_time(const struct config *cfg, time_t not_before, time_t not_after)
{
	if (cfg->expiration_check_pct)
		return not_after - (time_t)((double)(not_after - not_before) *
					    cfg->expiration_check_pct / 100.0);
	/* Else a 7-day certificate under the default 30d would be renewed on every pass. */
	if (short_lived(cfg, not_before, not_after))
		return not_after - (not_after - not_before) / ENROLL_SHORT_LIVED_DIVISOR;
	return not_after - (time_t)cfg->expiration_check;
}

static bool cert_due(const struct config *cfg, X509 *cert, time_t now)
{
	time_t nb, na;

	if (crypto_cert_validity(cert, &nb, &na) < 0)
		return true;
	return now >= enroll_due_time(cfg, nb, na);
}

/* Said when it matters: when the renewal it changes is due. */
static void warn_short_lived(const struct config *cfg, X509 *cert)
{
	char life[32], check[32];
	time_t nb, na;

	if (crypto_cert_validity(cert, &nb, &na) < 0 || !short_lived(cfg, nb, na))
		return;
	log_warn("the certificate lives %s, not longer than expiration_check (%s): it is renewed "
		 "when 1/%d of its lifetime is left",
		 format_duration((uint64_t)(na - nb), life, sizeof(life)),
		 format_duration(cfg->expiration_check, check, sizeof(check)),
		 ENROLL_SHORT_LIVED_DIVISOR);
}

/* Which CA certificates are due for a refresh (any within expiration_check of its end). */
static bool anchors_due(const struct pass *p, time_t now)
{
	int i;

	for (i = 0; i < sk_X509_num(p->anchors); i++)
		if (cert_due(p->cfg, sk_X509_value(p->anchors, i), now))
			return true;
	return false;
}

static unsigned int decide(struct pass *p, enum enroll_action action)
{
	const struct config *cfg = p->cfg;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	unsigned int steps = 0;
	time_t now = time(NULL);
	bool have_cert;

	have_cert = pass_load_enrolled(p, &key, &certs) == 0;
	/* The stored key is not where key_storage says keys live: a key of other hardware does
	 * not load at all, so a loaded one is in software or in this pass's hardware. */
	p->key_moves = have_cert &&
		       crypto_hw_holds(p->hw, key) != (cfg->key_storage != KEY_STORAGE_SOFTWARE);
	if (!p->anchors) {
		/* A pair without anchors cannot be trusted to chain to what the server sends. */
		steps |= STEP_BOOTSTRAP | (have_cert ? STEP_ENROLL : 0);
	} else if (!pass_state_matches(p, NULL)) {
		if (!p->change_logged)
			log_info("server, label or ca_root changed since the last bootstrap: "
				 "bootstrapping again");
		p->change_logged = true;
		steps |= STEP_BOOTSTRAP | STEP_ENROLL;
	}
	switch (action) {
	case ENROLL_ACTION_ENROLL:
		steps |= STEP_ENROLL;
		goto out;
	case ENROLL_ACTION_RENEW:
		steps |= steps & STEP_ENROLL ? 0 : STEP_RENEW;
		goto out;
	case ENROLL_ACTION_CACERTS:
		if (!steps)
			steps = STEP_CACERTS;
		else if (!have_cert)
			steps &= ~STEP_ENROLL;
		else
			/* New anchors and a pair of the old CA must never be stored together. */
			log_info("cacerts: the new anchors come with an enrollment under them");
		goto out;
	case ENROLL_ACTION_RUN:
		break;
	}
	if (!have_cert)
		steps |= STEP_ENROLL;
	else if (!(steps & STEP_ENROLL) && cfg->renew &&
		 cert_due(cfg, sk_X509_value(certs, 0), now)) {
		warn_short_lived(cfg, sk_X509_value(certs, 0));
		steps |= STEP_RENEW;
	} else if (!(steps & STEP_ENROLL) && p->key_moves) {
		log_info("key_storage = %s: a renewal now makes the new key there",
			 config_key_storage_name(cfg->key_storage));
		steps |= STEP_RENEW;
	}
	if (!(steps & STEP_BOOTSTRAP) && cfg->ca_rollover &&
	    ((steps & STEP_RENEW) || anchors_due(p, now)))
		steps |= STEP_CACERTS;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return steps;
}

static int step_bootstrap(struct pass *p)
{
	STACK_OF(X509) *certs = NULL;
	int r;

	r = est_cacerts(p->http, p->cfg->label, &certs, &p->retry_after);
	if (r == 0)
		r = cacerts_keep_cas(certs);
	if (r == 0)
		r = pass_stage_anchors(p, certs);
	if (r == 0)
		log_info("bootstrapping with %d CA certificate(s) from %s", sk_X509_num(certs),
			 p->cfg->server);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* The server's CSR attributes; *out_attrs NULL when it has none or does not offer them. */
static int fetch_csrattrs(struct pass *p, struct csrattrs **out_attrs)
{
	unsigned char *der = NULL;
	size_t len = 0;
	int r;

	*out_attrs = NULL;
	/* /csrattrs is optional (RFC 7030 4.5): an unusable answer is no attributes (logged). */
	r = est_csrattrs(p->http, p->cfg->label, &der, &len);
	if (r == 0 && csrattrs_parse(der, len, out_attrs) == 0)
		r = csrattrs_check_key(*out_attrs, p->cfg->key_algorithm, p->cfg->key_params);
	else if (r == 0 || r == -ENOENT)
		r = 0;
	free(der);
	return r;
}

/* key_source = server: a throwaway key signs the CSR, the server returns key and certificate. */
static int server_keygen(struct pass *p, const struct csrattrs *attrs, enum csr_pop pop)
{
	struct csr_input in = {.cfg = p->cfg, .http = p->http, .attrs = attrs, .pop = pop};
	STACK_OF(X509) *certs = NULL;
	unsigned char *csr = NULL;
	EVP_PKEY *key = NULL;
	size_t csr_len = 0;
	int r;

	r = crypto_keygen(p->cfg->key_algorithm, p->cfg->key_params, &in.key);
	if (r == 0)
		r = csr_make(&in, &csr, &csr_len);
	if (r == 0)
		r = est_serverkeygen(p->http, p->cfg->label, csr, csr_len, &key, &certs,
				     &p->retry_after);
	if (r == 0)
		r = pass_stage_issued(p, key, certs, "enrolled with a server-generated key", false);
	EVP_PKEY_free(in.key);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	OPENSSL_free(csr);
	return r;
}

/* First enrollment (current == NULL) or re-enrollment of current with current_key. */
static int step_enroll(struct pass *p, X509 *current, EVP_PKEY *current_key, bool fresh)
{
	struct csr_input in = {.cfg = p->cfg, .http = p->http, .current = current};
	bool reenroll = current != NULL;
	STACK_OF(X509) *certs = NULL;
	struct csrattrs *attrs = NULL;
	unsigned char *csr = NULL;
	size_t csr_len = 0;
	long status = 0;
	int r;

	r = fetch_csrattrs(p, &attrs);
	if (r == 0)
		r = pass_pop_connection(p, attrs && attrs->challenge_password, &in.pop);
	if (r < 0)
		goto out;
	in.attrs = attrs;
	in.http = p->http; /* a new connection when PoP wanted another TLS version */
	if (p->cfg->key_source == KEY_SOURCE_SERVER && !reenroll) {
		r = server_keygen(p, attrs, in.pop);
		goto out;
	}
	/* A key kept elsewhere than key_storage says moves there with this renewal. */
	if (reenroll && !p->cfg->renew_rekey && !p->key_moves) {
		in.key = current_key;
	} else {
		r = pass_request_key(p, fresh, reenroll);
		if (r < 0)
			goto out;
		in.key = p->req_key;
	}
	pass_key_signer(p, in.key, &in.libctx, &in.propq);
	r = csr_make(&in, &csr, &csr_len);
	if (r < 0)
		goto out;
	r = est_enroll_answer(p->http, p->cfg->label, reenroll, csr, csr_len, &certs,
			      &p->retry_after, &status, NULL);
	/* A 202 (not a 5xx's Retry-After): the server holds the request, its key is kept. */
	p->accepted = r == -EAGAIN && status == 202;
	if (r < 0)
		goto out;
	r = pass_stage_issued(p, in.key, certs, reenroll ? "renewed" : "enrolled", reenroll);
out:
	csrattrs_free(attrs);
	sk_X509_pop_free(certs, X509_free);
	OPENSSL_free(csr);
	return r;
}

/* Refresh /cacerts over a connection authenticated by the stored anchors. */
static int step_cacerts(struct pass *p)
{
	STACK_OF(X509) *certs = NULL;
	int r;

	r = est_cacerts(p->http, p->cfg->label, &certs, &p->retry_after);
	if (r == 0)
		r = cacerts_keep_cas(certs);
	if (r < 0)
		goto out;
	r = cacerts_verify_update(p->anchors, certs);
	if (r < 0) {
		log_err("cacerts: kept the stored CA certificates");
		goto out;
	}
	r = pass_stage_anchors(p, certs);
	if (r == 0)
		log_info("refreshing %d CA certificate(s)", sk_X509_num(certs));
out:
	sk_X509_pop_free(certs, X509_free);
	return r;
}

static bool cert_expired(X509 *cert)
{
	time_t nb, na;

	return crypto_cert_validity(cert, &nb, &na) < 0 || time(NULL) >= na;
}

/* Prepares the renewal: the current pair authenticates it, unless it has expired. */
static int prepare_renew(struct pass *p, unsigned int *steps, EVP_PKEY **cur_key,
			 STACK_OF(X509) **cur)
{
	int r;

	r = pass_load_enrolled(p, cur_key, cur);
	if (r < 0 || cert_expired(sk_X509_value(*cur, 0))) {
		log_warn("%s: cannot authenticate a re-enrollment; enrolling with the configured "
			 "credentials",
			 r < 0 ? "no usable enrolled key pair" : "the certificate has expired");
		*steps = (*steps & ~STEP_RENEW) | STEP_ENROLL;
		return 0;
	}
	return keystore_get(p->ks, KS_ALIAS_ENROLLED, &p->client_pem, &p->client_len);
}

static int run_steps_of(struct pass *p, unsigned int *steps, bool fresh, STACK_OF(X509) **cur,
			EVP_PKEY **cur_key)
{
	const struct config *cfg = p->cfg;
	int r = 0;

	if (*steps & STEP_RENEW)
		r = prepare_renew(p, steps, cur_key, cur);
	if (r == 0 && (*steps & STEP_ENROLL) && cfg->tls_client_auth)
		r = pass_load_client_auth(p);
	if (r == 0)
		r = pass_open_http(p, *steps & STEP_BOOTSTRAP);
	if (r == 0 && (*steps & STEP_BOOTSTRAP))
		r = step_bootstrap(p);
	if (r == 0 && (*steps & STEP_CACERTS))
		r = step_cacerts(p);
	if (r == 0 && (*steps & STEP_ENROLL))
		r = step_enroll(p, NULL, NULL, fresh);
	else if (r == 0 && (*steps & STEP_RENEW))
		/* A pending renewal (202) is resumed with its key unless forced. */
		r = step_enroll(p, sk_X509_value(*cur, 0), *cur_key, fresh);
	if (r == 0 && (*steps & STEP_BOOTSTRAP))
		r = pass_stage_state(p);
	return r;
}

/* RFC 7030 4.2.3: a client MUST wait at least Retry-After; later passes too. */
static void defer(struct pass *p)
{
	time_t until = time(NULL) + (time_t)p->retry_after;
	char buf[32];

	if (p->retry_after > 24 * 3600)
		log_info("the server asks to wait %s, more than a day: honoured",
			 format_duration(p->retry_after, buf, sizeof(buf)));
	if (pass_defer_request(p, until, p->accepted) < 0)
		log_warn("cannot record the server's Retry-After with the pending request");
}

static int attempt(struct pass *p, unsigned int steps, bool fresh)
{
	STACK_OF(X509) *cur = NULL;
	EVP_PKEY *cur_key = NULL;
	int r, rc;

	p->retry_after = 0;
	p->accepted = false;
	p->txn = keystore_txn_new(p->ks);
	p->state_staged = false;
	p->pair_fp[0] = '\0';
	p->pop_known = p->pop_forget ? CSR_POP_NONE : pass_record_pop(p);
	p->pop_read = true;
	r = run_steps_of(p, &steps, fresh, &cur, &cur_key);
	p->cert_refused = p->http && http_client_cert_refused(p->http);
	p->pop_forget = pass_pop_guess_refused(p, r);
	pass_close_http(p);
	if (r == -EAGAIN && (p->retry_after || p->accepted))
		defer(p);
	/* A failed bootstrap changes nothing; a refresh that came with a failed renewal stands. */
	if (r == 0 || !(steps & STEP_BOOTSTRAP)) {
		rc = pass_commit(p);
		r = r < 0 ? r : rc;
	}
	keystore_txn_free(p->txn);
	p->txn = NULL;
	X509_free(p->issued);
	sk_X509_pop_free(p->issued_chain, X509_free);
	p->issued = NULL;
	p->issued_chain = NULL;
	/* The next attempt starts from what is stored, not from what this one staged. The old
	 * key's objects stay in the token until consumers were told (enroll_sweep). */
	rc = pass_load_anchors(p);
	EVP_PKEY_free(cur_key);
	sk_X509_pop_free(cur, X509_free);
	return r < 0 ? r : rc;
}

/*
 * The wait before the next attempt, in ms: the server's Retry-After (a floor) or retry_interval,
 * plus a random 0-50% of it at millisecond grain, so a fleet failing together (a server outage,
 * a site power cut) does not come back in step: bench/RESULTS.md measures what that spreads.
 */
uint64_t enroll_jittered_ms(uint64_t wait_s, uint64_t random)
{
	if (wait_s > UINT64_MAX / 2000)
		return UINT64_MAX / 2;
	return wait_s * 1000 + random % (wait_s * 500 + 1);
}

static uint64_t retry_wait_ms(const struct pass *p)
{
	uint64_t wait = p->retry_after ? p->retry_after : p->cfg->retry_interval, r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint64_t)getpid() * 2654435761u;
	return enroll_jittered_ms(wait, r);
}

static bool has_credentials(const struct config *cfg)
{
	return cfg->http_auth != HTTP_AUTH_NONE || cfg->tls_client_auth;
}

/* The server turned the current certificate down: HTTP 401/403, or a TLS alert about it. */
static bool client_cert_refused(const struct pass *p, int r)
{
	return r == -EKEYREJECTED || (r == -ECONNABORTED && p->cert_refused);
}

/* A pending request the server asked to wait for: run gives way, a forced command says so. */
static int check_not_before(struct pass *p, unsigned int steps, enum enroll_action action)
{
	time_t nb = 0;
	char when[32];
	struct tm tm;

	if (!(steps & (STEP_ENROLL | STEP_RENEW)) ||
	    (nb = pass_request_not_before(p)) <= time(NULL))
		return 0;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&nb, &tm));
	if (action == ENROLL_ACTION_RUN) {
		log_info("the server asked to wait until %s (Retry-After) before asking again: "
			 "try later",
			 when);
		return -EAGAIN;
	}
	log_info("overriding the server's Retry-After (until %s)", when);
	return 0;
}

static int run_steps(struct pass *p, enum enroll_action action)
{
	bool fresh = action == ENROLL_ACTION_ENROLL || action == ENROLL_ACTION_RENEW;
	char buf[32];
	int r;

	for (;;) {
		unsigned int steps = decide(p, action);
		uint64_t wait;

		/* Never a silent fallback: a key the TPM or token refuses (another TPM, a cleared
		 * one, a deleted object) is no pair to replace by the configured credentials
		 * unasked. `enroll` is the way to a new identity. */
		if (p->hw_key_error && action != ENROLL_ACTION_ENROLL &&
		    (steps & (STEP_ENROLL | STEP_RENEW))) {
			log_err("the %s could not load the stored key pair's key: the identity "
				"is kept; if it is gone for good (another or a cleared TPM, "
				"the object deleted), `est-enroll enroll` makes a new one",
				p->cfg->key_storage == KEY_STORAGE_TPM ? "TPM" : "PKCS#11 token");
			return -ENOKEY;
		}
		if (!steps) {
			if (action == ENROLL_ACTION_RUN)
				pass_record_digests(p);
			log_info("nothing due");
			return 0;
		}
		r = check_not_before(p, steps, action);
		if (r < 0)
			return r;
		r = attempt(p, steps, fresh);
		if (p->pop_forget)
			r = attempt(p, steps, fresh); /* at once, without the stale TLS 1.2 cap */
		if ((steps & STEP_RENEW) && client_cert_refused(p, r) && has_credentials(p->cfg)) {
			log_warn(
				"the server refused the re-enrollment authenticated by the current "
				"certificate: enrolling with the configured credentials");
			r = attempt(p, (steps & ~STEP_RENEW) | STEP_ENROLL, fresh);
		}
		if (!is_temporary(r))
			return r;
		if (p->once)
			return -EAGAIN;
		wait = retry_wait_ms(p);
		if (wait / 1000 > IN_PASS_WAIT_MAX) {
			log_info("the server asked to wait %s: a later pass goes on",
				 format_duration(wait / 1000, buf, sizeof(buf)));
			return -EAGAIN;
		}
		if (p->deadline && time(NULL) + (time_t)((wait + 999) / 1000) >= p->deadline) {
			log_err("giving up: retry_timeout reached");
			return -EAGAIN;
		}
		log_info("retrying in %.1fs", (double)wait / 1000);
		sleep_ms(wait);
	}
}

/* Reads ca_root (only a pass needs it), unless config_load_secrets() did, and what identifies
 * it. */
static int read_ca_root(struct pass *p)
{
	const struct config *cfg = p->cfg;
	int r;

	if (cfg->ca_root_pem) {
		p->ca_root_pem = xmalloc(cfg->ca_root_len + 1);
		memcpy(p->ca_root_pem, cfg->ca_root_pem, cfg->ca_root_len + 1);
		p->ca_root_len = cfg->ca_root_len;
		memcpy(p->ca_root_fp, cfg->ca_root_der_fp, sizeof(cfg->ca_root_der_fp));
		r = 0;
	} else {
		r = read_file(cfg->ca_root, 1 << 20, &p->ca_root_pem, &p->ca_root_len);
		if (r == 0)
			r = certinfo_pem_sha256(p->ca_root_pem, p->ca_root_len, p->ca_root_fp);
	}
	if (r == 0)
		sha256_hex(p->ca_root_pem, p->ca_root_len, p->ca_root_file_fp);
	if (r < 0)
		log_err("ca_root %s: %s", cfg->ca_root,
			r == -ENOENT && p->ca_root_pem ? "holds no certificate" : strerror(-r));
	return r < 0 ? -EINVAL : 0;
}

/* The keyring lost or changed keys (reboot, keyctl clear): the file copy puts them back. */
static int heal(struct pass *p)
{
	unsigned int restored = 0;
	int r;

	r = keystore_load(p->ks, &restored);
	if (r < 0)
		log_err("keystore %s: restoring the keyring from the file copy: %s",
			keystore_name(p->ks), strerror(-r));
	else if (restored)
		log_info("keystore %s: restored %u key(s) into the keyring from the file copy",
			 keystore_name(p->ks), restored);
	return r;
}

/*
 * Anchors and a pair but no bootstrap record (left by a crash in versions that wrote them one
 * by one): the pair is kept and the record written, if it chains to the anchors.
 */
static void adopt_state(struct pass *p)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	bool absent = false;

	if (!p->anchors || pass_state_matches(p, &absent) || !absent ||
	    pass_load_enrolled(p, &key, &certs) < 0)
		goto out;
	p->txn = keystore_txn_new(p->ks);
	if (pass_stage_state(p) == 0 && pass_commit(p) == 0)
		log_info("no record of the bootstrap: recorded %s for the stored identity",
			 p->cfg->server);
	keystore_txn_free(p->txn);
	p->txn = NULL;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
}

/* What a pass needs before real work: openssl.cnf, and a subject whose values suit their types
 * (exit 2 before anything in the store is touched). */
static int pass_prepare_work(struct pass *p)
{
	struct crypto_hw *hw = NULL;
	int r;

	crypto_load_config();
	r = config_check_subject(p->cfg);
	/* Never a silent fallback: no TPM or token, no pass (before the server is asked). */
	if (r == 0 && p->cfg->key_storage != KEY_STORAGE_SOFTWARE)
		r = pass_hw(p, &hw);
	return r;
}

static int pass_init(struct pass *p, enum enroll_action action)
{
	const struct config *cfg = p->cfg;
	bool run = action == ENROLL_ACTION_RUN;
	int r;

	r = read_ca_root(p);
	if (r == 0 && !run)
		r = pass_prepare_work(p);
	if (r < 0)
		return r;
	/* A timer or hook pass gives way at once; a command typed by hand waits its turn. */
	r = keystore_open(config_keystore(cfg, cfg->keystore),
			  run ? KEYSTORE_WRITE_TRY : KEYSTORE_WRITE, &p->ks);
	if (r == -EBUSY) {
		log_info("another pass holds the lock on keystore %s: try later", cfg->keystore);
		return r;
	}
	if (r < 0) {
		log_err("keystore %s: %s", cfg->keystore, strerror(-r));
		return r;
	}
	/* The file copy decides (pass_idle reads it); the keyring is then healed from it. */
	p->idle = run && pass_idle(p);
	if (run && !p->idle)
		r = pass_prepare_work(p);
	if (r == 0)
		r = heal(p);
	if (r < 0 || p->idle)
		return r;
	pass_drop_stale_request(p); /* a failure is a warning: the next pass tries again */
	r = pass_load_anchors(p);
	if (r == 0)
		adopt_state(p);
	/* Objects a killed pass left in the token. A failure is the pass's: what follows needs
	 * the token too. */
	if (r == 0)
		r = pass_sweep(p);
	if (cfg->retry_timeout)
		p->deadline = time(NULL) + (time_t)cfg->retry_timeout;
	return r;
}

static void pass_clear(struct pass *p)
{
	pass_close_http(p);
	pass_drop_anchors(p);
	EVP_PKEY_free(p->req_key);
	wipe_free(p->req_pem, p->req_pem_len);
	pass_parsed_clear(p);
	free(p->ca_root_pem);
	keystore_free(p->ks);
	/* Last: the keys above may live in its providers. */
	crypto_hw_free(p->hw);
}

int enroll_pass(const struct config *cfg, enum enroll_action action, bool once, bool *out_pending)
{
	struct pass p = {.cfg = cfg, .once = once};
	int r;

	if (!cfg->enabled && action == ENROLL_ACTION_RUN) {
		log_info("disabled (enabled = false): nothing to do");
		return 0;
	}
	r = pass_init(&p, action);
	if (r == 0 && p.idle)
		log_info("nothing due");
	else if (r == 0)
		r = run_steps(&p, action);
	if (out_pending)
		*out_pending = p.ks && pass_events_pending(&p);
	pass_clear(&p);
	return r;
}

void enroll_sweep(const struct config *cfg)
{
	struct pass p = {.cfg = cfg};
	char *state = NULL;
	size_t len = 0;

	if (cfg->key_storage != KEY_STORAGE_PKCS11 ||
	    keystore_open(config_keystore(cfg, cfg->keystore), KEYSTORE_WRITE_TRY, &p.ks) < 0)
		return;
	if (keystore_get(p.ks, KS_ALIAS_STATE, &state, &len) == 0 && kv_is(state, "sweep", "1"))
		pass_sweep(&p);
	free(state);
	pass_clear(&p);
}
