/* SPDX-License-Identifier: MIT */
/* `status`: what is stored, for whom, until when, and when the next action is due. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

/* Prints the keystore's content as text or JSON to out. 0 or -errno (keystore unreadable). */
int status_print(const struct config *cfg, bool json, FILE *out);
