/* SPDX-License-Identifier: MIT */
/* The file copy's data directories: PATH/..data-XXXXXX switched by the PATH/..data symlink,
 * the stable names PATH/ALIAS.pem linked into it, and the tidying of what a commit left. */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keystore_backend.h"
#include "keystore_file.h"
#include "log.h"
#include "util.h"

/* ---- the data directories (keystore_txn.c has the commit order and why) ---- */

static char *store_name(const struct keystore *ks, const char *name)
{
	return xasprintf("%s/%s", ks->kc->path, name);
}

/* The name PATH/..data points to ("..data-XXXXXX") in buf. -ENOENT: no ..data (an empty
 * store or the old layout); -EBADMSG: not a link of ours. */
static int data_target(const struct keystore *ks, char *buf, size_t size)
{
	char *path = store_name(ks, DATA);
	ssize_t n = readlink(path, buf, size - 1);
	int r = errno;

	free(path);
	if (n < 0)
		return r == EINVAL ? -EBADMSG : -r;
	buf[n] = '\0';
	if ((size_t)n >= size - 1 || strncmp(buf, DATA_PREFIX, strlen(DATA_PREFIX)) ||
	    strchr(buf, '/') || !buf[strlen(DATA_PREFIX)])
		return -EBADMSG;
	return 0;
}

int ksf_data_open(struct keystore *ks)
{
	char *path = store_name(ks, DATA);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	free(path);
	if (fd < 0)
		r = -errno;
	if (r < 0 && r != -ENOENT)
		return r;
	if (ks->data_fd >= 0)
		close(ks->data_fd);
	ks->data_fd = fd;
	return r;
}

static bool in_names(char *const *names, size_t n, const char *alias)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i], alias))
			return true;
	return false;
}

static int remove_entry(const struct keystore *ks, const char *name, void *ctx)
{
	const char *dir = ctx;
	char *path;

	(void)ks;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	path = xasprintf("%s/%s", dir, name);
	if (unlink(path) < 0 && errno != ENOENT)
		log_debug("removing %s: %s", path, strerror(errno));
	free(path);
	return 0;
}

/* Removes the data directory PATH/name and its files (never anything below: it has none). */
static int remove_data_dir(const struct keystore *ks, const char *name)
{
	char *dir = store_name(ks, name);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), r = 0;

	if (fd >= 0) {
		r = ksf_each_entry_in(ks, fd, remove_entry, dir);
		close(fd);
	}
	if (r == 0 && rmdir(dir) < 0 && errno != ENOENT)
		r = -errno;
	free(dir);
	return r;
}

/* PATH/ALIAS.pem is the stable name's symlink "..data/ALIAS.pem". */
static bool is_stable_link(const struct keystore *ks, const char *name)
{
	char *path = store_name(ks, name), *want = xasprintf(DATA "/%s", name), buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	bool same = n >= 0 && (size_t)n == strlen(want) && !memcmp(buf, want, (size_t)n);

	free(path);
	free(want);
	return same;
}

/* Makes PATH/name the stable name's symlink: created when absent, else a symlink made aside
 * and renamed over what is there (a reader sees that or the link, both the same content). */
static int make_stable_link(const struct keystore *ks, const char *name)
{
	char *path = store_name(ks, name), *target = xasprintf(DATA "/%s", name);
	char *tmp = xasprintf("%s/.%s" LINK_TMP, ks->kc->path, name);
	int r = 0;

	if (symlink(target, path) < 0) {
		r = errno == EEXIST ? 0 : -errno;
		if (r == 0 && !is_stable_link(ks, name)) {
			unlink(tmp);
			if (symlink(target, tmp) < 0 || rename(tmp, path) < 0) {
				r = -errno;
				unlink(tmp);
			}
		}
	}
	free(path);
	free(target);
	free(tmp);
	return r;
}

struct tidy_ctx {
	const char *current; /* the data directory ..data names, NULL: none */
	int data_fd;
	bool changed;
	int r;
};

static int tidy_entry(const struct keystore *ks, const char *name, void *ctx)
{
	struct tidy_ctx *t = ctx;
	struct stat st;
	char *path;

	if (!strncmp(name, DATA_PREFIX, strlen(DATA_PREFIX)) &&
	    (!t->current || strcmp(name, t->current))) {
		t->changed = true;
		if (remove_data_dir(ks, name) < 0 && t->r == 0)
			t->r = -EIO;
		return 0;
	}
	if (!ksf_is_item(name) && strcmp(name, DATA_TMP))
		return 0;
	path = store_name(ks, name);
	if (strcmp(name, DATA_TMP) && t->data_fd >= 0 &&
	    fstatat(t->data_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* An item of the current set: its stable name is the symlink, nothing else. */
		if (!is_stable_link(ks, name)) {
			int r = make_stable_link(ks, name);

			t->changed = true;
			if (r < 0 && t->r == 0)
				t->r = r;
		}
	} else if (t->data_fd >= 0 || !strcmp(name, DATA_TMP) ||
		   (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))) {
		/* A gone alias's name, a half-made switch; without ..data only a symlink (a first
		 * commit killed before its switch): the old layout's files are the store. */
		t->changed = true;
		if (unlink(path) < 0 && errno != ENOENT && t->r == 0)
			t->r = -errno;
	}
	free(path);
	return 0;
}

static int add_missing_link(const struct keystore *ks, const char *name, void *ctx)
{
	struct tidy_ctx *t = ctx;
	struct stat st;
	char *path;

	if (!ksf_is_item(name))
		return 0;
	path = store_name(ks, name);
	if (lstat(path, &st) < 0 && errno == ENOENT) {
		int r = make_stable_link(ks, name);

		t->changed = true;
		if (r < 0 && t->r == 0)
			t->r = r;
	}
	free(path);
	return 0;
}

/* The stable names and the data directories as the current one (ks->data_fd) says. */
static int tidy(struct keystore *ks, bool *out_changed)
{
	char cur[NAME_MAX + 1];
	struct tidy_ctx t = {NULL, ks->data_fd, false, 0};
	int r = data_target(ks, cur, sizeof(cur));

	if (r == 0)
		t.current = cur;
	else if (r != -ENOENT)
		return r;
	r = ksf_each_entry(ks, tidy_entry, &t);
	if (r == 0 && ks->data_fd >= 0)
		r = ksf_each_entry_in(ks, ks->data_fd, add_missing_link, &t);
	if (out_changed)
		*out_changed = t.changed;
	return r < 0 ? r : t.r;
}

int ksf_tidy(struct keystore *ks)
{
	bool changed = false;
	int r;

	ksf_discard_staged(ks); /* temporary files, the old layout's staged copies */
	/* An old layout's journal, finished before the conversion: an unlink only when there. */
	if (ks->data_fd >= 0 && faccessat(ks->lock_fd, JOURNAL, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		ksf_journal_remove(ks);
	r = tidy(ks, &changed);
	/* Recovery is rare: what it removed or made is synced. */
	return r == 0 && changed ? ksf_sync(ks) : r;
}

/* The new data directory PATH/..data-XXXXXX with every item of want, each file synced, then
 * the directory. */
static int write_data_dir(struct keystore *ks, char *dir, const struct ks_view *want,
			  char *const *changed, size_t n_changed)
{
	size_t i;
	int dfd, r = 0;

	if (!mkdtemp(dir))
		return -errno;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	/* As the store: 0700, or 0750 with the group, before a file is in it. */
	if (fchmod(dfd, ksf_want_dir_mode(ks)) < 0 ||
	    (ksf_has_group(ks) && fchown(dfd, (uid_t)-1, ks->kc->gid) < 0))
		r = -errno;
	for (i = 0; r == 0 && i < want->n; i++) {
		const struct ks_item *it = &want->items[i];
		char *name = xasprintf("%s" SUFFIX, it->alias), *path;

		/* An unchanged item: the current file itself (synced when it was written). */
		if (ks->data_fd >= 0 && !in_names(changed, n_changed, it->alias) &&
		    linkat(ks->data_fd, name, dfd, name, 0) == 0) {
			free(name);
			continue;
		}
		path = xasprintf("%s/%s", dir, name);
		r = write_file_new(path, it->data, it->len, ksf_item_mode(ks), ks->kc->gid);
		free(path);
		free(name);
	}
	if (r == 0 && fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

int ksf_commit(struct keystore *ks, const struct ks_view *want, char *const *changed,
	       size_t n_changed)
{
	char *dir = xasprintf("%s/" DATA_PREFIX "XXXXXX", ks->kc->path);
	char *tmp = store_name(ks, DATA_TMP), *data = store_name(ks, DATA), *link_name;
	bool *made;
	size_t i;
	int r;

	made = xzalloc(sizeof(*made) * (want->n + 1));
	r = write_data_dir(ks, dir, want, changed, n_changed);
	if (r == 0 && unlink(tmp) < 0 && errno != ENOENT)
		r = -errno;
	if (r == 0 && symlink(strrchr(dir, '/') + 1, tmp) < 0)
		r = -errno;
	/* New aliases get their stable names now: dangling until the switch, harmless. */
	for (i = 0; r == 0 && i < want->n; i++) {
		char *target = xasprintf(DATA "/%s" SUFFIX, want->items[i].alias);

		link_name = store_name(ks, target + strlen(DATA "/"));
		if (symlink(target, link_name) == 0)
			made[i] = true;
		else if (errno != EEXIST)
			r = -errno;
		free(link_name);
		free(target);
	}
	/* The new directory's entry, ..data.tmp and the new names durable before the switch. */
	if (r == 0)
		r = ksf_sync(ks);
	if (r == 0 && rename(tmp, data) < 0) /* the commit point */
		r = -errno;
	if (r < 0) {
		/* Nothing was switched: the store is the old one; what was made goes. */
		for (i = 0; i < want->n; i++) {
			if (!made[i])
				continue;
			link_name = xasprintf("%s/%s" SUFFIX, ks->kc->path, want->items[i].alias);
			unlink(link_name);
			free(link_name);
		}
		unlink(tmp);
		if (strcmp(strrchr(dir, '/') + 1, DATA_PREFIX "XXXXXX"))
			remove_data_dir(ks, strrchr(dir, '/') + 1);
		goto out;
	}
	r = ksf_sync(ks);
	if (r < 0) {
		log_warn("keystore %s: the commit is made but may not be durable (%s)",
			 ks->kc->name, strerror(-r));
		r = 0;
	}
	/* Switched: the rest is tidying, which the next writer's recovery does too. */
	if (ksf_data_open(ks) < 0 || tidy(ks, NULL) < 0)
		log_debug("keystore %s: tidying after the commit failed; the next pass does it",
			  ks->kc->name);
out:
	free(made);
	free(dir);
	free(tmp);
	free(data);
	return r;
}
