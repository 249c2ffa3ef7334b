/*
 * cells.c - typed parsing of import cells, timestamps and type inference
 * (rules in cells.h). Numbers are parsed with checked helpers that reject
 * junk, overflow and non-finite values; nothing is trimmed.
 */
#include "ingest/cells.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/jsonw.h"
#include "base/limits.h"
#include "base/text.h"
#include "base/timeutil.h"

static void excerpt(slice s, char *out, size_t cap)
{
    text_excerpt(s, out, cap);
}

/* true/false in any case, or 1/0. */
static int parse_bool_ci(slice s, bool *out, bool digits)
{
    if ((s.n == 4 && strncasecmp(s.p, "true", 4) == 0) || (digits && slice_eq_str(s, "1"))) {
        *out = true;
        return 0;
    }
    if ((s.n == 5 && strncasecmp(s.p, "false", 5) == 0) || (digits && slice_eq_str(s, "0"))) {
        *out = false;
        return 0;
    }
    return -1;
}

/* Clinger's fast path: [+-]digits[.digits][e[+-]digits] with at most 15
 * significant digits, whose decimal exponent is within 10^+-22. The digits
 * and the power of ten are then exact doubles and one IEEE multiplication or
 * division rounds them correctly, to strtod's answer. Most numbers in files
 * ("0.001003", "79.19") are such; anything else returns false for strtod. */
static bool fast_double(slice s, double *out)
{
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
    /* Exact only where a double operation rounds once (not on x87). */
    (void)s;
    (void)out;
    return false;
#endif
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0, n = s.n;
    bool neg = false;
    if (i < n && (s.p[i] == '+' || s.p[i] == '-'))
        neg = s.p[i++] == '-';
    uint64_t m = 0;
    int sig = 0, e10 = 0, digits = 0;
    for (; i < n && s.p[i] >= '0' && s.p[i] <= '9'; i++, digits++) {
        if (m || s.p[i] != '0')
            sig++;
        m = m * 10 + (uint64_t)(s.p[i] - '0');
        if (sig > 15)
            return false;
    }
    if (i < n && s.p[i] == '.') {
        for (i++; i < n && s.p[i] >= '0' && s.p[i] <= '9'; i++, digits++, e10--) {
            if (m || s.p[i] != '0')
                sig++;
            m = m * 10 + (uint64_t)(s.p[i] - '0');
            if (sig > 15)
                return false;
        }
    }
    if (!digits)
        return false;
    if (i < n && (s.p[i] == 'e' || s.p[i] == 'E')) {
        bool eneg = false;
        int x = 0, xd = 0;
        if (++i < n && (s.p[i] == '+' || s.p[i] == '-'))
            eneg = s.p[i++] == '-';
        for (; i < n && s.p[i] >= '0' && s.p[i] <= '9' && xd < 4; i++, xd++)
            x = x * 10 + (s.p[i] - '0');
        if (!xd)
            return false;
        e10 += eneg ? -x : x;
    }
    if (i != n || e10 < -22 || e10 > 22)
        return false;
    double d = (double)m;
    d = e10 < 0 ? d / pow10[-e10] : d * pow10[e10];
    *out = neg ? -d : d;
    return true;
}

/* A finite decimal number, the whole text. */
static int parse_double(slice s, double *out)
{
    char tmp[CELL_NUMBER_MAX];
    bool digit = false;
    if (s.n == 0 || s.n >= sizeof tmp)
        return -1;
    if (fast_double(s, out))
        return 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c >= '0' && c <= '9')
            digit = true;
        else if (c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E')
            return -1;
    }
    if (!digit)
        return -1;
    memcpy(tmp, s.p, s.n);
    tmp[s.n] = '\0';
    char *end = NULL;
    double d = strtod(tmp, &end);
    if (end != tmp + s.n || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

/* An integer, or an integral decimal ("3.0", "1e3") below 2^53 in magnitude,
 * the rule of the write API (store/value.c): beyond, a decimal read as a
 * double may not be the integer written (9007199254740993.0 is ...992). */
static int parse_int64(slice s, int64_t *out)
{
    if (text_parse_i64(s, out) == 0)
        return 0;
    double d;
    if (parse_double(s, &d) || d != trunc(d) ||
        !(d > -9007199254740992.0 && d < 9007199254740992.0))
        return -1;
    *out = (int64_t)d;
    return 0;
}

/* "expected <what> (<type>), got "<excerpt>"" (only on the error path). */
static int cell_fail(char *why, const char *what, slice cell, const char *type)
{
    char ex[72];
    excerpt(cell, ex, sizeof ex);
    snprintf(why, CELL_WHY_MAX, "expected %s (%s), got \"%s\"", what, type, ex);
    return -1;
}

int cell_encode_text(value_type t, slice cell, buf *out, char why[CELL_WHY_MAX])
{
    switch (t) {
    case VT_BOOL: {
        bool b;
        if (parse_bool_ci(cell, &b, true))
            return cell_fail(why, "true/false or 1/0", cell, "BOOL");
        value_encode_bool(out, b);
        return 0;
    }
    case VT_INT64: {
        int64_t v;
        if (parse_int64(cell, &v))
            return cell_fail(why, "an integer within int64", cell, "INT64");
        value_encode_int64(out, v);
        return 0;
    }
    case VT_DOUBLE: {
        double d;
        if (parse_double(cell, &d))
            return cell_fail(why, "a finite decimal number", cell, "DOUBLE");
        value_encode_double(out, d);
        return 0;
    }
    case VT_STRING:
        if (!text_valid_utf8(cell)) {
            snprintf(why, CELL_WHY_MAX, "STRING value is not valid UTF-8");
            return -1;
        }
        if (cell.n > LIMIT_VALUE_BYTES) {
            snprintf(why, CELL_WHY_MAX, "value of %zu bytes exceeds the limit of %u bytes", cell.n,
                     LIMIT_VALUE_BYTES);
            return -1;
        }
        value_encode_bytes(out, VT_STRING, cell);
        return 0;
    case VT_BYTES: {
        buf raw = BUF_INIT;
        int rc = 0;
        if (base64_decode(cell, &raw)) {
            rc = cell_fail(why, "standard padded base64", cell, "BYTES");
        } else if (raw.n > LIMIT_VALUE_BYTES) {
            snprintf(why, CELL_WHY_MAX, "value of %zu bytes exceeds the limit of %u bytes", raw.n,
                     LIMIT_VALUE_BYTES);
            rc = -1;
        } else {
            value_encode_bytes(out, VT_BYTES, buf_slice(&raw));
        }
        buf_free(&raw);
        return rc;
    }
    case VT_INT64_ARRAY:
    case VT_DOUBLE_ARRAY:
    case VT_STRING_ARRAY: {
        json_error_t je;
        json_t *j = json_loadb(cell.p, cell.n, 0, &je);
        strata_err e = STRATA_ERR_INIT;
        int rc = 0;
        if (!json_is_array(j)) {
            rc = cell_fail(why, "a JSON array", cell, value_type_name(t));
        } else if (value_encode_json(t, j, out, &e)) {
            snprintf(why, CELL_WHY_MAX, "%.200s", e.message);
            rc = -1;
        }
        json_decref(j);
        err_clear(&e);
        return rc;
    }
    case VT_NULL:
        break;
    }
    snprintf(why, CELL_WHY_MAX, "feature type %d cannot be imported", (int)t);
    return -1;
}

/* ---- timestamps ------------------------------------------------------------ */

static const char *const unit_names[] = {"rfc3339", "seconds", "millis", "micros"};
static const int64_t unit_us[] = {0, 1000000, 1000, 1};

int time_unit_parse(slice s, time_unit *out)
{
    for (int i = 0; i < 4; i++)
        if (slice_eq_str(s, unit_names[i])) {
            *out = (time_unit)i;
            return 0;
        }
    return -1;
}

const char *time_unit_name(time_unit u)
{
    return (unsigned)u < 4 ? unit_names[u] : "?";
}

static int time_range(int64_t us)
{
    return us >= TIME_MIN_US && us <= TIME_MAX_US ? 0 : -1;
}

/* [-]digits[.digits] of a unit worth mult microseconds; fractions beyond the
 * microsecond are dropped. */
static int parse_epoch(slice s, int64_t mult, int64_t *us)
{
    size_t i = 0;
    bool neg = false;
    if (i < s.n && s.p[i] == '-') {
        neg = true;
        i++;
    }
    uint64_t ip = 0;
    size_t d0 = i;
    /* Bound the integer part so ip * mult cannot overflow before the range check. */
    uint64_t cap = (uint64_t)INT64_MAX / (uint64_t)mult;
    for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
        ip = ip * 10 + (uint64_t)(s.p[i] - '0');
        if (ip > cap)
            return -1;
    }
    if (i == d0)
        return -1;
    uint64_t frac = 0;
    if (i < s.n && s.p[i] == '.') {
        if (mult == 1)
            return -1; /* micros are whole numbers */
        i++;
        size_t f0 = i;
        int64_t scale = mult;
        for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(s.p[i] - '0') * (uint64_t)scale;
            }
        }
        if (i == f0)
            return -1;
    }
    if (i != s.n)
        return -1;
    uint64_t mag = ip * (uint64_t)mult + frac;
    if (mag > (uint64_t)INT64_MAX)
        return -1;
    *us = neg ? -(int64_t)mag : (int64_t)mag;
    return time_range(*us);
}

int cell_parse_time(slice cell, time_unit u, int64_t *us, char why[CELL_WHY_MAX])
{
    char ex[72];
    if (u == TIME_UNIT_RFC3339) {
        if (time_parse_rfc3339(cell, us) == 0)
            return 0;
        excerpt(cell, ex, sizeof ex);
        snprintf(why, CELL_WHY_MAX,
                 "expected an RFC 3339 timestamp such as 2024-01-02T03:04:05Z, got \"%s\"", ex);
        return -1;
    }
    if (parse_epoch(cell, unit_us[u], us) == 0)
        return 0;
    excerpt(cell, ex, sizeof ex);
    snprintf(why, CELL_WHY_MAX,
             "expected %s since the epoch (time_unit %s) within years 1..9999, got \"%s\"",
             u == TIME_UNIT_MICROS   ? "a whole number of microseconds"
             : u == TIME_UNIT_MILLIS ? "a number of milliseconds"
                                     : "a number of seconds",
             unit_names[u], ex);
    return -1;
}

int cell_json_id(const json_t *v, char *tmp, size_t cap, slice *out)
{
    if (json_is_string(v)) {
        *out = (slice){json_string_value(v), json_string_length(v)};
        return 0;
    }
    if (json_is_integer(v)) {
        int n = snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = (slice){tmp, (size_t)n};
        return 0;
    }
    return -1;
}

int json_parse_time(const json_t *v, time_unit u, int64_t *us, char why[CELL_WHY_MAX])
{
    if (json_is_string(v))
        return cell_parse_time((slice){json_string_value(v), json_string_length(v)}, u, us, why);
    if (u != TIME_UNIT_RFC3339 && json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        int64_t m = unit_us[u];
        if (i >= -(INT64_MAX / m) && i <= INT64_MAX / m && time_range(i * m) == 0) {
            *us = i * m;
            return 0;
        }
    } else if (u != TIME_UNIT_RFC3339 && json_is_real(v)) {
        double d = json_real_value(v) * (double)unit_us[u];
        if (isfinite(d) && d >= (double)TIME_MIN_US && d <= (double)TIME_MAX_US) {
            *us = (int64_t)llround(d);
            return 0;
        }
    }
    if (u == TIME_UNIT_RFC3339)
        snprintf(why, CELL_WHY_MAX,
                 "expected an RFC 3339 timestamp string such as \"2024-01-02T03:04:05Z\"");
    else
        snprintf(why, CELL_WHY_MAX,
                 "expected a number of %s since the epoch within years 1..9999 (time_unit %s)",
                 u == TIME_UNIT_SECONDS  ? "seconds"
                 : u == TIME_UNIT_MILLIS ? "milliseconds"
                                         : "microseconds",
                 unit_names[u]);
    return -1;
}

/* ---- inference -------------------------------------------------------------- */

void infer_init(infer_state *s, bool json)
{
    memset(s, 0, sizeof *s);
    s->json = json;
    s->all_int = s->all_num = s->all_bool = s->all_str = true;
    s->all_arr_int = s->all_arr_num = s->all_arr_str = true;
}

static void not_array(infer_state *s)
{
    s->all_arr_int = s->all_arr_num = s->all_arr_str = false;
}

static void classify_array(infer_state *s, const json_t *a)
{
    size_t i;
    const json_t *e;
    json_array_foreach (a, i, e) {
        s->any_elem = true;
        if (!json_is_integer(e))
            s->all_arr_int = false;
        if (!json_is_number(e))
            s->all_arr_num = false;
        if (!json_is_string(e))
            s->all_arr_str = false;
    }
}

void infer_text(infer_state *s, slice cell)
{
    int64_t i;
    double d;
    bool b;
    s->n++;
    /* "3.0" is written by float columns: only plain integers make INT64. */
    bool is_int = text_parse_i64(cell, &i) == 0;
    if (!is_int)
        s->all_int = false;
    if (!is_int && parse_double(cell, &d))
        s->all_num = false;
    if (parse_bool_ci(cell, &b, false))
        s->all_bool = false;
    json_t *j = NULL;
    if (cell.n && cell.p[0] == '[')
        j = json_loadb(cell.p, cell.n, 0, NULL);
    if (json_is_array(j))
        classify_array(s, j);
    else
        not_array(s);
    json_decref(j);
}

void infer_json(infer_state *s, const json_t *v)
{
    if (!v || json_is_null(v))
        return;
    s->n++;
    if (!json_is_integer(v))
        s->all_int = false;
    if (!json_is_number(v))
        s->all_num = false;
    if (!json_is_boolean(v))
        s->all_bool = false;
    if (!json_is_string(v))
        s->all_str = false;
    if (json_is_array(v))
        classify_array(s, v);
    else
        not_array(s);
}

int infer_result(const infer_state *s, value_type *out, char why[CELL_WHY_MAX])
{
    if (s->n == 0)
        *out = VT_STRING;
    else if (s->all_int)
        *out = VT_INT64;
    else if (s->all_num)
        *out = VT_DOUBLE;
    else if (s->all_bool)
        *out = VT_BOOL;
    else if (s->all_arr_int && s->any_elem)
        *out = VT_INT64_ARRAY;
    else if (s->all_arr_num)
        *out = VT_DOUBLE_ARRAY;
    else if (s->all_arr_str)
        *out = VT_STRING_ARRAY;
    else if (!s->json || s->all_str)
        *out = VT_STRING;
    else {
        snprintf(why, CELL_WHY_MAX,
                 "the sampled values mix JSON kinds (numbers, strings, booleans, arrays or "
                 "objects); create the feature with its type first");
        return -1;
    }
    return 0;
}
