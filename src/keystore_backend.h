/* SPDX-License-Identifier: MIT */
/* Inside the keystore: the ops table both backends fill, and the state they share. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <keyutils.h>

#include "config.h"
#include "keystore.h"

/*
 * One backend. keystore.c validates aliases and lengths, writes the mirror first, and calls
 * changed() once after every change; the backends only store.
 */
struct keystore_ops {
	const char *name; /* what keystore_backend() reports */
	size_t max_len;	  /* largest item the backend holds */
	int (*put)(struct keystore *ks, const char *alias, const void *data, size_t len);
	int (*get)(struct keystore *ks, const char *alias, char **out_data, size_t *out_len);
	int (*remove)(struct keystore *ks, const char *alias);
	int (*list)(struct keystore *ks, char ***out_aliases, size_t *out_n);
	/* Makes the store equal to its persistent copy; NULL when it is its own copy. */
	int (*load)(struct keystore *ks);
	/* Publishes the store after a change (the .keys serial list); NULL for nothing. */
	int (*changed)(struct keystore *ks);
};

struct keystore {
	const struct keystore_conf *kc;
	const struct keystore_ops *ops;
	const struct keystore_ops *mirror; /* file copy of a keyring store, else NULL */
	key_serial_t keyring;		   /* keyring backend: the named keyring */
	bool fell_back;
	char location[PATH_MAX + 64];
};

extern const struct keystore_ops keystore_file_ops;
extern const struct keystore_ops keystore_keyring_ops;

/* Creates the store's directory (kc->path) if needed. Returns 0 or -errno. */
int keystore_file_open(struct keystore *ks);
/* Finds or creates the named keyring in root's user keyring, sets ks->keyring. 0 or -errno. */
int keystore_keyring_open(struct keystore *ks);

/* [A-Za-z0-9._-]{1,200}, not starting with '.'. */
bool keystore_alias_valid(const char *alias);
/* Frees n aliases and the array; NULL is a no-op. */
void keystore_free_list(char **aliases, size_t n);
/* Sorts n aliases in place. */
void keystore_sort(char **aliases, size_t n);
