/*
 * bench/export/values_cf.h - open a Strata data directory read-only and find
 * its `values` column family, for rawscan.c (a bench tool, not Strata code).
 * Exits with a message on any error.
 */
#ifndef STRATA_BENCH_VALUES_CF_H
#define STRATA_BENCH_VALUES_CF_H

#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct values_db {
    rocksdb_t *db;
    rocksdb_column_family_handle_t *values;
    rocksdb_options_t *o;
    char **names;
    size_t ncf;
    const rocksdb_options_t **opts;
    rocksdb_column_family_handle_t **h;
} values_db;

static inline void values_db_open(const char *prog, const char *dir, values_db *v)
{
    char *err = NULL;
    memset(v, 0, sizeof *v);
    v->o = rocksdb_options_create();
    v->names = rocksdb_list_column_families(v->o, dir, &v->ncf, &err);
    if (!err) {
        v->opts = calloc(v->ncf, sizeof *v->opts);
        v->h = calloc(v->ncf, sizeof *v->h);
        int vi = -1;
        for (size_t i = 0; i < v->ncf; i++) {
            v->opts[i] = v->o;
            if (strcmp(v->names[i], "values") == 0)
                vi = (int)i;
        }
        if (vi < 0) {
            fprintf(stderr, "%s: no `values` column family in %s\n", prog, dir);
            exit(1);
        }
        v->db = rocksdb_open_for_read_only_column_families(
            v->o, dir, (int)v->ncf, (const char *const *)v->names, v->opts, v->h, 0, &err);
        v->values = v->h[vi];
    }
    if (err) {
        fprintf(stderr, "%s: %s: %s\n", prog, dir, err);
        exit(1);
    }
}

static inline void values_db_close(values_db *v)
{
    for (size_t i = 0; i < v->ncf; i++)
        rocksdb_column_family_handle_destroy(v->h[i]);
    rocksdb_close(v->db);
    rocksdb_list_column_families_destroy(v->names, v->ncf);
    rocksdb_options_destroy(v->o);
    free(v->opts);
    free(v->h);
}

#endif
