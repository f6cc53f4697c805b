/* SPDX-License-Identifier: MIT */
/* [export NAME] sections: the enrolled key, its certificate chain and the CA certificates as files.
 */
#pragma once

#include "config.h"

/*
 * Writes each file of every [export NAME] section that is missing or differs from its store
 * (content, mode, owner, group), atomically. 0, or the first -errno (each failure logged).
 */
int export_all(const struct config *cfg);
