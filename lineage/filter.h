/*
 * filter.h - ML Metadata's filter query language for list and lineage queries.
 *
 *   type = 'Dataset' AND properties.rows.int_value > 1000
 *   name LIKE 'model_%' OR NOT (state = 'LIVE')
 *   contexts_a.name = 'run_42' AND uri IS NOT NULL
 *   id IN (1, 2, 3)
 *
 * Grammar (keywords case-insensitive, field names case-sensitive):
 *   expr    := or
 *   or      := and ("OR" and)*
 *   and     := unary ("AND" unary)*
 *   unary   := "NOT" unary | "(" expr ")" | pred
 *   pred    := field op literal | field ["NOT"] "IN" "(" literal ("," literal)* ")"
 *            | field ["NOT"] "LIKE" string | field "IS" ["NOT"] "NULL"
 *   op      := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
 *   field   := attr
 *            | properties.<p>.<int_value|double_value|string_value|bool_value>
 *            | custom_properties.<p>.<…same…>
 *            | contexts_<alias>.<attr>          (the node's contexts)
 *            | parent_contexts_<alias>.<attr> | child_contexts_<alias>.<attr> (contexts only)
 *   attr    := id | name | uri | type | state | last_known_state | external_id
 *            | create_time | update_time | create_time_since_epoch
 *            | last_update_time_since_epoch
 *   literal := integer | decimal | string | TRUE | FALSE | state name (state = LIVE)
 * <p> is [A-Za-z0-9_]+ or backquoted with \` and \\ escapes (properties.`my p`.int_value);
 * <alias> is [A-Za-z0-9_]+. Strings take single or double quotes and the escapes
 * \' \" \\ \n \t \r; \% and \_ are kept as written, so LIKE sees a literal '%'
 * or '_' (MySQL's rule). Integers are int64 (overflow is an error); decimals
 * (1.5, 2e3) are finite doubles.
 *
 * Types are checked at parse time; a literal of the wrong type is an error.
 * id and int_value take numbers, compared exactly (42 = 42.0); double_value
 * numbers; name, uri, type, state, external_id and string_value strings;
 * bool_value TRUE/FALSE. create_time (= create_time_since_epoch) and
 * update_time (= last_update_time_since_epoch) take an RFC 3339 string,
 * compared to the microsecond, or integer milliseconds since the epoch (ML
 * Metadata's unit), compared with the node's time truncated to milliseconds.
 * state (= last_known_state) also takes MLMD's unquoted enum names, which must
 * be one of the contract's states; a quoted state is any string. Strings
 * compare as bytes (memcmp order). LIKE is case-sensitive: '%' matches any
 * run, '_' one UTF-8 character.
 *
 * NULL: a field or property that is absent, JSON null, or of another JSON type
 * than its accessor wants (int_value of a string property; an INT property is
 * a JSON integer, a DOUBLE one any number) is NULL. As in SQL, a comparison,
 * IN or LIKE on NULL is UNKNOWN: it does not match and neither does its NOT
 * (`NOT uri = 'x'` skips nodes without a uri); AND, OR and NOT follow SQL's
 * three-valued logic, and only IS [NOT] NULL tests for NULL.
 *
 * Relations follow MLMD's joins: each alias stands for one context of its
 * relation (contexts_a and parent_contexts_a are different aliases), and the
 * filter holds when some choice of one context per alias makes the whole
 * expression TRUE. So `contexts_a.name = 'x' AND contexts_a.type = 'T'` needs
 * one context with both, `contexts_a.name = 'x' AND contexts_b.type = 'T'` may
 * use two, and `NOT contexts_a.name = 'x'` holds when some context is not x.
 * An empty relation offers one context whose fields are all NULL (a LEFT
 * JOIN, where MLMD's inner join would drop the node): `contexts_a.id IS NULL`
 * finds nodes in no context and `name = 'm' OR contexts_a.name = 'x'` still
 * matches m when it has none.
 *
 * Limits (lineage/filter_int.h): 16 KiB of text, 64 levels of parentheses and
 * NOT, 4096 values per IN list, 4 aliases.
 */
#ifndef STRATA_LINEAGE_FILTER_H
#define STRATA_LINEAGE_FILTER_H

#include <stdbool.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct lfilter lfilter;

/* Parse; INVALID_ARGUMENT with a message naming the 0-based byte position of
 * the error and what was expected ("filter: expected a value after '=' at
 * position 17"). An empty filter is an error. Caller frees; the parsed filter
 * does not refer to text and is immutable, so threads may share it. */
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
 * filter does not use them (a NULL relation is read as an empty one).
 * Borrowed for the duration of lfilter_eval.
 */
typedef struct lfilter_env {
    const json_t *node;
    const json_t *contexts;
    const json_t *parent_contexts;
    const json_t *child_contexts;
} lfilter_env;

/* True when the filter holds for env. Work is bounded (LFILTER_EVAL_BUDGET):
 * only adversarial alias combinations or LIKE patterns over megabyte strings
 * reach the bound, and then the node does not match and a warning is logged.
 * False for a NULL filter or env. */
bool lfilter_eval(const lfilter *f, const lfilter_env *env);

#endif
