/* SPDX-License-Identifier: MIT */
/* Unit tests for util.c: the number parsers the config relies on, hex, duration formatting,
 * directories and atomic files, escaping for the log. */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "tap.h"

static void test_parse_duration(void)
{
	static const struct {
		const char *in;
		int r;
		uint64_t want;
	} cases[] = {
		{"0", 0, 0},
		{"30", 0, 30},
		{"30s", 0, 30},
		{"5m", 0, 300},
		{"2h", 0, 7200},
		{"1d", 0, 86400},
		{"007s", 0, 7},
		{"36500d", 0, 36500ULL * 86400},
		{"3153600000", 0, 3153600000ULL},
		{"3153600001", -ERANGE, 0},
		{"36501d", -ERANGE, 0},
		{"52560001m", -ERANGE, 0},
		{"18446744073709551615", -ERANGE, 0},
		{"18446744073709551616", -ERANGE, 0},
		{"99999999999999999999d", -ERANGE, 0},
		{"213503982334602d", -ERANGE, 0}, /* v * 86400 would wrap around 2^64 */
		{"", -EINVAL, 0},
		{"s", -EINVAL, 0},
		{"-1", -EINVAL, 0},
		{"+1", -EINVAL, 0},
		{" 1", -EINVAL, 0},
		{"1 ", -EINVAL, 0},
		{"1 s", -EINVAL, 0},
		{"1s ", -EINVAL, 0},
		{"1w", -EINVAL, 0},
		{"1S", -EINVAL, 0},
		{"1ms", -EINVAL, 0},
		{"1.5h", -EINVAL, 0},
		{"0x10", -EINVAL, 0},
		{"5 minutes", -EINVAL, 0},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t v = 12345;
		int r = parse_duration(cases[i].in, &v);

		ok(r == cases[i].r && (r < 0 ? v == 12345 : v == cases[i].want),
		   "parse_duration('%s') = %d", cases[i].in, cases[i].r);
	}
	ok(parse_duration(NULL, &(uint64_t){0}) == -EINVAL, "parse_duration(NULL) = -EINVAL");
}

static void test_parse_bool(void)
{
	static const struct {
		const char *in;
		int r;
		bool want;
	} cases[] = {
		{"true", 0, true},	{"TRUE", 0, true},     {"yes", 0, true},
		{"Yes", 0, true},	{"on", 0, true},       {"1", 0, true},
		{"false", 0, false},	{"False", 0, false},   {"no", 0, false},
		{"off", 0, false},	{"OFF", 0, false},     {"0", 0, false},
		{"", -EINVAL, 0},	{"maybe", -EINVAL, 0}, {"t", -EINVAL, 0},
		{"y", -EINVAL, 0},	{"2", -EINVAL, 0},     {"true ", -EINVAL, 0},
		{" true", -EINVAL, 0},	{"truex", -EINVAL, 0}, {"00", -EINVAL, 0},
		{"enable", -EINVAL, 0},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		bool v = !cases[i].want;
		int r = parse_bool(cases[i].in, &v);

		ok(r == cases[i].r && (r < 0 || v == cases[i].want), "parse_bool('%s') = %d",
		   cases[i].in, cases[i].r);
	}
}

static void test_parse_uint(void)
{
	static const struct {
		const char *in;
		unsigned long min, max;
		int r;
		unsigned long want;
	} cases[] = {
		{"0", 0, 10, 0, 0},
		{"10", 0, 10, 0, 10},
		{"11", 0, 10, -ERANGE, 0},
		{"0", 1, 65535, -ERANGE, 0},
		{"1", 1, 65535, 0, 1},
		{"65535", 1, 65535, 0, 65535},
		{"65536", 1, 65535, -ERANGE, 0},
		{"0008443", 1, 65535, 0, 8443},
		{"18446744073709551615", 0, ULONG_MAX, 0, ULONG_MAX},
		{"18446744073709551616", 0, ULONG_MAX, -ERANGE, 0},
		{"99999999999999999999999", 0, ULONG_MAX, -ERANGE, 0},
		{"4294967296", 0, UINT_MAX, -ERANGE, 0},
		{"", 0, 10, -EINVAL, 0},
		{"-1", 0, 10, -EINVAL, 0},
		{"+1", 0, 10, -EINVAL, 0},
		{" 1", 0, 10, -EINVAL, 0},
		{"1 ", 0, 10, -EINVAL, 0},
		{"1a", 0, 10, -EINVAL, 0},
		{"0x1", 0, 10, -EINVAL, 0},
		{"1.0", 0, 10, -EINVAL, 0},
		{"8443/est", 1, 65535, -EINVAL, 0},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long v = 777;
		int r = parse_uint(cases[i].in, cases[i].min, cases[i].max, &v);

		ok(r == cases[i].r && (r < 0 ? v == 777 : v == cases[i].want),
		   "parse_uint('%s', %lu, %lu) = %d", cases[i].in, cases[i].min, cases[i].max,
		   cases[i].r);
	}
	ok(parse_uint(NULL, 0, 1, &(unsigned long){0}) == -EINVAL, "parse_uint(NULL) = -EINVAL");
}

static void test_parse_uint_octal(void)
{
	static const struct {
		const char *in;
		int r;
		unsigned long want;
	} cases[] = {
		{"0640", 0, 0640},     {"600", 0, 0600},      {"07777", 0, 07777},
		{"0", 0, 0},	       {"17777", -EINVAL, 0}, {"0800", -EINVAL, 0},
		{"", -EINVAL, 0},      {"-1", -EINVAL, 0},    {"u+rw", -EINVAL, 0},
		{"0640 ", -EINVAL, 0},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long v = 1;
		int r = parse_uint_octal(cases[i].in, &v);

		ok(r == cases[i].r && (r < 0 || v == cases[i].want), "parse_uint_octal('%s') = %d",
		   cases[i].in, cases[i].r);
	}
}

static void test_format(void)
{
	static const unsigned char bytes[] = {0x00, 0x7f, 0xa5, 0xff};
	char buf[32], *hex = hex_encode(bytes, sizeof(bytes));

	ok(!strcmp(hex, "007fa5ff"), "hex_encode is lowercase, two digits a byte");
	free(hex);
	hex = hex_encode(bytes, 0);
	ok(!strcmp(hex, ""), "hex_encode of nothing is empty");
	free(hex);
	ok(!strcmp(format_duration(59, buf, sizeof(buf)), "59s"), "format_duration 59s");
	ok(!strcmp(format_duration(3725, buf, sizeof(buf)), "1h 2m"), "format_duration 1h 2m");
	ok(!strcmp(format_duration(2 * 86400 + 7200, buf, sizeof(buf)), "2d 2h"),
	   "format_duration 2d 2h");
}

static void test_escape(void)
{
	static const char bin[] = {'a', '\0', '\x1b', '[', '3', '1', 'm', '\n', '\xff'};
	char *e;

	e = escape_for_log("application/pkcs7-mime; smime-type=certs-only", (size_t)-1, 200);
	ok(!strcmp(e, "application/pkcs7-mime; smime-type=certs-only"), "printable ASCII is kept");
	free(e);
	e = escape_for_log(bin, sizeof(bin), 200);
	ok(!strcmp(e, "a\\x00\\x1b[31m\\x0a\\xff"), "NUL, ESC, newline, 8-bit as \\xNN: %s", e);
	free(e);
	e = escape_for_log("say \"hi\" \\ 'x'", (size_t)-1, 200);
	ok(!strcmp(e, "say \\x22hi\\x22 \\x5c \\x27x\\x27"), "quotes and backslash escaped: %s", e);
	free(e);
	e = escape_for_log("0123456789", (size_t)-1, 4);
	ok(!strcmp(e, "0123..."), "capped at max input bytes, marked: %s", e);
	free(e);
	e = escape_for_log("0123", 4, 4);
	ok(!strcmp(e, "0123"), "exactly max: no mark");
	free(e);
	e = escape_for_log("", 0, 4);
	ok(!strcmp(e, ""), "empty stays empty");
	free(e);
	e = escape_for_log(NULL, 0, 4);
	ok(!strcmp(e, "(none)"), "NULL reads (none)");
	free(e);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

/* Under umask 077 mkdir_p still gives what it creates exactly the mode, and leaves the rest. */
static void test_mkdir_p(void)
{
	char dir[] = "/tmp/test-util.XXXXXX", *a, *abc, *f;
	mode_t old;
	struct stat st;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	a = xasprintf("%s/a", dir);
	abc = xasprintf("%s/a/b/c", dir);
	f = xasprintf("%s/a/f", dir);
	old = umask(077);
	ok(mkdir_p(abc, 0755) == 0, "mkdir_p a/b/c");
	ok(mode_of(a) == 0755 && mode_of(abc) == 0755, "every created component is 0755 (umask 077)");
	ok(mode_of(dir) == 0700, "an existing component keeps its mode");
	ok(chmod(abc, 0750) == 0 && mkdir_p(abc, 0755) == 0 && mode_of(abc) == 0750,
	   "an existing directory is left as it is");
	ok(write_file_atomic_owned(f, "x", 1, 0640, getuid(), getgid()) == 0 && mode_of(f) == 0640,
	   "write_file_atomic_owned: exactly the mode");
	ok(stat(f, &st) == 0 && st.st_uid == getuid() && st.st_gid == getgid(),
	   "write_file_atomic_owned: owner and group");
	umask(old);
	unlink(f);
	rmdir(abc);
	*strrchr(abc, '/') = '\0';
	rmdir(abc);
	rmdir(a);
	rmdir(dir);
	free(a);
	free(abc);
	free(f);
}

int main(void)
{
	test_parse_duration();
	test_parse_bool();
	test_parse_uint();
	test_parse_uint_octal();
	test_format();
	test_escape();
	test_mkdir_p();
	return tap_done();
}
