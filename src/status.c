/* SPDX-License-Identifier: MIT */
/* `status`: what is stored, for whom, until when, and when the next action is due. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "crypto.h"
#include "enroll.h"
#include "keystore.h"
#include "log.h"
#include "status.h"
#include "util.h"

struct cert_info {
	char *subject;
	char *issuer;
	char *serial;
	char fingerprint[65];
	time_t not_before;
	time_t not_after;
};

struct report {
	struct cert_info *cas;
	int n_cas;
	struct cert_info cert;
	bool have_cert;
	bool pending;
	char *state;	 /* est-state text, NULL if never bootstrapped */
	char *disagree;	 /* aliases keyring and file copy differ in; NULL for a file store */
	time_t next_due; /* 0 = nothing scheduled */
	const char *next_action;
};

static void cert_info_fill(X509 *c, struct cert_info *ci)
{
	ci->subject = crypto_cert_subject(c);
	ci->issuer = crypto_cert_issuer(c);
	ci->serial = crypto_cert_serial(c);
	if (crypto_cert_fingerprint(c, ci->fingerprint) < 0)
		ci->fingerprint[0] = '\0';
	if (crypto_cert_validity(c, &ci->not_before, &ci->not_after) < 0)
		ci->not_before = ci->not_after = 0;
}

static void cert_info_clear(struct cert_info *ci)
{
	OPENSSL_free(ci->subject);
	OPENSSL_free(ci->issuer);
	OPENSSL_free(ci->serial);
}

/* First certificate of alias, or NULL. */
static X509 *first_cert(struct keystore *ks, const char *alias)
{
	STACK_OF(X509) *certs = NULL;
	char *pem = NULL;
	size_t len = 0;
	X509 *c = NULL;

	if (keystore_get(ks, alias, &pem, &len) < 0)
		return NULL;
	if (crypto_certs_from_pem(pem, len, &certs) == 0)
		c = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	wipe_free(pem, len);
	return c;
}

static void gather(const struct config *cfg, struct keystore *ks, struct report *rep)
{
	char *alias, *data = NULL;
	size_t len = 0;
	X509 *c;

	for (;;) {
		alias = xasprintf(KS_ALIAS_CACERTS_PREFIX "%d", rep->n_cas);
		c = first_cert(ks, alias);
		free(alias);
		if (!c)
			break;
		rep->cas = xrealloc(rep->cas, sizeof(*rep->cas) * (size_t)(rep->n_cas + 1));
		memset(&rep->cas[rep->n_cas], 0, sizeof(*rep->cas));
		cert_info_fill(c, &rep->cas[rep->n_cas++]);
		X509_free(c);
	}
	c = first_cert(ks, KS_ALIAS_ENROLLED);
	if (c) {
		cert_info_fill(c, &rep->cert);
		rep->have_cert = true;
		X509_free(c);
	}
	if (keystore_get(ks, KS_ALIAS_REQUEST, &data, &len) == 0) {
		rep->pending = true;
		wipe_free(data, len);
	}
	if (keystore_get(ks, KS_ALIAS_STATE, &data, &len) == 0)
		rep->state = data;
	rep->disagree = keystore_disagreement(ks);
}

static void plan(const struct config *cfg, struct report *rep)
{
	int i;

	if (!rep->n_cas) {
		rep->next_action = "bootstrap";
		rep->next_due = time(NULL);
		return;
	}
	if (!rep->have_cert) {
		rep->next_action = rep->pending ? "resume pending enrollment" : "enroll";
		rep->next_due = time(NULL);
		return;
	}
	if (cfg->renew) {
		rep->next_action = "renew";
		rep->next_due = enroll_due_time(cfg, rep->cert.not_before, rep->cert.not_after);
	}
	for (i = 0; cfg->ca_rollover && i < rep->n_cas; i++) {
		time_t due = enroll_due_time(cfg, rep->cas[i].not_before, rep->cas[i].not_after);

		if (!rep->next_action || due < rep->next_due) {
			rep->next_action = "refresh CA certificates";
			rep->next_due = due;
		}
	}
}

static const char *iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	return buf;
}

/* The value of KEY= in the state text, or "". */
static const char *state_value(const char *state, const char *key, char *buf, size_t len)
{
	const char *p = state;
	size_t klen = strlen(key);

	buf[0] = '\0';
	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, "\n");

			snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), p + klen + 1);
			break;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return buf;
}

static void print_text(const struct config *cfg, struct keystore *ks, const struct report *rep,
		       FILE *f)
{
	char t1[32], t2[32], v[256];
	int i;

	fprintf(f, "keystore:        %s (%s)\n", keystore_name(ks), keystore_location(ks));
	if (keystore_fell_back(ks))
		fprintf(f, "fallback:        the keyring holds none of the store: the file copy "
			   "alone is in use\n");
	if (rep->disagree && *rep->disagree)
		fprintf(f,
			"warning:         keyring and file copy disagree (%s): `est-enroll load` "
			"restores the keyring from the file copy\n",
			rep->disagree);
	fprintf(f, "server:          %s%s%s\n", cfg->server, cfg->label ? " label " : "",
		cfg->label ? cfg->label : "");
	if (rep->state) {
		time_t bt = (time_t)strtoll(state_value(rep->state, "bootstrapped", v, sizeof(v)),
					    NULL, 10);

		fprintf(f, "bootstrapped:    %s from %s\n", iso_time(bt, t1, sizeof(t1)),
			state_value(rep->state, "server", v, sizeof(v)));
	} else {
		fprintf(f, "bootstrapped:    no\n");
	}
	fprintf(f, "CA certificates: %d\n", rep->n_cas);
	for (i = 0; i < rep->n_cas; i++)
		fprintf(f, "  " KS_ALIAS_CACERTS_PREFIX "%d: %s (until %s)\n", i,
			rep->cas[i].subject, iso_time(rep->cas[i].not_after, t1, sizeof(t1)));
	if (rep->have_cert) {
		fprintf(f, "certificate:     %s\n", rep->cert.subject);
		fprintf(f, "  issuer:        %s\n", rep->cert.issuer);
		fprintf(f, "  serial:        %s\n", rep->cert.serial);
		fprintf(f, "  valid:         %s to %s\n",
			iso_time(rep->cert.not_before, t1, sizeof(t1)),
			iso_time(rep->cert.not_after, t2, sizeof(t2)));
		fprintf(f, "  sha256:        %s\n", rep->cert.fingerprint);
	} else {
		fprintf(f, "certificate:     none\n");
	}
	fprintf(f, "pending request: %s\n", rep->pending ? "yes" : "no");
	if (rep->next_action)
		fprintf(f, "next action:     %s at %s\n", rep->next_action,
			iso_time(rep->next_due, t1, sizeof(t1)));
	else
		fprintf(f, "next action:     none (renew = false, ca_rollover = false)\n");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_cert(FILE *f, const struct cert_info *ci)
{
	char t[32];

	fprintf(f, "{\"subject\": ");
	json_str(f, ci->subject);
	fprintf(f, ", \"issuer\": ");
	json_str(f, ci->issuer);
	fprintf(f, ", \"serial\": ");
	json_str(f, ci->serial);
	fprintf(f, ", \"sha256\": \"%s\", \"not_before\": \"%s\"", ci->fingerprint,
		iso_time(ci->not_before, t, sizeof(t)));
	fprintf(f, ", \"not_after\": \"%s\"}", iso_time(ci->not_after, t, sizeof(t)));
}

/* A comma-separated list as JSON strings. */
static void print_json_list(FILE *f, const char *list)
{
	char *copy = xstrdup(list ? list : ""), *p, *save = NULL;
	bool first = true;

	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		fprintf(f, "%s", first ? "" : ", ");
		json_str(f, p);
		first = false;
	}
	free(copy);
}

static void print_json(const struct config *cfg, struct keystore *ks, const struct report *rep,
		       FILE *f)
{
	char t[32], v[256];
	int i;

	fprintf(f, "{\"keystore\": ");
	json_str(f, keystore_name(ks));
	fprintf(f, ", \"backend\": \"%s\", \"location\": ", keystore_backend(ks));
	json_str(f, keystore_location(ks));
	fprintf(f, ", \"fell_back\": %s, \"consistent\": %s, \"disagree\": [",
		keystore_fell_back(ks) ? "true" : "false",
		rep->disagree && *rep->disagree ? "false" : "true");
	print_json_list(f, rep->disagree);
	fprintf(f, "], \"server\": ");
	json_str(f, cfg->server);
	fprintf(f, ", \"label\": ");
	json_str(f, cfg->label);
	fprintf(f, ", \"bootstrapped_from\": ");
	if (rep->state)
		json_str(f, state_value(rep->state, "server", v, sizeof(v)));
	else
		fprintf(f, "null");
	fprintf(f, ", \"cacerts\": [");
	for (i = 0; i < rep->n_cas; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_cert(f, &rep->cas[i]);
	}
	fprintf(f, "], \"certificate\": ");
	if (rep->have_cert)
		json_cert(f, &rep->cert);
	else
		fprintf(f, "null");
	fprintf(f, ", \"pending_request\": %s, \"next_action\": ", rep->pending ? "true" : "false");
	if (rep->next_action) {
		json_str(f, rep->next_action);
		fprintf(f, ", \"next_due\": \"%s\"}\n", iso_time(rep->next_due, t, sizeof(t)));
	} else {
		fprintf(f, "null, \"next_due\": null}\n");
	}
}

int status_print(const struct config *cfg, bool json, FILE *out)
{
	struct report rep = {0};
	struct keystore *ks = NULL;
	int i, r;

	/* Reading only: no lock, nothing created, an unfinished commit read as committed. */
	r = keystore_open(config_keystore(cfg, cfg->keystore), KEYSTORE_READ, &ks);
	if (r < 0) {
		log_err("keystore %s: %s", cfg->keystore, strerror(-r));
		return r;
	}
	gather(cfg, ks, &rep);
	plan(cfg, &rep);
	if (json)
		print_json(cfg, ks, &rep, out);
	else
		print_text(cfg, ks, &rep, out);
	for (i = 0; i < rep.n_cas; i++)
		cert_info_clear(&rep.cas[i]);
	free(rep.cas);
	cert_info_clear(&rep.cert);
	free(rep.state);
	free(rep.disagree);
	keystore_free(ks);
	return fflush(out) == 0 ? 0 : -EIO;
}
