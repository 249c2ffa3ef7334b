/*
 * ids.c - whole-entity scans for exports (store.h "entity scans"): the
 * distinct ids of an entity, read from the `latest` column family (one row
 * per id that holds any version), and every version of an entity in key
 * order, read from `values`. Both read one consistent snapshot.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/keys.h"
#include "store/store_int.h"

struct store_entity_scan {
    store_t *st;
    uint32_t entity_id;
    bool values; /* values CF, else latest */
    rocksdb_readoptions_t *ro;
    const rocksdb_snapshot_t *own_snap;
    bool owns_snap; /* own_snap is ours to release (NULL on a replica) */
    rocksdb_iterator_t *it;
    char upper[4]; /* entity id + 1 as a bound */
    bool has_upper;
    bool started;
    bool pending; /* positioned by a seek: the next call returns this key */
    /* values: the set-group row being handed out cell by cell */
    slice rest;
    bool in_row;
    value_key row_key;
};

static int scan_open(store_t *st, uint32_t entity_id, const store_snapshot *snap, bool values,
                     store_entity_scan **out, strata_err *err)
{
    *out = NULL;
    store_quiet_perf_context(); /* every Next compares keys */
    store_entity_scan *sc = calloc(1, sizeof *sc);
    if (!sc)
        return err_set(err, STRATA_NOMEM, "out of memory");
    sc->st = st;
    sc->entity_id = entity_id;
    sc->values = values;
    sc->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(sc->ro, 1);
    /* A bulk scan: do not push the online working set out of the cache. */
    rocksdb_readoptions_set_fill_cache(sc->ro, 0);
    if (entity_id != UINT32_MAX) {
        put_u32be(sc->upper, entity_id + 1);
        rocksdb_readoptions_set_iterate_upper_bound(sc->ro, sc->upper, 4);
        sc->has_upper = true;
    }
    if (snap) {
        rocksdb_readoptions_set_snapshot(sc->ro, snap->snap);
    } else {
        sc->own_snap = store_snap_create(st);
        sc->owns_snap = true;
        rocksdb_readoptions_set_snapshot(sc->ro, sc->own_snap);
    }
    sc->it = rocksdb_create_iterator_cf(st->db, sc->ro, st->cf[values ? CF_VALUES : CF_LATEST]);
    *out = sc;
    return 0;
}

int store_ids_scan_open(store_t *st, uint32_t entity_id, const store_snapshot *snap,
                        store_entity_scan **out, strata_err *err)
{
    return scan_open(st, entity_id, snap, false, out, err);
}

int store_values_scan_open(store_t *st, uint32_t entity_id, const store_snapshot *snap,
                           store_entity_scan **out, strata_err *err)
{
    return scan_open(st, entity_id, snap, true, out, err);
}

void store_entity_scan_close(store_entity_scan *sc)
{
    if (!sc)
        return;
    if (sc->it)
        rocksdb_iter_destroy(sc->it);
    if (sc->owns_snap)
        store_snap_release(sc->st, sc->own_snap);
    if (sc->ro)
        rocksdb_readoptions_destroy(sc->ro);
    free(sc);
}

static int step(store_entity_scan *sc, strata_err *err)
{
    if (sc->pending) {
        sc->pending = false;
    } else if (!sc->started) {
        char k[4];
        put_u32be(k, sc->entity_id);
        rocksdb_iter_seek(sc->it, k, 4);
        sc->started = true;
    } else {
        rocksdb_iter_next(sc->it);
    }
    if (rocksdb_iter_valid(sc->it))
        return 1;
    char *rerr = NULL;
    rocksdb_iter_get_error(sc->it, &rerr);
    return rerr ? store_rdb_err(err, rerr, "scanning an entity") : 0;
}

int store_ids_scan_next(store_entity_scan *sc, slice *id, strata_err *err)
{
    STRATA_ASSERT(!sc->values);
    for (;;) {
        int rc = step(sc, err);
        if (rc <= 0)
            return rc;
        size_t kn;
        const char *k = rocksdb_iter_key(sc->it, &kn);
        uint32_t ent;
        if (store_key_id_decode((slice){k, kn}, &ent, id) || ent != sc->entity_id)
            return err_set(err, STRATA_CORRUPT, "a latest-row key of entity %u is malformed",
                           sc->entity_id);
        return 1;
    }
}

int store_values_scan_next(store_entity_scan *sc, slice *id, version *v, strata_err *err)
{
    STRATA_ASSERT(sc->values);
    for (;;) {
        if (sc->in_row) {
            int c = store_cells_next(&sc->rest, &v->feature_id, &v->value);
            if (c < 0)
                return err_set(err, STRATA_CORRUPT, "a stored row of entity %u is corrupt",
                               sc->entity_id);
            if (c == 1) {
                *id = sc->row_key.id;
                v->event_time = sc->row_key.event_time;
                v->created_time = sc->row_key.created_time;
                v->seq = sc->row_key.seq;
                return 1;
            }
            sc->in_row = false;
        }
        int rc = step(sc, err);
        if (rc <= 0)
            return rc;
        size_t kn, vn;
        const char *k = rocksdb_iter_key(sc->it, &kn);
        value_key vk;
        if (store_key_value_decode((slice){k, kn}, &vk) || vk.entity != sc->entity_id)
            return err_set(err, STRATA_CORRUPT, "a value key of entity %u is malformed",
                           sc->entity_id);
        const char *val = rocksdb_iter_value(sc->it, &vn);
        if (store_group_is_set(vk.group)) {
            sc->row_key = vk;
            sc->rest = (slice){val, vn};
            sc->in_row = true;
            continue;
        }
        *id = vk.id;
        v->feature_id = vk.group;
        v->event_time = vk.event_time;
        v->created_time = vk.created_time;
        v->seq = vk.seq;
        v->value = (slice){val, vn};
        return 1;
    }
}

void store_values_scan_seek(store_entity_scan *sc, slice id)
{
    char key[STORE_KEY_MAX];
    size_t n = store_key_id_to(key, sc->entity_id, id);
    rocksdb_iter_seek(sc->it, key, n);
    sc->started = true;
    sc->pending = true;
    sc->in_row = false;
}
