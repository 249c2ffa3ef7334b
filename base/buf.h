/*
 * buf.h - length-carrying slices and one growable byte buffer.
 *
 * Binary data never relies on a NUL terminator. A `buf` keeps a NUL byte after
 * its last byte (not counted in len) so text can be handed to C string APIs, but
 * the content may itself contain NULs.
 *
 * Growth failure is fatal (STRATA_ASSERT on allocation): a server that cannot get
 * a few more bytes of heap cannot answer anyway, and every caller stays simple.
 * Hostile sizes are refused before they reach a buf (see base/limits.h).
 */
#ifndef STRATA_BASE_BUF_H
#define STRATA_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct slice {
    const char *p;
    size_t n;
} slice;

#define SLICE_LIT(s) ((slice){(s), sizeof(s) - 1})
static inline slice slice_of(const char *s)
{
    return (slice){s, s ? strlen(s) : 0};
}
static inline int slice_eq(slice a, slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}
static inline int slice_eq_str(slice a, const char *s)
{
    return slice_eq(a, slice_of(s));
}
/* memcmp order, shorter first on a common prefix. */
int slice_cmp(slice a, slice b);
static inline int slice_ends_with(slice s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.n >= n && memcmp(s.p + s.n - n, suffix, n) == 0;
}
/* A malloc'd NUL-terminated copy (aborts when out of memory). */
char *slice_dup(slice s);

typedef struct buf {
    char *p;
    size_t n;
    size_t cap;
} buf;

#define BUF_INIT {NULL, 0, 0}

/* Make room for `extra` more bytes (plus the trailing NUL). The check is
 * inline: appends run on every request path and nearly always fit. */
void buf_grow(buf *b, size_t extra);
static inline void buf_reserve(buf *b, size_t extra)
{
    if (extra >= b->cap - b->n) /* cap == 0, or n + extra + 1 > cap */
        buf_grow(b, extra);
}
void buf_free(buf *b);
static inline void buf_reset(buf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}
static inline void buf_append(buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}
static inline void buf_append_str(buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}
static inline void buf_append_slice(buf *b, slice s)
{
    buf_append(b, s.p, s.n);
}
static inline void buf_putc(buf *b, char c)
{
    buf_reserve(b, 1);
    b->p[b->n++] = c;
    b->p[b->n] = '\0';
}
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fixed-width integers, big-endian (key codecs) and little-endian (values). */
void buf_put_u16be(buf *b, uint16_t v);
void buf_put_u32be(buf *b, uint32_t v);
void buf_put_u64be(buf *b, uint64_t v);
void buf_put_u32le(buf *b, uint32_t v);
void buf_put_u64le(buf *b, uint64_t v);
/* LEB128 varints (7 bits a byte, low first, at most 10 bytes). varint_put
 * writes into out (room for 10) and returns the length. */
size_t varint_put(char *out, uint64_t v);
void buf_put_varint(buf *b, uint64_t v);
/* Decode the varint at *pp: 0 with *v and *pp past it, or -1 when the bytes
 * end first or it runs over 10 bytes (*pp unchanged). */
int varint_get(const char **pp, const char *end, uint64_t *v);
static inline slice buf_slice(const buf *b)
{
    return (slice){b->p, b->n};
}
/* Take ownership of the bytes; the buf is left empty. Caller frees with free(). */
char *buf_steal(buf *b, size_t *len);

static inline uint16_t get_u16be(const void *p)
{
    const unsigned char *c = p;
    return (uint16_t)((c[0] << 8) | c[1]);
}
static inline uint32_t get_u32be(const void *p)
{
    const unsigned char *c = p;
    return ((uint32_t)c[0] << 24) | ((uint32_t)c[1] << 16) | ((uint32_t)c[2] << 8) | c[3];
}
static inline uint64_t get_u64be(const void *p)
{
    const unsigned char *c = p;
    return ((uint64_t)get_u32be(c) << 32) | get_u32be(c + 4);
}
static inline uint32_t get_u32le(const void *p)
{
    const unsigned char *c = p;
    return ((uint32_t)c[3] << 24) | ((uint32_t)c[2] << 16) | ((uint32_t)c[1] << 8) | c[0];
}
static inline uint64_t get_u64le(const void *p)
{
    const unsigned char *c = p;
    return ((uint64_t)get_u32le(c + 4) << 32) | get_u32le(c);
}
static inline void put_u32be(void *p, uint32_t v)
{
    unsigned char *c = p;
    c[0] = (unsigned char)(v >> 24);
    c[1] = (unsigned char)(v >> 16);
    c[2] = (unsigned char)(v >> 8);
    c[3] = (unsigned char)v;
}
static inline void put_u64be(void *p, uint64_t v)
{
    put_u32be(p, (uint32_t)(v >> 32));
    put_u32be((char *)p + 4, (uint32_t)v);
}
static inline void put_u32le(void *p, uint32_t v)
{
    unsigned char *c = p;
    c[0] = (unsigned char)v;
    c[1] = (unsigned char)(v >> 8);
    c[2] = (unsigned char)(v >> 16);
    c[3] = (unsigned char)(v >> 24);
}

#endif
