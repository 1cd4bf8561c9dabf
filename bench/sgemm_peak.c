/* sgemm_peak.c: the OpenBLAS sgemm ceiling that bench/run.sh divides genc's
 * GFLOP/s by.  Times C = A*B on square sizes 512..2048 and prints the best
 * rate over all sizes and repetitions, on the thread count genc trains with.
 *
 *   sgemm_peak [THREADS]      (default 2)
 *
 * Output, one "key value" pair per line, for scripts:
 *   core Haswell
 *   threads 2
 *   size 512 gflops 123.4     (one line per size, its best repetition)
 *   peak_gflops 150.2
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MIN_SIZE 512
#define MAX_SIZE 2048
#define SIZE_STEP 256
#define REPS 5           /* timed calls per size; the fastest counts */
#define ALIGN 64         /* one cache line, the widest vector load */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_matrix(int n)
{
    size_t bytes = (size_t)n * (size_t)n * sizeof(float);
    bytes = (bytes + ALIGN - 1) / ALIGN * ALIGN;
    float *p = aligned_alloc(ALIGN, bytes);
    if (!p) {
        fprintf(stderr, "sgemm_peak: out of memory for %dx%d\n", n, n);
        exit(1);
    }
    return p;
}

/* Values in [-1, 1): random enough that no denormals or zeros short-cut
 * anything, and the products stay far from overflow. */
static void fill(float *p, size_t n, unsigned *state)
{
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        p[i] = (float)(*state >> 8) / (float)(1u << 23) - 1.0f;
    }
}

int main(int argc, char **argv)
{
    int threads = 2;
    if (argc > 2 || (argc == 2 && (threads = atoi(argv[1])) < 1)) {
        fprintf(stderr, "usage: sgemm_peak [THREADS]\n");
        return 1;
    }
    openblas_set_num_threads(threads);
    printf("core %s\n", openblas_get_corename());
    printf("threads %d\n", threads);

    float *a = alloc_matrix(MAX_SIZE), *b = alloc_matrix(MAX_SIZE), *c = alloc_matrix(MAX_SIZE);
    unsigned state = 1;
    fill(a, (size_t)MAX_SIZE * MAX_SIZE, &state);
    fill(b, (size_t)MAX_SIZE * MAX_SIZE, &state);

    double peak = 0.0;
    for (int n = MIN_SIZE; n <= MAX_SIZE; n += SIZE_STEP) {
        /* The untimed first call starts OpenBLAS's threads and faults in C. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n);
        double best = 1e30;
        for (int r = 0; r < REPS; r++) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                        0.0f, c, n);
            double dt = now() - t0;
            if (dt < best)
                best = dt;
        }
        double gflops = 2.0 * n * n * (double)n / best * 1e-9;
        printf("size %d gflops %.1f\n", n, gflops);
        if (gflops > peak)
            peak = gflops;
    }
    printf("peak_gflops %.1f\n", peak);
    free(a);
    free(b);
    free(c);
    return 0;
}
