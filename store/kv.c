/*
 * kv.c - the generic record API (store.h "generic records") over the lineage,
 * audit and jobs column families. Thin by design: modules above keep their own
 * key layouts; this file only maps spaces to column families and RocksDB's
 * error strings to strata_err.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/store_int.h"

struct store_iter {
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ro;
};

static enum store_cf space_cf(store_space sp)
{
    switch (sp) {
    case STORE_SPACE_LINEAGE:
        return CF_LINEAGE;
    case STORE_SPACE_AUDIT:
        return CF_AUDIT;
    case STORE_SPACE_JOBS:
        return CF_JOBS;
    }
    STRATA_ASSERT(!"unknown store space");
    return CF_DEFAULT;
}

/*
 * RocksDB keeps per-thread perf-context counters, on by default
 * (kEnableCount): every key comparison in a memtable insert or lookup bumps
 * one, and through Debian's shared librocksdb each bump costs two
 * __tls_get_addr calls — 15% of a lineage write. Strata reads no perf
 * context, so each thread turns the counting off before its first call into
 * RocksDB here, on the online read and write paths (store.c) and before an
 * export's scans (pit.c, ids.c): store_quiet_perf_context in store_int.h.
 */
static _Thread_local bool perf_quiet;

void store_quiet_perf_context(void)
{
    if (!perf_quiet) {
        rocksdb_set_perf_level(1); /* rocksdb::kDisable */
        perf_quiet = true;
    }
}

/* Batches are built before the store is known (and may be built by code that
 * has none), so they record the column family and resolve its handle at
 * commit. Keys and values are appended to one arena; ops hold offsets into it.
 * store_write stages its values and latest-row operands here too. */
typedef struct staged {
    enum store_cf cf;
    enum store_op op;
    size_t ord; /* staging position */
    size_t koff, klen, voff, vlen;
} staged;

struct store_batch {
    staged *ops;
    size_t n, cap;
    buf bytes;
};

store_batch *store_batch_new(void)
{
    store_batch *b = calloc(1, sizeof *b);
    STRATA_ASSERT(b != NULL);
    return b;
}

void store_batch_stage(store_batch *b, enum store_cf cf, enum store_op op, slice key, slice val)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        staged *ops = realloc(b->ops, cap * sizeof *ops);
        STRATA_ASSERT(ops != NULL);
        b->ops = ops;
        b->cap = cap;
    }
    staged *o = &b->ops[b->n++];
    o->cf = cf;
    o->op = op;
    o->ord = b->n - 1;
    o->koff = b->bytes.n;
    o->klen = key.n;
    buf_append_slice(&b->bytes, key);
    o->voff = b->bytes.n;
    o->vlen = val.n;
    buf_append_slice(&b->bytes, val);
}

void store_batch_put(store_batch *b, store_space sp, slice key, slice val)
{
    store_batch_stage(b, space_cf(sp), STORE_OP_PUT, key, val);
}

void store_batch_delete(store_batch *b, store_space sp, slice key)
{
    store_batch_stage(b, space_cf(sp), STORE_OP_DELETE, key, (slice){NULL, 0});
}

size_t store_batch_count(const store_batch *b)
{
    return b->n;
}

/* (column family, key), then staging order: a stable order, so when one key
 * is staged twice the later op is still applied last and wins. */
static int staged_cmp(const void *x, const void *y, void *arg)
{
    const staged *a = x, *b = y;
    const char *bytes = arg;
    if (a->cf != b->cf)
        return a->cf < b->cf ? -1 : 1;
    int c = slice_cmp((slice){bytes + a->koff, a->klen}, (slice){bytes + b->koff, b->klen});
    if (c)
        return c;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

/*
 * The ops go to RocksDB in key order. A memtable insert starts from where the
 * previous one landed (its "splice") when the new key sorts right after it,
 * and from the top of the skiplist otherwise; a batch of keys staged in
 * arbitrary order pays the full search for nearly every key. Sorting makes
 * neighbours (a node's record and the next id's, the events of one new
 * execution) cheap. qsort_r is not stable, hence the tie-break on staging order;
 * the ops are sorted in place, which the batch's owner never observes.
 */
void store_batch_apply(store_t *st, store_batch *b, rocksdb_writebatch_t *wb)
{
    if (b->n > 1)
        qsort_r(b->ops, b->n, sizeof *b->ops, staged_cmp, b->bytes.p);
    for (size_t i = 0; i < b->n; i++) {
        const staged *o = &b->ops[i];
        const char *k = b->bytes.p + o->koff, *v = b->bytes.p + o->voff;
        rocksdb_column_family_handle_t *cf = st->cf[o->cf];
        switch (o->op) {
        case STORE_OP_PUT:
            rocksdb_writebatch_put_cf(wb, cf, k, o->klen, v, o->vlen);
            break;
        case STORE_OP_MERGE:
            rocksdb_writebatch_merge_cf(wb, cf, k, o->klen, v, o->vlen);
            break;
        case STORE_OP_DELETE:
            rocksdb_writebatch_delete_cf(wb, cf, k, o->klen);
            break;
        }
    }
}

int store_batch_commit(store_t *st, store_batch *b, bool sync, strata_err *err)
{
    int rc = store_check_writable(st, err);
    if (rc)
        return rc;
    store_quiet_perf_context();
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    store_batch_apply(st, b, wb);
    char *rerr = NULL;
    rocksdb_write(st->db, sync ? st->wo_sync : st->wo_data, wb, &rerr);
    rocksdb_writebatch_destroy(wb);
    return rerr ? store_rdb_err(err, rerr, "writing records") : 0;
}

void store_batch_free(store_batch *b)
{
    if (!b)
        return;
    free(b->ops);
    buf_free(&b->bytes);
    free(b);
}

store_snapshot *store_snapshot_take(store_t *st)
{
    store_snapshot *s = calloc(1, sizeof *s);
    STRATA_ASSERT(s != NULL);
    s->snap = store_snap_create(st);
    return s;
}

void store_snapshot_release(store_t *st, store_snapshot *snap)
{
    if (!snap)
        return;
    store_snap_release(st, snap->snap);
    free(snap);
}

int store_kv_get(store_t *st, store_space sp, const store_snapshot *snap, slice key, buf *val,
                 strata_err *err)
{
    rocksdb_readoptions_t *ro = st->ro_get;
    rocksdb_readoptions_t *own = NULL;
    store_quiet_perf_context();
    if (snap) {
        own = rocksdb_readoptions_create();
        rocksdb_readoptions_set_snapshot(own, snap->snap);
        ro = own;
    }
    char *rerr = NULL;
    size_t vlen = 0;
    char *v = rocksdb_get_cf(st->db, ro, st->cf[space_cf(sp)], key.p, key.n, &vlen, &rerr);
    rocksdb_readoptions_destroy(own);
    if (rerr)
        return store_rdb_err(err, rerr, "reading a record");
    if (!v)
        return STRATA_NOT_FOUND;
    buf_append(val, v, vlen);
    rocksdb_free(v);
    return 0;
}

store_iter *store_iter_open(store_t *st, store_space sp, const store_snapshot *snap)
{
    store_iter *it = calloc(1, sizeof *it);
    STRATA_ASSERT(it != NULL);
    store_quiet_perf_context();
    it->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(it->ro, 1);
    if (snap)
        rocksdb_readoptions_set_snapshot(it->ro, snap->snap);
    it->it = rocksdb_create_iterator_cf(st->db, it->ro, st->cf[space_cf(sp)]);
    return it;
}

void store_iter_seek(store_iter *it, slice key)
{
    rocksdb_iter_seek(it->it, key.p, key.n);
}

void store_iter_seek_prev(store_iter *it, slice key)
{
    rocksdb_iter_seek_for_prev(it->it, key.p, key.n);
}

void store_iter_seek_last(store_iter *it)
{
    rocksdb_iter_seek_to_last(it->it);
}

bool store_iter_valid(const store_iter *it)
{
    return rocksdb_iter_valid(it->it);
}

void store_iter_next(store_iter *it)
{
    rocksdb_iter_next(it->it);
}

void store_iter_prev(store_iter *it)
{
    rocksdb_iter_prev(it->it);
}

slice store_iter_key(const store_iter *it)
{
    size_t n = 0;
    const char *p = rocksdb_iter_key(it->it, &n);
    return (slice){p, n};
}

slice store_iter_value(const store_iter *it)
{
    size_t n = 0;
    const char *p = rocksdb_iter_value(it->it, &n);
    return (slice){p, n};
}

int store_iter_status(const store_iter *it, strata_err *err)
{
    char *rerr = NULL;
    rocksdb_iter_get_error(it->it, &rerr);
    return rerr ? store_rdb_err(err, rerr, "scanning records") : 0;
}

void store_iter_close(store_iter *it)
{
    if (!it)
        return;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ro);
    free(it);
}
