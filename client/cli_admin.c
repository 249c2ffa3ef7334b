/*
 * cli_admin.c - `strata admin checkpoint NAME`: the operator's commands.
 *
 * The checkpoint is made by the server, under its --checkpoint-dir, named
 * NAME: the CLI never names a path on the server's disk, and the server
 * refuses names that would leave that directory (docs/operations.md).
 */
#include "client/cli.h"

#include <stdio.h>

static int run_checkpoint(cli_ctx *ctx, const cli_args *a)
{
    int rc = 0;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL, *body = json_pack("{s:s}", "path", a->pos[0]);
    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_request_json(c, "POST", "/v1/admin:checkpoint", body, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else
        printf("checkpoint written to %s (%.3f s); start stratad --data-dir on a copy of it "
               "to restore\n",
               json_string_value(json_object_get(resp, "path")),
               json_real_value(json_object_get(resp, "seconds")));
out:
    json_decref(body);
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static const cli_command admin_checkpoint = {
    .name = "checkpoint",
    .synopsis = "NAME",
    .summary = "make a consistent RocksDB checkpoint under the server's --checkpoint-dir",
    .details = "NAME is a directory created under the server's --checkpoint-dir (letters, "
               "digits, '.', '_', '-'); it must not exist yet. Restore by starting stratad "
               "with --data-dir on (a copy of) that directory.",
    .min_args = 1,
    .max_args = 1,
    .run = run_checkpoint,
};

static const cli_command *const admin_subcommands[] = {&admin_checkpoint, NULL};

const cli_command cli_admin_command = {
    .name = "admin",
    .summary = "operator commands: checkpoints",
    .subcommands = admin_subcommands,
};
