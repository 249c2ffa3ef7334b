/*
 * train_job.c - training requests, the training job, and loading models for
 * prediction (trainer/train_job.h, docs/trainer.md "Training API").
 *
 * The job: export reader (point in time, as exports) -> dataset_read ->
 * split -> prep_fit on the training rows -> prep_transform both sides ->
 * trainer_fit (progress: iteration and loss) -> metrics -> the model ver
 * in the registry (trainer/registry.h) -> lineage: an Export execution that
 * output the training Dataset (sha256 over the assembled rows), and a Train
 * execution with that Dataset as input and the Model "<name>@<version>" and
 * train/eval Metrics as outputs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsoncheck.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "lineage/lineage.h"
#include "trainer/eval_job.h"
#include "trainer/metrics.h"
#include "trainer/registry.h"
#include "base/limits.h"
#include "trainer/train_job.h"
#include "trainer/tune.h"

typedef struct train_arg {
    train_ctx *tc;
    export_plan *plan;
    json_t *spec;
    char model[65];
    trainer_task task;
    trainer_params params;
    double *class_weight_values;
    prep_options po;
    split_spec split;
    char *key_column;
    job_t *job;
    int64_t last_ck;
    /* tuning (NULL tuning: none) */
    json_t *tuning;
    tune_dim dims[2];
    double *dim_values[2];
    size_t n_dims;
    tune_spec tspec;
    json_t *trials; /* [{"params","metric"}] as the job result shows them */
    json_t *best;   /* the best trial's entry */
    const char *metric_name;
    /* fairness: evaluate on the eval split (has_fair false: none) */
    bool has_fair;
    eval_groups fair;
    size_t n_model_features;
} train_arg;

static void train_arg_free(void *p)
{
    train_arg *a = p;
    if (!a)
        return;
    export_plan_free(a->plan);
    json_decref(a->spec);
    free(a->class_weight_values);
    free(a->key_column);
    json_decref(a->tuning);
    json_decref(a->trials);
    json_decref(a->best);
    free(a->dim_values[0]);
    free(a->dim_values[1]);
    eval_groups_free(&a->fair);
    free(a);
}

/* The contract's "fairness" block: {"group_by":[…],"reference_groups":{…}},
 * plus the evaluation's intersections, threshold, thresholds, bootstrap and
 * min_group_size. */
static int parse_fairness(const json_t *f, train_arg *a, strata_err *err)
{
    static const char *const fields[] = {
        "group_by",   "reference_groups", "intersections",  "threshold",
        "thresholds", "bootstrap",        "min_group_size", NULL};
    if (!json_is_object(f))
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "fairness must be an object {\"group_by\":[…],\"reference_groups\":{…}}");
    int rc = json_check_fields(f, fields, "fairness.", err);
    if (rc || (rc = eval_groups_parse(f, "fairness.", &a->fair, err)))
        return rc;
    if (a->fair.n == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "fairness.group_by must name at least one column or entity:feature ref");
    a->has_fair = true;
    return 0;
}

static const char *task_name(trainer_task t)
{
    return t == TRAINER_BINARY       ? "binary_classification"
           : t == TRAINER_MULTICLASS ? "multiclass_classification"
                                     : "regression";
}

static int parse_hyper(const json_t *h, train_arg *a, strata_err *err)
{
    trainer_params_default(&a->params);
    if (!h || json_is_null(h))
        return 0;
    if (!json_is_object(h))
        return err_set(err, STRATA_INVALID_ARGUMENT, "hyperparameters must be an object");
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)h, k, v) {
        if (!strcmp(k, "l1") || !strcmp(k, "l2") || !strcmp(k, "min_rel_progress") ||
            !strcmp(k, "learning_rate") || !strcmp(k, "tolerance")) {
            if (!json_is_number(v) || json_number_value(v) < 0 || !isfinite(json_number_value(v)))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "hyperparameters.%s must be a non-negative number", k);
            double d = json_number_value(v);
            if (!strcmp(k, "l1"))
                a->params.l1 = d;
            else if (!strcmp(k, "l2"))
                a->params.l2 = d;
            else if (!strcmp(k, "min_rel_progress"))
                a->params.min_rel_progress = d;
            else if (!strcmp(k, "tolerance"))
                a->params.tolerance = d;
            /* learning_rate: accepted for the contract; the L-BFGS/OWL-QN and
             * closed-form solvers choose their own steps. */
        } else if (!strcmp(k, "max_iterations")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > (json_int_t)TRAINER_MAX_ITERATIONS)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "hyperparameters.max_iterations must be an integer in 1..%u",
                               TRAINER_MAX_ITERATIONS);
            a->params.max_iterations = (int)json_integer_value(v);
        } else if (!strcmp(k, "early_stop")) {
            if (!json_is_boolean(v))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "hyperparameters.early_stop must be a boolean");
            a->params.early_stop = json_is_true(v);
        } else if (!strcmp(k, "class_weights")) {
            if (json_is_string(v) && !strcmp(json_string_value(v), "balanced"))
                a->params.class_weights = TRAINER_CLASS_WEIGHTS_BALANCED;
            else if (json_is_null(v))
                a->params.class_weights = TRAINER_CLASS_WEIGHTS_NONE;
            else if (json_is_object(v))
                a->params.class_weights = TRAINER_CLASS_WEIGHTS_EXPLICIT; /* mapped at run */
            else
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "hyperparameters.class_weights must be \"balanced\" or an object "
                               "of label: weight");
        } else {
            return err_set(err, STRATA_INVALID_ARGUMENT, "hyperparameters: unknown field \"%s\"",
                           k);
        }
    }
    return 0;
}

/* The contract's "tuning": {"parameters":{"l1"|"l2": {"min","max","scale"} | [v, …]},
 * "trials", "metric", "method", "seed"}. Lists only: grid (unless method is
 * "random"); any range: random search of `trials` draws. */
static int parse_tuning(const json_t *t, train_arg *a, strata_err *err)
{
    static const char *const fields[] = {"parameters", "trials", "metric", "method", "seed", NULL};
    const char *k;
    json_t *v;
    if (!json_is_object(t))
        return err_set(err, STRATA_INVALID_ARGUMENT, "tuning must be an object");
    json_object_foreach ((json_t *)t, k, v) {
        bool ok = false;
        for (const char *const *f = fields; *f; f++)
            ok |= !strcmp(*f, k);
        if (!ok)
            return err_set(err, STRATA_INVALID_ARGUMENT, "tuning: unknown field \"%.64s\"", k);
    }
    json_t *ps = json_object_get(t, "parameters");
    if (!json_is_object(ps) || json_object_size(ps) == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "tuning.parameters must be a non-empty object of l1/l2 ranges or lists");
    bool any_range = false;
    size_t grid = 1;
    json_object_foreach (ps, k, v) {
        if (!strcmp(k, "learning_rate"))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "tuning: learning_rate does not apply: the solvers (L-BFGS, OWL-QN, "
                           "closed form) choose their own steps");
        if (strcmp(k, "l1") && strcmp(k, "l2"))
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "tuning.parameters: unknown parameter \"%.64s\" (l1 or l2)", k);
        tune_dim *d = &a->dims[a->n_dims];
        d->param = !strcmp(k, "l1") ? TUNE_L1 : TUNE_L2;
        if (json_is_array(v)) {
            size_t n = json_array_size(v);
            if (n == 0 || n > TRAINER_MAX_TRIALS)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "tuning.parameters.%s: a list of 1 to %u values", k,
                               TRAINER_MAX_TRIALS);
            double *vals = calloc(n, sizeof *vals);
            STRATA_ASSERT(vals);
            a->dim_values[a->n_dims] = vals;
            for (size_t i = 0; i < n; i++) {
                json_t *x = json_array_get(v, i);
                if (!json_is_number(x) || !isfinite(json_number_value(x)) ||
                    json_number_value(x) < 0)
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "tuning.parameters.%s[%zu] must be a non-negative number", k, i);
                vals[i] = json_number_value(x);
            }
            d->values = vals;
            d->n_values = n;
            grid *= n;
        } else if (json_is_object(v)) {
            json_t *mn = json_object_get(v, "min"), *mx = json_object_get(v, "max"),
                   *sc = json_object_get(v, "scale");
            const char *kk;
            json_t *vv;
            json_object_foreach (v, kk, vv)
                if (strcmp(kk, "min") && strcmp(kk, "max") && strcmp(kk, "scale"))
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "tuning.parameters.%s: unknown field \"%.64s\"", k, kk);
            if (!json_is_number(mn) || !json_is_number(mx) || !isfinite(json_number_value(mn)) ||
                !isfinite(json_number_value(mx)) || json_number_value(mn) < 0 ||
                json_number_value(mn) > json_number_value(mx))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "tuning.parameters.%s needs numbers 0 <= min <= max", k);
            const char *scs = sc ? json_string_value(sc) : "linear";
            if (!scs || (strcmp(scs, "log") && strcmp(scs, "linear")))
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "tuning.parameters.%s.scale must be \"log\" or \"linear\"", k);
            d->min = json_number_value(mn);
            d->max = json_number_value(mx);
            d->log_scale = !strcmp(scs, "log");
            if (d->log_scale && d->min <= 0)
                return err_set(err, STRATA_INVALID_ARGUMENT,
                               "tuning.parameters.%s: a log scale needs min > 0", k);
            any_range = true;
        } else {
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "tuning.parameters.%s must be {\"min\",\"max\",\"scale\"} or a "
                           "list of values",
                           k);
        }
        a->n_dims++;
    }
    const char *method = json_string_value(json_object_get(t, "method"));
    if (json_object_get(t, "method") &&
        (!method || (strcmp(method, "grid") && strcmp(method, "random"))))
        return err_set(err, STRATA_INVALID_ARGUMENT, "tuning.method must be grid or random");
    a->tspec.method = (method && !strcmp(method, "random")) || any_range ? TUNE_RANDOM : TUNE_GRID;
    if (method && !strcmp(method, "grid") && any_range)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "tuning: a grid search needs lists of values, not ranges");
    json_t *tr = json_object_get(t, "trials");
    a->tspec.trials = 20;
    if (tr) {
        if (!json_is_integer(tr) || json_integer_value(tr) < 1 ||
            json_integer_value(tr) > (json_int_t)TRAINER_MAX_TRIALS)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "tuning.trials must be an integer in 1..%u", TRAINER_MAX_TRIALS);
        a->tspec.trials = (size_t)json_integer_value(tr);
    }
    if (a->tspec.method == TUNE_GRID && grid > TRAINER_MAX_TRIALS)
        return err_set(err, STRATA_INVALID_ARGUMENT, "tuning: the grid has %zu trials, over %u",
                       grid, TRAINER_MAX_TRIALS);
    json_t *seed = json_object_get(t, "seed");
    a->tspec.seed = 1;
    if (seed) {
        if (!json_is_integer(seed) || json_integer_value(seed) < 0)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "tuning.seed must be a non-negative integer");
        a->tspec.seed = (uint64_t)json_integer_value(seed);
    }
    json_t *mj = json_object_get(t, "metric");
    a->tspec.metric = TUNE_METRIC_DEFAULT;
    if (mj) {
        const char *m = json_string_value(mj);
        static const struct {
            const char *name;
            tune_metric m;
        } names[] = {{"auc", TUNE_METRIC_ROC_AUC},
                     {"roc_auc", TUNE_METRIC_ROC_AUC},
                     {"log_loss", TUNE_METRIC_LOG_LOSS},
                     {"accuracy", TUNE_METRIC_ACCURACY},
                     {"rmse", TUNE_METRIC_RMSE},
                     {"mae", TUNE_METRIC_MAE},
                     {"r2", TUNE_METRIC_R2}};
        bool found = false;
        for (size_t i = 0; m && i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(m, names[i].name)) {
                a->tspec.metric = names[i].m;
                found = true;
            }
        if (!found)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "tuning.metric must be one of auc, roc_auc, log_loss, accuracy, rmse, "
                           "mae, r2");
        tune_metric tm = a->tspec.metric;
        bool fits = tm == TUNE_METRIC_ROC_AUC ? a->task == TRAINER_BINARY
                    : tm == TUNE_METRIC_LOG_LOSS || tm == TUNE_METRIC_ACCURACY
                        ? a->task != TRAINER_REGRESSION
                        : a->task == TRAINER_REGRESSION;
        if (!fits)
            return err_set(err, STRATA_INVALID_ARGUMENT,
                           "tuning.metric %s does not apply to task %s", m, task_name(a->task));
    }
    a->tspec.dims = a->dims;
    a->tspec.n_dims = a->n_dims;
    a->tuning = json_deep_copy(t);
    return 0;
}

static int parse_ref(const char *ref, char *ent, size_t en, char *feat, size_t fn)
{
    const char *c = strchr(ref, ':');
    if (!c || (size_t)(c - ref) >= en || strlen(c + 1) >= fn)
        return -1;
    memcpy(ent, ref, (size_t)(c - ref));
    ent[c - ref] = 0;
    strcpy(feat, c + 1);
    return 0;
}

/* A label feature holds one value per row; a regression's must be a number.
 * (An unknown ref was refused by the export plan with 404 already.) */
static int check_label_feature(const registry_t *reg, const char *ref, trainer_task task,
                               strata_err *err)
{
    char ent[80], fe[80];
    const entity_def *e = NULL;
    const feature_def *fd = NULL;
    if (parse_ref(ref, ent, sizeof ent, fe, sizeof fe) == 0 &&
        (e = registry_entity(reg, slice_of(ent))))
        fd = registry_feature(e, slice_of(fe));
    if (!fd)
        return err_set(err, STRATA_NOT_FOUND, "label feature %s not found", ref);
    switch (fd->type) {
    case VT_INT64:
    case VT_DOUBLE:
        return 0;
    case VT_BOOL:
    case VT_STRING:
    case VT_BYTES:
        if (task != TRAINER_REGRESSION)
            return 0;
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "label feature %s is of type %s: a regression needs a number (INT64 or "
                       "DOUBLE)",
                       ref, value_type_name(fd->type));
    default:
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "label feature %s is of type %s: a label is one value (BOOL, INT64, "
                       "DOUBLE, STRING or BYTES)",
                       ref, value_type_name(fd->type));
    }
}

int train_submit(train_ctx *tc, const json_t *body, const char *principal, json_t **job_out,
                 strata_err *err)
{
    static const char *const allowed[] = {
        "model",           "task",         "algorithm",     "instances", "timestamp_column",
        "entity_columns",  "label_column", "features",      "as_of",     "split",
        "hyperparameters", "tuning",       "preprocessing", "fairness",  NULL};
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)body, k, v) {
        bool ok = false;
        for (const char *const *f = allowed; *f; f++)
            ok |= !strcmp(*f, k);
        if (!ok)
            return err_set(err, STRATA_INVALID_ARGUMENT, "unknown field \"%.64s\"", k);
    }
    train_arg *a = calloc(1, sizeof *a);
    STRATA_ASSERT(a != NULL);
    a->tc = tc;
    int rc = 0;
    const char *model = json_string_value(json_object_get(body, "model"));
    if (!model) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "field \"model\" (a model name) is required");
        goto fail;
    }
    if ((rc = model_name_check(model, err)))
        goto fail;
    snprintf(a->model, sizeof a->model, "%s", model);
    const char *task = json_string_value(json_object_get(body, "task"));
    if (task && !strcmp(task, "binary_classification"))
        a->task = TRAINER_BINARY;
    else if (task && !strcmp(task, "multiclass_classification"))
        a->task = TRAINER_MULTICLASS;
    else if (task && !strcmp(task, "regression"))
        a->task = TRAINER_REGRESSION;
    else {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "task must be binary_classification, multiclass_classification or "
                     "regression");
        goto fail;
    }
    const char *alg = json_string_value(json_object_get(body, "algorithm"));
    const char *want = a->task == TRAINER_REGRESSION ? "linear_regression" : "logistic_regression";
    if (json_object_get(body, "algorithm") && (!alg || strcmp(alg, want))) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "algorithm for task %s must be %s",
                     task_name(a->task), want);
        goto fail;
    }
    const char *label = json_string_value(json_object_get(body, "label_column"));
    if (!label || !*label) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "field \"label_column\" (an instance column or an entity:feature ref) is "
                     "required");
        goto fail;
    }
    /* A label with a ':' is a feature ref, read point in time with the rest. */
    bool label_feature = strchr(label, ':') != NULL;
    if (label_feature) {
        char *col = ds_ref_column(label);
        free(col);
        if (!col) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "label_column \"%.200s\" is not an entity:feature ref (an instance "
                         "column name has no ':')",
                         label);
            goto fail;
        }
    }
    json_t *tun = json_object_get(body, "tuning"), *fair = json_object_get(body, "fairness");
    if (fair && !json_is_null(fair) && (rc = parse_fairness(fair, a, err)))
        goto fail;
    if (tun && !json_is_null(tun) && (rc = parse_tuning(tun, a, err)))
        goto fail;
    json_t *feats = json_object_get(body, "features");
    if (!json_is_array(feats) || json_array_size(feats) == 0) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "field \"features\" must be a non-empty array of \"entity:feature\" refs");
        goto fail;
    }
    size_t fi;
    json_t *fv;
    json_array_foreach (feats, fi, fv)
        if (label_feature && json_is_string(fv) && !strcmp(json_string_value(fv), label)) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "label_column %.200s is also one of the features: a model cannot learn "
                         "from its own label",
                         label);
            goto fail;
        }
    if ((rc = parse_hyper(json_object_get(body, "hyperparameters"), a, err)) ||
        (rc = prep_options_from_json(json_object_get(body, "preprocessing"), &a->po, err)) ||
        (rc = split_spec_parse(json_object_get(body, "split"), &a->split, err)))
        goto fail;
    /* The export's own checks: instances, columns, feature refs (404), as_of.
     * Fairness group features and a label feature are read too, after the
     * model's. */
    json_t *es = json_object();
    static const char *const pass[] = {
        "instances", "timestamp_column", "entity_columns", "features", "as_of", NULL};
    for (const char *const *f = pass; *f; f++)
        if (json_object_get(body, *f))
            json_object_set(es, *f, json_object_get(body, *f));
    a->n_model_features = json_array_size(feats);
    json_t *all = json_deep_copy(feats);
    for (size_t g = 0; g < a->fair.n; g++)
        if (a->fair.is_feature[g])
            ds_ref_append(all, a->fair.names[g]);
    if (label_feature)
        ds_ref_append(all, label);
    json_object_set_new(es, "features", all);
    rc = export_plan_parse(tc->exports, EXPORT_HISTORICAL, es, &a->plan, err);
    json_decref(es);
    if (rc)
        goto fail;
    const json_t *icols = export_plan_columns(a->plan);
    for (size_t g = 0; icols && g < a->fair.n; g++) {
        bool found = a->fair.is_feature[g];
        size_t ci;
        json_t *c;
        json_array_foreach (icols, ci, c)
            found |= !strcmp(json_string_value(c) ? json_string_value(c) : "", a->fair.names[g]);
        if (!found) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "fairness.group_by \"%s\" is not a column of the instances",
                         a->fair.names[g]);
            goto fail;
        }
    }
    if (icols && !label_feature) {
        /* Known now, as group_by columns are: not after a job has started. */
        bool found = false;
        size_t ci;
        json_t *c;
        json_array_foreach (icols, ci, c)
            found |= !strcmp(json_string_value(c) ? json_string_value(c) : "", label);
        if (!found) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "label_column \"%.200s\" is not a column of the instances (nor an "
                         "entity:feature ref)",
                         label);
            goto fail;
        }
    }
    /* Types the trainer can read, and the hash-split key column. */
    const registry_t *reg = store_registry_acquire(tc->store);
    size_t i;
    json_array_foreach (feats, i, v) {
        char ent[80], fe[80];
        const char *ref = json_string_value(v);
        const entity_def *e = NULL;
        const feature_def *fd = NULL;
        if (ref && parse_ref(ref, ent, sizeof ent, fe, sizeof fe) == 0 &&
            (e = registry_entity(reg, slice_of(ent))))
            fd = registry_feature(e, slice_of(fe));
        prep_kind pk;
        if (fd && ds_kind_of(fd->type, &pk)) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "feature %s is of type %s, which the trainer cannot use", ref,
                         value_type_name(fd->type));
            break;
        }
        if (i == 0 && e) {
            const char *kc =
                json_string_value(json_object_get(json_object_get(body, "entity_columns"), ent));
            char def[100];
            snprintf(def, sizeof def, "%s_id", ent);
            a->key_column = strdup(kc ? kc : def);
        }
    }
    if (rc == 0 && label_feature)
        rc = check_label_feature(reg, label, a->task, err);
    store_registry_release(tc->store, reg);
    if (rc)
        goto fail;
    a->spec = json_deep_copy(body);
    job_def d = {.kind = "training",
                 .spec = body,
                 .principal = principal,
                 .progress_unit = "iterations",
                 .progress_total = (uint64_t)a->params.max_iterations,
                 .run = NULL,
                 .arg = a,
                 .free_arg = train_arg_free};
    extern int train_run(job_t *, void *, json_t **, strata_err *);
    d.run = train_run;
    return job_submit(tc->jobs, &d, job_out, err);
fail:
    train_arg_free(a);
    return rc;
}

/* ---- the job -------------------------------------------------------------------------- */

static bool cancelled(void *arg)
{
    return job_cancelled(((train_arg *)arg)->job);
}

static int on_progress(void *arg, int iteration, double loss, double eval_loss)
{
    train_arg *a = arg;
    job_progress(a->job, (uint64_t)iteration, (uint64_t)a->params.max_iterations);
    int64_t now = time_now_us();
    if (now - a->last_ck > 200000) {
        a->last_ck = now;
        json_t *p =
            json_pack("{s:s,s:i,s:f}", "phase", "fitting", "iteration", iteration, "loss", loss);
        if (isfinite(eval_loss))
            json_object_set_new(p, "eval_loss", json_real(eval_loss));
        job_checkpoint(a->job, "nothing of it was committed", p);
        json_decref(p);
    }
    return job_cancelled(a->job) ? 1 : 0;
}

/* The searched parameters of a trial, as {"l1":…,"l2":…}. */
static json_t *trial_params(const train_arg *a, double l1, double l2)
{
    json_t *o = json_object();
    for (size_t d = 0; d < a->n_dims; d++)
        json_object_set_new(o, a->dims[d].param == TUNE_L1 ? "l1" : "l2",
                            json_real(a->dims[d].param == TUNE_L1 ? l1 : l2));
    return o;
}

/* The request's hyperparameters with a trial's searched ones in place. */
static json_t *effective_hp(const train_arg *a, double l1, double l2)
{
    json_t *hp = json_object_get(a->spec, "hyperparameters");
    json_t *o = json_is_object(hp) ? json_deep_copy(hp) : json_object();
    json_t *tp = trial_params(a, l1, l2);
    json_object_update(o, tp);
    json_decref(tp);
    return o;
}

static int on_trial(void *arg, const tune_trial *t, const trainer_model *m)
{
    train_arg *a = arg;
    (void)m;
    json_t *e = json_pack("{s:I,s:o,s:o,s:i,s:b}", "trial", (json_int_t)t->index, "params",
                          trial_params(a, t->l1, t->l2), "metric",
                          t->status || !isfinite(t->metric) ? json_null() : json_real(t->metric),
                          "iterations", t->iterations, "converged", t->converged);
    if (t->status)
        json_object_set_new(e, "error", json_string(t->message));
    json_array_append_new(a->trials, e);
    json_t *p = json_pack("{s:s,s:I,s:I}", "phase", "tuning", "trial", (json_int_t)t->index + 1,
                          "trials", (json_int_t)json_array_size(a->trials));
    job_checkpoint(a->job, "nothing of it was committed", p);
    json_decref(p);
    return job_cancelled(a->job) ? 1 : 0;
}

static json_t *compute_metrics(trainer_task task, size_t K, const double *y, const double *sc,
                               const trainer_model *m, size_t n)
{
    json_t *o = json_object();
    strata_err e = STRATA_ERR_INIT;
    double v;
    if (n == 0)
        return o;
    if (task == TRAINER_REGRESSION) {
        metrics_regression_out r;
        if (metrics_regression(y, sc, NULL, n, &r, &e) == 0) {
            json_object_set_new(o, "rmse", json_real(r.rmse));
            json_object_set_new(o, "mae", json_real(r.mae));
            json_object_set_new(o, "r2", json_real(r.r2));
        }
        err_clear(&e);
        return o;
    }
    if (task == TRAINER_BINARY) {
        if (metrics_roc_auc(y, sc, NULL, n, &v, &e) == 0)
            json_object_set_new(o, "roc_auc", json_real(v));
        else
            json_object_set_new(o, "roc_auc", json_null());
        err_clear(&e);
    }
    if (metrics_log_loss(y, sc, task == TRAINER_BINARY ? 1 : K, NULL, n, &v, &e) == 0)
        json_object_set_new(o, "log_loss", json_real(v));
    err_clear(&e);
    int32_t *lab = malloc(n * sizeof *lab);
    STRATA_ASSERT(lab);
    trainer_labels(m, sc, n, 0.5, lab);
    if (metrics_accuracy(y, lab, NULL, n, &v, &e) == 0)
        json_object_set_new(o, "accuracy", json_real(v));
    err_clear(&e);
    free(lab);
    return o;
}

/* FeatureSets imports wrote for the entities of refs before the cut-off (as
 * the export records its inputs). */
static void feature_sets(lineage_t *lg, const json_t *refs, int64_t cutoff,
                         lineage_artifact_ref **ins, size_t *n)
{
    json_t *seen = json_object();
    size_t i;
    json_t *r;
    char when[TIME_RFC3339_MAX];
    time_format_rfc3339(cutoff, when, sizeof when);
    json_array_foreach (refs, i, r) {
        char ent[80], fe[80];
        if (parse_ref(json_string_value(r), ent, sizeof ent, fe, sizeof fe) ||
            json_object_get(seen, ent))
            continue;
        json_object_set_new(seen, ent, json_true());
        char text[300];
        snprintf(text, sizeof text, "properties.entity.string_value = '%s' AND create_time <= '%s'",
                 ent, when);
        lfilter *f = NULL;
        strata_err ferr = STRATA_ERR_INIT;
        json_t *items = json_array();
        buf next = BUF_INIT;
        if (lfilter_parse(slice_of(text), &f, &ferr) == 0) {
            lineage_query q = {.type = SLICE_LIT("FeatureSet"),
                               .filter = f,
                               .order = LINEAGE_ORDER_CREATE_TIME,
                               .desc = true,
                               .limit = 100};
            lineage_node_list(lg, LINEAGE_ARTIFACT, &q, items, &next, &ferr);
        }
        size_t j;
        json_t *it;
        json_array_foreach (items, j, it) {
            lineage_artifact_ref *nr = realloc(*ins, (*n + 1) * sizeof *nr);
            STRATA_ASSERT(nr != NULL);
            *ins = nr;
            nr[*n] =
                (lineage_artifact_ref){.id = (int64_t)json_integer_value(json_object_get(it, "id")),
                                       .path_key = "features"};
            (*n)++;
        }
        lfilter_free(f);
        json_decref(items);
        buf_free(&next);
        err_clear(&ferr);
    }
    json_decref(seen);
}

static int record_lineage(train_arg *a, const train_dataset *ds, int64_t ver, const json_t *doc,
                          const json_t *tm, const json_t *em, size_t ntrain, size_t neval,
                          const export_reader_stats *st, int64_t *exec_id, int64_t *dataset_id,
                          strata_err *err)
{
    lineage_t *lg = a->tc->lineage;
    if (!lg)
        return 0;
    const json_t *refs = json_object_get(a->spec, "features");
    const json_t *asof = json_object_get(a->spec, "as_of");
    const json_t *inst = json_object_get(a->spec, "instances");
    char source[4200];
    const char *path = json_string_value(json_object_get(inst, "path"));
    if (path)
        snprintf(source, sizeof source, "%s", path);
    else
        snprintf(source, sizeof source, "inline:sha256:%s", st->instances_sha256);
    int64_t cutoff = time_now_us();
    if (json_is_string(asof))
        time_parse_rfc3339(slice_of(json_string_value(asof)), &cutoff);
    char name[200];
    snprintf(name, sizeof name, "training-%s", job_id(a->job));
    /* 1. The export of the training data: Export -> Dataset. */
    json_t *ex_props =
        json_pack("{s:O,s:s,s:s,s:I,s:s}", "feature_refs", refs, "instance_source", source,
                  "format", "training", "rows", (json_int_t)ds->rows, "job_id", job_id(a->job));
    if (json_is_string(asof))
        json_object_set(ex_props, "as_of", (json_t *)asof);
    json_t *ds_props = json_pack("{s:s,s:I,s:s,s:O}", "format", "training", "rows",
                                 (json_int_t)ds->rows, "sha256", ds->sha256, "feature_refs", refs);
    if (json_is_string(asof))
        json_object_set(ds_props, "as_of", (json_t *)asof);
    lineage_artifact_ref *ins = NULL;
    size_t nins = 0;
    json_t *read_refs = json_deep_copy(refs);
    const char *label = json_string_value(json_object_get(a->spec, "label_column"));
    if (label && strchr(label, ':'))
        ds_ref_append(read_refs, label);
    feature_sets(lg, read_refs, cutoff, &ins, &nins);
    json_decref(read_refs);
    char dsuri[300];
    snprintf(dsuri, sizeof dsuri, "strata://trainings/%s", job_id(a->job));
    lineage_artifact_ref dso = {
        .type = "Dataset", .uri = dsuri, .properties = ds_props, .path_key = "dataset"};
    lineage_run er = {.execution_type = "Export",
                      .name = name,
                      .properties = ex_props,
                      .inputs = ins,
                      .ninputs = nins,
                      .outputs = &dso,
                      .noutputs = 1};
    int64_t ds_id = 0;
    lineage_run_ids eids = {.output_ids = &ds_id};
    int rc = lineage_record_run(lg, &er, &eids, err);
    *dataset_id = ds_id;
    free(ins);
    json_decref(ex_props);
    json_decref(ds_props);
    if (rc)
        return rc;
    lineage_context_ref study = {.type = "Study", .name = a->model};
    const json_t *asplit =
        json_object_get(a->spec, "split") ? json_object_get(a->spec, "split") : json_null();
    const char *alg = a->task == TRAINER_REGRESSION ? "linear_regression" : "logistic_regression";
    /* 1b. Each tuning trial: a Train execution in the Study context. */
    size_t ti;
    json_t *te;
    json_array_foreach (a->trials, ti, te) {
        json_t *params = json_object_get(te, "params");
        json_t *thp = json_object_get(a->spec, "hyperparameters");
        thp = json_is_object(thp) ? json_deep_copy(thp) : json_object();
        json_object_update(thp, params);
        json_t *props =
            json_pack("{s:o,s:O,s:s,s:s,s:s,s:s,s:O}", "hyperparameters", thp, "feature_refs", refs,
                      "job_id", job_id(a->job), "task", task_name(a->task), "model", a->model,
                      "algorithm", alg, "split", asplit);
        if (json_is_string(asof))
            json_object_set(props, "as_of", (json_t *)asof);
        json_t *custom = json_pack("{s:O,s:s,s:O,s:s}", "trial", json_object_get(te, "trial"),
                                   "metric", a->metric_name, "metric_value",
                                   json_object_get(te, "metric"), "dataset_sha256", ds->sha256);
        char tname[240];
        snprintf(tname, sizeof tname, "%s-trial-%zu", name, ti);
        lineage_artifact_ref din = {.id = ds_id, .path_key = "dataset"};
        lineage_run trun = {.execution_type = "Train",
                            .name = tname,
                            .state = json_object_get(te, "error") ? "FAILED" : NULL,
                            .properties = props,
                            .custom_properties = custom,
                            .inputs = &din,
                            .ninputs = 1,
                            .contexts = &study,
                            .ncontexts = 1};
        lineage_run_ids trids = {0};
        rc = lineage_record_run(lg, &trun, &trids, err);
        json_decref(props);
        json_decref(custom);
        if (rc)
            return rc;
        json_object_set_new(te, "execution_id", json_integer(trids.execution_id));
    }
    /* 2. Train: Dataset -> Model, Metrics. */
    json_t *hp_eff = a->tuning ? effective_hp(a, a->params.l1, a->params.l2) : NULL;
    json_t *hp = hp_eff ? hp_eff : json_object_get(a->spec, "hyperparameters");
    json_t *tprops = json_pack(
        "{s:O,s:O,s:s,s:s,s:s,s:I,s:s,s:O}", "hyperparameters", hp ? hp : json_null(),
        "feature_refs", refs, "job_id", job_id(a->job), "task", task_name(a->task), "model",
        a->model, "version", (json_int_t)ver, "algorithm",
        a->task == TRAINER_REGRESSION ? "linear_regression" : "logistic_regression", "split",
        json_object_get(a->spec, "split") ? json_object_get(a->spec, "split") : json_null());
    if (!hp)
        json_object_set_new(tprops, "hyperparameters", json_object());
    if (json_is_string(asof))
        json_object_set(tprops, "as_of", (json_t *)asof);
    json_t *tcustom =
        json_pack("{s:s,s:I}", "dataset_sha256", ds->sha256, "rows", (json_int_t)ds->rows);
    if (a->best) {
        json_object_set_new(tcustom, "metric", json_string(a->metric_name));
        json_object_set(tcustom, "metric_value", json_object_get(a->best, "metric"));
        json_object_set(tcustom, "best_trial", json_object_get(a->best, "trial"));
    }
    char mname[100];
    snprintf(mname, sizeof mname, "%s@%lld", a->model, (long long)ver);
    json_t *mprops = json_pack(
        "{s:s,s:I,s:s,s:s,s:O,s:s}", "model", a->model, "version", (json_int_t)ver, "algorithm",
        a->task == TRAINER_REGRESSION ? "linear_regression" : "logistic_regression", "task",
        task_name(a->task), "features", refs, "label_column",
        json_string_value(json_object_get(a->spec, "label_column")));
    json_t *tmp =
        json_pack("{s:s,s:I,s:O}", "split", "train", "n", (json_int_t)ntrain, "metrics", tm);
    json_t *emp =
        json_pack("{s:s,s:I,s:O}", "split", "eval", "n", (json_int_t)neval, "metrics", em);
    char muri[200];
    snprintf(muri, sizeof muri, "strata://models/%s/versions/%lld", a->model, (long long)ver);
    lineage_artifact_ref tin = {.id = ds_id, .path_key = "dataset"};
    lineage_artifact_ref outs[3] = {
        {.type = "Model", .name = mname, .uri = muri, .properties = mprops, .path_key = "model"},
        {.type = "Metrics", .properties = tmp, .path_key = "train_metrics"},
        {.type = "Metrics", .properties = emp, .path_key = "eval_metrics"}};
    lineage_run tr = {.execution_type = "Train",
                      .name = name,
                      .properties = tprops,
                      .custom_properties = tcustom,
                      .inputs = &tin,
                      .ninputs = 1,
                      .outputs = outs,
                      .noutputs = neval ? 3 : 2,
                      .contexts = a->tuning ? &study : NULL,
                      .ncontexts = a->tuning ? 1 : 0};
    lineage_run_ids tids = {0};
    rc = lineage_record_run(lg, &tr, &tids, err);
    if (rc == 0)
        *exec_id = tids.execution_id;
    json_decref(tprops);
    json_decref(hp_eff);
    json_decref(tcustom);
    json_decref(mprops);
    json_decref(tmp);
    json_decref(emp);
    (void)doc;
    return rc;
}

static int fair_progress(void *arg, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    return job_cancelled(((train_arg *)arg)->job) ? 1 : 0;
}

/* The fairness block: eval_compute over the eval split (labels and the
 * model's scores as the eval metrics saw them; groups from ds->extra). */
static int fairness_eval(train_arg *a, const train_dataset *ds, const size_t *ev, size_t nev,
                         const double *yev, const double *se, json_t **out, strata_err *err)
{
    eval_attr attrs[EVAL_MAX_GROUP_BY] = {{0}};
    const char *refs[EVAL_MAX_GROUP_BY];
    int rc = 0;
    if (nev == 0)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "fairness evaluates on the eval split, and the split left no eval rows");
    for (size_t g = 0; g < a->fair.n && rc == 0; g++) {
        refs[g] = a->fair.reference[g];
        rc = eval_attr_from_texts(a->fair.names[g], ds->extra[g], ev, nev, &attrs[g], err);
    }
    if (rc == 0) {
        size_t K = ds->labels ? json_array_size(ds->labels) : 0;
        const char **names = calloc(K + 1, sizeof *names);
        STRATA_ASSERT(names);
        for (size_t c = 0; c < K; c++)
            names[c] = json_string_value(json_array_get(ds->labels, c));
        eval_data d = {.task = a->task == TRAINER_BINARY       ? EVAL_BINARY
                               : a->task == TRAINER_MULTICLASS ? EVAL_MULTICLASS
                                                               : EVAL_REGRESSION,
                       .n = nev,
                       .y = yev,
                       .score = se,
                       .n_classes = a->task == TRAINER_MULTICLASS ? K : 0,
                       .class_names = a->task == TRAINER_MULTICLASS ? names : NULL,
                       .n_attrs = a->fair.n,
                       .attrs = attrs};
        eval_options o = a->fair.opts;
        o.reference = refs;
        o.progress = fair_progress;
        o.progress_arg = a;
        rc = eval_compute(&d, &o, out, err);
        if (rc)
            err_prefix(err, "fairness");
        free(names);
    }
    for (size_t g = 0; g < a->fair.n; g++)
        eval_attr_free(&attrs[g]);
    return rc;
}

int train_run(job_t *j, void *arg, json_t **result, strata_err *err);
int train_run(job_t *j, void *arg, json_t **result, strata_err *err)
{
    train_arg *a = arg;
    a->job = j;
    export_reader *r = NULL;
    train_dataset ds = {0};
    size_t *tr = NULL, *ev = NULL, ntr = 0, nev = 0;
    ds_input tin = {0}, ein = {0};
    prep *pp = NULL;
    trainer_model *m = NULL;
    double *xt = NULL, *xe = NULL, *ytr = NULL, *yev = NULL, *st = NULL, *se = NULL;
    json_t *tm = NULL, *em = NULL, *doc = NULL, *fres = NULL;
    export_reader_options ro = {.cancelled = cancelled, .arg = a};
    const char *xcols[EVAL_MAX_GROUP_BY];
    for (size_t g = 0; g < a->fair.n; g++)
        xcols[g] = a->fair.column[g];
    int rc = export_reader_open(a->tc->exports, a->plan, &ro, &r, err);
    if (rc)
        goto out;
    dataset_request rq = {
        .task = a->task,
        .label_column = json_string_value(json_object_get(a->spec, "label_column")),
        .key_column = a->key_column,
        .time_column = json_string_value(json_object_get(a->spec, "timestamp_column")),
        .cancelled = cancelled,
        .arg = a,
        .n_model_features = a->n_model_features,
        .extra_columns = xcols,
        .n_extra = a->fair.n};
    if ((rc = dataset_read(r, &rq, &ds, err)))
        goto out;
    export_reader_stats rst;
    export_reader_get_stats(r, &rst);
    if ((rc = dataset_split(&ds, &a->split, &tr, &ntr, &ev, &nev, err)))
        goto out;
    ds_cols_input(&ds.cols, tr, ntr, &tin);
    ds_cols_input(&ds.cols, ev, nev, &ein);
    if ((rc = prep_fit(&a->po, &tin.in, &pp, err)))
        goto out;
    size_t p = prep_n_outputs(pp);
    xt = malloc((ntr * p + 1) * sizeof *xt);
    xe = malloc((nev * p + 1) * sizeof *xe);
    ytr = malloc((ntr + 1) * sizeof *ytr);
    yev = malloc((nev + 1) * sizeof *yev);
    STRATA_ASSERT(xt && xe && ytr && yev);
    for (size_t i = 0; i < ntr; i++)
        ytr[i] = ds.y[tr[i]];
    for (size_t i = 0; i < nev; i++)
        yev[i] = ds.y[ev[i]];
    if ((rc = prep_transform(pp, &tin.in, xt, err)) ||
        (nev && (rc = prep_transform(pp, &ein.in, xe, err))))
        goto out;
    size_t K = ds.labels ? json_array_size(ds.labels) : 0;
    json_t *cw = json_object_get(json_object_get(a->spec, "hyperparameters"), "class_weights");
    if (a->params.class_weights == TRAINER_CLASS_WEIGHTS_EXPLICIT) {
        if (!K) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "class_weights apply to classification");
            goto out;
        }
        a->class_weight_values = calloc(K, sizeof(double));
        for (size_t c = 0; c < K; c++) {
            json_t *w = json_object_get(cw, json_string_value(json_array_get(ds.labels, c)));
            a->class_weight_values[c] = w ? json_number_value(w) : 1.0;
        }
        a->params.class_weight_values = a->class_weight_values;
    }
    a->params.progress = on_progress;
    a->params.progress_arg = a;
    trainer_data dt = {ntr, p, xt, ytr, NULL, NULL}, de = {nev, p, xe, yev, NULL, NULL};
    if (a->tuning) {
        if (!nev) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT,
                         "tuning needs eval rows to compare trials: the split left none");
            goto out;
        }
        a->trials = json_array();
        a->tspec.on_trial = on_trial;
        a->tspec.arg = a;
        tune_result tres = {0};
        if ((rc = trainer_tune(a->task, K, &dt, &de, &a->params, &a->tspec, &tres, err)))
            goto out;
        m = tres.best_model;
        tres.best_model = NULL;
        a->params.l1 = tres.trials[tres.best].l1;
        a->params.l2 = tres.trials[tres.best].l2;
        a->metric_name = tune_metric_name(tres.metric);
        a->best = json_incref(json_array_get(a->trials, tres.best));
        tune_result_free(&tres);
    } else if ((rc = trainer_fit(a->task, K, &dt, nev ? &de : NULL, &a->params, &m, err))) {
        goto out;
    }
    size_t k = trainer_model_outputs(m);
    st = malloc((ntr * k + 1) * sizeof *st);
    se = malloc((nev * k + 1) * sizeof *se);
    STRATA_ASSERT(st && se);
    if ((rc = trainer_predict(m, xt, ntr, st, err)) ||
        (nev && (rc = trainer_predict(m, xe, nev, se, err))))
        goto out;
    tm = compute_metrics(a->task, K, ytr, st, m, ntr);
    em = compute_metrics(a->task, K, yev, se, m, nev);
    if (a->has_fair && (rc = fairness_eval(a, &ds, ev, nev, yev, se, &fres, err)))
        goto out;
    /* The model ver. */
    const trainer_fit_info *fi = trainer_model_info(m);
    doc = json_pack(
        "{s:s,s:s,s:O,s:s,s:O,s:o,s:o,s:O,s:O,s:O,s:s,s:s,s:I,s:I,s:I}", "task", task_name(a->task),
        "algorithm", a->task == TRAINER_REGRESSION ? "linear_regression" : "logistic_regression",
        "features", json_object_get(a->spec, "features"), "label_column", rq.label_column, "labels",
        ds.labels ? ds.labels : json_null(), "preprocessing", prep_to_json(pp), "coefficients",
        trainer_model_to_json(m), "spec", a->spec, "train_metrics", tm, "eval_metrics", em,
        "job_id", job_id(j), "dataset_sha256", ds.sha256, "rows", (json_int_t)ds.rows, "train_rows",
        (json_int_t)ntr, "eval_rows", (json_int_t)nev);
    STRATA_ASSERT(doc != NULL);
    json_object_set_new(doc, "fit",
                        json_pack("{s:s,s:s,s:i,s:b,s:f}", "solver", fi->solver, "stop_reason",
                                  fi->stop_reason, "iterations", fi->iterations, "converged",
                                  fi->converged, "train_loss", fi->train_loss));
    json_t *warn = json_array();
    json_array_extend(warn, (json_t *)prep_warnings(pp));
    json_array_extend(warn, (json_t *)trainer_model_warnings(m));
    json_object_set_new(doc, "warnings", warn);
    int64_t ver = 0, exec_id = 0, ds_id = 0, eval_exec = 0;
    char eval_id[32] = "";
    if ((rc = model_registry_reserve(a->tc->store, a->model, doc, &ver, err)))
        goto out;
    if ((rc = record_lineage(a, &ds, ver, doc, tm, em, ntr, nev, &rst, &exec_id, &ds_id, err)))
        goto out;
    if (fres) {
        eval_meta em_ = {.model = a->model,
                         .version = ver,
                         .label_column = rq.label_column,
                         .group_by = a->fair.group_by,
                         .intersections = a->fair.opts.intersections,
                         .reference_groups = a->fair.reference_groups,
                         .positive_label = a->task == TRAINER_BINARY
                                               ? json_string_value(json_array_get(ds.labels, 1))
                                               : NULL,
                         .job_id = job_id(j),
                         .dataset_id = ds_id,
                         .dataset_sha256 = ds.sha256,
                         .rows = nev,
                         .feature_refs = json_object_get(a->spec, "features"),
                         .split = "eval"};
        if ((rc = eval_save(a->tc->store, a->tc->lineage, &em_, fres, eval_id, sizeof eval_id,
                            &eval_exec, err)))
            goto out;
        json_object_set_new(doc, "evaluation_id", json_string(eval_id));
        model_registry_update(a->tc->store, a->model, ver, doc, err);
    }
    if (exec_id) {
        json_object_set_new(doc, "execution_id", json_integer(exec_id));
        model_registry_update(a->tc->store, a->model, ver, doc, err);
        job_set_execution_id(j, exec_id);
    }
    *result = json_pack("{s:s,s:I,s:O,s:O,s:n,s:n,s:I,s:I,s:s,s:O}", "model", a->model, "version",
                        (json_int_t)ver, "train_metrics", tm, "eval_metrics", em, "evaluation_id",
                        "execution_id", "train_rows", (json_int_t)ntr, "eval_rows", (json_int_t)nev,
                        "dataset_sha256", ds.sha256, "warnings", json_object_get(doc, "warnings"));
    if (*result)
        json_object_set(*result, "fit", json_object_get(doc, "fit"));
    if (*result && eval_id[0])
        json_object_set_new(*result, "evaluation_id", json_string(eval_id));
    if (*result && exec_id)
        json_object_set_new(*result, "execution_id", json_integer(exec_id));
    if (*result && a->tuning)
        json_object_set_new(*result, "tuning",
                            json_pack("{s:s,s:O,s:O,s:o}", "metric", a->metric_name, "trials",
                                      a->trials, "best", a->best, "hyperparameters",
                                      effective_hp(a, a->params.l1, a->params.l2)));
out:
    export_reader_close(r);
    dataset_free(&ds);
    free(tr);
    free(ev);
    ds_input_free(&tin);
    ds_input_free(&ein);
    prep_destroy(pp);
    trainer_model_destroy(m);
    free(xt);
    free(xe);
    free(ytr);
    free(yev);
    free(st);
    free(se);
    json_decref(tm);
    json_decref(em);
    json_decref(doc);
    json_decref(fres);
    return rc;
}

/* ---- loading for prediction ----------------------------------------------------------- */

int loaded_model_open(store_t *st, const char *name, int64_t ver, const char *alias,
                      loaded_model *lm, strata_err *err)
{
    memset(lm, 0, sizeof *lm);
    int rc;
    if ((rc = model_name_check(name, err)))
        return rc;
    if (alias && (rc = model_registry_alias_get(st, name, alias, &ver, err)))
        return rc;
    if ((rc = model_registry_get(st, name, ver, &lm->doc, err)))
        return rc;
    if ((rc = prep_from_json(json_object_get(lm->doc, "preprocessing"), &lm->pp, err)) ||
        (rc = trainer_model_from_json(json_object_get(lm->doc, "coefficients"), &lm->m, err)))
        return rc;
    lm->task = trainer_model_task(lm->m);
    json_t *refs = json_object_get(lm->doc, "features");
    lm->nfeatures = json_array_size(refs);
    lm->refs = calloc(lm->nfeatures + 1, sizeof *lm->refs);
    lm->cols = calloc(lm->nfeatures + 1, sizeof *lm->cols);
    lm->types = calloc(lm->nfeatures + 1, sizeof *lm->types);
    lm->widths = calloc(lm->nfeatures + 1, sizeof *lm->widths);
    STRATA_ASSERT(lm->refs && lm->cols && lm->types && lm->widths);
    json_t *pj = json_object_get(lm->doc, "preprocessing");
    json_t *pcols = json_object_get(pj, "columns");
    for (size_t i = 0; i < lm->nfeatures; i++) {
        lm->refs[i] = json_string_value(json_array_get(refs, i));
        char *col = ds_ref_column(lm->refs[i]);
        if (!col)
            return err_set(err, STRATA_INTERNAL, "model %s: features[%zu] is not a feature ref",
                           name, i);
        lm->cols[i] = col;
        /* Kind and width from the saved preprocessing. */
        lm->types[i] = VT_DOUBLE;
        size_t ci;
        json_t *pc;
        json_array_foreach (pcols, ci, pc) {
            if (!json_string_value(json_object_get(pc, "name")) ||
                strcmp(json_string_value(json_object_get(pc, "name")), col))
                continue;
            const char *kind = json_string_value(json_object_get(pc, "kind"));
            if (kind && !strcmp(kind, "categorical"))
                lm->types[i] = VT_STRING;
            else if (kind && !strcmp(kind, "multi_hot"))
                lm->types[i] = VT_STRING_ARRAY;
            else if (kind && !strcmp(kind, "numeric_array")) {
                lm->types[i] = VT_DOUBLE_ARRAY;
                lm->widths[i] = (size_t)json_integer_value(json_object_get(pc, "width"));
            }
        }
    }
    return 0;
}

void loaded_model_close(loaded_model *lm)
{
    for (size_t i = 0; i < lm->nfeatures; i++)
        free((void *)lm->cols[i]);
    free(lm->cols);
    free(lm->refs);
    free(lm->types);
    free(lm->widths);
    prep_destroy(lm->pp);
    trainer_model_destroy(lm->m);
    json_decref(lm->doc);
    memset(lm, 0, sizeof *lm);
}

int loaded_model_columns(const loaded_model *lm, ds_cols *c, strata_err *err)
{
    return ds_cols_init(c, lm->nfeatures, (const char *const *)lm->cols, lm->types, lm->widths,
                        err);
}

int loaded_model_score(const loaded_model *lm, ds_cols *c, double *scores, strata_err *err)
{
    ds_input in;
    ds_cols_input(c, NULL, 0, &in);
    size_t p = prep_n_outputs(lm->pp);
    double *x = malloc((c->n_rows * p + 1) * sizeof *x);
    STRATA_ASSERT(x);
    int rc = prep_transform(lm->pp, &in.in, x, err);
    if (rc == 0)
        rc = trainer_predict(lm->m, x, c->n_rows, scores, err);
    free(x);
    ds_input_free(&in);
    return rc;
}
