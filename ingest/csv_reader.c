/*
 * csv_reader.c - RFC 4180 records from a byte source, on libcsv (strict mode).
 *
 * NOTES ON THE DESIGN
 *
 * libcsv is a push parser: csv_parse() consumes bytes and calls back once per
 * field and once per record end; it does not say where in the input a record
 * began. To number records by line we feed it one segment at a time, each
 * segment ending just after a CR or LF byte (or at the end of a chunk). Between
 * segments we know exactly how many line ends were fed, and a record can only begin
 * at the first byte of a segment that starts while no record is open
 * (`in_row` false) and is not itself a CR or LF (libcsv skips blank lines
 * there). So `row_line` is the line of that segment.
 *
 * Bounded memory: libcsv buffers the current field whole before calling back.
 * After each segment, when the field in progress has grown past field_max + 1
 * (one byte more: a quote libcsv may still remove), we keep only its last byte (libcsv looks back
 * at most one byte: the closing quote it may still remove) and remember that the field overflowed;
 * the field it finally hands us is discarded and its record rejected. The parser's state fields
 * used for this are part of libcsv's public struct (csv.h); spaces are never counted because our
 * is_space function says no byte is a space.
 *
 * Most records are one line without quotes: split_plain hands their fields
 * over without libcsv (see there); libcsv parses every other segment.
 *
 * Errors: strict mode reports a quote in an unquoted field or text after a
 * closing quote as CSV_EPARSE; the record is rejected, the parser reset, and
 * the rest of the physical line skipped. CSV_STRICT_FINI turns an unterminated
 * quote at the end of the file into an error instead of a silent field.
 */
#include "ingest/csv_reader.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/text.h"

struct csv_reader {
    ingest_source *src;
    struct csv_parser p;
    size_t field_max, row_max, columns_max;
    bool libcsv_only;

    slice chunk; /* the source's current chunk */
    size_t pos;  /* next unfed byte in chunk */
    bool eof, finished;
    bool skip_line; /* after a quoting error: drop bytes through the next line end */
    uint64_t line;  /* line of the next byte to feed */
    bool after_cr;  /* the last byte fed or skipped was a CR (an LF next pairs with it) */
    bool in_row;    /* a record is open in the parser */
    bool row_ready; /* a record ended: return it */
    bool overflow;  /* the field in progress outgrew field_max */
    size_t expect;  /* fields per record (0 while reading the header) */

    /* The record being assembled. */
    uint64_t row_line;
    size_t nseen; /* fields the parser delivered, stored or not */
    buf data;     /* stored fields, each followed by a NUL */
    size_t *off, *len;
    size_t nstored, cap;
    slice *out;
    bool has_err;
    char errmsg[200];

    /* The header. */
    buf hdr;
    slice *cols;
    size_t ncols;
};

static void row_error(csv_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row_error(csv_reader *r, const char *fmt, ...)
{
    if (r->has_err)
        return;
    r->has_err = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
    va_end(ap);
}

static int no_space(unsigned char c)
{
    (void)c;
    return 0; /* RFC 4180: spaces are part of a field */
}

static void on_field(void *s, size_t n, void *ctx)
{
    csv_reader *r = ctx;
    size_t idx = r->nseen++;
    bool over = r->overflow;
    r->overflow = false;
    if (r->has_err)
        return;
    size_t limit = r->expect ? r->expect : r->columns_max;
    if (idx >= limit) {
        if (!r->expect)
            row_error(r, "more than %zu columns", limit);
        return; /* a ragged record: reported once the count is known */
    }
    if (over || n > r->field_max) {
        row_error(r, "field %zu is longer than %zu bytes", idx + 1, r->field_max);
        return;
    }
    if (r->data.n + n + 1 > r->row_max) {
        row_error(r, "record is longer than %zu bytes", r->row_max);
        return;
    }
    if (r->nstored == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        size_t *off = realloc(r->off, cap * sizeof *off);
        STRATA_ASSERT(off != NULL);
        r->off = off;
        size_t *len = realloc(r->len, cap * sizeof *len);
        STRATA_ASSERT(len != NULL);
        r->len = len;
        slice *out = realloc(r->out, cap * sizeof *out);
        STRATA_ASSERT(out != NULL);
        r->out = out;
        r->cap = cap;
    }
    r->off[r->nstored] = r->data.n;
    r->len[r->nstored] = n;
    if (n)
        buf_append(&r->data, s, n);
    buf_putc(&r->data, '\0');
    r->nstored++;
}

static void on_row(int c, void *ctx)
{
    (void)c;
    csv_reader *r = ctx;
    r->row_ready = true;
    r->in_row = false;
}

static void reset_row(csv_reader *r)
{
    r->row_ready = false;
    r->nseen = 0;
    r->nstored = 0;
    r->has_err = false;
    r->errmsg[0] = '\0';
    buf_reset(&r->data);
}

/* End of input: flush a last record without a line break, or report an
 * unterminated quote. */
static void finish(csv_reader *r)
{
    r->finished = true;
    if (r->skip_line)
        return; /* the parser was reset after an error: nothing is pending */
    if (csv_fini(&r->p, on_field, on_row, r) != 0) {
        row_error(r, "unterminated quoted field: the file ends inside quotes");
        r->row_ready = true;
        r->in_row = false;
    }
}

/* Bytes before the first CR or LF of p[0, n) (n if none): eight bytes at a
 * time, then byte by byte. One pass for both bytes: a memchr for LF first
 * would scan the whole chunk for every line of a file whose lines end in a
 * bare CR. */
static size_t line_end(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, lf, cr;
        memcpy(&w, p + i, 8);
        lf = w ^ (ones * '\n');
        cr = w ^ (ones * '\r');
        /* a zero byte in lf or cr: an LF or a CR among the eight */
        if (((lf - ones) & ~lf & highs) | ((cr - ones) & ~cr & highs))
            break;
    }
    while (i < n && p[i] != '\n' && p[i] != '\r')
        i++;
    return i;
}

/*
 * The fast path for most lines: a whole record on one line (the segment
 * starts one and ends with its CR or LF) without a quote is, in RFC 4180 and
 * in libcsv's strict mode, its comma-separated fields as they stand. They go
 * to on_field and on_row directly, as libcsv would hand them, which leaves
 * the parser as it was: between records. Returns false for anything else,
 * which goes to libcsv. Most of an import's parse time was libcsv's byte-by-
 * byte state machine.
 */
static bool split_plain(csv_reader *r, const char *p, size_t n)
{
    if (r->libcsv_only || (p[n - 1] != '\n' && p[n - 1] != '\r'))
        return false; /* the record goes on in the next chunk */
    size_t len = n - 1;
    if (memchr(p, '"', len))
        return false;
    for (size_t at = 0;;) {
        const char *comma = memchr(p + at, ',', len - at);
        size_t end = comma ? (size_t)(comma - p) : len;
        on_field((void *)(p + at), end - at, r);
        if (!comma)
            break;
        at = end + 1;
    }
    on_row(p[n - 1], r);
    return true;
}

/* Feed segments until a record ends (1), the input ends (0) or reading fails. */
static int pump(csv_reader *r, strata_err *err)
{
    while (!r->row_ready) {
        if (r->pos == r->chunk.n) {
            if (r->finished)
                return 0;
            int rc = r->eof ? 0 : ingest_source_next(r->src, &r->chunk, err);
            if (rc < 0)
                return rc;
            r->pos = 0;
            if (rc == 0) {
                r->eof = true;
                r->chunk = (slice){NULL, 0};
                finish(r);
                continue;
            }
            continue;
        }
        const char *p = r->chunk.p + r->pos;
        size_t avail = r->chunk.n - r->pos;
        if (r->skip_line) {
            size_t i = 0;
            while (i < avail && p[i] != '\n' && p[i] != '\r')
                i++;
            r->pos += i < avail ? i + 1 : avail;
            r->after_cr = false;
            if (i < avail) {
                r->line++;
                r->after_cr = p[i] == '\r';
                r->skip_line = false;
            }
            continue;
        }
        size_t n = line_end(p, avail);
        if (n < avail)
            n++; /* the segment ends just after its CR or LF */
        bool begins = !r->in_row && p[0] != '\n' && p[0] != '\r';
        if (begins) {
            r->in_row = true;
            r->row_line = r->line;
        }
        size_t fed =
            begins && split_plain(r, p, n) ? n : csv_parse(&r->p, p, n, on_field, on_row, r);
        if (fed < n) {
            int e = csv_error(&r->p);
            if (e != CSV_EPARSE)
                return err_set(err, STRATA_NOMEM, "CSV parser: %s", csv_strerror(e));
            row_error(r,
                      "malformed quoting on line %llu: a quote inside an unquoted field, or "
                      "text after a closing quote",
                      (unsigned long long)r->line);
            csv_fini(&r->p, NULL, NULL, NULL); /* resets the parser */
            r->pos += fed;
            r->skip_line = true;
            r->overflow = false;
            r->in_row = false;
            r->row_ready = true;
            continue;
        }
        r->pos += n;
        /* A line ends at CR, LF or CRLF (counted once, even when a chunk
         * splits the pair). */
        if (p[n - 1] == '\r' || (p[n - 1] == '\n' && !(n == 1 && r->after_cr)))
            r->line++;
        r->after_cr = p[n - 1] == '\r';
        /* After a quote inside a quoted field libcsv holds that quote as the
         * field's last byte until the next byte says whether it closed the
         * field, so a field of exactly field_max bytes may show one more here:
         * only a field past field_max + 1 is surely too long. */
        if (r->p.entry_pos > r->field_max + 1) {
            r->p.entry_buf[0] = r->p.entry_buf[r->p.entry_pos - 1];
            r->p.entry_pos = 1;
            r->overflow = true;
        }
    }
    return 1;
}

/* Check and hand out the record assembled by pump(). */
static void complete_row(csv_reader *r, csv_row *row)
{
    if (r->expect && r->nseen != r->expect)
        row_error(r, "record has %zu field%s, the header has %zu", r->nseen,
                  r->nseen == 1 ? "" : "s", r->expect);
    for (size_t i = 0; i < r->nstored; i++) {
        r->out[i] = (slice){r->data.p + r->off[i], r->len[i]};
        if (!r->has_err && !text_valid_utf8(r->out[i])) {
            char ex[48] = "";
            if (r->expect)
                text_excerpt(r->cols[i], ex, sizeof ex);
            row_error(r, "field %zu%s%s%s is not valid UTF-8", i + 1,
                      r->expect ? " (column \"" : "", ex, r->expect ? "\")" : "");
        }
    }
    row->line = r->row_line;
    row->nfields = r->nstored;
    row->fields = r->out;
    row->error = r->has_err ? r->errmsg : NULL;
}

int csv_reader_open(ingest_source *src, const csv_reader_options *opt, csv_reader **out,
                    strata_err *err)
{
    int rc;
    csv_reader *r = calloc(1, sizeof *r);
    STRATA_ASSERT(r != NULL);
    r->src = src;
    r->line = 1;
    r->field_max = opt && opt->field_max ? opt->field_max : LIMIT_IMPORT_FIELD_BYTES;
    r->row_max = opt && opt->row_max ? opt->row_max : LIMIT_IMPORT_ROW_BYTES;
    r->columns_max = opt && opt->columns_max ? opt->columns_max : LIMIT_IMPORT_COLUMNS;
    r->libcsv_only = opt && opt->libcsv_only;
    csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI);
    csv_set_space_func(&r->p, no_space);
    csv_set_blk_size(&r->p, (size_t)64 << 10);

    reset_row(r);
    rc = pump(r, err);
    if (rc < 0)
        goto out;
    if (rc == 0) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "the file is empty: a CSV import needs a header row naming the columns");
        goto out;
    }
    csv_row h;
    complete_row(r, &h);
    if (h.error) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "header (line %llu): %s",
                     (unsigned long long)h.line, h.error);
        goto out;
    }
    r->ncols = h.nfields;
    buf_append(&r->hdr, r->data.p, r->data.n);
    r->cols = calloc(r->ncols ? r->ncols : 1, sizeof *r->cols);
    STRATA_ASSERT(r->cols != NULL);
    for (size_t i = 0; i < r->ncols; i++)
        r->cols[i] = (slice){r->hdr.p + r->off[i], r->len[i]};
    r->expect = r->ncols;
    rc = 0;
out:
    if (rc) {
        csv_reader_close(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

void csv_reader_close(csv_reader *r)
{
    if (!r)
        return;
    csv_free(&r->p);
    buf_free(&r->data);
    buf_free(&r->hdr);
    free(r->off);
    free(r->len);
    free(r->out);
    free(r->cols);
    free(r);
}

size_t csv_reader_ncols(const csv_reader *r)
{
    return r->ncols;
}

slice csv_reader_column(const csv_reader *r, size_t i)
{
    return r->cols[i];
}

int csv_reader_next(csv_reader *r, csv_row *row, strata_err *err)
{
    reset_row(r);
    int rc = pump(r, err);
    if (rc <= 0)
        return rc;
    complete_row(r, row);
    return 1;
}

size_t csv_reader_buffered(const csv_reader *r)
{
    return r->p.entry_size + r->data.cap;
}
