/*
 * api_evaluations.c - model evaluation and fairness:
 * POST /v1/evaluations (a job), GET /v1/evaluations[?model=],
 * GET /v1/evaluations/{id}, GET /v1/evaluations/{id}/report.html
 * (trainer/eval_job.h, trainer/evaluate.h, docs/evaluation.md "API").
 *
 * Lists are newest first; a page token is the number to continue below,
 * bound to the model filter it was made with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/text.h"
#include "serving/app.h"
#include "trainer/eval_job.h"
#include "trainer/registry.h"

/* The request member that names a file of --import-dir, or NULL. */
static const char *file_member(const json_t *body)
{
    if (json_object_get(json_object_get(body, "predictions"), "path"))
        return "predictions.path (files of the import directory; send the rows inline)";
    if (json_object_get(json_object_get(body, "instances"), "path"))
        return "instances.path (files of the import directory; send the rows inline)";
    return NULL;
}

void api_evaluation_create(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    json_t *job = NULL;
    json_t *body = api_parse_object(req);
    if (!body)
        return;
    /* Auditors run evaluations, but reading the import directory is the
     * import permission's: with a path and group_by, any column of any file
     * there would come back as group values. */
    const char *file = file_member(body);
    if (file && app_require(a, req, AUTH_PERM_IMPORT, file))
        goto out;
    if (!a->training)
        http_reply_errorf(req, STRATA_UNAVAILABLE, "evaluation is not available");
    else if (eval_submit(a->training, body, app_principal(req), &job, &err))
        http_reply_error(req, &err);
    else
        api_reply_doc(req, 202, json_pack("{s:o}", "job", job));
out:
    json_decref(body);
    err_clear(&err);
}

static int load(http_req *req, app *a, json_t **out)
{
    strata_err err = STRATA_ERR_INIT;
    char *id = strndup(req->params[0].p, req->params[0].n);
    STRATA_ASSERT(id);
    int rc = eval_store_get(a->store, id, out, &err);
    if (rc)
        http_reply_error(req, &err);
    free(id);
    err_clear(&err);
    return rc;
}

void api_evaluation_get(http_req *req, void *ctx)
{
    json_t *e = NULL;
    if (load(req, ctx, &e) == 0)
        api_reply_doc(req, 200, json_pack("{s:o}", "evaluation", e));
}

void api_evaluation_report(http_req *req, void *ctx)
{
    json_t *e = NULL;
    char *html = NULL;
    size_t n = 0;
    strata_err err = STRATA_ERR_INIT;
    if (load(req, ctx, &e))
        return;
    if (eval_report_html(e, &html, &n, &err)) {
        http_reply_error(req, &err);
    } else {
        buf_append(&req->resp, html, n);
        req->status = 200;
        req->resp_type = "text/html; charset=utf-8";
        /* A page auditors open in a browser: never sniffed as anything else,
         * never framed, nothing loaded or run (the page's own CSP, again). */
        req->resp_headers = "X-Content-Type-Options: nosniff\r\n"
                            "Content-Security-Policy: " EVAL_REPORT_CSP_HEADER "\r\n"
                            "Referrer-Policy: no-referrer\r\n";
    }
    free(html);
    json_decref(e);
    err_clear(&err);
}

void api_evaluation_list(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    buf model = BUF_INIT, scope = BUF_INIT, last = BUF_INIT, tok = BUF_INIT;
    json_t *items = NULL;
    size_t page;
    bool have_tok;
    bool have_model = http_query_param(req, "model", &model) && model.n;
    uint64_t before = 0, next = 0;
    if (have_model && !text_valid_name(buf_slice(&model))) {
        char ex[80];
        text_excerpt(buf_slice(&model), ex, sizeof ex);
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "model \"%s\" is not a model name ([a-z][a-z0-9_]{0,63})", ex);
        goto out;
    }
    buf_printf(&scope, "evaluations/%s", have_model ? model.p : "");
    if (api_page_size(req, &page) || api_page_token_parse(req, scope.p, &last, &have_tok))
        goto out;
    if (have_tok) {
        buf_putc(&last, '\0');
        if (text_parse_u64(slice_of(last.p), &before) || before == 0) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "page_token is malformed");
            goto out;
        }
    }
    items = json_array();
    if (eval_store_list(a->store, have_model ? model.p : NULL, before, page, items, &next, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (next) {
        char num[24];
        snprintf(num, sizeof num, "%llu", (unsigned long long)next);
        api_page_token_make(scope.p, slice_of(num), &tok);
    }
    api_reply_doc(
        req, 200,
        json_pack("{s:O,s:s}", "evaluations", items, "next_page_token", tok.p ? tok.p : ""));
out:
    json_decref(items);
    buf_free(&model);
    buf_free(&scope);
    buf_free(&last);
    buf_free(&tok);
    err_clear(&err);
}
