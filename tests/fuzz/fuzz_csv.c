/*
 * fuzz_csv.c - the CSV reader (ingest/csv_reader.c) on arbitrary bytes.
 *
 * Input: byte 0 picks the chunk size the source hands out (3..66 bytes), the
 * rest is the file. Small limits (fields of 64 bytes, records of 512, 16
 * columns) so the fuzzer reaches every rejection path. Checked for every
 * input: the documented bounds (fields stored <= the header's count, each
 * NUL-terminated, buffered bytes under field_max + row_max + SOURCE_CHUNK_BYTES,
 * lines
 * increasing), that reading in small chunks gives exactly what reading
 * the file in one chunk gives, and that the reader's own split of plain lines
 * (split_plain) gives exactly what libcsv alone gives.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "ingest/csv_reader.h"

static csv_reader_options opts = {.field_max = 64, .row_max = 512, .columns_max = 16};

/* Everything the reader says about text, as a transcript. */
static void read_all(slice text, size_t chunk, buf *out)
{
    strata_err err = STRATA_ERR_INIT;
    csv_reader *r = NULL;
    ingest_source *src = ingest_source_mem_chunked(text.p, text.n, chunk);
    int rc = csv_reader_open(src, &opts, &r, &err);
    buf_printf(out, "open %d %s\n", rc, rc ? err.message : "");
    if (rc)
        goto out;
    size_t ncols = csv_reader_ncols(r);
    FUZZ_CHECK(ncols >= 1 && ncols <= opts.columns_max, "ncols %zu", ncols);
    for (size_t i = 0; i < ncols; i++) {
        slice c = csv_reader_column(r, i);
        buf_printf(out, "col %zu:", c.n);
        buf_append_slice(out, c);
        buf_putc(out, '\n');
    }
    uint64_t last = 1;
    csv_row row;
    while ((rc = csv_reader_next(r, &row, &err)) == 1) {
        FUZZ_CHECK(row.line > last, "line %llu after %llu", (unsigned long long)row.line,
                   (unsigned long long)last);
        last = row.line;
        FUZZ_CHECK(row.nfields <= ncols, "%zu fields, %zu columns", row.nfields, ncols);
        FUZZ_CHECK(csv_reader_buffered(r) <= opts.field_max + opts.row_max + SOURCE_CHUNK_BYTES,
                   "buffered %zu", csv_reader_buffered(r));
        buf_printf(out, "row %llu %s:", (unsigned long long)row.line,
                   row.error ? row.error : "ok");
        for (size_t i = 0; i < row.nfields; i++) {
            FUZZ_CHECK(row.fields[i].p[row.fields[i].n] == '\0', "field %zu not terminated", i);
            buf_printf(out, " %zu:", row.fields[i].n);
            buf_append_slice(out, row.fields[i]);
        }
        buf_putc(out, '\n');
    }
    buf_printf(out, "end %d\n", rc);
out:
    csv_reader_close(r);
    ingest_source_close(src);
    err_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_chunks_agree(data, size, read_all);
    if (size < 1)
        return 0;
    slice text = {(const char *)data + 1, size - 1};
    buf fast = {0}, slow = {0};
    read_all(text, 3 + data[0] % 64, &fast);
    opts.libcsv_only = true;
    read_all(text, 3 + data[0] % 64, &slow);
    opts.libcsv_only = false;
    FUZZ_CHECK(fast.n == slow.n && memcmp(fast.p, slow.p, fast.n) == 0,
               "the plain-line path and libcsv read differently:\n--- plain\n%s\n--- libcsv\n%s",
               fast.p, slow.p);
    buf_free(&fast);
    buf_free(&slow);
    return 0;
}
