/*
 * loadgen.c - a small HTTP/1.1 load generator for bench/online.
 *
 * Two modes:
 *
 *   loadgen rate   --port P --rate R --duration S [--warmup S] [--connections C]
 *                  --path-prefix /v1/entities/user/values/u --ids N [--tick-us T]
 *                  [--header "K: V"]...
 *     Open loop: request i is *scheduled* at t0 + i/R whatever the server does.
 *     A request is sent on a free keep-alive connection at (or, if all C are
 *     busy, as soon as possible after) its scheduled time, and its latency is
 *     measured from the scheduled time, not from the moment it was sent. A
 *     server that stalls therefore shows the stall in every request that
 *     should have been sent meanwhile; a closed-loop tool (wrk) would instead
 *     wait politely and report one slow request ("coordinated omission").
 *     Sends continue past the run's end for requests scheduled within it, up
 *     to 5 s; one not answered by then is "not completed".
 *     Each request asks for PATH_PREFIX<k> with k uniform in [0, N).
 *     --tick-us T (default 0) lets the generator sleep at least T us between
 *     wake-ups, sending what fell due meanwhile in one go: less generator CPU
 *     on a machine it shares with the server, at the price of up to T us of
 *     extra latency, which is measured (never hidden) since the clock starts
 *     at the scheduled time.
 *
 *     --mix get:G,post:P,write:W (with --entity E --write-feature F) replaces
 *     the single GET by a weighted mix: GET /v1/entities/E/values/u<k>,
 *     POST /v1/online:read of --read-ids ids, and POST /v1/entities/E:write
 *     of --write-rows rows setting DOUBLE feature F (bench/soak).
 *     --interval S prints an INTERVAL line every S seconds (requests, errors,
 *     p50/p99 of that interval, and with --rss-pid PID that process's VmRSS).
 *
 *   loadgen replay --port P --path /v1/entities/user:write [--connections C]
 *                  [--header "K: V"]... BODY_FILE...
 *     Closed loop: POSTs every BODY_FILE exactly once, C at a time, and reports
 *     the latency of each request, the throughput, and the sum of the
 *     "written_values" fields of the answers.
 *
 * Both print a human summary on stderr and one line on stdout,
 *   RESULT key=value key=value ...
 * for scripts. Latencies are in microseconds.
 *
 * NOTES ON THE DESIGN
 * - One thread, epoll, level-triggered, one request in flight per connection
 *   (no pipelining, like a real client pool). The wait for the next scheduled
 *   send is epoll_pwait2's nanosecond timeout, with the timer slack cut to 1 ns
 *   so wake-ups are not coalesced by 50 us (the Linux default), which would add
 *   to every latency. The generator shares the cores with the server under
 *   test, so it is frugal: a request is two memcpy and an itoa, and a wake-up
 *   costs one epoll_pwait2 plus the reads and writes it reports.
 * - Every latency is kept (8 bytes each) and sorted at the end: percentiles
 *   are exact, and 30 s at 100k/s is only 24 MB.
 * - Responses must carry Content-Length (Strata and nginx both send it);
 *   chunked answers are counted as errors. "Connection: close" or a dropped
 *   connection is followed by a reconnect; a request lost with it is an error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_HEADERS 16
#define MAX_HEAD_BYTES 8192

typedef struct conn {
    int fd;
    bool busy;
    /* Output: either the shared request built for this connection (rate) or a
     * prebuilt body message (replay). */
    const char *out;
    size_t out_len, out_off;
    char req[4096];
    /* Input, grown as needed. */
    char *in;
    size_t in_len, in_cap;
    uint64_t sched_ns; /* when the request was due (rate) or sent (replay) */
    struct conn *next_free;
} conn;

typedef struct opts {
    const char *mode;
    const char *host;
    int port;
    double rate;
    double duration_s;
    double warmup_s;
    int connections;
    const char *path_prefix;
    const char *path;
    uint64_t ids;
    uint64_t seed;
    uint64_t tick_ns;
    /* --mix: weights of GET, POST online:read and write, out of their sum. */
    unsigned mix_get, mix_post, mix_write;
    const char *entity;
    const char *write_feature;
    unsigned read_ids, write_rows;
    double interval_s;
    int rss_pid;
    const char *headers[MAX_HEADERS];
    int nheaders;
    char **files;
    int nfiles;
} opts;

typedef struct stats {
    uint64_t *lat_us;
    size_t n, cap;
    uint64_t ok, non2xx, errors, reconnects;
    uint64_t written_values;
    uint64_t bytes_in;
    uint64_t first_status_bad; /* first non-2xx status seen, for the report */
    uint64_t sent[3];          /* --mix: requests sent by kind (get, post, write) */
} stats;

static int ep = -1;
static struct sockaddr_in addr;
static conn *conns;
static conn *free_list;
static int inflight; /* connections with a request outstanding */
static stats st;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: loadgen rate --port P --rate R --duration S [--warmup S] [--connections C]\n"
        "                    --path-prefix PREFIX --ids N [--tick-us T] [--seed N] [--host IP]\n"
        "                    [--header 'K: V']...\n"
        "                    [--mix get:G,post:P,write:W --entity E --write-feature F\n"
        "                     [--read-ids N] [--write-rows N]] [--interval S [--rss-pid PID]]\n"
        "       loadgen replay --port P --path PATH [--connections C] [--host IP]\n"
        "                    [--header 'K: V']... BODY_FILE...\n");
    exit(2);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void record(uint64_t lat_ns)
{
    if (st.n == st.cap) {
        size_t cap = st.cap ? st.cap * 2 : 1u << 16;
        uint64_t *p = realloc(st.lat_us, cap * sizeof *p);
        if (!p)
            die("realloc");
        st.lat_us = p;
        st.cap = cap;
    }
    st.lat_us[st.n++] = (lat_ns + 500) / 1000;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted samples. */
static uint64_t pct(double q)
{
    if (st.n == 0)
        return 0;
    size_t rank = (size_t)(q / 100.0 * (double)st.n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > st.n)
        rank = st.n;
    return st.lat_us[rank - 1];
}

static void conn_open(conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        die("socket");
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr))
        die("connect");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev))
        die("epoll_ctl");
    c->in_len = 0;
}

static void conn_release(conn *c)
{
    if (c->busy) {
        c->busy = false;
        inflight--;
    }
    c->next_free = free_list;
    free_list = c;
}

/*
 * A connection failed or the server closed it: a request in flight is lost
 * (an error); the connection is reopened and, if it was busy, freed. An idle
 * connection is already on the free list.
 */
static void conn_fail(conn *c, bool count_error)
{
    bool was_busy = c->busy;
    if (was_busy && count_error)
        st.errors++;
    close(c->fd);
    st.reconnects++;
    conn_open(c);
    if (was_busy)
        conn_release(c);
}

static void set_events(conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev))
        die("epoll_ctl");
}

/* Writes what the socket takes; asks for EPOLLOUT if something is left. */
static int conn_flush(conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_events(c, EPOLLIN | EPOLLOUT);
                return 0;
            }
            if (errno == EINTR)
                continue;
            return -1;
        }
        c->out_off += (size_t)n;
    }
    return 0;
}

static void conn_send(conn *c, const char *msg, size_t len, uint64_t sched_ns)
{
    c->out = msg;
    c->out_len = len;
    c->out_off = 0;
    c->busy = true;
    inflight++;
    c->in_len = 0;
    c->sched_ns = sched_ns;
    if (conn_flush(c))
        conn_fail(c, true);
}

/* Looks for a header (case-insensitive name) in the head; returns its value. */
static const char *find_header(const char *head, size_t head_len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', head_len);
    const char *end = head + head_len;
    while (p && p + 1 < end) {
        p++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}

/*
 * Parses the buffered input. Returns 1 when a whole response is there (and
 * fills *status, *must_close, *body, *body_len), 0 when more is needed, -1 on
 * a response this tool cannot frame.
 */
static int parse_response(conn *c, int *status, bool *must_close, const char **body,
                          size_t *body_len)
{
    char *hend = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!hend)
        return c->in_len > MAX_HEAD_BYTES ? -1 : 0;
    size_t head_len = (size_t)(hend - c->in) + 4;
    if (c->in_len < 12 || strncmp(c->in, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(c->in + 9);
    size_t vlen = 0;
    const char *v = find_header(c->in, head_len, "Transfer-Encoding", &vlen);
    if (v)
        return -1;
    v = find_header(c->in, head_len, "Content-Length", &vlen);
    if (!v)
        return -1;
    char num[32];
    if (vlen == 0 || vlen >= sizeof num)
        return -1;
    memcpy(num, v, vlen);
    num[vlen] = '\0';
    char *endp = NULL;
    unsigned long long clen = strtoull(num, &endp, 10);
    if (*endp != '\0')
        return -1;
    if (c->in_len < head_len + clen)
        return 0;
    if (c->in_len > head_len + clen)
        return -1; /* we never pipeline: extra bytes mean a framing bug */
    v = find_header(c->in, head_len, "Connection", &vlen);
    *must_close = v && vlen == 5 && strncasecmp(v, "close", 5) == 0;
    *body = c->in + head_len;
    *body_len = (size_t)clen;
    return 1;
}

static uint64_t parse_written_values(const char *body, size_t len)
{
    const char *k = memmem(body, len, "\"written_values\":", 17);
    if (!k)
        return 0;
    return strtoull(k + 17, NULL, 10);
}

/* Records a complete response and frees the connection. */
static void conn_done(conn *c, int status, bool must_close, const char *body, size_t body_len,
                      uint64_t warm_ns)
{
    uint64_t t = now_ns();
    if (c->sched_ns >= warm_ns) {
        record(t > c->sched_ns ? t - c->sched_ns : 0);
        if (status >= 200 && status < 300) {
            st.ok++;
        } else {
            st.non2xx++;
            if (!st.first_status_bad)
                st.first_status_bad = (uint64_t)status;
        }
    }
    st.written_values += parse_written_values(body, body_len);
    c->in_len = 0;
    if (must_close) {
        close(c->fd);
        st.reconnects++;
        conn_open(c);
    }
    conn_release(c);
}

/*
 * Reads until a whole response is there (then records it) or the socket is
 * drained. The usual answer arrives in one read, so a wake-up costs one read.
 */
static void conn_readable(conn *c, uint64_t warm_ns)
{
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 16384;
            char *p = realloc(c->in, cap);
            if (!p)
                die("realloc");
            c->in = p;
            c->in_cap = cap;
        }
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || !c->busy) {
            /* EOF, error, or bytes nobody asked for. */
            conn_fail(c, true);
            return;
        }
        c->in_len += (size_t)n;
        st.bytes_in += (uint64_t)n;
        int status = 0;
        bool must_close = false;
        const char *body = NULL;
        size_t body_len = 0;
        int r = parse_response(c, &status, &must_close, &body, &body_len);
        if (r < 0) {
            conn_fail(c, true);
            return;
        }
        if (r > 0) {
            conn_done(c, status, must_close, body, body_len, warm_ns);
            return;
        }
    }
}

static void conn_writable(conn *c)
{
    if (conn_flush(c)) {
        conn_fail(c, true);
        return;
    }
    if (c->out_off == c->out_len)
        set_events(c, EPOLLIN);
}

static void parse_args(int argc, char **argv, opts *o)
{
    if (argc < 2)
        usage();
    o->mode = argv[1];
    o->host = "127.0.0.1";
    o->connections = 32;
    o->seed = 0x5eed5eed12345678ULL;
    int i = 2;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            break;
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--host"))
            o->host = v;
        else if (!strcmp(a, "--port"))
            o->port = atoi(v);
        else if (!strcmp(a, "--rate"))
            o->rate = atof(v);
        else if (!strcmp(a, "--duration"))
            o->duration_s = atof(v);
        else if (!strcmp(a, "--warmup"))
            o->warmup_s = atof(v);
        else if (!strcmp(a, "--connections"))
            o->connections = atoi(v);
        else if (!strcmp(a, "--path-prefix"))
            o->path_prefix = v;
        else if (!strcmp(a, "--path"))
            o->path = v;
        else if (!strcmp(a, "--ids"))
            o->ids = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--tick-us"))
            o->tick_ns = strtoull(v, NULL, 10) * 1000u;
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 10) | 1;
        else if (!strcmp(a, "--mix")) {
            if (sscanf(v, "get:%u,post:%u,write:%u", &o->mix_get, &o->mix_post, &o->mix_write) !=
                    3 ||
                o->mix_get + o->mix_post + o->mix_write == 0)
                usage();
        } else if (!strcmp(a, "--entity"))
            o->entity = v;
        else if (!strcmp(a, "--write-feature"))
            o->write_feature = v;
        else if (!strcmp(a, "--read-ids"))
            o->read_ids = (unsigned)atoi(v);
        else if (!strcmp(a, "--write-rows"))
            o->write_rows = (unsigned)atoi(v);
        else if (!strcmp(a, "--interval"))
            o->interval_s = atof(v);
        else if (!strcmp(a, "--rss-pid"))
            o->rss_pid = atoi(v);
        else if (!strcmp(a, "--header")) {
            if (o->nheaders == MAX_HEADERS)
                usage();
            o->headers[o->nheaders++] = v;
        } else
            usage();
    }
    o->files = argv + i;
    o->nfiles = argc - i;
    if (o->port <= 0 || o->port > 65535 || o->connections <= 0 || o->connections > MAX_CONNS)
        usage();
    bool mix = o->mix_get + o->mix_post + o->mix_write > 0;
    if (!o->read_ids)
        o->read_ids = 10;
    if (!o->write_rows)
        o->write_rows = 10;
    if (mix && (!o->entity || !o->write_feature || o->read_ids > 100 || o->write_rows > 40))
        usage();
    if (mix && !o->path_prefix)
        o->path_prefix = "-"; /* unused */
    if (!strcmp(o->mode, "rate")) {
        if (o->rate <= 0 || o->duration_s <= 0 || !o->path_prefix || o->ids == 0 ||
            o->nfiles != 0 || o->warmup_s < 0 || o->warmup_s >= o->duration_s)
            usage();
    } else if (!strcmp(o->mode, "replay")) {
        if (!o->path || o->nfiles == 0)
            usage();
    } else {
        usage();
    }
}

static size_t build_head(char *dst, size_t cap, const opts *o, const char *method, const char *path,
                         uint64_t id, bool with_id, size_t body_len)
{
    int n = snprintf(dst, cap, "%s %s", method, path);
    if (with_id)
        n += snprintf(dst + n, cap - (size_t)n, "%" PRIu64, id);
    n += snprintf(dst + n, cap - (size_t)n, " HTTP/1.1\r\nHost: %s:%d\r\n", o->host, o->port);
    for (int h = 0; h < o->nheaders; h++)
        n += snprintf(dst + n, cap - (size_t)n, "%s\r\n", o->headers[h]);
    if (body_len || !strcmp(method, "POST"))
        n += snprintf(dst + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(dst + n, cap - (size_t)n, "\r\n");
    if ((size_t)n >= cap) {
        fprintf(stderr, "loadgen: request head too long\n");
        exit(2);
    }
    return (size_t)n;
}

/*
 * Waits for events at most until `until_ns` (0: up to 100 ms) and handles them.
 * epoll_pwait2 takes a nanosecond timeout; kernels before 5.11 get epoll_wait
 * with the timeout rounded up to a millisecond.
 */
static void wait_events(uint64_t until_ns, uint64_t warm_ns)
{
    static bool no_pwait2;
    struct epoll_event evs[256];
    uint64_t wait_ns = 100000000u;
    if (until_ns) {
        uint64_t t = now_ns();
        wait_ns = until_ns > t ? until_ns - t : 0;
    }
    int n = -1;
    if (!no_pwait2) {
        struct timespec ts = {.tv_sec = (time_t)(wait_ns / 1000000000u),
                              .tv_nsec = (long)(wait_ns % 1000000000u)};
        n = epoll_pwait2(ep, evs, 256, &ts, NULL);
        if (n < 0 && errno == ENOSYS)
            no_pwait2 = true;
    }
    if (no_pwait2)
        n = epoll_wait(ep, evs, 256, (int)((wait_ns + 999999) / 1000000));
    if (n < 0 && errno != EINTR)
        die("epoll_wait");
    for (int i = 0; i < n; i++) {
        conn *c = evs[i].data.ptr;
        if (evs[i].events & EPOLLOUT)
            conn_writable(c);
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            conn_readable(c, warm_ns);
    }
}

/* Decimal digits of v at dst; returns their count. */
static size_t put_u64(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

/*
 * --mix: one request of a kind drawn by weight into c->req (GET is 0, POST
 * online:read 1, write 2); ids are uniform in [0, ids). Returns its length.
 */
static size_t build_mix(conn *c, const opts *o, uint64_t *rng)
{
    char body[3072];
    size_t bn = 0;
    unsigned total = o->mix_get + o->mix_post + o->mix_write;
    unsigned pick = (unsigned)(xorshift(rng) % total);
    int kind = pick < o->mix_get ? 0 : pick < o->mix_get + o->mix_post ? 1 : 2;
    st.sent[kind]++;
    if (kind == 0) {
        char path[256];
        snprintf(path, sizeof path, "/v1/entities/%s/values/u%" PRIu64, o->entity,
                 xorshift(rng) % o->ids);
        return build_head(c->req, sizeof c->req, o, "GET", path, 0, false, 0);
    }
    if (kind == 1) {
        bn += (size_t)snprintf(body, sizeof body, "{\"entity\":\"%s\",\"ids\":[", o->entity);
        for (unsigned i = 0; i < o->read_ids; i++)
            bn += (size_t)snprintf(body + bn, sizeof body - bn, "%s\"u%" PRIu64 "\"", i ? "," : "",
                                   xorshift(rng) % o->ids);
        bn += (size_t)snprintf(body + bn, sizeof body - bn, "]}");
    } else {
        bn += (size_t)snprintf(body, sizeof body, "{\"rows\":[");
        for (unsigned i = 0; i < o->write_rows; i++)
            bn += (size_t)snprintf(body + bn, sizeof body - bn,
                                   "%s{\"entity_id\":\"u%" PRIu64 "\",\"values\":{\"%s\":%.4f}}",
                                   i ? "," : "", xorshift(rng) % o->ids, o->write_feature,
                                   (double)(xorshift(rng) % 10000) / 10000.0);
        bn += (size_t)snprintf(body + bn, sizeof body - bn, "]}");
    }
    if (bn >= sizeof body) {
        fprintf(stderr, "loadgen: --mix request body too long\n");
        exit(2);
    }
    char path[256];
    if (kind == 1)
        snprintf(path, sizeof path, "/v1/online:read");
    else
        snprintf(path, sizeof path, "/v1/entities/%s:write", o->entity);
    size_t hn = build_head(c->req, sizeof c->req, o, "POST", path, 0, false, bn);
    if (hn + bn > sizeof c->req) {
        fprintf(stderr, "loadgen: --mix request too long\n");
        exit(2);
    }
    memcpy(c->req + hn, body, bn);
    return hn + bn;
}

/* VmRSS of pid in KiB, 0 if unknown. */
static uint64_t rss_kb(int pid)
{
    char path[64], line[256];
    uint64_t kb = 0;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* --interval: one line for the samples recorded since the last one. */
static void report_interval(const opts *o, double t_s, size_t *from, uint64_t *ok0, uint64_t *bad0,
                            uint64_t *err0)
{
    size_t n = st.n - *from;
    uint64_t *v = n ? malloc(n * sizeof *v) : NULL;
    uint64_t p50 = 0, p99 = 0, max = 0;
    if (n) {
        if (!v)
            die("malloc");
        memcpy(v, st.lat_us + *from, n * sizeof *v);
        qsort(v, n, sizeof *v, cmp_u64);
        p50 = v[(n - 1) / 2];
        p99 = v[(size_t)(0.99 * (double)(n - 1))];
        max = v[n - 1];
    }
    free(v);
    printf("INTERVAL t_s=%.1f requests=%zu rps=%.0f non2xx=%" PRIu64 " errors=%" PRIu64
           " p50_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64 " rss_kb=%" PRIu64 "\n",
           t_s, n, (double)n / o->interval_s, st.non2xx - *bad0, st.errors - *err0, p50, p99, max,
           o->rss_pid ? rss_kb(o->rss_pid) : 0);
    fflush(stdout);
    *from = st.n;
    *ok0 = st.ok;
    *bad0 = st.non2xx;
    *err0 = st.errors;
}

static int run_rate(const opts *o)
{
    /* Every request is "GET <prefix><id>" + the same tail: build both once. */
    char head[1024], tail[1024];
    size_t head_len = (size_t)snprintf(head, sizeof head, "GET %s", o->path_prefix);
    size_t tail_len = build_head(tail, sizeof tail, o, "GET", "", 0, false, 0);
    /* build_head wrote "GET  HTTP/1.1...": keep what follows the path. */
    memmove(tail, tail + 4, tail_len - 4);
    tail_len -= 4;
    if (head_len + 20 + tail_len > sizeof conns[0].req) {
        fprintf(stderr, "loadgen: request head too long\n");
        exit(2);
    }

    uint64_t rng = o->seed;
    double period_ns = 1e9 / o->rate;
    uint64_t total = (uint64_t)(o->rate * o->duration_s);
    uint64_t t0 = now_ns() + 10000000u; /* 10 ms to settle */
    uint64_t warm_ns = t0 + (uint64_t)(o->warmup_s * 1e9);
    uint64_t end = t0 + (uint64_t)(o->duration_s * 1e9);
    uint64_t deadline = end + 5000000000u;
    uint64_t next = 0, max_backlog = 0;
    bool mix = o->mix_get + o->mix_post + o->mix_write > 0;
    uint64_t interval_ns = (uint64_t)(o->interval_s * 1e9);
    uint64_t next_report = interval_ns ? t0 + interval_ns : UINT64_MAX;
    size_t iv_from = 0;
    uint64_t iv_ok = 0, iv_bad = 0, iv_err = 0;

    for (;;) {
        uint64_t t = now_ns();
        if (t >= next_report) {
            report_interval(o, (double)(next_report - t0) / 1e9, &iv_from, &iv_ok, &iv_bad,
                            &iv_err);
            next_report += interval_ns;
        }
        /* Every request is scheduled within the run; one that falls due
         * while all connections are busy goes out as soon as one frees, also
         * after the run's end, until 5 s past it (the deadline). Its latency
         * counts from its scheduled time, so lateness is measured, not
         * forgiven. Not completed = scheduled but not answered by the
         * deadline: a server that fell behind by more than that shows here.
         * (Stopping the sends at the end would count the few requests a
         * healthy server has queued at that instant as failures.) */
        while (next < total && t <= deadline) {
            uint64_t due = t0 + (uint64_t)((double)next * period_ns);
            if (due > t)
                break;
            if (!free_list) {
                /* Requests due but not sent: all connections are busy. */
                uint64_t due_count = (uint64_t)((double)(t - t0) / period_ns) + 1;
                if (due_count > total)
                    due_count = total;
                uint64_t backlog = due_count - next;
                if (backlog > max_backlog)
                    max_backlog = backlog;
                break;
            }
            conn *c = free_list;
            free_list = c->next_free;
            size_t len;
            if (mix) {
                len = build_mix(c, o, &rng);
            } else {
                uint64_t id = xorshift(&rng) % o->ids;
                len = head_len;
                memcpy(c->req, head, head_len);
                len += put_u64(c->req + len, id);
                memcpy(c->req + len, tail, tail_len);
                len += tail_len;
            }
            conn_send(c, c->req, len, due);
            next++;
        }
        if ((next >= total && inflight == 0) || t > deadline)
            break;
        /* Sleep until the next send is due, unless no connection could take it. */
        uint64_t until = 0;
        if (next < total && free_list && t <= deadline) {
            until = t0 + (uint64_t)((double)next * period_ns);
            /* --tick-us: wake at most once per tick; the requests that fell due
             * meanwhile go out together, late, and their latency says so. */
            uint64_t earliest = now_ns() + o->tick_ns;
            if (until < earliest)
                until = earliest;
        }
        if (next_report != UINT64_MAX && (!until || until > next_report))
            until = next_report;
        wait_events(until, warm_ns);
    }

    uint64_t lost = (uint64_t)inflight;
    lost += total - next; /* never sent: the generator or server could not keep up */
    double measured_s = o->duration_s - o->warmup_s;
    double achieved = (double)(st.ok + st.non2xx) / measured_s;
    qsort(st.lat_us, st.n, sizeof *st.lat_us, cmp_u64);
    fprintf(stderr,
            "loadgen rate: target %.0f req/s for %.1f s (+%.1f s warm-up) on %d connections\n"
            "  measured %zu requests (%.0f req/s), %" PRIu64 " non-2xx, %" PRIu64
            " errors, %" PRIu64 " not completed, max backlog %" PRIu64 "\n"
            "  latency from scheduled send (us): p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64
            "  p99.9 %" PRIu64 "  max %" PRIu64 "\n",
            o->rate, measured_s, o->warmup_s, o->connections, st.n, achieved, st.non2xx, st.errors,
            lost, max_backlog, pct(50), pct(90), pct(99), pct(99.9),
            st.n ? st.lat_us[st.n - 1] : 0);
    printf("RESULT mode=rate target_rps=%.0f achieved_rps=%.0f requests=%zu "
           "non2xx=%" PRIu64 " first_bad_status=%" PRIu64 " errors=%" PRIu64
           " not_completed=%" PRIu64 " max_backlog=%" PRIu64 " p50_us=%" PRIu64 " p90_us=%" PRIu64
           " p99_us=%" PRIu64 " p999_us=%" PRIu64 " max_us=%" PRIu64 " sent_get=%" PRIu64
           " sent_post=%" PRIu64 " sent_write=%" PRIu64 "\n",
           o->rate, achieved, st.n, st.non2xx, st.first_status_bad, st.errors, lost, max_backlog,
           pct(50), pct(90), pct(99), pct(99.9), st.n ? st.lat_us[st.n - 1] : 0, st.sent[0],
           st.sent[1], st.sent[2]);
    return (st.errors || st.non2xx || lost) ? 1 : 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    if (!f)
        die(path);
    struct stat sb;
    if (fstat(fileno(f), &sb))
        die(path);
    p = malloc((size_t)sb.st_size + 1);
    if (!p)
        die("malloc");
    if (fread(p, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
        die(path);
    fclose(f);
    *len = (size_t)sb.st_size;
    return p;
}

static int run_replay(const opts *o)
{
    char **msgs = calloc((size_t)o->nfiles, sizeof *msgs);
    size_t *lens = calloc((size_t)o->nfiles, sizeof *lens);
    if (!msgs || !lens)
        die("calloc");
    for (int i = 0; i < o->nfiles; i++) {
        size_t blen = 0;
        char *body = read_file(o->files[i], &blen);
        char head[2048];
        size_t hlen = build_head(head, sizeof head, o, "POST", o->path, 0, false, blen);
        msgs[i] = malloc(hlen + blen);
        if (!msgs[i])
            die("malloc");
        memcpy(msgs[i], head, hlen);
        memcpy(msgs[i] + hlen, body, blen);
        lens[i] = hlen + blen;
        free(body);
    }

    int next = 0;
    uint64_t t0 = now_ns();
    for (;;) {
        while (next < o->nfiles && free_list) {
            conn *c = free_list;
            free_list = c->next_free;
            conn_send(c, msgs[next], lens[next], now_ns());
            next++;
        }
        if (next >= o->nfiles && inflight == 0)
            break;
        wait_events(0, 0);
    }
    uint64_t t1 = now_ns();
    double secs = (double)(t1 - t0) / 1e9;
    qsort(st.lat_us, st.n, sizeof *st.lat_us, cmp_u64);
    fprintf(stderr,
            "loadgen replay: %d requests on %d connections in %.3f s: %.1f req/s, %" PRIu64
            " values written (%.0f values/s), %" PRIu64 " non-2xx, %" PRIu64 " errors\n"
            "  latency (us): p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  max %" PRIu64 "\n",
            o->nfiles, o->connections, secs, (double)o->nfiles / secs, st.written_values,
            (double)st.written_values / secs, st.non2xx, st.errors, pct(50), pct(90), pct(99),
            st.n ? st.lat_us[st.n - 1] : 0);
    printf("RESULT mode=replay requests=%d seconds=%.3f rps=%.1f written_values=%" PRIu64
           " values_per_s=%.0f non2xx=%" PRIu64 " first_bad_status=%" PRIu64 " errors=%" PRIu64
           " p50_us=%" PRIu64 " p90_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64 "\n",
           o->nfiles, secs, (double)o->nfiles / secs, st.written_values,
           (double)st.written_values / secs, st.non2xx, st.first_status_bad, st.errors, pct(50),
           pct(90), pct(99), st.n ? st.lat_us[st.n - 1] : 0);
    for (int i = 0; i < o->nfiles; i++)
        free(msgs[i]);
    free(msgs);
    free(lens);
    return (st.errors || st.non2xx) ? 1 : 0;
}

int main(int argc, char **argv)
{
    opts o = {0};
    parse_args(argc, argv, &o);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)o.port);
    if (inet_pton(AF_INET, o.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
        return 2;
    }
    ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    conns = calloc((size_t)o.connections, sizeof *conns);
    if (!conns)
        die("calloc");
    for (int i = o.connections - 1; i >= 0; i--) {
        conn_open(&conns[i]);
        conns[i].next_free = free_list;
        free_list = &conns[i];
    }
    int rc = !strcmp(o.mode, "rate") ? run_rate(&o) : run_replay(&o);
    for (int i = 0; i < o.connections; i++) {
        close(conns[i].fd);
        free(conns[i].in);
    }
    free(conns);
    free(st.lat_us);
    close(ep);
    return rc;
}
