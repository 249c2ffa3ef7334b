/* metrics.c - ROC AUC, average precision, log loss, Brier, calibration,
 * precision/recall/F1, accuracy, RMSE/MAE/R^2 (see metrics.h). */
#include "trainer/metrics.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int check_common(const double *y, const double *v, const double *w, size_t n,
                        const char *what, strata_err *err)
{
    if (n == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s: no rows", what);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            return err_set(err, STRATA_INVALID_ARGUMENT, "%s: the label of row %zu is not finite",
                           what, i);
        if (v && !isfinite(v[i]))
            return err_set(err, STRATA_INVALID_ARGUMENT, "%s: the score of row %zu is not finite",
                           what, i);
        if (w && (!(w[i] >= 0) || !isfinite(w[i])))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%s: the weight of row %zu is not a finite number >= 0", what, i);
    }
    return 0;
}

typedef struct scored {
    double score;
    double y;
    double w;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    double x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    return x > y ? -1 : x < y ? 1 : 0;
}

/* The rows of a binary problem sorted by descending score, with the positive
 * and negative weight totals. *out is the caller's to free. */
static int sorted_binary(const double *y, const double *score, const double *w, size_t n,
                         const char *what, scored **out, double *pos, double *neg, strata_err *err)
{
    int rc = check_common(y, score, w, n, what, err);
    if (rc)
        return rc;
    scored *r = malloc(n * sizeof *r);
    if (!r)
        return err_set(err, STRATA_NOMEM, "out of memory");
    double P = 0, N = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1) {
            free(r);
            return err_set(err, STRATA_INVALID_ARGUMENT, "%s: the label of row %zu is not 0/1",
                           what, i);
        }
        r[i].score = score[i];
        r[i].y = y[i];
        r[i].w = w ? w[i] : 1.0;
        P += r[i].y * r[i].w;
        N += (1 - r[i].y) * r[i].w;
    }
    qsort(r, n, sizeof *r, by_score_desc);
    *out = r;
    *pos = P;
    *neg = N;
    return 0;
}

int metrics_roc_auc(const double *y, const double *score, const double *w, size_t n, double *out,
                    strata_err *err)
{
    scored *r = NULL;
    double P = 0, N = 0;
    int rc = sorted_binary(y, score, w, n, "roc_auc", &r, &P, &N, err);
    if (rc)
        return rc;
    if (!(P > 0) || !(N > 0)) {
        free(r);
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "roc_auc: only one class present in the labels; ROC AUC is not defined");
    }
    /* Cumulative true and false positives at each distinct threshold. */
    double tp = 0, fp = 0, area = 0, prev_tpr = 0, prev_fpr = 0;
    for (size_t i = 0; i < n; i++) {
        tp += r[i].y * r[i].w;
        fp += (1 - r[i].y) * r[i].w;
        if (i + 1 < n && r[i + 1].score == r[i].score)
            continue;
        double tpr = tp / P, fpr = fp / N;
        area += (fpr - prev_fpr) * (tpr + prev_tpr) / 2;
        prev_tpr = tpr;
        prev_fpr = fpr;
    }
    free(r);
    *out = area;
    return 0;
}

int metrics_average_precision(const double *y, const double *score, const double *w, size_t n,
                              double *out, strata_err *err)
{
    scored *r = NULL;
    double P = 0, N = 0;
    int rc = sorted_binary(y, score, w, n, "average_precision", &r, &P, &N, err);
    if (rc)
        return rc;
    if (!(P > 0)) {
        free(r);
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "average_precision: no positive label; average precision is not defined");
    }
    /* Each distinct threshold adds (recall gained) * (precision there). */
    double tp = 0, fp = 0, ap = 0, prev_tp = 0;
    for (size_t i = 0; i < n; i++) {
        tp += r[i].y * r[i].w;
        fp += (1 - r[i].y) * r[i].w;
        if (i + 1 < n && r[i + 1].score == r[i].score)
            continue;
        if (tp > prev_tp)
            ap += (tp - prev_tp) / P * (tp / (tp + fp));
        prev_tp = tp;
    }
    free(r);
    *out = ap;
    return 0;
}

int metrics_log_loss(const double *y, const double *prob, size_t k, const double *w, size_t n,
                     double *out, strata_err *err)
{
    int rc = check_common(y, NULL, w, n, "log_loss", err);
    if (rc)
        return rc;
    size_t width = k == 1 ? 1 : k;
    size_t classes = k == 1 ? 2 : k;
    double eps = DBL_EPSILON, sum = 0, wsum = 0;
    for (size_t i = 0; i < n; i++) {
        double yi = y[i];
        if (!(yi >= 0) || yi != floor(yi) || yi >= (double)classes)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "log_loss: the label of row %zu is not a class index", i);
        const double *pi = prob + i * width;
        double num, den = 0;
        if (k == 1) {
            if (!isfinite(pi[0]))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "log_loss: the probability of row %zu is not finite", i);
            double p1 = fmin(fmax(pi[0], eps), 1 - eps);
            double p0 = 1 - p1;
            den = p0 + p1;
            num = yi == 1 ? p1 : p0;
        } else {
            num = 0;
            for (size_t c = 0; c < k; c++) {
                if (!isfinite(pi[c]))
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "log_loss: a probability of row %zu is not finite", i);
                double q = fmin(fmax(pi[c], eps), 1 - eps);
                den += q;
                if ((size_t)yi == c)
                    num = q;
            }
        }
        double wi = w ? w[i] : 1.0;
        sum += wi * -log(num / den);
        wsum += wi;
    }
    if (!(wsum > 0))
        return err_set(err, STRATA_INVALID_ARGUMENT, "log_loss: the weights sum to 0");
    *out = sum / wsum;
    return 0;
}

int metrics_accuracy(const double *y, const int32_t *pred, const double *w, size_t n, double *out,
                     strata_err *err)
{
    int rc = check_common(y, NULL, w, n, "accuracy", err);
    if (rc)
        return rc;
    double hit = 0, wsum = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if ((double)pred[i] == y[i])
            hit += wi;
        wsum += wi;
    }
    if (!(wsum > 0))
        return err_set(err, STRATA_INVALID_ARGUMENT, "accuracy: the weights sum to 0");
    *out = hit / wsum;
    return 0;
}

int metrics_regression(const double *y, const double *pred, const double *w, size_t n,
                       metrics_regression_out *out, strata_err *err)
{
    int rc = check_common(y, pred, w, n, "regression metrics", err);
    if (rc)
        return rc;
    double wsum = 0, ymean = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        wsum += wi;
        ymean += wi * y[i];
    }
    if (!(wsum > 0))
        return err_set(err, STRATA_INVALID_ARGUMENT, "regression metrics: the weights sum to 0");
    ymean /= wsum;
    double se = 0, ae = 0, tot = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0, d = y[i] - pred[i], t = y[i] - ymean;
        se += wi * d * d;
        ae += wi * fabs(d);
        tot += wi * t * t;
    }
    out->rmse = sqrt(se / wsum);
    out->mae = ae / wsum;
    if (tot != 0)
        out->r2 = 1 - se / tot;
    else
        out->r2 = se == 0 ? 1.0 : 0.0;
    return 0;
}

void metrics_prf_from_counts(double tp, double fp, double fn, metrics_prf *out)
{
    out->precision = out->recall = out->f1 = NAN;
    out->why_precision = out->why_recall = out->why_f1 = NULL;
    if (tp + fp > 0)
        out->precision = tp / (tp + fp);
    else
        out->why_precision = METRICS_NO_PREDICTED_POSITIVES;
    if (tp + fn > 0)
        out->recall = tp / (tp + fn);
    else
        out->why_recall = METRICS_NO_POSITIVES;
    if (2 * tp + fp + fn > 0)
        out->f1 = 2 * tp / (2 * tp + fp + fn);
    else
        out->why_f1 = METRICS_NO_POSITIVES;
}

static int check_probabilities(const double *y, const double *prob, size_t n, const char *what,
                               strata_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1)
            return err_set(err, STRATA_INVALID_ARGUMENT, "%s: the label of row %zu is not 0/1",
                           what, i);
        if (!(prob[i] >= 0 && prob[i] <= 1))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%s: the probability of row %zu is not in [0, 1]", what, i);
    }
    return 0;
}

int metrics_brier(const double *y, const double *prob, const double *w, size_t n, double *out,
                  strata_err *err)
{
    int rc = check_common(y, prob, w, n, "brier", err);
    if (rc || (rc = check_probabilities(y, prob, n, "brier", err)))
        return rc;
    double sum = 0, wsum = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0, d = prob[i] - y[i];
        sum += wi * d * d;
        wsum += wi;
    }
    if (!(wsum > 0))
        return err_set(err, STRATA_INVALID_ARGUMENT, "brier: the weights sum to 0");
    *out = sum / wsum;
    return 0;
}

int metrics_calibration(const double *y, const double *prob, size_t n, size_t bins,
                        metrics_calibration_bin *out, double *ece, strata_err *err)
{
    if (bins == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "calibration: no bins");
    int rc = check_common(y, prob, NULL, n, "calibration", err);
    if (rc || (rc = check_probabilities(y, prob, n, "calibration", err)))
        return rc;
    double step = 1.0 / (double)bins;
    for (size_t b = 0; b < bins; b++) {
        out[b].low = b == 0 ? 0.0 : (double)b * step;
        out[b].high = b + 1 == bins ? 1.0 : (double)(b + 1) * step;
        out[b].count = 0;
        out[b].sum_prob = out[b].sum_pos = 0;
    }
    for (size_t i = 0; i < n; i++) {
        /* the number of interior edges strictly below p: p * bins is within
         * one of it; the edges themselves settle it */
        double p = prob[i];
        size_t b = (size_t)(p * (double)bins);
        if (b > bins - 1)
            b = bins - 1;
        while (b > 0 && !(out[b].low < p))
            b--;
        while (b + 1 < bins && out[b].high < p)
            b++;
        out[b].count++;
        out[b].sum_prob += p;
        out[b].sum_pos += y[i];
    }
    double e = 0;
    for (size_t b = 0; b < bins; b++)
        if (out[b].count)
            e += (double)out[b].count / (double)n *
                 fabs(out[b].sum_prob / (double)out[b].count -
                      out[b].sum_pos / (double)out[b].count);
    *ece = e;
    return 0;
}

/* Mean of the defined values of one field over the classes. */
static void macro_mean(const metrics_prf *pc, size_t k, size_t field, double *out, const char **why,
                       const char *undefined_why)
{
    double sum = 0;
    size_t m = 0;
    for (size_t c = 0; c < k; c++) {
        double v = field == 0 ? pc[c].precision : field == 1 ? pc[c].recall : pc[c].f1;
        if (!isnan(v)) {
            sum += v;
            m++;
        }
    }
    *out = m ? sum / (double)m : NAN;
    *why = m ? NULL : undefined_why;
}

int metrics_multiclass(const double *y, const int32_t *pred, size_t n, size_t k,
                       metrics_multiclass_out *out, strata_err *err)
{
    int rc = check_common(y, NULL, NULL, n, "multiclass metrics", err);
    if (rc)
        return rc;
    memset(out->confusion, 0, k * k * sizeof *out->confusion);
    memset(out->support, 0, k * sizeof *out->support);
    for (size_t i = 0; i < n; i++) {
        if (!(y[i] >= 0) || y[i] != floor(y[i]) || y[i] >= (double)k)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "multiclass metrics: the label of row %zu is not a class index", i);
        if (pred[i] < 0 || (size_t)pred[i] >= k)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "multiclass metrics: the prediction of row %zu is not a class index", i);
        out->confusion[(size_t)y[i] * k + (size_t)pred[i]]++;
    }
    double diag = 0;
    for (size_t c = 0; c < k; c++) {
        double tp = (double)out->confusion[c * k + c], col = 0, row = 0;
        for (size_t j = 0; j < k; j++) {
            row += (double)out->confusion[c * k + j];
            col += (double)out->confusion[j * k + c];
        }
        out->support[c] = (uint64_t)row;
        metrics_prf_from_counts(tp, col - tp, row - tp, &out->per_class[c]);
        diag += tp;
    }
    out->accuracy = diag / (double)n;
    macro_mean(out->per_class, k, 0, &out->macro.precision, &out->macro.why_precision,
               METRICS_NO_PREDICTED_POSITIVES);
    macro_mean(out->per_class, k, 1, &out->macro.recall, &out->macro.why_recall,
               METRICS_NO_POSITIVES);
    macro_mean(out->per_class, k, 2, &out->macro.f1, &out->macro.why_f1, METRICS_NO_POSITIVES);
    /* single-label: every miss is one false positive and one false negative */
    metrics_prf_from_counts(diag, (double)n - diag, (double)n - diag, &out->micro);
    return 0;
}
