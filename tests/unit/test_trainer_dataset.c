/* test_trainer_dataset.c - ds_cols: stored values -> prep columns (the one conversion training,
 * batch and online prediction share), STRING_ARRAY as multi-hot tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "trainer/dataset.h"

static void string_array(buf *b, const char *const *tok, size_t n)
{
    buf_reset(b);
    value_encode_string_array_begin(b);
    for (size_t i = 0; i < n; i++)
        value_encode_string_array_add(b, slice_of(tok[i]));
}

static void string_array_tokens(void **state)
{
    (void)state;
    const char *names[] = {"u__tags", "u__x"};
    value_type types[] = {VT_STRING_ARRAY, VT_DOUBLE};
    ds_cols c;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(ds_cols_init(&c, 2, names, types, NULL, &err), 0);
    assert_int_equal(c.kinds[0], PREP_MULTI_HOT);
    buf b = BUF_INIT, x = BUF_INIT;
    /* row 0 {red, blue}; row 1 NULL (no value); row 2 {} ; row 3 {blue, "", blue} */
    const char *r0[] = {"red", "blue"}, *r3[] = {"blue", "", "blue"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(ds_cols_add_row(&c), (size_t)i);
    string_array(&b, r0, 2);
    assert_int_equal(ds_cols_set(&c, 0, 0, buf_slice(&b), &err), 0);
    assert_int_equal(ds_cols_set(&c, 1, 0, (slice){NULL, 0}, &err), 0);
    string_array(&b, NULL, 0);
    assert_int_equal(ds_cols_set(&c, 2, 0, buf_slice(&b), &err), 0);
    string_array(&b, r3, 3);
    assert_int_equal(ds_cols_set(&c, 3, 0, buf_slice(&b), &err), 0);
    value_encode_double(&x, 2.5);
    assert_int_equal(ds_cols_set(&c, 3, 1, buf_slice(&x), &err), 0);
    /* a value of another type where a STRING_ARRAY is read is an error */
    buf_reset(&x);
    value_encode_bytes(&x, VT_STRING, SLICE_LIT("red"));
    assert_int_equal(ds_cols_set(&c, 2, 0, buf_slice(&x), &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "u__tags"));
    err_clear(&err);

    /* all rows */
    ds_input in;
    assert_int_equal(ds_cols_input(&c, NULL, 0, &in), 0);
    const prep_column *pc = &in.in.cols[0];
    assert_int_equal(pc->kind, PREP_MULTI_HOT);
    const size_t want_off[] = {0, 2, 2, 2, 5};
    assert_memory_equal(pc->tok_off, want_off, sizeof want_off);
    const char *want_tok[] = {"red", "blue", "blue", "", "blue"};
    for (size_t t = 0; t < 5; t++)
        assert_true(slice_eq_str(pc->cat[t], want_tok[t]));
    assert_int_equal(pc->missing[0], 0);
    assert_int_equal(pc->missing[1], 1); /* NULL */
    assert_int_equal(pc->missing[2], 0); /* the empty bag is a value */
    assert_true(isnan(in.in.cols[1].num[0]) && in.in.cols[1].num[3] == 2.5);

    /* prep over it: blue is in 2 rows, red and "" in 1 */
    prep_options o;
    prep_options_default(&o);
    prep *p = NULL;
    assert_int_equal(prep_fit(&o, &in.in, &p, &err), 0);
    assert_string_equal(prep_output_name(p, 0), "u__tags=blue");
    assert_string_equal(prep_output_name(p, 1), "u__tags=");
    assert_string_equal(prep_output_name(p, 2), "u__tags=red");
    assert_string_equal(prep_output_name(p, 3), "u__tags=__missing__");
    ds_input_free(&in);

    /* a selection, in another order: rows 3 and 0 */
    size_t sel[] = {3, 0};
    assert_int_equal(ds_cols_input(&c, sel, 2, &in), 0);
    pc = &in.in.cols[0];
    const size_t want_sel[] = {0, 3, 5};
    assert_memory_equal(pc->tok_off, want_sel, sizeof want_sel);
    assert_true(slice_eq_str(pc->cat[0], "blue") && slice_eq_str(pc->cat[3], "red"));
    size_t n = prep_n_outputs(p);
    double out[2 * 8];
    assert_int_equal(prep_transform(p, &in.in, out, &err), 0);
    const double want[2][4] = {{1, 1, 0, 0}, {1, 0, 1, 0}};
    assert_int_equal(n, 6); /* the 4 tags columns, then u__x and u__x__missing */
    for (size_t r = 0; r < 2; r++)
        for (size_t j = 0; j < 4; j++)
            assert_true(out[r * n + j] == want[r][j]);
    ds_input_free(&in);
    prep_destroy(p);
    ds_cols_free(&c);
    buf_free(&b);
    buf_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(string_array_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
