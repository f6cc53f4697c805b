/* SPDX-License-Identifier: MIT */
/* The effective configuration in INI form, as check-config prints it: it reads back the same. */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_parse.h"

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

/* proxy, its password masked: scheme://user:********@host:port. */
static void print_proxy(FILE *f, const char *proxy)
{
	const char *rest = proxy ? strstr(proxy, "://") : NULL;
	const char *at = rest ? strrchr(rest, '@') : NULL, *colon;

	if (!at) {
		kv(f, "proxy", proxy && !*proxy ? "none" : proxy);
		return;
	}
	colon = memchr(rest + 3, ':', (size_t)(at - rest - 3));
	fprintf(f, "proxy = %.*s%s@%s\n", (int)((colon ? colon : at) - proxy), proxy,
		colon ? ":********" : "", at + 1);
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
	kv(f, "server_trust", config_server_trust_names[cfg->server_trust]);
	print_proxy(f, cfg->proxy);
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
	kv(f, "http_auth", config_http_auth_names[cfg->http_auth]);
	kv(f, "username", cfg->username);
	kv(f, "password", cfg->password ? "********" : NULL);
	kv(f, "password_file", cfg->password_file);
	kv(f, "pop", bool_str(cfg->pop));
	kv(f, "pop_binding", config_pop_binding_names[cfg->pop_binding]);
	kv(f, "renew", bool_str(cfg->renew));
	kv(f, "renew_rekey", bool_str(cfg->renew_rekey));
	kv(f, "subject", cfg->subject);
	kv(f, "key_algorithm", config_key_alg_names[cfg->key_algorithm]);
	kv(f, "key_params", cfg->key_params);
	kv(f, "key_source", config_key_source_names[cfg->key_source]);
	kv(f, "csr_signer", cfg->csr_signer);
	/* The PIN is never printed, nor held: only where it is read from. */
	kv(f, "key_storage",
	   cfg->key_storage == KEY_STORAGE_PKCS11 ? cfg->pkcs11_uri
						  : config_key_storage_name(cfg->key_storage));
	kv(f, "tpm_tcti", cfg->tpm_tcti);
	kv(f, "pkcs11_module", cfg->pkcs11_module);
	kv(f, "pkcs11_pin_file", cfg->pkcs11_pin_file);
	kv(f, "hooks", cfg->hooks);
	kv(f, "metrics", cfg->metrics);
}

void config_print(const struct config *cfg, FILE *f)
{
	const struct keystore_conf *ks;
	const struct export_conf *ex;

	print_est(cfg, f);
	for (ks = cfg->keystores; ks; ks = ks->next) {
		fprintf(f, "\n[keystore %s]\n", ks->name);
		kv(f, "type", config_keystore_type_names[ks->type]);
		kv(f, "keyring", ks->keyring);
		kv(f, "path", ks->path);
		kv(f, "fallback", bool_str(ks->fallback));
		kv(f, "group", ks->group);
	}
	for (ex = cfg->exports; ex; ex = ex->next) {
		fprintf(f, "\n[export %s]\n", ex->name);
		kv(f, "keystore", ex->keystore);
		kv(f, "key", ex->key);
		kv(f, "cert", ex->cert);
		kv(f, "ca", ex->ca);
		kv(f, "bundle", ex->bundle);
		kv(f, "owner", ex->owner);
		kv(f, "group", ex->group);
		fprintf(f, "mode = %04o\n", (unsigned int)ex->mode);
	}
}
