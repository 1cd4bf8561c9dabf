/* genrt_train.c: `X train`: the training loop, metrics.csv, previews and
 * checkpoints. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "genrt_file.h"
#include "genrt_progress.h"

#define PREVIEW_IMAGES 64   /* an 8x8 grid */
#define PREVIEW_POINTS 1024 /* a scatter plot of 2-D samples */

/* Draws n_batches batches of real examples into real (concatenated in
 * draw order) and, for a conditional model, their labels as floats into y. */
static void next_real_batches(const struct genrt_model *m, struct genrt_data *data, float *real,
                              float *y, int *labels, int n_batches, int batch)
{
    long per = (long)batch * m->sample_size;
    for (int r = 0; r < n_batches; r++) {
        /* batch <= the data set's size is checked before the first draw */
        genrt_data_next_batch_labels(data, real + r * per, y ? labels + (long)r * batch : NULL,
                                     batch);
    }
    if (y)
        for (long i = 0; i < (long)n_batches * batch; i++)
            y[i] = (float)labels[i];
}

/* -------------------------------------------------------------- metrics */

static char *metrics_header(const struct genrt_model *m)
{
    size_t n = 32;
    for (int i = 0; i < m->n_metrics; i++)
        n += strlen(m->metric_names[i]) + 1;
    char *h = genrt_file_xmalloc(n);
    strcpy(h, "step");
    for (int i = 0; i < m->n_metrics; i++) {
        strcat(h, ",");
        strcat(h, m->metric_names[i]);
    }
    strcat(h, ",seconds");
    return h;
}

/* The metrics.csv of a run being resumed from `step`: keeps the header and
 * the rows up to `step` (later rows belong to steps that will be redone; a
 * half-written last line is dropped).  *seconds gets the last kept time so
 * the column goes on from there.  A missing file starts afresh. */
static int metrics_keep(const char *path, const char *header, long step, char **kept,
                        double *seconds, struct genrt_err *err)
{
    unsigned char *buf;
    size_t len;
    size_t hlen = strlen(header);
    *seconds = 0.0;
    if (access(path, F_OK) != 0) {
        *kept = genrt_file_xmalloc(hlen + 2);
        memcpy(*kept, header, hlen);
        memcpy(*kept + hlen, "\n", 2);
        return 0;
    }
    if (genrt_file_read_all(path, &buf, &len, err))
        return -1;
    char *s = (char *)buf;
    char *nl = strchr(s, '\n');
    if (!nl || (size_t)(nl - s) != hlen || strncmp(s, header, hlen) != 0) {
        if (nl)
            *nl = 0;
        genrt_err_set(err, "%s: columns '%.200s' are not this model's '%s' (resume into "
                      "another --out?)", path, s, header);
        free(buf);
        return -1;
    }
    char *end = nl + 1; /* end of the kept text */
    int line = 2;
    for (char *p = nl + 1; *p; line++) {
        char *eol = strchr(p, '\n');
        if (!eol)
            break; /* half-written: the run stopped mid-line */
        char *q;
        errno = 0;
        long st = strtol(p, &q, 10);
        if (q == p || *q != ',' || errno) {
            genrt_err_set(err, "%s:%d: malformed row", path, line);
            free(buf);
            return -1;
        }
        if (st > step)
            break;
        *eol = 0;
        const char *comma = strrchr(p, ',');
        *seconds = strtod(comma + 1, NULL);
        *eol = '\n';
        end = eol + 1;
        p = eol + 1;
    }
    *end = 0;
    *kept = (char *)buf;
    return 0;
}

/* ---------------------------------------------------------------- train */

int genrt_cmd_train(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    struct genrt_data data, data_b;
    struct genrt_model mb = *m; /* CycleGAN: the model as domain B's loader sees it */
    struct genrt_ckpt ck;
    struct genrt_progress prog;
    struct genrt_run_state rs;
    struct genrt_cycle_preview cp;
    char *out = NULL, *metrics_path = NULL, *ckpt_path = NULL, *samples_dir = NULL;
    char *header = NULL, *kept = NULL;
    float *real = NULL, *real_b = NULL, *z = NULL, *y = NULL, *pz = NULL, *py = NULL, *px = NULL;
    int *labels = NULL;
    double *metrics = NULL;
    FILE *mf = NULL;
    int rc = 1, progress_on = 0, two = m->domain_b != NULL;
    long steps = o->has[F_STEPS] ? o->steps : m->steps;
    long start = 0;
    double seconds0 = 0.0;

    memset(&data, 0, sizeof data);
    memset(&data_b, 0, sizeof data_b);
    memset(&ck, 0, sizeof ck);
    memset(&rs, 0, sizeof rs);
    memset(&cp, 0, sizeof cp);
    rs.seed = o->has[F_SEED] ? o->seed : m->seed;

    /* Everything is checked before the first file is written. */
    if (steps < 1) {
        rc = genrt_cli_fail(c, "train: the spec asks for %ld steps; give --steps N", steps);
        goto out;
    }
    if (o->resume) {
        if (genrt_run_read_checkpoint(m, o->resume, &ck, &err) ||
            genrt_run_decode(m, &ck, o->resume, &rs, &err)) {
            rc = genrt_cli_fail_err(c, &err);
            goto out;
        }
        if (o->has[F_SEED] && o->seed != rs.seed) {
            rc = genrt_cli_fail(c, "train: --seed %" PRIu64 " differs from the seed %" PRIu64
                         " of the run in %s", o->seed, rs.seed, o->resume);
            goto out;
        }
        start = (long)ck.step;
        if (steps <= start) {
            rc = genrt_cli_fail(c, "train: %s is already at step %ld; --steps %ld leaves nothing to do",
                      o->resume, start, steps);
            goto out;
        }
    }
    if (genrt_data_open(&data, m, o->data, rs.seed, &err)) {
        rc = genrt_cli_fail_err(c, &err);
        goto out;
    }
    if (data.kind != GENRT_DATA_RING8 && m->batch > data.n) {
        if (two)
            rc = genrt_cli_fail(c, "train: the data set of domain %s has %ld examples, fewer than one "
                      "batch of %d", m->domain_a, data.n, m->batch);
        else
            rc = genrt_cli_fail(c, "train: the data set has %ld examples, fewer than one batch of %d",
                      data.n, m->batch);
        goto out;
    }
    if (o->resume && genrt_data_set_state(&data, &rs.data, &err)) {
        rc = genrt_cli_fail(c, "checkpoint %s: %s", o->resume, err.msg);
        goto out;
    }
    if (two) {
        genrt_data_domain_model(m, GENRT_DOMAIN_B, &mb);
        if (genrt_run_open_domain(m, GENRT_DOMAIN_B, o->data_b, GENRT_SPLIT_MODEL, rs.seed, &data_b,
                        &err)) {
            rc = genrt_cli_fail_err(c, &err);
            goto out;
        }
        if (m->batch > data_b.n) {
            rc = genrt_cli_fail(c, "train: the data set of domain %s has %ld examples, fewer than one "
                      "batch of %d", genrt_run_domain_name(m, GENRT_DOMAIN_B), data_b.n, m->batch);
            goto out;
        }
        if (o->resume && genrt_data_set_state(&data_b, &rs.data_b, &err)) {
            rc = genrt_cli_fail(c, "checkpoint %s: %s", o->resume, err.msg);
            goto out;
        }
    }
    out = genrt_file_join("runs", m->name);
    const char *dir = o->out ? o->out : out;
    metrics_path = genrt_file_join(dir, "metrics.csv");
    ckpt_path = genrt_file_join(dir, "checkpoint.ckpt");
    samples_dir = genrt_file_join(dir, "samples");
    header = metrics_header(m);
    if (o->resume) {
        if (metrics_keep(metrics_path, header, start, &kept, &seconds0, &err)) {
            rc = genrt_cli_fail_err(c, &err);
            goto out;
        }
    } else {
        kept = genrt_file_xmalloc(strlen(header) + 2);
        sprintf(kept, "%s\n", header);
    }

    /* From here on we write. */
    if (genrt_file_mkdirs(samples_dir, &err) ||
        genrt_file_write_all(metrics_path, kept, strlen(kept), &err)) {
        rc = genrt_cli_fail_err(c, &err);
        goto out;
    }
    mf = fopen(metrics_path, "a");
    if (!mf) {
        rc = genrt_cli_fail(c, "%s: %s", metrics_path, strerror(errno));
        goto out;
    }

    genrt_run_compute_setup(o);
    if (o->resume)
        memcpy(m->state, ck.state, genrt_run_state_bytes(m));
    else {
        genrt_run_init_state(m, rs.seed);
        genrt_rng_seed(&rs.latent, genrt_rng_derive(rs.seed, GENRT_STREAM_LATENT));
    }
    genrt_ckpt_free(&ck);

    /* Fixed preview latents from their own stream: previews never shift
     * the training streams, and every preview shows the same z.  A
     * conditional model's image grid has a row of GENRT_CLASS_COLS per
     * class.  A model without generate previews translations of fixed
     * examples instead. */
    long n_preview = genrt_run_is_image(m) ? PREVIEW_IMAGES : PREVIEW_POINTS, pcols = 0;
    if (genrt_run_is_image(m) && m->n_classes > 0) {
        pcols = GENRT_CLASS_COLS;
        n_preview = pcols * m->n_classes;
    }
    if (!m->generate) {
        genrt_cycle_preview_init(&cp, m, &data, &data_b);
    } else {
        struct genrt_rng prng;
        genrt_rng_seed(&prng, genrt_rng_derive(rs.seed, GENRT_STREAM_PREVIEW));
        pz = genrt_file_xmalloc((size_t)(n_preview * m->latent_dim) * sizeof *pz);
        px = genrt_file_xmalloc((size_t)(n_preview * m->sample_size) * sizeof *px);
        genrt_run_fill_latent(m, &prng, pz, n_preview * m->latent_dim);
        py = genrt_sample_labels(m, n_preview, -1, pcols);
    }

    /* One step takes real_batches real and latent_batches latent batches
     * (two domains: real_batches of each). */
    long n_real = (long)m->real_batches * m->batch;
    long n_z = (long)m->latent_batches * m->batch * m->latent_dim;
    real = genrt_file_xmalloc((size_t)n_real * (size_t)m->sample_size * sizeof *real);
    if (two)
        real_b = genrt_file_xmalloc((size_t)n_real * (size_t)mb.sample_size * sizeof *real_b);
    if (n_z > 0)
        z = genrt_file_xmalloc((size_t)n_z * sizeof *z);
    if (m->n_classes > 0) {
        y = genrt_file_xmalloc((size_t)n_real * sizeof *y);
        labels = genrt_file_xmalloc((size_t)n_real * sizeof *labels);
    }
    metrics = genrt_file_xcalloc((size_t)m->n_metrics + 1, sizeof *metrics);

    genrt_progress_begin(&prog, start + 1, steps, m->n_metrics, m->metric_names, o->quiet);
    progress_on = 1;
    double t0 = genrt_progress_now();
    for (long t = start + 1; t <= steps; t++) {
        next_real_batches(m, &data, real, y, labels, m->real_batches, m->batch);
        m->set_input(GENRT_SLOT_X, real);
        if (two) {
            next_real_batches(&mb, &data_b, real_b, NULL, NULL, m->real_batches, m->batch);
            m->set_input(GENRT_SLOT_XB, real_b);
        }
        if (n_z > 0) {
            genrt_run_fill_latent(m, &rs.latent, z, n_z);
            m->set_input(GENRT_SLOT_Z, z);
        }
        if (y)
            m->set_input(GENRT_SLOT_Y, y);
        m->train_step(t, metrics);

        fprintf(mf, "%ld", t);
        for (int i = 0; i < m->n_metrics; i++)
            fprintf(mf, ",%.9g", metrics[i]);
        fprintf(mf, ",%.3f\n", seconds0 + genrt_progress_now() - t0);
        genrt_progress_update(&prog, t, metrics);

        int last = t == steps;
        if (last || (m->sample_every > 0 && t % m->sample_every == 0)) {
            char name[64];
            snprintf(name, sizeof name, "step-%06ld.png", t);
            char *path = genrt_file_join(samples_dir, name);
            int r;
            if (!m->generate) {
                r = genrt_cycle_preview_write(&cp, m, path, &err);
            } else {
                genrt_sample_generate_n(m, pz, py, n_preview, px);
                r = genrt_sample_write_picture(m, path, px, n_preview, pcols, &err);
            }
            free(path);
            if (r) {
                genrt_progress_end(&prog);
                rc = genrt_cli_fail_err(c, &err);
                goto out;
            }
        }
        if (last || (m->checkpoint_every > 0 && t % m->checkpoint_every == 0)) {
            /* metrics.csv must hold every row the checkpoint covers */
            if (fflush(mf) != 0 || ferror(mf)) {
                genrt_progress_end(&prog);
                rc = genrt_cli_fail(c, "%s: cannot write: %s", metrics_path, strerror(errno));
                goto out;
            }
            genrt_data_get_state(&data, &rs.data);
            if (two)
                genrt_data_get_state(&data_b, &rs.data_b);
            if (genrt_run_save_checkpoint(m, ckpt_path, t, &rs, &err)) {
                genrt_progress_end(&prog);
                rc = genrt_cli_fail_err(c, &err);
                goto out;
            }
        }
    }
    genrt_progress_end(&prog);
    progress_on = 0;
    if (fclose(mf) != 0) {
        mf = NULL;
        rc = genrt_cli_fail(c, "%s: cannot write: %s", metrics_path, strerror(errno));
        goto out;
    }
    mf = NULL;
    if (!o->quiet)
        fprintf(stderr, "%s: trained steps %ld-%ld in %.1f s; checkpoint %s\n", c->prog,
                start + 1, steps, genrt_progress_now() - t0, ckpt_path);
    rc = 0;
out:
    if (progress_on)
        genrt_progress_end(&prog);
    if (mf)
        fclose(mf);
    genrt_ckpt_free(&ck);
    genrt_data_close(&data);
    genrt_data_close(&data_b);
    genrt_cycle_preview_free(&cp);
    free(out);
    free(metrics_path);
    free(ckpt_path);
    free(samples_dir);
    free(header);
    free(kept);
    free(real);
    free(real_b);
    free(z);
    free(y);
    free(labels);
    free(pz);
    free(py);
    free(px);
    free(metrics);
    return rc;
}
