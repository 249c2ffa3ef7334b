/* jsonw.c - JSON output helpers; doubles via base/dtoa.c, base64 via OpenSSL's
 * EVP block codec. */
#include "base/jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/dtoa.h"
#include "base/log.h"

void jsonw_str(buf *b, slice s)
{
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, s.n + 2);
    buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(b, s.p + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_append(b, "\\\"", 2); break;
        case '\\': buf_append(b, "\\\\", 2); break;
        case '\n': buf_append(b, "\\n", 2); break;
        case '\r': buf_append(b, "\\r", 2); break;
        case '\t': buf_append(b, "\\t", 2); break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(b, e, 6);
        }
        }
    }
    buf_append(b, s.p + run, s.n - run);
    buf_putc(b, '"');
}

void jsonw_u64(buf *b, uint64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

void jsonw_i64(buf *b, int64_t v)
{
    if (v < 0) {
        buf_putc(b, '-');
        jsonw_u64(b, (uint64_t)0 - (uint64_t)v);
        return;
    }
    jsonw_u64(b, (uint64_t)v);
}

void jsonw_double(buf *b, double v)
{
    if (!isfinite(v)) {
        buf_append(b, "null", 4);
        return;
    }
    if (b->cap - b->n <= STRATA_DTOA_MAX) /* the NUL included */
        buf_reserve(b, STRATA_DTOA_MAX);
    b->n += strata_dtoa(v, b->p + b->n);
}

void jsonw_base64(buf *b, slice bytes)
{
    size_t out = 4 * ((bytes.n + 2) / 3);
    buf_reserve(b, out + 2);
    buf_putc(b, '"');
    if (bytes.n)
        EVP_EncodeBlock((unsigned char *)b->p + b->n, (const unsigned char *)bytes.p,
                        (int)bytes.n);
    b->n += out;
    buf_putc(b, '"');
}

void jsonw_key(buf *b, const char *key, int first)
{
    if (!first)
        buf_putc(b, ',');
    jsonw_cstr(b, key);
    buf_putc(b, ':');
}

int base64_decode(slice in, buf *out)
{
    if (in.n % 4)
        return -1;
    size_t pad = 0;
    for (size_t i = 0; i < in.n; i++) {
        char c = in.p[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/';
        if (c == '=' && i >= in.n - 2) {
            pad++;
            continue;
        }
        if (!ok || pad)
            return -1;
    }
    if (in.n == 0)
        return 0;
    size_t max = in.n / 4 * 3;
    buf_reserve(out, max);
    int n = EVP_DecodeBlock((unsigned char *)out->p + out->n, (const unsigned char *)in.p,
                            (int)in.n);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts the padding's zero bytes; drop them. */
    out->n += (size_t)n - pad;
    out->p[out->n] = '\0';
    return 0;
}

typedef struct jsonw_member {
    slice key;
    const json_t *val;
} jsonw_member;

static int member_cmp(const void *a, const void *b)
{
    return slice_cmp(((const jsonw_member *)a)->key, ((const jsonw_member *)b)->key);
}

static void write_object(buf *b, const json_t *j, bool sort_keys)
{
    jsonw_member small[16], *m = small;
    size_t n = json_object_size(j), i = 0;
    if (n > sizeof small / sizeof small[0]) {
        m = malloc(n * sizeof *m);
        STRATA_ASSERT(m != NULL);
    }
    for (void *it = json_object_iter((json_t *)j); it && i < n;
         it = json_object_iter_next((json_t *)j, it), i++) {
        m[i].key = (slice){json_object_iter_key(it), json_object_iter_key_len(it)};
        m[i].val = json_object_iter_value(it);
    }
    if (sort_keys)
        qsort(m, i, sizeof *m, member_cmp);
    buf_putc(b, '{');
    for (size_t k = 0; k < i; k++) {
        if (k)
            buf_putc(b, ',');
        jsonw_str(b, m[k].key);
        buf_putc(b, ':');
        jsonw_value(b, m[k].val, sort_keys);
    }
    buf_putc(b, '}');
    if (m != small)
        free(m);
}

void jsonw_value(buf *b, const json_t *j, bool sort_keys)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        write_object(b, j, sort_keys);
        return;
    case JSON_ARRAY:
        buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                buf_putc(b, ',');
            jsonw_value(b, json_array_get(j, i), sort_keys);
        }
        buf_putc(b, ']');
        return;
    case JSON_STRING:
        jsonw_str(b, (slice){json_string_value(j), json_string_length(j)});
        return;
    case JSON_INTEGER:
        jsonw_i64(b, (int64_t)json_integer_value(j));
        return;
    case JSON_REAL:
        jsonw_double(b, json_real_value(j));
        return;
    case JSON_TRUE:
        buf_append(b, "true", 4);
        return;
    case JSON_FALSE:
        buf_append(b, "false", 5);
        return;
    case JSON_NULL:
        break;
    }
    buf_append(b, "null", 4);
}
