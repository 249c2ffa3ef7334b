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

#endif
