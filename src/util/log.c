/*
 * log.c - the process log: one line per call on stderr, prefixed with the
 * time, program name and pid, so a daemon run in the foreground under a
 * supervisor (systemd, a test harness) keeps ordered, greppable logs.
 *
 * A single write() per line keeps lines whole when several processes share
 * the stream.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

static enum log_level min_level = LOG_INFO;
static const char *program = "mailerd";

void log_set_level(enum log_level min)
{
	min_level = min;
}

void log_set_program(const char *name)
{
	program = name;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};
	char line[4096];
	char stamp[40];
	size_t n;
	va_list ap;
	int r;

	if (lvl < min_level)
		return;
	util_iso8601(util_now_ms(), stamp, sizeof(stamp));
	r = snprintf(line, sizeof(line), "%s %s[%d]: ", stamp, program, (int)getpid());
	n = r > 0 ? (size_t)r : 0;
	if (lvl != LOG_INFO && n < sizeof(line)) {
		r = snprintf(line + n, sizeof(line) - n, "%s: ", names[lvl]);
		n += r > 0 ? (size_t)r : 0;
	}
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		n += r > 0 ? (size_t)r : 0;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* Nothing sensible to do if stderr is gone. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
