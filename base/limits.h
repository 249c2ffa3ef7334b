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

/* ---- batch ingestion and jobs (ingest/) ---- */
/* Job worker threads: imports are I/O and RocksDB bound; two keep a second
 * job moving while one waits, without starving the HTTP workers. */
#define LIMIT_DEFAULT_JOB_THREADS 2u
/* Jobs waiting for a worker: each queued inline import holds its body. */
#define LIMIT_JOB_QUEUE_MAX 1000u
/* One CSV cell or JSON value as text: a 1 MiB value (LIMIT_VALUE_BYTES) plus
 * room for its base64 or JSON-array spelling would need more, but a cell that
 * large is almost always a broken quote swallowing the file. */
#define LIMIT_IMPORT_FIELD_BYTES (1u << 20)
/* One row (all cells of a CSV record, or one JSONL line): what one row may
 * hold in memory while it is parsed. */
#define LIMIT_IMPORT_ROW_BYTES (16u << 20)
/* Header columns: an entity holds at most LIMIT_FEATURES_PER_ENTITY features,
 * plus id and time columns and a margin of ignored ones. */
#define LIMIT_IMPORT_COLUMNS 16384u
/* Values per store_write in on_error=skip_row imports: large enough for
 * RocksDB throughput, small enough that a commit never stalls online writes. */
#define LIMIT_IMPORT_BATCH_VALUES 10000u
/* ... or fewer, when large values would make the batch heavier than this. */
#define LIMIT_IMPORT_BATCH_BYTES ((size_t)32 << 20)
/* on_error=fail imports commit as ONE WriteBatch (all or nothing, also across
 * a crash), held in memory until the end: measured ~300 bytes per value at the
 * peak (staged rows, the WriteBatch, the memtable absorbing it), so the
 * default costs ~300 MB per running fail-mode import. */
#define LIMIT_DEFAULT_IMPORT_ATOMIC_VALUES 1000000u
#define LIMIT_IMPORT_ATOMIC_BYTES ((size_t)256 << 20)
/* Rows sampled to infer the types of create_features columns. */
#define LIMIT_IMPORT_INFER_ROWS 1000u
/* Rejected rows listed in a job result (all of them go to the rejects file). */
#define LIMIT_IMPORT_REJECTS_IN_RESULT 100u

/* ---- exports (ingest/export*.c) ---- */
/* Memory one export may hold for its sorts (instance lookups, then output
 * rows) before spilling sorted runs to <data-dir>/tmp: 64 MiB keeps a dozen
 * concurrent exports far from the daemon's other memory, and sorts about a
 * million instance rows without touching a file. */
#define LIMIT_DEFAULT_EXPORT_MEMORY_MB 64u
/* Streamed exports running at once (each holds a producer thread and its
 * memory budget); more are refused with 503 and a hint to use a destination. */
#define LIMIT_DEFAULT_EXPORT_STREAMS 4u
/* Feature refs per export: each holds one RocksDB iterator during the scan. */
#define LIMIT_EXPORT_FEATURES 1000u
/* Entities per historical export: each is one more sort key and scan. */
#define LIMIT_EXPORT_ENTITIES 64u
/* The feature values of one output row: an export of many large values per
 * row is a bulk copy, not training data. */
#define LIMIT_EXPORT_ROW_BYTES ((size_t)64 << 20)
/* Feature sets linked as an Export's inputs in lineage, per entity (the
 * newest imports before the cut-off; older ones are reachable from them). */
#define LIMIT_EXPORT_LINEAGE_SETS 100u

/* ---- authentication (auth/) ---- */
/* Tokens in one token file: every request compares its hash with all of them
 * with CRYPTO_memcmp (constant time, no early exit), measured at 70-150 ns a
 * comparison on the shared 2-core dev machine, so the list must stay short:
 * 100 tokens cost ~10 us per request at the worst and give every service
 * and person of a team its own token. */
#define LIMIT_TOKENS 100u
/* The token file: 100 lines of ~150 bytes, with ample room for comments. */
#define LIMIT_TOKEN_FILE_BYTES ((size_t)1 << 20)
/* A bearer token as sent: ours are 50 bytes; anything past this is not one
 * of ours and is refused before it is hashed. */
#define LIMIT_TOKEN_BYTES 256u
/* Seconds between checks of the token file for changes (one stat() on the
 * main thread, never on a request): a revocation takes effect within this. */
#define LIMIT_TOKEN_RELOAD_S 1u

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
