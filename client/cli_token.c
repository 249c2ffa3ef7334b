/*
 * cli_token.c - `strata token create|list|revoke`: edit the token file
 * locally (auth/tokens.h). No daemon is involved, which is how the first
 * admin token is made; a running stratad rereads the file within
 * LIMIT_TOKEN_RELOAD_S of a change (at once on SIGHUP).
 *
 * create prints the token alone on stdout, so `T=$(strata token create ...)`
 * captures it; it is never shown again, and only its SHA-256 is stored.
 */
#include "client/cli.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "serving/auth/tokens.h"
#include "base/text.h"
#include "base/timeutil.h"

/* Local failures of the token file: usage for bad names/roles, else input. */
static int token_fail(cli_ctx *ctx, int st, const strata_err *err)
{
    switch (st) {
    case STRATA_ALREADY_EXISTS:
    case STRATA_NOT_FOUND:
        return cli_fail(ctx, CLI_EXIT_REJECTED, "%s", err->message);
    default:
        return cli_fail(ctx, CLI_EXIT_INPUT, "%s", err->message);
    }
}

static const char *token_file(cli_ctx *ctx, const cli_args *a)
{
    const char *p = cli_opt(a, "token-file");
    if (!p) {
        p = getenv("STRATA_TOKEN_FILE");
        if (p && !*p)
            p = NULL;
    }
    if (!p)
        cli_usage_error(ctx, "no token file: pass --token-file PATH or set STRATA_TOKEN_FILE");
    return p;
}

static int run_create(cli_ctx *ctx, const cli_args *a)
{
    int rc = 0;
    strata_err err = STRATA_ERR_INIT;
    char token[AUTH_TOKEN_LEN + 1], name[LIMIT_NAME_MAX + 1];
    auth_role role;
    const char *path = token_file(ctx, a);
    if (!path)
        return ctx->exit_code;
    if (auth_role_parse(slice_of(a->pos[0]), &role))
        return cli_usage_error(ctx, "unknown role '%s': want admin, writer, reader or auditor",
                               a->pos[0]);
    const char *want = cli_opt(a, "name");
    int st = auth_tokens_create(path, role, want, token, name, &err);
    if (st == STRATA_INVALID_ARGUMENT && want && strstr(err.message, "invalid token name"))
        rc = cli_usage_error(ctx, "%s", err.message);
    else if (st)
        rc = token_fail(ctx, st, &err);
    else if (ctx->json) {
        json_t *doc = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "role", auth_role_name(role),
                                "token", token, "token_file", path);
        cli_print_json(doc);
        json_decref(doc);
    } else {
        printf("%s\n", token);
        fprintf(stderr, "strata: created token \"%s\" (%s) in %s; it is shown only this once\n",
                name, auth_role_name(role), path);
    }
    OPENSSL_cleanse(token, sizeof token);
    err_clear(&err);
    return rc;
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
    static const char *const headers[] = {"NAME", "ROLE", "CREATED", "SHA256"};
    int rc = 0;
    strata_err err = STRATA_ERR_INIT;
    auth_token_set *s = NULL;
    cli_table *t = NULL;
    json_t *list = NULL;
    const char *path = token_file(ctx, a);
    if (!path)
        return ctx->exit_code;
    int st = auth_tokens_load(path, &s, NULL, &err);
    if (st) {
        rc = token_fail(ctx, st, &err);
        goto out;
    }
    list = json_array();
    t = cli_table_new(4, headers);
    for (size_t i = 0; i < s->n; i++) {
        const auth_token_entry *e = &s->e[i];
        buf created = BUF_INIT, digest = BUF_INIT;
        text_hex_append(&digest, e->hash, AUTH_HASH_BYTES);
        buf_put_rfc3339(&created, e->created_us);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s}", "name", e->name, "role",
                                              auth_role_name(e->role), "created", created.p,
                                              "sha256", digest.p));
        digest.p[12] = '\0'; /* a prefix tells tokens apart in a table */
        const char *row[4] = {e->name, auth_role_name(e->role), created.p, digest.p};
        cli_table_add(t, row);
        buf_free(&created);
        buf_free(&digest);
    }
    if (ctx->json) {
        json_t *doc = json_pack("{s:O}", "tokens", list);
        cli_print_json(doc);
        json_decref(doc);
    } else {
        cli_table_print(t, stdout);
    }
out:
    cli_table_free(t);
    json_decref(list);
    auth_tokens_free(s);
    err_clear(&err);
    return rc;
}

static int run_revoke(cli_ctx *ctx, const cli_args *a)
{
    int rc = 0;
    strata_err err = STRATA_ERR_INIT;
    const char *path = token_file(ctx, a);
    if (!path)
        return ctx->exit_code;
    int st = auth_tokens_revoke(path, a->pos[0], &err);
    if (st)
        rc = token_fail(ctx, st, &err);
    else if (!ctx->json)
        printf("revoked token \"%s\"; a running stratad drops it within %u s (at once on "
               "SIGHUP)\n",
               a->pos[0], LIMIT_TOKEN_RELOAD_S);
    else {
        json_t *doc = json_pack("{s:s,s:b}", "name", a->pos[0], "revoked", 1);
        cli_print_json(doc);
        json_decref(doc);
    }
    err_clear(&err);
    return rc;
}

static const cli_option file_options[] = {
    {"token-file", "PATH", "the token file (default $STRATA_TOKEN_FILE)", false},
    {NULL, NULL, NULL, false},
};

static const cli_option create_options[] = {
    {"name", "N", "the token's name, its principal in the audit log (default ROLE_N)", false},
    {"token-file", "PATH", "the token file, created if missing (default $STRATA_TOKEN_FILE)",
     false},
    {NULL, NULL, NULL, false},
};

static const cli_command token_create = {
    .name = "create",
    .synopsis = "ROLE",
    .summary = "add a token for ROLE (admin|writer|reader|auditor); print it once",
    .details = "Works on the file directly: no daemon needed, which is how the first admin "
               "token is made.\nThe token is printed alone on stdout; only its SHA-256 is "
               "stored.",
    .options = create_options,
    .min_args = 1,
    .max_args = 1,
    .run = run_create,
};

static const cli_command token_list = {
    .name = "list",
    .synopsis = "",
    .summary = "list tokens: name, role, creation time, hash prefix",
    .options = file_options,
    .min_args = 0,
    .max_args = 0,
    .run = run_list,
};

static const cli_command token_revoke = {
    .name = "revoke",
    .synopsis = "NAME",
    .summary = "remove the token called NAME (a running stratad drops it within 1 s)",
    .options = file_options,
    .min_args = 1,
    .max_args = 1,
    .run = run_revoke,
};

static const cli_command *const token_subcommands[] = {&token_create, &token_list,
                                                       &token_revoke, NULL};

const cli_command cli_token_command = {
    .name = "token",
    .summary = "create, list and revoke bearer tokens in a token file (local)",
    .subcommands = token_subcommands,
};
