/*
 * train_job.h - POST /v1/trainings as a job, and loading a trained model for
 * prediction (docs/trainer.md "Training API").
 */
#ifndef STRATA_TRAINER_TRAIN_JOB_H
#define STRATA_TRAINER_TRAIN_JOB_H

#include <jansson.h>

#include "base/err.h"
#include "ingest/export.h"
#include "ingest/jobs.h"
#include "store/store.h"
#include "trainer/dataset.h"
#include "trainer/model.h"
#include "trainer/prep.h"

struct lineage;

typedef struct train_ctx {
    store_t *store;
    struct lineage *lineage; /* may be NULL: nothing recorded */
    export_ctx *exports;
    job_runner *jobs;
    /* Rows of an evaluation's predictions.inline (max_inline_eval_rows);
     * 0: LIMIT_DEFAULT_MAX_INLINE_EVAL_ROWS. */
    uint32_t max_inline_eval_rows;
} train_ctx;

/* Check a training request synchronously (every 4xx it can earn, naming the
 * problem) and submit the job (kind "training"). *job_out gets its JSON. */
int train_submit(train_ctx *tc, const json_t *body, const char *principal, json_t **job_out,
                 strata_err *err);

/* Check a batch prediction request (POST /v1/predictions:batch) and submit
 * the job (kind "batch_prediction"), trainer/batch_predict.c. */
int batch_predict_submit(train_ctx *tc, const json_t *body, const char *principal,
                         json_t **job_out, strata_err *err);

/* The optional "version" (positive integer) and "alias" (a name) members of a
 * request naming a model: *ver 0 and *alias NULL when absent (the latest);
 * both given, or a bad value, is INVALID_ARGUMENT. *alias borrows body. */
int model_version_parse(const json_t *body, int64_t *ver, const char **alias, strata_err *err);

/* A stored model version, ready to score. */
typedef struct loaded_model {
    json_t *doc; /* the registry record */
    prep *pp;
    trainer_model *m;
    trainer_task task;
    size_t nfeatures;
    const char **refs;  /* "entity:feature" (borrowed from doc) */
    const char **cols;  /* "entity__feature" (owned) */
    value_type *types;
    size_t *widths;
} loaded_model;

/* Load name at version (0 = latest) or alias (NULL = none). */
int loaded_model_open(store_t *st, const char *name, int64_t ver, const char *alias,
                      loaded_model *lm, strata_err *err);
void loaded_model_close(loaded_model *lm);
/* Columns for n rows, all NULL, to be filled with ds_cols_set. */
int loaded_model_columns(const loaded_model *lm, ds_cols *c, strata_err *err);
/* Scores (trainer_model_outputs per row) for the rows of c: prep_transform
 * then trainer_predict, the code path training used. */
int loaded_model_score(const loaded_model *lm, ds_cols *c, double *scores, strata_err *err);

#endif
