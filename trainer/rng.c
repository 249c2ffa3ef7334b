/* rng.c - xoshiro256** (Blackman and Vigna), seeded by splitmix64; normal,
 * gamma and binomial draws on top of it for the evaluator's bootstrap. */
#include "trainer/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void trainer_rng_seed(trainer_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t trainer_rng_next(trainer_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double trainer_rng_uniform(trainer_rng *r)
{
    return (double)(trainer_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t trainer_rng_below(trainer_rng *r, uint64_t n)
{
    /* Reject the top partial copy of [0, n) so every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do
        v = trainer_rng_next(r);
    while (v >= limit);
    return v % n;
}

double trainer_rng_normal(trainer_rng *r)
{
    for (;;) {
        double u = 2 * trainer_rng_uniform(r) - 1, v = 2 * trainer_rng_uniform(r) - 1;
        double s = u * u + v * v;
        if (s > 0 && s < 1)
            return u * sqrt(-2 * log(s) / s);
    }
}

double trainer_rng_gamma(trainer_rng *r, double a)
{
    double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = trainer_rng_normal(r), v = 1 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = trainer_rng_uniform(r);
        if (u < 1 - 0.0331 * x * x * x * x)
            return d * v;
        if (u > 0 && log(u) < 0.5 * x * x + d * (1 - v + log(v)))
            return d * v;
    }
}

/* Inversion: walk the pmf from 0 with its ratio recurrence. Only used while
 * n * p is small (p <= 1/2), where q^n neither underflows nor needs many steps. */
static uint64_t binomial_inversion(trainer_rng *r, uint64_t n, double p)
{
    double q = 1 - p, s = p / q, a = ((double)n + 1) * s;
    double f0 = pow(q, (double)n);
    for (;;) {
        double u = trainer_rng_uniform(r), f = f0;
        uint64_t x = 0;
        while (u > f) {
            u -= f;
            x++;
            if (x > n)
                break; /* rounding left u above the total mass: draw again */
            f *= a / (double)x - s;
        }
        if (x <= n)
            return x;
    }
}

/* Below this mean (n * min(p, 1-p)) inversion is quicker than another split. */
#define BINOMIAL_INVERSION_MEAN 16.0

uint64_t trainer_rng_binomial(trainer_rng *r, uint64_t n, double p)
{
    if (n == 0 || p <= 0)
        return 0;
    if (p >= 1)
        return n;
    if (p > 0.5)
        return n - trainer_rng_binomial(r, n, 1 - p);
    uint64_t got = 0;
    while ((double)n * p > BINOMIAL_INVERSION_MEAN) {
        /* X = the i-th smallest of n uniforms. If X <= p, those i are all
         * below p and the other n - i are uniforms on (X, 1) conditioned on
         * nothing: count them against (p - X) / (1 - X). Else the i - 1 below
         * X are uniforms on (0, X): count them against p / X. */
        uint64_t i = (n + 1) / 2;
        double g1 = trainer_rng_gamma(r, (double)i), g2 = trainer_rng_gamma(r, (double)(n + 1 - i));
        double x = g1 / (g1 + g2);
        if (x <= p) {
            got += i;
            n -= i;
            p = (p - x) / (1 - x);
        } else {
            n = i - 1;
            p = p / x;
        }
        if (p > 0.5) /* keep the inversion on the short tail */
            return got + n - trainer_rng_binomial(r, n, 1 - p);
    }
    return got + binomial_inversion(r, n, p);
}
