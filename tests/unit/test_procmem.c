/* test_procmem.c - the process memory reader and the allocator setting stratad
 * starts with: a freed large block goes back to the system every time, not only
 * the first (glibc's default raises its mmap threshold after the first free). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/procmem.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define BLOCK ((size_t)1 << 20) /* RocksDB's memtable arena block */

static void reads_resident_size(void **state)
{
    (void)state;
    procmem pm;
    procmem_read(&pm);
    assert_true(pm.rss_bytes > 0);
    /* Touching 8 MiB makes it resident. */
    size_t n = 8 * BLOCK;
    char *p = malloc(n);
    assert_non_null(p);
    memset(p, 1, n);
    procmem after;
    procmem_read(&after);
    assert_true(after.rss_bytes >= pm.rss_bytes + n / 2);
    free(p);
}

static void large_blocks_are_returned_every_time(void **state)
{
    (void)state;
#ifdef UNDER_ASAN
    skip(); /* ASan's allocator replaces glibc's: neither the setting nor mallinfo2 apply */
#else
    procmem probe;
    procmem_read(&probe);
    if (procmem_tune_allocator() != 0 || !probe.have_heap)
        skip(); /* not glibc >= 2.33's malloc (an LD_PRELOADed allocator, say) */
    for (int round = 0; round < 4; round++) {
        /* glibc's default would now raise its threshold to 4 MiB and serve
         * the 1 MiB blocks below from the heap, kept there when freed. */
        char *big = malloc(4 * BLOCK);
        assert_non_null(big);
        memset(big, round, 4 * BLOCK);
        free(big);
        procmem before, held, after;
        procmem_read(&before);
        assert_true(before.have_heap);
        char *p = malloc(BLOCK);
        assert_non_null(p);
        memset(p, round, BLOCK);
        procmem_read(&held);
        /* Its own mapping, counted as in use, in every round. */
        assert_true(held.heap_mmapped_bytes >= before.heap_mmapped_bytes + BLOCK);
        assert_true(held.heap_in_use_bytes >= before.heap_in_use_bytes + BLOCK);
        free(p);
        procmem_read(&after);
        assert_true(after.heap_mmapped_bytes + BLOCK <= held.heap_mmapped_bytes);
        assert_true(after.heap_free_bytes < before.heap_free_bytes + BLOCK / 2);
    }
    /* Below the threshold: from the arena, not mapped. */
    procmem before, held;
    procmem_read(&before);
    char *small = malloc(PROCMEM_MMAP_THRESHOLD / 4);
    assert_non_null(small);
    procmem_read(&held);
    assert_int_equal(held.heap_mmapped_bytes, before.heap_mmapped_bytes);
    free(small);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_resident_size),
        cmocka_unit_test(large_blocks_are_returned_every_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
