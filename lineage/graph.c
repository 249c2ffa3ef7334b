/*
 * graph.c - lineage traversal: a breadth-first walk over events from start
 * artifacts or executions, as the graph stood at as_of, answered a page at a
 * time.
 *
 * Order. Start nodes get indexes 0..s-1 (ids in the order given, or id order
 * for a filter). Nodes are then expanded in index order; expanding a node
 * scans its events in key order (other end's id, then event type) and gives
 * each newly seen neighbour the next index. The order depends only on the
 * stored graph (as of as_of), so it is the same on every run.
 *
 * Paging. A page is the index range [offset, offset + limit). An event is on
 * the page of its later endpoint (max of the two indexes), so over all pages
 * every node and every event comes exactly once. To produce a page the walk
 * expands every node with index < offset + limit (that finds every event of
 * those nodes) and stops; whether a node exists past the range says whether
 * there is a next page. Page tokens (serving/api_lineage.c) carry the offset
 * and the as_of the first page pinned, so later pages see the same graph even
 * while it grows.
 *
 * Direction. From an artifact, upstream follows OUTPUT/DECLARED_OUTPUT events
 * to the executions that wrote it; downstream follows INPUT/DECLARED_INPUT
 * events to the executions that read it. From an execution, upstream follows
 * its input events, downstream its output events. Both follows every event at
 * every hop (ML Metadata's BIDIRECTIONAL).
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "lineage/lineage_int.h"

/* ---- an open-addressing map from u64 to u32 --------------------------------------- */

typedef struct u64map {
    uint64_t *keys; /* 0 = empty slot */
    uint32_t *vals;
    size_t cap, n;
} u64map;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

static void map_free(u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static void map_grow(u64map *m);

/* 1 and *val when present; else inserts val and returns 0. */
static int map_get_or_put(u64map *m, uint64_t key, uint32_t *val)
{
    if ((m->n + 1) * 2 > m->cap)
        map_grow(m);
    size_t mask = m->cap - 1, i = (size_t)mix64(key) & mask;
    while (m->keys[i]) {
        if (m->keys[i] == key) {
            *val = m->vals[i];
            return 1;
        }
        i = (i + 1) & mask;
    }
    m->keys[i] = key;
    m->vals[i] = *val;
    m->n++;
    return 0;
}

static void map_grow(u64map *m)
{
    u64map g = {0};
    g.cap = m->cap ? m->cap * 2 : 256;
    g.keys = calloc(g.cap, sizeof *g.keys);
    g.vals = calloc(g.cap, sizeof *g.vals);
    STRATA_ASSERT(g.keys && g.vals);
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            uint32_t v = m->vals[i];
            map_get_or_put(&g, m->keys[i], &v);
        }
    map_free(m);
    *m = g;
}

/* Node keys: the kind in the top bits (ids are < 2^62 in practice; a larger
 * id would still be distinct per kind because kinds differ in bits 62..63). */
static uint64_t node_key(lineage_kind k, int64_t id)
{
    return ((uint64_t)(k + 1) << 62) ^ (uint64_t)id;
}

/* ---- the walk ------------------------------------------------------------------------ */

typedef struct gnode {
    lineage_kind kind;
    int64_t id;
    uint32_t level;
} gnode;

typedef struct walk {
    lineage_t *lg;
    store_snapshot *snap;
    const lineage_graph_query *q;
    gnode *nodes;
    size_t n, cap;
    u64map seen;
    u64map events_seen; /* events already put on this page */
    uint64_t end;       /* offset + limit */
    json_t *events;
    store_iter *it;
} walk;

static uint32_t add_node(walk *w, lineage_kind k, int64_t id, uint32_t level, bool *added)
{
    uint32_t idx = (uint32_t)w->n;
    *added = !map_get_or_put(&w->seen, node_key(k, id), &idx);
    if (!*added)
        return idx;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 256;
        gnode *g = realloc(w->nodes, w->cap * sizeof *g);
        STRATA_ASSERT(g != NULL);
        w->nodes = g;
    }
    w->nodes[w->n++] = (gnode){k, id, level};
    return idx;
}

static bool follows(lineage_kind from, int t, lineage_direction d)
{
    bool input = t == LINEAGE_EVENT_INPUT || t == LINEAGE_EVENT_DECLARED_INPUT;
    if (d == LINEAGE_BOTH)
        return true;
    /* Upstream from an artifact: its producers (output events); from an
     * execution: its inputs. Downstream the reverse. */
    bool up = from == LINEAGE_ARTIFACT ? !input : input;
    return d == LINEAGE_UPSTREAM ? up : !up;
}

static int expand(walk *w, uint32_t ix, strata_err *err)
{
    gnode x = w->nodes[ix];
    buf prefix = BUF_INIT;
    int rc = 0;
    lkey_pair(&prefix, x.kind == LINEAGE_ARTIFACT ? LK_EVENT_BY_ART : LK_EVENT_BY_EXEC, x.id, 0, 0);
    lineage_kind other = x.kind == LINEAGE_ARTIFACT ? LINEAGE_EXECUTION : LINEAGE_ARTIFACT;
    for (store_iter_seek(w->it, buf_slice(&prefix)); store_iter_valid(w->it);
         store_iter_next(w->it)) {
        slice kk = store_iter_key(w->it), val;
        int64_t a, b, time;
        int t;
        if (kk.n < prefix.n || memcmp(kk.p, prefix.p, prefix.n) != 0)
            break;
        if (lkey_pair_decode(kk, &a, &b, &t) || t == 0 ||
            levent_decode(store_iter_value(w->it), &time, &val)) {
            rc = err_set(err, STRATA_CORRUPT, "lineage: an event record is malformed");
            break;
        }
        if (time > w->q->as_of || !follows(x.kind, t, w->q->direction))
            continue;
        bool added;
        uint32_t iy = add_node(w, other, b, x.level + 1, &added);
        uint64_t page = ix > iy ? ix : iy;
        if (page < w->q->offset || page >= w->end)
            continue;
        int64_t art = x.kind == LINEAGE_ARTIFACT ? a : b, exe = x.kind == LINEAGE_ARTIFACT ? b : a;
        uint32_t dummy = 0;
        uint64_t ek = mix64((uint64_t)art * 0x9E3779B97F4A7C15u ^ (uint64_t)exe) ^ (uint64_t)t;
        if (ek == 0)
            ek = 1;
        /* A 64-bit digest of (artifact, execution, type): a collision would
         * only drop one event from one page, and needs ~2^32 events. */
        if (map_get_or_put(&w->events_seen, ek, &dummy))
            continue;
        json_t *e = lg_event_json_from_kv(kk, store_iter_value(w->it));
        if (!e) {
            rc = err_set(err, STRATA_CORRUPT, "lineage: an event record is malformed");
            break;
        }
        json_array_append_new(w->events, e);
    }
    if (!rc)
        rc = store_iter_status(w->it, err);
    buf_free(&prefix);
    return rc;
}

/* Start nodes: the ids given (each must exist at as_of), or every node of the
 * kind that the filter matches. */
static int add_starts(walk *w, strata_err *err)
{
    const lineage_graph_query *q = w->q;
    lnode n;
    int rc = 0;
    bool added;
    lnode_init(&n);
    if (q->nstart > 0) {
        for (size_t i = 0; i < q->nstart && !rc; i++) {
            /* Its own message tells "artifact 12 not found" (no such node)
             * from "did not exist yet at as_of" (created later): the
             * handler pins as_of to now even when the client gave none. */
            rc = lg_node_read_as_of(w->lg, w->snap, q->start_kind, q->start_ids[i], q->as_of, &n,
                                    err);
            if (!rc)
                add_node(w, q->start_kind, q->start_ids[i], 0, &added);
        }
        goto out;
    }
    buf prefix = BUF_INIT;
    buf_putc(&prefix, (char)LK_NODE);
    buf_putc(&prefix, (char)q->start_kind);
    store_iter *it = store_iter_open(w->lg->st, STORE_SPACE_LINEAGE, w->snap);
    for (store_iter_seek(it, buf_slice(&prefix)); store_iter_valid(it) && !rc;
         store_iter_next(it)) {
        slice kk = store_iter_key(it);
        if (kk.n != 10 || memcmp(kk.p, prefix.p, 2) != 0)
            break;
        int64_t id = (int64_t)get_u64be(kk.p + 2);
        rc = lnode_decode(q->start_kind, id, store_iter_value(it), &n, err);
        if (rc)
            break;
        if (n.create_time > q->as_of)
            continue;
        if (n.update_time > q->as_of &&
            (rc = lg_node_read_as_of(w->lg, w->snap, q->start_kind, id, q->as_of, &n, err)))
            break;
        json_t *node = lg_node_json(w->lg, &n);
        bool match = false;
        rc = lg_filter_matches(w->lg, w->snap, q->start_filter, q->start_kind, id, q->as_of, node,
                               &match, err);
        json_decref(node);
        if (!rc && match)
            add_node(w, q->start_kind, id, 0, &added);
    }
    if (!rc)
        rc = store_iter_status(it, err);
    store_iter_close(it);
    buf_free(&prefix);
    if (!rc && w->n == 0)
        rc = err_set(err, STRATA_NOT_FOUND, "no %s matches the filter%s",
                     lineage_kind_name(q->start_kind), q->as_of != INT64_MAX ? " at as_of" : "");
out:
    lnode_free(&n);
    return rc;
}

/* The contexts of node g (attributions / associations recorded by as_of) not
 * yet on this page, appended to `contexts`. Scans the links with the walk's
 * iterator and reads each context once per page: a page of a pipeline's nodes
 * shares a handful of contexts, so most links cost one key and no read. */
static int page_contexts(walk *w, gnode g, u64map *seen, json_t *contexts, lnode *c,
                         strata_err *err)
{
    buf prefix = BUF_INIT;
    int rc = 0;
    lkey_pair(&prefix, g.kind == LINEAGE_ARTIFACT ? LK_ATTR_BY_ART : LK_ASSOC_BY_EXEC, g.id, 0, 0);
    for (store_iter_seek(w->it, buf_slice(&prefix)); store_iter_valid(w->it);
         store_iter_next(w->it)) {
        slice kk = store_iter_key(w->it);
        int64_t a, b, time;
        int t;
        if (kk.n < prefix.n || memcmp(kk.p, prefix.p, prefix.n) != 0)
            break;
        if (lkey_pair_decode(kk, &a, &b, &t) || llink_decode(store_iter_value(w->it), &time)) {
            rc = err_set(err, STRATA_CORRUPT, "lineage: a context link is malformed");
            break;
        }
        uint32_t dummy = 0;
        if (time > w->q->as_of || map_get_or_put(seen, node_key(LINEAGE_CONTEXT, b), &dummy))
            continue;
        rc = lg_node_read_as_of(w->lg, w->snap, LINEAGE_CONTEXT, b, w->q->as_of, c, err);
        if (rc == STRATA_NOT_FOUND) { /* created after as_of: not a context then */
            err_clear(err);
            rc = 0;
            continue;
        }
        if (rc)
            break;
        json_array_append_new(contexts, lg_node_json(w->lg, c));
    }
    if (!rc)
        rc = store_iter_status(w->it, err);
    buf_free(&prefix);
    return rc;
}

/* Nodes of the page and their contexts, as of as_of. */
static int page_nodes(walk *w, json_t *artifacts, json_t *executions, json_t *contexts,
                      strata_err *err)
{
    lnode n, c;
    u64map ctx_seen = {0};
    int rc = 0;
    lnode_init(&n);
    lnode_init(&c);
    uint64_t end = w->end < w->n ? w->end : w->n;
    for (uint64_t i = w->q->offset; i < end && !rc; i++) {
        gnode g = w->nodes[i];
        rc = lg_node_read_as_of(w->lg, w->snap, g.kind, g.id, w->q->as_of, &n, err);
        if (rc == STRATA_NOT_FOUND) {
            /* Only an event that outlived its node could lead here; the
             * API never stores one, so show what exists rather than fail. */
            err_clear(err);
            rc = 0;
            continue;
        }
        if (rc)
            break;
        json_array_append_new(g.kind == LINEAGE_ARTIFACT ? artifacts : executions,
                              lg_node_json(w->lg, &n));
        rc = page_contexts(w, g, &ctx_seen, contexts, &c, err);
    }
    map_free(&ctx_seen);
    lnode_free(&n);
    lnode_free(&c);
    return rc;
}

int lineage_graph(lineage_t *lg, const lineage_graph_query *q, json_t **out, bool *more,
                  strata_err *err)
{
    walk w = {0};
    json_t *artifacts = json_array(), *executions = json_array(), *contexts = json_array();
    int rc = 0;
    *more = false;
    if (q->start_kind == LINEAGE_CONTEXT || (q->nstart == 0 && !q->start_filter) || q->limit == 0) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "a traversal starts from artifacts or executions, by id or by filter");
        goto out;
    }
    w.lg = lg;
    w.q = q;
    w.snap = store_snapshot_take(lg->st);
    w.end = q->offset + q->limit;
    w.events = json_array();
    w.it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, w.snap);
    if ((rc = add_starts(&w, err)))
        goto out;
    /* Expand every node of the range [0, end): that finds every event whose
     * endpoints both lie in it. */
    for (size_t head = 0; head < w.n && head < w.end && !rc; head++)
        if (w.nodes[head].level < q->max_hops)
            rc = expand(&w, (uint32_t)head, err);
    if (rc)
        goto out;
    *more = w.n > w.end;
    if ((rc = page_nodes(&w, artifacts, executions, contexts, err)))
        goto out;
    json_t *res = json_object();
    json_object_set(res, "artifacts", artifacts);
    json_object_set(res, "executions", executions);
    json_object_set(res, "events", w.events);
    json_object_set(res, "contexts", contexts);
    *out = res;
out:
    json_decref(artifacts);
    json_decref(executions);
    json_decref(contexts);
    json_decref(w.events);
    store_iter_close(w.it);
    store_snapshot_release(lg->st, w.snap);
    map_free(&w.seen);
    map_free(&w.events_seen);
    free(w.nodes);
    return rc;
}
