/*
 * dtoa.h - shortest round-trip formatting of doubles.
 *
 * The digits are the fewest significant decimal digits that strtod reads back
 * to exactly the same double, and among those the closest to the double's
 * exact value (ties to an even last digit). They come from our own
 * implementation of Ryu (Ulf Adams, "Ryu: Fast Float-to-String Conversion",
 * PLDI 2018): no printf, no strtod loop, no allocation, no locale.
 *
 * Two textual shapes of the same digits:
 *  - strata_dtoa: the JSON shape jsonw_double and the export writers emit.
 *    Plain decimal when the decimal exponent X (v = d.ddd * 10^X) satisfies
 *    -4 <= X < max(15, ndigits), or when X is -5 or -6 and the value has at
 *    most 6 decimals (0.000025); otherwise exponent form "1.5e-07", "1e+300"
 *    (exponent sign always, at least two exponent digits). A value with no
 *    fraction keeps a ".0" ("42.0", "-0.0") so it stays recognisably a double.
 *  - strata_dtoa_g: the shape of printf("%.17g") with the shortest digits:
 *    plain decimal when -4 <= X < 17, no ".0" ("42", "0.1", "1e+20"). For
 *    text that used "%.17g" before (labels, filter dumps): integral values
 *    print exactly as they did.
 * Non-finite values print as "nan", "inf", "-inf" in both (JSON writers map
 * them to null before calling).
 */
#ifndef STRATA_BASE_DTOA_H
#define STRATA_BASE_DTOA_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The IEEE 754 bits of a double, and back. */
static inline uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Longest output plus its NUL: "-2.2250738585072014e-308" is 24 bytes. */
#define STRATA_DTOA_MAX 32

/* Write v's shortest round-trip text and a NUL into out; return its length. */
size_t strata_dtoa(double v, char out[STRATA_DTOA_MAX]);
size_t strata_dtoa_g(double v, char out[STRATA_DTOA_MAX]);

/* The shortest decimal form of finite, non-zero |v|: digits * 10^exp10 reads
 * back as |v|, and digits has no trailing zero. Returns the number of digits
 * (1..17); 0, with *digits and *exp10 zeroed, for zero and non-finite v. */
int strata_dtoa_decimal(double v, uint64_t *digits, int *exp10);

#endif
