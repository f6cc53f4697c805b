/* SPDX-License-Identifier: MIT */
/* Inside the keystore: the ops table both backends fill, and what they share. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <keyutils.h>

#include "config.h"
#include "keystore.h"

struct keystore_ops {
	int (*put)(struct keystore *ks, const char *alias, const void *data, size_t len);
	int (*get)(struct keystore *ks, const char *alias, char **out_data, size_t *out_len);
	int (*remove)(struct keystore *ks, const char *alias);
	int (*list)(struct keystore *ks, char ***out_aliases, size_t *out_n);
};

struct keystore {
	const struct keystore_conf *kc;
	const struct keystore_ops *ops;
	key_serial_t keyring;	/* keyring backend: the named keyring */
	bool fell_back;
	char location[512];
};

extern const struct keystore_ops keystore_file_ops;
extern const struct keystore_ops keystore_keyring_ops;

/* Creates the file store's directory if needed. 0 or -errno. */
int keystore_file_open(struct keystore *ks);
/* Finds or creates the named keyring in root's user keyring. 0 or -errno. */
int keystore_keyring_open(struct keystore *ks);
/* Rewrites RUNTIME_DIR/NAME.keys from the keyring's content. 0 or -errno. */
int keystore_keyring_publish(struct keystore *ks);
/* Sorts an alias array in place. */
void keystore_sort(char **aliases, size_t n);
