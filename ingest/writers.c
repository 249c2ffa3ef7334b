/*
 * writers.c - CSV, JSON Lines and TFRecord writers (writers.h).
 *
 * The hot path appends straight into the caller's buffer. TFRecord builds
 * each Example bottom-up in scratch buffers (a Feature, then its map entry,
 * then the Features message) because protobuf length prefixes come first;
 * the copies are small next to the CRCs.
 */
#include "ingest/writers.h"

#include <stdlib.h>
#include <string.h>

#include "base/jsonw.h"
#include "base/log.h"
#include "ingest/crc32c.h"
#include "store/value.h"

struct writer {
    export_format f;
    size_t ncols;
    buf *names;     /* raw names */
    buf *jkeys;     /* JSONL: "name": prefixes */
    buf feat, list; /* TFRecord scratch: one Feature, one list payload */
    buf entries;    /* TFRecord: the Features message being built */
    buf example, tmp;
};

int export_format_parse(slice s, export_format *out)
{
    if (slice_eq_str(s, "csv"))
        *out = EXPORT_CSV;
    else if (slice_eq_str(s, "jsonl"))
        *out = EXPORT_JSONL;
    else if (slice_eq_str(s, "tfrecord"))
        *out = EXPORT_TFRECORD;
    else
        return -1;
    return 0;
}

const char *export_format_name(export_format f)
{
    return f == EXPORT_JSONL ? "jsonl" : f == EXPORT_TFRECORD ? "tfrecord" : "csv";
}

const char *export_format_content_type(export_format f)
{
    return f == EXPORT_JSONL      ? "application/x-ndjson"
           : f == EXPORT_TFRECORD ? "application/octet-stream"
                                  : "text/csv";
}

writer *writer_open(export_format f, const slice *names, size_t ncols)
{
    writer *w = calloc(1, sizeof *w);
    STRATA_ASSERT(w != NULL);
    w->f = f;
    w->ncols = ncols;
    w->names = calloc(ncols ? ncols : 1, sizeof *w->names);
    w->jkeys = calloc(ncols ? ncols : 1, sizeof *w->jkeys);
    STRATA_ASSERT(w->names && w->jkeys);
    for (size_t i = 0; i < ncols; i++) {
        buf_append_slice(&w->names[i], names[i]);
        if (i)
            buf_putc(&w->jkeys[i], ',');
        jsonw_str(&w->jkeys[i], names[i]);
        buf_putc(&w->jkeys[i], ':');
    }
    return w;
}

void writer_close(writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->ncols; i++) {
        buf_free(&w->names[i]);
        buf_free(&w->jkeys[i]);
    }
    free(w->names);
    free(w->jkeys);
    buf_free(&w->feat);
    buf_free(&w->list);
    buf_free(&w->entries);
    buf_free(&w->example);
    buf_free(&w->tmp);
    free(w);
}

/* ---- CSV ---------------------------------------------------------------------- */

void csv_field(buf *out, slice s)
{
    bool quote = false;
    for (size_t i = 0; i < s.n && !quote; i++) {
        char c = s.p[i];
        quote = c == ',' || c == '"' || c == '\n' || c == '\r';
    }
    if (!quote) {
        buf_append_slice(out, s);
        return;
    }
    buf_reserve(out, s.n + 2);
    buf_putc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] != '"')
            continue;
        buf_append(out, s.p + run, i + 1 - run);
        buf_putc(out, '"');
        run = i + 1;
    }
    buf_append(out, s.p + run, s.n - run);
    buf_putc(out, '"');
}

static int csv_value(writer *w, slice enc, buf *out)
{
    value_view v;
    if (value_decode(enc, &v))
        return -1;
    switch (v.tag) {
    case VT_NULL:
        return 0;
    case VT_BOOL:
        buf_append_str(out, v.b ? "true" : "false");
        return 0;
    case VT_INT64:
        jsonw_i64(out, v.i);
        return 0;
    case VT_DOUBLE:
        jsonw_double(out, v.d);
        return 0;
    case VT_STRING:
        csv_field(out, v.s);
        return 0;
    case VT_BYTES:
        /* jsonw_base64 writes a JSON string: the base64 alphabet needs no
         * CSV quoting, so drop the JSON quotes. */
        buf_reset(&w->tmp);
        jsonw_base64(&w->tmp, v.s);
        buf_append(out, w->tmp.p + 1, w->tmp.n - 2);
        return 0;
    default:
        buf_reset(&w->tmp);
        value_write_json(&w->tmp, enc);
        csv_field(out, buf_slice(&w->tmp));
        return 0;
    }
}

static int csv_row(writer *w, const export_cell *cells, buf *out)
{
    for (size_t i = 0; i < w->ncols; i++) {
        const export_cell *c = &cells[i];
        if (i)
            buf_putc(out, ',');
        switch (c->kind) {
        case EXPORT_CELL_NONE:
            break;
        case EXPORT_CELL_TEXT:
        case EXPORT_CELL_JSON:
            csv_field(out, c->s);
            break;
        case EXPORT_CELL_INT:
            jsonw_i64(out, c->i);
            break;
        case EXPORT_CELL_DOUBLE:
            jsonw_double(out, c->d);
            break;
        case EXPORT_CELL_BOOL:
            buf_append_str(out, c->b ? "true" : "false");
            break;
        case EXPORT_CELL_VALUE:
            if (csv_value(w, c->s, out))
                return -1;
            break;
        }
    }
    buf_putc(out, '\n');
    return 0;
}

/* ---- JSONL --------------------------------------------------------------------- */

static int jsonl_row(writer *w, const export_cell *cells, buf *out)
{
    buf_putc(out, '{');
    for (size_t i = 0; i < w->ncols; i++) {
        const export_cell *c = &cells[i];
        buf_append(out, w->jkeys[i].p, w->jkeys[i].n);
        switch (c->kind) {
        case EXPORT_CELL_NONE:
            buf_append(out, "null", 4);
            break;
        case EXPORT_CELL_TEXT:
            jsonw_str(out, c->s);
            break;
        case EXPORT_CELL_JSON:
            buf_append_slice(out, c->s);
            break;
        case EXPORT_CELL_INT:
            jsonw_i64(out, c->i);
            break;
        case EXPORT_CELL_DOUBLE:
            jsonw_double(out, c->d);
            break;
        case EXPORT_CELL_BOOL:
            buf_append_str(out, c->b ? "true" : "false");
            break;
        case EXPORT_CELL_VALUE: {
            value_view v;
            if (value_decode(c->s, &v))
                return -1;
            value_write_json(out, c->s);
            break;
        }
        }
    }
    buf_append(out, "}\n", 2);
    return 0;
}

/* ---- TFRecord -------------------------------------------------------------------- */

static void pb_varint(buf *b, uint64_t v)
{
    char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (char)v;
    buf_append(b, tmp, n);
}

/* field number f, wire type 2, then the payload. */
static void pb_ld(buf *b, unsigned f, slice payload)
{
    pb_varint(b, (uint64_t)f << 3 | 2);
    pb_varint(b, payload.n);
    buf_append_slice(b, payload);
}

static void put_f32(buf *b, double d)
{
    float f = (float)d;
    uint32_t u;
    memcpy(&u, &f, 4);
    buf_put_u32le(b, u);
}

/* Feature oneof numbers. */
enum { FEAT_BYTES = 1, FEAT_FLOAT = 2, FEAT_INT64 = 3 };

/* w->list holds the list message's payload (field 1 repeated / packed). */
static void feature_from_list(writer *w, int kind)
{
    buf_reset(&w->feat);
    pb_ld(&w->feat, (unsigned)kind, buf_slice(&w->list));
}

static void list_bytes1(writer *w, slice s)
{
    buf_reset(&w->list);
    pb_ld(&w->list, 1, s);
    feature_from_list(w, FEAT_BYTES);
}

static void list_packed_begin(writer *w)
{
    buf_reset(&w->tmp);
}

static void list_packed_end(writer *w, int kind)
{
    buf_reset(&w->list);
    if (w->tmp.n)
        pb_ld(&w->list, 1, buf_slice(&w->tmp));
    feature_from_list(w, kind);
}

static void list_int1(writer *w, int64_t v)
{
    list_packed_begin(w);
    pb_varint(&w->tmp, (uint64_t)v);
    list_packed_end(w, FEAT_INT64);
}

static void list_float1(writer *w, double d)
{
    list_packed_begin(w);
    put_f32(&w->tmp, d);
    list_packed_end(w, FEAT_FLOAT);
}

/* The Feature for a stored value in w->feat: 1, 0 when absent, -1 corrupt. */
static int tf_value(writer *w, slice enc)
{
    value_view v;
    if (value_decode(enc, &v))
        return -1;
    switch (v.tag) {
    case VT_NULL:
        return 0;
    case VT_BOOL:
        list_int1(w, v.b ? 1 : 0);
        return 1;
    case VT_INT64:
        list_int1(w, v.i);
        return 1;
    case VT_DOUBLE:
        list_float1(w, v.d);
        return 1;
    case VT_STRING:
    case VT_BYTES:
        list_bytes1(w, v.s);
        return 1;
    case VT_INT64_ARRAY:
        list_packed_begin(w);
        for (size_t i = 0; i < v.count; i++)
            pb_varint(&w->tmp, (uint64_t)value_int64_at(&v, i));
        list_packed_end(w, FEAT_INT64);
        return 1;
    case VT_DOUBLE_ARRAY:
        list_packed_begin(w);
        for (size_t i = 0; i < v.count; i++)
            put_f32(&w->tmp, value_double_at(&v, i));
        list_packed_end(w, FEAT_FLOAT);
        return 1;
    case VT_STRING_ARRAY: {
        size_t pos = 0;
        slice s;
        buf_reset(&w->list);
        while (value_string_next(&v, &pos, &s))
            pb_ld(&w->list, 1, s);
        feature_from_list(w, FEAT_BYTES);
        return 1;
    }
    }
    return -1;
}

void tfrecord_frame(buf *out, slice data)
{
    unsigned char len[8];
    uint64_t n = data.n;
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(n >> (8 * i));
    buf_append(out, len, 8);
    buf_put_u32le(out, crc32c_mask(crc32c(0, len, 8)));
    buf_append_slice(out, data);
    buf_put_u32le(out, crc32c_mask(crc32c(0, data.p, data.n)));
}

static int tf_row(writer *w, const export_cell *cells, buf *out)
{
    buf_reset(&w->entries);
    for (size_t i = 0; i < w->ncols; i++) {
        const export_cell *c = &cells[i];
        int have = 1;
        switch (c->kind) {
        case EXPORT_CELL_NONE:
            have = 0;
            break;
        case EXPORT_CELL_TEXT:
        case EXPORT_CELL_JSON:
            list_bytes1(w, c->s);
            break;
        case EXPORT_CELL_INT:
            list_int1(w, c->i);
            break;
        case EXPORT_CELL_DOUBLE:
            list_float1(w, c->d);
            break;
        case EXPORT_CELL_BOOL:
            list_int1(w, c->b ? 1 : 0);
            break;
        case EXPORT_CELL_VALUE:
            have = tf_value(w, c->s);
            break;
        }
        if (have < 0)
            return -1;
        if (!have)
            continue;
        /* map entry {key=1, value=2} as field 1 of Features */
        buf_reset(&w->example);
        pb_ld(&w->example, 1, buf_slice(&w->names[i]));
        pb_ld(&w->example, 2, buf_slice(&w->feat));
        pb_ld(&w->entries, 1, buf_slice(&w->example));
    }
    buf_reset(&w->example);
    pb_ld(&w->example, 1, buf_slice(&w->entries));
    tfrecord_frame(out, buf_slice(&w->example));
    return 0;
}

/* ---- dispatch --------------------------------------------------------------------- */

void writer_begin(writer *w, buf *out)
{
    if (w->f != EXPORT_CSV)
        return;
    for (size_t i = 0; i < w->ncols; i++) {
        if (i)
            buf_putc(out, ',');
        csv_field(out, buf_slice(&w->names[i]));
    }
    buf_putc(out, '\n');
}

int writer_row(writer *w, const export_cell *cells, buf *out)
{
    switch (w->f) {
    case EXPORT_JSONL:
        return jsonl_row(w, cells, out);
    case EXPORT_TFRECORD:
        return tf_row(w, cells, out);
    case EXPORT_CSV:
    default:
        return csv_row(w, cells, out);
    }
}
