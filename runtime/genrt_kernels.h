/* genrt_kernels.h: small numeric kernels that emitted code calls.
 *
 * Include after defining the scalar type `real` (float, or double for
 * gradient checks); everything here is static inline, so the C compiler
 * specializes each call to its constant sizes.  Tests include it the same
 * way to check the optimizers against hand-computed steps. */
#ifndef GENRT_KERNELS_H
#define GENRT_KERNELS_H

#include <cblas.h>
#include <math.h>
#include <stddef.h>

#include "genrt_hash.h"

/* The loops emitted code splits over the trainer's threads (--threads)
 * when built with -fopenmp, as make builds trainers; without it they run
 * on one.  Every split loop gives each thread whole rows, images or
 * channels of its output, so results do not depend on the thread count. */
#ifdef _OPENMP
#define PARALLEL_FOR _Pragma("omp parallel for schedule(static)")
/* in a kernel below, whose length is its parameter n; 16384 is the
 * emitter's EMIT_PAR_MIN (compiler/emit/emit.h) */
#define PARALLEL_FOR_N _Pragma("omp parallel for schedule(static) if (n >= 16384)")
#else
#define PARALLEL_FOR
#define PARALLEL_FOR_N
#endif

/* GENC_DNNL=1 (make NAME sets it, and links -ldnnl): convolutions run on
 * oneDNN when genrt_dnnl() is on, else, and in the double build, on
 * im2col and gemm (genrt_dnnl.h). */
#ifndef GENC_DNNL
#define GENC_DNNL 0
#endif
#ifdef GENC_DOUBLE
#undef GENC_DNNL
#define GENC_DNNL 0
#endif
#if GENC_DNNL
#include "genrt_dnnl.h"
#endif

/* C = op(A) op(B), row-major: through oneDNN's dnnl_sgemm when it is on
 * (float only), else OpenBLAS. */
static inline void gemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
                        const real *a, int lda, const real *b, int ldb, real *c, int ldc) {
#if GENC_DNNL
    if (genrt_dnnl()) {
        genrt_sgemm(ta == CblasTrans, tb == CblasTrans, m, n, k, (const float *)a, lda, (const float *)b, ldb,
                    (float *)c, ldc);
        return;
    }
#endif
    if (sizeof(real) == sizeof(double))
        cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, (const double *)a, lda, (const double *)b, ldb,
                    0.0, (double *)c, ldc);
    else
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, (const float *)a, lda, (const float *)b, ldb,
                    0.0f, (float *)c, ldc);
}

/* log(1 + e^x) without overflow; in real's precision when the includer
 * has <tgmath.h>, as emitted code does */
static inline real softplus(real x) {
    real ax = x < 0 ? -x : x;
    return (x > 0 ? x : 0) + log1p(exp(-ax));
}

/* Adam as PyTorch's torch.optim.Adam (L2 weight decay added to the
 * gradient); t is this parameter's step count, from 1. */
static inline void adam_update(real *p, const real *g, real *m, real *v, long n, real lr, real beta1,
                               real beta2, real eps, real weight_decay, long t) {
    real bc1 = (real)(1 - pow((double)beta1, (double)t));
    real bc2 = (real)(1 - pow((double)beta2, (double)t));
    real step = lr / bc1;
    real sbc2 = (real)sqrt((double)bc2);
    PARALLEL_FOR_N
    for (long i = 0; i < n; i++) {
        real gi = g[i] + weight_decay * p[i];
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        p[i] -= step * m[i] / (sqrt(v[i]) / sbc2 + eps);
    }
}

/* SGD as torch.optim.SGD (dampening 0): buf may be NULL when momentum is 0. */
static inline void sgd_update(real *p, const real *g, real *buf, long n, real lr, real momentum,
                              real weight_decay, int nesterov) {
    PARALLEL_FOR_N
    for (long i = 0; i < n; i++) {
        real d = g[i] + weight_decay * p[i];
        if (buf) {
            buf[i] = momentum * buf[i] + d;
            d = nesterov ? d + momentum * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

/* Batchnorm's running statistics, as torch.nn.BatchNorm: the variance kept
 * is the unbiased one (unbias = R / (R - 1) for R values per channel). */
static inline void bn_running_update(real *rmean, real *rvar, const real *mean, const real *var, long c,
                                     real momentum, real unbias) {
    for (long i = 0; i < c; i++) {
        rmean[i] = (1 - momentum) * rmean[i] + momentum * mean[i];
        rvar[i] = (1 - momentum) * rvar[i] + momentum * var[i] * unbias;
    }
}

/* RMSprop as torch.optim.RMSprop: gavg (centered) and buf (momentum > 0)
 * may be NULL. */
static inline void rmsprop_update(real *p, const real *g, real *v, real *gavg, real *buf, long n, real lr,
                                  real alpha, real eps, real weight_decay, real momentum) {
    PARALLEL_FOR_N
    for (long i = 0; i < n; i++) {
        real gi = g[i] + weight_decay * p[i];
        v[i] = alpha * v[i] + (1 - alpha) * gi * gi;
        real avg;
        if (gavg) {
            gavg[i] = alpha * gavg[i] + (1 - alpha) * gi;
            avg = (real)sqrt(v[i] - gavg[i] * gavg[i]) + eps;
        } else {
            avg = (real)sqrt(v[i]) + eps;
        }
        if (buf) {
            buf[i] = momentum * buf[i] + gi / avg;
            p[i] -= lr * buf[i];
        } else {
            p[i] -= lr * gi / avg;
        }
    }
}

/* DiffAugment's translation of images x[n, h, w, c] (compiler/ops.c,
 * ref_translate): each example by its own offsets, zero where they leave
 * the image; sign -1 moves back (the adjoint).  Example b draws as example
 * rank_row(b, per, total, row0) (genrt_hash.h): b itself but in a --mpi step. */
static inline void translate_images(const real *x, real *y, long n, long h, long w, long c, long sh, long sw, long t,
                                    int salt, int sign, long row0, long per, long total) {
    for (long b = 0; b < n; b++) {
        long g = rank_row(b, per, total, row0);
        long ti = sign * hash_shift(t, salt, g, 0, sh), tj = sign * hash_shift(t, salt, g, 1, sw);
        for (long i = 0; i < h; i++)
            for (long j = 0; j < w; j++) {
                long si = i + ti, sj = j + tj;
                real *yo = y + ((b * h + i) * w + j) * c;
                if (si < 0 || si >= h || sj < 0 || sj >= w) {
                    for (long k = 0; k < c; k++)
                        yo[k] = 0;
                } else {
                    const real *xi = x + ((b * h + si) * w + sj) * c;
                    for (long k = 0; k < c; k++)
                        yo[k] = xi[k];
                }
            }
    }
}

/* WGAN's weight clipping */
static inline void clip_update(real *p, long n, real c) {
    PARALLEL_FOR_N
    for (long i = 0; i < n; i++)
        p[i] = p[i] < -c ? -c : p[i] > c ? c : p[i];
}

/* spectral_norm's power iteration on W [rows, cols] (compiler/ops.c,
 * ref_sn_power): c = normalize(W^T r), then r = normalize(W c), or the other
 * way round; sums in double, as the vectors are short and the weights wide */
static inline void sn_normalize(real *x, long n) {
    double s = 0;
    for (long i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    s = sqrt(s);
    s = s > 1e-12 ? s : 1e-12;
    for (long i = 0; i < n; i++)
        x[i] = (real)(x[i] / s);
}

static inline void sn_power_update(const real *w, real *r, real *c, long rows, long cols, int rows_first) {
    for (int pass = 0; pass < 2; pass++) {
        if ((pass == 0) != (rows_first != 0)) {
            for (long j = 0; j < cols; j++)
                c[j] = 0;
            for (long i = 0; i < rows; i++)
                for (long j = 0; j < cols; j++)
                    c[j] += w[i * cols + j] * r[i];
            sn_normalize(c, cols);
        } else {
            for (long i = 0; i < rows; i++) {
                double s = 0;
                for (long j = 0; j < cols; j++)
                    s += (double)w[i * cols + j] * c[j];
                r[i] = (real)s;
            }
            sn_normalize(r, rows);
        }
    }
}

/* a parameter's moving average, after its step: avg = d avg + (1 - d) p */
static inline void ema_update(const real *p, real *avg, long n, real d) {
    PARALLEL_FOR_N
    for (long i = 0; i < n; i++)
        avg[i] = d * avg[i] + ((real)1 - d) * p[i];
}

#endif
