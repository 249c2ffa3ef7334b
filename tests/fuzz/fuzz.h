/*
 * fuzz.h - what the libFuzzer targets in tests/fuzz/ share.
 *
 * Every target is one fuzz_<name>.c with an LLVMFuzzerTestOneInput. Built with
 * STRATA_FUZZ (clang) it links libFuzzer's main; built normally it links
 * replay_main.c instead, which runs the same function once per file it is
 * given, so `make test` replays the seed corpus and the regressions of every
 * target on every run (docs/testing.md).
 *
 * Targets that need a daemon's state (HTTP, JSON and protobuf requests) share
 * one `app` opened in LLVMFuzzerInitialize on a fresh temporary directory and
 * seeded with fixtures (an entity with a feature of every type and values, a
 * model, lineage nodes, a schedule), closed and removed at exit. Requests go
 * through http_serve_buffer: the real parser, limits, router and handlers,
 * without sockets. State persists between inputs, as in a daemon.
 */
#ifndef STRATA_TESTS_FUZZ_H
#define STRATA_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "serving/app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Weak: only the targets that need setup define it (libFuzzer and
 * replay_main.c call it when present). */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Abort (so the fuzzer records a crash) with a message, when `cond` is false:
 * targets assert what must hold for every input, such as round trips. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* For the readers: byte 0 picks a chunk size (3..66), the rest is a file;
 * read_all(text, chunk, out) writes a transcript of what a reader makes of
 * text handed out in chunks of at most `chunk` bytes. Aborts unless small
 * chunks give the same transcript as one chunk. */
typedef void (*fuzz_read_all_fn)(slice text, size_t chunk, buf *out);
void fuzz_chunks_agree(const uint8_t *data, size_t size, fuzz_read_all_fn read_all);

/* The shared app (opened on first use, fixtures loaded); aborts if it cannot
 * be opened. */
app *fuzz_app(void);
/* Serve raw bytes as one connection; the answer bytes go to out (reset first,
 * capped at 1 MiB). Aborts when an answer is not HTTP or is a 500: bad input
 * must get a 4xx. */
void fuzz_serve(const void *data, size_t n, buf *out);
/* One well-framed request with a body (Content-Length set) through fuzz_serve;
 * content_type NULL sends none. Returns the status of the first answer, or 0
 * when none came. */
int fuzz_request(const char *method, const char *path, const char *content_type,
                 const void *body, size_t n, buf *out);

#endif
