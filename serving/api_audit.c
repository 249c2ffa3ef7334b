/*
 * api_audit.c - the audit hook and /v1/audit, /v1/audit:verify.
 *
 * Every request to a state-changing route that succeeded (2xx) is appended to
 * the hash-chained log before its answer is sent: action = the route
 * ("POST /v1/entities/{}:write"), target = its path parameters joined by '/'
 * (or the path when it has none), principal = the name of the bearer token
 * that sent it ("anonymous" without a token file), and a handler's detail
 * (req->audit_detail) when it gave one. Failed requests changed nothing and
 * are not recorded.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/text.h"
#include "lineage/audit.h"
#include "serving/app.h"

const char *app_principal(const http_req *req)
{
    return req->principal[0] ? req->principal : "anonymous";
}

void app_after_request(http_req *req, void *ctx)
{
    app *a = ctx;
    if (!a->audit || !app_route_mutates(req->route_id) || req->status < 200 ||
        req->status >= 300)
        return;
    buf target = BUF_INIT;
    for (size_t i = 0; i < req->nparams; i++) {
        if (i)
            buf_putc(&target, '/');
        buf_append_slice(&target, req->params[i]);
    }
    if (req->nparams == 0)
        buf_append_slice(&target, req->path);
    strata_err err = STRATA_ERR_INIT;
    json_t *detail =
        req->audit_detail.n ? json_loadb(req->audit_detail.p, req->audit_detail.n, 0, NULL) : NULL;
    STRATA_ASSERT(!req->audit_detail.n || json_is_object(detail)); /* handlers write objects */
    if (audit_append(a->audit, app_principal(req), app_route_name(req->route_id),
                     buf_slice(&target), req->status, detail, NULL, &err)) {
        /* The change is committed; refusing the answer now would mislead the
         * client into retrying it. Log loudly instead. */
        log_error("audit append failed for %s: %s", app_route_name(req->route_id), err.message);
        err_clear(&err);
    }
    json_decref(detail);
    buf_free(&target);
}

void api_audit_list(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    buf v = BUF_INIT, last = BUF_INIT, next = BUF_INIT;
    uint64_t since = 1, next_seq = 0;
    size_t page;
    bool have_tok;
    json_t *records = NULL;
    if (http_query_param(req, "since_seq", &v) &&
        (text_parse_u64(buf_slice(&v), &since) || since == 0)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "since_seq must be a positive integer");
        goto out;
    }
    char scope[48];
    snprintf(scope, sizeof scope, "audit/%llu", (unsigned long long)since);
    if (api_page_size(req, &page) || api_page_token_parse(req, scope, &last, &have_tok))
        goto out;
    if (have_tok && text_parse_u64(buf_slice(&last), &since)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "page_token is malformed");
        goto out;
    }
    records = json_array();
    if (audit_list(a->audit, since, page, records, &next_seq, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (next_seq) {
        char n[24];
        snprintf(n, sizeof n, "%llu", (unsigned long long)next_seq);
        api_page_token_make(scope, slice_of(n), &next);
    }
    json_t *doc = json_pack("{s:O,s:s%}", "records", records, "next_page_token",
                            next.p ? next.p : "", next.n);
    char *s = json_dumps(doc, JSON_COMPACT);
    buf_append_str(&req->resp, s);
    free(s);
    json_decref(doc);
    http_reply_json(req, 200);
out:
    json_decref(records);
    buf_free(&v);
    buf_free(&last);
    buf_free(&next);
    err_clear(&err);
}

void api_audit_verify(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    audit_verify_result r;
    if (audit_verify(a->audit, &r, &err)) {
        http_reply_error(req, &err);
        err_clear(&err);
        return;
    }
    json_t *doc;
    if (r.ok)
        doc = json_pack("{s:b,s:I,s:I,s:s}", "ok", 1, "records_checked",
                        (json_int_t)r.records_checked, "head_seq", (json_int_t)r.head_seq,
                        "head_digest", r.head_digest);
    else
        doc = json_pack("{s:b,s:I,s:I,s:s}", "ok", 0, "first_bad_seq",
                        (json_int_t)r.first_bad_seq, "records_checked",
                        (json_int_t)r.records_checked, "reason", r.reason);
    char *s = json_dumps(doc, JSON_COMPACT);
    buf_append_str(&req->resp, s);
    free(s);
    json_decref(doc);
    http_reply_json(req, 200);
}
