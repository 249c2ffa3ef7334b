/*
 * dataset.h - training data assembly: rows of the export's point-in-time
 * reader (ingest/export.h) -> a label vector + raw feature columns that
 * prep_fit / prep_transform read; the train/eval split.
 *
 * The conversion of one stored feature value (store/value.h encoding) into a
 * prep cell lives here, in ds_cols_set(), and is the only one: training
 * (through the export reader) and online prediction (serving/api_models.c,
 * through store_latest_multiget) both fill their columns with it, so the
 * matrix a model sees online is built exactly as in training (no skew).
 *
 * Feature types -> prep kinds: BOOL, INT64, DOUBLE numeric; STRING, BYTES
 * categorical; INT64_ARRAY, DOUBLE_ARRAY numeric_array (width = the length of
 * the first non-NULL training value; another length is an error);
 * STRING_ARRAY multi_hot (its elements are the row's tokens; an empty array
 * is an empty bag, not a NULL).
 * A missing value (no version, outside the TTL, NULL) is a prep NULL.
 */
#ifndef STRATA_TRAINER_DATASET_H
#define STRATA_TRAINER_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "ingest/export.h"
#include "store/value.h"
#include "trainer/model.h"
#include "trainer/prep.h"

/* Raw feature columns of n rows, growable. */
typedef struct ds_cols {
    size_t n_rows, cap;
    size_t n_cols;
    char **names;       /* "entity__feature" */
    value_type *types;  /* feature types */
    prep_kind *kinds;
    size_t *widths;     /* NUMERIC_ARRAY; 0 = not known yet */
    double **num;
    slice **cat;        /* slices into str (fixed up by ds_cols_finish) */
    size_t **cat_off;   /* CATEGORICAL: per row (offset in str, length);
                           MULTI_HOT: per row (first token, token count) */
    size_t **tok;       /* MULTI_HOT: per token (offset in str, length) */
    size_t *n_tok, *tok_cap;
    uint8_t **missing;
    buf str;
} ds_cols;

/* prep kind of a feature type; -1 for a type the trainer cannot read. */
int ds_kind_of(value_type t, prep_kind *out);
/* widths may be NULL (learned from the data); names/types copied. */
int ds_cols_init(ds_cols *c, size_t n_cols, const char *const *names, const value_type *types,
                 const size_t *widths, strata_err *err);
/* Append a row of NULLs; returns its index. */
size_t ds_cols_add_row(ds_cols *c);
/* Set column k of row i from an encoded value (enc.n == 0: missing). */
int ds_cols_set(ds_cols *c, size_t i, size_t k, slice enc, strata_err *err);
/* Slices ready; *in describes the columns (borrowed from c). Rows sel (NULL =
 * all) picks a subset into a new input held in tmp (freed by ds_input_free). */
typedef struct ds_input {
    prep_input in;
    prep_column *cols;
    void **owned;
    size_t nowned;
} ds_input;
int ds_cols_input(ds_cols *c, const size_t *sel, size_t nsel, ds_input *out);
void ds_input_free(ds_input *in);
void ds_cols_free(ds_cols *c);

/* The assembled training data. */
typedef struct train_dataset {
    ds_cols cols;
    double *y;          /* class index or target */
    char **keys;        /* hash-split key per row (the entity id) */
    int64_t *ts;        /* row time (for time splits); INT64_MIN unknown */
    json_t *labels;     /* classification: the label values, sorted (index = class) */
    char sha256[65];    /* over the assembled rows */
    uint64_t rows;
    char ***extra;      /* extra[k][row]: dataset_request.extra_columns[k] as text,
                           NULL when missing (owned) */
    size_t n_extra;
} train_dataset;

/* The export reader's column of an "entity:feature" ref: "entity__feature",
 * a new string the caller frees. NULL when ref is not two valid names joined
 * by one ':' (a label_column or group_by with a ':' is a feature ref). */
char *ds_ref_column(const char *ref);
/* Append the string ref to the JSON array refs unless it is there already. */
void ds_ref_append(json_t *refs, const char *ref);

typedef struct dataset_request {
    trainer_task task;
    /* An instance column, or an "entity:feature" ref among the reader's
     * features (read point in time like the model's; its text as
     * ds_cell_text gives it). */
    const char *label_column;
    const char *key_column;  /* entity id column for hash splits */
    const char *time_column; /* the timestamp column */
    bool (*cancelled)(void *arg);
    void *arg;
    /* Features [0, n_model_features) of the reader are the model's columns;
     * later ones are read only as extra columns (0: all are the model's). */
    size_t n_model_features;
    /* Columns kept per row as text besides the label, e.g. the group
     * attributes of a fairness evaluation: instance columns or feature output
     * columns ("entity__feature"). An unknown name is INVALID_ARGUMENT. */
    const char *const *extra_columns;
    size_t n_extra;
} dataset_request;

/* The text of a cell of the export reader's rows (labels, keys, times,
 * group values): stored STRING values as they are, other values as their
 * JSON text (BYTES: the base64 without quotes); tmp holds the bytes when
 * they are not the cell's own. false (and *out empty) for a missing cell
 * or a stored NULL. */
bool ds_cell_text(const export_cell *c, buf *tmp, slice *out);

/* Read every row of an opened historical reader. Errors name the row. */
int dataset_read(export_reader *r, const dataset_request *rq, train_dataset *ds, strata_err *err);
void dataset_free(train_dataset *ds);

typedef enum split_method { SPLIT_HASH = 0, SPLIT_RANDOM, SPLIT_TIME } split_method;
typedef struct split_spec {
    split_method method;
    double eval_fraction; /* hash, random */
    uint64_t seed;        /* random */
    int64_t split_time;   /* time: rows at or after it are eval */
} split_spec;

/* Parse the contract's "split" object (NULL: hash, 0.2). */
int split_spec_parse(const json_t *j, split_spec *out, strata_err *err);
/* The hash-split bucket of a key in [0, 1): the first 8 bytes of SHA-256(key)
 * as a big-endian integer / 2^64. Rows with bucket < eval_fraction are eval. */
double split_hash_bucket(const char *key, size_t n);
/* Row indexes of each side (caller frees both). */
int dataset_split(const train_dataset *ds, const split_spec *sp, size_t **train, size_t *ntrain,
                  size_t **eval, size_t *neval, strata_err *err);

#endif
