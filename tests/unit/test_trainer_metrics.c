/*
 * test_trainer_metrics.c - metrics against values computed by scikit-learn
 * 1.2.1 (the numbers below) or by hand, and the hyperparameter search.
 */
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

#include "trainer/metrics.h"
#include "trainer/rng.h"
#include "trainer/tune.h"

static const double Y[10] = {0, 0, 1, 1, 0, 1, 1, 0, 1, 0};
static const double S[10] = {0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9, 0.2, 0.1, 0.65};
static const double W[10] = {1, 2, 1, 0.5, 1, 3, 1, 1, 2, 1};

static void roc_auc(void **state)
{
    (void)state;
    double auc = 0;
    strata_err err = STRATA_ERR_INIT;
    /* roc_auc_score(y, s) with ties at 0.1 and 0.4 */
    assert_int_equal(metrics_roc_auc(Y, S, NULL, 10, &auc, &err), 0);
    assert_true(fabs(auc - 0.62) < 1e-15);
    assert_int_equal(metrics_roc_auc(Y, S, W, 10, &auc, &err), 0);
    assert_true(fabs(auc - 0.5) < 1e-15);
    /* all tied: the diagonal */
    double y4[4] = {0, 1, 0, 1}, s4[4] = {0.5, 0.5, 0.5, 0.5};
    assert_int_equal(metrics_roc_auc(y4, s4, NULL, 4, &auc, &err), 0);
    assert_true(auc == 0.5);
    /* perfect and reversed */
    double s5[4] = {0.1, 0.9, 0.2, 0.8};
    assert_int_equal(metrics_roc_auc(y4, s5, NULL, 4, &auc, &err), 0);
    assert_true(auc == 1.0);
    double s6[4] = {0.9, 0.1, 0.8, 0.2};
    assert_int_equal(metrics_roc_auc(y4, s6, NULL, 4, &auc, &err), 0);
    assert_true(auc == 0.0);
    /* one class: not defined */
    double y1[3] = {1, 1, 1};
    assert_int_equal(metrics_roc_auc(y1, s5, NULL, 3, &auc, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "only one class"));
    double sn[4] = {0.1, NAN, 0.2, 0.3};
    assert_int_equal(metrics_roc_auc(y4, sn, NULL, 4, &auc, &err), STRATA_INVALID_ARGUMENT);
}

/* The Mann-Whitney statistic (ties count one half) equals the AUC. */
static void roc_auc_large(void **state)
{
    (void)state;
    enum { N = 3000 };
    double *y = calloc(N, sizeof *y), *s = calloc(N, sizeof *s);
    trainer_rng r;
    trainer_rng_seed(&r, 99);
    for (int i = 0; i < N; i++) {
        y[i] = trainer_rng_uniform(&r) < 0.3;
        /* coarse scores: many ties */
        s[i] = floor((y[i] * 0.3 + trainer_rng_uniform(&r)) * 20) / 20;
    }
    double auc = 0;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(metrics_roc_auc(y, s, NULL, N, &auc, &err), 0);
    double num = 0, np = 0, nn = 0;
    for (int i = 0; i < N; i++) {
        np += y[i];
        nn += 1 - y[i];
        if (!y[i])
            continue;
        for (int j = 0; j < N; j++)
            if (!y[j])
                num += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
    }
    assert_true(fabs(auc - num / (np * nn)) < 1e-12);
    free(y);
    free(s);
}

static void log_loss(void **state)
{
    (void)state;
    /* 0.0 and 1.0 are clipped to eps and 1 - eps */
    double p[10] = {0.0, 1.0, 0.3, 0.9, 0.5, 1e-20, 0.7, 0.2, 0.4, 0.6};
    double ll = 0;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(metrics_log_loss(Y, p, 1, NULL, 10, &ll, &err), 0);
    assert_true(fabs(ll - 7.650218723777928) < 1e-13);
    assert_int_equal(metrics_log_loss(Y, p, 1, W, 10, &ll, &err), 0);
    assert_true(fabs(ll - 13.740500583642664) < 1e-13);
    double P[12] = {0.2, 0.5, 0.3, 1.0, 0.0, 0.0, 0.1, 0.1, 0.8, 0.3, 0.3, 0.4};
    double yy[4] = {1, 1, 2, 0};
    assert_int_equal(metrics_log_loss(yy, P, 3, NULL, 4, &ll, &err), 0);
    assert_true(fabs(ll - 9.540979231329311) < 1e-13);
    double bad[4] = {1, 1, 3, 0};
    assert_int_equal(metrics_log_loss(bad, P, 3, NULL, 4, &ll, &err), STRATA_INVALID_ARGUMENT);
}

static void accuracy_and_regression(void **state)
{
    (void)state;
    int32_t pred[10] = {0, 1, 1, 1, 0, 0, 1, 0, 0, 0};
    double acc = 0;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(metrics_accuracy(Y, pred, NULL, 10, &acc, &err), 0);
    assert_true(fabs(acc - 0.7) < 1e-15);
    assert_int_equal(metrics_accuracy(Y, pred, W, 10, &acc, &err), 0);
    assert_true(fabs(acc - (1 + 1 + 0.5 + 1 + 1 + 1 + 1) / 13.5) < 1e-15);

    double t[4] = {3.0, -0.5, 2.0, 7.0}, pr[4] = {2.5, 0.0, 2.0, 8.0}, w[4] = {1, 2, 3, 4};
    metrics_regression_out r;
    assert_int_equal(metrics_regression(t, pr, NULL, 4, &r, &err), 0);
    assert_true(fabs(r.rmse - 0.6123724356957945) < 1e-15);
    assert_true(fabs(r.mae - 0.5) < 1e-15);
    assert_true(fabs(r.r2 - 0.9486081370449679) < 1e-15);
    assert_int_equal(metrics_regression(t, pr, w, 4, &r, &err), 0);
    assert_true(fabs(r.rmse - 0.689202437604511) < 1e-15);
    assert_true(fabs(r.r2 - 0.9459613196814562) < 1e-15);
    /* constant target: 1 when perfect, else 0 (scikit-learn's convention) */
    double c[3] = {1, 1, 1}, c2[3] = {1, 2, 1};
    assert_int_equal(metrics_regression(c, c, NULL, 3, &r, &err), 0);
    assert_true(r.r2 == 1.0);
    assert_int_equal(metrics_regression(c, c2, NULL, 3, &r, &err), 0);
    assert_true(r.r2 == 0.0);
}

static void average_precision_and_brier(void **state)
{
    (void)state;
    double ap = 0, b = 0;
    strata_err err = STRATA_ERR_INIT;
    /* by hand: recall steps of 1/5 at 0.9 (precision 1), 0.8 (1), 0.4 (3/6),
     * 0.35 (4/7), 0.1 (5/10); the tie at 0.4 is one step */
    assert_int_equal(metrics_average_precision(Y, S, NULL, 10, &ap, &err), 0);
    assert_true(fabs(ap - (1 + 1 + 0.5 + 4.0 / 7 + 0.5) / 5) < 1e-15);
    assert_true(fabs(ap - 0.7142857142857142) < 1e-15); /* average_precision_score */
    assert_int_equal(metrics_average_precision(Y, S, W, 10, &ap, &err), 0);
    assert_true(fabs(ap - 0.6371058364866414) < 1e-15);
    double y0[3] = {0, 0, 0};
    assert_int_equal(metrics_average_precision(y0, S, NULL, 3, &ap, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "no positive"));

    assert_int_equal(metrics_brier(Y, S, NULL, 10, &b, &err), 0);
    assert_true(fabs(b - 0.2435) < 1e-15);
    assert_int_equal(metrics_brier(Y, S, W, 10, &b, &err), 0);
    assert_true(fabs(b - 0.3040740740740741) < 1e-15);
    double out_of_range[2] = {0.5, 1.01}, y2[2] = {0, 1};
    assert_int_equal(metrics_brier(y2, out_of_range, NULL, 2, &b, &err), STRATA_INVALID_ARGUMENT);
}

static void precision_recall_f1(void **state)
{
    (void)state;
    metrics_prf p;
    metrics_prf_from_counts(3, 1, 2, &p);
    assert_true(p.precision == 0.75 && p.recall == 0.6);
    assert_true(fabs(p.f1 - 6.0 / 9) < 1e-15);
    assert_null(p.why_precision);
    /* nothing predicted positive: precision undefined, recall and F1 are 0 */
    metrics_prf_from_counts(0, 0, 3, &p);
    assert_true(isnan(p.precision));
    assert_string_equal(p.why_precision, METRICS_NO_PREDICTED_POSITIVES);
    assert_true(p.recall == 0 && p.f1 == 0);
    /* no positives either: all three undefined */
    metrics_prf_from_counts(0, 0, 0, &p);
    assert_true(isnan(p.recall) && isnan(p.f1));
    assert_string_equal(p.why_recall, METRICS_NO_POSITIVES);
    assert_string_equal(p.why_f1, METRICS_NO_POSITIVES);

    /* multiclass: class 1 never predicted */
    double yt[6] = {0, 1, 2, 2, 1, 0};
    int32_t yp[6] = {0, 2, 2, 2, 0, 0};
    uint64_t conf[9], sup[3];
    metrics_prf pc[3];
    metrics_multiclass_out mc = {.confusion = conf, .per_class = pc, .support = sup};
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(metrics_multiclass(yt, yp, 6, 3, &mc, &err), 0);
    assert_true(conf[0] == 2 && conf[1 * 3 + 0] == 1 && conf[1 * 3 + 2] == 1 && conf[8] == 2);
    assert_true(sup[0] == 2 && sup[1] == 2 && sup[2] == 2);
    assert_true(fabs(pc[0].precision - 2.0 / 3) < 1e-15);
    assert_true(isnan(pc[1].precision) && pc[1].recall == 0 && pc[1].f1 == 0);
    /* macro precision over the two defined classes (scikit-learn's
     * zero_division=0 would give 4/9); macro F1 as scikit-learn: 0.5333... */
    assert_true(fabs(mc.macro.precision - 2.0 / 3) < 1e-15);
    assert_true(fabs(mc.macro.f1 - 0.5333333333333333) < 1e-15);
    assert_true(fabs(mc.micro.f1 - 4.0 / 6) < 1e-15 && mc.micro.precision == mc.micro.recall);
    assert_true(fabs(mc.accuracy - 4.0 / 6) < 1e-15);
    yp[2] = 3;
    assert_int_equal(metrics_multiclass(yt, yp, 6, 3, &mc, &err), STRATA_INVALID_ARGUMENT);
}

static void calibration_bins(void **state)
{
    (void)state;
    /* edges are i * 0.1: 3 * 0.1 is 0.30000000000000004, so 0.3 falls below
     * it (bin 2); 0.2 equals its edge and goes to the bin below (1); 0 and 1
     * to the ends */
    double p[6] = {0.3, 0.2, 0.0, 1.0, 0.25, 0.95}, y[6] = {1, 0, 0, 1, 1, 1};
    metrics_calibration_bin b[10];
    double ece = 0;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(metrics_calibration(y, p, 6, 10, b, &ece, &err), 0);
    assert_true(b[2].count == 2); /* 0.3 and 0.25 */
    assert_true(b[1].count == 1 && b[0].count == 1 && b[9].count == 2);
    assert_true(b[2].low == 0.2 && b[2].high == 3 * 0.1 && b[9].high == 1.0);
    double want = (1 * 0.0 + 1 * 0.2 + 2 * fabs(0.275 - 1) + 2 * fabs(0.975 - 1)) / 6;
    assert_true(fabs(ece - want) < 1e-15);
    assert_int_equal(metrics_calibration(y, p, 6, 0, b, &ece, &err), STRATA_INVALID_ARGUMENT);
}

/* ---- tuning ---- */

typedef struct synth {
    size_t n, p;
    double *x, *y;
} synth;

static synth make(size_t n, size_t p, uint64_t seed, int regression)
{
    synth s = {n, p, calloc(n * p, sizeof(double)), calloc(n, sizeof(double))};
    trainer_rng r;
    trainer_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        double z = 0;
        for (size_t j = 0; j < p; j++) {
            double v = trainer_rng_uniform(&r) * 2 - 1;
            s.x[i * p + j] = v;
            z += j < 3 ? v * 2 : 0; /* the rest is noise: regularization helps */
        }
        s.y[i] = regression ? z + trainer_rng_uniform(&r)
                            : (trainer_rng_uniform(&r) < 1 / (1 + exp(-z)) ? 1 : 0);
    }
    return s;
}

typedef struct seen {
    size_t trials;
    double l2[64];
} seen;

static int on_trial(void *arg, const tune_trial *t, const trainer_model *m)
{
    seen *s = arg;
    assert_int_equal(t->index, s->trials);
    if (t->status == 0)
        assert_non_null(m);
    s->l2[s->trials++ % 64] = t->l2;
    return 0;
}

static void grid(void **state)
{
    (void)state;
    synth tr = make(300, 40, 1, 0), ev = make(300, 40, 2, 0);
    trainer_data dt = {tr.n, tr.p, tr.x, tr.y, NULL, NULL},
                 de = {ev.n, ev.p, ev.x, ev.y, NULL, NULL};
    double l2s[] = {0, 1, 10, 100}, l1s[] = {0, 1};
    tune_dim dims[] = {{.param = TUNE_L1, .values = l1s, .n_values = 2},
                       {.param = TUNE_L2, .values = l2s, .n_values = 4}};
    seen s = {0};
    tune_spec spec = {
        .dims = dims, .n_dims = 2, .method = TUNE_GRID, .on_trial = on_trial, .arg = &s};
    trainer_params P;
    trainer_params_default(&P);
    P.early_stop = false;
    tune_result res;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(trainer_tune(TRAINER_BINARY, 2, &dt, &de, &P, &spec, &res, &err), 0);
    assert_int_equal(res.n_trials, 8);
    assert_int_equal(s.trials, 8);
    assert_int_equal(res.metric, TUNE_METRIC_ROC_AUC);
    assert_true(res.greater_is_better);
    /* the last dimension varies fastest */
    for (size_t t = 0; t < 8; t++) {
        assert_true(res.trials[t].l1 == l1s[t / 4]);
        assert_true(res.trials[t].l2 == l2s[t % 4]);
    }
    /* the best is the highest AUC, and its model scores that */
    for (size_t t = 0; t < 8; t++)
        if (res.trials[t].status == 0)
            assert_true(res.trials[t].metric <= res.trials[res.best].metric);
    double auc = 0;
    assert_int_equal(trainer_score(res.best_model, &de, TUNE_METRIC_ROC_AUC, &auc, &err), 0);
    assert_true(auc == res.trials[res.best].metric);
    tune_result_free(&res);
    tune_result_free(&res); /* idempotent */

    /* learning_rate is refused; so is a range in a grid */
    tune_dim lr = {.param = TUNE_LEARNING_RATE, .min = 0.01, .max = 1};
    spec.dims = &lr;
    spec.n_dims = 1;
    assert_int_equal(trainer_tune(TRAINER_BINARY, 2, &dt, &de, &P, &spec, &res, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "learning_rate"));
    tune_dim range = {.param = TUNE_L2, .min = 0.01, .max = 1, .log_scale = true};
    spec.dims = &range;
    assert_int_equal(trainer_tune(TRAINER_BINARY, 2, &dt, &de, &P, &spec, &res, &err),
                     STRATA_INVALID_ARGUMENT);
    /* a regression metric on a classifier */
    spec.dims = dims;
    spec.n_dims = 2;
    spec.metric = TUNE_METRIC_RMSE;
    assert_int_equal(trainer_tune(TRAINER_BINARY, 2, &dt, &de, &P, &spec, &res, &err),
                     STRATA_INVALID_ARGUMENT);
    free(tr.x);
    free(tr.y);
    free(ev.x);
    free(ev.y);
}

static void random_search(void **state)
{
    (void)state;
    synth tr = make(400, 20, 3, 1), ev = make(200, 20, 4, 1);
    trainer_data dt = {tr.n, tr.p, tr.x, tr.y, NULL, NULL},
                 de = {ev.n, ev.p, ev.x, ev.y, NULL, NULL};
    tune_dim dims[] = {{.param = TUNE_L2, .min = 1e-3, .max = 1e3, .log_scale = true}};
    seen a = {0}, b = {0};
    tune_spec spec = {.dims = dims,
                      .n_dims = 1,
                      .method = TUNE_RANDOM,
                      .trials = 12,
                      .seed = 42,
                      .on_trial = on_trial,
                      .arg = &a};
    trainer_params P;
    trainer_params_default(&P);
    tune_result r1, r2;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(trainer_tune(TRAINER_REGRESSION, 0, &dt, &de, &P, &spec, &r1, &err), 0);
    spec.arg = &b;
    assert_int_equal(trainer_tune(TRAINER_REGRESSION, 0, &dt, &de, &P, &spec, &r2, &err), 0);
    assert_int_equal(r1.metric, TUNE_METRIC_RMSE);
    assert_false(r1.greater_is_better);
    /* same seed, same draws and same scores */
    double lo = INFINITY, hi = 0;
    for (size_t t = 0; t < 12; t++) {
        assert_true(r1.trials[t].l2 == r2.trials[t].l2);
        assert_true(r1.trials[t].metric == r2.trials[t].metric);
        assert_true(r1.trials[t].l2 >= 1e-3 && r1.trials[t].l2 <= 1e3);
        lo = fmin(lo, r1.trials[t].l2);
        hi = fmax(hi, r1.trials[t].l2);
        assert_true(r1.trials[t].metric >= r1.trials[r1.best].metric);
    }
    /* log-uniform: 12 draws over six decades spread beyond one */
    assert_true(hi / lo > 100);
    tune_result_free(&r1);
    tune_result_free(&r2);
    /* another seed, other draws */
    seen c = {0};
    spec.seed = 43;
    spec.arg = &c;
    assert_int_equal(trainer_tune(TRAINER_REGRESSION, 0, &dt, &de, &P, &spec, &r2, &err), 0);
    assert_true(r2.trials[0].l2 != a.l2[0]);
    tune_result_free(&r2);
    free(tr.x);
    free(tr.y);
    free(ev.x);
    free(ev.y);
}

/* Failed trials are recorded; the search goes on. */
static void failing_trials(void **state)
{
    (void)state;
    double x[8] = {-3, -2, -1, -0.5, 0.5, 1, 2, 3}, y[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    trainer_data d = {8, 1, x, y, NULL, NULL};
    double l2s[] = {0, 1};
    tune_dim dims[] = {{.param = TUNE_L2, .values = l2s, .n_values = 2}};
    tune_spec spec = {.dims = dims, .n_dims = 1, .method = TUNE_GRID};
    trainer_params P;
    trainer_params_default(&P);
    P.early_stop = false;
    tune_result r;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(trainer_tune(TRAINER_BINARY, 2, &d, &d, &P, &spec, &r, &err), 0);
    assert_int_equal(r.trials[0].status, STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(r.trials[0].message, "separable"));
    assert_true(isnan(r.trials[0].metric));
    assert_int_equal(r.best, 1);
    tune_result_free(&r);
    /* every trial failing returns the first failure */
    double zero[] = {0};
    dims[0].values = zero;
    dims[0].n_values = 1;
    assert_int_equal(trainer_tune(TRAINER_BINARY, 2, &d, &d, &P, &spec, &r, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "separable"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roc_auc),
        cmocka_unit_test(roc_auc_large),
        cmocka_unit_test(log_loss),
        cmocka_unit_test(accuracy_and_regression),
        cmocka_unit_test(grid),
        cmocka_unit_test(random_search),
        cmocka_unit_test(failing_trials),
        cmocka_unit_test(average_precision_and_brier),
        cmocka_unit_test(precision_recall_f1),
        cmocka_unit_test(calibration_bins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
