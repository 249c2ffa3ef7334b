/*
 * fuzz_cron.c - the cron parser (ingest/cron.c) and next-run computation.
 *
 * Input: a cron line; optionally "\n" and an RFC 3339 time to compute the
 * next run after (default: a few fixed instants around month, leap-day and
 * year ends). For every expression that parses, each next run must be a
 * whole minute after the start that the expression matches (cron_matches),
 * the same run must come back when asked from just before
 * it, and when it is less than two days away no minute in between may match.
 */
#include <string.h>

#include "base/timeutil.h"
#include "fuzz.h"
#include "ingest/cron.h"

#define MINUTE_US (60 * TIME_US_PER_SEC)

static void check_next(const cron_expr *c, int64_t after)
{
    int64_t next = cron_next(c, after);
    if (next < 0)
        return;
    FUZZ_CHECK(next > after, "next %lld not after %lld", (long long)next, (long long)after);
    FUZZ_CHECK(next % MINUTE_US == 0, "next %lld is not a whole minute", (long long)next);
    FUZZ_CHECK(cron_matches(c, next), "next %lld does not match", (long long)next);
    FUZZ_CHECK(cron_next(c, next - 1) == next, "asked again from just before %lld",
               (long long)next);
    if (next - after < 2 * 24 * 60 * MINUTE_US) {
        int64_t t = after - ((after % MINUTE_US) + MINUTE_US) % MINUTE_US + MINUTE_US;
        for (; t < next; t += MINUTE_US)
            FUZZ_CHECK(!cron_matches(c, t), "%lld matches before next %lld", (long long)t,
                       (long long)next);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slice in = {(const char *)data, size};
    const char *nl = memchr(in.p, '\n', in.n);
    slice line = nl ? (slice){in.p, (size_t)(nl - in.p)} : in;
    cron_expr c;
    strata_err err = STRATA_ERR_INIT;
    int rc = cron_parse(line, &c, &err);
    if (rc) {
        FUZZ_CHECK(err.message[0] != '\0', "refusal without a message");
        err_clear(&err);
        return 0;
    }
    int64_t at;
    if (nl && time_parse_rfc3339((slice){nl + 1, in.n - line.n - 1}, &at) == 0 && at >= 0 &&
        at < time_from_civil(9000, 1, 1, 0, 0, 0)) {
        check_next(&c, at);
        return 0;
    }
    static const int64_t starts[][5] = {
        {1970, 1, 1, 0, 0}, {2024, 2, 28, 23, 59}, {2023, 12, 31, 23, 59}, {2100, 2, 28, 12, 0}};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        check_next(&c, time_from_civil(starts[i][0], (unsigned)starts[i][1],
                                       (unsigned)starts[i][2], (unsigned)starts[i][3],
                                       (unsigned)starts[i][4], 0) +
                           30 * TIME_US_PER_SEC);
    return 0;
}
