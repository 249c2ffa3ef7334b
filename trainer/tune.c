/* tune.c - grid and random hyperparameter search (see tune.h). */
#include "trainer/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/metrics.h"
#include "trainer/rng.h"
#include "base/limits.h"

const char *tune_metric_name(tune_metric m)
{
    switch (m) {
    case TUNE_METRIC_DEFAULT:
        return "default";
    case TUNE_METRIC_ROC_AUC:
        return "roc_auc";
    case TUNE_METRIC_LOG_LOSS:
        return "log_loss";
    case TUNE_METRIC_ACCURACY:
        return "accuracy";
    case TUNE_METRIC_RMSE:
        return "rmse";
    case TUNE_METRIC_MAE:
        return "mae";
    case TUNE_METRIC_R2:
        return "r2";
    }
    return "unknown";
}

static int greater_is_better(tune_metric m)
{
    return m == TUNE_METRIC_ROC_AUC || m == TUNE_METRIC_ACCURACY || m == TUNE_METRIC_R2;
}

static int metric_fits(trainer_task task, tune_metric m)
{
    switch (m) {
    case TUNE_METRIC_ROC_AUC:
        return task == TRAINER_BINARY;
    case TUNE_METRIC_LOG_LOSS:
    case TUNE_METRIC_ACCURACY:
        return task != TRAINER_REGRESSION;
    case TUNE_METRIC_RMSE:
    case TUNE_METRIC_MAE:
    case TUNE_METRIC_R2:
        return task == TRAINER_REGRESSION;
    default:
        return 0;
    }
}

int trainer_score(const trainer_model *m, const trainer_data *d, tune_metric metric, double *out,
                  strata_err *err)
{
    int rc = 0;
    double *scores = NULL;
    int32_t *labels = NULL;
    size_t n = d->n_rows, k = trainer_model_outputs(m);
    trainer_task task = trainer_model_task(m);
    if (metric == TUNE_METRIC_DEFAULT)
        metric = task == TRAINER_BINARY       ? TUNE_METRIC_ROC_AUC
                 : task == TRAINER_MULTICLASS ? TUNE_METRIC_LOG_LOSS
                                              : TUNE_METRIC_RMSE;
    if (!metric_fits(task, metric))
        return err_set(err, STRATA_INVALID_ARGUMENT, "metric %s does not apply to this task",
                       tune_metric_name(metric));
    if (n == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "the eval set is empty");
    if (d->n_features != trainer_model_n_features(m))
        return err_set(err, STRATA_INVALID_ARGUMENT, "the data has %zu features, the model %zu",
                       d->n_features, trainer_model_n_features(m));
    scores = malloc(n * k * sizeof *scores);
    if (!scores)
        return err_set(err, STRATA_NOMEM, "out of memory");
    rc = trainer_predict(m, d->x, n, scores, err);
    if (rc)
        goto out;
    switch (metric) {
    case TUNE_METRIC_ROC_AUC:
        rc = metrics_roc_auc(d->y, scores, d->weights, n, out, err);
        break;
    case TUNE_METRIC_LOG_LOSS:
        rc = metrics_log_loss(d->y, scores, k, d->weights, n, out, err);
        break;
    case TUNE_METRIC_ACCURACY:
        labels = malloc(n * sizeof *labels);
        if (!labels) {
            rc = err_set(err, STRATA_NOMEM, "out of memory");
            break;
        }
        trainer_labels(m, scores, n, 0.5, labels);
        rc = metrics_accuracy(d->y, labels, d->weights, n, out, err);
        break;
    default: {
        metrics_regression_out r;
        rc = metrics_regression(d->y, scores, d->weights, n, &r, err);
        if (rc == 0)
            *out = metric == TUNE_METRIC_RMSE ? r.rmse : metric == TUNE_METRIC_MAE ? r.mae : r.r2;
        break;
    }
    }
out:
    free(scores);
    free(labels);
    return rc;
}

void tune_result_free(tune_result *r)
{
    if (!r)
        return;
    free(r->trials);
    trainer_model_destroy(r->best_model);
    memset(r, 0, sizeof *r);
}

static int check_spec(trainer_task task, const tune_spec *spec, size_t *n_trials, strata_err *err)
{
    if (!spec || spec->n_dims == 0 || !spec->dims)
        return err_set(err, STRATA_INVALID_ARGUMENT, "tuning: no parameters to search");
    if (spec->n_dims > 2)
        return err_set(err, STRATA_INVALID_ARGUMENT, "tuning: at most l1 and l2 are searched");
    int seen[3] = {0, 0, 0};
    size_t grid = 1;
    for (size_t d = 0; d < spec->n_dims; d++) {
        const tune_dim *t = &spec->dims[d];
        if (t->param == TUNE_LEARNING_RATE)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "tuning: learning_rate does not apply: the solvers (L-BFGS, OWL-QN, "
                           "closed form, coordinate descent) choose their own steps");
        if (t->param != TUNE_L1 && t->param != TUNE_L2)
            return err_set(err, STRATA_INVALID_ARGUMENT, "tuning: unknown parameter");
        const char *name = t->param == TUNE_L1 ? "l1" : "l2";
        if (seen[t->param]++)
            return err_set(err, STRATA_INVALID_ARGUMENT, "tuning: %s appears twice", name);
        if (t->values) {
            if (t->n_values == 0 || t->n_values > TRAINER_MAX_TRIALS)
                return err_set(err, STRATA_INVALID_ARGUMENT, "tuning: %s needs 1..%u values", name,
                               TRAINER_MAX_TRIALS);
            for (size_t i = 0; i < t->n_values; i++)
                if (!(t->values[i] >= 0) || !isfinite(t->values[i]))
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "tuning: %s values must be finite numbers >= 0", name);
            grid *= t->n_values;
            if (grid > TRAINER_MAX_TRIALS)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "tuning: the grid has more than %u points", TRAINER_MAX_TRIALS);
        } else {
            if (spec->method == TUNE_GRID)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "tuning: a grid search needs a list of values for %s", name);
            if (!(t->min >= 0) || !isfinite(t->max) || !(t->min <= t->max))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "tuning: %s needs 0 <= min <= max, both finite", name);
            if (t->log_scale && !(t->min > 0))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "tuning: a log-scale range for %s needs min > 0", name);
        }
    }
    if (!metric_fits(task, spec->metric) && spec->metric != TUNE_METRIC_DEFAULT)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "tuning: metric %s does not apply to this task",
                       tune_metric_name(spec->metric));
    if (spec->method == TUNE_GRID) {
        *n_trials = grid;
    } else if (spec->method == TUNE_RANDOM) {
        if (spec->trials < 1 || spec->trials > TRAINER_MAX_TRIALS)
            return err_set(err, STRATA_INVALID_ARGUMENT, "tuning: trials must be 1..%u",
                           TRAINER_MAX_TRIALS);
        *n_trials = spec->trials;
    } else {
        return err_set(err, STRATA_INVALID_ARGUMENT, "tuning: unknown method");
    }
    return 0;
}

static double draw(trainer_rng *rng, const tune_dim *t)
{
    if (t->values)
        return t->values[trainer_rng_below(rng, t->n_values)];
    double u = trainer_rng_uniform(rng);
    if (t->log_scale) {
        double lo = log(t->min), hi = log(t->max);
        return fmin(t->max, fmax(t->min, exp(lo + u * (hi - lo))));
    }
    return t->min + u * (t->max - t->min);
}

int trainer_tune(trainer_task task, size_t n_classes, const trainer_data *train,
                 const trainer_data *eval, const trainer_params *base, const tune_spec *spec,
                 tune_result *out, strata_err *err)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    size_t n_trials = 0;
    rc = check_spec(task, spec, &n_trials, err);
    if (rc)
        return rc;
    if (!eval || eval->n_rows == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "tuning needs a non-empty eval split");
    tune_metric metric = spec->metric;
    if (metric == TUNE_METRIC_DEFAULT)
        metric = task == TRAINER_BINARY       ? TUNE_METRIC_ROC_AUC
                 : task == TRAINER_MULTICLASS ? TUNE_METRIC_LOG_LOSS
                                              : TUNE_METRIC_RMSE;
    out->metric = metric;
    out->greater_is_better = greater_is_better(metric);
    out->trials = calloc(n_trials, sizeof *out->trials);
    if (!out->trials)
        return err_set(err, STRATA_NOMEM, "out of memory");
    trainer_params defaults;
    if (!base) {
        trainer_params_default(&defaults);
        base = &defaults;
    }
    trainer_rng rng;
    trainer_rng_seed(&rng, spec->seed);
    int have_best = 0;
    strata_err first = STRATA_ERR_INIT;

    for (size_t t = 0; t < n_trials; t++) {
        tune_trial *tr = &out->trials[t];
        trainer_params P = *base;
        if (spec->method == TUNE_GRID) {
            /* the last dimension varies fastest */
            size_t rest = t;
            for (size_t d = spec->n_dims; d-- > 0;) {
                const tune_dim *dim = &spec->dims[d];
                double v = dim->values[rest % dim->n_values];
                rest /= dim->n_values;
                if (dim->param == TUNE_L1)
                    P.l1 = v;
                else
                    P.l2 = v;
            }
        } else {
            for (size_t d = 0; d < spec->n_dims; d++) {
                double v = draw(&rng, &spec->dims[d]);
                if (spec->dims[d].param == TUNE_L1)
                    P.l1 = v;
                else
                    P.l2 = v;
            }
        }
        tr->index = t;
        tr->l1 = P.l1;
        tr->l2 = P.l2;
        tr->metric = NAN;
        trainer_model *m = NULL;
        strata_err e = STRATA_ERR_INIT;
        int frc = trainer_fit(task, n_classes, train, eval, &P, &m, &e);
        if (frc == 0)
            frc = trainer_score(m, eval, metric, &tr->metric, &e);
        if (frc == STRATA_UNAVAILABLE || frc == STRATA_NOMEM) {
            rc = err_set(err, frc, "trial %zu: %s", t, e.message);
            err_clear(&e);
            trainer_model_destroy(m);
            out->n_trials = t + 1;
            goto fail;
        }
        if (frc) {
            tr->status = frc;
            snprintf(tr->message, sizeof tr->message, "%s", e.message);
            if (first.code == 0)
                err_set(&first, frc, "trial %zu (l1 %g, l2 %g): %s", t, P.l1, P.l2, e.message);
            trainer_model_destroy(m);
            m = NULL;
        } else {
            const trainer_fit_info *fi = trainer_model_info(m);
            tr->iterations = fi->iterations;
            tr->converged = fi->converged;
        }
        err_clear(&e);
        out->n_trials = t + 1;
        int cancel = spec->on_trial && spec->on_trial(spec->arg, tr, m);
        if (m) {
            const tune_trial *b = have_best ? &out->trials[out->best] : NULL;
            int better =
                !b || (out->greater_is_better ? tr->metric > b->metric : tr->metric < b->metric);
            if (better) {
                trainer_model_destroy(out->best_model);
                out->best_model = m;
                out->best = t;
                have_best = 1;
            } else {
                trainer_model_destroy(m);
            }
        }
        if (cancel) {
            rc = err_set(err, STRATA_UNAVAILABLE, "tuning cancelled");
            goto fail;
        }
    }
    if (!have_best) {
        rc = err_set(err, first.code ? first.code : STRATA_INTERNAL, "every trial failed; %s",
                     first.message);
        goto fail;
    }
    err_clear(&first);
    return 0;
fail:
    err_clear(&first);
    tune_result_free(out);
    return rc;
}
