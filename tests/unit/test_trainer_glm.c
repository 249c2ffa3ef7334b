/*
 * test_trainer_glm.c - the binary loss kernel (trainer/glm.c) with its vector
 * exp/log1p (trainer/vmath.c): each row's loss and residual against a long
 * double reference over the whole range of margins, and a row's result not
 * depending on where in a block it sits (vector lanes, scalar leftovers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "trainer/glm.c"

/* Relative difference, with denormal results held to an absolute 1e-320. */
static int close_to(double got, long double want, double rel)
{
    long double d = fabsl((long double)got - want);
    return d <= rel * fabsl(want) || (fabsl(want) < 2.3e-308L && d < 1e-320L);
}

#define NZ 41
static const double zs[NZ] = {
    -800, -745,  -720,  -708.5,  -700, -600, -300,   -100, -37.5, -36, -20, -10,  -5, -1,
    -0.5, -1e-3, -1e-9, -1e-300, -0.0, 0.0,  1e-300, 1e-9, 1e-3,  0.5, 1,   5,    10, 20,
    36,   37.5,  100,   300,     600,  700,  708.5,  720,  745,   800, 2.5, -2.5, 1e6};

static void binary_rows_against_long_double(void **state)
{
    (void)state;
    double y[2 * NZ], s[2 * NZ], z[2 * NZ], r[2 * NZ];
    double e[2 * NZ + VMATH_PAD], l[2 * NZ + VMATH_PAD];
    for (size_t i = 0; i < 2 * NZ; i++) {
        z[i] = zs[i % NZ];
        y[i] = i < NZ ? 0 : 1;
        s[i] = 0.25 + (double)(i % 3);
    }
    double wrong = 0;
    double total = block_binary(y, s, z, r, 2 * NZ, e, l, &wrong);
    long double sum = 0, bad = 0;
    for (size_t i = 0; i < 2 * NZ; i++) {
        /* margin against the true class; loss softplus(m), d/dz = sign * sigmoid(m) */
        long double m = y[i] > 0.5 ? -(long double)z[i] : (long double)z[i];
        long double sp = m > 0 ? m + log1pl(expl(-m)) : log1pl(expl(m));
        long double sig = m >= 0 ? 1 / (1 + expl(-m)) : expl(m) / (1 + expl(m));
        long double want_r = s[i] * (y[i] > 0.5 ? -sig : sig);
        sum += s[i] * sp;
        if (m >= 0)
            bad += s[i];
        /* the row alone, as the first row of its block, must give the same bits */
        double r1, e1[VMATH_PAD], l1[VMATH_PAD], w1 = 0;
        double one = block_binary(y + i, s + i, z + i, &r1, 1, e1, l1, &w1);
        if (!close_to(one, s[i] * sp, 8 * DBL_EPSILON) || !close_to(r1, want_r, 8 * DBL_EPSILON))
            fail_msg("z %g y %g: loss %.17g (want %.17Lg), residual %.17g (want %.17Lg)", z[i],
                     y[i], one, s[i] * sp, r1, want_r);
        assert_memory_equal(&r1, &r[i], sizeof r1);
        assert_true(w1 == (m >= 0 ? s[i] : 0));
    }
    assert_true(close_to(total, sum, 1e-15));
    assert_true(wrong == (double)bad);
}

/* Blocks of every length up to 3 vectors: each row's residual is the same as
 * in a block of 40 (lanes, leftovers and padding cannot change a row). */
static void position_independent(void **state)
{
    (void)state;
    enum { M = 40 };
    double y[M], s[M], z[M], r[M], e[M + VMATH_PAD], l[M + VMATH_PAD];
    for (size_t i = 0; i < M; i++) {
        y[i] = (double)(i % 2);
        s[i] = 1.0 / (double)(i + 1);
        z[i] = (double)i * 0.37 - 7.1;
    }
    double w = 0;
    block_binary(y, s, z, r, M, e, l, &w);
    for (size_t m = 1; m <= 3 * VMATH_PAD; m++)
        for (size_t off = 0; off + m <= M; off += 7) {
            double rr[M], ee[M + VMATH_PAD], ll[M + VMATH_PAD], ww = 0;
            block_binary(y + off, s + off, z + off, rr, m, ee, ll, &ww);
            assert_memory_equal(rr, r + off, m * sizeof *rr);
        }
}

static void implementation(void **state)
{
    (void)state;
    const char *impl = vmath_impl();
    assert_true(!strcmp(impl, "avx512") || !strcmp(impl, "avx2") || !strcmp(impl, "sse2") ||
                !strcmp(impl, "libm"));
    printf("vmath: %s\n", impl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(binary_rows_against_long_double),
        cmocka_unit_test(position_independent),
        cmocka_unit_test(implementation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
