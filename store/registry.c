/*
 * registry.c - entity and feature definitions: persisted records, the
 * immutable in-memory snapshot readers use, and the mutations.
 *
 * Records live in the `registry` CF as JSON (layouts in keys.h and
 * docs/architecture.md); the id counters live in `meta`. Readers never lock
 * against a mutation: they hold a reference-counted, immutable registry_t.
 *
 * A mutation, under reg_mu:
 *   1. validates its input (before any lock where possible),
 *   2. clones the current snapshot into a draft and applies the change,
 *   3. indexes the draft (the only step besides the write that can fail),
 *   4. writes the changed records and counters in one synced WriteBatch,
 *   5. swaps the draft in as the current snapshot.
 * Any failure before 5 frees the draft, so memory and disk never disagree.
 * Deletes that drop values take data_lock exclusively first (lock order in
 * store_int.h) so no write can land a version for what is being removed.
 *
 * Snapshot invariants: ents sorted by name, feats by (entity id, name); each
 * entity_def.features is its run of by_name; feat_by_id and ent_by_id are
 * sorted by id. Labels and descriptions belong to the snapshot; clones share
 * label objects (jansson's refcount is atomic) and never modify them.
 */
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "store/keys.h"
#include "store/store_int.h"

/* Longest TTL whose microseconds still fit the RFC 3339 time range. */
#define STORE_TTL_MAX_S ((TIME_MAX_US - TIME_MIN_US) / TIME_US_PER_SEC)

/* ---- snapshot lifecycle ------------------------------------------------- */

static void entity_clear(entity_def *e)
{
    free(e->description);
    json_decref(e->labels);
    e->description = NULL;
    e->labels = NULL;
}

static void feature_clear(feature_def *f)
{
    free(f->description);
    json_decref(f->labels);
    f->description = NULL;
    f->labels = NULL;
}

void store_registry_free(registry_t *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->nents; i++)
        entity_clear(&reg->ents[i]);
    for (size_t i = 0; i < reg->nfeats; i++)
        feature_clear(&reg->feats[i]);
    free(reg->ents);
    free(reg->feats);
    free(reg->by_name);
    free(reg->feat_by_id);
    free(reg->ent_by_id);
    free(reg->gone);
    free(reg);
}

static registry_t *reg_new(void)
{
    registry_t *r = calloc(1, sizeof *r);
    if (r)
        atomic_init(&r->refs, 1);
    return r;
}

/* Room for `extra_e` more entities and `extra_f` more features (unindexed draft). */
static int reg_reserve(registry_t *r, size_t extra_e, size_t extra_f)
{
    if (r->nents + extra_e > r->ents_cap) {
        size_t cap = r->ents_cap ? r->ents_cap : 16;
        while (cap < r->nents + extra_e)
            cap *= 2;
        entity_def *p = realloc(r->ents, cap * sizeof *p);
        if (!p)
            return -1;
        r->ents = p;
        r->ents_cap = cap;
    }
    if (r->nfeats + extra_f > r->feats_cap) {
        size_t cap = r->feats_cap ? r->feats_cap : 16;
        while (cap < r->nfeats + extra_f)
            cap *= 2;
        feature_def *p = realloc(r->feats, cap * sizeof *p);
        if (!p)
            return -1;
        r->feats = p;
        r->feats_cap = cap;
    }
    return 0;
}

static char *dup_slice(slice s)
{
    char *p = malloc(s.n + 1);
    if (!p)
        return NULL;
    if (s.n)
        memcpy(p, s.p, s.n);
    p[s.n] = '\0';
    return p;
}

/* A draft copy of src with room for extra entities/features. */
static registry_t *reg_clone(const registry_t *src, size_t extra_e, size_t extra_f)
{
    registry_t *r = reg_new();
    if (!r || reg_reserve(r, src->nents + extra_e, src->nfeats + extra_f))
        goto fail;
    for (size_t i = 0; i < src->nents; i++) {
        entity_def *e = &r->ents[r->nents];
        *e = src->ents[i];
        e->features = NULL;
        e->nfeatures = 0;
        e->labels = NULL;
        e->description = strdup(src->ents[i].description);
        if (!e->description)
            goto fail;
        e->labels = json_incref(src->ents[i].labels);
        r->nents++;
    }
    for (size_t i = 0; i < src->nfeats; i++) {
        feature_def *f = &r->feats[r->nfeats];
        *f = src->feats[i];
        f->labels = NULL;
        f->description = strdup(src->feats[i].description);
        if (!f->description)
            goto fail;
        f->labels = json_incref(src->feats[i].labels);
        r->nfeats++;
    }
    if (src->ngone) {
        if (!(r->gone = malloc(src->ngone * 3 * sizeof *r->gone)))
            goto fail;
        memcpy(r->gone, src->gone, src->ngone * 3 * sizeof *r->gone);
        r->ngone = src->ngone;
    }
    return r;
fail:
    store_registry_free(r);
    return NULL;
}

static int ent_name_cmp(const void *a, const void *b)
{
    const entity_def *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int feat_entity_name_cmp(const void *a, const void *b)
{
    const feature_def *x = a, *y = b;
    if (x->entity_id != y->entity_id)
        return x->entity_id < y->entity_id ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int feat_ptr_id_cmp(const void *a, const void *b)
{
    const feature_def *x = *(const feature_def *const *)a, *y = *(const feature_def *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int ent_ptr_id_cmp(const void *a, const void *b)
{
    const entity_def *x = *(const entity_def *const *)a, *y = *(const entity_def *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sort and build the lookup arrays; after this the draft must not grow. */
static int reg_index(registry_t *r)
{
    free(r->by_name);
    free(r->feat_by_id);
    free(r->ent_by_id);
    r->by_name = r->feat_by_id = NULL;
    r->ent_by_id = NULL;
    if (r->nents > 1)
        qsort(r->ents, r->nents, sizeof *r->ents, ent_name_cmp);
    if (r->nfeats > 1)
        qsort(r->feats, r->nfeats, sizeof *r->feats, feat_entity_name_cmp);
    if (r->nfeats) {
        r->by_name = malloc(r->nfeats * sizeof *r->by_name);
        r->feat_by_id = malloc(r->nfeats * sizeof *r->feat_by_id);
        if (!r->by_name || !r->feat_by_id)
            return -1;
        for (size_t i = 0; i < r->nfeats; i++)
            r->by_name[i] = r->feat_by_id[i] = &r->feats[i];
        qsort(r->feat_by_id, r->nfeats, sizeof *r->feat_by_id, feat_ptr_id_cmp);
    }
    if (r->nents) {
        r->ent_by_id = malloc(r->nents * sizeof *r->ent_by_id);
        if (!r->ent_by_id)
            return -1;
        for (size_t i = 0; i < r->nents; i++)
            r->ent_by_id[i] = &r->ents[i];
        qsort(r->ent_by_id, r->nents, sizeof *r->ent_by_id, ent_ptr_id_cmp);
    }
    for (size_t i = 0; i < r->nents; i++) {
        entity_def *e = &r->ents[i];
        /* Lower bound of e->id in feats (sorted by entity id first). */
        size_t lo = 0, hi = r->nfeats;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (r->feats[mid].entity_id < e->id)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t end = lo;
        while (end < r->nfeats && r->feats[end].entity_id == e->id)
            end++;
        e->features = r->by_name ? r->by_name + lo : NULL;
        e->nfeatures = end - lo;
    }
    return 0;
}

void store_registry_install(store_t *st, registry_t *next)
{
    pthread_mutex_lock(&st->snap_mu);
    registry_t *old = st->snap;
    st->snap = next;
    pthread_mutex_unlock(&st->snap_mu);
    store_registry_release(st, old);
}

const registry_t *store_registry_acquire(store_t *st)
{
    pthread_mutex_lock(&st->snap_mu);
    registry_t *r = st->snap;
    atomic_fetch_add(&r->refs, 1);
    pthread_mutex_unlock(&st->snap_mu);
    return r;
}

void store_registry_release(store_t *st, const registry_t *reg)
{
    (void)st;
    if (!reg)
        return;
    registry_t *r = (registry_t *)reg; /* only the refcount is touched */
    if (atomic_fetch_sub(&r->refs, 1) == 1)
        store_registry_free(r);
}

/* ---- lookups ------------------------------------------------------------ */

size_t registry_entity_count(const registry_t *reg)
{
    return reg ? reg->nents : 0;
}

const entity_def *registry_entity_at(const registry_t *reg, size_t i)
{
    return reg && i < reg->nents ? &reg->ents[i] : NULL;
}

const entity_def *registry_entity(const registry_t *reg, slice name)
{
    if (!reg)
        return NULL;
    size_t lo = 0, hi = reg->nents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = slice_cmp(name, slice_of(reg->ents[mid].name));
        if (c == 0)
            return &reg->ents[mid];
        if (c > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const entity_def *registry_entity_by_id(const registry_t *reg, uint32_t entity_id)
{
    if (!reg)
        return NULL;
    size_t lo = 0, hi = reg->nents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t id = reg->ent_by_id[mid]->id;
        if (id == entity_id)
            return reg->ent_by_id[mid];
        if (id < entity_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const feature_def *registry_feature(const entity_def *e, slice name)
{
    if (!e)
        return NULL;
    size_t lo = 0, hi = e->nfeatures;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = slice_cmp(name, slice_of(e->features[mid]->name));
        if (c == 0)
            return e->features[mid];
        if (c > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const feature_def *registry_feature_by_id(const registry_t *reg, uint32_t feature_id)
{
    if (!reg)
        return NULL;
    size_t lo = 0, hi = reg->nfeats;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t id = reg->feat_by_id[mid]->id;
        if (id == feature_id)
            return reg->feat_by_id[mid];
        if (id < feature_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- records ------------------------------------------------------------ */

static json_t *entity_record(const entity_def *e)
{
    return json_pack("{s:I, s:s, s:s, s:O, s:I, s:I}", "id", (json_int_t)e->id, "name", e->name,
                     "description", e->description, "labels", e->labels, "create_time",
                     (json_int_t)e->create_time, "update_time", (json_int_t)e->update_time);
}

static json_t *feature_record(const feature_def *f)
{
    return json_pack("{s:I, s:I, s:s, s:s, s:I, s:s, s:O, s:I, s:I}", "id", (json_int_t)f->id,
                     "entity_id", (json_int_t)f->entity_id, "name", f->name, "type",
                     value_type_name(f->type), "ttl_seconds", (json_int_t)f->ttl_seconds,
                     "description", f->description, "labels", f->labels, "create_time",
                     (json_int_t)f->create_time, "update_time", (json_int_t)f->update_time);
}

/* Serialise rec (reference stolen) and add it to the batch under key. */
static int put_record(rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *cf, const buf *key,
                      json_t *rec, strata_err *err)
{
    char *s = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(rec);
    if (!s)
        return err_set(err, STRATA_NOMEM, "cannot serialise a registry record");
    rocksdb_writebatch_put_cf(wb, cf, key->p, key->n, s, strlen(s));
    free(s);
    return 0;
}

static void put_meta_u32(rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *cf,
                         const char *key, uint32_t v)
{
    char b[4];
    put_u32be(b, v);
    rocksdb_writebatch_put_cf(wb, cf, key, strlen(key), b, sizeof b);
}

static int corrupt_record(strata_err *err, slice key, const char *why)
{
    char ex[128];
    text_excerpt(key, ex, sizeof ex);
    return err_set(err, STRATA_CORRUPT, "registry record \"%s\" is corrupt: %s", ex, why);
}

static bool valid_id(json_int_t v)
{
    return v >= 1 && v <= (json_int_t)UINT32_MAX;
}

static int parse_entity(slice key, slice val, entity_def *e, strata_err *err)
{
    json_error_t je;
    json_int_t id, ct, ut;
    const char *name = NULL, *desc = NULL;
    json_t *labels = NULL;
    int rc = 0;
    json_t *j = json_loadb(val.p, val.n, JSON_REJECT_DUPLICATES, &je);
    memset(e, 0, sizeof *e);
    if (!j)
        return corrupt_record(err, key, je.text);
    /* Not JSON_STRICT: a later version may add fields. */
    if (json_unpack_ex(j, &je, 0, "{s:I, s:s, s:s, s:o, s:I, s:I}", "id", &id, "name", &name,
                       "description", &desc, "labels", &labels, "create_time", &ct, "update_time",
                       &ut)) {
        rc = corrupt_record(err, key, je.text);
        goto out;
    }
    slice sname = slice_of(name);
    if (!valid_id(id) || !text_valid_name(sname) || !json_is_object(labels) ||
        key.n != 1 + sname.n || memcmp(key.p + 1, name, sname.n) != 0) {
        rc = corrupt_record(err, key, "fields do not match the key or are out of range");
        goto out;
    }
    e->description = strdup(desc);
    if (!e->description) {
        rc = err_set(err, STRATA_NOMEM, "out of memory loading the registry");
        goto out;
    }
    e->id = (uint32_t)id;
    memcpy(e->name, name, sname.n + 1);
    e->labels = json_incref(labels);
    e->create_time = ct;
    e->update_time = ut;
out:
    json_decref(j);
    return rc;
}

static int parse_feature(slice key, slice val, feature_def *f, strata_err *err)
{
    json_error_t je;
    json_int_t id, eid, ttl, ct, ut;
    const char *name = NULL, *type = NULL, *desc = NULL;
    json_t *labels = NULL;
    value_type vt;
    int rc = 0;
    json_t *j = json_loadb(val.p, val.n, JSON_REJECT_DUPLICATES, &je);
    memset(f, 0, sizeof *f);
    if (!j)
        return corrupt_record(err, key, je.text);
    if (json_unpack_ex(j, &je, 0, "{s:I, s:I, s:s, s:s, s:I, s:s, s:o, s:I, s:I}", "id", &id,
                       "entity_id", &eid, "name", &name, "type", &type, "ttl_seconds", &ttl,
                       "description", &desc, "labels", &labels, "create_time", &ct, "update_time",
                       &ut)) {
        rc = corrupt_record(err, key, je.text);
        goto out;
    }
    slice sname = slice_of(name);
    if (!valid_id(id) || !valid_id(eid) || !text_valid_name(sname) ||
        value_type_parse(slice_of(type), &vt) || ttl < 0 || !json_is_object(labels) ||
        key.n != 5 + sname.n || get_u32be(key.p + 1) != (uint32_t)eid ||
        memcmp(key.p + 5, name, sname.n) != 0) {
        rc = corrupt_record(err, key, "fields do not match the key or are out of range");
        goto out;
    }
    f->description = strdup(desc);
    if (!f->description) {
        rc = err_set(err, STRATA_NOMEM, "out of memory loading the registry");
        goto out;
    }
    f->id = (uint32_t)id;
    f->entity_id = (uint32_t)eid;
    memcpy(f->name, name, sname.n + 1);
    f->type = vt;
    f->ttl_seconds = ttl;
    f->labels = json_incref(labels);
    f->create_time = ct;
    f->update_time = ut;
out:
    json_decref(j);
    return rc;
}

/* Record a deleted feature's group in r->gone, kept sorted by feature id;
 * -1 out of memory. */
static int gone_add(registry_t *r, uint32_t entity_id, uint32_t feature_id, uint32_t group)
{
    uint32_t *g = realloc(r->gone, (r->ngone + 1) * 3 * sizeof *g);
    if (!g)
        return -1;
    r->gone = g;
    size_t at = r->ngone;
    while (at > 0 && g[3 * (at - 1)] > feature_id)
        at--;
    memmove(&g[3 * (at + 1)], &g[3 * at], (r->ngone - at) * 3 * sizeof *g);
    g[3 * at] = feature_id;
    g[3 * at + 1] = entity_id;
    g[3 * at + 2] = group;
    r->ngone++;
    return 0;
}

uint32_t store_registry_group(const registry_t *reg, uint32_t entity_id, uint32_t feature_id)
{
    const feature_def *f = registry_feature_by_id(reg, feature_id);
    if (f)
        return f->entity_id == entity_id ? store_feature_group(f) : feature_id;
    size_t lo = 0, hi = reg->ngone;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (reg->gone[3 * mid] < feature_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < reg->ngone && reg->gone[3 * lo] == feature_id && reg->gone[3 * lo + 1] == entity_id)
        return reg->gone[3 * lo + 2];
    return feature_id;
}

int store_registry_load(store_t *st, registry_t **out, uint32_t *max_entity, uint32_t *max_feature,
                        strata_err *err)
{
    int rc = 0;
    char *rerr = NULL;
    registry_t *r = reg_new();
    rocksdb_iterator_t *it = NULL;
    uint32_t *groups = NULL; /* (entity id, feature id, group) of 'G' records */
    size_t ngroups = 0, groups_cap = 0;

    *out = NULL;
    *max_entity = *max_feature = 0;
    if (!r) {
        rc = err_set(err, STRATA_NOMEM, "out of memory loading the registry");
        goto out;
    }
    it = rocksdb_create_iterator_cf(st->db, st->ro_total, st->cf[CF_REGISTRY]);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        slice k, v;
        k.p = rocksdb_iter_key(it, &k.n);
        v.p = rocksdb_iter_value(it, &v.n);
        if (reg_reserve(r, 1, 1)) {
            rc = err_set(err, STRATA_NOMEM, "out of memory loading the registry");
            goto out;
        }
        if (k.n > 1 && k.p[0] == STORE_REG_ENTITY_TAG) {
            if ((rc = parse_entity(k, v, &r->ents[r->nents], err)))
                goto out;
            r->nents++;
        } else if (k.n > 5 && k.p[0] == STORE_REG_FEATURE_TAG) {
            if ((rc = parse_feature(k, v, &r->feats[r->nfeats], err)))
                goto out;
            r->nfeats++;
        } else if (k.n == 9 && k.p[0] == STORE_REG_GROUP_TAG) {
            uint32_t fid = get_u32be(k.p + 5), g = v.n == 4 ? get_u32be(v.p) : 0;
            if (fid == 0 || fid >= STORE_GROUP_SET || (g != fid && !store_group_is_set(g))) {
                rc = corrupt_record(err, k, "not a feature's write group");
                goto out;
            }
            if (ngroups == groups_cap) {
                groups_cap = groups_cap ? 2 * groups_cap : 64;
                uint32_t *ng = realloc(groups, groups_cap * 3 * sizeof *groups);
                if (!ng) {
                    rc = err_set(err, STRATA_NOMEM, "out of memory loading the registry");
                    goto out;
                }
                groups = ng;
            }
            groups[3 * ngroups] = get_u32be(k.p + 1);
            groups[3 * ngroups + 1] = fid;
            groups[3 * ngroups + 2] = g;
            ngroups++;
        } else if (k.n == 9 && k.p[0] == STORE_REG_PURGE_TAG) {
            continue; /* a purge to finish: store_purge_pending */
        } else {
            rc = corrupt_record(err, k, "unknown record kind");
            goto out;
        }
    }
    rocksdb_iter_get_error(it, &rerr);
    if (rerr) {
        rc = store_rdb_err(err, rerr, "reading the registry");
        goto out;
    }
    if (reg_index(r)) {
        rc = err_set(err, STRATA_NOMEM, "out of memory loading the registry");
        goto out;
    }
    for (size_t i = 0; i < r->nents; i++) {
        if (i && r->ent_by_id[i]->id == r->ent_by_id[i - 1]->id) {
            rc = err_set(err, STRATA_CORRUPT, "registry is corrupt: entity id %u used twice",
                         r->ent_by_id[i]->id);
            goto out;
        }
        if (r->ent_by_id[i]->id > *max_entity)
            *max_entity = r->ent_by_id[i]->id;
    }
    for (size_t i = 0; i < r->nfeats; i++) {
        const feature_def *f = r->feat_by_id[i];
        if (i && f->id == r->feat_by_id[i - 1]->id) {
            rc = err_set(err, STRATA_CORRUPT, "registry is corrupt: feature id %u used twice",
                         f->id);
            goto out;
        }
        if (!registry_entity_by_id(r, f->entity_id)) {
            rc = err_set(err, STRATA_CORRUPT,
                         "registry is corrupt: feature \"%s\" belongs to unknown entity id %u",
                         f->name, f->entity_id);
            goto out;
        }
        if (f->id > *max_feature)
            *max_feature = f->id;
    }
    for (size_t i = 0; i < ngroups; i++) {
        feature_def *f = (feature_def *)registry_feature_by_id(r, groups[3 * i + 1]);
        if (!f) { /* a deleted feature's */
            if ((rc = gone_add(r, groups[3 * i], groups[3 * i + 1], groups[3 * i + 2]))) {
                rc = err_set(err, STRATA_NOMEM, "out of memory loading the registry");
                goto out;
            }
            continue;
        }
        if (f->entity_id != groups[3 * i]) {
            rc = err_set(err, STRATA_CORRUPT,
                         "registry is corrupt: the write group of feature \"%s\" is recorded "
                         "under entity id %u",
                         f->name, groups[3 * i]);
            goto out;
        }
        f->group = groups[3 * i + 2];
    }
    *out = r;
    r = NULL;
out:
    if (it)
        rocksdb_iter_destroy(it);
    store_registry_free(r);
    free(groups);
    return rc;
}

/* ---- validation --------------------------------------------------------- */

static int check_name(slice name, const char *what, strata_err *err)
{
    if (text_valid_name(name))
        return 0;
    char ex[96];
    text_excerpt(name, ex, sizeof ex);
    return err_set(err, STRATA_INVALID_ARGUMENT,
                   "invalid %s name \"%s\": must match [a-z][a-z0-9_]{0,63}", what, ex);
}

static int check_description(slice d, strata_err *err)
{
    if (d.n > LIMIT_DESCRIPTION_MAX)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "description of %zu bytes exceeds the limit of %u bytes", d.n,
                       LIMIT_DESCRIPTION_MAX);
    if (d.n && (!text_valid_utf8(d) || memchr(d.p, '\0', d.n)))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "description must be UTF-8 text without NUL characters");
    return 0;
}

/*
 * Labels: a JSON object of at most LIMIT_LABELS_MAX entries; keys of 1..64
 * bytes without '=' (search takes `label:key=value`), values strings of at most
 * LIMIT_DESCRIPTION_MAX bytes without NUL.
 */
static int check_labels(json_t *labels, strata_err *err)
{
    const char *k = NULL;
    json_t *v = NULL;
    if (!labels)
        return 0;
    if (!json_is_object(labels))
        return err_set(err, STRATA_INVALID_ARGUMENT, "labels must be an object of string values");
    if (json_object_size(labels) > LIMIT_LABELS_MAX)
        return err_set(err, STRATA_INVALID_ARGUMENT, "%zu labels exceed the limit of %u",
                       json_object_size(labels), LIMIT_LABELS_MAX);
    json_object_foreach(labels, k, v)
    {
        size_t klen = strlen(k);
        char ex[96];
        text_excerpt((slice){k, klen}, ex, sizeof ex);
        if (klen == 0 || klen > LIMIT_NAME_MAX || strchr(k, '='))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "invalid label key \"%s\": must be 1..%u bytes without '='", ex,
                           LIMIT_NAME_MAX);
        if (!json_is_string(v))
            return err_set(err, STRATA_INVALID_ARGUMENT, "label \"%s\" must be a string", ex);
        size_t vlen = json_string_length(v);
        if (vlen > LIMIT_DESCRIPTION_MAX || strlen(json_string_value(v)) != vlen)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "label \"%s\" must be at most %u bytes without NUL characters", ex,
                           LIMIT_DESCRIPTION_MAX);
    }
    return 0;
}

static int check_ttl(int64_t ttl, strata_err *err)
{
    if (ttl < 0 || ttl > STORE_TTL_MAX_S)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "ttl_seconds must be between 0 and %lld, got %lld",
                       (long long)STORE_TTL_MAX_S, (long long)ttl);
    return 0;
}

static int check_spec(const feature_spec *s, strata_err *err)
{
    int rc;
    if ((rc = check_name(s->name, "feature", err)))
        return rc;
    if (!value_type_name(s->type))
        return err_set(err, STRATA_INVALID_ARGUMENT, "invalid type for feature \"%.*s\"",
                       (int)s->name.n, s->name.p);
    if ((rc = check_ttl(s->ttl_seconds, err)) || (rc = check_description(s->description, err)) ||
        (rc = check_labels(s->labels, err)))
        err_prefix(err, "feature \"%.*s\"", (int)s->name.n, s->name.p); /* err may be NULL */
    return rc;
}

static json_t *labels_copy(json_t *labels)
{
    return labels ? json_deep_copy(labels) : json_object();
}

/* The end of every registry mutation: write its records (fsync), then swap
 * the indexed draft in; *draft is the store's from then on (NULL here). */
static int publish(store_t *st, rocksdb_writebatch_t *wb, registry_t **draft, const char *what,
                   strata_err *err)
{
    char *rerr = NULL;
    rocksdb_write(st->db, st->wo_sync, wb, &rerr);
    if (rerr)
        return store_rdb_err(err, rerr, what);
    store_registry_install(st, *draft);
    *draft = NULL;
    return 0;
}

static int entity_not_found(strata_err *err, slice name)
{
    char ex[96];
    text_excerpt(name, ex, sizeof ex);
    return err_set(err, STRATA_NOT_FOUND, "entity \"%s\" not found", ex);
}

static int feature_not_found(strata_err *err, const entity_def *e, slice name)
{
    char ex[96];
    text_excerpt(name, ex, sizeof ex);
    return err_set(err, STRATA_NOT_FOUND, "feature \"%s:%s\" not found", e->name, ex);
}

/* ---- mutations ---------------------------------------------------------- */

int store_entity_create(store_t *st, slice name, slice description, json_t *labels, strata_err *err)
{
    int rc;
    bool locked = false;
    registry_t *draft = NULL;
    rocksdb_writebatch_t *wb = NULL;
    buf key = BUF_INIT;

    if ((rc = store_check_writable(st, err)) || (rc = check_name(name, "entity", err)) ||
        (rc = check_description(description, err)) || (rc = check_labels(labels, err)))
        goto out;
    pthread_mutex_lock(&st->reg_mu);
    locked = true;
    if (registry_entity(st->snap, name)) {
        rc = err_set(err, STRATA_ALREADY_EXISTS, "entity \"%.*s\" already exists", (int)name.n,
                     name.p);
        goto out;
    }
    /* UINT32_MAX is never handed out, so id + 1 and key successors never wrap. */
    if (st->next_entity_id >= UINT32_MAX) {
        rc = err_set(err, STRATA_RESOURCE_EXHAUSTED, "entity ids are exhausted");
        goto out;
    }
    if (!(draft = reg_clone(st->snap, 1, 0)))
        goto nomem;
    entity_def *e = &draft->ents[draft->nents];
    memset(e, 0, sizeof *e);
    e->id = st->next_entity_id;
    memcpy(e->name, name.p, name.n);
    e->name[name.n] = '\0';
    e->description = dup_slice(description);
    e->labels = labels_copy(labels);
    e->create_time = e->update_time = time_now_us();
    draft->nents++; /* owned by the draft from here on, even half-filled */
    if (!e->description || !e->labels)
        goto nomem;

    wb = rocksdb_writebatch_create();
    store_key_reg_entity(&key, name);
    if ((rc = put_record(wb, st->cf[CF_REGISTRY], &key, entity_record(e), err)))
        goto out;
    put_meta_u32(wb, st->cf[CF_META], STORE_META_NEXT_ENTITY, e->id + 1);
    uint32_t id = e->id;
    if (reg_index(draft))
        goto nomem;
    if ((rc = publish(st, wb, &draft, "writing the registry", err)))
        goto out;
    st->next_entity_id = id + 1;
    goto out;
nomem:
    rc = err_set(err, STRATA_NOMEM, "out of memory updating the registry");
out:
    if (locked)
        pthread_mutex_unlock(&st->reg_mu);
    if (wb)
        rocksdb_writebatch_destroy(wb);
    buf_free(&key);
    store_registry_free(draft);
    return rc;
}

static int spec_ptr_name_cmp(const void *a, const void *b)
{
    const feature_spec *x = *(const feature_spec *const *)a, *y = *(const feature_spec *const *)b;
    return slice_cmp(x->name, y->name);
}

int store_features_create(store_t *st, slice entity, const feature_spec *specs, size_t n,
                          strata_err *err)
{
    int rc;
    bool locked = false;
    registry_t *draft = NULL;
    rocksdb_writebatch_t *wb = NULL;
    const feature_spec **sorted = NULL;
    buf key = BUF_INIT;

    if ((rc = store_check_writable(st, err)))
        goto out;
    if (n == 0) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "no features given");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_spec(&specs[i], err))) {
            if (n > 1)
                err_prefix(err, "features[%zu]", i);
            goto out;
        }
    }
    if (!(sorted = malloc(n * sizeof *sorted)))
        goto nomem;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &specs[i];
    qsort(sorted, n, sizeof *sorted, spec_ptr_name_cmp);
    for (size_t i = 1; i < n; i++) {
        if (slice_eq(sorted[i]->name, sorted[i - 1]->name)) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "feature \"%.*s\" is given twice",
                         (int)sorted[i]->name.n, sorted[i]->name.p);
            goto out;
        }
    }

    pthread_mutex_lock(&st->reg_mu);
    locked = true;
    const entity_def *e = registry_entity(st->snap, entity);
    if (!e) {
        rc = entity_not_found(err, entity);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (registry_feature(e, specs[i].name)) {
            rc = err_set(err, STRATA_ALREADY_EXISTS, "feature \"%s:%.*s\" already exists", e->name,
                         (int)specs[i].name.n, specs[i].name.p);
            goto out;
        }
    }
    if (e->nfeatures + n > LIMIT_FEATURES_PER_ENTITY) {
        rc = err_set(err, STRATA_RESOURCE_EXHAUSTED,
                     "entity \"%s\" would have %zu features, over the limit of %u", e->name,
                     e->nfeatures + n, LIMIT_FEATURES_PER_ENTITY);
        goto out;
    }
    if (st->next_feature_id >= STORE_GROUP_SET - n) { /* keys.h: ids stay below it */
        rc = err_set(err, STRATA_RESOURCE_EXHAUSTED, "feature ids are exhausted");
        goto out;
    }
    if (!(draft = reg_clone(st->snap, 0, n)))
        goto nomem;
    wb = rocksdb_writebatch_create();
    int64_t now = time_now_us();
    uint32_t entity_id = e->id;
    for (size_t i = 0; i < n; i++) {
        const feature_spec *s = &specs[i];
        feature_def *f = &draft->feats[draft->nfeats];
        memset(f, 0, sizeof *f);
        f->id = st->next_feature_id + (uint32_t)i;
        f->entity_id = entity_id;
        memcpy(f->name, s->name.p, s->name.n);
        f->name[s->name.n] = '\0';
        f->type = s->type;
        f->ttl_seconds = s->ttl_seconds;
        f->description = dup_slice(s->description);
        f->labels = labels_copy(s->labels);
        f->create_time = f->update_time = now;
        draft->nfeats++;
        if (!f->description || !f->labels)
            goto nomem;
        buf_reset(&key);
        store_key_reg_feature(&key, entity_id, s->name);
        if ((rc = put_record(wb, st->cf[CF_REGISTRY], &key, feature_record(f), err)))
            goto out;
    }
    uint32_t next = st->next_feature_id + (uint32_t)n;
    put_meta_u32(wb, st->cf[CF_META], STORE_META_NEXT_FEATURE, next);
    if (reg_index(draft))
        goto nomem;
    if ((rc = publish(st, wb, &draft, "writing the registry", err)))
        goto out;
    st->next_feature_id = next;
    goto out;
nomem:
    rc = err_set(err, STRATA_NOMEM, "out of memory updating the registry");
out:
    if (locked)
        pthread_mutex_unlock(&st->reg_mu);
    if (wb)
        rocksdb_writebatch_destroy(wb);
    buf_free(&key);
    free(sorted);
    store_registry_free(draft);
    return rc;
}

static feature_def *draft_feature(registry_t *d, uint32_t id)
{
    for (size_t i = 0; i < d->nfeats; i++)
        if (d->feats[i].id == id)
            return &d->feats[i];
    return NULL;
}

int store_feature_update(store_t *st, slice entity, slice feature, const slice *description,
                         json_t *labels, const int64_t *ttl_seconds, strata_err *err)
{
    int rc;
    bool locked = false;
    registry_t *draft = NULL;
    rocksdb_writebatch_t *wb = NULL;
    buf key = BUF_INIT;
    char *new_desc = NULL;
    json_t *new_labels = NULL;

    if ((rc = store_check_writable(st, err)) ||
        (description && (rc = check_description(*description, err))) ||
        (rc = check_labels(labels, err)) || (ttl_seconds && (rc = check_ttl(*ttl_seconds, err))))
        goto out;
    if (description && !(new_desc = dup_slice(*description)))
        goto nomem;
    if (labels && !(new_labels = json_deep_copy(labels)))
        goto nomem;

    pthread_mutex_lock(&st->reg_mu);
    locked = true;
    const entity_def *e = registry_entity(st->snap, entity);
    if (!e) {
        rc = entity_not_found(err, entity);
        goto out;
    }
    const feature_def *cur = registry_feature(e, feature);
    if (!cur) {
        rc = feature_not_found(err, e, feature);
        goto out;
    }
    if (!(draft = reg_clone(st->snap, 0, 0)))
        goto nomem;
    feature_def *f = draft_feature(draft, cur->id);
    STRATA_ASSERT(f != NULL);
    if (new_desc) {
        free(f->description);
        f->description = new_desc;
        new_desc = NULL;
    }
    if (new_labels) {
        json_decref(f->labels);
        f->labels = new_labels;
        new_labels = NULL;
    }
    if (ttl_seconds)
        f->ttl_seconds = *ttl_seconds;
    f->update_time = time_now_us();

    wb = rocksdb_writebatch_create();
    store_key_reg_feature(&key, f->entity_id, feature);
    if ((rc = put_record(wb, st->cf[CF_REGISTRY], &key, feature_record(f), err)))
        goto out;
    if (reg_index(draft))
        goto nomem;
    if ((rc = publish(st, wb, &draft, "writing the registry", err)))
        goto out;
    goto out;
nomem:
    rc = err_set(err, STRATA_NOMEM, "out of memory updating the registry");
out:
    if (locked)
        pthread_mutex_unlock(&st->reg_mu);
    if (wb)
        rocksdb_writebatch_destroy(wb);
    buf_free(&key);
    free(new_desc);
    json_decref(new_labels);
    store_registry_free(draft);
    return rc;
}

/* A deleted feature's versions go in chunks of whole ids of about this many
 * `values` keys, each one batch under data_lock taken exclusively, which
 * writes (to any entity) get between chunks. */
#define PURGE_CHUNK_KEYS 20000

int store_purge_feature(store_t *st, uint32_t eid, uint32_t fid, uint64_t *deleted, strata_err *err)
{
    int rc = 0;
    char *rerr = NULL;
    buf from = BUF_INIT, next = BUF_INIT, key = BUF_INIT;
    *deleted = 0;
    for (;;) {
        pthread_rwlock_wrlock(&st->data_lock);
        const registry_t *reg = store_registry_acquire(st);
        bool alive = registry_entity_by_id(reg, eid) != NULL;
        store_registry_release(st, reg);
        if (!alive) { /* deleted meanwhile: its values and this record went with it */
            pthread_rwlock_unlock(&st->data_lock);
            goto out;
        }
        rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
        rc = store_scan_delete(st, wb, eid, &fid, 1, true, 0, 0, buf_slice(&from), PURGE_CHUNK_KEYS,
                               &next, deleted, err);
        if (rc == 0 && rocksdb_writebatch_count(wb) > 0) {
            rocksdb_write(st->db, st->wo_data, wb, &rerr);
            if (rerr)
                rc = store_rdb_err(err, rerr, "removing a deleted feature's versions");
        }
        rocksdb_writebatch_destroy(wb);
        pthread_rwlock_unlock(&st->data_lock);
        if (rc)
            goto out;
        if (next.n == 0)
            break;
        buf tmp = from;
        from = next;
        next = tmp;
    }
    store_key_reg_purge(&key, eid, fid);
    rocksdb_delete_cf(st->db, st->wo_sync, st->cf[CF_REGISTRY], key.p, key.n, &rerr);
    if (rerr)
        rc = store_rdb_err(err, rerr, "recording a finished purge");
out:
    buf_free(&from);
    buf_free(&next);
    buf_free(&key);
    return rc;
}

int store_purge_pending(store_t *st, strata_err *err)
{
    char tag = STORE_REG_PURGE_TAG, *rerr = NULL;
    uint32_t *due = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, st->ro_total, st->cf[CF_REGISTRY]);
    for (rocksdb_iter_seek(it, &tag, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kn;
        const char *k = rocksdb_iter_key(it, &kn);
        if (kn != 9 || k[0] != STORE_REG_PURGE_TAG)
            break;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            uint32_t *nd = realloc(due, 2 * cap * sizeof *due);
            STRATA_ASSERT(nd != NULL);
            due = nd;
        }
        due[2 * n] = get_u32be(k + 1);
        due[2 * n + 1] = get_u32be(k + 5);
        n++;
    }
    rocksdb_iter_get_error(it, &rerr);
    rocksdb_iter_destroy(it);
    if (rerr) {
        rc = store_rdb_err(err, rerr, "listing unfinished purges");
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t deleted = 0;
        log_info("removing the stored versions of deleted feature id %u (entity id %u): its "
                 "delete was cut short",
                 due[2 * i + 1], due[2 * i]);
        if ((rc = store_purge_feature(st, due[2 * i], due[2 * i + 1], &deleted, err)) == 0)
            log_info("removed %llu stored versions of deleted feature id %u",
                     (unsigned long long)deleted, due[2 * i + 1]);
    }
out:
    free(due);
    return rc;
}

int store_feature_delete_ex(store_t *st, slice entity, slice feature, bool purge, strata_err *err)
{
    int rc;
    bool locked = false;
    registry_t *draft = NULL;
    rocksdb_writebatch_t *wb = NULL;
    buf key = BUF_INIT;
    uint64_t deleted = 0;
    uint32_t fid = 0, eid = 0;
    bool stored = false;

    if ((rc = store_check_writable(st, err)))
        return rc;
    /* Exclusive: a write that resolved the feature before this delete lands
     * before it, so the purge below meets its versions. */
    pthread_rwlock_wrlock(&st->data_lock);
    pthread_mutex_lock(&st->reg_mu);
    locked = true;
    const entity_def *e = registry_entity(st->snap, entity);
    if (!e) {
        rc = entity_not_found(err, entity);
        goto out;
    }
    const feature_def *cur = registry_feature(e, feature);
    if (!cur) {
        rc = feature_not_found(err, e, feature);
        goto out;
    }
    fid = cur->id;
    eid = e->id;
    /* Group 0: never written, or a layout-1 directory not written since. */
    stored = cur->group != 0 || atomic_load(&st->layout) < STORE_LAYOUT_VERSION;
    if (!(draft = reg_clone(st->snap, 0, 0)))
        goto nomem;
    feature_def *f = draft_feature(draft, fid);
    STRATA_ASSERT(f != NULL);
    feature_clear(f);
    *f = draft->feats[--draft->nfeats];

    wb = rocksdb_writebatch_create();
    store_key_reg_feature(&key, eid, feature);
    rocksdb_writebatch_delete_cf(wb, st->cf[CF_REGISTRY], key.p, key.n);
    /* Its 'G' record stays (registry.gone): snapshots taken before this
     * delete still find its cells. */
    if (cur->group && gone_add(draft, eid, fid, cur->group))
        goto nomem;
    /* Its versions are removed after the registry change, in chunks that let
     * writes through; the 'P' record, in the same synced batch, has the next
     * open finish a removal cut short. */
    if (stored) {
        buf_reset(&key);
        store_key_reg_purge(&key, eid, fid);
        rocksdb_writebatch_put_cf(wb, st->cf[CF_REGISTRY], key.p, key.n, "", 0);
    }
    if (reg_index(draft))
        goto nomem;
    /* e and cur belong to the snapshot publish releases: not used after. */
    if ((rc = publish(st, wb, &draft, "deleting a feature", err)))
        goto out;
    pthread_mutex_unlock(&st->reg_mu);
    pthread_rwlock_unlock(&st->data_lock);
    locked = false;
    if (stored && purge) {
        if ((rc = store_purge_feature(st, eid, fid, &deleted, err))) {
            err_prefix(err,
                       "feature %.*s:%.*s is deleted, but removing its stored versions "
                       "failed (the next start finishes it)",
                       (int)entity.n, entity.p, (int)feature.n, feature.p);
            goto out;
        }
    }
    log_info("deleted feature %.*s:%.*s and %llu of its stored versions", (int)entity.n, entity.p,
             (int)feature.n, feature.p, (unsigned long long)deleted);
    goto out;
nomem:
    rc = err_set(err, STRATA_NOMEM, "out of memory updating the registry");
out:
    if (locked) {
        pthread_mutex_unlock(&st->reg_mu);
        pthread_rwlock_unlock(&st->data_lock);
    }
    if (wb)
        rocksdb_writebatch_destroy(wb);
    buf_free(&key);
    store_registry_free(draft);
    return rc;
}

int store_feature_delete(store_t *st, slice entity, slice feature, strata_err *err)
{
    return store_feature_delete_ex(st, entity, feature, true, err);
}

int store_entity_delete(store_t *st, slice name, bool force, strata_err *err)
{
    int rc;
    bool locked = false;
    registry_t *draft = NULL;
    rocksdb_writebatch_t *wb = NULL;
    buf key = BUF_INIT, end = BUF_INIT;

    if ((rc = store_check_writable(st, err)))
        return rc;
    pthread_rwlock_wrlock(&st->data_lock);
    pthread_mutex_lock(&st->reg_mu);
    locked = true;
    const entity_def *e = registry_entity(st->snap, name);
    if (!e) {
        rc = entity_not_found(err, name);
        goto out;
    }
    uint32_t eid = e->id;
    if (!force) {
        bool has = false;
        if ((rc = store_entity_has_values(st, eid, &has, err)))
            goto out;
        if (has) {
            rc = err_set(err, STRATA_FAILED_PRECONDITION,
                         "entity \"%s\" holds values; delete it with ?force=true (CLI: --force) to "
                         "remove them too",
                         e->name);
            goto out;
        }
    }
    if (!(draft = reg_clone(st->snap, 0, 0)))
        goto nomem;
    for (size_t i = 0; i < draft->nents; i++) {
        if (draft->ents[i].id == eid) {
            entity_clear(&draft->ents[i]);
            draft->ents[i] = draft->ents[--draft->nents];
            break;
        }
    }
    for (size_t i = 0; i < draft->nfeats;) {
        if (draft->feats[i].entity_id == eid) {
            feature_clear(&draft->feats[i]);
            draft->feats[i] = draft->feats[--draft->nfeats];
        } else {
            i++;
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < draft->ngone; i++)
        if (draft->gone[3 * i + 1] != eid)
            memmove(&draft->gone[3 * kept++], &draft->gone[3 * i], 3 * sizeof *draft->gone);
    draft->ngone = kept;

    wb = rocksdb_writebatch_create();
    store_key_reg_entity(&key, name);
    rocksdb_writebatch_delete_cf(wb, st->cf[CF_REGISTRY], key.p, key.n);
    /* Its features, their groups, and purges still due (the entity's values
     * go with it under force, or it holds none). */
    const char tags[] = {STORE_REG_FEATURE_TAG, STORE_REG_GROUP_TAG, STORE_REG_PURGE_TAG};
    for (size_t t = 0; t < sizeof tags; t++) {
        buf_reset(&key);
        buf_reset(&end);
        store_key_reg_prefix(&key, tags[t], eid);
        buf_append(&end, key.p, key.n);
        STRATA_ASSERT(store_key_successor(&end));
        rocksdb_writebatch_delete_range_cf(wb, st->cf[CF_REGISTRY], key.p, key.n, end.p, end.n);
    }
    if (force) {
        /* Without force the check above, under the exclusive data_lock, proved
         * both ranges empty. */
        buf_reset(&key);
        buf_reset(&end);
        store_key_entity(&key, eid);
        store_key_entity(&end, eid + 1); /* eid < UINT32_MAX, see store_entity_create */
        rocksdb_writebatch_delete_range_cf(wb, st->cf[CF_VALUES], key.p, key.n, end.p, end.n);
        /* DeleteRange on a column family read by Gets: only because this
         * entity's id is never named again (store_int.h, "DeleteRange and the
         * row cache"). */
        rocksdb_writebatch_delete_range_cf(wb, st->cf[CF_LATEST], key.p, key.n, end.p, end.n);
    }
    if (reg_index(draft))
        goto nomem;
    if ((rc = publish(st, wb, &draft, "deleting an entity", err)))
        goto out;
    goto out;
nomem:
    rc = err_set(err, STRATA_NOMEM, "out of memory updating the registry");
out:
    if (locked) {
        pthread_mutex_unlock(&st->reg_mu);
        pthread_rwlock_unlock(&st->data_lock);
    }
    if (wb)
        rocksdb_writebatch_destroy(wb);
    buf_free(&key);
    buf_free(&end);
    store_registry_free(draft);
    return rc;
}

/* ---- write groups (keys.h) ------------------------------------------------ */

static void put_group(rocksdb_writebatch_t *wb, store_t *st, buf *key, const feature_def *f)
{
    char v[4];
    put_u32be(v, f->group);
    buf_reset(key);
    store_key_reg_group(key, f->entity_id, f->id);
    rocksdb_writebatch_put_cf(wb, st->cf[CF_REGISTRY], key->p, key->n, v, sizeof v);
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct set groups among the entity's features. */
static size_t count_set_groups(const registry_t *r, uint32_t entity_id)
{
    uint32_t g[LIMIT_FEATURES_PER_ENTITY];
    size_t n = 0, distinct = 0;
    for (size_t i = 0; i < r->nfeats && n < LIMIT_FEATURES_PER_ENTITY; i++)
        if (r->feats[i].entity_id == entity_id && store_group_is_set(r->feats[i].group))
            g[n++] = r->feats[i].group;
    qsort(g, n, sizeof *g, u32_cmp);
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || g[i] != g[i - 1];
    return distinct;
}

/* A new set group is named after its smallest feature id: unique, as that
 * feature had no group before and feature ids are never reused. */
int store_groups_assign(store_t *st, uint32_t entity_id, const write_row *rows, size_t nrows,
                        strata_err *err)
{
    int rc = 0;
    registry_t *draft = NULL;
    rocksdb_writebatch_t *wb = NULL;
    buf key = BUF_INIT;
    feature_def **fresh = NULL; /* features written for the first time */
    size_t changed = 0;

    pthread_mutex_lock(&st->reg_mu);
    if (!(draft = reg_clone(st->snap, 0, 0)) || reg_index(draft) ||
        !(fresh = malloc(LIMIT_FEATURES_PER_ENTITY * sizeof *fresh)))
        goto nomem;
    size_t nsets = count_set_groups(draft, entity_id);
    size_t n = 0;
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < rows[r].ncells; c++) {
            feature_def *f =
                (feature_def *)registry_feature_by_id(draft, rows[r].cells[c].feature_id);
            if (!f || f->entity_id != entity_id || f->group)
                continue;
            f->group = UINT32_MAX; /* taken: a feature in many rows counts once */
            fresh[n++] = f;
        }
    wb = rocksdb_writebatch_create();
    if (n) {
        uint32_t first = UINT32_MAX;
        for (size_t i = 0; i < n; i++)
            if (fresh[i]->id < first)
                first = fresh[i]->id;
        bool set = n >= 2 && nsets < LIMIT_SET_GROUPS_PER_ENTITY;
        for (size_t i = 0; i < n; i++) {
            fresh[i]->group = set ? STORE_GROUP_SET | first : fresh[i]->id;
            put_group(wb, st, &key, fresh[i]);
        }
        changed = n;
    }
    if (changed && (rc = publish(st, wb, &draft, "recording write groups", err)))
        goto out;
    goto out;
nomem:
    rc = err_set(err, STRATA_NOMEM, "out of memory updating the registry");
out:
    pthread_mutex_unlock(&st->reg_mu);
    if (wb)
        rocksdb_writebatch_destroy(wb);
    buf_free(&key);
    free(fresh);
    store_registry_free(draft);
    return rc;
}

int store_groups_upgrade(store_t *st, strata_err *err)
{
    int rc = 0;
    buf key = BUF_INIT;
    registry_t *draft = NULL;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    pthread_mutex_lock(&st->reg_mu);
    if (atomic_load(&st->layout) >= STORE_LAYOUT_VERSION) /* another writer did it */
        goto out;
    if (!(draft = reg_clone(st->snap, 0, 0)) || reg_index(draft)) {
        rc = err_set(err, STRATA_NOMEM, "out of memory updating the registry");
        goto out;
    }
    for (size_t i = 0; i < draft->nfeats; i++) {
        feature_def *f = &draft->feats[i];
        if (f->group)
            continue;
        if (f->id >= STORE_GROUP_SET) {
            rc = err_set(err, STRATA_FAILED_PRECONDITION,
                         "feature \"%s\" has id %u, beyond what layout %u can store (ids below "
                         "2^31); this directory cannot be upgraded",
                         f->name, f->id, STORE_LAYOUT_VERSION);
            goto out;
        }
        f->group = f->id;
        put_group(wb, st, &key, f);
    }
    put_meta_u32(wb, st->cf[CF_META], STORE_META_LAYOUT, STORE_LAYOUT_VERSION);
    size_t nfeats = draft->nfeats;
    if ((rc = publish(st, wb, &draft, "upgrading the data directory's layout", err)))
        goto out;
    atomic_store(&st->layout, STORE_LAYOUT_VERSION);
    log_info("data directory upgraded to layout %u by its first write: %zu features keep their "
             "stored versions as they are",
             STORE_LAYOUT_VERSION, nfeats);
out:
    pthread_mutex_unlock(&st->reg_mu);
    rocksdb_writebatch_destroy(wb);
    buf_free(&key);
    store_registry_free(draft);
    return rc;
}
