/* SPDX-License-Identifier: MIT */
/* The metrics file: what the store holds and how the passes went, as Prometheus gauges. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "certinfo.h"
#include "crypto.h"
#include "enroll.h"
#include "keystore.h"
#include "log.h"
#include "metrics.h"
#include "pass.h"
#include "util.h"

/*
 * The file belongs to one configuration and holds the series of its keystore, label
 * keystore="NAME" on each. Every write replaces it whole (a tmp file in the same directory,
 * fsync, rename: the collector reads the old file or the new one, never half of one), mode 0644
 * for a collector running as another user. What the store holds (certificate dates, a pending
 * request) is read again each time from its committed items, through certinfo.c rather than
 * OpenSSL's decoders, so an idle pass stays cheap. What the passes said is carried from the
 * previous file: the last success and the failures since are parsed back from the lines this
 * module wrote for the same keystore; a file that is missing or does not hold them makes them
 * unknown, and an unknown value is left out, never guessed. A run that found the store's lock
 * held writes nothing (main.c): the pass holding it writes when it ends.
 */

#define METRICS_MODE 0644
/* Far more than the few lines written here: anything larger is not ours to parse. */
#define METRICS_MAX_SIZE (256 * 1024)

enum family {
	FAM_EXPIRATION,
	FAM_RENEWAL,
	FAM_CA_EXPIRATION,
	FAM_LAST_PASS,
	FAM_EXIT_CODE,
	FAM_LAST_SUCCESS,
	FAM_FAILURES,
	FAM_PENDING,
	FAM_N,
};

static const struct {
	const char *name;
	const char *help;
} families[FAM_N] = {
	[FAM_EXPIRATION] = {"est_enroll_certificate_expiration_timestamp_seconds",
			    "notAfter of the enrolled certificate (est-enrolled-key-pair)."},
	[FAM_RENEWAL] = {"est_enroll_certificate_renewal_timestamp_seconds",
			 "When a pass renews the enrolled certificate (expiration_check)."},
	[FAM_CA_EXPIRATION] = {"est_enroll_ca_certificate_expiration_timestamp_seconds",
			       "notAfter of each stored CA certificate (est-cacerts_N)."},
	[FAM_LAST_PASS] = {"est_enroll_last_pass_timestamp_seconds",
			   "When the last pass (run, enroll, renew, cacerts) ended."},
	[FAM_EXIT_CODE] = {"est_enroll_last_pass_exit_code",
			   "Exit code of the last pass: 0 done, 1 failed, 2 configuration, 75 "
			   "temporary failure, 77 authentication refused."},
	[FAM_LAST_SUCCESS] = {"est_enroll_last_success_timestamp_seconds",
			      "When the last pass that exited 0 ended."},
	[FAM_FAILURES] = {"est_enroll_consecutive_failures",
			  "Passes that exited non-zero since the last one that exited 0."},
	[FAM_PENDING] = {"est_enroll_pending_request",
			 "1 while the server holds a request of this keystore (it answered 202)."},
};

/* A gauge's value; unknown ones are left out of the file. */
struct value {
	bool set;
	long long v;
};

struct metrics {
	const char *keystore;
	struct value v[FAM_N]; /* FAM_CA_EXPIRATION: in cas */
	struct value *cas;     /* est-cacerts_0, _1, ... */
	size_t n_cas;
};

static void set(struct value *val, long long v)
{
	val->set = true;
	val->v = v;
}

/* Validity of the first certificate of a PEM item; OpenSSL only for what certinfo.c cannot read
 * (a BER time, say). 0 or -errno. */
static int cert_validity(const char *pem, size_t len, time_t *out_nb, time_t *out_na)
{
	STACK_OF(X509) *certs = NULL;
	int r = certinfo_first_pem(pem, len, out_nb, out_na);

	if (r != -EBADMSG)
		return r;
	r = crypto_certs_from_pem(pem, len, &certs);
	if (r == 0)
		r = crypto_cert_validity(sk_X509_value(certs, 0), out_nb, out_na);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

static int ca_one(int index, const char *data, size_t len, void *ctx)
{
	struct metrics *m = ctx;
	time_t nb, na;

	m->cas = xrealloc(m->cas, sizeof(*m->cas) * ((size_t)index + 1));
	m->cas[index] = (struct value){false, 0};
	m->n_cas = (size_t)index + 1;
	if (cert_validity(data, len, &nb, &na) == 0)
		set(&m->cas[index], (long long)na);
	return 0;
}

/* The enrolled pair's dates; a secret (the private key) is read and wiped. */
static void read_pair(const struct config *cfg, struct keystore *ks, struct metrics *m)
{
	char *pem = NULL;
	size_t len = 0;
	time_t nb, na;

	if (keystore_get(ks, KS_ALIAS_ENROLLED, &pem, &len) < 0)
		return;
	if (cert_validity(pem, len, &nb, &na) == 0) {
		set(&m->v[FAM_EXPIRATION], (long long)na);
		if (cfg->renew) /* renew = false: no pass ever renews it */
			set(&m->v[FAM_RENEWAL], (long long)enroll_due_time(cfg, nb, na));
	}
	wipe_free(pem, len);
}

/* What the store holds, read without its lock (an interrupted commit reads as committed). */
static void read_store(const struct config *cfg, struct metrics *m)
{
	struct keystore *ks = NULL;
	char *pem = NULL;
	size_t len = 0;
	int r;

	r = keystore_open(config_keystore(cfg, cfg->keystore), KEYSTORE_READ, &ks);
	if (r < 0) {
		log_debug("metrics: keystore %s: %s", cfg->keystore, strerror(-r));
		return;
	}
	read_pair(cfg, ks, m);
	r = keystore_each_in_set(ks, KS_ALIAS_CACERTS_PREFIX, ca_one, m);
	if (r < 0)
		log_debug("metrics: keystore %s: CA certificates: %s", cfg->keystore, strerror(-r));
	r = keystore_get(ks, KS_ALIAS_REQUEST, &pem, &len);
	if (r == 0 || r == -ENOKEY)
		set(&m->v[FAM_PENDING], r == 0 && pass_request_pending(pem));
	wipe_free(pem, len);
	keystore_free(ks);
}

/* The value of fam for our keystore in a file this module wrote: "NAME{keystore="KS"} N". */
static struct value previous(const char *text, const char *keystore, enum family fam)
{
	char *prefix = xasprintf("%s{keystore=\"%s\"} ", families[fam].name, keystore), *num, *end;
	size_t n = strlen(prefix);
	struct value out = {false, 0};
	const char *line;
	long long v;

	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, prefix, n))
			continue;
		num = xstrndup(line + n, strcspn(line + n, "\n"));
		errno = 0;
		v = strtoll(num, &end, 10);
		if (!errno && end != num && !*end && v >= 0)
			set(&out, v);
		free(num);
		break;
	}
	free(prefix);
	return out;
}

/* True when text holds series of another keystore: two configurations share one file. */
static bool foreign_series(const char *text, const char *keystore)
{
	char *ours = xasprintf("{keystore=\"%s\"", keystore);
	const char *line;
	bool other = false;

	for (line = text; line && *line && !other;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		size_t n = strcspn(line, "\n");
		const char *label = memmem(line, n, "{keystore=\"", 11);

		other = *line != '#' && label && strncmp(label, ours, strlen(ours));
	}
	free(ours);
	return other;
}

/* The pass series: this pass's result over what the previous file says. */
static void carry(const struct config *cfg, struct metrics *m, bool pass, int exit_code)
{
	static const enum family carried[] = {FAM_LAST_PASS, FAM_EXIT_CODE, FAM_LAST_SUCCESS,
					      FAM_FAILURES};
	struct value *f = &m->v[FAM_FAILURES];
	long long now = (long long)time(NULL);
	char *text = NULL;
	size_t len = 0, i;
	int r;

	r = read_file(cfg->metrics, METRICS_MAX_SIZE, &text, &len);
	if (r == 0) {
		for (i = 0; i < ARRAY_SIZE(carried); i++)
			m->v[carried[i]] = previous(text, m->keystore, carried[i]);
		if (foreign_series(text, m->keystore))
			log_warn("metrics: %s held series of another keystore, now replaced: give "
				 "each configuration a file of its own",
				 cfg->metrics);
	} else if (r != -ENOENT) {
		log_debug("metrics: %s: %s: counting afresh", cfg->metrics, strerror(-r));
	}
	free(text);
	if (!pass)
		return;
	set(&m->v[FAM_LAST_PASS], now);
	set(&m->v[FAM_EXIT_CODE], exit_code);
	if (exit_code == 0) {
		set(&m->v[FAM_LAST_SUCCESS], now);
		set(f, 0);
	} else {
		set(f, !f->set ? 1 : f->v < LLONG_MAX ? f->v + 1 : f->v);
	}
}

static void family_head(FILE *out, enum family fam)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", families[fam].name, families[fam].help,
		families[fam].name);
}

/* Keystore names are letters, digits and _.- (config.c): nothing in a label to escape. */
static void print_metrics(FILE *out, const struct metrics *m)
{
	bool head;
	size_t i;
	int fam;

	for (fam = 0; fam < FAM_N; fam++) {
		if (fam == FAM_CA_EXPIRATION) {
			for (i = 0, head = false; i < m->n_cas; i++) {
				if (!m->cas[i].set)
					continue;
				if (!head)
					family_head(out, fam);
				head = true;
				fprintf(out,
					"%s{keystore=\"%s\",alias=\"" KS_ALIAS_CACERTS_PREFIX
					"%zu\"} %lld\n",
					families[fam].name, m->keystore, i, m->cas[i].v);
			}
		} else if (m->v[fam].set) {
			family_head(out, fam);
			fprintf(out, "%s{keystore=\"%s\"} %lld\n", families[fam].name, m->keystore,
				m->v[fam].v);
		}
	}
}

/*
 * Two commands ending together must not both carry the old counters forward: the file is read
 * and replaced under an flock of FILE.lock (the textfile collector reads *.prom only), waited
 * for at most 5 s. The fd, or -errno (then the update goes on unlocked).
 */
static int lock_file(const char *path)
{
	char *lp = xasprintf("%s.lock", path);
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600), i, r = 0;

	free(lp);
	if (fd < 0)
		return -errno;
	for (i = 0; i < 500 && (r = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EWOULDBLOCK; i++)
		sleep_ms(10);
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int update(const struct config *cfg, bool pass, int exit_code)
{
	struct metrics m = {.keystore = cfg->keystore};
	char *text = NULL;
	size_t len = 0;
	int r, lock;
	FILE *out;

	if (!cfg->metrics)
		return 0;
	lock = lock_file(cfg->metrics);
	read_store(cfg, &m);
	carry(cfg, &m, pass, exit_code);
	out = open_memstream(&text, &len);
	if (!out) {
		r = -errno;
		goto out;
	}
	print_metrics(out, &m);
	r = ferror(out) ? -EIO : 0;
	if (fclose(out) != 0 && r == 0)
		r = -EIO;
	/* Not synced: the next pass (or load at boot) writes it again after a power cut. */
	if (r == 0)
		r = write_file_replace(cfg->metrics, text, len, METRICS_MODE);
out:
	if (r < 0)
		log_warn("metrics: cannot write %s: %s", cfg->metrics, strerror(-r));
	if (lock >= 0)
		close(lock);
	free(text);
	free(m.cas);
	return r;
}

int metrics_after_pass(const struct config *cfg, int exit_code)
{
	return update(cfg, true, exit_code);
}

int metrics_after_load(const struct config *cfg)
{
	return update(cfg, false, 0);
}
