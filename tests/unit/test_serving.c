/* test_serving.c - route matching, percent-decoding, query params and config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serving/app.h"
#include "serving/config.h"

static void free_req(http_req *req);

/* req must start zeroed; each call frees what the previous one captured. */
static http_handler route(http_method m, const char *path, http_req *req, int *status)
{
    free_req(req);
    memset(req, 0, sizeof *req);
    req->method = m;
    req->path = slice_of(path);
    *status = 0;
    return app_route(req, NULL, status);
}

static void free_req(http_req *req)
{
    for (int i = 0; i < HTTP_MAX_PARAMS; i++)
        buf_free(&req->scratch[i]);
}

static void routes_match(void **state)
{
    (void)state;
    http_req req;
    memset(&req, 0, sizeof req);
    int st;
    assert_ptr_equal(route(HTTP_M_POST, "/v1/entities/customer:write", &req, &st), api_write);
    assert_int_equal(req.nparams, 1);
    assert_true(slice_eq_str(req.params[0], "customer"));
    assert_ptr_equal(route(HTTP_M_GET, "/v1/entities/customer", &req, &st), api_entity_get);
    assert_ptr_equal(route(HTTP_M_GET, "/v1/entities/c/values/a%2Fb%3Ac", &req, &st),
                     api_online_get);
    assert_int_equal(req.nparams, 2);
    assert_true(slice_eq_str(req.params[1], "a/b:c"));
    free_req(&req);
    assert_ptr_equal(route(HTTP_M_GET, "/v1/entities/c/values/user:42", &req, &st),
                     api_online_get);
    assert_true(slice_eq_str(req.params[1], "user:42"));
    free_req(&req);
    assert_ptr_equal(route(HTTP_M_POST, "/v1/online:read", &req, &st), api_online_read);
    assert_ptr_equal(route(HTTP_M_HEAD, "/healthz", &req, &st), api_healthz);
    assert_ptr_equal(route(HTTP_M_PATCH, "/v1/entities/e/features/f", &req, &st),
                     api_feature_patch);
    free_req(&req);

    assert_null(route(HTTP_M_PUT, "/v1/entities", &req, &st));
    assert_int_equal(st, 405);
    assert_null(route(HTTP_M_GET, "/v1/entities/e/nothing", &req, &st));
    assert_int_equal(st, 404);
    assert_null(route(HTTP_M_GET, "/v1/entities/", &req, &st));
    assert_int_equal(st, 404);
    assert_null(route(HTTP_M_GET, "", &req, &st));
    assert_int_equal(st, 404);
    assert_null(route(HTTP_M_POST, "/v1/entities/:write", &req, &st));
    /* No leading '/', empty segments, one segment too many, far too many. */
    static const char *const nowhere[] = {"v1/entities", "//v1/entities", "/v1//entities",
                                          "/v1/entities/e/features/f/x",
                                          "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z"};
    for (size_t i = 0; i < sizeof nowhere / sizeof *nowhere; i++) {
        assert_null(route(HTTP_M_GET, nowhere[i], &req, &st));
        assert_int_equal(st, 404);
    }
    assert_null(route(HTTP_M_GET, "/v1/entities/c/values/a%zz", &req, &st));
    assert_int_equal(st, 400);
    free_req(&req);
    assert_null(route(HTTP_M_GET, "/v1/entities/c/values/a%4", &req, &st));
    assert_int_equal(st, 400);
    free_req(&req);
    free_req(&req);
    assert_string_equal(app_route_name(-1), "unmatched");
}

static void query_params(void **state)
{
    (void)state;
    http_req req;
    memset(&req, 0, sizeof req);
    req.query = slice_of("features=a,b&force=true&q=total%20spend&empty=&flag&plus=a+b%2Bc");
    buf v = BUF_INIT;
    assert_int_equal(http_query_param(&req, "features", &v), 1);
    assert_string_equal(v.p, "a,b");
    assert_int_equal(http_query_param(&req, "q", &v), 1);
    assert_string_equal(v.p, "total spend");
    assert_int_equal(http_query_param(&req, "empty", &v), 1);
    assert_int_equal(v.n, 0);
    assert_int_equal(http_query_param(&req, "flag", &v), 1);
    assert_int_equal(http_query_param(&req, "forc", &v), 0);
    /* Form encoding: '+' is a space, %2B a plus. */
    assert_int_equal(http_query_param(&req, "plus", &v), 1);
    assert_string_equal(v.p, "a b+c");
    assert_int_equal(http_query_param(&req, "missing", &v), 0);
    assert_int_equal(http_percent_decode(slice_of("%41%62+"), &v), 0);
    assert_string_equal(v.p, "Ab+");
    assert_int_equal(http_percent_decode(slice_of("%"), &v), -1);
    assert_int_equal(http_percent_decode(slice_of("%0"), &v), -1);
    assert_int_equal(http_percent_decode(slice_of("%00"), &v), 0);
    assert_int_equal(v.n, 1);
    buf_free(&v);
}

static bool wants_pb(const char *accept)
{
    http_req req;
    memset(&req, 0, sizeof req);
    req.accept = slice_of(accept);
    return http_wants_protobuf(&req);
}

/* Accept: protobuf only when asked for with a q over 0 and not below JSON's. */
static void accept_negotiation(void **state)
{
    (void)state;
    assert_false(wants_pb(""));
    assert_false(wants_pb("*/*"));
    assert_false(wants_pb("application/json"));
    assert_true(wants_pb("application/x-protobuf"));
    assert_true(wants_pb("APPLICATION/X-PROTOBUF"));
    assert_true(wants_pb("application/json;q=0.5, application/x-protobuf"));
    assert_true(wants_pb("*/*, application/x-protobuf")); /* a tie: the one named */
    assert_false(wants_pb("application/json;q=0.9, application/x-protobuf;q=0"));
    assert_false(wants_pb("application/x-protobuf;q=0"));
    assert_false(wants_pb("application/x-protobuf; q=0.0"));
    assert_false(wants_pb("application/json, application/x-protobuf;q=0.8"));
    assert_false(wants_pb("application/*, application/x-protobuf;q=0.8"));
    assert_true(wants_pb("application/x-protobuf;q=0.8, text/html"));
    assert_false(wants_pb("application/x-protobuf;q=bogus"));
    assert_false(wants_pb("application/x-protobufs")); /* another type */
}

static void config_flags_and_file(void **state)
{
    (void)state;
    strata_config c;
    strata_err err = STRATA_ERR_INIT;
    bool exit_now;
    char path[] = "/tmp/strata-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# comment\nmax_ids_per_read = 7\nlisten = \"0.0.0.0:9\"\n"
                       "sync = always\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    config_defaults(&c);
    char *argv[] = {"stratad", "--max-ids-per-read", "9", "--config", path,
                    "--request-timeout-s=5", NULL};
    assert_int_equal(config_parse_args(&c, 6, argv, &exit_now, &err), 0);
    assert_int_equal(c.limits.max_ids_per_read, 9); /* flag beats file */
    assert_string_equal(c.listen, "0.0.0.0:9");
    assert_int_equal(c.sync, STORE_SYNC_ALWAYS);
    assert_int_equal(c.limits.request_timeout_s, 5);
    assert_int_equal(c.limits.max_values_per_write, LIMIT_DEFAULT_MAX_VALUES_PER_WRITE);

    config_defaults(&c);
    char *bad1[] = {"stratad", "--max-ids-per-read", "-1", NULL};
    assert_int_equal(config_parse_args(&c, 3, bad1, &exit_now, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "max_ids_per_read"));
    char *bad2[] = {"stratad", "--bogus", "1", NULL};
    assert_int_equal(config_parse_args(&c, 3, bad2, &exit_now, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "bogus"));
    char *bad3[] = {"stratad", "--sync", "sometimes", NULL};
    assert_int_equal(config_parse_args(&c, 3, bad3, &exit_now, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "sync must be never|always|batch"));

    /* Durability and replica options; --check is a bare flag. */
    config_defaults(&c);
    assert_int_equal(c.sync, STORE_SYNC_NEVER);
    assert_int_equal(c.start_check, CONFIG_CHECK_FULL);
    assert_int_equal(c.wal_recovery, STORE_WAL_STRICT);
    char *dur[] = {"stratad", "--sync=batch", "--sync-interval-ms", "25", "--check",
                   "--wal-recovery", "salvage", "--start-check", "quick", "--secondary-of",
                   "/p", "--catch-up-ms", "50", "--checkpoint-dir", "/cp", NULL};
    assert_int_equal(config_parse_args(&c, 15, dur, &exit_now, &err), 0);
    assert_int_equal(c.sync, STORE_SYNC_BATCH);
    assert_int_equal(c.sync_interval_ms, 25);
    assert_true(c.check_only);
    assert_int_equal(c.wal_recovery, STORE_WAL_SALVAGE);
    assert_int_equal(c.start_check, CONFIG_CHECK_QUICK);
    assert_string_equal(c.secondary_of, "/p");
    assert_int_equal(c.catch_up_ms, 50);
    assert_string_equal(c.checkpoint_dir, "/cp");
    char *bad5[] = {"stratad", "--wal-recovery", "skip", NULL};
    assert_int_equal(config_parse_args(&c, 3, bad5, &exit_now, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "strict|salvage"));
    char *bad4[] = {"stratad", "--listen", NULL};
    assert_int_equal(config_parse_args(&c, 2, bad4, &exit_now, &err), STRATA_INVALID_ARGUMENT);

    FILE *f = fopen(path, "w");
    fputs("threads = 2\nthis line is wrong\n", f);
    fclose(f);
    assert_int_equal(config_load_file(&c, path, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, ":2"));
    unlink(path);
    err_clear(&err);
}

static void metrics_render_counts(void **state)
{
    (void)state;
    metrics *m = metrics_create(app_route_count());
    metrics_observe(m, 0, 200, 30000);
    metrics_observe(m, 0, 200, 2000000);
    metrics_observe(m, 0, 404, 1000);
    metrics_observe(m, -1, 404, 1000);
    buf out = BUF_INIT;
    metrics_render(m, &out, app_route_name);
    assert_non_null(strstr(out.p, "strata_http_requests_total{route=\"GET /healthz\",code=\"2xx\"} 2"));
    assert_non_null(strstr(out.p, "strata_http_requests_total{route=\"GET /healthz\",code=\"4xx\"} 1"));
    assert_non_null(strstr(out.p, "route=\"unmatched\",code=\"4xx\"} 1"));
    assert_non_null(strstr(out.p,
        "strata_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"5e-05\"} 2"));
    assert_non_null(strstr(out.p,
        "strata_http_request_duration_seconds_count{route=\"GET /healthz\"} 3"));
    buf_free(&out);
    metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_match),          cmocka_unit_test(query_params),
        cmocka_unit_test(accept_negotiation),    cmocka_unit_test(config_flags_and_file),
        cmocka_unit_test(metrics_render_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
