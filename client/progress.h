/*
 * progress.h - a one-line progress bar for long CLI work (writes, imports,
 * exports, jobs): done/total, a bar, rate and ETA, redrawn in place.
 *
 * It draws only on a terminal: progress_open() returns NULL when `out` is not a
 * tty, and every function accepts NULL, so callers never test for it. Output
 * is throttled to 10 redraws a second; progress_close() erases the line so the
 * command's own result prints on a clean line.
 */
#ifndef STRATA_CLIENT_PROGRESS_H
#define STRATA_CLIENT_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct progress progress;

/*
 * Start a bar labelled `label` counting `unit` ("rows", "values"; "B" prints
 * bytes with binary prefixes) up to `total` (0: unknown, no bar and no ETA).
 * label and unit are copied. NULL when `out` is not a terminal or on OOM;
 * release with progress_close().
 */
progress *progress_open(FILE *out, const char *label, const char *unit, uint64_t total);
/* The total can become known late (a job reports it once started). */
void progress_set_total(progress *p, uint64_t total);
/* Record how much is done (absolute, not a delta); redraws when due. */
void progress_update(progress *p, uint64_t done);
/* Erase the bar and free it; NULL is a no-op. */
void progress_close(progress *p);

/* Format n with unit ("B": 1.5 MiB, else 1.5k rows) into out; exposed for tests. */
void progress_format_amount(uint64_t n, const char *unit, char *out, size_t cap);

#endif
