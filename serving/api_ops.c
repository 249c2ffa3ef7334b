/*
 * api_ops.c - /healthz, /readyz, /metrics, and the operator's routes:
 * POST /v1/admin:checkpoint and a read replica's refusal of changes.
 *
 * Checkpoints are written only directly under --checkpoint-dir, under a name
 * the client picks from a small alphabet: a client can never make the daemon
 * write anywhere else on disk (no '/', no leading '.', so no "..").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/procmem.h"
#include "base/timeutil.h"
#include "ingest/jobs.h"
#include "serving/app.h"
#include "serving/auth/gate.h"

/* Longest checkpoint name: ample for a date and a label. */
#define CHECKPOINT_NAME_MAX 128

void api_healthz(http_req *req, void *ctx)
{
    (void)ctx;
    buf_append_str(&req->resp, "{\"status\":\"ok\"}");
    http_reply_json(req, 200);
}

void api_readyz(http_req *req, void *ctx)
{
    app *a = ctx;
    if (!atomic_load(&a->ready)) {
        http_reply_errorf(req, STRATA_UNAVAILABLE, "starting up");
        return;
    }
    buf_append_str(&req->resp, "{\"status\":\"ready\"}");
    http_reply_json(req, 200);
}

void api_metrics(http_req *req, void *ctx)
{
    app *a = ctx;
    buf *o = &req->resp;
    store_stats st;
    store_get_stats(a->store, &st);
    buf_printf(o,
               "# HELP strata_build_info Build of the running daemon.\n"
               "# TYPE strata_build_info gauge\n"
               "strata_build_info{build_id=\"%s\"} 1\n"
               "# HELP strata_uptime_seconds Seconds since the daemon started.\n"
               "# TYPE strata_uptime_seconds gauge\n"
               "strata_uptime_seconds %.3f\n"
               "# HELP strata_values_written_total Feature values written since start.\n"
               "# TYPE strata_values_written_total counter\n"
               "strata_values_written_total %llu\n"
               "# HELP strata_store_loaded_files_total Table files imports loaded (ingested) "
               "since start.\n"
               "# TYPE strata_store_loaded_files_total counter\n"
               "strata_store_loaded_files_total %llu\n"
               "# HELP strata_store_bytes Size of the store by component.\n"
               "# TYPE strata_store_bytes gauge\n"
               "strata_store_bytes{component=\"sst\"} %llu\n"
               "strata_store_bytes{component=\"memtable\"} %llu\n"
               "# HELP strata_wal_syncs_total Background WAL fsyncs (sync = batch).\n"
               "# TYPE strata_wal_syncs_total counter\n"
               "strata_wal_syncs_total %llu\n"
               "# HELP strata_wal_sync_seconds_total Time spent in background WAL fsyncs.\n"
               "# TYPE strata_wal_sync_seconds_total counter\n"
               "strata_wal_sync_seconds_total %.6f\n"
               "# HELP strata_wal_sync_seconds_max The longest background WAL fsync since start.\n"
               "# TYPE strata_wal_sync_seconds_max gauge\n"
               "strata_wal_sync_seconds_max %.6f\n"
               "# HELP strata_open_connections Client connections open now.\n"
               "# TYPE strata_open_connections gauge\n"
               "strata_open_connections %llu\n"
               "# HELP strata_rocksdb_l0_files Level-0 table files: all column families, and the "
               "most in one (RocksDB slows writes at 20, stops them at 36).\n"
               "# TYPE strata_rocksdb_l0_files gauge\n"
               "strata_rocksdb_l0_files{scope=\"all\"} %llu\n"
               "strata_rocksdb_l0_files{scope=\"max_cf\"} %llu\n"
               "# HELP strata_rocksdb_immutable_memtables Full memtables waiting for a flush.\n"
               "# TYPE strata_rocksdb_immutable_memtables gauge\n"
               "strata_rocksdb_immutable_memtables %llu\n"
               "# HELP strata_rocksdb_pending_compaction_bytes RocksDB's estimate of the bytes "
               "compaction is behind.\n"
               "# TYPE strata_rocksdb_pending_compaction_bytes gauge\n"
               "strata_rocksdb_pending_compaction_bytes %llu\n"
               "# HELP strata_rocksdb_running Background flushes and compactions running now.\n"
               "# TYPE strata_rocksdb_running gauge\n"
               "strata_rocksdb_running{job=\"flush\"} %llu\n"
               "strata_rocksdb_running{job=\"compaction\"} %llu\n"
               "# HELP strata_rocksdb_write_stopped 1 while RocksDB stops writes until flushes "
               "or compactions catch up.\n"
               "# TYPE strata_rocksdb_write_stopped gauge\n"
               "strata_rocksdb_write_stopped %llu\n"
               "# HELP strata_rocksdb_delayed_write_rate_bytes The rate RocksDB slows writes "
               "to, in bytes/s; 0 when writes are not slowed.\n"
               "# TYPE strata_rocksdb_delayed_write_rate_bytes gauge\n"
               "strata_rocksdb_delayed_write_rate_bytes %llu\n",
               a->build_id, (double)(time_now_us() - a->start_time) / 1e6,
               (unsigned long long)st.values_written, (unsigned long long)st.loaded_files,
               (unsigned long long)st.sst_bytes, (unsigned long long)st.memtable_bytes,
               (unsigned long long)st.wal_syncs, (double)st.wal_sync_us / 1e6,
               (double)st.wal_sync_max_us / 1e6,
               (unsigned long long)(a->server ? http_server_connections(a->server) : 0),
               (unsigned long long)st.l0_files, (unsigned long long)st.l0_files_max,
               (unsigned long long)st.immutable_memtables,
               (unsigned long long)st.pending_compaction_bytes,
               (unsigned long long)st.running_flushes, (unsigned long long)st.running_compactions,
               (unsigned long long)st.write_stopped, (unsigned long long)st.delayed_write_rate);
    procmem pm;
    procmem_read(&pm);
    buf_printf(o,
               "# HELP strata_rocksdb_memory_bytes RocksDB's memory outside the memtables "
               "(strata_store_bytes{component=\"memtable\"}): the block cache's contents, the "
               "part of them pinned by readers, table readers kept outside the cache, and the row "
               "cache's contents.\n"
               "# TYPE strata_rocksdb_memory_bytes gauge\n"
               "strata_rocksdb_memory_bytes{component=\"block_cache\"} %llu\n"
               "strata_rocksdb_memory_bytes{component=\"block_cache_pinned\"} %llu\n"
               "strata_rocksdb_memory_bytes{component=\"table_readers\"} %llu\n"
               "strata_rocksdb_memory_bytes{component=\"row_cache\"} %llu\n"
               "# HELP strata_rocksdb_block_cache_capacity_bytes The block cache's size limit "
               "(--block-cache-mb).\n"
               "# TYPE strata_rocksdb_block_cache_capacity_bytes gauge\n"
               "strata_rocksdb_block_cache_capacity_bytes %llu\n"
               "# HELP strata_rocksdb_row_cache_capacity_bytes The row cache's size limit "
               "(--row-cache-mb; 0: no row cache).\n"
               "# TYPE strata_rocksdb_row_cache_capacity_bytes gauge\n"
               "strata_rocksdb_row_cache_capacity_bytes %llu\n"
               "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
               "# TYPE process_resident_memory_bytes gauge\n"
               "process_resident_memory_bytes %llu\n",
               (unsigned long long)st.block_cache_bytes,
               (unsigned long long)st.block_cache_pinned_bytes,
               (unsigned long long)st.table_readers_bytes, (unsigned long long)st.row_cache_bytes,
               (unsigned long long)st.block_cache_capacity,
               (unsigned long long)st.row_cache_capacity, (unsigned long long)pm.rss_bytes);
    if (pm.have_heap)
        buf_printf(o,
                   "# HELP strata_heap_bytes The C allocator's heap: allocated and not freed "
                   "(in_use, large blocks mmapped included), freed but kept in its arenas "
                   "(free), and the mmapped part of in_use.\n"
                   "# TYPE strata_heap_bytes gauge\n"
                   "strata_heap_bytes{state=\"in_use\"} %llu\n"
                   "strata_heap_bytes{state=\"free\"} %llu\n"
                   "strata_heap_bytes{state=\"mmapped\"} %llu\n",
                   (unsigned long long)pm.heap_in_use_bytes, (unsigned long long)pm.heap_free_bytes,
                   (unsigned long long)pm.heap_mmapped_bytes);
    if (a->jobs) {
        uint64_t jobs[JOB_NSTATES];
        job_counts(a->jobs, jobs);
        buf_append_str(o, "# HELP strata_jobs Jobs (imports, exports, training) by state.\n"
                          "# TYPE strata_jobs gauge\n");
        for (int s = 0; s < JOB_NSTATES; s++)
            buf_printf(o, "strata_jobs{state=\"%s\"} %llu\n", job_state_name((job_state)s),
                       (unsigned long long)jobs[s]);
    }
    if (auth_gate_enforcing(a->auth)) {
        auth_counts ac;
        auth_gate_counts(a->auth, &ac);
        buf_printf(o,
                   "# HELP strata_auth_failures_total Requests refused by the token check: "
                   "missing (no bearer token), invalid (unknown or revoked token), forbidden "
                   "(the role may not).\n"
                   "# TYPE strata_auth_failures_total counter\n"
                   "strata_auth_failures_total{reason=\"missing\"} %llu\n"
                   "strata_auth_failures_total{reason=\"invalid\"} %llu\n"
                   "strata_auth_failures_total{reason=\"forbidden\"} %llu\n"
                   "# HELP strata_auth_tokens Tokens in force.\n"
                   "# TYPE strata_auth_tokens gauge\n"
                   "strata_auth_tokens %llu\n"
                   "# HELP strata_auth_reloads_total Token file reloads, by outcome.\n"
                   "# TYPE strata_auth_reloads_total counter\n"
                   "strata_auth_reloads_total{outcome=\"ok\"} %llu\n"
                   "strata_auth_reloads_total{outcome=\"failed\"} %llu\n",
                   (unsigned long long)ac.missing, (unsigned long long)ac.invalid,
                   (unsigned long long)ac.forbidden, (unsigned long long)ac.tokens,
                   (unsigned long long)ac.reloads, (unsigned long long)ac.reload_failures);
    }
    metrics_render(a->metrics, o, app_route_name);
    req->status = 200;
    req->resp_type = "text/plain; version=0.0.4";
}

void api_replica_refuse(http_req *req, void *ctx)
{
    (void)ctx;
    http_reply_errorf(req, STRATA_FAILED_PRECONDITION,
                      "read-only replica: %s is served by the primary only",
                      app_route_name(req->route_id));
}

static bool checkpoint_name_ok(slice s)
{
    if (s.n == 0 || s.n > CHECKPOINT_NAME_MAX || s.p[0] == '.')
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

void api_admin_checkpoint(http_req *req, void *ctx)
{
    static const char *const fields[] = {"path", NULL};
    app *a = ctx;
    strata_err err = STRATA_ERR_INIT;
    slice name = {NULL, 0};
    json_t *body = NULL;
    char dir[4096 + CHECKPOINT_NAME_MAX + 2];
    if (!a->checkpoint_dir) {
        http_reply_errorf(req, STRATA_FAILED_PRECONDITION,
                          "checkpoints are disabled: start stratad with --checkpoint-dir DIR");
        goto out;
    }
    if (!(body = api_parse_object(req)))
        goto out;
    if (api_check_fields(req, body, fields) || api_get_string(req, body, "path", &name))
        goto out;
    if (!checkpoint_name_ok(name)) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "field \"path\" must be a name of 1..%d letters, digits, '.', '_' or "
                          "'-' (not starting with '.'); the checkpoint is made under the "
                          "checkpoint directory",
                          CHECKPOINT_NAME_MAX);
        goto out;
    }
    snprintf(dir, sizeof dir, "%s/%.*s", a->checkpoint_dir, (int)name.n, name.p);
    if (access(dir, F_OK) == 0) {
        http_reply_errorf(req, STRATA_ALREADY_EXISTS, "checkpoint \"%.*s\" already exists",
                          (int)name.n, name.p);
        goto out;
    }
    int64_t t0 = time_now_us();
    if (store_checkpoint(a->store, dir, &err)) {
        http_reply_error(req, &err);
        goto out;
    }
    json_t *doc = json_pack("{s:s,s:s%,s:f}", "path", dir, "name", name.p, name.n,
                            "seconds", (double)(time_now_us() - t0) / 1e6);
    char *text = json_dumps(doc, JSON_COMPACT);
    buf_append_str(&req->resp, text);
    free(text);
    json_decref(doc);
    http_reply_json(req, 201);
out:
    json_decref(body);
    err_clear(&err);
}
