/* SPDX-License-Identifier: MIT */
/* Where keys and certificates live: one ops table, kernel keyring and file backends. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define KS_ALIAS_CACERTS_PREFIX "est-cacerts_"
#define KS_ALIAS_REQUEST "est-request-key-pair"
#define KS_ALIAS_ENROLLED "est-enrolled-key-pair"
#define KS_ALIAS_STATE "est-state"

struct keystore;

/*
 * Opens the store described by kc (creating the named keyring or the directory as needed).
 * For a keyring store whose keyring is unavailable (ENOSYS, EPERM, EACCES, EDQUOT) and
 * kc->fallback, opens the file store at kc->path instead and warns once.
 * Returns 0 or -errno; caller frees with keystore_free().
 */
int keystore_open(const struct keystore_conf *kc, struct keystore **out_ks);
void keystore_free(struct keystore *ks);

/* Creates or replaces alias (keyring: keyctl_update when it exists). Returns 0 or -errno. */
int keystore_put(struct keystore *ks, const char *alias, const void *data, size_t len);
/* Reads alias into a NUL-terminated buffer; -ENOKEY when absent. Caller wipe_free()s. */
int keystore_get(struct keystore *ks, const char *alias, char **out_data, size_t *out_len);
/* Removes alias; 0 also when it was absent. */
int keystore_remove(struct keystore *ks, const char *alias);
/* Sorted list of aliases; caller frees each and the array. */
int keystore_list(struct keystore *ks, char ***out_aliases, size_t *out_n);
/*
 * Replaces the set PREFIX0..PREFIX(n-1) with items (each PEM) and removes any higher index,
 * so the set is never left half empty. Returns 0 or -errno.
 */
int keystore_replace_set(struct keystore *ks, const char *prefix, const char *const *items,
			 const size_t *lens, size_t n);
/* keyring store: recreate every key from the persistent file copy. Returns 0 or -errno. */
int keystore_load(struct keystore *ks);

/* "keyring" or "file": the backend actually in use (after any fallback). */
const char *keystore_backend(const struct keystore *ks);
/* True when a keyring store fell back to files. */
bool keystore_fell_back(const struct keystore *ks);
/* The keystore's name (the [keystore NAME] section). */
const char *keystore_name(const struct keystore *ks);
/* Where a consumer finds it: "keyring est:NAME (serial N)" or the directory. Static buffer inside
 * ks. */
const char *keystore_location(const struct keystore *ks);

/* Runtime directory for serial lists and locks: $RUNTIME_DIRECTORY or RUNSTATEDIR/est-enroll. */
const char *keystore_runtime_dir(void);
