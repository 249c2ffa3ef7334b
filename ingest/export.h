/*
 * export.h - training-data and snapshot exports: the point-in-time reader
 * that exports, streamed answers and the trainer all read through, and the
 * export jobs that write files (docs/export.md).
 *
 * Three kinds of export, each a validated *plan* read by one *reader* that
 * hands out rows of typed cells (ingest/writers.h):
 *
 *   historical  one row per instance row, in input order, duplicates kept:
 *               the instance's own columns, then one column per feature ref
 *               (`entity__feature`) holding the newest version at the row's
 *               timestamp (TTL window inclusive, as_of applied)
 *   snapshot    one row per entity id: `<entity>_id`, then the features at
 *               snapshot_time (TTL applied)
 *   history     one row per stored version with event_time in [start, end):
 *               `<entity>_id`, feature, event_time, created_time, value
 *
 * Lifecycle:
 *   export_plan_parse     (any thread; cheap) parses and checks a request
 *                         body against the registry, opens the instance file
 *                         (import path rules) and checks its header or first
 *                         object. Every 4xx a request can earn is found here,
 *                         except bad instance rows.
 *   export_reader_open    (a producer or job thread) for historical: reads
 *                         every instance row once (a bad row fails the open
 *                         with INVALID_ARGUMENT "instances line N: ...", so no
 *                         output is ever cut short by bad input), sorts the
 *                         lookups by (entity, id, time descending), and
 *                         answers them with one merge scan per entity under
 *                         one store snapshot. Memory stays under the budget:
 *                         what does not fit goes to temporary files.
 *   export_reader_next    rows in output order.
 *
 * The trainer's use (issue "trainer reads through the export's reader"):
 *
 *   export_plan *p; export_reader *r; const export_cell *row;
 *   export_plan_parse(ctx, EXPORT_HISTORICAL, spec, &p, &err);  // spec: the
 *       // "instances", "timestamp_column", "entity_columns", "features",
 *       // "as_of" members of a training request (copy them into an object;
 *       // unknown members are refused)
 *   export_reader_open(ctx, p, NULL, &r, &err);
 *   for (const export_schema *s = export_reader_schema(r);
 *        export_reader_next(r, &row, &err) == 1;)
 *       ... row[i] for s->names[i]; s->feature_col[k] is feature ref k's column ...
 *   export_reader_close(r); export_plan_free(p);
 *
 * Threading: an export_ctx is shared; plans and readers belong to one thread
 * at a time.
 */
#ifndef STRATA_INGEST_EXPORT_H
#define STRATA_INGEST_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "ingest/jobs.h"
#include "ingest/writers.h"
#include "store/store.h"

struct lineage; /* lineage/lineage.h */

typedef struct export_ctx export_ctx;

typedef struct export_options {
    store_t *store;          /* required */
    job_runner *jobs;        /* required for exports to a destination */
    struct lineage *lineage; /* NULL: exports are not recorded */
    const char *import_dir;  /* instance files given by path; NULL/"": refused */
    const char *export_dir;  /* destinations; created if missing (required) */
    const char *tmp_dir;     /* spilled sort runs; created if missing (required) */
    size_t memory_bytes;     /* per export; 0: LIMIT_DEFAULT_EXPORT_MEMORY_MB */
    size_t max_inline_bytes; /* instances.inline; 0: LIMIT_DEFAULT_MAX_BODY_BYTES */
    /* How historical lookups read the store (docs/export.md "How it works"):
     * AUTO picks per entity; the others force one way (tests, benchmarks). */
    enum { EXPORT_JOIN_AUTO, EXPORT_JOIN_SEEK, EXPORT_JOIN_SCAN } join;
    /* Scan join: lookups x features of one id buffered before that id falls
     * back to seeks; 0: 2^18. (Tests lower it to reach the fallback.) */
    size_t scan_group_max;
    /* Pass 2 in parallel (docs/export.md "How it works"): worker threads
     * (0: one per CPU, at most 4; 1: none, the reader answers alone) and
     * the lookups handed to a worker at a time (0: 16384). Tests set both to
     * reach the hand-over paths on any machine. */
    unsigned lookup_threads;
    size_t lookup_chunk;
} export_options;

/* Strings are copied; store, jobs and lineage must outlive the context.
 * Leftover temporary destination files of a previous run (".*.strata-tmp-*"
 * in the export directory) are removed. */
int export_ctx_open(const export_options *opt, export_ctx **out, strata_err *err);
void export_ctx_close(export_ctx *x); /* NULL ok */
/* The export directory's real path (for messages and tests). */
const char *export_ctx_dir(const export_ctx *x);
/* The import directory instance files must lie under ("" when none), and the
 * inline size limit: for other readers of client-named files (evaluations). */
const char *export_ctx_import_dir(const export_ctx *x);
size_t export_ctx_max_inline_bytes(const export_ctx *x);

typedef enum export_kind {
    EXPORT_HISTORICAL,
    EXPORT_SNAPSHOT,
    EXPORT_HISTORY,
} export_kind;

typedef struct export_plan export_plan;

/*
 * Parse and check a request body (docs/export.md lists the members of each
 * kind). Errors, with nothing stored:
 *   INVALID_ARGUMENT   malformed or unknown members, bad format, bad times,
 *                      missing timestamp/entity columns, duplicate feature refs
 *   NOT_FOUND          unknown entity or feature, missing instance file
 *   PERMISSION_DENIED  instance path outside --import-dir, destination
 *                      outside --export-dir
 *   ALREADY_EXISTS     destination exists and destination.overwrite is not set
 *   RESOURCE_EXHAUSTED over the inline, feature or entity limits
 */
int export_plan_parse(export_ctx *x, export_kind kind, const json_t *spec, export_plan **out,
                      strata_err *err);
void export_plan_free(export_plan *p); /* NULL ok */
export_kind export_plan_kind(const export_plan *p);
export_format export_plan_format(const export_plan *p);
/* The destination's absolute path, or NULL for a streamed export. */
const char *export_plan_destination(const export_plan *p);
/* Historical: the instance columns seen when the plan was checked (the CSV
 * header or the first object's keys) as a JSON array of strings, so a caller
 * can check its own column names (a label column) at submit; NULL when a
 * JSONL file held no row yet. Borrowed from the plan. */
const json_t *export_plan_columns(const export_plan *p);

/* ---- the row reader ------------------------------------------------------------ */

typedef struct export_schema {
    size_t ncols;
    const slice *names; /* column names */
    /* Historical: columns [0, npassthrough) are the instance's own. */
    size_t npassthrough;
    /* Feature ref k (request order) is column feature_col[k]; its type. */
    size_t nfeatures;
    const size_t *feature_col;
    const value_type *feature_type;
} export_schema;

typedef struct export_reader_options {
    /* Polled every few thousand rows; true stops the reader with CANCELLED
     * semantics (export_reader_open/next return STRATA_UNAVAILABLE). */
    bool (*cancelled)(void *arg);
    /* Rows passed through the work so far: historical counts each instance
     * row three times (read, joined, written) and knows the total (3 x rows)
     * once the instances are read; the other kinds count rows written, total 0. */
    void (*progress)(void *arg, uint64_t done, uint64_t total);
    void *arg;
} export_reader_options;

typedef struct export_reader export_reader;

/* The plan is borrowed and must outlive the reader; opts may be NULL. */
int export_reader_open(export_ctx *x, export_plan *p, const export_reader_options *opts,
                       export_reader **out, strata_err *err);
const export_schema *export_reader_schema(const export_reader *r);
/* 1 with *row (schema->ncols cells, borrowed until the next call), 0 after
 * the last row, or a negative status. */
int export_reader_next(export_reader *r, const export_cell **row, strata_err *err);
/* Instance rows read (historical), else rows handed out so far. */
uint64_t export_reader_rows(const export_reader *r);
/* Figures for results and logs: bytes spilled to temporary files, runs. */
typedef struct export_reader_stats {
    uint64_t instance_rows;
    uint64_t lookups; /* point-in-time lookups answered (after duplicates) */
    uint64_t spilled_bytes;
    uint64_t runs;
    size_t peak_memory;
    char instances_sha256[65]; /* historical: of the instance bytes read */
    uint64_t instances_bytes;
    uint64_t read_ms; /* pass 1: reading and validating the instances */
    uint64_t join_ms; /* pass 2: the point-in-time lookups */
} export_reader_stats;
void export_reader_get_stats(const export_reader *r, export_reader_stats *out);
void export_reader_close(export_reader *r); /* NULL ok */

/* ---- running an export ----------------------------------------------------------- */

/* Where a streamed export's bytes go (serving/api_exports.c: the HTTP stream). */
typedef struct export_sink {
    /* The request passed every check; nothing was sent yet. 0, or -1 when the
     * client is gone. */
    int (*start)(void *arg, export_format f);
    /* 0, or -1 when the client is gone (the export stops, recorded FAILED). */
    int (*write)(void *arg, const void *p, size_t n);
    bool (*cancelled)(void *arg); /* the daemon is stopping */
    void *arg;
} export_sink;

/*
 * Run a streamed export of plan p (without a destination) into sink, and
 * record it in lineage at the end (COMPLETE with the digest of the bytes
 * sent, or FAILED). *started says whether sink->start was called: when not,
 * the export was refused (err: the 4xx/5xx to answer, nothing recorded);
 * when it was and the result is non-zero, the caller must cut the stream so
 * the client never takes a partial answer for a whole one.
 */
int export_stream(export_ctx *x, export_plan *p, const export_sink *sink, bool *started,
                  strata_err *err);

/*
 * Submit an export to p's destination as a job (kind "export"); the plan is
 * taken over in every case (freed by the job, or at once when submit fails).
 * *job_out (may be NULL) gets the job's JSON. The job writes a temporary file
 * beside the destination and renames it into place only when everything was
 * written and synced, so a failed or cancelled job leaves no file there.
 */
int export_submit(export_ctx *x, export_plan *p, const char *principal, json_t **job_out,
                  strata_err *err);

#endif
