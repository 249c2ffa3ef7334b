/*
 * pit.c - point-in-time merge scans (store.h "point-in-time merge scans").
 *
 * One cursor (a RocksDB iterator) per write group of the requested features,
 * not one per feature: a group's rows hold the cells of all its features, so
 * ten features written together cost one walk. For one id, lookups come with
 * times descending: the answer for time t is the first row, walking forward
 * from the seek position of t (rows are stored newest first), whose
 * created_time is visible at as_of. For a smaller t' the answer is at or after
 * the answer for t — every row before it was invisible or newer than t — so
 * each cursor keeps its iterator on its last answer and only moves forward. A
 * lookup that breaks the order (another id, or a later time for the same id)
 * seeks again.
 *
 * A row of a set group need not hold every feature of the group (a write may
 * carry some of them). When the group cursor's row lacks a requested feature,
 * that feature gets a cursor of its own over the same group, walking under the
 * same rule but stopping only at rows that hold it; created on first need, so
 * rows that are complete never pay for it.
 */
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "store/store_int.h"

typedef struct cursor {
    rocksdb_iterator_t *it; /* NULL until first used */
    uint32_t group;
    uint32_t need;  /* 0: any row; else only rows holding this feature */
    uint64_t gen;   /* the id generation it is positioned for (0: none) */
    bool exhausted; /* no more visible rows for the current id */
    int64_t last_ts;
    version v; /* the row's key fields when !exhausted */
    slice row; /* its value */
} cursor;

struct store_pit_scan {
    store_t *st;
    uint32_t entity_id;
    size_t nf;
    store_pit_feature *f;
    size_t *fg;  /* per feature: its group cursor */
    cursor *own; /* per feature: its own cursor (rows lacking it) */
    cursor *grp; /* per distinct group */
    size_t ngrp;
    int64_t as_of;
    rocksdb_readoptions_t *ro;
    const rocksdb_snapshot_t *own_snap;
    bool owns_snap; /* own_snap is ours to release (NULL on a replica) */
    buf id;         /* the current id */
    uint64_t gen;   /* bumped when the id changes */
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
    size_t n1 = nfeatures ? nfeatures : 1;
    sc->f = calloc(n1, sizeof *sc->f);
    sc->fg = calloc(n1, sizeof *sc->fg);
    sc->own = calloc(n1, sizeof *sc->own);
    sc->grp = calloc(n1, sizeof *sc->grp);
    if (!sc->f || !sc->fg || !sc->own || !sc->grp) {
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
    /* Prefix mode would confine each iterator to the (id, group) prefix of
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
    /* The registry after the snapshot: it knows every group the view holds
     * values under, deleted features' too (store_registry_group). */
    const registry_t *reg = store_registry_acquire(st);
    for (size_t j = 0; j < nfeatures; j++) {
        uint32_t g = store_registry_group(reg, entity_id, features[j].feature_id);
        size_t k = 0;
        while (k < sc->ngrp && sc->grp[k].group != g)
            k++;
        if (k == sc->ngrp)
            sc->grp[sc->ngrp++].group = g;
        sc->fg[j] = k;
        sc->own[j].group = g;
        sc->own[j].need = features[j].feature_id;
    }
    store_registry_release(st, reg);
    *out = sc;
    return 0;
}

void store_pit_scan_close(store_pit_scan *sc)
{
    if (!sc)
        return;
    for (size_t j = 0; sc->own && j < sc->nf; j++)
        if (sc->own[j].it)
            rocksdb_iter_destroy(sc->own[j].it);
    for (size_t k = 0; sc->grp && k < sc->ngrp; k++)
        if (sc->grp[k].it)
            rocksdb_iter_destroy(sc->grp[k].it);
    if (sc->owns_snap)
        store_snap_release(sc->st, sc->own_snap);
    if (sc->ro)
        rocksdb_readoptions_destroy(sc->ro);
    free(sc->own);
    free(sc->grp);
    free(sc->fg);
    free(sc->f);
    buf_free(&sc->id);
    free(sc);
}

/* Move c to the first row of the current id with event_time <= ts visible at
 * as_of (holding c->need, when set). 0, or -1 for a corrupt row. */
static int cursor_at(store_pit_scan *sc, cursor *c, int64_t ts)
{
    size_t plen = store_key_group_to(sc->key, sc->entity_id, buf_slice(&sc->id), c->group);
    if (!c->it)
        c->it = rocksdb_create_iterator_cf(sc->st->db, sc->ro, sc->st->cf[CF_VALUES]);
    if (c->gen != sc->gen || ts > c->last_ts) {
        put_u64be(sc->key + plen, ~store_time_key(ts));
        rocksdb_iter_seek(c->it, sc->key, plen + 8);
        c->gen = sc->gen;
        c->exhausted = false;
    }
    c->last_ts = ts;
    while (!c->exhausted) {
        size_t kn;
        if (!rocksdb_iter_valid(c->it)) {
            c->exhausted = true;
            break;
        }
        const char *k = rocksdb_iter_key(c->it, &kn);
        if (kn != plen + STORE_KEY_VERSION_SUFFIX || memcmp(k, sc->key, plen) != 0) {
            c->exhausted = true;
            break;
        }
        c->v.event_time = store_time_unkey(~get_u64be(k + plen));
        c->v.created_time = store_time_unkey(~get_u64be(k + plen + 8));
        c->v.seq = ~get_u64be(k + plen + 16);
        if (c->v.event_time <= ts && c->v.created_time <= sc->as_of) {
            c->row.p = rocksdb_iter_value(c->it, &c->row.n);
            if (!c->need)
                break;
            slice cell;
            int found = store_group_cell(c->group, c->need, c->row, &cell);
            if (found < 0)
                return -1;
            if (found)
                break;
        }
        rocksdb_iter_next(c->it);
    }
    return 0;
}

static int corrupt(strata_err *err)
{
    return err_set(err, STRATA_CORRUPT, "a stored row of values is corrupt");
}

int store_pit_scan_get(store_pit_scan *sc, slice id, int64_t ts, version *out, bool *found,
                       strata_err *err)
{
    if (id.n < 1 || id.n > LIMIT_ENTITY_ID_MAX)
        return err_set(err, STRATA_INVALID_ARGUMENT, "entity id must be 1 to %u bytes",
                       LIMIT_ENTITY_ID_MAX);
    if (sc->gen == 0 || !slice_eq(buf_slice(&sc->id), id)) {
        buf_reset(&sc->id);
        buf_append_slice(&sc->id, id);
        sc->gen++;
    }
    for (size_t k = 0; k < sc->ngrp; k++)
        if (cursor_at(sc, &sc->grp[k], ts))
            return corrupt(err);
    for (size_t j = 0; j < sc->nf; j++) {
        cursor *c = &sc->grp[sc->fg[j]];
        found[j] = false;
        if (c->exhausted)
            continue;
        slice cell;
        int has = store_group_cell(c->group, sc->f[j].feature_id, c->row, &cell);
        if (has < 0)
            return corrupt(err);
        if (!has) {
            /* The newest visible row lacks it: its own walk finds the newest that has it. */
            c = &sc->own[j];
            if (cursor_at(sc, c, ts))
                return corrupt(err);
            if (c->exhausted)
                continue;
            if (store_group_cell(c->group, sc->f[j].feature_id, c->row, &cell) != 1)
                return corrupt(err);
        }
        int64_t ttl = sc->f[j].ttl_us;
        if (ttl > 0 && ts >= INT64_MIN + ttl && c->v.event_time < ts - ttl)
            continue; /* the newest visible version is outside the TTL window */
        out[j] = c->v;
        out[j].feature_id = sc->f[j].feature_id;
        out[j].value = cell;
        found[j] = true;
    }
    char *rerr = NULL;
    for (size_t k = 0; k < sc->ngrp && !rerr; k++)
        rocksdb_iter_get_error(sc->grp[k].it, &rerr);
    for (size_t j = 0; j < sc->nf && !rerr; j++)
        if (sc->own[j].it)
            rocksdb_iter_get_error(sc->own[j].it, &rerr);
    return rerr ? store_rdb_err(err, rerr, "scanning values") : 0;
}
