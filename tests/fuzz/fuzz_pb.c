/*
 * fuzz_pb.c - protobuf request decoding: WriteRequest and OnlineReadRequest
 * bodies through the real handlers (serving/api_values.c), and Value messages
 * through serving/pb.c's conversions to and from stored values.
 *
 * Input: a selector line ("write", "read" or "value"), then the message bytes.
 * Requests run on the shared fixture app (fuzz.h); refusals must be the
 * contract's 4xx, a 200 read must answer a well-formed OnlineReadResponse.
 * A Value that encodes as a type must be finite if it is a double, and decode
 * back to one that encodes to the same stored bytes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "serving/pb.h"

#define PB "application/x-protobuf"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_app();
    return 0;
}

static void value(slice in)
{
    Strata__V1__Value *v =
        strata__v1__value__unpack(NULL, in.n, (const uint8_t *)in.p);
    if (!v)
        return;
    for (int t = VT_BOOL; t <= VT_MAX; t++) {
        buf enc = {0}, again = {0};
        strata_err err = STRATA_ERR_INIT;
        if (pb_value_encode((value_type)t, v, &enc, &err) == 0) {
            value_view vv;
            FUZZ_CHECK(value_decode(buf_slice(&enc), &vv) == 0, "%s encoding does not decode",
                       value_type_name((value_type)t));
            /* Only what JSON can say is stored: no NaN or infinity. */
            FUZZ_CHECK(vv.tag != VT_DOUBLE || isfinite(vv.d), "non-finite double stored");
            for (size_t i = 0; vv.tag == VT_DOUBLE_ARRAY && i < vv.count; i++)
                FUZZ_CHECK(isfinite(value_double_at(&vv, i)), "non-finite array element stored");
            Strata__V1__Value back = STRATA__V1__VALUE__INIT;
            arena sc = ARENA_INIT;
            FUZZ_CHECK(pb_value_decode(buf_slice(&enc), &back, &sc) == 0,
                       "stored %s value has no protobuf form", value_type_name((value_type)t));
            FUZZ_CHECK(pb_value_encode((value_type)t, &back, &again, &err) == 0 &&
                           again.n == enc.n && memcmp(again.p, enc.p, enc.n) == 0,
                       "%s value does not round-trip", value_type_name((value_type)t));
            /* The protobuf form packs and unpacks. */
            size_t n = strata__v1__value__get_packed_size(&back);
            uint8_t *wire = malloc(n ? n : 1);
            FUZZ_CHECK(wire != NULL, "out of memory");
            strata__v1__value__pack(&back, wire);
            Strata__V1__Value *re = strata__v1__value__unpack(NULL, n, wire);
            FUZZ_CHECK(re != NULL, "packed value does not unpack");
            strata__v1__value__free_unpacked(re, NULL);
            free(wire);
            arena_free(&sc);
        } else {
            FUZZ_CHECK(err.message[0], "refusal without a message");
        }
        err_clear(&err);
        buf_free(&enc);
        buf_free(&again);
    }
    strata__v1__value__free_unpacked(v, NULL);
}

static void request(const char *path, slice body, bool read)
{
    buf req = {0}, out = {0};
    buf_printf(&req,
               "POST %s HTTP/1.1\r\nHost: fuzz\r\nContent-Type: " PB "\r\nAccept: " PB
               "\r\nContent-Length: %zu\r\n\r\n",
               path, body.n);
    buf_append_slice(&req, body);
    fuzz_serve(req.p, req.n, &out);
    FUZZ_CHECK(out.n > 12 && (out.p[9] == '2' || out.p[9] == '4'), "%s: %.300s", path, out.p);
    if (read && memcmp(out.p, "HTTP/1.1 200", 12) == 0) {
        const char *b = memmem(out.p, out.n, "\r\n\r\n", 4);
        FUZZ_CHECK(b != NULL, "no body");
        b += 4;
        Strata__V1__OnlineReadResponse *r = strata__v1__online_read_response__unpack(
            NULL, out.n - (size_t)(b - out.p), (const uint8_t *)b);
        FUZZ_CHECK(r != NULL, "200 answer is not an OnlineReadResponse");
        for (size_t i = 0; i < r->n_rows; i++)
            FUZZ_CHECK(r->rows[i]->n_values == r->n_features &&
                           r->rows[i]->n_statuses == r->n_features,
                       "row %zu: %zu values, %zu statuses for %zu features", i,
                       r->rows[i]->n_values, r->rows[i]->n_statuses, r->n_features);
        strata__v1__online_read_response__free_unpacked(r, NULL);
    }
    buf_free(&req);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slice in = {(const char *)data, size};
    const char *nl = memchr(in.p, '\n', in.n);
    slice name = nl ? (slice){in.p, (size_t)(nl - in.p)} : (slice){"", 0};
    slice body = nl ? (slice){nl + 1, in.n - name.n - 1} : in;
    if (slice_eq_str(name, "read"))
        request("/v1/online:read", body, true);
    else if (slice_eq_str(name, "value"))
        value(body);
    else if (slice_eq_str(name, "write") || name.n % 2 == 0)
        request("/v1/entities/customer:write", body, false);
    else
        value(body);
    return 0;
}
