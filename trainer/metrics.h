/*
 * metrics.h - model quality measures, defined exactly as scikit-learn's.
 *
 * The evaluator (evaluations and fairness) grows from this file; the trainer
 * uses it for eval metrics and hyperparameter search. Every function takes
 * optional sample weights (NULL = all 1) and refuses non-finite inputs.
 *
 *   roc_auc    roc_auc_score: the ROC curve through every distinct score
 *              threshold (tied scores move together, diagonally), area by the
 *              trapezoid rule
 *   log_loss   log_loss: probabilities clipped to [eps, 1 - eps] with eps =
 *              DBL_EPSILON, rows renormalized, weighted mean of -log p(true)
 *   accuracy   accuracy_score
 *   rmse, mae  mean_squared_error(squared=False), mean_absolute_error
 *   r2         r2_score, with its convention for a constant target: 1 when
 *              the predictions are perfect, else 0
 */
#ifndef STRATA_TRAINER_METRICS_H
#define STRATA_TRAINER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* y in {0, 1}. Both classes must be present (else INVALID_ARGUMENT, as
 * scikit-learn's ValueError). */
int metrics_roc_auc(const double *y, const double *score, const double *w, size_t n, double *out,
                    strata_err *err);

/* k == 1: prob[i] = P(y = 1), y in {0, 1}; k >= 2: prob is n x k row-major,
 * y a class index in 0..k-1. */
int metrics_log_loss(const double *y, const double *prob, size_t k, const double *w, size_t n,
                     double *out, strata_err *err);

/* Weighted share of rows with pred == y. */
int metrics_accuracy(const double *y, const int32_t *pred, const double *w, size_t n, double *out,
                     strata_err *err);

typedef struct metrics_regression_out {
    double rmse, mae, r2;
} metrics_regression_out;

int metrics_regression(const double *y, const double *pred, const double *w, size_t n,
                       metrics_regression_out *out, strata_err *err);

#endif
