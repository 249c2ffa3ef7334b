/*
 * router.c - the route table.
 *
 * A pattern is a '/'-separated path whose segments are literals ("entities",
 * "online:read"), "{}" (any non-empty segment, captured and percent-decoded) or
 * "{}:verb" (a segment ending in ":verb", the part before it captured). Routes
 * are tried in order; the first whose path and method match wins, and a path
 * that matches only under other methods answers 405. Verb routes come before
 * plain "{}" ones so "customer:write" is never read as an entity name.
 *
 * Every route declares the permission it needs (auth/roles.h); the last
 * argument of R is an AUTH_PERM_ name without its prefix. Resolving a route
 * also authenticates: with a token file, every request but an OPEN route
 * (/healthz) must carry a valid bearer token (else 401, also for paths that
 * match no route), and the token's role must hold the route's permission
 * (else 403). tests/unit/test_auth.c checks every route against the
 * contract's role table.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "serving/auth/gate.h"
#include "serving/api_lineage.h"
#include "serving/app.h"

typedef struct route {
    http_method method;
    const char *pattern;
    http_handler handler;
    const char *name;
    auth_perm perm;
} route;

#define R(m, p, h, perm) {HTTP_M_##m, p, h, #m " " p, AUTH_PERM_##perm}
static const route routes[] = {
    R(GET, "/healthz", api_healthz, OPEN),
    R(GET, "/readyz", api_readyz, OPS),
    R(GET, "/metrics", api_metrics, OPS),
    R(POST, "/v1/admin:checkpoint", api_admin_checkpoint, ADMIN),

    R(POST, "/v1/entities/{}:write", api_write, VALUES_WRITE),
    R(POST, "/v1/entities/{}:delete", api_delete_values, VALUES_WRITE),
    R(POST, "/v1/online:read", api_online_read, ONLINE_READ),
    R(GET, "/v1/features:search", api_feature_search, REGISTRY_READ),

    R(POST, "/v1/entities", api_entity_create, REGISTRY_WRITE),
    R(GET, "/v1/entities", api_entity_list, REGISTRY_READ),
    R(GET, "/v1/entities/{}", api_entity_get, REGISTRY_READ),
    R(DELETE, "/v1/entities/{}", api_entity_delete, REGISTRY_WRITE),
    R(POST, "/v1/entities/{}/features", api_feature_create, REGISTRY_WRITE),
    R(GET, "/v1/entities/{}/features", api_feature_list, REGISTRY_READ),
    R(GET, "/v1/entities/{}/features/{}", api_feature_get, REGISTRY_READ),
    R(PATCH, "/v1/entities/{}/features/{}", api_feature_patch, REGISTRY_WRITE),
    R(DELETE, "/v1/entities/{}/features/{}", api_feature_delete, REGISTRY_WRITE),
    R(GET, "/v1/entities/{}/values/{}", api_online_get, ONLINE_READ),

    /* Jobs and imports (serving/api_jobs.c, api_imports.c). */
    R(POST, "/v1/imports", api_import_create, IMPORT),
    R(POST, "/v1/jobs/{}:cancel", api_job_cancel, JOB_CANCEL),
    R(GET, "/v1/jobs", api_job_list, JOB_READ),
    R(GET, "/v1/jobs/{}", api_job_get, JOB_READ),

    /* Exports (serving/api_exports.c). */
    R(POST, "/v1/exports:historical", api_export_historical, EXPORT),
    R(POST, "/v1/exports:snapshot", api_export_snapshot, EXPORT),
    R(POST, "/v1/exports:history", api_export_history, EXPORT),

    /* Training and models (serving/api_models.c); the provenance route is below. */
    R(POST, "/v1/trainings", api_training_create, TRAIN),
    R(POST, "/v1/predictions:batch", api_prediction_batch, TRAIN),
    R(POST, "/v1/models/{}:predict", api_model_predict, PREDICT),
    R(GET, "/v1/models", api_model_list, REGISTRY_READ),
    R(GET, "/v1/models/{}", api_model_get, REGISTRY_READ),
    R(GET, "/v1/models/{}/versions/{}", api_model_version_get, REGISTRY_READ),
    R(PUT, "/v1/models/{}/aliases/{}", api_model_alias_put, REGISTRY_WRITE),

    /* Evaluation and fairness (serving/api_evaluations.c). */
    R(POST, "/v1/evaluations", api_evaluation_create, EVALUATION_RUN),
    R(GET, "/v1/evaluations", api_evaluation_list, EVALUATION_READ),
    R(GET, "/v1/evaluations/{}", api_evaluation_get, EVALUATION_READ),
    R(GET, "/v1/evaluations/{}/report.html", api_evaluation_report, EVALUATION_READ),

    /* Schedules (serving/api_schedules.c). */
    R(POST, "/v1/schedules/{}:run", api_schedule_run, SCHEDULE),
    R(POST, "/v1/schedules", api_schedule_create, SCHEDULE),
    R(GET, "/v1/schedules", api_schedule_list, SCHEDULE),
    R(GET, "/v1/schedules/{}", api_schedule_get, SCHEDULE),
    R(PATCH, "/v1/schedules/{}", api_schedule_patch, SCHEDULE),
    R(DELETE, "/v1/schedules/{}", api_schedule_delete, SCHEDULE),
    R(GET, "/v1/schedules/{}/runs", api_schedule_runs, SCHEDULE),

    /* Audit log (lineage/audit.c). */
    R(GET, "/v1/audit:verify", api_audit_verify, AUDIT),
    R(GET, "/v1/audit", api_audit_list, AUDIT),

    /* Lineage and ML metadata (serving/api_lineage.c): keep verb routes first. */
    R(POST, "/v1/artifact-types", api_artifact_type_put, LINEAGE_WRITE),
    R(GET, "/v1/artifact-types", api_artifact_type_list, LINEAGE_READ),
    R(GET, "/v1/artifact-types/{}", api_artifact_type_get, LINEAGE_READ),
    R(POST, "/v1/execution-types", api_execution_type_put, LINEAGE_WRITE),
    R(GET, "/v1/execution-types", api_execution_type_list, LINEAGE_READ),
    R(GET, "/v1/execution-types/{}", api_execution_type_get, LINEAGE_READ),
    R(POST, "/v1/context-types", api_context_type_put, LINEAGE_WRITE),
    R(GET, "/v1/context-types", api_context_type_list, LINEAGE_READ),
    R(GET, "/v1/context-types/{}", api_context_type_get, LINEAGE_READ),
    R(POST, "/v1/artifacts", api_artifact_create, LINEAGE_WRITE),
    R(GET, "/v1/artifacts", api_artifact_list, LINEAGE_READ),
    R(GET, "/v1/artifacts/{}", api_artifact_get, LINEAGE_READ),
    R(PATCH, "/v1/artifacts/{}", api_artifact_patch, LINEAGE_WRITE),
    R(GET, "/v1/artifacts/{}/history", api_artifact_history, LINEAGE_READ),
    R(GET, "/v1/artifacts/{}/events", api_artifact_events, LINEAGE_READ),
    R(GET, "/v1/artifacts/{}/contexts", api_artifact_contexts, LINEAGE_READ),
    R(POST, "/v1/executions", api_execution_create, LINEAGE_WRITE),
    R(GET, "/v1/executions", api_execution_list, LINEAGE_READ),
    R(GET, "/v1/executions/{}", api_execution_get, LINEAGE_READ),
    R(PATCH, "/v1/executions/{}", api_execution_patch, LINEAGE_WRITE),
    R(GET, "/v1/executions/{}/history", api_execution_history, LINEAGE_READ),
    R(GET, "/v1/executions/{}/events", api_execution_events, LINEAGE_READ),
    R(GET, "/v1/executions/{}/contexts", api_execution_contexts, LINEAGE_READ),
    R(POST, "/v1/contexts", api_context_create, LINEAGE_WRITE),
    R(GET, "/v1/contexts", api_context_list, LINEAGE_READ),
    R(GET, "/v1/contexts/{}", api_context_get, LINEAGE_READ),
    R(PATCH, "/v1/contexts/{}", api_context_patch, LINEAGE_WRITE),
    R(GET, "/v1/contexts/{}/history", api_context_history, LINEAGE_READ),
    R(POST, "/v1/contexts/{}/artifacts", api_context_artifact_add, LINEAGE_WRITE),
    R(GET, "/v1/contexts/{}/artifacts", api_context_artifacts, LINEAGE_READ),
    R(POST, "/v1/contexts/{}/executions", api_context_execution_add, LINEAGE_WRITE),
    R(GET, "/v1/contexts/{}/executions", api_context_executions, LINEAGE_READ),
    R(POST, "/v1/contexts/{}/parents", api_context_parent_add, LINEAGE_WRITE),
    R(GET, "/v1/contexts/{}/parents", api_context_parents, LINEAGE_READ),
    R(GET, "/v1/contexts/{}/children", api_context_children, LINEAGE_READ),
    R(POST, "/v1/events", api_event_create, LINEAGE_WRITE),
    R(POST, "/v1/lineage:batch", api_lineage_batch, LINEAGE_WRITE),
    R(GET, "/v1/lineage", api_lineage_graph, LINEAGE_READ),
    R(GET, "/v1/models/{}/provenance", api_model_provenance, LINEAGE_READ),
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

auth_perm app_route_perm(int id)
{
    return id >= 0 && (size_t)id < NROUTES ? routes[id].perm : AUTH_PERM_UNDECLARED;
}

void app_route_print(FILE *out)
{
    buf roles = BUF_INIT;
    for (size_t i = 0; i < NROUTES; i++) {
        buf_reset(&roles);
        auth_perm_roles(routes[i].perm, &roles);
        fprintf(out, "%s %s %s\n", routes[i].name, auth_perm_name(routes[i].perm), roles.p);
    }
    buf_free(&roles);
}

/*
 * Matching. Every pattern is split into its segments once (route_segs); a
 * request's path is split once per request, and a route is tried only when
 * it has as many segments, literal segments compared by length and bytes. A
 * segment "{}" captures a non-empty segment; "{}:verb" one that ends with
 * ":verb" (the verb stripped from the capture).
 */
#define ROUTE_SEGS_MAX 8

typedef struct pat_seg {
    const char *p; /* the literal, or the verb after "{}" */
    unsigned char n;
    bool capture;
} pat_seg;

typedef struct pat {
    unsigned char nseg;
    pat_seg seg[ROUTE_SEGS_MAX];
} pat;

static pat route_segs[NROUTES];
static pthread_once_t route_segs_once = PTHREAD_ONCE_INIT;

/* Split "/a/b/c" into its segments; -1 when it does not start with '/' or has
 * more than max. */
static int split_path(slice path, slice *segs, size_t max)
{
    if (path.n == 0 || path.p[0] != '/')
        return -1;
    const char *p = path.p + 1, *end = path.p + path.n;
    size_t n = 0;
    for (;;) {
        const char *e = memchr(p, '/', (size_t)(end - p));
        if (n == max)
            return -1;
        segs[n++] = (slice){p, (size_t)((e ? e : end) - p)};
        if (!e)
            return (int)n;
        p = e + 1;
    }
}

static void compile_routes(void)
{
    for (size_t i = 0; i < NROUTES; i++) {
        slice segs[ROUTE_SEGS_MAX];
        int n = split_path(slice_of(routes[i].pattern), segs, ROUTE_SEGS_MAX);
        STRATA_ASSERT(n > 0);
        pat *pt = &route_segs[i];
        pt->nseg = (unsigned char)n;
        for (int k = 0; k < n; k++) {
            bool cap = segs[k].n >= 2 && segs[k].p[0] == '{' && segs[k].p[1] == '}';
            size_t skip = cap ? 2 : 0;
            STRATA_ASSERT(segs[k].n - skip < 256);
            pt->seg[k] = (pat_seg){segs[k].p + skip, (unsigned char)(segs[k].n - skip), cap};
        }
    }
}

static int match_route(const pat *pt, const slice *segs, size_t nseg, slice *caps, size_t *ncaps)
{
    *ncaps = 0;
    if (pt->nseg != nseg)
        return 0;
    for (size_t k = 0; k < nseg; k++) {
        const pat_seg *ps = &pt->seg[k];
        slice s = segs[k];
        if (!ps->capture) {
            if (s.n != ps->n || memcmp(s.p, ps->p, s.n) != 0)
                return 0;
            continue;
        }
        if (s.n <= ps->n || (ps->n && memcmp(s.p + s.n - ps->n, ps->p, ps->n) != 0))
            return 0;
        if (*ncaps == HTTP_MAX_PARAMS)
            return 0;
        caps[(*ncaps)++] = (slice){s.p, s.n - ps->n};
    }
    return 1;
}

/* The handler of a request the router has already answered (401, 403). */
static void answered(http_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
}

/* 401 with the contract's body and RFC 6750's challenge. */
static http_handler unauthenticated(http_req *req, auth_result why)
{
    if (why == AUTH_MISSING) {
        http_reply_errorf(req, STRATA_UNAUTHENTICATED,
                          "this daemon requires a token: send \"Authorization: Bearer <token>\"");
        req->resp_headers = "WWW-Authenticate: Bearer realm=\"strata\"\r\n";
    } else {
        http_reply_errorf(req, STRATA_UNAUTHENTICATED,
                          "the bearer token is not valid (unknown or revoked)");
        req->resp_headers =
            "WWW-Authenticate: Bearer realm=\"strata\", error=\"invalid_token\"\r\n";
    }
    req->answered = true;
    return answered;
}

/* 403 naming the token, its role, what it may not do and who may. */
static void deny(http_req *req, auth_role role, const char *what, auth_perm p)
{
    buf allowed = BUF_INIT;
    auth_perm_roles(p, &allowed);
    http_reply_errorf(req, STRATA_PERMISSION_DENIED,
                      "token \"%s\" has role %s, which may not %s (allowed: %s)", req->principal,
                      auth_role_name(role), what, allowed.p);
    buf_free(&allowed);
}

static http_handler forbidden(http_req *req, const route *r, auth_role role)
{
    deny(req, role, r->name, r->perm);
    req->answered = true;
    return answered;
}

int app_require(app *a, http_req *req, auth_perm p, const char *what)
{
    char principal[LIMIT_NAME_MAX + 1];
    auth_role role = AUTH_ROLE_ADMIN;
    if (auth_gate_check(a ? a->auth : NULL, req->authorization, principal, &role) == AUTH_OK &&
        auth_role_may(role, p))
        return 0;
    auth_gate_count_forbidden(a ? a->auth : NULL);
    buf act = BUF_INIT;
    buf_printf(&act, "use %s", what);
    deny(req, role, act.p, p);
    buf_free(&act);
    return -1;
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
    app *a = ctx;
    int path_matched = 0;
    slice caps[HTTP_MAX_PARAMS];
    size_t ncaps = 0;
    const route *r = NULL;
    http_method m = req->method == HTTP_M_HEAD ? HTTP_M_GET : req->method;
    pthread_once(&route_segs_once, compile_routes);
    slice segs[ROUTE_SEGS_MAX];
    int nseg = split_path(req->path, segs, ROUTE_SEGS_MAX);
    for (size_t i = 0; nseg > 0 && i < NROUTES && !r; i++) {
        if (!match_route(&route_segs[i], segs, (size_t)nseg, caps, &ncaps))
            continue;
        if (routes[i].method != m)
            path_matched = 1;
        else
            r = &routes[i];
    }
    if (r)
        req->route_id = (int)(r - routes);
    auth_role role = AUTH_ROLE_ADMIN;
    if (r && r->perm == AUTH_PERM_OPEN) {
        strcpy(req->principal, "anonymous");
    } else {
        auth_result ar = auth_gate_check(a ? a->auth : NULL, req->authorization, req->principal,
                                         &role);
        if (ar != AUTH_OK)
            return unauthenticated(req, ar);
    }
    if (!r) {
        *status = path_matched ? 405 : 404;
        return NULL;
    }
    /* Handlers take captures as C strings (names, versions): a NUL would cut
     * one short, "m%00x" naming model "m". */
    for (size_t k = 0; k < ncaps; k++) {
        if (http_percent_decode(caps[k], &req->scratch[k]) ||
            (req->scratch[k].n && memchr(req->scratch[k].p, 0, req->scratch[k].n))) {
            *status = 400;
            return NULL;
        }
        req->params[k] = buf_slice(&req->scratch[k]);
    }
    /* A malformed escape in the query string is refused here, once: a
     * parameter that read as empty would quietly fall back to its default. */
    if (!http_query_escapes_valid(req)) {
        *status = 400;
        return NULL;
    }
    req->nparams = ncaps;
    if (!auth_role_may(role, r->perm)) {
        auth_gate_count_forbidden(a ? a->auth : NULL);
        return forbidden(req, r, role);
    }
    if (a && a->replica && replica_refuses(req->route_id))
        return api_replica_refuse;
    return r->handler;
}
