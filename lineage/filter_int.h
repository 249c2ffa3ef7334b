/*
 * filter_int.h - private to lineage/filter.c and its unit test: the filter
 * language's limits and a tree dump for tests.
 *
 * The limits belong with the others in base/limits.h once that header grows a
 * lineage section; they live here until then so filter.c stays self-contained.
 */
#ifndef STRATA_LINEAGE_FILTER_INT_H
#define STRATA_LINEAGE_FILTER_INT_H

#include "base/buf.h"
#include "lineage/filter.h"

/* A filter travels in a URL query string; 16 KiB is far beyond any hand-written
 * one and keeps the parse (and the tree, at most one node per input byte) small. */
#define LFILTER_MAX_TEXT (16u << 10)
/* Parentheses and NOTs recurse in the parser and the evaluator: 64 levels is
 * more than anyone writes and a few KiB of stack. */
#define LFILTER_MAX_DEPTH 64u
/* `id IN (…)` lists: 4096 five-digit ids would already pass the 16 KiB limit. */
#define LFILTER_MAX_IN 4096u
/* Distinct relation aliases (contexts_a, parent_contexts_b, …). Predicates that
 * tie aliases together are evaluated by enumerating combinations, n^aliases in
 * the worst case; MLMD's own examples use one or two. */
#define LFILTER_MAX_ALIASES 4u
/* Work one lfilter_eval may spend, in units of about a byte compared: a LIKE
 * step or an IN item is 1, a predicate evaluated or a context bound is
 * LFILTER_COST_PREDICATE (a JSON lookup and a compare). 2^24 is some tens of
 * milliseconds; only adversarial alias combinations or LIKE patterns against
 * megabyte strings reach it, and then the node does not match. */
#define LFILTER_EVAL_BUDGET (1u << 24)
#define LFILTER_COST_PREDICATE 16u

/* Append the parsed tree as an S-expression, e.g.
 * "(or (= name 'a') (and (> id 1) (like uri 's3://%')))". For tests. */
void lfilter_dump(const lfilter *f, buf *out);

#endif
