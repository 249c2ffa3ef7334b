/*
 * rng.h - a small seeded generator (xoshiro256**, seeded through splitmix64).
 *
 * Everything random in training (random search, random splits) draws from
 * one of these so a seed reproduces a run bit for bit on every machine: no
 * libc rand(), no global state.
 */
#ifndef STRATA_TRAINER_RNG_H
#define STRATA_TRAINER_RNG_H

#include <stdint.h>

typedef struct trainer_rng {
    uint64_t s[4];
} trainer_rng;

void trainer_rng_seed(trainer_rng *r, uint64_t seed);
uint64_t trainer_rng_next(trainer_rng *r);
/* Uniform on [0, 1): the top 53 bits. */
double trainer_rng_uniform(trainer_rng *r);
/* Uniform integer on [0, n); n > 0. Unbiased (rejection). */
uint64_t trainer_rng_below(trainer_rng *r, uint64_t n);
/* Standard normal (Marsaglia's polar method). */
double trainer_rng_normal(trainer_rng *r);
/* Gamma(shape a, scale 1), a >= 1 (Marsaglia and Tsang). */
double trainer_rng_gamma(trainer_rng *r, double a);
/* Binomial(n, p), exact: inversion when n * min(p, 1 - p) is small, else
 * Knuth's order-statistic recursion (the i-th smallest of n uniforms is
 * Beta(i, n + 1 - i); compare it with p and recurse into one side), so the
 * cost is O(log n) gamma draws plus a short inversion whatever n is. Libm's
 * log/exp/sqrt enter the draws: the same seed gives the same numbers on the
 * same libm. */
uint64_t trainer_rng_binomial(trainer_rng *r, uint64_t n, double p);

#endif
