/*
 * log.h - leveled logging to stderr and an always-on assert.
 *
 * Lines are "2024-01-02T03:04:05.123456Z LEVEL message"; the integration tests
 * scan stderr, so sanitizer reports and our own lines stay distinguishable.
 */
#ifndef STRATA_BASE_LOG_H
#define STRATA_BASE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void strata_assert_fail(const char *expr, const char *file, int line);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Always on, also in release builds: logs file and line, then aborts. */
#define STRATA_ASSERT(e) ((e) ? (void)0 : strata_assert_fail(#e, __FILE__, __LINE__))

#endif
