/*
 * test_store.c - the storage engine end to end over a real RocksDB in a fresh
 * temporary directory per test, plus the latest-row merge function directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "store/keys.h"
#include "store/store.h"
#include "store/store_int.h"

/* ---- fixture ------------------------------------------------------------ */

typedef struct fx {
    char dir[64];
    char db[96];
    store_t *st;
    uint32_t eid;
    uint32_t f_age, f_city, f_score, f_recent;
} fx;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int open_store(const char *path, bool read_only, store_t **st, strata_err *err)
{
    store_options o = {.path = path,
                       .sync = STORE_SYNC_NEVER,
                       .block_cache_bytes = (size_t)8 << 20,
                       .read_only = read_only};
    return store_open(&o, st, err);
}

static store_t *must_open(const char *path)
{
    strata_err err = STRATA_ERR_INIT;
    store_t *st = NULL;
    int rc = open_store(path, false, &st, &err);
    if (rc)
        fail_msg("store_open: %s", err.message);
    return st;
}

static uint32_t feature_id(store_t *st, const char *entity, const char *feature)
{
    const registry_t *reg = store_registry_acquire(st);
    const entity_def *e = registry_entity(reg, slice_of(entity));
    const feature_def *f = registry_feature(e, slice_of(feature));
    uint32_t id = f ? f->id : 0;
    store_registry_release(st, reg);
    return id;
}

static uint32_t entity_id(store_t *st, const char *entity)
{
    const registry_t *reg = store_registry_acquire(st);
    const entity_def *e = registry_entity(reg, slice_of(entity));
    uint32_t id = e ? e->id : 0;
    store_registry_release(st, reg);
    return id;
}

static void lookup_ids(fx *f)
{
    f->eid = entity_id(f->st, "customer");
    f->f_age = feature_id(f->st, "customer", "age");
    f->f_city = feature_id(f->st, "customer", "city");
    f->f_score = feature_id(f->st, "customer", "score");
    f->f_recent = feature_id(f->st, "customer", "recent");
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/strata_test_store_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    /* A nested path: store_open creates missing parents. */
    snprintf(f->db, sizeof f->db, "%s/nested/db", f->dir);
    f->st = must_open(f->db);
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(
        store_entity_create(f->st, SLICE_LIT("customer"), SLICE_LIT("people"), NULL, &err), 0);
    feature_spec specs[] = {
        {SLICE_LIT("age"), VT_INT64, 0, SLICE_LIT(""), NULL},
        {SLICE_LIT("city"), VT_STRING, 0, SLICE_LIT(""), NULL},
        {SLICE_LIT("score"), VT_DOUBLE, 0, SLICE_LIT(""), NULL},
        {SLICE_LIT("recent"), VT_INT64, 60, SLICE_LIT(""), NULL},
    };
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 4, &err), 0);
    lookup_ids(f);
    assert_true(f->eid && f->f_age && f->f_city && f->f_score && f->f_recent);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static void reopen(fx *f)
{
    store_close(f->st);
    f->st = must_open(f->db);
    lookup_ids(f);
}

/* Write one INT64 cell (or NULL when isnull). */
static int put_i64(fx *f, const char *id, uint32_t feature, int64_t ev, int64_t cr, int64_t v,
                   bool isnull, strata_err *err)
{
    buf b = BUF_INIT;
    if (isnull)
        value_encode_null(&b);
    else
        value_encode_int64(&b, v);
    write_cell c = {feature, buf_slice(&b)};
    write_row r = {slice_of(id), ev, cr, 1, &c};
    int rc = store_write(f->st, f->eid, &r, 1, err);
    buf_free(&b);
    return rc;
}

static void must_put(fx *f, const char *id, uint32_t feature, int64_t ev, int64_t cr, int64_t v)
{
    strata_err err = STRATA_ERR_INIT;
    if (put_i64(f, id, feature, ev, cr, v, false, &err))
        fail_msg("store_write: %s", err.message);
}

static int64_t cell_i64(const version *c)
{
    value_view v;
    assert_int_equal(value_decode(c->value, &v), 0);
    assert_int_equal(v.tag, VT_INT64);
    return v.i;
}

static void get_latest(fx *f, const char *id, latest_row *row)
{
    strata_err err = STRATA_ERR_INIT;
    if (store_latest_get(f->st, f->eid, slice_of(id), row, &err))
        fail_msg("store_latest_get: %s", err.message);
}

static size_t count_versions(fx *f, const char *id, uint32_t feature)
{
    store_versions *it = NULL;
    strata_err err = STRATA_ERR_INIT;
    version v;
    size_t n = 0;
    int rc;
    assert_int_equal(store_versions_open(f->st, f->eid, slice_of(id), feature, &it, &err), 0);
    while ((rc = store_versions_next(it, &v, &err)) == 1)
        n++;
    assert_int_equal(rc, 0);
    store_versions_close(it);
    return n;
}

/* The latest row must equal, per feature, the first (newest) stored version. */
static void check_latest_consistent(fx *f, const char *id, const uint32_t *features, size_t nf)
{
    latest_row row = {0};
    strata_err err = STRATA_ERR_INIT;
    get_latest(f, id, &row);
    size_t present = 0;
    for (size_t i = 0; i < nf; i++) {
        store_versions *it = NULL;
        version v;
        assert_int_equal(store_versions_open(f->st, f->eid, slice_of(id), features[i], &it, &err),
                         0);
        int rc = store_versions_next(it, &v, &err);
        assert_true(rc >= 0);
        const version *c = latest_row_find(&row, features[i]);
        if (rc == 0) {
            assert_null(c);
        } else {
            present++;
            if (!c)
                fail_msg("id %s feature %u: latest lacks a cell", id, features[i]);
            assert_true(c->event_time == v.event_time);
            assert_true(c->created_time == v.created_time);
            assert_true(c->seq == v.seq);
            assert_int_equal(c->value.n, v.value.n);
            assert_memory_equal(c->value.p, v.value.p, v.value.n);
        }
        store_versions_close(it);
    }
    assert_int_equal(row.n, present);
    latest_row_free(&row);
}

/* ---- merge operator, called directly ------------------------------------ */

static void frag1(buf *b, uint32_t feature, int64_t ev, int64_t cr, uint64_t seq, const char *val)
{
    version v = {feature, ev, cr, seq, slice_of(val)};
    buf_reset(b);
    store_row_begin(b);
    store_row_add(b, &v);
}

static void merge_bufs(buf *ops, size_t n, buf *out)
{
    const char *p[64];
    size_t l[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        p[i] = ops[i].p;
        l[i] = ops[i].n;
    }
    buf_reset(out);
    assert_int_equal(store_row_merge(p, l, n, out), 0);
}

static void decode_row(const buf *b, latest_row *row)
{
    strata_err err = STRATA_ERR_INIT;
    if (store_row_decode(buf_slice(b), row, &err))
        fail_msg("store_row_decode: %s", err.message);
}

static void test_merge_out_of_order(void **state)
{
    buf ops[3] = {BUF_INIT, BUF_INIT, BUF_INIT}, out = BUF_INIT, out2 = BUF_INIT;
    latest_row row = {0};
    frag1(&ops[0], 5, 200, 1, 1, "new");
    frag1(&ops[1], 5, 100, 9, 2, "old"); /* arrives later, is older */
    merge_bufs(ops, 2, &out);
    decode_row(&out, &row);
    assert_int_equal(row.n, 1);
    assert_true(slice_eq_str(row.cells[0].value, "new"));
    /* Operand order does not matter. */
    buf t = ops[0];
    ops[0] = ops[1];
    ops[1] = t;
    merge_bufs(ops, 2, &out2);
    assert_int_equal(out.n, out2.n);
    assert_memory_equal(out.p, out2.p, out.n);

    /* Ties on event time: created time decides, then seq. */
    frag1(&ops[0], 5, 100, 7, 9, "c7");
    frag1(&ops[1], 5, 100, 8, 1, "c8");
    frag1(&ops[2], 5, 100, 8, 2, "c8s2");
    merge_bufs(ops, 3, &out);
    decode_row(&out, &row);
    assert_true(slice_eq_str(row.cells[0].value, "c8s2"));
    assert_true(row.cells[0].seq == 2);
    frag1(&ops[2], 5, 100, 8, 0, "c8s0");
    merge_bufs(ops, 3, &out);
    decode_row(&out, &row);
    assert_true(slice_eq_str(row.cells[0].value, "c8"));

    /* Negative times compare as numbers. */
    frag1(&ops[0], 1, -5, 0, 0, "minus5");
    frag1(&ops[1], 1, -6, 100, 100, "minus6");
    merge_bufs(ops, 2, &out);
    decode_row(&out, &row);
    assert_true(slice_eq_str(row.cells[0].value, "minus5"));

    /* Different features are all kept, sorted by id. */
    frag1(&ops[0], 9, 1, 1, 1, "f9");
    frag1(&ops[1], 2, 1, 1, 1, "f2");
    frag1(&ops[2], 4, 1, 1, 1, "f4");
    merge_bufs(ops, 3, &out);
    decode_row(&out, &row);
    assert_int_equal(row.n, 3);
    assert_int_equal(row.cells[0].feature_id, 2);
    assert_int_equal(row.cells[1].feature_id, 4);
    assert_int_equal(row.cells[2].feature_id, 9);
    assert_non_null(latest_row_find(&row, 4));
    assert_null(latest_row_find(&row, 3));
    assert_true(slice_eq_str(latest_row_find(&row, 9)->value, "f9"));

    latest_row_free(&row);
    for (int i = 0; i < 3; i++)
        buf_free(&ops[i]);
    buf_free(&out);
    buf_free(&out2);
}

typedef struct ref_cell {
    version v;
    char val[16];
} ref_cell;

/* Many operands, shuffled and grouped arbitrarily (as partial merges and
 * compactions do): always the per-feature newest, always the same bytes. */
static void test_merge_many(void **state)
{
    enum { N = 60, FEATS = 7 };
    ref_cell cells[N];
    buf ops[N], out = BUF_INIT, out2 = BUF_INIT, part[N], out3 = BUF_INIT;
    unsigned seed = 12345;
    latest_row row = {0};
    for (int i = 0; i < N; i++) {
        ref_cell *c = &cells[i];
        snprintf(c->val, sizeof c->val, "v%d", i);
        c->v = (version){(uint32_t)(rand_r(&seed) % FEATS), rand_r(&seed) % 5 - 2,
                         rand_r(&seed) % 3, (uint64_t)i, slice_of(c->val)};
        ops[i] = (buf)BUF_INIT;
        part[i] = (buf)BUF_INIT;
        frag1(&ops[i], c->v.feature_id, c->v.event_time, c->v.created_time, c->v.seq, c->val);
    }
    merge_bufs(ops, N, &out);
    decode_row(&out, &row);
    /* Brute force: newest per feature. */
    size_t expect_n = 0;
    for (uint32_t feat = 0; feat < FEATS; feat++) {
        const ref_cell *best = NULL;
        for (int i = 0; i < N; i++)
            if (cells[i].v.feature_id == feat &&
                (!best || store_version_cmp(&cells[i].v, &best->v) > 0))
                best = &cells[i];
        const version *got = latest_row_find(&row, feat);
        if (!best) {
            assert_null(got);
            continue;
        }
        expect_n++;
        assert_non_null(got);
        assert_true(got->seq == best->v.seq);
        assert_true(slice_eq_str(got->value, best->val));
    }
    assert_int_equal(row.n, expect_n);

    /* Shuffle: same bytes. */
    for (int i = N - 1; i > 0; i--) {
        int j = rand_r(&seed) % (i + 1);
        buf t = ops[i];
        ops[i] = ops[j];
        ops[j] = t;
    }
    merge_bufs(ops, N, &out2);
    assert_int_equal(out.n, out2.n);
    assert_memory_equal(out.p, out2.p, out.n);

    /* Partial merges of groups of 7, then a merge of the partial results. */
    size_t np = 0;
    for (int i = 0; i < N; i += 7) {
        size_t k = N - i < 7 ? (size_t)(N - i) : 7;
        merge_bufs(ops + i, k, &part[np++]);
    }
    merge_bufs(part, np, &out3);
    assert_int_equal(out.n, out3.n);
    assert_memory_equal(out.p, out3.p, out.n);

    latest_row_free(&row);
    for (int i = 0; i < N; i++) {
        buf_free(&ops[i]);
        buf_free(&part[i]);
    }
    buf_free(&out);
    buf_free(&out2);
    buf_free(&out3);
}

static void test_merge_malformed(void **state)
{
    buf good = BUF_INIT, out = BUF_INIT;
    frag1(&good, 1, 1, 1, 1, "x");
    const char *p[2] = {good.p, "\x03"};
    size_t l[2] = {good.n, 1};
    buf_append_str(&out, "keep");
    assert_int_equal(store_row_merge(p, l, 2, &out), -1); /* unknown format */
    l[1] = good.n - 1;
    p[1] = good.p; /* truncated cell */
    assert_int_equal(store_row_merge(p, l, 2, &out), -1);
    assert_int_equal(out.n, 4);
    /* An empty fragment (format byte only) is fine. */
    p[1] = "\x01";
    l[1] = 1;
    buf_reset(&out);
    assert_int_equal(store_row_merge(p, l, 2, &out), 0);
    assert_int_equal(out.n, good.n);
    /* Only empty fragments: an empty row (no cell array to fill). */
    p[0] = "\x01";
    l[0] = 1;
    buf_reset(&out);
    assert_int_equal(store_row_merge(p, l, 2, &out), 0);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.p[0], 1);

    latest_row row = {0};
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(store_row_decode((slice){good.p, good.n - 1}, &row, &err), STRATA_CORRUPT);
    assert_int_equal(row.n, 0);
    /* Cells out of feature order are corruption too. */
    buf bad = BUF_INIT;
    version a = {5, 0, 0, 0, SLICE_LIT("a")}, b = {3, 0, 0, 0, SLICE_LIT("b")};
    store_row_begin(&bad);
    store_row_add(&bad, &a);
    store_row_add(&bad, &b);
    assert_int_equal(store_row_decode(buf_slice(&bad), &row, &err), STRATA_CORRUPT);
    latest_row_free(&row);
    buf_free(&good);
    buf_free(&bad);
    buf_free(&out);
}

/* Fragments (format 2: one written row, its times once): the same cells as a
 * row, merged with rows and fragments in any order, copied when alone. */
static void test_merge_fragments(void **state)
{
    (void)state;
    buf ops[3] = {BUF_INIT, BUF_INIT, BUF_INIT}, out = BUF_INIT, out2 = BUF_INIT;
    latest_row row = {0};
    strata_err err = STRATA_ERR_INIT;
    store_frag_begin(&ops[0], 200, 7, 9);
    store_frag_add(&ops[0], 3, SLICE_LIT("three"));
    store_frag_add(&ops[0], 300, SLICE_LIT(""));
    store_frag_add(&ops[0], 70000, SLICE_LIT("big"));
    assert_int_equal(ops[0].n, STORE_FRAG_HDR + (2 + 5) + (3 + 0) + (4 + 3));
    decode_row(&ops[0], &row);
    assert_int_equal(row.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_true(row.cells[i].event_time == 200 && row.cells[i].created_time == 7);
        assert_true(row.cells[i].seq == 9);
    }
    assert_true(slice_eq(latest_row_find(&row, 70000)->value, SLICE_LIT("big")));
    /* Alone and canonical: copied byte for byte. */
    merge_bufs(ops, 1, &out);
    assert_int_equal(out.n, ops[0].n);
    assert_memory_equal(out.p, ops[0].p, out.n);
    /* With an older row cell of feature 3 and a newer fragment of 300: per
     * feature the newest, whatever the order. */
    frag1(&ops[1], 3, 100, 1, 1, "older");
    store_frag_begin(&ops[2], 250, 1, 10);
    store_frag_add(&ops[2], 300, SLICE_LIT("newer"));
    merge_bufs(ops, 3, &out);
    buf rev[3] = {ops[2], ops[1], ops[0]};
    merge_bufs(rev, 3, &out2);
    assert_int_equal(out.n, out2.n);
    assert_memory_equal(out.p, out2.p, out.n);
    decode_row(&out, &row);
    assert_int_equal(row.n, 3);
    assert_true(slice_eq(latest_row_find(&row, 3)->value, SLICE_LIT("three")));
    assert_true(slice_eq(latest_row_find(&row, 300)->value, SLICE_LIT("newer")));
    assert_true(latest_row_find(&row, 300)->seq == 10);
    /* Malformed: short header, features not ascending, a length past the end,
     * a varint that never ends. Each refused by decode and by the merge. */
    buf bad = BUF_INIT;
    const char *bp[1];
    size_t bl[1];
    for (int k = 0; k < 4; k++) {
        buf_reset(&bad);
        store_frag_begin(&bad, 1, 1, 1);
        if (k == 0)
            bad.n = STORE_FRAG_HDR - 1;
        if (k == 1) {
            store_frag_add(&bad, 5, SLICE_LIT("a"));
            store_frag_add(&bad, 5, SLICE_LIT("b"));
        }
        if (k == 2) {
            store_frag_add(&bad, 5, SLICE_LIT("abc"));
            bad.n--;
        }
        if (k == 3)
            buf_append(&bad, "\x85\x80", 2);
        assert_int_equal(store_row_decode(buf_slice(&bad), &row, &err), STRATA_CORRUPT);
        bp[0] = bad.p;
        bl[0] = bad.n;
        buf_reset(&out);
        assert_int_equal(store_row_merge(bp, bl, 1, &out), -1);
    }
    err_clear(&err);
    latest_row_free(&row);
    for (int i = 0; i < 3; i++)
        buf_free(&ops[i]);
    buf_free(&bad);
    buf_free(&out);
    buf_free(&out2);
}

/* One operand alone: a canonical row (features ascending, each once) comes
 * back byte for byte; anything else is still sorted, deduplicated or refused. */
static void test_merge_single_operand(void **state)
{
    buf row = BUF_INIT, out = BUF_INIT, expect = BUF_INIT;
    version c1 = {2, 10, 1, 1, SLICE_LIT("old")}, c2 = {7, 20, 1, 2, SLICE_LIT("seven")},
            c3 = {2, 30, 1, 3, SLICE_LIT("new")}, c4 = {9, 5, 1, 4, SLICE_LIT("")};
    store_row_begin(&row);
    store_row_add(&row, &c1);
    store_row_add(&row, &c2);
    store_row_add(&row, &c4);
    merge_bufs(&row, 1, &out);
    assert_int_equal(out.n, row.n);
    assert_memory_equal(out.p, row.p, row.n);

    /* Out of order, with feature 2 twice: the newest cell of 2 wins and the
     * result ascends, as the general merge makes it. */
    buf_reset(&row);
    store_row_begin(&row);
    store_row_add(&row, &c2);
    store_row_add(&row, &c1);
    store_row_add(&row, &c3);
    merge_bufs(&row, 1, &out);
    store_row_begin(&expect);
    store_row_add(&expect, &c3);
    store_row_add(&expect, &c2);
    assert_int_equal(out.n, expect.n);
    assert_memory_equal(out.p, expect.p, expect.n);

    /* Truncated: refused, not copied. */
    const char *p[1] = {expect.p};
    size_t l[1] = {expect.n - 1};
    buf_reset(&out);
    assert_int_equal(store_row_merge(p, l, 1, &out), -1);
    buf_free(&row);
    buf_free(&out);
    buf_free(&expect);
}

/* ---- writes and online reads -------------------------------------------- */

static void test_latest_out_of_order_writes(void **state)
{
    fx *f = *state;
    latest_row row = {0};
    strata_err err = STRATA_ERR_INIT;
    must_put(f, "c1", f->f_age, 200, 10, 31);
    must_put(f, "c1", f->f_age, 100, 20, 30); /* older event, written later */
    get_latest(f, "c1", &row);
    assert_int_equal(row.n, 1);
    assert_true(cell_i64(latest_row_find(&row, f->f_age)) == 31);
    must_put(f, "c1", f->f_age, 200, 11, 32); /* same event, later created */
    must_put(f, "c1", f->f_age, 200, 5, 99);  /* same event, earlier created */
    get_latest(f, "c1", &row);
    assert_true(cell_i64(latest_row_find(&row, f->f_age)) == 32);
    must_put(f, "c1", f->f_age, 200, 11, 33); /* full tie: the later write wins */
    get_latest(f, "c1", &row);
    assert_true(cell_i64(latest_row_find(&row, f->f_age)) == 33);
    assert_true(latest_row_find(&row, f->f_age)->event_time == 200);
    assert_true(latest_row_find(&row, f->f_age)->created_time == 11);
    /* A null newest version is "the newest value is null". */
    assert_int_equal(put_i64(f, "c1", f->f_age, 300, 0, 0, true, &err), 0);
    get_latest(f, "c1", &row);
    value_view v;
    assert_int_equal(value_decode(latest_row_find(&row, f->f_age)->value, &v), 0);
    assert_int_equal(v.tag, VT_NULL);
    assert_int_equal(count_versions(f, "c1", f->f_age), 6);
    uint32_t feats[] = {f->f_age};
    check_latest_consistent(f, "c1", feats, 1);
    /* An id with no values. */
    get_latest(f, "nobody", &row);
    assert_int_equal(row.n, 0);
    /* Survives a restart (WAL replay, merge operator re-registered). */
    reopen(f);
    get_latest(f, "c1", &row);
    assert_int_equal(row.n, 1);
    assert_int_equal(value_decode(latest_row_find(&row, f->f_age)->value, &v), 0);
    assert_int_equal(v.tag, VT_NULL);
    latest_row_free(&row);
}

/* Many writes of one id in one memtable: past LATEST_SUCCESSIVE_MERGES
 * operands a write folds them into one value (store.c). The row stays the
 * per-feature newest whatever the write order, at every step, and after a
 * restart. */
static void test_latest_many_writes_of_one_id(void **state)
{
    fx *f = *state;
    latest_row row = {0};
    int64_t best_ev = -1, best_v = 0;
    for (int i = 0; i < 100; i++) {
        int64_t ev = (int64_t)((i * 37) % 101); /* a permutation of event times */
        must_put(f, "hot", f->f_age, ev, 1, 1000 + i);
        if (ev > best_ev) {
            best_ev = ev;
            best_v = 1000 + i;
        }
        get_latest(f, "hot", &row);
        assert_int_equal(row.n, 1);
        assert_true(cell_i64(latest_row_find(&row, f->f_age)) == best_v);
        assert_true(latest_row_find(&row, f->f_age)->event_time == best_ev);
    }
    uint32_t feats[] = {f->f_age};
    check_latest_consistent(f, "hot", feats, 1);
    reopen(f);
    get_latest(f, "hot", &row);
    assert_true(cell_i64(latest_row_find(&row, f->f_age)) == best_v);
    latest_row_free(&row);
}

static void test_versions_order_and_batch_seqs(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    const int64_t ev[] = {5, -3, 5, 9, 5, 0};
    const int64_t cr[] = {1, 1, 2, 0, 2, 0};
    enum { N = 6 };
    buf vals[N];
    write_cell cells[N];
    write_row rows[N];
    for (int i = 0; i < N; i++) {
        vals[i] = (buf)BUF_INIT;
        value_encode_int64(&vals[i], i);
        cells[i] = (write_cell){f->f_age, buf_slice(&vals[i])};
        rows[i] = (write_row){SLICE_LIT("v"), ev[i], cr[i], 1, &cells[i]};
    }
    assert_int_equal(store_write(f->st, f->eid, rows, N, &err), 0);
    store_versions *it = NULL;
    version v, prev = {0};
    int rc, n = 0;
    uint64_t seq_of[N] = {0};
    assert_int_equal(store_versions_open(f->st, f->eid, SLICE_LIT("v"), f->f_age, &it, &err), 0);
    while ((rc = store_versions_next(it, &v, &err)) == 1) {
        if (n)
            assert_true(store_version_cmp(&prev, &v) > 0);
        prev = v;
        prev.value = (slice){NULL, 0};
        seq_of[cell_i64(&v)] = v.seq;
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, N);
    store_versions_close(it);
    /* Rows of one call take consecutive seqs in array order. */
    for (int i = 1; i < N; i++)
        assert_true(seq_of[i] == seq_of[i - 1] + 1);
    /* Newest: event 9. */
    latest_row row = {0};
    get_latest(f, "v", &row);
    assert_true(cell_i64(&row.cells[0]) == 3);
    latest_row_free(&row);
    for (int i = 0; i < N; i++)
        buf_free(&vals[i]);
}

static void test_multiget(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    must_put(f, "a", f->f_age, 1, 1, 10);
    must_put(f, "b", f->f_age, 1, 1, 20);
    must_put(f, "b", f->f_recent, 2, 1, 21);
    latest_row rows[3] = {{0}, {0}, {0}};
    slice ids[3] = {SLICE_LIT("b"), SLICE_LIT("missing"), SLICE_LIT("a")};
    assert_int_equal(store_latest_multiget(f->st, f->eid, ids, 3, rows, &err), 0);
    assert_int_equal(rows[0].n, 2);
    assert_true(cell_i64(latest_row_find(&rows[0], f->f_recent)) == 21);
    assert_int_equal(rows[1].n, 0);
    assert_int_equal(rows[2].n, 1);
    assert_true(cell_i64(latest_row_find(&rows[2], f->f_age)) == 10);
    /* Rows are reusable: a second read refills them. */
    ids[0] = SLICE_LIT("a");
    assert_int_equal(store_latest_multiget(f->st, f->eid, ids, 1, rows, &err), 0);
    assert_int_equal(rows[0].n, 1);
    slice bad[1] = {SLICE_LIT("")};
    assert_int_equal(store_latest_multiget(f->st, f->eid, bad, 1, rows, &err),
                     STRATA_INVALID_ARGUMENT);
    for (int i = 0; i < 3; i++)
        latest_row_free(&rows[i]);
}

static void test_write_validation_is_atomic(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    buf i64 = BUF_INIT, str = BUF_INIT, badutf = BUF_INIT;
    value_encode_int64(&i64, 7);
    value_encode_bytes(&str, VT_STRING, SLICE_LIT("x"));
    value_encode_bytes(&badutf, VT_STRING, SLICE_LIT("\xff"));
    write_cell good = {f->f_age, buf_slice(&i64)};
    write_cell wrong_type = {f->f_age, buf_slice(&str)};
    write_row rows[2] = {{SLICE_LIT("g"), 1, 1, 1, &good}, {SLICE_LIT("h"), 1, 1, 1, &wrong_type}};
    store_stats before, after;
    store_get_stats(f->st, &before);
    assert_int_equal(store_write(f->st, f->eid, rows, 2, &err), STRATA_INVALID_ARGUMENT);
    if (!strstr(err.message, "row 1") || !strstr(err.message, "expected INT64, got STRING"))
        fail_msg("unexpected message: %s", err.message);
    latest_row row = {0};
    get_latest(f, "g", &row);
    assert_int_equal(row.n, 0); /* row 0 was valid but nothing landed */
    assert_int_equal(count_versions(f, "g", f->f_age), 0);
    store_get_stats(f->st, &after);
    assert_true(after.values_written == before.values_written);

    /* Same feature twice in one row. */
    write_cell twice[2] = {good, good};
    write_row r = {SLICE_LIT("g"), 1, 1, 2, twice};
    assert_int_equal(store_write(f->st, f->eid, &r, 1, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "given twice"));
    /* Bad entity id, time out of range, unknown feature, bad UTF-8, unknown entity. */
    r = (write_row){SLICE_LIT(""), 1, 1, 1, &good};
    assert_int_equal(store_write(f->st, f->eid, &r, 1, &err), STRATA_INVALID_ARGUMENT);
    r = (write_row){SLICE_LIT("g"), INT64_MAX, 1, 1, &good};
    assert_int_equal(store_write(f->st, f->eid, &r, 1, &err), STRATA_INVALID_ARGUMENT);
    write_cell unknown = {9999, buf_slice(&i64)};
    r = (write_row){SLICE_LIT("g"), 1, 1, 1, &unknown};
    assert_int_equal(store_write(f->st, f->eid, &r, 1, &err), STRATA_INVALID_ARGUMENT);
    write_cell utf = {f->f_city, buf_slice(&badutf)};
    r = (write_row){SLICE_LIT("g"), 1, 1, 1, &utf};
    assert_int_equal(store_write(f->st, f->eid, &r, 1, &err), STRATA_INVALID_ARGUMENT);
    r = (write_row){SLICE_LIT("g"), 1, 1, 1, &good};
    assert_int_equal(store_write(f->st, 4242, &r, 1, &err), STRATA_NOT_FOUND);
    /* And a good write counts its values. */
    write_cell two[2] = {{f->f_city, buf_slice(&str)}, good};
    r = (write_row){SLICE_LIT("g"), 1, 1, 2, two};
    assert_int_equal(store_write(f->st, f->eid, &r, 1, &err), 0);
    store_get_stats(f->st, &after);
    assert_true(after.values_written == before.values_written + 2);
    get_latest(f, "g", &row);
    assert_int_equal(row.n, 2);
    assert_true(row.cells[0].feature_id < row.cells[1].feature_id);
    latest_row_free(&row);
    buf_free(&i64);
    buf_free(&str);
    buf_free(&badutf);
}

/* ---- point-in-time reads ------------------------------------------------ */

static int pit(fx *f, uint32_t feature, int64_t ts, int64_t ttl_us, int64_t as_of, int64_t *val)
{
    version v;
    buf b = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    buf_append_str(&b, "pre"); /* the value is appended after what is there */
    int rc = store_pit_get(f->st, f->eid, SLICE_LIT("p"), feature, ts, ttl_us, as_of, &v, &b, &err);
    if (rc == 0) {
        assert_true(v.value.p == b.p + 3);
        assert_memory_equal(b.p, "pre", 3);
        *val = cell_i64(&v);
    } else {
        assert_int_equal(rc, STRATA_NOT_FOUND);
        assert_int_equal(b.n, 3);
    }
    buf_free(&b);
    return rc;
}

static void test_pit_ttl_edges_and_as_of(void **state)
{
    fx *f = *state;
    int64_t v = 0;
    must_put(f, "p", f->f_age, 100, 101, 1);
    must_put(f, "p", f->f_age, 200, 201, 2);
    must_put(f, "p", f->f_age, 300, 1000, 3);
    must_put(f, "p", f->f_age, 300, 2000, 4); /* a correction written later */
    const int64_t NOW = INT64_MAX;

    assert_int_equal(pit(f, f->f_age, 300, 0, NOW, &v), 0);
    assert_true(v == 4);
    assert_int_equal(pit(f, f->f_age, 299, 0, NOW, &v), 0); /* event <= ts */
    assert_true(v == 2);
    assert_int_equal(pit(f, f->f_age, 200, 0, NOW, &v), 0); /* inclusive */
    assert_true(v == 2);
    assert_int_equal(pit(f, f->f_age, 99, 0, NOW, &v), STRATA_NOT_FOUND);
    /* TTL window [ts - ttl, ts], both ends inclusive. */
    assert_int_equal(pit(f, f->f_age, 250, 50, NOW, &v), 0);
    assert_true(v == 2);
    assert_int_equal(pit(f, f->f_age, 251, 50, NOW, &v), STRATA_NOT_FOUND);
    assert_int_equal(pit(f, f->f_age, 299, 99, NOW, &v), 0);
    assert_true(v == 2);
    assert_int_equal(pit(f, f->f_age, 300, 1, NOW, &v), 0);
    assert_true(v == 4);
    /* as_of: only versions created at or before it. */
    assert_int_equal(pit(f, f->f_age, 300, 0, 2000, &v), 0);
    assert_true(v == 4);
    assert_int_equal(pit(f, f->f_age, 300, 0, 1999, &v), 0);
    assert_true(v == 3);
    assert_int_equal(pit(f, f->f_age, 300, 0, 999, &v), 0);
    assert_true(v == 2); /* falls back to an older event */
    assert_int_equal(pit(f, f->f_age, 300, 50, 999, &v), STRATA_NOT_FOUND); /* not in window */
    assert_int_equal(pit(f, f->f_age, 300, 100, 999, &v), 0);
    assert_true(v == 2);
    assert_int_equal(pit(f, f->f_age, 1000, 0, 100, &v), STRATA_NOT_FOUND);
    /* Writing later never changes an as_of answer. */
    must_put(f, "p", f->f_age, 250, 5000, 5);
    assert_int_equal(pit(f, f->f_age, 300, 0, 1999, &v), 0);
    assert_true(v == 3);
    assert_int_equal(pit(f, f->f_age, 299, 0, NOW, &v), 0);
    assert_true(v == 5);
    /* Other features and ids do not leak in; extreme times do not overflow. */
    assert_int_equal(pit(f, f->f_recent, 300, 0, NOW, &v), STRATA_NOT_FOUND);
    assert_int_equal(pit(f, f->f_age, INT64_MIN, INT64_MAX, NOW, &v), STRATA_NOT_FOUND);
    assert_int_equal(pit(f, f->f_age, INT64_MAX, INT64_MAX, NOW, &v), 0);
    assert_true(v == 4);
    must_put(f, "p", f->f_recent, -50, -50, 6); /* before the epoch */
    assert_int_equal(pit(f, f->f_recent, -1, 49, NOW, &v), 0);
    assert_true(v == 6);
    assert_int_equal(pit(f, f->f_recent, 0, 49, NOW, &v), STRATA_NOT_FOUND);
}

/* ---- deletes ------------------------------------------------------------ */

static void test_delete_ids(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    uint64_t deleted = 0;
    must_put(f, "a", f->f_age, 1, 1, 1);
    must_put(f, "a", f->f_age, 2, 1, 2);
    must_put(f, "a", f->f_recent, 2, 1, 2);
    must_put(f, "ab", f->f_age, 1, 1, 3); /* "a" is a prefix of "ab": must survive */
    must_put(f, "c", f->f_age, 1, 1, 4);
    slice ids[3] = {SLICE_LIT("a"), SLICE_LIT("c"), SLICE_LIT("a")};
    assert_int_equal(store_delete_ids(f->st, f->eid, ids, 3, &deleted, &err), 0);
    assert_true(deleted == 4);
    latest_row row = {0};
    get_latest(f, "a", &row);
    assert_int_equal(row.n, 0);
    get_latest(f, "c", &row);
    assert_int_equal(row.n, 0);
    get_latest(f, "ab", &row);
    assert_int_equal(row.n, 1);
    assert_int_equal(count_versions(f, "a", f->f_age), 0);
    assert_int_equal(count_versions(f, "ab", f->f_age), 1);
    /* Deleting again finds nothing; a write afterwards starts a fresh row. */
    assert_int_equal(store_delete_ids(f->st, f->eid, ids, 1, &deleted, &err), 0);
    assert_true(deleted == 0);
    must_put(f, "a", f->f_age, 0, 0, 9);
    get_latest(f, "a", &row);
    assert_int_equal(row.n, 1);
    assert_true(cell_i64(&row.cells[0]) == 9);
    assert_int_equal(store_delete_ids(f->st, 777, ids, 1, &deleted, &err), STRATA_NOT_FOUND);
    latest_row_free(&row);
}

static void test_delete_range_rebuilds_latest(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    uint64_t deleted = 0;
    uint32_t all[] = {f->f_age, f->f_recent};
    must_put(f, "x", f->f_age, 100, 1, 100);
    must_put(f, "x", f->f_age, 200, 1, 200);
    must_put(f, "x", f->f_age, 300, 1, 300);
    must_put(f, "x", f->f_recent, 250, 1, 250);
    must_put(f, "y", f->f_age, 300, 1, 301);
    uint32_t age[] = {f->f_age};

    assert_int_equal(store_delete_range(f->st, f->eid, age, 1, 200, 300, &deleted, &err), 0);
    assert_true(deleted == 1); /* x@200; x@300 and y@300 lie outside [200, 300) */
    latest_row row = {0};
    get_latest(f, "x", &row);
    assert_true(cell_i64(latest_row_find(&row, f->f_age)) == 300);
    check_latest_consistent(f, "x", all, 2);

    /* Removing the newest makes the next one the latest again. */
    assert_int_equal(store_delete_range(f->st, f->eid, age, 1, 300, 301, &deleted, &err), 0);
    assert_true(deleted == 2); /* x@300 and y@300 */
    get_latest(f, "x", &row);
    assert_true(cell_i64(latest_row_find(&row, f->f_age)) == 100);
    assert_true(cell_i64(latest_row_find(&row, f->f_recent)) == 250);
    check_latest_consistent(f, "x", all, 2);
    get_latest(f, "y", &row);
    assert_int_equal(row.n, 0); /* y lost its only version: row removed */

    /* A feature losing all versions leaves the row; the last one removes it. */
    uint32_t recent[] = {f->f_recent};
    assert_int_equal(
        store_delete_range(f->st, f->eid, recent, 1, INT64_MIN, INT64_MAX, &deleted, &err), 0);
    assert_true(deleted == 1);
    get_latest(f, "x", &row);
    assert_int_equal(row.n, 1);
    assert_null(latest_row_find(&row, f->f_recent));
    assert_int_equal(store_delete_range(f->st, f->eid, all, 2, 0, 1000, &deleted, &err), 0);
    assert_true(deleted == 1);
    get_latest(f, "x", &row);
    assert_int_equal(row.n, 0);

    /* A later write after deletes merges onto the rebuilt state. */
    must_put(f, "x", f->f_age, 50, 1, 50);
    get_latest(f, "x", &row);
    assert_true(cell_i64(latest_row_find(&row, f->f_age)) == 50);
    check_latest_consistent(f, "x", all, 2);

    assert_int_equal(store_delete_range(f->st, f->eid, age, 1, 10, 5, &deleted, &err),
                     STRATA_INVALID_ARGUMENT);
    uint32_t foreign[] = {9999};
    assert_int_equal(store_delete_range(f->st, f->eid, foreign, 1, 0, 10, &deleted, &err),
                     STRATA_NOT_FOUND);
    latest_row_free(&row);
}

/* ---- registry ----------------------------------------------------------- */

static void test_registry_persists(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    json_t *labels = json_pack("{s:s, s:s}", "team", "risk", "tier", "gold");
    assert_int_equal(
        store_entity_create(f->st, SLICE_LIT("merchant"), SLICE_LIT("shops"), labels, &err), 0);
    feature_spec spec = {SLICE_LIT("revenue"), VT_DOUBLE_ARRAY, 3600, SLICE_LIT("monthly"), labels};
    assert_int_equal(store_features_create(f->st, SLICE_LIT("merchant"), &spec, 1, &err), 0);
    json_object_set_new(labels, "tier", json_string("changed")); /* the store copied it */
    uint32_t mid = entity_id(f->st, "merchant"), rid = feature_id(f->st, "merchant", "revenue");
    const int64_t ttl = 7200;
    slice desc = SLICE_LIT("monthly revenue");
    assert_int_equal(store_feature_update(f->st, SLICE_LIT("merchant"), SLICE_LIT("revenue"), &desc,
                                          NULL, &ttl, &err),
                     0);

    reopen(f);
    const registry_t *reg = store_registry_acquire(f->st);
    assert_int_equal(registry_entity_count(reg), 2);
    assert_string_equal(registry_entity_at(reg, 0)->name, "customer"); /* sorted by name */
    assert_string_equal(registry_entity_at(reg, 1)->name, "merchant");
    const entity_def *m = registry_entity(reg, SLICE_LIT("merchant"));
    assert_non_null(m);
    assert_int_equal(m->id, mid);
    assert_ptr_equal(registry_entity_by_id(reg, mid), m);
    assert_string_equal(m->description, "shops");
    assert_string_equal(json_string_value(json_object_get(m->labels, "tier")), "gold");
    assert_int_equal(m->nfeatures, 1);
    const feature_def *r = registry_feature(m, SLICE_LIT("revenue"));
    assert_non_null(r);
    assert_int_equal(r->id, rid);
    assert_int_equal(r->entity_id, mid);
    assert_int_equal(r->type, VT_DOUBLE_ARRAY);
    assert_true(r->ttl_seconds == 7200);
    assert_string_equal(r->description, "monthly revenue");
    assert_true(r->update_time >= r->create_time);
    assert_ptr_equal(registry_feature_by_id(reg, rid), r);
    const entity_def *c = registry_entity(reg, SLICE_LIT("customer"));
    assert_int_equal(c->nfeatures, 4);
    for (size_t i = 1; i < c->nfeatures; i++) /* sorted by name */
        assert_true(strcmp(c->features[i - 1]->name, c->features[i]->name) < 0);
    assert_null(registry_feature(c, SLICE_LIT("revenue")));
    assert_null(registry_entity(reg, SLICE_LIT("nope")));
    assert_null(registry_feature_by_id(reg, 0));
    store_registry_release(f->st, reg);

    /* Ids continue after the reopen, never reused. */
    assert_int_equal(store_entity_create(f->st, SLICE_LIT("store"), SLICE_LIT(""), NULL, &err), 0);
    assert_true(entity_id(f->st, "store") > mid);
    spec.name = SLICE_LIT("sales");
    spec.labels = NULL;
    assert_int_equal(store_features_create(f->st, SLICE_LIT("store"), &spec, 1, &err), 0);
    assert_true(feature_id(f->st, "store", "sales") > rid);
    json_decref(labels);
}

/* A snapshot stays valid and unchanged while the registry moves on. */
static void test_registry_snapshot_isolation(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    const registry_t *old = store_registry_acquire(f->st);
    assert_int_equal(store_entity_create(f->st, SLICE_LIT("later"), SLICE_LIT(""), NULL, &err), 0);
    assert_int_equal(store_entity_delete(f->st, SLICE_LIT("customer"), false, &err), 0);
    assert_int_equal(registry_entity_count(old), 1);
    assert_non_null(registry_entity(old, SLICE_LIT("customer")));
    const registry_t *cur = store_registry_acquire(f->st);
    assert_int_equal(registry_entity_count(cur), 1);
    assert_non_null(registry_entity(cur, SLICE_LIT("later")));
    assert_null(registry_feature_by_id(cur, f->f_age));
    store_registry_release(f->st, old);
    store_registry_release(f->st, cur);
    store_registry_release(f->st, NULL);
}

static void test_features_all_or_nothing(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    feature_spec specs[2] = {
        {SLICE_LIT("ok1"), VT_INT64, 0, SLICE_LIT(""), NULL},
        {SLICE_LIT("Foo"), VT_INT64, 0, SLICE_LIT(""), NULL},
    };
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 2, &err),
                     STRATA_INVALID_ARGUMENT);
    if (!strstr(err.message, "invalid feature name \"Foo\": must match [a-z][a-z0-9_]{0,63}"))
        fail_msg("unexpected message: %s", err.message);
    assert_int_equal(feature_id(f->st, "customer", "ok1"), 0);

    specs[1].name = SLICE_LIT("ok1"); /* duplicate within the call */
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 2, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "given twice"));
    assert_int_equal(feature_id(f->st, "customer", "ok1"), 0);

    specs[1].name = SLICE_LIT("age"); /* exists already */
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 2, &err),
                     STRATA_ALREADY_EXISTS);
    assert_int_equal(feature_id(f->st, "customer", "ok1"), 0);

    specs[1] = (feature_spec){SLICE_LIT("ok2"), VT_STRING, -1, SLICE_LIT(""), NULL};
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 2, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "ttl_seconds"));
    /* A NULL err still yields the right code. */
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 2, NULL),
                     STRATA_INVALID_ARGUMENT);
    specs[1].ttl_seconds = 0;
    specs[1].type = (value_type)0;
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 2, &err),
                     STRATA_INVALID_ARGUMENT);
    specs[1].type = VT_STRING;
    assert_int_equal(store_features_create(f->st, SLICE_LIT("nobody"), specs, 2, &err),
                     STRATA_NOT_FOUND);
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 0, &err),
                     STRATA_INVALID_ARGUMENT);
    reopen(f);
    assert_int_equal(feature_id(f->st, "customer", "ok1"), 0);
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 2, &err), 0);
    assert_true(feature_id(f->st, "customer", "ok1") != 0);
    assert_true(feature_id(f->st, "customer", "ok2") != 0);
}

static void test_registry_validation(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(store_entity_create(f->st, SLICE_LIT("9lives"), SLICE_LIT(""), NULL, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "invalid entity name \"9lives\""));
    assert_int_equal(store_entity_create(f->st, SLICE_LIT("customer"), SLICE_LIT(""), NULL, &err),
                     STRATA_ALREADY_EXISTS);
    char name65[66];
    memset(name65, 'a', 65);
    name65[65] = '\0';
    assert_int_equal(store_entity_create(f->st, slice_of(name65), SLICE_LIT(""), NULL, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_int_equal(store_entity_create(f->st, (slice){name65, 64}, SLICE_LIT(""), NULL, &err), 0);

    json_t *arr = json_array(), *nonstr = json_pack("{s:i}", "k", 1),
           *eqkey = json_pack("{s:s}", "a=b", "v"), *many = json_object();
    for (unsigned i = 0; i <= LIMIT_LABELS_MAX; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%u", i);
        json_object_set_new(many, k, json_string("v"));
    }
    json_t *bad[] = {arr, nonstr, eqkey, many};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(
            store_entity_create(f->st, SLICE_LIT("labelled"), SLICE_LIT(""), bad[i], &err),
            STRATA_INVALID_ARGUMENT);
    char *longdesc = malloc(LIMIT_DESCRIPTION_MAX + 1);
    memset(longdesc, 'd', LIMIT_DESCRIPTION_MAX + 1);
    assert_int_equal(store_entity_create(f->st, SLICE_LIT("described"),
                                         (slice){longdesc, LIMIT_DESCRIPTION_MAX + 1}, NULL, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_int_equal(store_entity_create(f->st, SLICE_LIT("described"),
                                         (slice){longdesc, LIMIT_DESCRIPTION_MAX}, NULL, &err),
                     0);
    free(longdesc);

    /* Updates: unknown targets, bad values, and nothing changes on refusal. */
    int64_t neg = -5;
    assert_int_equal(store_feature_update(f->st, SLICE_LIT("customer"), SLICE_LIT("nope"), NULL,
                                          NULL, NULL, &err),
                     STRATA_NOT_FOUND);
    assert_int_equal(
        store_feature_update(f->st, SLICE_LIT("nope"), SLICE_LIT("age"), NULL, NULL, NULL, &err),
        STRATA_NOT_FOUND);
    assert_int_equal(store_feature_update(f->st, SLICE_LIT("customer"), SLICE_LIT("age"), NULL,
                                          nonstr, NULL, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_int_equal(store_feature_update(f->st, SLICE_LIT("customer"), SLICE_LIT("age"), NULL,
                                          NULL, &neg, &err),
                     STRATA_INVALID_ARGUMENT);
    json_t *good = json_pack("{s:s}", "owner", "ml");
    assert_int_equal(store_feature_update(f->st, SLICE_LIT("customer"), SLICE_LIT("age"), NULL,
                                          good, NULL, &err),
                     0);
    const registry_t *reg = store_registry_acquire(f->st);
    const feature_def *age = registry_feature_by_id(reg, f->f_age);
    assert_string_equal(json_string_value(json_object_get(age->labels, "owner")), "ml");
    assert_true(age->ttl_seconds == 0);
    assert_int_equal(age->type, VT_INT64);
    store_registry_release(f->st, reg);
    json_decref(good);
    for (size_t i = 0; i < 4; i++)
        json_decref(bad[i]);
}

static void test_entity_delete_precondition_and_force(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    must_put(f, "c1", f->f_age, 1, 1, 1);
    uint32_t old = f->eid;
    assert_int_equal(store_entity_delete(f->st, SLICE_LIT("customer"), false, &err),
                     STRATA_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "holds values"));
    assert_int_equal(entity_id(f->st, "customer"), old);
    assert_int_equal(store_entity_delete(f->st, SLICE_LIT("customer"), true, &err), 0);
    assert_int_equal(entity_id(f->st, "customer"), 0);
    bool has = true;
    assert_int_equal(store_entity_has_values(f->st, old, &has, &err), 0);
    assert_false(has);
    latest_row row = {0};
    assert_int_equal(store_latest_get(f->st, old, SLICE_LIT("c1"), &row, &err), 0);
    assert_int_equal(row.n, 0);
    assert_int_equal(store_entity_delete(f->st, SLICE_LIT("customer"), true, &err),
                     STRATA_NOT_FOUND);
    /* The name can be reused; the id is new and the old values stay gone. */
    assert_int_equal(store_entity_create(f->st, SLICE_LIT("customer"), SLICE_LIT(""), NULL, &err),
                     0);
    assert_true(entity_id(f->st, "customer") > old);
    assert_int_equal(entity_id(f->st, "customer") == old, 0);
    /* An entity without values goes without force, and stays gone on reopen. */
    assert_int_equal(store_entity_delete(f->st, SLICE_LIT("customer"), false, &err), 0);
    reopen(f);
    assert_int_equal(entity_id(f->st, "customer"), 0);
    const registry_t *reg = store_registry_acquire(f->st);
    assert_int_equal(registry_entity_count(reg), 0);
    store_registry_release(f->st, reg);
    latest_row_free(&row);
}

static void test_feature_delete(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    must_put(f, "d", f->f_age, 1, 1, 1);
    must_put(f, "d", f->f_age, 2, 1, 2);
    must_put(f, "d", f->f_recent, 1, 1, 3);
    uint32_t age = f->f_age;
    assert_int_equal(store_feature_delete(f->st, SLICE_LIT("customer"), SLICE_LIT("age"), &err), 0);
    assert_int_equal(feature_id(f->st, "customer", "age"), 0);
    assert_int_equal(count_versions(f, "d", age), 0);
    latest_row row = {0};
    get_latest(f, "d", &row);
    assert_int_equal(row.n, 1);
    assert_null(latest_row_find(&row, age));
    assert_true(cell_i64(latest_row_find(&row, f->f_recent)) == 3);
    /* A write naming the deleted feature id is refused. */
    assert_int_equal(put_i64(f, "d", age, 5, 5, 5, false, &err), STRATA_INVALID_ARGUMENT);
    assert_int_equal(store_feature_delete(f->st, SLICE_LIT("customer"), SLICE_LIT("age"), &err),
                     STRATA_NOT_FOUND);
    reopen(f);
    assert_int_equal(feature_id(f->st, "customer", "age"), 0);
    latest_row_free(&row);
}

/* ---- write groups (store/keys.h) ------------------------------------------ */

/* Write one row of INT64 cells: features[i] = vals[i]. */
static void must_put_row(fx *f, const char *id, const uint32_t *features, const int64_t *vals,
                         size_t n, int64_t ev, int64_t cr)
{
    buf b = BUF_INIT;
    write_cell c[8];
    size_t off[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        off[i] = b.n;
        value_encode_int64(&b, vals[i]);
    }
    for (size_t i = 0; i < n; i++)
        c[i] = (write_cell){features[i], {b.p + off[i], 9}};
    write_row r = {slice_of(id), ev, cr, n, c};
    strata_err err = STRATA_ERR_INIT;
    if (store_write(f->st, f->eid, &r, 1, &err))
        fail_msg("store_write: %s", err.message);
    buf_free(&b);
}

static uint32_t group_of(store_t *st, uint32_t fid)
{
    const registry_t *reg = store_registry_acquire(st);
    const feature_def *d = registry_feature_by_id(reg, fid);
    uint32_t g = d ? d->group : UINT32_MAX;
    store_registry_release(st, reg);
    return g;
}

/* `values` keys stored for one id. */
static size_t count_keys(fx *f, const char *id)
{
    buf pre = BUF_INIT;
    store_key_id(&pre, f->eid, slice_of(id));
    rocksdb_iterator_t *it =
        rocksdb_create_iterator_cf(f->st->db, f->st->ro_total, f->st->cf[CF_VALUES]);
    size_t n = 0;
    for (rocksdb_iter_seek(it, pre.p, pre.n); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kn;
        const char *k = rocksdb_iter_key(it, &kn);
        if (kn < pre.n || memcmp(k, pre.p, pre.n) != 0)
            break;
        n++;
    }
    rocksdb_iter_destroy(it);
    buf_free(&pre);
    return n;
}

static int64_t pit_i64(fx *f, const char *id, uint32_t feature, int64_t ts)
{
    version v;
    buf b = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    int rc = store_pit_get(f->st, f->eid, slice_of(id), feature, ts, 0, INT64_MAX, &v, &b, &err);
    int64_t r = rc == STRATA_NOT_FOUND ? -1 : cell_i64(&v);
    assert_true(rc == 0 || rc == STRATA_NOT_FOUND);
    buf_free(&b);
    return r;
}

/* INT64 features x, y, z of the fixture's entity. */
static void add_xyz(fx *f, uint32_t *x, uint32_t *y, uint32_t *z)
{
    strata_err err = STRATA_ERR_INIT;
    feature_spec specs[] = {{SLICE_LIT("x"), VT_INT64, 0, SLICE_LIT(""), NULL},
                            {SLICE_LIT("y"), VT_INT64, 0, SLICE_LIT(""), NULL},
                            {SLICE_LIT("z"), VT_INT64, 0, SLICE_LIT(""), NULL}};
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 3, &err), 0);
    *x = feature_id(f->st, "customer", "x");
    *y = feature_id(f->st, "customer", "y");
    *z = feature_id(f->st, "customer", "z");
}

static void test_write_groups(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    uint64_t deleted = 0;
    uint32_t age, score, recent; /* all INT64 */
    add_xyz(f, &age, &score, &recent);
    uint32_t all[] = {age, score, recent, f->f_age};
    assert_int_equal(group_of(f->st, age), 0); /* none until first written */

    /* age and score first come together: one set group, named by the smaller id. */
    uint32_t as[] = {age, score};
    must_put_row(f, "g", as, (int64_t[]){1, 2}, 2, 10, 10);
    uint32_t set = STORE_GROUP_SET | (age < score ? age : score);
    assert_int_equal(group_of(f->st, age), set);
    assert_int_equal(group_of(f->st, score), set);
    assert_int_equal(count_keys(f, "g"), 1); /* one key for the row */
    /* recent first comes alone: its own group. */
    must_put(f, "g", recent, 15, 15, 3);
    assert_int_equal(group_of(f->st, recent), recent);
    /* A later row with all three: one key for the set, one for recent. */
    uint32_t asr[] = {age, score, recent};
    must_put_row(f, "g", asr, (int64_t[]){4, 5, 6}, 3, 20, 20);
    assert_int_equal(count_keys(f, "g"), 4);
    /* A row with only part of the set: score's newest stays the older row's. */
    must_put_row(f, "g", &age, (int64_t[]){7}, 1, 30, 30);
    assert_int_equal(count_keys(f, "g"), 5);
    assert_true(pit_i64(f, "g", age, 40) == 7);
    assert_true(pit_i64(f, "g", score, 40) == 5);
    assert_true(pit_i64(f, "g", score, 19) == 2);
    assert_true(pit_i64(f, "g", recent, 40) == 6);
    assert_true(pit_i64(f, "g", age, 9) == -1);
    assert_int_equal(count_versions(f, "g", age), 3);
    assert_int_equal(count_versions(f, "g", score), 2);
    check_latest_consistent(f, "g", all, 4);

    /* The whole-entity scan hands out every cell, each feature newest first. */
    store_entity_scan *sc = NULL;
    assert_int_equal(store_values_scan_open(f->st, f->eid, NULL, &sc, &err), 0);
    slice id;
    version v;
    int rc, n = 0;
    int64_t last_age = INT64_MAX;
    while ((rc = store_values_scan_next(sc, &id, &v, &err)) == 1) {
        n++;
        if (v.feature_id == age) {
            assert_true(v.event_time < last_age);
            last_age = v.event_time;
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 7);
    store_entity_scan_close(sc);

    /* A delete by time rewrites the rows of the set: the row of age alone goes,
     * the others keep score. */
    assert_int_equal(store_delete_range(f->st, f->eid, &age, 1, 20, 31, &deleted, &err), 0);
    assert_true(deleted == 2);
    assert_int_equal(count_keys(f, "g"), 4); /* the 30 row went; the 20 row lost age */
    assert_true(pit_i64(f, "g", age, 40) == 1);
    assert_true(pit_i64(f, "g", score, 40) == 5);
    check_latest_consistent(f, "g", all, 4);

    /* Groups survive a reopen. */
    reopen(f);
    assert_int_equal(group_of(f->st, age), set);
    assert_int_equal(group_of(f->st, recent), recent);

    /* Deleting score takes its cells out of the set's rows: the 20 row held
     * only score now and goes; the 10 row keeps age; recent's two stay. */
    assert_int_equal(store_feature_delete(f->st, SLICE_LIT("customer"), SLICE_LIT("y"), &err), 0);
    assert_int_equal(count_keys(f, "g"), 3);
    assert_true(pit_i64(f, "g", age, 40) == 1);
    assert_int_equal(count_versions(f, "g", score), 0);
    uint32_t left[] = {age, recent};
    check_latest_consistent(f, "g", left, 2);
}

/* One write's new features share a group even when no row carries them all
 * (a CSV import whose first rows have empty cells). */
static void test_write_groups_per_write(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    uint32_t x, y, z;
    add_xyz(f, &x, &y, &z);
    buf b = BUF_INIT;
    value_encode_int64(&b, 1);
    value_encode_int64(&b, 2);
    value_encode_int64(&b, 3);
    write_cell c1[] = {{x, {b.p, 9}}}, c2[] = {{y, {b.p + 9, 9}}, {z, {b.p + 18, 9}}};
    write_row rows[] = {{SLICE_LIT("p"), 5, 5, 1, c1}, {SLICE_LIT("q"), 5, 5, 2, c2}};
    assert_int_equal(store_write(f->st, f->eid, rows, 2, &err), 0);
    uint32_t g = group_of(f->st, x);
    assert_true(store_group_is_set(g));
    assert_int_equal(group_of(f->st, y), g);
    assert_int_equal(group_of(f->st, z), g);
    assert_true(pit_i64(f, "p", x, 5) == 1);
    assert_true(pit_i64(f, "p", y, 5) == -1);
    assert_true(pit_i64(f, "q", z, 5) == 3);
    assert_int_equal(count_keys(f, "p"), 1);
    assert_int_equal(count_keys(f, "q"), 1);
    /* A refused write records nothing, not even write groups: z2's first
     * write fails on its second row's value. */
    feature_spec more[] = {{SLICE_LIT("z2"), VT_INT64, 0, SLICE_LIT(""), NULL},
                           {SLICE_LIT("z3"), VT_INT64, 0, SLICE_LIT(""), NULL}};
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), more, 2, &err), 0);
    uint32_t z2 = feature_id(f->st, "customer", "z2"), z3 = feature_id(f->st, "customer", "z3");
    write_cell ok[] = {{z2, {b.p, 9}}}, bad[] = {{z3, SLICE_LIT("\x02short")}};
    write_row two[] = {{SLICE_LIT("p"), 6, 6, 1, ok}, {SLICE_LIT("p"), 7, 7, 1, bad}};
    assert_int_equal(store_write(f->st, f->eid, two, 2, &err), STRATA_INVALID_ARGUMENT);
    assert_int_equal(group_of(f->st, z2), 0);
    assert_int_equal(group_of(f->st, z3), 0);
    /* A delete by id counts versions, not keys: q's one key held two. */
    uint64_t deleted = 0;
    slice q = SLICE_LIT("q");
    assert_int_equal(store_delete_ids(f->st, f->eid, &q, 1, &deleted, &err), 0);
    assert_true(deleted == 2);
    buf_free(&b);
}

/* A snapshot taken before a feature's delete still reads its cells in set
 * rows: the deleted feature's group stays known (registry.gone), across a
 * reopen too, until its entity goes. */
static void test_deleted_feature_in_snapshot(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    uint32_t x, y, z;
    add_xyz(f, &x, &y, &z);
    uint32_t xy[] = {x, y};
    must_put_row(f, "s", xy, (int64_t[]){7, 8}, 2, 5, 5);
    uint32_t g = group_of(f->st, y);
    store_snapshot *snap = store_snapshot_take(f->st);
    assert_int_equal(store_feature_delete(f->st, SLICE_LIT("customer"), SLICE_LIT("y"), &err), 0);
    store_pit_feature pf[] = {{x, 0}, {y, 0}};
    store_pit_scan *sc = NULL;
    version out[2];
    bool found[2];
    assert_int_equal(store_pit_scan_open(f->st, f->eid, pf, 2, INT64_MAX, snap, &sc, &err), 0);
    assert_int_equal(store_pit_scan_get(sc, SLICE_LIT("s"), 10, out, found, &err), 0);
    assert_true(found[0] && found[1]);
    assert_true(cell_i64(&out[1]) == 8);
    store_pit_scan_close(sc);
    store_snapshot_release(f->st, snap);
    /* The current view has no y any more. */
    assert_true(pit_i64(f, "s", y, 10) == -1);
    assert_true(pit_i64(f, "s", x, 10) == 7);
    reopen(f);
    const registry_t *reg = store_registry_acquire(f->st);
    assert_int_equal(store_registry_group(reg, f->eid, y), g);
    assert_int_equal(store_registry_group(reg, f->eid + 1, y), y); /* not that entity's */
    store_registry_release(f->st, reg);
    uint32_t eid = f->eid;
    assert_int_equal(store_entity_delete(f->st, SLICE_LIT("customer"), true, &err), 0);
    reg = store_registry_acquire(f->st);
    assert_int_equal(store_registry_group(reg, eid, y), y);
    store_registry_release(f->st, reg);
    reopen(f); /* its 'G' records went with it */
    reg = store_registry_acquire(f->st);
    assert_int_equal(store_registry_group(reg, eid, y), y);
    store_registry_release(f->st, reg);
}

/* ---- feature deletes in chunks -------------------------------------------- */

/* Versions of feature fid stored for the entity (cells of set rows included),
 * and the ids holding any: read straight from `values`. */
static size_t stored_versions(fx *f, uint32_t fid, size_t *ids_with)
{
    char ek[4];
    put_u32be(ek, f->eid);
    rocksdb_iterator_t *it =
        rocksdb_create_iterator_cf(f->st->db, f->st->ro_total, f->st->cf[CF_VALUES]);
    size_t n = 0, ids = 0;
    buf last = BUF_INIT;
    for (rocksdb_iter_seek(it, ek, 4); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        slice k, v;
        k.p = rocksdb_iter_key(it, &k.n);
        if (k.n < 4 || memcmp(k.p, ek, 4) != 0)
            break;
        v.p = rocksdb_iter_value(it, &v.n);
        value_key vk;
        assert_int_equal(store_key_value_decode(k, &vk), 0);
        size_t here = 0;
        if (!store_group_is_set(vk.group)) {
            here = vk.group == fid;
        } else {
            uint32_t cf;
            slice cv;
            while (store_cells_next(&v, &cf, &cv) == 1)
                here += cf == fid;
        }
        n += here;
        if (here && !(last.n == vk.id.n && memcmp(last.p, vk.id.p, vk.id.n) == 0)) {
            ids++;
            buf_reset(&last);
            buf_append_slice(&last, vk.id);
        }
    }
    rocksdb_iter_destroy(it);
    buf_free(&last);
    if (ids_with)
        *ids_with = ids;
    return n;
}

static bool purge_due(fx *f, uint32_t fid)
{
    buf k = BUF_INIT;
    store_key_reg_purge(&k, f->eid, fid);
    char *rerr = NULL;
    size_t vn;
    char *v =
        rocksdb_get_cf(f->st->db, f->st->ro_total, f->st->cf[CF_REGISTRY], k.p, k.n, &vn, &rerr);
    assert_null(rerr);
    buf_free(&k);
    free(v);
    return v != NULL;
}

/* ids "p0".."p<n-1>", two rows each of x, y, z written together (one set
 * group): 2n `values` keys. */
static void put_xyz_rows(fx *f, uint32_t x, uint32_t y, uint32_t z, size_t n)
{
    enum { BATCH = 1000 };
    write_row rows[BATCH];
    write_cell cells[BATCH][3];
    char ids[BATCH][16];
    buf enc = BUF_INIT;
    for (int t = 1; t <= 2; t++) {
        for (size_t s = 0; s < n; s += BATCH) {
            size_t m = n - s < BATCH ? n - s : BATCH;
            buf_reset(&enc);
            for (size_t i = 0; i < m; i++)
                for (int c = 0; c < 3; c++)
                    value_encode_int64(&enc, (int64_t)(s + i) * 10 + c + t * 1000000);
            for (size_t i = 0; i < m; i++) {
                snprintf(ids[i], sizeof ids[i], "p%zu", s + i);
                uint32_t fs[3] = {x, y, z};
                for (int c = 0; c < 3; c++)
                    cells[i][c] = (write_cell){fs[c], {enc.p + (3 * i + c) * 9, 9}};
                rows[i] = (write_row){slice_of(ids[i]), t, t, 3, cells[i]};
            }
            strata_err err = STRATA_ERR_INIT;
            if (store_write(f->st, f->eid, rows, m, &err))
                fail_msg("store_write: %s", err.message);
        }
    }
    buf_free(&enc);
}

/* A feature delete removes the feature's versions in chunks of whole ids
 * (here 60,000 keys: several chunks), leaving every other feature's versions
 * and latest cells as they were, and no purge record behind. */
static void test_feature_delete_in_chunks(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    uint32_t x, y, z;
    add_xyz(f, &x, &y, &z);
    enum { IDS = 30000 };
    put_xyz_rows(f, x, y, z, IDS);
    size_t with = 0;
    assert_int_equal(stored_versions(f, y, &with), 2 * IDS);
    assert_int_equal(with, IDS);
    assert_int_equal(store_feature_delete(f->st, SLICE_LIT("customer"), SLICE_LIT("y"), &err), 0);
    assert_int_equal(stored_versions(f, y, &with), 0);
    assert_int_equal(stored_versions(f, x, &with), 2 * IDS);
    assert_int_equal(with, IDS);
    assert_int_equal(stored_versions(f, z, NULL), 2 * IDS);
    assert_false(purge_due(f, y));
    /* Every id's latest row, those at the chunks' edges included. */
    for (size_t k = 0; k < IDS; k++) {
        char id[16];
        snprintf(id, sizeof id, "p%zu", k);
        latest_row row = {0};
        get_latest(f, id, &row);
        assert_int_equal(row.n, 2);
        assert_null(latest_row_find(&row, y));
        assert_true(cell_i64(latest_row_find(&row, x)) == (int64_t)k * 10 + 2000000);
        assert_true(cell_i64(latest_row_find(&row, z)) == (int64_t)k * 10 + 2 + 2000000);
        latest_row_free(&row);
    }
    assert_int_equal(count_versions(f, "p29999", x), 2);
}

/* A delete cut short after its registry change (a crash) is finished by the
 * next open; an entity deleted meanwhile takes the purge record with it. */
static void test_feature_delete_resumes_at_open(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    uint32_t x, y, z;
    add_xyz(f, &x, &y, &z);
    put_xyz_rows(f, x, y, z, 100);
    assert_int_equal(
        store_feature_delete_ex(f->st, SLICE_LIT("customer"), SLICE_LIT("y"), false, &err), 0);
    assert_int_equal(feature_id(f->st, "customer", "y"), 0);
    assert_int_equal(stored_versions(f, y, NULL), 200); /* not removed yet */
    assert_true(purge_due(f, y));
    /* Reads of the current registry never meet the orphaned cells. */
    latest_row row = {0};
    get_latest(f, "p7", &row);
    assert_true(cell_i64(latest_row_find(&row, x)) == 70 + 2000000);
    latest_row_free(&row);
    reopen(f);
    assert_int_equal(stored_versions(f, y, NULL), 0);
    assert_int_equal(stored_versions(f, x, NULL), 200);
    assert_false(purge_due(f, y));
    get_latest(f, "p7", &row);
    assert_int_equal(row.n, 2);
    assert_null(latest_row_find(&row, y));
    latest_row_free(&row);

    assert_int_equal(
        store_feature_delete_ex(f->st, SLICE_LIT("customer"), SLICE_LIT("z"), false, &err), 0);
    assert_true(purge_due(f, z));
    assert_int_equal(store_entity_delete(f->st, SLICE_LIT("customer"), true, &err), 0);
    assert_false(purge_due(f, z));
    store_close(f->st);
    f->st = must_open(f->db);
}

/* Past LIMIT_SET_GROUPS_PER_ENTITY sets, features first written together get
 * a group each: still one key per value, still read right. */
static void test_set_group_limit(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    size_t nf = 2 * (LIMIT_SET_GROUPS_PER_ENTITY + 1);
    feature_spec *specs = calloc(nf, sizeof *specs);
    char(*names)[16] = calloc(nf, sizeof *names);
    for (size_t i = 0; i < nf; i++) {
        snprintf(names[i], sizeof names[i], "w%zu", i);
        specs[i] = (feature_spec){slice_of(names[i]), VT_INT64, 0, SLICE_LIT(""), NULL};
    }
    assert_int_equal(store_entity_create(f->st, SLICE_LIT("wide"), SLICE_LIT(""), NULL, &err), 0);
    assert_int_equal(store_features_create(f->st, SLICE_LIT("wide"), specs, nf, &err), 0);
    f->eid = entity_id(f->st, "wide");
    for (size_t i = 0; i < nf; i += 2) {
        uint32_t pair[] = {feature_id(f->st, "wide", names[i]),
                           feature_id(f->st, "wide", names[i + 1])};
        must_put_row(f, "w", pair, (int64_t[]){(int64_t)i, (int64_t)i + 1}, 2, 5, 5);
        uint32_t g0 = group_of(f->st, pair[0]), g1 = group_of(f->st, pair[1]);
        if (i / 2 < LIMIT_SET_GROUPS_PER_ENTITY) {
            assert_true(store_group_is_set(g0));
            assert_int_equal(g0, g1);
        } else {
            assert_int_equal(g0, pair[0]);
            assert_int_equal(g1, pair[1]);
        }
        assert_true(pit_i64(f, "w", pair[1], 5) == (int64_t)i + 1);
    }
    assert_int_equal(count_keys(f, "w"), LIMIT_SET_GROUPS_PER_ENTITY + 2);
    free(specs);
    free(names);
}

/* A data directory of layout 1 (one key per value, no group records) opens
 * unchanged and reads as it is; its first write upgrades it to layout 2 with
 * every feature in its own group, and features created afterwards form set
 * groups. */
/* Single-cell writes lay values out exactly as layout 1 did; then the group
 * records of fids and the layout number are taken back to layout 1's. */
static void to_layout_1(fx *f, const uint32_t *fids, size_t n)
{
    char *rerr = NULL;
    for (size_t i = 0; i < n; i++) {
        buf k = BUF_INIT;
        store_key_reg_group(&k, f->eid, fids[i]);
        rocksdb_delete_cf(f->st->db, f->st->wo_sync, f->st->cf[CF_REGISTRY], k.p, k.n, &rerr);
        assert_null(rerr);
        buf_free(&k);
    }
    char one[4];
    put_u32be(one, 1);
    rocksdb_put_cf(f->st->db, f->st->wo_sync, f->st->cf[CF_META], STORE_META_LAYOUT,
                   strlen(STORE_META_LAYOUT), one, 4, &rerr);
    assert_null(rerr);
    reopen(f);
}

static void test_layout_1_upgrade(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    uint32_t x, y, z;
    add_xyz(f, &x, &y, &z);
    must_put(f, "u", x, 10, 10, 41);
    must_put(f, "u", y, 10, 10, 42);
    uint32_t fids[] = {x, y};
    to_layout_1(f, fids, 2);
    /* Opening changes nothing: a layout-1 directory reads as it is. */
    assert_int_equal(f->st->layout, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(group_of(f->st, fids[i]), 0);
    assert_true(pit_i64(f, "u", x, 10) == 41);
    assert_true(pit_i64(f, "u", y, 10) == 42);
    /* Nor does a refused write. */
    write_cell badc = {x, SLICE_LIT("\x02short")};
    write_row badr = {SLICE_LIT("u"), 30, 30, 1, &badc};
    assert_int_equal(store_write(f->st, f->eid, &badr, 1, &err), STRATA_INVALID_ARGUMENT);
    reopen(f);
    assert_int_equal(f->st->layout, 1);
    /* The first write upgrades it: every feature its own group, then the
     * write. Written together now, x and y stay apart: two keys. */
    must_put_row(f, "u", fids, (int64_t[]){51, 52}, 2, 20, 20);
    assert_int_equal(f->st->layout, STORE_LAYOUT_VERSION);
    for (int i = 0; i < 2; i++)
        assert_int_equal(group_of(f->st, fids[i]), fids[i]);
    assert_int_equal(group_of(f->st, z), z); /* never written: its own too */
    assert_true(pit_i64(f, "u", x, 10) == 41);
    assert_int_equal(count_keys(f, "u"), 4);
    assert_true(pit_i64(f, "u", y, 20) == 52);
    reopen(f);
    assert_int_equal(f->st->layout, STORE_LAYOUT_VERSION);
    feature_spec specs[] = {{SLICE_LIT("n1"), VT_INT64, 0, SLICE_LIT(""), NULL},
                            {SLICE_LIT("n2"), VT_INT64, 0, SLICE_LIT(""), NULL}};
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), specs, 2, &err), 0);
    uint32_t fresh[] = {feature_id(f->st, "customer", "n1"), feature_id(f->st, "customer", "n2")};
    must_put_row(f, "u", fresh, (int64_t[]){1, 2}, 2, 30, 30);
    assert_true(store_group_is_set(group_of(f->st, fresh[0])));
    assert_int_equal(count_keys(f, "u"), 5);
}

/* ---- bulk writers ------------------------------------------------------- */

/* max_successive_merges of `latest` in the newest OPTIONS file RocksDB wrote
 * (it writes one on every SetOptions); -1 when not found. */
static int latest_successive_merges(const char *db)
{
    DIR *d = opendir(db);
    assert_non_null(d);
    struct dirent *de;
    long best = -1;
    char name[300] = "";
    while ((de = readdir(d))) {
        long n;
        if (sscanf(de->d_name, "OPTIONS-%ld", &n) == 1 && n > best) {
            best = n;
            snprintf(name, sizeof name, "%s/%s", db, de->d_name);
        }
    }
    closedir(d);
    FILE *f = fopen(name, "r");
    assert_non_null(f);
    char line[512];
    bool in_latest = false;
    int v = -1;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '[')
            in_latest = strstr(line, "CFOptions \"latest\"") != NULL;
        else if (in_latest && sscanf(line, " max_successive_merges=%d", &v) == 1)
            break;
    }
    fclose(f);
    return v;
}

/* The merge operands RocksDB folds to read id's `latest` row: an iterator
 * counts them in the thread's perf context. */
static uint64_t latest_operands(fx *f, const char *id)
{
    buf k = BUF_INIT;
    store_key_id(&k, f->eid, slice_of(id));
    rocksdb_set_perf_level(rocksdb_enable_count);
    rocksdb_perfcontext_t *pc = rocksdb_perfcontext_create();
    rocksdb_perfcontext_reset(pc);
    rocksdb_iterator_t *it =
        rocksdb_create_iterator_cf(f->st->db, f->st->ro_total, f->st->cf[CF_LATEST]);
    rocksdb_iter_seek(it, k.p, k.n);
    assert_true(rocksdb_iter_valid(it));
    size_t kn;
    const char *got = rocksdb_iter_key(it, &kn);
    assert_true(kn == k.n && memcmp(got, k.p, kn) == 0);
    uint64_t n = rocksdb_perfcontext_metric(pc, rocksdb_internal_merge_count);
    rocksdb_iter_destroy(it);
    rocksdb_perfcontext_destroy(pc);
    rocksdb_set_perf_level(rocksdb_disable);
    buf_free(&k);
    return n;
}

static int64_t latest_i64(fx *f, const char *id, uint32_t feature)
{
    latest_row row = {0};
    get_latest(f, id, &row);
    const version *c = latest_row_find(&row, feature);
    int64_t v = c ? cell_i64(c) : -1;
    latest_row_free(&row);
    return v;
}

static void put_20(fx *f, const char *id)
{
    for (int i = 0; i < 20; i++)
        must_put(f, id, f->f_age, i, 1, i);
}

/* Imports bracket their writes: the operand count is off while any runs
 * (nested), back to 8 after the last; values stay right either way. RocksDB
 * reads the setting when it creates a memtable: a big load switches to a new
 * memtable (20 writes of an id stay 20 operands) — an empty one through a
 * placeholder tombstone no reader sees —, the last end switches back (they
 * fold at 8 again), and a small load leaves the memtable in use counting. */
static void test_bulk_writers(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(latest_successive_merges(f->db), 8);
    store_bulk_begin(f->st, STORE_BULK_SWITCH_BYTES); /* `latest`'s memtable is empty */
    assert_int_equal(latest_successive_merges(f->db), 0);
    put_20(f, "hot");
    assert_true(latest_operands(f, "hot") > 8);
    store_bulk_begin(f->st, 1000);
    put_20(f, "hot2");
    assert_true(latest_operands(f, "hot2") > 8);
    store_bulk_end(f->st);
    assert_int_equal(latest_successive_merges(f->db), 0); /* one still runs */
    store_bulk_end(f->st);
    assert_int_equal(latest_successive_merges(f->db), 8);
    put_20(f, "warm");
    assert_true(latest_operands(f, "warm") <= 8);
    store_bulk_begin(f->st, 1000);
    put_20(f, "small");
    assert_true(latest_operands(f, "small") <= 8);
    store_bulk_end(f->st);
    assert_true(latest_i64(f, "hot", f->f_age) == 19 && latest_i64(f, "hot2", f->f_age) == 19 &&
                latest_i64(f, "warm", f->f_age) == 19 && latest_i64(f, "small", f->f_age) == 19);
    /* The entity's ids are the four written: the placeholder is not one. */
    store_entity_scan *sc = NULL;
    assert_int_equal(store_ids_scan_open(f->st, f->eid, NULL, &sc, &err), 0);
    slice id;
    size_t n = 0;
    while (store_ids_scan_next(sc, &id, &err) == 1)
        n++;
    store_entity_scan_close(sc);
    assert_int_equal(n, 4);
}

/* ---- bulk loads (bulk.c) -------------------------------------------------- */

/* Rows of one batch: ids of several lengths, several rows of some ids (event
 * times out of order: the load folds their latest operands), age and score
 * always together (one set group), city in every third row (its own group
 * when first written alone, as here). */
static void bulk_rows(int round, size_t n, write_row *rows, write_cell (*cells)[3], char (*ids)[24],
                      buf *enc)
{
    buf_reset(enc);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            value_encode_int64(enc, (int64_t)(i * 7 + (size_t)c + (size_t)round * 100000));
    for (size_t i = 0; i < n; i++) {
        size_t who = (i * 7919) % (n / 3 + 1);
        snprintf(ids[i], sizeof ids[0], who % 5 ? "id%zu" : "%zu-long-identifier", who);
        int64_t ev = (int64_t)((i * 31) % 97) + round * 1000;
        rows[i] = (write_row){slice_of(ids[i]), ev, ev + 1, 2, cells[i]};
        rows[i].ncells = 2;
        cells[i][0] = (write_cell){0, {enc->p + (3 * i) * 9, 9}};
        cells[i][1] = (write_cell){0, {enc->p + (3 * i + 1) * 9, 9}};
        if (i % 3 == 0) {
            cells[i][2] = (write_cell){0, {enc->p + (3 * i + 2) * 9, 9}};
            rows[i].ncells = 3;
        }
    }
}

static void bulk_cells(fx *f, size_t n, write_cell (*cells)[3], uint32_t city_as)
{
    for (size_t i = 0; i < n; i++) {
        cells[i][0].feature_id = f->f_age;
        cells[i][1].feature_id = f->f_recent;
        cells[i][2].feature_id = city_as;
    }
}

/* A batch of BULK_N rows of age and recent (bulk_rows, two cells per row). */
enum { BULK_N = 300 };
typedef struct bulk_batch {
    write_row rows[BULK_N];
    write_cell cells[BULK_N][3];
    char ids[BULK_N][24];
    buf enc;
} bulk_batch;

static void bulk_batch_fill(fx *f, bulk_batch *bb, int round)
{
    bulk_rows(round, BULK_N, bb->rows, bb->cells, bb->ids, &bb->enc);
    bulk_cells(f, BULK_N, bb->cells, f->f_score);
    for (size_t i = 0; i < BULK_N; i++)
        bb->rows[i].ncells = 2;
}

/* The first batch, over a stored value of id1 that the load overlaps (so
 * RocksDB gives its files a global sequence number, which by default it would
 * write into a moved file, staging name and all: rocksdb_ext.cc). */
static bulk_batch *bulk_batch_over_stored(fx *f)
{
    static bulk_batch bb;
    must_put(f, "id1", f->f_age, 1, 1, 5);
    bulk_batch_fill(f, &bb, 0);
    return &bb;
}

/* Every (key, value) of a column family, merged as a reader sees them. */
static void dump_cf(store_t *st, enum store_cf cf, buf *out)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, st->ro_total, st->cf[cf]);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kn, vn;
        const char *k = rocksdb_iter_key(it, &kn), *v = rocksdb_iter_value(it, &vn);
        buf_put_varint(out, kn);
        buf_append(out, k, kn);
        buf_put_varint(out, vn);
        buf_append(out, v, vn);
    }
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    assert_null(rerr);
    rocksdb_iter_destroy(it);
}

static size_t dir_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A load stores exactly what store_write stores: two stores given the same
 * registry and the same batches, one written and one loaded (twice: into an
 * empty store, then over the first batch), hold the same `values` keys and
 * values and read the same latest rows. */
static void test_bulk_load_matches_write(void **state)
{
    fx *f = *state;
    enum { N = 900 };
    static write_row rows[N];
    static write_cell cells[N][3];
    static char ids[N][24];
    buf enc = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    char db2[128];
    snprintf(db2, sizeof db2, "%s/loaded", f->dir);
    fx g = *f;
    g.st = must_open(db2);
    assert_int_equal(
        store_entity_create(g.st, SLICE_LIT("customer"), SLICE_LIT("people"), NULL, &err), 0);
    feature_spec specs[] = {
        {SLICE_LIT("age"), VT_INT64, 0, SLICE_LIT(""), NULL},
        {SLICE_LIT("city"), VT_STRING, 0, SLICE_LIT(""), NULL},
        {SLICE_LIT("score"), VT_DOUBLE, 0, SLICE_LIT(""), NULL},
        {SLICE_LIT("recent"), VT_INT64, 60, SLICE_LIT(""), NULL},
    };
    assert_int_equal(store_features_create(g.st, SLICE_LIT("customer"), specs, 4, &err), 0);
    lookup_ids(&g);
    assert_int_equal(g.f_age, f->f_age);
    /* A third INT64 feature for the rows' third cell. */
    feature_spec extra = {SLICE_LIT("visits"), VT_INT64, 0, SLICE_LIT(""), NULL};
    assert_int_equal(store_features_create(f->st, SLICE_LIT("customer"), &extra, 1, &err), 0);
    assert_int_equal(store_features_create(g.st, SLICE_LIT("customer"), &extra, 1, &err), 0);
    uint32_t visits = feature_id(f->st, "customer", "visits");
    assert_int_equal(visits, feature_id(g.st, "customer", "visits"));
    /* The second round loads in the first one's memory (store_scratch):
     * nothing of the first batch may leak into it. */
    store_scratch *scratch = store_scratch_new();
    for (int round = 0; round < 2; round++) {
        bulk_rows(round, N, rows, cells, ids, &enc);
        bulk_cells(f, N, cells, visits);
        if (store_write(f->st, f->eid, rows, N, &err))
            fail_msg("store_write: %s", err.message);
        if (store_write_ingest(g.st, g.eid, rows, N, scratch, &err))
            fail_msg("store_write_ingest: %s", err.message);
        for (enum store_cf cf = CF_VALUES; cf <= CF_LATEST; cf++) {
            buf_reset(&a);
            buf_reset(&b);
            dump_cf(f->st, cf, &a);
            dump_cf(g.st, cf, &b);
            assert_true(a.n > 0);
            assert_int_equal(a.n, b.n);
            assert_memory_equal(a.p, b.p, a.n);
        }
    }
    store_scratch_free(scratch);
    uint32_t feats[] = {f->f_age, f->f_recent, visits};
    check_latest_consistent(&g, "id1", feats, 3);
    check_latest_consistent(&g, "0-long-identifier", feats, 3);
    /* Two loads, a file per column family each, and nothing left staged. */
    assert_int_equal(atomic_load(&g.st->bulk_files), 4);
    char staging[160];
    snprintf(staging, sizeof staging, "%s/%s", db2, STORE_BULK_DIR);
    assert_int_equal(dir_entries(staging), 0);
    store_close(g.st);
    buf_free(&enc);
    buf_free(&a);
    buf_free(&b);
}

struct keep_link {
    fx *f;
    char staged[512], saved[256];
};

/* bulk_test_between: link the load's `values` staging file to a second name. */
static void keep_values_link(void *arg)
{
    struct keep_link *k = arg;
    char dir[160];
    snprintf(dir, sizeof dir, "%s/%s", k->f->db, STORE_BULK_DIR);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".values.sst"))
            snprintf(k->staged, sizeof k->staged, "%s/%s", dir, de->d_name);
    closedir(d);
    assert_true(k->staged[0] != 0);
    snprintf(k->saved, sizeof k->saved, "%s/saved-values.sst", k->f->dir);
    assert_int_equal(link(k->staged, k->saved), 0);
}

/* A load a stop cut short after its `values` file went in (the marker says
 * the set was whole) is finished by the next open, even when the `values`
 * file is still staged too (ingested again, harmlessly: with RocksDB's default
 * write_global_seqno the ingest had changed it, and the second ingest was
 * refused as corrupt); a set without its marker never landed and is removed. */
static void test_bulk_load_finished_at_open(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    bulk_batch *bb = bulk_batch_over_stored(f);
    f->st->bulk_test_stop = 1;
    /* A second name for the `values` file, taken before its ingest: put back
     * after it, it is the file a crash between the ingest and the staging
     * file's removal leaves behind. */
    struct keep_link keep = {f, ""};
    f->st->bulk_test_between = keep_values_link;
    f->st->bulk_test_arg = &keep;
    assert_int_equal(store_write_ingest(f->st, f->eid, bb->rows, BULK_N, NULL, &err), 0);
    f->st->bulk_test_between = NULL;
    char staging[160], junk[224];
    snprintf(staging, sizeof staging, "%s/%s", f->db, STORE_BULK_DIR);
    assert_int_equal(dir_entries(staging), 2); /* the marker and the `latest` file */
    assert_int_equal(link(keep.saved, keep.staged), 0);
    unlink(keep.saved);
    assert_int_equal(dir_entries(staging), 3);
    assert_true(count_versions(f, "0-long-identifier", f->f_age) > 0);
    latest_row row = {0};
    get_latest(f, "0-long-identifier", &row);
    assert_int_equal(row.n, 0); /* not in yet */
    latest_row_free(&row);
    /* An incomplete set of a later load: no marker. */
    snprintf(junk, sizeof junk, "%s/00000000ffffffff.values.sst", staging);
    FILE *fp = fopen(junk, "w");
    assert_non_null(fp);
    fputs("half a table file", fp);
    fclose(fp);
    reopen(f);
    assert_int_equal(dir_entries(staging), 0);
    uint32_t feats[] = {f->f_age, f->f_recent};
    check_latest_consistent(f, "id1", feats, 2);
    check_latest_consistent(f, "0-long-identifier", feats, 2);
    get_latest(f, "id1", &row);
    assert_int_equal(row.n, 2);
    latest_row_free(&row);
    buf_free(&bb->enc);
}

struct between {
    fx *f;
    const char *feature; /* deleted between the files and the commit */
    const char *id;      /* or: this id's values deleted */
    int rc;
};

static void delete_between(void *arg)
{
    struct between *w = arg;
    strata_err err = STRATA_ERR_INIT;
    uint64_t n = 0;
    slice id = slice_of(w->id ? w->id : "");
    /* Both take data_lock exclusively: the load must not hold it here. */
    w->rc = w->feature
                ? store_feature_delete(w->f->st, SLICE_LIT("customer"), slice_of(w->feature), &err)
                : store_delete_ids(w->f->st, w->f->eid, &id, 1, &n, &err);
}

/* The files of a load are written with data_lock released; a feature of the
 * load deleted meanwhile voids it (nothing lands), an id's values deleted
 * meanwhile order before it (the load's rows stay). */
static void test_bulk_load_around_deletes(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    bulk_batch *bb = bulk_batch_over_stored(f);
    struct between w = {f, NULL, "id1", -1};
    f->st->bulk_test_between = delete_between;
    f->st->bulk_test_arg = &w;
    assert_int_equal(store_write_ingest(f->st, f->eid, bb->rows, BULK_N, NULL, &err), 0);
    assert_int_equal(w.rc, 0);
    /* The old version went with the delete; the loaded ones stay. */
    assert_int_equal(count_versions(f, "id1", f->f_age), 3);
    uint32_t feats[] = {f->f_age, f->f_recent};
    check_latest_consistent(f, "id1", feats, 2);

    bulk_batch_fill(f, bb, 1);
    w = (struct between){f, "recent", NULL, -1};
    uint64_t before = atomic_load(&f->st->bulk_files);
    int rc = store_write_ingest(f->st, f->eid, bb->rows, BULK_N, NULL, &err);
    assert_int_equal(w.rc, 0);
    assert_int_equal(rc, STRATA_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "deleted while they were being loaded"));
    assert_int_equal(atomic_load(&f->st->bulk_files), before);
    assert_int_equal(count_versions(f, "id1", f->f_age), 3); /* round 1's did not land */
    char staging[160];
    snprintf(staging, sizeof staging, "%s/%s", f->db, STORE_BULK_DIR);
    assert_int_equal(dir_entries(staging), 0);
    f->st->bulk_test_between = NULL;
    buf_free(&bb->enc);
}

/* A load in two steps (store_load_stage, store_load_finish) as an import
 * runs them: the next batch staged while the one before is unfinished. A
 * dropped staged load leaves nothing; the one finished lands whole. */
static void test_bulk_load_staged(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    static bulk_batch a, b;
    bulk_batch_fill(f, &a, 0); /* event times below 100 */
    bulk_batch_fill(f, &b, 1); /* event times 1000 and up */
    store_scratch *sa = store_scratch_new(), *sb = store_scratch_new();
    store_staged_load *la = NULL, *lb = NULL;
    uint64_t files = atomic_load(&f->st->bulk_files);
    assert_int_equal(store_load_stage(f->st, f->eid, a.rows, BULK_N, sa, &la, &err), 0);
    assert_int_equal(store_load_stage(f->st, f->eid, b.rows, BULK_N, sb, &lb, &err), 0);
    assert_non_null(la);
    assert_non_null(lb);
    assert_int_equal(count_versions(f, "id1", f->f_age), 0); /* staged: nothing visible */
    store_load_drop(f->st, la);
    assert_int_equal(store_load_finish(f->st, lb, &err), 0);
    assert_int_equal(atomic_load(&f->st->bulk_files), files + 2);
    /* Only round 1's versions of id1, each newer than anything of round 0. */
    store_versions *it = NULL;
    version v;
    int rc, n = 0;
    assert_int_equal(store_versions_open(f->st, f->eid, SLICE_LIT("id1"), f->f_age, &it, &err), 0);
    while ((rc = store_versions_next(it, &v, &err)) == 1) {
        assert_true(v.event_time >= 1000);
        n++;
    }
    assert_int_equal(rc, 0);
    store_versions_close(it);
    assert_true(n > 0);
    uint32_t feats[] = {f->f_age, f->f_recent};
    check_latest_consistent(f, "id1", feats, 2);
    /* No rows: nothing staged. */
    assert_int_equal(store_load_stage(f->st, f->eid, a.rows, 0, sa, &la, &err), 0);
    assert_null(la);
    char staging[160];
    snprintf(staging, sizeof staging, "%s/%s", f->db, STORE_BULK_DIR);
    assert_int_equal(dir_entries(staging), 0);
    store_scratch_free(sa);
    store_scratch_free(sb);
    buf_free(&a.enc);
    buf_free(&b.enc);
}

/* A big batch is sorted by integer prefixes (kv.c sort_by_prefix): keys that
 * are prefixes of each other, share long prefixes or repeat still apply in
 * (key, staging) order, the last op on a key winning. */
static void test_big_batch_order(void **state)
{
    fx *f = *state;
    enum { N = 2000 };
    const store_space sp = STORE_SPACE_LINEAGE;
    store_batch *b = store_batch_new();
    char k[64], v[32];
    for (int i = 0; i < N; i++) {
        int len = snprintf(k, sizeof k, "common-prefix-%d", (i * 37) % 500);
        /* some keys end in zero bytes: "…-7\0\0" sorts after "…-7" */
        size_t extra = (size_t)(i % 3);
        memset(k + len, 0, extra);
        snprintf(v, sizeof v, "%d", i);
        store_batch_put(b, sp, (slice){k, (size_t)len + extra}, slice_of(v));
    }
    assert_int_equal(store_batch_commit(f->st, b, false, NULL), 0);
    store_batch_free(b);
    /* Expected: per key, the value of its last staging. */
    for (int i = 0; i < N; i++) {
        int len = snprintf(k, sizeof k, "common-prefix-%d", (i * 37) % 500);
        size_t extra = (size_t)(i % 3);
        memset(k + len, 0, extra);
        int last = -1;
        for (int j = i; j < N; j++) {
            char k2[64];
            int len2 = snprintf(k2, sizeof k2, "common-prefix-%d", (j * 37) % 500);
            memset(k2 + len2, 0, (size_t)(j % 3));
            if (len2 + j % 3 == len + (int)extra && memcmp(k, k2, (size_t)len + extra) == 0)
                last = j;
        }
        buf got = BUF_INIT;
        assert_int_equal(store_kv_get(f->st, sp, NULL, (slice){k, (size_t)len + extra}, &got, NULL),
                         0);
        snprintf(v, sizeof v, "%d", last);
        assert_int_equal(got.n, strlen(v));
        assert_memory_equal(got.p, v, got.n);
        buf_free(&got);
    }
}

/* In a layout-1 directory not written since, a feature with versions has no
 * group record yet: its delete still removes them. */
static void test_layout_1_feature_delete(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    uint32_t x, y, z;
    add_xyz(f, &x, &y, &z);
    must_put(f, "v", x, 10, 10, 1);
    must_put(f, "v", y, 10, 10, 2);
    must_put(f, "w", y, 10, 10, 3);
    uint32_t fids[] = {x, y};
    to_layout_1(f, fids, 2);
    assert_int_equal(group_of(f->st, y), 0);
    assert_int_equal(store_feature_delete(f->st, SLICE_LIT("customer"), SLICE_LIT("y"), &err), 0);
    assert_int_equal(stored_versions(f, y, NULL), 0);
    assert_int_equal(stored_versions(f, x, NULL), 1);
    assert_false(purge_due(f, y));
    latest_row row = {0};
    get_latest(f, "w", &row);
    assert_int_equal(row.n, 0); /* its only value was y's */
    latest_row_free(&row);
    assert_true(latest_i64(f, "v", x) == 1);
}

/* ---- row cache ------------------------------------------------------------ */

static void flush_latest(fx *f, bool compact)
{
    char *rerr = NULL;
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    rocksdb_flush_cf(f->st->db, fo, f->st->cf[CF_LATEST], &rerr);
    rocksdb_flushoptions_destroy(fo);
    assert_null(rerr);
    if (compact)
        rocksdb_compact_range_cf(f->st->db, f->st->cf[CF_LATEST], NULL, 0, NULL, 0);
}

/* Online reads through RocksDB's row cache see every change: a newer write
 * over a cached row (its fragment in the memtable), the same after a flush
 * and a compaction move the row to new files, an older write that must not
 * win, a delete, a rewrite; and the cache is used (it holds rows). */
static void test_row_cache(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    store_close(f->st);
    store_options o = {.path = f->db,
                       .sync = STORE_SYNC_NEVER,
                       .block_cache_bytes = (size_t)8 << 20,
                       .row_cache_bytes = (size_t)1 << 20};
    f->st = NULL;
    assert_int_equal(store_open(&o, &f->st, &err), 0);

    must_put(f, "r", f->f_age, 10, 1, 1);
    flush_latest(f, false);
    assert_true(latest_i64(f, "r", f->f_age) == 1); /* cached from the table file */
    store_stats st;
    store_get_stats(f->st, &st);
    assert_true(st.row_cache_capacity == (size_t)1 << 20);
    assert_true(st.row_cache_bytes > 0);
    must_put(f, "r", f->f_age, 20, 2, 2);
    assert_true(latest_i64(f, "r", f->f_age) == 2);
    flush_latest(f, false);
    assert_true(latest_i64(f, "r", f->f_age) == 2);
    flush_latest(f, true);
    assert_true(latest_i64(f, "r", f->f_age) == 2);
    must_put(f, "r", f->f_age, 5, 3, 3); /* older event time: stays a version only */
    assert_true(latest_i64(f, "r", f->f_age) == 2);
    flush_latest(f, true);
    assert_true(latest_i64(f, "r", f->f_age) == 2);
    uint64_t deleted = 0;
    slice ids[1] = {SLICE_LIT("r")};
    assert_int_equal(store_delete_ids(f->st, f->eid, ids, 1, &deleted, &err), 0);
    assert_true(latest_i64(f, "r", f->f_age) == -1);
    must_put(f, "r", f->f_age, 1, 4, 4);
    assert_true(latest_i64(f, "r", f->f_age) == 4);
    flush_latest(f, true);
    assert_true(latest_i64(f, "r", f->f_age) == 4);
}

/* ---- durability, open errors, read-only --------------------------------- */

static uint64_t latest_seq(fx *f, const char *id, uint32_t feature)
{
    latest_row row = {0};
    get_latest(f, id, &row);
    const version *c = latest_row_find(&row, feature);
    assert_non_null(c);
    uint64_t s = c->seq;
    latest_row_free(&row);
    return s;
}

static void test_seq_monotonic_across_reopen(void **state)
{
    fx *f = *state;
    uint64_t prev = 0;
    for (int round = 0; round < 4; round++) {
        /* Same event and created time each round: only the seq orders them. */
        must_put(f, "s", f->f_age, 10, 10, round);
        uint64_t s = latest_seq(f, "s", f->f_age);
        assert_true(s > prev);
        latest_row row = {0};
        get_latest(f, "s", &row);
        assert_true(cell_i64(&row.cells[0]) == round); /* the later write wins */
        latest_row_free(&row);
        prev = s;
        reopen(f);
    }
    assert_int_equal(count_versions(f, "s", f->f_age), 4);
}

static void test_open_errors(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    store_t *second = NULL;
    /* Locked by the open store. */
    assert_true(open_store(f->db, false, &second, &err) != 0);
    assert_null(second);
    if (!strstr(err.message, "cannot open data directory") || !strstr(err.message, "lock"))
        fail_msg("unexpected message: %s", err.message);

    /* A directory whose CURRENT file is garbage. */
    char bad[128];
    snprintf(bad, sizeof bad, "%s/corrupt", f->dir);
    assert_int_equal(mkdir(bad, 0755), 0);
    char cur[160];
    snprintf(cur, sizeof cur, "%s/CURRENT", bad);
    FILE *fp = fopen(cur, "w");
    assert_non_null(fp);
    fputs("MANIFEST-does-not-exist\n", fp);
    fclose(fp);
    err_clear(&err);
    assert_true(open_store(bad, false, &second, &err) != 0);
    assert_null(second);
    assert_non_null(strstr(err.message, "cannot open data directory"));

    /* Read-only of a directory that holds no store. */
    snprintf(bad, sizeof bad, "%s/absent", f->dir);
    assert_true(open_store(bad, true, &second, &err) != 0);
    assert_non_null(strstr(err.message, "cannot open data directory"));
    store_options none = {NULL, STORE_SYNC_NEVER, 0, false};
    assert_int_equal(store_open(&none, &second, &err), STRATA_INVALID_ARGUMENT);
}

static void test_read_only(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    must_put(f, "r", f->f_age, 1, 1, 42);
    store_close(f->st);
    f->st = NULL;
    store_t *ro = NULL;
    if (open_store(f->db, true, &ro, &err))
        fail_msg("read-only open: %s", err.message);
    f->st = ro;
    lookup_ids(f);
    latest_row row = {0};
    get_latest(f, "r", &row);
    assert_true(cell_i64(&row.cells[0]) == 42);
    assert_int_equal(put_i64(f, "r", f->f_age, 2, 2, 2, false, &err), STRATA_FAILED_PRECONDITION);
    assert_int_equal(store_entity_create(f->st, SLICE_LIT("x"), SLICE_LIT(""), NULL, &err),
                     STRATA_FAILED_PRECONDITION);
    uint64_t d;
    slice id = SLICE_LIT("r");
    assert_int_equal(store_delete_ids(f->st, f->eid, &id, 1, &d, &err), STRATA_FAILED_PRECONDITION);
    latest_row_free(&row);
}

/* A batch reaches RocksDB sorted by (space, key) for cheap memtable inserts;
 * ops on one key keep their staging order, so the last one still wins. */
static void test_batch_last_op_on_a_key_wins(void **state)
{
    fx *f = *state;
    store_batch *b = store_batch_new();
    const store_space sp = STORE_SPACE_LINEAGE;
    store_batch_put(b, sp, SLICE_LIT("k2"), SLICE_LIT("first"));
    store_batch_put(b, sp, SLICE_LIT("k1"), SLICE_LIT("one"));
    store_batch_put(b, STORE_SPACE_JOBS, SLICE_LIT("k2"), SLICE_LIT("jobs"));
    store_batch_put(b, sp, SLICE_LIT("k2"), SLICE_LIT("second"));
    store_batch_put(b, sp, SLICE_LIT("k3"), SLICE_LIT("gone"));
    store_batch_delete(b, sp, SLICE_LIT("k3"));
    store_batch_delete(b, sp, SLICE_LIT("k4"));
    store_batch_put(b, sp, SLICE_LIT("k4"), (slice){NULL, 0});
    assert_int_equal(store_batch_count(b), 8);
    assert_int_equal(store_batch_commit(f->st, b, false, NULL), 0);
    store_batch_free(b);
    buf v = BUF_INIT;
    assert_int_equal(store_kv_get(f->st, sp, NULL, SLICE_LIT("k2"), &v, NULL), 0);
    assert_int_equal(v.n, 6);
    assert_memory_equal(v.p, "second", 6);
    buf_reset(&v);
    assert_int_equal(store_kv_get(f->st, STORE_SPACE_JOBS, NULL, SLICE_LIT("k2"), &v, NULL), 0);
    assert_memory_equal(v.p, "jobs", 4);
    buf_reset(&v);
    assert_int_equal(store_kv_get(f->st, sp, NULL, SLICE_LIT("k1"), &v, NULL), 0);
    assert_memory_equal(v.p, "one", 3);
    assert_int_equal(store_kv_get(f->st, sp, NULL, SLICE_LIT("k3"), &v, NULL), STRATA_NOT_FOUND);
    buf_reset(&v);
    assert_int_equal(store_kv_get(f->st, sp, NULL, SLICE_LIT("k4"), &v, NULL), 0);
    assert_int_equal(v.n, 0);
    buf_free(&v);
}

static void test_stats(void **state)
{
    fx *f = *state;
    store_stats s;
    must_put(f, "z", f->f_age, 1, 1, 1);
    must_put(f, "z", f->f_age, 2, 1, 1);
    store_get_stats(f->st, &s);
    assert_true(s.values_written == 2);
    assert_true(s.memtable_bytes > 0);
}

/* ---- concurrency -------------------------------------------------------- */

enum { CW_THREADS = 3, CW_IDS = 250 };

typedef struct cw_arg {
    fx *f;
    int tid;
    int failures;
    _Atomic int *writers_left;
} cw_arg;

/*
 * Every id gets exactly two writes, in separate batches: an old version (the
 * deleter's target range) and then the id's only newest version. A delete
 * whose scan saw the first batch but not the second rebuilds the row without
 * the newest version; if that rebuild could overwrite the second batch's
 * merge, nothing would repair it and the final check would catch it.
 */
static void *cw_writer(void *p)
{
    cw_arg *a = p;
    for (int i = 0; i < CW_IDS; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d_%d", a->tid, i);
        uint32_t feat = i % 3 ? a->f->f_age : a->f->f_recent;
        strata_err err = STRATA_ERR_INIT;
        if (put_i64(a->f, id, feat, i % 100, 0, i, false, &err) ||
            put_i64(a->f, id, feat, 1000, 0, i, false, &err))
            a->failures++;
    }
    atomic_fetch_sub(a->writers_left, 1);
    return NULL;
}

static void *cw_deleter(void *p)
{
    cw_arg *a = p;
    for (int i = 0; atomic_load(a->writers_left) > 0; i++) {
        strata_err err = STRATA_ERR_INIT;
        uint64_t d;
        uint32_t feats[2] = {a->f->f_age, a->f->f_recent};
        if (store_delete_range(a->f->st, a->f->eid, feats, 2, 0, 100, &d, &err))
            a->failures++;
        if (i % 16 == 15) {
            slice id = SLICE_LIT("t0_0");
            if (store_delete_ids(a->f->st, a->f->eid, &id, 1, &d, &err))
                a->failures++;
        }
    }
    return NULL;
}

static void check_all_cw_ids(fx *f)
{
    uint32_t feats[] = {f->f_age, f->f_recent};
    for (int t = 0; t < CW_THREADS; t++) {
        for (int i = 0; i < CW_IDS; i++) {
            char id[16];
            snprintf(id, sizeof id, "t%d_%d", t, i);
            check_latest_consistent(f, id, feats, 2);
        }
    }
}

/* Writers and a deleter race; afterwards every latest row must still equal
 * the newest surviving versions (data_lock keeps rebuilds and merges apart). */
static void test_concurrent_writes_and_deletes(void **state)
{
    fx *f = *state;
    pthread_t th[CW_THREADS + 1];
    cw_arg args[CW_THREADS + 1];
    _Atomic int left = CW_THREADS;
    for (int i = 0; i <= CW_THREADS; i++) {
        args[i] = (cw_arg){f, i, 0, &left};
        assert_int_equal(
            pthread_create(&th[i], NULL, i < CW_THREADS ? cw_writer : cw_deleter, &args[i]), 0);
    }
    for (int i = 0; i <= CW_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    check_all_cw_ids(f);
    reopen(f);
    check_all_cw_ids(f);
}


/* ---- durability and operations ------------------------------------------- */

static void test_foreign_dirs_refused(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    store_t *st = NULL;
    char dir[160], file[200];

    /* Files, no CURRENT: another program's directory; left as it was. */
    snprintf(dir, sizeof dir, "%s/other", f->dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(file, sizeof file, "%s/notes.txt", dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(open_store(dir, false, &st, &err), STRATA_FAILED_PRECONDITION);
    assert_null(st);
    assert_non_null(strstr(err.message, "not a Strata data directory"));
    assert_non_null(strstr(err.message, "notes.txt"));
    snprintf(file, sizeof file, "%s/CURRENT", dir);
    assert_int_not_equal(access(file, F_OK), 0);

    /* A RocksDB database of another program: refused, and no column family
     * of Strata's is added to it. */
    snprintf(dir, sizeof dir, "%s/otherdb", f->dir);
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    char *rerr = NULL;
    rocksdb_t *db = rocksdb_open(o, dir, &rerr);
    assert_null(rerr);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_put(db, wo, "k", 1, "v", 1, &rerr);
    assert_null(rerr);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    err_clear(&err);
    assert_int_equal(open_store(dir, false, &st, &err), STRATA_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "not a Strata data directory"));
    size_t ncf = 0;
    char **cfs = rocksdb_list_column_families(o, dir, &ncf, &rerr);
    assert_null(rerr);
    assert_int_equal(ncf, 1);
    rocksdb_list_column_families_destroy(cfs, ncf);
    rocksdb_options_destroy(o);
}

static void test_newer_layout_refused(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    char b[4], *rerr = NULL;
    put_u32be(b, STORE_LAYOUT_VERSION + 1);
    rocksdb_put_cf(f->st->db, f->st->wo_sync, f->st->cf[CF_META], STORE_META_LAYOUT,
                   strlen(STORE_META_LAYOUT), b, 4, &rerr);
    assert_null(rerr);
    store_close(f->st);
    f->st = NULL;
    store_t *st = NULL;
    assert_int_equal(open_store(f->db, false, &st, &err), STRATA_FAILED_PRECONDITION);
    char want[64];
    snprintf(want, sizeof want, "layout version %u", STORE_LAYOUT_VERSION + 1);
    if (!strstr(err.message, want))
        fail_msg("unexpected message: %s", err.message);
}

static store_t *open_sync(const char *path, store_sync mode)
{
    strata_err err = STRATA_ERR_INIT;
    store_t *st = NULL;
    store_options o = {.path = path, .sync = mode, .block_cache_bytes = (size_t)8 << 20,
                       .sync_interval_ms = 10};
    if (store_open(&o, &st, &err))
        fail_msg("store_open: %s", err.message);
    return st;
}

static uint64_t wal_syncs(store_t *st)
{
    store_stats s;
    store_get_stats(st, &s);
    return s.wal_syncs;
}

static void test_sync_batch_fsyncs_in_background(void **state)
{
    fx *f = *state;
    store_close(f->st);
    f->st = open_sync(f->db, STORE_SYNC_BATCH);
    lookup_ids(f);
    usleep(50 * 1000);
    assert_true(wal_syncs(f->st) == 0); /* nothing written: nothing to sync */
    must_put(f, "b", f->f_age, 1, 1, 7);
    for (int i = 0; i < 200 && wal_syncs(f->st) == 0; i++)
        usleep(10 * 1000);
    assert_true(wal_syncs(f->st) >= 1);
    /* The write was two batches (the seq ceiling, then the values): a sync
     * may have fallen between them, and the second is then synced one tick
     * later. After that the store is idle: no further fsyncs. */
    usleep(60 * 1000);
    uint64_t n = wal_syncs(f->st);
    usleep(60 * 1000);
    assert_true(wal_syncs(f->st) == n);

    store_close(f->st);
    f->st = open_sync(f->db, STORE_SYNC_NEVER);
    lookup_ids(f);
    must_put(f, "b", f->f_age, 2, 2, 8);
    usleep(60 * 1000);
    assert_true(wal_syncs(f->st) == 0);
    latest_row row = {0};
    get_latest(f, "b", &row);
    assert_true(cell_i64(&row.cells[0]) == 8);
    latest_row_free(&row);
}

static void test_checkpoint_and_verify(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    char cp[160];
    must_put(f, "before", f->f_age, 1, 1, 1);
    snprintf(cp, sizeof cp, "%s/cp", f->dir);
    assert_int_equal(store_checkpoint(f->st, cp, &err), 0);
    must_put(f, "after", f->f_age, 1, 1, 2);
    assert_true(store_checkpoint(f->st, cp, &err) != 0); /* exists already */
    uint64_t n = 0;
    assert_int_equal(store_verify(f->st, &n, &err), 0);
    assert_true(n >= 4); /* two versions, two latest rows, registry, meta */

    store_t *main_st = f->st;
    f->st = must_open(cp);
    latest_row row = {0};
    get_latest(f, "before", &row);
    assert_int_equal(row.n, 1);
    get_latest(f, "after", &row);
    assert_int_equal(row.n, 0);
    latest_row_free(&row);
    store_close(f->st);
    f->st = main_st;
}

static void test_replica_catches_up(void **state)
{
    fx *f = *state;
    strata_err err = STRATA_ERR_INIT;
    char scratch[160];
    snprintf(scratch, sizeof scratch, "%s/replica", f->dir);
    must_put(f, "p1", f->f_age, 1, 1, 10);
    store_t *rep = NULL;
    store_options o = {.path = scratch, .block_cache_bytes = (size_t)8 << 20,
                       .secondary_of = f->db};
    if (store_open(&o, &rep, &err))
        fail_msg("replica open: %s", err.message);
    assert_true(store_is_replica(rep) && store_is_read_only(rep));
    assert_false(store_is_replica(f->st));

    must_put(f, "p2", f->f_age, 1, 1, 20);
    assert_int_equal(store_entity_create(f->st, SLICE_LIT("late"), SLICE_LIT(""), NULL, &err), 0);
    assert_int_equal(entity_id(rep, "late"), 0);
    assert_int_equal(store_catch_up(rep, &err), 0);
    assert_int_not_equal(entity_id(rep, "late"), 0);
    latest_row row = {0};
    assert_int_equal(store_latest_get(rep, f->eid, SLICE_LIT("p2"), &row, &err), 0);
    assert_int_equal(row.n, 1);
    assert_true(cell_i64(&row.cells[0]) == 20);
    latest_row_free(&row);

    store_t *prim = f->st;
    f->st = rep;
    assert_int_equal(put_i64(f, "p3", f->f_age, 1, 1, 1, false, &err), STRATA_FAILED_PRECONDITION);
    assert_int_equal(store_checkpoint(rep, scratch, &err), STRATA_FAILED_PRECONDITION);
    f->st = prim;
    store_close(rep);
    assert_int_equal(store_catch_up(f->st, &err), STRATA_FAILED_PRECONDITION);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_out_of_order),
        cmocka_unit_test(test_merge_many),
        cmocka_unit_test(test_merge_malformed),
        cmocka_unit_test(test_merge_single_operand),
        cmocka_unit_test(test_merge_fragments),
        T(test_latest_out_of_order_writes),
        T(test_latest_many_writes_of_one_id),
        T(test_versions_order_and_batch_seqs),
        T(test_multiget),
        T(test_write_validation_is_atomic),
        T(test_pit_ttl_edges_and_as_of),
        T(test_delete_ids),
        T(test_delete_range_rebuilds_latest),
        T(test_registry_persists),
        T(test_registry_snapshot_isolation),
        T(test_features_all_or_nothing),
        T(test_registry_validation),
        T(test_entity_delete_precondition_and_force),
        T(test_feature_delete),
        T(test_feature_delete_in_chunks),
        T(test_feature_delete_resumes_at_open),
        T(test_layout_1_feature_delete),
        T(test_bulk_load_matches_write),
        T(test_bulk_load_finished_at_open),
        T(test_bulk_load_around_deletes),
        T(test_bulk_load_staged),
        T(test_big_batch_order),
        T(test_write_groups),
        T(test_write_groups_per_write),
        T(test_deleted_feature_in_snapshot),
        T(test_set_group_limit),
        T(test_layout_1_upgrade),
        T(test_bulk_writers),
        T(test_row_cache),
        T(test_seq_monotonic_across_reopen),
        T(test_open_errors),
        T(test_read_only),
        T(test_batch_last_op_on_a_key_wins),
        T(test_stats),
        T(test_concurrent_writes_and_deletes),
        T(test_foreign_dirs_refused),
        T(test_newer_layout_refused),
        T(test_sync_batch_fsyncs_in_background),
        T(test_checkpoint_and_verify),
        T(test_replica_catches_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
