/*
 * export.c - the export context, request plans, and the destination rules.
 *
 * A plan is everything an export needs that can be checked without reading
 * the instance rows: the members of the request, the features against the
 * registry, the instance file (import path rules, ingest/source.h) with its
 * header or first object, and the destination. Parsing runs on an HTTP
 * worker, so it reads at most one row of the instances.
 *
 * Destination rules: the path (relative to the export directory, or
 * absolute) may not hold a ".." component; its directory must exist and its
 * real path must lie inside the export directory's real path (or be it); the
 * name itself must not be a symlink or anything but a regular file, and an
 * existing file is only replaced with destination.overwrite. The job writes
 * "<dir>/.<name>.strata-tmp-<job>" and renames it into place at the end
 * (export_run.c); leftovers of a crashed daemon are swept at open.
 */
#include "ingest/export_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/jsoncheck.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "ingest/csv_reader.h"
#include "ingest/jsonl_reader.h"

#define TMP_MARK ".strata-tmp-"

/* ---- context ----------------------------------------------------------------------- */

static int make_dir(const char *path, const char *what, char **real_out, strata_err *err)
{
    char real[PATH_MAX];
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return err_set(err, STRATA_IO, "cannot create the %s %s: %s", what, path, strerror(errno));
    if (!realpath(path, real))
        return err_set(err, STRATA_IO, "the %s %s is not accessible: %s", what, path,
                       strerror(errno));
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(err, STRATA_IO, "the %s %s is not a directory", what, path);
    *real_out = strdup(real);
    STRATA_ASSERT(*real_out != NULL);
    return 0;
}

/* Temporary destination files left by a daemon that died mid-export. */
static void sweep_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.' || !strstr(e->d_name, TMP_MARK))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            log_info("removed %s/%s, left by an export that did not finish", dir, e->d_name);
    }
    closedir(d);
}

int export_ctx_open(const export_options *opt, export_ctx **out, strata_err *err)
{
    int rc;
    *out = NULL;
    if (!opt->store || !opt->export_dir || !opt->tmp_dir)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "exports need a store, an export directory and a temporary directory");
    export_ctx *x = calloc(1, sizeof *x);
    STRATA_ASSERT(x != NULL);
    x->store = opt->store;
    x->jobs = opt->jobs;
    x->lineage = opt->lineage;
    x->import_dir = strdup(opt->import_dir ? opt->import_dir : "");
    STRATA_ASSERT(x->import_dir != NULL);
    x->memory_bytes =
        opt->memory_bytes ? opt->memory_bytes : (size_t)LIMIT_DEFAULT_EXPORT_MEMORY_MB << 20;
    x->max_inline_bytes =
        opt->max_inline_bytes ? opt->max_inline_bytes : LIMIT_DEFAULT_MAX_BODY_BYTES;
    x->join = opt->join;
    x->scan_group_max = opt->scan_group_max ? opt->scan_group_max : (size_t)1 << 18;
    x->lookup_threads = opt->lookup_threads;
    x->lookup_chunk = opt->lookup_chunk ? opt->lookup_chunk : (size_t)1 << 14;
    if ((rc = make_dir(opt->export_dir, "export directory", &x->export_dir, err)) ||
        (rc = make_dir(opt->tmp_dir, "temporary directory", &x->tmp_dir, err))) {
        export_ctx_close(x);
        return rc;
    }
    sweep_tmp(x->export_dir);
    *out = x;
    return 0;
}

void export_ctx_close(export_ctx *x)
{
    if (!x)
        return;
    free(x->import_dir);
    free(x->export_dir);
    free(x->tmp_dir);
    free(x);
}

const char *export_ctx_dir(const export_ctx *x)
{
    return x->export_dir;
}

const char *export_ctx_import_dir(const export_ctx *x)
{
    return x->import_dir;
}

size_t export_ctx_max_inline_bytes(const export_ctx *x)
{
    return x->max_inline_bytes;
}

/* ---- plans: small helpers ------------------------------------------------------------ */

static int opt_time(const json_t *obj, const char *key, int64_t *out, bool *given, strata_err *err)
{
    const json_t *v = json_object_get(obj, key);
    if (given)
        *given = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) ||
        time_parse_rfc3339((slice){json_string_value(v), json_string_length(v)}, out))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "field \"%s\" must be an RFC 3339 timestamp such as "
                       "\"2024-01-02T03:04:05.123456Z\"",
                       key);
    if (given)
        *given = true;
    return 0;
}

bool export_valid_id(slice id)
{
    return text_valid_entity_id(id);
}

void export_plan_free(export_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nents; i++) {
        free(p->ents[i].column);
        free(p->ents[i].feat);
    }
    free(p->ents);
    free(p->feats);
    free(p->ts_col);
    if (p->fd >= 0)
        close(p->fd);
    if (p->inline_data)
        atomic_fetch_sub(&p->x->inline_held, p->inline_len);
    free(p->inline_data);
    free(p->uri);
    free(p->dest);
    json_decref(p->spec);
    json_decref(p->refs);
    json_decref(p->columns);
    free(p);
}

const json_t *export_plan_columns(const export_plan *p)
{
    return p->columns;
}

export_kind export_plan_kind(const export_plan *p)
{
    return p->kind;
}

export_format export_plan_format(const export_plan *p)
{
    return p->format;
}

const char *export_plan_destination(const export_plan *p)
{
    return p->dest;
}

ingest_source *export_plan_source(const export_plan *p)
{
    if (p->fd < 0)
        return ingest_source_mem(p->inline_data, p->inline_len);
    int fd = dup(p->fd);
    if (fd < 0)
        return NULL;
    ingest_source *s = ingest_source_fd(fd, p->size);
    return s;
}

static size_t add_entity(export_plan *p, const entity_def *e)
{
    for (size_t i = 0; i < p->nents; i++)
        if (p->ents[i].id == e->id)
            return i;
    export_entity *ne = realloc(p->ents, (p->nents + 1) * sizeof *ne);
    STRATA_ASSERT(ne != NULL);
    p->ents = ne;
    export_entity *x = &p->ents[p->nents];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", e->name);
    x->id = e->id;
    x->total_features = e->nfeatures;
    return p->nents++;
}

static void add_feature(export_plan *p, size_t ei, const feature_def *f)
{
    export_feature *nf = realloc(p->feats, (p->nfeats + 1) * sizeof *nf);
    STRATA_ASSERT(nf != NULL);
    p->feats = nf;
    export_feature *x = &p->feats[p->nfeats];
    memset(x, 0, sizeof *x);
    export_entity *e = &p->ents[ei];
    snprintf(x->ref, sizeof x->ref, "%s:%s", e->name, f->name);
    snprintf(x->column, sizeof x->column, "%s__%s", e->name, f->name);
    snprintf(x->name, sizeof x->name, "%s", f->name);
    x->entity = ei;
    x->feature_id = f->id;
    x->type = f->type;
    x->ttl_seconds = f->ttl_seconds;
    size_t *nfe = realloc(e->feat, (e->nfeat + 1) * sizeof *nfe);
    STRATA_ASSERT(nfe != NULL);
    e->feat = nfe;
    x->slot = e->nfeat;
    e->feat[e->nfeat++] = p->nfeats;
    json_array_append_new(p->refs, json_string(x->ref));
    p->nfeats++;
}

/*
 * "features": refs "entity:feature". With `only` (snapshot, history) every
 * ref must be of that entity, and a bare "feature" means one of it; absent
 * or null then means all of its features.
 */
static int parse_features(export_plan *p, const registry_t *reg, const json_t *spec,
                          const entity_def *only, strata_err *err)
{
    const json_t *fs = json_object_get(spec, "features");
    char ex[160];
    if ((!fs || json_is_null(fs)) && only) {
        if (only->nfeatures == 0)
            return err_set(err, STRATA_INVALID_ARGUMENT, "entity \"%s\" has no features to export",
                           only->name);
        if (only->nfeatures > LIMIT_EXPORT_FEATURES)
            return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                           "entity \"%s\" has %zu features, over the limit of %u per export; "
                           "list the features to export",
                           only->name, only->nfeatures, LIMIT_EXPORT_FEATURES);
        size_t ei = add_entity(p, only);
        for (size_t i = 0; i < only->nfeatures; i++)
            add_feature(p, ei, only->features[i]);
        return 0;
    }
    if (!json_is_array(fs) || json_array_size(fs) == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "field \"features\" must be a non-empty array of feature refs such as "
                       "\"customer:age\"");
    if (json_array_size(fs) > LIMIT_EXPORT_FEATURES)
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "field \"features\" lists %zu refs, over the limit of %u per export",
                       json_array_size(fs), LIMIT_EXPORT_FEATURES);
    size_t i;
    const json_t *v;
    json_array_foreach (fs, i, v) {
        if (!json_is_string(v))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "features[%zu] must be a string such as \"customer:age\"", i);
        slice ref = {json_string_value(v), json_string_length(v)};
        text_excerpt(ref, ex, sizeof ex);
        const char *colon = memchr(ref.p, ':', ref.n);
        slice en, fn;
        if (colon) {
            en = (slice){ref.p, (size_t)(colon - ref.p)};
            fn = (slice){colon + 1, ref.n - en.n - 1};
        } else if (only) {
            en = slice_of(only->name);
            fn = ref;
        } else {
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "features[%zu] \"%s\" is not a feature ref \"entity:feature\"", i, ex);
        }
        if (!text_valid_name(en) || !text_valid_name(fn))
            return err_set(
                err, STRATA_INVALID_ARGUMENT,
                "features[%zu] \"%s\" is not a feature ref \"entity:feature\" with names "
                "[a-z][a-z0-9_]{0,63}",
                i, ex);
        const entity_def *e = registry_entity(reg, en);
        if (!e)
            return err_set(err, STRATA_NOT_FOUND, "features[%zu] \"%s\": entity \"%.*s\" not found",
                           i, ex, (int)en.n, en.p);
        if (only && e->id != only->id)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "features[%zu] \"%s\" is not a feature of entity \"%s\"", i, ex,
                           only->name);
        const feature_def *f = registry_feature(e, fn);
        if (!f)
            return err_set(err, STRATA_NOT_FOUND,
                           "features[%zu] \"%s\": feature \"%.*s\" not found in entity \"%s\"", i,
                           ex, (int)fn.n, fn.p, e->name);
        for (size_t k = 0; k < p->nfeats; k++)
            if (p->feats[k].feature_id == f->id)
                return err_set(err, STRATA_INVALID_ARGUMENT, "features[%zu] \"%s\" is listed twice",
                               i, ex);
        size_t ei = add_entity(p, e);
        if (p->nents > LIMIT_EXPORT_ENTITIES)
            return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                           "the features span more than %u entities, the limit per export",
                           LIMIT_EXPORT_ENTITIES);
        add_feature(p, ei, f);
    }
    return 0;
}

static int parse_format(export_plan *p, const json_t *spec, slice dest, strata_err *err)
{
    slice format;
    int rc = json_opt_text(spec, "format", &format, err);
    if (rc)
        return rc;
    if (format.p) {
        if (export_format_parse(format, &p->format))
            return err_set(err, STRATA_INVALID_ARGUMENT, "format must be csv, jsonl or tfrecord");
        return 0;
    }
    p->format = EXPORT_CSV;
    if (dest.p && (slice_ends_with(dest, ".jsonl") || slice_ends_with(dest, ".ndjson")))
        p->format = EXPORT_JSONL;
    else if (dest.p && (slice_ends_with(dest, ".tfrecord") || slice_ends_with(dest, ".tfrecords")))
        p->format = EXPORT_TFRECORD;
    return 0;
}

/* ---- destination ------------------------------------------------------------------------ */

static int outside_export(const char *ex, const char *dir, strata_err *err)
{
    return err_set(err, STRATA_PERMISSION_DENIED,
                   "destination.path \"%s\" is outside the export directory %s (absolute paths "
                   "and symlinks must stay inside it)",
                   ex, dir);
}

static int parse_destination(export_plan *p, const json_t *spec, slice *dest_path, strata_err *err)
{
    static const char *const fields[] = {"path", "overwrite", NULL};
    const json_t *d = json_object_get(spec, "destination");
    char ex[160], cand[PATH_MAX], dir[PATH_MAX], realdir[PATH_MAX];
    int rc;
    *dest_path = (slice){NULL, 0};
    if (!d || json_is_null(d))
        return 0;
    if (!json_is_object(d))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "field \"destination\" must be an object {\"path\": \"...\"}");
    if ((rc = json_check_fields(d, fields, "destination.", err)))
        return rc;
    const json_t *pv = json_object_get(d, "path");
    if (!json_is_string(pv) || json_string_length(pv) == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "destination.path must be a non-empty string");
    const json_t *ow = json_object_get(d, "overwrite");
    if (ow && !json_is_null(ow)) {
        if (!json_is_boolean(ow))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "destination.overwrite must be true or false");
        p->overwrite = json_is_true(ow);
    }
    slice path = {json_string_value(pv), json_string_length(pv)};
    *dest_path = path;
    text_excerpt(path, ex, sizeof ex);
    if (path.n >= PATH_MAX || memchr(path.p, '\0', path.n) || !text_valid_utf8(path))
        return err_set(err, STRATA_INVALID_ARGUMENT, "destination.path is not a usable path");
    if (path.p[path.n - 1] == '/')
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "destination.path \"%s\" names a directory; name the file to write", ex);
    for (size_t i = 0; i < path.n;) {
        size_t j = i;
        while (j < path.n && path.p[j] != '/')
            j++;
        if (j - i == 2 && path.p[i] == '.' && path.p[i + 1] == '.')
            return err_set(err, STRATA_PERMISSION_DENIED,
                           "destination.path \"%s\" contains a \"..\" component; paths must stay "
                           "inside the export directory",
                           ex);
        i = j + 1;
    }
    const char *root = p->x->export_dir;
    if (path.p[0] == '/')
        snprintf(cand, sizeof cand, "%.*s", (int)path.n, path.p);
    else if (snprintf(cand, sizeof cand, "%s/%.*s", root, (int)path.n, path.p) >= (int)sizeof cand)
        return err_set(err, STRATA_INVALID_ARGUMENT, "destination.path is too long");
    char *slash = strrchr(cand, '/');
    const char *base = slash + 1;
    if (!*base || strcmp(base, ".") == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "destination.path \"%s\" does not name a file",
                       ex);
    if (strstr(base, TMP_MARK))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "destination.path \"%s\" looks like an export's temporary file", ex);
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - cand), cand);
    if (!dir[0])
        strcpy(dir, "/");
    if (!realpath(dir, realdir)) {
        if (!ingest_path_inside(cand, root))
            return outside_export(ex, root, err);
        return err_set(err, STRATA_NOT_FOUND,
                       "the directory of destination.path \"%s\" does not exist in the export "
                       "directory (create it first)",
                       ex);
    }
    if (strcmp(realdir, root) != 0 && !ingest_path_inside(realdir, root))
        return outside_export(ex, root, err);
    size_t dl = strlen(realdir), bl = strlen(base);
    if (dl + 1 + bl >= PATH_MAX)
        return err_set(err, STRATA_INVALID_ARGUMENT, "destination.path is too long");
    p->dest = malloc(dl + bl + 2);
    STRATA_ASSERT(p->dest != NULL);
    size_t off = strcmp(realdir, "/") ? dl : 0;
    memcpy(p->dest, realdir, off);
    p->dest[off] = '/';
    memcpy(p->dest + off + 1, base, bl + 1);
    struct stat st;
    if (lstat(p->dest, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return err_set(err, STRATA_PERMISSION_DENIED,
                           "destination.path \"%s\" exists and is not a regular file", ex);
        if (!p->overwrite)
            return err_set(err, STRATA_ALREADY_EXISTS,
                           "destination.path \"%s\" already exists; set destination.overwrite "
                           "to replace it",
                           ex);
    }
    return 0;
}

/* ---- instances ---------------------------------------------------------------------------- */

static int take_inline(export_plan *p, const json_t *v, strata_err *err)
{
    export_ctx *x = p->x;
    size_t n = json_string_length(v);
    if (n > x->max_inline_bytes)
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "instances.inline holds %zu bytes, over the limit of %zu (max_body_bytes, "
                       "--max-body-bytes); put the file under --import-dir and name it with "
                       "instances.path",
                       n, x->max_inline_bytes);
    size_t held = atomic_fetch_add(&x->inline_held, n);
    if (held + n > 4 * x->max_inline_bytes) {
        atomic_fetch_sub(&x->inline_held, n);
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "exports waiting to run already hold %zu bytes of inline instances (at "
                       "most %zu); try again when they have run, or use instances.path",
                       held, 4 * x->max_inline_bytes);
    }
    p->inline_data = slice_dup((slice){json_string_value(v), n});
    p->inline_len = n;
    p->size = n;
    p->uri = strdup("inline");
    STRATA_ASSERT(p->uri != NULL);
    return 0;
}

/* The columns the instances show: the CSV header, or the first object's keys. */
typedef struct colset {
    slice *names;
    size_t n;
} colset;

static bool colset_has(const colset *c, slice name, size_t *ix)
{
    for (size_t i = 0; i < c->n; i++)
        if (slice_eq(c->names[i], name)) {
            if (ix)
                *ix = i;
            return true;
        }
    return false;
}

/* Bind the timestamp and entity columns against the columns shown (again in
 * the reader: the file may have changed since the plan was made). */
int export_bind_columns(export_plan *p, const slice *names, size_t n, const char *what,
                        strata_err *err)
{
    colset c = {(slice *)names, n};
    char ex[80];
    if (!colset_has(&c, slice_of(p->ts_col), NULL)) {
        text_excerpt(slice_of(p->ts_col), ex, sizeof ex);
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "timestamp_column \"%s\" is not in the instances' %s", ex, what);
    }
    for (size_t i = 0; i < p->nents; i++) {
        export_entity *e = &p->ents[i];
        if (!colset_has(&c, slice_of(e->column), &e->col)) {
            text_excerpt(slice_of(e->column), ex, sizeof ex);
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "the entity column \"%s\" of entity \"%s\" is not in the instances' "
                           "%s; name it with entity_columns",
                           ex, e->name, what);
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < p->nfeats; k++)
            if (slice_eq_str(names[i], p->feats[k].column)) {
                text_excerpt(names[i], ex, sizeof ex);
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "the instances' column \"%s\" has the name of the output column of "
                               "feature %s; rename the column",
                               ex, p->feats[k].ref);
            }
    return 0;
}

/* Default entity columns: <entity>_id, else <entity>, against the columns shown. */
static int pick_entity_columns(export_plan *p, const json_t *given, const slice *names, size_t n,
                               const char *what, strata_err *err)
{
    colset c = {(slice *)names, n};
    for (size_t i = 0; i < p->nents; i++) {
        export_entity *e = &p->ents[i];
        const json_t *g = given ? json_object_get(given, e->name) : NULL;
        if (g) {
            e->column = slice_dup((slice){json_string_value(g), json_string_length(g)});
            continue;
        }
        char def[LIMIT_NAME_MAX + 4];
        snprintf(def, sizeof def, "%s_id", e->name);
        if (colset_has(&c, slice_of(def), NULL))
            e->column = strdup(def);
        else if (colset_has(&c, slice_of(e->name), NULL))
            e->column = strdup(e->name);
        else
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "no entity column for entity \"%s\": the instances' %s has neither "
                           "\"%s\" nor \"%s\"; name it with entity_columns",
                           e->name, what, def, e->name);
        STRATA_ASSERT(e->column != NULL);
    }
    return 0;
}

static int check_instances(export_plan *p, const json_t *given_cols, strata_err *err)
{
    int rc;
    csv_reader *cr = NULL;
    jsonl_reader *jr = NULL;
    slice *names = NULL;
    size_t n = 0;
    const char *what = p->jsonl ? "first line" : "header";
    ingest_source *src = export_plan_source(p);
    if (!src)
        return err_set(err, STRATA_INTERNAL, "cannot duplicate the instances descriptor: %s",
                       strerror(errno));
    if (!p->jsonl) {
        if ((rc = csv_reader_open(src, NULL, &cr, err))) {
            err_prefix(err, "instances");
            goto out;
        }
        n = csv_reader_ncols(cr);
        names = calloc(n ? n : 1, sizeof *names);
        STRATA_ASSERT(names != NULL);
        for (size_t i = 0; i < n; i++) {
            names[i] = csv_reader_column(cr, i);
            for (size_t k = 0; k < i; k++)
                if (slice_eq(names[k], names[i])) {
                    char ex[80];
                    text_excerpt(names[i], ex, sizeof ex);
                    rc = err_set(err, STRATA_INVALID_ARGUMENT,
                                 "the instances' header names column \"%s\" twice", ex);
                    goto out;
                }
        }
    } else {
        jsonl_row row;
        jr = jsonl_reader_open(src, 0);
        rc = jsonl_reader_next(jr, &row, err);
        if (rc < 0)
            goto out;
        if (rc == 0) {
            /* No rows: nothing to check; the columns named (or defaulted)
             * are used if rows appear before the export runs. */
            for (size_t i = 0; i < p->nents; i++) {
                export_entity *e = &p->ents[i];
                const json_t *g = given_cols ? json_object_get(given_cols, e->name) : NULL;
                char def[LIMIT_NAME_MAX + 4];
                snprintf(def, sizeof def, "%s_id", e->name);
                e->column = g ? slice_dup((slice){json_string_value(g), json_string_length(g)})
                              : strdup(def);
                STRATA_ASSERT(e->column != NULL);
            }
            goto out;
        }
        if (row.error) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "instances line %llu: %s",
                         (unsigned long long)row.line, row.error);
            goto out;
        }
        n = json_object_size(row.obj);
        names = calloc(n ? n : 1, sizeof *names);
        STRATA_ASSERT(names != NULL);
        const char *key;
        json_t *v;
        size_t i = 0;
        json_object_foreach (row.obj, key, v)
            names[i++] = slice_of(key);
    }
    if ((rc = pick_entity_columns(p, given_cols, names, n, what, err)) ||
        (rc = export_bind_columns(p, names, n, what, err)))
        goto out;
    p->columns = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(p->columns, json_stringn(names[i].p, names[i].n));
    rc = 0;
out:
    free(names);
    csv_reader_close(cr);
    jsonl_reader_close(jr);
    ingest_source_close(src);
    return rc;
}

static int parse_instances(export_plan *p, const json_t *spec, strata_err *err)
{
    static const char *const fields[] = {"path", "inline", "format", NULL};
    int rc;
    const json_t *in = json_object_get(spec, "instances");
    if (!json_is_object(in))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "field \"instances\" is required: {\"path\": \"...\"} or {\"inline\": "
                       "\"...\"}, with \"format\": \"csv\" or \"jsonl\"");
    if ((rc = json_check_fields(in, fields, "instances.", err)))
        return rc;
    const json_t *path = json_object_get(in, "path");
    const json_t *inl = json_object_get(in, "inline");
    if ((path != NULL) == (inl != NULL))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "instances must hold exactly one of \"path\" and \"inline\"");
    if ((path && (!json_is_string(path) || json_string_length(path) == 0)) ||
        (inl && !json_is_string(inl)))
        return err_set(err, STRATA_INVALID_ARGUMENT, "instances.%s must be a %sstring",
                       path ? "path" : "inline", path ? "non-empty " : "");
    slice fmt;
    if ((rc = json_opt_text(in, "format", &fmt, err)))
        return err_prefix(err, "instances");
    slice ps = path ? (slice){json_string_value(path), json_string_length(path)} : (slice){0};
    if (fmt.p) {
        if (slice_eq_str(fmt, "jsonl"))
            p->jsonl = true;
        else if (!slice_eq_str(fmt, "csv"))
            return err_set(err, STRATA_INVALID_ARGUMENT, "instances.format must be csv or jsonl");
    } else {
        p->jsonl = ps.p && (slice_ends_with(ps, ".jsonl") || slice_ends_with(ps, ".ndjson"));
    }
    if (path)
        return ingest_source_open_path(p->x->import_dir, ps, "instances", "instance files", &p->fd,
                                       &p->size, &p->uri, err);
    return take_inline(p, inl, err);
}

/* ---- the kinds ------------------------------------------------------------------------------ */

static int parse_historical(export_plan *p, const registry_t *reg, const json_t *spec,
                            strata_err *err)
{
    static const char *const fields[] = {
        "instances", "timestamp_column", "entity_columns", "features", "as_of",
        "format",    "destination",      "time_unit",      NULL};
    int rc;
    slice ts, unit, dest;
    char ex[80];
    if ((rc = json_check_fields(spec, fields, "", err)) ||
        (rc = json_opt_text(spec, "timestamp_column", &ts, err)) ||
        (rc = json_opt_text(spec, "time_unit", &unit, err)) ||
        (rc = opt_time(spec, "as_of", &p->as_of, &p->has_as_of, err)))
        return rc;
    if (!ts.p)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "field \"timestamp_column\" is required: the instances' column holding "
                       "each row's time");
    p->ts_col = slice_dup(ts);
    if (unit.p && time_unit_parse(unit, &p->unit))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "time_unit must be rfc3339, seconds, millis or micros");
    if ((rc = parse_features(p, reg, spec, NULL, err)))
        return rc;
    const json_t *ec = json_object_get(spec, "entity_columns");
    if (ec && json_is_null(ec))
        ec = NULL;
    if (ec) {
        if (!json_is_object(ec))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "field \"entity_columns\" must be an object {\"entity\": \"column\"}");
        const char *k;
        const json_t *v;
        json_object_foreach ((json_t *)ec, k, v) {
            text_excerpt(slice_of(k), ex, sizeof ex);
            bool used = false;
            for (size_t i = 0; i < p->nents; i++)
                used |= strcmp(p->ents[i].name, k) == 0;
            if (!used)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "entity_columns names entity \"%s\", which no feature ref uses", ex);
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                strlen(json_string_value(v)) != json_string_length(v))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "entity_columns: the column of entity \"%s\" must be a non-empty "
                               "string",
                               ex);
        }
    }
    if ((rc = parse_destination(p, spec, &dest, err)) || (rc = parse_format(p, spec, dest, err)) ||
        (rc = parse_instances(p, spec, err)) || (rc = check_instances(p, ec, err)))
        return rc;
    return 0;
}

static int parse_entity_kind(export_plan *p, const registry_t *reg, const json_t *spec,
                             strata_err *err)
{
    static const char *const snap_fields[] = {
        "entity", "features", "snapshot_time", "as_of", "format", "destination", NULL};
    static const char *const hist_fields[] = {"entity", "features", "start_time",  "end_time",
                                              "as_of",  "format",   "destination", NULL};
    int rc;
    slice entity, dest;
    char ex[80];
    bool given;
    if ((rc = json_check_fields(spec, p->kind == EXPORT_SNAPSHOT ? snap_fields : hist_fields, "",
                                err)) ||
        (rc = json_opt_text(spec, "entity", &entity, err)) ||
        (rc = opt_time(spec, "as_of", &p->as_of, &p->has_as_of, err)))
        return rc;
    if (!entity.p)
        return err_set(err, STRATA_INVALID_ARGUMENT, "field \"entity\" is required");
    text_excerpt(entity, ex, sizeof ex);
    if (!text_valid_name(entity))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "entity \"%s\" is not a valid name ([a-z][a-z0-9_]{0,63})", ex);
    const entity_def *e = registry_entity(reg, entity);
    if (!e)
        return err_set(err, STRATA_NOT_FOUND, "entity \"%s\" not found", ex);
    if ((rc = parse_features(p, reg, spec, e, err)))
        return rc;
    if (p->kind == EXPORT_SNAPSHOT) {
        p->snapshot_time = p->created_at;
        if ((rc = opt_time(spec, "snapshot_time", &p->snapshot_time, &given, err)))
            return rc;
    } else {
        p->start_time = INT64_MIN;
        p->end_time = INT64_MAX;
        if ((rc = opt_time(spec, "start_time", &p->start_time, NULL, err)) ||
            (rc = opt_time(spec, "end_time", &p->end_time, NULL, err)))
            return rc;
        if (p->start_time >= p->end_time)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "start_time must be before end_time (the range is [start, end))");
    }
    if ((rc = parse_destination(p, spec, &dest, err)) || (rc = parse_format(p, spec, dest, err)))
        return rc;
    return 0;
}

/* The spec as kept with a job and in lineage: inline text replaced by its size. */
static json_t *kept_spec(const json_t *spec, const export_plan *p)
{
    json_t *s = json_deep_copy(spec);
    STRATA_ASSERT(s != NULL);
    if (p->inline_data) {
        json_t *in = json_object_get(s, "instances");
        json_object_del(in, "inline");
        json_object_set_new(in, "inline_bytes", json_integer((json_int_t)p->inline_len));
    }
    return s;
}

int export_plan_parse(export_ctx *x, export_kind kind, const json_t *spec, export_plan **out,
                      strata_err *err)
{
    int rc;
    *out = NULL;
    export_plan *p = calloc(1, sizeof *p);
    STRATA_ASSERT(p != NULL);
    p->x = x;
    p->kind = kind;
    p->fd = -1;
    p->as_of = INT64_MAX;
    p->unit = TIME_UNIT_RFC3339;
    p->created_at = time_now_us();
    p->refs = json_array();
    const registry_t *reg = store_registry_acquire(x->store);
    if (!json_is_object(spec)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "an export request must be a JSON object");
        goto out;
    }
    rc = kind == EXPORT_HISTORICAL ? parse_historical(p, reg, spec, err)
                                   : parse_entity_kind(p, reg, spec, err);
    if (rc)
        goto out;
    if (p->has_as_of && p->as_of > p->created_at) {
        /* The promise of as_of is the same bytes forever: an as_of still to
         * come would take in what is written until then. */
        char t[TIME_RFC3339_MAX];
        time_format_rfc3339(p->created_at, t, sizeof t);
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "as_of is in the future (the daemon's clock reads %s): an export as of a "
                     "time still to come would change as values are written until then",
                     t);
        goto out;
    }
    if (p->dest && !x->jobs) {
        rc = err_set(err, STRATA_UNAVAILABLE, "exports to a destination need the job runner");
        goto out;
    }
    p->spec = kept_spec(spec, p);
    *out = p;
    p = NULL;
out:
    store_registry_release(x->store, reg);
    export_plan_free(p);
    return rc;
}
