/* test_keys.c - key codecs: round trips, and that byte order is contract order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "store/keys.h"
#include "store/store.h"

static const int64_t times[] = {INT64_MIN, TIME_MIN_US, -1000000, -2,          -1,       0,
                                1,         2,           1000000,  TIME_MAX_US, INT64_MAX};
#define NTIMES (sizeof times / sizeof times[0])

static int key_cmp(const buf *a, const buf *b)
{
    return slice_cmp(buf_slice(a), buf_slice(b));
}

static void test_time_key_order(void **state)
{
    for (size_t i = 0; i < NTIMES; i++) {
        assert_true(store_time_unkey(store_time_key(times[i])) == times[i]);
        for (size_t j = 0; j < NTIMES; j++) {
            uint64_t a = store_time_key(times[i]), b = store_time_key(times[j]);
            assert_int_equal(times[i] < times[j], a < b);
            /* Complemented, as stored: the order reverses. */
            assert_int_equal(times[i]<times[j], ~a> ~b);
        }
    }
}

static void test_value_key_round_trip(void **state)
{
    char idbytes[256];
    for (size_t i = 0; i < sizeof idbytes; i++)
        idbytes[i] = (char)(255 - i); /* binary, includes 0x00 and 0xff */
    size_t lens[] = {1, 2, 255, 256};
    for (size_t li = 0; li < 4; li++) {
        for (size_t t = 0; t < NTIMES; t++) {
            buf k = BUF_INIT;
            slice id = {idbytes, lens[li]};
            int64_t ev = times[t], cr = times[NTIMES - 1 - t];
            store_key_value(&k, 0xdeadbeef, id, 77, ev, cr, UINT64_C(0x0123456789abcdef) + t);
            assert_int_equal(k.n, 6 + lens[li] + 4 + 24);
            value_key vk;
            assert_int_equal(store_key_value_decode(buf_slice(&k), &vk), 0);
            assert_int_equal(vk.entity, 0xdeadbeef);
            assert_true(slice_eq(vk.id, id));
            assert_int_equal(vk.group, 77);
            assert_true(vk.event_time == ev);
            assert_true(vk.created_time == cr);
            assert_true(vk.seq == UINT64_C(0x0123456789abcdef) + t);
            assert_int_equal(store_key_group_prefix_len(k.p, k.n), 6 + lens[li] + 4);
            buf_free(&k);
        }
    }
}

static void test_value_key_layout(void **state)
{
    buf k = BUF_INIT;
    store_key_value(&k, 1, SLICE_LIT("c1"), 2, 0, -1, 5);
    const char want[] = "\x00\x00\x00\x01"                  /* entity */
                        "\x00\x02"                          /* id length */
                        "c1"                                /* id */
                        "\x00\x00\x00\x02"                  /* feature */
                        "\x7f\xff\xff\xff\xff\xff\xff\xff"  /* ~(0 ^ 1<<63) */
                        "\x80\x00\x00\x00\x00\x00\x00\x00"  /* ~(-1 ^ 1<<63) */
                        "\xff\xff\xff\xff\xff\xff\xff\xfa"; /* ~5 */
    assert_int_equal(k.n, sizeof want - 1);
    assert_memory_equal(k.p, want, k.n);
    buf_free(&k);
}

typedef struct vkey {
    version v;
    buf k;
} vkey;

static int by_key(const void *a, const void *b)
{
    return key_cmp(&((const vkey *)a)->k, &((const vkey *)b)->k);
}

/* Sorting keys bytewise yields versions newest first in contract order,
 * including negative times and ties on event time and created time. */
static void test_version_order(void **state)
{
    const int64_t ev[] = {-5, -1, 0, 3, 3, 3, 3, 7};
    const int64_t cr[] = {9, 9, 9, 1, 2, 2, -4, 0};
    const uint64_t sq[] = {1, 2, 3, 4, 5, 6, 7, 0};
    enum { N = 8 };
    vkey ks[N];
    for (int i = 0; i < N; i++) {
        ks[i].v = (version){7, ev[i], cr[i], sq[i], {NULL, 0}};
        ks[i].k = (buf)BUF_INIT;
        store_key_value(&ks[i].k, 3, SLICE_LIT("id"), 7, ev[i], cr[i], sq[i]);
    }
    qsort(ks, N, sizeof ks[0], by_key);
    for (int i = 1; i < N; i++)
        assert_true(store_version_cmp(&ks[i - 1].v, &ks[i].v) > 0);
    /* The newest: event 7. Among event 3: created 2 (seq 6 then 5), created 1, created -4. */
    assert_true(ks[0].v.event_time == 7);
    assert_true(ks[1].v.event_time == 3 && ks[1].v.created_time == 2 && ks[1].v.seq == 6);
    assert_true(ks[2].v.seq == 5);
    assert_true(ks[3].v.created_time == 1);
    assert_true(ks[4].v.created_time == -4);
    assert_true(ks[N - 1].v.event_time == -5);
    for (int i = 0; i < N; i++)
        buf_free(&ks[i].k);
}

static void test_version_cmp(void **state)
{
    version a = {1, 10, 5, 3, {NULL, 0}}, b = a;
    assert_int_equal(store_version_cmp(&a, &b), 0);
    b.seq = 4;
    assert_true(store_version_cmp(&a, &b) < 0);
    b.created_time = 4; /* created beats seq */
    assert_true(store_version_cmp(&a, &b) > 0);
    b.event_time = 11; /* event beats created */
    assert_true(store_version_cmp(&a, &b) < 0);
    b.event_time = -11;
    assert_true(store_version_cmp(&a, &b) > 0);
}

/* Length-prefixed ids: every key of one id lies in one contiguous range, and
 * "ab" is never a prefix match for "abc". Entities and features order first. */
static void test_id_prefixes(void **state)
{
    buf ab = BUF_INIT, abc = BUF_INIT, k1 = BUF_INIT, k2 = BUF_INIT, k3 = BUF_INIT;
    store_key_id(&ab, 1, SLICE_LIT("ab"));
    store_key_id(&abc, 1, SLICE_LIT("abc"));
    store_key_value(&k1, 1, SLICE_LIT("abc"), 1, 0, 0, 0);
    store_key_value(&k2, 1, SLICE_LIT("ab"), 9, 0, 0, 0);
    assert_false(k1.n >= ab.n && memcmp(k1.p, ab.p, ab.n) == 0);
    assert_false(k2.n >= abc.n && memcmp(k2.p, abc.p, abc.n) == 0);
    assert_true(memcmp(k2.p, ab.p, ab.n) == 0);
    /* Shorter ids sort first, then bytes: "ab" (len 2) < "abc" (len 3). */
    assert_true(key_cmp(&k2, &k1) < 0);
    /* Entity 1 sorts before entity 2 whatever follows. */
    buf_reset(&k3);
    store_key_value(&k3, 2, SLICE_LIT("a"), 0, INT64_MAX, INT64_MAX, UINT64_MAX);
    assert_true(key_cmp(&k1, &k3) < 0);
    /* Feature 1 sorts before feature 2 for one id. */
    buf_reset(&k1);
    buf_reset(&k2);
    store_key_value(&k1, 1, SLICE_LIT("x"), 1, INT64_MIN, 0, 0);
    store_key_value(&k2, 1, SLICE_LIT("x"), 2, INT64_MAX, 0, 0);
    assert_true(key_cmp(&k1, &k2) < 0);

    uint32_t ent;
    slice id;
    assert_int_equal(store_key_id_decode(buf_slice(&abc), &ent, &id), 0);
    assert_int_equal(ent, 1);
    assert_true(slice_eq_str(id, "abc"));
    char fixed[STORE_KEY_MAX];
    size_t n = store_key_id_to(fixed, 1, SLICE_LIT("abc"));
    assert_int_equal(n, abc.n);
    assert_memory_equal(fixed, abc.p, n);
    n = store_key_group_to(fixed, 1, SLICE_LIT("x"), 2);
    assert_int_equal(n, k2.n - 24);
    assert_memory_equal(fixed, k2.p, n);
    buf_free(&ab);
    buf_free(&abc);
    buf_free(&k1);
    buf_free(&k2);
    buf_free(&k3);
}

/* The point-in-time seek key lands on the newest version with event <= ts. */
static void test_pit_seek_key(void **state)
{
    buf seek = BUF_INIT, older = BUF_INIT, same = BUF_INIT, newer = BUF_INIT;
    store_key_pit_seek(&seek, 4, SLICE_LIT("u"), 9, 100);
    store_key_value(&older, 4, SLICE_LIT("u"), 9, 99, INT64_MAX, UINT64_MAX);
    store_key_value(&same, 4, SLICE_LIT("u"), 9, 100, INT64_MIN, 0);
    store_key_value(&newer, 4, SLICE_LIT("u"), 9, 101, INT64_MIN, 0);
    assert_true(key_cmp(&newer, &seek) < 0);
    assert_true(key_cmp(&seek, &same) <= 0);
    assert_true(key_cmp(&same, &older) < 0);
    buf_reset(&same);
    store_key_value(&same, 4, SLICE_LIT("u"), 9, 100, INT64_MAX, UINT64_MAX);
    assert_true(key_cmp(&seek, &same) <= 0);
    buf_free(&seek);
    buf_free(&older);
    buf_free(&same);
    buf_free(&newer);
}

static void test_decode_rejects(void **state)
{
    value_key vk;
    uint32_t e;
    slice id;
    buf k = BUF_INIT;
    store_key_value(&k, 1, SLICE_LIT("abc"), 2, 3, 4, 5);
    for (size_t n = 0; n < k.n; n++)
        assert_int_equal(store_key_value_decode((slice){k.p, n}, &vk), -1);
    buf_putc(&k, 'x');
    assert_int_equal(store_key_value_decode(buf_slice(&k), &vk), -1);
    assert_int_equal(store_key_id_decode(SLICE_LIT("\x00\x00\x00\x01\x00\x05"
                                                   "ab"),
                                         &e, &id),
                     -1);
    assert_int_equal(store_key_id_decode(SLICE_LIT("\x00\x00\x00"), &e, &id), -1);
    assert_int_equal(store_key_group_prefix_len("\x00\x00\x00\x01\x00\x02"
                                                "ab\x00",
                                                9),
                     0);
    assert_int_equal(store_key_group_prefix_len("\x00\x00\x00\x01\x00", 5), 0);
    buf_free(&k);
}

static void test_successor(void **state)
{
    buf b = BUF_INIT;
    buf_append_str(&b, "ab");
    assert_true(store_key_successor(&b));
    assert_int_equal(b.n, 2);
    assert_memory_equal(b.p, "ac", 2);
    buf_reset(&b);
    buf_append(&b, "a\xff\xff", 3);
    assert_true(store_key_successor(&b));
    assert_int_equal(b.n, 1);
    assert_memory_equal(b.p, "b", 1);
    buf_reset(&b);
    buf_append(&b, "\xff\xff", 2);
    assert_false(store_key_successor(&b));
    buf_reset(&b);
    assert_false(store_key_successor(&b));
    /* Every key with the prefix is below the successor. */
    buf p = BUF_INIT, k = BUF_INIT;
    store_key_id(&p, 7, SLICE_LIT("\xff"));
    store_key_value(&k, 7, SLICE_LIT("\xff"), UINT32_MAX, INT64_MIN, INT64_MIN, 0);
    buf_reset(&b);
    buf_append(&b, p.p, p.n);
    assert_true(store_key_successor(&b));
    assert_true(key_cmp(&k, &b) < 0);
    assert_true(key_cmp(&p, &k) < 0);
    buf_free(&b);
    buf_free(&p);
    buf_free(&k);
}

static void test_registry_keys(void **state)
{
    buf b = BUF_INIT;
    store_key_reg_entity(&b, SLICE_LIT("customer"));
    assert_int_equal(b.n, 9);
    assert_memory_equal(b.p, "Ecustomer", 9);
    buf_reset(&b);
    store_key_reg_feature(&b, 0x01020304, SLICE_LIT("age"));
    assert_int_equal(b.n, 8);
    assert_memory_equal(b.p,
                        "F\x01\x02\x03\x04"
                        "age",
                        8);
    buf_reset(&b);
    store_key_reg_group(&b, 0x01020304, 0x0a0b0c0d);
    assert_int_equal(b.n, 9);
    assert_memory_equal(b.p, "G\x01\x02\x03\x04\x0a\x0b\x0c\x0d", 9);
    buf_free(&b);
}

/* A set group's row: cells in, the same cells out; find stops early; junk
 * (a length past the end, a varint that never ends, a feature id in the
 * group range) is refused without reading past the bytes. */
static void test_cells(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    store_cells_add(&b, 3,
                    SLICE_LIT("\x02"
                              "abc"));
    store_cells_add(&b, 200, SLICE_LIT(""));
    store_cells_add(&b, 70000, SLICE_LIT("\x01\x01"));
    assert_int_equal(b.n, 2 + 4 + 3 + 0 + 4 + 2);
    slice rest = buf_slice(&b), v;
    uint32_t f;
    uint32_t want_f[] = {3, 200, 70000};
    size_t want_n[] = {4, 0, 2};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_cells_next(&rest, &f, &v), 1);
        assert_int_equal(f, want_f[i]);
        assert_int_equal(v.n, want_n[i]);
    }
    assert_int_equal(store_cells_next(&rest, &f, &v), 0);
    assert_int_equal(store_cells_find(buf_slice(&b), 200, &v), 1);
    assert_int_equal(v.n, 0);
    assert_int_equal(store_cells_find(buf_slice(&b), 70000, &v), 1);
    assert_memory_equal(v.p, "\x01\x01", 2);
    assert_int_equal(store_cells_find(buf_slice(&b), 4, &v), 0);     /* between: stops at 200 */
    assert_int_equal(store_cells_find(buf_slice(&b), 80000, &v), 0); /* past the end */
    /* Truncated: the last cell's value is cut short. */
    assert_int_equal(store_cells_find((slice){b.p, b.n - 1}, 70000, &v), -1);
    /* A varint that does not end. */
    assert_int_equal(store_cells_find(SLICE_LIT("\x80\x80"), 1, &v), -1);
    /* A feature id in the set-group range. */
    buf_reset(&b);
    store_cells_add(&b, STORE_GROUP_SET, SLICE_LIT("x"));
    rest = buf_slice(&b);
    assert_int_equal(store_cells_next(&rest, &f, &v), -1);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_key_order),
        cmocka_unit_test(test_value_key_round_trip),
        cmocka_unit_test(test_value_key_layout),
        cmocka_unit_test(test_version_order),
        cmocka_unit_test(test_version_cmp),
        cmocka_unit_test(test_id_prefixes),
        cmocka_unit_test(test_pit_seek_key),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_successor),
        cmocka_unit_test(test_registry_keys),
        cmocka_unit_test(test_cells),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
