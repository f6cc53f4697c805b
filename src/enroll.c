/* SPDX-License-Identifier: MIT */
/* One pass: decide bootstrap, enroll, renew, CA refresh or nothing, and do it. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cacerts.h"
#include "crypto.h"
#include "csr.h"
#include "csrattrs.h"
#include "enroll.h"
#include "est.h"
#include "http.h"
#include "keystore.h"
#include "log.h"
#include "util.h"

enum step {
	STEP_BOOTSTRAP = 1 << 0,
	STEP_ENROLL = 1 << 1,
	STEP_RENEW = 1 << 2,
	STEP_CACERTS = 1 << 3,
};

struct pass {
	const struct config *cfg;
	struct keystore *ks;
	struct http *http;
	STACK_OF(X509) *anchors; /* explicit trust anchors, NULL before bootstrap */
	char *anchors_pem;
	size_t anchors_len;
	char *retired_pem; /* previous anchors_pem, alive while http uses it */
	char *client_pem;  /* secret: TLS client key pair for this attempt */
	size_t client_len;
	char *ca_root_pem;
	size_t ca_root_len;
	char ca_root_fp[65];
	EVP_PKEY *req_key;    /* key of this pass's request, kept across attempts */
	uint64_t retry_after; /* the server's Retry-After of the last answer */
	bool once;
	time_t deadline; /* 0 = no retry budget */
};

static bool is_temporary(int r)
{
	return r == -EAGAIN || r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ETIMEDOUT ||
	       r == -ECONNRESET;
}

static int lock_store(const struct keystore *ks, bool wait, int *out_fd)
{
	char *path = xasprintf("%s/%s.lock", keystore_runtime_dir(), keystore_name(ks));
	int fd = -1, r;

	r = mkdir_p(keystore_runtime_dir(), 0755);
	if (r < 0)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		goto out;
	}
	*out_fd = fd;
	r = 0;
out:
	if (r < 0 && r != -EBUSY)
		log_err("lock %s: %s", path, strerror(-r));
	free(path);
	return r;
}

static void pass_drop_anchors(struct pass *p)
{
	sk_X509_pop_free(p->anchors, X509_free);
	p->anchors = NULL;
	/* An open connection may still read the old trust PEM: keep it until close_http. */
	free(p->retired_pem);
	p->retired_pem = p->http ? p->anchors_pem : NULL;
	if (!p->http)
		free(p->anchors_pem);
	p->anchors_pem = NULL;
	p->anchors_len = 0;
}

/* Reads est-cacerts_0.. into p->anchors; none stored is not an error. */
static int load_anchors(struct pass *p)
{
	STACK_OF(X509) *certs = NULL;
	char *alias = NULL, *pem = NULL;
	size_t len = 0;
	int i, r = 0;

	pass_drop_anchors(p);
	for (i = 0;; i++) {
		alias = xasprintf(KS_ALIAS_CACERTS_PREFIX "%d", i);
		r = keystore_get(p->ks, alias, &pem, &len);
		free(alias);
		if (r == -ENOKEY) {
			r = 0;
			break;
		}
		if (r < 0)
			break;
		r = crypto_certs_from_pem(pem, len, &certs);
		if (r < 0) {
			log_err("stored " KS_ALIAS_CACERTS_PREFIX "%d is not a certificate", i);
			free(pem);
			break;
		}
		if (!p->anchors)
			p->anchors = sk_X509_new_null();
		while (sk_X509_num(certs) > 0)
			sk_X509_push(p->anchors, sk_X509_shift(certs));
		sk_X509_free(certs);
		p->anchors_pem = xrealloc(p->anchors_pem, p->anchors_len + len + 1);
		memcpy(p->anchors_pem + p->anchors_len, pem, len + 1);
		p->anchors_len += len;
		free(pem);
	}
	return r;
}

static char *state_text(const struct pass *p)
{
	const struct config *cfg = p->cfg;

	return xasprintf("server=%s\nlabel=%s\nca_root_sha256=%s\nbootstrapped=%lld\n", cfg->server,
			 cfg->label ? cfg->label : "", p->ca_root_fp, (long long)time(NULL));
}

/* True when the recorded bootstrap matches server, label and ca_root of the config. */
static bool state_matches(const struct pass *p)
{
	char *state = NULL, *want = state_text(p), *cut;
	size_t len = 0;
	bool same = false;

	if (keystore_get(p->ks, KS_ALIAS_STATE, &state, &len) < 0)
		goto out;
	/* Compare everything up to the bootstrap time. */
	cut = strstr(want, "bootstrapped=");
	*cut = '\0';
	same = strncmp(state, want, strlen(want)) == 0;
out:
	free(state);
	free(want);
	return same;
}

time_t enroll_due_time(const struct config *cfg, time_t not_before, time_t not_after)
{
	if (cfg->expiration_check_pct)
		return not_after - (time_t)((double)(not_after - not_before) *
					    cfg->expiration_check_pct / 100.0);
	return not_after - (time_t)cfg->expiration_check;
}

static bool cert_due(const struct config *cfg, X509 *cert, time_t now)
{
	time_t nb, na;

	if (crypto_cert_validity(cert, &nb, &na) < 0)
		return true;
	return now >= enroll_due_time(cfg, nb, na);
}

/* The enrolled key pair, split into key and certificates; -ENOKEY when none is stored. */
static int load_enrolled(struct keystore *ks, EVP_PKEY **out_key, STACK_OF(X509) **out_certs)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	char *pem = NULL;
	size_t len = 0;
	int r;

	r = keystore_get(ks, KS_ALIAS_ENROLLED, &pem, &len);
	if (r < 0)
		goto out;
	r = crypto_key_from_pem(pem, len, &key);
	if (r < 0)
		goto out;
	r = crypto_certs_from_pem(pem, len, &certs);
	if (r < 0)
		goto out;
	*out_key = key;
	*out_certs = certs;
	key = NULL;
	certs = NULL;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	wipe_free(pem, len);
	return r;
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

	if (!p->anchors) {
		steps |= STEP_BOOTSTRAP;
	} else if (!state_matches(p)) {
		log_info("server, label or ca_root changed since the last bootstrap: bootstrapping "
			 "again");
		steps |= STEP_BOOTSTRAP | STEP_ENROLL;
	}
	have_cert = load_enrolled(p->ks, &key, &certs) == 0;
	switch (action) {
	case ENROLL_ACTION_ENROLL:
		steps |= STEP_ENROLL;
		goto out;
	case ENROLL_ACTION_RENEW:
		steps |= steps & STEP_ENROLL ? 0 : STEP_RENEW;
		goto out;
	case ENROLL_ACTION_CACERTS:
		steps = steps ? steps & ~STEP_ENROLL : STEP_CACERTS;
		goto out;
	case ENROLL_ACTION_RUN:
		break;
	}
	if (!have_cert)
		steps |= STEP_ENROLL;
	else if (!(steps & STEP_ENROLL) && cfg->renew &&
		 cert_due(cfg, sk_X509_value(certs, 0), now))
		steps |= STEP_RENEW;
	if (!(steps & STEP_BOOTSTRAP) && cfg->ca_rollover &&
	    ((steps & STEP_RENEW) || anchors_due(p, now)))
		steps |= STEP_CACERTS;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return steps;
}

/* Reads the TLS client key pair for a first enrollment (tls_client_auth). */
static int load_client_auth(struct pass *p)
{
	const struct config *cfg = p->cfg;
	const struct keystore_conf *kc = config_keystore(cfg, cfg->tls_client_keystore);
	struct keystore *ks = NULL;
	int r;

	r = keystore_open(kc, &ks);
	if (r < 0) {
		log_err("keystore %s: %s", kc->name, strerror(-r));
		goto out;
	}
	r = keystore_get(ks, cfg->tls_client_alias, &p->client_pem, &p->client_len);
	if (r == -ENOKEY)
		log_err("tls_client_auth: no key pair '%s' in keystore %s", cfg->tls_client_alias,
			kc->name);
	else if (r < 0)
		log_err("tls_client_auth: %s: %s", cfg->tls_client_alias, strerror(-r));
out:
	keystore_free(ks);
	return r == -ENOKEY ? -ENOENT : r;
}

static int open_http(struct pass *p, bool bootstrap, bool tls12_only)
{
	const struct config *cfg = p->cfg;
	struct http_opts o = {
		.host = cfg->host,
		.port = cfg->port,
		.trust_pem = bootstrap ? p->ca_root_pem : p->anchors_pem,
		.trust_len = bootstrap ? p->ca_root_len : p->anchors_len,
		.client_pem = p->client_pem,
		.client_len = p->client_len,
		.auth = cfg->http_auth,
		.username = cfg->username,
		.password = cfg->password,
		.timeout = cfg->timeout,
		.deadline = p->deadline,
		.tls12_only = tls12_only,
	};

	return http_new(&o, &p->http);
}

static void close_http(struct pass *p)
{
	http_free(p->http);
	p->http = NULL;
	free(p->retired_pem);
	p->retired_pem = NULL;
	wipe_free(p->client_pem, p->client_len);
	p->client_pem = NULL;
	p->client_len = 0;
}

static int store_anchors(struct pass *p, STACK_OF(X509) *certs)
{
	int i, n = sk_X509_num(certs), r = 0;
	char **pems = xzalloc(sizeof(*pems) * (size_t)n);
	size_t *lens = xzalloc(sizeof(*lens) * (size_t)n);

	for (i = 0; i < n && r == 0; i++)
		r = crypto_cert_append_pem(sk_X509_value(certs, i), &pems[i], &lens[i]);
	if (r == 0)
		r = keystore_replace_set(p->ks, KS_ALIAS_CACERTS_PREFIX, (const char *const *)pems,
					 lens, (size_t)n);
	if (r < 0)
		log_err("storing CA certificates: %s", strerror(-r));
	for (i = 0; i < n; i++)
		free(pems[i]);
	free(pems);
	free(lens);
	return r;
}

static int step_bootstrap(struct pass *p)
{
	STACK_OF(X509) *certs = NULL;
	int r;

	r = est_cacerts(p->http, p->cfg->label, &certs, &p->retry_after);
	if (r < 0)
		goto out;
	r = store_anchors(p, certs);
	if (r == 0)
		r = load_anchors(p);
	if (r == 0)
		log_info("bootstrapped %d CA certificate(s) from %s", sk_X509_num(certs),
			 p->cfg->server);
out:
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/*
 * Records what was bootstrapped. Written only once the whole attempt succeeded, so a
 * re-bootstrap whose enrollment failed is done again by the next pass.
 */
static int write_state(struct pass *p)
{
	char *state = state_text(p);
	int r;

	r = keystore_put(p->ks, KS_ALIAS_STATE, state, strlen(state));
	if (r < 0)
		log_err("storing bootstrap state: %s", strerror(-r));
	free(state);
	return r;
}

/* The key to request a certificate for: the pending one if any (resume), else a new one stored
 * first. */
static int request_key(struct pass *p, bool fresh)
{
	const struct config *cfg = p->cfg;
	char *pem = NULL;
	size_t len = 0;
	int r;

	if (p->req_key)
		return 0;
	if (!fresh && keystore_get(p->ks, KS_ALIAS_REQUEST, &pem, &len) == 0) {
		r = crypto_key_from_pem(pem, len, &p->req_key);
		if (r == 0) {
			log_info("resuming the pending request with the stored key");
			goto out;
		}
		log_warn("stored " KS_ALIAS_REQUEST " is unusable: generating a new key");
		wipe_free(pem, len);
		pem = NULL;
	}
	r = crypto_keygen(cfg->key_algorithm, cfg->key_params, &p->req_key);
	if (r < 0)
		goto out;
	r = crypto_key_to_pem(p->req_key, &pem, &len);
	if (r < 0)
		goto out;
	/* Stored before the request is sent, so a 202 is resumed with the same key. */
	r = keystore_put(p->ks, KS_ALIAS_REQUEST, pem, len);
	if (r < 0)
		log_err("storing " KS_ALIAS_REQUEST ": %s", strerror(-r));
out:
	if (r < 0) {
		EVP_PKEY_free(p->req_key);
		p->req_key = NULL;
	}
	wipe_free(pem, len);
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
 * Checks the answer and stores key + issued certificate + chain as one bundle. The
 * certificates are gathered first, so the buffer holding the key is never reallocated
 * (a realloc would leave an unwiped copy of the key behind).
 */
static int store_issued(struct pass *p, EVP_PKEY *key, STACK_OF(X509) *certs, const char *what)
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
	if (r == 0)
		r = crypto_key_to_pem(key, &pem, &len);
	if (r == 0) {
		blen = len + clen;
		bundle = xmalloc(blen + 1);
		memcpy(bundle, pem, len);
		memcpy(bundle + len, chain, clen + 1);
		r = keystore_put(p->ks, KS_ALIAS_ENROLLED, bundle, blen);
		if (r < 0)
			log_err("storing " KS_ALIAS_ENROLLED ": %s", strerror(-r));
	}
	if (r == 0)
		log_issued(leaf, what);
	wipe_free(pem, len);
	wipe_free(bundle, blen);
	free(chain);
	return r;
}

/* The server's CSR attributes; *out_attrs NULL when it has none or does not offer them. */
static int fetch_csrattrs(struct pass *p, struct csrattrs **out_attrs)
{
	unsigned char *der = NULL;
	size_t len = 0;
	int r;

	*out_attrs = NULL;
	r = est_csrattrs(p->http, p->cfg->label, &der, &len, &p->retry_after);
	if (r == 0) {
		r = csrattrs_parse(der, len, out_attrs);
		if (r == 0)
			r = csrattrs_check_key(*out_attrs, p->cfg->key_algorithm,
					       p->cfg->key_params);
	} else if (r == -EPROTO || r == -EBADMSG) {
		/* /csrattrs is optional (RFC 7030 4.5): a server without it still enrolls. */
		log_debug("csrattrs: none offered");
		r = 0;
	} else if (r == -ENOENT) {
		r = 0;
	}
	free(der);
	return r;
}

/* key_source = server: a throwaway key signs the CSR, the server returns key and certificate. */
static int server_keygen(struct pass *p, const struct csrattrs *attrs)
{
	struct csr_input in = {.cfg = p->cfg, .http = p->http, .attrs = attrs};
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
		r = store_issued(p, key, certs, "enrolled with a server-generated key");
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
	int r;

	r = fetch_csrattrs(p, &attrs);
	if (r < 0)
		goto out;
	in.attrs = attrs;
	if (p->cfg->key_source == KEY_SOURCE_SERVER && !reenroll) {
		r = server_keygen(p, attrs);
		goto out;
	}
	if (reenroll && !p->cfg->renew_rekey) {
		in.key = current_key;
	} else {
		r = request_key(p, fresh);
		if (r < 0)
			goto out;
		in.key = p->req_key;
	}
	r = csr_make(&in, &csr, &csr_len);
	if (r < 0)
		goto out;
	r = est_enroll(p->http, p->cfg->label, reenroll, csr, csr_len, &certs, &p->retry_after);
	if (r < 0)
		goto out;
	r = store_issued(p, in.key, certs, reenroll ? "renewed" : "enrolled");
	if (r < 0)
		goto out;
	if (in.key == p->req_key) {
		r = keystore_remove(p->ks, KS_ALIAS_REQUEST);
		if (r < 0)
			log_warn("removing " KS_ALIAS_REQUEST ": %s", strerror(-r));
		r = 0;
	}
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
	if (r < 0)
		goto out;
	r = cacerts_verify_update(p->anchors, certs);
	if (r < 0) {
		log_err("cacerts: kept the stored CA certificates");
		goto out;
	}
	r = store_anchors(p, certs);
	if (r == 0)
		r = load_anchors(p);
	if (r == 0)
		log_info("refreshed %d CA certificate(s)", sk_X509_num(certs));
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

	r = load_enrolled(p->ks, cur_key, cur);
	if (r < 0 || cert_expired(sk_X509_value(*cur, 0))) {
		log_warn("%s: cannot authenticate a re-enrollment; enrolling with the configured "
			 "credentials",
			 r < 0 ? "no usable enrolled key pair" : "the certificate has expired");
		*steps = (*steps & ~STEP_RENEW) | STEP_ENROLL;
		return 0;
	}
	return keystore_get(p->ks, KS_ALIAS_ENROLLED, &p->client_pem, &p->client_len);
}

static int attempt(struct pass *p, unsigned int steps, bool fresh)
{
	const struct config *cfg = p->cfg;
	STACK_OF(X509) *cur = NULL;
	EVP_PKEY *cur_key = NULL;
	int r = 0;

	p->retry_after = 0;
	if (steps & STEP_RENEW)
		r = prepare_renew(p, &steps, &cur_key, &cur);
	if (r == 0 && (steps & STEP_ENROLL) && cfg->tls_client_auth)
		r = load_client_auth(p);
	if (r == 0)
		r = open_http(p, steps & STEP_BOOTSTRAP,
			      cfg->pop && cfg->pop_binding == POP_BINDING_TLS_UNIQUE);
	if (r == 0 && (steps & STEP_BOOTSTRAP))
		r = step_bootstrap(p);
	if (r == 0 && (steps & STEP_CACERTS))
		r = step_cacerts(p);
	if (r == 0 && (steps & STEP_ENROLL))
		r = step_enroll(p, NULL, NULL, fresh);
	else if (r == 0 && (steps & STEP_RENEW))
		/* A pending renewal (202) is resumed with its key unless forced. */
		r = step_enroll(p, sk_X509_value(cur, 0), cur_key, fresh);
	if (r == 0 && (steps & STEP_BOOTSTRAP))
		r = write_state(p);
	close_http(p);
	EVP_PKEY_free(cur_key);
	sk_X509_pop_free(cur, X509_free);
	return r;
}

static uint64_t retry_wait(const struct pass *p)
{
	uint64_t wait = p->cfg->retry_interval, jitter = 0;

	if (p->retry_after)
		return p->retry_after;
	/* Up to 10% jitter, so a fleet restarted together does not retry in step. */
	if (getrandom(&jitter, sizeof(jitter), 0) != sizeof(jitter))
		jitter = (uint64_t)getpid();
	return wait + (wait >= 10 ? jitter % (wait / 10 + 1) : 0);
}

static int run_steps(struct pass *p, enum enroll_action action)
{
	bool fresh = action == ENROLL_ACTION_ENROLL || action == ENROLL_ACTION_RENEW;
	char buf[32];
	int r;

	for (;;) {
		unsigned int steps = decide(p, action);
		uint64_t wait;

		if (!steps) {
			log_info("nothing due");
			return 0;
		}
		r = attempt(p, steps, fresh);
		if (!is_temporary(r))
			return r;
		if (p->once)
			return -EAGAIN;
		wait = retry_wait(p);
		if (p->deadline && time(NULL) + (time_t)wait >= p->deadline) {
			log_err("giving up: retry_timeout reached");
			return -EAGAIN;
		}
		log_info("retrying in %s", format_duration(wait, buf, sizeof(buf)));
		sleep((unsigned int)wait);
	}
}

static int pass_init(struct pass *p)
{
	const struct config *cfg = p->cfg;
	int r;

	r = keystore_open(config_keystore(cfg, cfg->keystore), &p->ks);
	if (r < 0) {
		log_err("keystore %s: %s", cfg->keystore, strerror(-r));
		return r;
	}
	r = read_file(cfg->ca_root, 1 << 20, &p->ca_root_pem, &p->ca_root_len);
	if (r < 0) {
		log_err("ca_root %s: %s", cfg->ca_root, strerror(-r));
		return r;
	}
	r = crypto_sha256_hex(p->ca_root_pem, p->ca_root_len, p->ca_root_fp);
	if (cfg->retry_timeout)
		p->deadline = time(NULL) + (time_t)cfg->retry_timeout;
	return r;
}

static void pass_clear(struct pass *p)
{
	close_http(p);
	pass_drop_anchors(p);
	EVP_PKEY_free(p->req_key);
	free(p->ca_root_pem);
	keystore_free(p->ks);
}

int enroll_pass(const struct config *cfg, enum enroll_action action, bool once)
{
	struct pass p = {.cfg = cfg, .once = once};
	int lock_fd = -1, r;

	if (!cfg->enabled && action == ENROLL_ACTION_RUN) {
		log_info("disabled (enabled = false): nothing to do");
		return 0;
	}
	r = pass_init(&p);
	if (r < 0)
		goto out;
	/* A timer or hook pass gives way at once; a command typed by hand waits its turn. */
	r = lock_store(p.ks, action != ENROLL_ACTION_RUN, &lock_fd);
	if (r == -EBUSY) {
		log_info("another pass holds the lock on keystore %s: try later",
			 keystore_name(p.ks));
		goto out;
	}
	if (r == 0)
		r = load_anchors(&p);
	if (r == 0)
		r = run_steps(&p, action);
out:
	if (lock_fd >= 0)
		close(lock_fd);
	pass_clear(&p);
	return r;
}
