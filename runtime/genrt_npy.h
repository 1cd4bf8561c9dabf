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

#include <stdint.h>

#include "genrt_err.h"

#define GENRT_NPY_MAX_DIMS 8

int genrt_npy_write(const char *path, const float *x, int n_dims, const long *dims,
                    struct genrt_err *err);
/* The same for bytes ('|u1'): pixels, as `X score` hands them to a classifier. */
int genrt_npy_write_u8(const char *path, const uint8_t *x, int n_dims, const long *dims,
                       struct genrt_err *err);

/* An array read back: float32 ('<f4') or uint8 ('|u1'), C order, version 1
 * or 2 headers; the values as floats (bytes as 0 .. 255). */
struct genrt_npy {
    int n_dims;
    long dims[GENRT_NPY_MAX_DIMS];
    long n;   /* values */
    int u8;   /* the file held bytes */
    float *x;
};

int genrt_npy_read(const char *path, struct genrt_npy *a, struct genrt_err *err);
void genrt_npy_free(struct genrt_npy *a);

int genrt_npy_write_csv(const char *path, const float *x, long n, long d, struct genrt_err *err);
/* n images from [h, w, c] in src to [c, h, w] in dst (dst != src). */
void genrt_npy_hwc_to_chw(float *dst, const float *src, long n, int c, int h, int w);

#endif
