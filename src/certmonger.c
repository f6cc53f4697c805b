/* SPDX-License-Identifier: MIT */
/*
 * certmonger's CA helper protocol (certmonger's doc/submit.txt and doc/helpers.txt): certmonger
 * owns the key, makes the CSR and stores the certificate; this file only carries the CSR to
 * /simpleenroll and the answer back, over the configuration's server, label, trust and
 * authentication. The keystore is only read, for the trust anchors (and a TLS client pair with
 * tls_client_auth): KEYSTORE_READ takes no lock and creates nothing.
 *
 * What certmonger is told (est-enroll(8), CERTMONGER, says the same for users):
 *   0  issued: the certificate for the CSR's key in PEM, then the rest of the answer's chain.
 *   5  wait: "DELAY\nCOOKIE\n", for a 202 (and a 5xx with Retry-After): DELAY is the server's
 *      Retry-After, else retry_interval. The cookie is the CSR itself, its DER in base64 on one
 *      line: RFC 7030 4.2.3 polls a 202 by sending the same CSR again, so POLL needs nothing
 *      else, no state kept here. POLL sends certmonger's current CSR (CERTMONGER_CSR, which it
 *      passes to POLL too), the cookie's only when that is absent: a request certmonger made
 *      anew must never get a certificate for the key of an older one.
 *   2  rejected: a 4xx but 401 (403 too: the server knows who asks and refuses), with the
 *      server's words.
 *   3  unreachable, certmonger retries: network, TLS timeouts, 5xx, an unusable answer.
 *   4  under-configured, certmonger waits for `getcert resubmit`: the configuration file, a
 *      missing CSR, 401 (the configured credentials), a server certificate that does not verify
 *      against the anchors, a TLS handshake the server refuses for good.
 *   6  any other operation. Without CERTMONGER_OPERATION: SUBMIT, or POLL when a cookie is set
 *      (helpers.txt's advice, for running it by hand).
 *   IDENTIFY prints "est-enroll VERSION (server SERVER[, label LABEL])"; FETCH-ROOTS prints
 *   /cacerts in certmonger's JSON form (see fetch_roots()).
 * The first line on stdout is what `getcert list` shows as ca-error; the log goes to stderr.
 * The steps below return 0 to go on, or the status that ends the operation once they have
 * printed its line (answer()): certmonger's statuses are this command's exit codes, so they are
 * decided here rather than in main.c. PoP (pop = true) cannot be done: certmonger signs the CSR.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base64.h"
#include "cacerts.h"
#include "certmonger.h"
#include "config.h"
#include "crypto.h"
#include "est.h"
#include "http.h"
#include "keystore.h"
#include "log.h"
#include "pem.h"
#include "sha256.h"
#include "util.h"

enum cm_status {
	CM_ISSUED = 0,
	CM_WAIT = 1, /* a cookie but no delay: not used, a 202 always has one */
	CM_REJECTED = 2,
	CM_UNREACHABLE = 3,
	CM_UNCONFIGURED = 4,
	CM_WAIT_WITH_DELAY = 5,
	CM_UNSUPPORTED = 6,
};

enum cm_op {
	CM_OP_SUBMIT,
	CM_OP_POLL,
	CM_OP_IDENTIFY,
	CM_OP_FETCH_ROOTS,
	CM_OP_OTHER,
};

struct helper {
	struct config *cfg;
	char *anchors_pem; /* the stored CA certificates, NULL before a bootstrap */
	size_t anchors_len;
	char *client_pem; /* tls_client_auth's pair (secret) */
	size_t client_len;
	struct http *http;
	long status;	      /* HTTP status of the last answer, 0 when none came */
	char *says;	      /* the server's words with it */
	uint64_t retry_after; /* its Retry-After, 0 when none */
};

/* Tells certmonger: one line on stdout, and the exit status it goes with. */
static int answer(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int answer(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return status;
}

static enum cm_op op_kind(const char *op)
{
	if (!op || !*op) {
		const char *cookie = getenv("CERTMONGER_CA_COOKIE");

		return cookie && *cookie ? CM_OP_POLL : CM_OP_SUBMIT;
	}
	if (!strcmp(op, "SUBMIT"))
		return CM_OP_SUBMIT;
	if (!strcmp(op, "POLL"))
		return CM_OP_POLL;
	if (!strcmp(op, "IDENTIFY"))
		return CM_OP_IDENTIFY;
	if (!strcmp(op, "FETCH-ROOTS"))
		return CM_OP_FETCH_ROOTS;
	return CM_OP_OTHER;
}

static int append(int index, const char *data, size_t len, void *ctx)
{
	struct helper *hp = ctx;

	(void)index;
	hp->anchors_pem = xrealloc(hp->anchors_pem, hp->anchors_len + len + 1);
	memcpy(hp->anchors_pem + hp->anchors_len, data, len);
	hp->anchors_len += len;
	hp->anchors_pem[hp->anchors_len] = '\0';
	return 0;
}

/* True when the store's bootstrap record (est-state) is of this server, label and ca_root: then
 * a pass trusts the stored CA certificates, and so does the helper. */
static bool record_matches(const struct config *cfg, const char *state)
{
	char fp[65], *v;
	bool same;

	if (!kv_is(state, "server", cfg->server) || !kv_is(state, "label", cfg->label))
		return false;
	v = kv_value(state, "ca_root_certs_sha256");
	if (v) {
		same = !strcmp(v, cfg->ca_root_der_fp);
	} else {
		sha256_hex(cfg->ca_root_pem, cfg->ca_root_len, fp);
		same = kv_is(state, "ca_root_sha256", fp);
	}
	free(v);
	return same;
}

/* The trust anchors a pass would use now: the stored CA certificates after a bootstrap with
 * this server, label and ca_root, else none (ca_root alone). Reads the store, never writes it. */
static void read_anchors(struct helper *hp)
{
	const struct config *cfg = hp->cfg;
	const struct keystore_conf *kc = config_keystore(cfg, cfg->keystore);
	struct keystore *ks = NULL;
	char *state = NULL;
	size_t len = 0;
	int r;

	r = keystore_open(kc, KEYSTORE_READ, &ks);
	if (r == 0 && keystore_get(ks, KS_ALIAS_STATE, &state, &len) == 0 &&
	    record_matches(cfg, state))
		r = keystore_each_in_set(ks, KS_ALIAS_CACERTS_PREFIX, append, hp);
	if (r < 0) {
		log_warn("keystore %s: %s: the server is authenticated by ca_root alone", kc->name,
			 strerror(-r));
		free(hp->anchors_pem);
		hp->anchors_pem = NULL;
		hp->anchors_len = 0;
	}
	free(state);
	keystore_free(ks);
}

/* tls_client_auth: the key pair presented to the server, read from its keystore. */
static int read_client_pair(struct helper *hp)
{
	const struct config *cfg = hp->cfg;
	const struct keystore_conf *kc = config_keystore(cfg, cfg->tls_client_keystore);
	struct keystore *ks = NULL;
	int r;

	if (!cfg->tls_client_auth)
		return 0;
	r = keystore_open(kc, KEYSTORE_READ, &ks);
	if (r == 0)
		r = keystore_get(ks, cfg->tls_client_alias, &hp->client_pem, &hp->client_len);
	keystore_free(ks);
	if (r < 0)
		return answer(CM_UNCONFIGURED,
			      "tls_client_auth: no key pair '%s' in keystore %s (%s)",
			      cfg->tls_client_alias, kc->name, strerror(-r));
	return 0;
}

static int open_http(struct helper *hp)
{
	const struct config *cfg = hp->cfg;
	bool stored = hp->anchors_pem != NULL;
	bool also_root = stored && cfg->server_trust == SERVER_TRUST_CACERTS_CA_ROOT;
	struct http_opts o = {
		.host = cfg->host,
		.port = cfg->port,
		.trust_pem = stored ? hp->anchors_pem : cfg->ca_root_pem,
		.trust_len = stored ? hp->anchors_len : cfg->ca_root_len,
		.extra_trust_pem = also_root ? cfg->ca_root_pem : NULL,
		.extra_trust_len = also_root ? cfg->ca_root_len : 0,
		.trust_name = !stored	  ? "ca_root"
			      : also_root ? "stored CA certificates and ca_root"
					  : "stored CA certificates",
		.proxy = cfg->proxy,
		.client_pem = hp->client_pem,
		.client_len = hp->client_len,
		.auth = cfg->http_auth,
		.username = cfg->username,
		.password = cfg->password,
		.timeout = cfg->timeout,
	};

	return http_new(&o, &hp->http);
}

/* The configuration, with the password and ca_root, then the trust and the connection. */
static int prepare(struct helper *hp, const char *config_path, bool connect)
{
	int r;

	r = config_load(config_path, &hp->cfg);
	if (r == 0 && connect)
		r = config_load_secrets(hp->cfg);
	if (r < 0)
		return answer(CM_UNCONFIGURED, "est-enroll: configuration %s is not usable (%s)",
			      config_path, r == -EINVAL ? "see the log" : strerror(-r));
	if (!connect)
		return 0;
	read_anchors(hp);
	r = read_client_pair(hp);
	if (r == 0 && open_http(hp) < 0)
		r = answer(CM_UNCONFIGURED, "est-enroll: cannot set up the connection to %s",
			   hp->cfg->server);
	return r;
}

/* What certmonger is told of a failed exchange r (est.h's convention). */
static int failed(const struct helper *hp, int r)
{
	const char *server = hp->cfg->server, *says = hp->says ? hp->says : "";
	const char *sep = *says ? ": " : "";

	switch (r) {
	case -EAGAIN:
		if (!hp->status) /* /cacerts: est_cacerts keeps the status to itself */
			return answer(CM_UNREACHABLE, "%s asks to try later (see the log)", server);
		return answer(CM_UNREACHABLE, "%s answered HTTP %ld%s%s, try later", server,
			      hp->status, sep, says);
	case -EKEYREJECTED:
		if (hp->status == 403)
			return answer(CM_REJECTED, "%s refused the request (HTTP 403)%s%s", server,
				      sep, says);
		return answer(CM_UNCONFIGURED,
			      "%s refused authentication (HTTP %ld)%s%s: check http_auth, username "
			      "and password in %s",
			      server, hp->status, sep, says, hp->cfg->file);
	case -EPROTO:
		if (hp->status >= 400)
			return answer(CM_REJECTED, "%s refused the request (HTTP %ld)%s%s", server,
				      hp->status, sep, says);
		break;
	case -EPERM:
	case -ECONNABORTED:
		return answer(CM_UNCONFIGURED, "%s: %s", server,
			      hp->http ? http_last_error(hp->http) : strerror(-r));
	case -EBADMSG:
	case -EFBIG:
		return answer(CM_UNREACHABLE, "%s: the answer is unusable (see the log)", server);
	default:
		break;
	}
	if (hp->http && *http_last_error(hp->http))
		return answer(CM_UNREACHABLE, "cannot reach %s: %s", server,
			      http_last_error(hp->http));
	return answer(CM_UNREACHABLE, "%s: %s (see the log)", server, strerror(-r));
}

/* The DER of the CSR in pem ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST"). */
static int csr_from_pem(const char *pem, unsigned char **out_der, size_t *out_len)
{
	struct pem_reader rd;
	struct pem_block b = {0};
	int r;

	pem_reader_init(&rd, pem, strlen(pem));
	while ((r = pem_next(&rd, &b)) == 1) {
		if (!strcmp(b.name, "CERTIFICATE REQUEST") ||
		    !strcmp(b.name, "NEW CERTIFICATE REQUEST")) {
			*out_der = b.data;
			*out_len = b.len;
			b.data = NULL;
			pem_block_clear(&b);
			return 0;
		}
	}
	pem_block_clear(&b);
	return r < 0 ? r : -ENOENT;
}

/* The CSR to send: certmonger's (CERTMONGER_CSR), else for POLL the cookie's. */
static int read_csr(enum cm_op op, unsigned char **out_der, size_t *out_len, X509_REQ **out_req)
{
	const char *pem = getenv("CERTMONGER_CSR"), *cookie = getenv("CERTMONGER_CA_COOKIE");
	const char *from = "CERTMONGER_CSR";
	const unsigned char *p;
	int r = -ENOENT;

	if (pem && *pem) {
		r = csr_from_pem(pem, out_der, out_len);
	} else if (op == CM_OP_POLL && cookie && *cookie) {
		from = "the cookie";
		r = base64_decode(cookie, strlen(cookie), out_der, out_len);
	} else {
		return answer(CM_UNCONFIGURED, "no CSR to send: CERTMONGER_CSR is not set");
	}
	if (r == 0) {
		p = *out_der;
		*out_req = d2i_X509_REQ(NULL, &p, (long)*out_len);
		if (!*out_req || p != *out_der + *out_len) {
			crypto_log_errors("CSR");
			X509_REQ_free(*out_req);
			*out_req = NULL;
			free(*out_der);
			*out_der = NULL;
			r = -EBADMSG;
		}
	}
	if (r < 0)
		return answer(CM_UNCONFIGURED, "no CSR to send: %s holds no PKCS#10 request", from);
	return 0;
}

static int print_cert(X509 *c)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	r = crypto_cert_append_pem(c, &pem, &len);
	if (r == 0 && fwrite(pem, 1, len, stdout) != len)
		r = -EIO;
	free(pem);
	return r;
}

/* The certificate for the CSR's key first (certmonger takes the first), then the chain. */
static int issued(const struct helper *hp, X509_REQ *req, STACK_OF(X509) *certs)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey(req);
	X509 *leaf = NULL;
	int i, r = 0;

	for (i = 0; i < sk_X509_num(certs) && !leaf; i++)
		if (key && crypto_cert_matches_key(sk_X509_value(certs, i), key))
			leaf = sk_X509_value(certs, i);
	if (!leaf) {
		log_err("simpleenroll: no certificate in the answer is for the CSR's key");
		/* Asking again would have the CA issue another certificate each time. */
		return answer(CM_REJECTED, "%s: the answer holds no certificate for the key",
			      hp->cfg->server);
	}
	r = print_cert(leaf);
	for (i = 0; i < sk_X509_num(certs) && r == 0; i++)
		if (sk_X509_value(certs, i) != leaf)
			r = print_cert(sk_X509_value(certs, i));
	if (r == 0 && fflush(stdout) != 0)
		r = -EIO;
	if (r < 0)
		log_err("certmonger-helper: writing the certificate: %s", strerror(-r));
	return r < 0 ? CM_UNREACHABLE : CM_ISSUED;
}

/* A 202 (or a 5xx that says when): the delay, and the CSR as the cookie for POLL. */
static int pending(const struct helper *hp, const unsigned char *der, size_t len)
{
	uint64_t delay = hp->retry_after ? hp->retry_after : hp->cfg->retry_interval;
	char *cookie = base64_encode(der, len), *in, *out;

	for (in = out = cookie; *in; in++)
		if (*in != '\n')
			*out++ = *in;
	*out = '\0';
	log_info("%s answered HTTP %ld: certmonger asks again in %llus", hp->cfg->server,
		 hp->status, (unsigned long long)delay);
	printf("%llu\n%s\n", (unsigned long long)delay, cookie);
	free(cookie);
	return CM_WAIT_WITH_DELAY;
}

static int submit(struct helper *hp, enum cm_op op)
{
	STACK_OF(X509) *certs = NULL;
	X509_REQ *req = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int r, st;

	st = read_csr(op, &der, &len, &req);
	if (st != 0)
		return st;
	log_info("certmonger-helper: %s: sending the CSR to %s",
		 op == CM_OP_POLL ? "POLL" : "SUBMIT", hp->cfg->server);
	r = est_enroll_answer(hp->http, hp->cfg->label, false, der, len, &certs, &hp->retry_after,
			      &hp->status, &hp->says);
	if (r == 0)
		st = issued(hp, req, certs);
	else if (r == -EAGAIN && (hp->status == 202 || hp->retry_after))
		st = pending(hp, der, len);
	else
		st = failed(hp, r);
	sk_X509_pop_free(certs, X509_free);
	X509_REQ_free(req);
	free(der);
	return st;
}

/* s as a JSON string (RFC 8259 7): quotes, backslashes and control characters escaped. */
static void print_json_string(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* {"nickname": SUBJECT, "certificate": PEM}: the subject as OpenSSL prints it (RFC 2253, bytes
 * beyond ASCII escaped), the nickname certmonger suggests for an NSS database. */
static int print_nickcert(X509 *c)
{
	char *subject = crypto_cert_subject(c), *pem = NULL;
	size_t len = 0;
	int r;

	r = crypto_cert_append_pem(c, &pem, &len);
	if (r == 0) {
		fputs("{\"nickname\": ", stdout);
		print_json_string(subject && *subject ? subject : "EST CA");
		fputs(", \"certificate\": ", stdout);
		print_json_string(pem);
		putchar('}');
	}
	free(pem);
	OPENSSL_free(subject);
	return r;
}

static bool self_signed(X509 *c)
{
	return X509_check_issued(c, c) == X509_V_OK;
}

/* The JSON array of certs: only root (root set), or the self-signed ones but root, or the rest. */
static int print_list(STACK_OF(X509) *certs, X509 *root, int which)
{
	bool first = true;
	X509 *c;
	int i, r = 0;

	putchar('[');
	for (i = 0; i < sk_X509_num(certs) && r == 0; i++) {
		c = sk_X509_value(certs, i);
		if (which == 0 ? c != root : c == root || self_signed(c) != (which == 1))
			continue;
		if (!first)
			fputs(", ", stdout);
		first = false;
		r = print_nickcert(c);
	}
	putchar(']');
	return r;
}

/*
 * /cacerts as certmonger's JSON object (cadata.c): "roots" [the root], "other-roots" [other
 * self-signed CA certificates], "other" [the chain below the root], each {"nickname",
 * "certificate"}. Not helpers.txt's text form: certmonger reads that with each blank line run
 * ending a list, so an empty "other roots" list cannot be written, and the intermediates of an
 * answer without other roots would be filed as trusted roots. The root is the first self-signed
 * certificate of the answer (after a root key update, NewWithNew: RFC 7030 4.1.3), else the
 * first certificate.
 */
/* The answer against the stored anchors, as a pass's CA refresh checks it. 0 or -EBADMSG. */
static int vet_update(struct helper *hp, STACK_OF(X509) *certs)
{
	STACK_OF(X509) *anchors = NULL;
	int r = crypto_certs_from_pem(hp->anchors_pem, hp->anchors_len, &anchors);

	if (r == 0 && cacerts_verify_update(anchors, certs) < 0)
		r = -EBADMSG;
	sk_X509_pop_free(anchors, X509_free);
	return r < 0 ? -EBADMSG : 0;
}

static int fetch_roots(struct helper *hp)
{
	static const char *const keys[] = {"roots", "other-roots", "other"};
	STACK_OF(X509) *certs = NULL;
	X509 *root = NULL;
	int i, r;

	r = est_cacerts(hp->http, hp->cfg->label, &certs, &hp->retry_after);
	if (r == 0)
		r = cacerts_keep_cas(certs);
	/* After a bootstrap, only a set a pass would take: a new root vouched for by a stored
	 * anchor (RFC 7030 4.1.3), nothing expired. certmonger trusts what it gets here. */
	if (r == 0 && hp->anchors_pem && vet_update(hp, certs) < 0) {
		sk_X509_pop_free(certs, X509_free);
		return answer(
			CM_UNREACHABLE,
			"%s: CA certificates a pass would not take (a new root no stored anchor "
			"vouches for, or an expired one; see the log)",
			hp->cfg->server);
	}
	if (r < 0) {
		sk_X509_pop_free(certs, X509_free);
		return failed(hp, r);
	}
	for (i = 0; i < sk_X509_num(certs) && !root; i++)
		if (self_signed(sk_X509_value(certs, i)))
			root = sk_X509_value(certs, i);
	if (!root)
		root = sk_X509_value(certs, 0);
	putchar('{');
	for (i = 0; i < 3 && r == 0; i++) {
		printf("%s\"%s\": ", i ? ", " : "", keys[i]);
		r = print_list(certs, root, i);
	}
	puts("}");
	if (r == 0 && fflush(stdout) != 0)
		r = -EIO;
	sk_X509_pop_free(certs, X509_free);
	return r < 0 ? CM_UNREACHABLE : CM_ISSUED;
}

static void helper_clear(struct helper *hp)
{
	http_free(hp->http);
	wipe_free(hp->client_pem, hp->client_len);
	free(hp->anchors_pem);
	free(hp->says);
	config_free(hp->cfg);
}

int certmonger_helper(const char *config_path)
{
	const char *name = getenv("CERTMONGER_OPERATION");
	enum cm_op op = op_kind(name);
	struct helper hp = {0};
	int st = CM_UNSUPPORTED;

	if (op == CM_OP_OTHER) {
		log_debug("certmonger-helper: operation %s is not supported", name);
		return CM_UNSUPPORTED;
	}
	st = prepare(&hp, config_path, op != CM_OP_IDENTIFY);
	if (st == 0) {
		switch (op) {
		case CM_OP_SUBMIT:
		case CM_OP_POLL:
			st = submit(&hp, op);
			break;
		case CM_OP_IDENTIFY:
			st = answer(CM_ISSUED, "est-enroll %s (server %s%s%s)", PACKAGE_VERSION,
				    hp.cfg->server, hp.cfg->label ? ", label " : "",
				    hp.cfg->label ? hp.cfg->label : "");
			break;
		case CM_OP_FETCH_ROOTS:
			st = fetch_roots(&hp);
			break;
		case CM_OP_OTHER:
			break;
		}
	}
	if (fflush(stdout) != 0 && st == CM_ISSUED)
		st = CM_UNREACHABLE;
	helper_clear(&hp);
	return st;
}
