/*
 * cli_registry.c - `strata entity ...` and `strata feature ...`: the registry
 * commands. Each handler calls one libstrata helper and prints either the
 * server's JSON (--json) or a human form: lists as aligned tables, single
 * objects as "key: value" lines.
 */
#include "client/cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

typedef struct list_col {
    const char *header;
    const char *key;
} list_col;

#define MAX_COLS 8

static const list_col entity_cols[] = {
    {"NAME", "name"},     {"FEATURES", "feature_count"}, {"DESCRIPTION", "description"},
    {"LABELS", "labels"}, {"CREATED", "create_time"},
};

static const list_col feature_cols[] = {
    {"NAME", "name"},     {"TYPE", "type"}, {"TTL", "ttl_seconds"}, {"DESCRIPTION", "description"},
    {"LABELS", "labels"},
};

static const list_col search_cols[] = {
    {"ENTITY", "entity"},           {"NAME", "name"},     {"TYPE", "type"}, {"TTL", "ttl_seconds"},
    {"DESCRIPTION", "description"}, {"LABELS", "labels"},
};

/*
 * Print `items` (an array of objects) as a table. The first column always
 * shows; a later one only when some item has its field, so a server that
 * leaves a field out does not produce a column of dashes.
 */
static void print_items(const json_t *items, const list_col *cols, size_t ncols, const char *empty)
{
    const char *headers[MAX_COLS];
    const char *cells[MAX_COLS];
    size_t keep[MAX_COLS];
    size_t n = 0;
    buf text[MAX_COLS];
    cli_table *t = NULL;

    if (json_array_size(items) == 0) {
        printf("%s\n", empty);
        return;
    }
    for (size_t c = 0; c < ncols && c < MAX_COLS; c++) {
        bool present = c == 0;
        for (size_t i = 0; i < json_array_size(items) && !present; i++)
            present = json_object_get(json_array_get(items, i), cols[c].key) != NULL;
        if (present) {
            keep[n] = c;
            headers[n++] = cols[c].header;
        }
    }
    for (size_t c = 0; c < n; c++)
        text[c] = (buf)BUF_INIT;
    t = cli_table_new(n, headers);
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *item = json_array_get(items, i);
        for (size_t c = 0; c < n; c++) {
            buf_reset(&text[c]);
            cli_cell(&text[c], json_object_get(item, cols[keep[c]].key));
            cells[c] = text[c].p;
        }
        cli_table_add(t, cells);
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
    for (size_t c = 0; c < n; c++)
        buf_free(&text[c]);
}

/* Labels from every --label K=V; *out NULL when none was given. */
static int labels_opt(cli_ctx *ctx, const cli_args *a, json_t **out)
{
    const char *const *kv = NULL;
    size_t n = cli_opt_all(a, "label", &kv);
    *out = NULL;
    return n ? cli_parse_labels(ctx, kv, n, out) : CLI_EXIT_OK;
}

/* --ttl SECONDS: a non-negative int64. */
static int ttl_opt(cli_ctx *ctx, const cli_args *a, int64_t *ttl, bool *given)
{
    const char *s = cli_opt(a, "ttl");
    uint64_t v = 0;
    *given = s != NULL;
    *ttl = 0;
    if (!s)
        return CLI_EXIT_OK;
    if (text_parse_u64(slice_of(s), &v) || v > INT64_MAX)
        return cli_usage_error(ctx, "invalid --ttl '%s': expected seconds (0 = never expires)", s);
    *ttl = (int64_t)v;
    return CLI_EXIT_OK;
}

/* The object under `key` of a response, which must be one. */
static const json_t *member(cli_ctx *ctx, const json_t *resp, const char *key, int *rc)
{
    const json_t *v = json_object_get(resp, key);
    if (!json_is_object(v) && !json_is_array(v))
        *rc = cli_fail(ctx, CLI_EXIT_SERVER, "stratad's answer has no \"%s\"", key);
    return v;
}

/* ---- entity ---------------------------------------------------------------- */

static int run_entity_create(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *labels = NULL, *resp = NULL;
    const char *name = a->pos[0];

    if ((rc = labels_opt(ctx, a, &labels)) || (rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_entity_create(c, name, cli_opt(a, "description"), labels, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else
        printf("created entity %s\n", name);
out:
    json_decref(labels);
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static int run_entity_list(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    const json_t *items;

    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_entity_list(c, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else if ((items = member(ctx, resp, "entities", &rc)) && !rc)
        print_items(items, entity_cols, sizeof entity_cols / sizeof entity_cols[0], "no entities");
out:
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static int run_entity_show(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    const json_t *entity;

    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_entity_get(c, a->pos[0], &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json) {
        cli_print_json(resp);
    } else if ((entity = member(ctx, resp, "entity", &rc)) && !rc) {
        const json_t *features = json_object_get(entity, "features");
        cli_print_fields(stdout, entity, "features");
        if (json_is_array(features)) {
            printf("\n");
            print_items(features, feature_cols, sizeof feature_cols / sizeof feature_cols[0],
                        "no features");
        }
    }
out:
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static int run_entity_delete(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;

    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_entity_delete(c, a->pos[0], cli_flag(a, "force"), &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else
        printf("deleted entity %s\n", a->pos[0]);
out:
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static const cli_option entity_create_opts[] = {
    {"description", "D", "what the entity is", false},
    {"label", "K=V", "a label", true},
    {NULL, NULL, NULL, false},
};

static const cli_option entity_delete_opts[] = {
    {"force", NULL, "delete even if it holds feature values", false},
    {NULL, NULL, NULL, false},
};

static const cli_command entity_create = {
    .name = "create",
    .synopsis = "NAME",
    .summary = "create an entity",
    .details = "NAME is [a-z][a-z0-9_]{0,63}.",
    .options = entity_create_opts,
    .min_args = 1,
    .max_args = 1,
    .run = run_entity_create,
};
static const cli_command entity_list = {
    .name = "list",
    .summary = "list entities",
    .run = run_entity_list,
};
static const cli_command entity_show = {
    .name = "show",
    .synopsis = "NAME",
    .summary = "show an entity and its features",
    .min_args = 1,
    .max_args = 1,
    .run = run_entity_show,
};
static const cli_command entity_delete = {
    .name = "delete",
    .synopsis = "NAME",
    .summary = "delete an entity",
    .details = "An entity that holds values is refused (exit 1) unless --force is given.",
    .options = entity_delete_opts,
    .min_args = 1,
    .max_args = 1,
    .run = run_entity_delete,
};
static const cli_command *const entity_subcommands[] = {
    &entity_create, &entity_list, &entity_show, &entity_delete, NULL,
};
const cli_command cli_entity_command = {
    .name = "entity",
    .summary = "manage entities: create, list, show, delete",
    .subcommands = entity_subcommands,
};

/* ---- feature --------------------------------------------------------------- */

static int run_feature_create(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *labels = NULL, *resp = NULL;
    char type[32];
    const char *t = cli_opt(a, "type");
    strata_feature_spec spec = {a->pos[1], type, cli_opt(a, "description"), NULL, 0};
    bool ttl_given;

    if (!t) {
        rc = cli_usage_error(ctx, "missing --type (BOOL, INT64, DOUBLE, STRING, BYTES, "
                                  "INT64_ARRAY, DOUBLE_ARRAY, STRING_ARRAY)");
        goto out;
    }
    /* Type names are case-insensitive on the command line; the API spells them upper case. */
    size_t i = 0;
    for (; t[i] && i + 1 < sizeof type; i++)
        type[i] = (char)toupper((unsigned char)t[i]);
    type[i] = '\0';
    if (t[i]) {
        rc = cli_usage_error(ctx, "invalid --type '%s'", t);
        goto out;
    }
    if ((rc = ttl_opt(ctx, a, &spec.ttl_seconds, &ttl_given)) ||
        (rc = labels_opt(ctx, a, &labels)) || (rc = cli_client(ctx, &c)))
        goto out;
    spec.labels = labels;
    int st = strata_feature_create(c, a->pos[0], &spec, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else
        printf("created feature %s:%s (%s)\n", a->pos[0], a->pos[1], type);
out:
    json_decref(labels);
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static int run_feature_list(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    const json_t *items;

    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_feature_list(c, a->pos[0], &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else if ((items = member(ctx, resp, "features", &rc)) && !rc)
        print_items(items, feature_cols, sizeof feature_cols / sizeof feature_cols[0],
                    "no features");
out:
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static int run_feature_show(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    const json_t *feature;

    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_feature_get(c, a->pos[0], a->pos[1], &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else if ((feature = member(ctx, resp, "feature", &rc)) && !rc)
        cli_print_fields(stdout, feature, NULL);
out:
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static int run_feature_search(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    const json_t *items;

    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st =
        strata_feature_search(c, a->pos[0], cli_opt(a, "type"), cli_opt(a, "entity"), &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else if ((items = member(ctx, resp, "features", &rc)) && !rc)
        print_items(items, search_cols, sizeof search_cols / sizeof search_cols[0],
                    "no matching features");
out:
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static int run_feature_update(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *labels = NULL, *patch = json_object(), *resp = NULL;
    const char *description = cli_opt(a, "description");
    int64_t ttl;
    bool ttl_given;

    if ((rc = ttl_opt(ctx, a, &ttl, &ttl_given)) || (rc = labels_opt(ctx, a, &labels)))
        goto out;
    if (description) {
        json_t *d = json_string(description);
        if (!d) {
            rc = cli_usage_error(ctx, "--description is not valid UTF-8");
            goto out;
        }
        json_object_set_new(patch, "description", d);
    }
    if (labels)
        json_object_set(patch, "labels", labels);
    if (ttl_given)
        json_object_set_new(patch, "ttl_seconds", json_integer((json_int_t)ttl));
    if (json_object_size(patch) == 0) {
        rc = cli_usage_error(ctx, "nothing to update: give --description, --label or --ttl");
        goto out;
    }
    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_feature_update(c, a->pos[0], a->pos[1], patch, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else
        printf("updated feature %s:%s\n", a->pos[0], a->pos[1]);
out:
    json_decref(labels);
    json_decref(patch);
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static int run_feature_delete(cli_ctx *ctx, const cli_args *a)
{
    int rc;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;

    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_feature_delete(c, a->pos[0], a->pos[1], &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else
        printf("deleted feature %s:%s\n", a->pos[0], a->pos[1]);
out:
    json_decref(resp);
    err_clear(&err);
    return rc;
}

static const cli_option feature_create_opts[] = {
    {"type", "T",
     "value type (required): BOOL, INT64, DOUBLE, STRING, BYTES, INT64_ARRAY, DOUBLE_ARRAY, "
     "STRING_ARRAY",
     false},
    {"ttl", "SECONDS", "values older than this read as OUTSIDE_MAX_AGE (default 0: never)", false},
    {"description", "D", "what the feature means", false},
    {"label", "K=V", "a label", true},
    {NULL, NULL, NULL, false},
};

static const cli_option feature_update_opts[] = {
    {"ttl", "SECONDS", "new TTL (0: never expires)", false},
    {"description", "D", "new description", false},
    {"label", "K=V", "a label of the new label set", true},
    {NULL, NULL, NULL, false},
};

static const cli_option feature_search_opts[] = {
    {"type", "T", "only features of this value type", false},
    {"entity", "E", "only features of this entity", false},
    {NULL, NULL, NULL, false},
};

static const cli_command feature_create = {
    .name = "create",
    .synopsis = "ENTITY NAME",
    .summary = "create a feature of an entity",
    .details = "NAME is [a-z][a-z0-9_]{0,63}; the type never changes once created.",
    .options = feature_create_opts,
    .min_args = 2,
    .max_args = 2,
    .run = run_feature_create,
};
static const cli_command feature_list = {
    .name = "list",
    .synopsis = "ENTITY",
    .summary = "list an entity's features",
    .min_args = 1,
    .max_args = 1,
    .run = run_feature_list,
};
static const cli_command feature_show = {
    .name = "show",
    .synopsis = "ENTITY NAME",
    .summary = "show one feature",
    .min_args = 2,
    .max_args = 2,
    .run = run_feature_show,
};
static const cli_command feature_search = {
    .name = "search",
    .synopsis = "QUERY",
    .summary = "search features by name, description and labels",
    .details = "QUERY matches names and descriptions; 'label:KEY=VALUE' matches a label.",
    .options = feature_search_opts,
    .min_args = 1,
    .max_args = 1,
    .run = run_feature_search,
};
static const cli_command feature_update = {
    .name = "update",
    .synopsis = "ENTITY NAME",
    .summary = "change a feature's description, labels or TTL",
    .options = feature_update_opts,
    .min_args = 2,
    .max_args = 2,
    .run = run_feature_update,
};
static const cli_command feature_delete = {
    .name = "delete",
    .synopsis = "ENTITY NAME",
    .summary = "delete a feature",
    .min_args = 2,
    .max_args = 2,
    .run = run_feature_delete,
};
static const cli_command *const feature_subcommands[] = {
    &feature_create, &feature_list,   &feature_show, &feature_search,
    &feature_update, &feature_delete, NULL,
};
const cli_command cli_feature_command = {
    .name = "feature",
    .summary = "manage features: create, list, show, search, update, delete",
    .subcommands = feature_subcommands,
};
