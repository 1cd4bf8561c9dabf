/* genrt_rng.c: see genrt_rng.h. */
#include "genrt_rng.h"

#include <math.h>

#define GENRT_TWO_PI 6.283185307179586476925286766559

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t genrt_rng_derive(uint64_t seed, uint64_t stream)
{
    /* Hash the stream id first, so nearby ids give unrelated seeds. */
    uint64_t x = stream;
    uint64_t h = splitmix64(&x);
    x = seed ^ h;
    return splitmix64(&x);
}

void genrt_rng_seed(struct genrt_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->spare = 0.0;
    r->has_spare = 0;
}

int genrt_rng_is_zero(const struct genrt_rng *r)
{
    return !(r->s[0] | r->s[1] | r->s[2] | r->s[3]);
}

uint64_t genrt_rng_next_u64(struct genrt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t genrt_rng_below(struct genrt_rng *r, uint64_t n)
{
    /* Reject the low values that would make x % n favour small results. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = genrt_rng_next_u64(r);
        if (x >= threshold)
            return x % n;
    }
}

double genrt_rng_uniform(struct genrt_rng *r)
{
    return (double)(genrt_rng_next_u64(r) >> 11) * 0x1.0p-53;
}

double genrt_rng_normal(struct genrt_rng *r)
{
    if (r->has_spare) {
        double v = r->spare;
        r->spare = 0.0;
        r->has_spare = 0;
        return v;
    }
    double u1 = 1.0 - genrt_rng_uniform(r); /* (0, 1]: log stays finite */
    double u2 = genrt_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = GENRT_TWO_PI * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

void genrt_rng_fill_normal(struct genrt_rng *r, float *x, long n)
{
    for (long i = 0; i < n; i++)
        x[i] = (float)genrt_rng_normal(r);
}

void genrt_rng_fill_uniform(struct genrt_rng *r, float *x, long n, float lo, float hi)
{
    double a = lo, w = (double)hi - (double)lo;
    for (long i = 0; i < n; i++)
        x[i] = (float)(a + w * genrt_rng_uniform(r));
}
