/* genrt_classify.c: a classifier's `X eval` (accuracy and cross-entropy
 * per split) and `X features` (the penultimate-layer features and logits
 * of examples in a .npy, which `X score` of other trainers runs). */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "genrt_file.h"
#include "genrt_npy.h"
#include "genrt_score.h"

int genrt_classify_record_trainer(const char *dir, struct genrt_err *err)
{
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0 || k >= (ssize_t)sizeof exe - 1)
        return genrt_err_set(err, "cannot find this trainer's own path (/proc/self/exe)");
    exe[k] = 0;
    char *link = genrt_file_join(dir, "trainer");
    char *tmp = genrt_file_xmalloc(strlen(link) + 32);
    snprintf(tmp, strlen(link) + 32, "%s.tmp.%ld", link, (long)getpid());
    unlink(tmp);
    int r = 0;
    if (symlink(exe, tmp) || rename(tmp, link)) {
        r = genrt_err_set(err, "%s: cannot write: %s", link, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    free(link);
    return r;
}

/* ------------------------------------------------------------------ eval */

/* Examples first .. of d in file order, one batch (padded with the last),
 * classified: logits into lb, labels into yb; returns how many are real. */
static long classify_batch(const struct genrt_model *m, const struct genrt_data *d, long first,
                           float *xb, float *fb, float *lb, int *yb)
{
    long k = d->n - first < m->batch ? d->n - first : m->batch, S = m->sample_size;
    genrt_data_read(d, first, k, xb, yb);
    for (long i = k; i < m->batch; i++)
        memcpy(xb + i * S, xb + (k - 1) * S, (size_t)S * sizeof *xb);
    m->classify(xb, fb, lb);
    return k;
}

int genrt_classify_eval_split(const struct genrt_cli *c, const struct genrt_opts *o, int split)
{
    const struct genrt_model *m = c->m;
    struct genrt_data d;
    struct genrt_err err;
    if (genrt_data_open_split(&d, m, o->data, split, m->seed, &err))
        return genrt_cli_fail(c, "eval: %s", err.msg);
    long B = m->batch, K = m->n_classes;
    float *xb = genrt_file_xmalloc((size_t)(B * m->sample_size) * sizeof *xb);
    float *fb = genrt_file_xmalloc((size_t)(B * m->n_features) * sizeof *fb);
    float *lb = genrt_file_xmalloc((size_t)(B * K) * sizeof *lb);
    int *yb = genrt_file_xmalloc((size_t)B * sizeof *yb);
    double ce = 0;
    long hits = 0;
    for (long i = 0; i < d.n;) {
        long k = classify_batch(m, &d, i, xb, fb, lb, yb);
        for (long b = 0; b < k; b++) {
            const float *l = lb + b * K;
            long best = 0;
            double mx = l[0], s = 0;
            for (long j = 1; j < K; j++) {
                best = l[j] > l[best] ? j : best;
                mx = l[j] > mx ? l[j] : mx;
            }
            for (long j = 0; j < K; j++)
                s += exp((double)l[j] - mx);
            ce += mx + log(s) - l[yb[b]];
            hits += best == yb[b];
        }
        i += k;
    }
    printf("%s: accuracy %.4f (%ld of %ld), cross-entropy %.4f nats per example\n",
           genrt_run_split_name(split), (double)hits / d.n, hits, d.n, ce / d.n);
    fflush(stdout);
    free(xb);
    free(fb);
    free(lb);
    free(yb);
    genrt_data_close(&d);
    return 0;
}

/* -------------------------------------------------------------- features */

/* The examples of a .npy as the model takes them (channels-last, in the
 * data's range): uint8 pixels through the loader's own mapping, floats as
 * they are.  N x C x H x W for images (or N x values). */
static int read_examples(const struct genrt_cli *c, const char *path, float **out, long *n)
{
    const struct genrt_model *m = c->m;
    struct genrt_npy a;
    struct genrt_err err;
    if (genrt_npy_read(path, &a, &err))
        return genrt_cli_fail(c, "features: %s", err.msg);
    int img = genrt_run_is_image(m);
    int fits = img ? a.n_dims == 4 && a.dims[1] == m->img_c && a.dims[2] == m->img_h &&
                         a.dims[3] == m->img_w
                   : a.n_dims == 2 && a.dims[1] == m->sample_size;
    if (!fits || a.dims[0] < 1) {
        char shape[128] = "";
        for (int i = 0, k = 0; i < a.n_dims && k < 100; i++)
            k += snprintf(shape + k, sizeof shape - k, "%s%ld", i ? " x " : "", a.dims[i]);
        genrt_npy_free(&a);
        if (img)
            return genrt_cli_fail(c, "features: %s holds %s, but this classifier takes N x %d x %d "
                                  "x %d images", path, shape, m->img_c, m->img_h, m->img_w);
        return genrt_cli_fail(c, "features: %s holds %s, but this classifier takes N x %ld", path,
                              shape, m->sample_size);
    }
    *n = a.dims[0];
    float lut[256];
    for (int i = 0; i < 256; i++) /* as the data loader maps a pixel */
        lut[i] = (float)(m->range_lo + ((double)m->range_hi - m->range_lo) * i / 255.0);
    lut[0] = m->range_lo;
    lut[255] = m->range_hi;
    for (long i = 0; i < a.n; i++) {
        if (a.u8) {
            a.x[i] = lut[(int)a.x[i]];
        } else if (!isfinite(a.x[i])) {
            genrt_npy_free(&a);
            return genrt_cli_fail(c, "features: %s: value %ld is not finite", path, i);
        }
    }
    float *x = a.x;
    if (img && m->img_c > 1) { /* [C, H, W] -> channels-last */
        x = genrt_file_xmalloc((size_t)a.n * sizeof *x);
        long hw = (long)m->img_h * m->img_w;
        for (long e = 0; e < *n; e++)
            for (long p = 0; p < hw; p++)
                for (int ch = 0; ch < m->img_c; ch++)
                    x[(e * hw + p) * m->img_c + ch] = a.x[(e * m->img_c + ch) * hw + p];
        genrt_npy_free(&a);
    }
    *out = x;
    return 0;
}

int genrt_cmd_features(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    const char *ext = strrchr(o->output, '.');
    if (!ext || strcmp(ext, ".npy") || strchr(ext, '/'))
        return genrt_cli_fail(c, "features: -o %s: unknown format (the name must end in .npy)",
                              o->output);
    if (genrt_run_load_state(m, o->checkpoint, &err))
        return genrt_cli_fail_err(c, &err);
    float *x = NULL;
    long n = 0;
    if (read_examples(c, o->input, &x, &n))
        return 1;
    genrt_run_compute_setup(o);
    long B = m->batch, S = m->sample_size, D = m->n_features, K = m->n_classes, W = D + K;
    float *xb = genrt_file_xmalloc((size_t)(B * S) * sizeof *xb);
    float *fb = genrt_file_xmalloc((size_t)(B * D) * sizeof *fb);
    float *lb = genrt_file_xmalloc((size_t)(B * K) * sizeof *lb);
    float *out = genrt_file_xmalloc((size_t)(n * W) * sizeof *out);
    for (long i = 0; i < n; i += B) {
        long k = n - i < B ? n - i : B;
        memcpy(xb, x + i * S, (size_t)(k * S) * sizeof *xb);
        for (long r = k; r < B; r++) /* pad with the last example */
            memcpy(xb + r * S, x + (i + k - 1) * S, (size_t)S * sizeof *xb);
        m->classify(xb, fb, lb);
        for (long r = 0; r < k; r++) {
            memcpy(out + (i + r) * W, fb + r * D, (size_t)D * sizeof *out);
            memcpy(out + (i + r) * W + D, lb + r * K, (size_t)K * sizeof *out);
        }
    }
    long dims[2] = {n, W};
    int rc = genrt_npy_write(o->output, out, 2, dims, &err);
    free(x);
    free(xb);
    free(fb);
    free(lb);
    free(out);
    if (rc)
        return genrt_cli_fail_err(c, &err);
    printf("features=%ld classes=%ld n=%ld\n", D, K, n);
    return 0;
}
