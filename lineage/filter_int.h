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
#include "base/limits.h"
#include "lineage/filter.h"

/* Append the parsed tree as an S-expression, e.g.
 * "(or (= name 'a') (and (> id 1) (like uri 's3://%')))". For tests. */
void lfilter_dump(const lfilter *f, buf *out);

#endif
