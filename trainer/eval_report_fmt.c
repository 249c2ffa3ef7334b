/*
 * eval_report_fmt.c - the report's small vocabulary: tolerant JSON access,
 * HTML escaping, and fixed number formatting (see eval_report_int.h).
 *
 * Numbers go through snprintf, which is locale-dependent; eval_report_html
 * switches its thread to the "C" locale around rendering, so a decimal point
 * is always ".". Nothing here prints a non-finite double: every writer checks
 * first and prints RPT_DASH.
 */
#include "trainer/eval_report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const json_t *rpt_get(const json_t *o, const char *k)
{
    return json_is_object(o) && k ? json_object_get(o, k) : NULL;
}

bool rpt_num(const json_t *v, double *out)
{
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!isfinite(d))
        return false;
    *out = d;
    return true;
}

bool rpt_num_at(const json_t *o, const char *k, double *out)
{
    return rpt_num(rpt_get(o, k), out);
}

const char *rpt_str_at(const json_t *o, const char *k)
{
    return json_string_value(rpt_get(o, k));
}

/* ---- escaping ---- */

void rpt_esc_n(buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
                rep = "\xef\xbf\xbd";
        }
        if (!rep)
            continue;
        buf_append(b, s + start, i - start);
        buf_append_str(b, rep);
        start = i + 1;
    }
    buf_append(b, s + start, n - start);
}

void rpt_esc(buf *b, const char *s)
{
    if (s)
        rpt_esc_n(b, s, strlen(s));
}

void rpt_text(buf *b, const json_t *v)
{
    double d;
    if (json_is_string(v))
        rpt_esc_n(b, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v))
        buf_printf(b, "%lld", (long long)json_integer_value(v));
    else if (rpt_num(v, &d))
        buf_printf(b, "%.6g", d);
    else if (json_is_boolean(v))
        buf_append_str(b, json_is_true(v) ? "true" : "false");
    else
        buf_append_str(b, RPT_DASH);
}

/* Bytes of the first max_chars UTF-8 characters of s (jansson strings are
 * valid UTF-8, so continuation bytes are exactly those of form 10xxxxxx). */
static size_t utf8_prefix(const char *s, size_t n, size_t max_chars)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && chars++ == max_chars)
            return i;
    }
    return n;
}

void rpt_text_short(buf *b, const json_t *v, size_t max_chars, bool *cut)
{
    *cut = false;
    if (!json_is_string(v)) {
        rpt_text(b, v);
        return;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), keep = utf8_prefix(s, n, max_chars);
    rpt_esc_n(b, s, keep);
    if (keep < n) {
        buf_append_str(b, RPT_ELLIPSIS);
        *cut = true;
    }
}

void rpt_group_name(buf *b, const json_t *g, size_t max_chars, bool *cut)
{
    const json_t *a = rpt_get(g, "attribute"), *v = rpt_get(g, "value");
    bool c1 = false, c2 = false;
    if (json_is_null(a) && json_is_null(v)) {
        buf_append_str(b, "Overall");
        *cut = false;
        return;
    }
    rpt_text_short(b, a, max_chars, &c1);
    buf_append_str(b, " = ");
    rpt_text_short(b, v, max_chars, &c2);
    *cut = c1 || c2;
}

/* ---- numbers ---- */

void rpt_fix(buf *b, double v, int decimals)
{
    if (!isfinite(v)) {
        buf_append_str(b, RPT_DASH);
        return;
    }
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    if (n <= 0 || (size_t)n >= sizeof tmp) {
        /* beyond 1e50 or so: a report cannot say anything useful either */
        n = snprintf(tmp, sizeof tmp, "%.3e", v);
    }
    const char *p = tmp;
    if (tmp[0] == '-' && strspn(tmp + 1, "0.") == strlen(tmp + 1))
        p++; /* "-0.00" */
    buf_append_str(b, p);
}

void rpt_num_fix(buf *b, const json_t *v, int decimals)
{
    double d;
    if (rpt_num(v, &d))
        rpt_fix(b, d, decimals);
    else
        buf_append_str(b, RPT_DASH);
}

void rpt_count(buf *b, const json_t *v)
{
    double d;
    if (json_is_integer(v))
        buf_printf(b, "%lld", (long long)json_integer_value(v));
    else if (rpt_num(v, &d) && d == floor(d) && fabs(d) < 1e15)
        buf_printf(b, "%.0f", d);
    else
        buf_append_str(b, RPT_DASH);
}

void rpt_signed(buf *b, const json_t *v, int decimals)
{
    double d;
    if (rpt_num(v, &d) && d > 0 && d * pow(10, decimals) >= 0.5)
        buf_putc(b, '+');
    rpt_num_fix(b, v, decimals);
}

void rpt_p_value(buf *b, const json_t *v)
{
    double d;
    if (rpt_num(v, &d) && d < 0.001)
        buf_append_str(b, "&lt; 0.001");
    else
        rpt_num_fix(b, v, 3);
}

void rpt_with_ci(buf *b, const json_t *v, const json_t *ci, int decimals)
{
    double lo, hi, d;
    rpt_num_fix(b, v, decimals);
    if (!rpt_num(v, &d) || !rpt_num_at(ci, "low", &lo) || !rpt_num_at(ci, "high", &hi))
        return;
    buf_append_str(b, " <span class=\"ci\">(");
    rpt_fix(b, lo, decimals);
    buf_append_str(b, RPT_NDASH);
    rpt_fix(b, hi, decimals);
    buf_append_str(b, ")</span>");
}

void rpt_coord(buf *b, double v)
{
    if (!isfinite(v))
        v = 0;
    v = v > 1e6 ? 1e6 : v < -1e6 ? -1e6 : v;
    rpt_fix(b, v, 1);
}
