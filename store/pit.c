/*
 * pit.c - point-in-time merge scans (store.h "point-in-time merge scans").
 *
 * One iterator per feature. For one id, lookups come with times descending:
 * the answer for time t is the first version, walking forward from the seek
 * position of t (versions are stored newest first), whose created_time is
 * visible at as_of. For a smaller t' the answer is at or after the answer for
 * t — every version before it was invisible or newer than t — so each feature
 * keeps its iterator on its last answer and only moves forward. A lookup that
 * breaks the order (another id, or a later time for the same id) seeks again.
 */
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "store/store_int.h"

typedef struct fcursor {
    rocksdb_iterator_t *it;
    bool valid;      /* positioned inside the current (id, feature) prefix */
    bool exhausted;  /* no more visible versions for the current id */
    int64_t last_ts; /* the time of the previous lookup for the current id */
} fcursor;

struct store_pit_scan {
    store_t *st;
    uint32_t entity_id;
    size_t nf;
    store_pit_feature *f;
    fcursor *cur;
    int64_t as_of;
    rocksdb_readoptions_t *ro;
    const rocksdb_snapshot_t *own_snap;
    bool owns_snap; /* own_snap is ours to release (NULL on a replica) */
    buf id;       /* the current id */
    bool have_id;
    char key[STORE_KEY_MAX];
};

int store_id_cmp(slice a, slice b)
{
    if (a.n != b.n)
        return a.n < b.n ? -1 : 1;
    return a.n ? memcmp(a.p, b.p, a.n) : 0;
}

int store_pit_scan_open(store_t *st, uint32_t entity_id, const store_pit_feature *features,
                        size_t nfeatures, int64_t as_of, const store_snapshot *snap,
                        store_pit_scan **out, strata_err *err)
{
    *out = NULL;
    store_quiet_perf_context(); /* every Seek and Next compares keys */
    store_pit_scan *sc = calloc(1, sizeof *sc);
    if (!sc)
        return err_set(err, STRATA_NOMEM, "out of memory");
    sc->st = st;
    sc->entity_id = entity_id;
    sc->nf = nfeatures;
    sc->as_of = as_of;
    sc->f = calloc(nfeatures ? nfeatures : 1, sizeof *sc->f);
    sc->cur = calloc(nfeatures ? nfeatures : 1, sizeof *sc->cur);
    if (!sc->f || !sc->cur) {
        store_pit_scan_close(sc);
        return err_set(err, STRATA_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < nfeatures; j++) {
        if (features[j].ttl_us < 0) {
            store_pit_scan_close(sc);
            return err_set(err, STRATA_INVALID_ARGUMENT, "negative TTL");
        }
        sc->f[j] = features[j];
    }
    sc->ro = rocksdb_readoptions_create();
    /* Prefix mode would confine each iterator to the (id, feature) prefix of
     * its first seek; these iterators cross prefixes, so total order. */
    rocksdb_readoptions_set_total_order_seek(sc->ro, 1);
    rocksdb_readoptions_set_fill_cache(sc->ro, 1);
    if (snap) {
        rocksdb_readoptions_set_snapshot(sc->ro, snap->snap);
    } else {
        sc->own_snap = store_snap_create(st);
        sc->owns_snap = true;
        rocksdb_readoptions_set_snapshot(sc->ro, sc->own_snap);
    }
    for (size_t j = 0; j < nfeatures; j++)
        sc->cur[j].it = rocksdb_create_iterator_cf(st->db, sc->ro, st->cf[CF_VALUES]);
    *out = sc;
    return 0;
}

void store_pit_scan_close(store_pit_scan *sc)
{
    if (!sc)
        return;
    for (size_t j = 0; sc->cur && j < sc->nf; j++)
        if (sc->cur[j].it)
            rocksdb_iter_destroy(sc->cur[j].it);
    if (sc->owns_snap)
        store_snap_release(sc->st, sc->own_snap);
    if (sc->ro)
        rocksdb_readoptions_destroy(sc->ro);
    free(sc->cur);
    free(sc->f);
    buf_free(&sc->id);
    free(sc);
}

/* Decode the version under the iterator if it is inside prefix[0..plen). */
static bool at_version(rocksdb_iterator_t *it, const char *prefix, size_t plen, version *v)
{
    if (!rocksdb_iter_valid(it))
        return false;
    size_t kn;
    const char *k = rocksdb_iter_key(it, &kn);
    if (kn != plen + STORE_KEY_VERSION_SUFFIX || memcmp(k, prefix, plen) != 0)
        return false;
    v->event_time = store_time_unkey(~get_u64be(k + plen));
    v->created_time = store_time_unkey(~get_u64be(k + plen + 8));
    v->seq = ~get_u64be(k + plen + 16);
    return true;
}

int store_pit_scan_get(store_pit_scan *sc, slice id, int64_t ts, version *out, bool *found,
                       strata_err *err)
{
    if (id.n < 1 || id.n > LIMIT_ENTITY_ID_MAX)
        return err_set(err, STRATA_INVALID_ARGUMENT, "entity id must be 1 to %u bytes",
                       LIMIT_ENTITY_ID_MAX);
    bool same_id = sc->have_id && slice_eq(buf_slice(&sc->id), id);
    if (!same_id) {
        buf_reset(&sc->id);
        buf_append_slice(&sc->id, id);
        sc->have_id = true;
    }
    for (size_t j = 0; j < sc->nf; j++) {
        fcursor *c = &sc->cur[j];
        size_t plen = store_key_feature_to(sc->key, sc->entity_id, id, sc->f[j].feature_id);
        found[j] = false;
        version v;
        if (!same_id || ts > c->last_ts) {
            put_u64be(sc->key + plen, ~store_time_key(ts));
            rocksdb_iter_seek(c->it, sc->key, plen + 8);
            c->exhausted = false;
        }
        c->last_ts = ts;
        if (c->exhausted)
            continue;
        /* Forward to the first version with event_time <= ts visible at as_of. */
        for (;;) {
            if (!at_version(c->it, sc->key, plen, &v)) {
                c->exhausted = true;
                break;
            }
            if (v.event_time <= ts && v.created_time <= sc->as_of)
                break;
            rocksdb_iter_next(c->it);
        }
        if (c->exhausted)
            continue;
        int64_t ttl = sc->f[j].ttl_us;
        if (ttl > 0 && ts >= INT64_MIN + ttl && v.event_time < ts - ttl)
            continue; /* the newest visible version is outside the TTL window */
        size_t vn;
        const char *val = rocksdb_iter_value(c->it, &vn);
        v.feature_id = sc->f[j].feature_id;
        v.value = (slice){val, vn};
        out[j] = v;
        found[j] = true;
    }
    char *rerr = NULL;
    for (size_t j = 0; j < sc->nf && !rerr; j++)
        rocksdb_iter_get_error(sc->cur[j].it, &rerr);
    return rerr ? store_rdb_err(err, rerr, "scanning values") : 0;
}
