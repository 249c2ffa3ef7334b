/*
 * config.h - stratad's configuration: defaults, then the config file, then
 * flags. Every flag --some-name has the config-file key some_name.
 */
#ifndef STRATA_SERVING_CONFIG_H
#define STRATA_SERVING_CONFIG_H

#include <stdbool.h>

#include "base/err.h"
#include "base/limits.h"
#include "store/store.h"

/* What stratad checks before it serves a data directory. */
enum config_start_check {
    CONFIG_CHECK_QUICK, /* RocksDB's open: CURRENT, MANIFEST, WAL, every SST present, sizes */
    CONFIG_CHECK_FULL,  /* and every SST block read once, checksums verified */
};

typedef struct strata_config {
    char data_dir[4096];
    char listen[256];
    char import_dir[4096]; /* empty: imports from paths are refused */
    char export_dir[4096]; /* empty: <data_dir>/exports */
    char token_file[4096]; /* empty: no tokens, the daemon is open */
    char tls_cert[4096];   /* PEM chain; with tls_key: serve HTTPS only */
    char tls_key[4096];
    int threads;
    int worker_rt_priority;           /* 1-99: HTTP workers under SCHED_FIFO; 0 off */
    int job_threads;                  /* job pool workers */
    uint32_t import_atomic_max_values; /* on_error=fail imports: values in the one batch */
    size_t import_load_min_mb;         /* imports of sources this big load table files */
    size_t export_memory_mb;           /* per export, before sort runs spill to disk */
    uint32_t export_streams;           /* streamed exports at once */
    store_sync sync;
    uint32_t sync_interval_ms;   /* sync = batch: WAL fsync period */
    store_wal_recovery wal_recovery;
    int start_check;             /* enum config_start_check */
    char checkpoint_dir[4096];   /* empty: admin checkpoints are refused */
    char secondary_of[4096];     /* non-empty: a read replica of that data dir */
    uint32_t catch_up_ms;        /* replica: catch-up period */
    bool check_only;             /* --check: verify the data directory and exit */
    size_t block_cache_mb;
    size_t row_cache_mb;
    int log_level; /* enum log_level */
    strata_limits limits;
} strata_config;

void config_defaults(strata_config *c);
/* Parse argv (and a --config FILE it names). On --help/--version prints and
 * sets *exit_now. A bare --check sets check_only. Returns 0 or INVALID_ARGUMENT with a message. */
int config_parse_args(strata_config *c, int argc, char **argv, bool *exit_now, strata_err *err);
/* Apply one key=value (shared by the file and the flags). */
int config_set(strata_config *c, const char *key, const char *value, strata_err *err);
int config_load_file(strata_config *c, const char *path, strata_err *err);
void config_usage(FILE *out);

#endif
