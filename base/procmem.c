/*
 * procmem.c - see procmem.h.
 */
#include "base/procmem.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void procmem_read(procmem *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long long size = 0, resident = 0;
        if (fscanf(f, "%llu %llu", &size, &resident) == 2) {
            long page = sysconf(_SC_PAGESIZE);
            out->rss_bytes = resident * (uint64_t)(page > 0 ? page : 4096);
        }
        fclose(f);
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    /* Walks every arena under its lock: cheap at a scrape's rate, not per request. */
    struct mallinfo2 mi = mallinfo2();
    out->heap_in_use_bytes = mi.uordblks + mi.hblkhd;
    out->heap_free_bytes = mi.fordblks;
    out->heap_mmapped_bytes = mi.hblkhd;
    out->have_heap = 1;
#endif
}

int procmem_tune_allocator(void)
{
#if defined(__GLIBC__)
    /* glibc mmaps a request of M_MMAP_THRESHOLD bytes or more and munmaps it
     * on free. Left alone the threshold starts at 128 KiB and rises to the
     * size of each mmapped block that is freed: once the first memtable is
     * flushed and freed, RocksDB's 1 MiB memtable blocks (write_buffer_size
     * / 8, at most 1 MiB) come from malloc's arenas instead, between the
     * small block-cache allocations that live for minutes, and the megabytes
     * of every later freed memtable stay resident as free chunks an arena
     * cannot give back past a live neighbour. Setting the threshold fixes it
     * (and turns the dynamic adjustment off), so memtable blocks map and
     * unmap on their own: ~64 mmap calls per 64 MiB memtable. */
    return mallopt(M_MMAP_THRESHOLD, PROCMEM_MMAP_THRESHOLD) == 1 ? 0 : -1;
#else
    return -1;
#endif
}
