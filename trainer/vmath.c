/*
 * vmath.c - exp and log1p over arrays through libmvec (see vmath_int.h).
 *
 * The vector functions are called by their x86_64 vector-ABI names
 * (_ZGV<isa>N<lanes>v_<name>: b = SSE, d = AVX2, e = AVX-512), declared here
 * with the target attribute their argument registers need; each loop is
 * compiled for that target only, and runs only when the CPU (and the OS, for
 * the wide registers) supports it.
 */
#include "trainer/vmath_int.h"

#include <math.h>
#include <pthread.h>

#if defined(__x86_64__) && defined(STRATA_HAVE_LIBMVEC)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f")))
#define T256 __attribute__((target("avx2")))

T512 __m512d _ZGVeN8v_exp(__m512d x);
T512 __m512d _ZGVeN8v_log1p(__m512d x);
T256 __m256d _ZGVdN4v_exp(__m256d x);
T256 __m256d _ZGVdN4v_log1p(__m256d x);
__m128d _ZGVbN2v_exp(__m128d x);
__m128d _ZGVbN2v_log1p(__m128d x);

T512 static void run_avx512(const double *a, double *e, double *l, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        __m512d x = _ZGVeN8v_exp(_mm512_loadu_pd(a + i));
        _mm512_storeu_pd(e + i, x);
        _mm512_storeu_pd(l + i, _ZGVeN8v_log1p(x));
    }
}

T256 static void run_avx2(const double *a, double *e, double *l, size_t n)
{
    for (size_t i = 0; i < n; i += 4) {
        __m256d x = _ZGVdN4v_exp(_mm256_loadu_pd(a + i));
        _mm256_storeu_pd(e + i, x);
        _mm256_storeu_pd(l + i, _ZGVdN4v_log1p(x));
    }
}

static void run_sse2(const double *a, double *e, double *l, size_t n)
{
    for (size_t i = 0; i < n; i += 2) {
        __m128d x = _ZGVbN2v_exp(_mm_loadu_pd(a + i));
        _mm_storeu_pd(e + i, x);
        _mm_storeu_pd(l + i, _ZGVbN2v_log1p(x));
    }
}
#endif

static void run_libm(const double *a, double *e, double *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        e[i] = exp(a[i]);
        l[i] = log1p(e[i]);
    }
}

typedef void (*vmath_run)(const double *, double *, double *, size_t);
static vmath_run run = run_libm;
static const char *impl = "libm";
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void choose(void)
{
#if defined(__x86_64__) && defined(STRATA_HAVE_LIBMVEC)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        run = run_avx512;
        impl = "avx512";
    } else if (__builtin_cpu_supports("avx2")) {
        run = run_avx2;
        impl = "avx2";
    } else {
        run = run_sse2;
        impl = "sse2";
    }
#endif
}

void vmath_exp_log1p(const double *a, double *e, double *l, size_t n)
{
    pthread_once(&once, choose);
    run(a, e, l, n);
}

const char *vmath_impl(void)
{
    pthread_once(&once, choose);
    return impl;
}
