/*
 * dataset.c - training data assembly and splits (trainer/dataset.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/dtoa.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "trainer/dataset.h"
#include "trainer/rng.h"

int ds_kind_of(value_type t, prep_kind *out)
{
    switch (t) {
    case VT_BOOL:
    case VT_INT64:
    case VT_DOUBLE:
        *out = PREP_NUMERIC;
        return 0;
    case VT_STRING:
    case VT_BYTES:
        *out = PREP_CATEGORICAL;
        return 0;
    case VT_INT64_ARRAY:
    case VT_DOUBLE_ARRAY:
        *out = PREP_NUMERIC_ARRAY;
        return 0;
    case VT_STRING_ARRAY:
        *out = PREP_MULTI_HOT;
        return 0;
    default:
        return -1;
    }
}

int ds_cols_init(ds_cols *c, size_t n_cols, const char *const *names, const value_type *types,
                 const size_t *widths, strata_err *err)
{
    memset(c, 0, sizeof *c);
    c->n_cols = n_cols;
    c->names = calloc(n_cols + 1, sizeof *c->names);
    c->types = calloc(n_cols + 1, sizeof *c->types);
    c->kinds = calloc(n_cols + 1, sizeof *c->kinds);
    c->widths = calloc(n_cols + 1, sizeof *c->widths);
    c->num = calloc(n_cols + 1, sizeof *c->num);
    c->cat = calloc(n_cols + 1, sizeof *c->cat);
    c->cat_off = calloc(n_cols + 1, sizeof *c->cat_off);
    c->missing = calloc(n_cols + 1, sizeof *c->missing);
    c->tok = calloc(n_cols + 1, sizeof *c->tok);
    c->n_tok = calloc(n_cols + 1, sizeof *c->n_tok);
    c->tok_cap = calloc(n_cols + 1, sizeof *c->tok_cap);
    if (!c->names || !c->types || !c->kinds || !c->widths || !c->num || !c->cat || !c->cat_off ||
        !c->missing || !c->tok || !c->n_tok || !c->tok_cap)
        return err_set(err, STRATA_NOMEM, "out of memory");
    for (size_t k = 0; k < n_cols; k++) {
        c->names[k] = strdup(names[k]);
        c->types[k] = types[k];
        if (ds_kind_of(types[k], &c->kinds[k]))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "feature %s is of type %s, which the trainer cannot use", names[k],
                           value_type_name(types[k]));
        c->widths[k] = widths ? widths[k] : 0;
    }
    return 0;
}

static void grow(ds_cols *c)
{
    size_t cap = c->cap ? c->cap * 2 : 256;
    for (size_t k = 0; k < c->n_cols; k++) {
        c->missing[k] = realloc(c->missing[k], cap);
        STRATA_ASSERT(c->missing[k] != NULL);
        if (c->kinds[k] == PREP_CATEGORICAL || c->kinds[k] == PREP_MULTI_HOT) {
            c->cat_off[k] = realloc(c->cat_off[k], cap * 2 * sizeof(size_t));
            STRATA_ASSERT(c->cat_off[k] != NULL);
        } else if (c->kinds[k] == PREP_NUMERIC) {
            c->num[k] = realloc(c->num[k], cap * sizeof(double));
            STRATA_ASSERT(c->num[k] != NULL);
        }
        /* arrays grow in ds_cols_set once the width is known */
    }
    c->cap = cap;
}

static void array_fit(ds_cols *c, size_t k)
{
    size_t w = c->widths[k];
    double *nn = realloc(c->num[k], c->cap * w * sizeof(double));
    STRATA_ASSERT(nn != NULL);
    /* rows added before the width was known are NULL rows */
    c->num[k] = nn;
}

size_t ds_cols_add_row(ds_cols *c)
{
    if (c->n_rows == c->cap) {
        grow(c);
        for (size_t k = 0; k < c->n_cols; k++)
            if (c->kinds[k] == PREP_NUMERIC_ARRAY && c->widths[k])
                array_fit(c, k);
    }
    size_t i = c->n_rows++;
    for (size_t k = 0; k < c->n_cols; k++) {
        c->missing[k][i] = 1;
        switch (c->kinds[k]) {
        case PREP_NUMERIC:
            c->num[k][i] = NAN;
            break;
        case PREP_CATEGORICAL:
        case PREP_MULTI_HOT:
            c->cat_off[k][2 * i] = c->cat_off[k][2 * i + 1] = 0;
            break;
        case PREP_NUMERIC_ARRAY:
            if (c->widths[k])
                for (size_t e = 0; e < c->widths[k]; e++)
                    c->num[k][i * c->widths[k] + e] = NAN;
            break;
        }
    }
    return i;
}

int ds_cols_set(ds_cols *c, size_t i, size_t k, slice enc, strata_err *err)
{
    value_view v;
    if (enc.n == 0)
        return 0; /* missing */
    if (value_decode(enc, &v))
        return err_set(err, STRATA_INTERNAL, "feature %s: a stored value does not decode",
                       c->names[k]);
    if (v.tag == VT_NULL)
        return 0;
    switch (c->kinds[k]) {
    case PREP_NUMERIC:
        c->num[k][i] = v.tag == VT_BOOL ? (v.b ? 1.0 : 0.0) : v.tag == VT_INT64 ? (double)v.i : v.d;
        c->missing[k][i] = isnan(c->num[k][i]) ? 1 : 0;
        return 0;
    case PREP_CATEGORICAL:
        c->cat_off[k][2 * i] = c->str.n;
        c->cat_off[k][2 * i + 1] = v.s.n;
        buf_append(&c->str, v.s.p, v.s.n);
        c->missing[k][i] = 0;
        return 0;
    case PREP_MULTI_HOT: {
        if (v.tag != VT_STRING_ARRAY)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "feature %s: a %s value where the model reads a STRING_ARRAY",
                           c->names[k], value_type_name(v.tag));
        size_t first = c->n_tok[k], pos = 0;
        slice t;
        while (value_string_next(&v, &pos, &t)) {
            if (c->n_tok[k] == c->tok_cap[k]) {
                c->tok_cap[k] = c->tok_cap[k] ? 2 * c->tok_cap[k] : 256;
                c->tok[k] = realloc(c->tok[k], c->tok_cap[k] * 2 * sizeof(size_t));
                STRATA_ASSERT(c->tok[k] != NULL);
            }
            c->tok[k][2 * c->n_tok[k]] = c->str.n;
            c->tok[k][2 * c->n_tok[k] + 1] = t.n;
            c->n_tok[k]++;
            buf_append(&c->str, t.p, t.n);
        }
        c->cat_off[k][2 * i] = first;
        c->cat_off[k][2 * i + 1] = c->n_tok[k] - first;
        c->missing[k][i] = 0;
        return 0;
    }
    case PREP_NUMERIC_ARRAY:
        if (!c->widths[k]) {
            if (v.count == 0)
                return 0; /* an empty array: NULL */
            c->widths[k] = v.count;
            array_fit(c, k);
            for (size_t r = 0; r < c->n_rows; r++)
                for (size_t e = 0; e < v.count; e++)
                    c->num[k][r * v.count + e] = NAN;
        }
        if (v.count != c->widths[k])
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "feature %s: an array of %zu elements where the training data has %zu",
                           c->names[k], v.count, c->widths[k]);
        for (size_t e = 0; e < v.count; e++)
            c->num[k][i * v.count + e] =
                v.tag == VT_INT64_ARRAY ? (double)value_int64_at(&v, e) : value_double_at(&v, e);
        c->missing[k][i] = 0;
        return 0;
    }
    return 0;
}

static void *own(ds_input *in, void *p)
{
    STRATA_ASSERT(p != NULL);
    in->owned[in->nowned++] = p;
    return p;
}

int ds_cols_input(ds_cols *c, const size_t *sel, size_t nsel, ds_input *out)
{
    memset(out, 0, sizeof *out);
    size_t n = sel ? nsel : c->n_rows;
    out->cols = calloc(c->n_cols + 1, sizeof *out->cols);
    out->owned = calloc(4 * c->n_cols + 1, sizeof *out->owned);
    STRATA_ASSERT(out->cols && out->owned);
    for (size_t k = 0; k < c->n_cols; k++) {
        prep_column *pc = &out->cols[k];
        pc->name = c->names[k];
        pc->kind = c->kinds[k];
        size_t w = c->kinds[k] == PREP_NUMERIC_ARRAY ? (c->widths[k] ? c->widths[k] : 1) : 1;
        pc->width = w;
        uint8_t *miss = own(out, malloc(n + 1));
        for (size_t r = 0; r < n; r++)
            miss[r] = c->missing[k][sel ? sel[r] : r];
        pc->missing = miss;
        if (c->kinds[k] == PREP_CATEGORICAL) {
            slice *s = own(out, calloc(n + 1, sizeof *s));
            for (size_t r = 0; r < n; r++) {
                size_t src = sel ? sel[r] : r;
                s[r] = (slice){c->str.p ? c->str.p + c->cat_off[k][2 * src] : "",
                               c->cat_off[k][2 * src + 1]};
            }
            pc->cat = s;
        } else if (c->kinds[k] == PREP_MULTI_HOT) {
            size_t *off = own(out, malloc((n + 1) * sizeof *off)), total = 0;
            off[0] = 0;
            for (size_t r = 0; r < n; r++) {
                total += c->cat_off[k][2 * (sel ? sel[r] : r) + 1];
                off[r + 1] = total;
            }
            slice *s = own(out, calloc(total + 1, sizeof *s));
            for (size_t r = 0; r < n; r++) {
                size_t src = sel ? sel[r] : r, t0 = c->cat_off[k][2 * src];
                for (size_t t = 0; t < off[r + 1] - off[r]; t++) {
                    const size_t *tk = c->tok[k] + 2 * (t0 + t);
                    s[off[r] + t] = (slice){c->str.p ? c->str.p + tk[0] : "", tk[1]};
                }
            }
            pc->cat = s;
            pc->tok_off = off;
        } else {
            double *d = own(out, malloc((n * w + 1) * sizeof *d));
            for (size_t r = 0; r < n; r++) {
                size_t src = sel ? sel[r] : r;
                for (size_t e = 0; e < w; e++)
                    d[r * w + e] = c->num[k] && (c->kinds[k] != PREP_NUMERIC_ARRAY || c->widths[k])
                                       ? c->num[k][src * w + e]
                                       : NAN;
            }
            pc->num = d;
        }
    }
    out->in = (prep_input){n, c->n_cols, out->cols};
    return 0;
}

void ds_input_free(ds_input *in)
{
    for (size_t i = 0; i < in->nowned; i++)
        free(in->owned[i]);
    free(in->owned);
    free(in->cols);
    memset(in, 0, sizeof *in);
}

void ds_cols_free(ds_cols *c)
{
    for (size_t k = 0; k < c->n_cols; k++) {
        free(c->names ? c->names[k] : NULL);
        free(c->num ? c->num[k] : NULL);
        free(c->cat_off ? c->cat_off[k] : NULL);
        free(c->missing ? c->missing[k] : NULL);
        free(c->tok ? c->tok[k] : NULL);
    }
    free(c->tok);
    free(c->n_tok);
    free(c->tok_cap);
    free(c->names);
    free(c->types);
    free(c->kinds);
    free(c->widths);
    free(c->num);
    free(c->cat);
    free(c->cat_off);
    free(c->missing);
    buf_free(&c->str);
    memset(c, 0, sizeof *c);
}

/* ---- reading the export ----------------------------------------------------------- */

/* A double is its shortest round-trip digits in printf("%.17g")'s shape ("1",
 * "0.1", "1e+20"), so integral labels read as before and 0.1 is not
 * "0.10000000000000001". */
bool ds_cell_text(const export_cell *c, buf *tmp, slice *out)
{
    buf_reset(tmp);
    *out = (slice){"", 0};
    switch (c->kind) {
    case EXPORT_CELL_TEXT:
    case EXPORT_CELL_JSON:
        *out = c->s;
        return true;
    case EXPORT_CELL_INT:
        buf_printf(tmp, "%lld", (long long)c->i);
        break;
    case EXPORT_CELL_DOUBLE: {
        char d[STRATA_DTOA_MAX];
        buf_append(tmp, d, strata_dtoa_g(c->d, d));
        break;
    }
    case EXPORT_CELL_BOOL:
        *out = slice_of(c->b ? "true" : "false");
        return true;
    case EXPORT_CELL_VALUE: {
        value_view v;
        if (value_decode(c->s, &v) || v.tag == VT_NULL)
            return false;
        if (v.tag == VT_STRING) {
            *out = v.s;
            return true;
        }
        value_write_json(tmp, c->s);
        if (tmp->n >= 2 && tmp->p[0] == '"') /* BYTES: the base64 text */
            *out = (slice){tmp->p + 1, tmp->n - 2};
        else
            *out = buf_slice(tmp);
        return true;
    }
    default:
        return false;
    }
    *out = buf_slice(tmp);
    return true;
}

char *ds_ref_column(const char *ref)
{
    const char *c = ref ? strchr(ref, ':') : NULL;
    if (!c || c == ref || strchr(c + 1, ':') || !text_valid_name((slice){ref, (size_t)(c - ref)}) ||
        !text_valid_name(slice_of(c + 1)))
        return NULL;
    char *col = NULL;
    if (asprintf(&col, "%.*s__%s", (int)(c - ref), ref, c + 1) < 0)
        return NULL;
    return col;
}

void ds_ref_append(json_t *refs, const char *ref)
{
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r)
        if (json_is_string(r) && !strcmp(json_string_value(r), ref))
            return;
    json_array_append_new(refs, json_string(ref));
}

/* A pass-through column by name, or (all = true) any column. */
static int find_col(const export_schema *s, const char *name, bool all)
{
    size_t n = all ? s->ncols : s->npassthrough;
    for (size_t i = 0; i < n; i++)
        if (s->names[i].n == strlen(name) && memcmp(s->names[i].p, name, s->names[i].n) == 0)
            return (int)i;
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x, y);
}

int dataset_read(export_reader *r, const dataset_request *rq, train_dataset *ds, strata_err *err)
{
    memset(ds, 0, sizeof *ds);
    const export_schema *s = export_reader_schema(r);
    int lc;
    if (strchr(rq->label_column, ':')) {
        char *col = ds_ref_column(rq->label_column);
        lc = col ? find_col(s, col, true) : -1;
        free(col);
        if (lc < (int)s->npassthrough)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "label_column \"%s\" is not a feature the reader reads",
                           rq->label_column);
    } else if ((lc = find_col(s, rq->label_column, false)) < 0) {
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "label_column \"%s\" is not a column of the instances", rq->label_column);
    }
    int kc = rq->key_column ? find_col(s, rq->key_column, false) : -1;
    int tc = rq->time_column ? find_col(s, rq->time_column, false) : -1;
    size_t nf = rq->n_model_features ? rq->n_model_features : s->nfeatures;
    if (nf > s->nfeatures)
        nf = s->nfeatures;
    size_t *xc = calloc(rq->n_extra + 1, sizeof *xc);
    STRATA_ASSERT(xc);
    for (size_t k = 0; k < rq->n_extra; k++) {
        size_t c = 0;
        while (c < s->ncols && !slice_eq_str(s->names[c], rq->extra_columns[k]))
            c++;
        if (c == s->ncols) {
            free(xc);
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "column \"%s\" is not a column of the instances", rq->extra_columns[k]);
        }
        xc[k] = c;
    }
    ds->n_extra = rq->n_extra;
    ds->extra = calloc(rq->n_extra + 1, sizeof *ds->extra);
    STRATA_ASSERT(ds->extra);
    const char **names = calloc(nf + 1, sizeof *names);
    char **nbuf = calloc(nf + 1, sizeof *nbuf);
    STRATA_ASSERT(names && nbuf);
    for (size_t k = 0; k < nf; k++) {
        slice n = s->names[s->feature_col[k]];
        nbuf[k] = strndup(n.p, n.n);
        names[k] = nbuf[k];
    }
    int rc = ds_cols_init(&ds->cols, nf, names, s->feature_type, NULL, err);
    for (size_t k = 0; k < nf; k++)
        free(nbuf[k]);
    free(nbuf);
    free(names);
    if (rc) {
        free(xc);
        return rc;
    }
    size_t cap = 0;
    char **labtext = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    STRATA_ASSERT(md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
    const export_cell *row;
    buf tmp = BUF_INIT;
    while ((rc = export_reader_next(r, &row, err)) == 1) {
        if (rq->cancelled && (ds->rows & 1023) == 0 && rq->cancelled(rq->arg)) {
            rc = err_set(err, STRATA_UNAVAILABLE, "training cancelled");
            break;
        }
        size_t i = ds_cols_add_row(&ds->cols);
        if (i >= cap) {
            cap = cap ? cap * 2 : 256;
            ds->y = realloc(ds->y, cap * sizeof *ds->y);
            ds->keys = realloc(ds->keys, cap * sizeof *ds->keys);
            ds->ts = realloc(ds->ts, cap * sizeof *ds->ts);
            labtext = realloc(labtext, cap * sizeof *labtext);
            STRATA_ASSERT(ds->y && ds->keys && ds->ts && labtext);
            for (size_t k = 0; k < ds->n_extra; k++) {
                ds->extra[k] = realloc(ds->extra[k], cap * sizeof **ds->extra);
                STRATA_ASSERT(ds->extra[k]);
            }
        }
        for (size_t k = 0; k < ds->n_extra; k++) {
            slice t;
            ds->extra[k][i] = ds_cell_text(&row[xc[k]], &tmp, &t) && t.n ? strndup(t.p, t.n) : NULL;
        }
        ds->rows++;
        slice lab;
        if (!ds_cell_text(&row[lc], &tmp, &lab) || lab.n == 0) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "instance row %zu has no label (%s %s)",
                         i + 1, lc < (int)s->npassthrough ? "column" : "feature", rq->label_column);
            labtext[i] = NULL;
            ds->keys[i] = NULL;
            break;
        }
        labtext[i] = strndup(lab.p, lab.n);
        slice key = {"", 0};
        if (kc >= 0)
            ds_cell_text(&row[kc], &tmp, &key);
        ds->keys[i] = strndup(key.p ? key.p : "", key.n);
        ds->ts[i] = INT64_MIN;
        if (tc >= 0) {
            slice t;
            ds_cell_text(&row[tc], &tmp, &t);
            int64_t us;
            if (time_parse_rfc3339(t, &us) == 0)
                ds->ts[i] = us;
        }
        EVP_DigestUpdate(md, labtext[i], strlen(labtext[i]) + 1);
        EVP_DigestUpdate(md, ds->keys[i], strlen(ds->keys[i]) + 1);
        for (size_t k = 0; k < nf; k++) {
            const export_cell *c = &row[s->feature_col[k]];
            slice enc = c->kind == EXPORT_CELL_VALUE ? c->s : (slice){NULL, 0};
            uint8_t len[8];
            for (int b = 0; b < 8; b++)
                len[b] = (uint8_t)((uint64_t)enc.n >> (56 - 8 * b));
            EVP_DigestUpdate(md, len, 8);
            if (enc.n)
                EVP_DigestUpdate(md, enc.p, enc.n);
            if ((rc = ds_cols_set(&ds->cols, i, k, enc, err))) {
                char m[STRATA_ERR_MSG_MAX];
                snprintf(m, sizeof m, "%s", err->message);
                err_clear(err);
                rc = err_set(err, rc, "instance row %zu: %s", i + 1, m);
                break;
            }
        }
        if (rc)
            break;
    }
    buf_free(&tmp);
    free(xc);
    unsigned char dg[32];
    unsigned dn = 0;
    EVP_DigestFinal_ex(md, dg, &dn);
    EVP_MD_CTX_free(md);
    for (unsigned b = 0; b < 32; b++)
        snprintf(ds->sha256 + 2 * b, 3, "%02x", dg[b]);
    size_t n = ds->cols.n_rows;
    if (rc == 0 && n == 0)
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "the instances hold no rows to train on");
    if (rc == 0) {
        if (rq->task == TRAINER_REGRESSION) {
            for (size_t i = 0; i < n && rc == 0; i++) {
                char *end;
                double v = strtod(labtext[i], &end);
                if (*end || end == labtext[i] || !isfinite(v))
                    rc = err_set(err, STRATA_INVALID_ARGUMENT,
                                 "instance row %zu: label \"%.40s\" is not a finite number "
                                 "(regression needs numeric labels)",
                                 i + 1, labtext[i]);
                ds->y[i] = v;
            }
        } else {
            char **sorted = malloc(n * sizeof *sorted);
            STRATA_ASSERT(sorted);
            memcpy(sorted, labtext, n * sizeof *sorted);
            qsort(sorted, n, sizeof *sorted, cmp_str);
            ds->labels = json_array();
            for (size_t i = 0; i < n; i++)
                if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0)
                    json_array_append_new(ds->labels, json_string(sorted[i]));
            size_t K = json_array_size(ds->labels);
            if (K < 2)
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "the label column %s holds a single class (\"%s\") in all %zu rows: "
                             "classification needs at least two",
                             rq->label_column, sorted[0], n);
            else if (rq->task == TRAINER_BINARY && K != 2)
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "binary_classification needs exactly two label values; column %s "
                             "holds %zu (use multiclass_classification)",
                             rq->label_column, K);
            for (size_t i = 0; i < n && rc == 0; i++) {
                size_t lo = 0, hi = K;
                while (lo < hi) {
                    size_t mid = (lo + hi) / 2;
                    int c = strcmp(json_string_value(json_array_get(ds->labels, mid)), labtext[i]);
                    if (c < 0)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                ds->y[i] = (double)lo;
            }
            free(sorted);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(labtext[i]);
    free(labtext);
    return rc < 0 ? rc : 0;
}

void dataset_free(train_dataset *ds)
{
    for (size_t i = 0; i < ds->cols.n_rows; i++) {
        free(ds->keys ? ds->keys[i] : NULL);
        for (size_t k = 0; k < ds->n_extra; k++)
            free(ds->extra[k] ? ds->extra[k][i] : NULL);
    }
    for (size_t k = 0; k < ds->n_extra; k++)
        free(ds->extra ? ds->extra[k] : NULL);
    free(ds->extra);
    ds_cols_free(&ds->cols);
    free(ds->y);
    free(ds->keys);
    free(ds->ts);
    json_decref(ds->labels);
    memset(ds, 0, sizeof *ds);
}

/* ---- splits ----------------------------------------------------------------------- */

int split_spec_parse(const json_t *j, split_spec *out, strata_err *err)
{
    *out = (split_spec){
        .method = SPLIT_HASH, .eval_fraction = 0.2, .seed = 1, .split_time = INT64_MIN};
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_object(j))
        return err_set(err, STRATA_INVALID_ARGUMENT, "split must be an object");
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)j, key, v) {
        if (strcmp(key, "method") == 0) {
            const char *m = json_string_value(v);
            if (m && strcmp(m, "hash") == 0)
                out->method = SPLIT_HASH;
            else if (m && strcmp(m, "random") == 0)
                out->method = SPLIT_RANDOM;
            else if (m && strcmp(m, "time") == 0)
                out->method = SPLIT_TIME;
            else
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "split.method must be hash, random or time");
        } else if (strcmp(key, "eval_fraction") == 0) {
            if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) >= 1)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "split.eval_fraction must be a number in [0, 1)");
            out->eval_fraction = json_number_value(v);
        } else if (strcmp(key, "seed") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "split.seed must be a non-negative integer");
            out->seed = (uint64_t)json_integer_value(v);
        } else if (strcmp(key, "split_time") == 0) {
            const char *t = json_string_value(v);
            if (!t || time_parse_rfc3339(slice_of(t), &out->split_time))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "split.split_time must be an RFC 3339 timestamp");
        } else {
            return err_set(err, STRATA_INVALID_ARGUMENT, "split: unknown field \"%s\"", key);
        }
    }
    if (out->method == SPLIT_TIME && out->split_time == INT64_MIN)
        return err_set(err, STRATA_INVALID_ARGUMENT, "split.method time needs split.split_time");
    return 0;
}

double split_hash_bucket(const char *key, size_t n)
{
    unsigned char dg[32];
    unsigned dn = 0;
    EVP_Digest(key, n, dg, &dn, EVP_sha256(), NULL);
    uint64_t v = 0;
    for (int b = 0; b < 8; b++)
        v = (v << 8) | dg[b];
    return (double)(v >> 11) / 9007199254740992.0; /* top 53 bits / 2^53 */
}

int dataset_split(const train_dataset *ds, const split_spec *sp, size_t **train, size_t *ntrain,
                  size_t **eval, size_t *neval, strata_err *err)
{
    size_t n = ds->cols.n_rows;
    *train = malloc((n + 1) * sizeof **train);
    *eval = malloc((n + 1) * sizeof **eval);
    STRATA_ASSERT(*train && *eval);
    *ntrain = *neval = 0;
    trainer_rng rng;
    trainer_rng_seed(&rng, sp->seed);
    for (size_t i = 0; i < n; i++) {
        bool ev;
        switch (sp->method) {
        case SPLIT_HASH:
            ev = split_hash_bucket(ds->keys[i], strlen(ds->keys[i])) < sp->eval_fraction;
            break;
        case SPLIT_RANDOM:
            ev = trainer_rng_uniform(&rng) < sp->eval_fraction;
            break;
        default:
            if (ds->ts[i] == INT64_MIN)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "instance row %zu: its timestamp is not RFC 3339, which a time "
                               "split needs",
                               i + 1);
            ev = ds->ts[i] >= sp->split_time;
        }
        if (ev)
            (*eval)[(*neval)++] = i;
        else
            (*train)[(*ntrain)++] = i;
    }
    if (*ntrain == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "the split leaves no training rows (%zu rows, all in eval)", n);
    return 0;
}
