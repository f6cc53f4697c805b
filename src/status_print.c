/* SPDX-License-Identifier: MIT */
/* `status` output: the report as text for people and as JSON (schema 1) for scripts. */
#include "autoconf.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keystore.h"
#include "status_report.h"
#include "util.h"

#define JSON_SCHEMA 1

static const char *iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	return buf;
}

static bool is_keyring(struct keystore *ks)
{
	return keystore_keyring_serial(ks) >= 0;
}

/* The user's or group's name, NULL when it has none. */
static const char *user_name(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	return pw ? pw->pw_name : NULL;
}

static const char *group_name(gid_t gid)
{
	struct group *gr = getgrgid(gid);

	return gr ? gr->gr_name : NULL;
}

/* ---- text ---- */

/* "MODE OWNER:GROUP", names where there are some. */
static void access_text(mode_t mode, uid_t uid, gid_t gid, char *buf, size_t len)
{
	const char *u = user_name(uid), *g = group_name(gid); /* each its own static buffer */
	char ubuf[24], gbuf[24];

	snprintf(ubuf, sizeof(ubuf), "%u", (unsigned int)uid);
	snprintf(gbuf, sizeof(gbuf), "%u", (unsigned int)gid);
	snprintf(buf, len, "%04o %s:%s", (unsigned int)mode, u ? u : ubuf, g ? g : gbuf);
}

/* The store's directory and files: owner, group and mode, and whether a pass would change them. */
static void store_access_text(const struct report *rep, FILE *f)
{
	const struct keystore_access *a = &rep->access;
	char dir[128], files[128] = "no files";
	const char *g;

	if (!rep->has_access)
		return;
	access_text(a->mode, a->uid, a->gid, dir, sizeof(dir));
	if (a->files && a->files_alike) {
		memcpy(files, "files ", 6);
		access_text(a->file_mode, a->file_uid, a->file_gid, files + 6, sizeof(files) - 6);
	} else if (a->files) {
		snprintf(files, sizeof(files), "files differ");
	}
	fprintf(f, "access:          directory %s, %s", dir, files);
	if (a->as_configured) {
		fprintf(f, " (as configured)\n");
		return;
	}
	g = group_name(a->want_gid);
	fprintf(f, " (not as configured: %04o, files %04o, group ", (unsigned int)a->want_mode,
		(unsigned int)a->want_file_mode);
	if (g)
		fprintf(f, "%s", g);
	else
		fprintf(f, "%u", (unsigned int)a->want_gid);
	fprintf(f, "; the next pass or load applies it)\n");
}

static void key_text(const struct cert_info *ci, char *buf, size_t len)
{
	snprintf(buf, len, "%s %d bits%s%s%s", ci->key_type, ci->key_bits, *ci->curve ? " (" : "",
		 ci->curve, *ci->curve ? ")" : "");
}

static void storage_text(const struct item *it, char *buf, size_t len)
{
	char serial[32] = "";

	if (it->serial >= 0)
		snprintf(serial, sizeof(serial), "keyring key %d", it->serial);
	snprintf(buf, len, "%s%s%s%s", serial, *serial && it->file ? ", " : "",
		 it->file ? it->file : "",
		 it->agrees == 0	       ? " (keyring and file copy DISAGREE)"
		 : it->agrees == 1 && it->file ? " (keyring and file copy agree)"
					       : "");
}

static const char *key_where_name(enum key_storage where)
{
	switch (where) {
	case KEY_STORAGE_TPM:
		return "TPM (the store holds its TPM-wrapped blob)";
	case KEY_STORAGE_PKCS11:
		return "PKCS#11 token (the store holds its URI)";
	case KEY_STORAGE_SOFTWARE:
		break;
	}
	return "software (PEM in the store)";
}

static void cert_text(FILE *f, const char *ind, const struct item *it, time_t now)
{
	const struct cert_info *ci = &it->cert;
	char t1[32], t2[32], buf[PATH_MAX + 128];

	fprintf(f, "%sissuer:  %s\n", ind, ci->issuer);
	fprintf(f, "%sserial:  %s\n", ind, ci->serial);
	fprintf(f, "%svalid:   %s to %s (%ld days left)\n", ind,
		iso_time(ci->not_before, t1, sizeof(t1)), iso_time(ci->not_after, t2, sizeof(t2)),
		status_days_left(ci->not_after, now));
	key_text(ci, buf, sizeof(buf));
	fprintf(f, "%skey:     %s\n", ind, buf);
	if (it->has_key)
		fprintf(f, "%skept in: %s%s%s%s%s%s%s\n", ind, key_where_name(it->key_where),
			it->key_token ? ", token " : "", it->key_token ? it->key_token : "",
			it->key_object ? ", object " : "", it->key_object ? it->key_object : "",
			it->key_id ? ", id " : "", it->key_id ? it->key_id : "");
	fprintf(f, "%ssha256:  %s\n", ind, ci->fingerprint);
	storage_text(it, buf, sizeof(buf));
	fprintf(f, "%sstored:  %s\n", ind, buf);
}

static void head_text(const struct config *cfg, struct keystore *ks, const struct report *rep,
		      FILE *f)
{
	char t[32], *from, *at;

	fprintf(f, "keystore:        %s (%s)\n", keystore_name(ks), keystore_location(ks));
	if (is_keyring(ks))
		fprintf(f, "serials:         %s/%s.keys\n", keystore_runtime_dir(),
			keystore_name(ks));
	store_access_text(rep, f);
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
	from = status_state_value(rep->state, "server");
	at = status_state_value(rep->state, "bootstrapped");
	if (rep->state)
		fprintf(f, "bootstrapped:    %s from %s\n",
			iso_time(at ? (time_t)strtoll(at, NULL, 10) : 0, t, sizeof(t)),
			from ? from : "?");
	else
		fprintf(f, "bootstrapped:    no\n");
	free(from);
	free(at);
}

static void others_text(const struct report *rep, FILE *f)
{
	char t[32], buf[PATH_MAX + 128];
	bool first = true;
	size_t i;

	for (i = 0; i < rep->n_items; i++) {
		const struct item *it = &rep->items[i];

		if (!strcmp(it->kind, "cacert") || it == rep->pair)
			continue;
		if (first)
			fprintf(f, "other aliases:\n");
		first = false;
		storage_text(it, buf, sizeof(buf));
		if (it->has_cert)
			fprintf(f, "  %s: %s (until %s, %ld days left); stored: %s\n", it->alias,
				it->cert.subject, iso_time(it->cert.not_after, t, sizeof(t)),
				status_days_left(it->cert.not_after, rep->now), buf);
		else
			fprintf(f, "  %s: stored: %s\n", it->alias, buf);
	}
}

static void request_text(const struct report *rep, FILE *f)
{
	const struct request_info *rq = &rep->request;
	char t[32];

	if (!rq->present) {
		fprintf(f, "pending request: no\n");
		return;
	}
	fprintf(f, "pending request: yes");
	if (rq->made_for)
		fprintf(f, ", for %s at %s%s%s (key %s)", rq->made_for,
			rq->server ? rq->server : "?", rq->label && *rq->label ? " label " : "",
			rq->label ? rq->label : "", rq->key ? rq->key : "?");
	if (rq->not_before)
		fprintf(f, ", not before %s", iso_time(rq->not_before, t, sizeof(t)));
	if (rq->made_for && !rq->resumable)
		fprintf(f, " (made for another server or label: a new key will be made)");
	else if (rq->at_server)
		fprintf(f, " (the server holds it, 202: resumed with this key)");
	else if (rep->pair)
		fprintf(f, " (no answer pending at the server: the next pass discards it)");
	fputc('\n', f);
}

void status_print_text(const struct config *cfg, struct keystore *ks, const struct report *rep,
		       FILE *f)
{
	char t[32];
	int i;

	head_text(cfg, ks, rep, f);
	fprintf(f, "CA certificates: %d\n", rep->n_cas);
	for (i = 0; i < rep->n_cas; i++) {
		fprintf(f, "  %s: %s (until %s)\n", rep->cas[i]->alias, rep->cas[i]->cert.subject,
			iso_time(rep->cas[i]->cert.not_after, t, sizeof(t)));
		cert_text(f, "    ", rep->cas[i], rep->now);
	}
	if (rep->pair) {
		fprintf(f, "certificate:     %s\n", rep->pair->cert.subject);
		cert_text(f, "  ", rep->pair, rep->now);
	} else {
		fprintf(f, "certificate:     none\n");
	}
	others_text(rep, f);
	request_text(rep, f);
	if (rep->next_action)
		fprintf(f, "next action:     %s at %s\n", rep->next_action,
			iso_time(rep->next_due, t, sizeof(t)));
	else
		fprintf(f, "next action:     none (renew = false, ca_rollover = false)\n");
}

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
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

/* , "key": "value" (null for NULL) */
static void json_kv(FILE *f, const char *key, const char *value)
{
	fprintf(f, ", \"%s\": ", key);
	json_str(f, value);
}

static void json_time(FILE *f, const char *key, time_t t, bool present)
{
	char buf[32];

	json_kv(f, key, present ? iso_time(t, buf, sizeof(buf)) : NULL);
}

static void json_int(FILE *f, const char *key, long v, bool present)
{
	if (present)
		fprintf(f, ", \"%s\": %ld", key, v);
	else
		fprintf(f, ", \"%s\": null", key);
}

static const char *json_bool(bool b)
{
	return b ? "true" : "false";
}

/* A certificate object, left open for more members. */
static void json_cert_open(FILE *f, const struct cert_info *ci, time_t now)
{
	fprintf(f, "{\"subject\": ");
	json_str(f, ci->subject);
	json_kv(f, "issuer", ci->issuer);
	json_kv(f, "serial", ci->serial);
	json_kv(f, "sha256", ci->fingerprint);
	json_time(f, "not_before", ci->not_before, true);
	json_time(f, "not_after", ci->not_after, true);
	json_int(f, "days_left", status_days_left(ci->not_after, now), true);
	json_kv(f, "key_type", ci->key_type);
	json_int(f, "key_bits", ci->key_bits, true);
	json_kv(f, "key_curve", *ci->curve ? ci->curve : NULL);
}

static void json_storage(FILE *f, const struct item *it)
{
	json_int(f, "keyring_serial", it->serial, it->serial >= 0);
	json_kv(f, "file", it->file);
	if (it->agrees < 0)
		fprintf(f, ", \"agrees\": null");
	else
		fprintf(f, ", \"agrees\": %s", json_bool(it->agrees));
}

/* cacerts[i] and certificate: the certificate with its alias and where it is stored. */
static void json_cert(FILE *f, const struct item *it, time_t now)
{
	json_cert_open(f, &it->cert, now);
	json_kv(f, "alias", it->alias);
	json_storage(f, it);
	if (it->has_key) {
		json_kv(f, "key_storage", config_key_storage_name(it->key_where));
		json_kv(f, "key_token", it->key_token);
		json_kv(f, "key_object", it->key_object);
		json_kv(f, "key_id", it->key_id);
	}
	fputc('}', f);
}

static void json_item(FILE *f, const struct item *it, time_t now)
{
	fprintf(f, "{\"alias\": ");
	json_str(f, it->alias);
	json_kv(f, "kind", it->kind);
	json_storage(f, it);
	fprintf(f, ", \"certificate\": ");
	if (it->has_cert) {
		json_cert_open(f, &it->cert, now);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	fputc('}', f);
}

/* A comma-separated list as JSON strings. */
static void json_list(FILE *f, const char *list)
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

static void json_mode(FILE *f, const char *key, mode_t mode, bool present)
{
	char buf[8];

	snprintf(buf, sizeof(buf), "%04o", (unsigned int)mode);
	json_kv(f, key, present ? buf : NULL);
}

/* "store_access": the file copy's owner, group and mode; null before its directory exists. */
static void json_access(FILE *f, const struct report *rep)
{
	const struct keystore_access *a = &rep->access;
	bool alike = a->files && a->files_alike;

	fprintf(f, ", \"store_access\": ");
	if (!rep->has_access) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"uid\": %u", (unsigned int)a->uid);
	json_kv(f, "owner", user_name(a->uid));
	json_int(f, "gid", (long)a->gid, true);
	json_kv(f, "group", group_name(a->gid));
	json_mode(f, "mode", a->mode, true);
	json_int(f, "files", (long)a->files, true);
	json_int(f, "file_uid", (long)a->file_uid, alike);
	json_int(f, "file_gid", (long)a->file_gid, alike);
	json_mode(f, "file_mode", a->file_mode, alike);
	fprintf(f, ", \"as_configured\": %s", json_bool(a->as_configured));
	json_int(f, "configured_gid", (long)a->want_gid, true);
	json_mode(f, "configured_mode", a->want_mode, true);
	json_mode(f, "configured_file_mode", a->want_file_mode, true);
	fputc('}', f);
}

static void json_head(const struct config *cfg, struct keystore *ks, const struct report *rep,
		      FILE *f)
{
	const struct keystore_conf *kc = config_keystore(cfg, cfg->keystore);
	char *serials = xasprintf("%s/%s.keys", keystore_runtime_dir(), keystore_name(ks));
	char *from = status_state_value(rep->state, "server");
	char *at = status_state_value(rep->state, "bootstrapped");

	fprintf(f, "{\"schema\": %d", JSON_SCHEMA);
	json_kv(f, "keystore", keystore_name(ks));
	json_kv(f, "backend", keystore_backend(ks));
	json_kv(f, "location", keystore_location(ks));
	json_kv(f, "keyring", kc->type == KEYSTORE_TYPE_KEYRING ? kc->keyring : NULL);
	json_int(f, "keyring_serial", keystore_keyring_serial(ks), is_keyring(ks));
	json_kv(f, "serials_file", is_keyring(ks) ? serials : NULL);
	json_kv(f, "path", kc->path);
	json_access(f, rep);
	fprintf(f, ", \"fell_back\": %s, \"consistent\": %s, \"disagree\": [",
		json_bool(keystore_fell_back(ks)), json_bool(!rep->disagree || !*rep->disagree));
	json_list(f, rep->disagree);
	fputc(']', f);
	json_kv(f, "server", cfg->server);
	json_kv(f, "label", cfg->label ? cfg->label : "");
	json_kv(f, "bootstrapped_from", rep->state ? (from ? from : "") : NULL);
	json_time(f, "bootstrapped_at", at ? (time_t)strtoll(at, NULL, 10) : 0, at != NULL);
	free(serials);
	free(from);
	free(at);
}

static void json_request(FILE *f, const struct request_info *rq)
{
	fprintf(f, ", \"pending_request\": %s, \"request\": ", json_bool(rq->present));
	if (!rq->present) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"for\": ");
	json_str(f, rq->made_for);
	json_kv(f, "server", rq->server);
	json_kv(f, "label", rq->label);
	json_kv(f, "key", rq->key);
	json_time(f, "not_before", rq->not_before, rq->not_before != 0);
	fprintf(f, ", \"resumable\": %s, \"at_server\": %s}", json_bool(rq->resumable),
		json_bool(rq->at_server));
}

void status_print_json(const struct config *cfg, struct keystore *ks, const struct report *rep,
		       FILE *f)
{
	size_t k;
	int i;

	json_head(cfg, ks, rep, f);
	fprintf(f, ", \"cacerts\": [");
	for (i = 0; i < rep->n_cas; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_cert(f, rep->cas[i], rep->now);
	}
	fprintf(f, "], \"certificate\": ");
	if (rep->pair)
		json_cert(f, rep->pair, rep->now);
	else
		fputs("null", f);
	json_request(f, &rep->request);
	json_kv(f, "next_action", rep->next_action);
	json_time(f, "next_due", rep->next_due, rep->next_action != NULL);
	fprintf(f, ", \"aliases\": [");
	for (k = 0; k < rep->n_items; k++) {
		fprintf(f, "%s", k ? ", " : "");
		json_item(f, &rep->items[k], rep->now);
	}
	fprintf(f, "]}\n");
}
