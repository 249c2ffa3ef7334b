/*
 * procmem.h - this process's memory, for /metrics and the soak benchmark.
 *
 * Resident set size from /proc/self/statm, and the C allocator's own view
 * (glibc's mallinfo2): bytes handed out, bytes it holds free in its arenas,
 * and bytes in large blocks it mmapped directly. A resident size that grows
 * while "in use" stays flat is the allocator keeping freed memory, not a leak.
 */
#ifndef STRATA_BASE_PROCMEM_H
#define STRATA_BASE_PROCMEM_H

#include <stdint.h>

typedef struct procmem {
    uint64_t rss_bytes;         /* resident set; 0 if /proc is not readable */
    uint64_t heap_in_use_bytes; /* allocated and not freed (arenas + mmapped) */
    uint64_t heap_free_bytes;   /* free chunks the allocator keeps in its arenas */
    uint64_t heap_mmapped_bytes;
    int have_heap;              /* 0 when not built against glibc */
} procmem;

void procmem_read(procmem *out);

/*
 * Set the C allocator up for a long-running daemon that frees large blocks
 * (RocksDB memtables) while holding many small ones (block cache): every
 * allocation of PROCMEM_MMAP_THRESHOLD bytes or more gets its own mapping,
 * returned to the system when freed. Call once, before any thread starts.
 * Returns 0, or -1 when the allocator refused (or is not glibc's).
 */
#define PROCMEM_MMAP_THRESHOLD (256 * 1024)
int procmem_tune_allocator(void);

#endif
