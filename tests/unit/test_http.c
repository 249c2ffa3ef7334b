/*
 * test_http.c - the HTTP server's connection hand-off: connections spread
 * evenly over the workers, the max_connections accounting (503 past the
 * limit, slots given back on close), and stopping with connections open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "serving/http.h"

/* Answers with the address of the worker that ran the request. */
static void whoami(http_req *req, void *ctx)
{
    (void)ctx;
    buf_printf(&req->resp, "{\"worker\":\"%p\"}", req->worker);
    http_reply_json(req, 200);
}

static http_handler route_all(http_req *req, void *ctx, int *status)
{
    (void)req;
    (void)ctx;
    (void)status;
    return whoami;
}

static http_server *start(int threads, uint32_t max_connections)
{
    http_server_options o = {0};
    o.listen = "127.0.0.1:0";
    o.threads = threads;
    o.limits = limits_default();
    o.limits.max_connections = max_connections;
    o.router = route_all;
    http_server *srv = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(http_server_start(&o, &srv, &err), 0);
    return srv;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* One request on fd; the whole answer (head and body) into out. */
static void get(int fd, char *out, size_t cap)
{
    static const char req[] = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(send(fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        out[n] = '\0';
        const char *end = strstr(out, "\r\n\r\n");
        const char *cl = strstr(out, "Content-Length: ");
        if (end && cl && n >= (size_t)(end + 4 - out) + strtoul(cl + 16, NULL, 10))
            break;
    }
    out[n] = '\0';
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Eight connections over two workers land four and four, whatever the order
 * in which the workers wake (with one shared accepting socket they did not). */
static void connections_spread_evenly(void **state)
{
    (void)state;
    http_server *srv = start(2, 1000);
    int port = http_server_port(srv);
    int fds[8];
    char seen[8][64], ans[512];
    for (int i = 0; i < 8; i++) {
        fds[i] = dial(port);
        get(fds[i], ans, sizeof ans);
        assert_non_null(strstr(ans, "HTTP/1.1 200 OK"));
        const char *w = strstr(ans, "\"worker\":\"");
        assert_non_null(w);
        snprintf(seen[i], sizeof seen[i], "%.*s", (int)strcspn(w + 10, "\""), w + 10);
    }
    int same_as_first = 0;
    for (int i = 0; i < 8; i++)
        same_as_first += strcmp(seen[i], seen[0]) == 0;
    assert_int_equal(same_as_first, 4);
    /* A connection keeps its worker. */
    get(fds[3], ans, sizeof ans);
    assert_non_null(strstr(ans, seen[3]));
    assert_int_equal(http_server_connections(srv), 8);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    for (int i = 0; i < 200 && http_server_connections(srv) != 0; i++)
        sleep_ms(10);
    assert_int_equal(http_server_connections(srv), 0);
    http_server_stop(srv);
}

/* Past max_connections a client gets the contract's 503; closing one gives
 * its slot back. */
static void max_connections_accounting(void **state)
{
    (void)state;
    http_server *srv = start(2, 3);
    int port = http_server_port(srv);
    int fds[3];
    char ans[512];
    for (int i = 0; i < 3; i++) {
        fds[i] = dial(port);
        get(fds[i], ans, sizeof ans);
        assert_non_null(strstr(ans, "HTTP/1.1 200 OK"));
    }
    int extra = dial(port);
    ssize_t n = recv(extra, ans, sizeof ans - 1, 0);
    assert_true(n > 0);
    ans[n] = '\0';
    assert_non_null(strstr(ans, "HTTP/1.1 503"));
    assert_non_null(strstr(ans, "too many open connections"));
    close(extra);
    close(fds[0]);
    for (int i = 0; i < 200 && http_server_connections(srv) != 2; i++)
        sleep_ms(10);
    assert_int_equal(http_server_connections(srv), 2);
    int again = dial(port);
    get(again, ans, sizeof ans);
    assert_non_null(strstr(ans, "HTTP/1.1 200 OK"));
    close(again);
    close(fds[1]);
    close(fds[2]);
    http_server_stop(srv);
}

/* Stopping frees connections that are idle, mid-request, or only just
 * accepted (the sanitizer build checks nothing leaks or is used after free). */
static void stop_with_connections_open(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        http_server *srv = start(2, 1000);
        int port = http_server_port(srv);
        int idle = dial(port), partial = dial(port), fresh = dial(port);
        char ans[512];
        get(idle, ans, sizeof ans);
        static const char half[] = "GET /x HTTP/1.1\r\nHo";
        assert_int_equal(send(partial, half, sizeof half - 1, 0), (ssize_t)(sizeof half - 1));
        http_server_stop(srv);
        /* The server's ends are closed: a read sees EOF or a reset. */
        assert_true(recv(idle, ans, sizeof ans, 0) <= 0);
        close(idle);
        close(partial);
        close(fresh);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connections_spread_evenly),
        cmocka_unit_test(max_connections_accounting),
        cmocka_unit_test(stop_with_connections_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
