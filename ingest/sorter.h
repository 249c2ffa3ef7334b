/*
 * sorter.h - an external merge sort of (key, value) records in bounded memory.
 *
 * Records are added in any order and read back sorted by key: bytes compared
 * with memcmp, a shorter key first when one is a prefix of the other
 * (slice_cmp). Records with equal keys come back in the order they were added
 * (the sort is stable), so callers never need a tie-breaking sequence number.
 *
 * Memory: records and their index are held in memory up to memory_bytes; when
 * the next record would pass it, the records held are sorted and written to a
 * temporary file as one sorted run, and memory is reused. At the end the runs
 * (and what is still in memory, which never goes to disk) are merged with a
 * heap, at most `fanin` at a time: when there are more runs than that, groups
 * of them are first merged into longer runs. A sort that fits in memory never
 * touches a file (the fast path). Input that arrives already in order is not
 * sorted again (a pass-through spool costs one copy).
 *
 * Temporary files are created in tmp_dir and unlinked at once, so nothing is
 * left behind by a crash; their descriptors close with the sorter.
 *
 * Lifecycle: open → add* → finish → next* → close. Not thread-safe (with
 * threads > 1 the sorter starts and joins its own helper inside a call).
 */
#ifndef STRATA_INGEST_SORTER_H
#define STRATA_INGEST_SORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/limits.h"
#include "base/err.h"

/* Runs merged at once: 64 readers with 64 KiB buffers each is 4 MiB, and two
 * merge levels already cover 4096 runs (a terabyte at a 256 MiB budget). */
#define SORTER_DEFAULT_FANIN 64u
/* Smallest budget accepted: below this every few records would make a run. */
#define SORTER_MIN_MEMORY ((size_t)256 << 10)
#define SORTER_KEY_MAX LIMIT_SORT_KEY_BYTES

typedef struct sorter sorter;

typedef struct sorter_options {
    size_t memory_bytes; /* 0: 64 MiB; at least SORTER_MIN_MEMORY */
    const char *tmp_dir; /* NULL: a sort that does not fit fails with RESOURCE_EXHAUSTED */
    unsigned fanin;      /* 0: SORTER_DEFAULT_FANIN; at least 2 */
    const char *what;    /* names the sort in messages ("instances"); NULL: "records" */
    unsigned threads;    /* 0, 1: sort on the caller's thread; 2 or more: large sorts
                          * (spills, finish) use a second thread */
} sorter_options;

typedef struct sorter_stats {
    uint64_t records;
    uint64_t runs;          /* sorted runs written to disk */
    uint64_t spilled_bytes; /* bytes written to temporary files, merges included */
    uint64_t merge_passes;  /* intermediate merge levels (0 when runs <= fanin) */
    size_t peak_memory;     /* most bytes held at once */
} sorter_stats;

/* The options' strings are copied. */
int sorter_open(const sorter_options *opt, sorter **out, strata_err *err);
/* Copy one record in. INVALID_ARGUMENT for a key over SORTER_KEY_MAX; IO when
 * a run cannot be written (disk full: the message says where). With threads
 * > 1 a run is written in the background, so its failure comes back from a
 * later sorter_add or from sorter_finish. */
int sorter_add(sorter *s, slice key, slice val, strata_err *err);
/* No more records: sort what is held and prepare the merge. */
int sorter_finish(sorter *s, strata_err *err);
/* 1 with the next record (key and val borrowed until the next call), 0 after
 * the last, or a negative status (IO, CORRUPT). */
int sorter_next(sorter *s, slice *key, slice *val, strata_err *err);
void sorter_get_stats(const sorter *s, sorter_stats *out);
/* Bytes the sorter holds in memory right now (blocks, index, read buffers). */
size_t sorter_memory(const sorter *s);
void sorter_close(sorter *s); /* NULL ok */

#endif
