/* SPDX-License-Identifier: MIT */
/* The keystore: validation, the persistent mirror of the keyring, fallback, sets and load. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keystore_backend.h"
#include "log.h"
#include "util.h"

static bool alias_valid(const char *alias)
{
	size_t len = strlen(alias);

	return len > 0 && len <= 200 && alias[0] != '.' &&
	       strspn(alias, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
		       len;
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

const char *keystore_runtime_dir(void)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");

	/* systemd may pass several directories separated by ':'; the first is ours. */
	if (dir && *dir && !strchr(dir, ':'))
		return dir;
	return RUNSTATEDIR "/est-enroll";
}

static bool keyring_unavailable(int r)
{
	return r == -ENOSYS || r == -EPERM || r == -EACCES || r == -EDQUOT;
}

int keystore_open(const struct keystore_conf *kc, struct keystore **out_ks)
{
	struct keystore *ks = xzalloc(sizeof(*ks));
	int r;

	ks->kc = kc;
	ks->keyring = -1;
	if (kc->type == KEYSTORE_TYPE_KEYRING) {
		r = keystore_keyring_open(ks);
		if (r == 0) {
			ks->ops = &keystore_keyring_ops;
			goto done;
		}
		if (!kc->fallback || !keyring_unavailable(r)) {
			log_err("keystore %s: kernel keyring %s: %s", kc->name, kc->keyring,
				strerror(-r));
			goto fail;
		}
		log_warn("kernel keyring unavailable (%s); storing in %s", strerror(-r), kc->path);
		ks->fell_back = true;
	}
	ks->ops = &keystore_file_ops;
done:
	/* The directory: the file store itself, or the keyring's persistent copy. */
	r = keystore_file_open(ks);
	if (r < 0) {
		log_err("keystore %s: %s: %s", kc->name, kc->path, strerror(-r));
		goto fail;
	}
	if (ks->ops == &keystore_keyring_ops)
		snprintf(ks->location, sizeof(ks->location), "keyring %s (serial %d)", kc->keyring,
			 (int)ks->keyring);
	*out_ks = ks;
	return 0;
fail:
	free(ks);
	return r;
}

void keystore_free(struct keystore *ks)
{
	free(ks);
}

static bool mirrored(const struct keystore *ks)
{
	return ks->ops == &keystore_keyring_ops;
}

int keystore_put(struct keystore *ks, const char *alias, const void *data, size_t len)
{
	int r;

	if (!alias_valid(alias))
		return -EINVAL;
	/* The persistent copy first: after a crash it is at least as new as the keyring. */
	if (mirrored(ks)) {
		r = keystore_file_ops.put(ks, alias, data, len);
		if (r < 0)
			return r;
	}
	r = ks->ops->put(ks, alias, data, len);
	if (r == 0 && mirrored(ks))
		r = keystore_keyring_publish(ks);
	return r;
}

int keystore_get(struct keystore *ks, const char *alias, char **out_data, size_t *out_len)
{
	if (!alias_valid(alias))
		return -EINVAL;
	return ks->ops->get(ks, alias, out_data, out_len);
}

int keystore_remove(struct keystore *ks, const char *alias)
{
	int r;

	if (!alias_valid(alias))
		return -EINVAL;
	if (mirrored(ks)) {
		r = keystore_file_ops.remove(ks, alias);
		if (r < 0)
			return r;
	}
	r = ks->ops->remove(ks, alias);
	if (r == 0 && mirrored(ks))
		r = keystore_keyring_publish(ks);
	return r;
}

int keystore_list(struct keystore *ks, char ***out_aliases, size_t *out_n)
{
	return ks->ops->list(ks, out_aliases, out_n);
}

static void free_list(char **aliases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(aliases[i]);
	free(aliases);
}

int keystore_replace_set(struct keystore *ks, const char *prefix, const char *const *items,
			 const size_t *lens, size_t n)
{
	char **aliases = NULL, *alias;
	size_t count = 0, i, plen = strlen(prefix);
	int r = 0;

	/* Overwrite in place first, so the set is never empty ... */
	for (i = 0; i < n && r == 0; i++) {
		alias = xasprintf("%s%zu", prefix, i);
		r = keystore_put(ks, alias, items[i], lens[i]);
		free(alias);
	}
	if (r < 0)
		return r;
	/* ... then drop what is beyond the new set. */
	r = keystore_list(ks, &aliases, &count);
	for (i = 0; r == 0 && i < count; i++) {
		unsigned long idx;

		if (strncmp(aliases[i], prefix, plen) ||
		    parse_uint(aliases[i] + plen, 0, 1u << 20, &idx) < 0 || idx < n)
			continue;
		r = keystore_remove(ks, aliases[i]);
	}
	free_list(aliases, count);
	return r;
}

int keystore_load(struct keystore *ks)
{
	char **files = NULL, **keys = NULL, *data = NULL;
	size_t nf = 0, nk = 0, i, j, len = 0;
	int r;

	if (!mirrored(ks))
		return 0;	/* a file store (or a fallback) has nothing to restore */
	r = keystore_file_ops.list(ks, &files, &nf);
	for (i = 0; r == 0 && i < nf; i++) {
		r = keystore_file_ops.get(ks, files[i], &data, &len);
		if (r == 0)
			r = keystore_keyring_ops.put(ks, files[i], data, len);
		wipe_free(data, len);
		data = NULL;
	}
	/* The keyring becomes equal to the file copy: drop keys with no file. */
	if (r == 0)
		r = keystore_keyring_ops.list(ks, &keys, &nk);
	for (i = 0; r == 0 && i < nk; i++) {
		bool found = false;

		for (j = 0; j < nf && !found; j++)
			found = !strcmp(keys[i], files[j]);
		if (!found)
			r = keystore_keyring_ops.remove(ks, keys[i]);
	}
	if (r == 0)
		r = keystore_keyring_publish(ks);
	free_list(files, nf);
	free_list(keys, nk);
	return r;
}

const char *keystore_backend(const struct keystore *ks)
{
	return ks->ops == &keystore_keyring_ops ? "keyring" : "file";
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
