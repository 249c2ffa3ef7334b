/*
 * gate.h - the daemon's live view of the token file: who a request's bearer
 * token names, and reloading the file when it changes.
 *
 * Without a token file the gate is open: every request is "anonymous" with
 * the admin role (the daemon binds to loopback by default). With one, a
 * request needs "Authorization: Bearer <token>" naming a listed token.
 *
 * Threads: auth_gate_check runs on every HTTP worker at once (a read lock
 * and one SHA-256, no syscall); auth_gate_reload runs on the main thread,
 * parses the new file outside the lock and swaps it in under the write lock.
 * A file that fails to load (malformed, bad permissions, gone) leaves the
 * previous tokens in force and is reported; the gate never falls back to open.
 */
#ifndef STRATA_AUTH_GATE_H
#define STRATA_AUTH_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "serving/auth/roles.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"

typedef struct auth_gate auth_gate;

typedef enum auth_result {
    AUTH_OK,
    AUTH_MISSING, /* no Authorization header, or not a Bearer one */
    AUTH_INVALID, /* a Bearer token that is not in the file */
} auth_result;

/* Failures by kind, for /metrics (counted since start). */
typedef struct auth_counts {
    uint64_t missing, invalid, forbidden;
    uint64_t reloads, reload_failures;
    uint64_t tokens; /* tokens in force now */
} auth_counts;

/* path NULL or "": the open gate. Otherwise the file must load (a missing file
 * is refused: create the first token with `strata token create admin`).
 * *out is released with auth_gate_close. */
int auth_gate_open(const char *path, auth_gate **out, strata_err *err);
void auth_gate_close(auth_gate *g); /* NULL ok */
/* Whether a token file is in force (false: open mode). NULL is open. */
bool auth_gate_enforcing(const auth_gate *g);

/*
 * Who sent the request: `authorization` is the raw header value. On AUTH_OK
 * the principal (token name, or "anonymous" when open) is copied to
 * principal and its role to *role. Counts missing/invalid failures.
 * A NULL gate is open.
 */
auth_result auth_gate_check(auth_gate *g, slice authorization,
                            char principal[LIMIT_NAME_MAX + 1], auth_role *role);
/* Count a 403 (the token was valid, its role may not). */
void auth_gate_count_forbidden(auth_gate *g);

/*
 * Reread the file: always when force (SIGHUP), else only when its stat
 * (inode, size, mtime, ctime) changed since the last load. Returns 1 when a
 * new set is in force, 0 when nothing changed, or a negative status with err
 * set when the file could not be loaded (the old set stays). No-op if open.
 */
int auth_gate_reload(auth_gate *g, bool force, strata_err *err);

void auth_gate_counts(auth_gate *g, auth_counts *out);

#endif
