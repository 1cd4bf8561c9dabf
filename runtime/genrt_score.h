/* genrt_score.h: sample-quality metrics, computed from features.
 *
 * Features are n x d floats, row-major (one example per row); every
 * metric accumulates in double.  Where the features come from (a
 * classifier's penultimate layer, raw pixels, 2-D ring8 points) is the
 * caller's business.  Functions return 0, or -1 with a one-line err.
 *
 * Fréchet distance (Heusel et al. 2017) between N(mu1, S1) and N(mu2, S2):
 *
 *     FD = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)
 *
 * mu is the mean and S the unbiased covariance (divided by n - 1, as
 * numpy's cov and pytorch-fid) of a feature set.  Both are accumulated in
 * double in two passes: the mean, then the covariance of the centered rows
 * (dsyrk in blocks of rows), with the corrected two-pass term
 * S -= s s^T / n (s the sum of the centered rows) removing what rounding
 * left of the mean.  The square roots go through LAPACK's symmetric
 * eigensolver (dsyevr, from OpenBLAS): S1 = V diag(w) V^T, eigenvalues
 * below 0 (rounding) clipped to 0, U = V diag(sqrt(w)), so S1^1/2 = U V^T.
 * The symmetric matrix M = S1^1/2 S2 S1^1/2 = V (U^T S2 U) V^T has the
 * eigenvalues of K = U^T S2 U, which is what is decomposed (the same
 * spectrum, two GEMMs fewer); with K's eigenvalues l,
 * tr(M^1/2) = sum sqrt(max(l, 0)).  Singular covariances (fewer examples
 * than dimensions, constant features) are fine.  A result below 0, which
 * only rounding can give, is returned as 0.
 *
 * Precision and recall (Kynkäänniemi et al. 2019, "Improved precision and
 * recall metric for assessing generative models"), with k = 3:
 *  - each real feature r_i has a radius rad_R(i): its Euclidean distance to
 *    its k-th nearest neighbour among the other real features (not itself;
 *    a duplicate of r_i is another feature, at distance 0);
 *  - likewise each generated feature g_j has rad_G(j) among the generated;
 *  - precision = #{ j : |g_j - r_i| <= rad_R(i) for some i } / n_fake,
 *    the share of generated samples inside the real manifold;
 *  - recall    = #{ i : |r_i - g_j| <= rad_G(j) for some j } / n_real,
 *    the share of real samples inside the generated manifold.
 * Distances are exact brute force: the definition is the double-precision
 * sum of (a - b)^2 over the features as given.  To get there fast, both
 * sets are moved into one frame (minus the real set's mean, which keeps
 * the norms small), rounded to float, and the squared distances
 * |a|^2 + |b|^2 - 2 a.b come from sgemm in blocks of GENRT_SCORE_BLOCK x
 * GENRT_SCORE_BLOCK, so memory is the sets (twice, in float) plus one 4 MB
 * block, whatever n.  A GEMM distance is within (d + 8) FLT_EPSILON
 * (|a'|^2 + |b'|^2) of the exact one (a' = a - mean): a comparison that
 * close to its threshold is decided by the exact distance.  A radius is
 * the k-th smallest exact distance among the k + 1 GEMM-nearest, which
 * must lie below the (k+1)-th GEMM distance by more than that bound to be
 * the true k-th (else the row is redone exactly).  So the counts are those
 * of the exact definition, and duplicates are at distance exactly 0.
 * Threads: BLAS's own.
 *
 * ring8 (see genrt_data.h: 8 modes on a circle of radius 2, std 0.05): a
 * sample is high quality when it lies within 3 std (0.15) of its nearest
 * mode center (the modes are 1.53 apart, so at most one is that close);
 * a mode is covered when its high-quality samples are at least 1% of all
 * samples (GENRT_SCORE_RING8_MIN_SHARE; the gan_ring quality bars in
 * tests/test_e2e.c and tests/quality.sh count modes the same way).
 *
 * Label accuracy: the share of rows whose largest score (logit or
 * probability: softmax keeps the argmax; the first index wins a tie) is
 * the requested label.  cGANs ask for each sample's label, CycleGANs for
 * the target domain's class. */
#ifndef GENRT_SCORE_H
#define GENRT_SCORE_H

#include "genrt_data.h"
#include "genrt_err.h"

#define GENRT_SCORE_PR_K 3            /* Kynkäänniemi et al.'s k */
#define GENRT_SCORE_BLOCK 1024        /* rows per distance block */
#define GENRT_SCORE_RING8_SIGMAS 3.0  /* high quality: within 3 std of a mode */
#define GENRT_SCORE_RING8_MIN_SHARE 0.01

/* ---- Fréchet distance ---------------------------------------------------- */

/* A feature set's statistics: compute a reference set's once, and score
 * many generated sets against them. */
struct genrt_score_stats {
    long n;       /* examples */
    int d;        /* features */
    double *mean; /* d */
    double *cov;  /* d x d, symmetric, row-major, divided by n - 1 */
};

/* Mean and covariance of x (n x d).  Needs n >= 2, d >= 1 and finite
 * features.  On failure s is empty (safe to free). */
int genrt_score_stats_compute(struct genrt_score_stats *s, const float *x, long n, int d,
                              struct genrt_err *err);
void genrt_score_stats_free(struct genrt_score_stats *s);

/* FD between the distributions two stats describe (same d). */
int genrt_score_fd_stats(const struct genrt_score_stats *a, const struct genrt_score_stats *b,
                         double *fd, struct genrt_err *err);
/* FD between two feature sets of d features: x is nx x d, y is ny x d. */
int genrt_score_fd(const float *x, long nx, const float *y, long ny, int d, double *fd,
                   struct genrt_err *err);

/* ---- precision and recall ------------------------------------------------ */

/* A feature set's k-NN manifold, in a frame shared with the sets scored
 * against it: build a reference (real) set's once for many scorings. */
struct genrt_score_manifold {
    long n;
    int d, k;
    double *center;  /* d: the frame's origin, the reference set's mean */
    float *x;        /* n x d: the features as given (exact distances) */
    float *xc;       /* n x d: features - center, rounded to float (the GEMM's) */
    double *sqnorm;  /* n: |xc_i|^2 */
    double *radius2; /* n: exact squared distance to the k-th nearest other feature */
};

struct genrt_score_pr {
    double precision, recall;
    long n_precise;  /* generated samples inside the real manifold */
    long n_recalled; /* real samples inside the generated manifold */
};

/* The manifold of x (n x d), centered on its own mean.  Needs n > k >= 1,
 * d >= 1 and finite features.  On failure m is empty (safe to free). */
int genrt_score_manifold_build(struct genrt_score_manifold *m, const float *x, long n, int d,
                               int k, struct genrt_err *err);
void genrt_score_manifold_free(struct genrt_score_manifold *m);

/* Precision and recall of fake (n_fake x real->d) against a real set's
 * manifold; the fakes' radii use real->k, so n_fake > real->k. */
int genrt_score_pr_manifold(const struct genrt_score_manifold *real, const float *fake,
                            long n_fake, struct genrt_score_pr *out, struct genrt_err *err);
/* The same from the two feature sets. */
int genrt_score_pr(const float *real, long n_real, const float *fake, long n_fake, int d, int k,
                   struct genrt_score_pr *out, struct genrt_err *err);

/* ---- ring8 ---------------------------------------------------------------- */

struct genrt_score_ring8 {
    long n;
    long per_mode[GENRT_DATA_RING8_MODES]; /* high-quality samples at each mode */
    long n_high_quality;
    double high_quality; /* n_high_quality / n */
    int modes;          /* modes covered */
};

/* Metrics of n 2-D samples (x, y interleaved); n >= 1.  A non-finite
 * sample is simply not high quality. */
int genrt_score_ring8(const float *xy, long n, struct genrt_score_ring8 *out,
                      struct genrt_err *err);

/* ---- label accuracy ------------------------------------------------------ */

/* scores is n x n_classes (logits or probabilities).  The requested label
 * of row i is labels[i], or `label` for every row when labels is NULL.
 * Labels must be in [0, n_classes) and scores finite. */
int genrt_score_label_acc(const float *scores, long n, int n_classes, const int *labels,
                          int label, double *acc, struct genrt_err *err);

#endif
