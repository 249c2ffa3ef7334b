/*
 * api_models.c - training, the model registry and online prediction:
 * POST /v1/trainings, GET /v1/models, GET /v1/models/{name},
 * PUT /v1/models/{name}/aliases/{alias}, POST /v1/models/{name}:predict
 * (trainer/train_job.h, trainer/registry.h, docs/trainer.md "Training API").
 *
 * Prediction reads the model's features online (store_latest_multiget, TTL
 * measured from now as online reads do: a value outside its max age, absent
 * or NULL is missing) and scores them through loaded_model_score: the same
 * ds_cols_set -> prep_transform -> trainer_predict path as training.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "serving/app.h"
#include "trainer/registry.h"
#include "trainer/train_job.h"

static char *param_str(http_req *req, size_t i)
{
    return strndup(req->params[i].p, req->params[i].n);
}

typedef int (*training_submit_fn)(train_ctx *tc, const json_t *body, const char *principal,
                                  json_t **job_out, strata_err *err);

/* POST of a job on the training context: 202 {"job"} or the submit's error. */
static void submit(http_req *req, app *a, training_submit_fn fn, const char *what)
{
    strata_err err = STRATA_ERR_INIT;
    json_t *job = NULL;
    json_t *body = api_parse_object(req);
    if (!body)
        return;
    if (!a->training)
        http_reply_errorf(req, STRATA_UNAVAILABLE, "%s is not available", what);
    else if (fn(a->training, body, app_principal(req), &job, &err))
        http_reply_error(req, &err);
    else
        api_reply_doc(req, 202, json_pack("{s:o}", "job", job));
    json_decref(body);
    err_clear(&err);
}

void api_training_create(http_req *req, void *ctx)
{
    submit(req, ctx, train_submit, "training");
}

void api_prediction_batch(http_req *req, void *ctx)
{
    submit(req, ctx, batch_predict_submit, "prediction");
}

static json_t *version_summary(const json_t *d, const json_t *aliases)
{
    json_t *v = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "version", json_object_get(d, "version"),
                          "create_time", json_object_get(d, "create_time"), "task",
                          json_object_get(d, "task"), "algorithm", json_object_get(d, "algorithm"),
                          "features", json_object_get(d, "features"), "train_metrics",
                          json_object_get(d, "train_metrics"), "eval_metrics",
                          json_object_get(d, "eval_metrics"));
    json_t *ex = json_object_get(d, "execution_id");
    json_object_set(v, "execution_id", ex ? ex : json_null());
    json_object_set(v, "job_id", json_object_get(d, "job_id"));
    json_object_set(v, "label_column", json_object_get(d, "label_column"));
    json_object_set(v, "labels", json_object_get(d, "labels"));
    json_t *al = json_array();
    const char *k;
    json_t *n;
    json_object_foreach ((json_t *)aliases, k, n)
        if (json_integer_value(n) == json_integer_value(json_object_get(d, "version")))
            json_array_append_new(al, json_string(k));
    json_object_set_new(v, "aliases", al);
    return v;
}

static int model_json(app *a, const char *name, bool full, json_t **out, strata_err *err)
{
    json_t *vers = NULL, *aliases = NULL;
    int rc = model_registry_versions(a->store, name, &vers, err);
    if (rc == 0 && json_array_size(vers) == 0)
        rc = err_set(err, STRATA_NOT_FOUND, "model \"%s\" not found", name);
    if (rc == 0)
        rc = model_registry_aliases(a->store, name, &aliases, err);
    if (rc == 0) {
        json_t *items = json_array();
        size_t i;
        json_t *v;
        json_array_foreach (vers, i, v) {
            if (!full && i + 1 < json_array_size(vers))
                continue;
            json_t *d = NULL;
            if ((rc = model_registry_get(a->store, name, json_integer_value(v), &d, err)))
                break;
            json_array_append_new(items, version_summary(d, aliases));
            json_decref(d);
        }
        if (rc) {
            json_decref(items);
            goto done;
        }
        *out = json_pack("{s:s,s:O,s:O}", "name", name, "aliases", aliases, "latest_version",
                         json_array_get(vers, json_array_size(vers) - 1));
        if (full)
            json_object_set(*out, "versions", items);
        else
            json_object_set(*out, "latest", json_array_get(items, 0));
        json_decref(items);
    }
done:
    json_decref(vers);
    json_decref(aliases);
    return rc;
}

void api_model_list(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    json_t *names = NULL, *items = json_array();
    buf after = BUF_INIT, next = BUF_INIT;
    size_t page, shown = 0;
    bool have_tok;
    if (api_page_size(req, &page) || api_page_token_parse(req, "models", &after, &have_tok))
        goto out;
    /* Names come in key order, so a page resumes after the last name shown. */
    int rc = model_registry_names(a->store, &names, &err);
    size_t i;
    json_t *n;
    json_array_foreach (names, i, n) {
        const char *name = json_string_value(n);
        if (rc)
            break;
        if (have_tok && slice_cmp(slice_of(name), buf_slice(&after)) <= 0)
            continue;
        if (shown == page) {
            json_t *last = json_array_get(items, shown - 1);
            api_page_token_make("models",
                                slice_of(json_string_value(json_object_get(last, "name"))), &next);
            break;
        }
        json_t *m = NULL;
        if ((rc = model_json(a, name, false, &m, &err)))
            break;
        json_array_append_new(items, m);
        shown++;
    }
    if (rc)
        http_reply_error(req, &err);
    else
        api_reply_doc(
            req, 200,
            json_pack("{s:O,s:s}", "models", items, "next_page_token", next.n ? next.p : ""));
out:
    json_decref(items);
    json_decref(names);
    buf_free(&after);
    buf_free(&next);
    err_clear(&err);
}

void api_model_get(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    char *name = param_str(req, 0);
    json_t *m = NULL;
    if (model_name_check(name, &err) || model_json(a, name, true, &m, &err))
        http_reply_error(req, &err);
    else
        api_reply_doc(req, 200, json_pack("{s:o}", "model", m));
    free(name);
    err_clear(&err);
}

void api_model_version_get(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    char *name = param_str(req, 0), *vs = param_str(req, 1), *end;
    long long v = strtoll(vs, &end, 10);
    json_t *d = NULL;
    if (*end || v < 1)
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "version \"%.32s\" is invalid: expected a positive integer", vs);
    else if (model_name_check(name, &err) || model_registry_get(a->store, name, v, &d, &err))
        http_reply_error(req, &err);
    else
        api_reply_doc(req, 200, json_pack("{s:o}", "model", d));
    free(name);
    free(vs);
    err_clear(&err);
}

void api_model_alias_put(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    char *name = param_str(req, 0), *alias = param_str(req, 1);
    json_t *body = NULL, *d = NULL;
    int64_t ver = 0;
    static const char *const fields[] = {"version", NULL};
    if (model_name_check(name, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (model_name_check(alias, &err)) {
        err_clear(&err);
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "alias \"%.64s\" is invalid: expected [a-z][a-z0-9_]{0,63}", alias);
        goto out;
    }
    if (!(body = api_parse_object(req)) || api_check_fields(req, body, fields) ||
        api_get_int(req, body, "version", &ver))
        goto out;
    if (ver < 1) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "field \"version\" must be a positive integer");
        goto out;
    }
    if (model_registry_get(a->store, name, ver, &d, &err) ||
        model_registry_alias_set(a->store, name, alias, ver, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    api_reply_doc(
        req, 200,
        json_pack("{s:s,s:s,s:I}", "model", name, "alias", alias, "version", (json_int_t)ver));
out:
    json_decref(body);
    json_decref(d);
    free(name);
    free(alias);
    err_clear(&err);
}

/* ---- prediction ------------------------------------------------------------------------ */

void api_model_predict(http_req *req, void *ctx)
{
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    char *name = param_str(req, 0);
    static const char *const fields[] = {"ids", NULL};
    loaded_model lm = {0};
    ds_cols cols = {0};
    bool cols_init = false;
    slice *ids = NULL;
    latest_row *rows = NULL;
    double *scores = NULL;
    json_t **missing = NULL; /* per id: the model features read as missing */
    const registry_t *reg = NULL;
    buf q = BUF_INIT, qa = BUF_INIT;
    json_t *body = api_parse_object(req);
    if (!body || api_check_fields(req, body, fields))
        goto out;
    json_t *jids = json_object_get(body, "ids");
    size_t n = json_array_size(jids);
    if (!json_is_array(jids) || n == 0) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "field \"ids\" must be a non-empty array of entity ids");
        goto out;
    }
    if (n > a->limits.max_values_per_write) { /* a limit: 413, as every limit */
        http_reply_errorf(req, STRATA_RESOURCE_EXHAUSTED,
                          "%zu ids to score, over the limit of %u (max_values_per_write, "
                          "--max-values-per-write)",
                          n, a->limits.max_values_per_write);
        goto out;
    }
    ids = calloc(n, sizeof *ids);
    missing = calloc(n, sizeof *missing);
    STRATA_ASSERT(ids != NULL && missing != NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(jids, i);
        ids[i] = (slice){json_string_value(s), json_string_length(s)};
        if (!json_is_string(s) || !text_valid_entity_id(ids[i])) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "ids[%zu] must be a string of 1 to %u bytes of UTF-8 without NUL", i,
                              LIMIT_ENTITY_ID_MAX);
            goto out;
        }
    }
    int64_t ver = 0;
    bool hv = http_query_param(req, "version", &q) == 1 && q.n > 0;
    bool ha = http_query_param(req, "alias", &qa) == 1 && qa.n > 0;
    if (hv && ha) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT, "give ?version= or ?alias=, not both");
        goto out;
    }
    if (hv) {
        buf_putc(&q, '\0');
        char *end;
        long long v = strtoll(q.p, &end, 10);
        if (*end || v < 1) {
            http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                              "version \"%.32s\" is invalid: expected a positive integer", q.p);
            goto out;
        }
        ver = v;
    }
    if (ha)
        buf_putc(&qa, '\0');
    if (loaded_model_open(a->store, name, ver, ha ? qa.p : NULL, &lm, &err) ||
        loaded_model_columns(&lm, &cols, &err)) {
        cols_init = true;
        http_reply_error(req, &err);
        goto out;
    }
    cols_init = true;
    for (size_t i = 0; i < n; i++)
        ds_cols_add_row(&cols);
    /* Online reads, one MultiGet per entity the model's features use. */
    reg = store_registry_acquire(a->store);
    rows = calloc(n, sizeof *rows);
    int64_t now = time_now_us();
    bool *done = calloc(lm.nfeatures + 1, sizeof *done);
    for (size_t k = 0; k < lm.nfeatures; k++) {
        if (done[k])
            continue;
        const char *ref = lm.refs[k], *colon = strchr(ref, ':');
        slice ent = {ref, colon ? (size_t)(colon - ref) : strlen(ref)};
        const entity_def *e = registry_entity(reg, ent);
        if (!e) {
            free(done);
            http_reply_errorf(req, STRATA_FAILED_PRECONDITION,
                              "model feature %s: entity no longer exists", ref);
            goto out;
        }
        if (store_latest_multiget(a->store, e->id, ids, n, rows, &err)) {
            free(done);
            http_reply_error(req, &err);
            goto out;
        }
        for (size_t k2 = k; k2 < lm.nfeatures; k2++) {
            const char *r2 = lm.refs[k2], *c2 = strchr(r2, ':');
            if (!c2 || (size_t)(c2 - r2) != ent.n || memcmp(r2, ent.p, ent.n))
                continue;
            done[k2] = true;
            const feature_def *f = registry_feature(e, slice_of(c2 + 1));
            if (!f) {
                free(done);
                http_reply_errorf(req, STRATA_FAILED_PRECONDITION,
                                  "model feature %s no longer exists", r2);
                goto out;
            }
            for (size_t i = 0; i < n; i++) {
                const version *cell = latest_row_find(&rows[i], f->id);
                slice enc = {NULL, 0};
                if (cell && !(f->ttl_seconds > 0 &&
                              cell->event_time < now - f->ttl_seconds * TIME_US_PER_SEC))
                    enc = cell->value;
                /* No version, past its TTL, or NULL: imputed as training said.
                 * Named in the answer, so that a serving app can tell a score
                 * from its features from one made of training means. */
                if (enc.n == 0 || (unsigned char)enc.p[0] == VT_NULL) {
                    if (!missing[i])
                        missing[i] = json_array();
                    json_array_append_new(missing[i], json_string(r2));
                }
                if (ds_cols_set(&cols, i, k2, enc, &err)) {
                    free(done);
                    http_reply_error(req, &err);
                    goto out;
                }
            }
        }
    }
    free(done);
    size_t K = trainer_model_outputs(lm.m);
    scores = calloc(n * K + 1, sizeof *scores);
    if (loaded_model_score(&lm, &cols, scores, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    int32_t *lab = calloc(n + 1, sizeof *lab);
    if (lm.task != TRAINER_REGRESSION)
        trainer_labels(lm.m, scores, n, 0.5, lab);
    json_t *labels = json_object_get(lm.doc, "labels");
    json_t *preds = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_pack("{s:O,s:o}", "entity_id", json_array_get(jids, i), "missing_features",
                              missing[i] ? missing[i] : json_array());
        missing[i] = NULL;
        if (lm.task == TRAINER_REGRESSION) {
            json_object_set_new(p, "score", json_real(scores[i]));
        } else if (lm.task == TRAINER_BINARY) {
            json_object_set_new(p, "score", json_real(scores[i]));
            json_object_set(p, "predicted_label", json_array_get(labels, (size_t)lab[i]));
        } else {
            json_object_set_new(p, "score", json_real(scores[i * K + (size_t)lab[i]]));
            json_object_set(p, "predicted_label", json_array_get(labels, (size_t)lab[i]));
            json_t *pr = json_object();
            for (size_t c = 0; c < K; c++)
                json_object_set_new(pr, json_string_value(json_array_get(labels, c)),
                                    json_real(scores[i * K + c]));
            json_object_set_new(p, "probabilities", pr);
        }
        json_array_append_new(preds, p);
    }
    free(lab);
    api_reply_doc(req, 200,
                  json_pack("{s:o,s:O,s:O}", "predictions", preds, "model",
                            json_object_get(lm.doc, "model"), "version",
                            json_object_get(lm.doc, "version")));
out:
    if (rows) {
        for (size_t i = 0; i < json_array_size(json_object_get(body, "ids")); i++)
            latest_row_free(&rows[i]);
        free(rows);
    }
    if (missing) {
        for (size_t i = 0; i < json_array_size(json_object_get(body, "ids")); i++)
            json_decref(missing[i]);
        free(missing);
    }
    if (reg)
        store_registry_release(a->store, reg);
    if (cols_init)
        ds_cols_free(&cols);
    loaded_model_close(&lm);
    free(ids);
    free(scores);
    buf_free(&q);
    buf_free(&qa);
    json_decref(body);
    free(name);
    err_clear(&err);
}
