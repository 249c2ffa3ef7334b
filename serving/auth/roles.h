/*
 * roles.h - the four roles and what each may do.
 *
 * Every route declares one permission (serving/router.c); a role may use a
 * route when auth_role_may(role, perm). The matrix lives in roles.c as one
 * table, so docs/security.md and tests/unit/test_auth.c check against one place.
 * The zero permission, AUTH_PERM_UNDECLARED, is what a route that forgot to
 * declare gets: only admin may use it (fail closed) and the route-table test
 * fails.
 */
#ifndef STRATA_AUTH_ROLES_H
#define STRATA_AUTH_ROLES_H

#include <stdbool.h>

#include "base/buf.h"

typedef enum auth_role {
    AUTH_ROLE_ADMIN,
    AUTH_ROLE_WRITER,
    AUTH_ROLE_READER,
    AUTH_ROLE_AUDITOR,
    AUTH_NROLES,
} auth_role;

typedef enum auth_perm {
    AUTH_PERM_UNDECLARED = 0,   /* a route that declared nothing: admin only */
    AUTH_PERM_OPEN,             /* no token at all: /healthz */
    AUTH_PERM_OPS,              /* any valid token: /readyz, /metrics */
    AUTH_PERM_REGISTRY_READ,    /* entities, features, search, models (GET) */
    AUTH_PERM_REGISTRY_WRITE,   /* create/patch/delete entities and features, model aliases */
    AUTH_PERM_ONLINE_READ,      /* GET values, POST online:read */
    AUTH_PERM_VALUES_WRITE,     /* :write, :delete of values */
    AUTH_PERM_PREDICT,          /* POST models/{}:predict */
    AUTH_PERM_IMPORT,           /* POST /v1/imports */
    AUTH_PERM_SCHEDULE,         /* every /v1/schedules route, reads included */
    AUTH_PERM_EXPORT,           /* POST /v1/exports:* */
    AUTH_PERM_TRAIN,            /* POST /v1/trainings, /v1/predictions:batch */
    AUTH_PERM_JOB_READ,         /* GET /v1/jobs... */
    AUTH_PERM_JOB_CANCEL,       /* POST /v1/jobs/{}:cancel */
    AUTH_PERM_LINEAGE_READ,     /* GET lineage, ML metadata, provenance */
    AUTH_PERM_LINEAGE_WRITE,    /* POST/PATCH ML metadata (types, nodes, events) */
    AUTH_PERM_AUDIT,            /* GET /v1/audit, /v1/audit:verify */
    AUTH_PERM_EVALUATION_READ,  /* GET /v1/evaluations... */
    AUTH_PERM_EVALUATION_RUN,   /* POST /v1/evaluations */
    AUTH_PERM_ADMIN,            /* admin only, by declaration */
    AUTH_NPERMS,
} auth_perm;

/* "admin", "writer", "reader", "auditor"; "?" for anything else. Static. */
const char *auth_role_name(auth_role r);
/* 0 and *out, or -1 for a name that is not one of the four. */
int auth_role_parse(slice s, auth_role *out);
/* The permission's name for listings ("registry_read"); static. */
const char *auth_perm_name(auth_perm p);
/* Whether role r may use a route that declares p. Admin may use everything. */
bool auth_role_may(auth_role r, auth_perm p);
/* The roles that may use p, as a comma-separated list ("writer,reader,admin"
 * order fixed: admin first), appended to out; "none" for AUTH_PERM_OPEN. */
void auth_perm_roles(auth_perm p, buf *out);

#endif
