/* SPDX-License-Identifier: MIT */
/* The kernel keyring beside the file copy: user keys in a named keyring in root's user keyring. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keyutils.h>

#include "keystore_backend.h"
#include "log.h"
#include "util.h"

struct entry {
	char *alias;
	key_serial_t id;
	key_perm_t perm;
	gid_t gid;
};

struct entries {
	struct entry *e;
	size_t n;
};

/* libkeyutils returns -1 and sets errno; everything below speaks -errno. */
static long kerr(long r)
{
	return r < 0 ? -errno : r;
}

static key_perm_t perms(const struct keystore *ks)
{
	key_perm_t p = KEY_POS_ALL | KEY_USR_ALL;

	if (ks->kc->gid != (gid_t)-1)
		p |= KEY_GRP_VIEW | KEY_GRP_READ | KEY_GRP_SEARCH;
	return p;
}

/* Group and permissions as the contract says (others nothing). */
static int set_access(const struct keystore *ks, key_serial_t id)
{
	long r = 0;

	if (ks->kc->gid != (gid_t)-1)
		r = kerr(keyctl_chown(id, (uid_t)-1, ks->kc->gid));
	if (r == -EACCES || r == -EPERM) {
		/* Not the keyring being unavailable (no fallback): a setup to fix. */
		log_err("keystore %s: cannot give keys to group %s (%s): without CAP_SYS_ADMIN the "
			"process must be a member (systemd: SupplementaryGroups=%s)",
			ks->kc->name, ks->kc->group, strerror((int)-r), ks->kc->group);
		return -EINVAL;
	}
	if (r == 0)
		r = kerr(keyctl_setperm(id, perms(ks)));
	return (int)r;
}

static bool access_ok(const struct keystore *ks, key_perm_t perm, gid_t gid)
{
	return perm == perms(ks) && (ks->kc->gid == (gid_t)-1 || gid == ks->kc->gid);
}

static void set_location(struct keystore *ks)
{
	snprintf(ks->location, sizeof(ks->location), "keyring %s (serial %d)", ks->kc->keyring,
		 (int)ks->keyring);
}

int ksk_open(struct keystore *ks, bool create)
{
	const char *name = ks->kc->keyring;
	long id = kerr(keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", name, 0));
	int r = 0;

	if (id == -ENOKEY && create) {
		id = kerr(add_key("keyring", name, NULL, 0, KEY_SPEC_USER_KEYRING));
		if (id >= 0)
			r = set_access(ks, (key_serial_t)id);
	}
	if (id < 0 && id != -ENOKEY)
		return (int)id;
	if (r < 0)
		return r;
	ks->keyring = id < 0 ? -1 : (key_serial_t)id;
	set_location(ks);
	return 0;
}

/* "type;uid;gid;perm;description" of a user key, or false for anything else. */
static bool describe_user_key(key_serial_t id, struct entry *out)
{
	char *desc = NULL, *p, *fields[5];
	bool ok = false;
	int i;

	if (keyctl_describe_alloc(id, &desc) < 0)
		return false; /* gone meanwhile, or not ours to see */
	p = desc;
	for (i = 0; i < 5 && p; i++) {
		fields[i] = p;
		p = i < 4 ? strchr(p, ';') : NULL;
		if (p)
			*p++ = '\0';
	}
	if (i == 5 && !strcmp(fields[0], "user")) {
		out->alias = xstrdup(fields[4]);
		out->gid = (gid_t)strtoul(fields[2], NULL, 10);
		out->perm = (key_perm_t)strtoul(fields[3], NULL, 16);
		out->id = id;
		ok = true;
	}
	free(desc);
	return ok;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->alias, ((const struct entry *)b)->alias);
}

static void entries_clear(struct entries *l)
{
	size_t i;

	for (i = 0; l->e && i < l->n; i++)
		free(l->e[i].alias);
	free(l->e);
	l->e = NULL;
	l->n = 0;
}

/* The user keys of the named keyring, sorted by alias; none when it does not exist. */
static int list_entries(struct keystore *ks, struct entries *out)
{
	key_serial_t *ids = NULL;
	size_t i, count;
	long len;

	out->e = NULL;
	out->n = 0;
	if (ks->keyring < 0)
		return 0;
	len = kerr(keyctl_read_alloc(ks->keyring, (void **)&ids));
	if (len < 0)
		return (int)len;
	count = (size_t)len / sizeof(*ids);
	out->e = xzalloc(sizeof(*out->e) * (count ? count : 1));
	for (i = 0; i < count; i++)
		if (describe_user_key(ids[i], &out->e[out->n]))
			out->n++;
	free(ids);
	if (out->n > 1)
		qsort(out->e, out->n, sizeof(*out->e), cmp_entry);
	return 0;
}

static int read_key(key_serial_t id, char **out_data, size_t *out_len)
{
	void *buf = NULL;
	long n;

	/* keyctl_read_alloc NUL-terminates, as keystore_get promises. */
	n = kerr(keyctl_read_alloc(id, &buf));
	if (n < 0)
		return (int)n;
	*out_data = buf;
	*out_len = (size_t)n;
	return 0;
}

int ksk_read_view(struct keystore *ks, struct ks_view *out_v)
{
	struct entries l;
	size_t i;
	int r;

	out_v->items = NULL;
	out_v->n = 0;
	r = list_entries(ks, &l);
	if (r < 0)
		return r;
	out_v->items = xzalloc(sizeof(*out_v->items) * (l.n ? l.n : 1));
	for (i = 0; i < l.n; i++) {
		struct ks_item *it = &out_v->items[out_v->n];

		if (read_key(l.e[i].id, &it->data, &it->len) < 0)
			continue; /* not readable for us: not part of the store */
		it->alias = l.e[i].alias;
		l.e[i].alias = NULL;
		out_v->n++;
	}
	entries_clear(&l);
	return 0;
}

static const struct entry *find_entry(const struct entries *l, const char *alias)
{
	struct entry key = {.alias = (char *)alias};

	return l->n ? bsearch(&key, l->e, l->n, sizeof(*l->e), cmp_entry) : NULL;
}

/* True when the live key holds exactly it, with the right access. */
static bool entry_holds(const struct keystore *ks, const struct entry *e, const struct ks_item *it)
{
	char *data = NULL;
	size_t len = 0;
	bool same;

	if (!access_ok(ks, e->perm, e->gid) || read_key(e->id, &data, &len) < 0)
		return false;
	same = len == it->len && !memcmp(data, it->data, len);
	wipe_free(data, len);
	return same;
}

/* Puts one key into the staging keyring: linked when the live one holds it, else written. */
static int stage_item(struct keystore *ks, key_serial_t staging, const struct entry *live,
		      const struct ks_item *it, bool keep)
{
	long id;

	if (keep && kerr(keyctl_link(live->id, staging)) == 0)
		return 0;
	id = kerr(add_key("user", it->alias, it->data, it->len, staging));
	if (id < 0) {
		log_err("keystore %s: keyring: %s: %s", ks->kc->name, it->alias,
			strerror((int)-id));
		return (int)id;
	}
	return set_access(ks, (key_serial_t)id);
}

/* A live key that goes: the tool's own (est-*) not in want, or one the change removes. */
static bool dropped(const struct entry *e, const struct ks_view *want, char *const *drop,
		    size_t n_drop)
{
	size_t i;

	if (ks_view_find(want, e->alias))
		return false;
	if (keystore_alias_owned(e->alias))
		return true;
	for (i = 0; i < n_drop; i++)
		if (!strcmp(drop[i], e->alias))
			return true;
	return false;
}

/* Keys of others (not est-*, not in want, not removed) are carried over as they are. */
static int stage_others(struct keystore *ks, key_serial_t staging, const struct entries *live,
			const struct ks_view *want, char *const *drop, size_t n_drop)
{
	size_t i;
	long r;

	for (i = 0; i < live->n; i++) {
		const struct entry *e = &live->e[i];

		if (ks_view_find(want, e->alias) || dropped(e, want, drop, n_drop))
			continue;
		r = kerr(keyctl_link(e->id, staging));
		if (r < 0) {
			log_err("keystore %s: keyring: cannot carry over %s: %s", ks->kc->name,
				e->alias, strerror((int)-r));
			return (int)r;
		}
	}
	return 0;
}

/* How many keys of want the live keyring does not hold as they are; *out_drop: it holds keys
 * that go. */
static unsigned int differences(const struct keystore *ks, const struct entries *live,
				const struct ks_view *want, char *const *drop, size_t n_drop,
				bool *keep, bool *out_drop)
{
	unsigned int changed = 0;
	size_t i;

	for (i = 0; i < want->n; i++) {
		const struct entry *e = find_entry(live, want->items[i].alias);

		keep[i] = e && entry_holds(ks, e, &want->items[i]);
		changed += !keep[i];
	}
	*out_drop = false;
	for (i = 0; i < live->n; i++)
		if (dropped(&live->e[i], want, drop, n_drop))
			*out_drop = true;
	return changed;
}

static int build(struct keystore *ks, const struct entries *live, const struct ks_view *want,
		 char *const *drop, size_t n_drop, const bool *keep, key_serial_t *out_staging)
{
	long staging;
	size_t i;
	int r;

	/* In the process keyring: if we die before the switch, it dies with us. */
	staging = kerr(add_key("keyring", ks->kc->keyring, NULL, 0, KEY_SPEC_PROCESS_KEYRING));
	if (staging < 0)
		return (int)staging;
	r = set_access(ks, (key_serial_t)staging);
	for (i = 0; r == 0 && i < want->n; i++)
		r = stage_item(ks, (key_serial_t)staging, find_entry(live, want->items[i].alias),
			       &want->items[i], keep[i]);
	if (r == 0)
		r = stage_others(ks, (key_serial_t)staging, live, want, drop, n_drop);
	if (r < 0) {
		keyctl_unlink((key_serial_t)staging, KEY_SPEC_PROCESS_KEYRING);
		return r;
	}
	*out_staging = (key_serial_t)staging;
	return 0;
}

int ksk_prepare(struct keystore *ks, const struct ks_view *all, char *const *drop, size_t n_drop,
		key_serial_t *out_staging, unsigned int *out_changed)
{
	bool *keep = xzalloc(sizeof(*keep) * (all->n ? all->n : 1));
	struct ks_item *items = xzalloc(sizeof(*items) * (all->n ? all->n : 1));
	struct ks_view kept = {items, 0};
	const struct ks_view *want = &kept;
	struct entries live;
	unsigned int changed = 0;
	bool drops = false;
	size_t i;
	int r;

	/* What the keyring shows: the store less its file-only items (borrowed, not copied). */
	for (i = 0; i < all->n; i++)
		if (keystore_alias_in_keyring(all->items[i].alias))
			items[kept.n++] = all->items[i];
	*out_staging = -1;
	r = list_entries(ks, &live);
	if (r < 0)
		goto out;
	changed = differences(ks, &live, want, drop, n_drop, keep, &drops);
	if (ks->keyring < 0 || changed > 0 || drops)
		r = build(ks, &live, want, drop, n_drop, keep, out_staging);
out:
	if (out_changed)
		*out_changed = r == 0 ? changed : 0;
	entries_clear(&live);
	free(keep);
	free(items);
	return r;
}

void ksk_discard(key_serial_t staging)
{
	if (staging >= 0)
		keyctl_unlink(staging, KEY_SPEC_PROCESS_KEYRING);
}

int ksk_switch(struct keystore *ks, key_serial_t staging)
{
	long r;

	/* A keyring of the same name displaces the old link in one step. */
	r = kerr(keyctl_link(staging, KEY_SPEC_USER_KEYRING));
	ksk_discard(staging);
	if (r < 0)
		return (int)r;
	ks->keyring = staging;
	set_location(ks);
	ksk_publish(ks);
	return 0;
}

void ksk_drop_owned(struct keystore *ks)
{
	struct ks_view none = {NULL, 0};
	key_serial_t staging = -1;
	int r;

	if (ks->keyring < 0)
		return;
	/*
	 * In one step, never key by key (a kill in between would leave half an identity): a
	 * keyring of the same name holding only others' keys takes the place of the old one; if
	 * the keyring refuses even that (it is what made the commit fall back), the named keyring
	 * leaves the user keyring, others' keys with it.
	 */
	r = ksk_prepare(ks, &none, NULL, 0, &staging, NULL);
	if (r == 0 && staging < 0)
		return; /* none of the tool's keys there */
	if (r == 0 && ksk_switch(ks, staging) == 0)
		return;
	ksk_discard(staging);
	r = (int)kerr(keyctl_unlink(ks->keyring, KEY_SPEC_USER_KEYRING));
	if (r < 0) {
		log_warn("keystore %s: cannot take %s out of the user keyring: %s", ks->kc->name,
			 ks->kc->keyring, strerror(-r));
		return;
	}
	log_warn("keystore %s: the keyring %s was taken out of the user keyring whole",
		 ks->kc->name, ks->kc->keyring);
	ks->keyring = -1;
	set_location(ks);
	ksk_publish(ks);
}

/* RUNTIME_DIR/NAME.keys, "ALIAS SERIAL" per line, for consumers in other sessions. */
void ksk_publish(struct keystore *ks)
{
	const char *dir = keystore_runtime_dir();
	char *text = NULL, *path = NULL;
	struct entries live = {NULL, 0};
	size_t len = 0, i;
	FILE *f = NULL;
	int r;

	r = list_entries(ks, &live);
	if (r < 0)
		goto out;
	f = open_memstream(&text, &len);
	if (!f) {
		r = -errno;
		goto out;
	}
	for (i = 0; i < live.n; i++)
		fprintf(f, "%s %d\n", live.e[i].alias, (int)live.e[i].id);
	if (fclose(f) != 0) {
		r = -ENOMEM;
		goto out;
	}
	r = mkdir_p(dir, 0755);
	if (r < 0)
		goto out;
	path = xasprintf("%s/%s.keys", dir, ks->kc->name);
	/* Serials are not secret: 0644. Not synced: they die with the keyring at the next boot,
	 * and $RUNTIME_DIRECTORY is a tmpfs; readers still never see a torn list. */
	r = write_file_replace(path, text, len, 0644);
out:
	/* The store itself is fine: consumers can still search the keyring by name. */
	if (r < 0)
		log_warn("keystore %s: publishing serials in %s/%s.keys: %s", ks->kc->name, dir,
			 ks->kc->name, strerror(-r));
	free(path);
	free(text);
	entries_clear(&live);
}
