/*
 * lineage.h - the ML metadata graph with ML Metadata's semantics: typed
 * artifacts, executions and contexts, the events that connect artifacts to
 * executions, attributions and associations that put them in contexts,
 * parent contexts, queries, and lineage traversal.
 *
 * Everything lives in STORE_SPACE_LINEAGE through store/'s generic record API;
 * the key and value layouts are in lineage_int.h and docs/lineage.md.
 *
 * Invariants the module keeps:
 *   - every request is one store_batch: a rejected request stores nothing;
 *   - writes are serialised by one mutex, so uniqueness checks ((type, name),
 *     external_id, duplicate events) and id allocation cannot race;
 *   - ids are positive, unique per kind, allocated monotonically and never
 *     reused: each id is written in the same batch as its node record, and
 *     node records are never deleted, so the last node key is the last id and
 *     every id up to it is a node;
 *   - a node's update_time strictly increases with every update, and each
 *     update keeps the previous version in the node's history;
 *   - a type's properties only ever grow (ML Metadata's evolution rules).
 *
 * Threading: a lineage_t is shared by all HTTP workers; every function may be
 * called from any thread.
 *
 * JSON: nodes, types and events are handed out as jansson objects in the HTTP
 * API's shape; the caller owns every returned json_t (json_decref). JSON
 * arguments are borrowed for the duration of the call.
 */
#ifndef STRATA_LINEAGE_LINEAGE_H
#define STRATA_LINEAGE_LINEAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"
#include "lineage/filter.h"
#include "store/store.h"

/* Limits (LINEAGE_*_MAX, LFILTER_*) are in base/limits.h with their reasons. */

/* ---- handle ------------------------------------------------------------- */

typedef struct lineage lineage_t;

/*
 * Open over an open store: loads types and id counters and creates Strata's
 * built-in types (idempotently; a newer build may add properties to them).
 * build_id is the daemon's build id, recorded as the code version of the runs
 * Strata captures; it is copied. The store must outlive the handle.
 */
int lineage_open(store_t *st, const char *build_id, lineage_t **out, strata_err *err);
void lineage_close(lineage_t *lg); /* NULL ok */
/* The build id given to lineage_open; lives as long as the handle. */
const char *lineage_build_id(const lineage_t *lg);

typedef enum lineage_kind {
    LINEAGE_ARTIFACT = 0,
    LINEAGE_EXECUTION = 1,
    LINEAGE_CONTEXT = 2,
} lineage_kind;
#define LINEAGE_KINDS 3

/* "artifact", "execution", "context" (static storage). */
const char *lineage_kind_name(lineage_kind k);

/* ---- types -------------------------------------------------------------- */

/*
 * Create or evolve a type. properties is a JSON object {"p":"INT|DOUBLE|
 * STRING|BOOL|STRUCT"} (NULL = none). ML Metadata's rules against a stored
 * type of that name: a property whose type differs, or a stored one missing
 * from the request (unless can_omit_fields), or a new one (unless
 * can_add_fields) → ALREADY_EXISTS naming the property; otherwise the stored
 * type keeps its id and gains the new properties. *created says whether the
 * type is new. *type_out (may be NULL) gets the stored type's JSON.
 */
int lineage_type_put(lineage_t *lg, lineage_kind k, slice name, const json_t *properties,
                     bool can_add_fields, bool can_omit_fields, int64_t *id, bool *created,
                     json_t **type_out, strata_err *err);
/* The type's JSON {"id","name","properties","create_time","update_time"};
 * NOT_FOUND if unknown. */
int lineage_type_get(lineage_t *lg, lineage_kind k, slice name, json_t **out, strata_err *err);
/* Types of a kind in name order after `after` (empty = from the start), at
 * most limit, appended to items (a JSON array). *more says whether others
 * follow the last one appended. */
int lineage_type_list(lineage_t *lg, lineage_kind k, slice after, size_t limit, json_t *items,
                      bool *more, strata_err *err);

/* ---- nodes -------------------------------------------------------------- */

/*
 * What a new node holds. Slices with p == NULL are absent. Declared
 * properties are checked against the type (INT takes integers, DOUBLE any
 * number, STRING strings, BOOL booleans, STRUCT objects and arrays); custom
 * properties take any JSON value. A null property value means "not set".
 */
typedef struct lineage_node_spec {
    slice type; /* required */
    slice name; /* required for contexts; unique within the type */
    slice uri;
    slice state;              /* artifacts PENDING|LIVE|MARKED_FOR_DELETION|DELETED|ABANDONED,
                                 executions NEW|RUNNING|COMPLETE|FAILED|CACHED|CANCELED,
                                 contexts none */
    slice external_id;        /* unique per kind */
    const json_t *properties; /* object or NULL */
    const json_t *custom_properties;
} lineage_node_spec;

/* Create; *node_out (may be NULL) gets the stored node's JSON and *id its id. */
int lineage_node_create(lineage_t *lg, lineage_kind k, const lineage_node_spec *spec, int64_t *id,
                        json_t **node_out, strata_err *err);
/* The current version; NOT_FOUND if there is no such node. */
int lineage_node_get(lineage_t *lg, lineage_kind k, int64_t id, json_t **out, strata_err *err);

/*
 * An update. Pointers left NULL keep the field; `uri`, `state` and
 * `external_id` pointing at a slice with p == NULL clear it. `properties` and
 * `custom_properties` are merged key by key (a null value removes the key),
 * as in JSON Merge Patch. `name` and `type`, when given, must equal the
 * stored ones (they never change). With if_update_time, FAILED_PRECONDITION
 * unless the node's update_time equals it. An update that changes nothing
 * stores nothing and keeps update_time.
 */
typedef struct lineage_node_patch {
    const slice *name;
    const slice *type;
    const slice *uri;
    const slice *state;
    const slice *external_id;
    const json_t *properties;
    const json_t *custom_properties;
    const int64_t *if_update_time;
} lineage_node_patch;

int lineage_node_update(lineage_t *lg, lineage_kind k, int64_t id, const lineage_node_patch *p,
                        json_t **node_out, strata_err *err);

/* Versions of a node oldest first (each a full node JSON with its "version"
 * number and update_time; the last one is the current node), starting after
 * version `after` (0 = from the first), at most limit, appended to items. */
int lineage_node_history(lineage_t *lg, lineage_kind k, int64_t id, uint32_t after, size_t limit,
                         json_t *items, bool *more, strata_err *err);

typedef enum lineage_order {
    LINEAGE_ORDER_ID,
    LINEAGE_ORDER_NAME,
    LINEAGE_ORDER_CREATE_TIME,
    LINEAGE_ORDER_UPDATE_TIME,
} lineage_order;

/*
 * A list query. type/name/uri/external_id narrow through indexes (p == NULL =
 * any); the filter (may be NULL) is evaluated on each remaining node. cursor
 * is the opaque position returned as *next by the previous page (empty = the
 * first page); a cursor that does not decode → INVALID_ARGUMENT.
 */
typedef struct lineage_query {
    slice type, name, uri, external_id;
    const lfilter *filter;
    lineage_order order;
    bool desc;
    slice cursor;
    size_t limit;
} lineage_query;

/* Matching nodes appended to items; *next gets the cursor of the next page
 * (left empty on the last page). */
int lineage_node_list(lineage_t *lg, lineage_kind k, const lineage_query *q, json_t *items,
                      buf *next, strata_err *err);

/* ---- events, attributions, associations, parent contexts ----------------- */

typedef enum lineage_event_type {
    LINEAGE_EVENT_DECLARED_OUTPUT = 1, /* ML Metadata's numbering */
    LINEAGE_EVENT_DECLARED_INPUT = 2,
    LINEAGE_EVENT_INPUT = 3,
    LINEAGE_EVENT_OUTPUT = 4,
} lineage_event_type;

const char *lineage_event_type_name(lineage_event_type t);
/* 0 and *out, or -1 for a name that is not one of the four. */
int lineage_event_type_parse(slice s, lineage_event_type *out);

/*
 * Record that an execution read or wrote an artifact. path (may be NULL) is a
 * JSON array of steps, each {"index":int} or {"key":string}, kept exactly.
 * NOT_FOUND for an unknown artifact or execution, ALREADY_EXISTS when the
 * same (artifact, execution, type) is recorded, INVALID_ARGUMENT for a bad
 * path. *event_out (may be NULL) gets {"artifact_id","execution_id","type",
 * "path","time"}.
 */
int lineage_event_put(lineage_t *lg, int64_t artifact_id, int64_t execution_id,
                      lineage_event_type t, const json_t *path, json_t **event_out,
                      strata_err *err);

/* Events of one artifact or one execution (k says which), ordered by the
 * other end's id then type; cursor/next as lineage_node_list. */
int lineage_event_list(lineage_t *lg, lineage_kind k, int64_t id, slice cursor, size_t limit,
                       json_t *items, buf *next, strata_err *err);

/* Idempotent links; *created false when the link already existed. NOT_FOUND
 * for unknown ids. A parent link that would close a cycle (a context its own
 * ancestor, including itself) → INVALID_ARGUMENT. */
int lineage_attribution_put(lineage_t *lg, int64_t context_id, int64_t artifact_id, bool *created,
                            strata_err *err);
int lineage_association_put(lineage_t *lg, int64_t context_id, int64_t execution_id, bool *created,
                            strata_err *err);
int lineage_parent_put(lineage_t *lg, int64_t child_id, int64_t parent_id, bool *created,
                       strata_err *err);

typedef enum lineage_relation {
    LINEAGE_REL_CONTEXT_ARTIFACTS,  /* id = context: its artifacts */
    LINEAGE_REL_CONTEXT_EXECUTIONS, /* id = context: its executions */
    LINEAGE_REL_CONTEXT_PARENTS,    /* id = context: its parent contexts */
    LINEAGE_REL_CONTEXT_CHILDREN,   /* id = context: its child contexts */
    LINEAGE_REL_ARTIFACT_CONTEXTS,  /* id = artifact: its contexts */
    LINEAGE_REL_EXECUTION_CONTEXTS, /* id = execution: its contexts */
} lineage_relation;

/* Related nodes (full node JSON) in id order; NOT_FOUND if `id` is unknown. */
int lineage_related_list(lineage_t *lg, lineage_relation rel, int64_t id, slice cursor,
                         size_t limit, json_t *items, buf *next, strata_err *err);

/* ---- batches: nodes, events and links in one transaction ------------------ */

/* A node named by a batch entry: an existing one (id > 0), or the batch's own
 * new node of that kind at position `index` (id == 0). */
typedef struct lineage_batch_ref {
    int64_t id;
    size_t index;
} lineage_batch_ref;

typedef struct lineage_batch_event {
    lineage_batch_ref artifact, execution;
    lineage_event_type type;
    const json_t *path; /* may be NULL */
} lineage_batch_event;

/* An attribution (node = an artifact) or an association (node = an execution). */
typedef struct lineage_batch_link {
    lineage_batch_ref context, node;
} lineage_batch_link;

typedef struct lineage_batch {
    const lineage_node_spec *nodes[LINEAGE_KINDS]; /* new nodes per kind */
    size_t nnodes[LINEAGE_KINDS];
    const lineage_batch_event *events;
    size_t nevents;
    const lineage_batch_link *attributions;
    size_t nattributions;
    const lineage_batch_link *associations;
    size_t nassociations;
} lineage_batch;

/*
 * Everything in the batch or nothing, with the checks of the single calls:
 * nodes as lineage_node_create (names unique, also within the batch), events
 * as lineage_event_put (a duplicate → ALREADY_EXISTS), links idempotent. An
 * error's message starts with the entry it is about ("events[2]: …").
 * RESOURCE_EXHAUSTED over LINEAGE_BATCH_ITEMS_MAX entries. ids[k] (may be
 * NULL; nnodes[k] entries, the caller's) get the new nodes' ids;
 * *links_created (may be NULL) the links that did not exist before.
 */
int lineage_batch_put(lineage_t *lg, const lineage_batch *b, int64_t *const ids[LINEAGE_KINDS],
                      size_t *links_created, strata_err *err);

/* ---- lineage traversal -------------------------------------------------- */

typedef enum lineage_direction {
    LINEAGE_UPSTREAM,   /* artifact → the executions that output it → their inputs */
    LINEAGE_DOWNSTREAM, /* artifact → the executions that read it → their outputs */
    LINEAGE_BOTH,       /* every event in either direction at every hop */
} lineage_direction;

/*
 * A breadth-first traversal from start nodes: start_ids of start_kind, or
 * every node of start_kind matching start_filter. One hop is node → event →
 * node; each node is visited once; nodes at max_hops are not expanded.
 * as_of (INT64_MAX = now) answers as the graph stood then: nodes created and
 * events recorded after it do not exist, and nodes show their version at it.
 *
 * The BFS order is deterministic, so an answer pages by position: nodes
 * [offset, offset + limit) of the order, the events whose later endpoint is
 * among them, and the contexts of those nodes. *more says whether nodes
 * follow. A start that matches nothing → NOT_FOUND.
 *
 * *out gets {"artifacts":[…],"executions":[…],"events":[…],"contexts":[…]}.
 */
typedef struct lineage_graph_query {
    lineage_kind start_kind; /* LINEAGE_ARTIFACT or LINEAGE_EXECUTION */
    const int64_t *start_ids;
    size_t nstart;
    const lfilter *start_filter; /* used when nstart == 0 */
    lineage_direction direction;
    uint32_t max_hops;
    int64_t as_of;
    uint64_t offset;
    size_t limit;
} lineage_graph_query;

int lineage_graph(lineage_t *lg, const lineage_graph_query *q, json_t **out, bool *more,
                  strata_err *err);

/* ---- automatic capture: the internal API for imports, exports, training -- */

/*
 * An artifact a run reads or writes: an existing one by id (id > 0), else the
 * one of (type, name) when it exists, else a new one made from the fields.
 * path_key (may be NULL) becomes the event path [{"key":path_key}].
 */
typedef struct lineage_artifact_ref {
    int64_t id;
    const char *type;
    const char *name; /* NULL: always a new artifact */
    const char *uri;
    const char *state; /* NULL: LIVE */
    const json_t *properties;
    const json_t *custom_properties;
    const char *path_key;
} lineage_artifact_ref;

/* A context the run joins: by id, else found or made by (type, name). */
typedef struct lineage_context_ref {
    int64_t id;
    const char *type;
    const char *name;
    const json_t *properties;
} lineage_context_ref;

/*
 * One execution with its inputs, outputs and contexts, recorded in ONE batch
 * (all or nothing). Events are INPUT/OUTPUT; the execution and every artifact
 * join every context (attribution / association). When the execution type
 * declares a STRING property "code_version" and properties do not set it, it
 * is the build id (otherwise a custom property "code_version" holds it).
 */
typedef struct lineage_run {
    const char *execution_type;
    const char *name;         /* may be NULL */
    const char *state;        /* NULL: COMPLETE */
    const json_t *properties; /* e.g. {"hyperparameters":{…}} */
    const json_t *custom_properties;
    const lineage_artifact_ref *inputs;
    size_t ninputs;
    const lineage_artifact_ref *outputs;
    size_t noutputs;
    const lineage_context_ref *contexts;
    size_t ncontexts;
} lineage_run;

/* Ids the run ended up with; the arrays (may be NULL) are the caller's, of
 * ninputs / noutputs / ncontexts entries. */
typedef struct lineage_run_ids {
    int64_t execution_id;
    int64_t *input_ids;
    int64_t *output_ids;
    int64_t *context_ids;
} lineage_run_ids;

int lineage_record_run(lineage_t *lg, const lineage_run *run, lineage_run_ids *ids,
                       strata_err *err);

/* Find the artifact of (ref->type, ref->name), or create it from ref. */
int lineage_artifact_find_or_create(lineage_t *lg, const lineage_artifact_ref *ref, int64_t *id,
                                    bool *created, strata_err *err);

/* Move an execution to another state (e.g. RUNNING → COMPLETE) and merge
 * properties (may be NULL) into its declared properties. */
int lineage_execution_set_state(lineage_t *lg, int64_t execution_id, const char *state,
                                const json_t *properties, strata_err *err);

/* ---- model provenance --------------------------------------------------- */

/*
 * "Where did this model come from?" (GET /v1/models/{name}/provenance).
 * A model version is the Model artifact named "<model>@<version>" (the name
 * is authoritative; its `model` and `version` properties carry the same
 * values); model_version 0 = the highest. *out gets
 *   {"model":{"name","version","versions","artifact"},
 *    "training":{"execution","hyperparameters","code_version"},
 *    "training_data":{"feature_refs","as_of","datasets":[…],"imports":[…],"imports_total"},
 *    "metrics":[…],"evaluations":[…],"complete","missing":[…],"truncated":[…]}
 * with what exists so far (docs/lineage.md, "Model provenance"). The caller
 * owns *out. INVALID_ARGUMENT for a bad model name, NOT_FOUND when the model
 * or that version does not exist.
 */
int lineage_model_provenance(lineage_t *lg, slice model, int64_t model_version, json_t **out,
                             strata_err *err);

#endif
