/* SPDX-License-Identifier: MIT */
/* The INI configuration: inih splits lines, this file sorts them into sections, checks the keys
 * together and reads the secrets; config_value.c types each value. */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>
#include <openssl/x509.h>

#include "certinfo.h"
#include "config.h"
#include "config_parse.h"
#include "crypto.h"
#include "dn.h"
#include "log.h"
#include "util.h"

#define CONFIG_MAX_SIZE (1024 * 1024)
#define CA_ROOT_MAX_SIZE (1024 * 1024)
#define PASSWORD_MAX_SIZE 4096
#define STATE_DIR LOCALSTATEDIR "/lib/est-enroll/"

/* What config_load_secrets() needs from the parse: where to point its errors. */
struct config_lines {
	int est[EST_N_KEYS];
	bool secrets_loaded;
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

void config_report(struct parse_state *st, int line, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(st, line, what, fmt, ap);
	va_end(ap);
}

void config_key_error(struct parse_state *st, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(st, st->line, key, fmt, ap);
	va_end(ap);
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

bool config_name_valid(const char *name)
{
	/* It becomes a directory and a keyring description: keep it tame. */
	return *name && config_all_chars_in(name, "_.-") && strcmp(name, ".") && strcmp(name, "..");
}

static void keystore_section(struct parse_state *st, const char *name)
{
	struct keystore_conf *ks = find_keystore(st->cfg->keystores, name);

	if (!config_name_valid(name)) {
		config_report(st, st->line, NULL,
			      "[keystore %s]: the name must be letters, digits and _.-", name);
		return;
	}
	if (ks && (strcmp(name, "default") || st->default_line)) {
		config_report(st, st->line, NULL, "[keystore %s]: duplicate section", name);
		return;
	}
	if (!ks)
		ks = keystore_add(st->cfg, name);
	if (!strcmp(name, "default"))
		st->default_line = st->line;
	st->ks = ks;
	st->section = SECTION_KEYSTORE;
}

static void section_start(struct parse_state *st, const char *header, size_t len)
{
	char *copy = xstrndup(header, len), *name = trim(copy);

	st->section = SECTION_IGNORED;
	st->ks = NULL;
	st->ex = NULL;
	memset(st->ks_lines, 0, sizeof(st->ks_lines));
	if (!strcasecmp(name, "est")) {
		if (st->est_line) {
			config_report(st, st->line, NULL,
				      "[est]: duplicate section (first on line %d)", st->est_line);
		} else {
			st->est_line = st->line;
			st->section = SECTION_EST;
		}
	} else if (!strncasecmp(name, "keystore", 8) &&
		   (!name[8] || isspace((unsigned char)name[8]))) {
		keystore_section(st, trim(name + 8));
	} else if (!strncasecmp(name, "export", 6) &&
		   (!name[6] || isspace((unsigned char)name[6]))) {
		config_export_section(st, trim(name + 6));
	} else {
		config_report(st, st->line, NULL, "[%s]: unknown section", name);
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
			config_report(st, st->line, NULL, "syntax error (missing ])");
			st->section = SECTION_IGNORED;
			return false;
		}
		section_start(st, line + 1, (size_t)(end - line - 1));
		return true;
	}
	end = find_chars_or_comment(line, "=:");
	if (!*end || *end == ';' || end == line) {
		config_report(st, st->line, NULL, "syntax error (expected KEY = VALUE)");
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
			config_report(st, st->line, NULL, "line too long (at most %d characters)",
				      size - 1);
		else
			config_report(st, st->line, NULL, "NUL byte in the line");
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
		config_key_error(st, name, "outside of any section (put it under [est])");
		break;
	case SECTION_EST:
		config_est_key(st, name, value);
		break;
	case SECTION_KEYSTORE:
		config_keystore_key(st, name, value);
		break;
	case SECTION_EXPORT:
		config_export_key(st, name, value);
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
		config_report(st, 0, NULL, "[est]: section missing");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(required); i++)
		if (!st->est_lines[required[i]])
			config_report(st, st->est_line, config_est_key_name(required[i]),
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
		config_report(st, st->est_lines[EST_KEY_PARAMS], "key_params",
			      "%s (key_algorithm %s)", why ? why : "not supported",
			      config_key_alg_names[cfg->key_algorithm]);
	why = NULL;
	if (cfg->csr_signer && crypto_check_signer(cfg->key_algorithm, cfg->csr_signer, &why) < 0)
		config_report(st, st->est_lines[EST_CSR_SIGNER], "csr_signer",
			      "%s (key_algorithm %s)", why ? why : "not supported",
			      config_key_alg_names[cfg->key_algorithm]);
}

static void check_keystore_ref(struct parse_state *st, enum est_key k, const char *name)
{
	if (!st->est_bad[k] && !config_keystore(st->cfg, name))
		config_report(st, st->est_lines[k], config_est_key_name(k),
			      "no [keystore %s] section", name);
}

/* A password file minus one trailing LF or CRLF. 0, -errno, -EINVAL (NUL byte), -ENODATA. */
int config_read_secret(const char *path, char **out_secret)
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

void config_report_secret(struct parse_state *st, int line, const char *key, const char *path,
			  int r)
{
	if (r == -EINVAL)
		config_report(st, line, key, "%s contains a NUL byte", path);
	else if (r == -ENODATA)
		config_report(st, line, key, "%s is empty", path);
	else
		config_report(st, line, key, "cannot read %s: %s", path, strerror(-r));
}

static void check_ca_root(struct parse_state *st)
{
	const char *path = st->cfg->ca_root;
	char *pem = NULL;
	size_t len = 0;
	int r;

	r = read_file(path, CA_ROOT_MAX_SIZE, &pem, &len);
	if (r < 0)
		config_report(st, st->est_lines[EST_CA_ROOT], "ca_root", "cannot read %s: %s", path,
			      strerror(-r));
	/* Read, not decoded whole: an idle pass needs only the fingerprint (certinfo.c). */
	else if (certinfo_pem_sha256(pem, len, st->cfg->ca_root_der_fp) < 0)
		config_report(st, st->est_lines[EST_CA_ROOT], "ca_root",
			      "%s contains no PEM certificate", path);
	else {
		free(st->cfg->ca_root_pem); /* read by an earlier config_load_secrets() that failed
					     */
		st->cfg->ca_root_pem = pem;
		st->cfg->ca_root_len = len;
		pem = NULL;
	}
	free(pem);
}

/* False on error. */
static bool load_password_file(struct parse_state *st)
{
	const char *path = st->cfg->password_file;
	char *secret = NULL;
	struct stat sb;
	int r;

	r = config_read_secret(path, &secret);
	if (r < 0) {
		config_report_secret(st, st->est_lines[EST_PASSWORD_FILE], "password_file", path,
				     r);
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
	r = config_read_secret(path, &st->cfg->password);
	if (r == -ENOENT) {
		r = 0;
		goto out;
	}
	if (r < 0) {
		config_report_secret(st, st->est_lines[EST_HTTP_AUTH], "password", path, r);
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

		config_report(st,
			      file_later ? st->est_lines[EST_PASSWORD_FILE]
					 : st->est_lines[EST_PASSWORD],
			      file_later ? "password_file" : "password",
			      "password and password_file are mutually exclusive");
		return;
	}
	if (cfg->http_auth != HTTP_AUTH_NONE && !cfg->username)
		config_report(st, st->est_lines[EST_HTTP_AUTH], "http_auth", "%s needs username",
			      config_http_auth_names[cfg->http_auth]);
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
		config_report(st, st->est_lines[EST_HTTP_AUTH], "http_auth",
			      "%s needs password, password_file or the est-password credential",
			      config_http_auth_names[cfg->http_auth]);
}

/* The profile a file stands for: its name without ".conf"; est-enroll.conf is "default". */
static char *profile_name(const char *file)
{
	const char *base = strrchr(file, '/');
	size_t n;

	base = base ? base + 1 : file;
	n = strlen(base);
	if (n > 5 && !strcmp(base + n - 5, ".conf"))
		n -= 5;
	if (n == strlen("est-enroll") && !strncmp(base, "est-enroll", n))
		return xstrdup("default");
	return xstrndup(base, n);
}

/* No keystore = ...: the keystore named after the profile, so two profiles never share one. */
static void profile_keystore(struct parse_state *st)
{
	struct config *cfg = st->cfg;
	char *name = profile_name(st->file);

	if (!config_name_valid(name)) {
		config_report(st, st->est_line, "keystore",
			      "the file name gives no keystore name ('%s' is not letters, digits "
			      "and _.-): set keystore = NAME",
			      name);
		free(name);
		return;
	}
	free(cfg->keystore);
	cfg->keystore = name;
	if (!config_keystore(cfg, name))
		keystore_add(cfg, name);
}

/* A written [keystore default] that a profile of another name would silently not use. */
static void check_default_used(struct parse_state *st)
{
	const struct config *cfg = st->cfg;

	if (!st->default_line || st->est_lines[EST_KEYSTORE] || !strcmp(cfg->keystore, "default") ||
	    !strcmp(cfg->tls_client_keystore, "default") || config_export_uses(cfg, "default"))
		return;
	config_report(st, st->default_line, NULL,
		      "[keystore default]: this profile stores into keystore %s (named after the "
		      "file): call the section [keystore %s], or set keystore = default",
		      cfg->keystore, cfg->keystore);
}

static void check_all(struct parse_state *st)
{
	struct config *cfg = st->cfg;

	check_required(st);
	check_key(st);
	if (st->est_line && !st->est_lines[EST_KEYSTORE])
		profile_keystore(st);
	if (!cfg->tls_client_keystore)
		cfg->tls_client_keystore = xstrdup(cfg->keystore);
	check_keystore_ref(st, EST_KEYSTORE, cfg->keystore);
	if (st->est_lines[EST_TLS_CLIENT_KEYSTORE])
		check_keystore_ref(st, EST_TLS_CLIENT_KEYSTORE, cfg->tls_client_keystore);
	check_auth(st);
	config_hw_check(st);
	config_export_check(st);
	check_default_used(st);
}

static struct config *config_new(const char *file)
{
	struct config *cfg = xzalloc(sizeof(*cfg));

	cfg->file = xstrdup(file);
	cfg->enabled = true;
	cfg->keystore = xstrdup("default");
	cfg->server_trust = SERVER_TRUST_CACERTS_CA_ROOT;
	cfg->ca_rollover = true;
	cfg->expiration_check = 30 * 86400;
	cfg->retry_interval = 60;
	cfg->timeout = 30;
	cfg->tls_client_alias = xstrdup("client-auth-certs");
	cfg->http_auth = HTTP_AUTH_NONE;
	cfg->pop_binding = POP_BINDING_AUTO;
	cfg->renew = true;
	cfg->renew_rekey = true;
	cfg->key_algorithm = KEY_ALG_EC;
	cfg->key_source = KEY_SOURCE_LOCAL;
	cfg->hooks = xstrdup(SYSCONFDIR "/est-enroll/hooks.d");
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
		config_report(&st, r, NULL, "syntax error");
	else if (r < 0)
		config_report(&st, st.line, NULL, "out of memory");
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
	config_hw_load_pin(&st);
	if (st.n_errors)
		return -EINVAL;
	cfg->lines->secrets_loaded = true;
	return 0;
}

int config_check_subject(const struct config *cfg)
{
	struct parse_state st = {.file = cfg->file};
	X509_NAME *name = NULL;
	const char *why = NULL;

	if (dn_parse(cfg->subject, &name, &why) < 0) {
		config_report(&st, cfg->lines->est[EST_SUBJECT], "subject", "%s",
			      why ? why : "not an RFC 4514 distinguished name");
		return -EINVAL;
	}
	X509_NAME_free(name);
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
	config_export_free(cfg->exports);
	wipe_str(cfg->password);
	free(cfg->file);
	free(cfg->keystore);
	free(cfg->server);
	free(cfg->host);
	free(cfg->label);
	free(cfg->ca_root);
	free(cfg->ca_root_pem);
	wipe_str(cfg->proxy); /* may hold the proxy's password */
	free(cfg->tls_client_keystore);
	free(cfg->tls_client_alias);
	free(cfg->username);
	free(cfg->password_file);
	free(cfg->subject);
	free(cfg->key_params);
	free(cfg->csr_signer);
	free(cfg->pkcs11_uri);
	free(cfg->tpm_tcti);
	free(cfg->pkcs11_module);
	free(cfg->pkcs11_pin_file);
	free(cfg->hooks);
	free(cfg->metrics);
	free(cfg->lines);
	free(cfg);
}

const struct keystore_conf *config_keystore(const struct config *cfg, const char *name)
{
	return cfg && name ? find_keystore(cfg->keystores, name) : NULL;
}
