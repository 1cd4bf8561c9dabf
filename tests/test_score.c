/* test_score.c: Criterion tests of genrt_score, the quality metrics.
 *
 * fd: the Fréchet distance against closed forms (diagonal covariances, the
 * 2x2 trace formula, a 3x3 Denman-Beavers square root written here), and
 * its statistics against a direct two-pass computation; pr: precision and
 * recall against exact cases and a brute-force reference; ring8 and
 * label_acc on synthetic samples; selfcheck: FD and precision/recall on
 * real Fashion-MNIST images, against noise and blurred images. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <criterion/criterion.h>

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "genrt_data.h"
#include "genrt_npy.h"
#include "genrt_rng.h"
#include "genrt_score.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* ------------------------------------------------------------- helpers */

/* n rows of d features, feature j ~ N(mean[j], sd[j]^2) (NULL: 0 and 1). */
static float *gaussian_set(uint64_t seed, long n, int d, const double *mean, const double *sd)
{
    struct genrt_rng r;
    genrt_rng_seed(&r, seed);
    float *x = malloc((size_t)n * d * sizeof *x);
    cr_assert_not_null(x);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            x[(size_t)i * d + j] =
                (float)((mean ? mean[j] : 0) + (sd ? sd[j] : 1) * genrt_rng_normal(&r));
    return x;
}

/* Stats with the given mean and covariance (copied). */
static struct genrt_score_stats make_stats(int d, const double *mean, const double *cov)
{
    struct genrt_score_stats s = {1000, d, malloc((size_t)d * sizeof(double)),
                                  malloc((size_t)d * d * sizeof(double))};
    memcpy(s.mean, mean, (size_t)d * sizeof(double));
    memcpy(s.cov, cov, (size_t)d * d * sizeof(double));
    return s;
}

static double fd_of(const struct genrt_score_stats *a, const struct genrt_score_stats *b)
{
    struct genrt_err err;
    double fd = -1;
    cr_assert_eq(genrt_score_fd_stats(a, b, &fd, &err), 0, "%s", err.msg);
    return fd;
}

static double fd_sets(const float *x, long nx, const float *y, long ny, int d)
{
    struct genrt_err err;
    double fd = -1;
    cr_assert_eq(genrt_score_fd(x, nx, y, ny, d, &fd, &err), 0, "%s", err.msg);
    return fd;
}

static void expect_close(double got, double want, double rel, const char *what)
{
    double tol = rel * (fabs(want) > 1 ? fabs(want) : 1);
    cr_expect(fabs(got - want) <= tol, "%s: got %.15g, want %.15g (tolerance %.3g)", what, got,
              want, tol);
}

/* ---- 3x3 helpers for an independent square root ---- */

static void mat3_mul(const double *a, const double *b, double *c)
{
    double t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            t[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++)
                t[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
        }
    memcpy(c, t, sizeof t);
}

static void mat3_inv(const double *a, double *inv)
{
    double c[9] = {
        a[4] * a[8] - a[5] * a[7], a[2] * a[7] - a[1] * a[8], a[1] * a[5] - a[2] * a[4],
        a[5] * a[6] - a[3] * a[8], a[0] * a[8] - a[2] * a[6], a[2] * a[3] - a[0] * a[5],
        a[3] * a[7] - a[4] * a[6], a[1] * a[6] - a[0] * a[7], a[0] * a[4] - a[1] * a[3],
    };
    double det = a[0] * c[0] + a[1] * c[3] + a[2] * c[6];
    for (int i = 0; i < 9; i++)
        inv[i] = c[i] / det;
}

/* tr(sqrtm(A)) by the Denman-Beavers iteration Y <- (Y + Z^-1)/2,
 * Z <- (Z + Y^-1)/2 from Y = A, Z = I: it converges for any matrix with
 * positive real eigenvalues, such as the product of two SPD matrices. */
static double trace_sqrtm3(const double *a)
{
    double y[9], z[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, yi[9], zi[9];
    memcpy(y, a, sizeof y);
    for (int it = 0; it < 60; it++) {
        mat3_inv(y, yi);
        mat3_inv(z, zi);
        for (int i = 0; i < 9; i++) {
            y[i] = 0.5 * (y[i] + zi[i]);
            z[i] = 0.5 * (z[i] + yi[i]);
        }
    }
    return y[0] + y[4] + y[8];
}

/* A random SPD 3x3: B B^T + 0.1 I. */
static void random_spd3(struct genrt_rng *r, double *s)
{
    double b[9], bt[9];
    for (int i = 0; i < 9; i++)
        b[i] = genrt_rng_normal(r);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            bt[i * 3 + j] = b[j * 3 + i];
    mat3_mul(b, bt, s);
    for (int i = 0; i < 3; i++)
        s[i * 4] += 0.1;
}

/* -------------------------------------------------------------------- fd */

Test(fd, stats_match_a_direct_two_pass)
{
    /* 2,500 rows: three blocks of rows, the last one partial */
    enum { N = 2500, D = 7 };
    double mean[D], sd[D];
    for (int j = 0; j < D; j++) {
        mean[j] = 100.0 * (j - 3);
        sd[j] = 0.5 + j;
    }
    float *x = gaussian_set(1, N, D, mean, sd);
    struct genrt_score_stats s;
    struct genrt_err err;
    cr_assert_eq(genrt_score_stats_compute(&s, x, N, D, &err), 0, "%s", err.msg);
    cr_assert_eq(s.n, N);
    cr_assert_eq(s.d, D);
    double m[D] = {0};
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++)
            m[j] += x[i * D + j];
    for (int j = 0; j < D; j++) {
        m[j] /= N;
        expect_close(s.mean[j], m[j], 1e-12, "mean");
    }
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double c = 0;
            for (int i = 0; i < N; i++)
                c += (x[i * D + a] - m[a]) * (x[i * D + b] - m[b]);
            c /= N - 1;
            expect_close(s.cov[a * D + b], c, 1e-10, "cov");
            cr_expect_eq(s.cov[a * D + b], s.cov[b * D + a], "cov is not symmetric");
        }
    /* and they estimate the distribution's */
    for (int j = 0; j < D; j++)
        cr_expect(fabs(s.cov[j * D + j] / (sd[j] * sd[j]) - 1) < 0.1, "var[%d] %g", j,
                  s.cov[j * D + j]);
    genrt_score_stats_free(&s);
    cr_expect_null(s.mean);
    free(x);
}

Test(fd, of_a_set_with_itself_is_zero)
{
    enum { N = 3000, D = 64 };
    float *x = gaussian_set(2, N, D, NULL, NULL);
    double fd = fd_sets(x, N, x, N, D);
    cr_expect(fd >= 0 && fd < 1e-9, "FD(x, x) = %g", fd);
    free(x);
}

Test(fd, diagonal_covariances_match_the_closed_form)
{
    enum { D = 50 };
    struct genrt_rng r;
    genrt_rng_seed(&r, 3);
    double m1[D], m2[D], c1[D * D] = {0}, c2[D * D] = {0}, want = 0;
    for (int j = 0; j < D; j++) {
        m1[j] = genrt_rng_normal(&r);
        m2[j] = genrt_rng_normal(&r);
        double s1 = 0.1 + 2 * genrt_rng_uniform(&r), s2 = 0.1 + 2 * genrt_rng_uniform(&r);
        c1[j * D + j] = s1 * s1;
        c2[j * D + j] = s2 * s2;
        want += (m1[j] - m2[j]) * (m1[j] - m2[j]) + (s1 - s2) * (s1 - s2);
    }
    struct genrt_score_stats a = make_stats(D, m1, c1), b = make_stats(D, m2, c2);
    expect_close(fd_of(&a, &b), want, 1e-10, "FD, diagonal");
    expect_close(fd_of(&b, &a), want, 1e-10, "FD, diagonal, swapped");
    /* a zero variance (a singular covariance) is fine */
    a.cov[0] = 0;
    want += -(sqrt(c2[0]) - sqrt(c1[0])) * (sqrt(c2[0]) - sqrt(c1[0])) + c2[0];
    expect_close(fd_of(&a, &b), want, 1e-10, "FD, a zero variance");
    genrt_score_stats_free(&a);
    genrt_score_stats_free(&b);
}

/* For 2x2: tr(M^1/2) = sqrt(tr M + 2 sqrt(det M)), M = S1^1/2 S2 S1^1/2,
 * tr M = tr(S1 S2), det M = det S1 det S2. */
Test(fd, two_by_two_matches_the_trace_formula)
{
    double m1[2] = {0.5, -1}, m2[2] = {2, 0.25};
    double c1[4] = {2.0, 0.7, 0.7, 1.0}, c2[4] = {0.5, -0.3, -0.3, 3.0};
    double tr12 = c1[0] * c2[0] + c1[1] * c2[2] + c1[2] * c2[1] + c1[3] * c2[3];
    double det1 = c1[0] * c1[3] - c1[1] * c1[2], det2 = c2[0] * c2[3] - c2[1] * c2[2];
    double want = (m1[0] - m2[0]) * (m1[0] - m2[0]) + (m1[1] - m2[1]) * (m1[1] - m2[1]) + c1[0] +
                  c1[3] + c2[0] + c2[3] - 2 * sqrt(tr12 + 2 * sqrt(det1 * det2));
    struct genrt_score_stats a = make_stats(2, m1, c1), b = make_stats(2, m2, c2);
    expect_close(fd_of(&a, &b), want, 1e-12, "FD 2x2");
    expect_close(fd_of(&b, &a), want, 1e-12, "FD 2x2 swapped");
    genrt_score_stats_free(&a);
    genrt_score_stats_free(&b);
}

Test(fd, three_by_three_matches_denman_beavers)
{
    struct genrt_rng r;
    genrt_rng_seed(&r, 4);
    for (int trial = 0; trial < 20; trial++) {
        double m1[3], m2[3], c1[9], c2[9], p[9];
        for (int j = 0; j < 3; j++) {
            m1[j] = genrt_rng_normal(&r);
            m2[j] = genrt_rng_normal(&r);
        }
        random_spd3(&r, c1);
        random_spd3(&r, c2);
        mat3_mul(c1, c2, p);
        double want = c1[0] + c1[4] + c1[8] + c2[0] + c2[4] + c2[8] - 2 * trace_sqrtm3(p);
        for (int j = 0; j < 3; j++)
            want += (m1[j] - m2[j]) * (m1[j] - m2[j]);
        struct genrt_score_stats a = make_stats(3, m1, c1), b = make_stats(3, m2, c2);
        expect_close(fd_of(&a, &b), want, 1e-9, "FD 3x3");
        genrt_score_stats_free(&a);
        genrt_score_stats_free(&b);
    }
}

Test(fd, is_symmetric_and_reuses_reference_stats)
{
    enum { N = 2000, D = 32 };
    double mean[D], sd[D];
    for (int j = 0; j < D; j++) {
        mean[j] = 0.1 * j;
        sd[j] = 1 + 0.05 * j;
    }
    float *x = gaussian_set(5, N, D, NULL, NULL), *y = gaussian_set(6, N + 37, D, mean, sd);
    double xy = fd_sets(x, N, y, N + 37, D), yx = fd_sets(y, N + 37, x, N, D);
    cr_expect(xy > 1, "FD %g", xy);
    expect_close(yx, xy, 1e-9, "FD(y, x) vs FD(x, y)");
    struct genrt_score_stats ref, s;
    struct genrt_err err;
    cr_assert_eq(genrt_score_stats_compute(&ref, x, N, D, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_score_stats_compute(&s, y, N + 37, D, &err), 0, "%s", err.msg);
    cr_expect_eq(fd_of(&ref, &s), xy, "stats once, then scored: the same number");
    genrt_score_stats_free(&ref);
    genrt_score_stats_free(&s);
    free(x);
    free(y);
}

Test(fd, sample_estimate_approaches_the_closed_form)
{
    enum { N = 20000, D = 4 };
    double m1[D] = {0, 0, 0, 0}, s1[D] = {1, 1, 1, 1};
    double m2[D] = {1, 0, -0.5, 0}, s2[D] = {2, 1, 0.5, 1};
    double want = 0;
    for (int j = 0; j < D; j++)
        want += (m1[j] - m2[j]) * (m1[j] - m2[j]) + (s1[j] - s2[j]) * (s1[j] - s2[j]);
    float *x = gaussian_set(7, N, D, m1, s1), *y = gaussian_set(8, N, D, m2, s2);
    double fd = fd_sets(x, N, y, N, D);
    cr_expect(fabs(fd - want) < 0.05, "sample FD %g, population %g", fd, want);
    free(x);
    free(y);
}

Test(fd, translation_invariant_and_fine_with_singular_covariances)
{
    enum { N = 1500, D = 16 };
    float *x = gaussian_set(9, N, D, NULL, NULL), *y = gaussian_set(10, N, D, NULL, NULL);
    float *xs = malloc(sizeof(float) * N * D), *ys = malloc(sizeof(float) * N * D);
    for (int i = 0; i < N * D; i++) {
        xs[i] = x[i] + 1000.0f;
        ys[i] = y[i] + 1000.0f;
    }
    /* the shifted floats are rounded to 2^-14: compare with what they hold */
    for (int i = 0; i < N * D; i++) {
        x[i] = xs[i] - 1000.0f;
        y[i] = ys[i] - 1000.0f;
    }
    double fd = fd_sets(x, N, y, N, D), fds = fd_sets(xs, N, ys, N, D);
    expect_close(fds, fd, 1e-8, "FD of the shifted sets");

    /* 10 rows of 40 features (rank 9) and a constant feature */
    enum { M = 10, E = 40 };
    float *z = gaussian_set(11, M, E, NULL, NULL);
    for (int i = 0; i < M; i++)
        z[i * E + 5] = 3.0f;
    double fz = fd_sets(z, M, z, M, E);
    cr_expect(fz >= 0 && fz < 1e-9, "FD of a rank-9 set with itself %g", fz);
    free(x);
    free(y);
    free(xs);
    free(ys);
    free(z);
}

Test(fd, rejects_bad_input)
{
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct genrt_err err;
    struct genrt_score_stats s;
    double fd;
    cr_expect_eq(genrt_score_stats_compute(&s, x, 1, 8, &err), -1);
    cr_expect_str_eq(err.msg, "FD features: a covariance needs at least 2 rows, got 1");
    cr_expect_null(s.mean);
    cr_expect_eq(genrt_score_stats_compute(&s, x, 8, 0, &err), -1);
    cr_expect_str_eq(err.msg, "FD features: need at least 1 feature per row, got 0");
    x[5] = NAN;
    cr_expect_eq(genrt_score_fd(x, 4, x, 4, 2, &fd, &err), -1);
    cr_expect_str_eq(err.msg, "FD features: row 2, feature 1 is not finite (nan)");
    x[5] = 6;
    struct genrt_score_stats a, b;
    cr_assert_eq(genrt_score_stats_compute(&a, x, 4, 2, &err), 0);
    cr_assert_eq(genrt_score_stats_compute(&b, x, 2, 4, &err), 0);
    cr_expect_eq(genrt_score_fd_stats(&a, &b, &fd, &err), -1);
    cr_expect_str_eq(err.msg, "FD: the feature sets have 2 and 4 features");
    struct genrt_score_stats empty = {0};
    cr_expect_eq(genrt_score_fd_stats(&a, &empty, &fd, &err), -1);
    cr_expect_str_eq(err.msg, "FD: the second statistics are empty");
    genrt_score_stats_free(&a);
    genrt_score_stats_free(&b);
}

/* -------------------------------------------------------------------- pr */

static struct genrt_score_pr pr_of(const float *real, long nr, const float *fake, long nf, int d,
                                   int k)
{
    struct genrt_score_pr pr = {-1, -1, -1, -1};
    struct genrt_err err;
    cr_assert_eq(genrt_score_pr(real, nr, fake, nf, d, k, &pr, &err), 0, "%s", err.msg);
    return pr;
}

static double d2_float(const float *a, const float *b, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++) {
        double v = (double)a[j] - b[j];
        s += v * v;
    }
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The kmax smallest squared distances from each row to the others, by
 * sorting them all: row i's k-NN radius^2 is out[i * kmax + k - 1]. */
static double *brute_knn(const float *x, long n, int d, int kmax)
{
    double *out = malloc(n * kmax * sizeof *out), *all = malloc(n * sizeof *all);
    for (long i = 0; i < n; i++) {
        long m = 0;
        for (long j = 0; j < n; j++)
            if (j != i)
                all[m++] = d2_float(x + i * d, x + j * d, d);
        qsort(all, m, sizeof *all, cmp_double);
        memcpy(out + i * kmax, all, kmax * sizeof *all);
    }
    free(all);
    return out;
}

/* Rows of a inside b's manifold: b's k-NN radii are rb[j * kmax + k - 1]. */
static long brute_inside(const float *a, long na, const float *b, long nb, const double *rb,
                         int kmax, int k, int d)
{
    long count = 0;
    for (long i = 0; i < na; i++)
        for (long j = 0; j < nb; j++)
            if (d2_float(a + i * d, b + j * d, d) <= rb[j * kmax + k - 1]) {
                count++;
                break;
            }
    return count;
}

Test(pr, identical_sets_are_one)
{
    enum { N = 1200, D = 8 };
    float *x = gaussian_set(20, N, D, NULL, NULL);
    struct genrt_score_pr pr = pr_of(x, N, x, N, D, GENRT_SCORE_PR_K);
    cr_expect_eq(pr.precision, 1.0, "precision %g", pr.precision);
    cr_expect_eq(pr.recall, 1.0, "recall %g", pr.recall);
    cr_expect_eq(pr.n_precise, N);
    cr_expect_eq(pr.n_recalled, N);
    free(x);
}

Test(pr, far_apart_sets_are_zero)
{
    enum { N = 800, D = 8 };
    double far[D];
    for (int j = 0; j < D; j++)
        far[j] = 50;
    float *x = gaussian_set(21, N, D, NULL, NULL), *y = gaussian_set(22, N + 100, D, far, NULL);
    struct genrt_score_pr pr = pr_of(x, N, y, N + 100, D, GENRT_SCORE_PR_K);
    cr_expect_eq(pr.precision, 0.0, "precision %g", pr.precision);
    cr_expect_eq(pr.recall, 0.0, "recall %g", pr.recall);
    free(x);
    free(y);
}

/* Real: clusters A and B; fake: exact copies of A and a far cluster C.
 * The copies are inside the real manifold and cover A, nothing else is. */
Test(pr, half_overlap_is_one_half)
{
    enum { H = 700, D = 5 };
    double mb[D], mc[D];
    for (int j = 0; j < D; j++) {
        mb[j] = 40;
        mc[j] = -40;
    }
    float *a = gaussian_set(23, H, D, NULL, NULL), *b = gaussian_set(24, H, D, mb, NULL);
    float *c = gaussian_set(25, H, D, mc, NULL);
    float *real = malloc(sizeof(float) * 2 * H * D), *fake = malloc(sizeof(float) * 2 * H * D);
    memcpy(real, a, sizeof(float) * H * D);
    memcpy(real + H * D, b, sizeof(float) * H * D);
    memcpy(fake, c, sizeof(float) * H * D); /* the copies second: order must not matter */
    memcpy(fake + H * D, a, sizeof(float) * H * D);
    struct genrt_score_pr pr = pr_of(real, 2 * H, fake, 2 * H, D, GENRT_SCORE_PR_K);
    cr_expect_eq(pr.n_precise, H);
    cr_expect_eq(pr.n_recalled, H);
    cr_expect_eq(pr.precision, 0.5);
    cr_expect_eq(pr.recall, 0.5);
    free(a);
    free(b);
    free(c);
    free(real);
    free(fake);
}

Test(pr, matches_brute_force, .timeout = 60)
{
    /* overlapping Gaussians, several blocks of rows, k = 1, 3, 5 */
    enum { NR = 2300, NF = 1100, D = 6 };
    double m[D], s[D];
    for (int j = 0; j < D; j++) {
        m[j] = j < 2 ? 0.7 : 0;
        s[j] = j == 3 ? 1.4 : 1;
    }
    float *real = gaussian_set(26, NR, D, NULL, NULL), *fake = gaussian_set(27, NF, D, m, s);
    int ks[3] = {1, 3, 5};
    double *rr = brute_knn(real, NR, D, 5), *rf = brute_knn(fake, NF, D, 5);
    for (int t = 0; t < 3; t++) {
        int k = ks[t];
        long precise = brute_inside(fake, NF, real, NR, rr, 5, k, D);
        long recalled = brute_inside(real, NR, fake, NF, rf, 5, k, D);
        struct genrt_score_pr pr = pr_of(real, NR, fake, NF, D, k);
        cr_expect_eq(pr.n_precise, precise, "k = %d: %ld precise, brute force %ld", k,
                     pr.n_precise, precise);
        cr_expect_eq(pr.n_recalled, recalled, "k = %d: %ld recalled, brute force %ld", k,
                     pr.n_recalled, recalled);
        cr_expect(precise > NF / 4 && precise < NF, "k = %d: precise %ld of %d", k, precise, NF);
        cr_expect(recalled > NR / 4 && recalled < NR, "k = %d: recalled %ld of %d", k, recalled,
                  NR);
        cr_expect_eq(pr.precision, (double)precise / NF);
        cr_expect_eq(pr.recall, (double)recalled / NR);
    }
    free(rr);
    free(rf);
    free(real);
    free(fake);
}

Test(pr, duplicates_are_at_distance_zero)
{
    /* every real point 4 times: each radius (k = 3) is 0 */
    enum { U = 300, D = 12 };
    float *u = gaussian_set(28, U, D, NULL, NULL);
    float *real = malloc(sizeof(float) * 4 * U * D), *fake = malloc(sizeof(float) * 4 * U * D);
    for (int c = 0; c < 4; c++)
        memcpy(real + c * U * D, u, sizeof(float) * U * D);
    memcpy(fake, real, sizeof(float) * 4 * U * D);
    struct genrt_score_manifold m;
    struct genrt_err err;
    cr_assert_eq(genrt_score_manifold_build(&m, real, 4 * U, D, GENRT_SCORE_PR_K, &err), 0, "%s",
                 err.msg);
    for (long i = 0; i < m.n; i++)
        cr_assert_eq(m.radius2[i], 0.0, "radius2[%ld] = %g", i, m.radius2[i]);
    struct genrt_score_pr pr;
    cr_assert_eq(genrt_score_pr_manifold(&m, fake, 4 * U, &pr, &err), 0, "%s", err.msg);
    cr_expect_eq(pr.precision, 1.0, "copies: precision %g", pr.precision);
    cr_expect_eq(pr.recall, 1.0, "copies: recall %g", pr.recall);
    /* moved by a little: outside every zero radius */
    for (int i = 0; i < 4 * U * D; i += D)
        fake[i] += 1e-3f;
    cr_assert_eq(genrt_score_pr_manifold(&m, fake, 4 * U, &pr, &err), 0, "%s", err.msg);
    cr_expect_eq(pr.precision, 0.0, "moved: precision %g", pr.precision);
    cr_expect_eq(pr.recall, 0.0, "moved: recall %g", pr.recall);
    genrt_score_manifold_free(&m);
    cr_expect_null(m.x);
    free(u);
    free(real);
    free(fake);
}

/* The radii are the exact k-th distances, also where many distances tie
 * (a lattice), crowd at 0 (16 copies of each point), or differ by less
 * than the GEMM's rounding (two tight clusters far from their mean: the
 * GEMM's candidates are noise, and the rows are redone exactly). */
Test(pr, radii_are_exact_with_ties_and_crowds)
{
    enum { N = 1600, D = 3, K = GENRT_SCORE_PR_K };
    float *sets[4];
    long ns[4] = {N, N, N, 80};
    sets[0] = gaussian_set(32, N, D, NULL, NULL);
    sets[1] = malloc(sizeof(float) * N * D); /* a 20 x 20 x 4 lattice of spacing 0.5 */
    sets[2] = malloc(sizeof(float) * N * D); /* 100 points, 16 copies each */
    float *u = gaussian_set(33, 100, D, NULL, NULL);
    for (int i = 0; i < N; i++) {
        sets[1][i * D] = 0.5f * (i % 20);
        sets[1][i * D + 1] = 0.5f * (i / 20 % 20);
        sets[1][i * D + 2] = 0.5f * (i / 400) + 7;
        memcpy(sets[2] + i * D, u + (i % 100) * D, sizeof(float) * D);
    }
    double sd[D] = {1e-3, 1e-3, 1e-3}, far[D] = {1000, 1000, 1000};
    sets[3] = gaussian_set(34, 80, D, far, sd);
    for (int i = 40 * D; i < 80 * D; i++)
        sets[3][i] -= 2000;
    for (int s = 0; s < 4; s++) {
        struct genrt_score_manifold m;
        struct genrt_err err;
        cr_assert_eq(genrt_score_manifold_build(&m, sets[s], ns[s], D, K, &err), 0, "%s", err.msg);
        double *want = brute_knn(sets[s], ns[s], D, K);
        for (long i = 0; i < ns[s]; i++)
            cr_assert_eq(m.radius2[i], want[i * K + K - 1], "set %d row %ld: radius2 %.17g, want "
                         "%.17g", s, i, m.radius2[i], want[i * K + K - 1]);
        genrt_score_manifold_free(&m);
        free(want);
        free(sets[s]);
    }
    free(u);
}

Test(pr, reference_manifold_gives_the_same_numbers)
{
    enum { N = 1500, D = 10 };
    double m[D];
    for (int j = 0; j < D; j++)
        m[j] = 0.3;
    float *real = gaussian_set(29, N, D, NULL, NULL);
    struct genrt_score_manifold ref;
    struct genrt_err err;
    cr_assert_eq(genrt_score_manifold_build(&ref, real, N, D, GENRT_SCORE_PR_K, &err), 0, "%s",
                 err.msg);
    for (int t = 0; t < 2; t++) {
        float *fake = gaussian_set(30 + t, N - 200, D, m, NULL);
        struct genrt_score_pr a = pr_of(real, N, fake, N - 200, D, GENRT_SCORE_PR_K), b;
        cr_assert_eq(genrt_score_pr_manifold(&ref, fake, N - 200, &b, &err), 0, "%s", err.msg);
        cr_expect_eq(a.n_precise, b.n_precise);
        cr_expect_eq(a.n_recalled, b.n_recalled);
        free(fake);
    }
    genrt_score_manifold_free(&ref);
    free(real);
}

Test(pr, rejects_bad_input)
{
    float x[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    struct genrt_score_pr pr;
    struct genrt_err err;
    cr_expect_eq(genrt_score_pr(x, 3, x, 6, 2, 3, &pr, &err), -1);
    cr_expect_str_eq(err.msg, "real features: k-nearest-neighbour radii needs at least 4 rows, "
                              "got 3");
    cr_expect_eq(genrt_score_pr(x, 6, x, 2, 2, 3, &pr, &err), -1);
    cr_expect_str_eq(err.msg, "generated features: k-nearest-neighbour radii needs at least 4 "
                              "rows, got 2");
    cr_expect_eq(genrt_score_pr(x, 6, x, 6, 2, 0, &pr, &err), -1);
    cr_expect_str_eq(err.msg, "precision/recall: k = 0, but the radii need k >= 1");
    x[7] = INFINITY;
    cr_expect_eq(genrt_score_pr(x, 6, x, 6, 2, 3, &pr, &err), -1);
    cr_expect_str_eq(err.msg, "real features: row 3, feature 1 is not finite (inf)");
    struct genrt_score_manifold empty = {0};
    cr_expect_eq(genrt_score_pr_manifold(&empty, x, 6, &pr, &err), -1);
    cr_expect_str_eq(err.msg, "precision/recall: the real manifold is empty");
}

/* ----------------------------------------------------------------- ring8 */

static struct genrt_score_ring8 ring8_of(const float *xy, long n)
{
    struct genrt_score_ring8 s;
    struct genrt_err err;
    cr_assert_eq(genrt_score_ring8(xy, n, &s, &err), 0, "%s", err.msg);
    return s;
}

/* n samples at mode k, N(0, sd^2) around it */
static void at_mode(struct genrt_rng *r, float *xy, long n, int k, double sd)
{
    double cx, cy;
    genrt_data_ring8_mode(k, &cx, &cy);
    for (long i = 0; i < n; i++) {
        xy[2 * i] = (float)(cx + sd * genrt_rng_normal(r));
        xy[2 * i + 1] = (float)(cy + sd * genrt_rng_normal(r));
    }
}

Test(ring8, all_modes_one_mode_and_noise)
{
    enum { N = 8000 };
    static float xy[2 * N];
    struct genrt_rng r;
    genrt_rng_seed(&r, 40);
    for (int k = 0; k < 8; k++)
        at_mode(&r, xy + 2 * k * (N / 8), N / 8, k, 0.02);
    struct genrt_score_ring8 s = ring8_of(xy, N);
    cr_expect_eq(s.modes, 8);
    cr_expect_eq(s.n_high_quality, N);
    cr_expect_eq(s.high_quality, 1.0);
    for (int k = 0; k < 8; k++)
        cr_expect_eq(s.per_mode[k], N / 8, "mode %d: %ld", k, s.per_mode[k]);

    at_mode(&r, xy, N, 3, 0.02);
    s = ring8_of(xy, N);
    cr_expect_eq(s.modes, 1);
    cr_expect_eq(s.per_mode[3], N);
    cr_expect_eq(s.high_quality, 1.0);

    /* uniform on [-3, 3]^2: 8 discs of radius 0.15 cover 1.6% of it */
    for (int i = 0; i < 2 * N; i++)
        xy[i] = (float)(6 * genrt_rng_uniform(&r) - 3);
    s = ring8_of(xy, N);
    cr_expect(s.high_quality > 0.008 && s.high_quality < 0.025, "noise: %g high quality",
              s.high_quality);
    cr_expect_eq(s.modes, 0, "noise covers %d modes", s.modes);
}

Test(ring8, real_data_are_high_quality_within_3_std)
{
    /* the loader's own samples: P(|e| <= 3 std) = 1 - exp(-9/2) = 0.9889 in 2-D */
    struct genrt_model m = {0};
    m.data_kind = GENRT_DATA_RING8;
    m.sample_size = 2;
    m.data_class = -1;
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 41, &err), 0, "%s", err.msg);
    enum { N = 20000 };
    static float xy[2 * N];
    cr_assert_eq(genrt_data_next_batch(&d, xy, N), 0);
    genrt_data_close(&d);
    struct genrt_score_ring8 s = ring8_of(xy, N);
    cr_expect_eq(s.modes, 8);
    cr_expect(fabs(s.high_quality - (1 - exp(-4.5))) < 0.004, "%g high quality", s.high_quality);
}

Test(ring8, coverage_needs_one_percent_of_the_samples)
{
    enum { N = 1000 };
    static float xy[2 * N];
    struct genrt_rng r;
    genrt_rng_seed(&r, 42);
    at_mode(&r, xy, N - 19, 0, 0.01);
    at_mode(&r, xy + 2 * (N - 19), 10, 1, 0.01); /* 1%: covered */
    at_mode(&r, xy + 2 * (N - 9), 9, 2, 0.01);   /* 0.9%: not */
    xy[0] = NAN;     /* not high quality */
    xy[2] = 2.16f;   /* 0.16 from mode 0's center (2, 0): not either */
    xy[3] = 0.0f;
    struct genrt_score_ring8 s = ring8_of(xy, N);
    cr_expect_eq(s.per_mode[0], N - 19 - 2);
    cr_expect_eq(s.per_mode[1], 10);
    cr_expect_eq(s.per_mode[2], 9);
    cr_expect_eq(s.modes, 2);
    cr_expect_eq(s.n_high_quality, N - 2);
    struct genrt_err err;
    cr_expect_eq(genrt_score_ring8(xy, 0, &s, &err), -1);
    cr_expect_str_eq(err.msg, "ring8 metrics: no samples");
}

/* ------------------------------------------------------------- label_acc */

Test(label_acc, argmax_against_requested_labels)
{
    /* 4 rows of 3 classes; row 2 ties classes 0 and 2: the first wins */
    float s[12] = {0.1f, 2, -1, /* 1 */ 5, 4, 3, /* 0 */ 7, 1, 7, /* 0 */ -3, -2, -1 /* 2 */};
    int labels[4] = {1, 0, 2, 2};
    double acc = -1;
    struct genrt_err err;
    cr_assert_eq(genrt_score_label_acc(s, 4, 3, labels, 0, &acc, &err), 0, "%s", err.msg);
    cr_expect_eq(acc, 0.75);
    cr_assert_eq(genrt_score_label_acc(s, 4, 3, NULL, 0, &acc, &err), 0, "%s", err.msg);
    cr_expect_eq(acc, 0.5);
    cr_assert_eq(genrt_score_label_acc(s, 4, 3, NULL, 2, &acc, &err), 0, "%s", err.msg);
    cr_expect_eq(acc, 0.25);
    labels[3] = 3;
    cr_expect_eq(genrt_score_label_acc(s, 4, 3, labels, 0, &acc, &err), -1);
    cr_expect_str_eq(err.msg, "label accuracy: row 3 asks for label 3, but the classes are 0 to 2");
    s[4] = NAN;
    cr_expect_eq(genrt_score_label_acc(s, 4, 3, NULL, 0, &acc, &err), -1);
    cr_expect_str_eq(err.msg, "label accuracy: row 1, class 1: the score is not finite (nan)");
    cr_expect_eq(genrt_score_label_acc(s, 0, 3, NULL, 0, &acc, &err), -1);
    cr_expect_str_eq(err.msg, "label accuracy: no samples");
}

/* ------------------------------------------------------------- selfcheck */

enum { PX = 784, SIDE = 28, PROJ = 128, NSELF = 2000 };

/* n Fashion-MNIST images of a split, in file order, pixels in [0, 1]. */
static float *fmnist(int split, long first, long n)
{
    struct genrt_model m = {0};
    m.data_kind = GENRT_DATA_FASHION_MNIST;
    m.data_path = FMNIST_DIR;
    m.data_class = -1;
    m.range_lo = 0;
    m.range_hi = 1;
    m.img_c = 1;
    m.img_h = m.img_w = SIDE;
    m.sample_size = PX;
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open_split(&d, &m, NULL, split, 1, &err), 0, "%s", err.msg);
    float *x = malloc(sizeof(float) * n * PX);
    cr_assert_eq(genrt_data_read(&d, first, n, x, NULL), 0);
    genrt_data_close(&d);
    return x;
}

/* Box blur of radius r (the mean of the in-image pixels of a (2r+1)^2 window). */
static float *box_blur(const float *x, long n, int r)
{
    float *y = malloc(sizeof(float) * n * PX);
    for (long i = 0; i < n; i++)
        for (int py = 0; py < SIDE; py++)
            for (int px = 0; px < SIDE; px++) {
                double s = 0;
                int c = 0;
                for (int qy = py - r; qy <= py + r; qy++)
                    for (int qx = px - r; qx <= px + r; qx++)
                        if (qy >= 0 && qy < SIDE && qx >= 0 && qx < SIDE) {
                            s += x[i * PX + qy * SIDE + qx];
                            c++;
                        }
                y[i * PX + py * SIDE + px] = (float)(s / c);
            }
    return y;
}

/* A fixed random projection to PROJ features: N(0, 1/PX) entries. */
static float *project(const float *x, long n)
{
    static float p[PX * PROJ];
    struct genrt_rng r;
    genrt_rng_seed(&r, 99);
    genrt_rng_fill_normal(&r, p, PX * PROJ);
    for (int i = 0; i < PX * PROJ; i++)
        p[i] /= sqrtf(PX);
    float *f = malloc(sizeof(float) * n * PROJ);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, PROJ, PX, 1.0f, x, PX, p, PROJ,
                0.0f, f, PROJ);
    return f;
}

static const char *const set_names[5] = {"real test", "blur r=1", "blur r=2", "blur r=3",
                                         "uniform noise"};

/* The self-check's sets: NSELF real test images, blurred by 1, 2 and 3,
 * and uniform noise, all in [0, 1]. */
static void selfcheck_sets(float *sets[5])
{
    float *test = fmnist(GENRT_SPLIT_TEST, 0, NSELF);
    float *noise = malloc(sizeof(float) * NSELF * PX);
    struct genrt_rng r;
    genrt_rng_seed(&r, 98);
    genrt_rng_fill_uniform(&r, noise, (long)NSELF * PX, 0, 1);
    sets[0] = test;
    for (int b = 1; b <= 3; b++)
        sets[b] = box_blur(test, NSELF, b);
    sets[4] = noise;
}

Test(selfcheck, fashion_mnist_fd_orders_real_blur_and_noise, .timeout = 120)
{
    float *train = fmnist(GENRT_SPLIT_TRAIN, 0, NSELF), *sets[5];
    selfcheck_sets(sets);
    const char *const *names = set_names;

    /* two feature spaces: raw pixels, and the random projection */
    struct genrt_score_stats ref_px, ref_pj;
    struct genrt_score_manifold ref_m;
    struct genrt_err err;
    float *train_pj = project(train, NSELF);
    cr_assert_eq(genrt_score_stats_compute(&ref_px, train, NSELF, PX, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_score_stats_compute(&ref_pj, train_pj, NSELF, PROJ, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_score_manifold_build(&ref_m, train_pj, NSELF, PROJ, GENRT_SCORE_PR_K, &err),
                 0, "%s", err.msg);
    double fd_px[5], fd_pj[5];
    struct genrt_score_pr pr[5];
    for (int s = 0; s < 5; s++) {
        struct genrt_score_stats st;
        cr_assert_eq(genrt_score_stats_compute(&st, sets[s], NSELF, PX, &err), 0, "%s", err.msg);
        fd_px[s] = fd_of(&ref_px, &st);
        genrt_score_stats_free(&st);
        float *f = project(sets[s], NSELF);
        cr_assert_eq(genrt_score_stats_compute(&st, f, NSELF, PROJ, &err), 0, "%s", err.msg);
        fd_pj[s] = fd_of(&ref_pj, &st);
        genrt_score_stats_free(&st);
        cr_assert_eq(genrt_score_pr_manifold(&ref_m, f, NSELF, &pr[s], &err), 0, "%s", err.msg);
        free(f);
        printf("selfcheck: %-13s vs %d real train: fd(pixels) %9.3f  fd(proj %d) %8.4f  "
               "precision %.3f  recall %.3f\n", names[s], NSELF, fd_px[s], PROJ, fd_pj[s],
               pr[s].precision, pr[s].recall);
    }
    for (int s = 1; s < 4; s++) {
        cr_expect_gt(fd_px[s], fd_px[s - 1], "pixels: FD(%s) %g <= FD(%s) %g", names[s], fd_px[s],
                     names[s - 1], fd_px[s - 1]);
        cr_expect_gt(fd_pj[s], fd_pj[s - 1], "projection: FD(%s) %g <= FD(%s) %g", names[s],
                     fd_pj[s], names[s - 1], fd_pj[s - 1]);
    }
    cr_expect_gt(fd_px[4], 3 * fd_px[3], "pixels: noise %g, blur 3 %g", fd_px[4], fd_px[3]);
    cr_expect_gt(fd_pj[4], 3 * fd_pj[3], "projection: noise %g, blur 3 %g", fd_pj[4], fd_pj[3]);
    cr_expect_gt(fd_px[4], 50 * fd_px[0], "pixels: noise %g, real %g", fd_px[4], fd_px[0]);
    cr_expect_gt(fd_pj[4], 50 * fd_pj[0], "projection: noise %g, real %g", fd_pj[4], fd_pj[0]);
    cr_expect_gt(pr[0].precision, 0.6, "real precision %g", pr[0].precision);
    cr_expect_gt(pr[0].recall, 0.6, "real recall %g", pr[0].recall);
    cr_expect_eq(pr[4].precision, 0.0, "noise precision %g", pr[4].precision);
    /* noise is far from the images, but its own k-NN radii are wide */
    cr_expect_lt(pr[4].recall, 0.05, "noise recall %g", pr[4].recall);
    cr_expect_lt(pr[3].recall, pr[1].recall, "blurring more lowers recall");
    genrt_score_stats_free(&ref_px);
    genrt_score_stats_free(&ref_pj);
    genrt_score_manifold_free(&ref_m);
    for (int s = 0; s < 5; s++)
        free(sets[s]);
    free(train);
    free(train_pj);
}

/* ---------------------------------------- the classifier's own features */

/* The same self-check in the feature space `X score` uses: a briefly
 * trained specs/fmnist_classifier.gm (GENC_TRAINER_DIR, default the
 * repository root), its features of each set through its `features`
 * command, as uint8 pixels, as score hands them over.  Skipped in the
 * sanitized run (GENC_QUICK): training there takes too long. */
static float *classifier_features(const char *bin, const char *dir, const float *x, long n,
                                  int *d_out)
{
    uint8_t *px = malloc((size_t)n * PX);
    for (long i = 0; i < n * PX; i++)
        px[i] = (uint8_t)lrint(fmin(fmax(x[i], 0.0), 1.0) * 255);
    char in[512], out[512], cmd[2048];
    snprintf(in, sizeof in, "%s/in.npy", dir);
    snprintf(out, sizeof out, "%s/out.npy", dir);
    long dims[4] = {n, 1, SIDE, SIDE};
    struct genrt_err err;
    cr_assert_eq(genrt_npy_write_u8(in, px, 4, dims, &err), 0, "%s", err.msg);
    free(px);
    snprintf(cmd, sizeof cmd, "%s features --checkpoint %s/cls/checkpoint.ckpt --input %s -o %s > %s/answer.txt",
             bin, dir, in, out, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    struct genrt_npy a;
    cr_assert_eq(genrt_npy_read(out, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(a.n_dims, 2);
    cr_assert_eq(a.dims[0], n);
    int d = (int)a.dims[1] - 10; /* then the 10 logits */
    float *f = malloc(sizeof(float) * n * d);
    for (long i = 0; i < n; i++)
        memcpy(f + i * d, a.x + i * a.dims[1], sizeof(float) * d);
    genrt_npy_free(&a);
    *d_out = d;
    return f;
}

Test(selfcheck, classifier_features_order_real_blur_and_noise, .timeout = 300)
{
    if (getenv("GENC_QUICK"))
        cr_skip_test("trains a classifier: run in the plain suite");
    const char *tdir = getenv("GENC_TRAINER_DIR");
    char bin[1024], dir[] = "/tmp/genc-selfcheck.XXXXXX", cmd[2048];
    char cwd[512];
    cr_assert(getcwd(cwd, sizeof cwd));
    if (!tdir)
        snprintf(bin, sizeof bin, "%s/fmnist_classifier", cwd);
    else if (tdir[0] == '/')
        snprintf(bin, sizeof bin, "%s/fmnist_classifier", tdir);
    else
        snprintf(bin, sizeof bin, "%s/%s/fmnist_classifier", cwd, tdir);
    cr_assert(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "%s train --steps 300 --quiet --out %s/cls", bin, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    float *train = fmnist(GENRT_SPLIT_TRAIN, 0, NSELF), *sets[5];
    selfcheck_sets(sets);
    const char *const *names = set_names;
    int d;
    float *ref = classifier_features(bin, dir, train, NSELF, &d);
    double fd[5];
    struct genrt_err err;
    for (int s = 0; s < 5; s++) {
        float *f = classifier_features(bin, dir, sets[s], NSELF, &d);
        cr_assert_eq(genrt_score_fd(f, NSELF, ref, NSELF, d, &fd[s], &err), 0, "%s", err.msg);
        printf("selfcheck: %-13s vs %d real train: fd(classifier, %d features) %9.4f\n", names[s],
               NSELF, d, fd[s]);
        free(f);
    }
    for (int s = 1; s < 4; s++)
        cr_expect_gt(fd[s], fd[s - 1], "FD(%s) %g <= FD(%s) %g", names[s], fd[s], names[s - 1],
                     fd[s - 1]);
    cr_expect_gt(fd[1], 2 * fd[0], "real %g is not well below blur 1 %g", fd[0], fd[1]);
    cr_expect_gt(fd[4], 20 * fd[0], "noise %g, real %g", fd[4], fd[0]);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
    for (int s = 0; s < 5; s++)
        free(sets[s]);
    free(train);
    free(ref);
}
