/*
 * train_bench.c - the Strata side of bench/train (see run.sh there).
 *
 *   train_bench gen DIR [--rows N] [--eval-rows M] [--features P] [--seed S]
 *       writes the data set every contestant reads, as raw little-endian
 *       float64: DIR/train_x.f64 (N x P, row-major), train_y.f64 (0/1),
 *       eval_x.f64, eval_y.f64, and DIR/meta.txt ("rows eval_rows features").
 *       Features: N(0,1) plus a shared factor (correlated columns, so the
 *       problem is not trivially conditioned) and per-column scales 0.5..2;
 *       labels from a logistic model with ~30% positives.
 *   train_bench libsvm DIR
 *       writes DIR/train.svm, the same training rows as LIBLINEAR text.
 *   train_bench blas
 *       prints the OpenBLAS core in use ("core=Haswell threads=2").
 *   train_bench strata DIR [--l2 L] [--tol T] [--rel-tol R] [--max-iter K]
 *                          [--threads T] [--out FILE]
 *       fits binary logistic regression (L-BFGS) on the training rows and
 *       prints one line "seconds=... iterations=... evaluations=...
 *       objective=... eval_auc=..."; --out writes w (P doubles) then b.
 *
 * Only the fit is timed (clock_gettime(CLOCK_MONOTONIC) around trainer_fit):
 * reading the files is not part of any contestant's figure.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cblas.h>

#include "trainer/metrics.h"
#include "trainer/model.h"
#include "trainer/rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "train_bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

static void path_of(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *dir, const char *name, const double *v, size_t n)
{
    char p[4096];
    path_of(p, sizeof p, dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n || fclose(f) != 0)
        die("cannot write %s", p);
}

static double *read_file(const char *dir, const char *name, size_t n)
{
    char p[4096];
    path_of(p, sizeof p, dir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        die("cannot open %s", p);
    double *v = malloc(n * sizeof *v);
    if (!v)
        die("out of memory reading %s", p);
    if (fread(v, sizeof *v, n, f) != n)
        die("short file %s", p);
    fclose(f);
    return v;
}

static void read_meta(const char *dir, size_t *rows, size_t *eval_rows, size_t *features)
{
    char p[4096];
    path_of(p, sizeof p, dir, "meta.txt");
    FILE *f = fopen(p, "r");
    if (!f || fscanf(f, "%zu %zu %zu", rows, eval_rows, features) != 3)
        die("cannot read %s", p);
    fclose(f);
}

static double normal(trainer_rng *r)
{
    double u = trainer_rng_uniform(r), v = trainer_rng_uniform(r);
    return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

static void gen_rows(trainer_rng *r, size_t n, size_t p, const double *beta, const double *scale,
                     double *x, double *y)
{
    for (size_t i = 0; i < n; i++) {
        double shared = normal(r), z = -1.0;
        for (size_t j = 0; j < p; j++) {
            double v = scale[j] * (normal(r) + 0.5 * shared);
            x[i * p + j] = v;
            z += beta[j] * v;
        }
        y[i] = trainer_rng_uniform(r) < 1 / (1 + exp(-z)) ? 1 : 0;
    }
}

static int cmd_gen(const char *dir, size_t rows, size_t eval_rows, size_t p, uint64_t seed)
{
    mkdir(dir, 0755);
    trainer_rng r;
    trainer_rng_seed(&r, seed);
    double *beta = calloc(p, sizeof *beta), *scale = calloc(p, sizeof *scale);
    for (size_t j = 0; j < p; j++) {
        beta[j] = 0.25 * normal(&r);
        scale[j] = 0.5 + 1.5 * trainer_rng_uniform(&r);
    }
    double *x = malloc(rows * p * sizeof *x), *y = malloc(rows * sizeof *y);
    if (!x || !y)
        die("out of memory for %s", "the training rows");
    gen_rows(&r, rows, p, beta, scale, x, y);
    write_file(dir, "train_x.f64", x, rows * p);
    write_file(dir, "train_y.f64", y, rows);
    gen_rows(&r, eval_rows, p, beta, scale, x, y);
    write_file(dir, "eval_x.f64", x, eval_rows * p);
    write_file(dir, "eval_y.f64", y, eval_rows);
    char pth[4096];
    path_of(pth, sizeof pth, dir, "meta.txt");
    FILE *f = fopen(pth, "w");
    if (!f)
        die("cannot write %s", pth);
    fprintf(f, "%zu %zu %zu\n", rows, eval_rows, p);
    fclose(f);
    free(x);
    free(y);
    free(beta);
    free(scale);
    return 0;
}

static int cmd_libsvm(const char *dir)
{
    size_t rows, eval_rows, p;
    read_meta(dir, &rows, &eval_rows, &p);
    double *x = read_file(dir, "train_x.f64", rows * p), *y = read_file(dir, "train_y.f64", rows);
    char pth[4096];
    path_of(pth, sizeof pth, dir, "train.svm");
    FILE *f = fopen(pth, "w");
    if (!f)
        die("cannot write %s", pth);
    for (size_t i = 0; i < rows; i++) {
        fputs(y[i] > 0.5 ? "1" : "0", f);
        for (size_t j = 0; j < p; j++)
            fprintf(f, " %zu:%.17g", j + 1, x[i * p + j]);
        fputc('\n', f);
    }
    if (fclose(f) != 0)
        die("cannot write %s", pth);
    free(x);
    free(y);
    return 0;
}

static int cmd_strata(const char *dir, double l2, double tol, double rel_tol, int max_iter,
                      int threads, const char *out)
{
    size_t rows, eval_rows, p;
    read_meta(dir, &rows, &eval_rows, &p);
    double *x = read_file(dir, "train_x.f64", rows * p), *y = read_file(dir, "train_y.f64", rows);
    double *ex = read_file(dir, "eval_x.f64", eval_rows * p);
    double *ey = read_file(dir, "eval_y.f64", eval_rows);
    trainer_params P;
    trainer_params_default(&P);
    P.l2 = l2;
    P.tolerance = tol;
    P.rel_objective_tol = rel_tol;
    P.max_iterations = max_iter;
    P.early_stop = false;
    P.threads = threads;
    trainer_data d = {rows, p, x, y, NULL, NULL};
    trainer_model *m = NULL;
    strata_err err = STRATA_ERR_INIT;
    double t0 = now();
    int rc = trainer_fit(TRAINER_BINARY, 2, &d, NULL, &P, &m, &err);
    double secs = now() - t0;
    if (rc)
        die("fit failed: %s", err.message);
    double *pr = malloc(eval_rows * sizeof *pr), auc = 0;
    if (!pr || trainer_predict(m, ex, eval_rows, pr, &err) ||
        metrics_roc_auc(ey, pr, NULL, eval_rows, &auc, &err))
        die("scoring failed: %s", err.message);
    const trainer_fit_info *fi = trainer_model_info(m);
    printf("seconds=%.4f iterations=%d evaluations=%d objective=%.17g eval_auc=%.6f stop=\"%s\"\n",
           secs, fi->iterations, fi->evaluations, fi->objective, auc, fi->stop_reason);
    if (out) {
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(trainer_model_coef(m), sizeof(double), p, f) != p ||
            fwrite(trainer_model_intercept(m), sizeof(double), 1, f) != 1 || fclose(f) != 0)
            die("cannot write %s", out);
    }
    trainer_model_destroy(m);
    free(x);
    free(y);
    free(ex);
    free(ey);
    free(pr);
    return 0;
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "blas") == 0) {
        printf("core=%s threads=%d\n", openblas_get_corename(), openblas_get_num_threads());
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: train_bench gen|libsvm|strata DIR [options] (see the source)\n");
        return 2;
    }
    const char *cmd = argv[1], *dir = argv[2];
    if (strcmp(cmd, "gen") == 0)
        return cmd_gen(dir, strtoull(opt(argc, argv, "--rows", "1000000"), NULL, 10),
                       strtoull(opt(argc, argv, "--eval-rows", "200000"), NULL, 10),
                       strtoull(opt(argc, argv, "--features", "50"), NULL, 10),
                       strtoull(opt(argc, argv, "--seed", "1"), NULL, 10));
    if (strcmp(cmd, "libsvm") == 0)
        return cmd_libsvm(dir);
    if (strcmp(cmd, "strata") == 0)
        return cmd_strata(dir, strtod(opt(argc, argv, "--l2", "1"), NULL),
                          strtod(opt(argc, argv, "--tol", "1e-6"), NULL),
                          strtod(opt(argc, argv, "--rel-tol", "1e-9"), NULL),
                          atoi(opt(argc, argv, "--max-iter", "1000")),
                          atoi(opt(argc, argv, "--threads", "0")), opt(argc, argv, "--out", NULL));
    fprintf(stderr, "train_bench: unknown command %s\n", cmd);
    return 2;
}
