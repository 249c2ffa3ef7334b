/*
 * cli_import.c - `strata import ENTITY FILE`: start an import job
 * (POST /v1/imports) and, with --wait, follow it to the end.
 *
 * FILE is a path on the server, under its --import-dir (relative to it, or
 * absolute). With --inline the CLI reads FILE locally and sends its text in
 * the request (source.inline); the daemon's body and line limits apply, and
 * the text must be UTF-8 because it travels inside JSON.
 */
#include "client/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "base/limits.h"
#include "base/text.h"

/* Room for the JSON around the text and its escapes, under the default body cap. */
#define INLINE_MAX_BYTES (LIMIT_DEFAULT_MAX_BODY_BYTES / 2)

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Read a local file for --inline: bounded, and UTF-8 (it travels as a JSON string). */
static int read_inline(cli_ctx *ctx, const char *path, json_t **out)
{
    int rc = CLI_EXIT_OK;
    FILE *f = fopen(path, "rb");
    buf text = BUF_INIT;
    struct stat sb;
    char chunk[65536];
    if (!f)
        return cli_fail(ctx, CLI_EXIT_INPUT, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) &&
        (uint64_t)sb.st_size > INLINE_MAX_BYTES) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT,
                      "%s holds %lld bytes, too many for --inline (at most %u); copy it under "
                      "the server's --import-dir and import it by path",
                      path, (long long)sb.st_size, INLINE_MAX_BYTES);
        goto out;
    }
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (text.n + n > INLINE_MAX_BYTES) {
            rc = cli_fail(ctx, CLI_EXIT_INPUT, "%s is over %u bytes: too big for --inline", path,
                          INLINE_MAX_BYTES);
            goto out;
        }
        buf_append(&text, chunk, n);
    }
    if (ferror(f)) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "reading %s: %s", path, strerror(errno));
        goto out;
    }
    if (!text_valid_utf8(buf_slice(&text))) {
        size_t line = 1, good = 0;
        /* Name the first line that is not UTF-8. */
        for (size_t i = 0, start = 0; i <= text.n; i++) {
            if (i == text.n || text.p[i] == '\n') {
                if (!text_valid_utf8((slice){text.p + start, i - start})) {
                    good = line;
                    break;
                }
                line++;
                start = i + 1;
            }
        }
        rc = cli_fail(ctx, CLI_EXIT_INPUT,
                      "%s:%zu: not valid UTF-8; --inline sends the file as JSON text, so copy "
                      "the file under the server's --import-dir and import it by path instead",
                      path, good ? good : line);
        goto out;
    }
    *out = json_stringn(text.p ? text.p : "", text.n);
    if (!*out)
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "out of memory");
out:
    buf_free(&text);
    fclose(f);
    return rc;
}

static int run_import(cli_ctx *ctx, const cli_args *a)
{
    int rc = CLI_EXIT_OK;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *body = json_object(), *source = json_object(), *resp = NULL, *final = NULL;
    json_t *columns = NULL;
    const char *entity = a->pos[0], *file = a->pos[1];
    const char *format = cli_opt(a, "format");
    const char *on_error = cli_opt(a, "on-error");
    const char *unit = cli_opt(a, "time-unit");
    static const struct {
        const char *opt, *field;
    } strings[] = {{"id-column", "entity_id_column"},
                   {"time-column", "event_time_column"},
                   {"created-column", "created_time_column"}};

    if (format && strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0) {
        rc = cli_usage_error(ctx, "--format takes csv or jsonl, not '%s'", format);
        goto out;
    }
    if (on_error && strcmp(on_error, "skip_row") != 0 && strcmp(on_error, "fail") != 0) {
        rc = cli_usage_error(ctx, "--on-error takes skip_row or fail, not '%s'", on_error);
        goto out;
    }
    if (unit && strcmp(unit, "rfc3339") != 0 && strcmp(unit, "seconds") != 0 &&
        strcmp(unit, "millis") != 0 && strcmp(unit, "micros") != 0) {
        rc = cli_usage_error(ctx, "--time-unit takes rfc3339, seconds, millis or micros");
        goto out;
    }
    if (!format)
        format = has_suffix(file, ".jsonl") || has_suffix(file, ".ndjson") ? "jsonl" : "csv";
    const char *const *maps;
    size_t nmaps = cli_opt_all(a, "column", &maps);
    for (size_t i = 0; i < nmaps; i++) {
        const char *eq = strchr(maps[i], '=');
        if (!eq || eq == maps[i] || !eq[1]) {
            rc = cli_usage_error(ctx, "invalid --column '%s': expected FEATURE=COLUMN", maps[i]);
            goto out;
        }
        if (!columns)
            columns = json_object();
        char *feature = strndup(maps[i], (size_t)(eq - maps[i]));
        json_t *col = json_string(eq + 1);
        if (!feature || !col || json_object_set_new(columns, feature, col)) {
            free(feature);
            rc = cli_usage_error(ctx, "invalid --column '%s': not UTF-8", maps[i]);
            goto out;
        }
        free(feature);
    }

    json_object_set_new(body, "entity", json_string(entity));
    json_object_set_new(body, "format", json_string(format));
    if (cli_flag(a, "inline")) {
        json_t *text = NULL;
        if ((rc = read_inline(ctx, file, &text)))
            goto out;
        json_object_set_new(source, "inline", text);
    } else {
        json_t *p = json_string(file);
        if (!p) {
            rc = cli_usage_error(ctx, "FILE is not valid UTF-8");
            goto out;
        }
        json_object_set_new(source, "path", p);
    }
    json_object_set(body, "source", source);
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const char *v = cli_opt(a, strings[i].opt);
        if (v)
            json_object_set_new(body, strings[i].field, json_string(v));
    }
    if (unit)
        json_object_set_new(body, "time_unit", json_string(unit));
    if (on_error)
        json_object_set_new(body, "on_error", json_string(on_error));
    if (cli_flag(a, "create-features"))
        json_object_set_new(body, "create_features", json_true());
    if (columns)
        json_object_set(body, "columns", columns);

    if ((rc = cli_client(ctx, &c)))
        goto out;
    const char *id = NULL;
    if ((rc = cli_job_submit(ctx, c, "/v1/imports", body, &resp, &id)))
        goto out;
    if (!cli_flag(a, "wait")) {
        if (ctx->json)
            cli_print_json(resp);
        else
            printf("import job %s started; follow it with: strata jobs show %s --wait\n", id, id);
        goto out;
    }
    char label[96];
    snprintf(label, sizeof label, "importing %s", entity);
    if ((rc = cli_job_wait(ctx, c, id, label, &final)))
        goto out;
    if (ctx->json) {
        json_t *doc = json_pack("{s:O}", "job", final);
        cli_print_json(doc);
        json_decref(doc);
    } else {
        cli_job_print(final);
    }
    rc = cli_job_outcome(ctx, final);
out:
    json_decref(body);
    json_decref(source);
    json_decref(columns);
    json_decref(resp);
    json_decref(final);
    err_clear(&err);
    return rc;
}

static const cli_option import_opts[] = {
    {"format", "F", "csv or jsonl (default: from the file name, else csv)", false},
    {"id-column", "C", "column holding entity ids (default ENTITY_id, else entity_id)", false},
    {"time-column", "C", "column holding event times (default: the import time)", false},
    {"created-column", "C", "column holding created times (default: the commit time)", false},
    {"time-unit", "U", "rfc3339 (default), seconds, millis or micros", false},
    {"column", "F=COL", "read feature F from column COL (default: same-named columns)", true},
    {"create-features", NULL, "create features for unknown columns, inferring their types", false},
    {"on-error", "MODE", "fail (default: a bad row fails the job, nothing lands) or skip_row",
     false},
    {"inline", NULL, "send FILE's contents instead of naming a file on the server", false},
    {"wait", NULL,
     "wait for the job, with a progress bar on a terminal; exit 1 unless it "
     "SUCCEEDED",
     false},
    {NULL, NULL, NULL, false},
};

const cli_command cli_import_command = {
    .name = "import",
    .synopsis = "ENTITY FILE",
    .summary = "import feature values from a CSV or JSONL file (a job)",
    .details = "FILE is a path on the server under its --import-dir, relative to it or absolute;\n"
               "with --inline it is a local file whose text is sent in the request.\n"
               "The job reads the file, writes the good rows and reports each rejected row with\n"
               "its line number. Without --wait the command prints the job id and returns.\n"
               "Examples:\n"
               "  strata import customer customers.csv --time-column ts --wait\n"
               "  strata import customer events.jsonl --time-unit millis --on-error skip_row\n"
               "  strata import customer ./local.csv --inline --create-features --wait",
    .options = import_opts,
    .min_args = 2,
    .max_args = 2,
    .run = run_import,
};
