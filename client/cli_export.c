/*
 * cli_export.c - `strata export historical|snapshot|history`.
 *
 * With --out FILE the export streams from stratad into FILE on this machine:
 * written to FILE.part and renamed at the end, so FILE only ever appears
 * complete; a progress bar on a terminal counts bytes and rows. With
 * --destination PATH the server writes the file itself (under its
 * --export-dir) as a job; --wait follows the job.
 *
 * The streamed download goes through strata_request_stream (the client's
 * URL, token, CA bundle and TLS settings; the body is written as it comes).
 * Errors found before the first byte come back as the contract's JSON error;
 * a stream cut by the server after its head (an export that failed midway)
 * is reported as such and leaves no FILE.
 */
#include "client/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/text.h"
#include "client/progress.h"

#define INLINE_MAX_BYTES (LIMIT_DEFAULT_MAX_BODY_BYTES / 2)

/* ---- building the request -------------------------------------------------------------- */

int cli_read_inline(cli_ctx *ctx, const char *path, json_t **out)
{
    int rc = CLI_EXIT_OK;
    FILE *f = fopen(path, "rb");
    buf text = BUF_INIT;
    char chunk[65536];
    size_t n;
    if (!f)
        return cli_fail(ctx, CLI_EXIT_INPUT, "cannot open %s: %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (text.n + n > INLINE_MAX_BYTES) {
            rc = cli_fail(ctx, CLI_EXIT_INPUT,
                          "%s is over %u bytes: too big for --inline; copy it under the "
                          "server's --import-dir and name it without --inline",
                          path, INLINE_MAX_BYTES);
            goto out;
        }
        buf_append(&text, chunk, n);
    }
    if (ferror(f)) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "reading %s: %s", path, strerror(errno));
        goto out;
    }
    if (!text_valid_utf8(buf_slice(&text))) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT,
                      "%s is not valid UTF-8; --inline sends it as JSON text, so copy it under "
                      "the server's --import-dir instead",
                      path);
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

int cli_opt_list(cli_ctx *ctx, const cli_args *a, const char *name, json_t **out)
{
    const char *const *vals;
    size_t n = cli_opt_all(a, name, &vals);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *s = vals[i];
        while (*s) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            if (len) {
                json_t *v = json_stringn(s, len);
                if (!v) {
                    json_decref(arr);
                    return cli_usage_error(ctx, "--%s is not valid UTF-8", name);
                }
                json_array_append_new(arr, v);
            }
            s += len + (comma ? 1 : 0);
        }
    }
    *out = arr;
    return CLI_EXIT_OK;
}

static int set_time(cli_ctx *ctx, json_t *body, const cli_args *a, const char *opt,
                    const char *field)
{
    const char *v = cli_opt(a, opt);
    if (!v)
        return CLI_EXIT_OK;
    json_t *s = json_string(v);
    if (!s)
        return cli_usage_error(ctx, "--%s is not valid UTF-8", opt);
    json_object_set_new(body, field, s);
    return CLI_EXIT_OK;
}

/* ---- streaming into a local file ------------------------------------------------------- */

typedef struct download {
    FILE *f;
    const char *path;
    uint64_t bytes, rows;
    int format; /* 0 csv, 1 jsonl, 2 tfrecord */
    bool in_quotes, header_done;
    uint64_t tf_need; /* TFRecord: bytes left in the current frame */
    unsigned char tf_len[12];
    size_t tf_have;
    progress *bar;
    int write_errno;
} download;

static void count_rows(download *d, const char *p, size_t n)
{
    if (d->format == 2) {
        /* Frames: 8-byte length, 4-byte CRC, data, 4-byte CRC. */
        while (n) {
            if (d->tf_need == 0 && d->tf_have < 12) {
                size_t k = 12 - d->tf_have < n ? 12 - d->tf_have : n;
                memcpy(d->tf_len + d->tf_have, p, k);
                d->tf_have += k;
                p += k;
                n -= k;
                if (d->tf_have == 12) {
                    uint64_t len = 0;
                    for (int i = 7; i >= 0; i--)
                        len = len << 8 | d->tf_len[i];
                    d->tf_need = len + 4;
                    d->rows++;
                }
                continue;
            }
            size_t k = d->tf_need < n ? (size_t)d->tf_need : n;
            d->tf_need -= k;
            p += k;
            n -= k;
            if (d->tf_need == 0)
                d->tf_have = 0;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (d->format == 0 && p[i] == '"')
            d->in_quotes = !d->in_quotes;
        else if (p[i] == '\n' && !d->in_quotes) {
            if (d->format == 0 && !d->header_done)
                d->header_done = true;
            else
                d->rows++;
        }
    }
}

/* strata_request_stream's write: the 2xx body into FILE.part, counted. */
static int on_data(void *ud, const void *p, size_t n)
{
    download *d = ud;
    if (fwrite(p, 1, n, d->f) != n) {
        d->write_errno = errno;
        return -1;
    }
    d->bytes += n;
    count_rows(d, p, n);
    progress_update(d->bar, d->bytes);
    return 0;
}

static int stream_to_file(cli_ctx *ctx, strata_client *c, const char *route, const json_t *body,
                          const char *out, int format)
{
    int rc = CLI_EXIT_OK;
    download d = {.path = out, .format = format};
    buf part = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    long http = 0;
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return cli_fail(ctx, CLI_EXIT_INPUT, "out of memory");
    buf_printf(&part, "%s.part", out);
    d.f = fopen(part.p, "wb");
    if (!d.f) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "cannot write %s: %s", part.p, strerror(errno));
        goto out;
    }
    /* An export may think for a while before its first byte (it reads every
     * instance row first): the stream has no overall timeout, but a stalled
     * connection (under 1 byte/s for the --timeout) still fails. */
    d.bar = progress_open(stderr, "exporting", "B", 0);
    int st = strata_request_stream(c, "POST", route, "application/json", text, strlen(text),
                                   on_data, &d, &http, &err);
    progress_close(d.bar);
    d.bar = NULL;
    if (d.write_errno) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "writing %s: %s", part.p, strerror(d.write_errno));
        goto out;
    }
    if (st == STRATA_IO && http >= 200 && http <= 299) {
        rc = cli_fail(ctx, CLI_EXIT_SERVER,
                      "the export failed on the server after %llu bytes (%s); %s was not "
                      "written (see stratad's log)",
                      (unsigned long long)d.bytes, err.message, out);
        goto out;
    }
    if (st) {
        /* A refusal (the server's message), or stratad not reached. */
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (fflush(d.f) != 0 || fsync(fileno(d.f)) != 0) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "writing %s: %s", part.p, strerror(errno));
        goto out;
    }
    fclose(d.f);
    d.f = NULL;
    if (rename(part.p, out) != 0) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "renaming %s to %s: %s", part.p, out, strerror(errno));
        goto out;
    }
    if (ctx->json) {
        json_t *doc = json_pack("{s:s,s:I,s:I}", "path", out, "rows", (json_int_t)d.rows, "bytes",
                                (json_int_t)d.bytes);
        cli_print_json(doc);
        json_decref(doc);
    } else {
        char amount[32];
        progress_format_amount(d.bytes, "B", amount, sizeof amount);
        printf("exported %llu rows (%s) to %s\n", (unsigned long long)d.rows, amount, out);
    }
out:
    if (d.f) {
        fclose(d.f);
        unlink(part.p);
    }
    progress_close(d.bar);
    free(text);
    buf_free(&part);
    err_clear(&err);
    return rc;
}

/* ---- the commands ----------------------------------------------------------------------- */

static int format_index(const char *f)
{
    return f && strcmp(f, "jsonl") == 0 ? 1 : f && strcmp(f, "tfrecord") == 0 ? 2 : 0;
}

/* Common tail: --format, --as-of, --destination/--out; then run. */
static int finish(cli_ctx *ctx, const cli_args *a, const char *route, json_t *body,
                  const char *label)
{
    int rc;
    strata_client *c = NULL;
    json_t *resp = NULL, *final = NULL;
    const char *format = cli_opt(a, "format");
    const char *out = cli_opt(a, "out");
    const char *dest = cli_opt(a, "destination");
    bool wait = cli_flag(a, "wait");
    if (cli_flag(a, "server-path")) {
        /* --out names the file on the server: a job, waited for. */
        if (dest)
            return cli_usage_error(ctx, "--server-path takes the path from --out; drop "
                                        "--destination");
        dest = out;
        out = NULL;
        wait = true;
    }
    if (format && strcmp(format, "csv") && strcmp(format, "jsonl") && strcmp(format, "tfrecord"))
        return cli_usage_error(ctx, "--format takes csv, jsonl or tfrecord, not '%s'", format);
    if ((out != NULL) == (dest != NULL))
        return cli_usage_error(ctx, "give exactly one of --out FILE (stream to this machine) and "
                                    "--destination PATH (the server writes the file)");
    if (format)
        json_object_set_new(body, "format", json_string(format));
    if ((rc = set_time(ctx, body, a, "as-of", "as_of")))
        return rc;
    if (dest) {
        json_t *d = json_object();
        json_t *ps = json_string(dest);
        if (!ps) {
            json_decref(d);
            return cli_usage_error(ctx, "--destination is not valid UTF-8");
        }
        json_object_set_new(d, "path", ps);
        if (cli_flag(a, "overwrite"))
            json_object_set_new(d, "overwrite", json_true());
        json_object_set_new(body, "destination", d);
    }
    if ((rc = cli_client(ctx, &c)))
        return rc;
    if (out) {
        int fi = format_index(format);
        if (!format) {
            size_t n = strlen(out);
            if (n > 6 && strcmp(out + n - 6, ".jsonl") == 0)
                fi = 1;
            else if (n > 9 && strcmp(out + n - 9, ".tfrecord") == 0)
                fi = 2;
            if (fi)
                json_object_set_new(body, "format", json_string(fi == 1 ? "jsonl" : "tfrecord"));
        }
        return stream_to_file(ctx, c, route, body, out, fi);
    }
    const char *id = NULL;
    if ((rc = cli_job_submit(ctx, c, route, body, &resp, &id)))
        goto out;
    if (!wait) {
        if (ctx->json)
            cli_print_json(resp);
        else
            printf("export job %s started; follow it with: strata jobs show %s --wait\n", id, id);
        goto out;
    }
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
    json_decref(resp);
    json_decref(final);
    return rc;
}

static int run_historical(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    json_t *body = json_object(), *inst = json_object(), *features = NULL, *cols = NULL;
    const char *file = cli_opt(a, "instances");
    const char *ts = cli_opt(a, "timestamp-column");
    const char *ifmt = cli_opt(a, "instances-format");
    if (!file || !ts) {
        rc = cli_usage_error(ctx, "--instances FILE and --timestamp-column C are required");
        goto out;
    }
    if (ifmt && strcmp(ifmt, "csv") && strcmp(ifmt, "jsonl")) {
        rc = cli_usage_error(ctx, "--instances-format takes csv or jsonl");
        goto out;
    }
    if ((rc = cli_opt_list(ctx, a, "features", &features)))
        goto out;
    if (json_array_size(features) == 0) {
        rc = cli_usage_error(ctx, "--features a:b,c:d is required");
        goto out;
    }
    if (!ifmt) {
        size_t n = strlen(file);
        ifmt = (n > 6 && strcmp(file + n - 6, ".jsonl") == 0) ||
                       (n > 7 && strcmp(file + n - 7, ".ndjson") == 0)
                   ? "jsonl"
                   : "csv";
    }
    if (cli_flag(a, "inline")) {
        json_t *text = NULL;
        if ((rc = cli_read_inline(ctx, file, &text)))
            goto out;
        json_object_set_new(inst, "inline", text);
    } else {
        json_t *p = json_string(file);
        if (!p) {
            rc = cli_usage_error(ctx, "--instances is not valid UTF-8");
            goto out;
        }
        json_object_set_new(inst, "path", p);
    }
    json_object_set_new(inst, "format", json_string(ifmt));
    json_object_set(body, "instances", inst);
    json_object_set_new(body, "timestamp_column", json_string(ts));
    json_object_set(body, "features", features);
    const char *const *maps;
    size_t nmaps = cli_opt_all(a, "entity-column", &maps);
    for (size_t i = 0; i < nmaps; i++) {
        const char *eq = strchr(maps[i], '=');
        if (!eq || eq == maps[i] || !eq[1]) {
            rc = cli_usage_error(ctx, "invalid --entity-column '%s': expected ENTITY=COLUMN",
                                 maps[i]);
            goto out;
        }
        if (!cols)
            cols = json_object();
        char *ent = strndup(maps[i], (size_t)(eq - maps[i]));
        json_t *col = json_string(eq + 1);
        if (!ent || !col || json_object_set_new(cols, ent, col)) {
            free(ent);
            rc = cli_usage_error(ctx, "invalid --entity-column '%s'", maps[i]);
            goto out;
        }
        free(ent);
    }
    if (cols)
        json_object_set(body, "entity_columns", cols);
    const char *unit = cli_opt(a, "time-unit");
    if (unit)
        json_object_set_new(body, "time_unit", json_string(unit));
    rc = finish(ctx, a, "/v1/exports:historical", body, "exporting");
out:
    json_decref(body);
    json_decref(inst);
    json_decref(features);
    json_decref(cols);
    return rc;
}

static int run_entity_kind(cli_ctx *ctx, const cli_args *a, bool snapshot)
{
    int rc;
    json_t *body = json_object(), *features = NULL;
    json_t *e = json_string(a->pos[0]);
    if (!e) {
        rc = cli_usage_error(ctx, "ENTITY is not valid UTF-8");
        goto out;
    }
    json_object_set_new(body, "entity", e);
    if ((rc = cli_opt_list(ctx, a, "features", &features)))
        goto out;
    if (json_array_size(features))
        json_object_set(body, "features", features);
    if (snapshot)
        rc = set_time(ctx, body, a, "snapshot-time", "snapshot_time");
    else if ((rc = set_time(ctx, body, a, "start", "start_time")) == 0)
        rc = set_time(ctx, body, a, "end", "end_time");
    if (rc)
        goto out;
    rc = finish(ctx, a, snapshot ? "/v1/exports:snapshot" : "/v1/exports:history", body,
                "exporting");
out:
    json_decref(body);
    json_decref(features);
    return rc;
}

static int run_snapshot(cli_ctx *ctx, const cli_args *a)
{
    return run_entity_kind(ctx, a, true);
}

static int run_history(cli_ctx *ctx, const cli_args *a)
{
    return run_entity_kind(ctx, a, false);
}

/* clang-format off */
#define COMMON_OPTS                                                                                \
    {"format", "F", "csv (default), jsonl or tfrecord", false},                                    \
    {"as-of", "T", "only versions created at or before T (RFC 3339): reproducible output", false}, \
    {"out", "FILE", "stream the export into FILE on this machine (FILE.part until done)", false},  \
    {"destination", "PATH", "let the server write PATH under its --export-dir (a job)", false},    \
    {"overwrite", NULL, "with --destination: replace an existing file", false},                    \
    {"server-path", NULL, "--out names a file on the server (as --destination, waited for)", false}, \
    {"wait", NULL, "with --destination: wait for the job, with a progress bar", false}
/* clang-format on */

static const cli_option historical_opts[] = {
    {"instances", "FILE", "the instances (label rows): a path under the server's --import-dir",
     false},
    {"inline", NULL, "send the local FILE's contents instead", false},
    {"instances-format", "F", "csv or jsonl (default: from FILE's name)", false},
    {"features", "E:F,...", "feature refs entity:feature, comma separated", true},
    {"timestamp-column", "C", "the instances' column holding each row's time", false},
    {"entity-column", "E=COL", "ids of entity E are in column COL (default E_id, else E)", true},
    {"time-unit", "U", "timestamps in the instances: rfc3339 (default), seconds, millis, micros",
     false},
    COMMON_OPTS,
    {NULL, NULL, NULL, false},
};

static const cli_option snapshot_opts[] = {
    {"features", "F,...", "features of ENTITY (default: all)", true},
    {"snapshot-time", "T", "the time to read at (RFC 3339; default now)", false},
    COMMON_OPTS,
    {NULL, NULL, NULL, false},
};

static const cli_option history_opts[] = {
    {"features", "F,...", "features of ENTITY (default: all)", true},
    {"start", "T", "first event time included (RFC 3339)", false},
    {"end", "T", "first event time excluded (RFC 3339)", false},
    COMMON_OPTS,
    {NULL, NULL, NULL, false},
};

static const cli_command historical_cmd = {
    .name = "historical",
    .synopsis = NULL,
    .summary = "point-in-time correct training data for label rows",
    .details = "One output row per instance row, in order: the instance's columns, then one\n"
               "column entity__feature per feature holding the newest version at the row's time.\n"
               "Examples:\n"
               "  strata export historical --instances labels.csv --features customer:age \\\n"
               "      --timestamp-column ts --out train.csv\n"
               "  strata export historical --instances ./labels.csv --inline --features "
               "customer:age,customer:city \\\n"
               "      --timestamp-column ts --as-of 2024-06-01T00:00:00Z --format tfrecord "
               "--out train.tfrecord\n"
               "  strata export historical --instances labels.csv --features customer:age \\\n"
               "      --timestamp-column ts --destination train.csv --wait",
    .options = historical_opts,
    .min_args = 0,
    .max_args = 0,
    .run = run_historical,
};

static const cli_command snapshot_cmd = {
    .name = "snapshot",
    .synopsis = "ENTITY",
    .summary = "the newest value of each feature for every id of ENTITY",
    .details = "Example: strata export snapshot customer --features age,city --out customers.csv",
    .options = snapshot_opts,
    .min_args = 1,
    .max_args = 1,
    .run = run_snapshot,
};

static const cli_command history_cmd = {
    .name = "history",
    .synopsis = "ENTITY",
    .summary = "every stored version of ENTITY's features in a time range",
    .details = "Example: strata export history customer --start 2024-01-01T00:00:00Z --out h.csv",
    .options = history_opts,
    .min_args = 1,
    .max_args = 1,
    .run = run_history,
};

static const cli_command *const export_subcommands[] = {&historical_cmd, &snapshot_cmd,
                                                        &history_cmd, NULL};

const cli_command cli_export_command = {
    .name = "export",
    .synopsis = "historical|snapshot|history",
    .summary = "export training data or snapshots (streamed to --out, or a job)",
    .subcommands = export_subcommands,
};
