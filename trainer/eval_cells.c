/*
 * eval_cells.c - the evaluator's passes over the rows (see eval_int.h).
 *
 * Pass 1 (eval_cells_build) reads every row once, in input order: checks it,
 * finds its cell (the tuple of its attribute codes, numbered in order of
 * first appearance through an open-addressing hash) and adds it to the
 * cell's accumulators. For binary tasks with scores it also writes the row's
 * score and (cell, label) into two arrays that one LSD radix sort then orders
 * by score: the only O(n) memory the evaluator allocates (12 bytes a row,
 * twice that during the sort).
 *
 * Pass 2 (eval_cells_walk) walks the sorted rows once for the overall
 * population and once per attribute set, one block of tied scores at a time.
 * Per group and block it adds the Mann-Whitney count (a positive beats each
 * lower negative, ties count one half), the DeLong placement values, the
 * sweep histogram and thinned ROC points. Integer Mann-Whitney sums make ROC
 * AUC exact up to one final division, so it equals scikit-learn's trapezoid
 * over tie groups to rounding.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/eval_int.h"

#define EMPTY_SLOT UINT32_MAX

typedef struct cell_table {
    uint32_t *slot;
    size_t mask; /* capacity - 1, a power of two minus one */
    size_t cap_cells;
} cell_table;

static uint64_t hash_codes(const uint32_t *codes, size_t k)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t a = 0; a < k; a++) {
        h ^= codes[a];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h;
}

static int grow_cells(eval_ctx *c, cell_table *t, strata_err *err)
{
    size_t cap = t->cap_cells ? t->cap_cells * 2 : 64, k = c->k ? c->k : 1;
    uint32_t *codes = realloc(c->cell_codes, cap * k * sizeof *codes);
    if (!codes)
        return err_set(err, STRATA_NOMEM, "out of memory");
    c->cell_codes = codes;
    if (c->d->task == EVAL_BINARY) {
        uint64_t *cc = realloc(c->cell_c, cap * 4 * sizeof *cc);
        if (!cc)
            return err_set(err, STRATA_NOMEM, "out of memory");
        c->cell_c = cc;
    } else {
        eval_group *acc = realloc(c->cell_acc, cap * sizeof *acc);
        if (!acc)
            return err_set(err, STRATA_NOMEM, "out of memory");
        c->cell_acc = acc;
    }
    t->cap_cells = cap;
    /* Keep the table at most half full: rebuild it at twice the cells. */
    size_t slots = cap * 2;
    uint32_t *slot = malloc(slots * sizeof *slot);
    if (!slot)
        return err_set(err, STRATA_NOMEM, "out of memory");
    memset(slot, 0xff, slots * sizeof *slot);
    for (size_t id = 0; id < c->n_cells; id++) {
        size_t h = hash_codes(c->cell_codes + id * c->k, c->k) & (slots - 1);
        while (slot[h] != EMPTY_SLOT)
            h = (h + 1) & (slots - 1);
        slot[h] = (uint32_t)id;
    }
    free(t->slot);
    t->slot = slot;
    t->mask = slots - 1;
    return 0;
}

/* The cell of one tuple of codes, created on first sight. */
static int cell_of(eval_ctx *c, cell_table *t, const uint32_t *codes, uint32_t *out,
                   strata_err *err)
{
    size_t h = hash_codes(codes, c->k) & t->mask;
    for (;; h = (h + 1) & t->mask) {
        uint32_t id = t->slot[h];
        if (id == EMPTY_SLOT)
            break;
        if (memcmp(c->cell_codes + (size_t)id * c->k, codes, c->k * sizeof *codes) == 0) {
            *out = id;
            return 0;
        }
    }
    if (c->n_cells >= (size_t)(UINT32_MAX >> 1))
        return err_set(err, STRATA_INVALID_ARGUMENT, "too many attribute combinations");
    if (c->n_cells == t->cap_cells) {
        int rc = grow_cells(c, t, err);
        if (rc)
            return rc;
        h = hash_codes(codes, c->k) & t->mask;
        while (t->slot[h] != EMPTY_SLOT)
            h = (h + 1) & t->mask;
    }
    uint32_t id = (uint32_t)c->n_cells++;
    memcpy(c->cell_codes + (size_t)id * c->k, codes, c->k * sizeof *codes);
    t->slot[h] = id;
    if (c->d->task == EVAL_BINARY)
        memset(c->cell_c + (size_t)id * 4, 0, 4 * sizeof *c->cell_c);
    else
        memset(&c->cell_acc[id], 0, sizeof c->cell_acc[id]);
    *out = id;
    return 0;
}

static int check_row(const eval_ctx *c, size_t i, strata_err *err)
{
    const eval_data *d = c->d;
    double y = d->y[i];
    switch (d->task) {
    case EVAL_BINARY:
        if (y != 0 && y != 1)
            return err_set(err, STRATA_INVALID_ARGUMENT, "row %zu: the label is not 0 or 1", i);
        if (d->score && !(d->score[i] >= 0 && d->score[i] <= 1))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "row %zu: the score is not a probability in [0, 1]", i);
        if (d->pred && d->pred[i] != 0 && d->pred[i] != 1)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "row %zu: the predicted label is not 0 or 1", i);
        break;
    case EVAL_MULTICLASS:
        if (!(y >= 0 && y < (double)d->n_classes && y == floor(y)))
            return err_set(err, STRATA_INVALID_ARGUMENT, "row %zu: the label is not a class index",
                           i);
        for (size_t j = 0; d->score && j < d->n_classes; j++)
            if (!(d->score[i * d->n_classes + j] >= 0 && d->score[i * d->n_classes + j] <= 1))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "row %zu: the probability of class %zu is not in [0, 1]", i, j);
        break;
    case EVAL_REGRESSION:
        if (!isfinite(y))
            return err_set(err, STRATA_INVALID_ARGUMENT, "row %zu: the label is not finite", i);
        if (!isfinite(d->score[i]))
            return err_set(err, STRATA_INVALID_ARGUMENT, "row %zu: the prediction is not finite",
                           i);
        break;
    }
    return 0;
}

static void add_row(eval_ctx *c, uint32_t cell, size_t i, int32_t pred)
{
    const eval_data *d = c->d;
    double y = d->y[i];
    if (d->task == EVAL_BINARY) {
        int pos = pred == 1;
        c->cell_c[(size_t)cell * 4 +
                  (y == 1 ? (pos ? EVAL_TP : EVAL_FN) : (pos ? EVAL_FP : EVAL_TN))]++;
        return;
    }
    eval_group *a = &c->cell_acc[cell];
    a->n++;
    if (d->task == EVAL_MULTICLASS) {
        a->correct += (double)pred == y;
        return;
    }
    double p = d->score[i], delta = y - a->mean_y, e = y - p;
    a->mean_y += delta / (double)a->n;
    a->m2_y += delta * (y - a->mean_y);
    a->sum_pred += p;
    a->sse += e * e;
    a->sae += fabs(e);
}

#define RADIX_BITS 11
#define RADIX_BUCKETS (1u << RADIX_BITS)
#define RADIX_PASSES ((64 + RADIX_BITS - 1) / RADIX_BITS)

static inline uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b); /* non-negative doubles order as their bits */
    return b;
}

/* LSD radix sort of (key, payload) by key >= 0, 11 bits a pass: 2048
 * buckets keep the scatter's write streams in cache, where 65536 thrash the
 * TLB. All histograms come from one read; a pass whose digit is the same for
 * every key is skipped (most of a probability's exponent). */
static int radix_sort(double *key, uint32_t *pay, size_t n, strata_err *err)
{
    double *k2 = malloc(n * sizeof *k2);
    uint32_t *p2 = malloc(n * sizeof *p2);
    size_t(*cnt)[RADIX_BUCKETS] = calloc(RADIX_PASSES, sizeof *cnt);
    int rc = 0;
    if (!k2 || !p2 || !cnt) {
        rc = err_set(err, STRATA_NOMEM, "out of memory sorting %zu scores", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t b = bits_of(key[i]);
        for (int p = 0; p < RADIX_PASSES; p++)
            cnt[p][(b >> (p * RADIX_BITS)) & (RADIX_BUCKETS - 1)]++;
    }
    double *ka = key, *kb = k2;
    uint32_t *pa = pay, *pb = p2;
    for (int p = 0; p < RADIX_PASSES; p++) {
        int shift = p * RADIX_BITS;
        if (cnt[p][(bits_of(ka[0]) >> shift) & (RADIX_BUCKETS - 1)] == n)
            continue;
        size_t sum = 0;
        for (size_t b = 0; b < RADIX_BUCKETS; b++) {
            size_t t = cnt[p][b];
            cnt[p][b] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) {
            size_t at = cnt[p][(bits_of(ka[i]) >> shift) & (RADIX_BUCKETS - 1)]++;
            kb[at] = ka[i];
            pb[at] = pa[i];
        }
        double *kt = ka;
        ka = kb;
        kb = kt;
        uint32_t *pt = pa;
        pa = pb;
        pb = pt;
    }
    if (ka != key) {
        memcpy(key, ka, n * sizeof *key);
        memcpy(pay, pa, n * sizeof *pay);
    }
out:
    free(k2);
    free(p2);
    free(cnt);
    return rc;
}

int eval_cells_build(eval_ctx *c, strata_err *err)
{
    const eval_data *d = c->d;
    cell_table t = {0};
    uint32_t codes[EVAL_MAX_GROUP_BY] = {0};
    bool sorted = d->task == EVAL_BINARY && c->has_scores;
    int rc = grow_cells(c, &t, err);
    if (rc)
        goto out;
    if (sorted) {
        c->skey = malloc(d->n * sizeof *c->skey);
        c->spay = malloc(d->n * sizeof *c->spay);
        if (!c->skey || !c->spay) {
            rc = err_set(err, STRATA_NOMEM, "out of memory for %zu scores", d->n);
            goto out;
        }
    }
    /* Consecutive rows very often share a cell: remember the last one. */
    uint32_t last = EMPTY_SLOT;
    for (size_t i = 0; i < d->n; i++) {
        if ((rc = check_row(c, i, err)))
            goto out;
        bool same = last != EMPTY_SLOT;
        for (size_t a = 0; a < c->k; a++) {
            codes[a] = d->attrs[a].codes[i];
            if (codes[a] >= d->attrs[a].n_values) {
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "attribute \"%s\": the code of row %zu is out of range",
                             d->attrs[a].name, i);
                goto out;
            }
            same = same && c->cell_codes[(size_t)last * c->k + a] == codes[a];
        }
        uint32_t cell = last;
        if (!same && (rc = cell_of(c, &t, codes, &cell, err)))
            goto out;
        last = cell;
        int32_t pred;
        if (d->pred)
            pred = d->pred[i];
        else if (d->task == EVAL_BINARY)
            pred = d->score[i] >= c->o.threshold;
        else
            pred = 0; /* multiclass derives pred before this pass; regression has none */
        add_row(c, cell, i, pred);
        if (sorted) {
            c->skey[i] = d->score[i] == 0 ? 0.0 : d->score[i]; /* -0 sorts as 0 */
            c->spay[i] = cell << 1 | (d->y[i] == 1);
        }
    }
    if (sorted)
        rc = radix_sort(c->skey, c->spay, d->n, err);
out:
    free(t.slot);
    return rc;
}

/* Per-group state of one walk. */
typedef struct walk_acc {
    uint64_t bp, bn;       /* positives and negatives in the current tie block */
    uint64_t cum_p, cum_n; /* below the current block */
    uint64_t P, N;         /* the group's totals */
    double inv_p, inv_n;
    uint64_t mw; /* 2 x Mann-Whitney count */
    /* DeLong placements, unnormalized: a positive's is (negatives below +
     * half the tied ones), a negative's (positives above + half the tied) */
    double s10, ss10, s01, ss01;
    bool touched;
    double last_level; /* ROC thinning: tpr + fpr of the last kept point */
} walk_acc;

static void roc_keep(eval_roc *r, walk_acc *w, double fpr, double tpr, bool force)
{
    double step = 2.0 / (EVAL_ROC_MAX_POINTS - 1);
    if (r->n + 1 >= EVAL_ROC_MAX_POINTS && !force)
        return; /* room for (0,0) is kept */
    if (!force && w->last_level - (fpr + tpr) < step)
        return;
    r->pt[r->n][0] = fpr;
    r->pt[r->n][1] = tpr;
    r->n++;
    w->last_level = fpr + tpr;
}

/* A tie block ends for one group: its rows at this score are w->bp, w->bn. */
static inline void close_block(walk_acc *w, eval_group *G, size_t tb, double *ap_sum)
{
    /* the operating point "score >= s": everything from this block up */
    uint64_t tp = w->P - w->cum_p, fp = w->N - w->cum_n;
    if (G->roc.pt)
        roc_keep(&G->roc, w, (double)fp * w->inv_n, (double)tp * w->inv_p, false);
    if (ap_sum && w->bp)
        *ap_sum += (double)w->bp * ((double)tp / (double)(tp + fp));
    w->mw += w->bp * (2 * w->cum_n + w->bn);
    if (w->bp) {
        double v = (double)w->cum_n + 0.5 * (double)w->bn;
        w->s10 += (double)w->bp * v;
        w->ss10 += (double)w->bp * v * v;
    }
    if (w->bn) {
        double v = (double)(w->P - w->cum_p) - 0.5 * (double)w->bp;
        w->s01 += (double)w->bn * v;
        w->ss01 += (double)w->bn * v * v;
    }
    G->hist[tb * 2 + 1] += w->bp;
    G->hist[tb * 2] += w->bn;
    w->cum_p += w->bp;
    w->cum_n += w->bn;
    w->bp = w->bn = 0;
}

/* One walk: set NULL walks the overall population as a single group. */
static int walk(eval_ctx *c, const eval_set *set, strata_err *err)
{
    size_t ng = set ? set->n_groups : 1;
    eval_group *groups = set ? c->groups + set->first : &c->overall;
    bool want_roc = !set || set->n_members == 1;
    walk_acc *acc = calloc(ng, sizeof *acc);
    uint32_t *touched = malloc(ng * sizeof *touched);
    int rc = 0;
    if (!acc || !touched) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    for (size_t g = 0; g < ng; g++) {
        eval_group *G = &groups[g];
        walk_acc *w = &acc[g];
        w->P = G->c[EVAL_TP] + G->c[EVAL_FN];
        w->N = G->c[EVAL_FP] + G->c[EVAL_TN];
        w->inv_p = w->P ? 1.0 / (double)w->P : 0;
        w->inv_n = w->N ? 1.0 / (double)w->N : 0;
        if (!G->n)
            continue;
        G->hist = calloc((c->T + 1) * 2, sizeof *G->hist);
        if (!G->hist) {
            rc = err_set(err, STRATA_NOMEM, "out of memory");
            goto out;
        }
        if (want_roc && w->P && w->N) {
            G->roc.pt = malloc(EVAL_ROC_MAX_POINTS * sizeof *G->roc.pt);
            if (!G->roc.pt) {
                rc = err_set(err, STRATA_NOMEM, "out of memory");
                goto out;
            }
            acc[g].last_level = 3; /* keeps (1,1) */
        }
    }
    double ap = 0, *ap_sum = set ? NULL : &ap;
    size_t tb = 0, n = c->d->n;
    for (size_t i = 0; i < n;) {
        double s = c->skey[i];
        while (tb < c->T && c->thr[tb] <= s)
            tb++;
        if (i + 1 == n || c->skey[i + 1] != s) {
            /* a block of one row: most of them when scores are continuous */
            uint32_t p = c->spay[i];
            uint32_t g = set ? set->cell_group[p >> 1] : 0;
            acc[g].bp = p & 1;
            acc[g].bn = !(p & 1);
            close_block(&acc[g], &groups[g], tb, ap_sum);
            i++;
            continue;
        }
        size_t nt = 0, j = i;
        for (; j < n && c->skey[j] == s; j++) {
            uint32_t p = c->spay[j];
            uint32_t g = set ? set->cell_group[p >> 1] : 0;
            walk_acc *w = &acc[g];
            if (!w->touched) {
                w->touched = true;
                touched[nt++] = g;
            }
            if (p & 1)
                w->bp++;
            else
                w->bn++;
        }
        for (size_t q = 0; q < nt; q++) {
            acc[touched[q]].touched = false;
            close_block(&acc[touched[q]], &groups[touched[q]], tb, ap_sum);
        }
        i = j;
    }
    for (size_t g = 0; g < ng; g++) {
        eval_group *G = &groups[g];
        walk_acc *w = &acc[g];
        double P = (double)w->P, N = (double)w->N;
        G->auc = G->auc_var = NAN;
        if (G->roc.pt)
            roc_keep(&G->roc, w, 0, 0, true);
        if (!(P > 0 && N > 0))
            continue;
        G->auc = (double)w->mw / (2 * P * N);
        /* DeLong: the sample variances of the placement values (normalized
         * by N and P here, once) over P and N */
        double v10 = P > 1 ? (w->ss10 - w->s10 * w->s10 / P) / (P - 1) / (N * N) : 0;
        double v01 = N > 1 ? (w->ss01 - w->s01 * w->s01 / N) / (N - 1) / (P * P) : 0;
        G->auc_var = fmax(v10, 0) / P + fmax(v01, 0) / N;
    }
    if (!set)
        c->ap = acc[0].P ? ap / (double)acc[0].P : NAN;
out:
    free(acc);
    free(touched);
    return rc;
}

/* Walks 0 (overall), 1 .. n_sets (the sets): even ones on the calling
 * thread, odd ones on a second; they write disjoint groups. */
typedef struct walk_job {
    eval_ctx *c;
    size_t first;
    int rc;
    strata_err err;
} walk_job;

static void *walk_worker(void *arg)
{
    walk_job *j = arg;
    for (size_t w = j->first; !j->rc && w <= j->c->n_sets; w += 2)
        j->rc = walk(j->c, w ? &j->c->sets[w - 1] : NULL, &j->err);
    return NULL;
}

int eval_cells_walk(eval_ctx *c, strata_err *err)
{
    walk_job odd = {c, 1, 0, STRATA_ERR_INIT}, even = {c, 0, 0, STRATA_ERR_INIT};
    pthread_t tid;
    bool threaded = c->n_sets > 0 && pthread_create(&tid, NULL, walk_worker, &odd) == 0;
    walk_worker(&even);
    if (threaded)
        pthread_join(tid, NULL);
    else if (!even.rc)
        for (size_t w = 1; !odd.rc && w <= c->n_sets; w += 2)
            odd.rc = walk(c, &c->sets[w - 1], &odd.err);
    walk_job *bad = even.rc ? &even : odd.rc ? &odd : NULL;
    if (!bad)
        return 0;
    int rc = err_set(err, bad->rc, "%s", bad->err.message);
    err_clear(&even.err);
    err_clear(&odd.err);
    return rc;
}

void eval_cells_free(eval_ctx *c)
{
    free(c->cell_codes);
    free(c->cell_c);
    free(c->cell_acc);
    free(c->skey);
    free(c->spay);
    c->cell_codes = NULL;
    c->cell_c = NULL;
    c->cell_acc = NULL;
    c->skey = NULL;
    c->spay = NULL;
}
