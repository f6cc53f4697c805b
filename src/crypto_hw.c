/* SPDX-License-Identifier: MIT */
/* Keys inside a TPM 2.0 or a PKCS#11 token, through OpenSSL's tpm2 and pkcs11 providers. */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/provider.h>

#include "crypto.h"
#include "crypto_hw.h"
#include "log.h"
#include "pem.h"
#include "util.h"

/*
 * Each provider lives in a library context of its own, configured from a text built here, never
 * in the default context: the order of the providers matters. OpenSSL's default provider is
 * activated first, so digests, ciphers and the RNG stay OpenSSL's (tpm2 first takes SHA-256,
 * AES and the RNG: "insufficient randomness", no shared cipher on TLS 1.2; pkcs11 first in the
 * default context deadlocks inside SoftHSM). Keys are made with "provider=NAME" and used with
 * "?provider=NAME". The providers are bound here, when key_storage asks for them, and only then.
 */
struct crypto_hw {
	enum key_storage kind;
	OSSL_LIB_CTX *libctx;
	const char *name; /* the provider: "tpm2" or "pkcs11" */
	char propq[32];	  /* "?provider=NAME" */
	char *token_uri;  /* pkcs11: the token's URI, to which the object's label is added */
	/* The environment the tpm2 provider is given, put back when hw goes (hooks run later). */
	struct saved_env {
		const char *name;
		char *value; /* NULL: it was not set */
		bool set;    /* crypto_hw_new() set it */
	} env[2];
};

/* Sets name for the providers, remembering what it was. */
static int env_set(struct saved_env *e, const char *name, const char *value, bool overwrite)
{
	const char *was = getenv(name);

	if (was && !overwrite)
		return 0;
	e->name = name;
	e->value = was ? xstrdup(was) : NULL;
	e->set = true;
	return setenv(name, value, 1) < 0 ? -errno : 0;
}

static void env_restore(struct saved_env *e)
{
	if (!e->set)
		return;
	if (e->value)
		setenv(e->name, e->value, 1);
	else
		unsetenv(e->name);
	free(e->value);
	e->set = false;
}

/* The configuration text of the context: config_hw.c let no value through that it would
 * misread (no blanks, quotes, '\', '$' or '#'). Caller frees. */
static char *provider_cnf(const struct config *cfg)
{
	char *sect, *cnf;

	if (cfg->key_storage == KEY_STORAGE_TPM)
		sect = xasprintf("[tpm2_sect]\n%s%s%sactivate = 1\n",
				 cfg->tpm_tcti ? "tcti = " : "", cfg->tpm_tcti ? cfg->tpm_tcti : "",
				 cfg->tpm_tcti ? "\n" : "");
	else
		/* no-deinit: SoftHSM 2.6 crashes the process at exit when finalized. The PIN is
		 * read by the provider from its file: it never passes through here. */
		sect = xasprintf("[pkcs11_sect]\n%s%s%s%s%s%s"
				 "pkcs11-module-encode-provider-uri-to-pem = true\n"
				 "pkcs11-module-quirks = no-deinit\n"
				 "pkcs11-module-load-behavior = early\n"
				 "activate = 1\n",
				 cfg->pkcs11_module ? "pkcs11-module-path = " : "",
				 cfg->pkcs11_module ? cfg->pkcs11_module : "",
				 cfg->pkcs11_module ? "\n" : "",
				 cfg->pkcs11_pin_file ? "pkcs11-module-token-pin = file:" : "",
				 cfg->pkcs11_pin_file ? cfg->pkcs11_pin_file : "",
				 cfg->pkcs11_pin_file ? "\n" : "");
	cnf = xasprintf("openssl_conf = init\n[init]\nproviders = providers\n"
			"[providers]\ndefault = default_sect\n%s = %s_sect\n"
			"[default_sect]\nactivate = 1\n%s",
			cfg->key_storage == KEY_STORAGE_TPM ? "tpm2" : "pkcs11",
			cfg->key_storage == KEY_STORAGE_TPM ? "tpm2" : "pkcs11", sect);
	free(sect);
	return cnf;
}

/* Configures hw->libctx from the text: the providers are loaded and activated here. */
static int load_providers(struct crypto_hw *hw, const char *text)
{
	CONF *conf = NCONF_new_ex(hw->libctx, NULL);
	BIO *bio = BIO_new_mem_buf(text, -1);
	long eline = 0;
	int r = -EIO;

	if (!conf || !bio || NCONF_load_bio(conf, bio, &eline) <= 0) {
		crypto_log_errors("the providers' configuration");
		goto out;
	}
	OPENSSL_load_builtin_modules();
	if (CONF_modules_load(conf, NULL, 0) <= 0 ||
	    !OSSL_PROVIDER_available(hw->libctx, hw->name)) {
		/* Often with nothing in the queue: name what to look at. */
		crypto_log_errors(
			hw->kind == KEY_STORAGE_TPM
				? "OpenSSL's tpm2 provider (package tpm2-openssl) did not "
				  "start: no TPM reachable through tpm_tcti (default "
				  "/dev/tpmrm0)?"
				: "OpenSSL's pkcs11 provider (package pkcs11-provider) did "
				  "not start with pkcs11_module");
		r = -ENOPKG;
		goto out;
	}
	/* What a module leaves in the queue as it starts (SoftHSM: its missing rdrand engine)
	 * is no error of ours, and would come first in the next one logged. */
	ERR_clear_error();
	r = 0;
out:
	BIO_free(bio);
	NCONF_free(conf);
	return r;
}

int crypto_hw_new(const struct config *cfg, struct crypto_hw **out_hw)
{
	struct crypto_hw *hw = NULL;
	char *cnf = NULL;
	int r = -EINVAL;

	if (cfg->key_storage == KEY_STORAGE_SOFTWARE)
		goto out;
	hw = xzalloc(sizeof(*hw));
	hw->kind = cfg->key_storage;
	hw->name = hw->kind == KEY_STORAGE_TPM ? "tpm2" : "pkcs11";
	snprintf(hw->propq, sizeof(hw->propq), "?provider=%s", hw->name);
	hw->token_uri = cfg->pkcs11_uri ? xstrdup(cfg->pkcs11_uri) : NULL;
	/* The provider would only say that it did not start. */
	if (cfg->pkcs11_module && access(cfg->pkcs11_module, R_OK) < 0) {
		r = -errno;
		log_err("pkcs11_module %s: %s", cfg->pkcs11_module, strerror(errno));
		goto out;
	}
	/* tpm2-openssl 1.1.1 reads its "tcti" parameter into nothing (OSSL_PARAM_utf8_ptr given
	 * the pointer, not its address): only its environment variable reaches it. A pass is
	 * one thread, and the variable is what a user of the provider would set anyway. */
	if (cfg->tpm_tcti) {
		r = env_set(&hw->env[0], "TPM2OPENSSL_TCTI", cfg->tpm_tcti, true);
		if (r < 0)
			goto out;
	}
	/* tpm2-tss writes its own trace to stderr: kept for -v -v, else our one line says it
	 * (a TSS2_LOG of the environment wins). */
	if (hw->kind == KEY_STORAGE_TPM && !log_enabled(LOG_LEVEL_DEBUG)) {
		r = env_set(&hw->env[1], "TSS2_LOG", "all+none", false);
		if (r < 0)
			goto out;
	}
	hw->libctx = OSSL_LIB_CTX_new();
	r = -ENOMEM;
	if (!hw->libctx)
		goto out;
	cnf = provider_cnf(cfg);
	r = load_providers(hw, cnf);
	if (r < 0)
		goto out;
	*out_hw = hw;
	hw = NULL;
out:
	free(cnf);
	crypto_hw_free(hw);
	return r;
}

void crypto_hw_free(struct crypto_hw *hw)
{
	if (!hw)
		return;
	/* The providers are unloaded with the context (pkcs11's module stays: no-deinit). */
	OSSL_LIB_CTX_free(hw->libctx);
	env_restore(&hw->env[0]);
	env_restore(&hw->env[1]);
	free(hw->token_uri);
	free(hw);
}

const char *crypto_hw_place(enum key_storage where)
{
	switch (where) {
	case KEY_STORAGE_TPM:
		return "a TPM";
	case KEY_STORAGE_PKCS11:
		return "a PKCS#11 token";
	case KEY_STORAGE_SOFTWARE:
		break;
	}
	return "software";
}

enum key_storage crypto_hw_storage(const struct crypto_hw *hw)
{
	return hw->kind;
}

OSSL_LIB_CTX *crypto_hw_libctx(const struct crypto_hw *hw)
{
	return hw->libctx;
}

const char *crypto_hw_propq(const struct crypto_hw *hw)
{
	return hw->propq;
}

/* The generation parameters for alg and params, into p (room for 4). */
static int keygen_params(struct crypto_hw *hw, enum key_alg alg, const char *params,
			 const char *label, OSSL_PARAM *p, char **uri, size_t *bits)
{
	unsigned long n = 0;
	const char *curve;
	size_t i = 0;
	int nid;

	switch (alg) {
	case KEY_ALG_EC:
		/* The NIST name where there is one: what tpm2-openssl knows. */
		nid = crypto_curve_nid(params);
		curve = nid == NID_undef ? NULL : EC_curve_nid2nist(nid);
		if (!curve && nid != NID_undef)
			curve = OBJ_nid2sn(nid);
		if (!curve)
			return -EINVAL;
		p[i++] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve,
							  strlen(curve));
		break;
	case KEY_ALG_RSA:
		if (parse_uint(params, 2048, 8192, &n) < 0)
			return -EINVAL;
		*bits = n;
		p[i++] = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, bits);
		break;
	case KEY_ALG_ED25519:
		if (hw->kind == KEY_STORAGE_TPM)
			return -ENOTSUP;
		break;
	}
	if (hw->kind == KEY_STORAGE_PKCS11) {
		/* The size given to the constructor is what the provider copies: the macro's 0
		 * is refused by pkcs11-provider. */
		*uri = xasprintf("%s;object=%s", hw->token_uri, label);
		p[i++] = OSSL_PARAM_construct_utf8_string("pkcs11_uri", *uri, strlen(*uri));
		p[i++] = OSSL_PARAM_construct_utf8_string(
			"pkcs11_key_usage", (char *)"digitalSignature", strlen("digitalSignature"));
	}
	p[i] = OSSL_PARAM_construct_end();
	return 0;
}

/* The reference PEM of a provider's key, written by that provider's encoder. */
static int reference_pem(struct crypto_hw *hw, EVP_PKEY *key, char **out_pem, size_t *out_len)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	BUF_MEM *mem = NULL;
	int r = -EIO;

	if (!bio ||
	    PEM_write_bio_PrivateKey_ex(bio, key, NULL, NULL, 0, NULL, NULL, hw->libctx, NULL) !=
		    1 ||
	    BIO_get_mem_ptr(bio, &mem) <= 0 || !mem) {
		crypto_log_errors("cannot write the key's reference");
		goto out;
	}
	*out_pem = xmalloc(mem->length + 1);
	memcpy(*out_pem, mem->data, mem->length);
	(*out_pem)[mem->length] = '\0';
	*out_len = mem->length;
	r = 0;
out:
	BIO_free(bio);
	return r;
}

int crypto_hw_keygen(struct crypto_hw *hw, enum key_alg alg, const char *params, const char *label,
		     EVP_PKEY **out_key, char **out_pem, size_t *out_len)
{
	static const char *const names[] = {
		[KEY_ALG_EC] = "EC", [KEY_ALG_RSA] = "RSA", [KEY_ALG_ED25519] = "ED25519"};
	char propq[32], *uri = NULL, *pem = NULL;
	OSSL_PARAM p[4];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	size_t bits = 0, len = 0;
	int r;

	if (!params || !*params)
		params = crypto_default_key_params(alg);
	r = keygen_params(hw, alg, params, label, p, &uri, &bits);
	if (r == -ENOTSUP)
		log_err("key_algorithm %s: not made by a TPM 2.0", names[alg]);
	if (r < 0)
		goto out;
	snprintf(propq, sizeof(propq), "provider=%s", hw->name);
	ctx = EVP_PKEY_CTX_new_from_name(hw->libctx, names[alg], propq);
	r = -EIO;
	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_params(ctx, p) <= 0 ||
	    EVP_PKEY_generate(ctx, &key) <= 0) {
		crypto_log_errors(hw->kind == KEY_STORAGE_TPM
					  ? "key generation in the TPM failed"
					  : "key generation in the PKCS#11 token failed");
		goto out;
	}
	r = reference_pem(hw, key, &pem, &len);
	if (r < 0)
		goto out;
	*out_key = key;
	key = NULL;
	*out_pem = pem;
	*out_len = len;
out:
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	free(uri);
	return r;
}

int crypto_hw_key_from_pem(struct crypto_hw *hw, const char *pem, size_t len, EVP_PKEY **out_key)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key = NULL;
	int r = -EIO;

	if (!bio || len > INT_MAX)
		goto out;
	key = PEM_read_bio_PrivateKey_ex(bio, NULL, NULL, NULL, hw->libctx, NULL);
	if (!key) {
		crypto_log_errors(hw->kind == KEY_STORAGE_TPM
					  ? "the TPM refused the stored key"
					  : "the PKCS#11 token has no such key");
		r = -ENOKEY;
		goto out;
	}
	*out_key = key;
	r = 0;
out:
	BIO_free(bio);
	return r;
}

enum key_storage crypto_hw_pem_storage(const char *pem, size_t len)
{
	enum key_storage where = KEY_STORAGE_SOFTWARE;
	struct pem_block b = {0};
	struct pem_reader rd;
	bool found = false;

	pem_reader_init(&rd, pem, len);
	while (!found && pem_next(&rd, &b) == 1) {
		found = true;
		if (!strcmp(b.name, "TSS2 PRIVATE KEY"))
			where = KEY_STORAGE_TPM;
		else if (!strcmp(b.name, "PKCS#11 PROVIDER URI"))
			where = KEY_STORAGE_PKCS11;
		else
			found = pem_is_plain_key(&b);
	}
	pem_block_clear(&b);
	return where;
}

bool crypto_hw_holds(const struct crypto_hw *hw, EVP_PKEY *key)
{
	const OSSL_PROVIDER *prov = hw && key ? EVP_PKEY_get0_provider(key) : NULL;

	return prov && !strcmp(OSSL_PROVIDER_get0_name(prov), hw->name);
}

char *crypto_hw_pem_uri(const char *pem, size_t len)
{
	STACK_OF(ASN1_TYPE) *seq = NULL;
	struct pem_block b = {0};
	struct pem_reader rd;
	const unsigned char *der;
	ASN1_TYPE *t;
	char *uri = NULL;

	pem_reader_init(&rd, pem, len);
	if (pem_next(&rd, &b) != 1 || strcmp(b.name, "PKCS#11 PROVIDER URI"))
		goto out;
	/* SEQUENCE { desc VisibleString, uri UTF8String } (pkcs11-provider's encoder). */
	der = b.data;
	seq = d2i_ASN1_SEQUENCE_ANY(NULL, &der, (long)b.len);
	t = seq && sk_ASN1_TYPE_num(seq) == 2 ? sk_ASN1_TYPE_value(seq, 1) : NULL;
	if (t && t->type == V_ASN1_UTF8STRING)
		uri = xstrndup((const char *)ASN1_STRING_get0_data(t->value.utf8string),
			       (size_t)ASN1_STRING_length(t->value.utf8string));
out:
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	pem_block_clear(&b);
	ERR_clear_error();
	return uri;
}
