/*
 * bench/export/rawscan.c - the storage floor of a whole-entity export: iterate
 * every key of Strata's `values` column family in key order, nothing else. A
 * key is one written row of a write group (the bench's import writes its ten
 * features together), or one value of a feature in a group of its own
 * (docs/architecture.md "`values` key and value").
 *
 * Usage: rawscan DATA_DIR
 *
 * Opens DATA_DIR read-only (no stratad may hold it) with RocksDB's default
 * options and iterates `values` once with the read options of Strata's entity
 * scan (store/ids.c: total-order seek, fill_cache off), touching each key and
 * value (their lengths are summed). This is what export_reader's scan way costs
 * at the least before it decodes a key, merges a lookup or writes a byte.
 * Prints one line: keys=N key_bytes=N value_bytes=N wall_ms=N cpu_ms=N
 */
#define _POSIX_C_SOURCE 200809L
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "values_cf.h"

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: rawscan DATA_DIR\n");
        return 2;
    }
    char *err = NULL;
    values_db vdb;
    values_db_open("rawscan", argv[1], &vdb);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(ro, 1);
    rocksdb_readoptions_set_fill_cache(ro, 0);
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    unsigned long long n = 0, kb = 0, vb = 0;
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(vdb.db, ro, vdb.values);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        rocksdb_iter_key(it, &kl);
        rocksdb_iter_value(it, &vl);
        kb += kl;
        vb += vl;
        n++;
    }
    rocksdb_iter_get_error(it, &err);
    if (err) {
        fprintf(stderr, "rawscan: %s\n", err);
        return 1;
    }
    double w1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_PROCESS_CPUTIME_ID);
    printf("keys=%llu key_bytes=%llu value_bytes=%llu wall_ms=%.0f cpu_ms=%.0f\n", n, kb, vb,
           w1 - w0, c1 - c0);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    values_db_close(&vdb);
    return 0;
}
