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

static rocksdb_column_family_handle_t *space_cf(store_t *st, store_space sp)
{
    switch (sp) {
    case STORE_SPACE_LINEAGE: return st->cf[CF_LINEAGE];
    case STORE_SPACE_AUDIT: return st->cf[CF_AUDIT];
    case STORE_SPACE_JOBS: return st->cf[CF_JOBS];
    }
    STRATA_ASSERT(!"unknown store space");
    return NULL;
}

/* Batches are built before the store is known (and may be built by code that
 * has none), so they record the space and resolve the column family at commit. */
typedef struct staged {
    store_space sp;
    bool del;
    char *key, *val;
    size_t klen, vlen;
} staged;

struct store_batch {
    staged *ops;
    size_t n, cap;
};

store_batch *store_batch_new(void)
{
    store_batch *b = calloc(1, sizeof *b);
    STRATA_ASSERT(b != NULL);
    return b;
}

static void stage(store_batch *b, store_space sp, bool del, slice key, slice val)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        staged *ops = realloc(b->ops, cap * sizeof *ops);
        STRATA_ASSERT(ops != NULL);
        b->ops = ops;
        b->cap = cap;
    }
    staged *o = &b->ops[b->n++];
    o->sp = sp;
    o->del = del;
    o->klen = key.n;
    o->vlen = val.n;
    o->key = malloc(key.n ? key.n : 1);
    o->val = malloc(val.n ? val.n : 1);
    STRATA_ASSERT(o->key && o->val);
    if (key.n)
        memcpy(o->key, key.p, key.n);
    if (val.n)
        memcpy(o->val, val.p, val.n);
}

void store_batch_put(store_batch *b, store_space sp, slice key, slice val)
{
    stage(b, sp, false, key, val);
}

void store_batch_delete(store_batch *b, store_space sp, slice key)
{
    stage(b, sp, true, key, (slice){NULL, 0});
}

size_t store_batch_count(const store_batch *b)
{
    return b->n;
}

int store_batch_commit(store_t *st, store_batch *b, bool sync, strata_err *err)
{
    int rc = store_check_writable(st, err);
    if (rc)
        return rc;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (size_t i = 0; i < b->n; i++) {
        staged *o = &b->ops[i];
        if (o->del)
            rocksdb_writebatch_delete_cf(wb, space_cf(st, o->sp), o->key, o->klen);
        else
            rocksdb_writebatch_put_cf(wb, space_cf(st, o->sp), o->key, o->klen, o->val, o->vlen);
    }
    char *rerr = NULL;
    rocksdb_write(st->db, sync ? st->wo_sync : st->wo_data, wb, &rerr);
    rocksdb_writebatch_destroy(wb);
    return rerr ? store_rdb_err(err, rerr, "writing records") : 0;
}

void store_batch_free(store_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        free(b->ops[i].key);
        free(b->ops[i].val);
    }
    free(b->ops);
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
    if (snap) {
        own = rocksdb_readoptions_create();
        rocksdb_readoptions_set_snapshot(own, snap->snap);
        ro = own;
    }
    char *rerr = NULL;
    size_t vlen = 0;
    char *v = rocksdb_get_cf(st->db, ro, space_cf(st, sp), key.p, key.n, &vlen, &rerr);
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
    it->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(it->ro, 1);
    if (snap)
        rocksdb_readoptions_set_snapshot(it->ro, snap->snap);
    it->it = rocksdb_create_iterator_cf(st->db, it->ro, space_cf(st, sp));
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
