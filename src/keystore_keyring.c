/* SPDX-License-Identifier: MIT */
/* Kernel keyring backend: user keys in a named keyring linked into root's user keyring. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <keyutils.h>

#include "keystore_backend.h"
#include "log.h"
#include "util.h"

/* The user key type holds at most this much (security/keys/user_defined.c). */
#define USER_KEY_MAX 32767

static key_perm_t perms(const struct keystore *ks)
{
	key_perm_t p = KEY_POS_ALL | KEY_USR_ALL;

	if (ks->kc->gid != (gid_t)-1)
		p |= KEY_GRP_VIEW | KEY_GRP_READ | KEY_GRP_SEARCH;
	return p;
}

/* Owner, group and permissions as the contract says; keys are created with wider defaults. */
static int set_access(const struct keystore *ks, key_serial_t id)
{
	if (ks->kc->gid != (gid_t)-1 && keyctl_chown(id, (uid_t)-1, ks->kc->gid) < 0)
		return -errno;
	if (keyctl_setperm(id, perms(ks)) < 0)
		return -errno;
	return 0;
}

int keystore_keyring_open(struct keystore *ks)
{
	const char *name = ks->kc->keyring;
	key_serial_t id;
	int r;

	id = keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", name, 0);
	if (id < 0 && errno == ENOKEY)
		id = add_key("keyring", name, NULL, 0, KEY_SPEC_USER_KEYRING);
	if (id < 0)
		return -errno;
	r = set_access(ks, id);
	if (r < 0)
		return r;
	ks->keyring = id;
	snprintf(ks->location, sizeof(ks->location), "keyring %s (serial %d)", name, (int)id);
	return 0;
}

static key_serial_t find(const struct keystore *ks, const char *alias)
{
	return keyctl_search(ks->keyring, "user", alias, 0);
}

static int kr_put(struct keystore *ks, const char *alias, const void *data, size_t len)
{
	key_serial_t id;

	if (len > USER_KEY_MAX)
		return -E2BIG;
	id = find(ks, alias);
	if (id >= 0) {
		/* In place: a reader sees the old or the new payload, never a mix. */
		if (keyctl_update(id, data, len) < 0)
			return -errno;
		return 0;
	}
	if (errno != ENOKEY)
		return -errno;
	id = add_key("user", alias, data, len, ks->keyring);
	if (id < 0)
		return -errno;
	return set_access(ks, id);
}

static int kr_get(struct keystore *ks, const char *alias, char **out_data, size_t *out_len)
{
	key_serial_t id = find(ks, alias);
	void *buf = NULL;
	char *copy;
	long n;

	if (id < 0)
		return -errno;
	n = keyctl_read_alloc(id, &buf);
	if (n < 0)
		return -errno;
	copy = xmalloc((size_t)n + 1);
	memcpy(copy, buf, (size_t)n);
	copy[n] = '\0';
	wipe_free(buf, (size_t)n);
	*out_data = copy;
	*out_len = (size_t)n;
	return 0;
}

static int kr_remove(struct keystore *ks, const char *alias)
{
	key_serial_t id = find(ks, alias);

	if (id < 0)
		return errno == ENOKEY ? 0 : -errno;
	if (keyctl_unlink(id, ks->keyring) < 0)
		return -errno;
	/* Gone at once for everyone, not when the last reference drops. */
	keyctl_invalidate(id);
	return 0;
}

/* The description of a user key, or NULL for anything else. */
static char *user_key_alias(key_serial_t id)
{
	char *desc = NULL, *alias = NULL, *p;

	if (keyctl_describe_alloc(id, &desc) < 0)
		return NULL;
	/* "type;uid;gid;perm;description" */
	if (!strncmp(desc, "user;", 5)) {
		p = desc;
		for (int i = 0; i < 4 && p; i++) {
			p = strchr(p, ';');
			if (p)
				p++;
		}
		if (p)
			alias = xstrdup(p);
	}
	free(desc);
	return alias;
}

static int kr_list(struct keystore *ks, char ***out_aliases, size_t *out_n)
{
	key_serial_t *ids = NULL;
	char **aliases = NULL;
	size_t n = 0, i, count;
	long len;

	len = keyctl_read_alloc(ks->keyring, (void **)&ids);
	if (len < 0)
		return -errno;
	count = (size_t)len / sizeof(key_serial_t);
	for (i = 0; i < count; i++) {
		char *alias = user_key_alias(ids[i]);

		if (!alias)
			continue;
		aliases = xrealloc(aliases, sizeof(*aliases) * (n + 1));
		aliases[n++] = alias;
	}
	free(ids);
	keystore_sort(aliases, n);
	*out_aliases = aliases;
	*out_n = n;
	return 0;
}

int keystore_keyring_publish(struct keystore *ks)
{
	char **aliases = NULL, *text = NULL, *path = NULL;
	size_t n = 0, i, len = 0;
	int r;

	r = kr_list(ks, &aliases, &n);
	if (r < 0)
		return r;
	text = xstrdup("");
	for (i = 0; i < n; i++) {
		char *line = xasprintf("%s %d\n", aliases[i], (int)find(ks, aliases[i]));

		text = xrealloc(text, len + strlen(line) + 1);
		memcpy(text + len, line, strlen(line) + 1);
		len += strlen(line);
		free(line);
		free(aliases[i]);
	}
	free(aliases);
	r = mkdir_p(keystore_runtime_dir(), 0755);
	if (r == 0) {
		path = xasprintf("%s/%s.keys", keystore_runtime_dir(), ks->kc->name);
		/* Serials are not secret: consumers in other sessions read this file. */
		r = write_file_atomic(path, text, len, 0644, (gid_t)-1);
	}
	free(path);
	free(text);
	return r;
}

const struct keystore_ops keystore_keyring_ops = {
	.put = kr_put,
	.get = kr_get,
	.remove = kr_remove,
	.list = kr_list,
};
