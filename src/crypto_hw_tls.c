/* SPDX-License-Identifier: MIT */
/* A hardware key as libssl takes it: a TPM key through a signing bridge, a token key as is. */
#include "autoconf.h"

/*
 * The bridge is an EC_KEY or RSA with a method of its own, an API OpenSSL 3 deprecates but keeps:
 * a key with a foreign method is not exported to the default provider (which would get the
 * public half alone), so libssl signs through the legacy path, and that through the provider.
 * For EC the key's method signs. For RSA the method would only get PSS's padded block to
 * encrypt raw, which the TPM does not do: an ENGINE of this process, set on the bridge key
 * alone, gives it an RSA key method (EVP_PKEY_METHOD) that is OpenSSL's with a sign of its own,
 * so the digest, the padding (PKCS#1 v1.5 or PSS) and the digest go to the provider as they
 * are. (A key method added for the whole process would turn every RSA key, the provider's too,
 * to the legacy path.)
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/engine.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "crypto_hw.h"
#include "log.h"
#include "util.h"

/* What the bridge's EC_KEY carries: the provider's key and where to sign with it. */
struct bridge {
	EVP_PKEY *key;
	OSSL_LIB_CTX *libctx; /* the crypto_hw's: it must outlive the bridge */
	const char *propq;
};

static int bridge_index = -1;
static EC_KEY_METHOD *bridge_method;

static void bridge_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct bridge *b = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (!b)
		return;
	EVP_PKEY_free(b->key);
	free(b);
}

/* The digest a TLS signature of dlen bytes was made with. */
static const char *digest_for(int dlen)
{
	switch (dlen) {
	case 48:
		return "SHA384";
	case 64:
		return "SHA512";
	default:
		return "SHA256";
	}
}

static int bridge_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
		       unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey)
{
	struct bridge *b = EC_KEY_get_ex_data(eckey, bridge_index);
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = (size_t)ECDSA_size(eckey);
	int ok = 0;

	(void)type, (void)kinv, (void)r;
	if (!b || dlen <= 0)
		return 0;
	ctx = EVP_PKEY_CTX_new_from_pkey(b->libctx, b->key, b->propq);
	if (ctx && EVP_PKEY_sign_init(ctx) > 0 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbyname(digest_for(dlen))) > 0 &&
	    EVP_PKEY_sign(ctx, sig, &len, dgst, (size_t)dlen) > 0) {
		*siglen = (unsigned int)len;
		ok = 1;
	}
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static ECDSA_SIG *bridge_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
				  const BIGNUM *r, EC_KEY *eckey)
{
	unsigned char buf[256];
	const unsigned char *p = buf;
	unsigned int len = 0;

	if ((size_t)ECDSA_size(eckey) > sizeof(buf) ||
	    !bridge_sign(0, dgst, dlen, buf, &len, kinv, r, eckey))
		return NULL;
	return d2i_ECDSA_SIG(NULL, &p, len);
}

/* The method and the ex_data slot, once a process. */
static int bridge_init(void)
{
	if (bridge_method)
		return 0;
	bridge_index = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, bridge_free);
	bridge_method = EC_KEY_METHOD_new(EC_KEY_get_default_method());
	if (bridge_index < 0 || !bridge_method) {
		EC_KEY_METHOD_free(bridge_method);
		bridge_method = NULL;
		return -ENOMEM;
	}
	EC_KEY_METHOD_set_sign(bridge_method, bridge_sign, NULL, bridge_sign_sig);
	return 0;
}

static int rsa_index = -1;
static RSA_METHOD *rsa_method;
static int (*rsa_default_sign)(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen,
			       const unsigned char *tbs, size_t tbslen);

/* The provider signs what libssl asked of the legacy RSA method, with the same parameters. */
static int rsa_bridge_sign(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen,
			   const unsigned char *tbs, size_t tbslen)
{
	EVP_PKEY *pk = EVP_PKEY_CTX_get0_pkey(ctx);
	const RSA *rsa = pk ? EVP_PKEY_get0_RSA(pk) : NULL;
	struct bridge *b = rsa ? RSA_get_ex_data(rsa, rsa_index) : NULL;
	const EVP_MD *md = NULL, *mgf1 = NULL;
	EVP_PKEY_CTX *hctx = NULL;
	int pad = 0, salt = 0, ok = 0;

	if (!b)
		return rsa_default_sign(ctx, sig, siglen, tbs, tbslen);
	if (!sig) {
		*siglen = (size_t)RSA_size(rsa);
		return 1;
	}
	if (EVP_PKEY_CTX_get_rsa_padding(ctx, &pad) <= 0 ||
	    EVP_PKEY_CTX_get_signature_md(ctx, &md) <= 0 || !md)
		return 0;
	if (pad == RSA_PKCS1_PSS_PADDING && (EVP_PKEY_CTX_get_rsa_pss_saltlen(ctx, &salt) <= 0 ||
					     EVP_PKEY_CTX_get_rsa_mgf1_md(ctx, &mgf1) <= 0))
		return 0;
	/* A TPM's RSASSA-PSS salts with as many bytes as the digest, MGF1 with the same digest
	 * (what TLS 1.3 asks); it takes no other. */
	if (pad == RSA_PKCS1_PSS_PADDING &&
	    ((salt != RSA_PSS_SALTLEN_DIGEST && salt != EVP_MD_get_size(md)) ||
	     (mgf1 && EVP_MD_get_type(mgf1) != EVP_MD_get_type(md))))
		return 0;
	hctx = EVP_PKEY_CTX_new_from_pkey(b->libctx, b->key, b->propq);
	ok = hctx && EVP_PKEY_sign_init(hctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(hctx, pad) > 0 &&
	     EVP_PKEY_CTX_set_signature_md(hctx, md) > 0 &&
	     EVP_PKEY_sign(hctx, sig, siglen, tbs, tbslen) > 0;
	EVP_PKEY_CTX_free(hctx);
	return ok;
}

static EVP_PKEY_METHOD *rsa_pmeth;
static ENGINE *rsa_engine;

static int rsa_engine_pmeths(ENGINE *e, EVP_PKEY_METHOD **pmeth, const int **nids, int nid)
{
	static const int rsa_nids[] = {EVP_PKEY_RSA};

	(void)e;
	if (!pmeth) {
		*nids = rsa_nids;
		return 1;
	}
	*pmeth = nid == EVP_PKEY_RSA ? rsa_pmeth : NULL;
	return *pmeth != NULL;
}

/* The RSA method, the ex_data slot, the key method and its engine, once a process. */
static int rsa_bridge_init(void)
{
	const EVP_PKEY_METHOD *def = EVP_PKEY_meth_find(EVP_PKEY_RSA);
	int (*sign_init)(EVP_PKEY_CTX * ctx) = NULL;

	if (rsa_engine)
		return 0;
	rsa_index = RSA_get_ex_new_index(0, NULL, NULL, NULL, bridge_free);
	if (!rsa_pmeth && def)
		rsa_pmeth = EVP_PKEY_meth_new(EVP_PKEY_RSA, 0);
	if (!rsa_method)
		rsa_method = RSA_meth_dup(RSA_PKCS1_OpenSSL());
	if (rsa_index < 0 || !rsa_pmeth || !rsa_method)
		return -ENOMEM;
	EVP_PKEY_meth_copy(rsa_pmeth, def);
	EVP_PKEY_meth_get_sign(def, &sign_init, &rsa_default_sign);
	EVP_PKEY_meth_set_sign(rsa_pmeth, sign_init, rsa_bridge_sign);
	rsa_engine = ENGINE_new();
	if (!rsa_default_sign || !rsa_engine || ENGINE_set_id(rsa_engine, "est-enroll-tpm") != 1 ||
	    ENGINE_set_name(rsa_engine, "est-enroll: RSA keys inside a TPM, for libssl") != 1 ||
	    ENGINE_set_pkey_meths(rsa_engine, rsa_engine_pmeths) != 1) {
		ENGINE_free(rsa_engine);
		rsa_engine = NULL;
		return -EIO;
	}
	return 0;
}

/* A key of the public half of key, EC_KEY or RSA, with the bridge's method: libssl signs with
 * it through hw's provider. */
static int bridge_key(struct crypto_hw *hw, EVP_PKEY *key, EVP_PKEY **out_key)
{
	bool rsa = EVP_PKEY_is_a(key, "RSA");
	unsigned char *der = NULL;
	const unsigned char *p;
	struct bridge *b = NULL;
	EVP_PKEY *pk = NULL;
	EC_KEY *ec = NULL;
	RSA *rk = NULL;
	int len, r;

	r = rsa ? rsa_bridge_init() : bridge_init();
	if (r < 0)
		return r;
	r = -EIO;
	b = xzalloc(sizeof(*b));
	b->key = key;
	b->libctx = crypto_hw_libctx(hw);
	b->propq = crypto_hw_propq(hw);
	len = i2d_PUBKEY(key, &der);
	p = der;
	pk = len > 0 ? EVP_PKEY_new() : NULL;
	if (!pk)
		goto out;
	/* Once in the key's ex_data, the bridge (and a reference to key) goes with the key. */
	if (rsa) {
		rk = d2i_RSA_PUBKEY(NULL, &p, len);
		if (!rk || RSA_set_method(rk, rsa_method) != 1 ||
		    RSA_set_ex_data(rk, rsa_index, b) != 1)
			goto out;
	} else {
		ec = d2i_EC_PUBKEY(NULL, &p, len);
		if (!ec || EC_KEY_set_method(ec, bridge_method) != 1 ||
		    EC_KEY_set_ex_data(ec, bridge_index, b) != 1)
			goto out;
	}
	EVP_PKEY_up_ref(key);
	b = NULL;
	if (rsa ? EVP_PKEY_assign_RSA(pk, rk) != 1 : EVP_PKEY_assign_EC_KEY(pk, ec) != 1)
		goto out;
	rk = NULL;
	ec = NULL;
	if (rsa && EVP_PKEY_set1_engine(pk, rsa_engine) != 1)
		goto out;
	*out_key = pk;
	pk = NULL;
	r = 0;
out:
	if (r < 0)
		crypto_log_errors("cannot bridge the TPM key for TLS");
	free(b);
	RSA_free(rk);
	EC_KEY_free(ec);
	EVP_PKEY_free(pk);
	OPENSSL_free(der);
	return r;
}

int crypto_hw_tls_key(struct crypto_hw *hw, EVP_PKEY *key, EVP_PKEY **out_key)
{
	/* A token's key signs on libssl's own context as it is (TLS 1.2 and 1.3 measured). */
	if (crypto_hw_storage(hw) == KEY_STORAGE_PKCS11) {
		if (EVP_PKEY_up_ref(key) != 1)
			return -EIO;
		*out_key = key;
		return 0;
	}
	/* tpm2-openssl 1.1.1 hands libssl the public half only (fixed in 1.2.0). */
	return bridge_key(hw, key, out_key);
}
