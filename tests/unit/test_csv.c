/*
 * test_csv.c - the RFC 4180 reader (ingest/csv_reader.c) over memory and file
 * sources: quoting, CRLF, BOM, line numbers of records after multi-line
 * fields, ragged and malformed records, oversize fields with bounded memory,
 * records that cross chunk boundaries, and the source's SHA-256.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "ingest/csv_reader.h"
#include "ingest/source.h"

/* All records of a text: "line|f1|f2|..." or "line!error" per record. */
/* All records of a text handed out in chunks of `chunk` bytes (0: one chunk). */
static char *read_chunked(const char *text, const csv_reader_options *opt, char *hdr,
                          size_t hdrcap, size_t chunk)
{
    size_t n = strlen(text);
    strata_err err = STRATA_ERR_INIT;
    ingest_source *src = chunk ? ingest_source_mem_chunked(text, n, chunk)
                               : ingest_source_mem(text, n);
    csv_reader *r = NULL;
    buf out = BUF_INIT;
    int rc = csv_reader_open(src, opt, &r, &err);
    if (rc) {
        buf_printf(&out, "OPEN %s", err.message);
        goto out;
    }
    if (hdr) {
        buf h = BUF_INIT;
        for (size_t i = 0; i < csv_reader_ncols(r); i++) {
            slice c = csv_reader_column(r, i);
            buf_printf(&h, "%s%.*s", i ? "|" : "", (int)c.n, c.p);
        }
        snprintf(hdr, hdrcap, "%s", h.p ? h.p : "");
        buf_free(&h);
    }
    csv_row row;
    while ((rc = csv_reader_next(r, &row, &err)) == 1) {
        if (row.error) {
            buf_printf(&out, "%llu!%s\n", (unsigned long long)row.line, row.error);
            continue;
        }
        buf_printf(&out, "%llu", (unsigned long long)row.line);
        for (size_t i = 0; i < row.nfields; i++)
            buf_printf(&out, "|%.*s", (int)row.fields[i].n, row.fields[i].p);
        buf_putc(&out, '\n');
    }
    if (rc < 0)
        buf_printf(&out, "ERR %s", err.message);
out:
    csv_reader_close(r);
    ingest_source_close(src);
    err_clear(&err);
    if (!out.p)
        buf_append_str(&out, "");
    return buf_steal(&out, NULL);
}

static char *read_all(const char *text, const csv_reader_options *opt, char *hdr, size_t hdrcap)
{
    return read_chunked(text, opt, hdr, hdrcap, 0);
}

static void expect(const char *text, const char *want)
{
    char *got = read_all(text, NULL, NULL, 0);
    assert_string_equal(got, want);
    free(got);
}

static void basic_and_quoting(void **state)
{
    (void)state;
    expect("id,a\n1,x\n2,y\n", "2|1|x\n3|2|y\n");
    /* Embedded commas, doubled quotes, spaces kept, empty fields. */
    expect("id,a,b\n1,\"x,y\",\"he said \"\"hi\"\"\"\n2, sp ,\n3,,\"\"\n",
           "2|1|x,y|he said \"hi\"\n3|2| sp |\n4|3||\n");
    /* No final newline. */
    expect("id,a\n1,x", "2|1|x\n");
    /* Blank lines are skipped but counted. */
    expect("id,a\n\n1,x\n\n\n2,y\n", "3|1|x\n6|2|y\n");
}

static void crlf_bom_and_multiline(void **state)
{
    (void)state;
    expect("\xEF\xBB\xBFid,a\r\n1,x\r\n2,y\r\n", "2|1|x\n3|2|y\n");
    char hdr[64];
    char *got = read_all("\xEF\xBB\xBFid,a\n", NULL, hdr, sizeof hdr);
    assert_string_equal(hdr, "id|a"); /* the BOM is not part of the first name */
    free(got);
    /* A quoted field spanning lines: the next record's line is still right. */
    expect("id,text\n1,\"a\nb\nc\"\n2,d\n", "2|1|a\nb\nc\n5|2|d\n");
    expect("id,text\r\n1,\"a\r\nb\"\r\n2,d\r\n", "2|1|a\r\nb\n4|2|d\n");
}

/* Bare CR line ends (found by fuzz_csv): every record gets its own line, and
 * a quoting error skips only its line, not the rest of the file. */
static void bare_cr_lines(void **state)
{
    (void)state;
    expect("id,a\r1,x\r2,y\r", "2|1|x\n3|2|y\n");
    expect("id,a\r\r1,x\r\n2,y\n3,z", "3|1|x\n4|2|y\n5|3|z\n");
    expect("id,text\r1,\"a\rb\"\r2,d\r", "2|1|a\rb\n4|2|d\n");
    char *got = read_all("id,a\r1,ab\"c\r2,ok\r3,ok\r", NULL, NULL, 0);
    assert_string_equal(got, "2!malformed quoting on line 2: a quote inside an unquoted field, "
                             "or text after a closing quote\n3|2|ok\n4|3|ok\n");
    free(got);
}

/* Lines of every length up to 40 bytes (the line-end scan reads eight bytes
 * at a time) ending in LF, CR or CRLF, in one chunk and in chunks of 7. */
static void line_ends_every_length(void **state)
{
    (void)state;
    static const char *const ends[] = {"\n", "\r", "\r\n"};
    buf text = BUF_INIT, want = BUF_INIT;
    buf_append_str(&text, "id,a\n");
    for (int k = 0; k < 120; k++) {
        char field[48];
        int len = k % 41;
        memset(field, 'a' + k % 26, (size_t)len);
        field[len] = '\0';
        buf_printf(&text, "%d,%s%s", k, field, ends[k % 3]);
        buf_printf(&want, "%d|%d|%s\n", k + 2, k, field);
    }
    for (size_t chunk = 0; chunk <= 7; chunk += 7) {
        char *got = read_chunked(text.p, NULL, NULL, 0, chunk);
        assert_string_equal(got, want.p);
        free(got);
    }
    buf_free(&text);
    buf_free(&want);
}

static void ragged_and_malformed(void **state)
{
    (void)state;
    expect("id,a\n1\n2,x,y\n3,z\n", "2!record has 1 field, the header has 2\n"
                                    "3!record has 3 fields, the header has 2\n"
                                    "4|3|z\n");
    /* A quote inside an unquoted field, text after a closing quote: the
     * record is rejected and reading resumes on the next line. */
    char *got = read_all("id,a\n1,ab\"c\n2,\"x\"y,more\n3,ok\n", NULL, NULL, 0);
    assert_non_null(strstr(got, "2!malformed quoting on line 2"));
    assert_non_null(strstr(got, "3!malformed quoting on line 3"));
    assert_non_null(strstr(got, "4|3|ok\n"));
    free(got);
    /* An unterminated quote swallows the rest of the file: one clear error. */
    got = read_all("id,a\n1,ok\n2,\"never closed\n3,x\n", NULL, NULL, 0);
    assert_string_equal(got, "2|1|ok\n3!unterminated quoted field: the file ends inside quotes\n");
    free(got);
    /* Invalid UTF-8 names the field and column. */
    got = read_all("id,name\n1,ok\n2,\xff\xfe\n3,fine\n", NULL, NULL, 0);
    assert_non_null(strstr(got, "3!field 2 (column \"name\") is not valid UTF-8"));
    assert_non_null(strstr(got, "4|3|fine"));
    free(got);
}

static void empty_and_header_only(void **state)
{
    (void)state;
    char *got = read_all("", NULL, NULL, 0);
    assert_non_null(strstr(got, "OPEN the file is empty"));
    free(got);
    got = read_all("\n\n", NULL, NULL, 0);
    assert_non_null(strstr(got, "OPEN the file is empty"));
    free(got);
    expect("id,a\n", "");
    got = read_all("id,\"a\n", NULL, NULL, 0);
    assert_non_null(strstr(got, "OPEN header (line 1): unterminated quoted field"));
    free(got);
    got = read_all("id,\xc3\n", NULL, NULL, 0);
    assert_non_null(strstr(got, "OPEN header (line 1): field 2 is not valid UTF-8"));
    free(got);
    csv_reader_options small = {.columns_max = 3};
    got = read_all("a,b,c,d\n", &small, NULL, 0);
    assert_non_null(strstr(got, "OPEN header (line 1): more than 3 columns"));
    free(got);
}

static void oversize_fields_bounded(void **state)
{
    (void)state;
    /* Small caps: the field and the record limits. */
    csv_reader_options o = {.field_max = 8, .row_max = 18};
    char *got = read_all("id,a,b\n1,123456789,x\n2,\"12345678\",x\n3,1234567,12345678\n4,a,b\n", &o,
                         NULL, 0);
    assert_string_equal(got, "2!field 2 is longer than 8 bytes\n"
                             "3|2|12345678|x\n"
                             "4!record is longer than 18 bytes\n"
                             "5|4|a|b\n");
    free(got);

    /* A 10 MB quoted field under the default 1 MiB cap, from a file: the
     * record is rejected, memory stays bounded, the next record is read. */
    char path[] = "/tmp/strata-csv-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("id,big\n1,\"", f);
    for (int i = 0; i < 10 * 1024 * 1024 / 64; i++)
        fputs("0123456789abcdef0123456789abcdef0123456789abcdef01234567\n9abcdef", f);
    fputs("\"\n2,small\n", f);
    fclose(f);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ingest_source *src = ingest_source_fd(fd, 0);
    csv_reader *r = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(csv_reader_open(src, NULL, &r, &err), 0);
    csv_row row;
    size_t peak = 0;
    assert_int_equal(csv_reader_next(r, &row, &err), 1);
    assert_int_equal(row.line, 2);
    assert_non_null(row.error);
    assert_non_null(strstr(row.error, "field 2 is longer than 1048576 bytes"));
    peak = csv_reader_buffered(r);
    assert_true(peak < (3u << 20)); /* cap + a chunk, not 10 MB */
    assert_int_equal(csv_reader_next(r, &row, &err), 1);
    assert_null(row.error);
    assert_int_equal(row.line, 3 + 10 * 1024 * 1024 / 64);
    assert_int_equal(row.fields[1].n, 5);
    assert_int_equal(csv_reader_next(r, &row, &err), 0);
    csv_reader_close(r);
    ingest_source_close(src);
    unlink(path);
}

/* A quoted field of exactly field_max bytes is accepted wherever a chunk ends,
 * even just after its closing quote (libcsv still holds that quote then); one
 * byte more is rejected wherever a chunk ends. Found by fuzz_csv. */
static void field_at_limit_any_chunking(void **state)
{
    (void)state;
    csv_reader_options o = {.field_max = 8, .row_max = 64};
    const char *ok = "id,a\n1,\"12345678\"\n2,\"1234\"\"56\"\n3,x\n";
    const char *over = "id,a\n1,\"123456789\"\n2,\"1234\"\"5678\"\n3,x\n";
    const char *want_ok = "2|1|12345678\n3|2|1234\"56\n4|3|x\n";
    const char *want_over = "2!field 2 is longer than 8 bytes\n3!field 2 is longer than 8 bytes\n"
                            "4|3|x\n";
    for (size_t chunk = 0; chunk <= strlen(over); chunk++) {
        char *got = read_chunked(ok, &o, NULL, 0, chunk);
        assert_string_equal(got, want_ok);
        free(got);
        got = read_chunked(over, &o, NULL, 0, chunk);
        assert_string_equal(got, want_over);
        free(got);
    }
}

static void crosses_chunks(void **state)
{
    (void)state;
    /* Many records, some multi-line, over several 256 KiB chunks. */
    buf text = BUF_INIT;
    buf_append_str(&text, "id,v\n");
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        if (i % 7 == 0)
            buf_printf(&text, "%d,\"multi\nline %d\"\r\n", i, i);
        else
            buf_printf(&text, "%d,\"v,%d\"\n", i, i);
    }
    assert_true(text.n > 3 * SOURCE_CHUNK_BYTES);
    ingest_source *src = ingest_source_mem(text.p, text.n);
    csv_reader *r = NULL;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(csv_reader_open(src, NULL, &r, &err), 0);
    csv_row row;
    uint64_t line = 2;
    for (int i = 0; i < n; i++) {
        assert_int_equal(csv_reader_next(r, &row, &err), 1);
        assert_null(row.error);
        assert_int_equal(row.line, line);
        char want[32];
        snprintf(want, sizeof want, "%d", i);
        assert_int_equal(row.fields[0].n, strlen(want));
        assert_memory_equal(row.fields[0].p, want, strlen(want));
        line += i % 7 == 0 ? 2 : 1;
    }
    assert_int_equal(csv_reader_next(r, &row, &err), 0);
    assert_int_equal(ingest_source_bytes_read(src), text.n);
    csv_reader_close(r);
    ingest_source_close(src);
    buf_free(&text);
}

static void source_digest_and_rewind(void **state)
{
    (void)state;
    char sha[65];
    strata_err err = STRATA_ERR_INIT;
    ingest_source *s = ingest_source_mem("abc", 3);
    slice c;
    ingest_source_sha256(s, sha);
    assert_string_equal(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    while (ingest_source_next(s, &c, &err) == 1)
        ;
    ingest_source_sha256(s, sha);
    assert_string_equal(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(ingest_source_rewind(s, &err), 0);
    assert_int_equal(ingest_source_bytes_read(s), 0);
    assert_int_equal(ingest_source_next(s, &c, &err), 1);
    assert_int_equal(c.n, 3);
    ingest_source_close(s);
}

/* Where a descriptor landed, not what its name said: a directory reached
 * through a symlink is judged by its target. */
static void descriptor_inside_dir(void **state)
{
    (void)state;
    char root[] = "/tmp/strata-fdin-XXXXXX", out[] = "/tmp/strata-fdout-XXXXXX";
    assert_non_null(mkdtemp(root));
    assert_non_null(mkdtemp(out));
    char real_root[PATH_MAX], sub[PATH_MAX + 16], link[PATH_MAX + 16], file[PATH_MAX + 16];
    assert_non_null(realpath(root, real_root));
    snprintf(sub, sizeof sub, "%s/sub", real_root);
    snprintf(link, sizeof link, "%s/away", real_root);
    snprintf(file, sizeof file, "%s/sub/f.csv", real_root);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(symlink(out, link), 0);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);

    int d = open(real_root, O_RDONLY | O_DIRECTORY);
    assert_true(d >= 0);
    assert_int_equal(ingest_fd_inside(d, real_root, true), 1); /* the root itself */
    assert_int_equal(ingest_fd_inside(d, real_root, false), 0);
    close(d);
    d = open(sub, O_RDONLY | O_DIRECTORY);
    assert_true(d >= 0);
    assert_int_equal(ingest_fd_inside(d, real_root, false), 1);
    close(d);
    d = open(file, O_RDONLY);
    assert_true(d >= 0);
    assert_int_equal(ingest_fd_inside(d, real_root, false), 1);
    assert_int_equal(ingest_fd_inside(d, sub, false), 1);
    close(d);
    char sibling[PATH_MAX + 16];
    snprintf(sibling, sizeof sibling, "%s-x", real_root); /* shares the name's prefix */
    assert_int_equal(mkdir(sibling, 0700), 0);
    d = open(sibling, O_RDONLY | O_DIRECTORY);
    assert_true(d >= 0);
    assert_int_equal(ingest_fd_inside(d, real_root, true), 0);
    close(d);
    rmdir(sibling);
    d = open(link, O_RDONLY | O_DIRECTORY); /* inside by name, outside in fact */
    assert_true(d >= 0);
    assert_int_equal(ingest_fd_inside(d, real_root, true), 0);
    close(d);

    unlink(file);
    unlink(link);
    rmdir(sub);
    rmdir(root);
    rmdir(out);
}

/* Lines without quotes skip libcsv (split_plain): random texts of commas,
 * quotes, CR, LF, spaces, UTF-8 and bad bytes, in random chunks and under
 * tight limits, must read exactly as libcsv alone reads them. */
static void plain_lines_as_libcsv(void **state)
{
    (void)state;
    static const char *const atoms[] = {"a",     "bc",         ",",   ",", "\n",       "\n",
                                        "\r",    "\r\n",       "\"",  " ", "\xc3\xa9", "\xff",
                                        "x,y\n", "\"q,\"\"\"", "1.5", ""};
    uint64_t x = 0x2545f4914f6cdd1dULL;
    for (int k = 0; k < 3000; k++) {
        char text[400];
        size_t n = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t natoms = 1 + x % 60;
        bool quotes = x % 4 == 0; /* most texts without any quote */
        for (size_t i = 0; i < natoms; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *a = atoms[x % (sizeof atoms / sizeof atoms[0])];
            if (!quotes && strchr(a, '"'))
                continue;
            size_t an = strlen(a);
            memcpy(text + n, a, an);
            n += an;
        }
        text[n] = '\0';
        csv_reader_options lim = {0}, fast, slow;
        if (k % 3 == 0)
            lim = (csv_reader_options){.field_max = 4, .row_max = 24, .columns_max = 3};
        fast = slow = lim;
        slow.libcsv_only = true;
        size_t chunk = k % 2 ? 0 : 3 + x % 40;
        char hf[256] = "", hs[256] = "";
        char *a = read_chunked(text, &fast, hf, sizeof hf, chunk);
        char *b = read_chunked(text, &slow, hs, sizeof hs, chunk);
        if (strcmp(a, b) != 0 || strcmp(hf, hs) != 0)
            fail_msg("text \"%s\" (chunk %zu): fast path\n%s|%s\nlibcsv\n%s|%s", text, chunk, hf, a,
                     hs, b);
        free(a);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_and_quoting),
        cmocka_unit_test(crlf_bom_and_multiline),
        cmocka_unit_test(ragged_and_malformed),
        cmocka_unit_test(empty_and_header_only),
        cmocka_unit_test(oversize_fields_bounded),
        cmocka_unit_test(crosses_chunks),
        cmocka_unit_test(field_at_limit_any_chunking),
        cmocka_unit_test(source_digest_and_rewind),
        cmocka_unit_test(bare_cr_lines),
        cmocka_unit_test(descriptor_inside_dir),
        cmocka_unit_test(plain_lines_as_libcsv),
        cmocka_unit_test(line_ends_every_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
