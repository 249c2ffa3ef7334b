/*
 * test_evaluate.c - eval_compute against a table of cases worked out by hand
 * (confusion matrices, every rate, every disparity convention, the summary,
 * degenerate and empty groups, references, Wilson and z by hand), plus the
 * bootstrap's reproducibility and cost, and bad input. Agreement with
 * scikit-learn on random data is tests/tools/eval_sklearn.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trainer/evaluate.h"
#include "trainer/rng.h"

#define TOL 1e-12

/* Rows built cell by cell from confusion counts. */
typedef struct rows {
    size_t n, cap;
    double *y, *score;
    int32_t *pred;
    uint32_t *code[2];
} rows;

static void rows_add(rows *r, uint32_t a, uint32_t b, double y, int32_t pred, double score)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->y = realloc(r->y, r->cap * sizeof *r->y);
        r->score = realloc(r->score, r->cap * sizeof *r->score);
        r->pred = realloc(r->pred, r->cap * sizeof *r->pred);
        r->code[0] = realloc(r->code[0], r->cap * sizeof *r->code[0]);
        r->code[1] = realloc(r->code[1], r->cap * sizeof *r->code[1]);
    }
    r->y[r->n] = y;
    r->pred[r->n] = pred;
    r->score[r->n] = score;
    r->code[0][r->n] = a;
    r->code[1][r->n] = b;
    r->n++;
}

static void rows_cell(rows *r, uint32_t a, uint32_t b, int tp, int fp, int tn, int fn)
{
    for (int i = 0; i < tp; i++)
        rows_add(r, a, b, 1, 1, 0.9);
    for (int i = 0; i < fp; i++)
        rows_add(r, a, b, 0, 1, 0.8);
    for (int i = 0; i < tn; i++)
        rows_add(r, a, b, 0, 0, 0.1);
    for (int i = 0; i < fn; i++)
        rows_add(r, a, b, 1, 0, 0.2);
}

static void rows_free(rows *r)
{
    free(r->y);
    free(r->score);
    free(r->pred);
    free(r->code[0]);
    free(r->code[1]);
    memset(r, 0, sizeof *r);
}

static const char *const SEX[] = {"M", "F"};
static const char *const RACE[] = {"B", "A", "C"}; /* not in byte order on purpose */

/* The hand table: sex M = M&A + M&B, F = F&A; race C and F&B have no rows.
 *   M&A tp 20 fp 5 tn 30 fn 5 | M&B tp 10 fp 5 tn 20 fn 5 | F&A tp 10 fp 5 tn 25 fn 10 */
static void hand_rows(rows *r)
{
    rows_cell(r, 0, 1, 20, 5, 30, 5);
    rows_cell(r, 0, 0, 10, 5, 20, 5);
    rows_cell(r, 1, 1, 10, 5, 25, 10);
}

static json_t *run(const rows *r, bool scores, bool preds, const eval_options *o, size_t n_attrs)
{
    eval_attr at[2] = {{"sex", 2, SEX, r->code[0]}, {"race", 3, RACE, r->code[1]}};
    eval_data d = {.task = EVAL_BINARY,
                   .n = r->n,
                   .y = r->y,
                   .score = scores ? r->score : NULL,
                   .pred = preds ? r->pred : NULL,
                   .n_attrs = n_attrs,
                   .attrs = at};
    json_t *out = NULL;
    strata_err err = STRATA_ERR_INIT;
    int rc = eval_compute(&d, o, &out, &err);
    if (rc)
        fprintf(stderr, "eval_compute: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    return out;
}

static const json_t *group(const json_t *res, const char *attr, const char *value)
{
    size_t i;
    json_t *g;
    json_array_foreach (json_object_get(res, "groups"), i, g)
        if (strcmp(json_string_value(json_object_get(g, "attribute")), attr) == 0 &&
            strcmp(json_string_value(json_object_get(g, "value")), value) == 0)
            return g;
    fail_msg("no group %s=%s", attr, value);
    return NULL;
}

static double num(const json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *v = o;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
        v = json_object_get(v, tok);
    if (!json_is_number(v))
        fail_msg("%s is not a number", path);
    return json_number_value(v);
}

static bool is_null(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return v && json_is_null(v);
}

static bool has_flag(const json_t *g, const char *flag)
{
    size_t i;
    json_t *f;
    json_array_foreach (json_object_get(g, "flags"), i, f)
        if (strcmp(json_string_value(f), flag) == 0)
            return true;
    return false;
}

#define NEAR(a, b) assert_true(fabs((a) - (b)) < TOL)

static void hand_rates(void **state)
{
    (void)state;
    rows r = {0};
    hand_rows(&r);
    eval_options o;
    eval_options_init(&o);
    o.replicates = 0;
    o.intersections = true;
    json_t *res = run(&r, false, true, &o, 2);

    const json_t *ov = json_object_get(res, "overall");
    NEAR(num(ov, "n"), 150);
    NEAR(num(ov, "confusion.tp"), 40);
    NEAR(num(ov, "confusion.fp"), 15);
    NEAR(num(ov, "confusion.tn"), 75);
    NEAR(num(ov, "confusion.fn"), 20);
    NEAR(num(ov, "accuracy"), 115.0 / 150);
    NEAR(num(ov, "precision"), 40.0 / 55);
    NEAR(num(ov, "recall"), 40.0 / 60);
    NEAR(num(ov, "f1"), 80.0 / 115);
    /* predicted labels only: the score metrics are null, named NO_SCORES */
    assert_true(is_null(ov, "roc_auc"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ov, "undefined"), "roc_auc")),
        "NO_SCORES");
    assert_int_equal(json_array_size(json_object_get(res, "threshold_sweep")), 0);

    const json_t *m = group(res, "sex", "M"), *f = group(res, "sex", "F");
    /* M: tp 30 fp 10 tn 50 fn 10 */
    NEAR(num(m, "n"), 100);
    NEAR(num(m, "base_rate"), 0.4);
    NEAR(num(m, "selection_rate"), 0.4);
    NEAR(num(m, "tpr"), 0.75);
    NEAR(num(m, "fpr"), 10.0 / 60);
    NEAR(num(m, "fnr"), 0.25);
    NEAR(num(m, "tnr"), 50.0 / 60);
    NEAR(num(m, "ppv"), 0.75);
    NEAR(num(m, "npv"), 50.0 / 60);
    NEAR(num(m, "fdr"), 0.25);
    NEAR(num(m, "for"), 10.0 / 60);
    NEAR(num(m, "accuracy"), 0.8);
    assert_true(json_is_true(json_object_get(m, "reference"))); /* the largest */
    assert_false(has_flag(m, "SMALL_GROUP"));
    assert_null(json_object_get(m, "tests")); /* not against itself */
    /* F: tp 10 fp 5 tn 25 fn 10; 50 rows, but 20 positives < 30: SMALL_CLASS, and
     * not SMALL_GROUP (the contract's flag for a group under min_group_size) */
    NEAR(num(f, "selection_rate"), 0.3);
    NEAR(num(f, "tpr"), 0.5);
    NEAR(num(f, "fpr"), 5.0 / 30);
    NEAR(num(f, "ppv"), 10.0 / 15);
    NEAR(num(f, "npv"), 25.0 / 35);
    NEAR(num(f, "for"), 10.0 / 35);
    NEAR(num(f, "accuracy"), 0.7);
    assert_true(has_flag(f, "SMALL_CLASS"));
    assert_false(has_flag(f, "SMALL_GROUP"));
    assert_true(json_is_false(json_object_get(f, "reference")));
    /* z test of F's TPR against M's: pooled 40/60, z = -0.25 / sqrt(1/60) */
    NEAR(num(f, "tests.tpr.z"), -1.9364916731037083);
    NEAR(num(f, "tests.tpr.p_value"), 0.05280751141611366);
    NEAR(num(f, "tests.fpr.z"), 0); /* 5/30 and 10/60 */
    NEAR(num(f, "tests.fpr.p_value"), 1);

    /* disparities of the selection rate over sex: 0.4 (M), 0.3 (F), overall 55/150 */
    const json_t *sel = json_object_get(json_object_get(res, "disparities"), "selection_rate");
    const json_t *sex = json_object_get(json_object_get(sel, "by_attribute"), "sex");
    NEAR(num(sex, "difference_between_groups"), 0.1);
    NEAR(num(sex, "ratio_between_groups"), 0.75);
    NEAR(num(sex, "difference_to_overall"), 55.0 / 150 - 0.3);
    NEAR(num(sex, "ratio_to_overall"), 0.3 / (55.0 / 150));
    assert_string_equal(json_string_value(json_object_get(sex, "reference")), "M");
    NEAR(num(sex, "vs_reference.sex=F.difference"), -0.1);
    NEAR(num(sex, "vs_reference.sex=F.ratio"), 0.75);
    assert_null(json_object_get(json_object_get(sex, "vs_reference"), "sex=M"));
    /* the intersections: F&A 0.3, M&A 25/60, M&B 15/40; F&B, F&C, M&C empty and left out */
    const json_t *sr = json_object_get(json_object_get(sel, "by_attribute"), "sex&race");
    NEAR(num(sr, "difference_between_groups"), 25.0 / 60 - 0.3);
    NEAR(num(sr, "ratio_between_groups"), 0.3 / (25.0 / 60));
    assert_string_equal(json_string_value(json_object_get(sr, "reference")), "M&A");
    assert_null(json_object_get(json_object_get(sr, "vs_reference"), "sex&race=F&B"));
    NEAR(num(sr, "vs_reference.sex&race=M&B.difference"), 15.0 / 40 - 25.0 / 60);
    /* the top level is the worst set: the intersection */
    assert_string_equal(json_string_value(json_object_get(sel, "attribute")), "sex&race");
    NEAR(num(sel, "difference_between_groups"), 25.0 / 60 - 0.3);
    /* tpr: M 0.75, F 0.5 */
    const json_t *tpr = json_object_get(json_object_get(json_object_get(res, "disparities"), "tpr"),
                                        "by_attribute");
    NEAR(num(json_object_get(tpr, "sex"), "difference_between_groups"), 0.25);
    NEAR(num(json_object_get(tpr, "sex"), "ratio_between_groups"), 0.5 / 0.75);

    /* empty combinations are listed, n 0, EMPTY, all rates null */
    const json_t *fb = group(res, "sex&race", "F&B"), *c = group(res, "race", "C");
    NEAR(num(fb, "n"), 0);
    assert_true(has_flag(fb, "EMPTY"));
    assert_false(has_flag(fb, "SMALL_GROUP"));
    assert_true(is_null(fb, "tpr"));
    assert_true(is_null(fb, "selection_rate"));
    assert_true(has_flag(c, "EMPTY"));
    /* groups: sex (2), race (3, byte order), then sex&race (6) */
    const json_t *gs = json_object_get(res, "groups");
    assert_int_equal(json_array_size(gs), 11);
    const char *order[] = {"M", "F", "A", "B", "C", "F&A", "F&B", "F&C", "M&A", "M&B", "M&C"};
    /* sex: values in byte order too: F before M */
    order[0] = "F";
    order[1] = "M";
    for (size_t i = 0; i < 11; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(gs, i), "value")),
                            order[i]);
    /* Every group: SMALL_GROUP exactly when 0 < n < 30 (the default
     * min_group_size); SMALL_CLASS when n >= 30 with < 30 of a class. */
    size_t few = 0;
    for (size_t i = 0; i < 11; i++) {
        const json_t *g = json_array_get(gs, i);
        double n = num(g, "n"), p = num(g, "positives"), q = num(g, "negatives");
        bool want_small = n > 0 && n < 30, want_few = n >= 30 && (p < 30 || q < 30);
        assert_int_equal(has_flag(g, "SMALL_GROUP"), want_small);
        assert_int_equal(has_flag(g, "SMALL_CLASS"), want_few);
        few += want_few;
    }
    assert_true(few > 0); /* (SMALL_GROUP: degenerate_groups) */

    /* summary: sex fails four-fifths (0.75), race passes (0.375 vs 40/110) */
    const json_t *sum = json_object_get(res, "summary"), *by = json_object_get(sum, "by_attribute");
    NEAR(num(json_object_get(by, "sex"), "demographic_parity_difference"), 0.1);
    NEAR(num(json_object_get(by, "sex"), "demographic_parity_ratio"), 0.75);
    NEAR(num(json_object_get(by, "sex"), "equal_opportunity_difference"), 0.25);
    NEAR(num(json_object_get(by, "sex"), "equalized_odds_difference"), 0.25);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(by, "sex"), "four_fifths_rule")), "fail");
    NEAR(num(json_object_get(by, "race"), "demographic_parity_ratio"), (40.0 / 110) / 0.375);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(by, "race"), "four_fifths_rule")),
        "pass");
    assert_string_equal(json_string_value(json_object_get(sum, "four_fifths_rule")), "fail");
    assert_string_equal(json_string_value(json_object_get(sum, "attribute")), "sex&race");
    NEAR(num(sum, "demographic_parity_ratio"), 0.3 / (25.0 / 60));
    json_decref(res);

    /* an explicit reference: F; the intersection's becomes F&A */
    const char *refs[2] = {"F", NULL};
    o.reference = refs;
    res = run(&r, false, true, &o, 2);
    sel = json_object_get(json_object_get(res, "disparities"), "selection_rate");
    sex = json_object_get(json_object_get(sel, "by_attribute"), "sex");
    assert_string_equal(json_string_value(json_object_get(sex, "reference")), "F");
    NEAR(num(sex, "vs_reference.sex=M.difference"), 0.1);
    NEAR(num(sex, "vs_reference.sex=M.ratio"), 0.4 / 0.3);
    assert_true(json_is_true(json_object_get(group(res, "sex&race", "F&A"), "reference")));
    NEAR(num(group(res, "sex", "M"), "tests.tpr.z"), 1.9364916731037083);
    json_decref(res);
    rows_free(&r);
}

/* No positives, no negatives, no predicted positives: null with the reason. */
static void degenerate_groups(void **state)
{
    (void)state;
    rows r = {0};
    rows_cell(&r, 0, 0, 0, 3, 5, 0); /* sex M: no positives */
    rows_cell(&r, 1, 0, 4, 0, 0, 2); /* sex F: no negatives */
    rows_cell(&r, 1, 1, 0, 0, 0, 0);
    rows_cell(&r, 0, 1, 0, 0, 4, 3); /* race A: M&A only: nothing predicted positive */
    eval_options o;
    eval_options_init(&o);
    o.replicates = 0;
    json_t *res = run(&r, true, true, &o, 2);
    const json_t *m = group(res, "sex", "M"), *f = group(res, "sex", "F"),
                 *a = group(res, "race", "A");
    /* M = tn 9 fp 3 fn 3 (M&B + M&A): has positives; check race B = M&B + F&B */
    const json_t *b = group(res, "race", "B");
    NEAR(num(b, "n"), 14);
    /* 14 rows < 30: SMALL_GROUP (not SMALL_CLASS, which is for groups of size) */
    assert_true(has_flag(b, "SMALL_GROUP"));
    assert_false(has_flag(b, "SMALL_CLASS"));
    (void)m;
    /* race A: tn 4 fn 3 -> no predicted positives */
    assert_true(is_null(a, "ppv"));
    assert_true(is_null(a, "fdr"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "reasons"), "ppv")),
                        "UNDEFINED_NO_PREDICTED_POSITIVES");
    assert_true(has_flag(a, "UNDEFINED_NO_PREDICTED_POSITIVES"));
    NEAR(num(a, "npv"), 4.0 / 7);
    /* F: tp 4 fn 2, no negatives: fpr/tnr null, roc_auc null (one class) */
    assert_true(is_null(f, "fpr"));
    assert_true(is_null(f, "tnr"));
    assert_true(is_null(f, "roc_auc"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(f, "reasons"), "fpr")),
                        "UNDEFINED_NO_NEGATIVES");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(f, "reasons"), "roc_auc")),
        "UNDEFINED_ONE_CLASS");
    NEAR(num(f, "tpr"), 4.0 / 6);
    json_decref(res);

    /* a group with no positives at all */
    rows_free(&r);
    rows_cell(&r, 0, 0, 0, 3, 5, 0);
    rows_cell(&r, 1, 0, 2, 1, 1, 2);
    res = run(&r, true, true, &o, 1);
    m = group(res, "sex", "M");
    assert_true(is_null(m, "tpr"));
    assert_true(is_null(m, "fnr"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "reasons"), "tpr")),
                        "UNDEFINED_NO_POSITIVES");
    assert_true(has_flag(m, "UNDEFINED_NO_POSITIVES"));
    /* tpr disparity is over F alone: difference 0, ratio 1 */
    const json_t *tpr = json_object_get(json_object_get(json_object_get(res, "disparities"), "tpr"),
                                        "by_attribute");
    NEAR(num(json_object_get(tpr, "sex"), "difference_between_groups"), 0);
    NEAR(num(json_object_get(tpr, "sex"), "ratio_between_groups"), 1);
    /* M is the reference (8 rows vs 6) and has no TPR: F's z test is null */
    assert_true(
        json_is_null(json_object_get(json_object_get(group(res, "sex", "F"), "tests"), "tpr")));
    json_decref(res);
    rows_free(&r);
}

/* Scores: ROC AUC (ties as scikit-learn), average precision, log loss, Brier
 * and calibration on the ten rows of test_trainer_metrics.c. */
static void scores_by_hand(void **state)
{
    (void)state;
    static const double Y[10] = {0, 0, 1, 1, 0, 1, 1, 0, 1, 0};
    static const double S[10] = {0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9, 0.2, 0.1, 0.65};
    rows r = {0};
    for (int i = 0; i < 10; i++)
        rows_add(&r, i < 5 ? 0 : 1, 0, Y[i], 0, S[i]);
    eval_options o;
    eval_options_init(&o);
    o.replicates = 0;
    json_t *res = run(&r, true, false, &o, 1);
    const json_t *ov = json_object_get(res, "overall");
    NEAR(num(ov, "roc_auc"), 0.62); /* roc_auc_score */
    /* descending: 0.9(+) 0.8(+) 0.65(-) {0.4: + - -} 0.35(+) 0.2(-) {0.1: + -}
     * AP = 1/5 (1 + 1 + 1/2*... ): recall steps at 0.9, 0.8, 0.4, 0.35, 0.1 */
    double ap = (1.0 + 1.0 + 3.0 / 6 + 4.0 / 7 + 5.0 / 10) / 5;
    NEAR(num(ov, "average_precision"), ap);
    /* threshold 0.5: predicted positive 0.9, 0.8, 0.65 */
    NEAR(num(ov, "confusion.tp"), 2);
    NEAR(num(ov, "confusion.fp"), 1);
    double brier = 0;
    for (int i = 0; i < 10; i++)
        brier += (S[i] - Y[i]) * (S[i] - Y[i]) / 10;
    NEAR(num(ov, "brier"), brier);
    /* group sex=M: rows 0-4, y 0 0 1 1 0, s .1 .4 .35 .8 .4: positives .35 and .8
     * against negatives .1 .4 .4: (1 + 0) + (1 + 1 + 1) ... = (1 + 3) / 6 */
    const json_t *m = group(res, "sex", "M");
    NEAR(num(m, "roc_auc"), 4.0 / 6);
    /* sex=F: y 1 1 0 1 0 s .4 .9 .2 .1 .65: .4 beats .2; .9 beats both; .1 none */
    NEAR(num(group(res, "sex", "F"), "roc_auc"), 3.0 / 6);
    /* calibration: 10 bins; 0.4 sits on an edge and goes to the bin below */
    const json_t *cal = json_object_get(res, "calibration");
    assert_int_equal(json_array_size(cal), 10);
    NEAR(num(json_array_get(cal, 3), "count"), 4); /* (0.3, 0.4]: .4 .4 .4 .35 */
    NEAR(num(json_array_get(cal, 3), "mean_predicted"), (0.4 + 0.4 + 0.4 + 0.35) / 4);
    NEAR(num(json_array_get(cal, 3), "fraction_positive"), 0.5);
    NEAR(num(json_array_get(cal, 0), "count"), 2);
    assert_true(is_null(json_array_get(cal, 5), "mean_predicted"));
    /* ECE by hand over the non-empty bins: [0,.1]: .1 .1 (y 0 1); (.1,.2]: .2 (0);
     * (.3,.4]: above; (.6,.7]: .65 (0); (.7,.8]: .8 (1); (.8,.9]: .9 (1) */
    double ece = (2 * fabs(0.1 - 0.5) + 1 * fabs(0.2 - 0) + 4 * fabs(1.55 / 4 - 0.5) +
                  fabs(0.65 - 0) + fabs(0.8 - 1) + fabs(0.9 - 1)) /
                 10;
    NEAR(num(ov, "ece"), ece);
    /* sweep: overall rows first; at 0.4, predicted positive .4 .4 .4 .65 .8 .9 */
    const json_t *sw = json_object_get(res, "threshold_sweep");
    assert_int_equal(json_array_size(sw), 21 * 3);
    const json_t *at40 = json_array_get(sw, 8);
    NEAR(num(at40, "threshold"), 0.4);
    assert_true(json_is_null(json_object_get(at40, "attribute")));
    NEAR(num(at40, "selection_rate"), 0.6);
    NEAR(num(at40, "tpr"), 0.6);
    NEAR(num(at40, "fpr"), 0.6);
    NEAR(num(at40, "ppv"), 0.5);
    /* ROC curves: overall and two groups, from (0,0) to (1,1) */
    const json_t *rocs = json_object_get(res, "roc_curves");
    assert_int_equal(json_array_size(rocs), 3);
    const json_t *pts = json_object_get(json_array_get(rocs, 0), "points");
    NEAR(json_number_value(json_array_get(json_array_get(pts, 0), 0)), 0);
    NEAR(json_number_value(json_array_get(json_array_get(pts, json_array_size(pts) - 1), 1)), 1);
    /* equalizing thresholds: target = overall TPR at 0.5 = 2/5 */
    const json_t *eq = json_object_get(json_object_get(res, "equalizing_thresholds"), "sex");
    NEAR(num(eq, "target_tpr"), 0.4);
    /* M's positives score .35 and .8: TPR 0.5 on (0.35, 0.8], the first such sweep point is 0.4 */
    NEAR(num(eq, "thresholds.M"), 0.4);
    json_decref(res);
    rows_free(&r);
}

static void wilson_and_bootstrap(void **state)
{
    (void)state;
    rows r = {0};
    hand_rows(&r);
    eval_options o;
    eval_options_init(&o);
    o.seed = 7;
    json_t *a = run(&r, true, true, &o, 2);
    json_t *b = run(&r, true, true, &o, 2);
    assert_true(json_equal(a, b)); /* same seed, same intervals */
    const json_t *f = group(a, "sex", "F");
    /* Wilson 95% of 10/20 */
    NEAR(num(f, "ci.tpr.wilson_low"), 0.29929800819821234);
    NEAR(num(f, "ci.tpr.wilson_high"), 0.7007019918017876);
    assert_int_equal((int)num(f, "ci.tpr.replicates_used"), 200);
    /* the percentile interval holds the point estimate */
    for (size_t m = 0; m < 5; m++) {
        const char *rate[] = {"selection_rate", "tpr", "fpr", "ppv", "accuracy"};
        char lo[64], hi[64];
        snprintf(lo, sizeof lo, "ci.%s.low", rate[m]);
        snprintf(hi, sizeof hi, "ci.%s.high", rate[m]);
        double v = num(f, rate[m]);
        assert_true(num(f, lo) <= v && v <= num(f, hi));
        assert_true(num(f, lo) < num(f, hi));
    }
    const json_t *sel = json_object_get(json_object_get(a, "disparities"), "selection_rate");
    double d = num(sel, "difference_between_groups");
    assert_true(num(sel, "ci.difference_between_groups.low") <= d);
    assert_true(d <= num(sel, "ci.difference_between_groups.high"));
    /* another seed, other intervals */
    o.seed = 8;
    json_t *c = run(&r, true, true, &o, 2);
    assert_false(json_equal(a, c));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    /* no replicates: no intervals anywhere */
    o.replicates = 0;
    a = run(&r, true, true, &o, 2);
    assert_null(json_object_get(group(a, "sex", "F"), "ci"));
    sel = json_object_get(json_object_get(a, "disparities"), "selection_rate");
    assert_null(json_object_get(sel, "ci"));
    json_decref(a);
    rows_free(&r);
}

static int cancel_at_10(void *arg, uint64_t done, uint64_t total)
{
    *(uint64_t *)arg = total;
    return done >= 10;
}

static void cancelled(void **state)
{
    (void)state;
    rows r = {0};
    hand_rows(&r);
    eval_options o;
    eval_options_init(&o);
    uint64_t total = 0;
    o.progress = cancel_at_10;
    o.progress_arg = &total;
    eval_attr at[1] = {{"sex", 2, SEX, r.code[0]}};
    eval_data d = {
        .task = EVAL_BINARY, .n = r.n, .y = r.y, .score = r.score, .n_attrs = 1, .attrs = at};
    json_t *out = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(eval_compute(&d, &o, &out, &err), STRATA_UNAVAILABLE);
    assert_null(out);
    assert_string_equal(err.message, "evaluation cancelled");
    assert_int_equal(total, 200);
    rows_free(&r);
}

/* A million rows: the bootstrap does not touch rows, so 200 replicates cost
 * about what 20 do. */
static void million_rows(void **state)
{
    (void)state;
    enum { N = 1000000 };
    rows r = {0};
    trainer_rng g;
    trainer_rng_seed(&g, 5);
    for (size_t i = 0; i < N; i++) {
        uint32_t a = (uint32_t)trainer_rng_below(&g, 2), b = (uint32_t)trainer_rng_below(&g, 3);
        double y = trainer_rng_uniform(&g) < 0.3 + 0.1 * a;
        double s = floor((0.25 * y + 0.75 * trainer_rng_uniform(&g)) * 1000) / 1000;
        rows_add(&r, a, b, y, 0, s);
    }
    eval_options o;
    eval_options_init(&o);
    o.intersections = true;
    clock_t t0 = clock();
    o.replicates = 20;
    json_t *few = run(&r, true, false, &o, 2);
    clock_t t1 = clock();
    o.replicates = 200;
    json_t *many = run(&r, true, false, &o, 2);
    clock_t t2 = clock();
    double s_few = (double)(t1 - t0) / CLOCKS_PER_SEC, s_many = (double)(t2 - t1) / CLOCKS_PER_SEC;
    printf("1e6 rows, 2 attributes + intersection: %.3f s with 20 replicates, %.3f s with 200\n",
           s_few, s_many);
    assert_true(s_many < 2 * s_few + 0.5);
    const json_t *g0 = group(many, "sex&race", "F&A");
    assert_true(num(g0, "ci.tpr.low") < num(g0, "tpr") && num(g0, "tpr") < num(g0, "ci.tpr.high"));
    /* the AUC interval is DeLong's, around the point */
    assert_true(num(g0, "ci.roc_auc.low") < num(g0, "roc_auc"));
    json_decref(few);
    json_decref(many);
    rows_free(&r);
}

static int expect_invalid(const rows *r, const eval_options *o, const char *needle, double *y,
                          double *score)
{
    eval_attr at[1] = {{"sex", 2, SEX, r->code[0]}};
    eval_data d = {
        .task = EVAL_BINARY, .n = r->n, .y = y, .score = score, .n_attrs = 1, .attrs = at};
    json_t *out = NULL;
    strata_err err = STRATA_ERR_INIT;
    int rc = eval_compute(&d, o, &out, &err);
    assert_int_equal(rc, STRATA_INVALID_ARGUMENT);
    assert_null(out);
    if (!strstr(err.message, needle))
        fail_msg("\"%s\" does not contain \"%s\"", err.message, needle);
    return rc;
}

static void bad_input(void **state)
{
    (void)state;
    rows r = {0};
    hand_rows(&r);
    eval_options o;
    eval_options_init(&o);
    o.replicates = 0;
    double *y = malloc(r.n * sizeof *y), *s = malloc(r.n * sizeof *s);
    memcpy(y, r.y, r.n * sizeof *y);
    memcpy(s, r.score, r.n * sizeof *s);
    y[7] = 2;
    expect_invalid(&r, &o, "row 7: the label is not 0 or 1", y, s);
    y[7] = r.y[7];
    s[3] = NAN;
    expect_invalid(&r, &o, "row 3: the score", y, s);
    s[3] = 1.5;
    expect_invalid(&r, &o, "row 3: the score", y, s);
    s[3] = r.score[3];
    r.code[0][9] = 2;
    expect_invalid(&r, &o, "attribute \"sex\": the code of row 9 is out of range", y, s);
    r.code[0][9] = 0;
    const char *refs[1] = {"X"};
    o.reference = refs;
    expect_invalid(&r, &o, "reference group \"X\" of attribute \"sex\"", y, s);
    o.reference = NULL;
    o.replicates = EVAL_MAX_REPLICATES + 1;
    expect_invalid(&r, &o, "replicates", y, s);
    o.replicates = 0;
    o.confidence = 1;
    expect_invalid(&r, &o, "confidence", y, s);
    free(y);
    free(s);
    rows_free(&r);
}

static void regression_and_multiclass(void **state)
{
    (void)state;
    /* regression: sex M rows (y, p) = (1, 2) (3, 3) (5, 4); F = (2, 2) */
    double y[4] = {1, 3, 5, 2}, p[4] = {2, 3, 4, 2};
    uint32_t code[4] = {0, 0, 0, 1};
    eval_attr at = {"sex", 2, SEX, code};
    eval_data d = {.task = EVAL_REGRESSION, .n = 4, .y = y, .score = p, .n_attrs = 1, .attrs = &at};
    eval_options o;
    eval_options_init(&o);
    o.min_group_size = 2;
    json_t *res = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(eval_compute(&d, &o, &res, &err), 0);
    const json_t *m = group(res, "sex", "M"), *f = group(res, "sex", "F");
    NEAR(num(m, "rmse"), sqrt(2.0 / 3));
    NEAR(num(m, "mae"), 2.0 / 3);
    NEAR(num(m, "r2"), 1 - 2.0 / 8); /* SST = 4 + 0 + 4 */
    NEAR(num(m, "mean_label"), 3);
    NEAR(num(m, "mean_prediction"), 3);
    assert_true(json_is_true(json_object_get(m, "reference")));
    assert_true(is_null(f, "r2")); /* one row */
    assert_true(has_flag(f, "SMALL_GROUP"));
    assert_null(json_object_get(res, "disparities"));
    json_decref(res);

    /* multiclass, 3 classes, predicted by argmax */
    double yc[5] = {0, 1, 2, 2, 1};
    double pc[15] = {0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.3, 0.3, 0.4, 0.5, 0.2, 0.3, 0.1, 0.1, 0.8};
    uint32_t cc[5] = {0, 0, 1, 1, 1};
    eval_attr atc = {"sex", 2, SEX, cc};
    eval_data dc = {.task = EVAL_MULTICLASS,
                    .n = 5,
                    .y = yc,
                    .score = pc,
                    .n_classes = 3,
                    .n_attrs = 1,
                    .attrs = &atc};
    assert_int_equal(eval_compute(&dc, &o, &res, &err), 0);
    const json_t *ov = json_object_get(res, "overall");
    /* predictions 0 1 2 0 2: right on rows 0 1 2 */
    NEAR(num(ov, "accuracy"), 0.6);
    NEAR(num(group(res, "sex", "M"), "accuracy"), 1);
    NEAR(num(group(res, "sex", "F"), "accuracy"), 1.0 / 3);
    const json_t *conf = json_object_get(ov, "confusion");
    NEAR(json_number_value(json_array_get(json_array_get(conf, 2), 0)), 1);
    NEAR(json_number_value(json_array_get(json_array_get(conf, 1), 2)), 1);
    /* class 0: tp 1 fp 1 -> precision 0.5; class 2: tp 1 fp 1 fn 1 */
    NEAR(num(json_array_get(json_object_get(ov, "per_class"), 0), "precision"), 0.5);
    NEAR(num(ov, "macro.recall"), (1.0 + 0.5 + 0.5) / 3);
    NEAR(num(ov, "micro.f1"), 0.6);
    json_decref(res);
}

/* The binomial sampler: mean and variance at small and large n * p. */
static void binomial_sampler(void **state)
{
    (void)state;
    struct {
        uint64_t n;
        double p;
    } cases[] = {{10, 0.3}, {1000, 0.01}, {100000, 0.4}, {10000000, 0.7}, {50, 0.999}};
    trainer_rng g;
    trainer_rng_seed(&g, 11);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        enum { R = 20000 };
        double sum = 0, sq = 0, n = (double)cases[c].n, p = cases[c].p;
        for (int i = 0; i < R; i++) {
            uint64_t x = trainer_rng_binomial(&g, cases[c].n, p);
            assert_true(x <= cases[c].n);
            sum += (double)x;
            sq += (double)x * (double)x;
        }
        double mean = sum / R, var = sq / R - mean * mean, ev = n * p * (1 - p);
        /* 5 standard errors of the mean; the variance within 5% */
        assert_true(fabs(mean - n * p) < 5 * sqrt(ev / R));
        assert_true(fabs(var / ev - 1) < 0.05);
    }
    /* chi-square against the pmf of Binomial(10, 0.3) */
    enum { R2 = 100000 };
    uint64_t hist[11] = {0};
    for (int i = 0; i < R2; i++)
        hist[trainer_rng_binomial(&g, 10, 0.3)]++;
    double chi = 0;
    for (int k = 0; k <= 10; k++) {
        double pk = tgamma(11) / (tgamma(k + 1) * tgamma(11 - k)) * pow(0.3, k) * pow(0.7, 10 - k);
        double e = pk * R2;
        if (e > 5)
            chi += (hist[k] - e) * (hist[k] - e) / e;
    }
    assert_true(chi < 30); /* ~9 degrees of freedom: p < 0.001 beyond 28 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_rates),       cmocka_unit_test(degenerate_groups),
        cmocka_unit_test(scores_by_hand),   cmocka_unit_test(wilson_and_bootstrap),
        cmocka_unit_test(million_rows),     cmocka_unit_test(cancelled),
        cmocka_unit_test(bad_input),        cmocka_unit_test(regression_and_multiclass),
        cmocka_unit_test(binomial_sampler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
