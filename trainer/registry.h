/*
 * registry.h - model versions and aliases, persisted in STORE_SPACE_JOBS
 * (next to the jobs' 'J'/'C' and the scheduler's 'S' records):
 *
 *   key                                        value
 *   'M' name 0x00 version(u32 BE)              the version as compact JSON:
 *        {"model","version","create_time","task","algorithm","features",
 *         "label_column","labels","preprocessing","coefficients","spec",
 *         "train_metrics","eval_metrics","execution_id","job_id",
 *         "dataset_sha256","rows"}
 *   'A' name 0x00 alias                        {"version":N,"update_time"}
 *
 * Model names are [a-z][a-z0-9_]{0,63} (as provenance's), so the 0x00
 * separator keeps one model's keys one prefix. Versions are 1, 2, ... per
 * name, allocated under a mutex (model_registry_put_next).
 */
#ifndef STRATA_TRAINER_REGISTRY_H
#define STRATA_TRAINER_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"
#include "store/store.h"

/* 0 when name is a valid model name, else INVALID_ARGUMENT naming it. */
int model_name_check(const char *name, strata_err *err);
/* Store doc as the next version of name; *version gets it. doc gets
 * "version" and "create_time" set. The reservation step: allocate, then the
 * caller fills and calls model_registry_update. */
int model_registry_reserve(store_t *st, const char *name, json_t *doc, int64_t *ver,
                           strata_err *err);
int model_registry_update(store_t *st, const char *name, int64_t ver, const json_t *doc,
                          strata_err *err);
/* version 0 = latest. NOT_FOUND naming the model or version. */
int model_registry_get(store_t *st, const char *name, int64_t ver, json_t **out,
                       strata_err *err);
/* Version numbers ascending (JSON array); empty when none. */
int model_registry_versions(store_t *st, const char *name, json_t **out, strata_err *err);
/* Model names ascending (JSON array of strings). */
int model_registry_names(store_t *st, json_t **out, strata_err *err);
/* Aliases as {"alias":N}. */
int model_registry_aliases(store_t *st, const char *name, json_t **out, strata_err *err);
int model_registry_alias_set(store_t *st, const char *name, const char *alias, int64_t ver,
                             strata_err *err);
/* NOT_FOUND when the alias is not set. */
int model_registry_alias_get(store_t *st, const char *name, const char *alias, int64_t *ver,
                             strata_err *err);

#endif
