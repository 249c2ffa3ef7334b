/*
 * store.c - opening the RocksDB database, versioned writes, deletes and reads.
 *
 * Column families (layouts: keys.h, store_int.h, docs/architecture.md):
 *   registry  entity/feature records          values  every version, newest first
 *   latest    one merged row per entity id    meta    layout version, counters
 *   lineage, audit, jobs                      created now, used by later modules
 *
 * Invariants kept here:
 *  - Every acknowledged store_write is one WriteBatch with the WAL on: all its
 *    versions and latest-row merges land together or not at all.
 *  - Write seqs are strictly increasing for the life of the data directory: a
 *    seq is used only after a ceiling above it was synced to `meta`, and
 *    store_open resumes at the persisted ceiling (numbers in between are
 *    skipped, never reused).
 *  - The latest row of an id equals, per feature, the newest version in
 *    `values`: writes merge a fragment (latest.c), deletes rebuild the row in
 *    the same batch that removes versions, under data_lock held exclusively so
 *    no merge can slip between the scan and the Put that replaces the row.
 *  - RocksDB error strings are converted to strata_err at once and freed.
 *  - A directory is never served, nor changed, unless it passed every check:
 *    not another program's, all column families present, layout not newer,
 *    WAL and MANIFEST intact (strict WAL recovery, WALs tracked in the
 *    MANIFEST), optionally every SST block checksummed. The checks run on a
 *    read-only instance before the read-write open, which would otherwise
 *    replay, rewrite and delete files first.
 *  - Sync modes (store.h): `always` fsyncs in the write, `batch` on the
 *    background thread, which also runs a replica's catch-ups.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "store/keys.h"
#include "store/store_int.h"

const char *const store_cf_names[CF_COUNT] = {
    [CF_DEFAULT] = "default", [CF_REGISTRY] = "registry", [CF_VALUES] = "values",
    [CF_LATEST] = "latest",   [CF_META] = "meta",         [CF_LINEAGE] = "lineage",
    [CF_AUDIT] = "audit",     [CF_JOBS] = "jobs",
};

#define DEFAULT_BLOCK_CACHE_BYTES ((size_t)256 << 20)
/* Seqs reserved per synced meta write: one fsync per million rows written. */
#define SEQ_BLOCK (UINT64_C(1) << 20)

/* ---- errors ------------------------------------------------------------- */

static int rdb_code(const char *msg)
{
    if (strncmp(msg, "Corruption", 10) == 0)
        return STRATA_CORRUPT;
    if (strncmp(msg, "IO error", 8) == 0)
        return STRATA_IO;
    return STRATA_INTERNAL;
}

int store_rdb_err(strata_err *err, char *rerr, const char *what)
{
    const char *msg = rerr ? rerr : "unknown RocksDB error";
    int code = rdb_code(msg);
    err_set(err, code, "%s: %s", what, msg);
    rocksdb_free(rerr);
    return code;
}

int store_check_writable(const store_t *st, strata_err *err)
{
    if (st->read_only)
        return err_set(err, STRATA_FAILED_PRECONDITION, "the store is open read-only");
    if (atomic_load(&st->load_unfinished))
        return err_set(err, STRATA_UNAVAILABLE,
                       "the store takes no writes until a restart finishes a bulk load an I/O "
                       "error cut short (see the log)");
    return 0;
}

static bool valid_read_id(slice id)
{
    return id.n >= 1 && id.n <= LIMIT_ENTITY_ID_MAX;
}

static int bad_id(strata_err *err)
{
    return err_set(err, STRATA_INVALID_ARGUMENT,
                   "invalid entity_id: must be 1..%u bytes of UTF-8 without NUL",
                   LIMIT_ENTITY_ID_MAX);
}

/* ---- options ------------------------------------------------------------ */

/* The `values` prefix extractor: entity | len | id | feature. Prefix bloom
 * filters then skip SST files without the (id, feature) a point-in-time read
 * seeks to. Keys shorter than that (scan bounds) are out of domain. */
static char *vp_transform(void *state, const char *key, size_t len, size_t *dst_len)
{
    *dst_len = store_key_group_prefix_len(key, len);
    return (char *)key;
}

static unsigned char vp_in_domain(void *state, const char *key, size_t len)
{
    return store_key_group_prefix_len(key, len) != 0;
}

static unsigned char vp_in_range(void *state, const char *key, size_t len)
{
    return store_key_group_prefix_len(key, len) == len;
}

static void vp_destroy(void *state) {}

static const char *vp_name(void *state)
{
    /* Recorded with every SST's filter: a new name just disables old filters. */
    return "strata.values_feature_prefix.v1";
}

/* Merge operands of one `latest` key the memtable may hold before a write
 * folds them into one value (cf_options, CF_LATEST). */
#define LATEST_SUCCESSIVE_MERGES 8
/* Data block size of `values` (the other families keep RocksDB's 4 KiB). */
#define VALUES_BLOCK_BYTES (16 * 1024)

/* RocksDB's WALRecoveryMode values (rocksdb/options.h). */
#define RDB_WAL_TOLERATE_CORRUPTED_TAIL 0
#define RDB_WAL_POINT_IN_TIME 2

static rocksdb_options_t *db_options(bool read_only, store_wal_recovery wal)
{
    rocksdb_options_t *o = rocksdb_options_create();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cpus < 2 ? 2 : cpus > 8 ? 8 : (int)cpus;
    rocksdb_options_set_create_if_missing(o, !read_only);
    rocksdb_options_set_create_missing_column_families(o, !read_only);
    /* Flush and compaction threads sized to the box (a 2-core machine gets 2
     * low-priority threads and 1 flush thread); 2 concurrent background jobs
     * leave the cores to request handling. */
    rocksdb_options_increase_parallelism(o, threads);
    rocksdb_options_set_max_background_jobs(o, 2);
    rocksdb_options_set_bytes_per_sync(o, 1 << 20);
    rocksdb_options_set_keep_log_file_num(o, 5);
    /* Eight CFs, most rarely written: bound the WAL and total memtable memory
     * so a quiet CF cannot pin old WAL files or the heap. */
    rocksdb_options_set_max_total_wal_size(o, (uint64_t)512 << 20);
    rocksdb_options_set_db_write_buffer_size(o, (size_t)256 << 20);
    /* The `latest` CF folds operands in the write path (LATEST_SUCCESSIVE_MERGES
     * below), which RocksDB does only with memtable inserts done by one thread
     * per write group (concurrent inserts would trip its assertion). The group
     * leader inserts for everyone; on the cores Strata targets this costs
     * little (docs/architecture.md, "`latest` key and row"). */
    rocksdb_options_set_allow_concurrent_memtable_write(o, 0);
    /* Damage is an error, never skipped: file sizes and checksums of what is
     * read are checked, and a failed background write stops further writes. */
    rocksdb_options_set_paranoid_checks(o, 1);
    rocksdb_options_set_wal_recovery_mode(o, wal == STORE_WAL_SALVAGE
                                                 ? RDB_WAL_POINT_IN_TIME
                                                 : RDB_WAL_TOLERATE_CORRUPTED_TAIL);
    /* The MANIFEST records which WAL files exist (and their synced sizes), so
     * an open that finds one missing, or a MANIFEST that lost its latest
     * records (it would describe an older state whose WALs are gone), fails
     * instead of silently serving that older state. Not in the C API's
     * setters: applied through an options string. */
    rocksdb_options_t *t = rocksdb_options_create();
    char *rerr = NULL;
    rocksdb_get_options_from_string(o, "track_and_verify_wals_in_manifest=true", t, &rerr);
    STRATA_ASSERT(rerr == NULL);
    rocksdb_options_destroy(o);
    return t;
}

static rocksdb_options_t *cf_options(store_t *st, int cf)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(t, st->cache);
    rocksdb_block_based_options_set_format_version(t, 5);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
    rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(t, 1);
    /* Index and filter in partitions of ~4 KiB under a small top-level index
     * (pinned), not one block each per file: a file's full filter grows with
     * its key count (a 73 MB lineage file of tiny keys had ~9 MB), and a block
     * larger than one shard of the LRU cache (256 MiB / 64 shards) is never
     * kept, so every Get read the whole filter again — the 10-hop lineage
     * traversal took 33 ms instead of ~1 ms once the 1M-node graph was
     * compacted into such files (bench/lineage). Partitions cache like data
     * blocks whatever the file size. */
    rocksdb_block_based_options_set_index_type(
        t, rocksdb_block_based_table_index_type_two_level_index_search);
    rocksdb_block_based_options_set_partition_filters(t, 1);
    rocksdb_block_based_options_set_metadata_block_size(t, 4096);
    rocksdb_options_set_compression(o, rocksdb_lz4_compression);
    rocksdb_options_set_bottommost_compression(o, rocksdb_zstd_compression);
    rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
    switch (cf) {
    case CF_VALUES:
        /* Reads seek by (entity, id, feature) prefix, never Get a whole key. */
        rocksdb_block_based_options_set_filter_policy(t,
                                                      rocksdb_filterpolicy_create_bloom_full(10));
        rocksdb_block_based_options_set_whole_key_filtering(t, 0);
        rocksdb_options_set_prefix_extractor(
            o, rocksdb_slicetransform_create(NULL, vp_destroy, vp_transform, vp_in_domain,
                                             vp_in_range, vp_name));
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.02);
        /* Exports and training walk whole id ranges of this family (a full
         * export reads every version), and online reads never come here:
         * 16 KiB blocks (fewer block lookups and iterator hand-overs per key)
         * and LZ4 at the bottom level too (ZSTD's decompression was 15% of a
         * full export's CPU). The same 20M versions took 14% less time to
         * iterate, in 4% less disk (bench/export; docs/architecture.md). */
        rocksdb_block_based_options_set_block_size(t, VALUES_BLOCK_BYTES);
        rocksdb_options_set_bottommost_compression(o, rocksdb_lz4_compression);
        break;
    case CF_LATEST:
        /* Online reads are point Gets on whole keys. */
        rocksdb_block_based_options_set_filter_policy(t,
                                                      rocksdb_filterpolicy_create_bloom_full(10));
        rocksdb_block_based_options_set_data_block_index_type(
            t, rocksdb_block_based_table_data_block_index_type_binary_search_and_hash);
        rocksdb_options_set_memtable_whole_key_filtering(o, 1);
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.02);
        rocksdb_options_set_merge_operator(o, store_latest_merge_operator());
        /* A write merges an operand instead of reading the row, and a read
         * folds every operand the memtable holds for its key: an id written
         * once a second piles up ~45 of them before a 64 MiB memtable flushes,
         * and its reads slow down until then (1.8x slower at 100 operands;
         * bench/soak saw the serving rate sag and recover with every flush).
         * At this many operands the write folds them into one value instead
         * (one read per that many writes of the id), so a read meets at most
         * this many. */
        rocksdb_options_set_max_successive_merges(o, LATEST_SUCCESSIVE_MERGES);
        break;
    case CF_LINEAGE:
    case CF_JOBS:
        /* Uniqueness and find-or-create checks are point Gets that mostly
         * miss (a new name is free): a whole-key bloom answers those without
         * touching data blocks. Scans use total-order iterators, unaffected. */
        rocksdb_block_based_options_set_filter_policy(t,
                                                      rocksdb_filterpolicy_create_bloom_full(10));
        rocksdb_options_set_memtable_whole_key_filtering(o, 1);
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.02);
        break;
    default:
        break;
    }
    rocksdb_options_set_block_based_table_factory(o, t);
    rocksdb_block_based_options_destroy(t);
    if (cf == CF_LINEAGE) {
        /* A lineage batch writes a handful of keys into each of several key
         * streams (node records, by-type lists, the events and links of one
         * node; the first two key bytes name the stream, docs/lineage.md).
         * The memtable then keeps one insert position per stream, so a key
         * appended to its stream costs a few comparisons instead of a search
         * from the skiplist's top (docs/benchmarks.md, bench/lineage). Not in
         * the C API's setters: applied through an options string. */
        rocksdb_options_t *h = rocksdb_options_create();
        char *rerr = NULL;
        rocksdb_get_options_from_string(
            o, "memtable_insert_with_hint_prefix_extractor=rocksdb.FixedPrefix.2", h, &rerr);
        STRATA_ASSERT(rerr == NULL);
        rocksdb_options_destroy(o);
        o = h;
    }
    return o;
}

/* mkdir -p; 0 or -1 with errno. */
static int mkdir_p(const char *path)
{
    char *p = strdup(path);
    int rc = 0;
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) && errno != EEXIST) {
            rc = -1;
            goto out;
        }
        *s = '/';
    }
    if (mkdir(p, 0755) && errno != EEXIST)
        rc = -1;
out:
    free(p);
    return rc;
}

/* ---- meta --------------------------------------------------------------- */

/* Read a big-endian integer of `width` bytes; *found false when absent. */
static int meta_get(store_t *st, const char *key, size_t width, uint64_t *out, bool *found,
                    strata_err *err)
{
    char *rerr = NULL;
    size_t len = 0;
    char *v = rocksdb_get_cf(st->db, st->ro_get, st->cf[CF_META], key, strlen(key), &len, &rerr);
    *found = false;
    *out = 0;
    if (rerr)
        return store_rdb_err(err, rerr, "reading store metadata");
    if (!v)
        return 0;
    int rc = 0;
    if (len != width) {
        rc = err_set(err, STRATA_CORRUPT, "store metadata \"%s\" is corrupt (%zu bytes)", key, len);
    } else {
        *out = width == 4 ? get_u32be(v) : get_u64be(v);
        *found = true;
    }
    rocksdb_free(v);
    return rc;
}

static int meta_put_sync(store_t *st, const char *key, const char *val, size_t n, strata_err *err)
{
    char *rerr = NULL;
    rocksdb_put_cf(st->db, st->wo_sync, st->cf[CF_META], key, strlen(key), val, n, &rerr);
    return rerr ? store_rdb_err(err, rerr, "writing store metadata") : 0;
}

static int load_meta(store_t *st, strata_err *err)
{
    int rc;
    uint64_t v;
    bool found;
    if ((rc = meta_get(st, STORE_META_LAYOUT, 4, &v, &found, err)))
        return rc;
    if (found && v > STORE_LAYOUT_VERSION)
        return err_set(err, STRATA_FAILED_PRECONDITION,
                       "data directory %s has layout version %llu; this build reads up to %u",
                       st->path, (unsigned long long)v, STORE_LAYOUT_VERSION);
    atomic_store(&st->layout, found ? (uint32_t)v : STORE_LAYOUT_VERSION);
    if (!found && !st->read_only) {
        char b[4];
        put_u32be(b, STORE_LAYOUT_VERSION);
        if ((rc = meta_put_sync(st, STORE_META_LAYOUT, b, sizeof b, err)))
            return rc;
    }
    if ((rc = meta_get(st, STORE_META_SEQ_CEILING, 8, &v, &found, err)))
        return rc;
    atomic_store(&st->seq_ceiling, v);
    atomic_store(&st->next_seq, v ? v : 1);
    if ((rc = meta_get(st, STORE_META_NEXT_ENTITY, 4, &v, &found, err)))
        return rc;
    st->next_entity_id = v ? (uint32_t)v : 1;
    if ((rc = meta_get(st, STORE_META_NEXT_FEATURE, 4, &v, &found, err)))
        return rc;
    st->next_feature_id = v ? (uint32_t)v : 1;
    return 0;
}

/* ---- background thread: batch fsync, replica catch-up ------------------- */

static uint64_t now_ms(void)
{
    return (uint64_t)(time_mono_ns() / 1000000);
}

/* One fsync of the WAL when anything was written since the last one. */
static void bg_sync_wal(store_t *st, uint64_t *synced_seq)
{
    uint64_t seq = rocksdb_get_latest_sequence_number(st->db);
    if (seq == *synced_seq)
        return;
    char *rerr = NULL;
    uint64_t t0 = time_mono_ns();
    rocksdb_flush_wal(st->db, 1, &rerr);
    if (rerr) {
        log_error("store: periodic fsync of the WAL failed: %s", rerr);
        rocksdb_free(rerr);
        return;
    }
    uint64_t us = (time_mono_ns() - t0) / 1000;
    *synced_seq = seq;
    atomic_fetch_add(&st->wal_syncs, 1);
    atomic_fetch_add(&st->wal_sync_us, us);
    if (us > atomic_load(&st->wal_sync_max_us))
        atomic_store(&st->wal_sync_max_us, us); /* only this thread writes it */
    if (us >= 1000000)
        log_warn("store: a WAL fsync took %.1f s (the disk is slow or saturated)", (double)us / 1e6);
}

static void *bg_main(void *arg)
{
    store_t *st = arg;
    bool syncing = st->sync == STORE_SYNC_BATCH && !st->read_only;
    /* What the open recovered is on disk already (RocksDB flushes the
     * replayed WAL to synced table files). */
    uint64_t synced_seq = rocksdb_get_latest_sequence_number(st->db);
    uint64_t next_sync = 0, next_catch_up = 0;
    uint64_t t = now_ms();
    if (syncing)
        next_sync = t + st->sync_interval_ms;
    if (st->catch_up_ms)
        next_catch_up = t + st->catch_up_ms;
    pthread_mutex_lock(&st->bg_mu);
    while (!st->bg_stop) {
        uint64_t wake = syncing ? next_sync : next_catch_up;
        if (syncing && st->catch_up_ms && next_catch_up < wake)
            wake = next_catch_up;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        t = now_ms();
        uint64_t wait = wake > t ? wake - t : 0;
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (wait)
            pthread_cond_timedwait(&st->bg_cv, &st->bg_mu, &ts);
        if (st->bg_stop)
            break;
        pthread_mutex_unlock(&st->bg_mu);
        t = now_ms();
        if (syncing && t >= next_sync) {
            bg_sync_wal(st, &synced_seq);
            next_sync = now_ms() + st->sync_interval_ms;
        }
        if (st->catch_up_ms && t >= next_catch_up) {
            strata_err err = STRATA_ERR_INIT;
            if (store_catch_up(st, &err))
                log_warn("replica: catching up with %s failed: %s", st->path, err.message);
            err_clear(&err);
            next_catch_up = now_ms() + st->catch_up_ms;
        }
        pthread_mutex_lock(&st->bg_mu);
    }
    pthread_mutex_unlock(&st->bg_mu);
    return NULL;
}

static int bg_start(store_t *st, strata_err *err)
{
    bool needed = (st->sync == STORE_SYNC_BATCH && !st->read_only) ||
                  (st->secondary_path && st->catch_up_ms);
    if (!needed)
        return 0;
    if (pthread_create(&st->bg_thread, NULL, bg_main, st))
        return err_set(err, STRATA_INTERNAL, "store: cannot start its background thread");
    st->bg_running = true;
    return 0;
}

static void bg_stop(store_t *st)
{
    if (!st->bg_running)
        return;
    pthread_mutex_lock(&st->bg_mu);
    st->bg_stop = true;
    pthread_cond_signal(&st->bg_cv);
    pthread_mutex_unlock(&st->bg_mu);
    pthread_join(st->bg_thread, NULL);
    st->bg_running = false;
}

/* ---- maintenance -------------------------------------------------------- */

bool store_is_read_only(const store_t *st)
{
    return st->read_only;
}

bool store_is_replica(const store_t *st)
{
    return st->secondary_path != NULL;
}

int store_verify(store_t *st, uint64_t *records, strata_err *err)
{
    int rc = 0;
    *records = 0;
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_verify_checksums(ro, 1);
    rocksdb_readoptions_set_fill_cache(ro, 0);
    rocksdb_readoptions_set_total_order_seek(ro, 1);
    for (int i = 0; i < CF_COUNT && rc == 0; i++) {
        rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, ro, st->cf[i]);
        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it))
            (*records)++;
        char *rerr = NULL;
        rocksdb_iter_get_error(it, &rerr);
        rocksdb_iter_destroy(it);
        if (rerr) {
            char what[64];
            snprintf(what, sizeof what, "column family \"%s\"", store_cf_names[i]);
            rc = store_rdb_err(err, rerr, what);
        }
    }
    rocksdb_readoptions_destroy(ro);
    return rc;
}

int store_checkpoint(store_t *st, const char *dir, strata_err *err)
{
    int rc;
    char *rerr = NULL;
    if ((rc = store_check_writable(st, err)))
        return rc;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(st->db, &rerr);
    if (rerr)
        return store_rdb_err(err, rerr, "creating a checkpoint");
    /* log_size_for_flush 0: every column family's memtable is flushed first,
     * and the live WAL is copied, so all families are at one point in time.
     * A bulk load's two files go in under load_lock: never between them. */
    pthread_rwlock_wrlock(&st->load_lock);
    rocksdb_checkpoint_create(cp, dir, 0, &rerr);
    pthread_rwlock_unlock(&st->load_lock);
    rocksdb_checkpoint_object_destroy(cp);
    if (rerr) {
        rc = store_rdb_err(err, rerr, "creating a checkpoint");
        err_prefix(err, "%s", dir);
    }
    return rc;
}

const rocksdb_snapshot_t *store_snap_create(store_t *st)
{
    if (!st->secondary_path)
        return rocksdb_create_snapshot(st->db);
    pthread_rwlock_rdlock(&st->catch_up_lock);
    return NULL;
}

void store_snap_release(store_t *st, const rocksdb_snapshot_t *snap)
{
    if (!st->secondary_path)
        rocksdb_release_snapshot(st->db, snap);
    else
        pthread_rwlock_unlock(&st->catch_up_lock);
}

int store_catch_up(store_t *st, strata_err *err)
{
    if (!st->secondary_path)
        return err_set(err, STRATA_FAILED_PRECONDITION, "not a replica: nothing to catch up with");
    int rc = 0;
    char *rerr = NULL;
    registry_t *reg = NULL;
    uint32_t max_e, max_f;
    pthread_rwlock_wrlock(&st->catch_up_lock);
    uint64_t before = rocksdb_get_latest_sequence_number(st->db);
    rocksdb_try_catch_up_with_primary(st->db, &rerr);
    if (rerr) {
        rc = store_rdb_err(err, rerr, "catching up with the primary");
        goto out;
    }
    if (rocksdb_get_latest_sequence_number(st->db) == before)
        goto out;
    /* The registry is cached in memory: reload it (it is small) so new
     * entities and features become readable. */
    if ((rc = store_registry_load(st, &reg, &max_e, &max_f, err)))
        goto out;
    store_registry_install(st, reg);
out:
    pthread_rwlock_unlock(&st->catch_up_lock);
    return rc;
}

/* ---- open / close ------------------------------------------------------- */

static int init_locks(store_t *st)
{
    pthread_rwlockattr_t a;
    if (pthread_rwlockattr_init(&a))
        return -1;
    /* Deletes are rare and must not starve behind a steady stream of writes. */
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&st->data_lock, &a);
    pthread_rwlockattr_destroy(&a);
    if (rc)
        return -1;
    if (pthread_mutex_init(&st->reg_mu, NULL))
        goto fail_rw;
    if (pthread_mutex_init(&st->snap_mu, NULL))
        goto fail_reg;
    if (pthread_mutex_init(&st->seq_mu, NULL))
        goto fail_snap;
    if (pthread_mutex_init(&st->bg_mu, NULL))
        goto fail_seq;
    if (pthread_cond_init(&st->bg_cv, NULL))
        goto fail_bg;
    if (pthread_rwlock_init(&st->catch_up_lock, NULL))
        goto fail_cv;
    if (pthread_mutex_init(&st->bulk_mu, NULL))
        goto fail_cu;
    if (pthread_rwlock_init(&st->load_lock, NULL))
        goto fail_bulk;
    st->locks_ready = true;
    return 0;
fail_bulk:
    pthread_mutex_destroy(&st->bulk_mu);
fail_cu:
    pthread_rwlock_destroy(&st->catch_up_lock);
fail_cv:
    pthread_cond_destroy(&st->bg_cv);
fail_bg:
    pthread_mutex_destroy(&st->bg_mu);
fail_seq:
    pthread_mutex_destroy(&st->seq_mu);
fail_snap:
    pthread_mutex_destroy(&st->snap_mu);
fail_reg:
    pthread_mutex_destroy(&st->reg_mu);
fail_rw:
    pthread_rwlock_destroy(&st->data_lock);
    return -1;
}

static bool known_cf(const char *name)
{
    for (int i = 0; i < CF_COUNT; i++)
        if (strcmp(name, store_cf_names[i]) == 0)
            return true;
    return false;
}

#define REFUSED_HINT " (refused; see \"Crash recovery\" in docs/operations.md)"

static bool has_cf(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/*
 * Before RocksDB sees the directory (it would happily create a new database
 * in any directory): a directory that holds files but no CURRENT is another
 * program's, or a Strata directory that lost its CURRENT file. Entries Strata
 * itself makes beside the database (exports, tmp) and a mount point's
 * lost+found do not count.
 */
static int check_foreign_dir(const char *path, bool *has_db, strata_err *err)
{
    static const char *const ours[] = {".", "..", "exports", "tmp", STORE_BULK_DIR, "lost+found"};
    *has_db = false;
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0
                               : err_set(err, STRATA_IO, "cannot read data directory %s: %s",
                                         path, strerror(errno));
    bool current = false;
    char other[256] = "";
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, "CURRENT") == 0) {
            current = true;
            continue;
        }
        bool mine = false;
        for (size_t i = 0; i < sizeof ours / sizeof ours[0] && !mine; i++)
            mine = strcmp(de->d_name, ours[i]) == 0;
        if (!mine && !other[0])
            snprintf(other, sizeof other, "%s", de->d_name);
    }
    closedir(d);
    *has_db = current;
    if (!current && other[0])
        return err_set(err, STRATA_FAILED_PRECONDITION,
                       "%s is not a Strata data directory: it holds files (e.g. \"%s\") but no "
                       "RocksDB CURRENT file (another program's directory, or CURRENT was lost)",
                       path, other);
    return 0;
}

/* RocksDB's LOCK file is held (fcntl) by the process that has the database
 * open read-write. Probe it the same way, and let go at once. (POSIX locks
 * belong to the process: a process that already has this directory open
 * would lose its lock when this fd closes. stratad opens a directory once.) */
static int check_not_locked(const char *path, strata_err *err)
{
    char lock[4200];
    snprintf(lock, sizeof lock, "%s/LOCK", path);
    int fd = open(lock, O_RDWR);
    if (fd < 0)
        return 0; /* no LOCK yet: nobody holds it */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int rc = 0;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        rc = err_set(err, STRATA_FAILED_PRECONDITION,
                     "cannot open data directory %s: its lock file %s is held by another "
                     "process (a stratad already running on it?)",
                     path, lock);
    } else {
        fl.l_type = F_UNLCK;
        fcntl(fd, F_SETLK, &fl);
    }
    close(fd);
    return rc;
}

static int open_db(store_t *st, strata_err *err)
{
    int rc = 0;
    char *rerr = NULL;
    char **existing = NULL;
    size_t nexisting = 0, nextra = 0;
    const char **names = NULL;
    const rocksdb_options_t **opts = NULL;
    rocksdb_column_family_handle_t **handles = NULL;

    existing = rocksdb_list_column_families(st->db_opts, st->path, &nexisting, &rerr);
    if (rerr) {
        /* A new directory has nothing to list; any other problem resurfaces,
         * with RocksDB's own words, from the open below (or here, read-only). */
        if (st->read_only) {
            rc = rdb_code(rerr);
            err_set(err, rc, "cannot open data directory %s: %s%s", st->path, rerr,
                    rc == STRATA_CORRUPT ? REFUSED_HINT : "");
        }
        rocksdb_free(rerr);
        rerr = NULL;
        /* Even on error RocksDB hands back a (zero-length) malloc'd list. */
        if (existing)
            rocksdb_list_column_families_destroy(existing, 0);
        existing = NULL;
        nexisting = 0;
        if (rc)
            goto out;
    }
    for (size_t i = 0; i < nexisting; i++)
        if (!known_cf(existing[i]))
            nextra++;
    /* Every Strata data directory has had all of Strata's column families
     * since it was created; RocksDB is never asked to create one in an
     * existing database. One missing means another program's database, or a
     * MANIFEST that lost records (RocksDB would then serve an older state and
     * delete the table files it no longer knows). */
    for (int i = 0; nexisting && i < CF_COUNT; i++) {
        if (has_cf(existing, nexisting, store_cf_names[i]))
            continue;
        if (!has_cf(existing, nexisting, "meta"))
            rc = err_set(err, STRATA_FAILED_PRECONDITION,
                         "%s is not a Strata data directory: it holds a RocksDB database "
                         "without Strata's column families (another program's data, or a truncated "
                         "MANIFEST?)",
                         st->path);
        else
            rc = err_set(err, STRATA_CORRUPT,
                         "cannot open data directory %s: column family \"%s\" is missing from "
                         "the MANIFEST (damaged or truncated; refused, see \"Crash recovery\" "
                         "in docs/operations.md)",
                         st->path, store_cf_names[i]);
        goto out;
    }
    if (st->read_only && !nexisting) {
        rc = err_set(err, STRATA_FAILED_PRECONDITION,
                     "cannot open data directory %s read-only: it holds no Strata database",
                     st->path);
        goto out;
    }
    size_t total = CF_COUNT + nextra;
    names = calloc(total, sizeof *names);
    opts = calloc(total, sizeof *opts);
    handles = calloc(total, sizeof *handles);
    if (nextra) {
        st->extra_cf = calloc(nextra, sizeof *st->extra_cf);
        st->extra_opts = rocksdb_options_create();
    }
    if (!names || !opts || !handles || (nextra && !st->extra_cf)) {
        rc = err_set(err, STRATA_NOMEM, "out of memory opening the store");
        goto out;
    }
    for (int i = 0; i < CF_COUNT; i++) {
        names[i] = store_cf_names[i];
        opts[i] = st->cf_opts[i];
    }
    size_t k = CF_COUNT;
    for (size_t i = 0; i < nexisting; i++) {
        if (known_cf(existing[i]))
            continue;
        log_warn("data directory %s: leaving unknown column family \"%s\" alone", st->path,
                 existing[i]);
        names[k] = existing[i];
        opts[k++] = st->extra_opts;
    }
    if (st->secondary_path)
        st->db = rocksdb_open_as_secondary_column_families(st->db_opts, st->path,
                                                           st->secondary_path, (int)total, names,
                                                           opts, handles, &rerr);
    else if (st->read_only)
        st->db = rocksdb_open_for_read_only_column_families(st->db_opts, st->path, (int)total,
                                                            names, opts, handles, 0, &rerr);
    else
        st->db = rocksdb_open_column_families(st->db_opts, st->path, (int)total, names, opts,
                                              handles, &rerr);
    if (rerr) {
        rc = rdb_code(rerr);
        err_set(err, rc, "cannot open data directory %s: %s%s", st->path, rerr,
                rc == STRATA_CORRUPT ? REFUSED_HINT : "");
        rocksdb_free(rerr);
        st->db = NULL;
        goto out;
    }
    for (int i = 0; i < CF_COUNT; i++)
        st->cf[i] = handles[i];
    for (size_t i = 0; i < nextra; i++)
        st->extra_cf[i] = handles[CF_COUNT + i];
    st->nextra = nextra;
out:
    if (existing)
        rocksdb_list_column_families_destroy(existing, nexisting);
    free(names);
    free(opts);
    free(handles);
    return rc;
}

int store_open(const store_options *opt, store_t **out, strata_err *err)
{
    int rc = 0;
    store_t *st = NULL;
    registry_t *reg = NULL;
    uint32_t max_e = 0, max_f = 0;

    *out = NULL;
    if (!opt || !opt->path || !*opt->path)
        return err_set(err, STRATA_INVALID_ARGUMENT, "no data directory given");
    bool replica = opt->secondary_of && *opt->secondary_of;
    if (!(st = calloc(1, sizeof *st)) ||
        !(st->path = strdup(replica ? opt->secondary_of : opt->path)) ||
        (replica && !(st->secondary_path = strdup(opt->path))) || init_locks(st)) {
        rc = err_set(err, STRATA_NOMEM, "out of memory opening the store");
        goto out;
    }
    st->sync = opt->sync;
    st->read_only = opt->read_only || replica;
    st->sync_interval_ms = opt->sync_interval_ms ? opt->sync_interval_ms : 100;
    st->catch_up_ms = opt->catch_up_ms;
    st->cache = rocksdb_cache_create_lru(opt->block_cache_bytes ? opt->block_cache_bytes
                                                                : DEFAULT_BLOCK_CACHE_BYTES);
    st->db_opts = db_options(st->read_only, opt->wal_recovery);
    if (opt->row_cache_bytes) {
        /* A point Get that hits the row cache skips the table's filter,
         * index and data block searches (docs/architecture.md, "Tuning"). */
        st->row_cache = rocksdb_cache_create_lru(opt->row_cache_bytes);
        rocksdb_options_set_row_cache(st->db_opts, st->row_cache);
    }
    if (!st->read_only) {
        /* Compactions run at the lowest CPU priority (nice 19 for RocksDB's
         * low-priority pool; flushes keep theirs, so a full memtable is never
         * kept waiting): requests come first, compactions take the idle CPU.
         * Without this a 100 MiB L0->L1 compaction took half the cores for
         * ~15 s every few minutes and the serving rate sagged by a third
         * meanwhile (bench/soak). Should requests leave no idle CPU for long,
         * level-0 files pile up and RocksDB slows writes at 20 of them
         * (/metrics: strata_rocksdb_l0_files) — backpressure on writes, not a
         * stall of reads. The pool is process-wide; setting it again is harmless. */
        rocksdb_env_t *env = rocksdb_create_default_env();
        rocksdb_env_lower_thread_pool_cpu_priority(env);
        rocksdb_env_destroy(env);
    }
    if (replica)
        /* A secondary keeps every table file open (RocksDB requires it). */
        rocksdb_options_set_max_open_files(st->db_opts, -1);
    for (int i = 0; i < CF_COUNT; i++)
        st->cf_opts[i] = cf_options(st, i);
    if (!st->read_only)
        store_bulk_init(st);
    st->wo_data = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(st->wo_data, st->sync == STORE_SYNC_ALWAYS);
    st->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(st->wo_sync, 1);
    st->ro_get = rocksdb_readoptions_create();
    st->ro_prefix = rocksdb_readoptions_create();
    rocksdb_readoptions_set_prefix_same_as_start(st->ro_prefix, 1);
    st->ro_total = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(st->ro_total, 1);

    bool has_db = false, checked = false;
    if ((rc = check_foreign_dir(st->path, &has_db, err)))
        goto out;
    if (has_db && !st->read_only) {
        /* Every check on a read-only instance first: a read-write open
         * replays the WAL into new table files, writes a new MANIFEST and
         * deletes files it does not know, so a directory we refuse must never
         * get that far. A daemon already running on it is named first. */
        store_options probe_opt = *opt;
        probe_opt.read_only = true;
        probe_opt.block_cache_bytes = (size_t)8 << 20;
        probe_opt.row_cache_bytes = 0;
        store_t *probe = NULL;
        if ((rc = check_not_locked(st->path, err)) || (rc = store_open(&probe_opt, &probe, err)))
            goto out;
        store_close(probe);
        checked = true;
    }
    if (replica && access(st->path, F_OK) != 0) {
        rc = err_set(err, STRATA_FAILED_PRECONDITION,
                     "cannot open a replica of %s: no such directory", st->path);
        goto out;
    }
    if ((!st->read_only || replica) &&
        mkdir_p(replica ? st->secondary_path : st->path)) {
        rc = err_set(err, STRATA_IO, "cannot create data directory %s: %s",
                     replica ? st->secondary_path : st->path, strerror(errno));
        goto out;
    }
    if ((rc = open_db(st, err)) || (rc = load_meta(st, err)))
        goto out;
    if (opt->verify && !checked) {
        uint64_t n;
        if ((rc = store_verify(st, &n, err))) {
            err_prefix(err, "data directory %s failed its check", st->path);
            goto out;
        }
    }
    if ((rc = store_registry_load(st, &reg, &max_e, &max_f, err))) {
        err_prefix(err, "cannot open data directory %s", st->path);
        goto out;
    }
    st->snap = reg;
    /* Counters are written with their records, but never trust them blindly. */
    if (st->next_entity_id <= max_e)
        st->next_entity_id = max_e + 1;
    if (st->next_feature_id <= max_f)
        st->next_feature_id = max_f + 1;
    if (!st->read_only) {
        /* A bulk load a stop cut short after it was complete is finished
         * before anything reads (bulk.c); one that cannot be is an error. */
        if ((rc = store_bulk_pending(st, err)))
            goto out;
        /* A feature delete cut short (a crash) left versions to remove. A
         * failure here leaves them for the next open; the store serves on. */
        strata_err perr = STRATA_ERR_INIT;
        if (store_purge_pending(st, &perr))
            log_warn("store: unfinished removal of deleted features' versions: %s", perr.message);
        err_clear(&perr);
    }
    if ((rc = bg_start(st, err)))
        goto out;
    *out = st;
    st = NULL;
out:
    store_close(st);
    return rc;
}

void store_close(store_t *st)
{
    if (!st)
        return;
    bg_stop(st);
    if (st->db && !st->read_only) {
        /* A clean stop is durable in every sync mode. */
        char *rerr = NULL;
        rocksdb_flush_wal(st->db, 1, &rerr);
        if (rerr) {
            log_error("store: fsync of the WAL at close failed: %s", rerr);
            rocksdb_free(rerr);
        }
    }
    if (st->snap)
        store_registry_release(st, st->snap);
    /* Handles go before the database they belong to. */
    for (int i = 0; i < CF_COUNT; i++)
        if (st->cf[i])
            rocksdb_column_family_handle_destroy(st->cf[i]);
    for (size_t i = 0; i < st->nextra; i++)
        rocksdb_column_family_handle_destroy(st->extra_cf[i]);
    free(st->extra_cf);
    if (st->db)
        rocksdb_close(st->db);
    /* The options own the merge operator and the prefix extractor. */
    if (st->db_opts)
        rocksdb_options_destroy(st->db_opts);
    for (int i = 0; i < CF_COUNT; i++)
        if (st->cf_opts[i])
            rocksdb_options_destroy(st->cf_opts[i]);
    if (st->extra_opts)
        rocksdb_options_destroy(st->extra_opts);
    store_bulk_fini(st);
    if (st->cache)
        rocksdb_cache_destroy(st->cache);
    if (st->row_cache)
        rocksdb_cache_destroy(st->row_cache);
    if (st->wo_data)
        rocksdb_writeoptions_destroy(st->wo_data);
    if (st->wo_sync)
        rocksdb_writeoptions_destroy(st->wo_sync);
    if (st->ro_get)
        rocksdb_readoptions_destroy(st->ro_get);
    if (st->ro_prefix)
        rocksdb_readoptions_destroy(st->ro_prefix);
    if (st->ro_total)
        rocksdb_readoptions_destroy(st->ro_total);
    if (st->locks_ready) {
        pthread_rwlock_destroy(&st->data_lock);
        pthread_mutex_destroy(&st->reg_mu);
        pthread_mutex_destroy(&st->snap_mu);
        pthread_mutex_destroy(&st->seq_mu);
        pthread_mutex_destroy(&st->bg_mu);
        pthread_cond_destroy(&st->bg_cv);
        pthread_rwlock_destroy(&st->catch_up_lock);
        pthread_mutex_destroy(&st->bulk_mu);
        pthread_rwlock_destroy(&st->load_lock);
    }
    free(st->secondary_path);
    free(st->path);
    free(st);
}

/* ---- write seqs --------------------------------------------------------- */

/*
 * Hand out n consecutive seqs. Numbers come from an atomic counter; a number
 * may be used only once the persisted ceiling is above it, so the caller that
 * crosses the ceiling persists a new one (synced) before returning.
 */
static int seq_reserve(store_t *st, uint64_t n, uint64_t *first, strata_err *err)
{
    uint64_t s = atomic_fetch_add(&st->next_seq, n);
    uint64_t end = s + n;
    int rc = 0;
    if (end > atomic_load(&st->seq_ceiling)) {
        pthread_mutex_lock(&st->seq_mu);
        if (end > atomic_load(&st->seq_ceiling)) {
            uint64_t ceiling = end + SEQ_BLOCK;
            char b[8];
            put_u64be(b, ceiling);
            rc = meta_put_sync(st, STORE_META_SEQ_CEILING, b, sizeof b, err);
            if (rc == 0)
                atomic_store(&st->seq_ceiling, ceiling);
        }
        pthread_mutex_unlock(&st->seq_mu);
    }
    *first = s;
    return rc;
}

/* ---- writes ------------------------------------------------------------- */

static int cell_ptr_cmp(const void *a, const void *b)
{
    const write_cell *x = *(const write_cell *const *)a, *y = *(const write_cell *const *)b;
    return x->feature_id < y->feature_id ? -1 : x->feature_id > y->feature_id;
}

/* A row's cells by feature id: insertion sort for the few cells rows have
 * (an import's row is called a million times), qsort beyond. */
static void sort_cells(const write_cell **c, size_t n)
{
    if (n > 16) {
        qsort(c, n, sizeof *c, cell_ptr_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        const write_cell *x = c[i];
        size_t j = i;
        for (; j > 0 && c[j - 1]->feature_id > x->feature_id; j--)
            c[j] = c[j - 1];
        c[j] = x;
    }
}

/* The encoding is well formed, of the feature's type (or NULL), within
 * LIMIT_VALUE_BYTES, and strings are UTF-8 (the JSON writers rely on it). */
static int check_value(const feature_def *f, slice v, strata_err *err)
{
    value_view vv;
    if (value_decode(v, &vv))
        return err_set(err, STRATA_INVALID_ARGUMENT, "malformed value encoding");
    if (vv.tag == VT_NULL)
        return 0;
    if (vv.tag != f->type)
        return err_set(err, STRATA_INVALID_ARGUMENT, "expected %s, got %s",
                       value_type_name(f->type), value_type_name(vv.tag));
    if (v.n - 1 > LIMIT_VALUE_BYTES)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "value of %zu bytes exceeds the limit of %u bytes", v.n - 1,
                       LIMIT_VALUE_BYTES);
    if (vv.tag == VT_STRING && !text_valid_utf8(vv.s))
        return err_set(err, STRATA_INVALID_ARGUMENT, "STRING value is not valid UTF-8");
    if (vv.tag == VT_STRING_ARRAY) {
        size_t pos = 0;
        slice s;
        while (value_string_next(&vv, &pos, &s))
            if (!text_valid_utf8(s))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "STRING_ARRAY element is not valid UTF-8");
    }
    return 0;
}

static bool valid_time(int64_t t)
{
    return t >= TIME_MIN_US && t <= TIME_MAX_US;
}

/* One op of store_write's batch. A write of several rows stages its ops and
 * applies them sorted by (column family, key) (kv.c store_batch_apply): a
 * memtable insert whose key sorts right after the previous one resumes that
 * one's skiplist search, where ids in file order (random to the store) paid
 * the full search for nearly every key. Values keys are unique in a batch and
 * latest-row merges commute, so the order changes nothing stored. */
static void write_op(store_t *st, rocksdb_writebatch_t *wb, store_batch *sb, enum store_cf cf,
                     enum store_op op, slice k, slice v)
{
    if (sb) {
        store_batch_stage(sb, cf, op, k, v);
    } else if (op == STORE_OP_PUT) {
        rocksdb_writebatch_put_cf(wb, st->cf[cf], k.p, k.n, v.p, v.n);
    } else {
        rocksdb_writebatch_merge_cf(wb, st->cf[cf], k.p, k.n, v.p, v.n);
    }
}

/* Re-acquire the registry after a mutation store_write made (a layout upgrade,
 * new write groups). Under data_lock nothing the write checked can change. */
static const registry_t *reacquire(store_t *st, const registry_t *reg)
{
    store_registry_release(st, reg);
    return store_registry_acquire(st);
}

/* Are the entity and every feature of cells still those reg_then had? (A
 * lookup per cell, as the write's own checks made; only after a registry
 * change, which is rare.) */
static bool load_still_stands(const registry_t *reg_then, const registry_t *reg, uint32_t entity_id,
                              const write_cell *const *cells, size_t n)
{
    if (reg == reg_then)
        return true; /* no registry change at all */
    if (!registry_entity_by_id(reg, entity_id))
        return false;
    for (size_t i = 0; i < n; i++) {
        const feature_def *f = registry_feature_by_id(reg, cells[i]->feature_id);
        if (!f || f->entity_id != entity_id)
            return false;
    }
    return true;
}

/* A load staged under data_lock (write_rows with a staged_load out), to be
 * finished by store_load_finish. */
struct store_staged_load {
    uint32_t entity_id;
    const registry_t *reg; /* the registry its rows were checked against, held */
    store_batch *sb;
    bool own_sb;
    const write_cell **cells; /* every cell, for the re-check at the commit */
    bool own_cells;
    size_t ncells;
    uint64_t seq0; /* its first write seq: the load's name */
};

void store_load_drop(store_t *st, store_staged_load *sl)
{
    if (!sl)
        return;
    store_registry_release(st, sl->reg);
    if (sl->own_sb)
        store_batch_free(sl->sb);
    if (sl->own_cells)
        free(sl->cells);
    free(sl);
}

/*
 * Finish a staged load. The sort and the table files (most of a load's time)
 * are made without data_lock, so deletes, and the writes a waiting delete
 * holds back, do not wait for them; nothing is visible until the commit.
 * Then, under the lock: a feature or the entity deleted since the staging
 * voids the load (its versions must not land after the delete), else the set
 * is committed. Deletes of ids or time ranges that came in between order
 * before the load, as a write right after them would.
 */
int store_load_finish(store_t *st, store_staged_load *sl, strata_err *err)
{
    store_load *ld = malloc(sizeof *ld);
    if (!ld) {
        store_load_drop(st, sl);
        return err_set(err, STRATA_NOMEM, "out of memory loading values");
    }
    int rc = store_bulk_prepare(st, sl->sb, sl->seq0, ld, err);
    if (rc == 0 && st->bulk_test_between)
        st->bulk_test_between(st->bulk_test_arg);
    pthread_rwlock_rdlock(&st->data_lock);
    const registry_t *now = store_registry_acquire(st);
    if (rc == 0 && !load_still_stands(sl->reg, now, sl->entity_id, sl->cells, sl->ncells)) {
        store_bulk_abandon(ld);
        rc = err_set(err, STRATA_FAILED_PRECONDITION,
                     "a feature of these values or their entity was deleted while they were "
                     "being loaded; nothing of them was written");
    }
    /* Another load cut short since the staging refuses every write. */
    if (rc == 0 && (rc = store_check_writable(st, err)))
        store_bulk_abandon(ld);
    if (rc == 0)
        rc = store_bulk_commit(st, sl->sb, ld, err);
    if (rc == 0)
        atomic_fetch_add(&st->values_written, sl->ncells);
    store_registry_release(st, now);
    pthread_rwlock_unlock(&st->data_lock);
    store_load_drop(st, sl);
    free(ld);
    return rc;
}

struct store_scratch {
    store_batch *sb;
    const write_cell **all;
    const feature_def **defs;
    size_t cap; /* of all and defs */
};

store_scratch *store_scratch_new(void)
{
    return calloc(1, sizeof(store_scratch));
}

void store_scratch_free(store_scratch *s)
{
    if (!s)
        return;
    store_batch_free(s->sb);
    free(s->all);
    free(s->defs);
    free(s);
}

/* store_write, or with staged store_load_stage: the same checks, keys and
 * values, committed as one WriteBatch or staged for a load as table files
 * (bulk.c), in scratch's memory when given. */
static int write_rows(store_t *st, uint32_t entity_id, const write_row *rows, size_t nrows,
                      store_scratch *scratch, store_staged_load **staged, strata_err *err)
{
    bool ingest = staged != NULL;
    int rc;
    bool locked = false;
    const registry_t *reg = NULL;
    rocksdb_writebatch_t *wb = NULL;
    const write_cell **all = NULL; /* every row's cells, each row's by feature id */
    const feature_def **defs = NULL; /* the feature of each of all's cells */
    uint32_t *groups = NULL;       /* per cell of a row: its feature's write group */
    uint32_t *done = NULL;         /* a row's set groups already written */
    store_batch *sb = NULL;
    buf key = BUF_INIT, frag = BUF_INIT, cellbuf = BUF_INIT;
    char *rerr = NULL;
    size_t maxc = 0, total = 0, r = 0;
    uint64_t seq0 = 0;
    bool fresh = false;      /* a feature written for the first time */
    bool stale_defs = false; /* defs are of a registry released since */

    if ((rc = store_check_writable(st, err)) || nrows == 0)
        return rc;
    /* Several rows, or a load: staged and applied in key order (write_op). */
    if (scratch) {
        if (!scratch->sb)
            scratch->sb = store_batch_new();
        sb = scratch->sb;
        store_batch_reset(sb);
    } else if (nrows > 1 || ingest) {
        sb = store_batch_new();
    }
    store_quiet_perf_context();
    for (size_t i = 0; i < nrows; i++) {
        total += rows[i].ncells;
        if (rows[i].ncells > maxc)
            maxc = rows[i].ncells;
    }
    if (scratch && total > scratch->cap) {
        free(scratch->all);
        free(scratch->defs);
        scratch->all = malloc(total * sizeof *scratch->all);
        scratch->defs = malloc(total * sizeof *scratch->defs);
        scratch->cap = scratch->all && scratch->defs ? total : 0;
    }
    if (scratch && scratch->cap) {
        all = scratch->all;
        defs = scratch->defs;
    }
    if (maxc &&
        ((!all && !(all = malloc(total * sizeof *all))) ||
         (!defs && !(defs = malloc(total * sizeof *defs))) ||
         !(groups = malloc(maxc * sizeof *groups)) || !(done = malloc(maxc * sizeof *done)))) {
        rc = err_set(err, STRATA_NOMEM, "out of memory writing values");
        goto out;
    }
    pthread_rwlock_rdlock(&st->data_lock);
    locked = true;
    /* Under data_lock: a feature deleted before we got the lock is unknown to
     * this snapshot, so no version of it can land after its delete. */
    reg = store_registry_acquire(st);
    const entity_def *e = registry_entity_by_id(reg, entity_id);
    if (!e) {
        rc = err_set(err, STRATA_NOT_FOUND, "entity id %u not found", entity_id);
        goto out;
    }
    /* Every row is checked before anything is recorded: a refused write
     * changes nothing, write groups and the layout included. */
    const write_cell **prev = NULL; /* the previous row's sorted cells */
    const feature_def **prev_defs = NULL;
    for (size_t off = 0; r < nrows;
         prev = all + off, prev_defs = defs + off, off += rows[r].ncells, r++) {
        const write_row *row = &rows[r];
        const write_cell **sorted = all + off;
        if (!text_valid_entity_id(row->entity_id)) {
            rc = bad_id(err);
            goto row_err;
        }
        if (!valid_time(row->event_time) || !valid_time(row->created_time)) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "event_time and created_time must lie in years 0001..9999");
            goto row_err;
        }
        for (size_t c = 0; c < row->ncells; c++)
            sorted[c] = &row->cells[c];
        sort_cells(sorted, row->ncells);
        for (size_t c = 0; c < row->ncells; c++) {
            const write_cell *cell = sorted[c];
            /* Rows of a batch mostly carry the same features: the previous
             * row's lookup at this position, else the registry's. */
            const feature_def *f =
                r && c < rows[r - 1].ncells && prev[c]->feature_id == cell->feature_id
                    ? prev_defs[c]
                    : registry_feature_by_id(reg, cell->feature_id);
            defs[off + c] = f;
            if (!f || f->entity_id != entity_id) {
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "feature id %u is not a feature of entity \"%s\"", cell->feature_id,
                             e->name);
                goto row_err;
            }
            if (c && cell->feature_id == sorted[c - 1]->feature_id) {
                rc =
                    err_set(err, STRATA_INVALID_ARGUMENT, "feature \"%s\" is given twice", f->name);
                goto row_err;
            }
            if ((rc = check_value(f, cell->value, err))) {
                err_prefix(err, "feature \"%s\"", f->name);
                goto row_err;
            }
            fresh |= f->group == 0;
        }
    }
    /* A layout-1 directory is upgraded by its first write, not by its open:
     * an open that something above the store refuses leaves it as it was. */
    if (atomic_load(&st->layout) < STORE_LAYOUT_VERSION) {
        if ((rc = store_groups_upgrade(st, err)))
            goto out;
        reg = reacquire(st, reg);
        stale_defs = true;
    }
    /* Features written for the first time get their write group first. */
    if (fresh) {
        if ((rc = store_groups_assign(st, entity_id, rows, nrows, err)))
            goto out;
        reg = reacquire(st, reg);
        stale_defs = true;
    }
    if ((rc = seq_reserve(st, nrows, &seq0, err)))
        goto out;
    if (!ingest)
        wb = rocksdb_writebatch_create();
    for (size_t off = 0, i = 0; i < nrows; off += rows[i].ncells, i++) {
        const write_row *row = &rows[i];
        const write_cell **sorted = all + off;
        uint64_t seq = seq0 + i;
        buf_reset(&frag);
        store_frag_begin(&frag, row->event_time, row->created_time, seq);
        bool any_set = false;
        for (size_t c = 0; c < row->ncells; c++) {
            const write_cell *cell = sorted[c];
            uint32_t g = store_feature_group(
                stale_defs ? registry_feature_by_id(reg, cell->feature_id) : defs[off + c]);
            groups[c] = g;
            if (store_group_is_set(g)) {
                any_set = true;
            } else {
                buf_reset(&key);
                store_key_value(&key, entity_id, row->entity_id, g, row->event_time,
                                row->created_time, seq);
                write_op(st, wb, sb, CF_VALUES, STORE_OP_PUT, buf_slice(&key), cell->value);
            }
            store_frag_add(&frag, cell->feature_id, cell->value);
        }
        /* One key per set group in the row: its cells in feature id order.
         * (A row meets at most LIMIT_SET_GROUPS_PER_ENTITY of them.) */
        size_t ndone = 0;
        for (size_t c = 0; any_set && c < row->ncells; c++) {
            uint32_t g = groups[c];
            if (!store_group_is_set(g))
                continue;
            size_t k = 0;
            while (k < ndone && done[k] != g)
                k++;
            if (k < ndone)
                continue;
            done[ndone++] = g;
            buf_reset(&cellbuf);
            for (size_t d = c; d < row->ncells; d++)
                if (groups[d] == g)
                    store_cells_add(&cellbuf, sorted[d]->feature_id, sorted[d]->value);
            buf_reset(&key);
            store_key_value(&key, entity_id, row->entity_id, g, row->event_time, row->created_time,
                            seq);
            write_op(st, wb, sb, CF_VALUES, STORE_OP_PUT, buf_slice(&key), buf_slice(&cellbuf));
        }
        if (row->ncells) {
            buf_reset(&key);
            store_key_id(&key, entity_id, row->entity_id);
            write_op(st, wb, sb, CF_LATEST, STORE_OP_MERGE, buf_slice(&key), buf_slice(&frag));
        }
    }
    if (ingest) {
        store_staged_load *sl = calloc(1, sizeof *sl);
        if (!sl) {
            rc = err_set(err, STRATA_NOMEM, "out of memory loading values");
            goto out;
        }
        /* The registry, the ops and the cells now belong to the load. */
        *sl = (store_staged_load){
            entity_id, reg, sb, !scratch, all, !scratch || all != scratch->all, total, seq0};
        *staged = sl;
        reg = NULL;
        sb = NULL;
        all = NULL;
        goto out;
    } else {
        if (sb)
            store_batch_apply(st, sb, wb);
        rocksdb_write(st->db, st->wo_data, wb, &rerr);
        if (rerr) {
            rc = store_rdb_err(err, rerr, "writing values");
            goto out;
        }
    }
    atomic_fetch_add(&st->values_written, total);
    goto out;
row_err:
    err_prefix(err, "row %zu", r);
out:
    store_registry_release(st, reg);
    if (locked)
        pthread_rwlock_unlock(&st->data_lock);
    if (wb)
        rocksdb_writebatch_destroy(wb);
    buf_free(&key);
    buf_free(&frag);
    buf_free(&cellbuf);
    if (!scratch || all != scratch->all)
        free(all);
    if (!scratch || defs != scratch->defs)
        free(defs);
    free(groups);
    free(done);
    if (!scratch)
        store_batch_free(sb);
    return rc;
}

int store_write(store_t *st, uint32_t entity_id, const write_row *rows, size_t nrows,
                strata_err *err)
{
    return write_rows(st, entity_id, rows, nrows, NULL, NULL, err);
}

int store_load_stage(store_t *st, uint32_t entity_id, const write_row *rows, size_t nrows,
                     store_scratch *scratch, store_staged_load **out, strata_err *err)
{
    *out = NULL;
    return write_rows(st, entity_id, rows, nrows, scratch, out, err);
}

int store_write_ingest(store_t *st, uint32_t entity_id, const write_row *rows, size_t nrows,
                       store_scratch *scratch, strata_err *err)
{
    store_staged_load *sl;
    int rc = store_load_stage(st, entity_id, rows, nrows, scratch, &sl, err);
    return rc || !sl ? rc : store_load_finish(st, sl, err);
}

/* ---- bulk writers -------------------------------------------------------- */

static void set_successive_merges(store_t *st, int n)
{
    char v[16], *rerr = NULL;
    snprintf(v, sizeof v, "%d", n);
    const char *keys[] = {"max_successive_merges"}, *vals[] = {v};
    rocksdb_set_options_cf(st->db, st->cf[CF_LATEST], 1, keys, vals, &rerr);
    if (rerr) {
        log_warn("latest: max_successive_merges not set to %d: %s", n, rerr);
        rocksdb_free(rerr);
    }
}

/* RocksDB reads max_successive_merges when it creates a memtable: make the
 * active `latest` memtable a new one, so that the setting just made applies
 * from the next write on. A flush (not waited for) switches a memtable that
 * holds entries; RocksDB does not switch an empty one, so that first gets the
 * tombstone of a key no row has (entity 0, which is never assigned, and an
 * empty id): one tiny SST file, dropped by its first compaction. */
static void retire_latest_memtable(store_t *st)
{
    static const char none[6] = {0};
    uint64_t n = 0;
    char *rerr = NULL;
    if (rocksdb_property_int_cf(st->db, st->cf[CF_LATEST], "rocksdb.num-entries-active-mem-table",
                                &n) == 0 &&
        n == 0) {
        rocksdb_delete_cf(st->db, st->wo_data, st->cf[CF_LATEST], none, sizeof none, &rerr);
        if (rerr)
            goto warn;
    }
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 0);
    rocksdb_flush_cf(st->db, fo, st->cf[CF_LATEST], &rerr);
    rocksdb_flushoptions_destroy(fo);
    if (!rerr)
        return;
warn:
    log_warn("latest: the active memtable keeps its operand count setting: %s", rerr);
    rocksdb_free(rerr);
}

/* A big load switches `latest` to a new memtable when none was switched since
 * the count went off (a small load running already leaves it counting), and
 * the last end switches back when one was. The switches happen outside
 * bulk_mu: RocksDB's flush, even unwaited, waits while one more memtable would
 * stall writes, and other importers must not queue behind that. Racing begins
 * and ends switch at most once more, and each switch takes the setting current
 * at that moment. */
void store_bulk_begin(store_t *st, uint64_t expected_bytes)
{
    if (st->read_only)
        return;
    pthread_mutex_lock(&st->bulk_mu);
    if (st->bulk_writers++ == 0)
        set_successive_merges(st, 0);
    bool sw = expected_bytes >= STORE_BULK_SWITCH_BYTES && !st->bulk_switched;
    if (sw)
        st->bulk_switched = true;
    pthread_mutex_unlock(&st->bulk_mu);
    if (sw)
        retire_latest_memtable(st);
}

void store_bulk_end(store_t *st)
{
    if (st->read_only)
        return;
    bool sw = false;
    pthread_mutex_lock(&st->bulk_mu);
    STRATA_ASSERT(st->bulk_writers > 0);
    if (--st->bulk_writers == 0) {
        set_successive_merges(st, LATEST_SUCCESSIVE_MERGES);
        sw = st->bulk_switched;
        st->bulk_switched = false;
    }
    pthread_mutex_unlock(&st->bulk_mu);
    if (sw)
        retire_latest_memtable(st);
}

/* ---- deletes ------------------------------------------------------------ */

int store_entity_has_values(store_t *st, uint32_t entity_id, bool *has, strata_err *err)
{
    char k[4], *rerr = NULL;
    size_t klen;
    put_u32be(k, entity_id);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, st->ro_total, st->cf[CF_VALUES]);
    rocksdb_iter_seek(it, k, sizeof k);
    *has = false;
    if (rocksdb_iter_valid(it)) {
        const char *key = rocksdb_iter_key(it, &klen);
        *has = klen >= 4 && memcmp(key, k, 4) == 0;
    }
    rocksdb_iter_get_error(it, &rerr);
    rocksdb_iter_destroy(it);
    return rerr ? store_rdb_err(err, rerr, "checking for stored values") : 0;
}

static bool fid_in(const uint32_t *fids, size_t n, uint32_t f)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fids[mid] == f)
            return true;
        if (fids[mid] < f)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* One id's surviving versions in store_scan_delete: the newest of each
 * feature (the first met: a feature's versions are all in its one write
 * group, newest first), values copied out of the iterator. */
typedef struct survivor {
    version v; /* v.value.p unset: the bytes are at vals + off */
    size_t off;
} survivor;
typedef struct survivors {
    survivor *s; /* sorted by feature id */
    size_t n, cap;
    buf vals;
} survivors;

/* Add v unless its feature already has a survivor; -1 out of memory. */
static int survivor_add(survivors *s, const version *v)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->s[mid].v.feature_id < v->feature_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n && s->s[lo].v.feature_id == v->feature_id)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        survivor *ns = realloc(s->s, cap * sizeof *ns);
        if (!ns)
            return -1;
        s->s = ns;
        s->cap = cap;
    }
    memmove(s->s + lo + 1, s->s + lo, (s->n - lo) * sizeof *s->s);
    s->s[lo] = (survivor){*v, s->vals.n};
    buf_append_slice(&s->vals, v->value);
    s->n++;
    return 0;
}

/* End of one id in store_scan_delete: replace its latest row. */
static void flush_group(store_t *st, rocksdb_writebatch_t *wb, const buf *id_key, survivors *s,
                        buf *row)
{
    if (s->n == 0) {
        rocksdb_writebatch_delete_cf(wb, st->cf[CF_LATEST], id_key->p, id_key->n);
        return;
    }
    buf_reset(row);
    store_row_begin(row);
    for (size_t i = 0; i < s->n; i++) {
        version v = s->s[i].v;
        v.value.p = s->vals.p + s->s[i].off;
        store_row_add(row, &v);
    }
    rocksdb_writebatch_put_cf(wb, st->cf[CF_LATEST], id_key->p, id_key->n, row->p, row->n);
}

/*
 * One pass over the entity in key order: ids ascend, within an id write
 * groups ascend, within a group rows run newest first. A singleton group's
 * version is deleted by its key; a set group's row is rewritten without the
 * deleted cells (deleted when none is left). Every id that lost a version gets
 * its latest row rebuilt from the survivors.
 *
 * The pass starts at `from` (empty: the entity's first key). With max_keys,
 * it stops at the first id boundary after that many keys and puts the key to
 * resume from in *next (left empty when the entity's end was reached).
 */
int store_scan_delete(store_t *st, rocksdb_writebatch_t *wb, uint32_t entity_id,
                      const uint32_t *fids, size_t nf, bool all_times, int64_t start, int64_t end,
                      slice from, size_t max_keys, buf *next, uint64_t *deleted, strata_err *err)
{
    int rc = 0;
    char ek[4], *rerr = NULL;
    buf id_key = BUF_INIT, row = BUF_INIT, kept = BUF_INIT;
    survivors surv = {0};
    bool in_group = false, affected = false;
    size_t keys = 0;

    put_u32be(ek, entity_id);
    if (next)
        buf_reset(next);
    if (from.n == 0)
        from = (slice){ek, sizeof ek};
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, st->ro_total, st->cf[CF_VALUES]);
    for (rocksdb_iter_seek(it, from.p, from.n); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        slice k, val;
        value_key vk;
        k.p = rocksdb_iter_key(it, &k.n);
        if (k.n < 4 || memcmp(k.p, ek, 4) != 0)
            break;
        if (store_key_value_decode(k, &vk)) {
            rc = err_set(err, STRATA_CORRUPT, "values key of %zu bytes is corrupt", k.n);
            goto out;
        }
        val.p = rocksdb_iter_value(it, &val.n);
        size_t id_len = STORE_KEY_ID_HDR + vk.id.n;
        if (!in_group || id_key.n != id_len || memcmp(id_key.p, k.p, id_len) != 0) {
            if (in_group && affected)
                flush_group(st, wb, &id_key, &surv, &row);
            if (in_group && max_keys && keys >= max_keys && next) {
                buf_append(next, k.p, id_len); /* this id is the next chunk's first */
                in_group = false;
                break;
            }
            buf_reset(&id_key);
            buf_append(&id_key, k.p, id_len);
            surv.n = 0;
            buf_reset(&surv.vals);
            in_group = true;
            affected = false;
        }
        keys++;
        bool in_range = all_times || (vk.event_time >= start && vk.event_time < end);
        version v = {0, vk.event_time, vk.created_time, vk.seq, {NULL, 0}};
        if (!store_group_is_set(vk.group)) {
            v.feature_id = vk.group;
            v.value = val;
            if (in_range && fid_in(fids, nf, vk.group)) {
                rocksdb_writebatch_delete_cf(wb, st->cf[CF_VALUES], k.p, k.n);
                (*deleted)++;
                affected = true;
            } else if (survivor_add(&surv, &v)) {
                goto nomem;
            }
            continue;
        }
        slice rest = val;
        size_t dropped = 0, left = 0;
        buf_reset(&kept);
        int c;
        while ((c = store_cells_next(&rest, &v.feature_id, &v.value)) == 1) {
            if (in_range && fid_in(fids, nf, v.feature_id)) {
                dropped++;
                continue;
            }
            left++;
            store_cells_add(&kept, v.feature_id, v.value);
            if (survivor_add(&surv, &v))
                goto nomem;
        }
        if (c < 0) {
            rc = err_set(err, STRATA_CORRUPT, "a stored row of entity id %u is corrupt", entity_id);
            goto out;
        }
        if (dropped) {
            if (left)
                rocksdb_writebatch_put_cf(wb, st->cf[CF_VALUES], k.p, k.n, kept.p, kept.n);
            else
                rocksdb_writebatch_delete_cf(wb, st->cf[CF_VALUES], k.p, k.n);
            *deleted += dropped;
            affected = true;
        }
    }
    rocksdb_iter_get_error(it, &rerr);
    if (rerr) {
        rc = store_rdb_err(err, rerr, "scanning values");
        goto out;
    }
    if (in_group && affected)
        flush_group(st, wb, &id_key, &surv, &row);
    goto out;
nomem:
    rc = err_set(err, STRATA_NOMEM, "out of memory deleting values");
out:
    rocksdb_iter_destroy(it);
    buf_free(&id_key);
    buf_free(&row);
    buf_free(&kept);
    buf_free(&surv.vals);
    free(surv.s);
    return rc;
}

static int slice_ptr_cmp(const void *a, const void *b)
{
    return slice_cmp(*(const slice *)a, *(const slice *)b);
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int store_delete_ids(store_t *st, uint32_t entity_id, const slice *ids, size_t n, uint64_t *deleted,
                     strata_err *err)
{
    int rc;
    bool locked = false;
    const registry_t *reg = NULL;
    rocksdb_writebatch_t *wb = NULL;
    rocksdb_iterator_t *it = NULL;
    slice *sorted = NULL;
    buf lo = BUF_INIT, hi = BUF_INIT;
    char *rerr = NULL;
    uint64_t count = 0;

    if (deleted)
        *deleted = 0;
    if ((rc = store_check_writable(st, err)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!valid_read_id(ids[i])) {
            rc = bad_id(err);
            err_prefix(err, "entity_ids[%zu]", i);
            return rc;
        }
    }
    if (n && !(sorted = malloc(n * sizeof *sorted)))
        return err_set(err, STRATA_NOMEM, "out of memory deleting values");
    if (n) {
        memcpy(sorted, ids, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, slice_ptr_cmp);
    }
    pthread_rwlock_wrlock(&st->data_lock);
    locked = true;
    reg = store_registry_acquire(st);
    if (!registry_entity_by_id(reg, entity_id)) {
        rc = err_set(err, STRATA_NOT_FOUND, "entity id %u not found", entity_id);
        goto out;
    }
    wb = rocksdb_writebatch_create();
    it = rocksdb_create_iterator_cf(st->db, st->ro_total, st->cf[CF_VALUES]);
    for (size_t i = 0; i < n; i++) {
        if (i && slice_eq(sorted[i], sorted[i - 1]))
            continue;
        buf_reset(&lo);
        store_key_id(&lo, entity_id, sorted[i]);
        for (rocksdb_iter_seek(it, lo.p, lo.n); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
            size_t kn;
            const char *k = rocksdb_iter_key(it, &kn);
            if (kn < lo.n || memcmp(k, lo.p, lo.n) != 0)
                break;
            /* A set group's row holds several versions (one per cell). */
            value_key vk;
            if (store_key_value_decode((slice){k, kn}, &vk) == 0 && store_group_is_set(vk.group)) {
                slice row, v;
                uint32_t f;
                row.p = rocksdb_iter_value(it, &row.n);
                while (store_cells_next(&row, &f, &v) == 1)
                    count++;
            } else {
                count++;
            }
        }
        rocksdb_iter_get_error(it, &rerr);
        if (rerr) {
            rc = store_rdb_err(err, rerr, "scanning values");
            goto out;
        }
        buf_reset(&hi);
        buf_append(&hi, lo.p, lo.n);
        STRATA_ASSERT(store_key_successor(&hi)); /* the entity id is < UINT32_MAX */
        rocksdb_writebatch_delete_range_cf(wb, st->cf[CF_VALUES], lo.p, lo.n, hi.p, hi.n);
        rocksdb_writebatch_delete_cf(wb, st->cf[CF_LATEST], lo.p, lo.n);
    }
    rocksdb_write(st->db, st->wo_sync, wb, &rerr);
    if (rerr) {
        rc = store_rdb_err(err, rerr, "deleting values");
        goto out;
    }
    if (deleted)
        *deleted = count;
out:
    if (it)
        rocksdb_iter_destroy(it);
    store_registry_release(st, reg);
    if (locked)
        pthread_rwlock_unlock(&st->data_lock);
    if (wb)
        rocksdb_writebatch_destroy(wb);
    buf_free(&lo);
    buf_free(&hi);
    free(sorted);
    return rc;
}

int store_delete_range(store_t *st, uint32_t entity_id, const uint32_t *feature_ids, size_t n,
                       int64_t start, int64_t end, uint64_t *deleted, strata_err *err)
{
    int rc;
    bool locked = false;
    const registry_t *reg = NULL;
    rocksdb_writebatch_t *wb = NULL;
    uint32_t *fids = NULL;
    char *rerr = NULL;
    uint64_t count = 0;

    if (deleted)
        *deleted = 0;
    if ((rc = store_check_writable(st, err)))
        return rc;
    if (start > end)
        return err_set(err, STRATA_INVALID_ARGUMENT, "start_time is after end_time");
    if (n && !(fids = malloc(n * sizeof *fids)))
        return err_set(err, STRATA_NOMEM, "out of memory deleting values");
    if (n) {
        memcpy(fids, feature_ids, n * sizeof *fids);
        qsort(fids, n, sizeof *fids, u32_cmp);
    }
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || fids[i] != fids[nf - 1])
            fids[nf++] = fids[i];

    pthread_rwlock_wrlock(&st->data_lock);
    locked = true;
    reg = store_registry_acquire(st);
    const entity_def *e = registry_entity_by_id(reg, entity_id);
    if (!e) {
        rc = err_set(err, STRATA_NOT_FOUND, "entity id %u not found", entity_id);
        goto out;
    }
    for (size_t i = 0; i < nf; i++) {
        const feature_def *f = registry_feature_by_id(reg, fids[i]);
        if (!f || f->entity_id != entity_id) {
            rc = err_set(err, STRATA_NOT_FOUND, "feature id %u is not a feature of entity \"%s\"",
                         fids[i], e->name);
            goto out;
        }
    }
    if (nf == 0 || start == end)
        goto out;
    wb = rocksdb_writebatch_create();
    if ((rc = store_scan_delete(st, wb, entity_id, fids, nf, false, start, end, (slice){NULL, 0}, 0,
                                NULL, &count, err)))
        goto out;
    if (count) {
        rocksdb_write(st->db, st->wo_sync, wb, &rerr);
        if (rerr) {
            rc = store_rdb_err(err, rerr, "deleting values");
            goto out;
        }
    }
    if (deleted)
        *deleted = count;
out:
    store_registry_release(st, reg);
    if (locked)
        pthread_rwlock_unlock(&st->data_lock);
    if (wb)
        rocksdb_writebatch_destroy(wb);
    free(fids);
    return rc;
}

/* ---- reads -------------------------------------------------------------- */

int store_latest_get(store_t *st, uint32_t entity_id, slice id, latest_row *row, strata_err *err)
{
    char key[STORE_KEY_MAX], *rerr = NULL;
    row->n = 0;
    if (!valid_read_id(id))
        return bad_id(err);
    size_t klen = store_key_id_to(key, entity_id, id);
    store_quiet_perf_context();
    rocksdb_pinnableslice_t *ps =
        rocksdb_get_pinned_cf(st->db, st->ro_get, st->cf[CF_LATEST], key, klen, &rerr);
    if (rerr)
        return store_rdb_err(err, rerr, "reading a latest row");
    if (!ps)
        return 0;
    slice v;
    v.p = rocksdb_pinnableslice_value(ps, &v.n);
    int rc = store_row_decode(v, row, err);
    rocksdb_pinnableslice_destroy(ps);
    return rc;
}

int store_latest_multiget(store_t *st, uint32_t entity_id, const slice *ids, size_t n,
                          latest_row *rows, strata_err *err)
{
    int rc = 0;
    buf keys = BUF_INIT;
    size_t *offs = NULL, *klens = NULL, *vlens = NULL;
    const char **kptrs = NULL;
    char **vals = NULL, **errs = NULL;
    const rocksdb_column_family_handle_t **cfs = NULL;

    for (size_t i = 0; i < n; i++)
        rows[i].n = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid_read_id(ids[i])) {
            rc = bad_id(err);
            err_prefix(err, "ids[%zu]", i);
            return rc;
        }
    }
    offs = malloc(n * sizeof *offs);
    klens = malloc(n * sizeof *klens);
    vlens = calloc(n, sizeof *vlens);
    kptrs = malloc(n * sizeof *kptrs);
    vals = calloc(n, sizeof *vals);
    errs = calloc(n, sizeof *errs);
    cfs = malloc(n * sizeof *cfs);
    if (!offs || !klens || !vlens || !kptrs || !vals || !errs || !cfs) {
        rc = err_set(err, STRATA_NOMEM, "out of memory reading latest rows");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        offs[i] = keys.n;
        store_key_id(&keys, entity_id, ids[i]);
        klens[i] = keys.n - offs[i];
        cfs[i] = st->cf[CF_LATEST];
    }
    for (size_t i = 0; i < n; i++)
        kptrs[i] = keys.p + offs[i]; /* keys is complete: no more reallocation */
    store_quiet_perf_context();
    rocksdb_multi_get_cf(st->db, st->ro_get, cfs, n, kptrs, klens, vals, vlens, errs);
    for (size_t i = 0; i < n; i++) {
        if (errs[i]) {
            if (rc == 0)
                rc = store_rdb_err(err, errs[i], "reading latest rows");
            else
                rocksdb_free(errs[i]);
            errs[i] = NULL;
        } else if (vals[i] && rc == 0) {
            rc = store_row_decode((slice){vals[i], vlens[i]}, &rows[i], err);
        }
        rocksdb_free(vals[i]);
        vals[i] = NULL;
    }
    if (rc)
        for (size_t i = 0; i < n; i++)
            rows[i].n = 0;
out:
    buf_free(&keys);
    free(offs);
    free(klens);
    free(vlens);
    free(kptrs);
    free(vals);
    free(errs);
    free(cfs);
    return rc;
}

/* The write group of a feature of the entity, from the current registry. */
static uint32_t group_of(store_t *st, uint32_t entity_id, uint32_t feature_id)
{
    const registry_t *reg = store_registry_acquire(st);
    uint32_t g = store_registry_group(reg, entity_id, feature_id);
    store_registry_release(st, reg);
    return g;
}

static int corrupt_row(strata_err *err)
{
    return err_set(err, STRATA_CORRUPT, "a stored row of values is corrupt");
}

int store_pit_get(store_t *st, uint32_t entity_id, slice id, uint32_t feature_id, int64_t ts,
                  int64_t ttl_us, int64_t as_of, version *out, buf *valbuf, strata_err *err)
{
    char seek[STORE_KEY_MAX], *rerr = NULL;
    int rc = STRATA_NOT_FOUND;
    if (!valid_read_id(id))
        return bad_id(err);
    if (ttl_us < 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "negative TTL");
    store_quiet_perf_context();
    /* The iterator's view first, then the registry: a group assigned by a
     * write the view holds is known (store_registry_group). */
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, st->ro_prefix, st->cf[CF_VALUES]);
    uint32_t g = group_of(st, entity_id, feature_id);
    size_t plen = store_key_group_to(seek, entity_id, id, g);
    put_u64be(seek + plen, ~store_time_key(ts));
    /* Inclusive lower bound ts - ttl, saturated instead of overflowing. */
    int64_t lower = ttl_us > 0 && ts >= INT64_MIN + ttl_us ? ts - ttl_us : INT64_MIN;
    for (rocksdb_iter_seek(it, seek, plen + 8); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kn;
        const char *k = rocksdb_iter_key(it, &kn);
        if (kn != plen + STORE_KEY_VERSION_SUFFIX || memcmp(k, seek, plen) != 0)
            break;
        int64_t ev = store_time_unkey(~get_u64be(k + plen));
        int64_t cr = store_time_unkey(~get_u64be(k + plen + 8));
        if (ev > ts)
            continue; /* not reached: the seek starts at event_time <= ts */
        if (ev < lower)
            break; /* older than the TTL window; the rest is older still */
        if (cr > as_of)
            continue; /* written after as_of: invisible to this read */
        slice row, cell;
        row.p = rocksdb_iter_value(it, &row.n);
        int found = store_group_cell(g, feature_id, row, &cell);
        if (found < 0) {
            rc = corrupt_row(err);
            break;
        }
        if (!found)
            continue; /* a row of the group without this feature */
        size_t at = valbuf->n;
        buf_append_slice(valbuf, cell);
        out->feature_id = feature_id;
        out->event_time = ev;
        out->created_time = cr;
        out->seq = ~get_u64be(k + plen + 16);
        out->value = (slice){valbuf->p + at, cell.n};
        rc = 0;
        break;
    }
    rocksdb_iter_get_error(it, &rerr);
    rocksdb_iter_destroy(it);
    if (rerr)
        return store_rdb_err(err, rerr, "reading values");
    if (rc == STRATA_NOT_FOUND)
        err_set(err, rc, "no version");
    return rc;
}

struct store_versions {
    rocksdb_iterator_t *it;
    bool started;
    uint32_t feature_id, group;
    size_t plen;
    char prefix[STORE_KEY_MAX];
};

int store_versions_open(store_t *st, uint32_t entity_id, slice id, uint32_t feature_id,
                        store_versions **out, strata_err *err)
{
    *out = NULL;
    if (!valid_read_id(id))
        return bad_id(err);
    store_versions *v = calloc(1, sizeof *v);
    if (!v)
        return err_set(err, STRATA_NOMEM, "out of memory opening a version iterator");
    v->feature_id = feature_id;
    v->it = rocksdb_create_iterator_cf(st->db, st->ro_prefix, st->cf[CF_VALUES]);
    v->group = group_of(st, entity_id, feature_id); /* after the view, as in store_pit_get */
    v->plen = store_key_group_to(v->prefix, entity_id, id, v->group);
    *out = v;
    return 0;
}

int store_versions_next(store_versions *it, version *v, strata_err *err)
{
    char *rerr = NULL;
    for (;;) {
        if (!it->started) {
            rocksdb_iter_seek(it->it, it->prefix, it->plen);
            it->started = true;
        } else if (rocksdb_iter_valid(it->it)) {
            rocksdb_iter_next(it->it);
        }
        if (!rocksdb_iter_valid(it->it)) {
            rocksdb_iter_get_error(it->it, &rerr);
            return rerr ? store_rdb_err(err, rerr, "reading values") : 0;
        }
        size_t kn;
        const char *k = rocksdb_iter_key(it->it, &kn);
        if (kn < it->plen || memcmp(k, it->prefix, it->plen) != 0)
            return 0;
        if (kn != it->plen + STORE_KEY_VERSION_SUFFIX)
            return err_set(err, STRATA_CORRUPT, "values key of %zu bytes is corrupt", kn);
        slice row;
        row.p = rocksdb_iter_value(it->it, &row.n);
        int found = store_group_cell(it->group, it->feature_id, row, &v->value);
        if (found < 0)
            return corrupt_row(err);
        if (!found)
            continue;
        const char *s = k + it->plen;
        v->feature_id = it->feature_id;
        v->event_time = store_time_unkey(~get_u64be(s));
        v->created_time = store_time_unkey(~get_u64be(s + 8));
        v->seq = ~get_u64be(s + 16);
        return 1;
    }
}

void store_versions_close(store_versions *it)
{
    if (!it)
        return;
    if (it->it)
        rocksdb_iter_destroy(it->it);
    free(it);
}

/* ---- stats -------------------------------------------------------------- */

/* A numeric property of the DB (cf NULL) or of one column family; 0 when
 * RocksDB does not know it. Some (rocksdb.num-files-at-level<N>) exist only
 * in RocksDB's string form: those are parsed. */
static uint64_t prop(store_t *st, rocksdb_column_family_handle_t *cf, const char *name)
{
    uint64_t v = 0;
    int rc = cf ? rocksdb_property_int_cf(st->db, cf, name, &v)
                : rocksdb_property_int(st->db, name, &v);
    if (rc == 0)
        return v;
    char *str = cf ? rocksdb_property_value_cf(st->db, cf, name)
                   : rocksdb_property_value(st->db, name);
    if (!str)
        return 0;
    v = strtoull(str, NULL, 10);
    rocksdb_free(str);
    return v;
}

void store_get_stats(store_t *st, store_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < CF_COUNT; i++) {
        rocksdb_column_family_handle_t *cf = st->cf[i];
        out->sst_bytes += prop(st, cf, "rocksdb.total-sst-files-size");
        out->memtable_bytes += prop(st, cf, "rocksdb.cur-size-all-mem-tables");
        uint64_t l0 = prop(st, cf, "rocksdb.num-files-at-level0");
        out->l0_files += l0;
        if (l0 > out->l0_files_max)
            out->l0_files_max = l0;
        out->immutable_memtables += prop(st, cf, "rocksdb.num-immutable-mem-table");
        out->pending_compaction_bytes += prop(st, cf, "rocksdb.estimate-pending-compaction-bytes");
        out->table_readers_bytes += prop(st, cf, "rocksdb.estimate-table-readers-mem");
    }
    out->block_cache_bytes = rocksdb_cache_get_usage(st->cache);
    out->block_cache_pinned_bytes = rocksdb_cache_get_pinned_usage(st->cache);
    out->block_cache_capacity = rocksdb_cache_get_capacity(st->cache);
    if (st->row_cache) {
        out->row_cache_bytes = rocksdb_cache_get_usage(st->row_cache);
        out->row_cache_capacity = rocksdb_cache_get_capacity(st->row_cache);
    }
    out->running_flushes = prop(st, NULL, "rocksdb.num-running-flushes");
    out->running_compactions = prop(st, NULL, "rocksdb.num-running-compactions");
    out->write_stopped = prop(st, NULL, "rocksdb.is-write-stopped");
    out->delayed_write_rate = prop(st, NULL, "rocksdb.actual-delayed-write-rate");
    out->values_written = atomic_load(&st->values_written);
    out->loaded_files = atomic_load(&st->bulk_files);
    out->wal_syncs = atomic_load(&st->wal_syncs);
    out->wal_sync_us = atomic_load(&st->wal_sync_us);
    out->wal_sync_max_us = atomic_load(&st->wal_sync_max_us);
}
