/*
 * api_values.c - streaming writes, deletes and online reads, in JSON and in
 * protobuf (serving/strata.proto).
 *
 * A write is validated whole before anything is stored: every bad row is named
 * with its index and reason, and only a request with no bad row reaches
 * store_write, which commits it as one atomic WriteBatch. Online reads resolve
 * names through one registry snapshot and read each id's latest row with one
 * RocksDB Get (MultiGet for batches).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonw.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "lineage/audit.h"
#include "serving/app.h"
#include "serving/pb.h"

#define MAX_ROW_ERRORS LIMIT_ROW_ERRORS_LISTED

typedef enum online_status {
    ST_PRESENT = 1,
    ST_NULL_VALUE = 2,
    ST_NOT_FOUND = 3,
    ST_OUTSIDE_MAX_AGE = 4,
} online_status;

static const char *status_name(online_status s)
{
    switch (s) {
    case ST_PRESENT: return "PRESENT";
    case ST_NULL_VALUE: return "NULL_VALUE";
    case ST_NOT_FOUND: return "NOT_FOUND";
    default: return "OUTSIDE_MAX_AGE";
    }
}

/* The online status of a feature's latest cell: TTL is measured from now. */
static online_status cell_status(const feature_def *f, const version *cell, int64_t now)
{
    if (!cell)
        return ST_NOT_FOUND;
    if (f->ttl_seconds > 0 && cell->event_time < now - f->ttl_seconds * TIME_US_PER_SEC)
        return ST_OUTSIDE_MAX_AGE;
    if (cell->value.n == 0 || (unsigned char)cell->value.p[0] == VT_NULL)
        return ST_NULL_VALUE;
    return ST_PRESENT;
}

/* A row's features usually share one event time: format it once. */
typedef struct time_cache {
    int64_t us;
    size_t n;
    char text[TIME_RFC3339_MAX];
} time_cache;

static void put_time_json(buf *o, int64_t us, time_cache *tc)
{
    if (tc->n == 0 || tc->us != us) {
        tc->us = us;
        tc->n = time_format_rfc3339(us, tc->text, sizeof tc->text);
    }
    buf_putc(o, '"');
    buf_append(o, tc->text, tc->n);
    buf_putc(o, '"');
}

static const entity_def *lookup_entity(http_req *req, const registry_t *reg, slice name)
{
    const entity_def *e = registry_entity(reg, name);
    if (!e) {
        char ex[80];
        text_excerpt(name, ex, sizeof ex);
        http_reply_errorf(req, STRATA_NOT_FOUND, "entity \"%s\" not found", ex);
    }
    return e;
}

/* ---- writes -------------------------------------------------------------- */

/* Rows and cells of one write, with values encoded into one buffer. Cells hold
 * offsets while encoding (the buffer may move) and become slices at the end. */
typedef struct write_plan {
    write_row *rows;
    write_cell *cells;
    size_t *cell_off, *cell_len;
    size_t nrows, ncells;
    buf enc;
    strata_err err; /* accumulated row errors */
    size_t nbad;
} write_plan;

static void plan_free(write_plan *p)
{
    free(p->rows);
    free(p->cells);
    free(p->cell_off);
    free(p->cell_len);
    buf_free(&p->enc);
    err_clear(&p->err);
}

static int plan_alloc(write_plan *p, size_t nrows, size_t ncells)
{
    p->rows = calloc(nrows ? nrows : 1, sizeof *p->rows);
    p->cells = calloc(ncells ? ncells : 1, sizeof *p->cells);
    p->cell_off = calloc(ncells ? ncells : 1, sizeof *p->cell_off);
    p->cell_len = calloc(ncells ? ncells : 1, sizeof *p->cell_len);
    return p->rows && p->cells && p->cell_off && p->cell_len ? 0 : -1;
}

static void plan_row_error(write_plan *p, size_t row, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void plan_row_error(write_plan *p, size_t row, const char *fmt, ...)
{
    p->nbad++;
    if (p->nbad > MAX_ROW_ERRORS)
        return;
    char msg[STRATA_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *d = json_object();
    json_object_set_new(d, "row", json_integer((json_int_t)row));
    json_object_set_new(d, "reason", json_string(msg));
    err_add_detail(&p->err, d);
}

/* The feature a value names; NULL with the row's error recorded when unknown. */
static const feature_def *plan_feature(write_plan *p, size_t row, const entity_def *e, slice name)
{
    const feature_def *f = registry_feature(e, name);
    if (!f) {
        char ex[80];
        text_excerpt(name, ex, sizeof ex);
        plan_row_error(p, row, "unknown feature \"%s\" in entity \"%s\"", ex, e->name);
    }
    return f;
}

/* Take the value just encoded at p->enc[off..] as a cell of wr, or, when the
 * encoding failed (rc != 0), record the row's error and drop the bytes.
 * Returns rc. */
static int plan_cell(write_plan *p, write_row *wr, size_t row, const feature_def *f, size_t off,
                     int rc, strata_err *verr)
{
    if (rc) {
        plan_row_error(p, row, "feature \"%s\": %s", f->name, verr->message);
        err_clear(verr);
        p->enc.n = off;
        return rc;
    }
    p->cells[p->ncells] = (write_cell){f->id, {NULL, 0}};
    p->cell_off[p->ncells] = off;
    p->cell_len[p->ncells] = p->enc.n - off;
    p->ncells++;
    wr->ncells++;
    return 0;
}

/* Slices for the cells and rows once every value is encoded. */
static void plan_finish(write_plan *p)
{
    for (size_t i = 0; i < p->ncells; i++)
        p->cells[i].value = (slice){p->enc.p + p->cell_off[i], p->cell_len[i]};
}

static int plan_commit(http_req *req, app *a, const entity_def *e, write_plan *p)
{
    if (p->nbad) {
        strata_err *err = &p->err;
        err->code = STRATA_INVALID_ARGUMENT;
        snprintf(err->message, sizeof err->message,
                 "%zu of %zu rows are invalid (first: row %lld); nothing was written%s", p->nbad,
                 p->nrows,
                 (long long)json_integer_value(
                     json_object_get(json_array_get(err->details, 0), "row")),
                 p->nbad > MAX_ROW_ERRORS ? "; details list the first 100" : "");
        /* Name the first reason in the message itself, for one-line clients. */
        const char *first = json_string_value(
            json_object_get(json_array_get(err->details, 0), "reason"));
        if (first) {
            size_t n = strlen(err->message);
            snprintf(err->message + n, sizeof err->message - n, ": %s", first);
        }
        http_reply_error(req, err);
        return -1;
    }
    plan_finish(p);
    strata_err err = STRATA_ERR_INIT;
    int rc = store_write(a->store, e->id, p->rows, p->nrows, &err);
    if (rc)
        http_reply_error(req, &err);
    err_clear(&err);
    return rc;
}

static void reply_written(http_req *req, size_t n)
{
    if (http_wants_protobuf(req)) {
        Strata__V1__WriteResponse r = STRATA__V1__WRITE_RESPONSE__INIT;
        r.written_values = (int64_t)n;
        size_t len = strata__v1__write_response__get_packed_size(&r);
        buf_reserve(&req->resp, len);
        strata__v1__write_response__pack(&r, (uint8_t *)req->resp.p);
        req->resp.n = len;
        req->status = 200;
        req->resp_type = "application/x-protobuf";
        return;
    }
    buf_printf(&req->resp, "{\"written_values\":%zu}", n);
    http_reply_json(req, 200);
}

static void write_json(http_req *req, app *a, const entity_def *e)
{
    static const char *const body_fields[] = {"rows", NULL};
    static const char *const row_fields[] = {"entity_id", "event_time", "created_time", "values",
                                             NULL};
    write_plan p = {0};
    json_t *body = api_parse_object(req);
    if (!body)
        return;
    if (api_check_fields(req, body, body_fields))
        goto out;
    json_t *rows = json_object_get(body, "rows");
    if (!json_is_array(rows)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"rows\" must be an array");
        goto out;
    }
    size_t nrows = json_array_size(rows), total = 0;
    for (size_t i = 0; i < nrows; i++) {
        json_t *v = json_object_get(json_array_get(rows, i), "values");
        total += json_is_object(v) ? json_object_size(v) : 0;
    }
    if (total > a->limits.max_values_per_write) {
        http_reply_errorf(req, STRATA_RESOURCE_EXHAUSTED,
                          "write holds %zu values, over the limit of %u (max_values_per_write, "
                          "--max-values-per-write)",
                          total, a->limits.max_values_per_write);
        goto out;
    }
    if (plan_alloc(&p, nrows, total)) {
        http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
        goto out;
    }
    p.nrows = nrows;
    int64_t now = time_now_us();
    strata_err verr = STRATA_ERR_INIT;
    for (size_t i = 0; i < nrows; i++) {
        json_t *row = json_array_get(rows, i);
        write_row *wr = &p.rows[i];
        if (!json_is_object(row)) {
            plan_row_error(&p, i, "a row must be a JSON object");
            continue;
        }
        const char *key;
        json_t *jv;
        int bad = 0;
        json_object_foreach(row, key, jv) {
            int known = 0;
            for (const char *const *f = row_fields; *f; f++)
                known |= strcmp(*f, key) == 0;
            if (!known) {
                char ex[80];
                text_excerpt(slice_of(key), ex, sizeof ex);
                plan_row_error(&p, i, "unknown field \"%s\"", ex);
                bad = 1;
                break;
            }
        }
        if (bad)
            continue;
        json_t *id = json_object_get(row, "entity_id");
        if (!json_is_string(id)) {
            plan_row_error(&p, i, "entity_id must be a string");
            continue;
        }
        wr->entity_id = (slice){json_string_value(id), json_string_length(id)};
        if (!text_valid_entity_id(wr->entity_id)) {
            plan_row_error(&p, i,
                           "entity_id must be 1 to %u bytes of UTF-8 without NUL (got %zu bytes)",
                           LIMIT_ENTITY_ID_MAX, wr->entity_id.n);
            continue;
        }
        wr->event_time = now;
        wr->created_time = now;
        const char *tkeys[2] = {"event_time", "created_time"};
        int64_t *tdst[2] = {&wr->event_time, &wr->created_time};
        for (int k = 0; k < 2 && !bad; k++) {
            json_t *t = json_object_get(row, tkeys[k]);
            if (t && !json_is_null(t) &&
                (!json_is_string(t) ||
                 time_parse_rfc3339((slice){json_string_value(t), json_string_length(t)},
                                    tdst[k]))) {
                plan_row_error(&p, i, "%s must be an RFC 3339 timestamp", tkeys[k]);
                bad = 1;
            }
        }
        if (bad)
            continue;
        json_t *vals = json_object_get(row, "values");
        if (!json_is_object(vals) || json_object_size(vals) == 0) {
            plan_row_error(&p, i, "values must be a non-empty object of feature: value");
            continue;
        }
        wr->cells = &p.cells[p.ncells];
        json_object_foreach(vals, key, jv) {
            const feature_def *f = plan_feature(&p, i, e, slice_of(key));
            size_t off = p.enc.n;
            if (!f || plan_cell(&p, wr, i, f, off, value_encode_json(f->type, jv, &p.enc, &verr),
                                &verr))
                break;
        }
    }
    if (plan_commit(req, a, e, &p) == 0)
        reply_written(req, p.ncells);
out:
    plan_free(&p);
    json_decref(body);
}

/* The body, which unpacked as desc, has no string field holding a NUL; else
 * the 400 that names the field is answered. */
static bool pb_strings_ok(http_req *req, const ProtobufCMessageDescriptor *desc)
{
    char field[160];
    if (!pb_check_strings(desc, (const uint8_t *)req->body.p, req->body.n, field, sizeof field))
        return true;
    http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                      "malformed protobuf: string field %s holds a NUL byte", field);
    return false;
}

static void write_protobuf(http_req *req, app *a, const entity_def *e)
{
    write_plan p = {0};
    Strata__V1__WriteRequest *msg = strata__v1__write_request__unpack(
        NULL, req->body.n, (const uint8_t *)req->body.p);
    if (!msg) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "malformed protobuf: body is not a strata.v1.WriteRequest");
        return;
    }
    if (!pb_strings_ok(req, &strata__v1__write_request__descriptor)) {
        strata__v1__write_request__free_unpacked(msg, NULL);
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < msg->n_rows; i++)
        total += msg->rows[i]->n_values;
    if (total > a->limits.max_values_per_write) {
        http_reply_errorf(req, STRATA_RESOURCE_EXHAUSTED,
                          "write holds %zu values, over the limit of %u (max_values_per_write, "
                          "--max-values-per-write)",
                          total, a->limits.max_values_per_write);
        goto out;
    }
    if (plan_alloc(&p, msg->n_rows, total)) {
        http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
        goto out;
    }
    p.nrows = msg->n_rows;
    int64_t now = time_now_us();
    strata_err verr = STRATA_ERR_INIT;
    for (size_t i = 0; i < msg->n_rows; i++) {
        Strata__V1__WriteRow *row = msg->rows[i];
        write_row *wr = &p.rows[i];
        wr->entity_id = slice_of(row->entity_id);
        if (!text_valid_entity_id(wr->entity_id)) {
            plan_row_error(&p, i,
                           "entity_id must be 1 to %u bytes of UTF-8 without NUL (got %zu bytes)",
                           LIMIT_ENTITY_ID_MAX, wr->entity_id.n);
            continue;
        }
        wr->event_time = row->event_time_us ? row->event_time_us : now;
        wr->created_time = row->created_time_us ? row->created_time_us : now;
        if (wr->event_time < TIME_MIN_US || wr->event_time > TIME_MAX_US ||
            wr->created_time < TIME_MIN_US || wr->created_time > TIME_MAX_US) {
            plan_row_error(&p, i, "event_time_us or created_time_us is outside years 1..9999");
            continue;
        }
        if (row->n_values == 0) {
            plan_row_error(&p, i, "values must not be empty");
            continue;
        }
        wr->cells = &p.cells[p.ncells];
        for (size_t k = 0; k < row->n_values; k++) {
            const char *name = row->values[k]->key ? row->values[k]->key : "";
            const feature_def *f = plan_feature(&p, i, e, slice_of(name));
            size_t off = p.enc.n;
            if (!f ||
                plan_cell(&p, wr, i, f, off,
                          pb_value_encode(f->type, row->values[k]->value, &p.enc, &verr), &verr))
                break;
        }
    }
    if (plan_commit(req, a, e, &p) == 0)
        reply_written(req, p.ncells);
out:
    plan_free(&p);
    strata__v1__write_request__free_unpacked(msg, NULL);
}

void api_write(http_req *req, void *ctx)
{
    app *a = ctx;
    const registry_t *reg = store_registry_acquire(a->store);
    const entity_def *e = lookup_entity(req, reg, req->params[0]);
    if (e) {
        if (http_sent_protobuf(req))
            write_protobuf(req, a, e);
        else
            write_json(req, a, e);
    }
    store_registry_release(a->store, reg);
}

/* ---- deletes ------------------------------------------------------------- */

void api_delete_values(http_req *req, void *ctx)
{
    app *a = ctx;
    static const char *const fields[] = {"entity_ids", "features", "start_time", "end_time", NULL};
    strata_err err = STRATA_ERR_INIT;
    slice *ids = NULL;
    uint32_t *fids = NULL;
    uint64_t deleted = 0;
    const registry_t *reg = store_registry_acquire(a->store);
    json_t *body = NULL;
    const entity_def *e = lookup_entity(req, reg, req->params[0]);
    if (!e || !(body = api_parse_object(req)) || api_check_fields(req, body, fields))
        goto out;
    json_t *jids = json_object_get(body, "entity_ids");
    json_t *jf = json_object_get(body, "features");
    if ((jids != NULL) == (jf != NULL)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "give either \"entity_ids\" or \"features\" with \"start_time\" and "
                          "\"end_time\"");
        goto out;
    }
    if (jids) {
        size_t n = json_array_size(jids);
        if (!json_is_array(jids) || n == 0) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "\"entity_ids\" must be a non-empty array of strings");
            goto out;
        }
        if (n > a->limits.max_values_per_write) {
            http_reply_errorf(req, STRATA_RESOURCE_EXHAUSTED,
                              "%zu ids to delete, over the limit of %u (max_values_per_write, "
                              "--max-values-per-write)",
                              n, a->limits.max_values_per_write);
            goto out;
        }
        ids = calloc(n, sizeof *ids);
        if (!ids) {
            http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *s = json_array_get(jids, i);
            if (!json_is_string(s) ||
                !text_valid_entity_id((slice){json_string_value(s), json_string_length(s)})) {
                http_reply_errorf(
                    req, STRATA_INVALID_ARGUMENT,
                    "entity_ids[%zu] must be a string of 1 to %u bytes of UTF-8 without NUL", i,
                    LIMIT_ENTITY_ID_MAX);
                goto out;
            }
            ids[i] = (slice){json_string_value(s), json_string_length(s)};
        }
        if (store_delete_ids(a->store, e->id, ids, n, &deleted, &err)) {
            http_reply_error(req, &err);
            goto out;
        }
        /* The audit record names what was forgotten without keeping the ids:
         * their count and digest (whoever holds the list can check it). */
        char digest[65];
        size_t distinct = audit_ids_digest(ids, n, digest);
        buf_printf(&req->audit_detail,
                   "{\"entity_ids\":%zu,\"entity_ids_sha256\":\"%s\",\"deleted_versions\":%llu}",
                   distinct, digest, (unsigned long long)deleted);
    } else {
        int64_t start = TIME_MIN_US, end = TIME_MAX_US;
        size_t n = json_array_size(jf);
        if (!json_is_array(jf) || n == 0) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "\"features\" must be a non-empty array of feature names");
            goto out;
        }
        if (!json_object_get(body, "start_time") || !json_object_get(body, "end_time")) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "deleting by features needs \"start_time\" and \"end_time\"");
            goto out;
        }
        if (api_get_time(req, body, "start_time", &start) ||
            api_get_time(req, body, "end_time", &end))
            goto out;
        if (end <= start) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "end_time must be after start_time");
            goto out;
        }
        fids = calloc(n, sizeof *fids);
        if (!fids) {
            http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *s = json_array_get(jf, i);
            const feature_def *f =
                json_is_string(s)
                    ? registry_feature(e, (slice){json_string_value(s), json_string_length(s)})
                    : NULL;
            if (!f) {
                http_reply_errorf(req, json_is_string(s) ? STRATA_NOT_FOUND
                                                         : STRATA_INVALID_ARGUMENT,
                                  "features[%zu] is not a feature of entity \"%s\"", i, e->name);
                goto out;
            }
            fids[i] = f->id;
        }
        if (store_delete_range(a->store, e->id, fids, n, start, end, &deleted, &err)) {
            http_reply_error(req, &err);
            goto out;
        }
        char ts[TIME_RFC3339_MAX], te[TIME_RFC3339_MAX];
        time_format_rfc3339(start, ts, sizeof ts);
        time_format_rfc3339(end, te, sizeof te);
        json_t *names = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append(names, json_array_get(jf, i));
        json_t *detail = json_pack("{s:o,s:s,s:s,s:I}", "features", names, "start_time", ts,
                                   "end_time", te, "deleted_versions", (json_int_t)deleted);
        char *text = json_dumps(detail, JSON_COMPACT);
        STRATA_ASSERT(text != NULL);
        buf_append_str(&req->audit_detail, text);
        free(text);
        json_decref(detail);
    }
    buf_printf(&req->resp, "{\"deleted_versions\":%llu}", (unsigned long long)deleted);
    http_reply_json(req, 200);
out:
    free(ids);
    free(fids);
    json_decref(body);
    err_clear(&err);
    store_registry_release(a->store, reg);
}

/* ---- online reads -------------------------------------------------------- */

static int feature_ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const feature_def *const *)a;
    uintptr_t y = (uintptr_t) * (const feature_def *const *)b;
    return x < y ? -1 : x > y;
}

/* Resolve a list of feature names (NULL list = all features of the entity;
 * a name listed twice is refused). */
static const feature_def **resolve_features(http_req *req, const entity_def *e,
                                            const slice *names, size_t n, size_t *out_n)
{
    if (!names) {
        n = e->nfeatures;
    }
    const feature_def **fs = calloc(n ? n : 1, sizeof *fs);
    if (!fs) {
        http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        fs[i] = names ? registry_feature(e, names[i]) : e->features[i];
        if (!fs[i]) {
            char ex[80];
            text_excerpt(names[i], ex, sizeof ex);
            http_reply_errorf(req, STRATA_NOT_FOUND, "feature \"%s\" not found in entity \"%s\"",
                              ex, e->name);
            free(fs);
            return NULL;
        }
    }
    /* A name twice would be a key twice in a JSON object (GET's answer):
     * refused, as a request body's duplicate key is. */
    if (names && n > 1) {
        const feature_def **sorted = malloc(n * sizeof *sorted);
        if (!sorted) {
            http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
            free(fs);
            return NULL;
        }
        memcpy(sorted, fs, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, feature_ptr_cmp);
        for (size_t i = 1; i < n; i++) {
            if (sorted[i] == sorted[i - 1]) {
                http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "feature \"%s\" is listed twice",
                                  sorted[i]->name);
                free(sorted);
                free(fs);
                return NULL;
            }
        }
        free(sorted);
    }
    *out_n = n;
    return fs;
}

static void online_get_json(http_req *req, slice id, const feature_def **fs, size_t nf,
                            const latest_row *row, int64_t now)
{
    buf *o = &req->resp;
    time_cache tc = {0};
    buf_append_str(o, "{\"entity_id\":");
    jsonw_str(o, id);
    buf_append_str(o, ",\"features\":{");
    for (size_t i = 0; i < nf; i++) {
        const version *cell = latest_row_find(row, fs[i]->id);
        online_status st = cell_status(fs[i], cell, now);
        if (i)
            buf_putc(o, ',');
        jsonw_cstr(o, fs[i]->name);
        buf_append_str(o, ":{\"value\":");
        if (st == ST_PRESENT)
            value_write_json(o, cell->value);
        else
            buf_append_str(o, "null");
        buf_append_str(o, ",\"event_time\":");
        if (cell) {
            put_time_json(o, cell->event_time, &tc);
        } else {
            buf_append_str(o, "null");
        }
        buf_append_str(o, ",\"status\":\"");
        buf_append_str(o, status_name(st));
        buf_append_str(o, "\"}");
    }
    buf_append_str(o, "}}");
    http_reply_json(req, 200);
}

static void pack_reply(http_req *req, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    buf_reserve(&req->resp, len);
    protobuf_c_message_pack(m, (uint8_t *)req->resp.p);
    req->resp.n = len;
    req->status = 200;
    req->resp_type = "application/x-protobuf";
}

static void online_get_pb(http_req *req, slice id, const feature_def **fs, size_t nf,
                          const latest_row *row, int64_t now)
{
    arena sc = ARENA_INIT;
    Strata__V1__EntityValues msg = STRATA__V1__ENTITY_VALUES__INIT;
    char *idz = arena_alloc(&sc, id.n + 1);
    memcpy(idz, id.p, id.n);
    msg.entity_id = idz;
    msg.n_features = nf;
    msg.features = arena_alloc(&sc, nf * sizeof *msg.features);
    for (size_t i = 0; i < nf; i++) {
        Strata__V1__EntityValues__FeaturesEntry *en = arena_alloc(&sc, sizeof *en);
        strata__v1__entity_values__features_entry__init(en);
        Strata__V1__FeatureValue *fv = arena_alloc(&sc, sizeof *fv);
        strata__v1__feature_value__init(fv);
        Strata__V1__Value *v = arena_alloc(&sc, sizeof *v);
        const version *cell = latest_row_find(row, fs[i]->id);
        online_status st = cell_status(fs[i], cell, now);
        if (st == ST_PRESENT)
            pb_value_decode(cell->value, v, &sc);
        else
            strata__v1__value__init(v);
        fv->value = v;
        fv->event_time_us = cell ? cell->event_time : 0;
        fv->status = (Strata__V1__Status)st;
        en->key = (char *)fs[i]->name;
        en->value = fv;
        msg.features[i] = en;
    }
    pack_reply(req, &msg.base);
    arena_free(&sc);
}

/* Split "a,b,c" into slices (borrowing from s); NULL with a 400 on empty names. */
static slice *split_names(http_req *req, slice s, size_t *n)
{
    size_t count = 1;
    for (size_t i = 0; i < s.n; i++)
        count += s.p[i] == ',';
    slice *out = calloc(count, sizeof *out);
    if (!out) {
        http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
        return NULL;
    }
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= s.n; i++) {
        if (i == s.n || s.p[i] == ',') {
            out[k++] = (slice){s.p + start, i - start};
            if (i == start) {
                http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                                  "features= holds an empty name");
                free(out);
                return NULL;
            }
            start = i + 1;
        }
    }
    *n = k;
    return out;
}

void api_online_get(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    latest_row row = {0};
    buf fparam = BUF_INIT;
    slice *names = NULL;
    const feature_def **fs = NULL;
    size_t nnames = 0, nf = 0;
    const registry_t *reg = store_registry_acquire(a->store);
    const entity_def *e = lookup_entity(req, reg, req->params[0]);
    slice id = req->params[1];
    if (!e)
        goto out;
    if (!text_valid_entity_id(id)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "entity id must be 1 to %u bytes of UTF-8 without NUL (got %zu bytes)",
                          LIMIT_ENTITY_ID_MAX, id.n);
        goto out;
    }
    if (http_query_param(req, "features", &fparam) &&
        !(names = split_names(req, buf_slice(&fparam), &nnames)))
        goto out;
    if (!(fs = resolve_features(req, e, names, nnames, &nf)))
        goto out;
    if (store_latest_get(a->store, e->id, id, &row, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (http_wants_protobuf(req))
        online_get_pb(req, id, fs, nf, &row, time_now_us());
    else
        online_get_json(req, id, fs, nf, &row, time_now_us());
out:
    latest_row_free(&row);
    free(names);
    free((void *)fs);
    buf_free(&fparam);
    err_clear(&err);
    store_registry_release(a->store, reg);
}

/* A parsed online:read request, from JSON or protobuf. */
typedef struct read_req {
    slice entity;
    slice *ids;
    size_t nids;
    slice *features; /* NULL = all */
    size_t nfeatures;
} read_req;

static int read_req_json(http_req *req, json_t *body, read_req *r, const strata_limits *lim)
{
    static const char *const fields[] = {"entity", "ids", "features", NULL};
    if (api_check_fields(req, body, fields) || api_get_string(req, body, "entity", &r->entity))
        return -1;
    if (!r->entity.n) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"entity\" is required");
        return -1;
    }
    json_t *ids = json_object_get(body, "ids");
    if (!json_is_array(ids)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"ids\" must be an array of strings");
        return -1;
    }
    r->nids = json_array_size(ids);
    if (r->nids > lim->max_ids_per_read) {
        http_reply_errorf(
            req, STRATA_RESOURCE_EXHAUSTED,
            "%zu ids in one read, over the limit of %u (max_ids_per_read, --max-ids-per-read)",
            r->nids, lim->max_ids_per_read);
        return -1;
    }
    r->ids = calloc(r->nids ? r->nids : 1, sizeof *r->ids);
    if (!r->ids) {
        http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < r->nids; i++) {
        json_t *s = json_array_get(ids, i);
        if (!json_is_string(s)) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "ids[%zu] must be a string", i);
            return -1;
        }
        r->ids[i] = (slice){json_string_value(s), json_string_length(s)};
    }
    json_t *fs = json_object_get(body, "features");
    if (fs && !json_is_null(fs)) {
        if (!json_is_array(fs)) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "field \"features\" must be an array of names");
            return -1;
        }
        r->nfeatures = json_array_size(fs);
        r->features = calloc(r->nfeatures ? r->nfeatures : 1, sizeof *r->features);
        if (!r->features) {
            http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < r->nfeatures; i++) {
            json_t *s = json_array_get(fs, i);
            if (!json_is_string(s)) {
                http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "features[%zu] must be a string",
                                  i);
                return -1;
            }
            r->features[i] = (slice){json_string_value(s), json_string_length(s)};
        }
    }
    return 0;
}

static int read_req_pb(http_req *req, Strata__V1__OnlineReadRequest *m, read_req *r,
                       const strata_limits *lim)
{
    r->entity = slice_of(m->entity);
    if (r->entity.n == 0) {
        /* proto3: an empty string is an absent field, as in JSON. */
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"entity\" is required");
        return -1;
    }
    r->nids = m->n_ids;
    if (r->nids > lim->max_ids_per_read) {
        http_reply_errorf(
            req, STRATA_RESOURCE_EXHAUSTED,
            "%zu ids in one read, over the limit of %u (max_ids_per_read, --max-ids-per-read)",
            r->nids, lim->max_ids_per_read);
        return -1;
    }
    r->ids = calloc(r->nids ? r->nids : 1, sizeof *r->ids);
    if (!r->ids) {
        http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < r->nids; i++)
        r->ids[i] = slice_of(m->ids[i]);
    if (m->n_features) {
        r->nfeatures = m->n_features;
        r->features = calloc(r->nfeatures, sizeof *r->features);
        if (!r->features) {
            http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < r->nfeatures; i++)
            r->features[i] = slice_of(m->features[i]);
    }
    return 0;
}

static void online_read_json(http_req *req, const read_req *r, const feature_def **fs, size_t nf,
                             const latest_row *rows, int64_t now)
{
    buf *o = &req->resp;
    time_cache tc = {0};
    buf_append_str(o, "{\"features\":[");
    for (size_t i = 0; i < nf; i++) {
        if (i)
            buf_putc(o, ',');
        jsonw_cstr(o, fs[i]->name);
    }
    buf_append_str(o, "],\"rows\":[");
    for (size_t k = 0; k < r->nids; k++) {
        const latest_row *row = &rows[k];
        if (k)
            buf_putc(o, ',');
        buf_append_str(o, "{\"entity_id\":");
        jsonw_str(o, r->ids[k]);
        buf_append_str(o, ",\"values\":[");
        for (size_t i = 0; i < nf; i++) {
            const version *cell = latest_row_find(row, fs[i]->id);
            if (i)
                buf_putc(o, ',');
            if (cell_status(fs[i], cell, now) == ST_PRESENT)
                value_write_json(o, cell->value);
            else
                buf_append_str(o, "null");
        }
        buf_append_str(o, "],\"statuses\":[");
        for (size_t i = 0; i < nf; i++) {
            if (i)
                buf_putc(o, ',');
            buf_putc(o, '"');
            buf_append_str(o, status_name(cell_status(fs[i], latest_row_find(row, fs[i]->id), now)));
            buf_putc(o, '"');
        }
        buf_append_str(o, "],\"event_times\":[");
        for (size_t i = 0; i < nf; i++) {
            const version *cell = latest_row_find(row, fs[i]->id);
            if (i)
                buf_putc(o, ',');
            if (cell) {
                put_time_json(o, cell->event_time, &tc);
            } else {
                buf_append_str(o, "null");
            }
        }
        buf_append_str(o, "]}");
    }
    buf_append_str(o, "]}");
    http_reply_json(req, 200);
}

static void online_read_pb(http_req *req, const read_req *r, const feature_def **fs, size_t nf,
                           const latest_row *rows, int64_t now)
{
    arena sc = ARENA_INIT;
    Strata__V1__OnlineReadResponse msg = STRATA__V1__ONLINE_READ_RESPONSE__INIT;
    msg.n_features = nf;
    msg.features = arena_alloc(&sc, nf * sizeof(char *));
    for (size_t i = 0; i < nf; i++)
        msg.features[i] = (char *)fs[i]->name;
    msg.n_rows = r->nids;
    msg.rows = arena_alloc(&sc, r->nids * sizeof *msg.rows);
    for (size_t k = 0; k < r->nids; k++) {
        Strata__V1__OnlineReadRow *pr = arena_alloc(&sc, sizeof *pr);
        strata__v1__online_read_row__init(pr);
        char *idz = arena_alloc(&sc, r->ids[k].n + 1);
        memcpy(idz, r->ids[k].p, r->ids[k].n);
        pr->entity_id = idz;
        pr->n_values = pr->n_statuses = pr->n_event_times_us = nf;
        pr->values = arena_alloc(&sc, nf * sizeof *pr->values);
        pr->statuses = arena_alloc(&sc, nf * sizeof *pr->statuses);
        pr->event_times_us = arena_alloc(&sc, nf * sizeof *pr->event_times_us);
        for (size_t i = 0; i < nf; i++) {
            const version *cell = latest_row_find(&rows[k], fs[i]->id);
            online_status st = cell_status(fs[i], cell, now);
            Strata__V1__Value *v = arena_alloc(&sc, sizeof *v);
            if (st == ST_PRESENT)
                pb_value_decode(cell->value, v, &sc);
            else
                strata__v1__value__init(v);
            pr->values[i] = v;
            pr->statuses[i] = (Strata__V1__Status)st;
            pr->event_times_us[i] = cell ? cell->event_time : 0;
        }
        msg.rows[k] = pr;
    }
    pack_reply(req, &msg.base);
    arena_free(&sc);
}

void api_online_read(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    read_req r = {0};
    json_t *body = NULL;
    Strata__V1__OnlineReadRequest *pbm = NULL;
    const feature_def **fs = NULL;
    latest_row *rows = NULL;
    size_t nf = 0;
    const registry_t *reg = store_registry_acquire(a->store);
    if (http_sent_protobuf(req)) {
        pbm = strata__v1__online_read_request__unpack(NULL, req->body.n,
                                                      (const uint8_t *)req->body.p);
        if (!pbm) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "malformed protobuf: body is not a strata.v1.OnlineReadRequest");
            goto out;
        }
        if (!pb_strings_ok(req, &strata__v1__online_read_request__descriptor))
            goto out;
        if (read_req_pb(req, pbm, &r, &a->limits))
            goto out;
    } else {
        if (!(body = api_parse_object(req)) || read_req_json(req, body, &r, &a->limits))
            goto out;
    }
    for (size_t i = 0; i < r.nids; i++) {
        if (!text_valid_entity_id(r.ids[i])) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "ids[%zu] must be 1 to %u bytes of UTF-8 without NUL (got %zu bytes)",
                              i, LIMIT_ENTITY_ID_MAX, r.ids[i].n);
            goto out;
        }
    }
    const entity_def *e = lookup_entity(req, reg, r.entity);
    if (!e || !(fs = resolve_features(req, e, r.features, r.nfeatures, &nf)))
        goto out;
    rows = calloc(r.nids ? r.nids : 1, sizeof *rows);
    if (!rows) {
        http_reply_errorf(req, STRATA_INTERNAL, "out of memory");
        goto out;
    }
    if (r.nids && store_latest_multiget(a->store, e->id, r.ids, r.nids, rows, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (http_wants_protobuf(req))
        online_read_pb(req, &r, fs, nf, rows, time_now_us());
    else
        online_read_json(req, &r, fs, nf, rows, time_now_us());
out:
    if (rows)
        for (size_t i = 0; i < r.nids; i++)
            latest_row_free(&rows[i]);
    free(rows);
    free((void *)fs);
    free(r.ids);
    free(r.features);
    json_decref(body);
    if (pbm)
        strata__v1__online_read_request__free_unpacked(pbm, NULL);
    err_clear(&err);
    store_registry_release(a->store, reg);
}
