/*
 * jobs.c - the job pool and its persisted records (layout and states: jobs.h).
 *
 * Invariants:
 *  - One mutex (mu) guards the queue, the running list, every active job's
 *    in-memory record and the counters. A record is always written to the
 *    store under mu from the in-memory copy, so writes of one job can never
 *    land out of order and the store holds each job's latest known state.
 *  - A job is in exactly one place: the queue (PENDING), the running list
 *    (RUNNING), or only in the store (finished). The in-memory record of an
 *    active job is authoritative; the stored one lags at most
 *    JOB_PROGRESS_PERSIST_MS of progress behind it.
 *  - counts[] equals the number of stored records in each state.
 */
#include "ingest/jobs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"

#define KEY_JOB 'J'
#define KEY_COUNTER 'C'

static const char *const state_names[JOB_NSTATES] = {"PENDING", "RUNNING", "SUCCEEDED", "FAILED",
                                                     "CANCELLED"};

struct job {
    job_runner *r;
    uint64_t num;
    char id[24];
    json_t *rec; /* guarded by r->mu */
    job_state state;
    job_run_fn run;
    void *arg;
    void (*free_arg)(void *arg);
    job_done_fn on_done;
    void *on_done_arg;
    atomic_bool cancel;
    bool shutdown;            /* cancel came from job_runner_close */
    uint64_t last_persist_ns; /* monotonic */
    job_t *next;              /* queue or running list */
};

struct job_runner {
    store_t *st;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *qhead, *qtail;
    size_t nqueued;
    job_t *running;
    bool stopping;
    uint64_t next_num;
    uint64_t counts[JOB_NSTATES];
    pthread_t *threads;
    int nthreads;
};

const char *job_state_name(job_state s)
{
    return (unsigned)s < JOB_NSTATES ? state_names[s] : "UNKNOWN";
}

int job_state_parse(slice s, job_state *out)
{
    for (int i = 0; i < JOB_NSTATES; i++)
        if (slice_eq_str(s, state_names[i])) {
            *out = (job_state)i;
            return 0;
        }
    return -1;
}

static int state_of(const json_t *rec, job_state *out)
{
    const json_t *s = json_object_get(rec, "state");
    if (!json_is_string(s))
        return -1;
    return job_state_parse((slice){json_string_value(s), json_string_length(s)}, out);
}

static void job_key(buf *k, uint64_t num)
{
    buf_reset(k);
    buf_putc(k, KEY_JOB);
    buf_put_u64be(k, num);
}

static json_t *time_json(int64_t us)
{
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(us, t, sizeof t);
    return json_string(t);
}

static json_t *error_json(const char *code, const char *message)
{
    return json_pack("{s:s,s:s}", "code", code, "message", message);
}

/* A record as the API shows it: internal '_' keys dropped; a deep copy. */
static json_t *render(const json_t *rec)
{
    json_t *out = json_deep_copy(rec);
    STRATA_ASSERT(out != NULL);
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (out, tmp, key, v) {
        if (key[0] == '_')
            json_object_del(out, key);
    }
    return out;
}

static int persist_rec(store_t *st, uint64_t num, const json_t *rec, bool sync, strata_err *err)
{
    buf k = BUF_INIT;
    char *text = json_dumps(rec, JSON_COMPACT);
    STRATA_ASSERT(text != NULL);
    store_batch *b = store_batch_new();
    job_key(&k, num);
    store_batch_put(b, STORE_SPACE_JOBS, buf_slice(&k), slice_of(text));
    int rc = store_batch_commit(st, b, sync, err);
    store_batch_free(b);
    free(text);
    buf_free(&k);
    return rc;
}

/* Under mu. A failed write is logged: the in-memory state goes on, and the
 * next write (at the latest the final one) carries it. */
static void persist(job_t *j, bool sync)
{
    strata_err err = STRATA_ERR_INIT;
    if (persist_rec(j->r->st, j->num, j->rec, sync, &err))
        log_error("job %s: persisting its record failed: %s", j->id, err.message);
    j->last_persist_ns = time_mono_ns();
    err_clear(&err);
}

/* Under mu: change state in the record and the counters. */
static void set_state(job_t *j, job_state s)
{
    j->r->counts[j->state]--;
    j->r->counts[s]++;
    j->state = s;
    json_object_set_new(j->rec, "state", json_string(state_names[s]));
}

static void job_free(job_t *j)
{
    if (!j)
        return;
    if (j->free_arg)
        j->free_arg(j->arg);
    json_decref(j->rec);
    free(j);
}

/* Under mu: unlink j from a list; 1 if it was there. */
static int unlink_job(job_t **head, job_t **tail, job_t *j)
{
    job_t *prev = NULL;
    for (job_t *it = *head; it; prev = it, it = it->next) {
        if (it != j)
            continue;
        if (prev)
            prev->next = it->next;
        else
            *head = it->next;
        if (tail && *tail == it)
            *tail = prev;
        it->next = NULL;
        return 1;
    }
    return 0;
}

/* Outside mu, once the terminal record is stored; j is no longer shared. */
static void notify_done(job_t *j)
{
    if (!j->on_done)
        return;
    json_t *view = render(j->rec);
    j->on_done(j->on_done_arg, j->id, j->state, view);
    json_decref(view);
}

static const char *committed_note(const job_t *j)
{
    const char *note = json_string_value(json_object_get(j->rec, "_committed"));
    return note ? note : "nothing of it was committed";
}

/* ---- the worker ------------------------------------------------------------ */

static void finish(job_t *j, int rc, json_t *result, const strata_err *err)
{
    job_runner *r = j->r;
    char msg[STRATA_ERR_MSG_MAX + 200];
    pthread_mutex_lock(&r->mu);
    unlink_job(&r->running, NULL, j);
    if (result)
        json_object_set(j->rec, "result", result);
    if (rc == 0) {
        set_state(j, JOB_SUCCEEDED);
    } else if (j->shutdown) {
        snprintf(msg, sizeof msg, "stratad shut down while the job was running; %s",
                 committed_note(j));
        json_object_set_new(j->rec, "error", error_json("ABORTED", msg));
        set_state(j, JOB_FAILED);
    } else if (atomic_load(&j->cancel)) {
        json_object_set_new(
            j->rec, "error",
            error_json("CANCELLED", err->message[0] ? err->message : "cancelled by request"));
        set_state(j, JOB_CANCELLED);
    } else {
        json_object_set_new(j->rec, "error",
                            error_json(strata_status_code(rc),
                                       err->message[0] ? err->message : strata_strerror(rc)));
        set_state(j, JOB_FAILED);
    }
    json_object_set_new(j->rec, "end_time", time_json(time_now_us()));
    persist(j, true);
    pthread_mutex_unlock(&r->mu);
    log_info("job %s (%s) %s", j->id, json_string_value(json_object_get(j->rec, "kind")),
             state_names[j->state]);
    notify_done(j);
}

static void *worker(void *arg)
{
    job_runner *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->qhead && !r->stopping)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stopping) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        job_t *j = r->qhead;
        unlink_job(&r->qhead, &r->qtail, j);
        r->nqueued--;
        j->next = r->running;
        r->running = j;
        set_state(j, JOB_RUNNING);
        json_object_set_new(j->rec, "start_time", time_json(time_now_us()));
        persist(j, false);
        pthread_mutex_unlock(&r->mu);

        json_t *result = NULL;
        strata_err err = STRATA_ERR_INIT;
        int rc = j->run(j, j->arg, &result, &err);
        finish(j, rc, result, &err);
        json_decref(result);
        err_clear(&err);
        job_free(j);
    }
    return NULL;
}

/* ---- open / close ------------------------------------------------------------ */

/* Fail what a dead daemon left PENDING or RUNNING; count states; find the
 * counter. One batch, synced. */
static int recover(job_runner *r, strata_err *err)
{
    int rc = 0;
    store_batch *b = store_batch_new();
    store_iter *it = store_iter_open(r->st, STORE_SPACE_JOBS, NULL);
    buf v = BUF_INIT;
    uint64_t max_num = 0, recovered = 0;
    char start[1] = {KEY_JOB};
    char end_time[TIME_RFC3339_MAX];
    time_format_rfc3339(time_now_us(), end_time, sizeof end_time);

    for (store_iter_seek(it, (slice){start, 1}); store_iter_valid(it); store_iter_next(it)) {
        slice key = store_iter_key(it), val = store_iter_value(it);
        if (key.n != 9 || key.p[0] != KEY_JOB)
            break;
        uint64_t num = get_u64be(key.p + 1);
        if (num > max_num)
            max_num = num;
        json_t *rec = json_loadb(val.p, val.n, 0, NULL);
        job_state s;
        if (!rec || state_of(rec, &s)) {
            json_decref(rec);
            log_error("job %llu: its stored record is unreadable; skipped",
                      (unsigned long long)num);
            continue;
        }
        if (s == JOB_PENDING || s == JOB_RUNNING) {
            char msg[STRATA_ERR_MSG_MAX + 100];
            const char *note = json_string_value(json_object_get(rec, "_committed"));
            if (s == JOB_PENDING)
                snprintf(msg, sizeof msg,
                         "stratad restarted before the job started; nothing of it was committed");
            else
                snprintf(msg, sizeof msg, "stratad restarted while the job was running; %s",
                         note ? note : "nothing of it was committed");
            json_object_set_new(rec, "state", json_string(state_names[JOB_FAILED]));
            json_object_set_new(rec, "error", error_json("ABORTED", msg));
            json_object_set_new(rec, "end_time", json_string(end_time));
            char *text = json_dumps(rec, JSON_COMPACT);
            STRATA_ASSERT(text != NULL);
            store_batch_put(b, STORE_SPACE_JOBS, key, slice_of(text));
            free(text);
            s = JOB_FAILED;
            recovered++;
        }
        r->counts[s]++;
        json_decref(rec);
    }
    if ((rc = store_iter_status(it, err)))
        goto out;
    char ck[1] = {KEY_COUNTER};
    rc = store_kv_get(r->st, STORE_SPACE_JOBS, NULL, (slice){ck, 1}, &v, err);
    if (rc == STRATA_NOT_FOUND) {
        rc = 0;
        r->next_num = max_num + 1;
    } else if (rc) {
        goto out;
    } else if (v.n != 8) {
        rc = err_set(err, STRATA_CORRUPT, "jobs: the job counter record is damaged");
        goto out;
    } else {
        r->next_num = get_u64be(v.p);
        if (r->next_num <= max_num) /* never reuse an id, whatever the counter says */
            r->next_num = max_num + 1;
    }
    /* A replica sees the primary's jobs as they are: never rewrites them. */
    if (store_is_read_only(r->st))
        goto out;
    if (store_batch_count(b) && (rc = store_batch_commit(r->st, b, true, err)))
        goto out;
    if (recovered)
        log_warn("jobs: %llu job(s) interrupted by the last shutdown marked FAILED",
                 (unsigned long long)recovered);
out:
    store_iter_close(it);
    store_batch_free(b);
    buf_free(&v);
    return rc;
}

int job_runner_open(store_t *st, int threads, job_runner **out, strata_err *err)
{
    int rc;
    job_runner *r = calloc(1, sizeof *r);
    STRATA_ASSERT(r != NULL);
    r->st = st;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if ((rc = recover(r, err)))
        goto out;
    r->nthreads = threads > 0 ? threads : (int)LIMIT_DEFAULT_JOB_THREADS;
    if (store_is_read_only(st))
        r->nthreads = 0; /* nothing can run on a read-only store */
    r->threads = calloc((size_t)r->nthreads, sizeof *r->threads);
    STRATA_ASSERT(r->threads != NULL);
    for (int i = 0; i < r->nthreads; i++) {
        if (pthread_create(&r->threads[i], NULL, worker, r) != 0) {
            r->nthreads = i;
            rc = err_set(err, STRATA_INTERNAL, "jobs: cannot start worker thread %d", i);
            goto out;
        }
    }
out:
    if (rc) {
        job_runner_close(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

void job_runner_close(job_runner *r)
{
    if (!r)
        return;
    job_t *dropped = NULL;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    while (r->qhead) {
        job_t *j = r->qhead;
        unlink_job(&r->qhead, &r->qtail, j);
        r->nqueued--;
        json_object_set_new(j->rec, "error",
                            error_json("ABORTED", "stratad shut down before the job started; "
                                                  "nothing of it was committed"));
        json_object_set_new(j->rec, "end_time", time_json(time_now_us()));
        set_state(j, JOB_FAILED);
        persist(j, true);
        j->next = dropped;
        dropped = j;
    }
    for (job_t *j = r->running; j; j = j->next) {
        j->shutdown = true;
        atomic_store(&j->cancel, true);
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    while (dropped) {
        job_t *j = dropped;
        dropped = j->next;
        notify_done(j);
        job_free(j);
    }
    for (int i = 0; i < r->nthreads; i++)
        pthread_join(r->threads[i], NULL);
    free(r->threads);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ---- submit, read, cancel ------------------------------------------------- */

int job_submit(job_runner *r, const job_def *def, json_t **job_out, strata_err *err)
{
    int rc = 0;
    job_t *j = calloc(1, sizeof *j);
    STRATA_ASSERT(j != NULL);
    j->r = r;
    j->run = def->run;
    j->arg = def->arg;
    j->free_arg = def->free_arg;
    j->on_done = def->on_done;
    j->on_done_arg = def->on_done_arg;
    j->state = JOB_PENDING;
    json_t *spec = def->spec ? json_deep_copy(def->spec) : json_object();
    STRATA_ASSERT(spec != NULL);
    char now[TIME_RFC3339_MAX];
    time_format_rfc3339(time_now_us(), now, sizeof now);
    /* "id" first for people reading records; its value is set once allocated. */
    j->rec = json_pack(
        "{s:s,s:s,s:s,s:{s:i,s:I,s:s},s:n,s:n,s:n,s:s,s:n,s:n,s:o,s:s,s:b}", "id", "", "kind",
        def->kind, "state", state_names[JOB_PENDING], "progress", "done", 0, "total",
        (json_int_t)def->progress_total, "unit", def->progress_unit ? def->progress_unit : "items",
        "result", "error", "execution_id", "create_time", now, "start_time", "end_time", "spec",
        spec, "principal", def->principal ? def->principal : "anonymous", "cancel_requested", 0);
    STRATA_ASSERT(j->rec != NULL);

    pthread_mutex_lock(&r->mu);
    if (r->stopping) {
        rc = err_set(err, STRATA_UNAVAILABLE, "stratad is shutting down; no new jobs");
    } else if (r->nqueued >= LIMIT_JOB_QUEUE_MAX) {
        rc = err_set(err, STRATA_RESOURCE_EXHAUSTED,
                     "%u jobs are already waiting to run; try again when some have finished",
                     LIMIT_JOB_QUEUE_MAX);
    } else {
        j->num = r->next_num;
        snprintf(j->id, sizeof j->id, "%llu", (unsigned long long)j->num);
        json_object_set_new(j->rec, "id", json_string(j->id));
        /* The record and the advanced counter in one batch. */
        buf k = BUF_INIT;
        char cnt[8];
        char ck[1] = {KEY_COUNTER};
        char *text = json_dumps(j->rec, JSON_COMPACT);
        STRATA_ASSERT(text != NULL);
        store_batch *b = store_batch_new();
        job_key(&k, j->num);
        put_u64be(cnt, j->num + 1);
        store_batch_put(b, STORE_SPACE_JOBS, buf_slice(&k), slice_of(text));
        store_batch_put(b, STORE_SPACE_JOBS, (slice){ck, 1}, (slice){cnt, 8});
        rc = store_batch_commit(r->st, b, false, err);
        store_batch_free(b);
        free(text);
        buf_free(&k);
        if (rc == 0) {
            r->next_num++;
            r->counts[JOB_PENDING]++;
            if (r->qtail)
                r->qtail->next = j;
            else
                r->qhead = j;
            r->qtail = j;
            r->nqueued++;
            if (job_out)
                *job_out = render(j->rec);
            pthread_cond_signal(&r->cv);
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (rc)
        job_free(j);
    return rc;
}

static int parse_id(slice id, uint64_t *num, strata_err *err)
{
    if (text_parse_u64(id, num) || *num == 0) {
        char ex[80];
        text_excerpt(id, ex, sizeof ex);
        return err_set(err, STRATA_NOT_FOUND, "job \"%s\" not found", ex);
    }
    return 0;
}

/* Under mu: the active job with this number, or NULL. */
static job_t *find_active(job_runner *r, uint64_t num)
{
    for (job_t *j = r->qhead; j; j = j->next)
        if (j->num == num)
            return j;
    for (job_t *j = r->running; j; j = j->next)
        if (j->num == num)
            return j;
    return NULL;
}

static int load(job_runner *r, uint64_t num, json_t **rec, strata_err *err)
{
    buf k = BUF_INIT, v = BUF_INIT;
    job_key(&k, num);
    int rc = store_kv_get(r->st, STORE_SPACE_JOBS, NULL, buf_slice(&k), &v, err);
    if (rc == STRATA_NOT_FOUND)
        rc = err_set(err, STRATA_NOT_FOUND, "job \"%llu\" not found", (unsigned long long)num);
    if (rc == 0 && !(*rec = json_loadb(v.p, v.n, 0, NULL)))
        rc = err_set(err, STRATA_CORRUPT, "job \"%llu\": stored record is unreadable",
                     (unsigned long long)num);
    buf_free(&k);
    buf_free(&v);
    return rc;
}

int job_get(job_runner *r, slice id, json_t **out, strata_err *err)
{
    uint64_t num;
    int rc = parse_id(id, &num, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->mu);
    job_t *j = find_active(r, num);
    if (j)
        *out = render(j->rec);
    pthread_mutex_unlock(&r->mu);
    if (j)
        return 0;
    json_t *rec = NULL;
    if ((rc = load(r, num, &rec, err)))
        return rc;
    *out = render(rec);
    json_decref(rec);
    return 0;
}

int job_list(job_runner *r, const char *kind, const job_state *state, slice before, size_t limit,
             json_t *items, buf *next, strata_err *err)
{
    int rc = 0;
    uint64_t from = UINT64_MAX;
    buf k = BUF_INIT;
    /* Parse before resetting next: a caller may pass next's own bytes as before. */
    if (before.n && (text_parse_u64(before, &from) || from == 0))
        return err_set(err, STRATA_INVALID_ARGUMENT, "page_token is malformed");
    buf_reset(next);
    if (before.n && --from == 0)
        return 0;
    store_iter *it = store_iter_open(r->st, STORE_SPACE_JOBS, NULL);
    job_key(&k, from);
    size_t n = 0;
    uint64_t last = 0;
    for (store_iter_seek_prev(it, buf_slice(&k)); store_iter_valid(it); store_iter_prev(it)) {
        slice key = store_iter_key(it), val = store_iter_value(it);
        if (key.n != 9 || key.p[0] != KEY_JOB)
            break;
        json_t *rec = json_loadb(val.p, val.n, 0, NULL);
        job_state s;
        if (!rec || state_of(rec, &s) ||
            (kind &&
             !slice_eq_str(slice_of(json_string_value(json_object_get(rec, "kind"))), kind)) ||
            (state && s != *state)) {
            json_decref(rec);
            continue;
        }
        if (n == limit) { /* one more matches: there is a next page */
            json_decref(rec);
            buf_printf(next, "%llu", (unsigned long long)last);
            break;
        }
        json_array_append_new(items, render(rec));
        json_decref(rec);
        last = get_u64be(key.p + 1);
        n++;
    }
    rc = store_iter_status(it, err);
    store_iter_close(it);
    buf_free(&k);
    return rc;
}

int job_cancel(job_runner *r, slice id, json_t **out, strata_err *err)
{
    uint64_t num;
    int rc = parse_id(id, &num, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->mu);
    job_t *j = find_active(r, num);
    if (j && j->state == JOB_PENDING) {
        unlink_job(&r->qhead, &r->qtail, j);
        r->nqueued--;
        json_object_set_new(j->rec, "cancel_requested", json_true());
        json_object_set_new(j->rec, "error",
                            error_json("CANCELLED", "cancelled by request before it started; "
                                                    "nothing of it was committed"));
        json_object_set_new(j->rec, "end_time", time_json(time_now_us()));
        set_state(j, JOB_CANCELLED);
        persist(j, true);
        if (out)
            *out = render(j->rec);
        pthread_mutex_unlock(&r->mu);
        notify_done(j);
        job_free(j);
        return 0;
    }
    if (j) {
        atomic_store(&j->cancel, true);
        json_object_set_new(j->rec, "cancel_requested", json_true());
        persist(j, false);
        if (out)
            *out = render(j->rec);
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    pthread_mutex_unlock(&r->mu);
    json_t *rec = NULL;
    if ((rc = load(r, num, &rec, err)))
        return rc;
    job_state s = JOB_FAILED;
    state_of(rec, &s);
    rc = err_set(err, STRATA_FAILED_PRECONDITION,
                 "job %llu has already finished (%s); only PENDING or RUNNING jobs can be "
                 "cancelled",
                 (unsigned long long)num, state_names[s]);
    json_decref(rec);
    return rc;
}

void job_counts(job_runner *r, uint64_t out[JOB_NSTATES])
{
    pthread_mutex_lock(&r->mu);
    memcpy(out, r->counts, sizeof r->counts);
    pthread_mutex_unlock(&r->mu);
}

/* ---- for run functions ------------------------------------------------------ */

const char *job_id(const job_t *j)
{
    return j->id;
}

bool job_cancelled(const job_t *j)
{
    return atomic_load(&j->cancel);
}

void job_progress(job_t *j, uint64_t done, uint64_t total)
{
    job_runner *r = j->r;
    pthread_mutex_lock(&r->mu);
    json_t *p = json_object_get(j->rec, "progress");
    json_t *np = json_pack("{s:I,s:I,s:O}", "done", (json_int_t)done, "total", (json_int_t)total,
                           "unit", json_object_get(p, "unit"));
    STRATA_ASSERT(np != NULL);
    json_object_set_new(j->rec, "progress", np);
    if (time_mono_ns() - j->last_persist_ns >= (uint64_t)JOB_PROGRESS_PERSIST_MS * 1000000u)
        persist(j, false);
    pthread_mutex_unlock(&r->mu);
}

void job_checkpoint(job_t *j, const char *note, const json_t *partial_result)
{
    pthread_mutex_lock(&j->r->mu);
    if (note)
        json_object_set_new(j->rec, "_committed", json_string(note));
    if (partial_result)
        json_object_set_new(j->rec, "result", json_deep_copy(partial_result));
    persist(j, false);
    pthread_mutex_unlock(&j->r->mu);
}

void job_set_execution_id(job_t *j, int64_t execution_id)
{
    pthread_mutex_lock(&j->r->mu);
    json_object_set_new(j->rec, "execution_id", json_integer((json_int_t)execution_id));
    pthread_mutex_unlock(&j->r->mu);
}
