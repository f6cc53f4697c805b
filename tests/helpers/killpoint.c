/* SPDX-License-Identifier: MIT */
/* Test helper (LD_PRELOAD): counts every store mutation and SIGKILLs the process at the Nth. */

/*
 * Environment (read once, then removed, so children such as hooks do not count):
 *   KILLPOINT_AT=N        the Nth counted mutation (1-based) is not performed: the process
 *                         raises SIGKILL just before it
 *   KILLPOINT_LOG=FILE    one line per counted mutation, "N kind detail", appended with one
 *                         write() each, so the file is complete up to the kill
 *   KILLPOINT_PATHS=A:B   count file mutations only under these directories (keyring
 *                         mutations always count); fd-based calls by the fd's path
 *
 * It works by interposition, not by hooks in the code under test, so it sees whatever a
 * rewrite of the store calls. libkeyutils' wrappers reach keyctl() through the PLT, but that is
 * not promised: the exported wrappers are interposed too, and a thread-local flag keeps a
 * wrapper calling another one (or keyctl, or syscall) from counting twice. glibc's own internal
 * calls (the open inside mkostemp, the write inside fclose) are not interposable: the outer
 * call is what counts (mkostemp, fclose/fflush of a stream writing into a counted path).
 *
 * Counted: keyring: add_key, keyctl_* that change a key or a keyring (update, revoke, chown,
 * setperm, clear, link, unlink, invalidate, set_timeout, move, restrict, instantiate, negate,
 * reject; a search or request_key that links into a destination), keyctl() and syscall() with
 * those commands. Files: open/openat/creat (writing, creating or truncating), mkstemp and
 * family, mkdtemp, fopen (writing modes), write/pwrite/writev/pwritev/copy_file_range/sendfile
 * and fflush/fclose into a regular file opened for writing, fsync/fdatasync/syncfs/
 * sync_file_range, ftruncate/truncate/fallocate, fchmod/chmod/fchown/chown, rename/renameat/
 * renameat2, link/linkat/symlink, unlink/unlinkat/remove/rmdir, mkdir/mkdirat. fds 0-2 never
 * count (logging). A call that fails still counts: the kill comes before it.
 */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <keyutils.h>

/* fortify's entry points of open (bits/fcntl2.h declares them only under _FORTIFY_SOURCE). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

#define MAX_PREFIXES 8
#define DETAIL_MAX (2 * PATH_MAX + 64)

static unsigned long kill_at;
static unsigned long counted;
static int log_fd = -1;
static bool filter;
static size_t nprefixes;
static char prefixes[MAX_PREFIXES][PATH_MAX];
static int initialised;

/* Set while a real function runs on behalf of an interposed one: nested calls pass through. */
static __thread int inside __attribute__((tls_model("initial-exec")));

static ssize_t (*real_write_fn)(int, const void *, size_t);
static long (*real_syscall_fn)(long, ...);

static void *resolve(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* The next definition of name (libc, libkeyutils, or a sanitizer's interceptor), once. */
#define REAL(name)                                                                                 \
	static __typeof__(name) *real_##name;                                                      \
	if (!__atomic_load_n(&real_##name, __ATOMIC_ACQUIRE))                                      \
		__atomic_store_n(&real_##name, (__typeof__(name) *)resolve(#name),                 \
				 __ATOMIC_RELEASE);                                                \
	if (!real_##name) {                                                                        \
		errno = ENOSYS;                                                                    \
		return -1;                                                                         \
	}

/* Calls the real function with nested interposed calls passing through. */
#define PASS(call)                                                                                 \
	({                                                                                         \
		__typeof__(call) r_;                                                               \
		inside++;                                                                          \
		r_ = (call);                                                                       \
		inside--;                                                                          \
		r_;                                                                                \
	})

struct text {
	char s[DETAIL_MAX];
	size_t n;
};

static void put_str(struct text *t, const char *s)
{
	while (s && *s && t->n + 1 < sizeof(t->s))
		t->s[t->n++] = *s++;
	t->s[t->n] = '\0';
}

static void put_num(struct text *t, long long v)
{
	char digits[24];
	size_t i = sizeof(digits) - 1;
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	digits[i] = '\0';
	do {
		digits[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u && i > 1);
	if (v < 0)
		digits[--i] = '-';
	put_str(t, digits + i);
}

/*
 * The canonical form of path, as /proc/self/fd shows it, into out (PATH_MAX): a directory that
 * does not exist yet (the store before the first enrollment) keeps its missing components
 * after the canonical form of its deepest existing ancestor.
 */
static void canonical(const char *path, char *out)
{
	char head[PATH_MAX], real[PATH_MAX];
	struct text t = {.n = 0};
	char *slash;
	size_t len;

	len = strlen(path);
	if (len >= sizeof(head))
		len = sizeof(head) - 1;
	memcpy(head, path, len);
	head[len] = '\0';
	while (len > 1 && head[len - 1] == '/')
		head[--len] = '\0';
	for (;;) {
		if (realpath(head, real)) {
			put_str(&t, real);
			put_str(&t, path + strlen(head));
			break;
		}
		slash = strrchr(head, '/');
		if (!slash || slash == head) {
			put_str(&t, path);
			break;
		}
		*slash = '\0';
	}
	len = t.n < PATH_MAX ? t.n : PATH_MAX - 1;
	memcpy(out, t.s, len);
	out[len] = '\0';
	while (len > 1 && out[len - 1] == '/')
		out[--len] = '\0';
}

static void init(void)
{
	const char *at, *logpath, *paths, *p;
	int saved = errno;
	char *end;

	if (__atomic_exchange_n(&initialised, 1, __ATOMIC_ACQ_REL))
		return;
	real_write_fn = (ssize_t(*)(int, const void *, size_t))resolve("write");
	real_syscall_fn = (long (*)(long, ...))resolve("syscall");
	at = getenv("KILLPOINT_AT");
	if (at && *at) {
		kill_at = strtoul(at, &end, 10);
		if (*end)
			kill_at = 0;
	}
	logpath = getenv("KILLPOINT_LOG");
	if (logpath && *logpath && real_syscall_fn)
		log_fd = (int)real_syscall_fn(SYS_openat, AT_FDCWD, logpath,
					      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	paths = getenv("KILLPOINT_PATHS");
	if (paths && *paths) {
		filter = true;
		for (p = paths; *p && nprefixes < MAX_PREFIXES;) {
			size_t len = strcspn(p, ":");
			char given[PATH_MAX];

			if (len > 0 && len < sizeof(given)) {
				memcpy(given, p, len);
				given[len] = '\0';
				canonical(given, prefixes[nprefixes]);
				nprefixes++;
			}
			p += strcspn(p, ":");
			if (*p == ':')
				p++;
		}
	}
	unsetenv("KILLPOINT_AT");
	unsetenv("KILLPOINT_LOG");
	unsetenv("KILLPOINT_PATHS");
	errno = saved;
}

__attribute__((constructor)) static void killpoint_init(void)
{
	init();
}

/* Counts one mutation, logs it, and kills the process if it is the chosen one. */
static void point(const char *kind, const char *detail)
{
	unsigned long n = __atomic_add_fetch(&counted, 1, __ATOMIC_SEQ_CST);
	int saved = errno;
	struct text line = {.n = 0};

	if (log_fd >= 0 && real_write_fn) {
		put_num(&line, (long long)n);
		put_str(&line, " ");
		put_str(&line, kind);
		put_str(&line, " ");
		put_str(&line, detail);
		if (line.n + 1 >= sizeof(line.s))
			line.n = sizeof(line.s) - 2;
		line.s[line.n++] = '\n';
		(void)real_write_fn(log_fd, line.s, line.n);
	}
	if (kill_at && n == kill_at) {
		raise(SIGKILL);
		_exit(137);
	}
	errno = saved;
}

static bool under_prefixes(const char *path)
{
	size_t i, len;

	if (!filter)
		return true;
	for (i = 0; i < nprefixes; i++) {
		len = strlen(prefixes[i]);
		if (!strncmp(path, prefixes[i], len) && (path[len] == '\0' || path[len] == '/'))
			return true;
	}
	return false;
}

static bool fd_path(int fd, char *out, size_t size)
{
	char link[64];
	struct text t = {.n = 0};
	ssize_t n;

	put_str(&t, "/proc/self/fd/");
	put_num(&t, fd);
	memcpy(link, t.s, t.n + 1);
	n = readlink(link, out, size - 1);
	if (n < 0)
		return false;
	out[n] = '\0';
	return true;
}

/* Absolute path of (dirfd, path) in out; true when it lies under KILLPOINT_PATHS. */
static bool path_counts(int dirfd, const char *path, struct text *out)
{
	char base[PATH_MAX], canon[PATH_MAX], *slash;
	struct text t = {.n = 0};
	bool ok = false;

	if (!path)
		return false;
	if (path[0] != '/') {
		if (dirfd == AT_FDCWD ? !getcwd(base, sizeof(base))
				      : !fd_path(dirfd, base, sizeof(base)))
			base[0] = '\0';
		put_str(&t, base);
		put_str(&t, "/");
	}
	put_str(&t, path);
	put_str(out, t.s);
	if (under_prefixes(t.s))
		return true;
	/* Through symlinks: the canonical directory, plus the last component. */
	slash = strrchr(t.s, '/');
	if (!slash)
		return false;
	if (slash == t.s) {
		ok = under_prefixes(t.s);
	} else {
		*slash = '\0';
		if (realpath(t.s, canon)) {
			struct text c = {.n = 0};

			put_str(&c, canon);
			put_str(&c, "/");
			put_str(&c, slash + 1);
			ok = under_prefixes(c.s);
		}
	}
	return ok;
}

/*
 * True for an fd whose mutation counts: above 2 (stdio, logging), under KILLPOINT_PATHS by its
 * /proc/self/fd link; with data, a regular file open for writing. Its path goes to out.
 */
static bool fd_counts(int fd, bool data, struct text *out)
{
	char path[PATH_MAX];
	struct stat st;
	int fl;

	if (fd <= 2)
		return false;
	if (data) {
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			return false;
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
			return false;
	}
	if (!fd_path(fd, path, sizeof(path))) {
		if (filter)
			return false;
		put_str(out, "fd ");
		put_num(out, fd);
		return true;
	}
	put_str(out, path);
	return under_prefixes(path);
}

/* Counts a path-based call on one path. */
static void path_point(const char *kind, int dirfd, const char *path)
{
	struct text t = {.n = 0};
	int saved = errno;

	init();
	if (!inside && path_counts(dirfd, path, &t))
		point(kind, t.s);
	errno = saved;
}

/* Counts a path-based call on two paths (rename, link): either under the prefixes counts. */
static void path2_point(const char *kind, int olddirfd, const char *oldpath, int newdirfd,
			const char *newpath)
{
	struct text o = {.n = 0}, n = {.n = 0};
	int saved = errno;
	bool c;

	init();
	if (inside)
		return;
	c = path_counts(newdirfd, newpath, &n);
	c = path_counts(olddirfd, oldpath, &o) || c;
	if (c) {
		put_str(&n, " <- ");
		put_str(&n, o.s);
		point(kind, n.s);
	}
	errno = saved;
}

static void fd_point(const char *kind, int fd, bool data)
{
	struct text t = {.n = 0};
	int saved = errno;

	init();
	if (!inside && fd_counts(fd, data, &t))
		point(kind, t.s);
	errno = saved;
}

static bool open_writes(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
}

static bool mode_writes(const char *mode)
{
	return mode && strpbrk(mode, "wa+");
}

/* ---- files ---- */

#define OPEN_MODE(flags, mode)                                                                     \
	do {                                                                                       \
		if (((flags)&O_CREAT) || ((flags)&O_TMPFILE) == O_TMPFILE) {                       \
			va_list ap;                                                                \
			va_start(ap, flags);                                                       \
			mode = (mode_t)va_arg(ap, int);                                            \
			va_end(ap);                                                                \
		}                                                                                  \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	REAL(open);
	if (open_writes(flags))
		path_point("open", AT_FDCWD, path);
	return PASS(real_open(path, flags, mode));
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	REAL(open64);
	if (open_writes(flags))
		path_point("open", AT_FDCWD, path);
	return PASS(real_open64(path, flags, mode));
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	REAL(openat);
	if (open_writes(flags))
		path_point("open", dirfd, path);
	return PASS(real_openat(dirfd, path, flags, mode));
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	REAL(openat64);
	if (open_writes(flags))
		path_point("open", dirfd, path);
	return PASS(real_openat64(dirfd, path, flags, mode));
}

int __open_2(const char *path, int flags)
{
	REAL(__open_2);
	if (open_writes(flags))
		path_point("open", AT_FDCWD, path);
	return PASS(real___open_2(path, flags));
}

int __open64_2(const char *path, int flags)
{
	REAL(__open64_2);
	if (open_writes(flags))
		path_point("open", AT_FDCWD, path);
	return PASS(real___open64_2(path, flags));
}

int __openat_2(int dirfd, const char *path, int flags)
{
	REAL(__openat_2);
	if (open_writes(flags))
		path_point("open", dirfd, path);
	return PASS(real___openat_2(dirfd, path, flags));
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	REAL(__openat64_2);
	if (open_writes(flags))
		path_point("open", dirfd, path);
	return PASS(real___openat64_2(dirfd, path, flags));
}

int creat(const char *path, mode_t mode)
{
	REAL(creat);
	path_point("creat", AT_FDCWD, path);
	return PASS(real_creat(path, mode));
}

int creat64(const char *path, mode_t mode)
{
	REAL(creat64);
	path_point("creat", AT_FDCWD, path);
	return PASS(real_creat64(path, mode));
}

/* glibc's open inside these is not interposable: the call itself is the creation. */
int mkstemp(char *tmpl)
{
	REAL(mkstemp);
	path_point("mkstemp", AT_FDCWD, tmpl);
	return PASS(real_mkstemp(tmpl));
}

int mkstemp64(char *tmpl)
{
	REAL(mkstemp64);
	path_point("mkstemp", AT_FDCWD, tmpl);
	return PASS(real_mkstemp64(tmpl));
}

int mkostemp(char *tmpl, int flags)
{
	REAL(mkostemp);
	path_point("mkostemp", AT_FDCWD, tmpl);
	return PASS(real_mkostemp(tmpl, flags));
}

int mkostemp64(char *tmpl, int flags)
{
	REAL(mkostemp64);
	path_point("mkostemp", AT_FDCWD, tmpl);
	return PASS(real_mkostemp64(tmpl, flags));
}

int mkstemps(char *tmpl, int suffixlen)
{
	REAL(mkstemps);
	path_point("mkstemps", AT_FDCWD, tmpl);
	return PASS(real_mkstemps(tmpl, suffixlen));
}

int mkstemps64(char *tmpl, int suffixlen)
{
	REAL(mkstemps64);
	path_point("mkstemps", AT_FDCWD, tmpl);
	return PASS(real_mkstemps64(tmpl, suffixlen));
}

int mkostemps(char *tmpl, int suffixlen, int flags)
{
	REAL(mkostemps);
	path_point("mkostemps", AT_FDCWD, tmpl);
	return PASS(real_mkostemps(tmpl, suffixlen, flags));
}

int mkostemps64(char *tmpl, int suffixlen, int flags)
{
	REAL(mkostemps64);
	path_point("mkostemps", AT_FDCWD, tmpl);
	return PASS(real_mkostemps64(tmpl, suffixlen, flags));
}

char *mkdtemp(char *tmpl)
{
	static __typeof__(mkdtemp) *real_mkdtemp;

	if (!real_mkdtemp)
		real_mkdtemp = (__typeof__(mkdtemp) *)resolve("mkdtemp");
	if (!real_mkdtemp) {
		errno = ENOSYS;
		return NULL;
	}
	path_point("mkdtemp", AT_FDCWD, tmpl);
	return PASS(real_mkdtemp(tmpl));
}

/* fopen's open is internal to glibc: a writing mode is the creation or truncation. */
FILE *fopen(const char *path, const char *mode)
{
	static __typeof__(fopen) *real_fopen;

	if (!real_fopen)
		real_fopen = (__typeof__(fopen) *)resolve("fopen");
	if (!real_fopen) {
		errno = ENOSYS;
		return NULL;
	}
	if (mode_writes(mode))
		path_point("fopen", AT_FDCWD, path);
	return PASS(real_fopen(path, mode));
}

FILE *fopen64(const char *path, const char *mode)
{
	static __typeof__(fopen64) *real_fopen64;

	if (!real_fopen64)
		real_fopen64 = (__typeof__(fopen64) *)resolve("fopen64");
	if (!real_fopen64) {
		errno = ENOSYS;
		return NULL;
	}
	if (mode_writes(mode))
		path_point("fopen", AT_FDCWD, path);
	return PASS(real_fopen64(path, mode));
}

/* A stream's buffered bytes reach the file in fflush or fclose (glibc's internal write). */
static void stream_point(const char *kind, FILE *f)
{
	int saved = errno, fd = f ? fileno(f) : -1; /* -1 for memory streams */

	errno = saved;
	if (fd >= 0)
		fd_point(kind, fd, true);
}

int fflush(FILE *f)
{
	REAL(fflush);
	stream_point("fflush", f);
	return PASS(real_fflush(f));
}

int fclose(FILE *f)
{
	REAL(fclose);
	stream_point("fclose", f);
	return PASS(real_fclose(f));
}

ssize_t write(int fd, const void *buf, size_t len)
{
	REAL(write);
	fd_point("write", fd, true);
	return PASS(real_write(fd, buf, len));
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	REAL(pwrite);
	fd_point("pwrite", fd, true);
	return PASS(real_pwrite(fd, buf, len, off));
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	REAL(pwrite64);
	fd_point("pwrite", fd, true);
	return PASS(real_pwrite64(fd, buf, len, off));
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	REAL(writev);
	fd_point("writev", fd, true);
	return PASS(real_writev(fd, iov, n));
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	REAL(pwritev);
	fd_point("pwritev", fd, true);
	return PASS(real_pwritev(fd, iov, n, off));
}

int fsync(int fd)
{
	REAL(fsync);
	fd_point("fsync", fd, false);
	return PASS(real_fsync(fd));
}

int fdatasync(int fd)
{
	REAL(fdatasync);
	fd_point("fdatasync", fd, false);
	return PASS(real_fdatasync(fd));
}

int syncfs(int fd)
{
	REAL(syncfs);
	fd_point("syncfs", fd, false);
	return PASS(real_syncfs(fd));
}

int sync_file_range(int fd, off64_t off, off64_t len, unsigned int flags)
{
	REAL(sync_file_range);
	fd_point("sync_file_range", fd, false);
	return PASS(real_sync_file_range(fd, off, len, flags));
}

ssize_t copy_file_range(int in, off64_t *in_off, int out, off64_t *out_off, size_t len,
			unsigned int flags)
{
	REAL(copy_file_range);
	fd_point("copy_file_range", out, true);
	return PASS(real_copy_file_range(in, in_off, out, out_off, len, flags));
}

ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	REAL(sendfile);
	fd_point("sendfile", out, true);
	return PASS(real_sendfile(out, in, off, count));
}

int posix_fallocate(int fd, off_t off, off_t len)
{
	REAL(posix_fallocate);
	fd_point("fallocate", fd, false);
	return PASS(real_posix_fallocate(fd, off, len));
}

int ftruncate(int fd, off_t len)
{
	REAL(ftruncate);
	fd_point("ftruncate", fd, false);
	return PASS(real_ftruncate(fd, len));
}

int ftruncate64(int fd, off64_t len)
{
	REAL(ftruncate64);
	fd_point("ftruncate", fd, false);
	return PASS(real_ftruncate64(fd, len));
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	REAL(fallocate);
	fd_point("fallocate", fd, false);
	return PASS(real_fallocate(fd, mode, off, len));
}

int truncate(const char *path, off_t len)
{
	REAL(truncate);
	path_point("truncate", AT_FDCWD, path);
	return PASS(real_truncate(path, len));
}

int fchmod(int fd, mode_t mode)
{
	REAL(fchmod);
	fd_point("fchmod", fd, false);
	return PASS(real_fchmod(fd, mode));
}

int fchown(int fd, uid_t uid, gid_t gid)
{
	REAL(fchown);
	fd_point("fchown", fd, false);
	return PASS(real_fchown(fd, uid, gid));
}

int chmod(const char *path, mode_t mode)
{
	REAL(chmod);
	path_point("chmod", AT_FDCWD, path);
	return PASS(real_chmod(path, mode));
}

int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	REAL(fchmodat);
	path_point("chmod", dirfd, path);
	return PASS(real_fchmodat(dirfd, path, mode, flags));
}

int chown(const char *path, uid_t uid, gid_t gid)
{
	REAL(chown);
	path_point("chown", AT_FDCWD, path);
	return PASS(real_chown(path, uid, gid));
}

int lchown(const char *path, uid_t uid, gid_t gid)
{
	REAL(lchown);
	path_point("chown", AT_FDCWD, path);
	return PASS(real_lchown(path, uid, gid));
}

int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
	REAL(fchownat);
	path_point("chown", dirfd, path);
	return PASS(real_fchownat(dirfd, path, uid, gid, flags));
}

int rename(const char *oldpath, const char *newpath)
{
	REAL(rename);
	path2_point("rename", AT_FDCWD, oldpath, AT_FDCWD, newpath);
	return PASS(real_rename(oldpath, newpath));
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	REAL(renameat);
	path2_point("rename", olddirfd, oldpath, newdirfd, newpath);
	return PASS(real_renameat(olddirfd, oldpath, newdirfd, newpath));
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
	      unsigned int flags)
{
	REAL(renameat2);
	path2_point("rename", olddirfd, oldpath, newdirfd, newpath);
	return PASS(real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags));
}

int link(const char *oldpath, const char *newpath)
{
	REAL(link);
	path2_point("link", AT_FDCWD, oldpath, AT_FDCWD, newpath);
	return PASS(real_link(oldpath, newpath));
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	REAL(linkat);
	path2_point("link", olddirfd, oldpath, newdirfd, newpath);
	return PASS(real_linkat(olddirfd, oldpath, newdirfd, newpath, flags));
}

int symlink(const char *target, const char *linkpath)
{
	REAL(symlink);
	path_point("symlink", AT_FDCWD, linkpath);
	return PASS(real_symlink(target, linkpath));
}

int symlinkat(const char *target, int dirfd, const char *linkpath)
{
	REAL(symlinkat);
	path_point("symlink", dirfd, linkpath);
	return PASS(real_symlinkat(target, dirfd, linkpath));
}

int unlink(const char *path)
{
	REAL(unlink);
	path_point("unlink", AT_FDCWD, path);
	return PASS(real_unlink(path));
}

int unlinkat(int dirfd, const char *path, int flags)
{
	REAL(unlinkat);
	path_point("unlink", dirfd, path);
	return PASS(real_unlinkat(dirfd, path, flags));
}

int remove(const char *path)
{
	REAL(remove);
	path_point("unlink", AT_FDCWD, path);
	return PASS(real_remove(path));
}

int rmdir(const char *path)
{
	REAL(rmdir);
	path_point("rmdir", AT_FDCWD, path);
	return PASS(real_rmdir(path));
}

int mkdir(const char *path, mode_t mode)
{
	REAL(mkdir);
	path_point("mkdir", AT_FDCWD, path);
	return PASS(real_mkdir(path, mode));
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	REAL(mkdirat);
	path_point("mkdir", dirfd, path);
	return PASS(real_mkdirat(dirfd, path, mode));
}

/* ---- keyring ---- */

/* "SERIAL (type:description)" of a key, described before the call changes it. */
static void put_key(struct text *t, long id)
{
	char desc[256];
	long n = -1;
	char *p, *semi;
	int saved = errno;

	put_num(t, id);
	if (real_syscall_fn)
		n = real_syscall_fn(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof(desc) - 1);
	errno = saved;
	if (n <= 0)
		return;
	desc[n < (long)sizeof(desc) ? n : (long)sizeof(desc) - 1] = '\0';
	/* type;uid;gid;perm;description */
	semi = strchr(desc, ';');
	p = strrchr(desc, ';');
	if (!semi || !p)
		return;
	*semi = '\0';
	put_str(t, " (");
	put_str(t, desc);
	put_str(t, ":");
	put_str(t, p + 1);
	put_str(t, ")");
}

static void key_point(const char *kind, long id, long ring)
{
	struct text t = {.n = 0};

	init();
	if (inside)
		return;
	put_key(&t, id);
	if (ring) {
		put_str(&t, " keyring ");
		put_key(&t, ring);
	}
	point(kind, t.s);
}

/* A key created or linked by type and description (add_key, a search linking its find). */
static void add_key_point(const char *kind, const char *type, const char *desc, long ring)
{
	struct text t = {.n = 0};

	init();
	if (inside)
		return;
	put_str(&t, type ? type : "?");
	put_str(&t, ":");
	put_str(&t, desc ? desc : "?");
	put_str(&t, " keyring ");
	put_key(&t, ring);
	point(kind, t.s);
}

/* The kind of a mutating keyctl command, or NULL for one that changes nothing. */
static const char *keyctl_kind(int cmd, unsigned long a5)
{
	switch (cmd) {
	case KEYCTL_UPDATE:
		return "keyctl_update";
	case KEYCTL_REVOKE:
		return "keyctl_revoke";
	case KEYCTL_CHOWN:
		return "keyctl_chown";
	case KEYCTL_SETPERM:
		return "keyctl_setperm";
	case KEYCTL_CLEAR:
		return "keyctl_clear";
	case KEYCTL_LINK:
		return "keyctl_link";
	case KEYCTL_UNLINK:
		return "keyctl_unlink";
	case KEYCTL_SEARCH:
		return a5 ? "keyctl_search_link" : NULL; /* a destination keyring links */
	case KEYCTL_INSTANTIATE:
	case KEYCTL_INSTANTIATE_IOV:
		return "keyctl_instantiate";
	case KEYCTL_NEGATE:
		return "keyctl_negate";
	case KEYCTL_REJECT:
		return "keyctl_reject";
	case KEYCTL_SET_TIMEOUT:
		return "keyctl_set_timeout";
	case KEYCTL_INVALIDATE:
		return "keyctl_invalidate";
	case KEYCTL_RESTRICT_KEYRING:
		return "keyctl_restrict_keyring";
	case KEYCTL_MOVE:
		return "keyctl_move";
	default:
		return NULL;
	}
}

/* The key and keyring a keyctl command acts on, for the log. */
static void keyctl_point(int cmd, unsigned long a2, unsigned long a3, unsigned long a4,
			 unsigned long a5)
{
	const char *kind = keyctl_kind(cmd, a5);
	long ring = 0;

	if (!kind)
		return;
	if (cmd == KEYCTL_LINK || cmd == KEYCTL_UNLINK)
		ring = (long)(int)a3;
	else if (cmd == KEYCTL_MOVE)
		ring = (long)(int)a4;
	else if (cmd == KEYCTL_SEARCH)
		ring = (long)(int)a5;
	key_point(kind, (long)(int)a2, ring);
}

long keyctl(int cmd, ...)
{
	unsigned long a2, a3, a4, a5;
	va_list ap;

	va_start(ap, cmd);
	a2 = va_arg(ap, unsigned long);
	a3 = va_arg(ap, unsigned long);
	a4 = va_arg(ap, unsigned long);
	a5 = va_arg(ap, unsigned long);
	va_end(ap);
	REAL(keyctl);
	init();
	if (!inside)
		keyctl_point(cmd, a2, a3, a4, a5);
	return PASS(real_keyctl(cmd, a2, a3, a4, a5));
}

key_serial_t add_key(const char *type, const char *desc, const void *payload, size_t plen,
		     key_serial_t ring)
{
	REAL(add_key);
	add_key_point("add_key", type, desc, ring);
	return PASS(real_add_key(type, desc, payload, plen, ring));
}

key_serial_t request_key(const char *type, const char *desc, const char *callout, key_serial_t dest)
{
	REAL(request_key);
	if (dest || callout)
		add_key_point("request_key", type, desc, dest);
	return PASS(real_request_key(type, desc, callout, dest));
}

long keyctl_update(key_serial_t id, const void *payload, size_t plen)
{
	REAL(keyctl_update);
	key_point("keyctl_update", id, 0);
	return PASS(real_keyctl_update(id, payload, plen));
}

long keyctl_revoke(key_serial_t id)
{
	REAL(keyctl_revoke);
	key_point("keyctl_revoke", id, 0);
	return PASS(real_keyctl_revoke(id));
}

long keyctl_chown(key_serial_t id, uid_t uid, gid_t gid)
{
	REAL(keyctl_chown);
	key_point("keyctl_chown", id, 0);
	return PASS(real_keyctl_chown(id, uid, gid));
}

long keyctl_setperm(key_serial_t id, key_perm_t perm)
{
	REAL(keyctl_setperm);
	key_point("keyctl_setperm", id, 0);
	return PASS(real_keyctl_setperm(id, perm));
}

long keyctl_clear(key_serial_t ring)
{
	REAL(keyctl_clear);
	key_point("keyctl_clear", ring, 0);
	return PASS(real_keyctl_clear(ring));
}

long keyctl_link(key_serial_t id, key_serial_t ring)
{
	REAL(keyctl_link);
	key_point("keyctl_link", id, ring);
	return PASS(real_keyctl_link(id, ring));
}

long keyctl_unlink(key_serial_t id, key_serial_t ring)
{
	REAL(keyctl_unlink);
	key_point("keyctl_unlink", id, ring);
	return PASS(real_keyctl_unlink(id, ring));
}

long keyctl_invalidate(key_serial_t id)
{
	REAL(keyctl_invalidate);
	key_point("keyctl_invalidate", id, 0);
	return PASS(real_keyctl_invalidate(id));
}

long keyctl_set_timeout(key_serial_t id, unsigned timeout)
{
	REAL(keyctl_set_timeout);
	key_point("keyctl_set_timeout", id, 0);
	return PASS(real_keyctl_set_timeout(id, timeout));
}

long keyctl_move(key_serial_t id, key_serial_t from, key_serial_t to, unsigned int flags)
{
	REAL(keyctl_move);
	key_point("keyctl_move", id, to);
	return PASS(real_keyctl_move(id, from, to, flags));
}

long keyctl_restrict_keyring(key_serial_t ring, const char *type, const char *restriction)
{
	REAL(keyctl_restrict_keyring);
	key_point("keyctl_restrict_keyring", ring, 0);
	return PASS(real_keyctl_restrict_keyring(ring, type, restriction));
}

long keyctl_instantiate(key_serial_t id, const void *payload, size_t plen, key_serial_t ring)
{
	REAL(keyctl_instantiate);
	key_point("keyctl_instantiate", id, ring);
	return PASS(real_keyctl_instantiate(id, payload, plen, ring));
}

long keyctl_instantiate_iov(key_serial_t id, const struct iovec *iov, unsigned ioc,
			    key_serial_t ring)
{
	REAL(keyctl_instantiate_iov);
	key_point("keyctl_instantiate", id, ring);
	return PASS(real_keyctl_instantiate_iov(id, iov, ioc, ring));
}

long keyctl_negate(key_serial_t id, unsigned timeout, key_serial_t ring)
{
	REAL(keyctl_negate);
	key_point("keyctl_negate", id, ring);
	return PASS(real_keyctl_negate(id, timeout, ring));
}

long keyctl_reject(key_serial_t id, unsigned timeout, unsigned error, key_serial_t ring)
{
	REAL(keyctl_reject);
	key_point("keyctl_reject", id, ring);
	return PASS(real_keyctl_reject(id, timeout, error, ring));
}

long keyctl_search(key_serial_t ring, const char *type, const char *desc, key_serial_t dest)
{
	REAL(keyctl_search);
	if (dest)
		add_key_point("keyctl_search_link", type, desc, dest);
	return PASS(real_keyctl_search(ring, type, desc, dest));
}

key_serial_t find_key_by_type_and_desc(const char *type, const char *desc, key_serial_t dest)
{
	REAL(find_key_by_type_and_desc);
	if (dest)
		add_key_point("keyctl_search_link", type, desc, dest);
	return PASS(real_find_key_by_type_and_desc(type, desc, dest));
}

/* The keyring syscalls and renameat2 when a program makes them by number. */
long syscall(long nr, ...)
{
	long a[6];
	va_list ap;
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	init();
	if (!real_syscall_fn) {
		errno = ENOSYS;
		return -1;
	}
	if (!inside) {
		if (nr == SYS_add_key)
			add_key_point("add_key", (const char *)a[0], (const char *)a[1], a[4]);
		else if (nr == SYS_request_key && (a[2] || a[3]))
			add_key_point("request_key", (const char *)a[0], (const char *)a[1], a[3]);
		else if (nr == SYS_keyctl)
			keyctl_point((int)a[0], (unsigned long)a[1], (unsigned long)a[2],
				     (unsigned long)a[3], (unsigned long)a[4]);
#ifdef SYS_renameat2
		else if (nr == SYS_renameat2)
			path2_point("rename", (int)a[0], (const char *)a[1], (int)a[2],
				    (const char *)a[3]);
#endif
	}
	return PASS(real_syscall_fn(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
}
