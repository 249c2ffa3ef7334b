/*
 * eval_report.c - a stored evaluation as one self-contained, printable HTML
 * page (eval_report_html in trainer/evaluate.h; docs/evaluation.md "Report").
 *
 * The page is for an auditor to hand to a regulator: header (what was
 * evaluated, when, by which id), an executive summary in words, overall
 * metrics, the per-group table with intervals and flags in words, the
 * significance tests, disparities with their charts, ROC curves, calibration,
 * the threshold sweep, the equalizing thresholds and one-line definitions.
 *
 * Invariants:
 *   - no script and no external asset: CSS in one <style>, charts inline SVG,
 *     and a Content-Security-Policy <meta> (default-src 'none') so a browser
 *     refuses anything else even if a string slipped through unescaped;
 *   - every string from the evaluation is escaped (rpt_esc*): names of
 *     attributes, groups, models and files are user data;
 *   - any JSON object renders: absent, null and wrongly typed fields become
 *     an em dash, and a section with nothing to show says so in one line;
 *   - numbers are printed in the C locale (the thread's locale is switched
 *     around rendering with uselocale), never as "nan" or "inf";
 *   - output depends only on the evaluation (no clock, no randomness), so the
 *     same evaluation always renders the same bytes.
 * The report computes nothing the evaluation does not hold, apart from
 * picking the highest and lowest group of a rate to name them in words.
 */
#include "trainer/eval_report_int.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

/* ---- page frame ---- */

static const char CSS[] =
    ":root{color-scheme:light}"
    "body{font:9.5pt/1.4 \"DejaVu Sans\",\"Liberation Sans\",Arial,sans-serif;color:#111;"
    "background:#fff;margin:0 auto;max-width:196mm;padding:8mm}"
    "h1{font-size:16pt;margin:0 0 1mm}"
    "h2{font-size:12.5pt;margin:7mm 0 2mm;padding-bottom:0.5mm;border-bottom:1.5px solid #222;"
    "break-after:avoid}"
    "h3{font-size:10.5pt;margin:4mm 0 1mm;break-after:avoid}"
    "p,ul{margin:1.2mm 0}ul{padding-left:5mm}li{margin:0.6mm 0}"
    "table{border-collapse:collapse;margin:1.5mm 0 2.5mm;font-size:8pt}"
    "th,td{border:1px solid #9a9a9a;padding:1px 3.5px;text-align:left;vertical-align:top}"
    "tbody th,tbody td{overflow-wrap:anywhere}"
    "thead th{border-bottom:2px solid #222;vertical-align:bottom}"
    "thead{display:table-header-group}tr{break-inside:avoid}"
    ".n{text-align:right;font-variant-numeric:tabular-nums}td.n{white-space:nowrap}"
    ".ci{display:block;color:#444;font-size:90%}"
    "tr.attr th{border-top:2px solid #222;font-size:8.5pt}"
    "#table-groups{width:100%}#table-groups tbody th{min-width:14mm}"
    "td.notes{font-size:7.5pt;min-width:34mm}.ref{display:block;font-size:85%;font-weight:normal;"
    "white-space:nowrap}"
    "td.notes span{display:block}"
    ".meta{font-size:9pt}.meta th,.meta td{border:none;padding:0 3mm 0.3mm 0}"
    ".meta th{font-weight:normal;color:#333;white-space:nowrap}"
    ".verdict{font-weight:bold;border:1.5px solid #111;padding:0 1.5mm}"
    ".muted{color:#444;font-size:8.5pt}"
    ".nobreak{break-inside:avoid}"
    ".side{display:flex;gap:6mm;flex-wrap:wrap;align-items:flex-start}.side figure{width:96mm}"
    "figure{margin:2mm 0 3mm;break-inside:avoid}"
    "figcaption{font-size:8pt;color:#333;max-width:170mm}"
    "svg{display:block;max-width:100%;height:auto}"
    "svg text{font-family:\"DejaVu Sans\",\"Liberation Sans\",Arial,sans-serif}"
    "dl{font-size:8.5pt;margin:1mm 0}dt{font-weight:bold;float:left;clear:left;width:44mm}"
    "dd{margin:0 0 0.8mm 46mm}"
    "footer{margin-top:6mm;font-size:8pt;color:#444;border-top:1px solid #999}"
    "@page{margin:12mm}"
    "@media print{body{max-width:none;padding:0}h2{break-after:avoid}"
    "figure,table.keep,.nobreak{break-inside:avoid}}";

static void page_open(rpt *r)
{
    buf *b = r->b;
    buf_append_str(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta http-equiv=\"Content-Security-Policy\" content=\"" EVAL_REPORT_CSP
                      "\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<title>Evaluation report ");
    rpt_text(b, rpt_get(r->ev, "id"));
    buf_append_str(b, "</title>\n<style>");
    buf_append_str(b, CSS);
    buf_append_str(b, "</style>\n</head>\n<body>\n");
}

static void page_close(rpt *r)
{
    buf_append_str(r->b, "<footer><p>Rendered by Strata from the stored evaluation ");
    rpt_text(r->b, rpt_get(r->ev, "id"));
    buf_append_str(r->b, ". Every figure on this page comes from that evaluation; the page "
                         "itself computes nothing.</p></footer>\n</body>\n</html>\n");
}

/* ---- small table helpers ---- */

static void cell_num(buf *b, const json_t *v, int decimals)
{
    buf_append_str(b, "<td class=\"n\">");
    rpt_num_fix(b, v, decimals);
    buf_append_str(b, "</td>");
}

static void cell_count(buf *b, const json_t *v)
{
    buf_append_str(b, "<td class=\"n\">");
    rpt_count(b, v);
    buf_append_str(b, "</td>");
}

static void cell_ci(buf *b, const json_t *g, const char *rate)
{
    buf_append_str(b, "<td class=\"n\">");
    rpt_with_ci(b, rpt_get(g, rate), rpt_get(rpt_get(g, "ci"), rate), 2);
    buf_append_str(b, "</td>");
}

/* <thead> from a list of labels; a label starting with '#' is numeric. */
static void table_head(buf *b, const char *id, const char *const *cols, size_t n)
{
    buf_printf(b, "<table id=\"%s\">\n<thead><tr>", id);
    for (size_t i = 0; i < n; i++) {
        bool num = cols[i][0] == '#';
        buf_printf(b, "<th%s>%s</th>", num ? " class=\"n\"" : "", cols[i] + num);
    }
    buf_append_str(b, "</tr></thead>\n");
}

static void meta_row(buf *b, const char *label)
{
    buf_printf(b, "<tr><th scope=\"row\">%s</th><td>", label);
}

/* ---- names ---- */

typedef struct rate_name {
    const char *key, *name;
} rate_name;

static const rate_name RATES[] = {
    {"selection_rate", "Selection rate"}, {"base_rate", "Base rate"},
    {"tpr", "TPR"},          {"fpr", "FPR"},
    {"fnr", "FNR"},          {"tnr", "TNR"},
    {"ppv", "PPV (precision)"}, {"npv", "NPV"},
    {"fdr", "FDR"},          {"for", "FOR"},
    {"accuracy", "Accuracy"}, {"roc_auc", "ROC AUC"},
};

static const char *rate_label(const char *key)
{
    for (size_t i = 0; i < sizeof RATES / sizeof RATES[0]; i++)
        if (strcmp(RATES[i].key, key) == 0)
            return RATES[i].name;
    return NULL;
}

/* A rate's display name; an unknown key is user data and escaped. */
static void put_rate_name(buf *b, const char *key)
{
    const char *n = rate_label(key);
    if (n)
        buf_append_str(b, n);
    else
        rpt_esc(b, key);
}

typedef struct flag_word {
    const char *flag;
    const char *rates; /* what it leaves undefined when "reasons" does not say */
    const char *why;
} flag_word;

static const flag_word FLAGS[] = {
    {"UNDEFINED_NO_POSITIVES", "TPR, FNR", "no positives in this group"},
    {"UNDEFINED_NO_NEGATIVES", "FPR, TNR", "no negatives in this group"},
    {"UNDEFINED_NO_PREDICTED_POSITIVES", "PPV, FDR", "no row of this group is predicted positive"},
    {"UNDEFINED_NO_PREDICTED_NEGATIVES", "NPV, FOR", "no row of this group is predicted negative"},
    {"UNDEFINED_ONE_CLASS", "ROC AUC", "only one class is present in this group"},
    {"NO_SCORES", "Score-based metrics", "the predictions carry labels only, no scores"},
};

static const flag_word *flag_lookup(const char *flag)
{
    for (size_t i = 0; flag && i < sizeof FLAGS / sizeof FLAGS[0]; i++)
        if (strcmp(FLAGS[i].flag, flag) == 0)
            return &FLAGS[i];
    return NULL;
}

/* The rates "reasons" names for this flag, as "TPR, FNR"; false when none. */
static bool reasons_for(buf *b, const json_t *reasons, const char *flag)
{
    const char *key;
    const json_t *v;
    bool any = false;
    json_object_foreach((json_t *)reasons, key, v)
    {
        const char *s = json_string_value(v);
        if (!s || strcmp(s, flag) != 0)
            continue;
        if (any)
            buf_append_str(b, ", ");
        put_rate_name(b, key);
        any = true;
    }
    return any;
}

/* One flag in words, e.g. "TPR, FNR undefined: no positives in this group". */
static void flag_in_words(rpt *r, const json_t *flag, const json_t *reasons)
{
    buf *b = r->b;
    const char *f = json_string_value(flag);
    const flag_word *w = flag_lookup(f);
    if (f && strcmp(f, "SMALL_GROUP") == 0) {
        buf_printf(b, "Small group: fewer than %lld rows; treat with caution", r->min_group);
    } else if (f && strcmp(f, "SMALL_CLASS") == 0) {
        buf_printf(b,
                   "Few of one class: fewer than %lld positives or negatives; its rates on "
                   "that class are noisy",
                   r->min_group);
    } else if (f && strcmp(f, "EMPTY") == 0) {
        buf_append_str(b, "Empty: no row has this combination of values; nothing is measured");
    } else if (w) {
        if (!reasons_for(b, reasons, f))
            buf_append_str(b, w->rates);
        buf_printf(b, " undefined: %s", w->why);
    } else {
        buf_append_str(b, "Flag ");
        rpt_text(b, flag);
    }
}

/* ---- header ---- */

static const char *task_name(eval_task t)
{
    switch (t) {
    case EVAL_MULTICLASS: return "Multiclass classification";
    case EVAL_REGRESSION: return "Regression";
    default: return "Binary classification";
    }
}

static void put_source(rpt *r)
{
    buf *b = r->b;
    const json_t *src = rpt_get(r->ev, "source");
    const json_t *model = rpt_get(src, "model"), *pred = rpt_get(src, "predictions");
    if (model) {
        buf_append_str(b, "Model <strong>");
        rpt_text(b, model);
        buf_append_str(b, "</strong>, version ");
        rpt_text(b, rpt_get(src, "version"));
    } else if (json_is_string(pred) && strcmp(json_string_value(pred), "inline") == 0) {
        buf_append_str(b, "Predictions sent inline with the request");
    } else if (pred) {
        buf_append_str(b, "Predictions file <code>");
        rpt_text(b, pred);
        buf_append_str(b, "</code>");
    } else {
        buf_append_str(b, RPT_DASH);
    }
}

/* A JSON array of strings as "a, b, c"; RPT_DASH when empty or absent. */
static void put_list(buf *b, const json_t *a)
{
    size_t i;
    const json_t *v;
    if (!json_array_size(a)) {
        buf_append_str(b, RPT_DASH);
        return;
    }
    json_array_foreach((json_t *)a, i, v)
    {
        if (i)
            buf_append_str(b, ", ");
        rpt_text(b, v);
    }
}

static void put_references(rpt *r)
{
    buf *b = r->b;
    const json_t *refs = rpt_get(r->ev, "reference_groups");
    const char *k;
    const json_t *v;
    size_t n = 0;
    json_object_foreach((json_t *)refs, k, v)
    {
        buf_append_str(b, n++ ? ", " : "");
        rpt_esc(b, k);
        buf_append_str(b, " = ");
        rpt_text(b, v);
    }
    buf_append_str(b, n ? "; any other attribute: its largest group"
                        : "the largest group of each attribute");
}

static void put_intervals(rpt *r)
{
    buf *b = r->b;
    const json_t *bs = rpt_get(r->ev, "bootstrap");
    double reps, conf;
    if (!rpt_num_at(bs, "replicates", &reps)) {
        buf_append_str(b, RPT_DASH);
        return;
    }
    if (reps <= 0) {
        buf_append_str(b, "none (bootstrap disabled)");
        return;
    }
    if (rpt_num_at(bs, "confidence", &conf))
        rpt_fix(b, conf * 100, conf * 100 == (long long)(conf * 100) ? 0 : 1);
    else
        buf_append_str(b, RPT_DASH);
    buf_append_str(b, "% bootstrap percentile intervals, ");
    rpt_count(b, rpt_get(bs, "replicates"));
    buf_append_str(b, " replicates, seed ");
    rpt_text(b, rpt_get(bs, "seed"));
}

static void section_header(rpt *r)
{
    buf *b = r->b;
    const json_t *ev = r->ev;
    buf_append_str(b, "<header id=\"report-header\">\n<h1>Model evaluation and fairness "
                      "report</h1>\n<table class=\"meta\">\n");
    meta_row(b, "Evaluation");
    rpt_text(b, rpt_get(ev, "id"));
    meta_row(b, "</td></tr>\n<tr><th scope=\"row\">Evaluated");
    put_source(r);
    meta_row(b, "</td></tr>\n<tr><th scope=\"row\">Created");
    rpt_text(b, rpt_get(ev, "created_time"));
    buf_printf(b, "</td></tr>\n<tr><th scope=\"row\">Task</th><td>%s", task_name(r->task));
    meta_row(b, "</td></tr>\n<tr><th scope=\"row\">Rows evaluated");
    rpt_count(b, rpt_get(ev, "n"));
    if (r->task == EVAL_BINARY) {
        meta_row(b, "</td></tr>\n<tr><th scope=\"row\">Decision threshold");
        buf_append_str(b, "score &ge; ");
        rpt_num_fix(b, rpt_get(ev, "threshold"), 2);
        buf_append_str(b, " is predicted positive");
    }
    meta_row(b, "</td></tr>\n<tr><th scope=\"row\">Groups by");
    put_list(b, rpt_get(ev, "group_by"));
    if (json_is_true(rpt_get(ev, "intersections")))
        buf_append_str(b, ", and every combination of them (intersections)");
    meta_row(b, "</td></tr>\n<tr><th scope=\"row\">Reference groups");
    put_references(r);
    meta_row(b, "</td></tr>\n<tr><th scope=\"row\">Intervals");
    put_intervals(r);
    meta_row(b, "</td></tr>\n<tr><th scope=\"row\">Small-group threshold");
    buf_printf(b, "%lld %s", r->min_group,
               r->task == EVAL_BINARY ? "rows, positives or negatives" : "rows");
    buf_append_str(b, "</td></tr>\n</table>\n</header>\n");
}

/* ---- group iteration ---- */

static bool same_attr(const json_t *g, const json_t *attr)
{
    const json_t *a = rpt_get(g, "attribute");
    return json_is_string(a) && json_is_string(attr) && json_equal((json_t *)a, (json_t *)attr);
}

/* True when g has rows (n absent counts as non-empty: show what is there). */
static bool non_empty(const json_t *g)
{
    double n;
    return !rpt_num_at(g, "n", &n) || n > 0;
}

bool rpt_is_intersection(const rpt *r, const json_t *g)
{
    const json_t *gb = rpt_get(r->ev, "group_by");
    const json_t *a = rpt_get(g, "attribute");
    size_t i;
    const json_t *v;
    if (!json_is_string(a))
        return false;
    if (!json_is_array(gb))
        return strchr(json_string_value(a), '&') != NULL;
    json_array_foreach((json_t *)gb, i, v)
    {
        if (json_equal((json_t *)v, (json_t *)a))
            return false;
    }
    return true;
}

/* The groups of attr with the lowest and highest number under key. */
static void extremes(rpt *r, const json_t *attr, const char *key, const json_t **lo,
                     const json_t **hi)
{
    size_t i;
    const json_t *g;
    double v, best_lo = 0, best_hi = 0;
    *lo = *hi = NULL;
    json_array_foreach((json_t *)r->groups, i, g)
    {
        if (!same_attr(g, attr) || !non_empty(g) || !rpt_num_at(g, key, &v))
            continue;
        if (!*lo || v < best_lo)
            *lo = g, best_lo = v;
        if (!*hi || v > best_hi)
            *hi = g, best_hi = v;
    }
}

/* Prose names long user strings in short, the full text as a tooltip. */
#define PROSE_CHARS 60

static void short_html(buf *b, const json_t *v)
{
    bool cut;
    buf t = BUF_INIT;
    rpt_text_short(&t, v, PROSE_CHARS, &cut);
    if (cut) {
        buf_append_str(b, "<span title=\"");
        rpt_text(b, v);
        buf_append_str(b, "\">");
    }
    buf_append(b, t.p, t.n);
    buf_append_str(b, cut ? "</span>" : "");
    buf_free(&t);
}

static void group_name_short(buf *b, const json_t *g)
{
    if (json_is_null(rpt_get(g, "attribute")) && json_is_null(rpt_get(g, "value"))) {
        buf_append_str(b, "Overall");
        return;
    }
    short_html(b, rpt_get(g, "attribute"));
    buf_append_str(b, " = ");
    short_html(b, rpt_get(g, "value"));
}

/* A group of an attribute already named: its value and its number. */
static void put_group(buf *b, const json_t *g, const char *key)
{
    buf_append_str(b, "<strong>");
    short_html(b, rpt_get(g, "value"));
    buf_append_str(b, "</strong> (");
    rpt_num_fix(b, rpt_get(g, key), 2);
    buf_append_str(b, ")");
}

/* ---- executive summary ---- */

static void summary_four_fifths(rpt *r)
{
    buf *b = r->b;
    const json_t *s = rpt_get(r->ev, "summary");
    const json_t *verdict = rpt_get(s, "four_fifths_rule"), *attr = rpt_get(s, "attribute");
    const json_t *lo, *hi;
    double ratio;
    const char *v = json_string_value(verdict);
    buf_append_str(b, "<li>Four-fifths rule: <span class=\"verdict\">");
    if (v && (strcmp(v, "pass") == 0 || strcmp(v, "fail") == 0))
        buf_append_str(b, v[0] == 'p' ? "PASS" : "FAIL");
    else if (v)
        rpt_text(b, verdict);
    else
        buf_append_str(b, "not evaluated");
    buf_append_str(b, "</span>. ");
    if (rpt_num_at(s, "demographic_parity_ratio", &ratio)) {
        buf_append_str(b, "Across the groups of <strong>");
        short_html(b, attr);
        buf_append_str(b, "</strong>, the lowest selection rate is ");
        rpt_fix(b, ratio * 100, 0);
        buf_append_str(b, "% of the highest (demographic parity ratio ");
        rpt_fix(b, ratio, 2);
        buf_append_str(b, "; the rule asks for at least 0.80)");
        extremes(r, attr, "selection_rate", &lo, &hi);
        if (lo && hi && lo != hi) {
            buf_append_str(b, ": highest ");
            put_group(b, hi, "selection_rate");
            buf_append_str(b, ", lowest ");
            put_group(b, lo, "selection_rate");
        }
        buf_append_str(b, ".");
    }
    buf_append_str(b, "</li>\n");
}

static void summary_by_attribute(rpt *r)
{
    buf *b = r->b;
    const json_t *by = rpt_get(rpt_get(r->ev, "summary"), "by_attribute");
    const char *k;
    const json_t *v;
    if (!json_object_size(by))
        return;
    buf_append_str(b, "<li>By attribute: ");
    size_t n = 0;
    json_object_foreach((json_t *)by, k, v)
    {
        json_t *name = json_string(k);
        buf_append_str(b, n++ ? "; " : "");
        short_html(b, name);
        json_decref(name);
        buf_append_str(b, " ");
        rpt_text(b, rpt_get(v, "four_fifths_rule"));
        buf_append_str(b, " (ratio ");
        rpt_num_fix(b, rpt_get(v, "demographic_parity_ratio"), 2);
        buf_append_str(b, ")");
    }
    buf_append_str(b, ".</li>\n");
}

/* One rate's gap: "TPR differs by 0.27 across sex&race: M&C (0.86) vs F&C (0.60)". */
static void gap_sentence(rpt *r, const char *key, const json_t *d)
{
    buf *b = r->b;
    const json_t *attr = rpt_get(d, "attribute"), *lo, *hi;
    double diff;
    if (!rpt_num_at(d, "difference_between_groups", &diff))
        return;
    buf_printf(b, "<li>%s differs by ", rate_label(key));
    rpt_fix(b, diff, 2);
    buf_append_str(b, " across <strong>");
    short_html(b, attr);
    buf_append_str(b, "</strong>");
    extremes(r, attr, key, &lo, &hi);
    if (lo && hi && lo != hi) {
        buf_append_str(b, ": ");
        put_group(b, hi, key);
        buf_append_str(b, " vs ");
        put_group(b, lo, key);
    }
    buf_append_str(b, ".</li>\n");
}

/* The three rates the fairness criteria use, then the largest gap among the
 * other rates when it is larger still. */
static void summary_largest(rpt *r)
{
    buf *b = r->b;
    const json_t *disp = rpt_get(r->ev, "disparities");
    static const char *const headline[] = {"selection_rate", "tpr", "fpr"};
    const char *other = NULL;
    double top = -1, diff;
    if (!json_object_size(disp))
        return;
    buf_append_str(b, "<li>Largest gaps between groups: <ul>\n");
    for (size_t i = 0; i < 3; i++) {
        const json_t *d = rpt_get(disp, headline[i]);
        gap_sentence(r, headline[i], d);
        if (rpt_num_at(d, "difference_between_groups", &diff) && diff > top)
            top = diff;
    }
    for (size_t i = 0; i < sizeof RATES / sizeof RATES[0]; i++) {
        const char *k = RATES[i].key;
        if (strcmp(k, "selection_rate") == 0 || strcmp(k, "tpr") == 0 || strcmp(k, "fpr") == 0)
            continue;
        if (rpt_num_at(rpt_get(disp, k), "difference_between_groups", &diff) && diff > top)
            top = diff, other = k;
    }
    if (other)
        gap_sentence(r, other, rpt_get(disp, other));
    buf_append_str(b, "</ul></li>\n");
}

/* The groups whose TPR or FPR differs from the reference at the 5% level. */
static void summary_tests(rpt *r)
{
    buf *b = r->b;
    static const char *const rates[] = {"tpr", "fpr"};
    for (size_t k = 0; k < 2; k++) {
        size_t i, n = 0;
        const json_t *g;
        json_array_foreach((json_t *)r->groups, i, g)
        {
            double p;
            if (!rpt_num_at(rpt_get(rpt_get(g, "tests"), rates[k]), "p_value", &p) || p >= 0.05)
                continue;
            if (n == RPT_MAX_LISTED) {
                buf_append_str(b, " and more");
                break;
            }
            if (!n++)
                buf_printf(b, "<li>%s differs from the reference group at the 5%% level for ",
                           rate_label(rates[k]));
            else
                buf_append_str(b, ", ");
            group_name_short(b, g);
        }
        if (n)
            buf_append_str(b, ".</li>\n");
    }
}

/* Every distinct string flag, each with the groups carrying it (listed by
 * index, so the caller's evaluation is never referenced or modified). */
static void summary_flags(rpt *r)
{
    buf *b = r->b;
    json_t *seen = json_object();
    size_t i, j;
    const json_t *g, *f;
    json_array_foreach((json_t *)r->groups, i, g)
    {
        json_array_foreach((json_t *)rpt_get(g, "flags"), j, f)
        {
            const char *s = json_string_value(f);
            if (!s)
                continue;
            json_t *list = json_object_get(seen, s);
            if (!list)
                json_object_set_new(seen, s, list = json_array());
            json_array_append_new(list, json_integer((json_int_t)i));
        }
    }
    const char *k;
    json_t *list, *idx;
    json_object_foreach(seen, k, list)
    {
        json_t *fs = json_string(k);
        size_t n = json_array_size(list);
        buf_append_str(b, "<li>");
        flag_in_words(r, fs, NULL);
        json_decref(fs);
        buf_printf(b, " (%zu group%s): ", n, n == 1 ? "" : "s");
        json_array_foreach(list, j, idx)
        {
            if (j == RPT_MAX_LISTED) {
                buf_printf(b, " and %zu more", n - j);
                break;
            }
            buf_append_str(b, j ? ", " : "");
            group_name_short(b, json_array_get(r->groups, (size_t)json_integer_value(idx)));
        }
        buf_append_str(b, ".</li>\n");
    }
    if (!json_object_size(seen))
        buf_append_str(b, "<li>No group is flagged.</li>\n");
    json_decref(seen);
}

/* Regression and multiclass: the spread of one metric across groups. */
static void summary_spread(rpt *r, const char *key, const char *what, bool lower_better)
{
    buf *b = r->b;
    const json_t *gb = rpt_get(r->ev, "group_by"), *attr;
    size_t i;
    json_array_foreach((json_t *)gb, i, attr)
    {
        const json_t *lo, *hi;
        extremes(r, attr, key, &lo, &hi);
        if (!lo || lo == hi)
            continue;
        buf_printf(b, "<li>Across <strong>");
        short_html(b, attr);
        buf_printf(b, "</strong>, %s is best for ", what);
        put_group(b, lower_better ? lo : hi, key);
        buf_append_str(b, " and worst for ");
        put_group(b, lower_better ? hi : lo, key);
        buf_append_str(b, ".</li>\n");
    }
}

static void section_summary(rpt *r)
{
    buf *b = r->b;
    buf_append_str(b, "<section id=\"summary\">\n<h2>Executive summary</h2>\n<ul>\n");
    if (r->task == EVAL_BINARY) {
        summary_four_fifths(r);
        summary_by_attribute(r);
        summary_largest(r);
        summary_tests(r);
    } else if (r->task == EVAL_REGRESSION) {
        summary_spread(r, "rmse", "the root mean squared error", true);
    } else {
        summary_spread(r, "accuracy", "accuracy", false);
    }
    summary_flags(r);
    buf_append_str(b, "</ul>\n");
    if (r->task == EVAL_BINARY)
        buf_append_str(b, "<p class=\"muted\">Rates are computed at the decision threshold "
                          "above. Intervals (in brackets) are bootstrap percentile intervals; "
                          "a gap whose interval includes 0 may be chance. Definitions of every "
                          "measure are at the end of this report.</p>\n");
    buf_append_str(b, "</section>\n");
}

/* ---- overall metrics ---- */

typedef struct metric_row {
    const char *key, *name;
    int decimals;
} metric_row;

static void overall_rows(rpt *r, const metric_row *m, size_t n)
{
    buf *b = r->b;
    const json_t *o = rpt_get(r->ev, "overall"), *undef = rpt_get(o, "undefined");
    for (size_t i = 0; i < n; i++) {
        const json_t *v = rpt_get(o, m[i].key);
        buf_printf(b, "<tr><th scope=\"row\">%s</th>", m[i].name);
        if (m[i].decimals < 0)
            cell_count(b, v);
        else
            cell_num(b, v, m[i].decimals);
        buf_append_str(b, "<td class=\"muted\">");
        const json_t *why = rpt_get(undef, m[i].key);
        if (why) {
            flag_in_words(r, why, NULL);
        }
        buf_append_str(b, "</td></tr>\n");
    }
}

static void confusion_binary(rpt *r)
{
    buf *b = r->b;
    const json_t *c = rpt_get(rpt_get(r->ev, "overall"), "confusion");
    buf_append_str(b, "<table id=\"table-confusion\" class=\"keep\"><thead><tr><th></th>"
                      "<th class=\"n\">Predicted positive</th><th class=\"n\">Predicted "
                      "negative</th></tr></thead>\n<tr><th scope=\"row\">Actual positive</th>");
    cell_count(b, rpt_get(c, "tp"));
    cell_count(b, rpt_get(c, "fn"));
    buf_append_str(b, "</tr>\n<tr><th scope=\"row\">Actual negative</th>");
    cell_count(b, rpt_get(c, "fp"));
    cell_count(b, rpt_get(c, "tn"));
    buf_append_str(b, "</tr>\n</table>\n");
}

static const metric_row BINARY_OVERALL[] = {
    {"n", "Rows", -1},           {"positives", "Positives", -1},
    {"negatives", "Negatives", -1}, {"accuracy", "Accuracy", 3},
    {"precision", "Precision", 3}, {"recall", "Recall (TPR)", 3},
    {"f1", "F1", 3},             {"roc_auc", "ROC AUC", 3},
    {"average_precision", "Average precision", 3}, {"log_loss", "Log loss", 4},
    {"brier", "Brier score", 4}, {"ece", "Expected calibration error", 4},
};
static const metric_row REGRESSION_OVERALL[] = {
    {"n", "Rows", -1}, {"rmse", "RMSE", 4}, {"mae", "MAE", 4}, {"r2", "R&sup2;", 4}};
static const metric_row MULTICLASS_OVERALL[] = {
    {"n", "Rows", -1}, {"accuracy", "Accuracy", 3}, {"log_loss", "Log loss", 4}};

static void multiclass_averages(rpt *r)
{
    buf *b = r->b;
    const json_t *o = rpt_get(r->ev, "overall");
    static const char *const avg[] = {"macro", "micro"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *a = rpt_get(o, avg[i]);
        static const char *const m[] = {"precision", "recall", "f1"};
        static const char *const name[] = {"precision", "recall", "F1"};
        for (size_t j = 0; j < 3; j++) {
            buf_printf(b, "<tr><th scope=\"row\">%s-averaged %s</th>", i ? "Micro" : "Macro",
                       name[j]);
            cell_num(b, rpt_get(a, m[j]), 3);
            buf_append_str(b, "<td></td></tr>\n");
        }
    }
}

static void per_class(rpt *r)
{
    buf *b = r->b;
    const json_t *o = rpt_get(r->ev, "overall"), *pc = rpt_get(o, "per_class"), *c;
    static const char *const cols[] = {"Class", "#Precision", "#Recall", "#F1", "#Support"};
    size_t i;
    if (!json_array_size(pc))
        return;
    table_head(b, "table-per-class", cols, 5);
    json_array_foreach((json_t *)pc, i, c)
    {
        buf_append_str(b, "<tr><th scope=\"row\">");
        rpt_text(b, rpt_get(c, "class"));
        buf_append_str(b, "</th>");
        cell_num(b, rpt_get(c, "precision"), 3);
        cell_num(b, rpt_get(c, "recall"), 3);
        cell_num(b, rpt_get(c, "f1"), 3);
        cell_count(b, rpt_get(c, "support"));
        buf_append_str(b, "</tr>\n");
    }
    buf_append_str(b, "</table>\n");
}

static void confusion_multiclass(rpt *r)
{
    buf *b = r->b;
    const json_t *o = rpt_get(r->ev, "overall"), *cls = rpt_get(o, "classes");
    const json_t *m = rpt_get(o, "confusion"), *row, *c;
    size_t i, j;
    if (!json_array_size(m))
        return;
    buf_append_str(b, "<table id=\"table-confusion\" class=\"keep\"><thead><tr><th>Actual "
                      "&darr; / predicted &rarr;</th>");
    json_array_foreach((json_t *)cls, j, c)
    {
        buf_append_str(b, "<th class=\"n\">");
        rpt_text(b, c);
        buf_append_str(b, "</th>");
    }
    buf_append_str(b, "</tr></thead>\n");
    json_array_foreach((json_t *)m, i, row)
    {
        buf_append_str(b, "<tr><th scope=\"row\">");
        rpt_text(b, json_array_get(cls, i));
        buf_append_str(b, "</th>");
        json_array_foreach((json_t *)row, j, c)
        {
            cell_count(b, c);
        }
        buf_append_str(b, "</tr>\n");
    }
    buf_append_str(b, "</table>\n");
}

static void section_overall(rpt *r)
{
    buf *b = r->b;
    buf_append_str(b, "<section id=\"overall\">\n<h2>Overall metrics</h2>\n<div class=\"side\">\n"
                      "<table id=\"table-overall\" class=\"keep\"><thead><tr><th>Metric</th>"
                      "<th class=\"n\">Value</th><th>Note</th></tr></thead>\n");
    if (r->task == EVAL_REGRESSION) {
        overall_rows(r, REGRESSION_OVERALL, 4);
        buf_append_str(b, "</table>\n");
    } else if (r->task == EVAL_MULTICLASS) {
        overall_rows(r, MULTICLASS_OVERALL, 3);
        multiclass_averages(r);
        buf_append_str(b, "</table>\n");
        per_class(r);
        confusion_multiclass(r);
    } else {
        overall_rows(r, BINARY_OVERALL, sizeof BINARY_OVERALL / sizeof BINARY_OVERALL[0]);
        buf_append_str(b, "</table>\n");
        confusion_binary(r);
    }
    buf_append_str(b, "</div>\n</section>\n");
}

/* ---- the per-group table ---- */

static void group_notes(rpt *r, const json_t *g)
{
    buf *b = r->b;
    const json_t *flags = rpt_get(g, "flags"), *f;
    size_t i;
    buf_append_str(b, "<td class=\"notes\">");
    if (flags && !json_is_array(flags)) {
        rpt_text(b, flags);
    }
    json_array_foreach((json_t *)flags, i, f)
    {
        buf_append_str(b, "<span>");
        flag_in_words(r, f, rpt_get(g, "reasons"));
        buf_append_str(b, "</span>");
    }
    buf_append_str(b, "</td>");
}

static void group_label_cell(rpt *r, const json_t *g)
{
    buf *b = r->b;
    buf_append_str(b, "<th scope=\"row\">");
    rpt_text(b, rpt_get(g, "value"));
    if (json_is_true(rpt_get(g, "reference")))
        buf_append_str(b, " <em class=\"ref\">(reference)</em>");
    buf_append_str(b, "</th>");
}

static const char *const BINARY_GROUP_RATES[] = {"base_rate", "selection_rate", "tpr", "fpr",
                                                 "ppv", "accuracy", "roc_auc"};

static void group_row(rpt *r, const json_t *g)
{
    buf *b = r->b;
    buf_append_str(b, "<tr>");
    group_label_cell(r, g);
    cell_count(b, rpt_get(g, "n"));
    if (r->task == EVAL_BINARY) {
        cell_count(b, rpt_get(g, "positives"));
        cell_count(b, rpt_get(g, "negatives"));
        for (size_t i = 0; i < sizeof BINARY_GROUP_RATES / sizeof BINARY_GROUP_RATES[0]; i++)
            cell_ci(b, g, BINARY_GROUP_RATES[i]);
    } else if (r->task == EVAL_REGRESSION) {
        static const char *const k[] = {"rmse", "mae", "r2", "mean_prediction", "mean_label"};
        for (size_t i = 0; i < 5; i++)
            cell_num(b, rpt_get(g, k[i]), i == 2 ? 3 : 2);
    } else {
        cell_ci(b, g, "accuracy");
    }
    group_notes(r, g);
    buf_append_str(b, "</tr>\n");
}

/* A header row per attribute, in the order the evaluation lists them. */
static void attribute_row(rpt *r, const json_t *g, int cols)
{
    buf *b = r->b;
    const json_t *a = rpt_get(g, "attribute");
    const json_t *ref = rpt_get(rpt_get(r->ev, "reference_groups"), json_string_value(a));
    buf_printf(b, "<tr class=\"attr\"><th colspan=\"%d\">", cols);
    rpt_text(b, a);
    if (ref) {
        buf_append_str(b, " <span class=\"muted\">(reference ");
        rpt_text(b, ref);
        buf_append_str(b, ")</span>");
    }
    buf_append_str(b, "</th></tr>\n");
}

static void section_groups(rpt *r)
{
    buf *b = r->b;
    static const char *const bin[] = {"Group", "#n", "#Positives", "#Negatives", "#Base rate",
                                      "#Selection rate", "#TPR", "#FPR", "#PPV", "#Accuracy",
                                      "#ROC AUC", "Notes"};
    static const char *const reg[] = {"Group", "#n", "#RMSE", "#MAE", "#R&sup2;",
                                      "#Mean prediction", "#Mean label", "Notes"};
    static const char *const mc[] = {"Group", "#n", "#Accuracy", "Notes"};
    const char *const *cols = r->task == EVAL_BINARY       ? bin
                              : r->task == EVAL_REGRESSION ? reg
                                                           : mc;
    int ncols = r->task == EVAL_BINARY ? 12 : r->task == EVAL_REGRESSION ? 8 : 4;
    buf_append_str(b, "<section id=\"groups\">\n<h2>Groups</h2>\n");
    if (!json_array_size(r->groups)) {
        buf_append_str(b, "<p>This evaluation lists no groups.</p>\n</section>\n");
        return;
    }
    buf_append_str(b, "<p class=\"muted\">One row per group; under each rate its interval. "
                      "Notes explain flags and undefined rates.</p>\n");
    table_head(b, "table-groups", cols, (size_t)ncols);
    size_t i;
    const json_t *g, *prev = NULL;
    json_array_foreach((json_t *)r->groups, i, g)
    {
        if (!prev || !json_equal(rpt_get(prev, "attribute"), rpt_get(g, "attribute")))
            attribute_row(r, g, ncols);
        group_row(r, g);
        prev = g;
    }
    buf_append_str(b, "</table>\n</section>\n");
}

/* ---- significance tests ---- */

static void test_cells(buf *b, const json_t *t, const json_t *vs, const char *rate)
{
    const json_t *tt = rpt_get(t, rate);
    buf_append_str(b, "<td class=\"n\">");
    rpt_signed(b, rpt_get(vs, "difference"), 2);
    buf_append_str(b, "</td>");
    cell_num(b, rpt_get(tt, "z"), 2);
    buf_append_str(b, "<td class=\"n\">");
    rpt_p_value(b, rpt_get(tt, "p_value"));
    buf_append_str(b, "</td>");
}

/* "TPR lower than the reference (p < 0.05)" for each significant test. */
static void test_reading(buf *b, const json_t *t)
{
    static const char *const rates[] = {"tpr", "fpr"};
    bool any = false, known = false;
    buf_append_str(b, "<td>");
    for (size_t i = 0; i < 2; i++) {
        const json_t *tt = rpt_get(t, rates[i]);
        double p, z;
        if (!rpt_num_at(tt, "p_value", &p) || !rpt_num_at(tt, "z", &z))
            continue;
        known = true;
        if (p >= 0.05)
            continue;
        buf_printf(b, "%s%s %s than the reference", any ? "; " : "", rate_label(rates[i]),
                   z < 0 ? "lower" : "higher");
        any = true;
    }
    buf_append_str(b, any ? " (p &lt; 0.05)" : known ? "No difference at the 5% level" : RPT_DASH);
    buf_append_str(b, "</td>");
}

static void test_row(rpt *r, const json_t *g)
{
    buf *b = r->b;
    const json_t *disp = rpt_get(r->ev, "disparities");
    buf key = BUF_INIT;
    buf_append_str(b, "<tr><th scope=\"row\">");
    group_name_short(b, g);
    buf_append_str(b, "</th>");
    buf_printf(&key, "%s=%s", rpt_str_at(g, "attribute"), rpt_str_at(g, "value"));
    for (size_t i = 0; i < 2; i++) {
        const char *rate = i ? "fpr" : "tpr";
        const json_t *vs = rpt_get(rpt_get(rpt_get(disp, rate), "vs_reference"), key.p);
        test_cells(b, rpt_get(g, "tests"), vs, rate);
    }
    test_reading(b, rpt_get(g, "tests"));
    buf_append_str(b, "</tr>\n");
    buf_free(&key);
}

static void section_tests(rpt *r)
{
    buf *b = r->b;
    static const char *const cols[] = {"Group", "#TPR diff.", "#z", "#p",
                                       "#FPR diff.", "#z", "#p", "Reading"};
    size_t i, n = 0;
    const json_t *g;
    buf_append_str(b, "<section id=\"tests\">\n<h2>Differences from the reference group</h2>\n"
                      "<p class=\"muted\">Two-proportion z tests of each group's TPR and FPR "
                      "against its attribute's reference group; differences are group minus "
                      "reference. With many groups some p-values fall below 0.05 by chance "
                      "alone.</p>\n");
    json_array_foreach((json_t *)r->groups, i, g)
    {
        if (!json_is_object(rpt_get(g, "tests")) || !json_is_string(rpt_get(g, "attribute")) ||
            !json_is_string(rpt_get(g, "value")))
            continue;
        if (!n++)
            table_head(b, "table-tests", cols, 8);
        test_row(r, g);
    }
    buf_append_str(b, n ? "</table>\n" : "<p>No test results in this evaluation.</p>\n");
    buf_append_str(b, "</section>\n");
}

/* ---- disparities ---- */

static void disparity_row(rpt *r, const char *key, const json_t *d)
{
    buf *b = r->b;
    const json_t *ci = rpt_get(d, "ci");
    buf_printf(b, "<tr><th scope=\"row\">%s</th><td>", rate_label(key));
    rpt_text(b, rpt_get(d, "attribute"));
    buf_append_str(b, "</td><td class=\"n\">");
    rpt_with_ci(b, rpt_get(d, "difference_between_groups"),
                rpt_get(ci, "difference_between_groups"), 3);
    buf_append_str(b, "</td><td class=\"n\">");
    rpt_with_ci(b, rpt_get(d, "ratio_between_groups"), rpt_get(ci, "ratio_between_groups"), 3);
    buf_append_str(b, "</td>");
    cell_num(b, rpt_get(d, "difference_to_overall"), 3);
    cell_num(b, rpt_get(d, "ratio_to_overall"), 3);
    buf_append_str(b, "</tr>\n");
}

static void fairness_summary_table(rpt *r)
{
    buf *b = r->b;
    static const char *const cols[] = {"Attribute", "#Demographic parity diff.",
                                       "#Demographic parity ratio", "#Equal opportunity diff.",
                                       "#Equalized odds diff.", "Four-fifths rule"};
    const json_t *by = rpt_get(rpt_get(r->ev, "summary"), "by_attribute"), *v;
    const char *k;
    if (!json_object_size(by))
        return;
    table_head(b, "table-fairness-summary", cols, 6);
    json_object_foreach((json_t *)by, k, v)
    {
        buf_append_str(b, "<tr><th scope=\"row\">");
        rpt_esc(b, k);
        buf_append_str(b, "</th>");
        cell_num(b, rpt_get(v, "demographic_parity_difference"), 3);
        cell_num(b, rpt_get(v, "demographic_parity_ratio"), 3);
        cell_num(b, rpt_get(v, "equal_opportunity_difference"), 3);
        cell_num(b, rpt_get(v, "equalized_odds_difference"), 3);
        buf_append_str(b, "<td><strong>");
        rpt_text(b, rpt_get(v, "four_fifths_rule"));
        buf_append_str(b, "</strong></td></tr>\n");
    }
    buf_append_str(b, "</table>\n");
}

static void section_disparities(rpt *r)
{
    buf *b = r->b;
    static const char *const cols[] = {"Rate", "Attribute (worst)", "#Difference between groups",
                                       "#Ratio between groups", "#Difference to overall",
                                       "#Ratio to overall"};
    const json_t *disp = rpt_get(r->ev, "disparities");
    size_t n = 0;
    buf_append_str(b, "<section id=\"disparities\">\n<h2>Disparities</h2>\n");
    fairness_summary_table(r);
    rpt_chart_selection_rate(r);
    rpt_chart_tpr_fpr(r);
    buf_append_str(b, "<h3>Every rate</h3>\n<p class=\"muted\">For each rate, the attribute "
                      "whose groups differ most; difference = highest &minus; lowest group, "
                      "ratio = lowest / highest.</p>\n");
    for (size_t i = 0; i < sizeof RATES / sizeof RATES[0]; i++) {
        const json_t *d = rpt_get(disp, RATES[i].key);
        if (!json_is_object(d))
            continue;
        if (!n++)
            table_head(b, "table-disparities", cols, 6);
        disparity_row(r, RATES[i].key, d);
    }
    buf_append_str(b, n ? "</table>\n" : "<p>No disparities in this evaluation.</p>\n");
    buf_append_str(b, "</section>\n");
}

/* ---- calibration, sweep and equalizing thresholds ---- */

static void calibration_table(rpt *r)
{
    buf *b = r->b;
    static const char *const cols[] = {"Scores", "#Rows", "#Mean predicted",
                                       "#Fraction positive"};
    const json_t *cal = rpt_get(r->ev, "calibration"), *c;
    size_t i;
    if (!json_array_size(cal))
        return;
    buf_append_str(b, "<div class=\"nobreak\">\n");
    table_head(b, "table-calibration", cols, 4);
    json_array_foreach((json_t *)cal, i, c)
    {
        buf_append_str(b, "<tr><td class=\"n\">");
        rpt_num_fix(b, rpt_get(c, "low"), 2);
        buf_append_str(b, RPT_NDASH);
        rpt_num_fix(b, rpt_get(c, "high"), 2);
        buf_append_str(b, "</td>");
        cell_count(b, rpt_get(c, "count"));
        cell_num(b, rpt_get(c, "mean_predicted"), 3);
        cell_num(b, rpt_get(c, "fraction_positive"), 3);
        buf_append_str(b, "</tr>\n");
    }
    buf_append_str(b, "</table>\n</div>\n");
}

static void section_curves(rpt *r)
{
    buf *b = r->b;
    buf_append_str(b, "<section id=\"roc\">\n<h2>ROC curves</h2>\n");
    rpt_chart_roc(r);
    buf_append_str(b, "</section>\n<section id=\"calibration\">\n<h2>Calibration</h2>\n"
                      "<div class=\"side\">\n");
    rpt_chart_calibration(r);
    calibration_table(r);
    buf_append_str(b, "</div>\n</section>\n");
}

static bool is_request_threshold(rpt *r, const json_t *row)
{
    double t, th;
    return rpt_num_at(r->ev, "threshold", &t) && rpt_num_at(row, "threshold", &th) &&
           th > t - 1e-9 && th < t + 1e-9;
}

static void sweep_table(rpt *r)
{
    buf *b = r->b;
    static const char *const cols[] = {"#Threshold", "#Selection rate", "#TPR", "#FPR", "#PPV",
                                       "#Accuracy"};
    static const char *const keys[] = {"selection_rate", "tpr", "fpr", "ppv", "accuracy"};
    const json_t *sw = rpt_get(r->ev, "threshold_sweep"), *row;
    size_t i, n = 0;
    json_array_foreach((json_t *)sw, i, row)
    {
        if (!json_is_null(rpt_get(row, "attribute")))
            continue; /* overall rows have attribute null */
        if (!n++)
            table_head(b, "table-threshold-sweep", cols, 6);
        bool here = is_request_threshold(r, row);
        buf_printf(b, "<tr%s><td class=\"n\">", here ? " style=\"font-weight:bold\"" : "");
        rpt_num_fix(b, rpt_get(row, "threshold"), 2);
        buf_append_str(b, here ? " &#9664;</td>" : "</td>");
        for (size_t k = 0; k < 5; k++)
            cell_num(b, rpt_get(row, keys[k]), 3);
        buf_append_str(b, "</tr>\n");
    }
    if (n)
        buf_append_str(b, "</table>\n");
}

static void equalizing_table(rpt *r)
{
    buf *b = r->b;
    static const char *const cols[] = {"Attribute", "#Target TPR", "Group", "#Threshold"};
    const json_t *eq = rpt_get(r->ev, "equalizing_thresholds"), *a, *t;
    const char *attr, *value;
    size_t n = 0;
    buf_append_str(b, "<h3>Equalizing thresholds</h3>\n<p class=\"muted\">Per group, the "
                      "threshold of the sweep whose TPR comes closest to the overall TPR at "
                      "the decision threshold. Reported for information only: the evaluation "
                      "applies one threshold to everybody.</p>\n");
    json_object_foreach((json_t *)eq, attr, a)
    {
        json_object_foreach((json_t *)rpt_get(a, "thresholds"), value, t)
        {
            if (!n++)
                table_head(b, "table-equalizing", cols, 4);
            buf_append_str(b, "<tr><td>");
            rpt_esc(b, attr);
            buf_append_str(b, "</td>");
            cell_num(b, rpt_get(a, "target_tpr"), 3);
            buf_append_str(b, "<td>");
            rpt_esc(b, value);
            buf_append_str(b, "</td>");
            cell_num(b, t, 2);
            buf_append_str(b, "</tr>\n");
        }
    }
    buf_append_str(b, n ? "</table>\n" : "<p>No equalizing thresholds in this evaluation.</p>\n");
}

static void section_sweep(rpt *r)
{
    buf *b = r->b;
    buf_append_str(b, "<section id=\"threshold-sweep\">\n<h2>Threshold sweep</h2>\n");
    rpt_chart_sweep(r);
    buf_append_str(b, "<h3>Overall, by threshold</h3>\n");
    sweep_table(r);
    equalizing_table(r);
    buf_append_str(b, "</section>\n");
}

/* ---- definitions ---- */

static const char *const DEFINITIONS[][2] = {
    {"Selection rate", "Share of the group predicted positive (score at or above the threshold)."},
    {"Base rate", "Share of the group whose actual label is positive."},
    {"TPR (recall)", "Of the actual positives, the share predicted positive."},
    {"FPR", "Of the actual negatives, the share predicted positive."},
    {"FNR, TNR", "1 &minus; TPR and 1 &minus; FPR: misses among positives, correct "
                 "rejections among negatives."},
    {"PPV (precision)", "Of those predicted positive, the share actually positive; FDR = "
                        "1 &minus; PPV."},
    {"NPV", "Of those predicted negative, the share actually negative; FOR = 1 &minus; NPV."},
    {"Accuracy", "Share of rows whose prediction equals the label."},
    {"ROC AUC", "Probability that a random positive scores above a random negative "
                "(0.5 = chance, 1 = perfect)."},
    {"Average precision", "Precision averaged over the recall levels of the ranking."},
    {"Log loss", "Mean negative log-likelihood of the labels under the scores (lower is "
                 "better)."},
    {"Brier score", "Mean squared difference between score and label (lower is better)."},
    {"Calibration error (ECE)", "Row-weighted mean gap between mean score and fraction "
                                "positive over the calibration bins."},
    {"Demographic parity", "Difference: highest minus lowest group selection rate. Ratio: "
                           "lowest divided by highest."},
    {"Equal opportunity diff.", "Highest minus lowest group TPR."},
    {"Equalized odds diff.", "The larger of the TPR and FPR differences between groups."},
    {"Four-fifths rule", "Passes when every group's selection rate is at least 0.8 times the "
                         "highest group's (ratio &ge; 0.8)."},
    {"Difference/ratio to overall", "Largest gap between a group and the whole population, "
                                    "and the smallest of group/overall and overall/group."},
    {"Interval", "Bootstrap percentile interval: the range holding the stated share of the "
                 "rate's values over resamples of the rows."},
    {"z test", "Two-proportion z test of a group's rate against the reference group's; p is "
               "the chance of a gap at least this large if the rates were equal."},
    {"Reference group", "The group others are compared to: as requested, else the largest."},
    {"Small group", "A group with fewer rows than the small-group threshold (SMALL_GROUP), or "
                    "with enough rows but fewer positives or negatives than it (SMALL_CLASS): "
                    "its rates are noisy."},
    {"RMSE, MAE, R&sup2;", "Regression: root mean squared error, mean absolute error, and "
                           "the share of the label's variance explained."},
};

static void section_definitions(rpt *r)
{
    buf *b = r->b;
    buf_append_str(b, "<section id=\"definitions\" class=\"nobreak\">\n<h2>Definitions</h2>\n"
                      "<dl>\n");
    for (size_t i = 0; i < sizeof DEFINITIONS / sizeof DEFINITIONS[0]; i++)
        buf_printf(b, "<dt>%s</dt><dd>%s</dd>\n", DEFINITIONS[i][0], DEFINITIONS[i][1]);
    buf_append_str(b, "</dl>\n</section>\n");
}

/* ---- entry point ---- */

static eval_task task_of(const json_t *ev)
{
    const char *t = rpt_str_at(ev, "task");
    if (t && strcmp(t, "regression") == 0)
        return EVAL_REGRESSION;
    if (t && strcmp(t, "multiclass_classification") == 0)
        return EVAL_MULTICLASS;
    return EVAL_BINARY;
}

static void render(rpt *r)
{
    page_open(r);
    section_header(r);
    section_summary(r);
    section_overall(r);
    section_groups(r);
    if (r->task == EVAL_BINARY) {
        section_tests(r);
        section_disparities(r);
        section_curves(r);
        section_sweep(r);
    } else {
        buf_append_str(r->b, "<section id=\"group-chart\">\n<h2>By group</h2>\n");
        if (r->task == EVAL_REGRESSION)
            rpt_chart_group_metric(r, "chart-group-rmse", "rmse", "RMSE");
        else
            rpt_chart_group_metric(r, "chart-group-accuracy", "accuracy", "Accuracy");
        buf_append_str(r->b, "</section>\n");
    }
    section_definitions(r);
    page_close(r);
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int eval_report_html(const json_t *evaluation, char **out, size_t *out_len, strata_err *err)
{
    if (!out || !out_len)
        return err_set(err, STRATA_INVALID_ARGUMENT, "report: no output buffer");
    if (!json_is_object(evaluation))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "report: the evaluation must be a JSON object, not %s",
                       evaluation ? json_type_name(evaluation) : "nothing");
    /* snprintf follows LC_NUMERIC; the page must say 0.5 whatever the
     * process locale is. uselocale only affects this thread. */
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!c)
        return err_set(err, STRATA_NOMEM, "report: cannot create the C locale");
    locale_t old = uselocale(c);
    buf b = BUF_INIT;
    double mg;
    rpt r = {.b = &b, .ev = evaluation, .task = task_of(evaluation),
             .groups = json_is_array(rpt_get(evaluation, "groups")) ? rpt_get(evaluation, "groups")
                                                                    : NULL,
             .min_group = rpt_num_at(evaluation, "min_group_size", &mg) && mg >= 0 && mg < 1e15
                              ? (long long)mg
                              : 30};
    render(&r);
    uselocale(old);
    freelocale(c);
    /* append to what the caller already holds, as the header says */
    char *p = realloc(*out, (*out ? *out_len : 0) + b.n + 1);
    if (!p) {
        buf_free(&b);
        return err_set(err, STRATA_NOMEM, "report: out of memory");
    }
    size_t at = *out ? *out_len : 0;
    memcpy(p + at, b.p, b.n + 1);
    *out = p;
    *out_len = at + b.n;
    buf_free(&b);
    return 0;
}
