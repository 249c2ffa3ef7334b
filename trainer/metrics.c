/* metrics.c - ROC AUC, log loss, accuracy, RMSE/MAE/R^2 (see metrics.h). */
#include "trainer/metrics.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

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

int metrics_roc_auc(const double *y, const double *score, const double *w, size_t n, double *out,
                    strata_err *err)
{
    int rc = check_common(y, score, w, n, "roc_auc", err);
    if (rc)
        return rc;
    scored *r = malloc(n * sizeof *r);
    if (!r)
        return err_set(err, STRATA_NOMEM, "out of memory");
    double P = 0, N = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1) {
            free(r);
            return err_set(err, STRATA_INVALID_ARGUMENT, "roc_auc: the label of row %zu is not 0/1",
                           i);
        }
        r[i].score = score[i];
        r[i].y = y[i];
        r[i].w = w ? w[i] : 1.0;
        P += r[i].y * r[i].w;
        N += (1 - r[i].y) * r[i].w;
    }
    if (!(P > 0) || !(N > 0)) {
        free(r);
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "roc_auc: only one class present in the labels; ROC AUC is not defined");
    }
    qsort(r, n, sizeof *r, by_score_desc);
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
