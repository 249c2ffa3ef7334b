/*
 * registry.c - model versions and aliases (trainer/registry.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "trainer/registry.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;

int model_name_check(const char *name, strata_err *err)
{
    size_t n = name ? strlen(name) : 0;
    bool ok = n >= 1 && n <= 64 && name[0] >= 'a' && name[0] <= 'z';
    for (size_t i = 1; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '_';
    if (!ok)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "model name \"%.64s\" is invalid: expected [a-z][a-z0-9_]{0,63}",
                       name ? name : "");
    return 0;
}

static void key_prefix(buf *k, char tag, const char *name)
{
    k->n = 0;
    buf_putc(k, tag);
    buf_append_str(k, name);
    buf_putc(k, '\0');
}

static void key_version(buf *k, const char *name, int64_t v)
{
    key_prefix(k, 'M', name);
    for (int b = 3; b >= 0; b--)
        buf_putc(k, (char)(((uint64_t)v >> (8 * b)) & 0xff));
}

static int64_t last_version(store_t *st, const char *name, strata_err *err, int *rc)
{
    buf k = BUF_INIT;
    key_prefix(&k, 'M', name);
    size_t pn = k.n;
    buf_append(&k, "\xff\xff\xff\xff\xff", 5);
    store_iter *it = store_iter_open(st, STORE_SPACE_JOBS, NULL);
    store_iter_seek_prev(it, (slice){k.p, k.n});
    int64_t v = 0;
    if (store_iter_valid(it)) {
        slice key = store_iter_key(it);
        if (key.n == pn + 4 && memcmp(key.p, k.p, pn) == 0)
            for (int b = 0; b < 4; b++)
                v = (v << 8) | (unsigned char)key.p[pn + b];
    }
    *rc = store_iter_status(it, err);
    store_iter_close(it);
    buf_free(&k);
    return v;
}

static int put_json(store_t *st, slice key, const json_t *doc, strata_err *err)
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s)
        return err_set(err, STRATA_NOMEM, "out of memory");
    store_batch *b = store_batch_new();
    store_batch_put(b, STORE_SPACE_JOBS, key, slice_of(s));
    int rc = store_batch_commit(st, b, true, err);
    store_batch_free(b);
    free(s);
    return rc;
}

int model_registry_reserve(store_t *st, const char *name, json_t *doc, int64_t *ver,
                           strata_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&reg_mu);
    int64_t v = last_version(st, name, err, &rc) + 1;
    if (rc == 0) {
        char t[TIME_RFC3339_MAX];
        time_format_rfc3339(time_now_us(), t, sizeof t);
        json_object_set_new(doc, "model", json_string(name));
        json_object_set_new(doc, "version", json_integer(v));
        json_object_set_new(doc, "create_time", json_string(t));
        buf k = BUF_INIT;
        key_version(&k, name, v);
        rc = put_json(st, (slice){k.p, k.n}, doc, err);
        buf_free(&k);
    }
    pthread_mutex_unlock(&reg_mu);
    if (rc == 0)
        *ver = v;
    return rc;
}

int model_registry_update(store_t *st, const char *name, int64_t ver, const json_t *doc,
                          strata_err *err)
{
    buf k = BUF_INIT;
    key_version(&k, name, ver);
    int rc = put_json(st, (slice){k.p, k.n}, doc, err);
    buf_free(&k);
    return rc;
}

int model_registry_get(store_t *st, const char *name, int64_t ver, json_t **out, strata_err *err)
{
    int rc = 0;
    if (ver == 0) {
        ver = last_version(st, name, err, &rc);
        if (rc)
            return rc;
        if (ver == 0)
            return err_set(err, STRATA_NOT_FOUND, "model \"%s\" not found", name);
    }
    /* Keys hold a version in 4 bytes: 2^32 + 1 must not read as version 1. */
    if (ver < 1 || ver > (int64_t)UINT32_MAX)
        return err_set(err, STRATA_NOT_FOUND, "model \"%s\" has no version %lld", name,
                       (long long)ver);
    buf k = BUF_INIT, v = BUF_INIT;
    key_version(&k, name, ver);
    rc = store_kv_get(st, STORE_SPACE_JOBS, NULL, (slice){k.p, k.n}, &v, err);
    if (rc == STRATA_NOT_FOUND) {
        err_clear(err);
        int r2 = 0;
        int64_t last = last_version(st, name, err, &r2);
        rc = last == 0 ? err_set(err, STRATA_NOT_FOUND, "model \"%s\" not found", name)
                       : err_set(err, STRATA_NOT_FOUND, "model \"%s\" has no version %lld", name,
                                 (long long)ver);
    } else if (rc == 0) {
        json_error_t je;
        *out = json_loadb(v.p, v.n, 0, &je);
        if (!*out)
            rc = err_set(err, STRATA_INTERNAL, "model %s@%lld: stored record does not parse", name,
                         (long long)ver);
    }
    buf_free(&k);
    buf_free(&v);
    return rc;
}

int model_registry_versions(store_t *st, const char *name, json_t **out, strata_err *err)
{
    buf k = BUF_INIT;
    key_prefix(&k, 'M', name);
    *out = json_array();
    store_iter *it = store_iter_open(st, STORE_SPACE_JOBS, NULL);
    for (store_iter_seek(it, (slice){k.p, k.n}); store_iter_valid(it); store_iter_next(it)) {
        slice key = store_iter_key(it);
        if (key.n != k.n + 4 || memcmp(key.p, k.p, k.n) != 0)
            break;
        int64_t v = 0;
        for (int b = 0; b < 4; b++)
            v = (v << 8) | (unsigned char)key.p[k.n + b];
        json_array_append_new(*out, json_integer(v));
    }
    int rc = store_iter_status(it, err);
    store_iter_close(it);
    buf_free(&k);
    return rc;
}

int model_registry_names(store_t *st, json_t **out, strata_err *err)
{
    *out = json_array();
    store_iter *it = store_iter_open(st, STORE_SPACE_JOBS, NULL);
    store_iter_seek(it, SLICE_LIT("M"));
    while (store_iter_valid(it)) {
        slice key = store_iter_key(it);
        if (key.n < 1 || key.p[0] != 'M')
            break;
        const char *z = memchr(key.p, '\0', key.n);
        if (!z)
            break;
        size_t nn = (size_t)(z - key.p) - 1;
        json_array_append_new(*out, json_stringn(key.p + 1, nn));
        buf k = BUF_INIT;
        buf_append(&k, key.p, nn + 2);
        buf_append(&k, "\xff\xff\xff\xff\xff", 5);
        store_iter_seek(it, (slice){k.p, k.n});
        buf_free(&k);
    }
    int rc = store_iter_status(it, err);
    store_iter_close(it);
    return rc;
}

int model_registry_aliases(store_t *st, const char *name, json_t **out, strata_err *err)
{
    buf k = BUF_INIT;
    key_prefix(&k, 'A', name);
    *out = json_object();
    store_iter *it = store_iter_open(st, STORE_SPACE_JOBS, NULL);
    for (store_iter_seek(it, (slice){k.p, k.n}); store_iter_valid(it); store_iter_next(it)) {
        slice key = store_iter_key(it);
        if (key.n < k.n || memcmp(key.p, k.p, k.n) != 0)
            break;
        slice val = store_iter_value(it);
        json_t *d = json_loadb(val.p, val.n, 0, NULL);
        char *alias = strndup(key.p + k.n, key.n - k.n);
        json_object_set_new(*out, alias,
                            json_integer(json_integer_value(json_object_get(d, "version"))));
        free(alias);
        json_decref(d);
    }
    int rc = store_iter_status(it, err);
    store_iter_close(it);
    buf_free(&k);
    return rc;
}

int model_registry_alias_set(store_t *st, const char *name, const char *alias, int64_t ver,
                             strata_err *err)
{
    buf k = BUF_INIT;
    key_prefix(&k, 'A', name);
    buf_append_str(&k, alias);
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(time_now_us(), t, sizeof t);
    json_t *d = json_pack("{s:I,s:s}", "version", (json_int_t)ver, "update_time", t);
    int rc = put_json(st, (slice){k.p, k.n}, d, err);
    json_decref(d);
    buf_free(&k);
    return rc;
}

int model_registry_alias_get(store_t *st, const char *name, const char *alias, int64_t *ver,
                             strata_err *err)
{
    buf k = BUF_INIT, v = BUF_INIT;
    key_prefix(&k, 'A', name);
    buf_append_str(&k, alias);
    int rc = store_kv_get(st, STORE_SPACE_JOBS, NULL, (slice){k.p, k.n}, &v, err);
    if (rc == STRATA_NOT_FOUND) {
        err_clear(err);
        rc = err_set(err, STRATA_NOT_FOUND, "model \"%s\" has no alias \"%.64s\"", name, alias);
    } else if (rc == 0) {
        json_t *d = json_loadb(v.p, v.n, 0, NULL);
        *ver = json_integer_value(json_object_get(d, "version"));
        json_decref(d);
    }
    buf_free(&k);
    buf_free(&v);
    return rc;
}
