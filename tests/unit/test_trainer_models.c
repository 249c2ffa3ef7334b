/*
 * test_trainer_models.c - trainer_fit's behaviour: degenerate data, weights,
 * early stopping, progress and cancel, determinism across threads, saving
 * and prediction.
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

#include "trainer/model.h"
#include "trainer/rng.h"

static double normal(trainer_rng *r)
{
    double u = trainer_rng_uniform(r), v = trainer_rng_uniform(r);
    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

/* n rows of p N(0,1) features; y ~ Bernoulli(sigmoid(x.beta + 0.3)) with
 * beta_j = (j % 3) - 1 + 0.5, or a class/target for the other tasks. */
typedef struct synth {
    size_t n, p;
    double *x, *y;
} synth;

static synth make(size_t n, size_t p, trainer_task task, uint64_t seed)
{
    synth s = {n, p, calloc(n * p, sizeof(double)), calloc(n, sizeof(double))};
    trainer_rng r;
    trainer_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        double z = 0.3, z2 = 0;
        for (size_t j = 0; j < p; j++) {
            double v = normal(&r);
            s.x[i * p + j] = v;
            z += v * ((double)(j % 3) - 0.5);
            z2 += v * ((double)(j % 2) - 0.5);
        }
        if (task == TRAINER_BINARY)
            s.y[i] = trainer_rng_uniform(&r) < 1 / (1 + exp(-z)) ? 1 : 0;
        else if (task == TRAINER_MULTICLASS)
            s.y[i] = z + 0.5 * normal(&r) > 0.5 ? 2 : z2 + 0.5 * normal(&r) > 0 ? 1 : 0;
        else
            s.y[i] = 2 * z + normal(&r);
    }
    return s;
}

static void synth_free(synth *s)
{
    free(s->x);
    free(s->y);
}

static trainer_data data_of(const synth *s)
{
    trainer_data d = {s->n, s->p, s->x, s->y, NULL, NULL};
    return d;
}

static void quiet(trainer_params *P)
{
    trainer_params_default(P);
    P->early_stop = false;
    P->tolerance = 1e-10;
    P->rel_objective_tol = 0;
    P->max_iterations = 1000;
}

static void empty_and_shapes(void **state)
{
    (void)state;
    trainer_model *m = NULL;
    strata_err err = STRATA_ERR_INIT;
    trainer_data d = {0, 3, NULL, NULL, NULL, NULL};
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_string_equal(err.message, "the training set is empty");
    assert_null(m);
    double x[2] = {1, 2}, y[2] = {0, 1};
    trainer_data d0 = {2, 0, x, y, NULL, NULL};
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d0, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_string_equal(err.message, "there are no feature columns");
    trainer_data d1 = {2, 1, x, y, NULL, NULL};
    assert_int_equal(trainer_fit(TRAINER_BINARY, 3, &d1, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    trainer_params P;
    trainer_params_default(&P);
    P.l2 = -1;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d1, NULL, &P, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_string_equal(err.message, "l2 must be a finite number >= 0");
}

static void one_class(void **state)
{
    (void)state;
    double x[4] = {1, 2, 3, 4}, y[4] = {1, 1, 1, 1};
    trainer_data d = {4, 1, x, y, NULL, NULL};
    trainer_model *m = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_string_equal(err.message, "the label has one class (1): a classifier needs two");
    /* a class whose rows all weigh 0 does not count */
    double y2[4] = {0, 1, 1, 1}, w[4] = {0, 1, 1, 1};
    trainer_data d2 = {4, 1, x, y2, w, NULL};
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d2, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_string_equal(err.message, "the label has one class (1): a classifier needs two");
    /* multiclass: a class without rows */
    double y3[4] = {0, 1, 0, 1};
    trainer_data d3 = {4, 1, x, y3, NULL, NULL};
    assert_int_equal(trainer_fit(TRAINER_MULTICLASS, 3, &d3, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_string_equal(err.message,
                        "class 2 of 3 has no training rows (or only rows of weight 0)");
    /* labels that are not class indices */
    double y4[4] = {0, 1, 2, 1};
    trainer_data d4 = {4, 1, x, y4, NULL, NULL};
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d4, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "training row 2 is 2"));
}

static void nonfinite_feature(void **state)
{
    (void)state;
    double x[6] = {1, 2, 3, 4, 5, NAN}, y[3] = {0, 1, 0};
    const char *names[] = {"customer__age", "customer__income"};
    trainer_data d = {3, 2, x, y, NULL, names};
    trainer_model *m = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_string_equal(err.message, "feature 'customer__income' (column 1) holds a non-finite "
                                     "value (nan) in training row 2");
    x[5] = INFINITY;
    d.feature_names = NULL;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_string_equal(err.message,
                        "feature column 1 holds a non-finite value (inf) in training row 2");
    /* regression labels and weights too */
    x[5] = 6;
    double yr[3] = {1, NAN, 2};
    trainer_data dr = {3, 2, x, yr, NULL, NULL};
    assert_int_equal(trainer_fit(TRAINER_REGRESSION, 0, &dr, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    double w[3] = {1, -1, 1};
    trainer_data dw = {3, 2, x, y, w, NULL};
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dw, NULL, NULL, &m, &err),
                     STRATA_INVALID_ARGUMENT);
}

static void separable(void **state)
{
    (void)state;
    double x[8] = {-3, -2, -1, -0.5, 0.5, 1, 2, 3}, y[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    trainer_data d = {8, 1, x, y, NULL, NULL};
    trainer_model *m = NULL;
    strata_err err = STRATA_ERR_INIT;
    trainer_params P;
    quiet(&P);
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, &P, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "perfectly separable"));
    assert_null(m);
    /* regularized, the same data have a finite answer */
    P.l2 = 1;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, &P, &m, &err), 0);
    assert_true(trainer_model_info(m)->converged);
    assert_true(trainer_model_coef(m)[0] > 0);
    trainer_model_destroy(m);
    /* L1 only bounds them too */
    P.l2 = 0;
    P.l1 = 0.5;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, &P, &m, &err), 0);
    trainer_model_destroy(m);
    /* overlapping classes need no regularization */
    double y2[8] = {0, 0, 1, 0, 1, 0, 1, 1};
    trainer_data d2 = {8, 1, x, y2, NULL, NULL};
    P.l1 = 0;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d2, NULL, &P, &m, &err), 0);
    trainer_model_destroy(m);
    /* multiclass separable */
    double y3[8] = {0, 0, 0, 1, 1, 2, 2, 2};
    trainer_data d3 = {8, 1, x, y3, NULL, NULL};
    assert_int_equal(trainer_fit(TRAINER_MULTICLASS, 3, &d3, NULL, &P, &m, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "perfectly separable"));
}

static void constant_and_collinear(void **state)
{
    (void)state;
    synth s = make(500, 3, TRAINER_BINARY, 7);
    /* column 1 all zeros (a constant column after standardizing) */
    for (size_t i = 0; i < s.n; i++)
        s.x[i * 3 + 1] = 0;
    trainer_data d = data_of(&s);
    trainer_params P;
    quiet(&P);
    P.l2 = 1;
    trainer_model *m = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, &P, &m, &err), 0);
    assert_true(trainer_model_coef(m)[1] == 0);
    trainer_model_destroy(m);
    P.l1 = 1;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, &P, &m, &err), 0);
    assert_true(trainer_model_coef(m)[1] == 0);
    trainer_model_destroy(m);
    synth_free(&s);

    /* OLS with duplicated columns: minimum-norm answer and a warning */
    synth r = make(300, 2, TRAINER_REGRESSION, 8);
    double *x3 = calloc(300 * 3, sizeof *x3);
    for (size_t i = 0; i < 300; i++) {
        x3[i * 3] = r.x[i * 2];
        x3[i * 3 + 1] = r.x[i * 2 + 1];
        x3[i * 3 + 2] = r.x[i * 2 + 1]; /* a copy */
    }
    trainer_data dr = {300, 3, x3, r.y, NULL, NULL};
    quiet(&P);
    assert_int_equal(trainer_fit(TRAINER_REGRESSION, 0, &dr, NULL, &P, &m, &err), 0);
    assert_int_equal(json_array_size(trainer_model_warnings(m)), 1);
    const double *w = trainer_model_coef(m);
    assert_true(fabs(w[1] - w[2]) < 1e-10); /* minimum norm splits evenly */
    trainer_model *m2 = NULL;
    trainer_data d2 = data_of(&r);
    assert_int_equal(trainer_fit(TRAINER_REGRESSION, 0, &d2, NULL, &P, &m2, &err), 0);
    assert_true(fabs(w[1] + w[2] - trainer_model_coef(m2)[1]) < 1e-9);
    assert_true(fabs(w[0] - trainer_model_coef(m2)[0]) < 1e-9);
    assert_int_equal(json_array_size(trainer_model_warnings(m2)), 0);
    trainer_model_destroy(m);
    trainer_model_destroy(m2);
    free(x3);
    synth_free(&r);
}

static void max_coef_diff(const trainer_model *a, const trainer_model *b, double *out)
{
    size_t n = trainer_model_n_features(a) * trainer_model_outputs(a);
    double d = 0;
    for (size_t j = 0; j < n; j++)
        d = fmax(d, fabs(trainer_model_coef(a)[j] - trainer_model_coef(b)[j]));
    for (size_t k = 0; k < trainer_model_outputs(a); k++)
        d = fmax(d, fabs(trainer_model_intercept(a)[k] - trainer_model_intercept(b)[k]));
    *out = d;
}

static void weights(void **state)
{
    (void)state;
    synth s = make(400, 4, TRAINER_BINARY, 11);
    /* duplicate the first 100 rows == weight 2 on them */
    size_t n2 = 500;
    double *x2 = calloc(n2 * 4, sizeof *x2), *y2 = calloc(n2, sizeof *y2);
    memcpy(x2, s.x, 400 * 4 * sizeof *x2);
    memcpy(y2, s.y, 400 * sizeof *y2);
    memcpy(x2 + 400 * 4, s.x, 100 * 4 * sizeof *x2);
    memcpy(y2 + 400, s.y, 100 * sizeof *y2);
    double *w = calloc(400, sizeof *w);
    for (size_t i = 0; i < 400; i++)
        w[i] = i < 100 ? 2 : 1;
    trainer_params P;
    quiet(&P);
    P.l2 = 2;
    trainer_data dw = {400, 4, s.x, s.y, w, NULL}, dd = {n2, 4, x2, y2, NULL, NULL};
    trainer_model *a = NULL, *b = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dw, NULL, &P, &a, &err), 0);
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dd, NULL, &P, &b, &err), 0);
    double diff;
    max_coef_diff(a, b, &diff);
    assert_true(diff < 1e-8);
    trainer_model_destroy(a);
    trainer_model_destroy(b);

    /* explicit class weights == sample weights by class */
    double cwv[2] = {1, 3};
    for (size_t i = 0; i < 400; i++)
        w[i] = s.y[i] == 1 ? 3 : 1;
    trainer_data d = data_of(&s);
    P.class_weights = TRAINER_CLASS_WEIGHTS_EXPLICIT;
    P.class_weight_values = cwv;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, &P, &a, &err), 0);
    P.class_weights = TRAINER_CLASS_WEIGHTS_NONE;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dw, NULL, &P, &b, &err), 0);
    max_coef_diff(a, b, &diff);
    assert_true(diff < 1e-8);
    trainer_model_destroy(a);
    trainer_model_destroy(b);

    /* balanced == n / (2 n_c) as sample weights */
    size_t pos = 0;
    for (size_t i = 0; i < 400; i++)
        pos += s.y[i] == 1;
    for (size_t i = 0; i < 400; i++)
        w[i] = 400.0 / (2.0 * (double)(s.y[i] == 1 ? pos : 400 - pos));
    P.class_weights = TRAINER_CLASS_WEIGHTS_BALANCED;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, &P, &a, &err), 0);
    P.class_weights = TRAINER_CLASS_WEIGHTS_NONE;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dw, NULL, &P, &b, &err), 0);
    max_coef_diff(a, b, &diff);
    assert_true(diff < 1e-8);
    trainer_model_destroy(a);
    trainer_model_destroy(b);
    /* class weights are for classifiers */
    P.class_weights = TRAINER_CLASS_WEIGHTS_BALANCED;
    assert_int_equal(trainer_fit(TRAINER_REGRESSION, 0, &d, NULL, &P, &a, &err),
                     STRATA_INVALID_ARGUMENT);
    free(x2);
    free(y2);
    free(w);
    synth_free(&s);
}

/* The same bits whatever the thread count (fixed chunks, summed in order). */
static void threads_deterministic(void **state)
{
    (void)state;
    synth s = make(50000, 8, TRAINER_BINARY, 5);
    synth mc = make(30000, 6, TRAINER_MULTICLASS, 6);
    trainer_data d = data_of(&s), dm = data_of(&mc);
    trainer_params P;
    quiet(&P);
    P.l2 = 1;
    P.max_iterations = 30;
    trainer_model *ref = NULL, *refm = NULL;
    strata_err err = STRATA_ERR_INIT;
    P.threads = 1;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, &P, &ref, &err), 0);
    assert_int_equal(trainer_fit(TRAINER_MULTICLASS, 3, &dm, NULL, &P, &refm, &err), 0);
    for (int t = 2; t <= 5; t++) {
        trainer_model *m = NULL;
        P.threads = t;
        assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &d, NULL, &P, &m, &err), 0);
        assert_memory_equal(trainer_model_coef(m), trainer_model_coef(ref), 8 * sizeof(double));
        assert_memory_equal(trainer_model_intercept(m), trainer_model_intercept(ref),
                            sizeof(double));
        trainer_model_destroy(m);
        assert_int_equal(trainer_fit(TRAINER_MULTICLASS, 3, &dm, NULL, &P, &m, &err), 0);
        assert_memory_equal(trainer_model_coef(m), trainer_model_coef(refm), 18 * sizeof(double));
        trainer_model_destroy(m);
    }
    trainer_model_destroy(ref);
    trainer_model_destroy(refm);
    synth_free(&s);
    synth_free(&mc);
}

typedef struct progress_log {
    int calls;
    int last_iteration;
    int cancel_at;
    double best_eval;
    int monotone;
} progress_log;

static int on_progress(void *arg, int iteration, double loss, double eval_loss)
{
    progress_log *l = arg;
    l->calls++;
    if (iteration != l->last_iteration + 1)
        l->monotone = 0;
    l->last_iteration = iteration;
    assert_true(isfinite(loss));
    if (isfinite(eval_loss) && eval_loss < l->best_eval)
        l->best_eval = eval_loss;
    return l->cancel_at && iteration >= l->cancel_at;
}

static void early_stopping_and_progress(void **state)
{
    (void)state;
    synth tr = make(2000, 30, TRAINER_BINARY, 21), ev = make(500, 30, TRAINER_BINARY, 22);
    trainer_data dt = data_of(&tr), de = data_of(&ev);
    trainer_params P;
    trainer_params_default(&P);
    P.max_iterations = 200;
    P.early_stop = true;
    P.min_rel_progress = 0.01;
    progress_log log = {0, 0, 0, INFINITY, 1};
    P.progress = on_progress;
    P.progress_arg = &log;
    trainer_model *m = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dt, &de, &P, &m, &err), 0);
    const trainer_fit_info *fi = trainer_model_info(m);
    assert_true(fi->early_stopped);
    assert_true(fi->converged);
    assert_true(fi->iterations < 200);
    assert_int_equal(log.calls, fi->iterations);
    assert_true(log.monotone);
    assert_true(fi->best_iteration <= fi->iterations);
    /* the kept parameters are the best eval loss seen */
    assert_true(fabs(fi->eval_loss - log.best_eval) <= 1e-15 * log.best_eval);
    int early_iterations = fi->iterations;
    trainer_model_destroy(m);

    /* without early stopping it runs on to convergence */
    P.early_stop = false;
    P.progress = NULL;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dt, &de, &P, &m, &err), 0);
    assert_false(trainer_model_info(m)->early_stopped);
    assert_true(trainer_model_info(m)->iterations > early_iterations ||
                trainer_model_info(m)->converged);
    trainer_model_destroy(m);

    /* cancel from the callback */
    progress_log c = {0, 0, 2, INFINITY, 1};
    P.progress = on_progress;
    P.progress_arg = &c;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dt, &de, &P, &m, &err), STRATA_UNAVAILABLE);
    assert_string_equal(err.message, "training cancelled");
    assert_null(m);
    assert_int_equal(c.calls, 2);

    /* max_iterations short of convergence: a warning, not converged */
    P.progress = NULL;
    P.max_iterations = 2;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dt, NULL, &P, &m, &err), 0);
    assert_false(trainer_model_info(m)->converged);
    assert_int_equal(json_array_size(trainer_model_warnings(m)), 1);
    trainer_model_destroy(m);

    /* early stopping without an eval set: on the training objective */
    P.max_iterations = 500;
    P.early_stop = true;
    P.min_rel_progress = 0.001;
    assert_int_equal(trainer_fit(TRAINER_BINARY, 2, &dt, NULL, &P, &m, &err), 0);
    assert_true(trainer_model_info(m)->early_stopped);
    trainer_model_destroy(m);

    /* coordinate descent reports sweeps and stops early as well */
    synth rt = make(1000, 10, TRAINER_REGRESSION, 23), re = make(300, 10, TRAINER_REGRESSION, 24);
    trainer_data drt = data_of(&rt), dre = data_of(&re);
    progress_log l2 = {0, 0, 0, INFINITY, 1};
    P.progress = on_progress;
    P.progress_arg = &l2;
    P.l1 = 5;
    P.min_rel_progress = 0.01;
    assert_int_equal(trainer_fit(TRAINER_REGRESSION, 0, &drt, &dre, &P, &m, &err), 0);
    assert_string_equal(trainer_model_info(m)->solver, "coordinate_descent");
    assert_int_equal(l2.calls, trainer_model_info(m)->iterations);
    trainer_model_destroy(m);
    synth_free(&rt);
    synth_free(&re);
    synth_free(&tr);
    synth_free(&ev);
}

static void multiclass_elastic_net(void **state)
{
    (void)state;
    synth s = make(3000, 12, TRAINER_MULTICLASS, 31);
    trainer_data d = data_of(&s);
    trainer_params P;
    quiet(&P);
    P.l1 = 40;
    P.l2 = 1;
    trainer_model *m = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(trainer_fit(TRAINER_MULTICLASS, 3, &d, NULL, &P, &m, &err), 0);
    assert_string_equal(trainer_model_info(m)->solver, "owlqn");
    assert_true(trainer_model_info(m)->converged);
    size_t zeros = 0;
    for (size_t j = 0; j < 36; j++)
        zeros += trainer_model_coef(m)[j] == 0;
    assert_true(zeros > 0);
    /* probabilities sum to 1 */
    double pr[30];
    assert_int_equal(trainer_predict(m, s.x, 10, pr, &err), 0);
    for (int i = 0; i < 10; i++)
        assert_true(fabs(pr[3 * i] + pr[3 * i + 1] + pr[3 * i + 2] - 1) < 1e-15);
    int32_t lab[10];
    assert_int_equal(trainer_labels(m, pr, 10, 0.5, lab), 0);
    for (int i = 0; i < 10; i++)
        assert_true(pr[3 * i + lab[i]] >= pr[3 * i] && pr[3 * i + lab[i]] >= pr[3 * i + 2]);
    trainer_model_destroy(m);
    synth_free(&s);
}

static void save_and_predict(void **state)
{
    (void)state;
    trainer_task tasks[] = {TRAINER_BINARY, TRAINER_MULTICLASS, TRAINER_REGRESSION};
    size_t classes[] = {2, 3, 0};
    for (int t = 0; t < 3; t++) {
        synth s = make(800, 5, tasks[t], 40 + (uint64_t)t);
        trainer_data d = data_of(&s);
        trainer_params P;
        quiet(&P);
        P.l2 = 0.5;
        trainer_model *m = NULL, *back = NULL;
        strata_err err = STRATA_ERR_INIT;
        assert_int_equal(trainer_fit(tasks[t], classes[t], &d, NULL, &P, &m, &err), 0);
        json_t *j = trainer_model_to_json(m);
        char *text = json_dumps(j, JSON_COMPACT);
        json_t *j2 = json_loads(text, 0, NULL);
        assert_int_equal(trainer_model_from_json(j2, &back, &err), 0);
        size_t k = trainer_model_outputs(m);
        assert_int_equal(trainer_model_outputs(back), k);
        double *a = calloc(800 * k, sizeof *a), *b = calloc(800 * k, sizeof *b);
        assert_int_equal(trainer_predict(m, s.x, 800, a, &err), 0);
        assert_int_equal(trainer_predict(back, s.x, 800, b, &err), 0);
        assert_memory_equal(a, b, 800 * k * sizeof *a);
        if (tasks[t] == TRAINER_BINARY) {
            int32_t lab[800];
            assert_int_equal(trainer_labels(m, a, 800, 0.5, lab), 0);
            for (int i = 0; i < 800; i++)
                assert_int_equal(lab[i], a[i] >= 0.5);
        } else if (tasks[t] == TRAINER_REGRESSION) {
            int32_t lab[1];
            assert_int_equal(trainer_labels(m, a, 1, 0.5, lab), -1);
        }
        /* a non-finite feature at prediction names its row and column */
        s.x[7 * 5 + 3] = NAN;
        assert_int_equal(trainer_predict(m, s.x, 800, a, &err), STRATA_INVALID_ARGUMENT);
        assert_string_equal(err.message,
                            "feature column 3 holds a non-finite value (nan) in prediction row 7");
        /* a damaged model is refused */
        json_object_set_new(j2, "n_features", json_integer(6));
        trainer_model *bad = NULL;
        assert_int_equal(trainer_model_from_json(j2, &bad, &err), STRATA_INVALID_ARGUMENT);
        assert_null(bad);
        free(a);
        free(b);
        free(text);
        json_decref(j);
        json_decref(j2);
        trainer_model_destroy(m);
        trainer_model_destroy(back);
        synth_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_and_shapes),       cmocka_unit_test(one_class),
        cmocka_unit_test(nonfinite_feature),      cmocka_unit_test(separable),
        cmocka_unit_test(constant_and_collinear), cmocka_unit_test(weights),
        cmocka_unit_test(threads_deterministic),  cmocka_unit_test(early_stopping_and_progress),
        cmocka_unit_test(multiclass_elastic_net), cmocka_unit_test(save_and_predict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
