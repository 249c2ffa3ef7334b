/*
 * test_writers.c - CRC32C against RFC 3720's vectors (table and hardware
 * paths), TFRecord framing and Example bytes, CSV quoting, JSONL rendering of
 * every cell kind and value type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/crc32c.h"
#include "ingest/writers.h"
#include "store/value.h"

static void crc_vectors(void **state)
{
    (void)state;
    unsigned char b[48];
    /* RFC 3720 B.4: 32 bytes of zeros, of ones, incrementing, decrementing. */
    memset(b, 0, 32);
    assert_int_equal(crc32c(0, b, 32), 0x8A9136AAu);
    assert_int_equal(crc32c_sw(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, 32);
    assert_int_equal(crc32c(0, b, 32), 0x62A8AB43u);
    assert_int_equal(crc32c_sw(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (unsigned char)i;
    assert_int_equal(crc32c(0, b, 32), 0x46DD794Eu);
    assert_int_equal(crc32c_sw(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (unsigned char)(31 - i);
    assert_int_equal(crc32c(0, b, 32), 0x113FDB5Cu);
    assert_int_equal(crc32c_sw(0, b, 32), 0x113FDB5Cu);
    /* An iSCSI read command PDU (RFC 3720 B.4). */
    static const unsigned char pdu[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(crc32c(0, pdu, 48), 0xD9963A56u);
    assert_int_equal(crc32c_sw(0, pdu, 48), 0xD9963A56u);
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    /* Extending in pieces (and at odd alignments) gives the same answer. */
    uint32_t c = crc32c(0, pdu, 5);
    c = crc32c(c, pdu + 5, 30);
    c = crc32c_sw(c, pdu + 35, 13);
    assert_int_equal(c, 0xD9963A56u);
    assert_int_equal(crc32c(0, "", 0), 0);
}

static void tfrecord_framing(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    tfrecord_frame(&out, SLICE_LIT("abc"));
    assert_int_equal(out.n, 8 + 4 + 3 + 4);
    assert_int_equal(get_u64le(out.p), 3);
    uint32_t lcrc = crc32c(0, out.p, 8);
    assert_int_equal(get_u32le(out.p + 8), ((lcrc >> 15) | (lcrc << 17)) + 0xa282ead8u);
    assert_memory_equal(out.p + 12, "abc", 3);
    uint32_t dcrc = crc32c(0, "abc", 3);
    assert_int_equal(get_u32le(out.p + 15), crc32c_mask(dcrc));
    buf_free(&out);
}

static void csv_quoting(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    csv_field(&b, SLICE_LIT("plain text"));
    assert_string_equal(b.p, "plain text");
    buf_reset(&b);
    csv_field(&b, SLICE_LIT("a,b"));
    assert_string_equal(b.p, "\"a,b\"");
    buf_reset(&b);
    csv_field(&b, SLICE_LIT("say \"hi\""));
    assert_string_equal(b.p, "\"say \"\"hi\"\"\"");
    buf_reset(&b);
    csv_field(&b, SLICE_LIT("two\nlines"));
    assert_string_equal(b.p, "\"two\nlines\"");
    buf_reset(&b);
    csv_field(&b, SLICE_LIT("cr\r"));
    assert_string_equal(b.p, "\"cr\r\"");
    buf_reset(&b);
    csv_field(&b, SLICE_LIT(""));
    assert_int_equal(b.n, 0);
    buf_free(&b);
}

/* A row of every kind: returns the encoded values' storage. */
static void every_cell(export_cell *c, buf enc[8])
{
    value_encode_int64(&enc[0], -42);
    value_encode_double(&enc[1], 0.5);
    value_encode_bytes(&enc[2], VT_STRING, SLICE_LIT("x,\"y\""));
    value_encode_bytes(&enc[3], VT_BYTES, SLICE_LIT("\x00\xff"));
    int64_t ia[2] = {1, 2};
    value_encode_int64_array(&enc[4], ia, 2);
    value_encode_null(&enc[5]);
    value_encode_bool(&enc[6], true);
    value_encode_string_array_begin(&enc[7]);
    value_encode_string_array_add(&enc[7], SLICE_LIT("p"));
    value_encode_string_array_add(&enc[7], SLICE_LIT("q"));
    c[0] = (export_cell){.kind = EXPORT_CELL_TEXT, .s = SLICE_LIT("t")};
    c[1] = (export_cell){.kind = EXPORT_CELL_NONE};
    c[2] = (export_cell){.kind = EXPORT_CELL_INT, .i = 7};
    c[3] = (export_cell){.kind = EXPORT_CELL_DOUBLE, .d = 1.25};
    c[4] = (export_cell){.kind = EXPORT_CELL_BOOL, .b = false};
    c[5] = (export_cell){.kind = EXPORT_CELL_JSON, .s = SLICE_LIT("[1,\"a\"]")};
    for (int i = 0; i < 8; i++)
        c[6 + i] = (export_cell){.kind = EXPORT_CELL_VALUE, .s = buf_slice(&enc[i])};
}

static const slice names[14] = {SLICE_LIT("t"),  SLICE_LIT("n"),  SLICE_LIT("i"),  SLICE_LIT("d"),
                                SLICE_LIT("b"),  SLICE_LIT("j"),  SLICE_LIT("v0"), SLICE_LIT("v1"),
                                SLICE_LIT("v2"), SLICE_LIT("v3"), SLICE_LIT("v4"), SLICE_LIT("v5"),
                                SLICE_LIT("v6"), SLICE_LIT("a,b")};

static void csv_and_jsonl_rows(void **state)
{
    (void)state;
    export_cell c[14];
    buf enc[8] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
    every_cell(c, enc);
    buf out = BUF_INIT;
    writer *w = writer_open(EXPORT_CSV, names, 14);
    writer_begin(w, &out);
    assert_string_equal(out.p, "t,n,i,d,b,j,v0,v1,v2,v3,v4,v5,v6,\"a,b\"\n");
    buf_reset(&out);
    assert_int_equal(writer_row(w, c, &out), 0);
    assert_string_equal(out.p, "t,,7,1.25,false,\"[1,\"\"a\"\"]\",-42,0.5,\"x,\"\"y\"\"\",AP8=,"
                               "\"[1,2]\",,true,\"[\"\"p\"\",\"\"q\"\"]\"\n");
    writer_close(w);

    buf_reset(&out);
    w = writer_open(EXPORT_JSONL, names, 14);
    writer_begin(w, &out);
    assert_int_equal(out.n, 0);
    assert_int_equal(writer_row(w, c, &out), 0);
    assert_string_equal(out.p,
                        "{\"t\":\"t\",\"n\":null,\"i\":7,\"d\":1.25,\"b\":false,\"j\":[1,\"a\"],"
                        "\"v0\":-42,\"v1\":0.5,\"v2\":\"x,\\\"y\\\"\",\"v3\":\"AP8=\","
                        "\"v4\":[1,2],\"v5\":null,\"v6\":true,\"a,b\":[\"p\",\"q\"]}\n");
    writer_close(w);

    /* A value that does not decode is corruption, not an empty cell. */
    export_cell badc = {.kind = EXPORT_CELL_VALUE, .s = SLICE_LIT("\x02\x01")};
    w = writer_open(EXPORT_CSV, names, 1);
    assert_int_equal(writer_row(w, &badc, &out), -1);
    writer_close(w);
    buf_free(&out);
    for (int i = 0; i < 8; i++)
        buf_free(&enc[i]);
}

/* Doubles, as pass-through cells and as stored values, in CSV and JSONL: the
 * shortest text that reads back (base/dtoa.h), never a printf artefact. */
static void double_cells(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *text;
    } k[] = {
        {0.1 + 0.2, "0.30000000000000004"},
        {0.1, "0.1"},
        {3.0, "3.0"},
        {-0.0, "-0.0"},
        {1e-7, "1e-07"},
        {0.000025, "0.000025"},
        {1e22, "1e+22"},
        {9.113770, "9.11377"}, /* the old fast path printed 9.113770 */
        {5e-324, "5e-324"},    /* and 4.94065645841247e-324 */
        {123456.789, "123456.789"},
    };
    const slice nm[2] = {SLICE_LIT("d"), SLICE_LIT("v")};
    buf out = BUF_INIT, enc = BUF_INIT, want = BUF_INIT;
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        buf_reset(&enc);
        value_encode_double(&enc, k[i].v);
        export_cell c[2] = {{.kind = EXPORT_CELL_DOUBLE, .d = k[i].v},
                            {.kind = EXPORT_CELL_VALUE, .s = buf_slice(&enc)}};
        for (int f = 0; f < 2; f++) {
            writer *w = writer_open(f ? EXPORT_JSONL : EXPORT_CSV, nm, 2);
            buf_reset(&out);
            assert_int_equal(writer_row(w, c, &out), 0);
            buf_reset(&want);
            buf_printf(&want, f ? "{\"d\":%s,\"v\":%s}\n" : "%s,%s\n", k[i].text, k[i].text);
            assert_string_equal(out.p, want.p);
            writer_close(w);
        }
    }
    /* Random full-precision values come back bit-exact from the CSV text. */
    uint64_t x = 0x243f6a8885a308d3ull;
    writer *w = writer_open(EXPORT_CSV, nm, 1);
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v = (double)(x >> 11) * 0x1p-53 * (double)(1 + i % 1000);
        export_cell c = {.kind = EXPORT_CELL_DOUBLE, .d = v};
        buf_reset(&out);
        assert_int_equal(writer_row(w, &c, &out), 0);
        assert_true(strtod(out.p, NULL) == v);
    }
    writer_close(w);
    buf_free(&out);
    buf_free(&enc);
    buf_free(&want);
}

static void tfrecord_example(void **state)
{
    (void)state;
    /* One INT64 value 30 under "age", one missing cell, one text cell. */
    buf enc = BUF_INIT, out = BUF_INIT;
    value_encode_int64(&enc, 30);
    const slice nm[3] = {SLICE_LIT("age"), SLICE_LIT("gone"), SLICE_LIT("id")};
    export_cell c[3] = {{.kind = EXPORT_CELL_VALUE, .s = buf_slice(&enc)},
                        {.kind = EXPORT_CELL_NONE},
                        {.kind = EXPORT_CELL_TEXT, .s = SLICE_LIT("c1")}};
    writer *w = writer_open(EXPORT_TFRECORD, nm, 3);
    writer_begin(w, &out);
    assert_int_equal(out.n, 0);
    assert_int_equal(writer_row(w, c, &out), 0);
    /* Example{features{feature{key:"age" value{int64_list{value:30}}}
     *                  feature{key:"id" value{bytes_list{value:"c1"}}}}} */
    static const char want[] = "\x0a\x1c"
                               "\x0a\x0c\x0a\x03"
                               "age"
                               "\x12\x05\x1a\x03\x0a\x01\x1e"
                               "\x0a\x0c\x0a\x02"
                               "id"
                               "\x12\x06\x0a\x04\x0a\x02"
                               "c1";
    size_t wn = sizeof want - 1;
    assert_int_equal(out.n, 16 + wn);
    assert_int_equal(get_u64le(out.p), wn);
    assert_memory_equal(out.p + 12, want, wn);
    assert_int_equal(get_u32le(out.p + 12 + wn), crc32c_mask(crc32c(0, want, wn)));
    writer_close(w);
    buf_free(&enc);
    buf_free(&out);
}

static void formats(void **state)
{
    (void)state;
    export_format f;
    assert_int_equal(export_format_parse(SLICE_LIT("tfrecord"), &f), 0);
    assert_int_equal(f, EXPORT_TFRECORD);
    assert_int_equal(export_format_parse(SLICE_LIT("parquet"), &f), -1);
    assert_string_equal(export_format_content_type(EXPORT_JSONL), "application/x-ndjson");
    assert_string_equal(export_format_content_type(EXPORT_CSV), "text/csv");
    assert_string_equal(export_format_name(EXPORT_TFRECORD), "tfrecord");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc_vectors),      cmocka_unit_test(tfrecord_framing),
        cmocka_unit_test(csv_quoting),      cmocka_unit_test(csv_and_jsonl_rows),
        cmocka_unit_test(tfrecord_example), cmocka_unit_test(formats),
        cmocka_unit_test(double_cells),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
