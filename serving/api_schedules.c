/*
 * api_schedules.c - /v1/schedules: create, list, show, update, delete, run
 * now, and run history. The scheduling itself is ingest/scheduler.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/text.h"
#include "ingest/scheduler.h"
#include "serving/app.h"

void api_schedule_create(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    json_t *out = NULL, *body = api_parse_object(req);
    if (!body)
        return;
    if (scheduler_create(a->scheduler, body, &out, &err))
        http_reply_error(req, &err);
    else
        api_reply_doc(req, 201, json_pack("{s:o}", "schedule", out));
    err_clear(&err);
    json_decref(body);
}

void api_schedule_list(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    buf last = BUF_INIT, next = BUF_INIT;
    size_t page;
    bool have_tok, more = false;
    if (api_page_size(req, &page) || api_page_token_parse(req, "schedules", &last, &have_tok))
        goto out;
    json_t *items = json_array();
    if (scheduler_list(a->scheduler, buf_slice(&last), page, items, &more, &err)) {
        json_decref(items);
        http_reply_error(req, &err);
        goto out;
    }
    if (more) {
        json_t *lastdoc = json_array_get(items, json_array_size(items) - 1);
        api_page_token_make("schedules",
                            slice_of(json_string_value(json_object_get(lastdoc, "name"))), &next);
    }
    api_reply_doc(req, 200,
                  json_pack("{s:o,s:s%}", "schedules", items, "next_page_token",
                            next.p ? next.p : "", next.n));
out:
    buf_free(&last);
    buf_free(&next);
    err_clear(&err);
}

void api_schedule_get(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    json_t *out = NULL;
    if (scheduler_get(a->scheduler, req->params[0], &out, &err))
        http_reply_error(req, &err);
    else
        api_reply_doc(req, 200, json_pack("{s:o}", "schedule", out));
    err_clear(&err);
}

void api_schedule_patch(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    json_t *out = NULL, *body = api_parse_object(req);
    if (!body)
        return;
    if (scheduler_update(a->scheduler, req->params[0], body, &out, &err))
        http_reply_error(req, &err);
    else
        api_reply_doc(req, 200, json_pack("{s:o}", "schedule", out));
    err_clear(&err);
    json_decref(body);
}

void api_schedule_delete(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    if (scheduler_delete(a->scheduler, req->params[0], &err))
        http_reply_error(req, &err);
    else
        api_reply_doc(req, 200, json_pack("{s:s%}", "deleted", req->params[0].p, req->params[0].n));
    err_clear(&err);
}

void api_schedule_run(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    json_t *run = NULL;
    if (scheduler_run_now(a->scheduler, req->params[0], &run, &err))
        http_reply_error(req, &err);
    else
        api_reply_doc(req, 202, json_pack("{s:o}", "run", run));
    err_clear(&err);
}

void api_schedule_runs(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    buf last = BUF_INIT, next = BUF_INIT, scope = BUF_INIT;
    size_t page;
    bool have_tok;
    uint64_t before = 0, next_run = 0;
    buf_printf(&scope, "runs/%.*s", (int)req->params[0].n, req->params[0].p);
    if (api_page_size(req, &page) || api_page_token_parse(req, scope.p, &last, &have_tok))
        goto out;
    if (have_tok && text_parse_u64(buf_slice(&last), &before)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "page_token is malformed");
        goto out;
    }
    json_t *items = json_array();
    if (scheduler_runs(a->scheduler, req->params[0], before, page, items, &next_run, &err)) {
        json_decref(items);
        http_reply_error(req, &err);
        goto out;
    }
    if (next_run) {
        char n[24];
        snprintf(n, sizeof n, "%llu", (unsigned long long)next_run);
        api_page_token_make(scope.p, slice_of(n), &next);
    }
    api_reply_doc(
        req, 200,
        json_pack("{s:o,s:s%}", "runs", items, "next_page_token", next.p ? next.p : "", next.n));
out:
    buf_free(&last);
    buf_free(&next);
    buf_free(&scope);
    err_clear(&err);
}
