/*
 * pb.h - conversions between protobuf-c messages (strata.proto) and Strata's
 * stored value encoding (store/value.h).
 */
#ifndef STRATA_SERVING_PB_H
#define STRATA_SERVING_PB_H

#include "base/buf.h"
#include "base/err.h"
#include "serving/strata.pb-c.h"
#include "store/value.h"

/* Encode a protobuf Value as a value of type t (appended to out). A Value with
 * no kind is NULL; an int64_value is accepted for a DOUBLE feature, as in JSON.
 * A kind that does not fit t, or a string that is not UTF-8 -> INVALID_ARGUMENT. */
int pb_value_encode(value_type t, const Strata__V1__Value *v, buf *out, strata_err *err);

/* Fill a protobuf Value from an encoded value. Pointers in *v borrow from `enc`
 * except arrays, which are allocated into *scratch (freed by pb_scratch_free). */
typedef struct pb_scratch {
    void **ptrs;
    size_t n, cap;
} pb_scratch;
int pb_value_decode(slice enc, Strata__V1__Value *v, pb_scratch *scratch);
/* Allocate from the scratch (zeroed); freed all at once. */
void *pb_scratch_alloc(pb_scratch *s, size_t size);
void pb_scratch_free(pb_scratch *s);

#endif
