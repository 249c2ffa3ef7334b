/*
 * metrics.h - request counters and latency histograms per route, rendered as
 * Prometheus text. Updates are relaxed atomic adds: no lock on the hot path.
 */
#ifndef STRATA_SERVING_METRICS_H
#define STRATA_SERVING_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct metrics metrics;

/* Routes are numbered 0..nroutes-1; one extra slot counts unmatched requests. */
metrics *metrics_create(size_t nroutes);
void metrics_destroy(metrics *m); /* NULL ok */
void metrics_observe(metrics *m, int route_id, int http_status, uint64_t latency_ns);
/* Append the per-route series; name_of(id) gives each route's label. */
void metrics_render(const metrics *m, buf *out, const char *(*name_of)(int id));

#endif
