/*
 * rawwrite.c - Strata's import writes without Strata: the RocksDB work alone.
 *
 * Usage: rawwrite MODE DIR ROWS
 *
 *   MODE  batches: the WriteBatches an on_error=skip_row import commits, in file
 *                  order: per row 1 Put into `values` (the row of its write group)
 *                  and 1 Merge into `latest`, a batch every 50000 values, each
 *                  batch's ops in key order as store_write applies them, WAL
 *                  on, no fsync;
 *         sst:     the same keys and values loaded the bulk way Strata does not
 *                  use today: sort each column family's keys, write one SST file
 *                  each with SstFileWriter, IngestExternalFile (no memtable, no
 *                  WAL). Not atomic across the two column families.
 *   DIR   a directory that does not exist yet
 *   ROWS  rows of bench/ingest's CSV (ids and times follow the same formulas)
 *
 * Keys and values have Strata's layouts and sizes (docs/architecture.md, "Store
 * layout"): values key entity u32 | len u16 | id | group u32 | ~E(event) |
 * ~E(created) | ~seq, whose value is the row's 5 cells (varint feature id,
 * varint length, 9-byte value: 55 bytes; the five features are first written
 * together, so they share one write group); latest key entity | len | id, and
 * the row's fragment: format byte, event, created and seq once, then the same
 * 5 cells (80 bytes). The column families get store/store.c's options where the C API
 * has them (LZ4 then ZSTD bottommost, dynamic level bytes, 10-bit bloom filters,
 * the values prefix extractor, memtable blooms, 256 MiB of memtables, 2
 * background jobs). The latest merge operator keeps the last operand: with one
 * id per row it never merges two cells. Everything is built in memory before
 * the clock starts, so the time is RocksDB's alone.
 *
 * Prints one line: RESULT mode=... rows=... values=... seconds=... rows_per_s=... values_per_s=...
 */
#define _POSIX_C_SOURCE 200809L
#include <rocksdb/c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FEATURES 5
#define ID_LEN 8
#define VKEY (4 + 2 + ID_LEN + 4 + 8 + 8 + 8)
#define LKEY (4 + 2 + ID_LEN)
#define VAL 9
#define GROUP_ROW (FEATURES * (2 + VAL))
#define LROW (1 + 24 + GROUP_ROW)
#define BATCH_VALUES 50000

typedef struct {
    char k[VKEY];
    char v[GROUP_ROW];
} vrec;
typedef struct {
    char k[LKEY];
    char v[LROW];
} lrec;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die_if(char *err, const char *what)
{
    if (err) {
        fprintf(stderr, "rawwrite: %s: %s\n", what, err);
        exit(1);
    }
}

static void be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24), p[1] = (char)(v >> 16), p[2] = (char)(v >> 8), p[3] = (char)v;
}
static void be64(char *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    be32(p + 4, (uint32_t)v);
}
static void le32(char *p, uint32_t v)
{
    p[0] = (char)v, p[1] = (char)(v >> 8), p[2] = (char)(v >> 16), p[3] = (char)(v >> 24);
}
static void le64(char *p, uint64_t v)
{
    le32(p, (uint32_t)v);
    le32(p + 4, (uint32_t)(v >> 32));
}
static uint64_t enc_time(int64_t t) { return (uint64_t)t ^ (UINT64_C(1) << 63); }

/* Row k of the CSV: user u(k), event time k * 86400 s / rows into 2024-06-01. */
static void make_row(long rows, long k, vrec *v, lrec *l)
{
    const int64_t day0 = INT64_C(1717200000000000); /* 2024-06-01T00:00:00Z in us */
    long u = (k * 7919 + 12345) % rows;
    int64_t ev = day0 + (int64_t)((double)k * 86400e6 / (double)rows);
    int64_t cr = day0 + INT64_C(86400000000);
    uint64_t seq = (uint64_t)k + 1;
    char id[24];
    snprintf(id, sizeof id, "u%07ld", u); /* ROWS <= 10^7: always ID_LEN bytes */
    be32(l->k, 1);
    l->k[4] = 0;
    l->k[5] = ID_LEN;
    memcpy(l->k + 6, id, ID_LEN);
    l->v[0] = 2; /* a fragment */
    le64(l->v + 1, (uint64_t)ev);
    le64(l->v + 9, (uint64_t)cr);
    le64(l->v + 17, seq);
    memcpy(v->k, l->k, LKEY);
    be32(v->k + LKEY, UINT32_C(0x80000000) | 1); /* the set group of features 1..5 */
    be64(v->k + LKEY + 4, ~enc_time(ev));
    be64(v->k + LKEY + 12, ~enc_time(cr));
    be64(v->k + LKEY + 20, ~seq);
    for (int f = 0; f < FEATURES; f++) {
        char val[VAL], *gcell = v->v + f * (2 + VAL);
        val[0] = f < 3 ? 3 : f == 3 ? 2 : 4; /* DOUBLE DOUBLE DOUBLE INT64 STRING */
        le64(val + 1, (uint64_t)k * 2654435761u + (uint64_t)f);
        gcell[0] = (char)(f + 1);
        gcell[1] = VAL;
        memcpy(gcell + 2, val, VAL);
    }
    memcpy(l->v + 25, v->v, GROUP_ROW); /* the fragment's cells: the same bytes */
}

static int cmp_v(const void *a, const void *b) { return memcmp(a, b, VKEY); }
static int cmp_l(const void *a, const void *b) { return memcmp(a, b, LKEY); }

/* values prefix: entity | len | id | feature. */
static char *vp_transform(void *s, const char *key, size_t len, size_t *out)
{
    (void)s;
    size_t n = len >= 6 ? 6 + (((size_t)(unsigned char)key[4] << 8) | (unsigned char)key[5]) + 4 : len;
    *out = n <= len ? n : len;
    return (char *)key;
}
static unsigned char vp_in_domain(void *s, const char *key, size_t len)
{
    (void)s, (void)key;
    return len >= 6;
}
static unsigned char vp_in_range(void *s, const char *key, size_t len)
{
    (void)s, (void)key, (void)len;
    return 0;
}
static void vp_destroy(void *s) { (void)s; }
static const char *vp_name(void *s)
{
    (void)s;
    return "bench.values_feature_prefix";
}

/* latest: keep the last operand (one per key here). */
static char *mo_full(void *s, const char *key, size_t klen, const char *base, size_t blen,
                     const char *const *ops, const size_t *oplens, int nops, unsigned char *ok,
                     size_t *outlen)
{
    (void)s, (void)key, (void)klen;
    const char *src = nops ? ops[nops - 1] : base;
    size_t n = nops ? oplens[nops - 1] : blen;
    char *r = malloc(n ? n : 1);
    memcpy(r, src, n);
    *ok = 1;
    *outlen = n;
    return r;
}
static char *mo_partial(void *s, const char *key, size_t klen, const char *const *ops,
                        const size_t *oplens, int nops, unsigned char *ok, size_t *outlen)
{
    return mo_full(s, key, klen, NULL, 0, ops, oplens, nops, ok, outlen);
}
static void mo_free(void *s, const char *v, size_t n)
{
    (void)s, (void)n;
    free((char *)v);
}
static void mo_destroy(void *s) { (void)s; }
static const char *mo_name(void *s)
{
    (void)s;
    return "bench.keep_last";
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "batches") && strcmp(argv[1], "sst"))) {
        fprintf(stderr, "usage: rawwrite batches|sst DIR ROWS\n");
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2];
    long rows = atol(argv[3]);
    if (rows <= 0 || rows > 10000000) {
        fprintf(stderr, "rawwrite: ROWS must be 1..10000000 (ids are u + 7 digits)\n");
        return 2;
    }
    char *err = NULL;

    rocksdb_cache_t *cache = rocksdb_cache_create_lru((size_t)256 << 20);
    rocksdb_options_t *db = rocksdb_options_create();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    rocksdb_options_set_create_if_missing(db, 1);
    rocksdb_options_set_create_missing_column_families(db, 1);
    rocksdb_options_increase_parallelism(db, cpus < 2 ? 2 : cpus > 8 ? 8 : (int)cpus);
    rocksdb_options_set_max_background_jobs(db, 2);
    rocksdb_options_set_bytes_per_sync(db, 1 << 20);
    rocksdb_options_set_max_total_wal_size(db, (uint64_t)512 << 20);
    rocksdb_options_set_db_write_buffer_size(db, (size_t)256 << 20);
    rocksdb_options_t *cfo[3];
    for (int i = 0; i < 3; i++) {
        rocksdb_options_t *o = cfo[i] = rocksdb_options_create_copy(db);
        rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
        rocksdb_block_based_options_set_block_cache(t, cache);
        rocksdb_block_based_options_set_format_version(t, 5);
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
        rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(t, 1);
        rocksdb_options_set_compression(o, rocksdb_lz4_compression);
        rocksdb_options_set_bottommost_compression(o, rocksdb_zstd_compression);
        rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
        if (i == 1) {
            rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom_full(10));
            rocksdb_block_based_options_set_whole_key_filtering(t, 0);
            rocksdb_options_set_prefix_extractor(
                o, rocksdb_slicetransform_create(NULL, vp_destroy, vp_transform, vp_in_domain,
                                                 vp_in_range, vp_name));
            rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.02);
        } else if (i == 2) {
            rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom_full(10));
            rocksdb_block_based_options_set_data_block_index_type(
                t, rocksdb_block_based_table_data_block_index_type_binary_search_and_hash);
            rocksdb_options_set_memtable_whole_key_filtering(o, 1);
            rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.02);
            rocksdb_options_set_merge_operator(
                o, rocksdb_mergeoperator_create(NULL, mo_destroy, mo_full, mo_partial, mo_free, mo_name));
        }
        rocksdb_options_set_block_based_table_factory(o, t);
        rocksdb_block_based_options_destroy(t);
    }
    const char *names[3] = {"default", "values", "latest"};
    rocksdb_column_family_handle_t *cf[3];
    rocksdb_t *rdb = rocksdb_open_column_families(db, dir, 3, names,
                                                  (const rocksdb_options_t *const *)cfo, cf, &err);
    die_if(err, "open");

    vrec *v = malloc(sizeof *v * (size_t)rows);
    lrec *l = malloc(sizeof *l * (size_t)rows);
    if (!v || !l) {
        fprintf(stderr, "rawwrite: out of memory\n");
        return 1;
    }
    for (long k = 0; k < rows; k++)
        make_row(rows, k, v + k, l + k);

    double t0 = now_s();
    if (!strcmp(mode, "batches")) {
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        const long per_batch = BATCH_VALUES / FEATURES;
        for (long r0 = 0; r0 < rows; r0 += per_batch) {
            long r1 = r0 + per_batch < rows ? r0 + per_batch : rows;
            rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
            /* store_write sorts a batch by (column family, key) before it
             * applies it; so does this, inside the clock as there. */
            qsort(v + r0, (size_t)(r1 - r0), sizeof *v, cmp_v);
            qsort(l + r0, (size_t)(r1 - r0), sizeof *l, cmp_l);
            for (long r = r0; r < r1; r++)
                rocksdb_writebatch_put_cf(wb, cf[1], v[r].k, VKEY, v[r].v, GROUP_ROW);
            for (long r = r0; r < r1; r++)
                rocksdb_writebatch_merge_cf(wb, cf[2], l[r].k, LKEY, l[r].v, LROW);
            rocksdb_write(rdb, wo, wb, &err);
            die_if(err, "write");
            rocksdb_writebatch_destroy(wb);
        }
        rocksdb_writeoptions_destroy(wo);
    } else {
        qsort(v, (size_t)rows, sizeof *v, cmp_v);
        qsort(l, (size_t)rows, sizeof *l, cmp_l);
        rocksdb_envoptions_t *eo = rocksdb_envoptions_create();
        rocksdb_ingestexternalfileoptions_t *io = rocksdb_ingestexternalfileoptions_create();
        rocksdb_ingestexternalfileoptions_set_move_files(io, 1);
        for (int i = 1; i <= 2; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/bulk-%d.sst", dir, i);
            rocksdb_sstfilewriter_t *w = rocksdb_sstfilewriter_create(eo, cfo[i]);
            rocksdb_sstfilewriter_open(w, path, &err);
            die_if(err, "sst open");
            if (i == 1)
                for (long j = 0; j < rows && !err; j++)
                    rocksdb_sstfilewriter_put(w, v[j].k, VKEY, v[j].v, GROUP_ROW, &err);
            else
                for (long j = 0; j < rows && !err; j++)
                    rocksdb_sstfilewriter_merge(w, l[j].k, LKEY, l[j].v, LROW, &err);
            die_if(err, "sst add");
            rocksdb_sstfilewriter_finish(w, &err);
            die_if(err, "sst finish");
            rocksdb_sstfilewriter_destroy(w);
            const char *files[1] = {path};
            rocksdb_ingest_external_file_cf(rdb, cf[i], files, 1, io, &err);
            die_if(err, "ingest");
        }
        rocksdb_ingestexternalfileoptions_destroy(io);
        rocksdb_envoptions_destroy(eo);
    }
    double secs = now_s() - t0;
    printf("RESULT mode=%s rows=%ld values=%ld seconds=%.3f rows_per_s=%.0f values_per_s=%.0f\n",
           mode, rows, rows * FEATURES, secs, (double)rows / secs, (double)rows * FEATURES / secs);
    fflush(stdout);
    free(v);
    free(l);
    for (int i = 0; i < 3; i++) {
        rocksdb_column_family_handle_destroy(cf[i]);
        rocksdb_options_destroy(cfo[i]);
    }
    rocksdb_close(rdb);
    rocksdb_options_destroy(db);
    rocksdb_cache_destroy(cache);
    return 0;
}
