/*
 * prep.h - preprocessing fitted on the training split and saved with the model.
 *
 * One object turns columns of raw values into the dense, row-major design
 * matrix a model reads. It is fitted once on the training rows, serialized to
 * JSON next to the coefficients, and the very same prep_transform() serves the
 * training matrix, the eval matrix, batch prediction and online prediction:
 * there is no second code path to drift (training/serving skew).
 *
 * Per input column, in input order, the outputs are:
 *   numeric         value                      standardized: (x - mean) / scale
 *                   [name__missing]            0/1, when training saw a NULL
 *   numeric_array   name[0] .. name[w-1]       each element like a numeric column
 *                   [name__missing]            0/1: the array or any element NULL
 *   categorical     name=<v1> .. name=<vk>     one-hot, the k most frequent
 *                                              training values (ties by byte order)
 *                   name=__other__             every other value (out of vocabulary)
 *                   [name=__missing__]         0/1, when training saw a NULL
 *   multi_hot       name=<t1> .. name=<tk>     a bag of tokens (STRING_ARRAY): 1 when
 *                                              the row holds the token; the k tokens
 *                                              in most training rows (ties by byte
 *                                              order); other tokens are ignored
 *                   [name=__missing__]         0/1, when training saw a NULL
 * Indicator, one-hot and multi-hot columns are 0/1 and never standardized.
 *
 * Numbers: mean and scale come from the training rows' observed values only
 * (NULLs and NaNs excluded); scale is the population standard deviation (ddof
 * 0, as scikit-learn's StandardScaler). A constant column (variance zero up to
 * rounding, scikit-learn's rule) is kept and scaled by 1, so it becomes all
 * zeros and can carry no weight; a warning says so. A NULL becomes the mean
 * (0 after standardizing). With numeric "none" values pass unchanged and NULLs
 * still become the training mean. An infinite value is an error naming the
 * column and row; NaN counts as NULL.
 * At prediction a NULL in a column that had none in training is imputed the
 * same way but has no indicator column to set; a categorical NULL there falls
 * into __other__, a multi-hot NULL is all zeros (an empty bag).
 *
 * Thread safety: a fitted prep is immutable; transforms may run concurrently.
 */
#ifndef STRATA_TRAINER_PREP_H
#define STRATA_TRAINER_PREP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

typedef enum prep_kind {
    PREP_NUMERIC = 0,
    PREP_CATEGORICAL,
    PREP_NUMERIC_ARRAY,
    PREP_MULTI_HOT
} prep_kind;
typedef enum prep_numeric { PREP_STANDARDIZE = 0, PREP_NUMERIC_NONE } prep_numeric;
typedef enum prep_missing { PREP_MISSING_MEAN_AND_INDICATOR = 0, PREP_MISSING_ERROR } prep_missing;

typedef struct prep_options {
    prep_numeric numeric;
    prep_missing missing;
    size_t max_categories; /* 1..TRAINER_MAX_CATEGORIES */
} prep_options;

/* standardize, mean_and_indicator, max_categories 100 (the contract's defaults). */
void prep_options_default(prep_options *o);
/* Read the contract's "preprocessing" object ({"numeric","categorical",
 * "max_categories","missing"}); absent members keep their defaults, unknown
 * members and values are INVALID_ARGUMENT. spec may be NULL. */
int prep_options_from_json(const json_t *spec, prep_options *o, strata_err *err);

/* One input column, borrowed for the duration of a call. */
typedef struct prep_column {
    const char *name; /* NUL-terminated */
    prep_kind kind;
    size_t width;           /* NUMERIC_ARRAY: elements per row (>= 1); else ignored */
    const double *num;      /* NUMERIC: n_rows values; NUMERIC_ARRAY: n_rows * width,
                               row-major; NaN = NULL */
    const slice *cat;       /* CATEGORICAL: n_rows UTF-8 values; MULTI_HOT: the tokens of
                               all rows, row after row */
    const size_t *tok_off;  /* MULTI_HOT: n_rows + 1 offsets, non-decreasing from 0: row
                               r's tokens are cat[tok_off[r]] .. cat[tok_off[r+1] - 1]
                               (none: an empty bag, which is not NULL) */
    const uint8_t *missing; /* optional: non-zero = the row's value is NULL */
} prep_column;

typedef struct prep_input {
    size_t n_rows;
    size_t n_cols;
    const prep_column *cols;
} prep_input;

typedef struct prep prep;

/*
 * Fit on the training rows. Column names must be distinct. Errors
 * (INVALID_ARGUMENT) name the column and, for a bad value, the row.
 * On success *out is a new object the caller frees with prep_destroy().
 */
int prep_fit(const prep_options *opt, const prep_input *in, prep **out, strata_err *err);
void prep_destroy(prep *p);

/* Design-matrix width. */
size_t prep_n_outputs(const prep *p);
/* Name of output column j (see the table above); borrowed, lives as long as p. */
const char *prep_output_name(const prep *p, size_t j);
/* Warnings from fitting (constant or all-NULL columns, ...): a JSON array of
 * strings, borrowed, lives as long as p. */
const json_t *prep_warnings(const prep *p);

/*
 * Write in->n_rows rows of prep_n_outputs() doubles to out (row-major; the
 * caller sizes it). Input columns are found by name, in any order; extra
 * columns are ignored. A fitted column that is absent, of another kind or
 * array width, or a value that is infinite is INVALID_ARGUMENT; out is then
 * partly written.
 */
int prep_transform(const prep *p, const prep_input *in, double *out, strata_err *err);

/* Serialize: a new JSON object (the format is in docs/trainer.md). NULL only
 * when memory runs out. Doubles are written with 17 significant digits, so
 * prep_from_json(prep_to_json(p)) transforms bit for bit like p. */
json_t *prep_to_json(const prep *p);
/* Deserialize and validate (a corrupt or hand-edited object is refused with
 * INVALID_ARGUMENT naming the bad member). */
int prep_from_json(const json_t *j, prep **out, strata_err *err);

#endif
