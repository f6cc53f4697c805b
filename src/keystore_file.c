/* SPDX-License-Identifier: MIT */
/* The file copy: its directory, items PATH/ALIAS.pem 0600 (0640 with a group), their access,
 * the lock, reading, the old layout's journal; the data directories are keystore_file_data.c's. */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keystore_backend.h"
#include "keystore_file.h"
#include "log.h"
#include "util.h"

bool ksf_has_group(const struct keystore *ks)
{
	return ks->kc->gid != (gid_t)-1;
}

mode_t ksf_item_mode(const struct keystore *ks)
{
	return ksf_has_group(ks) ? 0640 : 0600;
}

static char *item_path(const struct keystore *ks, const char *alias)
{
	return xasprintf("%s/%s" SUFFIX, ks->kc->path, alias);
}

static char *staged_path(const struct keystore *ks, const char *alias)
{
	return xasprintf("%s/.%s" STAGED, ks->kc->path, alias);
}

/* ALIAS of "ALIAS.pem", or NULL for anything else (temporary and staged files, the journal). */
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

/*
 * The store gets mode; missing parents 0755: they hold nothing secret, and the group must get
 * through. Each directory made is synced into its parent, so the first commit cannot vanish
 * with the directory that holds it after a power cut.
 */
static int make_dir(const char *path, mode_t mode)
{
	char *parent, *slash;
	struct stat st;
	int r = 0;

	if (stat(path, &st) == 0 || errno != ENOENT)
		return 0; /* there (ksf_open checks what it is), or an error ksf_open reports */
	parent = xstrdup(path);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		r = make_dir(parent, 0755);
	}
	if (r < 0)
		goto out;
	if (mkdir(path, mode) == 0) {
		/* Exactly mode, whatever the umask. */
		r = chmod(path, mode) < 0 ? -errno : fsync_parent(path);
	} else if (errno != EEXIST) {
		r = -errno;
	}
out:
	free(parent);
	return r;
}

int ksf_open(struct keystore *ks, bool create)
{
	const struct keystore_conf *kc = ks->kc;
	struct stat st;
	int r;

	if (create) {
		r = make_dir(kc->path, ksf_has_group(ks) ? 0750 : 0700);
		if (r < 0)
			return r;
	}
	if (stat(kc->path, &st) < 0)
		return -errno;
	/* Owner, group and mode are set under the lock (ksf_conform). */
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/*
 * Owner, group and mode follow the configuration on every opening for writing (a pass, load,
 * import, an export), so a group added, changed or removed is applied by the next one even
 * when nothing else changes: the store directory and the current data directory 0750 and the
 * item files in it 0640 with the group, 0700 and 0600 with the running user's group without;
 * owned by root or the running user. (The stable names are symlinks: their own mode means
 * nothing; each commit makes its data directory and files so from the start.) What is
 * already so costs one fstatat per item and changes nothing. The content is not touched, so
 * the commit invariant (keystore_txn.c) does not see it; it is done under the store's lock all
 * the same, after recovery has installed what an interrupted commit staged. Not synced: a
 * change a power cut loses is made again by the next pass or `load` at boot.
 */

static gid_t want_gid(const struct keystore *ks)
{
	return ksf_has_group(ks) ? ks->kc->gid : getegid();
}

mode_t ksf_want_dir_mode(const struct keystore *ks)
{
	return ksf_has_group(ks) ? 0750 : 0700;
}

static bool owner_fits(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static bool access_fits(const struct stat *st, mode_t mode, gid_t gid)
{
	return owner_fits(st->st_uid) && st->st_gid == gid && (st->st_mode & 07777) == mode;
}

/*
 * ALIAS.pem: the files whose access follows the configuration (in the data directory, or in
 * PATH in the old layout). Temporary files are gone by then (recovery removes them), and each
 * commit writes its own with the configured mode and group.
 */
bool ksf_is_item(const char *name)
{
	char *alias = item_alias(name);
	bool item = alias != NULL;

	free(alias);
	return item;
}

/* fchmod/fchown of the directory itself (name NULL) or of one of its entries, unfollowed. */
static int set_mode(int dfd, const char *name, mode_t mode)
{
	int r = name ? fchmodat(dfd, name, mode, 0) : fchmod(dfd, mode);

	return r < 0 ? -errno : 0;
}

static int set_owner(int dfd, const char *name, uid_t uid, gid_t gid)
{
	int r = name ? fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) : fchown(dfd, uid, gid);

	return r < 0 ? -errno : 0;
}

/*
 * One entry to mode and gid (and to the running user when someone else owns it). Access is
 * taken away before it is given: bits that go are cleared before the group changes, so
 * neither the old group nor the new one ever reads more than the configuration lets it.
 */
static int conform(const struct keystore *ks, int dfd, const char *name, const struct stat *st,
		   mode_t mode, gid_t gid)
{
	mode_t cur = st->st_mode & 07777;
	uid_t uid = owner_fits(st->st_uid) ? (uid_t)-1 : geteuid();
	int r = 0;

	if (cur & ~mode) {
		cur &= mode;
		r = set_mode(dfd, name, cur);
	}
	if (r == 0 && (uid != (uid_t)-1 || st->st_gid != gid))
		r = set_owner(dfd, name, uid, gid);
	if (r == 0 && cur != mode)
		r = set_mode(dfd, name, mode);
	if (r == 0)
		return 0;
	/* Whatever the group was, it does not keep what it may no longer read. */
	set_mode(dfd, name, cur & 0700);
	if ((r == -EPERM || r == -EACCES) && ksf_has_group(ks) && st->st_gid != gid) {
		log_err("keystore %s: cannot give %s%s%s to group %s (%s): without CAP_CHOWN the "
			"process must be a member (systemd: SupplementaryGroups=%s)",
			ks->kc->name, ks->kc->path, name ? "/" : "", name ? name : "",
			ks->kc->group, strerror(-r), ks->kc->group);
		return -EINVAL;
	}
	log_err("keystore %s: %s%s%s: setting owner and mode: %s", ks->kc->name, ks->kc->path,
		name ? "/" : "", name ? name : "", strerror(-r));
	return r;
}

/* The item files of the directory dfd (the data directory, or the store in the old layout). */
struct conform_ctx {
	int dfd;
	mode_t fmode;
	gid_t gid;
};

static int conform_entry(const struct keystore *ks, const char *name, void *ctx)
{
	const struct conform_ctx *c = ctx;
	struct stat st;

	if (!ksf_is_item(name))
		return 0;
	if (fstatat(c->dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	/* Not a file of ours (a stable name's symlink, a directory): left as it is. */
	if (S_ISREG(st.st_mode) && !access_fits(&st, c->fmode, c->gid))
		return conform(ks, c->dfd, name, &st, c->fmode, c->gid);
	return 0;
}

static int conform_items(const struct keystore *ks, int dfd)
{
	struct conform_ctx c = {.dfd = dfd, .fmode = ksf_item_mode(ks), .gid = want_gid(ks)};

	return ksf_each_entry_in(ks, dfd, conform_entry, &c);
}

/* The store directory, then the data directory and its files (the old layout: the store's). */
int ksf_conform(const struct keystore *ks)
{
	gid_t gid = want_gid(ks);
	struct stat st;
	int r, dfd = ks->data_fd >= 0 ? ks->data_fd : ks->lock_fd;

	if (fstat(ks->lock_fd, &st) < 0)
		return -errno;
	r = access_fits(&st, ksf_want_dir_mode(ks), gid)
		    ? 0
		    : conform(ks, ks->lock_fd, NULL, &st, ksf_want_dir_mode(ks), gid);
	if (r == 0 && ks->data_fd >= 0) {
		if (fstat(ks->data_fd, &st) < 0)
			r = -errno;
		else if (!access_fits(&st, ksf_want_dir_mode(ks), gid))
			r = conform(ks, ks->data_fd, NULL, &st, ksf_want_dir_mode(ks), gid);
	}
	return r == 0 ? conform_items(ks, dfd) : r;
}

static void access_add(struct keystore_access *a, const struct stat *st, bool fits)
{
	if (!a->files) {
		a->file_uid = st->st_uid;
		a->file_gid = st->st_gid;
		a->file_mode = st->st_mode & 07777;
	} else if (a->file_uid != st->st_uid || a->file_gid != st->st_gid ||
		   a->file_mode != (st->st_mode & 07777)) {
		a->files_alike = false;
	}
	a->files++;
	a->as_configured = a->as_configured && fits;
}

struct access_ctx {
	struct keystore_access *a;
	int dfd;
	mode_t fmode;
	gid_t gid;
};

static int access_entry(const struct keystore *ks, const char *name, void *ctx)
{
	const struct access_ctx *c = ctx;
	struct stat st;

	(void)ks;
	/* A stable name is followed to its file in the data directory. */
	if (ksf_is_item(name) && fstatat(c->dfd, name, &st, 0) == 0 && S_ISREG(st.st_mode))
		access_add(c->a, &st, access_fits(&st, c->fmode, c->gid));
	return 0;
}

int ksf_access(const struct keystore *ks, struct keystore_access *out)
{
	struct keystore_access a = {.files_alike = true};
	struct access_ctx c = {.a = &a, .fmode = ksf_item_mode(ks), .gid = want_gid(ks)};
	struct stat st;
	int r;

	c.dfd = open(ks->kc->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.dfd < 0 || fstat(c.dfd, &st) < 0) {
		r = -errno;
		goto out;
	}
	a.uid = st.st_uid;
	a.gid = st.st_gid;
	a.mode = st.st_mode & 07777;
	a.as_configured = access_fits(&st, ksf_want_dir_mode(ks), c.gid);
	a.want_gid = c.gid;
	a.want_mode = ksf_want_dir_mode(ks);
	a.want_file_mode = c.fmode;
	r = ksf_each_entry_in(ks, c.dfd, access_entry, &c);
out:
	if (c.dfd >= 0)
		close(c.dfd);
	if (r == 0)
		*out = a;
	return r;
}

int ksf_lock(struct keystore *ks, bool wait)
{
	int fd = open(ks->kc->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		int r = errno;

		if (r == EINTR)
			continue;
		close(fd);
		return r == EWOULDBLOCK ? -EBUSY : -r;
	}
	ks->lock_fd = fd;
	return 0;
}

static int read_path(char *path, char **out_data, size_t *out_len)
{
	int r = read_file(path, KS_FILE_ITEM_MAX, out_data, out_len);

	free(path);
	return r == -ENOENT ? -ENOKEY : r;
}

int ksf_read(const struct keystore *ks, const char *alias, char **out_data, size_t *out_len)
{
	char *name;
	int r;

	if (ks->data_fd < 0)
		return read_path(item_path(ks, alias), out_data, out_len);
	name = xasprintf("%s" SUFFIX, alias);
	r = read_file_at(ks->data_fd, name, KS_FILE_ITEM_MAX, out_data, out_len);
	free(name);
	return r == -ENOENT ? -ENOKEY : r;
}

uint64_t ksf_sum(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* 1 when path holds len bytes summing to sum, 0 when it is absent or holds anything else. */
static int holds(char *path, size_t len, uint64_t sum)
{
	char *data = NULL;
	size_t n = 0;
	int r = read_file(path, KS_FILE_ITEM_MAX, &data, &n);

	free(path);
	if (r == -ENOENT || r == -EFBIG)
		return 0;
	if (r == 0)
		r = n == len && ksf_sum(data, n) == sum;
	wipe_free(data, n);
	return r;
}

/* Index of alias among the puts of j, or -1. */
static long put_index(const struct ks_journal *j, const char *alias)
{
	size_t i;

	for (i = 0; j && i < j->n_put; i++)
		if (!strcmp(j->put[i], alias))
			return (long)i;
	return -1;
}

int ksf_read_staged(const struct keystore *ks, const char *alias, char **out_data, size_t *out_len)
{
	const struct ks_journal *j = ks->jnl;
	long i = put_index(j, alias);
	char *data = NULL;
	size_t len = 0;
	int r;

	r = read_path(staged_path(ks, alias), &data, &len);
	/* A copy staged by a later writer after this journal was finished is not what it put. */
	if (r == 0 && i >= 0 && j->put_sum &&
	    (len != j->put_len[i] || ksf_sum(data, len) != j->put_sum[i])) {
		wipe_free(data, len);
		return -ENOKEY;
	}
	if (r == 0) {
		*out_data = data;
		*out_len = len;
	}
	return r;
}

/* Renames the staged copy over PATH/ALIAS.pem; 0 when there is none (done before). */
static int ksf_install(const struct keystore *ks, const char *alias)
{
	char *from = staged_path(ks, alias), *to = item_path(ks, alias);
	int r = 0;

	if (rename(from, to) < 0)
		r = errno == ENOENT ? 0 : -errno;
	free(from);
	free(to);
	return r;
}

int ksf_journal_install(const struct keystore *ks, const struct ks_journal *j, size_t i)
{
	int r;

	if (!j->put_sum)
		return ksf_install(ks, j->put[i]);
	r = holds(staged_path(ks, j->put[i]), j->put_len[i], j->put_sum[i]);
	return r == 1 ? ksf_install(ks, j->put[i]) : r;
}

int ksf_delete(const struct keystore *ks, const char *alias)
{
	char *path = item_path(ks, alias);
	int r = 0;

	if (unlink(path) < 0 && errno != ENOENT)
		r = -errno;
	free(path);
	return r;
}

int ksf_sync(const struct keystore *ks)
{
	int dfd = open(ks->kc->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (dfd < 0 || fsync(dfd) < 0)
		r = -errno;
	if (dfd >= 0)
		close(dfd);
	return r;
}

/* Calls fn on each entry name of the directory dfd, or (dfd < 0) of the store directory; an
 * absent directory has none. */
int ksf_each_entry_in(const struct keystore *ks, int dfd,
		      int (*fn)(const struct keystore *ks, const char *name, void *ctx), void *ctx)
{
	struct dirent *e;
	DIR *d;
	int fd, r = 0;

	/* A description of its own: readdir's offset is not the caller's. */
	fd = dfd < 0 ? open(ks->kc->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
		     : openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e) {
			r = -errno;
			break;
		}
		r = fn(ks, e->d_name, ctx);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

int ksf_each_entry(const struct keystore *ks,
		   int (*fn)(const struct keystore *ks, const char *name, void *ctx), void *ctx)
{
	return ksf_each_entry_in(ks, -1, fn, ctx);
}

struct list_ctx {
	char **aliases;
	size_t n;
};

static int add_alias(const struct keystore *ks, const char *name, void *ctx)
{
	struct list_ctx *l = ctx;
	char *alias = item_alias(name);

	(void)ks;
	if (alias) {
		l->aliases = xrealloc(l->aliases, sizeof(*l->aliases) * (l->n + 1));
		l->aliases[l->n++] = alias;
	}
	return 0;
}

int ksf_list(const struct keystore *ks, char ***out_aliases, size_t *out_n)
{
	struct list_ctx l = {NULL, 0};
	int r;

	r = ksf_each_entry_in(ks, ks->data_fd, add_alias, &l);
	if (r < 0) {
		keystore_free_list(l.aliases, l.n);
		return r;
	}
	keystore_sort(l.aliases, l.n);
	*out_aliases = l.aliases ? l.aliases : xzalloc(sizeof(char *));
	*out_n = l.n;
	return 0;
}

static bool is_leftover(const char *name)
{
	size_t len = strlen(name), slen = strlen(STAGED);

	if (strstr(name, ".tmp."))
		return true; /* write_file_atomic's temporary file */
	return name[0] == '.' && len > slen + 1 && !strcmp(name + len - slen, STAGED);
}

static int remove_leftover(const struct keystore *ks, const char *name, void *ctx)
{
	char *path;

	(void)ctx;
	if (!is_leftover(name))
		return 0;
	path = xasprintf("%s/%s", ks->kc->path, name);
	unlink(path);
	free(path);
	return 0;
}

void ksf_discard_staged(const struct keystore *ks)
{
	ksf_each_entry(ks, remove_leftover, NULL);
}

static char *journal_path(const struct keystore *ks)
{
	return xasprintf("%s/" JOURNAL, ks->kc->path);
}

static void journal_add(char ***list, size_t *n, const char *alias)
{
	*list = xrealloc(*list, sizeof(**list) * (*n + 1));
	(*list)[(*n)++] = xstrdup(alias);
}

/* "ALIAS LEN SUM" of a format 2 put line, or "ALIAS" of format 1. */
static int journal_put(char *arg, bool v1, struct ks_journal *j)
{
	char *len_s = strchr(arg, ' '), *sum_s = NULL, *end = NULL;
	unsigned long long len, sum;

	if (v1 != !len_s)
		return -EBADMSG;
	if (len_s) {
		*len_s++ = '\0';
		sum_s = strchr(len_s, ' ');
		if (!sum_s || *len_s < '0' || *len_s > '9')
			return -EBADMSG;
		*sum_s++ = '\0';
		errno = 0;
		len = strtoull(len_s, &end, 10);
		if (errno || *end || len == 0 || len > KS_FILE_ITEM_MAX || strlen(sum_s) != 16 ||
		    strspn(sum_s, "0123456789abcdef") != 16)
			return -EBADMSG;
		sum = strtoull(sum_s, &end, 16);
		if (errno || *end)
			return -EBADMSG;
		j->put_len = xrealloc(j->put_len, sizeof(*j->put_len) * (j->n_put + 1));
		j->put_sum = xrealloc(j->put_sum, sizeof(*j->put_sum) * (j->n_put + 1));
		j->put_len[j->n_put] = (size_t)len;
		j->put_sum[j->n_put] = (uint64_t)sum;
	}
	if (!keystore_alias_valid(arg))
		return -EBADMSG;
	journal_add(&j->put, &j->n_put, arg);
	return 0;
}

/* Parses the journal; -EBADMSG when it is not one the commit wrote (no "end" line). */
static int journal_parse(char *text, struct ks_journal *j)
{
	char *line, *save = NULL;
	bool ended = false, v1 = !strncmp(text, JOURNAL_MAGIC_1, strlen(JOURNAL_MAGIC_1));
	int r = 0;

	if (!v1 && strncmp(text, JOURNAL_MAGIC, strlen(JOURNAL_MAGIC)))
		return -EBADMSG;
	for (line = strtok_r(text + strlen(JOURNAL_MAGIC), "\n", &save); r == 0 && line && !ended;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(line, "end"))
			ended = true;
		else if (!strncmp(line, "put ", 4))
			r = journal_put(line + 4, v1, j);
		else if (!strncmp(line, "del ", 4) && keystore_alias_valid(line + 4))
			journal_add(&j->del, &j->n_del, line + 4);
		else
			r = -EBADMSG;
	}
	return r == 0 && !ended ? -EBADMSG : r;
}

/*
 * A format 2 journal counts only when each put is staged or installed with the content it
 * records: otherwise the commit point never became durable (a staged copy's directory entry was
 * lost with it), nothing was installed, and the journal is discarded. A format 1 writer synced
 * the staged copies before the journal.
 */
static int journal_check(const struct keystore *ks, const struct ks_journal *j)
{
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && j->put_sum && i < j->n_put; i++) {
		r = holds(staged_path(ks, j->put[i]), j->put_len[i], j->put_sum[i]);
		if (r == 0)
			r = holds(item_path(ks, j->put[i]), j->put_len[i], j->put_sum[i]);
		r = r == 1 ? 0 : r == 0 ? -EBADMSG : r;
	}
	return r;
}

int ksf_journal_read(const struct keystore *ks, struct ks_journal **out_j)
{
	char *path = journal_path(ks), *text = NULL;
	struct ks_journal *j = xzalloc(sizeof(*j));
	size_t len = 0;
	int r;

	r = read_file(path, 1 << 16, &text, &len);
	free(path);
	if (r == -ENOENT)
		r = -ENOKEY;
	if (r == 0)
		r = journal_parse(text, j);
	free(text);
	if (r == 0)
		r = journal_check(ks, j);
	if (r < 0) {
		ksf_journal_free(j);
		return r;
	}
	*out_j = j;
	return 0;
}

int ksf_journal_remove(const struct keystore *ks)
{
	char *path = journal_path(ks);
	int r = 0;

	if (unlink(path) < 0)
		r = errno == ENOENT ? 0 : -errno;
	free(path);
	return r;
}

void ksf_journal_free(struct ks_journal *j)
{
	if (!j)
		return;
	keystore_free_list(j->put, j->n_put);
	keystore_free_list(j->del, j->n_del);
	free(j->put_len);
	free(j->put_sum);
	free(j);
}
