/*
 * lbfgs.c - L-BFGS with the More-Thuente line search; OWL-QN for L1.
 *
 * Invariants kept through the main loop:
 *   - x, fx (F = f + L1 term), g (smooth gradient) and pg (pseudo-gradient)
 *     always describe the same, best-so-far point: every accepted step lowers F.
 *   - The history holds only pairs with s.y > 0, so the implicit inverse
 *     Hessian stays positive definite and -H pg is a descent direction (when
 *     rounding says otherwise, the history is dropped and -pg used).
 *
 * The line search for the smooth case is MINPACK-2's dcsrch/dcstep (More and
 * Thuente 1994), written as a loop instead of reverse communication. Its
 * warnings (interval too small, rounding) end the search with the best point
 * it evaluated, if that point lowered F; otherwise the search failed.
 */
#include "trainer/lbfgs.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/la.h"
#include "base/limits.h"

#define LS_XTOL 1e-12 /* relative width of the bracketing interval */
#define LS_STPMIN 0.0
#define LS_STPMAX 1e20
#define XTRAPL 1.1 /* extrapolation bounds before a bracket exists */
#define XTRAPU 4.0

void lbfgs_defaults(lbfgs_params *p)
{
    memset(p, 0, sizeof *p);
    p->m = 10;
    p->max_iterations = 100;
    p->gtol = 1e-6;
    p->ftol = 1e-9;
    p->max_linesearch = 40;
    p->wolfe_c1 = 1e-4;
    p->wolfe_c2 = 0.9;
}

const char *lbfgs_stop_name(enum lbfgs_stop s)
{
    switch (s) {
    case LBFGS_CONVERGED_GRADIENT:
        return "converged (gradient)";
    case LBFGS_CONVERGED_OBJECTIVE:
        return "converged (relative objective change)";
    case LBFGS_ROUNDING:
        return "converged (no representable decrease left)";
    case LBFGS_MAX_ITERATIONS:
        return "reached max_iterations";
    case LBFGS_STOPPED:
        return "stopped";
    case LBFGS_NONFINITE:
        return "non-finite objective";
    }
    return "unknown";
}

typedef struct lb_state {
    size_t n;
    const lbfgs_params *p;
    lbfgs_eval_fn eval;
    void *arg;
    int evaluations;
    /* vectors of n */
    double *x, *g, *pg, *d, *xt, *gt, *xb, *gb;
    /* history */
    double *s, *y, *rho, *alpha;
    int k;    /* pairs held */
    int head; /* slot of the oldest pair */
} lb_state;

static double dot(const double *a, const double *b, size_t n)
{
    return cblas_ddot((int)n, a, 1, b, 1);
}

static double norm_inf(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double v = fabs(a[i]);
        if (v > m)
            m = v;
    }
    return m;
}

static double l1_term(const lb_state *st, const double *x)
{
    if (st->p->l1 <= 0)
        return 0;
    double s = 0;
    for (size_t j = st->p->l1_begin; j < st->p->l1_end; j++)
        s += fabs(x[j]);
    return st->p->l1 * s;
}

/* The minimum-norm subgradient of F at x (Andrew and Gao's pseudo-gradient). */
static void pseudo_gradient(const lb_state *st, const double *x, const double *g, double *pg)
{
    memcpy(pg, g, st->n * sizeof *pg);
    double c = st->p->l1;
    if (c <= 0)
        return;
    for (size_t j = st->p->l1_begin; j < st->p->l1_end; j++) {
        if (x[j] < 0)
            pg[j] = g[j] - c;
        else if (x[j] > 0)
            pg[j] = g[j] + c;
        else if (g[j] + c < 0)
            pg[j] = g[j] + c;
        else if (g[j] - c > 0)
            pg[j] = g[j] - c;
        else
            pg[j] = 0;
    }
}

/* d = -H pg by the two-loop recursion over the history. */
static void direction(lb_state *st)
{
    size_t n = st->n;
    int m = st->p->m;
    double *q = st->d;
    memcpy(q, st->pg, n * sizeof *q);
    if (st->k > 0) {
        for (int i = st->k - 1; i >= 0; i--) {
            int slot = (st->head + i) % m;
            double *si = st->s + (size_t)slot * n, *yi = st->y + (size_t)slot * n;
            st->alpha[slot] = st->rho[slot] * dot(si, q, n);
            cblas_daxpy((int)n, -st->alpha[slot], yi, 1, q, 1);
        }
        int newest = (st->head + st->k - 1) % m;
        double *yn = st->y + (size_t)newest * n;
        double gamma = 1.0 / (st->rho[newest] * dot(yn, yn, n)); /* s.y / y.y */
        cblas_dscal((int)n, gamma, q, 1);
        for (int i = 0; i < st->k; i++) {
            int slot = (st->head + i) % m;
            double *si = st->s + (size_t)slot * n, *yi = st->y + (size_t)slot * n;
            double beta = st->rho[slot] * dot(yi, q, n);
            cblas_daxpy((int)n, st->alpha[slot] - beta, si, 1, q, 1);
        }
    }
    cblas_dscal((int)n, -1.0, q, 1);
    /* OWL-QN: the step may not leave the orthant the pseudo-gradient points into. */
    if (st->p->l1 > 0) {
        for (size_t j = st->p->l1_begin; j < st->p->l1_end; j++)
            if (q[j] * st->pg[j] >= 0)
                q[j] = 0;
    }
}

/* Add the pair (xt - x, gt - g) when its curvature is positive; the oldest
 * pair makes room when the history is full. xb/gb are free between line
 * searches and stage the pair until it is known to be usable. */
static void remember(lb_state *st)
{
    size_t n = st->n;
    int m = st->p->m;
    double *s = st->xb, *y = st->gb;
    for (size_t i = 0; i < n; i++) {
        s[i] = st->xt[i] - st->x[i];
        y[i] = st->gt[i] - st->g[i];
    }
    double ys = dot(y, s, n), yy = dot(y, y, n);
    if (!(ys > DBL_EPSILON * yy) || !isfinite(ys) || !(yy > 0))
        return;
    int slot;
    if (st->k < m) {
        slot = (st->head + st->k) % m;
        st->k++;
    } else {
        slot = st->head;
        st->head = (st->head + 1) % m;
    }
    memcpy(st->s + (size_t)slot * n, s, n * sizeof *s);
    memcpy(st->y + (size_t)slot * n, y, n * sizeof *y);
    st->rho[slot] = 1.0 / ys;
}

/* MINPACK-2 dcstep: a safeguarded step for the line search. */
static void dcstep(double *stx, double *fx, double *dx, double *sty, double *fy, double *dy,
                   double *stp, double fp, double dp, int *brackt, double stpmin, double stpmax)
{
    double sgnd = dp * copysign(1.0, *dx);
    double stpf, stpc, stpq, theta, s, gamma, p, q, r;

    if (fp > *fx) {
        /* Case 1: higher value; the minimum is bracketed. */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
        if (*stp < *stx)
            gamma = -gamma;
        p = (gamma - *dx) + theta;
        q = ((gamma - *dx) + gamma) + dp;
        r = p / q;
        stpc = *stx + r * (*stp - *stx);
        stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        if (fabs(stpc - *stx) < fabs(stpq - *stx))
            stpf = stpc;
        else
            stpf = stpc + (stpq - stpc) / 2.0;
        *brackt = 1;
    } else if (sgnd < 0.0) {
        /* Case 2: lower value, derivatives of opposite sign; bracketed. */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
        if (*stp > *stx)
            gamma = -gamma;
        p = (gamma - dp) + theta;
        q = ((gamma - dp) + gamma) + *dx;
        r = p / q;
        stpc = *stp + r * (*stx - *stp);
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (fabs(stpc - *stp) > fabs(stpq - *stp))
            stpf = stpc;
        else
            stpf = stpq;
        *brackt = 1;
    } else if (fabs(dp) < fabs(*dx)) {
        /* Case 3: lower value, same sign, derivative shrinks in magnitude. */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
        if (*stp > *stx)
            gamma = -gamma;
        p = (gamma - dp) + theta;
        q = (gamma + (*dx - dp)) + gamma;
        r = p / q;
        if (r < 0.0 && gamma != 0.0)
            stpc = *stp + r * (*stx - *stp);
        else if (*stp > *stx)
            stpc = stpmax;
        else
            stpc = stpmin;
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (*brackt) {
            if (fabs(stpc - *stp) < fabs(stpq - *stp))
                stpf = stpc;
            else
                stpf = stpq;
            if (*stp > *stx)
                stpf = fmin(*stp + 0.66 * (*sty - *stp), stpf);
            else
                stpf = fmax(*stp + 0.66 * (*sty - *stp), stpf);
        } else {
            if (fabs(stpc - *stp) > fabs(stpq - *stp))
                stpf = stpc;
            else
                stpf = stpq;
            stpf = fmin(stpmax, stpf);
            stpf = fmax(stpmin, stpf);
        }
    } else {
        /* Case 4: lower value, same sign, derivative does not shrink. */
        if (*brackt) {
            theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            s = fmax(fabs(theta), fmax(fabs(*dy), fabs(dp)));
            gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dy / s) * (dp / s)));
            if (*stp > *sty)
                gamma = -gamma;
            p = (gamma - dp) + theta;
            q = ((gamma - dp) + gamma) + *dy;
            r = p / q;
            stpc = *stp + r * (*sty - *stp);
            stpf = stpc;
        } else if (*stp > *stx) {
            stpf = stpmax;
        } else {
            stpf = stpmin;
        }
    }

    /* Update the interval that contains a minimizer. */
    if (fp > *fx) {
        *sty = *stp;
        *fy = fp;
        *dy = dp;
    } else {
        if (sgnd < 0.0) {
            *sty = *stx;
            *fy = *fx;
            *dy = *dx;
        }
        *stx = *stp;
        *fx = fp;
        *dx = dp;
    }
    *stp = stpf;
}

/* Evaluate F and the smooth gradient at xt; returns F (non-finite possible). */
static double eval_at(lb_state *st, const double *xt, double *gt)
{
    st->evaluations++;
    double f = st->eval(st->arg, xt, gt);
    if (!isfinite(f))
        return f;
    return f + l1_term(st, xt);
}

/* Keep the lowest trial point seen, for the warning exits. */
static void keep_best(lb_state *st, double ft, double *fbest)
{
    if (ft < *fbest) {
        *fbest = ft;
        memcpy(st->xb, st->xt, st->n * sizeof *st->xb);
        memcpy(st->gb, st->gt, st->n * sizeof *st->gb);
    }
}

/*
 * Line search along d from x (value fx). On success xt/gt hold the new point
 * and *ft its value, and 0 is returned; -1 when no trial lowered F; -2 when
 * every trial was non-finite.
 */
static int search_wolfe(lb_state *st, double fx, double stp, double *ft_out)
{
    const lbfgs_params *P = st->p;
    size_t n = st->n;
    double dginit = dot(st->g, st->d, n);
    if (!(dginit < 0))
        return -1;
    int brackt = 0, stage = 1, any_finite = 0;
    double finit = fx, dgtest = P->wolfe_c1 * dginit;
    double width = LS_STPMAX - LS_STPMIN, width1 = 2 * width;
    double stx = 0, fxs = finit, gx = dginit;
    double sty = 0, fy = finit, gy = dginit;
    double stmin = 0, stmax = stp + XTRAPU * stp;
    double stcap = LS_STPMAX; /* lowered when a trial overflows */
    double fbest = finit;

    for (int count = 0; count < P->max_linesearch; count++) {
        for (size_t i = 0; i < n; i++)
            st->xt[i] = st->x[i] + stp * st->d[i];
        double ft = eval_at(st, st->xt, st->gt);
        if (!isfinite(ft)) {
            /* Too far: come back halfway towards the best step and never
             * go that far again. */
            stcap = stp;
            stp = stx + 0.5 * (stp - stx);
            if (!(stp > stx) || stp - stx <= LS_XTOL * stp)
                break;
            continue;
        }
        any_finite = 1;
        keep_best(st, ft, &fbest);
        double dg = dot(st->gt, st->d, n);
        double ftest = finit + stp * dgtest;
        if (stage == 1 && ft <= ftest && dg >= 0)
            stage = 2;
        if (ft <= ftest && fabs(dg) <= P->wolfe_c2 * (-dginit)) {
            *ft_out = ft;
            return 0; /* strong Wolfe conditions hold at xt */
        }
        if (brackt && (stp <= stmin || stp >= stmax))
            break; /* rounding errors prevent progress */
        if (brackt && stmax - stmin <= LS_XTOL * stmax)
            break;
        if (stp >= stcap && ft <= ftest && dg <= dgtest)
            break;
        if (stp <= LS_STPMIN && (ft > ftest || dg >= dgtest))
            break;

        if (stage == 1 && ft <= fxs && ft > ftest) {
            /* The modified function psi(stp) = f - f(0) - stp * dgtest. */
            double fm = ft - stp * dgtest, fxm = fxs - stx * dgtest, fym = fy - sty * dgtest;
            double gm = dg - dgtest, gxm = gx - dgtest, gym = gy - dgtest;
            dcstep(&stx, &fxm, &gxm, &sty, &fym, &gym, &stp, fm, gm, &brackt, stmin, stmax);
            fxs = fxm + stx * dgtest;
            fy = fym + sty * dgtest;
            gx = gxm + dgtest;
            gy = gym + dgtest;
        } else {
            dcstep(&stx, &fxs, &gx, &sty, &fy, &gy, &stp, ft, dg, &brackt, stmin, stmax);
        }
        if (brackt) {
            if (fabs(sty - stx) >= 0.66 * width1)
                stp = stx + 0.5 * (sty - stx);
            width1 = width;
            width = fabs(sty - stx);
            stmin = fmin(stx, sty);
            stmax = fmax(stx, sty);
        } else {
            stmin = stp + XTRAPL * (stp - stx);
            stmax = stp + XTRAPU * (stp - stx);
        }
        stp = fmax(stp, LS_STPMIN);
        stp = fmin(stp, stcap);
        if ((brackt && (stp <= stmin || stp >= stmax)) ||
            (brackt && stmax - stmin <= LS_XTOL * stmax))
            stp = stx;
        if (!(stp > 0))
            break;
    }
    if (fbest < finit) {
        memcpy(st->xt, st->xb, n * sizeof *st->xt);
        memcpy(st->gt, st->gb, n * sizeof *st->gt);
        *ft_out = fbest;
        return 0;
    }
    return any_finite ? -1 : -2;
}

/* OWL-QN: backtracking on the orthant-projected path (Armijo on pg). */
static int search_orthant(lb_state *st, double fx, double stp, double *ft_out)
{
    const lbfgs_params *P = st->p;
    size_t n = st->n;
    int any_finite = 0;
    double fbest = fx;
    for (int count = 0; count < P->max_linesearch; count++, stp *= 0.5) {
        for (size_t i = 0; i < n; i++)
            st->xt[i] = st->x[i] + stp * st->d[i];
        for (size_t j = P->l1_begin; j < P->l1_end; j++) {
            /* the orthant: sign(x) where x != 0, else sign(-pg) */
            double xi = st->x[j] != 0 ? st->x[j] : -st->pg[j];
            if (st->xt[j] * xi <= 0)
                st->xt[j] = 0;
        }
        double ft = eval_at(st, st->xt, st->gt);
        if (!isfinite(ft))
            continue;
        any_finite = 1;
        keep_best(st, ft, &fbest);
        double dgtest = 0;
        for (size_t i = 0; i < n; i++)
            dgtest += (st->xt[i] - st->x[i]) * st->pg[i];
        /* Strict decrease too: near the optimum fx + c1 * dgtest rounds to fx,
         * and accepting steps that change nothing would loop. */
        if (ft < fx && ft <= fx + P->wolfe_c1 * dgtest) {
            *ft_out = ft;
            return 0;
        }
    }
    if (fbest < fx) {
        memcpy(st->xt, st->xb, n * sizeof *st->xt);
        memcpy(st->gt, st->gb, n * sizeof *st->gt);
        *ft_out = fbest;
        return 0;
    }
    return any_finite ? -1 : -2;
}

static int params_ok(size_t n, const lbfgs_params *p)
{
    return n > 0 && p->m >= 1 && (unsigned)p->m <= TRAINER_MAX_LBFGS_MEMORY &&
           p->max_iterations >= 0 && p->max_linesearch >= 1 && p->gtol >= 0 && p->ftol >= 0 &&
           p->wolfe_c1 > 0 && p->wolfe_c1 < p->wolfe_c2 && p->wolfe_c2 < 1 && p->l1 >= 0 &&
           isfinite(p->l1) && p->l1_begin <= p->l1_end && p->l1_end <= n && n <= (size_t)INT32_MAX;
}

int lbfgs_minimize(size_t n, double *x0, lbfgs_eval_fn eval, lbfgs_iter_fn iter, void *arg,
                   const lbfgs_params *p, lbfgs_result *res)
{
    int rc = -1;
    lb_state st;
    memset(&st, 0, sizeof st);
    double *block = NULL;
    memset(res, 0, sizeof *res);
    if (!params_ok(n, p))
        goto out;
    st.n = n;
    st.p = p;
    st.eval = eval;
    st.arg = arg;
    size_t m = (size_t)p->m;
    /* 8 work vectors + 2m history vectors + rho and alpha */
    size_t count = (8 + 2 * m) * n + 2 * m;
    block = calloc(count, sizeof *block);
    if (!block)
        goto out;
    st.x = block;
    st.g = st.x + n;
    st.pg = st.g + n;
    st.d = st.pg + n;
    st.xt = st.d + n;
    st.gt = st.xt + n;
    st.xb = st.gt + n;
    st.gb = st.xb + n;
    st.s = st.gb + n;
    st.y = st.s + m * n;
    st.rho = st.y + m * n;
    st.alpha = st.rho + m;
    memcpy(st.x, x0, n * sizeof *x0);
    rc = 0;

    double fx = eval_at(&st, st.x, st.g);
    res->evaluations = st.evaluations;
    res->fx = fx;
    if (!isfinite(fx)) {
        res->stop = LBFGS_NONFINITE;
        goto out;
    }
    pseudo_gradient(&st, st.x, st.g, st.pg);
    double gnorm = norm_inf(st.pg, n);
    res->gnorm = gnorm;
    if (gnorm <= p->gtol) {
        res->stop = LBFGS_CONVERGED_GRADIENT;
        goto out;
    }
    if (p->max_iterations == 0) {
        res->stop = LBFGS_MAX_ITERATIONS;
        goto out;
    }

    int it = 0;
    for (;;) {
        direction(&st);
        double dnorm2 = dot(st.d, st.d, n);
        double dpg = dot(st.d, st.pg, n);
        if (!(dpg < 0) || !isfinite(dnorm2)) {
            /* Rounding ruined the quasi-Newton model: start it over. */
            st.k = st.head = 0;
            for (size_t i = 0; i < n; i++)
                st.d[i] = -st.pg[i];
            dnorm2 = dot(st.d, st.d, n);
        }
        /* The first step of a fresh model has no curvature to size it. */
        double step = st.k == 0 ? 1.0 / sqrt(dnorm2) : 1.0;
        double ft = 0;
        int ls = p->l1 > 0 ? search_orthant(&st, fx, step, &ft) : search_wolfe(&st, fx, step, &ft);
        if (ls != 0) {
            if (st.k > 0) {
                st.k = st.head = 0; /* retry once along steepest descent */
                continue;
            }
            res->stop = ls == -2 ? LBFGS_NONFINITE : LBFGS_ROUNDING;
            break;
        }
        remember(&st);
        double fprev = fx;
        /* accept: swap the trial point in */
        double *t = st.x;
        st.x = st.xt;
        st.xt = t;
        t = st.g;
        st.g = st.gt;
        st.gt = t;
        fx = ft;
        pseudo_gradient(&st, st.x, st.g, st.pg);
        gnorm = norm_inf(st.pg, n);
        it++;
        res->iterations = it;
        res->fx = fx;
        res->gnorm = gnorm;
        if (iter && iter(arg, it, st.x, fx, gnorm)) {
            res->stop = LBFGS_STOPPED;
            break;
        }
        if (gnorm <= p->gtol) {
            res->stop = LBFGS_CONVERGED_GRADIENT;
            break;
        }
        if (p->ftol > 0 && (fprev - fx) / fmax(fmax(fabs(fprev), fabs(fx)), 1.0) <= p->ftol) {
            res->stop = LBFGS_CONVERGED_OBJECTIVE;
            break;
        }
        if (it >= p->max_iterations) {
            res->stop = LBFGS_MAX_ITERATIONS;
            break;
        }
    }
    res->evaluations = st.evaluations;
    res->fx = fx;
    res->gnorm = gnorm;
    memcpy(x0, st.x, n * sizeof *x0);
out:
    res->evaluations = st.evaluations;
    free(block);
    return rc;
}
