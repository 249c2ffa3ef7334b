/*
 * store_int.h - private declarations shared by the store's modules
 * (store.c, registry.c, latest.c). Nothing outside store/ includes this,
 * except the store's own unit tests.
 *
 * Locks, always taken in this order (never the reverse):
 *   data_lock (rwlock)  writes take it shared, deletes exclusive: a delete that
 *                       rebuilds a latest row with a Put must not interleave
 *                       with a merge that Put would silently discard.
 *   reg_mu   (mutex)    serialises registry mutations and the id counters.
 *   snap_mu  (mutex)    guards only the pointer swap of the current snapshot
 *                       and the refcount increment of store_registry_acquire.
 *   seq_mu   (mutex)    serialises persisting a new seq reservation ceiling.
 *   bulk_mu  (mutex)    guards the count of bulk writers (store_bulk_begin);
 *                       taken alone.
 *   load_lock (rwlock)  a bulk load's ingests shared (inside data_lock),
 *                       a checkpoint exclusively (alone).
 *
 * DeleteRange and the row cache: RocksDB 7.8 serves a row-cache hit on a table
 * file without that file's range tombstones, and a MultiGet can reach an
 * older file's cached row past a newer DeleteRange (upstream issue 4122).
 * Column families read by Get/MultiGet (`latest`, `meta`, lineage, jobs)
 * therefore take DeleteRange only over keys no reader can name again: the
 * force delete of an entity, whose id is never reused. Anything else deletes
 * key by key.
 */
#ifndef STRATA_STORE_STORE_INT_H
#define STRATA_STORE_STORE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include <rocksdb/c.h>

#include "store/keys.h"
#include "store/store.h"

/* Bumped when an on-disk layout changes incompatibly; store_open refuses a
 * data directory written with a newer layout than it knows.
 *   1  one `values` key per feature value
 *   2  write groups (keys.h): the first write to a layout-1 directory fixes
 *      every existing feature's group to itself, which reads its keys as they
 *      are, and records layout 2. Until then it reads as it is. */
#define STORE_LAYOUT_VERSION 2u

enum store_cf {
    CF_DEFAULT,
    CF_REGISTRY,
    CF_VALUES,
    CF_LATEST,
    CF_META,
    CF_LINEAGE,
    CF_AUDIT,
    CF_JOBS,
    CF_COUNT
};

/* Names in enum store_cf order. */
extern const char *const store_cf_names[CF_COUNT];

struct registry {
    _Atomic size_t refs;
    entity_def *ents; /* sorted by name once indexed */
    size_t nents, ents_cap;
    feature_def *feats; /* sorted by (entity id, name) once indexed */
    size_t nfeats, feats_cap;
    const feature_def **by_name; /* per entity runs; entity_def.features point here */
    const feature_def **feat_by_id;
    const entity_def **ent_by_id;
    /* Write groups of deleted features, (feature id, entity id, group) sorted
     * by feature id: a snapshot taken before a delete still holds their cells
     * in set rows, and feature ids are never reused, so their 'G' records stay
     * until their entity is deleted. */
    uint32_t *gone;
    size_t ngone;
};

struct store {
    char *path; /* the database: the data directory, or a replica's primary */
    store_sync sync;
    bool read_only;
    char *secondary_path; /* replica: its own scratch directory; else NULL */

    rocksdb_t *db;
    rocksdb_options_t *db_opts;
    rocksdb_options_t *cf_opts[CF_COUNT]; /* own the merge operator, prefix extractor */
    rocksdb_column_family_handle_t *cf[CF_COUNT];
    /* Column families found on disk that this version does not know: opened
     * (RocksDB insists) and left alone. */
    size_t nextra;
    rocksdb_column_family_handle_t **extra_cf;
    rocksdb_options_t *extra_opts;
    rocksdb_cache_t *cache;
    rocksdb_cache_t *row_cache; /* NULL without one */

    rocksdb_writeoptions_t *wo_data;  /* WAL on; fsync per store_options.sync */
    rocksdb_writeoptions_t *wo_sync;  /* registry, deletes, seq ceiling: always fsync */
    rocksdb_readoptions_t *ro_get;    /* point lookups */
    rocksdb_readoptions_t *ro_prefix; /* one (entity, id, feature): prefix bloom */
    rocksdb_readoptions_t *ro_total;  /* scans across prefixes */

    bool locks_ready;
    pthread_rwlock_t data_lock;
    pthread_mutex_t reg_mu;
    pthread_mutex_t snap_mu;
    pthread_mutex_t seq_mu;

    _Atomic uint32_t layout; /* the data directory's (store_groups_upgrade raises it) */
    registry_t *snap;        /* current snapshot; the store holds one reference */
    uint32_t next_entity_id; /* under reg_mu */
    uint32_t next_feature_id;

    _Atomic uint64_t next_seq;
    _Atomic uint64_t seq_ceiling; /* first seq not yet persisted as reserved */
    _Atomic uint64_t values_written;
    _Atomic uint64_t wal_syncs;
    _Atomic uint64_t wal_sync_us, wal_sync_max_us;

    /* Background thread (store.c): the WAL fsync of STORE_SYNC_BATCH and a
     * replica's periodic catch-up. Stopped and joined by store_close. */
    bool bg_running;
    bool bg_stop; /* under bg_mu */
    pthread_t bg_thread;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;
    uint32_t sync_interval_ms;
    uint32_t catch_up_ms;
    /* Replica: catch-ups take it exclusively, snapshots shared. */
    pthread_rwlock_t catch_up_lock;
    /* store_bulk_begin/end: running bulk writers (imports), under bulk_mu. */
    pthread_mutex_t bulk_mu;
    /* Bulk loads hold it shared across their ingests, checkpoints
     * exclusively: a checkpoint never holds half a load. */
    pthread_rwlock_t load_lock;
    unsigned bulk_writers;
    bool bulk_switched; /* `latest` switched memtables since the count went off */
    /* bulk.c: table-file loads (read-write stores only). */
    rocksdb_options_t *bulk_opts[CF_COUNT]; /* SstFileWriter's, per loaded family */
    rocksdb_envoptions_t *bulk_env;
    rocksdb_ingestexternalfileoptions_t *bulk_io;
    _Atomic uint64_t bulk_files; /* table files ingested since open */
    /* A load half in whose rest could not be written: writes are refused
     * until a restart finishes it (a delete meanwhile could be undone). */
    _Atomic bool load_unfinished;
    /* Tests: a load returns after this many ingests, leaving its set as a
     * crash there would (0: off). */
    unsigned bulk_test_stop;
    /* Tests: called between a load's files and its commit (lock released). */
    void (*bulk_test_between)(void *arg);
    void *bulk_test_arg;
};

struct store_snapshot {
    const rocksdb_snapshot_t *snap;
};

/* ---- kv.c: staged batches, sorted by (column family, key) when applied ---- */

enum store_op { STORE_OP_PUT, STORE_OP_MERGE, STORE_OP_DELETE };
/* Copy one op into the batch (store.h store_batch). */
void store_batch_stage(store_batch *b, enum store_cf cf, enum store_op op, slice key, slice val);
/* Sort the ops by (column family, key, staging order) and add them to wb. */
void store_batch_apply(store_t *st, store_batch *b, rocksdb_writebatch_t *wb);
/* The sort alone, and op i of the batch (borrowed until the batch changes). */
void store_batch_sort(store_batch *b);
void store_batch_op(const store_batch *b, size_t i, enum store_cf *cf, enum store_op *op,
                    slice *key, slice *val);
/* Empty the batch, keeping its memory for the next ops. */
void store_batch_reset(store_batch *b);
/* Ask the CPU for op i's key and value (no-op past the end): a sorted batch
 * visits its staged bytes out of order, and a load of a million ops misses
 * the cache on nearly every one unless they are fetched ahead. */
void store_batch_prefetch(const store_batch *b, size_t i);

/* ---- bulk.c: batches loaded as table files ------------------------------- */

/* The staging directory under the data directory (check_foreign_dir). */
#define STORE_BULK_DIR "ingest"
/* A load of the ops of b (PUT and MERGE only) as one table file per column
 * family, in two steps:
 *   store_bulk_prepare  sorts b and writes the files (no lock needed: nothing
 *                       is visible, and a crash leaves files the next open
 *                       deletes); name is unique to the load (its first seq)
 *   store_bulk_commit   under data_lock shared: records the set as whole (the
 *                       marker) and ingests it in column family order; from
 *                       the marker on, the next open finishes what an error
 *                       or a crash left half-ingested (store_bulk_pending)
 *   store_bulk_abandon  instead of commit: the files go. */
typedef struct store_load {
    size_t nfiles;
    enum store_cf cfs[2];
    size_t ranges[2][2]; /* each file's ops in the sorted batch */
    char paths[2][PATH_MAX + 64];
    char ready[PATH_MAX + 64];
    char dir[PATH_MAX];
} store_load;
int store_bulk_prepare(store_t *st, store_batch *b, uint64_t name, store_load *ld, strata_err *err);
int store_bulk_commit(store_t *st, const store_batch *b, store_load *ld, strata_err *err);
void store_bulk_abandon(store_load *ld);
/* write_global_seqno off on a loads' ingest options (rocksdb_ext.cc). */
void store_ingest_options_keep_files(rocksdb_ingestexternalfileoptions_t *opt);
/* The loads' writer options (after cf_opts) and their release (NULL-safe). */
void store_bulk_init(store_t *st);
void store_bulk_fini(store_t *st);
/* Finish every load a crash left half-ingested and remove incomplete sets
 * (store_open, read-write). */
int store_bulk_pending(store_t *st, strata_err *err);

/* ---- store.c helpers ---------------------------------------------------- */

/* A consistent view for multi-key reads. A replica's secondary instance has
 * no snapshots: there it is NULL (the latest view) and catch-ups wait until
 * it is released, so the view still does not move. */
const rocksdb_snapshot_t *store_snap_create(store_t *st);
void store_snap_release(store_t *st, const rocksdb_snapshot_t *snap);

/* Convert a RocksDB error string (freed here) into err with "<what>: <msg>";
 * returns STRATA_CORRUPT, STRATA_IO or STRATA_INTERNAL by the message's class. */
int store_rdb_err(strata_err *err, char *rerr, const char *what);
/* Turn RocksDB's per-thread perf-context counting off for the calling thread
 * (once per thread; store/kv.c says why): bulk readers call it before their
 * iterators walk, on the thread that will walk them. */
void store_quiet_perf_context(void);
/* STRATA_FAILED_PRECONDITION when the store was opened read-only. */
int store_check_writable(const store_t *st, strata_err *err);
/*
 * Walk every version of one entity; delete (into wb) those whose feature is in
 * fids (sorted, unique) and, unless all_times, whose event_time is in
 * [start, end). Every id that lost a version gets its latest row rebuilt from
 * what remains (Put, or Delete when nothing remains) in the same batch.
 * Caller holds data_lock exclusively. *deleted is incremented per version.
 */
int store_scan_delete(store_t *st, rocksdb_writebatch_t *wb, uint32_t entity_id,
                      const uint32_t *fids, size_t nf, bool all_times, int64_t start, int64_t end,
                      slice from, size_t max_keys, buf *next, uint64_t *deleted, strata_err *err);
/* Remove deleted feature fid's versions from entity eid in chunks (data_lock
 * taken per chunk), then its 'P' record; stops early, with success, if the
 * entity goes meanwhile. Idempotent. (registry.c) */
int store_purge_feature(store_t *st, uint32_t eid, uint32_t fid, uint64_t *deleted,
                        strata_err *err);
/* Finish every purge a 'P' record says is due (store_open). */
int store_purge_pending(store_t *st, strata_err *err);
/* store_feature_delete; with purge false it leaves the versions and the 'P'
 * record as a delete cut short by a crash would (tests). */
int store_feature_delete_ex(store_t *st, slice entity, slice feature, bool purge, strata_err *err);
/* True when any version is stored for the entity (one Seek). */
int store_entity_has_values(store_t *st, uint32_t entity_id, bool *has, strata_err *err);

/* ---- registry.c --------------------------------------------------------- */

/* The group a feature's versions are stored under (keys.h): a feature never
 * written yet reads its own (empty) group. */
static inline uint32_t store_feature_group(const feature_def *f)
{
    return f->group ? f->group : f->id;
}
/* The group of feature feature_id of the entity in reg, deleted features
 * included; its own id when reg knows none. Readers acquire reg after their
 * snapshot, so every group their view holds values under is known to it. */
uint32_t store_registry_group(const registry_t *reg, uint32_t entity_id, uint32_t feature_id);
/* The value of feature f in a `values` entry of group g: 1 with *out (borrowed
 * from val), 0 when the row has no cell of f, -1 when it is malformed. */
static inline int store_group_cell(uint32_t g, uint32_t f, slice val, slice *out)
{
    if (!store_group_is_set(g)) {
        *out = val;
        return 1;
    }
    return store_cells_find(val, f, out);
}
/* Fix the write group of every feature in rows that has none yet: the
 * features one write (a request, an import's batch) carries for the first time
 * share a new set group when there are two or more of them and the entity has
 * fewer than LIMIT_SET_GROUPS_PER_ENTITY; otherwise each gets its own. Rows of
 * a CSV import with empty cells thus still land in one group. Persisted (fsync)
 * and published before the caller writes under them. Caller holds data_lock
 * shared, not reg_mu. Unknown features are left for the caller to refuse. */
int store_groups_assign(store_t *st, uint32_t entity_id, const write_row *rows, size_t nrows,
                        strata_err *err);
/* Layout 1 -> 2 (STORE_LAYOUT_VERSION), by store_write before the first write
 * to a layout-1 directory: every feature without a group gets its own, in the
 * same synced batch as the layout record. Caller holds data_lock shared, not
 * reg_mu; a no-op once done. */
int store_groups_upgrade(store_t *st, strata_err *err);

/* Read every registry record into a new indexed snapshot (refs = 1) and the
 * highest ids seen. CORRUPT for a record that does not parse. */
int store_registry_load(store_t *st, registry_t **out, uint32_t *max_entity, uint32_t *max_feature,
                        strata_err *err);
void store_registry_free(registry_t *reg);
/* Publish a new snapshot; the store's reference to the old one is dropped. */
void store_registry_install(store_t *st, registry_t *next);

/* ---- latest.c: the latest-row codec and merge operator -------------------
 *
 *   row  := format u8 (= STORE_ROW_FORMAT) | cell*   cells sorted by feature id
 *   cell := feature u32 LE | event_time i64 LE | created_time i64 LE |
 *           seq u64 LE | value length u32 LE | value bytes
 *
 * What a write merges is a fragment: one written row, whose cells share its
 * times, stored once (layout 2):
 *   frag := format u8 (= STORE_FRAG_FORMAT) | event_time i64 LE |
 *           created_time i64 LE | seq u64 LE | fcell*   features strictly ascending
 *   fcell := varint feature id | varint n | n bytes
 * Both decode to the same cells; a merge of several writes comes out as a row.
 */
#define STORE_ROW_FORMAT 1u
#define STORE_ROW_CELL_HDR 32u
#define STORE_FRAG_FORMAT 2u
#define STORE_FRAG_HDR 25u

void store_row_begin(buf *b);
void store_row_add(buf *b, const version *v);
void store_frag_begin(buf *b, int64_t event_time, int64_t created_time, uint64_t seq);
/* Features in strictly ascending order. */
void store_frag_add(buf *b, uint32_t feature_id, slice value);
/* Decode a row, copying it into row->storage; STRATA_CORRUPT when malformed
 * (cells out of order, lengths past the end, unknown format). */
int store_row_decode(slice enc, latest_row *row, strata_err *err);
/* Merge rows/fragments: per feature keep the newest version (store_version_cmp,
 * ties broken by value bytes so the result never depends on operand order).
 * Appends one row to out; -1 (out unchanged) when an input is malformed or
 * memory runs out. */
int store_row_merge(const char *const *ops, const size_t *lens, size_t n, buf *out);
/* The `latest` CF's merge operator (full and partial merge = store_row_merge).
 * Ownership passes to the options it is set on. */
rocksdb_mergeoperator_t *store_latest_merge_operator(void);

#endif
