/*
 * import.c - import specs, their validation, and the import job.
 *
 * NOTES ON THE DESIGN
 *
 * Submit (any thread, usually an HTTP worker) does everything that can refuse
 * the request: it parses the spec, resolves the entity, opens the source (path
 * rules below) and reads the CSV header or the first JSONL object to check the
 * column mapping. That reads at most one row, so the worker never waits for
 * the file. The job keeps the open descriptor (or the inline text) and starts
 * over from the first byte, so the digest covers the whole file.
 *
 * Path rules: the path (relative to the import dir, or absolute) may not hold
 * a ".." component; its realpath must lie inside the import dir's realpath
 * (so symlinks may point around inside but not out); the target must be a
 * regular file, opened with O_NOFOLLOW and re-checked with fstat against the
 * resolved name. A missing file inside the dir is 404; anything that leaves
 * the dir is 403 without saying whether it exists.
 *
 * The job (a pool thread) runs up to three phases:
 *   1. infer: with create_features and columns of unknown type, sample the
 *      first LIMIT_IMPORT_INFER_ROWS rows, infer types (cells.h), rewind;
 *   2. rows: each row becomes either a reject {line, reason} (rejects file,
 *      first 100 in the result) or one write_row in the open batch;
 *   3. commit: skip_row commits a batch every ~LIMIT_IMPORT_BATCH_VALUES
 *      values, fail commits the one batch at the end (import.h). Features to
 *      create are created right before the first commit.
 * Around every skip_row commit the job checkpoints a note saying exactly which
 * lines are committed and which batch is in flight, so a restart after a
 * crash can tell the user what stayed.
 */
#include "ingest/import.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/jsoncheck.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "ingest/cells.h"
#include "ingest/csv_reader.h"
#include "ingest/jsonl_reader.h"
#include "ingest/source.h"
#include "lineage/lineage.h"

#define NOW_SENTINEL INT64_MIN /* "the commit time" in a staged row */
#define INLINE_HELD_MAX(ic) (LIMIT_INLINE_HELD_BODIES * (ic)->max_inline_bytes)
#define PROGRESS_EVERY_ROWS 1024u
/* A row's reject reason: a cell's reason (CELL_WHY_MAX) or a value error
 * (STRATA_ERR_MSG_MAX) with the column and feature in front. */
#define ROW_WHY_MAX (STRATA_ERR_MSG_MAX + 256)

struct import_ctx {
    _Atomic size_t inline_held; /* bytes of inline sources of jobs not yet finished */
    store_t *store;
    job_runner *jobs;
    struct lineage *lineage;
    char *import_dir; /* "" when none */
    char *data_dir;
    size_t max_inline_bytes;
    uint32_t max_inline_rows;
    uint32_t atomic_max_values;
    uint64_t load_min_bytes;
};

/* One feature fed from one column. */
typedef struct col_map {
    char feature[LIMIT_NAME_MAX + 1];
    char *column;        /* owned */
    size_t col;          /* CSV: column index */
    value_type type;     /* VT_NULL until known */
    uint32_t feature_id; /* 0 until resolved */
    bool create;         /* create_features: unknown when submitted */
    infer_state inf;
} col_map;

typedef struct import_plan {
    import_ctx *ic;
    char entity[LIMIT_NAME_MAX + 1];
    uint32_t entity_id;
    bool jsonl, fail_mode, create_features, explicit_columns;
    time_unit unit;
    char *id_col, *event_col, *created_col;
    size_t id_idx, event_idx, created_idx; /* CSV column indexes; SIZE_MAX: none */
    col_map *maps;
    size_t nmaps, capmaps;
    size_t *by_col; /* JSONL: map indexes sorted by column name */
    /* The source. */
    int fd;
    uint64_t size;
    char *inline_data;
    size_t inline_len;
    char *uri; /* file:///... or "inline" */
    /* Lineage context (schedules). */
    char *ctx_type, *ctx_name;
    json_t *ctx_props;
} import_plan;

static void plan_free(void *arg)
{
    import_plan *p = arg;
    if (!p)
        return;
    for (size_t i = 0; i < p->nmaps; i++)
        free(p->maps[i].column);
    free(p->maps);
    free(p->by_col);
    free(p->id_col);
    free(p->event_col);
    free(p->created_col);
    if (p->fd >= 0)
        close(p->fd);
    if (p->inline_data)
        atomic_fetch_sub(&p->ic->inline_held, p->inline_len);
    free(p->inline_data);
    free(p->uri);
    free(p->ctx_type);
    free(p->ctx_name);
    json_decref(p->ctx_props);
    free(p);
}

static col_map *add_map(import_plan *p, const char *feature, slice column)
{
    if (p->nmaps == p->capmaps) {
        size_t cap = p->capmaps ? p->capmaps * 2 : 16;
        col_map *m = realloc(p->maps, cap * sizeof *m);
        STRATA_ASSERT(m != NULL);
        p->maps = m;
        p->capmaps = cap;
    }
    col_map *m = &p->maps[p->nmaps++];
    memset(m, 0, sizeof *m);
    snprintf(m->feature, sizeof m->feature, "%s", feature);
    m->column = slice_dup(column);
    return m;
}

/* ---- context ---------------------------------------------------------------- */

int import_ctx_open(const import_options *opt, import_ctx **out, strata_err *err)
{
    if (!opt->store || !opt->jobs)
        return err_set(err, STRATA_INVALID_ARGUMENT, "imports need a store and a job runner");
    import_ctx *ic = calloc(1, sizeof *ic);
    STRATA_ASSERT(ic != NULL);
    ic->store = opt->store;
    ic->jobs = opt->jobs;
    ic->lineage = opt->lineage;
    ic->import_dir = strdup(opt->import_dir ? opt->import_dir : "");
    /* Absolute, so the rejects_file a result names is usable from anywhere. */
    char real[PATH_MAX];
    const char *dd = opt->data_dir ? opt->data_dir : ".";
    ic->data_dir = strdup(realpath(dd, real) ? real : dd);
    STRATA_ASSERT(ic->import_dir && ic->data_dir);
    ic->max_inline_bytes =
        opt->max_inline_bytes ? opt->max_inline_bytes : LIMIT_DEFAULT_MAX_BODY_BYTES;
    ic->max_inline_rows =
        opt->max_inline_rows ? opt->max_inline_rows : LIMIT_DEFAULT_MAX_INLINE_IMPORT_ROWS;
    ic->atomic_max_values =
        opt->atomic_max_values ? opt->atomic_max_values : LIMIT_DEFAULT_IMPORT_ATOMIC_VALUES;
    ic->load_min_bytes = opt->load_min_bytes;
    *out = ic;
    return 0;
}

void import_ctx_close(import_ctx *ic)
{
    if (!ic)
        return;
    free(ic->import_dir);
    free(ic->data_dir);
    free(ic);
}

/* ---- spec parsing --------------------------------------------------------------- */

/* ---- path rules (ingest/source.h: ingest_source_open_path) ------------------- */

static int open_path(import_ctx *ic, import_plan *p, slice path, strata_err *err)
{
    return ingest_source_open_path(ic->import_dir, path, "source", "imports", &p->fd, &p->size,
                                   &p->uri, err);
}

static int take_inline(import_ctx *ic, import_plan *p, const json_t *v, strata_err *err)
{
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n > ic->max_inline_bytes)
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "source.inline holds %zu bytes, over the limit of %zu (max_body_bytes, "
                       "--max-body-bytes); put the file under --import-dir and import it by path",
                       n, ic->max_inline_bytes);
    uint64_t lines = 0;
    for (const char *q = s; (q = memchr(q, '\n', (size_t)(s + n - q))); q++)
        lines++;
    if (n && s[n - 1] != '\n')
        lines++;
    uint64_t rows = p->jsonl ? lines : (lines ? lines - 1 : 0);
    if (rows > ic->max_inline_rows)
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "source.inline holds %llu lines of rows, over the limit of %u "
                       "(max_inline_import_rows, --max-inline-import-rows); put the file under "
                       "--import-dir and import it by path",
                       (unsigned long long)rows, ic->max_inline_rows);
    /* Queued inline imports hold their text: bound the sum, not only each one. */
    size_t held = atomic_fetch_add(&ic->inline_held, n);
    if (held + n > INLINE_HELD_MAX(ic)) {
        atomic_fetch_sub(&ic->inline_held, n);
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "inline imports waiting to run already hold %zu bytes (at most %zu); try "
                       "again when they have run, or import by path",
                       held, INLINE_HELD_MAX(ic));
    }
    p->inline_data = slice_dup((slice){s, n});
    p->inline_len = n;
    p->size = n;
    p->uri = strdup("inline");
    STRATA_ASSERT(p->uri != NULL);
    return 0;
}

static ingest_source *plan_source(import_plan *p, bool dup_fd)
{
    if (p->fd < 0)
        return ingest_source_mem(p->inline_data, p->inline_len);
    int fd = dup_fd ? dup(p->fd) : p->fd;
    if (fd < 0)
        return NULL;
    if (!dup_fd)
        p->fd = -1;
    return ingest_source_fd(fd, p->size);
}

/* ---- mapping --------------------------------------------------------------------- */

/* Sorted column names with their indexes: lookups and duplicate detection. */
typedef struct name_ix {
    slice name;
    size_t ix;
} name_ix;

static int name_ix_cmp(const void *a, const void *b)
{
    const name_ix *x = a, *y = b;
    int c = slice_cmp(x->name, y->name);
    return c ? c : (x->ix > y->ix) - (x->ix < y->ix);
}

static const name_ix *find_name(const name_ix *v, size_t n, slice name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = slice_cmp(v[mid].name, name);
        if (c == 0)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool is_special(const import_plan *p, slice col)
{
    return slice_eq_str(col, p->id_col) || (p->event_col && slice_eq_str(col, p->event_col)) ||
           (p->created_col && slice_eq_str(col, p->created_col));
}

/* The id column: given, else <entity>_id, else entity_id, whichever the
 * header has. `has` says whether a name is in the header. */
static int pick_id_column(import_plan *p, slice given, const name_ix *cols, size_t n,
                          const char *what, strata_err *err)
{
    char ex[80];
    if (given.p) {
        if (!find_name(cols, n, given)) {
            text_excerpt(given, ex, sizeof ex);
            return err_set(err, STRATA_INVALID_ARGUMENT, "entity_id_column \"%s\" is not in the %s",
                           ex, what);
        }
        p->id_col = slice_dup(given);
        return 0;
    }
    char def[LIMIT_NAME_MAX + 8];
    snprintf(def, sizeof def, "%s_id", p->entity);
    if (find_name(cols, n, slice_of(def)))
        p->id_col = strdup(def);
    else if (find_name(cols, n, slice_of("entity_id")))
        p->id_col = strdup("entity_id");
    else
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "no entity id column: the %s has neither \"%s\" nor \"entity_id\"; name "
                       "the column with entity_id_column",
                       what, def);
    STRATA_ASSERT(p->id_col != NULL);
    return 0;
}

static int pick_time_column(char **dst, slice given, const char *field, const name_ix *cols,
                            size_t n, const char *what, strata_err *err)
{
    if (!given.p)
        return 0;
    if (!find_name(cols, n, given)) {
        char ex[80];
        text_excerpt(given, ex, sizeof ex);
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s \"%s\" is not in the %s", field, ex, what);
    }
    *dst = slice_dup(given);
    return 0;
}

/*
 * Build the mapping against the columns the file shows: the CSV header, or
 * the keys of the first JSONL object. Rules in docs/ingest.md.
 */
static int build_mapping(import_plan *p, const entity_def *e, const json_t *columns,
                         const name_ix *cols, size_t ncols, slice id_given, slice ev_given,
                         slice cr_given, strata_err *err)
{
    int rc;
    const char *what = p->jsonl ? "first line's keys" : "header";
    char ex[80], ex2[80];
    if ((rc = pick_id_column(p, id_given, cols, ncols, what, err)) ||
        (rc = pick_time_column(&p->event_col, ev_given, "event_time_column", cols, ncols, what,
                               err)) ||
        (rc = pick_time_column(&p->created_col, cr_given, "created_time_column", cols, ncols, what,
                               err)))
        return rc;
    if (columns) {
        const char *fname;
        const json_t *cv;
        json_object_foreach ((json_t *)columns, fname, cv) {
            slice col = {json_string_value(cv), json_string_length(cv)};
            text_excerpt(slice_of(fname), ex, sizeof ex);
            text_excerpt(col, ex2, sizeof ex2);
            const feature_def *f = registry_feature(e, slice_of(fname));
            if (!f && !p->create_features)
                return err_set(err, STRATA_NOT_FOUND,
                               "feature \"%s\" not found in entity \"%s\" (set create_features "
                               "to create it)",
                               ex, e->name);
            if (!p->jsonl && !find_name(cols, ncols, col))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "column \"%s\" (mapped to feature \"%s\") is not in the header", ex2,
                               ex);
            col_map *m = add_map(p, fname, col);
            m->type = f ? f->type : VT_NULL;
            m->create = !f;
        }
        return 0;
    }
    if (p->jsonl) {
        /* JSONL rows are sparse: every feature is mapped to its own key. */
        for (size_t i = 0; i < e->nfeatures; i++) {
            slice fname = slice_of(e->features[i]->name);
            if (is_special(p, fname))
                continue;
            col_map *m = add_map(p, e->features[i]->name, fname);
            m->type = e->features[i]->type;
        }
    }
    bool any = false;
    for (size_t i = 0; i < ncols; i++) {
        slice col = cols[i].name;
        if (is_special(p, col))
            continue;
        if (registry_feature(e, col)) {
            any = true;
            if (!p->jsonl) {
                col_map *m = add_map(p, "", col);
                snprintf(m->feature, sizeof m->feature, "%.*s", (int)col.n, col.p);
                m->type = registry_feature(e, col)->type;
            }
            continue;
        }
        if (!p->create_features || col.n == 0)
            continue; /* an unnamed column (a pandas index) is never a feature */
        text_excerpt(col, ex, sizeof ex);
        if (!text_valid_name(col))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "column \"%s\" cannot become a feature: names are [a-z][a-z0-9_]{0,63}; "
                           "map columns explicitly with \"columns\"",
                           ex);
        col_map *m = add_map(p, "", col);
        snprintf(m->feature, sizeof m->feature, "%.*s", (int)col.n, col.p);
        m->create = true;
        any = true;
    }
    if (!any && !p->create_features) {
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "no column of the %s names a feature of entity \"%s\"; map columns with "
                       "\"columns\" or set create_features",
                       what, e->name);
    }
    return 0;
}

/* Column indexes of the mapping against a CSV header (again in the job: the
 * file may have changed since submit). */
static int bind_csv(import_plan *p, const name_ix *cols, size_t ncols, strata_err *err)
{
    const name_ix *x;
    char ex[80];
    if (!(x = find_name(cols, ncols, slice_of(p->id_col))))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "the header no longer has the id column \"%s\" (the file changed?)",
                       p->id_col);
    p->id_idx = x->ix;
    p->event_idx = p->created_idx = SIZE_MAX;
    if (p->event_col) {
        if (!(x = find_name(cols, ncols, slice_of(p->event_col))))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "the header no longer has column \"%s\" (the file changed?)",
                           p->event_col);
        p->event_idx = x->ix;
    }
    if (p->created_col) {
        if (!(x = find_name(cols, ncols, slice_of(p->created_col))))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "the header no longer has column \"%s\" (the file changed?)",
                           p->created_col);
        p->created_idx = x->ix;
    }
    for (size_t i = 0; i < p->nmaps; i++) {
        if (!(x = find_name(cols, ncols, slice_of(p->maps[i].column)))) {
            text_excerpt(slice_of(p->maps[i].column), ex, sizeof ex);
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "the header no longer has column \"%s\" (the file changed?)", ex);
        }
        p->maps[i].col = x->ix;
    }
    return 0;
}

/* The CSV header as sorted names; INVALID_ARGUMENT on a repeated name. */
static int header_index(csv_reader *r, name_ix **out, strata_err *err)
{
    size_t n = csv_reader_ncols(r);
    name_ix *v = calloc(n ? n : 1, sizeof *v);
    STRATA_ASSERT(v != NULL);
    for (size_t i = 0; i < n; i++)
        v[i] = (name_ix){csv_reader_column(r, i), i};
    qsort(v, n, sizeof *v, name_ix_cmp);
    for (size_t i = 1; i < n; i++) {
        if (v[i].name.n && slice_eq(v[i].name, v[i - 1].name)) {
            char ex[80];
            text_excerpt(v[i].name, ex, sizeof ex);
            int rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "the header names column \"%s\" twice (columns %zu and %zu)", ex,
                             v[i - 1].ix + 1, v[i].ix + 1);
            free(v);
            return rc;
        }
    }
    *out = v;
    return 0;
}

static int by_col_cmp(const void *a, const void *b, void *arg)
{
    const import_plan *p = arg;
    return strcmp(p->maps[*(const size_t *)a].column, p->maps[*(const size_t *)b].column);
}

/* JSONL: map indexes sorted by column, for one binary search per key. */
static void index_by_column(import_plan *p)
{
    free(p->by_col);
    p->by_col = calloc(p->nmaps ? p->nmaps : 1, sizeof *p->by_col);
    STRATA_ASSERT(p->by_col != NULL);
    for (size_t i = 0; i < p->nmaps; i++)
        p->by_col[i] = i;
    qsort_r(p->by_col, p->nmaps, sizeof *p->by_col, by_col_cmp, p);
}

/* First index in by_col whose column equals key, or nmaps. */
static size_t lookup_column(const import_plan *p, const char *key)
{
    size_t lo = 0, hi = p->nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(p->maps[p->by_col[mid]].column, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->nmaps && strcmp(p->maps[p->by_col[lo]].column, key) == 0 ? lo : p->nmaps;
}

/* Validate the file's header (CSV) or first object (JSONL) at submit. */
static int check_source(import_plan *p, const entity_def *e, const json_t *columns, slice id_given,
                        slice ev_given, slice cr_given, strata_err *err)
{
    int rc;
    name_ix *cols = NULL;
    size_t ncols = 0;
    csv_reader *cr = NULL;
    jsonl_reader *jr = NULL;
    ingest_source *src = plan_source(p, true);
    if (!src)
        return err_set(err, STRATA_INTERNAL, "cannot duplicate the source descriptor: %s",
                       strerror(errno));
    if (!p->jsonl) {
        if ((rc = csv_reader_open(src, NULL, &cr, err)) || (rc = header_index(cr, &cols, err)))
            goto out;
        ncols = csv_reader_ncols(cr);
    } else {
        jsonl_row row;
        jr = jsonl_reader_open(src, 0);
        rc = jsonl_reader_next(jr, &row, err);
        if (rc < 0)
            goto out;
        if (rc == 0) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "the file is empty: a JSONL import needs at least one object");
            goto out;
        }
        if (row.error) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "line %llu: %s",
                         (unsigned long long)row.line, row.error);
            goto out;
        }
        ncols = json_object_size(row.obj);
        cols = calloc(ncols ? ncols : 1, sizeof *cols);
        STRATA_ASSERT(cols != NULL);
        const char *key;
        json_t *v;
        size_t i = 0;
        json_object_foreach (row.obj, key, v) {
            cols[i] = (name_ix){slice_of(key), i};
            i++;
        }
        qsort(cols, ncols, sizeof *cols, name_ix_cmp);
    }
    rc = build_mapping(p, e, columns, cols, ncols, id_given, ev_given, cr_given, err);
    if (rc == 0 && !p->jsonl)
        rc = bind_csv(p, cols, ncols, err);
out:
    /* The names borrow from the readers: free them first. */
    free(cols);
    csv_reader_close(cr);
    jsonl_reader_close(jr);
    ingest_source_close(src);
    return rc;
}

/* The spec as kept with the job: an inline source is not stored, only its size. */
static json_t *stored_spec(const json_t *spec, const import_plan *p)
{
    json_t *s = json_deep_copy(spec);
    STRATA_ASSERT(s != NULL);
    if (p->inline_data)
        json_object_set_new(s, "source",
                            json_pack("{s:I}", "inline_bytes", (json_int_t)p->inline_len));
    return s;
}

static int import_run(job_t *j, void *arg, json_t **result, strata_err *err);

/* import_submit, or with check_only its checks that need no file (import_check). */
static int submit(import_ctx *ic, const json_t *spec, const import_submit_opts *opts,
                  json_t **job_out, bool check_only, strata_err *err)
{
    static const char *const fields[] = {"entity",
                                         "format",
                                         "source",
                                         "entity_id_column",
                                         "event_time_column",
                                         "created_time_column",
                                         "time_unit",
                                         "columns",
                                         "create_features",
                                         "on_error",
                                         NULL};
    static const char *const source_fields[] = {"path", "inline", NULL};
    int rc;
    const registry_t *reg = NULL;
    json_t *kept = NULL;
    import_plan *p = calloc(1, sizeof *p);
    STRATA_ASSERT(p != NULL);
    p->ic = ic;
    p->fd = -1;
    p->unit = TIME_UNIT_RFC3339;
    p->fail_mode = true;
    char ex[80];

    if (!json_is_object(spec)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "an import spec must be a JSON object");
        goto out;
    }
    if ((rc = json_check_fields(spec, fields, "", err)))
        goto out;
    slice entity, format, id_col, ev_col, cr_col, unit, on_error;
    if ((rc = json_opt_text(spec, "entity", &entity, err)) ||
        (rc = json_opt_text(spec, "format", &format, err)) ||
        (rc = json_opt_text(spec, "entity_id_column", &id_col, err)) ||
        (rc = json_opt_text(spec, "event_time_column", &ev_col, err)) ||
        (rc = json_opt_text(spec, "created_time_column", &cr_col, err)) ||
        (rc = json_opt_text(spec, "time_unit", &unit, err)) ||
        (rc = json_opt_text(spec, "on_error", &on_error, err)))
        goto out;
    if (!entity.p) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "field \"entity\" is required");
        goto out;
    }
    if (!text_valid_name(entity)) {
        text_excerpt(entity, ex, sizeof ex);
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "entity \"%s\" is not a valid name ([a-z][a-z0-9_]{0,63})", ex);
        goto out;
    }
    snprintf(p->entity, sizeof p->entity, "%.*s", (int)entity.n, entity.p);
    if (unit.p && time_unit_parse(unit, &p->unit)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "time_unit must be rfc3339, seconds, millis or micros");
        goto out;
    }
    if (on_error.p) {
        if (slice_eq_str(on_error, "skip_row"))
            p->fail_mode = false;
        else if (!slice_eq_str(on_error, "fail")) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "on_error must be skip_row or fail");
            goto out;
        }
    }
    const json_t *cf = json_object_get(spec, "create_features");
    if (cf && !json_is_null(cf)) {
        if (!json_is_boolean(cf)) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "field \"create_features\" must be true or false");
            goto out;
        }
        p->create_features = json_is_true(cf);
    }
    const json_t *columns = json_object_get(spec, "columns");
    if (columns && json_is_null(columns))
        columns = NULL;
    if (columns) {
        if (!json_is_object(columns) || json_object_size(columns) == 0) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "field \"columns\" must be a non-empty object of \"feature\": "
                         "\"column\"");
            goto out;
        }
        if (json_object_size(columns) > LIMIT_IMPORT_COLUMNS) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "field \"columns\" maps more than %u features", LIMIT_IMPORT_COLUMNS);
            goto out;
        }
        const char *fname;
        const json_t *cv;
        json_object_foreach ((json_t *)columns, fname, cv) {
            text_excerpt(slice_of(fname), ex, sizeof ex);
            if (!text_valid_name(slice_of(fname))) {
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "columns: \"%s\" is not a valid feature name", ex);
                goto out;
            }
            if (!json_is_string(cv) || json_string_length(cv) == 0 ||
                strlen(json_string_value(cv)) != json_string_length(cv)) {
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "columns: the column for feature \"%s\" must be a non-empty string",
                             ex);
                goto out;
            }
        }
        p->explicit_columns = true;
    }
    const json_t *source = json_object_get(spec, "source");
    if (!json_is_object(source)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "field \"source\" is required: {\"path\": \"...\"} or {\"inline\": \"...\"}");
        goto out;
    }
    if ((rc = json_check_fields(source, source_fields, "source.", err)))
        goto out;
    const json_t *spath = json_object_get(source, "path");
    const json_t *sinline = json_object_get(source, "inline");
    if ((spath != NULL) == (sinline != NULL)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "source must hold exactly one of \"path\" and \"inline\"");
        goto out;
    }
    if ((spath && (!json_is_string(spath) || json_string_length(spath) == 0)) ||
        (sinline && !json_is_string(sinline))) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "source.%s must be a %sstring",
                     spath ? "path" : "inline", spath ? "non-empty " : "");
        goto out;
    }
    slice path =
        spath ? (slice){json_string_value(spath), json_string_length(spath)} : (slice){NULL, 0};
    if (format.p) {
        if (slice_eq_str(format, "jsonl"))
            p->jsonl = true;
        else if (!slice_eq_str(format, "csv")) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "format must be csv or jsonl");
            goto out;
        }
    } else {
        p->jsonl = path.p && (slice_ends_with(path, ".jsonl") || slice_ends_with(path, ".ndjson"));
    }

    reg = store_registry_acquire(ic->store);
    const entity_def *e = registry_entity(reg, entity);
    if (!e) {
        rc = err_set(err, STRATA_NOT_FOUND, "entity \"%s\" not found", p->entity);
        goto out;
    }
    if (check_only) {
        rc = spath ? ingest_source_check_path(ic->import_dir, path, "source", "imports", err) : 0;
        goto out;
    }
    if ((rc = spath ? open_path(ic, p, path, err) : take_inline(ic, p, sinline, err)) ||
        (rc = check_source(p, e, columns, id_col, ev_col, cr_col, err)))
        goto out;
    store_registry_release(ic->store, reg);
    reg = NULL;

    if (opts && opts->context_type && opts->context_name) {
        p->ctx_type = strdup(opts->context_type);
        p->ctx_name = strdup(opts->context_name);
        STRATA_ASSERT(p->ctx_type && p->ctx_name);
        if (opts->context_properties)
            p->ctx_props = json_deep_copy(opts->context_properties);
    }
    kept = stored_spec(spec, p);
    job_def def = {.kind = "import",
                   .spec = kept,
                   .principal = opts ? opts->principal : NULL,
                   .progress_unit = "bytes",
                   .progress_total = p->size,
                   .run = import_run,
                   .arg = p,
                   .free_arg = plan_free,
                   .on_done = opts ? opts->on_done : NULL,
                   .on_done_arg = opts ? opts->on_done_arg : NULL};
    p = NULL; /* the runner owns it now, also when submit fails */
    rc = job_submit(ic->jobs, &def, job_out, err);
out:
    if (reg)
        store_registry_release(ic->store, reg);
    json_decref(kept);
    plan_free(p);
    return rc;
}

int import_submit(import_ctx *ic, const json_t *spec, const import_submit_opts *opts,
                  json_t **job_out, strata_err *err)
{
    return submit(ic, spec, opts, job_out, false, err);
}

int import_check(import_ctx *ic, const json_t *spec, strata_err *err)
{
    return submit(ic, spec, NULL, NULL, true, err);
}

/* ---- the job ----------------------------------------------------------------------- */

/* Staged rows: write_rows whose slices and cell pointers are offsets into
 * the buffers below until commit (the buffers move as they grow). */
typedef struct batch {
    write_row *rows;
    size_t *id_off; /* entity id offset in ids, per row */
    size_t *cell0;  /* first cell of each row */
    size_t nrows, caprows;
    write_cell *cells;
    uint32_t *cell_map; /* map index of each cell */
    size_t *cell_off;   /* value offset in enc, per cell */
    size_t ncells, capcells;
    uint64_t first_line, last_line;
    buf enc, ids;
    store_scratch *scratch; /* a loading import's store memory, kept with the batch */
} batch;

typedef struct rejects {
    FILE *f;
    char *path;
    json_t *first; /* the first LIMIT_IMPORT_REJECTS_IN_RESULT */
    uint64_t n;
} rejects;

typedef struct run_state {
    import_plan *p;
    job_t *j;
    ingest_source *src;
    uint64_t t0;
    uint64_t rows_read, rows_imported, values_written;
    uint64_t last_committed_line; /* 0: nothing committed */
    uint64_t last_line;           /* line of the last row read */
    batch b;
    /* A loading import (store_write_ingest): the batch its committer thread
     * is writing while this one reads on (commit). */
    bool load;
    bool in_flight;
    batch inflight;
    store_staged_load *inflight_load; /* inflight's rows, staged: the committer finishes it */
    pthread_t committer;
    int inflight_rc;
    strata_err inflight_err;
    rejects rj;
    json_t *created; /* names of features created */
    bool features_ready;
    char lineage_error[STRATA_ERR_MSG_MAX];
} run_state;

static void batch_free(batch *b)
{
    free(b->rows);
    free(b->id_off);
    free(b->cell0);
    free(b->cells);
    free(b->cell_map);
    free(b->cell_off);
    buf_free(&b->enc);
    buf_free(&b->ids);
    store_scratch_free(b->scratch);
    memset(b, 0, sizeof *b);
}

static void batch_clear(batch *b)
{
    b->nrows = b->ncells = 0;
    b->first_line = b->last_line = 0;
    buf_reset(&b->enc);
    buf_reset(&b->ids);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    STRATA_ASSERT(q != NULL);
    return q;
}

static void batch_row(batch *b, uint64_t line, slice id, int64_t ev, int64_t cr)
{
    if (b->nrows == b->caprows) {
        size_t cap = b->caprows ? b->caprows * 2 : 256;
        b->rows = xrealloc(b->rows, cap * sizeof *b->rows);
        b->id_off = xrealloc(b->id_off, cap * sizeof *b->id_off);
        b->cell0 = xrealloc(b->cell0, cap * sizeof *b->cell0);
        b->caprows = cap;
    }
    b->rows[b->nrows] = (write_row){{NULL, id.n}, ev, cr, 0, NULL};
    b->id_off[b->nrows] = b->ids.n;
    b->cell0[b->nrows] = b->ncells;
    buf_append_slice(&b->ids, id);
    b->nrows++;
    if (!b->first_line)
        b->first_line = line;
    b->last_line = line;
}

/* Record the value the caller just encoded at enc[enc_start..] as a cell. */
static void batch_cell(batch *b, size_t map_ix, size_t enc_start)
{
    if (b->ncells == b->capcells) {
        size_t cap = b->capcells ? b->capcells * 2 : 1024;
        b->cells = xrealloc(b->cells, cap * sizeof *b->cells);
        b->cell_map = xrealloc(b->cell_map, cap * sizeof *b->cell_map);
        b->cell_off = xrealloc(b->cell_off, cap * sizeof *b->cell_off);
        b->capcells = cap;
    }
    b->cells[b->ncells] = (write_cell){0, {NULL, b->enc.n - enc_start}};
    b->cell_map[b->ncells] = (uint32_t)map_ix;
    b->cell_off[b->ncells] = enc_start;
    b->ncells++;
    b->rows[b->nrows - 1].ncells++;
}

/* Drop the last row (it turned out bad). */
static void batch_unrow(batch *b, size_t enc_mark, uint64_t prev_last)
{
    b->nrows--;
    b->ids.n = b->id_off[b->nrows];
    b->ncells = b->cell0[b->nrows];
    b->enc.n = enc_mark;
    b->last_line = prev_last;
    if (b->nrows == 0)
        b->first_line = b->last_line = 0;
}

/* ---- rejects ----------------------------------------------------------------------- */

static int reject(run_state *rs, uint64_t line, const char *reason, strata_err *err)
{
    rejects *rj = &rs->rj;
    rj->n++;
    if (json_array_size(rj->first) < LIMIT_IMPORT_REJECTS_IN_RESULT)
        json_array_append_new(rj->first,
                              json_pack("{s:I,s:s}", "line", (json_int_t)line, "reason", reason));
    if (!rj->f) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/jobs", rs->p->ic->data_dir);
        if (mkdir(dir, 0750) && errno != EEXIST)
            return err_set(err, STRATA_IO, "cannot create %s for the rejects file: %s", dir,
                           strerror(errno));
        size_t n = strlen(dir) + 64;
        rj->path = malloc(n);
        STRATA_ASSERT(rj->path != NULL);
        snprintf(rj->path, n, "%s/%s.rejects.jsonl", dir, job_id(rs->j));
        if (!(rj->f = fopen(rj->path, "w")))
            return err_set(err, STRATA_IO, "cannot write the rejects file %s: %s", rj->path,
                           strerror(errno));
    }
    json_t *rec = json_pack("{s:I,s:s}", "line", (json_int_t)line, "reason", reason);
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    STRATA_ASSERT(text != NULL);
    int bad_write = fputs(text, rj->f) == EOF || fputc('\n', rj->f) == EOF;
    free(text);
    if (bad_write)
        return err_set(err, STRATA_IO, "writing the rejects file %s: %s", rj->path,
                       strerror(errno));
    return 0;
}

/* ---- result ------------------------------------------------------------------------ */

static json_t *result_json(run_state *rs)
{
    char sha[65];
    ingest_source_sha256(rs->src, sha);
    json_t *r = json_pack("{s:I,s:I,s:I,s:I,s:O,s:s?,s:s,s:I,s:I,s:s,s:s,s:O}", "rows_read",
                          (json_int_t)rs->rows_read, "rows_imported", (json_int_t)rs->rows_imported,
                          "rows_rejected", (json_int_t)rs->rj.n, "values_written",
                          (json_int_t)rs->values_written, "rejects", rs->rj.first, "rejects_file",
                          rs->rj.path, "source_sha256", sha, "source_bytes",
                          (json_int_t)ingest_source_bytes_read(rs->src), "duration_ms",
                          (json_int_t)((time_mono_ns() - rs->t0) / 1000000u), "entity",
                          rs->p->entity, "source_uri", rs->p->uri, "features_created", rs->created);
    STRATA_ASSERT(r != NULL);
    if (rs->lineage_error[0])
        json_object_set_new(r, "lineage_error", json_string(rs->lineage_error));
    return r;
}

/* "the good rows up to line 500 (480 rows, 960 values) were committed and stay" */
static void committed_clause(const run_state *rs, char *out, size_t cap)
{
    if (!rs->last_committed_line)
        snprintf(out, cap, "nothing was committed");
    else
        snprintf(out, cap,
                 "the good rows up to line %llu (%llu rows, %llu values) were committed and stay",
                 (unsigned long long)rs->last_committed_line, (unsigned long long)rs->rows_imported,
                 (unsigned long long)rs->values_written);
}

/* ---- features and commits ----------------------------------------------------------- */

/* Resolve every mapped feature's id; create the create_features ones that do
 * not exist yet (all or nothing). Called just before the first commit. */
static int ensure_features(run_state *rs, strata_err *err)
{
    import_plan *p = rs->p;
    int rc = 0;
    feature_spec *specs = NULL;
    size_t nspecs = 0;
    const registry_t *reg = NULL;
    if (rs->features_ready)
        return 0;
    specs = calloc(p->nmaps ? p->nmaps : 1, sizeof *specs);
    STRATA_ASSERT(specs != NULL);
    for (int attempt = 0;; attempt++) {
        reg = store_registry_acquire(p->ic->store);
        const entity_def *e = registry_entity_by_id(reg, p->entity_id);
        if (!e) {
            rc = err_set(err, STRATA_NOT_FOUND, "entity \"%s\" was deleted during the import",
                         p->entity);
            goto out;
        }
        nspecs = 0;
        for (size_t i = 0; i < p->nmaps; i++) {
            col_map *m = &p->maps[i];
            const feature_def *f = registry_feature(e, slice_of(m->feature));
            if (f) {
                if (f->type != m->type) {
                    rc = err_set(err, STRATA_FAILED_PRECONDITION,
                                 "feature \"%s\" is %s but this import read its column as %s "
                                 "(it was created or changed meanwhile); run the import again",
                                 m->feature, value_type_name(f->type), value_type_name(m->type));
                    goto out;
                }
                m->feature_id = f->id;
                continue;
            }
            if (!m->create) {
                rc = err_set(err, STRATA_NOT_FOUND, "feature \"%s\" was deleted during the import",
                             m->feature);
                goto out;
            }
            bool dup = false;
            for (size_t k = 0; k < nspecs; k++)
                dup |= slice_eq_str(specs[k].name, m->feature);
            if (!dup)
                specs[nspecs++] = (feature_spec){slice_of(m->feature), m->type, 0,
                                                 SLICE_LIT("created by an import"), NULL};
        }
        store_registry_release(p->ic->store, reg);
        reg = NULL;
        if (nspecs == 0)
            break; /* every id resolved */
        if (attempt == 2) {
            rc = err_set(err, STRATA_UNAVAILABLE,
                         "create_features: the entity's features keep changing; run the import "
                         "again");
            goto out;
        }
        rc = store_features_create(p->ic->store, slice_of(p->entity), specs, nspecs, err);
        if (rc == STRATA_ALREADY_EXISTS) {
            err_clear(err); /* someone created one meanwhile: resolve again */
            rc = 0;
            continue;
        }
        if (rc) {
            err_prefix(err, "create_features");
            goto out;
        }
        for (size_t k = 0; k < nspecs; k++)
            json_array_append_new(rs->created, json_stringn(specs[k].name.p, specs[k].name.n));
    }
    rs->features_ready = true;
out:
    if (reg)
        store_registry_release(p->ic->store, reg);
    free(specs);
    return rc;
}

/* The batch b (lines first..last) has landed: count it and say so. */
static void committed(run_state *rs, const batch *b)
{
    char note[2 * STRATA_ERR_MSG_MAX], done[STRATA_ERR_MSG_MAX];
    rs->rows_imported += b->nrows;
    rs->values_written += b->ncells;
    rs->last_committed_line = b->last_line;
    committed_clause(rs, done, sizeof done);
    if (rs->p->fail_mode)
        /* Said at once: a kill before the job records its end must not leave
         * the "all or none" note, when all is known to have landed. */
        snprintf(note, sizeof note,
                 "the import's one atomic batch was committed: all of its "
                 "%llu rows (%llu values) landed and stay",
                 (unsigned long long)rs->rows_imported, (unsigned long long)rs->values_written);
    else
        snprintf(note, sizeof note, "%s; nothing after line %llu was written", done,
                 (unsigned long long)rs->last_committed_line);
    json_t *partial = result_json(rs);
    job_checkpoint(rs->j, note, partial);
    json_decref(partial);
}

/* The batch b (lines first..last) failed to land. */
static int commit_failed(run_state *rs, const batch *b, int rc, strata_err *err)
{
    char done[STRATA_ERR_MSG_MAX];
    err_prefix(err, "committing lines %llu-%llu", (unsigned long long)b->first_line,
               (unsigned long long)b->last_line);
    committed_clause(rs, done, sizeof done);
    job_checkpoint(rs->j, done, NULL);
    return rc;
}

/* The batch's store memory for loading (made on first use). */
static int batch_scratch(batch *b, strata_err *err)
{
    if (!b->scratch && !(b->scratch = store_scratch_new()))
        return err_set(err, STRATA_NOMEM, "out of memory loading values");
    return 0;
}

static int store_commit(run_state *rs, batch *b, strata_err *err)
{
    import_plan *p = rs->p;
    int rc;
    if (!rs->load)
        return store_write(p->ic->store, p->entity_id, b->rows, b->nrows, err);
    if ((rc = batch_scratch(b, err)))
        return rc;
    return store_write_ingest(p->ic->store, p->entity_id, b->rows, b->nrows, b->scratch, err);
}

/* The committer thread of a loading import: one staged batch, then it ends.
 * It touches nothing but the in-flight load and its own result. */
static void finish_inflight(run_state *rs)
{
    rs->inflight_rc = store_load_finish(rs->p->ic->store, rs->inflight_load, &rs->inflight_err);
    rs->inflight_load = NULL;
}

static void *committer_main(void *arg)
{
    pthread_setname_np(pthread_self(), "import-load");
    finish_inflight(arg);
    return NULL;
}

static int account_inflight(run_state *rs, strata_err *err);

/* Wait for the batch in flight, if any, and account for it. */
static int settle(run_state *rs, strata_err *err)
{
    if (!rs->in_flight)
        return 0;
    pthread_join(rs->committer, NULL);
    rs->in_flight = false;
    return account_inflight(rs, err);
}

/* Account for the in-flight batch, finished with rs->inflight_rc. */
static int account_inflight(run_state *rs, strata_err *err)
{
    int rc = rs->inflight_rc;
    if (rc) {
        err_set(err, rc, "%s", rs->inflight_err.message);
        err_clear(&rs->inflight_err);
        return commit_failed(rs, &rs->inflight, rc, err);
    }
    committed(rs, &rs->inflight);
    batch_clear(&rs->inflight);
    return 0;
}

/* Point the open batch's rows and cells into its buffers and give its
 * "now" times their value: it is ready for the store. */
static void seal(run_state *rs, batch *b)
{
    import_plan *p = rs->p;
    int64_t now = time_now_us();
    for (size_t i = 0; i < b->nrows; i++) {
        write_row *r = &b->rows[i];
        r->entity_id.p = b->ids.p + b->id_off[i];
        r->cells = &b->cells[b->cell0[i]];
        if (r->event_time == NOW_SENTINEL)
            r->event_time = now;
        if (r->created_time == NOW_SENTINEL)
            r->created_time = now;
    }
    for (size_t i = 0; i < b->ncells; i++) {
        b->cells[i].feature_id = p->maps[b->cell_map[i]].feature_id;
        b->cells[i].value.p = b->enc.p + b->cell_off[i];
    }
}

/* The job's note while b is being committed: what may have landed. */
static void note_committing(run_state *rs, const batch *b)
{
    char note[2 * STRATA_ERR_MSG_MAX], done[STRATA_ERR_MSG_MAX];
    if (rs->rj.f)
        fflush(rs->rj.f);
    committed_clause(rs, done, sizeof done);
    if (rs->p->fail_mode)
        snprintf(note, sizeof note,
                 "it was committing the whole import as one atomic batch: either all of its "
                 "rows landed or none did");
    else if (!rs->last_committed_line)
        /* "nothing was committed; ... may have landed" read as a contradiction. */
        snprintf(note, sizeof note,
                 "it was committing its first batch, lines %llu-%llu, which landed whole or not "
                 "at all (read an id of it to tell); nothing after line %llu was written",
                 (unsigned long long)b->first_line, (unsigned long long)b->last_line,
                 (unsigned long long)b->last_line);
    else
        snprintf(note, sizeof note,
                 "%s; the next batch, lines %llu-%llu, was being committed and landed whole or "
                 "not at all (read an id of it to tell); nothing after line %llu was written",
                 done, (unsigned long long)b->first_line, (unsigned long long)b->last_line,
                 (unsigned long long)b->last_line);
    json_t *partial = result_json(rs);
    job_checkpoint(rs->j, note, partial);
    json_decref(partial);
}

/*
 * Hand a loading import's batch to a committer thread: its rows are staged
 * here (checks, keys, values: store_load_stage) while the batch before it
 * still finishes on its own thread, then that one is waited for and this one
 * finishes (sort, table files, ingest) on a new thread while this one parses
 * on. One batch is in flight at most, so the job's note still names exactly
 * the lines that may have landed; a staged batch is not visible.
 */
static int hand_off(run_state *rs, strata_err *err)
{
    batch *b = &rs->b;
    import_plan *p = rs->p;
    store_staged_load *sl = NULL;
    int rc;
    if ((rc = batch_scratch(b, err)))
        return rc;
    rc = store_load_stage(p->ic->store, p->entity_id, b->rows, b->nrows, b->scratch, &sl, err);
    if (rc) {
        /* The batch before it is accounted for first: the note says it. */
        strata_err serr = STRATA_ERR_INIT;
        if (settle(rs, &serr)) { /* its failure came first, and is the one told */
            err_clear(err);
            *err = serr;
            return serr.code;
        }
        return commit_failed(rs, b, rc, err);
    }
    if ((rc = settle(rs, err))) {
        store_load_drop(p->ic->store, sl);
        return rc;
    }
    note_committing(rs, b);
    batch t = rs->inflight;
    rs->inflight = *b;
    *b = t;
    rs->inflight_rc = 0;
    rs->inflight_load = sl;
    if (pthread_create(&rs->committer, NULL, committer_main, rs) == 0) {
        rs->in_flight = true;
        return 0;
    }
    /* No thread: finish it here. */
    finish_inflight(rs);
    return account_inflight(rs, err);
}

/*
 * Commit the open batch: as one store_write (store_write_ingest when the
 * import loads), or, for a loading import's batches but its last (last),
 * handed to a committer thread (hand_off): the store's work on the second
 * core beside the parsing.
 */
static int commit(run_state *rs, bool last, strata_err *err)
{
    batch *b = &rs->b;
    int rc;
    bool handoff = rs->load && !last && b->nrows > 0;
    if (!handoff && ((rc = settle(rs, err)) || b->nrows == 0))
        return rc;
    if ((rc = ensure_features(rs, err)))
        return rc;
    seal(rs, b);
    if (handoff)
        return hand_off(rs, err);
    note_committing(rs, b);
    if ((rc = store_commit(rs, b, err)))
        return commit_failed(rs, b, rc, err);
    committed(rs, b);
    batch_clear(b);
    return 0;
}

/* ---- rows ---------------------------------------------------------------------------- */

static int check_id(slice id, const char *col, char *why)
{
    if (text_valid_entity_id(id))
        return 0;
    char ex[48];
    text_excerpt(slice_of(col), ex, sizeof ex);
    snprintf(why, ROW_WHY_MAX,
             "entity id (column \"%s\") must be 1 to %u bytes of UTF-8 without NUL%s", ex,
             LIMIT_ENTITY_ID_MAX, id.n ? "" : "; the cell is empty");
    return -1;
}

/* Encode one CSV row into the batch: 0 staged, 1 rejected (why set). */
static int stage_csv(run_state *rs, const csv_row *row, char *why)
{
    import_plan *p = rs->p;
    batch *b = &rs->b;
    char ex[48];
    int64_t t[2] = {NOW_SENTINEL, NOW_SENTINEL};
    size_t tix[2] = {p->event_idx, p->created_idx};
    const char *tname[2] = {p->event_col, p->created_col};
    slice id = row->fields[p->id_idx];
    if (check_id(id, p->id_col, why))
        return 1;
    for (int k = 0; k < 2; k++) {
        if (tix[k] == SIZE_MAX)
            continue;
        char twhy[CELL_WHY_MAX];
        slice cell = row->fields[tix[k]];
        if (cell.n == 0) {
            text_excerpt(slice_of(tname[k]), ex, sizeof ex);
            snprintf(why, ROW_WHY_MAX, "%s (column \"%s\") is empty",
                     k ? "created time" : "event time", ex);
            return 1;
        }
        if (cell_parse_time(cell, p->unit, &t[k], twhy)) {
            text_excerpt(slice_of(tname[k]), ex, sizeof ex);
            snprintf(why, ROW_WHY_MAX, "%s (column \"%s\"): %s", k ? "created time" : "event time",
                     ex, twhy);
            return 1;
        }
    }
    size_t enc_mark = b->enc.n, cells_mark = b->ncells;
    uint64_t prev_last = b->last_line;
    batch_row(b, row->line, id, t[0], t[1]);
    for (size_t i = 0; i < p->nmaps; i++) {
        col_map *m = &p->maps[i];
        slice cell = row->fields[m->col];
        if (cell.n == 0)
            continue; /* no value for this feature in this row */
        size_t start = b->enc.n;
        char cwhy[CELL_WHY_MAX];
        if (cell_encode_text(m->type, cell, &b->enc, cwhy)) {
            text_excerpt(slice_of(m->column), ex, sizeof ex);
            snprintf(why, ROW_WHY_MAX, "column \"%s\" (feature %s): %s", ex, m->feature, cwhy);
            batch_unrow(b, enc_mark, prev_last);
            return 1;
        }
        batch_cell(b, i, start);
    }
    if (b->ncells == cells_mark) {
        snprintf(why, ROW_WHY_MAX, "no value: every mapped cell of the row is empty");
        batch_unrow(b, enc_mark, prev_last);
        return 1;
    }
    return 0;
}

/* Encode one JSONL object into the batch: 0 staged, 1 rejected (why set). */
static int stage_json(run_state *rs, uint64_t line, json_t *obj, char *why)
{
    import_plan *p = rs->p;
    batch *b = &rs->b;
    char ex[48], idtmp[32];
    int64_t t[2] = {NOW_SENTINEL, NOW_SENTINEL};
    const char *tname[2] = {p->event_col, p->created_col};
    slice id;
    const json_t *jid = json_object_get(obj, p->id_col);
    if (!jid || cell_json_id(jid, idtmp, sizeof idtmp, &id)) {
        text_excerpt(slice_of(p->id_col), ex, sizeof ex);
        snprintf(why, ROW_WHY_MAX, "entity id \"%s\" must be a string (or an integer)%s", ex,
                 jid ? "" : "; the key is missing");
        return 1;
    }
    if (check_id(id, p->id_col, why))
        return 1;
    for (int k = 0; k < 2; k++) {
        if (!tname[k])
            continue;
        const json_t *tv = json_object_get(obj, tname[k]);
        char twhy[CELL_WHY_MAX];
        text_excerpt(slice_of(tname[k]), ex, sizeof ex); /* only on the error paths below */
        if (!tv || json_is_null(tv)) {
            snprintf(why, ROW_WHY_MAX, "%s (key \"%s\") is missing",
                     k ? "created time" : "event time", ex);
            return 1;
        }
        if (json_parse_time(tv, p->unit, &t[k], twhy)) {
            snprintf(why, ROW_WHY_MAX, "%s (key \"%s\"): %s", k ? "created time" : "event time", ex,
                     twhy);
            return 1;
        }
    }
    size_t enc_mark = b->enc.n, cells_mark = b->ncells;
    uint64_t prev_last = b->last_line;
    batch_row(b, line, id, t[0], t[1]);
    const char *key;
    json_t *v;
    strata_err verr = STRATA_ERR_INIT;
    json_object_foreach (obj, key, v) {
        for (size_t k = lookup_column(p, key);
             k < p->nmaps && strcmp(p->maps[p->by_col[k]].column, key) == 0; k++) {
            size_t mi = p->by_col[k];
            col_map *m = &p->maps[mi];
            size_t start = b->enc.n;
            if (value_encode_json(m->type, v, &b->enc, &verr)) {
                text_excerpt(slice_of(key), ex, sizeof ex);
                snprintf(why, ROW_WHY_MAX, "key \"%s\" (feature %s): %s", ex, m->feature,
                         verr.message);
                err_clear(&verr);
                batch_unrow(b, enc_mark, prev_last);
                return 1;
            }
            batch_cell(b, mi, start);
        }
    }
    if (b->ncells == cells_mark) {
        snprintf(why, ROW_WHY_MAX, "no value: the object has no key of a mapped feature");
        batch_unrow(b, enc_mark, prev_last);
        return 1;
    }
    return 0;
}

/* After a staged row: commit when due, or police the atomic limits. */
static int after_row(run_state *rs, uint64_t line, strata_err *err)
{
    import_plan *p = rs->p;
    batch *b = &rs->b;
    if (!p->fail_mode) {
        size_t max_values = rs->load ? LIMIT_IMPORT_LOAD_VALUES : LIMIT_IMPORT_BATCH_VALUES;
        size_t max_bytes = rs->load ? LIMIT_IMPORT_LOAD_BYTES : LIMIT_IMPORT_BATCH_BYTES;
        return b->ncells >= max_values || b->enc.n + b->ids.n >= max_bytes ? commit(rs, false, err)
                                                                           : 0;
    }
    if (b->ncells > p->ic->atomic_max_values || b->enc.n + b->ids.n > LIMIT_IMPORT_ATOMIC_BYTES)
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "line %llu: on_error=fail imports are committed as one atomic batch of at "
                       "most %u values and %zu MiB, and this file holds more; nothing was "
                       "imported. Split the file, raise import_atomic_max_values, or use "
                       "on_error=skip_row (batches commit as they go)",
                       (unsigned long long)line, p->ic->atomic_max_values,
                       LIMIT_IMPORT_ATOMIC_BYTES >> 20);
    return 0;
}

/* A bad row: rejected (skip_row) or the end of the job (fail). */
static int bad_row(run_state *rs, uint64_t line, const char *why, strata_err *err)
{
    int rc = reject(rs, line, why, err);
    if (rc)
        return rc;
    if (rs->p->fail_mode)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "line %llu: %s; nothing was imported (on_error=fail)",
                       (unsigned long long)line, why);
    return 0;
}

static int cancelled(run_state *rs, strata_err *err)
{
    char done[STRATA_ERR_MSG_MAX];
    int rc = settle(rs, err);
    if (rc)
        return rc;
    committed_clause(rs, done, sizeof done);
    if (rs->p->fail_mode || !rs->last_committed_line)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "cancelled at line %llu; nothing was committed",
                       (unsigned long long)rs->last_line);
    return err_set(err, STRATA_INVALID_ARGUMENT,
                   "cancelled at line %llu; %s; nothing after line %llu was written",
                   (unsigned long long)rs->last_line, done,
                   (unsigned long long)rs->last_committed_line);
}

static void tick(run_state *rs)
{
    if (rs->rows_read % PROGRESS_EVERY_ROWS == 0)
        job_progress(rs->j, ingest_source_bytes_read(rs->src), ingest_source_size(rs->src));
}

static int pass_csv(run_state *rs, strata_err *err)
{
    int rc;
    csv_reader *r = NULL;
    name_ix *cols = NULL;
    char why[ROW_WHY_MAX];
    if ((rc = csv_reader_open(rs->src, NULL, &r, err)) || (rc = header_index(r, &cols, err)) ||
        (rc = bind_csv(rs->p, cols, csv_reader_ncols(r), err)))
        goto out;
    csv_row row;
    while ((rc = csv_reader_next(r, &row, err)) == 1) {
        if (job_cancelled(rs->j)) {
            rc = cancelled(rs, err);
            goto out;
        }
        rs->rows_read++;
        rs->last_line = row.line;
        tick(rs);
        if (row.error) {
            if ((rc = bad_row(rs, row.line, row.error, err)))
                goto out;
            continue;
        }
        if (stage_csv(rs, &row, why)) {
            if ((rc = bad_row(rs, row.line, why, err)))
                goto out;
            continue;
        }
        if ((rc = after_row(rs, row.line, err)))
            goto out;
    }
out:
    free(cols);
    csv_reader_close(r);
    return rc;
}

static int pass_jsonl(run_state *rs, strata_err *err)
{
    int rc;
    jsonl_reader *r = jsonl_reader_open(rs->src, 0);
    char why[ROW_WHY_MAX];
    jsonl_row row;
    index_by_column(rs->p);
    while ((rc = jsonl_reader_next(r, &row, err)) == 1) {
        if (job_cancelled(rs->j)) {
            rc = cancelled(rs, err);
            goto out;
        }
        rs->rows_read++;
        rs->last_line = row.line;
        tick(rs);
        if (row.error || stage_json(rs, row.line, row.obj, why)) {
            if ((rc = bad_row(rs, row.line, row.error ? row.error : why, err)))
                goto out;
            continue;
        }
        if ((rc = after_row(rs, row.line, err)))
            goto out;
    }
out:
    jsonl_reader_close(r);
    return rc;
}

/* ---- inference ------------------------------------------------------------------------ */

static bool needs_inference(const import_plan *p)
{
    if (p->jsonl && p->create_features && !p->explicit_columns)
        return true; /* keys beyond the first line may name new features */
    for (size_t i = 0; i < p->nmaps; i++)
        if (p->maps[i].create && p->maps[i].type == VT_NULL)
            return true;
    return false;
}

/* Sample rows; infer the type of every create column; for JSONL with the
 * default mapping, unknown keys of the sample become create columns. */
static int infer_types(run_state *rs, const entity_def *e, strata_err *err)
{
    import_plan *p = rs->p;
    int rc = 0;
    char why[CELL_WHY_MAX];
    for (size_t i = 0; i < p->nmaps; i++)
        infer_init(&p->maps[i].inf, p->jsonl);
    if (!p->jsonl) {
        csv_reader *r = NULL;
        name_ix *cols = NULL;
        csv_row row;
        if ((rc = csv_reader_open(rs->src, NULL, &r, err)) || (rc = header_index(r, &cols, err)) ||
            (rc = bind_csv(p, cols, csv_reader_ncols(r), err))) {
            free(cols);
            csv_reader_close(r);
            return rc;
        }
        for (uint32_t n = 0; n < LIMIT_IMPORT_INFER_ROWS && !job_cancelled(rs->j) &&
                             (rc = csv_reader_next(r, &row, err)) == 1;
             n++) {
            if (row.error)
                continue;
            for (size_t i = 0; i < p->nmaps; i++)
                if (p->maps[i].create && row.fields[p->maps[i].col].n)
                    infer_text(&p->maps[i].inf, row.fields[p->maps[i].col]);
        }
        free(cols);
        csv_reader_close(r);
    } else {
        jsonl_reader *r = jsonl_reader_open(rs->src, 0);
        jsonl_row row;
        int bad_key = 0;
        index_by_column(p);
        for (uint32_t n = 0; n < LIMIT_IMPORT_INFER_ROWS && !job_cancelled(rs->j) &&
                             (rc = jsonl_reader_next(r, &row, err)) == 1;
             n++) {
            if (row.error)
                continue;
            const char *key;
            json_t *v;
            json_object_foreach (row.obj, key, v) {
                if (is_special(p, slice_of(key)))
                    continue;
                size_t k = lookup_column(p, key);
                if (k == p->nmaps) {
                    /* A new key: a feature to create (default mapping only). */
                    if (p->explicit_columns || registry_feature(e, slice_of(key)) || !key[0])
                        continue;
                    if (!text_valid_name(slice_of(key))) {
                        char ex[80];
                        text_excerpt(slice_of(key), ex, sizeof ex);
                        bad_key = err_set(err, STRATA_INVALID_ARGUMENT,
                                          "create_features: key \"%s\" (line %llu) cannot become a "
                                          "feature: names are [a-z][a-z0-9_]{0,63}",
                                          ex, (unsigned long long)row.line);
                        break;
                    }
                    if (p->nmaps >= LIMIT_IMPORT_COLUMNS) {
                        bad_key = err_set(err, STRATA_INVALID_ARGUMENT,
                                          "create_features: more than %u distinct keys",
                                          LIMIT_IMPORT_COLUMNS);
                        break;
                    }
                    col_map *m = add_map(p, key, slice_of(key));
                    m->create = true;
                    infer_init(&m->inf, true);
                    index_by_column(p);
                    k = lookup_column(p, key);
                }
                for (; k < p->nmaps && strcmp(p->maps[p->by_col[k]].column, key) == 0; k++)
                    if (p->maps[p->by_col[k]].create)
                        infer_json(&p->maps[p->by_col[k]].inf, v);
            }
            if (bad_key)
                break;
        }
        jsonl_reader_close(r);
        if (bad_key)
            return bad_key;
    }
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < p->nmaps; i++) {
        col_map *m = &p->maps[i];
        if (!m->create || m->type != VT_NULL)
            continue;
        if (infer_result(&m->inf, &m->type, why))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "create_features: cannot infer a type for \"%s\": %s", m->feature, why);
    }
    return ingest_source_rewind(rs->src, err);
}

/* ---- lineage --------------------------------------------------------------------------- */

/*
 * Record the import in the ML metadata graph: an Import execution (state from
 * the job's outcome) with the SourceFile it read as input (found by content:
 * its name is the file's SHA-256, so re-imports of an unchanged file share
 * it) and, when values landed, a new FeatureSet as output; in the submitter's
 * context (a schedule) when given. A failure is logged and reported in the
 * result; the imported data stays.
 */
static int import_record_lineage(run_state *rs, int outcome, strata_err *err)
{
    import_plan *p = rs->p;
    int rc = 0;
    if (!p->ic->lineage)
        return 0;
    char sha[65], name[80], srcname[96], fs_uri[160];
    ingest_source_sha256(rs->src, sha);
    snprintf(name, sizeof name, "import-%s", job_id(rs->j));
    snprintf(srcname, sizeof srcname, "sha256:%s", sha);
    snprintf(fs_uri, sizeof fs_uri, "strata://entities/%s?import_job=%s", p->entity, job_id(rs->j));
    json_t *features = json_array();
    for (size_t i = 0; i < p->nmaps; i++)
        json_array_append_new(features, json_string(p->maps[i].feature));
    json_t *src_props =
        json_pack("{s:s,s:s,s:I,s:I}", "format", p->jsonl ? "jsonl" : "csv", "sha256", sha, "bytes",
                  (json_int_t)ingest_source_bytes_read(rs->src), "rows", (json_int_t)rs->rows_read);
    json_t *fs_props = json_pack("{s:s,s:O,s:I}", "entity", p->entity, "features", features,
                                 "feature_count", (json_int_t)p->nmaps);
    json_t *ex_props = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "entity", p->entity, "format",
        p->jsonl ? "jsonl" : "csv", "source", p->uri, "job_id", job_id(rs->j), "rows_read",
        (json_int_t)rs->rows_read, "rows_imported", (json_int_t)rs->rows_imported, "rows_rejected",
        (json_int_t)rs->rj.n, "values_written", (json_int_t)rs->values_written);
    STRATA_ASSERT(src_props && fs_props && ex_props);
    lineage_artifact_ref in = {.type = "SourceFile",
                               .name = srcname,
                               .uri = p->uri,
                               .properties = src_props,
                               .path_key = "source"};
    lineage_artifact_ref outa = {
        .type = "FeatureSet", .uri = fs_uri, .properties = fs_props, .path_key = "features"};
    lineage_context_ref ctx = {
        .type = p->ctx_type, .name = p->ctx_name, .properties = p->ctx_props};
    lineage_run run = {.execution_type = "Import",
                       .name = name,
                       .state = outcome == 0           ? "COMPLETE"
                                : job_cancelled(rs->j) ? "CANCELED"
                                                       : "FAILED",
                       .properties = ex_props,
                       .inputs = &in,
                       .ninputs = 1,
                       .outputs = &outa,
                       .noutputs = rs->values_written ? 1 : 0,
                       .contexts = &ctx,
                       .ncontexts = p->ctx_type ? 1 : 0};
    lineage_run_ids ids = {0};
    rc = lineage_record_run(p->ic->lineage, &run, &ids, err);
    if (rc == 0)
        job_set_execution_id(rs->j, ids.execution_id);
    json_decref(features);
    json_decref(src_props);
    json_decref(fs_props);
    json_decref(ex_props);
    return rc;
}

static int import_run(job_t *j, void *arg, json_t **result, strata_err *err)
{
    import_plan *p = arg;
    run_state rs = {.p = p, .j = j, .t0 = time_mono_ns()};
    int rc = 0;
    rs.rj.first = json_array();
    rs.created = json_array();
    rs.src = plan_source(p, false);
    if (!rs.src) {
        rc = err_set(err, STRATA_INTERNAL, "cannot reopen the source: %s", strerror(errno));
        goto out;
    }
    if ((rc = ingest_source_rewind(rs.src, err)))
        goto out;

    /* The registry as it is now: the entity or features may have changed. */
    const registry_t *reg = store_registry_acquire(p->ic->store);
    const entity_def *e = registry_entity(reg, slice_of(p->entity));
    if (!e) {
        store_registry_release(p->ic->store, reg);
        rc = err_set(err, STRATA_NOT_FOUND, "entity \"%s\" was deleted before the import ran",
                     p->entity);
        goto out;
    }
    p->entity_id = e->id;
    for (size_t i = 0; i < p->nmaps; i++) {
        const feature_def *f = registry_feature(e, slice_of(p->maps[i].feature));
        if (f) {
            p->maps[i].type = f->type;
            p->maps[i].create = false;
        } else if (!p->maps[i].create) {
            rc = err_set(err, STRATA_NOT_FOUND, "feature \"%s\" was deleted before the import ran",
                         p->maps[i].feature);
        }
    }
    if (rc == 0 && needs_inference(p))
        rc = infer_types(&rs, e, err);
    store_registry_release(p->ic->store, reg);
    if (rc)
        goto out;

    /* A big source loads its batches as table files (store_write_ingest);
     * a smaller one writes them, with no operand count per written row
     * (store.h store_bulk_begin). */
    rs.load = ingest_source_size(rs.src) >= p->ic->load_min_bytes;
    if (!rs.load)
        store_bulk_begin(p->ic->store, ingest_source_size(rs.src));
    rc = p->jsonl ? pass_jsonl(&rs, err) : pass_csv(&rs, err);
    if (rc == 0 && !job_cancelled(j)) {
        rc = commit(&rs, true, err);
    } else if (rc == 0) {
        rc = cancelled(&rs, err);
    } else {
        /* The error stands; a batch in flight is waited for and counted. */
        strata_err serr = STRATA_ERR_INIT;
        settle(&rs, &serr);
        err_clear(&serr);
    }
    if (!rs.load)
        store_bulk_end(p->ic->store);
    job_progress(j, ingest_source_bytes_read(rs.src), ingest_source_size(rs.src));
    if (rs.rj.f && fflush(rs.rj.f) != 0 && rc == 0)
        rc =
            err_set(err, STRATA_IO, "writing the rejects file %s: %s", rs.rj.path, strerror(errno));
    strata_err lerr = STRATA_ERR_INIT;
    if (import_record_lineage(&rs, rc, &lerr)) {
        log_warn("job %s: recording the import in lineage failed: %s", job_id(j), lerr.message);
        snprintf(rs.lineage_error, sizeof rs.lineage_error, "%s", lerr.message);
    }
    err_clear(&lerr);
out:
    if (rs.src)
        *result = result_json(&rs);
    if (rs.rj.f)
        fclose(rs.rj.f);
    free(rs.rj.path);
    json_decref(rs.rj.first);
    json_decref(rs.created);
    batch_free(&rs.b);
    batch_free(&rs.inflight);
    ingest_source_close(rs.src);
    return rc;
}
