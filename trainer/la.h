/*
 * la.h - the BLAS and LAPACK entry points the trainer uses (private).
 *
 * BLAS through OpenBLAS's cblas.h; LAPACK through the Fortran interface that
 * libopenblas exports (dposv_, ...), declared here so no LAPACKE package is
 * needed. Fortran passes everything by reference and matrices column-major;
 * the trainer only hands LAPACK symmetric matrices, for which row- and
 * column-major are the same thing. Integers are 32-bit (OpenBLAS built
 * without INTERFACE64, as Debian ships it); callers check that every
 * dimension fits before calling (la_dim_ok).
 */
#ifndef STRATA_TRAINER_LA_H
#define STRATA_TRAINER_LA_H

#include <cblas.h>
#include <limits.h>
#include <stddef.h>

typedef int la_int;

static inline int la_dim_ok(size_t n)
{
    return n <= (size_t)INT_MAX;
}

/* Cholesky factor and solve of a symmetric positive definite A X = B. */
void dposv_(const char *uplo, const la_int *n, const la_int *nrhs, double *a, const la_int *lda,
            double *b, const la_int *ldb, la_int *info);
/* Cholesky factorization alone. */
void dpotrf_(const char *uplo, const la_int *n, double *a, const la_int *lda, la_int *info);
/* Solve with a factor from dpotrf_. */
void dpotrs_(const char *uplo, const la_int *n, const la_int *nrhs, const double *a,
             const la_int *lda, double *b, const la_int *ldb, la_int *info);
/* Reciprocal condition number (1-norm) of a Cholesky-factored matrix. */
void dpocon_(const char *uplo, const la_int *n, const double *a, const la_int *lda,
             const double *anorm, double *rcond, double *work, la_int *iwork, la_int *info);
/* 1-norm (and others) of a symmetric matrix. */
double dlansy_(const char *norm, const char *uplo, const la_int *n, const double *a,
               const la_int *lda, double *work);
/* Eigenvalues and eigenvectors of a symmetric matrix (divide and conquer). */
void dsyevd_(const char *jobz, const char *uplo, const la_int *n, double *a, const la_int *lda,
             double *w, double *work, const la_int *lwork, la_int *iwork, const la_int *liwork,
             la_int *info);

#endif
