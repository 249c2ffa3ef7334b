/* test_base.c - time, text validation, JSON writer and measure, buffers, status table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/jsoncheck.h"
#include "base/jsonw.h"
#include "base/status.h"
#include "base/text.h"
#include "base/timeutil.h"

static int64_t parse(const char *s)
{
    int64_t us = 0;
    assert_int_equal(time_parse_rfc3339(slice_of(s), &us), 0);
    return us;
}

static void rfc3339_valid(void **state)
{
    (void)state;
    assert_int_equal(parse("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse("2024-01-02T03:04:05.123456Z"), INT64_C(1704164645123456));
    assert_int_equal(parse("2024-01-02T03:04:05.1234567Z"), INT64_C(1704164645123456));
    assert_int_equal(parse("2024-01-02T04:04:05+01:00"), INT64_C(1704164645000000));
    assert_int_equal(parse("2024-01-02t03:04:05z"), INT64_C(1704164645000000));
    assert_int_equal(parse("1969-12-31T23:59:59.5Z"), INT64_C(-500000));
    assert_int_equal(parse("2024-02-29T00:00:00Z"), INT64_C(1709164800000000));
    assert_int_equal(parse("0001-01-01T00:00:00Z"), TIME_MIN_US);
    assert_int_equal(parse("9999-12-31T23:59:59.999999Z"), TIME_MAX_US);
}

static void rfc3339_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "2024-01-02",
                         "2024-01-02T03:04:05",
                         "2023-02-29T00:00:00Z",
                         "2024-13-01T00:00:00Z",
                         "2024-01-32T00:00:00Z",
                         "2024-01-01T24:00:00Z",
                         "2024-01-01T00:60:00Z",
                         "2024-01-01T00:00:60Z",
                         "2024-01-01T00:00:00.Z",
                         "2024-01-01T00:00:00Zjunk",
                         "2024-01-01T00:00:00+1:00",
                         "0000-01-01T00:00:00Z",
                         "yesterday at noon!!"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us;
        if (time_parse_rfc3339(slice_of(bad[i]), &us) == 0)
            fail_msg("accepted %s", bad[i]);
    }
}

static void rfc3339_round_trip(void **state)
{
    (void)state;
    const int64_t cases[] = {0, 1, -1, INT64_C(1704164645123456), INT64_C(-62135596800000000),
                             TIME_MAX_US, INT64_C(951782400000000) /* 2000-02-29 */};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char s[TIME_RFC3339_MAX];
        size_t n = time_format_rfc3339(cases[i], s, sizeof s);
        int64_t back;
        assert_int_equal(time_parse_rfc3339((slice){s, n}, &back), 0);
        assert_int_equal(back, cases[i]);
    }
    char s[TIME_RFC3339_MAX];
    time_format_rfc3339(INT64_C(1704164645000000), s, sizeof s);
    assert_string_equal(s, "2024-01-02T03:04:05Z");
    time_format_rfc3339(INT64_C(-500000), s, sizeof s);
    assert_string_equal(s, "1969-12-31T23:59:59.500000Z");
}

static void names_and_ids(void **state)
{
    (void)state;
    assert_true(text_valid_name(slice_of("customer")));
    assert_true(text_valid_name(slice_of("a")));
    assert_true(text_valid_name(slice_of("spend_30d")));
    char n64[65];
    memset(n64, 'a', 64);
    n64[64] = 0;
    assert_true(text_valid_name(slice_of(n64)));
    char n65[66];
    memset(n65, 'a', 65);
    n65[65] = 0;
    assert_false(text_valid_name(slice_of(n65)));
    assert_false(text_valid_name(slice_of("")));
    assert_false(text_valid_name(slice_of("1abc")));
    assert_false(text_valid_name(slice_of("Customer")));
    assert_false(text_valid_name(slice_of("a-b")));
    assert_false(text_valid_name(slice_of("_a")));

    assert_true(text_valid_entity_id(slice_of("c1")));
    assert_true(text_valid_entity_id(slice_of("a/b?c d:ü€𝄞")));
    assert_false(text_valid_entity_id(slice_of("")));
    assert_false(text_valid_entity_id((slice){"u7\0evil", 7})); /* NUL: no C string holds it */
    char id257[258];
    memset(id257, 'x', 257);
    id257[257] = 0;
    assert_false(text_valid_entity_id(slice_of(id257)));
    assert_true(text_valid_entity_id((slice){id257, 256}));
}

static void utf8(void **state)
{
    (void)state;
    assert_true(text_valid_utf8(slice_of("plain ascii")));
    assert_true(text_valid_utf8(slice_of("\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e")));
    assert_true(text_valid_utf8((slice){"a\0b", 3}));
    assert_false(text_valid_utf8(slice_of("\xff")));
    assert_false(text_valid_utf8(slice_of("\xc3\x28")));
    assert_false(text_valid_utf8(slice_of("\xc0\xaf")));         /* overlong '/' */
    assert_false(text_valid_utf8(slice_of("\xe0\x80\xaf")));     /* overlong */
    assert_false(text_valid_utf8(slice_of("\xed\xa0\x80")));     /* surrogate */
    assert_false(text_valid_utf8(slice_of("\xf4\x90\x80\x80"))); /* > U+10FFFF */
    assert_false(text_valid_utf8(slice_of("\xe2\x82")));         /* truncated */
    /* The eight-byte ASCII stride: a bad or multi-byte sequence at every
     * offset around it, and one cut at the end of the text. */
    for (size_t at = 0; at < 20; at++) {
        char t[32];
        memset(t, 'a', sizeof t);
        memcpy(t + at, "\xe2\x82\xac", 3);
        assert_true(text_valid_utf8((slice){t, sizeof t}));
        t[at + 1] = 'x'; /* a lead byte without its continuation */
        assert_false(text_valid_utf8((slice){t, sizeof t}));
        assert_false(text_valid_utf8((slice){t, at + 1})); /* cut after the lead byte */
        t[at] = (char)0x80;                                /* a stray continuation byte */
        assert_false(text_valid_utf8((slice){t, sizeof t}));
    }

    /* Scrubbing keeps good characters and turns each bad byte into '?'. */
    char s[] = "ok \xc3\xa9 \xff \xe2\x82 \xed\xa0\x80 end";
    text_scrub_utf8(s);
    assert_string_equal(s, "ok \xc3\xa9 ? ?? ??? end");
    /* err_set scrubs what it formats, also a character cut by truncation. */
    strata_err e = STRATA_ERR_INIT;
    char big[STRATA_ERR_MSG_MAX + 8];
    memset(big, 'x', sizeof big);
    memcpy(big + STRATA_ERR_MSG_MAX - 3, "\xe2\x82\xac", 3); /* cut after 2 bytes */
    big[sizeof big - 1] = 0;
    err_set(&e, STRATA_INVALID_ARGUMENT, "%s", big);
    assert_true(text_valid_utf8(slice_of(e.message)));
    err_set(&e, STRATA_INVALID_ARGUMENT, "near '%s'", "\xee\x80");
    assert_string_equal(e.message, "near '?" "?'");
    err_clear(&e);
}

static void numbers(void **state)
{
    (void)state;
    int64_t i;
    uint64_t u;
    assert_int_equal(text_parse_i64(slice_of("-9223372036854775808"), &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(text_parse_i64(slice_of("9223372036854775807"), &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(text_parse_i64(slice_of("9223372036854775808"), &i), -1);
    assert_int_equal(text_parse_u64(slice_of("18446744073709551615"), &u), 0);
    assert_int_equal(text_parse_u64(slice_of("18446744073709551616"), &u), -1);
    assert_int_equal(text_parse_u64(slice_of("-1"), &u), -1);
    assert_int_equal(text_parse_u64(slice_of("12a"), &u), -1);
    assert_int_equal(text_parse_u64(slice_of(""), &u), -1);
    assert_int_equal(text_parse_i64(slice_of("-"), &i), -1);
}

static void json_writer(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    jsonw_str(&b, (slice){"a\"b\\c\n\x01\0", 8});
    assert_string_equal(b.p, "\"a\\\"b\\\\c\\n\\u0001\\u0000\"");
    buf_reset(&b);
    jsonw_double(&b, 0.1);
    buf_putc(&b, ' ');
    jsonw_double(&b, 3);
    buf_putc(&b, ' ');
    jsonw_double(&b, 1.0 / 0.0);
    buf_putc(&b, ' ');
    jsonw_i64(&b, INT64_MIN);
    assert_string_equal(b.p, "0.1 3.0 null -9223372036854775808");
    /* Fast path and fallback agree with strtod round trips. */
    const double vals[] = {1.5, -0.25, 0.001, 42, 1e-7, 123456.789, 1e300, -0.0, 0.3,
                           2.5e-5, 9007199254740993.0, 1.0 / 3};
    const char *want[] = {"1.5", "-0.25", "0.001", "42.0", "1e-07", "123456.789", "1e+300",
                          "-0.0", "0.3", "0.000025", "9007199254740992.0", "0.3333333333333333"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        buf_reset(&b);
        jsonw_double(&b, vals[i]);
        assert_string_equal(b.p, want[i]);
        assert_true(strtod(b.p, NULL) == vals[i]);
    }
    buf_reset(&b);
    jsonw_base64(&b, (slice){"\x00\xff\x10", 3});
    assert_string_equal(b.p, "\"AP8Q\"");
    buf out = BUF_INIT;
    assert_int_equal(base64_decode(slice_of("AP8Q"), &out), 0);
    assert_int_equal(out.n, 3);
    assert_memory_equal(out.p, "\x00\xff\x10", 3);
    buf_reset(&out);
    assert_int_equal(base64_decode(slice_of("YQ=="), &out), 0);
    assert_int_equal(out.n, 1);
    assert_int_equal(base64_decode(slice_of("YQ="), &out), -1);
    assert_int_equal(base64_decode(slice_of("Y!=="), &out), -1);
    assert_int_equal(base64_decode(slice_of("=YQ="), &out), -1);
    buf_free(&out);
    buf_free(&b);
}

/* jsonw_value writes what json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes
 * (keys in byte order, at every depth, more than fit its stack array too),
 * except reals, which are shortest round-trip and read back equal. */
static void json_writer_values(void **state)
{
    (void)state;
    const char *docs[] = {
        "{}", "[]", "null", "true", "-7", "\"x\\ny\"",
        "{\"b\":1,\"a\":[true,false,null,{\"z\":\"\\u0001\",\"y\":{}}],\"\":\"e\",\"aa\":-9}",
        "{\"p17\":1,\"p16\":2,\"p15\":3,\"p14\":4,\"p13\":5,\"p12\":6,\"p11\":7,\"p10\":8,"
        "\"p9\":9,\"p8\":10,\"p7\":11,\"p6\":12,\"p5\":13,\"p4\":14,\"p3\":15,\"p2\":16,"
        "\"p1\":17,\"p0\":{\"\\u00e9\":\"\\u00e9\",\"e\":[]}}",
    };
    buf b = BUF_INIT;
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_t *j = json_loads(docs[i], JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        char *want = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        buf_reset(&b);
        jsonw_value(&b, j, true);
        assert_string_equal(b.p, want);
        free(want);
        /* Unsorted: the object's own order, as json_dumps without the flag. */
        want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        buf_reset(&b);
        jsonw_value(&b, j, false);
        assert_string_equal(b.p, want);
        free(want);
        json_decref(j);
    }
    json_t *r = json_pack("{s:f,s:[f,f]}", "x", 0.1, "y", 3.0, -1e-300);
    buf_reset(&b);
    jsonw_value(&b, r, true);
    assert_string_equal(b.p, "{\"x\":0.1,\"y\":[3.0,-1e-300]}");
    json_t *back = json_loads(b.p, 0, NULL);
    assert_true(json_equal(back, r));
    json_decref(back);
    json_decref(r);
    buf_free(&b);
}

static void buffers_and_status(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    buf_put_u32be(&b, 0x01020304);
    buf_put_u64be(&b, UINT64_C(0x0506070809101112));
    assert_int_equal(get_u32be(b.p), 0x01020304);
    assert_true(get_u64be(b.p + 4) == UINT64_C(0x0506070809101112));
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%d,", i);
    assert_int_equal(b.p[b.n], '\0');
    buf_free(&b);
    assert_int_equal(strata_status_http(STRATA_NOT_FOUND), 404);
    assert_int_equal(strata_status_http(STRATA_RESOURCE_EXHAUSTED), 413);
    assert_string_equal(strata_status_code(STRATA_FAILED_PRECONDITION), "FAILED_PRECONDITION");
    assert_string_equal(strata_status_code(STRATA_CORRUPT), "INTERNAL");
    assert_int_equal(strata_status_http(-999), 500);
    char ex[16];
    text_excerpt(slice_of("abcdefghijklmnopqrstuvwxyz"), ex, sizeof ex);
    assert_true(strlen(ex) < sizeof ex);
    assert_non_null(strstr(ex, "..."));
    char *d = slice_dup((slice){"abcdef", 3});
    assert_string_equal(d, "abc");
    free(d);
    d = slice_dup((slice){NULL, 0});
    assert_string_equal(d, "");
    free(d);
    assert_true(slice_ends_with(slice_of("data.jsonl"), ".jsonl"));
    assert_false(slice_ends_with(slice_of("l"), ".jsonl"));
    assert_false(slice_ends_with(slice_of("data.csv"), ".jsonl"));
}

/* Optional text members: absent or null is none; anything but non-empty
 * UTF-8 text without NUL is a 400 naming the field. */
static void json_optional_text(void **state)
{
    (void)state;
    json_t *o = json_loads("{\"a\":\"x y\",\"n\":null,\"e\":\"\",\"i\":3,\"z\":\"a\\u0000b\"}",
                           JSON_ALLOW_NUL, NULL);
    assert_non_null(o);
    strata_err err = STRATA_ERR_INIT;
    slice s = {"junk", 4};
    assert_int_equal(json_opt_text(o, "a", &s, &err), 0);
    assert_true(slice_eq_str(s, "x y"));
    assert_int_equal(json_opt_text(o, "n", &s, &err), 0);
    assert_null(s.p);
    assert_int_equal(json_opt_text(o, "missing", &s, &err), 0);
    assert_int_equal(s.n, 0);
    const char *bad[] = {"e", "i", "z"};
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(json_opt_text(o, bad[k], &s, &err), STRATA_INVALID_ARGUMENT);
        char want[32];
        snprintf(want, sizeof want, "field \"%s\"", bad[k]);
        assert_non_null(strstr(err.message, want));
        err_clear(&err);
    }
    json_decref(o);
}

static void expect_shape(const char *s, size_t values, size_t depth)
{
    json_shape sh = {99, 99};
    json_measure(slice_of(s), &sh);
    assert_int_equal(sh.values, values);
    assert_int_equal(sh.depth, depth);
}

static void json_measuring(void **state)
{
    (void)state;
    expect_shape("", 0, 0);
    expect_shape("  -1.5e+3 ", 1, 0);
    /* object, 2 keys, "x", array, 3 scalars */
    expect_shape("{\"a\": \"x\", \"b\":[1,true,null]}", 8, 2);
    expect_shape("[[[]],[{}],0]", 6, 3);
    /* Brackets, commas and escaped quotes inside strings are text. */
    expect_shape("[\"[[{,\\\"]]\", \"\\\\\"]", 3, 1);
    /* Malformed text: measured as far as it goes, never past the end. */
    expect_shape("[\"abc\\", 2, 1);
    expect_shape("]]]}[", 1, 1);
    char deep[201];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = '\0';
    expect_shape(deep, 100, 100);
}

/* Every allocation is zeroed, aligned and its own (filling each with its index
 * leaves every other intact), small and large ones alike; the arena is
 * reusable after arena_free. */
static void arena_allocations(void **state)
{
    (void)state;
    arena a = ARENA_INIT;
    enum { N = 3000 };
    static unsigned char *p[N];
    static size_t sz[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            sz[i] = i % 500 == 7 ? 40000 + (size_t)i : (size_t)(i * 37 % 301);
            p[i] = arena_alloc(&a, sz[i]);
            assert_non_null(p[i]);
            assert_int_equal((uintptr_t)p[i] % _Alignof(max_align_t), 0);
            for (size_t k = 0; k < sz[i]; k++)
                assert_int_equal(p[i][k], 0);
            memset(p[i], i & 0xff, sz[i]);
        }
        for (int i = 0; i < N; i++)
            for (size_t k = 0; k < sz[i]; k++)
                assert_int_equal(p[i][k], i & 0xff);
        assert_ptr_not_equal(arena_alloc(&a, 0), arena_alloc(&a, 0));
        arena_free(&a);
        assert_null(a.chunks);
    }
    arena_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3339_valid),
        cmocka_unit_test(rfc3339_invalid),
        cmocka_unit_test(rfc3339_round_trip),
        cmocka_unit_test(names_and_ids),
        cmocka_unit_test(utf8),
        cmocka_unit_test(numbers),
        cmocka_unit_test(json_writer),
        cmocka_unit_test(json_writer_values),
        cmocka_unit_test(buffers_and_status),
        cmocka_unit_test(json_measuring),
        cmocka_unit_test(arena_allocations),
        cmocka_unit_test(json_optional_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
