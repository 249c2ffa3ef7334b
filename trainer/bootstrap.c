/*
 * bootstrap.c - the evaluator's intervals and tests.
 *
 * Bootstrap without touching a row: a resample of the n rows, with
 * replacement, gives each (cell x {tp, fp, tn, fn}) a count, and the vector
 * of those counts is exactly Multinomial(n, observed shares). Every
 * count-based rate, disparity and summary depends on the rows only through
 * those counts, so one multinomial draw per replicate (sequential conditional
 * binomials, O(cells)) followed by eval_stats gives the same distribution as
 * resampling the rows, at a cost independent of n.
 *
 * ROC AUC is not a function of the counts. Its interval is DeLong's: the
 * normal interval auc +- z * se with se from the placement values of the
 * sorted walk (eval_cells.c), clipped to [0, 1]. In a replicate each group's
 * AUC is drawn from N(auc, se^2), independently (the groups of one attribute
 * set are disjoint rows), which carries that uncertainty into the AUC
 * disparities between groups; the overall AUC is not redrawn, so the
 * to-overall AUC disparities get no interval.
 *
 * Replicate r draws from its own generator seeded with (seed, r), so a
 * replicate is the same whichever pass computes it: slots that do not fit in
 * EVAL_BOOT_CHUNK_VALUES are done in several passes over the same replicates.
 * Percentiles: the (1 - c)/2 and (1 + c)/2 quantiles of the replicates where
 * the value is defined, interpolated linearly between order statistics
 * (numpy.percentile's default, "type 7"); the count used is reported.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/eval_int.h"
#include "trainer/rng.h"

double eval_normal_quantile(double p)
{
    /* Acklam's rational approximation (|rel error| < 1.2e-9), then one
     * Halley step on erfc, which brings it to a few ulp. */
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double cc[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (!(p > 0 && p < 1))
        return p == 0 ? -INFINITY : p == 1 ? INFINITY : NAN;
    double x, q, r;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        x = (((((cc[0] * q + cc[1]) * q + cc[2]) * q + cc[3]) * q + cc[4]) * q + cc[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - 0.02425) {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        q = sqrt(-2 * log(1 - p));
        x = -(((((cc[0] * q + cc[1]) * q + cc[2]) * q + cc[3]) * q + cc[4]) * q + cc[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double e = 0.5 * erfc(-x / sqrt(2)) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

void eval_wilson(double k, double m, double confidence, double *lo, double *hi)
{
    double z = eval_normal_quantile((1 + confidence) / 2), z2 = z * z;
    double p = k / m, den = 1 + z2 / m;
    double center = (p + z2 / (2 * m)) / den;
    double half = z / den * sqrt(p * (1 - p) / m + z2 / (4 * m * m));
    *lo = fmax(0, center - half);
    *hi = fmin(1, center + half);
}

bool eval_ztest(double k1, double m1, double k2, double m2, double *z, double *p)
{
    if (!(m1 > 0 && m2 > 0))
        return false;
    double pool = (k1 + k2) / (m1 + m2);
    double se = sqrt(pool * (1 - pool) * (1 / m1 + 1 / m2));
    if (!(se > 0))
        return false;
    *z = (k1 / m1 - k2 / m2) / se;
    *p = erfc(fabs(*z) / sqrt(2));
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

static double quantile_sorted(const double *v, size_t m, double q)
{
    double h = (double)(m - 1) * q;
    size_t i = (size_t)floor(h);
    if (i + 1 >= m)
        return v[m - 1];
    return v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

/* Replicate r's cell counts and group AUCs. */
static void draw_replicate(const eval_ctx *c, uint32_t r, uint64_t *counts, double *auc)
{
    trainer_rng g;
    trainer_rng_seed(&g, c->o.seed + 0x9e3779b97f4a7c15ull * ((uint64_t)r + 1));
    size_t cells = c->n_cells * 4;
    uint64_t left = c->d->n, rest = c->d->n;
    for (size_t j = 0; j < cells; j++) {
        uint64_t kj = c->cell_c[j];
        if (left == 0 || kj == 0) {
            counts[j] = 0;
        } else if (kj == rest) {
            counts[j] = left;
        } else {
            counts[j] = trainer_rng_binomial(&g, left, (double)kj / (double)rest);
        }
        left -= counts[j];
        rest -= kj;
    }
    for (size_t k = 0; k < c->n_groups; k++) {
        const eval_group *G = &c->groups[k];
        auc[k] = isnan(G->auc)
                     ? NAN
                     : fmin(1, fmax(0, G->auc + sqrt(G->auc_var) * trainer_rng_normal(&g)));
    }
    auc[c->n_groups] = NAN;
}

int eval_bootstrap(const eval_ctx *c, const bool *want, double *lo, double *hi, uint32_t *used,
                   strata_err *err)
{
    uint32_t R = c->o.replicates;
    size_t n_slots = 0;
    size_t *slot = NULL;
    uint64_t *counts = NULL, *scratch = NULL;
    double *auc = NULL, *vals = NULL, *store = NULL;
    int rc = 0;
    for (size_t i = 0; i < c->n_stats; i++) {
        lo[i] = hi[i] = NAN;
        used[i] = 0;
    }
    slot = malloc(c->n_stats * sizeof *slot);
    counts = malloc(c->n_cells * 4 * sizeof *counts);
    scratch = malloc(c->n_groups * 4 * sizeof *scratch + 1);
    auc = malloc((c->n_groups + 1) * sizeof *auc);
    vals = malloc(c->n_stats * sizeof *vals);
    if (!slot || !counts || !scratch || !auc || !vals)
        goto nomem;
    for (size_t i = 0; i < c->n_stats; i++)
        if (want[i])
            slot[n_slots++] = i;
    if (R == 0 || n_slots == 0)
        goto out;
    size_t per = EVAL_BOOT_CHUNK_VALUES / R ? EVAL_BOOT_CHUNK_VALUES / R : 1;
    if (per > n_slots)
        per = n_slots;
    store = malloc(per * R * sizeof *store);
    if (!store)
        goto nomem;
    size_t passes = (n_slots + per - 1) / per;
    for (size_t pass = 0; pass < passes; pass++) {
        size_t a = pass * per, b = a + per < n_slots ? a + per : n_slots;
        for (uint32_t r = 0; r < R; r++) {
            if (c->o.progress &&
                c->o.progress(c->o.progress_arg, pass * R + r, (uint64_t)passes * R)) {
                rc = err_set(err, STRATA_UNAVAILABLE, "evaluation cancelled");
                goto out;
            }
            draw_replicate(c, r, counts, auc);
            eval_stats(c, counts, auc, scratch, vals);
            for (size_t s = a; s < b; s++)
                store[(s - a) * R + r] = vals[slot[s]];
        }
        for (size_t s = a; s < b; s++) {
            double *v = store + (s - a) * R;
            size_t m = 0;
            for (uint32_t r = 0; r < R; r++)
                if (!isnan(v[r]))
                    v[m++] = v[r];
            used[slot[s]] = (uint32_t)m;
            if (!m)
                continue;
            qsort(v, m, sizeof *v, cmp_double);
            lo[slot[s]] = quantile_sorted(v, m, (1 - c->o.confidence) / 2);
            hi[slot[s]] = quantile_sorted(v, m, (1 + c->o.confidence) / 2);
        }
    }
    if (c->o.progress)
        c->o.progress(c->o.progress_arg, (uint64_t)passes * R, (uint64_t)passes * R);
    goto out;
nomem:
    rc = err_set(err, STRATA_NOMEM, "out of memory for the bootstrap");
out:
    free(slot);
    free(counts);
    free(scratch);
    free(auc);
    free(vals);
    free(store);
    return rc;
}
