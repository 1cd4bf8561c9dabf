/* genrt_hash.h: the counter-based random draws of emitted code (dropout
 * masks, WGAN-GP's interpolation weights, in-IR noise), in double whatever
 * `real` is.  Emitted code gets them through genrt_kernels.h; the compiler's
 * reference evaluator (compiler/ops.c) includes this header itself, so the
 * two can never disagree. */
#ifndef GENRT_HASH_H
#define GENRT_HASH_H

#include <math.h>

/* U[0, 1) for element i at step t: a hash, so dropout masks and WGAN-GP's
 * interpolation weights need no state, and the backward, a gradient check
 * and a resumed run all see the same draws. */
static inline double hash_uniform(long t, int salt, long i) {
    unsigned long long h = (unsigned long long)t * 0x9e3779b97f4a7c15ull ^ (unsigned long long)salt * 0xbf58476d1ce4e5b9ull;
    h ^= (unsigned long long)i + 0x94d049bb133111ebull + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* N(0, 1) for element i at step t, by Box-Muller on two hash uniforms. */
static inline double hash_normal(long t, int salt, long i) {
    double u1 = hash_uniform(t, salt, 2 * i) + 1.0 / 9007199254740992.0, u2 = hash_uniform(t, salt, 2 * i + 1);
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Row l of a step's batch of `per` rows per sub-batch, as a row of the
 * global batch of `total` rows per sub-batch, of which this rank's start at
 * row0 (genc --mpi: every rank draws what one rank would for those rows). */
static inline long rank_row(long l, long per, long total, long row0) {
    return l / per * total + row0 + l % per;
}

/* An integer in [0, n) for example b, draw k, as torch.randint(0, n) gives
 * one: DiffAugment's per-example offsets (rows k = 0, columns k = 1). */
static inline long hash_below(long t, int salt, long b, int k, long n) {
    long v = (long)(hash_uniform(t, salt, 2 * b + k) * (double)n);
    return v < n ? v : n - 1;
}

/* DiffAugment's translation of example b by up to s rows (k = 0) or
 * columns (k = 1) either way: the offset in [-s, s]. */
static inline long hash_shift(long t, int salt, long b, int k, long s) {
    return hash_below(t, salt, b, k, 2 * s + 1) - s;
}

/* DiffAugment's cutout: whether pixel (i, j) of example b, of an h x w
 * image, survives the square of sh x sw it zeroes (its centre drawn in
 * [0, h + 1 - sh % 2) as the paper's code draws it, clipped to the image). */
static inline int hash_cutout_keeps(long t, int salt, long b, long i, long j, long h, long w, long sh, long sw) {
    long i0 = hash_below(t, salt, b, 0, h + 1 - sh % 2) - sh / 2;
    long j0 = hash_below(t, salt, b, 1, w + 1 - sw % 2) - sw / 2;
    return !(i >= i0 && i < i0 + sh && j >= j0 && j < j0 + sw);
}

#endif
