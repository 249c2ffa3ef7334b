/*
 * model.h - linear models on dense data: fit, predict, save.
 *
 * Three tasks over one design matrix X (n rows x p features, row-major, the
 * output of prep_transform) with an unpenalized intercept:
 *
 *   binary       logistic regression, y in {0, 1}
 *   multiclass   multinomial (softmax) logistic regression, y in {0..K-1},
 *                one coefficient vector and intercept per class (as
 *                scikit-learn's multinomial LogisticRegression)
 *   regression   linear regression, y real
 *
 * The objective, with s_i = sample weight x class weight of row i:
 *
 *   sum_i s_i loss(y_i, x_i.w + b) + l1 * ||w||_1 + (l2 / 2) * ||w||_2^2
 *
 * where loss is the log loss (classification) or half the squared error
 * (regression). So, against scikit-learn:
 *   LogisticRegression(penalty="l2", C)            l2 = 1/C, l1 = 0
 *   LogisticRegression(penalty="l1", C)            l1 = 1/C, l2 = 0
 *   LogisticRegression(penalty="elasticnet", C, l1_ratio=r)
 *                                                  l1 = r/C, l2 = (1-r)/C
 *   Ridge(alpha)                                   l2 = alpha
 *   Lasso(alpha) / ElasticNet(alpha, l1_ratio=r)   l1 = n*alpha*r, l2 = n*alpha*(1-r)
 *                                                  (n = rows; sum of weights if weighted)
 *
 * Solvers: L-BFGS for smooth classification objectives (l1 = 0), OWL-QN when
 * l1 > 0, the closed form by Cholesky for regression with l1 = 0, cyclic
 * coordinate descent for regression with l1 > 0. docs/trainer.md gives the
 * stopping rules and the degenerate-data behaviour.
 *
 * The objective is minimized divided by sum_i s_i (the same minimizer); the
 * losses reported to the progress callback and in trainer_fit_info are on
 * that per-row scale.
 */
#ifndef STRATA_TRAINER_MODEL_H
#define STRATA_TRAINER_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum trainer_task {
    TRAINER_BINARY = 0,
    TRAINER_MULTICLASS,
    TRAINER_REGRESSION,
} trainer_task;

typedef enum trainer_class_weights {
    TRAINER_CLASS_WEIGHTS_NONE = 0,
    TRAINER_CLASS_WEIGHTS_BALANCED, /* n / (K * n_c), scikit-learn's "balanced" */
    TRAINER_CLASS_WEIGHTS_EXPLICIT, /* class_weight_values[c] */
} trainer_class_weights;

/*
 * Told once per optimizer iteration (a coordinate-descent sweep; the closed
 * form reports one): the iteration (1-based), the training objective per unit
 * weight, and the eval loss (NaN without an eval set). Returning non-zero
 * cancels the fit (trainer_fit returns STRATA_UNAVAILABLE, "training
 * cancelled"). Runs on the fitting thread.
 */
typedef int (*trainer_progress_fn)(void *arg, int iteration, double loss, double eval_loss);

typedef struct trainer_params {
    double l1;                /* >= 0 */
    double l2;                /* >= 0 */
    int max_iterations;       /* 1..TRAINER_MAX_ITERATIONS; default 100 */
    double tolerance;         /* L-BFGS/OWL-QN: ||gradient||_inf per unit weight;
                                 coordinate descent: duality gap relative to
                                 ||y - mean||^2. Default 1e-6 */
    double rel_objective_tol; /* L-BFGS/OWL-QN: relative objective change; 0 = off.
                                 Default 1e-9 */
    bool early_stop;          /* default true, as the contract */
    double min_rel_progress;  /* default 0.001 */
    trainer_class_weights class_weights;
    const double *class_weight_values; /* EXPLICIT: one per class, borrowed */
    int lbfgs_memory;                  /* history pairs; default 10 */
    int threads;                       /* 0 = online CPUs, at most 8 */
    trainer_progress_fn progress;
    void *progress_arg;
} trainer_params;

void trainer_params_default(trainer_params *p);

/* Borrowed data for one call. */
typedef struct trainer_data {
    size_t n_rows;
    size_t n_features;
    const double *x;                  /* n_rows * n_features, row-major */
    const double *y;                  /* class index (0/1, 0..K-1) or target */
    const double *weights;            /* optional sample weights, >= 0 */
    const char *const *feature_names; /* optional, for error messages */
} trainer_data;

typedef struct trainer_fit_info {
    const char *solver;      /* "lbfgs", "owlqn", "cholesky", "coordinate_descent" */
    const char *stop_reason; /* static string */
    int iterations;
    int evaluations; /* objective evaluations (0 for the closed form) */
    bool converged;  /* a tolerance was met or early stopping fired */
    bool early_stopped;
    int best_iteration;   /* the iteration whose parameters were kept */
    double objective;     /* per unit weight, penalty included */
    double gradient_norm; /* ||(pseudo-)gradient||_inf at the end (NaN: closed form) */
    double train_loss;    /* weighted mean loss, no penalty */
    double eval_loss;     /* NaN without an eval set */
} trainer_fit_info;

typedef struct trainer_model trainer_model;

/*
 * Fit a model. n_classes: 2 for binary, K >= 2 for multiclass, ignored for
 * regression. eval may be NULL; with early_stop it decides when to stop and
 * the parameters with the best eval loss are kept. Errors (INVALID_ARGUMENT)
 * say what is wrong with the data: no rows, one class, a non-finite feature
 * (named), perfectly separable classes without regularization, ...
 * *out is a new model, freed with trainer_model_destroy().
 */
int trainer_fit(trainer_task task, size_t n_classes, const trainer_data *train,
                const trainer_data *eval, const trainer_params *params, trainer_model **out,
                strata_err *err);
void trainer_model_destroy(trainer_model *m);

trainer_task trainer_model_task(const trainer_model *m);
size_t trainer_model_n_features(const trainer_model *m);
/* 2 for binary, K for multiclass, 0 for regression. */
size_t trainer_model_n_classes(const trainer_model *m);
/* Coefficients: p values (binary, regression) or K x p, class-major (as
 * scikit-learn's coef_). Borrowed, lives as long as m. */
const double *trainer_model_coef(const trainer_model *m);
/* 1 value, or K for multiclass. Borrowed. */
const double *trainer_model_intercept(const trainer_model *m);
/* How the fit went; borrowed. Zeroed for a model read from JSON. */
const trainer_fit_info *trainer_model_info(const trainer_model *m);
/* Fit warnings (not converged, collinear columns ...): JSON array of strings,
 * borrowed. */
const json_t *trainer_model_warnings(const trainer_model *m);

/* Number of doubles trainer_predict writes per row: 1, or K for multiclass. */
size_t trainer_model_outputs(const trainer_model *m);
/*
 * Scores for n_rows rows of x (n_rows * n_features, row-major): P(y = 1)
 * (binary), K class probabilities per row (multiclass), the prediction
 * (regression). A non-finite feature is INVALID_ARGUMENT naming row and
 * column.
 */
int trainer_predict(const trainer_model *m, const double *x, size_t n_rows, double *out,
                    strata_err *err);
/* Labels from trainer_predict's scores: binary P >= threshold -> 1, multiclass
 * argmax (lowest index on ties). Not for regression (returns -1). */
int trainer_labels(const trainer_model *m, const double *scores, size_t n_rows, double threshold,
                   int32_t *labels);

/* Save / load the coefficients (the preprocessing is saved by prep_to_json).
 * Doubles round-trip exactly. */
json_t *trainer_model_to_json(const trainer_model *m);
int trainer_model_from_json(const json_t *j, trainer_model **out, strata_err *err);

#endif
