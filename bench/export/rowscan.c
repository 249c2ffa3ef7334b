/*
 * bench/export/rowscan.c - what a row-grouped `values` layout would cost to
 * walk: an experiment for the key-layout decision (docs/benchmarks.md,
 * bench/export "One key per row"), not part of any Strata code path.
 *
 * Usage: rowscan SRC_DATA_DIR DST_DIR build   (regroup once)
 *        rowscan SRC_DATA_DIR DST_DIR scan    (time a full walk of DST_DIR)
 *
 * build: reads the `values` column family of a Strata data directory
 * (read-only; no stratad may hold it) and writes DST_DIR, a plain RocksDB with
 * one key per (entity, id, event time, created time) — every version that
 * one written row produced — whose value lists the row's cells:
 *
 *   key:   the value key's (entity, id) prefix | ~event time u64 | ~created u64 | ~seq u64
 *          (Strata's own suffix of the row's first cell, so the order is the store's)
 *   value: per cell: feature id u32 BE | varint n | n bytes of the stored value
 *
 * with the options Strata gives `values` (LZ4 at every level, 16 KiB blocks,
 * format 5), flushed and compacted to one sorted run.
 *
 * scan: iterates DST_DIR once with the export scan's read options
 * (total-order, fill_cache off) and walks every cell of every row (feature id,
 * length, bytes), as a scan join would. Prints
 *   rows=N cells=N key_bytes=N value_bytes=N wall_ms=N cpu_ms=N
 * to set beside rawscan's walk of the same cells as one key each.
 */
#define _POSIX_C_SOURCE 200809L
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "values_cf.h"

#define SUFFIX 24 /* ~event, ~created, ~seq */
#define FEATURE 4

typedef struct cell {
    char suf[SUFFIX];
    char feat[FEATURE];
    char *v;
    size_t vn;
} cell;

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void check(char *err, const char *what)
{
    if (err) {
        fprintf(stderr, "rowscan: %s: %s\n", what, err);
        exit(1);
    }
}

/* Same row: same event and created time (the first 16 suffix bytes). */
static int by_row(const void *a, const void *b)
{
    return memcmp(((const cell *)a)->suf, ((const cell *)b)->suf, 16);
}

static rocksdb_options_t *row_options(void)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_size(t, 16384);
    rocksdb_block_based_options_set_format_version(t, 5);
    rocksdb_options_set_block_based_table_factory(o, t);
    rocksdb_block_based_options_destroy(t);
    rocksdb_options_set_compression(o, rocksdb_lz4_compression);
    rocksdb_options_set_bottommost_compression(o, rocksdb_lz4_compression);
    rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
    rocksdb_options_set_write_buffer_size(o, (size_t)64 << 20);
    return o;
}

/* Write one id's cells (sorted into rows) as row keys. */
static unsigned long long put_rows(rocksdb_writebatch_t *wb, const char *pre, size_t pn, cell *cs,
                                   size_t n, char *key, char *val)
{
    unsigned long long rows = 0;
    qsort(cs, n, sizeof *cs, by_row);
    for (size_t i = 0; i < n;) {
        size_t j = i, vn = 0;
        for (; j < n && memcmp(cs[j].suf, cs[i].suf, 16) == 0; j++) {
            memcpy(val + vn, cs[j].feat, FEATURE);
            vn += FEATURE;
            size_t len = cs[j].vn;
            while (len >= 0x80) {
                val[vn++] = (char)(len | 0x80);
                len >>= 7;
            }
            val[vn++] = (char)len;
            memcpy(val + vn, cs[j].v, cs[j].vn);
            vn += cs[j].vn;
        }
        memcpy(key, pre, pn);
        memcpy(key + pn, cs[i].suf, SUFFIX);
        rocksdb_writebatch_put(wb, key, pn + SUFFIX, val, vn);
        rows++;
        i = j;
    }
    return rows;
}

static int build(const char *src, const char *dst)
{
    char *err = NULL;
    values_db vdb;
    values_db_open("rowscan", src, &vdb);
    rocksdb_options_t *ro_opts = row_options();
    rocksdb_t *out = rocksdb_open(ro_opts, dst, &err);
    check(err, dst);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(wo, 1);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(ro, 0);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(vdb.db, ro, vdb.values);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    char pre[1024], *key = malloc(2048), *val = malloc((size_t)64 << 20);
    size_t pn = 0, n = 0, cap = 0;
    cell *cs = NULL;
    unsigned long long rows = 0, cells = 0;
    for (rocksdb_iter_seek_to_first(it);; rocksdb_iter_next(it)) {
        int valid = rocksdb_iter_valid(it);
        size_t kl = 0, vl = 0;
        const char *k = NULL, *v = NULL;
        if (valid) {
            k = rocksdb_iter_key(it, &kl);
            v = rocksdb_iter_value(it, &vl);
            if (kl < SUFFIX + FEATURE + 4 || kl - SUFFIX - FEATURE > sizeof pre)
                check("a value key of unexpected length", src);
        }
        if (!valid || kl - SUFFIX - FEATURE != pn || memcmp(k, pre, pn) != 0) {
            rows += put_rows(wb, pre, pn, cs, n, key, val);
            for (size_t i = 0; i < n; i++)
                free(cs[i].v);
            n = 0;
            if (rocksdb_writebatch_count(wb) > 10000 || !valid) {
                rocksdb_write(out, wo, wb, &err);
                check(err, dst);
                rocksdb_writebatch_clear(wb);
            }
            if (!valid)
                break;
            pn = kl - SUFFIX - FEATURE;
            memcpy(pre, k, pn);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            cs = realloc(cs, cap * sizeof *cs);
        }
        memcpy(cs[n].suf, k + kl - SUFFIX, SUFFIX);
        memcpy(cs[n].feat, k + kl - SUFFIX - FEATURE, FEATURE);
        cs[n].v = malloc(vl ? vl : 1);
        memcpy(cs[n].v, v, vl);
        cs[n].vn = vl;
        n++;
        cells++;
    }
    rocksdb_iter_get_error(it, &err);
    check(err, src);
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flush(out, fo, &err);
    check(err, dst);
    rocksdb_compact_range(out, NULL, 0, NULL, 0);
    printf("rows=%llu cells=%llu\n", rows, cells);
    rocksdb_iter_destroy(it);
    rocksdb_writebatch_destroy(wb);
    rocksdb_flushoptions_destroy(fo);
    rocksdb_close(out);
    values_db_close(&vdb);
    free(cs);
    free(key);
    free(val);
    return 0;
}

static int scan(const char *dst)
{
    char *err = NULL;
    rocksdb_t *db = rocksdb_open_for_read_only(row_options(), dst, 0, &err);
    check(err, dst);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(ro, 1);
    rocksdb_readoptions_set_fill_cache(ro, 0);
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    unsigned long long rows = 0, cells = 0, kb = 0, vb = 0, feat_sum = 0;
    rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        rocksdb_iter_key(it, &kl);
        const unsigned char *v = (const unsigned char *)rocksdb_iter_value(it, &vl);
        for (size_t p = 0; p + FEATURE < vl;) {
            feat_sum += v[p + FEATURE - 1];
            p += FEATURE;
            size_t len = 0;
            for (int sh = 0; p < vl; sh += 7) {
                unsigned char c = v[p++];
                len |= (size_t)(c & 0x7f) << sh;
                if (!(c & 0x80))
                    break;
            }
            p += len;
            cells++;
        }
        kb += kl;
        vb += vl;
        rows++;
    }
    rocksdb_iter_get_error(it, &err);
    check(err, dst);
    double w1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_PROCESS_CPUTIME_ID);
    printf("rows=%llu cells=%llu key_bytes=%llu value_bytes=%llu wall_ms=%.0f cpu_ms=%.0f "
           "(feature byte sum %llu)\n",
           rows, cells, kb, vb, w1 - w0, c1 - c0, feat_sum);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    rocksdb_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "build") != 0 && strcmp(argv[3], "scan") != 0)) {
        fprintf(stderr, "usage: rowscan SRC_DATA_DIR DST_DIR build|scan\n");
        return 2;
    }
    return strcmp(argv[3], "build") == 0 ? build(argv[1], argv[2]) : scan(argv[2]);
}
