/*
 * app.c - assembling and taking apart the `app` every handler shares: the
 * store, lineage, audit log, job runner, imports, exports, training and the
 * scheduler, in dependency order, and the reverse on close.
 *
 * stratad.c calls these around its HTTP server; the fuzz targets
 * (tests/fuzz/) call them on a temporary directory so requests reach the same
 * handlers on the same kind of store.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "ingest/export.h"
#include "ingest/import.h"
#include "ingest/jobs.h"
#include "ingest/scheduler.h"
#include "lineage/audit.h"
#include "lineage/lineage.h"
#include "serving/app.h"
#include "trainer/train_job.h"

int app_open(const strata_config *cfg, const char *build_id, app *a, strata_err *err)
{
    int rc = 0;
    bool replica = cfg->secondary_of[0] != '\0';
    store_options so = {.path = cfg->data_dir,
                        .sync = cfg->sync,
                        .block_cache_bytes = cfg->block_cache_mb << 20,
                        .row_cache_bytes = cfg->row_cache_mb << 20,
                        .sync_interval_ms = cfg->sync_interval_ms,
                        .wal_recovery = cfg->wal_recovery,
                        .verify = cfg->start_check == CONFIG_CHECK_FULL,
                        .secondary_of = replica ? cfg->secondary_of : NULL,
                        .catch_up_ms = cfg->catch_up_ms};
    rc = store_open(&so, &a->store, err);
    if (rc)
        goto out;
    rc = lineage_open(a->store, build_id, &a->lineage, err);
    if (rc)
        goto out;
    rc = audit_open(a->store, &a->audit, err);
    if (rc)
        goto out;
    /* Jobs and imports: opening fails what a previous run left unfinished. */
    rc = job_runner_open(a->store, cfg->job_threads, &a->jobs, err);
    if (rc)
        goto out;
    import_options io = {.store = a->store,
                         .jobs = a->jobs,
                         .lineage = a->lineage,
                         .import_dir = cfg->import_dir,
                         .data_dir = cfg->data_dir,
                         .max_inline_bytes = cfg->limits.max_body_bytes,
                         .max_inline_rows = cfg->limits.max_inline_import_rows,
                         .atomic_max_values = cfg->import_atomic_max_values,
                         .load_min_bytes = (uint64_t)cfg->import_load_min_mb << 20};
    rc = import_ctx_open(&io, &a->imports, err);
    if (rc)
        goto out;
    /* Exports: destinations under --export-dir (default DATA/exports), spilled
     * sort runs under DATA/tmp. */
    char export_dir[4200], tmp_dir[4200];
    if (cfg->export_dir[0])
        snprintf(export_dir, sizeof export_dir, "%s", cfg->export_dir);
    else
        snprintf(export_dir, sizeof export_dir, "%s/exports", cfg->data_dir);
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp", cfg->data_dir);
    export_options eo = {.store = a->store,
                         .jobs = a->jobs,
                         .lineage = a->lineage,
                         .import_dir = cfg->import_dir,
                         .export_dir = export_dir,
                         .tmp_dir = tmp_dir,
                         .memory_bytes = cfg->export_memory_mb << 20,
                         .max_inline_bytes = cfg->limits.max_body_bytes};
    rc = export_ctx_open(&eo, &a->exports, err);
    if (rc)
        goto out;
    rc = api_export_streams_open(a, cfg->export_streams, err);
    if (rc)
        goto out;
    /* Training: jobs read through the export reader and record in lineage. */
    a->training = calloc(1, sizeof *a->training);
    if (!a->training) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    *a->training = (train_ctx){.store = a->store,
                               .lineage = a->lineage,
                               .exports = a->exports,
                               .jobs = a->jobs,
                               .max_inline_eval_rows = cfg->limits.max_inline_eval_rows};
    /* A replica runs no schedules (the router refuses their routes). */
    if (!replica) {
        rc = scheduler_open(a->store, a->jobs, a->imports, &a->scheduler, err);
        if (rc)
            goto out;
    }
    if (cfg->checkpoint_dir[0]) {
        /* realpath(3) with NULL allocates; app_close frees it. */
        char *real = NULL;
        if ((mkdir(cfg->checkpoint_dir, 0750) && errno != EEXIST) ||
            !(real = realpath(cfg->checkpoint_dir, NULL))) {
            rc = err_set(err, STRATA_IO, "cannot use checkpoint directory %s: %s",
                         cfg->checkpoint_dir, strerror(errno));
            goto out;
        }
        a->checkpoint_dir = real;
    }
    a->replica = replica;
    a->limits = cfg->limits;
    a->build_id = build_id;
    a->start_time = time_now_us();
    a->metrics = metrics_create(app_route_count());
    if (!a->metrics)
        rc = err_set(err, STRATA_NOMEM, "out of memory");
out:
    if (rc)
        app_close(a);
    return rc;
}

void app_observe(const http_req *req, uint64_t latency_ns, void *ctx)
{
    app *a = ctx;
    metrics_observe(a->metrics, req->route_id, req->status, latency_ns);
    /* The request log (--log-level debug): route, status, who, how long. */
    log_debug("%s %d %s %.3f ms", app_route_name(req->route_id), req->status,
              req->principal[0] ? req->principal : "-", (double)latency_ns / 1e6);
}

void app_close(app *a)
{
    /* Streamed exports: their connections are gone (the caller stopped the
     * HTTP server); stop and join the producers before anything they read
     * closes. */
    api_export_streams_stop(a);
    /* No new scheduled runs; then running jobs stop (and are recorded FAILED,
     * which the scheduler still hears about) before what they use closes. */
    scheduler_stop(a->scheduler);
    job_runner_close(a->jobs);
    scheduler_close(a->scheduler);
    import_ctx_close(a->imports);
    free(a->training); /* its jobs ended with the runner */
    export_ctx_close(a->exports);
    metrics_destroy(a->metrics);
    audit_close(a->audit);
    lineage_close(a->lineage);
    store_close(a->store);
    free((char *)a->checkpoint_dir);
    a->checkpoint_dir = NULL;
    a->store = NULL;
    a->lineage = NULL;
    a->audit = NULL;
    a->jobs = NULL;
    a->imports = NULL;
    a->scheduler = NULL;
    a->exports = NULL;
    a->training = NULL;
    a->metrics = NULL;
}
