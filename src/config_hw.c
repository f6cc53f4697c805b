/* SPDX-License-Identifier: MIT */
/* key_storage and the keys that go with it: a TPM's TCTI, a PKCS#11 token's URI, module, PIN. */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "config_parse.h"
#include "log.h"
#include "util.h"

/*
 * The values end up in an OpenSSL configuration text (crypto_hw.c) and in the provider's own
 * parsers: no blanks, quotes, backslashes, '$' (a variable there) or '#' (a comment).
 */
static bool cnf_safe(const char *s)
{
	for (; *s; s++)
		if (!isgraph((unsigned char)*s) || strchr("\"'\\$#", *s))
			return false;
	return true;
}

/* RFC 7512 attribute names that name a token or its slot; at least one is needed. */
static const char *const token_attrs[] = {
	"token",   "manufacturer", "serial", "model", "slot-description", "slot-manufacturer",
	"slot-id",
};
/* Allowed, but they do not pick a token on their own. */
static const char *const library_attrs[] = {
	"library-manufacturer",
	"library-description",
	"library-version",
};

static bool in_list(const char *const *list, size_t n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len && !strncasecmp(list[i], name, len))
			return true;
	return false;
}

/* A value of pk11-pchar / pk11-qchar: unreserved, %XX, and the sub-delims RFC 7512 allows. */
static bool value_ok(const char *s, size_t n)
{
	return config_pct_chars_ok(s, n, "-._~:[]@!'()*+,=&/|");
}

/* One NAME=VALUE of the path (query false) or the query: NULL, or why it is refused. */
static const char *uri_attr(const char *a, size_t n, bool query, unsigned int *seen_token)
{
	const char *eq = memchr(a, '=', n);
	size_t name_len = eq ? (size_t)(eq - a) : 0;

	if (!eq || !name_len)
		return "each attribute is NAME=VALUE";
	if (!value_ok(eq + 1, n - name_len - 1))
		return "a value holds a character to write as %XX";
	if (query) {
		if (in_list((const char *const[]){"pin-value", "pin-source"}, 2, a, name_len))
			return "no PIN in the URI: put it in pkcs11_pin_file";
		if (in_list((const char *const[]){"module-name", "module-path"}, 2, a, name_len))
			return "the module goes in pkcs11_module";
		return "unknown query attribute";
	}
	if (in_list((const char *const[]){"object", "id", "type"}, 3, a, name_len))
		return "name the token only: est-enroll names the key objects it makes";
	if (in_list(token_attrs, ARRAY_SIZE(token_attrs), a, name_len)) {
		(*seen_token)++;
		return NULL;
	}
	if (in_list(library_attrs, ARRAY_SIZE(library_attrs), a, name_len) ||
	    (name_len > 2 && !strncasecmp(a, "x-", 2)))
		return NULL;
	return "unknown attribute";
}

/* NULL when uri is a pkcs11: URI that names a token and nothing else; else why not. */
static const char *check_uri(const char *uri)
{
	const char *p = uri + strlen("pkcs11:"), *end, *why = NULL;
	unsigned int seen_token = 0;
	bool query = false;

	if (!cnf_safe(uri))
		return "blanks, quotes, '\\', '$' and '#' are written as %XX";
	while (*p && !why) {
		end = p + strcspn(p, query ? "&" : ";?");
		if (end == p)
			why = "empty attribute";
		else
			why = uri_attr(p, (size_t)(end - p), query, &seen_token);
		if (*end == '?')
			query = true;
		p = *end ? end + 1 : end;
		if (!why && !*p && (*end == ';' || *end == '&' || *end == '?'))
			why = "empty attribute";
	}
	if (!why && !seen_token)
		why = "the URI names no token (e.g. pkcs11:token=device)";
	return why;
}

void config_set_key_storage(struct parse_state *st, const char *key, const char *v)
{
	struct config *cfg = st->cfg;
	const char *why;

	free(cfg->pkcs11_uri);
	cfg->pkcs11_uri = NULL;
	if (!strcasecmp(v, "software")) {
		cfg->key_storage = KEY_STORAGE_SOFTWARE;
	} else if (!strcasecmp(v, "tpm")) {
		cfg->key_storage = KEY_STORAGE_TPM;
	} else if (!strncasecmp(v, "pkcs11:", 7)) {
		why = check_uri(v);
		if (why) {
			config_key_error(st, key, "%s", why);
			return;
		}
		cfg->key_storage = KEY_STORAGE_PKCS11;
		cfg->pkcs11_uri = xstrdup(v);
	} else {
		config_key_error(st, key,
				 "must be software, tpm or a PKCS#11 token URI "
				 "(pkcs11:token=NAME)");
	}
}

void config_set_tpm_tcti(struct parse_state *st, const char *key, const char *v)
{
	size_t name_len = strcspn(v, ":");

	free(st->cfg->tpm_tcti);
	st->cfg->tpm_tcti = NULL;
	if (!*v)
		return;
	/* tpm2-tss's NAME[:CONF]: device, tabrmd, swtpm, mssim, or a library's file name. */
	if (!name_len || !cnf_safe(v) ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != name_len) {
		config_key_error(st, key,
				 "must be NAME[:CONFIG] as tpm2-tss takes it (e.g. "
				 "device:/dev/tpmrm0, tabrmd:bus_type=system), without blanks, "
				 "quotes, '\\', '$' or '#'");
		return;
	}
	st->cfg->tpm_tcti = xstrdup(v);
}

void config_set_hw_path(struct parse_state *st, const char *key, const char *v)
{
	char **field =
		!strcmp(key, "pkcs11_module") ? &st->cfg->pkcs11_module : &st->cfg->pkcs11_pin_file;

	free(*field);
	*field = NULL;
	if (!*v)
		return;
	if (*v != '/' || !cnf_safe(v)) {
		config_key_error(st, key,
				 "must be an absolute path without blanks, quotes, '\\', "
				 "'$' or '#' (or empty)");
		return;
	}
	*field = xstrdup(v);
}

/* An error on key's line when key is set but key_storage is not want. */
static void only_with(struct parse_state *st, enum est_key k, bool set, enum key_storage want,
		      const char *what)
{
	if (set && st->cfg->key_storage != want)
		config_report(st, st->est_lines[k], config_est_key_name(k),
			      "only with key_storage = %s", what);
}

void config_hw_check(struct parse_state *st)
{
	struct config *cfg = st->cfg;
	int line = st->est_lines[EST_KEY_STORAGE];

	if (st->est_bad[EST_KEY_STORAGE])
		return;
	only_with(st, EST_TPM_TCTI, cfg->tpm_tcti, KEY_STORAGE_TPM, "tpm");
	only_with(st, EST_PKCS11_MODULE, cfg->pkcs11_module, KEY_STORAGE_PKCS11, "pkcs11:...");
	only_with(st, EST_PKCS11_PIN_FILE, cfg->pkcs11_pin_file, KEY_STORAGE_PKCS11, "pkcs11:...");
	if (cfg->key_storage == KEY_STORAGE_SOFTWARE)
		return;
	/* Never a silent fallback: a key the server made has been outside the hardware. */
	if (cfg->key_source == KEY_SOURCE_SERVER)
		config_report(st, line, "key_storage",
			      "%s keeps the key inside the hardware: key_source = server made it "
			      "outside (use key_source = local)",
			      cfg->key_storage == KEY_STORAGE_TPM ? "tpm" : "a PKCS#11 token");
	if (cfg->key_storage == KEY_STORAGE_TPM && cfg->key_algorithm == KEY_ALG_ED25519 &&
	    !st->est_bad[EST_KEY_ALGORITHM])
		config_report(st, line, "key_storage",
			      "a TPM 2.0 makes EC and RSA keys, not ED25519 (key_algorithm)");
}

/* A PIN as a token takes it: one line (config_read_secret() dropped its newline). */
static bool pin_ok(const char *pin)
{
	return !strpbrk(pin, "\r\n");
}

static void check_pin_file(struct parse_state *st, const char *path, const char *key, int line)
{
	char *pin = NULL;
	struct stat sb;
	int r;

	r = config_read_secret(path, &pin);
	if (r < 0)
		config_report_secret(st, line, key, path, r);
	else if (!pin_ok(pin))
		config_report(st, line, key, "%s: the PIN must be one line", path);
	else if (stat(path, &sb) == 0 && (sb.st_mode & (S_IRWXG | S_IRWXO)))
		log_warn("%s: PIN file is readable by group or others", path);
	wipe_str(pin);
}

void config_hw_load_pin(struct parse_state *st)
{
	struct config *cfg = st->cfg;
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char *path = NULL;
	struct stat sb;

	if (cfg->key_storage != KEY_STORAGE_PKCS11)
		return;
	if (cfg->pkcs11_pin_file) {
		check_pin_file(st, cfg->pkcs11_pin_file, "pkcs11_pin_file",
			       st->est_lines[EST_PKCS11_PIN_FILE]);
		return;
	}
	/* systemd's LoadCredential=est-pkcs11-pin:...; without it, a token that needs no login. */
	if (!dir || !*dir)
		return;
	path = xasprintf("%s/est-pkcs11-pin", dir);
	if (stat(path, &sb) < 0 && errno == ENOENT) {
		free(path);
		return;
	}
	check_pin_file(st, path, "pkcs11_pin_file", st->est_lines[EST_KEY_STORAGE]);
	if (cnf_safe(path))
		cfg->pkcs11_pin_file = path;
	else
		config_report(st, st->est_lines[EST_KEY_STORAGE], "pkcs11_pin_file",
			      "%s: a blank, quote, '\\', '$' or '#' in the credential's path",
			      path);
	if (cfg->pkcs11_pin_file != path)
		free(path);
}

const char *config_key_storage_name(enum key_storage ks)
{
	switch (ks) {
	case KEY_STORAGE_SOFTWARE:
		return "software";
	case KEY_STORAGE_TPM:
		return "tpm";
	case KEY_STORAGE_PKCS11:
		return "pkcs11";
	}
	return "?";
}
