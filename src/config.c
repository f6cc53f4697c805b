/* SPDX-License-Identifier: MIT */
/* The INI configuration: inih splits lines, this file types, checks and prints the values. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>
#include <openssl/x509.h>

#include "config.h"
#include "crypto.h"
#include "dn.h"
#include "log.h"
#include "util.h"

#define CONFIG_MAX_SIZE (1024 * 1024)
#define CA_ROOT_MAX_SIZE (1024 * 1024)
#define PASSWORD_MAX_SIZE 4096
#define STATE_DIR LOCALSTATEDIR "/lib/est-enroll/"

enum section_kind {
	SECTION_NONE,
	SECTION_EST,
	SECTION_KEYSTORE,
	SECTION_IGNORED, /* unknown or broken header, already reported */
};

enum est_key {
	EST_ENABLED,
	EST_KEYSTORE,
	EST_SERVER,
	EST_LABEL,
	EST_CA_ROOT,
	EST_CA_ROLLOVER,
	EST_EXPIRATION_CHECK,
	EST_RETRY_INTERVAL,
	EST_RETRY_TIMEOUT,
	EST_TIMEOUT,
	EST_TLS_CLIENT_AUTH,
	EST_TLS_CLIENT_KEYSTORE,
	EST_TLS_CLIENT_ALIAS,
	EST_HTTP_AUTH,
	EST_USERNAME,
	EST_PASSWORD,
	EST_PASSWORD_FILE,
	EST_POP,
	EST_POP_BINDING,
	EST_RENEW,
	EST_RENEW_REKEY,
	EST_SUBJECT,
	EST_KEY_ALGORITHM,
	EST_KEY_PARAMS,
	EST_KEY_SOURCE,
	EST_CSR_SIGNER,
	EST_N_KEYS,
};

enum ks_key {
	KS_TYPE,
	KS_KEYRING,
	KS_PATH,
	KS_FALLBACK,
	KS_GROUP,
	KS_N_KEYS,
};

struct parse_state {
	const char *file;
	struct config *cfg;
	const char *data; /* the whole file; it may hold a password, wiped after parsing */
	size_t len, pos;
	int line; /* the line inih is working on: the reader counts, the handler reads */
	int n_errors;
	int err_line; /* line of the last error, so inih's own report is not repeated */
	enum section_kind section;
	struct keystore_conf *ks; /* the current [keystore NAME] */
	bool default_written;
	int est_line;		   /* line of [est], 0 when absent */
	int est_lines[EST_N_KEYS]; /* where each key was set, 0 = not set */
	bool est_bad[EST_N_KEYS];  /* the value was rejected */
	int ks_lines[KS_N_KEYS];   /* same, for the current keystore section */
};

/* What config_load_secrets() needs from the parse: where to point its errors. */
struct config_lines {
	int est[EST_N_KEYS];
	bool secrets_loaded;
};

enum value_type {
	VALUE_BOOL,
	VALUE_STRING,	/* must not be empty */
	VALUE_OPTIONAL, /* empty = unset (NULL) */
	VALUE_DURATION,
	VALUE_SPECIAL,
};

struct est_key_desc {
	const char *name;
	enum value_type type;
	size_t offset; /* of the bool, char * or uint64_t in struct config */
	uint64_t min;  /* durations */
	void (*set)(struct parse_state *st, const char *key, const char *value);
};

static const char *const http_auth_names[] = {
	[HTTP_AUTH_NONE] = "none",
	[HTTP_AUTH_BASIC] = "basic",
	[HTTP_AUTH_DIGEST] = "digest",
};
static const char *const key_alg_names[] = {
	[KEY_ALG_EC] = "EC",
	[KEY_ALG_RSA] = "RSA",
	[KEY_ALG_ED25519] = "ED25519",
};
static const char *const key_source_names[] = {
	[KEY_SOURCE_LOCAL] = "local",
	[KEY_SOURCE_SERVER] = "server",
};
static const char *const pop_binding_names[] = {
	[POP_BINDING_TLS_UNIQUE] = "tls-unique",
	[POP_BINDING_TLS_EXPORTER] = "tls-exporter",
};
static const char *const keystore_type_names[] = {
	[KEYSTORE_TYPE_KEYRING] = "keyring",
	[KEYSTORE_TYPE_FILE] = "file",
};
static const char *const ks_key_names[] = {
	[KS_TYPE] = "type",	    [KS_KEYRING] = "keyring", [KS_PATH] = "path",
	[KS_FALLBACK] = "fallback", [KS_GROUP] = "group",
};

__attribute__((format(printf, 4, 0))) static void
vreport(struct parse_state *st, int line, const char *what, const char *fmt, va_list ap)
{
	/* Under systemd the priority prefix keeps the journal from filing these as info. */
	if (getenv("JOURNAL_STREAM"))
		fputs("<3>", stderr);
	fprintf(stderr, "%s:%d: ", st->file, line);
	if (what)
		fprintf(stderr, "%s: ", what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	st->n_errors++;
	st->err_line = line;
}

/* "FILE:LINE: WHAT: reason"; what NULL gives "FILE:LINE: reason". */
__attribute__((format(printf, 4, 5))) static void report(struct parse_state *st, int line,
							 const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(st, line, what, fmt, ap);
	va_end(ap);
}

/* An error about key on the line being parsed. */
__attribute__((format(printf, 3, 4))) static void key_error(struct parse_state *st, const char *key,
							    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(st, st->line, key, fmt, ap);
	va_end(ap);
}

static int lookup(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && !strcasecmp(names[i], s))
			return (int)i;
	return -1;
}

static bool all_chars_in(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

static void set_string(char **field, const char *value)
{
	free(*field);
	*field = *value ? xstrdup(value) : NULL;
}

static void set_server(struct parse_state *st, const char *key, const char *v)
{
	const char *why = NULL, *port = NULL;
	struct in6_addr a6;
	unsigned long n;
	char *host = NULL;

	if (strstr(v, "://")) {
		why = "must be host:port without a scheme";
	} else if (strchr(v, '/')) {
		why = "must be host:port without a path (the label goes in label =)";
	} else if (*v == '[') {
		port = strchr(v, ']');
		host = xstrndup(v + 1, port ? (size_t)(port - v - 1) : 0);
		if (!port || inet_pton(AF_INET6, host, &a6) != 1)
			why = "bad IPv6 address: use [v6addr]:port";
		else if (*++port != ':')
			why = "missing :port";
	} else {
		port = strrchr(v, ':');
		host = xstrndup(v, port ? (size_t)(port - v) : 0);
		if (!port)
			why = "missing :port";
		else if (strchr(host, ':'))
			why = "an IPv6 address goes in brackets: [v6addr]:port";
		else if (!*host || !all_chars_in(host, "-._"))
			why = "bad host name";
	}
	if (!why && parse_uint(port + 1, 1, 65535, &n) < 0)
		why = "port must be a number from 1 to 65535";
	if (why) {
		key_error(st, key, "%s", why);
		goto out;
	}
	set_string(&st->cfg->server, v);
	free(st->cfg->host);
	st->cfg->host = host;
	host = NULL;
	st->cfg->port = (unsigned int)n;
out:
	free(host);
}

static void set_label(struct parse_state *st, const char *key, const char *v)
{
	/* RFC 7030 3.2.2: one path segment; "." and ".." would walk the path instead. */
	if (!all_chars_in(v, "._~-") || !strcmp(v, ".") || !strcmp(v, "..")) {
		key_error(st, key, "must be one path segment of letters, digits and ._~-");
		return;
	}
	set_string(&st->cfg->label, v);
}

/* The file itself is read by config_load_secrets(): load and status run before it exists. */
static void set_ca_root(struct parse_state *st, const char *key, const char *v)
{
	if (!*v)
		key_error(st, key, "must not be empty");
	else
		set_string(&st->cfg->ca_root, v);
}

static void set_duration(struct parse_state *st, const char *key, const char *v, uint64_t min,
			 uint64_t *field)
{
	uint64_t s;
	int r;

	r = parse_duration(v, &s);
	if (r == -ERANGE)
		key_error(st, key, "out of range");
	else if (r < 0)
		key_error(st, key,
			  "not a duration: a number with s, m, h or d, e.g. 30s, 5m, 2h, 1d");
	else if (s < min)
		key_error(st, key, "must be at least %llus", (unsigned long long)min);
	else
		*field = s;
}

static void set_expiration_check(struct parse_state *st, const char *key, const char *v)
{
	size_t n = strlen(v);
	unsigned long pct;
	char *num;

	if (!n || v[n - 1] != '%') {
		set_duration(st, key, v, 1, &st->cfg->expiration_check);
		return;
	}
	num = xstrndup(v, n - 1);
	if (parse_uint(num, 1, 99, &pct) < 0) {
		key_error(st, key, "a percentage of the lifetime must be 1%% to 99%%");
	} else {
		st->cfg->expiration_check_pct = (unsigned int)pct;
		st->cfg->expiration_check = 0;
	}
	free(num);
}

static void set_http_auth(struct parse_state *st, const char *key, const char *v)
{
	int i = lookup(http_auth_names, ARRAY_SIZE(http_auth_names), v);

	if (i < 0)
		key_error(st, key, "must be none, basic or digest");
	else
		st->cfg->http_auth = (enum http_auth)i;
}

static void set_pop_binding(struct parse_state *st, const char *key, const char *v)
{
	int i = lookup(pop_binding_names, ARRAY_SIZE(pop_binding_names), v);

	if (i < 0)
		key_error(st, key, "must be tls-unique or tls-exporter");
	else
		st->cfg->pop_binding = (enum pop_binding)i;
}

static void set_key_algorithm(struct parse_state *st, const char *key, const char *v)
{
	int i = lookup(key_alg_names, ARRAY_SIZE(key_alg_names), v);

	if (i < 0)
		key_error(st, key, "must be EC, RSA or ED25519");
	else
		st->cfg->key_algorithm = (enum key_alg)i;
}

static void set_key_source(struct parse_state *st, const char *key, const char *v)
{
	int i = lookup(key_source_names, ARRAY_SIZE(key_source_names), v);

	if (i < 0)
		key_error(st, key, "must be local or server");
	else
		st->cfg->key_source = (enum key_source)i;
}

static void set_subject(struct parse_state *st, const char *key, const char *v)
{
	X509_NAME *name = NULL;
	const char *why = NULL;

	if (!*v) {
		key_error(st, key, "must not be empty");
		return;
	}
	if (dn_parse(v, &name, &why) < 0) {
		key_error(st, key, "%s", why ? why : "not an RFC 4514 distinguished name");
		return;
	}
	X509_NAME_free(name);
	set_string(&st->cfg->subject, v);
}

static void set_password(struct parse_state *st, const char *key, const char *v)
{
	(void)key;
	wipe_str(st->cfg->password);
	st->cfg->password = *v ? xstrdup(v) : NULL;
}

#define BOOL(k, field) [k] = {#field, VALUE_BOOL, offsetof(struct config, field), 0, NULL}
#define STRING(k, field) [k] = {#field, VALUE_STRING, offsetof(struct config, field), 0, NULL}
#define OPTIONAL(k, field) [k] = {#field, VALUE_OPTIONAL, offsetof(struct config, field), 0, NULL}
#define DURATION(k, field, min)                                                                    \
	[k] = {#field, VALUE_DURATION, offsetof(struct config, field), min, NULL}
#define SPECIAL(k, name, fn) [k] = {name, VALUE_SPECIAL, 0, 0, fn}

static const struct est_key_desc est_keys[EST_N_KEYS] = {
	BOOL(EST_ENABLED, enabled),
	STRING(EST_KEYSTORE, keystore),
	SPECIAL(EST_SERVER, "server", set_server),
	SPECIAL(EST_LABEL, "label", set_label),
	SPECIAL(EST_CA_ROOT, "ca_root", set_ca_root),
	BOOL(EST_CA_ROLLOVER, ca_rollover),
	SPECIAL(EST_EXPIRATION_CHECK, "expiration_check", set_expiration_check),
	DURATION(EST_RETRY_INTERVAL, retry_interval, 1),
	DURATION(EST_RETRY_TIMEOUT, retry_timeout, 0),
	DURATION(EST_TIMEOUT, timeout, 1),
	BOOL(EST_TLS_CLIENT_AUTH, tls_client_auth),
	STRING(EST_TLS_CLIENT_KEYSTORE, tls_client_keystore),
	STRING(EST_TLS_CLIENT_ALIAS, tls_client_alias),
	SPECIAL(EST_HTTP_AUTH, "http_auth", set_http_auth),
	OPTIONAL(EST_USERNAME, username),
	SPECIAL(EST_PASSWORD, "password", set_password),
	OPTIONAL(EST_PASSWORD_FILE, password_file),
	BOOL(EST_POP, pop),
	SPECIAL(EST_POP_BINDING, "pop_binding", set_pop_binding),
	BOOL(EST_RENEW, renew),
	BOOL(EST_RENEW_REKEY, renew_rekey),
	SPECIAL(EST_SUBJECT, "subject", set_subject),
	SPECIAL(EST_KEY_ALGORITHM, "key_algorithm", set_key_algorithm),
	OPTIONAL(EST_KEY_PARAMS, key_params),
	SPECIAL(EST_KEY_SOURCE, "key_source", set_key_source),
	OPTIONAL(EST_CSR_SIGNER, csr_signer),
};

static void set_bool(struct parse_state *st, const char *key, const char *v, bool *field)
{
	if (parse_bool(v, field) < 0)
		key_error(st, key, "not a boolean: true/false, yes/no, on/off, 1/0");
}

static void est_key(struct parse_state *st, const char *name, const char *v)
{
	const struct est_key_desc *d;
	int i = 0, errors = st->n_errors;
	void *field;

	while (i < EST_N_KEYS && strcasecmp(est_keys[i].name, name))
		i++;
	if (i == EST_N_KEYS) {
		key_error(st, name, "unknown key");
		return;
	}
	d = &est_keys[i];
	if (st->est_lines[i]) {
		key_error(st, d->name, "duplicate key (first set on line %d)", st->est_lines[i]);
		return;
	}
	st->est_lines[i] = st->line;
	field = (char *)st->cfg + d->offset;
	switch (d->type) {
	case VALUE_BOOL:
		set_bool(st, d->name, v, field);
		break;
	case VALUE_STRING:
		if (!*v)
			key_error(st, d->name, "must not be empty");
		else
			set_string(field, v);
		break;
	case VALUE_OPTIONAL:
		set_string(field, v);
		break;
	case VALUE_DURATION:
		set_duration(st, d->name, v, d->min, field);
		break;
	case VALUE_SPECIAL:
		d->set(st, d->name, v);
		break;
	}
	st->est_bad[i] = st->n_errors > errors;
}

static struct keystore_conf *find_keystore(struct keystore_conf *ks, const char *name)
{
	for (; ks; ks = ks->next)
		if (!strcmp(ks->name, name))
			return ks;
	return NULL;
}

static struct keystore_conf *keystore_add(struct config *cfg, const char *name)
{
	struct keystore_conf *ks = xzalloc(sizeof(*ks)), **p;

	ks->name = xstrdup(name);
	ks->type = KEYSTORE_TYPE_KEYRING;
	ks->keyring = xasprintf("est:%s", name);
	ks->path = xasprintf(STATE_DIR "%s", name);
	ks->fallback = true;
	ks->gid = (gid_t)-1;
	for (p = &cfg->keystores; *p; p = &(*p)->next)
		;
	*p = ks;
	return ks;
}

static void set_group(struct parse_state *st, const char *key, const char *v)
{
	struct keystore_conf *ks = st->ks;
	struct group *gr;
	unsigned long gid;

	if (!*v) {
		free(ks->group);
		ks->group = NULL;
		ks->gid = (gid_t)-1;
		return;
	}
	gr = getgrnam(v);
	if (gr)
		gid = gr->gr_gid;
	else if (parse_uint(v, 0, (gid_t)-2, &gid) < 0) {
		key_error(st, key, "unknown group %s", v);
		return;
	}
	set_string(&ks->group, v);
	ks->gid = (gid_t)gid;
}

static void keystore_key(struct parse_state *st, const char *name, const char *v)
{
	struct keystore_conf *ks = st->ks;
	int i = lookup(ks_key_names, KS_N_KEYS, name);

	if (i < 0) {
		key_error(st, name, "unknown key");
		return;
	}
	name = ks_key_names[i];
	if (st->ks_lines[i]) {
		key_error(st, name, "duplicate key (first set on line %d)", st->ks_lines[i]);
		return;
	}
	st->ks_lines[i] = st->line;
	switch ((enum ks_key)i) {
	case KS_TYPE:
		i = lookup(keystore_type_names, ARRAY_SIZE(keystore_type_names), v);
		if (i < 0)
			key_error(st, name, "must be keyring or file");
		else
			ks->type = (enum keystore_type)i;
		break;
	case KS_KEYRING:
		if (!*v)
			key_error(st, name, "must not be empty");
		else
			set_string(&ks->keyring, v);
		break;
	case KS_PATH:
		if (*v != '/')
			key_error(st, name, "must be an absolute path");
		else
			set_string(&ks->path, v);
		break;
	case KS_FALLBACK:
		set_bool(st, name, v, &ks->fallback);
		break;
	case KS_GROUP:
		set_group(st, name, v);
		break;
	case KS_N_KEYS:
		break;
	}
}

static void keystore_section(struct parse_state *st, const char *name)
{
	struct keystore_conf *ks = find_keystore(st->cfg->keystores, name);

	/* The name becomes a directory and a keyring description: keep it tame. */
	if (!*name || !all_chars_in(name, "_.-") || !strcmp(name, ".") || !strcmp(name, "..")) {
		report(st, st->line, NULL,
		       "[keystore %s]: the name must be letters, digits and _.-", name);
		return;
	}
	if (ks && (strcmp(name, "default") || st->default_written)) {
		report(st, st->line, NULL, "[keystore %s]: duplicate section", name);
		return;
	}
	if (!ks)
		ks = keystore_add(st->cfg, name);
	if (!strcmp(name, "default"))
		st->default_written = true;
	st->ks = ks;
	st->section = SECTION_KEYSTORE;
}

static void section_start(struct parse_state *st, const char *header, size_t len)
{
	char *copy = xstrndup(header, len), *name = trim(copy);

	st->section = SECTION_IGNORED;
	st->ks = NULL;
	memset(st->ks_lines, 0, sizeof(st->ks_lines));
	if (!strcasecmp(name, "est")) {
		if (st->est_line) {
			report(st, st->line, NULL, "[est]: duplicate section (first on line %d)",
			       st->est_line);
		} else {
			st->est_line = st->line;
			st->section = SECTION_EST;
		}
	} else if (!strncasecmp(name, "keystore", 8) &&
		   (!name[8] || isspace((unsigned char)name[8]))) {
		keystore_section(st, trim(name + 8));
	} else {
		report(st, st->line, NULL, "[%s]: unknown section", name);
	}
	free(copy);
}

/* inih's find_chars_or_comment(): stops at one of chars or at a ';' after a blank. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/*
 * Sorts a stripped line the way inih will, so every syntax error is reported (inih only
 * returns the first) and sections are known even when they hold no key. False: skip the line.
 */
static bool check_line(struct parse_state *st, const char *line)
{
	const char *end;

	if (!*line || *line == ';' || *line == '#')
		return true;
	if (*line == '[') {
		end = find_chars_or_comment(line + 1, "]");
		if (*end != ']') {
			report(st, st->line, NULL, "syntax error (missing ])");
			st->section = SECTION_IGNORED;
			return false;
		}
		section_start(st, line + 1, (size_t)(end - line - 1));
		return true;
	}
	end = find_chars_or_comment(line, "=:");
	if (!*end || *end == ';' || end == line) {
		report(st, st->line, NULL, "syntax error (expected KEY = VALUE)");
		return false;
	}
	return true;
}

/*
 * ini_reader over the file in memory. inih calls the handler for a line before it reads the
 * next one, so st->line is the handler's line number. Leading blanks are dropped: inih would
 * take an indented line for the continuation of the previous value (multi-line values are on
 * in Debian's build); here an indented line is an ordinary line.
 */
static char *reader(char *buf, int size, void *stream)
{
	struct parse_state *st = stream;
	const char *p, *end, *nl;
	size_t n;

	wipe(buf, (size_t)size); /* the previous line may have been a password */
	if (st->pos >= st->len)
		return NULL;
	p = st->data + st->pos;
	nl = memchr(p, '\n', st->len - st->pos);
	end = nl ? nl : st->data + st->len;
	st->pos = (size_t)(end - st->data) + (nl ? 1 : 0);
	st->line++;
	if (st->line == 1 && end - p >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	while (p < end && isspace((unsigned char)*p))
		p++;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	n = (size_t)(end - p);
	if (memchr(p, '\0', n) || n >= (size_t)size) {
		if (n >= (size_t)size)
			report(st, st->line, NULL, "line too long (at most %d characters)",
			       size - 1);
		else
			report(st, st->line, NULL, "NUL byte in the line");
		/* A lost header must not lend its keys to the section before it. */
		if (*p == '[')
			st->section = SECTION_IGNORED;
		n = 0;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (!check_line(st, buf))
		buf[0] = '\0';
	return buf;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;

	(void)section; /* st->section, set by the reader, says the same and more */
	switch (st->section) {
	case SECTION_NONE:
		key_error(st, name, "outside of any section (put it under [est])");
		break;
	case SECTION_EST:
		est_key(st, name, value);
		break;
	case SECTION_KEYSTORE:
		keystore_key(st, name, value);
		break;
	case SECTION_IGNORED:
		break;
	}
	return 1; /* errors are counted here; a 0 would only make inih report the line again */
}

static void check_required(struct parse_state *st)
{
	static const enum est_key required[] = {EST_SERVER, EST_CA_ROOT, EST_SUBJECT};
	size_t i;

	if (!st->est_line) {
		report(st, 0, NULL, "[est]: section missing");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(required); i++)
		if (!st->est_lines[required[i]])
			report(st, st->est_line, est_keys[required[i]].name,
			       "required key missing");
}

static void check_key(struct parse_state *st)
{
	struct config *cfg = st->cfg;
	const char *why = NULL;

	if (st->est_bad[EST_KEY_ALGORITHM])
		return;
	if (!cfg->key_params)
		cfg->key_params = xstrdup(crypto_default_key_params(cfg->key_algorithm));
	else if (crypto_check_key_params(cfg->key_algorithm, cfg->key_params, &why) < 0)
		report(st, st->est_lines[EST_KEY_PARAMS], "key_params", "%s (key_algorithm %s)",
		       why ? why : "not supported", key_alg_names[cfg->key_algorithm]);
	why = NULL;
	if (cfg->csr_signer && crypto_check_signer(cfg->key_algorithm, cfg->csr_signer, &why) < 0)
		report(st, st->est_lines[EST_CSR_SIGNER], "csr_signer", "%s (key_algorithm %s)",
		       why ? why : "not supported", key_alg_names[cfg->key_algorithm]);
}

static void check_keystore_ref(struct parse_state *st, enum est_key k, const char *name)
{
	if (!st->est_bad[k] && !config_keystore(st->cfg, name))
		report(st, st->est_lines[k], est_keys[k].name, "no [keystore %s] section", name);
}

/* A password file minus one trailing LF or CRLF. 0, -errno, -EINVAL (NUL byte), -ENODATA. */
static int read_secret(const char *path, char **out_secret)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = read_file(path, PASSWORD_MAX_SIZE, &buf, &len);
	if (r < 0)
		goto out;
	if (len && buf[len - 1] == '\n') {
		buf[--len] = '\0';
		if (len && buf[len - 1] == '\r')
			buf[--len] = '\0';
	}
	if (strlen(buf) != len) {
		r = -EINVAL;
		goto out;
	}
	if (!len) {
		r = -ENODATA;
		goto out;
	}
	*out_secret = buf;
	buf = NULL;
out:
	wipe_free(buf, len);
	return r;
}

static void report_secret(struct parse_state *st, int line, const char *key, const char *path,
			  int r)
{
	if (r == -EINVAL)
		report(st, line, key, "%s contains a NUL byte", path);
	else if (r == -ENODATA)
		report(st, line, key, "%s is empty", path);
	else
		report(st, line, key, "cannot read %s: %s", path, strerror(-r));
}

static void check_ca_root(struct parse_state *st)
{
	const char *path = st->cfg->ca_root;
	STACK_OF(X509) *certs = NULL;
	char *pem = NULL;
	size_t len = 0;
	int r;

	r = read_file(path, CA_ROOT_MAX_SIZE, &pem, &len);
	if (r < 0)
		report(st, st->est_lines[EST_CA_ROOT], "ca_root", "cannot read %s: %s", path,
		       strerror(-r));
	else if (crypto_certs_from_pem(pem, len, &certs) < 0)
		report(st, st->est_lines[EST_CA_ROOT], "ca_root", "%s contains no PEM certificate",
		       path);
	sk_X509_pop_free(certs, X509_free);
	free(pem);
}

/* False on error. */
static bool load_password_file(struct parse_state *st)
{
	const char *path = st->cfg->password_file;
	char *secret = NULL;
	struct stat sb;
	int r;

	r = read_secret(path, &secret);
	if (r < 0) {
		report_secret(st, st->est_lines[EST_PASSWORD_FILE], "password_file", path, r);
		return false;
	}
	wipe_str(st->cfg->password); /* read by an earlier config_load_secrets() that failed */
	st->cfg->password = secret;
	if (stat(path, &sb) == 0 && (sb.st_mode & (S_IRWXG | S_IRWXO)))
		log_warn("%s: password file is readable by group or others", path);
	return true;
}

/* systemd's LoadCredential=est-password:... lands in $CREDENTIALS_DIRECTORY. False on error. */
static bool load_credential(struct parse_state *st)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char *path = NULL;
	int r = 0;

	if (!dir || !*dir)
		goto out;
	path = xasprintf("%s/est-password", dir);
	r = read_secret(path, &st->cfg->password);
	if (r == -ENOENT) {
		r = 0;
		goto out;
	}
	if (r < 0) {
		report_secret(st, st->est_lines[EST_HTTP_AUTH], "password", path, r);
		goto out;
	}
	/* The credential is the password file in effect; check-config shows where it came from. */
	st->cfg->password_file = path;
	path = NULL;
out:
	free(path);
	return r == 0;
}

/* What can be told without reading the password; load_password() does the rest. */
static void check_auth(struct parse_state *st)
{
	struct config *cfg = st->cfg;

	if (cfg->password && cfg->password_file) {
		bool file_later = st->est_lines[EST_PASSWORD_FILE] > st->est_lines[EST_PASSWORD];

		report(st,
		       file_later ? st->est_lines[EST_PASSWORD_FILE] : st->est_lines[EST_PASSWORD],
		       file_later ? "password_file" : "password",
		       "password and password_file are mutually exclusive");
		return;
	}
	if (cfg->http_auth != HTTP_AUTH_NONE && !cfg->username)
		report(st, st->est_lines[EST_HTTP_AUTH], "http_auth", "%s needs username",
		       http_auth_names[cfg->http_auth]);
}

static void load_password(struct parse_state *st)
{
	struct config *cfg = st->cfg;
	bool loaded = true;

	if (cfg->password_file)
		loaded = load_password_file(st);
	else if (!cfg->password && cfg->http_auth != HTTP_AUTH_NONE)
		loaded = load_credential(st);
	if (cfg->http_auth != HTTP_AUTH_NONE && !cfg->password && loaded)
		report(st, st->est_lines[EST_HTTP_AUTH], "http_auth",
		       "%s needs password, password_file or the est-password credential",
		       http_auth_names[cfg->http_auth]);
}

static void check_all(struct parse_state *st)
{
	struct config *cfg = st->cfg;

	check_required(st);
	check_key(st);
	if (!cfg->tls_client_keystore)
		cfg->tls_client_keystore = xstrdup(cfg->keystore);
	check_keystore_ref(st, EST_KEYSTORE, cfg->keystore);
	if (st->est_lines[EST_TLS_CLIENT_KEYSTORE])
		check_keystore_ref(st, EST_TLS_CLIENT_KEYSTORE, cfg->tls_client_keystore);
	check_auth(st);
}

static struct config *config_new(const char *file)
{
	struct config *cfg = xzalloc(sizeof(*cfg));

	cfg->file = xstrdup(file);
	cfg->enabled = true;
	cfg->keystore = xstrdup("default");
	cfg->ca_rollover = true;
	cfg->expiration_check = 30 * 86400;
	cfg->retry_interval = 60;
	cfg->timeout = 30;
	cfg->tls_client_alias = xstrdup("client-auth-certs");
	cfg->http_auth = HTTP_AUTH_NONE;
	cfg->pop_binding = POP_BINDING_TLS_UNIQUE;
	cfg->renew = true;
	cfg->renew_rekey = true;
	cfg->key_algorithm = KEY_ALG_EC;
	cfg->key_source = KEY_SOURCE_LOCAL;
	keystore_add(cfg, "default");
	return cfg;
}

int config_load(const char *path, struct config **out_cfg)
{
	struct parse_state st = {.file = path};
	char *data = NULL;
	size_t len = 0;
	int r;

	r = read_file(path, CONFIG_MAX_SIZE, &data, &len);
	if (r < 0) {
		fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-r));
		goto out;
	}
	st.cfg = config_new(path);
	st.data = data;
	st.len = len;
	r = ini_parse_stream(reader, &st, handler, &st);
	if (r > 0 && r != st.err_line)
		report(&st, r, NULL, "syntax error");
	else if (r < 0)
		report(&st, st.line, NULL, "out of memory");
	check_all(&st);
	r = st.n_errors ? -EINVAL : 0;
	if (r == 0) {
		st.cfg->lines = xzalloc(sizeof(*st.cfg->lines));
		memcpy(st.cfg->lines->est, st.est_lines, sizeof(st.est_lines));
		*out_cfg = st.cfg;
		st.cfg = NULL;
	}
out:
	config_free(st.cfg);
	wipe_free(data, len);
	return r;
}

int config_load_secrets(struct config *cfg)
{
	struct parse_state st = {.file = cfg->file, .cfg = cfg};

	if (cfg->lines->secrets_loaded)
		return 0;
	memcpy(st.est_lines, cfg->lines->est, sizeof(st.est_lines));
	check_ca_root(&st);
	load_password(&st);
	if (st.n_errors)
		return -EINVAL;
	cfg->lines->secrets_loaded = true;
	return 0;
}

static void keystore_conf_free(struct keystore_conf *ks)
{
	free(ks->name);
	free(ks->keyring);
	free(ks->path);
	free(ks->group);
	free(ks);
}

void config_free(struct config *cfg)
{
	struct keystore_conf *ks, *next;

	if (!cfg)
		return;
	for (ks = cfg->keystores; ks; ks = next) {
		next = ks->next;
		keystore_conf_free(ks);
	}
	wipe_str(cfg->password);
	free(cfg->file);
	free(cfg->keystore);
	free(cfg->server);
	free(cfg->host);
	free(cfg->label);
	free(cfg->ca_root);
	free(cfg->tls_client_keystore);
	free(cfg->tls_client_alias);
	free(cfg->username);
	free(cfg->password_file);
	free(cfg->subject);
	free(cfg->key_params);
	free(cfg->csr_signer);
	free(cfg->lines);
	free(cfg);
}

const struct keystore_conf *config_keystore(const struct config *cfg, const char *name)
{
	return cfg && name ? find_keystore(cfg->keystores, name) : NULL;
}

const char *config_key_alg_name(enum key_alg alg)
{
	switch (alg) {
	case KEY_ALG_EC:
	case KEY_ALG_RSA:
	case KEY_ALG_ED25519:
		return key_alg_names[alg];
	}
	return "?";
}

/* Largest exact unit, so the output reads back as the same value: 30d, 90s, 0. */
static const char *duration_str(uint64_t s, char *buf, size_t len)
{
	static const struct {
		uint64_t secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t i;

	if (!s)
		return "0";
	for (i = 0; s % units[i].secs; i++)
		;
	snprintf(buf, len, "%llu%c", (unsigned long long)(s / units[i].secs), units[i].unit);
	return buf;
}

static void kv(FILE *f, const char *key, const char *value)
{
	if (value && *value)
		fprintf(f, "%s = %s\n", key, value);
	else
		fprintf(f, "%s =\n", key);
}

static const char *bool_str(bool b)
{
	return b ? "true" : "false";
}

static void print_est(const struct config *cfg, FILE *f)
{
	char buf[32];

	fputs("[est]\n", f);
	kv(f, "enabled", bool_str(cfg->enabled));
	kv(f, "keystore", cfg->keystore);
	kv(f, "server", cfg->server);
	kv(f, "label", cfg->label);
	kv(f, "ca_root", cfg->ca_root);
	kv(f, "ca_rollover", bool_str(cfg->ca_rollover));
	if (cfg->expiration_check_pct)
		snprintf(buf, sizeof(buf), "%u%%", cfg->expiration_check_pct);
	kv(f, "expiration_check",
	   cfg->expiration_check_pct ? buf : duration_str(cfg->expiration_check, buf, sizeof(buf)));
	kv(f, "retry_interval", duration_str(cfg->retry_interval, buf, sizeof(buf)));
	kv(f, "retry_timeout", duration_str(cfg->retry_timeout, buf, sizeof(buf)));
	kv(f, "timeout", duration_str(cfg->timeout, buf, sizeof(buf)));
	kv(f, "tls_client_auth", bool_str(cfg->tls_client_auth));
	kv(f, "tls_client_keystore", cfg->tls_client_keystore);
	kv(f, "tls_client_alias", cfg->tls_client_alias);
	kv(f, "http_auth", http_auth_names[cfg->http_auth]);
	kv(f, "username", cfg->username);
	kv(f, "password", cfg->password ? "********" : NULL);
	kv(f, "password_file", cfg->password_file);
	kv(f, "pop", bool_str(cfg->pop));
	kv(f, "pop_binding", pop_binding_names[cfg->pop_binding]);
	kv(f, "renew", bool_str(cfg->renew));
	kv(f, "renew_rekey", bool_str(cfg->renew_rekey));
	kv(f, "subject", cfg->subject);
	kv(f, "key_algorithm", key_alg_names[cfg->key_algorithm]);
	kv(f, "key_params", cfg->key_params);
	kv(f, "key_source", key_source_names[cfg->key_source]);
	kv(f, "csr_signer", cfg->csr_signer);
}

void config_print(const struct config *cfg, FILE *f)
{
	const struct keystore_conf *ks;

	print_est(cfg, f);
	for (ks = cfg->keystores; ks; ks = ks->next) {
		fprintf(f, "\n[keystore %s]\n", ks->name);
		kv(f, "type", keystore_type_names[ks->type]);
		kv(f, "keyring", ks->keyring);
		kv(f, "path", ks->path);
		kv(f, "fallback", bool_str(ks->fallback));
		kv(f, "group", ks->group);
	}
}
