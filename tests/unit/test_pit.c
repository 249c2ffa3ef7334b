/*
 * test_pit.c - the point-in-time merge scan and store_pit_get agree with each
 * other and with a model of the writes kept here (the newest version in
 * contract order, TTL, as_of) on random histories: ties on event and created
 * time, late backfills, TTL windows, as_of, lookups in scan order and not, and
 * rows that carry random subsets of the features, so that write groups
 * (store/keys.h) form from whichever features come first together and later
 * rows hold only some of a group's features.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "store/store.h"
#include "store/value.h"

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define NIDS 40
#define NF 5
#define ROUNDS 600

/* The model: every version written, in write order (= seq order). */
typedef struct mversion {
    int id, f;
    int64_t ev, cr, val;
} mversion;
static mversion model[ROUNDS * NF];
static size_t nmodel;

/* The model's answer for (id, f) at ts: index into model, or -1. */
static long model_answer(int id, int f, int64_t ts, int64_t ttl_us, int64_t as_of)
{
    long best = -1;
    for (size_t k = 0; k < nmodel; k++) {
        const mversion *m = &model[k];
        if (m->id != id || m->f != f || m->ev > ts || m->cr > as_of)
            continue;
        /* later writes win ties on (event, created): seq grows with k */
        if (best < 0 || m->ev > model[best].ev ||
            (m->ev == model[best].ev && m->cr >= model[best].cr))
            best = (long)k;
    }
    if (best >= 0 && ttl_us > 0 && model[best].ev < ts - ttl_us)
        return -1;
    return best;
}

static void scan_matches_reference(void **state)
{
    (void)state;
    char dir[] = "/tmp/strata_test_pit_XXXXXX";
    assert_non_null(mkdtemp(dir));
    store_options o = {.path = dir};
    store_t *st = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(store_open(&o, &st, &err), 0);
    assert_int_equal(store_entity_create(st, slice_of("e"), slice_of(""), NULL, &err), 0);
    feature_spec specs[NF] = {{.name = SLICE_LIT("a"), .type = VT_INT64},
                              {.name = SLICE_LIT("b"), .type = VT_INT64, .ttl_seconds = 5},
                              {.name = SLICE_LIT("c"), .type = VT_INT64},
                              {.name = SLICE_LIT("d"), .type = VT_INT64, .ttl_seconds = 3},
                              {.name = SLICE_LIT("e"), .type = VT_INT64}};
    assert_int_equal(store_features_create(st, slice_of("e"), specs, NF, &err), 0);
    const registry_t *reg = store_registry_acquire(st);
    const entity_def *e = registry_entity(reg, slice_of("e"));
    uint32_t eid = e->id;
    store_pit_feature pf[NF];
    for (int j = 0; j < NF; j++) {
        const feature_def *f = registry_feature(e, specs[j].name);
        pf[j] = (store_pit_feature){f->id, f->ttl_seconds * TIME_US_PER_SEC};
    }
    store_registry_release(st, reg);

    char ids[NIDS][8];
    for (int i = 0; i < NIDS; i++)
        snprintf(ids[i], sizeof ids[i], "u%d", i * 7);
    /* Random histories with small time ranges so ties are common. */
    for (int round = 0; round < ROUNDS; round++) {
        int i = (int)(next_rand() % NIDS);
        buf enc = BUF_INIT;
        write_cell cells[NF];
        size_t offs[NF];
        int64_t vals[NF];
        int fj[NF];
        size_t nc = 0;
        /* Mostly full rows, as imports write them; every third a random subset. */
        bool subset = next_rand() % 3 == 0;
        for (int j = 0; j < NF; j++) {
            if (subset && next_rand() % 2)
                continue;
            offs[nc] = enc.n;
            vals[nc] = (int64_t)(next_rand() % 1000);
            value_encode_int64(&enc, vals[nc]);
            cells[nc].feature_id = pf[j].feature_id;
            fj[nc] = j;
            nc++;
        }
        if (!nc)
            continue;
        for (size_t k = 0; k < nc; k++)
            cells[k].value = (slice){enc.p + offs[k], 9};
        write_row row = {slice_of(ids[i]), (int64_t)(next_rand() % 20) * TIME_US_PER_SEC,
                         (int64_t)(next_rand() % 10) * TIME_US_PER_SEC, nc, cells};
        assert_int_equal(store_write(st, eid, &row, 1, &err), 0);
        for (size_t k = 0; k < nc; k++)
            model[nmodel++] = (mversion){i, fj[k], row.event_time, row.created_time, vals[k]};
        buf_free(&enc);
    }

    int64_t as_ofs[] = {INT64_MAX, 3 * TIME_US_PER_SEC, 0, 9 * TIME_US_PER_SEC};
    for (size_t a = 0; a < sizeof as_ofs / sizeof as_ofs[0]; a++) {
        for (int ordered = 0; ordered < 2; ordered++) {
            store_pit_scan *sc = NULL;
            assert_int_equal(store_pit_scan_open(st, eid, pf, NF, as_ofs[a], NULL, &sc, &err), 0);
            for (int i = 0; i < NIDS + 2; i++) {
                /* ids in store order (shorter first, then bytes), plus unknown ids */
                char idbuf[8];
                if (i < NIDS)
                    snprintf(idbuf, sizeof idbuf, "%.7s", ids[i]);
                else
                    snprintf(idbuf, sizeof idbuf, "zz%d", i);
                for (int q = 0; q < 12; q++) {
                    int64_t ts = ordered ? (int64_t)(22 - 2 * q) * TIME_US_PER_SEC
                                         : (int64_t)(next_rand() % 24) * TIME_US_PER_SEC - 1;
                    version got[NF];
                    bool found[NF];
                    assert_int_equal(store_pit_scan_get(sc, slice_of(idbuf), ts, got, found, &err),
                                     0);
                    for (int j = 0; j < NF; j++) {
                        long m = i < NIDS ? model_answer(i, j, ts, pf[j].ttl_us, as_ofs[a]) : -1;
                        if (m < 0 && found[j])
                            fail_msg("id %s f%d ts %lld: scan found a value, the model none", idbuf,
                                     j, (long long)ts);
                        if (m >= 0) {
                            if (!found[j])
                                fail_msg("id %s f%d ts %lld: scan found nothing, the model %lld",
                                         idbuf, j, (long long)ts, (long long)model[m].val);
                            value_view vv;
                            assert_int_equal(value_decode(got[j].value, &vv), 0);
                            assert_int_equal(vv.i, model[m].val);
                            assert_true(got[j].event_time == model[m].ev);
                            assert_true(got[j].created_time == model[m].cr);
                        }
                        version want;
                        buf vb = BUF_INIT;
                        int rc = store_pit_get(st, eid, slice_of(idbuf), pf[j].feature_id, ts,
                                               pf[j].ttl_us, as_ofs[a], &want, &vb, NULL);
                        if (rc == STRATA_NOT_FOUND) {
                            if (found[j])
                                fail_msg("id %s f%d ts %lld as_of #%zu: scan found a value, "
                                         "reference none",
                                         idbuf, j, (long long)ts, a);
                        } else {
                            assert_int_equal(rc, 0);
                            if (!found[j])
                                fail_msg("id %s f%d ts %lld: scan found nothing", idbuf, j,
                                         (long long)ts);
                            assert_true(got[j].event_time == want.event_time);
                            assert_true(got[j].created_time == want.created_time);
                            assert_true(got[j].seq == want.seq);
                            assert_true(slice_eq(got[j].value, want.value));
                        }
                        buf_free(&vb);
                    }
                }
            }
            store_pit_scan_close(sc);
        }
    }
    assert_int_equal(store_id_cmp(slice_of("b"), slice_of("aa")), -1);
    assert_int_equal(store_id_cmp(slice_of("ab"), slice_of("aa")), 1);
    store_close(st);
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(scan_matches_reference)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
