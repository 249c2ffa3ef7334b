/*
 * strata.h - libstrata, the C client of stratad's HTTP API (spec/api.md).
 *
 * One strata_client owns one libcurl easy handle, so consecutive requests reuse
 * the same keep-alive connection. A client is not thread-safe: use one per
 * thread (they are cheap). strata_client_open() and strata_client_close() pair
 * libcurl's global init/cleanup, which is thread-safe in libcurl >= 7.84.
 *
 * Errors. Every fallible function returns an int: STRATA_OK (0) or a negative
 * status from base/status.h, and fills the optional `strata_err *` (NULL
 * allowed) with a one-line human message:
 *   - the server answered non-2xx: the status follows the HTTP status (400 ->
 *     STRATA_INVALID_ARGUMENT, 404 -> STRATA_NOT_FOUND, 409 -> ALREADY_EXISTS,
 *     412 -> FAILED_PRECONDITION, 413/429 -> RESOURCE_EXHAUSTED, 401, 403,
 *     503 -> UNAVAILABLE, other 5xx -> INTERNAL), err->message is the server's
 *     `error.message` and err->details its `error.details` array (if any);
 *   - no HTTP response arrived (connection refused, DNS, TLS, timeout, reset):
 *     STRATA_IO, message "cannot reach stratad at URL: ..." or "lost
 *     connection to stratad at URL: ..." ("no answer in time ..." on timeout);
 *   - a 2xx response that is not the JSON the contract promises, or is larger
 *     than max_response_bytes: STRATA_CORRUPT;
 *   - bad arguments caught before sending (empty name, bad URL): STRATA_INVALID_ARGUMENT.
 * The caller owns the strata_err and calls err_clear() on it when done, which
 * frees err->details.
 *
 * Ownership. `const char *` and `const json_t *` arguments are borrowed for the
 * duration of the call only. A `json_t **out` receives a new reference the
 * caller releases with json_decref(); it is left NULL on failure, and `out`
 * itself may be NULL when the caller does not want the response.
 *
 * Paths. Every name and entity id passed to a typed helper is percent-encoded
 * as one path segment (entity ids may hold any UTF-8, '/', '?', '%', spaces).
 */
#ifndef STRATA_CLIENT_STRATA_H
#define STRATA_CLIENT_STRATA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/status.h"

#define STRATA_DEFAULT_URL "http://127.0.0.1:7070"
#define STRATA_DEFAULT_TIMEOUT_MS 60000L
#define STRATA_DEFAULT_MAX_RESPONSE_BYTES ((size_t)256 << 20)

typedef struct strata_client strata_client;

/* Zero-initialise and set what you need; every zero/NULL field takes its default. */
typedef struct strata_client_options {
    const char *url;           /* NULL: $STRATA_URL, else STRATA_DEFAULT_URL; http:// or https:// */
    const char *token;         /* NULL: $STRATA_TOKEN, else none; sent as "Authorization: Bearer" */
    /* CA bundle (PEM) for https; NULL: $STRATA_CACERT, else the system's. https
     * always verifies the server's chain and host name, TLS 1.2 or newer; there
     * is no option to skip that (trust a private CA with this instead). */
    const char *cacert;
    long timeout_ms;           /* whole request; 0: STRATA_DEFAULT_TIMEOUT_MS */
    size_t max_response_bytes; /* 0: STRATA_DEFAULT_MAX_RESPONSE_BYTES */
} strata_client_options;

/*
 * Create a client (opts may be NULL for all defaults). No connection is made
 * until the first request. On success *out is a client the caller releases with
 * strata_client_close(); the options' strings are copied. On failure *out is
 * NULL and err says why (INVALID_ARGUMENT for a bad URL or token).
 */
int strata_client_open(const strata_client_options *opts, strata_client **out, strata_err *err);
/* Close the connection and free the client; NULL is a no-op. */
void strata_client_close(strata_client *c);
/* The base URL in use, without a trailing '/'; owned by the client, valid until close. */
const char *strata_client_url(const strata_client *c);

/* ---- generic requests ---------------------------------------------------- */

typedef struct strata_response {
    long http_status; /* 0 when no response arrived */
    char *body;       /* NUL-terminated (NUL not counted); NULL when empty */
    size_t body_len;
} strata_response;

#define STRATA_RESPONSE_INIT ((strata_response){0, NULL, 0})

/*
 * Send one request. `path` starts with '/' and may carry a query string; the
 * caller percent-encodes what it puts there (strata_escape). `body` (body_len
 * bytes, may be NULL/0) is sent with `content_type` (NULL: application/json);
 * POST, PUT and PATCH always send a body (empty when NULL). The request asks
 * for JSON (Accept: application/json); redirects are not followed.
 * Whatever arrived, status and body are stored in *resp, also for non-2xx
 * answers; the caller frees them with strata_response_free() in every case.
 * Returns STRATA_OK for a 2xx answer, else the status described at the top.
 */
int strata_request(strata_client *c, const char *method, const char *path, const char *content_type,
                   const void *body, size_t body_len, strata_response *resp, strata_err *err);
/* Free resp->body and reset *resp; NULL is a no-op. */
void strata_response_free(strata_response *resp);

/*
 * strata_request for answers too big to hold (exports): a 2xx answer's body is
 * handed to `write` piece by piece as it arrives, never collected. `write`
 * returns 0 to go on, nonzero to stop: the call then fails with STRATA_IO and
 * a message saying the caller stopped the transfer (the caller knows why).
 * No overall timeout and no max_response_bytes cap apply; a transfer that
 * stalls (under 1 byte/s for the client's timeout_ms, also before the first
 * byte) fails as a timeout. A request (Accept: any type) is checked and sent
 * as strata_request sends it. A non-2xx answer is collected (max_response_bytes)
 * and reported exactly as strata_request reports it: status, the server's
 * error.message, err->details. *http_status (may be NULL) gets the HTTP status,
 * 0 when none arrived: a STRATA_IO failure with a 2xx there means the answer
 * was cut after its head (the server failed midway, or the connection broke),
 * with 0 that stratad could not be reached or did not answer.
 */
int strata_request_stream(strata_client *c, const char *method, const char *path,
                          const char *content_type, const void *body, size_t body_len,
                          int (*write)(void *arg, const void *p, size_t n), void *arg,
                          long *http_status, strata_err *err);

/*
 * strata_request with a JSON body (NULL: no body) and a parsed JSON answer. An
 * empty 2xx body yields an empty object. *out: new reference, see Ownership.
 */
int strata_request_json(strata_client *c, const char *method, const char *path, const json_t *body,
                        json_t **out, strata_err *err);

/* Append s percent-encoded (everything but A-Z a-z 0-9 - . _ ~) to out. */
void strata_escape(buf *out, slice s);

/* ---- registry ------------------------------------------------------------ */

/* POST /v1/entities -> {"entity":{...}}. description and labels may be NULL. */
int strata_entity_create(strata_client *c, const char *name, const char *description,
                         const json_t *labels, json_t **out, strata_err *err);
/* GET /v1/entities, every page -> {"entities":[...all...],"next_page_token":""}. */
int strata_entity_list(strata_client *c, json_t **out, strata_err *err);
/* GET /v1/entities/{name} -> {"entity":{..., "features":[...]}}. */
int strata_entity_get(strata_client *c, const char *name, json_t **out, strata_err *err);
/* DELETE /v1/entities/{name}[?force=true]; without force a non-empty entity is
 * refused with FAILED_PRECONDITION. */
int strata_entity_delete(strata_client *c, const char *name, int force, json_t **out,
                         strata_err *err);

typedef struct strata_feature_spec {
    const char *name;
    const char *type;        /* "INT64", "DOUBLE_ARRAY", ... */
    const char *description; /* NULL: none */
    const json_t *labels;    /* object or NULL */
    int64_t ttl_seconds;     /* 0: values never expire */
} strata_feature_spec;

/* POST /v1/entities/{entity}/features -> {"feature":{...}}. */
int strata_feature_create(strata_client *c, const char *entity, const strata_feature_spec *spec,
                          json_t **out, strata_err *err);
/* GET /v1/entities/{entity}/features, every page -> {"features":[...],"next_page_token":""}. */
int strata_feature_list(strata_client *c, const char *entity, json_t **out, strata_err *err);
/* GET /v1/entities/{entity}/features/{name} -> {"feature":{...}}. */
int strata_feature_get(strata_client *c, const char *entity, const char *name, json_t **out,
                       strata_err *err);
/* GET /v1/features:search?q=&type=&entity=, every page -> {"features":[...],...}.
 * type and entity may be NULL (no filter). */
int strata_feature_search(strata_client *c, const char *query, const char *type, const char *entity,
                          json_t **out, strata_err *err);
/* PATCH /v1/entities/{entity}/features/{name} with `patch`, an object holding any
 * of description, labels, ttl_seconds -> {"feature":{...}}. */
int strata_feature_update(strata_client *c, const char *entity, const char *name,
                          const json_t *patch, json_t **out, strata_err *err);
/* DELETE /v1/entities/{entity}/features/{name}. */
int strata_feature_delete(strata_client *c, const char *entity, const char *name, json_t **out,
                          strata_err *err);

/* ---- writes and online reads --------------------------------------------- */

/*
 * POST /v1/entities/{entity}:write {"rows": rows}. `rows` is a JSON array of
 * {"entity_id","event_time","created_time","values":{...}} objects; the request
 * is atomic. On success *written_values (may be NULL) holds the server's count.
 * A rejected batch is INVALID_ARGUMENT with the bad rows in err->details.
 */
int strata_write(strata_client *c, const char *entity, const json_t *rows, uint64_t *written_values,
                 strata_err *err);

/* GET /v1/entities/{entity}/values/{id}?features=a,b (nfeatures 0: all) ->
 * {"entity_id","features":{"f":{"value","event_time","status"}}}. */
int strata_online_get(strata_client *c, const char *entity, const char *id,
                      const char *const *features, size_t nfeatures, json_t **out, strata_err *err);
/* POST /v1/online:read for up to 1000 ids (nfeatures 0: all) ->
 * {"features":[...],"rows":[{"entity_id","values","statuses","event_times"}]}. */
int strata_online_read(strata_client *c, const char *entity, const char *const *ids, size_t nids,
                       const char *const *features, size_t nfeatures, json_t **out,
                       strata_err *err);

#endif
