/* quant_check.c: an int8 sampler (genc --quantize int8) against the float
 * sampler of the same checkpoint.
 *
 * Built by the tests with -DFLOAT_H='"f.h"' -DFLOAT_SEED=f_sample_seed
 * -DINT8_H='"q.h"' -DINT8_SEED=q_sample_seed -DOUT_C=... -DOUT_SIZE=...
 * and linked with both samplers:
 *     quant_check N
 * draws N samples from each for seeds 1 .. N and prints, on one line, the
 * largest absolute deviation, the same relative to the float outputs'
 * range, the mean absolute deviation, and the worst channel's largest
 * deviation relative to that channel's largest float magnitude (which a
 * scale taken along the wrong axis blows up when channels differ in
 * size). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include FLOAT_H
#include INT8_H

int main(int argc, char **argv) {
    long n = argc == 2 ? atol(argv[1]) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: quant_check N\n");
        return 2;
    }
    static float a[OUT_SIZE], b[OUT_SIZE];
    static double ch_dev[OUT_C], ch_mag[OUT_C];
    long hw = OUT_SIZE / OUT_C;
    double max_dev = 0, sum = 0, lo = INFINITY, hi = -INFINITY;
    for (long s = 1; s <= n; s++) {
        FLOAT_SEED((uint64_t)s, a);
        INT8_SEED((uint64_t)s, b);
        for (long i = 0; i < OUT_SIZE; i++) {
            double d = fabs((double)a[i] - b[i]);
            if (!(d == d))
                d = INFINITY; /* a NaN fails every bound */
            max_dev = fmax(max_dev, d);
            sum += d;
            lo = fmin(lo, a[i]);
            hi = fmax(hi, a[i]);
            ch_dev[i / hw] = fmax(ch_dev[i / hw], d); /* [C][H][W] */
            ch_mag[i / hw] = fmax(ch_mag[i / hw], fabs(a[i]));
        }
    }
    double worst_ch = 0;
    for (int c = 0; c < OUT_C; c++)
        worst_ch = fmax(worst_ch, ch_mag[c] > 0 ? ch_dev[c] / ch_mag[c] : ch_dev[c] > 0 ? INFINITY : 0);
    printf("max_dev %.6g rel_range %.6g mad %.6g worst_channel %.6g samples %ld\n", max_dev,
           hi > lo ? max_dev / (hi - lo) : max_dev, sum / ((double)n * OUT_SIZE), worst_ch, n);
    return 0;
}
