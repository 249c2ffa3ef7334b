/*
 * tokens.c - token generation, hashing, constant-time matching and the token
 * file: strict parsing, permission checks, and atomic locked edits.
 */
#include "serving/auth/tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/text.h"
#include "base/timeutil.h"

/* Group-writable, or anything for others: someone else could read or plant tokens. */
#define TOKEN_FILE_BAD_MODE (S_IWGRP | S_IRWXO)

/* OpenSSL 3 looks the digest up on every SHA256() call; fetching it once
 * makes the per-request hash ~25% cheaper. Kept for the process's life. */
static EVP_MD *sha256_md;
static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void auth_token_hash(slice token, unsigned char out[AUTH_HASH_BYTES])
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fetch_sha256);
    if (!sha256_md || EVP_Digest(token.p, token.n, out, NULL, sha256_md, NULL) != 1)
        SHA256((const unsigned char *)token.p, token.n, out);
}

const auth_token_entry *auth_tokens_match(const auth_token_set *s, slice token)
{
    if (!s || token.n == 0 || token.n > LIMIT_TOKEN_BYTES)
        return NULL;
    unsigned char h[AUTH_HASH_BYTES];
    auth_token_hash(token, h);
    /* found = index + 1 of the match; selected by masks, not branches. */
    size_t found = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t eq = (size_t)(CRYPTO_memcmp(h, s->e[i].hash, AUTH_HASH_BYTES) == 0);
        size_t mask = (size_t)0 - eq;
        found = (found & ~mask) | ((i + 1) & mask);
    }
    OPENSSL_cleanse(h, sizeof h);
    return found ? &s->e[found - 1] : NULL;
}

void auth_tokens_free(auth_token_set *s)
{
    if (!s)
        return;
    free(s->e);
    free(s);
}

/* ---- parsing ------------------------------------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Split a line into at most `max` blank-separated fields; returns the count,
 * or max + 1 when there are more. */
static size_t split_fields(slice line, slice *f, size_t max)
{
    size_t n = 0, i = 0;
    while (i < line.n) {
        while (i < line.n && is_blank(line.p[i]))
            i++;
        if (i == line.n)
            break;
        size_t start = i;
        while (i < line.n && !is_blank(line.p[i]))
            i++;
        if (n == max)
            return max + 1;
        f[n++] = (slice){line.p + start, i - start};
    }
    return n;
}

static int parse_line(slice line, auth_token_entry *e, const char **why)
{
    slice f[4];
    for (size_t i = 0; i < line.n; i++)
        if ((unsigned char)line.p[i] < 0x20 && line.p[i] != '\t') {
            *why = "control character in line";
            return -1;
        }
    if (split_fields(line, f, 4) != 4) {
        *why = "expected 4 fields: NAME ROLE SHA256-HEX CREATED";
        return -1;
    }
    if (!text_valid_name(f[0])) {
        *why = "name must match [a-z][a-z0-9_]{0,63}";
        return -1;
    }
    memcpy(e->name, f[0].p, f[0].n);
    e->name[f[0].n] = '\0';
    if (auth_role_parse(f[1], &e->role)) {
        *why = "role must be admin, writer, reader or auditor";
        return -1;
    }
    if (text_hex_decode(f[2], e->hash, AUTH_HASH_BYTES)) {
        *why = "hash must be 64 hex digits (SHA-256)";
        return -1;
    }
    if (time_parse_rfc3339(f[3], &e->created_us)) {
        *why = "creation time must be RFC 3339, e.g. 2025-01-02T03:04:05Z";
        return -1;
    }
    return 0;
}

int auth_tokens_parse(slice text, const char *where, auth_token_set **out, strata_err *err)
{
    int rc = 0;
    auth_token_set *s = calloc(1, sizeof *s);
    size_t cap = 0;
    *out = NULL;
    if (!s)
        return err_set(err, STRATA_NOMEM, "out of memory");
    if (text.n > LIMIT_TOKEN_FILE_BYTES) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "%s: larger than %zu bytes", where,
                     (size_t)LIMIT_TOKEN_FILE_BYTES);
        goto out;
    }
    size_t pos = 0;
    for (unsigned lineno = 1; pos < text.n; lineno++) {
        const char *nl = memchr(text.p + pos, '\n', text.n - pos);
        size_t end = nl ? (size_t)(nl - text.p) : text.n;
        slice line = {text.p + pos, end - pos};
        pos = nl ? end + 1 : text.n;
        if (line.n && line.p[line.n - 1] == '\r')
            line.n--;
        size_t i = 0;
        while (i < line.n && is_blank(line.p[i]))
            i++;
        if (i == line.n || line.p[i] == '#')
            continue;
        if (s->n == LIMIT_TOKENS) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "%s:%u: more than %u tokens", where,
                         lineno, LIMIT_TOKENS);
            goto out;
        }
        if (s->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            auth_token_entry *ne = realloc(s->e, ncap * sizeof *ne);
            if (!ne) {
                rc = err_set(err, STRATA_NOMEM, "out of memory");
                goto out;
            }
            s->e = ne;
            cap = ncap;
        }
        auth_token_entry *e = &s->e[s->n];
        const char *why = NULL;
        if (parse_line(line, e, &why)) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "%s:%u: %s", where, lineno, why);
            goto out;
        }
        for (size_t k = 0; k < s->n; k++) {
            if (strcmp(s->e[k].name, e->name) == 0) {
                rc = err_set(err, STRATA_INVALID_ARGUMENT, "%s:%u: name \"%s\" appears twice",
                             where, lineno, e->name);
                goto out;
            }
            if (memcmp(s->e[k].hash, e->hash, AUTH_HASH_BYTES) == 0) {
                rc = err_set(err, STRATA_INVALID_ARGUMENT,
                             "%s:%u: same token hash as \"%s\": one token, one name", where,
                             lineno, s->e[k].name);
                goto out;
            }
        }
        s->n++;
    }
    *out = s;
    s = NULL;
out:
    auth_tokens_free(s);
    return rc;
}

int auth_tokens_load(const char *path, auth_token_set **out, struct stat *st, strata_err *err)
{
    int rc = 0;
    buf text = BUF_INIT;
    struct stat sb;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return err_set(err, STRATA_NOT_FOUND, "token file %s does not exist", path);
        return err_set(err, STRATA_IO, "cannot open token file %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &sb)) {
        rc = err_set(err, STRATA_IO, "cannot stat token file %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "token file %s is not a regular file", path);
        goto out;
    }
    /* Its owner may rewrite it whatever the mode: only ours or root's. */
    if (sb.st_uid != geteuid() && sb.st_uid != 0) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "token file %s is owned by uid %u, not by stratad's user (uid %u) or root: "
                     "its owner could add tokens; run chown %u %s",
                     path, (unsigned)sb.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), path);
        goto out;
    }
    if (sb.st_mode & TOKEN_FILE_BAD_MODE) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "token file %s has mode %04o: others may read or change it; "
                     "run chmod 600 %s",
                     path, (unsigned)(sb.st_mode & 07777), path);
        goto out;
    }
    if ((size_t)sb.st_size > LIMIT_TOKEN_FILE_BYTES) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "token file %s is larger than %zu bytes", path,
                     (size_t)LIMIT_TOKEN_FILE_BYTES);
        goto out;
    }
    /* Read to EOF with a cap, whatever st_size said (the file may grow). */
    for (;;) {
        buf_reserve(&text, 4096);
        ssize_t r = read(fd, text.p + text.n, 4096);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = err_set(err, STRATA_IO, "cannot read token file %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        text.n += (size_t)r;
        if (text.n > LIMIT_TOKEN_FILE_BYTES) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "token file %s is larger than %zu bytes",
                         path, (size_t)LIMIT_TOKEN_FILE_BYTES);
            goto out;
        }
    }
    rc = auth_tokens_parse(buf_slice(&text), path, out, err);
    if (!rc && st)
        *st = sb;
out:
    close(fd);
    buf_free(&text);
    return rc;
}

void auth_tokens_format(const auth_token_set *s, buf *out)
{
    buf_append_str(out, "# Strata tokens: NAME ROLE SHA256-OF-TOKEN CREATED. Only hashes are "
                        "kept here.\n# Edit with `strata token create|list|revoke`; stratad "
                        "rereads this file when it changes.\n");
    for (size_t i = 0; s && i < s->n; i++) {
        const auth_token_entry *e = &s->e[i];
        buf_printf(out, "%s %s ", e->name, auth_role_name(e->role));
        text_hex_append(out, e->hash, AUTH_HASH_BYTES);
        buf_putc(out, ' ');
        buf_put_rfc3339(out, e->created_us);
        buf_putc(out, '\n');
    }
}

/* ---- editing ------------------------------------------------------------- */

/* 256 random bits as "strata_" + unpadded base64url. */
static int generate(char out[AUTH_TOKEN_LEN + 1], strata_err *err)
{
    unsigned char raw[AUTH_TOKEN_RANDOM_BYTES];
    unsigned char b64[4 * ((AUTH_TOKEN_RANDOM_BYTES + 2) / 3) + 1];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return err_set(err, STRATA_INTERNAL, "the random number generator failed");
    int n = EVP_EncodeBlock(b64, raw, (int)sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    size_t plen = sizeof AUTH_TOKEN_PREFIX - 1;
    memcpy(out, AUTH_TOKEN_PREFIX, plen);
    size_t k = plen;
    for (int i = 0; i < n && b64[i] != '='; i++)
        out[k++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    out[k] = '\0';
    OPENSSL_cleanse(b64, sizeof b64);
    if (k != AUTH_TOKEN_LEN)
        return err_set(err, STRATA_INTERNAL, "token encoding produced %zu characters", k);
    return 0;
}

/* Replace path with the text of s: PATH.tmp (0600), fsync, rename, fsync dir. */
static int save(const char *path, const auth_token_set *s, strata_err *err)
{
    int rc = 0, fd = -1;
    buf text = BUF_INIT, tmp = BUF_INIT;
    auth_tokens_format(s, &text);
    buf_printf(&tmp, "%s.tmp", path);
    unlink(tmp.p); /* a leftover from a crash; O_EXCL below sets the mode afresh */
    fd = open(tmp.p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = err_set(err, STRATA_IO, "cannot create %s: %s", tmp.p, strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < text.n) {
        ssize_t w = write(fd, text.p + off, text.n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = err_set(err, STRATA_IO, "cannot write %s: %s", tmp.p, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) || close(fd)) {
        fd = -1;
        rc = err_set(err, STRATA_IO, "cannot write %s: %s", tmp.p, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp.p, path)) {
        rc = err_set(err, STRATA_IO, "cannot replace %s: %s", path, strerror(errno));
        goto out;
    }
    /* The rename itself must survive a crash too. */
    const char *slash = strrchr(path, '/');
    buf dir = BUF_INIT;
    if (slash)
        buf_append(&dir, path, slash == path ? 1 : (size_t)(slash - path));
    else
        buf_putc(&dir, '.');
    buf_putc(&dir, '\0');
    int dfd = open(dir.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    buf_free(&dir);
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp.p);
    buf_free(&text);
    buf_free(&tmp);
    return rc;
}

/* Lock PATH.lock (created 0600) for the whole read-change-write. */
static int lock_file(const char *path, int *out_fd, strata_err *err)
{
    buf lp = BUF_INIT;
    buf_printf(&lp, "%s.lock", path);
    int fd = open(lp.p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0)
        rc = err_set(err, STRATA_IO, "cannot open lock file %s: %s", lp.p, strerror(errno));
    else if (flock(fd, LOCK_EX)) {
        rc = err_set(err, STRATA_IO, "cannot lock %s: %s", lp.p, strerror(errno));
        close(fd);
        fd = -1;
    }
    buf_free(&lp);
    *out_fd = fd;
    return rc;
}

static int load_for_edit(const char *path, bool missing_ok, auth_token_set **out,
                         strata_err *err)
{
    int rc = auth_tokens_load(path, out, NULL, err);
    if (rc == STRATA_NOT_FOUND && missing_ok) {
        err_clear(err);
        *out = calloc(1, sizeof **out);
        return *out ? 0 : err_set(err, STRATA_NOMEM, "out of memory");
    }
    return rc;
}

static bool name_taken(const auth_token_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->e[i].name, name) == 0)
            return true;
    return false;
}

int auth_tokens_create(const char *path, auth_role role, const char *name,
                       char token_out[AUTH_TOKEN_LEN + 1], char name_out[LIMIT_NAME_MAX + 1],
                       strata_err *err)
{
    int rc, lock = -1;
    auth_token_set *s = NULL;
    auth_token_entry e;
    memset(&e, 0, sizeof e);
    token_out[0] = '\0';
    if ((unsigned)role >= AUTH_NROLES)
        return err_set(err, STRATA_INVALID_ARGUMENT, "unknown role");
    if (name && !text_valid_name(slice_of(name)))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "invalid token name \"%.64s\": want [a-z][a-z0-9_]{0,63}", name);
    if ((rc = lock_file(path, &lock, err)) || (rc = load_for_edit(path, true, &s, err)))
        goto out;
    if (s->n >= LIMIT_TOKENS) {
        rc = err_set(err, STRATA_RESOURCE_EXHAUSTED, "%s already holds %u tokens (the limit)",
                     path, LIMIT_TOKENS);
        goto out;
    }
    if (name) {
        if (name_taken(s, name)) {
            rc = err_set(err, STRATA_ALREADY_EXISTS, "a token named \"%s\" exists in %s", name,
                         path);
            goto out;
        }
        strcpy(e.name, name);
    } else {
        for (unsigned n = 1;; n++) {
            snprintf(e.name, sizeof e.name, "%s_%u", auth_role_name(role), n);
            if (!name_taken(s, e.name))
                break;
        }
    }
    if ((rc = generate(token_out, err)))
        goto out;
    e.role = role;
    auth_token_hash((slice){token_out, AUTH_TOKEN_LEN}, e.hash);
    e.created_us = time_now_us() / TIME_US_PER_SEC * TIME_US_PER_SEC;
    auth_token_entry *ne = realloc(s->e, (s->n + 1) * sizeof *ne);
    if (!ne) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    s->e = ne;
    s->e[s->n++] = e;
    if ((rc = save(path, s, err)))
        goto out;
    strcpy(name_out, e.name);
out:
    if (rc)
        OPENSSL_cleanse(token_out, AUTH_TOKEN_LEN + 1);
    auth_tokens_free(s);
    if (lock >= 0)
        close(lock);
    return rc;
}

int auth_tokens_revoke(const char *path, const char *name, strata_err *err)
{
    int rc, lock = -1;
    auth_token_set *s = NULL;
    if ((rc = lock_file(path, &lock, err)) || (rc = load_for_edit(path, false, &s, err)))
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->e[i].name, name) != 0)
            s->e[k++] = s->e[i];
    if (k == s->n) {
        rc = err_set(err, STRATA_NOT_FOUND, "no token named \"%.64s\" in %s", name, path);
        goto out;
    }
    s->n = k;
    rc = save(path, s, err);
out:
    auth_tokens_free(s);
    if (lock >= 0)
        close(lock);
    return rc;
}
