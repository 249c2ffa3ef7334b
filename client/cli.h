/*
 * cli.h - the strata CLI's shared pieces: the command table, argument parsing,
 * exit codes and output helpers. Each cli_<area>.c defines its commands as
 * cli_command tables; strata_cli.c lists them at the top level.
 *
 * Adding a command: write `static int run_x(cli_ctx *, const cli_args *)`,
 * describe it in a `const cli_command` (name, positional synopsis, summary,
 * options, positional count) and add its address to the table in
 * strata_cli.c (or to a group's subcommands); parsing, --help and usage
 * errors come from the description.
 *
 * Output contract: results go to stdout (human text, or with --json one
 * compact JSON document); a failure prints exactly one line "strata: <reason>"
 * on stderr (printed by main from ctx->msg) and exits with a cli_exit code.
 */
#ifndef STRATA_CLIENT_CLI_H
#define STRATA_CLIENT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "client/strata.h"

/* Exit codes; docs/cli.md documents them for scripts. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_REJECTED = 1,  /* the server refused the request (400, 404, 409, 412, 413) */
    CLI_EXIT_USAGE = 2,     /* bad command line */
    CLI_EXIT_TRANSPORT = 3, /* no answer: connection refused, DNS, TLS, timeout */
    CLI_EXIT_SERVER = 4,    /* server error (5xx) or an answer that breaks the contract */
    CLI_EXIT_AUTH = 5,      /* 401 or 403: missing, wrong or underprivileged token */
    CLI_EXIT_INPUT = 6,     /* local input/output: unreadable file, malformed JSONL */
};

typedef struct cli_option {
    const char *name;    /* long name without the dashes ("description") */
    const char *metavar; /* value placeholder ("D"); NULL for a flag */
    const char *help;
    bool repeat; /* may be given more than once; all values kept */
} cli_option;

typedef struct cli_ctx cli_ctx;
typedef struct cli_args cli_args;

typedef struct cli_command {
    const char *name;
    const char *synopsis;      /* positionals, e.g. "ENTITY NAME" */
    const char *summary;       /* one line for the command lists */
    const char *details;       /* longer help text or NULL */
    const cli_option *options; /* terminated by a {NULL} entry; NULL for none */
    int min_args, max_args;    /* positional count; max -1: unbounded */
    int (*run)(cli_ctx *ctx, const cli_args *a);
    /* A group (entity, feature): its subcommands, NULL-terminated; run is then NULL. */
    const struct cli_command *const *subcommands;
} cli_command;

/* Global state of one invocation. */
struct cli_ctx {
    char path[128]; /* the command so far, "strata entity create": for help and errors */
    strata_client_options copts;
    bool json;
    strata_client *client; /* opened on first use by cli_client() */
    int exit_code;
    char msg[STRATA_ERR_MSG_MAX + 256]; /* the one-line failure reason */
};

/* Parsed arguments of one leaf command; values borrow argv. */
struct cli_args {
    const cli_command *cmd;
    const char **pos;
    size_t npos;
    /* Per option (same index as cmd->options): every value given, in order. */
    const char ***vals;
    size_t *nvals;
};

/* Option accessors by name: the last value or NULL / every value / flag given. */
const char *cli_opt(const cli_args *a, const char *name);
size_t cli_opt_all(const cli_args *a, const char *name, const char *const **vals);
bool cli_flag(const cli_args *a, const char *name);

/*
 * Dispatch argv (after the global options) through `table`: finds the command
 * (descending into groups), parses its options (global options are accepted
 * anywhere too), handles --help, and runs it. ctx->path starts as "strata".
 * Returns the exit code.
 */
int cli_dispatch(cli_ctx *ctx, const cli_command *const *table, int argc, char **argv);
/* Parse one global option at argv[*i] ("--url", "--json", ...), advancing *i past
 * its value. 1 if it was one, 0 if not, -1 on error (ctx->msg set). */
int cli_global_option(cli_ctx *ctx, int argc, char **argv, int *i);
/* Print the global usage (command list) to `out`. */
void cli_print_usage(FILE *out, const cli_command *const *table);

/* The client, opened on first use with the global options. */
int cli_client(cli_ctx *ctx, strata_client **out);

/* Record a failure; return the exit code. fmt is the reason, one line. */
int cli_fail(cli_ctx *ctx, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Record a libstrata failure (status + err), mapping the status to an exit code. */
int cli_fail_status(cli_ctx *ctx, int status, const strata_err *err);
/* A usage error for the current command, with the hint to --help. */
int cli_usage_error(cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code for a Strata status. */
int cli_exit_for_status(int status);

/* ---- output (cli_out.c) ---- */

/* With --json: write j as one compact line to stdout. */
void cli_print_json(const json_t *j);
/* A cell for human output: strings as they are (control characters replaced),
 * null/absent as "-", objects as k=v lists, other values as JSON. */
void cli_cell(buf *out, const json_t *v);
/* Append s with control characters replaced by '?' (terminal safety). */
void cli_append_clean(buf *out, const char *s, size_t n);
/* Append v as compact JSON, cleaned like cli_append_clean. */
void cli_append_json(buf *out, const json_t *v);

/* A text table: set headers, add rows of cells, print aligned to stdout. */
typedef struct cli_table cli_table;
cli_table *cli_table_new(size_t ncols, const char *const *headers);
/* Add a row of ncols cells; the strings are copied. */
void cli_table_add(cli_table *t, const char *const *cells);
void cli_table_print(const cli_table *t, FILE *out);
/* Add a row of ncols JSON values rendered as cli_cell does, except that with
 * real_digits > 0 reals are printed with that many decimals. */
void cli_table_add_json(cli_table *t, const json_t *const *vals, size_t ncols, int real_digits);
void cli_table_free(cli_table *t);

/* GET path (its own query may follow '?') page after page, appending the items
 * of each answer's `list_key` array to `all` until the last page or `limit`
 * items. 0, or the exit code with ctx->msg set. */
int cli_fetch_pages(cli_ctx *ctx, const char *path, const char *list_key, uint64_t limit,
                    json_t *all);

/* Print an object's fields as "key: value" lines (skipping `skip`, may be NULL). */
void cli_print_fields(FILE *out, const json_t *obj, const char *skip);

/* A local file's text as a JSON string for an "inline" member (*out, caller
 * decrefs): at most half the server's default body limit, valid UTF-8, else
 * CLI_EXIT_INPUT with the reason (cli_export.c). */
int cli_read_inline(cli_ctx *ctx, const char *path, json_t **out);
/* The values of a repeatable comma-separated option ("a,b" "c") as a JSON
 * array of strings (*out, caller decrefs); empty items dropped. */
int cli_opt_list(cli_ctx *ctx, const cli_args *a, const char *name, json_t **out);

/* Parse "k=v" values of option --opt into a JSON object (*out, caller
 * decrefs); a usage error naming the option on junk. */
int cli_parse_pairs(cli_ctx *ctx, const char *opt, const char *const *kv, size_t n, json_t **out);
/* Parse "k=v" labels into a JSON object (*out, caller decrefs); usage error on junk. */
int cli_parse_labels(cli_ctx *ctx, const char *const *kv, size_t n, json_t **out);

/* ---- commands (listed in strata_cli.c) ---- */

extern const cli_command cli_entity_command;  /* group: cli_registry.c */
extern const cli_command cli_feature_command; /* group: cli_registry.c */
extern const cli_command cli_write_command;   /* cli_data.c */
extern const cli_command cli_get_command;     /* cli_data.c */
extern const cli_command cli_audit_command;   /* group: cli_audit.c */
extern const cli_command cli_import_command;  /* cli_import.c */
extern const cli_command cli_export_command;  /* group: cli_export.c */
extern const cli_command cli_jobs_command;    /* group: cli_jobs.c */
extern const cli_command cli_schedule_command; /* group: cli_schedule.c */
extern const cli_command cli_lineage_command;    /* cli_lineage.c */
extern const cli_command cli_provenance_command; /* cli_lineage.c */
extern const cli_command cli_train_command;      /* cli_train.c */
extern const cli_command cli_models_command;     /* group: cli_train.c */
extern const cli_command cli_predict_command;    /* cli_train.c */
extern const cli_command cli_token_command;      /* group: cli_token.c */
extern const cli_command cli_evaluate_command;    /* cli_evaluate.c */
extern const cli_command cli_evaluations_command; /* group: cli_evaluate.c */
extern const cli_command cli_admin_command;      /* group: cli_admin.c */

/* ---- jobs (cli_jobs.c), for every command that starts one ---- */

/* POST body to path and return the job id of the 202 answer (borrowed from
 * *resp, which the caller decrefs). 0, or an exit code with ctx->msg set (the
 * server's refusal, or an answer without a job id). */
int cli_job_submit(cli_ctx *ctx, strata_client *c, const char *path, const json_t *body,
                   json_t **resp, const char **id);
/* Poll GET /v1/jobs/{id} until the job ends, with a progress bar labelled
 * `label` on stderr when it is a terminal. 0 with *final (the job object; the
 * caller decrefs), or an exit code with ctx->msg set. */
int cli_job_wait(cli_ctx *ctx, strata_client *c, const char *id, const char *label,
                 json_t **final);
/* Print a job for humans: state, error, and its result (imports: counts,
 * created features, digest, the first rejected rows with their lines). */
void cli_job_print(const json_t *job);
/* CLI_EXIT_OK for a SUCCEEDED job; otherwise a failure naming its error. */
int cli_job_outcome(cli_ctx *ctx, const json_t *job);

#endif
