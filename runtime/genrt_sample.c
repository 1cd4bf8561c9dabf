/* genrt_sample.c: `X sample`, and the sample pictures train previews with. */
#include "genrt_cli.h"

#include <stdlib.h>
#include <string.h>

#include "genrt_file.h"
#include "genrt_npy.h"

#define DEFAULT_SAMPLES 64

/* generate() takes exactly m->batch latents (and labels y, NULL for an
 * unconditional model); n samples take ceil(n/batch) calls, the last one
 * padded with zero latents of class 0. */
void genrt_sample_generate_n(const struct genrt_model *m, const float *z, const float *y, long n,
                             float *out)
{
    long B = m->batch, L = m->latent_dim, S = m->sample_size;
    float *zb = genrt_file_xcalloc((size_t)(B * L), sizeof *zb);
    float *yb = y ? genrt_file_xcalloc((size_t)B, sizeof *yb) : NULL;
    float *ob = genrt_file_xmalloc((size_t)(B * S) * sizeof *ob);
    for (long i = 0; i < n; i += B) {
        long k = n - i < B ? n - i : B;
        memcpy(zb, z + i * L, (size_t)(k * L) * sizeof *zb);
        memset(zb + k * L, 0, (size_t)((B - k) * L) * sizeof *zb);
        if (y) {
            memcpy(yb, y + i, (size_t)k * sizeof *yb);
            memset(yb + k, 0, (size_t)(B - k) * sizeof *yb);
        }
        m->generate(zb, yb, ob);
        memcpy(out + i * S, ob, (size_t)(k * S) * sizeof *ob);
    }
    free(zb);
    free(yb);
    free(ob);
}

float *genrt_sample_labels(const struct genrt_model *m, long n, long label, long cols)
{
    if (m->n_classes <= 0)
        return NULL;
    float *y = genrt_file_xmalloc((size_t)n * sizeof *y);
    for (long i = 0; i < n; i++)
        y[i] = (float)(label >= 0 ? label : cols > 0 ? i / cols : i % m->n_classes);
    return y;
}

int genrt_sample_write_picture(const struct genrt_model *m, const char *path, const float *x,
                               long n, long cols, struct genrt_err *err)
{
    if (n > 1L << 24)
        return genrt_err_set(err, "%s: %ld samples are too many for one picture", path, n);
    if (genrt_run_is_image(m))
        return genrt_image_write_grid_cols(path, x, (int)n, (int)cols, m->img_c, m->img_h,
                                           m->img_w, m->range_lo, m->range_hi, err);
    if (m->sample_size == 2)
        return genrt_image_write_scatter(path, x, (int)n, err);
    return genrt_err_set(err, "%s: cannot draw %ld-dimensional samples (use .npy or .csv)", path,
                         m->sample_size);
}

int genrt_cmd_sample(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    long n = o->has[F_N] ? o->n : DEFAULT_SAMPLES;
    uint64_t seed = o->has[F_SEED] ? o->seed : m->seed;
    int image = genrt_run_is_image(m);
    const char *ext = strrchr(o->output, '.');
    const char *slash = strrchr(o->output, '/');
    if (!ext || (slash && ext < slash) ||
        (strcmp(ext, ".png") && strcmp(ext, ".npy") && strcmp(ext, ".csv")))
        return genrt_cli_fail(c, "sample: -o %s: unknown format (the name must end in .png, .npy "
                              "or .csv)", o->output);
    int png = !strcmp(ext, ".png");
    if (png && !image && m->sample_size != 2)
        return genrt_cli_fail(c, "sample: -o %s: cannot draw %ld-dimensional samples (use .npy "
                              "or .csv)", o->output, m->sample_size);
    long label = -1, cols = 0;
    if (o->has[F_LABEL]) { /* the flag parser took it: the model is conditional */
        if (o->label >= m->n_classes)
            return genrt_cli_fail(c, "sample: --label %ld is out of range: the model has %d "
                                  "class%s (0 to %d)", o->label, m->n_classes,
                                  m->n_classes == 1 ? "" : "es", m->n_classes - 1);
        label = o->label;
    } else if (png && image && m->n_classes > 0) {
        /* a row per class: GENRT_CLASS_COLS, or as many as n samples need */
        cols = o->has[F_N] ? (n + m->n_classes - 1) / m->n_classes : GENRT_CLASS_COLS;
        n = cols * m->n_classes;
    }
    if (genrt_run_load_sampling_state(m, o, &err))
        return genrt_cli_fail_err(c, &err);
    genrt_run_compute_setup(o);

    struct genrt_rng r;
    genrt_rng_seed(&r, genrt_rng_derive(seed, GENRT_STREAM_SAMPLE));
    float *z = genrt_file_xmalloc((size_t)n * (size_t)m->latent_dim * sizeof *z);
    float *x = genrt_file_xmalloc((size_t)n * (size_t)m->sample_size * sizeof *x);
    genrt_run_fill_latent(m, &r, z, n * m->latent_dim);
    float *y = genrt_sample_labels(m, n, label, cols);
    genrt_sample_generate_n(m, z, y, n, x);

    int rcw;
    float *chw = NULL;
    if (png) {
        rcw = genrt_sample_write_picture(m, o->output, x, n, cols, &err);
    } else {
        /* Arrays of images are [N, C, H, W], as NumPy users expect; csv rows
         * follow the same order. */
        const float *a = x;
        if (image && m->img_c > 1) {
            chw = genrt_file_xmalloc((size_t)n * (size_t)m->sample_size * sizeof *chw);
            genrt_npy_hwc_to_chw(chw, x, n, m->img_c, m->img_h, m->img_w);
            a = chw;
        }
        if (!strcmp(ext, ".npy")) {
            long dims[4] = {n, m->img_c, m->img_h, m->img_w};
            if (!image)
                dims[1] = m->sample_size;
            rcw = genrt_npy_write(o->output, a, image ? 4 : 2, dims, &err);
        } else {
            rcw = genrt_npy_write_csv(o->output, a, n, m->sample_size, &err);
        }
    }
    free(z);
    free(y);
    free(x);
    free(chw);
    return rcw ? genrt_cli_fail_err(c, &err) : 0;
}
