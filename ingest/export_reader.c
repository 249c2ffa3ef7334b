/*
 * export_reader.c - the point-in-time reader behind every export and the
 * trainer (export.h).
 *
 * NOTES ON THE DESIGN
 *
 * Historical exports join N instance rows with F features of E entities.
 * One RocksDB Seek per cell would cost N x F random reads; instead:
 *
 *   pass 1  read the instances once (CSV or JSONL, streamed). Every row is
 *           validated here, before a byte of output exists: a bad timestamp,
 *           id, ragged row or invalid UTF-8 fails the export with the line.
 *           Each row becomes one pass-through record in the OUTPUT sorter and
 *           one lookup record per entity in the LOOKUP sorter.
 *   pass 2  read the lookups in (entity, id in store order, time descending)
 *           order and answer them, in one of two ways per entity:
 *             seek  one store_pit_scan: each write group's iterator only
 *                   moves forward, one Seek per (id, group) — best when few
 *                   of the entity's features are asked for;
 *             scan  one forward walk over the entity's versions
 *                   (store_values_scan), at most one Seek per id (none when
 *                   the next id asked for is the next id stored), merged with
 *                   the id's lookups: for each requested feature a pointer
 *                   into the id's lookups (times descending) meets its
 *                   versions (newest first) — the same rule as
 *                   store_pit_scan, a tenth of the Seeks for ten features.
 *                   One id's lookups are buffered (at most scan_group_max
 *                   cells and SCAN_VALUES_MAX bytes of answers); a hotter id
 *                   falls back to the seek way for that id.
 *           AUTO takes scan when at least half of the entity's features are
 *           requested. Consecutive identical lookups (duplicate rows) reuse
 *           the answer. Each answer becomes one record in the OUTPUT sorter.
 *   pass 3  read the OUTPUT sorter in row order: for every row its
 *           pass-through record, then one answer per entity; hand out cells.
 *
 * Sorter records (memcmp order is the order wanted; integers big-endian):
 *
 *   LOOKUP key                           LOOKUP value
 *   OFFSET  SIZE  FIELD                  OFFSET SIZE FIELD
 *   0       1     entity index           0      8    row number, u64 BE
 *   1       2     id length L, u16 BE
 *   3       L     id bytes
 *   3+L     8     ~(time ^ 2^63), u64 BE: later times first
 *
 *   OUTPUT key: row number u64 BE | slot u8 (0 = pass-through, 1+e = entity e)
 *   OUTPUT value, slot 0, CSV instances:   per column: varint n | n bytes
 *   OUTPUT value, slot 0, JSONL instances: per key present and not null:
 *           varint column | kind u8 | payload (TEXT/JSON: varint n | bytes;
 *           INT, DOUBLE: 8 bytes LE; BOOL: 1 byte)
 *   OUTPUT value, slot 1+e: per feature of entity e (request order):
 *           varint n (0 = no version) | n - 1 bytes of the stored value
 *
 * The id length before the id bytes makes the byte order the store's id order
 * (store_id_cmp: shorter first), which is what the merge scan wants.
 *
 * Memory: the two sorters share the export's budget half and half; one row's
 * records and a few scratch buffers come on top. Everything that does not
 * fit is spilled as sorted runs (sorter.h). One store snapshot, taken at
 * open, serves every lookup, so the whole export sees one consistent view.
 *
 * Snapshot exports walk the entity's ids (store_ids_scan) and answer each with
 * the same merge scan at snapshot_time; history exports walk every stored
 * version (store_values_scan) and keep those in the range. Neither sorts.
 */
#include "ingest/export_int.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "ingest/csv_reader.h"
#include "ingest/jsonl_reader.h"
#include "ingest/sorter.h"

#define POLL_EVERY 4096u
/* Scan join buffers (the lookups x features buffered are
 * export_options.scan_group_max, 2^18 by default); reasons in base/limits.h. */
#define SCAN_VALUES_MAX LIMIT_EXPORT_SCAN_VALUES_BYTES
#define JSONL_NAMES_MAX_BYTES LIMIT_EXPORT_JSONL_NAMES_BYTES
#define WHY_MAX (CELL_WHY_MAX + 256)

enum { PT_TEXT = 1, PT_INT = 2, PT_DOUBLE = 3, PT_BOOL = 4, PT_JSON = 5 };

/*
 * Pass 2 runs on up to EXPORT_PARTS_MAX worker threads (one per CPU): the
 * reader's thread reads the one sorted lookup stream and hands it out in
 * CHUNKS of consecutive lookups (export_options.lookup_chunk, cut between ids
 * when it can be), each to whichever worker is free. A chunk is a contiguous
 * range of ids, and every worker gets its chunks in stream order, so each
 * worker's scans still only move forward: a worker Seeks once per chunk over
 * the ranges the others took, and reads only its own ranges' blocks. Each
 * worker answers into its own answer sorter; pass 3 merges the parts' answers
 * back by (row, slot). An id cut across chunks (only a very hot one is) is
 * answered in pieces by the workers that got them, each walking it once: a
 * part's group of an id simply goes on over its next chunk.
 * Memory: at most 2 chunks per worker exist (LIMIT_EXPORT_LOOKUP_CHUNK_BYTES
 * each); a worker that fails closes the queue so everyone stops.
 */
#define EXPORT_PARTS_MAX 4
#define CHUNKS_PER_PART 2

/* Lookups handed to a worker: records u16 BE key length | key | 8-byte value. */
typedef struct lchunk {
    buf b;
    size_t n;    /* records */
    size_t last; /* offset of the last record */
} lchunk;

typedef struct lqueue {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* any change: few waiters, so one condition */
    lchunk *chunks;
    size_t nchunks;
    size_t *ready; /* FIFO ring of filled chunks (indexes) */
    size_t rhead, rcount;
    size_t *idle; /* stack of free chunks */
    size_t nidle;
    bool closed; /* no more chunks will come */
    bool failed; /* someone failed: stop early */
} lqueue;

/* One buffered lookup of the scan join. */
typedef struct glookup {
    int64_t ts;
    uint64_t row;
} glookup;

typedef struct part {
    struct export_reader *r;
    size_t ix;
    sorter *answers;
    lchunk *chunk; /* the chunk being answered (queued pass 2) */
    size_t cpos;
    store_pit_scan *pit;
    version *vout;
    bool *found;
    uint64_t nlookups, done;
    /* scan join (see "pass 2"): the entity's values scan and one id's group */
    store_entity_scan *scan;
    bool scan_have; /* cur_id / cur_v hold the scan's current version */
    slice cur_id;
    version cur_v;
    glookup *grp;
    size_t ngrp, capgrp;
    buf grp_id;
    int64_t *ans_off; /* per lookup and feature: offset in vals, -1 none */
    size_t cap_ans;
    buf vals;
    uint32_t *sfid; /* the entity's requested feature ids, sorted */
    size_t *sslot;  /* their slots */
    int rc;
    strata_err err;
    pthread_t th;
    bool started;
    /* pass 3: the part's next answer (borrowed from its sorter) */
    slice hk, hv;
    bool have;
} part;

struct export_reader {
    export_ctx *x;
    export_plan *p;
    export_reader_options o;
    store_snapshot *snap;

    /* schema */
    export_schema schema;
    char **names; /* owned copies */
    slice *name_slices;
    size_t nnames, capnames;
    size_t *feature_col;
    value_type *feature_type;
    export_cell *cells;

    uint64_t rows_out;
    uint64_t polls;

    /* historical */
    part parts[EXPORT_PARTS_MAX];
    size_t nparts;
    sorter *lookups;
    sorter_stats lookup_stats; /* kept when the lookup sorter is closed */
    lqueue q;
    bool q_init;
    bool queued; /* pass 2 reads chunks from q, else part 0 reads lookups */
    sorter *out; /* pass-through records */
    uint64_t nrows;
    size_t npass;
    json_t *colmap; /* JSONL: key -> column index */
    size_t names_bytes;
    buf rowbuf, scratch;
    size_t *recoff, *reclen; /* this row's records in rowbuf: 1 + nents */
    char sha[65];
    uint64_t in_bytes;
    uint64_t read_ms, join_ms;

    /* snapshot / history */
    store_entity_scan *scan;
    store_pit_scan *pit; /* snapshot */
    version *vout;
    bool *found;
    char tbuf[2][TIME_RFC3339_MAX];
    uint32_t *hist_fid; /* history: requested feature ids, sorted */
    size_t *hist_ix;    /* their feature indexes */
};

/* ---- small helpers ---------------------------------------------------------------------- */

static void add_name(export_reader *r, slice name)
{
    if (r->nnames == r->capnames) {
        size_t cap = r->capnames ? r->capnames * 2 : 16;
        char **nn = realloc(r->names, cap * sizeof *nn);
        STRATA_ASSERT(nn != NULL);
        r->names = nn;
        r->capnames = cap;
    }
    char *c = malloc(name.n + 1);
    STRATA_ASSERT(c != NULL);
    memcpy(c, name.p, name.n);
    c[name.n] = '\0';
    r->names[r->nnames++] = c;
}

/* Freeze the schema: names so far, then the feature columns. */
static void finish_schema(export_reader *r, size_t npass)
{
    export_plan *p = r->p;
    r->schema.npassthrough = npass;
    for (size_t k = 0; k < p->nfeats; k++) {
        if (p->kind == EXPORT_HISTORY)
            break;
        add_name(r, slice_of(p->feats[k].column));
    }
    r->name_slices = calloc(r->nnames ? r->nnames : 1, sizeof *r->name_slices);
    r->cells = calloc(r->nnames ? r->nnames : 1, sizeof *r->cells);
    r->feature_col = calloc(p->nfeats ? p->nfeats : 1, sizeof *r->feature_col);
    r->feature_type = calloc(p->nfeats ? p->nfeats : 1, sizeof *r->feature_type);
    STRATA_ASSERT(r->name_slices && r->cells && r->feature_col && r->feature_type);
    for (size_t i = 0; i < r->nnames; i++)
        r->name_slices[i] = slice_of(r->names[i]);
    for (size_t k = 0; k < p->nfeats; k++) {
        r->feature_col[k] = p->kind == EXPORT_HISTORY ? 4 : npass + k;
        r->feature_type[k] = p->feats[k].type;
    }
    r->schema.ncols = r->nnames;
    r->schema.names = r->name_slices;
    r->schema.nfeatures = p->nfeats;
    r->schema.feature_col = r->feature_col;
    r->schema.feature_type = r->feature_type;
}

static bool poll_cancel(export_reader *r)
{
    return r->o.cancelled && r->o.cancelled(r->o.arg);
}

static int cancelled_err(strata_err *err)
{
    return err_set(err, STRATA_UNAVAILABLE, "the export was cancelled");
}

static void progress(export_reader *r, uint64_t done, uint64_t total)
{
    if (r->o.progress)
        r->o.progress(r->o.arg, done, total);
}

static int64_t ttl_us(int64_t ttl_seconds)
{
    if (ttl_seconds <= 0)
        return 0;
    if (ttl_seconds > INT64_MAX / TIME_US_PER_SEC)
        return INT64_MAX;
    return ttl_seconds * TIME_US_PER_SEC;
}

static int open_pit(export_reader *r, size_t ei, store_pit_scan **pit, strata_err *err)
{
    export_plan *p = r->p;
    export_entity *e = &p->ents[ei];
    store_pit_feature pf[LIMIT_EXPORT_FEATURES];
    for (size_t j = 0; j < e->nfeat; j++) {
        const export_feature *f = &p->feats[e->feat[j]];
        pf[j] = (store_pit_feature){f->feature_id, ttl_us(f->ttl_seconds)};
    }
    store_pit_scan_close(*pit);
    *pit = NULL;
    return store_pit_scan_open(r->x->store, e->id, pf, e->nfeat, p->as_of, r->snap, pit, err);
}

/* The registry now: features may have been deleted (or TTLs changed) since
 * the plan was made. */
static int refresh_features(export_reader *r, strata_err *err)
{
    export_plan *p = r->p;
    int rc = 0;
    const registry_t *reg = store_registry_acquire(r->x->store);
    for (size_t k = 0; k < p->nfeats && rc == 0; k++) {
        const feature_def *f = registry_feature_by_id(reg, p->feats[k].feature_id);
        if (!f)
            rc = err_set(err, STRATA_NOT_FOUND, "feature %s was deleted before the export ran",
                         p->feats[k].ref);
        else
            p->feats[k].ttl_seconds = f->ttl_seconds;
    }
    store_registry_release(r->x->store, reg);
    return rc;
}

/* ---- pass 1: the instances ------------------------------------------------------------------ */

static int bad_line(strata_err *err, uint64_t line, const char *why)
{
    return err_set(err, STRATA_INVALID_ARGUMENT,
                   "instances line %llu: %s; nothing was exported (fix the row and retry)",
                   (unsigned long long)line, why);
}

static int id_why(const export_entity *e, slice id, char *why)
{
    char ex[80];
    text_excerpt(slice_of(e->column), ex, sizeof ex);
    snprintf(why, WHY_MAX,
             "the id of entity \"%s\" (column \"%s\") must be 1 to %u bytes of UTF-8 without NUL%s",
             e->name, ex, LIMIT_ENTITY_ID_MAX, id.n ? "" : "; the cell is empty");
    return -1;
}

/* Record one row's lookups (one per entity) and its pass-through record. */
static int add_row(export_reader *r, const slice *ids, int64_t ts, strata_err *err)
{
    int rc;
    char key[3 + LIMIT_ENTITY_ID_MAX + 8], val[8], okey[9];
    put_u64be(val, r->nrows);
    uint64_t tk = ~((uint64_t)ts ^ (UINT64_C(1) << 63));
    for (size_t e = 0; e < r->p->nents; e++) {
        key[0] = (char)e;
        key[1] = (char)(ids[e].n >> 8);
        key[2] = (char)ids[e].n;
        memcpy(key + 3, ids[e].p, ids[e].n);
        put_u64be(key + 3 + ids[e].n, tk);
        if ((rc = sorter_add(r->lookups, (slice){key, 3 + ids[e].n + 8}, (slice){val, 8}, err)))
            return rc;
    }
    put_u64be(okey, r->nrows);
    okey[8] = 0;
    if ((rc = sorter_add(r->out, (slice){okey, 9}, buf_slice(&r->scratch), err)))
        return rc;
    r->nrows++;
    if (r->nrows % POLL_EVERY == 0) {
        if (poll_cancel(r))
            return cancelled_err(err);
        progress(r, r->nrows, 0);
    }
    return 0;
}

static int pass_csv(export_reader *r, ingest_source *src, strata_err *err)
{
    export_plan *p = r->p;
    int rc;
    csv_reader *cr = NULL;
    slice *hdr = NULL, *ids = NULL;
    char why[WHY_MAX], twhy[CELL_WHY_MAX], ex[80];
    if ((rc = csv_reader_open(src, NULL, &cr, err))) {
        err_prefix(err, "instances");
        goto out;
    }
    size_t n = csv_reader_ncols(cr), ts_idx = 0;
    hdr = calloc(n ? n : 1, sizeof *hdr);
    ids = calloc(p->nents ? p->nents : 1, sizeof *ids);
    STRATA_ASSERT(hdr && ids);
    for (size_t i = 0; i < n; i++) {
        hdr[i] = csv_reader_column(cr, i);
        if (slice_eq_str(hdr[i], p->ts_col))
            ts_idx = i;
        for (size_t k = 0; k < i; k++)
            if (slice_eq(hdr[k], hdr[i])) {
                text_excerpt(hdr[i], ex, sizeof ex);
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "the instances' header names column \"%s\" twice", ex);
                goto out;
            }
    }
    if ((rc = export_bind_columns(p, hdr, n, "header (the file changed?)", err)))
        goto out;
    for (size_t i = 0; i < n; i++)
        add_name(r, hdr[i]);
    r->npass = n;
    char ts_ex[80];
    text_excerpt(slice_of(p->ts_col), ts_ex, sizeof ts_ex);
    csv_row row;
    while ((rc = csv_reader_next(cr, &row, err)) == 1) {
        if (row.error) {
            rc = bad_line(err, row.line, row.error);
            goto out;
        }
        int64_t ts;
        slice cell = row.fields[ts_idx];
        if (cell.n == 0) {
            snprintf(why, sizeof why, "the timestamp (column \"%s\") is empty", ts_ex);
            rc = bad_line(err, row.line, why);
            goto out;
        }
        if (cell_parse_time(cell, p->unit, &ts, twhy)) {
            snprintf(why, sizeof why, "the timestamp (column \"%s\"): %s", ts_ex, twhy);
            rc = bad_line(err, row.line, why);
            goto out;
        }
        for (size_t e = 0; e < p->nents; e++) {
            ids[e] = row.fields[p->ents[e].col];
            if (!export_valid_id(ids[e]) && id_why(&p->ents[e], ids[e], why)) {
                rc = bad_line(err, row.line, why);
                goto out;
            }
        }
        buf_reset(&r->scratch);
        for (size_t i = 0; i < n; i++) {
            buf_put_varint(&r->scratch, row.fields[i].n);
            buf_append_slice(&r->scratch, row.fields[i]);
        }
        if ((rc = add_row(r, ids, ts, err)))
            goto out;
    }
out:
    free(hdr);
    free(ids);
    csv_reader_close(cr);
    return rc;
}

/* The column index of a JSONL key, adding it on first sight. */
static int jsonl_column(export_reader *r, const char *key, uint64_t line, size_t *ix,
                        strata_err *err)
{
    json_t *v = json_object_get(r->colmap, key);
    if (v) {
        *ix = (size_t)json_integer_value(v);
        return 0;
    }
    char ex[80], why[WHY_MAX];
    size_t kl = strlen(key);
    text_excerpt(slice_of(key), ex, sizeof ex);
    for (size_t k = 0; k < r->p->nfeats; k++)
        if (strcmp(key, r->p->feats[k].column) == 0) {
            snprintf(why, sizeof why,
                     "key \"%s\" has the name of the output column of feature %s; rename the key",
                     ex, r->p->feats[k].ref);
            return bad_line(err, line, why);
        }
    if (r->nnames >= LIMIT_IMPORT_COLUMNS || r->names_bytes + kl > JSONL_NAMES_MAX_BYTES) {
        snprintf(why, sizeof why,
                 "the instances hold more than %u distinct keys (or %zu bytes of key names)",
                 LIMIT_IMPORT_COLUMNS, JSONL_NAMES_MAX_BYTES);
        return bad_line(err, line, why);
    }
    *ix = r->nnames;
    json_object_set_new(r->colmap, key, json_integer((json_int_t)r->nnames));
    add_name(r, slice_of(key));
    r->names_bytes += kl;
    return 0;
}

static int pass_jsonl(export_reader *r, ingest_source *src, strata_err *err)
{
    export_plan *p = r->p;
    int rc;
    jsonl_reader *jr = jsonl_reader_open(src, 0);
    slice *ids = calloc(p->nents ? p->nents : 1, sizeof *ids);
    char(*idtmp)[32] = calloc(p->nents ? p->nents : 1, sizeof *idtmp);
    char why[WHY_MAX], twhy[CELL_WHY_MAX], ex[80];
    STRATA_ASSERT(ids && idtmp);
    r->colmap = json_object();
    char ts_ex[80];
    text_excerpt(slice_of(p->ts_col), ts_ex, sizeof ts_ex);
    jsonl_row row;
    while ((rc = jsonl_reader_next(jr, &row, err)) == 1) {
        if (row.error) {
            rc = bad_line(err, row.line, row.error);
            goto out;
        }
        int64_t ts;
        const json_t *tv = json_object_get(row.obj, p->ts_col);
        if (!tv || json_is_null(tv)) {
            snprintf(why, sizeof why, "the timestamp key \"%s\" is missing", ts_ex);
            rc = bad_line(err, row.line, why);
            goto out;
        }
        if (json_parse_time(tv, p->unit, &ts, twhy)) {
            snprintf(why, sizeof why, "the timestamp (key \"%s\"): %s", ts_ex, twhy);
            rc = bad_line(err, row.line, why);
            goto out;
        }
        for (size_t e = 0; e < p->nents; e++) {
            const json_t *iv = json_object_get(row.obj, p->ents[e].column);
            if (!iv || cell_json_id(iv, idtmp[e], sizeof idtmp[e], &ids[e])) {
                text_excerpt(slice_of(p->ents[e].column), ex, sizeof ex);
                snprintf(why, sizeof why,
                         "the id of entity \"%s\" (key \"%s\") must be a string "
                         "(or an integer)%s",
                         p->ents[e].name, ex, iv ? "" : "; the key is missing");
                rc = bad_line(err, row.line, why);
                goto out;
            }
            if (!export_valid_id(ids[e]) && id_why(&p->ents[e], ids[e], why)) {
                rc = bad_line(err, row.line, why);
                goto out;
            }
        }
        buf_reset(&r->scratch);
        const char *key;
        json_t *v;
        json_object_foreach (row.obj, key, v) {
            size_t ix = 0;
            if ((rc = jsonl_column(r, key, row.line, &ix, err)))
                goto out;
            if (json_is_null(v))
                continue;
            buf_put_varint(&r->scratch, ix);
            unsigned char raw[8];
            if (json_is_string(v)) {
                buf_putc(&r->scratch, PT_TEXT);
                buf_put_varint(&r->scratch, json_string_length(v));
                buf_append(&r->scratch, json_string_value(v), json_string_length(v));
            } else if (json_is_integer(v)) {
                uint64_t u = (uint64_t)json_integer_value(v);
                buf_putc(&r->scratch, PT_INT);
                for (int b = 0; b < 8; b++)
                    raw[b] = (unsigned char)(u >> (8 * b));
                buf_append(&r->scratch, raw, 8);
            } else if (json_is_real(v)) {
                double d = json_real_value(v);
                uint64_t u;
                memcpy(&u, &d, 8);
                buf_putc(&r->scratch, PT_DOUBLE);
                for (int b = 0; b < 8; b++)
                    raw[b] = (unsigned char)(u >> (8 * b));
                buf_append(&r->scratch, raw, 8);
            } else if (json_is_boolean(v)) {
                buf_putc(&r->scratch, PT_BOOL);
                buf_putc(&r->scratch, json_is_true(v) ? 1 : 0);
            } else {
                char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                STRATA_ASSERT(s != NULL);
                size_t sn = strlen(s);
                buf_putc(&r->scratch, PT_JSON);
                buf_put_varint(&r->scratch, sn);
                buf_append(&r->scratch, s, sn);
                free(s);
            }
        }
        if ((rc = add_row(r, ids, ts, err)))
            goto out;
    }
out:
    free(ids);
    free(idtmp);
    jsonl_reader_close(jr);
    return rc;
}

/* ---- pass 2: the lookups ----------------------------------------------------------------------
 */

/* Append one lookup's answer block (per feature: varint n+1 and the bytes). */
static int emit_answer(part *pt, size_t e, uint64_t row, slice block, strata_err *err)
{
    char okey[9];
    put_u64be(okey, row);
    okey[8] = (char)(e + 1);
    return sorter_add(pt->answers, (slice){okey, 9}, block, err);
}

static int check_block(const export_entity *ent, const buf *block, strata_err *err)
{
    if (block->n <= LIMIT_EXPORT_ROW_BYTES)
        return 0;
    return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                   "the feature values of entity \"%s\" for one row hold %zu bytes, over the "
                   "limit of %zu MiB per row",
                   ent->name, block->n, LIMIT_EXPORT_ROW_BYTES >> 20);
}

/* The seek way: one lookup through the entity's pit scan. */
static int seek_lookup(part *pt, size_t e, slice id, int64_t ts, buf *block, strata_err *err)
{
    export_reader *r = pt->r;
    const export_entity *ent = &r->p->ents[e];
    int rc;
    if (!pt->pit && (rc = open_pit(r, e, &pt->pit, err)))
        return rc;
    if ((rc = store_pit_scan_get(pt->pit, id, ts, pt->vout, pt->found, err)))
        return rc;
    buf_reset(block);
    for (size_t j = 0; j < ent->nfeat; j++) {
        if (!pt->found[j]) {
            buf_putc(block, 0);
            continue;
        }
        buf_put_varint(block, pt->vout[j].value.n + 1);
        buf_append_slice(block, pt->vout[j].value);
    }
    pt->nlookups++;
    return check_block(ent, block, err);
}

static int scan_advance(part *pt, strata_err *err)
{
    int rc = store_values_scan_next(pt->scan, &pt->cur_id, &pt->cur_v, err);
    pt->scan_have = rc == 1;
    return rc < 0 ? rc : 0;
}

/* The slot of feature id f among the requested ones, or SIZE_MAX. */
static size_t scan_slot(const part *pt, size_t nf, uint32_t f)
{
    size_t lo = 0, hi = nf;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pt->sfid[mid] < f)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < nf && pt->sfid[lo] == f ? pt->sslot[lo] : SIZE_MAX;
}

/* Answer the buffered lookups of one id (pt->grp, times descending) by
 * walking its versions once. 1 when the group is too big for the buffers
 * (the caller answers it the seek way), 0 done, <0 error. */
static int scan_group(part *pt, size_t e, buf *block, strata_err *err)
{
    export_reader *r = pt->r;
    export_plan *p = r->p;
    const export_entity *ent = &p->ents[e];
    size_t nf = ent->nfeat, m = pt->ngrp;
    slice id = buf_slice(&pt->grp_id);
    int rc;
    if (m * nf > r->x->scan_group_max)
        return 1;
    if (pt->cap_ans < m * nf) {
        free(pt->ans_off);
        pt->cap_ans = m * nf;
        pt->ans_off = malloc(pt->cap_ans * sizeof *pt->ans_off);
        STRATA_ASSERT(pt->ans_off != NULL);
    }
    for (size_t i = 0; i < m * nf; i++)
        pt->ans_off[i] = -1;
    size_t ptr[LIMIT_EXPORT_FEATURES];
    memset(ptr, 0, nf * sizeof *ptr);
    buf_reset(&pt->vals);
    /* Position the scan at the id: a Seek only when it is behind. (An id is
     * never walked twice by one part: a part's group of an id ends only
     * when another id comes, and a part sees its ids in order.) */
    if (pt->scan_have && store_id_cmp(pt->cur_id, id) < 0) {
        store_values_scan_seek(pt->scan, id);
        if ((rc = scan_advance(pt, err)))
            return rc;
    }
    while (pt->scan_have && slice_eq(pt->cur_id, id)) {
        const version *v = &pt->cur_v;
        size_t j = scan_slot(pt, nf, v->feature_id);
        if (j != SIZE_MAX && v->created_time <= p->as_of && ptr[j] < m &&
            pt->grp[ptr[j]].ts >= v->event_time) {
            int64_t ttl = ttl_us(p->feats[ent->feat[j]].ttl_seconds);
            int64_t off = -1;
            size_t i = ptr[j];
            for (; i < m && pt->grp[i].ts >= v->event_time; i++) {
                int64_t ts = pt->grp[i].ts;
                if (ttl > 0 && ts >= INT64_MIN + ttl && v->event_time < ts - ttl)
                    continue; /* outside the TTL window: none */
                if (off < 0) {
                    if (pt->vals.n + v->value.n > SCAN_VALUES_MAX)
                        return 1;
                    off = (int64_t)pt->vals.n;
                    buf_put_varint(&pt->vals, v->value.n + 1);
                    buf_append_slice(&pt->vals, v->value);
                }
                pt->ans_off[i * nf + j] = off;
            }
            ptr[j] = i;
        }
        if ((rc = scan_advance(pt, err)))
            return rc;
    }
    for (size_t i = 0; i < m; i++) {
        if (i == 0 || pt->grp[i].ts != pt->grp[i - 1].ts) {
            buf_reset(block);
            for (size_t j = 0; j < nf; j++) {
                int64_t off = pt->ans_off[i * nf + j];
                if (off < 0) {
                    buf_putc(block, 0);
                    continue;
                }
                const char *c = pt->vals.p + off;
                uint64_t n = 1;
                varint_get(&c, pt->vals.p + pt->vals.n, &n);
                buf_put_varint(block, n);
                buf_append(block, c, (size_t)(n - 1));
            }
            if ((rc = check_block(ent, block, err)))
                return rc;
            pt->nlookups++;
        }
        if ((rc = emit_answer(pt, e, pt->grp[i].row, buf_slice(block), err)))
            return rc;
    }
    return 0;
}

/* Answer the buffered group one way or the other. */
static int flush_group(part *pt, size_t e, buf *block, strata_err *err)
{
    int rc;
    if (pt->ngrp == 0)
        return 0;
    rc = scan_group(pt, e, block, err);
    if (rc == 1) {
        /* Too hot an id for the buffers: the seek way, lookup by lookup. */
        slice id = buf_slice(&pt->grp_id);
        rc = 0;
        for (size_t i = 0; i < pt->ngrp && rc == 0; i++) {
            if (i == 0 || pt->grp[i].ts != pt->grp[i - 1].ts)
                rc = seek_lookup(pt, e, id, pt->grp[i].ts, block, err);
            if (rc == 0)
                rc = emit_answer(pt, e, pt->grp[i].row, buf_slice(block), err);
        }
    }
    pt->ngrp = 0;
    return rc;
}

static bool use_scan(const export_reader *r, const export_entity *ent)
{
    if (r->x->join == EXPORT_JOIN_SCAN)
        return true;
    if (r->x->join == EXPORT_JOIN_SEEK)
        return false;
    return ent->nfeat * 2 >= ent->total_features;
}

static int start_entity(part *pt, size_t e, bool scan, strata_err *err)
{
    export_reader *r = pt->r;
    const export_entity *ent = &r->p->ents[e];
    store_pit_scan_close(pt->pit);
    pt->pit = NULL;
    store_entity_scan_close(pt->scan);
    pt->scan = NULL;
    pt->scan_have = false;
    pt->ngrp = 0;
    if (!scan)
        return 0;
    free(pt->sfid);
    free(pt->sslot);
    pt->sfid = calloc(ent->nfeat ? ent->nfeat : 1, sizeof *pt->sfid);
    pt->sslot = calloc(ent->nfeat ? ent->nfeat : 1, sizeof *pt->sslot);
    STRATA_ASSERT(pt->sfid && pt->sslot);
    /* Sorted by feature id (insertion sort: at most LIMIT_EXPORT_FEATURES). */
    for (size_t j = 0; j < ent->nfeat; j++) {
        uint32_t f = r->p->feats[ent->feat[j]].feature_id;
        size_t k = j;
        while (k > 0 && pt->sfid[k - 1] > f) {
            pt->sfid[k] = pt->sfid[k - 1];
            pt->sslot[k] = pt->sslot[k - 1];
            k--;
        }
        pt->sfid[k] = f;
        pt->sslot[k] = j;
    }
    int rc = store_values_scan_open(r->x->store, ent->id, r->snap, &pt->scan, err);
    if (rc)
        return rc;
    return scan_advance(pt, err);
}

/* ---- the chunk queue (see EXPORT_PARTS_MAX) ---- */

static void q_destroy(lqueue *q)
{
    for (size_t i = 0; i < q->nchunks; i++)
        buf_free(&q->chunks[i].b);
    free(q->chunks);
    free(q->ready);
    free(q->idle);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

static void q_init(lqueue *q, size_t nchunks)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->chunks = calloc(nchunks, sizeof *q->chunks);
    q->ready = calloc(nchunks, sizeof *q->ready);
    q->idle = calloc(nchunks, sizeof *q->idle);
    STRATA_ASSERT(q->chunks && q->ready && q->idle);
    q->nchunks = nchunks;
    for (size_t i = 0; i < nchunks; i++)
        q->idle[q->nidle++] = i;
}

/* A free chunk to fill (waits for one), or NULL once someone failed. */
static lchunk *q_take_idle(lqueue *q)
{
    lchunk *c = NULL;
    pthread_mutex_lock(&q->mu);
    while (q->nidle == 0 && !q->failed)
        pthread_cond_wait(&q->cv, &q->mu);
    if (!q->failed)
        c = &q->chunks[q->idle[--q->nidle]];
    pthread_mutex_unlock(&q->mu);
    return c;
}

static void q_give_back(lqueue *q, lchunk *c)
{
    pthread_mutex_lock(&q->mu);
    q->idle[q->nidle++] = (size_t)(c - q->chunks);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void q_push(lqueue *q, lchunk *c)
{
    pthread_mutex_lock(&q->mu);
    q->ready[(q->rhead + q->rcount) % q->nchunks] = (size_t)(c - q->chunks);
    q->rcount++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* The next filled chunk in stream order (waits for one), or NULL when there
 * are no more or someone failed. */
static lchunk *q_pop(lqueue *q)
{
    lchunk *c = NULL;
    pthread_mutex_lock(&q->mu);
    while (q->rcount == 0 && !q->closed && !q->failed)
        pthread_cond_wait(&q->cv, &q->mu);
    if (q->rcount && !q->failed) {
        c = &q->chunks[q->ready[q->rhead]];
        q->rhead = (q->rhead + 1) % q->nchunks;
        q->rcount--;
    }
    pthread_mutex_unlock(&q->mu);
    return c;
}

static void q_close(lqueue *q, bool failed)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    q->failed |= failed;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* A part's next lookup record: from the sorter when one part answers alone,
 * else from its chunks. Borrowed until the next call. */
static int next_lookup(part *pt, slice *k, slice *v, strata_err *err)
{
    export_reader *r = pt->r;
    if (!r->queued)
        return sorter_next(r->lookups, k, v, err);
    while (!pt->chunk || pt->cpos >= pt->chunk->b.n) {
        if (pt->chunk)
            q_give_back(&r->q, pt->chunk);
        pt->chunk = q_pop(&r->q);
        pt->cpos = 0;
        if (!pt->chunk)
            return 0; /* the end, or someone failed and reports it */
    }
    const char *c = pt->chunk->b.p + pt->cpos;
    size_t kn = get_u16be(c);
    *k = (slice){c + 2, kn};
    *v = (slice){c + 2 + kn, 8};
    pt->cpos += 2 + kn + 8;
    return 1;
}

/* Hand the sorted lookups out in chunks (the reader's thread, while the
 * workers answer). Reports progress and polls cancel. */
static int dispatch_lookups(export_reader *r, strata_err *err)
{
    lqueue *q = &r->q;
    lchunk *c = NULL;
    slice k, v;
    int rc;
    size_t soft = r->x->lookup_chunk, hard = 4 * soft;
    uint64_t n = 0, nents = r->p->nents ? r->p->nents : 1;
    while ((rc = sorter_next(r->lookups, &k, &v, err)) == 1) {
        if (k.n < 3 + 8 || k.n > UINT16_MAX || v.n != 8) {
            rc = err_set(err, STRATA_INTERNAL, "a lookup record is malformed");
            break;
        }
        if (c && c->n >= soft) {
            /* Cut between ids; within one only when it is very hot. */
            const char *last = c->b.p + c->last;
            bool same_id = get_u16be(last) == k.n && memcmp(last + 2, k.p, k.n - 8) == 0;
            if (!same_id || c->n >= hard || c->b.n >= LIMIT_EXPORT_LOOKUP_CHUNK_BYTES) {
                q_push(q, c);
                c = NULL;
            }
        }
        if (!c) {
            if (!(c = q_take_idle(q)))
                break; /* a worker failed: it reports why */
            buf_reset(&c->b);
            c->n = 0;
        }
        c->last = c->b.n;
        buf_put_u16be(&c->b, (uint16_t)k.n);
        buf_append_slice(&c->b, k);
        buf_append_slice(&c->b, v);
        c->n++;
        if (++n % POLL_EVERY == 0) {
            if (poll_cancel(r)) {
                rc = cancelled_err(err);
                break;
            }
            progress(r, r->nrows + n / nents, 3 * r->nrows);
        }
    }
    if (rc == 1)
        rc = 0;
    if (c) {
        if (rc == 0 && c->n)
            q_push(q, c);
        else
            q_give_back(q, c);
    }
    q_close(q, rc != 0);
    return rc;
}

/* Answer one part's lookups in order; runs on its own thread, or alone on
 * the reader's (which then reports progress). Every part polls cancel. */
static int lookup_part(part *pt, strata_err *err)
{
    export_reader *r = pt->r;
    export_plan *p = r->p;
    int rc;
    size_t cur = SIZE_MAX;
    bool scan = false;
    buf prev = BUF_INIT, block = BUF_INIT;
    slice k, v;
    while ((rc = next_lookup(pt, &k, &v, err)) == 1) {
        if (k.n < 3 + 8 || v.n != 8) {
            rc = err_set(err, STRATA_INTERNAL, "a lookup record is malformed");
            goto out;
        }
        size_t e = (unsigned char)k.p[0];
        size_t idn = get_u16be(k.p + 1);
        if (e >= p->nents || k.n != 3 + idn + 8) {
            rc = err_set(err, STRATA_INTERNAL, "a lookup record is malformed");
            goto out;
        }
        slice id = {k.p + 3, idn};
        uint64_t tk = ~get_u64be(k.p + 3 + idn) ^ (UINT64_C(1) << 63);
        int64_t ts = tk <= (uint64_t)INT64_MAX ? (int64_t)tk : -(int64_t)(~tk) - 1;
        uint64_t row = get_u64be(v.p);
        if (e != cur) {
            if (scan && (rc = flush_group(pt, cur, &block, err)))
                goto out;
            scan = use_scan(r, &p->ents[e]);
            if ((rc = start_entity(pt, e, scan, err)))
                goto out;
            cur = e;
            buf_reset(&prev);
        }
        if (scan) {
            if (pt->ngrp && !slice_eq(buf_slice(&pt->grp_id), id) &&
                (rc = flush_group(pt, e, &block, err)))
                goto out;
            if (pt->ngrp == 0) {
                buf_reset(&pt->grp_id);
                buf_append_slice(&pt->grp_id, id);
            }
            if (pt->ngrp == pt->capgrp) {
                size_t cap = pt->capgrp ? pt->capgrp * 2 : 256;
                glookup *ng = realloc(pt->grp, cap * sizeof *ng);
                STRATA_ASSERT(ng != NULL);
                pt->grp = ng;
                pt->capgrp = cap;
            }
            pt->grp[pt->ngrp++] = (glookup){ts, row};
            /* A hot id: past the buffer's worth, answer what is held the
             * seek way and go on with the rest the same way. */
            if (pt->ngrp * p->ents[e].nfeat > r->x->scan_group_max &&
                (rc = flush_group(pt, e, &block, err)))
                goto out;
        } else {
            if (!slice_eq(buf_slice(&prev), k)) {
                if ((rc = seek_lookup(pt, e, id, ts, &block, err)))
                    goto out;
                buf_reset(&prev);
                buf_append_slice(&prev, k);
            }
            if ((rc = emit_answer(pt, e, row, buf_slice(&block), err)))
                goto out;
        }
        if (++pt->done % POLL_EVERY == 0) {
            if (poll_cancel(r)) {
                rc = cancelled_err(err);
                goto out;
            }
            if (!r->queued)
                progress(r, r->nrows + pt->done / (p->nents ? p->nents : 1), 3 * r->nrows);
        }
    }
    if (rc == 0 && scan)
        rc = flush_group(pt, cur, &block, err);
    if (rc == 0)
        rc = sorter_finish(pt->answers, err);
out:
    store_pit_scan_close(pt->pit);
    pt->pit = NULL;
    store_entity_scan_close(pt->scan);
    pt->scan = NULL;
    if (pt->chunk) {
        q_give_back(&r->q, pt->chunk);
        pt->chunk = NULL;
    }
    if (rc && r->queued)
        q_close(&r->q, true);
    buf_free(&prev);
    buf_free(&block);
    return rc;
}

static void *lookup_thread(void *arg)
{
    part *pt = arg;
    pt->rc = lookup_part(pt, &pt->err);
    return NULL;
}

static int pass_lookups(export_reader *r, strata_err *err)
{
    int rc = sorter_finish(r->lookups, err);
    if (rc)
        return rc;
    size_t started = 0;
    if (r->nparts > 1) {
        q_init(&r->q, CHUNKS_PER_PART * r->nparts);
        r->q_init = true;
        r->queued = true;
        for (size_t i = 0; i < r->nparts; i++) {
            part *pt = &r->parts[i];
            pt->started = pthread_create(&pt->th, NULL, lookup_thread, pt) == 0;
            started += pt->started;
        }
    }
    if (started == 0) {
        /* One part (or no thread to be had): answer everything here. */
        r->queued = false;
        rc = lookup_part(&r->parts[0], err);
    } else {
        rc = dispatch_lookups(r, err);
    }
    for (size_t i = 0; i < r->nparts; i++) {
        part *pt = &r->parts[i];
        if (pt->started)
            pthread_join(pt->th, NULL);
        else if (i > 0 || started > 0)
            pt->rc = sorter_finish(pt->answers, &pt->err); /* took no chunk */
        pt->started = false;
        /* The dispatcher stops quietly when a worker failed: then the first
         * worker's failure tells why. */
        if (rc == 0 && pt->rc) {
            rc = pt->rc;
            *err = pt->err;
            pt->err.details = NULL;
        }
        err_clear(&pt->err);
    }
    sorter_get_stats(r->lookups, &r->lookup_stats);
    sorter_close(r->lookups);
    r->lookups = NULL;
    /* Every part's first answer, for the merge of pass 3. */
    for (size_t i = 0; i < r->nparts && rc == 0; i++) {
        part *pt = &r->parts[i];
        rc = sorter_next(pt->answers, &pt->hk, &pt->hv, err);
        pt->have = rc == 1;
        if (rc == 1)
            rc = 0;
    }
    return rc;
}

/* ---- pass 3: the rows -------------------------------------------------------------------------
 */

static int corrupt_row(strata_err *err, uint64_t row)
{
    return err_set(err, STRATA_INTERNAL, "export row %llu could not be assembled",
                   (unsigned long long)row);
}

static int decode_passthrough(export_reader *r, slice rec, uint64_t row, strata_err *err)
{
    const char *c = rec.p, *end = rec.p + rec.n;
    uint64_t n;
    if (!r->p->jsonl) {
        for (size_t i = 0; i < r->npass; i++) {
            if (varint_get(&c, end, &n) || n > (uint64_t)(end - c))
                return corrupt_row(err, row);
            r->cells[i] = (export_cell){.kind = EXPORT_CELL_TEXT, .s = {c, (size_t)n}};
            c += n;
        }
        return 0;
    }
    for (size_t i = 0; i < r->npass; i++)
        r->cells[i] = (export_cell){.kind = EXPORT_CELL_NONE};
    while (c < end) {
        uint64_t col;
        if (varint_get(&c, end, &col) || col >= r->npass || c >= end)
            return corrupt_row(err, row);
        export_cell *cell = &r->cells[col];
        int kind = (unsigned char)*c++;
        uint64_t u = 0;
        switch (kind) {
        case PT_TEXT:
        case PT_JSON:
            if (varint_get(&c, end, &n) || n > (uint64_t)(end - c))
                return corrupt_row(err, row);
            *cell = (export_cell){.kind = kind == PT_TEXT ? EXPORT_CELL_TEXT : EXPORT_CELL_JSON,
                                  .s = {c, (size_t)n}};
            c += n;
            break;
        case PT_INT:
        case PT_DOUBLE:
            if (end - c < 8)
                return corrupt_row(err, row);
            u = get_u64le(c);
            c += 8;
            if (kind == PT_INT) {
                *cell = (export_cell){.kind = EXPORT_CELL_INT, .i = (int64_t)u};
            } else {
                *cell = (export_cell){.kind = EXPORT_CELL_DOUBLE};
                memcpy(&cell->d, &u, 8);
            }
            break;
        case PT_BOOL:
            if (end - c < 1)
                return corrupt_row(err, row);
            *cell = (export_cell){.kind = EXPORT_CELL_BOOL, .b = *c++ != 0};
            break;
        default:
            return corrupt_row(err, row);
        }
    }
    return 0;
}

static int decode_entity(export_reader *r, size_t e, slice rec, uint64_t row, strata_err *err)
{
    const export_entity *ent = &r->p->ents[e];
    const char *c = rec.p, *end = rec.p + rec.n;
    for (size_t j = 0; j < ent->nfeat; j++) {
        uint64_t n;
        if (varint_get(&c, end, &n) || (n && n - 1 > (uint64_t)(end - c)))
            return corrupt_row(err, row);
        export_cell *cell = &r->cells[r->feature_col[ent->feat[j]]];
        if (n == 0) {
            *cell = (export_cell){.kind = EXPORT_CELL_NONE};
            continue;
        }
        *cell = (export_cell){.kind = EXPORT_CELL_VALUE, .s = {c, (size_t)(n - 1)}};
        c += n - 1;
    }
    return 0;
}

/* The smallest head among the parts' answers, or NULL when all are done. */
static part *min_head(export_reader *r)
{
    part *best = NULL;
    for (size_t i = 0; i < r->nparts; i++) {
        part *pt = &r->parts[i];
        if (pt->have && (!best || slice_cmp(pt->hk, best->hk) < 0))
            best = pt;
    }
    return best;
}

static int next_historical(export_reader *r, strata_err *err)
{
    export_plan *p = r->p;
    int rc;
    slice k, v;
    uint64_t row = r->rows_out;
    buf_reset(&r->rowbuf);
    rc = sorter_next(r->out, &k, &v, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return row == r->nrows && !min_head(r) ? 0 : corrupt_row(err, row);
    if (k.n != 9 || get_u64be(k.p) != row || k.p[8] != 0)
        return corrupt_row(err, row);
    r->recoff[0] = 0;
    r->reclen[0] = v.n;
    buf_append_slice(&r->rowbuf, v);
    for (size_t slot = 1; slot <= p->nents; slot++) {
        part *pt = min_head(r);
        if (!pt || pt->hk.n != 9 || get_u64be(pt->hk.p) != row ||
            (unsigned char)pt->hk.p[8] != slot)
            return corrupt_row(err, row);
        r->recoff[slot] = r->rowbuf.n;
        r->reclen[slot] = pt->hv.n;
        buf_append_slice(&r->rowbuf, pt->hv);
        rc = sorter_next(pt->answers, &pt->hk, &pt->hv, err);
        if (rc < 0)
            return rc;
        pt->have = rc == 1;
    }
    if ((rc = decode_passthrough(r, (slice){r->rowbuf.p + r->recoff[0], r->reclen[0]}, row, err)))
        return rc;
    for (size_t e = 0; e < p->nents; e++)
        if ((rc = decode_entity(r, e, (slice){r->rowbuf.p + r->recoff[e + 1], r->reclen[e + 1]},
                                row, err)))
            return rc;
    return 1;
}

static int next_snapshot(export_reader *r, strata_err *err)
{
    slice id;
    int rc = store_ids_scan_next(r->scan, &id, err);
    if (rc <= 0)
        return rc;
    const export_entity *ent = &r->p->ents[0];
    if ((rc = store_pit_scan_get(r->pit, id, r->p->snapshot_time, r->vout, r->found, err)))
        return rc;
    r->cells[0] = (export_cell){.kind = EXPORT_CELL_TEXT, .s = id};
    for (size_t j = 0; j < ent->nfeat; j++)
        r->cells[1 + j] = r->found[j]
                              ? (export_cell){.kind = EXPORT_CELL_VALUE, .s = r->vout[j].value}
                              : (export_cell){.kind = EXPORT_CELL_NONE};
    return 1;
}

static int next_history(export_reader *r, strata_err *err)
{
    export_plan *p = r->p;
    slice id;
    version v;
    for (uint64_t skipped = 1;; skipped++) {
        int rc = store_values_scan_next(r->scan, &id, &v, err);
        if (rc <= 0)
            return rc;
        if (skipped % (16 * POLL_EVERY) == 0 && poll_cancel(r))
            return cancelled_err(err);
        size_t lo = 0, hi = p->nfeats;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (r->hist_fid[mid] < v.feature_id)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == p->nfeats || r->hist_fid[lo] != v.feature_id)
            continue;
        if (v.event_time < p->start_time || v.event_time >= p->end_time ||
            v.created_time > p->as_of)
            continue;
        const export_feature *f = &p->feats[r->hist_ix[lo]];
        time_format_rfc3339(v.event_time, r->tbuf[0], sizeof r->tbuf[0]);
        time_format_rfc3339(v.created_time, r->tbuf[1], sizeof r->tbuf[1]);
        r->cells[0] = (export_cell){.kind = EXPORT_CELL_TEXT, .s = id};
        r->cells[1] = (export_cell){.kind = EXPORT_CELL_TEXT, .s = slice_of(f->name)};
        r->cells[2] = (export_cell){.kind = EXPORT_CELL_TEXT, .s = slice_of(r->tbuf[0])};
        r->cells[3] = (export_cell){.kind = EXPORT_CELL_TEXT, .s = slice_of(r->tbuf[1])};
        r->cells[4] = (export_cell){.kind = EXPORT_CELL_VALUE, .s = v.value};
        return 1;
    }
}

int export_reader_next(export_reader *r, const export_cell **row, strata_err *err)
{
    int rc;
    if (r->rows_out && r->rows_out % POLL_EVERY == 0) {
        if (poll_cancel(r))
            return cancelled_err(err);
        progress(r, r->p->kind == EXPORT_HISTORICAL ? 2 * r->nrows + r->rows_out : r->rows_out,
                 r->p->kind == EXPORT_HISTORICAL ? 3 * r->nrows : 0);
    }
    switch (r->p->kind) {
    case EXPORT_HISTORICAL:
        rc = next_historical(r, err);
        break;
    case EXPORT_SNAPSHOT:
        rc = next_snapshot(r, err);
        break;
    default:
        rc = next_history(r, err);
        break;
    }
    if (rc == 1) {
        r->rows_out++;
        *row = r->cells;
    } else if (rc == 0 && r->p->kind == EXPORT_HISTORICAL) {
        progress(r, 3 * r->nrows, 3 * r->nrows);
    }
    return rc;
}

/* ---- open / close ------------------------------------------------------------------------------
 */

static int open_historical(export_reader *r, strata_err *err)
{
    export_plan *p = r->p;
    export_ctx *x = r->x;
    int rc;
    /* Lookups are CPU-bound: split them over the CPUs in chunks of
     * consecutive ids (see EXPORT_PARTS_MAX). */
    long cpus = x->lookup_threads ? (long)x->lookup_threads : sysconf(_SC_NPROCESSORS_ONLN);
    r->nparts = cpus < 1                  ? 1
                : cpus > EXPORT_PARTS_MAX ? EXPORT_PARTS_MAX
                                          : (size_t)cpus;
    /* The budget: half for the lookups, a sixth for the pass-through rows, a
     * third for the answers (the biggest records), split over the parts. */
    size_t b = x->memory_bytes;
    sorter_options so = {.tmp_dir = x->tmp_dir, .what = "export rows", .memory_bytes = b / 6};
    if ((rc = sorter_open(&so, &r->out, err)))
        return rc;
    so.what = "instance lookups";
    so.memory_bytes = b / 2;
    /* Pass 1 and the start of pass 2 wait on this sort while the lookup
     * workers idle: let it use a second CPU. */
    so.threads = r->nparts > 1 ? 2 : 1;
    if ((rc = sorter_open(&so, &r->lookups, err)))
        return rc;
    so.threads = 1;
    size_t maxf = 1;
    for (size_t e = 0; e < p->nents; e++)
        if (p->ents[e].nfeat > maxf)
            maxf = p->ents[e].nfeat;
    for (size_t i = 0; i < r->nparts; i++) {
        part *pt = &r->parts[i];
        pt->r = r;
        pt->ix = i;
        pt->vout = calloc(maxf, sizeof *pt->vout);
        pt->found = calloc(maxf, sizeof *pt->found);
        STRATA_ASSERT(pt->vout && pt->found);
        so.what = "export answers";
        so.memory_bytes = b / 3 / r->nparts;
        if ((rc = sorter_open(&so, &pt->answers, err)))
            return rc;
    }
    r->recoff = calloc(p->nents + 1, sizeof *r->recoff);
    r->reclen = calloc(p->nents + 1, sizeof *r->reclen);
    STRATA_ASSERT(r->recoff && r->reclen);
    uint64_t t0 = time_mono_ns();
    ingest_source *src = export_plan_source(p);
    if (!src)
        return err_set(err, STRATA_INTERNAL, "cannot reopen the instances: %s", strerror(errno));
    rc = ingest_source_rewind(src, err);
    if (rc == 0)
        rc = p->jsonl ? pass_jsonl(r, src, err) : pass_csv(r, src, err);
    ingest_source_sha256(src, r->sha);
    r->in_bytes = ingest_source_bytes_read(src);
    ingest_source_close(src);
    if (rc)
        return rc;
    r->npass = r->nnames;
    finish_schema(r, r->nnames);
    progress(r, r->nrows, 3 * r->nrows);
    if ((rc = sorter_finish(r->out, err)))
        return rc;
    uint64_t t1 = time_mono_ns();
    r->read_ms = (t1 - t0) / 1000000;
    rc = pass_lookups(r, err);
    r->join_ms = (time_mono_ns() - t1) / 1000000;
    return rc;
}

static int hist_cmp(const void *a, const void *b, void *arg)
{
    const export_plan *p = arg;
    uint32_t x = p->feats[*(const size_t *)a].feature_id,
             y = p->feats[*(const size_t *)b].feature_id;
    return (x > y) - (x < y);
}

static int open_entity_kind(export_reader *r, strata_err *err)
{
    export_plan *p = r->p;
    const export_entity *e = &p->ents[0];
    char idcol[LIMIT_NAME_MAX + 4];
    snprintf(idcol, sizeof idcol, "%s_id", e->name);
    add_name(r, slice_of(idcol));
    if (p->kind == EXPORT_SNAPSHOT) {
        finish_schema(r, 1);
        int rc = open_pit(r, 0, &r->pit, err);
        if (rc)
            return rc;
        return store_ids_scan_open(r->x->store, e->id, r->snap, &r->scan, err);
    }
    static const char *const cols[] = {"feature", "event_time", "created_time", "value"};
    for (size_t i = 0; i < 4; i++)
        add_name(r, slice_of(cols[i]));
    finish_schema(r, 0);
    r->hist_fid = calloc(p->nfeats ? p->nfeats : 1, sizeof *r->hist_fid);
    r->hist_ix = calloc(p->nfeats ? p->nfeats : 1, sizeof *r->hist_ix);
    STRATA_ASSERT(r->hist_fid && r->hist_ix);
    for (size_t k = 0; k < p->nfeats; k++)
        r->hist_ix[k] = k;
    qsort_r(r->hist_ix, p->nfeats, sizeof *r->hist_ix, hist_cmp, p);
    for (size_t k = 0; k < p->nfeats; k++)
        r->hist_fid[k] = p->feats[r->hist_ix[k]].feature_id;
    return store_values_scan_open(r->x->store, e->id, r->snap, &r->scan, err);
}

int export_reader_open(export_ctx *x, export_plan *p, const export_reader_options *opts,
                       export_reader **out, strata_err *err)
{
    int rc;
    *out = NULL;
    export_reader *r = calloc(1, sizeof *r);
    STRATA_ASSERT(r != NULL);
    r->x = x;
    r->p = p;
    if (opts)
        r->o = *opts;
    size_t maxf = 1;
    for (size_t e = 0; e < p->nents; e++)
        if (p->ents[e].nfeat > maxf)
            maxf = p->ents[e].nfeat;
    r->vout = calloc(maxf, sizeof *r->vout);
    r->found = calloc(maxf, sizeof *r->found);
    STRATA_ASSERT(r->vout && r->found);
    if ((rc = refresh_features(r, err)))
        goto fail;
    /* One view for the whole export: taken before the first lookup. */
    r->snap = store_snapshot_take(x->store);
    rc = p->kind == EXPORT_HISTORICAL ? open_historical(r, err) : open_entity_kind(r, err);
    if (rc)
        goto fail;
    *out = r;
    return 0;
fail:
    export_reader_close(r);
    return rc;
}

const export_schema *export_reader_schema(const export_reader *r)
{
    return &r->schema;
}

uint64_t export_reader_rows(const export_reader *r)
{
    return r->p->kind == EXPORT_HISTORICAL ? r->nrows : r->rows_out;
}

void export_reader_get_stats(const export_reader *r, export_reader_stats *out)
{
    memset(out, 0, sizeof *out);
    out->instance_rows = r->nrows;
    sorter_stats s;
    if (r->out) {
        sorter_get_stats(r->out, &s);
        out->spilled_bytes += s.spilled_bytes;
        out->runs += s.runs;
        out->peak_memory += s.peak_memory;
    }
    if (r->lookups)
        sorter_get_stats(r->lookups, &s);
    else
        s = r->lookup_stats;
    if (r->p->kind == EXPORT_HISTORICAL) {
        out->spilled_bytes += s.spilled_bytes;
        out->runs += s.runs;
        out->peak_memory += s.peak_memory;
    }
    for (size_t i = 0; i < r->nparts; i++) {
        const part *pt = &r->parts[i];
        out->lookups += pt->nlookups;
        if (pt->answers) {
            sorter_get_stats(pt->answers, &s);
            out->spilled_bytes += s.spilled_bytes;
            out->runs += s.runs;
            out->peak_memory += s.peak_memory;
        }
    }
    memcpy(out->instances_sha256, r->sha, sizeof r->sha);
    out->instances_bytes = r->in_bytes;
    out->read_ms = r->read_ms;
    out->join_ms = r->join_ms;
}

void export_reader_close(export_reader *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nparts; i++) {
        part *pt = &r->parts[i];
        if (pt->started)
            pthread_join(pt->th, NULL);
        sorter_close(pt->answers);
        store_pit_scan_close(pt->pit);
        store_entity_scan_close(pt->scan);
        free(pt->vout);
        free(pt->found);
        free(pt->grp);
        free(pt->ans_off);
        free(pt->sfid);
        free(pt->sslot);
        buf_free(&pt->grp_id);
        buf_free(&pt->vals);
        err_clear(&pt->err);
    }
    if (r->q_init)
        q_destroy(&r->q);
    sorter_close(r->lookups);
    sorter_close(r->out);
    store_pit_scan_close(r->pit);
    store_entity_scan_close(r->scan);
    if (r->snap)
        store_snapshot_release(r->x->store, r->snap);
    for (size_t i = 0; i < r->nnames; i++)
        free(r->names[i]);
    free(r->names);
    free(r->name_slices);
    free(r->feature_col);
    free(r->feature_type);
    free(r->cells);
    json_decref(r->colmap);
    buf_free(&r->rowbuf);
    buf_free(&r->scratch);
    free(r->recoff);
    free(r->reclen);
    free(r->vout);
    free(r->found);
    free(r->hist_fid);
    free(r->hist_ix);
    free(r);
}
