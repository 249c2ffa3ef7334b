/*
 * http.h - Strata's HTTP/1.1 server: N worker threads, each with its own libevent
 * event_base, and one acceptor thread that hands each new connection to the
 * worker with the fewest open connections (so a burst of connections spreads
 * evenly, whichever worker happens to be awake).
 *
 * Requests are parsed with Node's http-parser (Debian libhttp-parser); a handler
 * runs on the worker thread that read the request, synchronously, and fills the
 * response. Limits are enforced before a byte of an oversized body is buffered:
 * the route and the bearer token are checked when the headers are complete (a
 * rejected request with a body is answered 401/403 and closed unread), an
 * over-limit Content-Length is answered 413 at once, a chunked body is cut off
 * as soon as it passes the limit, a request not complete within
 * request_timeout_s of its first byte is answered 408 however steadily it
 * trickles (slowloris), and a connection idle for idle_timeout_s between
 * requests is closed. Over max_connections, new connections are answered 503
 * and closed at accept (with TLS only closed: a TLS client cannot read a
 * plaintext answer, and a handshake per refused connection is what a flood
 * wants).
 *
 * With a TLS context every accepted socket is wrapped in a libevent OpenSSL
 * bufferevent; the rest of the server sees the same bytes either way.
 *
 * Lifetime: an http_req and everything it points to (path params, body, query)
 * lives until the handler returns; handlers copy what they keep.
 */
#ifndef STRATA_SERVING_HTTP_H
#define STRATA_SERVING_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"

typedef enum strata_http_method {
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_PATCH,
    HTTP_M_DELETE,
    HTTP_M_OTHER,
} http_method;

#define HTTP_MAX_PARAMS 4

typedef struct http_req {
    http_method method;
    slice path;  /* raw, still percent-encoded, without the query */
    slice query; /* raw, without '?' */
    slice content_type;
    slice accept;
    slice authorization;
    slice body;
    /* Path parameters captured by the router, percent-decoded. */
    size_t nparams;
    slice params[HTTP_MAX_PARAMS];
    int route_id; /* index in the route table, -1 if none matched */
    /* Set by the router when it has answered itself (401, 403): the response
     * is filled and the handler it returns does nothing. */
    bool answered;
    /* Who sent it: set by the router's token check ("anonymous" when the
     * daemon is open, "" before the check or when it failed). */
    char principal[LIMIT_NAME_MAX + 1];
    /* The server's run-time limits (borrowed for the server's life; NULL
     * outside a server: the defaults apply). */
    const strata_limits *limits;

    /* The response. */
    int status;
    const char *resp_type; /* static string */
    /* Extra response header lines, each ending in "\r\n" (static; NULL: none),
     * e.g. the WWW-Authenticate of a 401. */
    const char *resp_headers;
    buf resp;

    /* Set by http_stream_start: the body follows from another thread. */
    struct http_stream *stream;

    /* What the audit record of a state-changing request says beyond its
     * route and target: a compact JSON object a handler may write (empty:
     * nothing). Reset for every request. */
    buf audit_detail;

    /* Scratch owned by the request, freed after the response is sent. */
    buf scratch[HTTP_MAX_PARAMS];
    void *worker; /* opaque: the worker that runs this request */
} http_req;

typedef void (*http_handler)(http_req *req, void *ctx);
/* Route resolution: fills req->params/nparams/route_id and returns the handler,
 * or NULL with *status set to 404 or 405. It runs as soon as the request's
 * headers are complete, before any of the body is read (req->body is empty
 * then, and set before the handler runs): a request the router answers
 * itself (req->answered: 401, 403) that has a body is answered at once and
 * its connection closed, so an unauthenticated client cannot make the server
 * read max_body_bytes. */
typedef http_handler (*http_router)(http_req *req, void *ctx, int *status);
/* Called once per finished request with its route and latency. */
typedef void (*http_observer)(const http_req *req, uint64_t latency_ns, void *ctx);

typedef struct http_server_options {
    const char *listen;  /* "HOST:PORT" */
    int threads;
    strata_limits limits;
    http_router router;
    http_handler after; /* runs after every handler, before the response is sent */
    http_observer observer;
    void *ctx; /* handed to router, handlers and observer */
    /* TLS: every connection is a TLS server session on this context
     * (serving/tls.h); NULL serves plaintext. Borrowed: it must outlive the
     * server. */
    struct ssl_ctx_st *tls;
    /* 1-99: the workers and the acceptor run under SCHED_FIFO at this
     * priority, so a ready request never waits behind normal threads for a
     * core; threads they start run normally again (SCHED_RESET_ON_FORK).
     * 0: normal scheduling. */
    int rt_priority;
} http_server_options;

typedef struct http_server http_server;

/* Binds and starts the worker threads. Fails (PERMISSION_DENIED) when
 * rt_priority is set and the process may not use it. */
int http_server_start(const http_server_options *opt, http_server **out, strata_err *err);
/* The bound port (useful with port 0). */
int http_server_port(const http_server *srv);
/* Stop accepting, finish the requests in flight, join the workers, free. NULL ok. */
void http_server_stop(http_server *srv);
/* Open connections right now (for /metrics). */
uint64_t http_server_connections(const http_server *srv);

/*
 * Serve one connection's worth of bytes without sockets (fuzzing, tests): the
 * bytes are parsed, limited, routed and answered exactly as from a client
 * that sent them and then waited, on the calling thread. The answer bytes are
 * appended to out (if not NULL), at most out_max of them. Returns once the
 * connection has closed, or is idle waiting for more bytes; a streamed answer
 * is waited for. 0, or -1 when libevent cannot allocate.
 */
int http_serve_buffer(const http_server_options *opt, const void *data, size_t n, buf *out,
                      size_t out_max);

/* ---- helpers for handlers ---------------------------------------------- */

/* Look up a query parameter; the value is decoded into `out` (reset first):
 * %XX escapes, and '+' as a space, as form-encoding clients (Python's
 * urlencode, curl --data-urlencode) write it; a literal '+' is %2B. The
 * first of repeated parameters counts. Returns 1 if present, 0 if absent. */
int http_query_param(const http_req *req, const char *name, buf *out);
/* Whether every %XX escape of the query string is well formed (the router
 * refuses the request otherwise, so no parameter reads as empty by accident). */
bool http_query_escapes_valid(const http_req *req);
/* Decode %XX escapes, '+' left as it is (paths: RFC 3986).
 * Returns -1 on a malformed escape. */
int http_percent_decode(slice in, buf *out);

/* Set the response: status and a JSON body already written into req->resp. */
static inline void http_reply_json(http_req *req, int status)
{
    req->status = status;
    req->resp_type = "application/json";
}
/* The contract's error body {"error":{"code","message","details"}} from err. */
void http_reply_error(http_req *req, const strata_err *err);
/* Shorthand: an error with a status code and message. */
void http_reply_errorf(http_req *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Streamed responses (exports): a handler that has validated its request calls
 * http_stream_start and returns at once; the head goes out with
 * "Transfer-Encoding: chunked" and the body is written by another thread.
 * The connection reads no further request until the stream ends.
 *
 * http_stream_write may be called from any thread; it blocks while more than
 * HTTP_STREAM_HIGH_WATER bytes wait for a slow client (so memory stays
 * bounded) and returns -1 once the client has gone away or the server is
 * stopping: the producer should stop. http_stream_end(s, true) sends the last
 * chunk; (s, false) cuts the connection, so a client never mistakes a failed
 * export for a complete one. After end, s is gone.
 */
#define HTTP_STREAM_HIGH_WATER LIMIT_STREAM_HIGH_WATER
typedef struct http_stream http_stream;
http_stream *http_stream_start(http_req *req, int status, const char *content_type);
int http_stream_write(http_stream *s, const void *p, size_t n);
void http_stream_end(http_stream *s, bool ok);

/*
 * Deferred head: for answers whose status is known only after work a worker
 * must not do (an export reads and validates every instance row before it
 * knows whether it can answer 200). The handler calls http_stream_defer and
 * returns; nothing is sent and the connection reads nothing until the
 * producer either calls http_stream_head (a streamed body follows with
 * http_stream_write / http_stream_end as above), or http_stream_reply /
 * http_stream_reply_error (one whole, non-streamed answer such as a 400; it
 * ends the stream and s is gone). http_stream_end(s, false) before any head
 * closes the connection without an answer. http_stream_head returns -1 when
 * the client is already gone or the server is stopping.
 */
http_stream *http_stream_defer(http_req *req);
int http_stream_head(http_stream *s, int status, const char *content_type);
void http_stream_reply(http_stream *s, int status, const char *content_type, const void *body,
                       size_t n);
void http_stream_reply_error(http_stream *s, const strata_err *err);

/* Whether the client asked for / sent protobuf. */
bool http_wants_protobuf(const http_req *req);
bool http_sent_protobuf(const http_req *req);

#endif
