/*
 * api_imports.c - POST /v1/imports: validate the spec and start an import job
 * (ingest/import.h) → 202 {"job":{…}}. Everything that can refuse the request
 * (options, entity, path rules, inline limits, the header against the
 * mapping) is checked before the job exists, so a refused request stores
 * nothing.
 */
#include <stdlib.h>

#include "ingest/import.h"
#include "serving/app.h"

void api_import_create(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    json_t *job = NULL;
    json_t *body = api_parse_object(req);
    if (!body)
        return;
    import_submit_opts opts = {.principal = app_principal(req)};
    if (import_submit(a->imports, body, &opts, &job, &err)) {
        http_reply_error(req, &err);
    } else {
        json_t *doc = json_pack("{s:o}", "job", job);
        char *s = json_dumps(doc, JSON_COMPACT);
        buf_append_str(&req->resp, s ? s : "{}");
        free(s);
        json_decref(doc);
        http_reply_json(req, 202);
    }
    json_decref(body);
    err_clear(&err);
}
