/*
 * jsonl_reader.c - JSON Lines from a byte source (jansson per line).
 *
 * A line is assembled in one buffer of at most row_max bytes; past that the
 * reader only looks for the next LF, so a hostile line costs no memory.
 */
#include "ingest/jsonl_reader.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsoncheck.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/text.h"

struct jsonl_reader {
    ingest_source *src;
    size_t row_max;
    slice chunk;
    size_t pos;
    bool eof;
    uint64_t line; /* line of the next byte */
    buf cur;
    json_t *obj;
    char errmsg[200];
};

jsonl_reader *jsonl_reader_open(ingest_source *src, size_t row_max)
{
    jsonl_reader *r = calloc(1, sizeof *r);
    STRATA_ASSERT(r != NULL);
    r->src = src;
    r->row_max = row_max ? row_max : LIMIT_IMPORT_ROW_BYTES;
    r->line = 1;
    return r;
}

void jsonl_reader_close(jsonl_reader *r)
{
    if (!r)
        return;
    json_decref(r->obj);
    buf_free(&r->cur);
    free(r);
}

static bool blank(slice s)
{
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] != ' ' && s.p[i] != '\t')
            return false;
    return true;
}

/* One physical line into r->cur: 1 (*too_long set when cut), 0 at the end. */
static int read_line(jsonl_reader *r, bool *too_long, strata_err *err)
{
    bool any = false;
    *too_long = false;
    buf_reset(&r->cur);
    for (;;) {
        if (r->pos == r->chunk.n) {
            if (r->eof)
                return any ? 1 : 0;
            int rc = ingest_source_next(r->src, &r->chunk, err);
            if (rc < 0)
                return rc;
            r->pos = 0;
            if (rc == 0) {
                r->eof = true;
                r->chunk = (slice){NULL, 0};
                continue;
            }
            continue;
        }
        any = true;
        const char *p = r->chunk.p + r->pos;
        size_t avail = r->chunk.n - r->pos;
        const char *nl = memchr(p, '\n', avail);
        size_t n = nl ? (size_t)(nl - p) : avail;
        if (!*too_long) {
            if (r->cur.n + n > r->row_max) {
                *too_long = true;
                buf_reset(&r->cur);
            } else {
                buf_append(&r->cur, p, n);
            }
        }
        r->pos += nl ? n + 1 : n;
        if (nl)
            return 1;
    }
}

int jsonl_reader_next(jsonl_reader *r, jsonl_row *row, strata_err *err)
{
    json_decref(r->obj);
    r->obj = NULL;
    for (;;) {
        bool too_long;
        uint64_t line = r->line;
        int rc = read_line(r, &too_long, err);
        if (rc <= 0)
            return rc;
        r->line++;
        row->line = line;
        row->obj = NULL;
        row->error = NULL;
        if (too_long) {
            snprintf(r->errmsg, sizeof r->errmsg, "line is longer than %zu bytes", r->row_max);
            row->error = r->errmsg;
            return 1;
        }
        slice s = buf_slice(&r->cur);
        if (s.n && s.p[s.n - 1] == '\r')
            s.n--;
        if (blank(s))
            continue;
        if (!text_valid_utf8(s)) {
            row->error = "line is not valid UTF-8";
            return 1;
        }
        /* Measured before parsing, as request bodies are: what parsing
         * would cost is the point. */
        json_shape shape;
        json_measure(s, &shape);
        if (shape.depth > LIMIT_JSON_DEPTH) {
            snprintf(r->errmsg, sizeof r->errmsg,
                     "line nests arrays and objects deeper than %u levels", LIMIT_JSON_DEPTH);
            row->error = r->errmsg;
            return 1;
        }
        if (shape.values > LIMIT_JSONL_ROW_VALUES) {
            snprintf(r->errmsg, sizeof r->errmsg,
                     "line holds %zu JSON values, over the limit of %u per line", shape.values,
                     LIMIT_JSONL_ROW_VALUES);
            row->error = r->errmsg;
            return 1;
        }
        json_error_t je;
        r->obj = json_loadb(s.p, s.n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
        if (!r->obj) {
            snprintf(r->errmsg, sizeof r->errmsg, "malformed JSON at column %d: %s", je.column,
                     je.text);
            row->error = r->errmsg;
            return 1;
        }
        if (!json_is_object(r->obj)) {
            json_decref(r->obj);
            r->obj = NULL;
            row->error = "a line must hold one JSON object";
            return 1;
        }
        row->obj = r->obj;
        return 1;
    }
}
