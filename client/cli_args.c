/*
 * cli_args.c - command dispatch, option parsing, help text and failure
 * reporting for the strata CLI, all driven by cli_command tables.
 *
 * Options are GNU-style long options: "--name VALUE" or "--name=VALUE"; "--"
 * ends them, and a lone "-" is a positional (stdin). Global options (--url,
 * --token, --json, --cacert, --timeout) are accepted before the command and
 * anywhere after it, so `strata entity list --json` works like
 * `strata --json entity list`.
 */
#include "client/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

/* A request slower than a day is a hang, not a slow server. */
#define TIMEOUT_MAX_S 86400u

static const cli_option global_options[] = {
    {"url", "URL", "stratad's address (default $STRATA_URL, else " STRATA_DEFAULT_URL ")", false},
    {"token", "T", "bearer token (default $STRATA_TOKEN)", false},
    {"cacert", "FILE", "CA bundle for https (default $STRATA_CACERT, else the system's)", false},
    {"timeout", "SECONDS", "per-request timeout (default 60)", false},
    {"json", NULL, "print the server's JSON (one compact document) instead of text", false},
    {NULL, NULL, NULL, false},
};

/* ---- failures ---------------------------------------------------------------- */

int cli_fail(cli_ctx *ctx, int exit_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
    ctx->exit_code = exit_code;
    return exit_code;
}

int cli_usage_error(cli_ctx *ctx, const char *fmt, ...)
{
    char reason[sizeof ctx->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return cli_fail(ctx, CLI_EXIT_USAGE, "%s (see '%s --help')", reason,
                    ctx->path[0] ? ctx->path : "strata");
}

int cli_exit_for_status(int status)
{
    switch (status) {
    case STRATA_OK:
        return CLI_EXIT_OK;
    case STRATA_INVALID_ARGUMENT:
    case STRATA_NOT_FOUND:
    case STRATA_ALREADY_EXISTS:
    case STRATA_FAILED_PRECONDITION:
    case STRATA_RESOURCE_EXHAUSTED:
    case STRATA_METHOD_NOT_ALLOWED:
        return CLI_EXIT_REJECTED;
    case STRATA_UNAUTHENTICATED:
    case STRATA_PERMISSION_DENIED:
        return CLI_EXIT_AUTH;
    case STRATA_IO:
        return CLI_EXIT_TRANSPORT;
    default:
        return CLI_EXIT_SERVER;
    }
}

int cli_fail_status(cli_ctx *ctx, int status, const strata_err *err)
{
    const char *msg = err && err->message[0] ? err->message : strata_strerror(status);
    return cli_fail(ctx, cli_exit_for_status(status), "%s", msg);
}

/* ---- client ---------------------------------------------------------------- */

int cli_client(cli_ctx *ctx, strata_client **out)
{
    strata_err err = STRATA_ERR_INIT;
    int rc = CLI_EXIT_OK;
    if (!ctx->client) {
        int st = strata_client_open(&ctx->copts, &ctx->client, &err);
        if (st == STRATA_INVALID_ARGUMENT)
            rc = cli_fail(ctx, CLI_EXIT_USAGE, "%s", err.message);
        else if (st)
            rc = cli_fail_status(ctx, st, &err);
    }
    *out = ctx->client;
    err_clear(&err);
    return rc;
}

/* ---- option accessors -------------------------------------------------------- */

static int option_index(const cli_option *opts, const char *name, size_t len)
{
    for (int i = 0; opts && opts[i].name; i++)
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
            return i;
    return -1;
}

const char *cli_opt(const cli_args *a, const char *name)
{
    int i = option_index(a->cmd->options, name, strlen(name));
    return i >= 0 && a->nvals[i] ? a->vals[i][a->nvals[i] - 1] : NULL;
}

size_t cli_opt_all(const cli_args *a, const char *name, const char *const **vals)
{
    int i = option_index(a->cmd->options, name, strlen(name));
    *vals = i >= 0 ? a->vals[i] : NULL;
    return i >= 0 ? a->nvals[i] : 0;
}

bool cli_flag(const cli_args *a, const char *name)
{
    return cli_opt(a, name) != NULL;
}

/* ---- help ------------------------------------------------------------------ */

static void print_options(FILE *out, const cli_option *opts)
{
    for (int i = 0; opts && opts[i].name; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        fprintf(out, "  %-20s %s%s\n", left, opts[i].help, opts[i].repeat ? " (repeatable)" : "");
    }
}

static void print_command_list(FILE *out, const cli_command *const *table)
{
    for (; *table; table++) {
        const cli_command *c = *table;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", c->name, c->synopsis ? " " : "",
                 c->synopsis ? c->synopsis : "");
        fprintf(out, "  %-28s %s\n", left, c->summary);
    }
}

void cli_print_usage(FILE *out, const cli_command *const *table)
{
    fprintf(out, "usage: strata [--url URL] [--token T] [--json] COMMAND [ARGS...]\n\n"
                 "Talk to stratad, the Strata feature store.\n\ncommands:\n");
    print_command_list(out, table);
    fprintf(out, "\nglobal options (also accepted after the command):\n");
    print_options(out, global_options);
    fprintf(out, "  %-20s %s\n  %-20s %s\n", "-h, --help", "show help ('strata COMMAND --help')",
            "--version", "print the version");
    fprintf(out, "\nExit status: 0 ok, 1 request rejected (4xx), 2 usage error, 3 cannot reach "
                 "stratad,\n4 server error (5xx), 5 not authorised (401/403), 6 local input "
                 "error.\n");
}

static void print_group_help(FILE *out, const char *path, const cli_command *group)
{
    fprintf(out, "usage: %s SUBCOMMAND [ARGS...]\n\n%s\n\nsubcommands:\n", path, group->summary);
    print_command_list(out, group->subcommands);
    fprintf(out, "\nRun '%s SUBCOMMAND --help' for its options.\n", path);
}

static void print_leaf_help(FILE *out, const char *path, const cli_command *cmd)
{
    fprintf(out, "usage: %s%s%s%s\n\n%s\n", path, cmd->synopsis ? " " : "",
            cmd->synopsis ? cmd->synopsis : "", cmd->options ? " [options]" : "", cmd->summary);
    if (cmd->details)
        fprintf(out, "\n%s\n", cmd->details);
    if (cmd->options) {
        fprintf(out, "\noptions:\n");
        print_options(out, cmd->options);
    }
    fprintf(out, "\nglobal options: --url URL, --token T, --cacert FILE, --timeout SECONDS, "
                 "--json\n");
}

/* ---- parsing ----------------------------------------------------------------- */

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/*
 * Split "--name[=value]" at argv[*i]; find it in `opts`. For an option taking
 * a value, *value is the inline value or the next argument (consumed).
 * Returns the option index, -1 when not in opts, -2 on error (ctx->msg set).
 */
static int match_option(cli_ctx *ctx, const cli_option *opts, int argc, char **argv, int *i,
                        const char **value)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    int k = option_index(opts, arg, len);
    if (k < 0)
        return -1;
    if (!opts[k].metavar) {
        if (eq) {
            cli_usage_error(ctx, "option --%s takes no value", opts[k].name);
            return -2;
        }
        *value = "";
    } else if (eq) {
        *value = eq + 1;
    } else if (*i + 1 < argc) {
        *value = argv[++*i];
    } else {
        cli_usage_error(ctx, "option --%s needs a value (%s)", opts[k].name, opts[k].metavar);
        return -2;
    }
    return k;
}

int cli_global_option(cli_ctx *ctx, int argc, char **argv, int *i)
{
    const char *v = NULL;
    if (strncmp(argv[*i], "--", 2) != 0)
        return 0;
    int k = match_option(ctx, global_options, argc, argv, i, &v);
    if (k == -2)
        return -1;
    if (k < 0)
        return 0;
    const char *name = global_options[k].name;
    if (strcmp(name, "url") == 0) {
        ctx->copts.url = v;
    } else if (strcmp(name, "token") == 0) {
        ctx->copts.token = v;
    } else if (strcmp(name, "cacert") == 0) {
        ctx->copts.cacert = v;
    } else if (strcmp(name, "json") == 0) {
        ctx->json = true;
    } else if (strcmp(name, "timeout") == 0) {
        uint64_t s;
        if (text_parse_u64(slice_of(v), &s) || s == 0 || s > TIMEOUT_MAX_S) {
            cli_usage_error(ctx, "invalid --timeout '%s': expected seconds, 1..%u", v,
                            TIMEOUT_MAX_S);
            return -1;
        }
        ctx->copts.timeout_ms = (long)s * 1000;
    }
    return 1;
}

static void args_free(cli_args *a, size_t nopts)
{
    for (size_t k = 0; k < nopts && a->vals; k++)
        free(a->vals[k]);
    free(a->vals);
    free(a->nvals);
    free(a->pos);
}

/* Parse argv[1..] of a leaf command and run it. */
static int run_leaf(cli_ctx *ctx, const cli_command *cmd, const char *path, int argc, char **argv)
{
    int rc = CLI_EXIT_OK;
    cli_args a = {cmd, NULL, 0, NULL, NULL};
    size_t nopts = 0;
    bool opts_done = false;

    while (cmd->options && cmd->options[nopts].name)
        nopts++;
    a.pos = calloc((size_t)argc, sizeof *a.pos);
    a.vals = calloc(nopts + 1, sizeof *a.vals);
    a.nvals = calloc(nopts + 1, sizeof *a.nvals);
    if (!a.pos || !a.vals || !a.nvals) {
        rc = cli_fail(ctx, CLI_EXIT_INPUT, "out of memory");
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        if (opts_done || arg[0] != '-' || arg[1] == '\0') {
            a.pos[a.npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            opts_done = true;
            continue;
        }
        if (is_help(arg)) {
            print_leaf_help(stdout, path, cmd);
            goto out;
        }
        if (strncmp(arg, "--", 2) != 0) {
            rc = cli_usage_error(ctx, "unknown option '%s'", arg);
            goto out;
        }
        int k = match_option(ctx, cmd->options, argc, argv, &i, &v);
        if (k == -2) {
            rc = ctx->exit_code;
            goto out;
        }
        if (k < 0) {
            int g = cli_global_option(ctx, argc, argv, &i);
            if (g < 0) {
                rc = ctx->exit_code;
                goto out;
            }
            if (g == 0) {
                rc = cli_usage_error(ctx, "unknown option '%s'", arg);
                goto out;
            }
            continue;
        }
        const char **grown = realloc(a.vals[k], (a.nvals[k] + 1) * sizeof *grown);
        if (!grown) {
            rc = cli_fail(ctx, CLI_EXIT_INPUT, "out of memory");
            goto out;
        }
        a.vals[k] = grown;
        a.vals[k][a.nvals[k]++] = v;
    }
    if (a.npos < (size_t)cmd->min_args) {
        rc = cli_usage_error(ctx, "missing arguments: expected %s", cmd->synopsis);
        goto out;
    }
    if (cmd->max_args >= 0 && a.npos > (size_t)cmd->max_args) {
        rc = cli_usage_error(ctx, "unexpected argument '%s'", a.pos[cmd->max_args]);
        goto out;
    }
    rc = cmd->run(ctx, &a);
out:
    args_free(&a, nopts);
    return rc;
}

int cli_dispatch(cli_ctx *ctx, const cli_command *const *table, int argc, char **argv)
{
    const cli_command *cmd = NULL;
    size_t len = strlen(ctx->path);
    int i;

    if (argc < 1)
        return cli_usage_error(ctx, "missing command");
    for (; *table && !cmd; table++)
        if (strcmp((*table)->name, argv[0]) == 0)
            cmd = *table;
    if (!cmd)
        return cli_usage_error(ctx, "unknown command '%s'", argv[0]);
    snprintf(ctx->path + len, sizeof ctx->path - len, " %s", cmd->name);
    if (!cmd->subcommands)
        return run_leaf(ctx, cmd, ctx->path, argc, argv);

    /* A group: global options may sit between it and the subcommand. */
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (is_help(argv[i])) {
            print_group_help(stdout, ctx->path, cmd);
            return CLI_EXIT_OK;
        }
        int g = cli_global_option(ctx, argc, argv, &i);
        if (g < 0)
            return ctx->exit_code;
        if (g == 0)
            return cli_usage_error(ctx, "unknown option '%s'", argv[i]);
    }
    if (i >= argc)
        return cli_usage_error(ctx, "missing subcommand");
    return cli_dispatch(ctx, cmd->subcommands, argc - i, argv + i);
}
