/*
 * jsonl_reader.h - JSON Lines: one JSON object per line, streamed.
 *
 * Lines end at LF (a CR before it is dropped); a UTF-8 byte order mark at the
 * start is dropped; blank lines (only spaces and tabs) are skipped. A line is
 * handed out with `error` set, so the caller can reject it and go on, when it
 * is longer than row_max (the excess is never buffered), is not valid UTF-8,
 * holds more than LIMIT_JSONL_ROW_VALUES JSON values or nests deeper than
 * LIMIT_JSON_DEPTH (both measured before parsing, so a hostile line costs no
 * memory), is not well-formed JSON (duplicate keys count as malformed) or is
 * not an object.
 */
#ifndef STRATA_INGEST_JSONL_READER_H
#define STRATA_INGEST_JSONL_READER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "ingest/source.h"

typedef struct jsonl_reader jsonl_reader;

typedef struct jsonl_row {
    uint64_t line;     /* 1-based */
    json_t *obj;       /* the object; borrowed until the next call; NULL on error */
    const char *error; /* NULL, or why the line is unusable */
} jsonl_row;

/* src is borrowed and must outlive the reader. row_max 0: LIMIT_IMPORT_ROW_BYTES. */
jsonl_reader *jsonl_reader_open(ingest_source *src, size_t row_max);
void jsonl_reader_close(jsonl_reader *r); /* NULL ok */

/* 1 with *row filled, 0 at the end, or a negative status (IO) that ends reading. */
int jsonl_reader_next(jsonl_reader *r, jsonl_row *row, strata_err *err);

#endif
