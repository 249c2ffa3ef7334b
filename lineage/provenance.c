/*
 * provenance.c - "where did this model come from?": the contract's
 * GET /v1/models/{name}/provenance, answered from the metadata graph.
 *
 * Finding the model. A model version is the Model artifact named
 * "<model>@<version>" (version a positive decimal integer without leading
 * zeros), the name the trainer gives it, with the same values in its declared
 * properties `model` and `version`. The name is what counts: (type, name) is
 * unique, so each (model, version) is one artifact, and all versions of a
 * model are one prefix scan of the by-name index ("credit@"). Without a
 * version the highest one is taken.
 *
 * The walk, over ONE snapshot (the answer is consistent even while writes land):
 *
 *   SourceFile --INPUT--> Import --OUTPUT--> FeatureSet --INPUT--> Export
 *   --OUTPUT--> Dataset --INPUT--> Train --OUTPUT--> Model (+ Metrics)
 *   Model --INPUT--> Evaluate --OUTPUT--> Metrics, FairnessReport
 *
 *   - training: the Train execution that output the model (the newest when
 *     several did); its Metrics outputs are the training metrics;
 *   - training data: the Train's input Datasets, each with the Export that
 *     output it (feature refs, as_of, instance source; the Dataset's own
 *     properties when the Export lacks them);
 *   - imports: Import executions that output a FeatureSet read by one of those
 *     Exports (or by the Train directly), with the SourceFiles they read. Only
 *     imports recorded no later than the reader's cut-off count: the reader's
 *     create_time, or its as_of when earlier (a later import cannot have fed
 *     the data it exported);
 *   - evaluations: Evaluate executions that read the model, with their Metrics
 *     and FairnessReport outputs.
 *
 * Parts not (yet) in the graph are null or empty and named in "missing", so
 * the answer fills in as imports, exports, training and evaluation land.
 * Every list is capped at LINEAGE_PROVENANCE_ITEMS_MAX; a cut list is named
 * in "truncated". Node reads are point lookups and every "events of X" is one
 * prefix scan, so the cost is proportional to the pipeline, not the graph.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "lineage/lineage_int.h"

#define PROV_EVENTS_SCAN_MAX LINEAGE_PROVENANCE_EVENTS_SCAN_MAX

/* ---- small vectors ---------------------------------------------------------------- */

typedef struct pev {
    int64_t other; /* the other end's id */
    int type;      /* lineage_event_type */
    int64_t time;
} pev;

typedef struct pevs {
    pev *v;
    size_t n, cap;
} pevs;

static void pevs_push(pevs *e, pev x)
{
    if (e->n == e->cap) {
        size_t c = e->cap ? e->cap * 2 : 16;
        pev *g = realloc(e->v, c * sizeof *g);
        STRATA_ASSERT(g != NULL);
        e->v = g;
        e->cap = c;
    }
    e->v[e->n++] = x;
}

typedef struct import_row {
    int64_t exec_id, fs_id, src_id; /* src_id 0: the import read no SourceFile */
} import_row;

typedef struct import_rows {
    import_row *v;
    size_t n, cap;
} import_rows;

static void rows_push(import_rows *r, import_row x)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].exec_id == x.exec_id && r->v[i].src_id == x.src_id)
            return; /* the same import reached through another feature set */
    if (r->n == r->cap) {
        size_t c = r->cap ? r->cap * 2 : 16;
        import_row *g = realloc(r->v, c * sizeof *g);
        STRATA_ASSERT(g != NULL);
        r->v = g;
        r->cap = c;
    }
    r->v[r->n++] = x;
}

static int row_cmp(const void *a, const void *b)
{
    const import_row *x = a, *y = b;
    if (x->exec_id != y->exec_id)
        return x->exec_id < y->exec_id ? -1 : 1;
    return x->src_id < y->src_id ? -1 : x->src_id > y->src_id;
}

/* ---- the walk's state ----------------------------------------------------------------- */

typedef struct prov {
    lineage_t *lg;
    store_snapshot *snap;
    store_iter *it;
    strata_err *err;
    /* Built-in type ids (-1 when absent, which matches no node). */
    int64_t t_model, t_train, t_dataset, t_export, t_featureset, t_import, t_source, t_metrics,
        t_fairness, t_evaluate;
    json_t *missing;   /* array of strings */
    json_t *truncated; /* array of section names */
    import_rows imports;
    bool imports_cut;
} prov;

static int64_t type_id(lineage_t *lg, lineage_kind k, const char *name)
{
    const ltype *t = lg_type_by_name(lg, k, slice_of(name));
    return t ? t->id : -1;
}

static void missing(prov *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void missing(prov *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(p->missing, json_string(msg));
}

static void truncated(prov *p, const char *section)
{
    size_t i;
    json_t *s;
    json_array_foreach (p->truncated, i, s)
        if (strcmp(json_string_value(s), section) == 0)
            return;
    json_array_append_new(p->truncated, json_string(section));
}

/* Events of node (k, id) whose type is in `mask` (bit per lineage_event_type),
 * appended to out. */
static int scan_events(prov *p, lineage_kind k, int64_t id, unsigned mask, pevs *out)
{
    buf prefix = BUF_INIT;
    int rc = 0;
    size_t seen = 0;
    lkey_pair(&prefix, k == LINEAGE_ARTIFACT ? LK_EVENT_BY_ART : LK_EVENT_BY_EXEC, id, 0, 0);
    for (store_iter_seek(p->it, buf_slice(&prefix)); store_iter_valid(p->it);
         store_iter_next(p->it)) {
        slice kk = store_iter_key(p->it), path;
        int64_t a, b, time;
        int t;
        if (kk.n < prefix.n || memcmp(kk.p, prefix.p, prefix.n) != 0)
            break;
        if (lkey_pair_decode(kk, &a, &b, &t) || t == 0 ||
            levent_decode(store_iter_value(p->it), &time, &path)) {
            rc = err_set(p->err, STRATA_CORRUPT, "lineage: an event record is malformed");
            break;
        }
        if (++seen > PROV_EVENTS_SCAN_MAX) {
            truncated(p, k == LINEAGE_ARTIFACT ? "artifact_events" : "execution_events");
            break;
        }
        if (mask & (1u << t))
            pevs_push(out, (pev){b, t, time});
    }
    if (!rc)
        rc = store_iter_status(p->it, p->err);
    buf_free(&prefix);
    return rc;
}

#define M_INPUTS ((1u << LINEAGE_EVENT_INPUT) | (1u << LINEAGE_EVENT_DECLARED_INPUT))
#define M_OUTPUTS ((1u << LINEAGE_EVENT_OUTPUT) | (1u << LINEAGE_EVENT_DECLARED_OUTPUT))

/* Read a node: 0, 1 when it does not exist (an event that outlived its node;
 * the API never stores one, so it is skipped), or an error. */
static int read_node(prov *p, lineage_kind k, int64_t id, lnode *n)
{
    int rc = lg_node_read(p->lg, p->snap, k, id, n, p->err);
    if (rc == STRATA_NOT_FOUND) {
        err_clear(p->err);
        return 1;
    }
    return rc;
}

/* A property, declared or custom (declared first); NULL when neither is set. */
static json_t *prop(const lnode *n, const char *name)
{
    json_t *v = json_object_get(n->props, name);
    if (!v || json_is_null(v))
        v = json_object_get(n->custom, name);
    return v && !json_is_null(v) ? v : NULL;
}

/* A property as a new reference, or JSON null. */
static json_t *prop_or_null(const lnode *n, const char *name)
{
    json_t *v = prop(n, name);
    return v ? json_incref(v) : json_null();
}

static bool is_terminal(const lnode *n)
{
    const char *s = lstate_name(LINEAGE_EXECUTION, n->state);
    return s && (strcmp(s, "COMPLETE") == 0 || strcmp(s, "FAILED") == 0 ||
                 strcmp(s, "CACHED") == 0 || strcmp(s, "CANCELED") == 0);
}

static json_t *time_json(int64_t us)
{
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(us, t, sizeof t);
    return json_string(t);
}

/* "12 \"name\"" for messages. */
static void node_label(const lnode *n, char *out, size_t cap)
{
    char nm[80] = "";
    if (n->has_name) {
        char ex[64];
        text_excerpt(buf_slice(&n->name), ex, sizeof ex);
        snprintf(nm, sizeof nm, " \"%s\"", ex);
    }
    snprintf(out, cap, "%lld%s", (long long)n->id, nm);
}

/* ---- finding the model ---------------------------------------------------------------- */

/* "<digits>" without a leading zero, 1..INT64_MAX. */
static bool parse_version(slice s, int64_t *v)
{
    uint64_t u;
    if (s.n == 0 || s.p[0] == '0' || text_parse_u64(s, &u) || u > (uint64_t)INT64_MAX)
        return false;
    *v = (int64_t)u;
    return true;
}

static int id_asc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * The versions of model `name` (sorted ascending into *versions, a JSON
 * array) and the artifact id of `want` (0 = the newest): *id 0 when the
 * model has no such version.
 */
static int find_model(prov *p, slice name, int64_t want, int64_t *id, json_t *versions)
{
    buf prefix = BUF_INIT;
    int rc = 0;
    int64_t best = 0, *vs = NULL;
    size_t nv = 0, capv = 0;
    *id = 0;
    if (p->t_model < 0)
        goto out;
    lkey_by_name(&prefix, LINEAGE_ARTIFACT, p->t_model, name);
    buf_putc(&prefix, '@');
    for (store_iter_seek(p->it, buf_slice(&prefix)); store_iter_valid(p->it);
         store_iter_next(p->it)) {
        slice kk = store_iter_key(p->it), val = store_iter_value(p->it);
        int64_t v;
        if (kk.n < prefix.n || memcmp(kk.p, prefix.p, prefix.n) != 0)
            break;
        /* "credit@x" is not a version of credit; neither is "credit@01". */
        if (!parse_version((slice){kk.p + prefix.n, kk.n - prefix.n}, &v) || val.n != 8)
            continue;
        if (nv == capv) {
            capv = capv ? capv * 2 : 16;
            int64_t *g = realloc(vs, capv * sizeof *g);
            STRATA_ASSERT(g != NULL);
            vs = g;
        }
        vs[nv++] = v;
        if ((want == 0 && v > best) || v == want) {
            best = v;
            *id = (int64_t)get_u64be(val.p);
        }
    }
    rc = store_iter_status(p->it, p->err);
    if (nv > 1)
        qsort(vs, nv, sizeof *vs, id_asc);
    for (size_t i = 0; i < nv && i < LINEAGE_PROVENANCE_ITEMS_MAX; i++)
        json_array_append_new(versions, json_integer(vs[i]));
    if (nv > LINEAGE_PROVENANCE_ITEMS_MAX)
        truncated(p, "versions");
out:
    free(vs);
    buf_free(&prefix);
    return rc;
}

/* ---- pieces of the answer ---------------------------------------------------------------- */

/* {"artifact": node, "split", "n", "metrics"} for a Metrics artifact. */
static json_t *metrics_json(prov *p, const lnode *a)
{
    return json_pack("{s:o,s:o,s:o,s:o}", "artifact", lg_node_json(p->lg, a), "split",
                     prop_or_null(a, "split"), "n", prop_or_null(a, "n"), "metrics",
                     prop_or_null(a, "metrics"));
}

static json_t *fairness_json(prov *p, const lnode *a)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o}", "artifact", lg_node_json(p->lg, a), "evaluation_id",
                     prop_or_null(a, "evaluation_id"), "group_by", prop_or_null(a, "group_by"),
                     "summary", prop_or_null(a, "summary"), "four_fifths_rule",
                     prop_or_null(a, "four_fifths_rule"));
}

/* Append to `list` unless it is full (then note the section as truncated). */
static bool room(prov *p, json_t *list, const char *section)
{
    if (json_array_size(list) < LINEAGE_PROVENANCE_ITEMS_MAX)
        return true;
    truncated(p, section);
    return false;
}

/* The output artifacts of execution `exec_id` of type `type`, each shaped by
 * `shape`, appended to `list`. */
static int outputs_of_type(prov *p, int64_t exec_id, int64_t type, json_t *list,
                           const char *section, json_t *(*shape)(prov *, const lnode *))
{
    pevs ev = {0};
    lnode a;
    int rc;
    lnode_init(&a);
    if ((rc = scan_events(p, LINEAGE_EXECUTION, exec_id, M_OUTPUTS, &ev)))
        goto out;
    for (size_t i = 0; i < ev.n; i++) {
        if (i > 0 && ev.v[i].other == ev.v[i - 1].other)
            continue; /* OUTPUT and DECLARED_OUTPUT of the same artifact */
        rc = read_node(p, LINEAGE_ARTIFACT, ev.v[i].other, &a);
        if (rc == 1)
            continue;
        if (rc)
            goto out;
        if (a.type_id == type && room(p, list, section))
            json_array_append_new(list, shape(p, &a));
    }
    rc = 0;
out:
    lnode_free(&a);
    free(ev.v);
    return rc;
}

/* The newest execution of type `type` that output artifact `art_id` (read
 * into *exec): 0 when found, 1 when none, or an error. */
static int producer(prov *p, int64_t art_id, int64_t type, lnode *exec)
{
    pevs ev = {0};
    int rc = 0, found = 1;
    if ((rc = scan_events(p, LINEAGE_ARTIFACT, art_id, M_OUTPUTS, &ev)))
        goto out;
    /* Events are in execution id order: walk back from the newest. */
    for (size_t i = ev.n; i-- > 0 && found == 1;) {
        rc = read_node(p, LINEAGE_EXECUTION, ev.v[i].other, exec);
        if (rc == 1)
            continue;
        if (rc)
            goto out;
        if (exec->type_id == type)
            found = 0;
    }
    rc = found;
out:
    free(ev.v);
    return rc;
}

/* The cut-off of a reader (Export or Train): its create_time, or its as_of
 * property when that is an earlier RFC 3339 time. */
static int64_t cutoff_of(const lnode *reader)
{
    int64_t t = reader->create_time, as_of;
    json_t *v = prop(reader, "as_of");
    if (v && json_is_string(v) &&
        time_parse_rfc3339((slice){json_string_value(v), json_string_length(v)}, &as_of) == 0 &&
        as_of < t)
        t = as_of;
    return t;
}

/* Imports that output FeatureSet fs_id no later than `cutoff`, with the
 * SourceFiles they read, added to p->imports. *found counts them. */
static int imports_of_feature_set(prov *p, int64_t fs_id, int64_t cutoff, size_t *found)
{
    pevs ev = {0}, in = {0};
    lnode x, a;
    int rc = 0;
    lnode_init(&x);
    lnode_init(&a);
    if ((rc = scan_events(p, LINEAGE_ARTIFACT, fs_id, M_OUTPUTS, &ev)))
        goto out;
    for (size_t i = 0; i < ev.n; i++) {
        if (ev.v[i].time > cutoff || (i > 0 && ev.v[i].other == ev.v[i - 1].other))
            continue;
        if (p->imports.n >= PROV_EVENTS_SCAN_MAX) {
            p->imports_cut = true;
            break;
        }
        rc = read_node(p, LINEAGE_EXECUTION, ev.v[i].other, &x);
        if (rc == 1)
            continue;
        if (rc)
            goto out;
        if (x.type_id != p->t_import)
            continue;
        (*found)++;
        in.n = 0;
        if ((rc = scan_events(p, LINEAGE_EXECUTION, x.id, M_INPUTS, &in)))
            goto out;
        bool any = false;
        for (size_t j = 0; j < in.n; j++) {
            if (j > 0 && in.v[j].other == in.v[j - 1].other)
                continue;
            rc = read_node(p, LINEAGE_ARTIFACT, in.v[j].other, &a);
            if (rc == 1)
                continue;
            if (rc)
                goto out;
            if (a.type_id == p->t_source) {
                rows_push(&p->imports, (import_row){x.id, fs_id, a.id});
                any = true;
            }
        }
        if (!any)
            rows_push(&p->imports, (import_row){x.id, fs_id, 0});
    }
    rc = 0;
out:
    lnode_free(&x);
    lnode_free(&a);
    free(ev.v);
    free(in.v);
    return rc;
}

static json_t *feature_set_json(const lnode *fs)
{
    return json_pack(
        "{s:I,s:o,s:o,s:o,s:o}", "id", (json_int_t)fs->id, "name",
        fs->has_name ? json_stringn(fs->name.p ? fs->name.p : "", fs->name.n) : json_null(), "uri",
        fs->has_uri ? json_stringn(fs->uri.p ? fs->uri.p : "", fs->uri.n) : json_null(), "entity",
        prop_or_null(fs, "entity"), "features", prop_or_null(fs, "features"));
}

/* The FeatureSets execution `reader` read, appended to `sets` (may be NULL),
 * and their imports up to the reader's cut-off. *nsets counts them. */
static int upstream_of_reader(prov *p, const lnode *reader, json_t *sets, size_t *nsets,
                              size_t *nimports)
{
    pevs ev = {0};
    lnode a;
    int rc = 0;
    int64_t cutoff = cutoff_of(reader);
    lnode_init(&a);
    if ((rc = scan_events(p, LINEAGE_EXECUTION, reader->id, M_INPUTS, &ev)))
        goto out;
    for (size_t i = 0; i < ev.n; i++) {
        if (i > 0 && ev.v[i].other == ev.v[i - 1].other)
            continue;
        rc = read_node(p, LINEAGE_ARTIFACT, ev.v[i].other, &a);
        if (rc == 1)
            continue;
        if (rc)
            goto out;
        if (a.type_id != p->t_featureset)
            continue;
        (*nsets)++;
        if (sets && room(p, sets, "feature_sets"))
            json_array_append_new(sets, feature_set_json(&a));
        if ((rc = imports_of_feature_set(p, a.id, cutoff, nimports)))
            goto out;
    }
    rc = 0;
out:
    lnode_free(&a);
    free(ev.v);
    return rc;
}

/* One "imports" entry. */
static int import_json(prov *p, const import_row *r, json_t **out)
{
    lnode x, fs, src;
    int rc;
    json_t *source = NULL, *fsj = NULL;
    lnode_init(&x);
    lnode_init(&fs);
    lnode_init(&src);
    *out = NULL;
    if ((rc = read_node(p, LINEAGE_EXECUTION, r->exec_id, &x)) != 0)
        goto out;
    rc = read_node(p, LINEAGE_ARTIFACT, r->fs_id, &fs);
    if (rc < 0)
        goto out;
    fsj = rc == 0 ? feature_set_json(&fs) : json_null();
    if (r->src_id > 0) {
        rc = read_node(p, LINEAGE_ARTIFACT, r->src_id, &src);
        if (rc < 0)
            goto out;
        if (rc == 0)
            source = json_pack(
                "{s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "artifact_id", (json_int_t)src.id, "name",
                src.has_name ? json_stringn(src.name.p ? src.name.p : "", src.name.n) : json_null(),
                "uri",
                src.has_uri ? json_stringn(src.uri.p ? src.uri.p : "", src.uri.n) : json_null(),
                "sha256", prop_or_null(&src, "sha256"), "bytes", prop_or_null(&src, "bytes"),
                "rows", prop_or_null(&src, "rows"), "format", prop_or_null(&src, "format"));
    }
    const char *state = lstate_name(LINEAGE_EXECUTION, x.state);
    *out = json_pack(
        "{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "execution_id", (json_int_t)x.id, "name",
        x.has_name ? json_stringn(x.name.p ? x.name.p : "", x.name.n) : json_null(), "state",
        state ? json_string(state) : json_null(), "job_id", prop_or_null(&x, "job_id"), "entity",
        prop_or_null(&x, "entity"), "feature_set", fsj, "source", source ? source : json_null(),
        "rows_imported", prop_or_null(&x, "rows_imported"), "create_time", time_json(x.create_time),
        "end_time", is_terminal(&x) ? time_json(x.update_time) : json_null());
    fsj = source = NULL;
    if (r->src_id == 0) {
        char l[128];
        node_label(&x, l, sizeof l);
        missing(p, "source file of import execution %s (it read no SourceFile)", l);
    } else if (!json_is_string(json_object_get(json_object_get(*out, "source"), "sha256"))) {
        missing(p, "sha256 of source file %lld read by import execution %lld", (long long)r->src_id,
                (long long)x.id);
    }
    rc = 0;
out:
    json_decref(fsj);
    json_decref(source);
    lnode_free(&x);
    lnode_free(&fs);
    lnode_free(&src);
    return rc < 0 ? rc : 0;
}

/* One "datasets" entry for Dataset `d`: its Export and what that read. */
static int dataset_json(prov *p, const lnode *d, size_t *nexports, size_t *nimports, json_t **out)
{
    lnode ex;
    int rc;
    char l[128];
    json_t *sets = json_array(), *exj = NULL;
    size_t nsets = 0;
    lnode_init(&ex);
    *out = NULL;
    node_label(d, l, sizeof l);
    rc = producer(p, d->id, p->t_export, &ex);
    if (rc < 0)
        goto out;
    bool have_export = rc == 0;
    if (have_export) {
        (*nexports)++;
        exj = lg_node_json(p->lg, &ex);
        if ((rc = upstream_of_reader(p, &ex, sets, &nsets, nimports)))
            goto out;
    } else {
        missing(p, "export of dataset %s (no Export execution output it)", l);
    }
    /* The Export's properties, else the Dataset's own (it declares
     * feature_refs and as_of too). */
    json_t *refs = have_export ? prop(&ex, "feature_refs") : NULL;
    json_t *as_of = have_export ? prop(&ex, "as_of") : NULL;
    if (!refs)
        refs = prop(d, "feature_refs");
    if (!as_of)
        as_of = prop(d, "as_of");
    if (!refs)
        missing(p, "feature refs of dataset %s (neither its Export nor the Dataset records them)",
                l);
    *out = json_pack(
        "{s:o,s:o,s:O,s:O,s:o,s:o}", "artifact", lg_node_json(p->lg, d), "export_execution",
        exj ? exj : json_null(), "feature_refs", refs ? refs : json_null(), "as_of",
        as_of ? as_of : json_null(), "instance_source",
        have_export ? prop_or_null(&ex, "instance_source") : json_null(), "feature_sets", sets);
    exj = sets = NULL;
    rc = 0;
out:
    json_decref(exj);
    json_decref(sets);
    lnode_free(&ex);
    return rc;
}

/* ---- the sections ------------------------------------------------------------------------- */

static int training_section(prov *p, const lnode *model, json_t *res)
{
    lnode train, a;
    pevs in = {0};
    int rc;
    json_t *training = json_object(), *data = json_object(), *datasets = json_array(),
           *imports = json_array(), *metrics = json_array();
    size_t nimports = 0, ndatasets = 0, nexports = 0, nsets = 0;
    lnode_init(&train);
    lnode_init(&a);
    json_object_set(res, "training", training);
    json_object_set(res, "training_data", data);
    json_object_set(res, "metrics", metrics);
    json_object_set_new(data, "feature_refs", json_null());
    json_object_set_new(data, "as_of", json_null());
    json_object_set(data, "datasets", datasets);
    json_object_set(data, "imports", imports);

    rc = producer(p, model->id, p->t_train, &train);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        json_object_set_new(training, "execution", json_null());
        json_object_set_new(training, "hyperparameters", json_null());
        json_object_set_new(training, "code_version", json_null());
        missing(p, "training run (no Train execution output this model)");
        missing(p, "training data (no training run to trace it from)");
        missing(p, "training metrics (no training run)");
        rc = 0;
        goto out;
    }
    char l[128];
    node_label(&train, l, sizeof l);
    json_object_set_new(training, "execution", lg_node_json(p->lg, &train));
    json_object_set_new(training, "hyperparameters", prop_or_null(&train, "hyperparameters"));
    json_object_set_new(training, "code_version", prop_or_null(&train, "code_version"));
    json_object_set_new(data, "feature_refs", prop_or_null(&train, "feature_refs"));
    json_object_set_new(data, "as_of", prop_or_null(&train, "as_of"));
    const char *state = lstate_name(LINEAGE_EXECUTION, train.state);
    if (!state || (strcmp(state, "COMPLETE") != 0 && strcmp(state, "CACHED") != 0))
        missing(p, "a completed training run (Train execution %s is %s)", l,
                state ? state : "without a state");
    if (!prop(&train, "hyperparameters"))
        missing(p, "hyperparameters (Train execution %s records none)", l);
    if (!prop(&train, "code_version"))
        missing(p, "code version (Train execution %s records none)", l);

    /* Training data: the Train's input Datasets. */
    if ((rc = scan_events(p, LINEAGE_EXECUTION, train.id, M_INPUTS, &in)))
        goto out;
    for (size_t i = 0; i < in.n; i++) {
        if (i > 0 && in.v[i].other == in.v[i - 1].other)
            continue;
        rc = read_node(p, LINEAGE_ARTIFACT, in.v[i].other, &a);
        if (rc == 1)
            continue;
        if (rc)
            goto out;
        if (a.type_id != p->t_dataset)
            continue;
        ndatasets++;
        if (!room(p, datasets, "datasets"))
            continue;
        json_t *d = NULL;
        if ((rc = dataset_json(p, &a, &nexports, &nimports, &d)))
            goto out;
        json_array_append_new(datasets, d);
    }
    /* FeatureSets the Train read directly (no materialised Dataset). */
    if ((rc = upstream_of_reader(p, &train, NULL, &nsets, &nimports)))
        goto out;
    if (ndatasets == 0 && nsets == 0)
        missing(p, "training data (Train execution %s read no Dataset)", l);
    else if ((nexports > 0 || nsets > 0) && nimports == 0)
        missing(p, "upstream imports (no Import execution wrote the features the training data "
                   "was exported from, before it was exported)");

    /* Imports in execution order; the newest ones when there are too many. */
    if (p->imports.n > 1)
        qsort(p->imports.v, p->imports.n, sizeof *p->imports.v, row_cmp);
    size_t first = 0;
    if (p->imports.n > LINEAGE_PROVENANCE_ITEMS_MAX || p->imports_cut) {
        truncated(p, "imports");
        if (p->imports.n > LINEAGE_PROVENANCE_ITEMS_MAX)
            first = p->imports.n - LINEAGE_PROVENANCE_ITEMS_MAX;
    }
    json_object_set_new(data, "imports_total", json_integer((json_int_t)p->imports.n));
    for (size_t i = first; i < p->imports.n; i++) {
        json_t *j = NULL;
        if ((rc = import_json(p, &p->imports.v[i], &j)))
            goto out;
        if (j)
            json_array_append_new(imports, j);
    }

    /* Training metrics: the Train's Metrics outputs. */
    if ((rc = outputs_of_type(p, train.id, p->t_metrics, metrics, "metrics", metrics_json)))
        goto out;
    if (json_array_size(metrics) == 0)
        missing(p, "training metrics (Train execution %s output no Metrics artifact)", l);
out:
    json_decref(training);
    json_decref(data);
    json_decref(datasets);
    json_decref(imports);
    json_decref(metrics);
    lnode_free(&train);
    lnode_free(&a);
    free(in.v);
    return rc;
}

static int evaluations_section(prov *p, const lnode *model, json_t *res)
{
    pevs ev = {0};
    lnode x;
    int rc;
    json_t *evals = json_array();
    lnode_init(&x);
    json_object_set(res, "evaluations", evals);
    if ((rc = scan_events(p, LINEAGE_ARTIFACT, model->id, M_INPUTS, &ev)))
        goto out;
    for (size_t i = 0; i < ev.n; i++) {
        if (i > 0 && ev.v[i].other == ev.v[i - 1].other)
            continue;
        rc = read_node(p, LINEAGE_EXECUTION, ev.v[i].other, &x);
        if (rc == 1)
            continue;
        if (rc)
            goto out;
        if (x.type_id != p->t_evaluate || !room(p, evals, "evaluations"))
            continue;
        json_t *metrics = json_array(), *reports = json_array();
        json_t *e = json_pack("{s:o,s:o,s:o,s:o}", "execution", lg_node_json(p->lg, &x),
                              "evaluation_id", prop_or_null(&x, "evaluation_id"), "metrics",
                              metrics, "fairness_reports", reports);
        json_array_append_new(evals, e);
        if ((rc = outputs_of_type(p, x.id, p->t_metrics, metrics, "metrics", metrics_json)) ||
            (rc = outputs_of_type(p, x.id, p->t_fairness, reports, "fairness_reports",
                                  fairness_json)))
            goto out;
    }
    rc = 0;
    if (json_array_size(evals) == 0)
        missing(p, "evaluations (no Evaluate execution has read this model yet)");
out:
    json_decref(evals);
    lnode_free(&x);
    free(ev.v);
    return rc;
}

/* ---- entry point ---------------------------------------------------------------------------- */

int lineage_model_provenance(lineage_t *lg, slice model, int64_t model_version, json_t **out,
                             strata_err *err)
{
    prov p = {0};
    lnode m;
    int rc = 0;
    int64_t id = 0;
    json_t *res = NULL, *versions = json_array();
    lnode_init(&m);
    *out = NULL;
    if (!text_valid_name(model)) {
        char ex[80];
        text_excerpt(model, ex, sizeof ex);
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "model name \"%s\" is invalid: expected [a-z][a-z0-9_]{0,63}", ex);
        goto out;
    }
    if (model_version < 0) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "version must be a positive integer");
        goto out;
    }
    p.lg = lg;
    p.err = err;
    p.snap = store_snapshot_take(lg->st);
    p.it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, p.snap);
    p.missing = json_array();
    p.truncated = json_array();
    p.t_model = type_id(lg, LINEAGE_ARTIFACT, "Model");
    p.t_dataset = type_id(lg, LINEAGE_ARTIFACT, "Dataset");
    p.t_featureset = type_id(lg, LINEAGE_ARTIFACT, "FeatureSet");
    p.t_source = type_id(lg, LINEAGE_ARTIFACT, "SourceFile");
    p.t_metrics = type_id(lg, LINEAGE_ARTIFACT, "Metrics");
    p.t_fairness = type_id(lg, LINEAGE_ARTIFACT, "FairnessReport");
    p.t_train = type_id(lg, LINEAGE_EXECUTION, "Train");
    p.t_export = type_id(lg, LINEAGE_EXECUTION, "Export");
    p.t_import = type_id(lg, LINEAGE_EXECUTION, "Import");
    p.t_evaluate = type_id(lg, LINEAGE_EXECUTION, "Evaluate");

    char name[LIMIT_NAME_MAX + 1];
    memcpy(name, model.p, model.n);
    name[model.n] = '\0';
    if ((rc = find_model(&p, model, model_version, &id, versions)))
        goto out;
    if (id == 0) {
        if (json_array_size(versions) == 0) {
            rc = err_set(err, STRATA_NOT_FOUND, "model \"%s\" not found", name);
        } else {
            char *vs = json_dumps(versions, JSON_COMPACT);
            rc = err_set(err, STRATA_NOT_FOUND, "model \"%s\" has no version %lld (versions: %s)",
                         name, (long long)model_version, vs ? vs : "?");
            free(vs);
        }
        goto out;
    }
    if ((rc = lg_node_read(lg, p.snap, LINEAGE_ARTIFACT, id, &m, err)))
        goto out;

    res = json_object();
    int64_t got = 0;
    {
        slice nm = buf_slice(&m.name);
        parse_version((slice){nm.p + model.n + 1, nm.n - model.n - 1}, &got);
    }
    json_object_set_new(res, "model",
                        json_pack("{s:s,s:I,s:O,s:o}", "name", name, "version", (json_int_t)got,
                                  "versions", versions, "artifact", lg_node_json(lg, &m)));
    if ((rc = training_section(&p, &m, res)) || (rc = evaluations_section(&p, &m, res)))
        goto out;
    json_object_set_new(res, "complete", json_boolean(json_array_size(p.missing) == 0));
    json_object_set(res, "missing", p.missing);
    json_object_set(res, "truncated", p.truncated);
    *out = res;
    res = NULL;
out:
    json_decref(res);
    json_decref(versions);
    json_decref(p.missing);
    json_decref(p.truncated);
    free(p.imports.v);
    store_iter_close(p.it);
    store_snapshot_release(lg->st, p.snap);
    lnode_free(&m);
    return rc;
}
