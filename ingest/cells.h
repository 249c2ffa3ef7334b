/*
 * cells.h - values from import files: a CSV cell's text or a JSONL value
 * parsed as a feature type, timestamps in RFC 3339 or epoch units, and the
 * type inference behind create_features.
 *
 * CSV cell text per feature type (an empty cell never gets here: it means "no
 * value for this feature in this row"):
 *   BOOL          true/false in any letter case, or 1/0
 *   INT64         a decimal integer within int64 (an exactly integral decimal
 *                 such as "3.0" too, as the write API takes 3.0)
 *   DOUBLE        a finite decimal number ("1.5", "-2e-3"); no hex, inf or nan
 *   STRING        the text as it is
 *   BYTES         standard padded base64
 *   *_ARRAY       a JSON array of the element type ("[1,2]", "[\"a\"]")
 * JSONL values follow the write API exactly (value_encode_json); null is a
 * NULL version.
 *
 * Messages (`why`) name the problem and quote a bounded excerpt of the input.
 */
#ifndef STRATA_INGEST_CELLS_H
#define STRATA_INGEST_CELLS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "store/value.h"

#define CELL_WHY_MAX 256
/* Longer "numbers" in a cell are junk, refused before they are parsed. */
#define CELL_NUMBER_MAX 128

/* Encode CSV cell text as a value of type t, appended to out (nothing appended
 * on error). 0, or -1 with why. */
int cell_encode_text(value_type t, slice cell, buf *out, char why[CELL_WHY_MAX]);

typedef enum time_unit {
    TIME_UNIT_RFC3339,
    TIME_UNIT_SECONDS,
    TIME_UNIT_MILLIS,
    TIME_UNIT_MICROS,
} time_unit;

/* "rfc3339", "seconds", "millis", "micros"; 0 and *out, or -1. */
int time_unit_parse(slice s, time_unit *out);
const char *time_unit_name(time_unit u);

/* A timestamp cell: RFC 3339, or a decimal count of the unit since the epoch
 * (seconds and millis may carry a fraction, kept to the microsecond). 0 and
 * *us within years 0001..9999, or -1 with why. */
int cell_parse_time(slice cell, time_unit u, int64_t *us, char why[CELL_WHY_MAX]);
/* An entity id given as a JSON value: a string as it is, an integer in
 * decimal (written into tmp); -1 for any other type. */
int cell_json_id(const json_t *v, char *tmp, size_t cap, slice *out);
/* A JSONL timestamp: a string as above; with an epoch unit also a JSON number. */
int json_parse_time(const json_t *v, time_unit u, int64_t *us, char why[CELL_WHY_MAX]);

/*
 * Type inference over sampled values (create_features). Feed every non-empty
 * CSV cell or non-null JSON value of a column, then ask for the type:
 *   INT64 when every value is an integer, DOUBLE when every value is a number,
 *   BOOL when every value is true/false, INT64_ARRAY / DOUBLE_ARRAY /
 *   STRING_ARRAY when every value is a JSON array of integers / numbers /
 *   strings (all-empty arrays: DOUBLE_ARRAY), STRING otherwise for CSV text
 *   (and for a column with no value in the sample). For JSON values, STRING
 *   needs every value to be a string: any other mix cannot be inferred.
 * In CSV text "1"/"0" count as integers, not booleans.
 */
typedef struct infer_state {
    uint64_t n;
    bool json; /* fed JSON values (stricter STRING rule) */
    bool all_int, all_num, all_bool, all_str;
    bool all_arr_int, all_arr_num, all_arr_str, any_elem;
} infer_state;

void infer_init(infer_state *s, bool json);
void infer_text(infer_state *s, slice cell);
void infer_json(infer_state *s, const json_t *v);
/* 0 and *out, or -1 when the JSON values mix kinds (why names them). */
int infer_result(const infer_state *s, value_type *out, char why[CELL_WHY_MAX]);

#endif
