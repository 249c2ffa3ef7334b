/*
 * value.h - the typed feature value and its stored encoding.
 *
 * Encoding (also the payload of protobuf-free paths; see docs/architecture.md):
 *
 *   OFFSET  SIZE  FIELD
 *   0       1     tag: 0 = NULL, else the value_type below
 *   1       ...   payload:
 *                   BOOL          1 byte, 0 or 1
 *                   INT64         8 bytes, two's complement, little-endian
 *                   DOUBLE        8 bytes, IEEE 754 binary64, little-endian
 *                   STRING/BYTES  the bytes (length = value length - 1)
 *                   INT64_ARRAY   n x 8 bytes LE (n = payload / 8)
 *                   DOUBLE_ARRAY  n x 8 bytes LE
 *                   STRING_ARRAY  n x (u32 LE length, bytes)
 *
 * A NULL value is a version like any other: it is "the newest value is null".
 */
#ifndef STRATA_STORE_VALUE_H
#define STRATA_STORE_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"

typedef enum value_type {
    VT_NULL = 0, /* only as a tag, never a feature's type */
    VT_BOOL = 1,
    VT_INT64 = 2,
    VT_DOUBLE = 3,
    VT_STRING = 4,
    VT_BYTES = 5,
    VT_INT64_ARRAY = 6,
    VT_DOUBLE_ARRAY = 7,
    VT_STRING_ARRAY = 8,
} value_type;

#define VT_MAX VT_STRING_ARRAY

/* "BOOL", "INT64", ...; NULL for an invalid type. */
const char *value_type_name(value_type t);
/* 0 and *out set, or -1 for a name that is not one of the contract's types. */
int value_type_parse(slice name, value_type *out);

/*
 * Encode a JSON value as a value of type t, appending to out. JSON null encodes
 * NULL. Wrong JSON type, out-of-range integer (INT64 takes integers only; a
 * DOUBLE takes any number), invalid base64 for BYTES, or a value over
 * LIMIT_VALUE_BYTES -> INVALID_ARGUMENT with a message naming what was wrong
 * (the caller prefixes which feature/row).
 */
int value_encode_json(value_type t, const json_t *j, buf *out, strata_err *err);

/* Typed constructors for non-JSON paths (protobuf, CSV). */
void value_encode_null(buf *out);
void value_encode_bool(buf *out, bool v);
void value_encode_int64(buf *out, int64_t v);
void value_encode_double(buf *out, double v);
void value_encode_bytes(buf *out, value_type t, slice s); /* VT_STRING or VT_BYTES */
void value_encode_int64_array(buf *out, const int64_t *v, size_t n);
void value_encode_double_array(buf *out, const double *v, size_t n);
/* STRING_ARRAY: begin, then one append per element. */
void value_encode_string_array_begin(buf *out);
void value_encode_string_array_add(buf *out, slice s);

/* A decoded view over an encoded value; borrowed from the encoding. */
typedef struct value_view {
    value_type tag; /* VT_NULL for null */
    bool b;
    int64_t i;
    double d;
    slice s;       /* STRING/BYTES: the bytes; arrays: the raw payload */
    size_t count;  /* arrays: number of elements */
} value_view;

/* 0, or -1 when the bytes are not a well-formed encoding. */
int value_decode(slice enc, value_view *out);
/* Array element access on a decoded view (i < count). */
int64_t value_int64_at(const value_view *v, size_t i);
double value_double_at(const value_view *v, size_t i);
/* Iterate STRING_ARRAY elements: *pos starts at 0; returns 1 with *s, 0 at end. */
int value_string_next(const value_view *v, size_t *pos, slice *s);

/* Append the value as JSON (null, true, 3, 2.5, "s", base64 for BYTES, arrays). */
void value_write_json(buf *b, slice enc);

#endif
