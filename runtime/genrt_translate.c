/* genrt_translate.c: `X translate`, and the translation previews train
 * draws for a model with translate(). */
#include "genrt_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genrt_file.h"
#include "genrt_npy.h"

#define DEFAULT_TRANSLATE 8
#define PREVIEW_CYCLES 8 /* previews: 8 rows of a | G(a) | F(G(a)) | b | .. */
#define CYCLE_COLS 3     /* x | translated | back */

/* translate() takes exactly m->batch examples: n examples x of domain dom
 * take ceil(n/batch) calls, the last one padded with copies of the last
 * example so the model sees only real data. */
void genrt_translate_n(const struct genrt_model *m, int dom, const float *x, long n, float *out,
                       float *back)
{
    long B = m->batch;
    long S = dom == GENRT_DOMAIN_B ? m->domain_b->sample_size : m->sample_size;
    long T = dom == GENRT_DOMAIN_B ? m->sample_size : m->domain_b->sample_size;
    float *xb = genrt_file_xmalloc((size_t)(B * S) * sizeof *xb);
    float *ob = genrt_file_xmalloc((size_t)(B * T) * sizeof *ob);
    float *bb = genrt_file_xmalloc((size_t)(B * S) * sizeof *bb);
    for (long i = 0; i < n; i += B) {
        long k = n - i < B ? n - i : B;
        memcpy(xb, x + i * S, (size_t)(k * S) * sizeof *xb);
        for (long j = k; j < B; j++)
            memcpy(xb + j * S, x + (i + k - 1) * S, (size_t)S * sizeof *xb);
        m->translate(dom, xb, ob, bb);
        memcpy(out + i * T, ob, (size_t)(k * T) * sizeof *ob);
        memcpy(back + i * S, bb, (size_t)(k * S) * sizeof *bb);
    }
    free(xb);
    free(ob);
    free(bb);
}

static struct genrt_image_cell cell_of(const struct genrt_model *md, const float *x)
{
    struct genrt_image_cell e = {x, md->img_c, md->img_h, md->img_w, md->range_lo, md->range_hi};
    return e;
}

/* Columns col0 .. col0 + 2 of n rows of a grid of cols columns: example i
 * of domain dom (x), its translation and its translation back.  md[d] is
 * domain d's view of the model. */
static void cycle_cells(struct genrt_image_cell *cells, int cols, int col0,
                        const struct genrt_model md[2], int dom, long n, const float *x,
                        const float *out, const float *back)
{
    long S = md[dom].sample_size, T = md[1 - dom].sample_size;
    for (long i = 0; i < n; i++) {
        struct genrt_image_cell *row = cells + i * cols + col0;
        row[0] = cell_of(&md[dom], x + i * S);
        row[1] = cell_of(&md[1 - dom], out + i * T);
        row[2] = cell_of(&md[dom], back + i * S);
    }
}

void genrt_cycle_preview_init(struct genrt_cycle_preview *p, const struct genrt_model *m,
                              const struct genrt_data *a, const struct genrt_data *b)
{
    const struct genrt_data *d[2] = {a, b};
    memset(p, 0, sizeof *p);
    p->n = PREVIEW_CYCLES;
    for (int dom = 0; dom < 2; dom++) {
        genrt_data_domain_model(m, dom, &p->md[dom]);
        p->n = d[dom]->n < p->n ? d[dom]->n : p->n;
    }
    for (int dom = 0; dom < 2; dom++) {
        size_t S = (size_t)p->md[dom].sample_size, T = (size_t)p->md[1 - dom].sample_size;
        p->x[dom] = genrt_file_xmalloc((size_t)p->n * S * sizeof(float));
        p->out[dom] = genrt_file_xmalloc((size_t)p->n * T * sizeof(float));
        p->back[dom] = genrt_file_xmalloc((size_t)p->n * S * sizeof(float));
        genrt_data_read(d[dom], 0, p->n, p->x[dom], NULL); /* n <= d->n */
    }
}

int genrt_cycle_preview_write(struct genrt_cycle_preview *p, const struct genrt_model *m,
                              const char *path, struct genrt_err *err)
{
    int cols = 2 * CYCLE_COLS;
    struct genrt_image_cell *cells = genrt_file_xcalloc((size_t)(p->n * cols), sizeof *cells);
    for (int dom = 0; dom < 2; dom++) {
        genrt_translate_n(m, dom, p->x[dom], p->n, p->out[dom], p->back[dom]);
        cycle_cells(cells, cols, dom * CYCLE_COLS, p->md, dom, p->n, p->x[dom], p->out[dom],
                    p->back[dom]);
    }
    int rc = genrt_image_write_cells(path, cells, (int)p->n, cols, err);
    free(cells);
    return rc;
}

void genrt_cycle_preview_free(struct genrt_cycle_preview *p)
{
    for (int dom = 0; dom < 2; dom++) {
        free(p->x[dom]);
        free(p->out[dom]);
        free(p->back[dom]);
    }
    memset(p, 0, sizeof *p);
}

/* The first N test examples of a domain (its only split if it has no test
 * split), each beside its translation and its translation back (.png), or
 * the translations alone as [N, C, H, W] of the other domain (.npy). */
int genrt_cmd_translate(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    struct genrt_data d;
    struct genrt_model md[2];
    const char *ext = strrchr(o->output, '.');
    const char *slash = strrchr(o->output, '/');
    if (!ext || (slash && ext < slash) || (strcmp(ext, ".png") && strcmp(ext, ".npy")))
        return genrt_cli_fail(c, "translate: -o %s: unknown format (the name must end in .png or "
                              ".npy)", o->output);
    int png = !strcmp(ext, ".png");
    int dom = GENRT_DOMAIN_A;
    if (o->from) {
        while (dom <= GENRT_DOMAIN_B && strcmp(o->from, genrt_run_domain_name(m, dom)))
            dom++;
        if (dom > GENRT_DOMAIN_B)
            return genrt_cli_fail(c, "translate: --from %s: no such domain (the model's domains "
                                  "are %s and %s)", o->from, m->domain_a,
                                  genrt_run_domain_name(m, GENRT_DOMAIN_B));
    }
    for (int k = 0; k < 2; k++)
        genrt_data_domain_model(m, k, &md[k]);
    int split = genrt_data_has_split(md[dom].data_kind, GENRT_SPLIT_TEST) ? GENRT_SPLIT_TEST
                                                                          : GENRT_SPLIT_TRAIN;
    if (genrt_run_load_sampling_state(m, o, &err))
        return genrt_cli_fail_err(c, &err);
    if (genrt_run_open_domain(m, dom, dom == GENRT_DOMAIN_B ? o->data_b : o->data, split,
                              m->seed, &d, &err))
        return genrt_cli_fail(c, "translate: %s", err.msg);
    long n = o->has[F_N] ? o->n : DEFAULT_TRANSLATE;
    if (n > d.n && o->has[F_N]) {
        char cls[32] = "";
        if (d.data_class >= 0)
            snprintf(cls, sizeof cls, " of class %d", d.data_class);
        long have = d.n;
        genrt_data_close(&d);
        return genrt_cli_fail(c, "translate: -n %ld, but the %s split of domain %s has only %ld "
                              "examples%s", n, genrt_run_split_name(split),
                              genrt_run_domain_name(m, dom), have, cls);
    }
    n = n < d.n ? n : d.n;
    const char *dir = dom == GENRT_DOMAIN_B ? o->data_b : o->data;
    genrt_run_note_examples(c, "translate", split, dir ? dir : md[dom].data_path, n);

    genrt_run_compute_setup(o);
    long S = md[dom].sample_size, T = md[1 - dom].sample_size;
    float *x = genrt_file_xmalloc((size_t)(n * S) * sizeof *x);
    float *out = genrt_file_xmalloc((size_t)(n * T) * sizeof *out);
    float *back = genrt_file_xmalloc((size_t)(n * S) * sizeof *back);
    genrt_data_read(&d, 0, n, x, NULL); /* n <= d.n */
    genrt_data_close(&d);
    genrt_translate_n(m, dom, x, n, out, back);
    int rc;
    if (png) {
        struct genrt_image_cell *cells = genrt_file_xcalloc((size_t)(n * CYCLE_COLS),
                                                            sizeof *cells);
        cycle_cells(cells, CYCLE_COLS, 0, md, dom, n, x, out, back);
        rc = genrt_image_write_cells(o->output, cells, (int)n, CYCLE_COLS, &err);
        free(cells);
    } else {
        const struct genrt_model *to = &md[1 - dom];
        float *chw = genrt_file_xmalloc((size_t)(n * T) * sizeof *chw);
        genrt_npy_hwc_to_chw(chw, out, n, to->img_c, to->img_h, to->img_w);
        long dims[4] = {n, to->img_c, to->img_h, to->img_w};
        rc = genrt_npy_write(o->output, chw, 4, dims, &err);
        free(chw);
    }
    free(x);
    free(out);
    free(back);
    return rc ? genrt_cli_fail_err(c, &err) : 0;
}
