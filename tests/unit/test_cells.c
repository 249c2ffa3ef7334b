/*
 * test_cells.c - typed parsing of import cells (ingest/cells.c), timestamps
 * in every time unit, type inference for create_features, and the JSONL
 * reader (ingest/jsonl_reader.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/timeutil.h"
#include "ingest/cells.h"
#include "ingest/jsonl_reader.h"
#include "store/value.h"

/* Encode and decode back; -1 when refused (why filled). */
static int enc(value_type t, const char *text, value_view *v, buf *b, char *why)
{
    buf_reset(b);
    if (cell_encode_text(t, slice_of(text), b, why))
        return -1;
    assert_int_equal(value_decode(buf_slice(b), v), 0);
    return 0;
}

static void typed_cells(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    value_view v;
    char why[CELL_WHY_MAX];
    assert_int_equal(enc(VT_INT64, "-42", &v, &b, why), 0);
    assert_int_equal(v.i, -42);
    assert_int_equal(enc(VT_INT64, "3.0", &v, &b, why), 0); /* as the write API takes 3.0 */
    assert_int_equal(v.i, 3);
    assert_int_equal(enc(VT_INT64, "9223372036854775807", &v, &b, why), 0);
    assert_int_equal(enc(VT_INT64, "9223372036854775808", &v, &b, why), -1);
    assert_non_null(
        strstr(why, "expected an integer within int64 (INT64), got \"9223372036854775808\""));
    assert_int_equal(enc(VT_INT64, "3.5", &v, &b, why), -1);
    /* Decimal forms only below 2^53, as the write API: as a double,
     * 9007199254740993.0 would be ...992. */
    assert_int_equal(enc(VT_INT64, "9007199254740991.0", &v, &b, why), 0);
    assert_int_equal(enc(VT_INT64, "1e3", &v, &b, why), 0);
    assert_int_equal(enc(VT_INT64, "9007199254740993.0", &v, &b, why), -1);
    assert_int_equal(enc(VT_INT64, "-9007199254740992.0", &v, &b, why), -1);
    assert_int_equal(enc(VT_INT64, "9007199254740993", &v, &b, why), 0); /* integers: all */
    assert_int_equal(enc(VT_INT64, " 3", &v, &b, why), -1);
    assert_int_equal(enc(VT_INT64, "12abc", &v, &b, why), -1);
    assert_int_equal(b.n, 0); /* nothing appended on error */

    assert_int_equal(enc(VT_DOUBLE, "2.5e-3", &v, &b, why), 0);
    assert_true(v.d == 2.5e-3);
    assert_int_equal(enc(VT_DOUBLE, "-7", &v, &b, why), 0);
    assert_int_equal(enc(VT_DOUBLE, "nan", &v, &b, why), -1);
    assert_int_equal(enc(VT_DOUBLE, "inf", &v, &b, why), -1);
    assert_int_equal(enc(VT_DOUBLE, "1e999", &v, &b, why), -1);
    assert_int_equal(enc(VT_DOUBLE, "0x10", &v, &b, why), -1);
    assert_int_equal(enc(VT_DOUBLE, "1.2.3", &v, &b, why), -1);
    assert_non_null(strstr(why, "(DOUBLE)"));

    assert_int_equal(enc(VT_BOOL, "TRUE", &v, &b, why), 0);
    assert_true(v.b);
    assert_int_equal(enc(VT_BOOL, "0", &v, &b, why), 0);
    assert_false(v.b);
    assert_int_equal(enc(VT_BOOL, "yes", &v, &b, why), -1);

    assert_int_equal(enc(VT_STRING, "héllo, \"x\"", &v, &b, why), 0);
    assert_int_equal(v.s.n, strlen("héllo, \"x\""));
    assert_int_equal(enc(VT_BYTES, "AP8=", &v, &b, why), 0);
    assert_int_equal(v.s.n, 2);
    assert_int_equal(enc(VT_BYTES, "not base64!", &v, &b, why), -1);

    assert_int_equal(enc(VT_INT64_ARRAY, "[1, -2, 3]", &v, &b, why), 0);
    assert_int_equal(v.count, 3);
    assert_int_equal(value_int64_at(&v, 1), -2);
    assert_int_equal(enc(VT_DOUBLE_ARRAY, "[0.5,1]", &v, &b, why), 0);
    assert_int_equal(enc(VT_STRING_ARRAY, "[\"a\",\"\"]", &v, &b, why), 0);
    assert_int_equal(enc(VT_INT64_ARRAY, "1,2", &v, &b, why), -1);
    assert_non_null(strstr(why, "a JSON array (INT64_ARRAY)"));
    assert_int_equal(enc(VT_INT64_ARRAY, "[1,\"x\"]", &v, &b, why), -1);
    buf_free(&b);
}

static void timestamps(void **state)
{
    (void)state;
    int64_t us;
    char why[CELL_WHY_MAX];
    time_unit u;
    assert_int_equal(time_unit_parse(slice_of("millis"), &u), 0);
    assert_int_equal(u, TIME_UNIT_MILLIS);
    assert_int_equal(time_unit_parse(slice_of("hours"), &u), -1);

    assert_int_equal(cell_parse_time(slice_of("2024-01-02T03:04:05Z"), TIME_UNIT_RFC3339, &us, why),
                     0);
    assert_int_equal(us, INT64_C(1704164645000000));
    assert_int_equal(cell_parse_time(slice_of("2024-02-30T00:00:00Z"), TIME_UNIT_RFC3339, &us, why),
                     -1);
    assert_non_null(strstr(why, "RFC 3339"));
    assert_int_equal(cell_parse_time(slice_of("1704164645"), TIME_UNIT_SECONDS, &us, why), 0);
    assert_int_equal(us, INT64_C(1704164645000000));
    assert_int_equal(cell_parse_time(slice_of("1704164645.25"), TIME_UNIT_SECONDS, &us, why), 0);
    assert_int_equal(us, INT64_C(1704164645250000));
    assert_int_equal(cell_parse_time(slice_of("1704164645123"), TIME_UNIT_MILLIS, &us, why), 0);
    assert_int_equal(us, INT64_C(1704164645123000));
    assert_int_equal(cell_parse_time(slice_of("1704164645123456"), TIME_UNIT_MICROS, &us, why), 0);
    assert_int_equal(us, INT64_C(1704164645123456));
    assert_int_equal(cell_parse_time(slice_of("-1"), TIME_UNIT_SECONDS, &us, why), 0);
    assert_int_equal(us, -1000000);
    assert_int_equal(cell_parse_time(slice_of("1.5"), TIME_UNIT_MICROS, &us, why), -1);
    assert_int_equal(cell_parse_time(slice_of("abc"), TIME_UNIT_SECONDS, &us, why), -1);
    assert_non_null(strstr(why, "seconds since the epoch"));
    assert_int_equal(cell_parse_time(slice_of("99999999999999999999"), TIME_UNIT_SECONDS, &us, why),
                     -1);
    assert_int_equal(cell_parse_time(slice_of("253402300800"), TIME_UNIT_SECONDS, &us, why), -1);
    assert_int_equal(cell_parse_time(slice_of(""), TIME_UNIT_SECONDS, &us, why), -1);

    json_t *j = json_integer(1704164645123);
    assert_int_equal(json_parse_time(j, TIME_UNIT_MILLIS, &us, why), 0);
    assert_int_equal(us, INT64_C(1704164645123000));
    assert_int_equal(json_parse_time(j, TIME_UNIT_RFC3339, &us, why), -1);
    json_decref(j);
    j = json_real(1.5);
    assert_int_equal(json_parse_time(j, TIME_UNIT_SECONDS, &us, why), 0);
    assert_int_equal(us, 1500000);
    json_decref(j);
    j = json_integer(INT64_MAX);
    assert_int_equal(json_parse_time(j, TIME_UNIT_SECONDS, &us, why), -1);
    json_decref(j);
}

static value_type infer_texts(const char *const *cells)
{
    infer_state s;
    value_type t = VT_NULL;
    char why[CELL_WHY_MAX];
    infer_init(&s, false);
    for (; *cells; cells++)
        infer_text(&s, slice_of(*cells));
    assert_int_equal(infer_result(&s, &t, why), 0);
    return t;
}

static void inference(void **state)
{
    (void)state;
    assert_int_equal(infer_texts((const char *[]){"1", "-2", "30", NULL}), VT_INT64);
    assert_int_equal(infer_texts((const char *[]){"1", "2.5", "1e3", NULL}), VT_DOUBLE);
    assert_int_equal(infer_texts((const char *[]){"1.0", "2.0", NULL}), VT_DOUBLE);
    assert_int_equal(infer_texts((const char *[]){"true", "False", NULL}), VT_BOOL);
    assert_int_equal(infer_texts((const char *[]){"1", "0", NULL}), VT_INT64);
    assert_int_equal(infer_texts((const char *[]){"1", "x", NULL}), VT_STRING);
    assert_int_equal(infer_texts((const char *[]){"[1,2]", "[]", NULL}), VT_INT64_ARRAY);
    assert_int_equal(infer_texts((const char *[]){"[1,2.5]", NULL}), VT_DOUBLE_ARRAY);
    assert_int_equal(infer_texts((const char *[]){"[\"a\"]", NULL}), VT_STRING_ARRAY);
    assert_int_equal(infer_texts((const char *[]){"[]", NULL}), VT_DOUBLE_ARRAY);
    assert_int_equal(infer_texts((const char *[]){"[1]", "[\"a\"]", NULL}), VT_STRING);
    assert_int_equal(infer_texts((const char *[]){NULL}), VT_STRING);

    infer_state s;
    value_type t;
    char why[CELL_WHY_MAX];
    json_t *vals = json_loads("[1, 2, null]", 0, NULL);
    infer_init(&s, true);
    for (size_t i = 0; i < json_array_size(vals); i++)
        infer_json(&s, json_array_get(vals, i));
    assert_int_equal(infer_result(&s, &t, why), 0);
    assert_int_equal(t, VT_INT64);
    json_decref(vals);
    vals = json_loads("[1, \"x\"]", 0, NULL);
    infer_init(&s, true);
    for (size_t i = 0; i < json_array_size(vals); i++)
        infer_json(&s, json_array_get(vals, i));
    assert_int_equal(infer_result(&s, &t, why), -1);
    assert_non_null(strstr(why, "mix"));
    json_decref(vals);
    vals = json_loads("[\"7\", \"x\"]", 0, NULL); /* JSON strings stay strings */
    infer_init(&s, true);
    for (size_t i = 0; i < json_array_size(vals); i++)
        infer_json(&s, json_array_get(vals, i));
    assert_int_equal(infer_result(&s, &t, why), 0);
    assert_int_equal(t, VT_STRING);
    json_decref(vals);
}

static void jsonl_lines(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBF{\"a\":1}\r\n\n  \n{\"a\":2,\"a\":3}\n[1]\n{bad\n"
                       "{\"s\":\"\xff\"}\n{\"a\":4}";
    ingest_source *src = ingest_source_mem(text, strlen(text));
    jsonl_reader *r = jsonl_reader_open(src, 0);
    strata_err err = STRATA_ERR_INIT;
    jsonl_row row;
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_int_equal(row.line, 1);
    assert_null(row.error);
    assert_int_equal(json_integer_value(json_object_get(row.obj, "a")), 1);
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_int_equal(row.line, 4);
    assert_non_null(strstr(row.error, "malformed JSON")); /* duplicate key */
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_int_equal(row.line, 5);
    assert_string_equal(row.error, "a line must hold one JSON object");
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_int_equal(row.line, 6);
    assert_non_null(row.error);
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_int_equal(row.line, 7);
    assert_string_equal(row.error, "line is not valid UTF-8");
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_int_equal(row.line, 8);
    assert_int_equal(json_integer_value(json_object_get(row.obj, "a")), 4);
    assert_int_equal(jsonl_reader_next(r, &row, &err), 0);
    jsonl_reader_close(r);
    ingest_source_close(src);

    /* A line over the cap is refused without being buffered; the next is read. */
    buf big = BUF_INIT;
    buf_append_str(&big, "{\"a\":\"");
    for (int i = 0; i < 100000; i++)
        buf_append_str(&big, "0123456789");
    buf_append_str(&big, "\"}\n{\"a\":5}\n");
    src = ingest_source_mem(big.p, big.n);
    r = jsonl_reader_open(src, 4096);
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_string_equal(row.error, "line is longer than 4096 bytes");
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_int_equal(row.line, 2);
    assert_int_equal(json_integer_value(json_object_get(row.obj, "a")), 5);
    jsonl_reader_close(r);
    ingest_source_close(src);

    /* Too many values or too deep: refused before parsing; the next is read. */
    buf_reset(&big);
    buf_append_str(&big, "{\"a\":[0");
    for (unsigned i = 0; i < LIMIT_JSONL_ROW_VALUES; i++)
        buf_append_str(&big, ",0");
    buf_append_str(&big, "]}\n");
    for (unsigned i = 0; i <= LIMIT_JSON_DEPTH; i++)
        buf_append_str(&big, "[");
    buf_append_str(&big, "\n{\"a\":6}\n");
    src = ingest_source_mem(big.p, big.n);
    r = jsonl_reader_open(src, 0);
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_non_null(strstr(row.error, "JSON values, over the limit"));
    assert_null(row.obj);
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_non_null(strstr(row.error, "deeper than"));
    assert_int_equal(jsonl_reader_next(r, &row, &err), 1);
    assert_int_equal(row.line, 3);
    assert_int_equal(json_integer_value(json_object_get(row.obj, "a")), 6);
    jsonl_reader_close(r);
    ingest_source_close(src);
    buf_free(&big);
}

/* What the parser must answer for text: strtod's number when the whole text
 * is a finite decimal of digits, signs, '.', 'e' (the old rule), else -1. */
static int reference_double(const char *text, double *out)
{
    size_t n = strlen(text);
    bool digit = false;
    if (n == 0 || n >= CELL_NUMBER_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (text[i] >= '0' && text[i] <= '9')
            digit = true;
        else if (!strchr("+-.eE", text[i]))
            return -1;
    }
    char *end;
    double d = strtod(text, &end);
    if (!digit || end != text + n || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static void check_double(const char *text)
{
    buf b = BUF_INIT;
    value_view v;
    char why[CELL_WHY_MAX];
    double want = 0;
    int want_rc = reference_double(text, &want);
    int rc = enc(VT_DOUBLE, text, &v, &b, why);
    if (rc != want_rc || (rc == 0 && memcmp(&v.d, &want, sizeof want) != 0))
        fail_msg("\"%s\": got rc %d value %.17g, want rc %d value %.17g", text, rc, rc ? 0.0 : v.d,
                 want_rc, want);
    buf_free(&b);
}

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The fast path of DOUBLE cells (few digits, small exponents) must give
 * strtod's exact bits, and leave everything else to it. */
static void doubles_as_strtod(void **state)
{
    (void)state;
    static const char *const cases[] = {"0",
                                        "-0",
                                        "+0",
                                        "-0.0",
                                        "0.001003",
                                        "79.19",
                                        "1.500",
                                        ".5",
                                        "5.",
                                        "+.5e-3",
                                        "1E5",
                                        "1e22",
                                        "1e23",
                                        "1e-22",
                                        "1e-23",
                                        "123456789012345",
                                        "1234567890123456",
                                        "9007199254740993",
                                        "0.1",
                                        "0.3",
                                        "2.2250738585072014e-308",
                                        "4.9e-324",
                                        "1e308",
                                        "1.7976931348623157e308",
                                        "1e309",
                                        "00000000000000000000000001",
                                        "1e0001",
                                        "1e00001",
                                        "1e",
                                        "1e+",
                                        "e5",
                                        ".",
                                        "-",
                                        "+-1",
                                        "1-",
                                        "1.2.3",
                                        "1e2e3",
                                        "--1",
                                        "0.000000000000000000001",
                                        "99999999999999.9",
                                        "999999999999999e7",
                                        "1.5e-7",
                                        "3.14159265358979"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_double(cases[i]);
    /* Random texts from the number alphabet, most of them well formed. */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int k = 0; k < 200000; k++) {
        char t[64];
        size_t n = 0;
        if (rnd(&x) % 4 == 0)
            t[n++] = "+-"[rnd(&x) % 2];
        for (size_t d = rnd(&x) % 18; d-- > 0;)
            t[n++] = (char)('0' + (rnd(&x) % 3 == 0 ? 0 : rnd(&x) % 10));
        if (rnd(&x) % 3) {
            t[n++] = '.';
            for (size_t d = rnd(&x) % 18; d-- > 0;)
                t[n++] = (char)('0' + rnd(&x) % 10);
        }
        if (rnd(&x) % 3 == 0) {
            t[n++] = "eE"[rnd(&x) % 2];
            if (rnd(&x) % 2)
                t[n++] = "+-"[rnd(&x) % 2];
            for (size_t d = rnd(&x) % 4; d-- > 0;)
                t[n++] = (char)('0' + rnd(&x) % 10);
        }
        if (rnd(&x) % 50 == 0 && n) {
            size_t at = rnd(&x) % n;
            t[at] = "+-.eE5"[rnd(&x) % 6]; /* some malformed ones */
        }
        t[n] = '\0';
        check_double(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(typed_cells), cmocka_unit_test(doubles_as_strtod),
        cmocka_unit_test(timestamps),  cmocka_unit_test(inference),
        cmocka_unit_test(jsonl_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
