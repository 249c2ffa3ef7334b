/*
 * eval_store.c - stored evaluations and their lineage (trainer/eval_job.h has
 * the key layout).
 *
 * An evaluation is written once, complete: the number is allocated under a
 * mutex, lineage is recorded (it needs the id for its FairnessReport), then
 * the record, its model index entry and the counter go in one synced batch.
 * A crash before that batch leaves no evaluation (the job is FAILED on
 * restart) and at worst an Evaluate execution naming an id that never
 * appeared; a number is never handed out twice.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "lineage/lineage.h"
#include "trainer/eval_job.h"

#define KEY_EVAL 'E'
#define KEY_COUNTER 'e'
#define KEY_BY_MODEL 'V'

static pthread_mutex_t eval_mu = PTHREAD_MUTEX_INITIALIZER;

static void put_u64(buf *k, uint64_t v)
{
    for (int b = 7; b >= 0; b--)
        buf_putc(k, (char)((v >> (8 * b)) & 0xff));
}

static uint64_t get_u64(const char *p)
{
    uint64_t v = 0;
    for (int b = 0; b < 8; b++)
        v = (v << 8) | (unsigned char)p[b];
    return v;
}

static void key_eval(buf *k, uint64_t num)
{
    buf_reset(k);
    buf_putc(k, KEY_EVAL);
    put_u64(k, num);
}

static void key_model(buf *k, const char *model, uint64_t num)
{
    buf_reset(k);
    buf_putc(k, KEY_BY_MODEL);
    buf_append_str(k, model);
    buf_putc(k, '\0');
    put_u64(k, num);
}

/* "ev-17" -> 17; 0 for anything else (no leading zeros, no junk). */
static uint64_t parse_id(const char *id)
{
    if (strncmp(id, "ev-", 3) != 0 || id[3] < '1' || id[3] > '9' || strlen(id) > 3 + 19)
        return 0;
    uint64_t v = 0;
    for (const char *c = id + 3; *c; c++) {
        if (*c < '0' || *c > '9')
            return 0;
        v = v * 10 + (uint64_t)(*c - '0');
    }
    return v;
}

static int load(store_t *st, slice key, json_t **out, strata_err *err)
{
    buf v = BUF_INIT;
    int rc = store_kv_get(st, STORE_SPACE_JOBS, NULL, key, &v, err);
    if (rc == 0) {
        *out = json_loadb(v.p ? v.p : "", v.n, 0, NULL);
        if (!*out)
            rc = err_set(err, STRATA_INTERNAL, "a stored evaluation does not parse");
    }
    buf_free(&v);
    return rc;
}

int eval_store_get(store_t *st, const char *id, json_t **out, strata_err *err)
{
    uint64_t num = parse_id(id);
    if (num == 0)
        return err_set(err, STRATA_NOT_FOUND, "evaluation \"%.64s\" not found (ids look like ev-7)",
                       id);
    buf k = BUF_INIT;
    key_eval(&k, num);
    int rc = load(st, buf_slice(&k), out, err);
    buf_free(&k);
    if (rc == STRATA_NOT_FOUND) {
        err_clear(err);
        rc = err_set(err, STRATA_NOT_FOUND, "evaluation \"%s\" not found", id);
    }
    return rc;
}

static json_t *summary_of(const json_t *e)
{
    static const char *const keys[] = {"id",    "created_time", "source",  "task",
                                        "n",    "label_column", "group_by", "summary",
                                        "execution_id", "job_id", NULL};
    json_t *o = json_object();
    for (const char *const *k = keys; *k; k++) {
        json_t *v = json_object_get(e, *k);
        json_object_set(o, *k, v ? v : json_null());
    }
    return o;
}

int eval_store_list(store_t *st, const char *model, uint64_t before, size_t limit, json_t *items,
                    uint64_t *next, strata_err *err)
{
    buf k = BUF_INIT, prefix = BUF_INIT;
    int rc = 0;
    size_t got = 0;
    *next = 0;
    if (model) {
        key_model(&prefix, model, 0);
        prefix.n -= 8;
    } else {
        buf_putc(&prefix, KEY_EVAL);
    }
    /* Newest first: start just below `before` (or past the last key). */
    buf_reset(&k);
    buf_append(&k, prefix.p, prefix.n);
    put_u64(&k, before ? before - 1 : UINT64_MAX);
    store_iter *it = store_iter_open(st, STORE_SPACE_JOBS, NULL);
    for (store_iter_seek_prev(it, buf_slice(&k)); store_iter_valid(it); store_iter_prev(it)) {
        slice key = store_iter_key(it);
        if (key.n != prefix.n + 8 || memcmp(key.p, prefix.p, prefix.n) != 0)
            break;
        uint64_t num = get_u64(key.p + prefix.n);
        if (got == limit) {
            *next = num + 1;
            break;
        }
        json_t *e = NULL;
        if (model) {
            buf ek = BUF_INIT;
            key_eval(&ek, num);
            rc = load(st, buf_slice(&ek), &e, err);
            buf_free(&ek);
            if (rc == STRATA_NOT_FOUND) { /* index ahead of a lost record: skip */
                err_clear(err);
                rc = 0;
                continue;
            }
        } else {
            slice v = store_iter_value(it);
            e = json_loadb(v.p ? v.p : "", v.n, 0, NULL);
            if (!e)
                rc = err_set(err, STRATA_INTERNAL, "a stored evaluation does not parse");
        }
        if (rc)
            break;
        json_array_append_new(items, summary_of(e));
        json_decref(e);
        got++;
    }
    if (rc == 0)
        rc = store_iter_status(it, err);
    store_iter_close(it);
    buf_free(&k);
    buf_free(&prefix);
    return rc;
}

/* The next number, persisted before it is used (so it is never reused). */
static int allocate(store_t *st, uint64_t *num, strata_err *err)
{
    buf k = BUF_INIT, v = BUF_INIT;
    buf_putc(&k, KEY_COUNTER);
    int rc = store_kv_get(st, STORE_SPACE_JOBS, NULL, buf_slice(&k), &v, err);
    uint64_t n = 1;
    if (rc == STRATA_NOT_FOUND) {
        err_clear(err);
        rc = 0;
    } else if (rc == 0) {
        if (v.n != 8)
            rc = err_set(err, STRATA_INTERNAL, "the evaluation counter record is damaged");
        else
            n = get_u64(v.p);
    }
    if (rc == 0) {
        buf nv = BUF_INIT;
        put_u64(&nv, n + 1);
        store_batch *b = store_batch_new();
        store_batch_put(b, STORE_SPACE_JOBS, buf_slice(&k), buf_slice(&nv));
        rc = store_batch_commit(st, b, true, err);
        store_batch_free(b);
        buf_free(&nv);
        *num = n;
    }
    buf_free(&k);
    buf_free(&v);
    return rc;
}

/* The headline numbers of a result: overall metrics without the tables. */
static json_t *headline(const json_t *result)
{
    json_t *o = json_object();
    const json_t *ov = json_object_get(result, "overall");
    static const char *const keys[] = {"accuracy", "precision", "recall", "f1",   "roc_auc",
                                       "average_precision", "log_loss", "brier", "ece",
                                       "rmse", "mae", "r2", NULL};
    for (const char *const *k = keys; *k; k++) {
        json_t *v = json_object_get(ov, *k);
        if (v)
            json_object_set(o, *k, v);
    }
    return o;
}

static int record_lineage(lineage_t *lg, const eval_meta *m, const json_t *result,
                          const char *id, int64_t *exec_id, strata_err *err)
{
    char mname[100], report_uri[120], dsname[120], ename[120];
    snprintf(report_uri, sizeof report_uri, "/v1/evaluations/%s/report.html", id);
    snprintf(ename, sizeof ename, "evaluate-%s", id);
    json_t *eprops = json_pack("{s:s,s:O}", "evaluation_id", id, "group_by", m->group_by);
    if (m->job_id)
        json_object_set_new(eprops, "job_id", json_string(m->job_id));
    json_t *thr = json_object_get(result, "threshold");
    if (json_is_number(thr))
        json_object_set_new(eprops, "threshold", json_real(json_number_value(thr)));
    if (m->model) {
        json_object_set_new(eprops, "model", json_string(m->model));
        json_object_set_new(eprops, "version", json_integer(m->version));
    }
    json_t *ecustom = json_pack("{s:O,s:b}", "task", json_object_get(result, "task"),
                                "intersections", m->intersections);
    if (m->predictions)
        json_object_set_new(ecustom, "predictions", json_string(m->predictions));
    json_t *dprops = json_pack("{s:s,s:I}", "format", "evaluation", "rows", (json_int_t)m->rows);
    if (m->dataset_sha256)
        json_object_set_new(dprops, "sha256", json_string(m->dataset_sha256));
    if (m->feature_refs)
        json_object_set(dprops, "feature_refs", (json_t *)m->feature_refs);
    json_t *mprops = json_pack("{s:s,s:O,s:o}", "split", m->split ? m->split : "evaluation", "n",
                               json_object_get(result, "n"), "metrics", headline(result));
    json_t *mcustom = json_pack("{s:s}", "evaluation_id", id);
    const json_t *summary = json_object_get(result, "summary");
    json_t *fprops = json_pack("{s:s,s:O,s:O}", "evaluation_id", id, "group_by", m->group_by,
                               "summary", summary ? summary : json_null());
    const json_t *ffr = json_object_get(summary, "four_fifths_rule");
    if (json_is_string(ffr))
        json_object_set(fprops, "four_fifths_rule", (json_t *)ffr);
    lineage_artifact_ref ins[2];
    size_t nin = 0;
    if (m->model) {
        snprintf(mname, sizeof mname, "%s@%lld", m->model, (long long)m->version);
        ins[nin++] = (lineage_artifact_ref){.type = "Model", .name = mname, .path_key = "model"};
    }
    snprintf(dsname, sizeof dsname, "evaluation-data-%s", id);
    ins[nin++] = m->dataset_id > 0
                     ? (lineage_artifact_ref){.id = m->dataset_id, .path_key = "examples"}
                     : (lineage_artifact_ref){.type = "Dataset",
                                              .name = dsname,
                                              .uri = m->dataset_uri,
                                              .properties = dprops,
                                              .path_key = "examples"};
    lineage_artifact_ref outs[2] = {
        {.type = "Metrics", .uri = report_uri, .properties = mprops,
         .custom_properties = mcustom, .path_key = "metrics"},
        {.type = "FairnessReport", .uri = report_uri, .properties = fprops,
         .path_key = "fairness_report"}};
    lineage_run run = {.execution_type = "Evaluate",
                       .name = ename,
                       .properties = eprops,
                       .custom_properties = ecustom,
                       .inputs = ins,
                       .ninputs = nin,
                       .outputs = outs,
                       .noutputs = json_array_size(m->group_by) ? 2 : 1};
    lineage_run_ids ids = {0};
    int rc = lineage_record_run(lg, &run, &ids, err);
    if (rc == 0)
        *exec_id = ids.execution_id;
    json_decref(eprops);
    json_decref(ecustom);
    json_decref(dprops);
    json_decref(mprops);
    json_decref(mcustom);
    json_decref(fprops);
    return rc;
}

int eval_save(store_t *st, lineage_t *lg, const eval_meta *m, const json_t *result, char *id_out,
              size_t id_len, int64_t *exec_id, strata_err *err)
{
    uint64_t num = 0;
    json_t *doc = NULL;
    char *text = NULL;
    buf k = BUF_INIT;
    *exec_id = 0;
    pthread_mutex_lock(&eval_mu);
    int rc = allocate(st, &num, err);
    pthread_mutex_unlock(&eval_mu);
    if (rc)
        return rc;
    snprintf(id_out, id_len, "ev-%llu", (unsigned long long)num);
    if (lg && (rc = record_lineage(lg, m, result, id_out, exec_id, err)))
        goto out;
    char now[TIME_RFC3339_MAX];
    time_format_rfc3339(time_now_us(), now, sizeof now);
    doc = json_deep_copy(result);
    STRATA_ASSERT(doc != NULL);
    json_t *source = m->model ? json_pack("{s:s,s:I}", "model", m->model, "version",
                                          (json_int_t)m->version)
                              : json_pack("{s:s}", "predictions",
                                          m->predictions ? m->predictions : "inline");
    json_object_set_new(doc, "id", json_string(id_out));
    json_object_set_new(doc, "created_time", json_string(now));
    json_object_set_new(doc, "source", source);
    json_object_set_new(doc, "label_column", json_string(m->label_column ? m->label_column : ""));
    json_object_set(doc, "group_by", (json_t *)m->group_by);
    json_object_set_new(doc, "intersections", json_boolean(m->intersections));
    json_object_set_new(doc, "reference_groups", m->reference_groups
                                                     ? json_deep_copy(m->reference_groups)
                                                     : json_object());
    json_object_set_new(doc, "positive_label",
                        m->positive_label ? json_string(m->positive_label) : json_null());
    json_object_set_new(doc, "execution_id", *exec_id ? json_integer(*exec_id) : json_null());
    json_object_set_new(doc, "job_id", m->job_id ? json_string(m->job_id) : json_null());
    json_object_set_new(doc, "rows_sha256",
                        m->dataset_sha256 ? json_string(m->dataset_sha256) : json_null());
    text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text) {
        rc = err_set(err, STRATA_NOMEM, "out of memory storing evaluation %s", id_out);
        goto out;
    }
    store_batch *b = store_batch_new();
    key_eval(&k, num);
    store_batch_put(b, STORE_SPACE_JOBS, buf_slice(&k), slice_of(text));
    if (m->model) {
        key_model(&k, m->model, num);
        store_batch_put(b, STORE_SPACE_JOBS, buf_slice(&k), (slice){"", 0});
    }
    rc = store_batch_commit(st, b, true, err);
    store_batch_free(b);
out:
    json_decref(doc);
    free(text);
    buf_free(&k);
    return rc;
}
