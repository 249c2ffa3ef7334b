/*
 * evaluate.c - eval_compute: checks the input, lays out the attribute sets
 * and their groups, runs the passes of eval_cells.c, the statistics of
 * fairness.c and the intervals of bootstrap.c, and writes the result JSON
 * described in evaluate.h (definitions: docs/evaluation.md).
 *
 * Groups are numbered set by set: the one-attribute sets in group_by order,
 * then (with intersections) the combinations of two or more attributes by
 * size, then in lexicographic order of their attribute indices. Within a set
 * the groups are every combination of the members' values, each attribute's
 * values in byte order, the first member varying slowest.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/eval_int.h"
#include "trainer/metrics.h"

void eval_options_init(eval_options *o)
{
    memset(o, 0, sizeof *o);
    o->threshold = 0.5;
    o->min_group_size = 30;
    o->replicates = 200;
    o->seed = 1;
    o->confidence = 0.95;
    o->calibration_bins = 10;
}

/* ---- input checks and layout ---- */

static int check_options(const eval_data *d, const eval_options *o, strata_err *err)
{
    if (!(o->threshold >= 0 && o->threshold <= 1))
        return err_set(err, STRATA_INVALID_ARGUMENT, "threshold must be in [0, 1]");
    if (o->n_thresholds > EVAL_MAX_THRESHOLDS)
        return err_set(err, STRATA_INVALID_ARGUMENT, "thresholds: at most %d", EVAL_MAX_THRESHOLDS);
    if (o->thresholds && o->n_thresholds == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "thresholds: empty");
    for (size_t i = 0; o->thresholds && i < o->n_thresholds; i++)
        if (!(o->thresholds[i] >= 0 && o->thresholds[i] <= 1))
            return err_set(err, STRATA_INVALID_ARGUMENT, "thresholds[%zu] is not in [0, 1]", i);
    if (o->replicates > EVAL_MAX_REPLICATES)
        return err_set(err, STRATA_INVALID_ARGUMENT, "bootstrap replicates: at most %d",
                       EVAL_MAX_REPLICATES);
    if (!(o->confidence > 0 && o->confidence < 1))
        return err_set(err, STRATA_INVALID_ARGUMENT, "bootstrap confidence must be in (0, 1)");
    if (o->calibration_bins < 1 || o->calibration_bins > EVAL_MAX_CALIBRATION_BINS)
        return err_set(err, STRATA_INVALID_ARGUMENT, "calibration bins: 1 to %d",
                       EVAL_MAX_CALIBRATION_BINS);
    if (d->n == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "no rows to evaluate");
    if (d->n > EVAL_MAX_ROWS)
        return err_set(err, STRATA_INVALID_ARGUMENT, "at most %llu rows",
                       (unsigned long long)EVAL_MAX_ROWS);
    if (!d->y)
        return err_set(err, STRATA_INVALID_ARGUMENT, "no labels");
    switch (d->task) {
    case EVAL_BINARY:
        break;
    case EVAL_MULTICLASS:
        if (d->n_classes < 2 || d->n_classes > EVAL_MAX_CLASSES)
            return err_set(err, STRATA_INVALID_ARGUMENT, "multiclass: 2 to %d classes",
                           EVAL_MAX_CLASSES);
        break;
    case EVAL_REGRESSION:
        if (!d->score)
            return err_set(err, STRATA_INVALID_ARGUMENT, "regression needs the predictions");
        break;
    default:
        return err_set(err, STRATA_INVALID_ARGUMENT, "unknown task");
    }
    if (!d->score && !d->pred)
        return err_set(err, STRATA_INVALID_ARGUMENT, "neither scores nor predicted labels");
    if (d->n_attrs > EVAL_MAX_GROUP_BY)
        return err_set(err, STRATA_INVALID_ARGUMENT, "group_by: at most %d attributes",
                       EVAL_MAX_GROUP_BY);
    return 0;
}

static const char *attr_value(const eval_ctx *c, size_t a, size_t rank)
{
    return c->d->attrs[a].values[c->order[a][rank]];
}

static const eval_ctx *sort_ctx;
static size_t sort_attr;

static int by_value(const void *x, const void *y)
{
    const char *const *v = sort_ctx->d->attrs[sort_attr].values;
    return strcmp(v[*(const size_t *)x], v[*(const size_t *)y]);
}

/* Sort each attribute's values; refuse duplicates and bad references. */
static int order_values(eval_ctx *c, strata_err *err)
{
    const eval_data *d = c->d;
    for (size_t a = 0; a < c->k; a++) {
        const eval_attr *at = &d->attrs[a];
        if (!at->name || !*at->name || strchr(at->name, '&'))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "group_by[%zu]: an attribute name must be non-empty, without '&'", a);
        for (size_t b = 0; b < a; b++)
            if (strcmp(d->attrs[b].name, at->name) == 0)
                return err_set(err, STRATA_INVALID_ARGUMENT, "attribute \"%s\" is listed twice",
                               at->name);
        if (at->n_values == 0 || at->n_values > EVAL_MAX_GROUP_VALUES)
            return err_set(err, STRATA_INVALID_ARGUMENT, "attribute \"%s\": 1 to %d values",
                           at->name, EVAL_MAX_GROUP_VALUES);
        if (!at->codes || !at->values)
            return err_set(err, STRATA_INVALID_ARGUMENT, "attribute \"%s\": no codes or values",
                           at->name);
        for (size_t v = 0; v < at->n_values; v++)
            if (!at->values[v])
                return err_set(err, STRATA_INVALID_ARGUMENT, "attribute \"%s\": value %zu is NULL",
                               at->name, v);
        c->order[a] = malloc(at->n_values * sizeof *c->order[a]);
        c->rank[a] = malloc(at->n_values * sizeof *c->rank[a]);
        if (!c->order[a] || !c->rank[a])
            return err_set(err, STRATA_NOMEM, "out of memory");
        for (size_t v = 0; v < at->n_values; v++)
            c->order[a][v] = v;
        sort_ctx = c;
        sort_attr = a;
        qsort(c->order[a], at->n_values, sizeof *c->order[a], by_value);
        for (size_t r = 0; r < at->n_values; r++) {
            c->rank[a][c->order[a][r]] = r;
            if (r && strcmp(attr_value(c, a, r), attr_value(c, a, r - 1)) == 0)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "attribute \"%s\": the value \"%s\" is listed twice", at->name,
                               attr_value(c, a, r));
        }
        const char *ref = c->o.reference ? c->o.reference[a] : NULL;
        if (ref) {
            size_t r = 0;
            while (r < at->n_values && strcmp(attr_value(c, a, r), ref) != 0)
                r++;
            if (r == at->n_values)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "reference group \"%s\" of attribute \"%s\" names no value", ref,
                               at->name);
        }
    }
    return 0;
}

/* Joins parts with '&' into a new string. */
static char *join(const char *const *parts, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        if (i)
            *p++ = '&';
        memcpy(p, parts[i], l);
        p += l;
    }
    *p = 0;
    return s;
}

/* The attribute sets and their groups. */
static int layout_sets(eval_ctx *c, strata_err *err)
{
    size_t k = c->k, max_sets = k ? ((size_t)1 << k) - 1 : 0, listed = 0;
    c->sets = calloc(max_sets ? max_sets : 1, sizeof *c->sets);
    if (!c->sets)
        return err_set(err, STRATA_NOMEM, "out of memory");
    for (size_t size = 1; size <= k && (size == 1 || c->o.intersections); size++) {
        /* every subset of this size, in lexicographic order of indices */
        size_t idx[EVAL_MAX_GROUP_BY];
        for (size_t i = 0; i < size; i++)
            idx[i] = i;
        for (;;) {
            eval_set *s = &c->sets[c->n_sets++];
            s->n_members = size;
            s->n_groups = 1;
            for (size_t i = 0; i < size; i++) {
                s->members[i] = idx[i];
                s->n_groups *= c->d->attrs[idx[i]].n_values; /* <= 1000^8 / EVAL_MAX_... below */
                if (size > 1 && s->n_groups > EVAL_MAX_INTERSECTIONS)
                    break;
            }
            if (size > 1) {
                listed += s->n_groups;
                if (s->n_groups > EVAL_MAX_INTERSECTIONS || listed > EVAL_MAX_INTERSECTIONS)
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "intersections: more than %d combinations of values to list",
                                   EVAL_MAX_INTERSECTIONS);
            }
            s->first = c->n_groups;
            c->n_groups += s->n_groups;
            if (size == 1)
                c->n_single += s->n_groups;
            /* next subset */
            size_t i = size;
            while (i > 0 && idx[i - 1] == k - size + i - 1)
                i--;
            if (i == 0)
                break;
            idx[i - 1]++;
            for (size_t j = i; j < size; j++)
                idx[j] = idx[j - 1] + 1;
        }
    }
    c->groups = calloc(c->n_groups ? c->n_groups : 1, sizeof *c->groups);
    if (!c->groups)
        return err_set(err, STRATA_NOMEM, "out of memory");
    for (size_t si = 0; si < c->n_sets; si++) {
        eval_set *s = &c->sets[si];
        const char *parts[EVAL_MAX_GROUP_BY];
        for (size_t i = 0; i < s->n_members; i++)
            parts[i] = c->d->attrs[s->members[i]].name;
        if (!(s->name = join(parts, s->n_members)))
            return err_set(err, STRATA_NOMEM, "out of memory");
        for (size_t g = 0; g < s->n_groups; g++) {
            size_t rest = g;
            for (size_t i = s->n_members; i-- > 0;) {
                size_t a = s->members[i], nv = c->d->attrs[a].n_values;
                parts[i] = attr_value(c, a, rest % nv);
                rest /= nv;
            }
            eval_group *G = &c->groups[s->first + g];
            G->set = si;
            G->auc = G->auc_var = NAN;
            if (!(G->value = join(parts, s->n_members)))
                return err_set(err, STRATA_NOMEM, "out of memory");
        }
    }
    return 0;
}

/* Chan et al.'s merge of two (n, mean, M2) summaries, plus the plain sums. */
static void merge_acc(eval_group *dst, const eval_group *src)
{
    if (!src->n)
        return;
    double na = (double)dst->n, nb = (double)src->n, n = na + nb;
    double delta = src->mean_y - dst->mean_y;
    dst->mean_y += delta * nb / n;
    dst->m2_y += src->m2_y + delta * delta * na * nb / n;
    dst->n += src->n;
    dst->correct += src->correct;
    dst->sum_pred += src->sum_pred;
    dst->sse += src->sse;
    dst->sae += src->sae;
}

static void add_counts(eval_group *dst, const uint64_t *cnt)
{
    for (int j = 0; j < 4; j++) {
        dst->c[j] += cnt[j];
        dst->n += cnt[j];
    }
}

/* Each cell's group in each set; group totals; references. */
static int aggregate(eval_ctx *c, strata_err *err)
{
    bool binary = c->d->task == EVAL_BINARY;
    for (size_t cell = 0; cell < c->n_cells; cell++) {
        if (binary)
            add_counts(&c->overall, c->cell_c + cell * 4);
        else
            merge_acc(&c->overall, &c->cell_acc[cell]);
    }
    for (size_t si = 0; si < c->n_sets; si++) {
        eval_set *s = &c->sets[si];
        s->cell_group = malloc((c->n_cells ? c->n_cells : 1) * sizeof *s->cell_group);
        if (!s->cell_group)
            return err_set(err, STRATA_NOMEM, "out of memory");
        for (size_t cell = 0; cell < c->n_cells; cell++) {
            size_t g = 0;
            for (size_t i = 0; i < s->n_members; i++) {
                size_t a = s->members[i];
                g = g * c->d->attrs[a].n_values + c->rank[a][c->cell_codes[cell * c->k + a]];
            }
            s->cell_group[cell] = (uint32_t)g;
            eval_group *G = &c->groups[s->first + g];
            if (binary)
                add_counts(G, c->cell_c + cell * 4);
            else
                merge_acc(G, &c->cell_acc[cell]);
        }
    }
    /* references: the one-attribute sets first (intersections combine them) */
    size_t ref_rank[EVAL_MAX_GROUP_BY];
    for (size_t si = 0; si < c->n_sets; si++) {
        eval_set *s = &c->sets[si];
        if (s->n_members == 1) {
            size_t a = s->members[0];
            const char *want = c->o.reference ? c->o.reference[a] : NULL;
            size_t best = 0;
            for (size_t g = 0; g < s->n_groups; g++) {
                if (want ? strcmp(c->groups[s->first + g].value, want) == 0
                         : c->groups[s->first + g].n > c->groups[s->first + best].n)
                    best = g;
            }
            s->reference = best;
            ref_rank[a] = best;
        } else {
            size_t g = 0;
            for (size_t i = 0; i < s->n_members; i++)
                g = g * c->d->attrs[s->members[i]].n_values + ref_rank[s->members[i]];
            s->reference = g;
        }
    }
    return 0;
}

/* ---- JSON ---- */

typedef struct jctx {
    bool bad; /* a jansson allocation failed somewhere */
} jctx;

static void put(jctx *j, json_t *o, const char *key, json_t *v)
{
    if (!v || json_object_set_new(o, key, v))
        j->bad = true;
}

static void push(jctx *j, json_t *a, json_t *v)
{
    if (!v || json_array_append_new(a, v))
        j->bad = true;
}

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jcount(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* {"low","high","replicates_used"} of one slot of the vector. */
static json_t *boot_ci(jctx *j, const double *lo, const double *hi, const uint32_t *used, size_t i)
{
    json_t *o = json_object();
    put(j, o, "low", jnum(lo[i]));
    put(j, o, "high", jnum(hi[i]));
    put(j, o, "replicates_used", jcount(used[i]));
    return o;
}

static void put_undefined(jctx *j, json_t *undefined, const char *metric, double v, const char *why)
{
    if (isnan(v) && why)
        put(j, undefined, metric, json_string(why));
}

static const char *const conv_names[EVAL_N_CONV] = {"difference_between_groups",
                                                    "ratio_between_groups", "difference_to_overall",
                                                    "ratio_to_overall"};
static const char *const summary_names[EVAL_N_SUMMARY] = {
    "demographic_parity_difference", "demographic_parity_ratio", "equal_opportunity_difference",
    "equalized_odds_difference", "four_fifths_rule"};

/* Everything the binary result needs beyond the context. */
typedef struct binres {
    double *point, *lo, *hi;
    uint32_t *used;
    bool *want;
} binres;

static void add_flag(jctx *j, json_t *flags, const char *f)
{
    size_t i;
    json_t *v;
    json_array_foreach (flags, i, v)
        if (strcmp(json_string_value(v), f) == 0)
            return;
    push(j, flags, json_string(f));
}

static json_t *small_flags(jctx *j, const eval_ctx *c, const eval_group *G, bool with_classes)
{
    json_t *flags = json_array();
    uint64_t m = c->o.min_group_size, P = G->c[EVAL_TP] + G->c[EVAL_FN],
             N = G->c[EVAL_FP] + G->c[EVAL_TN];
    /* SMALL_GROUP is the contract's "a group under min_group_size"; a group
     * of that size with few of one class gets its own flag (its TPR or FPR
     * rests on those few). */
    if (!G->n)
        add_flag(j, flags, "EMPTY");
    else if (G->n < m)
        add_flag(j, flags, "SMALL_GROUP");
    else if (with_classes && (P < m || N < m))
        add_flag(j, flags, "SMALL_CLASS");
    return flags;
}

static json_t *binary_group(jctx *j, const eval_ctx *c, const binres *b, size_t gi)
{
    const eval_group *G = &c->groups[gi];
    const eval_set *s = &c->sets[G->set];
    bool is_ref = s->reference == gi - s->first;
    json_t *o = json_object(), *flags = small_flags(j, c, G, true), *reasons = json_object();
    put(j, o, "attribute", json_string(s->name));
    put(j, o, "value", json_string(G->value));
    put(j, o, "n", jcount(G->n));
    put(j, o, "positives", jcount(G->c[EVAL_TP] + G->c[EVAL_FN]));
    put(j, o, "negatives", jcount(G->c[EVAL_FP] + G->c[EVAL_TN]));
    put(j, o, "tp", jcount(G->c[EVAL_TP]));
    put(j, o, "fp", jcount(G->c[EVAL_FP]));
    put(j, o, "tn", jcount(G->c[EVAL_TN]));
    put(j, o, "fn", jcount(G->c[EVAL_FN]));
    double rate[EVAL_N_RATES];
    const char *why[EVAL_N_RATES];
    eval_rates(G->c, G->auc, c->has_scores ? METRICS_ONE_CLASS : "NO_SCORES", rate, why);
    for (size_t m = 0; m < EVAL_N_RATES; m++) {
        put(j, o, eval_rate_names[m], jnum(rate[m]));
        if (why[m]) {
            put(j, reasons, eval_rate_names[m], json_string(why[m]));
            if (G->n)
                add_flag(j, flags, why[m]);
        }
    }
    put(j, o, "reference", json_boolean(is_ref));
    if (c->o.replicates) {
        json_t *ci = json_object();
        for (size_t m = 0; m < EVAL_N_RATES; m++) {
            if (isnan(rate[m]))
                continue;
            json_t *r;
            if (m == EVAL_R_AUC) {
                double z = eval_normal_quantile((1 + c->o.confidence) / 2), se = sqrt(G->auc_var);
                r = json_object();
                put(j, r, "low", jnum(fmax(0, G->auc - z * se)));
                put(j, r, "high", jnum(fmin(1, G->auc + z * se)));
                put(j, r, "method", json_string("delong"));
            } else {
                double num, den, wl, wh;
                r = boot_ci(j, b->lo, b->hi, b->used, eval_ix_group(gi, m));
                eval_rate_fraction(G->c, m, &num, &den);
                eval_wilson(num, den, c->o.confidence, &wl, &wh);
                put(j, r, "wilson_low", jnum(wl));
                put(j, r, "wilson_high", jnum(wh));
            }
            put(j, ci, eval_rate_names[m], r);
        }
        put(j, o, "ci", ci);
    }
    if (!is_ref) {
        json_t *tests = json_object();
        const eval_group *R = &c->groups[s->first + s->reference];
        const size_t ms[2] = {EVAL_R_TPR, EVAL_R_FPR};
        for (int t = 0; t < 2; t++) {
            double k1, m1, k2, m2, z, p;
            eval_rate_fraction(G->c, ms[t], &k1, &m1);
            eval_rate_fraction(R->c, ms[t], &k2, &m2);
            if (eval_ztest(k1, m1, k2, m2, &z, &p)) {
                json_t *r = json_object();
                put(j, r, "z", jnum(z));
                put(j, r, "p_value", jnum(p));
                put(j, tests, eval_rate_names[ms[t]], r);
            } else {
                put(j, tests, eval_rate_names[ms[t]], json_null());
            }
        }
        put(j, o, "tests", tests);
    }
    put(j, o, "flags", flags);
    put(j, o, "reasons", reasons);
    return o;
}

/* The four conventions (+ their intervals) of metric d over set s, or the
 * top level when s is SIZE_MAX. */
static void disp_fields(jctx *j, const eval_ctx *c, const binres *b, size_t d, size_t s, json_t *o)
{
    json_t *ci = c->o.replicates ? json_object() : NULL;
    for (size_t conv = 0; conv < EVAL_N_CONV; conv++) {
        size_t i = s == SIZE_MAX ? eval_ix_top(c, d, conv) : eval_ix_disp(c, d, s, conv);
        put(j, o, conv_names[conv], jnum(b->point[i]));
        if (ci && !isnan(b->point[i]))
            put(j, ci, conv_names[conv], boot_ci(j, b->lo, b->hi, b->used, i));
    }
    if (ci)
        put(j, o, "ci", ci);
}

/* "attr=value": {"difference","ratio"[,"ci"]} for the groups of set s. */
static void vs_reference(jctx *j, const eval_ctx *c, const binres *b, size_t d, size_t s,
                         json_t *into)
{
    const eval_set *set = &c->sets[s];
    for (size_t g = set->first; g < set->first + set->n_groups; g++) {
        size_t id = eval_ix_vsref(c, d, g, 0), ir = eval_ix_vsref(c, d, g, 1);
        if (isnan(b->point[id]))
            continue;
        json_t *o = json_object();
        put(j, o, "difference", jnum(b->point[id]));
        put(j, o, "ratio", jnum(b->point[ir]));
        if (c->o.replicates) {
            json_t *ci = json_object();
            put(j, ci, "difference", boot_ci(j, b->lo, b->hi, b->used, id));
            if (!isnan(b->point[ir]))
                put(j, ci, "ratio", boot_ci(j, b->lo, b->hi, b->used, ir));
            put(j, o, "ci", ci);
        }
        size_t len = strlen(set->name) + strlen(c->groups[g].value) + 2;
        char *key = malloc(len);
        if (!key) {
            j->bad = true;
            json_decref(o);
            return;
        }
        snprintf(key, len, "%s=%s", set->name, c->groups[g].value);
        put(j, into, key, o);
        free(key);
    }
}

static json_t *set_name_or_null(const eval_ctx *c, double ix)
{
    return isnan(ix) ? json_null() : json_string(c->sets[(size_t)ix].name);
}

static json_t *disparities_json(jctx *j, const eval_ctx *c, const binres *b)
{
    json_t *all = json_object();
    for (size_t d = 0; d < EVAL_N_DISP; d++) {
        json_t *o = json_object(), *vs = json_object(), *by = json_object();
        disp_fields(j, c, b, d, SIZE_MAX, o);
        put(j, o, "attribute", set_name_or_null(c, b->point[eval_ix_top(c, d, EVAL_N_CONV)]));
        for (size_t s = 0; s < c->n_sets; s++) {
            json_t *one = json_object(), *vs1 = json_object();
            const eval_set *set = &c->sets[s];
            disp_fields(j, c, b, d, s, one);
            put(j, one, "reference",
                set->reference == SIZE_MAX
                    ? json_null()
                    : json_string(c->groups[set->first + set->reference].value));
            vs_reference(j, c, b, d, s, vs1);
            vs_reference(j, c, b, d, s, vs);
            put(j, one, "vs_reference", vs1);
            put(j, by, set->name, one);
        }
        put(j, o, "vs_reference", vs);
        put(j, o, "by_attribute", by);
        put(j, all, eval_rate_names[EVAL_FIRST_DISP + d], o);
    }
    return all;
}

static void summary_fields(jctx *j, const double *v, json_t *o)
{
    for (size_t f = 0; f < EVAL_N_SUMMARY; f++) {
        if (f == EVAL_S_FOUR_FIFTHS)
            put(j, o, summary_names[f],
                isnan(v[f]) ? json_null() : json_string(v[f] == 1 ? "pass" : "fail"));
        else
            put(j, o, summary_names[f], jnum(v[f]));
    }
}

static json_t *summary_json(jctx *j, const eval_ctx *c, const binres *b)
{
    json_t *o = json_object(), *by = json_object();
    summary_fields(j, b->point + eval_ix_sum_top(c, 0), o);
    put(j, o, "attribute", set_name_or_null(c, b->point[eval_ix_sum_top(c, EVAL_N_SUMMARY)]));
    for (size_t s = 0; s < c->n_sets; s++) {
        json_t *one = json_object();
        summary_fields(j, b->point + eval_ix_sum(c, s, 0), one);
        put(j, by, c->sets[s].name, one);
    }
    put(j, o, "by_attribute", by);
    return o;
}

/* Counts at sweep threshold t: rows with score >= thr[t] are predicted positive. */
static void sweep_counts(const eval_ctx *c, const eval_group *G, size_t t, uint64_t cnt[4])
{
    uint64_t tp = 0, fp = 0;
    for (size_t bin = t + 1; bin <= c->T; bin++) {
        tp += G->hist[bin * 2 + 1];
        fp += G->hist[bin * 2];
    }
    cnt[EVAL_TP] = tp;
    cnt[EVAL_FP] = fp;
    cnt[EVAL_FN] = G->c[EVAL_TP] + G->c[EVAL_FN] - tp;
    cnt[EVAL_TN] = G->c[EVAL_FP] + G->c[EVAL_TN] - fp;
}

static void sweep_rows(jctx *j, const eval_ctx *c, const eval_group *G, json_t *attr, json_t *val,
                       json_t *into)
{
    static const size_t shown[] = {EVAL_R_SELECTION, EVAL_R_TPR, EVAL_R_FPR, EVAL_R_PPV,
                                   EVAL_R_ACCURACY};
    for (size_t t = 0; t < c->T; t++) {
        uint64_t cnt[4];
        double rate[EVAL_N_RATES];
        sweep_counts(c, G, t, cnt);
        eval_rates(cnt, NAN, NULL, rate, NULL);
        json_t *o = json_object();
        put(j, o, "threshold", json_real(c->thr[t]));
        put(j, o, "attribute", json_copy(attr));
        put(j, o, "value", json_copy(val));
        for (size_t i = 0; i < sizeof shown / sizeof *shown; i++)
            put(j, o, eval_rate_names[shown[i]], jnum(rate[shown[i]]));
        push(j, into, o);
    }
    json_decref(attr);
    json_decref(val);
}

static json_t *equalizing_json(jctx *j, const eval_ctx *c, double target)
{
    json_t *all = json_object();
    if (isnan(target))
        return all;
    for (size_t s = 0; s < c->n_sets; s++) {
        const eval_set *set = &c->sets[s];
        json_t *o = json_object(), *th = json_object();
        put(j, o, "target_tpr", json_real(target));
        for (size_t g = set->first; g < set->first + set->n_groups; g++) {
            const eval_group *G = &c->groups[g];
            if (!G->n)
                continue;
            double best = INFINITY, at = NAN;
            for (size_t t = 0; t < c->T && G->c[EVAL_TP] + G->c[EVAL_FN]; t++) {
                uint64_t cnt[4];
                sweep_counts(c, G, t, cnt);
                double tpr = (double)cnt[EVAL_TP] / (double)(cnt[EVAL_TP] + cnt[EVAL_FN]);
                if (fabs(tpr - target) < best) {
                    best = fabs(tpr - target);
                    at = c->thr[t];
                }
            }
            put(j, th, G->value, jnum(at));
        }
        put(j, o, "thresholds", th);
        put(j, all, set->name, o);
    }
    return all;
}

static json_t *roc_json(jctx *j, const eval_roc *r, json_t *attr, json_t *val)
{
    json_t *o = json_object(), *pts = json_array();
    put(j, o, "attribute", attr);
    put(j, o, "value", val);
    for (size_t i = r->n; i-- > 0;) {
        json_t *p = json_array();
        push(j, p, json_real(r->pt[i][0]));
        push(j, p, json_real(r->pt[i][1]));
        push(j, pts, p);
    }
    put(j, o, "points", pts);
    return o;
}

/* The overall score metrics (log loss, Brier, calibration) read the score
 * array and nothing else: they run on a second thread during pass 1. */
static void *score_worker(void *arg)
{
    score_job *sj = arg;
    const eval_data *d = sj->d;
    sj->rc = metrics_log_loss(d->y, d->score, 1, NULL, d->n, &sj->log_loss, &sj->err);
    if (!sj->rc)
        sj->rc = metrics_brier(d->y, d->score, NULL, d->n, &sj->brier, &sj->err);
    if (!sj->rc)
        sj->rc =
            metrics_calibration(d->y, d->score, d->n, sj->n_bins, sj->bins, &sj->ece, &sj->err);
    return NULL;
}

static int score_job_start(eval_ctx *c, score_job *sj, strata_err *err)
{
    memset(sj, 0, sizeof *sj);
    sj->d = c->d;
    sj->n_bins = c->o.calibration_bins;
    sj->bins = malloc(sj->n_bins * sizeof *sj->bins);
    if (!sj->bins)
        return err_set(err, STRATA_NOMEM, "out of memory");
    sj->threaded = pthread_create(&sj->tid, NULL, score_worker, sj) == 0;
    c->score_job = sj;
    return 0;
}

/* Joins (or, without a thread, runs) the job. */
static void score_job_finish(score_job *sj)
{
    if (sj->threaded)
        pthread_join(sj->tid, NULL);
    else
        score_worker(sj);
    sj->threaded = false;
}

static int binary_overall(jctx *j, const eval_ctx *c, json_t *res, strata_err *err)
{
    const eval_group *O = &c->overall;
    json_t *o = json_object(), *und = json_object(), *conf = json_object();
    put(j, res, "overall", o);
    put(j, o, "n", jcount(O->n));
    put(j, o, "positives", jcount(O->c[EVAL_TP] + O->c[EVAL_FN]));
    put(j, o, "negatives", jcount(O->c[EVAL_FP] + O->c[EVAL_TN]));
    double rate[EVAL_N_RATES];
    const char *why[EVAL_N_RATES];
    eval_rates(O->c, O->auc, METRICS_ONE_CLASS, rate, why);
    metrics_prf prf;
    metrics_prf_from_counts((double)O->c[EVAL_TP], (double)O->c[EVAL_FP], (double)O->c[EVAL_FN],
                            &prf);
    put(j, o, "accuracy", jnum(rate[EVAL_R_ACCURACY]));
    put(j, o, "precision", jnum(prf.precision));
    put(j, o, "recall", jnum(prf.recall));
    put(j, o, "f1", jnum(prf.f1));
    put_undefined(j, und, "precision", prf.precision, prf.why_precision);
    put_undefined(j, und, "recall", prf.recall, prf.why_recall);
    put_undefined(j, und, "f1", prf.f1, prf.why_f1);
    const score_job *sj = c->score_job;
    double ll = NAN, brier = NAN, ece = NAN;
    json_t *cal = json_array();
    put(j, res, "calibration", cal);
    if (sj) {
        if (sj->rc)
            return err_set(err, sj->rc, "%s", sj->err.message);
        ll = sj->log_loss;
        brier = sj->brier;
        ece = sj->ece;
        for (size_t i = 0; i < c->o.calibration_bins; i++) {
            const metrics_calibration_bin *bin = &sj->bins[i];
            json_t *bo = json_object();
            double cnt = (double)bin->count;
            put(j, bo, "bin", jcount(i));
            put(j, bo, "low", json_real(bin->low));
            put(j, bo, "high", json_real(bin->high));
            put(j, bo, "count", jcount(bin->count));
            put(j, bo, "mean_predicted", jnum(bin->sum_prob / cnt));
            put(j, bo, "fraction_positive", jnum(bin->sum_pos / cnt));
            push(j, cal, bo);
        }
    }
    const char *no_scores = c->has_scores ? NULL : "NO_SCORES";
    put(j, o, "roc_auc", jnum(O->auc));
    put_undefined(j, und, "roc_auc", O->auc, no_scores ? no_scores : METRICS_ONE_CLASS);
    put(j, o, "average_precision", jnum(c->ap));
    put_undefined(j, und, "average_precision", c->ap, no_scores ? no_scores : METRICS_NO_POSITIVES);
    put(j, o, "log_loss", jnum(ll));
    put_undefined(j, und, "log_loss", ll, no_scores);
    put(j, o, "brier", jnum(brier));
    put_undefined(j, und, "brier", brier, no_scores);
    put(j, o, "ece", jnum(ece));
    put_undefined(j, und, "ece", ece, no_scores);
    put(j, conf, "tp", jcount(O->c[EVAL_TP]));
    put(j, conf, "fp", jcount(O->c[EVAL_FP]));
    put(j, conf, "tn", jcount(O->c[EVAL_TN]));
    put(j, conf, "fn", jcount(O->c[EVAL_FN]));
    put(j, o, "confusion", conf);
    put(j, o, "undefined", und);
    return 0;
}

static int binary_result(jctx *j, eval_ctx *c, json_t *res, strata_err *err)
{
    binres b = {0};
    double *auc = NULL;
    uint64_t *scratch = NULL;
    int rc = 0;
    if (c->has_scores && (rc = eval_cells_walk(c, err)))
        goto out;
    eval_stats_layout(c);
    b.point = malloc(c->n_stats * sizeof *b.point);
    b.lo = malloc(c->n_stats * sizeof *b.lo);
    b.hi = malloc(c->n_stats * sizeof *b.hi);
    b.used = malloc(c->n_stats * sizeof *b.used);
    b.want = calloc(c->n_stats, sizeof *b.want);
    auc = malloc((c->n_groups + 1) * sizeof *auc);
    scratch = malloc((c->n_groups * 4 + 1) * sizeof *scratch);
    if (!b.point || !b.lo || !b.hi || !b.used || !b.want || !auc || !scratch) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    for (size_t g = 0; g < c->n_groups; g++)
        auc[g] = c->groups[g].auc;
    auc[c->n_groups] = c->overall.auc;
    eval_stats(c, c->cell_c, auc, scratch, b.point);
    /* intervals for the group rates (not roc_auc: DeLong) and the disparities */
    for (size_t g = 0; g < c->n_groups; g++)
        for (size_t m = 0; m < EVAL_R_AUC; m++)
            b.want[eval_ix_group(g, m)] = c->groups[g].n > 0;
    for (size_t i = c->off_disp; i < c->off_sum; i++)
        b.want[i] = true;
    for (size_t d = 0; d < EVAL_N_DISP; d++)
        b.want[eval_ix_top(c, d, EVAL_N_CONV)] = false; /* the worst set's index */
    for (size_t i = 0; i < c->n_stats; i++)
        b.want[i] = b.want[i] && !isnan(b.point[i]);
    if ((rc = eval_bootstrap(c, b.want, b.lo, b.hi, b.used, err)))
        goto out;

    if ((rc = binary_overall(j, c, res, err)))
        goto out;
    json_t *groups = json_array();
    put(j, res, "groups", groups);
    for (size_t g = 0; g < c->n_groups; g++)
        push(j, groups, binary_group(j, c, &b, g));
    put(j, res, "disparities", disparities_json(j, c, &b));
    put(j, res, "summary", summary_json(j, c, &b));

    json_t *sweep = json_array(), *rocs = json_array();
    put(j, res, "threshold_sweep", sweep);
    put(j, res, "roc_curves", rocs);
    if (c->has_scores) {
        sweep_rows(j, c, &c->overall, json_null(), json_null(), sweep);
        for (size_t g = 0; g < c->n_groups; g++)
            if (c->groups[g].n)
                sweep_rows(j, c, &c->groups[g], json_string(c->sets[c->groups[g].set].name),
                           json_string(c->groups[g].value), sweep);
        if (c->overall.roc.pt)
            push(j, rocs, roc_json(j, &c->overall.roc, json_null(), json_null()));
        for (size_t g = 0; g < c->n_single; g++)
            if (c->groups[g].roc.pt)
                push(j, rocs,
                     roc_json(j, &c->groups[g].roc, json_string(c->sets[c->groups[g].set].name),
                              json_string(c->groups[g].value)));
    }
    put(j, res, "equalizing_thresholds",
        equalizing_json(j, c, c->has_scores ? b.point[c->off_overall + EVAL_R_TPR] : NAN));
out:
    free(b.point);
    free(b.lo);
    free(b.hi);
    free(b.used);
    free(b.want);
    free(auc);
    free(scratch);
    return rc;
}

static json_t *class_name(const eval_data *d, size_t k)
{
    if (d->class_names && d->class_names[k])
        return json_string(d->class_names[k]);
    char buf[24];
    snprintf(buf, sizeof buf, "%zu", k);
    return json_string(buf);
}

static void put_prf(jctx *j, json_t *o, const metrics_prf *p)
{
    put(j, o, "precision", jnum(p->precision));
    put(j, o, "recall", jnum(p->recall));
    put(j, o, "f1", jnum(p->f1));
}

static int multiclass_overall(jctx *j, const eval_ctx *c, const int32_t *pred, json_t *res,
                              strata_err *err)
{
    const eval_data *d = c->d;
    size_t K = d->n_classes;
    metrics_multiclass_out mc = {0};
    int rc = 0;
    mc.confusion = calloc(K * K, sizeof *mc.confusion);
    mc.per_class = calloc(K, sizeof *mc.per_class);
    mc.support = calloc(K, sizeof *mc.support);
    if (!mc.confusion || !mc.per_class || !mc.support) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = metrics_multiclass(d->y, pred, d->n, K, &mc, err)))
        goto out;
    double ll = NAN;
    if (d->score && (rc = metrics_log_loss(d->y, d->score, K, NULL, d->n, &ll, err)))
        goto out;
    json_t *o = json_object(), *und = json_object(), *classes = json_array(), *conf = json_array(),
           *macro = json_object(), *micro = json_object(), *pc = json_array();
    put(j, res, "overall", o);
    put(j, o, "n", jcount(d->n));
    put(j, o, "accuracy", jnum(mc.accuracy));
    put(j, o, "log_loss", jnum(ll));
    put_undefined(j, und, "log_loss", ll, "NO_SCORES");
    for (size_t k = 0; k < K; k++) {
        push(j, classes, class_name(d, k));
        json_t *row = json_array();
        for (size_t l = 0; l < K; l++)
            push(j, row, jcount(mc.confusion[k * K + l]));
        push(j, conf, row);
        json_t *one = json_object(), *u1 = json_object();
        put(j, one, "class", class_name(d, k));
        put_prf(j, one, &mc.per_class[k]);
        put(j, one, "support", jcount(mc.support[k]));
        put_undefined(j, u1, "precision", mc.per_class[k].precision, mc.per_class[k].why_precision);
        put_undefined(j, u1, "recall", mc.per_class[k].recall, mc.per_class[k].why_recall);
        put_undefined(j, u1, "f1", mc.per_class[k].f1, mc.per_class[k].why_f1);
        put(j, one, "undefined", u1);
        push(j, pc, one);
    }
    put(j, o, "classes", classes);
    put(j, o, "confusion", conf);
    put_prf(j, macro, &mc.macro);
    put_prf(j, micro, &mc.micro);
    put(j, o, "macro", macro);
    put(j, o, "micro", micro);
    put(j, o, "per_class", pc);
    put(j, o, "undefined", und);
out:
    free(mc.confusion);
    free(mc.per_class);
    free(mc.support);
    return rc;
}

static int other_result(jctx *j, const eval_ctx *c, const int32_t *pred, json_t *res,
                        strata_err *err)
{
    const eval_data *d = c->d;
    bool reg = d->task == EVAL_REGRESSION;
    int rc;
    if (reg) {
        metrics_regression_out r;
        if ((rc = metrics_regression(d->y, d->score, NULL, d->n, &r, err)))
            return rc;
        json_t *o = json_object();
        put(j, res, "overall", o);
        put(j, o, "n", jcount(d->n));
        put(j, o, "rmse", jnum(r.rmse));
        put(j, o, "mae", jnum(r.mae));
        put(j, o, "r2", jnum(r.r2));
        put(j, o, "undefined", json_object());
    } else if ((rc = multiclass_overall(j, c, pred, res, err))) {
        return rc;
    }
    json_t *groups = json_array();
    put(j, res, "groups", groups);
    for (size_t g = 0; g < c->n_groups; g++) {
        const eval_group *G = &c->groups[g];
        const eval_set *s = &c->sets[G->set];
        json_t *o = json_object(), *reasons = json_object();
        json_t *flags = small_flags(j, c, G, false);
        double n = (double)G->n;
        put(j, o, "attribute", json_string(s->name));
        put(j, o, "value", json_string(G->value));
        put(j, o, "n", jcount(G->n));
        if (reg) {
            double r2 = G->n < 2 ? NAN : G->m2_y > 0 ? 1 - G->sse / G->m2_y : G->sse == 0 ? 1 : 0;
            put(j, o, "rmse", jnum(sqrt(G->sse / n)));
            put(j, o, "mae", jnum(G->sae / n));
            put(j, o, "r2", jnum(r2));
            put(j, o, "mean_prediction", jnum(G->sum_pred / n));
            put(j, o, "mean_label", jnum(G->n ? G->mean_y : NAN));
            if (G->n == 1)
                put(j, reasons, "r2", json_string("UNDEFINED_TOO_FEW_ROWS"));
        } else {
            put(j, o, "accuracy", jnum((double)G->correct / n));
        }
        put(j, o, "reference", json_boolean(s->reference == g - s->first));
        put(j, o, "flags", flags);
        put(j, o, "reasons", reasons);
        push(j, groups, o);
    }
    return 0;
}

/* Multiclass without predicted labels: the first most probable class. */
static int32_t *argmax_pred(const eval_data *d, strata_err *err)
{
    int32_t *p = malloc(d->n * sizeof *p);
    if (!p) {
        err_set(err, STRATA_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < d->n; i++) {
        const double *s = d->score + i * d->n_classes;
        size_t best = 0;
        for (size_t k = 1; k < d->n_classes; k++)
            if (s[k] > s[best])
                best = k;
        p[i] = (int32_t)best;
    }
    return p;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Sorted, distinct sweep thresholds. */
static int sweep_thresholds(eval_ctx *c, strata_err *err)
{
    size_t T = c->o.thresholds ? c->o.n_thresholds : 21;
    c->thr = malloc(T * sizeof *c->thr);
    if (!c->thr)
        return err_set(err, STRATA_NOMEM, "out of memory");
    for (size_t t = 0; t < T; t++)
        c->thr[t] = c->o.thresholds ? c->o.thresholds[t] : (double)t / 20;
    qsort(c->thr, T, sizeof *c->thr, cmp_dbl);
    size_t u = 0;
    for (size_t t = 0; t < T; t++)
        if (!u || c->thr[t] != c->thr[u - 1])
            c->thr[u++] = c->thr[t];
    c->T = u;
    size_t rows = 1;
    for (size_t g = 0; g < c->n_groups; g++)
        rows += c->groups[g].n > 0;
    if (rows > EVAL_MAX_SWEEP_ROWS / c->T)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "threshold sweep: %zu groups x %zu thresholds is more than %u rows; give "
                       "fewer thresholds",
                       rows, c->T, EVAL_MAX_SWEEP_ROWS);
    return 0;
}

static void free_ctx(eval_ctx *c)
{
    eval_cells_free(c);
    for (size_t a = 0; a < EVAL_MAX_GROUP_BY; a++) {
        free(c->rank[a]);
        free(c->order[a]);
    }
    for (size_t s = 0; c->sets && s < c->n_sets; s++) {
        free(c->sets[s].name);
        free(c->sets[s].cell_group);
    }
    for (size_t g = 0; c->groups && g < c->n_groups; g++) {
        free(c->groups[g].value);
        free(c->groups[g].hist);
        free(c->groups[g].roc.pt);
    }
    free(c->overall.hist);
    free(c->overall.roc.pt);
    free(c->sets);
    free(c->groups);
    free(c->thr);
}

int eval_compute(const eval_data *d, const eval_options *o, json_t **out, strata_err *err)
{
    eval_ctx c = {0};
    score_job sj = {0};
    int32_t *derived = NULL;
    json_t *res = NULL;
    jctx j = {false};
    int rc;
    *out = NULL;
    if (!d || !o)
        return err_set(err, STRATA_INVALID_ARGUMENT, "no data or options");
    if ((rc = check_options(d, o, err)))
        return rc;
    eval_data dd = *d;
    c.d = &dd;
    c.o = *o;
    c.k = d->n_attrs;
    c.has_scores = d->score != NULL;
    c.overall.auc = c.overall.auc_var = c.ap = NAN;
    if (d->task == EVAL_MULTICLASS && !d->pred) {
        if (!(derived = argmax_pred(d, err))) {
            rc = STRATA_NOMEM;
            goto out;
        }
        dd.pred = derived;
    }
    if ((rc = order_values(&c, err)) || (rc = layout_sets(&c, err)))
        goto out;
    if (d->task == EVAL_BINARY && c.has_scores && (rc = score_job_start(&c, &sj, err)))
        goto out;
    if ((rc = eval_cells_build(&c, err)) || (rc = aggregate(&c, err)))
        goto out;
    if (d->task == EVAL_BINARY && (rc = sweep_thresholds(&c, err)))
        goto out;
    if (c.score_job)
        score_job_finish(&sj);

    res = json_object();
    if (!res) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    static const char *const tasks[] = {"binary_classification", "multiclass_classification",
                                        "regression"};
    put(&j, res, "task", json_string(tasks[d->task]));
    put(&j, res, "threshold", json_real(o->threshold));
    put(&j, res, "n", jcount(d->n));
    if (d->task == EVAL_BINARY)
        rc = binary_result(&j, &c, res, err);
    else
        rc = other_result(&j, &c, dd.pred, res, err);
    if (rc)
        goto out;
    json_t *boot = json_object();
    put(&j, boot, "replicates", jcount(o->replicates));
    put(&j, boot, "seed", json_integer((json_int_t)o->seed));
    put(&j, boot, "confidence", json_real(o->confidence));
    put(&j, res, "bootstrap", boot);
    put(&j, res, "min_group_size", jcount(o->min_group_size));
    if (j.bad)
        rc = err_set(err, STRATA_NOMEM, "out of memory building the evaluation");
out:
    if (sj.threaded)
        pthread_join(sj.tid, NULL);
    free(sj.bins);
    err_clear(&sj.err);
    if (rc)
        json_decref(res);
    else
        *out = res;
    free(derived);
    free_ctx(&c);
    return rc;
}
