/*
 * export_run.c - running exports: into a stream (the HTTP answer) or, as a
 * job, into a file under the export directory; and recording each in the
 * lineage graph.
 *
 * Both ways drive the same loop: reader rows → writer → 256 KiB buffer →
 * sink, with a running SHA-256 and byte count of exactly what left.
 *
 * Files: the job writes "<dir>/.<name>.strata-tmp-<job>" (O_EXCL, never
 * following a symlink), fsyncs it, and only then moves it into place:
 * link() when the destination must not exist (so a file that appeared
 * meanwhile is never clobbered), rename() with overwrite. Any failure,
 * cancel or shutdown unlinks the temporary file; a crash leaves it to the
 * sweep at the next start (export.c). The destination therefore only ever
 * holds a complete export.
 *
 * Lineage: one Export execution per export (COMPLETE, FAILED or CANCELED)
 * with the feature refs, as_of, instance source, format and rows; the
 * instances as a SourceFile input (found by content digest, as imports do);
 * the newest FeatureSets that imports wrote for each entity before the
 * cut-off (as_of, else now) as inputs, so provenance can walk back to the
 * imported files; and, when it completed, a Dataset output with uri, sha256,
 * rows, bytes and columns. Streams are named "export-stream-<µs>-<n>" and
 * their Dataset's uri is "stream:<that name>"; jobs are "export-<job>".
 */
#include "ingest/export_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "lineage/lineage.h"

#define OUT_FLUSH ((size_t)256 << 10)

/*
 * The rows are formatted into `out`; every OUT_FLUSH bytes they are written
 * and hashed. Jobs do that on a writer thread of their own (`threaded`):
 * `out` and `back` are swapped, so the reader goes on assembling rows while
 * the previous OUT_FLUSH bytes are hashed and written, in order (one buffer
 * in flight). A failed write is reported at the next hand-over.
 */
typedef struct drive {
    export_reader *r;
    writer *w;
    buf out;
    EVP_MD_CTX *md;
    uint64_t bytes, rows;
    int (*write)(void *arg, const void *p, size_t n);
    void *arg;
    char sha[65];
    /* threaded: the writer thread's side */
    bool threaded, started;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    buf back;    /* bytes handed to the writer thread */
    bool full;   /* back holds bytes not yet written */
    bool ending; /* no more bytes will come */
    bool failed; /* a write failed: the sink set its error */
    strata_err *werr; /* threaded: the sink's own error, moved to err on failure */
} drive;

/* Write and hash one buffer, in order. */
static int drive_put(drive *d, const buf *b)
{
    if (d->write(d->arg, b->p, b->n))
        return -1;
    EVP_DigestUpdate(d->md, b->p, b->n);
    d->bytes += b->n;
    return 0;
}

static void *drive_thread(void *arg)
{
    drive *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->full && !d->ending)
            pthread_cond_wait(&d->cv, &d->mu);
        if (!d->full)
            break;
        pthread_mutex_unlock(&d->mu);
        int rc = d->failed ? -1 : drive_put(d, &d->back); /* back is ours while full */
        pthread_mutex_lock(&d->mu);
        d->failed |= rc != 0;
        buf_reset(&d->back);
        d->full = false;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static int write_failed(drive *d, strata_err *err)
{
    if (d->werr && d->werr->code && !err->code) {
        *err = *d->werr;
        d->werr->details = NULL;
    }
    return err->code ? err->code
                     : err_set(err, STRATA_UNAVAILABLE, "the export's output was closed");
}

static int drive_flush(drive *d, strata_err *err)
{
    if (!d->out.n)
        return 0;
    if (!d->started) {
        if (drive_put(d, &d->out))
            return write_failed(d, err);
        buf_reset(&d->out);
        return 0;
    }
    pthread_mutex_lock(&d->mu);
    while (d->full)
        pthread_cond_wait(&d->cv, &d->mu);
    bool failed = d->failed;
    if (!failed) {
        buf t = d->back;
        d->back = d->out;
        d->out = t;
        d->full = true;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return failed ? write_failed(d, err) : 0;
}

/* Stop the writer thread after what it holds; nonzero when a write failed. */
static bool drive_join(drive *d)
{
    if (!d->started)
        return false;
    pthread_mutex_lock(&d->mu);
    d->ending = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->th, NULL);
    d->started = false;
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    return d->failed;
}

static int drive_run(drive *d, strata_err *err)
{
    int rc;
    const export_schema *s = export_reader_schema(d->r);
    const export_cell *row;
    d->md = EVP_MD_CTX_new();
    STRATA_ASSERT(d->md && EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) == 1);
    if (d->threaded) {
        pthread_mutex_init(&d->mu, NULL);
        pthread_cond_init(&d->cv, NULL);
        d->started = pthread_create(&d->th, NULL, drive_thread, d) == 0;
        if (!d->started) {
            pthread_mutex_destroy(&d->mu);
            pthread_cond_destroy(&d->cv);
        }
    }
    writer_begin(d->w, &d->out);
    while ((rc = export_reader_next(d->r, &row, err)) == 1) {
        if (writer_row(d->w, row, &d->out)) {
            rc = err_set(err, STRATA_CORRUPT, "row %llu holds a stored value that does not decode",
                         (unsigned long long)d->rows + 1);
            break;
        }
        d->rows++;
        (void)s;
        if (d->out.n >= OUT_FLUSH && (rc = drive_flush(d, err)))
            break;
    }
    if (rc == 0)
        rc = drive_flush(d, err);
    if (drive_join(d) && rc == 0)
        rc = write_failed(d, err);
    if (rc)
        return rc;
    unsigned char md[32];
    unsigned mdn = 0;
    EVP_DigestFinal_ex(d->md, md, &mdn);
    for (unsigned i = 0; i < 32; i++)
        snprintf(d->sha + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static void drive_free(drive *d)
{
    drive_join(d);
    writer_close(d->w);
    buf_free(&d->out);
    buf_free(&d->back);
    EVP_MD_CTX_free(d->md);
}

static writer *writer_for(export_reader *r, export_format f)
{
    const export_schema *s = export_reader_schema(r);
    return writer_open(f, s->names, s->ncols);
}

/* ---- lineage -------------------------------------------------------------------------- */

typedef struct outcome {
    const char *state; /* COMPLETE, FAILED, CANCELED */
    const char *name;
    const char *uri;    /* the Dataset's uri */
    const char *job_id; /* NULL for streams */
    uint64_t rows, bytes;
    const char *sha; /* of the output; NULL when it did not complete */
    const export_reader *r;
} outcome;

static const char *kind_name(export_kind k)
{
    return k == EXPORT_HISTORICAL ? "historical" : k == EXPORT_SNAPSHOT ? "snapshot" : "history";
}

static json_t *time_json(int64_t t)
{
    char b[TIME_RFC3339_MAX];
    time_format_rfc3339(t, b, sizeof b);
    return json_string(b);
}

/* FeatureSets imports wrote for the plan's entities before the cut-off. */
static void feature_set_inputs(export_ctx *x, const export_plan *p, lineage_artifact_ref **refs,
                               size_t *n)
{
    int64_t cutoff = p->has_as_of ? p->as_of : time_now_us();
    char when[TIME_RFC3339_MAX];
    time_format_rfc3339(cutoff, when, sizeof when);
    for (size_t e = 0; e < p->nents; e++) {
        char text[256];
        snprintf(text, sizeof text, "properties.entity.string_value = '%s' AND create_time <= '%s'",
                 p->ents[e].name, when);
        lfilter *f = NULL;
        strata_err ferr = STRATA_ERR_INIT;
        json_t *items = json_array();
        buf next = BUF_INIT;
        if (lfilter_parse(slice_of(text), &f, &ferr) == 0) {
            lineage_query q = {.type = SLICE_LIT("FeatureSet"),
                               .filter = f,
                               .order = LINEAGE_ORDER_CREATE_TIME,
                               .desc = true,
                               .limit = LIMIT_EXPORT_LINEAGE_SETS};
            if (lineage_node_list(x->lineage, LINEAGE_ARTIFACT, &q, items, &next, &ferr))
                log_warn("export lineage: listing the feature sets of %s: %s", p->ents[e].name,
                         ferr.message);
        }
        size_t i;
        json_t *it;
        json_array_foreach (items, i, it) {
            lineage_artifact_ref *nr = realloc(*refs, (*n + 1) * sizeof *nr);
            STRATA_ASSERT(nr != NULL);
            *refs = nr;
            nr[*n] =
                (lineage_artifact_ref){.id = (int64_t)json_integer_value(json_object_get(it, "id")),
                                       .path_key = "features"};
            (*n)++;
        }
        lfilter_free(f);
        json_decref(items);
        buf_free(&next);
        err_clear(&ferr);
    }
}

static int record_lineage(export_ctx *x, const export_plan *p, const outcome *o, int64_t *exec_id,
                          strata_err *err)
{
    if (!x->lineage)
        return 0;
    int rc;
    export_reader_stats st = {0};
    if (o->r)
        export_reader_get_stats(o->r, &st);
    json_t *ex_props = json_object(), *custom = json_object(), *src_props = NULL;
    json_t *ds_props = NULL, *columns = json_array();
    lineage_artifact_ref *ins = NULL;
    size_t nins = 0;
    char srcname[80], source[4200];

    if (p->kind == EXPORT_HISTORICAL) {
        if (p->fd >= 0)
            snprintf(source, sizeof source, "%s", p->uri);
        else
            snprintf(source, sizeof source, "inline:sha256:%s", st.instances_sha256);
    } else {
        snprintf(source, sizeof source, "strata://entities/%s", p->ents[0].name);
    }
    json_object_set(ex_props, "feature_refs", p->refs);
    if (p->has_as_of)
        json_object_set_new(ex_props, "as_of", time_json(p->as_of));
    json_object_set_new(ex_props, "instance_source", json_string(source));
    json_object_set_new(ex_props, "format", json_string(export_format_name(p->format)));
    json_object_set_new(ex_props, "rows", json_integer((json_int_t)o->rows));
    if (o->job_id)
        json_object_set_new(ex_props, "job_id", json_string(o->job_id));
    json_object_set_new(custom, "kind", json_string(kind_name(p->kind)));
    json_object_set_new(custom, "bytes", json_integer((json_int_t)o->bytes));
    json_object_set_new(custom, "started", time_json(p->created_at));
    if (p->kind == EXPORT_SNAPSHOT)
        json_object_set_new(custom, "snapshot_time", time_json(p->snapshot_time));
    if (p->kind == EXPORT_HISTORY) {
        if (p->start_time != INT64_MIN)
            json_object_set_new(custom, "start_time", time_json(p->start_time));
        if (p->end_time != INT64_MAX)
            json_object_set_new(custom, "end_time", time_json(p->end_time));
    }
    if (p->kind == EXPORT_HISTORICAL && st.instances_sha256[0]) {
        json_object_set_new(custom, "instances_sha256", json_string(st.instances_sha256));
        json_object_set_new(custom, "instance_rows", json_integer((json_int_t)st.instance_rows));
        src_props = json_pack("{s:s,s:s,s:I,s:I}", "format", p->jsonl ? "jsonl" : "csv", "sha256",
                              st.instances_sha256, "bytes", (json_int_t)st.instances_bytes, "rows",
                              (json_int_t)st.instance_rows);
        snprintf(srcname, sizeof srcname, "sha256:%s", st.instances_sha256);
        ins = calloc(1, sizeof *ins);
        STRATA_ASSERT(ins != NULL);
        ins[0] = (lineage_artifact_ref){.type = "SourceFile",
                                        .name = srcname,
                                        .uri = p->uri,
                                        .properties = src_props,
                                        .path_key = "instances"};
        nins = 1;
    }
    feature_set_inputs(x, p, &ins, &nins);
    if (o->r) {
        const export_schema *s = export_reader_schema(o->r);
        for (size_t i = 0; i < s->ncols; i++)
            json_array_append_new(columns, json_stringn(s->names[i].p, s->names[i].n));
    }
    ds_props = json_pack("{s:s,s:I,s:I,s:s,s:O,s:O}", "format", export_format_name(p->format),
                         "rows", (json_int_t)o->rows, "bytes", (json_int_t)o->bytes, "sha256",
                         o->sha ? o->sha : "", "columns", columns, "feature_refs", p->refs);
    STRATA_ASSERT(ex_props && custom && ds_props);
    if (p->has_as_of)
        json_object_set_new(ds_props, "as_of", time_json(p->as_of));
    lineage_artifact_ref outa = {
        .type = "Dataset", .uri = o->uri, .properties = ds_props, .path_key = "dataset"};
    lineage_run run = {.execution_type = "Export",
                       .name = o->name,
                       .state = o->state,
                       .properties = ex_props,
                       .custom_properties = custom,
                       .inputs = ins,
                       .ninputs = nins,
                       .outputs = &outa,
                       .noutputs = o->sha ? 1 : 0};
    lineage_run_ids ids = {0};
    rc = lineage_record_run(x->lineage, &run, &ids, err);
    if (rc == 0 && exec_id)
        *exec_id = ids.execution_id;
    free(ins);
    json_decref(ex_props);
    json_decref(custom);
    json_decref(src_props);
    json_decref(ds_props);
    json_decref(columns);
    return rc;
}

static void log_summary(const char *name, const export_reader *r, const drive *d, uint64_t ns)
{
    export_reader_stats st;
    export_reader_get_stats(r, &st);
    log_info("%s: %llu rows, %llu bytes in %llu ms (instances %llu ms, lookups %llu ms, %llu "
             "looked up), %llu bytes spilled in %llu runs",
             name, (unsigned long long)d->rows, (unsigned long long)d->bytes,
             (unsigned long long)(ns / 1000000), (unsigned long long)st.read_ms,
             (unsigned long long)st.join_ms, (unsigned long long)st.lookups,
             (unsigned long long)st.spilled_bytes, (unsigned long long)st.runs);
}

/* ---- streams ---------------------------------------------------------------------------- */

int export_stream(export_ctx *x, export_plan *p, const export_sink *sink, bool *started,
                  strata_err *err)
{
    int rc;
    export_reader *r = NULL;
    drive d = {0};
    *started = false;
    uint64_t t0 = time_mono_ns();
    export_reader_options ro = {.cancelled = sink->cancelled, .arg = sink->arg};
    if ((rc = export_reader_open(x, p, &ro, &r, err)))
        return rc;
    if (sink->start(sink->arg, p->format)) {
        rc = err_set(err, STRATA_UNAVAILABLE, "the client went away before the export started");
        goto out;
    }
    *started = true;
    d.r = r;
    d.w = writer_for(r, p->format);
    d.write = sink->write;
    d.arg = sink->arg;
    rc = drive_run(&d, err);
    char name[96], uri[112];
    snprintf(name, sizeof name, "export-stream-%lld-%llu", (long long)p->created_at,
             (unsigned long long)atomic_fetch_add(&x->stream_seq, 1) + 1);
    snprintf(uri, sizeof uri, "stream:%s", name);
    outcome o = {.state = rc == 0 ? "COMPLETE" : "FAILED",
                 .name = name,
                 .uri = uri,
                 .rows = d.rows,
                 .bytes = d.bytes,
                 .sha = rc == 0 ? d.sha : NULL,
                 .r = r};
    log_summary(name, r, &d, time_mono_ns() - t0);
    strata_err lerr = STRATA_ERR_INIT;
    if (record_lineage(x, p, &o, NULL, &lerr))
        log_warn("%s: recording the export in lineage failed: %s", name, lerr.message);
    err_clear(&lerr);
    if (rc)
        log_warn("%s: the streamed export failed after %llu rows: %s", name,
                 (unsigned long long)d.rows, err ? err->message : "");
out:
    drive_free(&d);
    export_reader_close(r);
    return rc;
}

/* ---- jobs ---------------------------------------------------------------------------------- */

typedef struct file_sink {
    int fd;
    const char *path;
    strata_err *err;
} file_sink;

static int file_write(void *arg, const void *p, size_t n)
{
    file_sink *f = arg;
    const char *c = p;
    while (n) {
        ssize_t w = write(f->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err_set(f->err, STRATA_IO, "writing %s: %s", f->path,
                    w < 0 ? strerror(errno) : "short write");
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static bool job_cancel_cb(void *arg)
{
    return job_cancelled(arg);
}

static void job_progress_cb(void *arg, uint64_t done, uint64_t total)
{
    job_progress(arg, done, total);
}

/* A historical export passes over its instances three times (read, look up,
 * write) and its reader counts rows x passes; the job's unit is rows (one per
 * instance), so it shows the three passes as a third each. */
static void job_progress_passes_cb(void *arg, uint64_t done, uint64_t total)
{
    job_progress(arg, done / 3, total / 3);
}

/* Whether the destination's directory (descriptor dfd) still lies in the
 * export directory: 0, or PERMISSION_DENIED. */
static int dest_dir_inside(int dfd, const char *dirpath, const char *export_dir, strata_err *err)
{
    int inside = ingest_fd_inside(dfd, export_dir, true);
    if (inside == 1)
        return 0;
    return err_set(err, STRATA_PERMISSION_DENIED,
                   inside < 0 ? "cannot confirm that the destination directory %s lies inside the "
                                "export directory %s (/proc/self/fd could not be read); nothing "
                                "was written"
                              : "the destination directory %s is no longer inside the export "
                                "directory %s (replaced by a symlink or moved?); nothing was "
                                "written",
                   dirpath, export_dir);
}

static void plan_free_cb(void *arg)
{
    export_plan_free(arg);
}

static int export_job_run(job_t *j, void *arg, json_t **result, strata_err *err)
{
    export_plan *p = arg;
    export_ctx *x = p->x;
    int rc, fd = -1, dfd = -1, sfd;
    bool tmp_made = false;
    export_reader_options ro = {.cancelled = job_cancel_cb,
                                .progress = p->kind == EXPORT_HISTORICAL ? job_progress_passes_cb
                                                                         : job_progress_cb,
                                .arg = j};
    export_reader *r = NULL;
    drive d = {0};
    strata_err werr = STRATA_ERR_INIT;
    char tmp[8704], tmpname[4352], dirpath[4200], name[96], uri[4200];
    uint64_t t0 = time_mono_ns();
    const char *slash = strrchr(p->dest, '/');
    const char *base = slash + 1;
    snprintf(dirpath, sizeof dirpath, "%.*s", slash == p->dest ? 1 : (int)(slash - p->dest),
             p->dest);
    snprintf(tmpname, sizeof tmpname, ".%s.strata-tmp-%s", base, job_id(j));
    snprintf(tmp, sizeof tmp, "%.*s/%s", (int)(slash - p->dest), p->dest, tmpname);
    snprintf(name, sizeof name, "export-%s", job_id(j));
    snprintf(uri, sizeof uri, "file://%s", p->dest);

    /* The destination was checked by name when the request came; the job runs
     * later. Everything from here goes through one descriptor of its directory,
     * checked for where it really is (now, and again before the file is moved
     * into place), so a directory replaced by a symlink or moved away meanwhile
     * cannot take the file outside the export directory. O_PATH: creating,
     * renaming and linking in it need no read permission on it. */
    dfd = open(dirpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = err_set(err, STRATA_IO, "cannot open the destination directory %s: %s", dirpath,
                     strerror(errno));
        goto out;
    }
    if ((rc = dest_dir_inside(dfd, dirpath, x->export_dir, err)))
        goto out;
    if ((rc = export_reader_open(x, p, &ro, &r, err)))
        goto out;
    fd = openat(dfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        rc = err_set(err, STRATA_IO, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    tmp_made = true;
    file_sink fs = {fd, tmp, &werr};
    d.r = r;
    d.w = writer_for(r, p->format);
    d.write = file_write;
    d.arg = &fs;
    d.threaded = true; /* hash and write() beside the reader */
    d.werr = &werr;
    if ((rc = drive_run(&d, err)))
        goto out;
    if (job_cancelled(j)) {
        rc = err_set(err, STRATA_UNAVAILABLE, "the export was cancelled");
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = err_set(err, STRATA_IO, "syncing %s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if ((rc = dest_dir_inside(dfd, dirpath, x->export_dir, err)))
        goto out;
    if (p->overwrite) {
        if (renameat(dfd, tmpname, dfd, base) != 0) {
            rc = err_set(err, STRATA_IO, "moving the export into place at %s: %s", p->dest,
                         strerror(errno));
            goto out;
        }
    } else {
        if (linkat(dfd, tmpname, dfd, base, 0) != 0) {
            rc = errno == EEXIST
                     ? err_set(err, STRATA_ALREADY_EXISTS,
                               "%s appeared while the export ran; it was left alone (set "
                               "destination.overwrite to replace it)",
                               p->dest)
                     : err_set(err, STRATA_IO, "moving the export into place at %s: %s", p->dest,
                               strerror(errno));
            goto out;
        }
        unlinkat(dfd, tmpname, 0);
    }
    tmp_made = false;
    sfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* best effort */
    if (sfd >= 0) {
        fsync(sfd);
        close(sfd);
    }
    log_summary(name, r, &d, time_mono_ns() - t0);
out:
    if (fd >= 0)
        close(fd);
    if (tmp_made)
        unlinkat(dfd, tmpname, 0);
    if (dfd >= 0)
        close(dfd);
    job_progress(j, d.rows, rc == 0 && p->kind == EXPORT_HISTORICAL ? d.rows : 0);
    export_reader_stats st = {0};
    if (r)
        export_reader_get_stats(r, &st);
    outcome o = {.state = rc == 0            ? "COMPLETE"
                          : job_cancelled(j) ? "CANCELED"
                                             : "FAILED",
                 .name = name,
                 .uri = uri,
                 .job_id = job_id(j),
                 .rows = d.rows,
                 .bytes = d.bytes,
                 .sha = rc == 0 ? d.sha : NULL,
                 .r = r};
    int64_t exec_id = 0;
    strata_err lerr = STRATA_ERR_INIT;
    if (r || rc == 0) {
        if (record_lineage(x, p, &o, &exec_id, &lerr))
            log_warn("job %s: recording the export in lineage failed: %s", job_id(j), lerr.message);
        else if (exec_id)
            job_set_execution_id(j, exec_id);
    }
    json_t *res =
        json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "kind", kind_name(p->kind), "format",
                  export_format_name(p->format), "path", p->dest, "rows", (json_int_t)d.rows,
                  "bytes", (json_int_t)d.bytes, "lookups", (json_int_t)st.lookups, "spilled_bytes",
                  (json_int_t)st.spilled_bytes, "sort_runs", (json_int_t)st.runs, "duration_ms",
                  (json_int_t)((time_mono_ns() - t0) / 1000000));
    STRATA_ASSERT(res != NULL);
    if (rc == 0) {
        json_object_set_new(res, "uri", json_string(uri));
        json_object_set_new(res, "sha256", json_string(d.sha));
    }
    if (p->kind == EXPORT_HISTORICAL && r) {
        json_object_set_new(res, "instance_rows", json_integer((json_int_t)st.instance_rows));
        json_object_set_new(res, "instances_sha256", json_string(st.instances_sha256));
        json_object_set_new(res, "instances_ms", json_integer((json_int_t)st.read_ms));
        json_object_set_new(res, "lookups_ms", json_integer((json_int_t)st.join_ms));
    }
    if (r) {
        json_t *cols = json_array();
        const export_schema *s = export_reader_schema(r);
        for (size_t i = 0; i < s->ncols; i++)
            json_array_append_new(cols, json_stringn(s->names[i].p, s->names[i].n));
        json_object_set_new(res, "columns", cols);
    }
    if (exec_id)
        json_object_set_new(res, "execution_id", json_integer((json_int_t)exec_id));
    if (lerr.code)
        json_object_set_new(res, "lineage_error", json_string(lerr.message));
    err_clear(&lerr);
    *result = res;
    drive_free(&d);
    err_clear(&werr);
    export_reader_close(r);
    return rc;
}

int export_submit(export_ctx *x, export_plan *p, const char *principal, json_t **job_out,
                  strata_err *err)
{
    if (!p->dest) {
        export_plan_free(p);
        return err_set(err, STRATA_INVALID_ARGUMENT, "an export job needs a destination");
    }
    job_def def = {.kind = "export",
                   .spec = p->spec,
                   .principal = principal,
                   .progress_unit = "rows",
                   .progress_total = 0,
                   .run = export_job_run,
                   .arg = p,
                   .free_arg = plan_free_cb};
    (void)x;
    return job_submit(x->jobs, &def, job_out, err);
}
