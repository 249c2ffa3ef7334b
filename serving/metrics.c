/* metrics.c - lock-free per-route counters and fixed-bucket histograms. */
#include "serving/metrics.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Upper bounds in seconds; online reads live in the first few buckets. */
static const double bucket_le[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                   0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1,
                                   2.5,     5,      10};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])
#define NCLASSES 5 /* 1xx..5xx */

typedef struct route_stats {
    atomic_uint_fast64_t by_class[NCLASSES];
    atomic_uint_fast64_t buckets[NBUCKETS + 1]; /* last = +Inf */
    atomic_uint_fast64_t sum_ns;
} route_stats;

struct metrics {
    size_t n; /* routes + 1 (unmatched) */
    route_stats *r;
};

metrics *metrics_create(size_t nroutes)
{
    metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->n = nroutes + 1;
    m->r = calloc(m->n, sizeof *m->r);
    if (!m->r) {
        free(m);
        return NULL;
    }
    return m;
}

void metrics_destroy(metrics *m)
{
    if (!m)
        return;
    free(m->r);
    free(m);
}

void metrics_observe(metrics *m, int route_id, int http_status, uint64_t latency_ns)
{
    size_t idx = route_id >= 0 && (size_t)route_id < m->n - 1 ? (size_t)route_id : m->n - 1;
    route_stats *s = &m->r[idx];
    int cls = http_status / 100 - 1;
    if (cls < 0 || cls >= NCLASSES)
        cls = NCLASSES - 1;
    atomic_fetch_add_explicit(&s->by_class[cls], 1, memory_order_relaxed);
    double secs = (double)latency_ns / 1e9;
    size_t b = 0;
    while (b < NBUCKETS && secs > bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_ns, latency_ns, memory_order_relaxed);
}

static uint64_t ld(const atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

void metrics_render(const metrics *m, buf *out, const char *(*name_of)(int id))
{
    buf_append_str(out, "# HELP strata_http_requests_total HTTP requests by route and status "
                        "class.\n# TYPE strata_http_requests_total counter\n");
    for (size_t i = 0; i < m->n; i++) {
        const char *name = name_of((int)i == (int)m->n - 1 ? -1 : (int)i);
        for (int c = 0; c < NCLASSES; c++) {
            uint64_t v = ld(&m->r[i].by_class[c]);
            if (v)
                buf_printf(out, "strata_http_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n",
                           name, c + 1, (unsigned long long)v);
        }
    }
    buf_append_str(out, "# HELP strata_http_request_duration_seconds Request latency by route, "
                        "from the request's first byte to its response being queued.\n"
                        "# TYPE strata_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n; i++) {
        const route_stats *s = &m->r[i];
        uint64_t total = 0;
        for (size_t b = 0; b <= NBUCKETS; b++)
            total += ld(&s->buckets[b]);
        if (!total)
            continue;
        const char *name = name_of((int)i == (int)m->n - 1 ? -1 : (int)i);
        uint64_t cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += ld(&s->buckets[b]);
            buf_printf(out,
                       "strata_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                       "%llu\n",
                       name, bucket_le[b], (unsigned long long)cum);
        }
        buf_printf(out,
                   "strata_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                   "strata_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n"
                   "strata_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                   name, (unsigned long long)total, name, (double)ld(&s->sum_ns) / 1e9, name,
                   (unsigned long long)total);
    }
}
