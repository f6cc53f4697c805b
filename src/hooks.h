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

/*
 * Runs the hooks once for each change est-events records (in order), then takes those lines out
 * of it under the store's lock, leaving any a pass committed meanwhile. At least once: a crash
 * before that leaves them for the next command that takes the lock (run, load). Call it
 * without the lock held.
 */
void hooks_deliver(const struct config *cfg);
