/*
 * fixture.c - the daemon state the request targets fuzz against (fuzz.h):
 * an app on a temporary directory, its fixtures, and requests served through
 * http_serve_buffer.
 */
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/jsonw.h"
#include "base/log.h"
#include "fuzz.h"
#include "ingest/source.h"

#define FUZZ_OUT_MAX ((size_t)1 << 20)

static app the_app;
static bool opened;
static char tmp_dir[256];
static http_server_options http_opt;

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FUZZ CHECK FAILED at %s:%d: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void fuzz_chunks_agree(const uint8_t *data, size_t size, fuzz_read_all_fn read_all)
{
    if (size < 1)
        return;
    size_t chunk = 3 + data[0] % 64;
    slice text = {(const char *)data + 1, size - 1};
    buf whole = {0}, parts = {0};
    read_all(text, SOURCE_CHUNK_BYTES, &whole);
    read_all(text, chunk, &parts);
    FUZZ_CHECK(whole.n == parts.n && memcmp(whole.p, parts.p, whole.n) == 0,
               "chunks of %zu read differently:\n--- whole\n%s\n--- chunked\n%s", chunk, whole.p,
               parts.p);
    buf_free(&whole);
    buf_free(&parts);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void close_app(void)
{
    if (!opened)
        return;
    opened = false;
    app_close(&the_app);
    nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    FUZZ_CHECK(f != NULL, "cannot create %s", path);
    fputs(text, f);
    fclose(f);
}

static int status_of(const buf *out)
{
    if (out->n < 12 || memcmp(out->p, "HTTP/1.1 ", 9) != 0)
        return 0;
    return (out->p[9] - '0') * 100 + (out->p[10] - '0') * 10 + (out->p[11] - '0');
}

/* Length of one answer's head and body at p (n bytes), or 0 when it is cut
 * short (the output cap) or not framed as Strata frames its answers. */
static size_t answer_len(const char *p, size_t n, int *status)
{
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (n < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0 || !end)
        return 0;
    *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    size_t head = (size_t)(end - p) + 4, len = 0;
    const char *cl = memmem(p, head, "\r\nContent-Length: ", 18);
    if (cl) {
        len = strtoul(cl + 18, NULL, 10);
        return head + len <= n ? head + len : 0;
    }
    if (!memmem(p, head, "\r\nTransfer-Encoding: chunked", 28))
        return 0;
    size_t off = head;
    for (;;) { /* chunks: hex size CRLF data CRLF, a 0 chunk ends */
        char *after;
        if (off >= n)
            return 0;
        size_t c = strtoul(p + off, &after, 16);
        const char *crlf = memmem(p + off, n - off, "\r\n", 2);
        if (!crlf || after == p + off)
            return 0;
        off = (size_t)(crlf - p) + 2 + c + 2;
        if (off > n)
            return 0;
        if (c == 0)
            return off;
    }
}

void fuzz_serve(const void *data, size_t n, buf *out)
{
    buf_reset(out);
    FUZZ_CHECK(http_serve_buffer(&http_opt, data, n, out, FUZZ_OUT_MAX) == 0, "serve failed");
    if (out->n == 0)
        return;
    FUZZ_CHECK(status_of(out) >= 100, "answer is not HTTP: %.200s", out->p);
    /* Every answer of a pipeline: a 5xx other than 503 is a bug (bad input
     * gets a 4xx). A 100 Continue is an answer without a body. */
    size_t off = 0;
    while (off < out->n) {
        int status = 0;
        if (out->n - off >= 25 && memcmp(out->p + off, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0) {
            off += 25;
            continue;
        }
        size_t len = answer_len(out->p + off, out->n - off, &status);
        if (len == 0)
            break;
        FUZZ_CHECK(status < 500 || status == 503, "server error: %.2000s", out->p + off);
        off += len;
    }
}

/* A refusal is the contract's error body: a code and a message naming the
 * problem. */
static void check_error_body(const buf *out)
{
    const char *body = memmem(out->p, out->n, "\r\n\r\n", 4);
    FUZZ_CHECK(body != NULL, "no end of head: %.300s", out->p);
    body += 4;
    json_t *j = json_loadb(body, out->n - (size_t)(body - out->p), JSON_DISABLE_EOF_CHECK, NULL);
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    FUZZ_CHECK(code && msg && msg[0], "not an error body: %.500s", out->p);
    json_decref(j);
}

int fuzz_request(const char *method, const char *path, const char *content_type,
                 const void *body, size_t n, buf *out)
{
    buf req = {0};
    buf_printf(&req, "%s %s HTTP/1.1\r\nHost: fuzz\r\n", method, path);
    if (content_type)
        buf_printf(&req, "Content-Type: %s\r\n", content_type);
    buf_printf(&req, "Content-Length: %zu\r\n\r\n", n);
    buf_append(&req, body, n);
    fuzz_serve(req.p, req.n, out);
    buf_free(&req);
    int status = status_of(out);
    if (status >= 400)
        check_error_body(out);
    return status;
}

/* A fixture request that must succeed. */
static void setup(const char *method, const char *path, const char *json, buf *out)
{
    int st = fuzz_request(method, path, "application/json", json, strlen(json), out);
    FUZZ_CHECK(st >= 200 && st < 300, "fixture %s %s: %.500s", method, path, out->p);
}

static void wait_job(buf *out)
{
    const char *p = strstr(out->p, "\"id\":\"");
    FUZZ_CHECK(p != NULL, "no job id in %.500s", out->p);
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%.*s", (int)strcspn(p + 6, "\""), p + 6);
    for (int i = 0; i < 600; i++) {
        fuzz_request("GET", path, NULL, "", 0, out);
        if (strstr(out->p, "\"SUCCEEDED\""))
            return;
        FUZZ_CHECK(!strstr(out->p, "\"FAILED\"") && !strstr(out->p, "\"CANCELLED\""),
                   "fixture job: %.1000s", out->p);
        usleep(20000);
    }
    FUZZ_CHECK(0, "fixture job did not finish: %.1000s", out->p);
}

/*
 * Fixtures: entity "customer" with one feature of every type (the names the
 * seed corpora use), 40 customers with values, a logistic regression model
 * "credit" trained on them, lineage types and nodes, a schedule, and CSV files
 * in the import directory.
 */
static void load_fixtures(const char *import_dir)
{
    buf out = {0}, b = {0};
    setup("POST", "/v1/entities", "{\"name\":\"customer\",\"description\":\"fuzz\"}", &out);
    setup("POST", "/v1/entities/customer/features",
          "{\"features\":[{\"name\":\"b\",\"type\":\"BOOL\"},{\"name\":\"i\",\"type\":\"INT64\"},"
          "{\"name\":\"d\",\"type\":\"DOUBLE\"},{\"name\":\"s\",\"type\":\"STRING\"},"
          "{\"name\":\"y\",\"type\":\"BYTES\"},{\"name\":\"ia\",\"type\":\"INT64_ARRAY\"},"
          "{\"name\":\"da\",\"type\":\"DOUBLE_ARRAY\"},{\"name\":\"sa\",\"type\":\"STRING_ARRAY\"},"
          "{\"name\":\"age\",\"type\":\"INT64\"},{\"name\":\"city\",\"type\":\"STRING\"},"
          "{\"name\":\"fresh\",\"type\":\"DOUBLE\",\"ttl_seconds\":3600}]}",
          &out);
    buf csv = {0};
    buf_append_str(&csv, "customer_id,ts,label\n");
    buf_append_str(&b, "{\"rows\":[");
    static const char *const cities[] = {"paris", "rome", "oslo"};
    for (int i = 0; i < 40; i++) {
        int age = 20 + (i * 7) % 50;
        buf_printf(&b,
                   "%s{\"entity_id\":\"c%d\",\"event_time\":\"2024-03-01T12:00:00Z\","
                   "\"values\":{\"age\":%d,\"d\":%d.5,\"city\":\"%s\",\"b\":%s,\"i\":%d,"
                   "\"s\":\"s%d\",\"y\":\"AAE=\",\"ia\":[1,%d],\"da\":[0.5,%d.25],"
                   "\"sa\":[\"a\",\"%d\"]}}",
                   i ? "," : "", i, age, i, cities[i % 3], i % 2 ? "true" : "false", i, i, i, i,
                   i);
        buf_printf(&csv, "c%d,2024-03-02T12:00:00Z,%s\n", i,
                   (age > 40) != (i % 5 == 0) ? "good" : "bad");
    }
    buf_append_str(&b, "]}");
    setup("POST", "/v1/entities/customer:write", b.p, &out);
    write_file(import_dir, "instances.csv", csv.p);
    write_file(import_dir, "customers.csv",
               "customer_id,age,city\nc1,31,paris\nc2,47,rome\nc3,,oslo\n");
    write_file(import_dir, "customers.jsonl",
               "{\"customer_id\":\"c1\",\"age\":31,\"city\":\"paris\"}\n"
               "{\"customer_id\":\"c2\",\"age\":47,\"d\":1.5}\n");

    buf_reset(&b);
    buf_append_str(&b, "{\"model\":\"credit\",\"task\":\"binary_classification\","
                       "\"algorithm\":\"logistic_regression\",\"instances\":{\"inline\":");
    jsonw_cstr(&b, csv.p);
    buf_append_str(&b, ",\"format\":\"csv\"},\"timestamp_column\":\"ts\",\"label_column\":"
                       "\"label\",\"features\":[\"customer:age\",\"customer:d\",\"customer:city\"],"
                       "\"split\":{\"method\":\"hash\",\"eval_fraction\":0.25},"
                       "\"hyperparameters\":{\"l2\":1.0,\"max_iterations\":50}}");
    setup("POST", "/v1/trainings", b.p, &out);
    wait_job(&out);
    setup("PUT", "/v1/models/credit/aliases/prod", "{\"version\":1}", &out);

    setup("POST", "/v1/artifact-types",
          "{\"name\":\"Dataset\",\"properties\":{\"rows\":\"INT\",\"split\":\"STRING\"},"
          "\"can_add_fields\":true,\"can_omit_fields\":true}", &out);
    setup("POST", "/v1/execution-types", "{\"name\":\"Trainer\",\"properties\":{\"lr\":\"DOUBLE\"}}",
          &out);
    setup("POST", "/v1/context-types", "{\"name\":\"Experiment\"}", &out);
    setup("POST", "/v1/artifacts",
          "{\"type\":\"Dataset\",\"name\":\"train\",\"uri\":\"file:///data/train.csv\","
          "\"state\":\"LIVE\",\"properties\":{\"rows\":1000,\"split\":\"train\"},"
          "\"custom_properties\":{\"owner\":\"fuzz\"}}",
          &out);
    setup("POST", "/v1/executions",
          "{\"type\":\"Trainer\",\"name\":\"run1\",\"state\":\"COMPLETE\","
          "\"properties\":{\"lr\":0.1}}",
          &out);
    setup("POST", "/v1/contexts", "{\"type\":\"Experiment\",\"name\":\"exp1\"}", &out);
    setup("POST", "/v1/events",
          "{\"artifact_id\":1,\"execution_id\":1,\"type\":\"INPUT\","
          "\"path\":[{\"key\":\"train\"}]}",
          &out);
    setup("POST", "/v1/contexts/1/artifacts", "{\"artifact_id\":1}", &out);
    setup("POST", "/v1/contexts/1/executions", "{\"execution_id\":1}", &out);
    setup("POST", "/v1/schedules",
          "{\"name\":\"nightly\",\"cron\":\"0 3 * * *\",\"import\":{\"entity\":\"customer\","
          "\"source\":{\"path\":\"customers.csv\"}}}",
          &out);
    buf_free(&csv);
    buf_free(&b);
    buf_free(&out);
}

app *fuzz_app(void)
{
    if (opened)
        return &the_app;
    /* No OpenSSL cleanup at exit: it would run before close_app (OpenSSL
     * registers it on a later first use) and pull the digests from under
     * the jobs that close_app is still stopping. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    const char *t = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/strata-fuzz-XXXXXX", t && *t ? t : "/tmp");
    FUZZ_CHECK(mkdtemp(tmp_dir) != NULL, "mkdtemp %s", tmp_dir);
    strata_config cfg;
    config_defaults(&cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s/data", tmp_dir);
    snprintf(cfg.import_dir, sizeof cfg.import_dir, "%s/import", tmp_dir);
    FUZZ_CHECK(mkdir(cfg.data_dir, 0700) == 0 && mkdir(cfg.import_dir, 0700) == 0,
               "mkdir in %s", tmp_dir);
    cfg.block_cache_mb = 8;
    cfg.export_memory_mb = 4;
    cfg.sync = STORE_SYNC_NEVER;
    /* Small enough that the fuzzer can reach the limits. */
    cfg.limits.max_body_bytes = 256 << 10;
    cfg.limits.max_header_bytes = 8 << 10;
    cfg.limits.max_ids_per_read = 100;
    cfg.limits.max_values_per_write = 1000;
    if (!getenv("STRATA_FUZZ_LOG"))
        log_set_level(LOG_ERROR);
    strata_err err = STRATA_ERR_INIT;
    FUZZ_CHECK(app_open(&cfg, "fuzz", &the_app, &err) == 0, "app_open: %s", err.message);
    err_clear(&err);
    opened = true;
    atomic_store(&the_app.ready, true);
    atexit(close_app);
    http_opt = (http_server_options){.listen = "fuzz",
                                     .threads = 1,
                                     .limits = cfg.limits,
                                     .router = app_route,
                                     .after = app_after_request,
                                     .observer = app_observe,
                                     .ctx = &the_app};
    load_fixtures(cfg.import_dir);
    return &the_app;
}
