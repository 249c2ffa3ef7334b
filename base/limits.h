/*
 * limits.h - every limit Strata enforces, with the reason for its value.
 *
 * Two kinds:
 * - Run-time limits (LIMIT_DEFAULT_*): the client-facing caps of the request
 *   path. stratad takes each one by flag and config-file key (the option
 *   table in serving/config.c; docs/operations.md lists them), and the
 *   running value lives in `strata_limits`. Every 4xx a run-time limit earns
 *   names its option, so a client knows what the operator could raise.
 * - Fixed limits: the contract's own numbers (name lengths, 1000 ids), caps
 *   that size a stack array or an on-disk format, and the work bounds of
 *   parsers and algorithms. Raising one is a code change with a review of
 *   what it sizes, not a configuration choice.
 *
 * Nothing is ever sized from a count a client declared: these caps come first.
 * Other headers may #define a local alias of a limit here; the value and its
 * reason live only here.
 */
#ifndef STRATA_BASE_LIMITS_H
#define STRATA_BASE_LIMITS_H

#include <stddef.h>
#include <stdint.h>

/* ---- the request path (run-time: flag + config key) ---- */
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
/* Set write groups per entity (store/keys.h): features first written together
 * share one; past this many, features first written later get one each (the
 * layout of one key per value: slower to scan, never wrong). */
#define LIMIT_SET_GROUPS_PER_ENTITY 64u
/* One STRING/BYTES value or one array: 1 MiB keeps the per-entity latest row
 * (all features in one RocksDB value) readable in one Get. */
#define LIMIT_VALUE_BYTES (1u << 20)
/* JSON nesting: jansson recurses; deep hostile nesting must not reach it. */
#define LIMIT_JSON_DEPTH 64u
/* Rows (lines) of an inline import's source: the text arrives in one body
 * and is held until the job runs; as many rows as one write may carry, and
 * larger sets go in a file under --import-dir. */
#define LIMIT_DEFAULT_MAX_INLINE_IMPORT_ROWS 100000u
/* Rows of an inline predictions array (POST /v1/evaluations): it is held as
 * JSON until the job runs; 100k rows of a label, a score and a few group
 * columns is ~10 MiB. Larger sets go in a file. */
#define LIMIT_DEFAULT_MAX_INLINE_EVAL_ROWS 100000u
/* JSON values (numbers, strings, keys, literals, arrays, objects) in one
 * request body, counted before it is parsed: parsing costs ~50 bytes per
 * number and ~200 per object, so a 60 MB body of "0," peaked at 1.3 GB and
 * "{}," would cost more. The contract's largest write (100k rows of one
 * value) is ~1.1M values; 2M bounds one body's parse to ~400 MB of objects
 * or ~100 MB of numbers. Bulk numeric data (embeddings) beyond it goes in
 * protobuf or an import file, or the operator raises it. */
#define LIMIT_DEFAULT_MAX_JSON_VALUES 2000000u
/* Open connections per daemon: each costs ~2 KiB idle plus its buffers, and
 * an fd; 4096 stays under a default `ulimit -n` of 8192 with room for
 * RocksDB's files. More are answered 503 (TLS: closed) at accept. */
#define LIMIT_DEFAULT_MAX_CONNECTIONS 4096u
/* Seconds from a request's first byte to its last: a slowloris trickling a
 * byte at a time is answered 408 then, however steadily it trickles. 30 s
 * covers a 64 MiB body at ~2 MiB/s. */
#define LIMIT_DEFAULT_REQUEST_TIMEOUT_S 30u
/* Seconds a keep-alive connection may sit idle between requests (or before
 * its first): long enough for client pools to reuse connections, short
 * enough that forgotten ones give their slot back. */
#define LIMIT_DEFAULT_IDLE_TIMEOUT_S 60u

/* ---- HTTP, fixed ---- */
/* After an early answer (413, 401 ...) the server reads and discards what the
 * client already had in flight so the answer is not lost to a TCP reset; a
 * client still sending past this (or past 2 s) is ignoring the answer. */
#define LIMIT_LINGER_BYTES ((size_t)1 << 20)
/* Bytes of a streamed answer waiting for a slow client before its producer
 * blocks: a few socket buffers' worth keeps a fast client busy. */
#define LIMIT_STREAM_HIGH_WATER ((size_t)4 << 20)
/* Answers queued for a client that pipelines requests without reading them:
 * past this the server reads none of its further requests until the output
 * drains, so a 40-byte request cannot pile up unbounded answers (GET /metrics
 * answers kilobytes). One answer may exceed it; the next waits. */
#define LIMIT_PIPELINE_OUTPUT_BYTES ((size_t)1 << 20)
/* List pages (the contract): page_size at most 1000. */
#define LIMIT_PAGE_SIZE_MAX 1000u
/* Bad rows listed in one write's 400 body (all are checked; the rest are
 * counted): the body of an error stays small. */
#define LIMIT_ROW_ERRORS_LISTED 100u

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
/* JSON values (numbers, strings, literals, arrays, objects) in one JSONL line,
 * counted before it is parsed: jansson needs ~50 bytes per value, so a 16 MiB
 * line of "[0,0,0,..." would cost ~450 MB of a job thread's memory. 2^20 is
 * about eight maximum-size numeric array values (LIMIT_VALUE_BYTES). */
#define LIMIT_JSONL_ROW_VALUES (1u << 20)
/* Header columns: an entity holds at most LIMIT_FEATURES_PER_ENTITY features,
 * plus id and time columns and a margin of ignored ones. */
#define LIMIT_IMPORT_COLUMNS 16384u
/* Values per store_write in on_error=skip_row imports: large enough that the
 * batch's keys, applied in key order, land near each other in the memtable
 * (bench/ingest: 6.9 s at 10000, 5.3 s at 50000, 4.7 s at 100000 for 1M rows),
 * small enough that a commit holds online writes back for tens of ms (~30 ms
 * for 10000 rows of 5 values here), not hundreds. */
#define LIMIT_IMPORT_BATCH_VALUES 50000u
/* ... or fewer, when large values would make the batch heavier than this. */
#define LIMIT_IMPORT_BATCH_BYTES ((size_t)32 << 20)
/* An import of a source of at least import_load_min_mb (default) loads its
 * batches as table files (store_write_ingest): each batch is a table file
 * per column family, overlapping the others (ids come in file order), which
 * compactions merge later. Batches this large keep the files few (5 per
 * family for bench/ingest's 5M values; 2.4 s there against 2.6-2.8 s at
 * 250,000 values); stratad's peak RSS there was 227 MiB with one batch
 * read while the previous one loads. */
#define LIMIT_DEFAULT_IMPORT_LOAD_MIN_MB 8u
#define LIMIT_IMPORT_LOAD_VALUES 1000000u
#define LIMIT_IMPORT_LOAD_BYTES ((size_t)64 << 20)
/* on_error=fail imports commit as ONE WriteBatch (all or nothing, also across
 * a crash), held in memory until the end: measured ~200 bytes per value at the
 * peak (staged rows, store_write's sorted copy, the WriteBatch, the memtable
 * absorbing it: bench/ingest, 1005 MiB for 5M values of 9 bytes), so the
 * default costs ~200 MB per running fail-mode import. */
#define LIMIT_DEFAULT_IMPORT_ATOMIC_VALUES 1000000u
#define LIMIT_IMPORT_ATOMIC_BYTES ((size_t)256 << 20)
/* Inline imports waiting to run hold their text: together at most this many
 * request bodies (max_body_bytes each), so a burst of them cannot pin GiBs. */
#define LIMIT_INLINE_HELD_BODIES 4u
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

/* ---- schedules (ingest/scheduler.c) ---- */
/* Retries of one scheduled run: with backoff, more than 100 is a broken
 * source that should page someone, not a transient error. */
#define LIMIT_SCHEDULE_RETRIES_MAX 100u
/* Schedules per daemon: the scheduler keeps them all in memory and scans
 * them each wake-up. */
#define LIMIT_SCHEDULES 10000u

/* ---- exports, internal (ingest/export_reader.c, ingest/sorter.h) ---- */
/* Scan join: the answers' bytes buffered for one id. */
#define LIMIT_EXPORT_SCAN_VALUES_BYTES ((size_t)16 << 20)
/* Parallel pass 2: one chunk of lookups handed to a worker (two per worker
 * exist): big enough that a worker Seeks rarely, small next to the budget. */
#define LIMIT_EXPORT_LOOKUP_CHUNK_BYTES ((size_t)1 << 20)
/* Distinct JSONL keys kept as pass-through columns: their names' bytes. */
#define LIMIT_EXPORT_JSONL_NAMES_BYTES ((size_t)1 << 20)
/* Sort keys are ids, times and row numbers, never payload. */
#define LIMIT_SORT_KEY_BYTES ((size_t)64 << 10)

/* ---- lineage (lineage/) ---- */
/* Type names: [A-Za-z][A-Za-z0-9_.]{0,127} (the contract). */
#define LINEAGE_TYPE_NAME_MAX 128u
/* Declared properties per type: a schema, not a payload. */
#define LINEAGE_TYPE_PROPERTIES_MAX 256u
/* Property names: [A-Za-z_][A-Za-z0-9_]{0,127}, so filters can name them. */
#define LINEAGE_PROPERTY_NAME_MAX 128u
/* Node names and external ids: identifiers, not documents. */
#define LINEAGE_NAME_MAX 256u
#define LINEAGE_EXTERNAL_ID_MAX 256u
/* A URI may be a long object-store path with a query string. */
#define LINEAGE_URI_MAX 4096u
/* Properties plus custom properties of one node, as compact JSON: big enough
 * for hyperparameters and metric tables, small enough that a traversal that
 * returns 1000 nodes stays a few MiB. */
#define LINEAGE_PROPERTIES_BYTES_MAX (256u << 10)
/* Event path steps, and the length of one step's key. */
#define LINEAGE_PATH_STEPS_MAX 64u
#define LINEAGE_PATH_KEY_MAX 256u
/* Traversal: hops default and cap (each hop is a scan of the frontier's
 * events); nodes per answer default and cap (a few MiB of JSON). */
#define LINEAGE_DEFAULT_MAX_HOPS 20u
#define LINEAGE_MAX_HOPS_CAP 100u
#define LINEAGE_GRAPH_PAGE_DEFAULT 1000u
#define LINEAGE_GRAPH_PAGE_MAX 10000u
/* Start ids of one traversal (?artifact_id=1,2,...): as ids per online read. */
#define LINEAGE_START_IDS_MAX 1000u
/* Entries of the write path's cache of committed unique keys ((type, name) ->
 * id, events, links): every captured run finds its contexts and shared
 * artifacts by name and links its inputs to its contexts; 64k entries of
 * ~60 bytes keep what a busy pipeline repeats without a store read. */
#define LINEAGE_NAME_CACHE_MAX 65536u
/* Entries (nodes, events and links together) in one lineage_batch_put: one
 * transaction holds the write lock for its whole length. */
#define LINEAGE_BATCH_ITEMS_MAX 10000u
/* Inputs or outputs of one captured run, and contexts it joins. */
#define LINEAGE_RUN_REFS_MAX 10000u
/* Entries per list in a model's provenance (datasets, imports, metrics,
 * evaluations ...): a year of 15-minute scheduled imports is 35k; an auditor
 * reads the newest, and the answer says the list was cut. */
#define LINEAGE_PROVENANCE_ITEMS_MAX 1000u
/* Events read from one node for provenance before the rest is ignored (and
 * reported as truncated): bounds memory for a pathological hub node. */
#define LINEAGE_PROVENANCE_EVENTS_SCAN_MAX 100000u
/* Filters (lineage/filter.c). A filter travels in a URL query string; 16 KiB
 * is far beyond any hand-written one and keeps the parse (and the tree, at
 * most one node per input byte) small. */
#define LFILTER_MAX_TEXT (16u << 10)
/* Parentheses and NOTs recurse in the parser and the evaluator: 64 levels is
 * more than anyone writes and a few KiB of stack. */
#define LFILTER_MAX_DEPTH 64u
/* `id IN (...)` lists: 4096 five-digit ids would already pass the 16 KiB limit. */
#define LFILTER_MAX_IN 4096u
/* Distinct relation aliases (contexts_a, parent_contexts_b, ...). Predicates
 * that tie aliases together are evaluated by enumerating combinations,
 * n^aliases in the worst case; MLMD's own examples use one or two. */
#define LFILTER_MAX_ALIASES 4u
/* Work one lfilter_eval may spend, in units of about a byte compared: a LIKE
 * step or an IN item is 1, a predicate evaluated or a context bound is
 * LFILTER_COST_PREDICATE (a JSON lookup and a compare). 2^24 is some tens of
 * milliseconds; only adversarial alias combinations or LIKE patterns against
 * megabyte strings reach it, and then the node does not match. */
#define LFILTER_EVAL_BUDGET (1u << 24)
#define LFILTER_COST_PREDICATE 16u

/* ---- training (trainer/) ---- */
/* Input columns of one preprocessing: an export holds at most 1000 feature
 * refs (LIMIT_EXPORT_FEATURES) plus instance pass-through columns. */
#define TRAINER_MAX_INPUT_COLUMNS 4096u
/* Elements of one numeric array column: a 1 MiB DOUBLE_ARRAY value
 * (LIMIT_VALUE_BYTES) holds 131072 doubles. */
#define TRAINER_MAX_ARRAY_WIDTH 131072u
/* Categories kept per one-hot column: each is one model coefficient; more
 * than this is an id column, not a category. */
#define TRAINER_MAX_CATEGORIES 10000u
/* Bytes of one category value kept in a vocabulary (and in the saved model). */
#define TRAINER_MAX_CATEGORY_BYTES 1024u
/* Design-matrix columns after expansion, and coefficients of one model
 * (features x classes for multiclass): the L-BFGS history holds 2 x 10
 * vectors of them, 160 MiB at this size. */
#define TRAINER_MAX_FEATURES (1u << 20)
/* The ridge closed form holds the p x p Gram matrix and its Cholesky factor:
 * 2 x 4096^2 doubles = 256 MiB. Wider regressions without l1 use L-BFGS. */
#define TRAINER_MAX_GRAM_FEATURES 4096u
/* Classes of a multinomial model: K coefficient vectors. */
#define TRAINER_MAX_CLASSES 1000u
/* Optimizer iterations one fit may ask for. */
#define TRAINER_MAX_ITERATIONS 1000000u
/* L-BFGS history pairs: more buys nothing on these problems. */
#define TRAINER_MAX_LBFGS_MEMORY 100u
/* Trials of one hyperparameter search (each is a full fit). */
#define TRAINER_MAX_TRIALS 1000u
/* Early stopping: consecutive iterations below min_rel_progress before a fit
 * stops. One slow quasi-Newton step is normal; five in a row is a plateau. */
#define TRAINER_EARLY_STOP_PATIENCE 5
/* Worker threads of one fit. */
#define TRAINER_MAX_THREADS 64u
/* Column names in a saved preprocessing are export column names
 * (`entity__feature`) or instance columns; anything longer is not a name. */
#define TRAINER_PREP_NAME_MAX 1024u

/* ---- evaluations (trainer/evaluate.c, trainer/eval_job.c) ---- */
/* Rows of one evaluation from a file or instances: the evaluator holds a
 * label, the scores and a code per group attribute per row, and the
 * bootstrap resamples them all (~100 bytes a row: 1 GiB at this size). */
#define EVAL_JOB_MAX_ROWS 10000000u
/* Rows scored per batch by the model (the ds_cols batch, as batch prediction). */
#define EVAL_SCORE_BATCH 1024u
/* Points of a ROC curve in the result: a chart, not the raw curve. */
#define EVAL_ROC_MAX_POINTS 201
/* Attributes in group_by: intersections grow as the product of their values. */
#define EVAL_MAX_GROUP_BY 8
/* Distinct values of one group attribute: more is an id, not a group. */
#define EVAL_MAX_GROUP_VALUES 1000
/* Intersections listed in a result: a table a person reads. */
#define EVAL_MAX_INTERSECTIONS 10000
/* Bootstrap replicates: each is a full pass over the rows. */
#define EVAL_MAX_REPLICATES 10000
/* Points of a threshold sweep (0, 0.001, ... 1). */
#define EVAL_MAX_THRESHOLDS 1001
/* Rows of threshold_sweep (non-empty groups + 1) x thresholds: ~120 bytes of
 * JSON each, so ~24 MiB at most. */
#define EVAL_MAX_SWEEP_ROWS 200000u
/* Calibration bins: a bin per 0.001 of probability is already noise. */
#define EVAL_MAX_CALIBRATION_BINS 1000
/* Classes of a multiclass evaluation: as TRAINER_MAX_CLASSES. */
#define EVAL_MAX_CLASSES 1000
/* Rows: twice the Mann-Whitney count (at most n^2 / 2) must fit in 64 bits. */
#define EVAL_MAX_ROWS (1ull << 32)

/* The run-time limits as running: stratad fills them from defaults, the
 * config file and flags; http.c and the handlers read them. */
typedef struct strata_limits {
    size_t max_body_bytes;
    size_t max_header_bytes;
    uint32_t max_ids_per_read;
    uint32_t max_values_per_write;
    uint32_t max_inline_import_rows;
    uint32_t max_inline_eval_rows;
    uint32_t max_json_values;
    uint32_t max_connections;
    uint32_t request_timeout_s;
    uint32_t idle_timeout_s;
} strata_limits;

static inline strata_limits limits_default(void)
{
    strata_limits l = {
        .max_body_bytes = LIMIT_DEFAULT_MAX_BODY_BYTES,
        .max_header_bytes = LIMIT_DEFAULT_MAX_HEADER_BYTES,
        .max_ids_per_read = LIMIT_DEFAULT_MAX_IDS_PER_READ,
        .max_values_per_write = LIMIT_DEFAULT_MAX_VALUES_PER_WRITE,
        .max_inline_import_rows = LIMIT_DEFAULT_MAX_INLINE_IMPORT_ROWS,
        .max_inline_eval_rows = LIMIT_DEFAULT_MAX_INLINE_EVAL_ROWS,
        .max_json_values = LIMIT_DEFAULT_MAX_JSON_VALUES,
        .max_connections = LIMIT_DEFAULT_MAX_CONNECTIONS,
        .request_timeout_s = LIMIT_DEFAULT_REQUEST_TIMEOUT_S,
        .idle_timeout_s = LIMIT_DEFAULT_IDLE_TIMEOUT_S,
    };
    return l;
}

#endif
