/* log.c - stderr logger. One fprintf per line keeps lines whole across threads. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/timeutil.h"

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level level)
{
    min_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < min_level)
        return;
    char ts[40];
    time_format_rfc3339(time_now_us(), ts, sizeof ts);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s %s\n", ts, names[level], msg);
}

void strata_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "ASSERTION FAILED: %s at %s:%d\n", expr, file, line);
    fflush(stderr);
    abort();
}
