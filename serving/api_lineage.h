/*
 * api_lineage.h - the contract's "Lineage and ML metadata" section: types,
 * artifacts, executions, contexts, events, attributions, associations,
 * parent contexts, list queries and lineage traversal (serving/api_lineage.c
 * over lineage/lineage.h). docs/lineage.md describes every route.
 *
 * Each handler is `void h(http_req *req, void *app)`.
 */
#ifndef STRATA_SERVING_API_LINEAGE_H
#define STRATA_SERVING_API_LINEAGE_H

#include "serving/http.h"

/* POST|GET /v1/{artifact,execution,context}-types, GET …/{name} */
void api_artifact_type_put(http_req *req, void *ctx);
void api_artifact_type_list(http_req *req, void *ctx);
void api_artifact_type_get(http_req *req, void *ctx);
void api_execution_type_put(http_req *req, void *ctx);
void api_execution_type_list(http_req *req, void *ctx);
void api_execution_type_get(http_req *req, void *ctx);
void api_context_type_put(http_req *req, void *ctx);
void api_context_type_list(http_req *req, void *ctx);
void api_context_type_get(http_req *req, void *ctx);

/* POST|GET /v1/{artifacts,executions,contexts}, GET|PATCH …/{id}, GET …/{id}/history */
void api_artifact_create(http_req *req, void *ctx);
void api_artifact_list(http_req *req, void *ctx);
void api_artifact_get(http_req *req, void *ctx);
void api_artifact_patch(http_req *req, void *ctx);
void api_artifact_history(http_req *req, void *ctx);
void api_execution_create(http_req *req, void *ctx);
void api_execution_list(http_req *req, void *ctx);
void api_execution_get(http_req *req, void *ctx);
void api_execution_patch(http_req *req, void *ctx);
void api_execution_history(http_req *req, void *ctx);
void api_context_create(http_req *req, void *ctx);
void api_context_list(http_req *req, void *ctx);
void api_context_get(http_req *req, void *ctx);
void api_context_patch(http_req *req, void *ctx);
void api_context_history(http_req *req, void *ctx);

/* Events: POST /v1/events; GET /v1/artifacts/{id}/events, /v1/executions/{id}/events */
void api_event_create(http_req *req, void *ctx);
void api_lineage_batch(http_req *req, void *ctx);
void api_artifact_events(http_req *req, void *ctx);
void api_execution_events(http_req *req, void *ctx);

/* Contexts' links: POST|GET /v1/contexts/{id}/{artifacts,executions,parents},
 * GET /v1/contexts/{id}/children, GET /v1/{artifacts,executions}/{id}/contexts */
void api_context_artifact_add(http_req *req, void *ctx);
void api_context_artifacts(http_req *req, void *ctx);
void api_context_execution_add(http_req *req, void *ctx);
void api_context_executions(http_req *req, void *ctx);
void api_context_parent_add(http_req *req, void *ctx);
void api_context_parents(http_req *req, void *ctx);
void api_context_children(http_req *req, void *ctx);
void api_artifact_contexts(http_req *req, void *ctx);
void api_execution_contexts(http_req *req, void *ctx);

/* GET /v1/lineage */
void api_lineage_graph(http_req *req, void *ctx);

/* GET /v1/models/{name}/provenance[?version=N] (serving/api_provenance.c) */
void api_model_provenance(http_req *req, void *ctx);

#endif
