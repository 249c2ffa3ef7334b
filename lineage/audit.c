/*
 * audit.c - append, list and verify the hash-chained audit log (audit.h).
 *
 * One mutex serialises appends: a record's prev_digest is its predecessor's
 * digest, so the chain has exactly one writer at a time. The head (last seq
 * and digest) is cached in memory and found again at open with one SeekToLast.
 */
#include "lineage/audit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"

#define ZERO_DIGEST "0000000000000000000000000000000000000000000000000000000000000000"

struct audit_log {
    store_t *st;
    pthread_mutex_t mu;
    uint64_t head_seq;
    char head_digest[65];
};

static void key_of(uint64_t seq, char out[8])
{
    put_u64be(out, seq);
}

static void hash_field(EVP_MD_CTX *md, slice s)
{
    unsigned char len[4];
    put_u32be(len, (uint32_t)s.n);
    EVP_DigestUpdate(md, len, 4);
    if (s.n)
        EVP_DigestUpdate(md, s.p, s.n);
}

static EVP_MD_CTX *sha256_begin(void)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    STRATA_ASSERT(md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
    return md;
}

/* Finish (and free) md: the digest as 64 lowercase hex chars + NUL. */
static void sha256_end(EVP_MD_CTX *md, char out[65])
{
    unsigned char md_out[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_DigestFinal_ex(md, md_out, &md_len);
    EVP_MD_CTX_free(md);
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md_out[i] >> 4];
        out[2 * i + 1] = hex[md_out[i] & 15];
    }
    out[64] = '\0';
}

/* The digest of one record's fields, as 64 lowercase hex chars + NUL. A
 * record with a detail hashes its canonical text (detail_text) last; one
 * without hashes exactly as records did before details existed. */
static void record_digest(const char *prev, uint64_t seq, int64_t time_us, const char *principal,
                          const char *action, slice target, int status, slice detail, char out[65])
{
    char num[32];
    EVP_MD_CTX *md = sha256_begin();
    hash_field(md, slice_of(prev));
    snprintf(num, sizeof num, "%llu", (unsigned long long)seq);
    hash_field(md, slice_of(num));
    snprintf(num, sizeof num, "%lld", (long long)time_us);
    hash_field(md, slice_of(num));
    hash_field(md, slice_of(principal));
    hash_field(md, slice_of(action));
    hash_field(md, target);
    snprintf(num, sizeof num, "%d", status);
    hash_field(md, slice_of(num));
    if (detail.n)
        hash_field(md, detail);
    sha256_end(md, out);
}

static int slice_ptr_cmp(const void *a, const void *b)
{
    return slice_cmp(*(const slice *)a, *(const slice *)b);
}

size_t audit_ids_digest(const slice *ids, size_t n, char out[65])
{
    slice *sorted = malloc((n ? n : 1) * sizeof *sorted);
    STRATA_ASSERT(sorted != NULL);
    memcpy(sorted, ids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, slice_ptr_cmp);
    EVP_MD_CTX *md = sha256_begin();
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && slice_eq(sorted[i], sorted[i - 1]))
            continue;
        hash_field(md, sorted[i]);
        distinct++;
    }
    sha256_end(md, out);
    free(sorted);
    return distinct;
}

/* The canonical text of a detail object, as hashed: compact, keys sorted.
 * Details hold strings, integers and arrays of strings, which print the same
 * every time (strings as UTF-8, escaping only what JSON must).
 * NULL for none; free() it. */
static char *detail_text(const json_t *detail)
{
    if (!detail)
        return NULL;
    char *t = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    STRATA_ASSERT(t != NULL);
    return t;
}

/* A stored record, parsed. Strings borrow from `doc`. */
typedef struct record {
    json_t *doc;
    uint64_t seq;
    int64_t time_us;
    const char *principal, *action, *prev, *digest;
    slice target;
    int status;
    char *detail; /* detail_text of its "detail", NULL without one */
} record;

static int parse_record(slice val, uint64_t key_seq, record *r, char *why, size_t why_cap)
{
    memset(r, 0, sizeof *r);
    /* JSON_ALLOW_NUL: a record stored with a NUL in a string (before appends
     * kept targets free of them) still reads, and its digest still checks. */
    r->doc = json_loadb(val.p, val.n, JSON_ALLOW_NUL, NULL);
    json_t *d = r->doc;
    if (!json_is_object(d)) {
        snprintf(why, why_cap, "record is not JSON");
        return -1;
    }
    json_t *seq = json_object_get(d, "seq"), *t = json_object_get(d, "time"),
           *p = json_object_get(d, "principal"), *a = json_object_get(d, "action"),
           *g = json_object_get(d, "target"), *s = json_object_get(d, "status"),
           *pd = json_object_get(d, "prev_digest"), *dg = json_object_get(d, "digest");
    if (!json_is_integer(seq) || !json_is_string(t) || !json_is_string(p) ||
        !json_is_string(a) || !json_is_string(g) || !json_is_integer(s) ||
        !json_is_string(pd) || !json_is_string(dg)) {
        snprintf(why, why_cap, "record lacks a field");
        return -1;
    }
    r->seq = (uint64_t)json_integer_value(seq);
    if (r->seq != key_seq) {
        snprintf(why, why_cap, "record says seq %llu but is stored as seq %llu",
                 (unsigned long long)r->seq, (unsigned long long)key_seq);
        return -1;
    }
    if (time_parse_rfc3339((slice){json_string_value(t), json_string_length(t)}, &r->time_us)) {
        snprintf(why, why_cap, "record time is not RFC 3339");
        return -1;
    }
    r->principal = json_string_value(p);
    r->action = json_string_value(a);
    r->target = (slice){json_string_value(g), json_string_length(g)};
    r->status = (int)json_integer_value(s);
    r->prev = json_string_value(pd);
    r->digest = json_string_value(dg);
    json_t *de = json_object_get(d, "detail");
    if (de && !json_is_object(de)) {
        snprintf(why, why_cap, "record detail is not an object");
        return -1;
    }
    r->detail = detail_text(de);
    return 0;
}

static void record_free(record *r)
{
    json_decref(r->doc);
    r->doc = NULL;
    free(r->detail);
    r->detail = NULL;
}

int audit_open(store_t *st, audit_log **out, strata_err *err)
{
    int rc = 0;
    audit_log *log = calloc(1, sizeof *log);
    if (!log)
        return err_set(err, STRATA_NOMEM, "out of memory");
    log->st = st;
    pthread_mutex_init(&log->mu, NULL);
    strcpy(log->head_digest, ZERO_DIGEST);
    store_iter *it = store_iter_open(st, STORE_SPACE_AUDIT, NULL);
    store_iter_seek_last(it);
    if (store_iter_valid(it)) {
        slice k = store_iter_key(it);
        record r = {0};
        char why[160];
        if (k.n != 8) {
            rc = err_set(err, STRATA_CORRUPT, "audit log: the last key is not a sequence number");
            goto out;
        }
        if (parse_record(store_iter_value(it), get_u64be(k.p), &r, why, sizeof why)) {
            /* A damaged head must not stop the daemon (that would let anyone
             * who can write the data directory take the service down). Chain
             * on from the digest of the stored bytes; verify will name this
             * record as the first bad one. */
            log_error("audit log: record %llu is damaged (%s); verify will report it",
                      (unsigned long long)get_u64be(k.p), why);
            slice raw = store_iter_value(it);
            record_digest(ZERO_DIGEST, get_u64be(k.p), 0, "", "", raw, 0, (slice){NULL, 0},
                          log->head_digest);
            log->head_seq = get_u64be(k.p);
        } else {
            log->head_seq = r.seq;
            snprintf(log->head_digest, sizeof log->head_digest, "%s", r.digest);
        }
        record_free(&r);
    } else {
        rc = store_iter_status(it, err);
    }
out:
    store_iter_close(it);
    if (rc) {
        audit_close(log);
        return rc;
    }
    *out = log;
    return 0;
}

void audit_close(audit_log *log)
{
    if (!log)
        return;
    pthread_mutex_destroy(&log->mu);
    free(log);
}

int audit_append(audit_log *log, const char *principal, const char *action, slice target,
                 int status, const json_t *detail, uint64_t *seq_out, strata_err *err)
{
    char digest[65], key[8];
    char ts[TIME_RFC3339_MAX];
    buf val = BUF_INIT;
    store_batch *b = store_batch_new();
    pthread_mutex_lock(&log->mu);
    uint64_t seq = log->head_seq + 1;
    int64_t now = time_now_us();
    /* Targets come from request paths: keep them valid UTF-8 without NUL
     * bytes, which JSON readers refuse by default. */
    buf safe = BUF_INIT;
    if (!text_valid_utf8(target) || (target.n && memchr(target.p, '\0', target.n))) {
        char ex[300];
        text_excerpt(target, ex, sizeof ex);
        buf_append_str(&safe, ex);
        target = buf_slice(&safe);
    }
    char *dtext = detail_text(detail);
    record_digest(log->head_digest, seq, now, principal, action, target, status, slice_of(dtext),
                  digest);
    free(dtext);
    time_format_rfc3339(now, ts, sizeof ts);
    json_t *doc = json_pack("{s:I,s:s,s:s,s:s,s:s%,s:i,s:s,s:s}", "seq", (json_int_t)seq, "time",
                            ts, "principal", principal, "action", action, "target", target.p,
                            target.n, "status", status, "prev_digest", log->head_digest,
                            "digest", digest);
    if (detail)
        json_object_set_new(doc, "detail", json_deep_copy(detail));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    buf_append_str(&val, text);
    free(text);
    key_of(seq, key);
    store_batch_put(b, STORE_SPACE_AUDIT, (slice){key, 8}, buf_slice(&val));
    int rc = store_batch_commit(log->st, b, false, err);
    if (rc == 0) {
        log->head_seq = seq;
        memcpy(log->head_digest, digest, sizeof digest);
        if (seq_out)
            *seq_out = seq;
    }
    pthread_mutex_unlock(&log->mu);
    store_batch_free(b);
    buf_free(&val);
    buf_free(&safe);
    return rc;
}

int audit_list(audit_log *log, uint64_t since_seq, size_t limit, json_t *records,
               uint64_t *next_seq, strata_err *err)
{
    char key[8];
    key_of(since_seq ? since_seq : 1, key);
    *next_seq = 0;
    store_iter *it = store_iter_open(log->st, STORE_SPACE_AUDIT, NULL);
    size_t n = 0;
    for (store_iter_seek(it, (slice){key, 8}); store_iter_valid(it); store_iter_next(it)) {
        slice k = store_iter_key(it);
        if (n == limit) {
            *next_seq = k.n == 8 ? get_u64be(k.p) : 0;
            break;
        }
        slice v = store_iter_value(it);
        json_t *doc = json_loadb(v.p, v.n, JSON_ALLOW_NUL, NULL);
        if (!doc) /* shown as stored, so a tampered record is still visible */
            doc = json_pack("{s:I,s:s%}", "seq", (json_int_t)(k.n == 8 ? get_u64be(k.p) : 0),
                            "unreadable", v.p, v.n);
        json_array_append_new(records, doc ? doc : json_null());
        n++;
    }
    int rc = store_iter_status(it, err);
    store_iter_close(it);
    return rc;
}

int audit_verify(audit_log *log, audit_verify_result *out, strata_err *err)
{
    memset(out, 0, sizeof *out);
    out->ok = true;
    char prev[65] = ZERO_DIGEST;
    uint64_t expect = 1;
    store_snapshot *snap = store_snapshot_take(log->st);
    store_iter *it = store_iter_open(log->st, STORE_SPACE_AUDIT, snap);
    for (store_iter_seek(it, (slice){"", 0}); store_iter_valid(it); store_iter_next(it)) {
        slice k = store_iter_key(it);
        uint64_t seq = k.n == 8 ? get_u64be(k.p) : 0;
        record r = {0};
        char why[160] = "";
        char digest[65];
        bool bad = false;
        if (k.n != 8) {
            snprintf(why, sizeof why, "a key that is not a sequence number");
            bad = true;
            seq = expect;
        } else if (seq != expect) {
            snprintf(why, sizeof why, "expected seq %llu, found %llu (records missing)",
                     (unsigned long long)expect, (unsigned long long)seq);
            bad = true;
            seq = expect;
        } else if (parse_record(store_iter_value(it), seq, &r, why, sizeof why)) {
            bad = true;
        } else {
            record_digest(prev, r.seq, r.time_us, r.principal, r.action, r.target, r.status,
                          slice_of(r.detail), digest);
            if (strcmp(r.prev, prev) != 0) {
                snprintf(why, sizeof why, "prev_digest does not match the previous record");
                bad = true;
            } else if (strcmp(r.digest, digest) != 0) {
                snprintf(why, sizeof why, "digest does not match the record's contents");
                bad = true;
            }
        }
        if (!bad) {
            memcpy(prev, digest, sizeof prev);
            out->head_seq = seq;
        }
        record_free(&r);
        if (bad) {
            out->ok = false;
            out->first_bad_seq = seq;
            snprintf(out->reason, sizeof out->reason, "%s", why);
            break;
        }
        out->records_checked++;
        expect++;
    }
    int rc = store_iter_status(it, err);
    store_iter_close(it);
    store_snapshot_release(log->st, snap);
    memcpy(out->head_digest, prev, sizeof prev);
    return rc;
}
