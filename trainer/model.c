/*
 * model.c - trainer_fit and friends: checks the data, weighs the rows, picks
 * the solver, runs early stopping, and predicts and saves (see model.h).
 *
 * The objective handed to the solvers is divided by W = sum_i s_i (weights
 * normalized to sum 1, l1 and l2 divided by W): the same minimizer, numbers
 * near 1 whatever the row count, so one set of tolerances fits every data set.
 *
 * Degenerate data, decided here once for every solver:
 *   - no rows, no features, a non-finite feature, label or weight: error
 *   - binary or multiclass labels with one class: error ("the label has one
 *     class (1): a classifier needs two"); a multiclass class without rows:
 *     error (its intercept would run to minus infinity)
 *   - no regularization and classes that a hyperplane separates perfectly:
 *     the coefficients would grow without bound. Detected the moment any
 *     iterate classifies every weighted row strictly correctly (that iterate
 *     is a proof), and refused with an error asking for l2 or l1.
 *   - collinear columns in unregularized linear regression: the
 *     minimum-norm solution, with a warning.
 */
#include "trainer/model.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "trainer/glm_int.h"
#include "trainer/la.h"
#include "trainer/lbfgs.h"
#include "base/limits.h"

#define MODEL_FORMAT "strata.linear_model"
#define MODEL_VERSION 1
/* Below this many matrix entries one thread beats starting more. */
#define THREAD_MIN_ENTRIES 200000u
#define DEFAULT_MAX_THREADS 8

struct trainer_model {
    trainer_task task;
    size_t p, k, n_classes;
    double *theta; /* k * p coefficients (class-major), then k intercepts */
    trainer_fit_info info;
    json_t *warnings;
};

void trainer_params_default(trainer_params *p)
{
    memset(p, 0, sizeof *p);
    p->max_iterations = 100;
    p->tolerance = 1e-6;
    p->rel_objective_tol = 1e-9;
    p->early_stop = true;
    p->min_rel_progress = 0.001;
    p->lbfgs_memory = 10;
}

void trainer_model_destroy(trainer_model *m)
{
    if (!m)
        return;
    free(m->theta);
    json_decref(m->warnings);
    free(m);
}

trainer_task trainer_model_task(const trainer_model *m)
{
    return m->task;
}
size_t trainer_model_n_features(const trainer_model *m)
{
    return m->p;
}
size_t trainer_model_n_classes(const trainer_model *m)
{
    return m->n_classes;
}
const double *trainer_model_coef(const trainer_model *m)
{
    return m->theta;
}
const double *trainer_model_intercept(const trainer_model *m)
{
    return m->theta + m->k * m->p;
}
const trainer_fit_info *trainer_model_info(const trainer_model *m)
{
    return &m->info;
}
const json_t *trainer_model_warnings(const trainer_model *m)
{
    return m->warnings;
}
size_t trainer_model_outputs(const trainer_model *m)
{
    return m->k;
}

static trainer_model *model_new(trainer_task task, size_t p, size_t n_classes)
{
    trainer_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->task = task;
    m->p = p;
    m->n_classes = task == TRAINER_REGRESSION ? 0 : n_classes;
    m->k = task == TRAINER_MULTICLASS ? n_classes : 1;
    m->theta = calloc(m->k * p + m->k, sizeof *m->theta);
    m->warnings = json_array();
    m->info.gradient_norm = NAN;
    m->info.eval_loss = NAN;
    m->info.stop_reason = "";
    m->info.solver = "";
    if (!m->theta || !m->warnings) {
        trainer_model_destroy(m);
        return NULL;
    }
    return m;
}

static void model_warn(trainer_model *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void model_warn(trainer_model *m, const char *fmt, ...)
{
    char msg[STRATA_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_warn("trainer: %s", msg);
    json_array_append_new(m->warnings, json_string(msg));
}

/* ---- checks ---- */

static int check_params(const trainer_params *P, trainer_task task, size_t n_classes,
                        strata_err *err)
{
    if (!(P->l1 >= 0) || !isfinite(P->l1))
        return err_set(err, STRATA_INVALID_ARGUMENT, "l1 must be a finite number >= 0");
    if (!(P->l2 >= 0) || !isfinite(P->l2))
        return err_set(err, STRATA_INVALID_ARGUMENT, "l2 must be a finite number >= 0");
    if (P->max_iterations < 1 || (unsigned)P->max_iterations > TRAINER_MAX_ITERATIONS)
        return err_set(err, STRATA_INVALID_ARGUMENT, "max_iterations must be in 1..%u",
                       TRAINER_MAX_ITERATIONS);
    if (!(P->tolerance >= 0) || !isfinite(P->tolerance))
        return err_set(err, STRATA_INVALID_ARGUMENT, "tolerance must be a finite number >= 0");
    if (!(P->rel_objective_tol >= 0) || !isfinite(P->rel_objective_tol))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "rel_objective_tol must be a finite number >= 0");
    if (!(P->min_rel_progress >= 0) || !(P->min_rel_progress < 1))
        return err_set(err, STRATA_INVALID_ARGUMENT, "min_rel_progress must be in [0, 1)");
    if (P->lbfgs_memory < 1 || (unsigned)P->lbfgs_memory > TRAINER_MAX_LBFGS_MEMORY)
        return err_set(err, STRATA_INVALID_ARGUMENT, "lbfgs_memory must be in 1..%u",
                       TRAINER_MAX_LBFGS_MEMORY);
    if (P->threads < 0 || (unsigned)P->threads > TRAINER_MAX_THREADS)
        return err_set(err, STRATA_INVALID_ARGUMENT, "threads must be in 0..%u",
                       TRAINER_MAX_THREADS);
    if (task != TRAINER_BINARY && task != TRAINER_MULTICLASS && task != TRAINER_REGRESSION)
        return err_set(err, STRATA_INVALID_ARGUMENT, "unknown task");
    if (task == TRAINER_BINARY && n_classes != 2)
        return err_set(err, STRATA_INVALID_ARGUMENT, "binary classification has 2 classes");
    if (task == TRAINER_MULTICLASS && (n_classes < 2 || n_classes > TRAINER_MAX_CLASSES))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "multiclass classification needs 2..%u classes", TRAINER_MAX_CLASSES);
    if (task != TRAINER_REGRESSION) {
        if (P->class_weights == TRAINER_CLASS_WEIGHTS_EXPLICIT) {
            if (!P->class_weight_values)
                return err_set(err, STRATA_INVALID_ARGUMENT, "class_weights: no values");
            for (size_t c = 0; c < n_classes; c++)
                if (!(P->class_weight_values[c] >= 0) || !isfinite(P->class_weight_values[c]))
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "class_weights: the weight of class %zu must be a finite "
                                   "number >= 0",
                                   c);
        } else if (P->class_weights != TRAINER_CLASS_WEIGHTS_NONE &&
                   P->class_weights != TRAINER_CLASS_WEIGHTS_BALANCED) {
            return err_set(err, STRATA_INVALID_ARGUMENT, "class_weights: unknown mode");
        }
    } else if (P->class_weights != TRAINER_CLASS_WEIGHTS_NONE) {
        return err_set(err, STRATA_INVALID_ARGUMENT, "class_weights apply to classification only");
    }
    return 0;
}

static int check_x(const double *x, size_t n, size_t p, const char *const *names, const char *which,
                   strata_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const double *xi = x + i * p;
        for (size_t j = 0; j < p; j++) {
            if (isfinite(xi[j]))
                continue;
            if (names && names[j])
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "feature '%s' (column %zu) holds a non-finite value (%g) in %s "
                               "row %zu",
                               names[j], j, xi[j], which, i);
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "feature column %zu holds a non-finite value (%g) in %s row %zu", j,
                           xi[j], which, i);
        }
    }
    return 0;
}

static int check_data(const trainer_data *d, trainer_task task, size_t n_classes, size_t p,
                      const char *which, strata_err *err)
{
    if (!d->x && d->n_rows > 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "the %s set has no feature values", which);
    if (!d->y && d->n_rows > 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "the %s set has no labels", which);
    if (d->n_features != p)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "the %s set has %zu features, the training set %zu", which, d->n_features,
                       p);
    if (p > 0 && d->n_rows > SIZE_MAX / sizeof(double) / p)
        return err_set(err, STRATA_INVALID_ARGUMENT, "the %s set is too large", which);
    int rc = check_x(d->x, d->n_rows, p, d->feature_names, which, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < d->n_rows; i++) {
        double y = d->y[i];
        if (task == TRAINER_REGRESSION) {
            if (!isfinite(y))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "the label is not a finite number (%g) in %s row %zu", y, which, i);
        } else if (!(y >= 0) || y != floor(y) || y >= (double)n_classes) {
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "the label in %s row %zu is %g, not a class index in 0..%zu", which, i,
                           y, n_classes - 1);
        }
        if (d->weights && (!(d->weights[i] >= 0) || !isfinite(d->weights[i])))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "the weight of %s row %zu is %g, not a finite number >= 0", which, i,
                           d->weights[i]);
    }
    return 0;
}

/*
 * Row weights s_i = sample weight x class weight, normalized to sum 1; *total
 * receives the sum before normalization. cw: the class weights (NULL: 1).
 * check_classes: refuse one class, or a class without weight (training).
 */
static int row_weights(const trainer_data *d, trainer_task task, size_t n_classes, const double *cw,
                       int check_classes, double **out, double *total, strata_err *err)
{
    int rc = 0;
    double *s = NULL, *wsum = NULL;
    size_t n = d->n_rows;
    s = malloc(n * sizeof *s);
    if (task != TRAINER_REGRESSION)
        wsum = calloc(n_classes, sizeof *wsum);
    if (!s || (task != TRAINER_REGRESSION && !wsum)) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double w = d->weights ? d->weights[i] : 1.0;
        if (task != TRAINER_REGRESSION) {
            size_t c = (size_t)d->y[i];
            if (cw)
                w *= cw[c];
            wsum[c] += w;
        }
        s[i] = w;
        sum += w;
    }
    if (check_classes && task != TRAINER_REGRESSION) {
        size_t present = 0, first = 0, absent = 0;
        int have_absent = 0;
        for (size_t c = 0; c < n_classes; c++) {
            if (wsum[c] > 0) {
                if (present++ == 0)
                    first = c;
            } else if (!have_absent) {
                have_absent = 1;
                absent = c;
            }
        }
        if (present == 1) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "the label has one class (%zu): a classifier needs two", first);
            goto out;
        }
        if (present > 1 && have_absent) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "class %zu of %zu has no training rows (or only rows of weight 0)", absent,
                         n_classes);
            goto out;
        }
    }
    if (!(sum > 0) || !isfinite(sum)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "the rows' weights sum to %g: nothing to learn from", sum);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        s[i] /= sum;
    *total = sum;
    *out = s;
    s = NULL;
out:
    free(s);
    free(wsum);
    return rc;
}

/* The class weights of the training rows (NULL for none), also applied to
 * the eval rows so both losses measure the same thing. */
static int class_weights_of(const trainer_data *d, size_t n_classes, const trainer_params *P,
                            double **out, strata_err *err)
{
    *out = NULL;
    if (P->class_weights == TRAINER_CLASS_WEIGHTS_NONE)
        return 0;
    double *cw = calloc(n_classes, sizeof *cw);
    size_t *count = calloc(n_classes, sizeof *count);
    if (!cw || !count) {
        free(cw);
        free(count);
        return err_set(err, STRATA_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < d->n_rows; i++)
        count[(size_t)d->y[i]]++;
    for (size_t c = 0; c < n_classes; c++) {
        if (P->class_weights == TRAINER_CLASS_WEIGHTS_BALANCED)
            /* scikit-learn's compute_class_weight: n / (K * n_c), row counts */
            cw[c] = count[c] ? (double)d->n_rows / ((double)n_classes * (double)count[c]) : 0;
        else
            cw[c] = P->class_weight_values[c];
    }
    free(count);
    *out = cw;
    return 0;
}

static int pick_threads(const trainer_params *P, size_t n, size_t p)
{
    if (n * (p + 1) < THREAD_MIN_ENTRIES)
        return 1;
    int t = P->threads;
    if (t == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        t = cpus < 1 ? 1 : cpus > DEFAULT_MAX_THREADS ? DEFAULT_MAX_THREADS : (int)cpus;
    }
    return t;
}

/* ---- the iterative fit ---- */

typedef struct fit_ctx {
    glm_problem train;
    glm_problem eval;
    int has_eval;
    const trainer_params *P;
    int unregularized;
    int separable;
    int cancelled;
    int early_stopped;
    int stalled; /* consecutive steps below min_rel_progress */
    int best_iteration;
    double best_loss;
    double *best; /* dim doubles */
    double last_eval;
    size_t dim;
} fit_ctx;

static double fit_eval(void *arg, const double *x, double *g)
{
    fit_ctx *c = arg;
    double wrong = 1;
    double f = glm_eval(&c->train, x, g, &wrong);
    if (c->unregularized && c->train.task != TRAINER_REGRESSION && wrong == 0)
        c->separable = 1;
    return f;
}

/* Early stopping and progress after one accepted step; non-zero stops. */
static int fit_step(fit_ctx *c, int it, const double *x, double fx)
{
    double ev = NAN;
    if (c->has_eval)
        ev = glm_eval(&c->eval, x, NULL, NULL);
    c->last_eval = ev;
    if (c->P->progress && c->P->progress(c->P->progress_arg, it, fx, ev)) {
        c->cancelled = 1;
        return 1;
    }
    if (c->separable)
        return 1;
    double cur = c->has_eval ? ev : fx;
    if (c->has_eval && cur < c->best_loss) {
        memcpy(c->best, x, c->dim * sizeof *x);
        c->best_iteration = it;
    }
    if (c->P->early_stop) {
        double rel = (c->best_loss - cur) / fmax(fabs(c->best_loss), DBL_MIN);
        if (cur < c->best_loss)
            c->best_loss = cur;
        /* Quasi-Newton steps are uneven: one step of little progress (or a
         * small rise in eval loss) is common early on. Stop only after
         * TRAINER_EARLY_STOP_PATIENCE such steps in a row. */
        c->stalled = rel < c->P->min_rel_progress ? c->stalled + 1 : 0;
        if (c->stalled >= TRAINER_EARLY_STOP_PATIENCE) {
            c->early_stopped = 1;
            return 1;
        }
    } else if (cur < c->best_loss) {
        c->best_loss = cur;
    }
    return 0;
}

static int fit_iter(void *arg, int it, const double *x, double fx, double gnorm)
{
    (void)gnorm;
    return fit_step(arg, it, x, fx);
}

static int cd_iter(void *arg, int it, const double *theta, double obj)
{
    return fit_step(arg, it, theta, obj);
}

/* Start from the intercept that fits the weighted label distribution. */
static void initial_theta(trainer_task task, size_t n, size_t p, size_t k, const double *y,
                          const double *s, double *theta)
{
    memset(theta, 0, (k * p + k) * sizeof *theta);
    if (task == TRAINER_BINARY) {
        double pos = 0;
        for (size_t i = 0; i < n; i++)
            pos += y[i] > 0.5 ? s[i] : 0;
        if (pos > 0 && pos < 1)
            theta[p] = log(pos) - log1p(-pos);
    } else if (task == TRAINER_MULTICLASS) {
        double *b = theta + k * p, mean = 0;
        for (size_t i = 0; i < n; i++)
            b[(size_t)y[i]] += s[i];
        for (size_t c = 0; c < k; c++) {
            b[c] = log(b[c] > 0 ? b[c] : DBL_MIN);
            mean += b[c];
        }
        mean /= (double)k;
        for (size_t c = 0; c < k; c++)
            b[c] -= mean;
    } else {
        double m = 0;
        for (size_t i = 0; i < n; i++)
            m += s[i] * y[i];
        theta[p] = m;
    }
}

int trainer_fit(trainer_task task, size_t n_classes, const trainer_data *train,
                const trainer_data *eval, const trainer_params *params, trainer_model **out,
                strata_err *err)
{
    int rc = 0;
    trainer_model *m = NULL;
    double *s = NULL, *se = NULL, *cw = NULL;
    fit_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    *out = NULL;
    trainer_params defaults;
    if (!params) {
        trainer_params_default(&defaults);
        params = &defaults;
    }
    const trainer_params *P = params;
    rc = check_params(P, task, n_classes, err);
    if (rc)
        return rc;
    if (!train || train->n_rows == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "the training set is empty");
    size_t n = train->n_rows, p = train->n_features;
    if (p == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "there are no feature columns");
    if (p > TRAINER_MAX_FEATURES)
        return err_set(err, STRATA_INVALID_ARGUMENT, "more than %u features", TRAINER_MAX_FEATURES);
    if (task == TRAINER_MULTICLASS && p > TRAINER_MAX_FEATURES / n_classes)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "%zu features x %zu classes is more than %u coefficients", p, n_classes,
                       TRAINER_MAX_FEATURES);
    rc = check_data(train, task, n_classes, p, "training", err);
    if (rc)
        return rc;
    if (eval && eval->n_rows > 0) {
        rc = check_data(eval, task, n_classes, p, "eval", err);
        if (rc)
            return rc;
    }

    double total = 0;
    if (task != TRAINER_REGRESSION) {
        rc = class_weights_of(train, n_classes, P, &cw, err);
        if (rc)
            goto out;
    }
    rc = row_weights(train, task, n_classes, cw, 1, &s, &total, err);
    if (rc)
        goto out;
    m = model_new(task, p, n_classes);
    if (!m) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    size_t k = m->k, dim = k * p + k;
    double l1 = P->l1 / total, l2 = P->l2 / total;
    int threads = pick_threads(P, n, p * k);

    ctx.P = P;
    ctx.dim = dim;
    ctx.unregularized = P->l1 == 0 && P->l2 == 0;
    ctx.best_loss = INFINITY;
    ctx.last_eval = NAN;
    ctx.best = calloc(dim, sizeof *ctx.best);
    if (!ctx.best || glm_init(&ctx.train, task, n, p, k, train->x, train->y, s, l2, threads)) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    if (eval && eval->n_rows > 0) {
        double etotal = 0;
        rc = row_weights(eval, task, n_classes, cw, 0, &se, &etotal, err);
        if (rc) {
            err_prefix(err, "eval set");
            goto out;
        }
        if (glm_init(&ctx.eval, task, eval->n_rows, p, k, eval->x, eval->y, se, 0,
                     pick_threads(P, eval->n_rows, p * k))) {
            rc = err_set(err, STRATA_NOMEM, "out of memory");
            goto out;
        }
        ctx.has_eval = 1;
    }

    initial_theta(task, n, p, k, train->y, s, m->theta);
    if (ctx.has_eval) {
        ctx.best_loss = glm_eval(&ctx.eval, m->theta, NULL, NULL);
        memcpy(ctx.best, m->theta, dim * sizeof *ctx.best);
    } else {
        ctx.best_loss = glm_eval(&ctx.train, m->theta, NULL, NULL);
    }

    trainer_fit_info *info = &m->info;
    int closed_form = task == TRAINER_REGRESSION && P->l1 == 0 && p <= TRAINER_MAX_GRAM_FEATURES;
    if (closed_form) {
        linreg_out lo;
        info->solver = "cholesky";
        rc = linreg_ridge(n, p, train->x, train->y, s, l2, m->theta, &lo, err);
        if (rc)
            goto out;
        if (lo.collinear)
            model_warn(m, "the feature columns are collinear (or constant) and there is no l2: "
                          "the minimum-norm least-squares solution was used; its predictions are "
                          "unique, its coefficients are not");
        info->iterations = 1;
        info->converged = true;
        info->stop_reason = "closed form";
        info->best_iteration = 1;
        info->objective = glm_eval(&ctx.train, m->theta, NULL, NULL);
        if (fit_step(&ctx, 1, m->theta, info->objective) && ctx.cancelled) {
            rc = err_set(err, STRATA_UNAVAILABLE, "training cancelled");
            goto out;
        }
        ctx.early_stopped = 0; /* one step: nothing to stop early */
        memcpy(ctx.best, m->theta, dim * sizeof *ctx.best);
        ctx.best_iteration = 1;
    } else if (task == TRAINER_REGRESSION && P->l1 > 0) {
        linreg_out lo;
        info->solver = "coordinate_descent";
        rc = linreg_cd(n, p, train->x, train->y, s, l1, l2, P->max_iterations, P->tolerance,
                       cd_iter, &ctx, m->theta, &lo, err);
        if (rc)
            goto out;
        if (ctx.cancelled) {
            rc = err_set(err, STRATA_UNAVAILABLE, "training cancelled");
            goto out;
        }
        info->iterations = lo.iterations;
        info->converged = lo.converged || ctx.early_stopped;
        info->stop_reason = ctx.early_stopped ? "early stopping (min_rel_progress)"
                            : lo.converged    ? "converged (duality gap)"
                                              : "reached max_iterations";
        info->gradient_norm = lo.gap;
        if (!lo.converged && !ctx.early_stopped)
            model_warn(m,
                       "stopped at max_iterations (%d) before converging: the relative "
                       "duality gap is %.3g",
                       P->max_iterations, lo.gap);
    } else {
        lbfgs_params lp;
        lbfgs_result lr;
        lbfgs_defaults(&lp);
        lp.m = P->lbfgs_memory;
        lp.max_iterations = P->max_iterations;
        lp.gtol = P->tolerance;
        lp.ftol = P->rel_objective_tol;
        lp.l1 = l1;
        lp.l1_begin = 0;
        lp.l1_end = k * p;
        info->solver = l1 > 0 ? "owlqn" : "lbfgs";
        if (lbfgs_minimize(dim, m->theta, fit_eval, fit_iter, &ctx, &lp, &lr) != 0) {
            rc = err_set(err, STRATA_NOMEM, "out of memory (L-BFGS history)");
            goto out;
        }
        if (ctx.cancelled) {
            rc = err_set(err, STRATA_UNAVAILABLE, "training cancelled");
            goto out;
        }
        if (ctx.separable) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "the classes are perfectly separable in the training rows and there is "
                         "no regularization: the coefficients would grow without bound; set l2 "
                         "(or l1) above 0");
            goto out;
        }
        if (lr.stop == LBFGS_NONFINITE) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "the objective overflowed: the features are too large; standardize "
                         "them");
            goto out;
        }
        info->iterations = lr.iterations;
        info->evaluations = lr.evaluations;
        info->gradient_norm = lr.gnorm;
        info->converged = ctx.early_stopped || lr.stop == LBFGS_CONVERGED_GRADIENT ||
                          lr.stop == LBFGS_CONVERGED_OBJECTIVE || lr.stop == LBFGS_ROUNDING;
        info->stop_reason =
            ctx.early_stopped ? "early stopping (min_rel_progress)" : lbfgs_stop_name(lr.stop);
        if (lr.stop == LBFGS_MAX_ITERATIONS && !ctx.early_stopped)
            model_warn(m,
                       "stopped at max_iterations (%d) before converging: the gradient norm is "
                       "%.3g (tolerance %.3g)",
                       P->max_iterations, lr.gnorm, P->tolerance);
    }
    if (!closed_form) {
        if (ctx.has_eval && P->early_stop) {
            /* keep the parameters with the best eval loss */
            memcpy(m->theta, ctx.best, dim * sizeof *ctx.best);
            info->best_iteration = ctx.best_iteration;
        } else {
            info->best_iteration = info->iterations;
        }
    }
    info->early_stopped = ctx.early_stopped;
    /* Report on the kept parameters. */
    {
        double f = glm_eval(&ctx.train, m->theta, NULL, NULL);
        double w1 = 0, w2 = cblas_ddot((int)(k * p), m->theta, 1, m->theta, 1);
        for (size_t j = 0; j < k * p; j++)
            w1 += fabs(m->theta[j]);
        info->objective = f + l1 * w1;
        info->train_loss = f - 0.5 * l2 * w2;
        info->eval_loss = ctx.has_eval ? glm_eval(&ctx.eval, m->theta, NULL, NULL) : NAN;
    }
    *out = m;
    m = NULL;
out:
    glm_free(&ctx.train);
    glm_free(&ctx.eval);
    free(ctx.best);
    free(s);
    free(se);
    free(cw);
    trainer_model_destroy(m);
    return rc;
}

/* ---- prediction ---- */

int trainer_predict(const trainer_model *m, const double *x, size_t n_rows, double *out,
                    strata_err *err)
{
    if (n_rows == 0)
        return 0;
    if (!x || !out)
        return err_set(err, STRATA_INVALID_ARGUMENT, "predict: no data");
    int rc = check_x(x, n_rows, m->p, NULL, "prediction", err);
    if (rc)
        return rc;
    glm_scores(n_rows, m->p, m->k, x, m->theta, out);
    if (m->task == TRAINER_BINARY) {
        for (size_t i = 0; i < n_rows; i++)
            out[i] = glm_sigmoid(out[i]);
    } else if (m->task == TRAINER_MULTICLASS) {
        for (size_t i = 0; i < n_rows; i++)
            glm_softmax(out + i * m->k, m->k);
    }
    return 0;
}

int trainer_labels(const trainer_model *m, const double *scores, size_t n_rows, double threshold,
                   int32_t *labels)
{
    if (m->task == TRAINER_REGRESSION)
        return -1;
    for (size_t i = 0; i < n_rows; i++) {
        if (m->task == TRAINER_BINARY) {
            labels[i] = scores[i] >= threshold ? 1 : 0;
            continue;
        }
        const double *r = scores + i * m->k;
        size_t best = 0;
        for (size_t c = 1; c < m->k; c++)
            if (r[c] > r[best])
                best = c;
        labels[i] = (int32_t)best;
    }
    return 0;
}

/* ---- JSON ---- */

static const char *task_name(trainer_task t)
{
    return t == TRAINER_BINARY       ? "binary_classification"
           : t == TRAINER_MULTICLASS ? "multiclass_classification"
                                     : "regression";
}

static json_t *doubles(const double *v, size_t n)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(a, json_real(v[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *trainer_model_to_json(const trainer_model *m)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    int bad = 0;
    size_t p = m->p, k = m->k;
    bad |= json_object_set_new(j, "format", json_string(MODEL_FORMAT));
    bad |= json_object_set_new(j, "version", json_integer(MODEL_VERSION));
    bad |= json_object_set_new(j, "task", json_string(task_name(m->task)));
    bad |= json_object_set_new(j, "n_features", json_integer((json_int_t)p));
    if (m->task != TRAINER_REGRESSION)
        bad |= json_object_set_new(j, "n_classes", json_integer((json_int_t)m->n_classes));
    if (m->task == TRAINER_MULTICLASS) {
        json_t *rows = json_array();
        bad |= json_object_set_new(j, "coef", rows);
        for (size_t c = 0; c < k; c++)
            bad |= json_array_append_new(rows, doubles(m->theta + c * p, p));
        bad |= json_object_set_new(j, "intercept", doubles(m->theta + k * p, k));
    } else {
        bad |= json_object_set_new(j, "coef", doubles(m->theta, p));
        bad |= json_object_set_new(j, "intercept", json_real(m->theta[p]));
    }
    if (m->info.solver && m->info.solver[0]) {
        json_t *fit =
            json_pack("{s:s, s:s, s:i, s:b, s:b, s:i}", "solver", m->info.solver, "stop_reason",
                      m->info.stop_reason, "iterations", m->info.iterations, "converged",
                      (int)m->info.converged, "early_stopped", (int)m->info.early_stopped,
                      "best_iteration", m->info.best_iteration);
        bad |= json_object_set_new(j, "fit", fit);
    }
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int read_doubles(const json_t *a, double *out, size_t n)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_number(v))
            return -1;
        out[i] = json_number_value(v);
        if (!isfinite(out[i]))
            return -1;
    }
    return 0;
}

int trainer_model_from_json(const json_t *j, trainer_model **out, strata_err *err)
{
    *out = NULL;
    if (!json_is_object(j))
        return err_set(err, STRATA_INVALID_ARGUMENT, "model: not an object");
    const char *fmt = json_string_value(json_object_get(j, "format"));
    const json_t *ver = json_object_get(j, "version");
    if (!fmt || strcmp(fmt, MODEL_FORMAT) != 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "model: format is not \"%s\"", MODEL_FORMAT);
    if (!json_is_integer(ver) || json_integer_value(ver) != MODEL_VERSION)
        return err_set(err, STRATA_INVALID_ARGUMENT, "model: unsupported version");
    const char *t = json_string_value(json_object_get(j, "task"));
    trainer_task task;
    if (t && strcmp(t, "binary_classification") == 0)
        task = TRAINER_BINARY;
    else if (t && strcmp(t, "multiclass_classification") == 0)
        task = TRAINER_MULTICLASS;
    else if (t && strcmp(t, "regression") == 0)
        task = TRAINER_REGRESSION;
    else
        return err_set(err, STRATA_INVALID_ARGUMENT, "model: unknown task");
    const json_t *nf = json_object_get(j, "n_features");
    if (!json_is_integer(nf) || json_integer_value(nf) < 1 ||
        json_integer_value(nf) > (json_int_t)TRAINER_MAX_FEATURES)
        return err_set(err, STRATA_INVALID_ARGUMENT, "model: n_features must be 1..%u",
                       TRAINER_MAX_FEATURES);
    size_t p = (size_t)json_integer_value(nf), nc = 0;
    if (task != TRAINER_REGRESSION) {
        const json_t *v = json_object_get(j, "n_classes");
        if (!json_is_integer(v) || json_integer_value(v) < 2 ||
            json_integer_value(v) > (json_int_t)TRAINER_MAX_CLASSES ||
            (task == TRAINER_BINARY && json_integer_value(v) != 2))
            return err_set(err, STRATA_INVALID_ARGUMENT, "model: bad n_classes");
        nc = (size_t)json_integer_value(v);
    }
    if (task == TRAINER_MULTICLASS && p > TRAINER_MAX_FEATURES / nc)
        return err_set(err, STRATA_INVALID_ARGUMENT, "model: too many coefficients");
    trainer_model *m = model_new(task, p, nc);
    if (!m)
        return err_set(err, STRATA_NOMEM, "out of memory");
    const json_t *coef = json_object_get(j, "coef"), *icpt = json_object_get(j, "intercept");
    int bad = 0;
    if (task == TRAINER_MULTICLASS) {
        if (!json_is_array(coef) || json_array_size(coef) != m->k)
            bad = 1;
        for (size_t c = 0; !bad && c < m->k; c++)
            bad = read_doubles(json_array_get(coef, c), m->theta + c * p, p) != 0;
        if (!bad)
            bad = read_doubles(icpt, m->theta + m->k * p, m->k) != 0;
    } else {
        bad = read_doubles(coef, m->theta, p) != 0 || !json_is_number(icpt);
        if (!bad) {
            m->theta[p] = json_number_value(icpt);
            bad = !isfinite(m->theta[p]);
        }
    }
    if (bad) {
        trainer_model_destroy(m);
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "model: coef/intercept do not match n_features and n_classes");
    }
    *out = m;
    return 0;
}
