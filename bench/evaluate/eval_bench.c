/*
 * eval_bench.c - the Strata side of bench/evaluate (see run.sh there): the
 * evaluator in process, eval_compute on the rows make_data.py wrote.
 *
 *   eval_bench DIR [--replicates R] [--seed S] [--no-intersections] [--json FILE]
 *
 * Loads DIR/meta.json and the binary arrays (label.u8, score.f64, sex.u32,
 * race.u32: the attributes meta.json lists, in its order) into the arrays an
 * eval_data borrows (labels widened to double, as the service's reader hands
 * them over), then times one eval_compute call: binary task, threshold 0.5,
 * group_by all attributes, intersections on, R bootstrap replicates (default
 * 200) seeded S (default 1), every other option at its default. Then, outside
 * the timing, serialises the result (timed apart as dump_s: what the service
 * would add to store it) and writes it to FILE when --json is given.
 *
 * Prints one line on stdout:
 *   RESULT rows=N load_s=.. wall_s=.. cpu_s=.. dump_s=.. json_bytes=..
 *          loaded_rss_mib=.. peak_rss_mib=.. groups=.. roc_auc=..
 * wall_s and cpu_s cover eval_compute alone (cpu_s: every thread of the
 * process, CLOCK_PROCESS_CPUTIME_ID). loaded_rss_mib is VmRSS with the inputs
 * loaded, before the call; peak_rss_mib is VmHWM after it (the inputs are the
 * largest thing loaded, so that high-water mark is the call's peak). Exits 1
 * with a message on stderr on any failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "trainer/evaluate.h"

#define MAX_ATTRS 2 /* make_data.py writes sex and race */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "eval_bench: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

/* VmRSS or VmHWM of this process, in MiB. */
static double vm_mib(const char *key)
{
    char line[256];
    size_t klen = strlen(key);
    double kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            kib = strtod(line + klen + 1, NULL);
            break;
        }
    fclose(f);
    return kib / 1024;
}

/* Reads DIR/NAME, which must hold exactly n elements of elem bytes, into a
 * new buffer the caller frees. */
static void *load_array(const char *dir, const char *name, size_t n, size_t elem)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, strerror(errno));
    void *v = malloc(n * elem + 1);
    if (!v)
        die(path, "out of memory");
    size_t got = fread(v, elem, n, f);
    /* one byte more must not be there: the file is exactly n elements */
    if (got != n || fread((char *)v + n * elem, 1, 1, f) != 0)
        die(path, "not the size meta.json says");
    fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *json_out = NULL;
    eval_options o;
    eval_options_init(&o);
    o.intersections = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--replicates") == 0 && i + 1 < argc)
            o.replicates = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            o.seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--no-intersections") == 0)
            o.intersections = false;
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json_out = argv[++i];
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            die("usage: eval_bench DIR [--replicates R] [--seed S] [--no-intersections] "
                "[--json FILE]",
                NULL);
    }
    if (!dir)
        die("usage: eval_bench DIR [...]", NULL);

    /* ---- load (untimed as the evaluation; reported as load_s) ---- */
    double t_load = clock_s(CLOCK_MONOTONIC);
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    json_error_t je;
    json_t *meta = json_load_file(path, 0, &je);
    if (!meta)
        die(path, je.text);
    json_int_t rows = json_integer_value(json_object_get(meta, "rows"));
    const json_t *jattrs = json_object_get(meta, "attributes");
    size_t n_attrs = json_array_size(jattrs);
    if (rows < 1 || n_attrs < 1 || n_attrs > MAX_ATTRS)
        die(path, "needs rows >= 1 and 1 or 2 attributes");
    size_t n = (size_t)rows;

    uint8_t *label = load_array(dir, "label.u8", n, 1);
    double *y = malloc(n * sizeof *y);
    if (!y)
        die("labels", "out of memory");
    for (size_t i = 0; i < n; i++)
        y[i] = label[i];
    free(label);
    double *score = load_array(dir, "score.f64", n, sizeof(double));

    eval_attr attrs[MAX_ATTRS];
    const char *values[MAX_ATTRS][16];
    uint32_t *codes[MAX_ATTRS] = {NULL};
    for (size_t a = 0; a < n_attrs; a++) {
        const json_t *ja = json_array_get(jattrs, a), *jv = json_object_get(ja, "values");
        const char *name = json_string_value(json_object_get(ja, "name"));
        size_t nv = json_array_size(jv);
        if (!name || nv < 1 || nv > 16)
            die(path, "an attribute needs a name and 1 to 16 values");
        for (size_t v = 0; v < nv; v++)
            values[a][v] = json_string_value(json_array_get(jv, v));
        char file[300];
        snprintf(file, sizeof file, "%s.u32", name);
        codes[a] = load_array(dir, file, n, sizeof(uint32_t));
        attrs[a] = (eval_attr){name, nv, values[a], codes[a]};
    }
    eval_data d = {.task = EVAL_BINARY, .n = n, .y = y, .score = score, .n_attrs = n_attrs,
                   .attrs = attrs};
    double load_s = clock_s(CLOCK_MONOTONIC) - t_load;
    double loaded_rss = vm_mib("VmRSS");

    /* ---- the measurement ---- */
    json_t *res = NULL;
    strata_err err = STRATA_ERR_INIT;
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = clock_s(CLOCK_MONOTONIC);
    int rc = eval_compute(&d, &o, &res, &err);
    double wall = clock_s(CLOCK_MONOTONIC) - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    double peak = vm_mib("VmHWM");
    if (rc)
        die("eval_compute", err.message);

    /* ---- the result, outside the timing ---- */
    t0 = clock_s(CLOCK_MONOTONIC);
    char *text = json_dumps(res, JSON_COMPACT);
    double dump_s = clock_s(CLOCK_MONOTONIC) - t0;
    if (!text)
        die("json_dumps", "out of memory");
    if (json_out) {
        FILE *f = fopen(json_out, "w");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
            die(json_out, strerror(errno));
    }
    printf("RESULT rows=%zu load_s=%.3f wall_s=%.3f cpu_s=%.3f dump_s=%.3f json_bytes=%zu "
           "loaded_rss_mib=%.0f peak_rss_mib=%.0f groups=%zu roc_auc=%.6f replicates=%u\n",
           n, load_s, wall, cpu, dump_s, strlen(text), loaded_rss, peak,
           json_array_size(json_object_get(res, "groups")),
           json_number_value(json_object_get(json_object_get(res, "overall"), "roc_auc")),
           o.replicates);
    free(text);
    json_decref(res);
    json_decref(meta);
    for (size_t a = 0; a < n_attrs; a++)
        free(codes[a]);
    free(y);
    free(score);
    return 0;
}
