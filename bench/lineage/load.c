/*
 * load.c - writes the bench/lineage metadata graph, and measures how fast
 * Strata takes it.
 *
 *   load graph --data-dir DIR --nodes N [--versions L] [--starts FILE] [--tsv-dir DIR]
 *     Opens DIR with store_open + lineage_open (as stratad does) and writes a
 *     graph of about N nodes through the capture API, lineage_record_run: one
 *     atomic store batch per run (an execution with its inputs, outputs,
 *     events and context links), the same path imports, exports, training and
 *     evaluation take inside the daemon. Single writer (the module serialises
 *     writes anyway). --starts gets the ids of deep artifacts (FairnessReports
 *     of versions >= 6) for the traversal benchmark; --tsv-dir gets nodes.tsv and
 *     events.tsv, the same graph for the SQLite peer (written outside the timing).
 *
 *   load http --port P --nodes N [--connections C] [--versions L] [--batch]
 *     The same shape through HTTP: POST /v1/artifacts, /v1/executions and
 *     /v1/events, C keep-alive connections (one thread each, one request in
 *     flight per connection), every node and event one request, as a client
 *     without a batch API writes it. Each request is also an audit record.
 *     --batch: one POST /v1/lineage:batch per pipeline run instead (its 28
 *     nodes and 28-31 events, events naming the run's new nodes by index),
 *     one transaction and one audit record each.
 *
 * Both print a human summary on stderr and one line on stdout,
 *   RESULT key=value ...
 *
 * THE SHAPE (docs/benchmarks.md, "bench/lineage"). Projects, each a chain of L
 * model versions (default 12); version v of project j is one pipeline run of
 * 28 nodes and 10 executions recorded:
 *
 *   SourceFile a ──┬─> Import 1 ─> FeatureSet 1 ─┐
 *                  └─> Import 2 ─> FeatureSet 2 ─┼─> Export ─> Dataset ─┬─> Train k=0..2
 *   SourceFile b ────> Import 3 ─> FeatureSet 3 ─┘                      │   (a sweep: one
 *                                                                       │    dataset, 3 trains)
 *   Model p<j>k<k>@<v-1> ───────────────────────────────────────────────┘   (warm start)
 *   Train k ─> Model p<j>k<k>@<v>, Metrics(train) ; Model ─> Evaluate ─> Metrics, FairnessReport
 *
 * Fan-outs: one source file feeds two imports, one dataset feeds three trains,
 * and each model is read by its evaluation and by the next version's train.
 * Chains: the warm start links the versions of a model, so lineage runs as
 * deep as the project is long. Every run joins the project's Study context.
 * Runs are written version-major (version 1 of every project, then version
 * 2, ...), the way concurrent projects interleave in a real store, so a
 * project's nodes are spread over the id space, not packed together.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lineage/lineage.h"
#include "store/store.h"

#define NODES_PER_PIPELINE 28
#define DEEP_VERSION 6

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    return x ^ (x >> 33);
}

/* A 64-hex-digit "digest" of (project, version, file). */
static void fake_sha(char out[65], int j, int v, int f)
{
    uint64_t h = mix(((uint64_t)j << 32) ^ ((uint64_t)v << 8) ^ (uint64_t)f);
    for (int i = 0; i < 4; i++) {
        h = mix(h + (uint64_t)i);
        snprintf(out + 16 * i, 17, "%016" PRIx64, h);
    }
}

/* ---- graph mode: the capture API ----------------------------------------------------- */

typedef struct gstate {
    lineage_t *lg;
    int projects, versions;
    int64_t *prev_models; /* projects x 3: the model of the previous version */
    uint64_t runs, nodes, events;
    double api_s;
    FILE *starts;
    bool tsv;         /* keep the graph as TSV for the SQLite peer */
    buf tsv_n, tsv_e; /* buffered during the load, written after it */
} gstate;

static void tsv_node(gstate *g, int kind, int64_t id, const char *type, const char *name,
                     const json_t *props)
{
    if (!g->tsv)
        return;
    char *p = json_dumps(props, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *ver = json_object_get(props, "version");
    buf_printf(&g->tsv_n, "%d\t%" PRId64 "\t%s\t%s\t", kind, id, type, name ? name : "");
    if (json_is_integer(ver))
        buf_printf(&g->tsv_n, "%" JSON_INTEGER_FORMAT, json_integer_value(ver));
    buf_printf(&g->tsv_n, "\t%s\n", p);
    free(p);
}

static void tsv_event(gstate *g, int64_t a, int64_t e, int t)
{
    if (g->tsv)
        buf_printf(&g->tsv_e, "%" PRId64 "\t%" PRId64 "\t%d\n", a, e, t);
}

/* Record one run; count the nodes it created. */
static void record(gstate *g, const lineage_run *run, int64_t *in_ids, int64_t *out_ids,
                   int64_t *exec_id, size_t new_nodes)
{
    strata_err err = STRATA_ERR_INIT;
    lineage_run_ids ids = {.input_ids = in_ids, .output_ids = out_ids};
    double t0 = now_s();
    if (lineage_record_run(g->lg, run, &ids, &err))
        die("lineage_record_run(%s): %s", run->execution_type, err.message);
    g->api_s += now_s() - t0;
    g->runs++;
    g->nodes += new_nodes;
    g->events += run->ninputs + run->noutputs;
    *exec_id = ids.execution_id;
}

static void pipeline(gstate *g, int j, int v)
{
    char ctxname[32], sha_a[65], sha_b[65], name[96], src_a[80], src_b[80];
    int64_t xid, fs[3], src_ids[2], ds_id, models[3];
    snprintf(ctxname, sizeof ctxname, "project-%d", j);
    lineage_context_ref ctx = {.type = "Study", .name = ctxname};
    fake_sha(sha_a, j, v, 0);
    fake_sha(sha_b, j, v, 1);
    snprintf(src_a, sizeof src_a, "sha256:%s", sha_a);
    snprintf(src_b, sizeof src_b, "sha256:%s", sha_b);

    /* Three imports: file a feeds two (two entities), file b one. */
    static const char *const entities[3] = {"customer", "account", "merchant"};
    for (int i = 0; i < 3; i++) {
        const char *sha = i < 2 ? sha_a : sha_b;
        char uri[96], fs_uri[96], job[32];
        snprintf(uri, sizeof uri, "file:///data/p%d/v%d/%c.csv", j, v, i < 2 ? 'a' : 'b');
        snprintf(job, sizeof job, "j%d-%d-%d", j, v, i);
        snprintf(fs_uri, sizeof fs_uri, "strata://entities/%s?import_job=%s", entities[i], job);
        snprintf(name, sizeof name, "import-%s", job);
        json_t *sp = json_pack("{s:s,s:s,s:i,s:i}", "format", "csv", "sha256", sha, "bytes",
                               1000000 + j, "rows", 10000 + v);
        json_t *fp = json_pack("{s:s,s:[s,s,s],s:i}", "entity", entities[i], "features", "f1", "f2",
                               "f3", "feature_count", 3);
        json_t *xp = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:i}", "entity", entities[i], "format",
                               "csv", "source", uri, "job_id", job, "rows_read", 10000,
                               "rows_imported", 9990, "rows_rejected", 10, "values_written", 29970);
        lineage_artifact_ref in = {.type = "SourceFile",
                                   .name = i < 2 ? src_a : src_b,
                                   .uri = uri,
                                   .properties = sp,
                                   .path_key = "source"};
        lineage_artifact_ref out = {
            .type = "FeatureSet", .uri = fs_uri, .properties = fp, .path_key = "features"};
        lineage_run run = {.execution_type = "Import",
                           .name = name,
                           .properties = xp,
                           .inputs = &in,
                           .ninputs = 1,
                           .outputs = &out,
                           .noutputs = 1,
                           .contexts = &ctx,
                           .ncontexts = 1};
        int64_t sid;
        record(g, &run, &sid, &fs[i], &xid, i == 1 ? 2 : 3);
        if (i == 0 || i == 2) {
            src_ids[i / 2] = sid;
            tsv_node(g, 0, sid, "SourceFile", in.name, sp);
        }
        tsv_node(g, 1, xid, "Import", name, xp);
        tsv_node(g, 0, fs[i], "FeatureSet", NULL, fp);
        tsv_event(g, sid, xid, LINEAGE_EVENT_INPUT);
        tsv_event(g, fs[i], xid, LINEAGE_EVENT_OUTPUT);
        json_decref(sp);
        json_decref(fp);
        json_decref(xp);
    }
    (void)src_ids;

    /* The export: three feature sets in, one dataset out. */
    {
        char as_of[40], dsname[64];
        snprintf(as_of, sizeof as_of, "2024-%02d-01T00:00:00Z", 1 + v % 12);
        snprintf(dsname, sizeof dsname, "p%d-v%d-train", j, v);
        snprintf(name, sizeof name, "export-p%d-v%d", j, v);
        json_t *refs =
            json_pack("[s,s,s,s]", "customer:f1", "customer:f2", "account:f1", "merchant:f3");
        json_t *dp = json_pack("{s:s,s:i,s:s,s:O,s:s}", "format", "csv", "rows", 50000 + v,
                               "sha256", sha_b, "feature_refs", refs, "as_of", as_of);
        json_t *xp = json_pack("{s:O,s:s,s:s,s:s,s:i}", "feature_refs", refs, "as_of", as_of,
                               "instance_source", "file:///data/instances.csv", "format", "csv",
                               "rows", 50000 + v);
        lineage_artifact_ref in[3] = {{.id = fs[0]}, {.id = fs[1]}, {.id = fs[2]}};
        lineage_artifact_ref out = {
            .type = "Dataset", .name = dsname, .properties = dp, .path_key = "dataset"};
        lineage_run run = {.execution_type = "Export",
                           .name = name,
                           .properties = xp,
                           .inputs = in,
                           .ninputs = 3,
                           .outputs = &out,
                           .noutputs = 1,
                           .contexts = &ctx,
                           .ncontexts = 1};
        int64_t ins[3];
        record(g, &run, ins, &ds_id, &xid, 2);
        tsv_node(g, 1, xid, "Export", name, xp);
        tsv_node(g, 0, ds_id, "Dataset", dsname, dp);
        for (int i = 0; i < 3; i++)
            tsv_event(g, fs[i], xid, LINEAGE_EVENT_INPUT);
        tsv_event(g, ds_id, xid, LINEAGE_EVENT_OUTPUT);
        json_decref(refs);
        json_decref(dp);
        json_decref(xp);
    }

    /* A sweep of three trains on the dataset, each warm-started from the
     * previous version of its model; then each model's evaluation. */
    for (int k = 0; k < 3; k++) {
        char model[32], mname[48];
        snprintf(model, sizeof model, "p%dk%d", j, k);
        snprintf(mname, sizeof mname, "%s@%d", model, v);
        snprintf(name, sizeof name, "train-%s", mname);
        json_t *hp = json_pack("{s:f,s:i,s:b}", "l2", 0.001 * (k + 1), "max_iterations", 100,
                               "early_stop", 1);
        json_t *xp = json_pack("{s:s,s:i,s:s,s:s,s:O}", "model", model, "version", v, "algorithm",
                               "logistic_regression", "task", "binary_classification",
                               "hyperparameters", hp);
        json_t *mp = json_pack("{s:s,s:i,s:s,s:s,s:s}", "model", model, "version", v, "algorithm",
                               "logistic_regression", "task", "binary_classification",
                               "label_column", "label");
        json_t *tm = json_pack("{s:s,s:{s:f,s:f},s:i}", "split", "train", "metrics", "roc_auc",
                               0.8 + 0.01 * k, "log_loss", 0.4, "n", 40000);
        int64_t prev = g->prev_models[j * 3 + k];
        lineage_artifact_ref in[2] = {{.id = ds_id, .path_key = "examples"},
                                      {.id = prev, .path_key = "base_model"}};
        lineage_artifact_ref out[2] = {
            {.type = "Model", .name = mname, .properties = mp, .path_key = "model"},
            {.type = "Metrics", .properties = tm, .path_key = "metrics"}};
        lineage_run run = {.execution_type = "Train",
                           .name = name,
                           .properties = xp,
                           .inputs = in,
                           .ninputs = prev ? 2 : 1,
                           .outputs = out,
                           .noutputs = 2,
                           .contexts = &ctx,
                           .ncontexts = 1};
        int64_t ins[2], outs[2];
        record(g, &run, ins, outs, &xid, 3);
        models[k] = outs[0];
        tsv_node(g, 1, xid, "Train", name, xp);
        tsv_node(g, 0, outs[0], "Model", mname, mp);
        tsv_node(g, 0, outs[1], "Metrics", NULL, tm);
        tsv_event(g, ds_id, xid, LINEAGE_EVENT_INPUT);
        if (prev)
            tsv_event(g, prev, xid, LINEAGE_EVENT_INPUT);
        tsv_event(g, outs[0], xid, LINEAGE_EVENT_OUTPUT);
        tsv_event(g, outs[1], xid, LINEAGE_EVENT_OUTPUT);
        json_decref(hp);
        json_decref(xp);
        json_decref(mp);
        json_decref(tm);

        char evid[64];
        snprintf(evid, sizeof evid, "ev-%s", mname);
        snprintf(name, sizeof name, "evaluate-%s", mname);
        json_t *ep = json_pack("{s:s,s:i,s:f,s:s}", "model", model, "version", v, "threshold", 0.5,
                               "evaluation_id", evid);
        json_t *em = json_pack("{s:s,s:{s:f,s:f},s:i}", "split", "eval", "metrics", "roc_auc", 0.78,
                               "log_loss", 0.42, "n", 10000);
        json_t *fr =
            json_pack("{s:s,s:[s],s:{s:f},s:s}", "evaluation_id", evid, "group_by", "sex",
                      "summary", "demographic_parity_ratio", 0.91, "four_fifths_rule", "pass");
        lineage_artifact_ref ein = {.id = models[k], .path_key = "model"};
        lineage_artifact_ref eout[2] = {
            {.type = "Metrics", .properties = em, .path_key = "metrics"},
            {.type = "FairnessReport", .properties = fr, .path_key = "fairness"}};
        lineage_run erun = {.execution_type = "Evaluate",
                            .name = name,
                            .properties = ep,
                            .inputs = &ein,
                            .ninputs = 1,
                            .outputs = eout,
                            .noutputs = 2,
                            .contexts = &ctx,
                            .ncontexts = 1};
        int64_t ein_id, eouts[2];
        record(g, &erun, &ein_id, eouts, &xid, 3);
        tsv_node(g, 1, xid, "Evaluate", name, ep);
        tsv_node(g, 0, eouts[0], "Metrics", NULL, em);
        tsv_node(g, 0, eouts[1], "FairnessReport", NULL, fr);
        tsv_event(g, models[k], xid, LINEAGE_EVENT_INPUT);
        tsv_event(g, eouts[0], xid, LINEAGE_EVENT_OUTPUT);
        tsv_event(g, eouts[1], xid, LINEAGE_EVENT_OUTPUT);
        if (g->starts && v >= DEEP_VERSION)
            fprintf(g->starts, "%" PRId64 "\n", eouts[1]);
        json_decref(ep);
        json_decref(em);
        json_decref(fr);
        g->prev_models[j * 3 + k] = models[k];
    }
}

static void write_file(const char *dir, const char *name, const buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(b->p, 1, b->n, f) != b->n || fclose(f) != 0)
        die("cannot write %s: %s", path, strerror(errno));
}

static int run_graph(const char *dir, long nodes, int versions, const char *starts,
                     const char *tsv_dir)
{
    strata_err err = STRATA_ERR_INIT;
    store_t *st = NULL;
    gstate g = {0};
    store_options so = {.path = dir, .sync = STORE_SYNC_NEVER};
    if (store_open(&so, &st, &err))
        die("store_open %s: %s", dir, err.message);
    if (lineage_open(st, "bench-load", &g.lg, &err))
        die("lineage_open: %s", err.message);
    g.versions = versions;
    g.projects = (int)((nodes + (long)NODES_PER_PIPELINE * versions - 1) /
                       ((long)NODES_PER_PIPELINE * versions));
    if (g.projects < 1)
        g.projects = 1;
    g.prev_models = calloc((size_t)g.projects * 3, sizeof *g.prev_models);
    if (!g.prev_models)
        die("out of memory");
    if (starts && !(g.starts = fopen(starts, "w")))
        die("cannot write %s: %s", starts, strerror(errno));
    g.tsv = tsv_dir != NULL;
    fprintf(stderr,
            "load: %d projects x %d versions x %d nodes = %ld nodes (+%d contexts) into %s\n",
            g.projects, versions, NODES_PER_PIPELINE,
            (long)g.projects * versions * NODES_PER_PIPELINE, g.projects, dir);
    double t0 = now_s(), last = t0;
    for (int v = 1; v <= versions; v++) {
        for (int j = 0; j < g.projects; j++)
            pipeline(&g, j, v);
        double t = now_s();
        fprintf(stderr, "load: version %d/%d: %" PRIu64 " nodes, %.0f nodes/s (this version)\n", v,
                versions, g.nodes, (double)g.projects * NODES_PER_PIPELINE / (t - last));
        last = t;
    }
    double wall = now_s() - t0;
    if (g.starts && fclose(g.starts) != 0)
        die("cannot write %s", starts);
    lineage_close(g.lg);
    double tc = now_s();
    store_close(st);
    double close_s = now_s() - tc;
    if (tsv_dir) {
        write_file(tsv_dir, "nodes.tsv", &g.tsv_n);
        write_file(tsv_dir, "events.tsv", &g.tsv_e);
    }
    uint64_t contexts = (uint64_t)g.projects;
    printf("RESULT nodes=%" PRIu64 " contexts=%" PRIu64 " events=%" PRIu64 " runs=%" PRIu64
           " projects=%d versions=%d seconds=%.2f api_seconds=%.2f close_seconds=%.2f"
           " nodes_per_s=%.0f api_nodes_per_s=%.0f runs_per_s=%.0f\n",
           g.nodes, contexts, g.events, g.runs, g.projects, versions, wall, g.api_s, close_s,
           (double)(g.nodes + contexts) / wall, (double)(g.nodes + contexts) / g.api_s,
           (double)g.runs / wall);
    fprintf(stderr,
            "load: %" PRIu64 " nodes + %" PRIu64 " contexts, %" PRIu64 " events in %" PRIu64
            " runs: %.1f s (%.1f s in lineage_record_run) = %.0f nodes/s\n",
            g.nodes, contexts, g.events, g.runs, wall, g.api_s,
            (double)(g.nodes + contexts) / wall);
    buf_free(&g.tsv_n);
    buf_free(&g.tsv_e);
    free(g.prev_models);
    return 0;
}

/* ---- http mode ------------------------------------------------------------------------ */

typedef struct hclient {
    int fd;
    int port;
    int index, versions, projects;
    bool batch;
    char *in;
    size_t in_cap;
    uint64_t nodes, events, requests;
    uint64_t *lat_us;
    size_t nlat, cap_lat;
    const char *body; /* the last answer's body, in `in` */
    char error[256];
} hclient;

static int hconnect(hclient *c)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return connect(c->fd, (struct sockaddr *)&a, sizeof a);
}

/* POST a JSON body; returns the first "id" of the answer (0 when none) or -1.
 * The answer's body stays in c->in (from c->body) until the next request. */
static int64_t hpost(hclient *c, const char *path, const char *body)
{
    char head[256];
    size_t blen = strlen(body);
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      path, blen);
    double t0 = now_s();
    struct {
        const char *p;
        size_t n;
    } parts[2] = {{head, (size_t)hl}, {body, blen}};
    for (int i = 0; i < 2; i++)
        for (size_t off = 0; off < parts[i].n;) {
            ssize_t w = send(c->fd, parts[i].p + off, parts[i].n - off, MSG_NOSIGNAL);
            if (w <= 0) {
                snprintf(c->error, sizeof c->error, "send: %s", strerror(errno));
                return -1;
            }
            off += (size_t)w;
        }
    size_t have = 0, need = 0, head_end = 0;
    for (;;) {
        if (have + 4096 > c->in_cap) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 65536;
            c->in = realloc(c->in, c->in_cap);
            if (!c->in)
                die("out of memory");
        }
        ssize_t r = recv(c->fd, c->in + have, c->in_cap - have - 1, 0);
        if (r <= 0) {
            snprintf(c->error, sizeof c->error, "recv: %s", r == 0 ? "closed" : strerror(errno));
            return -1;
        }
        have += (size_t)r;
        c->in[have] = '\0';
        if (!head_end) {
            char *e = strstr(c->in, "\r\n\r\n");
            if (!e)
                continue;
            head_end = (size_t)(e - c->in) + 4;
            char *cl = strcasestr(c->in, "Content-Length:");
            if (!cl || cl > e)
                die("an answer without Content-Length");
            need = head_end + strtoul(cl + 15, NULL, 10);
        }
        if (have >= need)
            break;
    }
    double us = (now_s() - t0) * 1e6;
    if (c->nlat == c->cap_lat) {
        c->cap_lat = c->cap_lat ? c->cap_lat * 2 : 4096;
        c->lat_us = realloc(c->lat_us, c->cap_lat * sizeof *c->lat_us);
        if (!c->lat_us)
            die("out of memory");
    }
    c->lat_us[c->nlat++] = (uint64_t)us;
    c->requests++;
    int status = atoi(c->in + 9);
    if (status != (c->batch ? 200 : 201)) {
        snprintf(c->error, sizeof c->error, "POST %s: %d %.150s", path, status, c->in + head_end);
        return -1;
    }
    c->in[need] = '\0';
    c->body = c->in + head_end;
    const char *id = strstr(c->in + head_end, "\"id\":");
    return id ? strtoll(id + 5, NULL, 10) : 0;
}

/* hpost with a printf-formatted body. */
static int64_t hpostf(hclient *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int64_t hpostf(hclient *c, const char *path, const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    return hpost(c, path, body);
}

static int hevent(hclient *c, int64_t a, int64_t e, const char *type)
{
    char body[128];
    snprintf(body, sizeof body,
             "{\"artifact_id\":%" PRId64 ",\"execution_id\":%" PRId64 ",\"type\":\"%s\"}", a, e,
             type);
    if (hpost(c, "/v1/events", body) < 0)
        return -1;
    c->events++;
    return 0;
}

/* One pipeline run (the shape above) through HTTP; prev: 3 model ids. Every
 * request's answer is checked; -1 stops the connection with c->error set. */
static int hpipeline(hclient *c, int j, int v, int64_t *prev)
{
    static const char *const entities[3] = {"customer", "account", "merchant"};
    int64_t fs[3], src[2], xid, ds;
    int h = c->index;
    for (int f = 0; f < 2; f++) {
        char sha[65];
        fake_sha(sha, j + h * 1000000, v, f);
        src[f] = hpostf(c, "/v1/artifacts",
                        "{\"type\":\"SourceFile\",\"name\":\"sha256:%s\",\"uri\":"
                        "\"file:///data/h%d/p%d/v%d/%d.csv\",\"state\":\"LIVE\",\"properties\":"
                        "{\"format\":\"csv\",\"sha256\":\"%s\",\"bytes\":1000000,\"rows\":10000}}",
                        sha, h, j, v, f, sha);
        if (src[f] < 0)
            return -1;
        c->nodes++;
    }
    for (int i = 0; i < 3; i++) {
        if ((xid = hpostf(c, "/v1/executions",
                          "{\"type\":\"Import\",\"name\":\"import-h%d-%d-%d-%d\",\"state\":"
                          "\"COMPLETE\",\"properties\":{\"entity\":\"%s\",\"format\":\"csv\","
                          "\"job_id\":\"h%d-%d-%d-%d\",\"rows_imported\":9990,"
                          "\"values_written\":29970}}",
                          h, j, v, i, entities[i], h, j, v, i)) < 0 ||
            (fs[i] = hpostf(c, "/v1/artifacts",
                            "{\"type\":\"FeatureSet\",\"state\":\"LIVE\",\"properties\":{"
                            "\"entity\":\"%s\",\"features\":[\"f1\",\"f2\",\"f3\"],"
                            "\"feature_count\":3}}",
                            entities[i])) < 0)
            return -1;
        c->nodes += 2;
        if (hevent(c, src[i < 2 ? 0 : 1], xid, "INPUT") || hevent(c, fs[i], xid, "OUTPUT"))
            return -1;
    }
    if ((xid = hpostf(c, "/v1/executions",
                      "{\"type\":\"Export\",\"name\":\"export-h%d-%d-%d\",\"state\":"
                      "\"COMPLETE\",\"properties\":{\"feature_refs\":[\"customer:f1\","
                      "\"account:f1\",\"merchant:f3\"],\"as_of\":\"2024-06-01T00:00:00Z\","
                      "\"instance_source\":\"file:///i.csv\"}}",
                      h, j, v)) < 0 ||
        (ds = hpostf(c, "/v1/artifacts",
                     "{\"type\":\"Dataset\",\"name\":\"h%d-p%d-v%d\",\"state\":\"LIVE\","
                     "\"properties\":{\"format\":\"csv\",\"rows\":50000}}",
                     h, j, v)) < 0)
        return -1;
    c->nodes += 2;
    for (int i = 0; i < 3; i++)
        if (hevent(c, fs[i], xid, "INPUT"))
            return -1;
    if (hevent(c, ds, xid, "OUTPUT"))
        return -1;
    for (int k = 0; k < 3; k++) {
        int64_t tr, m, mt, ev, em, fr;
        if ((tr = hpostf(c, "/v1/executions",
                         "{\"type\":\"Train\",\"name\":\"train-h%d-%d-%d-%d\",\"state\":"
                         "\"COMPLETE\",\"properties\":{\"model\":\"h%dp%dk%d\",\"version\":%d,"
                         "\"hyperparameters\":{\"l2\":0.01,\"max_iterations\":100}}}",
                         h, j, v, k, h, j, k, v)) < 0 ||
            (m = hpostf(c, "/v1/artifacts",
                        "{\"type\":\"Model\",\"name\":\"h%dp%dk%d@%d\",\"state\":\"LIVE\","
                        "\"properties\":{\"model\":\"h%dp%dk%d\",\"version\":%d}}",
                        h, j, k, v, h, j, k, v)) < 0 ||
            (mt = hpostf(c, "/v1/artifacts", "%s",
                         "{\"type\":\"Metrics\",\"state\":\"LIVE\",\"properties\":{"
                         "\"split\":\"train\",\"metrics\":{\"roc_auc\":0.8},\"n\":40000}}")) < 0)
            return -1;
        c->nodes += 3;
        if (hevent(c, ds, tr, "INPUT") || (prev[k] && hevent(c, prev[k], tr, "INPUT")) ||
            hevent(c, m, tr, "OUTPUT") || hevent(c, mt, tr, "OUTPUT"))
            return -1;
        if ((ev = hpostf(c, "/v1/executions",
                         "{\"type\":\"Evaluate\",\"name\":\"eval-h%d-%d-%d-%d\",\"state\":"
                         "\"COMPLETE\",\"properties\":{\"evaluation_id\":\"e%d-%d-%d-%d\"}}",
                         h, j, v, k, h, j, v, k)) < 0 ||
            (em = hpostf(c, "/v1/artifacts", "%s",
                         "{\"type\":\"Metrics\",\"state\":\"LIVE\",\"properties\":{"
                         "\"split\":\"eval\",\"metrics\":{\"roc_auc\":0.78},\"n\":10000}}")) < 0 ||
            (fr = hpostf(c, "/v1/artifacts", "%s",
                         "{\"type\":\"FairnessReport\",\"state\":\"LIVE\",\"properties\":{"
                         "\"four_fifths_rule\":\"pass\"}}")) < 0)
            return -1;
        c->nodes += 3;
        if (hevent(c, m, ev, "INPUT") || hevent(c, em, ev, "OUTPUT") || hevent(c, fr, ev, "OUTPUT"))
            return -1;
        prev[k] = m;
    }
    return 0;
}

/* A growing request body. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (w < 0)
            die("vsnprintf failed");
        if ((size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        b->cap = b->cap * 2 + (size_t)w + 1;
        if (!(b->p = realloc(b->p, b->cap)))
            die("out of memory");
    }
}

/* One event of a batch: artifact by index (or by id when aid > 0), execution
 * by index. */
static void sb_event(sbuf *b, bool *first, int ai, int64_t aid, int xi, const char *type)
{
    if (aid > 0)
        sb_printf(b, "%s{\"artifact_id\":%" PRId64 ",\"execution_index\":%d,\"type\":\"%s\"}",
                  *first ? "" : ",", aid, xi, type);
    else
        sb_printf(b, "%s{\"artifact_index\":%d,\"execution_index\":%d,\"type\":\"%s\"}",
                  *first ? "" : ",", ai, xi, type);
    *first = false;
}

/* The same pipeline run as hpipeline, as ONE POST /v1/lineage:batch: the 18
 * artifacts and 10 executions (the same names and properties) and every event,
 * the run's own nodes named by index, the previous model version by id. */
static int hpipeline_batch(hclient *c, int j, int v, int64_t *prev)
{
    static const char *const entities[3] = {"customer", "account", "merchant"};
    int h = c->index;
    sbuf b = {0};
    int rc = -1;
    /* Artifacts: 0-1 source files, 2-4 feature sets, 5 the dataset, then per
     * k: 6+4k model, 7+4k train metrics, 8+4k eval metrics, 9+4k fairness. */
    sb_printf(&b, "{\"artifacts\":[");
    for (int f = 0; f < 2; f++) {
        char sha[65];
        fake_sha(sha, j + h * 1000000, v, f);
        sb_printf(&b,
                  "%s{\"type\":\"SourceFile\",\"name\":\"sha256:b%s\",\"uri\":"
                  "\"file:///data/b%d/p%d/v%d/%d.csv\",\"state\":\"LIVE\",\"properties\":"
                  "{\"format\":\"csv\",\"sha256\":\"%s\",\"bytes\":1000000,\"rows\":10000}}",
                  f ? "," : "", sha, h, j, v, f, sha);
    }
    for (int i = 0; i < 3; i++)
        sb_printf(&b,
                  ",{\"type\":\"FeatureSet\",\"state\":\"LIVE\",\"properties\":{"
                  "\"entity\":\"%s\",\"features\":[\"f1\",\"f2\",\"f3\"],\"feature_count\":3}}",
                  entities[i]);
    sb_printf(&b,
              ",{\"type\":\"Dataset\",\"name\":\"b%d-p%d-v%d\",\"state\":\"LIVE\","
              "\"properties\":{\"format\":\"csv\",\"rows\":50000}}",
              h, j, v);
    for (int k = 0; k < 3; k++)
        sb_printf(&b,
                  ",{\"type\":\"Model\",\"name\":\"b%dp%dk%d@%d\",\"state\":\"LIVE\","
                  "\"properties\":{\"model\":\"b%dp%dk%d\",\"version\":%d}}"
                  ",{\"type\":\"Metrics\",\"state\":\"LIVE\",\"properties\":{"
                  "\"split\":\"train\",\"metrics\":{\"roc_auc\":0.8},\"n\":40000}}"
                  ",{\"type\":\"Metrics\",\"state\":\"LIVE\",\"properties\":{"
                  "\"split\":\"eval\",\"metrics\":{\"roc_auc\":0.78},\"n\":10000}}"
                  ",{\"type\":\"FairnessReport\",\"state\":\"LIVE\",\"properties\":{"
                  "\"four_fifths_rule\":\"pass\"}}",
                  h, j, k, v, h, j, k, v);
    /* Executions: 0-2 imports, 3 the export, then per k: 4+2k train, 5+2k
     * evaluation. */
    sb_printf(&b, "],\"executions\":[");
    for (int i = 0; i < 3; i++)
        sb_printf(&b,
                  "%s{\"type\":\"Import\",\"name\":\"import-b%d-%d-%d-%d\",\"state\":"
                  "\"COMPLETE\",\"properties\":{\"entity\":\"%s\",\"format\":\"csv\","
                  "\"job_id\":\"b%d-%d-%d-%d\",\"rows_imported\":9990,"
                  "\"values_written\":29970}}",
                  i ? "," : "", h, j, v, i, entities[i], h, j, v, i);
    sb_printf(&b,
              ",{\"type\":\"Export\",\"name\":\"export-b%d-%d-%d\",\"state\":"
              "\"COMPLETE\",\"properties\":{\"feature_refs\":[\"customer:f1\","
              "\"account:f1\",\"merchant:f3\"],\"as_of\":\"2024-06-01T00:00:00Z\","
              "\"instance_source\":\"file:///i.csv\"}}",
              h, j, v);
    for (int k = 0; k < 3; k++)
        sb_printf(&b,
                  ",{\"type\":\"Train\",\"name\":\"train-b%d-%d-%d-%d\",\"state\":"
                  "\"COMPLETE\",\"properties\":{\"model\":\"b%dp%dk%d\",\"version\":%d,"
                  "\"hyperparameters\":{\"l2\":0.01,\"max_iterations\":100}}}"
                  ",{\"type\":\"Evaluate\",\"name\":\"eval-b%d-%d-%d-%d\",\"state\":"
                  "\"COMPLETE\",\"properties\":{\"evaluation_id\":\"e%d-%d-%d-%d\"}}",
                  h, j, v, k, h, j, k, v, h, j, v, k, h, j, v, k);
    sb_printf(&b, "],\"events\":[");
    bool first = true;
    int nev = 0;
    for (int i = 0; i < 3; i++) {
        sb_event(&b, &first, i < 2 ? 0 : 1, 0, i, "INPUT");
        sb_event(&b, &first, 2 + i, 0, i, "OUTPUT");
        nev += 2;
    }
    for (int i = 0; i < 3; i++)
        sb_event(&b, &first, 2 + i, 0, 3, "INPUT");
    sb_event(&b, &first, 5, 0, 3, "OUTPUT");
    nev += 4;
    for (int k = 0; k < 3; k++) {
        int m = 6 + 4 * k, tr = 4 + 2 * k, ev = 5 + 2 * k;
        sb_event(&b, &first, 5, 0, tr, "INPUT");
        if (prev[k]) {
            sb_event(&b, &first, 0, prev[k], tr, "INPUT");
            nev++;
        }
        sb_event(&b, &first, m, 0, tr, "OUTPUT");
        sb_event(&b, &first, m + 1, 0, tr, "OUTPUT");
        sb_event(&b, &first, m, 0, ev, "INPUT");
        sb_event(&b, &first, m + 2, 0, ev, "OUTPUT");
        sb_event(&b, &first, m + 3, 0, ev, "OUTPUT");
        nev += 6;
    }
    sb_printf(&b, "]}");
    if (hpost(c, "/v1/lineage:batch", b.p) < 0)
        goto out;
    /* The new models' ids, for the next version's warm start. */
    const char *ids = strstr(c->body, "\"artifact_ids\":[");
    if (!ids) {
        snprintf(c->error, sizeof c->error, "no artifact_ids in %.150s", c->body);
        goto out;
    }
    ids += strlen("\"artifact_ids\":[");
    for (int i = 0; i < 18; i++) {
        char *end;
        long long id = strtoll(ids, &end, 10);
        if (end == ids || id <= 0) {
            snprintf(c->error, sizeof c->error, "bad artifact_ids in %.150s", c->body);
            goto out;
        }
        if (i >= 6 && (i - 6) % 4 == 0)
            prev[(i - 6) / 4] = id;
        ids = end + 1;
    }
    c->nodes += NODES_PER_PIPELINE;
    c->events += (uint64_t)nev;
    rc = 0;
out:
    free(b.p);
    return rc;
}

static void *hthread(void *arg)
{
    hclient *c = arg;
    int64_t *prev = calloc((size_t)c->projects * 3, sizeof *prev);
    if (!prev)
        die("out of memory");
    if (hconnect(c)) {
        snprintf(c->error, sizeof c->error, "connect: %s", strerror(errno));
        goto out;
    }
    for (int v = 1; v <= c->versions; v++)
        for (int j = 0; j < c->projects; j++)
            if ((c->batch ? hpipeline_batch : hpipeline)(c, j, v, &prev[j * 3]))
                goto out;
out:
    if (c->fd >= 0)
        close(c->fd);
    free(prev);
    return NULL;
}

static int u64cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int run_http(int port, long nodes, int conns, int versions, bool batch)
{
    hclient *cs = calloc((size_t)conns, sizeof *cs);
    pthread_t *th = calloc((size_t)conns, sizeof *th);
    if (!cs || !th)
        die("out of memory");
    long per_pipeline = NODES_PER_PIPELINE;
    int projects =
        (int)((nodes + per_pipeline * versions * conns - 1) / (per_pipeline * versions * conns));
    if (projects < 1)
        projects = 1;
    double t0 = now_s();
    for (int i = 0; i < conns; i++) {
        cs[i] = (hclient){.fd = -1,
                          .port = port,
                          .index = i,
                          .versions = versions,
                          .projects = projects,
                          .batch = batch};
        pthread_create(&th[i], NULL, hthread, &cs[i]);
    }
    uint64_t total_nodes = 0, total_events = 0, total_req = 0, nlat = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        if (cs[i].error[0])
            die("connection %d: %s", i, cs[i].error);
        total_nodes += cs[i].nodes;
        total_events += cs[i].events;
        total_req += cs[i].requests;
        nlat += cs[i].nlat;
    }
    double secs = now_s() - t0;
    uint64_t *lat = malloc((nlat + 1) * sizeof *lat);
    size_t k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(lat + k, cs[i].lat_us, cs[i].nlat * sizeof *lat);
        k += cs[i].nlat;
        free(cs[i].lat_us);
        free(cs[i].in);
    }
    qsort(lat, nlat, sizeof *lat, u64cmp);
    uint64_t p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[nlat * 99 / 100] : 0;
    printf("RESULT mode=%s nodes=%" PRIu64 " events=%" PRIu64 " requests=%" PRIu64
           " connections=%d seconds=%.2f nodes_per_s=%.0f requests_per_s=%.0f p50_us=%" PRIu64
           " p99_us=%" PRIu64 "\n",
           batch ? "batch" : "single", total_nodes, total_events, total_req, conns, secs,
           (double)total_nodes / secs, (double)total_req / secs, p50, p99);
    fprintf(stderr,
            "load: HTTP%s: %" PRIu64 " nodes + %" PRIu64 " events (%" PRIu64
            " requests) on %d connections in %.1f s = %.0f nodes/s, %.0f requests/s; "
            "per request p50 %" PRIu64 " us, p99 %" PRIu64 " us\n",
            batch ? " (lineage:batch)" : "", total_nodes, total_events, total_req, conns, secs,
            (double)total_nodes / secs, (double)total_req / secs, p50, p99);
    free(lat);
    free(cs);
    free(th);
    return 0;
}

/* ---- main ----------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: load graph --data-dir DIR --nodes N [--versions L] [--starts FILE] "
                    "[--tsv-dir DIR]\n"
                    "       load http --port P --nodes N [--connections C] [--versions L] "
                    "[--batch]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *starts = NULL, *tsv = NULL;
    long nodes = 0;
    int port = 0, conns = 8, versions = 12;
    bool batch = false;
    if (argc < 2)
        usage();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--batch") == 0) {
            batch = true;
            continue;
        }
        if (!v)
            usage();
        if (strcmp(a, "--data-dir") == 0)
            dir = v;
        else if (strcmp(a, "--nodes") == 0)
            nodes = atol(v);
        else if (strcmp(a, "--versions") == 0)
            versions = atoi(v);
        else if (strcmp(a, "--starts") == 0)
            starts = v;
        else if (strcmp(a, "--tsv-dir") == 0)
            tsv = v;
        else if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--connections") == 0)
            conns = atoi(v);
        else
            usage();
        i++;
    }
    if (nodes <= 0 || versions < 1 || conns < 1)
        usage();
    if (strcmp(argv[1], "graph") == 0 && dir)
        return run_graph(dir, nodes, versions, starts, tsv);
    if (strcmp(argv[1], "http") == 0 && port > 0)
        return run_http(port, nodes, conns, versions, batch);
    usage();
}
