/*
 * api_lineage.c - HTTP handlers for lineage and ML metadata. They parse and
 * shape; every rule (names, property types, uniqueness, states, cycles) lives
 * in lineage/, so the capture API and HTTP refuse the same inputs with the
 * same words.
 *
 * Page tokens: list cursors from lineage/ wrapped by api_page_token_make with
 * a scope made of the route and a 64-bit FNV-1a digest of every other query
 * parameter (page_size excepted), so a token replayed with other parameters
 * is refused with 400.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsoncheck.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "lineage/lineage.h"
#include "serving/api_lineage.h"
#include "serving/app.h"

/* ---- shared helpers ------------------------------------------------------------ */

typedef struct kind_names {
    const char *one;       /* "artifact" */
    const char *many;      /* "artifacts" */
    const char *type_one;  /* "artifact_type" */
    const char *type_many; /* "artifact_types" */
} kind_names;

static const kind_names names_of[LINEAGE_KINDS] = {
    {"artifact", "artifacts", "artifact_type", "artifact_types"},
    {"execution", "executions", "execution_type", "execution_types"},
    {"context", "contexts", "context_type", "context_types"},
};

/* Reply with j (stolen) as the body. */
static void reply(http_req *req, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    buf_append_str(&req->resp, s);
    free(s);
    json_decref(j);
    http_reply_json(req, status);
}

static void reply_one(http_req *req, int status, const char *kind, json_t *inner)
{
    json_t *w = json_object();
    json_object_set_new(w, kind, inner);
    reply(req, status, w);
}

static void reply_list(http_req *req, const char *kind, json_t *items, const buf *token)
{
    json_t *w = json_object();
    json_object_set_new(w, kind, items);
    json_object_set_new(w, "next_page_token", json_stringn(token->p ? token->p : "", token->n));
    reply(req, 200, w);
}

static lineage_t *lg_of(void *ctx)
{
    return ((app *)ctx)->lineage;
}

/* A path parameter that must be a positive integer id. */
static int path_id(http_req *req, size_t i, lineage_kind k, int64_t *out)
{
    if (text_parse_i64(req->params[i], out) == 0 && *out > 0)
        return 0;
    char ex[80];
    text_excerpt(req->params[i], ex, sizeof ex);
    http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "%s id \"%s\" must be a positive integer",
                      names_of[k].one, ex);
    return -1;
}

/* A required body member that must be a positive integer id. */
static int body_id(http_req *req, json_t *body, const char *key, int64_t *out)
{
    json_t *v = json_object_get(body, key);
    if (!v) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"%s\" is required", key);
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"%s\" must be a positive integer",
                          key);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* A query parameter as a slice into `storage`; p == NULL when absent or
 * empty (clients often send "type=" for "any"). */
static slice query_slice(http_req *req, const char *name, buf *storage)
{
    if (!http_query_param(req, name, storage) || storage->n == 0)
        return (slice){NULL, 0};
    return buf_slice(storage);
}

/* FNV-1a over the named parameters, absent and empty kept apart. */
static uint64_t params_digest(http_req *req, const char *const *names)
{
    uint64_t h = UINT64_C(14695981039346656037);
    buf v = BUF_INIT;
    for (const char *const *n = names; *n; n++) {
        int present = http_query_param(req, *n, &v) && v.n > 0;
        unsigned char mark = present ? 1 : 0;
        h = (h ^ mark) * UINT64_C(1099511628211);
        for (size_t i = 0; present && i < v.n; i++)
            h = (h ^ (unsigned char)v.p[i]) * UINT64_C(1099511628211);
        h = (h ^ 0xff) * UINT64_C(1099511628211);
        buf_reset(&v);
    }
    buf_free(&v);
    return h;
}

static void make_scope(char *out, size_t cap, const char *route, http_req *req,
                       const char *const *names)
{
    snprintf(out, cap, "%s/%016llx", route, (unsigned long long)params_digest(req, names));
}

/* page_size with a default and a cap of its own (the traversal's). */
static int page_size_capped(http_req *req, size_t def, size_t max, size_t *out)
{
    buf v = BUF_INIT;
    int rc = 0;
    *out = def;
    if (http_query_param(req, "page_size", &v)) {
        uint64_t n;
        if (text_parse_u64(buf_slice(&v), &n) || n < 1 || n > max) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "page_size must be an integer from 1 to %zu", max);
            rc = -1;
        } else {
            *out = (size_t)n;
        }
    }
    buf_free(&v);
    return rc;
}

/* ---- types ---------------------------------------------------------------------------- */

static void type_put(http_req *req, void *ctx, lineage_kind k)
{
    static const char *const fields[] = {"name", "properties", "can_add_fields", "can_omit_fields",
                                         NULL};
    strata_err err = STRATA_ERR_INIT;
    json_t *body = api_parse_object(req), *type = NULL;
    slice name = {NULL, 0};
    bool can_add = false, can_omit = false, created = false;
    int64_t id = 0;
    if (!body)
        return;
    if (api_check_fields(req, body, fields) || api_get_string(req, body, "name", &name) ||
        api_get_bool(req, body, "can_add_fields", &can_add) ||
        api_get_bool(req, body, "can_omit_fields", &can_omit))
        goto out;
    if (!name.p) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"name\" is required");
        goto out;
    }
    if (lineage_type_put(lg_of(ctx), k, name, json_object_get(body, "properties"), can_add,
                         can_omit, &id, &created, &type, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    json_t *w = json_object();
    json_object_set_new(w, "id", json_integer(id));
    json_object_set_new(w, names_of[k].type_one, type);
    reply(req, created ? 201 : 200, w);
out:
    err_clear(&err);
    json_decref(body);
}

static void type_list(http_req *req, void *ctx, lineage_kind k)
{
    strata_err err = STRATA_ERR_INIT;
    buf last = BUF_INIT, next = BUF_INIT;
    size_t page;
    bool have_tok, more = false;
    json_t *items = NULL;
    if (api_page_size(req, &page) ||
        api_page_token_parse(req, names_of[k].type_many, &last, &have_tok))
        goto out;
    items = json_array();
    if (lineage_type_list(lg_of(ctx), k, buf_slice(&last), page, items, &more, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (more) {
        json_t *lastj = json_array_get(items, json_array_size(items) - 1);
        api_page_token_make(names_of[k].type_many,
                            slice_of(json_string_value(json_object_get(lastj, "name"))), &next);
    }
    reply_list(req, names_of[k].type_many, items, &next);
    items = NULL;
out:
    json_decref(items);
    err_clear(&err);
    buf_free(&last);
    buf_free(&next);
}

static void type_get(http_req *req, void *ctx, lineage_kind k)
{
    strata_err err = STRATA_ERR_INIT;
    json_t *t = NULL;
    if (lineage_type_get(lg_of(ctx), k, req->params[0], &t, &err))
        http_reply_error(req, &err);
    else
        reply_one(req, 200, names_of[k].type_one, t);
    err_clear(&err);
}

/* ---- nodes ------------------------------------------------------------------------------- */

/* A node spec from its JSON object (slices borrowed from obj). `where` ("" or
 * "artifacts[2].") goes before field names in messages. */
static int node_spec_parse(json_t *obj, const char *where, lineage_node_spec *spec,
                           strata_err *err)
{
    static const char *const fields[] = {
        "type", "name", "uri", "state", "external_id", "properties", "custom_properties", NULL};
    slice *strs[] = {&spec->type, &spec->name, &spec->uri, &spec->state, &spec->external_id};
    memset(spec, 0, sizeof *spec);
    int rc = json_check_fields(obj, fields, where, err);
    for (size_t i = 0; !rc && i < sizeof strs / sizeof strs[0]; i++) {
        json_t *v = json_object_get(obj, fields[i]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_string(v))
            return err_set(err, STRATA_INVALID_ARGUMENT, "field \"%s%s\" must be a string", where,
                           fields[i]);
        *strs[i] = (slice){json_string_value(v), json_string_length(v)};
    }
    spec->properties = json_object_get(obj, "properties");
    spec->custom_properties = json_object_get(obj, "custom_properties");
    if (spec->properties && json_is_null(spec->properties))
        spec->properties = NULL;
    if (spec->custom_properties && json_is_null(spec->custom_properties))
        spec->custom_properties = NULL;
    return rc;
}

static void node_create(http_req *req, void *ctx, lineage_kind k)
{
    strata_err err = STRATA_ERR_INIT;
    json_t *body = api_parse_object(req), *node = NULL;
    lineage_node_spec spec;
    if (!body)
        return;
    if (node_spec_parse(body, "", &spec, &err) ||
        lineage_node_create(lg_of(ctx), k, &spec, NULL, &node, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    reply_one(req, 201, names_of[k].one, node);
out:
    err_clear(&err);
    json_decref(body);
}

static void node_get(http_req *req, void *ctx, lineage_kind k)
{
    strata_err err = STRATA_ERR_INIT;
    json_t *node = NULL;
    int64_t id;
    if (path_id(req, 0, k, &id))
        return;
    if (lineage_node_get(lg_of(ctx), k, id, &node, &err))
        http_reply_error(req, &err);
    else
        reply_one(req, 200, names_of[k].one, node);
    err_clear(&err);
}

/* An optional string member where null means "clear": *out NULL when
 * absent, else pointing at storage (p == NULL for null). */
static int patch_string(http_req *req, json_t *body, const char *key, slice *storage,
                        const slice **out)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v)
        return 0;
    if (json_is_null(v)) {
        *storage = (slice){NULL, 0};
    } else if (json_is_string(v)) {
        *storage = (slice){json_string_value(v), json_string_length(v)};
    } else {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"%s\" must be a string or null",
                          key);
        return -1;
    }
    *out = storage;
    return 0;
}

static void node_patch(http_req *req, void *ctx, lineage_kind k)
{
    static const char *const fields[] = {"type",
                                         "name",
                                         "uri",
                                         "state",
                                         "external_id",
                                         "properties",
                                         "custom_properties",
                                         "if_update_time",
                                         "id",
                                         "create_time",
                                         "update_time",
                                         "version",
                                         NULL};
    strata_err err = STRATA_ERR_INIT;
    json_t *body = NULL, *node = NULL;
    slice s_type, s_name, s_uri, s_state, s_ext;
    int64_t id, if_time = 0;
    lineage_node_patch p = {0};
    if (path_id(req, 0, k, &id) || !(body = api_parse_object(req)))
        return;
    if (api_check_fields(req, body, fields) || patch_string(req, body, "type", &s_type, &p.type) ||
        patch_string(req, body, "name", &s_name, &p.name) ||
        patch_string(req, body, "uri", &s_uri, &p.uri) ||
        patch_string(req, body, "state", &s_state, &p.state) ||
        patch_string(req, body, "external_id", &s_ext, &p.external_id) ||
        api_get_time(req, body, "if_update_time", &if_time))
        goto out;
    /* Read-only fields a client may echo back from a GET: they must match. */
    json_t *jid = json_object_get(body, "id");
    if (jid && !(json_is_integer(jid) && json_integer_value(jid) == id)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "a %s's id never changes", names_of[k].one);
        goto out;
    }
    if (json_object_get(body, "if_update_time") &&
        !json_is_null(json_object_get(body, "if_update_time")))
        p.if_update_time = &if_time;
    p.properties = json_object_get(body, "properties");
    p.custom_properties = json_object_get(body, "custom_properties");
    if (p.properties && json_is_null(p.properties))
        p.properties = NULL;
    if (p.custom_properties && json_is_null(p.custom_properties))
        p.custom_properties = NULL;
    if (lineage_node_update(lg_of(ctx), k, id, &p, &node, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    reply_one(req, 200, names_of[k].one, node);
out:
    err_clear(&err);
    json_decref(body);
}

static void node_history(http_req *req, void *ctx, lineage_kind k)
{
    strata_err err = STRATA_ERR_INIT;
    buf last = BUF_INIT, next = BUF_INIT;
    size_t page;
    bool have_tok, more = false;
    int64_t id;
    uint64_t after = 0;
    json_t *items = NULL;
    char scope[96];
    if (path_id(req, 0, k, &id))
        return;
    snprintf(scope, sizeof scope, "%s/%lld/history", names_of[k].many, (long long)id);
    if (api_page_size(req, &page) || api_page_token_parse(req, scope, &last, &have_tok))
        goto out;
    if (have_tok && (text_parse_u64(buf_slice(&last), &after) || after > UINT32_MAX)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "page_token is malformed");
        goto out;
    }
    items = json_array();
    if (lineage_node_history(lg_of(ctx), k, id, (uint32_t)after, page, items, &more, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (more) {
        json_t *lastj = json_array_get(items, json_array_size(items) - 1);
        char v[24];
        snprintf(v, sizeof v, "%lld",
                 (long long)json_integer_value(json_object_get(lastj, "version")));
        api_page_token_make(scope, slice_of(v), &next);
    }
    reply_list(req, "versions", items, &next);
    items = NULL;
out:
    json_decref(items);
    err_clear(&err);
    buf_free(&last);
    buf_free(&next);
}

/* "create_time desc" (space or '+' between the two words) */
static int parse_order(http_req *req, lineage_order *order, bool *desc)
{
    static const struct {
        const char *name;
        lineage_order order;
    } fields[] = {
        {"id", LINEAGE_ORDER_ID},
        {"name", LINEAGE_ORDER_NAME},
        {"create_time", LINEAGE_ORDER_CREATE_TIME},
        {"update_time", LINEAGE_ORDER_UPDATE_TIME},
        {"create_time_since_epoch", LINEAGE_ORDER_CREATE_TIME},
        {"last_update_time_since_epoch", LINEAGE_ORDER_UPDATE_TIME},
    };
    buf v = BUF_INIT;
    int rc = 0;
    *order = LINEAGE_ORDER_ID;
    *desc = false;
    if (!http_query_param(req, "order_by", &v) || v.n == 0)
        goto out;
    size_t a = 0; /* http_query_param has read '+' as a space */
    while (a < v.n && v.p[a] == ' ')
        a++;
    size_t b = a;
    while (b < v.n && v.p[b] != ' ')
        b++;
    size_t c = b;
    while (c < v.n && v.p[c] == ' ')
        c++;
    size_t d = c;
    while (d < v.n && v.p[d] != ' ')
        d++;
    size_t e = d;
    while (e < v.n && v.p[e] == ' ')
        e++;
    slice field = {v.p + a, b - a}, dir = {v.p + c, d - c};
    bool found = false;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && !found; i++)
        if (slice_eq_str(field, fields[i].name)) {
            *order = fields[i].order;
            found = true;
        }
    if (found && dir.n && !slice_eq_str(dir, "asc") && !slice_eq_str(dir, "desc") &&
        !slice_eq_str(dir, "ASC") && !slice_eq_str(dir, "DESC"))
        found = false;
    if (!found || e != v.n) {
        char ex[80];
        text_excerpt(buf_slice(&v), ex, sizeof ex);
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "order_by \"%s\" is invalid: expected id, name, create_time or "
                          "update_time, optionally followed by asc or desc",
                          ex);
        rc = -1;
        goto out;
    }
    *desc = dir.n && (dir.p[0] == 'd' || dir.p[0] == 'D');
out:
    buf_free(&v);
    return rc;
}

static int parse_filter(http_req *req, const char *param, lfilter **out)
{
    buf v = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    int rc = 0;
    *out = NULL;
    if (http_query_param(req, param, &v) && v.n > 0 && lfilter_parse(buf_slice(&v), out, &err)) {
        http_reply_error(req, &err);
        rc = -1;
    }
    err_clear(&err);
    buf_free(&v);
    return rc;
}

static void node_list(http_req *req, void *ctx, lineage_kind k)
{
    static const char *const scoped[] = {"type",   "name",     "uri", "external_id",
                                         "filter", "order_by", NULL};
    strata_err err = STRATA_ERR_INIT;
    buf b_type = BUF_INIT, b_name = BUF_INIT, b_uri = BUF_INIT, b_ext = BUF_INIT, last = BUF_INIT,
        next = BUF_INIT, token = BUF_INIT;
    lfilter *filter = NULL;
    json_t *items = NULL;
    size_t page;
    bool have_tok;
    char scope[96];
    lineage_query q = {{0}};
    make_scope(scope, sizeof scope, names_of[k].many, req, scoped);
    if (api_page_size(req, &page) || api_page_token_parse(req, scope, &last, &have_tok) ||
        parse_order(req, &q.order, &q.desc) || parse_filter(req, "filter", &filter))
        goto out;
    q.type = query_slice(req, "type", &b_type);
    q.name = query_slice(req, "name", &b_name);
    q.uri = query_slice(req, "uri", &b_uri);
    q.external_id = query_slice(req, "external_id", &b_ext);
    q.filter = filter;
    q.cursor = buf_slice(&last);
    q.limit = page;
    items = json_array();
    if (lineage_node_list(lg_of(ctx), k, &q, items, &next, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (next.n)
        api_page_token_make(scope, buf_slice(&next), &token);
    reply_list(req, names_of[k].many, items, &token);
    items = NULL;
out:
    json_decref(items);
    lfilter_free(filter);
    err_clear(&err);
    buf_free(&b_type);
    buf_free(&b_name);
    buf_free(&b_uri);
    buf_free(&b_ext);
    buf_free(&last);
    buf_free(&next);
    buf_free(&token);
}

/* ---- events and links ----------------------------------------------------------------- */

static int event_type_parse(json_t *obj, const char *where, lineage_event_type *t,
                            strata_err *err)
{
    json_t *v = json_object_get(obj, "type");
    if (!v || json_is_null(v))
        return err_set(err, STRATA_INVALID_ARGUMENT, "field \"%stype\" is required", where);
    if (!json_is_string(v))
        return err_set(err, STRATA_INVALID_ARGUMENT, "field \"%stype\" must be a string", where);
    slice type = {json_string_value(v), json_string_length(v)};
    if (lineage_event_type_parse(type, t) == 0)
        return 0;
    char ex[80];
    text_excerpt(type, ex, sizeof ex);
    return err_set(err, STRATA_INVALID_ARGUMENT,
                   "unknown event type \"%s\": expected INPUT, OUTPUT, DECLARED_INPUT or "
                   "DECLARED_OUTPUT",
                   ex);
}

void api_event_create(http_req *req, void *ctx)
{
    static const char *const fields[] = {"artifact_id", "execution_id", "type", "path", NULL};
    strata_err err = STRATA_ERR_INIT;
    json_t *body = api_parse_object(req), *event = NULL;
    int64_t art, exe;
    lineage_event_type t;
    if (!body)
        return;
    if (api_check_fields(req, body, fields) || body_id(req, body, "artifact_id", &art) ||
        body_id(req, body, "execution_id", &exe))
        goto out;
    if (event_type_parse(body, "", &t, &err) ||
        lineage_event_put(lg_of(ctx), art, exe, t, json_object_get(body, "path"), &event, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    reply_one(req, 201, "event", event);
out:
    err_clear(&err);
    json_decref(body);
}

static void event_list(http_req *req, void *ctx, lineage_kind k)
{
    strata_err err = STRATA_ERR_INIT;
    buf last = BUF_INIT, next = BUF_INIT, token = BUF_INIT;
    size_t page;
    bool have_tok;
    int64_t id;
    json_t *items = NULL;
    char scope[96];
    if (path_id(req, 0, k, &id))
        return;
    snprintf(scope, sizeof scope, "%s/%lld/events", names_of[k].many, (long long)id);
    if (api_page_size(req, &page) || api_page_token_parse(req, scope, &last, &have_tok))
        goto out;
    items = json_array();
    if (lineage_event_list(lg_of(ctx), k, id, buf_slice(&last), page, items, &next, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (next.n)
        api_page_token_make(scope, buf_slice(&next), &token);
    reply_list(req, "events", items, &token);
    items = NULL;
out:
    json_decref(items);
    err_clear(&err);
    buf_free(&last);
    buf_free(&next);
    buf_free(&token);
}

void api_artifact_events(http_req *req, void *ctx)
{
    event_list(req, ctx, LINEAGE_ARTIFACT);
}

void api_execution_events(http_req *req, void *ctx)
{
    event_list(req, ctx, LINEAGE_EXECUTION);
}

typedef enum link_kind { LINK_ARTIFACT, LINK_EXECUTION, LINK_PARENT } link_kind;

static void link_add(http_req *req, void *ctx, link_kind lk)
{
    static const char *const f_art[] = {"artifact_id", NULL};
    static const char *const f_exe[] = {"execution_id", NULL};
    static const char *const f_par[] = {"parent_id", NULL};
    const char *const *fields = lk == LINK_ARTIFACT ? f_art : lk == LINK_EXECUTION ? f_exe : f_par;
    strata_err err = STRATA_ERR_INIT;
    json_t *body = NULL;
    int64_t cid, other;
    bool created = false;
    int rc;
    if (path_id(req, 0, LINEAGE_CONTEXT, &cid) || !(body = api_parse_object(req)))
        return;
    if (api_check_fields(req, body, fields) || body_id(req, body, fields[0], &other))
        goto out;
    if (lk == LINK_ARTIFACT)
        rc = lineage_attribution_put(lg_of(ctx), cid, other, &created, &err);
    else if (lk == LINK_EXECUTION)
        rc = lineage_association_put(lg_of(ctx), cid, other, &created, &err);
    else
        rc = lineage_parent_put(lg_of(ctx), cid, other, &created, &err);
    if (rc) {
        http_reply_error(req, &err);
        goto out;
    }
    json_t *inner = json_object();
    json_object_set_new(inner, "context_id", json_integer(cid));
    json_object_set_new(inner, fields[0], json_integer(other));
    json_object_set_new(inner, "created", json_boolean(created));
    reply_one(req, created ? 201 : 200,
              lk == LINK_ARTIFACT    ? "attribution"
              : lk == LINK_EXECUTION ? "association"
                                     : "parent_context",
              inner);
out:
    err_clear(&err);
    json_decref(body);
}

static void related(http_req *req, void *ctx, lineage_kind self, lineage_relation rel,
                    const char *what, const char *list_key)
{
    strata_err err = STRATA_ERR_INIT;
    buf last = BUF_INIT, next = BUF_INIT, token = BUF_INIT;
    size_t page;
    bool have_tok;
    int64_t id;
    json_t *items = NULL;
    char scope[96];
    if (path_id(req, 0, self, &id))
        return;
    snprintf(scope, sizeof scope, "%s/%lld/%s", names_of[self].many, (long long)id, what);
    if (api_page_size(req, &page) || api_page_token_parse(req, scope, &last, &have_tok))
        goto out;
    items = json_array();
    if (lineage_related_list(lg_of(ctx), rel, id, buf_slice(&last), page, items, &next, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (next.n)
        api_page_token_make(scope, buf_slice(&next), &token);
    reply_list(req, list_key, items, &token);
    items = NULL;
out:
    json_decref(items);
    err_clear(&err);
    buf_free(&last);
    buf_free(&next);
    buf_free(&token);
}

void api_context_artifact_add(http_req *req, void *ctx)
{
    link_add(req, ctx, LINK_ARTIFACT);
}

void api_context_execution_add(http_req *req, void *ctx)
{
    link_add(req, ctx, LINK_EXECUTION);
}

void api_context_parent_add(http_req *req, void *ctx)
{
    link_add(req, ctx, LINK_PARENT);
}

void api_context_artifacts(http_req *req, void *ctx)
{
    related(req, ctx, LINEAGE_CONTEXT, LINEAGE_REL_CONTEXT_ARTIFACTS, "artifacts", "artifacts");
}

void api_context_executions(http_req *req, void *ctx)
{
    related(req, ctx, LINEAGE_CONTEXT, LINEAGE_REL_CONTEXT_EXECUTIONS, "executions", "executions");
}

void api_context_parents(http_req *req, void *ctx)
{
    related(req, ctx, LINEAGE_CONTEXT, LINEAGE_REL_CONTEXT_PARENTS, "parents", "contexts");
}

void api_context_children(http_req *req, void *ctx)
{
    related(req, ctx, LINEAGE_CONTEXT, LINEAGE_REL_CONTEXT_CHILDREN, "children", "contexts");
}

void api_artifact_contexts(http_req *req, void *ctx)
{
    related(req, ctx, LINEAGE_ARTIFACT, LINEAGE_REL_ARTIFACT_CONTEXTS, "contexts", "contexts");
}

void api_execution_contexts(http_req *req, void *ctx)
{
    related(req, ctx, LINEAGE_EXECUTION, LINEAGE_REL_EXECUTION_CONTEXTS, "contexts", "contexts");
}

/* ---- batches ------------------------------------------------------------------------------
 *
 * POST /v1/lineage:batch: new nodes, events, attributions and associations in
 * one transaction (docs/api.md). Entries name nodes by id ("artifact_id") or
 * by their position among the batch's new nodes ("artifact_index").
 */

/* One end of an event or link: exactly one of <kind>_id and <kind>_index. */
static int batch_ref_parse(json_t *obj, lineage_kind k, const char *where, lineage_batch_ref *r,
                           strata_err *err)
{
    char idk[32], ixk[32];
    snprintf(idk, sizeof idk, "%s_id", names_of[k].one);
    snprintf(ixk, sizeof ixk, "%s_index", names_of[k].one);
    json_t *id = json_object_get(obj, idk), *ix = json_object_get(obj, ixk);
    memset(r, 0, sizeof *r);
    if (!id == !ix)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "%s: exactly one of \"%s\" and \"%s\" is required", where, idk, ixk);
    if (id && (!json_is_integer(id) || json_integer_value(id) <= 0))
        return err_set(err, STRATA_INVALID_ARGUMENT, "field \"%s.%s\" must be a positive integer",
                       where, idk);
    if (ix && (!json_is_integer(ix) || json_integer_value(ix) < 0 ||
               json_integer_value(ix) >= (json_int_t)LINEAGE_BATCH_ITEMS_MAX))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "field \"%s.%s\" must be an integer from 0 to %u", where, ixk,
                       LINEAGE_BATCH_ITEMS_MAX - 1);
    if (id)
        r->id = json_integer_value(id);
    else
        r->index = (size_t)json_integer_value(ix);
    return 0;
}

/* The member `key` of body: an array (absent or null: empty). */
static int batch_array(json_t *body, const char *key, json_t **out, strata_err *err)
{
    json_t *a = json_object_get(body, key);
    *out = a && !json_is_null(a) ? a : NULL;
    if (*out && !json_is_array(*out))
        return err_set(err, STRATA_INVALID_ARGUMENT, "field \"%s\" must be an array", key);
    return 0;
}

/* Entry i of array a, an object; where = "key[i]", prefix = "key[i]." */
static int batch_entry(json_t *a, size_t i, const char *key, char *where, char *prefix,
                       json_t **obj, strata_err *err)
{
    snprintf(where, 48, "%s[%zu]", key, i);
    snprintf(prefix, 52, "%s.", where);
    *obj = json_array_get(a, i);
    if (!json_is_object(*obj))
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s must be an object", where);
    return 0;
}

static int batch_links_parse(json_t *a, const char *key, lineage_kind other,
                             lineage_batch_link *links, strata_err *err)
{
    static const char *const f_art[] = {"context_id", "context_index", "artifact_id",
                                        "artifact_index", NULL};
    static const char *const f_exe[] = {"context_id", "context_index", "execution_id",
                                        "execution_index", NULL};
    char where[48], prefix[52];
    json_t *o;
    for (size_t i = 0; i < json_array_size(a); i++) {
        int rc;
        if ((rc = batch_entry(a, i, key, where, prefix, &o, err)) ||
            (rc = json_check_fields(o, other == LINEAGE_ARTIFACT ? f_art : f_exe, prefix, err)) ||
            (rc = batch_ref_parse(o, LINEAGE_CONTEXT, where, &links[i].context, err)) ||
            (rc = batch_ref_parse(o, other, where, &links[i].node, err)))
            return rc;
    }
    return 0;
}

static json_t *batch_answer(const lineage_batch *b, int64_t *const ids[], size_t links)
{
    json_t *inner = json_object();
    for (int k = 0; k < LINEAGE_KINDS; k++) {
        char key[32];
        json_t *list = json_array();
        for (size_t i = 0; i < b->nnodes[k]; i++)
            json_array_append_new(list, json_integer(ids[k][i]));
        snprintf(key, sizeof key, "%s_ids", names_of[k].one);
        json_object_set_new(inner, key, list);
    }
    json_object_set_new(inner, "events", json_integer((json_int_t)b->nevents));
    json_object_set_new(inner, "links_created", json_integer((json_int_t)links));
    return inner;
}

void api_lineage_batch(http_req *req, void *ctx)
{
    static const char *const fields[] = {"artifacts", "executions",   "contexts",    "events",
                                         "attributions", "associations", NULL};
    static const char *const f_event[] = {"artifact_id",     "artifact_index", "execution_id",
                                          "execution_index", "type",           "path",
                                          NULL};
    strata_err err = STRATA_ERR_INIT;
    json_t *body = api_parse_object(req), *arr[LINEAGE_KINDS] = {NULL}, *ev = NULL, *at = NULL,
           *as = NULL, *o = NULL;
    lineage_node_spec *specs[LINEAGE_KINDS] = {NULL};
    int64_t *ids[LINEAGE_KINDS] = {NULL};
    lineage_batch_event *events = NULL;
    lineage_batch_link *attrs = NULL, *assocs = NULL;
    lineage_batch b = {{NULL}};
    size_t links = 0, total = 0;
    char where[48], prefix[52];
    int rc;
    if (!body)
        return;
    if ((rc = json_check_fields(body, fields, "", &err)) ||
        (rc = batch_array(body, "events", &ev, &err)) ||
        (rc = batch_array(body, "attributions", &at, &err)) ||
        (rc = batch_array(body, "associations", &as, &err)))
        goto out;
    for (int k = 0; k < LINEAGE_KINDS; k++) {
        if ((rc = batch_array(body, names_of[k].many, &arr[k], &err)))
            goto out;
        b.nnodes[k] = json_array_size(arr[k]);
        total += b.nnodes[k];
    }
    b.nevents = json_array_size(ev);
    b.nattributions = json_array_size(at);
    b.nassociations = json_array_size(as);
    total += b.nevents + b.nattributions + b.nassociations;
    /* Checked before allocating anything sized by the body. */
    if (total > LINEAGE_BATCH_ITEMS_MAX) {
        rc = err_set(&err, STRATA_RESOURCE_EXHAUSTED,
                     "a batch holds at most %u nodes, events and links in all, not %zu",
                     LINEAGE_BATCH_ITEMS_MAX, total);
        goto out;
    }
    for (int k = 0; k < LINEAGE_KINDS; k++) {
        specs[k] = calloc(b.nnodes[k] + 1, sizeof *specs[k]);
        ids[k] = calloc(b.nnodes[k] + 1, sizeof *ids[k]);
        STRATA_ASSERT(specs[k] && ids[k]);
        for (size_t i = 0; i < b.nnodes[k]; i++)
            if ((rc = batch_entry(arr[k], i, names_of[k].many, where, prefix, &o, &err)) ||
                (rc = node_spec_parse(o, prefix, &specs[k][i], &err)))
                goto out;
        b.nodes[k] = specs[k];
    }
    events = calloc(b.nevents + 1, sizeof *events);
    attrs = calloc(b.nattributions + 1, sizeof *attrs);
    assocs = calloc(b.nassociations + 1, sizeof *assocs);
    STRATA_ASSERT(events && attrs && assocs);
    for (size_t i = 0; i < b.nevents; i++) {
        if ((rc = batch_entry(ev, i, "events", where, prefix, &o, &err)) ||
            (rc = json_check_fields(o, f_event, prefix, &err)) ||
            (rc = batch_ref_parse(o, LINEAGE_ARTIFACT, where, &events[i].artifact, &err)) ||
            (rc = batch_ref_parse(o, LINEAGE_EXECUTION, where, &events[i].execution, &err)) ||
            (rc = event_type_parse(o, prefix, &events[i].type, &err)))
            goto out;
        events[i].path = json_object_get(o, "path");
    }
    if ((rc = batch_links_parse(at, "attributions", LINEAGE_ARTIFACT, attrs, &err)) ||
        (rc = batch_links_parse(as, "associations", LINEAGE_EXECUTION, assocs, &err)))
        goto out;
    b.events = events;
    b.attributions = attrs;
    b.associations = assocs;
    if ((rc = lineage_batch_put(lg_of(ctx), &b, ids, &links, &err)))
        goto out;
    reply_one(req, 200, "batch", batch_answer(&b, ids, links));
out:
    if (rc)
        http_reply_error(req, &err);
    for (int k = 0; k < LINEAGE_KINDS; k++) {
        free(specs[k]);
        free(ids[k]);
    }
    free(events);
    free(attrs);
    free(assocs);
    err_clear(&err);
    json_decref(body);
}

/* ---- lineage traversal --------------------------------------------------------------- */

/* "1,2,3" → ids (at most LINEAGE_START_IDS_MAX). */
static int parse_id_list(http_req *req, const char *param, slice s, int64_t **ids, size_t *n)
{
    size_t cap = 1;
    for (size_t i = 0; i < s.n; i++)
        cap += s.p[i] == ',';
    if (cap > LINEAGE_START_IDS_MAX) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "%s names more than %d ids", param,
                          LINEAGE_START_IDS_MAX);
        return -1;
    }
    *ids = calloc(cap, sizeof **ids);
    if (!*ids) {
        http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
        return -1;
    }
    *n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= s.n; i++) {
        if (i < s.n && s.p[i] != ',')
            continue;
        int64_t v;
        if (text_parse_i64((slice){s.p + start, i - start}, &v) || v <= 0) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "%s must be a positive integer or a comma-separated list of them",
                              param);
            return -1;
        }
        bool dup = false;
        for (size_t j = 0; j < *n && !dup; j++)
            dup = (*ids)[j] == v;
        if (!dup)
            (*ids)[(*n)++] = v;
        start = i + 1;
    }
    return 0;
}

void api_lineage_graph(http_req *req, void *ctx)
{
    static const char *const scoped[] = {
        "artifact_id", "execution_id", "filter", "execution_filter",
        "direction",   "max_hops",     "as_of",  NULL};
    strata_err err = STRATA_ERR_INIT;
    buf b_art = BUF_INIT, b_exe = BUF_INIT, b_dir = BUF_INIT, b_hops = BUF_INIT, b_asof = BUF_INIT,
        last = BUF_INIT, token = BUF_INIT;
    lfilter *afilter = NULL, *efilter = NULL;
    int64_t *ids = NULL;
    json_t *res = NULL;
    bool have_tok, more = false;
    size_t page;
    char scope[96];
    lineage_graph_query q = {0};
    make_scope(scope, sizeof scope, "lineage", req, scoped);
    if (page_size_capped(req, LINEAGE_GRAPH_PAGE_DEFAULT, LINEAGE_GRAPH_PAGE_MAX, &page) ||
        api_page_token_parse(req, scope, &last, &have_tok) ||
        parse_filter(req, "filter", &afilter) || parse_filter(req, "execution_filter", &efilter))
        goto out;
    slice art = query_slice(req, "artifact_id", &b_art);
    slice exe = query_slice(req, "execution_id", &b_exe);
    int starts = (art.p != NULL) + (exe.p != NULL) + (afilter != NULL) + (efilter != NULL);
    if (starts != 1) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "give exactly one start: artifact_id, execution_id, filter (artifacts) "
                          "or execution_filter");
        goto out;
    }
    if (art.p && parse_id_list(req, "artifact_id", art, &ids, &q.nstart))
        goto out;
    if (exe.p && parse_id_list(req, "execution_id", exe, &ids, &q.nstart))
        goto out;
    q.start_kind = exe.p || efilter ? LINEAGE_EXECUTION : LINEAGE_ARTIFACT;
    q.start_ids = ids;
    q.start_filter = afilter ? afilter : efilter;

    q.direction = LINEAGE_BOTH;
    slice dir = query_slice(req, "direction", &b_dir);
    if (dir.p) {
        if (slice_eq_str(dir, "upstream"))
            q.direction = LINEAGE_UPSTREAM;
        else if (slice_eq_str(dir, "downstream"))
            q.direction = LINEAGE_DOWNSTREAM;
        else if (!slice_eq_str(dir, "both")) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "direction must be upstream, downstream or both");
            goto out;
        }
    }
    q.max_hops = LINEAGE_DEFAULT_MAX_HOPS;
    slice hops = query_slice(req, "max_hops", &b_hops);
    if (hops.p) {
        uint64_t h;
        if (text_parse_u64(hops, &h) || h > LINEAGE_MAX_HOPS_CAP) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "max_hops must be an integer from 0 to %u", LINEAGE_MAX_HOPS_CAP);
            goto out;
        }
        q.max_hops = (uint32_t)h;
    }
    /* as_of: given, or pinned by the first page so that later pages walk the
     * same graph. The token carries (as_of, offset). */
    q.as_of = time_now_us();
    slice asof = query_slice(req, "as_of", &b_asof);
    if (asof.p && time_parse_rfc3339(asof, &q.as_of)) {
        /* "...T00:00:00+02:00" written into a URL as it is reads as a space. */
        bool space = memchr(asof.p, ' ', asof.n) != NULL;
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "as_of must be an RFC 3339 timestamp such as "
                          "\"2024-01-02T03:04:05.123456Z\"%s",
                          space ? " (in a query string '+' is a space: write an offset's '+' "
                                  "as %2B, or give the time in UTC with Z)"
                                : "");
        goto out;
    }
    if (have_tok) {
        if (last.n != 16) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "page_token is malformed");
            goto out;
        }
        q.as_of = (int64_t)get_u64be(last.p);
        q.offset = get_u64be(last.p + 8);
    }
    q.limit = page;
    if (lineage_graph(lg_of(ctx), &q, &res, &more, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (more) {
        char raw[16];
        put_u64be(raw, (uint64_t)q.as_of);
        put_u64be(raw + 8, q.offset + q.limit);
        api_page_token_make(scope, (slice){raw, sizeof raw}, &token);
    }
    json_object_set_new(res, "next_page_token", json_stringn(token.p ? token.p : "", token.n));
    reply(req, 200, res);
    res = NULL;
out:
    json_decref(res);
    lfilter_free(afilter);
    lfilter_free(efilter);
    free(ids);
    err_clear(&err);
    buf_free(&b_art);
    buf_free(&b_exe);
    buf_free(&b_dir);
    buf_free(&b_hops);
    buf_free(&b_asof);
    buf_free(&last);
    buf_free(&token);
}

/* ---- per-kind entry points ---------------------------------------------------------- */

void api_artifact_type_put(http_req *req, void *ctx)
{
    type_put(req, ctx, LINEAGE_ARTIFACT);
}
void api_artifact_type_list(http_req *req, void *ctx)
{
    type_list(req, ctx, LINEAGE_ARTIFACT);
}
void api_artifact_type_get(http_req *req, void *ctx)
{
    type_get(req, ctx, LINEAGE_ARTIFACT);
}
void api_execution_type_put(http_req *req, void *ctx)
{
    type_put(req, ctx, LINEAGE_EXECUTION);
}
void api_execution_type_list(http_req *req, void *ctx)
{
    type_list(req, ctx, LINEAGE_EXECUTION);
}
void api_execution_type_get(http_req *req, void *ctx)
{
    type_get(req, ctx, LINEAGE_EXECUTION);
}
void api_context_type_put(http_req *req, void *ctx)
{
    type_put(req, ctx, LINEAGE_CONTEXT);
}
void api_context_type_list(http_req *req, void *ctx)
{
    type_list(req, ctx, LINEAGE_CONTEXT);
}
void api_context_type_get(http_req *req, void *ctx)
{
    type_get(req, ctx, LINEAGE_CONTEXT);
}

void api_artifact_create(http_req *req, void *ctx)
{
    node_create(req, ctx, LINEAGE_ARTIFACT);
}
void api_artifact_list(http_req *req, void *ctx)
{
    node_list(req, ctx, LINEAGE_ARTIFACT);
}
void api_artifact_get(http_req *req, void *ctx)
{
    node_get(req, ctx, LINEAGE_ARTIFACT);
}
void api_artifact_patch(http_req *req, void *ctx)
{
    node_patch(req, ctx, LINEAGE_ARTIFACT);
}
void api_artifact_history(http_req *req, void *ctx)
{
    node_history(req, ctx, LINEAGE_ARTIFACT);
}
void api_execution_create(http_req *req, void *ctx)
{
    node_create(req, ctx, LINEAGE_EXECUTION);
}
void api_execution_list(http_req *req, void *ctx)
{
    node_list(req, ctx, LINEAGE_EXECUTION);
}
void api_execution_get(http_req *req, void *ctx)
{
    node_get(req, ctx, LINEAGE_EXECUTION);
}
void api_execution_patch(http_req *req, void *ctx)
{
    node_patch(req, ctx, LINEAGE_EXECUTION);
}
void api_execution_history(http_req *req, void *ctx)
{
    node_history(req, ctx, LINEAGE_EXECUTION);
}
void api_context_create(http_req *req, void *ctx)
{
    node_create(req, ctx, LINEAGE_CONTEXT);
}
void api_context_list(http_req *req, void *ctx)
{
    node_list(req, ctx, LINEAGE_CONTEXT);
}
void api_context_get(http_req *req, void *ctx)
{
    node_get(req, ctx, LINEAGE_CONTEXT);
}
void api_context_patch(http_req *req, void *ctx)
{
    node_patch(req, ctx, LINEAGE_CONTEXT);
}
void api_context_history(http_req *req, void *ctx)
{
    node_history(req, ctx, LINEAGE_CONTEXT);
}
