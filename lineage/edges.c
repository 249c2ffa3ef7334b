/*
 * edges.c - what connects nodes: events (artifact ↔ execution, with a type
 * and a path), attributions (context ↔ artifact), associations (context ↔
 * execution) and parent contexts, each stored under both of its ends so that
 * either side lists its neighbours with one prefix scan.
 *
 * Links are idempotent; events are unique per (artifact, execution, type);
 * parent contexts never form a cycle (checked by walking the new parent's
 * ancestors before the link is staged).
 */
#include <stdlib.h>
#include <string.h>

#include "base/jsonw.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "lineage/lineage_int.h"

static const char *const event_names[] = {NULL, "DECLARED_OUTPUT", "DECLARED_INPUT", "INPUT",
                                          "OUTPUT"};

const char *lineage_event_type_name(lineage_event_type t)
{
    return t >= LINEAGE_EVENT_DECLARED_OUTPUT && t <= LINEAGE_EVENT_OUTPUT ? event_names[t]
                                                                           : "UNKNOWN";
}

int lineage_event_type_parse(slice s, lineage_event_type *out)
{
    for (int t = LINEAGE_EVENT_DECLARED_OUTPUT; t <= LINEAGE_EVENT_OUTPUT; t++)
        if (slice_eq_str(s, event_names[t])) {
            *out = (lineage_event_type)t;
            return 0;
        }
    return -1;
}

/* ---- events -------------------------------------------------------------------- */

/* Check a path and write its canonical compact JSON: an array of
 * {"index":n} / {"key":"s"} steps, exactly as given. */
static int path_canonical(const json_t *path, buf *out, strata_err *err)
{
    buf_reset(out);
    if (!path || json_is_null(path)) {
        buf_append_str(out, "[]");
        return 0;
    }
    if (!json_is_array(path))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "\"path\" must be an array of steps, each {\"index\":n} or {\"key\":\"s\"}");
    if (json_array_size(path) > LINEAGE_PATH_STEPS_MAX)
        return err_set(err, STRATA_INVALID_ARGUMENT, "\"path\" has more than %u steps",
                       LINEAGE_PATH_STEPS_MAX);
    size_t i;
    json_t *step;
    buf_putc(out, '[');
    json_array_foreach (path, i, step) {
        json_t *idx = json_is_object(step) ? json_object_get(step, "index") : NULL;
        json_t *key = json_is_object(step) ? json_object_get(step, "key") : NULL;
        if (!json_is_object(step) || json_object_size(step) != 1 || (!idx && !key))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "path[%zu] must be {\"index\":n} or {\"key\":\"s\"}", i);
        if (idx && !json_is_integer(idx))
            return err_set(err, STRATA_INVALID_ARGUMENT, "path[%zu].index must be an integer", i);
        if (key && (!json_is_string(key) || json_string_length(key) > LINEAGE_PATH_KEY_MAX))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "path[%zu].key must be a string of at most %u bytes", i,
                           LINEAGE_PATH_KEY_MAX);
        if (i)
            buf_putc(out, ',');
        if (idx) {
            buf_append_str(out, "{\"index\":");
            jsonw_i64(out, (int64_t)json_integer_value(idx));
        } else {
            buf_append_str(out, "{\"key\":");
            jsonw_str(out, (slice){json_string_value(key), json_string_length(key)});
        }
        buf_putc(out, '}');
    }
    buf_putc(out, ']');
    return 0;
}

static int check_exists(lg_txn *tx, lineage_kind k, int64_t id, strata_err *err)
{
    int rc = lg_txn_node_exists(tx, k, id, err);
    if (rc < 0)
        return rc;
    return rc ? 0 : lg_err_not_found(err, k, id);
}

int lg_stage_event(lg_txn *tx, int64_t artifact_id, int64_t execution_id, lineage_event_type t,
                   const json_t *path, strata_err *err)
{
    buf path_json = BUF_INIT, key = BUF_INIT, val = BUF_INIT;
    int64_t dummy;
    int rc = 0;
    if (t < LINEAGE_EVENT_DECLARED_OUTPUT || t > LINEAGE_EVENT_OUTPUT) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "unknown event type");
        goto out;
    }
    if ((rc = path_canonical(path, &path_json, err)) ||
        (rc = check_exists(tx, LINEAGE_ARTIFACT, artifact_id, err)) ||
        (rc = check_exists(tx, LINEAGE_EXECUTION, execution_id, err)))
        goto out;
    lkey_pair(&key, LK_EVENT_BY_EXEC, execution_id, artifact_id, (int)t);
    if (lg_txn_created(tx, LINEAGE_EXECUTION, execution_id) ||
        lg_txn_created(tx, LINEAGE_ARTIFACT, artifact_id))
        rc = lg_txn_lookup_claims(tx, buf_slice(&key), &dummy);
    else
        rc = lg_txn_lookup(tx, buf_slice(&key), &dummy, err);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        rc = err_set(err, STRATA_ALREADY_EXISTS,
                     "an %s event of artifact %lld and execution %lld already exists",
                     lineage_event_type_name(t), (long long)artifact_id, (long long)execution_id);
        goto out;
    }
    levent_encode(tx->now, buf_slice(&path_json), &val);
    store_batch_put(tx->b, STORE_SPACE_LINEAGE, buf_slice(&key), buf_slice(&val));
    lg_txn_claim(tx, buf_slice(&key), 0);
    lkey_pair(&key, LK_EVENT_BY_ART, artifact_id, execution_id, (int)t);
    store_batch_put(tx->b, STORE_SPACE_LINEAGE, buf_slice(&key), buf_slice(&val));
    rc = 0;
out:
    buf_free(&path_json);
    buf_free(&key);
    buf_free(&val);
    return rc;
}

static json_t *event_json(int64_t artifact_id, int64_t execution_id, int t, int64_t time,
                          slice path_json)
{
    json_t *j = json_object();
    json_t *path = json_loadb(path_json.p, path_json.n, 0, NULL);
    char ts[TIME_RFC3339_MAX];
    time_format_rfc3339(time, ts, sizeof ts);
    json_object_set_new(j, "artifact_id", json_integer(artifact_id));
    json_object_set_new(j, "execution_id", json_integer(execution_id));
    json_object_set_new(j, "type", json_string(lineage_event_type_name((lineage_event_type)t)));
    json_object_set_new(j, "path", path ? path : json_array());
    json_object_set_new(j, "time", json_string(ts));
    return j;
}

json_t *lg_event_json_from_kv(slice key, slice val)
{
    int64_t a, b, time;
    int t;
    slice path;
    if (key.n < 1 || lkey_pair_decode(key, &a, &b, &t) || t == 0 ||
        levent_decode(val, &time, &path))
        return NULL;
    if (key.p[0] == LK_EVENT_BY_EXEC)
        return event_json(b, a, t, time, path);
    return event_json(a, b, t, time, path);
}

int lineage_event_put(lineage_t *lg, int64_t artifact_id, int64_t execution_id,
                      lineage_event_type t, const json_t *path, json_t **event_out, strata_err *err)
{
    lg_txn tx;
    lg_txn_begin(lg, &tx);
    int64_t now = tx.now;
    int rc = lg_stage_event(&tx, artifact_id, execution_id, t, path, err);
    if (rc) {
        lg_txn_abort(&tx);
        return rc;
    }
    rc = lg_txn_commit(&tx, err);
    if (!rc && event_out) {
        buf pj = BUF_INIT;
        path_canonical(path, &pj, NULL);
        *event_out = event_json(artifact_id, execution_id, (int)t, now, buf_slice(&pj));
        buf_free(&pj);
    }
    return rc;
}

static int node_must_exist(lineage_t *lg, const store_snapshot *snap, lineage_kind k, int64_t id,
                           strata_err *err)
{
    buf key = BUF_INIT, v = BUF_INIT;
    lkey_node(&key, k, id);
    int rc = id > 0 ? store_kv_get(lg->st, STORE_SPACE_LINEAGE, snap, buf_slice(&key), &v, err)
                    : STRATA_NOT_FOUND;
    if (rc == STRATA_NOT_FOUND)
        rc = lg_err_not_found(err, k, id);
    buf_free(&key);
    buf_free(&v);
    return rc;
}

/* Scan keys tag|id|…; the cursor is the key's suffix after the prefix. */
int lineage_event_list(lineage_t *lg, lineage_kind k, int64_t id, slice cursor, size_t limit,
                       json_t *items, buf *next, strata_err *err)
{
    store_snapshot *snap = store_snapshot_take(lg->st);
    buf prefix = BUF_INIT, seek = BUF_INIT;
    store_iter *it = NULL;
    size_t added = 0;
    buf_reset(next);
    int rc = node_must_exist(lg, snap, k, id, err);
    if (rc)
        goto out;
    if (cursor.n && cursor.n != 9) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "page_token is malformed");
        goto out;
    }
    lkey_pair(&prefix, k == LINEAGE_ARTIFACT ? LK_EVENT_BY_ART : LK_EVENT_BY_EXEC, id, 0, 0);
    buf_append(&seek, prefix.p, prefix.n);
    buf_append_slice(&seek, cursor);
    it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, snap);
    for (store_iter_seek(it, buf_slice(&seek)); store_iter_valid(it); store_iter_next(it)) {
        slice kk = store_iter_key(it);
        if (kk.n != prefix.n + 9 || memcmp(kk.p, prefix.p, prefix.n) != 0)
            break;
        if (cursor.n && memcmp(kk.p + prefix.n, cursor.p, 9) == 0)
            continue;
        if (added == limit) {
            buf_append(next, seek.p + prefix.n, seek.n - prefix.n);
            break;
        }
        json_t *e = lg_event_json_from_kv(kk, store_iter_value(it));
        if (!e) {
            rc = err_set(err, STRATA_CORRUPT, "lineage: an event record is malformed");
            goto out;
        }
        json_array_append_new(items, e);
        added++;
        buf_reset(&seek);
        buf_append(&seek, kk.p, kk.n);
    }
    rc = store_iter_status(it, err);
out:
    store_iter_close(it);
    buf_free(&prefix);
    buf_free(&seek);
    store_snapshot_release(lg->st, snap);
    return rc;
}

/* ---- links ------------------------------------------------------------------------ */

/* The kind of a link's second end (the first is always a context). */
static lineage_kind link_b_kind(int tag_fwd)
{
    return tag_fwd == LK_ATTR_BY_CTX    ? LINEAGE_ARTIFACT
           : tag_fwd == LK_ASSOC_BY_CTX ? LINEAGE_EXECUTION
                                        : LINEAGE_CONTEXT;
}

int lg_stage_link(lg_txn *tx, int tag_fwd, int64_t a, int64_t b, bool *created, strata_err *err)
{
    buf key = BUF_INIT, val = BUF_INIT;
    int64_t dummy;
    int rc;
    lkey_pair(&key, tag_fwd, a, b, 0);
    /* A link to a node made in this transaction cannot be stored yet. */
    if (lg_txn_created(tx, LINEAGE_CONTEXT, a) || lg_txn_created(tx, link_b_kind(tag_fwd), b))
        rc = lg_txn_lookup_claims(tx, buf_slice(&key), &dummy);
    else
        rc = lg_txn_lookup(tx, buf_slice(&key), &dummy, err);
    if (rc < 0)
        goto out;
    *created = rc == 0;
    rc = 0;
    if (!*created)
        goto out;
    llink_encode(tx->now, &val);
    store_batch_put(tx->b, STORE_SPACE_LINEAGE, buf_slice(&key), buf_slice(&val));
    lg_txn_claim(tx, buf_slice(&key), 0);
    lkey_pair(&key, tag_fwd + 1, b, a, 0);
    store_batch_put(tx->b, STORE_SPACE_LINEAGE, buf_slice(&key), buf_slice(&val));
out:
    buf_free(&key);
    buf_free(&val);
    return rc;
}

static int link_put(lineage_t *lg, int tag, lineage_kind ka, int64_t a, lineage_kind kb, int64_t b,
                    bool *created, strata_err *err)
{
    lg_txn tx;
    bool made = false;
    lg_txn_begin(lg, &tx);
    int rc = check_exists(&tx, ka, a, err);
    if (!rc)
        rc = check_exists(&tx, kb, b, err);
    if (!rc)
        rc = lg_stage_link(&tx, tag, a, b, &made, err);
    if (rc) {
        lg_txn_abort(&tx);
        return rc;
    }
    rc = lg_txn_commit(&tx, err);
    if (!rc && created)
        *created = made;
    return rc;
}

int lineage_attribution_put(lineage_t *lg, int64_t context_id, int64_t artifact_id, bool *created,
                            strata_err *err)
{
    return link_put(lg, LK_ATTR_BY_CTX, LINEAGE_CONTEXT, context_id, LINEAGE_ARTIFACT, artifact_id,
                    created, err);
}

int lineage_association_put(lineage_t *lg, int64_t context_id, int64_t execution_id, bool *created,
                            strata_err *err)
{
    return link_put(lg, LK_ASSOC_BY_CTX, LINEAGE_CONTEXT, context_id, LINEAGE_EXECUTION,
                    execution_id, created, err);
}

static void push_id(int64_t **q, size_t *n, size_t *cap, int64_t x)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        int64_t *q2 = realloc(*q, c * sizeof *q2);
        STRATA_ASSERT(q2 != NULL);
        *q = q2;
        *cap = c;
    }
    (*q)[(*n)++] = x;
}

/* Whether `target` is `from` or one of its ancestors (committed links; the
 * write lock is held, so none is in flight). */
static int is_ancestor_or_self(lineage_t *lg, int64_t from, int64_t target, bool *found,
                               strata_err *err)
{
    int64_t *queue = NULL;
    size_t n = 0, cap = 0, head = 0;
    buf prefix = BUF_INIT;
    int rc = 0;
    store_iter *it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, NULL);
    *found = false;
    push_id(&queue, &n, &cap, from);
    while (head < n && !*found) {
        int64_t x = queue[head++];
        if (x == target) {
            *found = true;
            break;
        }
        lkey_pair(&prefix, LK_PARENT_BY_CHILD, x, 0, 0);
        for (store_iter_seek(it, buf_slice(&prefix)); store_iter_valid(it); store_iter_next(it)) {
            slice kk = store_iter_key(it);
            int64_t a, b;
            int t;
            if (kk.n < prefix.n || memcmp(kk.p, prefix.p, prefix.n) != 0)
                break;
            if (lkey_pair_decode(kk, &a, &b, &t))
                continue;
            bool seen = false;
            for (size_t i = 0; i < n && !seen; i++)
                seen = queue[i] == b;
            if (!seen)
                push_id(&queue, &n, &cap, b);
        }
        if ((rc = store_iter_status(it, err)))
            break;
    }
    store_iter_close(it);
    free(queue);
    buf_free(&prefix);
    return rc;
}

int lineage_parent_put(lineage_t *lg, int64_t child_id, int64_t parent_id, bool *created,
                       strata_err *err)
{
    lg_txn tx;
    bool made = false, cycle = false;
    buf key = BUF_INIT;
    int64_t dummy;
    lg_txn_begin(lg, &tx);
    int rc = check_exists(&tx, LINEAGE_CONTEXT, child_id, err);
    if (!rc)
        rc = check_exists(&tx, LINEAGE_CONTEXT, parent_id, err);
    if (rc)
        goto fail;
    if (child_id == parent_id) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "context %lld cannot be its own parent",
                     (long long)child_id);
        goto fail;
    }
    /* An existing link is fine (idempotent) and cannot be a new cycle. */
    lkey_pair(&key, LK_PARENT_BY_CHILD, child_id, parent_id, 0);
    rc = lg_txn_lookup(&tx, buf_slice(&key), &dummy, err);
    if (rc < 0)
        goto fail;
    if (rc == 0) {
        rc = is_ancestor_or_self(lg, parent_id, child_id, &cycle, err);
        if (rc)
            goto fail;
        if (cycle) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "making context %lld a parent of context %lld would close a cycle: "
                         "%lld is already an ancestor of %lld",
                         (long long)parent_id, (long long)child_id, (long long)child_id,
                         (long long)parent_id);
            goto fail;
        }
    }
    rc = lg_stage_link(&tx, LK_PARENT_BY_CHILD, child_id, parent_id, &made, err);
    if (rc)
        goto fail;
    buf_free(&key);
    rc = lg_txn_commit(&tx, err);
    if (!rc && created)
        *created = made;
    return rc;
fail:
    buf_free(&key);
    lg_txn_abort(&tx);
    return rc;
}

/* ---- related nodes ------------------------------------------------------------------ */

int lineage_related_list(lineage_t *lg, lineage_relation rel, int64_t id, slice cursor,
                         size_t limit, json_t *items, buf *next, strata_err *err)
{
    lineage_kind self, other;
    int tag;
    switch (rel) {
    case LINEAGE_REL_CONTEXT_ARTIFACTS:
        self = LINEAGE_CONTEXT, other = LINEAGE_ARTIFACT, tag = LK_ATTR_BY_CTX;
        break;
    case LINEAGE_REL_CONTEXT_EXECUTIONS:
        self = LINEAGE_CONTEXT, other = LINEAGE_EXECUTION, tag = LK_ASSOC_BY_CTX;
        break;
    case LINEAGE_REL_CONTEXT_PARENTS:
        self = LINEAGE_CONTEXT, other = LINEAGE_CONTEXT, tag = LK_PARENT_BY_CHILD;
        break;
    case LINEAGE_REL_CONTEXT_CHILDREN:
        self = LINEAGE_CONTEXT, other = LINEAGE_CONTEXT, tag = LK_PARENT_BY_PARENT;
        break;
    case LINEAGE_REL_ARTIFACT_CONTEXTS:
        self = LINEAGE_ARTIFACT, other = LINEAGE_CONTEXT, tag = LK_ATTR_BY_ART;
        break;
    case LINEAGE_REL_EXECUTION_CONTEXTS:
        self = LINEAGE_EXECUTION, other = LINEAGE_CONTEXT, tag = LK_ASSOC_BY_EXEC;
        break;
    default:
        return err_set(err, STRATA_INVALID_ARGUMENT, "unknown relation");
    }
    store_snapshot *snap = store_snapshot_take(lg->st);
    buf prefix = BUF_INIT, seek = BUF_INIT;
    store_iter *it = NULL;
    lnode n;
    size_t added = 0;
    int64_t last = 0;
    lnode_init(&n);
    buf_reset(next);
    int rc = node_must_exist(lg, snap, self, id, err);
    if (rc)
        goto out;
    if (cursor.n &&
        (cursor.n != 8 || get_u64be(cursor.p) == 0 || get_u64be(cursor.p) >= (uint64_t)INT64_MAX)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "page_token is malformed");
        goto out;
    }
    lkey_pair(&prefix, tag, id, 0, 0);
    lkey_pair(&seek, tag, id, cursor.n ? (int64_t)get_u64be(cursor.p) + 1 : 1, 0);
    it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, snap);
    for (store_iter_seek(it, buf_slice(&seek)); store_iter_valid(it); store_iter_next(it)) {
        slice kk = store_iter_key(it);
        int64_t a, b;
        int t;
        if (kk.n < prefix.n || memcmp(kk.p, prefix.p, prefix.n) != 0)
            break;
        if (lkey_pair_decode(kk, &a, &b, &t))
            continue;
        if (added == limit) {
            buf_put_u64be(next, (uint64_t)last);
            break;
        }
        rc = lg_node_read(lg, snap, other, b, &n, err);
        if (rc == STRATA_NOT_FOUND) {
            err_clear(err);
            rc = 0;
            continue;
        }
        if (rc)
            goto out;
        json_array_append_new(items, lg_node_json(lg, &n));
        added++;
        last = b;
    }
    rc = store_iter_status(it, err);
out:
    store_iter_close(it);
    lnode_free(&n);
    buf_free(&prefix);
    buf_free(&seek);
    store_snapshot_release(lg->st, snap);
    return rc;
}

/* ---- batches ------------------------------------------------------------------------ */

static const char *const kind_plural[LINEAGE_KINDS] = {"artifacts", "executions", "contexts"};

/* The id a batch entry names; made[k] holds the batch's new nodes. */
static int batch_ref(lg_txn *tx, lineage_batch_ref r, lineage_kind k, int64_t *const made[],
                     const size_t nmade[], const char *where, size_t i, int64_t *out,
                     strata_err *err)
{
    if (r.id > 0) {
        *out = r.id;
        int rc = check_exists(tx, k, r.id, err);
        if (rc)
            err_prefix(err, "%s[%zu]", where, i);
        return rc;
    }
    if (r.index >= nmade[k])
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "%s[%zu]: %s_index %zu is past the batch's %zu %s", where, i,
                       lineage_kind_name(k), r.index, nmade[k], kind_plural[k]);
    *out = made[k][r.index];
    return 0;
}

static int batch_links(lg_txn *tx, const lineage_batch_link *links, size_t n, int tag,
                       lineage_kind other, int64_t *const made[], const size_t nmade[],
                       const char *where, size_t *created, strata_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int64_t c, x;
        bool fresh = false;
        int rc = batch_ref(tx, links[i].context, LINEAGE_CONTEXT, made, nmade, where, i, &c, err);
        if (!rc)
            rc = batch_ref(tx, links[i].node, other, made, nmade, where, i, &x, err);
        if (!rc && (rc = lg_stage_link(tx, tag, c, x, &fresh, err)))
            err_prefix(err, "%s[%zu]", where, i);
        if (rc)
            return rc;
        *created += fresh;
    }
    return 0;
}

int lineage_batch_put(lineage_t *lg, const lineage_batch *b, int64_t *const ids[LINEAGE_KINDS],
                      size_t *links_created, strata_err *err)
{
    int64_t *made[LINEAGE_KINDS] = {NULL};
    size_t total = b->nevents + b->nattributions + b->nassociations, created = 0;
    lg_txn tx;
    lnode n;
    int rc = 0;
    for (int k = 0; k < LINEAGE_KINDS; k++)
        total += b->nnodes[k];
    if (total > LINEAGE_BATCH_ITEMS_MAX)
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "a batch holds at most %u nodes, events and links in all, not %zu",
                       LINEAGE_BATCH_ITEMS_MAX, total);
    for (int k = 0; k < LINEAGE_KINDS; k++) {
        made[k] = calloc(b->nnodes[k] + 1, sizeof *made[k]);
        STRATA_ASSERT(made[k] != NULL);
    }
    lnode_init(&n);
    lg_txn_begin(lg, &tx);
    for (int k = 0; k < LINEAGE_KINDS && !rc; k++)
        for (size_t i = 0; i < b->nnodes[k] && !rc; i++) {
            if ((rc = lg_stage_node_create(&tx, (lineage_kind)k, &b->nodes[k][i], &n, err)))
                err_prefix(err, "%s[%zu]", kind_plural[k], i);
            made[k][i] = n.id;
        }
    for (size_t i = 0; i < b->nevents && !rc; i++) {
        const lineage_batch_event *e = &b->events[i];
        int64_t a, x;
        if ((rc = batch_ref(&tx, e->artifact, LINEAGE_ARTIFACT, made, b->nnodes, "events", i, &a,
                            err)) ||
            (rc = batch_ref(&tx, e->execution, LINEAGE_EXECUTION, made, b->nnodes, "events", i,
                            &x, err)))
            break;
        if ((rc = lg_stage_event(&tx, a, x, e->type, e->path, err)))
            err_prefix(err, "events[%zu]", i);
    }
    if (!rc)
        rc = batch_links(&tx, b->attributions, b->nattributions, LK_ATTR_BY_CTX, LINEAGE_ARTIFACT,
                         made, b->nnodes, "attributions", &created, err);
    if (!rc)
        rc = batch_links(&tx, b->associations, b->nassociations, LK_ASSOC_BY_CTX,
                         LINEAGE_EXECUTION, made, b->nnodes, "associations", &created, err);
    if (rc)
        lg_txn_abort(&tx);
    else
        rc = lg_txn_commit(&tx, err);
    if (!rc) {
        for (int k = 0; k < LINEAGE_KINDS; k++)
            if (ids && ids[k] && b->nnodes[k])
                memcpy(ids[k], made[k], b->nnodes[k] * sizeof *made[k]);
        if (links_created)
            *links_created = created;
    }
    lnode_free(&n);
    for (int k = 0; k < LINEAGE_KINDS; k++)
        free(made[k]);
    return rc;
}
