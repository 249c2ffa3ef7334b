/* text.c - validators for names, ids and numbers that arrive from clients. */
#include "base/text.h"

#include <limits.h>
#include <stdio.h>

#include "base/limits.h"

bool text_valid_name(slice s)
{
    if (s.n < 1 || s.n > LIMIT_NAME_MAX)
        return false;
    if (s.p[0] < 'a' || s.p[0] > 'z')
        return false;
    for (size_t i = 1; i < s.n; i++) {
        char c = s.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Length of the well-formed UTF-8 sequence at p (rem bytes left), 0 if none. */
static size_t utf8_seq(const unsigned char *p, size_t rem)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (rem < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool text_valid_utf8(slice s)
{
    const unsigned char *p = (const unsigned char *)s.p;
    size_t i = 0;
    while (i < s.n) {
        /* ASCII eight bytes at a time: most text is. */
        uint64_t w;
        if (s.n - i >= 8 && (memcpy(&w, p + i, 8), (w & 0x8080808080808080ULL) == 0)) {
            i += 8;
            continue;
        }
        size_t len = utf8_seq(p + i, s.n - i);
        if (!len)
            return false;
        i += len;
    }
    return true;
}

void text_scrub_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t len = utf8_seq(p + i, n - i);
        if (!len) {
            p[i] = '?';
            len = 1;
        }
        i += len;
    }
}

bool text_valid_entity_id(slice s)
{
    /* No NUL: an id must survive being a C string (protobuf-c's strings, the
     * path captures and logs), and a JSON delete names it as \u0000, which
     * the parser refuses: an id stored with one could never be erased. */
    return s.n >= 1 && s.n <= LIMIT_ENTITY_ID_MAX && !memchr(s.p, '\0', s.n) && text_valid_utf8(s);
}

int text_parse_u64(slice s, uint64_t *out)
{
    if (s.n == 0 || s.n > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int text_parse_i64(slice s, int64_t *out)
{
    bool neg = false;
    if (s.n && (s.p[0] == '-' || s.p[0] == '+')) {
        neg = s.p[0] == '-';
        s.p++;
        s.n--;
    }
    uint64_t u;
    if (text_parse_u64(s, &u))
        return -1;
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1)
            return -1;
        *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > INT64_MAX)
            return -1;
        *out = (int64_t)u;
    }
    return 0;
}

int text_parse_bool(slice s, bool *out)
{
    if (slice_eq_str(s, "true") || slice_eq_str(s, "1")) {
        *out = true;
        return 0;
    }
    if (slice_eq_str(s, "false") || slice_eq_str(s, "0")) {
        *out = false;
        return 0;
    }
    return -1;
}

void text_excerpt(slice s, char *out, size_t cap)
{
    /* Each input byte takes at most 4 output bytes; keep 4 for "..." and NUL. */
    size_t j = 0, i = 0;
    if (cap < 8) {
        if (cap)
            out[0] = '\0';
        return;
    }
    for (; i < s.n && j + 4 <= cap - 4; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
            out[j++] = (char)c;
        else
            j += (size_t)snprintf(out + j, cap - j, "\\x%02x", c);
    }
    if (i < s.n) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
}

int text_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void text_hex_append(buf *out, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = p;
    buf_reserve(out, 2 * n);
    for (size_t i = 0; i < n; i++) {
        out->p[out->n++] = hex[b[i] >> 4];
        out->p[out->n++] = hex[b[i] & 15];
    }
    out->p[out->n] = '\0';
}

int text_hex_decode(slice s, void *out, size_t n)
{
    unsigned char *o = out;
    if (s.n != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = text_hex_digit(s.p[2 * i]), lo = text_hex_digit(s.p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
