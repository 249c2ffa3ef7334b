/* api_common.c - request-body helpers shared by every handler. */
#include <string.h>

#include "base/jsoncheck.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "base/jsonw.h"
#include "serving/app.h"

void api_reply_doc(http_req *req, int status, json_t *doc)
{
    if (doc)
        jsonw_value(&req->resp, doc, false);
    else
        buf_append_str(&req->resp, "{}");
    json_decref(doc);
    http_reply_json(req, status);
}

json_t *api_parse_object(http_req *req)
{
    if (req->body.n == 0) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "request body is empty: expected a JSON "
                          "object");
        return NULL;
    }
    /* Measured before parsing: what parsing would cost is the point. */
    json_shape shape;
    json_measure(req->body, &shape);
    strata_limits defaults = limits_default();
    const strata_limits *lim = req->limits ? req->limits : &defaults;
    if (shape.depth > LIMIT_JSON_DEPTH) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "request body nests arrays and objects deeper than %u levels",
                          LIMIT_JSON_DEPTH);
        return NULL;
    }
    if (shape.values > lim->max_json_values) {
        http_reply_errorf(req, STRATA_RESOURCE_EXHAUSTED,
                          "request body holds %zu JSON values, over the limit of %u "
                          "(max_json_values, --max-json-values); send fewer per request, or "
                          "bulk data as protobuf or an import file",
                          shape.values, lim->max_json_values);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(req->body.p, req->body.n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        /* Only on failure: say so plainly when the cause is bad UTF-8. */
        if (!text_valid_utf8(req->body)) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "request body is not valid UTF-8 (near line %d column %d)", je.line,
                              je.column);
            return NULL;
        }
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "malformed JSON at line %d column %d: %s",
                          je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

int api_get_string(http_req *req, json_t *obj, const char *key, slice *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"%s\" must be a string", key);
        return -1;
    }
    *out = (slice){json_string_value(v), json_string_length(v)};
    return 0;
}

int api_get_int(http_req *req, json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"%s\" must be an integer", key);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int api_get_bool(http_req *req, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "field \"%s\" must be true or false", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

int api_get_time(http_req *req, json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) ||
        time_parse_rfc3339((slice){json_string_value(v), json_string_length(v)}, out)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "field \"%s\" must be an RFC 3339 timestamp such as "
                          "\"2024-01-02T03:04:05.123456Z\"",
                          key);
        return -1;
    }
    return 0;
}

int api_check_fields(http_req *req, json_t *obj, const char *const *allowed)
{
    strata_err err = STRATA_ERR_INIT;
    if (json_check_fields(obj, allowed, "", &err) == 0)
        return 0;
    http_reply_error(req, &err);
    err_clear(&err);
    return -1;
}

int api_page_size(http_req *req, size_t *out)
{
    buf v = BUF_INIT;
    *out = 100;
    int rc = 0;
    if (http_query_param(req, "page_size", &v)) {
        uint64_t n;
        if (text_parse_u64(buf_slice(&v), &n) || n < 1 || n > LIMIT_PAGE_SIZE_MAX) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "page_size must be an integer from 1 to %u", LIMIT_PAGE_SIZE_MAX);
            rc = -1;
        } else {
            *out = (size_t)n;
        }
    }
    buf_free(&v);
    return rc;
}

/* Page tokens are hex of "<scope>\0<last key>": opaque to clients, and the scope
 * (route plus the query's other parameters) makes a token from one query
 * useless in another. */
void api_page_token_make(const char *scope, slice last_key, buf *out)
{
    static const char hex[] = "0123456789abcdef";
    buf raw = BUF_INIT;
    buf_append_str(&raw, scope);
    buf_putc(&raw, '\0');
    buf_append_slice(&raw, last_key);
    buf_reset(out);
    for (size_t i = 0; i < raw.n; i++) {
        buf_putc(out, hex[(unsigned char)raw.p[i] >> 4]);
        buf_putc(out, hex[(unsigned char)raw.p[i] & 15]);
    }
    buf_free(&raw);
}

int api_page_token_parse(http_req *req, const char *scope, buf *last_key, bool *present)
{
    buf tok = BUF_INIT;
    int rc = 0;
    *present = false;
    buf_reset(last_key);
    if (!http_query_param(req, "page_token", &tok) || tok.n == 0)
        goto out;
    *present = true;
    buf raw = BUF_INIT;
    if (tok.n % 2) {
        rc = -1;
    } else {
        for (size_t i = 0; i < tok.n && !rc; i += 2) {
            int hi = -1, lo = -1;
            const char *h = "0123456789abcdef";
            const char *ph = strchr(h, tok.p[i]), *pl = strchr(h, tok.p[i + 1]);
            if (ph && *ph)
                hi = (int)(ph - h);
            if (pl && *pl)
                lo = (int)(pl - h);
            if (hi < 0 || lo < 0)
                rc = -1;
            else
                buf_putc(&raw, (char)(hi * 16 + lo));
        }
    }
    size_t sn = strlen(scope);
    if (!rc && (raw.n <= sn || memcmp(raw.p, scope, sn) != 0 || raw.p[sn] != '\0'))
        rc = -1;
    if (!rc)
        buf_append(last_key, raw.p + sn + 1, raw.n - sn - 1);
    buf_free(&raw);
    if (rc)
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "page_token is malformed or belongs to a query with other parameters");
out:
    buf_free(&tok);
    return rc;
}
