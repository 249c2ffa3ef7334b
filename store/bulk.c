/*
 * bulk.c - big write batches loaded as table files (an import's commits).
 *
 * NOTES ON THE DESIGN
 *
 * Through the WAL and the memtables a write costs a skiplist insert per key
 * (a search among everything the memtable holds), the WAL copy, and later the
 * flush that writes the same keys once more; for a million-row import that is
 * most of its time. A load sorts the batch's ops once, writes one table file
 * per column family with SstFileWriter and hands the files to RocksDB
 * (IngestExternalFile, moved: a hard link, an fsync, a MANIFEST record).
 * The keys and values are exactly those store_write would have written.
 *
 * A load is a set of files in <data dir>/ingest named by the load's first
 * write seq (16 hex digits, unique for the life of the directory):
 *
 *   <name>.values.sst  <name>.latest.sst   written and fsynced by SstFileWriter
 *                                          (store_bulk_prepare, no lock held)
 *   <name>.ready                           created (and the directory fsynced)
 *                                          by store_bulk_commit, under data_lock,
 *                                          once the caller knows the load stands
 *
 * then each file is ingested in column family order, `values` before
 * `latest`; RocksDB removes a file's staging name once it is in. Last the
 * marker goes. A crash, or an ingest that fails, before the marker exists leaves
 * nothing visible and the next open deletes the set; after it, the next open
 * (store_bulk_pending) ingests the set's remaining files in the same order
 * before anything is served. Ingesting a file again that a crash left behind
 * after its ingest is harmless: the same `values` keys with the same values,
 * and the same `latest` operands, which the merge keeps once (per feature the
 * newest version wins, whatever the order or count of operands).
 *
 * Ingesting a file again requires it to be as SstFileWriter wrote it. RocksDB
 * 7.8 by default writes the global sequence number it gives an ingested file
 * into the file itself, which through the hard link changed the staging file
 * too; ingesting that again was refused as corrupt and stratad would not
 * start (test_crash found it). The ingests run with write_global_seqno off
 * (rocksdb_ext.cc: the C API has no setter): RocksDB keeps the number in its
 * MANIFEST and never writes to the file. Copying the files in instead cost
 * bench/ingest's import a second (3.44 s against 2.38).
 *
 * Readers are not held off between the two ingests: for that moment a
 * point-in-time read can see the new versions while an online read still
 * returns the previous latest values. A WriteBatch has no such moment; an
 * import's batches are not requests, and the window is one ingest long.
 *
 * A table file needs its keys strictly ascending: ops on one key are folded
 * (several `latest` operands for one id, from rows of one id in the batch,
 * become one merged row; of several puts the last staged wins, as in a
 * WriteBatch).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "store/store_int.h"

#define READY_SUFFIX ".ready"
/* Ops fetched ahead of the one written (store_batch_prefetch): far enough to
 * cover a memory latency at the pace SstFileWriter takes them. */
#define LOAD_PREFETCH 16
#define NAME_DIGITS 16

/* The column families a load may write, in ingest order. */
static const enum store_cf load_cfs[] = {CF_VALUES, CF_LATEST};
#define LOAD_CFS (sizeof load_cfs / sizeof load_cfs[0])
_Static_assert(LOAD_CFS == sizeof((store_load *)0)->cfs / sizeof(enum store_cf),
               "store_load holds a file per loaded column family");

void store_bulk_init(store_t *st)
{
    st->bulk_env = rocksdb_envoptions_create();
    st->bulk_io = rocksdb_ingestexternalfileoptions_create();
    rocksdb_ingestexternalfileoptions_set_move_files(st->bulk_io, 1);
    store_ingest_options_keep_files(st->bulk_io); /* see above */
    for (size_t i = 0; i < LOAD_CFS; i++) {
        enum store_cf cf = load_cfs[i];
        /* SstFileWriter compresses with the bottommost level's setting (a
         * file may be ingested there): ZSTD for `latest`, LZ4 for `values`.
         * A load writes its files uncompressed instead: bench/ingest's
         * import took 2.4-2.9 s that way against 3.0-3.3 s with compression
         * (1.7x the disk until compactions rewrite the files compressed). */
        st->bulk_opts[cf] = rocksdb_options_create_copy(st->cf_opts[cf]);
        rocksdb_options_set_bottommost_compression(st->bulk_opts[cf], rocksdb_no_compression);
        rocksdb_options_set_compression(st->bulk_opts[cf], rocksdb_no_compression);
    }
}

void store_bulk_fini(store_t *st)
{
    for (size_t i = 0; i < LOAD_CFS; i++)
        if (st->bulk_opts[load_cfs[i]])
            rocksdb_options_destroy(st->bulk_opts[load_cfs[i]]);
    if (st->bulk_io)
        rocksdb_ingestexternalfileoptions_destroy(st->bulk_io);
    if (st->bulk_env)
        rocksdb_envoptions_destroy(st->bulk_env);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static bool is_load_cf(enum store_cf cf)
{
    for (size_t i = 0; i < LOAD_CFS; i++)
        if (load_cfs[i] == cf)
            return true;
    return false;
}

/* Write ops [from, to) of the sorted batch, all of column family cf, to path. */
static int write_table(store_t *st, const store_batch *b, size_t from, size_t to, enum store_cf cf,
                       const char *path, strata_err *err)
{
    int rc = 0;
    char *rerr = NULL;
    buf folded = BUF_INIT;
    const char **ops = NULL;
    size_t *lens = NULL, cap = 0;
    rocksdb_sstfilewriter_t *w = rocksdb_sstfilewriter_create(st->bulk_env, st->bulk_opts[cf]);
    rocksdb_sstfilewriter_open(w, path, &rerr);
    for (size_t i = from; i < to && !rerr && !rc;) {
        enum store_cf c;
        enum store_op op, last_op;
        slice k, v, k2, v2;
        store_batch_op(b, i, &c, &op, &k, &v);
        size_t j = i + 1, merges = op == STORE_OP_MERGE;
        last_op = op;
        for (; j < to; j++) {
            store_batch_prefetch(b, j + LOAD_PREFETCH);
            store_batch_op(b, j, &c, &last_op, &k2, &v2);
            if (slice_cmp(k, k2) != 0)
                break;
            merges += last_op == STORE_OP_MERGE;
        }
        store_batch_op(b, j - 1, &c, &last_op, &k2, &v2);
        if (merges == j - i && merges > 1) {
            if (merges > cap) {
                cap = merges;
                free(ops);
                free(lens);
                ops = malloc(cap * sizeof *ops);
                lens = malloc(cap * sizeof *lens);
                if (!ops || !lens) {
                    rc = err_set(err, STRATA_NOMEM, "out of memory loading values");
                    break;
                }
            }
            for (size_t m = i; m < j; m++) {
                store_batch_op(b, m, &c, &op, &k2, &v2);
                ops[m - i] = v2.p;
                lens[m - i] = v2.n;
            }
            buf_reset(&folded);
            if (store_row_merge(ops, lens, merges, &folded) != 0) {
                rc = err_set(err, STRATA_INTERNAL, "folding latest-row operands failed");
                break;
            }
            rocksdb_sstfilewriter_merge(w, k.p, k.n, folded.p, folded.n, &rerr);
        } else if (merges == 1 && j - i == 1) {
            rocksdb_sstfilewriter_merge(w, k.p, k.n, v.p, v.n, &rerr);
        } else if (merges) {
            /* store_write never stages a put and a merge of one key. */
            rc = err_set(err, STRATA_INTERNAL, "a bulk load mixes a put and a merge of one key");
        } else if (last_op == STORE_OP_PUT) {
            rocksdb_sstfilewriter_put(w, k.p, k.n, v2.p, v2.n, &rerr);
        } else {
            rocksdb_sstfilewriter_delete(w, k.p, k.n, &rerr);
        }
        i = j;
    }
    if (!rc && !rerr)
        rocksdb_sstfilewriter_finish(w, &rerr);
    if (rerr && !rc)
        rc = store_rdb_err(err, rerr, "writing a table file to load");
    else if (rerr)
        rocksdb_free(rerr);
    rocksdb_sstfilewriter_destroy(w);
    buf_free(&folded);
    free(ops);
    free(lens);
    return rc;
}

static int ingest_file(store_t *st, enum store_cf cf, const char *path, strata_err *err)
{
    char *rerr = NULL;
    const char *files[1] = {path};
    rocksdb_ingest_external_file_cf(st->db, st->cf[cf], files, 1, st->bulk_io, &rerr);
    if (rerr)
        return store_rdb_err(err, rerr, "ingesting a loaded table file");
    atomic_fetch_add(&st->bulk_files, 1);
    /* RocksDB removed the staging name (moved); should it remain, the next
     * start ingests it again, harmlessly. */
    return 0;
}

/* Ops [from, to) of the sorted batch as one WriteBatch. */
static int write_rest(store_t *st, const store_batch *b, size_t from, size_t to, strata_err *err)
{
    char *rerr = NULL;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (size_t i = from; i < to; i++) {
        enum store_cf cf;
        enum store_op op;
        slice k, v;
        store_batch_op(b, i, &cf, &op, &k, &v);
        if (op == STORE_OP_PUT)
            rocksdb_writebatch_put_cf(wb, st->cf[cf], k.p, k.n, v.p, v.n);
        else if (op == STORE_OP_MERGE)
            rocksdb_writebatch_merge_cf(wb, st->cf[cf], k.p, k.n, v.p, v.n);
        else
            rocksdb_writebatch_delete_cf(wb, st->cf[cf], k.p, k.n);
    }
    rocksdb_write(st->db, st->wo_sync, wb, &rerr);
    rocksdb_writebatch_destroy(wb);
    return rerr ? store_rdb_err(err, rerr, "writing the rest of a load") : 0;
}

/* One table file of a load, written on a thread of its own (prepare). */
typedef struct table_job {
    store_t *st;
    const store_batch *b;
    store_load *ld;
    size_t f;
    int rc;
    strata_err err;
} table_job;

static void *table_main(void *arg)
{
    table_job *t = arg;
    store_quiet_perf_context(); /* per thread in RocksDB */
    const store_load *ld = t->ld;
    t->rc = write_table(t->st, t->b, ld->ranges[t->f][0], ld->ranges[t->f][1], ld->cfs[t->f],
                        ld->paths[t->f], &t->err);
    return NULL;
}

int store_bulk_prepare(store_t *st, store_batch *b, uint64_t name, store_load *ld, strata_err *err)
{
    int rc = 0;
    size_t n = store_batch_count(b);

    memset(ld, 0, sizeof *ld);
    snprintf(ld->dir, sizeof ld->dir, "%s/%s", st->path, STORE_BULK_DIR);
    snprintf(ld->ready, sizeof ld->ready, "%s/%0*" PRIx64 READY_SUFFIX, ld->dir, NAME_DIGITS, name);
    if (n == 0)
        return 0;
    if (mkdir(ld->dir, 0755) == 0)
        fsync_dir(st->path);
    else if (errno != EEXIST)
        return err_set(err, STRATA_IO, "cannot create %s: %s", ld->dir, strerror(errno));
    store_batch_sort(b);
    for (size_t i = 0; i < n;) {
        enum store_cf cf, c;
        enum store_op op;
        slice k, v;
        store_batch_op(b, i, &cf, &op, &k, &v);
        size_t j = i + 1;
        while (j < n && (store_batch_op(b, j, &c, &op, &k, &v), c == cf))
            j++;
        if (!is_load_cf(cf) || ld->nfiles == LOAD_CFS) {
            ld->nfiles = 0; /* nothing written yet */
            return err_set(err, STRATA_INTERNAL, "a bulk load writes the %s column family",
                           store_cf_names[cf]);
        }
        size_t f = ld->nfiles++;
        ld->cfs[f] = cf;
        ld->ranges[f][0] = i;
        ld->ranges[f][1] = j;
        snprintf(ld->paths[f], sizeof ld->paths[f], "%s/%0*" PRIx64 ".%s.sst", ld->dir, NAME_DIGITS,
                 name, store_cf_names[cf]);
        i = j;
    }
    /* The files are independent: all but the last on threads of their own
     * (a load's second core), the last on this one. Without a thread, here. */
    table_job jobs[LOAD_CFS];
    pthread_t th[LOAD_CFS];
    bool started[LOAD_CFS] = {false};
    for (size_t f = 0; f < ld->nfiles; f++) {
        jobs[f] = (table_job){st, b, ld, f, 0, STRATA_ERR_INIT};
        if (f + 1 < ld->nfiles)
            started[f] = pthread_create(&th[f], NULL, table_main, &jobs[f]) == 0;
        if (!started[f])
            table_main(&jobs[f]);
    }
    for (size_t f = 0; f < ld->nfiles; f++) {
        if (started[f])
            pthread_join(th[f], NULL);
        if (jobs[f].rc && !rc)
            rc = err_set(err, jobs[f].rc, "%s", jobs[f].err.message);
        err_clear(&jobs[f].err);
    }
    if (rc)
        store_bulk_abandon(ld);
    return rc;
}

void store_bulk_abandon(store_load *ld)
{
    for (size_t f = 0; f < ld->nfiles; f++)
        unlink(ld->paths[f]);
    ld->nfiles = 0;
}

static int ingest_set(store_t *st, const store_batch *b, store_load *ld, strata_err *err);

int store_bulk_commit(store_t *st, const store_batch *b, store_load *ld, strata_err *err)
{
    int rc = 0;
    if (ld->nfiles == 0)
        return 0;
    /* From the marker on, the next start finishes the set: it is written
     * only now, under data_lock, once the caller knows the load stands. */
    int fd = open(ld->ready, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || fsync(fd) != 0 || fsync_dir(ld->dir) != 0)
        rc = err_set(err, STRATA_IO, "cannot record the load %s: %s", ld->ready, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc) {
        /* Nothing is visible yet: the set goes. */
        store_bulk_abandon(ld);
        unlink(ld->ready);
        return rc;
    }
    pthread_rwlock_rdlock(&st->load_lock);
    rc = ingest_set(st, b, ld, err);
    pthread_rwlock_unlock(&st->load_lock);
    return rc;
}

/* Ingest a complete set (store_bulk_commit), under load_lock. */
static int ingest_set(store_t *st, const store_batch *b, store_load *ld, strata_err *err)
{
    int rc = 0;
    size_t nfiles = ld->nfiles;
    const enum store_cf *cfs = ld->cfs;
    size_t(*ranges)[2] = ld->ranges;
    char(*paths)[PATH_MAX + 64] = ld->paths;
    const char *ready = ld->ready, *dir = ld->dir;
    for (size_t f = 0; f < nfiles; f++) {
        if (st->bulk_test_stop && f == st->bulk_test_stop)
            return 0;
        strata_err ierr = STRATA_ERR_INIT;
        if ((rc = ingest_file(st, cfs[f], paths[f], &ierr)) == 0)
            continue;
        if (f == 0) {
            /* Nothing landed: the set must not be finished by a later start
             * (deletes may come in between). */
            for (size_t g = 0; g < nfiles; g++)
                unlink(paths[g]);
            unlink(ready);
            rc = err_set(err, ierr.code, "%s", ierr.message);
            err_clear(&ierr);
            return rc;
        }
        /* Part landed: the rest through the WAL now, so that nothing waits
         * for a restart (and no delete meanwhile can be undone by one). */
        log_warn("store: %s; writing the rest of the load through the WAL", ierr.message);
        err_clear(&ierr);
        if ((rc = write_rest(st, b, ranges[f][0], ranges[nfiles - 1][1], err))) {
            /* A delete now could be undone when the next start finishes the
             * set: no more writes of any kind until then. */
            atomic_store(&st->load_unfinished, true);
            log_error("store: a bulk load is half in and its rest could not be written; the "
                      "store refuses writes until a restart finishes the load");
            err_prefix(err, "the load is half in (the next start finishes it)");
            return rc;
        }
        for (size_t g = f; g < nfiles; g++)
            unlink(paths[g]);
        break;
    }
    /* The marker's removal is made durable: a finished set must not come
     * back after a power loss and be loaded again over later deletes. */
    if (unlink(ready) != 0 || fsync_dir(dir) != 0)
        log_warn("store: cannot remove %s: %s (the next start removes it)", ready, strerror(errno));
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_bulk_pending(store_t *st, strata_err *err)
{
    int rc = 0;
    char dir[PATH_MAX], path[PATH_MAX + 512];
    char **names = NULL;
    size_t n = 0, cap = 0;
    snprintf(dir, sizeof dir, "%s/%s", st->path, STORE_BULK_DIR);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT
                   ? 0
                   : err_set(err, STRATA_IO, "cannot read %s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, cap * sizeof *names);
            STRATA_ASSERT(nn != NULL);
            names = nn;
        }
        names[n] = strdup(de->d_name);
        STRATA_ASSERT(names[n] != NULL);
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);
    /* Complete sets first, oldest first. */
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len = strlen(names[i]);
        if (len != NAME_DIGITS + strlen(READY_SUFFIX) ||
            strcmp(names[i] + NAME_DIGITS, READY_SUFFIX))
            continue;
        size_t finished = 0;
        for (size_t c = 0; c < LOAD_CFS && !rc; c++) {
            snprintf(path, sizeof path, "%s/%.*s.%s.sst", dir, NAME_DIGITS, names[i],
                     store_cf_names[load_cfs[c]]);
            if (access(path, F_OK) != 0)
                continue;
            if ((rc = ingest_file(st, load_cfs[c], path, err)))
                err_prefix(err, "finishing the load %.*s", NAME_DIGITS, names[i]);
            else
                finished++;
        }
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!rc) {
            unlink(path);
            log_info("store: finished the bulk load %.*s a stop cut short (%zu table file%s)",
                     NAME_DIGITS, names[i], finished, finished == 1 ? "" : "s");
        }
    }
    /* What remains never became visible: incomplete sets. */
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!rc && access(path, F_OK) == 0) {
            log_info("store: removing %s, part of a bulk load a stop cut short before it "
                     "was complete (none of it had landed)",
                     path);
            unlink(path);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}
