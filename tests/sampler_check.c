/* sampler_check.c: a genc sampler against the trainer's eval-mode generator.
 *
 * Built by the tests with -DSAMPLER_H='"NAME.h"' -DSAMPLE=NAME_sample (a
 * CycleGAN's: -DTRANSLATE_AB=NAME_translate_ab -DTRANSLATE_BA=...) and
 * linked with the sampler, the trainer's C (-DGENC_NO_MAIN) and libgenrt:
 *     sampler_check CKPT
 * loads the checkpoint into the trainer, draws a batch of latent vectors,
 * and prints the worst relative difference between the two outputs
 * (channel-major in the sampler, channels-last in the trainer), relative to
 * the largest output magnitude. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include SAMPLER_H
#include "genrt_ckpt.h"
#include "genrt_cli.h"
#include "genrt_model.h"
#include "genrt_rng.h"

extern const struct genrt_model genc_model;

#ifdef TRANSLATE_AB
/* A CycleGAN's sampler: NAME_translate_ab and _ba (channel-major, one
 * example) against the trainer's translate (channels-last, a batch), on
 * random examples of each domain. */
static int check_translators(const struct genrt_model *m) {
    const struct genrt_domain *d = m->domain_b;
    long B = m->batch, S[2] = {m->sample_size, d->sample_size};
    int C[2] = {m->img_c, d->img_c};
    double lo[2] = {m->range_lo, d->range_lo}, hi[2] = {m->range_hi, d->range_hi}, worst = 0;
    struct genrt_rng r;
    genrt_rng_seed(&r, 12345);
    for (int dir = 0; dir < 2; dir++) {
        long si = S[dir], so = S[1 - dir];
        int ci = C[dir], co = C[1 - dir];
        float *x = malloc(sizeof *x * (size_t)(B * si)), *ref = malloc(sizeof *ref * (size_t)(B * so));
        float *back = malloc(sizeof *back * (size_t)(B * si)), *in = malloc(sizeof *in * (size_t)si);
        float *got = malloc(sizeof *got * (size_t)so);
        for (long i = 0; i < B * si; i++)
            x[i] = (float)(lo[dir] + (hi[dir] - lo[dir]) * genrt_rng_uniform(&r));
        m->translate(dir, x, ref, back);
        double scale = 0;
        for (long i = 0; i < B * so; i++)
            scale = fmax(scale, fabs(ref[i]));
        for (long b = 0; b < B; b++) {
            for (long q = 0; q < si / ci; q++)
                for (int k = 0; k < ci; k++)
                    in[k * (si / ci) + q] = x[b * si + q * ci + k];
            (dir == 0 ? TRANSLATE_AB : TRANSLATE_BA)(in, got);
            for (long q = 0; q < so / co; q++)
                for (int k = 0; k < co; k++)
                    worst = fmax(worst, fabs(ref[b * so + q * co + k] - got[k * (so / co) + q]) / scale);
        }
        free(x), free(ref), free(back), free(in), free(got);
    }
    printf("translators vs trainer: worst relative difference %.3g over %ld examples each way\n", worst, B);
    return worst <= 1e-5 ? 0 : 1;
}
#endif

#ifndef TRANSLATE_AB
/* A generator's sampler: NAME_sample (channel-major, one sample) against
 * the trainer's generate (channels-last, a batch). */
static int check_generator(const struct genrt_model *m) {
    long B = m->batch, L = m->latent_dim, S = m->sample_size;
    float *z = malloc(sizeof *z * (size_t)(B * L)), *y = malloc(sizeof *y * (size_t)B);
    float *ref = malloc(sizeof *ref * (size_t)(B * S)), *got = malloc(sizeof *got * (size_t)S);
    struct genrt_rng r;
    genrt_rng_seed(&r, 12345);
    genrt_rng_fill_normal(&r, z, B * L);
    for (long i = 0; i < B; i++)
        y[i] = m->n_classes ? (float)(i % m->n_classes) : 0;
    m->generate(z, m->n_classes ? y : NULL, ref);
    int c = m->img_c > 0 ? m->img_c : 1;
    long hw = S / c;
    double worst = 0, scale = 0;
    for (long i = 0; i < B * S; i++)
        scale = fmax(scale, fabs(ref[i]));
    for (long b = 0; b < B; b++) {
#if SAMPLER_CLASSES
        SAMPLE(z + b * L, (int)y[b], got);
#else
        SAMPLE(z + b * L, got);
#endif
        for (long q = 0; q < hw; q++)
            for (int k = 0; k < c; k++) {
                double want = ref[b * S + q * c + k], have = got[k * hw + q];
                worst = fmax(worst, fabs(want - have) / scale);
            }
    }
    printf("sampler vs trainer: worst relative difference %.3g over %ld samples\n", worst, B);
    free(z), free(y), free(ref), free(got);
    return worst <= 1e-5 ? 0 : 1;
}
#endif

int main(int argc, char **argv) {
    const struct genrt_model *m = &genc_model;
    struct genrt_ckpt ck;
    struct genrt_err err = {0};
#ifdef SAMPLER_INIT
    /* --weights-file: the caller reads NAME.bin and hands it over */
    FILE *f = argc == 3 ? fopen(argv[2], "rb") : NULL;
    static float blob[1 << 24];
    size_t size = f ? fread(blob, 1, sizeof blob, f) : 0;
    if (!f || SAMPLER_INIT(blob, size) != 0 || SAMPLER_INIT(blob, size - 4) != -1) {
        fprintf(stderr, "sampler_check: the weights blob was not accepted, or a short one was\n");
        return 2;
    }
    fclose(f);
    argc--;
#endif
    if (argc != 2 || genrt_ckpt_read(argv[1], &ck, &err) ||
        genrt_ckpt_match(&ck, argv[1], m->shape_hash, 4, (uint64_t)m->n_state, &err)) {
        fprintf(stderr, "sampler_check: %s\n", argc == 2 ? err.msg : "usage: sampler_check CKPT");
        return 2;
    }
    memcpy(m->state, ck.state, sizeof(float) * (size_t)m->n_state);
    genrt_ckpt_free(&ck);
    genrt_run_swap_ema(m); /* the sampler bakes the moving averages, as sample uses them */
#ifdef TRANSLATE_AB
    return check_translators(m);
#else
    return check_generator(m);
#endif
}
