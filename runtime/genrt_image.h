/* genrt_image.h: PNG pictures of samples, written atomically.
 *
 * genrt_image_write_grid: n images of h x w pixels of c channels (c = 1
 * gray or 3 RGB), channels-last as genc keeps them: image k's pixel (i, j)
 * channel ch is hwc[((k * h + i) * w + j) * c + ch].  They are laid out as
 * square as possible with 2 px of white padding, values mapped linearly
 * from [lo, hi] to [0, 255] and clamped.
 * genrt_image_write_grid_cols: the same with `cols` images per row (row r
 * holds images r * cols ..); cols <= 0 is as square as possible.
 * genrt_image_write_cells: a grid of rows x cols cells, each an image of
 * its own shape and range (CycleGAN's two domains side by side).  Every
 * cell is as large as the largest image, which sits in its middle; a gray
 * image in a picture that has RGB ones is drawn as RGB (gray in all three
 * channels); a cell with no image (hwc NULL) stays white.  With a single
 * shape and range it draws what genrt_image_write_grid_cols does.
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
struct genrt_image_cell {
    const float *hwc; /* h x w pixels of c channels, channels-last; NULL: an empty cell */
    int c, h, w;      /* c is 1 or 3 */
    float lo, hi;     /* the value range, mapped to [0, 255] */
};

int genrt_image_write_cells(const char *path, const struct genrt_image_cell *cells, int rows,
                            int cols, struct genrt_err *err);
int genrt_image_write_scatter(const char *path, const float *xy, int n, struct genrt_err *err);

#endif
