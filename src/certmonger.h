/* SPDX-License-Identifier: MIT */
/* `certmonger-helper`: est-enroll as a CA helper of certmonger (its doc/submit.txt, helpers.txt).
 */
#pragma once

/*
 * Does what CERTMONGER_OPERATION asks (SUBMIT, POLL, IDENTIFY, FETCH-ROOTS) with the
 * configuration in config_path, writing certmonger's answer on stdout. Returns certmonger's exit
 * status (0 issued, 1/5 wait, 2 rejected, 3 unreachable, 4 under-configured, 6 unsupported), not
 * one of this tool's: the caller exits with it as it is.
 */
int certmonger_helper(const char *config_path);
