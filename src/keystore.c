/* SPDX-License-Identifier: MIT */
/* The keystore front: opening (lock, fallback, recovery), reading the committed store, names. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keystore_backend.h"
#include "log.h"
#include "sha256.h"
#include "util.h"

#define ALIAS_MAX 200
#define ALIAS_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

bool keystore_alias_valid(const char *alias)
{
	size_t len = alias ? strlen(alias) : 0;

	return len > 0 && len <= ALIAS_MAX && alias[0] != '.' && strspn(alias, ALIAS_CHARS) == len;
}

bool keystore_alias_owned(const char *alias)
{
	return !strncmp(alias, KS_ALIAS_OWNED_PREFIX, strlen(KS_ALIAS_OWNED_PREFIX));
}

bool keystore_alias_in_keyring(const char *alias)
{
	return strcmp(alias, KS_ALIAS_EVENTS) != 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void keystore_sort(char **aliases, size_t n)
{
	if (n > 1)
		qsort(aliases, n, sizeof(*aliases), cmp_str);
}

void keystore_free_list(char **aliases, size_t n)
{
	size_t i;

	if (!aliases)
		return;
	for (i = 0; i < n; i++)
		free(aliases[i]);
	free(aliases);
}

const char *keystore_runtime_dir(void)
{
	static char buf[PATH_MAX];
	const char *dir = getenv("RUNTIME_DIRECTORY");
	size_t len;

	if (!dir || !*dir)
		return RUNSTATEDIR "/est-enroll";
	/* With several RuntimeDirectory= entries systemd joins them with ':'; ours is first. */
	len = strcspn(dir, ":");
	if (len >= sizeof(buf))
		return RUNSTATEDIR "/est-enroll";
	memcpy(buf, dir, len);
	buf[len] = '\0';
	return buf;
}

bool keystore_keyring_unavailable(int r)
{
	return r == -ENOSYS || r == -EPERM || r == -EACCES || r == -EDQUOT;
}

static void set_file_location(struct keystore *ks)
{
	snprintf(ks->location, sizeof(ks->location), "directory %s", ks->kc->path);
}

void ks_refused(struct keystore *ks, int r, bool at_write)
{
	/* The kernel is the same for every keystore of this process: say so once. */
	static bool warned;

	if (!warned && at_write)
		log_warn("kernel keyring %s refused the change (%s): storing in %s only, and "
			 "none of the tool's keys stay in the keyring",
			 ks->kc->keyring, strerror(-r), ks->kc->path);
	else if (!warned)
		log_warn("kernel keyring unavailable (%s); storing in %s", strerror(-r),
			 ks->kc->path);
	else
		log_debug("keystore %s: storing in %s", ks->kc->name, ks->kc->path);
	warned = true;
	ks->keyring_on = false;
	ks->fell_back = true;
	set_file_location(ks);
}

/* The keyring, or (unavailable and fallback) the file copy alone. */
static int open_keyring(struct keystore *ks)
{
	const struct keystore_conf *kc = ks->kc;
	int r;

	r = ksk_open(ks, ks->mode != KEYSTORE_READ);
	if (r == 0) {
		ks->keyring_on = true;
		return 0;
	}
	if (!kc->fallback || !keystore_keyring_unavailable(r)) {
		log_err("kernel keyring %s: %s%s", kc->keyring, strerror(-r),
			keystore_keyring_unavailable(r) ? " (fallback = false)" : "");
		return r;
	}
	ks_refused(ks, r, false);
	return 0;
}

/* The directory, the lock, and an interrupted commit finished (write) or noted (read). */
static int open_files(struct keystore *ks)
{
	const struct keystore_conf *kc = ks->kc;
	bool write = ks->mode != KEYSTORE_READ;
	int r;

	r = ksf_open(ks, write);
	if (r == -ENOENT && !write)
		return 0; /* nothing stored yet, and status creates nothing */
	if (r == 0 && write) {
		r = ksf_lock(ks, ks->mode == KEYSTORE_WRITE);
		if (r == -EBUSY)
			return r;
	}
	if (r == 0 && write)
		r = ks_recover(ks);
	/* After recovery, which may install what an older configuration staged. */
	if (r == 0 && write)
		r = ksf_conform(ks);
	/* One data directory for every read of this opening: one commit's files. */
	if (r == 0 && !write)
		r = ksf_data_open(ks);
	if (r == -ENOENT && !write) {
		/* The old layout (or an empty store): read through an interrupted journal. */
		r = ksf_journal_read(ks, &ks->jnl);
		if (r == -ENOKEY || r == -EBADMSG)
			r = 0; /* none, or unfinished: not committed */
	}
	if (r < 0)
		log_err("keystore %s: %s: %s", kc->name, kc->path, strerror(-r));
	return r;
}

int keystore_open(const struct keystore_conf *kc, enum keystore_mode mode, struct keystore **out_ks)
{
	struct keystore *ks = xzalloc(sizeof(*ks));
	int r = 0;

	ks->kc = kc;
	ks->mode = mode;
	ks->keyring = -1;
	ks->lock_fd = -1;
	ks->data_fd = -1;
	set_file_location(ks);
	switch (kc->type) {
	case KEYSTORE_TYPE_KEYRING:
		r = open_keyring(ks);
		break;
	case KEYSTORE_TYPE_FILE:
		break;
	}
	if (r == 0)
		r = open_files(ks);
	if (r < 0)
		goto out;
	*out_ks = ks;
	ks = NULL;
out:
	keystore_free(ks);
	return r;
}

void keystore_free(struct keystore *ks)
{
	if (!ks)
		return;
	if (ks->lock_fd >= 0)
		close(ks->lock_fd);
	if (ks->data_fd >= 0)
		close(ks->data_fd);
	ksf_journal_free(ks->jnl);
	free(ks);
}

static bool in_list(char **list, size_t n, const char *alias)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(list[i], alias))
			return true;
	return false;
}

/* The file copy, read through an interrupted commit (READ mode only has one). */
static int file_get(struct keystore *ks, const char *alias, char **out_data, size_t *out_len)
{
	const struct ks_journal *j = ks->jnl;

	if (j && in_list(j->del, j->n_del, alias))
		return -ENOKEY;
	if (j && in_list(j->put, j->n_put, alias) &&
	    ksf_read_staged(ks, alias, out_data, out_len) == 0)
		return 0;
	return ksf_read(ks, alias, out_data, out_len);
}

int keystore_each_in_set(struct keystore *ks, const char *prefix,
			 int (*fn)(int index, const char *data, size_t len, void *ctx), void *ctx)
{
	char *alias, *data = NULL;
	size_t len = 0;
	int i, r = 0;

	for (i = 0; r == 0; i++) {
		alias = xasprintf("%s%d", prefix, i);
		r = keystore_get(ks, alias, &data, &len);
		free(alias);
		if (r == -ENOKEY)
			return i;
		if (r < 0)
			return r;
		r = fn(i, data, len, ctx);
		free(data);
	}
	return r;
}

bool keystore_state_vouches(const char *state, const char *pair, size_t len)
{
	char fp[65];

	sha256_hex(pair, len, fp);
	return kv_is(state, "pair_sha256", fp);
}

bool keystore_pair_vouched(struct keystore *ks, const char *pair, size_t len)
{
	char *state = NULL;
	size_t slen = 0;
	bool same = keystore_get(ks, KS_ALIAS_STATE, &state, &slen) == 0 &&
		    keystore_state_vouches(state, pair, len);

	free(state);
	return same;
}

int keystore_get(struct keystore *ks, const char *alias, char **out_data, size_t *out_len)
{
	struct ks_view kv = {NULL, 0};
	const struct ks_item *it;
	int r;

	if (!keystore_alias_valid(alias))
		return -EINVAL;
	r = file_get(ks, alias, out_data, out_len);
	if (r != -ENOKEY || !ks->keyring_on || keystore_alias_owned(alias))
		return r;
	/* A key someone else put into the keyring (e.g. a client pair) has no file copy. */
	r = ksk_read_view(ks, &kv);
	it = r == 0 ? ks_view_find(&kv, alias) : NULL;
	if (it) {
		*out_data = xmalloc(it->len + 1);
		memcpy(*out_data, it->data, it->len + 1);
		*out_len = it->len;
	}
	ks_view_clear(&kv);
	return it ? 0 : -ENOKEY;
}

void ks_view_clear(struct ks_view *v)
{
	size_t i;

	for (i = 0; v->items && i < v->n; i++) {
		free(v->items[i].alias);
		wipe_free(v->items[i].data, v->items[i].len);
	}
	free(v->items);
	v->items = NULL;
	v->n = 0;
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct ks_item *)a)->alias, ((const struct ks_item *)b)->alias);
}

const struct ks_item *ks_view_find(const struct ks_view *v, const char *alias)
{
	struct ks_item key = {.alias = (char *)alias};

	return v->n ? bsearch(&key, v->items, v->n, sizeof(*v->items), cmp_item) : NULL;
}

/* The aliases of the committed file copy, with an interrupted commit's puts and removals. */
static int file_aliases(struct keystore *ks, char ***out, size_t *out_n)
{
	const struct ks_journal *j = ks->jnl;
	char **all = NULL;
	size_t n = 0, i, k = 0;
	int r;

	r = ksf_list(ks, &all, &n);
	if (r < 0 || !j)
		goto out;
	all = xrealloc(all, sizeof(*all) * (n + j->n_put + 1));
	for (i = 0; i < j->n_put; i++)
		if (!in_list(all, n, j->put[i]))
			all[n++] = xstrdup(j->put[i]);
	for (i = 0; i < n; i++) {
		if (in_list(j->del, j->n_del, all[i]))
			free(all[i]);
		else
			all[k++] = all[i];
	}
	n = k;
	keystore_sort(all, n);
out:
	if (r == 0) {
		*out = all;
		*out_n = n;
	}
	return r;
}

int ks_read_view(struct keystore *ks, struct ks_view *out_v)
{
	char **aliases = NULL;
	size_t n = 0, i;
	int r;

	out_v->items = NULL;
	out_v->n = 0;
	r = file_aliases(ks, &aliases, &n);
	if (r < 0)
		return r;
	out_v->items = xzalloc(sizeof(*out_v->items) * (n ? n : 1));
	for (i = 0; r == 0 && i < n; i++) {
		struct ks_item *it = &out_v->items[out_v->n];

		r = file_get(ks, aliases[i], &it->data, &it->len);
		if (r == -ENOKEY) {
			r = 0; /* removed meanwhile */
			continue;
		}
		if (r == 0) {
			it->alias = aliases[i];
			aliases[i] = NULL;
			out_v->n++;
		}
	}
	keystore_free_list(aliases, n);
	if (r < 0)
		ks_view_clear(out_v);
	return r;
}

int keystore_list(struct keystore *ks, char ***out_aliases, size_t *out_n)
{
	struct ks_view kv = {NULL, 0};
	char **all = NULL;
	size_t n = 0, i;
	int r;

	r = file_aliases(ks, &all, &n);
	if (r < 0 || !ks->keyring_on)
		goto out;
	/* Keys of others in the keyring are part of the store too. */
	r = ksk_read_view(ks, &kv);
	for (i = 0; r == 0 && i < kv.n; i++) {
		if (keystore_alias_owned(kv.items[i].alias) || in_list(all, n, kv.items[i].alias))
			continue;
		all = xrealloc(all, sizeof(*all) * (n + 1));
		all[n++] = xstrdup(kv.items[i].alias);
	}
	keystore_sort(all, n);
out:
	ks_view_clear(&kv);
	if (r < 0) {
		keystore_free_list(all, n);
		return r;
	}
	*out_aliases = all ? all : xzalloc(sizeof(char *));
	*out_n = n;
	return 0;
}

char *keystore_disagreement(struct keystore *ks)
{
	struct ks_view fv = {NULL, 0}, kv = {NULL, 0};
	char *list = xstrdup(""), *next;
	size_t i;

	if (!ks->keyring_on || ks_read_view(ks, &fv) < 0 || ksk_read_view(ks, &kv) < 0) {
		free(list);
		list = NULL;
		goto out;
	}
	for (i = 0; i < fv.n + kv.n; i++) {
		const struct ks_item *a = i < fv.n ? &fv.items[i] : &kv.items[i - fv.n];
		const struct ks_item *b = ks_view_find(i < fv.n ? &kv : &fv, a->alias);

		if (i >= fv.n && (b || !keystore_alias_owned(a->alias)))
			continue; /* compared already, or somebody else's key */
		if (!keystore_alias_in_keyring(a->alias))
			continue;
		if (b && b->len == a->len && !memcmp(a->data, b->data, a->len))
			continue;
		next = xasprintf("%s%s%s", list, *list ? "," : "", a->alias);
		free(list);
		list = next;
	}
out:
	ks_view_clear(&fv);
	ks_view_clear(&kv);
	return list;
}

int keystore_access(struct keystore *ks, struct keystore_access *out)
{
	return ksf_access(ks, out);
}

const char *keystore_backend(const struct keystore *ks)
{
	return ks->keyring_on ? "keyring" : "file";
}

/* True when the view holds an item of the tool's own (est-*). */
static bool holds_owned(const struct ks_view *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (keystore_alias_owned(v->items[i].alias))
			return true;
	return false;
}

bool keystore_fell_back(struct keystore *ks)
{
	struct ks_view fv = {NULL, 0}, kv = {NULL, 0};

	if (ks->fell_back || !ks->keyring_on || ks->mode != KEYSTORE_READ)
		return ks->fell_back;
	/* An earlier pass found the keyring refusing (quota): it took the tool's keys out. */
	if (ks_read_view(ks, &fv) == 0 && holds_owned(&fv) && ksk_read_view(ks, &kv) == 0 &&
	    !holds_owned(&kv))
		ks->fell_back = true;
	ks_view_clear(&fv);
	ks_view_clear(&kv);
	return ks->fell_back;
}

const char *keystore_name(const struct keystore *ks)
{
	return ks->kc->name;
}

const char *keystore_location(struct keystore *ks)
{
	return ks->location;
}

int keystore_keyring_serial(const struct keystore *ks)
{
	return ks->keyring_on ? (int)ks->keyring : -1;
}

int keystore_key_serial(struct keystore *ks, const char *alias)
{
	long id;

	if (!ks->keyring_on || ks->keyring < 0 || !keystore_alias_valid(alias))
		return -ENOKEY;
	id = keyctl_search(ks->keyring, "user", alias, 0);
	return id < 0 ? -ENOKEY : (int)id;
}
