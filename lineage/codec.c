/*
 * codec.c - the pure parts of lineage/: key and record codecs (layouts in
 * lineage_int.h), property types and states, validation of names, and ML
 * Metadata's type evolution rules. Nothing here touches the store, so the unit
 * tests reach all of it directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonw.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "lineage/lineage_int.h"

/* ---- property types and states ------------------------------------------ */

static const char *const prop_type_names[] = {NULL, "INT", "DOUBLE", "STRING", "BOOL", "STRUCT"};

const char *lprop_type_name(lprop_type t)
{
    return t >= LP_INT && t <= LP_STRUCT ? prop_type_names[t] : "UNKNOWN";
}

int lprop_type_parse(slice s, lprop_type *out)
{
    for (int t = LP_INT; t <= LP_STRUCT; t++)
        if (slice_eq_str(s, prop_type_names[t])) {
            *out = (lprop_type)t;
            return 0;
        }
    return -1;
}

static const char *const artifact_states[] = {NULL,      "PENDING",  "LIVE", "MARKED_FOR_DELETION",
                                              "DELETED", "ABANDONED"};
static const char *const execution_states[] = {NULL,     "NEW",    "RUNNING", "COMPLETE",
                                               "FAILED", "CACHED", "CANCELED"};

static const char *const *state_table(lineage_kind k, int *n)
{
    switch (k) {
    case LINEAGE_ARTIFACT:
        *n = (int)(sizeof artifact_states / sizeof artifact_states[0]);
        return artifact_states;
    case LINEAGE_EXECUTION:
        *n = (int)(sizeof execution_states / sizeof execution_states[0]);
        return execution_states;
    case LINEAGE_CONTEXT:
        break;
    }
    *n = 0;
    return NULL;
}

const char *lstate_name(lineage_kind k, int code)
{
    int n;
    const char *const *t = state_table(k, &n);
    return t && code > 0 && code < n ? t[code] : NULL;
}

int lstate_parse(lineage_kind k, slice s)
{
    int n;
    const char *const *t = state_table(k, &n);
    for (int i = 1; t && i < n; i++)
        if (slice_eq_str(s, t[i]))
            return i;
    return -1;
}

const char *lstate_list(lineage_kind k)
{
    switch (k) {
    case LINEAGE_ARTIFACT:
        return "PENDING, LIVE, MARKED_FOR_DELETION, DELETED or ABANDONED";
    case LINEAGE_EXECUTION:
        return "NEW, RUNNING, COMPLETE, FAILED, CACHED or CANCELED";
    case LINEAGE_CONTEXT:
        break;
    }
    return "none (contexts have no state)";
}

/* ---- validation ------------------------------------------------------------ */

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool lvalid_type_name(slice s)
{
    if (s.n == 0 || s.n > LINEAGE_TYPE_NAME_MAX || !is_alpha(s.p[0]))
        return false;
    for (size_t i = 1; i < s.n; i++)
        if (!is_alpha(s.p[i]) && !is_digit(s.p[i]) && s.p[i] != '_' && s.p[i] != '.')
            return false;
    return true;
}

bool lvalid_property_name(slice s)
{
    if (s.n == 0 || s.n > LINEAGE_PROPERTY_NAME_MAX || !(is_alpha(s.p[0]) || s.p[0] == '_'))
        return false;
    for (size_t i = 1; i < s.n; i++)
        if (!is_alpha(s.p[i]) && !is_digit(s.p[i]) && s.p[i] != '_')
            return false;
    return true;
}

bool lvalid_text(slice s, size_t max)
{
    return s.n >= 1 && s.n <= max && memchr(s.p, '\0', s.n) == NULL;
}

/* ---- keys ------------------------------------------------------------------ */

static void put_tag_kind(buf *k, int tag, lineage_kind kind)
{
    buf_reset(k);
    buf_putc(k, (char)tag);
    buf_putc(k, (char)kind);
}

void lkey_counter(buf *k, int which)
{
    buf_reset(k);
    buf_putc(k, (char)LK_COUNTER);
    buf_putc(k, (char)which);
}

void lkey_type(buf *k, lineage_kind kind, slice name)
{
    put_tag_kind(k, LK_TYPE, kind);
    buf_append_slice(k, name);
}

void lkey_node(buf *k, lineage_kind kind, int64_t id)
{
    put_tag_kind(k, LK_NODE, kind);
    buf_put_u64be(k, (uint64_t)id);
}

void lkey_history(buf *k, lineage_kind kind, int64_t id, uint32_t ver)
{
    put_tag_kind(k, LK_HISTORY, kind);
    buf_put_u64be(k, (uint64_t)id);
    buf_put_u32be(k, ver);
}

/* The stream byte after the tag of by-type and pair keys: the low byte of the
 * key's first id. The memtable keeps one insert position per two-byte prefix
 * (store/store.c), so keys of one type / one anchor node go in one stream and
 * stay appends while other anchors are written between them (lineage_int.h). */
static char stream_of(int64_t id)
{
    return (char)(unsigned char)((uint64_t)id & 0xff);
}

void lkey_by_type(buf *k, lineage_kind kind, int64_t type_id, int64_t id)
{
    buf_reset(k);
    buf_putc(k, (char)LK_BY_TYPE);
    buf_putc(k, stream_of(type_id));
    buf_putc(k, (char)kind);
    buf_put_u64be(k, (uint64_t)type_id);
    if (id > 0)
        buf_put_u64be(k, (uint64_t)id);
}

void lkey_by_name(buf *k, lineage_kind kind, int64_t type_id, slice name)
{
    put_tag_kind(k, LK_BY_NAME, kind);
    buf_put_u64be(k, (uint64_t)type_id);
    buf_append_slice(k, name);
}

void lkey_by_uri(buf *k, lineage_kind kind, slice uri, int64_t id)
{
    put_tag_kind(k, LK_BY_URI, kind);
    buf_append_slice(k, uri);
    buf_putc(k, '\0');
    if (id > 0)
        buf_put_u64be(k, (uint64_t)id);
}

void lkey_by_extid(buf *k, lineage_kind kind, slice extid)
{
    put_tag_kind(k, LK_BY_EXTID, kind);
    buf_append_slice(k, extid);
}

void lkey_pair(buf *k, int tag, int64_t a, int64_t b, int t)
{
    buf_reset(k);
    buf_putc(k, (char)tag);
    buf_putc(k, stream_of(a));
    buf_put_u64be(k, (uint64_t)a);
    if (b > 0) {
        buf_put_u64be(k, (uint64_t)b);
        if (t > 0)
            buf_putc(k, (char)t);
    }
}

int64_t lkey_trailing_id(slice key)
{
    if (key.n < 10)
        return -1;
    uint64_t v = get_u64be(key.p + key.n - 8);
    return v > (uint64_t)INT64_MAX || v == 0 ? -1 : (int64_t)v;
}

int lkey_pair_decode(slice key, int64_t *a, int64_t *b, int *t)
{
    if (key.n != 18 && key.n != 19)
        return -1;
    uint64_t x = get_u64be(key.p + 2), y = get_u64be(key.p + 10);
    if (x == 0 || y == 0 || x > (uint64_t)INT64_MAX || y > (uint64_t)INT64_MAX ||
        key.p[1] != stream_of((int64_t)x))
        return -1;
    *a = (int64_t)x;
    *b = (int64_t)y;
    *t = key.n == 19 ? (unsigned char)key.p[18] : 0;
    return 0;
}

/* ---- event and link records ---------------------------------------------- */

void levent_encode(int64_t time, slice path_json, buf *out)
{
    buf_reset(out);
    buf_putc(out, 1);
    buf_put_u64le(out, (uint64_t)time);
    buf_put_u32le(out, (uint32_t)path_json.n);
    buf_append_slice(out, path_json);
}

int levent_decode(slice val, int64_t *time, slice *path_json)
{
    if (val.n < 13 || val.p[0] != 1)
        return -1;
    uint32_t n = get_u32le(val.p + 9);
    if ((size_t)n != val.n - 13)
        return -1;
    *time = (int64_t)get_u64le(val.p + 1);
    *path_json = (slice){val.p + 13, n};
    return 0;
}

void llink_encode(int64_t time, buf *out)
{
    buf_reset(out);
    buf_putc(out, 1);
    buf_put_u64le(out, (uint64_t)time);
}

int llink_decode(slice val, int64_t *time)
{
    if (val.n != 9 || val.p[0] != 1)
        return -1;
    *time = (int64_t)get_u64le(val.p + 1);
    return 0;
}

/* ---- types ----------------------------------------------------------------- */

void lprops_free(lprop *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        free(p[i].name);
    free(p);
}

void ltype_free(ltype *t)
{
    if (!t)
        return;
    free(t->name);
    lprops_free(t->props, t->nprops);
    free(t);
}

static int prop_cmp(const void *a, const void *b)
{
    return strcmp(((const lprop *)a)->name, ((const lprop *)b)->name);
}

const lprop *ltype_prop(const ltype *t, slice name)
{
    size_t lo = 0, hi = t->nprops;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = slice_cmp(slice_of(t->props[mid].name), name);
        if (c == 0)
            return &t->props[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int lprops_parse(const json_t *obj, lprop **out, size_t *n, strata_err *err)
{
    *out = NULL;
    *n = 0;
    if (!obj || json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "\"properties\" must be an object of property name to INT, DOUBLE, "
                       "STRING, BOOL or STRUCT");
    size_t cnt = json_object_size(obj);
    if (cnt > LINEAGE_TYPE_PROPERTIES_MAX)
        return err_set(err, STRATA_INVALID_ARGUMENT, "a type declares at most %u properties",
                       LINEAGE_TYPE_PROPERTIES_MAX);
    lprop *p = calloc(cnt ? cnt : 1, sizeof *p);
    STRATA_ASSERT(p != NULL);
    size_t i = 0;
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach ((json_t *)obj, key, v) {
        slice ks = slice_of(key);
        if (!lvalid_property_name(ks)) {
            char ex[80];
            text_excerpt(ks, ex, sizeof ex);
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "property name \"%s\" is invalid: expected [A-Za-z_][A-Za-z0-9_]{0,127}",
                         ex);
            goto out;
        }
        lprop_type t;
        if (!json_is_string(v) ||
            lprop_type_parse((slice){json_string_value(v), json_string_length(v)}, &t)) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "property \"%s\" has an unknown type: expected INT, DOUBLE, STRING, "
                         "BOOL or STRUCT",
                         key);
            goto out;
        }
        p[i].name = strdup(key);
        STRATA_ASSERT(p[i].name != NULL);
        p[i].type = t;
        i++;
    }
    qsort(p, i, sizeof *p, prop_cmp);
out:
    if (rc) {
        lprops_free(p, i);
        return rc;
    }
    *out = p;
    *n = i;
    return 0;
}

int ltype_evolve(const char *type_name, const lprop *old, size_t nold, const lprop *req,
                 size_t nreq, bool can_add, bool can_omit, lprop **merged, size_t *nmerged,
                 bool *changed, strata_err *err)
{
    size_t i = 0, j = 0, m = 0;
    *merged = NULL;
    *nmerged = 0;
    *changed = false;
    /* Both arrays are sorted by name: one merge walk. */
    while (i < nold || j < nreq) {
        int c = i == nold ? 1 : j == nreq ? -1 : strcmp(old[i].name, req[j].name);
        if (c == 0) {
            if (old[i].type != req[j].type)
                return err_set(err, STRATA_ALREADY_EXISTS,
                               "type %s exists with property \"%s\" of type %s, not %s", type_name,
                               old[i].name, lprop_type_name(old[i].type),
                               lprop_type_name(req[j].type));
            i++, j++;
        } else if (c < 0) {
            if (!can_omit)
                return err_set(err, STRATA_ALREADY_EXISTS,
                               "type %s exists with property \"%s\" (%s), which the request "
                               "omits; set can_omit_fields to allow that",
                               type_name, old[i].name, lprop_type_name(old[i].type));
            i++;
        } else {
            if (!can_add)
                return err_set(err, STRATA_ALREADY_EXISTS,
                               "type %s exists without property \"%s\"; set can_add_fields to "
                               "add it",
                               type_name, req[j].name);
            j++;
            *changed = true;
        }
        m++;
    }
    lprop *out = calloc(m ? m : 1, sizeof *out);
    STRATA_ASSERT(out != NULL);
    i = j = m = 0;
    while (i < nold || j < nreq) {
        int c = i == nold ? 1 : j == nreq ? -1 : strcmp(old[i].name, req[j].name);
        const lprop *src = c <= 0 ? &old[i] : &req[j];
        out[m].name = strdup(src->name);
        STRATA_ASSERT(out[m].name != NULL);
        out[m].type = src->type;
        m++;
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
    }
    *merged = out;
    *nmerged = m;
    return 0;
}

static json_t *time_json(int64_t us)
{
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(us, t, sizeof t);
    return json_string(t);
}

json_t *ltype_json(const ltype *t)
{
    json_t *j = json_object(), *props = json_object();
    json_object_set_new(j, "id", json_integer(t->id));
    json_object_set_new(j, "name", json_string(t->name));
    for (size_t i = 0; i < t->nprops; i++)
        json_object_set_new(props, t->props[i].name,
                            json_string(lprop_type_name(t->props[i].type)));
    json_object_set_new(j, "properties", props);
    json_object_set_new(j, "create_time", time_json(t->create_time));
    json_object_set_new(j, "update_time", time_json(t->update_time));
    return j;
}

void ltype_encode(const ltype *t, buf *out)
{
    json_t *j = json_object(), *props = json_object();
    json_object_set_new(j, "id", json_integer(t->id));
    json_object_set_new(j, "name", json_string(t->name));
    for (size_t i = 0; i < t->nprops; i++)
        json_object_set_new(props, t->props[i].name,
                            json_string(lprop_type_name(t->props[i].type)));
    json_object_set_new(j, "properties", props);
    json_object_set_new(j, "create_time", json_integer(t->create_time));
    json_object_set_new(j, "update_time", json_integer(t->update_time));
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    STRATA_ASSERT(s != NULL);
    buf_reset(out);
    buf_append_str(out, s);
    free(s);
    json_decref(j);
}

int ltype_decode(lineage_kind k, slice val, ltype **out, strata_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(val.p, val.n, 0, &je);
    ltype *t = NULL;
    int rc = 0;
    json_t *id = j ? json_object_get(j, "id") : NULL, *name = j ? json_object_get(j, "name") : NULL,
           *ct = j ? json_object_get(j, "create_time") : NULL,
           *ut = j ? json_object_get(j, "update_time") : NULL;
    if (!json_is_integer(id) || !json_is_string(name) || !json_is_integer(ct) ||
        !json_is_integer(ut) || json_integer_value(id) <= 0) {
        rc = err_set(err, STRATA_CORRUPT, "lineage: a stored type record is malformed");
        goto out;
    }
    t = calloc(1, sizeof *t);
    STRATA_ASSERT(t != NULL);
    t->id = json_integer_value(id);
    t->kind = k;
    t->name = strdup(json_string_value(name));
    STRATA_ASSERT(t->name != NULL);
    t->create_time = json_integer_value(ct);
    t->update_time = json_integer_value(ut);
    if (lprops_parse(json_object_get(j, "properties"), &t->props, &t->nprops, err)) {
        rc = err_set(err, STRATA_CORRUPT, "lineage: stored type %s has malformed properties",
                     t->name);
        goto out;
    }
out:
    json_decref(j);
    if (rc) {
        ltype_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- node records ---------------------------------------------------------- */

void lnode_init(lnode *n)
{
    memset(n, 0, sizeof *n);
}

void lnode_free(lnode *n)
{
    buf_free(&n->name);
    buf_free(&n->uri);
    buf_free(&n->extid);
    json_decref(n->props);
    json_decref(n->custom);
    lineage_kind k = n->kind;
    lnode_init(n);
    n->kind = k;
}

static void put_str(buf *out, bool present, const buf *s)
{
    uint32_t n = present ? (uint32_t)s->n : 0;
    buf_put_u32le(out, n);
    if (n)
        buf_append(out, s->p, n);
}

/* A u32 length, then the object as canonical compact JSON written in place
 * (nothing for NULL); returns the JSON's length. */
static size_t put_json(buf *out, const json_t *j)
{
    size_t at = out->n;
    buf_put_u32le(out, 0);
    if (j)
        jsonw_value(out, j, true);
    size_t n = out->n - at - 4;
    put_u32le(out->p + at, (uint32_t)n);
    return n;
}

size_t lnode_encode(const lnode *n, buf *out)
{
    buf_reset(out);
    buf_putc(out, 1);
    buf_put_u64le(out, (uint64_t)n->type_id);
    buf_put_u32le(out, n->version);
    buf_put_u64le(out, (uint64_t)n->create_time);
    buf_put_u64le(out, (uint64_t)n->update_time);
    buf_putc(out, (char)n->state);
    buf_putc(out, (char)((n->has_name ? 1 : 0) | (n->has_uri ? 2 : 0) | (n->has_extid ? 4 : 0)));
    put_str(out, n->has_name, &n->name);
    put_str(out, n->has_uri, &n->uri);
    put_str(out, n->has_extid, &n->extid);
    size_t json = put_json(out, n->props);
    return json + put_json(out, n->custom);
}

/* Read a u32 length and that many bytes at *off. */
static int get_chunk(slice val, size_t *off, slice *out)
{
    if (val.n - *off < 4)
        return -1;
    uint32_t n = get_u32le(val.p + *off);
    *off += 4;
    if (val.n - *off < n)
        return -1;
    *out = (slice){val.p + *off, n};
    *off += n;
    return 0;
}

static json_t *load_object(slice s)
{
    if (s.n == 0)
        return json_object();
    json_t *j = json_loadb(s.p, s.n, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int lnode_decode(lineage_kind k, int64_t id, slice val, lnode *n, strata_err *err)
{
    slice name, uri, extid, props, custom;
    size_t off = 31;
    lnode_free(n);
    n->kind = k;
    n->id = id;
    if (val.n < 31 || val.p[0] != 1 || get_chunk(val, &off, &name) || get_chunk(val, &off, &uri) ||
        get_chunk(val, &off, &extid) || get_chunk(val, &off, &props) ||
        get_chunk(val, &off, &custom) || off != val.n)
        goto corrupt;
    n->type_id = (int64_t)get_u64le(val.p + 1);
    n->version = get_u32le(val.p + 9);
    n->create_time = (int64_t)get_u64le(val.p + 13);
    n->update_time = (int64_t)get_u64le(val.p + 21);
    n->state = (unsigned char)val.p[29];
    unsigned flags = (unsigned char)val.p[30];
    n->has_name = flags & 1;
    n->has_uri = flags & 2;
    n->has_extid = flags & 4;
    if (n->has_name)
        buf_append_slice(&n->name, name);
    if (n->has_uri)
        buf_append_slice(&n->uri, uri);
    if (n->has_extid)
        buf_append_slice(&n->extid, extid);
    n->props = load_object(props);
    n->custom = load_object(custom);
    if (!n->props || !n->custom)
        goto corrupt;
    return 0;
corrupt:
    lnode_free(n);
    return err_set(err, STRATA_CORRUPT, "lineage: the stored record of %s %lld is malformed",
                   lineage_kind_name(k), (long long)id);
}
