/*
 * blas.c - the OpenBLAS core check and re-exec (see blas.h).
 *
 * A marker variable, STRATA_OPENBLAS_REEXEC, carries the core OpenBLAS chose
 * first into the new image, which logs it and removes the marker; its
 * presence also stops a second exec should the forced core somehow not take.
 */
#include "trainer/blas.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cblas.h>

#include "base/log.h"

#define REEXEC_MARK "STRATA_OPENBLAS_REEXEC"
#define FAST_CORE "Haswell"

const char *trainer_blas_core(void)
{
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
}

/* Cores OpenBLAS falls back to that use no AVX2/FMA kernels. */
static bool pre_avx2(const char *core)
{
    static const char *const slow[] = {"Prescott",  "Core2",  "Penryn",     "Dunnington",
                                       "Nehalem",   "Atom",   "Katmai",     "Coppermine",
                                       "Northwood", "Banias", "Sandybridge"};
    for (size_t i = 0; i < sizeof slow / sizeof *slow; i++)
        if (strcasecmp(core, slow[i]) == 0)
            return true;
    return false;
}

static bool cpu_has_avx2_fma(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

/* The outcome, logged by trainer_blas_log once the daemon is up: a refused
 * start keeps its one line of stderr. */
static char note[384];
static bool note_warn;

#define NOTE(warn, ...) (note_warn = (warn), snprintf(note, sizeof note, __VA_ARGS__))

void trainer_blas_ensure_core(char **argv)
{
    const char *core = trainer_blas_core();
    const char *forced = getenv("OPENBLAS_CORETYPE");
    const char *first = getenv(REEXEC_MARK);
    if (first) {
        NOTE(false,
             "openblas: %s kernels (OpenBLAS chose %s on this CPU with AVX2; stratad "
             "restarted itself with OPENBLAS_CORETYPE=%s)",
             core, first, forced ? forced : "?");
        unsetenv(REEXEC_MARK);
        return;
    }
    if (!pre_avx2(core) || !cpu_has_avx2_fma()) {
        NOTE(false, "openblas: %s kernels%s%s%s", core, forced ? " (OPENBLAS_CORETYPE=" : "",
             forced ? forced : "", forced ? ")" : "");
        return;
    }
    if (forced) {
        NOTE(true,
             "openblas: %s kernels on a CPU with AVX2 because OPENBLAS_CORETYPE=%s: training "
             "runs ~1.7x slower than with OPENBLAS_CORETYPE=" FAST_CORE,
             core, forced);
        return;
    }
    if (setenv(REEXEC_MARK, core, 1) == 0 && setenv("OPENBLAS_CORETYPE", FAST_CORE, 1) == 0)
        execv("/proc/self/exe", argv);
    int e = errno;
    unsetenv(REEXEC_MARK);
    unsetenv("OPENBLAS_CORETYPE");
    NOTE(true,
         "openblas: %s kernels on a CPU with AVX2 (OpenBLAS does not recognize it) and the "
         "restart with OPENBLAS_CORETYPE=" FAST_CORE " failed (%s): training runs ~1.7x "
         "slower; set OPENBLAS_CORETYPE=" FAST_CORE " in stratad's environment",
         core, strerror(e));
}

void trainer_blas_log(void)
{
    if (!note[0])
        return;
    if (note_warn)
        log_warn("%s", note);
    else
        log_info("%s", note);
}
