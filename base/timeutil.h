/*
 * timeutil.h - time as int64 microseconds since the Unix epoch, UTC.
 *
 * Every timestamp Strata stores or compares is in this form; RFC 3339 is only
 * the JSON spelling.
 */
#ifndef STRATA_BASE_TIMEUTIL_H
#define STRATA_BASE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define TIME_US_PER_SEC INT64_C(1000000)
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the RFC 3339 range. */
#define TIME_MIN_US INT64_C(-62135596800000000)
#define TIME_MAX_US INT64_C(253402300799999999)
#define TIME_RFC3339_MAX 40 /* bytes needed by time_format_rfc3339, NUL included */

int64_t time_now_us(void);
/* Monotonic clock in nanoseconds, for latency measurements. */
uint64_t time_mono_ns(void);

/*
 * Parse RFC 3339 ("2024-01-02T03:04:05.123456Z", offsets like +05:30 allowed,
 * fractions beyond microseconds truncated). Returns 0, or -1 on any malformed or
 * out-of-range input (Feb 30, hour 24, missing zone, trailing junk).
 */
int time_parse_rfc3339(slice s, int64_t *out_us);
/* Format as "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" into out (>= TIME_RFC3339_MAX bytes);
 * the fraction is written only when non-zero. Returns the length. */
size_t time_format_rfc3339(int64_t us, char *out, size_t cap);
void buf_put_rfc3339(buf *b, int64_t us);

/* A UTC calendar breakdown (proleptic Gregorian). weekday: 0 = Sunday. */
typedef struct time_civil {
    int64_t year;
    unsigned month, day, hour, minute, second, weekday;
} time_civil;
void time_to_civil(int64_t us, time_civil *out);
/* Microseconds of a civil time (fields must be in range). */
int64_t time_from_civil(int64_t year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                        unsigned second);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
