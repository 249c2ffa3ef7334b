/*
 * render_report - renders a stored evaluation (JSON file) to the HTML page
 * GET /v1/evaluations/{id}/report.html serves, for the headless-Chromium
 * test and for looking at a report without a daemon.
 *
 *   render_report EVALUATION.json [OUT.html]     (stdout when OUT is absent)
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "trainer/evaluate.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: render_report EVALUATION.json [OUT.html]\n");
        return 2;
    }
    json_error_t jerr;
    json_t *ev = json_load_file(argv[1], JSON_ALLOW_NUL, &jerr);
    if (!ev) {
        fprintf(stderr, "render_report: %s:%d: %s\n", argv[1], jerr.line, jerr.text);
        return 1;
    }
    char *html = NULL;
    size_t len = 0;
    strata_err err = STRATA_ERR_INIT;
    int rc = eval_report_html(ev, &html, &len, &err);
    json_decref(ev);
    if (rc) {
        fprintf(stderr, "render_report: %s\n", err.message);
        return 1;
    }
    FILE *f = argc == 3 ? fopen(argv[2], "wb") : stdout;
    if (!f || fwrite(html, 1, len, f) != len || (f != stdout && fclose(f) != 0)) {
        perror("render_report");
        free(html);
        return 1;
    }
    free(html);
    return 0;
}
