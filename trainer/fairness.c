/*
 * fairness.c - group rates, disparities and the fairness summary as a pure
 * function of cell counts (see eval_int.h for why that matters: the point
 * estimate and every bootstrap replicate are this same function).
 *
 * Conventions (docs/evaluation.md "Definitions"): an undefined value is NaN
 * (null in the JSON). Per attribute set, over its non-empty groups whose value
 * is defined: difference = max - min, ratio = min / max; to overall: max |g - o|
 * and min over groups of min(g, o) / max(g, o); against the reference group:
 * g - r and g / r. A ratio with a zero denominator is NaN. The top level of a
 * metric is the set with the largest difference (first on ties).
 */
#include <math.h>
#include <string.h>

#include "trainer/eval_int.h"
#include "trainer/metrics.h"

const char *const eval_rate_names[EVAL_N_RATES] = {
    "base_rate", "selection_rate", "tpr",     "fpr", "fnr", "tnr", "ppv", "npv", "fdr",
    "for",       "accuracy",       "roc_auc",
};

/* Why each count rate can be undefined in a non-empty group. */
static const char *const undefined_why[EVAL_R_AUC] = {
    [EVAL_R_TPR] = METRICS_NO_POSITIVES,           [EVAL_R_FNR] = METRICS_NO_POSITIVES,
    [EVAL_R_FPR] = METRICS_NO_NEGATIVES,           [EVAL_R_TNR] = METRICS_NO_NEGATIVES,
    [EVAL_R_PPV] = METRICS_NO_PREDICTED_POSITIVES, [EVAL_R_FDR] = METRICS_NO_PREDICTED_POSITIVES,
    [EVAL_R_NPV] = METRICS_NO_PREDICTED_NEGATIVES, [EVAL_R_FOR] = METRICS_NO_PREDICTED_NEGATIVES,
};

static double ratio(double num, double den)
{
    return den != 0 ? num / den : NAN;
}

bool eval_rate_fraction(const uint64_t cnt[4], size_t m, double *num, double *den)
{
    double tp = (double)cnt[EVAL_TP], fp = (double)cnt[EVAL_FP], tn = (double)cnt[EVAL_TN],
           fn = (double)cnt[EVAL_FN];
    double n = tp + fp + tn + fn, P = tp + fn, N = fp + tn, PP = tp + fp, PN = tn + fn;
    switch (m) {
    case EVAL_R_BASE:
        *num = P, *den = n;
        break;
    case EVAL_R_SELECTION:
        *num = PP, *den = n;
        break;
    case EVAL_R_TPR:
        *num = tp, *den = P;
        break;
    case EVAL_R_FNR:
        *num = fn, *den = P;
        break;
    case EVAL_R_FPR:
        *num = fp, *den = N;
        break;
    case EVAL_R_TNR:
        *num = tn, *den = N;
        break;
    case EVAL_R_PPV:
        *num = tp, *den = PP;
        break;
    case EVAL_R_FDR:
        *num = fp, *den = PP;
        break;
    case EVAL_R_NPV:
        *num = tn, *den = PN;
        break;
    case EVAL_R_FOR:
        *num = fn, *den = PN;
        break;
    case EVAL_R_ACCURACY:
        *num = tp + tn, *den = n;
        break;
    default:
        return false;
    }
    return true;
}

void eval_rates(const uint64_t cnt[4], double auc, const char *why_auc, double *rate,
                const char **why)
{
    uint64_t n = cnt[0] + cnt[1] + cnt[2] + cnt[3];
    for (size_t m = 0; m < EVAL_R_AUC; m++) {
        double num, den;
        eval_rate_fraction(cnt, m, &num, &den);
        rate[m] = ratio(num, den);
        if (why)
            why[m] = den ? NULL : !n ? "EMPTY" : undefined_why[m];
    }
    rate[EVAL_R_AUC] = auc;
    if (why)
        why[EVAL_R_AUC] = !isnan(auc) ? NULL : !n ? "EMPTY" : why_auc;
}

void eval_stats_layout(eval_ctx *c)
{
    c->off_overall = c->n_groups * EVAL_N_RATES;
    c->off_disp = c->off_overall + EVAL_N_RATES;
    c->off_top = c->off_disp + EVAL_N_DISP * c->n_sets * EVAL_N_CONV;
    c->off_vsref = c->off_top + EVAL_N_DISP * (EVAL_N_CONV + 1);
    c->off_sum = c->off_vsref + EVAL_N_DISP * c->n_groups * 2;
    c->off_sum_top = c->off_sum + c->n_sets * EVAL_N_SUMMARY;
    c->n_stats = c->off_sum_top + EVAL_N_SUMMARY + 1;
}

/* The four conventions of one metric over one set's groups. */
static void disparity(const eval_ctx *c, const eval_set *set, const uint64_t *gc, size_t m,
                      const double *vals, double overall, double *out)
{
    double lo = INFINITY, hi = -INFINITY, far = -INFINITY, near = INFINITY;
    size_t seen = 0, near_seen = 0;
    for (size_t g = set->first; g < set->first + set->n_groups; g++) {
        const uint64_t *k = gc + g * 4;
        double v = vals[eval_ix_group(g, m)];
        if (!(k[0] + k[1] + k[2] + k[3]) || isnan(v))
            continue;
        seen++;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        if (!isnan(overall)) {
            far = fmax(far, fabs(v - overall));
            double r = ratio(fmin(v, overall), fmax(v, overall));
            if (!isnan(r)) {
                near = fmin(near, r);
                near_seen++;
            }
        }
    }
    out[EVAL_D_DIFF] = seen ? hi - lo : NAN;
    out[EVAL_D_RATIO] = seen ? ratio(lo, hi) : NAN;
    out[EVAL_D_DIFF_OVERALL] = seen && !isnan(overall) ? far : NAN;
    out[EVAL_D_RATIO_OVERALL] = near_seen ? near : NAN;
    (void)c;
}

/* max that ignores NaN (NaN only when both are) */
static double max_defined(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : fmax(a, b);
}

void eval_stats(const eval_ctx *c, const uint64_t *cell_counts, const double *auc, uint64_t *gc,
                double *vals)
{
    /* group counts */
    memset(gc, 0, c->n_groups * 4 * sizeof *gc);
    uint64_t total[4] = {0};
    for (size_t s = 0; s < c->n_sets; s++) {
        const eval_set *set = &c->sets[s];
        for (size_t cell = 0; cell < c->n_cells; cell++) {
            uint64_t *dst = gc + (set->first + set->cell_group[cell]) * 4;
            for (int j = 0; j < 4; j++)
                dst[j] += cell_counts[cell * 4 + j];
        }
    }
    for (size_t cell = 0; cell < c->n_cells; cell++)
        for (int j = 0; j < 4; j++)
            total[j] += cell_counts[cell * 4 + j];
    for (size_t g = 0; g < c->n_groups; g++)
        eval_rates(gc + g * 4, auc[g], NULL, vals + eval_ix_group(g, 0), NULL);
    const double *ov = vals + c->off_overall;
    eval_rates(total, auc[c->n_groups], NULL, vals + c->off_overall, NULL);

    for (size_t d = 0; d < EVAL_N_DISP; d++) {
        size_t m = EVAL_FIRST_DISP + d;
        double best = -INFINITY;
        size_t worst = SIZE_MAX;
        for (size_t s = 0; s < c->n_sets; s++) {
            const eval_set *set = &c->sets[s];
            double *out = vals + eval_ix_disp(c, d, s, 0);
            disparity(c, set, gc, m, vals, ov[m], out);
            if (!isnan(out[EVAL_D_DIFF]) && out[EVAL_D_DIFF] > best) {
                best = out[EVAL_D_DIFF];
                worst = s;
            }
            double ref = NAN;
            if (set->reference != SIZE_MAX) {
                size_t r = set->first + set->reference;
                const uint64_t *k = gc + r * 4;
                if (k[0] + k[1] + k[2] + k[3])
                    ref = vals[eval_ix_group(r, m)];
            }
            for (size_t g = set->first; g < set->first + set->n_groups; g++) {
                double v = vals[eval_ix_group(g, m)];
                const uint64_t *k = gc + g * 4;
                bool skip = (set->reference != SIZE_MAX && g == set->first + set->reference) ||
                            !(k[0] + k[1] + k[2] + k[3]);
                vals[eval_ix_vsref(c, d, g, 0)] = skip ? NAN : v - ref;
                vals[eval_ix_vsref(c, d, g, 1)] = skip ? NAN : ratio(v, ref);
            }
        }
        for (size_t conv = 0; conv < EVAL_N_CONV; conv++)
            vals[eval_ix_top(c, d, conv)] =
                worst == SIZE_MAX ? NAN : vals[eval_ix_disp(c, d, worst, conv)];
        vals[eval_ix_top(c, d, EVAL_N_CONV)] = worst == SIZE_MAX ? NAN : (double)worst;
    }

    /* summary */
    size_t sel = EVAL_R_SELECTION - EVAL_FIRST_DISP, tpr = EVAL_R_TPR - EVAL_FIRST_DISP,
           fpr = EVAL_R_FPR - EVAL_FIRST_DISP;
    double top[EVAL_N_SUMMARY] = {NAN, NAN, NAN, NAN, NAN}, best = -INFINITY, worst = NAN;
    for (size_t s = 0; s < c->n_sets; s++) {
        double *o = vals + eval_ix_sum(c, s, 0);
        o[EVAL_S_DPD] = vals[eval_ix_disp(c, sel, s, EVAL_D_DIFF)];
        o[EVAL_S_DPR] = vals[eval_ix_disp(c, sel, s, EVAL_D_RATIO)];
        o[EVAL_S_EOD] = vals[eval_ix_disp(c, tpr, s, EVAL_D_DIFF)];
        o[EVAL_S_EQOD] = max_defined(o[EVAL_S_EOD], vals[eval_ix_disp(c, fpr, s, EVAL_D_DIFF)]);
        o[EVAL_S_FOUR_FIFTHS] = isnan(o[EVAL_S_DPR]) ? NAN : o[EVAL_S_DPR] >= 0.8 ? 1.0 : 0.0;
        /* the top level is the worst over the sets, field by field */
        top[EVAL_S_DPD] = max_defined(top[EVAL_S_DPD], o[EVAL_S_DPD]);
        top[EVAL_S_DPR] = isnan(top[EVAL_S_DPR]) ? o[EVAL_S_DPR]
                          : isnan(o[EVAL_S_DPR]) ? top[EVAL_S_DPR]
                                                 : fmin(top[EVAL_S_DPR], o[EVAL_S_DPR]);
        top[EVAL_S_EOD] = max_defined(top[EVAL_S_EOD], o[EVAL_S_EOD]);
        top[EVAL_S_EQOD] = max_defined(top[EVAL_S_EQOD], o[EVAL_S_EQOD]);
        top[EVAL_S_FOUR_FIFTHS] = isnan(top[EVAL_S_FOUR_FIFTHS]) ? o[EVAL_S_FOUR_FIFTHS]
                                  : isnan(o[EVAL_S_FOUR_FIFTHS])
                                      ? top[EVAL_S_FOUR_FIFTHS]
                                      : fmin(top[EVAL_S_FOUR_FIFTHS], o[EVAL_S_FOUR_FIFTHS]);
        if (!isnan(o[EVAL_S_DPD]) && o[EVAL_S_DPD] > best) {
            best = o[EVAL_S_DPD];
            worst = (double)s;
        }
    }
    memcpy(vals + eval_ix_sum_top(c, 0), top, sizeof top);
    vals[eval_ix_sum_top(c, EVAL_N_SUMMARY)] = worst;
}
