/*
 * lineage_int.h - private to lineage/: the handle, the type cache, the write
 * transaction, and the byte layouts of every record in STORE_SPACE_LINEAGE.
 *
 * KEYS. Every key starts with a one-byte tag; integers are big-endian so that
 * byte order is numeric order and every "list X of Y" is one prefix scan.
 * kind: 0 artifact, 1 execution, 2 context. Ids are u64 BE. s: the stream
 * byte, the low byte of the id that follows it (format 2).
 *
 * STREAMS. The memtable keeps one insert position per two-byte key prefix
 * (store/store.c), so the first two bytes say where a key goes: node records
 * of one kind (0x10 | kind) are appended in id order; a by-type key goes to
 * its type's stream and an event or link key to its first id's, where the
 * newest id is the largest, so a run's keys are mostly appends to streams no
 * other anchor disturbed, not searches from the skiplist's top. The stream
 * byte is derived from the key, so a prefix scan is unchanged: one anchor's
 * keys are still contiguous and in order.
 *
 *   tag   key after the tag                         value
 *   0x00  "format"                                  u32 LE format version (2)
 *   0x01  0x7f (types)                              u64 LE last type id allocated
 *   0x01  kind                                      u64 LE last node id (earlier builds;
 *                                                   read at open, no longer written)
 *   0x02  kind | type name                          type record (compact JSON)
 *   0x10  kind | id                                 node record (current version)
 *   0x11  kind | id | version u32 BE                node record (superseded version)
 *   0x20  s | kind | type id | id                   empty           (list by type;
 *                                                   s of the type id)
 *   0x21  kind | type id | name                     id u64 BE       ((type, name) unique)
 *   0x22  kind | uri | 0x00 | id                    empty           (list by uri)
 *   0x23  kind | external_id                        id u64 BE       (external_id unique)
 *   0x30  s | execution id | artifact id | type     event record    (events of an execution)
 *   0x31  s | artifact id | execution id | type     event record    (events of an artifact)
 *   0x40  s | context id | artifact id              link record     (attribution)
 *   0x41  s | artifact id | context id              link record
 *   0x42  s | context id | execution id             link record     (association)
 *   0x43  s | execution id | context id             link record
 *   0x44  s | child context id | parent context id  link record     (parent context)
 *   0x45  s | parent context id | child context id  link record
 *
 * Format 1 (builds before 2026-11-28) had no stream byte; such a data
 * directory is refused at open (check_format), not migrated.
 *
 * Names, uris and external ids never contain a NUL byte (refused on the way
 * in), so the 0x00 after the uri ends it unambiguously and `uri | 0x00` is
 * the prefix of exactly that uri's entries.
 *
 * NODE RECORD (all integers little-endian):
 *
 *   OFFSET  SIZE  FIELD
 *   0       1     format, 1
 *   1       8     type id
 *   9       4     version (1 for the first, +1 per update)
 *   13      8     create_time, µs since the epoch
 *   21      8     update_time, µs since the epoch
 *   29      1     state code (0 = none; see lineage state tables)
 *   30      1     flags: 1 name present, 2 uri present, 4 external_id present
 *   31      4     N = name length        then N bytes
 *   ...     4     U = uri length         then U bytes
 *   ...     4     X = external_id length then X bytes
 *   ...     4     P = properties length  then P bytes of compact JSON (object)
 *   ...     4     C = custom length      then C bytes of compact JSON (object)
 *
 * EVENT RECORD: format 1 (1 byte) | time i64 LE (8) | L u32 LE (4) | L bytes
 * of the path as compact JSON (an array of {"index":n} / {"key":"s"}).
 * LINK RECORD: format 1 (1 byte) | time i64 LE (8).
 */
#ifndef STRATA_LINEAGE_LINEAGE_INT_H
#define STRATA_LINEAGE_LINEAGE_INT_H

#include <pthread.h>

#include "lineage/lineage.h"

/* ---- tags ----------------------------------------------------------------- */

enum {
    LK_FORMAT = 0x00,
    LK_COUNTER = 0x01,
    LK_TYPE = 0x02,
    LK_NODE = 0x10,
    LK_HISTORY = 0x11,
    LK_BY_TYPE = 0x20,
    LK_BY_NAME = 0x21,
    LK_BY_URI = 0x22,
    LK_BY_EXTID = 0x23,
    LK_EVENT_BY_EXEC = 0x30,
    LK_EVENT_BY_ART = 0x31,
    LK_ATTR_BY_CTX = 0x40,
    LK_ATTR_BY_ART = 0x41,
    LK_ASSOC_BY_CTX = 0x42,
    LK_ASSOC_BY_EXEC = 0x43,
    LK_PARENT_BY_CHILD = 0x44,
    LK_PARENT_BY_PARENT = 0x45,
};

#define LK_COUNTER_TYPES 0x7f
#define LINEAGE_FORMAT 2u

/* ---- property types and states ------------------------------------------ */

typedef enum lprop_type {
    LP_INT = 1,
    LP_DOUBLE = 2,
    LP_STRING = 3,
    LP_BOOL = 4,
    LP_STRUCT = 5,
} lprop_type;

const char *lprop_type_name(lprop_type t);
int lprop_type_parse(slice s, lprop_type *out); /* 0 or -1 */

/* State codes are 1-based indexes into each kind's table; 0 = none. */
const char *lstate_name(lineage_kind k, int code); /* NULL for 0 or unknown */
int lstate_parse(lineage_kind k, slice s);         /* code > 0, or -1 */
/* "PENDING, LIVE, …" for error messages (static storage). */
const char *lstate_list(lineage_kind k);

/* ---- validation of outside text ----------------------------------------- */

bool lvalid_type_name(slice s);     /* [A-Za-z][A-Za-z0-9_.]{0,127} */
bool lvalid_property_name(slice s); /* [A-Za-z_][A-Za-z0-9_]{0,127} */
/* 1..max bytes, no NUL (jansson has already checked the UTF-8). */
bool lvalid_text(slice s, size_t max);

/* ---- types ---------------------------------------------------------------- */

typedef struct lprop {
    char *name;
    lprop_type type;
} lprop;

/* Immutable once published in the cache: an evolution publishes a new
 * object and retires the old one (freed at lineage_close), so readers may use
 * a pointer they found without holding any lock. */
typedef struct ltype {
    int64_t id;
    lineage_kind kind;
    char *name;
    size_t nprops;
    lprop *props; /* sorted by name */
    int64_t create_time, update_time;
} ltype;

void ltype_free(ltype *t);
const lprop *ltype_prop(const ltype *t, slice name); /* NULL if undeclared */
json_t *ltype_json(const ltype *t);
/* Type record: encode as the stored JSON / decode it (CORRUPT on junk). */
void ltype_encode(const ltype *t, buf *out);
int ltype_decode(lineage_kind k, slice val, ltype **out, strata_err *err);
/* Parse {"p":"INT",…} into a sorted property array (INVALID_ARGUMENT naming a
 * bad name or type). */
int lprops_parse(const json_t *obj, lprop **out, size_t *n, strata_err *err);
void lprops_free(lprop *p, size_t n);
/*
 * ML Metadata's evolution rules, pure: the stored properties `old` against the
 * requested `req`. ALREADY_EXISTS naming the first offending property, or 0
 * with *merged (owned, sorted) = old plus the added ones and *changed telling
 * whether anything was added.
 */
int ltype_evolve(const char *type_name, const lprop *old, size_t nold, const lprop *req,
                 size_t nreq, bool can_add, bool can_omit, lprop **merged, size_t *nmerged,
                 bool *changed, strata_err *err);

/* ---- nodes ---------------------------------------------------------------- */

typedef struct lnode {
    lineage_kind kind;
    int64_t id;
    int64_t type_id;
    uint32_t version;
    int64_t create_time, update_time;
    int state;
    bool has_name, has_uri, has_extid;
    buf name, uri, extid;   /* content when has_* */
    json_t *props, *custom; /* objects, never NULL after decode */
} lnode;

void lnode_init(lnode *n);
void lnode_free(lnode *n); /* keeps the struct reusable */
/* Returns the bytes of properties plus custom properties as stored JSON (what
 * LINEAGE_PROPERTIES_BYTES_MAX limits), so the limit is checked on the one
 * serialisation. */
size_t lnode_encode(const lnode *n, buf *out);
int lnode_decode(lineage_kind k, int64_t id, slice val, lnode *n, strata_err *err);

/* ---- key codecs ------------------------------------------------------------ */

void lkey_counter(buf *k, int which); /* kind or LK_COUNTER_TYPES */
void lkey_type(buf *k, lineage_kind kind, slice name);
void lkey_node(buf *k, lineage_kind kind, int64_t id);
void lkey_history(buf *k, lineage_kind kind, int64_t id, uint32_t ver);
void lkey_by_type(buf *k, lineage_kind kind, int64_t type_id, int64_t id); /* id 0 = prefix */
void lkey_by_name(buf *k, lineage_kind kind, int64_t type_id, slice name);
void lkey_by_uri(buf *k, lineage_kind kind, slice uri, int64_t id); /* id 0 = prefix */
void lkey_by_extid(buf *k, lineage_kind kind, slice extid);
/* Pair keys: tag | s(a) | a | b (| event type when t > 0). b == 0 → the
 * tag|s|a prefix. */
void lkey_pair(buf *k, int tag, int64_t a, int64_t b, int t);

/* The trailing id of a by-type / by-uri / pair key; -1 if malformed. */
int64_t lkey_trailing_id(slice key);
/* Decode a pair key tag|a|b[|t]; 0 or -1. */
int lkey_pair_decode(slice key, int64_t *a, int64_t *b, int *t);

void levent_encode(int64_t time, slice path_json, buf *out);
int levent_decode(slice val, int64_t *time, slice *path_json);
void llink_encode(int64_t time, buf *out);
int llink_decode(slice val, int64_t *time);

/* ---- the handle ------------------------------------------------------------ */

/* A by-name key of a committed node and its id (lineage.c, the name cache). */
typedef struct lg_name_slot {
    char *key; /* NULL: empty */
    size_t n;
    uint64_t hash;
    int64_t id;
} lg_name_slot;

struct lineage {
    store_t *st;
    char *build_id;
    pthread_mutex_t write_mu;  /* serialises every write transaction */
    pthread_rwlock_t types_mu; /* guards the arrays below (not the ltypes) */
    ltype **types;
    size_t ntypes, types_cap;
    ltype **retired;
    size_t nretired, retired_cap;
    int64_t last_id[LINEAGE_KINDS]; /* committed; read/written under write_mu */
    /* Every id in (sparse_to, last_id] has its node: ids are allocated in
     * order, each with its node in the same batch, and nodes are never
     * deleted. Below sparse_to (an id counter from an earlier build that ran
     * ahead of the last node stored) existence is read from the store. */
    int64_t sparse_to[LINEAGE_KINDS];
    int64_t last_type_id;
    /* The name cache, under write_mu: open addressing, emptied when full. */
    lg_name_slot *names;
    size_t names_cap, names_used;
};

/* The type of a kind by name / by id; NULL when unknown. Never freed before
 * lineage_close, so the pointer stays valid. */
const ltype *lg_type_by_name(lineage_t *lg, lineage_kind k, slice name);
const ltype *lg_type_by_id(lineage_t *lg, int64_t id);

/* ---- write transactions ------------------------------------------------------ */

/* Unique keys claimed in this transaction (node names, external ids, events,
 * links), so a second claim inside one batch is seen before commit; and keys
 * a lookup found free in the store (id LG_CLAIM_FREE), so asking again — find
 * a named node, then create it — costs no second read. The write lock is held
 * for the whole transaction, so a key found free stays free until a claim in
 * this transaction (newer entries are searched first) takes it. */
typedef struct lg_claim {
    buf key;
    int64_t id;
} lg_claim;
#define LG_CLAIM_FREE INT64_C(-1)

typedef struct lg_txn {
    lineage_t *lg;
    store_batch *b;
    int64_t last_id[LINEAGE_KINDS];
    int64_t last_type_id;
    int64_t now;
    /* A type to publish in the cache once committed (replacing `retire`, the
     * version it evolves, when not NULL); owned by the transaction until then. */
    ltype *publish, *retire;
    lg_claim *claims;
    size_t nclaims, claims_cap;
} lg_txn;

/* Take the write lock and start a batch. */
void lg_txn_begin(lineage_t *lg, lg_txn *tx);
/* Commit (persisting the id counters) and release the lock; the transaction
 * is finished either way. */
int lg_txn_commit(lg_txn *tx, strata_err *err);
/* Drop everything staged and release the lock. */
void lg_txn_abort(lg_txn *tx);

/* A unique key: 1 with *id when it exists in the store or was claimed in this
 * transaction, 0 when free, <0 on a read error. */
int lg_txn_lookup(lg_txn *tx, slice key, int64_t *id, strata_err *err);
void lg_txn_claim(lg_txn *tx, slice key, int64_t id);
/* The same lookup among this transaction's claims only: for a key that names
 * a node created in this transaction (lg_txn_created), which nothing
 * committed can hold — a new execution has no events or links yet. */
int lg_txn_lookup_claims(const lg_txn *tx, slice key, int64_t *id);
/* Whether node (k, id) was created in this transaction. */
static inline bool lg_txn_created(const lg_txn *tx, lineage_kind k, int64_t id)
{
    return id > tx->lg->last_id[k] && id <= tx->last_id[k];
}

/* Whether node (k, id) exists for this transaction (committed or created in
 * it): 1, 0, or <0 on a read error. */
int lg_txn_node_exists(lg_txn *tx, lineage_kind k, int64_t id, strata_err *err);

/* Stage a new node; validates spec fully. *out (lnode_init'ed by the caller,
 * freed by it) becomes the new node, its id set. */
int lg_stage_node_create(lg_txn *tx, lineage_kind k, const lineage_node_spec *spec, lnode *out,
                         strata_err *err);
/* Stage an update of node n (read in this transaction); *changed = false when
 * the patch changes nothing (nothing staged). n becomes the new version. */
int lg_stage_node_update(lg_txn *tx, lnode *n, const lineage_node_patch *p, bool *changed,
                         strata_err *err);
int lg_stage_event(lg_txn *tx, int64_t artifact_id, int64_t execution_id, lineage_event_type t,
                   const json_t *path, strata_err *err);
/* tag_fwd is LK_ATTR_BY_CTX, LK_ASSOC_BY_CTX or LK_PARENT_BY_CHILD; the
 * reverse key is tag_fwd + 1. *created = false when the link existed. */
int lg_stage_link(lg_txn *tx, int tag_fwd, int64_t a, int64_t b, bool *created, strata_err *err);

/* ---- reads ------------------------------------------------------------------ */

/* Read a node's current record: 0, NOT_FOUND (with a message naming it), or
 * another error. */
int lg_node_read(lineage_t *lg, const store_snapshot *snap, lineage_kind k, int64_t id, lnode *n,
                 strata_err *err);
/* The node as it stood at as_of (INT64_MAX = current): 0, or NOT_FOUND when it
 * did not exist then. */
int lg_node_read_as_of(lineage_t *lg, const store_snapshot *snap, lineage_kind k, int64_t id,
                       int64_t as_of, lnode *n, strata_err *err);
/* The API JSON of a node. */
json_t *lg_node_json(lineage_t *lg, const lnode *n);
/* Contexts of a node (artifact / execution: via attributions / associations;
 * context: parents when parents, else children) as of as_of, as a JSON array
 * of node JSON. */
int lg_node_contexts(lineage_t *lg, const store_snapshot *snap, lineage_kind k, int64_t id, int tag,
                     int64_t as_of, json_t **out, strata_err *err);
/* Evaluate a filter on a node (its JSON already built), loading only the
 * relations the filter names, as of as_of. */
int lg_filter_matches(lineage_t *lg, const store_snapshot *snap, const lfilter *f, lineage_kind k,
                      int64_t id, int64_t as_of, const json_t *node, bool *match, strata_err *err);

/* The API JSON of an event from either of its keys (0x30 or 0x31) and its
 * value; NULL if malformed. */
json_t *lg_event_json_from_kv(slice key, slice val);

/* "artifact 12 not found" */
int lg_err_not_found(strata_err *err, lineage_kind k, int64_t id);

#endif
