/*
 * eval_sklearn_check.c - runs eval_compute on each case of a file written by
 * tests/tools/eval_sklearn.py and compares the result with the expected
 * values scikit-learn and pandas computed there: every expected number within
 * 1e-12 (relative when above 1), every expected null null. Also checks the
 * metrics.h functions the evaluator does not go through (average precision,
 * Brier) on the same rows. Prints one line per case; exits 1 on any mismatch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/evaluate.h"
#include "trainer/metrics.h"

#define TOL 1e-12

static int failures;

static void mismatch(const char *where, const char *what)
{
    fprintf(stderr, "MISMATCH %s: %s\n", where, what);
    failures++;
}

/* Every field of expected must be in actual with the same value. */
static void compare(const char *where, const json_t *exp, const json_t *act)
{
    char buf[512];
    if (json_is_null(exp)) {
        if (!json_is_null(act))
            mismatch(where, "expected null");
        return;
    }
    if (json_is_number(exp)) {
        double e = json_number_value(exp), a;
        if (!json_is_number(act)) {
            mismatch(where, "expected a number");
            return;
        }
        a = json_number_value(act);
        if (!(fabs(a - e) <= TOL * fmax(1, fabs(e)))) {
            snprintf(buf, sizeof buf, "%.17g, expected %.17g", a, e);
            mismatch(where, buf);
        }
        return;
    }
    if (json_is_string(exp)) {
        if (!json_is_string(act) || strcmp(json_string_value(exp), json_string_value(act)))
            mismatch(where, "string differs");
        return;
    }
    if (json_is_array(exp)) {
        if (!json_is_array(act) || json_array_size(act) != json_array_size(exp)) {
            mismatch(where, "array size differs");
            return;
        }
        for (size_t i = 0; i < json_array_size(exp); i++) {
            snprintf(buf, sizeof buf, "%s[%zu]", where, i);
            compare(buf, json_array_get(exp, i), json_array_get(act, i));
        }
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)exp, k, v) {
        snprintf(buf, sizeof buf, "%s.%s", where, k);
        compare(buf, v, json_object_get(act, k));
    }
}

static double *doubles(const json_t *a)
{
    double *v = malloc((json_array_size(a) + 1) * sizeof *v);
    for (size_t i = 0; i < json_array_size(a); i++)
        v[i] = json_number_value(json_array_get(a, i));
    return v;
}

static int check_case(size_t ci, const json_t *c)
{
    const char *task = json_string_value(json_object_get(c, "task"));
    const json_t *jattrs = json_object_get(c, "attrs"), *exp = json_object_get(c, "expected");
    double *y = doubles(json_object_get(c, "y")), *s = doubles(json_object_get(c, "score"));
    size_t n = json_array_size(json_object_get(c, "y")), na = json_array_size(jattrs);
    eval_attr at[2];
    uint32_t *codes[2] = {NULL, NULL};
    const char *values[2][8];
    for (size_t a = 0; a < na && a < 2; a++) {
        const json_t *ja = json_array_get(jattrs, a), *jv = json_object_get(ja, "values"),
                     *jc = json_object_get(ja, "codes");
        codes[a] = malloc(n * sizeof *codes[a]);
        for (size_t i = 0; i < n; i++)
            codes[a][i] = (uint32_t)json_integer_value(json_array_get(jc, i));
        for (size_t v = 0; v < json_array_size(jv) && v < 8; v++)
            values[a][v] = json_string_value(json_array_get(jv, v));
        at[a] = (eval_attr){json_string_value(json_object_get(ja, "name")), json_array_size(jv),
                            values[a], codes[a]};
    }
    eval_data d = {.n = n, .y = y, .score = s, .n_attrs = na, .attrs = at};
    eval_options o;
    eval_options_init(&o);
    o.replicates = 0;
    o.intersections = true;
    if (strcmp(task, "binary") == 0) {
        d.task = EVAL_BINARY;
        o.threshold = json_number_value(json_object_get(c, "threshold"));
    } else if (strcmp(task, "multiclass") == 0) {
        d.task = EVAL_MULTICLASS;
        d.n_classes = (size_t)json_integer_value(json_object_get(c, "n_classes"));
    } else {
        d.task = EVAL_REGRESSION;
    }
    json_t *res = NULL;
    strata_err err = STRATA_ERR_INIT;
    char where[128];
    int before = failures;
    if (eval_compute(&d, &o, &res, &err)) {
        fprintf(stderr, "case %zu: eval_compute: %s\n", ci, err.message);
        failures++;
        goto out;
    }
    snprintf(where, sizeof where, "case %zu overall", ci);
    compare(where, json_object_get(exp, "overall"), json_object_get(res, "overall"));

    /* groups: find each expected one by (attribute, value) */
    size_t i, matched = 0;
    json_t *eg;
    json_array_foreach (json_object_get(exp, "groups"), i, eg) {
        const json_t *found = NULL;
        size_t j;
        json_t *ag;
        json_array_foreach (json_object_get(res, "groups"), j, ag)
            if (json_equal(json_object_get(ag, "attribute"), json_object_get(eg, "attribute")) &&
                json_equal(json_object_get(ag, "value"), json_object_get(eg, "value")))
                found = ag;
        snprintf(where, sizeof where, "case %zu group %s=%s", ci,
                 json_string_value(json_object_get(eg, "attribute")),
                 json_string_value(json_object_get(eg, "value")));
        if (!found) {
            mismatch(where, "missing");
            continue;
        }
        compare(where, eg, found);
        matched++;
    }

    if (d.task == EVAL_BINARY) {
        /* calibration_curve lists the non-empty bins only */
        const json_t *cal = json_object_get(exp, "calibration_nonempty");
        json_t *frac = json_array(), *mean = json_array(), *b;
        json_array_foreach (json_object_get(res, "calibration"), i, b)
            if (json_integer_value(json_object_get(b, "count")) > 0) {
                json_array_append(frac, json_object_get(b, "fraction_positive"));
                json_array_append(mean, json_object_get(b, "mean_predicted"));
            }
        snprintf(where, sizeof where, "case %zu calibration fraction_positive", ci);
        compare(where, json_object_get(cal, "fraction_positive"), frac);
        snprintf(where, sizeof where, "case %zu calibration mean_predicted", ci);
        compare(where, json_object_get(cal, "mean_predicted"), mean);
        json_decref(frac);
        json_decref(mean);
        /* the stand-alone metrics on the same rows */
        double ap = 0, brier = 0;
        const json_t *ov = json_object_get(exp, "overall");
        if (metrics_average_precision(y, s, NULL, n, &ap, &err) ||
            metrics_brier(y, s, NULL, n, &brier, &err)) {
            mismatch("metrics", err.message);
        } else {
            json_t *mine = json_pack("{s:f,s:f}", "average_precision", ap, "brier", brier);
            json_t *want = json_pack("{s:O,s:O}", "average_precision",
                                     json_object_get(ov, "average_precision"), "brier",
                                     json_object_get(ov, "brier"));
            snprintf(where, sizeof where, "case %zu metrics.h", ci);
            compare(where, want, mine);
            json_decref(mine);
            json_decref(want);
        }
    }
    printf("case %zu (%s, n %zu): %zu groups, %s\n", ci, task, n, matched,
           failures == before ? "agrees" : "DIFFERS");
out:
    json_decref(res);
    free(y);
    free(s);
    free(codes[0]);
    free(codes[1]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: eval_sklearn_check cases.json\n");
        return 2;
    }
    json_error_t je;
    json_t *doc = json_load_file(argv[1], 0, &je);
    if (!doc) {
        fprintf(stderr, "%s: %s\n", argv[1], je.text);
        return 2;
    }
    const json_t *cases = json_object_get(doc, "cases");
    if (json_array_size(cases) == 0) {
        fprintf(stderr, "%s: no cases\n", argv[1]);
        return 2;
    }
    printf("scikit-learn %s\n", json_string_value(json_object_get(doc, "sklearn")));
    for (size_t i = 0; i < json_array_size(cases); i++)
        check_case(i, json_array_get(cases, i));
    json_decref(doc);
    printf("%d mismatches\n", failures);
    return failures ? 1 : 0;
}
