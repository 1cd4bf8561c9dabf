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

#endif
