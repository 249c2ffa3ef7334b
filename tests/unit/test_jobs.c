/*
 * test_jobs.c - the job framework (ingest/jobs.c) over a real store: records
 * and their states, results and errors, cancel (pending and running), list
 * order, filters and paging, counts, on_done, shutdown, and the restart rule
 * for records a dead daemon left PENDING or RUNNING.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "ingest/jobs.h"
#include "store/store.h"

typedef struct fx {
    char dir[64];
    store_t *st;
    job_runner *r;
} fx;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void open_store(fx *f)
{
    strata_err err = STRATA_ERR_INIT;
    store_options o = {f->dir, STORE_SYNC_NEVER, (size_t)8 << 20, false};
    if (store_open(&o, &f->st, &err))
        fail_msg("store_open: %s", err.message);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/strata-jobs-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    open_store(f);
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(job_runner_open(f->st, 2, &f->r, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    job_runner_close(f->r);
    store_close(f->st);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static json_t *get(fx *f, const char *id)
{
    json_t *j = NULL;
    strata_err err = STRATA_ERR_INIT;
    if (job_get(f->r, slice_of(id), &j, &err))
        fail_msg("job_get %s: %s", id, err.message);
    return j;
}

static const char *state_of(const json_t *j)
{
    return json_string_value(json_object_get(j, "state"));
}

/* Wait until the job is in a terminal state; returns its JSON. */
static json_t *wait_done(fx *f, const char *id)
{
    for (int i = 0; i < 1000; i++) {
        json_t *j = get(f, id);
        const char *s = state_of(j);
        if (strcmp(s, "SUCCEEDED") == 0 || strcmp(s, "FAILED") == 0 || strcmp(s, "CANCELLED") == 0)
            return j;
        json_decref(j);
        sleep_ms(5);
    }
    fail_msg("job %s did not finish", id);
    return NULL;
}

/* ---- run functions ---------------------------------------------------------- */

typedef struct ctl {
    atomic_int runs;
    atomic_bool release; /* blocking runs return when set */
    atomic_int done_calls;
    char done_state[16];
} ctl;

static int run_ok(job_t *j, void *arg, json_t **result, strata_err *err)
{
    ctl *c = arg;
    atomic_fetch_add(&c->runs, 1);
    job_progress(j, 10, 10);
    *result = json_pack("{s:i}", "answer", 42);
    return 0;
}

static int run_fail(job_t *j, void *arg, json_t **result, strata_err *err)
{
    *result = json_pack("{s:i}", "rows_read", 3);
    return err_set(err, STRATA_INVALID_ARGUMENT, "line 3: bad number");
}

/* Runs until cancelled (or released). */
static int run_block(job_t *j, void *arg, json_t **result, strata_err *err)
{
    ctl *c = arg;
    atomic_fetch_add(&c->runs, 1);
    job_checkpoint(j, "the good rows up to line 10 were committed and stay", NULL);
    while (!job_cancelled(j) && !atomic_load(&c->release))
        sleep_ms(2);
    if (job_cancelled(j))
        return err_set(err, STRATA_INVALID_ARGUMENT, "cancelled at line 11; kept lines 2-10");
    return 0;
}

static void on_done(void *arg, const char *id, job_state s, const json_t *job)
{
    ctl *c = arg;
    atomic_fetch_add(&c->done_calls, 1);
    snprintf(c->done_state, sizeof c->done_state, "%s", job_state_name(s));
    assert_string_equal(json_string_value(json_object_get(job, "id")), id);
}

static json_t *submit(fx *f, const char *kind, job_run_fn run, ctl *c)
{
    json_t *job = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *spec = json_pack("{s:s}", "entity", "customer");
    job_def d = {.kind = kind,
                 .spec = spec,
                 .principal = "tester",
                 .progress_unit = "bytes",
                 .progress_total = 10,
                 .run = run,
                 .arg = c,
                 .on_done = on_done,
                 .on_done_arg = c};
    if (job_submit(f->r, &d, &job, &err))
        fail_msg("job_submit: %s", err.message);
    json_decref(spec);
    return job;
}

/* ---- tests ---------------------------------------------------------------------- */

static void succeed_and_fail(void **state)
{
    fx *f = *state;
    ctl c = {0};
    json_t *j = submit(f, "import", run_ok, &c);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "1");
    assert_string_equal(state_of(j), "PENDING");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "progress"), "total")),
                     10);
    assert_true(json_is_null(json_object_get(j, "start_time")));
    json_decref(j);
    j = wait_done(f, "1");
    assert_string_equal(state_of(j), "SUCCEEDED");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "result"), "answer")),
                     42);
    assert_true(json_is_null(json_object_get(j, "error")));
    assert_true(json_is_string(json_object_get(j, "start_time")));
    assert_true(json_is_string(json_object_get(j, "end_time")));
    assert_string_equal(json_string_value(json_object_get(j, "principal")), "tester");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "spec"), "entity")),
                        "customer");
    assert_null(json_object_get(j, "_committed")); /* internal keys never show */
    json_decref(j);

    j = submit(f, "import", run_fail, &c);
    json_decref(j);
    j = wait_done(f, "2");
    assert_string_equal(state_of(j), "FAILED");
    json_t *e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "INVALID_ARGUMENT");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "line 3: bad number");
    /* Partial figures are kept with the failure. */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "result"), "rows_read")),
                     3);
    json_decref(j);
    for (int i = 0; i < 100 && atomic_load(&c.done_calls) < 2; i++)
        sleep_ms(5);
    assert_int_equal(atomic_load(&c.done_calls), 2);

    uint64_t counts[JOB_NSTATES];
    job_counts(f->r, counts);
    assert_int_equal(counts[JOB_SUCCEEDED], 1);
    assert_int_equal(counts[JOB_FAILED], 1);
    assert_int_equal(counts[JOB_PENDING] + counts[JOB_RUNNING], 0);
}

static void cancel_running_and_pending(void **state)
{
    fx *f = *state;
    ctl c = {0};
    strata_err err = STRATA_ERR_INIT;
    /* Two workers: two blocking jobs take both, the third waits. */
    json_decref(submit(f, "import", run_block, &c));
    json_decref(submit(f, "import", run_block, &c));
    json_decref(submit(f, "export", run_ok, &c));
    for (int i = 0; i < 500 && atomic_load(&c.runs) < 2; i++)
        sleep_ms(2);
    json_t *j = get(f, "3");
    assert_string_equal(state_of(j), "PENDING");
    json_decref(j);

    j = NULL;
    assert_int_equal(job_cancel(f->r, slice_of("3"), &j, &err), 0);
    assert_string_equal(state_of(j), "CANCELLED");
    assert_true(json_is_true(json_object_get(j, "cancel_requested")));
    json_decref(j);

    assert_int_equal(job_cancel(f->r, slice_of("1"), &j, &err), 0);
    assert_string_equal(state_of(j), "RUNNING"); /* asked to stop */
    assert_true(json_is_true(json_object_get(j, "cancel_requested")));
    json_decref(j);
    j = wait_done(f, "1");
    assert_string_equal(state_of(j), "CANCELLED");
    json_t *e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "CANCELLED");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "cancelled at line 11; kept lines 2-10");
    json_decref(j);

    /* Finished: 412; unknown or malformed ids: 404. */
    assert_int_equal(job_cancel(f->r, slice_of("1"), NULL, &err), STRATA_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "already finished (CANCELLED)"));
    assert_int_equal(job_cancel(f->r, slice_of("99"), NULL, &err), STRATA_NOT_FOUND);
    assert_int_equal(job_cancel(f->r, slice_of("x1"), NULL, &err), STRATA_NOT_FOUND);
    assert_int_equal(job_get(f->r, slice_of("0"), &j, &err), STRATA_NOT_FOUND);
    atomic_store(&c.release, true);
    j = wait_done(f, "2");
    assert_string_equal(state_of(j), "SUCCEEDED");
    json_decref(j);
    /* The cancelled pending job never ran. */
    assert_int_equal(atomic_load(&c.runs), 2);
    err_clear(&err);
}

static void list_filters_and_pages(void **state)
{
    fx *f = *state;
    ctl c = {0};
    strata_err err = STRATA_ERR_INIT;
    for (int i = 0; i < 5; i++)
        json_decref(submit(f, i % 2 ? "export" : "import", i == 4 ? run_fail : run_ok, &c));
    for (int i = 1; i <= 5; i++) {
        char id[8];
        snprintf(id, sizeof id, "%d", i);
        json_decref(wait_done(f, id));
    }
    json_t *items = json_array();
    buf next = BUF_INIT;
    assert_int_equal(job_list(f->r, NULL, NULL, slice_of(""), 2, items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), "5");
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "id")), "4");
    assert_string_equal(next.p, "4");
    json_array_clear(items);
    assert_int_equal(job_list(f->r, NULL, NULL, buf_slice(&next), 10, items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 3);
    assert_int_equal(next.n, 0);
    json_array_clear(items);
    assert_int_equal(job_list(f->r, "import", NULL, slice_of(""), 10, items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 3); /* 1, 3, 5 */
    json_array_clear(items);
    job_state failed = JOB_FAILED;
    assert_int_equal(job_list(f->r, "import", &failed, slice_of(""), 10, items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), "5");
    json_array_clear(items);
    assert_int_equal(job_list(f->r, NULL, NULL, slice_of("zz"), 10, items, &next, &err),
                     STRATA_INVALID_ARGUMENT);
    json_decref(items);
    buf_free(&next);
    err_clear(&err);
}

static void shutdown_and_restart(void **state)
{
    fx *f = *state;
    ctl c = {0};
    strata_err err = STRATA_ERR_INIT;
    json_decref(submit(f, "import", run_block, &c));
    for (int i = 0; i < 500 && atomic_load(&c.runs) < 1; i++)
        sleep_ms(2);
    /* Close while job 1 runs: it is stopped and FAILED with the checkpoint. */
    job_runner_close(f->r);
    f->r = NULL;
    assert_int_equal(atomic_load(&c.done_calls), 1);
    assert_string_equal(c.done_state, "FAILED");

    /* Leave records as a dead daemon would: one RUNNING with a checkpoint,
     * one PENDING. */
    store_batch *b = store_batch_new();
    char key[9] = {'J'};
    const char *running = "{\"id\":\"7\",\"kind\":\"import\",\"state\":\"RUNNING\",\"_committed\":"
                          "\"the good rows up to line 500 were committed and stay\"}";
    const char *pending = "{\"id\":\"8\",\"kind\":\"import\",\"state\":\"PENDING\"}";
    put_u64be(key + 1, 7);
    store_batch_put(b, STORE_SPACE_JOBS, (slice){key, 9}, slice_of(running));
    put_u64be(key + 1, 8);
    store_batch_put(b, STORE_SPACE_JOBS, (slice){key, 9}, slice_of(pending));
    assert_int_equal(store_batch_commit(f->st, b, true, &err), 0);
    store_batch_free(b);
    /* Reopen the store too: the records must have been persisted. */
    store_close(f->st);
    open_store(f);
    assert_int_equal(job_runner_open(f->st, 1, &f->r, &err), 0);

    json_t *j = get(f, "1");
    assert_string_equal(state_of(j), "FAILED");
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    assert_string_equal(msg, "stratad shut down while the job was running; the good rows up to "
                             "line 10 were committed and stay");
    json_decref(j);
    j = get(f, "7");
    assert_string_equal(state_of(j), "FAILED");
    msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    assert_string_equal(msg, "stratad restarted while the job was running; the good rows up to "
                             "line 500 were committed and stay");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "ABORTED");
    json_decref(j);
    j = get(f, "8");
    assert_string_equal(state_of(j), "FAILED");
    msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    assert_non_null(strstr(msg, "before the job started; nothing of it was committed"));
    json_decref(j);

    /* Ids continue past everything stored; counts include the recovered. */
    j = submit(f, "import", run_ok, &c);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "9");
    json_decref(j);
    json_decref(wait_done(f, "9"));
    uint64_t counts[JOB_NSTATES];
    job_counts(f->r, counts);
    assert_int_equal(counts[JOB_FAILED], 3);
    assert_int_equal(counts[JOB_SUCCEEDED], 1);
    err_clear(&err);
}

static void queue_dropped_at_shutdown(void **state)
{
    fx *f = *state;
    ctl c = {0};
    strata_err err = STRATA_ERR_INIT;
    job_runner_close(f->r);
    assert_int_equal(job_runner_open(f->st, 1, &f->r, &err), 0);
    json_decref(submit(f, "import", run_block, &c));
    json_decref(submit(f, "import", run_ok, &c)); /* waits behind the first */
    for (int i = 0; i < 500 && atomic_load(&c.runs) < 1; i++)
        sleep_ms(2);
    job_runner_close(f->r);
    assert_int_equal(job_runner_open(f->st, 1, &f->r, &err), 0);
    json_t *j = get(f, "2");
    assert_string_equal(state_of(j), "FAILED");
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
               "shut down before the job started"));
    json_decref(j);
    assert_int_equal(atomic_load(&c.done_calls), 2);
    assert_int_equal(atomic_load(&c.runs), 1);
    err_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(succeed_and_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_running_and_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(list_filters_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(queue_dropped_at_shutdown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
