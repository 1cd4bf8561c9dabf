/* dense_kernels.c: the GEMMs of gan_mlp's and vae's training steps (the
 * shapes generated/gan_mlp.c and generated/vae.c call), OpenBLAS's sgemm
 * against oneDNN's dnnl_sgemm on the same operands, to decide which one
 * trainers call for dense layers (runtime/genrt_kernels.h, gemm).
 *
 *   make bench-kernels        (with bench/conv_kernels.c; THREADS=2)
 *
 * Output: one line per shape: the transposes, M N K, the median us of one
 * call of each side after WARMUP (the two take turns, call by call) with
 * its GFLOP/s (2*M*N*K), oneDNN's time over OpenBLAS's, and
 * max|onednn - openblas| / max|openblas|; then the sum over the shapes, one
 * call of each, as a step makes them. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <cblas.h>
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel_bench.h"

#define WARMUP 20
#define REPS 201

struct shape {
    char ta, tb; /* 'N' or 'T', as dnnl_sgemm takes them */
    int m, n, k;
};

/* gan_mlp (batch 64: 100 -> 256 -> 512 -> 784 and back), forward, dx, dW;
 * then vae (batch 128: 784 -> 400 -> 2x20, 20 -> 400 -> 784) */
static const struct shape shapes[] = {
    {'N', 'T', 64, 256, 100},  {'N', 'T', 64, 512, 256},  {'N', 'T', 64, 784, 512},  {'N', 'T', 64, 512, 784},
    {'N', 'T', 64, 256, 512},  {'N', 'N', 64, 512, 256},  {'N', 'N', 64, 784, 512},  {'N', 'N', 64, 256, 512},
    {'N', 'N', 64, 512, 784},  {'T', 'N', 256, 512, 64},  {'T', 'N', 512, 784, 64},  {'T', 'N', 784, 512, 64},
    {'T', 'N', 512, 256, 64},  {'T', 'N', 256, 100, 64},  {'N', 'T', 128, 400, 784}, {'N', 'T', 128, 40, 400},
    {'N', 'T', 128, 400, 20},  {'N', 'T', 128, 784, 400}, {'N', 'N', 128, 400, 784}, {'T', 'N', 784, 400, 128},
    {'T', 'N', 400, 784, 128}, {'N', 'N', 128, 400, 40},  {'T', 'N', 40, 400, 128},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof *shapes))

static float *random_floats(long n)
{
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) {
        fprintf(stderr, "dense_kernels: out of memory\n");
        exit(1);
    }
    for (long i = 0; i < n; i++)
        x[i] = (float)rand() / RAND_MAX - 0.5f;
    return x;
}

static void run_openblas(const struct shape *s, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, s->ta == 'T' ? CblasTrans : CblasNoTrans, s->tb == 'T' ? CblasTrans : CblasNoTrans,
                s->m, s->n, s->k, 1.0f, a, s->ta == 'T' ? s->m : s->k, b, s->tb == 'T' ? s->k : s->n, 0.0f, c,
                s->n);
}

static void run_onednn(const struct shape *s, const float *a, const float *b, float *c)
{
    dnnl_status_t st = dnnl_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, s->ta == 'T' ? s->m : s->k, b,
                                  s->tb == 'T' ? s->k : s->n, 0.0f, c, s->n);
    if (st != dnnl_success) {
        fprintf(stderr, "dense_kernels: dnnl_sgemm %dx%dx%d failed: status %d\n", s->m, s->n, s->k, (int)st);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1) {
        fprintf(stderr, "usage: dense_kernels [THREADS]\n");
        return 1;
    }
    omp_set_num_threads(threads);
    printf("dense GEMMs of gan_mlp and vae, %d threads: median us of %d calls each, the two taking turns\n",
           threads, REPS);
    double sum_blas = 0, sum_dnnl = 0;
    static double t_blas[REPS], t_dnnl[REPS];
    for (int i = 0; i < N_SHAPES; i++) {
        const struct shape *s = &shapes[i];
        long n_c = (long)s->m * s->n;
        float *a = random_floats((long)s->m * s->k), *b = random_floats((long)s->k * s->n);
        float *c_blas = random_floats(n_c), *c_dnnl = random_floats(n_c);
        for (int r = 0; r < WARMUP; r++) {
            run_openblas(s, a, b, c_blas);
            run_onednn(s, a, b, c_dnnl);
        }
        for (int r = 0; r < REPS; r++) {
            double t0 = bench_now();
            run_openblas(s, a, b, c_blas);
            double t1 = bench_now();
            run_onednn(s, a, b, c_dnnl);
            t_blas[r] = 1e6 * (t1 - t0);
            t_dnnl[r] = 1e6 * (bench_now() - t1);
        }
        double us_blas = bench_median(t_blas, REPS), us_dnnl = bench_median(t_dnnl, REPS);
        double mflop = 2e-6 * s->m * s->n * s->k; /* MFLOP / us = GFLOP/s / 1e3 */
        printf("%c%c %4d %4d %4d  openblas %7.1f us %6.1f GF/s  onednn %7.1f us %6.1f GF/s  x %.2f  err %.1e\n",
               s->ta, s->tb, s->m, s->n, s->k, us_blas, 1e3 * mflop / us_blas, us_dnnl, 1e3 * mflop / us_dnnl,
               us_dnnl / us_blas, bench_max_rel_err(c_dnnl, c_blas, n_c));
        sum_blas += us_blas;
        sum_dnnl += us_dnnl;
        free(a);
        free(b);
        free(c_blas);
        free(c_dnnl);
    }
    printf("all %d shapes, one call each: openblas %.1f us, onednn %.1f us, x %.3f\n", N_SHAPES, sum_blas, sum_dnnl,
           sum_dnnl / sum_blas);
    return 0;
}
