/* SPDX-License-Identifier: MIT */
/* Secrets out of log lines: the user information of URLs and given strings, masked. */
#pragma once

/*
 * text made fit for a log line: the user information of every URL in it as three stars (up
 * to the last @ before the path, a blank or a quote) and every occurrence of each of secrets
 * (NULL-terminated, may be NULL) as "***". Caller wipe_str()s.
 */
char *redact_text(const char *text, char *const *secrets);
/* The user information of url (scheme://userinfo@host...), or NULL. Caller wipe_str()s. */
char *url_userinfo(const char *url);
/* s with its %XX decoded. Caller wipe_str()s. */
char *percent_decode(const char *s);
