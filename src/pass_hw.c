/* SPDX-License-Identifier: MIT */
/*
 * Keys inside a TPM or a PKCS#11 token (key_storage), as a pass makes, reads and uses them. The
 * provider is bound at the first key that needs it, never for software keys. Where a PEM private
 * key stood, the store keeps the hardware's reference (crypto_hw.c): a TPM-wrapped blob or a
 * PKCS#11 URI. A TPM's key is nothing but its blob: when the store lets go of it, it is gone. A
 * token's key is an object of the token, labelled est-KEYSTORE-STORE-<16 hex>, where STORE is
 * this store's own id (8 hex digits of the SHA-256 of the machine id and the store's keyring
 * name and directory):
 * other stores on the same token, here or on another host, have other ids. The objects of this
 * store's prefix that it no longer references (the old key after a rekey, a key a pass was killed
 * making) are destroyed once the commit that let go of them is exported and the hooks told
 * (enroll_sweep: consumers switch first), or by the next pass. est-state says sweep=1 from
 * before a key is made until that is done, so that next pass is not idle.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "crypto.h"
#include "crypto_hw.h"
#include "keystore.h"
#include "log.h"
#include "p11.h"
#include "pass.h"
#include "pem.h"
#include "sha256.h"
#include "util.h"

#define LABEL_HEX 16

int pass_hw(struct pass *p, struct crypto_hw **out_hw)
{
	int r;

	if (!p->hw) {
		r = crypto_hw_new(p->cfg, &p->hw);
		if (r < 0)
			return r;
	}
	*out_hw = p->hw;
	return 0;
}

bool pass_key_moves(const struct pass *p, const char *pem, size_t len)
{
	return crypto_hw_pem_storage(pem, len) != p->cfg->key_storage;
}

int pass_key_from_pem(struct pass *p, const char *pem, size_t len, EVP_PKEY **out_key)
{
	enum key_storage where = crypto_hw_pem_storage(pem, len);
	struct crypto_hw *hw = NULL;
	int r;

	if (where == KEY_STORAGE_SOFTWARE)
		return crypto_key_from_pem(pem, len, out_key);
	if (where != p->cfg->key_storage) {
		if (!p->hw_mismatch_logged)
			log_err("a stored key lives in %s, but key_storage = %s: it cannot be used "
				"without its configuration",
				crypto_hw_place(where),
				config_key_storage_name(p->cfg->key_storage));
		p->hw_mismatch_logged = true;
		return -ENOKEY;
	}
	r = pass_hw(p, &hw);
	return r < 0 ? r : crypto_hw_key_from_pem(hw, pem, len, out_key);
}

/* est-KEYSTORE-STORE-: the labels of this store's keys begin so (see above). Caller frees. */
static char *label_prefix(struct pass *p)
{
	const struct keystore_conf *kc = config_keystore(p->cfg, p->cfg->keystore);
	char *machine = NULL, fp[65];
	size_t len = 0;
	struct sha256 s;

	if (read_file("/etc/machine-id", 4096, &machine, &len) < 0)
		len = 0;
	sha256_init(&s);
	sha256_update(&s, "est-enroll store", sizeof("est-enroll store"));
	sha256_update(&s, machine ? machine : "", len);
	sha256_update(&s, "", 1);
	/* As configured: a keyring's serial changes with every boot, its name does not. */
	if (kc->keyring)
		sha256_update(&s, kc->keyring, strlen(kc->keyring) + 1);
	if (kc->path)
		sha256_update(&s, kc->path, strlen(kc->path) + 1);
	sha256_final_hex(&s, fp);
	free(machine);
	return xasprintf("est-%s-%.8s-", p->cfg->keystore, fp);
}

/* A label no object of the token has: the store's prefix, then 16 random hex digits. */
static char *new_label(struct pass *p)
{
	unsigned char rnd[LABEL_HEX / 2];
	char hex[LABEL_HEX + 1], *prefix, *label;
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return NULL;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	prefix = label_prefix(p);
	label = xasprintf("%s%s", prefix, hex);
	free(prefix);
	return label;
}

/* Commits text as the record, on its own. */
static int put_record(struct pass *p, const char *text)
{
	struct keystore_txn *txn = keystore_txn_new(p->ks);
	int r;

	r = keystore_txn_put(txn, KS_ALIAS_STATE, text, strlen(text));
	if (r == 0)
		r = keystore_txn_commit(txn);
	keystore_txn_free(txn);
	return r;
}

/*
 * Before a key is made in a token: the record says sweep=1, committed on its own, so that an
 * object a kill leaves before the store names it (the request key is committed right after)
 * makes the next pass sweep, not idle. The record as it was in *out_was (NULL: unchanged), for
 * a generation that fails. Before the first enrollment there is no record, and no identity to
 * idle with.
 */
static int record_sweep_owed(struct pass *p, char **out_was)
{
	char *state = NULL, *text = NULL;
	size_t len = 0;
	int r = 0;

	*out_was = NULL;
	if (p->cfg->key_storage != KEY_STORAGE_PKCS11)
		return 0;
	r = keystore_get(p->ks, KS_ALIAS_STATE, &state, &len);
	if (r == -ENOKEY || (r == 0 && kv_is(state, "sweep", "1"))) {
		r = 0;
		goto out;
	}
	if (r < 0) {
		log_err("keystore %s: " KS_ALIAS_STATE ": %s", keystore_name(p->ks), strerror(-r));
		goto out;
	}
	text = xasprintf("%s%ssweep=1\n", state, len && state[len - 1] != '\n' ? "\n" : "");
	r = put_record(p, text);
	if (r < 0)
		log_err("keystore %s: cannot record the key about to be made in the token: %s",
			keystore_name(p->ks), strerror(-r));
	p->swept = false;
	if (r == 0) {
		*out_was = state;
		state = NULL;
	}
out:
	free(text);
	free(state);
	return r;
}

/* Destroys the objects of a key whose generation failed: never referenced by anything. */
static int forget_label(struct pass *p, const char *label)
{
	const struct config *cfg = p->cfg;
	unsigned int n = 0;

	return p11_destroy_objects(cfg->pkcs11_module, cfg->pkcs11_uri, cfg->pkcs11_pin_file, label,
				   &n);
}

int pass_new_key(struct pass *p, EVP_PKEY **out_key, char **out_pem, size_t *out_len)
{
	const struct config *cfg = p->cfg;
	struct crypto_hw *hw = NULL;
	EVP_PKEY *key = NULL;
	char *label, *was = NULL;
	int r;

	if (cfg->key_storage == KEY_STORAGE_SOFTWARE) {
		r = crypto_keygen(cfg->key_algorithm, cfg->key_params, &key);
		if (r == 0)
			r = crypto_key_to_pem(key, out_pem, out_len);
		if (r == 0)
			*out_key = key;
		else
			EVP_PKEY_free(key);
		return r;
	}
	r = pass_hw(p, &hw);
	if (r == 0)
		r = record_sweep_owed(p, &was);
	if (r < 0)
		return r;
	label = new_label(p);
	r = label ? crypto_hw_keygen(hw, cfg->key_algorithm, cfg->key_params, label, out_key,
				     out_pem, out_len)
		  : -EIO;
	/* Whatever the token made of it (a full token may leave half an object) goes at once;
	 * then the record as it was, else sweep=1 stays for the next pass. */
	if (r < 0 && label && was && forget_label(p, label) == 0 && put_record(p, was) < 0)
		log_warn("keystore %s: sweep=1 stays in the record: the next pass looks at the "
			 "token",
			 keystore_name(p->ks));
	if (r == 0)
		log_info("generated the key inside %s%s%s", crypto_hw_place(cfg->key_storage),
			 cfg->key_storage == KEY_STORAGE_PKCS11 ? ", object " : "",
			 cfg->key_storage == KEY_STORAGE_PKCS11 ? label : "");
	free(label);
	free(was);
	return r;
}

/* The first PEM block of pem, as written (a reference is the key's only text). */
static int first_block(const char *pem, size_t len, char **out, size_t *out_len)
{
	struct pem_block b = {0};
	struct pem_reader rd;
	int r;

	pem_reader_init(&rd, pem, len);
	r = pem_next(&rd, &b);
	if (r == 1) {
		*out = xstrndup(b.text, b.text_len);
		*out_len = b.text_len;
	}
	pem_block_clear(&b);
	return r == 1 ? 0 : -EBADMSG;
}

int pass_key_pem(struct pass *p, EVP_PKEY *key, char **out_pem, size_t *out_len)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	if (!crypto_hw_holds(p->hw, key))
		return crypto_key_to_pem(key, out_pem, out_len);
	/* A hardware key that is not this pass's new one is the enrolled pair's (a renewal
	 * without rekey): its reference is the first block of the stored bundle. */
	r = keystore_get(p->ks, KS_ALIAS_ENROLLED, &pem, &len);
	if (r == 0 && crypto_hw_pem_storage(pem, len) == p->cfg->key_storage)
		r = first_block(pem, len, out_pem, out_len);
	else if (r == 0)
		r = -ENOKEY;
	free(pem);
	return r;
}

void pass_key_signer(const struct pass *p, EVP_PKEY *key, OSSL_LIB_CTX **out_libctx,
		     const char **out_propq)
{
	bool held = crypto_hw_holds(p->hw, key);

	*out_libctx = held ? crypto_hw_libctx(p->hw) : NULL;
	*out_propq = held ? crypto_hw_propq(p->hw) : NULL;
}

int pass_client_key(struct pass *p, EVP_PKEY **out_key)
{
	EVP_PKEY *key = NULL;
	int r;

	*out_key = NULL;
	if (!p->client_pem ||
	    crypto_hw_pem_storage(p->client_pem, p->client_len) == KEY_STORAGE_SOFTWARE)
		return 0;
	if (!p->client_key) {
		r = pass_parsed_key(p, p->client_pem, p->client_len, &key);
		if (r == 0)
			r = crypto_hw_tls_key(p->hw, key, &p->client_key);
		EVP_PKEY_free(key);
		if (r < 0)
			return r;
	}
	*out_key = p->client_key;
	return 0;
}

struct owned {
	char *prefix;
	char *keep[3];
};

/* The store's prefix then 16 lowercase hex digits, and none of the keys the store holds. */
static bool is_owned(const char *label, void *ctx)
{
	const struct owned *o = ctx;
	size_t n = strlen(o->prefix), i;

	if (strncmp(label, o->prefix, n) || strlen(label + n) != LABEL_HEX ||
	    strspn(label + n, "0123456789abcdef") != LABEL_HEX)
		return false;
	for (i = 0; i < ARRAY_SIZE(o->keep); i++)
		if (o->keep[i] && !strcmp(o->keep[i], label))
			return false;
	return true;
}

/* The object label of a stored item's PKCS#11 reference into *slot. -errno when the item
 * cannot be read, -EBADMSG when its reference cannot: then nothing may be destroyed. */
static int kept_label(struct keystore *ks, const char *alias, char **slot)
{
	char *pem = NULL, *uri = NULL;
	size_t len = 0;
	int r;

	r = keystore_get(ks, alias, &pem, &len);
	if (r < 0)
		return r == -ENOKEY ? 0 : r;
	if (crypto_hw_pem_storage(pem, len) == KEY_STORAGE_PKCS11) {
		uri = crypto_hw_pem_uri(pem, len);
		*slot = uri ? p11_uri_attr(uri, "object") : NULL;
		r = *slot ? 0 : -EBADMSG;
	}
	wipe_free(pem, len);
	free(uri);
	return r;
}

/* The record without its sweep=1 line, once the token holds no object the store let go of:
 * the stored text otherwise as it is (a record for another server or label stays one). */
static void record_swept(struct pass *p)
{
	char *state = NULL, *line, *text = NULL;
	size_t len = 0;

	if (keystore_get(p->ks, KS_ALIAS_STATE, &state, &len) < 0)
		return;
	line = strstr(state, "\nsweep=1\n");
	if (line) {
		text = xzalloc(len + 1);
		memcpy(text, state, (size_t)(line - state) + 1);
		strcat(text, line + strlen("\nsweep=1\n"));
		if (put_record(p, text) < 0)
			log_warn("keystore %s: cannot record that the token was swept: the next "
				 "pass tries again",
				 keystore_name(p->ks));
	}
	free(text);
	free(state);
}

int pass_sweep(struct pass *p)
{
	const struct config *cfg = p->cfg;
	struct crypto_hw *hw = NULL;
	struct owned o = {0};
	unsigned int n = 0;
	size_t i;
	int r;

	if (cfg->key_storage != KEY_STORAGE_PKCS11)
		return 0;
	o.prefix = label_prefix(p);
	r = kept_label(p->ks, KS_ALIAS_ENROLLED, &o.keep[0]);
	if (r == 0)
		r = kept_label(p->ks, KS_ALIAS_REQUEST, &o.keep[1]);
	/* An imported client pair may name one of our keys: kept while it does. */
	if (r == 0 && !strcmp(cfg->tls_client_keystore, cfg->keystore))
		r = kept_label(p->ks, cfg->tls_client_alias, &o.keep[2]);
	if (r < 0)
		log_err("keystore %s: a stored item or its PKCS#11 reference cannot be read: no "
			"object of the token is destroyed",
			keystore_name(p->ks));
	/* The provider first: it initialises the module the way it needs it. */
	if (r == 0)
		r = pass_hw(p, &hw);
	if (r == 0)
		r = p11_destroy_owned(cfg->pkcs11_module, cfg->pkcs11_uri, cfg->pkcs11_pin_file,
				      is_owned, &o, &n);
	if (n)
		log_info("destroyed %u object(s) of keys keystore %s no longer holds in the "
			 "PKCS#11 token",
			 n, keystore_name(p->ks));
	if (r == 0) {
		p->swept = true;
		record_swept(p);
	}
	/* An object the token would not destroy is no reason to stop renewing: sweep=1 stays,
	 * and the next pass tries again. No token, no login: the pass cannot go on. */
	if (r == -EIO)
		r = 0;
	for (i = 0; i < ARRAY_SIZE(o.keep); i++)
		free(o.keep[i]);
	free(o.prefix);
	return r;
}
