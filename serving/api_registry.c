/*
 * api_registry.c - entities and features: create, list, show, update, delete,
 * search. Validation of names, types and labels lives in the store, so every
 * path into the registry refuses the same inputs with the same words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/jsonw.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "serving/app.h"

static json_t *time_json(int64_t us)
{
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(us, t, sizeof t);
    return json_string(t);
}

static json_t *feature_json(const entity_def *e, const feature_def *f)
{
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(f->name));
    json_object_set_new(j, "entity", json_string(e->name));
    json_object_set_new(j, "type", json_string(value_type_name(f->type)));
    json_object_set_new(j, "description", json_string(f->description));
    json_object_set(j, "labels", f->labels);
    json_object_set_new(j, "ttl_seconds", json_integer(f->ttl_seconds));
    json_object_set_new(j, "create_time", time_json(f->create_time));
    json_object_set_new(j, "update_time", time_json(f->update_time));
    return j;
}

static json_t *entity_json(const entity_def *e, bool with_features)
{
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(e->name));
    json_object_set_new(j, "description", json_string(e->description));
    json_object_set(j, "labels", e->labels);
    json_object_set_new(j, "create_time", time_json(e->create_time));
    json_object_set_new(j, "update_time", time_json(e->update_time));
    json_object_set_new(j, "feature_count", json_integer((json_int_t)e->nfeatures));
    if (with_features) {
        json_t *fs = json_array();
        for (size_t i = 0; i < e->nfeatures; i++)
            json_array_append_new(fs, feature_json(e, e->features[i]));
        json_object_set_new(j, "features", fs);
    }
    return j;
}

/* Wrap `inner` as {"<kind>": inner} and reply; steals inner. */
static void reply_wrapped(http_req *req, int status, const char *kind, json_t *inner)
{
    json_t *w = json_object();
    json_object_set_new(w, kind, inner);
    char *s = json_dumps(w, JSON_COMPACT);
    buf_append_str(&req->resp, s);
    free(s);
    json_decref(w);
    http_reply_json(req, status);
}

static void reply_list(http_req *req, const char *kind, json_t *items, const buf *next)
{
    json_t *w = json_object();
    json_object_set_new(w, kind, items);
    json_object_set_new(w, "next_page_token", json_stringn(next->p ? next->p : "", next->n));
    char *s = json_dumps(w, JSON_COMPACT);
    buf_append_str(&req->resp, s);
    free(s);
    json_decref(w);
    http_reply_json(req, 200);
}

static const entity_def *find_entity(http_req *req, const registry_t *reg, slice name)
{
    const entity_def *e = registry_entity(reg, name);
    if (!e) {
        char ex[80];
        text_excerpt(name, ex, sizeof ex);
        http_reply_errorf(req, STRATA_NOT_FOUND, "entity \"%s\" not found", ex);
    }
    return e;
}

static const feature_def *find_feature(http_req *req, const entity_def *e, slice name)
{
    const feature_def *f = registry_feature(e, name);
    if (!f) {
        char ex[80];
        text_excerpt(name, ex, sizeof ex);
        http_reply_errorf(req, STRATA_NOT_FOUND, "feature \"%s\" not found in entity \"%s\"", ex,
                          e->name);
    }
    return f;
}

static int labels_arg(http_req *req, json_t *body, json_t **out)
{
    json_t *l = json_object_get(body, "labels");
    if (!l || json_is_null(l))
        return 0;
    if (!json_is_object(l)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "field \"labels\" must be an object of string values");
        return -1;
    }
    *out = l;
    return 0;
}

/* ---- entities ------------------------------------------------------------ */

void api_entity_create(http_req *req, void *ctx)
{
    app *a = ctx;
    static const char *const fields[] = {"name", "description", "labels", NULL};
    strata_err err = STRATA_ERR_INIT;
    json_t *body = api_parse_object(req);
    slice name = {NULL, 0}, desc = {"", 0};
    json_t *labels = NULL;
    if (!body)
        return;
    if (api_check_fields(req, body, fields) || api_get_string(req, body, "name", &name) ||
        api_get_string(req, body, "description", &desc) || labels_arg(req, body, &labels))
        goto out;
    if (!name.p) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"name\" is required");
        goto out;
    }
    if (store_entity_create(a->store, name, desc, labels, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    const registry_t *reg = store_registry_acquire(a->store);
    const entity_def *e = registry_entity(reg, name);
    if (e)
        reply_wrapped(req, 201, "entity", entity_json(e, true));
    else /* deleted between create and read: report what the client sent */
        http_reply_errorf(req, STRATA_NOT_FOUND, "entity was deleted concurrently");
    store_registry_release(a->store, reg);
out:
    err_clear(&err);
    json_decref(body);
}

void api_entity_list(http_req *req, void *ctx)
{
    app *a = ctx;
    size_t page;
    bool have_tok;
    buf last = BUF_INIT, next = BUF_INIT;
    if (api_page_size(req, &page) || api_page_token_parse(req, "entities", &last, &have_tok))
        goto out;
    const registry_t *reg = store_registry_acquire(a->store);
    json_t *items = json_array();
    size_t n = registry_entity_count(reg), i = 0;
    if (have_tok)
        while (i < n && strcmp(registry_entity_at(reg, i)->name, last.p) <= 0)
            i++;
    for (; i < n && json_array_size(items) < page; i++)
        json_array_append_new(items, entity_json(registry_entity_at(reg, i), false));
    if (i < n)
        api_page_token_make("entities", slice_of(registry_entity_at(reg, i - 1)->name), &next);
    store_registry_release(a->store, reg);
    reply_list(req, "entities", items, &next);
out:
    buf_free(&last);
    buf_free(&next);
}

void api_entity_get(http_req *req, void *ctx)
{
    app *a = ctx;
    const registry_t *reg = store_registry_acquire(a->store);
    const entity_def *e = find_entity(req, reg, req->params[0]);
    if (e)
        reply_wrapped(req, 200, "entity", entity_json(e, true));
    store_registry_release(a->store, reg);
}

void api_entity_delete(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    buf v = BUF_INIT;
    bool force = false;
    if (http_query_param(req, "force", &v) && text_parse_bool(buf_slice(&v), &force)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "force must be true or false");
        goto out;
    }
    if (store_entity_delete(a->store, req->params[0], force, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    buf_append_str(&req->resp, "{\"deleted\":");
    jsonw_str(&req->resp, req->params[0]);
    buf_putc(&req->resp, '}');
    http_reply_json(req, 200);
out:
    err_clear(&err);
    buf_free(&v);
}

/* ---- features ------------------------------------------------------------ */

static int parse_feature_spec(http_req *req, json_t *j, feature_spec *spec, size_t index,
                              bool many)
{
    static const char *const fields[] = {"name",   "type",        "description",
                                         "labels", "ttl_seconds", NULL};
    char where[48] = "";
    if (many)
        snprintf(where, sizeof where, "features[%zu]: ", index);
    if (!json_is_object(j)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "%sa feature must be a JSON object",
                          where);
        return -1;
    }
    slice type = {NULL, 0};
    memset(spec, 0, sizeof *spec);
    spec->description = (slice){"", 0};
    if (api_check_fields(req, j, fields) || api_get_string(req, j, "name", &spec->name) ||
        api_get_string(req, j, "type", &type) ||
        api_get_string(req, j, "description", &spec->description) ||
        api_get_int(req, j, "ttl_seconds", &spec->ttl_seconds) ||
        labels_arg(req, j, &spec->labels))
        return -1;
    if (!spec->name.p) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "%sfield \"name\" is required", where);
        return -1;
    }
    if (!type.p) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "%sfield \"type\" is required", where);
        return -1;
    }
    if (value_type_parse(type, &spec->type)) {
        char ex[80];
        text_excerpt(type, ex, sizeof ex);
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "%sunknown type \"%s\": expected BOOL, INT64, DOUBLE, STRING, BYTES, "
                          "INT64_ARRAY, DOUBLE_ARRAY or STRING_ARRAY",
                          where, ex);
        return -1;
    }
    return 0;
}

void api_feature_create(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    feature_spec *specs = NULL;
    json_t *body = api_parse_object(req);
    if (!body)
        return;
    json_t *list = json_object_get(body, "features");
    bool many = list != NULL;
    size_t n = 1;
    if (many) {
        if (json_object_size(body) != 1 || !json_is_array(list) || json_array_size(list) == 0) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "\"features\" must be a non-empty array and the only field");
            goto out;
        }
        n = json_array_size(list);
        if (n > LIMIT_FEATURES_PER_ENTITY) {
            http_reply_errorf(req, STRATA_RESOURCE_EXHAUSTED,
                              "at most %u features per entity", LIMIT_FEATURES_PER_ENTITY);
            goto out;
        }
    }
    specs = calloc(n, sizeof *specs);
    if (!specs) {
        http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (parse_feature_spec(req, many ? json_array_get(list, i) : body, &specs[i], i, many))
            goto out;
    if (store_features_create(a->store, req->params[0], specs, n, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    const registry_t *reg = store_registry_acquire(a->store);
    const entity_def *e = registry_entity(reg, req->params[0]);
    json_t *out = json_array();
    for (size_t i = 0; e && i < n; i++) {
        const feature_def *f = registry_feature(e, specs[i].name);
        if (f)
            json_array_append_new(out, feature_json(e, f));
    }
    if (many) {
        reply_wrapped(req, 201, "features", out);
    } else {
        json_t *one = json_array_get(out, 0);
        reply_wrapped(req, 201, "feature", one ? json_incref(one) : json_object());
        json_decref(out);
    }
    store_registry_release(a->store, reg);
out:
    free(specs);
    err_clear(&err);
    json_decref(body);
}

void api_feature_list(http_req *req, void *ctx)
{
    app *a = ctx;
    size_t page;
    bool have_tok;
    buf last = BUF_INIT, next = BUF_INIT, scope = BUF_INIT;
    const registry_t *reg = store_registry_acquire(a->store);
    const entity_def *e = find_entity(req, reg, req->params[0]);
    if (!e)
        goto out;
    buf_printf(&scope, "features/%s", e->name);
    if (api_page_size(req, &page) || api_page_token_parse(req, scope.p, &last, &have_tok))
        goto out;
    json_t *items = json_array();
    size_t i = 0;
    if (have_tok)
        while (i < e->nfeatures && strcmp(e->features[i]->name, last.p) <= 0)
            i++;
    for (; i < e->nfeatures && json_array_size(items) < page; i++)
        json_array_append_new(items, feature_json(e, e->features[i]));
    if (i < e->nfeatures)
        api_page_token_make(scope.p, slice_of(e->features[i - 1]->name), &next);
    reply_list(req, "features", items, &next);
out:
    store_registry_release(a->store, reg);
    buf_free(&last);
    buf_free(&next);
    buf_free(&scope);
}

void api_feature_get(http_req *req, void *ctx)
{
    app *a = ctx;
    const registry_t *reg = store_registry_acquire(a->store);
    const entity_def *e = find_entity(req, reg, req->params[0]);
    const feature_def *f = e ? find_feature(req, e, req->params[1]) : NULL;
    if (f)
        reply_wrapped(req, 200, "feature", feature_json(e, f));
    store_registry_release(a->store, reg);
}

void api_feature_patch(http_req *req, void *ctx)
{
    app *a = ctx;
    static const char *const fields[] = {"description", "labels", "ttl_seconds", "type", "name",
                                         NULL};
    strata_err err = STRATA_ERR_INIT;
    json_t *body = api_parse_object(req);
    slice desc = {NULL, 0}, type = {NULL, 0}, name = {NULL, 0};
    json_t *labels = NULL;
    int64_t ttl = 0;
    bool have_ttl;
    if (!body)
        return;
    if (api_check_fields(req, body, fields) || api_get_string(req, body, "description", &desc) ||
        labels_arg(req, body, &labels) || api_get_int(req, body, "ttl_seconds", &ttl) ||
        api_get_string(req, body, "type", &type) || api_get_string(req, body, "name", &name))
        goto out;
    have_ttl = json_object_get(body, "ttl_seconds") != NULL;
    {
        const registry_t *reg = store_registry_acquire(a->store);
        const entity_def *e = find_entity(req, reg, req->params[0]);
        const feature_def *f = e ? find_feature(req, e, req->params[1]) : NULL;
        int bad = 0;
        if (f && type.p) {
            value_type t;
            if (value_type_parse(type, &t)) {
                char ex[80];
                text_excerpt(type, ex, sizeof ex);
                http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "unknown value type \"%s\"", ex);
                bad = 1;
            } else if (t != f->type) {
                /* The contract's "incompatible type change": 409. */
                http_reply_errorf(req, STRATA_ALREADY_EXISTS,
                                  "a feature's type never changes: %s is %s, not %s", f->name,
                                  value_type_name(f->type), value_type_name(t));
                bad = 1;
            }
        }
        if (f && !bad && name.p && !slice_eq_str(name, f->name)) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "a feature's name never changes");
            bad = 1;
        }
        store_registry_release(a->store, reg);
        if (!f || bad)
            goto out;
    }
    if (store_feature_update(a->store, req->params[0], req->params[1], desc.p ? &desc : NULL,
                             labels, have_ttl ? &ttl : NULL, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    api_feature_get(req, ctx);
out:
    err_clear(&err);
    json_decref(body);
}

void api_feature_delete(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    if (store_feature_delete(a->store, req->params[0], req->params[1], &err)) {
        http_reply_error(req, &err);
        err_clear(&err);
        return;
    }
    buf_append_str(&req->resp, "{\"deleted\":");
    jsonw_str(&req->resp, req->params[1]);
    buf_putc(&req->resp, '}');
    http_reply_json(req, 200);
}

/* ---- search -------------------------------------------------------------- */

static bool contains_ci(const char *hay, slice needle)
{
    size_t hn = strlen(hay);
    if (needle.n == 0)
        return true;
    for (size_t i = 0; i + needle.n <= hn; i++)
        if (strncasecmp(hay + i, needle.p, needle.n) == 0)
            return true;
    return false;
}

/* One term: "label:key=value" (exact), "label:key" (present), or a word that
 * must occur in the name, the description or a label value (case-insensitive). */
static bool term_matches(const feature_def *f, slice term)
{
    if (term.n > 6 && strncmp(term.p, "label:", 6) == 0) {
        slice kv = {term.p + 6, term.n - 6};
        const char *eq = memchr(kv.p, '=', kv.n);
        slice k = eq ? (slice){kv.p, (size_t)(eq - kv.p)} : kv;
        const char *key;
        json_t *v;
        json_object_foreach(f->labels, key, v) {
            if (!slice_eq_str(k, key))
                continue;
            if (!eq)
                return true;
            slice want = {eq + 1, (size_t)(kv.p + kv.n - eq - 1)};
            return json_is_string(v) && slice_eq_str(want, json_string_value(v));
        }
        return false;
    }
    if (contains_ci(f->name, term) || contains_ci(f->description, term))
        return true;
    const char *key;
    json_t *v;
    json_object_foreach(f->labels, key, v) {
        if (contains_ci(key, term) || (json_is_string(v) && contains_ci(json_string_value(v), term)))
            return true;
    }
    return false;
}

static bool query_matches(const feature_def *f, slice q)
{
    size_t i = 0;
    while (i < q.n) {
        while (i < q.n && q.p[i] == ' ')
            i++;
        size_t s = i;
        while (i < q.n && q.p[i] != ' ')
            i++;
        if (i > s && !term_matches(f, (slice){q.p + s, i - s}))
            return false;
    }
    return true;
}

void api_feature_search(http_req *req, void *ctx)
{
    app *a = ctx;
    buf q = BUF_INIT, type = BUF_INIT, ent = BUF_INIT, last = BUF_INIT, next = BUF_INIT,
        scope = BUF_INIT;
    size_t page;
    bool have_tok;
    value_type want_type = VT_NULL;
    http_query_param(req, "q", &q);
    http_query_param(req, "entity", &ent);
    if (http_query_param(req, "type", &type) && type.n &&
        value_type_parse(buf_slice(&type), &want_type)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "unknown type in type=");
        goto out;
    }
    if (!text_valid_utf8(buf_slice(&q))) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "q is not valid UTF-8");
        goto out;
    }
    buf_printf(&scope, "search/%s/%s/%s", q.p ? q.p : "", type.p ? type.p : "",
               ent.p ? ent.p : "");
    if (api_page_size(req, &page) || api_page_token_parse(req, scope.p, &last, &have_tok))
        goto out;
    const registry_t *reg = store_registry_acquire(a->store);
    if (ent.n && !registry_entity(reg, buf_slice(&ent))) {
        store_registry_release(a->store, reg);
        http_reply_errorf(req, STRATA_NOT_FOUND, "entity in entity= not found");
        goto out;
    }
    json_t *items = json_array();
    bool more = false;
    buf key = BUF_INIT;
    for (size_t i = 0; i < registry_entity_count(reg) && !more; i++) {
        const entity_def *e = registry_entity_at(reg, i);
        if (ent.n && !slice_eq_str(buf_slice(&ent), e->name))
            continue;
        for (size_t k = 0; k < e->nfeatures; k++) {
            const feature_def *f = e->features[k];
            if (want_type != VT_NULL && f->type != want_type)
                continue;
            if (!query_matches(f, buf_slice(&q)))
                continue;
            buf_reset(&key);
            /* \x01 sorts below every name character, so keys order as the loop does. */
            buf_printf(&key, "%s\x01%s", e->name, f->name);
            if (have_tok && strcmp(key.p, last.p) <= 0)
                continue;
            if (json_array_size(items) == page) {
                more = true;
                break;
            }
            json_array_append_new(items, feature_json(e, f));
            buf_reset(&next);
            buf_append_slice(&next, buf_slice(&key));
        }
    }
    store_registry_release(a->store, reg);
    if (more) {
        buf tok = BUF_INIT;
        api_page_token_make(scope.p, buf_slice(&next), &tok);
        buf_free(&next);
        next = tok;
    } else {
        buf_reset(&next);
    }
    reply_list(req, "features", items, &next);
    buf_free(&key);
out:
    buf_free(&q);
    buf_free(&type);
    buf_free(&ent);
    buf_free(&last);
    buf_free(&next);
    buf_free(&scope);
}
