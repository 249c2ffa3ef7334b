/*
 * sorter.c - external merge sort (sorter.h).
 *
 * NOTES ON THE DESIGN
 *
 * In memory, records live in an arena of blocks (budget/16, at most 1 MiB; a
 * record larger than a block gets a block of its own) and are never moved;
 * the index holds one 16-byte entry per record: the key's first 8 bytes as a
 * big-endian integer (so most comparisons are one integer compare) and a
 * pointer to the record. Sorting is a stable bottom-up merge sort of the
 * index (insertion sort for short stretches), which needs a second index
 * array: memory accounting counts both, plus the blocks, by capacity, so the
 * budget bounds what malloc actually holds.
 *
 *   record (arena and run files alike):
 *     varint key length | varint value length | key bytes | value bytes
 *
 * Runs are appended to one temporary file; an intermediate merge writes its
 * longer runs to a second file, after which the first is truncated and the
 * two swap roles. Run readers read with pread into their own buffer (grown
 * for a record larger than it), so a record handed out stays valid while the
 * other readers move. The reader whose record was handed out is advanced
 * lazily, at the next call.
 *
 * With threads = 2, a sort of at least PARALLEL_SORT_MIN records sorts the
 * index's two halves on two threads (the caller's and one started for it)
 * and merges them: the callers that use it sort while nothing else runs
 * (the export's instances pass), where the second CPU would idle.
 *
 * Stability: runs are numbered in the order they were made, the records still
 * in memory form the last run, intermediate merges merge consecutive runs,
 * and the heap breaks key ties by run number.
 */
#include "ingest/sorter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

#define SORTER_BLOCK_MAX ((size_t)1 << 20)
#define SORTER_BLOCK_MIN ((size_t)16 << 10)
#define READ_BUF ((size_t)64 << 10)
#define INSERTION_RUN 16
/* Below this many records one thread sorts: a thread costs more than it saves. */
#define PARALLEL_SORT_MIN ((size_t)1 << 15)

typedef struct ent {
    uint64_t pfx;
    const char *rec;
} ent;

typedef struct block {
    char *p;
    size_t cap, n;
} block;

typedef struct run {
    uint64_t off, len;
} run;

/* A spill handed to a thread of its own (threads >= 2): the memory of one
 * full buffer, sorted and written as the next run while adds fill the next. */
typedef struct bg_spill {
    struct sorter *s;
    block *blocks;
    size_t nblocks;
    ent *idx, *tmp;
    size_t n, cap;
    bool monotone;
    uint64_t start; /* the run's offset in fd[0] */
    int rc;
    strata_err err;
    pthread_t th;
    bool started;
} bg_spill;

typedef struct reader {
    int fd; /* -1: the in-memory run */
    uint64_t pos, end;
    char *buf;
    size_t cap, lo, hi; /* buffered bytes buf[lo, hi) */
    size_t mi;          /* in-memory run: next index entry */
    slice key, val;
    bool valid;
} reader;

struct sorter {
    size_t budget;
    unsigned fanin;
    unsigned threads;
    char *tmp_dir;
    char what[48];

    /* in memory */
    block *blocks;
    size_t nblocks, capblocks, cur; /* cur: block being filled */
    size_t block_bytes;
    size_t block_size; /* budget / 16 within [SORTER_BLOCK_MIN, SORTER_BLOCK_MAX] */
    size_t wbuf_size;  /* the same: run writes need no more */
    ent *idx, *tmp;
    size_t n, cap;
    bool monotone;
    const char *last_rec;

    /* threads >= 2: the run being sorted and written in the background */
    struct bg_spill *bg;
    size_t bg_bytes; /* memory it holds (0: none in flight) */

    /* on disk */
    int fd[2]; /* fd[0]: current runs, fd[1]: merge target */
    uint64_t fsize[2];
    run *runs;
    size_t nruns, capruns;
    char *wbuf;
    size_t wn;

    /* reading */
    bool finished;
    reader *rd;
    size_t nrd;
    size_t *heap;
    size_t nheap;
    size_t last; /* reader to advance at the next call; SIZE_MAX: none */
    size_t mpos; /* fast path: next index entry */
    bool fast;

    sorter_stats st;
};

/* ---- varints ---------------------------------------------------------------- */

/* Records in memory were written by us: decode without bounds checks. */
static inline uint64_t mem_varint(const unsigned char **p)
{
    const unsigned char *c = *p;
    uint64_t r = *c & 0x7f;
    for (unsigned sh = 7; *c++ & 0x80; sh += 7)
        r |= (uint64_t)(*c & 0x7f) << sh;
    *p = c;
    return r;
}

static inline void rec_kv(const char *rec, slice *k, slice *v)
{
    const unsigned char *c = (const unsigned char *)rec;
    uint64_t kn = mem_varint(&c);
    uint64_t vn = mem_varint(&c);
    *k = (slice){(const char *)c, (size_t)kn};
    *v = (slice){(const char *)c + kn, (size_t)vn};
}

static uint64_t key_prefix(slice k)
{
    unsigned char b[8] = {0};
    memcpy(b, k.p, k.n < 8 ? k.n : 8);
    return get_u64be(b);
}

static inline int ent_cmp(const ent *a, const ent *b)
{
    if (a->pfx != b->pfx)
        return a->pfx < b->pfx ? -1 : 1;
    slice ka, kb, va, vb;
    rec_kv(a->rec, &ka, &va);
    rec_kv(b->rec, &kb, &vb);
    return slice_cmp(ka, kb);
}

/* ---- memory ------------------------------------------------------------------- */

/* The buffer being filled. */
static size_t mem_filling(const sorter *s)
{
    return s->block_bytes + s->cap * sizeof(ent) * 2;
}

/* Everything held in memory for records, a background spill's included. */
static size_t mem_now(const sorter *s)
{
    return mem_filling(s) + s->bg_bytes;
}

static void note_peak(sorter *s)
{
    size_t m = sorter_memory(s);
    if (m > s->st.peak_memory)
        s->st.peak_memory = m;
}

int sorter_open(const sorter_options *opt, sorter **out, strata_err *err)
{
    *out = NULL;
    sorter *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(err, STRATA_NOMEM, "out of memory");
    s->budget = opt && opt->memory_bytes ? opt->memory_bytes : ((size_t)64 << 20);
    if (s->budget < SORTER_MIN_MEMORY)
        s->budget = SORTER_MIN_MEMORY;
    s->block_size = s->budget / 16;
    if (s->block_size > SORTER_BLOCK_MAX)
        s->block_size = SORTER_BLOCK_MAX;
    if (s->block_size < SORTER_BLOCK_MIN)
        s->block_size = SORTER_BLOCK_MIN;
    s->wbuf_size = s->block_size;
    s->fanin = opt && opt->fanin ? opt->fanin : SORTER_DEFAULT_FANIN;
    if (s->fanin < 2)
        s->fanin = 2;
    s->threads = opt && opt->threads > 1 ? 2 : 1;
    snprintf(s->what, sizeof s->what, "%s", opt && opt->what ? opt->what : "records");
    if (opt && opt->tmp_dir) {
        s->tmp_dir = strdup(opt->tmp_dir);
        STRATA_ASSERT(s->tmp_dir != NULL);
    }
    s->fd[0] = s->fd[1] = -1;
    s->monotone = true;
    s->last = SIZE_MAX;
    *out = s;
    return 0;
}

size_t sorter_memory(const sorter *s)
{
    size_t m = mem_now(s) + (s->wbuf ? s->wbuf_size : 0);
    for (size_t i = 0; i < s->nrd; i++)
        m += s->rd[i].cap;
    return m;
}

void sorter_get_stats(const sorter *s, sorter_stats *out)
{
    *out = s->st;
}

static void free_blocks(sorter *s, bool keep_first)
{
    size_t from = 0;
    if (keep_first && s->nblocks && s->blocks[0].cap == s->block_size) {
        s->blocks[0].n = 0;
        from = 1;
    }
    for (size_t i = from; i < s->nblocks; i++) {
        s->block_bytes -= s->blocks[i].cap;
        free(s->blocks[i].p);
    }
    s->nblocks = from;
    s->cur = 0;
}

static char *arena_alloc(sorter *s, size_t need)
{
    if (s->nblocks && s->blocks[s->cur].cap - s->blocks[s->cur].n >= need) {
        block *b = &s->blocks[s->cur];
        char *p = b->p + b->n;
        b->n += need;
        return p;
    }
    if (s->nblocks == s->capblocks) {
        size_t cap = s->capblocks ? s->capblocks * 2 : 16;
        block *nb = realloc(s->blocks, cap * sizeof *nb);
        STRATA_ASSERT(nb != NULL);
        s->blocks = nb;
        s->capblocks = cap;
    }
    size_t cap = need > s->block_size ? need : s->block_size;
    block *b = &s->blocks[s->nblocks];
    b->p = malloc(cap);
    STRATA_ASSERT(b->p != NULL);
    b->cap = cap;
    b->n = need;
    s->block_bytes += cap;
    s->cur = s->nblocks++;
    return b->p;
}

static void idx_grow(sorter *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    ent *ni = realloc(s->idx, cap * sizeof *ni);
    STRATA_ASSERT(ni != NULL);
    s->idx = ni;
    free(s->tmp);
    s->tmp = NULL; /* allocated at sort time; counted in the budget already */
    s->cap = cap;
}

/* ---- sorting ----------------------------------------------------------------- */

/* Merge the sorted a[lo, mid) and a[mid, hi) into out[lo, hi); ties keep the
 * first stretch first (stable). */
static void merge_ents(const ent *a, size_t lo, size_t mid, size_t hi, ent *out)
{
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi)
        out[k++] = ent_cmp(&a[j], &a[i]) < 0 ? a[j++] : a[i++];
    while (i < mid)
        out[k++] = a[i++];
    while (j < hi)
        out[k++] = a[j++];
}

/* Sort a[0, n) stably (tmp has room for n); 1 when the result ended in tmp. */
static int sort_run(ent *a, ent *tmp, size_t n)
{
    ent *b = tmp;
    for (size_t lo = 0; lo < n; lo += INSERTION_RUN) {
        size_t hi = lo + INSERTION_RUN < n ? lo + INSERTION_RUN : n;
        for (size_t i = lo + 1; i < hi; i++) {
            ent e = a[i];
            size_t j = i;
            while (j > lo && ent_cmp(&a[j - 1], &e) > 0) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = e;
        }
    }
    int swapped = 0;
    for (size_t w = INSERTION_RUN; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            if (mid == hi || ent_cmp(&a[mid - 1], &a[mid]) <= 0)
                memcpy(b + lo, a + lo, (hi - lo) * sizeof *a);
            else
                merge_ents(a, lo, mid, hi, b);
        }
        ent *t = a;
        a = b;
        b = t;
        swapped ^= 1;
    }
    return swapped;
}

typedef struct half_sort {
    ent *a, *tmp;
    size_t n;
} half_sort;

static void *sort_half(void *arg)
{
    half_sort *h = arg;
    if (sort_run(h->a, h->tmp, h->n))
        memcpy(h->a, h->tmp, h->n * sizeof *h->a);
    return NULL;
}

/*
 * Sort the index (stable). With threads > 1 and enough records, the second
 * half is sorted on a thread of its own while this one sorts the first, and
 * one merge joins them: ties go to the first half, so it stays stable.
 */
static void sort_index(sorter *s)
{
    if (s->monotone || s->n < 2)
        return;
    if (!s->tmp) {
        s->tmp = malloc(s->cap * sizeof *s->tmp);
        STRATA_ASSERT(s->tmp != NULL);
    }
    size_t n = s->n;
    if (s->threads < 2 || n < PARALLEL_SORT_MIN) {
        if (sort_run(s->idx, s->tmp, n)) {
            ent *t = s->idx;
            s->idx = s->tmp;
            s->tmp = t;
        }
        return;
    }
    size_t h = n / 2;
    half_sort second = {s->idx + h, s->tmp + h, n - h};
    pthread_t th;
    bool started = pthread_create(&th, NULL, sort_half, &second) == 0;
    half_sort first = {s->idx, s->tmp, h};
    sort_half(&first);
    if (started)
        pthread_join(th, NULL);
    else
        sort_half(&second);
    ent *a = s->idx, *out = s->tmp;
    if (ent_cmp(&a[h - 1], &a[h]) <= 0)
        return;
    merge_ents(a, 0, h, n, out);
    s->tmp = a;
    s->idx = out;
}

/* ---- run files ---------------------------------------------------------------- */

static int open_tmp(sorter *s, int *fd, strata_err *err)
{
    if (*fd >= 0)
        return 0;
    if (!s->tmp_dir)
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "the %s do not fit in the memory budget of %zu MiB and no temporary "
                       "directory was given",
                       s->what, s->budget >> 20);
    char path[4200];
    snprintf(path, sizeof path, "%s/strata-sort-XXXXXX", s->tmp_dir);
    int f = mkostemp(path, O_CLOEXEC);
    if (f < 0)
        return err_set(err, STRATA_IO,
                       "cannot create a temporary file in %s for sorting the %s: %s", s->tmp_dir,
                       s->what, strerror(errno));
    unlink(path);
    *fd = f;
    return 0;
}

static int wflush(sorter *s, int fd, uint64_t *fsize, strata_err *err)
{
    size_t done = 0;
    while (done < s->wn) {
        ssize_t w = pwrite(fd, s->wbuf + done, s->wn - done, (off_t)(*fsize + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return err_set(err, STRATA_IO, "writing a sort run for the %s under %s: %s", s->what,
                           s->tmp_dir ? s->tmp_dir : "?", w < 0 ? strerror(errno) : "short write");
        done += (size_t)w;
    }
    *fsize += s->wn;
    s->st.spilled_bytes += s->wn;
    s->wn = 0;
    return 0;
}

static int wput(sorter *s, int fd, uint64_t *fsize, const void *p, size_t n, strata_err *err)
{
    if (!s->wbuf) {
        s->wbuf = malloc(s->wbuf_size);
        STRATA_ASSERT(s->wbuf != NULL);
    }
    const char *c = p;
    while (n) {
        size_t room = s->wbuf_size - s->wn, k = n < room ? n : room;
        memcpy(s->wbuf + s->wn, c, k);
        s->wn += k;
        c += k;
        n -= k;
        if (s->wn == s->wbuf_size) {
            int rc = wflush(s, fd, fsize, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int wrecord(sorter *s, int fd, uint64_t *fsize, slice k, slice v, strata_err *err)
{
    char hdr[20];
    size_t h = varint_put(hdr, k.n);
    h += varint_put(hdr + h, v.n);
    int rc;
    if ((rc = wput(s, fd, fsize, hdr, h, err)) || (rc = wput(s, fd, fsize, k.p, k.n, err)) ||
        (rc = wput(s, fd, fsize, v.p, v.n, err)))
        return rc;
    return 0;
}

static void push_run(sorter *s, uint64_t off, uint64_t len)
{
    if (s->nruns == s->capruns) {
        size_t cap = s->capruns ? s->capruns * 2 : 16;
        run *nr = realloc(s->runs, cap * sizeof *nr);
        STRATA_ASSERT(nr != NULL);
        s->runs = nr;
        s->capruns = cap;
    }
    s->runs[s->nruns++] = (run){off, len};
}

/* Write the sorted records of an index as one run at the end of fd[0]. */
static int write_run(sorter *s, const ent *idx, size_t n, strata_err *err)
{
    int rc;
    for (size_t i = 0; i < n; i++) {
        slice k, v;
        rec_kv(idx[i].rec, &k, &v);
        if ((rc = wrecord(s, s->fd[0], &s->fsize[0], k, v, err)))
            return rc;
    }
    return wflush(s, s->fd[0], &s->fsize[0], err);
}

/* The background spill's thread: it alone touches wbuf, wn, fsize[0] and
 * st.spilled_bytes until it is joined. */
static void *bg_work(void *arg)
{
    bg_spill *b = arg;
    ent *a = b->idx;
    if (!b->monotone && b->n > 1) {
        if (!b->tmp) {
            b->tmp = malloc(b->cap * sizeof *b->tmp);
            STRATA_ASSERT(b->tmp != NULL);
        }
        if (sort_run(a, b->tmp, b->n))
            a = b->tmp;
    }
    b->rc = write_run(b->s, a, b->n, &b->err);
    return NULL;
}

/* Wait for the background spill, record its run and free its memory. */
static int bg_join(sorter *s, strata_err *err)
{
    bg_spill *b = s->bg;
    if (!b)
        return 0;
    if (b->started)
        pthread_join(b->th, NULL);
    int rc = b->rc;
    if (rc) {
        if (err) {
            err_clear(err);
            *err = b->err;
            b->err.details = NULL;
        }
    } else {
        push_run(s, b->start, s->fsize[0] - b->start);
        s->st.runs++;
    }
    for (size_t i = 0; i < b->nblocks; i++)
        free(b->blocks[i].p);
    free(b->blocks);
    free(b->idx);
    free(b->tmp);
    err_clear(&b->err);
    free(b);
    s->bg = NULL;
    s->bg_bytes = 0;
    return rc;
}

/* Hand the full buffer to a background spill (after the previous one is
 * done: one in flight, so runs keep their order in the file); adds go on in
 * fresh memory. */
static int spill_bg(sorter *s, strata_err *err)
{
    int rc;
    if ((rc = bg_join(s, err)) || (rc = open_tmp(s, &s->fd[0], err)))
        return rc;
    if (!s->wbuf) {
        s->wbuf = malloc(s->wbuf_size);
        STRATA_ASSERT(s->wbuf != NULL);
    }
    bg_spill *b = calloc(1, sizeof *b);
    STRATA_ASSERT(b != NULL);
    *b = (bg_spill){.s = s,
                    .blocks = s->blocks,
                    .nblocks = s->nblocks,
                    .idx = s->idx,
                    .tmp = s->tmp,
                    .n = s->n,
                    .cap = s->cap,
                    .monotone = s->monotone,
                    .start = s->fsize[0],
                    .err = STRATA_ERR_INIT};
    s->bg = b;
    s->bg_bytes = mem_filling(s);
    s->blocks = NULL;
    s->nblocks = s->capblocks = s->cur = 0;
    s->block_bytes = 0;
    s->idx = s->tmp = NULL;
    s->n = s->cap = 0;
    s->monotone = true;
    s->last_rec = NULL;
    b->started = pthread_create(&b->th, NULL, bg_work, b) == 0;
    if (!b->started)
        bg_work(b);
    return 0;
}

/* Sort what memory holds and write it as one run; memory is reused. */
static int spill(sorter *s, strata_err *err)
{
    int rc;
    if (s->n == 0)
        return 0;
    if (s->threads >= 2)
        return spill_bg(s, err);
    if ((rc = open_tmp(s, &s->fd[0], err)))
        return rc;
    sort_index(s);
    uint64_t start = s->fsize[0];
    if ((rc = write_run(s, s->idx, s->n, err)))
        return rc;
    push_run(s, start, s->fsize[0] - start);
    s->st.runs++;
    s->n = 0;
    s->monotone = true;
    s->last_rec = NULL;
    free_blocks(s, true);
    return 0;
}

int sorter_add(sorter *s, slice key, slice val, strata_err *err)
{
    int rc;
    STRATA_ASSERT(!s->finished);
    if (key.n > SORTER_KEY_MAX)
        return err_set(err, STRATA_INVALID_ARGUMENT, "a sort key of %zu bytes is over %zu", key.n,
                       SORTER_KEY_MAX);
    size_t need = 20 + key.n + val.n;
    /* Would this record (and maybe a bigger index) pass the budget? */
    size_t extra = need > s->block_size ? need : 0;
    if (!s->nblocks || s->blocks[s->cur].cap - s->blocks[s->cur].n < need)
        extra = need > s->block_size ? need : s->block_size;
    if (s->n == s->cap)
        extra += (s->cap ? s->cap : 1024) * sizeof(ent) * 2;
    /* With a background spill, each of the two buffers gets half. */
    size_t limit = s->threads >= 2 ? s->budget / 2 : s->budget;
    if (s->n && mem_filling(s) + extra > limit && (rc = spill(s, err)))
        return rc;
    if (s->n == s->cap)
        idx_grow(s);
    char *p = arena_alloc(s, need);
    size_t h = varint_put(p, key.n);
    h += varint_put(p + h, val.n);
    if (key.n)
        memcpy(p + h, key.p, key.n);
    if (val.n)
        memcpy(p + h + key.n, val.p, val.n);
    /* Give back what the header did not use. */
    s->blocks[s->cur].n -= 20 - h;
    if (s->monotone && s->last_rec) {
        slice lk, lv;
        rec_kv(s->last_rec, &lk, &lv);
        if (slice_cmp(lk, key) > 0)
            s->monotone = false;
    }
    s->last_rec = p;
    s->idx[s->n++] = (ent){key_prefix(key), p};
    s->st.records++;
    note_peak(s);
    return 0;
}

/* ---- readers ------------------------------------------------------------------ */

static void reader_init_file(reader *r, int fd, run ru)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->pos = ru.off;
    r->end = ru.off + ru.len;
}

/* Make at least `want` bytes available (fewer only at the run's end). */
static int reader_fill(sorter *s, reader *r, size_t want, strata_err *err)
{
    if (r->hi - r->lo >= want)
        return 0;
    if (r->lo) {
        memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
        r->hi -= r->lo;
        r->lo = 0;
    }
    if (want > r->cap || !r->buf) {
        size_t cap = r->cap ? r->cap : READ_BUF;
        while (cap < want)
            cap *= 2;
        char *nb = realloc(r->buf, cap);
        STRATA_ASSERT(nb != NULL);
        r->buf = nb;
        r->cap = cap;
    }
    while (r->hi < want && r->pos < r->end) {
        size_t room = r->cap - r->hi;
        uint64_t left = r->end - r->pos;
        size_t k = left < room ? (size_t)left : room;
        ssize_t got = pread(r->fd, r->buf + r->hi, k, (off_t)r->pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return err_set(err, STRATA_IO, "reading a sort run for the %s: %s", s->what,
                           got < 0 ? strerror(errno) : "unexpected end of file");
        r->hi += (size_t)got;
        r->pos += (uint64_t)got;
    }
    return 0;
}

/* Move r to its next record: valid false at the end. */
static int reader_advance(sorter *s, reader *r, strata_err *err)
{
    int rc;
    if (r->fd < 0) {
        if (r->mi >= s->n) {
            r->valid = false;
            return 0;
        }
        rec_kv(s->idx[r->mi++].rec, &r->key, &r->val);
        r->valid = true;
        return 0;
    }
    if ((rc = reader_fill(s, r, 20, err)))
        return rc;
    if (r->hi == r->lo) {
        r->valid = false;
        return 0;
    }
    uint64_t kn, vn;
    const char *hdr = r->buf + r->lo, *end = r->buf + r->hi;
    if (varint_get(&hdr, end, &kn) || varint_get(&hdr, end, &vn) || kn > SORTER_KEY_MAX ||
        vn > ((uint64_t)1 << 40))
        return err_set(err, STRATA_CORRUPT, "a sort run for the %s is damaged", s->what);
    size_t a = (size_t)(hdr - (r->buf + r->lo));
    size_t total = a + (size_t)kn + (size_t)vn;
    if ((rc = reader_fill(s, r, total, err)))
        return rc;
    if (r->hi - r->lo < total)
        return err_set(err, STRATA_CORRUPT, "a sort run for the %s ends inside a record", s->what);
    const char *p = r->buf + r->lo + a;
    r->key = (slice){p, (size_t)kn};
    r->val = (slice){p + kn, (size_t)vn};
    r->lo += total;
    r->valid = true;
    return 0;
}

static bool heap_less(const sorter *s, size_t x, size_t y)
{
    int c = slice_cmp(s->rd[x].key, s->rd[y].key);
    return c < 0 || (c == 0 && x < y);
}

static void heap_down(sorter *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && heap_less(s, s->heap[l], s->heap[m]))
            m = l;
        if (r < s->nheap && heap_less(s, s->heap[r], s->heap[m]))
            m = r;
        if (m == i)
            return;
        size_t t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

static void free_readers(sorter *s)
{
    for (size_t i = 0; i < s->nrd; i++)
        free(s->rd[i].buf);
    free(s->rd);
    free(s->heap);
    s->rd = NULL;
    s->heap = NULL;
    s->nrd = s->nheap = 0;
}

/* Readers over runs[from, to) of fd[0], plus the memory run when asked. */
static int start_merge(sorter *s, const run *runs, size_t from, size_t to, bool with_memory,
                       strata_err *err)
{
    int rc;
    free_readers(s);
    size_t n = to - from + (with_memory ? 1 : 0);
    s->rd = calloc(n ? n : 1, sizeof *s->rd);
    s->heap = calloc(n ? n : 1, sizeof *s->heap);
    STRATA_ASSERT(s->rd && s->heap);
    s->nrd = n;
    for (size_t i = from; i < to; i++)
        reader_init_file(&s->rd[i - from], s->fd[0], runs[i]);
    if (with_memory) {
        memset(&s->rd[n - 1], 0, sizeof s->rd[n - 1]);
        s->rd[n - 1].fd = -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = reader_advance(s, &s->rd[i], err)))
            return rc;
        if (s->rd[i].valid)
            s->heap[s->nheap++] = i;
    }
    for (size_t i = s->nheap / 2; i-- > 0;)
        heap_down(s, i);
    s->last = SIZE_MAX;
    note_peak(s);
    return 0;
}

/* 1 with the smallest record of the merge (reader in *which), 0 at the end. */
static int merge_next(sorter *s, slice *k, slice *v, strata_err *err)
{
    int rc;
    if (s->last != SIZE_MAX) {
        reader *r = &s->rd[s->last];
        if ((rc = reader_advance(s, r, err)))
            return rc;
        if (!r->valid) {
            s->heap[0] = s->heap[--s->nheap];
        }
        if (s->nheap)
            heap_down(s, 0);
        s->last = SIZE_MAX;
    }
    if (!s->nheap)
        return 0;
    size_t top = s->heap[0];
    *k = s->rd[top].key;
    *v = s->rd[top].val;
    s->last = top;
    return 1;
}

/* Merge groups of fanin disk runs until at most fanin - 1 remain (the memory
 * run takes the last reader slot). */
static int reduce_runs(sorter *s, bool has_memory, strata_err *err)
{
    int rc;
    size_t limit = has_memory ? s->fanin - 1 : s->fanin;
    while (s->nruns > limit) {
        if ((rc = open_tmp(s, &s->fd[1], err)))
            return rc;
        /* The current list is read while the merged runs are pushed anew. */
        run *old = s->runs;
        size_t nold = s->nruns;
        s->runs = NULL;
        s->nruns = s->capruns = 0;
        for (size_t g = 0; g < nold; g += s->fanin) {
            size_t end = g + s->fanin < nold ? g + s->fanin : nold;
            if ((rc = start_merge(s, old, g, end, false, err))) {
                free(old);
                return rc;
            }
            uint64_t start = s->fsize[1];
            slice k, v;
            while ((rc = merge_next(s, &k, &v, err)) == 1)
                if ((rc = wrecord(s, s->fd[1], &s->fsize[1], k, v, err)))
                    break;
            if (rc == 0)
                rc = wflush(s, s->fd[1], &s->fsize[1], err);
            if (rc) {
                free(old);
                return rc;
            }
            push_run(s, start, s->fsize[1] - start);
        }
        free(old);
        free_readers(s);
        /* The merged runs become the current file; the old one is emptied. */
        if (ftruncate(s->fd[0], 0) != 0)
            log_warn("sorter: truncating a merged-away run file: %s", strerror(errno));
        int t = s->fd[0];
        s->fd[0] = s->fd[1];
        s->fd[1] = t;
        s->fsize[0] = s->fsize[1];
        s->fsize[1] = 0;
        s->st.merge_passes++;
    }
    return 0;
}

int sorter_finish(sorter *s, strata_err *err)
{
    int rc;
    STRATA_ASSERT(!s->finished);
    s->finished = true;
    if ((rc = bg_join(s, err)))
        return rc;
    sort_index(s);
    free(s->wbuf);
    s->wbuf = NULL;
    if (s->nruns == 0) {
        s->fast = true;
        s->mpos = 0;
        return 0;
    }
    bool mem = s->n > 0;
    if ((rc = reduce_runs(s, mem, err)))
        return rc;
    free(s->wbuf);
    s->wbuf = NULL;
    return start_merge(s, s->runs, 0, s->nruns, mem, err);
}

int sorter_next(sorter *s, slice *key, slice *val, strata_err *err)
{
    STRATA_ASSERT(s->finished);
    if (s->fast) {
        if (s->mpos >= s->n)
            return 0;
        rec_kv(s->idx[s->mpos++].rec, key, val);
        return 1;
    }
    return merge_next(s, key, val, err);
}

void sorter_close(sorter *s)
{
    if (!s)
        return;
    strata_err ignored = STRATA_ERR_INIT;
    bg_join(s, &ignored);
    err_clear(&ignored);
    free_readers(s);
    free_blocks(s, false);
    free(s->blocks);
    free(s->idx);
    free(s->tmp);
    free(s->runs);
    free(s->wbuf);
    for (int i = 0; i < 2; i++)
        if (s->fd[i] >= 0)
            close(s->fd[i]);
    free(s->tmp_dir);
    free(s);
}
