/*
 * trainer_limits.h - the trainer's limits, with the reason for each.
 *
 * They belong with the others in base/limits.h; they live here until the
 * trainer's API layer lands (base/limits.h is being edited in parallel).
 * Every count below is checked before anything is allocated from it.
 */
#ifndef STRATA_TRAINER_LIMITS_H
#define STRATA_TRAINER_LIMITS_H

/* Input columns of one preprocessing: an export holds at most 1000 feature
 * refs (LIMIT_EXPORT_FEATURES) plus instance pass-through columns. */
#define TRAINER_MAX_INPUT_COLUMNS 4096u
/* Elements of one numeric array column: a 1 MiB DOUBLE_ARRAY value
 * (LIMIT_VALUE_BYTES) holds 131072 doubles. */
#define TRAINER_MAX_ARRAY_WIDTH 131072u
/* Categories kept per one-hot column: each is one model coefficient; more
 * than this is an id column, not a category. */
#define TRAINER_MAX_CATEGORIES 10000u
/* Bytes of one category value kept in a vocabulary (and in the saved model). */
#define TRAINER_MAX_CATEGORY_BYTES 1024u
/* Design-matrix columns after expansion, and coefficients of one model
 * (features x classes for multiclass): the L-BFGS history holds 2 x 10
 * vectors of them, 160 MiB at this size. */
#define TRAINER_MAX_FEATURES (1u << 20)
/* The ridge closed form holds the p x p Gram matrix and its Cholesky factor:
 * 2 x 4096^2 doubles = 256 MiB. Wider regressions without l1 use L-BFGS. */
#define TRAINER_MAX_GRAM_FEATURES 4096u
/* Classes of a multinomial model: K coefficient vectors. */
#define TRAINER_MAX_CLASSES 1000u
/* Optimizer iterations one fit may ask for. */
#define TRAINER_MAX_ITERATIONS 1000000u
/* L-BFGS history pairs: more buys nothing on these problems. */
#define TRAINER_MAX_LBFGS_MEMORY 100u
/* Trials of one hyperparameter search (each is a full fit). */
#define TRAINER_MAX_TRIALS 1000u
/* Early stopping: consecutive iterations below min_rel_progress before a fit
 * stops. One slow quasi-Newton step is normal; five in a row is a plateau. */
#define TRAINER_EARLY_STOP_PATIENCE 5
/* Worker threads of one fit. */
#define TRAINER_MAX_THREADS 64u

/* ---- evaluations (trainer/eval_job.c; the evaluator's own, such as
 * EVAL_MAX_CLASSES, in evaluate.h) ---- */
/* Rows of an inline predictions array: it arrives in one HTTP body (64 MiB
 * by default) and is held as JSON until the job runs; 100k rows of a label,
 * a score and a few group columns is ~10 MiB. Larger sets go in a file. */
#define EVAL_MAX_INLINE_ROWS 100000u
/* Rows of one evaluation from a file or instances: the evaluator holds a
 * label, the scores and a code per group attribute per row, and the
 * bootstrap resamples them all (~100 bytes a row: 1 GiB at this size). */
#define EVAL_JOB_MAX_ROWS 10000000u
/* Rows scored per batch by the model (the ds_cols batch, as batch prediction). */
#define EVAL_SCORE_BATCH 1024u

#endif
