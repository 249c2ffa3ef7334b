/*
 * vmath_int.h - exp and log1p over arrays, for the loss kernels (private to
 * trainer/).
 *
 * The binary log loss needs exp and log1p once per row and evaluation: with
 * glibc's scalar functions that was a third of a fit's instructions. These go
 * through glibc's vector math library (libmvec, glibc >= 2.35 for log1p) by
 * its documented x86_64 vector ABI names, 8 lanes with AVX-512, 4 with AVX2,
 * 2 with SSE, chosen once from the CPU; no -ffast-math anywhere (libmvec's
 * functions are accurate to 4 ulp, glibc's documented bound; the scalar ones
 * to 1). Without libmvec (another architecture, an older glibc) the scalar
 * libm functions are used.
 *
 * Determinism: every element goes through the same vector function whatever
 * its position (callers pad to VMATH_PAD), and each lane's result depends on
 * its input alone, so chunk results do not depend on which thread ran them.
 * The ISA is the CPU's: two machines of different ISAs may differ in the last
 * bits, as OpenBLAS's kernels do.
 */
#ifndef STRATA_TRAINER_VMATH_INT_H
#define STRATA_TRAINER_VMATH_INT_H

#include <stddef.h>

/* Arrays passed to vmath_exp_log1p hold a multiple of this many elements. */
#define VMATH_PAD 8u

/* e[i] = exp(a[i]), l[i] = log1p(e[i]) for i < n; n a multiple of VMATH_PAD.
 * a may alias e. */
void vmath_exp_log1p(const double *a, double *e, double *l, size_t n);

/* The implementation in use: "avx512", "avx2", "sse2" (libmvec) or "libm". */
const char *vmath_impl(void);

#endif
