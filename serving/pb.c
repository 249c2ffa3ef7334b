/* pb.c - protobuf <-> stored value conversions. */
#include "serving/pb.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/text.h"

static const char *kind_name(Strata__V1__Value__KindCase k)
{
    switch (k) {
    case STRATA__V1__VALUE__KIND_BOOL_VALUE: return "bool_value";
    case STRATA__V1__VALUE__KIND_INT64_VALUE: return "int64_value";
    case STRATA__V1__VALUE__KIND_DOUBLE_VALUE: return "double_value";
    case STRATA__V1__VALUE__KIND_STRING_VALUE: return "string_value";
    case STRATA__V1__VALUE__KIND_BYTES_VALUE: return "bytes_value";
    case STRATA__V1__VALUE__KIND_INT64_ARRAY: return "int64_array";
    case STRATA__V1__VALUE__KIND_DOUBLE_ARRAY: return "double_array";
    case STRATA__V1__VALUE__KIND_STRING_ARRAY: return "string_array";
    default: return "no value";
    }
}

int pb_value_encode(value_type t, const Strata__V1__Value *v, buf *out, strata_err *err)
{
    if (!v || v->kind_case == STRATA__V1__VALUE__KIND__NOT_SET) {
        value_encode_null(out);
        return 0;
    }
    switch (t) {
    case VT_BOOL:
        if (v->kind_case == STRATA__V1__VALUE__KIND_BOOL_VALUE) {
            value_encode_bool(out, v->bool_value);
            return 0;
        }
        break;
    case VT_INT64:
        if (v->kind_case == STRATA__V1__VALUE__KIND_INT64_VALUE) {
            value_encode_int64(out, v->int64_value);
            return 0;
        }
        break;
    case VT_DOUBLE:
        if (v->kind_case == STRATA__V1__VALUE__KIND_DOUBLE_VALUE) {
            /* As in JSON and CSV (found by fuzz_keys: a stored NaN read back
             * as null through JSON): no NaN or infinity. */
            if (!isfinite(v->double_value))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "double_value must be finite, not NaN or infinity");
            value_encode_double(out, v->double_value);
            return 0;
        }
        if (v->kind_case == STRATA__V1__VALUE__KIND_INT64_VALUE) {
            value_encode_double(out, (double)v->int64_value);
            return 0;
        }
        break;
    case VT_STRING:
        if (v->kind_case == STRATA__V1__VALUE__KIND_STRING_VALUE) {
            slice s = slice_of(v->string_value);
            if (!text_valid_utf8(s))
                return err_set(err, STRATA_INVALID_ARGUMENT, "string_value is not valid UTF-8");
            if (s.n > LIMIT_VALUE_BYTES)
                return err_set(err, STRATA_INVALID_ARGUMENT, "value exceeds %u bytes",
                               LIMIT_VALUE_BYTES);
            value_encode_bytes(out, VT_STRING, s);
            return 0;
        }
        break;
    case VT_BYTES:
        if (v->kind_case == STRATA__V1__VALUE__KIND_BYTES_VALUE) {
            if (v->bytes_value.len > LIMIT_VALUE_BYTES)
                return err_set(err, STRATA_INVALID_ARGUMENT, "value exceeds %u bytes",
                               LIMIT_VALUE_BYTES);
            value_encode_bytes(out, VT_BYTES,
                               (slice){(const char *)v->bytes_value.data, v->bytes_value.len});
            return 0;
        }
        break;
    case VT_INT64_ARRAY:
        if (v->kind_case == STRATA__V1__VALUE__KIND_INT64_ARRAY && v->int64_array) {
            if (v->int64_array->n_values * 8 > LIMIT_VALUE_BYTES)
                return err_set(err, STRATA_INVALID_ARGUMENT, "value exceeds %u bytes",
                               LIMIT_VALUE_BYTES);
            value_encode_int64_array(out, v->int64_array->values, v->int64_array->n_values);
            return 0;
        }
        break;
    case VT_DOUBLE_ARRAY:
        if (v->kind_case == STRATA__V1__VALUE__KIND_DOUBLE_ARRAY && v->double_array) {
            if (v->double_array->n_values * 8 > LIMIT_VALUE_BYTES)
                return err_set(err, STRATA_INVALID_ARGUMENT, "value exceeds %u bytes",
                               LIMIT_VALUE_BYTES);
            for (size_t i = 0; i < v->double_array->n_values; i++)
                if (!isfinite(v->double_array->values[i]))
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "double_array element %zu must be finite, not NaN or infinity",
                                   i);
            value_encode_double_array(out, v->double_array->values, v->double_array->n_values);
            return 0;
        }
        break;
    case VT_STRING_ARRAY:
        if (v->kind_case == STRATA__V1__VALUE__KIND_STRING_ARRAY && v->string_array) {
            size_t start = out->n, total = 0;
            value_encode_string_array_begin(out);
            for (size_t i = 0; i < v->string_array->n_values; i++) {
                slice s = slice_of(v->string_array->values[i]);
                total += s.n + 4;
                if (!text_valid_utf8(s) || total > LIMIT_VALUE_BYTES) {
                    out->n = start;
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "string_array element %zu is not valid UTF-8 or the array "
                                   "exceeds %u bytes",
                                   i, LIMIT_VALUE_BYTES);
                }
                value_encode_string_array_add(out, s);
            }
            return 0;
        }
        break;
    default:
        break;
    }
    return err_set(err, STRATA_INVALID_ARGUMENT, "expected %s, got %s", value_type_name(t),
                   kind_name(v->kind_case));
}

int pb_value_decode(slice enc, Strata__V1__Value *v, arena *scratch)
{
    value_view vv;
    strata__v1__value__init(v);
    if (value_decode(enc, &vv))
        return -1;
    switch (vv.tag) {
    case VT_NULL:
        break;
    case VT_BOOL:
        v->kind_case = STRATA__V1__VALUE__KIND_BOOL_VALUE;
        v->bool_value = vv.b;
        break;
    case VT_INT64:
        v->kind_case = STRATA__V1__VALUE__KIND_INT64_VALUE;
        v->int64_value = vv.i;
        break;
    case VT_DOUBLE:
        v->kind_case = STRATA__V1__VALUE__KIND_DOUBLE_VALUE;
        v->double_value = vv.d;
        break;
    case VT_STRING: {
        /* protobuf-c wants a NUL-terminated string. */
        char *s = arena_alloc(scratch, vv.s.n + 1);
        memcpy(s, vv.s.p, vv.s.n);
        v->kind_case = STRATA__V1__VALUE__KIND_STRING_VALUE;
        v->string_value = s;
        break;
    }
    case VT_BYTES:
        v->kind_case = STRATA__V1__VALUE__KIND_BYTES_VALUE;
        v->bytes_value.data = (uint8_t *)vv.s.p;
        v->bytes_value.len = vv.s.n;
        break;
    case VT_INT64_ARRAY: {
        Strata__V1__Int64List *l = arena_alloc(scratch, sizeof *l);
        strata__v1__int64_list__init(l);
        l->n_values = vv.count;
        l->values = arena_alloc(scratch, vv.count * sizeof(int64_t));
        for (size_t i = 0; i < vv.count; i++)
            l->values[i] = value_int64_at(&vv, i);
        v->kind_case = STRATA__V1__VALUE__KIND_INT64_ARRAY;
        v->int64_array = l;
        break;
    }
    case VT_DOUBLE_ARRAY: {
        Strata__V1__DoubleList *l = arena_alloc(scratch, sizeof *l);
        strata__v1__double_list__init(l);
        l->n_values = vv.count;
        l->values = arena_alloc(scratch, vv.count * sizeof(double));
        for (size_t i = 0; i < vv.count; i++)
            l->values[i] = value_double_at(&vv, i);
        v->kind_case = STRATA__V1__VALUE__KIND_DOUBLE_ARRAY;
        v->double_array = l;
        break;
    }
    case VT_STRING_ARRAY: {
        Strata__V1__StringList *l = arena_alloc(scratch, sizeof *l);
        strata__v1__string_list__init(l);
        l->values = arena_alloc(scratch, vv.count * sizeof(char *));
        size_t pos = 0;
        slice s;
        while (l->n_values < vv.count && value_string_next(&vv, &pos, &s) == 1) {
            char *c = arena_alloc(scratch, s.n + 1);
            memcpy(c, s.p, s.n);
            l->values[l->n_values++] = c;
        }
        v->kind_case = STRATA__V1__VALUE__KIND_STRING_ARRAY;
        v->string_array = l;
        break;
    }
    default:
        return -1;
    }
    return 0;
}

/* ---- string fields without NUL ----------------------------------------------------- */

static bool wire_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && *pos < n; shift += 7) {
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

int pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n, char *why,
                     size_t why_cap)
{
    size_t pos = 0;
    while (pos < n) {
        uint64_t tag, len;
        if (!wire_varint(p, n, &pos, &tag))
            return 0; /* (unpack took it, so this does not happen) */
        switch (tag & 7) {
        case 0:
            if (!wire_varint(p, n, &pos, &len))
                return 0;
            break;
        case 1:
            pos += 8;
            break;
        case 5:
            pos += 4;
            break;
        case 2: {
            if (!wire_varint(p, n, &pos, &len) || len > n - pos)
                return 0;
            const ProtobufCFieldDescriptor *f =
                tag >> 3 <= UINT32_MAX
                    ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3))
                    : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p + pos, 0, (size_t)len)) {
                snprintf(why, why_cap, "%s.%s", desc->name, f->name);
                return -1;
            }
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                pb_check_strings(f->descriptor, p + pos, (size_t)len, why, why_cap))
                return -1;
            pos += (size_t)len;
            break;
        }
        default:
            return 0; /* groups: protobuf-c refuses them when it unpacks */
        }
    }
    return 0;
}
