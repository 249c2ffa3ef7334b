/*
 * fuzz_json.c - JSON request bodies: every handler that decodes one, reached
 * with a well-framed request so mutations go to the body, not the framing,
 * and the pure decoders of stored JSON (trained models, preprocessing) and
 * of values.
 *
 * Input: a selector line, then the body: "write\n{\"rows\":[...]}". A name not
 * in the table picks an entry by its hash, so a mutated name still lands
 * somewhere. Requests run on the shared fixture app (fuzz.h): every refusal
 * must be the contract's error body with a message, never a 500.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lineage/lineage_int.h"
#include "store/value.h"
#include "trainer/dataset.h"
#include "trainer/model.h"
#include "trainer/prep.h"

typedef struct target {
    const char *name;
    const char *method; /* NULL: a decoder below, not a request */
    const char *path;
} target;

static const target targets[] = {
    {"entity", "POST", "/v1/entities"},
    {"features", "POST", "/v1/entities/customer/features"},
    {"feature-patch", "PATCH", "/v1/entities/customer/features/age"},
    {"write", "POST", "/v1/entities/customer:write"},
    {"delete", "POST", "/v1/entities/customer:delete"},
    {"read", "POST", "/v1/online:read"},
    {"import", "POST", "/v1/imports"},
    {"historical", "POST", "/v1/exports:historical"},
    {"snapshot", "POST", "/v1/exports:snapshot"},
    {"history", "POST", "/v1/exports:history"},
    {"training", "POST", "/v1/trainings"},
    {"batch", "POST", "/v1/predictions:batch"},
    {"predict", "POST", "/v1/models/credit:predict"},
    {"alias", "PUT", "/v1/models/credit/aliases/fuzz"},
    {"schedule", "POST", "/v1/schedules"},
    {"schedule-patch", "PATCH", "/v1/schedules/nightly"},
    {"artifact-type", "POST", "/v1/artifact-types"},
    {"execution-type", "POST", "/v1/execution-types"},
    {"context-type", "POST", "/v1/context-types"},
    {"artifact", "POST", "/v1/artifacts"},
    {"artifact-patch", "PATCH", "/v1/artifacts/1"},
    {"execution", "POST", "/v1/executions"},
    {"execution-patch", "PATCH", "/v1/executions/1"},
    {"context", "POST", "/v1/contexts"},
    {"context-patch", "PATCH", "/v1/contexts/1"},
    {"event", "POST", "/v1/events"},
    {"attribution", "POST", "/v1/contexts/1/artifacts"},
    {"association", "POST", "/v1/contexts/1/executions"},
    {"parent", "POST", "/v1/contexts/1/parents"},
    {"value", NULL, NULL},
    {"model", NULL, NULL},
    {"prep", NULL, NULL},
    {"prep-options", NULL, NULL},
    {"split", NULL, NULL},
    {"properties", NULL, NULL},
};
#define NTARGETS (sizeof targets / sizeof targets[0])

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_app();
    return 0;
}

static const target *pick(slice name)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < NTARGETS; i++)
        if (slice_eq_str(name, targets[i].name))
            return &targets[i];
    for (size_t i = 0; i < name.n; i++)
        h = (h ^ (unsigned char)name.p[i]) * 16777619u;
    return &targets[h % NTARGETS];
}

/* Every value type: what encodes must decode, and write back as JSON that
 * encodes to the same bytes. */
static void values(const json_t *j)
{
    for (int t = VT_BOOL; t <= VT_MAX; t++) {
        buf enc = {0}, js = {0}, again = {0};
        strata_err err = STRATA_ERR_INIT;
        if (value_encode_json((value_type)t, j, &enc, &err) == 0) {
            value_view v;
            FUZZ_CHECK(value_decode(buf_slice(&enc), &v) == 0, "%s encoding does not decode",
                       value_type_name((value_type)t));
            value_write_json(&js, buf_slice(&enc));
            json_t *back = json_loadb(js.p, js.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            FUZZ_CHECK(back != NULL, "written JSON does not parse: %.200s", js.p);
            FUZZ_CHECK(value_encode_json((value_type)t, back, &again, &err) == 0 &&
                           again.n == enc.n && memcmp(again.p, enc.p, enc.n) == 0,
                       "%s value does not round-trip through %.200s",
                       value_type_name((value_type)t), js.p);
            json_decref(back);
        } else {
            FUZZ_CHECK(err.message[0], "refusal without a message");
        }
        err_clear(&err);
        buf_free(&enc);
        buf_free(&js);
        buf_free(&again);
    }
}

/* Stored models and preprocessing: what loads must save and load again to
 * the same JSON. */
static void model(const json_t *j)
{
    trainer_model *m = NULL, *m2 = NULL;
    strata_err err = STRATA_ERR_INIT;
    if (trainer_model_from_json(j, &m, &err) == 0) {
        json_t *saved = trainer_model_to_json(m);
        FUZZ_CHECK(saved && trainer_model_from_json(saved, &m2, &err) == 0,
                   "saved model does not load: %s", err.message);
        json_t *again = trainer_model_to_json(m2);
        FUZZ_CHECK(json_equal(saved, again), "model changes on a second save");
        json_decref(saved);
        json_decref(again);
    }
    trainer_model_destroy(m);
    trainer_model_destroy(m2);
    err_clear(&err);
}

static void prep_json(const json_t *j)
{
    prep *p = NULL, *p2 = NULL;
    strata_err err = STRATA_ERR_INIT;
    if (prep_from_json(j, &p, &err) == 0) {
        json_t *saved = prep_to_json(p);
        FUZZ_CHECK(saved && prep_from_json(saved, &p2, &err) == 0,
                   "saved preprocessing does not load: %s", err.message);
        json_t *again = prep_to_json(p2);
        FUZZ_CHECK(json_equal(saved, again), "preprocessing changes on a second save");
        json_decref(saved);
        json_decref(again);
    }
    prep_destroy(p);
    prep_destroy(p2);
    err_clear(&err);
}

static void decoder(const target *t, slice body)
{
    json_t *j = json_loadb(body.p, body.n, JSON_DECODE_ANY, NULL);
    if (!j)
        return;
    strata_err err = STRATA_ERR_INIT;
    if (strcmp(t->name, "value") == 0) {
        values(j);
    } else if (strcmp(t->name, "model") == 0) {
        model(j);
    } else if (strcmp(t->name, "prep") == 0) {
        prep_json(j);
    } else if (strcmp(t->name, "prep-options") == 0) {
        prep_options o;
        prep_options_default(&o);
        prep_options_from_json(j, &o, &err);
    } else if (strcmp(t->name, "split") == 0) {
        split_spec s;
        split_spec_parse(j, &s, &err);
    } else {
        lprop *props = NULL;
        size_t n = 0;
        if (lprops_parse(j, &props, &n, &err) == 0)
            for (size_t i = 1; i < n; i++)
                FUZZ_CHECK(strcmp(props[i - 1].name, props[i].name) < 0, "properties not sorted");
        lprops_free(props, n);
    }
    err_clear(&err);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slice in = {(const char *)data, size};
    const char *nl = memchr(in.p, '\n', in.n);
    slice name = nl ? (slice){in.p, (size_t)(nl - in.p)} : (slice){"", 0};
    slice body = nl ? (slice){nl + 1, in.n - name.n - 1} : in;
    const target *t = pick(name);
    if (!t->method) {
        decoder(t, body);
        return 0;
    }
    buf out = {0};
    int status = fuzz_request(t->method, t->path, "application/json", body.p, body.n, &out);
    FUZZ_CHECK(status >= 200 && status < 500, "%s %s: %.500s", t->method, t->path, out.p);
    buf_free(&out);
    return 0;
}
