/*
 * test_lineage.c - lineage/: key and record codecs, validation, ML Metadata's
 * type evolution rules (pure), and over a real store in a temporary
 * directory: built-in types, the capture API's all-or-nothing runs, history
 * and as_of reads, and traversal paging.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lineage/lineage_int.h"
#include "store/store.h"

/* ---- helpers ---------------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static lprop *props_of(const char *json, size_t *n)
{
    json_t *j = json_loads(json, 0, NULL);
    lprop *p = NULL;
    assert_non_null(j);
    assert_int_equal(lprops_parse(j, &p, n, NULL), 0);
    json_decref(j);
    return p;
}

/* ---- keys ------------------------------------------------------------------- */

static void test_node_keys_sort_numerically(void **state)
{
    (void)state;
    buf a = BUF_INIT, b = BUF_INIT;
    lkey_node(&a, LINEAGE_ARTIFACT, 255);
    lkey_node(&b, LINEAGE_ARTIFACT, 256);
    assert_true(slice_cmp(buf_slice(&a), buf_slice(&b)) < 0);
    assert_int_equal(a.n, 10);
    assert_int_equal((unsigned char)a.p[0], LK_NODE);
    /* Kinds never interleave. */
    lkey_node(&b, LINEAGE_EXECUTION, 1);
    assert_true(slice_cmp(buf_slice(&a), buf_slice(&b)) < 0);
    buf_free(&a);
    buf_free(&b);
}

static void test_uri_prefix_is_exact(void **state)
{
    (void)state;
    buf p = BUF_INIT, k1 = BUF_INIT, k2 = BUF_INIT;
    lkey_by_uri(&p, LINEAGE_ARTIFACT, slice_of("s3://a"), 0);
    lkey_by_uri(&k1, LINEAGE_ARTIFACT, slice_of("s3://a"), 7);
    lkey_by_uri(&k2, LINEAGE_ARTIFACT, slice_of("s3://ab"), 7);
    assert_int_equal(k1.n, p.n + 8);
    assert_memory_equal(k1.p, p.p, p.n);
    /* "s3://ab" does not share the "s3://a\0" prefix. */
    assert_true(k2.n < p.n || memcmp(k2.p, p.p, p.n) != 0);
    assert_int_equal(lkey_trailing_id(buf_slice(&k1)), 7);
    buf_free(&p);
    buf_free(&k1);
    buf_free(&k2);
}

static void test_pair_keys_round_trip(void **state)
{
    (void)state;
    buf k = BUF_INIT;
    int64_t a, b;
    int t;
    lkey_pair(&k, LK_EVENT_BY_EXEC, 5, 1ll << 40, LINEAGE_EVENT_OUTPUT);
    assert_int_equal(k.n, 19);
    assert_int_equal((unsigned char)k.p[1], 5); /* the stream: the first id's low byte */
    assert_int_equal(lkey_pair_decode(buf_slice(&k), &a, &b, &t), 0);
    assert_int_equal(a, 5);
    assert_int_equal(b, 1ll << 40);
    assert_int_equal(t, LINEAGE_EVENT_OUTPUT);
    lkey_pair(&k, LK_ATTR_BY_CTX, 9, 3, 0);
    assert_int_equal(k.n, 18);
    assert_int_equal(lkey_pair_decode(buf_slice(&k), &a, &b, &t), 0);
    assert_int_equal(t, 0);
    /* A stream byte that does not match the first id is a malformed key. */
    k.p[1] = 10;
    assert_int_equal(lkey_pair_decode(buf_slice(&k), &a, &b, &t), -1);
    lkey_pair(&k, LK_ATTR_BY_CTX, 9, 0, 0); /* a prefix */
    assert_int_equal(k.n, 10);
    assert_int_equal(lkey_pair_decode(buf_slice(&k), &a, &b, &t), -1);
    buf_free(&k);
}

/* ---- records ---------------------------------------------------------------- */

static void test_node_record_round_trip(void **state)
{
    (void)state;
    lnode n, m;
    buf v = BUF_INIT;
    lnode_init(&n);
    lnode_init(&m);
    n.kind = LINEAGE_ARTIFACT;
    n.id = 42;
    n.type_id = 7;
    n.version = 3;
    n.create_time = -5;
    n.update_time = 1700000000123456;
    n.state = 2;
    n.has_name = true;
    buf_append_str(&n.name, "ds");
    n.has_uri = true; /* an empty uri is present, not absent */
    n.props = json_pack("{s:i,s:f}", "rows", 3, "ratio", 0.5);
    n.custom = json_pack("{s:[i,i]}", "x", 1, 2);
    lnode_encode(&n, &v);
    assert_int_equal(lnode_decode(LINEAGE_ARTIFACT, 42, buf_slice(&v), &m, NULL), 0);
    assert_int_equal(m.type_id, 7);
    assert_int_equal(m.version, 3);
    assert_int_equal(m.create_time, -5);
    assert_int_equal(m.update_time, 1700000000123456);
    assert_int_equal(m.state, 2);
    assert_true(m.has_name && m.has_uri && !m.has_extid);
    assert_int_equal(m.uri.n, 0);
    assert_memory_equal(m.name.p, "ds", 2);
    assert_true(json_equal(m.props, n.props));
    assert_true(json_equal(m.custom, n.custom));
    /* Truncation anywhere is refused, never misread. */
    for (size_t cut = 0; cut < v.n; cut++) {
        strata_err err = STRATA_ERR_INIT;
        assert_int_equal(lnode_decode(LINEAGE_ARTIFACT, 42, (slice){v.p, cut}, &m, &err),
                         STRATA_CORRUPT);
        err_clear(&err);
    }
    lnode_free(&n);
    lnode_free(&m);
    buf_free(&v);
}

static void test_event_and_link_records(void **state)
{
    (void)state;
    buf v = BUF_INIT;
    int64_t t;
    slice path;
    levent_encode(123, slice_of("[{\"key\":\"a\"}]"), &v);
    assert_int_equal(levent_decode(buf_slice(&v), &t, &path), 0);
    assert_int_equal(t, 123);
    assert_true(slice_eq_str(path, "[{\"key\":\"a\"}]"));
    assert_int_equal(levent_decode((slice){v.p, v.n - 1}, &t, &path), -1);
    llink_encode(-9, &v);
    assert_int_equal(llink_decode(buf_slice(&v), &t), 0);
    assert_int_equal(t, -9);
    assert_int_equal(llink_decode((slice){v.p, 3}, &t), -1);
    buf_free(&v);
}

static void test_type_record_round_trip(void **state)
{
    (void)state;
    ltype t = {0}, *u = NULL;
    buf v = BUF_INIT;
    t.id = 11;
    t.kind = LINEAGE_EXECUTION;
    t.name = "Train.v2";
    t.props = props_of("{\"lr\":\"DOUBLE\",\"hp\":\"STRUCT\"}", &t.nprops);
    t.create_time = 1;
    t.update_time = 2;
    ltype_encode(&t, &v);
    assert_int_equal(ltype_decode(LINEAGE_EXECUTION, buf_slice(&v), &u, NULL), 0);
    assert_int_equal(u->id, 11);
    assert_string_equal(u->name, "Train.v2");
    assert_int_equal(u->nprops, 2);
    assert_string_equal(u->props[0].name, "hp"); /* sorted */
    assert_int_equal(u->props[1].type, LP_DOUBLE);
    assert_non_null(ltype_prop(u, slice_of("lr")));
    assert_null(ltype_prop(u, slice_of("l")));
    ltype_free(u);
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(ltype_decode(LINEAGE_EXECUTION, slice_of("{\"id\":1}"), &u, &err),
                     STRATA_CORRUPT);
    err_clear(&err);
    lprops_free(t.props, t.nprops);
    buf_free(&v);
}

/* ---- validation ----------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    assert_true(lvalid_type_name(slice_of("Dataset")));
    assert_true(lvalid_type_name(slice_of("tfx.Model_v2")));
    assert_false(lvalid_type_name(slice_of("")));
    assert_false(lvalid_type_name(slice_of("2Model")));
    assert_false(lvalid_type_name(slice_of("_Model")));
    assert_false(lvalid_type_name(slice_of("Mo-del")));
    char long_name[130];
    memset(long_name, 'a', 129);
    long_name[129] = '\0';
    assert_false(lvalid_type_name(slice_of(long_name)));
    long_name[128] = '\0';
    assert_true(lvalid_type_name(slice_of(long_name)));
    assert_true(lvalid_property_name(slice_of("_rows2")));
    assert_false(lvalid_property_name(slice_of("a.b")));
    assert_false(lvalid_text((slice){"a\0b", 3}, 10));
    assert_false(lvalid_text(slice_of(""), 10));
    assert_int_equal(lstate_parse(LINEAGE_ARTIFACT, slice_of("LIVE")), 2);
    assert_int_equal(lstate_parse(LINEAGE_EXECUTION, slice_of("LIVE")), -1);
    assert_int_equal(lstate_parse(LINEAGE_CONTEXT, slice_of("LIVE")), -1);
    assert_string_equal(
        lstate_name(LINEAGE_EXECUTION, lstate_parse(LINEAGE_EXECUTION, slice_of("CANCELED"))),
        "CANCELED");
}

static void test_props_parse_errors(void **state)
{
    (void)state;
    const char *bad[] = {"{\"a\":\"FLOAT\"}", "{\"a.b\":\"INT\"}", "{\"a\":1}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        lprop *p = NULL;
        size_t n = 0;
        strata_err err = STRATA_ERR_INIT;
        assert_int_equal(lprops_parse(j, &p, &n, &err), STRATA_INVALID_ARGUMENT);
        assert_null(p);
        err_clear(&err);
        json_decref(j);
    }
}

/* ---- type evolution --------------------------------------------------------------- */

typedef struct evo_case {
    const char *old, *req;
    bool add, omit;
    int want;
    const char *names_prop; /* the property the error must name */
    const char *merged;     /* expected merged properties when accepted */
    bool changed;
} evo_case;

static void test_type_evolution_rules(void **state)
{
    (void)state;
    static const evo_case cases[] = {
        {"{\"a\":\"INT\"}", "{\"a\":\"INT\"}", false, false, 0, NULL, "{\"a\":\"INT\"}", false},
        {"{\"a\":\"INT\"}", "{\"a\":\"DOUBLE\"}", true, true, STRATA_ALREADY_EXISTS, "\"a\"", NULL,
         false},
        {"{\"a\":\"INT\"}", "{\"a\":\"INT\",\"b\":\"BOOL\"}", false, false, STRATA_ALREADY_EXISTS,
         "\"b\"", NULL, false},
        {"{\"a\":\"INT\"}", "{\"a\":\"INT\",\"b\":\"BOOL\"}", true, false, 0, NULL,
         "{\"a\":\"INT\",\"b\":\"BOOL\"}", true},
        {"{\"a\":\"INT\",\"b\":\"BOOL\"}", "{\"b\":\"BOOL\"}", false, false, STRATA_ALREADY_EXISTS,
         "\"a\"", NULL, false},
        {"{\"a\":\"INT\",\"b\":\"BOOL\"}", "{\"b\":\"BOOL\"}", false, true, 0, NULL,
         "{\"a\":\"INT\",\"b\":\"BOOL\"}", false},
        {"{\"a\":\"INT\",\"b\":\"BOOL\"}", "{\"b\":\"BOOL\",\"c\":\"STRUCT\"}", true, true, 0, NULL,
         "{\"a\":\"INT\",\"b\":\"BOOL\",\"c\":\"STRUCT\"}", true},
        {"{}", "{}", false, false, 0, NULL, "{}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const evo_case *c = &cases[i];
        size_t no, nr, nm = 0, nwant;
        lprop *o = props_of(c->old, &no), *r = props_of(c->req, &nr), *m = NULL;
        bool changed = true;
        strata_err err = STRATA_ERR_INIT;
        int rc = ltype_evolve("T", o, no, r, nr, c->add, c->omit, &m, &nm, &changed, &err);
        assert_int_equal(rc, c->want);
        if (rc) {
            assert_non_null(strstr(err.message, c->names_prop));
            assert_null(m);
        } else {
            lprop *w = props_of(c->merged, &nwant);
            assert_int_equal(nm, nwant);
            for (size_t k = 0; k < nm; k++) {
                assert_string_equal(m[k].name, w[k].name);
                assert_int_equal(m[k].type, w[k].type);
            }
            assert_int_equal(changed, c->changed);
            lprops_free(w, nwant);
        }
        err_clear(&err);
        lprops_free(o, no);
        lprops_free(r, nr);
        lprops_free(m, nm);
    }
}

/* ---- over a real store -------------------------------------------------------------- */

typedef struct fx {
    char dir[64];
    store_t *st;
    lineage_t *lg;
} fx;

static void fx_open(fx *f)
{
    strata_err err = STRATA_ERR_INIT;
    store_options o = {f->dir, STORE_SYNC_NEVER, (size_t)8 << 20, false};
    if (store_open(&o, &f->st, &err))
        fail_msg("store_open: %s", err.message);
    if (lineage_open(f->st, "test-build", &f->lg, &err))
        fail_msg("lineage_open: %s", err.message);
}

static void fx_close(fx *f)
{
    lineage_close(f->lg);
    store_close(f->st);
    f->lg = NULL;
    f->st = NULL;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/strata-lineage-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    fx_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fx_close(f);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static int64_t type_id(lineage_t *lg, lineage_kind k, const char *name)
{
    json_t *t = NULL;
    assert_int_equal(lineage_type_get(lg, k, slice_of(name), &t, NULL), 0);
    int64_t id = json_integer_value(json_object_get(t, "id"));
    json_decref(t);
    return id;
}

static void test_builtins_idempotent_across_reopen(void **state)
{
    fx *f = *state;
    const char *arts[] = {"Dataset", "FeatureSet", "SourceFile",
                          "Model",   "Metrics",    "FairnessReport"};
    int64_t ids[6];
    for (int i = 0; i < 6; i++)
        ids[i] = type_id(f->lg, LINEAGE_ARTIFACT, arts[i]);
    type_id(f->lg, LINEAGE_EXECUTION, "Train");
    type_id(f->lg, LINEAGE_CONTEXT, "Schedule");
    fx_close(f);
    fx_open(f);
    for (int i = 0; i < 6; i++)
        assert_int_equal(type_id(f->lg, LINEAGE_ARTIFACT, arts[i]), ids[i]);
    json_t *items = json_array();
    bool more = true;
    assert_int_equal(
        lineage_type_list(f->lg, LINEAGE_EXECUTION, (slice){NULL, 0}, 100, items, &more, NULL), 0);
    assert_int_equal(json_array_size(items), 4);
    assert_false(more);
    json_decref(items);
}

static void test_record_run_and_atomicity(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    json_t *hp = json_pack("{s:{s:f,s:i}}", "hyperparameters", "l2", 0.1, "max_iterations", 50);
    json_t *rows = json_pack("{s:i}", "rows", 10);
    lineage_artifact_ref in[] = {
        {.type = "SourceFile", .name = "a.csv", .uri = "file:///a.csv", .path_key = "source"}};
    lineage_artifact_ref out[] = {{.type = "Model", .name = "credit@1"},
                                  {.type = "Dataset", .properties = rows}};
    lineage_context_ref ctx[] = {{.type = "Study", .name = "credit"}};
    lineage_run run = {.execution_type = "Train",
                       .properties = hp,
                       .inputs = in,
                       .ninputs = 1,
                       .outputs = out,
                       .noutputs = 2,
                       .contexts = ctx,
                       .ncontexts = 1};
    int64_t in_ids[1], out_ids[2], ctx_ids[1];
    lineage_run_ids ids = {0, in_ids, out_ids, ctx_ids};
    assert_int_equal(lineage_record_run(f->lg, &run, &ids, &err), 0);
    assert_int_equal(ids.execution_id, 1);
    assert_int_equal(in_ids[0], 1);

    json_t *e = NULL;
    assert_int_equal(lineage_node_get(f->lg, LINEAGE_EXECUTION, 1, &e, NULL), 0);
    json_t *props = json_object_get(e, "properties");
    assert_string_equal(json_string_value(json_object_get(props, "code_version")), "test-build");
    assert_string_equal(json_string_value(json_object_get(e, "state")), "COMPLETE");
    json_decref(e);

    /* The same source file in a second run is the same artifact. */
    int64_t again = 0;
    bool created = true;
    assert_int_equal(lineage_artifact_find_or_create(f->lg, &in[0], &again, &created, NULL), 0);
    assert_int_equal(again, in_ids[0]);
    assert_false(created);

    /* A run with one bad output stores nothing: no execution, no artifacts. */
    json_t *bad = json_pack("{s:s}", "rows", "ten");
    lineage_artifact_ref out2[] = {{.type = "Dataset", .name = "fresh"},
                                   {.type = "Dataset", .properties = bad}};
    run.outputs = out2;
    assert_int_equal(lineage_record_run(f->lg, &run, &ids, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "outputs[1]"));
    assert_non_null(strstr(err.message, "rows"));
    err_clear(&err);
    assert_int_equal(lineage_node_get(f->lg, LINEAGE_EXECUTION, 2, &e, &err), STRATA_NOT_FOUND);
    err_clear(&err);
    json_t *items = json_array();
    buf next = BUF_INIT;
    lineage_query q = {.name = slice_of("fresh"), .limit = 10};
    assert_int_equal(lineage_node_list(f->lg, LINEAGE_ARTIFACT, &q, items, &next, NULL), 0);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    /* The rolled-back run's name claim left nothing behind (not even in the
     * write path's name cache): "fresh" is made now, then found. */
    lineage_artifact_ref fresh = {.type = "Dataset", .name = "fresh"};
    int64_t fresh_id = 0, fresh_again = 0;
    assert_int_equal(lineage_artifact_find_or_create(f->lg, &fresh, &fresh_id, &created, NULL), 0);
    assert_true(created);
    assert_int_equal(lineage_artifact_find_or_create(f->lg, &fresh, &fresh_again, &created, NULL),
                     0);
    assert_false(created);
    assert_int_equal(fresh_again, fresh_id);

    /* Ids continue where the committed run left them, also after a reopen. */
    fx_close(f);
    fx_open(f);
    int64_t nid = 0;
    lineage_node_spec spec = {.type = slice_of("Dataset"), .name = slice_of("after")};
    assert_int_equal(lineage_node_create(f->lg, LINEAGE_ARTIFACT, &spec, &nid, NULL, NULL), 0);
    assert_int_equal(nid, out_ids[1] + 2); /* "fresh" took out_ids[1] + 1 */

    assert_int_equal(lineage_execution_set_state(f->lg, 1, "FAILED", NULL, NULL), 0);
    assert_int_equal(lineage_node_get(f->lg, LINEAGE_EXECUTION, 1, &e, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(e, "state")), "FAILED");
    assert_int_equal(json_integer_value(json_object_get(e, "version")), 2);
    json_decref(e);
    buf_free(&next);
    json_decref(bad);
    json_decref(hp);
    json_decref(rows);
}

static void test_history_and_as_of(void **state)
{
    fx *f = *state;
    lineage_node_spec spec = {.type = slice_of("Model"), .name = slice_of("m")};
    int64_t id = 0;
    json_t *props = json_pack("{s:i}", "version", 1), *node = NULL;
    spec.properties = props;
    assert_int_equal(lineage_node_create(f->lg, LINEAGE_ARTIFACT, &spec, &id, &node, NULL), 0);
    json_decref(node);
    lnode n;
    lnode_init(&n);
    assert_int_equal(lg_node_read(f->lg, NULL, LINEAGE_ARTIFACT, id, &n, NULL), 0);
    int64_t t1 = n.update_time;
    for (int v = 2; v <= 4; v++) {
        json_t *pv = json_pack("{s:i}", "version", v);
        lineage_node_patch p = {.properties = pv};
        assert_int_equal(lineage_node_update(f->lg, LINEAGE_ARTIFACT, id, &p, NULL, NULL), 0);
        json_decref(pv);
    }
    /* A stale if_update_time is refused and stores nothing. */
    lineage_node_patch stale = {.if_update_time = &t1};
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(lineage_node_update(f->lg, LINEAGE_ARTIFACT, id, &stale, NULL, &err),
                     STRATA_FAILED_PRECONDITION);
    err_clear(&err);
    /* As of t1 the node is its first version. */
    assert_int_equal(lg_node_read_as_of(f->lg, NULL, LINEAGE_ARTIFACT, id, t1, &n, NULL), 0);
    assert_int_equal(n.version, 1);
    assert_int_equal(json_integer_value(json_object_get(n.props, "version")), 1);
    assert_int_equal(lg_node_read_as_of(f->lg, NULL, LINEAGE_ARTIFACT, id, t1 - 1, &n, &err),
                     STRATA_NOT_FOUND);
    err_clear(&err);
    json_t *items = json_array();
    bool more = true;
    assert_int_equal(lineage_node_history(f->lg, LINEAGE_ARTIFACT, id, 0, 3, items, &more, NULL),
                     0);
    assert_int_equal(json_array_size(items), 3);
    assert_true(more);
    json_decref(items);
    items = json_array();
    assert_int_equal(lineage_node_history(f->lg, LINEAGE_ARTIFACT, id, 3, 3, items, &more, NULL),
                     0);
    assert_int_equal(json_array_size(items), 1);
    assert_false(more);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "version")), 4);
    json_decref(items);
    lnode_free(&n);
    json_decref(props);
}

/* A chain d0 → t1 → d1 → t2 → d2 … and the paged traversal covers it exactly. */
static void test_graph_paging_covers_everything_once(void **state)
{
    fx *f = *state;
    int64_t prev = 0;
    for (int i = 0; i < 30; i++) {
        char name[16];
        snprintf(name, sizeof name, "d%d", i + 1);
        lineage_artifact_ref in[] = {{.id = prev, .type = "Dataset", .name = "d0"}};
        lineage_artifact_ref out[] = {{.type = "Dataset", .name = name}};
        int64_t out_id;
        lineage_run_ids ids = {0, NULL, &out_id, NULL};
        lineage_run run = {
            .execution_type = "Export", .inputs = in, .ninputs = 1, .outputs = out, .noutputs = 1};
        assert_int_equal(lineage_record_run(f->lg, &run, &ids, NULL), 0);
        prev = out_id;
    }
    lineage_graph_query q = {.start_kind = LINEAGE_ARTIFACT,
                             .start_ids = &prev,
                             .nstart = 1,
                             .direction = LINEAGE_UPSTREAM,
                             .max_hops = 100,
                             .as_of = INT64_MAX,
                             .limit = 1000};
    json_t *all = NULL;
    bool more = true;
    assert_int_equal(lineage_graph(f->lg, &q, &all, &more, NULL), 0);
    assert_false(more);
    assert_int_equal(json_array_size(json_object_get(all, "artifacts")), 31);
    assert_int_equal(json_array_size(json_object_get(all, "executions")), 30);
    assert_int_equal(json_array_size(json_object_get(all, "events")), 60);
    size_t nodes = 0, events = 0;
    q.limit = 7;
    for (q.offset = 0;; q.offset += q.limit) {
        json_t *page = NULL;
        assert_int_equal(lineage_graph(f->lg, &q, &page, &more, NULL), 0);
        nodes += json_array_size(json_object_get(page, "artifacts")) +
                 json_array_size(json_object_get(page, "executions"));
        events += json_array_size(json_object_get(page, "events"));
        json_decref(page);
        if (!more)
            break;
    }
    assert_int_equal(nodes, 61);
    assert_int_equal(events, 60);
    /* max_hops 2 from the end: the last dataset, its producer, that one's input. */
    q.limit = 1000;
    q.offset = 0;
    q.max_hops = 2;
    json_t *two = NULL;
    assert_int_equal(lineage_graph(f->lg, &q, &two, &more, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(two, "artifacts")), 2);
    assert_int_equal(json_array_size(json_object_get(two, "executions")), 1);
    assert_int_equal(json_array_size(json_object_get(two, "events")), 2);
    json_decref(two);
    json_decref(all);
}


/* Inside one transaction: a key looked up free and then claimed is taken; an
 * event or link of a node made in the transaction (checked among the claims
 * only, no store read) is still refused or found the second time. */
static void test_txn_claims_and_new_node_edges(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    lineage_node_spec ctx_spec = {.type = slice_of("Study"), .name = slice_of("s")};
    int64_t ctx_id = 0;
    assert_int_equal(lineage_node_create(f->lg, LINEAGE_CONTEXT, &ctx_spec, &ctx_id, NULL, NULL),
                     0);

    lg_txn tx;
    lnode a, x;
    lnode_init(&a);
    lnode_init(&x);
    lg_txn_begin(f->lg, &tx);
    buf key = BUF_INIT;
    int64_t got = 0;
    lkey_by_name(&key, LINEAGE_ARTIFACT, type_id(f->lg, LINEAGE_ARTIFACT, "Dataset"),
                 slice_of("d"));
    assert_int_equal(lg_txn_lookup(&tx, buf_slice(&key), &got, NULL), 0);
    assert_int_equal(lg_txn_lookup(&tx, buf_slice(&key), &got, NULL), 0); /* cached free */
    lineage_node_spec as = {.type = slice_of("Dataset"), .name = slice_of("d")};
    assert_int_equal(lg_stage_node_create(&tx, LINEAGE_ARTIFACT, &as, &a, NULL), 0);
    assert_int_equal(lg_txn_lookup(&tx, buf_slice(&key), &got, NULL), 1);
    assert_int_equal(got, a.id);
    /* The same name again in the same transaction is taken. */
    lnode dup;
    lnode_init(&dup);
    assert_int_equal(lg_stage_node_create(&tx, LINEAGE_ARTIFACT, &as, &dup, &err),
                     STRATA_ALREADY_EXISTS);
    err_clear(&err);
    lnode_free(&dup);
    lineage_node_spec xs = {.type = slice_of("Train")};
    assert_int_equal(lg_stage_node_create(&tx, LINEAGE_EXECUTION, &xs, &x, NULL), 0);
    assert_true(lg_txn_created(&tx, LINEAGE_EXECUTION, x.id));
    assert_false(lg_txn_created(&tx, LINEAGE_CONTEXT, ctx_id));
    assert_int_equal(lg_stage_event(&tx, a.id, x.id, LINEAGE_EVENT_OUTPUT, NULL, NULL), 0);
    assert_int_equal(lg_stage_event(&tx, a.id, x.id, LINEAGE_EVENT_OUTPUT, NULL, &err),
                     STRATA_ALREADY_EXISTS);
    err_clear(&err);
    bool made = false;
    assert_int_equal(lg_stage_link(&tx, LK_ATTR_BY_CTX, ctx_id, a.id, &made, NULL), 0);
    assert_true(made);
    assert_int_equal(lg_stage_link(&tx, LK_ATTR_BY_CTX, ctx_id, a.id, &made, NULL), 0);
    assert_false(made);
    assert_int_equal(lg_txn_commit(&tx, NULL), 0);

    /* Committed: the event is refused again through the store read. */
    assert_int_equal(lineage_event_put(f->lg, a.id, x.id, LINEAGE_EVENT_OUTPUT, NULL, NULL, &err),
                     STRATA_ALREADY_EXISTS);
    err_clear(&err);
    assert_int_equal(lineage_attribution_put(f->lg, ctx_id, a.id, &made, NULL), 0);
    assert_false(made);
    json_t *items = json_array();
    buf next = BUF_INIT;
    assert_int_equal(lineage_event_list(f->lg, LINEAGE_EXECUTION, x.id, (slice){NULL, 0}, 10, items,
                                        &next, NULL),
                     0);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
    buf_free(&next);
    buf_free(&key);
    lnode_free(&a);
    lnode_free(&x);
}

/* Node counters are no longer written, but a data directory from an earlier
 * build holds them: a counter above the last stored node is still honoured,
 * so no id it handed out is reused. */
static void test_legacy_counter_is_honoured(void **state)
{
    fx *f = *state;
    int64_t id = 0;
    lineage_node_spec spec = {.type = slice_of("Dataset")};
    assert_int_equal(lineage_node_create(f->lg, LINEAGE_ARTIFACT, &spec, &id, NULL, NULL), 0);
    assert_int_equal(id, 1);
    buf k = BUF_INIT, v = BUF_INIT;
    lkey_counter(&k, LINEAGE_ARTIFACT);
    assert_int_equal(store_kv_get(f->st, STORE_SPACE_LINEAGE, NULL, buf_slice(&k), &v, NULL),
                     STRATA_NOT_FOUND);
    store_batch *b = store_batch_new();
    buf_put_u64le(&v, 40);
    store_batch_put(b, STORE_SPACE_LINEAGE, buf_slice(&k), buf_slice(&v));
    assert_int_equal(store_batch_commit(f->st, b, false, NULL), 0);
    store_batch_free(b);
    fx_close(f);
    fx_open(f);
    assert_int_equal(lineage_node_create(f->lg, LINEAGE_ARTIFACT, &spec, &id, NULL, NULL), 0);
    assert_int_equal(id, 41);
    /* Ids in the gap were never nodes: still unknown, read from the store. */
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(lineage_attribution_put(f->lg, 1, 20, NULL, &err), STRATA_NOT_FOUND);
    err_clear(&err);
    lineage_artifact_ref in[] = {{.id = 20}};
    lineage_run run = {.execution_type = "Export", .inputs = in, .ninputs = 1};
    assert_int_equal(lineage_record_run(f->lg, &run, NULL, &err), STRATA_NOT_FOUND);
    assert_non_null(strstr(err.message, "artifact 20 not found"));
    err_clear(&err);
    in[0].id = 41;
    assert_int_equal(lineage_record_run(f->lg, &run, NULL, NULL), 0);
    /* And without a counter, the last node: 42 next, also after a reopen. */
    fx_close(f);
    fx_open(f);
    assert_int_equal(lineage_node_create(f->lg, LINEAGE_ARTIFACT, &spec, &id, NULL, NULL), 0);
    assert_int_equal(id, 42);
    buf_free(&k);
    buf_free(&v);
}

/* Format 2 puts a stream byte (the first id's low byte) after the tag of
 * pair and by-type keys: ids 1 and 257 share a stream, so each anchor's
 * prefix must still hold only its own edges, in order, across pages. */
static void test_streams_keep_each_anchor_apart(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    lineage_node_spec ds = {.type = slice_of("Dataset")};
    lineage_node_spec st = {.type = slice_of("Study"), .name = slice_of("s1")};
    lineage_node_spec st2 = {.type = slice_of("Study"), .name = slice_of("s2")};
    int64_t id = 0, c1 = 0, c2 = 0;
    assert_int_equal(lineage_node_create(f->lg, LINEAGE_CONTEXT, &st, &c1, NULL, NULL), 0);
    assert_int_equal(lineage_node_create(f->lg, LINEAGE_CONTEXT, &st2, &c2, NULL, NULL), 0);
    for (int i = 1; i <= 300; i++) {
        assert_int_equal(lineage_node_create(f->lg, LINEAGE_ARTIFACT, &ds, &id, NULL, NULL), 0);
        assert_int_equal(id, i);
        /* Every artifact in s1; 1 and 257 (one stream) also in s2. */
        assert_int_equal(lineage_attribution_put(f->lg, c1, id, NULL, &err), 0);
        if (i == 1 || i == 257)
            assert_int_equal(lineage_attribution_put(f->lg, c2, id, NULL, &err), 0);
    }
    buf next = BUF_INIT, cur = BUF_INIT;
    int64_t want = 1;
    do {
        json_t *items = json_array();
        assert_int_equal(lineage_related_list(f->lg, LINEAGE_REL_CONTEXT_ARTIFACTS, c1,
                                              buf_slice(&cur), 64, items, &next, &err),
                         0);
        size_t i;
        json_t *it;
        json_array_foreach (items, i, it)
            assert_int_equal(json_integer_value(json_object_get(it, "id")), want++);
        json_decref(items);
        buf_reset(&cur);
        buf_append_slice(&cur, buf_slice(&next));
    } while (next.n > 0);
    assert_int_equal(want, 301);
    json_t *items = json_array();
    assert_int_equal(lineage_related_list(f->lg, LINEAGE_REL_ARTIFACT_CONTEXTS, 257,
                                          (slice){NULL, 0}, 10, items, &next, &err),
                     0);
    assert_int_equal(json_array_size(items), 2);
    json_array_clear(items);
    assert_int_equal(lineage_related_list(f->lg, LINEAGE_REL_ARTIFACT_CONTEXTS, 1 + 2 * 256,
                                          (slice){NULL, 0}, 10, items, &next, &err),
                     STRATA_NOT_FOUND);
    err_clear(&err);
    json_array_clear(items);
    assert_int_equal(lineage_related_list(f->lg, LINEAGE_REL_CONTEXT_ARTIFACTS, c2,
                                          (slice){NULL, 0}, 10, items, &next, &err),
                     0);
    assert_int_equal(json_array_size(items), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 1), "id")), 257);
    json_decref(items);
    buf_free(&next);
    buf_free(&cur);
}

/* A data directory written in another lineage format is refused at open with
 * a message naming both formats; nothing in it is changed. */
static void test_other_format_refused(void **state)
{
    fx *f = *state;
    buf k = BUF_INIT, v = BUF_INIT;
    buf_putc(&k, (char)LK_FORMAT);
    buf_append_str(&k, "format");
    assert_int_equal(store_kv_get(f->st, STORE_SPACE_LINEAGE, NULL, buf_slice(&k), &v, NULL), 0);
    assert_int_equal(v.n, 4);
    assert_int_equal(get_u32le(v.p), LINEAGE_FORMAT);
    assert_int_equal(LINEAGE_FORMAT, 2);
    /* What a build before format 2 wrote. */
    store_batch *b = store_batch_new();
    buf_reset(&v);
    buf_put_u32le(&v, 1);
    store_batch_put(b, STORE_SPACE_LINEAGE, buf_slice(&k), buf_slice(&v));
    assert_int_equal(store_batch_commit(f->st, b, false, NULL), 0);
    store_batch_free(b);
    lineage_close(f->lg);
    f->lg = NULL;
    strata_err err = STRATA_ERR_INIT;
    lineage_t *lg = NULL;
    assert_int_equal(lineage_open(f->st, "test-build", &lg, &err), STRATA_CORRUPT);
    assert_null(lg);
    assert_non_null(strstr(err.message, "lineage format 1"));
    assert_non_null(strstr(err.message, "reads format 2"));
    err_clear(&err);
    buf_reset(&v);
    assert_int_equal(store_kv_get(f->st, STORE_SPACE_LINEAGE, NULL, buf_slice(&k), &v, NULL), 0);
    assert_int_equal(get_u32le(v.p), 1);
    buf_free(&k);
    buf_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_keys_sort_numerically),
        cmocka_unit_test(test_uri_prefix_is_exact),
        cmocka_unit_test(test_pair_keys_round_trip),
        cmocka_unit_test(test_node_record_round_trip),
        cmocka_unit_test(test_event_and_link_records),
        cmocka_unit_test(test_type_record_round_trip),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_props_parse_errors),
        cmocka_unit_test(test_type_evolution_rules),
        cmocka_unit_test_setup_teardown(test_builtins_idempotent_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_run_and_atomicity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_and_as_of, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graph_paging_covers_everything_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_claims_and_new_node_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_counter_is_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_keep_each_anchor_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_format_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
