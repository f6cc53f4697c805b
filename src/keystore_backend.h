/* SPDX-License-Identifier: MIT */
/* Inside the keystore: the state the front, the commit and both backends share. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keyutils.h>

#include "config.h"
#include "keystore.h"

/* The user key type holds at most this much (security/keys/user_defined.c). */
#define KS_KEYRING_ITEM_MAX 32767
#define KS_FILE_ITEM_MAX (1u << 20)

/* One item of a store: alias and payload (NUL-terminated, possibly secret). */
struct ks_item {
	char *alias;
	char *data;
	size_t len;
};

/* A whole store as a sorted array of items. */
struct ks_view {
	struct ks_item *items;
	size_t n;
};

/* An interrupted commit found at open: what it puts and removes. put_len and put_sum: the
 * length and ksf_sum() of each put's content (NULL in a journal of format 1, which had none). */
struct ks_journal {
	char **put;
	size_t n_put;
	char **del;
	size_t n_del;
	size_t *put_len;
	uint64_t *put_sum;
};

struct keystore {
	const struct keystore_conf *kc;
	enum keystore_mode mode;
	bool keyring_on;	/* a keyring store with a usable keyring */
	bool fell_back;		/* a keyring store storing in files only */
	key_serial_t keyring;	/* the named keyring, -1 when it does not exist (yet) */
	int lock_fd;		/* flock'ed store directory, -1 in READ mode */
	int data_fd;		/* the data directory PATH/..data pointed to when opened, or -1 */
	struct ks_journal *jnl; /* READ mode: an interrupted commit, overlaid on reads */
	char location[PATH_MAX + 64];
};

/* [A-Za-z0-9._-]{1,200}, not starting with '.'. */
bool keystore_alias_valid(const char *alias);
void keystore_free_list(char **aliases, size_t n);
void keystore_sort(char **aliases, size_t n);
bool keystore_keyring_unavailable(int r);
/* Frees (wiping) the items of a view; NULL-safe. */
void ks_view_clear(struct ks_view *v);
/* The item of alias in a sorted view, or NULL. */
const struct ks_item *ks_view_find(const struct ks_view *v, const char *alias);
/* The committed file copy (journal overlaid in READ mode) as a view. 0 or -errno. */
int ks_read_view(struct keystore *ks, struct ks_view *out_v);
/* Finishes an interrupted commit from its journal, or discards staged copies (keystore_txn.c). */
int ks_recover(struct keystore *ks);
/* Logs that the keyring is unavailable (at open) or refused a change (once per process) and
 * switches ks to the file copy alone. */
void ks_refused(struct keystore *ks, int r, bool at_write);

/* ---- file copy (keystore_file.c) ---- */
/* Creates (write modes) or only checks (READ) the directory. -ENOENT in READ when absent. */
int ksf_open(struct keystore *ks, bool create);
/* Opens the data directory PATH/..data names as ks->data_fd, once for all reads of this opening
 * (or after a commit: the new one). -ENOENT: none (an empty store, or the old layout). */
int ksf_data_open(struct keystore *ks);
/* ALIAS.pem of the data directory (the old layout: PATH/ALIAS.pem). */
int ksf_read(const struct keystore *ks, const char *alias, char **out_data, size_t *out_len);
/* Aliases of the data directory (the old layout: PATH/ALIAS.pem), sorted; an absent directory
 * is an empty store. */
int ksf_list(const struct keystore *ks, char ***out_aliases, size_t *out_n);
/*
 * The commit of the file copy (keystore_txn.c has the order): want is the whole new store,
 * changed the aliases whose content is new (the others are hard links of the current data
 * directory's files). A new data directory, then the switch of PATH/..data to it, then the
 * stable names and the old directory tidied. 0 once the switch is durable, or -errno with the
 * store unchanged. ks->data_fd is the new data directory afterwards.
 */
int ksf_commit(struct keystore *ks, const struct ks_view *want, char *const *changed,
	       size_t n_changed);
/* Recovery under the lock: data directories other than the current one and a half-made switch
 * removed, the stable names PATH/ALIAS.pem made to be exactly the current items' symlinks. */
int ksf_tidy(struct keystore *ks);
/* The old layout's journal (PATH/.est-commit, staged copies PATH/.ALIAS.new): only read, to
 * finish or discard an interrupted commit of an older version before the store is converted. */
/* The staged copy; in READ mode -ENOKEY when it is not the content ks->jnl committed. */
int ksf_read_staged(const struct keystore *ks, const char *alias, char **out_data, size_t *out_len);
/* Recovery: installs put i of j when its staged copy holds what j committed; else 0 (the
 * journal was checked at read: PATH/ALIAS.pem holds it already). */
int ksf_journal_install(const struct keystore *ks, const struct ks_journal *j, size_t i);
/* Removes PATH/ALIAS.pem; 0 when absent. Not synced: ksf_sync() after a batch. */
int ksf_delete(const struct keystore *ks, const char *alias);
/* The checksum of an item's content the journal records (64-bit FNV-1a). */
uint64_t ksf_sum(const void *data, size_t len);
/* fsync of the directory. */
int ksf_sync(const struct keystore *ks);
/* Removes leftovers of an interrupted write: temporary files and staged copies. */
void ksf_discard_staged(const struct keystore *ks);
/* -ENOKEY: none; -EBADMSG: not one a commit wrote, or one whose commit point never became
 * durable (a put neither staged nor installed with the content it records). */
int ksf_journal_read(const struct keystore *ks, struct ks_journal **out_j);
/* Unlinks the journal; not synced (keystore_txn.c says why that is enough). */
int ksf_journal_remove(const struct keystore *ks);
void ksf_journal_free(struct ks_journal *j);
/* flock of the directory; wait or -EBUSY. */
int ksf_lock(struct keystore *ks, bool wait);
/* Under the lock: brings the directory and its item files to the configured group and mode
 * (and owner: root or the running user), changing only what differs. 0 or -errno (-EINVAL:
 * the group cannot be given, a setup to fix). */
int ksf_conform(const struct keystore *ks);
/* What keystore_access() says. */
int ksf_access(const struct keystore *ks, struct keystore_access *out);

/* ---- kernel keyring (keystore_keyring.c) ---- */
/* Finds (or with create makes) the named keyring in root's user keyring: ks->keyring, -1 when
 * absent. 0 or -errno (-ENOSYS etc. when the kernel keyring is unavailable). */
int ksk_open(struct keystore *ks, bool create);
/* The keyring's user keys as a view (payloads read). */
int ksk_read_view(struct keystore *ks, struct ks_view *out_v);
/*
 * Builds, aside (in the process keyring, so it dies with us), a keyring holding exactly want
 * plus the keys of others (not est-*, not in drop) the live one holds; unchanged keys are
 * linked, not copied.
 * *out_staging is -1 when the live keyring holds that already. *out_changed (may be NULL): how
 * many keys of want it will (re)write. 0 or -errno (e.g. -EDQUOT): the live keyring is untouched
 * either way.
 */
int ksk_prepare(struct keystore *ks, const struct ks_view *want, char *const *drop, size_t n_drop,
		key_serial_t *out_staging, unsigned int *out_changed);
/* Links staging over the live keyring of the same name, in one step; publishes the serials. */
int ksk_switch(struct keystore *ks, key_serial_t staging);
/* Drops a prepared keyring; -1 is a no-op. */
void ksk_discard(key_serial_t staging);
/* Takes the tool's own keys out of the keyring in one step, after the keyring refused the new
 * set: a same-named keyring of others' keys only replaces it, or it leaves the user keyring. */
void ksk_drop_owned(struct keystore *ks);
/* Rewrites RUNTIME_DIR/NAME.keys; a failure is only a warning. */
void ksk_publish(struct keystore *ks);
