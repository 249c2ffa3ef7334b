/* arena.c - per-request arena (arena.h). */
#include "base/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct arena_chunk {
    arena_chunk *next;
    alignas(max_align_t) char data[];
};

#define ALIGN (alignof(max_align_t))

static arena_chunk *chunk_new(size_t data_bytes)
{
    STRATA_ASSERT(data_bytes < SIZE_MAX / 2);
    arena_chunk *c = malloc(sizeof *c + data_bytes);
    STRATA_ASSERT(c != NULL);
    return c;
}

void *arena_alloc(arena *a, size_t size)
{
    size_t need = size ? (size + ALIGN - 1) & ~(ALIGN - 1) : ALIGN;
    STRATA_ASSERT(need >= size);
    if ((size_t)(a->end - a->at) >= need) {
        void *p = a->at;
        a->at += need;
        memset(p, 0, size);
        return p;
    }
    size_t csize = a->next_size ? a->next_size : ARENA_FIRST_CHUNK;
    if (need > csize / 4) {
        /* Its own chunk, behind the one being filled: that one's free space
         * stays usable. */
        arena_chunk *c = chunk_new(need);
        if (a->chunks) {
            c->next = a->chunks->next;
            a->chunks->next = c;
        } else {
            c->next = NULL;
            a->chunks = c;
            a->at = a->end = c->data + need;
        }
        memset(c->data, 0, size);
        return c->data;
    }
    arena_chunk *c = chunk_new(csize);
    c->next = a->chunks;
    a->chunks = c;
    a->at = c->data + need;
    a->end = c->data + csize;
    a->next_size = csize < ARENA_MAX_CHUNK ? csize * 2 : ARENA_MAX_CHUNK;
    memset(c->data, 0, size);
    return c->data;
}

void arena_free(arena *a)
{
    if (!a)
        return;
    for (arena_chunk *c = a->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    *a = (arena)ARENA_INIT;
}
