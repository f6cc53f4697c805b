/* SPDX-License-Identifier: MIT */
/* [export NAME] sections: the enrolled key, its certificate chain and the CA certificates as files.
 */
#include "autoconf.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "certinfo.h"
#include "crypto.h"
#include "crypto_hw.h"
#include "export.h"
#include "keystore.h"
#include "log.h"
#include "pem.h"
#include "util.h"

/*
 * A file is rewritten only when it is missing or differs from what the store holds (content,
 * mode, owner or group): after a change of the store that is the part that changed, on an idle
 * pass nothing, and a section added later is filled by the next pass. Each file is replaced
 * atomically (tmp + fsync + rename), with its mode and owner set before a byte is written; the
 * key is written before the certificate, and hooks run after both. A reader of key and cert
 * may see one renamed and not yet the other: the bundle (key, certificate and chain in one
 * file) is the export a reader never sees torn. A temporary file left by a process killed
 * mid-write (PATH.tmp.XXXXXX, already with the final file's owner and mode) is removed by the
 * next export, under the store's lock.
 */

#define CERT_MODE 0644

/* What one export section writes, as PEM; NULL when the store does not hold it (yet). */
struct parts {
	char *key; /* secret */
	size_t key_len;
	char *cert;
	size_t cert_len;
	char *ca;
	size_t ca_len;
};

static void parts_clear(struct parts *p)
{
	wipe_free(p->key, p->key_len);
	free(p->cert);
	free(p->ca);
	*p = (struct parts){0};
}

/*
 * The split of a pair the record vouches for (keystore_pair_vouched), when its blocks are as
 * this tool writes them: a PKCS#8 key, then certificates, each as OpenSSL's PEM writer puts it.
 * Their texts are then what parsing and re-encoding would give, without OpenSSL's decoders and
 * encoders (an idle pass with an [export] section would otherwise load them all). 1 done, 0 not
 * that case.
 */
static int split_pair(const char *pem, size_t len, struct parts *p)
{
	struct pem_block b = {0};
	struct pem_reader rd;
	struct certinfo ci;
	char *cert = NULL;
	size_t clen = 0;
	int n = 0, r;

	pem_reader_init(&rd, pem, len);
	while ((r = pem_next(&rd, &b)) == 1) {
		bool key = n++ == 0;
		/* A key inside a TPM or a token: its reference is its only text, exported as is. */
		bool reference =
			key && crypto_hw_pem_storage(b.text, b.text_len) != KEY_STORAGE_SOFTWARE;

		if ((!reference && !pem_is_canonical(&b)) ||
		    (key ? strcmp(b.name, "PRIVATE KEY") != 0 && !reference
			 : !pem_is_certificate(&b) || strcmp(b.name, "CERTIFICATE") != 0 ||
				     certinfo_parse(b.data, b.len, &ci) < 0 || ci.der_len != b.len))
			break;
		if (key) {
			p->key = xstrndup(b.text, b.text_len);
			p->key_len = b.text_len;
			continue;
		}
		cert = xrealloc(cert, clen + b.text_len + 1);
		memcpy(cert + clen, b.text, b.text_len);
		clen += b.text_len;
		cert[clen] = '\0';
	}
	pem_block_clear(&b);
	if (r == 0 && n >= 2) {
		p->cert = cert;
		p->cert_len = clen;
		return 1;
	}
	free(cert);
	wipe_free(p->key, p->key_len);
	p->key = NULL;
	p->key_len = 0;
	return 0;
}

/* The private key (PKCS#8) and the certificates, leaf first, of est-enrolled-key-pair. */
static int read_pair(struct keystore *ks, struct parts *p)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	char *pem = NULL;
	size_t len = 0;
	int i, r;

	r = keystore_get(ks, KS_ALIAS_ENROLLED, &pem, &len);
	if (r == -ENOKEY)
		return 0;
	if (r < 0)
		return r;
	if ((keystore_pair_vouched(ks, pem, len) ||
	     crypto_hw_pem_storage(pem, len) != KEY_STORAGE_SOFTWARE) &&
	    split_pair(pem, len, p)) {
		wipe_free(pem, len);
		return 0;
	}
	crypto_load_config(); /* load and an idle pass come here without it */
	r = crypto_key_from_pem(pem, len, &key);
	if (r == 0)
		r = crypto_certs_from_pem(pem, len, &certs);
	if (r == 0)
		r = crypto_key_to_pem(key, &p->key, &p->key_len);
	for (i = 0; r == 0 && i < sk_X509_num(certs); i++)
		r = crypto_cert_append_pem(sk_X509_value(certs, i), &p->cert, &p->cert_len);
	if (r < 0)
		log_err("keystore %s: " KS_ALIAS_ENROLLED " is not a key and certificates",
			keystore_name(ks));
	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(key);
	wipe_free(pem, len);
	return r;
}

static int append_ca(int index, const char *pem, size_t len, void *ctx)
{
	struct parts *p = ctx;
	char *all = xasprintf("%s%s%.*s", p->ca ? p->ca : "",
			      p->ca_len && p->ca[p->ca_len - 1] != '\n' ? "\n" : "", (int)len, pem);

	(void)index;
	free(p->ca);
	p->ca = all;
	p->ca_len = strlen(all);
	return 0;
}

/* est-cacerts_0, _1, ... concatenated. */
static int read_cas(struct keystore *ks, struct parts *p)
{
	int r = keystore_each_in_set(ks, KS_ALIAS_CACERTS_PREFIX, append_ca, p);

	return r < 0 ? r : 0;
}

/* True when path holds exactly data, with mode, uid and gid. */
static bool current(const char *path, const char *data, size_t len, mode_t mode, uid_t uid,
		    gid_t gid)
{
	struct stat st;
	char *have = NULL;
	size_t hlen = 0;
	bool same;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != mode ||
	    st.st_uid != uid || st.st_gid != gid || (size_t)st.st_size != len)
		return false;
	if (read_file(path, len, &have, &hlen) < 0)
		return false;
	same = hlen == len && !memcmp(have, data, len);
	wipe_free(have, hlen);
	return same;
}

/*
 * Removes what a killed export left beside path: BASE.tmp.XXXXXX (write_file_atomic's six
 * characters), regular files only, owned by uid. The names are compared, never globbed: a
 * configured path may hold any character.
 */
static void remove_leftovers(const char *path, uid_t uid)
{
	const char *slash = strrchr(path, '/'), *base = slash + 1;
	char *dir = xstrndup(path, (size_t)(slash - path));
	size_t blen = strlen(base);
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(*dir ? dir : "/");

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, base, blen) != 0 ||
		    strncmp(de->d_name + blen, ".tmp.", 5) != 0 ||
		    strlen(de->d_name + blen + 5) != 6)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != uid)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			log_info("export: removed %s/%s, left by an interrupted export", dir,
				 de->d_name);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* Writes one file of ex unless it is current. 0 or -errno (logged). */
static int put_file(const struct export_conf *ex, const char *path, const char *what,
		    const char *data, size_t len, mode_t mode)
{
	uid_t uid = ex->uid != (uid_t)-1 ? ex->uid : geteuid();
	gid_t gid = ex->gid != (gid_t)-1 ? ex->gid : getegid();
	char *dir = NULL;
	int r = 0;

	remove_leftovers(path, uid);
	if (!data || current(path, data, len, mode, uid, gid))
		goto out;
	/* The config made path absolute. Directories made here let the file's group through. */
	dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	if (*dir)
		r = mkdir_p(dir, 0755);
	if (r == 0)
		r = write_file_atomic_owned(path, data, len, mode, uid, gid);
	if (r < 0)
		log_err("export %s: %s: %s", ex->name, path, strerror(-r));
	else
		log_info("export %s: wrote the %s to %s", ex->name, what, path);
out:
	free(dir);
	return r;
}

/* The private key, the certificate and its chain in one file, as haproxy and others take it. */
static int put_bundle(const struct export_conf *ex, const struct parts *p)
{
	size_t len = p->key_len + (p->key_len && p->key[p->key_len - 1] != '\n') + p->cert_len;
	char *all;
	int r;

	if (!p->key || !p->cert)
		return put_file(ex, ex->bundle, "key and certificate chain", NULL, 0, ex->mode);
	all = xmalloc(len + 1);
	memcpy(all, p->key, p->key_len);
	if (p->key[p->key_len - 1] != '\n')
		all[p->key_len] = '\n';
	memcpy(all + len - p->cert_len, p->cert, p->cert_len);
	all[len] = '\0';
	r = put_file(ex, ex->bundle, "key and certificate chain", all, len, ex->mode);
	wipe_free(all, len + 1);
	return r;
}

static int export_one(const struct config *cfg, const struct export_conf *ex)
{
	struct parts p = {0};
	struct keystore *ks = NULL;
	int r, r2;

	/*
	 * Under the store's lock, so two passes ending together never write an older pair over a
	 * newer one; if another pass holds it, that pass writes the files when it ends.
	 */
	r = keystore_open(config_keystore(cfg, ex->keystore), KEYSTORE_WRITE_TRY, &ks);
	if (r == -EBUSY) {
		log_debug("export %s: keystore %s is busy: its pass exports", ex->name,
			  ex->keystore);
		r = 0;
		goto out;
	}
	if (r < 0) {
		log_err("export %s: keystore %s: %s", ex->name, ex->keystore, strerror(-r));
		goto out;
	}
	if (ex->key || ex->cert || ex->bundle)
		r = read_pair(ks, &p);
	if (r == 0 && ex->ca)
		r = read_cas(ks, &p);
	if (r < 0)
		goto out;
	if (ex->key)
		r = put_file(ex, ex->key, "private key", p.key, p.key_len, ex->mode);
	if (ex->cert) {
		r2 = put_file(ex, ex->cert, "certificate chain", p.cert, p.cert_len, CERT_MODE);
		r = r < 0 ? r : r2;
	}
	if (ex->ca) {
		r2 = put_file(ex, ex->ca, "CA certificates", p.ca, p.ca_len, CERT_MODE);
		r = r < 0 ? r : r2;
	}
	if (ex->bundle) {
		r2 = put_bundle(ex, &p);
		r = r < 0 ? r : r2;
	}
	if (!p.key && (ex->key || ex->cert || ex->bundle))
		log_debug("export %s: no enrolled pair in keystore %s yet", ex->name, ex->keystore);
out:
	parts_clear(&p);
	keystore_free(ks);
	return r;
}

int export_all(const struct config *cfg)
{
	const struct export_conf *ex;
	int r = 0, r1;

	for (ex = cfg->exports; ex; ex = ex->next) {
		r1 = export_one(cfg, ex);
		r = r < 0 ? r : r1;
	}
	return r;
}
