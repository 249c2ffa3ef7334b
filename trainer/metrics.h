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
 *   average_precision  average_precision_score: sum over distinct score
 *              thresholds (descending) of (R_k - R_k-1) * P_k, no interpolation
 *   prf        precision_score, recall_score, f1_score from confusion counts,
 *              except that a 0/0 is not replaced by zero_division: it is NaN
 *              and named (f1 = 2tp / (2tp + fp + fn), as scikit-learn >= 1.3)
 *   brier      brier_score_loss: weighted mean of (p - y)^2
 *   calibration  calibration_curve(strategy="uniform") bins and the expected
 *              calibration error sum_b count_b / n * |mean_p_b - frac_pos_b|
 *   multiclass confusion_matrix, per-class and macro/micro precision, recall, F1
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

/* Why a value is undefined (a 0/0). Static strings, also the evaluator's flags. */
#define METRICS_NO_POSITIVES "UNDEFINED_NO_POSITIVES"
#define METRICS_NO_NEGATIVES "UNDEFINED_NO_NEGATIVES"
#define METRICS_NO_PREDICTED_POSITIVES "UNDEFINED_NO_PREDICTED_POSITIVES"
#define METRICS_NO_PREDICTED_NEGATIVES "UNDEFINED_NO_PREDICTED_NEGATIVES"
#define METRICS_ONE_CLASS "UNDEFINED_ONE_CLASS"

/* Precision, recall, F1 of one class. An undefined value is NaN and its
 * why_* names the reason; a defined one has why_* NULL. */
typedef struct metrics_prf {
    double precision, recall, f1;
    const char *why_precision, *why_recall, *why_f1;
} metrics_prf;

/* From the class's true positives, false positives and false negatives
 * (counts or weight sums). f1 is undefined only when all three are 0. */
void metrics_prf_from_counts(double tp, double fp, double fn, metrics_prf *out);

/* y in {0, 1}; at least one positive (else INVALID_ARGUMENT). */
int metrics_average_precision(const double *y, const double *score, const double *w, size_t n,
                              double *out, strata_err *err);

/* y in {0, 1}, prob = P(y = 1) in [0, 1]. */
int metrics_brier(const double *y, const double *prob, const double *w, size_t n, double *out,
                  strata_err *err);

/* One equal-width bin of a calibration curve. A row goes to the bin whose
 * interior edges below it it counts: edges are i * (1 / bins) as numpy's
 * linspace computes them, and a probability equal to an edge goes to the bin
 * below (numpy.searchsorted side "left", as calibration_curve). */
typedef struct metrics_calibration_bin {
    double low, high;
    uint64_t count;
    double sum_prob, sum_pos; /* mean predicted = sum_prob / count, fraction positive likewise */
} metrics_calibration_bin;

/* bins >= 1 entries in out; *ece = sum over non-empty bins of
 * count / n * |mean predicted - fraction positive|. */
int metrics_calibration(const double *y, const double *prob, size_t n, size_t bins,
                        metrics_calibration_bin *out, double *ece, strata_err *err);

/* Multiclass confusion and precision/recall/F1. Arrays are the caller's:
 * confusion k * k (rows = true class), per_class and support k entries. */
typedef struct metrics_multiclass_out {
    uint64_t *confusion;
    metrics_prf *per_class;
    uint64_t *support;
    double accuracy;
    /* macro: the mean over the classes where the value is defined (scikit-learn
     * would count an undefined one as its zero_division, 0 by default);
     * NaN with a reason when no class has it. micro: from the summed counts. */
    metrics_prf macro, micro;
} metrics_multiclass_out;

/* y a class index in 0..k-1 (as a double), pred in 0..k-1. */
int metrics_multiclass(const double *y, const int32_t *pred, size_t n, size_t k,
                       metrics_multiclass_out *out, strata_err *err);

#endif
