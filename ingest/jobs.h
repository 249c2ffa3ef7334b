/*
 * jobs.h - long-running work (imports, exports, training, evaluation) as
 * persisted jobs on a small pool of worker threads.
 *
 * A job is submitted with a kind, a JSON spec and a run function; submit
 * persists a PENDING record and returns at once, so an HTTP worker never waits
 * for the work. A pool thread moves it to RUNNING, calls the run function, and
 * records the outcome: SUCCEEDED with a result, FAILED with an error, or
 * CANCELLED after a cancel request.
 *
 *   PENDING ──start──> RUNNING ──run returns 0──────────────> SUCCEEDED
 *      │                  ├──run fails─────────────────────> FAILED
 *      │                  ├──cancel requested, run stops───> CANCELLED
 *      │                  └──shutdown / crash──────────────> FAILED (clear reason)
 *      ├──cancel────────────────────────────────────────────> CANCELLED
 *      └──shutdown / crash──────────────────────────────────> FAILED
 *
 * Restart: a record found PENDING or RUNNING at open belongs to a daemon that
 * died; it becomes FAILED with the message "stratad restarted while the job
 * was running; " followed by the run function's last job_checkpoint() note
 * (default "nothing of it was committed"), and its last checkpointed result
 * is kept. Jobs are never resumed: their run functions and in-memory
 * arguments (an inline upload) died with the process.
 *
 * Records live in STORE_SPACE_JOBS (through store/'s generic record API):
 *
 *   key                                   value
 *   OFFSET SIZE FIELD
 *   0      1    'J'                       the job as compact JSON (below)
 *   1      8    job number, u64 BE
 *
 *   0      1    'C'                       next job number, u64 BE (8 bytes)
 *
 * Other modules may keep records in the same space under other first bytes
 * (the scheduler: 'S'). Job ids are the decimal job numbers ("1", "2", ...),
 * allocated monotonically from the persisted counter, never reused.
 *
 * Record JSON (the API's job object): {"id","kind","state","progress":{"done",
 * "total","unit"},"result","error":{"code","message"},"execution_id",
 * "create_time","start_time","end_time","spec","principal","cancel_requested"};
 * absent values are null; keys starting with '_' are internal and never shown.
 *
 * Threading: every function may be called from any thread. The run function
 * runs on a pool thread and may call the job_* functions on its job.
 */
#ifndef STRATA_INGEST_JOBS_H
#define STRATA_INGEST_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "store/store.h"

typedef enum job_state {
    JOB_PENDING,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_CANCELLED,
} job_state;
#define JOB_NSTATES 5

/* "PENDING", ... (static storage); 0 and *out, or -1 for another name. */
const char *job_state_name(job_state s);
int job_state_parse(slice s, job_state *out);

/* Progress is persisted at most this often (and once at the end). */
#define JOB_PROGRESS_PERSIST_MS 500

typedef struct job_runner job_runner;
typedef struct job job_t;

/*
 * Does the work. Returns 0 with *result (a new reference, may stay NULL) for
 * SUCCEEDED, or a negative status with err filled for FAILED; *result may
 * then hold partial figures, kept with the failure. When job_cancelled() turns
 * true the function should stop soon and return non-zero (any status): the
 * job becomes CANCELLED (on a cancel request) or FAILED (on shutdown), with
 * err's message as the reason when set.
 */
typedef int (*job_run_fn)(job_t *j, void *arg, json_t **result, strata_err *err);

/* Told once when a job reaches its terminal state, after the record is
 * stored: on the pool thread that ran it, or on the thread that cancelled it
 * (PENDING) or closed the runner (queued jobs). job is the final JSON,
 * borrowed for the call. */
typedef void (*job_done_fn)(void *arg, const char *job_id, job_state state, const json_t *job);

typedef struct job_def {
    const char *kind;          /* "import", "export", ...: [a-z_]+ */
    const json_t *spec;        /* kept with the job (copied); NULL = {} */
    const char *principal;     /* who asked; NULL = "anonymous" */
    const char *progress_unit; /* what progress counts: "bytes", "rows"; NULL = "items" */
    uint64_t progress_total;   /* known up front (a file's size), else 0 */
    job_run_fn run;
    void *arg;                   /* handed to run; owned by the runner from submit on */
    void (*free_arg)(void *arg); /* called once after the run, or at once if submit fails */
    job_done_fn on_done;         /* may be NULL; on_done_arg must outlive the runner */
    void *on_done_arg;
} job_def;

/* Open over the store: recovers records left PENDING/RUNNING (see above) and
 * starts `threads` workers (0 = LIMIT_DEFAULT_JOB_THREADS). */
int job_runner_open(store_t *st, int threads, job_runner **out, strata_err *err);
/* Stop: queued jobs become FAILED ("stratad shut down before the job
 * started"), running ones are asked to stop and, once they return, FAILED
 * ("stratad shut down while the job was running; <committed note>"). Joins
 * the workers. NULL ok. */
void job_runner_close(job_runner *r);

/* Persist a PENDING job and queue it. *job_out (may be NULL) gets its JSON.
 * RESOURCE_EXHAUSTED when LIMIT_JOB_QUEUE_MAX jobs are already waiting,
 * UNAVAILABLE while shutting down. */
int job_submit(job_runner *r, const job_def *def, json_t **job_out, strata_err *err);

/* The job's JSON (live progress for active jobs); NOT_FOUND for an unknown id. */
int job_get(job_runner *r, slice id, json_t **out, strata_err *err);

/* Jobs newest first, optionally of one kind and/or state (NULL = any). `before`
 * is the id to continue after (empty = from the newest). At most limit jobs
 * are appended to items; *next gets the id to continue from, left empty when
 * no more match. */
int job_list(job_runner *r, const char *kind, const job_state *state, slice before, size_t limit,
             json_t *items, buf *next, strata_err *err);

/* Cancel: a PENDING job becomes CANCELLED at once; a RUNNING one is asked to
 * stop (cancel_requested true; it turns CANCELLED when its run function
 * returns). FAILED_PRECONDITION for a finished job, NOT_FOUND for an unknown
 * id. *out (may be NULL) gets the job's JSON as it is now. */
int job_cancel(job_runner *r, slice id, json_t **out, strata_err *err);

/* Jobs by state right now (for /metrics). */
void job_counts(job_runner *r, uint64_t out[JOB_NSTATES]);

/* ---- for run functions --------------------------------------------------- */

/* The job's id ("17"); lives as long as the job runs. */
const char *job_id(const job_t *j);
bool job_cancelled(const job_t *j);
/* Record progress; persisted at most every JOB_PROGRESS_PERSIST_MS. */
void job_progress(job_t *j, uint64_t done, uint64_t total);
/* What has been committed so far, as a clause for the restart message ("the
 * rows of lines 2-10001 were committed and stay"), and optionally the partial
 * result (borrowed) shown if the job never finishes; persisted at once. */
void job_checkpoint(job_t *j, const char *note, const json_t *partial_result);
/* The lineage execution recording this job. */
void job_set_execution_id(job_t *j, int64_t execution_id);

#endif
