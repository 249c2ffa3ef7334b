/*
 * roles.c - the role x permission matrix.
 *
 * The contract names four roles: admin (everything), writer (registry,
 * writes, imports, schedules, exports, training), reader (online reads,
 * registry reads, predict), auditor (read-only: registry, lineage, audit,
 * evaluations, jobs). Where it is silent this table decides, and
 * docs/security.md says why:
 *   - writer includes reader: a writer may read what it writes (online
 *     reads, predict);
 *   - writer records and reads lineage: pipelines that import and train are
 *     the ones recording their own steps, and every such write is audited
 *     with its principal;
 *   - auditors may run evaluations (issue 7: an auditor points Strata at a
 *     model and gets a report); writers may too, training evaluates;
 *   - jobs: every role reads them, writers cancel them;
 *   - schedules, reads included, belong to writers (they hold import specs);
 *   - the audit log is for auditors and admins only.
 */
#include "serving/auth/roles.h"

#include <string.h>

#define A (1u << AUTH_ROLE_ADMIN)
#define W (1u << AUTH_ROLE_WRITER)
#define R (1u << AUTH_ROLE_READER)
#define U (1u << AUTH_ROLE_AUDITOR)

static const struct {
    const char *name;
    unsigned roles; /* bit per auth_role */
} perms[AUTH_NPERMS] = {
    [AUTH_PERM_UNDECLARED] = {"undeclared", A},
    [AUTH_PERM_OPEN] = {"open", A | W | R | U},
    [AUTH_PERM_OPS] = {"ops", A | W | R | U},
    [AUTH_PERM_REGISTRY_READ] = {"registry_read", A | W | R | U},
    [AUTH_PERM_REGISTRY_WRITE] = {"registry_write", A | W},
    [AUTH_PERM_ONLINE_READ] = {"online_read", A | W | R},
    [AUTH_PERM_VALUES_WRITE] = {"values_write", A | W},
    [AUTH_PERM_PREDICT] = {"predict", A | W | R},
    [AUTH_PERM_IMPORT] = {"import", A | W},
    [AUTH_PERM_SCHEDULE] = {"schedule", A | W},
    [AUTH_PERM_EXPORT] = {"export", A | W},
    [AUTH_PERM_TRAIN] = {"train", A | W},
    [AUTH_PERM_JOB_READ] = {"job_read", A | W | R | U},
    [AUTH_PERM_JOB_CANCEL] = {"job_cancel", A | W},
    [AUTH_PERM_LINEAGE_READ] = {"lineage_read", A | W | U},
    [AUTH_PERM_LINEAGE_WRITE] = {"lineage_write", A | W},
    [AUTH_PERM_AUDIT] = {"audit", A | U},
    [AUTH_PERM_EVALUATION_READ] = {"evaluation_read", A | W | U},
    [AUTH_PERM_EVALUATION_RUN] = {"evaluation_run", A | W | U},
    [AUTH_PERM_ADMIN] = {"admin", A},
};

#undef A
#undef W
#undef R
#undef U

static const char *const role_names[AUTH_NROLES] = {"admin", "writer", "reader", "auditor"};

const char *auth_role_name(auth_role r)
{
    return (unsigned)r < AUTH_NROLES ? role_names[r] : "?";
}

int auth_role_parse(slice s, auth_role *out)
{
    for (int r = 0; r < AUTH_NROLES; r++)
        if (slice_eq_str(s, role_names[r])) {
            *out = (auth_role)r;
            return 0;
        }
    return -1;
}

const char *auth_perm_name(auth_perm p)
{
    return (unsigned)p < AUTH_NPERMS ? perms[p].name : "?";
}

bool auth_role_may(auth_role r, auth_perm p)
{
    if ((unsigned)r >= AUTH_NROLES || (unsigned)p >= AUTH_NPERMS)
        return false;
    return (perms[p].roles >> r) & 1u;
}

void auth_perm_roles(auth_perm p, buf *out)
{
    if (p == AUTH_PERM_OPEN) {
        buf_append_str(out, "none");
        return;
    }
    bool first = true;
    for (int r = 0; r < AUTH_NROLES; r++)
        if (auth_role_may((auth_role)r, p)) {
            if (!first)
                buf_putc(out, ',');
            buf_append_str(out, role_names[r]);
            first = false;
        }
}
