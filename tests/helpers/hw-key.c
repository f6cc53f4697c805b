/* SPDX-License-Identifier: MIT */
/*
 * Test helper for crypto_hw.c, which no command reaches yet:
 *   hw-key CONF keygen LABEL OUT   a key inside the hardware CONF's key_storage names, its
 *                                  reference PEM to OUT, a CSR for CONF's subject that it
 *                                  signed to OUT.csr (DER)
 *   hw-key CONF use IN             the key of a reference PEM
 *   hw-key CONF destroy LABEL      the objects of that label gone from CONF's PKCS#11 token;
 *                                  how many on stdout (p11.c)
 *   hw-key CONF cert IN OUT        a self-signed certificate of IN's key, signed by it, to OUT
 *   hw-key CONF tls IN CERT PORT V one TLS 1.V handshake (V: 2 or 3) to 127.0.0.1:PORT with
 *                                  IN's key and CERT as client pair, on an SSL_CTX of OpenSSL's
 *                                  default context as libcurl's is (crypto_hw_tls_key)
 * keygen and use: the key then signs through its provider, the signature is checked with the public
 * half in OpenSSL's default context, and that public key goes to stdout as PEM. Exit 0, 1 on
 * any failure (reasons on stderr), 2 on usage.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "crypto.h"
#include "crypto_hw.h"
#include "dn.h"
#include "p11.h"
#include "log.h"
#include "util.h"

/* Signs a message with key through hw's provider and checks it with the public half alone. */
static int sign_and_check(struct crypto_hw *hw, EVP_PKEY *key)
{
	static const unsigned char msg[] = "est-enroll hardware key";
	unsigned char sig[1024], *der = NULL;
	const unsigned char *p;
	EVP_MD_CTX *md = EVP_MD_CTX_new(), *vmd = EVP_MD_CTX_new();
	const char *digest = EVP_PKEY_is_a(key, "ED25519") ? NULL : "SHA256";
	EVP_PKEY *pub = NULL;
	size_t siglen = sizeof(sig);
	int len, r = -1;

	len = i2d_PUBKEY(key, &der);
	p = der;
	pub = len > 0 ? d2i_PUBKEY(NULL, &p, len) : NULL;
	if (!md || !vmd || !pub ||
	    EVP_DigestSignInit_ex(md, NULL, digest, crypto_hw_libctx(hw), crypto_hw_propq(hw), key,
				  NULL) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg)) != 1) {
		crypto_log_errors("signing in the hardware");
		goto out;
	}
	if (EVP_DigestVerifyInit_ex(vmd, NULL, digest, NULL, NULL, pub, NULL) != 1 ||
	    EVP_DigestVerify(vmd, sig, siglen, msg, sizeof(msg)) != 1) {
		crypto_log_errors("the signature does not verify with the public key");
		goto out;
	}
	if (PEM_write_PUBKEY(stdout, pub) != 1)
		goto out;
	r = 0;
out:
	OPENSSL_free(der);
	EVP_PKEY_free(pub);
	EVP_MD_CTX_free(md);
	EVP_MD_CTX_free(vmd);
	return r;
}

/* A CSR for cfg's subject signed by key through hw's provider, as DER to path. */
static int write_csr(struct crypto_hw *hw, const struct config *cfg, EVP_PKEY *key,
		     const char *path)
{
	struct csr_params p = {
		.key = key, .libctx = crypto_hw_libctx(hw), .propq = crypto_hw_propq(hw)};
	X509_NAME *name = NULL;
	unsigned char *der = NULL;
	const char *why = NULL;
	size_t len = 0;
	int r;

	r = dn_parse(cfg->subject, &name, &why);
	if (r < 0)
		goto out;
	p.subject = name;
	r = crypto_csr_build(&p, &der, &len);
	if (r == 0)
		r = write_file_atomic(path, der, len, 0644, (gid_t)-1);
out:
	OPENSSL_free(der);
	X509_NAME_free(name);
	return r;
}

/* A self-signed certificate for key, signed in hw's provider, as PEM to path. */
static int write_cert(struct crypto_hw *hw, EVP_PKEY *key, const char *path)
{
	X509 *x = X509_new_ex(crypto_hw_libctx(hw), crypto_hw_propq(hw));
	FILE *f = NULL;
	int r = -1;

	if (!x || X509_set_version(x, 2) != 1 || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 3600) || X509_set_pubkey(x, key) != 1 ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					(const unsigned char *)"hw-key client", -1, -1, 0) ||
	    X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    X509_sign(x, key, EVP_sha256()) <= 0) {
		crypto_log_errors("cannot make the certificate");
		goto out;
	}
	f = fopen(path, "w");
	if (f && PEM_write_X509(f, x) == 1 && fclose(f) == 0)
		r = 0;
	else if (f)
		fclose(f);
out:
	X509_free(x);
	return r;
}

/* One handshake at TLS 1.version to 127.0.0.1:port with key and the certificate in cert_path. */
static int handshake(struct crypto_hw *hw, EVP_PKEY *key, const char *cert_path, const char *port,
		     const char *version)
{
	int v = !strcmp(version, "2") ? TLS1_2_VERSION : TLS1_3_VERSION;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	EVP_PKEY *tls_key = NULL;
	X509 *cert = NULL;
	BIO *bio = NULL;
	SSL *ssl = NULL;
	char *host = xasprintf("127.0.0.1:%s", port);
	FILE *f = fopen(cert_path, "r");
	int r = -1;

	cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!ctx || !cert || crypto_hw_tls_key(hw, key, &tls_key) < 0 ||
	    SSL_CTX_set_min_proto_version(ctx, v) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, v) != 1 || SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, tls_key) != 1)
		goto out;
	bio = BIO_new_ssl_connect(ctx);
	if (!bio || BIO_get_ssl(bio, &ssl) != 1 || BIO_set_conn_hostname(bio, host) != 1 ||
	    BIO_do_handshake(bio) != 1 || BIO_puts(bio, "hello\n") <= 0 || BIO_flush(bio) != 1)
		goto out;
	printf("%s\n", SSL_get_version(ssl));
	r = 0;
out:
	if (r < 0)
		crypto_log_errors("TLS handshake with the hardware key");
	BIO_free_all(bio);
	EVP_PKEY_free(tls_key);
	X509_free(cert);
	SSL_CTX_free(ctx);
	free(host);
	return r;
}

static int run(struct crypto_hw *hw, const struct config *cfg, char **argv)
{
	EVP_PKEY *key = NULL;
	char *pem = NULL;
	size_t len = 0;
	int r = -1;

	if (!strcmp(argv[0], "keygen")) {
		r = crypto_hw_keygen(hw, cfg->key_algorithm, cfg->key_params, argv[1], &key, &pem,
				     &len);
		if (r == 0)
			r = write_file_atomic(argv[2], pem, len, 0600, (gid_t)-1);
		if (r == 0) {
			char *csr = xasprintf("%s.csr", argv[2]);

			r = write_csr(hw, cfg, key, csr);
			free(csr);
		}
	} else {
		r = read_file(argv[1], 1 << 20, &pem, &len);
		if (r == 0)
			r = crypto_hw_key_from_pem(hw, pem, len, &key);
	}
	if (r == 0 && !strcmp(argv[0], "cert"))
		r = write_cert(hw, key, argv[2]);
	else if (r == 0 && !strcmp(argv[0], "tls"))
		r = handshake(hw, key, argv[2], argv[3], argv[4]);
	else if (r == 0)
		r = sign_and_check(hw, key);
	EVP_PKEY_free(key);
	wipe_free(pem, len);
	return r;
}

int main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct crypto_hw *hw = NULL;
	int r;
	bool keygen = argc == 5 && !strcmp(argv[2], "keygen");
	bool use = argc == 4 && !strcmp(argv[2], "use");
	bool destroy = argc == 4 && !strcmp(argv[2], "destroy");
	bool cert = argc == 5 && !strcmp(argv[2], "cert");
	bool tls = argc == 7 && !strcmp(argv[2], "tls");
	unsigned int n = 0;

	if (!keygen && !use && !destroy && !cert && !tls) {
		fprintf(stderr, "usage: hw-key CONF keygen LABEL OUT | hw-key CONF use IN | "
				"hw-key CONF destroy LABEL\n");
		return 2;
	}
	log_init(0);
	crypto_start();
	if (config_load(argv[1], &cfg) < 0 || config_load_secrets(cfg) < 0)
		return 2;
	crypto_load_config();
	/* Bound first for destroy too: a pass destroys the old key with the provider loaded. */
	r = crypto_hw_new(cfg, &hw);
	if (r == 0 && destroy) {
		r = p11_destroy_objects(cfg->pkcs11_module, cfg->pkcs11_uri, cfg->pkcs11_pin_file,
					argv[3], &n);
		if (r == 0)
			printf("%u\n", n);
	} else if (r == 0) {
		r = run(hw, cfg, argv + 2);
	}
	crypto_hw_free(hw);
	config_free(cfg);
	return r == 0 ? 0 : 1;
}
