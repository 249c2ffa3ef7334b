/*
 * strata_cli.c - `strata`, the command-line client of stratad.
 *
 *   strata [--url URL] [--token T] [--json] COMMAND [ARGS...]
 *
 * main() parses the global options, hands the rest to cli_dispatch() with the
 * command table below, and turns the outcome into the exit status plus, on
 * failure, exactly one "strata: <reason>" line on stderr. Commands live in
 * cli_<area>.c; adding one (import, export, jobs, ...) is one table row.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"

#include "strata_build_id.h" /* STRATA_BUILD_ID, written at build time */

/* Top-level commands in help order; later rounds add import, schedule, export,
 * lineage, provenance, audit, train, models, predict, evaluate, jobs here. */
static const cli_command *const commands[] = {
    &cli_entity_command, &cli_feature_command, &cli_write_command, &cli_get_command,
    &cli_import_command, &cli_export_command, &cli_schedule_command, &cli_jobs_command,    &cli_lineage_command, &cli_provenance_command,
    &cli_train_command, &cli_models_command, &cli_predict_command,
    &cli_evaluate_command, &cli_evaluations_command,
    &cli_audit_command, &cli_token_command, &cli_admin_command, NULL,
};

/* The failure reason as one printable line: no newline may split it. */
static void print_reason(const char *msg)
{
    buf b = BUF_INIT;
    for (const char *p = msg; *p; p++)
        buf_putc(&b, (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
    fprintf(stderr, "strata: %s\n", b.p ? b.p : "failed");
    buf_free(&b);
}

/* `strata help [COMMAND...]` is `strata [COMMAND...] --help`. */
static int run_help(cli_ctx *ctx, int argc, char **argv)
{
    int rc;
    char **args = NULL;
    if (argc == 0) {
        cli_print_usage(stdout, commands);
        return CLI_EXIT_OK;
    }
    args = calloc((size_t)argc + 2, sizeof *args);
    if (!args)
        return cli_fail(ctx, CLI_EXIT_INPUT, "out of memory");
    memcpy(args, argv, (size_t)argc * sizeof *args);
    args[argc] = "--help";
    rc = cli_dispatch(ctx, commands, argc + 1, args);
    free(args);
    return rc;
}

int main(int argc, char **argv)
{
    cli_ctx ctx;
    int rc = CLI_EXIT_OK, i = 1;

    memset(&ctx, 0, sizeof ctx);
    strcpy(ctx.path, "strata");
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_usage(stdout, commands);
            goto out;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("strata %s\n", STRATA_BUILD_ID);
            goto out;
        }
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        int g = cli_global_option(&ctx, argc, argv, &i);
        if (g < 0) {
            rc = ctx.exit_code;
            goto out;
        }
        if (g == 0) {
            rc = cli_usage_error(&ctx, "unknown option '%s'", argv[i]);
            goto out;
        }
    }
    if (i >= argc) {
        rc = cli_usage_error(&ctx, "missing command");
        goto out;
    }
    if (strcmp(argv[i], "help") == 0)
        rc = run_help(&ctx, argc - i - 1, argv + i + 1);
    else
        rc = cli_dispatch(&ctx, commands, argc - i, argv + i);
out:
    /* A full disk or closed pipe must not pass for success. */
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
        rc = cli_fail(&ctx, CLI_EXIT_INPUT, "cannot write output: %s", strerror(errno));
    if (rc != CLI_EXIT_OK)
        print_reason(ctx.msg[0] ? ctx.msg : "failed");
    strata_client_close(ctx.client);
    return rc;
}
