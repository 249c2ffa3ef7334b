/*
 * api_jobs.c - GET /v1/jobs, GET /v1/jobs/{id}, POST /v1/jobs/{id}:cancel over
 * the job runner (ingest/jobs.h). Lists are newest first; a page token is the
 * last id shown, bound to the kind and state filters it was made with.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/text.h"
#include "ingest/jobs.h"
#include "serving/app.h"

static void reply_job(http_req *req, int status, json_t *job)
{
    api_reply_doc(req, status, json_pack("{s:o}", "job", job));
}

/* The kinds of job stratad runs (the job_def kinds in ingest/ and trainer/). */
static const char *const job_kinds[] = {"import",     "export",           "training",
                                        "evaluation", "batch_prediction", NULL};

static bool valid_kind(slice s)
{
    for (size_t i = 0; job_kinds[i]; i++)
        if (slice_eq_str(s, job_kinds[i]))
            return true;
    return false;
}

void api_job_list(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    buf kind = BUF_INIT, state = BUF_INIT, scope = BUF_INIT, before = BUF_INIT, next = BUF_INIT;
    buf tok = BUF_INIT;
    json_t *items = NULL;
    job_state st;
    bool have_kind = http_query_param(req, "kind", &kind) && kind.n;
    bool have_state = http_query_param(req, "state", &state) && state.n;
    bool have_tok;
    size_t page;

    if (have_kind && !valid_kind(buf_slice(&kind))) {
        char ex[80];
        text_excerpt(buf_slice(&kind), ex, sizeof ex);
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "kind \"%s\" is not a job kind: import, export, training, "
                          "evaluation or batch_prediction",
                          ex);
        goto out;
    }
    if (have_state && job_state_parse(buf_slice(&state), &st)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "state must be PENDING, RUNNING, SUCCEEDED, FAILED or CANCELLED");
        goto out;
    }
    buf_printf(&scope, "jobs/%s/%s", have_kind ? kind.p : "", have_state ? state.p : "");
    if (api_page_size(req, &page) || api_page_token_parse(req, scope.p, &before, &have_tok))
        goto out;
    items = json_array();
    if (job_list(a->jobs, have_kind ? kind.p : NULL, have_state ? &st : NULL, buf_slice(&before),
                 page, items, &next, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (next.n)
        api_page_token_make(scope.p, buf_slice(&next), &tok);
    json_t *doc = json_pack("{s:O,s:s}", "jobs", items, "next_page_token", tok.p ? tok.p : "");
    api_reply_doc(req, 200, doc);
out:
    json_decref(items);
    buf_free(&kind);
    buf_free(&state);
    buf_free(&scope);
    buf_free(&before);
    buf_free(&next);
    buf_free(&tok);
    err_clear(&err);
}

void api_job_get(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    json_t *job = NULL;
    if (job_get(a->jobs, req->params[0], &job, &err))
        http_reply_error(req, &err);
    else
        reply_job(req, 200, job);
    err_clear(&err);
}

void api_job_cancel(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    json_t *job = NULL;
    if (job_cancel(a->jobs, req->params[0], &job, &err))
        http_reply_error(req, &err);
    else
        reply_job(req, 200, job);
    err_clear(&err);
}
