/* test_cron.c - the cron parser and next-fire computation, as a table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "ingest/cron.h"

static int64_t T(const char *s)
{
    int64_t us = 0;
    assert_int_equal(time_parse_rfc3339(slice_of(s), &us), 0);
    return us;
}

typedef struct next_case {
    const char *expr;
    const char *after;
    const char *want; /* NULL: never */
} next_case;

static const next_case cases[] = {
    {"* * * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"},
    {"* * * * *", "2024-01-01T00:00:30.5Z", "2024-01-01T00:01:00Z"},
    {"*/15 * * * *", "2024-01-01T00:14:59Z", "2024-01-01T00:15:00Z"},
    {"*/15 * * * *", "2024-01-01T00:15:00Z", "2024-01-01T00:30:00Z"},
    {"0 * * * *", "2024-01-01T23:30:00Z", "2024-01-02T00:00:00Z"},
    {"30 2 * * *", "2024-01-01T02:30:00Z", "2024-01-02T02:30:00Z"},
    {"5/20 * * * *", "2024-01-01T00:06:00Z", "2024-01-01T00:25:00Z"},
    {"10-50/20 * * * *", "2024-01-01T00:31:00Z", "2024-01-01T00:50:00Z"},
    {"0 9-17/4 * * *", "2024-01-01T13:01:00Z", "2024-01-01T17:00:00Z"},
    {"0,30 8,20 * * *", "2024-01-01T08:31:00Z", "2024-01-01T20:00:00Z"},
    /* month/day edges */
    {"0 0 31 * *", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"},
    {"0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 1 jan *", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"},
    {"0 0 1 DEC *", "2024-12-01T00:00:01Z", "2025-12-01T00:00:00Z"},
    {"59 23 31 12 *", "2024-12-31T23:58:00Z", "2024-12-31T23:59:00Z"},
    {"0 0 30 2 *", "2024-01-01T00:00:00Z", NULL},
    /* day-of-week: 2024-01-01 was a Monday */
    {"0 0 * * 0", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"},
    {"0 0 * * 7", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"},
    {"0 0 * * sun", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"},
    {"0 0 * * MON-FRI", "2024-01-05T12:00:00Z", "2024-01-08T00:00:00Z"},
    {"0 0 * * 5-7", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"},
    /* both restricted: either matches (the 13th or a Friday) */
    {"0 0 13 * 5", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"},
    {"0 0 13 * 5", "2024-01-12T00:00:00Z", "2024-01-13T00:00:00Z"},
    /* dom restricted, dow "*": only dom */
    {"0 0 13 * *", "2024-01-01T00:00:00Z", "2024-01-13T00:00:00Z"},
    /* "*" prefix counts as unrestricted for the day rule (Vixie) */
    {"0 0 */2 * 1", "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z"},
    {"0 12 * * *", "1999-12-31T12:00:00Z", "2000-01-01T12:00:00Z"},
};

static void next_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cron_expr c;
        strata_err err = STRATA_ERR_INIT;
        if (cron_parse(slice_of(cases[i].expr), &c, &err))
            fail_msg("%s: %s", cases[i].expr, err.message);
        int64_t got = cron_next(&c, T(cases[i].after));
        if (!cases[i].want) {
            if (got != -1)
                fail_msg("%s after %s: expected never", cases[i].expr, cases[i].after);
            continue;
        }
        if (got != T(cases[i].want)) {
            char g[TIME_RFC3339_MAX];
            time_format_rfc3339(got, g, sizeof g);
            fail_msg("%s after %s: got %s, want %s", cases[i].expr, cases[i].after, g,
                     cases[i].want);
        }
    }
}

static void parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *expr, *want;
    } bad[] = {
        {"", "5 fields"},
        {"* * * *", "got 4"},
        {"* * * * * *", "more"},
        {"60 * * * *", "minute"},
        {"* 24 * * *", "hour"},
        {"* * 0 * *", "day-of-month"},
        {"* * 32 * *", "day-of-month"},
        {"* * * 13 *", "month"},
        {"* * * * 8", "day-of-week"},
        {"*/0 * * * *", "step"},
        {"5-1 * * * *", "range"},
        {"a * * * *", "number"},
        {"1,,2 * * * *", "empty"},
        {"* * * FOO *", "month"},
        {"-1 * * * *", "minute"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cron_expr c;
        strata_err err = STRATA_ERR_INIT;
        if (cron_parse(slice_of(bad[i].expr), &c, &err) != STRATA_INVALID_ARGUMENT)
            fail_msg("accepted \"%s\"", bad[i].expr);
        if (!strstr(err.message, bad[i].want))
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].expr, err.message,
                     bad[i].want);
    }
}

static void civil_round_trip(void **state)
{
    (void)state;
    time_civil c;
    time_to_civil(T("2024-02-29T13:45:07Z"), &c);
    assert_int_equal(c.year, 2024);
    assert_int_equal(c.month, 2);
    assert_int_equal(c.day, 29);
    assert_int_equal(c.hour, 13);
    assert_int_equal(c.minute, 45);
    assert_int_equal(c.second, 7);
    assert_int_equal(c.weekday, 4); /* Thursday */
    time_to_civil(T("1969-12-31T23:59:59.5Z"), &c);
    assert_int_equal(c.year, 1969);
    assert_int_equal(c.weekday, 3); /* Wednesday */
    assert_true(time_from_civil(2024, 2, 29, 13, 45, 7) == T("2024-02-29T13:45:07Z"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(next_table),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(civil_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
