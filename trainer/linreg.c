/*
 * linreg.c - linear regression: ridge in closed form, elastic net by
 * coordinate descent (declared in glm_int.h).
 *
 * Both work on weighted, centered data: the intercept is unpenalized, so it
 * drops out once every column and the target are centered on their weighted
 * means, and comes back as b = mean(y) - mean(x).w. Rows are scaled by
 * sqrt(s_i) so that the weighted problem is an ordinary one.
 *
 * The Gram matrix is accumulated block by block (dsyrk) from centered copies
 * of the rows, never as X'X - n mean mean' (which cancels catastrophically
 * when a column's mean is large against its spread).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/glm_int.h"
#include "trainer/la.h"

/* Doubles of centered rows staged per dsyrk call (4 MiB). */
#define RIDGE_BLOCK_DOUBLES (1u << 19)

static void weighted_means(size_t n, size_t p, const double *x, const double *y, const double *s,
                           double *xm, double *ym)
{
    memset(xm, 0, p * sizeof *xm);
    double yy = 0;
    for (size_t i = 0; i < n; i++) {
        if (p > 0)
            cblas_daxpy((int)p, s[i], x + i * p, 1, xm, 1);
        yy += s[i] * y[i];
    }
    *ym = yy;
}

/* w = the minimum-norm solution of A w = c (A symmetric PSD, destroyed). */
static int eigen_solve(size_t p, double *a, const double *c, double *w, strata_err *err)
{
    int rc = 0;
    double *ev = NULL, *work = NULL;
    la_int *iwork = NULL;
    la_int n = (la_int)p, info = 0, lwork = -1, liwork = -1, iq = 0;
    double wq = 0;
    ev = calloc(p, sizeof *ev);
    if (!ev) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    dsyevd_("V", "U", &n, a, &n, ev, &wq, &lwork, &iq, &liwork, &info);
    if (info != 0 || !(wq > 0) || wq > (double)INT32_MAX || iq <= 0) {
        rc = err_set(err, STRATA_INTERNAL, "LAPACK dsyevd workspace query failed (info %d)",
                     (int)info);
        goto out;
    }
    lwork = (la_int)wq;
    liwork = iq;
    work = calloc((size_t)lwork, sizeof *work);
    iwork = calloc((size_t)liwork, sizeof *iwork);
    if (!work || !iwork) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    dsyevd_("V", "U", &n, a, &n, ev, work, &lwork, iwork, &liwork, &info);
    if (info != 0) {
        rc = err_set(err, STRATA_INTERNAL, "LAPACK dsyevd failed (info %d)", (int)info);
        goto out;
    }
    double top = fabs(ev[p - 1]);
    double cut = top * (double)p * DBL_EPSILON;
    memset(w, 0, p * sizeof *w);
    for (size_t k = 0; k < p; k++) {
        if (!(ev[k] > cut))
            continue;
        /* column k of the column-major result = row k of this array */
        const double *v = a + k * p;
        double coef = cblas_ddot((int)p, v, 1, c, 1) / ev[k];
        cblas_daxpy((int)p, coef, v, 1, w, 1);
    }
out:
    free(ev);
    free(work);
    free(iwork);
    return rc;
}

int linreg_ridge(size_t n, size_t p, const double *x, const double *y, const double *s, double l2,
                 double *theta, linreg_out *out, strata_err *err)
{
    int rc = 0;
    double *xm = NULL, *a = NULL, *f = NULL, *c = NULL, *blk = NULL, *v = NULL, *work = NULL;
    la_int *iwork = NULL;
    memset(out, 0, sizeof *out);
    if (!la_dim_ok(p) || p == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "ridge: bad feature count");
    size_t rows = RIDGE_BLOCK_DOUBLES / p;
    if (rows < 1)
        rows = 1;
    if (rows > n)
        rows = n;
    xm = calloc(p, sizeof *xm);
    a = calloc(p * p, sizeof *a);
    f = calloc(p * p, sizeof *f);
    c = calloc(p, sizeof *c);
    blk = calloc(rows * p, sizeof *blk);
    v = calloc(rows, sizeof *v);
    work = calloc(3 * p, sizeof *work);
    iwork = calloc(p, sizeof *iwork);
    if (!xm || !a || !f || !c || !blk || !v || !work || !iwork) {
        rc = err_set(err, STRATA_NOMEM, "out of memory (the Gram matrix has %zu x %zu doubles)", p,
                     p);
        goto out;
    }
    double ym = 0;
    weighted_means(n, p, x, y, s, xm, &ym);
    for (size_t i0 = 0; i0 < n; i0 += rows) {
        size_t m = n - i0 < rows ? n - i0 : rows;
        for (size_t i = 0; i < m; i++) {
            double sq = sqrt(s[i0 + i]);
            const double *xi = x + (i0 + i) * p;
            double *bi = blk + i * p;
            for (size_t j = 0; j < p; j++)
                bi[j] = sq * (xi[j] - xm[j]);
            v[i] = sq * (y[i0 + i] - ym);
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)p, (int)m, 1.0, blk, (int)p, 1.0, a,
                    (int)p);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)m, (int)p, 1.0, blk, (int)p, v, 1, 1.0, c, 1);
    }
    /* Row-major upper = column-major lower; make it whole to stop caring. */
    for (size_t i = 0; i < p; i++) {
        for (size_t j = i + 1; j < p; j++)
            a[j * p + i] = a[i * p + j];
        a[i * p + i] += l2;
    }
    memcpy(f, a, p * p * sizeof *f);
    la_int np = (la_int)p, one = 1, info = 0;
    double anorm = dlansy_("1", "U", &np, a, &np, work);
    dpotrf_("U", &np, f, &np, &info);
    double rcond = 0;
    if (info == 0) {
        la_int info2 = 0;
        dpocon_("U", &np, f, &np, &anorm, &rcond, work, iwork, &info2);
        if (info2 != 0)
            rcond = 0;
    }
    /* Numerically singular: collinear columns (only possible with l2 = 0,
     * or an l2 far below the data's scale). */
    if (info == 0 && rcond > 10.0 * (double)p * DBL_EPSILON) {
        memcpy(theta, c, p * sizeof *theta);
        dpotrs_("U", &np, &one, f, &np, theta, &np, &info);
        if (info != 0) {
            rc = err_set(err, STRATA_INTERNAL, "LAPACK dpotrs failed (info %d)", (int)info);
            goto out;
        }
    } else {
        out->collinear = 1;
        rc = eigen_solve(p, a, c, theta, err);
        if (rc)
            goto out;
    }
    theta[p] = ym - cblas_ddot((int)p, xm, 1, theta, 1);
    out->iterations = 1;
    out->converged = 1;
out:
    free(xm);
    free(a);
    free(f);
    free(c);
    free(blk);
    free(v);
    free(work);
    free(iwork);
    return rc;
}

static double soft_threshold(double v, double t)
{
    return v > t ? v - t : v < -t ? v + t : 0.0;
}

int linreg_cd(size_t n, size_t p, const double *x, const double *y, const double *s, double l1,
              double l2, int max_iterations, double tol, linreg_iter_fn iter, void *arg,
              double *theta, linreg_out *out, strata_err *err)
{
    int rc = 0;
    double *xc = NULL, *yc = NULL, *r = NULL, *xm = NULL, *nrm = NULL;
    memset(out, 0, sizeof *out);
    if (p == 0 || n == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "coordinate descent: empty problem");
    if (n > SIZE_MAX / sizeof(double) / p)
        return err_set(err, STRATA_INVALID_ARGUMENT, "coordinate descent: data too large");
    xc = malloc(n * p * sizeof *xc);
    yc = malloc(n * sizeof *yc);
    r = malloc(n * sizeof *r);
    xm = calloc(p, sizeof *xm);
    nrm = calloc(p, sizeof *nrm);
    if (!xc || !yc || !r || !xm || !nrm) {
        rc = err_set(err, STRATA_NOMEM,
                     "out of memory (coordinate descent copies the %zu x %zu design matrix)", n, p);
        goto out;
    }
    double ym = 0;
    weighted_means(n, p, x, y, s, xm, &ym);
    for (size_t i = 0; i < n; i++) {
        double sq = sqrt(s[i]);
        const double *xi = x + i * p;
        for (size_t j = 0; j < p; j++)
            xc[j * n + i] = sq * (xi[j] - xm[j]);
        yc[i] = sq * (y[i] - ym);
    }
    for (size_t j = 0; j < p; j++)
        nrm[j] = cblas_ddot((int)n, xc + j * n, 1, xc + j * n, 1);
    double ynorm2 = cblas_ddot((int)n, yc, 1, yc, 1);
    double *w = theta;
    memset(w, 0, p * sizeof *w);
    memcpy(r, yc, n * sizeof *r);
    double gap_tol = tol * ynorm2;

    for (int it = 1; it <= max_iterations; it++) {
        for (size_t j = 0; j < p; j++) {
            if (nrm[j] == 0)
                continue; /* an all-zero (constant) column keeps weight 0 */
            const double *xj = xc + j * n;
            double wj = w[j];
            double rho = cblas_ddot((int)n, xj, 1, r, 1) + nrm[j] * wj;
            double nw = soft_threshold(rho, l1) / (nrm[j] + l2);
            if (nw != wj)
                cblas_daxpy((int)n, wj - nw, xj, 1, r, 1);
            w[j] = nw;
        }
        /* Duality gap of the elastic net (scikit-learn's cd_fast). */
        double dual_norm = 0, w1 = 0, w2 = 0;
        for (size_t j = 0; j < p; j++) {
            double xa = cblas_ddot((int)n, xc + j * n, 1, r, 1) - l2 * w[j];
            if (fabs(xa) > dual_norm)
                dual_norm = fabs(xa);
            w1 += fabs(w[j]);
            w2 += w[j] * w[j];
        }
        double r2 = cblas_ddot((int)n, r, 1, r, 1);
        double cst = 1, gap;
        if (dual_norm > l1) {
            cst = l1 / dual_norm;
            gap = 0.5 * (r2 + r2 * cst * cst);
        } else {
            gap = r2;
        }
        gap += l1 * w1 - cst * cblas_ddot((int)n, r, 1, yc, 1) + 0.5 * l2 * (1 + cst * cst) * w2;
        out->iterations = it;
        out->gap = ynorm2 > 0 ? gap / ynorm2 : 0;
        out->objective = 0.5 * r2 + l1 * w1 + 0.5 * l2 * w2;
        theta[p] = ym - cblas_ddot((int)p, xm, 1, w, 1);
        if (!isfinite(out->objective)) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "the objective overflowed: the features or the target are too large; "
                         "standardize them");
            goto out;
        }
        if (iter && iter(arg, it, theta, out->objective))
            break;
        if (gap <= gap_tol) {
            out->converged = 1;
            break;
        }
    }
    theta[p] = ym - cblas_ddot((int)p, xm, 1, w, 1);
out:
    free(xc);
    free(yc);
    free(r);
    free(xm);
    free(nrm);
    return rc;
}
