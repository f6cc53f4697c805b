/* SPDX-License-Identifier: MIT */
/* `import`: a PEM from a file or stdin, checked, put into the store as one alias. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "crypto.h"
#include "crypto_hw.h"
#include "import.h"
#include "keystore.h"
#include "log.h"
#include "p11.h"
#include "util.h"

#define IMPORT_MAX (1u << 20)

/* A passphrase-protected key cannot be used by a pass that runs unattended. */
static bool has_encrypted_key(const char *pem)
{
	return strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
	       strstr(pem, "Proc-Type: 4,ENCRYPTED");
}

/*
 * The key of the PEM: a PEM key, or the reference of a key inside the TPM or token key_storage
 * names (its provider then bound in *hw). -ENOENT none, -EBADMSG damaged, -EXDEV a reference
 * to other hardware or one the hardware could not load (said why; *hw_err then says what the
 * hardware did, for the exit code).
 */
static int read_key(const struct config *cfg, const char *what, const char *pem, size_t len,
		    struct crypto_hw **hw, EVP_PKEY **out_key, int *hw_err)
{
	enum key_storage where = crypto_hw_pem_storage(pem, len);
	int r;

	if (where == KEY_STORAGE_SOFTWARE)
		return crypto_key_from_pem(pem, len, out_key);
	if (where != cfg->key_storage) {
		log_err("import: %s: the key lives in %s, but key_storage = %s: a pass could not "
			"use it",
			what, crypto_hw_place(where), config_key_storage_name(cfg->key_storage));
		return -EXDEV;
	}
	/* A token at its last PIN try is left alone, as a pass would (p11.c), before the
	 * provider logs in. */
	r = where == KEY_STORAGE_PKCS11
		    ? p11_check_login(cfg->pkcs11_module, cfg->pkcs11_uri, cfg->pkcs11_pin_file)
		    : 0;
	if (r == 0)
		r = crypto_hw_new(cfg, hw);
	if (r == 0)
		r = crypto_hw_key_from_pem(*hw, pem, len, out_key);
	*hw_err = r;
	return r < 0 ? -EXDEV : 0;
}

/*
 * What the PEM holds must be usable as it is: no damaged block, a key or certificates, a key
 * that matches the first certificate; for the TLS client alias both. -EINVAL, said why.
 */
static int check_pem(const struct config *cfg, const char *what, const char *pem, size_t len,
		     bool pair)
{
	STACK_OF(X509) *certs = NULL;
	struct crypto_hw *hw = NULL;
	EVP_PKEY *key = NULL;
	int rk, rc, r = -EINVAL, hw_err = 0;

	if (has_encrypted_key(pem)) {
		log_err("import: %s: the private key is encrypted: store it without a passphrase "
			"(openssl pkey -in FILE)",
			what);
		return -EINVAL;
	}
	rk = read_key(cfg, what, pem, len, &hw, &key, &hw_err);
	rc = crypto_certs_from_pem(pem, len, &certs);
	if (rk == -EXDEV && hw_err)
		r = hw_err; /* said; the hardware's failure, not the input's (exit 1) */
	else if (rk == -EXDEV)
		; /* said */
	else if (rk == -EBADMSG || rc == -EBADMSG)
		log_err("import: %s: a PEM block is damaged", what);
	else if (rk < 0 && rc < 0)
		log_err("import: %s: no PEM private key or certificate", what);
	else if (pair && (rk < 0 || rc < 0))
		log_err("import: %s: the TLS client pair needs a private key and its certificate",
			what);
	else if (rk == 0 && rc == 0 && !crypto_cert_matches_key(sk_X509_value(certs, 0), key))
		log_err("import: %s: the private key does not match the first certificate", what);
	else
		r = 0;
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	crypto_hw_free(hw);
	return r;
}

static int read_input(const char *file, char **out_pem, size_t *out_len)
{
	bool from_stdin = !file || !strcmp(file, "-");
	int r;

	if (from_stdin && isatty(STDIN_FILENO))
		log_info("import: reading the PEM from stdin (end with Ctrl-D)");
	r = read_file(from_stdin ? "/dev/stdin" : file, IMPORT_MAX, out_pem, out_len);
	if (r == -EFBIG)
		log_err("import: %s: larger than %u bytes", from_stdin ? "stdin" : file,
			IMPORT_MAX);
	else if (r < 0)
		log_err("import: %s: %s", from_stdin ? "stdin" : file, strerror(-r));
	return r == -EFBIG ? -EINVAL : r;
}

int import_alias(const struct config *cfg, const char *alias, const char *file)
{
	bool pair = !strcmp(alias, cfg->tls_client_alias);
	/* The client pair goes where tls_client_auth will look for it. */
	const char *name = pair ? cfg->tls_client_keystore : cfg->keystore;
	const char *what = file && strcmp(file, "-") ? file : "stdin";
	struct keystore *ks = NULL;
	char *pem = NULL;
	size_t len = 0;
	int r;

	if (keystore_alias_owned(alias)) {
		log_err("import: %s: the " KS_ALIAS_OWNED_PREFIX "* aliases are est-enroll's own: "
			"refusing",
			alias);
		return -EINVAL;
	}
	r = read_input(file, &pem, &len);
	if (r == 0)
		r = check_pem(cfg, what, pem, len, pair);
	if (r < 0)
		goto out;
	r = keystore_open(config_keystore(cfg, name), KEYSTORE_WRITE, &ks);
	if (r < 0) {
		log_err("keystore %s: %s", name, strerror(-r));
		goto out;
	}
	r = keystore_put(ks, alias, pem, len);
	if (r == -EINVAL)
		log_err("import: '%s' is not an alias: letters, digits and ._-, not starting with "
			".",
			alias);
	else if (r < 0)
		log_err("import: %s: %s%s", alias, strerror(-r),
			r == -E2BIG ? " (the keyring holds at most 32767 bytes a key)" : "");
	else
		log_info("imported %s into keystore %s (%s)", alias, keystore_name(ks),
			 keystore_location(ks));
out:
	wipe_free(pem, len);
	keystore_free(ks);
	return r;
}
