/* SPDX-License-Identifier: MIT */
/* Small helpers every module uses: memory, secrets, files, number parsing. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static void oom(void)
{
	fputs("est-enroll: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *xzalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return s;
}

void wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void wipe_free(void *p, size_t n)
{
	if (!p)
		return;
	wipe(p, n);
	free(p);
}

void wipe_str(char *s)
{
	if (s)
		wipe_free(s, strlen(s));
}

int read_file(const char *path, size_t max, char **out_data, size_t *out_len)
{
	return read_file_at(AT_FDCWD, path, max, out_data, out_len);
}

int read_file_at(int dirfd, const char *path, size_t max, char **out_data, size_t *out_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, r = 0;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nbuf = xmalloc(ncap);

			if (buf)
				memcpy(nbuf, buf, len);
			wipe_free(buf, cap);
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = -EFBIG;
			goto out;
		}
	}
	buf[len] = '\0';
	*out_data = buf;
	*out_len = len;
	buf = NULL;
out:
	wipe_free(buf, cap);
	close(fd);
	return r;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fsync_parent(const char *path)
{
	char *copy = xstrdup(path);
	int fd, r = 0;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	else if (fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

/* tmp + rename; with durable, the data is synced before the rename and the directory after. */
static int replace_file(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
			gid_t gid, bool durable)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd, r;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	/* The mode is set before any byte is written, so a secret is never readable by others. */
	if (fchmod(fd, mode) < 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)) {
		r = -errno;
		goto fail;
	}
	r = write_all(fd, data, len);
	if (r < 0)
		goto fail;
	if (durable && fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	r = durable ? fsync_parent(path) : 0;
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	return r;
}

int write_file_atomic_owned(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
			    gid_t gid)
{
	return replace_file(path, data, len, mode, uid, gid, true);
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, gid_t gid)
{
	return replace_file(path, data, len, mode, (uid_t)-1, gid, true);
}

int write_file_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	return replace_file(path, data, len, mode, (uid_t)-1, (gid_t)-1, false);
}

int write_file_new(const char *path, const void *data, size_t len, mode_t mode, gid_t gid)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW | O_CLOEXEC;
	int fd, r;

	/* O_EXCL: what is there (a stale copy, a planted symlink) goes first, never followed. */
	fd = open(path, flags, 0600);
	if (fd < 0 && errno == EEXIST && unlink(path) == 0)
		fd = open(path, flags, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0 || (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0))
		r = -errno;
	else
		r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

int mkdir_p(const char *path, mode_t mode)
{
	char *copy = xstrdup(path);
	char *p;
	int r = 0;

	for (p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(copy, mode) == 0) {
			/* Exactly mode, whatever the umask: a group must get through what we made.
			 */
			if (chmod(copy, mode) < 0) {
				r = -errno;
				break;
			}
		} else if (errno != EEXIST) {
			r = -errno;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return r;
}

int parse_duration(const char *s, uint64_t *out_seconds)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] != '\0')
		return -EINVAL;
	if (v > UINT64_MAX / mult || v * mult > (uint64_t)100 * 365 * 86400)
		return -ERANGE;
	*out_seconds = v * mult;
	return 0;
}

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

char *hex_encode(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = xmalloc(2 * n + 1);
	size_t i;

	for (i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

char *escape_for_log(const char *s, size_t len, size_t max)
{
	static const char digits[] = "0123456789abcdef";
	size_t i, n = 0;
	bool cut;
	char *out;

	if (!s)
		return xstrdup("(none)");
	if (len == (size_t)-1)
		len = strlen(s);
	cut = len > max;
	if (cut)
		len = max;
	out = xmalloc(4 * len + sizeof("..."));
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'' && c != '"') {
			out[n++] = (char)c;
			continue;
		}
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = digits[c >> 4];
		out[n++] = digits[c & 15];
	}
	memcpy(out + n, cut ? "..." : "", cut ? sizeof("...") : 1);
	return out;
}

const char *format_duration(uint64_t seconds, char *buf, size_t len)
{
	if (seconds >= 86400)
		snprintf(buf, len, "%llud %lluh", (unsigned long long)(seconds / 86400),
			 (unsigned long long)(seconds % 86400 / 3600));
	else if (seconds >= 3600)
		snprintf(buf, len, "%lluh %llum", (unsigned long long)(seconds / 3600),
			 (unsigned long long)(seconds % 3600 / 60));
	else if (seconds >= 60)
		snprintf(buf, len, "%llum %llus", (unsigned long long)(seconds / 60),
			 (unsigned long long)(seconds % 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)seconds);
	return buf;
}

int parse_uint_octal(const char *s, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '7')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (*end != '\0' || errno == ERANGE || v > 07777)
		return -EINVAL;
	*out = v;
	return 0;
}

char *kv_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return xstrndup(p + klen + 1, strcspn(p + klen + 1, " \n"));
		p += strcspn(p, " \n");
		p += strspn(p, " \n");
	}
	return NULL;
}

bool kv_is(const char *text, const char *key, const char *want)
{
	char *v = kv_value(text, key);
	bool same = v && !strcmp(v, want ? want : "");

	free(v);
	return same;
}

void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
