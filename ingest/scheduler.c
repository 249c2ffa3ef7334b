/*
 * scheduler.c - cron and interval schedules for imports (scheduler.h).
 *
 * All state sits behind one mutex: the in-memory schedules (sorted by name),
 * their next fire times and their active run. The thread, the HTTP handlers
 * and the job threads' completion callbacks all take it; none of them holds
 * it across anything slower than one import_submit (which validates and
 * queues, never runs, an import).
 */
#include "ingest/scheduler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/jsoncheck.h"
#include "base/limits.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "ingest/cron.h"

#define PRINCIPAL "system:scheduler"
#define MAX_SLEEP_US (60 * TIME_US_PER_SEC)
#define MAX_RETRIES_CAP LIMIT_SCHEDULE_RETRIES_MAX
#define MAX_SCHEDULES LIMIT_SCHEDULES

typedef struct sched {
    char name[65];
    json_t *doc; /* the persisted schedule, API shape */
    cron_expr cron;
    bool has_cron;
    int64_t every_us;
    bool enabled, catch_up, catch_up_pending;
    int64_t max_retries, backoff_s;
    int64_t next_fire; /* 0: none */
    uint64_t last_run;
    /* The active run, if any. */
    uint64_t active_run;
    char active_job[32];
    int64_t attempts;
    int64_t retry_at; /* 0: no retry waiting */
} sched;

struct scheduler {
    store_t *st;
    job_runner *jobs;
    import_ctx *imports;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started, stop;
    sched **v;
    size_t n, cap;
};

/* ---- records ----------------------------------------------------------- */

static void sched_key(buf *k, const char *name)
{
    buf_reset(k);
    buf_putc(k, 'S');
    buf_append_str(k, name);
}

static void run_key(buf *k, const char *name, uint64_t run)
{
    buf_reset(k);
    buf_putc(k, 'R');
    buf_append_str(k, name);
    buf_putc(k, '\0');
    buf_put_u64be(k, run);
}

static json_t *time_json(int64_t us)
{
    if (us <= 0)
        return json_null();
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(us, t, sizeof t);
    return json_string(t);
}

static void put_json(store_batch *b, slice key, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    STRATA_ASSERT(text != NULL);
    store_batch_put(b, STORE_SPACE_JOBS, key, slice_of(text));
    free(text);
}

/* Refresh the derived fields of the schedule document and persist it. */
static int persist_sched(scheduler *s, sched *sc, strata_err *err)
{
    json_object_set_new(sc->doc, "next_run_time", time_json(sc->enabled ? sc->next_fire : 0));
    json_object_set_new(sc->doc, "last_run", json_integer((json_int_t)sc->last_run));
    buf k = BUF_INIT;
    sched_key(&k, sc->name);
    store_batch *b = store_batch_new();
    put_json(b, buf_slice(&k), sc->doc);
    int rc = store_batch_commit(s->st, b, false, err);
    store_batch_free(b);
    buf_free(&k);
    return rc;
}

static int persist_run(scheduler *s, const char *name, uint64_t run, const json_t *doc,
                       strata_err *err)
{
    buf k = BUF_INIT;
    run_key(&k, name, run);
    store_batch *b = store_batch_new();
    put_json(b, buf_slice(&k), doc);
    int rc = store_batch_commit(s->st, b, false, err);
    store_batch_free(b);
    buf_free(&k);
    return rc;
}

static json_t *load_run(scheduler *s, const char *name, uint64_t run)
{
    buf k = BUF_INIT, v = BUF_INIT;
    run_key(&k, name, run);
    json_t *doc = NULL;
    if (store_kv_get(s->st, STORE_SPACE_JOBS, NULL, buf_slice(&k), &v, NULL) == 0)
        doc = json_loadb(v.p, v.n, 0, NULL);
    buf_free(&k);
    buf_free(&v);
    return doc;
}

/* ---- schedule documents ------------------------------------------------ */

static sched *find(scheduler *s, slice name, size_t *pos)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = slice_cmp(slice_of(s->v[mid]->name), name);
        if (c == 0) {
            if (pos)
                *pos = mid;
            return s->v[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

static void sched_free(sched *sc)
{
    if (!sc)
        return;
    json_decref(sc->doc);
    free(sc);
}

static int64_t next_after(const sched *sc, int64_t after)
{
    if (sc->has_cron)
        return cron_next(&sc->cron, after);
    return after + sc->every_us;
}

/* Check a full schedule document (after create defaults or a patch) and load
 * its settings into sc. The message names the field at fault. */
static int apply_doc(sched *sc, json_t *doc, strata_err *err)
{
    json_t *cron = json_object_get(doc, "cron"), *every = json_object_get(doc, "every_seconds");
    if (json_is_null(cron))
        cron = NULL;
    if (json_is_null(every))
        every = NULL;
    if ((cron != NULL) == (every != NULL))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "give exactly one of \"cron\" and \"every_seconds\"");
    sc->has_cron = cron != NULL;
    if (cron) {
        if (!json_is_string(cron))
            return err_set(err, STRATA_INVALID_ARGUMENT, "\"cron\" must be a string");
        int rc = cron_parse((slice){json_string_value(cron), json_string_length(cron)},
                            &sc->cron, err);
        if (rc)
            return rc;
        if (cron_next(&sc->cron, time_now_us()) < 0)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "cron \"%s\" never fires (no such date)", json_string_value(cron));
    } else {
        if (!json_is_integer(every) || json_integer_value(every) < 1 ||
            json_integer_value(every) > 366LL * 86400)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "\"every_seconds\" must be an integer from 1 to 31622400");
        sc->every_us = json_integer_value(every) * TIME_US_PER_SEC;
    }
    json_t *imp = json_object_get(doc, "import");
    if (!json_is_object(imp))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "\"import\" must be an import spec object (as POST /v1/imports)");
    json_t *src = json_object_get(imp, "source");
    if (!json_is_object(src) || !json_is_string(json_object_get(src, "path")))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "a schedule reads its file at run time: give \"import.source.path\"");
    json_t *en = json_object_get(doc, "enabled");
    json_t *mr = json_object_get(doc, "max_retries");
    json_t *bo = json_object_get(doc, "retry_backoff_seconds");
    json_t *cu = json_object_get(doc, "catch_up");
    json_t *de = json_object_get(doc, "description");
    if (!json_is_boolean(en) || !json_is_boolean(cu))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "\"enabled\" and \"catch_up\" must be true or false");
    if (!json_is_integer(mr) || json_integer_value(mr) < 0 ||
        json_integer_value(mr) > MAX_RETRIES_CAP)
        return err_set(err, STRATA_INVALID_ARGUMENT, "\"max_retries\" must be from 0 to %d",
                       MAX_RETRIES_CAP);
    if (!json_is_integer(bo) || json_integer_value(bo) < 0 ||
        json_integer_value(bo) > 86400)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "\"retry_backoff_seconds\" must be from 0 to 86400");
    if (de && !json_is_string(de))
        return err_set(err, STRATA_INVALID_ARGUMENT, "\"description\" must be a string");
    sc->enabled = json_is_true(en);
    sc->catch_up = json_is_true(cu);
    sc->max_retries = json_integer_value(mr);
    sc->backoff_s = json_integer_value(bo);
    return 0;
}

/* A new or changed schedule's import spec gets the checks POST /v1/imports
 * makes before it opens the file (fields, values, entity, the path's place
 * in the import directory), prefixed "import": what is wrong is said now, not
 * by every run retrying. (Not at start-up: a stored schedule whose entity has
 * gone since fails its runs instead, and says why.) */
static int check_import(scheduler *s, const json_t *doc, strata_err *err)
{
    if (!s->imports)
        return 0;
    int rc = import_check(s->imports, json_object_get(doc, "import"), err);
    if (rc)
        err_prefix(err, "import");
    return rc;
}

static int check_fields(const json_t *body, bool create, strata_err *err)
{
    static const char *const allowed[] = {"name",     "cron",        "every_seconds",
                                          "import",   "enabled",     "max_retries",
                                          "retry_backoff_seconds", "catch_up", "description",
                                          NULL};
    if (!create && json_object_get(body, "name"))
        return err_set(err, STRATA_INVALID_ARGUMENT, "a schedule's name never changes");
    return json_check_fields(body, allowed, "", err);
}

/* ---- runs -------------------------------------------------------------- */

static void on_job_done(void *arg, const char *job_id, job_state state, const json_t *job);

static int64_t backoff_us(const sched *sc)
{
    int64_t shift = sc->attempts - 1 < 20 ? sc->attempts - 1 : 20;
    return sc->backoff_s * TIME_US_PER_SEC * ((int64_t)1 << shift);
}

/* Close the active run with a final state. Caller holds mu and owns `run`. */
static void finish_run(scheduler *s, sched *sc, json_t *run, const char *state)
{
    json_object_set_new(run, "state", json_string(state));
    json_object_set_new(run, "end_time", time_json(time_now_us()));
    json_object_set_new(run, "next_attempt_time", json_null());
    strata_err err = STRATA_ERR_INIT;
    if (persist_run(s, sc->name, sc->active_run, run, &err))
        log_error("schedule %s: cannot record run %llu: %s", sc->name,
                  (unsigned long long)sc->active_run, err.message);
    err_clear(&err);
    sc->active_run = 0;
    sc->active_job[0] = '\0';
    sc->retry_at = 0;
    sc->attempts = 0;
}

/* A failed attempt: retry later, or fail the run. Caller holds mu. */
static void attempt_failed(scheduler *s, sched *sc, json_t *run, const char *code,
                           const char *message)
{
    json_object_set_new(run, "error", json_pack("{s:s,s:s}", "code", code, "message", message));
    if (sc->attempts <= sc->max_retries) {
        sc->retry_at = time_now_us() + backoff_us(sc);
        json_object_set_new(run, "state", json_string("RETRY_WAIT"));
        json_object_set_new(run, "next_attempt_time", time_json(sc->retry_at));
        sc->active_job[0] = '\0';
        strata_err err = STRATA_ERR_INIT;
        if (persist_run(s, sc->name, sc->active_run, run, &err))
            log_error("schedule %s: cannot record run: %s", sc->name, err.message);
        err_clear(&err);
        pthread_cond_signal(&s->cv);
    } else {
        finish_run(s, sc, run, "FAILED");
    }
}

/* Submit one attempt of the active run. Caller holds mu and owns `run`. */
static void start_attempt(scheduler *s, sched *sc, json_t *run)
{
    strata_err err = STRATA_ERR_INIT;
    json_t *job = NULL;
    import_submit_opts o = {.principal = PRINCIPAL,
                            .context_type = "Schedule",
                            .context_name = sc->name,
                            .on_done = on_job_done,
                            .on_done_arg = s};
    sc->attempts++;
    sc->retry_at = 0;
    json_object_set_new(run, "attempts", json_integer(sc->attempts));
    if (sc->attempts == 1)
        json_object_set_new(run, "actual_start", time_json(time_now_us()));
    int rc = import_submit(s->imports, json_object_get(sc->doc, "import"), &o, &job, &err);
    if (rc) {
        attempt_failed(s, sc, run, strata_status_code(rc), err.message);
        err_clear(&err);
        return;
    }
    const char *id = json_string_value(json_object_get(job, "id"));
    snprintf(sc->active_job, sizeof sc->active_job, "%s", id ? id : "");
    json_object_set_new(run, "job_id", json_string(sc->active_job));
    json_t *ids = json_object_get(run, "job_ids");
    if (!json_is_array(ids)) {
        ids = json_array();
        json_object_set_new(run, "job_ids", ids);
    }
    json_array_append_new(ids, json_string(sc->active_job));
    json_object_set_new(run, "state", json_string("RUNNING"));
    json_object_set_new(run, "next_attempt_time", json_null());
    if (persist_run(s, sc->name, sc->active_run, run, &err))
        log_error("schedule %s: cannot record run: %s", sc->name, err.message);
    err_clear(&err);
    json_decref(job);
}

/* Start a new run (or record a skipped one). Caller holds mu. Returns the run
 * document (new reference) or NULL when it could not even be recorded. */
static json_t *fire(scheduler *s, sched *sc, const char *trigger, int64_t scheduled)
{
    uint64_t n = ++sc->last_run;
    json_t *run = json_pack("{s:I,s:s,s:s,s:o,s:o,s:s,s:i,s:n,s:[],s:n,s:n,s:n}", "run",
                            (json_int_t)n, "schedule", sc->name, "trigger", trigger,
                            "scheduled_time", time_json(scheduled), "actual_start",
                            time_json(time_now_us()), "state", "PENDING", "attempts", 0,
                            "job_id", "job_ids", "error", "end_time", "next_attempt_time");
    if (sc->active_run) {
        json_object_set_new(run, "state", json_string("SKIPPED"));
        json_object_set_new(run, "error",
                            json_pack("{s:s,s:s}", "code", "FAILED_PRECONDITION", "message",
                                      "the previous run was still active"));
        json_object_set_new(run, "end_time", time_json(time_now_us()));
        strata_err err = STRATA_ERR_INIT;
        if (persist_run(s, sc->name, n, run, &err))
            log_error("schedule %s: cannot record run: %s", sc->name, err.message);
        err_clear(&err);
    } else {
        sc->active_run = n;
        sc->attempts = 0;
        start_attempt(s, sc, run);
    }
    strata_err err = STRATA_ERR_INIT;
    if (persist_sched(s, sc, &err))
        log_error("schedule %s: cannot persist: %s", sc->name, err.message);
    err_clear(&err);
    return run;
}

static void on_job_done(void *arg, const char *job_id, job_state state, const json_t *job)
{
    scheduler *s = arg;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        sched *sc = s->v[i];
        if (!sc->active_run || strcmp(sc->active_job, job_id) != 0)
            continue;
        json_t *run = load_run(s, sc->name, sc->active_run);
        if (!run)
            run = json_pack("{s:I,s:s}", "run", (json_int_t)sc->active_run, "schedule",
                            sc->name);
        if (state == JOB_SUCCEEDED) {
            json_object_set_new(run, "error", json_null());
            finish_run(s, sc, run, "SUCCEEDED");
        } else if (state == JOB_CANCELLED) {
            finish_run(s, sc, run, "CANCELLED");
        } else {
            const json_t *e = json_object_get(job, "error");
            const char *code = json_string_value(json_object_get(e, "code"));
            const char *msg = json_string_value(json_object_get(e, "message"));
            attempt_failed(s, sc, run, code ? code : "INTERNAL", msg ? msg : "the import failed");
        }
        json_decref(run);
        break;
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- the thread -------------------------------------------------------- */

static void *thread_main(void *arg)
{
    scheduler *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        int64_t now = time_now_us();
        int64_t wake = now + MAX_SLEEP_US;
        for (size_t i = 0; i < s->n && !s->stop; i++) {
            sched *sc = s->v[i];
            if (sc->active_run && sc->retry_at && sc->retry_at <= now && !sc->active_job[0]) {
                json_t *run = load_run(s, sc->name, sc->active_run);
                if (run) {
                    start_attempt(s, sc, run);
                    json_decref(run);
                } else {
                    sc->active_run = 0;
                    sc->retry_at = 0;
                }
            }
            if (sc->enabled && sc->next_fire > 0 && sc->next_fire <= now) {
                int64_t due = sc->next_fire;
                const char *trigger = sc->catch_up_pending ? "catch_up" : "schedule";
                sc->catch_up_pending = false;
                /* Intervals keep their cadence; after a stall, restart from now. */
                int64_t nx = next_after(sc, due);
                sc->next_fire = nx > now ? nx : next_after(sc, now);
                json_decref(fire(s, sc, trigger, due));
            }
            if (sc->enabled && sc->next_fire > 0 && sc->next_fire < wake)
                wake = sc->next_fire;
            if (sc->retry_at && sc->retry_at < wake)
                wake = sc->retry_at;
        }
        if (s->stop)
            break;
        int64_t delay = wake - time_now_us();
        if (delay <= 0)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (delay % TIME_US_PER_SEC) * 1000;
        ts.tv_sec += (time_t)(delay / TIME_US_PER_SEC + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- open / close ------------------------------------------------------ */

static int insert(scheduler *s, sched *sc, size_t pos)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        sched **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    memmove(s->v + pos + 1, s->v + pos, (s->n - pos) * sizeof *s->v);
    s->v[pos] = sc;
    s->n++;
    return 0;
}

/* The last run number of a schedule, from its newest run record. */
static uint64_t last_run_of(scheduler *s, const char *name)
{
    buf k = BUF_INIT;
    run_key(&k, name, UINT64_MAX);
    store_iter *it = store_iter_open(s->st, STORE_SPACE_JOBS, NULL);
    store_iter_seek_prev(it, buf_slice(&k));
    uint64_t last = 0;
    size_t nl = strlen(name);
    if (store_iter_valid(it)) {
        slice key = store_iter_key(it);
        if (key.n == nl + 10 && key.p[0] == 'R' && memcmp(key.p + 1, name, nl) == 0 &&
            key.p[1 + nl] == '\0')
            last = get_u64be(key.p + 2 + nl);
    }
    store_iter_close(it);
    buf_free(&k);
    return last;
}

int scheduler_open(store_t *st, job_runner *jobs, import_ctx *imports, scheduler **out,
                   strata_err *err)
{
    int rc = 0;
    scheduler *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(err, STRATA_NOMEM, "out of memory");
    s->st = st;
    s->jobs = jobs;
    s->imports = imports;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);

    int64_t now = time_now_us();
    store_iter *it = store_iter_open(st, STORE_SPACE_JOBS, NULL);
    for (store_iter_seek(it, SLICE_LIT("S")); store_iter_valid(it); store_iter_next(it)) {
        slice key = store_iter_key(it);
        if (key.n < 2 || key.p[0] != 'S')
            break;
        slice val = store_iter_value(it);
        sched *sc = calloc(1, sizeof *sc);
        if (!sc) {
            rc = err_set(err, STRATA_NOMEM, "out of memory");
            break;
        }
        snprintf(sc->name, sizeof sc->name, "%.*s", (int)(key.n - 1), key.p + 1);
        sc->doc = json_loadb(val.p, val.n, 0, NULL);
        strata_err e2 = STRATA_ERR_INIT;
        if (!sc->doc || apply_doc(sc, sc->doc, &e2)) {
            log_error("schedule %s: stored record is unusable (%s); it stays disabled",
                      sc->name, e2.message[0] ? e2.message : "not JSON");
            err_clear(&e2);
            if (!sc->doc)
                sc->doc = json_object();
            sc->enabled = false;
        }
        sc->last_run = last_run_of(s, sc->name);
        /* A run the dead daemon left active is over. */
        if (sc->last_run) {
            json_t *run = load_run(s, sc->name, sc->last_run);
            const char *state = json_string_value(json_object_get(run, "state"));
            if (run && state &&
                (!strcmp(state, "PENDING") || !strcmp(state, "RUNNING") ||
                 !strcmp(state, "RETRY_WAIT"))) {
                sc->active_run = sc->last_run;
                json_object_set_new(run, "error",
                                    json_pack("{s:s,s:s}", "code", "UNAVAILABLE", "message",
                                              "stratad restarted while the run was active"));
                finish_run(s, sc, run, "FAILED");
            }
            json_decref(run);
        }
        int64_t stored_next = 0;
        json_t *nrt = json_object_get(sc->doc, "next_run_time");
        if (json_is_string(nrt))
            time_parse_rfc3339((slice){json_string_value(nrt), json_string_length(nrt)},
                               &stored_next);
        if (sc->enabled) {
            if (stored_next && stored_next <= now && sc->catch_up) {
                sc->next_fire = now;
                sc->catch_up_pending = true;
            } else if (stored_next > now) {
                sc->next_fire = stored_next;
            } else {
                sc->next_fire = next_after(sc, now);
            }
        }
        if (insert(s, sc, s->n)) {
            sched_free(sc);
            rc = err_set(err, STRATA_NOMEM, "out of memory");
            break;
        }
    }
    if (!rc)
        rc = store_iter_status(it, err);
    store_iter_close(it);
    if (rc)
        goto fail;
    for (size_t i = 0; i < s->n; i++) {
        strata_err e2 = STRATA_ERR_INIT;
        persist_sched(s, s->v[i], &e2);
        err_clear(&e2);
    }
    if (pthread_create(&s->thread, NULL, thread_main, s)) {
        rc = err_set(err, STRATA_INTERNAL, "cannot start the scheduler thread");
        goto fail;
    }
    s->started = true;
    *out = s;
    return 0;
fail:
    scheduler_close(s);
    return rc;
}

void scheduler_stop(scheduler *s)
{
    if (!s || !s->started)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->started = false;
}

void scheduler_close(scheduler *s)
{
    if (!s)
        return;
    scheduler_stop(s);
    for (size_t i = 0; i < s->n; i++)
        sched_free(s->v[i]);
    free(s->v);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- API --------------------------------------------------------------- */

static json_t *public_doc(const sched *sc)
{
    json_t *d = json_deep_copy(sc->doc);
    json_object_set_new(d, "next_run_time", time_json(sc->enabled ? sc->next_fire : 0));
    json_object_set_new(d, "active_run", sc->active_run ? json_integer((json_int_t)sc->active_run)
                                                        : json_null());
    return d;
}

int scheduler_create(scheduler *s, const json_t *body, json_t **out, strata_err *err)
{
    int rc = check_fields(body, true, err);
    if (rc)
        return rc;
    json_t *name = json_object_get(body, "name");
    if (!json_is_string(name) ||
        !text_valid_name((slice){json_string_value(name), json_string_length(name)}))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "\"name\" must match [a-z][a-z0-9_]{0,63}");
    sched *sc = calloc(1, sizeof *sc);
    if (!sc)
        return err_set(err, STRATA_NOMEM, "out of memory");
    snprintf(sc->name, sizeof sc->name, "%s", json_string_value(name));
    /* Defaults per the contract, then the body on top. */
    sc->doc = json_pack("{s:b,s:i,s:i,s:b,s:s}", "enabled", 1, "max_retries", 3,
                        "retry_backoff_seconds", 60, "catch_up", 0, "description", "");
    json_object_update(sc->doc, (json_t *)body);
    int64_t now = time_now_us();
    json_object_set_new(sc->doc, "create_time", time_json(now));
    json_object_set_new(sc->doc, "update_time", time_json(now));
    rc = apply_doc(sc, sc->doc, err);
    if (!rc)
        rc = check_import(s, sc->doc, err);
    if (rc) {
        sched_free(sc);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    size_t pos;
    if (find(s, slice_of(sc->name), &pos)) {
        rc = err_set(err, STRATA_ALREADY_EXISTS, "schedule \"%s\" already exists", sc->name);
    } else if (s->n >= MAX_SCHEDULES) {
        rc = err_set(err, STRATA_RESOURCE_EXHAUSTED, "at most %d schedules", MAX_SCHEDULES);
    } else {
        sc->next_fire = sc->enabled ? next_after(sc, now) : 0;
        rc = persist_sched(s, sc, err);
        if (!rc && insert(s, sc, pos))
            rc = err_set(err, STRATA_NOMEM, "out of memory");
        if (!rc) {
            if (out)
                *out = public_doc(sc);
            pthread_cond_signal(&s->cv);
            sc = NULL;
        }
    }
    pthread_mutex_unlock(&s->mu);
    sched_free(sc);
    return rc;
}

static int not_found(strata_err *err, slice name)
{
    char ex[80];
    text_excerpt(name, ex, sizeof ex);
    return err_set(err, STRATA_NOT_FOUND, "schedule \"%s\" not found", ex);
}

int scheduler_get(scheduler *s, slice name, json_t **out, strata_err *err)
{
    pthread_mutex_lock(&s->mu);
    sched *sc = find(s, name, NULL);
    if (sc)
        *out = public_doc(sc);
    pthread_mutex_unlock(&s->mu);
    return sc ? 0 : not_found(err, name);
}

int scheduler_list(scheduler *s, slice after, size_t limit, json_t *items, bool *more,
                   strata_err *err)
{
    (void)err;
    *more = false;
    pthread_mutex_lock(&s->mu);
    size_t i = 0;
    if (after.n) {
        find(s, after, &i);
        if (i < s->n && slice_eq_str(after, s->v[i]->name))
            i++;
    }
    for (; i < s->n; i++) {
        if (json_array_size(items) == limit) {
            *more = true;
            break;
        }
        json_array_append_new(items, public_doc(s->v[i]));
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int scheduler_update(scheduler *s, slice name, const json_t *patch, json_t **out,
                     strata_err *err)
{
    int rc = check_fields(patch, false, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->mu);
    sched *sc = find(s, name, NULL);
    if (!sc) {
        rc = not_found(err, name);
        goto out;
    }
    json_t *doc = json_deep_copy(sc->doc);
    json_object_update(doc, (json_t *)patch);
    /* Switching between cron and every_seconds: the other one goes. */
    if (json_object_get(patch, "cron") && !json_is_null(json_object_get(patch, "cron")))
        json_object_del(doc, "every_seconds");
    if (json_object_get(patch, "every_seconds") &&
        !json_is_null(json_object_get(patch, "every_seconds")))
        json_object_del(doc, "cron");
    sched trial = *sc;
    rc = apply_doc(&trial, doc, err);
    if (!rc && json_object_get(patch, "import"))
        rc = check_import(s, doc, err);
    if (rc) {
        json_decref(doc);
        goto out;
    }
    bool was_enabled = sc->enabled;
    bool timing = json_object_get(patch, "cron") || json_object_get(patch, "every_seconds");
    json_decref(sc->doc);
    trial.doc = doc;
    *sc = trial;
    json_object_set_new(sc->doc, "update_time", time_json(time_now_us()));
    if (!sc->enabled)
        sc->next_fire = 0;
    else if (!was_enabled || timing || sc->next_fire == 0)
        sc->next_fire = next_after(sc, time_now_us());
    rc = persist_sched(s, sc, err);
    if (!rc && out)
        *out = public_doc(sc);
    pthread_cond_signal(&s->cv);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int scheduler_delete(scheduler *s, slice name, strata_err *err)
{
    pthread_mutex_lock(&s->mu);
    size_t pos;
    sched *sc = find(s, name, &pos);
    int rc = 0;
    if (!sc) {
        rc = not_found(err, name);
        goto out;
    }
    store_batch *b = store_batch_new();
    buf k = BUF_INIT;
    sched_key(&k, sc->name);
    store_batch_delete(b, STORE_SPACE_JOBS, buf_slice(&k));
    for (uint64_t r = 1; r <= sc->last_run; r++) {
        run_key(&k, sc->name, r);
        store_batch_delete(b, STORE_SPACE_JOBS, buf_slice(&k));
    }
    rc = store_batch_commit(s->st, b, false, err);
    store_batch_free(b);
    buf_free(&k);
    if (rc)
        goto out;
    /* An import still running finishes; its completion finds no schedule. */
    memmove(s->v + pos, s->v + pos + 1, (s->n - pos - 1) * sizeof *s->v);
    s->n--;
    sched_free(sc);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int scheduler_run_now(scheduler *s, slice name, json_t **run_out, strata_err *err)
{
    pthread_mutex_lock(&s->mu);
    sched *sc = find(s, name, NULL);
    int rc = 0;
    if (!sc) {
        rc = not_found(err, name);
    } else {
        json_t *run = fire(s, sc, "manual", time_now_us());
        if (run_out)
            *run_out = run;
        else
            json_decref(run);
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int scheduler_runs(scheduler *s, slice name, uint64_t before, size_t limit, json_t *items,
                   uint64_t *next, strata_err *err)
{
    *next = 0;
    pthread_mutex_lock(&s->mu);
    sched *sc = find(s, name, NULL);
    char nm[65] = "";
    if (sc)
        snprintf(nm, sizeof nm, "%s", sc->name);
    pthread_mutex_unlock(&s->mu);
    if (!sc)
        return not_found(err, name);
    buf k = BUF_INIT;
    run_key(&k, nm, before ? before - 1 : UINT64_MAX);
    size_t nl = strlen(nm);
    store_iter *it = store_iter_open(s->st, STORE_SPACE_JOBS, NULL);
    for (store_iter_seek_prev(it, buf_slice(&k)); store_iter_valid(it); store_iter_prev(it)) {
        slice key = store_iter_key(it);
        if (key.n != nl + 10 || key.p[0] != 'R' || memcmp(key.p + 1, nm, nl) != 0 ||
            key.p[1 + nl] != '\0')
            break;
        uint64_t run = get_u64be(key.p + 2 + nl);
        if (json_array_size(items) == limit) {
            *next = run + 1;
            break;
        }
        slice v = store_iter_value(it);
        json_t *doc = json_loadb(v.p, v.n, 0, NULL);
        json_array_append_new(items, doc ? doc : json_null());
    }
    int rc = store_iter_status(it, err);
    store_iter_close(it);
    buf_free(&k);
    return rc;
}
