/*
 * import.h - batch imports of feature values from CSV and JSONL files, as jobs.
 *
 * import_submit() validates an import spec (the body of POST /v1/imports,
 * docs/ingest.md) completely before anything is stored: options, the entity,
 * the source (path rules or inline limits), the header (CSV) or first object
 * (JSONL) against the column mapping. Only then is a job submitted; its run
 * reads the source once more, from the first byte, and writes the rows.
 *
 * Commit semantics (on_error):
 *   skip_row  rows are written in batches of about LIMIT_IMPORT_BATCH_VALUES
 *             values, one atomic store_write each; bad rows are rejected and
 *             reported. A cancel, shutdown or crash keeps the batches
 *             committed before it; the job's note says which lines those were.
 *   fail      every row is validated and encoded in memory and the whole file
 *             is committed as ONE store_write (one RocksDB WriteBatch) at the
 *             end, so a bad row, a cancel, a shutdown or a crash before that
 *             commit leaves nothing written. Bounded by atomic_max_values
 *             values and LIMIT_IMPORT_ATOMIC_BYTES bytes; a larger file fails
 *             the job with RESOURCE_EXHAUSTED naming both ways out.
 * Features created by create_features are created just before the first
 * commit (for fail: the only one), so a job that commits nothing creates none.
 *
 * Threading: an import_ctx is shared by HTTP workers, job threads and the
 * scheduler; import_submit may be called from any thread.
 */
#ifndef STRATA_INGEST_IMPORT_H
#define STRATA_INGEST_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"
#include "ingest/jobs.h"
#include "store/store.h"

struct lineage; /* lineage/lineage.h */

typedef struct import_ctx import_ctx;

typedef struct import_options {
    store_t *store;           /* required */
    job_runner *jobs;         /* required */
    struct lineage *lineage;  /* NULL: imports are not recorded in lineage */
    const char *import_dir;   /* NULL or "": imports from paths are refused */
    const char *data_dir;     /* rejects files go to <data_dir>/jobs/ */
    size_t max_inline_bytes;  /* 0: LIMIT_DEFAULT_MAX_BODY_BYTES */
    uint32_t max_inline_rows; /* inline source lines; 0: LIMIT_DEFAULT_MAX_INLINE_IMPORT_ROWS */
    uint32_t atomic_max_values; /* on_error=fail cap; 0: LIMIT_DEFAULT_IMPORT_ATOMIC_VALUES */
    /* Sources of at least this many bytes load their batches as table files
     * (store_write_ingest; 0: every import does). */
    uint64_t load_min_bytes;
} import_options;

/* The strings are copied; store, jobs and lineage must outlive the context. */
int import_ctx_open(const import_options *opt, import_ctx **out, strata_err *err);
void import_ctx_close(import_ctx *ic); /* NULL ok */

/* Called once when an import job ends (any terminal state), on a job thread or,
 * for a job cancelled or dropped before it started, on the thread that did it.
 * job is the final job JSON (borrowed for the call). */
typedef void (*import_done_fn)(void *arg, const char *job_id, job_state state, const json_t *job);

typedef struct import_submit_opts {
    const char *principal; /* NULL: "anonymous" */
    /* A lineage context the Import execution joins (a schedule), found or
     * made by (type, name); NULL type: none. */
    const char *context_type;
    const char *context_name;
    const json_t *context_properties;
    import_done_fn on_done; /* may be NULL; on_done_arg must outlive the job runner */
    void *on_done_arg;
} import_submit_opts;

/*
 * Validate spec and submit an import job. On success *job_out (may be NULL)
 * gets the new job's JSON (PENDING). Errors, with nothing stored:
 *   INVALID_ARGUMENT   a malformed or inconsistent spec, an unreadable header,
 *                      a mapped column missing from the file
 *   NOT_FOUND          unknown entity, unknown mapped feature (without
 *                      create_features), a source file that does not exist
 *   PERMISSION_DENIED  a path outside --import-dir (.., symlinks, absolute
 *                      paths elsewhere), a non-regular file, no --import-dir
 *   RESOURCE_EXHAUSTED an inline source over the byte or line limits, too many
 *                      jobs queued
 * opts may be NULL.
 */
int import_submit(import_ctx *ic, const json_t *spec, const import_submit_opts *opts,
                  json_t **job_out, strata_err *err);
/* The checks of import_submit that need no file: the spec's fields and
 * values, the entity, and a source.path's place in the import directory
 * (lexically: the file may not exist yet). For schedules, which read their
 * file at run time. */
int import_check(import_ctx *ic, const json_t *spec, strata_err *err);

#endif
