/* SPDX-License-Identifier: MIT */
/* The [export NAME] sections of the configuration: their keys, typed, and the checks across them.
 */
#include "autoconf.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_parse.h"
#include "util.h"

enum ex_key {
	EX_KEYSTORE,
	EX_KEY,
	EX_CERT,
	EX_CA,
	EX_BUNDLE,
	EX_OWNER,
	EX_GROUP,
	EX_MODE,
	EX_N_KEYS,
};

static const char *const ex_key_names[EX_N_KEYS] = {
	[EX_KEYSTORE] = "keystore", [EX_KEY] = "key",	  [EX_CERT] = "cert",	[EX_CA] = "ca",
	[EX_BUNDLE] = "bundle",	    [EX_OWNER] = "owner", [EX_GROUP] = "group", [EX_MODE] = "mode",
};

/* Where a section and each of its keys were written, for the checks after the whole file. */
struct export_lines {
	struct export_conf *ex;
	int line;
	int lines[EX_N_KEYS];
	bool rejected; /* a value was refused: say nothing more about the section */
	struct export_lines *next;
};

static const struct export_lines *find_lines(const struct parse_state *st, const char *name)
{
	const struct export_lines *l;

	for (l = st->ex_all; l; l = l->next)
		if (!strcmp(l->ex->name, name))
			return l;
	return NULL;
}

void config_export_section(struct parse_state *st, const char *name)
{
	const struct export_lines *first;
	struct export_conf *ex, **p;
	struct export_lines *l, **lp;

	if (!config_name_valid(name)) {
		config_report(st, st->line, NULL,
			      "[export %s]: the name must be letters, digits and _.-", name);
		return;
	}
	first = find_lines(st, name);
	if (first) {
		config_report(st, st->line, NULL,
			      "[export %s]: duplicate section (first on line %d)", name,
			      first->line);
		return;
	}
	ex = xzalloc(sizeof(*ex));
	ex->name = xstrdup(name);
	ex->uid = (uid_t)-1;
	ex->gid = (gid_t)-1;
	ex->mode = 0600;
	for (p = &st->cfg->exports; *p; p = &(*p)->next)
		;
	*p = ex;
	l = xzalloc(sizeof(*l));
	l->ex = ex;
	l->line = st->line;
	for (lp = &st->ex_all; *lp; lp = &(*lp)->next)
		;
	*lp = l;
	st->ex = l;
	st->section = SECTION_EXPORT;
}

static void set_path(struct parse_state *st, const char *key, const char *v, char **field)
{
	size_t n = strlen(v);

	if (n && (*v != '/' || v[n - 1] == '/')) {
		config_key_error(st, key, "must be an absolute path to a file");
		return;
	}
	free(*field);
	*field = n ? xstrdup(v) : NULL;
}

static void set_owner(struct parse_state *st, const char *key, const char *v)
{
	struct export_conf *ex = st->ex->ex;
	struct passwd *pw;
	unsigned long uid;

	if (!*v) {
		free(ex->owner);
		ex->owner = NULL;
		ex->uid = (uid_t)-1;
		return;
	}
	pw = getpwnam(v);
	if (pw)
		uid = pw->pw_uid;
	else if (parse_uint(v, 0, (uid_t)-2, &uid) < 0) {
		config_key_error(st, key, "unknown user %s", v);
		return;
	}
	free(ex->owner);
	ex->owner = xstrdup(v);
	ex->uid = (uid_t)uid;
}

static void set_group(struct parse_state *st, const char *key, const char *v)
{
	struct export_conf *ex = st->ex->ex;
	gid_t gid = (gid_t)-1;

	if (*v && config_parse_gid(v, &gid) < 0) {
		config_key_error(st, key, "unknown group %s", v);
		return;
	}
	free(ex->group);
	ex->group = *v ? xstrdup(v) : NULL;
	ex->gid = gid;
}

static void set_mode(struct parse_state *st, const char *key, const char *v)
{
	unsigned long mode;

	if (parse_uint_octal(v, &mode) < 0 || mode > 0777)
		config_key_error(st, key, "must be an octal file mode from 0 to 0777, e.g. 0640");
	else
		st->ex->ex->mode = (mode_t)mode;
}

void config_export_key(struct parse_state *st, const char *name, const char *v)
{
	struct export_conf *ex = st->ex->ex;
	int i, errors;

	for (i = 0; i < EX_N_KEYS && strcasecmp(ex_key_names[i], name); i++)
		;
	if (i == EX_N_KEYS) {
		config_key_error(st, name, "unknown key");
		return;
	}
	name = ex_key_names[i];
	if (st->ex->lines[i]) {
		config_key_error(st, name, "duplicate key (first set on line %d)",
				 st->ex->lines[i]);
		return;
	}
	st->ex->lines[i] = st->line;
	errors = st->n_errors;
	switch ((enum ex_key)i) {
	case EX_KEYSTORE:
		if (!config_name_valid(v)) {
			config_key_error(st, name, "must name a [keystore NAME] section");
			break;
		}
		free(ex->keystore);
		ex->keystore = xstrdup(v);
		break;
	case EX_KEY:
		set_path(st, name, v, &ex->key);
		break;
	case EX_CERT:
		set_path(st, name, v, &ex->cert);
		break;
	case EX_CA:
		set_path(st, name, v, &ex->ca);
		break;
	case EX_BUNDLE:
		set_path(st, name, v, &ex->bundle);
		break;
	case EX_OWNER:
		set_owner(st, name, v);
		break;
	case EX_GROUP:
		set_group(st, name, v);
		break;
	case EX_MODE:
		set_mode(st, name, v);
		break;
	case EX_N_KEYS:
		break;
	}
	if (st->n_errors > errors)
		st->ex->rejected = true;
}

/* The file of part k (EX_KEY, EX_CERT, EX_CA, EX_BUNDLE) of ex, or NULL. */
static const char *part_path(const struct export_conf *ex, enum ex_key k)
{
	switch (k) {
	case EX_KEY:
		return ex->key;
	case EX_CERT:
		return ex->cert;
	case EX_CA:
		return ex->ca;
	case EX_BUNDLE:
		return ex->bundle;
	case EX_KEYSTORE:
	case EX_OWNER:
	case EX_GROUP:
	case EX_MODE:
	case EX_N_KEYS:
		break;
	}
	return NULL;
}

/* A file written by two parts would hold whichever came last. */
static void check_distinct(struct parse_state *st, const struct export_lines *l, enum ex_key k)
{
	const char *path = part_path(l->ex, k);
	const struct export_lines *o;
	int j;

	if (!path)
		return;
	for (o = st->ex_all; o; o = o->next) {
		for (j = EX_KEY; j <= EX_BUNDLE; j++) {
			if (o == l && j == (int)k)
				return; /* only earlier parts: each pair is reported once */
			if (part_path(o->ex, (enum ex_key)j) &&
			    !strcmp(part_path(o->ex, (enum ex_key)j), path))
				config_report(st, l->lines[k], ex_key_names[k],
					      "%s is also %s of [export %s]", path, ex_key_names[j],
					      o->ex->name);
		}
	}
}

static void check_one(struct parse_state *st, const struct export_lines *l)
{
	struct export_conf *ex = l->ex;
	int k;

	if (!ex->keystore)
		ex->keystore = xstrdup(st->cfg->keystore);
	else if (!config_keystore(st->cfg, ex->keystore))
		config_report(st, l->lines[EX_KEYSTORE], "keystore", "no [keystore %s] section",
			      ex->keystore);
	if (!ex->key && !ex->cert && !ex->ca && !ex->bundle && !l->rejected)
		config_report(st, l->line, NULL,
			      "[export %s]: nothing to export: set key, cert, ca or bundle",
			      ex->name);
	for (k = EX_KEY; k <= EX_BUNDLE; k++)
		check_distinct(st, l, (enum ex_key)k);
}

void config_export_check(struct parse_state *st)
{
	struct export_lines *l, *next;

	for (l = st->ex_all; l; l = l->next)
		check_one(st, l);
	for (l = st->ex_all; l; l = next) {
		next = l->next;
		free(l);
	}
	st->ex_all = NULL;
	st->ex = NULL;
}

bool config_export_uses(const struct config *cfg, const char *name)
{
	const struct export_conf *ex;

	for (ex = cfg->exports; ex; ex = ex->next)
		if (!strcmp(ex->keystore ? ex->keystore : cfg->keystore, name))
			return true;
	return false;
}

void config_export_free(struct export_conf *ex)
{
	struct export_conf *next;

	for (; ex; ex = next) {
		next = ex->next;
		free(ex->name);
		free(ex->keystore);
		free(ex->key);
		free(ex->bundle);
		free(ex->cert);
		free(ex->ca);
		free(ex->owner);
		free(ex->group);
		free(ex);
	}
}
