/* SPDX-License-Identifier: MIT */
/* One pass: decide bootstrap, enroll, renew, CA refresh or nothing, and do it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

enum enroll_action {
	ENROLL_ACTION_RUN,
	ENROLL_ACTION_ENROLL,
	ENROLL_ACTION_RENEW,
	ENROLL_ACTION_CACERTS,
};

/* What a pass changed in the store, for hooks and exports. */
enum enroll_event {
	ENROLL_EVENT_NONE,
	ENROLL_EVENT_CACERTS,  /* CA certificates replaced, the pair kept */
	ENROLL_EVENT_ENROLLED, /* a new pair from /simpleenroll or /serverkeygen */
	ENROLL_EVENT_RENEWED,  /* a new pair from /simplereenroll */
};

/* "enrolled", "renewed", "cacerts", or NULL for none: EST_ENROLL_EVENT of the hooks. */
const char *enroll_event_name(enum enroll_event e);
/* The event of such a name (a line of est-events), or ENROLL_EVENT_NONE. */
enum enroll_event enroll_event_from_name(const char *name, size_t len);

/*
 * Runs one pass under the keystore's lock. once: one attempt, no in-process retry.
 * *out_pending (may be NULL): the store records changes the hooks have not heard of
 * (est-events: this pass's, or an earlier one's that died after its commit).
 * Returns 0, -EBUSY (run: lock held), -EAGAIN/-ETIMEDOUT (temporary), -EKEYREJECTED (auth),
 * -EINVAL (bad setup), or another -errno (failed).
 */
int enroll_pass(const struct config *cfg, enum enroll_action action, bool once, bool *out_pending);
/*
 * With a PKCS#11 key_storage, once the exports are written and the hooks told of a new pair:
 * destroys the token objects of the keys the store let go of (pass_hw.c), under the lock, when
 * the record says it owes that (sweep=1). Consumers switch to the new reference first. A store
 * busy or a failure leaves it to the next pass. Binds nothing otherwise.
 */
void enroll_sweep(const struct config *cfg);
/* A certificate living no longer than expiration_check is renewed when 1/this of its life is
 * left. */
#define ENROLL_SHORT_LIVED_DIVISOR 3
/* When cert is due for renewal by expiration_check (a duration or a percentage of its lifetime). */
time_t enroll_due_time(const struct config *cfg, time_t not_before, time_t not_after);
/* The wait before a retry within a pass, in ms: wait_s (a Retry-After is a floor) plus
 * random's share of 0-50% of it. */
uint64_t enroll_jittered_ms(uint64_t wait_s, uint64_t random);
