/*
 * limits.h - every limit Strata enforces, with the reason for its default.
 *
 * The values here are defaults; stratad takes each one by flag and config-file
 * key (see serving/config.c), and the running value lives in `strata_limits`.
 * Nothing is ever sized from a count a client declared: these caps come first.
 */
#ifndef STRATA_BASE_LIMITS_H
#define STRATA_BASE_LIMITS_H

#include <stddef.h>
#include <stdint.h>

/* A 100k-value write of short JSON values is ~8 MiB; 64 MiB leaves room for
 * long strings and embeddings while keeping one request's memory bounded. */
#define LIMIT_DEFAULT_MAX_BODY_BYTES (64u << 20)
/* Large enough for any URL a client builds (1000 feature names of 64 bytes). */
#define LIMIT_DEFAULT_MAX_HEADER_BYTES (96u << 10)
/* The contract: POST /v1/online:read takes at most 1000 ids. */
#define LIMIT_DEFAULT_MAX_IDS_PER_READ 1000u
/* The contract's default: a write is one RocksDB WriteBatch; 100k values keeps
 * it well under the memtable size so one request never stalls the others. */
#define LIMIT_DEFAULT_MAX_VALUES_PER_WRITE 100000u
/* Entity ids are any UTF-8 string of 1..256 bytes (the contract). */
#define LIMIT_ENTITY_ID_MAX 256u
/* Names: [a-z][a-z0-9_]{0,63}. */
#define LIMIT_NAME_MAX 64u
/* A feature's description or a label value: prose, not payload. */
#define LIMIT_DESCRIPTION_MAX 4096u
#define LIMIT_LABELS_MAX 64u
/* Features per entity: each online read of "all features" decodes them all. */
#define LIMIT_FEATURES_PER_ENTITY 10000u
/* One STRING/BYTES value or one array: 1 MiB keeps the per-entity latest row
 * (all features in one RocksDB value) readable in one Get. */
#define LIMIT_VALUE_BYTES (1u << 20)
/* JSON nesting: jansson recurses; deep hostile nesting must not reach it. */
#define LIMIT_JSON_DEPTH 64u
/* Open connections per daemon. */
#define LIMIT_DEFAULT_MAX_CONNECTIONS 4096u
/* Seconds a connection may take to send a request / sit idle (slowloris). */
#define LIMIT_DEFAULT_REQUEST_TIMEOUT_S 30u

typedef struct strata_limits {
    size_t max_body_bytes;
    size_t max_header_bytes;
    uint32_t max_ids_per_read;
    uint32_t max_values_per_write;
    uint32_t max_connections;
    uint32_t request_timeout_s;
} strata_limits;

static inline strata_limits limits_default(void)
{
    strata_limits l = {LIMIT_DEFAULT_MAX_BODY_BYTES,       LIMIT_DEFAULT_MAX_HEADER_BYTES,
                       LIMIT_DEFAULT_MAX_IDS_PER_READ,     LIMIT_DEFAULT_MAX_VALUES_PER_WRITE,
                       LIMIT_DEFAULT_MAX_CONNECTIONS,      LIMIT_DEFAULT_REQUEST_TIMEOUT_S};
    return l;
}

#endif
