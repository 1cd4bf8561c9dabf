/* genrt_npy.h: arrays of samples for other tools, written atomically.
 *
 * genrt_npy_write: NumPy .npy format 1.0, float32 little-endian ('<f4'),
 * C order, with the header padded so the data start 64-byte aligned.
 * genrt_npy_write_csv: one row per sample, d values per row, "%.9g"
 * (enough digits to read every float back exactly).
 * genrt_npy_hwc_to_chw: genc keeps images channels-last ([H, W, C]); NumPy
 * and the tools around it expect [C, H, W], so image samples are reordered
 * before they are written. */
#ifndef GENRT_NPY_H
#define GENRT_NPY_H

#include "genrt_err.h"

#define GENRT_NPY_MAX_DIMS 8

int genrt_npy_write(const char *path, const float *x, int n_dims, const long *dims,
                    struct genrt_err *err);
int genrt_npy_write_csv(const char *path, const float *x, long n, long d, struct genrt_err *err);
/* n images from [h, w, c] in src to [c, h, w] in dst (dst != src). */
void genrt_npy_hwc_to_chw(float *dst, const float *src, long n, int c, int h, int w);

#endif
