/*
 * cli_data.c - `strata write` (JSONL rows in batches) and `strata get`
 * (online read of one id).
 *
 * write: every non-blank line of the input is one row object as in the
 * contract's write body. Rows are sent in batches, each one atomic request;
 * a batch closes at --batch-size rows, or earlier when it reaches the
 * daemon's default per-request value or body limits (base/limits.h), so the
 * default settings never trip a 413. Input is streamed: memory holds one
 * batch, whatever the file size. When a batch is refused, the earlier batches
 * stay written and the error line says how far the input got.
 */
#include "client/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "base/limits.h"
#include "base/text.h"
#include "client/progress.h"

#define WRITE_BATCH_ROWS 1000u
/* A quarter of the daemon's default body cap: room for JSON re-encoding. */
#define WRITE_BATCH_BYTES (LIMIT_DEFAULT_MAX_BODY_BYTES / 4)

/* ---- write ------------------------------------------------------------------- */

struct writer {
    cli_ctx *ctx;
    strata_client *client;
    const char *entity;
    const char *source;  /* file name for messages ("stdin" for -) */
    json_t *rows;        /* the open batch */
    size_t *lines;       /* input line of each row in the batch */
    size_t batch_values; /* values in the open batch */
    size_t batch_bytes;
    uint64_t rows_written;
    uint64_t values_written;
    uint64_t requests;
    size_t last_line_written; /* last input line of the last accepted batch */
};

/* The input line of the row a server error detail names, or 0. */
static size_t detail_line(const struct writer *w, const strata_err *err)
{
    static const char *const keys[] = {"row", "index", "row_index"};
    const json_t *d = json_array_get(err->details, 0);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const json_t *i = json_object_get(d, keys[k]);
        if (json_is_integer(i) && json_integer_value(i) >= 0 &&
            (size_t)json_integer_value(i) < json_array_size(w->rows))
            return w->lines[json_integer_value(i)];
    }
    return 0;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* How much got in before a failure, for the one-line error. */
static void written_note(const struct writer *w, char *out, size_t cap)
{
    if (w->requests == 0)
        snprintf(out, cap, "; nothing was written");
    else if (w->last_line_written == 1)
        snprintf(out, cap, "; only line 1 was written (1 row, %llu %s)",
                 (unsigned long long)w->values_written,
                 plural(w->values_written, "value", "values"));
    else
        snprintf(out, cap, "; only lines 1-%zu were written (%llu %s, %llu %s)",
                 w->last_line_written, (unsigned long long)w->rows_written,
                 plural(w->rows_written, "row", "rows"), (unsigned long long)w->values_written,
                 plural(w->values_written, "value", "values"));
}

static int flush_batch(struct writer *w)
{
    int rc = CLI_EXIT_OK;
    strata_err err = STRATA_ERR_INIT;
    uint64_t n = 0;
    size_t rows = json_array_size(w->rows);
    if (rows == 0)
        return CLI_EXIT_OK;
    int st = strata_write(w->client, w->entity, w->rows, &n, &err);
    if (st) {
        char note[160], where[160] = "";
        size_t line = err.details ? detail_line(w, &err) : 0;
        /* Point into the input when the refusal is about the data: the bad row
         * if the server named it, else the batch's line range. */
        if (line)
            snprintf(where, sizeof where, "%s:%zu: ", w->source, line);
        else if (st == STRATA_INVALID_ARGUMENT || st == STRATA_RESOURCE_EXHAUSTED)
            snprintf(where, sizeof where, "%s:%zu-%zu: ", w->source, w->lines[0],
                     w->lines[rows - 1]);
        /* A refused first batch: the request was atomic, nothing landed, and the
         * server's message says so already. */
        note[0] = '\0';
        if (w->requests)
            written_note(w, note, sizeof note);
        rc = cli_fail(w->ctx, cli_exit_for_status(st), "%s%s%s", where,
                      err.message[0] ? err.message : strata_strerror(st), note);
        goto out;
    }
    w->requests++;
    w->rows_written += rows;
    w->values_written += n;
    w->last_line_written = w->lines[rows - 1];
    json_array_clear(w->rows);
    w->batch_values = 0;
    w->batch_bytes = 0;
out:
    err_clear(&err);
    return rc;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static int run_write(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    struct writer w = {ctx, NULL, a->pos[0], "stdin", NULL, NULL, 0, 0, 0, 0, 0, 0};
    const char *path = a->npos > 1 ? a->pos[1] : "-";
    const char *bs = cli_opt(a, "batch-size");
    uint64_t batch_rows = WRITE_BATCH_ROWS;
    FILE *in = NULL;
    progress *bar = NULL;
    char *line = NULL;
    size_t line_cap = 0, line_no = 0;
    uint64_t consumed = 0;
    struct stat sb;
    char label[96];

    if (bs && (text_parse_u64(slice_of(bs), &batch_rows) || batch_rows == 0 ||
               batch_rows > LIMIT_DEFAULT_MAX_VALUES_PER_WRITE)) {
        rc = cli_usage_error(ctx, "invalid --batch-size '%s': expected 1..%u rows", bs,
                             LIMIT_DEFAULT_MAX_VALUES_PER_WRITE);
        goto out;
    }
    if (strcmp(path, "-") == 0) {
        in = stdin;
    } else {
        in = fopen(path, "rb");
        w.source = path;
        if (!in) {
            rc = cli_fail(ctx, CLI_EXIT_INPUT, "cannot open %s: %s", path, strerror(errno));
            goto out;
        }
    }
    if ((rc = cli_client(ctx, &w.client)))
        goto out;
    w.rows = json_array();
    w.lines = calloc((size_t)batch_rows, sizeof *w.lines);
    if (!w.lines) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "out of memory");
        goto out;
    }
    snprintf(label, sizeof label, "writing %s", w.entity);
    bar = progress_open(stderr, label, "B",
                        fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size
                                                                           : 0);
    for (;;) {
        errno = 0;
        ssize_t len = getline(&line, &line_cap, in);
        if (len < 0)
            break;
        line_no++;
        consumed += (uint64_t)len;
        if (blank(line, (size_t)len))
            continue;
        if ((size_t)len > LIMIT_DEFAULT_MAX_BODY_BYTES) {
            char note[160];
            written_note(&w, note, sizeof note);
            rc = cli_fail(ctx, CLI_EXIT_INPUT, "%s:%zu: line longer than %u bytes%s", w.source,
                          line_no, LIMIT_DEFAULT_MAX_BODY_BYTES, note);
            goto out;
        }
        json_error_t jerr;
        json_t *row = json_loadb(line, (size_t)len, JSON_ALLOW_NUL, &jerr);
        if (!row || !json_is_object(row)) {
            char note[160];
            written_note(&w, note, sizeof note);
            rc = cli_fail(ctx, CLI_EXIT_INPUT, "%s:%zu: %s%s", w.source, line_no,
                          row ? "a row must be a JSON object" : jerr.text, note);
            json_decref(row);
            goto out;
        }
        w.lines[json_array_size(w.rows)] = line_no;
        w.batch_values += json_object_size(json_object_get(row, "values"));
        w.batch_bytes += (size_t)len;
        json_array_append_new(w.rows, row);
        if (json_array_size(w.rows) >= batch_rows ||
            w.batch_values >= LIMIT_DEFAULT_MAX_VALUES_PER_WRITE / 2 ||
            w.batch_bytes >= WRITE_BATCH_BYTES) {
            if ((rc = flush_batch(&w)))
                goto out;
            progress_update(bar, consumed);
        }
    }
    if (ferror(in)) {
        char note[160];
        written_note(&w, note, sizeof note);
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "reading %s: %s%s", w.source, strerror(errno), note);
        goto out;
    }
    if ((rc = flush_batch(&w)))
        goto out;
    progress_update(bar, consumed);
    progress_close(bar);
    bar = NULL;
    if (ctx->json) {
        json_t *j = json_pack("{sIsIsI}", "written_values", (json_int_t)w.values_written, "rows",
                              (json_int_t)w.rows_written, "requests", (json_int_t)w.requests);
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("wrote %llu %s (%llu %s in %llu %s) to %s\n", (unsigned long long)w.values_written,
               plural(w.values_written, "value", "values"), (unsigned long long)w.rows_written,
               plural(w.rows_written, "row", "rows"), (unsigned long long)w.requests,
               plural(w.requests, "request", "requests"), w.entity);
    }
out:
    progress_close(bar);
    free(line);
    free(w.lines);
    json_decref(w.rows);
    if (in && in != stdin)
        fclose(in);
    return rc;
}

static const cli_option write_opts[] = {
    {"batch-size", "N", "rows per request (default 1000); each request is atomic", false},
    {NULL, NULL, NULL, false},
};

const cli_command cli_write_command = {
    .name = "write",
    .synopsis = "ENTITY [FILE|-]",
    .summary = "write feature values from JSONL rows",
    .details =
        "Each line of FILE (default '-': standard input) is one row:\n"
        "  {\"entity_id\":\"c1\",\"event_time\":\"2024-01-02T03:04:05Z\",\"values\":{\"age\":31}}\n"
        "(event_time and created_time are optional). Rows go in batches, one atomic request\n"
        "each; if a batch is refused, earlier batches stay written and the error says which\n"
        "lines were. A progress bar shows on stderr when it is a terminal.",
    .options = write_opts,
    .min_args = 1,
    .max_args = 2,
    .run = run_write,
};

/* ---- get --------------------------------------------------------------------- */

static int run_get(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    buf line = BUF_INIT;
    const char *key;
    const json_t *f;
    size_t width = 0;

    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_online_get(c, a->pos[0], a->pos[1], a->pos + 2, a->npos - 2, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json) {
        cli_print_json(resp);
        goto out;
    }
    const json_t *features = json_object_get(resp, "features");
    if (!json_is_object(features)) {
        rc = cli_fail(ctx, CLI_EXIT_SERVER, "stratad's answer has no \"features\" object");
        goto out;
    }
    if (json_object_size(features) == 0)
        printf("no features\n");
    json_object_foreach ((json_t *)features, key, f) {
        if (strlen(key) > width)
            width = strlen(key);
    }
    json_object_foreach ((json_t *)features, key, f) {
        const json_t *value = json_object_get(f, "value");
        buf_reset(&line);
        cli_append_clean(&line, key, strlen(key));
        for (size_t n = strlen(key); n < width; n++)
            buf_putc(&line, ' ');
        buf_append_str(&line, " = ");
        /* JSON form: strings keep their quotes, so "31" and 31 stay distinguishable. */
        cli_append_json(&line, value ? value : json_null());
        buf_append_str(&line, "  (");
        cli_cell(&line, json_object_get(f, "event_time"));
        buf_append_str(&line, ", ");
        cli_cell(&line, json_object_get(f, "status"));
        buf_append_str(&line, ")\n");
        fwrite(line.p, 1, line.n, stdout);
    }
out:
    buf_free(&line);
    json_decref(resp);
    err_clear(&err);
    return rc;
}

const cli_command cli_get_command = {
    .name = "get",
    .synopsis = "ENTITY ID [FEATURE...]",
    .summary = "read the newest values of one entity id (online read)",
    .details = "Prints one line per feature: 'feature = value  (event_time, STATUS)'. STATUS is\n"
               "PRESENT, NULL_VALUE, NOT_FOUND or OUTSIDE_MAX_AGE. Without FEATUREs, all features.",
    .min_args = 2,
    .max_args = -1,
    .run = run_get,
};
