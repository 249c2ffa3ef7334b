/*
 * prep.c - fitting, applying and saving the preprocessing (see prep.h).
 *
 * Layout invariant: fitted column i owns output columns
 * [cols[i].out_off, cols[i].out_off + cols[i].out_n), in input order, and
 * out_n is fixed by the fitted state alone (width, vocabulary size,
 * indicator), so a deserialized object lays rows out exactly as the fitted one.
 *
 * Categorical vocabularies are looked up through an open-addressing table
 * (FNV-1a, linear probing, load <= 1/2) of indices into the vocabulary; the
 * same table type counts distinct values while fitting, over slices borrowed
 * from the input.
 */
#include "trainer/prep.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/text.h"
#include "base/limits.h"

#define PREP_FORMAT "strata.preprocessing"
#define PREP_VERSION 1
#define PREP_NAME_MAX TRAINER_PREP_NAME_MAX

typedef struct pcol {
    char *name;
    prep_kind kind;
    size_t width;  /* 1 for numeric, 0 for categorical */
    double *mean;  /* width values */
    double *scale; /* width values, > 0 */
    int indicator; /* an output column flags NULLs */
    size_t n_cats; /* vocabulary */
    char **cats;
    size_t *cat_len;
    uint32_t *tab;  /* 0 = empty, else vocabulary index + 1 */
    size_t tab_cap; /* power of two */
    size_t out_off, out_n;
} pcol;

struct prep {
    prep_options opt;
    size_t n_cols;
    pcol *cols;
    size_t n_out;
    char **out_names;
    json_t *warnings;
};

/* ---- options ---- */

void prep_options_default(prep_options *o)
{
    o->numeric = PREP_STANDARDIZE;
    o->missing = PREP_MISSING_MEAN_AND_INDICATOR;
    o->max_categories = 100;
}

int prep_options_from_json(const json_t *spec, prep_options *o, strata_err *err)
{
    prep_options_default(o);
    if (!spec)
        return 0;
    if (!json_is_object(spec))
        return err_set(err, STRATA_INVALID_ARGUMENT, "preprocessing: must be an object");
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)spec, key, v) {
        if (strcmp(key, "numeric") == 0) {
            const char *s = json_string_value(v);
            if (s && strcmp(s, "standardize") == 0)
                o->numeric = PREP_STANDARDIZE;
            else if (s && strcmp(s, "none") == 0)
                o->numeric = PREP_NUMERIC_NONE;
            else
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "preprocessing.numeric: must be \"standardize\" or \"none\"");
        } else if (strcmp(key, "categorical") == 0) {
            const char *s = json_string_value(v);
            if (!s || strcmp(s, "one_hot") != 0)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "preprocessing.categorical: must be \"one_hot\"");
        } else if (strcmp(key, "missing") == 0) {
            const char *s = json_string_value(v);
            if (s && strcmp(s, "mean_and_indicator") == 0)
                o->missing = PREP_MISSING_MEAN_AND_INDICATOR;
            else if (s && strcmp(s, "error") == 0)
                o->missing = PREP_MISSING_ERROR;
            else
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "preprocessing.missing: must be \"mean_and_indicator\" or "
                               "\"error\"");
        } else if (strcmp(key, "max_categories") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > (json_int_t)TRAINER_MAX_CATEGORIES)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "preprocessing.max_categories: must be an integer in 1..%u",
                               TRAINER_MAX_CATEGORIES);
            o->max_categories = (size_t)json_integer_value(v);
        } else {
            return err_set(err, STRATA_INVALID_ARGUMENT, "preprocessing: unknown member \"%s\"",
                           key);
        }
    }
    return 0;
}

/* Kinds whose outputs come from a vocabulary of values. */
static int is_vocab_kind(prep_kind k)
{
    return k == PREP_CATEGORICAL || k == PREP_MULTI_HOT;
}

/* ---- hash table of slices ---- */

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static size_t table_cap_for(size_t count)
{
    size_t cap = 16;
    while (cap < 2 * count)
        cap <<= 1;
    return cap;
}

/* The slot of key in tab (keys[] holds the indexed slices): either the slot
 * holding it or the empty slot where it would go. */
static size_t table_find(const uint32_t *tab, size_t cap, const slice *keys, slice key)
{
    size_t mask = cap - 1;
    size_t i = (size_t)hash_bytes(key.p, key.n) & mask;
    while (tab[i] != 0 && !slice_eq(keys[tab[i] - 1], key))
        i = (i + 1) & mask;
    return i;
}

/* ---- fitted state ---- */

static void pcol_free(pcol *c)
{
    free(c->name);
    free(c->mean);
    free(c->scale);
    if (c->cats)
        for (size_t k = 0; k < c->n_cats; k++)
            free(c->cats[k]);
    free(c->cats);
    free(c->cat_len);
    free(c->tab);
}

void prep_destroy(prep *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_cols; i++)
        pcol_free(&p->cols[i]);
    free(p->cols);
    if (p->out_names)
        for (size_t j = 0; j < p->n_out; j++)
            free(p->out_names[j]);
    free(p->out_names);
    json_decref(p->warnings);
    free(p);
}

size_t prep_n_outputs(const prep *p)
{
    return p->n_out;
}

const char *prep_output_name(const prep *p, size_t j)
{
    return j < p->n_out ? p->out_names[j] : NULL;
}

const json_t *prep_warnings(const prep *p)
{
    return p->warnings;
}

static void warn(prep *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(prep *p, const char *fmt, ...)
{
    char msg[STRATA_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_warn("trainer: %s", msg);
    json_array_append_new(p->warnings, json_string(msg));
}

/* Build the vocabulary lookup of c from cats/cat_len. */
static int build_vocab_table(pcol *c)
{
    c->tab_cap = table_cap_for(c->n_cats);
    c->tab = calloc(c->tab_cap, sizeof *c->tab);
    if (!c->tab)
        return STRATA_NOMEM;
    for (size_t k = 0; k < c->n_cats; k++) {
        slice key = {c->cats[k], c->cat_len[k]};
        size_t mask = c->tab_cap - 1;
        size_t i = (size_t)hash_bytes(key.p, key.n) & mask;
        while (c->tab[i] != 0) {
            size_t o = c->tab[i] - 1;
            if (c->cat_len[o] == key.n && memcmp(c->cats[o], key.p, key.n) == 0)
                return STRATA_INVALID_ARGUMENT; /* duplicate category */
            i = (i + 1) & mask;
        }
        c->tab[i] = (uint32_t)(k + 1);
    }
    return 0;
}

/* Vocabulary index of v, or n_cats when it is not in the vocabulary. */
static size_t vocab_index(const pcol *c, slice v)
{
    size_t mask = c->tab_cap - 1;
    size_t i = (size_t)hash_bytes(v.p, v.n) & mask;
    while (c->tab[i] != 0) {
        size_t o = c->tab[i] - 1;
        if (c->cat_len[o] == v.n && (v.n == 0 || memcmp(c->cats[o], v.p, v.n) == 0))
            return o;
        i = (i + 1) & mask;
    }
    return c->n_cats;
}

static char *name_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *name_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* Assign output offsets and names from the fitted state. */
static int layout(prep *p, strata_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < p->n_cols; i++) {
        pcol *c = &p->cols[i];
        size_t n = c->kind == PREP_CATEGORICAL ? c->n_cats + 1
                   : c->kind == PREP_MULTI_HOT ? c->n_cats
                                               : c->width;
        n += c->indicator ? 1 : 0;
        if (n > TRAINER_MAX_FEATURES || total > TRAINER_MAX_FEATURES - n)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "preprocessing: more than %u design-matrix columns",
                           TRAINER_MAX_FEATURES);
        c->out_off = total;
        c->out_n = n;
        total += n;
    }
    p->n_out = total;
    p->out_names = calloc(total ? total : 1, sizeof *p->out_names);
    if (!p->out_names)
        return err_set(err, STRATA_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n_cols; i++) {
        pcol *c = &p->cols[i];
        char **o = p->out_names + c->out_off;
        size_t j = 0;
        if (c->kind == PREP_NUMERIC) {
            o[j++] = strdup(c->name);
        } else if (c->kind == PREP_NUMERIC_ARRAY) {
            for (size_t e = 0; e < c->width; e++)
                o[j++] = name_printf("%s[%zu]", c->name, e);
        } else {
            for (size_t k = 0; k < c->n_cats; k++)
                o[j++] = name_printf("%s=%s", c->name, c->cats[k]);
            if (c->kind == PREP_CATEGORICAL)
                o[j++] = name_printf("%s=__other__", c->name);
        }
        if (c->indicator)
            o[j++] =
                name_printf(is_vocab_kind(c->kind) ? "%s=__missing__" : "%s__missing", c->name);
        for (size_t k = 0; k < j; k++)
            if (!o[k])
                return err_set(err, STRATA_NOMEM, "out of memory");
    }
    return 0;
}

static int check_name(const char *name, const char *what, strata_err *err)
{
    if (!name || !name[0])
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s: a column needs a name", what);
    slice s = slice_of(name);
    if (s.n > PREP_NAME_MAX || !text_valid_utf8(s))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "%s: a column name must be UTF-8 of at most %u bytes", what, PREP_NAME_MAX);
    return 0;
}

static int value_missing(const prep_column *c, size_t r)
{
    return c->missing && c->missing[r];
}

/* Mean and scale of element e of a numeric or array column. */
static int fit_numeric_element(prep *p, pcol *pc, const prep_column *c, size_t n_rows, size_t e,
                               int *saw_missing, strata_err *err)
{
    size_t w = pc->width;
    size_t count = 0;
    double sum = 0;
    for (size_t r = 0; r < n_rows; r++) {
        double v = c->num[r * w + e];
        if (value_missing(c, r) || isnan(v)) {
            *saw_missing = 1;
            continue;
        }
        if (!isfinite(v)) {
            if (w > 1 || c->kind == PREP_NUMERIC_ARRAY)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "column '%s' element %zu: row %zu holds an infinite value", c->name,
                               e, r);
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "column '%s': row %zu holds an infinite value", c->name, r);
        }
        sum += v;
        count++;
    }
    if (count == 0) {
        pc->mean[e] = 0;
        pc->scale[e] = 1;
        if (c->kind == PREP_NUMERIC_ARRAY)
            warn(p, "column '%s' element %zu has no values in the training rows: imputed as 0",
                 c->name, e);
        else
            warn(p, "column '%s' has no values in the training rows: imputed as 0", c->name);
        return 0;
    }
    double mean = sum / (double)count;
    /* Corrected two-pass variance (Chan, Golub and LeVeque), as scikit-learn. */
    double ss = 0, corr = 0;
    for (size_t r = 0; r < n_rows; r++) {
        double v = c->num[r * w + e];
        if (value_missing(c, r) || isnan(v))
            continue;
        double d = v - mean;
        corr += d;
        ss += d * d;
    }
    double var = (ss - corr * corr / (double)count) / (double)count;
    if (var < 0)
        var = 0;
    pc->mean[e] = mean;
    if (!isfinite(mean) || !isfinite(var))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "column '%s': values too large to standardize (the mean or variance "
                       "overflows)",
                       c->name);
    double n = (double)count, eps = DBL_EPSILON;
    int constant = var <= n * eps * var + (n * mean * eps) * (n * mean * eps);
    if (p->opt.numeric == PREP_NUMERIC_NONE) {
        pc->scale[e] = 1;
    } else if (constant) {
        pc->scale[e] = 1;
        if (c->kind == PREP_NUMERIC_ARRAY)
            warn(p,
                 "column '%s' element %zu is constant in the training rows: kept, scaled by 1 "
                 "(all zeros after centering)",
                 c->name, e);
        else
            warn(p,
                 "column '%s' is constant in the training rows: kept, scaled by 1 (all zeros "
                 "after centering)",
                 c->name);
    } else {
        pc->scale[e] = sqrt(var);
    }
    return 0;
}

typedef struct count_entry {
    slice key;
    size_t count;
    size_t last_row; /* row + 1 that counted it last: a token counts once per row */
} count_entry;

static int cmp_count_entry(const void *a, const void *b)
{
    const count_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return slice_cmp(x->key, y->key);
}

static int vocab_eligible(slice v)
{
    return v.n <= TRAINER_MAX_CATEGORY_BYTES && memchr(v.p ? v.p : "", '\0', v.n) == NULL &&
           text_valid_utf8(v);
}

static int fit_categorical(prep *p, pcol *pc, const prep_column *c, size_t n_rows, int *saw_missing,
                           strata_err *err)
{
    int rc = 0;
    count_entry *ent = NULL;
    slice *keys = NULL;
    uint32_t *tab = NULL;
    size_t n_ent = 0, cap_ent = 0, tab_cap = table_cap_for(64);
    tab = calloc(tab_cap, sizeof *tab);
    if (!tab) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    for (size_t r = 0; r < n_rows; r++) {
        if (value_missing(c, r)) {
            *saw_missing = 1;
            continue;
        }
        /* A categorical row holds one value; a multi-hot row its tokens. */
        size_t t0 = c->kind == PREP_MULTI_HOT ? c->tok_off[r] : r;
        size_t t1 = c->kind == PREP_MULTI_HOT ? c->tok_off[r + 1] : r + 1;
        for (size_t t = t0; t < t1; t++) {
            slice v = c->cat[t];
            if (!v.p)
                v.p = "";
            if (!vocab_eligible(v))
                continue; /* never in a vocabulary: __other__, or ignored (multi-hot) */
            if (n_ent == cap_ent) {
                size_t nc = cap_ent ? 2 * cap_ent : 64;
                count_entry *ne = realloc(ent, nc * sizeof *ne);
                slice *nk = realloc(keys, nc * sizeof *nk);
                if (ne)
                    ent = ne;
                if (nk)
                    keys = nk;
                if (!ne || !nk) {
                    rc = err_set(err, STRATA_NOMEM, "out of memory");
                    goto out;
                }
                cap_ent = nc;
            }
            if (2 * (n_ent + 1) > tab_cap) {
                size_t nc = tab_cap * 2;
                uint32_t *nt = calloc(nc, sizeof *nt);
                if (!nt) {
                    rc = err_set(err, STRATA_NOMEM, "out of memory");
                    goto out;
                }
                for (size_t i = 0; i < tab_cap; i++)
                    if (tab[i])
                        nt[table_find(nt, nc, keys, keys[tab[i] - 1])] = tab[i];
                free(tab);
                tab = nt;
                tab_cap = nc;
            }
            size_t slot = table_find(tab, tab_cap, keys, v);
            if (tab[slot]) {
                count_entry *e = &ent[tab[slot] - 1];
                if (e->last_row != r + 1)
                    e->count++;
                e->last_row = r + 1;
            } else {
                if (n_ent >= UINT32_MAX - 1) {
                    rc = err_set(err, STRATA_INVALID_ARGUMENT,
                                 "column '%s': too many distinct values", c->name);
                    goto out;
                }
                keys[n_ent] = v;
                ent[n_ent].key = v;
                ent[n_ent].count = 1;
                ent[n_ent].last_row = r + 1;
                tab[slot] = (uint32_t)(++n_ent);
            }
        }
    }
    if (n_ent > 0)
        qsort(ent, n_ent, sizeof *ent, cmp_count_entry);
    size_t k = n_ent < p->opt.max_categories ? n_ent : p->opt.max_categories;
    pc->cats = calloc(k ? k : 1, sizeof *pc->cats);
    pc->cat_len = calloc(k ? k : 1, sizeof *pc->cat_len);
    if (!pc->cats || !pc->cat_len) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        pc->cats[i] = malloc(ent[i].key.n + 1);
        if (!pc->cats[i]) {
            rc = err_set(err, STRATA_NOMEM, "out of memory");
            goto out;
        }
        if (ent[i].key.n)
            memcpy(pc->cats[i], ent[i].key.p, ent[i].key.n);
        pc->cats[i][ent[i].key.n] = '\0';
        pc->cat_len[i] = ent[i].key.n;
        pc->n_cats = i + 1;
    }
    if (n_ent > k)
        log_debug("trainer: column '%s': %zu of %zu distinct values are outside the vocabulary",
                  c->name, n_ent - k, n_ent);
    rc = build_vocab_table(pc);
    if (rc)
        rc = err_set(err, rc, "out of memory");
out:
    free(ent);
    free(keys);
    free(tab);
    return rc;
}

static int check_input(const prep_input *in, const char *what, strata_err *err)
{
    if (!in || (in->n_cols > 0 && !in->cols))
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s: no columns", what);
    if (in->n_cols > TRAINER_MAX_INPUT_COLUMNS)
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s: more than %u columns", what,
                       TRAINER_MAX_INPUT_COLUMNS);
    for (size_t i = 0; i < in->n_cols; i++) {
        const prep_column *c = &in->cols[i];
        int rc = check_name(c->name, what, err);
        if (rc)
            return rc;
        switch (c->kind) {
        case PREP_NUMERIC:
            if (in->n_rows && !c->num)
                return err_set(err, STRATA_INVALID_ARGUMENT, "column '%s': no values", c->name);
            break;
        case PREP_NUMERIC_ARRAY:
            if (c->width < 1 || c->width > TRAINER_MAX_ARRAY_WIDTH)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "column '%s': array width must be 1..%u", c->name,
                               TRAINER_MAX_ARRAY_WIDTH);
            if (in->n_rows && !c->num)
                return err_set(err, STRATA_INVALID_ARGUMENT, "column '%s': no values", c->name);
            break;
        case PREP_CATEGORICAL:
            if (in->n_rows && !c->cat)
                return err_set(err, STRATA_INVALID_ARGUMENT, "column '%s': no values", c->name);
            break;
        case PREP_MULTI_HOT:
            if (!c->tok_off || c->tok_off[0] != 0)
                return err_set(err, STRATA_INVALID_ARGUMENT, "column '%s': no token offsets",
                               c->name);
            for (size_t r = 0; r < in->n_rows; r++)
                if (c->tok_off[r + 1] < c->tok_off[r])
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "column '%s': token offsets decrease at row %zu", c->name, r);
            if (c->tok_off[in->n_rows] > 0 && !c->cat)
                return err_set(err, STRATA_INVALID_ARGUMENT, "column '%s': no tokens", c->name);
            break;
        default:
            return err_set(err, STRATA_INVALID_ARGUMENT, "column '%s': unknown kind", c->name);
        }
    }
    return 0;
}

int prep_fit(const prep_options *opt, const prep_input *in, prep **out, strata_err *err)
{
    int rc = 0;
    prep *p = NULL;
    *out = NULL;
    if (!opt || opt->max_categories < 1 || opt->max_categories > TRAINER_MAX_CATEGORIES ||
        (opt->numeric != PREP_STANDARDIZE && opt->numeric != PREP_NUMERIC_NONE) ||
        (opt->missing != PREP_MISSING_MEAN_AND_INDICATOR && opt->missing != PREP_MISSING_ERROR))
        return err_set(err, STRATA_INVALID_ARGUMENT, "preprocessing: invalid options");
    rc = check_input(in, "preprocessing", err);
    if (rc)
        return rc;
    if (in->n_rows == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "the training split has no rows to fit the preprocessing on");
    if (in->n_cols == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "preprocessing: no feature columns");
    for (size_t i = 0; i < in->n_cols; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(in->cols[i].name, in->cols[j].name) == 0)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "preprocessing: column '%s' appears twice", in->cols[i].name);

    p = calloc(1, sizeof *p);
    if (!p)
        return err_set(err, STRATA_NOMEM, "out of memory");
    p->opt = *opt;
    p->warnings = json_array();
    p->cols = calloc(in->n_cols, sizeof *p->cols);
    if (!p->warnings || !p->cols) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    p->n_cols = in->n_cols;
    for (size_t i = 0; i < in->n_cols; i++) {
        const prep_column *c = &in->cols[i];
        pcol *pc = &p->cols[i];
        pc->kind = c->kind;
        pc->name = strdup(c->name);
        if (!pc->name) {
            rc = err_set(err, STRATA_NOMEM, "out of memory");
            goto out;
        }
        int saw_missing = 0;
        if (is_vocab_kind(c->kind)) {
            pc->width = 0;
            rc = fit_categorical(p, pc, c, in->n_rows, &saw_missing, err);
        } else {
            pc->width = c->kind == PREP_NUMERIC ? 1 : c->width;
            pc->mean = calloc(pc->width, sizeof *pc->mean);
            pc->scale = calloc(pc->width, sizeof *pc->scale);
            if (!pc->mean || !pc->scale) {
                rc = err_set(err, STRATA_NOMEM, "out of memory");
                goto out;
            }
            for (size_t e = 0; e < pc->width && rc == 0; e++)
                rc = fit_numeric_element(p, pc, c, in->n_rows, e, &saw_missing, err);
        }
        if (rc)
            goto out;
        if (saw_missing) {
            if (opt->missing == PREP_MISSING_ERROR) {
                size_t r = 0;
                for (r = 0; r < in->n_rows; r++) {
                    if (value_missing(c, r))
                        break;
                    if (!is_vocab_kind(c->kind)) {
                        size_t w = pc->width, e;
                        for (e = 0; e < w && !isnan(c->num[r * w + e]); e++)
                            ;
                        if (e < w)
                            break;
                    }
                }
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "column '%s': row %zu is NULL and preprocessing.missing is "
                             "\"error\"",
                             c->name, r);
                goto out;
            }
            pc->indicator = 1;
        }
    }
    rc = layout(p, err);
    if (rc)
        goto out;
    *out = p;
    p = NULL;
out:
    prep_destroy(p);
    return rc;
}

/* ---- transform ---- */

static const prep_column *find_input(const prep_input *in, size_t hint, const char *name)
{
    if (hint < in->n_cols && strcmp(in->cols[hint].name, name) == 0)
        return &in->cols[hint];
    for (size_t i = 0; i < in->n_cols; i++)
        if (strcmp(in->cols[i].name, name) == 0)
            return &in->cols[i];
    return NULL;
}

static const char *kind_name(prep_kind k)
{
    switch (k) {
    case PREP_NUMERIC:
        return "numeric";
    case PREP_CATEGORICAL:
        return "categorical";
    case PREP_NUMERIC_ARRAY:
        return "numeric_array";
    case PREP_MULTI_HOT:
        return "multi_hot";
    }
    return "unknown";
}

int prep_transform(const prep *p, const prep_input *in, double *out, strata_err *err)
{
    int rc = check_input(in, "prediction input", err);
    if (rc)
        return rc;
    size_t n_out = p->n_out, n = in->n_rows;
    int standardize = p->opt.numeric == PREP_STANDARDIZE;
    for (size_t i = 0; i < p->n_cols; i++) {
        const pcol *pc = &p->cols[i];
        const prep_column *c = find_input(in, i, pc->name);
        if (!c)
            return err_set(err, STRATA_INVALID_ARGUMENT, "column '%s' is missing from the input",
                           pc->name);
        if (c->kind != pc->kind)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "column '%s' is %s in the input but was %s in training", pc->name,
                           kind_name(c->kind), kind_name(pc->kind));
        if (pc->kind == PREP_NUMERIC_ARRAY && c->width != pc->width)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "column '%s' has arrays of %zu elements in the input but %zu in "
                           "training",
                           pc->name, c->width, pc->width);
        for (size_t r = 0; r < n; r++) {
            double *o = out + r * n_out + pc->out_off;
            int miss = value_missing(c, r);
            if (pc->kind == PREP_CATEGORICAL) {
                memset(o, 0, pc->out_n * sizeof *o);
                if (miss) {
                    o[pc->indicator ? pc->n_cats + 1 : pc->n_cats] = 1;
                } else {
                    slice v = c->cat[r];
                    if (!v.p)
                        v.p = "";
                    o[vocab_index(pc, v)] = 1;
                }
                continue;
            }
            if (pc->kind == PREP_MULTI_HOT) {
                memset(o, 0, pc->out_n * sizeof *o);
                if (miss) {
                    if (pc->indicator)
                        o[pc->n_cats] = 1;
                    continue;
                }
                for (size_t t = c->tok_off[r]; t < c->tok_off[r + 1]; t++) {
                    slice v = c->cat[t];
                    if (!v.p)
                        v.p = "";
                    size_t q = vocab_index(pc, v);
                    if (q < pc->n_cats) /* a token outside the vocabulary is ignored */
                        o[q] = 1;
                }
                continue;
            }
            size_t w = pc->width;
            int any_missing = miss;
            for (size_t e = 0; e < w; e++) {
                double v = miss ? NAN : c->num[r * w + e];
                if (isnan(v)) {
                    any_missing = 1;
                    v = pc->mean[e];
                } else if (!isfinite(v)) {
                    if (pc->kind == PREP_NUMERIC_ARRAY)
                        return err_set(err, STRATA_INVALID_ARGUMENT,
                                       "column '%s' element %zu: row %zu holds an infinite value",
                                       pc->name, e, r);
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "column '%s': row %zu holds an infinite value", pc->name, r);
                }
                o[e] = standardize ? (v - pc->mean[e]) / pc->scale[e] : v;
            }
            if (pc->indicator)
                o[w] = any_missing ? 1.0 : 0.0;
        }
    }
    return 0;
}

/* ---- JSON ---- */

json_t *prep_to_json(const prep *p)
{
    json_t *j = json_object(), *cols = json_array(), *outs = json_array();
    if (!j || !cols || !outs)
        goto fail;
    int bad = 0;
    bad |= json_object_set_new(j, "format", json_string(PREP_FORMAT));
    bad |= json_object_set_new(j, "version", json_integer(PREP_VERSION));
    bad |= json_object_set_new(
        j, "numeric", json_string(p->opt.numeric == PREP_STANDARDIZE ? "standardize" : "none"));
    bad |= json_object_set_new(j, "categorical", json_string("one_hot"));
    bad |= json_object_set_new(
        j, "missing",
        json_string(p->opt.missing == PREP_MISSING_ERROR ? "error" : "mean_and_indicator"));
    bad |=
        json_object_set_new(j, "max_categories", json_integer((json_int_t)p->opt.max_categories));
    for (size_t i = 0; i < p->n_cols; i++) {
        const pcol *c = &p->cols[i];
        json_t *o = json_object();
        bad |= json_array_append_new(cols, o);
        bad |= json_object_set_new(o, "name", json_string(c->name));
        bad |= json_object_set_new(o, "kind", json_string(kind_name(c->kind)));
        if (c->kind == PREP_NUMERIC) {
            bad |= json_object_set_new(o, "mean", json_real(c->mean[0]));
            bad |= json_object_set_new(o, "scale", json_real(c->scale[0]));
        } else if (c->kind == PREP_NUMERIC_ARRAY) {
            json_t *m = json_array(), *s = json_array();
            bad |= json_object_set_new(o, "width", json_integer((json_int_t)c->width));
            bad |= json_object_set_new(o, "mean", m);
            bad |= json_object_set_new(o, "scale", s);
            for (size_t e = 0; e < c->width; e++) {
                bad |= json_array_append_new(m, json_real(c->mean[e]));
                bad |= json_array_append_new(s, json_real(c->scale[e]));
            }
        } else {
            json_t *cats = json_array();
            bad |= json_object_set_new(o, "categories", cats);
            for (size_t k = 0; k < c->n_cats; k++)
                bad |= json_array_append_new(cats, json_stringn(c->cats[k], c->cat_len[k]));
        }
        bad |= json_object_set_new(o, "indicator", json_boolean(c->indicator));
    }
    for (size_t k = 0; k < p->n_out; k++)
        bad |= json_array_append_new(outs, json_string(p->out_names[k]));
    bad |= json_object_set_new(j, "columns", cols);
    cols = NULL;
    bad |= json_object_set_new(j, "outputs", outs);
    outs = NULL;
    if (bad)
        goto fail;
    return j;
fail:
    json_decref(j);
    json_decref(cols);
    json_decref(outs);
    return NULL;
}

static int bad_member(strata_err *err, size_t i, const char *member, const char *want)
{
    return err_set(err, STRATA_INVALID_ARGUMENT, "preprocessing: columns[%zu].%s: %s", i, member,
                   want);
}

static int read_double(const json_t *v, double *out)
{
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return isfinite(*out) ? 0 : -1;
}

static int load_column(const json_t *o, size_t i, pcol *c, strata_err *err)
{
    if (!json_is_object(o))
        return err_set(err, STRATA_INVALID_ARGUMENT, "preprocessing: columns[%zu]: not an object",
                       i);
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *kind = json_string_value(json_object_get(o, "kind"));
    if (!name || check_name(name, "preprocessing", NULL) != 0)
        return bad_member(err, i, "name", "a column name");
    c->name = strdup(name);
    if (!c->name)
        return err_set(err, STRATA_NOMEM, "out of memory");
    json_t *ind = json_object_get(o, "indicator");
    if (!json_is_boolean(ind))
        return bad_member(err, i, "indicator", "a boolean");
    c->indicator = json_is_true(ind);
    if (kind && (strcmp(kind, "categorical") == 0 || strcmp(kind, "multi_hot") == 0)) {
        c->kind = strcmp(kind, "categorical") == 0 ? PREP_CATEGORICAL : PREP_MULTI_HOT;
        json_t *cats = json_object_get(o, "categories");
        if (!json_is_array(cats) || json_array_size(cats) > TRAINER_MAX_CATEGORIES)
            return bad_member(err, i, "categories", "an array of at most max_categories strings");
        size_t k = json_array_size(cats);
        c->cats = calloc(k ? k : 1, sizeof *c->cats);
        c->cat_len = calloc(k ? k : 1, sizeof *c->cat_len);
        if (!c->cats || !c->cat_len)
            return err_set(err, STRATA_NOMEM, "out of memory");
        for (size_t q = 0; q < k; q++) {
            const json_t *s = json_array_get(cats, q);
            if (!json_is_string(s))
                return bad_member(err, i, "categories", "strings");
            slice v = {json_string_value(s), json_string_length(s)};
            if (!vocab_eligible(v))
                return bad_member(err, i, "categories", "UTF-8 strings of at most 1024 bytes");
            c->cats[q] = malloc(v.n + 1);
            if (!c->cats[q])
                return err_set(err, STRATA_NOMEM, "out of memory");
            memcpy(c->cats[q], v.p, v.n + 1);
            c->cat_len[q] = v.n;
            c->n_cats = q + 1;
        }
        int rc = build_vocab_table(c);
        if (rc == STRATA_NOMEM)
            return err_set(err, rc, "out of memory");
        if (rc)
            return bad_member(err, i, "categories", "distinct values");
        return 0;
    }
    if (kind && strcmp(kind, "numeric") == 0) {
        c->kind = PREP_NUMERIC;
        c->width = 1;
    } else if (kind && strcmp(kind, "numeric_array") == 0) {
        c->kind = PREP_NUMERIC_ARRAY;
        json_t *w = json_object_get(o, "width");
        if (!json_is_integer(w) || json_integer_value(w) < 1 ||
            json_integer_value(w) > (json_int_t)TRAINER_MAX_ARRAY_WIDTH)
            return bad_member(err, i, "width", "an integer in 1..131072");
        c->width = (size_t)json_integer_value(w);
    } else {
        return bad_member(err, i, "kind",
                          "\"numeric\", \"numeric_array\", \"categorical\" or \"multi_hot\"");
    }
    c->mean = calloc(c->width, sizeof *c->mean);
    c->scale = calloc(c->width, sizeof *c->scale);
    if (!c->mean || !c->scale)
        return err_set(err, STRATA_NOMEM, "out of memory");
    const json_t *m = json_object_get(o, "mean"), *s = json_object_get(o, "scale");
    if (c->kind == PREP_NUMERIC) {
        if (read_double(m, &c->mean[0]))
            return bad_member(err, i, "mean", "a finite number");
        if (read_double(s, &c->scale[0]) || !(c->scale[0] > 0))
            return bad_member(err, i, "scale", "a positive number");
        return 0;
    }
    if (!json_is_array(m) || json_array_size(m) != c->width)
        return bad_member(err, i, "mean", "an array of width numbers");
    if (!json_is_array(s) || json_array_size(s) != c->width)
        return bad_member(err, i, "scale", "an array of width numbers");
    for (size_t e = 0; e < c->width; e++) {
        if (read_double(json_array_get(m, e), &c->mean[e]))
            return bad_member(err, i, "mean", "finite numbers");
        if (read_double(json_array_get(s, e), &c->scale[e]) || !(c->scale[e] > 0))
            return bad_member(err, i, "scale", "positive numbers");
    }
    return 0;
}

int prep_from_json(const json_t *j, prep **out, strata_err *err)
{
    int rc = 0;
    prep *p = NULL;
    *out = NULL;
    if (!json_is_object(j))
        return err_set(err, STRATA_INVALID_ARGUMENT, "preprocessing: not an object");
    const char *fmt = json_string_value(json_object_get(j, "format"));
    json_t *ver = json_object_get(j, "version");
    if (!fmt || strcmp(fmt, PREP_FORMAT) != 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "preprocessing: format is not \"%s\"",
                       PREP_FORMAT);
    if (!json_is_integer(ver) || json_integer_value(ver) != PREP_VERSION)
        return err_set(err, STRATA_INVALID_ARGUMENT, "preprocessing: unsupported version");
    p = calloc(1, sizeof *p);
    if (!p)
        return err_set(err, STRATA_NOMEM, "out of memory");
    p->warnings = json_array();
    if (!p->warnings) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    json_t *opts = json_object();
    if (!opts) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    static const char *const opt_keys[] = {"numeric", "categorical", "missing", "max_categories"};
    for (size_t k = 0; k < sizeof opt_keys / sizeof *opt_keys; k++) {
        json_t *v = json_object_get(j, opt_keys[k]);
        if (v)
            json_object_set(opts, opt_keys[k], v);
    }
    rc = prep_options_from_json(opts, &p->opt, err);
    json_decref(opts);
    if (rc)
        goto out;
    const json_t *cols = json_object_get(j, "columns");
    if (!json_is_array(cols) || json_array_size(cols) == 0 ||
        json_array_size(cols) > TRAINER_MAX_INPUT_COLUMNS) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "preprocessing: columns must be an array of 1..%u columns",
                     TRAINER_MAX_INPUT_COLUMNS);
        goto out;
    }
    size_t n = json_array_size(cols);
    p->cols = calloc(n, sizeof *p->cols);
    if (!p->cols) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    p->n_cols = n;
    for (size_t i = 0; i < n; i++) {
        rc = load_column(json_array_get(cols, i), i, &p->cols[i], err);
        if (rc)
            goto out;
        if (is_vocab_kind(p->cols[i].kind) && p->cols[i].n_cats > p->opt.max_categories) {
            rc = bad_member(err, i, "categories", "at most max_categories values");
            goto out;
        }
        for (size_t q = 0; q < i; q++)
            if (strcmp(p->cols[q].name, p->cols[i].name) == 0) {
                rc = bad_member(err, i, "name", "distinct from the other columns");
                goto out;
            }
    }
    rc = layout(p, err);
    if (rc)
        goto out;
    const json_t *outs = json_object_get(j, "outputs");
    if (outs && (!json_is_array(outs) || json_array_size(outs) != p->n_out)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "preprocessing: outputs does not match the columns (%zu expected)", p->n_out);
        goto out;
    }
    *out = p;
    p = NULL;
out:
    prep_destroy(p);
    return rc;
}
