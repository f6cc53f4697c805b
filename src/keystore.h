/* SPDX-License-Identifier: MIT */
/* Where keys and certificates live: a file copy that is the truth, the kernel keyring beside it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

#define KS_ALIAS_OWNED_PREFIX "est-"
#define KS_ALIAS_CACERTS_PREFIX "est-cacerts_"
#define KS_ALIAS_REQUEST "est-request-key-pair"
#define KS_ALIAS_ENROLLED "est-enrolled-key-pair"
#define KS_ALIAS_STATE "est-state"
/* The changes committed that the hooks have not run for yet, a line each, oldest first. */
#define KS_ALIAS_EVENTS "est-events"

struct keystore;
struct keystore_txn;

enum keystore_mode {
	/* status, export, a client key pair: no lock, nothing created, an interrupted commit is
	 * read as committed (the journal is overlaid) but not finished. */
	KEYSTORE_READ,
	/* a forced command, load, import: waits for the store's lock, finishes or discards an
	 * interrupted commit. */
	KEYSTORE_WRITE,
	/* run: as WRITE, but -EBUSY at once when another pass holds the lock. */
	KEYSTORE_WRITE_TRY,
};

/*
 * Opens the store described by kc. A keyring store whose keyring is unavailable (ENOSYS, EPERM,
 * EACCES, EDQUOT) falls back to the file copy alone when kc->fallback, with one warning.
 * Returns 0, -EBUSY (KEYSTORE_WRITE_TRY, lock held) or -errno; caller keystore_free()s, which
 * also releases the lock.
 */
int keystore_open(const struct keystore_conf *kc, enum keystore_mode mode,
		  struct keystore **out_ks);
void keystore_free(struct keystore *ks);

/* Calls fn with PREFIX0, PREFIX1, ... (a set such as est-cacerts_N) while they exist, stopping
 * at fn's first non-zero return (returned). The number of items, or -errno. Not for secrets. */
int keystore_each_in_set(struct keystore *ks, const char *prefix,
			 int (*fn)(int index, const char *data, size_t len, void *ctx), void *ctx);
/* True when est-state records the SHA-256 of pair (pair_sha256) as the pair committed with it,
 * which was checked then: key and certificate match and chain to the CA certificates. */
bool keystore_pair_vouched(struct keystore *ks, const char *pair, size_t len);
/* The same against est-state's text already read. */
bool keystore_state_vouches(const char *state, const char *pair, size_t len);
/* Reads alias from the committed store into a NUL-terminated buffer; -ENOKEY when absent.
 * Caller wipe_free()s. */
int keystore_get(struct keystore *ks, const char *alias, char **out_data, size_t *out_len);
/* Sorted list of the store's aliases; caller frees each and the array. */
int keystore_list(struct keystore *ks, char ***out_aliases, size_t *out_n);

/* One-change transactions. Return 0 or -errno; on error the store is unchanged. */
int keystore_put(struct keystore *ks, const char *alias, const void *data, size_t len);
int keystore_remove(struct keystore *ks, const char *alias);
/* Replaces PREFIX0..PREFIX(n-1) with items (lens NULL: strlen) and removes higher indices. */
int keystore_replace_set(struct keystore *ks, const char *prefix, const char *const *items,
			 const size_t *lens, size_t n);

/* A transaction: changes are staged in memory and made visible together by commit. */
struct keystore_txn *keystore_txn_new(struct keystore *ks);
/* Frees the transaction, wiping staged data; NULL is a no-op. */
void keystore_txn_free(struct keystore_txn *txn);
/* Stage a put (data is copied) or a removal. -EINVAL for a bad alias or empty data, -E2BIG
 * for an item the store cannot hold. */
int keystore_txn_put(struct keystore_txn *txn, const char *alias, const void *data, size_t len);
int keystore_txn_remove(struct keystore_txn *txn, const char *alias);
int keystore_txn_replace_set(struct keystore_txn *txn, const char *prefix, const char *const *items,
			     const size_t *lens, size_t n);
/* True when nothing is staged. */
bool keystore_txn_empty(const struct keystore_txn *txn);
/* Makes every staged change visible as one unit (see keystore_txn.c). 0 or -errno; on error
 * the store holds what it held before. The transaction is emptied either way. */
int keystore_txn_commit(struct keystore_txn *txn);

/*
 * Makes the keyring equal to the file copy: missing or edited keys of the store are restored,
 * keys the file copy does not have are removed if the tool owns them (est-*), kept otherwise.
 * *out_restored (may be NULL): how many keys were put back. 0 or -errno.
 */
int keystore_load(struct keystore *ks, unsigned int *out_restored);
/*
 * Compares the keyring with the file copy without changing either: a newly allocated
 * comma-separated list of the aliases that differ ("" when they agree, NULL for a file store).
 * Caller frees.
 */
char *keystore_disagreement(struct keystore *ks);

/* Owner, group and mode of the file copy: its directory and its item files (PATH/ALIAS.pem). */
struct keystore_access {
	uid_t uid; /* the directory's */
	gid_t gid;
	mode_t mode;
	size_t files;	  /* how many item files */
	bool files_alike; /* all with the owner, group and mode of the first: */
	uid_t file_uid;
	gid_t file_gid;
	mode_t file_mode;
	bool as_configured; /* the directory and every file as the next pass or load leaves them: */
	gid_t want_gid;
	mode_t want_mode; /* the directory's */
	mode_t want_file_mode;
};

/* Reads the file copy's access into *out, changing nothing. 0, -ENOENT (no directory yet) or
 * -errno. */
int keystore_access(struct keystore *ks, struct keystore_access *out);

/* "keyring" or "file": the backend actually in use (after any fallback). */
const char *keystore_backend(const struct keystore *ks);
/* True when a keyring store fell back to files: at open, after the keyring refused a write, or
 * (read mode) when the keyring holds none of the tool's keys the file copy holds. */
bool keystore_fell_back(struct keystore *ks);
/* The keystore's name (the [keystore NAME] section). */
const char *keystore_name(const struct keystore *ks);
/* Where a consumer finds it: "keyring est:NAME (serial N)" or the directory. Static buffer inside
 * ks. */
const char *keystore_location(struct keystore *ks);
/* The named keyring's serial while the keyring backend is in use (not after a fallback), else
 * -1: EST_ENROLL_KEYRING of the hooks. */
int keystore_keyring_serial(const struct keystore *ks);
/* The serial of alias's key in the named keyring, or -ENOKEY (also for a file store). */
int keystore_key_serial(struct keystore *ks, const char *alias);
/* True when alias is one of the tool's own (est-*), which import refuses. */
bool keystore_alias_owned(const char *alias);
/* False for the items only the file copy holds (est-events: the tool's own bookkeeping, of no
 * use to consumers, changed without touching the keyring and its serial). */
bool keystore_alias_in_keyring(const char *alias);

/* Runtime directory for the serial lists: $RUNTIME_DIRECTORY or RUNSTATEDIR/est-enroll. */
const char *keystore_runtime_dir(void);
