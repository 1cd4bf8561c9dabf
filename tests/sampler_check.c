/* sampler_check.c: a genc sampler against the trainer's eval-mode generator.
 *
 * Built by the tests with -DSAMPLER_H='"NAME.h"' -DSAMPLE=NAME_sample and
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
#include "genrt_model.h"
#include "genrt_rng.h"

extern const struct genrt_model genc_model;

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
