/* kernel_bench.h: what the kernel benchmarks share (bench/conv_kernels.c,
 * bench/dense_kernels.c): the clock, the median, and the error measure of
 * one side's output against the other's.  Each times its sides taking
 * turns, call by call, so that a noisy neighbour slows them alike, and
 * reports the median. */
#ifndef BENCH_KERNEL_BENCH_H
#define BENCH_KERNEL_BENCH_H

#include <stdlib.h>
#include <time.h>

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of t[0..n) (sorts t). */
static double bench_median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* max|got - want| / max|want| over n values (the difference itself when
 * want is all zero) */
static double bench_max_rel_err(const float *got, const float *want, long n)
{
    double diff = 0, scale = 0;
    for (long i = 0; i < n; i++) {
        double d = got[i] > want[i] ? got[i] - want[i] : want[i] - got[i];
        double w = want[i] < 0 ? -want[i] : want[i];
        if (d > diff) diff = d;
        if (w > scale) scale = w;
    }
    return scale > 0 ? diff / scale : diff;
}

#endif
