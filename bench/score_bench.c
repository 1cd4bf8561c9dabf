/* score_bench.c: times genrt_score's FD and precision/recall at the sizes
 * `X score` uses (10,000 generated against 10,000 real features).
 *
 *   make bench-score                      d = 128 and 512, n = 10,000
 *   build/score_bench N D [D ...]         other sizes
 *
 * The features are Gaussian, the generated set shifted and wider, so that
 * precision and recall are neither 0 nor 1 (coverage decided early would
 * skip work).  BLAS uses its default thread count (OPENBLAS_NUM_THREADS). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "genrt_rng.h"
#include "genrt_score.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float *features(uint64_t seed, long n, int d, double shift, double sd)
{
    struct genrt_rng r;
    genrt_rng_seed(&r, seed);
    float *x = malloc((size_t)n * d * sizeof *x);
    if (!x) {
        fprintf(stderr, "score_bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < (size_t)n * d; i++)
        x[i] = (float)(shift + sd * genrt_rng_normal(&r));
    return x;
}

static int run(long n, int d)
{
    struct genrt_err err;
    float *real = features(1, n, d, 0, 1), *fake = features(2, n, d, 0.05, 1.1);
    struct genrt_score_stats sr, sf;
    struct genrt_score_manifold mr;
    struct genrt_score_pr pr;
    double fd, t0 = now();
    if (genrt_score_stats_compute(&sr, real, n, d, &err))
        goto fail;
    double t1 = now();
    if (genrt_score_stats_compute(&sf, fake, n, d, &err) || genrt_score_fd_stats(&sr, &sf, &fd, &err))
        goto fail;
    double t2 = now();
    if (genrt_score_manifold_build(&mr, real, n, d, GENRT_SCORE_PR_K, &err))
        goto fail;
    double t3 = now();
    if (genrt_score_pr_manifold(&mr, fake, n, &pr, &err))
        goto fail;
    double t4 = now();
    printf("n=%ld d=%d: fd %.4f precision %.3f recall %.3f | reference stats %.3f s, fd %.3f s | "
           "reference manifold %.3f s, precision/recall %.3f s | total %.3f s, with cached "
           "reference %.3f s\n", n, d, fd, pr.precision, pr.recall, t1 - t0, t2 - t1, t3 - t2,
           t4 - t3, t4 - t0, (t2 - t1) + (t4 - t3));
    genrt_score_stats_free(&sr);
    genrt_score_stats_free(&sf);
    genrt_score_manifold_free(&mr);
    free(real);
    free(fake);
    return 0;
fail:
    fprintf(stderr, "score_bench: error: %s\n", err.msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: score_bench N D [D ...]\n");
        return 1;
    }
    long n = atol(argv[1]);
    for (int i = 2; i < argc; i++)
        if (run(n, atoi(argv[i])))
            return 1;
    return 0;
}
