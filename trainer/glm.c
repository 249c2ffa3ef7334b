/*
 * glm.c - log loss, softmax loss and squared loss with their gradients, on
 * OpenBLAS, chunked for threads (see glm_int.h for the determinism rule).
 *
 * Numerics: the binary loss is softplus(m) with m = z for y = 0 and -z for
 * y = 1, computed as max(m, 0) + log1p(exp(-|m|)), and its derivative
 * sign * sigmoid(m) from the same exp(-|m|): no overflow, no cancellation,
 * full relative precision for tiny losses. The exp and log1p of a block go
 * through vmath_exp_log1p (libmvec's vector functions) in one call each, the
 * rest of the pointwise work in one pass after them. The softmax loss
 * subtracts the row maximum before exponentiating (log-sum-exp).
 */
#include "trainer/glm_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "trainer/la.h"
#include "base/limits.h"
#include "trainer/vmath_int.h"

/* Rows per chunk at least this many; more for large n so there are at most
 * GLM_MAX_CHUNKS chunks, and fewer chunks when each accumulator is large (a
 * gradient of many coefficients): all of them together hold at most
 * GLM_ACC_DOUBLES doubles (32 MiB). The layout depends on n and the
 * parameter count only, never on the thread count. */
#define GLM_MIN_CHUNK_ROWS 4096u
#define GLM_MAX_CHUNKS 256u
#define GLM_ACC_DOUBLES (1u << 22)
/* Doubles of X per block: 64 KiB stays in L2 between the two passes, and
 * keeps OpenBLAS's gemv/gemm below their multithreading thresholds. */
#define GLM_BLOCK_DOUBLES 8192u

double glm_sigmoid(double z)
{
    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

void glm_softmax(double *z, size_t k)
{
    double m = z[0];
    for (size_t c = 1; c < k; c++)
        if (z[c] > m)
            m = z[c];
    double sum = 0;
    for (size_t c = 0; c < k; c++) {
        z[c] = exp(z[c] - m);
        sum += z[c];
    }
    for (size_t c = 0; c < k; c++)
        z[c] /= sum;
}

void glm_scores(size_t n, size_t p, size_t k, const double *x, const double *theta, double *out)
{
    if (n == 0)
        return;
    if (k == 1) {
        double b = theta[p];
        for (size_t i = 0; i < n; i++)
            out[i] = b;
        if (p > 0)
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)p, 1.0, x, (int)p, theta, 1, 1.0,
                        out, 1);
        return;
    }
    const double *b = theta + k * p;
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * k, b, k * sizeof *out);
    if (p > 0)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)p, 1.0, x, (int)p,
                    theta, (int)p, 1.0, out, (int)k);
}

int glm_init(glm_problem *g, trainer_task task, size_t n, size_t p, size_t k, const double *x,
             const double *y, const double *s, double l2, int threads)
{
    memset(g, 0, sizeof *g);
    g->task = task;
    g->n = n;
    g->p = p;
    g->k = k;
    g->dim = k * p + k;
    g->x = x;
    g->y = y;
    g->s = s;
    g->l2 = l2;
    g->threads = threads < 1                          ? 1
                 : threads > (int)TRAINER_MAX_THREADS ? (int)TRAINER_MAX_THREADS
                                                      : threads;
    size_t max_chunks = GLM_ACC_DOUBLES / (g->dim + 2);
    if (max_chunks > GLM_MAX_CHUNKS)
        max_chunks = GLM_MAX_CHUNKS;
    if (max_chunks < 1)
        max_chunks = 1;
    size_t chunk = GLM_MIN_CHUNK_ROWS;
    if (n / max_chunks > chunk)
        chunk = (n + max_chunks - 1) / max_chunks;
    g->chunk_rows = chunk;
    g->n_chunks = n == 0 ? 1 : (n + chunk - 1) / chunk;
    if ((size_t)g->threads > g->n_chunks)
        g->threads = (int)g->n_chunks;
    size_t pk = p * k > 0 ? p * k : 1;
    size_t b = GLM_BLOCK_DOUBLES / pk;
    g->block_rows = b < 1 ? 1 : b > 512 ? 512 : b;
    g->acc = calloc(g->n_chunks * (g->dim + 2), sizeof *g->acc);
    g->scratch_doubles = g->block_rows * k * 2 + 2 * (g->block_rows + VMATH_PAD);
    g->scratch = calloc((size_t)g->threads * g->scratch_doubles, sizeof *g->scratch);
    if (!g->acc || !g->scratch) {
        glm_free(g);
        return -1;
    }
    return 0;
}

void glm_free(glm_problem *g)
{
    free(g->acc);
    free(g->scratch);
    g->acc = g->scratch = NULL;
}

/* The pointwise part of the binary loss, element by element and without
 * reductions, so that it vectorizes: on input e = exp(-|z|), l = log1p(e);
 * on output l = s * loss, e = s when the row is not strictly correct (else
 * 0), r = s * dloss/dz. Compiled for AVX-512, AVX2 and the baseline, the
 * CPU's chosen at load; every operation is one IEEE operation (no
 * contraction in ISO C mode), so vector lanes and scalar leftovers agree. */
#if defined(__clang__)
/* clang has no optimize attribute; it vectorizes loops at -O2 by itself. */
#define POINTWISE_ATTRS __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define POINTWISE_ATTRS                                                                        \
    __attribute__((target_clones("avx512f", "avx2", "default"),                               \
                   optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math")))
#endif
POINTWISE_ATTRS static void
binary_pointwise(const double *restrict y, const double *restrict s, const double *restrict z,
                 double *restrict r, double *restrict e, double *restrict l, size_t m)
{
    for (size_t i = 0; i < m; i++) {
        double sg = y[i] > 0.5 ? -1.0 : 1.0;
        double mm = sg * z[i]; /* the margin against the true class */
        double ei = e[i];
        double sig = (mm >= 0 ? 1.0 : ei) / (1.0 + ei);
        l[i] = s[i] * ((mm >= 0 ? mm : 0) + l[i]);
        e[i] = mm >= 0 ? s[i] : 0;
        r[i] = s[i] * (sg * sig);
    }
}

/* Loss and residuals of one block of binary rows; returns the block's loss,
 * adds the weight of not-strictly-correct rows to *wrong. r_i = s_i dl/dz.
 * e and l: scratch of m rounded up to VMATH_PAD doubles each. */
static double block_binary(const double *y, const double *s, const double *z, double *r, size_t m,
                           double *e, double *l, double *wrong)
{
    size_t mp = (m + VMATH_PAD - 1) / VMATH_PAD * VMATH_PAD;
    for (size_t i = 0; i < m; i++)
        e[i] = -fabs(z[i]); /* -|margin|: the margin is z or -z */
    for (size_t i = m; i < mp; i++)
        e[i] = 0;
    vmath_exp_log1p(e, e, l, mp);
    binary_pointwise(y, s, z, r, e, l, m);
    double loss = 0, bad = 0;
    for (size_t i = 0; i < m; i++) {
        loss += l[i];
        bad += e[i];
    }
    *wrong += bad;
    return loss;
}

static double block_multi(const double *y, const double *s, double *z, size_t m, size_t k,
                          double *wrong)
{
    /* z (m x k) becomes the residual s_i (p_ic - [c == y_i]) in place. */
    double loss = 0, bad = 0;
    for (size_t i = 0; i < m; i++) {
        double *zi = z + i * k;
        size_t yi = (size_t)y[i];
        double zy = zi[yi], mx = zi[0];
        int strict = 1;
        for (size_t c = 0; c < k; c++) {
            if (zi[c] > mx)
                mx = zi[c];
            if (c != yi && zi[c] >= zy)
                strict = 0;
        }
        double sum = 0;
        for (size_t c = 0; c < k; c++) {
            zi[c] = exp(zi[c] - mx);
            sum += zi[c];
        }
        loss += s[i] * (mx + log(sum) - zy);
        double inv = s[i] / sum;
        for (size_t c = 0; c < k; c++)
            zi[c] *= inv;
        zi[yi] -= s[i];
        if (!strict)
            bad += s[i];
    }
    *wrong += bad;
    return loss;
}

static double block_squared(const double *y, const double *s, const double *z, double *r, size_t m)
{
    double loss = 0;
    for (size_t i = 0; i < m; i++) {
        double d = z[i] - y[i];
        loss += 0.5 * s[i] * d * d;
        r[i] = s[i] * d;
    }
    return loss;
}

typedef struct glm_call {
    glm_problem *g;
    const double *theta;
    int want_grad;
    int tid;
} glm_call;

static void run_chunk(glm_problem *g, const double *theta, int want_grad, size_t c, double *buf)
{
    size_t p = g->p, k = g->k, dim = g->dim;
    double *acc = g->acc + c * (dim + 2);
    memset(acc, 0, (dim + 2) * sizeof *acc);
    double *grad = acc + 2;
    size_t r0 = c * g->chunk_rows, r1 = r0 + g->chunk_rows;
    if (r1 > g->n)
        r1 = g->n;
    double *z = buf, *r = buf + g->block_rows * k;
    double *ve = r + g->block_rows * k, *vl = ve + g->block_rows + VMATH_PAD;
    const double *w = theta, *b = theta + k * p;
    for (size_t i0 = r0; i0 < r1; i0 += g->block_rows) {
        size_t m = r1 - i0 < g->block_rows ? r1 - i0 : g->block_rows;
        const double *xb = g->x + i0 * p;
        const double *yb = g->y + i0, *sb = g->s + i0;
        if (k == 1)
            for (size_t i = 0; i < m; i++)
                z[i] = b[0];
        else
            for (size_t i = 0; i < m; i++)
                for (size_t q = 0; q < k; q++)
                    z[i * k + q] = b[q];
        if (p > 0) {
            if (k == 1)
                cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)p, 1.0, xb, (int)p, w, 1, 1.0,
                            z, 1);
            else
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)p, 1.0,
                            xb, (int)p, w, (int)p, 1.0, z, (int)k);
        }
        /* While this block's losses are computed, have the next block of X
         * fetched: the pointwise work then overlaps the memory stream
         * instead of alternating with it. */
        if (i0 + m < r1) {
            size_t next = r1 - (i0 + m) < g->block_rows ? r1 - (i0 + m) : g->block_rows;
            const char *nb = (const char *)(g->x + (i0 + m) * p);
            size_t bytes = next * p * sizeof(double);
            /* four lines a step (a prefetch past the end cannot fault) */
            for (size_t off = 0; off < bytes; off += 256) {
                __builtin_prefetch(nb + off, 0, 3);
                __builtin_prefetch(nb + off + 64, 0, 3);
                __builtin_prefetch(nb + off + 128, 0, 3);
                __builtin_prefetch(nb + off + 192, 0, 3);
            }
        }
        double loss;
        const double *res;
        if (g->task == TRAINER_MULTICLASS) {
            loss = block_multi(yb, sb, z, m, k, &acc[1]);
            res = z;
        } else if (g->task == TRAINER_BINARY) {
            loss = block_binary(yb, sb, z, r, m, ve, vl, &acc[1]);
            res = r;
        } else {
            loss = block_squared(yb, sb, z, r, m);
            res = r;
        }
        acc[0] += loss;
        if (!want_grad)
            continue;
        if (p > 0) {
            if (k == 1)
                cblas_dgemv(CblasRowMajor, CblasTrans, (int)m, (int)p, 1.0, xb, (int)p, res, 1, 1.0,
                            grad, 1);
            else
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)p, (int)m, 1.0,
                            res, (int)k, xb, (int)p, 1.0, grad, (int)p);
        }
        double *gb = grad + k * p;
        if (k == 1)
            for (size_t i = 0; i < m; i++)
                gb[0] += res[i];
        else
            for (size_t i = 0; i < m; i++)
                for (size_t q = 0; q < k; q++)
                    gb[q] += res[i * k + q];
    }
}

/* Threads take chunks first come, first served (one may be slowed by the
 * other's memory traffic); which thread ran a chunk changes nothing, since
 * every chunk has its own accumulator. */
static void *worker(void *arg)
{
    glm_call *call = arg;
    glm_problem *g = call->g;
    double *buf = g->scratch + (size_t)call->tid * g->scratch_doubles;
    for (;;) {
        size_t c = atomic_fetch_add(&g->next_chunk, 1);
        if (c >= g->n_chunks)
            break;
        run_chunk(g, call->theta, call->want_grad, c, buf);
    }
    return NULL;
}

double glm_eval(glm_problem *g, const double *theta, double *grad, double *wrong)
{
    int T = g->threads;
    glm_call calls[TRAINER_MAX_THREADS];
    pthread_t tids[TRAINER_MAX_THREADS];
    int started[TRAINER_MAX_THREADS] = {0};
    atomic_store(&g->next_chunk, 0);
    for (int t = 0; t < T; t++) {
        calls[t].g = g;
        calls[t].theta = theta;
        calls[t].want_grad = grad != NULL;
        calls[t].tid = t;
    }
    for (int t = 1; t < T; t++)
        started[t] = pthread_create(&tids[t], NULL, worker, &calls[t]) == 0;
    /* This thread works too; chunks a thread could not start for are simply
     * taken by the others. */
    worker(&calls[0]);
    for (int t = 1; t < T; t++)
        if (started[t])
            pthread_join(tids[t], NULL);

    size_t dim = g->dim, kp = g->k * g->p;
    double f = 0, bad = 0;
    if (grad)
        memset(grad, 0, dim * sizeof *grad);
    for (size_t c = 0; c < g->n_chunks; c++) {
        const double *acc = g->acc + c * (dim + 2);
        f += acc[0];
        bad += acc[1];
        if (grad)
            cblas_daxpy((int)dim, 1.0, acc + 2, 1, grad, 1);
    }
    if (g->l2 > 0) {
        double ww = cblas_ddot((int)kp, theta, 1, theta, 1);
        f += 0.5 * g->l2 * ww;
        if (grad)
            cblas_daxpy((int)kp, g->l2, theta, 1, grad, 1);
    }
    if (wrong)
        *wrong = bad;
    return f;
}
