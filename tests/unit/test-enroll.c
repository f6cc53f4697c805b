/* SPDX-License-Identifier: MIT */
/* Unit tests for enroll.c: when a certificate is due, short-lived certificates included. */
#include "autoconf.h"

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

int main(void)
{
	test_due_time();
	return tap_done();
}
