/*
 * cli_train.c - `strata train SPEC.json [--wait]`, `strata models
 * list|show NAME|alias NAME ALIAS VERSION`, `strata predict MODEL ID…
 * [--version N|--alias A]` (POST /v1/trainings, /v1/models…,
 * docs/trainer.md "Training API").
 */
#include "client/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Follow a training job, printing iteration and loss as they change. */
static int wait_training(cli_ctx *ctx, strata_client *c, const char *id, json_t **final)
{
    strata_err err = STRATA_ERR_INIT;
    bool tty = isatty(2);
    long last_it = -1;
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    for (;;) {
        json_t *resp = NULL;
        int st = strata_request_json(c, "GET", path, NULL, &resp, &err);
        if (st) {
            int rc = cli_fail_status(ctx, st, &err);
            err_clear(&err);
            return rc;
        }
        json_t *job = json_object_get(resp, "job");
        const char *state = json_string_value(json_object_get(job, "state"));
        json_t *res = json_object_get(job, "result");
        json_t *it = json_object_get(res, "iteration");
        if (json_is_integer(it) && json_integer_value(it) != last_it &&
            state && !strcmp(state, "RUNNING")) {
            last_it = (long)json_integer_value(it);
            fprintf(stderr, "%siteration %ld/%lld  loss %.6g", tty ? "\r" : "", last_it,
                    (long long)json_integer_value(
                        json_object_get(json_object_get(job, "progress"), "total")),
                    json_number_value(json_object_get(res, "loss")));
            json_t *el = json_object_get(res, "eval_loss");
            if (json_is_number(el))
                fprintf(stderr, "  eval_loss %.6g", json_number_value(el));
            fputs(tty ? "   " : "\n", stderr);
        }
        if (state && strcmp(state, "PENDING") && strcmp(state, "RUNNING")) {
            json_t *fit = json_object_get(res, "fit");
            if (tty && last_it >= 0)
                fputc('\n', stderr);
            if (json_is_object(fit))
                fprintf(stderr, "iteration %lld (final)  loss %.6g  solver %s, %s\n",
                        (long long)json_integer_value(json_object_get(fit, "iterations")),
                        json_number_value(json_object_get(fit, "train_loss")),
                        json_string_value(json_object_get(fit, "solver")),
                        json_string_value(json_object_get(fit, "stop_reason")));
            *final = json_incref(job);
            json_decref(resp);
            return CLI_EXIT_OK;
        }
        json_decref(resp);
        sleep_ms(100);
    }
}

static int read_spec(cli_ctx *ctx, const char *path, json_t **out)
{
    json_error_t je;
    *out = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(path, 0, &je);
    if (!*out)
        return cli_fail(ctx, CLI_EXIT_INPUT, "%s:%d: %s", path, je.line, je.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return cli_fail(ctx, CLI_EXIT_INPUT, "%s: the spec must be a JSON object", path);
    }
    return CLI_EXIT_OK;
}

static void print_metrics(const char *label, const json_t *m)
{
    if (!json_is_object(m) || json_object_size(m) == 0)
        return;
    buf b = BUF_INIT;
    cli_cell(&b, m);
    printf("%s: %.*s\n", label, (int)b.n, b.p ? b.p : "");
    buf_free(&b);
}

static int run_train(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *spec = NULL, *resp = NULL, *final = NULL;
    if ((rc = read_spec(ctx, a->pos[0], &spec)) || (rc = cli_client(ctx, &c)))
        goto out;
    const char *id = NULL;
    if ((rc = cli_job_submit(ctx, c, "/v1/trainings", spec, &resp, &id)))
        goto out;
    if (!cli_flag(a, "wait")) {
        if (ctx->json)
            cli_print_json(resp);
        else
            printf("training job %s started; follow it with: strata jobs show %s --wait\n", id,
                   id);
        goto out;
    }
    if ((rc = wait_training(ctx, c, id, &final)))
        goto out;
    if (ctx->json) {
        json_t *doc = json_pack("{s:O}", "job", final);
        cli_print_json(doc);
        json_decref(doc);
    } else {
        json_t *r = json_object_get(final, "result");
        printf("job %s: %s\n", id, json_string_value(json_object_get(final, "state")));
        if (json_is_integer(json_object_get(r, "version"))) {
            printf("model: %s version %lld\n", json_string_value(json_object_get(r, "model")),
                   (long long)json_integer_value(json_object_get(r, "version")));
            print_metrics("train_metrics", json_object_get(r, "train_metrics"));
            print_metrics("eval_metrics", json_object_get(r, "eval_metrics"));
            const char *ev = json_string_value(json_object_get(r, "evaluation_id"));
            if (ev)
                printf("evaluation: %s (fairness on the eval split: strata evaluations get %s)\n",
                       ev, ev);
        }
    }
    rc = cli_job_outcome(ctx, final);
out:
    json_decref(spec);
    json_decref(resp);
    json_decref(final);
    err_clear(&err);
    return rc;
}

static int get(cli_ctx *ctx, const char *method, const char *path, const json_t *body,
               json_t **resp)
{
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    int rc = cli_client(ctx, &c);
    if (rc)
        return rc;
    int st = strata_request_json(c, method, path, body, resp, &err);
    if (st)
        rc = cli_fail_status(ctx, st, &err);
    err_clear(&err);
    return rc;
}

static void esc_path(buf *b, const char *fmt1, const char *name, const char *rest)
{
    buf_append_str(b, fmt1);
    strata_escape(b, slice_of(name));
    if (rest)
        buf_append_str(b, rest);
    buf_putc(b, '\0');
}

static int run_models_list(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    json_t *all = json_array();
    int rc = cli_fetch_pages(ctx, "/v1/models", "models", UINT64_MAX, all);
    if (rc) {
        json_decref(all);
        return rc;
    }
    json_t *resp = json_pack("{s:o,s:s}", "models", all, "next_page_token", "");
    if (ctx->json) {
        cli_print_json(resp);
    } else {
        static const char *const hdr[] = {"NAME", "LATEST", "ALIASES", "EVAL_METRICS"};
        cli_table *t = cli_table_new(4, hdr);
        size_t i;
        json_t *m;
        json_array_foreach (json_object_get(resp, "models"), i, m) {
            buf c1 = BUF_INIT, c2 = BUF_INIT, c3 = BUF_INIT;
            cli_cell(&c1, json_object_get(m, "latest_version"));
            cli_cell(&c2, json_object_get(m, "aliases"));
            cli_cell(&c3, json_object_get(json_object_get(m, "latest"), "eval_metrics"));
            buf_putc(&c1, '\0');
            buf_putc(&c2, '\0');
            buf_putc(&c3, '\0');
            const char *row[] = {json_string_value(json_object_get(m, "name")), c1.p, c2.p, c3.p};
            cli_table_add(t, row);
            buf_free(&c1);
            buf_free(&c2);
            buf_free(&c3);
        }
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
    json_decref(resp);
    return CLI_EXIT_OK;
}

static int run_models_show(cli_ctx *ctx, const cli_args *a)
{
    json_t *resp = NULL;
    buf p = BUF_INIT;
    esc_path(&p, "/v1/models/", a->pos[0], NULL);
    int rc = get(ctx, "GET", p.p, NULL, &resp);
    buf_free(&p);
    if (rc)
        return rc;
    if (ctx->json) {
        cli_print_json(resp);
    } else {
        json_t *m = json_object_get(resp, "model");
        buf al = BUF_INIT;
        cli_cell(&al, json_object_get(m, "aliases"));
        printf("model: %s\naliases: %.*s\n", json_string_value(json_object_get(m, "name")),
               (int)al.n, al.p ? al.p : "");
        buf_free(&al);
        static const char *const hdr[] = {"VERSION", "CREATED", "ALIASES", "TRAIN_METRICS",
                                          "EVAL_METRICS"};
        cli_table *t = cli_table_new(5, hdr);
        size_t i;
        json_t *v;
        json_array_foreach (json_object_get(m, "versions"), i, v) {
            buf c[5] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
            static const char *const keys[] = {"version", "create_time", "aliases",
                                               "train_metrics", "eval_metrics"};
            const char *row[5];
            for (int k = 0; k < 5; k++) {
                cli_cell(&c[k], json_object_get(v, keys[k]));
                buf_putc(&c[k], '\0');
                row[k] = c[k].p;
            }
            cli_table_add(t, row);
            for (int k = 0; k < 5; k++)
                buf_free(&c[k]);
        }
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
    json_decref(resp);
    return CLI_EXIT_OK;
}

static int run_models_alias(cli_ctx *ctx, const cli_args *a)
{
    char *end;
    errno = 0;
    long long v = strtoll(a->pos[2], &end, 10);
    if (*end || v < 1 || errno)
        return cli_usage_error(ctx, "VERSION must be a positive integer, not '%s'", a->pos[2]);
    buf p = BUF_INIT;
    buf_append_str(&p, "/v1/models/");
    strata_escape(&p, slice_of(a->pos[0]));
    buf_append_str(&p, "/aliases/");
    strata_escape(&p, slice_of(a->pos[1]));
    buf_putc(&p, '\0');
    json_t *body = json_pack("{s:I}", "version", (json_int_t)v), *resp = NULL;
    int rc = get(ctx, "PUT", p.p, body, &resp);
    buf_free(&p);
    json_decref(body);
    if (rc)
        return rc;
    if (ctx->json)
        cli_print_json(resp);
    else
        printf("%s@%s -> version %lld\n", a->pos[0], a->pos[1], v);
    json_decref(resp);
    return CLI_EXIT_OK;
}

static int run_predict(cli_ctx *ctx, const cli_args *a)
{
    const char *ver = cli_opt(a, "version"), *alias = cli_opt(a, "alias");
    if (ver && alias)
        return cli_usage_error(ctx, "give --version or --alias, not both");
    buf p = BUF_INIT;
    buf_append_str(&p, "/v1/models/");
    strata_escape(&p, slice_of(a->pos[0]));
    buf_append_str(&p, ":predict");
    if (ver || alias) {
        buf_append_str(&p, ver ? "?version=" : "?alias=");
        strata_escape(&p, slice_of(ver ? ver : alias));
    }
    buf_putc(&p, '\0');
    json_t *ids = json_array();
    for (size_t i = 1; i < a->npos; i++)
        json_array_append_new(ids, json_string(a->pos[i]));
    json_t *body = json_pack("{s:o}", "ids", ids), *resp = NULL;
    int rc = get(ctx, "POST", p.p, body, &resp);
    buf_free(&p);
    json_decref(body);
    if (rc)
        return rc;
    if (ctx->json) {
        cli_print_json(resp);
    } else {
        static const char *const hdr[] = {"ENTITY_ID", "SCORE", "PREDICTED_LABEL",
                                          "MISSING_FEATURES"};
        cli_table *t = cli_table_new(4, hdr);
        size_t i;
        json_t *pr;
        json_array_foreach (json_object_get(resp, "predictions"), i, pr) {
            buf c[4] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
            cli_cell(&c[0], json_object_get(pr, "entity_id"));
            cli_cell(&c[1], json_object_get(pr, "score"));
            cli_cell(&c[2], json_object_get(pr, "predicted_label"));
            cli_cell(&c[3], json_object_get(pr, "missing_features"));
            const char *row[4];
            for (int k = 0; k < 4; k++) {
                buf_putc(&c[k], '\0');
                row[k] = c[k].p;
            }
            cli_table_add(t, row);
            for (int k = 0; k < 4; k++)
                buf_free(&c[k]);
        }
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
    json_decref(resp);
    return CLI_EXIT_OK;
}

static const cli_option train_opts[] = {
    {"wait", NULL, "wait for the job, showing iteration and loss; exit 1 unless it SUCCEEDED",
     false},
    {NULL, NULL, NULL, false},
};

const cli_command cli_train_command = {
    .name = "train",
    .synopsis = "SPEC.json",
    .summary = "train a model from a spec file (a job; POST /v1/trainings)",
    .details = "SPEC.json is the request body of POST /v1/trainings ('-' reads stdin).\n"
               "Example: strata train credit.json --wait",
    .options = train_opts,
    .min_args = 1,
    .max_args = 1,
    .run = run_train,
};

static const cli_command models_list = {.name = "list",
                                        .synopsis = "",
                                        .summary = "list models with their latest version",
                                        .run = run_models_list};
static const cli_command models_show = {.name = "show",
                                        .synopsis = "NAME",
                                        .summary = "a model's versions, metrics and aliases",
                                        .min_args = 1,
                                        .max_args = 1,
                                        .run = run_models_show};
static const cli_command models_alias = {.name = "alias",
                                         .synopsis = "NAME ALIAS VERSION",
                                         .summary = "point an alias (e.g. champion) at a version",
                                         .min_args = 3,
                                         .max_args = 3,
                                         .run = run_models_alias};
static const cli_command *const models_subcommands[] = {&models_list, &models_show,
                                                        &models_alias, NULL};
const cli_command cli_models_command = {
    .name = "models",
    .summary = "trained models: list, show, alias",
    .subcommands = models_subcommands,
};

static const cli_option predict_opts[] = {
    {"version", "N", "score with version N (default: the latest)", false},
    {"alias", "A", "score with the version alias A points at", false},
    {NULL, NULL, NULL, false},
};

const cli_command cli_predict_command = {
    .name = "predict",
    .synopsis = "MODEL ID...",
    .summary = "score entity ids with a model from their online features",
    .options = predict_opts,
    .min_args = 2,
    .max_args = -1,
    .run = run_predict,
};
