/*
 * eval_int.h - the evaluator's private state, shared by its modules:
 *
 *   evaluate.c   options, input checks, orchestration, the result JSON
 *   eval_cells.c rows -> cells (the finest intersection of all attributes),
 *                the one score sort and the walks over it (ROC AUC, DeLong
 *                variance, average precision, sweep histograms, ROC curves)
 *   fairness.c   everything that is a function of cell counts: group rates,
 *                disparities, summary, written into one flat vector
 *   bootstrap.c  multinomial replicates of the cell counts, percentile,
 *                Wilson and DeLong intervals, the two-proportion test
 *
 * THE CENTRAL INVARIANT. After the one pass over the rows, a binary result
 * depends on the rows only through (a) the confusion counts of each cell and
 * (b) per-group score statistics from the sorted walk (ROC AUC and its
 * DeLong variance, sweep histograms). fairness.c's eval_stats maps (a) plus
 * the AUCs to the flat vector of every count-based number the result
 * reports; the point estimate and every bootstrap replicate go through that
 * same function, so they can never disagree on a definition.
 */
#ifndef STRATA_TRAINER_EVAL_INT_H
#define STRATA_TRAINER_EVAL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trainer/evaluate.h"
#include "trainer/metrics.h"

/* The rates of a binary group, in the order of the vector and the JSON. */
enum {
    EVAL_R_BASE = 0,
    EVAL_R_SELECTION,
    EVAL_R_TPR,
    EVAL_R_FPR,
    EVAL_R_FNR,
    EVAL_R_TNR,
    EVAL_R_PPV,
    EVAL_R_NPV,
    EVAL_R_FDR,
    EVAL_R_FOR,
    EVAL_R_ACCURACY,
    EVAL_R_AUC,
    EVAL_N_RATES
};
/* Disparities are reported for the rates from selection_rate on. */
#define EVAL_FIRST_DISP EVAL_R_SELECTION
#define EVAL_N_DISP (EVAL_N_RATES - EVAL_FIRST_DISP)
/* Four conventions per (metric, attribute set), in this order. */
enum { EVAL_D_DIFF = 0, EVAL_D_RATIO, EVAL_D_DIFF_OVERALL, EVAL_D_RATIO_OVERALL, EVAL_N_CONV };
/* Summary fields per attribute set. four_fifths is 1 pass, 0 fail, NaN undefined. */
enum { EVAL_S_DPD = 0, EVAL_S_DPR, EVAL_S_EOD, EVAL_S_EQOD, EVAL_S_FOUR_FIFTHS, EVAL_N_SUMMARY };
/* Confusion counts of a cell or group. */
enum { EVAL_TP = 0, EVAL_FP, EVAL_TN, EVAL_FN };

extern const char *const eval_rate_names[EVAL_N_RATES];

/* Bootstrap working memory: slots x replicates doubles at most this many at a
 * time (32 MiB); more slots are done in several passes that redraw the same
 * replicates from their seeds. */
#define EVAL_BOOT_CHUNK_VALUES (4u << 20)

/* One attribute, or one combination of two or more (an "attribute set"). */
typedef struct eval_set {
    char *name; /* "sex", "sex&race" */
    size_t n_members;
    size_t members[EVAL_MAX_GROUP_BY]; /* attribute indices, ascending */
    size_t n_groups, first;            /* its groups: ctx->groups[first .. first + n_groups) */
    uint32_t *cell_group;              /* seen cell -> group index within the set */
    size_t reference;                  /* group index within the set; SIZE_MAX: none */
} eval_set;

/* Thinned ROC curve, stored in walk order: from (1,1) down to (0,0). */
typedef struct eval_roc {
    double (*pt)[2];
    size_t n;
} eval_roc;

typedef struct eval_group {
    size_t set;
    char *value; /* "F", "F&B" */
    uint64_t n;
    uint64_t c[4];                           /* binary: tp fp tn fn */
    uint64_t correct;                        /* multiclass */
    double mean_y, m2_y, sum_pred, sse, sae; /* regression (Welford mean and M2 of y) */
    double auc, auc_var;                     /* NaN when undefined */
    uint64_t *hist;                          /* binary with scores: (T + 1) x 2 sweep histogram */
    eval_roc roc;
} eval_group;

/* The overall score metrics, computed beside pass 1 (evaluate.c). */
typedef struct score_job {
    const eval_data *d;
    size_t n_bins;
    metrics_calibration_bin *bins;
    double log_loss, brier, ece;
    int rc;
    strata_err err;
    pthread_t tid;
    bool threaded;
} score_job;

typedef struct eval_ctx {
    const eval_data *d;
    eval_options o;
    bool has_scores;
    size_t k;                         /* attributes */
    size_t *rank[EVAL_MAX_GROUP_BY];  /* code -> position of its value in byte order */
    size_t *order[EVAL_MAX_GROUP_BY]; /* position -> code */

    size_t n_cells;
    uint32_t *cell_codes; /* n_cells x k codes */
    uint64_t *cell_c;     /* binary: n_cells x 4 counts */
    eval_group *cell_acc; /* multiclass/regression: per-cell accumulators */

    size_t n_sets, n_groups, n_single; /* n_single: groups of one-attribute sets */
    eval_set *sets;
    eval_group *groups;
    eval_group overall;

    double *skey;   /* scores ascending (binary with scores) */
    uint32_t *spay; /* cell << 1 | y, in the same order */
    double *thr;    /* sweep thresholds ascending */
    size_t T;
    double ap;            /* overall average precision (NaN: undefined) */
    score_job *score_job; /* binary with scores: computed beside pass 1 */

    /* The flat vector of fairness.c. */
    size_t off_overall, off_disp, off_top, off_vsref, off_sum, off_sum_top, n_stats;
} eval_ctx;

/* eval_cells.c */
int eval_cells_build(eval_ctx *c, strata_err *err);
int eval_cells_walk(eval_ctx *c, strata_err *err);
void eval_cells_free(eval_ctx *c);

/* fairness.c */
void eval_stats_layout(eval_ctx *c);
/* Numerator and denominator of count rate m (false for roc_auc). */
bool eval_rate_fraction(const uint64_t cnt[4], size_t m, double *num, double *den);
/* Rates of one group from its counts; why[m] names a NaN rate's reason. AUC
 * is taken as given (auc, why_auc). */
void eval_rates(const uint64_t cnt[4], double auc, const char *why_auc, double *rate,
                const char **why);
/* cell_counts: n_cells x 4; auc: one per group then the overall one (NaN
 * allowed). Fills vals[0 .. n_stats); scratch: n_groups x 4 counts. */
void eval_stats(const eval_ctx *c, const uint64_t *cell_counts, const double *auc,
                uint64_t *scratch, double *vals);
static inline size_t eval_ix_group(size_t g, size_t m)
{
    return g * EVAL_N_RATES + m;
}
static inline size_t eval_ix_disp(const eval_ctx *c, size_t d, size_t s, size_t conv)
{
    return c->off_disp + (d * c->n_sets + s) * EVAL_N_CONV + conv;
}
/* Top level per metric: the four conventions then the worst set's index. */
static inline size_t eval_ix_top(const eval_ctx *c, size_t d, size_t conv)
{
    return c->off_top + d * (EVAL_N_CONV + 1) + conv;
}
static inline size_t eval_ix_vsref(const eval_ctx *c, size_t d, size_t g, size_t which)
{
    return c->off_vsref + (d * c->n_groups + g) * 2 + which;
}
static inline size_t eval_ix_sum(const eval_ctx *c, size_t s, size_t f)
{
    return c->off_sum + s * EVAL_N_SUMMARY + f;
}
/* Top-level summary: the five fields then the set of the largest DP difference. */
static inline size_t eval_ix_sum_top(const eval_ctx *c, size_t f)
{
    return c->off_sum_top + f;
}

/* bootstrap.c */
/* Quantile of the standard normal. */
double eval_normal_quantile(double p);
/* Wilson score interval of k successes in m trials (m > 0). */
void eval_wilson(double k, double m, double confidence, double *lo, double *hi);
/* Pooled two-proportion z test; false when undefined. */
bool eval_ztest(double k1, double m1, double k2, double m2, double *z, double *p);
/* Percentile intervals of the slots marked in want[] (n_stats entries):
 * lo/hi/used filled for those, NaN/0 elsewhere. */
int eval_bootstrap(const eval_ctx *c, const bool *want, double *lo, double *hi, uint32_t *used,
                   strata_err *err);

#endif
