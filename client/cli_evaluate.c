/*
 * cli_evaluate.c - `strata evaluate` (POST /v1/evaluations, a job) and
 * `strata evaluations list|get` (GET /v1/evaluations[/{id}]), with
 * `--report FILE` downloading GET /v1/evaluations/{id}/report.html
 * (docs/evaluation.md "CLI").
 *
 * The request is built from options: a model (--model [--version|--alias])
 * scoring --instances, or --predictions FILE made elsewhere. Files are paths
 * on the server (under its --import-dir) unless --inline sends the local
 * file: instances as text, predictions (JSONL) as an array of row objects.
 * --report implies --wait; the page is written to FILE.part and renamed, so
 * FILE only ever appears complete.
 */
#include "client/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/text.h"

/* ---- building the request ------------------------------------------------------------- */

static int set_str(cli_ctx *ctx, json_t *obj, const char *field, const char *opt, const char *v)
{
    if (!v)
        return CLI_EXIT_OK;
    json_t *s = json_string(v);
    if (!s)
        return cli_usage_error(ctx, "--%s is not valid UTF-8", opt);
    json_object_set_new(obj, field, s);
    return CLI_EXIT_OK;
}

/* A numeric option: an integer in [lo, hi] (integer) or a finite number. */
static int set_num(cli_ctx *ctx, json_t *obj, const char *field, const char *opt, const char *v,
                   bool integer, double lo, double hi)
{
    if (!v)
        return CLI_EXIT_OK;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (*end || end == v || errno || d < lo || d > hi || (integer && d != (double)(long long)d))
        return cli_usage_error(ctx, "--%s takes %s from %g to %g, not '%s'", opt,
                               integer ? "an integer" : "a number", lo, hi, v);
    json_object_set_new(obj, field, integer ? json_integer((json_int_t)d) : json_real(d));
    return CLI_EXIT_OK;
}

/* A local JSONL file as an array of row objects (predictions --inline). */
static int read_rows(cli_ctx *ctx, const char *path, json_t **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_fail(ctx, CLI_EXIT_INPUT, "cannot open %s: %s", path, strerror(errno));
    json_t *rows = json_array();
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = CLI_EXIT_OK;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t k = (size_t)n;
        while (k && (line[k - 1] == '\n' || line[k - 1] == '\r' || line[k - 1] == ' '))
            k--;
        if (k == 0)
            continue;
        json_error_t je;
        json_t *o = json_loadb(line, k, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(o)) {
            json_decref(o);
            rc = cli_fail(ctx, CLI_EXIT_INPUT, "%s:%zu: not a JSON object%s%s", path, lineno,
                          o ? "" : ": ", o ? "" : je.text);
            break;
        }
        json_array_append_new(rows, o);
    }
    if (rc == CLI_EXIT_OK && ferror(f))
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "reading %s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (rc)
        json_decref(rows);
    else
        *out = rows;
    return rc;
}

static bool is_jsonl(const char *p)
{
    size_t n = strlen(p);
    return (n > 6 && !strcmp(p + n - 6, ".jsonl")) || (n > 7 && !strcmp(p + n - 7, ".ndjson"));
}

static int build_body(cli_ctx *ctx, const cli_args *a, json_t *body)
{
    int rc;
    const char *model = cli_opt(a, "model"), *preds = cli_opt(a, "predictions");
    const char *inst = cli_opt(a, "instances"), *label = cli_opt(a, "label-column");
    bool inl = cli_flag(a, "inline");
    json_t *tmp = NULL;
    if ((model != NULL) == (preds != NULL))
        return cli_usage_error(ctx, "give --model NAME with --instances FILE, or --predictions "
                                    "FILE");
    if (!label)
        return cli_usage_error(ctx, "--label-column C is required");
    if (model) {
        if (!inst)
            return cli_usage_error(ctx, "--model needs --instances FILE");
        if (cli_opt(a, "score-column") || cli_opt(a, "prediction-column"))
            return cli_usage_error(ctx, "--score-column and --prediction-column go with "
                                        "--predictions; a model scores the instances itself");
        if (cli_opt(a, "version") && cli_opt(a, "alias"))
            return cli_usage_error(ctx, "give --version or --alias, not both");
        if ((rc = set_str(ctx, body, "model", "model", model)) ||
            (rc = set_num(ctx, body, "version", "version", cli_opt(a, "version"), true, 1,
                          2147483647.0)) ||
            (rc = set_str(ctx, body, "alias", "alias", cli_opt(a, "alias"))) ||
            (rc = set_str(ctx, body, "label_column", "label-column", label)))
            return rc;
        json_t *in = json_object();
        json_object_set_new(body, "instances", in);
        const char *fmt = cli_opt(a, "instances-format");
        if (fmt && strcmp(fmt, "csv") && strcmp(fmt, "jsonl"))
            return cli_usage_error(ctx, "--instances-format takes csv or jsonl");
        json_object_set_new(in, "format", json_string(fmt ? fmt : is_jsonl(inst) ? "jsonl" : "csv"));
        if (inl) {
            if ((rc = cli_read_inline(ctx, inst, &tmp)))
                return rc;
            json_object_set_new(in, "inline", tmp);
        } else if ((rc = set_str(ctx, in, "path", "instances", inst))) {
            return rc;
        }
    } else {
        if (inst || cli_opt(a, "version") || cli_opt(a, "alias"))
            return cli_usage_error(ctx, "--instances, --version and --alias go with --model");
        if (!cli_opt(a, "score-column") && !cli_opt(a, "prediction-column"))
            return cli_usage_error(ctx, "--predictions needs --score-column and/or "
                                        "--prediction-column");
        json_t *p = json_object();
        json_object_set_new(body, "predictions", p);
        if ((rc = set_str(ctx, p, "label_column", "label-column", label)) ||
            (rc = set_str(ctx, p, "score_column", "score-column", cli_opt(a, "score-column"))) ||
            (rc = set_str(ctx, p, "prediction_column", "prediction-column",
                          cli_opt(a, "prediction-column"))))
            return rc;
        if (inl) {
            if (!is_jsonl(preds))
                return cli_usage_error(ctx, "--inline sends predictions as JSON rows: give a "
                                            ".jsonl file, or a CSV path on the server without "
                                            "--inline");
            if ((rc = read_rows(ctx, preds, &tmp)))
                return rc;
            json_object_set_new(p, "inline", tmp);
        } else if ((rc = set_str(ctx, p, "path", "predictions", preds))) {
            return rc;
        }
    }
    if ((rc = set_str(ctx, body, "timestamp_column", "timestamp-column",
                      cli_opt(a, "timestamp-column"))) ||
        (rc = set_str(ctx, body, "as_of", "as-of", cli_opt(a, "as-of"))) ||
        (rc = set_str(ctx, body, "task", "task", cli_opt(a, "task"))) ||
        (rc = set_str(ctx, body, "positive_label", "positive-label",
                      cli_opt(a, "positive-label"))) ||
        (rc = set_num(ctx, body, "threshold", "threshold", cli_opt(a, "threshold"), false, 0, 1)) ||
        (rc = set_num(ctx, body, "min_group_size", "min-group-size",
                      cli_opt(a, "min-group-size"), true, 0, 1e15)))
        return rc;
    const char *const *vals;
    size_t n;
    if ((n = cli_opt_all(a, "entity-column", &vals))) {
        if ((rc = cli_parse_pairs(ctx, "entity-column", vals, n, &tmp)))
            return rc;
        json_object_set_new(body, "entity_columns", tmp);
    }
    if ((rc = cli_opt_list(ctx, a, "group-by", &tmp)))
        return rc;
    if (json_array_size(tmp))
        json_object_set_new(body, "group_by", tmp);
    else
        json_decref(tmp);
    if (cli_flag(a, "intersections"))
        json_object_set_new(body, "intersections", json_true());
    if ((n = cli_opt_all(a, "reference", &vals))) {
        if ((rc = cli_parse_pairs(ctx, "reference", vals, n, &tmp)))
            return rc;
        json_object_set_new(body, "reference_groups", tmp);
    }
    if ((rc = cli_opt_list(ctx, a, "thresholds", &tmp)))
        return rc;
    if (json_array_size(tmp)) {
        json_t *nums = json_array();
        size_t i;
        json_t *v;
        json_array_foreach (tmp, i, v) {
            json_t *holder = json_object();
            rc = set_num(ctx, holder, "t", "thresholds", json_string_value(v), false, 0, 1);
            if (rc == CLI_EXIT_OK)
                json_array_append(nums, json_object_get(holder, "t"));
            json_decref(holder);
            if (rc)
                break;
        }
        json_object_set_new(body, "thresholds", nums);
    }
    json_decref(tmp);
    if (rc)
        return rc;
    const char *reps = cli_opt(a, "bootstrap"), *seed = cli_opt(a, "seed"),
               *conf = cli_opt(a, "confidence");
    if (reps || seed || conf) {
        json_t *b = json_object();
        json_object_set_new(body, "bootstrap", b);
        if ((rc = set_num(ctx, b, "replicates", "bootstrap", reps, true, 0, 1e9)) ||
            (rc = set_num(ctx, b, "seed", "seed", seed, true, 0, 9007199254740992.0)) ||
            (rc = set_num(ctx, b, "confidence", "confidence", conf, false, 0, 1)))
            return rc;
    }
    return CLI_EXIT_OK;
}

/* ---- output ------------------------------------------------------------------------------ */

static void print_obj_line(const char *label, const json_t *o, const char *const *keys)
{
    buf b = BUF_INIT;
    for (const char *const *k = keys; *k; k++) {
        const json_t *v = json_object_get(o, *k);
        if (!v)
            continue;
        buf_printf(&b, "%s%s=", b.n ? "  " : "", *k);
        if (json_is_real(v))
            buf_printf(&b, "%.4g", json_real_value(v));
        else
            cli_cell(&b, v);
    }
    if (b.n)
        printf("%s%.*s\n", label, (int)b.n, b.p);
    buf_free(&b);
}

static void print_evaluation(const json_t *e)
{
    static const char *const overall[] = {"n",       "accuracy", "precision", "recall",
                                          "f1",      "roc_auc",  "average_precision",
                                          "log_loss", "brier",   "ece",
                                          "rmse",    "mae",      "r2",        NULL};
    static const char *const summary[] = {"demographic_parity_difference",
                                          "demographic_parity_ratio",
                                          "equal_opportunity_difference",
                                          "equalized_odds_difference", "four_fifths_rule",
                                          "attribute", NULL};
    buf src = BUF_INIT;
    cli_cell(&src, json_object_get(e, "source"));
    printf("evaluation:  %s  %s  %s  source %.*s\n",
           json_string_value(json_object_get(e, "id")),
           json_string_value(json_object_get(e, "created_time")),
           json_string_value(json_object_get(e, "task")), (int)src.n, src.p ? src.p : "");
    buf_free(&src);
    print_obj_line("overall:     ", json_object_get(e, "overall"), overall);
    print_obj_line("fairness:    ", json_object_get(e, "summary"), summary);
    size_t ng = json_array_size(json_object_get(e, "groups"));
    if (ng) {
        static const char *const hdr[] = {"ATTRIBUTE", "VALUE", "N", "SELECTION_RATE", "TPR",
                                          "FPR", "FLAGS"};
        static const char *const keys[] = {"attribute", "value", "n", "selection_rate", "tpr",
                                           "fpr", "flags"};
        cli_table *t = cli_table_new(7, hdr);
        size_t i;
        json_t *g;
        json_array_foreach (json_object_get(e, "groups"), i, g) {
            const json_t *v[7];
            for (int k = 0; k < 7; k++)
                v[k] = json_object_get(g, keys[k]);
            cli_table_add_json(t, v, 7, 4);
        }
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
}

/* GET the report of evaluation id into path (path.part, then renamed). */
static int download_report(cli_ctx *ctx, strata_client *c, const char *id, const char *path)
{
    buf route = BUF_INIT, part = BUF_INIT;
    strata_response resp = STRATA_RESPONSE_INIT;
    strata_err err = STRATA_ERR_INIT;
    int rc = CLI_EXIT_OK;
    FILE *f = NULL;
    buf_append_str(&route, "/v1/evaluations/");
    strata_escape(&route, slice_of(id));
    buf_append_str(&route, "/report.html");
    buf_putc(&route, '\0');
    int st = strata_request(c, "GET", route.p, NULL, NULL, 0, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    buf_printf(&part, "%s.part", path);
    f = fopen(part.p, "wb");
    if (!f || (resp.body_len && fwrite(resp.body, 1, resp.body_len, f) != resp.body_len) ||
        fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "cannot write %s: %s", part.p, strerror(errno));
        goto out;
    }
    fclose(f);
    f = NULL;
    if (rename(part.p, path) != 0)
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "renaming %s to %s: %s", part.p, path,
                      strerror(errno));
out:
    if (f) {
        fclose(f);
        unlink(part.p);
    }
    strata_response_free(&resp);
    buf_free(&route);
    buf_free(&part);
    err_clear(&err);
    return rc;
}

static int get_evaluation(cli_ctx *ctx, strata_client *c, const char *id, json_t **out)
{
    strata_err err = STRATA_ERR_INIT;
    buf route = BUF_INIT;
    buf_append_str(&route, "/v1/evaluations/");
    strata_escape(&route, slice_of(id));
    buf_putc(&route, '\0');
    int st = strata_request_json(c, "GET", route.p, NULL, out, &err);
    int rc = st ? cli_fail_status(ctx, st, &err) : CLI_EXIT_OK;
    buf_free(&route);
    err_clear(&err);
    return rc;
}

/* ---- the commands ------------------------------------------------------------------------ */

static int run_evaluate(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *body = json_object(), *resp = NULL, *final = NULL, *ev = NULL;
    const char *report = cli_opt(a, "report");
    if ((rc = build_body(ctx, a, body)) || (rc = cli_client(ctx, &c)))
        goto out;
    const char *id = NULL;
    if ((rc = cli_job_submit(ctx, c, "/v1/evaluations", body, &resp, &id)))
        goto out;
    if (!cli_flag(a, "wait") && !report) {
        if (ctx->json)
            cli_print_json(resp);
        else
            printf("evaluation job %s started; follow it with: strata jobs show %s --wait\n", id,
                   id);
        goto out;
    }
    if ((rc = cli_job_wait(ctx, c, id, "evaluating", &final)))
        goto out;
    if ((rc = cli_job_outcome(ctx, final)))
        goto out;
    const char *eid =
        json_string_value(json_object_get(json_object_get(final, "result"), "evaluation_id"));
    if (!eid) {
        rc = cli_fail(ctx, CLI_EXIT_SERVER, "the evaluation job's result has no evaluation_id");
        goto out;
    }
    if ((rc = get_evaluation(ctx, c, eid, &ev)))
        goto out;
    if (report && (rc = download_report(ctx, c, eid, report)))
        goto out;
    if (ctx->json) {
        json_t *doc = json_pack("{s:O,s:O}", "job", final, "evaluation",
                                json_object_get(ev, "evaluation"));
        if (report)
            json_object_set_new(doc, "report", json_string(report));
        cli_print_json(doc);
        json_decref(doc);
    } else {
        print_evaluation(json_object_get(ev, "evaluation"));
        if (report)
            printf("report:      %s\n", report);
    }
out:
    json_decref(body);
    json_decref(resp);
    json_decref(final);
    json_decref(ev);
    err_clear(&err);
    return rc;
}

static int run_get(cli_ctx *ctx, const cli_args *a)
{
    strata_client *c = NULL;
    json_t *ev = NULL;
    const char *report = cli_opt(a, "report");
    int rc = cli_client(ctx, &c);
    if (rc || (rc = get_evaluation(ctx, c, a->pos[0], &ev)))
        goto out;
    if (report && (rc = download_report(ctx, c, a->pos[0], report)))
        goto out;
    if (ctx->json) {
        cli_print_json(ev);
    } else {
        print_evaluation(json_object_get(ev, "evaluation"));
        if (report)
            printf("report:      %s\n", report);
    }
out:
    json_decref(ev);
    return rc;
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
    buf path = BUF_INIT;
    json_t *all = json_array();
    const char *model = cli_opt(a, "model");
    buf_append_str(&path, "/v1/evaluations");
    if (model) {
        buf_append_str(&path, "?model=");
        strata_escape(&path, slice_of(model));
    }
    buf_putc(&path, '\0');
    int rc = cli_fetch_pages(ctx, path.p, "evaluations", UINT64_MAX, all);
    if (rc == CLI_EXIT_OK) {
        if (ctx->json) {
            json_t *doc = json_pack("{s:O,s:s}", "evaluations", all, "next_page_token", "");
            cli_print_json(doc);
            json_decref(doc);
        } else {
            static const char *const hdr[] = {"ID", "CREATED", "SOURCE", "TASK", "N",
                                              "FOUR_FIFTHS"};
            cli_table *t = cli_table_new(6, hdr);
            size_t i;
            json_t *e;
            json_array_foreach (all, i, e) {
                const json_t *v[6] = {json_object_get(e, "id"), json_object_get(e, "created_time"),
                                      json_object_get(e, "source"), json_object_get(e, "task"),
                                      json_object_get(e, "n"),
                                      json_object_get(json_object_get(e, "summary"),
                                                      "four_fifths_rule")};
                cli_table_add_json(t, v, 6, 0);
            }
            cli_table_print(t, stdout);
            cli_table_free(t);
        }
    }
    json_decref(all);
    buf_free(&path);
    return rc;
}

static const cli_option evaluate_opts[] = {
    {"model", "NAME", "evaluate this model, scoring --instances", false},
    {"version", "N", "with --model: version N (default: the latest)", false},
    {"alias", "A", "with --model: the version alias A points at", false},
    {"instances", "FILE", "with --model: the label rows (a path under the server's --import-dir)",
     false},
    {"instances-format", "F", "csv or jsonl (default: from FILE's name)", false},
    {"timestamp-column", "C", "the instances' (or predictions') column of each row's time",
     false},
    {"entity-column", "E=COL", "ids of entity E are in column COL (default E_id, else E)", true},
    {"as-of", "T", "read features as stored at T (RFC 3339)", false},
    {"predictions", "FILE", "evaluate predictions made elsewhere (CSV or JSONL on the server)",
     false},
    {"score-column", "C", "with --predictions: the score (probability or prediction) column",
     false},
    {"prediction-column", "C", "with --predictions: the predicted label column", false},
    {"inline", NULL, "send the local FILE (instances text, or JSONL predictions as rows)", false},
    {"label-column", "C", "the column of true labels (required)", false},
    {"task", "T", "binary_classification, multiclass_classification or regression", false},
    {"positive-label", "L", "the positive class of a binary task", false},
    {"group-by", "A,B", "group attributes: columns or entity:feature refs", true},
    {"intersections", NULL, "also every combination of the group attributes", false},
    {"reference", "ATTR=VALUE", "the reference group of an attribute (default: the largest)",
     true},
    {"threshold", "T", "decision threshold (default 0.5)", false},
    {"thresholds", "T,...", "thresholds of the sweep (default 0.00, 0.05, ... 1.00)", true},
    {"bootstrap", "N", "bootstrap replicates for confidence intervals (default 200; 0: none)",
     false},
    {"seed", "N", "bootstrap seed (default 1)", false},
    {"confidence", "C", "confidence of the intervals (default 0.95)", false},
    {"min-group-size", "N", "groups under N rows are flagged SMALL_GROUP (default 30)", false},
    {"report", "FILE", "write the HTML report to FILE (waits for the job)", false},
    {"wait", NULL, "wait for the job with a progress bar; exit 1 unless it SUCCEEDED", false},
    {NULL, NULL, NULL, false},
};

const cli_command cli_evaluate_command = {
    .name = "evaluate",
    .synopsis = NULL,
    .summary = "model quality and fairness metrics, with an HTML report (a job)",
    .details = "Examples:\n"
               "  strata evaluate --model credit --instances holdout.csv --timestamp-column ts \\\n"
               "      --label-column y --group-by applicant:sex,race --intersections \\\n"
               "      --reference applicant:sex=M --report report.html\n"
               "  strata evaluate --predictions scored.csv --label-column y --score-column s \\\n"
               "      --group-by sex --bootstrap 500 --seed 7 --wait --json",
    .options = evaluate_opts,
    .min_args = 0,
    .max_args = 0,
    .run = run_evaluate,
};

static const cli_option get_opts[] = {
    {"report", "FILE", "also write the HTML report to FILE", false},
    {NULL, NULL, NULL, false},
};
static const cli_option list_opts[] = {
    {"model", "NAME", "only evaluations of this model", false},
    {NULL, NULL, NULL, false},
};
static const cli_command evaluations_get = {.name = "get",
                                            .synopsis = "ID",
                                            .summary = "a stored evaluation (ev-N)",
                                            .options = get_opts,
                                            .min_args = 1,
                                            .max_args = 1,
                                            .run = run_get};
static const cli_command evaluations_list = {.name = "list",
                                             .synopsis = "",
                                             .summary = "stored evaluations, newest first",
                                             .options = list_opts,
                                             .run = run_list};
static const cli_command *const evaluations_subcommands[] = {&evaluations_list, &evaluations_get,
                                                             NULL};
const cli_command cli_evaluations_command = {
    .name = "evaluations",
    .summary = "stored evaluations: list, get",
    .subcommands = evaluations_subcommands,
};
