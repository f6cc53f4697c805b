/* SPDX-License-Identifier: MIT */
/* Small helpers every module uses: memory, secrets, files, number parsing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that aborts on out-of-memory; never returns NULL. */
void *xmalloc(size_t n);
void *xzalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Overwrite n bytes of p so the compiler cannot elide it. */
void wipe(void *p, size_t n);
/* Wipe n bytes of p then free it; NULL is a no-op. */
void wipe_free(void *p, size_t n);
/* Wipe a NUL-terminated string then free it; NULL is a no-op. */
void wipe_str(char *s);

/* Reads a whole file (at most max bytes, else -EFBIG) into a NUL-terminated buffer; caller
 * wipe_free()s. */
int read_file(const char *path, size_t max, char **out_data, size_t *out_len);
/* The same, path relative to dirfd (AT_FDCWD: read_file). */
int read_file_at(int dirfd, const char *path, size_t max, char **out_data, size_t *out_len);
/*
 * Writes data to path atomically: tmp file in the same directory, fchmod(mode), fchown(-1, gid)
 * when gid != (gid_t)-1, write, fsync, rename, fsync(dir). Returns 0 or -errno.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, gid_t gid);
/* The same, owned by uid:gid (either (id_t)-1: unchanged), set before any byte is written. */
int write_file_atomic_owned(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
			    gid_t gid);
/*
 * The same replacement, atomic for readers but not durable: no fsync, so after a power cut the
 * file may hold the old content, or nothing. For files a reboot makes meaningless anyway (the
 * keyring's serials under $RUNTIME_DIRECTORY). Returns 0 or -errno.
 */
int write_file_replace(const char *path, const void *data, size_t len, mode_t mode);
/*
 * Writes data to path in place, durably as a file: a previous path is removed, a new one created
 * (O_EXCL), fchmod(mode) and fchown(-1, gid) before any byte, write, fsync. The directory is not
 * synced: the caller syncs it before path means anything. On failure path is removed. 0 or -errno.
 */
int write_file_new(const char *path, const void *data, size_t len, mode_t mode, gid_t gid);
/* fsync of the directory holding path, so that path's entry in it is durable. 0 or -errno. */
int fsync_parent(const char *path);
/* mkdir -p: each component it creates gets exactly mode, whatever the umask; existing ones are
 * left as they are. Returns 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/* "30", "30s", "5m", "2h", "1d" → seconds. Returns 0 or -EINVAL/-ERANGE. */
int parse_duration(const char *s, uint64_t *out_seconds);
/* true/false/yes/no/on/off/1/0, case-insensitive. Returns 0 or -EINVAL. */
int parse_bool(const char *s, bool *out);
/* Decimal unsigned in [min, max]. Returns 0 or -EINVAL/-ERANGE. */
int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Octal file mode ("0640", "600") up to 07777. Returns 0 or -EINVAL. */
int parse_uint_octal(const char *s, unsigned long *out);
/* The value of KEY=VALUE in text whose fields are separated by spaces or newlines (est-state,
 * the request key's tag), or NULL. Caller frees. */
char *kv_value(const char *text, const char *key);
/* True when KEY's value in text is want (NULL: the empty string). */
bool kv_is(const char *text, const char *key, const char *want);
/* Hex-encode n bytes into a newly allocated lowercase string; caller frees. */
char *hex_encode(const unsigned char *p, size_t n);
/*
 * A string received from outside (a server's header or body) made safe for a log line: bytes
 * outside printable ASCII, backslash and quote as \xNN, at most max input bytes (then "...").
 * Stops at the first NUL of s only when len is (size_t)-1. Caller frees.
 */
char *escape_for_log(const char *s, size_t len, size_t max);
/* Formats a duration in seconds as e.g. "3d 4h" into buf. Returns buf. */
const char *format_duration(uint64_t seconds, char *buf, size_t len);
/* Sleeps ms milliseconds, through interruptions by signals. */
void sleep_ms(uint64_t ms);
