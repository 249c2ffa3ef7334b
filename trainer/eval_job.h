/*
 * eval_job.h - the evaluation service around the evaluator (trainer/evaluate.h):
 * POST /v1/evaluations as a job, the stored evaluations, their lineage, and
 * the hook through which training evaluates a model on its eval split
 * (docs/evaluation.md "API").
 *
 * Sources of the scored rows:
 *   model        a registered model version scores instances read through
 *                the export's point-in-time reader (features as in training)
 *                with loaded_model_score;
 *   predictions  a CSV or JSONL file under --import-dir, or an inline array
 *                of row objects, holding a label and a score and/or a
 *                predicted label made elsewhere.
 * Group attributes are instance / predictions columns, or `entity:feature`
 * refs read point in time like any feature.
 *
 * Storage (STORE_SPACE_JOBS, beside the jobs' 'J'/'C', the scheduler's 'S'
 * and the model registry's 'M'/'A'):
 *
 *   key                                     value
 *   OFFSET SIZE FIELD
 *   0      1    'E'                         the evaluation as compact JSON: the
 *   1      8    evaluation number, u64 BE   eval_compute result plus "id",
 *                                           "created_time", "source",
 *                                           "label_column", "group_by",
 *                                           "intersections", "reference_groups",
 *                                           "positive_label", "execution_id",
 *                                           "job_id"
 *   0      1    'e'                         next evaluation number, u64 BE
 *   0      1    'V'                         empty: the index behind
 *   1      n    model name                  GET /v1/evaluations?model=
 *   1+n    1    0x00
 *   2+n    8    evaluation number, u64 BE
 *
 * Evaluation ids are "ev-<number>", numbers allocated monotonically from the
 * persisted counter and never reused.
 */
#ifndef STRATA_TRAINER_EVAL_JOB_H
#define STRATA_TRAINER_EVAL_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "store/store.h"
#include "trainer/evaluate.h"
#include "trainer/train_job.h"

/* Check an evaluation request synchronously (every 4xx it can earn, naming
 * the problem: unknown model 404, unknown column or field 400, limits 413)
 * and submit the job (kind "evaluation"). *job_out gets its JSON. */
int eval_submit(train_ctx *tc, const json_t *body, const char *principal, json_t **job_out,
                strata_err *err);

/* ---- stored evaluations (trainer/eval_store.c) ------------------------------------------ */

/* The stored evaluation of id ("ev-7"); NOT_FOUND naming it. *out: the
 * caller's. */
int eval_store_get(store_t *st, const char *id, json_t **out, strata_err *err);

/* Evaluations newest first (of one model when model is not NULL), after the
 * one numbered `before` (0: from the newest); at most limit summaries
 * ({"id","created_time","source","task","n","label_column","group_by",
 * "summary","execution_id","job_id"}) appended to items; *next gets the
 * number to continue from, 0 when no more match. */
int eval_store_list(store_t *st, const char *model, uint64_t before, size_t limit, json_t *items,
                    uint64_t *next, strata_err *err);

/* ---- saving an evaluation: storage + lineage ---------------------------------------------- */

/* What was evaluated, for the stored record and for lineage. */
typedef struct eval_meta {
    const char *model;        /* NULL: a predictions source */
    int64_t version;
    const char *predictions;  /* the predictions source: "file:///…" or "inline" */
    const char *label_column;
    const json_t *group_by;   /* array of strings (borrowed) */
    bool intersections;
    const json_t *reference_groups; /* object or NULL */
    const char *positive_label;     /* binary: the class counted as positive */
    const char *job_id;
    /* The evaluated rows as a Dataset artifact: an existing one (id > 0, the
     * training Dataset) or a new one with these properties. */
    int64_t dataset_id;
    const char *dataset_uri;
    const char *dataset_sha256;
    uint64_t rows;
    const json_t *feature_refs;     /* may be NULL */
    const char *split;              /* the Metrics artifact's "split": "evaluation", "eval" */
} eval_meta;

/* Store `result` (eval_compute's JSON, borrowed) as a new evaluation with the
 * envelope fields above, and record an Evaluate execution in lineage (when
 * lg is not NULL): INPUT the Model "<model>@<version>" and the Dataset,
 * OUTPUT a Metrics artifact (headline numbers) and a FairnessReport (when
 * group_by is not empty). *id_out gets "ev-N" (at least 24 bytes),
 * *exec_id the execution (0 without lineage). */
int eval_save(store_t *st, struct lineage *lg, const eval_meta *m, const json_t *result,
              char *id_out, size_t id_len, int64_t *exec_id, strata_err *err);

/* ---- requests shared with training (the "fairness" block) -------------------------------- */

/* The grouping part of a request: group_by, intersections, reference_groups
 * and the eval_options they and threshold/thresholds/bootstrap/min_group_size
 * set. `where` prefixes messages ("fairness."). Owns its copies. */
typedef struct eval_groups {
    size_t n;
    char *names[EVAL_MAX_GROUP_BY];      /* as given: "sex", "applicant:city" */
    bool is_feature[EVAL_MAX_GROUP_BY];  /* an entity:feature ref */
    char *column[EVAL_MAX_GROUP_BY];     /* the column to read: the name, or "entity__feature" */
    char *reference[EVAL_MAX_GROUP_BY];  /* reference_groups value or NULL */
    json_t *group_by;                    /* the request's array (or []) */
    json_t *reference_groups;            /* the request's object (or {}) */
    double *thresholds;
    eval_options opts;
} eval_groups;

/* Parse the members group_by, intersections, reference_groups, threshold,
 * thresholds, bootstrap and min_group_size of obj (each optional; the caller
 * refuses unknown members). INVALID_ARGUMENT naming the member. */
int eval_groups_parse(const json_t *obj, const char *where, eval_groups *g, strata_err *err);
void eval_groups_free(eval_groups *g);

/* The text of a missing group value: its own group. */
#define EVAL_MISSING_VALUE "(missing)"

/* Build eval_attr codes from per-row texts (NULL = missing) of one attribute:
 * distinct values in first-seen order. values/codes are new arrays the caller
 * frees with eval_attr_free; INVALID_ARGUMENT over EVAL_MAX_GROUP_VALUES. */
int eval_attr_from_texts(const char *name, char *const *texts, const size_t *rows, size_t n,
                         eval_attr *out, strata_err *err);
void eval_attr_free(eval_attr *a);

#endif
