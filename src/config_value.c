/* SPDX-License-Identifier: MIT */
/* One parser per kind of value, with its range checks: what config.c calls for each KEY = VALUE. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>

#include "config.h"
#include "config_parse.h"
#include "dn.h"
#include "util.h"

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

const char *const config_http_auth_names[] = {
	[HTTP_AUTH_NONE] = "none",
	[HTTP_AUTH_BASIC] = "basic",
	[HTTP_AUTH_DIGEST] = "digest",
};
const char *const config_key_alg_names[] = {
	[KEY_ALG_EC] = "EC",
	[KEY_ALG_RSA] = "RSA",
	[KEY_ALG_ED25519] = "ED25519",
};
const char *const config_key_source_names[] = {
	[KEY_SOURCE_LOCAL] = "local",
	[KEY_SOURCE_SERVER] = "server",
};
const char *const config_pop_binding_names[] = {
	[POP_BINDING_AUTO] = "",
	[POP_BINDING_TLS_UNIQUE] = "tls-unique",
	[POP_BINDING_TLS_EXPORTER] = "tls-exporter",
};
const char *const config_server_trust_names[] = {
	[SERVER_TRUST_CACERTS_CA_ROOT] = "cacerts+ca_root",
	[SERVER_TRUST_CACERTS] = "cacerts",
};
const char *const config_keystore_type_names[] = {
	[KEYSTORE_TYPE_KEYRING] = "keyring",
	[KEYSTORE_TYPE_FILE] = "file",
};
static const char *const ks_key_names[] = {
	[KS_TYPE] = "type",	    [KS_KEYRING] = "keyring", [KS_PATH] = "path",
	[KS_FALLBACK] = "fallback", [KS_GROUP] = "group",
};

static int lookup(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && !strcasecmp(names[i], s))
			return (int)i;
	return -1;
}

bool config_all_chars_in(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

static void set_string(char **field, const char *value)
{
	free(*field);
	*field = *value ? xstrdup(value) : NULL;
}

/* Checks "host:port" or "[v6addr]:port": NULL with the host (no brackets) and port, or why not. */
static const char *host_port(const char *v, char **out_host, unsigned long *out_port)
{
	const char *why = NULL, *port = NULL;
	struct in6_addr a6;
	unsigned long n = 0;
	char *host = NULL;

	if (*v == '[') {
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
		else if (!*host || !config_all_chars_in(host, "-._"))
			why = "bad host name";
	}
	if (!why && parse_uint(port + 1, 1, 65535, &n) < 0)
		why = "port must be a number from 1 to 65535";
	if (why) {
		free(host);
		return why;
	}
	*out_host = host;
	*out_port = n;
	return NULL;
}

static void set_server(struct parse_state *st, const char *key, const char *v)
{
	const char *why = NULL;
	unsigned long port = 0;
	char *host = NULL;

	if (strstr(v, "://"))
		why = "must be host:port without a scheme";
	else if (strchr(v, '/'))
		why = "must be host:port without a path (the label goes in label =)";
	else
		why = host_port(v, &host, &port);
	if (why) {
		config_key_error(st, key, "%s", why);
		return;
	}
	set_string(&st->cfg->server, v);
	free(st->cfg->host);
	st->cfg->host = host;
	st->cfg->port = (unsigned int)port;
}

static void set_server_trust(struct parse_state *st, const char *key, const char *v)
{
	int i = lookup(config_server_trust_names, ARRAY_SIZE(config_server_trust_names), v);

	if (i < 0)
		config_key_error(st, key, "must be cacerts+ca_root or cacerts");
	else
		st->cfg->server_trust = (enum server_trust)i;
}

bool config_pct_chars_ok(const char *s, size_t n, const char *extra)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return false;
			i += 2;
		} else if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i])) {
			return false;
		}
	}
	return true;
}

/* RFC 3986 userinfo: unreserved, sub-delims, ":" and %XX, nothing else. */
static bool userinfo_ok(const char *s, size_t n)
{
	return config_pct_chars_ok(s, n, "-._~!$&'()*+,;=:");
}

/* The proxy URL schemes libcurl is given: CONNECT over HTTP or TLS, SOCKS5 resolving there. */
static const char *const proxy_schemes[] = {"http://", "https://", "socks5h://"};

/*
 * Empty: the environment decides; "none": never; else SCHEME://[user:password@]host[:port][/].
 * The credentials are libcurl's to percent-decode; only their place is checked here.
 */
static void set_proxy(struct parse_state *st, const char *key, const char *v)
{
	const char *why = NULL, *rest = NULL, *at;
	unsigned long port = 0;
	char *hp = NULL, *host = NULL;
	size_t i, n;

	wipe_str(st->cfg->proxy);
	st->cfg->proxy = NULL;
	if (!*v)
		return;
	if (!strcasecmp(v, "none")) {
		st->cfg->proxy = xstrdup("");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(proxy_schemes) && !rest; i++)
		if (!strncasecmp(v, proxy_schemes[i], strlen(proxy_schemes[i])))
			rest = v + strlen(proxy_schemes[i]);
	if (!rest) {
		config_key_error(st, key,
				 "must be empty, none, or an http://, https:// or socks5h:// URL");
		return;
	}
	at = strchr(rest, '@');
	if (at && (at == rest || *rest == ':'))
		why = "no user name before the @ of the proxy URL";
	else if (at && !userinfo_ok(rest, (size_t)(at - rest)))
		why = "user:password@ holds a character to write as %XX (e.g. %40 for @, %2F for "
		      "/)";
	hp = xstrdup(at ? at + 1 : rest);
	n = strlen(hp);
	if (n && hp[n - 1] == '/')
		hp[n - 1] = '\0';
	if (why)
		;
	else if (strchr(hp, '/'))
		why = "must be SCHEME://[user:password@]host[:port] without a path";
	else if (*hp == '[' ? !strstr(hp, "]:") : !strchr(hp, ':'))
		/* libcurl's default, 1080, is no proxy's port one would guess: ask for it. */
		why = "missing :port";
	else
		why = host_port(hp, &host, &port);
	if (why)
		config_key_error(st, key, "%s", why);
	else
		st->cfg->proxy = xstrdup(v);
	free(host);
	free(hp);
}

static void set_label(struct parse_state *st, const char *key, const char *v)
{
	/* RFC 7030 3.2.2: one path segment; "." and ".." would walk the path instead. */
	if (!config_all_chars_in(v, "._~-") || !strcmp(v, ".") || !strcmp(v, "..")) {
		config_key_error(st, key, "must be one path segment of letters, digits and ._~-");
		return;
	}
	set_string(&st->cfg->label, v);
}

/* The file itself is read by config_load_secrets(): load and status run before it exists. */
static void set_ca_root(struct parse_state *st, const char *key, const char *v)
{
	if (!*v)
		config_key_error(st, key, "must not be empty");
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
		config_key_error(st, key, "out of range");
	else if (r < 0)
		config_key_error(
			st, key,
			"not a duration: a number with s, m, h or d, e.g. 30s, 5m, 2h, 1d");
	else if (s < min)
		config_key_error(st, key, "must be at least %llus", (unsigned long long)min);
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
		config_key_error(st, key, "a percentage of the lifetime must be 1%% to 99%%");
	} else {
		st->cfg->expiration_check_pct = (unsigned int)pct;
		st->cfg->expiration_check = 0;
	}
	free(num);
}

static void set_http_auth(struct parse_state *st, const char *key, const char *v)
{
	int i = lookup(config_http_auth_names, ARRAY_SIZE(config_http_auth_names), v);

	if (i < 0)
		config_key_error(st, key, "must be none, basic or digest");
	else
		st->cfg->http_auth = (enum http_auth)i;
}

static void set_pop_binding(struct parse_state *st, const char *key, const char *v)
{
	int i = lookup(config_pop_binding_names, ARRAY_SIZE(config_pop_binding_names), v);

	if (i < 0)
		config_key_error(st, key, "must be empty, tls-unique or tls-exporter");
	else
		st->cfg->pop_binding = (enum pop_binding)i;
}

static void set_key_algorithm(struct parse_state *st, const char *key, const char *v)
{
	int i = lookup(config_key_alg_names, ARRAY_SIZE(config_key_alg_names), v);

	if (i < 0)
		config_key_error(st, key, "must be EC, RSA or ED25519");
	else
		st->cfg->key_algorithm = (enum key_alg)i;
}

static void set_key_source(struct parse_state *st, const char *key, const char *v)
{
	int i = lookup(config_key_source_names, ARRAY_SIZE(config_key_source_names), v);

	if (i < 0)
		config_key_error(st, key, "must be local or server");
	else
		st->cfg->key_source = (enum key_source)i;
}

static void set_subject(struct parse_state *st, const char *key, const char *v)
{
	const char *why = NULL;

	if (!*v) {
		config_key_error(st, key, "must not be empty");
		return;
	}
	/* The values against their types: config_check_subject(), once a CSR may be made. */
	if (dn_check(v, &why) < 0) {
		config_key_error(st, key, "%s", why ? why : "not an RFC 4514 distinguished name");
		return;
	}
	set_string(&st->cfg->subject, v);
}

static void set_password(struct parse_state *st, const char *key, const char *v)
{
	(void)key;
	wipe_str(st->cfg->password);
	st->cfg->password = *v ? xstrdup(v) : NULL;
}

/* Empty: no hooks at all. */
static void set_hooks(struct parse_state *st, const char *key, const char *v)
{
	if (*v && *v != '/')
		config_key_error(st, key, "must be an absolute path (or empty: no hooks)");
	else
		set_string(&st->cfg->hooks, v);
}

/* Empty: no metrics file. */
static void set_metrics(struct parse_state *st, const char *key, const char *v)
{
	if (*v && *v != '/')
		config_key_error(st, key, "must be an absolute path (or empty: no metrics)");
	else if (*v && v[strlen(v) - 1] == '/')
		config_key_error(st, key, "must name a file, not a directory");
	else
		set_string(&st->cfg->metrics, v);
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
	SPECIAL(EST_SERVER_TRUST, "server_trust", set_server_trust),
	SPECIAL(EST_PROXY, "proxy", set_proxy),
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
	SPECIAL(EST_KEY_STORAGE, "key_storage", config_set_key_storage),
	SPECIAL(EST_TPM_TCTI, "tpm_tcti", config_set_tpm_tcti),
	SPECIAL(EST_PKCS11_MODULE, "pkcs11_module", config_set_hw_path),
	SPECIAL(EST_PKCS11_PIN_FILE, "pkcs11_pin_file", config_set_hw_path),
	SPECIAL(EST_HOOKS, "hooks", set_hooks),
	SPECIAL(EST_METRICS, "metrics", set_metrics),
};

static void set_bool(struct parse_state *st, const char *key, const char *v, bool *field)
{
	if (parse_bool(v, field) < 0)
		config_key_error(st, key, "not a boolean: true/false, yes/no, on/off, 1/0");
}

void config_est_key(struct parse_state *st, const char *name, const char *v)
{
	const struct est_key_desc *d;
	int i = 0, errors = st->n_errors;
	void *field;

	while (i < EST_N_KEYS && strcasecmp(est_keys[i].name, name))
		i++;
	if (i == EST_N_KEYS) {
		config_key_error(st, name, "unknown key");
		return;
	}
	d = &est_keys[i];
	if (st->est_lines[i]) {
		config_key_error(st, d->name, "duplicate key (first set on line %d)",
				 st->est_lines[i]);
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
			config_key_error(st, d->name, "must not be empty");
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

const char *config_est_key_name(enum est_key k)
{
	return est_keys[k].name;
}

int config_parse_gid(const char *v, gid_t *out_gid)
{
	struct group *gr = getgrnam(v);
	unsigned long gid;

	if (gr)
		gid = gr->gr_gid;
	else if (parse_uint(v, 0, (gid_t)-2, &gid) < 0)
		return -ENOENT;
	*out_gid = (gid_t)gid;
	return 0;
}

static void set_group(struct parse_state *st, const char *key, const char *v)
{
	struct keystore_conf *ks = st->ks;
	gid_t gid;

	if (!*v) {
		free(ks->group);
		ks->group = NULL;
		ks->gid = (gid_t)-1;
		return;
	}
	if (config_parse_gid(v, &gid) < 0) {
		config_key_error(st, key, "unknown group %s", v);
		return;
	}
	set_string(&ks->group, v);
	ks->gid = gid;
}

void config_keystore_key(struct parse_state *st, const char *name, const char *v)
{
	struct keystore_conf *ks = st->ks;
	int i = lookup(ks_key_names, KS_N_KEYS, name);

	if (i < 0) {
		config_key_error(st, name, "unknown key");
		return;
	}
	name = ks_key_names[i];
	if (st->ks_lines[i]) {
		config_key_error(st, name, "duplicate key (first set on line %d)", st->ks_lines[i]);
		return;
	}
	st->ks_lines[i] = st->line;
	switch ((enum ks_key)i) {
	case KS_TYPE:
		i = lookup(config_keystore_type_names, ARRAY_SIZE(config_keystore_type_names), v);
		if (i < 0)
			config_key_error(st, name, "must be keyring or file");
		else
			ks->type = (enum keystore_type)i;
		break;
	case KS_KEYRING:
		if (!*v)
			config_key_error(st, name, "must not be empty");
		else
			set_string(&ks->keyring, v);
		break;
	case KS_PATH:
		if (*v != '/')
			config_key_error(st, name, "must be an absolute path");
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

const char *config_key_alg_name(enum key_alg alg)
{
	switch (alg) {
	case KEY_ALG_EC:
	case KEY_ALG_RSA:
	case KEY_ALG_ED25519:
		return config_key_alg_names[alg];
	}
	return "?";
}
