/* api_ops.c - /healthz, /readyz and /metrics. */
#include "serving/auth/gate.h"
#include "base/timeutil.h"
#include "ingest/jobs.h"
#include "serving/app.h"

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
               "# HELP strata_store_bytes Size of the store by component.\n"
               "# TYPE strata_store_bytes gauge\n"
               "strata_store_bytes{component=\"sst\"} %llu\n"
               "strata_store_bytes{component=\"memtable\"} %llu\n"
               "# HELP strata_open_connections Client connections open now.\n"
               "# TYPE strata_open_connections gauge\n"
               "strata_open_connections %llu\n",
               a->build_id, (double)(time_now_us() - a->start_time) / 1e6,
               (unsigned long long)st.values_written, (unsigned long long)st.sst_bytes,
               (unsigned long long)st.memtable_bytes,
               (unsigned long long)(a->server ? http_server_connections(a->server) : 0));
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
