/*
 * gate.c - bearer-token checks against the token set in force, and reloads.
 *
 * The set is immutable once loaded; a reload builds a new one and swaps the
 * pointer under the write lock, so a check sees one whole set. Checks copy
 * the principal's name out before unlocking: nothing a request keeps points
 * into a set that a reload may free.
 */
#include "serving/auth/gate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "serving/auth/tokens.h"

struct auth_gate {
    char *path; /* NULL: open */
    pthread_rwlock_t lock;
    auth_token_set *set; /* under lock */
    struct stat st;      /* of the file last loaded; main thread only */
    atomic_uint_fast64_t missing, invalid, forbidden, reloads, reload_failures;
};

int auth_gate_open(const char *path, auth_gate **out, strata_err *err)
{
    int rc = 0;
    auth_gate *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g)
        return err_set(err, STRATA_NOMEM, "out of memory");
    pthread_rwlock_init(&g->lock, NULL);
    if (path && *path) {
        g->path = strdup(path);
        if (!g->path) {
            rc = err_set(err, STRATA_NOMEM, "out of memory");
            goto out;
        }
        rc = auth_tokens_load(path, &g->set, &g->st, err);
        if (rc == STRATA_NOT_FOUND)
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                    "token file %s does not exist: create the first token with "
                         "`strata token create admin --token-file %s`",
                         path, path);
        if (rc)
            goto out;
    }
    *out = g;
    g = NULL;
out:
    auth_gate_close(g);
    return rc;
}

void auth_gate_close(auth_gate *g)
{
    if (!g)
        return;
    auth_tokens_free(g->set);
    pthread_rwlock_destroy(&g->lock);
    free(g->path);
    free(g);
}

bool auth_gate_enforcing(const auth_gate *g)
{
    return g && g->path;
}

/* The token of "Bearer <token>" (scheme case-insensitive, RFC 7235), or an empty slice. */
static slice bearer_token(slice h)
{
    size_t i = 0;
    while (i < h.n && h.p[i] == ' ')
        i++;
    if (h.n - i < 7 || strncasecmp(h.p + i, "bearer ", 7) != 0)
        return (slice){"", 0};
    i += 7;
    while (i < h.n && h.p[i] == ' ')
        i++;
    size_t end = h.n;
    while (end > i && (h.p[end - 1] == ' ' || h.p[end - 1] == '\t'))
        end--;
    return (slice){h.p + i, end - i};
}

auth_result auth_gate_check(auth_gate *g, slice authorization, char principal[LIMIT_NAME_MAX + 1],
                            auth_role *role)
{
    if (!auth_gate_enforcing(g)) {
        strcpy(principal, "anonymous");
        *role = AUTH_ROLE_ADMIN;
        return AUTH_OK;
    }
    principal[0] = '\0';
    slice tok = bearer_token(authorization);
    if (tok.n == 0) {
        atomic_fetch_add_explicit(&g->missing, 1, memory_order_relaxed);
        return AUTH_MISSING;
    }
    auth_result r = AUTH_INVALID;
    pthread_rwlock_rdlock(&g->lock);
    const auth_token_entry *e = auth_tokens_match(g->set, tok);
    if (e) {
        memcpy(principal, e->name, sizeof e->name);
        *role = e->role;
        r = AUTH_OK;
    }
    pthread_rwlock_unlock(&g->lock);
    if (r != AUTH_OK)
        atomic_fetch_add_explicit(&g->invalid, 1, memory_order_relaxed);
    return r;
}

void auth_gate_count_forbidden(auth_gate *g)
{
    if (g)
        atomic_fetch_add_explicit(&g->forbidden, 1, memory_order_relaxed);
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mode == b->st_mode && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int auth_gate_reload(auth_gate *g, bool force, strata_err *err)
{
    if (!auth_gate_enforcing(g))
        return 0;
    struct stat now;
    if (!force && stat(g->path, &now) == 0 && same_file_state(&now, &g->st))
        return 0;
    auth_token_set *fresh = NULL;
    struct stat st;
    int rc = auth_tokens_load(g->path, &fresh, &st, err);
    if (rc) {
        atomic_fetch_add_explicit(&g->reload_failures, 1, memory_order_relaxed);
        /* Report each broken state once, not every second: remember it. */
        if (stat(g->path, &now) == 0)
            g->st = now;
        else
            memset(&g->st, 0, sizeof g->st);
        return rc;
    }
    pthread_rwlock_wrlock(&g->lock);
    auth_token_set *old = g->set;
    g->set = fresh;
    pthread_rwlock_unlock(&g->lock);
    g->st = st;
    auth_tokens_free(old);
    atomic_fetch_add_explicit(&g->reloads, 1, memory_order_relaxed);
    return 1;
}

void auth_gate_counts(auth_gate *g, auth_counts *out)
{
    memset(out, 0, sizeof *out);
    if (!g)
        return;
    out->missing = atomic_load_explicit(&g->missing, memory_order_relaxed);
    out->invalid = atomic_load_explicit(&g->invalid, memory_order_relaxed);
    out->forbidden = atomic_load_explicit(&g->forbidden, memory_order_relaxed);
    out->reloads = atomic_load_explicit(&g->reloads, memory_order_relaxed);
    out->reload_failures = atomic_load_explicit(&g->reload_failures, memory_order_relaxed);
    pthread_rwlock_rdlock(&g->lock);
    out->tokens = g->set ? g->set->n : 0;
    pthread_rwlock_unlock(&g->lock);
}
