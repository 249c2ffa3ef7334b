/* test_trainer_lbfgs.c - the optimizer alone: L-BFGS, More-Thuente, OWL-QN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "trainer/lbfgs.h"

/* Extended Rosenbrock: sum over pairs of 100 (x2 - x1^2)^2 + (1 - x1)^2. */
static double rosenbrock(void *arg, const double *x, double *g)
{
    size_t n = *(size_t *)arg;
    double f = 0;
    for (size_t i = 0; i < n; i += 2) {
        double t1 = 1 - x[i], t2 = 10 * (x[i + 1] - x[i] * x[i]);
        g[i + 1] = 20 * t2;
        g[i] = -2 * (x[i] * g[i + 1] + t1);
        f += t1 * t1 + t2 * t2;
    }
    return f;
}

static void rosenbrock_converges(void **state)
{
    (void)state;
    size_t n = 100;
    double x[100];
    for (size_t i = 0; i < n; i += 2) {
        x[i] = -1.2;
        x[i + 1] = 1;
    }
    lbfgs_params p;
    lbfgs_defaults(&p);
    p.max_iterations = 1000;
    p.gtol = 1e-9;
    p.ftol = 0;
    lbfgs_result r;
    assert_int_equal(lbfgs_minimize(n, x, rosenbrock, NULL, &n, &p, &r), 0);
    assert_true(r.stop == LBFGS_CONVERGED_GRADIENT || r.stop == LBFGS_ROUNDING);
    for (size_t i = 0; i < n; i++)
        assert_true(fabs(x[i] - 1) < 1e-7);
    assert_true(r.fx < 1e-14);
    /* The strong Wolfe line search keeps the work per iteration small. */
    assert_true(r.evaluations < 2 * r.iterations + 20);
}

/* An ill-conditioned quadratic 1/2 sum a_i (x_i - c_i)^2, a from 1 to 1e6. */
typedef struct quad {
    size_t n;
    double a[50], c[50];
} quad;

static double quadratic(void *arg, const double *x, double *g)
{
    const quad *q = arg;
    double f = 0;
    for (size_t i = 0; i < q->n; i++) {
        double d = x[i] - q->c[i];
        g[i] = q->a[i] * d;
        f += 0.5 * q->a[i] * d * d;
    }
    return f;
}

static void quad_init(quad *q, double log10_cond)
{
    q->n = 50;
    for (size_t i = 0; i < q->n; i++) {
        q->a[i] = pow(10, log10_cond * (double)i / 49);
        q->c[i] = sin((double)i + 1) * 3;
    }
}

static void ill_conditioned(void **state)
{
    (void)state;
    quad q;
    quad_init(&q, 3);
    double x[50] = {0};
    lbfgs_params p;
    lbfgs_defaults(&p);
    p.max_iterations = 5000;
    p.gtol = 1e-8;
    p.ftol = 0;
    lbfgs_result r;
    assert_int_equal(lbfgs_minimize(q.n, x, quadratic, NULL, &q, &p, &r), 0);
    assert_int_equal(r.stop, LBFGS_CONVERGED_GRADIENT);
    /* scipy's L-BFGS-B (maxcor 10) needs 335 iterations here */
    assert_true(r.iterations < 500);
    for (size_t i = 0; i < q.n; i++)
        assert_true(fabs(x[i] - q.c[i]) <= 1e-8 / q.a[i] * 10);
}

/* Same iterates as scipy's L-BFGS-B: on a 1e6-conditioned quadratic, f after
 * 50 iterations is 2226.8029030257394 there (scipy 1.10, maxcor 10). */
static void same_path_as_scipy(void **state)
{
    (void)state;
    quad q;
    quad_init(&q, 6);
    double x[50] = {0};
    lbfgs_params p;
    lbfgs_defaults(&p);
    p.max_iterations = 50;
    p.gtol = 0;
    p.ftol = 0;
    lbfgs_result r;
    assert_int_equal(lbfgs_minimize(q.n, x, quadratic, NULL, &q, &p, &r), 0);
    assert_int_equal(r.iterations, 50);
    assert_true(fabs(r.fx - 2226.8029030257394) <= 1e-6 * 2226.8);
}

/* OWL-QN on the same quadratic plus l1 |x|: x_i = soft(c_i, l1 / a_i). */
static void owlqn_soft_threshold(void **state)
{
    (void)state;
    quad q;
    quad_init(&q, 0);
    for (size_t i = 0; i < q.n; i++)
        q.a[i] = 1 + (double)(i % 5); /* moderate conditioning */
    double x[51] = {0};
    lbfgs_params p;
    lbfgs_defaults(&p);
    p.max_iterations = 2000;
    p.gtol = 1e-12;
    p.ftol = 0;
    p.l1 = 2.0;
    p.l1_begin = 0;
    p.l1_end = q.n;
    lbfgs_result r;
    assert_int_equal(lbfgs_minimize(q.n, x, quadratic, NULL, &q, &p, &r), 0);
    assert_true(r.stop == LBFGS_CONVERGED_GRADIENT || r.stop == LBFGS_ROUNDING);
    size_t zeros = 0;
    for (size_t i = 0; i < q.n; i++) {
        double t = p.l1 / q.a[i], c = q.c[i];
        double want = c > t ? c - t : c < -t ? c + t : 0;
        assert_true(fabs(x[i] - want) < 1e-9);
        if (want == 0) {
            assert_true(x[i] == 0); /* exact zeros, not 1e-17 */
            zeros++;
        }
    }
    assert_true(zeros > 5);
}

/* The L1 range leaves the rest unpenalized (the intercept's case). */
static void owlqn_range(void **state)
{
    (void)state;
    quad q;
    quad_init(&q, 0);
    for (size_t i = 0; i < q.n; i++)
        q.a[i] = 1;
    double x[50] = {0};
    lbfgs_params p;
    lbfgs_defaults(&p);
    p.gtol = 1e-12;
    p.ftol = 0;
    p.max_iterations = 500;
    p.l1 = 100; /* everything in range goes to 0 */
    p.l1_begin = 0;
    p.l1_end = 40;
    lbfgs_result r;
    assert_int_equal(lbfgs_minimize(q.n, x, quadratic, NULL, &q, &p, &r), 0);
    for (size_t i = 0; i < 40; i++)
        assert_true(x[i] == 0);
    for (size_t i = 40; i < 50; i++)
        assert_true(fabs(x[i] - q.c[i]) < 1e-10);
}

static int seen_iter;

static double rosen10(void *arg, const double *x, double *g)
{
    (void)arg;
    size_t n = 10;
    return rosenbrock(&n, x, g);
}

/* Records the iteration and asks to stop at the third. */
static int iter_hook(void *arg, int it, const double *x, double fx, double gnorm)
{
    (void)arg;
    (void)x;
    (void)fx;
    (void)gnorm;
    seen_iter = it;
    return it >= 3;
}

static void callback_and_budget(void **state)
{
    (void)state;
    double x[10];
    for (int i = 0; i < 10; i++)
        x[i] = i % 2 ? 1 : -1.2;
    lbfgs_params p;
    lbfgs_defaults(&p);
    lbfgs_result r;
    assert_int_equal(lbfgs_minimize(10, x, rosen10, iter_hook, NULL, &p, &r), 0);
    assert_int_equal(r.stop, LBFGS_STOPPED);
    assert_int_equal(r.iterations, 3);
    assert_int_equal(seen_iter, 3);

    for (int i = 0; i < 10; i++)
        x[i] = i % 2 ? 1 : -1.2;
    p.max_iterations = 5;
    p.ftol = 0;
    p.gtol = 0;
    assert_int_equal(lbfgs_minimize(10, x, rosen10, NULL, NULL, &p, &r), 0);
    assert_int_equal(r.stop, LBFGS_MAX_ITERATIONS);
    assert_int_equal(r.iterations, 5);

    /* bad parameters are refused, x untouched */
    p.m = 0;
    assert_int_equal(lbfgs_minimize(10, x, rosen10, NULL, NULL, &p, &r), -1);
}

static double nonfinite(void *arg, const double *x, double *g)
{
    (void)arg;
    g[0] = 1;
    return x[0] > 0.5 ? NAN : x[0];
}

static void nonfinite_start(void **state)
{
    (void)state;
    double x[1] = {1};
    lbfgs_params p;
    lbfgs_defaults(&p);
    lbfgs_result r;
    assert_int_equal(lbfgs_minimize(1, x, nonfinite, NULL, NULL, &p, &r), 0);
    assert_int_equal(r.stop, LBFGS_NONFINITE);
    assert_true(x[0] == 1);
}

/* A function that is unbounded below along the way, but returns NaN beyond
 * a wall: the line search must back off instead of failing. */
static double wall(void *arg, const double *x, double *g)
{
    (void)arg;
    if (x[0] > 10)
        return NAN;
    g[0] = 2 * (x[0] - 9);
    return (x[0] - 9) * (x[0] - 9);
}

static void nonfinite_trial_backs_off(void **state)
{
    (void)state;
    double x[1] = {-1000};
    lbfgs_params p;
    lbfgs_defaults(&p);
    p.gtol = 1e-10;
    lbfgs_result r;
    assert_int_equal(lbfgs_minimize(1, x, wall, NULL, NULL, &p, &r), 0);
    assert_true(fabs(x[0] - 9) < 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rosenbrock_converges), cmocka_unit_test(ill_conditioned),
        cmocka_unit_test(same_path_as_scipy),   cmocka_unit_test(owlqn_soft_threshold),
        cmocka_unit_test(owlqn_range),          cmocka_unit_test(callback_and_budget),
        cmocka_unit_test(nonfinite_start),      cmocka_unit_test(nonfinite_trial_backs_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
