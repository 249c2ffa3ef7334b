/*
 * cron.h - five-field cron expressions (UTC), as Vixie cron reads them.
 *
 *   minute hour day-of-month month day-of-week
 *   "*", lists "1,15", ranges "1-5", steps "*\/15", "10-50/20", "5/10" (= 5-max/10),
 *   month names JAN..DEC, weekday names SUN..SAT, weekday 0 and 7 both Sunday.
 *
 * Day rule (POSIX/Vixie): when both day-of-month and day-of-week are
 * restricted (neither is "*"), a day matches if EITHER matches; when one of
 * them is "*", only the other decides. As in Vixie cron, a field starting with
 * '*' ("*\/2" too) counts as "*" for this rule.
 */
#ifndef STRATA_INGEST_CRON_H
#define STRATA_INGEST_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct cron_expr {
    uint64_t minutes; /* bit m, 0..59 */
    uint32_t hours;   /* bit h, 0..23 */
    uint32_t mdays;   /* bit d, 1..31 */
    uint16_t months;  /* bit m, 1..12 */
    uint8_t wdays;    /* bit w, 0..6 (0 = Sunday) */
    bool mday_star, wday_star;
} cron_expr;

/* INVALID_ARGUMENT naming the field and the problem ("cron: day-of-week: 8 is
 * out of range 0-7"). */
int cron_parse(slice text, cron_expr *out, strata_err *err);

/* Whether the minute holding t_us (µs since the epoch, UTC) matches, by the
 * day rule above. */
bool cron_matches(const cron_expr *c, int64_t t_us);

/* The first minute strictly after `after_us` (µs since the epoch, UTC) that
 * the expression matches, in µs. -1 when it never matches within 28 years
 * (e.g. "0 0 30 2 *"): the caller should refuse such a schedule. */
int64_t cron_next(const cron_expr *c, int64_t after_us);

#endif
