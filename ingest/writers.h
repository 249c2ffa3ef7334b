/*
 * writers.h - export file formats: CSV, JSON Lines and TFRecord, as thin
 * writers over rows of typed cells (the export reader's rows, ingest/export.h).
 *
 * A writer turns a row into bytes appended to a buf; where the bytes go (an
 * HTTP stream, a file) is the caller's business. Cells are rendered as:
 *
 *   cell            CSV                     JSONL               TFRecord feature
 *   NONE            empty                   null                absent
 *   TEXT            the text                "string"            bytes_list
 *   INT             decimal                 number              int64_list
 *   DOUBLE          shortest round-trip     number              float_list
 *   BOOL            true / false            true / false        int64_list (1/0)
 *   JSON            the JSON text           the JSON value      bytes_list (JSON text)
 *   VALUE (stored)  by its type below       value as JSON       by its type below
 *     NULL          empty                   null                absent
 *     BOOL/INT64    true/false, decimal     JSON                int64_list
 *     DOUBLE        shortest round-trip     JSON                float_list (float32!)
 *     STRING        the text                "string"            bytes_list
 *     BYTES         base64 (padded)         "base64"            bytes_list (raw bytes)
 *     *_ARRAY       JSON array              JSON array          int64/float/bytes_list
 *
 * CSV: RFC 4180 quoting (a field holding a comma, quote, CR or LF is quoted,
 * quotes doubled), a header row, LF line ends. JSONL: one object per line,
 * keys in column order. TFRecord: one tf.train.Example per row, each framed as
 *
 *   OFFSET  SIZE  FIELD
 *   0       8     length n of the Example, u64 LE
 *   8       4     masked CRC32C of the 8 length bytes, u32 LE
 *   12      n     the serialized Example
 *   12+n    4     masked CRC32C of the Example bytes, u32 LE
 *
 * with Example{features=1: Features{feature=1: map<string, Feature>}} and
 * Feature oneof {bytes_list=1, float_list=2, int64_list=3}, numeric lists
 * packed (the encoding TensorFlow writes itself).
 */
#ifndef STRATA_INGEST_WRITERS_H
#define STRATA_INGEST_WRITERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef enum export_format {
    EXPORT_CSV,
    EXPORT_JSONL,
    EXPORT_TFRECORD,
} export_format;

/* "csv", "jsonl", "tfrecord"; 0 and *out, or -1. */
int export_format_parse(slice s, export_format *out);
const char *export_format_name(export_format f);
/* text/csv, application/x-ndjson, application/octet-stream. */
const char *export_format_content_type(export_format f);

typedef enum export_cell_kind {
    EXPORT_CELL_NONE,
    EXPORT_CELL_TEXT,
    EXPORT_CELL_INT,
    EXPORT_CELL_DOUBLE,
    EXPORT_CELL_BOOL,
    EXPORT_CELL_JSON,  /* a JSON array or object as compact text */
    EXPORT_CELL_VALUE, /* a stored feature value, store/value.h encoding */
} export_cell_kind;

/* One cell of an export row; s borrows from whoever produced the row. */
typedef struct export_cell {
    export_cell_kind kind;
    bool b;
    int64_t i;
    double d;
    slice s;
} export_cell;

typedef struct writer writer;

/* names: the ncols column names (UTF-8), copied. */
writer *writer_open(export_format f, const slice *names, size_t ncols);
void writer_close(writer *w); /* NULL ok */
/* Bytes before the first row (the CSV header; nothing for the others). */
void writer_begin(writer *w, buf *out);
/* One row of ncols cells. 0, or -1 when a VALUE cell is not a well-formed
 * encoding (stored data is validated on the way in: corruption). */
int writer_row(writer *w, const export_cell *cells, buf *out);

/* Append one TFRecord frame around data (exposed for tests). */
void tfrecord_frame(buf *out, slice data);
/* Append s as a CSV field, quoted when needed (exposed for tests). */
void csv_field(buf *out, slice s);

#endif
