/*
 * trainer_fixture.h - reading tests/fixtures/trainer/ (CSV data and JSON
 * references written by bench/train/make_fixtures.py) for the trainer tests.
 *
 * The fixture directory is found next to this source file (__FILE__ is the
 * absolute path CMake compiles), or at $STRATA_TRAINER_FIXTURES.
 */
#ifndef STRATA_TESTS_TRAINER_FIXTURE_H
#define STRATA_TESTS_TRAINER_FIXTURE_H

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

static inline void fixture_path(const char *name, char *out, size_t cap)
{
    const char *env = getenv("STRATA_TRAINER_FIXTURES");
    if (env && env[0]) {
        snprintf(out, cap, "%s/%s", env, name);
        return;
    }
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 1;
    snprintf(out, cap, "%.*s/../fixtures/trainer/%s", dir, slash ? file : ".", name);
}

static inline char *fixture_read(const char *name, size_t *len)
{
    char path[4096];
    fixture_path(name, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        return NULL;
    }
    buf b = BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b, len);
}

static inline json_t *fixture_json(const char *name)
{
    size_t len = 0;
    char *text = fixture_read(name, &len);
    if (!text)
        return NULL;
    json_error_t e;
    json_t *j = json_loadb(text, len, 0, &e);
    if (!j)
        fprintf(stderr, "fixture %s: %s (line %d)\n", name, e.text, e.line);
    free(text);
    return j;
}

/* A CSV table of text cells (no quoting: the fixtures have none). */
typedef struct fixture_csv {
    size_t rows, cols;
    char **cell; /* rows * cols, pointers into text */
    char **header;
    char *text;
} fixture_csv;

static inline void fixture_csv_free(fixture_csv *t)
{
    free(t->cell);
    free(t->header);
    free(t->text);
    memset(t, 0, sizeof *t);
}

static inline int fixture_csv_load(const char *name, fixture_csv *t)
{
    memset(t, 0, sizeof *t);
    size_t len = 0;
    t->text = fixture_read(name, &len);
    if (!t->text)
        return -1;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += t->text[i] == '\n';
    char *p = t->text, *nl = strchr(p, '\n');
    if (!nl)
        return -1;
    *nl = '\0';
    t->cols = 1;
    for (char *q = p; *q; q++)
        t->cols += *q == ',';
    t->header = calloc(t->cols, sizeof *t->header);
    t->cell = calloc((lines ? lines : 1) * t->cols, sizeof *t->cell);
    if (!t->header || !t->cell)
        return -1;
    for (size_t c = 0; c < t->cols; c++) {
        t->header[c] = p;
        char *comma = strchr(p, ',');
        if (comma) {
            *comma = '\0';
            p = comma + 1;
        }
    }
    p = nl + 1;
    while (*p) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        for (size_t c = 0; c < t->cols; c++) {
            t->cell[t->rows * t->cols + c] = p;
            char *comma = strchr(p, ',');
            if (comma) {
                *comma = '\0';
                p = comma + 1;
            } else {
                p += strlen(p);
            }
        }
        t->rows++;
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

static inline double fixture_num(const char *s)
{
    if (!s[0])
        return NAN;
    return strtod(s, NULL);
}

/* Row i is an eval row when i % 5 == 4 (the fixtures' split). */
static inline int fixture_is_eval(size_t i)
{
    return i % 5 == 4;
}

static inline double fixture_dbl(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

#endif
