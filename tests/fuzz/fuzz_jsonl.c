/*
 * fuzz_jsonl.c - the JSON Lines reader (ingest/jsonl_reader.c) on arbitrary
 * bytes.
 *
 * Input: byte 0 picks the chunk size (3..66 bytes), the rest is the file;
 * lines are capped at 256 bytes so the over-long path is reachable. Checked:
 * lines increase, a row has an object or an error (never both), and small
 * chunks read exactly as one chunk does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ingest/jsonl_reader.h"

static void read_all(slice text, size_t chunk, buf *out)
{
    strata_err err = STRATA_ERR_INIT;
    ingest_source *src = ingest_source_mem_chunked(text.p, text.n, chunk);
    jsonl_reader *r = jsonl_reader_open(src, 256);
    jsonl_row row;
    uint64_t last = 0;
    int rc;
    while ((rc = jsonl_reader_next(r, &row, &err)) == 1) {
        FUZZ_CHECK(row.line > last, "line %llu after %llu", (unsigned long long)row.line,
                   (unsigned long long)last);
        last = row.line;
        FUZZ_CHECK((row.obj != NULL) != (row.error != NULL), "line %llu: obj and error",
                   (unsigned long long)row.line);
        buf_printf(out, "row %llu ", (unsigned long long)row.line);
        if (row.obj) {
            FUZZ_CHECK(json_is_object(row.obj), "not an object");
            char *s = json_dumps(row.obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            buf_append_str(out, s ? s : "(unprintable)");
            free(s);
        } else {
            buf_append_str(out, row.error);
        }
        buf_putc(out, '\n');
    }
    buf_printf(out, "end %d %s\n", rc, rc ? err.message : "");
    jsonl_reader_close(r);
    ingest_source_close(src);
    err_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_chunks_agree(data, size, read_all);
    return 0;
}
