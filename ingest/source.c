/*
 * source.c - file and memory byte sources with a running SHA-256 (OpenSSL EVP).
 *
 * The digest covers exactly the bytes handed out, so a job that stops early
 * reports the digest of what it read; a job that reads to the end reports the
 * file's digest as it was while it was read.
 */
#include "ingest/source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/log.h"
#include "base/text.h"

struct ingest_source {
    int fd; /* -1 for memory */
    const char *mem;
    size_t mem_len, mem_pos;
    size_t mem_chunk; /* largest chunk handed out from memory */
    uint64_t size, read;
    bool started; /* the first chunk was handed out (BOM check done) */
    EVP_MD_CTX *md;
    char *chunk; /* files only */
};

static ingest_source *source_new(void)
{
    ingest_source *s = calloc(1, sizeof *s);
    STRATA_ASSERT(s != NULL);
    s->fd = -1;
    s->md = EVP_MD_CTX_new();
    STRATA_ASSERT(s->md != NULL);
    STRATA_ASSERT(EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) == 1);
    return s;
}

ingest_source *ingest_source_fd(int fd, uint64_t size)
{
    ingest_source *s = source_new();
    s->fd = fd;
    s->size = size;
    s->chunk = malloc(SOURCE_CHUNK_BYTES);
    STRATA_ASSERT(s->chunk != NULL);
    return s;
}

ingest_source *ingest_source_mem(const char *p, size_t n)
{
    return ingest_source_mem_chunked(p, n, SOURCE_CHUNK_BYTES);
}

ingest_source *ingest_source_mem_chunked(const char *p, size_t n, size_t chunk)
{
    ingest_source *s = source_new();
    s->mem = p;
    s->mem_len = n;
    s->size = n;
    s->mem_chunk = chunk < 3 ? 3 : chunk > SOURCE_CHUNK_BYTES ? SOURCE_CHUNK_BYTES : chunk;
    return s;
}

void ingest_source_close(ingest_source *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    EVP_MD_CTX_free(s->md);
    free(s->chunk);
    free(s);
}

int ingest_source_next(ingest_source *s, slice *chunk, strata_err *err)
{
    if (s->fd < 0) {
        size_t n = s->mem_len - s->mem_pos;
        if (n == 0)
            return 0;
        if (n > s->mem_chunk)
            n = s->mem_chunk;
        *chunk = (slice){s->mem + s->mem_pos, n};
        s->mem_pos += n;
    } else {
        ssize_t n;
        do {
            n = read(s->fd, s->chunk, SOURCE_CHUNK_BYTES);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            return err_set(err, STRATA_IO, "reading the source file: %s", strerror(errno));
        if (n == 0)
            return 0;
        *chunk = (slice){s->chunk, (size_t)n};
    }
    EVP_DigestUpdate(s->md, chunk->p, chunk->n);
    s->read += chunk->n;
    if (!s->started) {
        s->started = true;
        if (chunk->n >= 3 && memcmp(chunk->p, "\xEF\xBB\xBF", 3) == 0) {
            chunk->p += 3; /* hashed and counted, not handed out */
            chunk->n -= 3;
            if (chunk->n == 0)
                return ingest_source_next(s, chunk, err);
        }
    }
    return 1;
}

int ingest_source_rewind(ingest_source *s, strata_err *err)
{
    if (s->fd >= 0 && lseek(s->fd, 0, SEEK_SET) != 0)
        return err_set(err, STRATA_IO, "rewinding the source file: %s", strerror(errno));
    s->mem_pos = 0;
    s->read = 0;
    s->started = false;
    STRATA_ASSERT(EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) == 1);
    return 0;
}

uint64_t ingest_source_bytes_read(const ingest_source *s)
{
    return s->read;
}

uint64_t ingest_source_size(const ingest_source *s)
{
    return s->size;
}

void ingest_source_sha256(const ingest_source *s, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    /* Finalise a copy so reading may go on. */
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    STRATA_ASSERT(copy != NULL && EVP_MD_CTX_copy_ex(copy, s->md) == 1);
    EVP_DigestFinal_ex(copy, md, &len);
    EVP_MD_CTX_free(copy);
    for (unsigned i = 0; i < len && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* ---- path rules ------------------------------------------------------------------ */

bool ingest_path_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/' && path[1] != '\0';
    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

int ingest_fd_inside(int fd, const char *dir, bool allow_self)
{
    char link[64], actual[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, actual, sizeof actual - 1);
    if (n < 0 || (size_t)n >= sizeof actual - 1 || actual[0] != '/')
        return -1;
    actual[n] = '\0';
    if (allow_self && strcmp(actual, dir) == 0)
        return 1;
    return ingest_path_inside(actual, dir) ? 1 : 0;
}

/* One message whether or not the target exists: outside paths are not probed. */
static int outside(const char *field, const char *ex, const char *dir, strata_err *err)
{
    return err_set(err, STRATA_PERMISSION_DENIED,
                   "%s.path \"%s\" is outside the import directory %s (absolute paths and "
                   "symlinks must stay inside it)",
                   field, ex, dir);
}

/* What can be told of a path without its file: imports from paths enabled, a
 * usable path without "..", the import directory there. Fills dir (the import
 * directory, resolved) and cand (the path, absolute). */
static int path_precheck(const char *import_dir, slice path, const char *field, const char *what,
                         const char *ex, char *dir, char *cand, strata_err *err)
{
    if (!import_dir || !import_dir[0])
        return err_set(err, STRATA_PERMISSION_DENIED,
                       "%s from paths are disabled: stratad was started without "
                       "--import-dir; send the file inline (%s.inline) or restart stratad "
                       "with --import-dir DIR",
                       what, field);
    if (path.n == 0 || path.n >= PATH_MAX || memchr(path.p, '\0', path.n))
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s.path is not a usable path", field);
    for (size_t i = 0; i < path.n;) {
        size_t j = i;
        while (j < path.n && path.p[j] != '/')
            j++;
        if (j - i == 2 && path.p[i] == '.' && path.p[i + 1] == '.')
            return err_set(err, STRATA_PERMISSION_DENIED,
                           "%s.path \"%s\" contains a \"..\" component; paths must stay "
                           "inside the import directory",
                           field, ex);
        i = j + 1;
    }
    if (!realpath(import_dir, dir))
        return err_set(err, STRATA_PERMISSION_DENIED,
                       "the import directory %s is not accessible: %s", import_dir,
                       strerror(errno));
    if (path.p[0] == '/')
        snprintf(cand, PATH_MAX, "%.*s", (int)path.n, path.p);
    else if (snprintf(cand, PATH_MAX, "%s/%.*s", dir, (int)path.n, path.p) >= PATH_MAX)
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s.path is too long", field);
    return 0;
}

int ingest_source_check_path(const char *import_dir, slice path, const char *field,
                             const char *what, strata_err *err)
{
    char dir[PATH_MAX], cand[PATH_MAX], ex[120];
    text_excerpt(path, ex, sizeof ex);
    int rc = path_precheck(import_dir, path, field, what, ex, dir, cand, err);
    if (rc)
        return rc;
    if (!ingest_path_inside(cand, dir) && !ingest_path_inside(cand, import_dir))
        return outside(field, ex, import_dir, err);
    return 0;
}

int ingest_source_open_path(const char *import_dir, slice path, const char *field, const char *what,
                            int *fd_out, uint64_t *size_out, char **uri_out, strata_err *err)
{
    char dir[PATH_MAX], cand[PATH_MAX], real[PATH_MAX], ex[120];
    struct stat st, fst;
    text_excerpt(path, ex, sizeof ex);
    int rc = path_precheck(import_dir, path, field, what, ex, dir, cand, err);
    if (rc)
        return rc;
    if (!realpath(cand, real)) {
        int e = errno;
        if ((e == ENOENT || e == ENOTDIR) &&
            (ingest_path_inside(cand, dir) || ingest_path_inside(cand, import_dir)))
            return err_set(err, STRATA_NOT_FOUND, "%s file \"%s\" not found in the import directory",
                           field, ex);
        if (!ingest_path_inside(cand, dir) && !ingest_path_inside(cand, import_dir))
            return outside(field, ex, import_dir, err);
        return err_set(err, STRATA_PERMISSION_DENIED, "%s file \"%s\" cannot be opened: %s", field,
                       ex, strerror(e));
    }
    if (!ingest_path_inside(real, dir))
        return outside(field, ex, import_dir, err);
    if (stat(real, &st) != 0)
        return err_set(err, STRATA_PERMISSION_DENIED, "%s file \"%s\" cannot be opened: %s", field,
                       ex, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(err, STRATA_PERMISSION_DENIED, "%s file \"%s\" is not a regular file",
                       field, ex);
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return err_set(err, errno == ENOENT ? STRATA_NOT_FOUND : STRATA_PERMISSION_DENIED,
                       "%s file \"%s\" cannot be opened: %s", field, ex, strerror(errno));
    if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) || fst.st_ino != st.st_ino ||
        fst.st_dev != st.st_dev) {
        close(fd);
        return err_set(err, STRATA_PERMISSION_DENIED,
                       "%s file \"%s\" changed while it was opened; try again", field, ex);
    }
    /* realpath, stat and open each resolve the path again: a directory on it
     * replaced by a symlink between them would have taken the open (and the
     * stat) outside. Where the descriptor landed is what counts. */
    int inside = ingest_fd_inside(fd, dir, false);
    if (inside != 1) {
        close(fd);
        if (inside < 0)
            return err_set(err, STRATA_PERMISSION_DENIED,
                           "%s file \"%s\": cannot confirm it lies inside the import directory "
                           "(/proc/self/fd could not be read)",
                           field, ex);
        return outside(field, ex, import_dir, err);
    }
    *fd_out = fd;
    *size_out = (uint64_t)fst.st_size;
    size_t ul = strlen(real) + 8;
    *uri_out = malloc(ul);
    STRATA_ASSERT(*uri_out != NULL);
    snprintf(*uri_out, ul, "file://%s", real);
    return 0;
}
