/*
 * api_provenance.c - GET /v1/models/{name}/provenance[?version=N]: the
 * contract's "where did this model come from?" (training data with its
 * export, feature refs, as_of and upstream imports with source digests;
 * hyperparameters; code version; metrics; evaluations and fairness reports).
 *
 * The handler only parses and wraps: the model-finding rule and the walk live
 * in lineage/provenance.c (docs/lineage.md, "Model provenance").
 */
#include <stdlib.h>

#include "base/text.h"
#include "lineage/lineage.h"
#include "serving/api_lineage.h"
#include "serving/app.h"

void api_model_provenance(http_req *req, void *ctx)
{
    lineage_t *lg = ((app *)ctx)->lineage;
    strata_err err = STRATA_ERR_INIT;
    buf v = BUF_INIT;
    json_t *prov = NULL;
    int64_t want = 0;
    /* "version=" (empty) is "the newest", as an empty filter is "any". */
    if (http_query_param(req, "version", &v) && v.n > 0) {
        uint64_t n;
        if (text_parse_u64(buf_slice(&v), &n) || n == 0 || n > (uint64_t)INT64_MAX) {
            char ex[80];
            text_excerpt(buf_slice(&v), ex, sizeof ex);
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "version \"%s\" is invalid: expected a positive integer", ex);
            goto out;
        }
        want = (int64_t)n;
    }
    if (lineage_model_provenance(lg, req->params[0], want, &prov, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    json_t *w = json_pack("{s:o}", "provenance", prov);
    char *s = json_dumps(w, JSON_COMPACT);
    buf_append_str(&req->resp, s);
    free(s);
    json_decref(w);
    http_reply_json(req, 200);
out:
    buf_free(&v);
    err_clear(&err);
}
