/* genrt_image.c: see genrt_image.h. */
#include "genrt_image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

#include "genrt_file.h"

#define GRID_PAD_VALUE 255 /* white: dark image backgrounds stay apart */

/* stb hands us the encoded PNG in pieces; they go into the temp file. */
static void png_sink(void *ctx, void *data, int size)
{
    fwrite(data, 1, (size_t)size, ((struct genrt_file *)ctx)->f);
}

static int write_png(const char *path, int w, int h, int comp, const unsigned char *px,
                     struct genrt_err *err)
{
    struct genrt_file af;
    if (genrt_file_create(&af, path, err))
        return -1;
    if (!stbi_write_png_to_func(png_sink, &af, w, h, comp, px, w * comp)) {
        genrt_file_discard(&af);
        return genrt_err_set(err, "%s: PNG encoding failed", path);
    }
    return genrt_file_commit(&af, err);
}

static unsigned char to_byte(float v, float lo, float scale)
{
    float t = (v - lo) * scale;
    if (!(t > 0.0f)) /* also catches NaN */
        return 0;
    if (t >= 255.0f)
        return 255;
    return (unsigned char)(t + 0.5f);
}

int genrt_image_write_grid(const char *path, const float *hwc, int n, int c, int h, int w,
                           float lo, float hi, struct genrt_err *err)
{
    return genrt_image_write_grid_cols(path, hwc, n, 0, c, h, w, lo, hi, err);
}

int genrt_image_write_grid_cols(const char *path, const float *hwc, int n, int cols, int c,
                                int h, int w, float lo, float hi, struct genrt_err *err)
{
    if (c != 1 && c != 3)
        return genrt_err_set(err, "%s: cannot draw %d-channel images (only 1 or 3)", path, c);
    if (n <= 0 || h <= 0 || w <= 0)
        return genrt_err_set(err, "%s: nothing to draw (%d images of %dx%d)", path, n, h, w);
    if (!(hi > lo))
        return genrt_err_set(err, "%s: empty value range [%g, %g]", path, lo, hi);
    if (cols <= 0)
        cols = (int)ceil(sqrt((double)n));
    else if (cols > n)
        cols = n;
    int rows = (n + cols - 1) / cols;
    long W = (long)cols * (w + GENRT_IMAGE_PAD) + GENRT_IMAGE_PAD;
    long H = (long)rows * (h + GENRT_IMAGE_PAD) + GENRT_IMAGE_PAD;
    if (W * c > 1L << 30 || H > 1L << 20)
        return genrt_err_set(err, "%s: grid of %d images is too large for a PNG", path, n);
    unsigned char *px = genrt_file_xmalloc((size_t)(W * H * c));
    memset(px, GRID_PAD_VALUE, (size_t)(W * H * c));
    float scale = 255.0f / (hi - lo);
    for (int k = 0; k < n; k++) {
        long x0 = (long)(k % cols) * (w + GENRT_IMAGE_PAD) + GENRT_IMAGE_PAD;
        long y0 = (long)(k / cols) * (h + GENRT_IMAGE_PAD) + GENRT_IMAGE_PAD;
        const float *img = hwc + (size_t)k * c * h * w;
        for (int i = 0; i < h; i++) /* one image row is w * c contiguous values, in and out */
            for (long j = 0; j < (long)w * c; j++)
                px[((y0 + i) * W + x0) * c + j] = to_byte(img[(size_t)i * w * c + j], lo, scale);
    }
    int rc = write_png(path, (int)W, (int)H, c, px, err);
    free(px);
    return rc;
}

int genrt_image_write_cells(const char *path, const struct genrt_image_cell *cells, int rows,
                            int cols, struct genrt_err *err)
{
    int ch = 1, h = 0, w = 0;
    if (rows <= 0 || cols <= 0 || (long)rows * cols > 1L << 24)
        return genrt_err_set(err, "%s: cannot draw a grid of %d x %d images", path, rows, cols);
    for (long k = 0; k < (long)rows * cols; k++) {
        const struct genrt_image_cell *e = &cells[k];
        if (!e->hwc)
            continue;
        if (e->c != 1 && e->c != 3)
            return genrt_err_set(err, "%s: cannot draw %d-channel images (only 1 or 3)", path,
                                 e->c);
        if (e->h <= 0 || e->w <= 0)
            return genrt_err_set(err, "%s: nothing to draw (an image of %dx%d)", path, e->h, e->w);
        if (!(e->hi > e->lo))
            return genrt_err_set(err, "%s: empty value range [%g, %g]", path, e->lo, e->hi);
        ch = e->c > ch ? e->c : ch;
        h = e->h > h ? e->h : h;
        w = e->w > w ? e->w : w;
    }
    if (h == 0)
        return genrt_err_set(err, "%s: nothing to draw (no images)", path);
    long W = (long)cols * (w + GENRT_IMAGE_PAD) + GENRT_IMAGE_PAD;
    long H = (long)rows * (h + GENRT_IMAGE_PAD) + GENRT_IMAGE_PAD;
    if (W * ch > 1L << 30 || H > 1L << 20)
        return genrt_err_set(err, "%s: grid of %d x %d images is too large for a PNG", path, rows,
                             cols);
    unsigned char *px = genrt_file_xmalloc((size_t)(W * H * ch));
    memset(px, GRID_PAD_VALUE, (size_t)(W * H * ch));
    for (long k = 0; k < (long)rows * cols; k++) {
        const struct genrt_image_cell *e = &cells[k];
        if (!e->hwc)
            continue;
        long x0 = (k % cols) * (w + GENRT_IMAGE_PAD) + GENRT_IMAGE_PAD + (w - e->w) / 2;
        long y0 = (k / cols) * (h + GENRT_IMAGE_PAD) + GENRT_IMAGE_PAD + (h - e->h) / 2;
        float scale = 255.0f / (e->hi - e->lo);
        for (int i = 0; i < e->h; i++)
            for (int j = 0; j < e->w; j++)
                for (int q = 0; q < ch; q++) {
                    float v = e->hwc[((size_t)i * e->w + j) * e->c + (e->c == ch ? q : 0)];
                    px[((y0 + i) * W + x0 + j) * ch + q] = to_byte(v, e->lo, scale);
                }
    }
    int rc = write_png(path, (int)W, (int)H, ch, px, err);
    free(px);
    return rc;
}

static void set_px(unsigned char *px, int x, int y, const unsigned char rgb[3])
{
    if (x < 0 || y < 0 || x >= GENRT_SCATTER_SIZE || y >= GENRT_SCATTER_SIZE)
        return;
    memcpy(px + ((size_t)y * GENRT_SCATTER_SIZE + x) * 3, rgb, 3);
}

int genrt_image_write_scatter(const char *path, const float *xy, int n, struct genrt_err *err)
{
    const int S = GENRT_SCATTER_SIZE;
    const double E = GENRT_SCATTER_EXTENT;
    static const unsigned char grid[3] = {236, 236, 236};
    static const unsigned char axis[3] = {190, 190, 190};
    static const unsigned char dot[3] = {31, 87, 160};
    unsigned char *px = genrt_file_xmalloc((size_t)S * S * 3);
    memset(px, 255, (size_t)S * S * 3);
    /* Pixel centers: coordinate u maps to (u + E) / (2E) * (S - 1). */
    double k = (S - 1) / (2.0 * E);
    for (int g = -(int)E; g <= (int)E; g++) {
        int p = (int)lround((g + E) * k);
        const unsigned char *col = g == 0 ? axis : grid;
        for (int t = 0; t < S; t++) {
            set_px(px, p, t, col);
            set_px(px, t, S - 1 - p, col);
        }
    }
    for (int i = 0; i < n; i++) {
        double u = xy[2 * i], v = xy[2 * i + 1];
        if (!(fabs(u) <= E && fabs(v) <= E)) /* off the plot, or NaN */
            continue;
        int cx = (int)lround((u + E) * k);
        int cy = S - 1 - (int)lround((v + E) * k); /* y grows upwards */
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
                set_px(px, cx + dx, cy + dy, dot);
    }
    int rc = write_png(path, S, S, 3, px, err);
    free(px);
    return rc;
}
