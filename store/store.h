/*
 * store.h - Strata's storage engine: one RocksDB database with column families
 * for the registry, every feature-value version, the per-entity latest row,
 * and (later) lineage, audit and jobs.
 *
 * Threading: a store_t is shared by all threads. Registry reads go through an
 * immutable, reference-counted snapshot (store_registry_acquire/release), so the
 * online path never takes a lock held by a registry change. Writes are blind:
 * one WriteBatch per call (atomic), values put under their version key and a
 * merge operand folded into the entity's latest row.
 *
 * Time is int64 microseconds since the epoch (base/timeutil.h).
 *
 * Ownership: functions that hand back buffers say so; `slice` arguments are
 * borrowed for the duration of the call only.
 */
#ifndef STRATA_STORE_STORE_H
#define STRATA_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "store/value.h"

typedef struct store store_t;

/*
 * When an acknowledged write reaches the disk (docs/operations.md, "Sync
 * modes", has the measured cost of each):
 *   NEVER   the WAL is written (write(2)) before the answer, never fsynced by
 *           the write: survives kill -9 and a daemon crash; a power loss or
 *           kernel crash may lose what the OS had not written back yet.
 *   BATCH   as NEVER, and a background thread fsyncs the WAL every
 *           sync_interval_ms: a power loss loses at most the last interval.
 *   ALWAYS  the WAL is fsynced before the answer (RocksDB groups concurrent
 *           writers into one fsync): nothing acknowledged is ever lost.
 * Registry changes, value deletes, job state changes and model registry
 * changes are fsynced whatever the mode; a clean close fsyncs the WAL too.
 */
typedef enum store_sync {
    STORE_SYNC_NEVER,
    STORE_SYNC_ALWAYS,
    STORE_SYNC_BATCH,
} store_sync;

/* How the WAL is replayed at open (RocksDB's WAL recovery mode). */
typedef enum store_wal_recovery {
    /* A torn last record (power loss mid-append) is dropped; any other damage
     * refuses the open, so acknowledged writes are never dropped silently. */
    STORE_WAL_STRICT,
    /* Replay stops at the first damaged record and drops everything after it:
     * an operator's choice, after a power loss that left the WAL damaged. */
    STORE_WAL_SALVAGE,
} store_wal_recovery;

typedef struct store_options {
    const char *path;        /* data directory; created if missing */
    store_sync sync;
    size_t block_cache_bytes; /* 0 = default (256 MiB) */
    bool read_only;           /* open for inspection only */
    uint32_t sync_interval_ms; /* STORE_SYNC_BATCH: 0 = default (100) */
    store_wal_recovery wal_recovery;
    /* Read every SST block once (checksums) before returning: a corrupt file
     * refuses the open instead of failing reads later. */
    bool verify;
    /* Read replica: open the primary's data directory `secondary_of` as a
     * RocksDB secondary instance (read-only; `path` is a scratch directory
     * for its own info log), catching up every catch_up_ms (0 = never by
     * itself; store_catch_up does it on demand). */
    const char *secondary_of;
    uint32_t catch_up_ms;
    /* RocksDB's row cache for point Gets (online reads of `latest`, lineage
     * and job lookups): 0 = none. Only Put, Delete and Merge may change what
     * Gets read: RocksDB 7.8 can serve a cached row over a DeleteRange
     * (store_int.h). */
    size_t row_cache_bytes;
} store_options;

int store_open(const store_options *opt, store_t **out, strata_err *err);
/* Fsyncs the WAL (a clean stop loses nothing in any sync mode) and closes;
 * NULL is a no-op. */
void store_close(store_t *st);
/* True for a read-only or replica (secondary) store: every write is refused. */
bool store_is_read_only(const store_t *st);
bool store_is_replica(const store_t *st);

/* ---- maintenance -------------------------------------------------------- */

/* Read every record of every column family with checksums verified and
 * without filling the block cache. 0 with *records counted, or CORRUPT/IO
 * naming the column family. */
int store_verify(store_t *st, uint64_t *records, strata_err *err);
/* A RocksDB checkpoint of the whole store (every column family, consistent:
 * memtables are flushed, SST files hard-linked when on the same filesystem)
 * into dir, which must not exist; its parent must. Restoring = opening dir. */
int store_checkpoint(store_t *st, const char *dir, strata_err *err);
/* Replica: apply what the primary wrote since the last catch-up and reload
 * the registry when it changed. FAILED_PRECONDITION on a primary. */
int store_catch_up(store_t *st, strata_err *err);

/* ---- registry ----------------------------------------------------------- */

typedef struct feature_def {
    uint32_t id;        /* unique in the store, never reused */
    uint32_t entity_id;
    char name[65];
    value_type type;
    int64_t ttl_seconds; /* 0 = never expires */
    char *description;   /* never NULL */
    json_t *labels;      /* JSON object, never NULL */
    int64_t create_time;
    int64_t update_time;
    /* Its write group (store/keys.h), fixed by its first write; 0 until then. */
    uint32_t group;
} feature_def;

typedef struct entity_def {
    uint32_t id; /* unique in the store, never reused */
    char name[65];
    char *description;
    json_t *labels;
    int64_t create_time;
    int64_t update_time;
    size_t nfeatures;
    const feature_def **features; /* sorted by name */
} entity_def;

/* An immutable view of the registry; valid until released. */
typedef struct registry registry_t;

const registry_t *store_registry_acquire(store_t *st);
void store_registry_release(store_t *st, const registry_t *reg);

size_t registry_entity_count(const registry_t *reg);
const entity_def *registry_entity_at(const registry_t *reg, size_t i); /* sorted by name */
const entity_def *registry_entity(const registry_t *reg, slice name);  /* NULL if unknown */
/* Lookup by id, for decoding stored keys; NULL if unknown or deleted. */
const entity_def *registry_entity_by_id(const registry_t *reg, uint32_t entity_id);
const feature_def *registry_feature(const entity_def *e, slice name);   /* NULL if unknown */
/* Lookup by id, for decoding stored rows; NULL if the feature was deleted. */
const feature_def *registry_feature_by_id(const registry_t *reg, uint32_t feature_id);

typedef struct feature_spec {
    slice name;
    value_type type;
    int64_t ttl_seconds;
    slice description;
    json_t *labels; /* borrowed; NULL = {} */
} feature_spec;

/* Each returns 0, or INVALID_ARGUMENT / NOT_FOUND / ALREADY_EXISTS /
 * FAILED_PRECONDITION with a message naming the problem (RESOURCE_EXHAUSTED
 * when an entity would exceed LIMIT_FEATURES_PER_ENTITY or ids run out).
 * Strings and labels are copied; the registry's JSON (labels) is read-only. */
int store_entity_create(store_t *st, slice name, slice description, json_t *labels,
                        strata_err *err);
/* Without force, FAILED_PRECONDITION if any value is stored for the entity.
 * With force, its values and latest rows are removed too. */
int store_entity_delete(store_t *st, slice name, bool force, strata_err *err);
/* All or nothing: one bad or duplicate spec and none is created. */
int store_features_create(store_t *st, slice entity, const feature_spec *specs, size_t n,
                          strata_err *err);
/* NULL description/labels/ttl mean "keep". */
int store_feature_update(store_t *st, slice entity, slice feature, const slice *description,
                         json_t *labels, const int64_t *ttl_seconds, strata_err *err);
/* Removes the definition and every stored version of the feature. */
int store_feature_delete(store_t *st, slice entity, slice feature, strata_err *err);

/* ---- writes ------------------------------------------------------------- */

typedef struct write_cell {
    uint32_t feature_id;
    slice value; /* encoded with value_encode_* (store/value.h) */
} write_cell;

typedef struct write_row {
    slice entity_id;
    int64_t event_time;
    int64_t created_time;
    size_t ncells;
    const write_cell *cells;
} write_row;

/* One atomic WriteBatch: every cell kept as a version, latest rows merged.
 * Each row gets the next write sequence number, in array order. */
int store_write(store_t *st, uint32_t entity_id, const write_row *rows, size_t nrows,
                strata_err *err);

typedef struct store_scratch store_scratch;

/* store_write for big batches (an import's commits): the same checks, keys
 * and values, loaded as one sorted table file per column family and ingested
 * (no WAL, no memtable, no later flush of them; docs/architecture.md "Bulk
 * loads"). Durable when it returns, whatever the sync mode. Readers may see
 * the new versions a moment before the latest rows. A stop between the two
 * ingests is finished by the next open. Costs a table file or two: for
 * batches of tens of thousands of values and up. */
int store_write_ingest(store_t *st, uint32_t entity_id, const write_row *rows, size_t nrows,
                       store_scratch *scratch, strata_err *err);
/* store_write_ingest in two steps, for a caller that stages the next batch
 * while the previous one finishes on another thread. store_load_stage makes
 * the checks, keys and values (under the store's lock, like a write; nothing
 * visible, *out NULL for no rows); store_load_finish sorts them, writes and
 * ingests the files and frees the load, store_load_drop abandons it (nothing
 * of it lands; write groups its features got at the staging stay, and its
 * write sequence numbers stay used). The rows' memory (and scratch) must stay
 * as it is until then. */
typedef struct store_staged_load store_staged_load;
int store_load_stage(store_t *st, uint32_t entity_id, const write_row *rows, size_t nrows,
                     store_scratch *scratch, store_staged_load **out, strata_err *err);
int store_load_finish(store_t *st, store_staged_load *sl, strata_err *err);
void store_load_drop(store_t *st, store_staged_load *sl); /* NULL ok */

/* Working memory a caller loading batch after batch hands to each
 * store_write_ingest (NULL: fresh memory each time): a load's buffers are
 * tens of MiB, and new pages for every batch cost their faults again. Not
 * for two loads at once. */
store_scratch *store_scratch_new(void);
void store_scratch_free(store_scratch *s); /* NULL ok */

/* Around a bulk load (an import job): while any runs, `latest` memtables
 * created from then on do not make a write count the operands its id already
 * has (RocksDB's max_successive_merges, 8 otherwise: docs/architecture.md
 * "`latest` key and row"). That count is a memtable search per written row, a
 * sixth of an import's time. RocksDB applies the setting when it creates a
 * memtable, so a load of expected_bytes >= STORE_BULK_SWITCH_BYTES (the
 * source's size) switches `latest` to a new memtable (a flush, not waited
 * for) unless one was switched already, and the last end switches back; a
 * smaller load leaves the memtable as it is (the count costs it little; a
 * switch would cost a small table file). Online writes to an id during the
 * bulk load fold its operands on read instead. Nestable; no-ops on a
 * read-only store. */
#define STORE_BULK_SWITCH_BYTES ((uint64_t)8 << 20)
void store_bulk_begin(store_t *st, uint64_t expected_bytes);
void store_bulk_end(store_t *st);

/* Delete every version and the latest row of each id; *deleted = versions removed. */
int store_delete_ids(store_t *st, uint32_t entity_id, const slice *ids, size_t n,
                     uint64_t *deleted, strata_err *err);
/* Delete versions of the features with start <= event_time < end, for all ids,
 * and rebuild the affected latest rows from what remains. */
int store_delete_range(store_t *st, uint32_t entity_id, const uint32_t *feature_ids, size_t n,
                       int64_t start, int64_t end, uint64_t *deleted, strata_err *err);

/* ---- reads -------------------------------------------------------------- */

typedef struct version {
    uint32_t feature_id;
    int64_t event_time;
    int64_t created_time;
    uint64_t seq;
    slice value; /* encoded; borrowed from the owning buffer */
} version;

/* The newest version of each feature of one entity id, as online reads see it. */
typedef struct latest_row {
    size_t n;
    version *cells; /* sorted by feature_id */
    buf storage;    /* owns the bytes behind cells[].value */
} latest_row;

/* Contract order: <0 when a is older than b, >0 when newer, 0 for the same
 * (event_time, created_time, seq). Compares versions of one feature. */
int store_version_cmp(const version *a, const version *b);

/* A latest_row must start zeroed ({0}); reads refill it, reusing its memory,
 * and latest_row_free releases it (the row stays reusable). */
void latest_row_free(latest_row *row);
/* Find a feature's cell in a row; NULL when absent. */
const version *latest_row_find(const latest_row *row, uint32_t feature_id);

/* 0 with row filled (n may be 0 when the id has no values). */
int store_latest_get(store_t *st, uint32_t entity_id, slice id, latest_row *row,
                     strata_err *err);
/* Batched form: rows[i] for ids[i]; one RocksDB MultiGet. */
int store_latest_multiget(store_t *st, uint32_t entity_id, const slice *ids, size_t n,
                          latest_row *rows, strata_err *err);

/*
 * Point-in-time read: the newest version (contract order) of one feature for
 * one id with event_time <= ts, event_time >= ts - ttl_us when ttl_us > 0, and
 * created_time <= as_of (pass INT64_MAX for "no as_of"). 0 and *out filled, the
 * value copied into *valbuf (appended); STRATA_NOT_FOUND when none.
 */
int store_pit_get(store_t *st, uint32_t entity_id, slice id, uint32_t feature_id, int64_t ts,
                  int64_t ttl_us, int64_t as_of, version *out, buf *valbuf, strata_err *err);

/* Every version of one feature for one id, newest first (contract order);
 * the exports and tests walk history with it. */
typedef struct store_versions store_versions;
int store_versions_open(store_t *st, uint32_t entity_id, slice id, uint32_t feature_id,
                        store_versions **out, strata_err *err);
/* 1 and *v filled (borrowed until the next call), 0 at the end, <0 on error. */
int store_versions_next(store_versions *it, version *v, strata_err *err);
void store_versions_close(store_versions *it);

/* ---- generic records: lineage, audit, jobs --------------------------------
 *
 * Modules above the store keep their own records in column families of their
 * own through this small key-value API, so they never touch RocksDB directly.
 * Keys and values are opaque bytes; each module documents its layouts.
 */
typedef enum store_space {
    STORE_SPACE_LINEAGE,
    STORE_SPACE_AUDIT,
    STORE_SPACE_JOBS,
} store_space;

/* An atomic group of puts and deletes across spaces. */
typedef struct store_batch store_batch;
store_batch *store_batch_new(void);
void store_batch_put(store_batch *b, store_space sp, slice key, slice val);
void store_batch_delete(store_batch *b, store_space sp, slice key);
size_t store_batch_count(const store_batch *b);
/* Commit all or nothing; sync forces an fsync of the WAL whatever --sync says.
 * The batch stays owned by the caller (free it with store_batch_free). */
int store_batch_commit(store_t *st, store_batch *b, bool sync, strata_err *err);
void store_batch_free(store_batch *b); /* NULL ok */

/* A consistent point-in-time view for multi-key reads; NULL = latest. */
typedef struct store_snapshot store_snapshot;
store_snapshot *store_snapshot_take(store_t *st);
void store_snapshot_release(store_t *st, store_snapshot *snap); /* NULL ok */

/* Point read: 0 with the value appended to *val, or STRATA_NOT_FOUND. */
int store_kv_get(store_t *st, store_space sp, const store_snapshot *snap, slice key, buf *val,
                 strata_err *err);

/* Ordered iteration over one space. Keys/values are borrowed until the next
 * move or close. */
typedef struct store_iter store_iter;
store_iter *store_iter_open(store_t *st, store_space sp, const store_snapshot *snap);
void store_iter_seek(store_iter *it, slice key);      /* first key >= key */
void store_iter_seek_prev(store_iter *it, slice key); /* last key <= key */
void store_iter_seek_last(store_iter *it);
bool store_iter_valid(const store_iter *it);
void store_iter_next(store_iter *it);
void store_iter_prev(store_iter *it);
slice store_iter_key(const store_iter *it);
slice store_iter_value(const store_iter *it);
/* 0, or the iterator's error (e.g. corruption) once it stops being valid. */
int store_iter_status(const store_iter *it, strata_err *err);
void store_iter_close(store_iter *it); /* NULL ok */

/* ---- point-in-time merge scans (exports, training data) -----------------
 *
 * The same semantics as store_pit_get, for many (id, time) lookups: one
 * RocksDB iterator per write group of the requested features (store/keys.h)
 * walks forward through the entity's rows, so lookups that come in scan order
 * cost one Seek per (id, group) and a few Next() calls, never one Seek per
 * cell. Scan order: ids ascending by
 * store_id_cmp, and for one id times DEScending. Lookups out of that order
 * are still answered correctly (the iterator seeks again), only slower.
 * All lookups read one consistent view: the snapshot given, or one taken at
 * open.
 */
typedef struct store_pit_feature {
    uint32_t feature_id;
    int64_t ttl_us; /* 0 = no TTL window */
} store_pit_feature;

typedef struct store_pit_scan store_pit_scan;

/* as_of: only versions with created_time <= as_of (INT64_MAX = all). */
int store_pit_scan_open(store_t *st, uint32_t entity_id, const store_pit_feature *features,
                        size_t nfeatures, int64_t as_of, const store_snapshot *snap,
                        store_pit_scan **out, strata_err *err);
/* For each feature j: found[j] and out[j] (newest version with event_time <= ts,
 * inside the TTL window, visible at as_of). out[j].value is borrowed until the
 * next call. */
int store_pit_scan_get(store_pit_scan *sc, slice id, int64_t ts, version *out, bool *found,
                       strata_err *err);
void store_pit_scan_close(store_pit_scan *sc); /* NULL ok */
/* The order of ids in the store (shorter first, then bytes): sort lookups by it. */
int store_id_cmp(slice a, slice b);

/* ---- entity scans (exports: snapshot and history) ------------------------
 *
 * Whole-entity reads for exports, in store order (ids by store_id_cmp), over
 * one consistent view: the snapshot given, or one taken at open. They do not
 * fill the block cache, so a bulk export does not evict the online working
 * set. (store/ids.c)
 */
typedef struct store_entity_scan store_entity_scan;
/* Every id that holds any version of the entity, once each (the `latest` rows). */
int store_ids_scan_open(store_t *st, uint32_t entity_id, const store_snapshot *snap,
                        store_entity_scan **out, strata_err *err);
/* 1 with *id (borrowed until the next call), 0 at the end, <0 on error. */
int store_ids_scan_next(store_entity_scan *sc, slice *id, strata_err *err);
/* Every version of the entity, by id; within an id, each feature's versions
 * come newest first, the features of one write group (store/keys.h)
 * interleaved row by row, write groups one after another. */
int store_values_scan_open(store_t *st, uint32_t entity_id, const store_snapshot *snap,
                           store_entity_scan **out, strata_err *err);
/* 1 with *id and *v (both borrowed until the next call), 0 at the end, <0 on error. */
int store_values_scan_next(store_entity_scan *sc, slice *id, version *v, strata_err *err);
/* Skip ahead: the next store_values_scan_next returns the first version of the
 * first id >= id (store order). id must be a valid entity id (1..256 bytes). */
void store_values_scan_seek(store_entity_scan *sc, slice id);
void store_entity_scan_close(store_entity_scan *sc); /* NULL ok */

/* ---- stats -------------------------------------------------------------- */

typedef struct store_stats {
    uint64_t sst_bytes;
    uint64_t memtable_bytes;
    uint64_t values_written; /* since open */
    uint64_t loaded_files;   /* table files loaded by store_write_ingest since open */
    uint64_t wal_syncs;      /* background WAL fsyncs (sync = batch) since open */
    uint64_t wal_sync_us;    /* their time, summed */
    uint64_t wal_sync_max_us;
    /* RocksDB's backlog now: what makes writes wait. */
    uint64_t l0_files;             /* level-0 files, all column families */
    uint64_t l0_files_max;         /* the most in one column family (the stall trigger) */
    uint64_t immutable_memtables;  /* full memtables waiting for a flush */
    uint64_t pending_compaction_bytes;
    uint64_t running_flushes, running_compactions;
    uint64_t write_stopped;        /* 1 while RocksDB stops writes */
    uint64_t delayed_write_rate;   /* bytes/s while RocksDB slows writes, else 0 */
    /* RocksDB's memory now (memtables are memtable_bytes above). */
    uint64_t block_cache_bytes;        /* blocks in the shared LRU cache, up to its capacity */
    uint64_t block_cache_pinned_bytes; /* of those, held by open iterators and readers */
    uint64_t block_cache_capacity;
    uint64_t table_readers_bytes;      /* open table files' readers outside the cache */
    uint64_t row_cache_bytes;          /* rows in the row cache (0 without one) */
    uint64_t row_cache_capacity;
} store_stats;
void store_get_stats(store_t *st, store_stats *out);

#endif
