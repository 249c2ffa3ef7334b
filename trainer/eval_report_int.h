/*
 * eval_report_int.h - what the report's three files share: tolerant JSON
 * accessors, HTML escaping and fixed number formatting (eval_report_fmt.c),
 * the inline SVG charts (eval_report_svg.c) and the page itself
 * (eval_report.c).
 *
 * The report reads a stored evaluation it did not compute and must render any
 * JSON object without crashing, so every accessor accepts NULL and a value of
 * the wrong type and answers "absent"; every writer prints an em dash for
 * what is absent, null or not finite, and never "nan" or "inf". All text from
 * the evaluation is user data and goes through rpt_esc*.
 */
#ifndef STRATA_TRAINER_EVAL_REPORT_INT_H
#define STRATA_TRAINER_EVAL_REPORT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "trainer/evaluate.h"

/* Display caps: they bound how much one chart tries to show, not what is
 * accepted (every group is still in the tables). */
/* Bars of one bar chart: beyond ~60 rows a chart is taller than a page. */
#define RPT_MAX_BARS 60u
/* Curves in one ROC panel or sweep panel: the palette has 7 distinguishable
 * colours and 6 dash patterns; more lines are a tangle nobody can read. */
#define RPT_MAX_CURVES 8u
/* Panels (attributes) of the ROC and threshold-sweep small multiples. */
#define RPT_MAX_PANELS 8u
/* Characters of a label drawn in a chart; the full text is its tooltip. */
#define RPT_LABEL_CHARS 28u
/* Group names listed inline in a sentence of the executive summary. */
#define RPT_MAX_LISTED 8u

#define RPT_DASH "\xe2\x80\x94"   /* em dash: a value that is absent */
#define RPT_NDASH "\xe2\x80\x93"  /* en dash: an interval's two ends */
#define RPT_ELLIPSIS "\xe2\x80\xa6"

/* ---- JSON, tolerant of absence and wrong types (eval_report_fmt.c) ---- */

/* o[k] when o is an object, else NULL. */
const json_t *rpt_get(const json_t *o, const char *k);
/* A finite number (integer or real) in *out; false otherwise. */
bool rpt_num(const json_t *v, double *out);
bool rpt_num_at(const json_t *o, const char *k, double *out);
/* The string o[k] (may contain no NUL: see rpt_esc_json), else NULL. */
const char *rpt_str_at(const json_t *o, const char *k);

/* ---- HTML text ---- */

/* Escape for text and attribute values: & < > " ' become entities; control
 * characters other than tab and newline (jansson allows "\u0000") become
 * U+FFFD so the page stays valid HTML. */
void rpt_esc_n(buf *b, const char *s, size_t n);
void rpt_esc(buf *b, const char *s);
/* Any JSON value as text: a string escaped, a number formatted, true/false,
 * and RPT_DASH for null, absent, objects and arrays. */
void rpt_text(buf *b, const json_t *v);
/* At most max_chars characters of a string value (cut on a UTF-8 boundary,
 * RPT_ELLIPSIS appended); *cut tells whether it was shortened. */
void rpt_text_short(buf *b, const json_t *v, size_t max_chars, bool *cut);
/* "attribute = value", the way the report names a group; the value of an
 * attribute-less row (overall) is the word "Overall". */
void rpt_group_name(buf *b, const json_t *g, size_t max_chars, bool *cut);

/* ---- numbers: fixed, "C" formatting (the caller holds the C locale) ---- */

/* v with `decimals` digits, "-0.00" printed as "0.00"; RPT_DASH when v is
 * not finite. */
void rpt_fix(buf *b, double v, int decimals);
/* The number v (JSON) with `decimals` digits, or RPT_DASH. */
void rpt_num_fix(buf *b, const json_t *v, int decimals);
/* A count: integers as such, integral reals without decimals, else RPT_DASH. */
void rpt_count(buf *b, const json_t *v);
/* A signed difference ("+0.12", "-0.05"). */
void rpt_signed(buf *b, const json_t *v, int decimals);
/* A p-value: "< 0.001" or three decimals. */
void rpt_p_value(buf *b, const json_t *v);
/* A value with its interval: "0.82 (0.79–0.85)"; the interval part only
 * when both ends are numbers. */
void rpt_with_ci(buf *b, const json_t *v, const json_t *ci, int decimals);
/* A number in SVG user units: one decimal, clamped to +-1e6. */
void rpt_coord(buf *b, double v);

/* ---- the page's shared state ---- */

typedef struct rpt {
    buf *b;
    const json_t *ev;      /* the stored evaluation */
    eval_task task;        /* from "task"; binary when absent or unknown */
    const json_t *groups;  /* ev.groups when an array, else NULL */
    long long min_group;   /* min_group_size, 30 when absent */
} rpt;

/* True for an attribute made of two or more others ("sex&race"): in the
 * listing, intersections come after every one-attribute group; the report
 * recognises them by the attribute echo in "group_by". */
bool rpt_is_intersection(const rpt *r, const json_t *g);

/* ---- charts (eval_report_svg.c); each writes one <figure> or nothing ---- */

void rpt_chart_selection_rate(rpt *r);
void rpt_chart_tpr_fpr(rpt *r);
/* One bar per group of `key` (regression "rmse", multiclass "accuracy"). */
void rpt_chart_group_metric(rpt *r, const char *id, const char *key, const char *what);
void rpt_chart_roc(rpt *r);
void rpt_chart_calibration(rpt *r);
void rpt_chart_sweep(rpt *r);

#endif
