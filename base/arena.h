/*
 * arena.h - a per-request arena: many small zeroed allocations, freed in one
 * call (the house style's per-request arena).
 *
 * Memory comes from chunks that double in size from ARENA_FIRST_CHUNK up to
 * ARENA_MAX_CHUNK; an allocation larger than a quarter of the chunk it would
 * start gets a chunk of its own. Pointers stay valid until arena_free; nothing
 * is freed one by one. Not thread-safe: one arena belongs to one request.
 */
#ifndef STRATA_BASE_ARENA_H
#define STRATA_BASE_ARENA_H

#include <stddef.h>

#define ARENA_FIRST_CHUNK 4096u
#define ARENA_MAX_CHUNK (64u << 10)

typedef struct arena_chunk arena_chunk;

typedef struct arena {
    arena_chunk *chunks; /* newest first */
    char *at, *end;      /* free space in the chunk being filled */
    size_t next_size;    /* size of the next chunk */
} arena;

#define ARENA_INIT {NULL, NULL, NULL, 0}

/* size bytes, zeroed, aligned for any type; never NULL (aborts when out of
 * memory, as buf does). size 0 gives a valid unique pointer. */
void *arena_alloc(arena *a, size_t size);
/* Free every chunk; the arena is empty and may be used again. NULL ok. */
void arena_free(arena *a);

#endif
