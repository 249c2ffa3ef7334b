/*
 * test_sorter.c - the external sort: random records against qsort, in memory
 * and spilled with a tiny budget (many runs, intermediate merges with a small
 * fan-in), stability for equal keys, already-sorted input, large records,
 * empty sorts, and the refusal to spill without a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ingest/sorter.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct rec {
    char key[24];
    size_t klen;
    uint32_t seq; /* insertion order, in the value */
    size_t vlen;
} rec;

static int rec_cmp(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    int c = slice_cmp((slice){x->key, x->klen}, (slice){y->key, y->klen});
    if (c)
        return c;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/strata_test_sorter_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* Runs are unlinked at creation: the directory must be empty again. */
    assert_int_equal(rmdir(tmpdir), 0);
    return 0;
}

/* Sort n random records under the given budget and fan-in; check order,
 * stability and values against qsort. */
static void run_random_t(size_t n, size_t budget, unsigned fanin, unsigned keyspace,
                         unsigned threads, sorter_stats *st_out)
{
    rec *v = calloc(n, sizeof *v);
    assert_non_null(v);
    sorter *s = NULL;
    strata_err err = STRATA_ERR_INIT;
    sorter_options o = {
        .memory_bytes = budget, .tmp_dir = tmpdir, .fanin = fanin, .threads = threads};
    assert_int_equal(sorter_open(&o, &s, &err), 0);
    char val[300];
    for (size_t i = 0; i < n; i++) {
        rec *r = &v[i];
        /* Short keys from a small space: many equal keys and shared prefixes. */
        r->klen = 1 + next_rand() % 12;
        for (size_t k = 0; k < r->klen; k++)
            r->key[k] = (char)('a' + next_rand() % keyspace);
        r->seq = (uint32_t)i;
        r->vlen = 4 + next_rand() % 200;
        memcpy(val, &r->seq, 4);
        memset(val + 4, (int)(i & 0xff), r->vlen - 4);
        assert_int_equal(sorter_add(s, (slice){r->key, r->klen}, (slice){val, r->vlen}, &err), 0);
    }
    assert_int_equal(sorter_finish(s, &err), 0);
    qsort(v, n, sizeof *v, rec_cmp);
    slice k, val2;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sorter_next(s, &k, &val2, &err), 1);
        assert_true(slice_eq(k, (slice){v[i].key, v[i].klen}));
        uint32_t seq;
        assert_int_equal(val2.n, v[i].vlen);
        memcpy(&seq, val2.p, 4);
        assert_int_equal(seq, v[i].seq); /* stable: equal keys in insertion order */
        for (size_t b = 4; b < val2.n; b++)
            assert_int_equal((unsigned char)val2.p[b], seq & 0xff);
    }
    assert_int_equal(sorter_next(s, &k, &val2, &err), 0);
    assert_int_equal(sorter_next(s, &k, &val2, &err), 0);
    sorter_get_stats(s, st_out);
    sorter_close(s);
    free(v);
}

static void run_random(size_t n, size_t budget, unsigned fanin, unsigned keyspace,
                       sorter_stats *st_out)
{
    run_random_t(n, budget, fanin, keyspace, 1, st_out);
}

static void in_memory(void **state)
{
    (void)state;
    sorter_stats st;
    run_random(20000, 64u << 20, 0, 4, &st);
    assert_int_equal(st.runs, 0);
    assert_int_equal(st.spilled_bytes, 0);
}

static void spilled_runs(void **state)
{
    (void)state;
    sorter_stats st;
    run_random(60000, SORTER_MIN_MEMORY, 0, 3, &st);
    assert_true(st.runs > 2);
    assert_true(st.spilled_bytes > 0);
    assert_int_equal(st.merge_passes, 0);
    /* Memory stayed near the budget (plus the reader/writer buffers). */
    assert_true(st.peak_memory < SORTER_MIN_MEMORY + (6u << 20));
}

/* Two sorting threads: halves sorted apart and merged, in memory and in every
 * spilled run (each over the parallel threshold), still stable. */
static void two_threads(void **state)
{
    (void)state;
    sorter_stats st;
    run_random_t(150000, 64u << 20, 0, 3, 2, &st);
    assert_int_equal(st.runs, 0);
    run_random_t(300000, 12u << 20, 0, 4, 2, &st);
    assert_true(st.runs >= 2);
    /* The buffer being filled and the one spilling share the budget. */
    assert_true(st.peak_memory < (12u << 20) + (4u << 20));
}

/* A run that cannot be written (the file-size limit stands in for a full
 * disk) fails the sort with STRATA_IO naming the sort and the cause, whether
 * the spill ran on the caller's thread or in the background; nothing hangs,
 * and the temporary files are gone (teardown). */
static void write_failure(void **state)
{
    (void)state;
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 1u << 20;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (unsigned threads = 1; threads <= 2; threads++) {
        sorter *s = NULL;
        strata_err err = STRATA_ERR_INIT;
        sorter_options o = {.memory_bytes = SORTER_MIN_MEMORY,
                            .tmp_dir = tmpdir,
                            .threads = threads,
                            .what = "test rows"};
        assert_int_equal(sorter_open(&o, &s, &err), 0);
        char key[8], val[200] = {0};
        int rc = 0;
        for (int i = 0; i < 100000 && rc == 0; i++) {
            for (size_t k = 0; k < sizeof key; k++)
                key[k] = (char)('a' + next_rand() % 26);
            rc = sorter_add(s, (slice){key, sizeof key}, (slice){val, sizeof val}, &err);
        }
        if (rc == 0)
            rc = sorter_finish(s, &err);
        assert_int_equal(rc, STRATA_IO);
        assert_non_null(strstr(err.message, "test rows"));
        assert_non_null(strstr(err.message, "File too large"));
        err_clear(&err);
        sorter_close(s);
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
}

static void multi_level_merge(void **state)
{
    (void)state;
    sorter_stats st;
    run_random(80000, SORTER_MIN_MEMORY, 3, 26, &st);
    assert_true(st.runs > 9);
    assert_true(st.merge_passes >= 2);
}

static void sorted_input_and_big_records(void **state)
{
    (void)state;
    sorter *s = NULL;
    strata_err err = STRATA_ERR_INIT;
    sorter_options o = {.memory_bytes = SORTER_MIN_MEMORY, .tmp_dir = tmpdir};
    assert_int_equal(sorter_open(&o, &s, &err), 0);
    size_t big = 3u << 20; /* bigger than a block and than the budget */
    char *blob = malloc(big);
    assert_non_null(blob);
    for (uint64_t i = 0; i < 5000; i++) {
        char key[8];
        for (int b = 0; b < 8; b++)
            key[b] = (char)(i >> (56 - 8 * b));
        size_t vn = i % 1000 == 7 ? big : 16;
        memset(blob, (int)(i % 251), vn);
        assert_int_equal(sorter_add(s, (slice){key, 8}, (slice){blob, vn}, &err), 0);
    }
    assert_int_equal(sorter_finish(s, &err), 0);
    slice k, v;
    for (uint64_t i = 0; i < 5000; i++) {
        assert_int_equal(sorter_next(s, &k, &v, &err), 1);
        assert_int_equal(k.n, 8);
        assert_int_equal(get_u64be(k.p), i);
        assert_int_equal(v.n, i % 1000 == 7 ? big : 16);
        assert_int_equal((unsigned char)v.p[v.n - 1], i % 251);
    }
    assert_int_equal(sorter_next(s, &k, &v, &err), 0);
    sorter_close(s);
    free(blob);
}

static void empty_and_no_tmp(void **state)
{
    (void)state;
    sorter *s = NULL;
    strata_err err = STRATA_ERR_INIT;
    slice k, v;
    assert_int_equal(sorter_open(NULL, &s, &err), 0);
    assert_int_equal(sorter_finish(s, &err), 0);
    assert_int_equal(sorter_next(s, &k, &v, &err), 0);
    sorter_close(s);
    sorter_close(NULL);

    sorter_options o = {.memory_bytes = SORTER_MIN_MEMORY, .what = "test rows"};
    assert_int_equal(sorter_open(&o, &s, &err), 0);
    char val[1000] = {0};
    int rc = 0;
    for (int i = 0; i < 10000 && rc == 0; i++)
        rc = sorter_add(s, SLICE_LIT("k"), (slice){val, sizeof val}, &err);
    assert_int_equal(rc, STRATA_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err.message, "test rows"));
    sorter_close(s);

    char key[SORTER_KEY_MAX + 1];
    memset(key, 'x', sizeof key);
    assert_int_equal(sorter_open(NULL, &s, &err), 0);
    assert_int_equal(sorter_add(s, (slice){key, sizeof key}, SLICE_LIT(""), &err),
                     STRATA_INVALID_ARGUMENT);
    sorter_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_memory),         cmocka_unit_test(spilled_runs),
        cmocka_unit_test(two_threads),       cmocka_unit_test(write_failure),
        cmocka_unit_test(multi_level_merge), cmocka_unit_test(sorted_input_and_big_records),
        cmocka_unit_test(empty_and_no_tmp),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
