/* SPDX-License-Identifier: MIT */
/* The keystore front: validation, fallback, the persistent mirror of a keyring, sets and load. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keystore_backend.h"
#include "log.h"
#include "util.h"

#define ALIAS_MAX 200
#define ALIAS_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

bool keystore_alias_valid(const char *alias)
{
	size_t len = alias ? strlen(alias) : 0;

	return len > 0 && len <= ALIAS_MAX && alias[0] != '.' && strspn(alias, ALIAS_CHARS) == len;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void keystore_sort(char **aliases, size_t n)
{
	if (n > 1)
		qsort(aliases, n, sizeof(*aliases), cmp_str);
}

void keystore_free_list(char **aliases, size_t n)
{
	size_t i;

	if (!aliases)
		return;
	for (i = 0; i < n; i++)
		free(aliases[i]);
	free(aliases);
}

const char *keystore_runtime_dir(void)
{
	static char buf[PATH_MAX];
	const char *dir = getenv("RUNTIME_DIRECTORY");
	size_t len;

	if (!dir || !*dir)
		return RUNSTATEDIR "/est-enroll";
	/* With several RuntimeDirectory= entries systemd joins them with ':'; ours is first. */
	len = strcspn(dir, ":");
	if (len >= sizeof(buf))
		return RUNSTATEDIR "/est-enroll";
	memcpy(buf, dir, len);
	buf[len] = '\0';
	return buf;
}

static bool keyring_unavailable(int r)
{
	return r == -ENOSYS || r == -EPERM || r == -EACCES || r == -EDQUOT;
}

/* The keyring, its file copy as mirror, or (unavailable and fallback) the files alone. */
static int open_keyring(struct keystore *ks)
{
	const struct keystore_conf *kc = ks->kc;
	static bool warned;
	int r;

	r = keystore_keyring_open(ks);
	if (r == 0) {
		ks->ops = &keystore_keyring_ops;
		ks->mirror = &keystore_file_ops;
		return 0;
	}
	if (!kc->fallback || !keyring_unavailable(r)) {
		log_err("kernel keyring %s: %s%s", kc->keyring, strerror(-r),
			keyring_unavailable(r) ? " (fallback = false)" : "");
		return r;
	}
	/* The kernel is the same for every keystore of this process: say so once. */
	if (!warned)
		log_warn("kernel keyring unavailable (%s); storing in %s", strerror(-r), kc->path);
	else
		log_debug("keystore %s: storing in %s", kc->name, kc->path);
	warned = true;
	ks->ops = &keystore_file_ops;
	ks->fell_back = true;
	return 0;
}

int keystore_open(const struct keystore_conf *kc, struct keystore **out_ks)
{
	struct keystore *ks = xzalloc(sizeof(*ks));
	int r = 0;

	ks->kc = kc;
	ks->keyring = -1;
	ks->ops = &keystore_file_ops;
	switch (kc->type) {
	case KEYSTORE_TYPE_KEYRING:
		r = open_keyring(ks);
		break;
	case KEYSTORE_TYPE_FILE:
		break;
	}
	if (r < 0)
		goto out;
	/* The directory: the file store itself, or the keyring's persistent copy. */
	r = keystore_file_open(ks);
	if (r < 0) {
		log_err("keystore %s: %s: %s", kc->name, kc->path, strerror(-r));
		goto out;
	}
	if (ks->ops == &keystore_keyring_ops)
		snprintf(ks->location, sizeof(ks->location), "keyring %s (serial %d)", kc->keyring,
			 (int)ks->keyring);
	else
		snprintf(ks->location, sizeof(ks->location), "directory %s", kc->path);
	*out_ks = ks;
	ks = NULL;
out:
	keystore_free(ks);
	return r;
}

void keystore_free(struct keystore *ks)
{
	free(ks);
}

/* After a change, even a partial one: republish, keeping the first error. */
static int changed(struct keystore *ks, int r)
{
	int r2;

	if (!ks->ops->changed)
		return r;
	r2 = ks->ops->changed(ks);
	return r < 0 ? r : r2;
}

static int store_put(struct keystore *ks, const char *alias, const void *data, size_t len)
{
	int r;

	if (!keystore_alias_valid(alias) || len == 0)
		return -EINVAL;
	/* Checked before the mirror is written, so both copies hold the same. */
	if (len > ks->ops->max_len)
		return -E2BIG;
	/* The persistent copy first: after a crash it is at least as new as the keyring. */
	if (ks->mirror) {
		r = ks->mirror->put(ks, alias, data, len);
		if (r < 0)
			return r;
	}
	return ks->ops->put(ks, alias, data, len);
}

static int store_remove(struct keystore *ks, const char *alias)
{
	int r;

	if (!keystore_alias_valid(alias))
		return -EINVAL;
	if (ks->mirror) {
		r = ks->mirror->remove(ks, alias);
		if (r < 0)
			return r;
	}
	return ks->ops->remove(ks, alias);
}

int keystore_put(struct keystore *ks, const char *alias, const void *data, size_t len)
{
	if (!keystore_alias_valid(alias) || len == 0)
		return -EINVAL;
	return changed(ks, store_put(ks, alias, data, len));
}

int keystore_get(struct keystore *ks, const char *alias, char **out_data, size_t *out_len)
{
	if (!keystore_alias_valid(alias))
		return -EINVAL;
	return ks->ops->get(ks, alias, out_data, out_len);
}

int keystore_remove(struct keystore *ks, const char *alias)
{
	if (!keystore_alias_valid(alias))
		return -EINVAL;
	return changed(ks, store_remove(ks, alias));
}

int keystore_list(struct keystore *ks, char ***out_aliases, size_t *out_n)
{
	return ks->ops->list(ks, out_aliases, out_n);
}

/* Index of PREFIXK, or -1 when alias is not one (digits only, no leading zero). */
static long set_index(const char *alias, const char *prefix)
{
	size_t plen = strlen(prefix);
	const char *p = alias + plen;
	unsigned long idx;

	if (strncmp(alias, prefix, plen) || !*p || strspn(p, "0123456789") != strlen(p) ||
	    (p[0] == '0' && p[1]))
		return -1;
	if (parse_uint(p, 0, 1ul << 20, &idx) < 0)
		return -1;
	return (long)idx;
}

/* Removes PREFIXK for every K >= n. */
static int trim_set(struct keystore *ks, const char *prefix, size_t n)
{
	char **aliases = NULL;
	size_t count = 0, i;
	long idx;
	int r;

	r = keystore_list(ks, &aliases, &count);
	for (i = 0; r == 0 && i < count; i++) {
		idx = set_index(aliases[i], prefix);
		if (idx >= 0 && (size_t)idx >= n)
			r = store_remove(ks, aliases[i]);
	}
	keystore_free_list(aliases, count);
	return r;
}

int keystore_replace_set(struct keystore *ks, const char *prefix, const char *const *items,
			 const size_t *lens, size_t n)
{
	char *alias = xasprintf("%s0", prefix);
	size_t i;
	int r = 0;

	if (!keystore_alias_valid(alias))
		r = -EINVAL;
	free(alias);
	if (r < 0)
		return r;
	/* Overwrite in place first, so the set is never empty, then drop what is beyond it. */
	for (i = 0; r == 0 && i < n; i++) {
		alias = xasprintf("%s%zu", prefix, i);
		r = store_put(ks, alias, items[i], lens ? lens[i] : strlen(items[i]));
		free(alias);
	}
	if (r == 0)
		r = trim_set(ks, prefix, n);
	return changed(ks, r);
}

int keystore_load(struct keystore *ks)
{
	if (!ks->ops->load)
		return 0; /* a file store (or a fallback) is its own persistent copy */
	return changed(ks, ks->ops->load(ks));
}

const char *keystore_backend(const struct keystore *ks)
{
	return ks->ops->name;
}

bool keystore_fell_back(const struct keystore *ks)
{
	return ks->fell_back;
}

const char *keystore_name(const struct keystore *ks)
{
	return ks->kc->name;
}

const char *keystore_location(const struct keystore *ks)
{
	return ks->location;
}
