/*
 * cli_schedule.c - `strata schedule create|list|show|runs|run|pause|resume|delete`.
 */
#include "client/cli.h"

#include <stdlib.h>
#include <string.h>

#include "base/text.h"

static int request(cli_ctx *ctx, const char *method, buf *path, json_t *body, json_t **resp)
{
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    int rc = cli_client(ctx, &c);
    if (rc)
        return rc;
    int st = strata_request_json(c, method, path->p, body, resp, &err);
    if (st)
        rc = cli_fail_status(ctx, st, &err);
    err_clear(&err);
    return rc;
}

static void path_for(buf *p, const char *name, const char *suffix)
{
    buf_reset(p);
    buf_append_str(p, "/v1/schedules/");
    strata_escape(p, slice_of(name));
    buf_append_str(p, suffix);
}

static int parse_count(cli_ctx *ctx, const char *v, const char *flag, json_int_t *out)
{
    uint64_t n;
    if (text_parse_u64(slice_of(v), &n) || n > INT32_MAX)
        return cli_usage_error(ctx, "%s takes a non-negative integer", flag);
    *out = (json_int_t)n;
    return 0;
}

static int run_create(cli_ctx *ctx, const cli_args *a)
{
    int rc = 0;
    json_t *resp = NULL, *body = json_object(), *imp = json_object();
    buf path = BUF_INIT;
    const char *cron = cli_opt(a, "cron"), *every = cli_opt(a, "every");
    json_int_t n;
    if (!cli_opt(a, "entity") || !cli_opt(a, "file")) {
        rc = cli_usage_error(ctx, "--entity and --file are required");
        goto out;
    }
    if (!cron == !every) {
        rc = cli_usage_error(ctx, "give exactly one of --cron and --every");
        goto out;
    }
    json_object_set_new(body, "name", json_string(a->pos[0]));
    if (cron)
        json_object_set_new(body, "cron", json_string(cron));
    if (every) {
        if ((rc = parse_count(ctx, every, "--every", &n)))
            goto out;
        json_object_set_new(body, "every_seconds", json_integer(n));
    }
    json_object_set_new(imp, "entity", json_string(cli_opt(a, "entity")));
    json_object_set_new(imp, "source", json_pack("{s:s}", "path", cli_opt(a, "file")));
    const char *fmt = cli_opt(a, "format");
    if (!fmt) {
        const char *f = cli_opt(a, "file");
        size_t l = strlen(f);
        fmt = l > 6 && strcmp(f + l - 6, ".jsonl") == 0 ? "jsonl" : "csv";
    }
    json_object_set_new(imp, "format", json_string(fmt));
    static const char *const map[][2] = {{"id-column", "entity_id_column"},
                                         {"time-column", "event_time_column"},
                                         {"created-column", "created_time_column"},
                                         {"time-unit", "time_unit"},
                                         {"on-error", "on_error"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (cli_opt(a, map[i][0]))
            json_object_set_new(imp, map[i][1], json_string(cli_opt(a, map[i][0])));
    if (cli_flag(a, "create-features"))
        json_object_set_new(imp, "create_features", json_true());
    json_object_set(body, "import", imp);
    if (cli_opt(a, "max-retries")) {
        if ((rc = parse_count(ctx, cli_opt(a, "max-retries"), "--max-retries", &n)))
            goto out;
        json_object_set_new(body, "max_retries", json_integer(n));
    }
    if (cli_opt(a, "backoff")) {
        if ((rc = parse_count(ctx, cli_opt(a, "backoff"), "--backoff", &n)))
            goto out;
        json_object_set_new(body, "retry_backoff_seconds", json_integer(n));
    }
    if (cli_flag(a, "catch-up"))
        json_object_set_new(body, "catch_up", json_true());
    if (cli_flag(a, "disabled"))
        json_object_set_new(body, "enabled", json_false());
    buf_append_str(&path, "/v1/schedules");
    if ((rc = request(ctx, "POST", &path, body, &resp)))
        goto out;
    if (ctx->json) {
        cli_print_json(resp);
    } else {
        json_t *s = json_object_get(resp, "schedule");
        printf("created schedule %s; next run %s\n", a->pos[0],
               json_is_string(json_object_get(s, "next_run_time"))
                   ? json_string_value(json_object_get(s, "next_run_time"))
                   : "- (disabled)");
    }
out:
    json_decref(resp);
    json_decref(body);
    json_decref(imp);
    buf_free(&path);
    return rc;
}

static void add_cell(buf *cells, const char **row, size_t i, const json_t *v)
{
    buf_reset(&cells[i]);
    cli_cell(&cells[i], v);
    row[i] = cells[i].p ? cells[i].p : "";
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    int rc;
    json_t *resp = NULL;
    buf path = BUF_INIT;
    buf_append_str(&path, "/v1/schedules?page_size=1000");
    if ((rc = request(ctx, "GET", &path, NULL, &resp)))
        goto out;
    if (ctx->json) {
        cli_print_json(resp);
        goto out;
    }
    static const char *const hdr[] = {"NAME", "WHEN", "ENABLED", "ENTITY", "FILE", "NEXT RUN",
                                      "RUNS"};
    cli_table *t = cli_table_new(7, hdr);
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get(resp, "schedules"), i, s) {
        buf cells[7] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
        const char *row[7];
        json_t *imp = json_object_get(s, "import");
        add_cell(cells, row, 0, json_object_get(s, "name"));
        json_t *when = json_object_get(s, "cron");
        json_t *every = NULL;
        if (!json_is_string(when)) {
            every = json_sprintf("every %llds",
                                 (long long)json_integer_value(json_object_get(s, "every_seconds")));
            when = every;
        }
        add_cell(cells, row, 1, when);
        add_cell(cells, row, 2, json_object_get(s, "enabled"));
        add_cell(cells, row, 3, json_object_get(imp, "entity"));
        add_cell(cells, row, 4, json_object_get(json_object_get(imp, "source"), "path"));
        add_cell(cells, row, 5, json_object_get(s, "next_run_time"));
        add_cell(cells, row, 6, json_object_get(s, "last_run"));
        cli_table_add(t, row);
        json_decref(every);
        for (int k = 0; k < 7; k++)
            buf_free(&cells[k]);
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
out:
    json_decref(resp);
    buf_free(&path);
    return rc;
}

static int run_show(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    json_t *resp = NULL;
    buf path = BUF_INIT;
    path_for(&path, a->pos[0], "");
    if ((rc = request(ctx, "GET", &path, NULL, &resp)) == 0) {
        if (ctx->json)
            cli_print_json(resp);
        else
            cli_print_fields(stdout, json_object_get(resp, "schedule"), NULL);
    }
    json_decref(resp);
    buf_free(&path);
    return rc;
}

static int run_runs(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    json_t *resp = NULL;
    buf path = BUF_INIT;
    json_int_t limit = 20;
    if (cli_opt(a, "limit") && (rc = parse_count(ctx, cli_opt(a, "limit"), "--limit", &limit)))
        goto out;
    if (limit < 1 || limit > 1000) {
        rc = cli_usage_error(ctx, "--limit takes 1 to 1000");
        goto out;
    }
    path_for(&path, a->pos[0], "/runs");
    buf_printf(&path, "?page_size=%lld", (long long)limit);
    if ((rc = request(ctx, "GET", &path, NULL, &resp)))
        goto out;
    if (ctx->json) {
        cli_print_json(resp);
        goto out;
    }
    static const char *const hdr[] = {"RUN", "TRIGGER", "SCHEDULED", "STARTED", "STATE",
                                      "ATTEMPTS", "JOB", "ERROR"};
    cli_table *t = cli_table_new(8, hdr);
    static const char *const keys[] = {"run",   "trigger",  "scheduled_time", "actual_start",
                                       "state", "attempts", "job_id"};
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get(resp, "runs"), i, r) {
        buf cells[8] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT,
                        BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
        const char *row[8];
        for (size_t k = 0; k < 7; k++)
            add_cell(cells, row, k, json_object_get(r, keys[k]));
        add_cell(cells, row, 7, json_object_get(json_object_get(r, "error"), "message"));
        cli_table_add(t, row);
        for (int k = 0; k < 8; k++)
            buf_free(&cells[k]);
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
out:
    json_decref(resp);
    buf_free(&path);
    return rc;
}

static int simple(cli_ctx *ctx, const cli_args *a, const char *method, const char *suffix,
                  json_t *body, const char *done)
{
    int rc;
    json_t *resp = NULL;
    buf path = BUF_INIT;
    path_for(&path, a->pos[0], suffix);
    if ((rc = request(ctx, method, &path, body, &resp)) == 0) {
        if (ctx->json) {
            cli_print_json(resp);
        } else {
            json_t *run = json_object_get(resp, "run");
            if (run)
                printf("%s %s: run %lld, %s, job %s\n", done, a->pos[0],
                       (long long)json_integer_value(json_object_get(run, "run")),
                       json_string_value(json_object_get(run, "state")),
                       json_is_string(json_object_get(run, "job_id"))
                           ? json_string_value(json_object_get(run, "job_id"))
                           : "-");
            else
                printf("%s %s\n", done, a->pos[0]);
        }
    }
    json_decref(resp);
    json_decref(body);
    buf_free(&path);
    return rc;
}

static int run_run(cli_ctx *ctx, const cli_args *a)
{
    return simple(ctx, a, "POST", ":run", NULL, "started");
}

static int run_pause(cli_ctx *ctx, const cli_args *a)
{
    return simple(ctx, a, "PATCH", "", json_pack("{s:b}", "enabled", 0), "paused");
}

static int run_resume(cli_ctx *ctx, const cli_args *a)
{
    return simple(ctx, a, "PATCH", "", json_pack("{s:b}", "enabled", 1), "resumed");
}

static int run_delete(cli_ctx *ctx, const cli_args *a)
{
    return simple(ctx, a, "DELETE", "", NULL, "deleted schedule");
}

static const cli_option create_options[] = {
    {"entity", "E", "entity to import into (required)", false},
    {"file", "PATH", "file under the daemon's --import-dir, read at each run (required)", false},
    {"cron", "EXPR", "5-field cron in UTC, e.g. \"*/15 * * * *\"", false},
    {"every", "SECONDS", "run at a fixed interval instead", false},
    {"format", "csv|jsonl", "file format (default: from the file name)", false},
    {"id-column", "C", "column holding the entity id", false},
    {"time-column", "C", "column holding the event time", false},
    {"created-column", "C", "column holding the created time", false},
    {"time-unit", "U", "rfc3339|seconds|millis|micros", false},
    {"on-error", "skip_row|fail", "what a bad row does", false},
    {"create-features", NULL, "create missing features, inferring types", false},
    {"max-retries", "N", "retries of a failed run (default 3)", false},
    {"backoff", "SECONDS", "first retry delay, doubling (default 60)", false},
    {"catch-up", NULL, "after downtime, run once for the missed time", false},
    {"disabled", NULL, "create it paused", false},
    {NULL, NULL, NULL, false},
};
static const cli_option runs_options[] = {
    {"limit", "N", "newest N runs (default 20)", false},
    {NULL, NULL, NULL, false},
};

static const cli_command s_create = {"create", "NAME", "schedule an import", NULL,
                                     create_options, 1, 1, run_create, NULL};
static const cli_command s_list = {"list", "", "list schedules", NULL, NULL, 0, 0, run_list,
                                   NULL};
static const cli_command s_show = {"show", "NAME", "show a schedule", NULL, NULL, 1, 1, run_show,
                                   NULL};
static const cli_command s_runs = {"runs", "NAME", "a schedule's runs, newest first", NULL,
                                   runs_options, 1, 1, run_runs, NULL};
static const cli_command s_run = {"run", "NAME", "start a run now", NULL, NULL, 1, 1, run_run,
                                  NULL};
static const cli_command s_pause = {"pause", "NAME", "stop firing (runs in flight finish)", NULL,
                                    NULL, 1, 1, run_pause, NULL};
static const cli_command s_resume = {"resume", "NAME", "fire again from the next time", NULL,
                                     NULL, 1, 1, run_resume, NULL};
static const cli_command s_delete = {"delete", "NAME", "delete a schedule and its run history",
                                     NULL, NULL, 1, 1, run_delete, NULL};
static const cli_command *const subs[] = {&s_create, &s_list,  &s_show,   &s_runs,
                                          &s_run,    &s_pause, &s_resume, &s_delete, NULL};

const cli_command cli_schedule_command = {
    .name = "schedule",
    .summary = "imports on a cron or interval schedule",
    .subcommands = subs,
};
