/*
 * lineage.c - the lineage handle: open/close, the id counters, the type cache
 * and type evolution, write transactions, and Strata's built-in types.
 *
 * Writes: one mutex (write_mu) serialises every transaction. A transaction
 * reads the committed store, stages puts in one store_batch, and commits it
 * with the advanced id counters; only then do the in-memory counters move and
 * an evolved type replace its predecessor in the cache. So a failed commit
 * leaves memory and disk as they were.
 *
 * Types: a small array of immutable ltype objects behind a rwlock. Evolving
 * a type publishes a new object and retires the old one; retired objects are
 * freed only at close, so a reader may keep a pointer it found without a lock.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "lineage/lineage_int.h"

const char *lineage_kind_name(lineage_kind k)
{
    switch (k) {
    case LINEAGE_ARTIFACT:
        return "artifact";
    case LINEAGE_EXECUTION:
        return "execution";
    case LINEAGE_CONTEXT:
        return "context";
    }
    return "node";
}

const char *lineage_build_id(const lineage_t *lg)
{
    return lg->build_id;
}

int lg_err_not_found(strata_err *err, lineage_kind k, int64_t id)
{
    return err_set(err, STRATA_NOT_FOUND, "%s %lld not found", lineage_kind_name(k), (long long)id);
}

/* ---- type cache ------------------------------------------------------------- */

const ltype *lg_type_by_name(lineage_t *lg, lineage_kind k, slice name)
{
    const ltype *found = NULL;
    pthread_rwlock_rdlock(&lg->types_mu);
    for (size_t i = 0; i < lg->ntypes && !found; i++)
        if (lg->types[i]->kind == k && slice_eq_str(name, lg->types[i]->name))
            found = lg->types[i];
    pthread_rwlock_unlock(&lg->types_mu);
    return found;
}

const ltype *lg_type_by_id(lineage_t *lg, int64_t id)
{
    const ltype *found = NULL;
    pthread_rwlock_rdlock(&lg->types_mu);
    for (size_t i = 0; i < lg->ntypes && !found; i++)
        if (lg->types[i]->id == id)
            found = lg->types[i];
    pthread_rwlock_unlock(&lg->types_mu);
    return found;
}

static void push_ptr(ltype ***arr, size_t *n, size_t *cap, ltype *t)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        ltype **a = realloc(*arr, c * sizeof *a);
        STRATA_ASSERT(a != NULL);
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = t;
}

/* Called with write_mu held. */
static void publish_type(lineage_t *lg, ltype *t, ltype *retire)
{
    pthread_rwlock_wrlock(&lg->types_mu);
    size_t i = 0;
    for (; retire && i < lg->ntypes; i++)
        if (lg->types[i] == retire)
            break;
    if (retire && i < lg->ntypes) {
        lg->types[i] = t;
        push_ptr(&lg->retired, &lg->nretired, &lg->retired_cap, retire);
    } else {
        push_ptr(&lg->types, &lg->ntypes, &lg->types_cap, t);
    }
    pthread_rwlock_unlock(&lg->types_mu);
}

/* ---- the name cache ---------------------------------------------------------
 *
 * Unique keys known to be committed: by-name keys with their node's id, and
 * the keys of events and links (id 0). A node's name never changes, and
 * nodes, events and links are never deleted, so an entry never goes stale
 * and needs no invalidation: it is filled from lookups that found the key,
 * and from the keys a transaction claimed once it has committed. So a run
 * that links an input already in its context, or finds its context by name,
 * reads nothing. (External ids can change: never cached.) Read and written
 * under write_mu only (every lookup runs inside a transaction).
 */

static uint64_t name_hash(slice key)
{
    uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
    for (size_t i = 0; i < key.n; i++)
        h = (h ^ (unsigned char)key.p[i]) * UINT64_C(1099511628211);
    return h;
}

static void names_clear(lineage_t *lg)
{
    for (size_t i = 0; i < lg->names_cap; i++)
        free(lg->names[i].key);
    if (lg->names)
        memset(lg->names, 0, lg->names_cap * sizeof *lg->names);
    lg->names_used = 0;
}

/* The slot holding key, or the empty slot where it would go. */
static lg_name_slot *names_slot(lineage_t *lg, slice key, uint64_t h)
{
    size_t mask = lg->names_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        lg_name_slot *s = &lg->names[i];
        if (!s->key || (s->hash == h && s->n == key.n && memcmp(s->key, key.p, key.n) == 0))
            return s;
    }
}

static bool names_get(lineage_t *lg, slice key, int64_t *id)
{
    if (!lg->names_used)
        return false;
    lg_name_slot *s = names_slot(lg, key, name_hash(key));
    if (!s->key)
        return false;
    *id = s->id;
    return true;
}

static void names_put(lineage_t *lg, slice key, int64_t id)
{
    if (!lg->names) {
        /* Twice the entries: probes stay short at the fullest. */
        lg->names_cap = 2 * (size_t)LINEAGE_NAME_CACHE_MAX;
        lg->names = calloc(lg->names_cap, sizeof *lg->names);
        STRATA_ASSERT(lg->names != NULL);
    }
    if (lg->names_used >= LINEAGE_NAME_CACHE_MAX)
        names_clear(lg);
    uint64_t h = name_hash(key);
    lg_name_slot *s = names_slot(lg, key, h);
    if (s->key)
        return;
    s->key = malloc(key.n ? key.n : 1);
    STRATA_ASSERT(s->key != NULL);
    memcpy(s->key, key.p, key.n);
    s->n = key.n;
    s->hash = h;
    s->id = id;
    lg->names_used++;
}

static bool is_cached_key(slice key)
{
    if (key.n == 0)
        return false;
    switch ((unsigned char)key.p[0]) {
    case LK_BY_NAME:
    case LK_EVENT_BY_EXEC:
    case LK_ATTR_BY_CTX:
    case LK_ASSOC_BY_CTX:
    case LK_PARENT_BY_CHILD:
        return true; /* the keys lookups are made with */
    default:
        return false;
    }
}

/* ---- transactions ---------------------------------------------------------- */

void lg_txn_begin(lineage_t *lg, lg_txn *tx)
{
    memset(tx, 0, sizeof *tx);
    pthread_mutex_lock(&lg->write_mu);
    tx->lg = lg;
    tx->b = store_batch_new();
    memcpy(tx->last_id, lg->last_id, sizeof tx->last_id);
    tx->last_type_id = lg->last_type_id;
    tx->now = time_now_us();
}

static void txn_release(lg_txn *tx)
{
    for (size_t i = 0; i < tx->nclaims; i++)
        buf_free(&tx->claims[i].key);
    free(tx->claims);
    store_batch_free(tx->b);
    ltype_free(tx->publish);
    lineage_t *lg = tx->lg;
    memset(tx, 0, sizeof *tx);
    pthread_mutex_unlock(&lg->write_mu);
}

void lg_txn_abort(lg_txn *tx)
{
    if (tx->lg)
        txn_release(tx);
}

static void put_counter(store_batch *b, int which, int64_t v)
{
    buf k = BUF_INIT, val = BUF_INIT;
    lkey_counter(&k, which);
    buf_put_u64le(&val, (uint64_t)v);
    store_batch_put(b, STORE_SPACE_LINEAGE, buf_slice(&k), buf_slice(&val));
    buf_free(&k);
    buf_free(&val);
}

/* Node ids need no stored counter: node records are never deleted, so the
 * greatest node key of a kind is its last id allocated (load_counter). Only
 * type ids are persisted, as types are rare. */
int lg_txn_commit(lg_txn *tx, strata_err *err)
{
    lineage_t *lg = tx->lg;
    int rc = 0;
    if (tx->last_type_id != lg->last_type_id)
        put_counter(tx->b, LK_COUNTER_TYPES, tx->last_type_id);
    if (store_batch_count(tx->b) > 0) {
        rc = store_batch_commit(lg->st, tx->b, false, err);
        if (rc)
            goto out;
    }
    memcpy(lg->last_id, tx->last_id, sizeof lg->last_id);
    lg->last_type_id = tx->last_type_id;
    for (size_t i = 0; i < tx->nclaims; i++)
        if (tx->claims[i].id >= 0 && is_cached_key(buf_slice(&tx->claims[i].key)))
            names_put(lg, buf_slice(&tx->claims[i].key), tx->claims[i].id);
    if (tx->publish) {
        publish_type(lg, tx->publish, tx->retire);
        tx->publish = NULL;
    }
out:
    txn_release(tx);
    return rc;
}

/* 1 claimed (*id), 0 known free, -1 not seen in this transaction. */
static int find_claim(const lg_txn *tx, slice key, int64_t *id)
{
    for (size_t i = tx->nclaims; i-- > 0;)
        if (slice_eq(buf_slice(&tx->claims[i].key), key)) {
            if (tx->claims[i].id == LG_CLAIM_FREE)
                return 0;
            *id = tx->claims[i].id;
            return 1;
        }
    return -1;
}

int lg_txn_lookup_claims(const lg_txn *tx, slice key, int64_t *id)
{
    return find_claim(tx, key, id) == 1;
}

int lg_txn_lookup(lg_txn *tx, slice key, int64_t *id, strata_err *err)
{
    int rc = find_claim(tx, key, id);
    if (rc >= 0)
        return rc;
    bool cached = is_cached_key(key);
    if (cached && names_get(tx->lg, key, id))
        return 1;
    buf v = BUF_INIT;
    rc = store_kv_get(tx->lg->st, STORE_SPACE_LINEAGE, NULL, key, &v, err);
    if (rc == STRATA_NOT_FOUND) {
        lg_txn_claim(tx, key, LG_CLAIM_FREE);
        rc = 0;
    } else if (rc == 0) {
        *id = v.n == 8 ? (int64_t)get_u64be(v.p) : 0;
        if (cached)
            names_put(tx->lg, key, *id);
        rc = 1;
    }
    buf_free(&v);
    return rc;
}

void lg_txn_claim(lg_txn *tx, slice key, int64_t id)
{
    if (tx->nclaims == tx->claims_cap) {
        size_t c = tx->claims_cap ? tx->claims_cap * 2 : 16;
        lg_claim *a = realloc(tx->claims, c * sizeof *a);
        STRATA_ASSERT(a != NULL);
        tx->claims = a;
        tx->claims_cap = c;
    }
    lg_claim *cl = &tx->claims[tx->nclaims++];
    memset(cl, 0, sizeof *cl);
    buf_append_slice(&cl->key, key);
    cl->id = id;
}

int lg_txn_node_exists(lg_txn *tx, lineage_kind k, int64_t id, strata_err *err)
{
    if (id <= 0)
        return 0;
    if (id > tx->lg->last_id[k])
        return id <= tx->last_id[k];
    if (id > tx->lg->sparse_to[k])
        return 1;
    buf key = BUF_INIT, v = BUF_INIT;
    lkey_node(&key, k, id);
    int rc = store_kv_get(tx->lg->st, STORE_SPACE_LINEAGE, NULL, buf_slice(&key), &v, err);
    buf_free(&key);
    buf_free(&v);
    return rc == 0 ? 1 : rc == STRATA_NOT_FOUND ? 0 : rc;
}

/* ---- types ----------------------------------------------------------------- */

static int check_type_name(slice name, strata_err *err)
{
    if (lvalid_type_name(name))
        return 0;
    char ex[80];
    text_excerpt(name, ex, sizeof ex);
    return err_set(err, STRATA_INVALID_ARGUMENT,
                   "type name \"%s\" is invalid: expected [A-Za-z][A-Za-z0-9_.]{0,127}", ex);
}

int lineage_type_put(lineage_t *lg, lineage_kind k, slice name, const json_t *properties,
                     bool can_add_fields, bool can_omit_fields, int64_t *id, bool *created,
                     json_t **type_out, strata_err *err)
{
    lprop *req = NULL, *merged = NULL;
    size_t nreq = 0, nmerged = 0;
    bool changed = false;
    buf key = BUF_INIT, val = BUF_INIT;
    lg_txn tx = {0};
    const ltype *result = NULL;
    int rc = check_type_name(name, err);
    if (rc)
        return rc;
    rc = lprops_parse(properties, &req, &nreq, err);
    if (rc)
        return rc;
    lg_txn_begin(lg, &tx);
    const ltype *old = lg_type_by_name(lg, k, name);
    if (old) {
        rc = ltype_evolve(old->name, old->props, old->nprops, req, nreq, can_add_fields,
                          can_omit_fields, &merged, &nmerged, &changed, err);
        if (rc)
            goto out;
        if (!changed) {
            result = old;
            goto out;
        }
    }
    ltype *t = calloc(1, sizeof *t);
    STRATA_ASSERT(t != NULL);
    t->kind = k;
    t->name = strndup(name.p, name.n);
    STRATA_ASSERT(t->name != NULL);
    if (old) {
        t->id = old->id;
        t->create_time = old->create_time;
        t->update_time = tx.now > old->update_time ? tx.now : old->update_time + 1;
        t->props = merged;
        t->nprops = nmerged;
        merged = NULL;
    } else {
        t->id = ++tx.last_type_id;
        t->create_time = t->update_time = tx.now;
        t->props = req;
        t->nprops = nreq;
        req = NULL;
    }
    tx.publish = t;
    tx.retire = (ltype *)old;
    lkey_type(&key, k, name);
    ltype_encode(t, &val);
    store_batch_put(tx.b, STORE_SPACE_LINEAGE, buf_slice(&key), buf_slice(&val));
    rc = lg_txn_commit(&tx, err);
    if (rc)
        goto out;
    result = t;
out:
    if (!rc && result) {
        *id = result->id;
        if (created)
            *created = old == NULL;
        if (type_out)
            *type_out = ltype_json(result);
    }
    lg_txn_abort(&tx);
    lprops_free(req, nreq);
    lprops_free(merged, nmerged);
    buf_free(&key);
    buf_free(&val);
    return rc;
}

int lineage_type_get(lineage_t *lg, lineage_kind k, slice name, json_t **out, strata_err *err)
{
    const ltype *t = lg_type_by_name(lg, k, name);
    if (!t) {
        char ex[80];
        text_excerpt(name, ex, sizeof ex);
        return err_set(err, STRATA_NOT_FOUND, "%s type \"%s\" not found", lineage_kind_name(k), ex);
    }
    *out = ltype_json(t);
    return 0;
}

static int type_ptr_cmp(const void *a, const void *b)
{
    return strcmp((*(const ltype *const *)a)->name, (*(const ltype *const *)b)->name);
}

int lineage_type_list(lineage_t *lg, lineage_kind k, slice after, size_t limit, json_t *items,
                      bool *more, strata_err *err)
{
    (void)err;
    const ltype **sel = NULL;
    size_t n = 0;
    pthread_rwlock_rdlock(&lg->types_mu);
    sel = calloc(lg->ntypes ? lg->ntypes : 1, sizeof *sel);
    STRATA_ASSERT(sel != NULL);
    for (size_t i = 0; i < lg->ntypes; i++)
        if (lg->types[i]->kind == k &&
            (after.n == 0 || slice_cmp(slice_of(lg->types[i]->name), after) > 0))
            sel[n++] = lg->types[i];
    pthread_rwlock_unlock(&lg->types_mu);
    qsort(sel, n, sizeof *sel, type_ptr_cmp);
    size_t i = 0;
    for (; i < n && i < limit; i++)
        json_array_append_new(items, ltype_json(sel[i]));
    *more = i < n;
    free(sel);
    return 0;
}

/* ---- built-in types ------------------------------------------------------ */

/* Strata's own types (docs/lineage.md lists them with their meaning). They are
 * put with can_add_fields and can_omit_fields, as TFX does for its types: a
 * newer build may add properties, an older one still opens the store. */
static const struct builtin {
    lineage_kind kind;
    const char *name;
    const char *properties;
} builtins[] = {
    {LINEAGE_ARTIFACT, "Dataset",
     "{\"format\":\"STRING\",\"rows\":\"INT\",\"bytes\":\"INT\",\"sha256\":\"STRING\","
     "\"columns\":\"STRUCT\",\"feature_refs\":\"STRUCT\",\"as_of\":\"STRING\"}"},
    {LINEAGE_ARTIFACT, "FeatureSet",
     "{\"entity\":\"STRING\",\"features\":\"STRUCT\",\"feature_count\":\"INT\"}"},
    {LINEAGE_ARTIFACT, "SourceFile",
     "{\"format\":\"STRING\",\"sha256\":\"STRING\",\"bytes\":\"INT\",\"rows\":\"INT\"}"},
    {LINEAGE_ARTIFACT, "Model",
     "{\"model\":\"STRING\",\"version\":\"INT\",\"algorithm\":\"STRING\",\"task\":\"STRING\","
     "\"features\":\"STRUCT\",\"label_column\":\"STRING\"}"},
    {LINEAGE_ARTIFACT, "Metrics", "{\"split\":\"STRING\",\"metrics\":\"STRUCT\",\"n\":\"INT\"}"},
    {LINEAGE_ARTIFACT, "FairnessReport",
     "{\"evaluation_id\":\"STRING\",\"group_by\":\"STRUCT\",\"summary\":\"STRUCT\","
     "\"four_fifths_rule\":\"STRING\"}"},
    {LINEAGE_EXECUTION, "Import",
     "{\"entity\":\"STRING\",\"format\":\"STRING\",\"source\":\"STRING\",\"job_id\":\"STRING\","
     "\"rows_read\":\"INT\",\"rows_imported\":\"INT\",\"rows_rejected\":\"INT\","
     "\"values_written\":\"INT\",\"code_version\":\"STRING\"}"},
    {LINEAGE_EXECUTION, "Export",
     "{\"feature_refs\":\"STRUCT\",\"as_of\":\"STRING\",\"instance_source\":\"STRING\","
     "\"format\":\"STRING\",\"rows\":\"INT\",\"job_id\":\"STRING\",\"code_version\":\"STRING\"}"},
    {LINEAGE_EXECUTION, "Train",
     "{\"model\":\"STRING\",\"version\":\"INT\",\"algorithm\":\"STRING\",\"task\":\"STRING\","
     "\"hyperparameters\":\"STRUCT\",\"split\":\"STRUCT\",\"feature_refs\":\"STRUCT\","
     "\"as_of\":\"STRING\",\"job_id\":\"STRING\",\"code_version\":\"STRING\"}"},
    {LINEAGE_EXECUTION, "Evaluate",
     "{\"model\":\"STRING\",\"version\":\"INT\",\"threshold\":\"DOUBLE\",\"group_by\":\"STRUCT\","
     "\"evaluation_id\":\"STRING\",\"job_id\":\"STRING\",\"code_version\":\"STRING\"}"},
    {LINEAGE_CONTEXT, "Study", "{\"description\":\"STRING\",\"owner\":\"STRING\"}"},
    {LINEAGE_CONTEXT, "Schedule",
     "{\"schedule\":\"STRING\",\"cron\":\"STRING\",\"every_seconds\":\"INT\"}"},
};

static int ensure_builtins(lineage_t *lg, strata_err *err)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        json_t *props = json_loads(builtins[i].properties, 0, NULL);
        STRATA_ASSERT(props != NULL);
        int64_t id;
        int rc = lineage_type_put(lg, builtins[i].kind, slice_of(builtins[i].name), props, true,
                                  true, &id, NULL, NULL, err);
        json_decref(props);
        if (rc)
            return err_prefix(err, "lineage: built-in type %s", builtins[i].name);
    }
    return 0;
}

/* ---- open / close ------------------------------------------------------------ */

static int check_format(lineage_t *lg, strata_err *err)
{
    buf k = BUF_INIT, v = BUF_INIT;
    buf_putc(&k, (char)LK_FORMAT);
    buf_append_str(&k, "format");
    int rc = store_kv_get(lg->st, STORE_SPACE_LINEAGE, NULL, buf_slice(&k), &v, err);
    if (rc == STRATA_NOT_FOUND && store_is_read_only(lg->st)) {
        rc = 0; /* nothing recorded yet: nothing to read in any format */
    } else if (rc == STRATA_NOT_FOUND) {
        store_batch *b = store_batch_new();
        buf_reset(&v);
        buf_put_u32le(&v, LINEAGE_FORMAT);
        store_batch_put(b, STORE_SPACE_LINEAGE, buf_slice(&k), buf_slice(&v));
        rc = store_batch_commit(lg->st, b, false, err);
        store_batch_free(b);
    } else if (rc == 0 && (v.n != 4 || get_u32le(v.p) != LINEAGE_FORMAT)) {
        rc = err_set(err, STRATA_CORRUPT,
                     "lineage: the data directory holds lineage format %u; this build reads "
                     "format %u only (no migration: open it with the build that wrote it)",
                     v.n == 4 ? get_u32le(v.p) : 0, LINEAGE_FORMAT);
    }
    buf_free(&k);
    buf_free(&v);
    return rc;
}

/* The greatest id stored of a kind, or its counter when that is larger: node
 * counters are no longer written (lg_txn_commit), but data directories from
 * earlier builds hold them. For types, the type counter. */
static int load_counter(lineage_t *lg, int which, int64_t *out, strata_err *err)
{
    buf k = BUF_INIT, v = BUF_INIT;
    int64_t c = 0, last = 0;
    lkey_counter(&k, which);
    int rc = store_kv_get(lg->st, STORE_SPACE_LINEAGE, NULL, buf_slice(&k), &v, err);
    if (rc == 0 && v.n == 8)
        c = (int64_t)get_u64le(v.p);
    else if (rc == 0)
        rc = err_set(err, STRATA_CORRUPT, "lineage: an id counter is malformed");
    else if (rc == STRATA_NOT_FOUND)
        rc = 0;
    if (!rc && which != LK_COUNTER_TYPES) {
        /* The last node key of the kind. */
        store_iter *it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, NULL);
        buf_reset(&k);
        buf_putc(&k, (char)LK_NODE);
        buf_putc(&k, (char)which);
        buf_put_u64be(&k, UINT64_MAX);
        store_iter_seek_prev(it, buf_slice(&k));
        if (store_iter_valid(it)) {
            slice key = store_iter_key(it);
            if (key.n == 10 && key.p[0] == LK_NODE && key.p[1] == (char)which)
                last = (int64_t)get_u64be(key.p + 2);
        }
        rc = store_iter_status(it, err);
        store_iter_close(it);
        lg->sparse_to[which] = c > last ? c : 0;
        if (last > c)
            c = last;
    }
    *out = c;
    buf_free(&k);
    buf_free(&v);
    return rc;
}

static int load_types(lineage_t *lg, strata_err *err)
{
    int rc = 0;
    char prefix = (char)LK_TYPE;
    store_iter *it = store_iter_open(lg->st, STORE_SPACE_LINEAGE, NULL);
    for (store_iter_seek(it, (slice){&prefix, 1}); store_iter_valid(it); store_iter_next(it)) {
        slice key = store_iter_key(it);
        if (key.n < 3 || key.p[0] != LK_TYPE)
            break;
        int kind = (unsigned char)key.p[1];
        ltype *t = NULL;
        if (kind >= LINEAGE_KINDS) {
            rc = err_set(err, STRATA_CORRUPT, "lineage: a type record has kind %d", kind);
            break;
        }
        rc = ltype_decode((lineage_kind)kind, store_iter_value(it), &t, err);
        if (rc)
            break;
        push_ptr(&lg->types, &lg->ntypes, &lg->types_cap, t);
        if (t->id > lg->last_type_id)
            lg->last_type_id = t->id;
    }
    if (!rc)
        rc = store_iter_status(it, err);
    store_iter_close(it);
    return rc;
}

int lineage_open(store_t *st, const char *build_id, lineage_t **out, strata_err *err)
{
    int rc = 0;
    lineage_t *lg = calloc(1, sizeof *lg);
    STRATA_ASSERT(lg != NULL);
    lg->st = st;
    lg->build_id = strdup(build_id ? build_id : "unknown");
    STRATA_ASSERT(lg->build_id != NULL);
    pthread_mutex_init(&lg->write_mu, NULL);
    pthread_rwlock_init(&lg->types_mu, NULL);
    rc = check_format(lg, err);
    if (rc)
        goto out;
    for (int k = 0; k < LINEAGE_KINDS && !rc; k++)
        rc = load_counter(lg, k, &lg->last_id[k], err);
    int64_t tc = 0;
    if (!rc)
        rc = load_counter(lg, LK_COUNTER_TYPES, &tc, err);
    if (!rc)
        rc = load_types(lg, err);
    if (rc)
        goto out;
    if (tc > lg->last_type_id)
        lg->last_type_id = tc;
    /* A replica reads the types its primary registered; it writes nothing. */
    if (!store_is_read_only(st))
        rc = ensure_builtins(lg, err);
out:
    if (rc) {
        lineage_close(lg);
        return rc;
    }
    *out = lg;
    return 0;
}

void lineage_close(lineage_t *lg)
{
    if (!lg)
        return;
    for (size_t i = 0; i < lg->ntypes; i++)
        ltype_free(lg->types[i]);
    for (size_t i = 0; i < lg->nretired; i++)
        ltype_free(lg->retired[i]);
    free(lg->types);
    free(lg->retired);
    names_clear(lg);
    free(lg->names);
    pthread_mutex_destroy(&lg->write_mu);
    pthread_rwlock_destroy(&lg->types_mu);
    free(lg->build_id);
    free(lg);
}
