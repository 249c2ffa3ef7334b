/*
 * test_client.c - libstrata's strata_request_stream against the real HTTP
 * server (serving/http.c) on a loopback port: a 2xx body sent in pieces
 * reaches `write` byte for byte with the request sent as strata_request
 * sends it (token, content type, body); a refusal is reported as
 * strata_request reports it; a `write` that stops ends the transfer and the
 * client stays usable; a stream cut after its head, or one that stalls, is
 * told apart from one that never reached a server; a slow but moving stream
 * has no overall timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/strata.h"
#include "serving/http.h"

#define PIECES 64
#define TOKEN "tok-stream-1"

/* ---- the server side --------------------------------------------------------------------- */

enum kind { STREAM, CUT, SLOW, STALL, ENDLESS };

typedef struct producer {
    http_stream *s;
    enum kind kind;
} producer;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool released; /* STALL's producer may end */
static pthread_t threads[8];
static int nthreads;
static char seen_auth[128], seen_type[64], seen_body[128];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Piece i of STREAM: (i * 977) % 4096 + 1 bytes of a position-dependent pattern. */
static size_t piece(int i, uint64_t at, unsigned char *out)
{
    size_t n = (size_t)(i * 977) % 4096 + 1;
    for (size_t k = 0; k < n; k++)
        out[k] = (unsigned char)((at + k) * 31 + 7);
    return n;
}

static void expected_stream(buf *b)
{
    unsigned char p[4096];
    for (int i = 0; i < PIECES; i++)
        buf_append(b, p, piece(i, b->n, p));
}

static void *produce(void *arg)
{
    producer *pr = arg;
    unsigned char p[4096];
    uint64_t at = 0;
    bool ok = true;
    switch (pr->kind) {
    case STREAM:
        for (int i = 0; i < PIECES && ok; i++) {
            size_t n = piece(i, at, p);
            ok = http_stream_write(pr->s, p, n) == 0;
            at += n;
            if (i % 8 == 0)
                sleep_ms(2); /* let the pieces arrive apart */
        }
        break;
    case CUT: /* an export failing midway */
        memset(p, 'x', 1000);
        http_stream_write(pr->s, p, 1000);
        sleep_ms(50);
        ok = false;
        break;
    case SLOW: /* 2 s in all, but a byte every 250 ms */
        for (int i = 0; i < 8 && ok; i++) {
            ok = http_stream_write(pr->s, "y", 1) == 0;
            sleep_ms(250);
        }
        break;
    case STALL:
        http_stream_write(pr->s, "z", 1);
        pthread_mutex_lock(&mu);
        while (!released)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        ok = false;
        break;
    case ENDLESS: /* until the client goes away */
        memset(p, 'e', sizeof p);
        for (int i = 0; i < 100000 && ok; i++)
            ok = http_stream_write(pr->s, p, sizeof p) == 0;
        ok = false;
        break;
    }
    http_stream_end(pr->s, ok);
    free(pr);
    return NULL;
}

static void copy_slice(char *out, size_t cap, slice s)
{
    snprintf(out, cap, "%.*s", (int)s.n, s.p ? s.p : "");
}

static void start_stream(http_req *req, void *ctx)
{
    (void)ctx;
    static const struct {
        const char *path;
        enum kind kind;
    } kinds[] = {{"/stream", STREAM},
                 {"/cut", CUT},
                 {"/slow", SLOW},
                 {"/stall", STALL},
                 {"/endless", ENDLESS}};
    /* A server thread: no cmocka asserts here, abort() on the impossible. */
    producer *pr = calloc(1, sizeof *pr);
    if (!pr)
        abort();
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (slice_eq_str(req->path, kinds[i].path))
            pr->kind = kinds[i].kind;
    pthread_mutex_lock(&mu);
    copy_slice(seen_auth, sizeof seen_auth, req->authorization);
    copy_slice(seen_type, sizeof seen_type, req->content_type);
    copy_slice(seen_body, sizeof seen_body, req->body);
    pr->s = http_stream_start(req, 200, "text/csv");
    if (nthreads == (int)(sizeof threads / sizeof threads[0]) ||
        pthread_create(&threads[nthreads], NULL, produce, pr) != 0)
        abort();
    nthreads++;
    pthread_mutex_unlock(&mu);
}

static void refuse(http_req *req, void *ctx)
{
    (void)ctx;
    strata_err e = STRATA_ERR_INIT;
    err_set(&e, STRATA_NOT_FOUND, "feature \"nope\" not found");
    err_add_detail(&e, json_pack("{s:s}", "feature", "nope"));
    http_reply_error(req, &e);
    err_clear(&e);
}

static void ok(http_req *req, void *ctx)
{
    (void)ctx;
    buf_append_str(&req->resp, "{\"ok\":true}");
    http_reply_json(req, 200);
}

static http_handler route(http_req *req, void *ctx, int *status)
{
    (void)ctx;
    (void)status;
    if (slice_eq_str(req->path, "/refuse"))
        return refuse;
    if (slice_eq_str(req->path, "/ok"))
        return ok;
    return start_stream;
}

/* What a `write` was handed. */
typedef struct got {
    buf b;
    int calls;
    int stop_at; /* stop on this call (0: never) */
} got;

static int collect(void *arg, const void *p, size_t n)
{
    got *g = arg;
    g->calls++;
    buf_append(&g->b, p, n);
    return g->stop_at && g->calls >= g->stop_at;
}

/* A server, a client of it, and the last stream's outcome. */
typedef struct fixture {
    http_server *srv;
    strata_client *c;
    got g;
    long http;
    strata_err err;
} fixture;

static void open_both(fixture *f, long timeout_ms)
{
    http_server_options o = {0};
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    o.limits = limits_default();
    o.router = route;
    *f = (fixture){.g = {BUF_INIT, 0, 0}, .http = -1, .err = STRATA_ERR_INIT};
    assert_int_equal(http_server_start(&o, &f->srv, &f->err), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", http_server_port(f->srv));
    strata_client_options co = {.url = url, .token = TOKEN, .timeout_ms = timeout_ms};
    assert_int_equal(strata_client_open(&co, &f->c, &f->err), 0);
    released = false;
    nthreads = 0;
}

static void close_both(fixture *f)
{
    pthread_mutex_lock(&mu);
    released = true;
    pthread_cond_broadcast(&cv);
    int n = nthreads;
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    strata_client_close(f->c);
    http_server_stop(f->srv);
    buf_free(&f->g.b);
    err_clear(&f->err);
}

static int setup_timeout(void **state, long timeout_ms)
{
    fixture *f = malloc(sizeof *f);
    assert_non_null(f);
    open_both(f, timeout_ms);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_timeout(state, 5000);
}

/* A client with a 1 s timeout. */
static int setup_1s(void **state)
{
    return setup_timeout(state, 1000);
}

static int teardown(void **state)
{
    close_both(*state);
    free(*state);
    return 0;
}

/* POST path as a stream into f->g, expecting `status` and HTTP `http`; f->err
 * holds the message. */
static void expect(fixture *f, const char *path, int status, long http)
{
    static const char body[] = "{\"entity\":\"customer\"}";
    buf_reset(&f->g.b);
    f->g.calls = 0;
    err_clear(&f->err);
    assert_int_equal(strata_request_stream(f->c, "POST", path, "application/json", body,
                                           sizeof body - 1, collect, &f->g, &f->http, &f->err),
                     status);
    assert_int_equal(f->http, http);
}

/* A 2xx body in pieces is handed on as the server sent it; the request went
 * out with the token, content type and body. */
static void stream_in_pieces(void **state)
{
    fixture *f = *state;
    expect(f, "/stream", STRATA_OK, 200);
    buf want = BUF_INIT;
    expected_stream(&want);
    assert_int_equal(f->g.b.n, want.n);
    assert_memory_equal(f->g.b.p, want.p, want.n);
    assert_true(f->g.calls > 1);
    assert_string_equal(seen_auth, "Bearer " TOKEN);
    assert_string_equal(seen_type, "application/json");
    assert_string_equal(seen_body, "{\"entity\":\"customer\"}");
    buf_free(&want);
}

/* A refusal: the mapped status, the server's message and details, nothing
 * handed to write; as strata_request reports it. */
static void refusal_as_strata_request(void **state)
{
    fixture *f = *state;
    expect(f, "/refuse", STRATA_NOT_FOUND, 404);
    assert_int_equal(f->g.calls, 0);
    assert_string_equal(f->err.message, "feature \"nope\" not found");
    json_t *detail = json_array_get(f->err.details, 0);
    assert_int_equal(json_array_size(f->err.details), 1);
    assert_string_equal(json_string_value(json_object_get(detail, "feature")), "nope");
    strata_response resp = STRATA_RESPONSE_INIT;
    strata_err err2 = STRATA_ERR_INIT;
    assert_int_equal(strata_request(f->c, "POST", "/refuse", NULL, "{}", 2, &resp, &err2),
                     STRATA_NOT_FOUND);
    assert_string_equal(err2.message, f->err.message);
    strata_response_free(&resp);
    err_clear(&err2);
}

/* A write that stops: the transfer ends at once with STRATA_IO saying so, and
 * the client serves the next request. */
static void write_stops_transfer(void **state)
{
    fixture *f = *state;
    f->g.stop_at = 1;
    expect(f, "/endless", STRATA_IO, 200);
    assert_int_equal(f->g.calls, 1);
    assert_non_null(strstr(f->err.message, "stopped by the caller after 0 bytes"));
    json_t *doc = NULL;
    assert_int_equal(strata_request_json(f->c, "GET", "/ok", NULL, &doc, &f->err), STRATA_OK);
    assert_true(json_is_true(json_object_get(doc, "ok")));
    json_decref(doc);
}

/* Cut after its head: STRATA_IO with the 2xx status (the CLI's "failed on the
 * server after N bytes"). */
static void cut_after_head(void **state)
{
    fixture *f = *state;
    expect(f, "/cut", STRATA_IO, 200);
    assert_true(f->g.b.n <= 1000);
    assert_non_null(strstr(f->err.message, "lost connection to stratad at http://127.0.0.1:"));
}

/* No overall timeout: 2 s of a byte every 250 ms passes a 1 s client; a
 * stream that stops moving fails as a timeout after its 2xx head. */
static void slow_passes_stall_fails(void **state)
{
    fixture *f = *state;
    expect(f, "/slow", STRATA_OK, 200);
    assert_int_equal(f->g.b.n, 8);
    time_t t0 = time(NULL);
    expect(f, "/stall", STRATA_IO, 200);
    assert_int_equal(f->g.b.n, 1);
    assert_non_null(strstr(f->err.message, "no answer in time"));
    assert_true(time(NULL) - t0 < 10);
}

/* Without a server: bad arguments are caught before anything is sent, and
 * a refused connection is STRATA_IO with HTTP status 0 (the CLI's "cannot
 * reach stratad"). */
static void no_server(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd); /* a free port nobody listens on */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    strata_client_options co = {.url = url, .token = "a\nb", .timeout_ms = 2000};
    assert_int_equal(strata_client_open(&co, &c, &err), STRATA_INVALID_ARGUMENT);
    co.token = NULL;
    assert_int_equal(strata_client_open(&co, &c, &err), STRATA_OK);
    long http = -1;
    got g = {BUF_INIT, 0, 0};
    assert_int_equal(strata_request_stream(c, "POST", "/x", NULL, NULL, 0, NULL, NULL, &http, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_int_equal(http, 0);
    assert_int_equal(
        strata_request_stream(c, "POST", "no-slash", NULL, NULL, 0, collect, &g, NULL, &err),
        STRATA_INVALID_ARGUMENT);
    http = -1;
    assert_int_equal(
        strata_request_stream(c, "GET", "/stream", NULL, NULL, 0, collect, &g, &http, &err),
        STRATA_IO);
    assert_int_equal(http, 0);
    assert_int_equal(g.calls, 0);
    assert_non_null(strstr(err.message, "cannot reach stratad at"));
    err_clear(&err);
    strata_client_close(c);
}

int main(void)
{
    /* As stratad does: a client gone mid-stream is a write error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(stream_in_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(refusal_as_strata_request, setup, teardown),
        cmocka_unit_test_setup_teardown(write_stops_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(cut_after_head, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_passes_stall_fails, setup_1s, teardown),
        cmocka_unit_test(no_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
