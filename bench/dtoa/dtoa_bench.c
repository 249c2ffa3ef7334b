/*
 * dtoa_bench.c - format N doubles into one buffer, for callgrind instruction
 * counts (bench/dtoa/run.sh); wall-clock numbers from this are not the point.
 *
 * Usage: dtoa_bench WAY DIST N
 *   WAY   new     jsonw_double (base/dtoa.c)
 *         old     the snprintf/strtod jsonw_double it replaced (old_jsonw.c,
 *                 which run.sh extracts from git and renames)
 *         printf  snprintf("%.17g") alone: glibc's cost for one full-precision
 *                 conversion, without the round-trip search
 *         none    generate the values only
 *   DIST  bits    uniformly random 64-bit patterns (NaN/inf skipped): every
 *                 exponent alike, mostly 16-17 digits
 *         unit    uniform in [0, 1) at full precision: ratios, probabilities
 *         short   a few decimals (12.34, 0.125): the old fast path's case
 * All the work to be counted happens in format_all (run.sh passes
 * --toggle-collect=format_all), so value generation is not counted.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/jsonw.h"

void old_jsonw_double(buf *b, double v);

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* noinline: callgrind toggles collection on entering and leaving it */
__attribute__((noinline)) static size_t format_all(const char *way, const double *v, size_t n,
                                                   buf *out)
{
    char tmp[32];
    for (size_t i = 0; i < n; i++) {
        if (way[0] == 'n' && way[1] == 'e')
            jsonw_double(out, v[i]);
        else if (way[0] == 'o')
            old_jsonw_double(out, v[i]);
        else if (way[0] == 'p')
            buf_append(out, tmp, (size_t)snprintf(tmp, sizeof tmp, "%.17g", v[i]));
        else
            continue;
        buf_putc(out, ',');
    }
    return out->n;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: dtoa_bench new|old|printf|none bits|unit|short N\n");
        return 2;
    }
    const char *way = argv[1], *dist = argv[2];
    size_t n = strtoul(argv[3], NULL, 10);
    double *v = malloc(n * sizeof *v);
    if (!v)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(dist, "bits") == 0) {
            do {
                uint64_t b = rng();
                memcpy(&v[i], &b, sizeof b);
            } while (!isfinite(v[i]));
        } else if (strcmp(dist, "unit") == 0) {
            v[i] = (double)(rng() >> 11) * 0x1p-53;
        } else {
            v[i] = (double)(int64_t)(rng() % 2000001 - 1000000) / (double)(1 + 99 * (rng() % 2));
        }
    }
    buf out = BUF_INIT;
    buf_reserve(&out, n * 26);
    size_t len = format_all(way, v, n, &out);
    /* Read the output back: a check that every way wrote what it claims. */
    size_t bad = 0, k = 0;
    const char *p = out.p;
    for (size_t i = 0; i < n && len; i++) {
        char *end;
        double r = strtod(p, &end);
        bad += r != v[i];
        p = end + 1;
        k++;
    }
    printf("way=%s dist=%s n=%zu bytes=%zu mismatches=%zu\n", way, dist, k, len, bad);
    buf_free(&out);
    free(v);
    return bad != 0;
}
