/*
 * status.h - Strata's status codes.
 *
 * Every fallible function returns an int: 0 (STRATA_OK) on success or one of the
 * negative codes below. One X-macro table generates the enum, the symbolic names
 * used in JSON error bodies and the HTTP status each code maps to, so the three
 * can never drift apart.
 */
#ifndef STRATA_BASE_STATUS_H
#define STRATA_BASE_STATUS_H

/*      name                 value  api code               http  */
#define STRATA_STATUS_MAP(X)                                              \
    X(OK,                    0,     "OK",                  200)           \
    X(INVALID_ARGUMENT,     -1,     "INVALID_ARGUMENT",    400)           \
    X(UNAUTHENTICATED,      -2,     "UNAUTHENTICATED",     401)           \
    X(PERMISSION_DENIED,    -3,     "PERMISSION_DENIED",   403)           \
    X(NOT_FOUND,            -4,     "NOT_FOUND",           404)           \
    X(ALREADY_EXISTS,       -5,     "ALREADY_EXISTS",      409)           \
    X(FAILED_PRECONDITION,  -6,     "FAILED_PRECONDITION", 412)           \
    X(RESOURCE_EXHAUSTED,   -7,     "RESOURCE_EXHAUSTED",  413)           \
    X(INTERNAL,             -8,     "INTERNAL",            500)           \
    X(UNAVAILABLE,          -9,     "UNAVAILABLE",         503)           \
    X(NOMEM,                -10,    "INTERNAL",            500)           \
    X(IO,                   -11,    "INTERNAL",            500)           \
    X(CORRUPT,              -12,    "INTERNAL",            500)           \
    X(METHOD_NOT_ALLOWED,   -13,    "INVALID_ARGUMENT",    405)

enum strata_status {
#define STRATA_STATUS_ENUM(name, value, api, http) STRATA_##name = value,
    STRATA_STATUS_MAP(STRATA_STATUS_ENUM)
#undef STRATA_STATUS_ENUM
};

/* Short human name of a status ("not found"); static storage, never NULL. */
const char *strata_strerror(int status);
/* The contract's error code string ("NOT_FOUND"); static storage, never NULL. */
const char *strata_status_code(int status);
/* The HTTP status for a Strata status. */
int strata_status_http(int status);

#endif
