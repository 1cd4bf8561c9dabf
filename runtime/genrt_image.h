/* genrt_image.h: PNG pictures of samples, written atomically.
 *
 * genrt_image_write_grid: n images of h x w pixels of c channels (c = 1
 * gray or 3 RGB), channels-last as genc keeps them: image k's pixel (i, j)
 * channel ch is hwc[((k * h + i) * w + j) * c + ch].  They are laid out as
 * square as possible with 2 px of white padding, values mapped linearly
 * from [lo, hi] to [0, 255] and clamped.
 * genrt_image_write_grid_cols: the same with `cols` images per row (row r
 * holds images r * cols ..); cols <= 0 is as square as possible.
 * genrt_image_write_scatter: n 2-D points (x0, y0, x1, y1, ...) plotted on
 * a 512x512 picture of [-3, 3]^2, with light axes and grid lines. */
#ifndef GENRT_IMAGE_H
#define GENRT_IMAGE_H

#include "genrt_err.h"

#define GENRT_IMAGE_PAD 2
#define GENRT_SCATTER_SIZE 512
#define GENRT_SCATTER_EXTENT 3.0

int genrt_image_write_grid(const char *path, const float *hwc, int n, int c, int h, int w,
                           float lo, float hi, struct genrt_err *err);
int genrt_image_write_grid_cols(const char *path, const float *hwc, int n, int cols, int c,
                                int h, int w, float lo, float hi, struct genrt_err *err);
int genrt_image_write_scatter(const char *path, const float *xy, int n, struct genrt_err *err);

#endif
