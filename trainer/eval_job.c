/*
 * eval_job.c - POST /v1/evaluations: the request, the job that assembles the
 * scored rows and hands them to eval_compute, and the grouping helpers the
 * training job shares (trainer/eval_job.h, docs/evaluation.md "API").
 *
 * The job, by source:
 *   model        export reader over the instances with the model's features
 *                plus the group features (point in time, as training) ->
 *                batches of EVAL_SCORE_BATCH rows filled with ds_cols_set and
 *                scored by loaded_model_score (the batch prediction path);
 *   predictions  the CSV/JSONL readers over a file under --import-dir, or the
 *                inline array; through the export reader instead when a group
 *                is an entity:feature ref (the file is then the instances).
 * Every row lands in an ev_rows: the label and predicted label as codes of
 * one interned class set, the scores, and per group attribute a code of its
 * interned values (a missing value is the value "(missing)"). Memory per row
 * is fixed, and every interned set is capped before it grows.
 *
 * Labels: a model's classes are its own (the sorted training labels; the
 * model scores P(labels[1])), and a label outside them fails the job naming
 * the row. A predictions source's positive class is positive_label when
 * given; else, when every value reads as 0/1 or false/true, the one that
 * reads 1/true; else the later of the two values in byte order (the model
 * convention).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/dtoa.h"
#include "base/jsoncheck.h"
#include "base/log.h"
#include "base/text.h"
#include "ingest/csv_reader.h"
#include "ingest/jsonl_reader.h"
#include "ingest/source.h"
#include "trainer/eval_job.h"
#include "trainer/registry.h"
#include "base/limits.h"

/* ---- interned strings -------------------------------------------------------------------- */

typedef struct ev_dict {
    char **v; /* values in first-seen order (owned) */
    size_t n, cap;
    uint32_t *tab; /* open addressing: index + 1, 0 = empty */
    size_t tcap;
    size_t max;
} ev_dict;

static uint64_t hash_bytes(slice s)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.n; i++)
        h = (h ^ (unsigned char)s.p[i]) * 1099511628211ull;
    return h;
}

/* 1 with *code when s is interned, else 0. */
static int dict_find(const ev_dict *d, slice s, uint32_t *code)
{
    if (!d->tcap)
        return 0;
    for (size_t i = hash_bytes(s) & (d->tcap - 1);; i = (i + 1) & (d->tcap - 1)) {
        uint32_t e = d->tab[i];
        if (!e)
            return 0;
        if (strlen(d->v[e - 1]) == s.n && memcmp(d->v[e - 1], s.p, s.n) == 0) {
            *code = e - 1;
            return 1;
        }
    }
}

/* 0 with *code (interning s), or -1 when d already holds max values. */
static int dict_code(ev_dict *d, slice s, uint32_t *code)
{
    if (dict_find(d, s, code))
        return 0;
    if (d->n >= d->max)
        return -1;
    if (2 * (d->n + 1) > d->tcap) {
        size_t nt = d->tcap ? 2 * d->tcap : 16;
        uint32_t *t = calloc(nt, sizeof *t);
        STRATA_ASSERT(t);
        for (size_t k = 0; k < d->n; k++) {
            size_t i = hash_bytes(slice_of(d->v[k])) & (nt - 1);
            while (t[i])
                i = (i + 1) & (nt - 1);
            t[i] = (uint32_t)k + 1;
        }
        free(d->tab);
        d->tab = t;
        d->tcap = nt;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 8;
        d->v = realloc(d->v, d->cap * sizeof *d->v);
        STRATA_ASSERT(d->v);
    }
    d->v[d->n] = strndup(s.p ? s.p : "", s.n);
    STRATA_ASSERT(d->v[d->n]);
    size_t i = hash_bytes(s) & (d->tcap - 1);
    while (d->tab[i])
        i = (i + 1) & (d->tcap - 1);
    d->tab[i] = (uint32_t)d->n + 1;
    *code = (uint32_t)d->n++;
    return 0;
}

static void dict_free(ev_dict *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i]);
    free(d->v);
    free(d->tab);
    memset(d, 0, sizeof *d);
}

/* ---- group attributes -------------------------------------------------------------------- */

int eval_attr_from_texts(const char *name, char *const *texts, const size_t *rows, size_t n,
                         eval_attr *out, strata_err *err)
{
    ev_dict d = {.max = EVAL_MAX_GROUP_VALUES};
    uint32_t *codes = malloc((n + 1) * sizeof *codes);
    STRATA_ASSERT(codes);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        const char *t = texts[rows ? rows[i] : i];
        if (dict_code(&d, slice_of(t ? t : EVAL_MISSING_VALUE), &codes[i])) {
            dict_free(&d);
            free(codes);
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "group attribute %s has more than %u distinct values", name,
                           EVAL_MAX_GROUP_VALUES);
        }
    }
    out->name = strdup(name);
    STRATA_ASSERT(out->name);
    out->n_values = d.n;
    out->values = (const char *const *)d.v;
    out->codes = codes;
    free(d.tab);
    return 0;
}

void eval_attr_free(eval_attr *a)
{
    for (size_t i = 0; a->values && i < a->n_values; i++)
        free((char *)a->values[i]);
    free((void *)a->values);
    free((void *)a->codes);
    free((char *)a->name);
    memset(a, 0, sizeof *a);
}

/* ---- the grouping part of a request ------------------------------------------------------- */

void eval_groups_free(eval_groups *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->names[i]);
        free(g->column[i]);
        free(g->reference[i]);
    }
    json_decref(g->group_by);
    json_decref(g->reference_groups);
    free(g->thresholds);
    memset(g, 0, sizeof *g);
}

static int parse_bootstrap(const json_t *b, const char *where, eval_options *o, strata_err *err)
{
    static const char *const fields[] = {"replicates", "seed", "confidence", NULL};
    char w[64];
    snprintf(w, sizeof w, "%sbootstrap.", where);
    if (!json_is_object(b))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "%sbootstrap must be an object {\"replicates\",\"seed\",\"confidence\"}",
                       where);
    int rc = json_check_fields(b, fields, w, err);
    if (rc)
        return rc;
    json_t *r = json_object_get(b, "replicates"), *s = json_object_get(b, "seed"),
           *c = json_object_get(b, "confidence");
    if (r) {
        if (!json_is_integer(r) || json_integer_value(r) < 0 ||
            json_integer_value(r) > EVAL_MAX_REPLICATES)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%sreplicates must be an integer from 0 (no intervals) to %u", w,
                           EVAL_MAX_REPLICATES);
        o->replicates = (uint32_t)json_integer_value(r);
    }
    if (s) {
        if (!json_is_integer(s) || json_integer_value(s) < 0)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%sseed must be a non-negative integer", w);
        o->seed = (uint64_t)json_integer_value(s);
    }
    if (c) {
        if (!json_is_number(c) || !(json_number_value(c) > 0 && json_number_value(c) < 1))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%sconfidence must be a number between 0 and 1 (e.g. 0.95)", w);
        o->confidence = json_number_value(c);
    }
    return 0;
}

int eval_groups_parse(const json_t *obj, const char *where, eval_groups *g, strata_err *err)
{
    memset(g, 0, sizeof *g);
    eval_options_init(&g->opts);
    const json_t *gb = json_object_get(obj, "group_by");
    g->group_by = json_array();
    if (gb && !json_is_null(gb)) {
        if (!json_is_array(gb) || json_array_size(gb) > EVAL_MAX_GROUP_BY)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%sgroup_by must be an array of at most %u column names or "
                           "entity:feature refs",
                           where, EVAL_MAX_GROUP_BY);
        size_t i;
        json_t *v;
        json_array_foreach (gb, i, v) {
            const char *s = json_string_value(v);
            if (!s || !*s || strlen(s) != json_string_length(v) || strlen(s) > 256 ||
                strchr(s, '&'))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "%sgroup_by[%zu] must be a non-empty column name or "
                               "entity:feature ref (without '&', at most 256 bytes)",
                               where, i);
            for (size_t k = 0; k < g->n; k++)
                if (!strcmp(g->names[k], s))
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "%sgroup_by names \"%s\" twice", where, s);
            bool feat = strchr(s, ':') != NULL;
            char *col = feat ? ds_ref_column(s) : strdup(s);
            if (!col)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "%sgroup_by[%zu] \"%s\" is not an entity:feature ref", where, i,
                               s);
            g->names[g->n] = strdup(s);
            g->is_feature[g->n] = feat;
            g->column[g->n] = col;
            STRATA_ASSERT(g->names[g->n] && g->column[g->n]);
            g->n++;
            json_array_append(g->group_by, v);
        }
    }
    const json_t *rg = json_object_get(obj, "reference_groups");
    g->reference_groups = json_object();
    if (rg && !json_is_null(rg)) {
        if (!json_is_object(rg))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%sreference_groups must be an object {\"attribute\": \"value\"}",
                           where);
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *)rg, k, v) {
            size_t a = 0;
            while (a < g->n && strcmp(g->names[a], k))
                a++;
            if (a == g->n)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "%sreference_groups names \"%.64s\", which is not in group_by",
                               where, k);
            if (!json_is_string(v))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "%sreference_groups.%s must be a string (the group's value)",
                               where, k);
            g->reference[a] = strdup(json_string_value(v));
            json_object_set(g->reference_groups, k, v);
        }
    }
    const json_t *x = json_object_get(obj, "intersections");
    if (x && !json_is_null(x)) {
        if (!json_is_boolean(x))
            return err_set(err, STRATA_INVALID_ARGUMENT, "%sintersections must be true or false",
                           where);
        g->opts.intersections = json_is_true(x);
    }
    x = json_object_get(obj, "threshold");
    if (x && !json_is_null(x)) {
        if (!json_is_number(x) || !(json_number_value(x) >= 0 && json_number_value(x) <= 1))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%sthreshold must be a number from 0 to 1", where);
        g->opts.threshold = json_number_value(x);
    }
    x = json_object_get(obj, "thresholds");
    if (x && !json_is_null(x)) {
        size_t n = json_array_size(x);
        if (!json_is_array(x) || n == 0 || n > EVAL_MAX_THRESHOLDS)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%sthresholds must be an array of 1 to %u numbers from 0 to 1", where,
                           EVAL_MAX_THRESHOLDS);
        g->thresholds = calloc(n, sizeof *g->thresholds);
        STRATA_ASSERT(g->thresholds);
        for (size_t i = 0; i < n; i++) {
            json_t *t = json_array_get(x, i);
            if (!json_is_number(t) || !(json_number_value(t) >= 0 && json_number_value(t) <= 1))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "%sthresholds[%zu] must be a number from 0 to 1", where, i);
            g->thresholds[i] = json_number_value(t);
        }
        g->opts.thresholds = g->thresholds;
        g->opts.n_thresholds = n;
    }
    x = json_object_get(obj, "min_group_size");
    if (x && !json_is_null(x)) {
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%smin_group_size must be a non-negative integer", where);
        g->opts.min_group_size = (uint64_t)json_integer_value(x);
    }
    x = json_object_get(obj, "bootstrap");
    if (x && !json_is_null(x))
        return parse_bootstrap(x, where, &g->opts, err);
    return 0;
}

/* ---- the request -------------------------------------------------------------------------- */

typedef enum ev_source { SRC_MODEL, SRC_FILE, SRC_INLINE } ev_source;

typedef struct eval_arg {
    train_ctx *tc;
    job_t *job;
    ev_source src;
    eval_groups g;
    eval_task task;
    char *positive;     /* positive_label as text, or NULL */
    char *label_column; /* as given: an instance column or an entity:feature ref */
    char *label_col;    /* the column rows show it in ("entity__feature" for a ref) */
    bool label_feature;
    char *score_column; /* predictions */
    char *pred_column;
    /* model source */
    loaded_model lm;
    bool lm_open;
    /* the export reader's plan (model source, or predictions with feature groups) */
    export_plan *plan;
    json_t *feature_refs; /* the plan's refs */
    /* predictions file or inline rows without the export reader */
    int fd;
    uint64_t size;
    char *uri;          /* file:///… or "inline" */
    bool jsonl;
    json_t *inline_rows;
    char *instances_source; /* for lineage: the path as given or "inline" */
} eval_arg;

static void eval_arg_free(void *p)
{
    eval_arg *a = p;
    if (!a)
        return;
    eval_groups_free(&a->g);
    free(a->positive);
    free(a->label_column);
    free(a->label_col);
    free(a->score_column);
    free(a->pred_column);
    if (a->lm_open)
        loaded_model_close(&a->lm);
    export_plan_free(a->plan);
    json_decref(a->feature_refs);
    if (a->fd >= 0)
        close(a->fd);
    free(a->uri);
    json_decref(a->inline_rows);
    free(a->instances_source);
    free(a);
}

static const char *task_label(eval_task t)
{
    return t == EVAL_BINARY       ? "binary_classification"
           : t == EVAL_MULTICLASS ? "multiclass_classification"
                                  : "regression";
}

static int parse_task(const json_t *j, eval_task *t, strata_err *err)
{
    const char *s = json_string_value(j);
    if (s && !strcmp(s, "binary_classification"))
        *t = EVAL_BINARY;
    else if (s && !strcmp(s, "multiclass_classification"))
        *t = EVAL_MULTICLASS;
    else if (s && !strcmp(s, "regression"))
        *t = EVAL_REGRESSION;
    else
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "task must be binary_classification, multiclass_classification or "
                       "regression");
    return 0;
}

/* A label value given in JSON (string, integer or boolean) as its text. */
static char *label_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        char t[32];
        snprintf(t, sizeof t, "%lld", (long long)json_integer_value(v));
        return strdup(t);
    }
    if (json_is_boolean(v))
        return strdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

static int opt_column(const json_t *obj, const char *key, const char *where, char **out,
                      strata_err *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s%s must be a non-empty column name",
                       where, key);
    *out = strdup(json_string_value(v));
    STRATA_ASSERT(*out);
    return 0;
}

/* label_col and label_feature from label_column: a name with a ':' is an
 * entity:feature ref, read point in time through the export reader. */
static int label_setup(eval_arg *a, const char *where, strata_err *err)
{
    a->label_feature = strchr(a->label_column, ':') != NULL;
    a->label_col = a->label_feature ? ds_ref_column(a->label_column) : strdup(a->label_column);
    if (!a->label_col)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "%slabel_column \"%.200s\" is not an entity:feature ref (an instance "
                       "column name has no ':')",
                       where, a->label_column);
    return 0;
}

/* Every column the rows must show, against the columns a source shows. */
static int check_columns(const eval_arg *a, const json_t *cols, const char *what,
                         strata_err *err)
{
    if (!cols)
        return 0;
    const char *need[3 + EVAL_MAX_GROUP_BY];
    const char *role[3 + EVAL_MAX_GROUP_BY];
    size_t n = 0;
    if (!a->label_feature)
        need[n] = a->label_column, role[n++] = "label_column";
    if (a->score_column)
        need[n] = a->score_column, role[n++] = "score_column";
    if (a->pred_column)
        need[n] = a->pred_column, role[n++] = "prediction_column";
    for (size_t g = 0; g < a->g.n; g++)
        if (!a->g.is_feature[g])
            need[n] = a->g.names[g], role[n++] = "group_by";
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        size_t k;
        json_t *c;
        json_array_foreach (cols, k, c)
            found |= !strcmp(json_string_value(c) ? json_string_value(c) : "", need[i]);
        if (!found)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%s \"%s\" is not a column of the %s", role[i], need[i], what);
    }
    return 0;
}

/* The export plan over `instances` with `refs` as features. */
static int make_plan(eval_arg *a, const json_t *body, const json_t *instances, json_t *refs,
                     strata_err *err)
{
    json_t *es = json_object();
    static const char *const pass[] = {"timestamp_column", "entity_columns", "as_of",
                                       "time_unit", NULL};
    for (const char *const *f = pass; *f; f++)
        if (json_object_get(body, *f))
            json_object_set(es, *f, json_object_get(body, *f));
    json_object_set(es, "instances", (json_t *)instances);
    json_object_set(es, "features", refs);
    int rc = export_plan_parse(a->tc->exports, EXPORT_HISTORICAL, es, &a->plan, err);
    json_decref(es);
    if (rc == 0)
        a->feature_refs = json_incref(refs);
    return rc;
}

/* The group features not already in refs, appended to it. */
static void add_group_refs(const eval_arg *a, json_t *refs)
{
    for (size_t g = 0; g < a->g.n; g++)
        if (a->g.is_feature[g])
            ds_ref_append(refs, a->g.names[g]);
}

static int submit_model(eval_arg *a, const json_t *body, const json_t *task_j, strata_err *err)
{
    int64_t ver = 0;
    const char *alias = NULL;
    const char *model = json_string_value(json_object_get(body, "model"));
    int rc;
    if (!model)
        return err_set(err, STRATA_INVALID_ARGUMENT, "field \"model\" must be a model name");
    if ((rc = model_name_check(model, err)) || (rc = model_version_parse(body, &ver, &alias, err)))
        return rc;
    if ((rc = opt_column(body, "label_column", "", &a->label_column, err)))
        return rc;
    if (!a->label_column)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "field \"label_column\" (an instance column or an entity:feature ref) is "
                       "required");
    if ((rc = label_setup(a, "", err)))
        return rc;
    if (!json_object_get(body, "instances"))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "a model evaluation needs \"instances\" (as in exports and trainings)");
    if ((rc = loaded_model_open(a->tc->store, model, ver, alias, &a->lm, err)))
        return rc;
    a->lm_open = true;
    a->src = SRC_MODEL;
    a->task = a->lm.task == TRAINER_BINARY       ? EVAL_BINARY
              : a->lm.task == TRAINER_MULTICLASS ? EVAL_MULTICLASS
                                                 : EVAL_REGRESSION;
    if (task_j) {
        eval_task t;
        if ((rc = parse_task(task_j, &t, err)))
            return rc;
        if (t != a->task)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "task %s does not match model %s, a %s model", task_label(t), model,
                           task_label(a->task));
    }
    json_t *labels = json_object_get(a->lm.doc, "labels");
    if (a->positive) {
        if (a->task != EVAL_BINARY)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "positive_label applies to binary classification only");
        bool found = false;
        size_t i;
        json_t *l;
        json_array_foreach (labels, i, l)
            found |= !strcmp(json_string_value(l), a->positive);
        if (!found)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "positive_label \"%.64s\" is not one of model %s's classes", a->positive,
                           model);
    } else if (a->task == EVAL_BINARY) {
        a->positive = strdup(json_string_value(json_array_get(labels, 1)));
    }
    json_t *refs = json_deep_copy(json_object_get(a->lm.doc, "features"));
    add_group_refs(a, refs);
    if (a->label_feature)
        ds_ref_append(refs, a->label_column);
    rc = make_plan(a, body, json_object_get(body, "instances"), refs, err);
    json_decref(refs);
    if (rc)
        return rc;
    const json_t *in = json_object_get(body, "instances");
    const char *path = json_string_value(json_object_get(in, "path"));
    a->instances_source = strdup(path ? path : "inline");
    return check_columns(a, export_plan_columns(a->plan), "instances", err);
}

/* The columns of a CSV header or of the first JSONL object of the open file. */
static int file_columns(eval_arg *a, json_t **cols, strata_err *err)
{
    int fd = dup(a->fd);
    if (fd < 0)
        return err_set(err, STRATA_INTERNAL, "cannot duplicate a descriptor: %s",
                       strerror(errno));
    if (lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        return err_set(err, STRATA_IO, "cannot read the predictions file: %s", strerror(errno));
    }
    ingest_source *src = ingest_source_fd(fd, a->size);
    int rc = 0;
    *cols = json_array();
    if (!a->jsonl) {
        csv_reader *cr = NULL;
        if ((rc = csv_reader_open(src, NULL, &cr, err)) == 0)
            for (size_t i = 0; i < csv_reader_ncols(cr); i++) {
                slice c = csv_reader_column(cr, i);
                json_array_append_new(*cols, json_stringn(c.p, c.n));
            }
        else
            err_prefix(err, "predictions");
        csv_reader_close(cr);
    } else {
        jsonl_reader *jr = jsonl_reader_open(src, 0);
        jsonl_row row;
        rc = jsonl_reader_next(jr, &row, err);
        if (rc == 1 && row.error)
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "predictions line %llu: %s",
                         (unsigned long long)row.line, row.error);
        else if (rc == 1) {
            const char *k;
            json_t *v;
            json_object_foreach (row.obj, k, v)
                json_array_append_new(*cols, json_string(k));
            rc = 0;
        } else if (rc == 0) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "the predictions file holds no rows");
        }
        jsonl_reader_close(jr);
    }
    ingest_source_close(src);
    return rc;
}

static int submit_predictions(eval_arg *a, const json_t *body, const json_t *task_j,
                              strata_err *err)
{
    static const char *const fields[] = {"path",         "inline",            "format",
                                         "label_column", "score_column", "prediction_column",
                                         NULL};
    const json_t *p = json_object_get(body, "predictions");
    int rc;
    if (!json_is_object(p))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "predictions must be an object {\"path\"|\"inline\", \"label_column\", "
                       "\"score_column\"|\"prediction_column\"}");
    if ((rc = json_check_fields(p, fields, "predictions.", err)))
        return rc;
    static const char *const model_only[] = {"model", "version", "alias", "instances", NULL};
    for (const char *const *f = model_only; *f; f++)
        if (json_object_get(body, *f))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "give \"predictions\" or a \"model\" with \"instances\", not both "
                           "(\"%s\" was given)",
                           *f);
    if ((rc = opt_column(p, "label_column", "predictions.", &a->label_column, err)) ||
        (!a->label_column &&
         (rc = opt_column(body, "label_column", "", &a->label_column, err))) ||
        (rc = opt_column(p, "score_column", "predictions.", &a->score_column, err)) ||
        (rc = opt_column(p, "prediction_column", "predictions.", &a->pred_column, err)))
        return rc;
    if (!a->label_column)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "predictions.label_column (the column of true labels) is required");
    if ((rc = label_setup(a, "predictions.", err)))
        return rc;
    a->task = EVAL_BINARY;
    if (task_j && (rc = parse_task(task_j, &a->task, err)))
        return rc;
    if (!a->score_column && !a->pred_column)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "predictions needs score_column (a probability or prediction) and/or "
                       "prediction_column (a predicted label)");
    if (a->task == EVAL_MULTICLASS && (a->score_column || !a->pred_column))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "a multiclass evaluation of predictions takes prediction_column (the "
                       "predicted class), not score_column");
    if (a->task == EVAL_REGRESSION && a->score_column && a->pred_column)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "a regression takes one column of predictions: score_column or "
                       "prediction_column");
    if (a->task == EVAL_REGRESSION && !a->score_column) {
        a->score_column = a->pred_column;
        a->pred_column = NULL;
    }
    if (a->positive && a->task != EVAL_BINARY)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "positive_label applies to binary classification only");
    const json_t *path = json_object_get(p, "path"), *inl = json_object_get(p, "inline");
    if ((path != NULL) == (inl != NULL))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "predictions must hold exactly one of \"path\" and \"inline\"");
    const char *fmt = json_string_value(json_object_get(p, "format"));
    if (json_object_get(p, "format") &&
        (!fmt || (strcmp(fmt, "csv") && strcmp(fmt, "jsonl"))))
        return err_set(err, STRATA_INVALID_ARGUMENT, "predictions.format must be csv or jsonl");
    if (inl) {
        if (fmt)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "predictions.format applies to a path; inline is an array of row "
                           "objects");
        if (!json_is_array(inl))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "predictions.inline must be an array of row objects");
        uint32_t max_rows = a->tc->max_inline_eval_rows ? a->tc->max_inline_eval_rows
                                                        : LIMIT_DEFAULT_MAX_INLINE_EVAL_ROWS;
        if (json_array_size(inl) > max_rows)
            return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                           "predictions.inline holds %zu rows, over the limit of %u "
                           "(max_inline_eval_rows, --max-inline-eval-rows); put them in a file "
                           "under --import-dir and "
                           "name it with predictions.path",
                           json_array_size(inl), max_rows);
        if (json_array_size(inl) == 0)
            return err_set(err, STRATA_INVALID_ARGUMENT, "predictions.inline holds no rows");
        json_t *cols = json_object();
        size_t i;
        json_t *r;
        json_array_foreach (inl, i, r) {
            if (!json_is_object(r)) {
                json_decref(cols);
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "predictions.inline[%zu] must be an object", i);
            }
            const char *k;
            json_t *v;
            json_object_foreach (r, k, v) {
                if (json_is_object(v) || json_is_array(v)) {
                    json_decref(cols);
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "predictions.inline[%zu].%.64s must be a string, number, "
                                   "boolean or null",
                                   i, k);
                }
                json_object_set_new(cols, k, json_true());
            }
        }
        json_t *names = json_array();
        const char *k;
        json_t *v;
        json_object_foreach (cols, k, v)
            json_array_append_new(names, json_string(k));
        json_decref(cols);
        a->src = SRC_INLINE;
        a->jsonl = true;
        a->inline_rows = json_incref((json_t *)inl);
        a->uri = strdup("inline");
        a->instances_source = strdup("inline");
        rc = check_columns(a, names, "predictions", err);
        json_decref(names);
        if (rc)
            return rc;
    } else {
        if (!json_is_string(path) || json_string_length(path) == 0)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "predictions.path must be a non-empty string");
        slice ps = {json_string_value(path), json_string_length(path)};
        a->jsonl = fmt ? !strcmp(fmt, "jsonl")
                       : (ps.n >= 6 && !memcmp(ps.p + ps.n - 6, ".jsonl", 6)) ||
                             (ps.n >= 7 && !memcmp(ps.p + ps.n - 7, ".ndjson", 7));
        if ((rc = ingest_source_open_path(export_ctx_import_dir(a->tc->exports), ps,
                                          "predictions", "prediction files", &a->fd, &a->size,
                                          &a->uri, err)))
            return rc;
        a->src = SRC_FILE;
        a->instances_source = strdup(a->uri);
        json_t *cols = NULL;
        rc = file_columns(a, &cols, err);
        if (rc == 0)
            rc = check_columns(a, cols, "predictions file", err);
        json_decref(cols);
        if (rc)
            return rc;
    }
    /* Group and label features: read point in time with the predictions as
     * the instances. */
    bool feats = a->label_feature;
    for (size_t g = 0; g < a->g.n; g++)
        feats |= a->g.is_feature[g];
    static const char *const pit[] = {"timestamp_column", "entity_columns", "as_of", "time_unit",
                                      NULL};
    if (!feats) {
        for (const char *const *f = pit; *f; f++)
            if (json_object_get(body, *f))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "\"%s\" applies to a model's instances or to entity:feature "
                               "group_by or label_column; this evaluation reads none",
                               *f);
        return 0;
    }
    json_t *inst = NULL;
    if (inl) {
        /* The export reader takes instances as JSONL text. */
        buf text = BUF_INIT;
        size_t i;
        json_t *r;
        json_array_foreach (inl, i, r) {
            char *line = json_dumps(r, JSON_COMPACT);
            STRATA_ASSERT(line);
            buf_append_str(&text, line);
            buf_putc(&text, '\n');
            free(line);
        }
        inst = json_pack("{s:s%,s:s}", "inline", text.p, text.n, "format", "jsonl");
        buf_free(&text);
    } else {
        inst = json_pack("{s:O,s:s}", "path", path, "format", a->jsonl ? "jsonl" : "csv");
    }
    json_t *refs = json_array();
    add_group_refs(a, refs);
    if (a->label_feature)
        ds_ref_append(refs, a->label_column);
    rc = make_plan(a, body, inst, refs, err);
    json_decref(refs);
    json_decref(inst);
    if (rc)
        return err_prefix(err, "reading entity:feature group_by or label over the predictions");
    return 0;
}

static int check_inline(eval_arg *a, strata_err *err);

int eval_submit(train_ctx *tc, const json_t *body, const char *principal, json_t **job_out,
                strata_err *err)
{
    static const char *const fields[] = {
        "model",     "version",        "alias",          "instances",      "timestamp_column",
        "entity_columns", "as_of",     "time_unit",      "label_column",   "predictions",
        "group_by",  "intersections",  "threshold",      "thresholds",     "reference_groups",
        "bootstrap", "min_group_size", "task",           "positive_label", NULL};
    int rc = json_check_fields(body, fields, "", err);
    if (rc)
        return rc;
    eval_arg *a = calloc(1, sizeof *a);
    STRATA_ASSERT(a);
    a->tc = tc;
    a->fd = -1;
    if ((rc = eval_groups_parse(body, "", &a->g, err)))
        goto fail;
    const json_t *pl = json_object_get(body, "positive_label");
    if (pl && !json_is_null(pl) && !(a->positive = label_text(pl))) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "positive_label must be a string, an integer or a boolean");
        goto fail;
    }
    const json_t *task_j = json_object_get(body, "task");
    if (json_is_null(task_j))
        task_j = NULL;
    if (json_object_get(body, "predictions"))
        rc = submit_predictions(a, body, task_j, err);
    else if (json_object_get(body, "model"))
        rc = submit_model(a, body, task_j, err);
    else
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "give a \"model\" with \"instances\" and \"label_column\", or "
                     "\"predictions\" {\"path\"|\"inline\", \"label_column\", \"score_column\"}");
    if (rc == 0 && a->src == SRC_INLINE && !a->plan) /* with a plan, the job reads the store */
        rc = check_inline(a, err);
    if (rc)
        goto fail;
    extern int eval_run(job_t *, void *, json_t **, strata_err *);
    json_t *kept = json_deep_copy(body);
    json_t *kp = json_object_get(kept, "predictions");
    if (json_is_array(json_object_get(kp, "inline"))) {
        json_object_set_new(kp, "inline_rows",
                            json_integer((json_int_t)json_array_size(json_object_get(kp, "inline"))));
        json_object_del(kp, "inline");
    }
    json_t *ki = json_object_get(kept, "instances");
    if (json_is_string(json_object_get(ki, "inline"))) {
        json_object_set_new(ki, "inline_bytes",
                            json_integer((json_int_t)json_string_length(json_object_get(ki, "inline"))));
        json_object_del(ki, "inline");
    }
    job_def d = {.kind = "evaluation",
                 .spec = kept,
                 .principal = principal,
                 .progress_unit = "rows",
                 .run = eval_run,
                 .arg = a,
                 .free_arg = eval_arg_free};
    rc = job_submit(tc->jobs, &d, job_out, err);
    json_decref(kept);
    return rc;
fail:
    eval_arg_free(a);
    return rc;
}

/* ---- the rows ------------------------------------------------------------------------------ */

typedef struct ev_rows {
    size_t n, cap;
    size_t K;        /* scores per row: the model's outputs, 1 for a score column, 0 none */
    double *score;   /* n * K */
    double *ynum;    /* regression labels */
    uint32_t *ylab;  /* classification: label codes in cls */
    uint32_t *plab;  /* predicted label codes (prediction_column) */
    ev_dict cls;     /* class values (model: its labels, in order, fixed) */
    bool cls_fixed;
    size_t nattr;
    ev_dict vals[EVAL_MAX_GROUP_BY];
    uint32_t *codes[EVAL_MAX_GROUP_BY];
    EVP_MD_CTX *md;
} ev_rows;

static void rows_free(ev_rows *r)
{
    free(r->score);
    free(r->ynum);
    free(r->ylab);
    free(r->plab);
    dict_free(&r->cls);
    for (size_t g = 0; g < r->nattr; g++) {
        dict_free(&r->vals[g]);
        free(r->codes[g]);
    }
    EVP_MD_CTX_free(r->md);
    memset(r, 0, sizeof *r);
}

static void hash_cell(ev_rows *r, slice s, bool present)
{
    uint8_t len[9];
    len[0] = present;
    for (int b = 0; b < 8; b++)
        len[1 + b] = (uint8_t)((uint64_t)s.n >> (56 - 8 * b));
    EVP_DigestUpdate(r->md, len, sizeof len);
    if (s.n)
        EVP_DigestUpdate(r->md, s.p, s.n);
}

/* Parse a number cell: 0 with *d, or -1. */
static int parse_number(slice s, double *d)
{
    char tmp[64];
    if (s.n == 0 || s.n >= sizeof tmp)
        return -1;
    memcpy(tmp, s.p, s.n);
    tmp[s.n] = 0;
    char *end;
    errno = 0;
    *d = strtod(tmp, &end);
    return *end || end == tmp || !isfinite(*d) ? -1 : 0;
}

/*
 * Append one row: label (p NULL: missing), the predictions source's score and
 * predicted label cells, and the group values. The model's scores are filled
 * in later (rows_score). `where` names the row in messages ("row 7",
 * "predictions line 8").
 */
static int rows_add(ev_rows *r, eval_task task, slice label, const slice *score, const slice *pred,
                    const slice *groups, const char *where, strata_err *err)
{
    if (r->n >= EVAL_JOB_MAX_ROWS)
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "an evaluation reads at most %u rows", EVAL_JOB_MAX_ROWS);
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->score = realloc(r->score, (r->cap * (r->K ? r->K : 1)) * sizeof *r->score);
        r->ynum = realloc(r->ynum, r->cap * sizeof *r->ynum);
        r->ylab = realloc(r->ylab, r->cap * sizeof *r->ylab);
        r->plab = realloc(r->plab, r->cap * sizeof *r->plab);
        STRATA_ASSERT(r->score && r->ynum && r->ylab && r->plab);
        for (size_t g = 0; g < r->nattr; g++) {
            r->codes[g] = realloc(r->codes[g], r->cap * sizeof *r->codes[g]);
            STRATA_ASSERT(r->codes[g]);
        }
    }
    size_t i = r->n;
    char ex[80];
    if (!label.p || label.n == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s has no label", where);
    hash_cell(r, label, true);
    r->ynum[i] = NAN;
    r->ylab[i] = 0;
    r->plab[i] = 0;
    if (task == EVAL_REGRESSION) {
        if (parse_number(label, &r->ynum[i])) {
            text_excerpt(label, ex, sizeof ex);
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%s: label \"%s\" is not a finite number (a regression needs numeric "
                           "labels)",
                           where, ex);
        }
    } else if (r->cls_fixed ? !dict_find(&r->cls, label, &r->ylab[i])
                            : dict_code(&r->cls, label, &r->ylab[i]) != 0) {
        text_excerpt(label, ex, sizeof ex);
        return r->cls_fixed
                   ? err_set(err, STRATA_INVALID_ARGUMENT,
                             "%s: label \"%s\" is not one of the model's classes", where, ex)
                   : err_set(err, STRATA_INVALID_ARGUMENT,
                             "%s: label \"%s\" makes more than %u distinct classes", where, ex,
                             EVAL_MAX_CLASSES);
    }
    if (score) {
        hash_cell(r, *score, score->p != NULL);
        if (!score->p)
            return err_set(err, STRATA_INVALID_ARGUMENT, "%s has no score", where);
        if (parse_number(*score, &r->score[i])) {
            text_excerpt(*score, ex, sizeof ex);
            return err_set(err, STRATA_INVALID_ARGUMENT, "%s: score \"%s\" is not a finite number",
                           where, ex);
        }
    }
    if (pred) {
        hash_cell(r, *pred, pred->p != NULL);
        if (!pred->p || pred->n == 0)
            return err_set(err, STRATA_INVALID_ARGUMENT, "%s has no predicted label", where);
        if (dict_code(&r->cls, *pred, &r->plab[i])) {
            text_excerpt(*pred, ex, sizeof ex);
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%s: predicted label \"%s\" makes more than %u distinct classes",
                           where, ex, EVAL_MAX_CLASSES);
        }
    }
    for (size_t g = 0; g < r->nattr; g++) {
        bool present = groups[g].p && groups[g].n;
        slice v = present ? groups[g] : slice_of(EVAL_MISSING_VALUE);
        hash_cell(r, groups[g], present);
        if (dict_code(&r->vals[g], v, &r->codes[g][i]))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%s: group_by[%zu] has more than %u distinct values", where, g,
                           EVAL_MAX_GROUP_VALUES);
    }
    r->n++;
    return 0;
}

/* 1 for text reading as 1/true, 0 for 0/false, -1 otherwise. */
static int truth_of(const char *s)
{
    double d;
    if (!strcasecmp(s, "true"))
        return 1;
    if (!strcasecmp(s, "false"))
        return 0;
    if (parse_number(slice_of(s), &d) == 0 && (d == 0 || d == 1))
        return d == 1;
    return -1;
}

static int cmp_strp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* ---- reading ------------------------------------------------------------------------------ */

static bool eval_cancelled(void *arg)
{
    return job_cancelled(((eval_arg *)arg)->job);
}

static void eval_read_progress(void *arg, uint64_t done, uint64_t total)
{
    job_progress(((eval_arg *)arg)->job, done, total);
}

static int eval_compute_progress(void *arg, uint64_t done, uint64_t total)
{
    eval_arg *a = arg;
    job_progress(a->job, done, total);
    return job_cancelled(a->job) ? 1 : 0;
}

static int find_schema_col(const export_schema *s, const char *name)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (slice_eq_str(s->names[i], name))
            return (int)i;
    return -1;
}

/* Score the last `pending` rows with the model (their feature columns in c). */
static int rows_score(eval_arg *a, ev_rows *r, ds_cols *c, size_t pending, strata_err *err)
{
    if (!pending)
        return 0;
    return loaded_model_score(&a->lm, c, r->score + (r->n - pending) * r->K, err);
}

static int read_plan(eval_arg *a, ev_rows *r, strata_err *err)
{
    export_reader *rd = NULL;
    ds_cols cols = {0};
    bool cols_init = false;
    buf tmp[3 + EVAL_MAX_GROUP_BY];
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        tmp[i] = (buf)BUF_INIT;
    size_t pending = 0;
    export_reader_options ro = {
        .cancelled = eval_cancelled, .progress = eval_read_progress, .arg = a};
    int rc = export_reader_open(a->tc->exports, a->plan, &ro, &rd, err);
    if (rc)
        goto out;
    const export_schema *s = export_reader_schema(rd);
    int lc = find_schema_col(s, a->label_col);
    int sc = a->score_column ? find_schema_col(s, a->score_column) : -1;
    int pc = a->pred_column ? find_schema_col(s, a->pred_column) : -1;
    int gc[EVAL_MAX_GROUP_BY];
    for (size_t g = 0; g < a->g.n; g++)
        gc[g] = find_schema_col(s, a->g.column[g]);
    if (lc < 0 || (a->score_column && sc < 0) || (a->pred_column && pc < 0)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "the instances no longer show the columns named in the request");
        goto out;
    }
    for (size_t g = 0; g < a->g.n; g++)
        if (gc[g] < 0) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "group_by \"%s\" is not a column of the instances", a->g.names[g]);
            goto out;
        }
    const export_cell *row;
    char where[64];
    for (;;) {
        int nr = export_reader_next(rd, &row, err);
        if (nr < 0) {
            rc = nr;
            goto out;
        }
        if (nr == 0)
            break;
        snprintf(where, sizeof where, "instance row %zu", r->n + 1);
        slice lab, score, pred, groups[EVAL_MAX_GROUP_BY];
        if (!ds_cell_text(&row[lc], &tmp[0], &lab))
            lab = (slice){NULL, 0};
        if (sc >= 0 && !ds_cell_text(&row[sc], &tmp[1], &score))
            score = (slice){NULL, 0};
        if (pc >= 0 && !ds_cell_text(&row[pc], &tmp[2], &pred))
            pred = (slice){NULL, 0};
        for (size_t g = 0; g < a->g.n; g++)
            if (!ds_cell_text(&row[gc[g]], &tmp[3 + g], &groups[g]))
                groups[g] = (slice){NULL, 0};
        if ((rc = rows_add(r, a->task, lab, sc >= 0 ? &score : NULL, pc >= 0 ? &pred : NULL,
                           groups, where, err)))
            goto out;
        if (a->src != SRC_MODEL)
            continue;
        if (!cols_init) {
            if ((rc = loaded_model_columns(&a->lm, &cols, err)))
                goto out;
            cols_init = true;
        }
        size_t i = ds_cols_add_row(&cols);
        for (size_t f = 0; f < a->lm.nfeatures; f++) {
            const export_cell *c = &row[s->feature_col[f]];
            slice enc = c->kind == EXPORT_CELL_VALUE ? c->s : (slice){NULL, 0};
            if ((rc = ds_cols_set(&cols, i, f, enc, err))) {
                err_prefix(err, "%s", where);
                goto out;
            }
        }
        if (++pending == EVAL_SCORE_BATCH) {
            if ((rc = rows_score(a, r, &cols, pending, err)))
                goto out;
            pending = 0;
            ds_cols_free(&cols);
            cols_init = false;
        }
    }
    rc = rows_score(a, r, &cols, pending, err);
out:
    if (cols_init)
        ds_cols_free(&cols);
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        buf_free(&tmp[i]);
    export_reader_close(rd);
    return rc;
}

/* A JSON cell as text (strings as they are, numbers and booleans as JSON);
 * false for absent or null. */
static bool json_cell(const json_t *v, buf *tmp, slice *out)
{
    buf_reset(tmp);
    if (!v || json_is_null(v))
        return false;
    if (json_is_string(v)) {
        *out = (slice){json_string_value(v), json_string_length(v)};
        return true;
    }
    char d[STRATA_DTOA_MAX];
    if (json_is_integer(v))
        buf_printf(tmp, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) /* as ds_cell_text: 0.1 reads "0.1" */
        buf_append(tmp, d, strata_dtoa_g(json_real_value(v), d));
    else if (json_is_boolean(v))
        buf_append_str(tmp, json_is_true(v) ? "true" : "false");
    else
        return false;
    *out = buf_slice(tmp);
    return true;
}

static int add_json_row(eval_arg *a, ev_rows *r, const json_t *obj, buf *tmp, const char *where,
                        strata_err *err)
{
    slice lab, score, pred, groups[EVAL_MAX_GROUP_BY];
    if (!json_cell(json_object_get(obj, a->label_col), &tmp[0], &lab))
        lab = (slice){NULL, 0};
    if (a->score_column &&
        !json_cell(json_object_get(obj, a->score_column), &tmp[1], &score))
        score = (slice){NULL, 0};
    if (a->pred_column && !json_cell(json_object_get(obj, a->pred_column), &tmp[2], &pred))
        pred = (slice){NULL, 0};
    for (size_t g = 0; g < a->g.n; g++)
        if (!json_cell(json_object_get(obj, a->g.column[g]), &tmp[3 + g], &groups[g]))
            groups[g] = (slice){NULL, 0};
    return rows_add(r, a->task, lab, a->score_column ? &score : NULL,
                    a->pred_column ? &pred : NULL, groups, where, err);
}

static int read_direct(eval_arg *a, ev_rows *r, strata_err *err)
{
    buf tmp[3 + EVAL_MAX_GROUP_BY];
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        tmp[i] = (buf)BUF_INIT;
    char where[64];
    int rc = 0;
    ingest_source *src = NULL;
    csv_reader *cr = NULL;
    jsonl_reader *jr = NULL;
    if (a->src == SRC_INLINE) {
        size_t i;
        json_t *o;
        json_array_foreach (a->inline_rows, i, o) {
            snprintf(where, sizeof where, "predictions.inline[%zu]", i);
            if ((rc = add_json_row(a, r, o, tmp, where, err)))
                break;
            if ((i & 4095) == 4095 && a->job && job_cancelled(a->job)) {
                rc = err_set(err, STRATA_UNAVAILABLE, "evaluation cancelled");
                break;
            }
        }
        goto out;
    }
    int fd = dup(a->fd);
    if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        rc = err_set(err, STRATA_IO, "cannot read %s: %s", a->uri, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    src = ingest_source_fd(fd, a->size);
    uint64_t n = 0;
    if (a->jsonl) {
        jr = jsonl_reader_open(src, 0);
        jsonl_row row;
        while ((rc = jsonl_reader_next(jr, &row, err)) == 1) {
            if (row.error) {
                rc = err_set(err, STRATA_INVALID_ARGUMENT, "predictions line %llu: %s",
                             (unsigned long long)row.line, row.error);
                break;
            }
            snprintf(where, sizeof where, "predictions line %llu", (unsigned long long)row.line);
            if ((rc = add_json_row(a, r, row.obj, tmp, where, err)))
                break;
            if ((++n & 4095) == 0) {
                job_progress(a->job, n, 0);
                if (job_cancelled(a->job)) {
                    rc = err_set(err, STRATA_UNAVAILABLE, "evaluation cancelled");
                    break;
                }
            }
        }
    } else {
        if ((rc = csv_reader_open(src, NULL, &cr, err))) {
            err_prefix(err, "predictions");
            goto out;
        }
        int idx[3 + EVAL_MAX_GROUP_BY];
        const char *names[3 + EVAL_MAX_GROUP_BY] = {a->label_col, a->score_column,
                                                    a->pred_column};
        for (size_t g = 0; g < a->g.n; g++)
            names[3 + g] = a->g.column[g];
        for (size_t k = 0; k < 3 + a->g.n; k++) {
            idx[k] = -1;
            for (size_t c = 0; names[k] && c < csv_reader_ncols(cr); c++)
                if (slice_eq_str(csv_reader_column(cr, c), names[k]))
                    idx[k] = (int)c;
            if (names[k] && idx[k] < 0) {
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "column \"%s\" is no longer in the predictions file's header",
                             names[k]);
                goto out;
            }
        }
        csv_row row;
        while ((rc = csv_reader_next(cr, &row, err)) == 1) {
            if (row.error) {
                rc = err_set(err, STRATA_INVALID_ARGUMENT, "predictions line %llu: %s",
                             (unsigned long long)row.line, row.error);
                break;
            }
            slice cell[3 + EVAL_MAX_GROUP_BY];
            for (size_t k = 0; k < 3 + a->g.n; k++)
                cell[k] = idx[k] >= 0 && (size_t)idx[k] < row.nfields && row.fields[idx[k]].n
                              ? row.fields[idx[k]]
                              : (slice){NULL, 0};
            snprintf(where, sizeof where, "predictions line %llu", (unsigned long long)row.line);
            if ((rc = rows_add(r, a->task, cell[0], a->score_column ? &cell[1] : NULL,
                               a->pred_column ? &cell[2] : NULL, cell + 3, where, err)))
                break;
            if ((++n & 4095) == 0) {
                job_progress(a->job, n, 0);
                if (job_cancelled(a->job)) {
                    rc = err_set(err, STRATA_UNAVAILABLE, "evaluation cancelled");
                    break;
                }
            }
        }
    }
    if (rc > 0)
        rc = 0;
out:
    csv_reader_close(cr);
    jsonl_reader_close(jr);
    ingest_source_close(src);
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        buf_free(&tmp[i]);
    return rc;
}

/* ---- from rows to eval_data ---------------------------------------------------------------- */

typedef struct ev_data {
    eval_data d;
    double *y;
    double *score; /* owned when remapped, else NULL */
    int32_t *pred;
    char **class_names; /* sorted class names (predictions multiclass) */
    size_t nclass;
    eval_attr attrs[EVAL_MAX_GROUP_BY];
    char *positive;
} ev_data;

static void ev_data_free(ev_data *e)
{
    free(e->y);
    free(e->score);
    free(e->pred);
    free(e->class_names);
    for (size_t g = 0; g < EVAL_MAX_GROUP_BY; g++) {
        free((void *)e->attrs[g].values);
        free((char *)e->attrs[g].name);
    }
    free(e->positive);
    memset(e, 0, sizeof *e);
}

static int build_data(eval_arg *a, ev_rows *r, ev_data *e, strata_err *err)
{
    size_t n = r->n;
    memset(e, 0, sizeof *e);
    if (n == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "there are no rows to evaluate");
    e->d.task = a->task;
    e->d.n = n;
    e->y = malloc(n * sizeof *e->y);
    STRATA_ASSERT(e->y);
    e->d.y = e->y;
    e->d.score = r->K ? r->score : NULL;
    for (size_t g = 0; g < r->nattr; g++) {
        /* values borrowed from the dicts; the array and name are ours */
        const char **vals = malloc((r->vals[g].n + 1) * sizeof *vals);
        STRATA_ASSERT(vals);
        for (size_t k = 0; k < r->vals[g].n; k++)
            vals[k] = r->vals[g].v[k];
        e->attrs[g] = (eval_attr){.name = strdup(a->g.names[g]),
                                  .n_values = r->vals[g].n,
                                  .values = vals,
                                  .codes = r->codes[g]};
    }
    e->d.n_attrs = r->nattr;
    e->d.attrs = e->attrs;
    if (a->task == EVAL_REGRESSION) {
        memcpy(e->y, r->ynum, n * sizeof *e->y);
        return 0;
    }
    if (a->task == EVAL_MULTICLASS) {
        if (a->src == SRC_MODEL) {
            for (size_t i = 0; i < n; i++)
                e->y[i] = r->ylab[i];
            e->d.n_classes = r->cls.n;
            e->d.class_names = (const char *const *)r->cls.v;
            return 0;
        }
        /* Predictions: classes in byte order. */
        e->nclass = r->cls.n;
        e->class_names = malloc((e->nclass + 1) * sizeof *e->class_names);
        STRATA_ASSERT(e->class_names);
        memcpy(e->class_names, r->cls.v, e->nclass * sizeof *e->class_names);
        qsort(e->class_names, e->nclass, sizeof *e->class_names, cmp_strp);
        uint32_t *rank = malloc((e->nclass + 1) * sizeof *rank);
        STRATA_ASSERT(rank);
        for (size_t k = 0; k < e->nclass; k++) {
            uint32_t c = 0;
            dict_find(&r->cls, slice_of(e->class_names[k]), &c);
            rank[c] = (uint32_t)k;
        }
        e->pred = malloc(n * sizeof *e->pred);
        STRATA_ASSERT(e->pred);
        for (size_t i = 0; i < n; i++) {
            e->y[i] = rank[r->ylab[i]];
            e->pred[i] = (int32_t)rank[r->plab[i]];
        }
        free(rank);
        e->d.pred = e->pred;
        e->d.n_classes = e->nclass;
        e->d.class_names = (const char *const *)e->class_names;
        return 0;
    }
    /* Binary: which class code is positive. */
    uint32_t pos = UINT32_MAX;
    if (a->positive) {
        if (!dict_find(&r->cls, slice_of(a->positive), &pos) && a->src == SRC_MODEL)
            return err_set(err, STRATA_INTERNAL, "the model's classes lost the positive label");
        e->positive = strdup(a->positive);
    } else {
        bool all_truth = true;
        for (size_t k = 0; k < r->cls.n; k++)
            all_truth &= truth_of(r->cls.v[k]) >= 0;
        if (r->cls.n > 2 && !all_truth)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "the labels (and predicted labels) hold %zu distinct values, not two: "
                           "use task multiclass_classification, or name positive_label",
                           r->cls.n);
        if (all_truth) {
            e->positive = strdup("1 / true");
        } else if (r->cls.n == 2) {
            pos = strcmp(r->cls.v[0], r->cls.v[1]) > 0 ? 0 : 1;
            e->positive = strdup(r->cls.v[pos]);
        } else {
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "the labels hold one value (\"%.64s\") that does not read as 0/1 or "
                           "true/false: name the positive class with positive_label",
                           r->cls.v[0]);
        }
        if (all_truth) {
            /* Every value reads as 0/1 or false/true: positive = those reading 1. */
            e->pred = a->pred_column ? malloc(n * sizeof *e->pred) : NULL;
            for (size_t i = 0; i < n; i++) {
                e->y[i] = truth_of(r->cls.v[r->ylab[i]]);
                if (e->pred)
                    e->pred[i] = truth_of(r->cls.v[r->plab[i]]);
            }
            e->d.pred = e->pred;
            return 0;
        }
    }
    bool flip = a->src == SRC_MODEL && pos == 0;
    if (a->pred_column) {
        e->pred = malloc(n * sizeof *e->pred);
        STRATA_ASSERT(e->pred);
    }
    for (size_t i = 0; i < n; i++) {
        e->y[i] = r->ylab[i] == pos;
        if (e->pred)
            e->pred[i] = r->plab[i] == pos;
    }
    e->d.pred = e->pred;
    if (flip && r->K) {
        e->score = malloc(n * sizeof *e->score);
        STRATA_ASSERT(e->score);
        for (size_t i = 0; i < n; i++)
            e->score[i] = 1.0 - r->score[i];
        e->d.score = e->score;
    }
    return 0;
}

/* ---- the job --------------------------------------------------------------------------------- */

static void rows_init(eval_arg *a, ev_rows *r)
{
    memset(r, 0, sizeof *r);
    r->md = EVP_MD_CTX_new();
    STRATA_ASSERT(r->md && EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) == 1);
    r->cls.max = EVAL_MAX_CLASSES;
    r->nattr = a->g.n;
    for (size_t g = 0; g < r->nattr; g++)
        r->vals[g].max = EVAL_MAX_GROUP_VALUES;
    if (a->src == SRC_MODEL) {
        r->K = a->task == EVAL_REGRESSION ? 1 : trainer_model_outputs(a->lm.m);
        json_t *labels = json_object_get(a->lm.doc, "labels");
        size_t i;
        json_t *l;
        uint32_t c;
        json_array_foreach (labels, i, l)
            dict_code(&r->cls, slice_of(json_string_value(l)), &c);
        r->cls_fixed = a->task != EVAL_REGRESSION;
    } else {
        r->K = a->score_column ? 1 : 0;
    }
}

/* Inline rows are in the request: read them now, so that a bad row is a 400
 * naming it rather than a job that fails later. The same reading and checks
 * as the job's (rows_add, build_data), plus the evaluator's probability range
 * for binary scores; the job reads them again (at most EVAL_MAX_INLINE_ROWS). */
static int check_inline(eval_arg *a, strata_err *err)
{
    ev_rows r;
    ev_data e = {0};
    rows_init(a, &r);
    int rc = read_direct(a, &r, err);
    if (rc == 0)
        rc = build_data(a, &r, &e, err);
    if (rc == 0 && e.d.task == EVAL_BINARY && e.d.score) {
        for (size_t i = 0; i < e.d.n; i++) {
            if (!(e.d.score[i] >= 0.0 && e.d.score[i] <= 1.0)) {
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "predictions.inline[%zu]: score %g is not a probability in [0, 1] "
                             "(a binary task's score_column holds P(positive))",
                             i, e.d.score[i]);
                break;
            }
        }
    }
    ev_data_free(&e);
    rows_free(&r);
    return rc;
}

int eval_run(job_t *j, void *arg, json_t **result, strata_err *err);
int eval_run(job_t *j, void *arg, json_t **result, strata_err *err)
{
    eval_arg *a = arg;
    a->job = j;
    ev_rows r;
    ev_data e = {0};
    json_t *res = NULL;
    rows_init(a, &r);
    int rc = a->plan ? read_plan(a, &r, err) : read_direct(a, &r, err);
    if (rc)
        goto out;
    unsigned char dg[32];
    unsigned dn = 0;
    char sha[65];
    EVP_DigestFinal_ex(r.md, dg, &dn);
    for (unsigned b = 0; b < 32; b++)
        snprintf(sha + 2 * b, 3, "%02x", dg[b]);
    if ((rc = build_data(a, &r, &e, err)))
        goto out;
    eval_options o = a->g.opts;
    const char *refs[EVAL_MAX_GROUP_BY];
    for (size_t g = 0; g < a->g.n; g++)
        refs[g] = a->g.reference[g];
    o.reference = refs;
    o.progress = eval_compute_progress;
    o.progress_arg = a;
    if ((rc = eval_compute(&e.d, &o, &res, err)))
        goto out;
    /* A cancel that came too late to stop the computation still stores nothing. */
    if (job_cancelled(j)) {
        rc = err_set(err, STRATA_UNAVAILABLE, "evaluation cancelled");
        goto out;
    }
    char id[32];
    int64_t exec_id = 0;
    eval_meta m = {.model = a->src == SRC_MODEL ? json_string_value(json_object_get(a->lm.doc, "model"))
                                                : NULL,
                   .version = json_integer_value(json_object_get(a->lm.doc, "version")),
                   .predictions = a->src == SRC_MODEL ? NULL : a->uri,
                   .label_column = a->label_column,
                   .group_by = a->g.group_by,
                   .intersections = a->g.opts.intersections,
                   .reference_groups = a->g.reference_groups,
                   .positive_label = e.positive,
                   .job_id = job_id(j),
                   .dataset_uri = a->instances_source,
                   .dataset_sha256 = sha,
                   .rows = r.n,
                   .feature_refs = a->feature_refs,
                   .split = "evaluation"};
    if ((rc = eval_save(a->tc->store, a->tc->lineage, &m, res, id, sizeof id, &exec_id, err)))
        goto out;
    if (exec_id)
        job_set_execution_id(j, exec_id);
    *result = json_pack("{s:s,s:o,s:O,s:I,s:O}", "evaluation_id", id, "execution_id",
                        exec_id ? json_integer(exec_id) : json_null(), "task",
                        json_object_get(res, "task"), "n", (json_int_t)r.n, "summary",
                        json_object_get(res, "summary") ? json_object_get(res, "summary")
                                                        : json_null());
    job_progress(j, r.n, r.n);
out:
    json_decref(res);
    ev_data_free(&e);
    rows_free(&r);
    return rc;
}
