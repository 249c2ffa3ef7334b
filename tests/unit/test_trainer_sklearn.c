/*
 * test_trainer_sklearn.c - coefficients and metrics against scikit-learn.
 *
 * References come from tests/fixtures/trainer/ (bench/train/make_fixtures.py,
 * scikit-learn 1.2.1): breast_cancer (binary; L2, balanced L2, L1, elastic
 * net), wine (multinomial L2), diabetes (ridge, OLS, elastic net, lasso) and a
 * synthetic set with categorical columns, NULLs, an array and a constant
 * column (L2, L1), whose design matrix is also checked against numpy's.
 *
 * Tolerances (the issue's): every coefficient and intercept within 1e-4
 * relative, |ours - ref| <= 1e-4 * max(|ref|, 1e-2 * max_j |ref_j|): the
 * floor, one hundredth of the largest coefficient, keeps near-zero
 * coefficients (L1 paths, collinear columns) from demanding an absolute
 * accuracy of 1e-10; ROC AUC within 0.001. Each comparison prints one line of
 * the table in docs/trainer.md.
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

#include "trainer/metrics.h"
#include "trainer/model.h"
#include "trainer/prep.h"
#include "trainer_fixture.h"

#define COEF_RTOL 1e-4
#define COEF_FLOOR 1e-2
#define AUC_TOL 1e-3

/* A numeric fixture split and preprocessed: standardized design matrices. */
typedef struct dataset {
    size_t p, n_tr, n_ev;
    double *xtr, *xev, *ytr, *yev;
    prep *pp;
} dataset;

static void dataset_free(dataset *d)
{
    free(d->xtr);
    free(d->xev);
    free(d->ytr);
    free(d->yev);
    prep_destroy(d->pp);
    memset(d, 0, sizeof *d);
}

/* Columns of raw values, train and eval, from a numeric CSV (last column the label). */
static void load_numeric(const char *csv, dataset *d)
{
    fixture_csv t;
    assert_int_equal(fixture_csv_load(csv, &t), 0);
    size_t p = t.cols - 1, n = t.rows;
    d->p = p;
    for (size_t i = 0; i < n; i++) {
        if (fixture_is_eval(i))
            d->n_ev++;
        else
            d->n_tr++;
    }
    double *raw_tr = calloc(p * d->n_tr, sizeof *raw_tr); /* column-major */
    double *raw_ev = calloc(p * d->n_ev, sizeof *raw_ev);
    d->ytr = calloc(d->n_tr, sizeof *d->ytr);
    d->yev = calloc(d->n_ev, sizeof *d->yev);
    assert_non_null(raw_tr);
    assert_non_null(raw_ev);
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        int ev = fixture_is_eval(i);
        for (size_t j = 0; j < p; j++) {
            double v = fixture_num(t.cell[i * t.cols + j]);
            if (ev)
                raw_ev[j * d->n_ev + b] = v;
            else
                raw_tr[j * d->n_tr + a] = v;
        }
        double y = fixture_num(t.cell[i * t.cols + p]);
        if (ev)
            d->yev[b++] = y;
        else
            d->ytr[a++] = y;
    }
    prep_column *ctr = calloc(p, sizeof *ctr), *cev = calloc(p, sizeof *cev);
    for (size_t j = 0; j < p; j++) {
        ctr[j] =
            (prep_column){.name = t.header[j], .kind = PREP_NUMERIC, .num = raw_tr + j * d->n_tr};
        cev[j] =
            (prep_column){.name = t.header[j], .kind = PREP_NUMERIC, .num = raw_ev + j * d->n_ev};
    }
    prep_options o;
    prep_options_default(&o);
    prep_input itr = {d->n_tr, p, ctr}, iev = {d->n_ev, p, cev};
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(prep_fit(&o, &itr, &d->pp, &err), 0);
    assert_int_equal(prep_n_outputs(d->pp), p);
    d->xtr = calloc(d->n_tr * p, sizeof *d->xtr);
    d->xev = calloc(d->n_ev * p, sizeof *d->xev);
    assert_int_equal(prep_transform(d->pp, &itr, d->xtr, &err), 0);
    assert_int_equal(prep_transform(d->pp, &iev, d->xev, &err), 0);
    free(ctr);
    free(cev);
    free(raw_tr);
    free(raw_ev);
    fixture_csv_free(&t);
}

static void tight(trainer_params *P, const json_t *c)
{
    trainer_params_default(P);
    P->l1 = fixture_dbl(c, "l1");
    P->l2 = fixture_dbl(c, "l2");
    P->max_iterations = 20000;
    P->tolerance = 1e-10;
    P->rel_objective_tol = 0;
    P->early_stop = false;
    const char *cw = json_string_value(json_object_get(c, "class_weights"));
    if (cw && strcmp(cw, "balanced") == 0)
        P->class_weights = TRAINER_CLASS_WEIGHTS_BALANCED;
}

/* Largest |ours - ref| / max(|ref|, floor) over the values; ref_max sets the floor. */
static double rel_diff(const double *ours, const json_t *ref, size_t n, double ref_max)
{
    double worst = 0;
    for (size_t j = 0; j < n; j++) {
        double r = json_number_value(json_array_get(ref, j));
        double d = fabs(ours[j] - r) / fmax(fabs(r), COEF_FLOOR * ref_max);
        if (d > worst)
            worst = d;
    }
    return worst;
}

static double abs_max(const json_t *a)
{
    double m = 0;
    size_t i;
    json_t *v;
    json_array_foreach (a, i, v)
        m = fmax(m, fabs(json_number_value(v)));
    return m;
}

static void print_row(const char *set, const json_t *c, double coef_rel, const char *metric,
                      double ours, double ref, const trainer_model *m)
{
    const trainer_fit_info *fi = trainer_model_info(m);
    printf("| %s | %s | %s | %.2e | %s %.6f | %.6f | %+.1e | %d |\n", set,
           json_string_value(json_object_get(c, "name")), fi->solver, coef_rel, metric, ours, ref,
           ours - ref, fi->iterations);
}

static void binary_cases(const char *csv, const char *ref_json, const char *set)
{
    dataset d = {0};
    load_numeric(csv, &d);
    json_t *ref = fixture_json(ref_json);
    assert_non_null(ref);
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(ref, "cases"), i, c) {
        trainer_params P;
        tight(&P, c);
        trainer_data tr = {d.n_tr, d.p, d.xtr, d.ytr, NULL, NULL};
        trainer_model *m = NULL;
        strata_err err = STRATA_ERR_INIT;
        int rc = trainer_fit(TRAINER_BINARY, 2, &tr, NULL, &P, &m, &err);
        if (rc)
            fprintf(stderr, "%s %s: %s\n", set, json_string_value(json_object_get(c, "name")),
                    err.message);
        assert_int_equal(rc, 0);
        const json_t *rc_coef = json_object_get(c, "coef");
        double mx = fmax(abs_max(rc_coef), fabs(fixture_dbl(c, "intercept")));
        double worst = rel_diff(trainer_model_coef(m), rc_coef, d.p, mx);
        double icpt = trainer_model_intercept(m)[0], ri = fixture_dbl(c, "intercept");
        worst = fmax(worst, fabs(icpt - ri) / fmax(fabs(ri), COEF_FLOOR * mx));

        double *pr = calloc(d.n_ev, sizeof *pr), auc = 0;
        assert_int_equal(trainer_predict(m, d.xev, d.n_ev, pr, &err), 0);
        assert_int_equal(metrics_roc_auc(d.yev, pr, NULL, d.n_ev, &auc, &err), 0);
        double ref_auc = fixture_dbl(c, "roc_auc_eval");
        /* and on the training rows (breast_cancer's eval rows rank perfectly) */
        double *pt = calloc(d.n_tr, sizeof *pt), auc_tr = 0;
        assert_int_equal(trainer_predict(m, d.xtr, d.n_tr, pt, &err), 0);
        assert_int_equal(metrics_roc_auc(d.ytr, pt, NULL, d.n_tr, &auc_tr, &err), 0);
        assert_true(fabs(auc_tr - fixture_dbl(c, "roc_auc_train")) <= AUC_TOL);
        printf("|   | (training rows) | | | AUC %.6f | %.6f | %+.1e | |\n", auc_tr,
               fixture_dbl(c, "roc_auc_train"), auc_tr - fixture_dbl(c, "roc_auc_train"));
        free(pt);
        print_row(set, c, worst, "AUC", auc, ref_auc, m);
        /* scikit-learn's lbfgs, recorded beside the reference: how far it is */
        const json_t *lbr = json_object_get(c, "sklearn_lbfgs");
        if (json_is_object(lbr)) {
            double lw = rel_diff(trainer_model_coef(m), json_object_get(lbr, "coef"), d.p, mx);
            printf("|   | (vs scikit-learn lbfgs, %d iterations) | | %.2e | | | | |\n",
                   (int)json_integer_value(json_object_get(lbr, "n_iter")), lw);
        }
        assert_true(worst <= COEF_RTOL);
        assert_true(fabs(auc - ref_auc) <= AUC_TOL);
        /* the same exact zeros as scikit-learn's L1 solution */
        if (fixture_dbl(c, "l1") > 0) {
            size_t zeros = 0;
            for (size_t j = 0; j < d.p; j++)
                zeros += trainer_model_coef(m)[j] == 0;
            assert_int_equal((int)zeros, (int)json_integer_value(json_object_get(c, "zeros")));
        }
        /* scikit-learn's lbfgs, recorded beside the reference: same AUC */
        const json_t *lb = json_object_get(c, "sklearn_lbfgs");
        if (json_is_object(lb))
            assert_true(fabs(auc - fixture_dbl(lb, "roc_auc_eval")) <= AUC_TOL);
        free(pr);
        trainer_model_destroy(m);
    }
    json_decref(ref);
    dataset_free(&d);
}

static void breast_cancer(void **state)
{
    (void)state;
    binary_cases("breast_cancer.csv", "breast_cancer.json", "breast_cancer");
}

static void wine_multinomial(void **state)
{
    (void)state;
    dataset d = {0};
    load_numeric("wine.csv", &d);
    json_t *ref = fixture_json("wine.json");
    assert_non_null(ref);
    json_t *c = json_array_get(json_object_get(ref, "cases"), 0);
    trainer_params P;
    tight(&P, c);
    trainer_data tr = {d.n_tr, d.p, d.xtr, d.ytr, NULL, NULL};
    trainer_model *m = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(trainer_fit(TRAINER_MULTICLASS, 3, &tr, NULL, &P, &m, &err), 0);
    const json_t *coef = json_object_get(c, "coef"), *icpt = json_object_get(c, "intercept");
    size_t K = json_array_size(coef);
    assert_int_equal(K, 3);
    double mx = 0;
    for (size_t k = 0; k < K; k++)
        mx = fmax(mx, abs_max(json_array_get(coef, k)));
    double worst = 0;
    for (size_t k = 0; k < K; k++)
        worst = fmax(worst,
                     rel_diff(trainer_model_coef(m) + k * d.p, json_array_get(coef, k), d.p, mx));
    /* intercepts are defined up to a common shift: compare them centered */
    double ours_mean = 0, ref_mean = 0;
    for (size_t k = 0; k < K; k++) {
        ours_mean += trainer_model_intercept(m)[k] / (double)K;
        ref_mean += json_number_value(json_array_get(icpt, k)) / (double)K;
    }
    for (size_t k = 0; k < K; k++) {
        double o = trainer_model_intercept(m)[k] - ours_mean;
        double r = json_number_value(json_array_get(icpt, k)) - ref_mean;
        worst = fmax(worst, fabs(o - r) / fmax(fabs(r), COEF_FLOOR * mx));
    }
    double *pr = calloc(d.n_ev * K, sizeof *pr), ll = 0;
    assert_int_equal(trainer_predict(m, d.xev, d.n_ev, pr, &err), 0);
    assert_int_equal(metrics_log_loss(d.yev, pr, K, NULL, d.n_ev, &ll, &err), 0);
    print_row("wine", c, worst, "log_loss", ll, fixture_dbl(c, "log_loss_eval"), m);
    assert_true(worst <= COEF_RTOL);
    assert_true(fabs(ll - fixture_dbl(c, "log_loss_eval")) <= 1e-6);
    free(pr);
    trainer_model_destroy(m);
    json_decref(ref);
    dataset_free(&d);
}

static void diabetes_regression(void **state)
{
    (void)state;
    dataset d = {0};
    load_numeric("diabetes.csv", &d);
    json_t *ref = fixture_json("diabetes.json");
    assert_non_null(ref);
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(ref, "cases"), i, c) {
        trainer_params P;
        tight(&P, c);
        P.tolerance = 1e-14; /* coordinate descent: relative duality gap */
        P.max_iterations = 1000000;
        trainer_data tr = {d.n_tr, d.p, d.xtr, d.ytr, NULL, NULL};
        trainer_model *m = NULL;
        strata_err err = STRATA_ERR_INIT;
        int rc = trainer_fit(TRAINER_REGRESSION, 0, &tr, NULL, &P, &m, &err);
        if (rc)
            fprintf(stderr, "diabetes: %s\n", err.message);
        assert_int_equal(rc, 0);
        const json_t *coef = json_object_get(c, "coef");
        double mx = fmax(abs_max(coef), fabs(fixture_dbl(c, "intercept")));
        double worst = rel_diff(trainer_model_coef(m), coef, d.p, mx);
        double ri = fixture_dbl(c, "intercept");
        worst =
            fmax(worst, fabs(trainer_model_intercept(m)[0] - ri) / fmax(fabs(ri), COEF_FLOOR * mx));
        double *pr = calloc(d.n_ev, sizeof *pr);
        metrics_regression_out mo;
        assert_int_equal(trainer_predict(m, d.xev, d.n_ev, pr, &err), 0);
        assert_int_equal(metrics_regression(d.yev, pr, NULL, d.n_ev, &mo, &err), 0);
        print_row("diabetes", c, worst, "RMSE", mo.rmse, fixture_dbl(c, "rmse_eval"), m);
        assert_true(worst <= COEF_RTOL);
        assert_true(fabs(mo.rmse - fixture_dbl(c, "rmse_eval")) <=
                    1e-6 * fixture_dbl(c, "rmse_eval"));
        if (fixture_dbl(c, "l1") > 0) {
            size_t zeros = 0;
            for (size_t j = 0; j < d.p; j++)
                zeros += trainer_model_coef(m)[j] == 0;
            assert_int_equal((int)zeros, (int)json_integer_value(json_object_get(c, "zeros")));
        }
        free(pr);
        trainer_model_destroy(m);
    }
    json_decref(ref);
    dataset_free(&d);
}

/* ---- the mixed set: categorical columns, NULLs, an array, a constant ---- */

typedef struct mixed_cols {
    size_t n;
    double *age, *income, *cnst, *emb, *y;
    slice *city, *plan;
    uint8_t *city_miss, *emb_miss;
    prep_column cols[6];
} mixed_cols;

static void mixed_free(mixed_cols *m)
{
    free(m->age);
    free(m->income);
    free(m->cnst);
    free(m->emb);
    free(m->y);
    free(m->city);
    free(m->plan);
    free(m->city_miss);
    free(m->emb_miss);
}

static void mixed_load(const fixture_csv *t, int want_eval, mixed_cols *m)
{
    memset(m, 0, sizeof *m);
    size_t n = 0;
    for (size_t i = 0; i < t->rows; i++)
        n += fixture_is_eval(i) == want_eval;
    m->n = n;
    m->age = calloc(n, sizeof(double));
    m->income = calloc(n, sizeof(double));
    m->cnst = calloc(n, sizeof(double));
    m->emb = calloc(3 * n, sizeof(double));
    m->y = calloc(n, sizeof(double));
    m->city = calloc(n, sizeof(slice));
    m->plan = calloc(n, sizeof(slice));
    m->city_miss = calloc(n, 1);
    m->emb_miss = calloc(n, 1);
    size_t r = 0;
    for (size_t i = 0; i < t->rows; i++) {
        if (fixture_is_eval(i) != want_eval)
            continue;
        char **row = t->cell + i * t->cols;
        m->age[r] = fixture_num(row[0]);
        m->income[r] = fixture_num(row[1]);
        m->cnst[r] = fixture_num(row[2]);
        m->city[r] = slice_of(row[3]);
        m->city_miss[r] = row[3][0] == '\0';
        m->plan[r] = slice_of(row[4]);
        if (row[5][0] == '\0') {
            m->emb_miss[r] = 1;
            for (int e = 0; e < 3; e++)
                m->emb[3 * r + e] = 0; /* ignored: the row is flagged missing */
        } else {
            char *p = row[5];
            for (int e = 0; e < 3; e++) {
                m->emb[3 * r + e] = strtod(p, &p);
                if (*p == ';')
                    p++;
            }
        }
        m->y[r] = fixture_num(row[6]);
        r++;
    }
    m->cols[0] = (prep_column){.name = "age", .kind = PREP_NUMERIC, .num = m->age};
    m->cols[1] = (prep_column){.name = "income", .kind = PREP_NUMERIC, .num = m->income};
    m->cols[2] = (prep_column){.name = "const", .kind = PREP_NUMERIC, .num = m->cnst};
    m->cols[3] = (prep_column){
        .name = "city", .kind = PREP_CATEGORICAL, .cat = m->city, .missing = m->city_miss};
    m->cols[4] = (prep_column){.name = "plan", .kind = PREP_CATEGORICAL, .cat = m->plan};
    m->cols[5] = (prep_column){.name = "emb",
                               .kind = PREP_NUMERIC_ARRAY,
                               .width = 3,
                               .num = m->emb,
                               .missing = m->emb_miss};
}

static void check_design(const json_t *ref, const char *head_key, const char *sum_key,
                         const char *weighted_key, const double *x, size_t n, size_t p)
{
    const json_t *head = json_object_get(ref, head_key);
    for (size_t i = 0; i < json_array_size(head); i++)
        for (size_t j = 0; j < p; j++) {
            double r = json_number_value(json_array_get(json_array_get(head, i), j));
            assert_true(fabs(x[i * p + j] - r) <= 1e-12 * fmax(1, fabs(r)));
        }
    const json_t *sums = json_object_get(ref, sum_key), *wsum = json_object_get(ref, weighted_key);
    for (size_t j = 0; j < p; j++) {
        double s = 0, w = 0;
        for (size_t i = 0; i < n; i++) {
            s += x[i * p + j];
            w += (double)(i + 1) * x[i * p + j];
        }
        double rs = json_number_value(json_array_get(sums, j));
        double rw = json_number_value(json_array_get(wsum, j));
        assert_true(fabs(s - rs) <= 1e-9 * fmax(1, fabs(rs)) * (double)n);
        assert_true(fabs(w - rw) <= 1e-9 * fmax(1, fabs(rw)) * (double)n);
    }
}

static void mixed(void **state)
{
    (void)state;
    fixture_csv t;
    assert_int_equal(fixture_csv_load("mixed.csv", &t), 0);
    json_t *ref = fixture_json("mixed.json");
    assert_non_null(ref);
    mixed_cols tr, ev;
    mixed_load(&t, 0, &tr);
    mixed_load(&t, 1, &ev);
    prep_options o;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(prep_options_from_json(json_object_get(ref, "preprocessing"), &o, &err), 0);
    assert_int_equal(o.max_categories, 6);
    prep *pp = NULL;
    prep_input itr = {tr.n, 6, tr.cols}, iev = {ev.n, 6, ev.cols};
    assert_int_equal(prep_fit(&o, &itr, &pp, &err), 0);
    /* the constant column is reported */
    assert_true(json_array_size(prep_warnings(pp)) >= 1);

    const json_t *outs = json_object_get(ref, "outputs");
    size_t p = prep_n_outputs(pp);
    assert_int_equal(p, json_array_size(outs));
    for (size_t j = 0; j < p; j++)
        assert_string_equal(prep_output_name(pp, j), json_string_value(json_array_get(outs, j)));
    double *xtr = calloc(tr.n * p, sizeof *xtr), *xev = calloc(ev.n * p, sizeof *xev);
    assert_int_equal(prep_transform(pp, &itr, xtr, &err), 0);
    assert_int_equal(prep_transform(pp, &iev, xev, &err), 0);
    check_design(ref, "design_train_head", "design_train_colsum", "design_train_rowweighted", xtr,
                 tr.n, p);
    check_design(ref, "design_eval_head", "design_eval_colsum", "design_eval_rowweighted", xev,
                 ev.n, p);

    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(ref, "cases"), i, c) {
        trainer_params P;
        tight(&P, c);
        trainer_data dtr = {tr.n, p, xtr, tr.y, NULL, NULL};
        trainer_model *m = NULL;
        assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dtr, NULL, &P, &m, &err), 0);
        const json_t *coef = json_object_get(c, "coef");
        double mx = fmax(abs_max(coef), fabs(fixture_dbl(c, "intercept")));
        double worst = rel_diff(trainer_model_coef(m), coef, p, mx);
        double ri = fixture_dbl(c, "intercept");
        worst =
            fmax(worst, fabs(trainer_model_intercept(m)[0] - ri) / fmax(fabs(ri), COEF_FLOOR * mx));
        double *pr = calloc(ev.n, sizeof *pr), auc = 0;
        assert_int_equal(trainer_predict(m, xev, ev.n, pr, &err), 0);
        assert_int_equal(metrics_roc_auc(ev.y, pr, NULL, ev.n, &auc, &err), 0);
        print_row("mixed", c, worst, "AUC", auc, fixture_dbl(c, "roc_auc_eval"), m);
        assert_true(worst <= COEF_RTOL);
        assert_true(fabs(auc - fixture_dbl(c, "roc_auc_eval")) <= AUC_TOL);
        /* the constant column carries no weight */
        for (size_t j = 0; j < p; j++)
            if (strcmp(prep_output_name(pp, j), "const") == 0)
                assert_true(trainer_model_coef(m)[j] == 0);
        free(pr);
        trainer_model_destroy(m);
    }
    free(xtr);
    free(xev);
    prep_destroy(pp);
    mixed_free(&tr);
    mixed_free(&ev);
    json_decref(ref);
    fixture_csv_free(&t);
}

int main(void)
{
    printf("| data | case | solver | max coef rel diff | metric (ours) | scikit-learn | diff | "
           "iterations |\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(breast_cancer),
        cmocka_unit_test(wine_multinomial),
        cmocka_unit_test(diabetes_regression),
        cmocka_unit_test(mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
