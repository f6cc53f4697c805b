/* SPDX-License-Identifier: MIT */
/* Logging to stderr, with journald priority prefixes when run by systemd. */
#pragma once

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARN = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
	LOG_LEVEL_TRACE = 8, /* -vv: the account of the connection, the TLS chain; journal <7> */
};

/* verbosity: -1 quiet (errors only), 0 default (warnings + info), 1 debug, 2+ trace. */
void log_init(int verbosity);
/* True when messages at level would be printed. */
int log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_LEVEL_TRACE, __VA_ARGS__)
