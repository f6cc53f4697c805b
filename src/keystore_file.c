/* SPDX-License-Identifier: MIT */
/* File backend: PATH/ALIAS.pem, 0600 (0640 with a group), written atomically. */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keystore_backend.h"
#include "util.h"

#define MAX_ITEM (1u << 20)
#define SUFFIX ".pem"

static bool has_group(const struct keystore *ks)
{
	return ks->kc->gid != (gid_t)-1;
}

static char *item_path(const struct keystore *ks, const char *alias)
{
	return xasprintf("%s/%s" SUFFIX, ks->kc->path, alias);
}

/* The store gets mode; parents 0755: they hold nothing secret, and the group must get through. */
static int make_dir(const char *path, mode_t mode)
{
	char *parent = xstrdup(path), *slash = strrchr(parent, '/');
	int r = 0;

	if (slash && slash != parent) {
		*slash = '\0';
		r = mkdir_p(parent, 0755);
	}
	if (r < 0)
		goto out;
	if (mkdir(path, mode) == 0) {
		/* Exactly mode, whatever the umask. */
		if (chmod(path, mode) < 0)
			r = -errno;
	} else if (errno != EEXIST) {
		r = -errno;
	}
out:
	free(parent);
	return r;
}

int keystore_file_open(struct keystore *ks)
{
	const struct keystore_conf *kc = ks->kc;
	struct stat st;
	int r;

	r = make_dir(kc->path, has_group(ks) ? 0750 : 0700);
	if (r < 0)
		return r;
	if (stat(kc->path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (!has_group(ks))
		return 0;
	/* The group reads the items: it needs to enter the directory too (others still not). */
	if (chown(kc->path, (uid_t)-1, kc->gid) < 0 ||
	    chmod(kc->path, (st.st_mode & 07777) | 0050) < 0)
		return -errno;
	return 0;
}

static int file_put(struct keystore *ks, const char *alias, const void *data, size_t len)
{
	char *path = item_path(ks, alias);
	int r;

	r = write_file_atomic(path, data, len, has_group(ks) ? 0640 : 0600, ks->kc->gid);
	free(path);
	return r;
}

static int file_get(struct keystore *ks, const char *alias, char **out_data, size_t *out_len)
{
	char *path = item_path(ks, alias);
	int r;

	r = read_file(path, MAX_ITEM, out_data, out_len);
	free(path);
	return r == -ENOENT ? -ENOKEY : r;
}

static int file_remove(struct keystore *ks, const char *alias)
{
	char *path = item_path(ks, alias);
	int r = 0, dfd = -1;

	if (unlink(path) < 0) {
		r = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	/* The removal is as durable as a write. */
	dfd = open(ks->kc->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		r = -errno;
out:
	if (dfd >= 0)
		close(dfd);
	free(path);
	return r;
}

/* ALIAS of "ALIAS.pem", or NULL for anything else (temporary files of write_file_atomic). */
static char *item_alias(const char *name)
{
	size_t len = strlen(name), slen = strlen(SUFFIX);
	char *alias;

	if (len <= slen || strcmp(name + len - slen, SUFFIX))
		return NULL;
	alias = xstrndup(name, len - slen);
	if (keystore_alias_valid(alias))
		return alias;
	free(alias);
	return NULL;
}

static int file_list(struct keystore *ks, char ***out_aliases, size_t *out_n)
{
	char **aliases = NULL, *alias;
	struct dirent *e;
	size_t n = 0;
	DIR *d;
	int r = 0;

	d = opendir(ks->kc->path);
	if (!d) {
		r = -errno;
		goto out;
	}
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e)
			break;
		alias = item_alias(e->d_name);
		if (!alias)
			continue;
		aliases = xrealloc(aliases, sizeof(*aliases) * (n + 1));
		aliases[n++] = alias;
	}
	if (errno) {
		r = -errno;
		goto out;
	}
	keystore_sort(aliases, n);
	*out_aliases = aliases;
	*out_n = n;
	aliases = NULL;
out:
	if (d)
		closedir(d);
	keystore_free_list(aliases, n);
	return r;
}

const struct keystore_ops keystore_file_ops = {
	.name = "file",
	.max_len = MAX_ITEM,
	.put = file_put,
	.get = file_get,
	.remove = file_remove,
	.list = file_list,
	.load = NULL,
	.changed = NULL,
};
