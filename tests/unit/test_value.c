/* test_value.c - the typed value codec: JSON in, bytes, JSON out, and refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/limits.h"
#include "store/value.h"

/* Encode JSON text as type t; returns the status, fills out. */
static int enc(value_type t, const char *json, buf *out, strata_err *err)
{
    json_error_t je;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    int rc = value_encode_json(t, j, out, err);
    json_decref(j);
    return rc;
}

/* Encode, then write back as JSON; the text must equal `want`. */
static void round_trip(value_type t, const char *json, const char *want)
{
    buf b = BUF_INIT, out = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(enc(t, json, &b, &err), 0);
    value_view v;
    assert_int_equal(value_decode(buf_slice(&b), &v), 0);
    value_write_json(&out, buf_slice(&b));
    assert_string_equal(out.p, want);
    buf_free(&b);
    buf_free(&out);
}

/* Encoding must fail with INVALID_ARGUMENT, a message containing `msg`, and
 * leave the output buffer exactly as it was. */
static void rejects(value_type t, const char *json, const char *msg)
{
    buf b = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    buf_append_str(&b, "keep");
    assert_int_equal(enc(t, json, &b, &err), STRATA_INVALID_ARGUMENT);
    assert_int_equal(err.code, STRATA_INVALID_ARGUMENT);
    if (!strstr(err.message, msg))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, msg);
    assert_int_equal(b.n, 4);
    assert_memory_equal(b.p, "keep", 4);
    buf_free(&b);
}

static void test_type_names(void **state)
{
    for (int t = VT_BOOL; t <= VT_MAX; t++) {
        value_type back;
        const char *name = value_type_name((value_type)t);
        assert_non_null(name);
        assert_int_equal(value_type_parse(slice_of(name), &back), 0);
        assert_int_equal(back, t);
    }
    value_type x;
    assert_null(value_type_name(VT_NULL));
    assert_null(value_type_name((value_type)99));
    assert_int_equal(value_type_parse(SLICE_LIT("int64"), &x), -1);
    assert_int_equal(value_type_parse(SLICE_LIT("NULL"), &x), -1);
    assert_int_equal(value_type_parse(SLICE_LIT(""), &x), -1);
    assert_string_equal(value_type_name(VT_DOUBLE_ARRAY), "DOUBLE_ARRAY");
}

static void test_round_trips(void **state)
{
    round_trip(VT_BOOL, "true", "true");
    round_trip(VT_BOOL, "false", "false");
    round_trip(VT_INT64, "31", "31");
    round_trip(VT_INT64, "-9223372036854775808", "-9223372036854775808");
    round_trip(VT_INT64, "9223372036854775807", "9223372036854775807");
    round_trip(VT_INT64, "3.0", "3"); /* integral reals are accepted */
    round_trip(VT_DOUBLE, "2.5", "2.5");
    round_trip(VT_DOUBLE, "3", "3.0"); /* an integer is a number too */
    round_trip(VT_DOUBLE, "0.1", "0.1");
    round_trip(VT_DOUBLE, "-1e300", "-1e+300");
    round_trip(VT_STRING, "\"k\\u00f6ln \\\"q\\\"\"", "\"k\xc3\xb6ln \\\"q\\\"\"");
    round_trip(VT_STRING, "\"\"", "\"\"");
    round_trip(VT_BYTES, "\"AAEC/w==\"", "\"AAEC/w==\"");
    round_trip(VT_BYTES, "\"\"", "\"\"");
    round_trip(VT_INT64_ARRAY, "[1,-2,3]", "[1,-2,3]");
    round_trip(VT_INT64_ARRAY, "[]", "[]");
    round_trip(VT_DOUBLE_ARRAY, "[0.5,1,-2.25]", "[0.5,1.0,-2.25]");
    round_trip(VT_STRING_ARRAY, "[\"a\",\"\",\"bc\"]", "[\"a\",\"\",\"bc\"]");
    round_trip(VT_STRING_ARRAY, "[]", "[]");
    for (int t = VT_BOOL; t <= VT_MAX; t++)
        round_trip((value_type)t, "null", "null");
}

static void test_decoded_views(void **state)
{
    buf b = BUF_INIT;
    value_view v;
    assert_int_equal(enc(VT_INT64_ARRAY, "[7,-8]", &b, NULL), 0);
    assert_int_equal(value_decode(buf_slice(&b), &v), 0);
    assert_int_equal(v.tag, VT_INT64_ARRAY);
    assert_int_equal(v.count, 2);
    assert_true(value_int64_at(&v, 1) == -8);

    buf_reset(&b);
    assert_int_equal(enc(VT_BYTES, "\"AP8=\"", &b, NULL), 0);
    assert_int_equal(value_decode(buf_slice(&b), &v), 0);
    assert_int_equal(v.s.n, 2);
    assert_memory_equal(v.s.p, "\x00\xff", 2);

    buf_reset(&b);
    assert_int_equal(enc(VT_STRING_ARRAY, "[\"x\",\"yz\"]", &b, NULL), 0);
    assert_int_equal(value_decode(buf_slice(&b), &v), 0);
    assert_int_equal(v.count, 2);
    size_t pos = 0;
    slice s;
    assert_int_equal(value_string_next(&v, &pos, &s), 1);
    assert_true(slice_eq_str(s, "x"));
    assert_int_equal(value_string_next(&v, &pos, &s), 1);
    assert_true(slice_eq_str(s, "yz"));
    assert_int_equal(value_string_next(&v, &pos, &s), 0);

    buf_reset(&b);
    assert_int_equal(enc(VT_DOUBLE, "-0.25", &b, NULL), 0);
    assert_int_equal(value_decode(buf_slice(&b), &v), 0);
    assert_true(v.d == -0.25);
    buf_free(&b);
}

/* The typed constructors produce the same bytes as the JSON path. */
static void test_typed_constructors(void **state)
{
    buf a = BUF_INIT, b = BUF_INIT;
#define SAME(stmt, t, json)                                                                        \
    do {                                                                                           \
        buf_reset(&a);                                                                             \
        buf_reset(&b);                                                                             \
        stmt;                                                                                      \
        assert_int_equal(enc(t, json, &b, NULL), 0);                                               \
        assert_int_equal(a.n, b.n);                                                                \
        assert_memory_equal(a.p, b.p, a.n);                                                        \
    } while (0)
    SAME(value_encode_null(&a), VT_INT64, "null");
    SAME(value_encode_bool(&a, true), VT_BOOL, "true");
    SAME(value_encode_int64(&a, -5), VT_INT64, "-5");
    SAME(value_encode_double(&a, 1.5), VT_DOUBLE, "1.5");
    SAME(value_encode_bytes(&a, VT_STRING, SLICE_LIT("hi")), VT_STRING, "\"hi\"");
    SAME(value_encode_bytes(&a, VT_BYTES, SLICE_LIT("hi")), VT_BYTES, "\"aGk=\"");
    int64_t iv[] = {1, 2};
    SAME(value_encode_int64_array(&a, iv, 2), VT_INT64_ARRAY, "[1,2]");
    double dv[] = {0.5};
    SAME(value_encode_double_array(&a, dv, 1), VT_DOUBLE_ARRAY, "[0.5]");
    SAME((value_encode_string_array_begin(&a), value_encode_string_array_add(&a, SLICE_LIT("q"))),
         VT_STRING_ARRAY, "[\"q\"]");
#undef SAME
    /* The layout itself: tag byte, then little-endian payload. */
    buf_reset(&a);
    value_encode_int64(&a, 0x0102030405060708);
    assert_int_equal(a.n, 9);
    assert_memory_equal(a.p, "\x02\x08\x07\x06\x05\x04\x03\x02\x01", 9);
    buf_free(&a);
    buf_free(&b);
}

static void test_wrong_json_types(void **state)
{
    rejects(VT_BOOL, "1", "expected BOOL, got integer");
    rejects(VT_BOOL, "\"true\"", "expected BOOL, got string");
    rejects(VT_INT64, "\"3\"", "expected INT64, got string");
    rejects(VT_INT64, "true", "expected INT64, got boolean");
    rejects(VT_INT64, "[1]", "expected INT64, got array");
    rejects(VT_DOUBLE, "\"2.5\"", "expected DOUBLE, got string");
    rejects(VT_DOUBLE, "{}", "expected DOUBLE, got object");
    rejects(VT_STRING, "5", "expected STRING, got integer");
    rejects(VT_STRING, "[\"a\"]", "expected STRING, got array");
    rejects(VT_BYTES, "5", "expected BYTES, got integer");
    rejects(VT_INT64_ARRAY, "1", "expected INT64_ARRAY, got integer");
    rejects(VT_INT64_ARRAY, "[1,\"2\"]", "element 1: expected INT64, got string");
    rejects(VT_INT64_ARRAY, "[1,null]", "element 1: expected INT64, got null");
    rejects(VT_INT64_ARRAY, "[[1]]", "element 0: expected INT64, got array");
    rejects(VT_DOUBLE_ARRAY, "[0.5,true]", "element 1: expected DOUBLE, got boolean");
    rejects(VT_DOUBLE_ARRAY, "[null]", "element 0: expected DOUBLE, got null");
    rejects(VT_STRING_ARRAY, "[\"a\",1]", "element 1: expected STRING, got integer");
    rejects(VT_STRING_ARRAY, "\"a\"", "expected STRING_ARRAY, got string");
    rejects((value_type)0, "1", "invalid value type");
    rejects((value_type)42, "1", "invalid value type");
}

static void test_int_range(void **state)
{
    rejects(VT_INT64, "3.5", "non-integral");
    rejects(VT_INT64, "0.1", "got non-integral number 0.1"); /* not 0.10000000000000001 */
    rejects(VT_INT64, "1e19", "exact only below 2^53");
    rejects(VT_INT64, "-1e19", "exact only below 2^53");
    rejects(VT_INT64, "9223372036854775808.0", "exact only below 2^53");
    /* Integral and exact as doubles: taken as integers. */
    round_trip(VT_INT64, "31.0", "31");
    round_trip(VT_INT64, "1e3", "1000");
    round_trip(VT_INT64, "9007199254740991.0", "9007199254740991");
    round_trip(VT_INT64, "-9007199254740991.0", "-9007199254740991");
    /* A double would hold ...992: refused rather than changed. */
    rejects(VT_INT64, "9007199254740993.0", "exact only below 2^53");
    rejects(VT_INT64, "-9007199254740992.0", "exact only below 2^53");
    /* -2^63 is a double, but so is what -9223372036854775807.0 rounds to. */
    rejects(VT_INT64, "-9223372036854775808.0", "exact only below 2^53");
    rejects(VT_INT64_ARRAY, "[1, 0.5]", "element 1: expected INT64, got non-integral");
    /* Integers past int64 never reach the encoder: jansson refuses them. */
    json_error_t je;
    assert_null(json_loads("9223372036854775808", JSON_DECODE_ANY, &je));
}

static void test_bad_base64(void **state)
{
    rejects(VT_BYTES, "\"abc\"", "base64");
    rejects(VT_BYTES, "\"ab!=\"", "base64");
    rejects(VT_BYTES, "\"a===\"", "base64");
    rejects(VT_BYTES, "\"YWJj\\nZA==\"", "base64");
}

static void test_oversize(void **state)
{
    size_t n = LIMIT_VALUE_BYTES + 1;
    char *s = malloc(n + 3);
    assert_non_null(s);
    s[0] = '"';
    memset(s + 1, 'x', n);
    s[n + 1] = '"';
    s[n + 2] = '\0';
    rejects(VT_STRING, s, "exceeds the limit");
    /* Exactly at the limit is fine. */
    s[n] = '"';
    s[n + 1] = '\0';
    buf b = BUF_INIT;
    assert_int_equal(enc(VT_STRING, s, &b, NULL), 0);
    assert_int_equal(b.n, LIMIT_VALUE_BYTES + 1);
    buf_free(&b);
    free(s);

    /* BYTES: base64 of LIMIT+3 bytes. */
    size_t raw = LIMIT_VALUE_BYTES + 3, b64 = raw / 3 * 4;
    s = malloc(b64 + 3);
    assert_non_null(s);
    s[0] = '"';
    memset(s + 1, 'A', b64);
    s[b64 + 1] = '"';
    s[b64 + 2] = '\0';
    rejects(VT_BYTES, s, "exceeds the limit");
    free(s);

    /* Arrays: the limit counts payload bytes. */
    json_t *arr = json_array();
    for (size_t i = 0; i < LIMIT_VALUE_BYTES / 8 + 1; i++)
        json_array_append_new(arr, json_integer((json_int_t)i));
    buf c = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(value_encode_json(VT_INT64_ARRAY, arr, &c, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "exceeds the limit"));
    assert_int_equal(c.n, 0);
    json_array_remove(arr, 0);
    assert_int_equal(value_encode_json(VT_INT64_ARRAY, arr, &c, &err), 0);
    assert_int_equal(c.n, 1 + LIMIT_VALUE_BYTES);
    json_decref(arr);
    buf_free(&c);
}

static void test_decode_rejects(void **state)
{
    value_view v;
    assert_int_equal(value_decode((slice){"", 0}, &v), -1);
    assert_int_equal(value_decode(SLICE_LIT("\x00\x01"), &v), -1);         /* NULL + payload */
    assert_int_equal(value_decode(SLICE_LIT("\x01\x02"), &v), -1);         /* BOOL 2 */
    assert_int_equal(value_decode(SLICE_LIT("\x01"), &v), -1);             /* BOOL empty */
    assert_int_equal(value_decode(SLICE_LIT("\x02\x01\x02\x03"), &v), -1); /* short INT64 */
    assert_int_equal(value_decode(SLICE_LIT("\x03\x01\x02\x03\x04\x05\x06\x07\x08\x09"), &v), -1);
    assert_int_equal(value_decode(SLICE_LIT("\x06\x01\x02\x03"), &v), -1); /* array % 8 */
    assert_int_equal(value_decode(SLICE_LIT("\x08\x05\x00\x00\x00"
                                            "abc"),
                                  &v),
                     -1);
    assert_int_equal(value_decode(SLICE_LIT("\x08\x01\x00"), &v), -1); /* short length */
    assert_int_equal(value_decode(SLICE_LIT("\x09"), &v), -1);         /* unknown tag */
    assert_int_equal(value_decode(SLICE_LIT("\x00"), &v), 0);
    assert_int_equal(v.tag, VT_NULL);
    assert_int_equal(value_decode(SLICE_LIT("\x08"), &v), 0); /* empty STRING_ARRAY */
    assert_int_equal(v.count, 0);
    buf out = BUF_INIT;
    value_write_json(&out, SLICE_LIT("\x09junk"));
    assert_string_equal(out.p, "null");
    buf_free(&out);
}

static void test_missing_and_null_err(void **state)
{
    buf b = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(value_encode_json(VT_INT64, NULL, &b, &err), STRATA_INVALID_ARGUMENT);
    /* A NULL err is allowed, also on the paths that prefix messages. */
    assert_int_equal(enc(VT_INT64_ARRAY, "[\"x\"]", &b, NULL), STRATA_INVALID_ARGUMENT);
    assert_int_equal(b.n, 0);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),       cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_decoded_views),    cmocka_unit_test(test_typed_constructors),
        cmocka_unit_test(test_wrong_json_types), cmocka_unit_test(test_int_range),
        cmocka_unit_test(test_bad_base64),       cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_decode_rejects),   cmocka_unit_test(test_missing_and_null_err),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
