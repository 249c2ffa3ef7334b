/* jsoncheck.c - see jsoncheck.h. */
#include "base/jsoncheck.h"

#include <string.h>

#include "base/text.h"

int json_check_fields(const json_t *obj, const char *const *allowed, const char *where,
                      strata_err *err)
{
    const char *key;
    const json_t *v;
    json_object_foreach ((json_t *)obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            char ex[80];
            text_excerpt(slice_of(key), ex, sizeof ex);
            return err_set(err, STRATA_INVALID_ARGUMENT, "unknown field \"%s%s\"", where, ex);
        }
    }
    return 0;
}

int json_opt_text(const json_t *obj, const char *key, slice *out, strata_err *err)
{
    const json_t *v = json_object_get(obj, key);
    *out = (slice){NULL, 0};
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT, "field \"%s\" must be a non-empty string",
                       key);
    *out = (slice){json_string_value(v), json_string_length(v)};
    if (!text_valid_utf8(*out) || memchr(out->p, '\0', out->n))
        return err_set(err, STRATA_INVALID_ARGUMENT, "field \"%s\" must be UTF-8 text without NUL",
                       key);
    return 0;
}

void json_measure(slice text, json_shape *out)
{
    size_t values = 0, depth = 0, deepest = 0, i = 0;
    const char *t = text.p;
    while (i < text.n) {
        char c = t[i++];
        switch (c) {
        case '"':
            values++;
            while (i < text.n && t[i] != '"')
                i += t[i] == '\\' ? 2 : 1;
            i++; /* the closing quote (past the end when unterminated) */
            break;
        case '[':
        case '{':
            values++;
            if (++depth > deepest)
                deepest = depth;
            break;
        case ']':
        case '}':
            if (depth)
                depth--;
            break;
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case ',':
        case ':':
            break;
        default:
            /* A number or a literal: one value up to the next delimiter. */
            values++;
            while (i < text.n && !strchr(" \t\n\r,:[]{}\"", t[i]))
                i++;
            break;
        }
    }
    out->values = values;
    out->depth = deepest;
}
