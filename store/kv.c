/*
 * kv.c - the generic record API (store.h "generic records") over the lineage,
 * audit and jobs column families. Thin by design: modules above keep their own
 * key layouts; this file only maps spaces to column families and RocksDB's
 * error strings to strata_err.
 */
#include <stdint.h>
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

typedef struct sort_item sort_item;

struct store_batch {
    staged *ops;
    size_t n, cap;
    buf bytes;
    /* The sort's working memory, kept for the next sort of a batch reused
     * (store_batch_reset): a load's batches are tens of MiB, and fresh pages
     * for each cost their faults again. */
    sort_item *items, *tmp;
    size_t items_cap;
    staged *spare; /* the ops array the last sort replaced */
    size_t spare_cap;
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
/* A big batch's sort key: its column family and the 8 bytes of its key after
 * the prefix every key of that family in the batch shares, as a big-endian
 * integer (zero-padded). Integers in that order are keys in staged_cmp's
 * order, and equal ones fall back to staged_cmp. */
struct sort_item {
    uint64_t pre;
    uint32_t idx;
    uint32_t cf;
};

static int sort_item_cmp(const void *x, const void *y, void *arg)
{
    const sort_item *a = x, *c = y;
    if (a->cf != c->cf)
        return a->cf < c->cf ? -1 : 1;
    if (a->pre != c->pre)
        return a->pre < c->pre ? -1 : 1;
    const store_batch *b = arg;
    return staged_cmp(&b->ops[a->idx], &b->ops[c->idx], b->bytes.p);
}

#define SORT_BY_PREFIX_MIN 256

/* Stable LSD radix sort of items by (cf, pre), a byte per pass, through tmp
 * (as long as items). */
static void radix_sort(sort_item *items, sort_item *tmp, size_t n)
{
    sort_item *src = items, *dst = tmp;
    for (int pass = 0; pass < 9; pass++) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[(pass < 8 ? src[i].pre >> (8 * pass) : src[i].cf) & 0xff]++;
        if (count[(pass < 8 ? src[0].pre >> (8 * pass) : src[0].cf) & 0xff] == n)
            continue; /* one digit for all: nothing moves */
        size_t sum = 0;
        for (int d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(pass < 8 ? src[i].pre >> (8 * pass) : src[i].cf) & 0xff]++] = src[i];
        sort_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != items)
        memcpy(items, src, n * sizeof *items);
}

/* An import's batch is 100,000s of ops whose keys share their first bytes
 * (entity, id length, the ids' common start): qsort_r over staged_cmp spent
 * its time in memcmp through two indirections, 0.06-0.1 s per 200,000 ops.
 * Sorting (integer, index) pairs takes a fraction of that. */
static void sort_by_prefix(store_batch *b)
{
    size_t first[CF_COUNT], lcp[CF_COUNT];
    for (int c = 0; c < CF_COUNT; c++)
        first[c] = SIZE_MAX, lcp[c] = SIZE_MAX;
    const char *bytes = b->bytes.p;
    for (size_t i = 0; i < b->n; i++) {
        const staged *o = &b->ops[i];
        if (first[o->cf] == SIZE_MAX) {
            first[o->cf] = i;
            lcp[o->cf] = o->klen;
            continue;
        }
        const staged *f = &b->ops[first[o->cf]];
        size_t m = lcp[o->cf] < o->klen ? lcp[o->cf] : o->klen, k = 0;
        while (k < m && bytes[o->koff + k] == bytes[f->koff + k])
            k++;
        lcp[o->cf] = k;
    }
    if (b->items_cap < b->n) {
        free(b->items);
        free(b->tmp);
        b->items = malloc(b->n * sizeof *b->items);
        b->tmp = malloc(b->n * sizeof *b->tmp);
        b->items_cap = b->items && b->tmp ? b->n : 0;
    }
    if (b->spare_cap < b->n) {
        free(b->spare);
        b->spare = malloc(b->n * sizeof *b->spare);
        b->spare_cap = b->spare ? b->n : 0;
    }
    if (!b->items_cap || !b->spare_cap) {
        qsort_r(b->ops, b->n, sizeof *b->ops, staged_cmp, b->bytes.p);
        return;
    }
    sort_item *items = b->items;
    staged *sorted = b->spare;
    for (size_t i = 0; i < b->n; i++) {
        const staged *o = &b->ops[i];
        size_t from = lcp[o->cf];
        uint64_t pre = 0;
        for (size_t k = 0; k < 8; k++)
            pre = pre << 8 | (from + k < o->klen ? (unsigned char)bytes[o->koff + from + k] : 0u);
        items[i] = (sort_item){pre, (uint32_t)i, (uint32_t)o->cf};
    }
    radix_sort(items, b->tmp, b->n);
    /* Equal (family, integer) runs: ordered by the whole key, then staging. */
    for (size_t i = 0, j; i < b->n; i = j) {
        for (j = i + 1; j < b->n && items[j].cf == items[i].cf && items[j].pre == items[i].pre; j++)
            ;
        if (j - i > 1)
            qsort_r(items + i, j - i, sizeof *items, sort_item_cmp, b);
    }
    for (size_t i = 0; i < b->n; i++) {
        if (i + 16 < b->n)
            __builtin_prefetch(&b->ops[items[i + 16].idx]);
        sorted[i] = b->ops[items[i].idx];
    }
    /* The sorted array becomes the ops, the old one the next sort's spare. */
    staged *old = b->ops;
    size_t old_cap = b->cap;
    b->ops = sorted;
    b->cap = b->spare_cap;
    b->spare = old;
    b->spare_cap = old_cap;
}

void store_batch_sort(store_batch *b)
{
    if (b->n >= SORT_BY_PREFIX_MIN && b->n <= UINT32_MAX)
        sort_by_prefix(b);
    else if (b->n > 1)
        qsort_r(b->ops, b->n, sizeof *b->ops, staged_cmp, b->bytes.p);
}

void store_batch_op(const store_batch *b, size_t i, enum store_cf *cf, enum store_op *op,
                    slice *key, slice *val)
{
    const staged *o = &b->ops[i];
    *cf = o->cf;
    *op = o->op;
    *key = (slice){b->bytes.p + o->koff, o->klen};
    *val = (slice){b->bytes.p + o->voff, o->vlen};
}

void store_batch_prefetch(const store_batch *b, size_t i)
{
    if (i >= b->n)
        return;
    const staged *o = &b->ops[i];
    /* Key and value are staged back to back: their bytes, up to 4 lines. */
    const char *p = b->bytes.p + o->koff, *end = b->bytes.p + o->voff + o->vlen;
    for (int k = 0; k < 4 && p < end; k++, p += 64)
        __builtin_prefetch(p);
}

void store_batch_apply(store_t *st, store_batch *b, rocksdb_writebatch_t *wb)
{
    store_batch_sort(b);
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

void store_batch_reset(store_batch *b)
{
    b->n = 0;
    buf_reset(&b->bytes);
}

void store_batch_free(store_batch *b)
{
    if (!b)
        return;
    free(b->ops);
    free(b->spare);
    free(b->items);
    free(b->tmp);
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
