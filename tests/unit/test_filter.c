/* test_filter.c - the lineage filter language: parse, errors, evaluation, hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "lineage/filter.h"
#include "lineage/filter_int.h"

/* ---- fixtures ------------------------------------------------------------- */

static const char *const k_nodes[] = {
    /* 0: an artifact with every kind of field */
    "{\"id\": 42, \"type\": \"Dataset\", \"name\": \"model_v1\","
    " \"uri\": \"s3://bucket/data/part-0\", \"state\": \"LIVE\", \"external_id\": null,"
    " \"properties\": {\"rows\": 1500, \"ratio\": 0.25, \"label\": \"it's \\\"quoted\\\"\","
    "   \"ok\": true, \"whole\": 2.0, \"neg\": -7, \"nul\": null},"
    " \"custom_properties\": {\"my param\": \"foo\", \"span\": 3, \"pct\": \"50%\","
    "   \"under_score\": \"a_b\", \"uni\": \"na\\u00efve\"},"
    " \"create_time\": \"2024-01-02T03:04:05.123456Z\", \"update_time\": \"2024-02-01T00:00:00Z\"}",
    /* 1: a sparse node: no uri, no state, no properties at all */
    "{\"id\": 7, \"type\": \"Model\", \"name\": \"m\","
    " \"create_time\": \"2023-06-01T00:00:00Z\", \"update_time\": \"2023-06-01T00:00:00Z\"}",
};

enum { CTX_NONE, CTX_TWO, CTX_EMPTY, CTX_PARENT };

static const char *const k_contexts =
    "[{\"id\": 100, \"type\": \"Run\", \"name\": \"run_42\","
    "  \"create_time\": \"2024-01-01T00:00:00Z\"},"
    " {\"id\": 101, \"type\": \"Pipeline\", \"name\": \"train\"}]";
static const char *const k_parents = "[{\"id\": 5, \"type\": \"Parent\", \"name\": \"p\"}]";

static json_t *load_json(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fail_msg("fixture: %s at %d", je.text, je.position);
    return j;
}

typedef struct fixtures {
    json_t *nodes[2];
    json_t *contexts, *empty, *parents;
} fixtures;

static void fixtures_load(fixtures *fx)
{
    for (size_t i = 0; i < 2; i++)
        fx->nodes[i] = load_json(k_nodes[i]);
    fx->contexts = load_json(k_contexts);
    fx->empty = json_array();
    fx->parents = load_json(k_parents);
}

static void fixtures_free(fixtures *fx)
{
    for (size_t i = 0; i < 2; i++)
        json_decref(fx->nodes[i]);
    json_decref(fx->contexts);
    json_decref(fx->empty);
    json_decref(fx->parents);
}

static lfilter_env make_env(const fixtures *fx, int node, int ctx)
{
    lfilter_env env = {fx->nodes[node], NULL, NULL, NULL};
    if (ctx == CTX_TWO || ctx == CTX_PARENT)
        env.contexts = fx->contexts;
    if (ctx == CTX_EMPTY)
        env.contexts = fx->empty;
    if (ctx == CTX_PARENT)
        env.parent_contexts = fx->parents;
    return env;
}

static lfilter *parse_ok(const char *text)
{
    lfilter *f = NULL;
    strata_err err = STRATA_ERR_INIT;
    int rc = lfilter_parse(slice_of(text), &f, &err);
    if (rc)
        fail_msg("parse \"%s\": %s", text, err.message);
    return f;
}

/* ---- parse successes -------------------------------------------------------- */

static const struct {
    const char *text, *tree;
} k_parse_ok[] = {
    {"id = 1", "(= id 1)"},
    {"  id=1\t\n", "(= id 1)"},
    {"((id = 1))", "(= id 1)"},
    {"id <> 1", "(!= id 1)"},
    {"id != -1", "(!= id -1)"},
    {"id < 1 OR id <= 2 OR id > 3 OR id >= 4", "(or (< id 1) (<= id 2) (> id 3) (>= id 4))"},
    {"id = 9223372036854775807", "(= id 9223372036854775807)"},
    {"id = -9223372036854775808", "(= id -9223372036854775808)"},
    {"id = 1.5", "(= id 1.5)"},
    /* precedence: NOT over AND over OR; chains are n-ary */
    {"id = 1 OR id = 2 AND id = 3", "(or (= id 1) (and (= id 2) (= id 3)))"},
    {"id = 1 AND id = 2 OR id = 3", "(or (and (= id 1) (= id 2)) (= id 3))"},
    {"id = 1 AND id = 2 AND id = 3", "(and (= id 1) (= id 2) (= id 3))"},
    {"(id = 1 OR id = 2) AND id = 3", "(and (or (= id 1) (= id 2)) (= id 3))"},
    {"NOT id = 1 AND id = 2", "(and (not (= id 1)) (= id 2))"},
    {"not(id=1)", "(not (= id 1))"},
    {"NOT NOT id = 1", "(not (not (= id 1)))"},
    /* keywords are case-insensitive */
    {"id = 1 and name like 'a%' Or uri iS nOt NuLl", "(or (and (= id 1) (like name 'a%')) "
                                                     "(is-not-null uri))"},
    {"name LIKE 'model_%'", "(like name 'model_%')"},
    {"name NOT LIKE 'a\\%b\\_c'", "(not-like name 'a\\%b\\_c')"},
    {"name LIKE '%%x%%%'", "(like name '%x%')"},
    {"id IN (1,2, 3)", "(in id 1 2 3)"},
    {"id NOT IN (1)", "(not-in id 1)"},
    {"name IN ('a', \"b\")", "(in name 'a' 'b')"},
    {"uri IS NULL", "(is-null uri)"},
    {"uri IS NOT NULL", "(is-not-null uri)"},
    {"type = 'Dataset' AND external_id = 'e'", "(and (= type 'Dataset') (= external_id 'e'))"},
    /* strings: both quotes, escapes */
    {"name = 'it\\'s'", "(= name 'it\\'s')"},
    {"name = \"a\\\"b\"", "(= name 'a\"b')"},
    {"name = \"it's\"", "(= name 'it\\'s')"},
    {"name = 'back\\\\slash'", "(= name 'back\\\\slash')"},
    {"name = ''", "(= name '')"},
    {"name = 'na\xc3\xafve'", "(= name 'na\xc3\xafve')"},
    /* times: integer milliseconds or RFC 3339, all four names */
    {"create_time_since_epoch > 5", "(> create_time 5ms)"},
    {"create_time > 5", "(> create_time 5ms)"},
    {"last_update_time_since_epoch < 1", "(< update_time 1ms)"},
    {"update_time >= '1970-01-01T00:00:01Z'", "(>= update_time 1000000us)"},
    {"create_time IN (1, '1970-01-01T00:00:00.000002Z')", "(in create_time 1ms 2us)"},
    /* properties */
    {"properties.rows.int_value > 1000", "(> properties.rows.int_value 1000)"},
    {"properties.0.double_value > 1.5", "(> properties.0.double_value 1.5)"},
    {"properties.x.double_value = 1e3", "(= properties.x.double_value 1000)"},
    /* decimals dump as their shortest round-trip text, not %.17g's */
    {"properties.x.double_value = 0.1", "(= properties.x.double_value 0.1)"},
    {"properties.x.double_value < 2.5e-300", "(< properties.x.double_value 2.5e-300)"},
    {"properties.x.double_value = 2", "(= properties.x.double_value 2)"},
    {"properties.`my prop`.int_value = -3", "(= properties.`my prop`.int_value -3)"},
    {"custom_properties.`a\\`b`.string_value = 'x'",
     "(= custom_properties.`a\\`b`.string_value 'x')"},
    {"custom_properties.x.bool_value = TRUE", "(= custom_properties.x.bool_value true)"},
    {"custom_properties.x.bool_value != false", "(!= custom_properties.x.bool_value false)"},
    {"properties.AND.string_value IS NULL", "(is-null properties.AND.string_value)"},
    /* states: quoted, or bare as in MLMD */
    {"state = LIVE", "(= state 'LIVE')"},
    {"state = 'whatever'", "(= state 'whatever')"},
    {"last_known_state IN (RUNNING, COMPLETE)", "(in state 'RUNNING' 'COMPLETE')"},
    {"state NOT IN (DELETED)", "(not-in state 'DELETED')"},
    /* relations */
    {"contexts_run.name = 'r'", "(= contexts_run.name 'r')"},
    {"contexts_0.id = 1", "(= contexts_0.id 1)"},
    {"contexts_a.create_time_since_epoch = 1", "(= contexts_a.create_time 1ms)"},
    {"parent_contexts_a.id = 1", "(= parent_contexts_a.id 1)"},
    {"child_contexts_a_b.type LIKE 'T%'", "(like child_contexts_a_b.type 'T%')"},
    {"contexts_a.name = 'x' AND contexts_b.name = 'y' AND contexts_c.name = 'z' AND "
     "contexts_d.name = 'w'",
     "(and (= contexts_a.name 'x') (= contexts_b.name 'y') (= contexts_c.name 'z') "
     "(= contexts_d.name 'w'))"},
    /* MLMD's documented examples */
    {"type = 'bar' AND name LIKE 'foo%'", "(and (= type 'bar') (like name 'foo%'))"},
    {"NOT(create_time_since_epoch < 1 OR last_update_time_since_epoch < 1)",
     "(not (or (< create_time 1ms) (< update_time 1ms)))"},
    {"contexts_a.type = 'RunContext' AND contexts_a.name = 'my_run'",
     "(and (= contexts_a.type 'RunContext') (= contexts_a.name 'my_run'))"},
};

static void parse_successes(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof k_parse_ok / sizeof k_parse_ok[0]; i++) {
        lfilter *f = NULL;
        strata_err err = STRATA_ERR_INIT;
        int rc = lfilter_parse(slice_of(k_parse_ok[i].text), &f, &err);
        if (rc) {
            print_error("parse \"%s\" failed: %s\n", k_parse_ok[i].text, err.message);
            failures++;
            continue;
        }
        buf b = BUF_INIT;
        lfilter_dump(f, &b);
        if (!b.p || strcmp(b.p, k_parse_ok[i].tree) != 0) {
            print_error("parse \"%s\":\n  got  %s\n  want %s\n", k_parse_ok[i].text, b.p ? b.p : "",
                        k_parse_ok[i].tree);
            failures++;
        }
        buf_free(&b);
        lfilter_free(f);
    }
    assert_int_equal(failures, 0);
}

/* ---- parse failures (positions are 0-based byte offsets) -------------------- */

static const struct {
    const char *text, *want;
} k_parse_bad[] = {
    {"", "filter: empty filter"},
    {"   ", "filter: empty filter"},
    {"nmae = 'x'", "filter: unknown field \"nmae\" at position 0"},
    {"ID = 1", "unknown field \"ID\" at position 0"},
    {"name = ", "filter: expected a value after '=' at position 7"},
    {"id = 1 AND name >= ", "expected a value after '>=' at position 19"},
    {"name = 'abc", "filter: unterminated string at position 7"},
    {"name = \"abc\\\"", "unterminated string at position 7"},
    {"name = 'abc\\", "unterminated string at position 7"},
    {"(id = 1", "unbalanced parenthesis: '(' at position 0 is never closed"},
    {"(((id = 1)", "unbalanced parenthesis"},
    {"id = 1)", "unbalanced parenthesis: unexpected ')' at position 6"},
    {"(id = 1))", "unbalanced parenthesis: unexpected ')' at position 8"},
    {"(id = 1 name = 'x')", "expected AND, OR or ')' at position 8"},
    {"()", "expected a field at position 1, found \")\""},
    {"id = 1 name = 'x'", "unexpected \"name\" at position 7 (expected AND, OR or the end"},
    {"id = 1 IN (1)", "unexpected \"IN\" at position 7"},
    {"AND id = 1", "expected a field at position 0, found \"AND\""},
    {"id = 1 AND", "expected a field at position 10, found end of filter"},
    {"id = 1 OR OR id = 2", "expected a field at position 10, found \"OR\""},
    {"'a'", "expected a field at position 0"},
    {"1 = id", "expected a field at position 0"},
    {"name", "expected a comparison (=, !=, <, <=, >, >=, IN, LIKE, IS) after name at position 4"},
    {"name 'x'", "expected a comparison"},
    /* types */
    {"id = 'a'", "id takes an integer, not a string, at position 5"},
    {"id = TRUE", "id takes an integer, not a boolean"},
    {"name = 1", "name takes a string, not an integer, at position 7"},
    {"uri = 1.5", "uri takes a string, not a decimal"},
    {"type = 1", "type takes a string"},
    {"external_id = 1", "external_id takes a string"},
    {"contexts_a.name = 1", "contexts_a.name takes a string"},
    {"create_time_since_epoch = 'a'", "invalid RFC 3339 time \"a\" at position 26"},
    {"create_time = 'yesterday'", "invalid RFC 3339 time"},
    {"create_time = '2024-01-02'", "invalid RFC 3339 time"},
    {"create_time = 1.5", "create_time takes an RFC 3339 string or integer milliseconds since the "
                          "epoch, not a decimal"},
    {"update_time = TRUE", "update_time takes an RFC 3339 string"},
    {"properties.x.bool_value = 1", "properties.x.bool_value takes TRUE or FALSE, not an integer"},
    {"properties.x.int_value = 'a'", "properties.x.int_value takes an integer, not a string"},
    {"properties.x.double_value = FALSE", "takes a number, not a boolean"},
    {"properties.x.string_value = true", "takes a string, not a boolean"},
    {"id IN (1, 'a')", "id takes an integer, not a string, at position 10"},
    /* numbers */
    {"id = 9223372036854775808", "integer out of range at position 5"},
    {"id = -9223372036854775809", "integer out of range at position 5"},
    {"id = 99999999999999999999999", "integer out of range"},
    {"id = 1e999", "number out of range at position 5"},
    {"id = 12abc", "invalid number at position 5"},
    {"id = 1.", "invalid number at position 5"},
    {"id = 1.2.3", "invalid number at position 5"},
    {"id = .5", "unexpected character \".\" at position 5"},
    {"id = -", "unexpected character \"-\" at position 5"},
    /* operators */
    {"id == 1", "'==' is not an operator at position 3"},
    {"id ! 1", "unexpected '!' at position 3"},
    {"id = 1 && id = 2", "unexpected character \"&\" at position 7"},
    {"id = 1 || id = 2", "unexpected character \"|\" at position 7"},
    {"id IN ()", "expected a value in the IN list at position 7, found \")\""},
    {"id IN 1", "expected '(' after IN at position 6"},
    {"id IN (1 2)", "expected ',' or ')' in the IN list at position 9"},
    {"id IN (1,", "expected a value in the IN list at position 9, found end of filter"},
    {"id IN (1,)", "expected a value in the IN list at position 9"},
    {"id LIKE 'a'", "LIKE at position 3 needs a string field; id takes an integer"},
    {"create_time LIKE '2024%'", "LIKE at position 12 needs a string field"},
    {"name LIKE 5", "expected a pattern string after LIKE at position 10"},
    {"name LIKE", "expected a pattern string after LIKE at position 9, found end of filter"},
    {"name IS 'x'", "expected NULL after IS at position 8"},
    {"name IS NOT", "expected NULL after IS at position 11"},
    {"name NOT = 'x'", "expected IN or LIKE after NOT at position 9"},
    {"name = NULL", "use IS NULL or IS NOT NULL to test for a missing value, at position 7"},
    {"name != null", "use IS NULL"},
    {"type = Dataset",
     "expected a value after '=' at position 7, found \"Dataset\" (quote strings)"},
    {"name = uri", "expected a value after '=' at position 7"},
    {"state = LIVEE", "unknown state \"LIVEE\" at position 8"},
    {"state = live", "unknown state \"live\" at position 8"},
    {"state IN (LIVE, NOPE)", "unknown state \"NOPE\" at position 16"},
    {"state = 1", "state takes a string, not an integer"},
    /* field paths */
    {"properties", "expected .<name>.<int_value|double_value|string_value|bool_value> after "
                   "properties at position 10"},
    {"properties.foo = 1", "expected .<name>.<int_value"},
    {"properties.bar.", "expected a name after '.' at position 15"},
    {"properties.baz.int = 1", "unknown property value \"int\" at position 15"},
    {"custom_properties.baz.string", "unknown property value \"string\" at position 22"},
    {"properties.0:b.int_value = 1", "expected .<name>.<int_value"},
    {"properties.a.int_value.x = 1", "unexpected '.' at position 22 after the value kind"},
    {"properties.`unterminated.int_value = 1", "unterminated quoted name at position 11"},
    {"properties.``.int_value = 1", "empty quoted name at position 11"},
    {"`name` = 'x'", "unexpected '`' at position 0"},
    {"name.x = 'a'", "unexpected '.' at position 4 after name"},
    {"contexts_0.foo = 1", "unknown context field \"foo\" at position 11"},
    {"contexts_0.id.", "expected a name after '.' at position 14"},
    {"contexts_0.id.bar = 1", "unexpected '.' at position 13"},
    {"contexts_a.properties.p.int_value = 1", "unexpected '.' at position 21"},
    {"contexts_.id = 1", "missing alias after \"contexts_\" at position 0"},
    {"parent_contexts_.id = 1", "missing alias after \"parent_contexts_\""},
    {"contexts_a = 1", "expected .<field> after contexts_a at position 10"},
    {"contexts = 1", "unknown field \"contexts\" at position 0"},
    {"artifacts_a.id = 1", "unknown field \"artifacts_a.id\" at position 0"},
    {"events_0.type = INPUT", "unknown field \"events_0.type\""},
    {"type_id = 1", "unknown field \"type_id\""},
    {"contexts_a.id = 1 AND contexts_b.id = 1 AND contexts_c.id = 1 AND contexts_d.id = 1 AND "
     "contexts_e.id = 1",
     "more than 4 relation aliases at position 88"},
    /* strings */
    {"name = 'a\\qb'", "invalid escape \"\\q\" at position 9"},
    {"name = 'a\xff'", "string at position 7 is not valid UTF-8"},
    {"name = 'a\xc3'", "not valid UTF-8"},
    {"name = 'x' \x01", "unexpected character \"\\x01\" at position 11"},
    {"name = 'x' \xc3\xa9", "unexpected character \"\\xc3\" at position 11"},
    {"name = 'x' ;", "unexpected character \";\" at position 11"},
};

static void parse_failures(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof k_parse_bad / sizeof k_parse_bad[0]; i++) {
        lfilter *f = (lfilter *)1; /* must be reset to NULL */
        strata_err err = STRATA_ERR_INIT;
        int rc = lfilter_parse(slice_of(k_parse_bad[i].text), &f, &err);
        if (rc != STRATA_INVALID_ARGUMENT || f != NULL || err.code != STRATA_INVALID_ARGUMENT) {
            print_error("parse \"%s\": rc %d, want INVALID_ARGUMENT\n", k_parse_bad[i].text, rc);
            failures++;
            if (rc == 0)
                lfilter_free(f);
            continue;
        }
        if (!strstr(err.message, k_parse_bad[i].want) || strncmp(err.message, "filter: ", 8)) {
            print_error("parse \"%s\":\n  got  %s\n  want …%s…\n", k_parse_bad[i].text, err.message,
                        k_parse_bad[i].want);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* A NULL error pointer is allowed, and limits are enforced at their edges. */
static void parse_limits(void **state)
{
    (void)state;
    lfilter *f = NULL;
    assert_int_equal(lfilter_parse(slice_of("nope"), &f, NULL), STRATA_INVALID_ARGUMENT);
    assert_null(f);

    buf b = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    /* 63 parentheses plus the predicate is 64 levels: the most allowed. */
    for (int depth = 60; depth <= 66; depth++) {
        buf_reset(&b);
        for (int i = 0; i < depth; i++)
            buf_putc(&b, '(');
        buf_append_str(&b, "id = 1");
        for (int i = 0; i < depth; i++)
            buf_putc(&b, ')');
        int rc = lfilter_parse(buf_slice(&b), &f, &err);
        if (depth < (int)LFILTER_MAX_DEPTH) {
            assert_int_equal(rc, 0);
            lfilter_free(f);
        } else {
            assert_int_equal(rc, STRATA_INVALID_ARGUMENT);
            assert_non_null(strstr(err.message, "nesting deeper than 64 levels at position 64"));
        }
    }
    for (int depth = 62; depth <= 66; depth++) {
        buf_reset(&b);
        for (int i = 0; i < depth; i++)
            buf_append_str(&b, "NOT ");
        buf_append_str(&b, "id = 1");
        int rc = lfilter_parse(buf_slice(&b), &f, &err);
        assert_int_equal(rc, depth < (int)LFILTER_MAX_DEPTH ? 0 : STRATA_INVALID_ARGUMENT);
        if (rc == 0) {
            lfilter_env env = {NULL, NULL, NULL, NULL};
            json_t *node = json_pack("{s:i}", "id", 1);
            env.node = node;
            assert_int_equal(lfilter_eval(f, &env), depth % 2 == 0);
            json_decref(node);
            lfilter_free(f);
        }
    }

    /* IN lists: exactly the limit parses, one more does not. */
    for (unsigned n = LFILTER_MAX_IN; n <= LFILTER_MAX_IN + 1; n++) {
        buf_reset(&b);
        buf_append_str(&b, "id IN (");
        for (unsigned i = 0; i < n; i++)
            buf_printf(&b, "%s%u", i ? "," : "", i % 10); /* short, to stay under 16 KiB */
        buf_putc(&b, ')');
        int rc = lfilter_parse(buf_slice(&b), &f, &err);
        if (n == LFILTER_MAX_IN) {
            assert_int_equal(rc, 0);
            json_t *node = json_pack("{s:i}", "id", 9);
            lfilter_env env = {node, NULL, NULL, NULL};
            assert_true(lfilter_eval(f, &env));
            json_decref(node);
            lfilter_free(f);
        } else {
            assert_int_equal(rc, STRATA_INVALID_ARGUMENT);
            assert_non_null(strstr(err.message, "IN list longer than 4096 values"));
        }
    }

    /* Length: exactly the limit is parsed (here: trailing spaces), one more is refused. */
    buf_reset(&b);
    buf_append_str(&b, "id = 1");
    while (b.n < LFILTER_MAX_TEXT)
        buf_putc(&b, ' ');
    assert_int_equal(lfilter_parse(buf_slice(&b), &f, &err), 0);
    lfilter_free(f);
    buf_putc(&b, ' ');
    assert_int_equal(lfilter_parse(buf_slice(&b), &f, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "16385 bytes is longer than the limit of 16384"));
    buf_free(&b);

    /* A NULL slice pointer with zero length is an empty filter, not a crash. */
    assert_int_equal(lfilter_parse((slice){NULL, 0}, &f, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "empty filter"));
    err_clear(&err);
}

static void null_handles(void **state)
{
    (void)state;
    lfilter_free(NULL);
    assert_false(lfilter_uses_contexts(NULL));
    assert_false(lfilter_uses_parent_contexts(NULL));
    assert_false(lfilter_uses_child_contexts(NULL));
    lfilter *f = parse_ok("id = 1");
    assert_false(lfilter_eval(f, NULL));
    lfilter_env env = {NULL, NULL, NULL, NULL};
    assert_false(lfilter_eval(f, &env)); /* no node: every value is missing */
    assert_false(lfilter_eval(NULL, &env));
    lfilter_free(f);
    f = parse_ok("id IS NULL");
    assert_true(lfilter_eval(f, &env));
    lfilter_free(f);
}

static void uses_relations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool ctx, parent, child;
    } cases[] = {
        {"id = 1", false, false, false},
        {"contexts_a.id = 1", true, false, false},
        {"NOT (id = 1 OR contexts_x.name LIKE 'a%')", true, false, false},
        {"parent_contexts_x.id = 1 OR child_contexts_y.id = 2", false, true, true},
        {"child_contexts_y.id IS NULL", false, false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lfilter *f = parse_ok(cases[i].text);
        assert_int_equal(lfilter_uses_contexts(f), cases[i].ctx);
        assert_int_equal(lfilter_uses_parent_contexts(f), cases[i].parent);
        assert_int_equal(lfilter_uses_child_contexts(f), cases[i].child);
        lfilter_free(f);
    }
}

/* ---- evaluation ------------------------------------------------------------- */

static const struct {
    const char *text;
    int node; /* index into k_nodes */
    int ctx;  /* CTX_* */
    bool want;
} k_eval[] = {
    /* id: integers, decimals compare numerically */
    {"id = 42", 0, CTX_NONE, true},
    {"id = 43", 0, CTX_NONE, false},
    {"id != 43", 0, CTX_NONE, true},
    {"id <> 42", 0, CTX_NONE, false},
    {"id > 41", 0, CTX_NONE, true},
    {"id >= 42", 0, CTX_NONE, true},
    {"id < 42", 0, CTX_NONE, false},
    {"id <= 42", 0, CTX_NONE, true},
    {"id > -1", 0, CTX_NONE, true},
    {"id > 41.5", 0, CTX_NONE, true},
    {"id < 42.5", 0, CTX_NONE, true},
    {"id = 42.0", 0, CTX_NONE, true},
    {"id = 42.000001", 0, CTX_NONE, false},
    {"id < 1e300", 0, CTX_NONE, true},
    {"id > -1e300", 0, CTX_NONE, true},
    {"id < 9223372036854775807", 0, CTX_NONE, true},
    /* strings: case-sensitive, byte order, shorter first on a common prefix */
    {"type = 'Dataset'", 0, CTX_NONE, true},
    {"type = 'dataset'", 0, CTX_NONE, false},
    {"name = \"model_v1\"", 0, CTX_NONE, true},
    {"name > 'model'", 0, CTX_NONE, true},
    {"name < 'model'", 0, CTX_NONE, false},
    {"name < 'model_v2'", 0, CTX_NONE, true},
    {"name >= 'model_v1'", 0, CTX_NONE, true},
    {"name < 'Model'", 0, CTX_NONE, false},
    {"name IN ('a', 'model_v1')", 0, CTX_NONE, true},
    {"name NOT IN ('a', 'model_v1')", 0, CTX_NONE, false},
    {"uri = 's3://bucket/data/part-0'", 0, CTX_NONE, true},
    /* state: quoted or bare; last_known_state is the same field */
    {"state = 'LIVE'", 0, CTX_NONE, true},
    {"state = LIVE", 0, CTX_NONE, true},
    {"state != LIVE", 0, CTX_NONE, false},
    {"state IN (PENDING, LIVE)", 0, CTX_NONE, true},
    {"state NOT IN (DELETED)", 0, CTX_NONE, true},
    {"last_known_state = LIVE", 0, CTX_NONE, true},
    {"state IS NULL", 1, CTX_NONE, true},
    {"state NOT IN (DELETED)", 1, CTX_NONE, false},
    /* NULL and missing values: UNKNOWN, as in SQL */
    {"external_id IS NULL", 0, CTX_NONE, true},
    {"external_id IS NOT NULL", 0, CTX_NONE, false},
    {"external_id = 'x'", 0, CTX_NONE, false},
    {"external_id != 'x'", 0, CTX_NONE, false},
    {"NOT external_id = 'x'", 0, CTX_NONE, false},
    {"uri IS NULL", 1, CTX_NONE, true},
    {"uri IS NOT NULL", 0, CTX_NONE, true},
    {"uri = 'x'", 1, CTX_NONE, false},
    {"uri != 'x'", 1, CTX_NONE, false},
    {"NOT (uri = 'x')", 1, CTX_NONE, false},
    {"NOT (uri = 'x')", 0, CTX_NONE, true},
    {"uri = 'x' OR id = 7", 1, CTX_NONE, true},
    {"NOT (uri = 'x' AND id = 8)", 1, CTX_NONE, true},  /* UNKNOWN AND FALSE is FALSE */
    {"NOT (uri = 'x' AND id = 7)", 1, CTX_NONE, false}, /* UNKNOWN AND TRUE is UNKNOWN */
    {"NOT (uri = 'x' OR id = 7)", 1, CTX_NONE, false},
    {"NOT (uri = 'x' OR id = 8)", 1, CTX_NONE, false},
    {"uri LIKE '%'", 1, CTX_NONE, false},
    {"uri NOT LIKE '%'", 1, CTX_NONE, false},
    {"uri IN ('a')", 1, CTX_NONE, false},
    {"uri NOT IN ('a')", 1, CTX_NONE, false},
    {"properties.rows.int_value IS NULL", 1, CTX_NONE, true},
    {"properties.nul.int_value IS NULL", 0, CTX_NONE, true},
    /* times: RFC 3339 to the microsecond, integers in milliseconds */
    {"create_time = '2024-01-02T03:04:05.123456Z'", 0, CTX_NONE, true},
    {"create_time = '2024-01-02T04:04:05.123456+01:00'", 0, CTX_NONE, true},
    {"create_time = '2024-01-02T03:04:05.123Z'", 0, CTX_NONE, false},
    {"create_time > '2024-01-02T03:04:05.123455Z'", 0, CTX_NONE, true},
    {"create_time < '2024-01-02T03:04:05.123457Z'", 0, CTX_NONE, true},
    {"create_time = 1704164645123", 0, CTX_NONE, true},
    {"create_time_since_epoch = 1704164645123", 0, CTX_NONE, true},
    {"create_time_since_epoch > 1704164645122", 0, CTX_NONE, true},
    {"create_time_since_epoch > 1704164645123", 0, CTX_NONE, false},
    {"create_time_since_epoch <= 1704164645123", 0, CTX_NONE, true},
    {"create_time < 1704164645124", 0, CTX_NONE, true},
    {"create_time IN (1, 1704164645123)", 0, CTX_NONE, true},
    {"create_time NOT IN ('2024-01-02T03:04:05.123456Z')", 0, CTX_NONE, false},
    {"update_time = '2024-02-01T00:00:00Z'", 0, CTX_NONE, true},
    {"last_update_time_since_epoch = 1706745600000", 0, CTX_NONE, true},
    {"create_time > 9223372036854775807", 0, CTX_NONE, false},
    {"create_time > -9223372036854775808", 0, CTX_NONE, true},
    {"create_time < '2024-01-01T00:00:00Z'", 1, CTX_NONE, true},
    /* properties: typed accessors; a value of another type is NULL for them */
    {"properties.rows.int_value = 1500", 0, CTX_NONE, true},
    {"properties.rows.int_value > 1000", 0, CTX_NONE, true},
    {"properties.rows.int_value > 1499.5", 0, CTX_NONE, true},
    {"properties.rows.int_value < 1e300", 0, CTX_NONE, true},
    {"properties.rows.int_value > 9223372036854775807", 0, CTX_NONE, false},
    {"properties.rows.double_value = 1500", 0, CTX_NONE, true},
    {"properties.rows.double_value > 1499.5", 0, CTX_NONE, true},
    {"properties.rows.string_value = '1500'", 0, CTX_NONE, false},
    {"properties.rows.string_value IS NULL", 0, CTX_NONE, true},
    {"properties.ratio.double_value = 0.25", 0, CTX_NONE, true},
    {"properties.ratio.double_value < 1", 0, CTX_NONE, true},
    {"properties.ratio.double_value > 0", 0, CTX_NONE, true},
    {"properties.ratio.int_value IS NULL", 0, CTX_NONE, true},
    {"properties.ratio.int_value = 0", 0, CTX_NONE, false},
    {"NOT properties.ratio.int_value = 0", 0, CTX_NONE, false},
    {"properties.whole.int_value = 2", 0, CTX_NONE, false},
    {"properties.whole.double_value = 2", 0, CTX_NONE, true},
    {"properties.label.string_value = 'it\\'s \"quoted\"'", 0, CTX_NONE, true},
    {"properties.label.string_value = \"it's \\\"quoted\\\"\"", 0, CTX_NONE, true},
    {"properties.ok.bool_value = TRUE", 0, CTX_NONE, true},
    {"properties.ok.bool_value = true", 0, CTX_NONE, true},
    {"properties.ok.bool_value = FALSE", 0, CTX_NONE, false},
    {"properties.ok.bool_value != false", 0, CTX_NONE, true},
    {"properties.ok.bool_value > false", 0, CTX_NONE, true},
    {"properties.ok.int_value = 1", 0, CTX_NONE, false},
    {"properties.neg.int_value < 0", 0, CTX_NONE, true},
    {"properties.neg.int_value = -7", 0, CTX_NONE, true},
    {"properties.missing.int_value IS NULL", 0, CTX_NONE, true},
    {"properties.missing.int_value = 1", 0, CTX_NONE, false},
    {"properties.missing.int_value IS NOT NULL", 0, CTX_NONE, false},
    {"properties.span.int_value = 3", 0, CTX_NONE, false}, /* span is a custom property */
    {"custom_properties.span.int_value = 3", 0, CTX_NONE, true},
    {"custom_properties.span.int_value IN (1, 2, 3)", 0, CTX_NONE, true},
    {"custom_properties.span.int_value NOT IN (3)", 0, CTX_NONE, false},
    {"custom_properties.`my param`.string_value = 'foo'", 0, CTX_NONE, true},
    {"custom_properties.pct.string_value = '50%'", 0, CTX_NONE, true},
    {"custom_properties.pct.string_value = '50\\%'", 0, CTX_NONE, false}, /* \% stays two bytes */
    /* LIKE */
    {"name LIKE 'model_%'", 0, CTX_NONE, true},
    {"name LIKE 'model\\_%'", 0, CTX_NONE, true},
    {"name LIKE 'model\\_v_'", 0, CTX_NONE, true},
    {"name LIKE 'model\\%'", 0, CTX_NONE, false},
    {"name LIKE 'model'", 0, CTX_NONE, false},
    {"name LIKE 'model_v1'", 0, CTX_NONE, true},
    {"name LIKE '%'", 0, CTX_NONE, true},
    {"name LIKE '%%'", 0, CTX_NONE, true},
    {"name LIKE '%%%_%%'", 0, CTX_NONE, true},
    {"name LIKE '________'", 0, CTX_NONE, true},
    {"name LIKE '_______'", 0, CTX_NONE, false},
    {"name LIKE '_________'", 0, CTX_NONE, false},
    {"name LIKE 'MODEL%'", 0, CTX_NONE, false},
    {"name LIKE ''", 0, CTX_NONE, false},
    {"name LIKE '%1'", 0, CTX_NONE, true},
    {"name LIKE '%_1'", 0, CTX_NONE, true},
    {"name LIKE '%v1%'", 0, CTX_NONE, true},
    {"name LIKE '%model_v1%'", 0, CTX_NONE, true},
    {"name LIKE 'model_v1_'", 0, CTX_NONE, false},
    {"name LIKE 'm%l%1'", 0, CTX_NONE, true},
    {"name LIKE 'm%l%2'", 0, CTX_NONE, false},
    {"name NOT LIKE 'x%'", 0, CTX_NONE, true},
    {"name NOT LIKE 'm%'", 0, CTX_NONE, false},
    {"uri LIKE 's3://%/part-_'", 0, CTX_NONE, true},
    {"uri LIKE '%part%0'", 0, CTX_NONE, true},
    {"uri LIKE '%/%/%'", 0, CTX_NONE, true},
    {"uri LIKE '%/%/%/%/%'", 0, CTX_NONE, true}, /* s3://bucket/data/part-0 has four */
    {"uri LIKE '%/%/%/%/%/%'", 0, CTX_NONE, false},
    {"custom_properties.pct.string_value LIKE '50\\%'", 0, CTX_NONE, true},
    {"custom_properties.pct.string_value LIKE '5_\\%'", 0, CTX_NONE, true},
    {"custom_properties.pct.string_value LIKE '50\\_'", 0, CTX_NONE, false},
    {"custom_properties.under_score.string_value LIKE 'a\\_b'", 0, CTX_NONE, true},
    {"custom_properties.under_score.string_value LIKE 'a\\_c'", 0, CTX_NONE, false},
    {"custom_properties.uni.string_value LIKE 'na_ve'", 0, CTX_NONE, true},
    {"custom_properties.uni.string_value LIKE 'na__ve'", 0, CTX_NONE, false},
    {"custom_properties.uni.string_value LIKE '%ve'", 0, CTX_NONE, true},
    {"custom_properties.uni.string_value LIKE 'na%\xc3\xaf%'", 0, CTX_NONE, true},
    {"properties.label.string_value LIKE 'it\\'s \"%\"'", 0, CTX_NONE, true},
    {"properties.label.string_value LIKE '%\\\"%'", 0, CTX_NONE, true},
    /* IN */
    {"id IN (1, 42, 3)", 0, CTX_NONE, true},
    {"id IN (1)", 0, CTX_NONE, false},
    {"id NOT IN (1, 2)", 0, CTX_NONE, true},
    {"id NOT IN (42)", 0, CTX_NONE, false},
    {"id IN (41.9, 42.0)", 0, CTX_NONE, true},
    /* NOT, AND over OR, parentheses */
    {"id = 42 OR id = 1 AND name = 'x'", 0, CTX_NONE, true},
    {"name = 'x' AND id = 1 OR id = 42", 0, CTX_NONE, true},
    {"(id = 42 OR id = 1) AND name = 'x'", 0, CTX_NONE, false},
    {"NOT id = 42 AND id = 1", 0, CTX_NONE, false},
    {"NOT (id = 42 AND id = 1)", 0, CTX_NONE, true},
    {"NOT (id = 1 OR id = 2)", 0, CTX_NONE, true},
    {"NOT NOT id = 42", 0, CTX_NONE, true},
    {"NOT NOT NOT id = 42", 0, CTX_NONE, false},
    {"(id = 1 OR id = 42) AND (name = 'model_v1')", 0, CTX_NONE, true},
    {"type = 'Dataset' AND properties.rows.int_value > 1000", 0, CTX_NONE, true},
    {"name LIKE 'model_%' OR NOT (state = 'LIVE')", 1, CTX_NONE, false}, /* header example */
    {"name LIKE 'model_%' OR NOT (state = 'LIVE')", 0, CTX_NONE, true},
    /* contexts: one alias is one context (MLMD's join) */
    {"contexts_a.name = 'run_42'", 0, CTX_TWO, true},
    {"contexts_a.name = 'nope'", 0, CTX_TWO, false},
    {"contexts_a.name = 'run_42' AND contexts_a.type = 'Run'", 0, CTX_TWO, true},
    {"contexts_a.name = 'run_42' AND contexts_a.type = 'Pipeline'", 0, CTX_TWO, false},
    {"contexts_a.name = 'run_42' AND contexts_b.type = 'Pipeline'", 0, CTX_TWO, true},
    {"contexts_a.name = 'run_42' AND (contexts_a.type = 'Pipeline' OR contexts_a.id = 100)", 0,
     CTX_TWO, true},
    {"contexts_a.name = 'run_42' AND (contexts_a.type = 'Pipeline' OR contexts_a.id = 101)", 0,
     CTX_TWO, false},
    {"contexts_a.id = 101", 0, CTX_TWO, true},
    {"contexts_a.id IN (5, 100)", 0, CTX_TWO, true},
    {"contexts_a.name != 'run_42'", 0, CTX_TWO, true},
    {"NOT contexts_a.name = 'run_42'", 0, CTX_TWO, true},
    {"NOT (contexts_a.name = 'run_42' OR contexts_a.name = 'train')", 0, CTX_TWO, false},
    {"NOT (contexts_a.name = 'run_42' AND contexts_b.name = 'train')", 0, CTX_TWO, true},
    {"NOT (contexts_a.name LIKE '%' AND contexts_b.name LIKE '%')", 0, CTX_TWO, false},
    {"contexts_a.name = 'run_42' OR contexts_b.name = 'nope'", 0, CTX_TWO, true},
    {"(contexts_a.name = 'run_42' OR contexts_b.name = 'x') AND "
     "(contexts_a.type = 'Pipeline' OR contexts_b.type = 'Run')",
     0, CTX_TWO, true},
    {"(contexts_a.name = 'run_42' OR contexts_b.name = 'x') AND "
     "(contexts_a.type = 'Pipeline' OR contexts_b.type = 'Nope')",
     0, CTX_TWO, false},
    {"(contexts_a.name = 'train' OR contexts_b.name = 'x') AND "
     "(contexts_a.type = 'Pipeline' OR contexts_b.type = 'Nope') AND contexts_c.id = 100",
     0, CTX_TWO, true},
    {"contexts_a.name LIKE 'run%' AND name = 'model_v1'", 0, CTX_TWO, true},
    {"contexts_a.name LIKE 'run%' AND name = 'other'", 0, CTX_TWO, false},
    {"contexts_a.create_time IS NULL", 0, CTX_TWO, true}, /* the second context has none */
    {"contexts_a.create_time IS NULL AND contexts_a.id = 100", 0, CTX_TWO, false},
    {"contexts_a.create_time_since_epoch = 1704067200000", 0, CTX_TWO, true},
    {"contexts_a.create_time = '2024-01-01T00:00:00Z' AND contexts_a.name = 'run_42'", 0, CTX_TWO,
     true},
    {"contexts_a.uri IS NULL", 0, CTX_TWO, true},
    {"contexts_a.state IS NULL", 0, CTX_TWO, true},
    /* no contexts: one absent context whose fields are NULL (a LEFT JOIN) */
    {"contexts_a.name = 'run_42'", 1, CTX_EMPTY, false},
    {"contexts_a.id IS NULL", 1, CTX_EMPTY, true},
    {"contexts_a.id IS NOT NULL", 1, CTX_EMPTY, false},
    {"contexts_a.name = 'x' OR name = 'm'", 1, CTX_EMPTY, true},
    {"NOT contexts_a.name = 'x'", 1, CTX_EMPTY, false},
    {"contexts_a.id IS NULL", 0, CTX_NONE, true}, /* relation not given: same as empty */
    {"contexts_a.id IS NULL", 0, CTX_TWO, false},
    /* parent and child contexts are their own relations */
    {"parent_contexts_a.name = 'p'", 0, CTX_PARENT, true},
    {"child_contexts_a.name = 'p'", 0, CTX_PARENT, false},
    {"child_contexts_a.name IS NULL", 0, CTX_PARENT, true},
    {"parent_contexts_a.name = 'p' AND contexts_a.name = 'run_42'", 0, CTX_PARENT, true},
    {"parent_contexts_a.name = 'run_42'", 0, CTX_PARENT, false},
};

static void evaluation(void **state)
{
    (void)state;
    fixtures fx;
    fixtures_load(&fx);
    int failures = 0, ran = 0;
    for (size_t i = 0; i < sizeof k_eval / sizeof k_eval[0]; i++) {
        lfilter *f = NULL;
        strata_err err = STRATA_ERR_INIT;
        if (lfilter_parse(slice_of(k_eval[i].text), &f, &err)) {
            print_error("parse \"%s\": %s\n", k_eval[i].text, err.message);
            failures++;
            continue;
        }
        lfilter_env env = make_env(&fx, k_eval[i].node, k_eval[i].ctx);
        bool got = lfilter_eval(f, &env);
        if (got != k_eval[i].want) {
            print_error("eval \"%s\" on node %d: got %d, want %d\n", k_eval[i].text, k_eval[i].node,
                        got, k_eval[i].want);
            failures++;
        }
        ran++;
        lfilter_free(f);
    }
    fixtures_free(&fx);
    assert_int_equal(failures, 0);
    assert_true(ran > 200);
}

/* The same compiled filter gives the same answers across nodes and calls. */
static void reuse_across_nodes(void **state)
{
    (void)state;
    fixtures fx;
    fixtures_load(&fx);
    lfilter *f = parse_ok("id IN (7, 42) AND (uri IS NULL OR contexts_a.name = 'run_42')");
    for (int round = 0; round < 3; round++) {
        lfilter_env a = make_env(&fx, 0, CTX_TWO), b = make_env(&fx, 1, CTX_EMPTY),
                    c = make_env(&fx, 0, CTX_EMPTY);
        assert_true(lfilter_eval(f, &a));
        assert_true(lfilter_eval(f, &b));
        assert_false(lfilter_eval(f, &c));
    }
    lfilter_free(f);
    fixtures_free(&fx);
}

/* Millisecond literals compare with the time truncated toward -infinity. */
static void times_before_epoch(void **state)
{
    (void)state;
    json_t *node = json_pack("{s:s}", "create_time", "1969-12-31T23:59:59.9995Z");
    lfilter_env env = {node, NULL, NULL, NULL};
    static const struct {
        const char *text;
        bool want;
    } cases[] = {
        {"create_time = -1", true},
        {"create_time < 0", true},
        {"create_time > -2", true},
        {"create_time = 0", false},
        {"create_time = '1969-12-31T23:59:59.9995Z'", true},
        {"create_time < '1970-01-01T00:00:00Z'", true},
        {"update_time IS NULL", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lfilter *f = parse_ok(cases[i].text);
        if (lfilter_eval(f, &env) != cases[i].want)
            fail_msg("eval \"%s\": want %d", cases[i].text, cases[i].want);
        lfilter_free(f);
    }
    json_decref(node);
}

/* ---- hostile input ---------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Parse must either succeed or fail with INVALID_ARGUMENT and a message. */
static void parse_and_eval(slice text, const fixtures *fx)
{
    lfilter *f = NULL;
    strata_err err = STRATA_ERR_INIT;
    int rc = lfilter_parse(text, &f, &err);
    if (rc) {
        assert_int_equal(rc, STRATA_INVALID_ARGUMENT);
        assert_null(f);
        assert_int_equal(strncmp(err.message, "filter: ", 8), 0);
        assert_true(strlen(err.message) > 8);
        return;
    }
    assert_non_null(f);
    for (int node = 0; node < 2; node++) {
        for (int ctx = CTX_NONE; ctx <= CTX_PARENT; ctx++) {
            lfilter_env env = make_env(fx, node, ctx);
            (void)lfilter_eval(f, &env);
        }
    }
    buf b = BUF_INIT;
    lfilter_dump(f, &b);
    buf_free(&b);
    lfilter_free(f);
}

static void hostile_deep_nesting(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    strata_err err = STRATA_ERR_INIT;
    lfilter *f = NULL;
    const char *openers[] = {"(", "NOT ", "NOT (", "(NOT "};
    for (size_t k = 0; k < sizeof openers / sizeof openers[0]; k++) {
        buf_reset(&b);
        while (b.n + 8 < LFILTER_MAX_TEXT)
            buf_append_str(&b, openers[k]);
        assert_int_equal(lfilter_parse(buf_slice(&b), &f, &err), STRATA_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "nesting deeper than 64"));
    }
    /* Long flat chains are fine: n-ary nodes, no recursion per operand. */
    buf_reset(&b);
    buf_append_str(&b, "id = 0");
    while (b.n + 16 < LFILTER_MAX_TEXT)
        buf_append_str(&b, " AND id >= 0");
    assert_int_equal(lfilter_parse(buf_slice(&b), &f, &err), 0);
    json_t *node = json_pack("{s:i}", "id", 0);
    lfilter_env env = {node, NULL, NULL, NULL};
    assert_true(lfilter_eval(f, &env));
    lfilter_free(f);
    buf_reset(&b);
    buf_append_str(&b, "id = 1");
    while (b.n + 16 < LFILTER_MAX_TEXT)
        buf_append_str(&b, " OR NOT id = 0");
    assert_int_equal(lfilter_parse(buf_slice(&b), &f, &err), 0);
    assert_false(lfilter_eval(f, &env));
    lfilter_free(f);
    json_decref(node);
    buf_free(&b);
}

static void hostile_huge_input(void **state)
{
    (void)state;
    size_t n = 1u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, '(', n);
    strata_err err = STRATA_ERR_INIT;
    lfilter *f = NULL;
    assert_int_equal(lfilter_parse((slice){big, n}, &f, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "longer than the limit"));
    /* An IN list far past its limit within the byte limit. */
    buf b = BUF_INIT;
    buf_append_str(&b, "id IN (");
    while (b.n + 4 < LFILTER_MAX_TEXT)
        buf_append_str(&b, "1,");
    buf_append_str(&b, "1)");
    assert_int_equal(lfilter_parse(buf_slice(&b), &f, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "IN list longer than"));
    /* One 16 KiB string literal. */
    buf_reset(&b);
    buf_append_str(&b, "name = '");
    while (b.n + 1 < LFILTER_MAX_TEXT)
        buf_putc(&b, 'x');
    buf_putc(&b, '\'');
    assert_int_equal(lfilter_parse(buf_slice(&b), &f, &err), 0);
    lfilter_free(f);
    buf_free(&b);
    free(big);
}

static void hostile_random_bytes(void **state)
{
    (void)state;
    fixtures fx;
    fixtures_load(&fx);
    char text[256];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(rng() % sizeof text);
        for (size_t i = 0; i < n; i++)
            text[i] = (char)(rng() & 0xFF);
        parse_and_eval((slice){text, n}, &fx);
    }
    /* Bytes drawn from the language's own alphabet get much further. */
    static const char alphabet[] = "()=<>!,'\"\\`%_.- 0123456789aeinrtdNOTANDORLIKEISNULL";
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(rng() % 64);
        for (size_t i = 0; i < n; i++)
            text[i] = alphabet[rng() % (sizeof alphabet - 1)];
        parse_and_eval((slice){text, n}, &fx);
    }
    fixtures_free(&fx);
}

static void hostile_token_soup(void **state)
{
    (void)state;
    fixtures fx;
    fixtures_load(&fx);
    static const char *const toks[] = {
        "id",
        "name",
        "uri",
        "state",
        "contexts_a.name",
        "contexts_b.id",
        "parent_contexts_p.name",
        "properties.rows.int_value",
        "custom_properties.`my param`.string_value",
        "create_time",
        "=",
        "!=",
        "<",
        ">=",
        "<>",
        "(",
        ")",
        "(",
        ")",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "IS",
        "NULL",
        "TRUE",
        "'x'",
        "'%_%'",
        "'run_42'",
        "42",
        "1.5",
        "-7",
        ",",
        "LIVE",
        "'2024-01-01T00:00:00Z'",
        "''",
        "\"m\"",
    };
    size_t nt = sizeof toks / sizeof toks[0];
    buf b = BUF_INIT;
    int parsed = 0;
    for (int iter = 0; iter < 50000; iter++) {
        buf_reset(&b);
        size_t n = 1 + (size_t)(rng() % 24);
        for (size_t i = 0; i < n; i++) {
            buf_append_str(&b, toks[rng() % nt]);
            buf_putc(&b, ' ');
        }
        lfilter *f = NULL;
        if (lfilter_parse(buf_slice(&b), &f, NULL) == 0) {
            parsed++;
            lfilter_free(f);
        }
        parse_and_eval(buf_slice(&b), &fx);
    }
    buf_free(&b);
    fixtures_free(&fx);
    assert_true(parsed > 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Work that could explode is bounded: LIKE on a huge string, alias products. */
static void hostile_evaluation(void **state)
{
    (void)state;
    size_t n = 1u << 20;
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, 'a', n);
    s[n] = '\0';
    json_t *node = json_pack("{s:s}", "name", s);
    lfilter_env env = {node, NULL, NULL, NULL};

    /* Linear cases answer correctly. */
    lfilter *f = parse_ok("name LIKE '%a'");
    assert_true(lfilter_eval(f, &env));
    lfilter_free(f);
    f = parse_ok("name LIKE '%b%'");
    assert_false(lfilter_eval(f, &env));
    lfilter_free(f);
    f = parse_ok("name LIKE 'a%a%a%a%a%a%a%a%a%a'");
    assert_true(lfilter_eval(f, &env));
    lfilter_free(f);

    /* The quadratic case: a long literal after '%' that almost matches everywhere.
     * It must stop at the budget (no match) instead of running for minutes. */
    buf b = BUF_INIT;
    buf_append_str(&b, "name LIKE '%");
    for (int i = 0; i < 8000; i++)
        buf_putc(&b, 'a');
    buf_append_str(&b, "b'");
    f = NULL;
    assert_int_equal(lfilter_parse(buf_slice(&b), &f, NULL), 0);
    double t0 = now_s();
    assert_false(lfilter_eval(f, &env));
    double took = now_s() - t0;
    lfilter_free(f);
    assert_true(took < 20.0);
    json_decref(node);
    free(s);

    /* 300 contexts and four aliases tied together inside ORs: 300^4 combinations
     * if enumerated naively; the answer must come back (true or false) quickly. */
    json_t *ctxs = json_array();
    for (int i = 0; i < 300; i++)
        json_array_append_new(ctxs, json_pack("{s:i,s:s,s:s}", "id", i, "name", "n", "type", "T"));
    json_t *me = json_pack("{s:i}", "id", 1);
    lfilter_env env2 = {me, ctxs, NULL, NULL};
    f = parse_ok("(contexts_a.name = 'x' OR contexts_b.name = 'y') AND "
                 "(contexts_b.name = 'x' OR contexts_c.name = 'y') AND "
                 "(contexts_c.name = 'x' OR contexts_d.name = 'y') AND "
                 "(contexts_d.name = 'x' OR contexts_a.name = 'y')");
    t0 = now_s();
    assert_false(lfilter_eval(f, &env2));
    took = now_s() - t0;
    assert_true(took < 20.0);
    lfilter_free(f);
    /* Every partial choice satisfies the early groups and only the last fails:
     * the search hits the budget and answers "no match" instead of 300^4 steps. */
    f = parse_ok("(contexts_a.id >= 0 OR contexts_b.id = -1) AND "
                 "(contexts_b.id >= 0 OR contexts_c.id = -1) AND "
                 "(contexts_c.id >= 0 OR contexts_d.id = -1) AND "
                 "(contexts_d.id = -5 OR contexts_a.id = -5)");
    t0 = now_s();
    assert_false(lfilter_eval(f, &env2));
    took = now_s() - t0;
    assert_true(took < 20.0);
    lfilter_free(f);
    /* Independent aliases stay linear and answer correctly. */
    f = parse_ok("contexts_a.id = 299 AND contexts_b.id = 0 AND contexts_c.name = 'n' AND "
                 "NOT contexts_d.id = 5");
    assert_true(lfilter_eval(f, &env2));
    lfilter_free(f);
    /* A cross-alias join with an answer deep in the product is still found. */
    f = parse_ok("(contexts_a.id = 298 OR contexts_b.id = 1) AND (contexts_a.id = 299 OR "
                 "contexts_b.id = 299)");
    assert_true(lfilter_eval(f, &env2));
    lfilter_free(f);
    json_decref(me);
    json_decref(ctxs);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_successes),      cmocka_unit_test(parse_failures),
        cmocka_unit_test(parse_limits),         cmocka_unit_test(null_handles),
        cmocka_unit_test(uses_relations),       cmocka_unit_test(evaluation),
        cmocka_unit_test(reuse_across_nodes),   cmocka_unit_test(times_before_epoch),
        cmocka_unit_test(hostile_deep_nesting), cmocka_unit_test(hostile_huge_input),
        cmocka_unit_test(hostile_random_bytes), cmocka_unit_test(hostile_token_soup),
        cmocka_unit_test(hostile_evaluation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
