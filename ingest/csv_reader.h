/*
 * csv_reader.h - a streaming RFC 4180 reader on libcsv: a header row, then one
 * record at a time with the 1-based line of the file where it starts.
 *
 * Accepted: quoted fields with embedded commas, quotes ("") and line breaks;
 * CRLF, LF or (old Mac) CR line ends; a UTF-8 byte order mark at the start (dropped). Spaces
 * are data (never trimmed). Blank lines between records are skipped.
 *
 * A record that cannot be used is still returned, with `error` saying why and
 * the line where it starts, so the caller can reject it and go on:
 *   - malformed quoting (a quote inside an unquoted field, text after a closing
 *     quote): the rest of that physical line is skipped and reading resumes on
 *     the next line;
 *   - a field longer than field_max or a record longer than row_max: the
 *     excess is never buffered (memory stays bounded), and reading resumes
 *     after the record;
 *   - a record with more or fewer fields than the header ("ragged");
 *   - a field that is not valid UTF-8;
 *   - an unterminated quoted field at the end of the file.
 *
 * Lines are counted by line ends (CR, LF, a CRLF counting once), inside
 * quoted fields too, so a record after a multi-line field gets its true line
 * number, and a quoting error skips to the end of its line whichever line
 * end the file uses.
 */
#ifndef STRATA_INGEST_CSV_READER_H
#define STRATA_INGEST_CSV_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "ingest/source.h"

typedef struct csv_reader csv_reader;

/* Zero fields take the defaults from base/limits.h. */
typedef struct csv_reader_options {
    size_t field_max;   /* LIMIT_IMPORT_FIELD_BYTES */
    size_t row_max;     /* LIMIT_IMPORT_ROW_BYTES */
    size_t columns_max; /* LIMIT_IMPORT_COLUMNS */
    bool libcsv_only;   /* tests: no fast path for plain lines (split_plain) */
} csv_reader_options;

typedef struct csv_row {
    uint64_t line;       /* where the record starts (the header is line 1) */
    size_t nfields;      /* fields stored: at most the header's count */
    const slice *fields; /* each also NUL-terminated; borrowed until the next call */
    const char *error;   /* NULL, or why the record is unusable (then fields may be partial) */
} csv_row;

/*
 * Read the header from src (borrowed; it must outlive the reader).
 * INVALID_ARGUMENT when the file is empty or the header is unusable (the
 * message says why, e.g. "line 1: field 3 is not valid UTF-8"), IO on read
 * errors. On success *out is a reader freed with csv_reader_close.
 */
int csv_reader_open(ingest_source *src, const csv_reader_options *opt, csv_reader **out,
                    strata_err *err);
void csv_reader_close(csv_reader *r); /* NULL ok */

size_t csv_reader_ncols(const csv_reader *r);
/* Header name of column i (< ncols); valid while the reader is open. */
slice csv_reader_column(const csv_reader *r, size_t i);

/* 1 with *row filled, 0 at the end of the file, or a negative status (IO,
 * NOMEM) that ends reading. */
int csv_reader_next(csv_reader *r, csv_row *row, strata_err *err);

/* Bytes the reader holds for the record in progress (parser buffer plus the
 * stored fields): stays under field_max + row_max + SOURCE_CHUNK_BYTES. */
size_t csv_reader_buffered(const csv_reader *r);

#endif
