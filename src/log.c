/* SPDX-License-Identifier: MIT */
/* Logging to stderr, with journald priority prefixes when run by systemd. */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static int max_level = LOG_LEVEL_INFO;
static int journal;

void log_init(int verbosity)
{
	if (verbosity < 0)
		max_level = LOG_LEVEL_ERR;
	else if (verbosity == 0)
		max_level = LOG_LEVEL_INFO;
	else if (verbosity == 1)
		max_level = LOG_LEVEL_DEBUG;
	else
		max_level = LOG_LEVEL_TRACE;
	/* systemd sets JOURNAL_STREAM when stderr is connected to the journal. */
	journal = getenv("JOURNAL_STREAM") != NULL;
}

int log_enabled(enum log_level level)
{
	return (int)level <= max_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {
		[LOG_LEVEL_ERR] = "error: ",   [LOG_LEVEL_WARN] = "warning: ",
		[LOG_LEVEL_INFO] = "",	       [LOG_LEVEL_DEBUG] = "debug: ",
		[LOG_LEVEL_TRACE] = "trace: ",
	};
	va_list ap;

	if (!log_enabled(level))
		return;
	if (journal)
		fprintf(stderr, "<%d>", level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : (int)level);
	else
		fprintf(stderr, "est-enroll: %s", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
