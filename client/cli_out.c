/*
 * cli_out.c - human and JSON output of the strata CLI: cells, aligned
 * tables, "key: value" blocks, and label parsing.
 *
 * Everything printed for humans passes through cli_append_clean(): text that
 * came from the server (descriptions, labels, ids) may hold terminal control
 * sequences, and a table must never let them reach the terminal.
 */
#include "client/cli.h"

#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

/* Longer cells are cut with "..." so one long description cannot wreck a table. */
#define CELL_MAX_CHARS 60

void cli_print_json(const json_t *j)
{
    buf b = BUF_INIT;
    client_json_write(&b, j);
    buf_putc(&b, '\n');
    fwrite(b.p, 1, b.n, stdout);
    buf_free(&b);
}

void cli_append_clean(buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f) {
            buf_putc(out, '?');
        } else if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
            buf_putc(out, '?'); /* a C1 control (U+0080..U+009F), e.g. CSI */
            i++;
        } else {
            buf_putc(out, (char)p[i]);
        }
    }
}

void cli_append_json(buf *out, const json_t *v)
{
    buf tmp = BUF_INIT;
    client_json_write(&tmp, v);
    cli_append_clean(out, tmp.p, tmp.n);
    buf_free(&tmp);
}

void cli_cell(buf *out, const json_t *v)
{
    if (!v || json_is_null(v)) {
        buf_putc(out, '-');
    } else if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            buf_putc(out, '-');
        else
            cli_append_clean(out, json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        const char *key;
        const json_t *x;
        size_t i = 0;
        json_object_foreach ((json_t *)v, key, x) {
            if (i++)
                buf_append_str(out, ", ");
            cli_append_clean(out, key, strlen(key));
            buf_putc(out, '=');
            if (json_is_string(x))
                cli_append_clean(out, json_string_value(x), json_string_length(x));
            else
                cli_append_json(out, x);
        }
        if (i == 0)
            buf_putc(out, '-');
    } else {
        cli_append_json(out, v);
    }
}

void cli_print_fields(FILE *out, const json_t *obj, const char *skip)
{
    const char *key;
    const json_t *v;
    size_t width = 0;
    buf line = BUF_INIT;
    json_object_foreach ((json_t *)obj, key, v) {
        if (!(skip && strcmp(key, skip) == 0) && strlen(key) > width)
            width = strlen(key);
    }
    json_object_foreach ((json_t *)obj, key, v) {
        if (skip && strcmp(key, skip) == 0)
            continue;
        buf_reset(&line);
        cli_append_clean(&line, key, strlen(key));
        buf_putc(&line, ':');
        for (size_t n = strlen(key); n <= width; n++)
            buf_putc(&line, ' ');
        cli_cell(&line, v);
        buf_putc(&line, '\n');
        fwrite(line.p, 1, line.n, out);
    }
    buf_free(&line);
}

int cli_parse_pairs(cli_ctx *ctx, const char *opt, const char *const *kv, size_t n, json_t **out)
{
    int rc = CLI_EXIT_OK;
    json_t *labels = json_object();
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        json_t *v = eq ? json_string(eq + 1) : NULL;
        char *key = eq && eq != kv[i] && v ? strndup(kv[i], (size_t)(eq - kv[i])) : NULL;
        if (!key || json_object_set_new(labels, key, v)) {
            if (!key)
                json_decref(v);
            free(key);
            rc = cli_usage_error(ctx, "invalid --%s '%s': expected KEY=VALUE in UTF-8", opt,
                                 kv[i]);
            goto out;
        }
        free(key);
    }
    *out = labels;
    labels = NULL;
out:
    json_decref(labels);
    return rc;
}

int cli_parse_labels(cli_ctx *ctx, const char *const *kv, size_t n, json_t **out)
{
    return cli_parse_pairs(ctx, "label", kv, n, out);
}

/* ---- tables ------------------------------------------------------------------ */

struct cli_table {
    size_t ncols;
    size_t nrows; /* including the header row */
    size_t cap;
    char **cells; /* nrows x ncols, row-major */
};

/* Display width: code points, which is right for everything but wide CJK. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

/* A copy of s cut to CELL_MAX_CHARS code points (plus "..."). */
static char *cell_dup(const char *s)
{
    size_t chars = 0, i = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && ++chars > CELL_MAX_CHARS)
            break;
    }
    char *p = malloc(i + 4);
    if (!p)
        return NULL;
    memcpy(p, s, i);
    strcpy(p + i, s[i] ? "..." : "");
    return p;
}

cli_table *cli_table_new(size_t ncols, const char *const *headers)
{
    cli_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    cli_table_add(t, headers);
    return t;
}

void cli_table_add(cli_table *t, const char *const *cells)
{
    if (!t)
        return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **grown = realloc(t->cells, cap * t->ncols * sizeof *grown);
        if (!grown)
            return; /* the row is dropped; output is best effort under OOM */
        t->cells = grown;
        t->cap = cap;
    }
    for (size_t c = 0; c < t->ncols; c++)
        t->cells[t->nrows * t->ncols + c] = cell_dup(cells[c] ? cells[c] : "");
    t->nrows++;
}

void cli_table_add_json(cli_table *t, const json_t *const *vals, size_t ncols, int real_digits)
{
    buf *c = calloc(ncols + 1, sizeof *c);
    const char **row = calloc(ncols + 1, sizeof *row);
    if (!c || !row)
        abort();
    for (size_t k = 0; k < ncols; k++) {
        if (real_digits > 0 && json_is_real(vals[k]))
            buf_printf(&c[k], "%.*f", real_digits, json_real_value(vals[k]));
        else
            cli_cell(&c[k], vals[k]);
        buf_putc(&c[k], '\0');
        row[k] = c[k].p;
    }
    cli_table_add(t, row);
    for (size_t k = 0; k < ncols; k++)
        buf_free(&c[k]);
    free(c);
    free(row);
}

void cli_table_print(const cli_table *t, FILE *out)
{
    size_t *width = NULL;
    buf line = BUF_INIT;
    if (!t || !(width = calloc(t->ncols, sizeof *width)))
        goto out;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t w = s ? text_width(s) : 0;
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        buf_reset(&line);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            s = s ? s : "";
            buf_append_str(&line, s);
            if (c + 1 < t->ncols)
                for (size_t w = text_width(s); w < width[c] + 2; w++)
                    buf_putc(&line, ' ');
        }
        buf_putc(&line, '\n');
        fwrite(line.p, 1, line.n, out);
    }
out:
    free(width);
    buf_free(&line);
}

void cli_table_free(cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

int cli_fetch_pages(cli_ctx *ctx, const char *path, const char *list_key, uint64_t limit,
                    json_t *all)
{
    int rc = 0;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    buf url = BUF_INIT, tok = BUF_INIT;
    if ((rc = cli_client(ctx, &c)))
        return rc;
    for (;;) {
        buf_reset(&url);
        buf_printf(&url, "%s%spage_size=%u", path, strchr(path, '?') ? "&" : "?",
                   (unsigned)(limit < 1000 ? limit : 1000));
        if (tok.n) {
            buf_append_str(&url, "&page_token=");
            strata_escape(&url, buf_slice(&tok));
        }
        json_decref(resp);
        resp = NULL;
        int st = strata_request_json(c, "GET", url.p, NULL, &resp, &err);
        if (st) {
            rc = cli_fail_status(ctx, st, &err);
            break;
        }
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get(resp, list_key), i, item) {
            if (json_array_size(all) < limit)
                json_array_append(all, item);
        }
        const char *next = json_string_value(json_object_get(resp, "next_page_token"));
        if (!next || !*next || json_array_size(all) >= limit)
            break;
        buf_reset(&tok);
        buf_append_str(&tok, next);
    }
    json_decref(resp);
    buf_free(&url);
    buf_free(&tok);
    err_clear(&err);
    return rc;
}
