/*
 * evaluate.h - the evaluator: model quality and fairness metrics over a set of
 * scored rows, computed in one pass per group plus a seeded bootstrap
 * ("Evaluation and fairness" in the API contract; docs/evaluation.md).
 *
 * Three callers meet here and nowhere else:
 *   - trainer/eval_job.c builds an eval_data from a model + instances (features
 *     read point-in-time through the export reader) or from a predictions file,
 *     calls eval_compute and stores the JSON it returns;
 *   - trainer/train_job.c evaluates a freshly trained model on its eval split
 *     when the training request carries a "fairness" block;
 *   - trainer/eval_report.c renders that stored JSON as report.html.
 * So the JSON below is the one interface between computation, storage and the
 * report; eval_compute produces all of it, the other two only read it.
 *
 * THE RESULT (what eval_compute returns; the service adds "id",
 * "created_time", "source" and the request's echo around it):
 *
 * {"task": "binary_classification" | "multiclass_classification" | "regression",
 *  "threshold": 0.5, "n": N,
 *  "overall": {
 *     binary:     "n","positives","negatives","accuracy","precision","recall","f1",
 *                 "roc_auc","average_precision","log_loss","brier","ece",
 *                 "confusion":{"tp","fp","tn","fn"}
 *     multiclass: "n","accuracy","log_loss","classes":[label...],
 *                 "confusion":[[...]] (rows = true class, cols = predicted),
 *                 "macro":{"precision","recall","f1"},"micro":{"precision","recall","f1"},
 *                 "per_class":[{"class","precision","recall","f1","support"}]
 *     regression: "n","rmse","mae","r2"
 *     a metric that cannot be computed (one class only, no scores) is null and
 *     named in "undefined":{"roc_auc":"UNDEFINED_ONE_CLASS",...} (always
 *     present, {} when all are defined; multiclass per_class entries carry
 *     their own) },
 *  "groups": [ one per (attribute, value), attributes in group_by order, then
 *     with intersections every combination of two or more attributes (by
 *     size, then in group_by order: a&b, a&c, b&c, a&b&c) (attribute
 *     "sex&race", value "F&B"); each attribute's values sorted by byte order,
 *     a combination's values in that order with the first attribute varying
 *     slowest; every combination of values is listed, an empty one with "n":0
 *     and flag "EMPTY" (all its rates null, reason "EMPTY").
 *     binary: {"attribute","value","n","positives","negatives","tp","fp","tn","fn",
 *       "base_rate","selection_rate","tpr","fpr","fnr","tnr","ppv","npv","fdr",
 *       "for","accuracy","roc_auc",
 *       "reference": true|false,
 *       "ci": {rate: {"low","high","replicates_used","wilson_low","wilson_high"}}
 *             (bootstrap percentile low/high and Wilson for each rate that is
 *             not null; roc_auc: {"low","high","method":"delong"}, DeLong's
 *             normal interval; "ci" is absent when replicates is 0),
 *       "tests": {"tpr":{"z","p_value"},"fpr":{"z","p_value"}}  (two-proportion
 *             z test against the attribute's reference group; absent on the
 *             reference group itself, null when undefined),
 *       "flags": ["SMALL_GROUP"|"SMALL_CLASS"|"EMPTY","UNDEFINED_NO_POSITIVES",...],
 *       "reasons": {rate: flag}  (why each null rate is null)}
 *     regression: {"attribute","value","n","rmse","mae","r2","mean_prediction",
 *       "mean_label","flags","reference","reasons"}  (r2 null under 2 rows)
 *     multiclass: {"attribute","value","n","accuracy","flags","reference","reasons"} ],
 *     The reference group of an attribute is the request's, else the largest
 *     (ties: first in byte order); of a combination, the combination of its
 *     attributes' references (possibly empty: then its tests are null).
 *  "disparities": { binary only; metric in selection_rate, tpr, fpr, fnr,
 *     tnr, ppv, npv, fdr, for, accuracy, roc_auc:
 *     metric: {"difference_between_groups","ratio_between_groups",
 *              "difference_to_overall","ratio_to_overall",
 *              "attribute": the attribute the four values above come from
 *                           (the worst one: largest difference),
 *              "ci": {each of the four: {"low","high","replicates_used"}},
 *              "vs_reference": {"attr=value": {"difference","ratio",
 *                               "ci":{"difference":{..},"ratio":{..}}}},
 *              "by_attribute": {attr: {the same fields for that attribute
 *                               alone, "reference": value}}} },
 *     Conventions: difference_between_groups = max - min over the attribute's
 *     non-empty groups; ratio_between_groups = min / max; difference_to_overall
 *     = max |group - overall|; ratio_to_overall = min over groups of
 *     min(g, o) / max(g, o); vs_reference difference = group - reference,
 *     ratio = group / reference. Groups whose value for the metric is null are
 *     left out. A ratio with a zero denominator is null. The roc_auc
 *     to-overall values have no interval (replicates_used 0, low/high null).
 *     "ci" keys are absent when replicates is 0.
 *  "summary": {"demographic_parity_difference","demographic_parity_ratio",
 *     "equal_opportunity_difference","equalized_odds_difference",
 *     "four_fifths_rule": "pass"|"fail"|null, "attribute",
 *     "by_attribute": {attr: {the same five}}}
 *     (equalized_odds_difference = max of the tpr and fpr differences, as
 *     Fairlearn; four-fifths: pass when demographic_parity_ratio >= 0.8. The
 *     top-level five are each the worst over the attributes, combinations
 *     included: largest differences, smallest ratio, "fail" if any attribute
 *     fails; "attribute" is the one with the largest demographic parity
 *     difference),
 *  "threshold_sweep": [{"threshold","attribute":null|attr,"value":null|v,
 *     "selection_rate","tpr","fpr","ppv","accuracy"}]  overall rows first
 *     (attribute null), then every non-empty group in "groups" order;
 *     thresholds ascending, 0.00, 0.05, ... 1.00 unless the request gives
 *     "thresholds" (sorted, duplicates dropped); predicted positive is
 *     score >= threshold; at most EVAL_MAX_SWEEP_ROWS rows,
 *  "equalizing_thresholds": {attr: {"target_tpr", "thresholds": {value: t}}}
 *     (per non-empty group the sweep threshold whose TPR is closest to the
 *     overall TPR at the request threshold, the lowest on ties, null for a
 *     group without positives; reported, never applied; {} without scores),
 *  "calibration": [{"bin","low","high","count","mean_predicted",
 *     "fraction_positive"}]  (calibration_bins equal-width bins, a score on
 *     an edge in the bin below, as scikit-learn's calibration_curve; an empty
 *     bin's mean and fraction null; ece = sum count/n *
 *     |mean_predicted - fraction_positive|),
 *  "roc_curves": [{"attribute":null|attr,"value":null|v,"points":[[fpr,tpr],...]}]
 *     (overall first, then each one-attribute group with both classes; at most
 *     EVAL_ROC_MAX_POINTS points each, from (0,0) to (1,1), thinned to points
 *     evenly spaced in tpr + fpr),
 *  "bootstrap": {"replicates","seed","confidence"},
 *  "min_group_size": M }
 * Multiclass and regression results have task, threshold, n, overall,
 * groups, bootstrap and min_group_size only (no intervals).
 */
#ifndef STRATA_TRAINER_EVALUATE_H
#define STRATA_TRAINER_EVALUATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"

/* The evaluator's limits (EVAL_MAX_*) are in base/limits.h with their reasons. */

typedef enum eval_task {
    EVAL_BINARY = 0,
    EVAL_MULTICLASS,
    EVAL_REGRESSION,
} eval_task;

/* One group attribute: a code per row into values[]. */
typedef struct eval_attr {
    const char *name;
    size_t n_values;
    const char *const *values; /* distinct values, any order (eval sorts) */
    const uint32_t *codes;     /* n codes, each < n_values */
} eval_attr;

/* The rows to evaluate. Every array has n entries (score: n * n_classes for
 * multiclass); all are borrowed for the duration of eval_compute. */
typedef struct eval_data {
    eval_task task;
    size_t n;
    const double *y;        /* binary: 0 or 1; multiclass: class index; regression: target */
    const double *score;    /* binary: P(y = 1); multiclass: row-major probabilities;
                               regression: the prediction. NULL when only
                               predicted labels are known (binary/multiclass):
                               score-based metrics are then null with reason
                               "NO_SCORES" */
    const int32_t *pred;    /* predicted label; NULL: derived from score
                               (binary: score >= threshold; multiclass: argmax) */
    size_t n_classes;       /* multiclass */
    const char *const *class_names; /* multiclass, n_classes entries; NULL = "0".."K-1" */
    size_t n_attrs;
    const eval_attr *attrs;
} eval_data;

typedef struct eval_options {
    double threshold;                /* default 0.5 */
    const double *thresholds;        /* sweep; NULL = 0.00, 0.05 .. 1.00 */
    size_t n_thresholds;
    bool intersections;
    const char *const *reference;    /* per attribute (n_attrs entries, entries may be
                                        NULL; the array may be NULL): the reference
                                        group's value; NULL = the largest group */
    uint64_t min_group_size;         /* default 30 */
    uint32_t replicates;             /* bootstrap; 0 = no intervals; default 200 */
    uint64_t seed;                   /* default 1 */
    double confidence;               /* default 0.95 */
    uint32_t calibration_bins;       /* default 10 */
    /* Polled between bootstrap replicates; non-zero cancels
     * (STRATA_UNAVAILABLE "evaluation cancelled"). May be NULL. */
    int (*progress)(void *arg, uint64_t done, uint64_t total);
    void *progress_arg;
} eval_options;

/* Defaults as documented above. */
void eval_options_init(eval_options *o);

/* Compute the result described at the top of this file. *out is a new
 * reference the caller owns. Bad input (labels outside {0,1}, a code out of
 * range, non-finite scores, a reference value that names no group, limits
 * above) is INVALID_ARGUMENT naming the row or attribute. */
int eval_compute(const eval_data *d, const eval_options *o, json_t **out, strata_err *err);

/* Render a stored evaluation (the result above plus the service's "id",
 * "created_time", "source") as one self-contained HTML page: no script, no
 * external asset, inline SVG charts, print styles. Appends to *out (a
 * NUL-terminated string the caller frees with free()); *out_len its length.
 * *out is NULL (a new string) or a malloc'ed string of *out_len bytes, which
 * is realloc'ed; on error both are left as they were. A non-object is
 * INVALID_ARGUMENT; any object renders (absent or mistyped fields show "—").
 * Safe to call from several threads (numbers are formatted in a per-thread
 * "C" locale). docs/evaluation.md "Report" describes the page. */
int eval_report_html(const json_t *evaluation, char **out, size_t *out_len, strata_err *err);

/* The page's Content-Security-Policy: in a <meta> of the page (it holds when
 * the file is opened from disk) and, with the directives a <meta> cannot
 * carry (a browser ignores them there, with a console warning), as the
 * header the service sends with it. */
#define EVAL_REPORT_CSP "default-src 'none'; style-src 'unsafe-inline'"
#define EVAL_REPORT_CSP_HEADER                                                                    \
    EVAL_REPORT_CSP "; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

#endif
