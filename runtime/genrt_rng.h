/* genrt_rng.h: the runtime's only source of randomness.
 *
 * xoshiro256** seeded through splitmix64.  A generator is plain data (no
 * pointers, no hidden globals), so copying the struct saves the stream and
 * copying it back resumes it exactly: checkpoints rely on that.  Independent
 * streams for the different uses (init, latents, data, ...) come from
 * genrt_rng_derive(seed, stream), so drawing from one never shifts another. */
#ifndef GENRT_RNG_H
#define GENRT_RNG_H

#include <stdint.h>

struct genrt_rng {
    uint64_t s[4];    /* xoshiro256** state */
    double spare;     /* Box-Muller's second value, valid when has_spare */
    int has_spare;
};

/* Stream ids for genrt_rng_derive: one per use of randomness. */
enum genrt_stream {
    GENRT_STREAM_INIT = 1,  /* parameter initialization */
    GENRT_STREAM_LATENT,    /* latent batches during training */
    GENRT_STREAM_RING8,     /* ring8 examples */
    GENRT_STREAM_SHUFFLE,   /* per-epoch shuffles: derived again by epoch */
    GENRT_STREAM_PREVIEW,   /* the fixed latents of the sample grids */
    GENRT_STREAM_SAMPLE,    /* `X sample` */
    GENRT_STREAM_GRADCHECK, /* inputs and probed entries of `X gradcheck` */
    GENRT_STREAM_BENCH,     /* random inputs of `X bench` */
    GENRT_STREAM_DOMAIN_B,  /* a CycleGAN's domain B: its loader's seed (A's is the run's) */
};

/* A seed for an independent stream, from a base seed and a stream id. */
uint64_t genrt_rng_derive(uint64_t seed, uint64_t stream);

void genrt_rng_seed(struct genrt_rng *r, uint64_t seed);
/* 1 for the all-zero state, which seeding never gives and which only ever
 * yields zeros (a forged checkpoint's). */
int genrt_rng_is_zero(const struct genrt_rng *r);
uint64_t genrt_rng_next_u64(struct genrt_rng *r);

/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint64_t genrt_rng_below(struct genrt_rng *r, uint64_t n);

/* Uniform double in [0, 1), 53 random bits. */
double genrt_rng_uniform(struct genrt_rng *r);

/* Standard normal (Box-Muller; the second value is cached in the struct). */
double genrt_rng_normal(struct genrt_rng *r);

void genrt_rng_fill_normal(struct genrt_rng *r, float *x, long n);
void genrt_rng_fill_uniform(struct genrt_rng *r, float *x, long n, float lo, float hi);

#endif
