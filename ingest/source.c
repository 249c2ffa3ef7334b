/*
 * source.c - file and memory byte sources with a running SHA-256 (OpenSSL EVP).
 *
 * The digest covers exactly the bytes handed out, so a job that stops early
 * reports the digest of what it read; a job that reads to the end reports the
 * file's digest as it was while it was read.
 */
#include "ingest/source.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/log.h"

struct ingest_source {
    int fd; /* -1 for memory */
    const char *mem;
    size_t mem_len, mem_pos;
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
    ingest_source *s = source_new();
    s->mem = p;
    s->mem_len = n;
    s->size = n;
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
        if (n > SOURCE_CHUNK_BYTES)
            n = SOURCE_CHUNK_BYTES;
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
