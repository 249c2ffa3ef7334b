/* err.c - error propagation helpers. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"

int err_set(strata_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* Messages quote client bytes and truncation may cut a character: they
     * end up in JSON, so they must be UTF-8. */
    text_scrub_utf8(err->message);
    return code;
}

int err_prefix(strata_err *err, const char *fmt, ...)
{
    if (!err)
        return STRATA_INTERNAL;
    char prefix[STRATA_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[STRATA_ERR_MSG_MAX];
    memcpy(old, err->message, sizeof old);
    /* Truncation is fine: the message is for humans and stays NUL-terminated. */
    if (snprintf(err->message, sizeof err->message, "%s: %s", prefix, old) < 0)
        err->message[0] = '\0';
    text_scrub_utf8(err->message);
    return err->code;
}

void err_add_detail(strata_err *err, json_t *detail)
{
    if (!err) {
        json_decref(detail);
        return;
    }
    if (!err->details)
        err->details = json_array();
    json_array_append_new(err->details, detail);
}

void err_clear(strata_err *err)
{
    if (!err)
        return;
    json_decref(err->details);
    err->details = NULL;
    err->code = 0;
    err->message[0] = '\0';
}
