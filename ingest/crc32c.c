/*
 * crc32c.c - CRC-32C, slicing-by-8 tables built once, and the SSE4.2 path.
 *
 * Slicing-by-8 consumes 8 bytes per step with 8 table lookups (tables built
 * from the reflected polynomial at first use, under pthread_once); the SSE4.2
 * instruction does 8 bytes per cycle-ish. Either is far below the cost of
 * producing the bytes it checks.
 */
#include "ingest/crc32c.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool have_hw;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HW 1
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t v = ~crc;
    while (n && ((uintptr_t)c & 7)) {
        v = __builtin_ia32_crc32qi((uint32_t)v, *c++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, c, 8);
        v = __builtin_ia32_crc32di(v, w);
        c += 8;
        n -= 8;
    }
    while (n--)
        v = __builtin_ia32_crc32qi((uint32_t)v, *c++);
    return ~(uint32_t)v;
}
#endif

static void init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
#ifdef CRC32C_HW
    __builtin_cpu_init();
    have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&once, init_tables);
    const unsigned char *c = p;
    uint32_t v = ~crc;
    while (n && ((uintptr_t)c & 7)) {
        v = (v >> 8) ^ table[0][(v ^ *c++) & 0xff];
        n--;
    }
    while (n >= 8) {
        /* Little-endian load, byte by byte: no alignment or endianness assumptions. */
        uint32_t lo = v ^ ((uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 |
                           (uint32_t)c[3] << 24);
        uint32_t hi =
            (uint32_t)c[4] | (uint32_t)c[5] << 8 | (uint32_t)c[6] << 16 | (uint32_t)c[7] << 24;
        v = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
            table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
            table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        c += 8;
        n -= 8;
    }
    while (n--)
        v = (v >> 8) ^ table[0][(v ^ *c++) & 0xff];
    return ~v;
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&once, init_tables);
#ifdef CRC32C_HW
    if (have_hw)
        return crc32c_hw(crc, p, n);
#endif
    return crc32c_sw(crc, p, n);
}
