/*
 * eval_report_svg.c - the report's charts as inline SVG (no script, no font
 * or image): horizontal bar charts of a rate per group (the selection-rate
 * chart shades each attribute's four-fifths band), ROC curves and threshold
 * sweeps as small multiples per attribute, and a reliability diagram with
 * its bin counts.
 *
 * Every chart is a <figure> holding one <svg id="chart-..."> with a visible
 * title, axis labels, a <title> and a <desc> (the text alternative: the
 * numbers drawn, in words) and a <figcaption>. Colours are the Okabe-Ito
 * palette, distinguishable with the common colour-vision deficiencies; lines
 * beyond the sixth also change dash pattern, and bars below the four-fifths
 * line are labelled in text, so no reading depends on colour alone.
 * Coordinates go through rpt_coord, which clamps: a hostile number can move a
 * mark off the plot but never produce "nan" or a gigantic attribute.
 */
#include "trainer/eval_report_int.h"

#include <math.h>
#include <string.h>

static const char *const PALETTE[] = {"#0072B2", "#D55E00", "#009E73",
                                      "#CC79A7", "#E69F00", "#56B4E9"};
#define N_PALETTE (sizeof PALETTE / sizeof PALETTE[0])
#define INK "#111"
#define GRID "#d4d4d4"
#define BAND "#dbe9f6"

/* Width of every full-width chart, in SVG units (about 180 mm at 96 dpi:
 * inside A4 and Letter with 12 mm margins). */
#define CHART_W 680.0

/* ---- geometry ---- */

typedef struct frame {
    double x, y, w, h;     /* the plot area, SVG units */
    double x0, x1, y0, y1; /* the data ranges it shows */
} frame;

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static double fx(const frame *f, double v)
{
    double span = f->x1 - f->x0;
    return f->x + (span > 0 ? (clampd(v, f->x0, f->x1) - f->x0) / span : 0) * f->w;
}

static double fy(const frame *f, double v)
{
    double span = f->y1 - f->y0;
    return f->y + f->h - (span > 0 ? (clampd(v, f->y0, f->y1) - f->y0) / span : 0) * f->h;
}

/* ---- SVG primitives ---- */

static void pt(buf *b, double x, double y)
{
    rpt_coord(b, x);
    buf_putc(b, ',');
    rpt_coord(b, y);
    buf_putc(b, ' ');
}

static void line(buf *b, double x1, double y1, double x2, double y2, const char *stroke,
                 double width, const char *dash)
{
    buf_append_str(b, "<line x1=\"");
    rpt_coord(b, x1);
    buf_append_str(b, "\" y1=\"");
    rpt_coord(b, y1);
    buf_append_str(b, "\" x2=\"");
    rpt_coord(b, x2);
    buf_append_str(b, "\" y2=\"");
    rpt_coord(b, y2);
    buf_printf(b, "\" stroke=\"%s\" stroke-width=\"%.1f\"", stroke, width);
    if (dash)
        buf_printf(b, " stroke-dasharray=\"%s\"", dash);
    buf_append_str(b, "/>\n");
}

static void rect(buf *b, double x, double y, double w, double h, const char *fill,
                 const char *extra)
{
    buf_append_str(b, "<rect x=\"");
    rpt_coord(b, x);
    buf_append_str(b, "\" y=\"");
    rpt_coord(b, y);
    buf_append_str(b, "\" width=\"");
    rpt_coord(b, w > 0 ? w : 0);
    buf_append_str(b, "\" height=\"");
    rpt_coord(b, h > 0 ? h : 0);
    buf_printf(b, "\" fill=\"%s\"%s%s/>\n", fill, extra ? " " : "", extra ? extra : "");
}

/* Opens <text>; the caller writes the (escaped) content and "</text>". */
static void text_at(buf *b, double x, double y, const char *anchor, double size,
                    const char *extra)
{
    buf_append_str(b, "<text x=\"");
    rpt_coord(b, x);
    buf_append_str(b, "\" y=\"");
    rpt_coord(b, y);
    buf_printf(b, "\" font-size=\"%.1f\" text-anchor=\"%s\"%s%s>", size, anchor,
               extra ? " " : "", extra ? extra : "");
}

static void label(buf *b, double x, double y, const char *anchor, double size, const char *s)
{
    text_at(b, x, y, anchor, size, NULL);
    buf_append_str(b, s);
    buf_append_str(b, "</text>\n");
}

/* A group's value (or its attribute = value) as a chart label: shortened,
 * with the full text as a tooltip when cut. */
static void group_label(buf *b, const json_t *g, double x, double y, const char *anchor,
                        bool with_attribute)
{
    bool cut = false;
    buf t = BUF_INIT;
    text_at(b, x, y, anchor, 9.5, NULL);
    if (with_attribute)
        rpt_group_name(&t, g, RPT_LABEL_CHARS / 2, &cut);
    else
        rpt_text_short(&t, rpt_get(g, "value"), RPT_LABEL_CHARS, &cut);
    buf_append(b, t.p, t.n);
    if (cut) {
        buf_append_str(b, "<title>");
        bool full_cut;
        if (with_attribute)
            rpt_group_name(b, g, (size_t)-1, &full_cut);
        else
            rpt_text(b, rpt_get(g, "value"));
        buf_append_str(b, "</title>");
    }
    buf_append_str(b, "</text>\n");
    buf_free(&t);
}

static void svg_begin(rpt *r, const char *id, double w, double h, const char *title,
                      const buf *desc)
{
    buf *b = r->b;
    buf_printf(b, "<figure id=\"fig-%s\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"%s\" "
                  "role=\"img\" aria-labelledby=\"%s-title %s-desc\" width=\"",
               id, id, id, id);
    rpt_coord(b, w);
    buf_append_str(b, "\" height=\"");
    rpt_coord(b, h);
    buf_append_str(b, "\" viewBox=\"0 0 ");
    rpt_coord(b, w);
    buf_putc(b, ' ');
    rpt_coord(b, h);
    buf_printf(b, "\">\n<title id=\"%s-title\">%s</title>\n<desc id=\"%s-desc\">", id, title,
               id);
    buf_append(b, desc->p, desc->n);
    buf_append_str(b, "</desc>\n");
    rect(b, 0, 0, w, h, "#fff", NULL);
    text_at(b, 0, 15, "start", 12.5, "font-weight=\"bold\"");
    buf_printf(b, "%s</text>\n", title);
}

static void svg_end(rpt *r, const char *caption)
{
    buf_printf(r->b, "</svg>\n<figcaption>%s</figcaption>\n</figure>\n", caption);
}

/* ---- axes ---- */

/* A tick step of 1, 2 or 5 times a power of ten giving about n ticks. */
static double nice_step(double span, int n)
{
    if (!(span > 0) || !isfinite(span))
        return 1;
    double raw = span / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static int step_decimals(double step)
{
    int d = (int)ceil(-log10(step) - 1e-9);
    return d < 0 ? 0 : d > 6 ? 6 : d;
}

static void x_axis(buf *b, const frame *f, const char *name, int ticks, double grid_top)
{
    double step = nice_step(f->x1 - f->x0, ticks);
    int dec = step_decimals(step);
    for (double v = ceil(f->x0 / step) * step; v <= f->x1 + step * 1e-6; v += step) {
        double x = fx(f, v);
        line(b, x, grid_top, x, f->y + f->h, GRID, 0.8, NULL);
        text_at(b, x, f->y + f->h + 11, "middle", 8.5, NULL);
        rpt_fix(b, v, dec);
        buf_append_str(b, "</text>\n");
    }
    line(b, f->x, f->y + f->h, f->x + f->w, f->y + f->h, INK, 1, NULL);
    label(b, f->x + f->w / 2, f->y + f->h + 24, "middle", 9.5, name);
}

/* A y-axis title, written bottom to top beside the tick labels. */
static void y_title(buf *b, const frame *f, const char *name)
{
    double x = f->x - 32, y = f->y + f->h / 2;
    buf_append_str(b, "<text font-size=\"9.5\" text-anchor=\"middle\" transform=\"translate(");
    rpt_coord(b, x);
    buf_putc(b, ' ');
    rpt_coord(b, y);
    buf_printf(b, ") rotate(-90)\">%s</text>\n", name);
}

static void y_ticks(buf *b, const frame *f, int ticks)
{
    double step = nice_step(f->y1 - f->y0, ticks);
    int dec = step_decimals(step);
    for (double v = ceil(f->y0 / step) * step; v <= f->y1 + step * 1e-6; v += step) {
        double y = fy(f, v);
        line(b, f->x, y, f->x + f->w, y, GRID, 0.8, NULL);
        text_at(b, f->x - 4, y + 3, "end", 8.5, NULL);
        rpt_fix(b, v, dec);
        buf_append_str(b, "</text>\n");
    }
    line(b, f->x, f->y, f->x, f->y + f->h, INK, 1, NULL);
}

static void legend_line(buf *b, double x, double y, const char *color, double width,
                        const char *dash)
{
    line(b, x, y - 3, x + 18, y - 3, color, width, dash);
}

static const char *series_dash(size_t i)
{
    return i < N_PALETTE ? NULL : "5 3";
}

/* ---- bar charts ---- */

typedef struct bar_spec {
    const char *id, *title, *axis, *caption;
    const char *keys[2], *names[2];
    size_t n_series;
    bool four_fifths; /* shade 0.8 x max .. max per attribute */
    bool unit;        /* axis 0..1; else 0..the largest value */
} bar_spec;

typedef struct bar_block {
    size_t first, count; /* group indices [first, first + count) */
    double max;          /* largest value of keys[0] in the block, -1 when none */
} bar_block;

#define BAR_H 12.0
#define BAR_GAP 6.0
#define BLOCK_HEAD 17.0

static bool group_value(const json_t *g, const char *key, double *v)
{
    double n;
    if (rpt_num_at(g, "n", &n) && n <= 0)
        return false;
    return rpt_num_at(g, key, v);
}

/* Splits the first RPT_MAX_BARS groups into runs of one attribute. */
static size_t bar_blocks(rpt *r, const bar_spec *s, bar_block *blocks, size_t *drawn)
{
    size_t nb = 0, i;
    const json_t *g, *prev = NULL;
    *drawn = 0;
    json_array_foreach((json_t *)r->groups, i, g)
    {
        if (i == RPT_MAX_BARS)
            break;
        if (!prev || !json_equal(rpt_get(prev, "attribute"), rpt_get(g, "attribute")))
            blocks[nb++] = (bar_block){i, 0, -1};
        bar_block *bl = &blocks[nb - 1];
        double v;
        bl->count++;
        if (group_value(g, s->keys[0], &v) && v > bl->max)
            bl->max = v;
        prev = g;
        (*drawn)++;
    }
    return nb;
}

static double bars_height(const bar_spec *s, const bar_block *blocks, size_t nb)
{
    double h = 0;
    for (size_t i = 0; i < nb; i++)
        h += BLOCK_HEAD + blocks[i].count * (s->n_series * BAR_H + BAR_GAP);
    return h;
}

static double bars_xmax(rpt *r, const bar_spec *s)
{
    double m = 0, v;
    size_t i;
    const json_t *g;
    if (s->unit)
        return 1;
    json_array_foreach((json_t *)r->groups, i, g)
    {
        for (size_t k = 0; k < s->n_series; k++)
            if (group_value(g, s->keys[k], &v) && v > m)
                m = v;
    }
    double step = nice_step(m, 5);
    return m > 0 ? ceil(m * 1.05 / step) * step : 1;
}

static void bars_desc(rpt *r, const bar_spec *s, buf *d)
{
    size_t i;
    const json_t *g;
    buf_printf(d, "%s per group.", s->title);
    json_array_foreach((json_t *)r->groups, i, g)
    {
        bool cut;
        buf_putc(d, ' ');
        rpt_group_name(d, g, (size_t)-1, &cut);
        for (size_t k = 0; k < s->n_series; k++) {
            buf_printf(d, "%s%s ", k ? ", " : ": ", s->n_series > 1 ? s->names[k] : "");
            rpt_num_fix(d, rpt_get(g, s->keys[k]), 3);
        }
        buf_putc(d, ';');
    }
    if (s->four_fifths)
        buf_append_str(d, " The shaded band of each attribute runs from 0.8 times its highest "
                          "selection rate to the highest; a group left of it fails the "
                          "four-fifths rule.");
}

static void bar_legend(buf *b, const bar_spec *s)
{
    double x = 0, y = 33;
    if (s->four_fifths) {
        rect(b, x, y - 9, 12, 10, PALETTE[0], NULL);
        label(b, x + 16, y, "start", 9, "at least 4/5 of the attribute&#39;s highest");
        rect(b, x + 235, y - 9, 12, 10, PALETTE[1], NULL);
        label(b, x + 251, y, "start", 9, "below 4/5 (fails the rule)");
        rect(b, x + 420, y - 9, 12, 10, BAND, "stroke=\"#6a8fb5\" stroke-dasharray=\"3 2\"");
        label(b, x + 436, y, "start", 9, "four-fifths band");
    } else {
        for (size_t k = 0; k < s->n_series; k++) {
            rect(b, x + k * 110, y - 9, 12, 10, PALETTE[k == 0 ? 0 : 4], NULL);
            label(b, x + k * 110 + 16, y, "start", 9, s->names[k]);
        }
    }
    line(b, 560, y - 4, 580, y - 4, INK, 1, NULL);
    line(b, 560, y - 7, 560, y - 1, INK, 1, NULL);
    line(b, 580, y - 7, 580, y - 1, INK, 1, NULL);
    label(b, 585, y, "start", 9, "interval");
}

static void band(buf *b, const frame *f, const bar_block *bl, double top, double h)
{
    if (bl->max <= 0)
        return;
    double x0 = fx(f, 0.8 * bl->max), x1 = fx(f, bl->max);
    rect(b, x0, top, x1 - x0, h, BAND, "stroke=\"#6a8fb5\" stroke-dasharray=\"3 2\"");
}

static void whisker(buf *b, const frame *f, const json_t *ci, double y)
{
    double lo, hi;
    if (!rpt_num_at(ci, "low", &lo) || !rpt_num_at(ci, "high", &hi))
        return;
    line(b, fx(f, lo), y, fx(f, hi), y, INK, 1, NULL);
    line(b, fx(f, lo), y - 3, fx(f, lo), y + 3, INK, 1, NULL);
    line(b, fx(f, hi), y - 3, fx(f, hi), y + 3, INK, 1, NULL);
}

static void one_bar(rpt *r, const bar_spec *s, const frame *f, const json_t *g, size_t k,
                    double y, double block_max)
{
    buf *b = r->b;
    double v, n, hi;
    const json_t *ci = rpt_get(rpt_get(g, "ci"), s->keys[k]);
    if (!group_value(g, s->keys[k], &v)) {
        bool empty = rpt_num_at(g, "n", &n) && n <= 0;
        text_at(b, f->x + 4, y + BAR_H - 3, "start", 8.5, "fill=\"#444\" font-style=\"italic\"");
        if (empty)
            buf_append_str(b, k ? "" : "empty group");
        else
            buf_printf(b, "%s undefined", s->n_series > 1 ? s->names[k] : "");
        buf_append_str(b, "</text>\n");
        return;
    }
    bool below = s->four_fifths && block_max > 0 && v < 0.8 * block_max;
    const char *fill = below ? PALETTE[1] : PALETTE[k == 0 ? 0 : 4];
    rect(b, f->x, y, fx(f, v) - f->x, BAR_H, fill, NULL);
    whisker(b, f, ci, y + BAR_H / 2);
    double end = fx(f, rpt_num_at(ci, "high", &hi) && hi > v ? hi : v);
    text_at(b, end + 4, y + BAR_H - 2.5, "start", 8.5, NULL);
    if (s->n_series > 1)
        buf_printf(b, "%s ", s->names[k]);
    rpt_fix(b, v, s->unit ? 2 : 3);
    if (below)
        buf_append_str(b, " below 4/5");
    buf_append_str(b, "</text>\n");
}

static void bar_rows(rpt *r, const bar_spec *s, const frame *f, const bar_block *bl, double y)
{
    buf *b = r->b;
    const json_t *g0 = json_array_get(r->groups, bl->first);
    text_at(b, 4, y + 12, "start", 9.5, "font-weight=\"bold\"");
    bool cut;
    rpt_text_short(b, rpt_get(g0, "attribute"), RPT_LABEL_CHARS * 2, &cut);
    buf_append_str(b, "</text>\n");
    y += BLOCK_HEAD;
    double rows_h = bl->count * (s->n_series * BAR_H + BAR_GAP);
    if (s->four_fifths)
        band(b, f, bl, y - 2, rows_h - BAR_GAP + 4);
    for (size_t i = 0; i < bl->count; i++) {
        const json_t *g = json_array_get(r->groups, bl->first + i);
        group_label(b, g, f->x - 6, y + s->n_series * BAR_H / 2 + 3.5, "end", false);
        for (size_t k = 0; k < s->n_series; k++)
            one_bar(r, s, f, g, k, y + k * BAR_H, bl->max);
        y += s->n_series * BAR_H + BAR_GAP;
    }
}

static void bar_chart(rpt *r, const bar_spec *s)
{
    bar_block blocks[RPT_MAX_BARS];
    size_t drawn, nb = bar_blocks(r, s, blocks, &drawn);
    if (!nb)
        return;
    double rows_h = bars_height(s, blocks, nb);
    frame f = {200, 48, 400, rows_h, 0, bars_xmax(r, s), 0, 1};
    buf d = BUF_INIT;
    bars_desc(r, s, &d);
    svg_begin(r, s->id, CHART_W, f.y + rows_h + 34, s->title, &d);
    buf_free(&d);
    bar_legend(r->b, s);
    x_axis(r->b, &f, s->axis, 5, f.y - 4);
    double y = f.y;
    for (size_t i = 0; i < nb; i++) {
        bar_rows(r, s, &f, &blocks[i], y);
        y += BLOCK_HEAD + blocks[i].count * (s->n_series * BAR_H + BAR_GAP);
    }
    buf c = BUF_INIT;
    buf_append_str(&c, s->caption);
    size_t total = json_array_size(r->groups);
    if (drawn < total)
        buf_printf(&c, " The first %zu of %zu groups are drawn; the table lists all.", drawn,
                   total);
    svg_end(r, c.p);
    buf_free(&c);
}

void rpt_chart_selection_rate(rpt *r)
{
    bar_spec s = {.id = "chart-selection-rate",
                  .title = "Selection rate by group",
                  .axis = "Selection rate (share predicted positive)",
                  .caption = "Selection rate of each group with its interval. Per attribute, "
                             "the shaded band spans 0.8 &times; the highest selection rate to "
                             "the highest: a bar ending left of the band fails the four-fifths "
                             "rule and is labelled &ldquo;below 4/5&rdquo;.",
                  .keys = {"selection_rate"},
                  .n_series = 1,
                  .four_fifths = true,
                  .unit = true};
    bar_chart(r, &s);
}

void rpt_chart_tpr_fpr(rpt *r)
{
    bar_spec s = {.id = "chart-tpr-fpr",
                  .title = "True and false positive rates by group",
                  .axis = "Rate",
                  .caption = "TPR (upper bar) and FPR (lower bar) of each group with their "
                             "intervals. Equal opportunity compares the TPRs, equalized odds "
                             "both.",
                  .keys = {"tpr", "fpr"},
                  .names = {"TPR", "FPR"},
                  .n_series = 2,
                  .unit = true};
    bar_chart(r, &s);
}

void rpt_chart_group_metric(rpt *r, const char *id, const char *key, const char *what)
{
    buf t = BUF_INIT, c = BUF_INIT;
    buf_printf(&t, "%s by group", what);
    buf_printf(&c, "%s of each group%s.", what,
               strcmp(key, "accuracy") == 0 ? ", with its interval when computed" : "");
    bar_spec s = {.id = id,
                  .title = t.p,
                  .axis = what,
                  .caption = c.p,
                  .keys = {key},
                  .names = {what},
                  .n_series = 1,
                  .unit = strcmp(key, "accuracy") == 0};
    bar_chart(r, &s);
    buf_free(&t);
    buf_free(&c);
}

/* ---- panels: the attributes drawn as small multiples ---- */

/* Appends v to out[first..*n) unless an equal value is there or the list
 * holds max entries already. */
static void add_distinct(const json_t **out, size_t first, size_t *n, size_t max,
                         const json_t *v)
{
    for (size_t k = first; k < *n; k++)
        if (json_equal((json_t *)out[k], (json_t *)v))
            return;
    if (*n < max)
        out[(*n)++] = v;
}

/* The distinct one-attribute names among objects of `arr` (their
 * "attribute" strings), in order of first appearance, at most `max`. */
static size_t panel_attrs(rpt *r, const json_t *arr, const json_t **out, size_t max)
{
    size_t n = 0, i;
    const json_t *o;
    json_array_foreach((json_t *)arr, i, o)
    {
        const json_t *a = rpt_get(o, "attribute");
        if (json_is_string(a) && !rpt_is_intersection(r, o))
            add_distinct(out, 0, &n, max, a);
    }
    return n;
}

/* The group of `groups` with this attribute and value, or NULL. */
static const json_t *find_group(rpt *r, const json_t *attr, const json_t *value)
{
    size_t i;
    const json_t *g;
    json_array_foreach((json_t *)r->groups, i, g)
    {
        if (json_equal((json_t *)rpt_get(g, "attribute"), (json_t *)attr) &&
            json_equal((json_t *)rpt_get(g, "value"), (json_t *)value))
            return g;
    }
    return NULL;
}

/* ---- ROC curves ---- */

#define ROC_PANEL_W 340.0
#define ROC_PLOT 220.0

static size_t polyline_points(buf *b, const frame *f, const json_t *points)
{
    size_t i, n = 0;
    const json_t *p;
    double x, y;
    json_array_foreach((json_t *)points, i, p)
    {
        if (!rpt_num(json_array_get(p, 0), &x) || !rpt_num(json_array_get(p, 1), &y))
            continue;
        pt(b, fx(f, x), fy(f, y));
        n++;
    }
    return n;
}

static void polyline(buf *b, const frame *f, const json_t *points, const char *color,
                     double width, const char *dash)
{
    buf tmp = BUF_INIT;
    if (polyline_points(&tmp, f, points) >= 2) {
        buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s%s%s "
                      "points=\"",
                   color, width, dash ? " stroke-dasharray=\"" : "", dash ? dash : "",
                   dash ? "\"" : "");
        buf_append(b, tmp.p, tmp.n);
        buf_append_str(b, "\"/>\n");
    }
    buf_free(&tmp);
}

static void roc_legend_entry(rpt *r, const json_t *curve, size_t k, double x, double y)
{
    buf *b = r->b;
    const json_t *attr = rpt_get(curve, "attribute"), *auc;
    bool overall = json_is_null(attr) || !attr, cut;
    legend_line(b, x, y, overall ? INK : PALETTE[(k - 1) % N_PALETTE], overall ? 2.2 : 1.6,
                overall ? NULL : series_dash(k - 1));
    text_at(b, x + 24, y, "start", 9, NULL);
    if (overall) {
        buf_append_str(b, "Overall");
        auc = rpt_get(rpt_get(r->ev, "overall"), "roc_auc");
    } else {
        rpt_text_short(b, rpt_get(curve, "value"), RPT_LABEL_CHARS, &cut);
        auc = rpt_get(find_group(r, attr, rpt_get(curve, "value")), "roc_auc");
    }
    buf_append_str(b, " (AUC ");
    rpt_num_fix(b, auc, 3);
    buf_append_str(b, ")</text>\n");
}

/* The curves of one panel: overall plus those of attr; returns how many. */
static size_t roc_panel_curves(rpt *r, const json_t *attr, const json_t **out)
{
    const json_t *curves = rpt_get(r->ev, "roc_curves"), *c;
    size_t i, n = 0;
    json_array_foreach((json_t *)curves, i, c)
    {
        const json_t *a = rpt_get(c, "attribute");
        bool overall = !a || json_is_null(a);
        if (n < RPT_MAX_CURVES && (overall ? n == 0 : attr && json_equal((json_t *)a,
                                                                          (json_t *)attr)))
            out[n++] = c;
    }
    return n;
}

static double roc_panel_h(size_t curves)
{
    return 24 + ROC_PLOT + 32 + 13.0 * (double)curves;
}

static void roc_panel(rpt *r, const json_t *attr, double x, double y)
{
    buf *b = r->b;
    const json_t *cs[RPT_MAX_CURVES];
    size_t n = roc_panel_curves(r, attr, cs);
    frame f = {x + 48, y + 24, ROC_PLOT, ROC_PLOT, 0, 1, 0, 1};
    text_at(b, x + 48, y + 14, "start", 10.5, "font-weight=\"bold\"");
    bool cut;
    buf_append_str(b, attr ? "By " : "Overall");
    if (attr)
        rpt_text_short(b, attr, RPT_LABEL_CHARS, &cut);
    buf_append_str(b, "</text>\n");
    y_ticks(b, &f, 5);
    y_title(b, &f, "True positive rate");
    x_axis(b, &f, "False positive rate", 5, f.y);
    line(b, fx(&f, 0), fy(&f, 0), fx(&f, 1), fy(&f, 1), "#777", 1, "4 3");
    for (size_t k = n; k-- > 0;) { /* overall last, on top */
        bool overall = k == 0;
        polyline(b, &f, rpt_get(cs[k], "points"), overall ? INK : PALETTE[(k - 1) % N_PALETTE],
                 overall ? 2.2 : 1.6, overall ? NULL : series_dash(k - 1));
    }
    for (size_t k = 0; k < n; k++)
        roc_legend_entry(r, cs[k], k, f.x, f.y + f.h + 44 + 13.0 * (double)k);
}

static void roc_desc(rpt *r, buf *d)
{
    const json_t *curves = rpt_get(r->ev, "roc_curves"), *c;
    size_t i;
    buf_append_str(d, "ROC curves (true positive rate against false positive rate as the "
                      "threshold falls); the dashed diagonal is chance. Areas under the "
                      "curve:");
    json_array_foreach((json_t *)curves, i, c)
    {
        const json_t *a = rpt_get(c, "attribute"), *auc;
        bool cut;
        if (i == RPT_MAX_PANELS * RPT_MAX_CURVES) { /* find_group is linear */
            buf_append_str(d, " " RPT_ELLIPSIS);
            break;
        }
        buf_putc(d, ' ');
        if (!a || json_is_null(a)) {
            buf_append_str(d, "overall");
            auc = rpt_get(rpt_get(r->ev, "overall"), "roc_auc");
        } else {
            rpt_group_name(d, c, (size_t)-1, &cut);
            auc = rpt_get(find_group(r, a, rpt_get(c, "value")), "roc_auc");
        }
        buf_putc(d, ' ');
        rpt_num_fix(d, auc, 3);
        buf_putc(d, ';');
    }
}

void rpt_chart_roc(rpt *r)
{
    const json_t *attrs[RPT_MAX_PANELS], *cs[RPT_MAX_CURVES];
    size_t np = panel_attrs(r, rpt_get(r->ev, "roc_curves"), attrs, RPT_MAX_PANELS);
    size_t panels = np ? np : 1, rows = (panels + 1) / 2;
    if (!json_array_size(rpt_get(r->ev, "roc_curves"))) {
        buf_append_str(r->b, "<p>This evaluation holds no ROC curves (no scores, or one class "
                             "only).</p>\n");
        return;
    }
    double row_h[RPT_MAX_PANELS] = {0}, h = 24;
    for (size_t i = 0; i < panels; i++) {
        double ph = roc_panel_h(roc_panel_curves(r, np ? attrs[i] : NULL, cs));
        if (ph > row_h[i / 2])
            row_h[i / 2] = ph;
    }
    for (size_t i = 0; i < rows; i++)
        h += row_h[i];
    buf d = BUF_INIT;
    roc_desc(r, &d);
    svg_begin(r, "chart-roc", CHART_W, h, "ROC curve of each group, one panel per attribute", &d);
    buf_free(&d);
    double y = 24;
    for (size_t i = 0; i < panels; i++) {
        roc_panel(r, np ? attrs[i] : NULL, (i % 2) * ROC_PANEL_W, y);
        if (i % 2 == 1 || i + 1 == panels)
            y += row_h[i / 2];
    }
    svg_end(r, "One panel per attribute: the overall curve (black) and each group&#39;s. A "
               "curve nearer the top-left corner separates positives from negatives better; "
               "curves apart from each other mean the model ranks some groups better than "
               "others.");
}

/* ---- calibration ---- */

static void calibration_desc(const json_t *cal, buf *d)
{
    size_t i;
    const json_t *c;
    buf_append_str(d, "Reliability diagram: per score bin, the mean predicted probability "
                      "against the fraction of positives, and the number of rows. Bins:");
    json_array_foreach((json_t *)cal, i, c)
    {
        buf_putc(d, ' ');
        rpt_num_fix(d, rpt_get(c, "low"), 2);
        buf_append_str(d, RPT_NDASH);
        rpt_num_fix(d, rpt_get(c, "high"), 2);
        buf_append_str(d, ": predicted ");
        rpt_num_fix(d, rpt_get(c, "mean_predicted"), 3);
        buf_append_str(d, ", observed ");
        rpt_num_fix(d, rpt_get(c, "fraction_positive"), 3);
        buf_append_str(d, ", rows ");
        rpt_count(d, rpt_get(c, "count"));
        buf_putc(d, ';');
    }
}

static void calibration_points(buf *b, const frame *f, const json_t *cal)
{
    size_t i;
    const json_t *c;
    double x, y;
    buf pts = BUF_INIT;
    json_array_foreach((json_t *)cal, i, c)
    {
        if (!rpt_num_at(c, "mean_predicted", &x) || !rpt_num_at(c, "fraction_positive", &y))
            continue;
        pt(&pts, fx(f, x), fy(f, y));
        buf_printf(b, "<circle r=\"3.2\" fill=\"%s\" cx=\"", PALETTE[0]);
        rpt_coord(b, fx(f, x));
        buf_append_str(b, "\" cy=\"");
        rpt_coord(b, fy(f, y));
        buf_append_str(b, "\"/>\n");
    }
    if (pts.n)
        buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
                      "points=\"%s\"/>\n",
                   PALETTE[0], pts.p);
    buf_free(&pts);
}

static void calibration_counts(buf *b, const frame *f, const json_t *cal)
{
    size_t i;
    const json_t *c;
    double lo, hi, n, max = 0;
    json_array_foreach((json_t *)cal, i, c)
    {
        if (rpt_num_at(c, "count", &n) && n > max)
            max = n;
    }
    frame h = *f;
    h.y1 = max > 0 ? max : 1;
    json_array_foreach((json_t *)cal, i, c)
    {
        if (!rpt_num_at(c, "low", &lo) || !rpt_num_at(c, "high", &hi) ||
            !rpt_num_at(c, "count", &n))
            continue;
        rect(b, fx(&h, lo) + 1, fy(&h, n), fx(&h, hi) - fx(&h, lo) - 2, fy(&h, 0) - fy(&h, n),
             "#9db7d0", NULL);
        text_at(b, (fx(&h, lo) + fx(&h, hi)) / 2, fy(&h, n) - 2, "middle", 7.5, NULL);
        rpt_count(b, rpt_get(c, "count"));
        buf_append_str(b, "</text>\n");
    }
    line(b, f->x, f->y + f->h, f->x + f->w, f->y + f->h, INK, 1, NULL);
}

void rpt_chart_calibration(rpt *r)
{
    const json_t *cal = rpt_get(r->ev, "calibration");
    if (!json_array_size(cal)) {
        buf_append_str(r->b, "<p>This evaluation holds no calibration bins.</p>\n");
        return;
    }
    frame f = {50, 34, 290, 210, 0, 1, 0, 1};
    frame counts = {50, 300, 290, 56, 0, 1, 0, 1};
    buf d = BUF_INIT;
    calibration_desc(cal, &d);
    svg_begin(r, "chart-calibration", 360, 396, "Reliability diagram", &d);
    buf_free(&d);
    y_ticks(r->b, &f, 5);
    y_title(r->b, &f, "Fraction positive");
    x_axis(r->b, &f, "Mean predicted probability", 5, f.y);
    line(r->b, fx(&f, 0), fy(&f, 0), fx(&f, 1), fy(&f, 1), "#777", 1, "4 3");
    calibration_points(r->b, &f, cal);
    label(r->b, counts.x, counts.y - 12, "start", 9, "Rows per score bin");
    calibration_counts(r->b, &counts, cal);
    x_axis(r->b, &counts, "Score", 5, counts.y + counts.h);
    buf c = BUF_INIT;
    buf_append_str(&c, "Points on the dashed diagonal are well calibrated; above it the model "
                       "under-predicts, below it over-predicts. Expected calibration error: ");
    rpt_num_fix(&c, rpt_get(rpt_get(r->ev, "overall"), "ece"), 4);
    buf_putc(&c, '.');
    svg_end(r, c.p);
    buf_free(&c);
}

/* ---- threshold sweep ---- */

static const char *const SWEEP_KEYS[] = {"selection_rate", "tpr", "fpr", "ppv"};
static const char *const SWEEP_NAMES[] = {"Selection rate", "TPR", "FPR", "PPV"};
#define SWEEP_COLS 4
#define SWEEP_PANEL_W 170.0
#define SWEEP_ROW_H 178.0

/* The series of one row of panels: overall (NULL) then attr's values. */
static size_t sweep_series(rpt *r, const json_t *attr, const json_t **vals)
{
    const json_t *sw = rpt_get(r->ev, "threshold_sweep"), *row;
    size_t i, n = 1;
    vals[0] = NULL;
    json_array_foreach((json_t *)sw, i, row)
    {
        if (attr && json_equal((json_t *)rpt_get(row, "attribute"), (json_t *)attr))
            add_distinct(vals, 1, &n, RPT_MAX_CURVES, rpt_get(row, "value"));
    }
    return n;
}

/* Which series of the panel row a sweep row belongs to: 0 overall, k for
 * vals[k]; -1 for none. */
static int sweep_series_of(const json_t *row, const json_t *attr, const json_t **vals,
                           size_t nv)
{
    const json_t *a = rpt_get(row, "attribute"), *v;
    if (!a || json_is_null(a))
        return 0;
    if (!attr || !json_equal((json_t *)a, (json_t *)attr))
        return -1;
    v = rpt_get(row, "value");
    for (size_t k = 1; k < nv; k++)
        if (json_equal((json_t *)vals[k], (json_t *)v))
            return (int)k;
    return -1;
}

/* One panel's lines, all series in one pass over the sweep (it holds 21
 * rows per group, and there may be thousands of groups). */
static void sweep_lines(rpt *r, const frame *f, const char *key, const json_t *attr,
                        const json_t **vals, size_t nv)
{
    const json_t *sw = rpt_get(r->ev, "threshold_sweep"), *row;
    buf pts[RPT_MAX_CURVES];
    size_t i, n[RPT_MAX_CURVES] = {0};
    double t, v;
    for (size_t k = 0; k < nv; k++)
        pts[k] = (buf)BUF_INIT;
    json_array_foreach((json_t *)sw, i, row)
    {
        int k = sweep_series_of(row, attr, vals, nv);
        if (k < 0 || !rpt_num_at(row, "threshold", &t) || !rpt_num_at(row, key, &v))
            continue;
        pt(&pts[k], fx(f, t), fy(f, v));
        n[k]++;
    }
    for (size_t k = nv; k-- > 0;) { /* overall last, on top */
        const char *dash = k ? series_dash(k - 1) : NULL;
        if (n[k] >= 2)
            buf_printf(r->b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s%s%s "
                             "points=\"%s\"/>\n",
                       k ? PALETTE[(k - 1) % N_PALETTE] : INK, k ? 1.4 : 2.0,
                       dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "",
                       pts[k].p);
        buf_free(&pts[k]);
    }
}

static void sweep_panel(rpt *r, const json_t *attr, const json_t **vals, size_t nv, size_t col,
                        double y)
{
    buf *b = r->b;
    frame f = {col * SWEEP_PANEL_W + 36, y + 34, SWEEP_PANEL_W - 48, 92, 0, 1, 0, 1};
    double t;
    label(b, f.x + f.w / 2, f.y - 5, "middle", 9.5, SWEEP_NAMES[col]);
    y_ticks(b, &f, 2);
    x_axis(b, &f, "Threshold", 2, f.y);
    if (rpt_num_at(r->ev, "threshold", &t))
        line(b, fx(&f, t), f.y, fx(&f, t), f.y + f.h, "#555", 1, "2 2");
    sweep_lines(r, &f, SWEEP_KEYS[col], attr, vals, nv);
}

static void sweep_legend(rpt *r, const json_t **vals, size_t nv, double y)
{
    buf *b = r->b;
    double x = 36;
    for (size_t k = 0; k < nv; k++) {
        bool cut;
        legend_line(b, x, y, k ? PALETTE[(k - 1) % N_PALETTE] : INK, k ? 1.4 : 2.0,
                    k ? series_dash(k - 1) : NULL);
        text_at(b, x + 22, y, "start", 8.5, NULL);
        if (k)
            rpt_text_short(b, vals[k], 16, &cut);
        else
            buf_append_str(b, "Overall");
        buf_append_str(b, "</text>\n");
        x += 40 + (k ? 6.0 * (double)(json_string_length(vals[k]) < 16
                                          ? json_string_length(vals[k]) + 1
                                          : 17)
                     : 40);
    }
    label(b, CHART_W - 4, y, "end", 8.5, "dotted line: the decision threshold");
}

void rpt_chart_sweep(rpt *r)
{
    const json_t *sw = rpt_get(r->ev, "threshold_sweep");
    const json_t *attrs[RPT_MAX_PANELS], *vals[RPT_MAX_CURVES];
    size_t na = panel_attrs(r, sw, attrs, RPT_MAX_PANELS), rows = na ? na : 1;
    if (!json_array_size(sw)) {
        buf_append_str(r->b, "<p>This evaluation holds no threshold sweep.</p>\n");
        return;
    }
    buf d = BUF_INIT;
    buf_append_str(&d, "Selection rate, TPR, FPR and PPV as the decision threshold moves from "
                       "0 to 1, overall and per group; one row of panels per attribute:");
    for (size_t i = 0; i < na; i++) {
        buf_putc(&d, ' ');
        rpt_text(&d, attrs[i]);
    }
    buf_append_str(&d, ". The table below lists the overall values.");
    svg_begin(r, "chart-threshold-sweep", CHART_W, 22 + rows * SWEEP_ROW_H,
              "Rates as the decision threshold moves", &d);
    buf_free(&d);
    for (size_t i = 0; i < rows; i++) {
        double y = 22 + i * SWEEP_ROW_H;
        const json_t *attr = na ? attrs[i] : NULL;
        size_t nv = sweep_series(r, attr, vals);
        text_at(r->b, 0, y + 14, "start", 10.5, "font-weight=\"bold\"");
        bool cut;
        buf_append_str(r->b, attr ? "By " : "Overall");
        if (attr)
            rpt_text_short(r->b, attr, RPT_LABEL_CHARS * 2, &cut);
        buf_append_str(r->b, "</text>\n");
        for (size_t col = 0; col < SWEEP_COLS; col++)
            sweep_panel(r, attr, vals, nv, col, y);
        sweep_legend(r, vals, nv, y + SWEEP_ROW_H - 12);
    }
    svg_end(r, "Each panel shows one rate against the threshold; lines far apart at the "
               "dotted decision threshold are the disparities of the tables above. The "
               "equalizing thresholds below are read off these curves.");
}
