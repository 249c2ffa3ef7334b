/*
 * router.c - the route table.
 *
 * A pattern is a '/'-separated path whose segments are literals ("entities",
 * "online:read"), "{}" (any non-empty segment, captured and percent-decoded) or
 * "{}:verb" (a segment ending in ":verb", the part before it captured). Routes
 * are tried in order; the first whose path and method match wins, and a path
 * that matches only under other methods answers 405. Verb routes come before
 * plain "{}" ones so "customer:write" is never read as an entity name.
 */
#include <string.h>

#include "serving/api_lineage.h"
#include "serving/app.h"

typedef struct route {
    http_method method;
    const char *pattern;
    http_handler handler;
    const char *name;
} route;

#define R(m, p, h) {HTTP_M_##m, p, h, #m " " p}
static const route routes[] = {
    R(GET, "/healthz", api_healthz),
    R(GET, "/readyz", api_readyz),
    R(GET, "/metrics", api_metrics),
    R(POST, "/v1/admin:checkpoint", api_admin_checkpoint),

    R(POST, "/v1/entities/{}:write", api_write),
    R(POST, "/v1/entities/{}:delete", api_delete_values),
    R(POST, "/v1/online:read", api_online_read),
    R(GET, "/v1/features:search", api_feature_search),

    R(POST, "/v1/entities", api_entity_create),
    R(GET, "/v1/entities", api_entity_list),
    R(GET, "/v1/entities/{}", api_entity_get),
    R(DELETE, "/v1/entities/{}", api_entity_delete),
    R(POST, "/v1/entities/{}/features", api_feature_create),
    R(GET, "/v1/entities/{}/features", api_feature_list),
    R(GET, "/v1/entities/{}/features/{}", api_feature_get),
    R(PATCH, "/v1/entities/{}/features/{}", api_feature_patch),
    R(DELETE, "/v1/entities/{}/features/{}", api_feature_delete),
    R(GET, "/v1/entities/{}/values/{}", api_online_get),

    /* Jobs and imports (serving/api_jobs.c, api_imports.c). */
    R(POST, "/v1/imports", api_import_create),
    R(POST, "/v1/jobs/{}:cancel", api_job_cancel),
    R(GET, "/v1/jobs", api_job_list),
    R(GET, "/v1/jobs/{}", api_job_get),

    /* Exports (serving/api_exports.c). */
    R(POST, "/v1/exports:historical", api_export_historical),
    R(POST, "/v1/exports:snapshot", api_export_snapshot),
    R(POST, "/v1/exports:history", api_export_history),

    /* Training and models (serving/api_models.c); the provenance route is below. */
    R(POST, "/v1/trainings", api_training_create),
    R(POST, "/v1/predictions:batch", api_prediction_batch),
    R(POST, "/v1/models/{}:predict", api_model_predict),
    R(GET, "/v1/models", api_model_list),
    R(GET, "/v1/models/{}", api_model_get),
    R(GET, "/v1/models/{}/versions/{}", api_model_version_get),
    R(PUT, "/v1/models/{}/aliases/{}", api_model_alias_put),

    /* Schedules (serving/api_schedules.c). */
    R(POST, "/v1/schedules/{}:run", api_schedule_run),
    R(POST, "/v1/schedules", api_schedule_create),
    R(GET, "/v1/schedules", api_schedule_list),
    R(GET, "/v1/schedules/{}", api_schedule_get),
    R(PATCH, "/v1/schedules/{}", api_schedule_patch),
    R(DELETE, "/v1/schedules/{}", api_schedule_delete),
    R(GET, "/v1/schedules/{}/runs", api_schedule_runs),

    /* Audit log (lineage/audit.c). */
    R(GET, "/v1/audit:verify", api_audit_verify),
    R(GET, "/v1/audit", api_audit_list),

    /* Lineage and ML metadata (serving/api_lineage.c): keep verb routes first. */
    R(POST, "/v1/artifact-types", api_artifact_type_put),
    R(GET, "/v1/artifact-types", api_artifact_type_list),
    R(GET, "/v1/artifact-types/{}", api_artifact_type_get),
    R(POST, "/v1/execution-types", api_execution_type_put),
    R(GET, "/v1/execution-types", api_execution_type_list),
    R(GET, "/v1/execution-types/{}", api_execution_type_get),
    R(POST, "/v1/context-types", api_context_type_put),
    R(GET, "/v1/context-types", api_context_type_list),
    R(GET, "/v1/context-types/{}", api_context_type_get),
    R(POST, "/v1/artifacts", api_artifact_create),
    R(GET, "/v1/artifacts", api_artifact_list),
    R(GET, "/v1/artifacts/{}", api_artifact_get),
    R(PATCH, "/v1/artifacts/{}", api_artifact_patch),
    R(GET, "/v1/artifacts/{}/history", api_artifact_history),
    R(GET, "/v1/artifacts/{}/events", api_artifact_events),
    R(GET, "/v1/artifacts/{}/contexts", api_artifact_contexts),
    R(POST, "/v1/executions", api_execution_create),
    R(GET, "/v1/executions", api_execution_list),
    R(GET, "/v1/executions/{}", api_execution_get),
    R(PATCH, "/v1/executions/{}", api_execution_patch),
    R(GET, "/v1/executions/{}/history", api_execution_history),
    R(GET, "/v1/executions/{}/events", api_execution_events),
    R(GET, "/v1/executions/{}/contexts", api_execution_contexts),
    R(POST, "/v1/contexts", api_context_create),
    R(GET, "/v1/contexts", api_context_list),
    R(GET, "/v1/contexts/{}", api_context_get),
    R(PATCH, "/v1/contexts/{}", api_context_patch),
    R(GET, "/v1/contexts/{}/history", api_context_history),
    R(POST, "/v1/contexts/{}/artifacts", api_context_artifact_add),
    R(GET, "/v1/contexts/{}/artifacts", api_context_artifacts),
    R(POST, "/v1/contexts/{}/executions", api_context_execution_add),
    R(GET, "/v1/contexts/{}/executions", api_context_executions),
    R(POST, "/v1/contexts/{}/parents", api_context_parent_add),
    R(GET, "/v1/contexts/{}/parents", api_context_parents),
    R(GET, "/v1/contexts/{}/children", api_context_children),
    R(POST, "/v1/events", api_event_create),
    R(GET, "/v1/lineage", api_lineage_graph),
    R(GET, "/v1/models/{}/provenance", api_model_provenance),
};
#undef R

#define NROUTES (sizeof routes / sizeof routes[0])

size_t app_route_count(void)
{
    return NROUTES;
}

/* POST routes that only read: never audited (the contract audits changes). */
static const http_handler read_only_posts[] = {api_online_read, api_model_predict};

bool app_route_mutates(int id)
{
    if (id < 0 || (size_t)id >= NROUTES || routes[id].method == HTTP_M_GET)
        return false;
    for (size_t i = 0; i < sizeof read_only_posts / sizeof read_only_posts[0]; i++)
        if (routes[id].handler == read_only_posts[i])
            return false;
    return true;
}

const char *app_route_name(int id)
{
    return id >= 0 && (size_t)id < NROUTES ? routes[id].name : "unmatched";
}

/* Match one segment; on a capture store its raw text in *cap. */
static int match_segment(const char *pat, size_t pn, slice seg, slice *cap, int *captured)
{
    *captured = 0;
    if (pn >= 2 && pat[0] == '{' && pat[1] == '}') {
        const char *verb = pat + 2;
        size_t vn = pn - 2;
        if (seg.n <= vn)
            return 0;
        if (vn && memcmp(seg.p + seg.n - vn, verb, vn) != 0)
            return 0;
        *cap = (slice){seg.p, seg.n - vn};
        *captured = 1;
        return 1;
    }
    return seg.n == pn && memcmp(seg.p, pat, pn) == 0;
}

static int match_route(const route *r, slice path, slice *caps, size_t *ncaps)
{
    const char *pp = r->pattern;
    const char *sp = path.p, *send = path.p + path.n;
    *ncaps = 0;
    /* Both start with '/'. */
    if (path.n == 0 || *sp != '/')
        return 0;
    pp++;
    sp++;
    for (;;) {
        const char *pe = strchr(pp, '/');
        size_t pn = pe ? (size_t)(pe - pp) : strlen(pp);
        const char *se = memchr(sp, '/', (size_t)(send - sp));
        slice seg = {sp, se ? (size_t)(se - sp) : (size_t)(send - sp)};
        int captured;
        slice cap;
        if (!match_segment(pp, pn, seg, &cap, &captured))
            return 0;
        if (captured) {
            if (*ncaps == HTTP_MAX_PARAMS)
                return 0;
            caps[(*ncaps)++] = cap;
        }
        if (!pe || !se)
            return !pe && !se;
        pp = pe + 1;
        sp = se + 1;
    }
}

/* Handlers a replica does not serve although they only read: the scheduler's
 * state lives in the primary's memory, not in what a replica can see. */
static bool replica_refuses(int id)
{
    static const http_handler schedules[] = {api_schedule_list, api_schedule_get,
                                             api_schedule_runs};
    if (app_route_mutates(id))
        return true;
    for (size_t i = 0; i < sizeof schedules / sizeof schedules[0]; i++)
        if (routes[id].handler == schedules[i])
            return true;
    return false;
}

http_handler app_route(http_req *req, void *ctx, int *status)
{
    const app *a = ctx;
    int path_matched = 0;
    slice caps[HTTP_MAX_PARAMS];
    size_t ncaps;
    http_method m = req->method == HTTP_M_HEAD ? HTTP_M_GET : req->method;
    for (size_t i = 0; i < NROUTES; i++) {
        if (!match_route(&routes[i], req->path, caps, &ncaps))
            continue;
        if (routes[i].method != m) {
            path_matched = 1;
            continue;
        }
        for (size_t k = 0; k < ncaps; k++) {
            if (http_percent_decode(caps[k], &req->scratch[k])) {
                *status = 400;
                return NULL;
            }
            req->params[k] = buf_slice(&req->scratch[k]);
        }
        req->nparams = ncaps;
        req->route_id = (int)i;
        if (a && a->replica && replica_refuses((int)i))
            return api_replica_refuse;
        return routes[i].handler;
    }
    *status = path_matched ? 405 : 404;
    return NULL;
}
