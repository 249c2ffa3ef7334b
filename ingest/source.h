/*
 * source.h - the bytes an import reads: a regular file (by descriptor) or an
 * inline upload held in memory, handed out in chunks of at most
 * SOURCE_CHUNK_BYTES, with a running SHA-256 and byte count of everything
 * handed out so far.
 *
 * The readers (csv_reader.c, jsonl_reader.c) pull chunks and never hold more
 * than one chunk plus the row they are assembling, whatever the file size.
 *
 * Sources are text: a UTF-8 byte order mark at the very start is not handed
 * out (it is still hashed and counted).
 */
#ifndef STRATA_INGEST_SOURCE_H
#define STRATA_INGEST_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define SOURCE_CHUNK_BYTES ((size_t)256 << 10)

typedef struct ingest_source ingest_source;

/* Over an open descriptor of a regular file; the source owns fd and closes it.
 * size is the file's size at open (the progress total). */
ingest_source *ingest_source_fd(int fd, uint64_t size);
/* Over memory the caller keeps alive until the source is closed. */
ingest_source *ingest_source_mem(const char *p, size_t n);
/* The same, handed out in chunks of at most `chunk` bytes (3..SOURCE_CHUNK_BYTES,
 * clamped; at least 3 so a byte order mark is always seen whole): the fuzz
 * targets check that where chunks end never changes what the readers read. */
ingest_source *ingest_source_mem_chunked(const char *p, size_t n, size_t chunk);
void ingest_source_close(ingest_source *s); /* NULL ok */

/* The next chunk: 1 and *chunk set (borrowed until the next call), 0 at the
 * end, or IO with a message. */
int ingest_source_next(ingest_source *s, slice *chunk, strata_err *err);
/* Back to the first byte; the digest and count start over. */
int ingest_source_rewind(ingest_source *s, strata_err *err);

uint64_t ingest_source_bytes_read(const ingest_source *s);
uint64_t ingest_source_size(const ingest_source *s);
/* Lowercase hex SHA-256 of the bytes read so far (out: 65 bytes). */
void ingest_source_sha256(const ingest_source *s, char out[65]);

/*
 * The path rules every file a client names must pass (imports' source.path,
 * exports' instances.path): the path (relative to import_dir, or absolute)
 * may not hold a ".." component; its realpath must lie inside import_dir's
 * realpath (symlinks may point around inside, not out); the target must be a
 * regular file, opened with O_NOFOLLOW and re-checked with fstat against the
 * resolved name. A missing file inside the directory is NOT_FOUND; anything
 * that leaves it is PERMISSION_DENIED without saying whether it exists; no
 * import_dir at all is PERMISSION_DENIED. `field` names the request member in
 * messages ("source" → "source.path"), `what` the refused feature ("imports").
 * On success *fd (caller closes), *size and *uri ("file:///real/path",
 * malloc'ed, caller frees).
 */
/* The checks of ingest_source_open_path that need no file (imports from paths
 * enabled, no "..", inside the import directory lexically): for a path read
 * later, such as a schedule's. 0, or its errors. */
int ingest_source_check_path(const char *import_dir, slice path, const char *field,
                             const char *what, strata_err *err);
int ingest_source_open_path(const char *import_dir, slice path, const char *field,
                            const char *what, int *fd, uint64_t *size, char **uri,
                            strata_err *err);
/* Whether path lies strictly inside dir (both absolute and normalised). */
bool ingest_path_inside(const char *path, const char *dir);
/*
 * Where an open descriptor actually is, checked against dir: 1 when the file
 * or directory fd refers to is dir itself (allow_self) or lies inside it, 0
 * when it lies elsewhere, -1 when it cannot be told (/proc/self/fd unreadable,
 * or a path too long to read back). Paths are
 * checked by name first and opened after, so a directory swapped for a
 * symlink in between would move the open outside; this asks the kernel where
 * the open landed.
 */
int ingest_fd_inside(int fd, const char *dir, bool allow_self);

#endif
