/*
 * latest.c - the per-id latest row: its codec and the RocksDB merge operator
 * that maintains it.
 *
 * A write does not read the row: it merges a fragment holding the written
 * cells (format 2: one row's cells share its times, written once). The merge
 * keeps, per feature, the newest
 * version in contract order (event_time, then created_time, then seq), so it is
 * a per-feature max: associative and commutative. Fragments may therefore be
 * combined in any grouping (partial merge during compaction, full merge on a
 * read) and an out-of-order write, older than what the row holds, never
 * replaces the newer cell.
 *
 * Two cells with the same (event, created, seq) can only be the same version
 * written twice; the tie is broken by the value bytes so that even then the
 * result does not depend on operand order.
 *
 * A malformed operand fails the merge (RocksDB then reports corruption for the
 * key) rather than silently dropping cells.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/store_int.h"

int store_version_cmp(const version *a, const version *b)
{
    if (a->event_time != b->event_time)
        return a->event_time < b->event_time ? -1 : 1;
    if (a->created_time != b->created_time)
        return a->created_time < b->created_time ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

void store_row_begin(buf *b)
{
    buf_putc(b, (char)STORE_ROW_FORMAT);
}

void store_row_add(buf *b, const version *v)
{
    STRATA_ASSERT(v->value.n <= UINT32_MAX);
    buf_reserve(b, STORE_ROW_CELL_HDR + v->value.n);
    buf_put_u32le(b, v->feature_id);
    buf_put_u64le(b, (uint64_t)v->event_time);
    buf_put_u64le(b, (uint64_t)v->created_time);
    buf_put_u64le(b, v->seq);
    buf_put_u32le(b, (uint32_t)v->value.n);
    buf_append(b, v->value.p, v->value.n);
}

void store_frag_begin(buf *b, int64_t event_time, int64_t created_time, uint64_t seq)
{
    buf_reserve(b, STORE_FRAG_HDR);
    buf_putc(b, (char)STORE_FRAG_FORMAT);
    buf_put_u64le(b, (uint64_t)event_time);
    buf_put_u64le(b, (uint64_t)created_time);
    buf_put_u64le(b, seq);
}

void store_frag_add(buf *b, uint32_t feature_id, slice value)
{
    buf_put_varint(b, feature_id);
    buf_put_varint(b, value.n);
    buf_append_slice(b, value);
}

/* Walk a fragment (format 2) like parse_row; -1 also when its features do not
 * strictly ascend. */
static int parse_frag(slice enc, version *cells, size_t *count)
{
    if (enc.n < STORE_FRAG_HDR)
        return -1;
    int64_t ev = (int64_t)get_u64le(enc.p + 1), cr = (int64_t)get_u64le(enc.p + 9);
    uint64_t seq = get_u64le(enc.p + 17);
    const char *p = enc.p + STORE_FRAG_HDR, *end = enc.p + enc.n;
    size_t n = 0;
    uint64_t prev = 0;
    while (p < end) {
        uint64_t f, len;
        if (varint_get(&p, end, &f) || f > UINT32_MAX || (n && f <= prev) ||
            varint_get(&p, end, &len) || len > (uint64_t)(end - p))
            return -1;
        if (cells)
            cells[n] = (version){(uint32_t)f, ev, cr, seq, {p, (size_t)len}};
        prev = f;
        p += len;
        n++;
    }
    *count = n;
    return 0;
}

/* Walk a row or fragment: count its cells and, when cells != NULL, fill them
 * (borrowing from enc). -1 when malformed. */
static int parse_row(slice enc, version *cells, size_t *count)
{
    if (enc.n >= 1 && (unsigned char)enc.p[0] == STORE_FRAG_FORMAT)
        return parse_frag(enc, cells, count);
    if (enc.n < 1 || (unsigned char)enc.p[0] != STORE_ROW_FORMAT)
        return -1;
    size_t pos = 1, n = 0;
    while (pos < enc.n) {
        if (enc.n - pos < STORE_ROW_CELL_HDR)
            return -1;
        const char *c = enc.p + pos;
        uint32_t len = get_u32le(c + 28);
        if (len > enc.n - pos - STORE_ROW_CELL_HDR)
            return -1;
        if (cells) {
            version *v = &cells[n];
            v->feature_id = get_u32le(c);
            v->event_time = (int64_t)get_u64le(c + 4);
            v->created_time = (int64_t)get_u64le(c + 12);
            v->seq = get_u64le(c + 20);
            v->value = (slice){c + STORE_ROW_CELL_HDR, len};
        }
        pos += STORE_ROW_CELL_HDR + (size_t)len;
        n++;
    }
    *count = n;
    return 0;
}

int store_row_decode(slice enc, latest_row *row, strata_err *err)
{
    size_t n = 0;
    row->n = 0;
    if (parse_row(enc, NULL, &n))
        return err_set(err, STRATA_CORRUPT, "latest row of %zu bytes is corrupt", enc.n);
    buf_reset(&row->storage);
    buf_append(&row->storage, enc.p, enc.n);
    if (n == 0)
        return 0;
    version *cells = realloc(row->cells, n * sizeof *cells);
    if (!cells)
        return err_set(err, STRATA_NOMEM, "out of memory decoding a latest row");
    row->cells = cells;
    parse_row(buf_slice(&row->storage), cells, &n);
    for (size_t i = 1; i < n; i++) {
        if (cells[i].feature_id <= cells[i - 1].feature_id)
            return err_set(err, STRATA_CORRUPT, "latest row is corrupt: features out of order");
    }
    row->n = n;
    return 0;
}

void latest_row_free(latest_row *row)
{
    if (!row)
        return;
    free(row->cells);
    row->cells = NULL;
    row->n = 0;
    buf_free(&row->storage);
}

const version *latest_row_find(const latest_row *row, uint32_t feature_id)
{
    size_t lo = 0, hi = row->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t f = row->cells[mid].feature_id;
        if (f == feature_id)
            return &row->cells[mid];
        if (f < feature_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Feature ascending, then newest first, then value bytes (total order). */
static int merge_order(const void *pa, const void *pb)
{
    const version *a = pa, *b = pb;
    if (a->feature_id != b->feature_id)
        return a->feature_id < b->feature_id ? -1 : 1;
    int c = store_version_cmp(a, b);
    if (c)
        return -c;
    return -slice_cmp(a->value, b->value);
}

/* Whether enc is a well-formed row or fragment whose features strictly
 * ascend: then it is already its own merge (every fragment a write makes is
 * one). */
static bool row_is_canonical(slice enc)
{
    size_t n;
    if (enc.n >= 1 && (unsigned char)enc.p[0] == STORE_FRAG_FORMAT)
        return parse_frag(enc, NULL, &n) == 0;
    if (enc.n < 1 || (unsigned char)enc.p[0] != STORE_ROW_FORMAT)
        return false;
    size_t pos = 1;
    uint32_t prev = 0;
    for (bool first = true; pos < enc.n; first = false) {
        if (enc.n - pos < STORE_ROW_CELL_HDR)
            return false;
        const char *c = enc.p + pos;
        uint32_t f = get_u32le(c), len = get_u32le(c + 28);
        if (len > enc.n - pos - STORE_ROW_CELL_HDR || (!first && f <= prev))
            return false;
        prev = f;
        pos += STORE_ROW_CELL_HDR + (size_t)len;
    }
    return true;
}

int store_row_merge(const char *const *ops, const size_t *lens, size_t n, buf *out)
{
    /* One operand and nothing under it: what a read of an id written once
     * (or rewritten only since the last compaction reached it) merges.
     * Copying it gives the same bytes as sorting its cells would. */
    if (n == 1 && row_is_canonical((slice){ops[0], lens[0]})) {
        buf_append(out, ops[0], lens[0]);
        return 0;
    }
    size_t total = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        if (parse_row((slice){ops[i], lens[i]}, NULL, &k))
            return -1;
        total += k;
        bytes += lens[i];
    }
    version *cells = NULL;
    if (total) {
        cells = malloc(total * sizeof *cells);
        if (!cells)
            return -1;
    }
    size_t at = 0;
    /* Only with cells: NULL + 0 is undefined (found by fuzz_keys on a merge
     * of format-only fragments). */
    for (size_t i = 0; cells && i < n; i++) {
        size_t k;
        parse_row((slice){ops[i], lens[i]}, cells + at, &k);
        at += k;
    }
    if (total > 1)
        qsort(cells, total, sizeof *cells, merge_order);
    buf_reserve(out, bytes + 1);
    store_row_begin(out);
    for (size_t i = 0; i < total; i++) {
        if (i == 0 || cells[i].feature_id != cells[i - 1].feature_id)
            store_row_add(out, &cells[i]);
    }
    free(cells);
    return 0;
}

/* ---- RocksDB glue ------------------------------------------------------- */

/* RocksDB copies the result and hands it back to delete_value; a non-NULL
 * pointer is returned even on failure so that copy never sees NULL. */
static char *merge_common(const char *const *ops, const size_t *lens, size_t n,
                          unsigned char *success, size_t *new_len)
{
    buf out = BUF_INIT;
    if (store_row_merge(ops, lens, n, &out)) {
        log_error("latest row merge failed: an operand is malformed or memory ran out");
        buf_free(&out);
        *success = 0;
        *new_len = 0;
        return malloc(1);
    }
    *success = 1;
    return buf_steal(&out, new_len);
}

#define MERGE_STACK_OPS 16

static char *full_merge(void *state, const char *key, size_t key_len, const char *existing,
                        size_t existing_len, const char *const *ops, const size_t *lens, int nops,
                        unsigned char *success, size_t *new_len)
{
    const char *stack_ops[MERGE_STACK_OPS];
    size_t stack_lens[MERGE_STACK_OPS];
    const char **all = stack_ops;
    size_t *all_lens = stack_lens;
    size_t n = (size_t)nops + (existing ? 1 : 0);
    char *res = NULL;

    if (n > MERGE_STACK_OPS) {
        all = malloc(n * sizeof *all);
        all_lens = malloc(n * sizeof *all_lens);
        if (!all || !all_lens) {
            log_error("latest row merge: out of memory");
            *success = 0;
            *new_len = 0;
            res = malloc(1);
            goto out;
        }
    }
    size_t k = 0;
    if (existing) {
        all[k] = existing;
        all_lens[k++] = existing_len;
    }
    for (int i = 0; i < nops; i++) {
        all[k] = ops[i];
        all_lens[k++] = lens[i];
    }
    res = merge_common(all, all_lens, k, success, new_len);
out:
    if (all != stack_ops)
        free(all);
    if (all_lens != stack_lens)
        free(all_lens);
    return res;
}

static char *partial_merge(void *state, const char *key, size_t key_len, const char *const *ops,
                           const size_t *lens, int nops, unsigned char *success, size_t *new_len)
{
    return merge_common(ops, lens, (size_t)nops, success, new_len);
}

static void merge_delete_value(void *state, const char *value, size_t len)
{
    free((void *)value);
}

static void merge_destroy(void *state) {}

static const char *merge_name(void *state)
{
    /* Persisted in the OPTIONS file: renaming it needs a migration. */
    return "strata.latest_row.v1";
}

rocksdb_mergeoperator_t *store_latest_merge_operator(void)
{
    return rocksdb_mergeoperator_create(NULL, merge_destroy, full_merge, partial_merge,
                                        merge_delete_value, merge_name);
}
