/*
 * dtoa.c - shortest round-trip double formatting (dtoa.h), after Ryu.
 *
 * NOTES ON THE ALGORITHM (Adams, PLDI 2018; the section numbers are the paper's)
 *
 * A finite double is v = m2 * 2^e2. Every real strictly between the midpoints
 * to v's two neighbours reads back as v; the midpoints themselves do too when
 * m2 is even (strtod rounds ties to even). Multiplying by 4 puts v and both
 * midpoints on integers: mv = 4*m2, mp = mv + 2, and mm = mv - 2, or mv - 1 at
 * a power of two whose lower neighbour is twice as close ("mm_shift").
 *
 * Step 3 scales the three by 2^e2 / 10^e10 and keeps the floors vm, vr, vp,
 * choosing e10 one power of ten smaller than the scaled interval allows so
 * that at least one digit is left to drop and round with. Each floor is one
 * 64x128-bit multiplication by a 125-bit approximation of 5^i or 2^k/5^q
 * (dtoa_tables_int.h) and a shift; section 3.4 proves the floor is exact for
 * every 55-bit input at that precision, so no big numbers are needed.
 *
 * Step 4 drops the last decimal digit of all three while [vm, vp] still holds
 * a number with one digit fewer, then rounds vr to nearest by the last dropped
 * digit. That is the shortest representation inside the interval and, among
 * those, the closest to v. Exactness matters only when an interval end (is
 * the included end really reachable?) or v itself (is a dropped "5" an exact
 * tie?) is a short decimal: vm_tz / vr_tz say whether the digits dropped so
 * far were all zero, and the fast loop runs when neither can be.
 *
 * Integers below 2^53 skip all of this: the integer itself is the answer.
 */
#include "base/dtoa.h"

#include <string.h>

#include "base/dtoa_tables_int.h"

__extension__ typedef unsigned __int128 u128;

#define MANT_BITS 52
#define EXP_BIAS 1075 /* 1023 + 52: v = m2 * 2^(bexp - EXP_BIAS) */

/* bit length of 5^e, e in [0, 3528] */
static inline int pow5bits(int e)
{
    return (int)(((uint32_t)e * 1217359u) >> 19) + 1;
}

/* floor(log10(2^e)), e in [0, 1650] */
static inline int log10_pow2(int e)
{
    return (int)(((uint32_t)e * 78913u) >> 18);
}

/* floor(log10(5^e)), e in [0, 2620] */
static inline int log10_pow5(int e)
{
    return (int)(((uint32_t)e * 732923u) >> 20);
}

static inline int multiple_of_pow5(uint64_t v, int p)
{
    int n = 0;
    while (v % 5 == 0) { /* v > 0 here: mm, mv, mp are never 0 */
        v /= 5;
        n++;
    }
    return n >= p;
}

static inline int multiple_of_pow2(uint64_t v, int p)
{
    return (v & ((1ull << p) - 1)) == 0;
}

/* floor(m * mul / 2^j) for a 128-bit mul; j in [64, 127] */
static inline uint64_t mul_shift(uint64_t m, const uint64_t mul[2], int j)
{
    u128 lo = (u128)m * mul[0];
    u128 hi = (u128)m * mul[1];
    return (uint64_t)(((lo >> 64) + hi) >> (j - 64));
}

static const uint64_t k_pow10[20] = {1ull,
                                     10ull,
                                     100ull,
                                     1000ull,
                                     10000ull,
                                     100000ull,
                                     1000000ull,
                                     10000000ull,
                                     100000000ull,
                                     1000000000ull,
                                     10000000000ull,
                                     100000000000ull,
                                     1000000000000ull,
                                     10000000000000ull,
                                     100000000000000ull,
                                     1000000000000000ull,
                                     10000000000000000ull,
                                     100000000000000000ull,
                                     1000000000000000000ull,
                                     10000000000000000000ull};

/* Number of decimal digits of v: from its bit length (log10(2) ~ 1233/4096),
 * corrected by one comparison. */
static inline int decimal_len(uint64_t v)
{
    int t = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    return t + (v >= k_pow10[t]);
}

/* Drop log10(p10) digits from all three if [vm, vp] still holds a number with
 * that many digits fewer; *round_up then says whether the highest dropped
 * digit was 5 or more. Called with constants so the divisions are
 * multiplications. */
static inline int drop_digits(uint64_t *vr, uint64_t *vp, uint64_t *vm, uint64_t p10, int *round_up)
{
    if (*vp / p10 <= *vm / p10)
        return 0;
    *round_up = *vr % p10 >= p10 / 2;
    *vr /= p10;
    *vp /= p10;
    *vm /= p10;
    return 1;
}

/* Drop one digit, remembering it and whether all dropped before it were 0. */
static inline void drop_one(uint64_t *vr, uint64_t *vp, uint64_t *vm, int *last, int *vr_tz)
{
    *vr_tz &= *last == 0;
    *last = (int)(*vr % 10);
    *vr /= 10;
    *vp /= 10;
    *vm /= 10;
}

/* strata_dtoa_decimal on the bits of a double */
static inline int shortest(uint64_t bits, uint64_t *digits, int *exp10)
{
    uint64_t frac = bits & ((1ull << MANT_BITS) - 1);
    int bexp = (int)((bits >> MANT_BITS) & 0x7ff);
    *digits = 0;
    *exp10 = 0;
    if (bexp == 0x7ff || (bexp == 0 && frac == 0))
        return 0;
    uint64_t m2 = bexp ? frac | (1ull << MANT_BITS) : frac;
    int e2 = (bexp ? bexp : 1) - EXP_BIAS;

    /* An integer below 2^53: its ulp is at most 1, so no shorter number than
     * the integer (less its trailing zeros) lies within half an ulp. */
    if (e2 <= 0 && e2 >= -MANT_BITS && (m2 & ((1ull << -e2) - 1)) == 0) {
        uint64_t n = m2 >> -e2;
        int z = 0;
        while (n % 10 == 0) {
            n /= 10;
            z++;
        }
        *digits = n;
        *exp10 = z;
        return decimal_len(n);
    }

    int even = (m2 & 1) == 0;
    uint64_t mv = 4 * m2;
    uint64_t mm_shift = frac != 0 || bexp <= 1;
    uint64_t mm = mv - 1 - mm_shift, mp = mv + 2;
    e2 -= 2;

    uint64_t vr, vp, vm;
    int e10, vm_tz = 0, vr_tz = 0;
    if (e2 >= 0) {
        /* v * 10^-q = mv * 2^e2 / 5^q / 2^q, by the inverse table */
        int q = log10_pow2(e2);
        if (q > 0)
            q--;
        e10 = q;
        int j = -e2 + q + DTOA_POW5_BITS + pow5bits(q) - 1;
        vr = mul_shift(mv, DTOA_POW5_INV[q], j);
        vp = mul_shift(mp, DTOA_POW5_INV[q], j);
        vm = mul_shift(mm, DTOA_POW5_INV[q], j);
        /* The dropped digits are all zero iff 5^q divides the input (2^e2
         * supplies the twos). Inputs are below 2^55, so only q <= 23 could
         * matter; past q = 21 the exact value has too many digits for a tie
         * to reach the 17 kept ones. mm..mp span 4, so at most one of them is
         * a multiple of 5. */
        if (q <= 21) {
            if (mv % 5 == 0)
                vr_tz = multiple_of_pow5(mv, q);
            else if (even)
                vm_tz = multiple_of_pow5(mm, q);
            else
                vp -= (uint64_t)multiple_of_pow5(mp, q); /* excluded end, exact: step inside */
        }
    } else {
        /* v * 10^-e10 = mv * 5^i / 2^q with i = -e2 - q, by the power table */
        int q = log10_pow5(-e2);
        if (q > 0)
            q--;
        e10 = q + e2;
        int i = -e2 - q;
        int j = q - (pow5bits(i) - DTOA_POW5_BITS);
        vr = mul_shift(mv, DTOA_POW5[i], j);
        vp = mul_shift(mp, DTOA_POW5[i], j);
        vm = mul_shift(mm, DTOA_POW5[i], j);
        /* Exact iff 2^q divides the input. mp = 2 mod 4 and mm is odd or
         * 2 mod 4, so the ends can be exact only for q <= 1: non-integers
         * in [2^51, 2^54), whose interval ends have more digits than v
         * itself. There the end bookkeeping changes no output (mutating it
         * passes test_dtoa); it is kept because the proof assumes it. */
        if (q <= 1) {
            vr_tz = 1;
            if (even)
                vm_tz = multiple_of_pow2(mm, q);
            else
                vp--;
        } else if (q < 63) {
            vr_tz = multiple_of_pow2(mv, q);
        }
    }

    int removed = 0;
    uint64_t out;
    if (vm_tz || vr_tz) {
        int last = 0;
        while (vp / 10 > vm / 10) {
            vm_tz &= vm % 10 == 0;
            drop_one(&vr, &vp, &vm, &last, &vr_tz);
            removed++;
        }
        /* The lower end is itself a short decimal inside the interval: keep
         * shortening it. */
        while (vm_tz && vm % 10 == 0) {
            drop_one(&vr, &vp, &vm, &last, &vr_tz);
            removed++;
        }
        if (vr_tz && last == 5 && vr % 2 == 0)
            last = 4; /* an exact tie: round half to even */
        out = vr + ((vr == vm && (!even || !vm_tz)) || last >= 5);
    } else {
        /* The digits to drop are the largest r with vp / 10^r > vm / 10^r,
         * a condition that holds for every smaller r too: find r by 8, 4, 2, 1
         * (short decimals drop a dozen, full-precision ones one or two).
         * Only the highest dropped digit matters for rounding. */
        int round_up = 0;
        while (drop_digits(&vr, &vp, &vm, 100000000, &round_up))
            removed += 8;
        removed += 4 * drop_digits(&vr, &vp, &vm, 10000, &round_up);
        removed += 2 * drop_digits(&vr, &vp, &vm, 100, &round_up);
        removed += drop_digits(&vr, &vp, &vm, 10, &round_up);
        out = vr + (vr == vm || round_up);
    }
    *digits = out;
    *exp10 = e10 + removed;
    return decimal_len(out);
}

int strata_dtoa_decimal(double v, uint64_t *digits, int *exp10)
{
    return shortest(double_bits(v), digits, exp10);
}

static const char k_pairs[] = "00010203040506070809"
                              "10111213141516171819"
                              "20212223242526272829"
                              "30313233343536373839"
                              "40414243444546474849"
                              "50515253545556575859"
                              "60616263646566676869"
                              "70717273747576777879"
                              "80818283848586878889"
                              "90919293949596979899";

/* Exactly 8 digits of v < 10^8, leading zeros included. */
static inline void put_8_digits(char *p, uint32_t v)
{
    uint32_t hi = v / 10000, lo = v % 10000;
    memcpy(p, k_pairs + 2 * (hi / 100), 2);
    memcpy(p + 2, k_pairs + 2 * (hi % 100), 2);
    memcpy(p + 4, k_pairs + 2 * (lo / 100), 2);
    memcpy(p + 6, k_pairs + 2 * (lo % 100), 2);
}

/* The n decimal digits of d into p[0..n), n = decimal_len(d) <= 17. */
static void put_digits(char *p, uint64_t d, int n)
{
    if (n > 8) {
        put_8_digits(p + n - 8, (uint32_t)(d % 100000000));
        d /= 100000000;
        n -= 8;
    }
    uint32_t x = (uint32_t)d; /* at most 9 digits */
    char *e = p + n;
    while (x >= 100) {
        e -= 2;
        memcpy(e, k_pairs + 2 * (x % 100), 2);
        x /= 100;
    }
    if (x >= 10) {
        e -= 2;
        memcpy(e, k_pairs + 2 * x, 2);
    } else {
        *--e = (char)('0' + x);
    }
}

/* Lay out digits * 10^(X - n + 1) (X: the exponent of the first digit). */
static inline size_t format(double v, char *out, int json)
{
    char *p = out;
    uint64_t bits = double_bits(v);
    uint64_t digits;
    int e10;
    int n = shortest(bits, &digits, &e10);
    if (n == 0 && ((bits >> MANT_BITS) & 0x7ff) == 0x7ff) {
        const char *s = (bits & ((1ull << MANT_BITS) - 1)) ? "nan" : bits >> 63 ? "-inf" : "inf";
        size_t len = strlen(s);
        memcpy(out, s, len + 1);
        return len;
    }
    if (bits >> 63)
        *p++ = '-';
    if (n == 0) {
        n = 1; /* zero: one digit "0" */
        e10 = 0;
    }
    int x = e10 + n - 1;
    int fixed;
    if (json)
        fixed = (x >= -4 && x < (n > 15 ? n : 15)) || (x >= -6 && x < -4 && n - 1 - x <= 6);
    else
        fixed = x >= -4 && x < 17;
    if (fixed && x < 0) {
        *p++ = '0';
        *p++ = '.';
        for (int z = -x - 1; z > 0; z--) /* at most 6 (JSON) or 3 zeros */
            *p++ = '0';
        put_digits(p, digits, n);
        p += n;
    } else if (fixed && n <= x + 1) {
        put_digits(p, digits, n);
        p += n;
        for (int z = x + 1 - n; z > 0; z--)
            *p++ = '0';
        if (json) {
            *p++ = '.';
            *p++ = '0';
        }
    } else if (fixed) {
        put_digits(p + 1, digits, n);
        for (int k = 0; k <= x; k++) /* the integer part one to the left */
            p[k] = p[k + 1];
        p[x + 1] = '.';
        p += n + 1;
    } else {
        put_digits(p + 1, digits, n);
        p[0] = p[1];
        if (n > 1) {
            p[1] = '.';
            p += n + 1;
        } else {
            p++;
        }
        *p++ = 'e';
        *p++ = x < 0 ? '-' : '+';
        if (x < 0)
            x = -x;
        if (x >= 100) {
            *p++ = (char)('0' + x / 100);
            x %= 100;
        }
        memcpy(p, k_pairs + 2 * x, 2);
        p += 2;
    }
    *p = '\0';
    return (size_t)(p - out);
}

size_t strata_dtoa(double v, char out[STRATA_DTOA_MAX])
{
    return format(v, out, 1);
}

size_t strata_dtoa_g(double v, char out[STRATA_DTOA_MAX])
{
    return format(v, out, 0);
}
