/* SPDX-License-Identifier: MIT */
/* `import`: a PEM from a file or stdin, checked, put into the store as one alias. */
#pragma once

#include "config.h"

/*
 * Puts the PEM of file (NULL or "-": stdin) into the store as alias, in one committed transaction
 * under the store's lock: into tls_client_keystore for tls_client_alias (which must be a key and
 * its certificate), else into the [est] keystore. A key and certificates must match.
 * 0; -EINVAL for an est-* alias or unusable content (nothing stored); another -errno.
 */
int import_alias(const struct config *cfg, const char *alias, const char *file);
