/* buf.c - growable buffer. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"

int slice_cmp(slice a, slice b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c)
        return c;
    return a.n < b.n ? -1 : a.n > b.n;
}

char *slice_dup(slice s)
{
    char *d = malloc(s.n + 1);
    STRATA_ASSERT(d != NULL);
    if (s.n)
        memcpy(d, s.p, s.n);
    d[s.n] = '\0';
    return d;
}

void buf_grow(buf *b, size_t extra)
{
    STRATA_ASSERT(extra < SIZE_MAX / 2 - b->n);
    size_t need = b->n + extra + 1; /* +1 for the trailing NUL */
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    STRATA_ASSERT(p != NULL);
    b->p = p;
    b->cap = cap;
}

void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    STRATA_ASSERT(n >= 0);
    if ((size_t)n < sizeof tmp) {
        buf_append(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void buf_put_u16be(buf *b, uint16_t v)
{
    unsigned char c[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    buf_append(b, c, 2);
}

void buf_put_u32be(buf *b, uint32_t v)
{
    unsigned char c[4];
    put_u32be(c, v);
    buf_append(b, c, 4);
}

void buf_put_u64be(buf *b, uint64_t v)
{
    unsigned char c[8];
    put_u64be(c, v);
    buf_append(b, c, 8);
}

void buf_put_u32le(buf *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    buf_append(b, c, 4);
}

void buf_put_u64le(buf *b, uint64_t v)
{
    buf_put_u32le(b, (uint32_t)v);
    buf_put_u32le(b, (uint32_t)(v >> 32));
}

size_t varint_put(char *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (char)v;
    return n;
}

void buf_put_varint(buf *b, uint64_t v)
{
    buf_reserve(b, 10); /* written in place: no memcpy call for a byte or two */
    b->n += varint_put(b->p + b->n, v);
    b->p[b->n] = '\0';
}

int varint_get(const char **pp, const char *end, uint64_t *v)
{
    const unsigned char *c = (const unsigned char *)*pp;
    uint64_t r = 0;
    for (unsigned i = 0; i < 10 && (const char *)c < end; i++, c++) {
        r |= (uint64_t)(*c & 0x7f) << (7 * i);
        if (!(*c & 0x80)) {
            *pp = (const char *)c + 1;
            *v = r;
            return 0;
        }
    }
    return -1;
}

char *buf_steal(buf *b, size_t *len)
{
    if (!b->p)
        buf_reserve(b, 0);
    char *p = b->p;
    if (len)
        *len = b->n;
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}
