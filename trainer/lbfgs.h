/*
 * lbfgs.h - limited-memory BFGS with a More-Thuente line search, and OWL-QN
 * for an added L1 term.
 *
 * Minimizes F(x) = f(x) + l1 * sum_{j in [l1_begin, l1_end)} |x_j| where f is
 * smooth and given with its gradient by a callback. With l1 == 0 this is plain
 * L-BFGS (Nocedal 1980; Liu and Nocedal 1989) with the More-Thuente (1994)
 * line search for the strong Wolfe conditions. With l1 > 0 it is OWL-QN
 * (Andrew and Gao 2007): the quasi-Newton model is built from the smooth part
 * alone, the direction follows the pseudo-gradient and stays in its orthant,
 * and a backtracking line search projects every trial point back onto that
 * orthant, so coefficients reach exact zeros.
 *
 * Stopping rules, checked after every accepted step:
 *   - gradient:   ||pg||_inf <= gtol, where pg is the gradient of F (the
 *                 minimum-norm subgradient where an L1 coordinate is 0);
 *   - objective:  (F_prev - F) / max(|F_prev|, |F|, 1) <= ftol (scipy's rule;
 *                 ftol 0 turns it off);
 *   - the caller: the iteration callback returns non-zero;
 *   - the budget: max_iterations accepted steps;
 *   - rounding:   no step along the direction (nor along steepest descent,
 *                 tried once after the history is dropped) lowers F: the
 *                 iterate is as good as floating point can tell.
 * The iterate handed back is always the best one found.
 *
 * Nothing here allocates per iteration: 2m + 6 vectors of n doubles are
 * allocated once per call.
 */
#ifndef STRATA_TRAINER_LBFGS_H
#define STRATA_TRAINER_LBFGS_H

#include <stddef.h>

/* The smooth part: returns f(x) and writes its gradient to g (n doubles).
 * A non-finite return stops the minimization with LBFGS_NONFINITE. */
typedef double (*lbfgs_eval_fn)(void *arg, const double *x, double *g);

/* Told after each accepted step: iteration (1-based), the iterate, F(x) and
 * ||pg||_inf. Non-zero stops the minimization with LBFGS_STOPPED. */
typedef int (*lbfgs_iter_fn)(void *arg, int iteration, const double *x, double fx, double gnorm);

typedef struct lbfgs_params {
    int m;              /* history pairs; default 10 */
    int max_iterations; /* accepted steps; default 100 */
    double gtol;        /* ||pg||_inf stopping threshold; default 1e-6 */
    double ftol;        /* relative decrease stopping threshold; default 1e-9 */
    int max_linesearch; /* function evaluations per line search; default 40 */
    double wolfe_c1;    /* sufficient decrease; default 1e-4 */
    double wolfe_c2;    /* curvature (strong Wolfe); default 0.9 */
    double l1;          /* OWL-QN weight; 0 = plain L-BFGS */
    size_t l1_begin;    /* the L1 term covers x[l1_begin .. l1_end) */
    size_t l1_end;
} lbfgs_params;

enum lbfgs_stop {
    LBFGS_CONVERGED_GRADIENT = 0,
    LBFGS_CONVERGED_OBJECTIVE,
    LBFGS_ROUNDING, /* no representable decrease left: converged as far as doubles go */
    LBFGS_MAX_ITERATIONS,
    LBFGS_STOPPED,   /* the iteration callback asked to stop */
    LBFGS_NONFINITE, /* f or its gradient was not finite at a trial point */
};

typedef struct lbfgs_result {
    enum lbfgs_stop stop;
    int iterations;  /* accepted steps */
    int evaluations; /* calls of the eval callback */
    double fx;       /* F at the returned x */
    double gnorm;    /* ||pg||_inf at the returned x */
} lbfgs_result;

void lbfgs_defaults(lbfgs_params *p);

/* Short name of a stop reason ("converged (gradient)"); static storage. */
const char *lbfgs_stop_name(enum lbfgs_stop s);

/*
 * Minimize from x (n doubles, updated in place to the best iterate found).
 * Returns 0 (see res->stop for why it ended), -1 when the parameters are
 * invalid or allocation fails (x untouched then).
 */
int lbfgs_minimize(size_t n, double *x, lbfgs_eval_fn eval, lbfgs_iter_fn iter, void *arg,
                   const lbfgs_params *p, lbfgs_result *res);

#endif
