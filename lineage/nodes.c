/*
 * nodes.c - artifacts, executions and contexts: validation against their type,
 * create, update with history, point reads (also as of a past time), and list
 * queries over the by-type / by-name / by-uri / by-external-id indexes.
 *
 * Every node write goes through lg_stage_node_create / lg_stage_node_update
 * inside a transaction (lineage.c), so the HTTP API and the capture API
 * (capture.c) refuse the same inputs with the same words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "lineage/lineage_int.h"

/* ---- validation ------------------------------------------------------------ */

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* Check one declared property value; on success *out is the value to store
 * (DOUBLE normalised to a JSON real, so double_value filters see one type). */
static int check_prop_value(const ltype *t, const lprop *p, json_t *v, json_t **out,
                            strata_err *err)
{
    const char *want = NULL;
    switch (p->type) {
    case LP_INT:
        if (json_is_integer(v)) {
            *out = json_incref(v);
            return 0;
        }
        want = "an integer";
        break;
    case LP_DOUBLE:
        if (json_is_number(v)) {
            *out = json_real(json_number_value(v));
            return 0;
        }
        want = "a number";
        break;
    case LP_STRING:
        if (json_is_string(v)) {
            *out = json_incref(v);
            return 0;
        }
        want = "a string";
        break;
    case LP_BOOL:
        if (json_is_boolean(v)) {
            *out = json_incref(v);
            return 0;
        }
        want = "true or false";
        break;
    case LP_STRUCT:
        if (json_is_object(v) || json_is_array(v)) {
            *out = json_incref(v);
            return 0;
        }
        want = "an object or an array";
        break;
    }
    return err_set(err, STRATA_INVALID_ARGUMENT,
                   "property \"%s\" of type %s is %s: expected %s, got %s", p->name, t->name,
                   lprop_type_name(p->type), want, json_kind(v));
}

static void declared_list(const ltype *t, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->nprops && n + 1 < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s", i ? ", " : "", t->props[i].name);
        if (w < 0 || (size_t)w >= cap - n) {
            snprintf(out + (cap > 4 ? cap - 4 : 0), cap > 4 ? 4 : cap, "...");
            return;
        }
        n += (size_t)w;
    }
    if (t->nprops == 0)
        snprintf(out, cap, "none");
}

/*
 * Apply `src` (a JSON object or NULL) to `dst`: declared properties checked
 * against t (custom ones when t is NULL). A null value removes the key. The
 * caller has checked that src is an object.
 */
static int apply_props(const ltype *t, const json_t *src, json_t *dst, strata_err *err)
{
    const char *key;
    json_t *v;
    if (!src)
        return 0;
    json_object_foreach ((json_t *)src, key, v) {
        slice ks = slice_of(key);
        if (json_is_null(v)) {
            json_object_del(dst, key);
            continue;
        }
        if (!t) {
            if (!lvalid_text(ks, LINEAGE_PROPERTY_NAME_MAX * 2)) {
                char ex[80];
                text_excerpt(ks, ex, sizeof ex);
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "custom property name \"%s\" must be 1..%u bytes without NUL", ex,
                               LINEAGE_PROPERTY_NAME_MAX * 2);
            }
            json_object_set(dst, key, v);
            continue;
        }
        const lprop *p = ltype_prop(t, ks);
        if (!p) {
            char ex[80], decl[256];
            text_excerpt(ks, ex, sizeof ex);
            declared_list(t, decl, sizeof decl);
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "unknown property \"%s\": type %s declares %s (undeclared values go "
                           "in custom_properties)",
                           ex, t->name, decl);
        }
        json_t *val = NULL;
        int rc = check_prop_value(t, p, v, &val, err);
        if (rc)
            return rc;
        json_object_set_new(dst, key, val);
    }
    return 0;
}

static int check_object(const json_t *j, const char *what, strata_err *err)
{
    if (!j || json_is_object(j))
        return 0;
    return err_set(err, STRATA_INVALID_ARGUMENT, "\"%s\" must be a JSON object", what);
}

/* total: what lnode_encode returned for the node. */
static int check_size(size_t total, strata_err *err)
{
    if (total > LINEAGE_PROPERTIES_BYTES_MAX)
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "properties and custom_properties take %zu bytes as JSON; the limit is %u",
                       total, LINEAGE_PROPERTIES_BYTES_MAX);
    return 0;
}

static int check_name(lineage_kind k, slice s, strata_err *err)
{
    if (lvalid_text(s, LINEAGE_NAME_MAX))
        return 0;
    return err_set(err, STRATA_INVALID_ARGUMENT, "%s name must be 1..%u bytes of UTF-8 without NUL",
                   lineage_kind_name(k), LINEAGE_NAME_MAX);
}

static int check_uri(slice s, strata_err *err)
{
    if (s.n <= LINEAGE_URI_MAX && (s.n == 0 || memchr(s.p, '\0', s.n) == NULL))
        return 0;
    return err_set(err, STRATA_INVALID_ARGUMENT, "uri must be at most %u bytes without NUL",
                   LINEAGE_URI_MAX);
}

static int check_extid(slice s, strata_err *err)
{
    if (lvalid_text(s, LINEAGE_EXTERNAL_ID_MAX))
        return 0;
    return err_set(err, STRATA_INVALID_ARGUMENT,
                   "external_id must be 1..%u bytes of UTF-8 without NUL", LINEAGE_EXTERNAL_ID_MAX);
}

static int parse_state(lineage_kind k, slice s, int *out, strata_err *err)
{
    if (k == LINEAGE_CONTEXT)
        return err_set(err, STRATA_INVALID_ARGUMENT, "contexts have no state");
    int code = lstate_parse(k, s);
    if (code < 0) {
        char ex[80];
        text_excerpt(s, ex, sizeof ex);
        return err_set(err, STRATA_INVALID_ARGUMENT, "unknown %s state \"%s\": expected %s",
                       lineage_kind_name(k), ex, lstate_list(k));
    }
    *out = code;
    return 0;
}

static const ltype *find_type(lineage_t *lg, lineage_kind k, slice name, strata_err *err)
{
    const ltype *t = lg_type_by_name(lg, k, name);
    if (!t) {
        char ex[80];
        text_excerpt(name, ex, sizeof ex);
        err_set(err, STRATA_NOT_FOUND, "%s type \"%s\" not found", lineage_kind_name(k), ex);
    }
    return t;
}

/* ---- staging --------------------------------------------------------------- */

static void stage_put(lg_txn *tx, const buf *k, slice v)
{
    store_batch_put(tx->b, STORE_SPACE_LINEAGE, buf_slice(k), v);
}

static void stage_del(lg_txn *tx, const buf *k)
{
    store_batch_delete(tx->b, STORE_SPACE_LINEAGE, buf_slice(k));
}

static void id_value(buf *v, int64_t id)
{
    buf_reset(v);
    buf_put_u64be(v, (uint64_t)id);
}

static int claim_unique(lg_txn *tx, const buf *key, int64_t self, const char *what, lineage_kind k,
                        slice value, strata_err *err)
{
    int64_t other = 0;
    int rc = lg_txn_lookup(tx, buf_slice(key), &other, err);
    if (rc < 0)
        return rc;
    if (rc == 1 && other != self) {
        char ex[80];
        text_excerpt(value, ex, sizeof ex);
        return err_set(err, STRATA_ALREADY_EXISTS, "%s %s \"%s\" is taken by %s %lld",
                       lineage_kind_name(k), what, ex, lineage_kind_name(k), (long long)other);
    }
    return 0;
}

int lg_stage_node_create(lg_txn *tx, lineage_kind k, const lineage_node_spec *spec, lnode *n,
                         strata_err *err)
{
    buf key = BUF_INIT, val = BUF_INIT, rec = BUF_INIT;
    const ltype *t = NULL;
    int rc = 0;
    lnode_free(n);
    n->kind = k;
    if (!spec->type.p) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "field \"type\" is required");
        goto out;
    }
    t = find_type(tx->lg, k, spec->type, err);
    if (!t) {
        rc = STRATA_NOT_FOUND;
        goto out;
    }
    if (spec->name.p) {
        if ((rc = check_name(k, spec->name, err)))
            goto out;
        n->has_name = true;
        buf_append_slice(&n->name, spec->name);
    } else if (k == LINEAGE_CONTEXT) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "field \"name\" is required for a context");
        goto out;
    }
    if (spec->uri.p) {
        if ((rc = check_uri(spec->uri, err)))
            goto out;
        n->has_uri = true;
        buf_append_slice(&n->uri, spec->uri);
    }
    if (spec->external_id.p) {
        if ((rc = check_extid(spec->external_id, err)))
            goto out;
        n->has_extid = true;
        buf_append_slice(&n->extid, spec->external_id);
    }
    if (spec->state.p && (rc = parse_state(k, spec->state, &n->state, err)))
        goto out;
    n->props = json_object();
    n->custom = json_object();
    if ((rc = check_object(spec->properties, "properties", err)) ||
        (rc = check_object(spec->custom_properties, "custom_properties", err)) ||
        (rc = apply_props(t, spec->properties, n->props, err)) ||
        (rc = apply_props(NULL, spec->custom_properties, n->custom, err)))
        goto out;

    n->id = tx->last_id[k] + 1;
    n->type_id = t->id;
    n->version = 1;
    n->create_time = n->update_time = tx->now;
    if ((rc = check_size(lnode_encode(n, &rec), err)))
        goto out;
    if (n->has_name) {
        lkey_by_name(&key, k, t->id, spec->name);
        int64_t other = 0;
        rc = lg_txn_lookup(tx, buf_slice(&key), &other, err);
        if (rc < 0)
            goto out;
        if (rc == 1) {
            char ex[80];
            text_excerpt(spec->name, ex, sizeof ex);
            rc =
                err_set(err, STRATA_ALREADY_EXISTS, "%s \"%s\" of type %s already exists (id %lld)",
                        lineage_kind_name(k), ex, t->name, (long long)other);
            goto out;
        }
        id_value(&val, n->id);
        stage_put(tx, &key, buf_slice(&val));
        lg_txn_claim(tx, buf_slice(&key), n->id);
    }
    if (n->has_extid) {
        lkey_by_extid(&key, k, spec->external_id);
        if ((rc = claim_unique(tx, &key, 0, "external_id", k, spec->external_id, err)))
            goto out;
        id_value(&val, n->id);
        stage_put(tx, &key, buf_slice(&val));
        lg_txn_claim(tx, buf_slice(&key), n->id);
    }
    if (n->has_uri) {
        lkey_by_uri(&key, k, spec->uri, n->id);
        stage_put(tx, &key, (slice){"", 0});
    }
    lkey_by_type(&key, k, t->id, n->id);
    stage_put(tx, &key, (slice){"", 0});
    lkey_node(&key, k, n->id);
    stage_put(tx, &key, buf_slice(&rec));
    tx->last_id[k] = n->id;
out:
    buf_free(&key);
    buf_free(&val);
    buf_free(&rec);
    return rc;
}

static bool buf_is(const buf *b, bool has, slice s)
{
    return has && slice_eq(buf_slice(b), s);
}

static void set_opt(buf *b, bool *has, const slice *s)
{
    buf_reset(b);
    *has = s->p != NULL;
    if (s->p)
        buf_append_slice(b, *s);
}

int lg_stage_node_update(lg_txn *tx, lnode *n, const lineage_node_patch *p, bool *changed,
                         strata_err *err)
{
    lineage_kind k = n->kind;
    const ltype *t = lg_type_by_id(tx->lg, n->type_id);
    lnode nw;
    buf key = BUF_INIT, val = BUF_INIT, rec = BUF_INIT;
    int rc = 0;
    lnode_init(&nw);
    *changed = false;
    if (!t) {
        rc = err_set(err, STRATA_CORRUPT, "lineage: %s %lld has unknown type id %lld",
                     lineage_kind_name(k), (long long)n->id, (long long)n->type_id);
        goto out;
    }
    if (p->type && !(p->type->p && slice_eq_str(*p->type, t->name))) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "a %s's type never changes (%s %lld is a %s)",
                     lineage_kind_name(k), lineage_kind_name(k), (long long)n->id, t->name);
        goto out;
    }
    if (p->name && !(p->name->p ? buf_is(&n->name, n->has_name, *p->name) : !n->has_name)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "a %s's name never changes",
                     lineage_kind_name(k));
        goto out;
    }
    if (p->if_update_time && *p->if_update_time != n->update_time) {
        char want[TIME_RFC3339_MAX], have[TIME_RFC3339_MAX];
        time_format_rfc3339(*p->if_update_time, want, sizeof want);
        time_format_rfc3339(n->update_time, have, sizeof have);
        rc = err_set(err, STRATA_FAILED_PRECONDITION,
                     "if_update_time is stale: %s %lld was last updated at %s, not %s",
                     lineage_kind_name(k), (long long)n->id, have, want);
        goto out;
    }
    nw.kind = k;
    nw.id = n->id;
    nw.type_id = n->type_id;
    nw.create_time = n->create_time;
    nw.state = n->state;
    nw.has_name = n->has_name;
    buf_append(&nw.name, n->name.p, n->name.n);
    nw.has_uri = n->has_uri;
    buf_append(&nw.uri, n->uri.p, n->uri.n);
    nw.has_extid = n->has_extid;
    buf_append(&nw.extid, n->extid.p, n->extid.n);
    nw.props = json_deep_copy(n->props);
    nw.custom = json_deep_copy(n->custom);
    STRATA_ASSERT(nw.props && nw.custom);
    if (p->uri) {
        if (p->uri->p && (rc = check_uri(*p->uri, err)))
            goto out;
        set_opt(&nw.uri, &nw.has_uri, p->uri);
    }
    if (p->external_id) {
        if (p->external_id->p && (rc = check_extid(*p->external_id, err)))
            goto out;
        set_opt(&nw.extid, &nw.has_extid, p->external_id);
    }
    if (p->state) {
        if (p->state->p) {
            if ((rc = parse_state(k, *p->state, &nw.state, err)))
                goto out;
        } else {
            nw.state = 0;
        }
    }
    if ((rc = check_object(p->properties, "properties", err)) ||
        (rc = check_object(p->custom_properties, "custom_properties", err)) ||
        (rc = apply_props(t, p->properties, nw.props, err)) ||
        (rc = apply_props(NULL, p->custom_properties, nw.custom, err)))
        goto out;
    nw.version = n->version + 1;
    nw.update_time = tx->now > n->update_time ? tx->now : n->update_time + 1;
    if ((rc = check_size(lnode_encode(&nw, &rec), err)))
        goto out;

    bool uri_changed = nw.has_uri != n->has_uri ||
                       (nw.has_uri && !slice_eq(buf_slice(&nw.uri), buf_slice(&n->uri)));
    bool extid_changed = nw.has_extid != n->has_extid ||
                         (nw.has_extid && !slice_eq(buf_slice(&nw.extid), buf_slice(&n->extid)));
    if (!uri_changed && !extid_changed && nw.state == n->state && json_equal(nw.props, n->props) &&
        json_equal(nw.custom, n->custom))
        goto out; /* nothing to store */

    if (extid_changed) {
        if (n->has_extid) {
            lkey_by_extid(&key, k, buf_slice(&n->extid));
            stage_del(tx, &key);
        }
        if (nw.has_extid) {
            lkey_by_extid(&key, k, buf_slice(&nw.extid));
            if ((rc = claim_unique(tx, &key, n->id, "external_id", k, buf_slice(&nw.extid), err)))
                goto out;
            id_value(&val, n->id);
            stage_put(tx, &key, buf_slice(&val));
            lg_txn_claim(tx, buf_slice(&key), n->id);
        }
    }
    if (uri_changed) {
        if (n->has_uri) {
            lkey_by_uri(&key, k, buf_slice(&n->uri), n->id);
            stage_del(tx, &key);
        }
        if (nw.has_uri) {
            lkey_by_uri(&key, k, buf_slice(&nw.uri), n->id);
            stage_put(tx, &key, (slice){"", 0});
        }
    }
    /* The superseded version goes to history under its own version number. */
    lkey_history(&key, k, n->id, n->version);
    lnode_encode(n, &val);
    stage_put(tx, &key, buf_slice(&val));
    lkey_node(&key, k, n->id);
    stage_put(tx, &key, buf_slice(&rec));
    /* Hand the new version back in n. */
    lnode_free(n);
    *n = nw;
    lnode_init(&nw);
    *changed = true;
out:
    lnode_free(&nw);
    buf_free(&key);
    buf_free(&val);
    buf_free(&rec);
    return rc;
}

/* ---- reads ------------------------------------------------------------------- */

int lg_node_read(lineage_t *lg, const store_snapshot *snap, lineage_kind k, int64_t id, lnode *n,
                 strata_err *err)
{
    buf key = BUF_INIT, val = BUF_INIT;
    int rc;
    if (id <= 0) {
        rc = lg_err_not_found(err, k, id);
        goto out;
    }
    lkey_node(&key, k, id);
    rc = store_kv_get(lg->st, STORE_SPACE_LINEAGE, snap, buf_slice(&key), &val, err);
    if (rc == STRATA_NOT_FOUND)
        rc = lg_err_not_found(err, k, id);
    else if (rc == 0)
        rc = lnode_decode(k, id, buf_slice(&val), n, err);
out:
    buf_free(&key);
    buf_free(&val);
    return rc;
}

int lg_node_read_as_of(lineage_t *lg, const store_snapshot *snap, lineage_kind k, int64_t id,
                       int64_t as_of, lnode *n, strata_err *err)
{
    int rc = lg_node_read(lg, snap, k, id, n, err);
    if (rc || n->update_time <= as_of)
        return rc;
    if (n->create_time > as_of) {
        lnode_free(n);
        return err_set(err, STRATA_NOT_FOUND, "%s %lld did not exist yet at as_of",
                       lineage_kind_name(k), (long long)id);
    }
    /* Walk the history back from the newest superseded version. */
    buf key = BUF_INIT, prefix = BUF_INIT;
    lkey_history(&key, k, id, n->version > 0 ? n->version - 1 : 0);
    lkey_history(&prefix, k, id, 0);
    prefix.n -= 4;
    store_iter *it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, snap);
    rc = STRATA_NOT_FOUND;
    for (store_iter_seek_prev(it, buf_slice(&key)); store_iter_valid(it); store_iter_prev(it)) {
        slice kk = store_iter_key(it);
        if (kk.n != prefix.n + 4 || memcmp(kk.p, prefix.p, prefix.n) != 0)
            break;
        rc = lnode_decode(k, id, store_iter_value(it), n, err);
        if (rc)
            break;
        if (n->update_time <= as_of)
            break;
        rc = STRATA_NOT_FOUND;
    }
    if (rc == STRATA_NOT_FOUND) {
        int st = store_iter_status(it, err);
        rc = st ? st
                : err_set(err, STRATA_NOT_FOUND, "%s %lld has no version at as_of",
                          lineage_kind_name(k), (long long)id);
        lnode_free(n);
    }
    store_iter_close(it);
    buf_free(&key);
    buf_free(&prefix);
    return rc;
}

static json_t *time_json(int64_t us)
{
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(us, t, sizeof t);
    return json_string(t);
}

static json_t *opt_str(bool has, const buf *b)
{
    return has ? json_stringn(b->p ? b->p : "", b->n) : json_null();
}

json_t *lg_node_json(lineage_t *lg, const lnode *n)
{
    json_t *j = json_object();
    const ltype *t = lg_type_by_id(lg, n->type_id);
    const char *state = lstate_name(n->kind, n->state);
    json_object_set_new(j, "id", json_integer(n->id));
    json_object_set_new(j, "type", json_string(t ? t->name : "unknown"));
    json_object_set_new(j, "name", opt_str(n->has_name, &n->name));
    json_object_set_new(j, "uri", opt_str(n->has_uri, &n->uri));
    json_object_set_new(j, "state", state ? json_string(state) : json_null());
    json_object_set_new(j, "external_id", opt_str(n->has_extid, &n->extid));
    json_object_set(j, "properties", n->props);
    json_object_set(j, "custom_properties", n->custom);
    json_object_set_new(j, "create_time", time_json(n->create_time));
    json_object_set_new(j, "update_time", time_json(n->update_time));
    json_object_set_new(j, "version", json_integer(n->version));
    return j;
}

int lg_node_contexts(lineage_t *lg, const store_snapshot *snap, lineage_kind k, int64_t id, int tag,
                     int64_t as_of, json_t **out, strata_err *err)
{
    (void)k;
    buf prefix = BUF_INIT;
    lnode c;
    int rc = 0;
    lnode_init(&c);
    json_t *arr = json_array();
    lkey_pair(&prefix, tag, id, 0, 0);
    store_iter *it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, snap);
    for (store_iter_seek(it, buf_slice(&prefix)); store_iter_valid(it); store_iter_next(it)) {
        slice kk = store_iter_key(it);
        int64_t a, b, time;
        int t;
        if (kk.n < prefix.n || memcmp(kk.p, prefix.p, prefix.n) != 0)
            break;
        if (lkey_pair_decode(kk, &a, &b, &t) || llink_decode(store_iter_value(it), &time)) {
            rc = err_set(err, STRATA_CORRUPT, "lineage: a context link is malformed");
            break;
        }
        if (time > as_of)
            continue;
        rc = lg_node_read_as_of(lg, snap, LINEAGE_CONTEXT, b, as_of, &c, err);
        if (rc == STRATA_NOT_FOUND) {
            rc = 0;
            err_clear(err);
            continue;
        }
        if (rc)
            break;
        json_array_append_new(arr, lg_node_json(lg, &c));
    }
    if (!rc)
        rc = store_iter_status(it, err);
    store_iter_close(it);
    lnode_free(&c);
    buf_free(&prefix);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int lg_filter_matches(lineage_t *lg, const store_snapshot *snap, const lfilter *f, lineage_kind k,
                      int64_t id, int64_t as_of, const json_t *node, bool *match, strata_err *err)
{
    json_t *ctx = NULL, *parents = NULL, *children = NULL;
    int rc = 0;
    if (lfilter_uses_contexts(f)) {
        int tag = k == LINEAGE_ARTIFACT    ? LK_ATTR_BY_ART
                  : k == LINEAGE_EXECUTION ? LK_ASSOC_BY_EXEC
                                           : 0;
        if (tag)
            rc = lg_node_contexts(lg, snap, k, id, tag, as_of, &ctx, err);
        else
            ctx = json_array();
    }
    if (!rc && lfilter_uses_parent_contexts(f)) {
        if (k == LINEAGE_CONTEXT)
            rc = lg_node_contexts(lg, snap, k, id, LK_PARENT_BY_CHILD, as_of, &parents, err);
        else
            parents = json_array();
    }
    if (!rc && lfilter_uses_child_contexts(f)) {
        if (k == LINEAGE_CONTEXT)
            rc = lg_node_contexts(lg, snap, k, id, LK_PARENT_BY_PARENT, as_of, &children, err);
        else
            children = json_array();
    }
    if (!rc) {
        lfilter_env env = {node, ctx, parents, children};
        *match = lfilter_eval(f, &env);
    }
    json_decref(ctx);
    json_decref(parents);
    json_decref(children);
    return rc;
}

/* ---- public: create, get, update, history -------------------------------------- */

int lineage_node_create(lineage_t *lg, lineage_kind k, const lineage_node_spec *spec, int64_t *id,
                        json_t **node_out, strata_err *err)
{
    lg_txn tx;
    lnode n;
    lnode_init(&n);
    lg_txn_begin(lg, &tx);
    int rc = lg_stage_node_create(&tx, k, spec, &n, err);
    if (rc) {
        lg_txn_abort(&tx);
        goto out;
    }
    rc = lg_txn_commit(&tx, err);
    if (rc)
        goto out;
    if (id)
        *id = n.id;
    if (node_out)
        *node_out = lg_node_json(lg, &n);
out:
    lnode_free(&n);
    return rc;
}

int lineage_node_get(lineage_t *lg, lineage_kind k, int64_t id, json_t **out, strata_err *err)
{
    lnode n;
    lnode_init(&n);
    int rc = lg_node_read(lg, NULL, k, id, &n, err);
    if (!rc)
        *out = lg_node_json(lg, &n);
    lnode_free(&n);
    return rc;
}

int lineage_node_update(lineage_t *lg, lineage_kind k, int64_t id, const lineage_node_patch *p,
                        json_t **node_out, strata_err *err)
{
    lg_txn tx;
    lnode n;
    bool changed = false;
    lnode_init(&n);
    lg_txn_begin(lg, &tx);
    int rc = lg_node_read(lg, NULL, k, id, &n, err);
    if (!rc)
        rc = lg_stage_node_update(&tx, &n, p, &changed, err);
    if (rc) {
        lg_txn_abort(&tx);
        goto out;
    }
    rc = lg_txn_commit(&tx, err);
    if (!rc && node_out)
        *node_out = lg_node_json(lg, &n);
out:
    lnode_free(&n);
    return rc;
}

int lineage_node_history(lineage_t *lg, lineage_kind k, int64_t id, uint32_t after, size_t limit,
                         json_t *items, bool *more, strata_err *err)
{
    store_snapshot *snap = store_snapshot_take(lg->st);
    buf key = BUF_INIT, prefix = BUF_INIT;
    lnode cur, old;
    size_t added = 0;
    lnode_init(&cur);
    lnode_init(&old);
    *more = false;
    int rc = lg_node_read(lg, snap, k, id, &cur, err);
    if (rc)
        goto out;
    lkey_history(&prefix, k, id, 0);
    prefix.n -= 4;
    lkey_history(&key, k, id, after + 1);
    store_iter *it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, snap);
    for (store_iter_seek(it, buf_slice(&key)); store_iter_valid(it); store_iter_next(it)) {
        slice kk = store_iter_key(it);
        if (kk.n != prefix.n + 4 || memcmp(kk.p, prefix.p, prefix.n) != 0)
            break;
        if (added == limit) {
            *more = true;
            break;
        }
        rc = lnode_decode(k, id, store_iter_value(it), &old, err);
        if (rc)
            break;
        json_array_append_new(items, lg_node_json(lg, &old));
        added++;
    }
    if (!rc)
        rc = store_iter_status(it, err);
    store_iter_close(it);
    if (!rc && !*more && cur.version > after) {
        if (added == limit)
            *more = true;
        else
            json_array_append_new(items, lg_node_json(lg, &cur));
    }
out:
    lnode_free(&cur);
    lnode_free(&old);
    buf_free(&key);
    buf_free(&prefix);
    store_snapshot_release(lg->st, snap);
    return rc;
}

/* ---- list queries --------------------------------------------------------------- */

/*
 * Cursor layout: order (1 byte) | id (u64 BE) | sort key. The sort key is
 * absent for id order, has-name (1 byte) + name bytes for name order, and the
 * time (u64 BE of the int64 with its sign bit flipped) for time orders.
 */
typedef struct cand {
    int64_t id;
    json_t *node;
    bool has_name;
    slice name; /* borrowed from node JSON */
    int64_t time;
} cand;

typedef struct cursor {
    bool present;
    cand at;
    buf name;
} cursor;

static void fill_sort_key(cand *c, lineage_order order, const lnode *n)
{
    c->has_name = n->has_name;
    json_t *nm = json_object_get(c->node, "name");
    c->name = json_is_string(nm) ? (slice){json_string_value(nm), json_string_length(nm)}
                                 : (slice){"", 0};
    c->time = order == LINEAGE_ORDER_UPDATE_TIME ? n->update_time : n->create_time;
}

static int cand_cmp(const cand *a, const cand *b, lineage_order order, bool desc)
{
    int c = 0;
    switch (order) {
    case LINEAGE_ORDER_ID:
        break;
    case LINEAGE_ORDER_NAME:
        c = a->has_name != b->has_name ? (a->has_name ? 1 : -1) : slice_cmp(a->name, b->name);
        break;
    case LINEAGE_ORDER_CREATE_TIME:
    case LINEAGE_ORDER_UPDATE_TIME:
        c = a->time < b->time ? -1 : a->time > b->time;
        break;
    }
    if (c == 0)
        c = a->id < b->id ? -1 : a->id > b->id;
    return desc ? -c : c;
}

typedef struct sort_ctx {
    lineage_order order;
    bool desc;
} sort_ctx;

static int cand_qcmp(const void *a, const void *b, void *arg)
{
    const sort_ctx *sc = arg;
    return cand_cmp(a, b, sc->order, sc->desc);
}

static void sort_cands(cand *c, size_t n, lineage_order order, bool desc)
{
    sort_ctx sc = {order, desc};
    if (n < 2)
        return; /* c may be NULL when nothing matched: qsort_r must not see it */
    qsort_r(c, n, sizeof *c, cand_qcmp, &sc);
}

static void cursor_encode(const cand *c, lineage_order order, buf *out)
{
    buf_reset(out);
    buf_putc(out, (char)order);
    buf_put_u64be(out, (uint64_t)c->id);
    if (order == LINEAGE_ORDER_NAME) {
        buf_putc(out, c->has_name ? 1 : 0);
        buf_append_slice(out, c->name);
    } else if (order != LINEAGE_ORDER_ID) {
        buf_put_u64be(out, (uint64_t)c->time ^ (UINT64_C(1) << 63));
    }
}

static int cursor_decode(slice s, lineage_order order, cursor *cur, strata_err *err)
{
    memset(&cur->at, 0, sizeof cur->at);
    cur->present = s.n > 0;
    if (!cur->present)
        return 0;
    if (s.n < 9 || (unsigned char)s.p[0] != order)
        goto bad;
    uint64_t id = get_u64be(s.p + 1);
    if (id == 0 || id > (uint64_t)INT64_MAX)
        goto bad;
    cur->at.id = (int64_t)id;
    if (order == LINEAGE_ORDER_NAME) {
        if (s.n < 10)
            goto bad;
        cur->at.has_name = s.p[9] != 0;
        buf_append(&cur->name, s.p + 10, s.n - 10);
        cur->at.name = buf_slice(&cur->name);
    } else if (order != LINEAGE_ORDER_ID) {
        if (s.n != 17)
            goto bad;
        cur->at.time = (int64_t)(get_u64be(s.p + 9) ^ (UINT64_C(1) << 63));
    } else if (s.n != 9) {
        goto bad;
    }
    return 0;
bad:
    return err_set(err, STRATA_INVALID_ARGUMENT, "page_token is malformed");
}

/* Where candidate ids come from: a short sorted array, or a prefix scan whose
 * keys end in the id. */
typedef struct idsrc {
    int64_t *ids;
    size_t n, i;
    store_iter *it;
    buf prefix;
    bool desc, started, node_scan;
} idsrc;

static int64_t idsrc_next(idsrc *s, slice *value)
{
    if (!s->it) {
        if (s->i >= s->n)
            return 0;
        return s->desc ? s->ids[s->n - 1 - s->i++] : s->ids[s->i++];
    }
    if (s->started) {
        if (s->desc)
            store_iter_prev(s->it);
        else
            store_iter_next(s->it);
    }
    s->started = true;
    if (!store_iter_valid(s->it))
        return 0;
    slice k = store_iter_key(s->it);
    if (k.n != s->prefix.n + 8 || memcmp(k.p, s->prefix.p, s->prefix.n) != 0)
        return 0;
    if (value)
        *value = store_iter_value(s->it);
    uint64_t id = get_u64be(k.p + s->prefix.n);
    return id > (uint64_t)INT64_MAX ? 0 : (int64_t)id;
}

/* Position a scan source: after `after` (0 = from the start) in its direction. */
static void idsrc_seek(idsrc *s, int64_t after)
{
    buf k = BUF_INIT;
    buf_append(&k, s->prefix.p, s->prefix.n);
    if (!s->desc) {
        buf_put_u64be(&k, (uint64_t)after + 1);
        store_iter_seek(s->it, buf_slice(&k));
    } else {
        buf_put_u64be(&k, after > 0 ? (uint64_t)after - 1 : UINT64_MAX);
        store_iter_seek_prev(s->it, buf_slice(&k));
    }
    buf_free(&k);
}

static int id_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Point lookups by name across types, or by external id. */
static int point_ids(lineage_t *lg, const store_snapshot *snap, lineage_kind k,
                     const lineage_query *q, const ltype *type, idsrc *s, strata_err *err)
{
    buf key = BUF_INIT, v = BUF_INIT;
    int rc = 0;
    const ltype **types = NULL;
    size_t nt = 0;
    if (q->external_id.p) {
        types = NULL;
        lkey_by_extid(&key, k, q->external_id);
        rc = store_kv_get(lg->st, STORE_SPACE_LINEAGE, snap, buf_slice(&key), &v, err);
        s->ids = calloc(1, sizeof *s->ids);
        STRATA_ASSERT(s->ids != NULL);
        if (rc == 0 && v.n == 8)
            s->ids[s->n++] = (int64_t)get_u64be(v.p);
        if (rc == STRATA_NOT_FOUND)
            rc = 0;
        goto out;
    }
    /* By name: one type, or every type of the kind. */
    pthread_rwlock_rdlock(&lg->types_mu);
    types = calloc(lg->ntypes ? lg->ntypes : 1, sizeof *types);
    STRATA_ASSERT(types != NULL);
    for (size_t i = 0; i < lg->ntypes; i++)
        if (lg->types[i]->kind == k && (!type || lg->types[i]->id == type->id))
            types[nt++] = lg->types[i];
    pthread_rwlock_unlock(&lg->types_mu);
    s->ids = calloc(nt ? nt : 1, sizeof *s->ids);
    STRATA_ASSERT(s->ids != NULL);
    for (size_t i = 0; i < nt && !rc; i++) {
        buf_reset(&v);
        lkey_by_name(&key, k, types[i]->id, q->name);
        rc = store_kv_get(lg->st, STORE_SPACE_LINEAGE, snap, buf_slice(&key), &v, err);
        if (rc == 0 && v.n == 8)
            s->ids[s->n++] = (int64_t)get_u64be(v.p);
        if (rc == STRATA_NOT_FOUND)
            rc = 0;
    }
    qsort(s->ids, s->n, sizeof *s->ids, id_cmp);
out:
    free(types);
    buf_free(&key);
    buf_free(&v);
    return rc;
}

int lineage_node_list(lineage_t *lg, lineage_kind k, const lineage_query *q, json_t *items,
                      buf *next, strata_err *err)
{
    store_snapshot *snap = NULL;
    idsrc src = {0};
    cursor cur = {0};
    cand *cands = NULL;
    size_t ncand = 0, capc = 0;
    lnode n;
    int rc = 0;
    const ltype *type = NULL;
    bool stream = q->order == LINEAGE_ORDER_ID;
    lnode_init(&n);
    buf_reset(next);
    if ((rc = cursor_decode(q->cursor, q->order, &cur, err)))
        goto out;
    if (q->type.p) {
        type = lg_type_by_name(lg, k, q->type);
        if (!type)
            goto out; /* an unknown type matches nothing */
    }
    snap = store_snapshot_take(lg->st);
    src.desc = q->desc;
    if (q->external_id.p || q->name.p) {
        if ((rc = point_ids(lg, snap, k, q, type, &src, err)))
            goto out;
    } else {
        if (q->uri.p) {
            lkey_by_uri(&src.prefix, k, q->uri, 0);
        } else if (type) {
            lkey_by_type(&src.prefix, k, type->id, 0);
        } else {
            buf_putc(&src.prefix, (char)LK_NODE);
            buf_putc(&src.prefix, (char)k);
            src.node_scan = true;
        }
        src.it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, snap);
        idsrc_seek(&src, stream && cur.present ? cur.at.id : 0);
    }

    size_t want = q->limit + 1; /* one more tells whether a next page exists */
    for (;;) {
        slice value = {NULL, 0};
        int64_t id = idsrc_next(&src, src.node_scan ? &value : NULL);
        if (id <= 0)
            break;
        if (stream && cur.present && !src.it && (src.desc ? id >= cur.at.id : id <= cur.at.id))
            continue;
        if (src.node_scan)
            rc = lnode_decode(k, id, value, &n, err);
        else
            rc = lg_node_read(lg, snap, k, id, &n, err);
        if (rc == STRATA_NOT_FOUND) { /* an index entry racing a write: skip */
            err_clear(err);
            rc = 0;
            continue;
        }
        if (rc)
            goto out;
        if ((type && n.type_id != type->id) ||
            (q->name.p && !buf_is(&n.name, n.has_name, q->name)) ||
            (q->uri.p && !buf_is(&n.uri, n.has_uri, q->uri)) ||
            (q->external_id.p && !buf_is(&n.extid, n.has_extid, q->external_id)))
            continue;
        cand c = {.id = id, .node = lg_node_json(lg, &n)};
        fill_sort_key(&c, q->order, &n);
        if (!stream && cur.present && cand_cmp(&c, &cur.at, q->order, q->desc) <= 0) {
            json_decref(c.node);
            continue;
        }
        if (q->filter) {
            bool match = false;
            rc = lg_filter_matches(lg, snap, q->filter, k, id, INT64_MAX, c.node, &match, err);
            if (rc || !match) {
                json_decref(c.node);
                if (rc)
                    goto out;
                continue;
            }
        }
        if (ncand == capc) {
            if (!stream && capc >= 2 * want) {
                /* Keep only the best `want` so far: memory stays bounded by
                 * the page, whatever the number of matches. */
                sort_cands(cands, ncand, q->order, q->desc);
                for (size_t i = want; i < ncand; i++)
                    json_decref(cands[i].node);
                ncand = want;
            } else {
                capc = capc ? capc * 2 : 64;
                cand *c2 = realloc(cands, capc * sizeof *c2);
                STRATA_ASSERT(c2 != NULL);
                cands = c2;
            }
        }
        cands[ncand++] = c;
        if (stream && ncand == want)
            break;
    }
    if (src.it && (rc = store_iter_status(src.it, err)))
        goto out;
    if (!stream)
        sort_cands(cands, ncand, q->order, q->desc);
    for (size_t i = 0; i < ncand && i < q->limit; i++) {
        json_array_append(items, cands[i].node);
    }
    if (ncand > q->limit)
        cursor_encode(&cands[q->limit - 1], q->order, next);
out:
    for (size_t i = 0; i < ncand; i++)
        json_decref(cands[i].node);
    free(cands);
    free(src.ids);
    store_iter_close(src.it);
    buf_free(&src.prefix);
    buf_free(&cur.name);
    lnode_free(&n);
    store_snapshot_release(lg->st, snap);
    return rc;
}
