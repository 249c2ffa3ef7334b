/*
 * filter.h - ML Metadata's filter query language for list and lineage queries.
 *
 *   type = 'Dataset' AND properties.rows.int_value > 1000
 *   name LIKE 'model_%' OR NOT (state = 'LIVE')
 *   contexts_a.name = 'run_42' AND uri IS NOT NULL
 *   id IN (1, 2, 3)
 *
 * Grammar (keywords case-insensitive, strings in single or double quotes):
 *   expr    := or
 *   or      := and ("OR" and)*
 *   and     := unary ("AND" unary)*
 *   unary   := "NOT" unary | "(" expr ")" | pred
 *   pred    := field op literal | field ["NOT"] "IN" "(" literal ("," literal)* ")"
 *            | field ["NOT"] "LIKE" string | field "IS" ["NOT"] "NULL"
 *   op      := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
 *   field   := id | name | uri | type | state | external_id | create_time | update_time
 *            | create_time_since_epoch | last_update_time_since_epoch
 *            | properties.<p>.<int_value|double_value|string_value|bool_value>
 *            | custom_properties.<p>.<…same…>
 *            | contexts_<alias>.<id|name|type|uri|…>   (the node's contexts)
 *            | parent_contexts_<alias>.<…> | child_contexts_<alias>.<…> (contexts only)
 *   literal := integer | decimal | string | TRUE | FALSE
 * Times compare with RFC 3339 strings or integer milliseconds since the epoch
 * (ML Metadata's *_since_epoch unit). LIKE takes '%' and '_' wildcards.
 * A predicate on a missing value is false (IS NULL true); `contexts_a.x = v`
 * holds when any of the node's contexts satisfies it; predicates naming the
 * same alias must hold for the same context (MLMD's join semantics).
 */
#ifndef STRATA_LINEAGE_FILTER_H
#define STRATA_LINEAGE_FILTER_H

#include <stdbool.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct lfilter lfilter;

/* Parse; INVALID_ARGUMENT with a message naming the byte position of the error
 * ("filter: expected a value after '=' at position 17"). Caller frees. */
int lfilter_parse(slice text, lfilter **out, strata_err *err);
void lfilter_free(lfilter *f); /* NULL ok */

/* Which related node sets the filter mentions (so callers load only those). */
bool lfilter_uses_contexts(const lfilter *f);
bool lfilter_uses_parent_contexts(const lfilter *f);
bool lfilter_uses_child_contexts(const lfilter *f);

/*
 * The node under test and its relations, all in the API's JSON shape (a node
 * object: id, type, name, uri, state, external_id, properties,
 * custom_properties, create_time, update_time as RFC 3339). The relation
 * arrays are JSON arrays of context objects in the same shape; NULL when the
 * filter does not use them.
 */
typedef struct lfilter_env {
    const json_t *node;
    const json_t *contexts;
    const json_t *parent_contexts;
    const json_t *child_contexts;
} lfilter_env;

bool lfilter_eval(const lfilter *f, const lfilter_env *env);

#endif
