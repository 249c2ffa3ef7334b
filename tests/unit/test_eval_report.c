/*
 * test_eval_report.c - the evaluation report page (trainer/eval_report*.c):
 * the fixtures under tests/fixtures/evaluate/ render with the expected
 * sections and charts, user strings are escaped, no number prints as
 * nan/inf, the page is valid UTF-8 with no script or external reference,
 * and any JSON object - every field of a fixture replaced in turn by a wrong
 * type - renders without crashing while a non-object is refused.
 * (The walk renders ~5000 pages: seconds here, about a minute under ASan.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "trainer/evaluate.h"

static json_t *load(const char *name)
{
    char path[4096];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, sizeof path, "%.*s/../fixtures/evaluate/%s", dir, slash ? __FILE__ : ".",
             name);
    json_error_t jerr;
    json_t *ev = json_load_file(path, 0, &jerr);
    if (!ev)
        fprintf(stderr, "%s: %s\n", path, jerr.text);
    assert_non_null(ev);
    return ev;
}

static char *render(const json_t *ev, size_t *len)
{
    char *html = NULL;
    size_t n = 0;
    strata_err err = STRATA_ERR_INIT;
    int rc = eval_report_html(ev, &html, &n, &err);
    if (rc)
        fprintf(stderr, "render: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_non_null(html);
    assert_int_equal(strlen(html), n); /* no NUL inside */
    if (len)
        *len = n;
    return html;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + k, needle))
        n++;
    return n;
}

/* "nan" or "inf" standing as a word (as printf writes them), in any case. */
static bool has_nonfinite(const char *s)
{
    for (const char *p = s; *p; p++) {
        char c = (char)tolower((unsigned char)*p);
        if ((c != 'n' && c != 'i') || (p != s && isalpha((unsigned char)p[-1])))
            continue;
        if ((strncasecmp(p, "nan", 3) == 0 || strncasecmp(p, "inf", 3) == 0) &&
            !isalpha((unsigned char)p[3]))
            return true;
    }
    return false;
}

/* What every page must satisfy, whatever it was rendered from (the cheap
 * part: the field-by-field walk renders thousands of pages). */
static void check_basics(const char *html, size_t len)
{
    assert_true(text_valid_utf8((slice){html, len}));
    assert_false(has_nonfinite(html));
    assert_int_equal(strncmp(html, "<!DOCTYPE html>", 15), 0);
    assert_non_null(strstr(html, "</html>\n"));
    assert_int_equal(count(html, "<svg"), count(html, "</svg>"));
}

static void check_page(const char *html, size_t len)
{
    check_basics(html, len);
    assert_null(strcasestr(html, "<script"));
    assert_null(strcasestr(html, "<img"));
    assert_null(strcasestr(html, "<link"));
    /* data cannot write a quote, so these can only be the page's own */
    assert_null(strcasestr(html, " src=\""));
    assert_null(strcasestr(html, " href=\""));
    const char *style = strstr(html, "<style>"), *style_end = strstr(html, "</style>");
    assert_non_null(style);
    assert_non_null(style_end);
    assert_true(memmem(style, (size_t)(style_end - style), "url(", 4) == NULL);
    assert_true(memmem(style, (size_t)(style_end - style), "@import", 7) == NULL);
    assert_non_null(strstr(html, "Content-Security-Policy"));
    assert_int_equal(count(html, "<svg"), count(html, "</svg>"));
    assert_int_equal(count(html, "<table"), count(html, "</table>"));
    /* every chart has its text alternative */
    assert_int_equal(count(html, "<svg"), count(html, "<desc id=\"chart-"));
}

static void binary_page(void **state)
{
    (void)state;
    json_t *ev = load("binary.json");
    size_t len;
    char *html = render(ev, &len);
    check_page(html, len);
    static const char *const ids[] = {
        "id=\"report-header\"",       "id=\"summary\"",
        "id=\"table-overall\"",       "id=\"table-confusion\"",
        "id=\"table-groups\"",        "id=\"table-tests\"",
        "id=\"table-disparities\"",   "id=\"table-fairness-summary\"",
        "id=\"chart-selection-rate\"", "id=\"chart-tpr-fpr\"",
        "id=\"chart-roc\"",           "id=\"chart-calibration\"",
        "id=\"table-calibration\"",   "id=\"chart-threshold-sweep\"",
        "id=\"table-threshold-sweep\"", "id=\"table-equalizing\"",
        "id=\"definitions\""};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (!strstr(html, ids[i]))
            fail_msg("missing %s", ids[i]);
    }
    /* header */
    assert_non_null(strstr(html, "ev_01HXB7T3M8"));
    assert_non_null(strstr(html, "Model <strong>credit_default</strong>, version 3"));
    assert_non_null(strstr(html, "2024-05-14T09:31:07.412Z"));
    /* the summary in words: sex&race fails at 0.32 (M&D 0.20 vs M&C 0.62) */
    assert_non_null(strstr(html, "<span class=\"verdict\">FAIL</span>"));
    assert_non_null(strstr(html, "demographic parity ratio 0.32"));
    assert_non_null(strstr(html, "highest <strong>M&amp;C</strong> (0.62), lowest "
                                 "<strong>M&amp;D</strong> (0.20)"));
    /* a rate with its interval, as "0.32 (0.30–0.35)": sex = F's selection rate */
    assert_non_null(strstr(html, "0.32 <span class=\"ci\">(0.30\xe2\x80\x93" "0.35)</span>"));
    /* flags in words */
    assert_non_null(strstr(html, "Small group: fewer than 30 rows; treat with caution"));
    assert_non_null(strstr(html, "TPR, FNR undefined: no positives in this group"));
    assert_non_null(strstr(html, "ROC AUC undefined: only one class is present in this group"));
    assert_non_null(strstr(html, "Empty: no row has this combination of values"));
    /* four-fifths bands: one per attribute block (sex, race, sex&race) */
    const char *sel = strstr(html, "id=\"chart-selection-rate\"");
    const char *sel_end = strstr(sel, "</svg>");
    size_t bands = 0;
    for (const char *p = strstr(sel, "stroke-dasharray=\"3 2\"/>"); p && p < sel_end;
         p = strstr(p + 1, "stroke-dasharray=\"3 2\"/>"))
        bands++;
    assert_int_equal(bands, 1 + 3); /* the legend swatch and three bands */
    assert_non_null(strstr(sel, "below 4/5"));
    /* ROC: overall + 2 sex + 3 race curves (race D has none), in two panels */
    const char *roc = strstr(html, "id=\"chart-roc\"");
    const char *roc_end = strstr(roc, "</svg>");
    size_t lines = 0;
    for (const char *p = strstr(roc, "<polyline"); p && p < roc_end; p = strstr(p + 1, "<polyline"))
        lines++;
    assert_int_equal(lines, 2 * 1 + 2 + 3);
    assert_non_null(strstr(roc, "By sex"));
    assert_non_null(strstr(roc, "By race"));
    /* calibration: one point per non-empty bin */
    const char *cal = strstr(html, "id=\"chart-calibration\"");
    assert_int_equal(count(cal, "<circle") >= 10, 1);
    /* the decision threshold is marked in the sweep table */
    assert_non_null(strstr(html, "0.50 &#9664;"));
    free(html);
    json_decref(ev);
}

static void other_tasks(void **state)
{
    (void)state;
    json_t *reg = load("regression.json"), *mc = load("multiclass.json");
    size_t len;
    char *html = render(reg, &len);
    check_page(html, len);
    assert_non_null(strstr(html, "id=\"chart-group-rmse\""));
    assert_non_null(strstr(html, "id=\"table-groups\""));
    assert_non_null(strstr(html, "Predictions file <code>/srv/strata/predictions/"
                                 "house_prices_2024q1.csv</code>"));
    assert_non_null(strstr(html, "best for <strong>east</strong> (4.05) and worst for "
                                 "<strong>west</strong> (6.60)"));
    assert_null(strstr(html, "id=\"chart-roc\"")); /* binary only */
    free(html);
    html = render(mc, &len);
    check_page(html, len);
    assert_non_null(strstr(html, "id=\"chart-group-accuracy\""));
    assert_non_null(strstr(html, "id=\"table-per-class\""));
    assert_non_null(strstr(html, "id=\"table-confusion\""));
    assert_non_null(strstr(html, "<th class=\"n\">medium</th>"));
    free(html);
    json_decref(reg);
    json_decref(mc);
}

static void hostile_strings(void **state)
{
    (void)state;
    json_t *ev = load("hostile.json");
    size_t len;
    char *html = render(ev, &len);
    check_page(html, len);
    /* every user string arrives escaped, in text and in attributes */
    assert_non_null(strstr(html, "&lt;script&gt;alert(&quot;attr&quot;)&lt;/script&gt;"));
    assert_non_null(strstr(html, "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
    assert_non_null(strstr(html, "r&amp;d &#39;team&#39;"));
    assert_non_null(strstr(html, "A&amp;amp;"));
    assert_null(strstr(html, "</title><script"));
    assert_null(strstr(html, "<b>bold"));
    /* the page's own </title> and </svg> only: none from the data */
    assert_int_equal(count(html, "</svg>"), count(html, "<svg"));
    /* a long value is cut in charts, the whole of it in the tooltip */
    const char *sel = strstr(html, "id=\"chart-selection-rate\"");
    assert_non_null(strstr(sel, "a-very-long-group-name-a-ver\xe2\x80\xa6<title>a-very-long-"));
    assert_non_null(strstr(sel, "a-very-long-group-name-end</title>"));
    /* UTF-8 survives, cut or not */
    assert_non_null(strstr(html, "\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9"));
    free(html);
    json_decref(ev);
}

static void refuses_non_objects(void **state)
{
    (void)state;
    json_t *bad[] = {json_array(), json_string("{}"), json_integer(1), json_null(),
                     json_true()};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *html = NULL;
        size_t len = 0;
        strata_err err = STRATA_ERR_INIT;
        assert_int_equal(eval_report_html(bad[i], &html, &len, &err), STRATA_INVALID_ARGUMENT);
        assert_null(html);
        assert_int_equal(len, 0);
        assert_non_null(strstr(err.message, "must be a JSON object"));
        json_decref(bad[i]);
    }
    char *html = NULL;
    size_t len = 0;
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(eval_report_html(NULL, &html, &len, &err), STRATA_INVALID_ARGUMENT);
    json_t *empty = json_object();
    assert_int_equal(eval_report_html(empty, NULL, &len, &err), STRATA_INVALID_ARGUMENT);
    /* the empty object is an evaluation with nothing in it: a page of dashes */
    html = render(empty, &len);
    check_page(html, len);
    assert_non_null(strstr(html, "This evaluation lists no groups."));
    free(html);
    json_decref(empty);
}

static void appends_and_is_deterministic(void **state)
{
    (void)state;
    json_t *ev = load("multiclass.json");
    size_t n1, n2 = 5;
    char *a = render(ev, &n1);
    char *b = malloc(6);
    memcpy(b, "HTTP:", 6);
    strata_err err = STRATA_ERR_INIT;
    assert_int_equal(eval_report_html(ev, &b, &n2, &err), 0);
    assert_int_equal(n2, 5 + n1);
    assert_memory_equal(b, "HTTP:", 5);
    assert_string_equal(b + 5, a); /* same evaluation, same bytes */
    free(a);
    free(b);
    json_decref(ev);
}

static void malformed_fixture(void **state)
{
    (void)state;
    json_t *ev = load("malformed.json");
    size_t len;
    char *html = render(ev, &len);
    check_page(html, len);
    assert_non_null(strstr(html, "Flag NOT_A_KNOWN_FLAG"));
    assert_non_null(strstr(html, "id=\"chart-roc\""));
    free(html);
    json_decref(ev);
}

/* Renders root with parent[key] (or parent[idx] for an array) replaced by
 * `with`, then puts the original back. */
static void replace_and_render(json_t *root, json_t *parent, const char *key, size_t idx,
                               json_t *with)
{
    json_t *saved = json_incref(key ? json_object_get(parent, key) : json_array_get(parent, idx));
    if (key)
        json_object_set(parent, key, with);
    else
        json_array_set(parent, idx, with);
    size_t len;
    char *html = render(root, &len);
    check_basics(html, len);
    free(html);
    if (key)
        json_object_set_new(parent, key, saved);
    else
        json_array_set_new(parent, idx, saved);
}

/* Visits the nodes below `node` in pre-order, counting them in *seen; the
 * one numbered `target` is replaced by `with` and the page rendered. */
static bool mutate_walk(json_t *root, json_t *node, size_t *seen, size_t target, json_t *with)
{
    size_t i;
    json_t *v;
    const char *k;
    json_object_foreach(node, k, v)
    {
        if ((*seen)++ == target) {
            replace_and_render(root, node, k, 0, with);
            return true;
        }
        if (mutate_walk(root, v, seen, target, with))
            return true;
    }
    json_array_foreach(node, i, v)
    {
        if ((*seen)++ == target) {
            replace_and_render(root, node, NULL, i, with);
            return true;
        }
        if (mutate_walk(root, v, seen, target, with))
            return true;
    }
    return false;
}

/* Keep the first `keep` entries of an array member (bounds the walk). */
static void trim(json_t *o, const char *key, size_t keep)
{
    json_t *a = json_object_get(o, key);
    while (json_array_size(a) > keep)
        json_array_remove(a, json_array_size(a) - 1);
}

static void every_field_any_type(void **state)
{
    (void)state;
    json_t *ev = load("binary.json");
    /* bounded so the walk stays quick: every kind of node is still there */
    trim(ev, "threshold_sweep", 23); /* the overall rows and two of sex = F */
    trim(ev, "groups", 4);
    const char *k;
    json_t *d, *tmp;
    json_object_foreach_safe(json_object_get(ev, "disparities"), tmp, k, d)
    {
        if (strcmp(k, "selection_rate") != 0 && strcmp(k, "tpr") != 0)
            json_object_del(json_object_get(ev, "disparities"), k);
    }
    size_t ci;
    json_t *c;
    json_array_foreach(json_object_get(ev, "roc_curves"), ci, c)
        trim(c, "points", 3);
    /* an object where an object belongs is the normal case: no json_object() */
    json_t *with[] = {json_null(), json_string("<x>&\""), json_array(), json_real(1e308),
                      json_integer(-1)};
    size_t total = 0;
    mutate_walk(ev, ev, &total, (size_t)-1, NULL);
    assert_true(total > 300);
    print_message("replacing each of %zu nodes by 5 values\n", total);
    for (size_t t = 0; t < total; t++) {
        for (size_t w = 0; w < sizeof with / sizeof with[0]; w++) {
            size_t seen = 0;
            assert_true(mutate_walk(ev, ev, &seen, t, with[w]));
        }
    }
    for (size_t w = 0; w < sizeof with / sizeof with[0]; w++)
        json_decref(with[w]);
    json_decref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(binary_page),
        cmocka_unit_test(other_tasks),
        cmocka_unit_test(hostile_strings),
        cmocka_unit_test(refuses_non_objects),
        cmocka_unit_test(appends_and_is_deterministic),
        cmocka_unit_test(malformed_fixture),
        cmocka_unit_test(every_field_any_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
