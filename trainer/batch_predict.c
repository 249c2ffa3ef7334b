/*
 * batch_predict.c - POST /v1/predictions:batch as a job (docs/trainer.md
 * "Batch prediction").
 *
 * The request is checked and the model version loaded before the job is
 * submitted (404 unknown model/version/alias, 400 bad spec, 403/404/409 the
 * destination's and instances' export checks). The job reads the model's
 * features point in time through the export's historical reader (as training
 * does), fills the prep columns with ds_cols_set and scores them with
 * loaded_model_score (the function online prediction uses), then writes the
 * instance columns + "score" (+ "predicted_label" for classifiers) to a
 * temporary file beside the destination that is renamed (or linked, without
 * overwrite) into place only when complete, as exports do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "trainer/registry.h"
#include "trainer/train_job.h"

#define BP_BATCH 1024
#define BP_FLUSH (1u << 20)

typedef struct bp_arg {
    train_ctx *tc;
    export_plan *plan;
    loaded_model lm;
    export_format format;
    bool overwrite;
    job_t *job;
} bp_arg;

static void bp_arg_free(void *p)
{
    bp_arg *a = p;
    if (!a)
        return;
    export_plan_free(a->plan);
    loaded_model_close(&a->lm);
    free(a);
}

int model_version_parse(const json_t *body, int64_t *ver, const char **alias, strata_err *err)
{
    json_t *jv = json_object_get(body, "version"), *ja = json_object_get(body, "alias");
    *ver = 0;
    *alias = NULL;
    if (jv && ja)
        return err_set(err, STRATA_INVALID_ARGUMENT, "give \"version\" or \"alias\", not both");
    if (jv) {
        if (!json_is_integer(jv) || json_integer_value(jv) < 1)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "field \"version\" must be a positive integer");
        *ver = json_integer_value(jv);
    }
    if (ja) {
        *alias = json_string_value(ja);
        if (!*alias || model_name_check(*alias, err)) {
            err_clear(err);
            *alias = NULL;
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "field \"alias\" must be an alias name ([a-z][a-z0-9_]{0,63})");
        }
    }
    return 0;
}

int batch_predict_submit(train_ctx *tc, const json_t *body, const char *principal, json_t **job_out,
                         strata_err *err)
{
    static const char *const allowed[] = {
        "model",          "version", "alias",  "instances",   "timestamp_column",
        "entity_columns", "as_of",   "format", "destination", NULL};
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)body, k, v) {
        bool ok = false;
        for (const char *const *f = allowed; *f; f++)
            ok |= !strcmp(*f, k);
        if (!ok)
            return err_set(err, STRATA_INVALID_ARGUMENT, "unknown field \"%.64s\"", k);
    }
    const char *model = json_string_value(json_object_get(body, "model"));
    if (!model)
        return err_set(err, STRATA_INVALID_ARGUMENT, "field \"model\" (a model name) is required");
    int rc;
    if ((rc = model_name_check(model, err)))
        return rc;
    int64_t ver = 0;
    const char *alias = NULL;
    if ((rc = model_version_parse(body, &ver, &alias, err)))
        return rc;
    json_t *dest = json_object_get(body, "destination");
    if (!json_is_object(dest) || !json_is_string(json_object_get(dest, "path")))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "field \"destination\" must be an object with a \"path\"");
    json_t *ow = json_object_get(dest, "overwrite");
    if (ow && !json_is_boolean(ow))
        return err_set(err, STRATA_INVALID_ARGUMENT, "destination.overwrite must be a boolean");
    export_format fmt = EXPORT_CSV;
    json_t *jf = json_object_get(body, "format");
    if (jf) {
        const char *fs = json_string_value(jf);
        if (!fs || (strcmp(fs, "csv") && strcmp(fs, "jsonl")))
            return err_set(err, STRATA_INVALID_ARGUMENT, "format must be \"csv\" or \"jsonl\"");
        fmt = !strcmp(fs, "csv") ? EXPORT_CSV : EXPORT_JSONL;
    } else {
        const char *p = json_string_value(json_object_get(dest, "path"));
        size_t n = strlen(p);
        if ((n >= 6 && !strcmp(p + n - 6, ".jsonl")) || (n >= 7 && !strcmp(p + n - 7, ".ndjson")))
            fmt = EXPORT_JSONL;
    }
    bp_arg *a = calloc(1, sizeof *a);
    STRATA_ASSERT(a != NULL);
    a->tc = tc;
    a->format = fmt;
    a->overwrite = json_is_true(ow);
    if ((rc = loaded_model_open(tc->store, model, ver, alias, &a->lm, err)))
        goto fail;
    /* The export's checks: instances, columns, the model's features, as_of,
     * the destination (path rules, 403/404/409). */
    json_t *es = json_object();
    static const char *const pass[] = {"instances", "timestamp_column", "entity_columns",
                                       "as_of",     "destination",      NULL};
    for (const char *const *f = pass; *f; f++)
        if (json_object_get(body, *f))
            json_object_set(es, *f, json_object_get(body, *f));
    json_object_set_new(es, "format", json_string(export_format_name(fmt)));
    json_object_set(es, "features", json_object_get(a->lm.doc, "features"));
    rc = export_plan_parse(tc->exports, EXPORT_HISTORICAL, es, &a->plan, err);
    json_decref(es);
    if (rc)
        goto fail;
    extern int batch_predict_run(job_t *, void *, json_t **, strata_err *);
    job_def d = {.kind = "batch_prediction",
                 .spec = body,
                 .principal = principal,
                 .progress_unit = "rows",
                 .progress_total = 0,
                 .run = batch_predict_run,
                 .arg = a,
                 .free_arg = bp_arg_free};
    return job_submit(tc->jobs, &d, job_out, err);
fail:
    bp_arg_free(a);
    return rc;
}

/* ---- the job -------------------------------------------------------------------------- */

static bool bp_cancelled(void *arg)
{
    return job_cancelled(((bp_arg *)arg)->job);
}

static void bp_progress(void *arg, uint64_t done, uint64_t total)
{
    job_progress(((bp_arg *)arg)->job, done, total);
}

static int write_all(int fd, const char *path, buf *b, strata_err *err)
{
    const char *c = b->p;
    size_t n = b->n;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return err_set(err, STRATA_IO, "writing %s: %s", path,
                           w < 0 ? strerror(errno) : "short write");
        c += w;
        n -= (size_t)w;
    }
    buf_reset(b);
    return 0;
}

static void fsync_parent(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* A batch of rows: pass-through cells copied (their bytes in arena), the
 * model's feature columns. */
typedef struct bp_batch {
    size_t npass, n;
    export_cell *cells; /* npass x BP_BATCH */
    size_t *off;        /* arena offsets of the cells' bytes */
    buf arena;
    ds_cols cols;
    bool cols_init;
} bp_batch;

static int score_flush(bp_arg *a, bp_batch *b, writer *w, buf *out, double *scores, int32_t *lab,
                       export_cell *orow, strata_err *err)
{
    if (b->n == 0)
        return 0;
    int rc = loaded_model_score(&a->lm, &b->cols, scores, err);
    if (rc)
        return rc;
    size_t K = trainer_model_outputs(a->lm.m);
    if (a->lm.task != TRAINER_REGRESSION)
        trainer_labels(a->lm.m, scores, b->n, 0.5, lab);
    json_t *labels = json_object_get(a->lm.doc, "labels");
    for (size_t i = 0; i < b->n; i++) {
        for (size_t c = 0; c < b->npass; c++) {
            orow[c] = b->cells[i * b->npass + c];
            if (orow[c].kind == EXPORT_CELL_TEXT || orow[c].kind == EXPORT_CELL_JSON ||
                orow[c].kind == EXPORT_CELL_VALUE)
                orow[c].s.p = b->arena.p + b->off[i * b->npass + c];
        }
        double sc =
            a->lm.task == TRAINER_MULTICLASS ? scores[i * K + (size_t)lab[i]] : scores[i * K];
        orow[b->npass] = (export_cell){.kind = EXPORT_CELL_DOUBLE, .d = sc};
        if (a->lm.task != TRAINER_REGRESSION) {
            json_t *l = json_array_get(labels, (size_t)lab[i]);
            orow[b->npass + 1] =
                l ? (export_cell){.kind = EXPORT_CELL_TEXT,
                                  .s = {json_string_value(l), json_string_length(l)}}
                  : (export_cell){.kind = EXPORT_CELL_NONE};
        }
        if (writer_row(w, orow, out))
            return err_set(err, STRATA_INTERNAL, "a stored value does not decode");
    }
    b->n = 0;
    buf_reset(&b->arena);
    ds_cols_free(&b->cols);
    b->cols_init = false;
    return 0;
}

int batch_predict_run(job_t *j, void *arg, json_t **result, strata_err *err);
int batch_predict_run(job_t *j, void *arg, json_t **result, strata_err *err)
{
    bp_arg *a = arg;
    a->job = j;
    export_reader *r = NULL;
    writer *w = NULL;
    bp_batch b = {0};
    buf out = BUF_INIT;
    double *scores = NULL;
    int32_t *lab = NULL;
    export_cell *orow = NULL;
    slice *names = NULL;
    int fd = -1, rc;
    uint64_t rows = 0;
    char tmp[4300];
    const char *dest = export_plan_destination(a->plan);
    const char *slash = strrchr(dest, '/');
    snprintf(tmp, sizeof tmp, "%.*s/.%s.strata-tmp-%s", (int)(slash - dest), dest, slash + 1,
             job_id(j));
    export_reader_options ro = {.cancelled = bp_cancelled, .progress = bp_progress, .arg = a};
    if ((rc = export_reader_open(a->tc->exports, a->plan, &ro, &r, err)))
        goto out;
    const export_schema *s = export_reader_schema(r);
    bool cls = a->lm.task != TRAINER_REGRESSION;
    size_t nout = s->npassthrough + (cls ? 2 : 1);
    names = calloc(nout, sizeof *names);
    STRATA_ASSERT(names);
    for (size_t i = 0; i < s->npassthrough; i++) {
        names[i] = s->names[i];
        if (slice_eq_str(names[i], "score") || (cls && slice_eq_str(names[i], "predicted_label"))) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "the instances have a column \"%.*s\", which the prediction output "
                         "adds; rename it",
                         (int)names[i].n, names[i].p);
            goto out;
        }
    }
    names[s->npassthrough] = slice_of("score");
    if (cls)
        names[s->npassthrough + 1] = slice_of("predicted_label");
    w = writer_open(a->format, names, nout);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        rc = err_set(err, STRATA_IO, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    writer_begin(w, &out);
    size_t K = trainer_model_outputs(a->lm.m);
    b.npass = s->npassthrough;
    b.cells = calloc(b.npass * BP_BATCH + 1, sizeof *b.cells);
    b.off = calloc(b.npass * BP_BATCH + 1, sizeof *b.off);
    scores = calloc(BP_BATCH * K + 1, sizeof *scores);
    lab = calloc(BP_BATCH + 1, sizeof *lab);
    orow = calloc(nout, sizeof *orow);
    STRATA_ASSERT(b.cells && b.off && scores && lab && orow);
    const export_cell *row;
    for (;;) {
        int nr = export_reader_next(r, &row, err);
        if (nr < 0) {
            rc = nr;
            goto out;
        }
        if (nr == 0)
            break;
        if (!b.cols_init) {
            if ((rc = loaded_model_columns(&a->lm, &b.cols, err)))
                goto out;
            b.cols_init = true;
        }
        size_t i = ds_cols_add_row(&b.cols);
        for (size_t c = 0; c < b.npass; c++) {
            export_cell cell = row[c];
            b.off[b.n * b.npass + c] = b.arena.n;
            if (cell.kind == EXPORT_CELL_TEXT || cell.kind == EXPORT_CELL_JSON ||
                cell.kind == EXPORT_CELL_VALUE)
                buf_append(&b.arena, cell.s.p, cell.s.n);
            cell.s.p = NULL;
            b.cells[b.n * b.npass + c] = cell;
        }
        for (size_t f = 0; f < s->nfeatures; f++) {
            const export_cell *c = &row[s->feature_col[f]];
            slice enc = c->kind == EXPORT_CELL_VALUE ? c->s : (slice){NULL, 0};
            if ((rc = ds_cols_set(&b.cols, i, f, enc, err)))
                goto out;
        }
        b.n++;
        rows++;
        if (b.n == BP_BATCH) {
            if ((rc = score_flush(a, &b, w, &out, scores, lab, orow, err)))
                goto out;
            if (out.n >= BP_FLUSH && (rc = write_all(fd, tmp, &out, err)))
                goto out;
        }
    }
    if ((rc = score_flush(a, &b, w, &out, scores, lab, orow, err)) ||
        (rc = write_all(fd, tmp, &out, err)))
        goto out;
    if (job_cancelled(j)) {
        rc = err_set(err, STRATA_UNAVAILABLE, "the batch prediction was cancelled");
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = err_set(err, STRATA_IO, "syncing %s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (a->overwrite) {
        if (rename(tmp, dest) != 0) {
            rc = err_set(err, STRATA_IO, "moving the predictions into place at %s: %s", dest,
                         strerror(errno));
            goto out;
        }
    } else {
        if (link(tmp, dest) != 0) {
            rc = errno == EEXIST
                     ? err_set(err, STRATA_ALREADY_EXISTS,
                               "%s appeared while the job ran; it was left alone (set "
                               "destination.overwrite to replace it)",
                               dest)
                     : err_set(err, STRATA_IO, "moving the predictions into place at %s: %s", dest,
                               strerror(errno));
            goto out;
        }
        unlink(tmp);
    }
    fsync_parent(dest);
    json_t *cols = json_array();
    for (size_t i = 0; i < nout; i++)
        json_array_append_new(cols, json_stringn(names[i].p, names[i].n));
    *result = json_pack("{s:O,s:O,s:s,s:s,s:I,s:o}", "model", json_object_get(a->lm.doc, "model"),
                        "version", json_object_get(a->lm.doc, "version"), "format",
                        export_format_name(a->format), "path", dest, "rows", (json_int_t)rows,
                        "columns", cols);
    job_progress(j, rows, rows);
out:
    if (fd >= 0)
        close(fd);
    if (rc && fd != -2)
        unlink(tmp);
    if (b.cols_init)
        ds_cols_free(&b.cols);
    free(b.cells);
    free(b.off);
    buf_free(&b.arena);
    buf_free(&out);
    free(scores);
    free(lab);
    free(orow);
    free(names);
    writer_close(w);
    export_reader_close(r);
    return rc;
}
