/*
 * export_int.h - private declarations shared by the export modules:
 * export.c (context, plans, destination rules), export_reader.c (the
 * three-pass point-in-time reader) and export_run.c (streams, jobs, lineage).
 */
#ifndef STRATA_INGEST_EXPORT_INT_H
#define STRATA_INGEST_EXPORT_INT_H

#include <stdatomic.h>

#include "base/limits.h"
#include "ingest/cells.h"
#include "ingest/export.h"
#include "ingest/source.h"

struct export_ctx {
    store_t *store;
    job_runner *jobs;
    struct lineage *lineage;
    char *import_dir; /* "" when none */
    char *export_dir; /* real path */
    char *tmp_dir;    /* real path */
    size_t memory_bytes;
    size_t max_inline_bytes;
    int join; /* export_options.join */
    size_t scan_group_max;
    unsigned lookup_threads; /* 0: one per CPU */
    size_t lookup_chunk;
    _Atomic size_t inline_held; /* inline instance texts held by plans alive */
    _Atomic uint64_t stream_seq;
};

/* One requested feature ref. */
typedef struct export_feature {
    char ref[2 * LIMIT_NAME_MAX + 2];    /* "entity:feature" */
    char column[2 * LIMIT_NAME_MAX + 3]; /* "entity__feature" */
    char name[LIMIT_NAME_MAX + 1];
    size_t entity; /* index in plan->ents */
    size_t slot;   /* position among its entity's features */
    uint32_t feature_id;
    value_type type;
    int64_t ttl_seconds;
} export_feature;

/* One entity of the request, with the instance column holding its ids. */
typedef struct export_entity {
    char name[LIMIT_NAME_MAX + 1];
    uint32_t id;
    char *column;          /* historical: owned */
    size_t col;            /* CSV: column index */
    size_t total_features; /* the entity's features in the registry */
    size_t nfeat;
    size_t *feat; /* indexes in plan->feats, in slot order */
} export_entity;

struct export_plan {
    export_ctx *x;
    export_kind kind;
    export_format format;
    export_feature *feats;
    size_t nfeats;
    export_entity *ents;
    size_t nents;
    int64_t as_of; /* INT64_MAX: none */
    bool has_as_of;

    /* historical: the instances */
    bool jsonl;
    time_unit unit;
    char *ts_col;
    int fd; /* -1 for inline */
    uint64_t size;
    char *inline_data;
    size_t inline_len;
    char *uri; /* file:///... or "inline" */

    /* snapshot / history */
    int64_t snapshot_time;
    int64_t start_time, end_time;

    /* destination */
    char *dest; /* absolute; NULL: streamed */
    bool overwrite;

    json_t *spec;       /* as kept with a job and in lineage (inline text left out) */
    json_t *refs;       /* feature refs as a JSON array of strings */
    json_t *columns;    /* historical: the instance columns the plan saw, or NULL */
    int64_t created_at; /* when the plan was made */
};

/* A fresh source over the plan's instances (a dup of the file descriptor, or
 * the inline text); NULL with errno when the descriptor cannot be dup'ed. */
ingest_source *export_plan_source(const export_plan *p);

/* Bind the timestamp and entity columns of a historical plan to the columns
 * the instances show (CSV header, JSONL keys): INVALID_ARGUMENT naming what
 * is missing, or a column that would collide with a feature column. */
int export_bind_columns(export_plan *p, const slice *names, size_t n, const char *what,
                        strata_err *err);

/* Sanity of ids read from instances (1..256 bytes of UTF-8). */
bool export_valid_id(slice id);

#endif
