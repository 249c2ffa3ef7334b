/*
 * jsonw.h - a small, fast JSON writer that appends to a buf.
 *
 * The hot paths (online reads, exports) write JSON straight into the response
 * buffer instead of building a jansson tree: no per-value allocation. Strings
 * must already be valid UTF-8 (everything stored was validated on the way in);
 * control characters, quotes and backslashes are escaped.
 */
#ifndef STRATA_BASE_JSONW_H
#define STRATA_BASE_JSONW_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"

void jsonw_str(buf *b, slice s);
static inline void jsonw_cstr(buf *b, const char *s)
{
    jsonw_str(b, slice_of(s));
}
void jsonw_i64(buf *b, int64_t v);
void jsonw_u64(buf *b, uint64_t v);
/* Shortest round-trip form, strata_dtoa's shape ("0.1", "42.0", "1e-07");
 * NaN and infinities as null. */
void jsonw_double(buf *b, double v);
/* A JSON string holding the standard base64 (RFC 4648, padded) of the bytes. */
void jsonw_base64(buf *b, slice bytes);
/* "key": — with the separating comma when `first` is 0. */
void jsonw_key(buf *b, const char *key, int first);

/*
 * A jansson value as compact JSON, reals in jsonw_double's shortest
 * round-trip form, without building a string per value. With sort_keys every
 * object's keys are in byte order: the canonical text of json_dumps(
 * JSON_COMPACT | JSON_SORT_KEYS), which stored records use; without, in the
 * object's own order.
 */
void jsonw_value(buf *b, const json_t *j, bool sort_keys);

/* Decode standard padded base64; -1 on any other character or bad length. */
int base64_decode(slice in, buf *out);

#endif
