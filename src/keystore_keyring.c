/* SPDX-License-Identifier: MIT */
/* Kernel keyring backend: user keys in a named keyring linked into root's user keyring. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keyutils.h>

#include "keystore_backend.h"
#include "log.h"
#include "util.h"

/* The user key type holds at most this much (security/keys/user_defined.c). */
#define USER_KEY_MAX 32767

struct entry {
	char *alias;
	key_serial_t id;
};

/* libkeyutils returns -1 and sets errno; everything below speaks -errno. */
static long kerr(long r)
{
	return r < 0 ? -errno : r;
}

static key_perm_t perms(const struct keystore *ks)
{
	key_perm_t p = KEY_POS_ALL | KEY_USR_ALL;

	if (ks->kc->gid != (gid_t)-1)
		p |= KEY_GRP_VIEW | KEY_GRP_READ | KEY_GRP_SEARCH;
	return p;
}

/* Group and permissions as the contract says (others nothing); also re-applied on update. */
static int set_access(const struct keystore *ks, key_serial_t id)
{
	long r = 0;

	if (ks->kc->gid != (gid_t)-1)
		r = kerr(keyctl_chown(id, (uid_t)-1, ks->kc->gid));
	if (r == 0)
		r = kerr(keyctl_setperm(id, perms(ks)));
	return (int)r;
}

int keystore_keyring_open(struct keystore *ks)
{
	const char *name = ks->kc->keyring;
	long id;
	int r;

	id = kerr(keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", name, 0));
	if (id == -ENOKEY)
		id = kerr(add_key("keyring", name, NULL, 0, KEY_SPEC_USER_KEYRING));
	if (id < 0)
		return (int)id;
	r = set_access(ks, (key_serial_t)id);
	if (r == 0)
		ks->keyring = (key_serial_t)id;
	return r;
}

/* Serial of the user key alias in the named keyring, or -errno (-ENOKEY when absent). */
static long find(const struct keystore *ks, const char *alias)
{
	return kerr(keyctl_search(ks->keyring, "user", alias, 0));
}

static int kr_put(struct keystore *ks, const char *alias, const void *data, size_t len)
{
	long id, r;

	if (len > USER_KEY_MAX)
		return -E2BIG;
	id = find(ks, alias);
	if (id >= 0) {
		/* In place: a reader sees the old or the new payload, never a mix or nothing. */
		r = kerr(keyctl_update((key_serial_t)id, data, len));
	} else if (id == -ENOKEY || id == -EKEYREVOKED || id == -EKEYEXPIRED) {
		/* Absent, or dead: add_key links a fresh key in the dead one's place. */
		id = kerr(add_key("user", alias, data, len, ks->keyring));
		r = id < 0 ? id : 0;
	} else {
		r = id;
	}
	if (r == 0)
		r = set_access(ks, (key_serial_t)id);
	return (int)r;
}

static int kr_get(struct keystore *ks, const char *alias, char **out_data, size_t *out_len)
{
	long id = find(ks, alias);
	void *buf = NULL;
	long n;

	if (id < 0)
		return (int)id;
	/* keyctl_read_alloc NUL-terminates, as keystore_get promises. */
	n = kerr(keyctl_read_alloc((key_serial_t)id, &buf));
	if (n < 0)
		return (int)n;
	*out_data = buf;
	*out_len = (size_t)n;
	return 0;
}

static int kr_remove(struct keystore *ks, const char *alias)
{
	long id = find(ks, alias);
	long r;

	if (id == -ENOKEY)
		return 0;
	if (id < 0)
		return (int)id;
	r = kerr(keyctl_unlink((key_serial_t)id, ks->keyring));
	if (r < 0)
		return (int)r;
	/*
	 * Gone at once for everyone who still holds the serial, not at the last unlink. Our keys
	 * allow it; a key someone else put into the keyring may not, and is unlinked all the same.
	 */
	r = kerr(keyctl_invalidate((key_serial_t)id));
	if (r < 0)
		log_debug("keystore %s: invalidating %s: %s", ks->kc->name, alias,
			  strerror((int)-r));
	return 0;
}

/* The description of a user key ("user;uid;gid;perm;description"), or NULL for anything else. */
static char *user_key_alias(key_serial_t id)
{
	char *desc = NULL, *alias = NULL, *p;
	int i;

	if (keyctl_describe_alloc(id, &desc) < 0)
		return NULL; /* gone meanwhile, or not ours to see */
	p = desc;
	for (i = 0; i < 4 && p; i++) {
		p = strchr(p, ';');
		if (p)
			p++;
	}
	if (p && !strncmp(desc, "user;", 5))
		alias = xstrdup(p);
	free(desc);
	return alias;
}

static int cmp_alias(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->alias, ((const struct entry *)b)->alias);
}

static void free_entries(struct entry *e, size_t n)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < n; i++)
		free(e[i].alias);
	free(e);
}

/* The user keys of the named keyring, sorted by alias. */
static int list_entries(struct keystore *ks, struct entry **out_e, size_t *out_n)
{
	key_serial_t *ids = NULL;
	struct entry *e = NULL;
	size_t n = 0, i, count;
	long len;

	len = kerr(keyctl_read_alloc(ks->keyring, (void **)&ids));
	if (len < 0)
		return (int)len;
	count = (size_t)len / sizeof(*ids);
	e = xzalloc(sizeof(*e) * (count ? count : 1));
	for (i = 0; i < count; i++) {
		e[n].alias = user_key_alias(ids[i]);
		if (e[n].alias)
			e[n++].id = ids[i];
	}
	free(ids);
	if (n > 1)
		qsort(e, n, sizeof(*e), cmp_entry);
	*out_e = e;
	*out_n = n;
	return 0;
}

static int kr_list(struct keystore *ks, char ***out_aliases, size_t *out_n)
{
	struct entry *e = NULL;
	char **aliases;
	size_t n = 0, i;
	int r;

	r = list_entries(ks, &e, &n);
	if (r < 0)
		return r;
	aliases = xzalloc(sizeof(*aliases) * (n ? n : 1));
	for (i = 0; i < n; i++) {
		aliases[i] = e[i].alias;
		e[i].alias = NULL;
	}
	free_entries(e, n);
	*out_aliases = aliases;
	*out_n = n;
	return 0;
}

/* Rewrites RUNTIME_DIR/NAME.keys, "ALIAS SERIAL" per line, for consumers in other sessions. */
static int kr_changed(struct keystore *ks)
{
	const char *dir = keystore_runtime_dir();
	char *text = NULL, *path = NULL;
	struct entry *e = NULL;
	size_t n = 0, len = 0, i;
	FILE *f = NULL;
	int r;

	r = list_entries(ks, &e, &n);
	if (r < 0)
		goto out;
	f = open_memstream(&text, &len);
	if (!f) {
		r = -errno;
		goto out;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%s %d\n", e[i].alias, (int)e[i].id);
	if (fclose(f) != 0) {
		r = -ENOMEM;
		goto out;
	}
	r = mkdir_p(dir, 0755);
	if (r < 0)
		goto out;
	path = xasprintf("%s/%s.keys", dir, ks->kc->name);
	/* Serials are not secret: 0644. */
	r = write_file_atomic(path, text, len, 0644, (gid_t)-1);
out:
	if (r < 0)
		log_err("keystore %s: %s/%s.keys: %s", ks->kc->name, dir, ks->kc->name,
			strerror(-r));
	free(path);
	free(text);
	free_entries(e, n);
	return r;
}

/* Puts every file of the persistent copy into the keyring. */
static int load_files(struct keystore *ks, char **files, size_t nf)
{
	char *data = NULL;
	size_t i, len = 0;
	int r = 0;

	for (i = 0; r == 0 && i < nf; i++) {
		r = keystore_file_ops.get(ks, files[i], &data, &len);
		if (r == 0)
			r = kr_put(ks, files[i], data, len);
		if (r < 0)
			log_err("keystore %s: loading %s: %s", ks->kc->name, files[i],
				strerror(-r));
		wipe_free(data, len);
		data = NULL;
		len = 0;
	}
	return r;
}

/* The keyring becomes equal to the file copy: keys without a file go. */
static int kr_load(struct keystore *ks)
{
	char **files = NULL, **keys = NULL;
	size_t nf = 0, nk = 0, i;
	int r;

	r = keystore_file_ops.list(ks, &files, &nf);
	if (r == 0)
		r = load_files(ks, files, nf);
	if (r == 0)
		r = kr_list(ks, &keys, &nk);
	for (i = 0; r == 0 && i < nk; i++) {
		if (!bsearch(&keys[i], files, nf, sizeof(*files), cmp_alias))
			r = kr_remove(ks, keys[i]);
	}
	keystore_free_list(files, nf);
	keystore_free_list(keys, nk);
	return r;
}

const struct keystore_ops keystore_keyring_ops = {
	.name = "keyring",
	.max_len = USER_KEY_MAX,
	.put = kr_put,
	.get = kr_get,
	.remove = kr_remove,
	.list = kr_list,
	.load = kr_load,
	.changed = kr_changed,
};
