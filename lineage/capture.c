/*
 * capture.c - the internal API through which Strata records its own work
 * (imports, exports, training, evaluation): one execution with its input and
 * output artifacts, their events and their contexts, in ONE transaction, so a
 * run is in the graph entirely or not at all.
 *
 * Artifacts and contexts named by (type, name) are found when they exist and
 * made otherwise, so the same source file or schedule is one node however
 * many runs touch it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "lineage/lineage_int.h"

static slice opt(const char *s)
{
    return s ? slice_of(s) : (slice){NULL, 0};
}

/* Find (type, name) among committed and staged nodes: 1 with *id, 0, <0. */
static int find_named(lg_txn *tx, lineage_kind k, const char *type, const char *name, int64_t *id,
                      strata_err *err)
{
    const ltype *t = lg_type_by_name(tx->lg, k, slice_of(type));
    if (!t || !name)
        return 0;
    buf key = BUF_INIT;
    lkey_by_name(&key, k, t->id, slice_of(name));
    int rc = lg_txn_lookup(tx, buf_slice(&key), id, err);
    buf_free(&key);
    return rc;
}

static int resolve_artifact(lg_txn *tx, const lineage_artifact_ref *r, const char *where, size_t i,
                            int64_t *id, bool *created, strata_err *err)
{
    int rc;
    *created = false;
    if (r->id > 0) {
        rc = lg_txn_node_exists(tx, LINEAGE_ARTIFACT, r->id, err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return err_set(err, STRATA_NOT_FOUND, "%s[%zu]: artifact %lld not found", where, i,
                           (long long)r->id);
        *id = r->id;
        return 0;
    }
    if (!r->type)
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s[%zu]: an artifact needs an id or a type",
                       where, i);
    rc = find_named(tx, LINEAGE_ARTIFACT, r->type, r->name, id, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    lineage_node_spec spec = {.type = slice_of(r->type),
                              .name = opt(r->name),
                              .uri = opt(r->uri),
                              .state = slice_of(r->state ? r->state : "LIVE"),
                              .properties = r->properties,
                              .custom_properties = r->custom_properties};
    lnode n;
    lnode_init(&n);
    rc = lg_stage_node_create(tx, LINEAGE_ARTIFACT, &spec, &n, err);
    if (rc)
        err_prefix(err, "%s[%zu]", where, i);
    else
        *id = n.id, *created = true;
    lnode_free(&n);
    return rc;
}

static int resolve_context(lg_txn *tx, const lineage_context_ref *r, size_t i, int64_t *id,
                           strata_err *err)
{
    int rc;
    if (r->id > 0) {
        rc = lg_txn_node_exists(tx, LINEAGE_CONTEXT, r->id, err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return err_set(err, STRATA_NOT_FOUND, "contexts[%zu]: context %lld not found", i,
                           (long long)r->id);
        *id = r->id;
        return 0;
    }
    if (!r->type || !r->name)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "contexts[%zu]: a context needs an id or a type and a name", i);
    rc = find_named(tx, LINEAGE_CONTEXT, r->type, r->name, id, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    lineage_node_spec spec = {
        .type = slice_of(r->type), .name = slice_of(r->name), .properties = r->properties};
    lnode n;
    lnode_init(&n);
    rc = lg_stage_node_create(tx, LINEAGE_CONTEXT, &spec, &n, err);
    if (rc)
        err_prefix(err, "contexts[%zu]", i);
    else
        *id = n.id;
    lnode_free(&n);
    return rc;
}

/* The execution's properties with the code version filled in: a declared
 * code_version property when the type has one, else a custom property. */
static void with_code_version(lineage_t *lg, const lineage_run *run, json_t **props,
                              json_t **custom)
{
    const ltype *t = lg_type_by_name(lg, LINEAGE_EXECUTION, slice_of(run->execution_type));
    const lprop *p = t ? ltype_prop(t, slice_of("code_version")) : NULL;
    /* Shallow copies: only a top-level key is added, the caller's values are
     * shared (json_copy takes a non-const pointer only to count references). */
    *props = run->properties ? json_copy((json_t *)run->properties) : json_object();
    *custom =
        run->custom_properties ? json_copy((json_t *)run->custom_properties) : json_object();
    STRATA_ASSERT(*props && *custom);
    if (!json_is_object(*props) || !json_is_object(*custom))
        return; /* staging refuses them with a clear message */
    json_t *target = p && p->type == LP_STRING ? *props : *custom;
    if (!json_object_get(target, "code_version"))
        json_object_set_new(target, "code_version", json_string(lg->build_id));
}

static json_t *path_of(const lineage_artifact_ref *r)
{
    if (!r->path_key)
        return NULL;
    return json_pack("[{s:s}]", "key", r->path_key);
}

static bool seen_before(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Resolve and connect one side (inputs or outputs) of a run. */
static int stage_side(lg_txn *tx, const lineage_artifact_ref *refs, size_t n, const char *where,
                      lineage_event_type t, int64_t exec_id, int64_t *ids, strata_err *err)
{
    for (size_t i = 0; i < n; i++) {
        bool created;
        int rc = resolve_artifact(tx, &refs[i], where, i, &ids[i], &created, err);
        if (rc)
            return rc;
        /* The same artifact named twice on one side is one event. */
        if (seen_before(ids, i, ids[i]))
            continue;
        json_t *path = path_of(&refs[i]);
        rc = lg_stage_event(tx, ids[i], exec_id, t, path, err);
        json_decref(path);
        if (rc)
            return err_prefix(err, "%s[%zu]", where, i);
    }
    return 0;
}

int lineage_record_run(lineage_t *lg, const lineage_run *run, lineage_run_ids *ids, strata_err *err)
{
    lg_txn tx = {0};
    lnode exec;
    json_t *props = NULL, *custom = NULL;
    int64_t *in = NULL, *outp = NULL, *ctx = NULL;
    int rc = 0;
    lnode_init(&exec);
    if (!run->execution_type)
        return err_set(err, STRATA_INVALID_ARGUMENT, "a run needs an execution type");
    if (run->ninputs > LINEAGE_RUN_REFS_MAX || run->noutputs > LINEAGE_RUN_REFS_MAX ||
        run->ncontexts > LINEAGE_RUN_REFS_MAX)
        return err_set(err, STRATA_RESOURCE_EXHAUSTED,
                       "a run names at most %u inputs, outputs and contexts each",
                       LINEAGE_RUN_REFS_MAX);
    in = calloc(run->ninputs + 1, sizeof *in);
    outp = calloc(run->noutputs + 1, sizeof *outp);
    ctx = calloc(run->ncontexts + 1, sizeof *ctx);
    STRATA_ASSERT(in && outp && ctx);
    with_code_version(lg, run, &props, &custom);

    lg_txn_begin(lg, &tx);
    lineage_node_spec spec = {.type = slice_of(run->execution_type),
                              .name = opt(run->name),
                              .state = slice_of(run->state ? run->state : "COMPLETE"),
                              .properties = props,
                              .custom_properties = custom};
    rc = lg_stage_node_create(&tx, LINEAGE_EXECUTION, &spec, &exec, err);
    if (rc)
        goto fail;
    if ((rc = stage_side(&tx, run->inputs, run->ninputs, "inputs", LINEAGE_EVENT_INPUT, exec.id, in,
                         err)) ||
        (rc = stage_side(&tx, run->outputs, run->noutputs, "outputs", LINEAGE_EVENT_OUTPUT, exec.id,
                         outp, err)))
        goto fail;
    for (size_t i = 0; i < run->ncontexts; i++) {
        bool made;
        if ((rc = resolve_context(&tx, &run->contexts[i], i, &ctx[i], err)) ||
            (rc = lg_stage_link(&tx, LK_ASSOC_BY_CTX, ctx[i], exec.id, &made, err)))
            goto fail;
        for (size_t j = 0; j < run->ninputs && !rc; j++)
            rc = lg_stage_link(&tx, LK_ATTR_BY_CTX, ctx[i], in[j], &made, err);
        for (size_t j = 0; j < run->noutputs && !rc; j++)
            rc = lg_stage_link(&tx, LK_ATTR_BY_CTX, ctx[i], outp[j], &made, err);
        if (rc)
            goto fail;
    }
    rc = lg_txn_commit(&tx, err);
    if (rc)
        goto out;
    if (ids) {
        ids->execution_id = exec.id;
        if (ids->input_ids)
            memcpy(ids->input_ids, in, run->ninputs * sizeof *in);
        if (ids->output_ids)
            memcpy(ids->output_ids, outp, run->noutputs * sizeof *outp);
        if (ids->context_ids)
            memcpy(ids->context_ids, ctx, run->ncontexts * sizeof *ctx);
    }
    goto out;
fail:
    lg_txn_abort(&tx);
out:
    lnode_free(&exec);
    json_decref(props);
    json_decref(custom);
    free(in);
    free(outp);
    free(ctx);
    return rc;
}

int lineage_artifact_find_or_create(lineage_t *lg, const lineage_artifact_ref *ref, int64_t *id,
                                    bool *created, strata_err *err)
{
    lg_txn tx;
    bool made = false;
    int64_t got = 0;
    lg_txn_begin(lg, &tx);
    int rc = resolve_artifact(&tx, ref, "artifact", 0, &got, &made, err);
    if (rc) {
        lg_txn_abort(&tx);
        return rc;
    }
    rc = lg_txn_commit(&tx, err);
    if (!rc) {
        *id = got;
        if (created)
            *created = made;
    }
    return rc;
}

int lineage_execution_set_state(lineage_t *lg, int64_t execution_id, const char *state,
                                const json_t *properties, strata_err *err)
{
    lg_txn tx;
    lnode n;
    bool changed;
    slice st = opt(state);
    lineage_node_patch p = {.state = state ? &st : NULL, .properties = properties};
    lnode_init(&n);
    lg_txn_begin(lg, &tx);
    int rc = lg_node_read(lg, NULL, LINEAGE_EXECUTION, execution_id, &n, err);
    if (!rc)
        rc = lg_stage_node_update(&tx, &n, &p, &changed, err);
    if (rc)
        lg_txn_abort(&tx);
    else
        rc = lg_txn_commit(&tx, err);
    lnode_free(&n);
    return rc;
}
