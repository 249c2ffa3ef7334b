/*
 * err.h - an error carried from where it happened up to the HTTP response.
 *
 * Functions that can fail take an optional `strata_err *` (NULL allowed) and
 * return the status they stored in it, so `return err_set(err, ...)` is the
 * idiom. `details` is an optional JSON array (e.g. one object per bad row) that
 * becomes the "details" of the contract's error body; err_clear() frees it.
 */
#ifndef STRATA_BASE_ERR_H
#define STRATA_BASE_ERR_H

#include <jansson.h>

#include "base/status.h"

#define STRATA_ERR_MSG_MAX 512

typedef struct strata_err {
    int code;                        /* STRATA_OK or a negative status */
    char message[STRATA_ERR_MSG_MAX];
    json_t *details;                 /* owned JSON array or NULL */
} strata_err;

#define STRATA_ERR_INIT {0, {0}, NULL}

/* Record code and a printf-style message; returns code. err may be NULL. */
int err_set(strata_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the existing message with "<prefix>: "; returns err->code. */
int err_prefix(strata_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append one detail object (reference stolen). */
void err_add_detail(strata_err *err, json_t *detail);
/* Free details and reset to OK. */
void err_clear(strata_err *err);

#endif
