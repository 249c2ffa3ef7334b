/*
 * cli_jobs.c - `strata jobs list|show|cancel`, and the pieces every command
 * that starts a job shares: waiting for it with a progress bar, and printing
 * its outcome (cli_job_wait, cli_job_print).
 *
 * A job that ends FAILED or CANCELLED is a failure of the command that waited
 * for it: exit 1 with the job's error as the one-line reason.
 */
#include "client/cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/text.h"
#include "client/progress.h"

#define WAIT_FIRST_MS 100
#define WAIT_MAX_MS 1000
#define SHOW_REJECTS 10

static int get_job(cli_ctx *ctx, strata_client *c, const char *id, json_t **job)
{
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    buf path = BUF_INIT;
    int rc = CLI_EXIT_OK;
    buf_append_str(&path, "/v1/jobs/");
    strata_escape(&path, slice_of(id));
    int st = strata_request_json(c, "GET", path.p, NULL, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
    } else if (!json_is_object(json_object_get(resp, "job"))) {
        rc = cli_fail(ctx, CLI_EXIT_SERVER, "stratad's answer has no \"job\" object");
    } else {
        *job = json_incref(json_object_get(resp, "job"));
    }
    json_decref(resp);
    buf_free(&path);
    err_clear(&err);
    return rc;
}

int cli_job_submit(cli_ctx *ctx, strata_client *c, const char *path, const json_t *body,
                   json_t **resp, const char **id)
{
    strata_err err = STRATA_ERR_INIT;
    int rc = 0;
    int st = strata_request_json(c, "POST", path, body, resp, &err);
    if (st)
        rc = cli_fail_status(ctx, st, &err);
    else if (!(*id = json_string_value(json_object_get(json_object_get(*resp, "job"), "id"))))
        rc = cli_fail(ctx, CLI_EXIT_SERVER, "stratad's answer has no job id");
    err_clear(&err);
    return rc;
}

static bool terminal(const char *state)
{
    return state && (strcmp(state, "SUCCEEDED") == 0 || strcmp(state, "FAILED") == 0 ||
                     strcmp(state, "CANCELLED") == 0);
}

static uint64_t juint(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

int cli_job_wait(cli_ctx *ctx, strata_client *c, const char *id, const char *label, json_t **final)
{
    int rc = CLI_EXIT_OK;
    json_t *job = NULL;
    progress *bar = NULL;
    long delay_ms = WAIT_FIRST_MS;
    *final = NULL;
    for (;;) {
        json_decref(job);
        job = NULL;
        if ((rc = get_job(ctx, c, id, &job)))
            goto out;
        const char *state = json_string_value(json_object_get(job, "state"));
        const json_t *pr = json_object_get(job, "progress");
        const char *unit = json_string_value(json_object_get(pr, "unit"));
        if (!bar && !terminal(state))
            bar = progress_open(stderr, label, unit && strcmp(unit, "bytes") == 0 ? "B" : "items",
                                juint(json_object_get(pr, "total")));
        progress_set_total(bar, juint(json_object_get(pr, "total")));
        progress_update(bar, juint(json_object_get(pr, "done")));
        if (terminal(state))
            break;
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (delay_ms < WAIT_MAX_MS)
            delay_ms = delay_ms * 3 / 2;
    }
    *final = job;
    job = NULL;
out:
    progress_close(bar);
    json_decref(job);
    return rc;
}

/* "1.5 s" / "320 ms" */
static void duration(buf *b, uint64_t ms)
{
    if (ms >= 1000)
        buf_printf(b, "%.1f s", (double)ms / 1000.0);
    else
        buf_printf(b, "%" PRIu64 " ms", ms);
}

/* The import result in a few lines. */
static void print_import_result(const json_t *r)
{
    buf b = BUF_INIT;
    buf_printf(&b,
               "rows read %" PRIu64 ", imported %" PRIu64 ", rejected %" PRIu64
               "; values written %" PRIu64 " (",
               juint(json_object_get(r, "rows_read")), juint(json_object_get(r, "rows_imported")),
               juint(json_object_get(r, "rows_rejected")),
               juint(json_object_get(r, "values_written")));
    duration(&b, juint(json_object_get(r, "duration_ms")));
    buf_append_str(&b, ")\n");
    const json_t *created = json_object_get(r, "features_created");
    if (json_array_size(created)) {
        buf_append_str(&b, "features created: ");
        size_t i;
        const json_t *f;
        json_array_foreach (created, i, f) {
            if (i)
                buf_append_str(&b, ", ");
            cli_cell(&b, f);
        }
        buf_putc(&b, '\n');
    }
    const char *sha = json_string_value(json_object_get(r, "source_sha256"));
    if (sha) {
        buf_append_str(&b, "source sha256 ");
        cli_append_clean(&b, sha, strlen(sha));
        buf_printf(&b, " (%" PRIu64 " bytes)\n", juint(json_object_get(r, "source_bytes")));
    }
    const json_t *rejects = json_object_get(r, "rejects");
    uint64_t nrej = juint(json_object_get(r, "rows_rejected"));
    if (json_array_size(rejects)) {
        size_t shown =
            json_array_size(rejects) < SHOW_REJECTS ? json_array_size(rejects) : SHOW_REJECTS;
        buf_printf(&b, "rejected rows (%zu of %" PRIu64 "):\n", shown, nrej);
        for (size_t i = 0; i < shown; i++) {
            const json_t *x = json_array_get(rejects, i);
            buf_printf(&b, "  line %" PRIu64 ": ", juint(json_object_get(x, "line")));
            cli_cell(&b, json_object_get(x, "reason"));
            buf_putc(&b, '\n');
        }
        const char *file = json_string_value(json_object_get(r, "rejects_file"));
        if (file) {
            buf_append_str(&b, "all rejected rows: ");
            cli_append_clean(&b, file, strlen(file));
            buf_append_str(&b, " (on the server)\n");
        }
    }
    fwrite(b.p, 1, b.n, stdout);
    buf_free(&b);
}

void cli_job_print(const json_t *job)
{
    buf b = BUF_INIT;
    const char *kind = json_string_value(json_object_get(job, "kind"));
    buf_append_str(&b, "job ");
    cli_cell(&b, json_object_get(job, "id"));
    buf_append_str(&b, " (");
    cli_cell(&b, json_object_get(job, "kind"));
    buf_append_str(&b, ") ");
    cli_cell(&b, json_object_get(job, "state"));
    const json_t *pr = json_object_get(job, "progress");
    if (juint(json_object_get(pr, "total")))
        buf_printf(&b, ", %" PRIu64 "/%" PRIu64 " %s", juint(json_object_get(pr, "done")),
                   juint(json_object_get(pr, "total")),
                   json_is_string(json_object_get(pr, "unit"))
                       ? json_string_value(json_object_get(pr, "unit"))
                       : "");
    buf_putc(&b, '\n');
    const json_t *err = json_object_get(job, "error");
    if (json_is_object(err)) {
        buf_append_str(&b, "error: ");
        cli_cell(&b, json_object_get(err, "code"));
        buf_append_str(&b, ": ");
        cli_cell(&b, json_object_get(err, "message"));
        buf_putc(&b, '\n');
    }
    fwrite(b.p, 1, b.n, stdout);
    buf_free(&b);
    const json_t *result = json_object_get(job, "result");
    if (json_is_object(result)) {
        if (kind && strcmp(kind, "import") == 0)
            print_import_result(result);
        else
            cli_print_fields(stdout, result, NULL);
    }
}

int cli_job_outcome(cli_ctx *ctx, const json_t *job)
{
    const char *state = json_string_value(json_object_get(job, "state"));
    if (state && strcmp(state, "SUCCEEDED") == 0)
        return CLI_EXIT_OK;
    const char *msg = json_string_value(json_object_get(json_object_get(job, "error"), "message"));
    const char *id = json_string_value(json_object_get(job, "id"));
    return cli_fail(ctx, CLI_EXIT_REJECTED, "job %s %s: %s", id ? id : "?", state ? state : "?",
                    msg ? msg : "no reason given");
}

/* ---- jobs list ----------------------------------------------------------------- */

static const char *const list_headers[] = {"ID",      "KIND",  "STATE",  "PROGRESS",
                                           "CREATED", "ENDED", "SUMMARY"};

static void summary(buf *b, const json_t *job)
{
    const json_t *err = json_object_get(job, "error");
    const json_t *r = json_object_get(job, "result");
    if (json_is_object(err)) {
        cli_cell(b, json_object_get(err, "message"));
    } else if (json_object_get(r, "rows_imported")) {
        buf_printf(b, "%" PRIu64 " rows imported, %" PRIu64 " rejected",
                   juint(json_object_get(r, "rows_imported")),
                   juint(json_object_get(r, "rows_rejected")));
    } else {
        buf_putc(b, '-');
    }
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
    int rc = CLI_EXIT_OK;
    json_t *all = json_array();
    buf path = BUF_INIT;
    const char *kind = cli_opt(a, "kind"), *state = cli_opt(a, "state");
    const char *limit_s = cli_opt(a, "limit");
    uint64_t limit = 100;
    cli_table *t = NULL;

    if (limit_s && (text_parse_u64(slice_of(limit_s), &limit) || limit == 0)) {
        rc = cli_usage_error(ctx, "--limit takes a positive number");
        goto out;
    }
    buf_append_str(&path, "/v1/jobs?");
    if (kind) {
        buf_append_str(&path, "&kind=");
        strata_escape(&path, slice_of(kind));
    }
    if (state) {
        buf_append_str(&path, "&state=");
        strata_escape(&path, slice_of(state));
    }
    if ((rc = cli_fetch_pages(ctx, path.p, "jobs", limit, all)))
        goto out;
    if (ctx->json) {
        json_t *doc = json_pack("{s:O,s:s}", "jobs", all, "next_page_token", "");
        cli_print_json(doc);
        json_decref(doc);
        goto out;
    }
    if (json_array_size(all) == 0) {
        printf("no jobs\n");
        goto out;
    }
    t = cli_table_new(7, list_headers);
    size_t i;
    json_t *j;
    json_array_foreach (all, i, j) {
        buf cells[7] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
        const char *row[7];
        cli_cell(&cells[0], json_object_get(j, "id"));
        cli_cell(&cells[1], json_object_get(j, "kind"));
        cli_cell(&cells[2], json_object_get(j, "state"));
        const json_t *pr = json_object_get(j, "progress");
        uint64_t done = juint(json_object_get(pr, "done")),
                 total = juint(json_object_get(pr, "total"));
        if (total)
            buf_printf(&cells[3], "%u%%", (unsigned)((done < total ? done : total) * 100 / total));
        else
            buf_putc(&cells[3], '-');
        cli_cell(&cells[4], json_object_get(j, "create_time"));
        cli_cell(&cells[5], json_object_get(j, "end_time"));
        summary(&cells[6], j);
        for (int k = 0; k < 7; k++)
            row[k] = cells[k].p ? cells[k].p : "";
        cli_table_add(t, row);
        for (int k = 0; k < 7; k++)
            buf_free(&cells[k]);
    }
    cli_table_print(t, stdout);
out:
    cli_table_free(t);
    json_decref(all);
    buf_free(&path);
    return rc;
}

/* ---- jobs show / cancel ---------------------------------------------------------- */

static int run_show(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    json_t *job = NULL;
    if ((rc = cli_client(ctx, &c)))
        return rc;
    if (cli_flag(a, "wait"))
        rc = cli_job_wait(ctx, c, a->pos[0], "waiting", &job);
    else
        rc = get_job(ctx, c, a->pos[0], &job);
    if (rc)
        goto out;
    if (ctx->json) {
        json_t *doc = json_pack("{s:O}", "job", job);
        cli_print_json(doc);
        json_decref(doc);
    } else {
        cli_job_print(job);
        buf b = BUF_INIT;
        buf_append_str(&b, "created: ");
        cli_cell(&b, json_object_get(job, "create_time"));
        buf_append_str(&b, "\nstarted: ");
        cli_cell(&b, json_object_get(job, "start_time"));
        buf_append_str(&b, "\nended:   ");
        cli_cell(&b, json_object_get(job, "end_time"));
        buf_append_str(&b, "\nspec:    ");
        cli_append_json(&b, json_object_get(job, "spec"));
        buf_putc(&b, '\n');
        fwrite(b.p, 1, b.n, stdout);
        buf_free(&b);
    }
    if (cli_flag(a, "wait"))
        rc = cli_job_outcome(ctx, job);
out:
    json_decref(job);
    return rc;
}

static int run_cancel(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    buf path = BUF_INIT;
    if ((rc = cli_client(ctx, &c)))
        goto out;
    buf_append_str(&path, "/v1/jobs/");
    strata_escape(&path, slice_of(a->pos[0]));
    buf_append_str(&path, ":cancel");
    int st = strata_request_json(c, "POST", path.p, NULL, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json) {
        cli_print_json(resp);
        goto out;
    }
    const json_t *job = json_object_get(resp, "job");
    const char *state = json_string_value(json_object_get(job, "state"));
    buf b = BUF_INIT;
    buf_append_str(&b, "job ");
    cli_cell(&b, json_object_get(job, "id"));
    if (state && strcmp(state, "CANCELLED") == 0)
        buf_append_str(&b, " cancelled\n");
    else
        buf_append_str(&b, " is stopping (cancel requested); `strata jobs show ID --wait` "
                           "waits for it\n");
    fwrite(b.p, 1, b.n, stdout);
    buf_free(&b);
out:
    json_decref(resp);
    buf_free(&path);
    err_clear(&err);
    return rc;
}

static const cli_option list_options[] = {
    {"kind", "K", "only jobs of this kind (import, export, ...)", false},
    {"state", "S", "only jobs in this state (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED)",
     false},
    {"limit", "N", "show at most N jobs (default 100), newest first", false},
    {NULL, NULL, NULL, false},
};

static const cli_option show_options[] = {
    {"wait", NULL,
     "wait until the job ends (progress bar on a terminal); exit 1 unless it "
     "SUCCEEDED",
     false},
    {NULL, NULL, NULL, false},
};

static const cli_command jobs_list = {
    .name = "list",
    .synopsis = "",
    .summary = "list jobs, newest first",
    .options = list_options,
    .min_args = 0,
    .max_args = 0,
    .run = run_list,
};

static const cli_command jobs_show = {
    .name = "show",
    .synopsis = "ID",
    .summary = "show a job: state, progress, error and result",
    .options = show_options,
    .min_args = 1,
    .max_args = 1,
    .run = run_show,
};

static const cli_command jobs_cancel = {
    .name = "cancel",
    .synopsis = "ID",
    .summary = "cancel a PENDING or RUNNING job",
    .details = "A PENDING job is cancelled at once. A RUNNING one stops at its next check;\n"
               "an import with on_error=skip_row keeps the batches it committed before.",
    .min_args = 1,
    .max_args = 1,
    .run = run_cancel,
};

static const cli_command *const jobs_subcommands[] = {&jobs_list, &jobs_show, &jobs_cancel, NULL};

const cli_command cli_jobs_command = {
    .name = "jobs",
    .summary = "list, show and cancel long-running jobs (imports, exports, training)",
    .subcommands = jobs_subcommands,
};
