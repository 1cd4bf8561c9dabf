/* genrt_vae.c: `X eval` and `X reconstruct`, for models with elbo_batch
 * and reconstruct (a classifier's eval lines are genrt_classify.c's). */
#include "genrt_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genrt_file.h"

#define DEFAULT_RECONSTRUCT 32
#define RECON_PAIRS_PER_ROW 8 /* input | reconstruction pairs: 16 images a row */

/* Fills xb (batch * sample_size floats) with examples first .. of d, in
 * file order: as many as are left, at most one batch, the rest of the
 * batch padded with copies of the last one, so the model sees only real
 * data.  A conditional VAE gets the examples' own labels too, through
 * GENRT_SLOT_Y (yb, labels: batch each).  Returns how many are real. */
static long fill_batch(const struct genrt_model *m, const struct genrt_data *d, long first,
                       float *xb, float *yb, int *labels)
{
    long k = d->n - first < m->batch ? d->n - first : m->batch;
    long S = m->sample_size;
    genrt_data_read(d, first, k, xb, yb ? labels : NULL); /* in range: 0 < k <= n - first */
    for (long i = k; i < m->batch; i++) {
        memcpy(xb + i * S, xb + (k - 1) * S, (size_t)S * sizeof *xb);
        if (yb)
            labels[i] = labels[k - 1];
    }
    if (yb) {
        for (long i = 0; i < m->batch; i++)
            yb[i] = (float)labels[i];
        m->set_input(GENRT_SLOT_Y, yb);
    }
    return k;
}

/* A conditional VAE's label buffers for fill_batch (both NULL otherwise). */
struct labels {
    float *y;
    int *k;
};

static struct labels labels_new(const struct genrt_model *m)
{
    struct labels l = {NULL, NULL};
    if (m->n_classes > 0) {
        l.y = genrt_file_xmalloc((size_t)m->batch * sizeof *l.y);
        l.k = genrt_file_xmalloc((size_t)m->batch * sizeof *l.k);
    }
    return l;
}

static void labels_free(struct labels *l)
{
    free(l->y);
    free(l->k);
}

/* The mean negative ELBO, reconstruction and KL terms over every example
 * of a split, summed in file order, so the numbers are deterministic. */
static int eval_split(const struct genrt_cli *c, const struct genrt_opts *o, int split)
{
    const struct genrt_model *m = c->m;
    struct genrt_data d;
    struct genrt_err err;
    if (genrt_data_open_split(&d, m, o->data, split, m->seed, &err))
        return genrt_cli_fail(c, "eval: %s", err.msg);
    float *xb = genrt_file_xmalloc((size_t)m->batch * (size_t)m->sample_size * sizeof *xb);
    double *ob = genrt_file_xmalloc((size_t)m->batch * 3 * sizeof *ob);
    struct labels lb = labels_new(m);
    double sum[3] = {0.0, 0.0, 0.0};
    for (long i = 0; i < d.n;) {
        long k = fill_batch(m, &d, i, xb, lb.y, lb.k);
        m->elbo_batch(xb, ob);
        for (long b = 0; b < k; b++)
            for (int t = 0; t < 3; t++)
                sum[t] += ob[3 * b + t];
        i += k;
    }
    printf("%s: -ELBO %.2f nats per example (reconstruction %.2f, KL %.2f) over %ld examples\n",
           genrt_run_split_name(split), sum[0] / d.n, sum[1] / d.n, sum[2] / d.n, d.n);
    fflush(stdout);
    free(xb);
    free(ob);
    labels_free(&lb);
    genrt_data_close(&d);
    return 0;
}

/* One line per split: train, then test.  An images directory has no test
 * split, so it gets the train line only; ring8 has no fixed examples. */
int genrt_cmd_eval(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    /* a VAE's ELBO, or a classifier's accuracy */
    int (*split_line)(const struct genrt_cli *, const struct genrt_opts *, int) =
        m->classify ? genrt_classify_eval_split : eval_split;
    if (!genrt_data_has_split(m->data_kind, GENRT_SPLIT_TRAIN))
        return genrt_cli_fail(c, "eval: %s data are generated, not a set of examples to evaluate "
                              "on", genrt_data_kind_name(m->data_kind));
    if (genrt_run_load_state(m, o->checkpoint, &err))
        return genrt_cli_fail_err(c, &err);
    genrt_run_compute_setup(o);
    if (split_line(c, o, GENRT_SPLIT_TRAIN))
        return 1;
    if (genrt_data_has_split(m->data_kind, GENRT_SPLIT_TEST) &&
        split_line(c, o, GENRT_SPLIT_TEST))
        return 1;
    return 0;
}

/* A grid of input | reconstruction pairs: image 2i is test example i and
 * image 2i+1 its reconstruction, RECON_PAIRS_PER_ROW pairs a row. */
int genrt_cmd_reconstruct(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    struct genrt_data d;
    const char *ext = strrchr(o->output, '.');
    const char *slash = strrchr(o->output, '/');
    if (!ext || (slash && ext < slash) || strcmp(ext, ".png"))
        return genrt_cli_fail(c, "reconstruct: -o %s: unknown format (the name must end in .png)",
                              o->output);
    if (!genrt_run_is_image(m))
        return genrt_cli_fail(c, "reconstruct: draws images, and this model's examples are "
                              "%ld-dimensional vectors", m->sample_size);
    int split = genrt_data_has_split(m->data_kind, GENRT_SPLIT_TEST) ? GENRT_SPLIT_TEST
                                                                     : GENRT_SPLIT_TRAIN;
    if (!genrt_data_has_split(m->data_kind, split))
        return genrt_cli_fail(c, "reconstruct: %s data are generated, not a set of examples",
                              genrt_data_kind_name(m->data_kind));
    if (genrt_run_load_sampling_state(m, o, &err))
        return genrt_cli_fail_err(c, &err);
    if (genrt_data_open_split(&d, m, o->data, split, m->seed, &err))
        return genrt_cli_fail(c, "reconstruct: %s", err.msg);
    long n = o->has[F_N] ? o->n : DEFAULT_RECONSTRUCT;
    if (n > d.n && o->has[F_N]) {
        long have = d.n;
        genrt_data_close(&d);
        return genrt_cli_fail(c, "reconstruct: -n %ld, but the %s split has only %ld examples",
                              n, genrt_run_split_name(split), have);
    }
    n = n < d.n ? n : d.n;
    genrt_run_note_examples(c, "reconstruct", split, o->data ? o->data : m->data_path, n);

    genrt_run_compute_setup(o);
    long B = m->batch, S = m->sample_size;
    float *xb = genrt_file_xmalloc((size_t)(B * S) * sizeof *xb);
    float *rb = genrt_file_xmalloc((size_t)(B * S) * sizeof *rb);
    float *pairs = genrt_file_xmalloc((size_t)(2 * n * S) * sizeof *pairs);
    struct labels lb = labels_new(m);
    for (long i = 0; i < n;) {
        long k = fill_batch(m, &d, i, xb, lb.y, lb.k);
        k = k < n - i ? k : n - i;
        m->reconstruct(xb, rb);
        for (long b = 0; b < k; b++) {
            memcpy(pairs + (2 * (i + b)) * S, xb + b * S, (size_t)S * sizeof *xb);
            memcpy(pairs + (2 * (i + b) + 1) * S, rb + b * S, (size_t)S * sizeof *rb);
        }
        i += k;
    }
    genrt_data_close(&d);
    int rc = genrt_sample_write_picture(m, o->output, pairs, 2 * n, 2 * RECON_PAIRS_PER_ROW, &err);
    free(xb);
    free(rb);
    free(pairs);
    labels_free(&lb);
    return rc ? genrt_cli_fail_err(c, &err) : 0;
}
