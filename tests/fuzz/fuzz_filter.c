/*
 * fuzz_filter.c - the lineage filter language (lineage/filter.c): parse any
 * text, and evaluate what parses against nodes of several shapes (properties
 * of every type, absent fields, contexts and none), so the type checks, the
 * three-valued logic, LIKE and the alias enumeration all run on fuzzed trees.
 *
 * A refusal must say where (the message names a position); an accepted filter
 * must evaluate on every node without crashing and within its work budget.
 */
#include <string.h>

#include "fuzz.h"
#include "lineage/filter.h"
#include "lineage/filter_int.h"

static json_t *nodes[3], *contexts, *parents;

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &je);
    FUZZ_CHECK(j != NULL, "fixture JSON: %s", je.text);
    return j;
}

static void setup(void)
{
    nodes[0] = load("{\"id\":7,\"type\":\"Dataset\",\"name\":\"train_v2\","
                    "\"uri\":\"s3://bucket/train%_v2\",\"state\":\"LIVE\",\"external_id\":\"ext-7\","
                    "\"properties\":{\"rows\":1000,\"split\":\"train\",\"ratio\":0.25,"
                    "\"ok\":true,\"st\":{\"a\":[1,2]}},"
                    "\"custom_properties\":{\"owner\":\"ana\",\"my p\":3},"
                    "\"create_time\":\"2024-03-01T12:00:00.123456Z\","
                    "\"update_time\":\"2024-03-02T12:00:00Z\"}");
    nodes[1] = load("{\"id\":8,\"type\":\"Model\",\"properties\":{},\"custom_properties\":{},"
                    "\"create_time\":\"1970-01-01T00:00:00Z\","
                    "\"update_time\":\"1970-01-01T00:00:00Z\"}");
    nodes[2] = load("{\"id\":9223372036854775807,\"type\":\"\",\"name\":\"\\u00e9\\u0000x\","
                    "\"uri\":null,\"state\":\"COMPLETE\",\"properties\":{\"rows\":\"many\","
                    "\"ratio\":7},\"custom_properties\":{\"owner\":null},"
                    "\"create_time\":\"9999-12-31T23:59:59.999999Z\"}");
    contexts = load("[{\"id\":1,\"type\":\"Experiment\",\"name\":\"run_42\",\"properties\":{},"
                    "\"custom_properties\":{\"k\":1},\"create_time\":\"2024-01-01T00:00:00Z\"},"
                    "{\"id\":2,\"type\":\"Pipeline\",\"name\":\"credit-risk\","
                    "\"properties\":{\"v\":2}}]");
    parents = load("[{\"id\":3,\"type\":\"Project\",\"name\":\"p\"}]");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!contexts)
        setup();
    lfilter *f = NULL;
    strata_err err = STRATA_ERR_INIT;
    if (lfilter_parse((slice){(const char *)data, size}, &f, &err)) {
        FUZZ_CHECK(strstr(err.message, "filter") != NULL, "message: %s", err.message);
        err_clear(&err);
        return 0;
    }
    buf dump = {0};
    lfilter_dump(f, &dump);
    FUZZ_CHECK(dump.n > 0, "empty dump");
    buf_free(&dump);
    for (size_t i = 0; i < 3; i++) {
        lfilter_env env = {.node = nodes[i]};
        lfilter_eval(f, &env);
        env.contexts = lfilter_uses_contexts(f) ? contexts : NULL;
        env.parent_contexts = lfilter_uses_parent_contexts(f) ? parents : NULL;
        env.child_contexts = lfilter_uses_child_contexts(f) ? contexts : NULL;
        lfilter_eval(f, &env);
    }
    lfilter_free(f);
    return 0;
}
