/*
 * scheduler.h - imports on a schedule: 5-field cron (UTC) or a fixed interval.
 *
 * One thread sleeps until the earliest due schedule (or retry), submits its
 * import through import_submit(), and records a run. A run that fails is
 * retried up to max_retries times, retry_backoff_seconds * 2^(attempt-1)
 * apart. A schedule whose previous run is still going skips its turn (the run
 * is recorded as SKIPPED) rather than import the same file twice at once.
 * Each run reads the file as it is at run time; the import job records its
 * source_sha256, and the Import execution joins the schedule's lineage
 * context (type Schedule, named after the schedule).
 *
 * Restart: schedules persist. A time missed while the daemon was down is not
 * replayed, unless the schedule has catch_up, in which case ONE run starts at
 * once (trigger "catch_up") however many times were missed. A run that was
 * active when the daemon died is marked FAILED.
 *
 * Records, in STORE_SPACE_JOBS (beside the job records, see jobs.h):
 *
 *   OFFSET  SIZE  FIELD
 *   0       1     'S'
 *   1       N     schedule name           -> the schedule as JSON
 *
 *   0       1     'R'
 *   1       N     schedule name
 *   1+N     1     0x00 (below every name character, so one schedule's runs
 *                 are contiguous and ordered)
 *   2+N     8     run number, u64 BE      -> the run as JSON
 */
#ifndef STRATA_INGEST_SCHEDULER_H
#define STRATA_INGEST_SCHEDULER_H

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "ingest/import.h"
#include "ingest/jobs.h"
#include "store/store.h"

typedef struct scheduler scheduler;

/* Loads schedules, settles runs left active by a dead daemon, applies
 * catch_up, and starts the scheduler thread. */
int scheduler_open(store_t *st, job_runner *jobs, import_ctx *imports, scheduler **out,
                   strata_err *err);
/* Stop the thread: no new runs start. Call before job_runner_close (whose
 * shutdown still reports ending jobs to the scheduler), then scheduler_close. */
void scheduler_stop(scheduler *s); /* NULL ok */
void scheduler_close(scheduler *s); /* NULL ok; stops first if needed */

/* The contract's schedule body. *out: {"name",...} (new reference). */
int scheduler_create(scheduler *s, const json_t *body, json_t **out, strata_err *err);
int scheduler_get(scheduler *s, slice name, json_t **out, strata_err *err);
/* Schedules by name after `after` (exclusive; empty = from the start), at most
 * limit, appended to items; *more when others follow. */
int scheduler_list(scheduler *s, slice after, size_t limit, json_t *items, bool *more,
                   strata_err *err);
/* PATCH: cron | every_seconds, import, enabled, max_retries,
 * retry_backoff_seconds, catch_up, description. */
int scheduler_update(scheduler *s, slice name, const json_t *patch, json_t **out,
                     strata_err *err);
/* Removes the schedule and its run history. */
int scheduler_delete(scheduler *s, slice name, strata_err *err);
/* Start a run now (trigger "manual"), whatever the schedule's time or state. */
int scheduler_run_now(scheduler *s, slice name, json_t **run_out, strata_err *err);
/* Runs newest first; before = run number to continue below (0 = newest). */
int scheduler_runs(scheduler *s, slice name, uint64_t before, size_t limit, json_t *items,
                   uint64_t *next, strata_err *err);

#endif
