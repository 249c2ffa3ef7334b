/*
 * jsoncheck.h - shape checks on request JSON shared by every layer that takes
 * client-written objects (HTTP handlers, import/export/schedule specs).
 */
#ifndef STRATA_BASE_JSONCHECK_H
#define STRATA_BASE_JSONCHECK_H

#include <jansson.h>

#include "base/err.h"

/* INVALID_ARGUMENT `unknown field "<where><key>"` for the first member of obj
 * not in the NULL-terminated `allowed`; 0 when all are known. A typo such as
 * "ttl_second" would otherwise silently do nothing. */
int json_check_fields(const json_t *obj, const char *const *allowed, const char *where,
                      strata_err *err);

#endif
