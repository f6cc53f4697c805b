/* SPDX-License-Identifier: MIT */
/* Changing the store as one unit: transactions, the commit order, recovery, healing the keyring. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keystore_backend.h"
#include "log.h"
#include "util.h"

/*
 * The invariant. The file copy is the store; the keyring is its copy for consumers. Whatever
 * happens to the process, the disk or the keyring, the store holds every change of a
 * transaction or none of them, and the keyring holds the store as it was before or after a
 * transaction, never a mix. A reader of the files sees one commit's files, never some of the
 * previous one (SPEC "Store layout", issue 15).
 *
 * The layout (Kubernetes' AtomicWriter): the items of a commit are the files of one data
 * directory, PATH/..data-XXXXXX, never changed once it is named; the symlink PATH/..data names
 * the current one; each stable name PATH/ALIAS.pem is the symlink "..data/ALIAS.pem". A reader
 * that opens PATH/..data/ once and reads the items from there (openat) sees one commit;
 * PATH/ALIAS.pem alone resolves ..data at each open: one whole item.
 *
 * The commit order (keystore_txn_commit, ksf_commit):
 *   1. A new keyring holding the new store is built aside, in the process keyring (it dies with
 *      the process). Quota and permission failures happen here, before anything is visible.
 *   2. A new data directory PATH/..data-XXXXXX (mkdtemp, then the store's mode and group)
 *      gets every item of the new store: a changed one written (O_EXCL, mode and group set
 *      before a byte) and fsynced, an unchanged one as a hard link of the current file (synced
 *      when it was written). The data directory is fsynced.
 *   3. The symlink PATH/..data.tmp -> ..data-XXXXXX is made, and the stable names of new
 *      aliases (dangling until 4: a reader finds no such item yet, as before). PATH is synced:
 *      the new directory's entry, ..data.tmp and the new names are durable.
 *   4. PATH/..data.tmp is renamed over PATH/..data: the commit point, one atomic rename. PATH
 *      is synced before anything else changes in it; the commit is then acknowledged.
 *   5. Tidying, which recovery repeats: the stable names of removed aliases are unlinked, the
 *      old data directory is emptied and removed (a reader inside it sees files vanish, never
 *      change). Not synced.
 *   6. The new keyring is linked into the user keyring under the same name, which displaces
 *      the old one in one step; the serial list is republished (best effort, not synced: it
 *      means nothing after a reboot, and $RUNTIME_DIRECTORY is a tmpfs).
 * A crash before 4 leaves the old store: recovery (ks_recover, at every opening for writing,
 * under the lock) removes every data directory ..data does not name, ..data.tmp and the stable
 * names of aliases the current data directory lacks; a crash after 4 leaves the new one, and
 * recovery finishes 5 and makes any missing stable name. It then heals the keyring from the
 * file copy (keystore_load), as a pass does whenever the keyring lost or changed items. Readers
 * that take no lock (status, export) open PATH/..data once and read through it. When the
 * keyring refuses step 1 (EDQUOT, EACCES, ...) and fallback is on, the commit goes on in the
 * files alone and the tool's own keys are taken out of the keyring, so it never shows a stale
 * identity; with fallback off nothing changes.
 *
 * The old layout (regular PATH/ALIAS.pem files changed through the journal PATH/.est-commit
 * and staged copies PATH/.ALIAS.new, up to this version) is recognised by the absence of
 * ..data: recovery first finishes or discards its journal as that version did (recover_journal,
 * whose reasoning was: the journal counts only when each put it lists is staged or installed
 * with the recorded length and checksum), then converts the store by one commit as above,
 * whose step 5 replaces each regular file by its stable symlink (a symlink made aside and
 * renamed over it: a reader sees the file or the link, the same content). A cut during the
 * conversion is recovered like any commit: before its switch the old layout stands (the files
 * are untouched), after it the stable names are made by recovery.
 *
 * Power loss. SIGKILL (tests/integration/030) loses nothing the kernel accepted; a power cut
 * loses whatever was not synced, in any order. What is assumed: after fsync(file) returns, its
 * data and inode are on the disk; after fsync(dir), the directory's entries as they were at
 * the call (a symlink's target is written with its inode, at its creation); a rename is atomic
 * (the name is the old one or the new one). Nothing about the order in which unsynced changes
 * reach the disk (tests/integration/031 checks the order of the syncs).
 *   - Cut before 4's rename reached the disk: ..data names the old directory, whose files
 *     and entries were durable when it was switched in; whatever of the new directory, of
 *     ..data.tmp and of the new names reached the disk is removed by recovery. The old store.
 *   - Cut after the rename reached the disk (the rename may reach it before 4's sync
 *     returns): ..data names the new directory, whose entry in PATH is durable (3's sync), its
 *     entries (2's directory sync) and every file's data (2's file syncs, or the linked
 *     file's own earlier sync) too. The new store, whole; recovery tidies.
 *   - Cut during 5, or with 5's unlinks not yet on the disk: a gone alias's name may come
 *     back, dangling, or the old directory in part: recovery removes them, and until then
 *     they name nothing ..data names.
 *   - A later commit cannot be undone by an earlier one: each commit's switch is synced (4)
 *     before the next begins, and a data directory is never reused (mkdtemp).
 *   - The store directory made by the first open is synced into its parent (ksf_open), so
 *     the first acknowledged commit cannot vanish with it.
 * A commit pays one sync per changed item + 3 (the data directory, PATH before and after the
 * switch). A pass that commits the request key before the CSR is sent, then the issued pair,
 * the CA certificates, est-state and est-events with the request key removed, then est-events'
 * removal once the hooks ran, pays 4 + (changed + 3) + 3; each commit is acknowledged durable
 * before the pass goes on, as the protocol needs: the key of a CSR that reached the server must
 * survive. Recovery, rare, syncs PATH when it changed something.
 */

struct txn_op {
	char *alias;
	char *data; /* NULL: remove */
	size_t len;
};

struct keystore_txn {
	struct keystore *ks;
	struct txn_op *ops;
	size_t n;
};

/* The old layout: finishes an interrupted commit (journal present) or discards its staged
 * copies. */
static int recover_journal(struct keystore *ks)
{
	struct ks_journal *j = NULL;
	size_t i;
	int r;

	r = ksf_journal_read(ks, &j);
	if (r == -ENOKEY) {
		ksf_discard_staged(ks);
		return 0;
	}
	if (r == -EBADMSG) {
		/* No commit point was reached: what is staged never became the store. */
		log_info("keystore %s: discarding a commit that never became durable",
			 ks->kc->name);
		ksf_discard_staged(ks);
		r = ksf_journal_remove(ks);
		return r == 0 ? ksf_sync(ks) : r;
	}
	if (r < 0)
		return r;
	log_info("keystore %s: finishing an interrupted commit", ks->kc->name);
	for (i = 0; r == 0 && i < j->n_put; i++)
		r = ksf_journal_install(ks, j, i);
	for (i = 0; r == 0 && i < j->n_del; i++)
		r = ksf_delete(ks, j->del[i]);
	if (r == 0)
		r = ksf_sync(ks);
	if (r == 0)
		r = ksf_journal_remove(ks);
	/* Recovery is rare: its removal is synced too, and a later writer's copies go. */
	if (r == 0)
		r = ksf_sync(ks);
	if (r == 0)
		ksf_discard_staged(ks);
	ksf_journal_free(j);
	return r;
}

/* The old layout (regular PATH/ALIAS.pem files, no ..data) becomes the new one by one commit
 * of what it holds. An empty store stays without ..data until its first commit. */
static int convert(struct keystore *ks)
{
	struct ks_view v = {NULL, 0};
	char **names = NULL;
	size_t i;
	int r;

	r = ks_read_view(ks, &v);
	if (r == 0 && v.n) {
		log_info("keystore %s: converting %s to data directories", ks->kc->name,
			 ks->kc->path);
		names = xzalloc(sizeof(*names) * v.n);
		for (i = 0; i < v.n; i++)
			names[i] = v.items[i].alias;
		r = ksf_commit(ks, &v, names, v.n);
	}
	free(names);
	ks_view_clear(&v);
	return r;
}

/* Under the lock: the store as its last durable switch left it (see the top of this file). */
int ks_recover(struct keystore *ks)
{
	int r = ksf_data_open(ks);

	if (r == -ENOENT) {
		r = recover_journal(ks);
		if (r == 0)
			r = convert(ks);
	}
	return r == 0 ? ksf_tidy(ks) : r;
}

struct keystore_txn *keystore_txn_new(struct keystore *ks)
{
	struct keystore_txn *txn = xzalloc(sizeof(*txn));

	txn->ks = ks;
	return txn;
}

static void txn_clear(struct keystore_txn *txn)
{
	size_t i;

	for (i = 0; i < txn->n; i++) {
		free(txn->ops[i].alias);
		wipe_free(txn->ops[i].data, txn->ops[i].len);
	}
	free(txn->ops);
	txn->ops = NULL;
	txn->n = 0;
}

void keystore_txn_free(struct keystore_txn *txn)
{
	if (!txn)
		return;
	txn_clear(txn);
	free(txn);
}

bool keystore_txn_empty(const struct keystore_txn *txn)
{
	return txn->n == 0;
}

/* The op for alias, replacing an earlier one. */
static struct txn_op *txn_slot(struct keystore_txn *txn, const char *alias)
{
	size_t i;

	for (i = 0; i < txn->n; i++) {
		if (!strcmp(txn->ops[i].alias, alias)) {
			wipe_free(txn->ops[i].data, txn->ops[i].len);
			txn->ops[i].data = NULL;
			txn->ops[i].len = 0;
			return &txn->ops[i];
		}
	}
	txn->ops = xrealloc(txn->ops, sizeof(*txn->ops) * (txn->n + 1));
	memset(&txn->ops[txn->n], 0, sizeof(*txn->ops));
	txn->ops[txn->n].alias = xstrdup(alias);
	return &txn->ops[txn->n++];
}

static size_t item_max(const struct keystore *ks)
{
	/* A keyring store holds what the keyring can, so both copies can hold the same. */
	return ks->kc->type == KEYSTORE_TYPE_KEYRING ? KS_KEYRING_ITEM_MAX : KS_FILE_ITEM_MAX;
}

int keystore_txn_put(struct keystore_txn *txn, const char *alias, const void *data, size_t len)
{
	struct txn_op *op;

	if (!keystore_alias_valid(alias) || len == 0)
		return -EINVAL;
	if (len > item_max(txn->ks))
		return -E2BIG;
	op = txn_slot(txn, alias);
	op->data = xmalloc(len + 1);
	memcpy(op->data, data, len);
	op->data[len] = '\0';
	op->len = len;
	return 0;
}

int keystore_txn_remove(struct keystore_txn *txn, const char *alias)
{
	if (!keystore_alias_valid(alias))
		return -EINVAL;
	txn_slot(txn, alias);
	return 0;
}

/* Index of PREFIXK, or -1 when alias is not one (digits only, no leading zero). */
static long set_index(const char *alias, const char *prefix)
{
	size_t plen = strlen(prefix);
	const char *p = alias + plen;
	unsigned long idx;

	if (strncmp(alias, prefix, plen) || !*p || strspn(p, "0123456789") != strlen(p) ||
	    (p[0] == '0' && p[1]))
		return -1;
	if (parse_uint(p, 0, 1ul << 20, &idx) < 0)
		return -1;
	return (long)idx;
}

int keystore_txn_replace_set(struct keystore_txn *txn, const char *prefix, const char *const *items,
			     const size_t *lens, size_t n)
{
	char **aliases = NULL, *alias = xasprintf("%s0", prefix);
	size_t count = 0, i;
	long idx;
	int r = keystore_alias_valid(alias) ? 0 : -EINVAL;

	free(alias);
	for (i = 0; r == 0 && i < n; i++) {
		alias = xasprintf("%s%zu", prefix, i);
		r = keystore_txn_put(txn, alias, items[i], lens ? lens[i] : strlen(items[i]));
		free(alias);
	}
	if (r == 0)
		r = keystore_list(txn->ks, &aliases, &count);
	for (i = 0; r == 0 && i < count; i++) {
		idx = set_index(aliases[i], prefix);
		if (idx >= 0 && (size_t)idx >= n)
			r = keystore_txn_remove(txn, aliases[i]);
	}
	keystore_free_list(aliases, count);
	return r;
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct ks_item *)a)->alias, ((const struct ks_item *)b)->alias);
}

/* cur with the ops applied; ops that change nothing are dropped from txn. */
static void apply_ops(struct keystore_txn *txn, struct ks_view *cur)
{
	size_t i, k = 0, j;

	for (i = 0; i < txn->n; i++) {
		struct txn_op *op = &txn->ops[i];
		struct ks_item *it = (struct ks_item *)ks_view_find(cur, op->alias);
		bool same =
			op->data ? it && it->len == op->len && !memcmp(it->data, op->data, op->len)
				 : !it;

		if (same) {
			free(op->alias);
			wipe_free(op->data, op->len);
			continue;
		}
		if (it) {
			wipe_free(it->data, it->len);
			it->data = NULL;
			it->len = 0;
		} else if (op->data) {
			cur->items = xrealloc(cur->items, sizeof(*cur->items) * (cur->n + 1));
			it = &cur->items[cur->n++];
			it->alias = xstrdup(op->alias);
		}
		if (op->data) {
			it->data = xmalloc(op->len + 1);
			memcpy(it->data, op->data, op->len + 1);
			it->len = op->len;
		}
		/* Sorted again at once: the next op looks its alias up in cur. */
		qsort(cur->items, cur->n, sizeof(*cur->items), cmp_item);
		txn->ops[k++] = *op;
	}
	txn->n = k;
	/* Removed items (no data) leave the view. */
	for (i = 0, j = 0; i < cur->n; i++) {
		if (cur->items[i].data)
			cur->items[j++] = cur->items[i];
		else
			free(cur->items[i].alias);
	}
	cur->n = j;
}

/* Steps 2-5: the file copy, want being the whole new store. 0 or -errno; before the switch
 * nothing has changed. */
static int commit_files(struct keystore_txn *txn, const struct ks_view *want)
{
	char **changed = xzalloc(sizeof(*changed) * (txn->n + 1));
	size_t n = 0, i;
	int r;

	for (i = 0; i < txn->n; i++)
		if (txn->ops[i].data)
			changed[n++] = txn->ops[i].alias;
	r = ksf_commit(txn->ks, want, changed, n);
	free(changed);
	return r;
}

/* Step 1: the keyring aside. *out_refused set when the keyring refused and fallback is on. */
static int prepare_keyring(struct keystore_txn *txn, const struct ks_view *want,
			   key_serial_t *out_staging, int *out_refused)
{
	struct keystore *ks = txn->ks;
	char **drop = xzalloc(sizeof(*drop) * (txn->n + 1));
	size_t n_drop = 0, i;
	int r;

	*out_staging = -1;
	*out_refused = 0;
	for (i = 0; i < txn->n && !keystore_alias_in_keyring(txn->ops[i].alias); i++)
		;
	/* Off, or a change of file-only items (est-events): the keyring is not touched. */
	if (!ks->keyring_on || i == txn->n) {
		free(drop);
		return 0;
	}
	for (i = 0; i < txn->n; i++)
		if (!txn->ops[i].data)
			drop[n_drop++] = txn->ops[i].alias;
	r = ksk_prepare(ks, want, drop, n_drop, out_staging, NULL);
	free(drop);
	if (r == 0 || !keystore_keyring_unavailable(r))
		return r;
	if (!ks->kc->fallback) {
		log_err("keystore %s: the kernel keyring refused the change (%s; fallback = "
			"false): nothing changed",
			ks->kc->name, strerror(-r));
		return r;
	}
	*out_refused = r;
	return 0;
}

int keystore_txn_commit(struct keystore_txn *txn)
{
	struct keystore *ks = txn->ks;
	struct ks_view view = {NULL, 0};
	key_serial_t staging = -1;
	int r, refused = 0;

	if (ks->mode == KEYSTORE_READ)
		return -EROFS;
	r = ks_read_view(ks, &view);
	if (r < 0)
		goto out;
	apply_ops(txn, &view);
	if (txn->n == 0)
		goto out; /* nothing changes */
	r = prepare_keyring(txn, &view, &staging, &refused);
	if (r == 0)
		r = commit_files(txn, &view);
	if (r < 0) {
		ksk_discard(staging);
		goto out;
	}
	if (refused) {
		ks_refused(ks, refused, true);
		ksk_drop_owned(ks);
	} else if (staging >= 0 && ksk_switch(ks, staging) < 0) {
		log_warn("keystore %s: the keyring was not updated: `est-enroll load` or the next "
			 "pass restores it from %s",
			 ks->kc->name, ks->kc->path);
	}
out:
	ks_view_clear(&view);
	txn_clear(txn);
	return r;
}

int keystore_load(struct keystore *ks, unsigned int *out_restored)
{
	struct ks_view view = {NULL, 0};
	key_serial_t staging = -1;
	unsigned int changed = 0;
	int r;

	if (out_restored)
		*out_restored = 0;
	if (!ks->keyring_on)
		return 0; /* a file store (or a fallback) is its own persistent copy */
	r = ks_read_view(ks, &view);
	if (r == 0)
		r = ksk_prepare(ks, &view, NULL, 0, &staging, &changed);
	if (r == 0 && staging >= 0)
		r = ksk_switch(ks, staging);
	if (r < 0 && keystore_keyring_unavailable(r) && ks->kc->fallback) {
		/* As a refused commit: the files hold the store, the keyring no stale copy. */
		ks_refused(ks, r, true);
		ksk_drop_owned(ks);
		r = 0;
		changed = 0;
	}
	if (r == 0 && out_restored)
		*out_restored = changed;
	ks_view_clear(&view);
	return r;
}

static int commit_one(struct keystore_txn *txn, int r)
{
	if (r == 0)
		r = keystore_txn_commit(txn);
	keystore_txn_free(txn);
	return r;
}

int keystore_put(struct keystore *ks, const char *alias, const void *data, size_t len)
{
	struct keystore_txn *txn = keystore_txn_new(ks);

	return commit_one(txn, keystore_txn_put(txn, alias, data, len));
}

int keystore_remove(struct keystore *ks, const char *alias)
{
	struct keystore_txn *txn = keystore_txn_new(ks);

	return commit_one(txn, keystore_txn_remove(txn, alias));
}

int keystore_replace_set(struct keystore *ks, const char *prefix, const char *const *items,
			 const size_t *lens, size_t n)
{
	struct keystore_txn *txn = keystore_txn_new(ks);

	return commit_one(txn, keystore_txn_replace_set(txn, prefix, items, lens, n));
}
