/* SPDX-License-Identifier: MIT */
/* The INI configuration: typed settings with defaults, validation, printing. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum key_alg {
	KEY_ALG_EC,
	KEY_ALG_RSA,
	KEY_ALG_ED25519,
};

enum http_auth {
	HTTP_AUTH_NONE,
	HTTP_AUTH_BASIC,
	HTTP_AUTH_DIGEST,
};

enum key_source {
	KEY_SOURCE_LOCAL,
	KEY_SOURCE_SERVER,
};

/* Where the private key lives (config_hw.c). */
enum key_storage {
	KEY_STORAGE_SOFTWARE, /* PEM in the store */
	KEY_STORAGE_TPM,      /* inside the TPM 2.0: the store holds the TPM-wrapped blob */
	KEY_STORAGE_PKCS11,   /* inside a PKCS#11 token: the store holds a URI reference */
};

enum pop_binding {
	POP_BINDING_AUTO, /* tls-unique, on TLS 1.2 when PoP is needed; tls-exporter without it */
	POP_BINDING_TLS_UNIQUE,
	POP_BINDING_TLS_EXPORTER,
};

/* What authenticates the server after the bootstrap. */
enum server_trust {
	SERVER_TRUST_CACERTS_CA_ROOT, /* the stored CA certificates and ca_root */
	SERVER_TRUST_CACERTS,	      /* the stored CA certificates only (RFC 7030 3.6.1) */
};

enum keystore_type {
	KEYSTORE_TYPE_KEYRING,
	KEYSTORE_TYPE_FILE,
};

struct keystore_conf {
	char *name;
	enum keystore_type type;
	char *keyring; /* name of the named keyring, default "est:NAME" */
	char *path;    /* file store directory / persistent copy */
	bool fallback;
	char *group; /* NULL when unset */
	gid_t gid;   /* (gid_t)-1 when unset */
	struct keystore_conf *next;
};

/* An [export NAME] section: files written for consumers that cannot read the keyring. */
struct export_conf {
	char *name;
	char *keystore; /* the store exported from; [est] keystore when not written */
	char *key;	/* absolute paths; NULL when that part is not exported */
	char *cert;
	char *ca;
	char *bundle; /* key, certificate and chain in one file (mode: mode) */
	char *owner;  /* NULL when unset: the user running the tool (root) */
	uid_t uid;    /* (uid_t)-1 when unset */
	char *group;  /* NULL when unset: the group running the tool (root) */
	gid_t gid;    /* (gid_t)-1 when unset */
	mode_t mode;  /* of the key and bundle files; cert and ca are 0644 */
	struct export_conf *next;
};

struct config_lines; /* config.c's record of where each key was set */

struct config {
	char *file;
	bool enabled;
	char *keystore;
	char *server; /* as written */
	char *host;   /* without brackets */
	unsigned int port;
	char *label; /* NULL when empty */
	char *ca_root;
	/* ca_root as config_load_secrets() read and checked it (NUL-terminated), and the SHA-256
	 * of its certificates' DER, so a pass neither reads nor parses it again: NULL before. */
	char *ca_root_pem;
	size_t ca_root_len;
	char ca_root_der_fp[65];
	enum server_trust server_trust;
	char *proxy; /* NULL: the environment's; "": none; else a URL (may hold a password) */
	bool ca_rollover;
	uint64_t expiration_check;	   /* seconds, when expiration_check_pct == 0 */
	unsigned int expiration_check_pct; /* 1..99 when given as a percentage */
	uint64_t retry_interval;
	uint64_t retry_timeout; /* 0 = no limit */
	uint64_t timeout;
	bool tls_client_auth;
	char *tls_client_keystore;
	char *tls_client_alias;
	enum http_auth http_auth;
	char *username;
	char *password;	     /* secret: wiped in config_free */
	char *password_file; /* config_load_secrets() reads it, or sets the credential's path */
	bool pop;
	enum pop_binding pop_binding;
	bool renew;
	bool renew_rekey;
	char *subject;
	enum key_alg key_algorithm;
	char *key_params; /* curve name or RSA bits as text; default per algorithm */
	enum key_source key_source;
	char *csr_signer; /* NULL = derived from the key */
	enum key_storage key_storage;
	char *pkcs11_uri;      /* the token's RFC 7512 URI when key_storage is one; else NULL */
	char *tpm_tcti;	       /* NULL: the tpm2 provider's default (/dev/tpmrm0) */
	char *pkcs11_module;   /* absolute path; NULL: p11-kit's proxy module */
	char *pkcs11_pin_file; /* as written, or the credential config_load_secrets() found;
				  the PIN itself is never held here */
	char *hooks;	       /* directory of executables run after a change; NULL: none */
	char *metrics;	       /* Prometheus text file (metrics.c), absolute; NULL: none */
	struct keystore_conf *keystores;
	struct export_conf *exports;
	struct config_lines *lines; /* private to config.c, for config_load_secrets() */
};

/*
 * Parses and validates path, without reading any other file: neither the password nor ca_root.
 * On error prints "FILE:LINE: KEY: reason" lines on stderr and returns -EINVAL (or -errno when
 * the file cannot be read). Caller frees with config_free().
 */
int config_load(const char *path, struct config **out_cfg);
/*
 * For the commands that talk to the server: reads password_file or the est-password credential,
 * checks that http_auth has a password and that ca_root holds a certificate; with a PKCS#11
 * key_storage, that pkcs11_pin_file (or the est-pkcs11-pin credential) holds a PIN. 0, or -EINVAL
 * after "FILE:LINE: KEY: reason" lines on stderr. A second call does nothing.
 */
int config_load_secrets(struct config *cfg);
/* Whether each value of subject suits its attribute type (config_load checks the syntax only,
 * so a pass with nothing to do builds no X509_NAME). 0, or -EINVAL reported as FILE:LINE. */
int config_check_subject(const struct config *cfg);
void config_free(struct config *cfg);
/* The [keystore NAME] section, or NULL. */
const struct keystore_conf *config_keystore(const struct config *cfg, const char *name);
/* Prints the effective settings in INI form, secrets masked. */
void config_print(const struct config *cfg, FILE *f);
/* "software", "tpm" or "pkcs11" (for a token URI); static. */
const char *config_key_storage_name(enum key_storage ks);
/* Name of the algorithm as written in the config ("EC", "RSA", "ED25519"). */
const char *config_key_alg_name(enum key_alg alg);
