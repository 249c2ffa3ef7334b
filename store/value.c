/*
 * value.c - the typed feature value codec (layout in value.h and
 * docs/architecture.md, "Value encoding").
 *
 * Invariants:
 *  - Every encoder appends exactly one well-formed encoding, or (the JSON
 *    encoder on error) appends nothing: a rejected value leaves `out` as it was.
 *  - A payload is at most LIMIT_VALUE_BYTES bytes (for STRING_ARRAY the limit
 *    counts the 4-byte length prefixes too). The JSON encoder enforces it; the
 *    typed constructors trust their caller and store_write re-checks every cell.
 *  - value_decode accepts exactly what the encoders produce: a fixed-size type
 *    with the wrong size, a BOOL other than 0/1, an array payload that is not a
 *    multiple of 8 or a STRING_ARRAY element running past the end is refused.
 *
 * JSON input rules (the contract's value types):
 *  - BOOL takes true/false; DOUBLE takes any JSON number.
 *  - INT64 takes JSON integers. A JSON real is accepted only when it is exactly
 *    integral and inside [-2^63, 2^63) (3.0 -> 3; 3.5 and 1e19 are refused),
 *    because some clients serialise every number as a double. Integers beyond
 *    int64 written as integers never get here: jansson refuses them at parse.
 *  - STRING takes a string; BYTES a standard padded base64 string.
 *  - Arrays take JSON arrays of their element type; a null element is refused
 *    (only the whole value may be null).
 */
#include "store/value.h"

#include <math.h>
#include <string.h>

#include "base/dtoa.h"
#include "base/jsonw.h"
#include "base/limits.h"
#include "base/log.h"

static const char *const type_names[] = {
    [VT_BOOL] = "BOOL",
    [VT_INT64] = "INT64",
    [VT_DOUBLE] = "DOUBLE",
    [VT_STRING] = "STRING",
    [VT_BYTES] = "BYTES",
    [VT_INT64_ARRAY] = "INT64_ARRAY",
    [VT_DOUBLE_ARRAY] = "DOUBLE_ARRAY",
    [VT_STRING_ARRAY] = "STRING_ARRAY",
};

const char *value_type_name(value_type t)
{
    if ((int)t < VT_BOOL || (int)t > VT_MAX)
        return NULL;
    return type_names[t];
}

int value_type_parse(slice name, value_type *out)
{
    for (int t = VT_BOOL; t <= VT_MAX; t++) {
        if (slice_eq_str(name, type_names[t])) {
            *out = (value_type)t;
            return 0;
        }
    }
    return -1;
}

/* ---- typed constructors ------------------------------------------------- */

void value_encode_null(buf *out)
{
    buf_putc(out, (char)VT_NULL);
}

void value_encode_bool(buf *out, bool v)
{
    char b[2] = {(char)VT_BOOL, v ? 1 : 0};
    buf_append(out, b, 2);
}

void value_encode_int64(buf *out, int64_t v)
{
    buf_putc(out, (char)VT_INT64);
    buf_put_u64le(out, (uint64_t)v);
}

void value_encode_double(buf *out, double v)
{
    buf_putc(out, (char)VT_DOUBLE);
    buf_put_u64le(out, double_bits(v));
}

void value_encode_bytes(buf *out, value_type t, slice s)
{
    STRATA_ASSERT(t == VT_STRING || t == VT_BYTES);
    buf_reserve(out, 1 + s.n);
    buf_putc(out, (char)t);
    buf_append(out, s.p, s.n);
}

void value_encode_int64_array(buf *out, const int64_t *v, size_t n)
{
    buf_reserve(out, 1 + n * 8);
    buf_putc(out, (char)VT_INT64_ARRAY);
    for (size_t i = 0; i < n; i++)
        buf_put_u64le(out, (uint64_t)v[i]);
}

void value_encode_double_array(buf *out, const double *v, size_t n)
{
    buf_reserve(out, 1 + n * 8);
    buf_putc(out, (char)VT_DOUBLE_ARRAY);
    for (size_t i = 0; i < n; i++)
        buf_put_u64le(out, double_bits(v[i]));
}

void value_encode_string_array_begin(buf *out)
{
    buf_putc(out, (char)VT_STRING_ARRAY);
}

void value_encode_string_array_add(buf *out, slice s)
{
    STRATA_ASSERT(s.n <= UINT32_MAX);
    buf_put_u32le(out, (uint32_t)s.n);
    buf_append(out, s.p, s.n);
}

/* ---- JSON encoder ------------------------------------------------------- */

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static int too_big(size_t payload, strata_err *err)
{
    return err_set(err, STRATA_INVALID_ARGUMENT, "value of %zu bytes exceeds the limit of %u bytes",
                   payload, LIMIT_VALUE_BYTES);
}

/* `what` names the expected type in messages ("INT64", or "INT64 element"). */
static int json_to_int64(const json_t *j, int64_t *out, const char *what, strata_err *err)
{
    if (json_is_integer(j)) {
        *out = (int64_t)json_integer_value(j);
        return 0;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        char t[STRATA_DTOA_MAX];
        if (d != trunc(d)) {
            strata_dtoa_g(d, t);
            return err_set(err, STRATA_INVALID_ARGUMENT, "expected %s, got non-integral number %s",
                           what, t);
        }
        /* Written with a fraction or an exponent (31.0, 1e3), the number
         * reached us as a double: from 2^53 on, doubles are 2 or more apart,
         * so 9007199254740993.0 would land as ...992 without a word. Only
         * where every integer is exact is such a number taken. */
        if (!(d > -9007199254740992.0 && d < 9007199254740992.0)) {
            strata_dtoa_g(d, t);
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "%s written as a decimal number (%s) is exact only below 2^53 in "
                           "magnitude: write it without a fraction or exponent",
                           what, t);
        }
        *out = (int64_t)d;
        return 0;
    }
    return err_set(err, STRATA_INVALID_ARGUMENT, "expected %s, got %s", what, json_kind(j));
}

static int encode_array(value_type t, const json_t *j, buf *out, strata_err *err)
{
    static const char *const elem_names[] = {
        [VT_INT64_ARRAY] = "INT64",
        [VT_DOUBLE_ARRAY] = "DOUBLE",
        [VT_STRING_ARRAY] = "STRING",
    };
    const char *elem = elem_names[t];
    size_t n = json_array_size(j);
    if (t != VT_STRING_ARRAY && n > LIMIT_VALUE_BYTES / 8)
        return too_big(n * 8, err);
    size_t payload = 0;
    buf_putc(out, (char)t);
    if (t != VT_STRING_ARRAY)
        buf_reserve(out, n * 8);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(j, i);
        switch (t) {
        case VT_INT64_ARRAY: {
            int64_t v;
            int rc = json_to_int64(e, &v, elem, err);
            if (rc) {
                err_prefix(err, "element %zu", i);
                return rc;
            }
            buf_put_u64le(out, (uint64_t)v);
            break;
        }
        case VT_DOUBLE_ARRAY:
            if (!json_is_number(e))
                return err_set(err, STRATA_INVALID_ARGUMENT, "element %zu: expected %s, got %s", i,
                               elem, json_kind(e));
            buf_put_u64le(out, double_bits(json_number_value(e)));
            break;
        case VT_STRING_ARRAY: {
            if (!json_is_string(e))
                return err_set(err, STRATA_INVALID_ARGUMENT, "element %zu: expected %s, got %s", i,
                               elem, json_kind(e));
            size_t len = json_string_length(e);
            if (len > LIMIT_VALUE_BYTES || payload + 4 + len > LIMIT_VALUE_BYTES)
                return too_big(payload + 4 + len, err);
            payload += 4 + len;
            value_encode_string_array_add(out, (slice){json_string_value(e), len});
            break;
        }
        default:
            STRATA_ASSERT(!"not an array type");
        }
    }
    return 0;
}

static int encode_json(value_type t, const json_t *j, buf *out, strata_err *err)
{
    if (json_is_null(j)) {
        value_encode_null(out);
        return 0;
    }
    switch (t) {
    case VT_BOOL:
        if (!json_is_boolean(j))
            break;
        value_encode_bool(out, json_is_true(j));
        return 0;
    case VT_INT64: {
        int64_t v;
        int rc = json_to_int64(j, &v, "INT64", err);
        if (rc)
            return rc;
        value_encode_int64(out, v);
        return 0;
    }
    case VT_DOUBLE:
        if (!json_is_number(j))
            break;
        value_encode_double(out, json_number_value(j));
        return 0;
    case VT_STRING: {
        if (!json_is_string(j))
            break;
        size_t len = json_string_length(j);
        if (len > LIMIT_VALUE_BYTES)
            return too_big(len, err);
        value_encode_bytes(out, VT_STRING, (slice){json_string_value(j), len});
        return 0;
    }
    case VT_BYTES: {
        if (!json_is_string(j))
            break;
        slice b64 = {json_string_value(j), json_string_length(j)};
        /* Refuse before decoding: base64 is 4 characters per 3 bytes. */
        if (b64.n / 4 * 3 > LIMIT_VALUE_BYTES + 2)
            return too_big(b64.n / 4 * 3, err);
        buf_putc(out, (char)VT_BYTES);
        size_t at = out->n;
        if (base64_decode(b64, out))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "expected BYTES as base64, got invalid "
                           "base64");
        if (out->n - at > LIMIT_VALUE_BYTES)
            return too_big(out->n - at, err);
        return 0;
    }
    case VT_INT64_ARRAY:
    case VT_DOUBLE_ARRAY:
    case VT_STRING_ARRAY:
        if (!json_is_array(j))
            break;
        return encode_array(t, j, out, err);
    default:
        break;
    }
    return err_set(err, STRATA_INVALID_ARGUMENT, "expected %s, got %s", value_type_name(t),
                   json_kind(j));
}

int value_encode_json(value_type t, const json_t *j, buf *out, strata_err *err)
{
    if (!value_type_name(t))
        return err_set(err, STRATA_INVALID_ARGUMENT, "invalid value type %d", (int)t);
    if (!j)
        return err_set(err, STRATA_INVALID_ARGUMENT, "missing value");
    size_t start = out->n;
    int rc = encode_json(t, j, out, err);
    if (rc) {
        out->n = start; /* a rejected value appends nothing */
        if (out->p)
            out->p[start] = '\0';
    }
    return rc;
}

/* ---- decoding ----------------------------------------------------------- */

int value_decode(slice enc, value_view *out)
{
    memset(out, 0, sizeof *out);
    if (enc.n < 1)
        return -1;
    unsigned tag = (unsigned char)enc.p[0];
    const char *p = enc.p + 1;
    size_t n = enc.n - 1;
    out->tag = (value_type)tag;
    switch (tag) {
    case VT_NULL:
        return n == 0 ? 0 : -1;
    case VT_BOOL:
        if (n != 1 || (unsigned char)p[0] > 1)
            return -1;
        out->b = p[0] == 1;
        return 0;
    case VT_INT64:
        if (n != 8)
            return -1;
        out->i = (int64_t)get_u64le(p);
        return 0;
    case VT_DOUBLE:
        if (n != 8)
            return -1;
        out->d = bits_double(get_u64le(p));
        return 0;
    case VT_STRING:
    case VT_BYTES:
        out->s = (slice){p, n};
        return 0;
    case VT_INT64_ARRAY:
    case VT_DOUBLE_ARRAY:
        if (n % 8)
            return -1;
        out->s = (slice){p, n};
        out->count = n / 8;
        return 0;
    case VT_STRING_ARRAY: {
        size_t count = 0, pos = 0;
        while (pos < n) {
            if (n - pos < 4)
                return -1;
            uint32_t len = get_u32le(p + pos);
            pos += 4;
            if (len > n - pos)
                return -1;
            pos += len;
            count++;
        }
        out->s = (slice){p, n};
        out->count = count;
        return 0;
    }
    default:
        return -1;
    }
}

int64_t value_int64_at(const value_view *v, size_t i)
{
    STRATA_ASSERT(v->tag == VT_INT64_ARRAY && i < v->count);
    return (int64_t)get_u64le(v->s.p + i * 8);
}

double value_double_at(const value_view *v, size_t i)
{
    STRATA_ASSERT(v->tag == VT_DOUBLE_ARRAY && i < v->count);
    return bits_double(get_u64le(v->s.p + i * 8));
}

int value_string_next(const value_view *v, size_t *pos, slice *s)
{
    /* value_decode checked every length, so no bounds can be crossed here. */
    if (v->tag != VT_STRING_ARRAY || *pos >= v->s.n)
        return 0;
    uint32_t len = get_u32le(v->s.p + *pos);
    s->p = v->s.p + *pos + 4;
    s->n = len;
    *pos += 4 + (size_t)len;
    return 1;
}

void value_write_json(buf *b, slice enc)
{
    value_view v;
    if (value_decode(enc, &v)) {
        /* Never reached for stored values (validated on the way in). */
        buf_append(b, "null", 4);
        return;
    }
    switch (v.tag) {
    case VT_NULL:
        buf_append(b, "null", 4);
        return;
    case VT_BOOL:
        buf_append_str(b, v.b ? "true" : "false");
        return;
    case VT_INT64:
        jsonw_i64(b, v.i);
        return;
    case VT_DOUBLE:
        jsonw_double(b, v.d);
        return;
    case VT_STRING:
        jsonw_str(b, v.s);
        return;
    case VT_BYTES:
        jsonw_base64(b, v.s);
        return;
    case VT_INT64_ARRAY:
    case VT_DOUBLE_ARRAY:
        buf_putc(b, '[');
        for (size_t i = 0; i < v.count; i++) {
            if (i)
                buf_putc(b, ',');
            if (v.tag == VT_INT64_ARRAY)
                jsonw_i64(b, value_int64_at(&v, i));
            else
                jsonw_double(b, value_double_at(&v, i));
        }
        buf_putc(b, ']');
        return;
    case VT_STRING_ARRAY: {
        size_t pos = 0;
        slice s;
        buf_putc(b, '[');
        for (int first = 1; value_string_next(&v, &pos, &s); first = 0) {
            if (!first)
                buf_putc(b, ',');
            jsonw_str(b, s);
        }
        buf_putc(b, ']');
        return;
    }
    }
}
