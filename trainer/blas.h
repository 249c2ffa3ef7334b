/*
 * blas.h - which OpenBLAS kernels the process runs, and the fix when
 * OpenBLAS misjudges the CPU (docs/operations.md "OpenBLAS kernels").
 *
 * OpenBLAS (DYNAMIC_ARCH, as Debian builds it) chooses its kernels once, in
 * the library's constructor, before main: from the CPU's identification, or
 * from OPENBLAS_CORETYPE when that is set. Some virtual CPUs (model name
 * "Intel(R) Xeon(R) Processor", AVX-512) are not recognized by 0.3.21 and get
 * the Prescott (SSE3) kernels: training then runs ~1.7x slower. Nothing a
 * running process does can change the choice (openblas_set_num_threads only
 * sets threads), so the fix is to start again with the variable set.
 */
#ifndef STRATA_TRAINER_BLAS_H
#define STRATA_TRAINER_BLAS_H

/* The kernels in use ("Haswell", "SkylakeX", "Prescott", ...); static. */
const char *trainer_blas_core(void);

/*
 * Call early in main, before any thread or descriptor is opened that a new
 * image should not inherit. When OpenBLAS runs pre-AVX2 kernels on a CPU
 * (and OS) with AVX2 and FMA and OPENBLAS_CORETYPE is not set, set it to
 * "Haswell" and execv /proc/self/exe with argv (same pid, same arguments);
 * returns only when nothing is to be done or the exec failed. Logs nothing:
 * the outcome waits for trainer_blas_log.
 */
void trainer_blas_ensure_core(char **argv);

/* Log what trainer_blas_ensure_core found, once the daemon has started (so a
 * start refused for another reason prints only that reason): the core in use
 * at info, a re-exec that happened at info (in the new image), a misjudged CPU
 * left as it is (exec failed, or OPENBLAS_CORETYPE set to a slow core) as a
 * warning naming the fix. */
void trainer_blas_log(void);

#endif
