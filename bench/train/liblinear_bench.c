/*
 * liblinear_bench.c - LIBLINEAR's side of bench/train (see run.sh): the same
 * float64 files, LIBLINEAR's own train() with -s 0 (L2-regularized logistic
 * regression, primal trust-region Newton), timed around train() alone.
 *
 *   liblinear_bench DIR C EPS OUT
 *
 * LIBLINEAR's bias is a feature of value 1 (-B 1), so it is penalized like
 * the weights: 1/2 (|w|^2 + b^2) + C sum loss. With C = 1 and a million rows
 * the difference from an unpenalized intercept is far below the tolerance.
 * Built by run.sh against Debian's liblinear-dev; not part of the project.
 */
#include <linear.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void quiet(const char *s)
{
    (void)s;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: liblinear_bench DIR C EPS OUT\n");
        return 2;
    }
    char p[4096];
    size_t rows, eval_rows, nf;
    snprintf(p, sizeof p, "%s/meta.txt", argv[1]);
    FILE *f = fopen(p, "r");
    if (!f || fscanf(f, "%zu %zu %zu", &rows, &eval_rows, &nf) != 3)
        return 1;
    fclose(f);
    double *x = malloc(rows * nf * sizeof *x), *y = malloc(rows * sizeof *y);
    snprintf(p, sizeof p, "%s/train_x.f64", argv[1]);
    f = fopen(p, "rb");
    if (!f || fread(x, sizeof *x, rows * nf, f) != rows * nf)
        return 1;
    fclose(f);
    snprintf(p, sizeof p, "%s/train_y.f64", argv[1]);
    f = fopen(p, "rb");
    if (!f || fread(y, sizeof *y, rows, f) != rows)
        return 1;
    fclose(f);
    /* one node per feature, the bias node, the terminator */
    struct feature_node *nodes = malloc(rows * (nf + 2) * sizeof *nodes);
    struct feature_node **rowp = malloc(rows * sizeof *rowp);
    for (size_t i = 0; i < rows; i++) {
        struct feature_node *n = nodes + i * (nf + 2);
        rowp[i] = n;
        for (size_t j = 0; j < nf; j++) {
            n[j].index = (int)j + 1;
            n[j].value = x[i * nf + j];
        }
        n[nf].index = (int)nf + 1; /* bias */
        n[nf].value = 1;
        n[nf + 1].index = -1;
        y[i] = y[i] > 0.5 ? 1 : -1;
    }
    free(x);
    struct problem prob = {(int)rows, (int)nf + 1, y, rowp, 1.0};
    struct parameter param = {0};
    param.solver_type = L2R_LR;
    param.C = atof(argv[2]);
    param.eps = atof(argv[3]);
    set_print_string_function(quiet);
    const char *bad = check_parameter(&prob, &param);
    if (bad) {
        fprintf(stderr, "liblinear: %s\n", bad);
        return 1;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct model *m = train(&prob, &param);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    /* coefficients of label 1: LIBLINEAR's first label is the first row's */
    double sign = m->label[0] == 1 ? 1 : -1;
    f = fopen(argv[4], "wb");
    for (size_t j = 0; j <= nf; j++) {
        double w = sign * m->w[j];
        fwrite(&w, sizeof w, 1, f);
    }
    fclose(f);
    printf("seconds=%.4f\n", secs);
    free_and_destroy_model(&m);
    free(nodes);
    free(rowp);
    free(y);
    return 0;
}
