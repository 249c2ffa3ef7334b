/* jsonw.c - JSON output helpers; doubles via base/dtoa.c, base64 via OpenSSL's
 * EVP block codec. */
#include "base/jsonw.h"

#include <math.h>

#include "base/dtoa.h"

#include <openssl/evp.h>

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
