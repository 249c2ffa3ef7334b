/*
 * glm_int.h - the loss kernels behind trainer_fit (private to trainer/).
 *
 * A glm_problem holds one data set (X, y, normalized weights) and evaluates
 * the per-unit-weight objective and its gradient for a parameter vector
 *   theta = [w (p) , b]                       binary, regression
 *   theta = [W (K x p, class-major), b (K)]   multiclass
 *
 * Work is split into fixed chunks of rows; each chunk accumulates its loss and
 * gradient separately and the chunks are summed in order afterwards, so the
 * result is bit-identical whatever the number of threads (and whichever
 * thread ran which chunk). Inside a chunk rows
 * go by blocks small enough to stay in cache between the two BLAS calls
 * (X_blk theta, then X_blk^T r), so X is read from memory once per evaluation,
 * and small enough that OpenBLAS runs them on the calling thread.
 */
#ifndef STRATA_TRAINER_GLM_INT_H
#define STRATA_TRAINER_GLM_INT_H

#include <stdatomic.h>
#include <stddef.h>

#include "trainer/model.h"

typedef struct glm_problem {
    trainer_task task;
    size_t n, p, k;  /* k: 1, or K for multiclass */
    size_t dim;      /* k * p + k */
    const double *x; /* borrowed */
    const double *y; /* borrowed */
    const double *s; /* borrowed, normalized weights (sum 1) */
    double l2;       /* per unit weight */
    int threads;
    size_t chunk_rows, n_chunks, block_rows;
    double *acc;              /* n_chunks * (dim + 2): loss, misclassified weight, gradient */
    double *scratch;          /* threads * scratch_doubles */
    size_t scratch_doubles;   /* per thread: z and r (block_rows * k each), then the
                                 vector math buffers (2 * (block_rows + VMATH_PAD)) */
    atomic_size_t next_chunk; /* the next chunk a thread takes */
} glm_problem;

/* Set up (allocates the accumulators). threads >= 1. */
int glm_init(glm_problem *g, trainer_task task, size_t n, size_t p, size_t k, const double *x,
             const double *y, const double *s, double l2, int threads);
void glm_free(glm_problem *g);

/*
 * Objective per unit weight: sum_i s_i loss_i + l2/2 ||w||^2 (the L1 term is
 * the optimizer's). grad (dim doubles) may be NULL for the value alone.
 * *wrong (may be NULL) receives the weight of rows not strictly classified
 * correctly (0 means theta separates the classes).
 */
double glm_eval(glm_problem *g, const double *theta, double *grad, double *wrong);

/* Raw scores X theta (+ b): n * k values. */
void glm_scores(size_t n, size_t p, size_t k, const double *x, const double *theta, double *out);

/* ---- linear regression solvers (linreg.c) ---- */

/* Outcome of a solver that does not go through L-BFGS. */
typedef struct linreg_out {
    int iterations;
    int converged;
    int collinear; /* the closed form fell back to the pseudo-inverse */
    int cancelled;
    int early_stopped;
    int best_iteration;
    double gap;       /* coordinate descent: final relative duality gap */
    double objective; /* per unit weight, penalty included */
} linreg_out;

/* Per-iteration hook of coordinate descent: returns non-zero to stop
 * (theta is the current iterate). */
typedef int (*linreg_iter_fn)(void *arg, int iteration, const double *theta, double objective);

/*
 * Ridge in closed form: solve (Xc' S Xc + l2 I) w = Xc' S yc by Cholesky
 * (dpotrf/dpotrs) on the weighted, centered Gram matrix, intercept from the
 * means. When the matrix is numerically singular (only possible with l2 = 0)
 * the minimum-norm solution from its eigen-decomposition is used instead and
 * out->collinear set. s: normalized weights; l2 per unit weight.
 */
int linreg_ridge(size_t n, size_t p, const double *x, const double *y, const double *s, double l2,
                 double *theta, linreg_out *out, strata_err *err);

/*
 * Elastic net by cyclic coordinate descent on the weighted, centered data
 * (a column-major copy: one more n x p doubles), stopping when the duality
 * gap falls below tol * ||yc||^2 (scikit-learn's rule) or the hook says so.
 */
int linreg_cd(size_t n, size_t p, const double *x, const double *y, const double *s, double l1,
              double l2, int max_iterations, double tol, linreg_iter_fn iter, void *arg,
              double *theta, linreg_out *out, strata_err *err);

/* Numerically stable helpers shared with prediction and metrics. */
double glm_sigmoid(double z);
/* In place: row of K scores -> probabilities (log-sum-exp). */
void glm_softmax(double *z, size_t k);

#endif
