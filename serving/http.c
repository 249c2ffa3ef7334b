/*
 * http.c - the HTTP/1.1 server.
 *
 * NOTES ON THE DESIGN
 * - One listening socket and one acceptor thread, which hands every accepted
 *   connection to the worker with the fewest open connections (ties go round
 *   robin) through that worker's inbox: a locked fd queue plus an event the
 *   acceptor activates. A connection then lives on that worker's event_base
 *   for its whole life; no other state crosses threads. (Before, every worker
 *   accepted from the shared socket and whichever woke first took the
 *   connection: under an open-loop load one worker could hold most of the
 *   connections and saturate while the other idled, which made the tail. One
 *   SO_REUSEPORT socket per worker would hash 64 connections over 2 workers
 *   about as unevenly as 28/36, and lets a second process bind the same port
 *   silently; see docs/architecture.md.)
 * - The max_connections check happens in the acceptor, before the hand-off:
 *   srv->nconns counts connections from accept to conn_free, queued ones too.
 * - http-parser drives a per-connection state machine. Handlers run inside
 *   on_message_complete, so pipelined requests are answered in order.
 * - Limits come before buffering: the route and the token are checked in
 *   on_headers_complete (a 401/403 to a request with a body is sent at once and
 *   the connection closed, the body never read), Content-Length over
 *   max_body_bytes is refused there too, chunked bodies are checked as they
 *   grow, and headers are capped by http_parser_set_max_header_size.
 * - Two clocks per connection. The request timer starts at a request's first
 *   byte and fires request_timeout_s later unless the request completed: 408
 *   and close, however steadily a slowloris trickles bytes. Between requests
 *   the bufferevent's read timeout (idle_timeout_s, restarted by every read)
 *   closes an idle keep-alive connection without an answer.
 * - Pipelining is bounded by the output: once LIMIT_PIPELINE_OUTPUT_BYTES of
 *   answers wait for a client, the parser pauses and reading stops until
 *   they drain to a quarter of that (a client that never reads is cut by the
 *   write timeout, request_timeout_s without progress).
 * - A connection that must close (error, "Connection: close", HTTP/1.0) stops
 *   reading and is freed once its output has drained, then lingers: it reads
 *   and discards what the client still sends, for at most 2 s and
 *   LIMIT_LINGER_BYTES.
 * - Per-connection buffers (url, headers, body, response) are reused across
 *   keep-alive requests, so a steady stream of reads allocates nothing.
 * - TLS (opt.tls): the accepted socket is wrapped in a libevent OpenSSL
 *   bufferevent that handshakes as it reads; the parser and handlers see
 *   plaintext either way. The one place that touches the socket itself is
 *   the lingering close: with TLS it sends close_notify before half-closing,
 *   so the client can tell a complete answer from a cut connection.
 */
#include "serving/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/jsonw.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"

typedef struct worker worker;
typedef struct conn conn;

struct conn {
    worker *w;
    struct bufferevent *bev;
    http_parser parser;
    conn *prev, *next;

    /* The request being read. */
    buf url;
    buf field, value; /* header being accumulated */
    int in_value;
    buf ctype, accept, auth;
    buf body;
    bool expect_continue;
    bool in_request;
    bool too_large;
    uint64_t start_ns;
    struct event *req_timer; /* request_timeout_s from a request's first byte */
    bool timer_armed;
    size_t lingered; /* bytes discarded since the lingering close began */
    /* The route, resolved when the headers were complete. */
    http_handler handler;
    int route_status;

    /* The request being answered (reused). */
    http_req req;
    bool closing;
    http_stream *stream; /* a streamed answer in progress */
    bool out_paused;     /* reading stopped until queued answers drain */
};

/*
 * A streamed answer. The producer thread appends framed chunks to `pending`
 * under `mu` and activates `flush_ev`; on the worker, the flush moves them to
 * the connection's output. `out_len` (output bytes not yet sent, updated by
 * the worker) plus pending gives the backpressure. Two references: the
 * producer's (dropped by http_stream_end) and the connection's (dropped when
 * the worker has flushed the end, or when the connection dies).
 */
struct http_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    conn *c;                 /* NULL once the connection is gone */
    struct event *flush_ev;  /* on the connection's worker; NULL once gone */
    struct evbuffer *pending;
    size_t out_len;
    bool dead, ended, ok;
    int refs;
    /* Deferred head (http_stream_defer): the producer names the status. */
    bool deferred, head_ready, head_sent, is_reply;
    int head_status;
    const char *head_type;
    buf reply; /* http_stream_reply: the whole body */
};

struct worker {
    http_server *srv;
    struct event_base *base;
    pthread_t thread;
    conn *conns;
    /* Connections the acceptor handed over and the worker has not set up yet. */
    pthread_mutex_t inbox_mu;
    bool inbox_mu_ready;
    int *inbox;
    size_t ninbox, inbox_cap;
    struct event *inbox_ev;
    /* Open connections on this worker (queued ones included): the acceptor
     * reads it to pick the least loaded worker. */
    atomic_uint nconns;
};

struct http_server {
    http_server_options opt;
    int fd;
    int port;
    int nworkers;
    worker *workers;
    atomic_uint_fast64_t nconns;
    /* The acceptor: its own thread and event_base, the only reader of fd. */
    struct event_base *abase;
    struct evconnlistener *listener;
    pthread_t athread;
    bool athread_started;
    unsigned next_worker; /* acceptor thread only: where the tie-break starts */
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* ---- responses ----------------------------------------------------------- */

void http_reply_error(http_req *req, const strata_err *err)
{
    int code = err->code ? err->code : STRATA_INTERNAL;
    /* Not every message came through err_set (found by fuzz_json: a
     * jansson error quoting half a character): the body must be UTF-8. */
    char msg[sizeof err->message];
    memcpy(msg, err->message, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    text_scrub_utf8(msg);
    buf_reset(&req->resp);
    buf_append_str(&req->resp, "{\"error\":{\"code\":");
    jsonw_cstr(&req->resp, strata_status_code(code));
    buf_append_str(&req->resp, ",\"message\":");
    jsonw_cstr(&req->resp, msg[0] ? msg : strata_strerror(code));
    buf_append_str(&req->resp, ",\"details\":");
    if (err->details) {
        char *d = json_dumps(err->details, JSON_COMPACT);
        buf_append_str(&req->resp, d ? d : "[]");
        free(d);
    } else {
        buf_append_str(&req->resp, "[]");
    }
    buf_append_str(&req->resp, "}}");
    http_reply_json(req, strata_status_http(code));
}

void http_reply_errorf(http_req *req, int code, const char *fmt, ...)
{
    strata_err e = STRATA_ERR_INIT;
    e.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    http_reply_error(req, &e);
}

static bool media_is(slice header, const char *type)
{
    size_t n = strlen(type);
    return header.n >= n && strncasecmp(header.p, type, n) == 0 &&
           (header.n == n || header.p[n] == ';' || header.p[n] == ' ' || header.p[n] == '\t');
}

/* The q of one Accept media range "type/sub;p=v;q=0.5" (1 without one; 0 for
 * a malformed q, which a client cannot have meant as a preference). */
static double accept_q(slice range)
{
    const char *p = range.p, *end = range.p + range.n;
    while ((p = memchr(p, ';', (size_t)(end - p))) != NULL) {
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            char num[8];
            size_t n = 0;
            for (p += 2; p < end && *p != ';' && *p != ' ' && *p != '\t' && n + 1 < sizeof num; p++)
                num[n++] = *p;
            num[n] = '\0';
            char *stop = NULL;
            double q = strtod(num, &stop);
            return n && *stop == '\0' && q >= 0 && q <= 1 ? q : 0;
        }
    }
    return 1;
}

/* Protobuf when the Accept header lists application/x-protobuf with a q over
 * 0 and at least that of JSON (application/json, the application wildcard
 * or the full wildcard, when named); JSON otherwise, and by default. */
bool http_wants_protobuf(const http_req *req)
{
    if (req->accept.n == 0)
        return false; /* (and accept.p may be NULL: no pointer arithmetic on it) */
    double q_pb = 0, q_json = 0;
    const char *p = req->accept.p, *end = req->accept.p + req->accept.n;
    while (p && p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        slice range = {p, (size_t)(stop - p)};
        double q = accept_q(range);
        if (media_is(range, "application/x-protobuf")) {
            if (q > q_pb)
                q_pb = q;
        } else if (media_is(range, "application/json") || media_is(range, "application/*") ||
                   media_is(range, "*/*")) {
            if (q > q_json)
                q_json = q;
        }
        p = comma ? comma + 1 : end;
    }
    return q_pb > 0 && q_pb >= q_json;
}

bool http_sent_protobuf(const http_req *req)
{
    return media_is(req->content_type, "application/x-protobuf");
}

/* ---- query strings ------------------------------------------------------- */

/* The byte a "%XX" at in.p[i] stands for, or -1 when it is malformed. */
static int escape_at(slice in, size_t i)
{
    if (i + 2 >= in.n)
        return -1;
    int hi = text_hex_digit(in.p[i + 1]), lo = text_hex_digit(in.p[i + 2]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

bool http_query_escapes_valid(const http_req *req)
{
    for (size_t i = 0; i < req->query.n; i++)
        if (req->query.p[i] == '%' && escape_at(req->query, i) < 0)
            return false;
    return true;
}

/* plus_space: '+' reads as a space (query strings, as HTML forms, Python's
 * urlencode and most clients write them); a '+' itself is %2B there. */
static int percent_decode(slice in, buf *out, bool plus_space)
{
    buf_reset(out);
    buf_reserve(out, in.n);
    for (size_t i = 0; i < in.n; i++) {
        char c = in.p[i];
        if (c == '+' && plus_space) {
            c = ' ';
        } else if (c == '%') {
            int v = escape_at(in, i);
            if (v < 0)
                return -1;
            c = (char)v;
            i += 2;
        }
        out->p[out->n++] = c;
    }
    out->p[out->n] = '\0';
    return 0;
}

int http_percent_decode(slice in, buf *out)
{
    return percent_decode(in, out, false);
}

int http_query_param(const http_req *req, const char *name, buf *out)
{
    size_t nl = strlen(name);
    const char *p = req->query.p, *end = req->query.p + req->query.n;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;
        if ((size_t)(kend - p) == nl && memcmp(p, name, nl) == 0) {
            slice v = eq ? (slice){eq + 1, (size_t)(stop - eq - 1)} : (slice){stop, 0};
            if (percent_decode(v, out, true))
                buf_reset(out); /* a malformed escape reads as empty */
            return 1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

/* ---- connections --------------------------------------------------------- */

static void stream_unref(http_stream *s);
static void stream_detach(conn *c);
static void stream_write_cb(struct bufferevent *bev, void *arg);
static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

static void conn_free(conn *c)
{
    worker *w = c->w;
    stream_detach(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bufferevent_free(c->bev);
    if (c->req_timer)
        event_free(c->req_timer);
    buf_free(&c->url);
    buf_free(&c->field);
    buf_free(&c->value);
    buf_free(&c->ctype);
    buf_free(&c->accept);
    buf_free(&c->auth);
    buf_free(&c->body);
    buf_free(&c->req.resp);
    buf_free(&c->req.audit_detail);
    for (int i = 0; i < HTTP_MAX_PARAMS; i++)
        buf_free(&c->req.scratch[i]);
    atomic_fetch_sub(&w->nconns, 1);
    atomic_fetch_sub(&w->srv->nconns, 1);
    free(c);
}

static void linger_read_cb(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    evbuffer_drain(in, n);
    c->lingered += n;
    /* A client still sending this much after the answer is not reading it. */
    if (c->lingered > LIMIT_LINGER_BYTES)
        conn_free(c);
}

static void linger_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & BEV_EVENT_CONNECTED)
        return;
    conn_free(arg);
}

/*
 * Lingering close: once the answer is out, half-close and read (discarding)
 * until the client closes or 2 s pass. Closing with unread request bytes in
 * the socket would make the kernel send a reset, and the client could lose
 * the 413/400 answer that explains why.
 */
static void write_drained_cb(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
        return;
    /* TLS: close_notify first (best effort: the socket is non-blocking and
     * the alert is a few dozen bytes), then the TCP half-close. */
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    if (ssl && SSL_is_init_finished(ssl))
        SSL_shutdown(ssl);
    shutdown(bufferevent_getfd(bev), SHUT_WR);
    struct timeval linger = {2, 0};
    bufferevent_set_timeouts(bev, &linger, NULL);
    bufferevent_setcb(bev, linger_read_cb, NULL, linger_event_cb, c);
    bufferevent_disable(bev, EV_WRITE);
    bufferevent_enable(bev, EV_READ);
}

/* Stop reading; free once everything queued has been written. */
static void conn_close_after_write(conn *c)
{
    c->closing = true;
    if (c->timer_armed) {
        evtimer_del(c->req_timer);
        c->timer_armed = false;
    }
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setcb(c->bev, NULL, write_drained_cb, NULL, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    /* Sent directly already (send_now): the bufferevent would never call
     * back for an output buffer that was empty all along. */
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        write_drained_cb(c->bev, c);
        return;
    }
    bufferevent_enable(c->bev, EV_WRITE);
}

/*
 * Plaintext answers go straight to the socket when nothing is queued before
 * them: one sendmsg, and usually nothing left for the bufferevent to do. Going
 * through the output buffer instead copies the answer into evbuffer chains
 * (allocated per answer) and turns write interest on and off again around
 * the next loop iteration — two epoll_ctl calls and an extra wake-up per
 * request. Returns the bytes sent (0 on EAGAIN or an error: the bufferevent
 * then sends the rest, or meets the error and reports it as usual).
 */
static size_t send_now(evutil_socket_t fd, const char *head, size_t hn, const char *body,
                       size_t bn)
{
    struct iovec iov[2] = {{(void *)head, hn}, {(void *)body, bn}};
    struct msghdr m = {0};
    m.msg_iov = iov;
    m.msg_iovlen = bn ? 2 : 1;
    ssize_t r;
    do {
        r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    return r > 0 ? (size_t)r : 0;
}

static void send_response(conn *c, http_req *req, bool head_only, bool chunked)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    bool keep = !c->closing && http_should_keep_alive(&c->parser);
    /* Built by hand into one buffer: a printf per response showed in profiles. */
    char head[512];
    size_t n = 0;
    const char *reason = reason_phrase(req->status);
    const char *type = req->resp_type ? req->resp_type : "application/json";
    const char *conn_hdr = keep ? (c->parser.http_minor == 0 ? "Connection: keep-alive\r\n" : "")
                                : "Connection: close\r\n";
    char len[24], *lp = len + sizeof len;
    size_t v = req->resp.n;
    do {
        *--lp = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(head, "HTTP/1.1 ", 9);
    n = 9;
    head[n++] = (char)('0' + req->status / 100 % 10);
    head[n++] = (char)('0' + req->status / 10 % 10);
    head[n++] = (char)('0' + req->status % 10);
    head[n++] = ' ';
    const char *parts[] = {reason, "\r\nContent-Type: ", type,
                           chunked ? "\r\nTransfer-Encoding: chunked" : "\r\nContent-Length: "};
    if (chunked)
        lp = len + sizeof len; /* no length */
    for (size_t i = 0; i < 4; i++) {
        size_t l = strlen(parts[i]);
        memcpy(head + n, parts[i], l);
        n += l;
    }
    memcpy(head + n, lp, (size_t)(len + sizeof len - lp));
    n += (size_t)(len + sizeof len - lp);
    memcpy(head + n, "\r\n", 2);
    n += 2;
    size_t cl = strlen(conn_hdr);
    memcpy(head + n, conn_hdr, cl);
    n += cl;
    if (req->resp_headers) {
        size_t hl = strlen(req->resp_headers);
        STRATA_ASSERT(hl < sizeof head - n - 2);
        memcpy(head + n, req->resp_headers, hl);
        n += hl;
    }
    memcpy(head + n, "\r\n", 2);
    n += 2;
    size_t body = head_only ? 0 : req->resp.n;
    size_t sent = 0;
    if (!c->w->srv->opt.tls && evbuffer_get_length(out) == 0)
        sent = send_now(bufferevent_getfd(c->bev), head, n, req->resp.p, body);
    if (sent < n) {
        evbuffer_add(out, head + sent, n - sent);
        sent = n;
    }
    if (body > sent - n)
        evbuffer_add(out, req->resp.p + (sent - n), body - (sent - n));
    if (!keep)
        c->closing = true;
}

/* Answer without running a handler (limits, parse errors) and close. */
/* http_status 0 means the status that `code` maps to. */
static void reply_and_close(conn *c, int http_status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply_and_close(conn *c, int http_status, int code, const char *fmt, ...)
{
    strata_err e = STRATA_ERR_INIT;
    e.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    http_reply_error(&c->req, &e);
    if (http_status)
        c->req.status = http_status;
    c->closing = true;
    send_response(c, &c->req, false, false);
    conn_close_after_write(c);
}

static void reset_request(conn *c)
{
    buf_reset(&c->url);
    buf_reset(&c->field);
    buf_reset(&c->value);
    buf_reset(&c->ctype);
    buf_reset(&c->accept);
    buf_reset(&c->auth);
    buf_reset(&c->body);
    c->in_value = 0;
    c->expect_continue = false;
    c->in_request = false;
    c->too_large = false;
}

static conn *parser_conn(http_parser *p)
{
    return p->data;
}

/* Start the request clock (at the first byte of a request, once). */
static void arm_request_timer(conn *c)
{
    if (c->timer_armed || c->closing)
        return;
    struct timeval tv = {(time_t)c->w->srv->opt.limits.request_timeout_s, 0};
    evtimer_add(c->req_timer, &tv);
    c->timer_armed = true;
}

static int on_message_begin(http_parser *p)
{
    conn *c = parser_conn(p);
    reset_request(c);
    c->in_request = true;
    c->start_ns = time_mono_ns();
    arm_request_timer(c);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    buf_append(&parser_conn(p)->url, at, n);
    return 0;
}

static void finish_header(conn *c)
{
    if (!c->in_value)
        return;
    slice f = buf_slice(&c->field);
    if (f.n == 12 && strncasecmp(f.p, "content-type", 12) == 0)
        buf_append_slice(&c->ctype, buf_slice(&c->value));
    else if (f.n == 6 && strncasecmp(f.p, "accept", 6) == 0) {
        /* Repeated Accept headers are one list (RFC 9110 5.3). */
        if (c->accept.n)
            buf_append_str(&c->accept, ", ");
        buf_append_slice(&c->accept, buf_slice(&c->value));
    } else if (f.n == 13 && strncasecmp(f.p, "authorization", 13) == 0)
        buf_append_slice(&c->auth, buf_slice(&c->value));
    else if (f.n == 6 && strncasecmp(f.p, "expect", 6) == 0)
        c->expect_continue = c->value.n == 12 && strncasecmp(c->value.p, "100-continue", 12) == 0;
    buf_reset(&c->field);
    buf_reset(&c->value);
    c->in_value = 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    conn *c = parser_conn(p);
    finish_header(c);
    buf_append(&c->field, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    conn *c = parser_conn(p);
    c->in_value = 1;
    buf_append(&c->value, at, n);
    return 0;
}

static http_method map_method(unsigned m);
static void send_response(conn *c, http_req *req, bool head_only, bool chunked);

/* Everything of the request but its body, for the router and the handler. */
static void fill_request(conn *c, http_parser *p)
{
    http_req *req = &c->req;
    slice url = buf_slice(&c->url);
    const char *q = memchr(url.p, '?', url.n);
    req->method = map_method(p->method);
    req->path = q ? (slice){url.p, (size_t)(q - url.p)} : url;
    req->query = q ? (slice){q + 1, (size_t)(url.p + url.n - q - 1)} : (slice){"", 0};
    req->content_type = buf_slice(&c->ctype);
    req->accept = buf_slice(&c->accept);
    req->authorization = buf_slice(&c->auth);
    req->body = (slice){"", 0};
    req->nparams = 0;
    req->route_id = -1;
    req->answered = false;
    req->status = 500;
    req->resp_type = "application/json";
    req->resp_headers = NULL;
    req->principal[0] = '\0';
    req->limits = &c->w->srv->opt.limits;
    req->worker = c->w;
    buf_reset(&req->resp);
    buf_reset(&req->audit_detail);
}

static int on_headers_complete(http_parser *p)
{
    conn *c = parser_conn(p);
    http_server *srv = c->w->srv;
    finish_header(c);
    fill_request(c, p);
    c->route_status = 404;
    c->handler = srv->opt.router(&c->req, srv->opt.ctx, &c->route_status);
    bool has_body =
        (p->flags & F_CHUNKED) || (p->content_length != ULLONG_MAX && p->content_length > 0);
    if (c->req.answered && has_body) {
        /* 401/403: answer before reading a byte of the body, then close. */
        c->closing = true;
        /* Counted before the answer can reach the client (see below). */
        if (srv->opt.observer)
            srv->opt.observer(&c->req, time_mono_ns() - c->start_ns, srv->opt.ctx);
        send_response(c, &c->req, false, false);
        conn_close_after_write(c);
        return -1;
    }
    size_t max = srv->opt.limits.max_body_bytes;
    if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX && p->content_length > max) {
        c->too_large = true;
        return -1; /* stops the parser; the read callback answers 413 */
    }
    if (c->expect_continue)
        evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    conn *c = parser_conn(p);
    if (c->body.n + n > c->w->srv->opt.limits.max_body_bytes) {
        c->too_large = true;
        return -1;
    }
    buf_append(&c->body, at, n);
    return 0;
}

static http_method map_method(unsigned m)
{
    switch (m) {
    case HTTP_GET: return HTTP_M_GET;
    case HTTP_HEAD: return HTTP_M_HEAD;
    case HTTP_POST: return HTTP_M_POST;
    case HTTP_PUT: return HTTP_M_PUT;
    case HTTP_PATCH: return HTTP_M_PATCH;
    case HTTP_DELETE: return HTTP_M_DELETE;
    default: return HTTP_M_OTHER;
    }
}

/* The queued answers drained: read (and parse what is buffered) again. */
static void output_drained_cb(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    c->out_paused = false;
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_setcb(bev, read_cb, NULL, event_cb, c);
    http_parser_pause(&c->parser, 0);
    bufferevent_enable(bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
        read_cb(bev, c);
}

/* Too many answers wait for this client: read no further request until
 * they drain. The write timeout still cuts a client that never reads. */
static void pause_for_output(conn *c)
{
    c->out_paused = true;
    http_parser_pause(&c->parser, 1);
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setcb(c->bev, read_cb, output_drained_cb, event_cb, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, LIMIT_PIPELINE_OUTPUT_BYTES / 4, 0);
}

static int on_message_complete(http_parser *p)
{
    conn *c = parser_conn(p);
    http_server *srv = c->w->srv;
    http_req *req = &c->req;

    if (c->timer_armed) {
        evtimer_del(c->req_timer);
        c->timer_armed = false;
    }
    req->body = buf_slice(&c->body);
    int status = c->route_status;
    http_handler h = c->handler;
    c->handler = NULL;
    if (h) {
        h(req, srv->opt.ctx);
        /* A deferred stream's status is named later by its producer: the
         * after-hook (the audit record) runs when its head goes out. */
        if (srv->opt.after && !(req->stream && req->stream->deferred))
            srv->opt.after(req, srv->opt.ctx);
    } else if (status == 400) {
        http_reply_errorf(req, STRATA_INVALID_ARGUMENT,
                          "malformed percent-escape in the path or query string, or a %%00 in "
                          "the path (no name or id holds a NUL byte)");
    } else if (status == 405) {
        http_reply_errorf(req, STRATA_METHOD_NOT_ALLOWED, "method not allowed on %.*s",
                          (int)(req->path.n > 200 ? 200 : req->path.n), req->path.p);
    } else {
        http_reply_errorf(req, STRATA_NOT_FOUND, "no such route: %.*s",
                          (int)(req->path.n > 200 ? 200 : req->path.n), req->path.p);
    }
    /* Counted before the answer is sent: the fast path writes it to the
     * socket at once, and a client that reads /metrics right after its answer
     * (on another connection, so another worker) must find it counted. The
     * latency is the time to produce the answer. */
    if (srv->opt.observer)
        srv->opt.observer(req, time_mono_ns() - c->start_ns, srv->opt.ctx);
    if (req->stream) {
        /* The head now (unless the producer will name the status later); the
         * body from the producer. No more requests are read on this
         * connection until the stream ends. */
        if (!req->stream->deferred)
            send_response(c, req, true, true);
        c->stream = req->stream;
        req->stream = NULL;
        http_parser_pause(&c->parser, 1);
        bufferevent_disable(c->bev, EV_READ);
        bufferevent_setcb(c->bev, read_cb, stream_write_cb, event_cb, c);
        bufferevent_setwatermark(c->bev, EV_WRITE, HTTP_STREAM_HIGH_WATER / 4, 0);
    } else {
        send_response(c, req, req->method == HTTP_M_HEAD, false);
        if (!c->closing &&
            evbuffer_get_length(bufferevent_get_output(c->bev)) > LIMIT_PIPELINE_OUTPUT_BYTES)
            pause_for_output(c);
    }
    if (c->closing)
        conn_close_after_write(c);
    c->in_request = false;
    /* Give large buffers back rather than pinning them per idle connection. */
    if (c->body.cap > (1u << 20))
        buf_free(&c->body);
    if (req->resp.cap > (1u << 20))
        buf_free(&req->resp);
    return c->closing ? -1 : 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void read_cb(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    const strata_limits *lim = &c->w->srv->opt.limits;

    if (!c->closing && evbuffer_get_length(in) > 0)
        arm_request_timer(c); /* bytes that precede a request count too */
    while (!c->closing && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t done = http_parser_execute(&c->parser, &parser_settings, v.iov_base, v.iov_len);
        evbuffer_drain(in, done);
        if (c->closing)
            return; /* a handler decided to close; the write path frees */
        if (c->stream || c->out_paused)
            return; /* paused while the answer streams or drains; resumed after */
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_OK && done == v.iov_len)
            continue;
        if (c->too_large) {
            reply_and_close(
                c, 0, STRATA_RESOURCE_EXHAUSTED,
                "request body exceeds the limit of %zu bytes (max_body_bytes, --max-body-bytes)",
                lim->max_body_bytes);
        } else if (e == HPE_HEADER_OVERFLOW) {
            reply_and_close(c, 431, STRATA_RESOURCE_EXHAUSTED,
                            "request headers exceed the limit of %zu bytes (max_header_bytes, "
                            "--max-header-bytes)",
                            lim->max_header_bytes);
        } else {
            reply_and_close(c, 0, STRATA_INVALID_ARGUMENT, "malformed HTTP request: %s",
                            http_errno_description(e));
        }
        return;
    }
}

/* request_timeout_s after a request's first byte, and it is not complete. */
static void request_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    c->timer_armed = false;
    if (c->closing || c->stream)
        return;
    reply_and_close(c, 408, STRATA_INVALID_ARGUMENT,
                    "request not completed within %u s of its first byte (request_timeout_s, "
                    "--request-timeout-s)",
                    c->w->srv->opt.limits.request_timeout_s);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;
    if (what & BEV_EVENT_CONNECTED)
        return; /* TLS: the handshake is done; requests follow */
    if ((what & BEV_EVENT_ERROR) && c->w->srv->opt.tls) {
        /* Handshake failures (plaintext to the TLS port, an untrusting
         * client) are the client's business: debug level only. */
        unsigned long e = bufferevent_get_openssl_error(bev);
        char why[160] = "connection error";
        if (e)
            ERR_error_string_n(e, why, sizeof why);
        log_debug("TLS connection closed: %s", why);
    }
    if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && c->in_request && !c->closing) {
        /* Silent mid-request for idle_timeout_s (when shorter than the
         * request timeout). */
        reply_and_close(c, 408, STRATA_INVALID_ARGUMENT,
                        "no bytes of the request for %u s (idle_timeout_s, --idle-timeout-s)",
                        c->w->srv->opt.limits.idle_timeout_s);
        return;
    }
    /* EOF, error, a client not reading its answer, or an idle keep-alive
     * connection timing out. */
    conn_free(c);
}

/* A connection on bev (the caller's until this succeeds; then the
 * connection's, freed with it), counted already in w->nconns and nconns by
 * the caller. NULL when out of memory. */
static conn *conn_new(worker *w, struct bufferevent *bev)
{
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->req_timer = evtimer_new(w->base, request_timer_cb, c);
    if (!c->req_timer) {
        free(c);
        return NULL;
    }
    c->w = w;
    c->bev = bev;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    /* Reads: the idle clock. Writes: a client must take its answer as fast
     * as it must send its request. */
    struct timeval idle = {(time_t)w->srv->opt.limits.idle_timeout_s, 0};
    struct timeval wr = {(time_t)w->srv->opt.limits.request_timeout_s, 0};
    bufferevent_set_timeouts(c->bev, &idle, &wr);
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return c;
}

/* A connection that never became a conn (setup failed, or the server stops
 * before the worker took it): close it and give back its slots. */
static void drop_fd(worker *w, evutil_socket_t fd)
{
    evutil_closesocket(fd);
    atomic_fetch_sub(&w->nconns, 1);
    atomic_fetch_sub(&w->srv->nconns, 1);
}

/* Worker thread: wrap an accepted socket into a connection. */
static void conn_setup(worker *w, evutil_socket_t fd)
{
    http_server *srv = w->srv;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct bufferevent *bev = NULL;
    if (srv->opt.tls) {
        SSL *ssl = SSL_new(srv->opt.tls);
        bev = ssl ? bufferevent_openssl_socket_new(w->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                   BEV_OPT_CLOSE_ON_FREE)
                  : NULL;
        if (!bev && ssl) {
            /* Out of memory. libevent 2.1 may already have freed the SSL and
             * closed the socket, or not: leaking both beats a double free. */
            atomic_fetch_sub(&w->nconns, 1);
            atomic_fetch_sub(&srv->nconns, 1);
            return;
        }
    } else {
        bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev) {
        drop_fd(w, fd);
    } else if (!conn_new(w, bev)) {
        bufferevent_free(bev); /* closes fd */
        atomic_fetch_sub(&w->nconns, 1);
        atomic_fetch_sub(&srv->nconns, 1);
    }
}

/* Worker thread: take what the acceptor queued. */
static void inbox_cb(evutil_socket_t unused, short what, void *arg)
{
    (void)unused;
    (void)what;
    worker *w = arg;
    pthread_mutex_lock(&w->inbox_mu);
    int *fds = w->inbox;
    size_t n = w->ninbox;
    w->inbox = NULL;
    w->ninbox = w->inbox_cap = 0;
    pthread_mutex_unlock(&w->inbox_mu);
    for (size_t i = 0; i < n; i++)
        conn_setup(w, fds[i]);
    free(fds);
}

/* Acceptor thread: the worker with the fewest open connections; among equals
 * the first after the last one chosen, so equal workers take turns. */
static worker *pick_worker(http_server *srv)
{
    worker *best = NULL;
    unsigned best_n = UINT_MAX;
    for (int k = 0; k < srv->nworkers; k++) {
        worker *w = &srv->workers[(srv->next_worker + (unsigned)k) % (unsigned)srv->nworkers];
        unsigned n = atomic_load(&w->nconns);
        if (n < best_n) {
            best = w;
            best_n = n;
        }
    }
    srv->next_worker = (unsigned)(best - srv->workers + 1) % (unsigned)srv->nworkers;
    return best;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)l;
    (void)sa;
    (void)len;
    http_server *srv = arg;
    if (atomic_fetch_add(&srv->nconns, 1) >= srv->opt.limits.max_connections) {
        if (srv->opt.tls) {
            /* A TLS client cannot read a plaintext answer: just close. */
            atomic_fetch_sub(&srv->nconns, 1);
            evutil_closesocket(fd);
            return;
        }
        /* Best effort, never blocking: one send into the new socket's empty
         * buffer, then close. */
        char body[200], msg[400];
        int bn = snprintf(body, sizeof body,
                          "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"too many open "
                          "connections: the limit is %u (max_connections, --max-connections)\","
                          "\"details\":[]}}",
                          srv->opt.limits.max_connections);
        int mn = snprintf(msg, sizeof msg,
                          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                          "Connection: close\r\nContent-Length: %d\r\n\r\n%s",
                          bn, body);
        ssize_t r = send(fd, msg, (size_t)mn, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)r;
        atomic_fetch_sub(&srv->nconns, 1);
        evutil_closesocket(fd);
        return;
    }
    worker *w = pick_worker(srv);
    atomic_fetch_add(&w->nconns, 1);
    pthread_mutex_lock(&w->inbox_mu);
    if (w->ninbox == w->inbox_cap) {
        size_t cap = w->inbox_cap ? w->inbox_cap * 2 : 64;
        int *q = realloc(w->inbox, cap * sizeof *q);
        if (!q) {
            pthread_mutex_unlock(&w->inbox_mu);
            drop_fd(w, fd);
            return;
        }
        w->inbox = q;
        w->inbox_cap = cap;
    }
    w->inbox[w->ninbox++] = fd;
    pthread_mutex_unlock(&w->inbox_mu);
    /* Safe from this thread: the bases were made with pthreads locking, and
     * http_server_stop joins the acceptor before it frees the event. */
    event_active(w->inbox_ev, EV_READ, 0);
}

/* ---- streamed answers ---------------------------------------------------- */

static void stream_unref(http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last)
        return;
    evbuffer_free(s->pending);
    buf_free(&s->reply);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* The connection is going away (or the stream is over): wake the producer,
 * drop the flush event, and drop the connection's reference. Worker thread. */
static void stream_detach(conn *c)
{
    http_stream *s = c->stream;
    if (!s)
        return;
    c->stream = NULL;
    pthread_mutex_lock(&s->mu);
    if (!s->ended)
        s->dead = true;
    s->c = NULL;
    if (s->flush_ev) {
        event_free(s->flush_ev);
        s->flush_ev = NULL;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
}

static void stream_write_cb(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    http_stream *s = c->stream;
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->out_len = evbuffer_get_length(bufferevent_get_output(bev));
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* After the last chunk: the connection reads requests again. */
static void stream_resume(conn *c)
{
    stream_detach(c);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    if (c->closing) {
        conn_close_after_write(c);
        return;
    }
    http_parser_pause(&c->parser, 0);
    bufferevent_enable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        read_cb(c->bev, c);
}

static void stream_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    http_stream *s = arg;
    pthread_mutex_lock(&s->mu);
    conn *c = s->c;
    if (!c) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (s->deferred && !s->head_sent) {
        if (!s->head_ready) {
            bool cut = s->ended;
            pthread_mutex_unlock(&s->mu);
            if (cut) {
                /* Ended without ever naming a status: nothing to send. */
                c->closing = true;
                stream_detach(c);
                conn_free(c);
            }
            return;
        }
        s->head_sent = true;
        c->req.status = s->head_status;
        c->req.resp_type = s->head_type;
        if (c->w->srv->opt.after) /* held back by on_message_complete */
            c->w->srv->opt.after(&c->req, c->w->srv->opt.ctx);
        buf_reset(&c->req.resp);
        if (s->is_reply) {
            /* A whole answer (an error found before any byte was sent). */
            buf_append(&c->req.resp, s->reply.p, s->reply.n);
            send_response(c, &c->req, false, false);
            s->out_len = evbuffer_get_length(out);
            pthread_mutex_unlock(&s->mu);
            stream_resume(c);
            return;
        }
        send_response(c, &c->req, true, true);
    }
    evbuffer_add_buffer(out, s->pending);
    bool ended = s->ended, ok = s->ok;
    if (ended && ok)
        evbuffer_add(out, "0\r\n\r\n", 5);
    s->out_len = evbuffer_get_length(out);
    pthread_mutex_unlock(&s->mu);
    if (!ended)
        return;
    if (!ok) {
        /* Cut the connection: an incomplete chunked body is how HTTP/1.1
         * says the answer failed after its head was sent. */
        c->closing = true;
        stream_detach(c);
        conn_free(c);
        return;
    }
    stream_resume(c);
}

http_stream *http_stream_start(http_req *req, int status, const char *content_type)
{
    worker *w = req->worker;
    http_stream *s = calloc(1, sizeof *s);
    STRATA_ASSERT(s != NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->pending = evbuffer_new();
    s->flush_ev = event_new(w->base, -1, 0, stream_flush_cb, s);
    STRATA_ASSERT(s->pending && s->flush_ev);
    s->refs = 2;
    /* The flush runs on this worker, so never before the handler returns and
     * the connection has taken the stream: the pointer is safe to set now. */
    s->c = (conn *)((char *)req - offsetof(conn, req));
    req->stream = s;
    req->status = status;
    req->resp_type = content_type;
    buf_reset(&req->resp);
    return s;
}

http_stream *http_stream_defer(http_req *req)
{
    http_stream *s = http_stream_start(req, 200, "application/json");
    s->deferred = true;
    return s;
}

int http_stream_head(http_stream *s, int status, const char *content_type)
{
    pthread_mutex_lock(&s->mu);
    if (s->dead || !s->deferred || s->head_ready) {
        bool dead = s->dead;
        pthread_mutex_unlock(&s->mu);
        return dead ? -1 : 0;
    }
    s->head_status = status;
    s->head_type = content_type;
    s->head_ready = true;
    if (s->flush_ev)
        event_active(s->flush_ev, EV_WRITE, 0);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void http_stream_reply(http_stream *s, int status, const char *content_type, const void *body,
                       size_t n)
{
    pthread_mutex_lock(&s->mu);
    bool ok = s->deferred && !s->head_ready;
    if (ok) {
        s->head_status = status;
        s->head_type = content_type;
        s->head_ready = true;
        s->is_reply = true;
        buf_append(&s->reply, body, n);
    }
    /* As http_stream_end, under the same lock: the flush sees all of it. */
    s->ended = true;
    s->ok = ok;
    if (!s->dead && s->flush_ev)
        event_active(s->flush_ev, EV_WRITE, 0);
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
}

void http_stream_reply_error(http_stream *s, const strata_err *err)
{
    http_req tmp;
    memset(&tmp, 0, sizeof tmp);
    http_reply_error(&tmp, err);
    http_stream_reply(s, tmp.status, "application/json", tmp.resp.p, tmp.resp.n);
    buf_free(&tmp.resp);
}

int http_stream_write(http_stream *s, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    char head[24];
    int hn = snprintf(head, sizeof head, "%zx\r\n", n);
    pthread_mutex_lock(&s->mu);
    while (!s->dead && s->out_len + evbuffer_get_length(s->pending) > HTTP_STREAM_HIGH_WATER)
        pthread_cond_wait(&s->cv, &s->mu);
    if (s->dead) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    evbuffer_add(s->pending, head, (size_t)hn);
    evbuffer_add(s->pending, p, n);
    evbuffer_add(s->pending, "\r\n", 2);
    /* Under mu: the worker frees flush_ev under mu too. */
    event_active(s->flush_ev, EV_WRITE, 0);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void http_stream_end(http_stream *s, bool ok)
{
    pthread_mutex_lock(&s->mu);
    s->ended = true;
    s->ok = ok;
    if (!s->dead && s->flush_ev)
        event_active(s->flush_ev, EV_WRITE, 0);
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
}

/* ---- server -------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_setname_np(pthread_self(), "http-worker");
    /* Until http_server_stop: a worker with no connection yet has no event
     * pending (its inbox event is only ever activated). */
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void *acceptor_main(void *arg)
{
    http_server *srv = arg;
    pthread_setname_np(pthread_self(), "http-accept");
    event_base_dispatch(srv->abase);
    return NULL;
}

static int parse_listen(const char *listen, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return -1;
    const char *h = listen;
    size_t hn = (size_t)(colon - listen);
    if (h[0] == '[' && hn >= 2 && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    if (hn + 1 > hcap || strlen(colon + 1) + 1 > pcap || !colon[1])
        return -1;
    memcpy(host, h, hn);
    host[hn] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static int bind_listener(const char *addr, int *out_fd, int *out_port, strata_err *err)
{
    char host[256], port[16];
    if (parse_listen(addr, host, sizeof host, port, sizeof port))
        return err_set(err, STRATA_INVALID_ARGUMENT, "invalid listen address \"%s\": want HOST:PORT",
                       addr);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc)
        return err_set(err, STRATA_INVALID_ARGUMENT, "cannot resolve listen address \"%s\": %s",
                       addr, gai_strerror(rc));
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return err_set(err, STRATA_UNAVAILABLE, "cannot listen on %s: %s", addr,
                       strerror(saved ? saved : EADDRNOTAVAIL));
    evutil_make_socket_nonblocking(fd);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *out_fd = fd;
    return 0;
}

/* rt_priority: a serving thread under SCHED_FIFO. SCHED_RESET_ON_FORK:
 * what it starts (a streamed export's producer, a RocksDB background thread
 * whose pool grows on a write) is a normal thread, not real-time. */
static int set_rt_priority(pthread_t th, int prio, const char *what, strata_err *err)
{
    if (prio <= 0)
        return 0;
    struct sched_param sp = {.sched_priority = prio};
    int e = pthread_setschedparam(th, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp);
    if (e == EPERM)
        return err_set(err, STRATA_PERMISSION_DENIED,
                       "worker_rt_priority %d: not permitted to run the %s under SCHED_FIFO "
                       "(needs root, CAP_SYS_NICE or an RLIMIT_RTPRIO of at least %d, and a "
                       "cgroup that allows real-time threads)",
                       prio, what, prio);
    if (e)
        return err_set(err, STRATA_INVALID_ARGUMENT, "worker_rt_priority %d: %s: %s", prio, what,
                       strerror(e));
    return 0;
}

/* Locking in every event_base made from now on: producers of streamed
 * answers activate events from their own threads. */
static void use_threads(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))evthread_use_pthreads);
}

int http_server_start(const http_server_options *opt, http_server **out, strata_err *err)
{
    use_threads();
    int rc = 0;
    http_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return err_set(err, STRATA_NOMEM, "out of memory");
    srv->opt = *opt;
    srv->fd = -1;
    srv->nworkers = opt->threads > 0 ? opt->threads : 1;
    http_parser_set_max_header_size((uint32_t)opt->limits.max_header_bytes);
    rc = bind_listener(opt->listen, &srv->fd, &srv->port, err);
    if (rc)
        goto out;
    srv->workers = calloc((size_t)srv->nworkers, sizeof *srv->workers);
    if (!srv->workers) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < srv->nworkers; i++) {
        worker *w = &srv->workers[i];
        w->srv = srv;
        if (pthread_mutex_init(&w->inbox_mu, NULL)) {
            rc = err_set(err, STRATA_INTERNAL, "cannot create a worker's lock");
            goto out;
        }
        w->inbox_mu_ready = true;
        w->base = event_base_new();
        w->inbox_ev = w->base ? event_new(w->base, -1, 0, inbox_cb, w) : NULL;
        if (!w->inbox_ev) {
            rc = err_set(err, STRATA_INTERNAL, "cannot create event base");
            goto out;
        }
    }
    srv->abase = event_base_new();
    srv->listener = srv->abase ? evconnlistener_new(srv->abase, accept_cb, srv,
                                                    LEV_OPT_CLOSE_ON_EXEC, 0, srv->fd)
                               : NULL;
    if (!srv->listener) {
        rc = err_set(err, STRATA_INTERNAL, "cannot create listener");
        goto out;
    }
    for (int i = 0; i < srv->nworkers; i++) {
        if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i])) {
            srv->nworkers = i; /* join only what started */
            rc = err_set(err, STRATA_INTERNAL, "cannot start worker thread");
            goto out;
        }
        if ((rc = set_rt_priority(srv->workers[i].thread, opt->rt_priority, "HTTP workers", err)))
            goto out;
    }
    if (pthread_create(&srv->athread, NULL, acceptor_main, srv)) {
        rc = err_set(err, STRATA_INTERNAL, "cannot start the acceptor thread");
        goto out;
    }
    srv->athread_started = true;
    if ((rc = set_rt_priority(srv->athread, opt->rt_priority, "HTTP acceptor", err)))
        goto out;
    *out = srv;
    return 0;
out:
    http_server_stop(srv);
    return rc;
}

int http_server_port(const http_server *srv)
{
    return srv->port;
}

uint64_t http_server_connections(const http_server *srv)
{
    return atomic_load(&srv->nconns);
}

void http_server_stop(http_server *srv)
{
    if (!srv)
        return;
    /* Accept nothing more; then no thread but the workers touches them. */
    if (srv->athread_started) {
        event_base_loopexit(srv->abase, NULL);
        pthread_join(srv->athread, NULL);
    }
    if (srv->listener)
        evconnlistener_free(srv->listener);
    if (srv->abase)
        event_base_free(srv->abase);
    if (srv->workers) {
        for (int i = 0; i < srv->nworkers; i++)
            if (srv->workers[i].base && srv->workers[i].thread)
                event_base_loopexit(srv->workers[i].base, NULL);
        for (int i = 0; i < srv->nworkers; i++)
            if (srv->workers[i].thread)
                pthread_join(srv->workers[i].thread, NULL);
        /* Count may exceed nworkers on a failed start: free every base made. */
        for (int i = 0; i < (srv->opt.threads > 0 ? srv->opt.threads : 1); i++) {
            worker *w = &srv->workers[i];
            while (w->conns)
                conn_free(w->conns);
            for (size_t k = 0; k < w->ninbox; k++)
                drop_fd(w, w->inbox[k]);
            free(w->inbox);
            if (w->inbox_ev)
                event_free(w->inbox_ev);
            if (w->base)
                event_base_free(w->base);
            if (w->inbox_mu_ready)
                pthread_mutex_destroy(&w->inbox_mu);
        }
        free(srv->workers);
    }
    if (srv->fd >= 0)
        close(srv->fd);
    free(srv);
}

/* ---- one connection's bytes, without sockets ----------------------------- */

typedef struct capture {
    buf *out;
    size_t max;
} capture;

static void capture_read_cb(struct bufferevent *bev, void *arg)
{
    capture *cap = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    if (cap->out && cap->out->n < cap->max) {
        size_t take = len < cap->max - cap->out->n ? len : cap->max - cap->out->n;
        buf_reserve(cap->out, take);
        evbuffer_copyout(in, cap->out->p + cap->out->n, take);
        cap->out->n += take;
        cap->out->p[cap->out->n] = '\0';
    }
    evbuffer_drain(in, len);
}

/*
 * One worker on a private event_base, no listener, and one connection whose
 * bufferevent is half of an in-memory pair: the bytes go in through the other
 * half, read_cb parses them exactly as it parses a socket's, and whatever the
 * connection writes comes back out. The loop runs until the connection is
 * gone, or idle with no streamed answer in progress (a streamed answer is
 * waited for: its producer thread activates the flush event).
 */
int http_serve_buffer(const http_server_options *opt, const void *data, size_t n, buf *out,
                      size_t out_max)
{
    int rc = -1;
    struct bufferevent *pair[2] = {NULL, NULL};
    http_server srv;
    worker w;
    capture cap = {out, out_max};
    memset(&srv, 0, sizeof srv);
    memset(&w, 0, sizeof w);
    use_threads();
    srv.opt = *opt;
    srv.fd = -1;
    srv.nworkers = 1;
    w.srv = &srv;
    w.base = event_base_new();
    if (!w.base)
        goto out;
    http_parser_set_max_header_size((uint32_t)opt->limits.max_header_bytes);
    if (bufferevent_pair_new(w.base, BEV_OPT_CLOSE_ON_FREE, pair))
        goto out;
    atomic_fetch_add(&srv.nconns, 1);
    atomic_fetch_add(&w.nconns, 1);
    if (!conn_new(&w, pair[0])) {
        atomic_fetch_sub(&srv.nconns, 1);
        atomic_fetch_sub(&w.nconns, 1);
        goto out;
    }
    pair[0] = NULL; /* the connection's now */
    bufferevent_setcb(pair[1], capture_read_cb, NULL, NULL, &cap);
    bufferevent_enable(pair[1], EV_READ | EV_WRITE);
    if (n)
        bufferevent_write(pair[1], data, n);
    for (;;) {
        event_base_loop(w.base, EVLOOP_NONBLOCK);
        if (!w.conns || !w.conns->stream)
            break;
        event_base_loop(w.base, EVLOOP_ONCE);
    }
    rc = 0;
out:
    while (w.conns)
        conn_free(w.conns);
    if (pair[0])
        bufferevent_free(pair[0]);
    if (pair[1])
        bufferevent_free(pair[1]);
    if (w.base)
        event_base_free(w.base);
    return rc;
}
