/*
 * config.c - one table of options serves the flags, the config file and the
 * usage text, so a flag cannot exist without its file key or its help line.
 */
#include <stdio.h>

#include "serving/config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/text.h"

/* OPT_SIZE0: a size that may be 0 ("off"); every other number must be positive.
 * A size whose key ends in _mb is MiB, and must fit a size_t in bytes. */
/* OPT_PRIO: a SCHED_FIFO priority, 0 (off) to 99, stored as int. */
typedef enum opt_kind {
    OPT_STR,
    OPT_U32,
    OPT_SIZE,
    OPT_SIZE0,
    OPT_INT,
    OPT_PRIO,
    OPT_ENUM
} opt_kind;

typedef struct option_def {
    const char *key;
    opt_kind kind;
    size_t offset;
    size_t size; /* for strings: capacity */
    const char *help;
    const char *const *names; /* OPT_ENUM: value i is names[i]; NULL-terminated */
} option_def;

/* OPT_ENUM fields are stored as int: every enum used here must be int-sized. */
_Static_assert(sizeof(store_sync) == sizeof(int), "store_sync is int-sized");
_Static_assert(sizeof(store_wal_recovery) == sizeof(int), "store_wal_recovery is int-sized");

/* Names in enum order (store_sync, store_wal_recovery, config_start_check, log_level). */
static const char *const sync_names[] = {"never", "always", "batch", NULL};
static const char *const wal_names[] = {"strict", "salvage", NULL};
static const char *const check_names[] = {"quick", "full", NULL};
static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};

#define O(key, kind, field, help)                                                             \
    {key, kind, offsetof(strata_config, field), sizeof(((strata_config *)0)->field), help, NULL}
#define E(key, field, names, help)                                                            \
    {key, OPT_ENUM, offsetof(strata_config, field), sizeof(((strata_config *)0)->field), help, \
     names}
static const option_def options[] = {
    O("data_dir", OPT_STR, data_dir, "data directory (default ./strata-data)"),
    O("listen", OPT_STR, listen, "HOST:PORT to listen on (default 127.0.0.1:7070)"),
    O("import_dir", OPT_STR, import_dir, "directory imports may read files from (default: none)"),
    O("export_dir", OPT_STR, export_dir, "directory exports may write to (default DATA/exports)"),
    O("token_file", OPT_STR, token_file,
      "bearer tokens (hashes) and their roles; none: the daemon is open (see docs/security.md)"),
    O("tls_cert", OPT_STR, tls_cert, "PEM certificate chain: serve HTTPS (needs tls_key)"),
    O("tls_key", OPT_STR, tls_key, "PEM private key of tls_cert"),
    O("threads", OPT_INT, threads, "HTTP worker threads (default: number of CPUs)"),
    O("worker_rt_priority", OPT_PRIO, worker_rt_priority,
      "run the HTTP workers under SCHED_FIFO at this priority (1-99), ahead of jobs, "
      "compactions and other processes: online reads stop waiting for a core on a busy host "
      "(needs root or CAP_SYS_NICE; default 0: normal scheduling)"),
    O("job_threads", OPT_INT, job_threads,
      "threads running jobs: imports, exports, training (default 2)"),
    O("import_atomic_max_values", OPT_U32, import_atomic_max_values,
      "values an on_error=fail import may hold: it commits as one batch (default 1000000)"),
    O("import_load_min_mb", OPT_SIZE0, import_load_min_mb,
      "imports of files at least this large load their batches as table files instead of "
      "writing them (default 8; 0: every import)"),
    O("export_memory_mb", OPT_SIZE, export_memory_mb,
      "memory one export may hold for sorting before it spills to DATA/tmp (default 64)"),
    O("export_streams", OPT_U32, export_streams,
      "streamed exports (no destination) running at once (default 4)"),
    E("sync", sync, sync_names,
      "never|batch|always: when the WAL is fsynced (default never: survives kill -9, not power "
      "loss; batch: every sync_interval_ms; always: before each answer)"),
    O("sync_interval_ms", OPT_U32, sync_interval_ms,
      "sync=batch: fsync the WAL this often; a power loss loses at most this much (default 100)"),
    E("wal_recovery", wal_recovery, wal_names,
      "strict|salvage: a damaged WAL refuses the start (strict, default) or is replayed up to "
      "the damage (salvage; drops what follows)"),
    E("start_check", start_check, check_names,
      "quick|full: before serving, open the database (quick) or also read every SST block to "
      "verify checksums (full, default)"),
    O("checkpoint_dir", OPT_STR, checkpoint_dir,
      "directory admin checkpoints are written under (default: none, checkpoints refused)"),
    O("secondary_of", OPT_STR, secondary_of,
      "run as a read replica of this primary data directory; --data-dir is then a scratch "
      "directory of the replica's own"),
    O("catch_up_ms", OPT_U32, catch_up_ms,
      "replica: how often to catch up with the primary (default 1000)"),
    O("block_cache_mb", OPT_SIZE, block_cache_mb, "RocksDB block cache in MiB (default 256)"),
    O("row_cache_mb", OPT_SIZE0, row_cache_mb,
      "RocksDB row cache for point reads (online reads) in MiB; 0 turns it off (default 64)"),
    E("log_level", log_level, level_names, "debug|info|warn|error (default info)"),
    O("max_body_bytes", OPT_SIZE, limits.max_body_bytes,
      "largest request body in bytes (default 67108864)"),
    O("max_header_bytes", OPT_SIZE, limits.max_header_bytes,
      "largest request line + headers in bytes (default 98304)"),
    O("max_ids_per_read", OPT_U32, limits.max_ids_per_read,
      "ids in one online:read (default 1000)"),
    O("max_values_per_write", OPT_U32, limits.max_values_per_write,
      "values in one write (default 100000)"),
    O("max_inline_import_rows", OPT_U32, limits.max_inline_import_rows,
      "rows of an inline import source (default 100000)"),
    O("max_inline_eval_rows", OPT_U32, limits.max_inline_eval_rows,
      "rows of an evaluation's inline predictions (default 100000)"),
    O("max_json_values", OPT_U32, limits.max_json_values,
      "JSON values (numbers, strings, keys, arrays, objects) in one request body (default "
      "2000000)"),
    O("max_connections", OPT_U32, limits.max_connections,
      "open client connections; more are refused at accept (default 4096)"),
    O("request_timeout_s", OPT_U32, limits.request_timeout_s,
      "seconds from a request's first byte to its last, else 408 (default 30)"),
    O("idle_timeout_s", OPT_U32, limits.idle_timeout_s,
      "seconds a keep-alive connection may sit idle between requests (default 60)"),
};
#undef O
#undef E
#define NOPTIONS (sizeof options / sizeof options[0])

void config_defaults(strata_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->data_dir, "./strata-data");
    strcpy(c->listen, "127.0.0.1:7070");
    c->threads = 0;
    c->job_threads = LIMIT_DEFAULT_JOB_THREADS;
    c->import_atomic_max_values = LIMIT_DEFAULT_IMPORT_ATOMIC_VALUES;
    c->export_memory_mb = LIMIT_DEFAULT_EXPORT_MEMORY_MB;
    c->export_streams = LIMIT_DEFAULT_EXPORT_STREAMS;
    c->sync = STORE_SYNC_NEVER;
    c->sync_interval_ms = 100;
    c->wal_recovery = STORE_WAL_STRICT;
    c->start_check = CONFIG_CHECK_FULL;
    c->catch_up_ms = 1000;
    c->block_cache_mb = 256;
    c->row_cache_mb = 64;
    c->import_load_min_mb = LIMIT_DEFAULT_IMPORT_LOAD_MIN_MB;
    c->log_level = LOG_INFO;
    c->limits = limits_default();
}

void config_usage(FILE *out)
{
    fprintf(out, "usage: stratad [--config FILE] [--OPTION VALUE]...\n\n"
                 "Every option may also be set in the config file as `option_name = value`;\n"
                 "flags override the file.\n\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", options[i].key);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  %-24s %s\n", flag, options[i].help);
    }
    fprintf(out, "  %-24s %s\n  %-24s %s\n  %-24s %s\n  %-24s %s\n  %-24s %s\n", "--config FILE",
            "read options from FILE", "--check",
            "verify the data directory (every checksum) and exit: 0 sound, 1 damaged",
            "--version", "print the build id", "--routes",
            "print every route with the permission it needs and the roles holding it",
            "--help", "print this help");
}

int config_set(strata_config *c, const char *key, const char *value, strata_err *err)
{
    char k[64];
    size_t kl = strlen(key);
    if (kl >= sizeof k)
        return err_set(err, STRATA_INVALID_ARGUMENT, "unknown option \"%.40s...\"", key);
    for (size_t i = 0; i <= kl; i++)
        k[i] = key[i] == '-' ? '_' : key[i];
    for (size_t i = 0; i < NOPTIONS; i++) {
        const option_def *o = &options[i];
        if (strcmp(o->key, k) != 0)
            continue;
        char *field = (char *)c + o->offset;
        uint64_t u;
        switch (o->kind) {
        case OPT_STR:
            if (strlen(value) >= o->size)
                return err_set(err, STRATA_INVALID_ARGUMENT, "%s is too long", k);
            strcpy(field, value);
            return 0;
        case OPT_U32:
        case OPT_SIZE:
        case OPT_SIZE0:
        case OPT_INT:
        case OPT_PRIO: {
            bool size = o->kind == OPT_SIZE || o->kind == OPT_SIZE0;
            if (o->kind == OPT_PRIO) {
                if (text_parse_u64(slice_of(value), &u) || u > 99)
                    return err_set(err, STRATA_INVALID_ARGUMENT,
                                   "%s must be 0 (off) or a SCHED_FIFO priority 1-99, got \"%s\"",
                                   k, value);
                *(int *)field = (int)u;
                return 0;
            }
            if (text_parse_u64(slice_of(value), &u) || (u == 0 && o->kind != OPT_SIZE0) ||
                (!size && u > INT32_MAX))
                return err_set(err, STRATA_INVALID_ARGUMENT, "%s must be a %s integer, got \"%s\"",
                               k, o->kind == OPT_SIZE0 ? "non-negative" : "positive", value);
            if (size && kl > 3 && strcmp(k + kl - 3, "_mb") == 0 && u > (SIZE_MAX >> 20))
                return err_set(err, STRATA_INVALID_ARGUMENT, "%s is too large: %s MiB", k, value);
            if (o->kind == OPT_U32)
                *(uint32_t *)field = (uint32_t)u;
            else if (size)
                *(size_t *)field = (size_t)u;
            else
                *(int *)field = (int)u;
            return 0;
        }
        case OPT_ENUM: {
            char allowed[128] = "";
            for (int v = 0; o->names[v]; v++) {
                if (strcmp(value, o->names[v]) == 0) {
                    *(int *)field = v;
                    return 0;
                }
                snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                         v ? "|" : "", o->names[v]);
            }
            return err_set(err, STRATA_INVALID_ARGUMENT, "%s must be %s, got \"%s\"", k,
                           allowed, value);
        }
        }
    }
    return err_set(err, STRATA_INVALID_ARGUMENT, "unknown option \"%s\" (see --help)", key);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

int config_load_file(strata_config *c, const char *path, strata_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(err, STRATA_INVALID_ARGUMENT, "cannot read config file %s: %s", path,
                       strerror(errno));
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = err_set(err, STRATA_INVALID_ARGUMENT, "%s:%d: expected key = value", path,
                         lineno);
            break;
        }
        *eq = '\0';
        char *v = trim(eq + 1);
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v[vl - 1] = '\0';
            v++;
        }
        if ((rc = config_set(c, trim(s), v, err))) {
            err_prefix(err, "%s:%d", path, lineno);
            break;
        }
    }
    fclose(f);
    return rc;
}

int config_parse_args(strata_config *c, int argc, char **argv, bool *exit_now, strata_err *err)
{
    *exit_now = false;
    /* The config file first, wherever --config appears, so flags override it. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                return err_set(err, STRATA_INVALID_ARGUMENT, "--config needs a file");
            int rc = config_load_file(c, argv[i + 1], err);
            if (rc)
                return rc;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            config_usage(stdout);
            *exit_now = true;
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            *exit_now = true;
            return STRATA_OK;
        }
        if (strcmp(a, "--check") == 0) {
            c->check_only = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return err_set(err, STRATA_INVALID_ARGUMENT, "unexpected argument \"%s\"", a);
        const char *eq = strchr(a, '=');
        char key[64];
        const char *val;
        if (eq) {
            size_t kl = (size_t)(eq - a - 2);
            if (kl >= sizeof key)
                return err_set(err, STRATA_INVALID_ARGUMENT, "unknown option \"%s\"", a);
            memcpy(key, a + 2, kl);
            key[kl] = '\0';
            val = eq + 1;
        } else {
            if (strlen(a + 2) >= sizeof key)
                return err_set(err, STRATA_INVALID_ARGUMENT, "unknown option \"%s\"", a);
            strcpy(key, a + 2);
            if (i + 1 >= argc)
                return err_set(err, STRATA_INVALID_ARGUMENT, "%s needs a value", a);
            val = argv[++i];
        }
        if (strcmp(key, "config") == 0)
            continue;
        int rc = config_set(c, key, val, err);
        if (rc)
            return rc;
    }
    return 0;
}
