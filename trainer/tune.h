/*
 * tune.h - hyperparameter search: grid and random (log-uniform) over l1 and
 * l2, each trial a full fit scored on the eval split.
 *
 * Pure functions: no store, no lineage. The caller that records each trial
 * as an execution in a Study context does it from the on_trial hook, which
 * sees every trial (failed ones too) with its model.
 *
 * Grid: every dimension is a list of values; the trials are their Cartesian
 * product, first dimension slowest. Random: `trials` draws from a generator
 * seeded with `seed` (trainer/rng.h), so a seed reproduces the search;
 * a range with log_scale draws log-uniformly (min > 0), otherwise uniformly;
 * a list draws one of its values uniformly.
 *
 * learning_rate is refused: none of the solvers has one (L-BFGS and OWL-QN
 * take steps from their line search, the closed form and coordinate descent
 * take none).
 */
#ifndef STRATA_TRAINER_TUNE_H
#define STRATA_TRAINER_TUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "trainer/model.h"

typedef enum tune_param { TUNE_L1 = 0, TUNE_L2, TUNE_LEARNING_RATE } tune_param;
typedef enum tune_method { TUNE_GRID = 0, TUNE_RANDOM } tune_method;
typedef enum tune_metric {
    TUNE_METRIC_DEFAULT = 0, /* roc_auc (binary), log_loss (multiclass), rmse (regression) */
    TUNE_METRIC_ROC_AUC,
    TUNE_METRIC_LOG_LOSS,
    TUNE_METRIC_ACCURACY,
    TUNE_METRIC_RMSE,
    TUNE_METRIC_MAE,
    TUNE_METRIC_R2,
} tune_metric;

typedef struct tune_dim {
    tune_param param;
    const double *values; /* a list (borrowed), or NULL for the range below */
    size_t n_values;
    double min, max; /* the range, min <= max */
    bool log_scale;
} tune_dim;

typedef struct tune_trial {
    size_t index;
    double l1, l2;
    int status;                       /* 0, or the fit's error status */
    char message[STRATA_ERR_MSG_MAX]; /* the fit's error message when status != 0 */
    double metric;                    /* on the eval split; NaN when the trial failed */
    int iterations;
    bool converged;
} tune_trial;

/* Told after each trial; m is the trial's model (NULL when it failed),
 * borrowed for the call. Non-zero cancels the search (STRATA_UNAVAILABLE). */
typedef int (*tune_trial_fn)(void *arg, const tune_trial *t, const trainer_model *m);

typedef struct tune_spec {
    const tune_dim *dims;
    size_t n_dims;
    tune_method method;
    size_t trials; /* random: how many; grid: ignored */
    uint64_t seed;
    tune_metric metric;
    tune_trial_fn on_trial;
    void *arg;
} tune_spec;

typedef struct tune_result {
    tune_trial *trials; /* n_trials, in order */
    size_t n_trials;
    size_t best;        /* index of the best trial */
    tune_metric metric; /* the metric used (never DEFAULT) */
    bool greater_is_better;
    trainer_model *best_model;
} tune_result;

/* The metric's name as in evaluations ("roc_auc", "rmse", ...). */
const char *tune_metric_name(tune_metric m);

/*
 * Run the search: each trial is trainer_fit(base with the trial's l1/l2) on
 * train, scored on eval (required, non-empty). The best is the highest
 * roc_auc/accuracy/r2 or lowest log_loss/rmse/mae; ties go to the earlier
 * trial. A trial that fails is recorded and the search goes on; when every
 * trial fails the first failure is returned. On success *out owns the trials
 * and the best model; free with tune_result_free().
 */
int trainer_tune(trainer_task task, size_t n_classes, const trainer_data *train,
                 const trainer_data *eval, const trainer_params *base, const tune_spec *spec,
                 tune_result *out, strata_err *err);
void tune_result_free(tune_result *r);

/* Score a model on a data set with one metric (as the search does). */
int trainer_score(const trainer_model *m, const trainer_data *d, tune_metric metric, double *out,
                  strata_err *err);

#endif
