/*
 * pb.h - conversions between protobuf-c messages (strata.proto) and Strata's
 * stored value encoding (store/value.h).
 */
#ifndef STRATA_SERVING_PB_H
#define STRATA_SERVING_PB_H

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "serving/strata.pb-c.h"
#include "store/value.h"

/* Encode a protobuf Value as a value of type t (appended to out). A Value with
 * no kind is NULL; an int64_value is accepted for a DOUBLE feature, as in JSON.
 * A kind that does not fit t, or a string that is not UTF-8 -> INVALID_ARGUMENT. */
int pb_value_encode(value_type t, const Strata__V1__Value *v, buf *out, strata_err *err);

/* protobuf-c hands string fields over as C strings, so one holding a NUL byte
 * would arrive cut short ("u3\0x" as "u3": another entity's id). Walks the
 * wire bytes of a message that unpacked as `desc` and finds any string field,
 * at any depth, holding a NUL: 0 if none; else -1 and `why` names the field
 * ("strata.v1.WriteRow.entity_id"). JSON refuses \u0000 in the same places. */
int pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n, char *why,
                     size_t why_cap);

/* Fill a protobuf Value from an encoded value. Pointers in *v borrow from `enc`
 * except strings and arrays, which are allocated in *scratch (the answer's
 * arena: the message tree of a response lives there and is freed with it). */
int pb_value_decode(slice enc, Strata__V1__Value *v, arena *scratch);

#endif
