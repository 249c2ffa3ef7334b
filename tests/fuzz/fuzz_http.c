/*
 * fuzz_http.c - raw bytes on one connection to the daemon: serving/http.c's
 * parser callbacks, header and body limits, 100-continue, pipelining, chunked
 * bodies, the router's percent-decoding, and every handler the bytes reach,
 * on the shared fixture app (fuzz.h). Answers must be HTTP and never 500.
 */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_app();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf out = {0};
    fuzz_serve(data, size, &out);
    buf_free(&out);
    return 0;
}
