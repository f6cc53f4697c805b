/* SPDX-License-Identifier: MIT */
/* Private to config.c, config_value.c and config_print.c: the parse state and what they share. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

enum section_kind {
	SECTION_NONE,
	SECTION_EST,
	SECTION_KEYSTORE,
	SECTION_EXPORT,
	SECTION_IGNORED, /* unknown or broken header, already reported */
};

enum est_key {
	EST_ENABLED,
	EST_KEYSTORE,
	EST_SERVER,
	EST_LABEL,
	EST_CA_ROOT,
	EST_SERVER_TRUST,
	EST_PROXY,
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
	EST_KEY_STORAGE,
	EST_TPM_TCTI,
	EST_PKCS11_MODULE,
	EST_PKCS11_PIN_FILE,
	EST_HOOKS,
	EST_METRICS,
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

struct export_lines; /* config_export.c's record of an [export] section's lines */

struct parse_state {
	const char *file;
	struct config *cfg;
	const char *data; /* the whole file; it may hold a password, wiped after parsing */
	size_t len, pos;
	int line; /* the line inih is working on: the reader counts, the handler reads */
	int n_errors;
	int err_line; /* line of the last error, so inih's own report is not repeated */
	enum section_kind section;
	struct keystore_conf *ks;    /* the current [keystore NAME] */
	int default_line;	     /* line of [keystore default], 0 when not written */
	int est_line;		     /* line of [est], 0 when absent */
	int est_lines[EST_N_KEYS];   /* where each key was set, 0 = not set */
	bool est_bad[EST_N_KEYS];    /* the value was rejected */
	int ks_lines[KS_N_KEYS];     /* same, for the current keystore section */
	struct export_lines *ex;     /* the current [export NAME] and where its keys were set */
	struct export_lines *ex_all; /* every export section, for the checks at the end */
};

/* Names of the enum values as the file spells them, indexed by value. */
extern const char *const config_http_auth_names[HTTP_AUTH_DIGEST + 1];
extern const char *const config_key_alg_names[KEY_ALG_ED25519 + 1];
extern const char *const config_key_source_names[KEY_SOURCE_SERVER + 1];
extern const char *const config_pop_binding_names[POP_BINDING_TLS_EXPORTER + 1];
extern const char *const config_keystore_type_names[KEYSTORE_TYPE_FILE + 1];
extern const char *const config_server_trust_names[SERVER_TRUST_CACERTS + 1];

/* "FILE:LINE: WHAT: reason" on stderr, counted in st; what NULL gives "FILE:LINE: reason". */
__attribute__((format(printf, 4, 5))) void config_report(struct parse_state *st, int line,
							 const char *what, const char *fmt, ...);
/* An error about key on the line being parsed. */
__attribute__((format(printf, 3, 4))) void config_key_error(struct parse_state *st, const char *key,
							    const char *fmt, ...);

/* True when name may name a keystore or an export: letters, digits and _.-, not . or .. */
bool config_name_valid(const char *name);
/* True when s holds only letters, digits and characters of extra. */
bool config_all_chars_in(const char *s, const char *extra);
/* True when the n bytes of s are letters, digits, bytes of extra and well-formed %XX. */
bool config_pct_chars_ok(const char *s, size_t n, const char *extra);
/* One KEY = VALUE of [est]: typed, range-checked, stored in st->cfg, its line in st->est_lines. */
void config_est_key(struct parse_state *st, const char *name, const char *value);
/* Name of an [est] key as the file spells it ("ca_root"); static. */
const char *config_est_key_name(enum est_key k);
/* One KEY = VALUE of the current [keystore NAME] section (st->ks). */
void config_keystore_key(struct parse_state *st, const char *name, const char *value);

/* A group name or numeric gid. 0 or -ENOENT. */
int config_parse_gid(const char *v, gid_t *out_gid);

/* A secret file minus one trailing LF or CRLF: 0, -errno, -EINVAL (NUL byte), -ENODATA (empty).
 * Caller wipe_str()s. */
int config_read_secret(const char *path, char **out_secret);
/* Reports config_read_secret()'s error r about path as FILE:LINE: KEY: reason. */
void config_report_secret(struct parse_state *st, int line, const char *key, const char *path,
			  int r);

/* ---- key_storage and its keys (config_hw.c) ---- */
/* key_storage = software | tpm | pkcs11:URI (RFC 7512, naming a token, no PIN in it). */
void config_set_key_storage(struct parse_state *st, const char *key, const char *value);
/* tpm_tcti = NAME[:CONF] as tpm2-tss takes it; empty: the provider's default. */
void config_set_tpm_tcti(struct parse_state *st, const char *key, const char *value);
/* pkcs11_module / pkcs11_pin_file: an absolute path, or empty. */
void config_set_hw_path(struct parse_state *st, const char *key, const char *value);
/* After the whole file: the hardware keys against each other and key_source, key_algorithm. */
void config_hw_check(struct parse_state *st);
/* For config_load_secrets(): the PIN file (or the est-pkcs11-pin credential) holds a PIN. */
void config_hw_load_pin(struct parse_state *st);

/* ---- [export NAME] sections (config_export.c) ---- */
/* Starts the section [export name] (the header on line st->line), or reports a bad name. */
void config_export_section(struct parse_state *st, const char *name);
/* One KEY = VALUE of the current [export NAME] section. */
void config_export_key(struct parse_state *st, const char *name, const char *value);
/* After the whole file: every export names a known keystore (default: [est] keystore) and at
 * least one file, each its own. Frees the record of lines either way. */
void config_export_check(struct parse_state *st);
/* True when an [export] section exports from keystore name. */
bool config_export_uses(const struct config *cfg, const char *name);
/* Frees the list; NULL is a no-op. */
void config_export_free(struct export_conf *ex);
