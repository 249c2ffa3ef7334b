/*
 * fuzz_keys.c - the byte codecs of stored keys and records: store/keys.h
 * (values and latest keys, successors), the latest-row codec and its merge
 * operator (store/latest.c), stored values (store/value.c), and lineage's
 * keys and records (lineage/codec.c).
 *
 * Byte 0 picks the codec; the rest is the bytes. Decoders must refuse junk
 * without reading past it; what decodes must encode back to the same bytes;
 * and values built from the input must decode to what was encoded.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "fuzz.h"
#include "lineage/lineage_int.h"
#include "store/keys.h"
#include "store/store_int.h"
#include "store/value.h"

static bool same(slice a, const buf *b)
{
    return a.n == b->n && (a.n == 0 || memcmp(a.p, b->p, a.n) == 0);
}

/* Decode arbitrary bytes as a values key and an id key; re-encode what decodes. */
static void store_keys_decode(slice in)
{
    buf b = {0};
    value_key vk;
    if (store_key_value_decode(in, &vk) == 0) {
        FUZZ_CHECK(vk.id.n <= UINT16_MAX, "id of %zu bytes", vk.id.n);
        store_key_value(&b, vk.entity, vk.id, vk.group, vk.event_time, vk.created_time, vk.seq);
        FUZZ_CHECK(same(in, &b), "values key does not re-encode");
        FUZZ_CHECK(store_key_group_prefix_len(in.p, in.n) == in.n - STORE_KEY_VERSION_SUFFIX,
                   "prefix length");
    }
    uint32_t entity;
    slice id;
    if (store_key_id_decode(in, &entity, &id) == 0) {
        buf_reset(&b);
        store_key_id(&b, entity, id);
        FUZZ_CHECK(same(in, &b), "id key does not re-encode");
    }
    FUZZ_CHECK(store_key_group_prefix_len(in.p, in.n) <= in.n, "prefix past the key");
    /* As a set group's row: every cell decoded lies inside the bytes and
     * encodes back to the bytes it came from. */
    slice rest = in, v;
    uint32_t f;
    int c;
    while ((c = store_cells_next(&rest, &f, &v)) == 1) {
        FUZZ_CHECK(v.p >= in.p && v.p + v.n <= in.p + in.n, "cell outside the row");
        FUZZ_CHECK(rest.p == v.p + v.n, "next cell does not follow the value");
        buf_reset(&b);
        store_cells_add(&b, f, v);
        FUZZ_CHECK(b.n <= (size_t)(rest.p - in.p), "cell longer than its bytes");
    }
    FUZZ_CHECK(c == 0 || c == -1, "cells walk returned %d", c);
    /* The successor is greater than the key and than every key it prefixes. */
    buf_reset(&b);
    buf_append(&b, in.p, in.n);
    if (store_key_successor(&b)) {
        FUZZ_CHECK(slice_cmp(buf_slice(&b), in) > 0, "successor not greater");
        buf ext = {0};
        buf_append(&ext, in.p, in.n);
        buf_append(&ext, "\xff\xff\xff", 3);
        FUZZ_CHECK(slice_cmp(buf_slice(&b), buf_slice(&ext)) > 0, "successor inside the prefix");
        buf_free(&ext);
    } else {
        for (size_t i = 0; i < in.n; i++)
            FUZZ_CHECK((unsigned char)in.p[i] == 0xff, "no successor for a key that has one");
    }
    buf_free(&b);
}

/* Build a values key from the input's fields; it must decode to them, and
 * keys must sort as their fields do (entity, id, feature, newest first). */
static void store_keys_round_trip(slice in)
{
    if (in.n < 28)
        return;
    uint32_t entity = get_u32be(in.p), feature = get_u32be(in.p + 4);
    int64_t ev = (int64_t)get_u64be(in.p + 8), cr = (int64_t)get_u64be(in.p + 16);
    uint64_t seq = get_u32be(in.p + 24);
    slice id = {in.p + 28, in.n - 28 > LIMIT_ENTITY_ID_MAX ? LIMIT_ENTITY_ID_MAX : in.n - 28};
    buf k = {0}, k2 = {0};
    store_key_value(&k, entity, id, feature, ev, cr, seq);
    FUZZ_CHECK(k.n <= STORE_KEY_MAX, "key of %zu bytes", k.n);
    value_key vk;
    FUZZ_CHECK(store_key_value_decode(buf_slice(&k), &vk) == 0, "encoded key does not decode");
    FUZZ_CHECK(vk.entity == entity && vk.group == feature && vk.event_time == ev &&
                   vk.created_time == cr && vk.seq == seq && slice_eq(vk.id, id),
               "round trip changed a field");
    char fixed[STORE_KEY_MAX];
    size_t fn = store_key_group_to(fixed, entity, id, feature);
    FUZZ_CHECK(fn == store_key_group_prefix_len(k.p, k.n) && memcmp(fixed, k.p, fn) == 0,
               "fixed-buffer prefix differs");
    /* A newer event time sorts first within the feature. */
    if (ev < INT64_MAX) {
        store_key_value(&k2, entity, id, feature, ev + 1, cr, seq);
        FUZZ_CHECK(slice_cmp(buf_slice(&k2), buf_slice(&k)) < 0, "newer event sorts after");
    }
    FUZZ_CHECK(store_time_unkey(store_time_key(ev)) == ev, "time key round trip");
    buf_free(&k);
    buf_free(&k2);
}

static void latest_rows(slice in)
{
    strata_err err = STRATA_ERR_INIT;
    latest_row row = {0};
    int drc = store_row_decode(in, &row, &err);
    if (drc == 0 && (unsigned char)in.p[0] == STORE_ROW_FORMAT) {
        buf b = {0};
        store_row_begin(&b);
        for (size_t i = 0; i < row.n; i++)
            store_row_add(&b, &row.cells[i]);
        FUZZ_CHECK(same(in, &b), "latest row does not re-encode");
        buf_free(&b);
    } else if (drc == 0) {
        /* A fragment: its cells, written again as one (varints may have been
         * overlong), decode to the same cells with the header's times. */
        buf b = {0};
        store_frag_begin(&b, (int64_t)get_u64le(in.p + 1), (int64_t)get_u64le(in.p + 9),
                         get_u64le(in.p + 17));
        for (size_t i = 0; i < row.n; i++) {
            FUZZ_CHECK(row.cells[i].event_time == (int64_t)get_u64le(in.p + 1) &&
                           row.cells[i].seq == get_u64le(in.p + 17),
                       "fragment cell without the fragment's times");
            store_frag_add(&b, row.cells[i].feature_id, row.cells[i].value);
        }
        FUZZ_CHECK(b.n <= in.n, "fragment grew on re-encoding");
        latest_row again = {0};
        FUZZ_CHECK(store_row_decode(buf_slice(&b), &again, &err) == 0 && again.n == row.n,
                   "fragment does not decode again");
        for (size_t i = 0; i < row.n; i++)
            FUZZ_CHECK(again.cells[i].feature_id == row.cells[i].feature_id &&
                           slice_eq(again.cells[i].value, row.cells[i].value),
                       "fragment cell changed on re-encoding");
        latest_row_free(&again);
        buf_free(&b);
    }
    err_clear(&err);
    latest_row_free(&row);
    /* The merge operator on operands cut from the input at 0xfe bytes:
     * RocksDB hands it whatever is stored, and it must say -1 or merge. */
    const char *ops[8];
    size_t lens[8], n = 0;
    const char *p = in.p, *end = in.p + in.n;
    while (p <= end && n < 8) {
        const char *cut = memchr(p, 0xfe, (size_t)(end - p));
        ops[n] = p;
        lens[n] = (size_t)((cut ? cut : end) - p);
        n++;
        if (!cut)
            break;
        p = cut + 1;
    }
    buf out = {0};
    if (store_row_merge(ops, lens, n, &out) == 0) {
        latest_row merged = {0};
        FUZZ_CHECK(store_row_decode(buf_slice(&out), &merged, &err) == 0, "merge output corrupt");
        latest_row_free(&merged);
    }
    buf_free(&out);
}

static bool strings_valid(const value_view *v)
{
    if (v->tag == VT_STRING)
        return text_valid_utf8(v->s);
    if (v->tag != VT_STRING_ARRAY)
        return true;
    size_t pos = 0;
    slice s;
    while (value_string_next(v, &pos, &s) == 1)
        if (!text_valid_utf8(s))
            return false;
    return true;
}

static void stored_values(slice in)
{
    value_view v;
    buf b = {0};
    if (value_decode(in, &v) == 0) {
        value_write_json(&b, in);
        json_t *j = json_loadb(b.p, b.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        /* Strings are stored only after a UTF-8 check (value_encode_json, the
         * protobuf and CSV paths), so only junk strings may write bad JSON. */
        FUZZ_CHECK(j != NULL || !strings_valid(&v),
                   "value as JSON does not parse: %.200s", b.p);
        /* JSON back to the same type re-encodes the same value; not a
         * non-finite double (written as null), which no input path stores. */
        if (j && v.tag != VT_NULL && !(v.tag == VT_DOUBLE && !isfinite(v.d))) {
            buf enc = {0};
            strata_err err = STRATA_ERR_INIT;
            if (value_encode_json(v.tag, j, &enc, &err) == 0) {
                value_view w;
                FUZZ_CHECK(value_decode(buf_slice(&enc), &w) == 0 && w.tag == v.tag,
                           "re-encoded value does not decode");
            }
            err_clear(&err);
            buf_free(&enc);
        }
        json_decref(j);
        if (v.tag == VT_INT64_ARRAY || v.tag == VT_DOUBLE_ARRAY)
            for (size_t i = 0; i < v.count; i++)
                (void)(v.tag == VT_INT64_ARRAY ? (double)value_int64_at(&v, i)
                                               : value_double_at(&v, i));
        if (v.tag == VT_STRING_ARRAY) {
            size_t pos = 0, count = 0;
            slice s;
            while (value_string_next(&v, &pos, &s) == 1)
                count++;
            FUZZ_CHECK(count == v.count, "%zu strings, count says %zu", count, v.count);
        }
    }
    buf_free(&b);
}

static void lineage_codecs(slice in)
{
    int64_t a, b, time;
    int t;
    buf k = {0};
    if (lkey_pair_decode(in, &a, &b, &t) == 0) {
        lkey_pair(&k, (unsigned char)in.p[0], a, b, t);
        FUZZ_CHECK(same(in, &k) || (in.n == 19 && t == 0), "pair key does not re-encode");
    }
    int64_t id = lkey_trailing_id(in);
    FUZZ_CHECK(id == -1 || id > 0, "trailing id %lld", (long long)id);
    slice path;
    if (levent_decode(in, &time, &path) == 0) {
        levent_encode(time, path, &k);
        FUZZ_CHECK(same(in, &k), "event record does not re-encode");
    }
    if (llink_decode(in, &time) == 0) {
        llink_encode(time, &k);
        FUZZ_CHECK(same(in, &k), "link record does not re-encode");
    }
    strata_err err = STRATA_ERR_INIT;
    for (int kind = LINEAGE_ARTIFACT; kind <= LINEAGE_CONTEXT; kind++) {
        lnode n, n2;
        lnode_init(&n);
        lnode_init(&n2);
        if (lnode_decode((lineage_kind)kind, 1, in, &n, &err) == 0) {
            /* Encode what decoded; that must decode to the same record. */
            lnode_encode(&n, &k);
            FUZZ_CHECK(lnode_decode((lineage_kind)kind, 1, buf_slice(&k), &n2, &err) == 0,
                       "re-encoded node does not decode");
            buf k2 = {0};
            lnode_encode(&n2, &k2);
            FUZZ_CHECK(k.n == k2.n && memcmp(k.p, k2.p, k.n) == 0, "node encoding not stable");
            buf_free(&k2);
        }
        lnode_free(&n);
        lnode_free(&n2);
        ltype *ty = NULL;
        if (ltype_decode((lineage_kind)kind, in, &ty, &err) == 0) {
            ltype_encode(ty, &k);
            ltype *ty2 = NULL;
            FUZZ_CHECK(ltype_decode((lineage_kind)kind, buf_slice(&k), &ty2, &err) == 0,
                       "re-encoded type does not decode");
            ltype_free(ty2);
        }
        ltype_free(ty);
    }
    err_clear(&err);
    buf_free(&k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    slice in = {(const char *)data + 1, size - 1};
    switch (data[0] % 5) {
    case 0: store_keys_decode(in); break;
    case 1: store_keys_round_trip(in); break;
    case 2: latest_rows(in); break;
    case 3: stored_values(in); break;
    default: lineage_codecs(in); break;
    }
    return 0;
}
