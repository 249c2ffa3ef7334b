/*
 * jsoncheck.h - shape checks on request JSON shared by every layer that takes
 * client-written objects (HTTP handlers, import/export/schedule specs).
 */
#ifndef STRATA_BASE_JSONCHECK_H
#define STRATA_BASE_JSONCHECK_H

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"

/* INVALID_ARGUMENT `unknown field "<where><key>"` for the first member of obj
 * not in the NULL-terminated `allowed`; 0 when all are known. A typo such as
 * "ttl_second" would otherwise silently do nothing. */
int json_check_fields(const json_t *obj, const char *const *allowed, const char *where,
                      strata_err *err);

/* An optional string member `key` of obj: 0 with *out empty ({NULL, 0}) when
 * absent or null, 0 with *out borrowing the string when it is non-empty UTF-8
 * text without NUL, else INVALID_ARGUMENT naming the field. */
int json_opt_text(const json_t *obj, const char *key, slice *out, strata_err *err);

/* The shape of a JSON text, measured without parsing it: `values` counts
 * every number, string (object keys included), literal, array and object;
 * `depth` is the deepest nesting of arrays and objects. Parsing costs memory
 * per value (jansson: ~50 bytes a number, ~200 an object), so a body is
 * measured against its limits first. Malformed text is measured as far as it
 * goes and left for the parser to report. One pass, no allocation. */
typedef struct json_shape {
    size_t values;
    size_t depth;
} json_shape;
void json_measure(slice text, json_shape *out);

#endif
