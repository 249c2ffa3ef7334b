/*
 * test_dtoa.c - shortest round-trip double formatting (base/dtoa.h).
 *
 * Every check is made against glibc, never against strata_dtoa itself:
 *  (a) strtod reads the output back to the same bits;
 *  (b) no decimal with one digit fewer reads back to v: the two such numbers
 *      nearest v (our digits truncated, and that plus one unit) both fail, and
 *      on a sample the digit count equals the smallest printf("%.*e")
 *      precision that round-trips;
 *  (c) the digits are printf's correctly rounded ones at that length, or, when
 *      those do not round-trip (only next to a power of two, where the lower
 *      half-gap is narrower), the neighbour one unit away;
 *  and the two textual shapes equal what printf("%.*g") produces for digits
 *  of that length (dtoa.h's rules).
 *
 * The random property test runs STRATA_DTOA_TEST_N values (default 600000;
 * the whole file takes about 4 s of CPU); set it higher for a long run, e.g. 100000000.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/dtoa.h"
#include "base/jsonw.h"

static int reads_back(const char *s, double v)
{
    char *end;
    double r = strtod(s, &end);
    return *end == '\0' && double_bits(r) == double_bits(v);
}

/* Does digits * 10^e read back as |v|? */
static int decimal_reads_back(uint64_t digits, int e, double v)
{
    char s[48];
    snprintf(s, sizeof s, "%" PRIu64 "e%d", digits, e);
    return reads_back(s, fabs(v));
}

/* printf's correctly rounded p significant digits of |v|, as an integer and
 * the exponent of its last digit. */
static void printf_digits(double v, int p, uint64_t *digits, int *e)
{
    char s[48];
    snprintf(s, sizeof s, "%.*e", p - 1, fabs(v));
    uint64_t d = 0;
    const char *c = s;
    for (; *c != 'e'; c++)
        if (*c >= '0' && *c <= '9')
            d = d * 10 + (uint64_t)(*c - '0');
    *digits = d;
    *e = atoi(c + 1) - (p - 1);
}

/* The smallest p for which printf("%.{p-1}e") reads back. */
static int printf_min_digits(double v)
{
    char s[48];
    for (int p = 1; p < 17; p++) {
        snprintf(s, sizeof s, "%.*e", p - 1, v);
        if (reads_back(s, v))
            return p;
    }
    return 17;
}

static int count_digits(uint64_t d)
{
    int n = 1;
    while (d >= 10) {
        d /= 10;
        n++;
    }
    return n;
}

/* What dtoa.h says each shape is, built by printf from its correctly rounded
 * nd digits: "%.*e", or "%.*f" for plain decimals (zeros padded after the
 * digits when those end left of the point, as %f would print the exact
 * integer there). Only for v whose printf digits at that length read back
 * (see (c)). */
static const char *printf_shape(double v, int nd, uint64_t pd, int pe, int json, char *s, size_t n)
{
    int x = pe + nd - 1;
    int fixed = x >= -4 && x < 17;
    if (json)
        fixed = (x >= -4 && x < (nd > 15 ? nd : 15)) || ((x == -5 || x == -6) && nd - 1 - x <= 6);
    if (!fixed) {
        snprintf(s, n, "%.*e", nd - 1, v);
    } else if (pe < 0) {
        snprintf(s, n, "%.*f", -pe, v);
    } else {
        int k = snprintf(s, n, "%s%" PRIu64, signbit(v) ? "-" : "", pd);
        memset(s + k, '0', (size_t)pe);
        s[k + pe] = '\0';
    }
    if (json && fixed && pe >= 0)
        strcat(s, ".0");
    return s;
}

/* All checks for one finite v; returns 0 or prints what failed. */
static int check_value(double v, int full)
{
    char out[STRATA_DTOA_MAX], g[STRATA_DTOA_MAX], want[64];
    size_t n = strata_dtoa(v, out);
    size_t gn = strata_dtoa_g(v, g);
    uint64_t d;
    int e;
    int nd = strata_dtoa_decimal(v, &d, &e);
    int bad = 0;
    if (n != strlen(out) || gn != strlen(g) || n >= STRATA_DTOA_MAX)
        bad |= 1;
    if (!reads_back(out, v) || !reads_back(g, v)) /* (a) */
        bad |= 2;
    if (v == 0) {
        if (nd != 0 || strcmp(out, signbit(v) ? "-0.0" : "0.0") != 0)
            bad |= 4;
        goto out;
    }
    if (nd != count_digits(d) || d % 10 == 0 || !decimal_reads_back(d, e, v))
        bad |= 8;
    /* (b): with one digit fewer, only the two nearest numbers could work */
    if (nd > 1 &&
        (decimal_reads_back(d / 10, e + 1, v) || decimal_reads_back(d / 10 + 1, e + 1, v)))
        bad |= 16;
    if (full && nd > printf_min_digits(v))
        bad |= 32;
    /* (c) */
    uint64_t pd;
    int pe;
    printf_digits(v, nd, &pd, &pe);
    int printf_ok = decimal_reads_back(pd, pe, v);
    if (printf_ok) {
        /* printf's nd digits, with trailing zeros: compare as numbers */
        uint64_t a = pd;
        int ea = pe;
        while (a % 10 == 0 && a) {
            a /= 10;
            ea++;
        }
        if (a != d || ea != e)
            bad |= 64;
    } else {
        /* one unit away, on the same exponent or across a power of ten */
        uint64_t a = pd, b = d;
        int ea = pe, eb = e;
        while (ea > eb && a < UINT64_MAX / 10) {
            a *= 10;
            ea--;
        }
        while (eb > ea && b < UINT64_MAX / 10) {
            b *= 10;
            eb--;
        }
        if (ea != eb || (a > b ? a - b : b - a) != 1)
            bad |= 128;
    }
    /* shapes */
    if (printf_ok && strcmp(printf_shape(v, nd, pd, pe, 1, want, sizeof want), out) != 0)
        bad |= 256;
    if (printf_ok && strcmp(printf_shape(v, nd, pd, pe, 0, want, sizeof want), g) != 0)
        bad |= 512;
out:
    if (bad)
        print_error("v=%a (%.17g): json \"%s\" g \"%s\" digits %" PRIu64 "e%d: failed checks %#x\n",
                    v, v, out, g, d, e, bad);
    return bad != 0;
}

static void shapes(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *json, *g;
    } k[] = {
        {0.0, "0.0", "0"},
        {-0.0, "-0.0", "-0"},
        {42, "42.0", "42"},
        {-7, "-7.0", "-7"},
        {0.1, "0.1", "0.1"},
        {-0.5, "-0.5", "-0.5"},
        {123.456, "123.456", "123.456"},
        {0.0001, "0.0001", "0.0001"},
        {0.00012, "0.00012", "0.00012"},
        {0.000025, "0.000025", "2.5e-05"},
        {0.000001, "0.000001", "1e-06"},
        {0.0000255, "2.55e-05", "2.55e-05"},
        {0.0000001, "1e-07", "1e-07"},
        {1.5e-7, "1.5e-07", "1.5e-07"},
        {123456789012345.0, "123456789012345.0", "123456789012345"},
        {1e15, "1e+15", "1000000000000000"},
        {1234567890123456.0, "1234567890123456.0", "1234567890123456"},
        {9007199254740993.0, "9007199254740992.0", "9007199254740992"},
        {18014398509481984.0, "18014398509481984.0", "18014398509481984"},
        {1e16, "1e+16", "10000000000000000"},
        {1e17, "1e+17", "1e+17"},
        {123456789012345680000.0, "1.2345678901234568e+20", "1.2345678901234568e+20"},
        {1e100, "1e+100", "1e+100"},
        {1e-100, "1e-100", "1e-100"},
        {-1.5e300, "-1.5e+300", "-1.5e+300"},
        {1.0 / 3, "0.3333333333333333", "0.3333333333333333"},
        {0.1 + 0.2, "0.30000000000000004", "0.30000000000000004"},
        {5e-324, "5e-324", "5e-324"},
        {DBL_MIN, "2.2250738585072014e-308", "2.2250738585072014e-308"},
        {DBL_MAX, "1.7976931348623157e+308", "1.7976931348623157e+308"},
        {(double)INFINITY, "inf", "inf"},
        {-(double)INFINITY, "-inf", "-inf"},
        {(double)NAN, "nan", "nan"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char out[STRATA_DTOA_MAX];
        size_t n = strata_dtoa(k[i].v, out);
        assert_string_equal(out, k[i].json);
        assert_int_equal(n, strlen(k[i].json));
        n = strata_dtoa_g(k[i].v, out);
        assert_string_equal(out, k[i].g);
        assert_int_equal(n, strlen(k[i].g));
    }
    /* The JSON writer maps what JSON cannot say to null. */
    buf b = BUF_INIT;
    jsonw_double(&b, NAN);
    buf_putc(&b, ' ');
    jsonw_double(&b, -INFINITY);
    buf_putc(&b, ' ');
    jsonw_double(&b, 2.5);
    assert_string_equal(b.p, "null null 2.5");
    buf_free(&b);
}

static void special_values(void **state)
{
    (void)state;
    uint64_t d = 1;
    int e = 1;
    assert_int_equal(strata_dtoa_decimal(0.0, &d, &e), 0);
    assert_true(d == 0 && e == 0);
    assert_int_equal(strata_dtoa_decimal(NAN, &d, &e), 0);
    assert_int_equal(strata_dtoa_decimal(INFINITY, &d, &e), 0);
    /* smallest subnormal, largest subnormal, smallest normal, largest */
    const double edge[] = {5e-324,
                           bits_double(0x000fffffffffffffull),
                           DBL_MIN,
                           DBL_MAX,
                           nextafter(DBL_MIN, 0),
                           nextafter(DBL_MIN, 1),
                           nextafter(DBL_MAX, 0),
                           bits_double(0x0000000000000002ull),
                           bits_double(0x0010000000000001ull),
                           bits_double(0x7fefffffffffffffull)};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        assert_int_equal(check_value(edge[i], 1), 0);
        assert_int_equal(check_value(-edge[i], 1), 0);
    }
    assert_int_equal(strata_dtoa_decimal(5e-324, &d, &e), 1);
    assert_true(d == 5 && e == -324);
    /* %.17g says 2.2250738585072009e-308; 16 digits suffice */
    assert_int_equal(strata_dtoa_decimal(bits_double(0x000fffffffffffffull), &d, &e), 16);
    assert_true(d == 2225073858507201ull && e == -323);
    assert_int_equal(strata_dtoa_decimal(DBL_MAX, &d, &e), 17);
    assert_true(d == 17976931348623157ull && e == 292);
}

/* 10^k for every k a double reaches: the one-digit "1ek" is the answer. */
static void powers_of_ten(void **state)
{
    (void)state;
    for (int k = -323; k <= 308; k++) {
        char s[16];
        snprintf(s, sizeof s, "1e%d", k);
        double v = strtod(s, NULL);
        uint64_t d;
        int e;
        assert_int_equal(strata_dtoa_decimal(v, &d, &e), 1);
        assert_true(d == 1 && e == k);
        assert_int_equal(check_value(v, 1), 0);
        /* and the doubles on either side */
        assert_int_equal(check_value(nextafter(v, 0), 1), 0);
        assert_int_equal(check_value(nextafter(v, INFINITY), 1), 0);
    }
}

/* 2^k across the range: mantissa 0, where the lower half-gap is the narrow one. */
static void powers_of_two(void **state)
{
    (void)state;
    for (int k = -1074; k <= 1023; k++) {
        double v = ldexp(1.0, k);
        assert_int_equal(check_value(v, 1), 0);
        assert_int_equal(check_value(nextafter(v, 0), 1), 0);
        assert_int_equal(check_value(nextafter(v, INFINITY), 1), 0);
        if (k >= 0 && k <= 53) {
            char out[STRATA_DTOA_MAX], want[32];
            strata_dtoa(v, out);
            snprintf(want, sizeof want, "%" PRIu64 ".0", (uint64_t)1 << k);
            assert_string_equal(out, want);
        }
    }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    /* splitmix64: a different sequence for each test run is not wanted */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Integers print as themselves below 2^53 and keep the properties above. */
static void integers(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint64_t n = rng() >> (11 + rng() % 53); /* below 2^53, all magnitudes */
        char out[STRATA_DTOA_MAX], want[32];
        strata_dtoa_g((double)n, out);
        snprintf(want, sizeof want, "%" PRIu64, n);
        assert_string_equal(out, want);
        /* JSON: plain with ".0", except exponent form at X >= 15 when the
         * significant digits are fewer than 16 (1e+15, like %.15g) */
        uint64_t t = n;
        while (t && t % 10 == 0)
            t /= 10;
        if (count_digits(n) - 1 >= 15 && count_digits(t) <= 15)
            continue;
        strata_dtoa((double)n, out);
        snprintf(want, sizeof want, "%" PRIu64 ".0", n);
        assert_string_equal(out, want);
    }
    int failures = 0;
    for (int i = 0; i < 50000; i++) {
        uint64_t n = rng() >> (rng() % 11); /* 2^53 .. 2^64 */
        failures += check_value((double)n, i % 16 == 0);
        failures += check_value(-(double)n, 0);
    }
    assert_int_equal(failures, 0);
}

/* Decimals with few digits read through strtod come back as the same digits:
 * any decimal of at most 15 significant digits survives a double (DBL_DIG),
 * and two of them never share one. These are also the values whose interval
 * ends or exact value are short decimals (the exactness bookkeeping). */
static void short_decimals(void **state)
{
    (void)state;
    int failures = 0;
    for (int i = 0; i < 150000; i++) {
        int nd = 1 + (int)(rng() % 15);
        uint64_t d = rng() % 1000000000000000ull;
        uint64_t lim = 1;
        for (int k = 0; k < nd; k++)
            lim *= 10;
        d %= lim;
        if (d == 0)
            d = 1;
        while (d % 10 == 0)
            d /= 10;
        int e = (int)(rng() % 600) - 300 - count_digits(d);
        char s[48];
        snprintf(s, sizeof s, "%" PRIu64 "e%d", d, e);
        double v = strtod(s, NULL);
        uint64_t got;
        int ge;
        strata_dtoa_decimal(v, &got, &ge);
        if (got != d || ge != e) {
            print_error("%s came back as %" PRIu64 "e%d\n", s, got, ge);
            failures++;
        }
        failures += check_value(v, 0);
    }
    /* the 15/16/17-digit boundary */
    const char *k[] = {"0.1",
                       "1.23456789012345",
                       "0.3333333333333333",
                       "0.30000000000000004",
                       "2.718281828459045",
                       "1.7976931348623157e308",
                       "9007199254740991",
                       "123456789012345.6",
                       "1.0000000000000002"};
    const int want[] = {1, 15, 16, 17, 16, 17, 16, 16, 17};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        double v = strtod(k[i], NULL);
        uint64_t got;
        int ge;
        assert_int_equal(strata_dtoa_decimal(v, &got, &ge), want[i]);
        failures += check_value(v, 1);
    }
    assert_int_equal(failures, 0);
}

/* Every binary exponent (every table row) with random mantissas, then
 * uniformly random bit patterns. */
static void random_bits(void **state)
{
    (void)state;
    long n = 600000;
    const char *env = getenv("STRATA_DTOA_TEST_N");
    if (env && atol(env) > 0)
        n = atol(env);
    int failures = 0;
    for (uint64_t be = 0; be < 2047; be++) {
        for (int i = 0; i < 32; i++) {
            uint64_t m = rng() & ((1ull << 52) - 1);
            if (i == 0)
                m = 0;
            else if (i == 1)
                m = 1;
            else if (i == 2)
                m = (1ull << 52) - 1;
            failures += check_value(bits_double(be << 52 | m), i < 4);
        }
    }
    for (long i = 0; i < n && failures < 20; i++) {
        double v = bits_double(rng());
        if (!isfinite(v))
            continue;
        failures += check_value(v, i % 64 == 0);
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shapes),        cmocka_unit_test(special_values),
        cmocka_unit_test(powers_of_ten), cmocka_unit_test(powers_of_two),
        cmocka_unit_test(integers),      cmocka_unit_test(short_decimals),
        cmocka_unit_test(random_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
