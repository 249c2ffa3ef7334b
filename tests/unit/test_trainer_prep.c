/* test_trainer_prep.c - preprocessing: fit, transform, fallbacks, JSON round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/prep.h"

static prep *fit_ok(const prep_options *o, const prep_column *cols, size_t n_cols, size_t n_rows)
{
    prep *p = NULL;
    strata_err err = STRATA_ERR_INIT;
    prep_input in = {n_rows, n_cols, cols};
    int rc = prep_fit(o, &in, &p, &err);
    if (rc)
        fprintf(stderr, "prep_fit: %s\n", err.message);
    assert_int_equal(rc, 0);
    return p;
}

static void numeric_standardize(void **state)
{
    (void)state;
    double x[] = {1, 2, 3, 4};
    double c[] = {5, 5, 5, 5};
    prep_column cols[] = {
        {.name = "x", .kind = PREP_NUMERIC, .num = x},
        {.name = "c", .kind = PREP_NUMERIC, .num = c},
    };
    prep_options o;
    prep_options_default(&o);
    prep *p = fit_ok(&o, cols, 2, 4);
    assert_int_equal(prep_n_outputs(p), 2);
    assert_string_equal(prep_output_name(p, 0), "x");
    assert_string_equal(prep_output_name(p, 1), "c");
    assert_null(prep_output_name(p, 2));
    /* the constant column is kept, scaled by 1 (all zeros), and reported */
    assert_int_equal(json_array_size(prep_warnings(p)), 1);
    assert_non_null(strstr(json_string_value(json_array_get(prep_warnings(p), 0)), "'c'"));
    double out[8];
    strata_err err = STRATA_ERR_INIT;
    prep_input in = {4, 2, cols};
    assert_int_equal(prep_transform(p, &in, out, &err), 0);
    double sd = sqrt(1.25); /* population std of 1..4 */
    for (int i = 0; i < 4; i++) {
        assert_true(fabs(out[2 * i] - (x[i] - 2.5) / sd) < 1e-15);
        assert_true(out[2 * i + 1] == 0.0);
    }
    prep_destroy(p);

    /* numeric "none": values pass unchanged */
    o.numeric = PREP_NUMERIC_NONE;
    p = fit_ok(&o, cols, 2, 4);
    assert_int_equal(json_array_size(prep_warnings(p)), 0);
    assert_int_equal(prep_transform(p, &in, out, &err), 0);
    for (int i = 0; i < 4; i++) {
        assert_true(out[2 * i] == x[i]);
        assert_true(out[2 * i + 1] == 5);
    }
    prep_destroy(p);
}

static void numeric_missing(void **state)
{
    (void)state;
    /* NaN and the mask both mean NULL; the mean is over observed values */
    double x[] = {1, NAN, 3, 100};
    uint8_t miss[] = {0, 0, 0, 1};
    prep_column cols[] = {{.name = "x", .kind = PREP_NUMERIC, .num = x, .missing = miss}};
    prep_options o;
    prep_options_default(&o);
    prep *p = fit_ok(&o, cols, 1, 4);
    assert_int_equal(prep_n_outputs(p), 2);
    assert_string_equal(prep_output_name(p, 1), "x__missing");
    double out[8];
    strata_err err = STRATA_ERR_INIT;
    prep_input in = {4, 1, cols};
    assert_int_equal(prep_transform(p, &in, out, &err), 0);
    /* mean 2, std 1 */
    double want[] = {-1, 0, 0, 1, 1, 0, 0, 1};
    for (int i = 0; i < 8; i++)
        assert_true(fabs(out[i] - want[i]) < 1e-15);
    prep_destroy(p);

    /* no NULL in training: no indicator; a NULL at prediction becomes the mean */
    double t[] = {1, 3};
    cols[0] = (prep_column){.name = "x", .kind = PREP_NUMERIC, .num = t};
    p = fit_ok(&o, cols, 1, 2);
    assert_int_equal(prep_n_outputs(p), 1);
    double q[] = {NAN};
    prep_column pc = {.name = "x", .kind = PREP_NUMERIC, .num = q};
    prep_input one = {1, 1, &pc};
    assert_int_equal(prep_transform(p, &one, out, &err), 0);
    assert_true(out[0] == 0);
    prep_destroy(p);

    /* missing = error names the column and row */
    o.missing = PREP_MISSING_ERROR;
    cols[0] = (prep_column){.name = "x", .kind = PREP_NUMERIC, .num = x};
    prep_input in2 = {3, 1, cols};
    assert_int_equal(prep_fit(&o, &in2, &p, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "'x'"));
    assert_non_null(strstr(err.message, "row 1"));
}

static void numeric_infinite(void **state)
{
    (void)state;
    double x[] = {1, 2, INFINITY};
    prep_column cols[] = {{.name = "amount", .kind = PREP_NUMERIC, .num = x}};
    prep_options o;
    prep_options_default(&o);
    prep *p = NULL;
    strata_err err = STRATA_ERR_INIT;
    prep_input in = {3, 1, cols};
    assert_int_equal(prep_fit(&o, &in, &p, &err), STRATA_INVALID_ARGUMENT);
    assert_null(p);
    assert_string_equal(err.message, "column 'amount': row 2 holds an infinite value");
    p = fit_ok(&o, cols, 1, 2);
    double out[3];
    assert_int_equal(prep_transform(p, &in, out, &err), STRATA_INVALID_ARGUMENT);
    assert_string_equal(err.message, "column 'amount': row 2 holds an infinite value");
    prep_destroy(p);

    /* a column with no values at all: mean 0, scale 1, warned */
    double nan3[] = {NAN, NAN, NAN};
    cols[0].num = nan3;
    p = fit_ok(&o, cols, 1, 3);
    assert_int_equal(prep_n_outputs(p), 2);
    assert_true(json_array_size(prep_warnings(p)) >= 1);
    prep_destroy(p);
}

static slice S(const char *s)
{
    return slice_of(s);
}

static void categorical(void **state)
{
    (void)state;
    /* counts: b 3, a 2, c 2, d 1 -> with max 3: b, a, c (a/c tie by byte order) */
    slice v[] = {S("c"), S("b"), S("a"), S("b"), S("d"), S("a"), S("b"), S("c"), S("")};
    uint8_t miss[] = {0, 0, 0, 0, 0, 0, 0, 0, 1};
    prep_column cols[] = {{.name = "city", .kind = PREP_CATEGORICAL, .cat = v, .missing = miss}};
    prep_options o;
    prep_options_default(&o);
    o.max_categories = 3;
    prep *p = fit_ok(&o, cols, 1, 9);
    const char *names[] = {"city=b", "city=a", "city=c", "city=__other__", "city=__missing__"};
    assert_int_equal(prep_n_outputs(p), 5);
    for (int j = 0; j < 5; j++)
        assert_string_equal(prep_output_name(p, (size_t)j), names[j]);
    /* transform: d -> other, unseen -> other, NULL -> missing */
    slice t[] = {S("a"), S("d"), S("zzz"), S("x"), S("b")};
    uint8_t tm[] = {0, 0, 0, 1, 0};
    prep_column tc = {.name = "city", .kind = PREP_CATEGORICAL, .cat = t, .missing = tm};
    prep_input in = {5, 1, &tc};
    double out[25];
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(prep_transform(p, &in, out, &err), 0);
    int hot[] = {1, 3, 3, 4, 0};
    for (int r = 0; r < 5; r++)
        for (int j = 0; j < 5; j++)
            assert_true(out[r * 5 + j] == (j == hot[r] ? 1.0 : 0.0));
    prep_destroy(p);

    /* no NULL in training: a NULL at prediction goes to __other__ */
    p = fit_ok(&o, cols, 1, 8);
    assert_int_equal(prep_n_outputs(p), 4);
    assert_int_equal(prep_transform(p, &in, out, &err), 0);
    assert_true(out[3 * 4 + 3] == 1.0);
    prep_destroy(p);
}

static void multi_hot(void **state)
{
    (void)state;
    /* rows: {a,b,a} {b} {} NULL {c,b} {d} -> rows holding: b 3, a 1, c 1, d 1
     * (a counts once for row 0); max 3 keeps b, then a and c (ties by byte order) */
    slice tok[] = {S("a"), S("b"), S("a"), S("b"), S("c"), S("b"), S("d")};
    size_t off[] = {0, 3, 4, 4, 4, 6, 7};
    uint8_t miss[] = {0, 0, 0, 1, 0, 0};
    prep_column cols[] = {
        {.name = "tags", .kind = PREP_MULTI_HOT, .cat = tok, .tok_off = off, .missing = miss}};
    prep_options o;
    prep_options_default(&o);
    o.max_categories = 3;
    prep *p = fit_ok(&o, cols, 1, 6);
    const char *names[] = {"tags=b", "tags=a", "tags=c", "tags=__missing__"};
    assert_int_equal(prep_n_outputs(p), 4);
    for (int j = 0; j < 4; j++)
        assert_string_equal(prep_output_name(p, (size_t)j), names[j]);
    /* transform: a bag sets every known token once; unseen tokens (d, zz) are ignored; an
     * empty bag is all zeros; NULL sets the indicator only */
    slice t[] = {S("c"), S("zz"), S("a"), S("a"), S("d"), S("b"), S("b")};
    size_t toff[] = {0, 4, 5, 5, 5, 7};
    uint8_t tm[] = {0, 0, 0, 1, 0};
    prep_column tc = {
        .name = "tags", .kind = PREP_MULTI_HOT, .cat = t, .tok_off = toff, .missing = tm};
    prep_input in = {5, 1, &tc};
    double out[20];
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(prep_transform(p, &in, out, &err), 0);
    const double want[5][4] = {{0, 1, 1, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 1},
                               {1, 0, 0, 0}};
    for (int r = 0; r < 5; r++)
        for (int j = 0; j < 4; j++)
            assert_true(out[r * 4 + j] == want[r][j]);
    /* the saved form transforms bit for bit alike */
    json_t *j = prep_to_json(p);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "columns"), 0), "kind")),
                        "multi_hot");
    prep *q = NULL;
    assert_int_equal(prep_from_json(j, &q, &err), 0);
    double out2[20];
    assert_int_equal(prep_transform(q, &in, out2, &err), 0);
    assert_memory_equal(out, out2, sizeof out);
    prep_destroy(q);
    json_decref(j);
    /* a categorical input for a multi-hot column, and offsets that go backwards */
    prep_column cat = {.name = "tags", .kind = PREP_CATEGORICAL, .cat = t};
    prep_input in2 = {5, 1, &cat};
    assert_int_equal(prep_transform(p, &in2, out, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "categorical in the input but was multi_hot"));
    size_t bad[] = {0, 4, 2, 5, 5, 7};
    tc.tok_off = bad;
    assert_int_equal(prep_transform(p, &in, out, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "decrease at row 1"));
    prep_destroy(p);

    /* no NULL in training: no indicator, and a NULL at prediction is an empty bag */
    p = fit_ok(&o, cols, 1, 3);
    assert_int_equal(prep_n_outputs(p), 2); /* b (2 rows), a (1): the tokens of rows 0..2 */
    assert_string_equal(prep_output_name(p, 0), "tags=b");
    assert_string_equal(prep_output_name(p, 1), "tags=a");
    tc.tok_off = toff;
    assert_int_equal(prep_transform(p, &in, out, &err), 0);
    assert_true(out[3 * 2] == 0.0 && out[3 * 2 + 1] == 0.0);
    assert_true(out[0] == 0.0 && out[1] == 1.0);
    prep_destroy(p);
}

static void arrays(void **state)
{
    (void)state;
    /* 3 rows of width 2; row 1 NULL as a whole, row 2 has a NaN element */
    double e[] = {1, 10, 0, 0, 3, NAN};
    uint8_t miss[] = {0, 1, 0};
    prep_column cols[] = {
        {.name = "emb", .kind = PREP_NUMERIC_ARRAY, .width = 2, .num = e, .missing = miss}};
    prep_options o;
    prep_options_default(&o);
    prep *p = fit_ok(&o, cols, 1, 3);
    assert_int_equal(prep_n_outputs(p), 3);
    assert_string_equal(prep_output_name(p, 0), "emb[0]");
    assert_string_equal(prep_output_name(p, 1), "emb[1]");
    assert_string_equal(prep_output_name(p, 2), "emb__missing");
    double out[9];
    strata_err err = STRATA_ERR_INIT;
    prep_input in = {3, 1, cols};
    assert_int_equal(prep_transform(p, &in, out, &err), 0);
    /* element 0: values 1, 3 -> mean 2 std 1; element 1: only 10 -> constant */
    double want[] = {-1, 0, 0, 0, 0, 1, 1, 0, 1};
    for (int i = 0; i < 9; i++)
        assert_true(fabs(out[i] - want[i]) < 1e-15);
    /* width mismatch at prediction */
    prep_column bad = cols[0];
    bad.width = 3;
    prep_input in2 = {1, 1, &bad};
    assert_int_equal(prep_transform(p, &in2, out, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "3 elements"));
    prep_destroy(p);
}

static void input_matching(void **state)
{
    (void)state;
    double a[] = {1, 2, 3}, b[] = {4, 6, 8};
    prep_column cols[] = {
        {.name = "a", .kind = PREP_NUMERIC, .num = a},
        {.name = "b", .kind = PREP_NUMERIC, .num = b},
    };
    prep_options o;
    prep_options_default(&o);
    prep *p = fit_ok(&o, cols, 2, 3);
    double o1[6], o2[6];
    strata_err err = STRATA_ERR_INIT;
    prep_input in = {3, 2, cols};
    assert_int_equal(prep_transform(p, &in, o1, &err), 0);
    /* other order plus an extra column: same rows */
    double z[] = {0, 0, 0};
    prep_column swapped[] = {
        {.name = "zz", .kind = PREP_NUMERIC, .num = z},
        {.name = "b", .kind = PREP_NUMERIC, .num = b},
        {.name = "a", .kind = PREP_NUMERIC, .num = a},
    };
    prep_input in2 = {3, 3, swapped};
    assert_int_equal(prep_transform(p, &in2, o2, &err), 0);
    assert_memory_equal(o1, o2, sizeof o1);
    /* a fitted column absent, or of another kind */
    prep_input in3 = {3, 1, swapped + 1};
    assert_int_equal(prep_transform(p, &in3, o2, &err), STRATA_INVALID_ARGUMENT);
    assert_string_equal(err.message, "column 'a' is missing from the input");
    slice sv[] = {S("x"), S("y"), S("z")};
    prep_column kinds[] = {
        {.name = "a", .kind = PREP_CATEGORICAL, .cat = sv},
        {.name = "b", .kind = PREP_NUMERIC, .num = b},
    };
    prep_input in4 = {3, 2, kinds};
    assert_int_equal(prep_transform(p, &in4, o2, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "categorical in the input but was numeric"));
    prep_destroy(p);
    /* duplicate names, no rows */
    prep_column dup[] = {cols[0], cols[0]};
    prep_input in5 = {3, 2, dup};
    assert_int_equal(prep_fit(&o, &in5, &p, &err), STRATA_INVALID_ARGUMENT);
    prep_input in6 = {0, 2, cols};
    assert_int_equal(prep_fit(&o, &in6, &p, &err), STRATA_INVALID_ARGUMENT);
}

static void json_round_trip(void **state)
{
    (void)state;
    /* awkward doubles: the round trip must be exact */
    enum { N = 7 };
    double x[N] = {0.1, 1.0 / 3, 2e-308, 12345.678901234567, -7.25, NAN, 1e15 + 0.3};
    double e[2 * N] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12.5, 0.3, 1e-7};
    slice c[N] = {S("\xc3\xa9t\xc3\xa9"), S("b"), S("a\"q"), S("b"), S(""), S("b"), S("zz")};
    prep_column cols[] = {
        {.name = "x", .kind = PREP_NUMERIC, .num = x},
        {.name = "emb", .kind = PREP_NUMERIC_ARRAY, .width = 2, .num = e},
        {.name = "c", .kind = PREP_CATEGORICAL, .cat = c},
    };
    prep_options o;
    prep_options_default(&o);
    o.max_categories = 4;
    prep *p = fit_ok(&o, cols, 3, N);
    json_t *j = prep_to_json(p);
    assert_non_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    json_t *back = json_loads(text, 0, NULL);
    assert_non_null(back);
    prep *q = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(prep_from_json(back, &q, &err), 0);
    assert_int_equal(prep_n_outputs(q), prep_n_outputs(p));
    for (size_t k = 0; k < prep_n_outputs(p); k++)
        assert_string_equal(prep_output_name(p, k), prep_output_name(q, k));
    size_t w = prep_n_outputs(p);
    double *a = calloc(N * w, sizeof *a), *b = calloc(N * w, sizeof *b);
    prep_input in = {N, 3, cols};
    assert_int_equal(prep_transform(p, &in, a, &err), 0);
    assert_int_equal(prep_transform(q, &in, b, &err), 0);
    assert_memory_equal(a, b, N * w * sizeof *a);
    /* and serializing again gives the same text */
    json_t *j2 = prep_to_json(q);
    char *text2 = json_dumps(j2, JSON_COMPACT);
    assert_string_equal(text, text2);
    free(text2);
    json_decref(j2);

    /* corrupt objects are refused, naming the member */
    json_t *bad = json_deep_copy(back);
    json_object_set_new(json_array_get(json_object_get(bad, "columns"), 0), "scale", json_real(0));
    prep *r = NULL;
    assert_int_equal(prep_from_json(bad, &r, &err), STRATA_INVALID_ARGUMENT);
    assert_null(r);
    assert_non_null(strstr(err.message, "columns[0].scale"));
    json_decref(bad);
    bad = json_deep_copy(back);
    json_t *cats =
        json_object_get(json_array_get(json_object_get(bad, "columns"), 2), "categories");
    json_array_append(cats, json_array_get(cats, 0)); /* a duplicate */
    assert_int_equal(prep_from_json(bad, &r, &err), STRATA_INVALID_ARGUMENT);
    assert_null(r);
    json_decref(bad);
    bad = json_deep_copy(back);
    json_object_set_new(bad, "version", json_integer(99));
    assert_int_equal(prep_from_json(bad, &r, &err), STRATA_INVALID_ARGUMENT);
    json_decref(bad);
    bad = json_deep_copy(back);
    json_object_set_new(json_array_get(json_object_get(bad, "columns"), 1), "width",
                        json_integer(3));
    assert_int_equal(prep_from_json(bad, &r, &err), STRATA_INVALID_ARGUMENT);
    json_decref(bad);

    free(a);
    free(b);
    free(text);
    json_decref(j);
    json_decref(back);
    prep_destroy(p);
    prep_destroy(q);
}

static void options_json(void **state)
{
    (void)state;
    prep_options o;
    strata_err err = STRATA_ERR_INIT;
    json_t *j = json_pack("{s:s, s:s, s:i, s:s}", "numeric", "none", "categorical", "one_hot",
                          "max_categories", 7, "missing", "error");
    assert_int_equal(prep_options_from_json(j, &o, &err), 0);
    assert_int_equal(o.numeric, PREP_NUMERIC_NONE);
    assert_int_equal(o.missing, PREP_MISSING_ERROR);
    assert_int_equal(o.max_categories, 7);
    json_decref(j);
    j = json_pack("{s:i}", "max_categories", 0);
    assert_int_equal(prep_options_from_json(j, &o, &err), STRATA_INVALID_ARGUMENT);
    json_decref(j);
    j = json_pack("{s:s}", "numerik", "none");
    assert_int_equal(prep_options_from_json(j, &o, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "numerik"));
    json_decref(j);
    assert_int_equal(prep_options_from_json(NULL, &o, &err), 0);
    assert_int_equal(o.max_categories, 100);
}

/* Many distinct values (table growth) and the top-k cut. */
static void many_categories(void **state)
{
    (void)state;
    enum { N = 20000 };
    slice *v = calloc(N, sizeof *v);
    char(*txt)[16] = calloc(N, sizeof *txt);
    for (int i = 0; i < N; i++) {
        /* 5000 keys, each 4 times: the cut is decided by byte order alone */
        int k = (i * 7919) % 5000;
        snprintf(txt[i], sizeof txt[i], "v%d", k);
        v[i] = slice_of(txt[i]);
    }
    prep_column cols[] = {{.name = "id", .kind = PREP_CATEGORICAL, .cat = v}};
    prep_options o;
    prep_options_default(&o);
    o.max_categories = 50;
    prep *p = fit_ok(&o, cols, 1, N);
    assert_int_equal(prep_n_outputs(p), 51);
    double *out = calloc((size_t)N * 51, sizeof *out);
    strata_err err = STRATA_ERR_INIT;
    prep_input in = {N, 1, cols};
    assert_int_equal(prep_transform(p, &in, out, &err), 0);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < 51; j++)
            s += out[(size_t)i * 51 + j];
        assert_true(s == 1.0);
    }
    free(out);
    free(v);
    free(txt);
    prep_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numeric_standardize),
        cmocka_unit_test(numeric_missing),
        cmocka_unit_test(numeric_infinite),
        cmocka_unit_test(categorical),
        cmocka_unit_test(multi_hot),
        cmocka_unit_test(arrays),
        cmocka_unit_test(input_matching),
        cmocka_unit_test(json_round_trip),
        cmocka_unit_test(options_json),
        cmocka_unit_test(many_categories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
