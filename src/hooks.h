/* SPDX-License-Identifier: MIT */
/* Hooks: the executables of the hooks directory, run in name order after a pass changed the store.
 */
#pragma once

#include "config.h"
#include "enroll.h"

/*
 * Runs each executable regular file of cfg->hooks in name order, with EST_ENROLL_EVENT,
 * _KEYSTORE, _KEYRING and _SERIALS (keyring backend only) and _CONFIG; nothing for
 * ENROLL_EVENT_NONE. Call it after the pass released the store's lock. A hook that fails, is
 * killed or runs out of time is a warning, nothing more.
 */
void hooks_run(const struct config *cfg, enum enroll_event event);
