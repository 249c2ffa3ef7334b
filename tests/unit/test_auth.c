/*
 * test_auth.c - tokens, the token file, the live gate, and every route's
 * permission against the contract's role table.
 *
 * tokens.c is included (not linked) with CRYPTO_memcmp counted, so the test
 * can prove a match compares against every entry, with no early exit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

static size_t memcmp_calls;
static int counting_memcmp(const void *a, const void *b, size_t n)
{
    memcmp_calls++;
    return CRYPTO_memcmp(a, b, n);
}
#define CRYPTO_memcmp counting_memcmp
#include "serving/auth/tokens.c"
#undef CRYPTO_memcmp

#include "serving/auth/gate.h"
#include "serving/app.h"

static char dir[] = "/tmp/strata-auth-XXXXXX";

static void path_in_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A token file line "nI ROLE sha256(PREFIXI) ..." for the token PREFIXI. */
static void token_line(buf *text, unsigned i, const char *role, const char *prefix)
{
    unsigned char h[AUTH_HASH_BYTES];
    char tok[32];
    snprintf(tok, sizeof tok, "%s%u", prefix, i);
    auth_token_hash(slice_of(tok), h);
    buf_printf(text, "n%u %s ", i, role);
    text_hex_append(text, h, AUTH_HASH_BYTES);
    buf_append_str(text, " 2025-01-02T03:04:05Z\n");
}

#define HASH_A "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" /* "abc" */
#define HASH_B "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" /* "hello" */

static void hash_is_sha256(void **state)
{
    (void)state;
    unsigned char h[AUTH_HASH_BYTES];
    auth_token_hash(slice_of("abc"), h);
    assert_int_equal(h[0], 0xba);
    assert_int_equal(h[31], 0xad);
}

static void parses_good_file(void **state)
{
    (void)state;
    strata_err err = STRATA_ERR_INIT;
    auth_token_set *s = NULL;
    const char *text = "# comment\n"
                       "\n"
                       "   # indented comment\n"
                       "abc admin " HASH_A " 2025-01-02T03:04:05Z\r\n"
                       "\thello_2  reader\t" HASH_B "   2025-01-02T03:04:05.5+01:00";
    assert_int_equal(auth_tokens_parse(slice_of(text), "t", &s, &err), 0);
    assert_int_equal(s->n, 2);
    assert_string_equal(s->e[0].name, "abc");
    assert_int_equal(s->e[0].role, AUTH_ROLE_ADMIN);
    assert_string_equal(s->e[1].name, "hello_2");
    assert_int_equal(s->e[1].role, AUTH_ROLE_READER);
    assert_int_equal(s->e[1].created_us, INT64_C(1735783445500000));
    assert_ptr_equal(auth_tokens_match(s, slice_of("hello")), &s->e[1]);
    assert_ptr_equal(auth_tokens_match(s, slice_of("abc")), &s->e[0]);
    /* What format writes, parse reads back the same. */
    buf out = BUF_INIT;
    auth_tokens_format(s, &out);
    auth_token_set *again = NULL;
    assert_int_equal(auth_tokens_parse(buf_slice(&out), "t", &again, &err), 0);
    assert_int_equal(again->n, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(again->e[i].name, s->e[i].name);
        assert_int_equal(again->e[i].role, s->e[i].role);
        assert_memory_equal(again->e[i].hash, s->e[i].hash, AUTH_HASH_BYTES);
        assert_int_equal(again->e[i].created_us, s->e[i].created_us);
    }
    buf_free(&out);
    auth_tokens_free(again);
    auth_tokens_free(s);
}

static void refuses_hostile_lines(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *why;
    } bad[] = {
        {"abc admin " HASH_A, "expected 4 fields"},
        {"abc admin " HASH_A " 2025-01-02T03:04:05Z extra", "expected 4 fields"},
        {"Abc admin " HASH_A " 2025-01-02T03:04:05Z", "name must match"},
        {"a-b admin " HASH_A " 2025-01-02T03:04:05Z", "name must match"},
        {"abc root " HASH_A " 2025-01-02T03:04:05Z", "role must be"},
        {"abc Admin " HASH_A " 2025-01-02T03:04:05Z", "role must be"},
        {"abc admin ba7816bf 2025-01-02T03:04:05Z", "64 hex digits"},
        {"abc admin " HASH_A "0 2025-01-02T03:04:05Z", "64 hex digits"},
        {"abc admin zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
         "2025-01-02T03:04:05Z",
         "64 hex digits"},
        {"abc admin " HASH_A " yesterday", "RFC 3339"},
        {"abc admin " HASH_A " 2025-02-30T03:04:05Z", "RFC 3339"},
        {"abc\x01 admin " HASH_A " 2025-01-02T03:04:05Z", "control character"},
        {"abc admin " HASH_A " 2025-01-02T03:04:05Z\x00", "control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strata_err err = STRATA_ERR_INIT;
        auth_token_set *s = (auth_token_set *)1;
        buf text = BUF_INIT;
        buf_append_str(&text, "# ok\nok admin " HASH_B " 2025-01-02T03:04:05Z\n");
        buf_append_str(&text, bad[i].line);
        if (strstr(bad[i].why, "control") && strchr(bad[i].line, '\x01') == NULL)
            buf_putc(&text, '\0'); /* an embedded NUL */
        assert_int_equal(auth_tokens_parse(buf_slice(&text), "f", &s, &err),
                         STRATA_INVALID_ARGUMENT);
        assert_null(s);
        if (!strstr(err.message, bad[i].why) || !strstr(err.message, "f:3: "))
            fail_msg("line %zu: message \"%s\" lacks \"f:3: %s\"", i, err.message, bad[i].why);
        buf_free(&text);
        err_clear(&err);
    }
}

static void refuses_duplicates_and_excess(void **state)
{
    (void)state;
    strata_err err = STRATA_ERR_INIT;
    auth_token_set *s = NULL;
    assert_int_equal(auth_tokens_parse(slice_of("a admin " HASH_A " 2025-01-02T03:04:05Z\n"
                                                "a reader " HASH_B " 2025-01-02T03:04:05Z\n"),
                                       "f", &s, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "f:2: name \"a\" appears twice"));
    err_clear(&err);
    assert_int_equal(auth_tokens_parse(slice_of("a admin " HASH_A " 2025-01-02T03:04:05Z\n"
                                                "b reader " HASH_A " 2025-01-02T03:04:05Z\n"),
                                       "f", &s, &err),
                     STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "same token hash as \"a\""));
    err_clear(&err);
    /* One line more than LIMIT_TOKENS. */
    buf text = BUF_INIT;
    for (unsigned i = 0; i <= LIMIT_TOKENS; i++)
        token_line(&text, i, "reader", "t");
    assert_int_equal(auth_tokens_parse(buf_slice(&text), "f", &s, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "more than 100 tokens"));
    err_clear(&err);
    buf_free(&text);
}

/* Every entry is compared, wherever the match is and whether there is one. */
static void match_compares_every_entry(void **state)
{
    (void)state;
    strata_err err = STRATA_ERR_INIT;
    auth_token_set *s = NULL;
    buf text = BUF_INIT;
    for (unsigned i = 0; i < 50; i++)
        token_line(&text, i, "writer", "tok");
    assert_int_equal(auth_tokens_parse(buf_slice(&text), "f", &s, &err), 0);
    static const char *const probes[] = {"tok0", "tok25", "tok49", "tok50", "tok4", "x"};
    static const int want[] = {0, 25, 49, -1, 4, -1};
    for (size_t i = 0; i < 6; i++) {
        memcmp_calls = 0;
        const auth_token_entry *e = auth_tokens_match(s, slice_of(probes[i]));
        assert_int_equal(memcmp_calls, 50);
        if (want[i] < 0)
            assert_null(e);
        else
            assert_ptr_equal(e, &s->e[want[i]]);
    }
    /* Empty and oversized tokens are refused before any work. */
    memcmp_calls = 0;
    assert_null(auth_tokens_match(s, slice_of("")));
    char big[LIMIT_TOKEN_BYTES + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_null(auth_tokens_match(s, slice_of(big)));
    assert_int_equal(memcmp_calls, 0);
    auth_tokens_free(s);
    buf_free(&text);
}

static void load_checks_permissions(void **state)
{
    (void)state;
    char p[256];
    strata_err err = STRATA_ERR_INIT;
    auth_token_set *s = NULL;
    path_in_dir(p, sizeof p, "perm");
    const char *text = "a admin " HASH_A " 2025-01-02T03:04:05Z\n";
    static const struct {
        mode_t mode;
        int ok;
    } modes[] = {{0600, 1}, {0640, 1}, {0400, 1}, {0644, 0}, {0660, 0}, {0604, 0}, {0602, 0}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        write_file(p, text, modes[i].mode);
        int rc = auth_tokens_load(p, &s, NULL, &err);
        if (modes[i].ok) {
            assert_int_equal(rc, 0);
            assert_int_equal(s->n, 1);
        } else {
            assert_int_equal(rc, STRATA_INVALID_ARGUMENT);
            assert_non_null(strstr(err.message, "chmod 600"));
        }
        auth_tokens_free(s);
        s = NULL;
        err_clear(&err);
    }
    /* Owned by another user: that user may rewrite it (plant an admin token)
     * whatever its mode. Only root can make such a file here. */
    if (geteuid() == 0) {
        write_file(p, text, 0600);
        assert_int_equal(chown(p, 65534, 65534), 0);
        assert_int_equal(auth_tokens_load(p, &s, NULL, &err), STRATA_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "owned by uid 65534"));
        err_clear(&err);
        assert_int_equal(chown(p, 0, 65534), 0); /* root's, group-readable: fine */
        assert_int_equal(auth_tokens_load(p, &s, NULL, &err), 0);
        auth_tokens_free(s);
        s = NULL;
    }
    path_in_dir(p, sizeof p, "missing");
    assert_int_equal(auth_tokens_load(p, &s, NULL, &err), STRATA_NOT_FOUND);
    err_clear(&err);
    assert_int_equal(auth_tokens_load(dir, &s, NULL, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "not a regular file"));
    err_clear(&err);
}

static void create_and_revoke(void **state)
{
    (void)state;
    char p[256], token[AUTH_TOKEN_LEN + 1], token2[AUTH_TOKEN_LEN + 1], name[LIMIT_NAME_MAX + 1];
    strata_err err = STRATA_ERR_INIT;
    auth_token_set *s = NULL;
    struct stat st;
    path_in_dir(p, sizeof p, "edit");
    assert_int_equal(auth_tokens_create(p, AUTH_ROLE_ADMIN, NULL, token, name, &err), 0);
    assert_string_equal(name, "admin_1");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* strata_ + 43 base64url characters. */
    assert_int_equal(strlen(token), AUTH_TOKEN_LEN);
    assert_int_equal(strncmp(token, "strata_", 7), 0);
    for (size_t i = 7; i < AUTH_TOKEN_LEN; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                               token[i]));
    assert_int_equal(auth_tokens_create(p, AUTH_ROLE_ADMIN, NULL, token2, name, &err), 0);
    assert_string_equal(name, "admin_2");
    assert_string_not_equal(token, token2);
    assert_int_equal(auth_tokens_create(p, AUTH_ROLE_READER, "svc", token2, name, &err), 0);
    assert_int_equal(auth_tokens_create(p, AUTH_ROLE_READER, "svc", token2, name, &err),
                     STRATA_ALREADY_EXISTS);
    assert_string_equal(token2, ""); /* nothing handed out on failure */
    err_clear(&err);
    assert_int_equal(auth_tokens_create(p, AUTH_ROLE_READER, "Bad-Name", token2, name, &err),
                     STRATA_INVALID_ARGUMENT);
    err_clear(&err);

    assert_int_equal(auth_tokens_load(p, &s, NULL, &err), 0);
    assert_int_equal(s->n, 3);
    const auth_token_entry *e = auth_tokens_match(s, slice_of(token));
    assert_non_null(e);
    assert_string_equal(e->name, "admin_1");
    /* The file holds the hash, never the token. */
    FILE *f = fopen(p, "r");
    char all[8192];
    size_t n = fread(all, 1, sizeof all - 1, f);
    fclose(f);
    all[n] = '\0';
    assert_null(strstr(all, token + 7));
    auth_tokens_free(s);

    assert_int_equal(auth_tokens_revoke(p, "admin_1", &err), 0);
    assert_int_equal(auth_tokens_revoke(p, "admin_1", &err), STRATA_NOT_FOUND);
    err_clear(&err);
    assert_int_equal(auth_tokens_load(p, &s, NULL, &err), 0);
    assert_int_equal(s->n, 2);
    assert_null(auth_tokens_match(s, slice_of(token)));
    auth_tokens_free(s);
    /* The freed name is reused by the next unnamed token. */
    assert_int_equal(auth_tokens_create(p, AUTH_ROLE_ADMIN, NULL, token2, name, &err), 0);
    assert_string_equal(name, "admin_1");
}

static void gate_checks_and_reloads(void **state)
{
    (void)state;
    char p[256], tok_w[AUTH_TOKEN_LEN + 1], tok_r[AUTH_TOKEN_LEN + 1], name[LIMIT_NAME_MAX + 1];
    char principal[LIMIT_NAME_MAX + 1], hdr[300];
    strata_err err = STRATA_ERR_INIT;
    auth_gate *g = NULL;
    auth_role role;

    /* Open: everyone is anonymous admin. */
    assert_int_equal(auth_gate_open(NULL, &g, &err), 0);
    assert_false(auth_gate_enforcing(g));
    assert_int_equal(auth_gate_check(g, slice_of(""), principal, &role), AUTH_OK);
    assert_string_equal(principal, "anonymous");
    assert_int_equal(role, AUTH_ROLE_ADMIN);
    auth_gate_close(g);

    path_in_dir(p, sizeof p, "gate");
    assert_int_equal(auth_gate_open(p, &g, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "strata token create admin"));
    err_clear(&err);
    assert_int_equal(auth_tokens_create(p, AUTH_ROLE_WRITER, "w", tok_w, name, &err), 0);
    assert_int_equal(auth_tokens_create(p, AUTH_ROLE_READER, "r", tok_r, name, &err), 0);
    assert_int_equal(auth_gate_open(p, &g, &err), 0);
    assert_true(auth_gate_enforcing(g));

    snprintf(hdr, sizeof hdr, "Bearer %s", tok_w);
    assert_int_equal(auth_gate_check(g, slice_of(hdr), principal, &role), AUTH_OK);
    assert_string_equal(principal, "w");
    assert_int_equal(role, AUTH_ROLE_WRITER);
    snprintf(hdr, sizeof hdr, "  bearer   %s \t", tok_r);
    assert_int_equal(auth_gate_check(g, slice_of(hdr), principal, &role), AUTH_OK);
    assert_string_equal(principal, "r");
    assert_int_equal(auth_gate_check(g, slice_of(""), principal, &role), AUTH_MISSING);
    assert_int_equal(auth_gate_check(g, slice_of("Bearer "), principal, &role), AUTH_MISSING);
    assert_int_equal(auth_gate_check(g, slice_of("Basic dXNlcjpwYXNz"), principal, &role),
                     AUTH_MISSING);
    snprintf(hdr, sizeof hdr, "Bearer %s", tok_w);
    hdr[strlen(hdr) - 1] ^= 1; /* one character off */
    assert_int_equal(auth_gate_check(g, slice_of(hdr), principal, &role), AUTH_INVALID);
    assert_string_equal(principal, "");
    auth_counts c;
    auth_gate_counts(g, &c);
    assert_int_equal(c.missing, 3);
    assert_int_equal(c.invalid, 1);
    assert_int_equal(c.tokens, 2);

    /* Unchanged file: nothing to do. */
    assert_int_equal(auth_gate_reload(g, false, &err), 0);
    /* A revocation takes effect on the next reload. */
    assert_int_equal(auth_tokens_revoke(p, "w", &err), 0);
    assert_int_equal(auth_gate_reload(g, false, &err), 1);
    snprintf(hdr, sizeof hdr, "Bearer %s", tok_w);
    assert_int_equal(auth_gate_check(g, slice_of(hdr), principal, &role), AUTH_INVALID);
    /* A broken file keeps the last good tokens in force, and is reported once. */
    write_file(p, "garbage\n", 0600);
    assert_int_equal(auth_gate_reload(g, false, &err), STRATA_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, ":1: expected 4 fields"));
    err_clear(&err);
    assert_int_equal(auth_gate_reload(g, false, &err), 0);
    snprintf(hdr, sizeof hdr, "Bearer %s", tok_r);
    assert_int_equal(auth_gate_check(g, slice_of(hdr), principal, &role), AUTH_OK);
    /* So does one others may read; a forced reload tries again. */
    write_file(p, "", 0644);
    assert_int_equal(auth_gate_reload(g, true, &err), STRATA_INVALID_ARGUMENT);
    err_clear(&err);
    assert_int_equal(auth_gate_check(g, slice_of(hdr), principal, &role), AUTH_OK);
    /* An empty, well-kept file means no token is valid (never open). */
    assert_int_equal(chmod(p, 0600), 0);
    assert_int_equal(auth_gate_reload(g, true, &err), 1);
    assert_int_equal(auth_gate_check(g, slice_of(hdr), principal, &role), AUTH_INVALID);
    assert_true(auth_gate_enforcing(g));
    auth_gate_counts(g, &c);
    assert_int_equal(c.reloads, 2);
    assert_int_equal(c.reload_failures, 2);
    auth_gate_close(g);
}

/* ---- routes against the contract ----------------------------------------- */

#define A (1u << AUTH_ROLE_ADMIN)
#define W (1u << AUTH_ROLE_WRITER)
#define RD (1u << AUTH_ROLE_READER)
#define U (1u << AUTH_ROLE_AUDITOR)
#define OPEN 0u

/*
 * The contract's roles (spec/api.md, Conventions) written route by route,
 * independently of router.c: admin everything; writer registry, writes,
 * imports, schedules, exports, training (+ what a reader may, + lineage);
 * reader online reads, registry reads, predict; auditor read-only registry,
 * lineage, audit, evaluations, jobs (+ running evaluations). First match by
 * method ("*" any) and pattern prefix wins; a route matching no rule fails.
 */
static const struct rule {
    const char *method;
    const char *prefix;
    unsigned roles;
} contract[] = {
    {"GET", "/healthz", OPEN},
    {"GET", "/readyz", A | W | RD | U},
    {"GET", "/metrics", A | W | RD | U},
    {"POST", "/v1/entities/{}:write", A | W},
    {"POST", "/v1/entities/{}:delete", A | W},
    {"POST", "/v1/online:read", A | W | RD},
    {"GET", "/v1/entities/{}/values/", A | W | RD},
    {"GET", "/v1/entities", A | W | RD | U},
    {"GET", "/v1/features:search", A | W | RD | U},
    {"*", "/v1/entities", A | W},
    {"POST", "/v1/imports", A | W},
    {"GET", "/v1/jobs", A | W | RD | U},
    {"POST", "/v1/jobs/{}:cancel", A | W},
    {"POST", "/v1/exports:", A | W},
    {"POST", "/v1/trainings", A | W},
    {"POST", "/v1/predictions:batch", A | W},
    {"POST", "/v1/models/{}:predict", A | W | RD},
    {"GET", "/v1/models/{}/provenance", A | W | U},
    {"GET", "/v1/models", A | W | RD | U},
    {"PUT", "/v1/models/{}/aliases/", A | W},
    {"*", "/v1/schedules", A | W},
    {"GET", "/v1/audit", A | U},
    {"GET", "/v1/evaluations", A | W | U},
    {"POST", "/v1/evaluations", A | W | U},
    {"GET", "/v1/artifact-types", A | W | U},
    {"GET", "/v1/execution-types", A | W | U},
    {"GET", "/v1/context-types", A | W | U},
    {"GET", "/v1/artifacts", A | W | U},
    {"GET", "/v1/executions", A | W | U},
    {"GET", "/v1/contexts", A | W | U},
    {"GET", "/v1/lineage", A | W | U},
    {"POST", "/v1/lineage:batch", A | W},
    {"*", "/v1/artifact-types", A | W},
    {"*", "/v1/execution-types", A | W},
    {"*", "/v1/context-types", A | W},
    {"*", "/v1/artifacts", A | W},
    {"*", "/v1/executions", A | W},
    {"*", "/v1/contexts", A | W},
    {"POST", "/v1/events", A | W},
    {"*", "/v1/tokens", A},
    {"POST", "/v1/admin:", A},
};

static const struct rule *contract_rule(const char *name)
{
    const char *sp = strchr(name, ' ');
    size_t ml = (size_t)(sp - name);
    for (size_t i = 0; i < sizeof contract / sizeof contract[0]; i++) {
        const struct rule *r = &contract[i];
        if (strcmp(r->method, "*") != 0 && (strlen(r->method) != ml || memcmp(r->method, name, ml)))
            continue;
        if (strncmp(sp + 1, r->prefix, strlen(r->prefix)) == 0)
            return r;
    }
    return NULL;
}

static void every_route_matches_the_contract(void **state)
{
    (void)state;
    size_t n = app_route_count();
    assert_true(n > 50);
    for (size_t id = 0; id < n; id++) {
        const char *name = app_route_name((int)id);
        auth_perm p = app_route_perm((int)id);
        if (p == AUTH_PERM_UNDECLARED)
            fail_msg("route %s declares no permission", name);
        const struct rule *r = contract_rule(name);
        if (!r)
            fail_msg("route %s is not in the contract table of test_auth.c", name);
        if ((r->roles == OPEN) != (p == AUTH_PERM_OPEN))
            fail_msg("route %s: open without a token must be exactly /healthz", name);
        if (r->roles == OPEN)
            continue;
        for (int role = 0; role < AUTH_NROLES; role++) {
            bool want = (r->roles >> role) & 1u;
            if (auth_role_may((auth_role)role, p) != want)
                fail_msg("route %s: role %s %s, but the contract says %s", name,
                         auth_role_name((auth_role)role), want ? "is refused" : "is allowed",
                         want ? "allowed" : "refused");
        }
    }
    /* The undeclared permission fails closed: admin only. */
    assert_true(auth_role_may(AUTH_ROLE_ADMIN, AUTH_PERM_UNDECLARED));
    assert_false(auth_role_may(AUTH_ROLE_WRITER, AUTH_PERM_UNDECLARED));
    assert_false(auth_role_may(AUTH_ROLE_AUDITOR, AUTH_PERM_UNDECLARED));
}

/* The router answers 401 and 403 itself, with the contract's body. */
static void router_enforces(void **state)
{
    (void)state;
    char p[256], tok[AUTH_TOKEN_LEN + 1], name[LIMIT_NAME_MAX + 1], hdr[300];
    strata_err err = STRATA_ERR_INIT;
    app a;
    memset(&a, 0, sizeof a);
    path_in_dir(p, sizeof p, "router");
    assert_int_equal(auth_tokens_create(p, AUTH_ROLE_READER, "rd", tok, name, &err), 0);
    assert_int_equal(auth_gate_open(p, &a.auth, &err), 0);
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);

    http_req req;
    int status = 0;
    memset(&req, 0, sizeof req);
    req.method = HTTP_M_GET;
    req.path = slice_of("/healthz");
    assert_ptr_equal(app_route(&req, &a, &status), api_healthz);
    assert_string_equal(req.principal, "anonymous");

    /* No token: 401 with the challenge, also for a path that matches nothing. */
    static const char *const paths[] = {"/v1/entities", "/no/such/route"};
    for (int i = 0; i < 2; i++) {
        memset(&req, 0, sizeof req);
        req.method = HTTP_M_GET;
        req.path = slice_of(paths[i]);
        req.route_id = -1;
        http_handler h = app_route(&req, &a, &status);
        assert_non_null(h);
        h(&req, &a);
        assert_int_equal(req.status, 401);
        assert_non_null(strstr(req.resp.p, "\"code\":\"UNAUTHENTICATED\""));
        assert_non_null(strstr(req.resp_headers, "WWW-Authenticate: Bearer"));
        buf_free(&req.resp);
    }
    /* A reader may list entities but not create one. */
    memset(&req, 0, sizeof req);
    req.method = HTTP_M_GET;
    req.path = slice_of("/v1/entities");
    req.authorization = slice_of(hdr);
    assert_ptr_equal(app_route(&req, &a, &status), api_entity_list);
    assert_string_equal(req.principal, "rd");
    memset(&req, 0, sizeof req);
    req.method = HTTP_M_POST;
    req.path = slice_of("/v1/entities");
    req.authorization = slice_of(hdr);
    http_handler h = app_route(&req, &a, &status);
    assert_ptr_not_equal(h, api_entity_create);
    assert_int_equal(req.status, 403);
    assert_non_null(strstr(req.resp.p, "\"code\":\"PERMISSION_DENIED\""));
    assert_non_null(strstr(req.resp.p, "role reader"));
    assert_null(req.resp_headers);
    buf_free(&req.resp);
    auth_counts c;
    auth_gate_counts(a.auth, &c);
    assert_int_equal(c.forbidden, 1);
    assert_int_equal(c.missing, 2);
    auth_gate_close(a.auth);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_is_sha256),
        cmocka_unit_test(parses_good_file),
        cmocka_unit_test(refuses_hostile_lines),
        cmocka_unit_test(refuses_duplicates_and_excess),
        cmocka_unit_test(match_compares_every_entry),
        cmocka_unit_test(load_checks_permissions),
        cmocka_unit_test(create_and_revoke),
        cmocka_unit_test(gate_checks_and_reloads),
        cmocka_unit_test(every_route_matches_the_contract),
        cmocka_unit_test(router_enforces),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
