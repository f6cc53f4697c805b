/* SPDX-License-Identifier: MIT */
/* Unit tests for enroll.c: when a certificate is due, short-lived certificates included. */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "enroll.h"
#include "tap.h"

#define DAY (24 * 3600)

static void test_due_time(void)
{
	struct config cfg;
	time_t nb = 1700000000, na;

	memset(&cfg, 0, sizeof(cfg));
	cfg.expiration_check = 30 * DAY;
	na = nb + 365 * DAY;
	ok(enroll_due_time(&cfg, nb, na) == na - 30 * DAY,
	   "a year-long certificate is due expiration_check before its end");
	na = nb + 30 * DAY + 1;
	ok(enroll_due_time(&cfg, nb, na) == na - 30 * DAY,
	   "a certificate a second longer than expiration_check: the usual rule");
	na = nb + 7 * DAY;
	ok(enroll_due_time(&cfg, nb, na) == na - 7 * DAY / ENROLL_SHORT_LIVED_DIVISOR,
	   "a 7-day certificate under 30d is due when a third of its life is left");
	ok(enroll_due_time(&cfg, nb, na) > nb,
	   "... so it is not renewed on every pass right after issuance");
	na = nb + 30 * DAY;
	ok(enroll_due_time(&cfg, nb, na) == na - 10 * DAY,
	   "a lifetime equal to expiration_check counts as short-lived");
	cfg.expiration_check_pct = 50;
	na = nb + 7 * DAY;
	ok(enroll_due_time(&cfg, nb, na) == na - 7 * DAY / 2,
	   "a percentage applies to any lifetime");
}

static void test_jitter(void)
{
	uint64_t lo = UINT64_MAX, hi = 0, v, r;
	unsigned int below = 0, buckets[5] = {0}, i;
	bool spread = true;

	for (r = 0; r < 100000; r++) {
		v = enroll_jittered_ms(60, r * 2654435761u);
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		below += v < 60000;
		buckets[(v - 60000) * 5 / 30001]++;
	}
	ok(below == 0 && lo == 60000, "jitter: never under the wait (a Retry-After is a floor)");
	ok(hi <= 90000 && hi > 89900, "jitter: up to half the wait on top (max %llu ms)",
	   (unsigned long long)hi);
	for (i = 0; i < 5; i++)
		spread &= buckets[i] > 15000 && buckets[i] < 25000;
	ok(spread, "jitter: spread evenly over the 30 s");
	ok(enroll_jittered_ms(1, 7) == 1007, "jitter: millisecond grain under 10 s too");
	ok(enroll_jittered_ms(0, 12345) == 0, "jitter: no wait stays none");
}

int main(void)
{
	test_jitter();
	test_due_time();
	return tap_done();
}
