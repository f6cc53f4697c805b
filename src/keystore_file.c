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

static char *item_path(const struct keystore *ks, const char *alias)
{
	return xasprintf("%s/%s.pem", ks->kc->path, alias);
}

int keystore_file_open(struct keystore *ks)
{
	const struct keystore_conf *kc = ks->kc;
	bool group = kc->gid != (gid_t)-1;
	int r;

	r = mkdir_p(kc->path, group ? 0750 : 0700);
	if (r < 0)
		return r;
	if (group && chown(kc->path, (uid_t)-1, kc->gid) < 0)
		return -errno;
	snprintf(ks->location, sizeof(ks->location), "directory %s", kc->path);
	return 0;
}

static int file_put(struct keystore *ks, const char *alias, const void *data, size_t len)
{
	bool group = ks->kc->gid != (gid_t)-1;
	char *path = item_path(ks, alias);
	int r;

	r = write_file_atomic(path, data, len, group ? 0640 : 0600, ks->kc->gid);
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
	int r = 0, dfd;

	if (unlink(path) < 0)
		r = errno == ENOENT ? 0 : -errno;
	free(path);
	dfd = open(ks->kc->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return r;
}

static int file_list(struct keystore *ks, char ***out_aliases, size_t *out_n)
{
	DIR *d = opendir(ks->kc->path);
	char **aliases = NULL;
	struct dirent *e;
	size_t n = 0;

	if (!d && errno != ENOENT)
		return -errno;
	if (!d) {
		*out_aliases = NULL;
		*out_n = 0;
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		/* Leftover temporary files of an interrupted write are not items. */
		if (len <= 4 || strcmp(e->d_name + len - 4, ".pem") || strstr(e->d_name, ".tmp.") ||
		    e->d_name[0] == '.')
			continue;
		aliases = xrealloc(aliases, sizeof(*aliases) * (n + 1));
		aliases[n++] = xstrndup(e->d_name, len - 4);
	}
	closedir(d);
	keystore_sort(aliases, n);
	*out_aliases = aliases;
	*out_n = n;
	return 0;
}

const struct keystore_ops keystore_file_ops = {
	.put = file_put,
	.get = file_get,
	.remove = file_remove,
	.list = file_list,
};
