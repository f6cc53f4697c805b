/* SPDX-License-Identifier: MIT */
/* Unit tests for the file copy's recovery: which journals a power cut can leave, what each opens
 * as. */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keystore.h"
#include "keystore_backend.h"
#include "util.h"
#include "tap.h"

static char tmpdir[] = "/tmp/est-test-ksr.XXXXXX";

struct store {
	struct keystore_conf kc;
	char name[64], path[256];
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A file store TMPDIR/NAME in the old layout (regular files, an older version's journal), its
 * directory made empty. */
static void store_init(struct store *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->path, sizeof(s->path), "%s/%s", tmpdir, name);
	s->kc.name = s->name;
	s->kc.type = KEYSTORE_TYPE_FILE;
	s->kc.path = s->path;
	s->kc.gid = (gid_t)-1;
	/* A store opened for writing was converted to data directories: made anew. */
	nftw(s->path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	mkdir(s->path, 0700);
}

static void put_file(const struct store *s, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", s->path, name);
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		printf("Bail out! writing %s: %s\n", path, strerror(errno));
	free(path);
}

static bool has_file(const struct store *s, const char *name)
{
	char *path = xasprintf("%s/%s", s->path, name);
	bool there = access(path, F_OK) == 0;

	free(path);
	return there;
}

/* "put ALIAS LEN SUM" of a format 2 journal, for content text. */
static char *put_line(const char *alias, const char *text)
{
	return xasprintf("put %s %zu %016llx\n", alias, strlen(text),
			 (unsigned long long)ksf_sum(text, strlen(text)));
}

/* A format 2 journal putting a (content ta) and b (content tb), removing gone. */
static void put_journal(const struct store *s, const char *ta, const char *tb)
{
	char *la = put_line("a", ta), *lb = put_line("b", tb);
	char *text = xasprintf("est-enroll commit 2\n%s%sdel gone\nend\n", la, lb);

	put_file(s, ".est-commit", text);
	free(text);
	free(la);
	free(lb);
}

/* The pre-state of a transaction a=new-a, b=new-b, gone removed: a=old-a, b=old-b, gone. */
static void pre_state(const struct store *s)
{
	put_file(s, "a.pem", "old-a\n");
	put_file(s, "b.pem", "old-b\n");
	put_file(s, "gone.pem", "gone\n");
}

static bool content_is(struct keystore *ks, const char *alias, const char *want)
{
	char *data = NULL;
	size_t len = 0;
	bool same = keystore_get(ks, alias, &data, &len) == 0 && !strcmp(data, want);

	if (!same)
		printf("# %s: '%s', expected '%s'\n", alias, data ? data : "(none)", want);
	wipe_free(data, len);
	return same;
}

static bool absent(struct keystore *ks, const char *alias)
{
	char *data = NULL;
	size_t len = 0;
	int r = keystore_get(ks, alias, &data, &len);

	wipe_free(data, len);
	return r == -ENOKEY;
}

/* Opens s for writing (recovery runs); NULL on failure. */
static struct keystore *open_write(const struct store *s, const char *what)
{
	struct keystore *ks = NULL;
	int r = keystore_open(&s->kc, KEYSTORE_WRITE, &ks);

	ok(r == 0 && ks, "%s: open for writing (%d)", what, r);
	return ks;
}

/* No journal, no staged copy left once a writer opened the store. */
static bool clean(const struct store *s)
{
	return !has_file(s, ".est-commit") && !has_file(s, ".a.new") && !has_file(s, ".b.new") &&
	       has_file(s, "..data");
}

/* Cut during the installs: a is installed, b still staged. The commit is finished. */
static void test_finish(void)
{
	struct keystore *ks;
	struct store s;

	store_init(&s, "finish");
	pre_state(&s);
	put_file(&s, "a.pem", "new-a\n");
	put_file(&s, ".b.new", "new-b\n");
	put_journal(&s, "new-a\n", "new-b\n");
	ks = open_write(&s, "finish");
	if (!ks)
		return;
	ok(content_is(ks, "a", "new-a\n") && content_is(ks, "b", "new-b\n") && absent(ks, "gone"),
	   "finish: the whole commit is there");
	ok(clean(&s), "finish: journal and staged copies gone");
	keystore_free(ks);
}

/* Cut before the journal's directory sync returned: the journal's entry reached the disk, b's
 * staged copy's did not. Nothing was installed: the old store, whole. */
static void test_lost_staged(void)
{
	struct keystore *ks;
	struct store s;

	store_init(&s, "lost");
	pre_state(&s);
	put_file(&s, ".a.new", "new-a\n");
	put_journal(&s, "new-a\n", "new-b\n");
	ks = open_write(&s, "lost staged copy");
	if (!ks)
		return;
	ok(content_is(ks, "a", "old-a\n") && content_is(ks, "b", "old-b\n") &&
		   content_is(ks, "gone", "gone\n"),
	   "lost staged copy: the old store, whole");
	ok(clean(&s), "lost staged copy: journal and staged copies gone");
	keystore_free(ks);
}

/*
 * The journal's unlink (not synced) did not reach the disk; a later transaction had staged a
 * copy of b under the same name when the power went. The old journal is finished again (it
 * changes nothing), but never adopts the later, uncommitted copy.
 */
static void test_stale_journal(void)
{
	struct keystore *ks = NULL;
	struct store s;
	int r;

	store_init(&s, "stale");
	put_file(&s, "a.pem", "new-a\n");
	put_file(&s, "b.pem", "new-b\n");
	put_file(&s, ".b.new", "later-b\n");
	put_journal(&s, "new-a\n", "new-b\n");
	r = keystore_open(&s.kc, KEYSTORE_READ, &ks);
	ok(r == 0 && ks && content_is(ks, "b", "new-b\n") && absent(ks, "gone"),
	   "stale journal: a reader sees the committed b, not the later staged copy");
	keystore_free(ks);
	ks = open_write(&s, "stale journal");
	if (!ks)
		return;
	ok(content_is(ks, "a", "new-a\n") && content_is(ks, "b", "new-b\n") && absent(ks, "gone"),
	   "stale journal: the store it committed, the later staged copy not installed");
	ok(clean(&s), "stale journal: journal and the later staged copy gone");
	keystore_free(ks);
}

/* A journal that lists a put whose copy is neither staged nor installed is not read through. */
static void test_reader_ignores_uncommitted(void)
{
	struct keystore *ks = NULL;
	struct store s;
	int r;

	store_init(&s, "reader");
	pre_state(&s);
	put_file(&s, ".b.new", "new-b\n");
	put_journal(&s, "new-a\n", "new-b\n");
	r = keystore_open(&s.kc, KEYSTORE_READ, &ks);
	ok(r == 0 && ks && content_is(ks, "a", "old-a\n") && content_is(ks, "b", "old-b\n") &&
		   content_is(ks, "gone", "gone\n"),
	   "reader: a journal whose commit point never became durable is not overlaid");
	ok(has_file(&s, ".est-commit"), "reader: and left as it is (readers change nothing)");
	keystore_free(ks);
}

/* Written by an earlier version (format 1, no sums): staged copies were synced before it. */
static void test_format_1(void)
{
	struct keystore *ks;
	struct store s;

	store_init(&s, "v1");
	pre_state(&s);
	put_file(&s, "a.pem", "new-a\n");
	put_file(&s, ".b.new", "new-b\n");
	put_file(&s, ".est-commit", "est-enroll commit 1\nput a\nput b\ndel gone\nend\n");
	ks = open_write(&s, "format 1");
	if (!ks)
		return;
	ok(content_is(ks, "a", "new-a\n") && content_is(ks, "b", "new-b\n") && absent(ks, "gone"),
	   "format 1: finished as before");
	ok(clean(&s), "format 1: journal and staged copies gone");
	keystore_free(ks);
}

/* Torn or foreign journals are discarded: nothing changes. */
static void test_malformed(void)
{
	static const char *const bad[] = {
		"est-enroll commit 2\nput a 6 0123\nend\n",
		"est-enroll commit 2\nput a\nend\n",
		"est-enroll commit 1\nput a 6 0123456789abcdef\nend\n",
		"est-enroll commit 2\nput a 0 0123456789abcdef\nend\n",
		"est-enroll commit 2\nput a 6 -123456789abcdef\nend\n",
		"est-enroll commit 2\nput a 6 0123456789abcdef\n",
		"est-enroll commit 3\nend\n",
	};
	struct keystore *ks;
	struct store s;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		store_init(&s, "bad");
		pre_state(&s);
		put_file(&s, ".a.new", "new-a\n");
		put_file(&s, ".est-commit", bad[i]);
		ks = open_write(&s, "malformed journal");
		if (!ks)
			continue;
		ok(content_is(ks, "a", "old-a\n") && content_is(ks, "gone", "gone\n") && clean(&s),
		   "malformed journal %zu: discarded, the old store kept", i);
		keystore_free(ks);
	}
}

/* Through the API: a one-item commit and a multi-item one leave the files and nothing else. */
static void test_commits(void)
{
	const char *items[] = {"c0\n", "c1\n"};
	struct keystore *ks;
	struct store s;

	store_init(&s, "api");
	ks = open_write(&s, "api");
	if (!ks)
		return;
	ok(keystore_put(ks, "one", "1\n", 2) == 0 && content_is(ks, "one", "1\n"),
	   "api: one-item put");
	ok(keystore_replace_set(ks, "set_", items, NULL, 2) == 0 &&
		   content_is(ks, "set_0", "c0\n") && content_is(ks, "set_1", "c1\n"),
	   "api: two-item commit");
	ok(!has_file(&s, ".est-commit") && !has_file(&s, ".set_0.new") &&
		   !has_file(&s, ".set_1.new"),
	   "api: no journal, no staged copy left");
	ok(keystore_remove(ks, "one") == 0 && absent(ks, "one") && !has_file(&s, "one.pem"),
	   "api: one-item remove");
	keystore_free(ks);
}

/* PATH/name is the stable name's symlink ..data/name, and what it reads is text. */
static bool stable_is(const struct store *s, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", s->path, name), *want = xasprintf("..data/%s", name);
	char buf[256], *data = NULL;
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	size_t len = 0;
	bool same = n > 0 && (size_t)n == strlen(want) && !memcmp(buf, want, (size_t)n) &&
		    read_file(path, 1024, &data, &len) == 0 && !strcmp(data, text);

	free(data);
	free(path);
	free(want);
	return same;
}

/* A reader of the data directory keeps one commit's files; what recovery makes of the
 * leftovers of a commit killed before its switch, and of stable names gone astray. */
static void test_layout(void)
{
	const char *items[] = {"c0\n", "c1\n"};
	struct keystore *ks, *rd = NULL;
	struct store s;
	char *p;
	int r;

	store_init(&s, "layout");
	ks = open_write(&s, "layout");
	if (!ks)
		return;
	ok(keystore_replace_set(ks, "set_", items, NULL, 2) == 0 &&
		   keystore_put(ks, "a", "A\n", 2) == 0,
	   "layout: committed");
	ok(stable_is(&s, "set_0.pem", "c0\n") && stable_is(&s, "a.pem", "A\n") &&
		   has_file(&s, "..data"),
	   "layout: the stable names are symlinks into ..data");
	r = keystore_open(&s.kc, KEYSTORE_READ, &rd);
	ok(r == 0 && rd && content_is(rd, "set_1", "c1\n"), "layout: a reader opened");
	items[1] = "c1 new\n";
	ok(keystore_replace_set(ks, "set_", items, NULL, 1) == 0 && absent(ks, "set_1") &&
		   !has_file(&s, "set_1.pem") && content_is(ks, "set_0", "c0\n"),
	   "layout: a commit removes set_1 and its stable name");
	ok(rd && absent(rd, "set_1") && absent(rd, "a"),
	   "layout: the reader sees the old commit's files vanish, never the new ones");
	keystore_free(rd);
	keystore_free(ks);
	/* A commit killed before its switch, a stable name lost, one a regular file again. */
	p = xasprintf("%s/..data-dead", s.path);
	mkdir(p, 0700);
	free(p);
	put_file(&s, "..data-dead/new.pem", "N\n");
	p = xasprintf("%s/..data.tmp", s.path);
	ok(symlink("..data-dead", p) == 0, "layout: ..data.tmp of a killed commit");
	free(p);
	p = xasprintf("%s/new.pem", s.path);
	ok(symlink("..data/new.pem", p) == 0, "layout: its dangling stable name");
	free(p);
	p = xasprintf("%s/set_0.pem", s.path);
	unlink(p);
	free(p);
	p = xasprintf("%s/a.pem", s.path);
	unlink(p);
	free(p);
	put_file(&s, "a.pem", "A\n");
	ks = open_write(&s, "layout recovery");
	if (!ks)
		return;
	ok(content_is(ks, "a", "A\n") && content_is(ks, "set_0", "c0\n") && absent(ks, "new"),
	   "layout recovery: the store is the last switched one");
	ok(!has_file(&s, "..data-dead") && !has_file(&s, "..data.tmp") && !has_file(&s, "new.pem"),
	   "layout recovery: the killed commit's directory, link and name are gone");
	ok(stable_is(&s, "set_0.pem", "c0\n") && stable_is(&s, "a.pem", "A\n"),
	   "layout recovery: the stable names are symlinks again");
	keystore_free(ks);
}

int main(void)
{
	char *run;

	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	run = xasprintf("%s/run", tmpdir);
	setenv("RUNTIME_DIRECTORY", run, 1);
	free(run);
	ok(ksf_sum("", 0) == 0xcbf29ce484222325ull && ksf_sum("a", 1) == 0xaf63dc4c8601ec8cull,
	   "ksf_sum is 64-bit FNV-1a");
	test_finish();
	test_lost_staged();
	test_stale_journal();
	test_reader_ignores_uncommitted();
	test_format_1();
	test_malformed();
	test_commits();
	test_layout();
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
