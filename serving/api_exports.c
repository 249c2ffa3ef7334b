/*
 * api_exports.c - POST /v1/exports:historical, /v1/exports:snapshot and
 * /v1/exports:history (ingest/export.h, docs/export.md).
 *
 * The handler parses and checks the request (export_plan_parse: registry,
 * path rules, the instances' header) and answers every 4xx it can find at
 * once. With a destination it submits a job → 202 {"job"}. Without one the
 * answer streams: the handler defers the head (http_stream_defer) and hands
 * the plan to a producer thread of its own, never an HTTP worker. The
 * producer reads and validates every instance row first; only then does it
 * send "200" and the rows, so a bad row is an ordinary 400 naming its line
 * and no client ever gets a truncated file with a 200. A failure after the
 * head (the store, the disk) cuts the chunked body, which HTTP clients
 * report as an incomplete answer.
 *
 * Producers are counted against export_streams; the daemon stops them
 * (api_export_streams_stop) right after the HTTP server, before anything they
 * read closes: a producer in its first passes polls the stopping flag, one
 * that is writing gets -1 from http_stream_write once its connection is gone.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "ingest/export.h"
#include "serving/app.h"

typedef struct slot {
    pthread_t th;
    bool used, done;
} slot;

struct export_streams {
    pthread_mutex_t mu;
    unsigned max, active;
    atomic_bool stopping;
    slot *slots;
};

typedef struct producer_arg {
    app *a;
    export_plan *plan;
    http_stream *s;
    size_t slot;
} producer_arg;

int api_export_streams_open(app *a, unsigned max, strata_err *err)
{
    struct export_streams *es = calloc(1, sizeof *es);
    if (!es)
        return err_set(err, STRATA_NOMEM, "out of memory");
    es->max = max ? max : LIMIT_DEFAULT_EXPORT_STREAMS;
    es->slots = calloc(es->max, sizeof *es->slots);
    if (!es->slots) {
        free(es);
        return err_set(err, STRATA_NOMEM, "out of memory");
    }
    pthread_mutex_init(&es->mu, NULL);
    a->export_streams = es;
    return 0;
}

void api_export_streams_stop(app *a)
{
    struct export_streams *es = a->export_streams;
    if (!es)
        return;
    atomic_store(&es->stopping, true);
    for (unsigned i = 0; i < es->max; i++) {
        pthread_mutex_lock(&es->mu);
        bool used = es->slots[i].used;
        pthread_t th = es->slots[i].th;
        pthread_mutex_unlock(&es->mu);
        if (used)
            pthread_join(th, NULL);
    }
    pthread_mutex_destroy(&es->mu);
    free(es->slots);
    free(es);
    a->export_streams = NULL;
}

/* A free slot (joining finished producers), or -1 when all are busy. */
static long take_slot(struct export_streams *es)
{
    long got = -1;
    pthread_mutex_lock(&es->mu);
    for (unsigned i = 0; i < es->max; i++) {
        slot *s = &es->slots[i];
        if (s->used && s->done) {
            pthread_join(s->th, NULL); /* it has returned: no wait */
            s->used = false;
            es->active--;
        }
        if (!s->used && got < 0) {
            got = (long)i;
            s->used = true;
            s->done = false;
            es->active++;
        }
    }
    pthread_mutex_unlock(&es->mu);
    return got;
}

/* ---- the producer ---------------------------------------------------------------------- */

static int sink_start(void *arg, export_format f)
{
    producer_arg *pa = arg;
    return http_stream_head(pa->s, 200, export_format_content_type(f));
}

static int sink_write(void *arg, const void *p, size_t n)
{
    producer_arg *pa = arg;
    return http_stream_write(pa->s, p, n);
}

static bool sink_cancelled(void *arg)
{
    producer_arg *pa = arg;
    return atomic_load(&pa->a->export_streams->stopping);
}

static void *producer_main(void *arg)
{
    producer_arg *pa = arg;
    pthread_setname_np(pthread_self(), "export-stream");
    app *a = pa->a;
    strata_err err = STRATA_ERR_INIT;
    bool started = false;
    export_sink sink = {sink_start, sink_write, sink_cancelled, pa};
    int rc = export_stream(a->exports, pa->plan, &sink, &started, &err);
    if (!started)
        http_stream_reply_error(pa->s, &err);
    else
        http_stream_end(pa->s, rc == 0);
    export_plan_free(pa->plan);
    err_clear(&err);
    struct export_streams *es = a->export_streams;
    pthread_mutex_lock(&es->mu);
    es->slots[pa->slot].done = true;
    pthread_mutex_unlock(&es->mu);
    free(pa);
    return NULL;
}

/* ---- handlers ----------------------------------------------------------------------------- */

static void reply_job(http_req *req, json_t *job)
{
    json_t *doc = json_pack("{s:o}", "job", job);
    char *s = json_dumps(doc, JSON_COMPACT);
    buf_append_str(&req->resp, s ? s : "{}");
    free(s);
    json_decref(doc);
    http_reply_json(req, 202);
}

static void handle(http_req *req, app *a, export_kind kind)
{
    strata_err err = STRATA_ERR_INIT;
    export_plan *plan = NULL;
    json_t *job = NULL;
    json_t *body = api_parse_object(req);
    if (!body)
        return;
    if (!a->exports || !a->export_streams) {
        http_reply_errorf(req, STRATA_UNAVAILABLE, "exports are not available");
        goto out;
    }
    if (export_plan_parse(a->exports, kind, body, &plan, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    if (export_plan_destination(plan)) {
        int rc = export_submit(a->exports, plan, app_principal(req), &job, &err);
        plan = NULL; /* taken over either way */
        if (rc)
            http_reply_error(req, &err);
        else
            reply_job(req, job);
        goto out;
    }
    struct export_streams *es = a->export_streams;
    long sl = atomic_load(&es->stopping) ? -1 : take_slot(es);
    if (sl < 0) {
        http_reply_errorf(req, STRATA_UNAVAILABLE,
                          "%u streamed exports are running already (export_streams); retry "
                          "later, or export to a file with \"destination\"",
                          es->max);
        goto out;
    }
    producer_arg *pa = calloc(1, sizeof *pa);
    STRATA_ASSERT(pa != NULL);
    pa->a = a;
    pa->plan = plan;
    pa->slot = (size_t)sl;
    pa->s = http_stream_defer(req);
    plan = NULL;
    pthread_mutex_lock(&es->mu);
    int prc = pthread_create(&es->slots[sl].th, NULL, producer_main, pa);
    if (prc != 0) {
        es->slots[sl].used = false;
        es->active--;
    }
    pthread_mutex_unlock(&es->mu);
    if (prc != 0) {
        strata_err e = STRATA_ERR_INIT;
        err_set(&e, STRATA_UNAVAILABLE, "cannot start the export's thread: %s", strerror(prc));
        http_stream_reply_error(pa->s, &e);
        export_plan_free(pa->plan);
        free(pa);
    }
out:
    export_plan_free(plan);
    json_decref(body);
    err_clear(&err);
}

void api_export_historical(http_req *req, void *ctx)
{
    handle(req, ctx, EXPORT_HISTORICAL);
}

void api_export_snapshot(http_req *req, void *ctx)
{
    handle(req, ctx, EXPORT_SNAPSHOT);
}

void api_export_history(http_req *req, void *ctx)
{
    handle(req, ctx, EXPORT_HISTORY);
}
