/*
 * stratad.c - the Strata daemon: configuration, store, HTTP workers, and an
 * orderly shutdown on SIGTERM/SIGINT (stop accepting, finish requests in
 * flight, close the store). Also `stratad --check` (verify a data directory
 * and exit) and read replicas (--secondary-of: no jobs, no schedules, reads
 * only).
 *
 * The main thread only waits for signals. Once a second (LIMIT_TOKEN_RELOAD_S)
 * it also stats the token file and reloads it when it changed; SIGHUP reloads
 * at once. Workers never make a syscall for authentication.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serving/auth/gate.h"
#include "base/log.h"
#include "base/procmem.h"
#include "base/timeutil.h"
#include "trainer/blas.h"
#include "serving/app.h"
#include "serving/config.h"
#include "serving/tls.h"

#include "strata_build_id.h" /* STRATA_BUILD_ID, written at build time */
#ifndef STRATA_ROCKSDB_BUILD
#define STRATA_ROCKSDB_BUILD "RocksDB"
#endif

/* stratad --check: open read-only, read every record with checksums verified.
 * One line on stdout or stderr; 0 sound, 1 damaged or unreadable. */
static int check_data_dir(const strata_config *cfg)
{
    strata_err err = STRATA_ERR_INIT;
    store_t *st = NULL;
    uint64_t n = 0;
    store_options so = {.path = cfg->data_dir,
                        .read_only = true,
                        .wal_recovery = cfg->wal_recovery,
                        .block_cache_bytes = (size_t)8 << 20};
    int rc = store_open(&so, &st, &err);
    if (rc == 0)
        rc = store_verify(st, &n, &err);
    store_close(st);
    if (rc) {
        fprintf(stderr, "stratad: %s\n", err.message);
        err_clear(&err);
        return 1;
    }
    printf("stratad: data directory %s is sound (%llu records read, every checksum verified)\n",
           cfg->data_dir, (unsigned long long)n);
    return 0;
}

/* Whether the listen address only reaches this machine. */
static bool loopback_only(const char *listen)
{
    return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "localhost:", 10) == 0 ||
           strncmp(listen, "[::1]:", 6) == 0;
}

static pthread_t main_thread;

/* SIGINT, SIGTERM and SIGHUP are blocked in every thread stratad starts and
 * taken by sigtimedwait in the main thread. But OpenBLAS starts its thread pool
 * from its library constructor, before main, with nothing blocked: a signal the
 * kernel hands to one of those threads took its default action there and ended
 * the daemon (a burst of SIGHUPs did, exit 129). Handled there instead, it is
 * sent on to the main thread. pthread_kill is async-signal-safe. */
static void forward_to_main(int sig)
{
    int saved = errno;
    pthread_kill(main_thread, sig);
    errno = saved;
}

/* Reload the token file when it changed (force: SIGHUP). */
static void reload_tokens(app *a, bool force)
{
    strata_err err = STRATA_ERR_INIT;
    int r = auth_gate_reload(a->auth, force, &err);
    if (r < 0)
        log_error("token file not reloaded, the previous tokens stay in force: %s", err.message);
    else if (r > 0) {
        auth_counts c;
        auth_gate_counts(a->auth, &c);
        log_info("token file reloaded: %llu tokens", (unsigned long long)c.tokens);
    }
    err_clear(&err);
}

int main(int argc, char **argv)
{
    strata_config cfg;
    strata_err err = STRATA_ERR_INIT;
    bool exit_now = false;
    app a = {0};
    int rc = 1;

    struct ssl_ctx_st *tls = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("stratad %s (%s)\n", STRATA_BUILD_ID, STRATA_ROCKSDB_BUILD);
            return 0;
        }
        if (strcmp(argv[i], "--routes") == 0) {
            app_route_print(stdout);
            return 0;
        }
    }
    config_defaults(&cfg);
    if (config_parse_args(&cfg, argc, argv, &exit_now, &err)) {
        fprintf(stderr, "stratad: %s\n", err.message);
        return 2;
    }
    if (exit_now)
        return 0;
    log_set_level((enum log_level)cfg.log_level);
    if (cfg.check_only)
        return check_data_dir(&cfg);
    /* Before any thread or descriptor: this may exec the binary again. */
    trainer_blas_ensure_core(argv);
    /* Before any thread: a flushed memtable's memory goes back to the system
     * (base/procmem.h). Refused only by an allocator that is not glibc's
     * (ASan's, for one), which has its own ways. */
    if (procmem_tune_allocator() != 0)
        log_debug("allocator: mmap threshold not set (not glibc's malloc?)");
    bool replica = cfg.secondary_of[0] != '\0';
    if (cfg.threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.threads = n > 0 ? (int)n : 2;
    }

    /* Signals are taken by sigtimedwait in this thread only (forward_to_main). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    main_thread = pthread_self();
    struct sigaction fwd = {.sa_handler = forward_to_main, .sa_flags = SA_RESTART};
    fwd.sa_mask = sigs;
    sigaction(SIGINT, &fwd, NULL);
    sigaction(SIGTERM, &fwd, NULL);
    sigaction(SIGHUP, &fwd, NULL);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Tokens and TLS first: a daemon that would run less protected than
     * configured must not start at all. */
    if (auth_gate_open(cfg.token_file, &a.auth, &err)) {
        fprintf(stderr, "stratad: %s\n", err.message);
        goto out;
    }
    if ((cfg.tls_cert[0] || cfg.tls_key[0]) &&
        tls_server_ctx_new(cfg.tls_cert, cfg.tls_key, &tls, &err)) {
        fprintf(stderr, "stratad: %s\n", err.message);
        goto out;
    }
    if (!loopback_only(cfg.listen) && !auth_gate_enforcing(a.auth))
        log_warn("listening on %s with no token file: anyone who can reach it may do "
                 "everything (set --token-file)",
                 cfg.listen);
    else if (!loopback_only(cfg.listen) && !tls)
        log_warn("listening on %s without TLS: bearer tokens cross the network in plaintext "
                 "(set --tls-cert and --tls-key)",
                 cfg.listen);

    /* Nothing the daemon writes is for others: RocksDB's files, checkpoints
     * (a full copy of the data), rejects files (they quote rejected values)
     * and exports are created with the library's or fopen's default modes,
     * which the umask alone narrows. Group read stays, as for 0640/0750. */
    umask(027);
    if (mkdir(cfg.data_dir, 0750) && errno != EEXIST) {
        fprintf(stderr, "stratad: cannot create data directory %s: %s\n", cfg.data_dir,
                strerror(errno));
        goto out;
    }
    if (app_open(&cfg, STRATA_BUILD_ID, &a, &err)) {
        fprintf(stderr, "stratad: %s\n", err.message);
        goto out;
    }
    http_server_options ho = {.listen = cfg.listen,
                              .threads = cfg.threads,
                              .limits = cfg.limits,
                              .router = app_route,
                              .after = app_after_request,
                              .observer = app_observe,
                              .ctx = &a,
                              .tls = tls,
                              .rt_priority = cfg.worker_rt_priority};
    if (http_server_start(&ho, &a.server, &err)) {
        fprintf(stderr, "stratad: %s\n", err.message);
        goto out;
    }
    atomic_store(&a.ready, true);
    log_info("stratad %s listening on %s (port %d, %s), data in %s, %d workers, %s",
             STRATA_BUILD_ID, cfg.listen, http_server_port(a.server), tls ? "https" : "http",
             replica ? cfg.secondary_of : cfg.data_dir, cfg.threads,
             auth_gate_enforcing(a.auth) ? "tokens required" : "open: no token file");
    if (cfg.worker_rt_priority > 0)
        log_info("HTTP workers run under SCHED_FIFO, priority %d", cfg.worker_rt_priority);
    log_info("storage: %s", STRATA_ROCKSDB_BUILD);
    if (replica)
        log_info("read-only replica of %s, catching up every %u ms", cfg.secondary_of,
                 cfg.catch_up_ms);
    trainer_blas_log();

    int sig = 0;
    for (;;) {
        struct timespec tick = {LIMIT_TOKEN_RELOAD_S, 0};
        sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        reload_tokens(&a, sig == SIGHUP);
    }
    log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&a.ready, false);
    rc = 0;
out:
    http_server_stop(a.server);
    app_close(&a);
    auth_gate_close(a.auth);
    tls_server_ctx_free(tls);
    err_clear(&err);
    if (rc == 0)
        log_info("stopped cleanly");
    return rc;
}
