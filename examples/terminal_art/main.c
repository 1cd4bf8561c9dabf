/* terminal_art: one generated Fashion-MNIST item, drawn in Unicode shading.
 * The whole product is this file, dcgan_sampler.c and libm: a model that
 * ships as C.  Usage: terminal_art [SEED]  (default 1; same seed, same item) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "dcgan_sampler.h"

enum { C = DCGAN_SAMPLER_OUT_C, H = DCGAN_SAMPLER_OUT_H, W = DCGAN_SAMPLER_OUT_W };

int main(int argc, char **argv) {
    static const char *shade[] = {" ", "░", "▒", "▓", "█"};
    char *end = "";
    uint64_t seed = argc > 1 ? strtoull(argv[1], &end, 10) : 1;
    if (argc > 2 || (argc == 2 && (!isdigit((unsigned char)argv[1][0]) || *end))) {
        fprintf(stderr, "usage: terminal_art [SEED]\n");
        return 1;
    }
    static float x[DCGAN_SAMPLER_OUT_SIZE];
    dcgan_sampler_sample_seed(seed, x);
    for (int i = 0; i < H; i++) {
        for (int j = 0; j < W; j++) {
            float v = 0;
            for (int c = 0; c < C; c++)
                v += x[(c * H + i) * W + j] / C;
            v = (v - DCGAN_SAMPLER_RANGE_LO) / (DCGAN_SAMPLER_RANGE_HI - DCGAN_SAMPLER_RANGE_LO);
            int k = v <= 0 ? 0 : v >= 1 ? 4 : (int)(v * 5);
            fputs(shade[k], stdout); /* twice: a terminal cell is about half as wide as tall */
            fputs(shade[k], stdout);
        }
        putchar('\n');
    }
    return 0;
}
