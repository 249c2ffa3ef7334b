/*
 * stratad.c - the Strata daemon: configuration, store, HTTP workers, and an
 * orderly shutdown on SIGTERM/SIGINT (stop accepting, finish requests in
 * flight, close the store).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "serving/app.h"
#include "serving/config.h"

#ifndef STRATA_BUILD_ID
#define STRATA_BUILD_ID "dev"
#endif

int main(int argc, char **argv)
{
    strata_config cfg;
    strata_err err = STRATA_ERR_INIT;
    bool exit_now = false;
    app a = {0};
    int rc = 1;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--version") == 0) {
            printf("stratad %s\n", STRATA_BUILD_ID);
            return 0;
        }
    config_defaults(&cfg);
    if (config_parse_args(&cfg, argc, argv, &exit_now, &err)) {
        fprintf(stderr, "stratad: %s\n", err.message);
        return 2;
    }
    if (exit_now)
        return 0;
    log_set_level((enum log_level)cfg.log_level);
    if (cfg.threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.threads = n > 0 ? (int)n : 2;
    }

    /* Signals are taken by sigwait in this thread only. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (mkdir(cfg.data_dir, 0750) && errno != EEXIST) {
        fprintf(stderr, "stratad: cannot create data directory %s: %s\n", cfg.data_dir,
                strerror(errno));
        return 1;
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
                              .ctx = &a};
    if (http_server_start(&ho, &a.server, &err)) {
        fprintf(stderr, "stratad: %s\n", err.message);
        goto out;
    }
    atomic_store(&a.ready, true);
    log_info("stratad %s listening on %s (port %d), data in %s, %d workers", STRATA_BUILD_ID,
             cfg.listen, http_server_port(a.server), cfg.data_dir, cfg.threads);

    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&a.ready, false);
    rc = 0;
out:
    http_server_stop(a.server);
    app_close(&a);
    err_clear(&err);
    if (rc == 0)
        log_info("stopped cleanly");
    return rc;
}
