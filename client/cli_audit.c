/*
 * cli_audit.c - `strata audit log` and `strata audit verify`.
 *
 * verify exits 0 when the chain is intact and CLI_EXIT_REJECTED (1) when it is
 * broken, so a cron job or CI step can alert on it; the line says where.
 */
#include "client/cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

static int run_log(cli_ctx *ctx, const cli_args *a)
{
    int rc = 0;
    json_t *all = json_array();
    buf path = BUF_INIT;
    const char *since = cli_opt(a, "since");
    const char *limit_s = cli_opt(a, "limit");
    uint64_t limit = UINT64_MAX, v;
    static const char *const headers[] = {"SEQ",    "TIME",   "PRINCIPAL", "ACTION",
                                          "TARGET", "STATUS", "DETAIL"};
    cli_table *t = NULL;

    if (since && (text_parse_u64(slice_of(since), &v) || v == 0)) {
        rc = cli_usage_error(ctx, "--since takes a positive sequence number");
        goto out;
    }
    if (limit_s && (text_parse_u64(slice_of(limit_s), &limit) || limit == 0)) {
        rc = cli_usage_error(ctx, "--limit takes a positive number");
        goto out;
    }
    buf_printf(&path, "/v1/audit?since_seq=%s", since ? since : "1");
    if ((rc = cli_fetch_pages(ctx, path.p, "records", limit, all)))
        goto out;
    if (ctx->json) {
        json_t *doc = json_pack("{s:O}", "records", all);
        cli_print_json(doc);
        json_decref(doc);
        goto out;
    }
    t = cli_table_new(7, headers);
    size_t i;
    json_t *r;
    json_array_foreach (all, i, r) {
        buf cells[7] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
        static const char *const keys[] = {"seq",    "time",   "principal", "action",
                                           "target", "status", "detail"};
        const char *row[7];
        for (int k = 0; k < 7; k++) {
            cli_cell(&cells[k], json_object_get(r, keys[k]));
            row[k] = cells[k].p ? cells[k].p : "";
        }
        cli_table_add(t, row);
        for (int k = 0; k < 7; k++)
            buf_free(&cells[k]);
    }
    cli_table_print(t, stdout);
out:
    cli_table_free(t);
    json_decref(all);
    buf_free(&path);
    return rc;
}

static int run_verify(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    int rc = 0;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_request_json(c, "GET", "/v1/audit:verify", NULL, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    bool ok = json_is_true(json_object_get(resp, "ok"));
    if (ctx->json)
        cli_print_json(resp);
    json_int_t checked = json_integer_value(json_object_get(resp, "records_checked"));
    if (ok) {
        if (!ctx->json)
            printf("audit chain intact: %" JSON_INTEGER_FORMAT " records, head %s\n", checked,
                   json_string_value(json_object_get(resp, "head_digest")));
    } else {
        const char *why = json_string_value(json_object_get(resp, "reason"));
        rc = cli_fail(ctx, CLI_EXIT_REJECTED,
                      "audit chain broken at seq %" JSON_INTEGER_FORMAT
                      " (%s); %" JSON_INTEGER_FORMAT " records before it verify",
                      json_integer_value(json_object_get(resp, "first_bad_seq")),
                      why ? why : "digest mismatch", checked);
    }
out:
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static const cli_option log_options[] = {
    {"since", "SEQ", "start at this sequence number (default 1)", false},
    {"limit", "N", "show at most N records", false},
    {NULL, NULL, NULL, false},
};

static const cli_command audit_log = {
    .name = "log",
    .synopsis = "",
    .summary = "list audit records (seq, time, principal, action, target)",
    .options = log_options,
    .min_args = 0,
    .max_args = 0,
    .run = run_log,
};

static const cli_command audit_verify = {
    .name = "verify",
    .synopsis = "",
    .summary = "recompute the hash chain; exit 1 and name the first bad record if broken",
    .min_args = 0,
    .max_args = 0,
    .run = run_verify,
};

static const cli_command *const audit_subcommands[] = {&audit_log, &audit_verify, NULL};

const cli_command cli_audit_command = {
    .name = "audit",
    .summary = "read and verify the tamper-evident audit log",
    .subcommands = audit_subcommands,
};
