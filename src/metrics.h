/* SPDX-License-Identifier: MIT */
/* The metrics file: Prometheus text format for node_exporter's textfile collector. */
#pragma once

#include "config.h"

/*
 * After a pass (run, enroll, renew, cacerts) that exited exit_code: replaces cfg->metrics (when
 * set) with the series of cfg's keystore, the pass's among them. 0 or -errno, logged as a
 * warning: a metrics file never changes an exit code.
 */
int metrics_after_pass(const struct config *cfg, int exit_code);
/* After load: the same, with what the store holds read again and what passes said carried
 * over from the file unchanged. */
int metrics_after_load(const struct config *cfg);
