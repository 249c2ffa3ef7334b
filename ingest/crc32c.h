/*
 * crc32c.h - CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78)
 * as used by TFRecord framing, iSCSI (RFC 3720) and ext4.
 *
 * Debian ships no library for it, so this is a slicing-by-8 table
 * implementation, with the SSE4.2 CRC32 instruction used instead when the CPU
 * has it (x86-64 only; chosen once, at the first call). Both give the same
 * answers; tests/unit/test_writers.c checks them against RFC 3720's vectors.
 */
#ifndef STRATA_INGEST_CRC32C_H
#define STRATA_INGEST_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 for a fresh checksum) with n bytes. crc32c(0, "123456789", 9)
 * is 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);
/* The portable table version, always (for tests and for CPUs without SSE4.2). */
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n);

/* TFRecord's masked CRC: rotate right by 15 and add a constant, so that a
 * CRC computed over data that itself holds CRCs stays well distributed. */
static inline uint32_t crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

#endif
