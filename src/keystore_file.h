/* SPDX-License-Identifier: MIT */
/* Private to keystore_file.c and keystore_file_data.c: names in the store directory, and the
 * helpers both use. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "keystore_backend.h"

#define SUFFIX ".pem"
#define STAGED ".new"
#define JOURNAL ".est-commit"
#define DATA "..data"
#define DATA_TMP "..data.tmp"
#define DATA_PREFIX "..data-"
#define LINK_TMP ".tmp.lnk" /* a stable name's replacement: a leftover (".tmp.") */
#define JOURNAL_MAGIC_1 "est-enroll commit 1\n" /* put lines without length and sum */
#define JOURNAL_MAGIC "est-enroll commit 2\n"

/* The store has a group (0640 items, 0750 directories). */
bool ksf_has_group(const struct keystore *ks);
/* What the items' and the directories' mode should be. */
mode_t ksf_item_mode(const struct keystore *ks);
mode_t ksf_want_dir_mode(const struct keystore *ks);
/* ALIAS.pem: a name whose access follows the configuration. */
bool ksf_is_item(const char *name);
/* Calls fn on each entry name of the directory dfd, or (dfd < 0) of the store directory; an
 * absent directory has none. ksf_each_entry: the store directory. */
int ksf_each_entry_in(const struct keystore *ks, int dfd,
		      int (*fn)(const struct keystore *ks, const char *name, void *ctx), void *ctx);
int ksf_each_entry(const struct keystore *ks,
		   int (*fn)(const struct keystore *ks, const char *name, void *ctx), void *ctx);
