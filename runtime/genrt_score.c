/* genrt_score.c: see genrt_score.h. */
#include "genrt_score.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "genrt_file.h"

/* LAPACK's symmetric eigensolver, as OpenBLAS exports it (Debian 12 ships
 * no LAPACKE header with OpenBLAS).  gfortran passes the length of each
 * CHARACTER argument after all the others. */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n,
                    double *a, const int *lda, const double *vl, const double *vu, const int *il,
                    const int *iu, const double *abstol, int *m, double *w, double *z,
                    const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t jobz_len, size_t range_len,
                    size_t uplo_len);

static long min_long(long a, long b)
{
    return a < b ? a : b;
}

/* A clear error for a NaN or an infinity, which would silently poison every
 * metric. */
static int check_finite(const float *x, long n, int d, const char *what, struct genrt_err *err)
{
    for (long i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            if (!isfinite(x[(size_t)i * d + j]))
                return genrt_err_set(err, "%s features: row %ld, feature %d is not finite (%g)",
                                     what, i, j, (double)x[(size_t)i * d + j]);
    return 0;
}

static int check_shape(long n, long min_n, int d, const char *what, const char *why,
                       struct genrt_err *err)
{
    if (d < 1)
        return genrt_err_set(err, "%s features: need at least 1 feature per row, got %d", what, d);
    if (n < min_n)
        return genrt_err_set(err, "%s features: %s needs at least %ld rows, got %ld", what, why,
                             min_n, n);
    return 0;
}

/* Column means of x (n x d) in double. */
static void column_means(const float *x, long n, int d, double *mean)
{
    memset(mean, 0, (size_t)d * sizeof *mean);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            mean[j] += x[(size_t)i * d + j];
    for (int j = 0; j < d; j++)
        mean[j] /= (double)n;
}

/* ---- Fréchet distance ---------------------------------------------------- */

void genrt_score_stats_free(struct genrt_score_stats *s)
{
    free(s->mean);
    free(s->cov);
    memset(s, 0, sizeof *s);
}

int genrt_score_stats_compute(struct genrt_score_stats *s, const float *x, long n, int d,
                              struct genrt_err *err)
{
    memset(s, 0, sizeof *s);
    if (check_shape(n, 2, d, "FD", "a covariance", err) || check_finite(x, n, d, "FD", err))
        return -1;
    s->n = n;
    s->d = d;
    s->mean = genrt_file_xmalloc((size_t)d * sizeof *s->mean);
    s->cov = genrt_file_xcalloc((size_t)d * d, sizeof *s->cov);
    column_means(x, n, d, s->mean);

    /* Second pass: the centered rows, a block at a time, into cov's upper
     * triangle; sum catches the mean's rounding (corrected two-pass). */
    double *blk = genrt_file_xmalloc((size_t)GENRT_SCORE_BLOCK * d * sizeof *blk);
    double *sum = genrt_file_xcalloc((size_t)d, sizeof *sum);
    for (long i0 = 0; i0 < n; i0 += GENRT_SCORE_BLOCK) {
        long rows = min_long(GENRT_SCORE_BLOCK, n - i0);
        for (long r = 0; r < rows; r++)
            for (int j = 0; j < d; j++) {
                double v = (double)x[(size_t)(i0 + r) * d + j] - s->mean[j];
                blk[(size_t)r * d + j] = v;
                sum[j] += v;
            }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)rows, 1.0, blk, d, 1.0,
                    s->cov, d);
    }
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double c = (s->cov[(size_t)i * d + j] - sum[i] * sum[j] / (double)n) / (double)(n - 1);
            s->cov[(size_t)i * d + j] = s->cov[(size_t)j * d + i] = c;
        }
    free(blk);
    free(sum);
    return 0;
}

/* Eigenvalues w (ascending) of the symmetric d x d matrix a, which is
 * destroyed, and with z not NULL its eigenvectors as z's columns
 * (column-major). */
static int eigen_symmetric(double *a, int d, double *w, double *z, struct genrt_err *err)
{
    char jobz = z ? 'V' : 'N', range = 'A', uplo = 'U';
    int n = d, m = 0, info = 0, query = -1, iwork_size = 0, il = 1, iu = d;
    double vl = 0, vu = 0, abstol = DBL_MIN, work_size = 0, z_unused = 0;
    int *isuppz = genrt_file_xmalloc((size_t)2 * d * sizeof *isuppz);
    double *zz = z ? z : &z_unused;
    int ldz = z ? d : 1;
    dsyevr_(&jobz, &range, &uplo, &n, a, &n, &vl, &vu, &il, &iu, &abstol, &m, w, zz, &ldz, isuppz,
            &work_size, &query, &iwork_size, &query, &info, 1, 1, 1);
    if (info == 0) {
        int lwork = (int)work_size, liwork = iwork_size;
        double *work = genrt_file_xmalloc((size_t)lwork * sizeof *work);
        int *iwork = genrt_file_xmalloc((size_t)liwork * sizeof *iwork);
        dsyevr_(&jobz, &range, &uplo, &n, a, &n, &vl, &vu, &il, &iu, &abstol, &m, w, zz, &ldz,
                isuppz, work, &lwork, iwork, &liwork, &info, 1, 1, 1);
        free(work);
        free(iwork);
    }
    free(isuppz);
    if (info != 0 || m != d)
        return genrt_err_set(err, "FD: LAPACK's dsyevr failed on a %dx%d covariance (info %d, "
                             "%d of %d eigenvalues)", d, d, info, m, d);
    return 0;
}

static int check_stats(const struct genrt_score_stats *s, const char *which, struct genrt_err *err)
{
    if (!s->mean || !s->cov || s->d < 1)
        return genrt_err_set(err, "FD: the %s statistics are empty", which);
    for (size_t i = 0; i < (size_t)s->d; i++)
        if (!isfinite(s->mean[i]))
            return genrt_err_set(err, "FD: the %s mean is not finite", which);
    for (size_t i = 0; i < (size_t)s->d * s->d; i++)
        if (!isfinite(s->cov[i]))
            return genrt_err_set(err, "FD: the %s covariance is not finite", which);
    return 0;
}

int genrt_score_fd_stats(const struct genrt_score_stats *a, const struct genrt_score_stats *b,
                         double *fd, struct genrt_err *err)
{
    if (check_stats(a, "first", err) || check_stats(b, "second", err))
        return -1;
    if (a->d != b->d)
        return genrt_err_set(err, "FD: the feature sets have %d and %d features", a->d, b->d);
    int d = a->d;
    size_t dd = (size_t)d * d;
    double mean2 = 0, traces = 0;
    for (int j = 0; j < d; j++) {
        double dm = a->mean[j] - b->mean[j];
        mean2 += dm * dm;
        traces += a->cov[(size_t)j * d + j] + b->cov[(size_t)j * d + j];
    }

    double *w = genrt_file_xmalloc((size_t)d * sizeof *w);
    double *u = genrt_file_xmalloc(dd * sizeof *u);
    double *t = genrt_file_xmalloc(dd * sizeof *t);
    double *k = genrt_file_xmalloc(dd * sizeof *k);
    memcpy(t, a->cov, dd * sizeof *t);
    int rc = eigen_symmetric(t, d, w, u, err);
    if (rc == 0) {
        /* U = V diag(sqrt(w)), column-major; then K = U^T S2 U. */
        for (int j = 0; j < d; j++) {
            double s = sqrt(w[j] > 0 ? w[j] : 0);
            for (int i = 0; i < d; i++)
                u[(size_t)j * d + i] *= s;
        }
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, b->cov, d, u, d, 0.0,
                    t, d);
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, u, d, t, d, 0.0, k, d);
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++) {
                double v = 0.5 * (k[(size_t)i * d + j] + k[(size_t)j * d + i]);
                k[(size_t)i * d + j] = k[(size_t)j * d + i] = v;
            }
        rc = eigen_symmetric(k, d, w, NULL, err);
    }
    if (rc == 0) {
        double tr_sqrt = 0;
        for (int j = 0; j < d; j++)
            tr_sqrt += sqrt(w[j] > 0 ? w[j] : 0);
        double v = mean2 + traces - 2 * tr_sqrt;
        *fd = v > 0 ? v : 0;
    }
    free(w);
    free(u);
    free(t);
    free(k);
    return rc;
}

int genrt_score_fd(const float *x, long nx, const float *y, long ny, int d, double *fd,
                   struct genrt_err *err)
{
    struct genrt_score_stats a, b;
    if (genrt_score_stats_compute(&a, x, nx, d, err))
        return -1;
    if (genrt_score_stats_compute(&b, y, ny, d, err)) {
        genrt_score_stats_free(&a);
        return -1;
    }
    int rc = genrt_score_fd_stats(&a, &b, fd, err);
    genrt_score_stats_free(&a);
    genrt_score_stats_free(&b);
    return rc;
}

/* ---- precision and recall ------------------------------------------------ */

/* |a - b|^2 of two feature rows as given, in double: the difference of two
 * floats is exact in double, so only the squares and the sum round.  This
 * is the distance the metric is defined by. */
static double exact_d2(const float *a, const float *b, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++) {
        double v = (double)a[j] - (double)b[j];
        s += v * v;
    }
    return s;
}

/* A bound, per unit of |a'|^2 + |b'|^2, on |GEMM distance - exact distance|:
 * rounding the centered rows to float (4u), |a'|^2 + |b'|^2 to float (u),
 * the d-term dot product (d u) and the final sum (2u), doubled for margin;
 * u = FLT_EPSILON / 2. */
static double gemm_tol(int d)
{
    return (d + 8) * (double)FLT_EPSILON;
}

/* blk = |a_i|^2 + |b_j|^2 - 2 a_i . b_j for rows [i0, i0 + ni) of a and
 * [j0, j0 + nj) of b: ni x nj, row-major, leading dimension nj. */
static void d2_block(const struct genrt_score_manifold *a, long i0, long ni,
                     const struct genrt_score_manifold *b, long j0, long nj, float *blk)
{
    for (long r = 0; r < ni; r++)
        for (long c = 0; c < nj; c++)
            blk[(size_t)r * nj + c] = (float)(a->sqnorm[i0 + r] + b->sqnorm[j0 + c]);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ni, (int)nj, a->d, -2.0f,
                a->xc + (size_t)i0 * a->d, a->d, b->xc + (size_t)j0 * b->d, b->d, 1.0f, blk,
                (int)nj);
}

static double max_of(const double *x, long n)
{
    double m = 0;
    for (long i = 0; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

struct neighbour {
    double d2;
    long j;
};

/* Keeps best[0..len) the len nearest so far, ascending; the first offered
 * wins a tie. */
static void offer(struct neighbour *best, int len, double d2, long j)
{
    if (!(d2 < best[len - 1].d2))
        return;
    int p = len - 1;
    while (p > 0 && d2 < best[p - 1].d2) {
        best[p] = best[p - 1];
        p--;
    }
    best[p].d2 = d2;
    best[p].j = j;
}

/* Row i's exact squared k-NN radius from every exact distance: the
 * fallback when the GEMM's candidates cannot prove theirs. */
static double exact_radius2(const struct genrt_score_manifold *m, long i, struct neighbour *best)
{
    for (int c = 0; c < m->k; c++)
        best[c] = (struct neighbour){INFINITY, -1};
    for (long j = 0; j < m->n; j++)
        if (j != i)
            offer(best, m->k, exact_d2(m->x + (size_t)i * m->d, m->x + (size_t)j * m->d, m->d), j);
    return best[m->k - 1].d2;
}

/* The radii.  Every unordered pair once (blocks on and above the
 * diagonal) is offered to both rows' k + KNN_SPARE nearest by GEMM
 * distance; a row's radius is the k-th smallest exact distance among them,
 * which is the k-th over all rows when it lies below the last candidate's
 * GEMM distance by more than the GEMM's error (every other row is then
 * farther); else the row is redone exactly.  In high dimensions distances
 * crowd together: with one spare candidate 1.5% of the rows of 10,000
 * Gaussian features at d = 512 needed redoing, with 8 none do. */
#define KNN_SPARE 8

static void knn_radii(struct genrt_score_manifold *m)
{
    long n = m->n;
    int d = m->d, k = m->k, len = k + KNN_SPARE, last = len - 1;
    struct neighbour *best = genrt_file_xmalloc((size_t)n * len * sizeof *best);
    for (size_t i = 0; i < (size_t)n * len; i++)
        best[i] = (struct neighbour){INFINITY, -1};
    float *blk = genrt_file_xmalloc((size_t)GENRT_SCORE_BLOCK * GENRT_SCORE_BLOCK * sizeof *blk);
    for (long i0 = 0; i0 < n; i0 += GENRT_SCORE_BLOCK) {
        long ni = min_long(GENRT_SCORE_BLOCK, n - i0);
        for (long j0 = i0; j0 < n; j0 += GENRT_SCORE_BLOCK) {
            long nj = min_long(GENRT_SCORE_BLOCK, n - j0);
            d2_block(m, i0, ni, m, j0, nj, blk);
            for (long r = 0; r < ni; r++) {
                long i = i0 + r;
                struct neighbour *bi = best + (size_t)i * len;
                const float *row = blk + (size_t)r * nj;
                for (long c = j0 == i0 ? r + 1 : 0; c < nj; c++) {
                    long j = j0 + c;
                    double d2 = row[c];
                    if (d2 < bi[last].d2)
                        offer(bi, len, d2, j);
                    if (d2 < best[(size_t)j * len + last].d2)
                        offer(best + (size_t)j * len, len, d2, i);
                }
            }
        }
    }
    double tol = gemm_tol(d), max_sq = max_of(m->sqnorm, n);
    struct neighbour *e = genrt_file_xmalloc((size_t)len * sizeof *e);
    for (long i = 0; i < n; i++) {
        const struct neighbour *bi = best + (size_t)i * len;
        for (int c = 0; c < len; c++)
            e[c] = (struct neighbour){INFINITY, -1};
        for (int c = 0; c < len && bi[c].j >= 0; c++)
            offer(e, k, exact_d2(m->x + (size_t)i * d, m->x + (size_t)bi[c].j * d, d), bi[c].j);
        double r2 = e[k - 1].d2;
        if (!(r2 <= bi[last].d2 - tol * (m->sqnorm[i] + max_sq)))
            r2 = exact_radius2(m, i, e);
        m->radius2[i] = r2;
    }
    free(e);
    free(best);
    free(blk);
}

void genrt_score_manifold_free(struct genrt_score_manifold *m)
{
    free(m->center);
    free(m->x);
    free(m->xc);
    free(m->sqnorm);
    free(m->radius2);
    memset(m, 0, sizeof *m);
}

/* The manifold of x in the frame centered on `center` (NULL: x's mean). */
static int manifold_in_frame(struct genrt_score_manifold *m, const float *x, long n, int d, int k,
                             const double *center, const char *what, struct genrt_err *err)
{
    memset(m, 0, sizeof *m);
    if (k < 1)
        return genrt_err_set(err, "precision/recall: k = %d, but the radii need k >= 1", k);
    if (check_shape(n, (long)k + 1, d, what, "k-nearest-neighbour radii", err) ||
        check_finite(x, n, d, what, err))
        return -1;
    size_t nd = (size_t)n * d;
    m->n = n;
    m->d = d;
    m->k = k;
    m->center = genrt_file_xmalloc((size_t)d * sizeof *m->center);
    if (center)
        memcpy(m->center, center, (size_t)d * sizeof *m->center);
    else
        column_means(x, n, d, m->center);
    m->x = genrt_file_xmalloc(nd * sizeof *m->x);
    memcpy(m->x, x, nd * sizeof *m->x);
    m->xc = genrt_file_xmalloc(nd * sizeof *m->xc);
    m->sqnorm = genrt_file_xmalloc((size_t)n * sizeof *m->sqnorm);
    m->radius2 = genrt_file_xmalloc((size_t)n * sizeof *m->radius2);
    for (long i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) {
            float v = (float)((double)x[(size_t)i * d + j] - m->center[j]);
            m->xc[(size_t)i * d + j] = v;
            s += (double)v * v;
        }
        m->sqnorm[i] = s;
    }
    knn_radii(m);
    return 0;
}

int genrt_score_manifold_build(struct genrt_score_manifold *m, const float *x, long n, int d,
                               int k, struct genrt_err *err)
{
    return manifold_in_frame(m, x, n, d, k, NULL, "real", err);
}

/* Is the exact distance between a and b at most sqrt(r2)?  d2 is the
 * GEMM's, within t of it. */
static int within(double d2, double r2, double t, const float *a, const float *b, int d)
{
    if (d2 <= r2 - t)
        return 1;
    if (d2 > r2 + t)
        return 0;
    return exact_d2(a, b, d) <= r2;
}

/* The state of one precision/recall pass over the blocks. */
struct pr_pass {
    const struct genrt_score_manifold *r, *f;
    double tol, max_r, max_f;
    unsigned char *in_real; /* generated j inside the real manifold */
    unsigned char *in_fake; /* real i inside the generated manifold */
    double *col_min;
};

/* One block of the real x generated GEMM distances.  Per real row, the
 * least d2 - radius2 over the block's generated columns decides recall;
 * per column, the least over the rows decides precision.  A least margin
 * within the error bound of 0 is settled pair by pair. */
static void pr_block(struct pr_pass *p, long i0, long ni, long j0, long nj, const float *blk)
{
    const struct genrt_score_manifold *r = p->r, *f = p->f;
    int d = r->d;
    for (long c = 0; c < nj; c++)
        p->col_min[c] = INFINITY;
    for (long a = 0; a < ni; a++) {
        long i = i0 + a;
        const float *row = blk + (size_t)a * nj;
        const double *rad_f = f->radius2 + j0;
        double rad_r = r->radius2[i], row_min = INFINITY;
        for (long c = 0; c < nj; c++) {
            double v = row[c], m = v - rad_f[c], q = v - rad_r;
            row_min = m < row_min ? m : row_min;
            p->col_min[c] = q < p->col_min[c] ? q : p->col_min[c];
        }
        if (p->in_fake[i])
            continue;
        double t = p->tol * (r->sqnorm[i] + p->max_f);
        if (row_min <= -t)
            p->in_fake[i] = 1;
        else if (row_min <= t)
            for (long c = 0; c < nj && !p->in_fake[i]; c++)
                p->in_fake[i] = (unsigned char)within(
                    row[c], rad_f[c], p->tol * (r->sqnorm[i] + f->sqnorm[j0 + c]),
                    r->x + (size_t)i * d, f->x + (size_t)(j0 + c) * d, d);
    }
    for (long c = 0; c < nj; c++) {
        long j = j0 + c;
        if (p->in_real[j])
            continue;
        double t = p->tol * (p->max_r + f->sqnorm[j]);
        if (p->col_min[c] <= -t)
            p->in_real[j] = 1;
        else if (p->col_min[c] <= t)
            for (long a = 0; a < ni && !p->in_real[j]; a++)
                p->in_real[j] = (unsigned char)within(
                    blk[(size_t)a * nj + c], r->radius2[i0 + a],
                    p->tol * (r->sqnorm[i0 + a] + f->sqnorm[j]), r->x + (size_t)(i0 + a) * d,
                    f->x + (size_t)j * d, d);
    }
}

int genrt_score_pr_manifold(const struct genrt_score_manifold *real, const float *fake,
                            long n_fake, struct genrt_score_pr *out, struct genrt_err *err)
{
    if (!real->x)
        return genrt_err_set(err, "precision/recall: the real manifold is empty");
    struct genrt_score_manifold f;
    if (manifold_in_frame(&f, fake, n_fake, real->d, real->k, real->center, "generated", err))
        return -1;
    long nr = real->n, nf = f.n;
    struct pr_pass p = {real, &f, gemm_tol(real->d), max_of(real->sqnorm, nr),
                        max_of(f.sqnorm, nf), genrt_file_xcalloc((size_t)nf, 1),
                        genrt_file_xcalloc((size_t)nr, 1),
                        genrt_file_xmalloc(GENRT_SCORE_BLOCK * sizeof(double))};
    float *blk = genrt_file_xmalloc((size_t)GENRT_SCORE_BLOCK * GENRT_SCORE_BLOCK * sizeof *blk);
    for (long i0 = 0; i0 < nr; i0 += GENRT_SCORE_BLOCK) {
        long ni = min_long(GENRT_SCORE_BLOCK, nr - i0);
        for (long j0 = 0; j0 < nf; j0 += GENRT_SCORE_BLOCK) {
            long nj = min_long(GENRT_SCORE_BLOCK, nf - j0);
            d2_block(real, i0, ni, &f, j0, nj, blk);
            pr_block(&p, i0, ni, j0, nj, blk);
        }
    }
    out->n_precise = out->n_recalled = 0;
    for (long j = 0; j < nf; j++)
        out->n_precise += p.in_real[j];
    for (long i = 0; i < nr; i++)
        out->n_recalled += p.in_fake[i];
    out->precision = (double)out->n_precise / (double)nf;
    out->recall = (double)out->n_recalled / (double)nr;
    free(p.in_real);
    free(p.in_fake);
    free(p.col_min);
    free(blk);
    genrt_score_manifold_free(&f);
    return 0;
}

int genrt_score_pr(const float *real, long n_real, const float *fake, long n_fake, int d, int k,
                   struct genrt_score_pr *out, struct genrt_err *err)
{
    struct genrt_score_manifold m;
    if (genrt_score_manifold_build(&m, real, n_real, d, k, err))
        return -1;
    int rc = genrt_score_pr_manifold(&m, fake, n_fake, out, err);
    genrt_score_manifold_free(&m);
    return rc;
}

/* ---- ring8 ---------------------------------------------------------------- */

int genrt_score_ring8(const float *xy, long n, struct genrt_score_ring8 *out,
                      struct genrt_err *err)
{
    memset(out, 0, sizeof *out);
    if (n < 1)
        return genrt_err_set(err, "ring8 metrics: no samples");
    double cx[GENRT_DATA_RING8_MODES], cy[GENRT_DATA_RING8_MODES];
    for (int k = 0; k < GENRT_DATA_RING8_MODES; k++)
        genrt_data_ring8_mode(k, &cx[k], &cy[k]);
    double r = GENRT_SCORE_RING8_SIGMAS * GENRT_DATA_RING8_STD, r2 = r * r;
    for (long i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1], nearest = INFINITY;
        int mode = 0;
        for (int k = 0; k < GENRT_DATA_RING8_MODES; k++) {
            double e = (x - cx[k]) * (x - cx[k]) + (y - cy[k]) * (y - cy[k]);
            if (e < nearest) {
                nearest = e;
                mode = k;
            }
        }
        if (nearest <= r2) { /* false for NaN */
            out->per_mode[mode]++;
            out->n_high_quality++;
        }
    }
    out->n = n;
    out->high_quality = (double)out->n_high_quality / (double)n;
    for (int k = 0; k < GENRT_DATA_RING8_MODES; k++)
        out->modes += out->per_mode[k] > 0 &&
                      (double)out->per_mode[k] >= GENRT_SCORE_RING8_MIN_SHARE * (double)n;
    return 0;
}

/* ---- label accuracy ------------------------------------------------------ */

int genrt_score_label_acc(const float *scores, long n, int n_classes, const int *labels,
                          int label, double *acc, struct genrt_err *err)
{
    if (n < 1)
        return genrt_err_set(err, "label accuracy: no samples");
    if (n_classes < 1)
        return genrt_err_set(err, "label accuracy: %d classes", n_classes);
    long hits = 0;
    for (long i = 0; i < n; i++) {
        int want = labels ? labels[i] : label;
        if (want < 0 || want >= n_classes)
            return genrt_err_set(err, "label accuracy: row %ld asks for label %d, but the "
                                 "classes are 0 to %d", i, want, n_classes - 1);
        const float *s = scores + (size_t)i * n_classes;
        int top = 0;
        for (int c = 0; c < n_classes; c++) {
            if (!isfinite(s[c]))
                return genrt_err_set(err, "label accuracy: row %ld, class %d: the score is not "
                                     "finite (%g)", i, c, (double)s[c]);
            if (s[c] > s[top])
                top = c;
        }
        hits += top == want;
    }
    *acc = (double)hits / (double)n;
    return 0;
}
