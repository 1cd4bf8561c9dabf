/* sampler_png: an 8x8 grid of dcgan samples as a PNG, from the generated
 * sampler alone (no genc runtime, no BLAS).  Usage: sampler_png SEED out.png */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h> /* the example's own choice: the sampler writes no files */

#include "dcgan_sampler.h"

enum { C = DCGAN_SAMPLER_OUT_C, H = DCGAN_SAMPLER_OUT_H, W = DCGAN_SAMPLER_OUT_W, N = 8 /* tiles a side */,
       P = 2 /* white gap */, GH = N * (H + P) + P, GW = N * (W + P) + P };

int main(int argc, char **argv) {
    char *end = "";
    uint64_t seed = argc == 3 ? strtoull(argv[1], &end, 10) : 0;
    if (argc != 3 || !isdigit((unsigned char)argv[1][0]) || *end) {
        fprintf(stderr, "usage: sampler_png SEED out.png\n");
        return 1;
    }
    static float x[DCGAN_SAMPLER_OUT_SIZE];
    static unsigned char img[GH][GW][C]; /* rows of interleaved pixels, as PNG wants */
    memset(img, 255, sizeof img);
    for (int t = 0; t < N * N; t++) {
        /* Tile t of grid SEED is sample SEED*64+t, so two grids never share a sample. */
        dcgan_sampler_sample_seed(seed * N * N + (uint64_t)t, x);
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    float v = (x[(c * H + i) * W + j] - DCGAN_SAMPLER_RANGE_LO) /
                              (DCGAN_SAMPLER_RANGE_HI - DCGAN_SAMPLER_RANGE_LO);
                    v = v < 0 ? 0 : v > 1 ? 1 : v;
                    img[P + t / N * (H + P) + i][P + t % N * (W + P) + j][c] = (unsigned char)(v * 255 + 0.5f);
                }
    }
    if (!stbi_write_png(argv[2], GW, GH, C, img, GW * C)) {
        fprintf(stderr, "sampler_png: cannot write %s\n", argv[2]);
        return 1;
    }
    return 0;
}
