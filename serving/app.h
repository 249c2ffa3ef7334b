/*
 * app.h - what every handler shares: the store, the running limits, metrics and
 * the route table. One `app` per daemon, built by stratad.c.
 *
 * Handlers are grouped by the contract's sections: api_registry.c (entities and
 * features), api_values.c (writes, deletes, online reads), api_ops.c (health,
 * readiness, metrics). Each is `void h(http_req *req, void *app)`.
 */
#ifndef STRATA_SERVING_APP_H
#define STRATA_SERVING_APP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "serving/auth/roles.h"
#include "serving/config.h"
#include "serving/http.h"
#include "serving/metrics.h"
#include "store/store.h"

struct lineage;    /* lineage/lineage.h */
struct audit_log;  /* lineage/audit.h */
struct job_runner; /* ingest/jobs.h */
struct import_ctx; /* ingest/import.h */
struct scheduler;  /* ingest/scheduler.h */
struct export_ctx; /* ingest/export.h */
struct export_streams; /* serving/api_exports.c: producer threads of streamed exports */
struct train_ctx;      /* trainer/train_job.h */
struct auth_gate;      /* auth/gate.h: bearer tokens; NULL or open without a token file */

typedef struct app {
    store_t *store;
    struct lineage *lineage;
    struct audit_log *audit;
    struct job_runner *jobs;
    struct import_ctx *imports;
    struct scheduler *scheduler;
    struct export_ctx *exports;
    struct export_streams *export_streams;
    struct train_ctx *training;
    struct auth_gate *auth;
    strata_limits limits;
    metrics *metrics;
    http_server *server;
    const char *build_id;
    int64_t start_time;
    atomic_bool ready;
    /* A read replica (--secondary-of): every mutating route and the schedule
     * routes answer FAILED_PRECONDITION; no job or schedule runs. */
    bool replica;
    /* Real path of --checkpoint-dir; NULL: admin checkpoints are refused. */
    const char *checkpoint_dir;
} app;

/*
 * Open everything an app holds on cfg->data_dir (which must exist), in
 * dependency order; on failure what was opened is closed again. The caller
 * sets a->server once its HTTP server is up and stops it before app_close.
 * build_id is borrowed for the app's life.
 */
int app_open(const strata_config *cfg, const char *build_id, app *a, strata_err *err);
/* Stop the export producers, the scheduler and the jobs, then close the rest
 * in reverse order. Safe on a partly opened app. */
void app_close(app *a);

/* The HTTP server's observer: per-route latency and status into a->metrics. */
void app_observe(const http_req *req, uint64_t latency_ns, void *ctx);

/* Runs after every handled request: appends state-changing requests that
 * succeeded to the audit log (api_audit.c). */
void app_after_request(http_req *req, void *ctx);
/* Who sent the request: the token's name, "anonymous" in open mode. The
 * string lives as long as req. */
const char *app_principal(const http_req *req);
/* Whether a route changes state (every method but GET/HEAD). */
bool app_route_mutates(int id);

/* The route table (router.c): resolves a request to a handler and checks its
 * bearer token and role (a 401/403 is answered by the router itself, with
 * route_id set when the path matched). Sets req->principal. */
http_handler app_route(http_req *req, void *ctx, int *status);
/* The permission route `id` declares (AUTH_PERM_UNDECLARED for a bad id). */
auth_perm app_route_perm(int id);
/* For a handler whose body asks for more than its route's permission: 0 when
 * the request's token (already authenticated by the router) holds `p`, else
 * a 403 PERMISSION_DENIED is answered naming `what` and the roles that may,
 * and -1 is returned. */
int app_require(app *a, http_req *req, auth_perm p, const char *what);
/* Every route as "METHOD PATTERN PERMISSION ROLES" lines (stratad --routes). */
void app_route_print(FILE *out);
/* Route names for metrics, e.g. "GET /v1/entities/{}"; count and name by id. */
size_t app_route_count(void);
const char *app_route_name(int id);

/* ---- shared request helpers (api_common.c) ----------------------------- */

/* Parse the body as a JSON object; NULL with a 400 error already set on req. */
json_t *api_parse_object(http_req *req);
/* Answer status with doc as compact JSON (jsonw_value: shortest round-trip
 * doubles) and drop the caller's reference to doc (NULL answers "{}"). */
void api_reply_doc(http_req *req, int status, json_t *doc);
/* Optional typed members: 0 ok (absent leaves *out untouched), or sets a 400
 * naming the field and returns -1. */
int api_get_string(http_req *req, json_t *obj, const char *key, slice *out);
int api_get_int(http_req *req, json_t *obj, const char *key, int64_t *out);
int api_get_bool(http_req *req, json_t *obj, const char *key, bool *out);
int api_get_time(http_req *req, json_t *obj, const char *key, int64_t *out);
/* Reject members not in the NULL-terminated allowed list (typos are errors). */
int api_check_fields(http_req *req, json_t *obj, const char *const *allowed);
/* page_size query parameter: default 100, 1..1000, else 400. */
int api_page_size(http_req *req, size_t *out);

/* Opaque list tokens bound to a scope (route + other query parameters). */
void api_page_token_make(const char *scope, slice last_key, buf *out);
/* 0 with *present and last_key set; -1 with a 400 set for a token from another
 * scope or a malformed one. */
int api_page_token_parse(http_req *req, const char *scope, buf *last_key, bool *present);

/* Handlers. */
void api_healthz(http_req *req, void *ctx);
void api_readyz(http_req *req, void *ctx);
void api_metrics(http_req *req, void *ctx);
/* POST /v1/admin:checkpoint and the replica's refusal (api_ops.c). */
void api_admin_checkpoint(http_req *req, void *ctx);
void api_replica_refuse(http_req *req, void *ctx);

void api_entity_create(http_req *req, void *ctx);
void api_entity_list(http_req *req, void *ctx);
void api_entity_get(http_req *req, void *ctx);
void api_entity_delete(http_req *req, void *ctx);
void api_feature_create(http_req *req, void *ctx);
void api_feature_list(http_req *req, void *ctx);
void api_feature_get(http_req *req, void *ctx);
void api_feature_patch(http_req *req, void *ctx);
void api_feature_delete(http_req *req, void *ctx);
void api_feature_search(http_req *req, void *ctx);

void api_write(http_req *req, void *ctx);
void api_delete_values(http_req *req, void *ctx);
void api_online_get(http_req *req, void *ctx);
void api_online_read(http_req *req, void *ctx);

void api_audit_list(http_req *req, void *ctx);
void api_audit_verify(http_req *req, void *ctx);

/* Jobs and imports (api_jobs.c, api_imports.c). */
void api_job_list(http_req *req, void *ctx);
void api_job_get(http_req *req, void *ctx);
void api_job_cancel(http_req *req, void *ctx);
void api_import_create(http_req *req, void *ctx);

/* Schedules (api_schedules.c). */
void api_schedule_create(http_req *req, void *ctx);
void api_schedule_list(http_req *req, void *ctx);
void api_schedule_get(http_req *req, void *ctx);
void api_schedule_patch(http_req *req, void *ctx);
void api_schedule_delete(http_req *req, void *ctx);
void api_schedule_run(http_req *req, void *ctx);
void api_schedule_runs(http_req *req, void *ctx);

/* Exports (api_exports.c). Streamed exports run on producer threads of
 * their own, at most `max` at once (0: LIMIT_DEFAULT_EXPORT_STREAMS); stop
 * asks them to end and joins them (call it right after http_server_stop). */
int api_export_streams_open(app *a, unsigned max, strata_err *err);
void api_export_streams_stop(app *a);
void api_export_historical(http_req *req, void *ctx);
void api_export_snapshot(http_req *req, void *ctx);
void api_export_history(http_req *req, void *ctx);

/* Training and models (api_models.c). */
void api_training_create(http_req *req, void *ctx);
void api_model_list(http_req *req, void *ctx);
void api_model_get(http_req *req, void *ctx);
void api_model_alias_put(http_req *req, void *ctx);
void api_model_version_get(http_req *req, void *ctx);
void api_model_predict(http_req *req, void *ctx);
void api_prediction_batch(http_req *req, void *ctx);

/* Evaluation and fairness (api_evaluations.c). */
void api_evaluation_create(http_req *req, void *ctx);
void api_evaluation_list(http_req *req, void *ctx);
void api_evaluation_get(http_req *req, void *ctx);
void api_evaluation_report(http_req *req, void *ctx);

/* Lineage handlers (serving/api_lineage.c) are declared in serving/api_lineage.h. */

#endif
