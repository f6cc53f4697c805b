/* SPDX-License-Identifier: MIT */
/* Unit tests for the keystore: file backend, keyring backend with its mirror, fallback. */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <keyutils.h>
#ifdef HAVE_SECCOMP
#include <seccomp.h>
#endif

#include "keystore.h"
#include "log.h"
#include "util.h"
#include "tap.h"

#define PERM_OWNER (KEY_POS_ALL | KEY_USR_ALL)
#define PERM_GROUP (PERM_OWNER | KEY_GRP_VIEW | KEY_GRP_READ | KEY_GRP_SEARCH)

static char tmpdir[] = "/tmp/est-test-ks.XXXXXX";

struct conf {
	struct keystore_conf kc;
	char name[64], keyring[80], path[256];
};

/* A store named NAME in TMPDIR/NAME; the keyring est:test-ks-PID-NAME. */
static void conf_init(struct conf *c, enum keystore_type type, const char *name, gid_t gid)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->keyring, sizeof(c->keyring), "est:test-ks-%d-%s", (int)getpid(), name);
	snprintf(c->path, sizeof(c->path), "%s/%s", tmpdir, name);
	c->kc.name = c->name;
	c->kc.type = type;
	c->kc.keyring = c->keyring;
	c->kc.path = c->path;
	c->kc.fallback = false;
	c->kc.gid = gid;
	c->kc.group = gid != (gid_t)-1 ? (char *)"adm" : NULL;
}

static void keyring_cleanup(const struct conf *c)
{
	long id = keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", c->keyring, 0);

	if (id < 0)
		return;
	keyctl_clear((key_serial_t)id);
	keyctl_unlink((key_serial_t)id, KEY_SPEC_USER_KEYRING);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? (mode_t)-1 : st.st_mode & 07777;
}

static gid_t file_gid(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? (gid_t)-1 : st.st_gid;
}

static char *item(const struct conf *c, const char *alias)
{
	return xasprintf("%s/%s.pem", c->path, alias);
}

/* Content of alias, or NULL (error code in *r). */
static char *get(struct keystore *ks, const char *alias, int *r)
{
	char *data = NULL;
	size_t len = 0;

	*r = keystore_get(ks, alias, &data, &len);
	if (*r == 0 && (strlen(data) != len || data[len] != '\0')) {
		*r = -EBADMSG;
		wipe_free(data, len);
		data = NULL;
	}
	return data;
}

static bool content_is(struct keystore *ks, const char *alias, const char *want)
{
	int r;
	char *data = get(ks, alias, &r);
	bool same = data && !strcmp(data, want);

	free(data);
	return same;
}

/* The aliases joined with ',' (caller frees). */
static char *list_str(struct keystore *ks)
{
	char **aliases = NULL, *s = xstrdup(""), *t;
	size_t n = 0, i;

	if (keystore_list(ks, &aliases, &n) < 0) {
		free(s);
		return xstrdup("(error)");
	}
	for (i = 0; i < n; i++) {
		t = xasprintf("%s%s%s", s, i ? "," : "", aliases[i]);
		free(s);
		s = t;
		free(aliases[i]);
	}
	free(aliases);
	return s;
}

static bool list_is(struct keystore *ks, const char *want)
{
	char *s = list_str(ks);
	bool same = !strcmp(s, want);

	if (!same)
		printf("# list: '%s', expected '%s'\n", s, want);
	free(s);
	return same;
}

static int count_tmp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

static gid_t test_gid(void)
{
	struct group *g = getgrnam("adm");

	return g ? g->gr_gid : 4;
}

static void test_aliases(struct keystore *ks)
{
	static const char *const bad[] = {"", ".hidden", "a/b", "../x", "a b", "é", "a\nb"};
	char long_alias[202], *data = NULL;
	size_t i, len = 0;
	bool all = true;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		all &= keystore_put(ks, bad[i], "x", 1) == -EINVAL;
		all &= keystore_get(ks, bad[i], &data, &len) == -EINVAL;
		all &= keystore_remove(ks, bad[i]) == -EINVAL;
	}
	ok(all, "invalid aliases: put, get and remove return -EINVAL");
	ok(data == NULL && len == 0, "a failed get leaves the out parameters alone");
	memset(long_alias, 'a', sizeof(long_alias) - 1);
	long_alias[201] = '\0';
	ok(keystore_put(ks, long_alias, "x", 1) == -EINVAL, "a 201-character alias is refused");
	long_alias[200] = '\0';
	ok(keystore_put(ks, long_alias, "x", 1) == 0, "a 200-character alias is accepted");
	keystore_remove(ks, long_alias);
	ok(keystore_put(ks, "A-z_0.9", "x", 1) == 0, "letters, digits, '.', '_', '-' are accepted");
	keystore_remove(ks, "A-z_0.9");
	ok(keystore_put(ks, "empty", "", 0) == -EINVAL, "an empty item is refused");
	ok(keystore_replace_set(ks, "bad/", NULL, NULL, 0) == -EINVAL,
	   "replace_set with an invalid prefix is refused");
}

static void test_file_basics(struct keystore *ks, const struct conf *c)
{
	char *path = item(c, "one"), *data = NULL;
	size_t len = 0;
	int r;

	ok(keystore_put(ks, "one", "first\n", 6) == 0, "file: put");
	data = get(ks, "one", &r);
	ok(r == 0 && data && !strcmp(data, "first\n"),
	   "file: get returns what was put, NUL-terminated");
	free(data);
	ok(file_mode(path) == 0600, "file: item mode is 0600 (got %o)", file_mode(path));
	ok(keystore_put(ks, "one", "second, longer\n", 15) == 0, "file: overwrite");
	ok(content_is(ks, "one", "second, longer\n"), "file: get returns the new content");
	ok(file_mode(path) == 0600, "file: mode still 0600 after overwrite");
	data = NULL;
	len = 0;
	r = keystore_get(ks, "absent", &data, &len);
	ok(r == -ENOKEY && data == NULL && len == 0, "file: get of an absent alias is -ENOKEY (%d)",
	   r);
	ok(keystore_put(ks, "zeta", "z", 1) == 0 && keystore_put(ks, "alpha", "a", 1) == 0 &&
		   keystore_put(ks, "Mid", "m", 1) == 0,
	   "file: three more puts");
	ok(list_is(ks, "Mid,alpha,one,zeta"), "file: list is sorted");
	ok(keystore_remove(ks, "zeta") == 0, "file: remove");
	ok(access(c->path, F_OK) == 0 && keystore_get(ks, "zeta", &data, &len) == -ENOKEY,
	   "file: removed alias is -ENOKEY");
	ok(keystore_remove(ks, "zeta") == 0, "file: removing an absent alias is 0");
	ok(list_is(ks, "Mid,alpha,one"), "file: list after remove");
	free(path);
}

/* want: the list after the set shrank to set_0 (set_01 and set_x are no members). */
static void test_replace_set(struct keystore *ks, const char *what, const char *want)
{
	const char *three[] = {"ca0\n", "ca1\n", "ca2\n"}, *one[] = {"new0\n"};
	const size_t lens3[] = {4, 4, 4}, lens1[] = {5};
	int r;

	keystore_put(ks, "set_x", "keep", 4);
	keystore_put(ks, "set_01", "keep", 4);
	r = keystore_replace_set(ks, "set_", three, lens3, 3);
	ok(r == 0, "%s: replace_set with 3 items", what);
	ok(content_is(ks, "set_0", "ca0\n") && content_is(ks, "set_1", "ca1\n") &&
		   content_is(ks, "set_2", "ca2\n"),
	   "%s: set_0..set_2 hold the items", what);
	r = keystore_replace_set(ks, "set_", one, lens1, 1);
	ok(r == 0, "%s: replace_set shrinking to 1 item", what);
	ok(content_is(ks, "set_0", "new0\n"), "%s: set_0 replaced in place", what);
	ok(list_is(ks, want), "%s: set_1 and set_2 removed, others kept", what);
	ok(keystore_replace_set(ks, "set_", one, NULL, 1) == 0 && content_is(ks, "set_0", "new0\n"),
	   "%s: replace_set without lengths takes strlen", what);
	keystore_remove(ks, "set_0");
	keystore_remove(ks, "set_01");
	keystore_remove(ks, "set_x");
}

static void test_file_store(void)
{
	struct keystore *ks = NULL;
	struct conf c;
	int r;

	conf_init(&c, KEYSTORE_TYPE_FILE, "files", (gid_t)-1);
	r = keystore_open(&c.kc, KEYSTORE_WRITE, &ks);
	ok(r == 0 && ks, "file: open (%d)", r);
	if (!ks)
		return;
	ok(!strcmp(keystore_backend(ks), "file") && !keystore_fell_back(ks),
	   "file: backend 'file'");
	ok(!strcmp(keystore_name(ks), "files"), "file: name");
	ok(!strncmp(keystore_location(ks), "directory ", 10) &&
		   !strcmp(keystore_location(ks) + 10, c.path),
	   "file: location is the directory (%s)", keystore_location(ks));
	ok(file_mode(c.path) == 0700, "file: directory created 0700 (got %o)", file_mode(c.path));
	test_file_basics(ks, &c);
	test_replace_set(ks, "file", "Mid,alpha,one,set_0,set_01,set_x");
	test_aliases(ks);
	ok(keystore_load(ks, NULL) == 0, "file: load on a file store is a no-op");
	ok(count_tmp_files(c.path) == 0, "file: no temporary files left behind");
	keystore_free(ks);
	keystore_free(NULL);
}

static void test_file_group(void)
{
	struct keystore *ks = NULL;
	gid_t gid = test_gid();
	char *path;
	struct conf c;
	int r;

	conf_init(&c, KEYSTORE_TYPE_FILE, "files-group", gid);
	r = keystore_open(&c.kc, KEYSTORE_WRITE, &ks);
	ok(r == 0, "file+group: open (%d)", r);
	if (r < 0)
		return;
	path = item(&c, "shared");
	ok(file_mode(c.path) == 0750 && file_gid(c.path) == gid,
	   "file+group: directory 0750 with the group (got %o)", file_mode(c.path));
	ok(keystore_put(ks, "shared", "pem", 3) == 0, "file+group: put");
	ok(file_mode(path) == 0640, "file+group: item mode 0640 (got %o)", file_mode(path));
	ok(file_gid(path) == gid, "file+group: item group is %d", (int)gid);
	free(path);
	keystore_free(ks);
}

/* perm field of a key's description, or 0. */
static key_perm_t key_perm(key_serial_t id, gid_t *out_gid)
{
	char *desc = NULL;
	unsigned int uid, gid, perm;

	if (keyctl_describe_alloc(id, &desc) < 0)
		return 0;
	if (sscanf(desc, "%*[^;];%u;%u;%x;", &uid, &gid, &perm) != 3)
		perm = 0;
	free(desc);
	if (out_gid)
		*out_gid = gid;
	return perm;
}

static long key_id(const struct conf *c, const char *alias)
{
	long kr = keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", c->keyring, 0);

	return kr < 0 ? -1 : keyctl_search((key_serial_t)kr, "user", alias, 0);
}

static char *keys_path(const struct conf *c)
{
	return xasprintf("%s/run/%s.keys", tmpdir, c->name);
}

/* NAME.keys holds "ALIAS SERIAL" for each of the ','-separated aliases, in that order. */
static bool keys_file_is(const struct conf *c, const char *aliases)
{
	char *path = keys_path(c), *copy = xstrdup(aliases), *data = NULL, *want = xstrdup("");
	char *a, *save = NULL, *t;
	size_t len = 0;
	bool same;

	for (a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		t = xasprintf("%s%s %ld\n", want, a, key_id(c, a));
		free(want);
		want = t;
	}
	same = read_file(path, 4096, &data, &len) == 0 && !strcmp(data, want);
	if (!same)
		printf("# %s: '%s', expected '%s'\n", path, data ? data : "(none)", want);
	free(path);
	free(copy);
	free(want);
	free(data);
	return same;
}

static bool mirror_is(const struct conf *c, const char *alias, const char *want, mode_t mode)
{
	char *path = item(c, alias), *data = NULL;
	size_t len = 0;
	bool same;

	same = read_file(path, 1 << 20, &data, &len) == 0 && !strcmp(data, want) &&
	       file_mode(path) == mode;
	free(path);
	free(data);
	return same;
}

static bool mirror_absent(const struct conf *c, const char *alias)
{
	char *path = item(c, alias);
	bool absent = access(path, F_OK) < 0 && errno == ENOENT;

	free(path);
	return absent;
}

static void test_keyring_size(struct keystore *ks, const struct conf *c)
{
	size_t max = 32767;
	char *big = xmalloc(max + 2);

	memset(big, 'k', max + 1);
	big[max + 1] = '\0';
	ok(keystore_put(ks, "big", big, max + 1) == -E2BIG, "keyring: 32768 bytes is -E2BIG");
	ok(mirror_absent(c, "big") && key_id(c, "big") < 0, "keyring: and nothing was stored");
	big[max] = '\0';
	ok(keystore_put(ks, "big", big, max) == 0, "keyring: 32767 bytes fit");
	ok(content_is(ks, "big", big), "keyring: and read back whole");
	keystore_remove(ks, "big");
	free(big);
}

static void test_keyring_items(struct keystore *ks, const struct conf *c)
{
	char *keys = keys_path(c);
	long id, id2;

	ok(keystore_put(ks, "pair", "old pair\n", 9) == 0, "keyring: put");
	id = key_id(c, "pair");
	ok(id > 0, "keyring: a user key 'pair' is in the named keyring");
	ok(content_is(ks, "pair", "old pair\n"), "keyring: get returns what was put");
	ok(key_perm((key_serial_t)id, NULL) == PERM_OWNER, "keyring: key perm %08x",
	   key_perm((key_serial_t)id, NULL));
	ok(mirror_is(c, "pair", "old pair\n", 0600), "keyring: mirror file written, 0600");
	ok(keystore_put(ks, "pair", "new pair, longer\n", 17) == 0, "keyring: put over it");
	id2 = key_id(c, "pair");
	ok(id2 > 0 && id2 != id, "keyring: a new key in a new keyring switched in whole (%ld, %ld)",
	   id, id2);
	ok(content_is(ks, "pair", "new pair, longer\n"), "keyring: get returns the new content");
	ok(mirror_is(c, "pair", "new pair, longer\n", 0600), "keyring: mirror updated");
	ok(keystore_put(ks, "ca", "ca\n", 3) == 0, "keyring: a second put");
	ok(list_is(ks, "ca,pair"), "keyring: list is sorted");
	ok(keys_file_is(c, "ca,pair"), "keyring: NAME.keys has 'ALIAS SERIAL' lines");
	ok(file_mode(keys) == 0644, "keyring: NAME.keys is 0644 (got %o)", file_mode(keys));
	id = key_id(c, "ca");
	ok(keystore_remove(ks, "ca") == 0, "keyring: remove");
	ok(key_id(c, "ca") < 0 && errno == ENOKEY, "keyring: the key is gone from the keyring");
	ok(mirror_absent(c, "ca"), "keyring: the mirror file is gone");
	ok(keystore_remove(ks, "ca") == 0, "keyring: removing an absent alias is 0");
	ok(list_is(ks, "pair"), "keyring: list after remove");
	ok(keys_file_is(c, "pair"), "keyring: NAME.keys rewritten after remove");
	test_keyring_size(ks, c);
	free(keys);
}

/* After a keyring loss (cleared, or gone with a reboot) load restores it from the files. */
static void test_keyring_load(struct keystore **ks, const struct conf *c)
{
	/* A file put by hand into the current data directory: an item like the others. */
	char *hand = xasprintf("%s/..data/by-hand.pem", c->path);
	unsigned int restored = 0;
	long kr;
	int r;

	keystore_put(*ks, "a", "A\n", 2);
	keystore_put(*ks, "b", "B\n", 2);
	/* Looked up now: every change switches in a new keyring of the same name. */
	kr = keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", c->keyring, 0);
	keyctl_clear((key_serial_t)kr);
	add_key("user", "stray", "s", 1, (key_serial_t)kr);
	write_file_atomic(hand, "H\n", 2, 0600, (gid_t)-1);
	add_key("user", "est-stray", "s", 1, (key_serial_t)kr);
	ok(list_is(*ks, "a,b,by-hand,pair,stray"),
	   "keyring: cleared by hand, keys added: the store is the files plus others' keys");
	r = keystore_load(*ks, &restored);
	ok(r == 0 && restored == 4, "keyring: load (%d) restored %u keys", r, restored);
	ok(key_id(c, "stray") > 0 && key_id(c, "est-stray") < 0,
	   "keyring: load keeps others' keys, drops the tool's own without a file");
	ok(list_is(*ks, "a,b,by-hand,pair,stray"), "keyring: the keyring holds the files");
	r = keystore_load(*ks, &restored);
	ok(r == 0 && restored == 0, "keyring: a second load changes nothing (%u)", restored);
	ok(content_is(*ks, "a", "A\n") && content_is(*ks, "by-hand", "H\n") &&
		   content_is(*ks, "pair", "new pair, longer\n"),
	   "keyring: with the files' content");
	ok(key_perm((key_serial_t)key_id(c, "by-hand"), NULL) == PERM_OWNER,
	   "keyring: loaded keys get the permissions");
	ok(keys_file_is(c, "a,b,by-hand,pair,stray"), "keyring: NAME.keys rewritten by load");
	keystore_free(*ks);
	*ks = NULL;
	keyring_cleanup(c);
	r = keystore_open(&c->kc, KEYSTORE_WRITE, ks);
	ok(r == 0 && key_id(c, "a") < 0, "keyring: reopened after the keyring was unlinked: empty");
	if (r < 0)
		goto out;
	ok(keystore_load(*ks, NULL) == 0 && list_is(*ks, "a,b,by-hand,pair"),
	   "keyring: load rebuilds a new keyring from the files");
out:
	free(hand);
}

static void test_keyring_store(void)
{
	struct keystore *ks = NULL;
	struct conf c;
	char want[160];
	long kr;
	int r;

	conf_init(&c, KEYSTORE_TYPE_KEYRING, "kr", (gid_t)-1);
	r = keystore_open(&c.kc, KEYSTORE_WRITE, &ks);
	if (r == -ENOSYS || r == -EPERM || r == -EACCES) {
		ok(1, "keyring tests # SKIP kernel keyring unavailable: %s", strerror(-r));
		return;
	}
	ok(r == 0, "keyring: open (%d)", r);
	if (r < 0)
		return;
	kr = keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", c.keyring, 0);
	ok(kr > 0, "keyring: the named keyring is in @u");
	ok(!strcmp(keystore_backend(ks), "keyring") && !keystore_fell_back(ks),
	   "keyring: backend 'keyring'");
	snprintf(want, sizeof(want), "keyring %s (serial %ld)", c.keyring, kr);
	ok(!strcmp(keystore_location(ks), want), "keyring: location '%s'", keystore_location(ks));
	ok(key_perm((key_serial_t)kr, NULL) == PERM_OWNER, "keyring: keyring perm %08x",
	   key_perm((key_serial_t)kr, NULL));
	ok(file_mode(c.path) == 0700, "keyring: mirror directory 0700");
	test_keyring_items(ks, &c);
	test_replace_set(ks, "keyring", "pair,set_0,set_01,set_x");
	ok(mirror_absent(&c, "set_1") && mirror_absent(&c, "set_0"),
	   "keyring: replace_set and remove are mirrored");
	test_keyring_load(&ks, &c);
	ok(count_tmp_files(c.path) == 0, "keyring: no temporary files left behind");
	keystore_free(ks);
	keyring_cleanup(&c);
}

static void test_keyring_group(void)
{
	struct keystore *ks = NULL;
	gid_t gid = test_gid(), kgid = (gid_t)-1;
	struct conf c;
	long kr;
	int r;

	conf_init(&c, KEYSTORE_TYPE_KEYRING, "kr-group", gid);
	r = keystore_open(&c.kc, KEYSTORE_WRITE, &ks);
	ok(r == 0, "keyring+group: open (%d)", r);
	if (r < 0)
		return;
	kr = keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", c.keyring, 0);
	ok(key_perm((key_serial_t)kr, &kgid) == PERM_GROUP && kgid == gid,
	   "keyring+group: keyring perm %08x, gid %d", key_perm((key_serial_t)kr, NULL), (int)kgid);
	ok(keystore_put(ks, "shared", "pem\n", 4) == 0, "keyring+group: put");
	kgid = (gid_t)-1;
	ok(key_perm((key_serial_t)key_id(&c, "shared"), &kgid) == PERM_GROUP && kgid == gid,
	   "keyring+group: key perm: group view/read/search, gid %d", (int)kgid);
	ok(mirror_is(&c, "shared", "pem\n", 0640), "keyring+group: mirror file 0640");
	ok(file_mode(c.path) == 0750 && file_gid(c.path) == gid,
	   "keyring+group: mirror directory 0750 with the group");
	keystore_free(ks);
	keyring_cleanup(&c);
}

static void test_runtime_dir(void)
{
	unsetenv("RUNTIME_DIRECTORY");
	ok(!strcmp(keystore_runtime_dir(), RUNSTATEDIR "/est-enroll"),
	   "runtime dir defaults to RUNSTATEDIR/est-enroll (%s)", keystore_runtime_dir());
	setenv("RUNTIME_DIRECTORY", "/run/a:/run/b", 1);
	ok(!strcmp(keystore_runtime_dir(), "/run/a"), "runtime dir: the first of several");
	setenv("RUNTIME_DIRECTORY", "/run/x", 1);
	ok(!strcmp(keystore_runtime_dir(), "/run/x"), "runtime dir: $RUNTIME_DIRECTORY");
}

#ifdef HAVE_SECCOMP
enum {
	FB_OPEN = 1 << 0,	/* fallback = true: open succeeds */
	FB_FILE = 1 << 1,	/* ... on the file backend, fell back */
	FB_PUT = 1 << 2,	/* ... and a put lands in PATH/ALIAS.pem, 0600 */
	FB_LOCATION = 1 << 3,	/* ... location is the directory */
	FB_NOFALLBACK = 1 << 4, /* fallback = false: -ENOSYS */
	FB_ALL = (1 << 5) - 1,
};

/* In a child: the keyring syscalls fail ENOSYS, as tests/helpers/nokeyring does. */
static int block_keyring(void)
{
	static const char *const calls[] = {"add_key", "keyctl", "request_key"};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	size_t i;
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (i = 0; r == 0 && i < ARRAY_SIZE(calls); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				     seccomp_syscall_resolve_name(calls[i]), 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

static int count_str(const char *s, const char *what)
{
	int n = 0;

	while (s && (s = strstr(s, what)) != NULL) {
		n++;
		s++;
	}
	return n;
}

static int fallback_child(struct conf *c)
{
	struct keystore *ks = NULL, *ks2 = NULL;
	char *path = item(c, "pair"), *loc = xasprintf("directory %s", c->path);
	int res = 0;

	if (block_keyring() < 0 || keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", "x", 0) >= 0)
		return 255;
	c->kc.fallback = true;
	res |= keystore_open(&c->kc, KEYSTORE_WRITE, &ks) == 0 ? FB_OPEN : 0;
	/* A second keystore of the same process (reading: the first holds the lock): no second
	 * warning. */
	res &= keystore_open(&c->kc, KEYSTORE_READ, &ks2) == 0 ? ~0 : ~FB_OPEN;
	if (ks && !strcmp(keystore_backend(ks), "file") && keystore_fell_back(ks))
		res |= FB_FILE;
	if (ks && keystore_put(ks, "pair", "p\n", 2) == 0 && file_mode(path) == 0600)
		res |= FB_PUT;
	if (ks && !strcmp(keystore_location(ks), loc))
		res |= FB_LOCATION;
	keystore_free(ks);
	keystore_free(ks2);
	ks = NULL;
	c->kc.fallback = false;
	res |= keystore_open(&c->kc, KEYSTORE_WRITE, &ks) == -ENOSYS && !ks ? FB_NOFALLBACK : 0;
	free(path);
	free(loc);
	return res;
}

static void test_fallback(void)
{
	char *err = xasprintf("%s/fallback.err", tmpdir), *log = NULL;
	int status = 0, res, fd;
	size_t len = 0;
	struct conf c;
	pid_t pid;

	conf_init(&c, KEYSTORE_TYPE_KEYRING, "fallback", (gid_t)-1);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		fd = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		/* _exit: no atexit handlers (LeakSanitizer) in the forked child. */
		_exit(fallback_child(&c));
	}
	waitpid(pid, &status, 0);
	res = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
	ok(res != 255, "fallback: the child blocked the keyring syscalls (status %d)", status);
	ok(res & FB_OPEN, "fallback: open without a keyring succeeds with fallback = true");
	ok(res & FB_FILE, "fallback: backend 'file', keystore_fell_back()");
	ok(res & FB_PUT, "fallback: put lands in PATH/ALIAS.pem, 0600");
	ok(res & FB_LOCATION, "fallback: location is the directory");
	ok(res & FB_NOFALLBACK, "fallback: with fallback = false open returns -ENOSYS");
	read_file(err, 1 << 16, &log, &len);
	ok(count_str(log, "kernel keyring unavailable (") == 1 && strstr(log, c.path),
	   "fallback: warned once, naming the directory");
	ok(keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", c.keyring, 0) < 0,
	   "fallback: no keyring was created");
	keyring_cleanup(&c);
	free(log);
	free(err);
}
#endif

int main(void)
{
	char *run;

	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_runtime_dir();
	run = xasprintf("%s/run", tmpdir);
	setenv("RUNTIME_DIRECTORY", run, 1);
	free(run);
	test_file_store();
	test_file_group();
	test_keyring_store();
	test_keyring_group();
#ifdef HAVE_SECCOMP
	test_fallback();
#else
	ok(1, "fallback # SKIP built without libseccomp");
#endif
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
