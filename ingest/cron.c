/*
 * cron.c - parse five-field cron expressions into bitsets and find the next
 * matching minute by skipping whole months, days and hours that cannot match.
 */
#include "ingest/cron.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/timeutil.h"

typedef struct field_def {
    const char *name;
    unsigned lo, hi;
    const char *const *names; /* 3-letter names for lo.., or NULL */
} field_def;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const wday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_def fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, wday_names},
};

/* A number or (where the field has them) a name; -1 if neither. */
static int parse_value(const field_def *f, slice s, unsigned *out)
{
    if (s.n == 0)
        return -1;
    if (f->names && s.n == 3) {
        for (unsigned i = 0; f->names[i]; i++)
            if (strncasecmp(s.p, f->names[i], 3) == 0) {
                *out = f->lo + i;
                return 0;
            }
    }
    if (s.n > 3)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s.p[i] - '0');
    }
    *out = v;
    return 0;
}

static int field_err(strata_err *err, const field_def *f, slice part, const char *what)
{
    return err_set(err, STRATA_INVALID_ARGUMENT, "cron: %s: \"%.*s\" %s", f->name,
                   (int)(part.n > 40 ? 40 : part.n), part.p, what);
}

/* One comma-separated element: "*", "N", "A-B", with an optional "/STEP". */
static int parse_part(const field_def *f, slice part, uint64_t *bits, strata_err *err)
{
    unsigned lo = f->lo, hi = f->hi, step = 1;
    const char *slash = memchr(part.p, '/', part.n);
    slice range = slash ? (slice){part.p, (size_t)(slash - part.p)} : part;
    if (slash) {
        slice st = {slash + 1, (size_t)(part.p + part.n - slash - 1)};
        if (parse_value(&(field_def){f->name, 0, 0, NULL}, st, &step) || step == 0)
            return field_err(err, f, part, "has a bad step");
    }
    if (slice_eq_str(range, "*")) {
        /* full range */
    } else {
        const char *dash = memchr(range.p, '-', range.n);
        if (dash) {
            if (parse_value(f, (slice){range.p, (size_t)(dash - range.p)}, &lo) ||
                parse_value(f, (slice){dash + 1, (size_t)(range.p + range.n - dash - 1)}, &hi))
                return field_err(err, f, part, "is not a valid range");
        } else {
            if (parse_value(f, range, &lo))
                return field_err(err, f, part, "is not a number");
            /* "5/10" means 5 to the end in steps of 10; plain "5" is just 5. */
            hi = slash ? f->hi : lo;
        }
        if (lo < f->lo || hi > f->hi || lo > hi) {
            char why[64];
            snprintf(why, sizeof why, "is out of range %u-%u", f->lo, f->hi);
            return field_err(err, f, part, why);
        }
    }
    for (unsigned v = lo; v <= hi; v += step)
        *bits |= (uint64_t)1 << v;
    return 0;
}

int cron_parse(slice text, cron_expr *out, strata_err *err)
{
    memset(out, 0, sizeof *out);
    slice parts[5];
    size_t n = 0, i = 0;
    while (i < text.n) {
        while (i < text.n && (text.p[i] == ' ' || text.p[i] == '\t'))
            i++;
        if (i == text.n)
            break;
        size_t s = i;
        while (i < text.n && text.p[i] != ' ' && text.p[i] != '\t')
            i++;
        if (n == 5)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "cron: expected 5 fields (minute hour day-of-month month "
                           "day-of-week), got more");
        parts[n++] = (slice){text.p + s, i - s};
    }
    if (n != 5)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "cron: expected 5 fields (minute hour day-of-month month day-of-week), "
                       "got %zu",
                       n);
    uint64_t bits[5] = {0};
    for (int f = 0; f < 5; f++) {
        slice p = parts[f];
        size_t k = 0;
        while (k <= p.n) {
            const char *comma = memchr(p.p + k, ',', p.n - k);
            size_t end = comma ? (size_t)(comma - p.p) : p.n;
            slice el = {p.p + k, end - k};
            if (el.n == 0)
                return field_err(err, &fields[f], p, "has an empty list element");
            int rc = parse_part(&fields[f], el, &bits[f], err);
            if (rc)
                return rc;
            k = end + 1;
        }
    }
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    /* 7 is Sunday too. */
    out->wdays = (uint8_t)((bits[4] & 0x7F) | ((bits[4] >> 7) & 1));
    /* As in Vixie cron, a field that starts with '*' ("*", "*\/2") counts as
     * unrestricted for the day rule. */
    out->mday_star = parts[2].p[0] == '*';
    out->wday_star = parts[4].p[0] == '*';
    return 0;
}

static bool day_matches(const cron_expr *c, const time_civil *t)
{
    bool md = (c->mdays >> t->day) & 1;
    bool wd = (c->wdays >> t->weekday) & 1;
    if (c->mday_star && c->wday_star)
        return true;
    if (c->mday_star)
        return wd;
    if (c->wday_star)
        return md;
    return md || wd;
}

bool cron_matches(const cron_expr *c, int64_t t_us)
{
    time_civil tc;
    time_to_civil(t_us, &tc);
    return ((c->minutes >> tc.minute) & 1) && ((c->hours >> tc.hour) & 1) &&
           ((c->months >> tc.month) & 1) && day_matches(c, &tc);
}

static unsigned days_in(int64_t y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int64_t cron_next(const cron_expr *c, int64_t after_us)
{
    /* Start at the next whole minute after `after`. */
    int64_t minute_us = 60 * TIME_US_PER_SEC;
    int64_t t = after_us - ((after_us % minute_us) + minute_us) % minute_us + minute_us;
    time_civil tc;
    time_to_civil(t, &tc);
    int64_t y = tc.year;
    unsigned mo = tc.month, d = tc.day, h = tc.hour, mi = tc.minute;
    int64_t limit_year = y + 28; /* the calendar repeats every 28 years for these rules */
    while (y <= limit_year) {
        if (!((c->months >> mo) & 1)) {
            mo++, d = 1, h = 0, mi = 0;
            if (mo > 12)
                mo = 1, y++;
            continue;
        }
        if (d > days_in(y, mo)) {
            mo++, d = 1, h = 0, mi = 0;
            if (mo > 12)
                mo = 1, y++;
            continue;
        }
        time_civil day;
        time_to_civil(time_from_civil(y, mo, d, 0, 0, 0), &day);
        if (!day_matches(c, &day)) {
            d++, h = 0, mi = 0;
            continue;
        }
        if (!((c->hours >> h) & 1)) {
            h++, mi = 0;
            if (h > 23)
                d++, h = 0;
            continue;
        }
        while (mi < 60 && !((c->minutes >> mi) & 1))
            mi++;
        if (mi == 60) {
            h++, mi = 0;
            if (h > 23)
                d++, h = 0;
            continue;
        }
        return time_from_civil(y, mo, d, h, mi, 0);
    }
    return -1;
}
