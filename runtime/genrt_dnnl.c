/* genrt_dnnl.c: convolution passes on oneDNN's CPU engine (genrt_dnnl.h).
 *
 * One primitive per pass and geometry, made at its first call with the
 * forward pass as the backward passes' hint, and kept for the process.
 * oneDNN runs on the OpenMP threads the trainer set (--threads). */
#include "genrt_dnnl.h"

#include <dnnl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct genrt_conv_prim {
    struct genrt_conv key;            /* its geometry (key.prim unused) */
    dnnl_primitive_t prim;
    dnnl_memory_t m_a, m_b, m_out;    /* the caller's tensors: handles set at each call */
    /* when oneDNN wants the weights in a layout of its own: that copy and
     * the reorder from genc's (fwd, bwd-data) or back into genc's (bwd-w) */
    dnnl_primitive_t reorder;
    dnnl_memory_t m_w;
    struct genrt_conv_prim *next;
};

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int on = -1;
static struct genrt_conv_prim *prims;

static const char *const pass_names[] = {"forward", "backward-data", "backward-weights"};

static void check(dnnl_status_t s, const struct genrt_conv *c, const char *what)
{
    if (s == dnnl_success)
        return;
    fprintf(stderr, "error: oneDNN: %s of the %s pass of a %dx%d convolution (%dx%dx%d to %dx%dx%d, batch %d) "
            "failed (status %d); GENC_DNNL=0 runs genc's own convolutions instead\n", what, pass_names[c->pass],
            c->k, c->k, c->h, c->w, c->ci, c->ho, c->wo, c->co, c->n, (int)s);
    exit(1);
}

int genrt_dnnl(void)
{
    if (on < 0) {
        const char *v = getenv("GENC_DNNL");
        on = !(v && strcmp(v, "0") == 0) && dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success &&
             dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) == dnnl_success;
    }
    return on;
}

static dnnl_memory_t memory(const dnnl_memory_desc_t *md, const struct genrt_conv *c, void *handle)
{
    dnnl_memory_t m;
    check(dnnl_memory_create(&m, md, engine, handle), c, "a memory object");
    return m;
}

static void nhwc(dnnl_memory_desc_t *md, const struct genrt_conv *c, int ch, int h, int w)
{
    dnnl_dims_t dims = {c->n, ch, h, w};
    check(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nhwc), c, "an activation descriptor");
}

static struct genrt_conv_prim *make(const struct genrt_conv *c)
{
    struct genrt_conv_prim *p = calloc(1, sizeof *p);
    if (!p) {
        fprintf(stderr, "error: out of memory for a oneDNN primitive\n");
        exit(1);
    }
    p->key = *c;
    p->key.prim = NULL;
    dnnl_memory_desc_t src, dst, w_user, w_any;
    nhwc(&src, c, c->ci, c->h, c->w);
    nhwc(&dst, c, c->co, c->ho, c->wo);
    dnnl_dims_t wdims = {c->co, c->ci, c->k, c->k};
    check(dnnl_memory_desc_init_by_tag(&w_user, 4, wdims, dnnl_f32, dnnl_ohwi), c, "the weights' descriptor");
    check(dnnl_memory_desc_init_by_tag(&w_any, 4, wdims, dnnl_f32, dnnl_format_tag_any), c, "the weights' descriptor");
    dnnl_dims_t strides = {c->stride, c->stride}, pad_l = {c->pad, c->pad};
    dnnl_dims_t pad_r = {(c->ho - 1) * c->stride + c->k - c->h - c->pad, (c->wo - 1) * c->stride + c->k - c->w - c->pad};
    dnnl_convolution_desc_t fd, d;
    check(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &src, &w_any, NULL,
                                             &dst, strides, pad_l, pad_r), c, "the forward descriptor");
    dnnl_primitive_desc_t fpd, pd;
    check(dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL), c, "the forward primitive descriptor");
    if (c->pass == GENRT_CONV_FWD) {
        pd = fpd;
        fpd = NULL;
    } else {
        if (c->pass == GENRT_CONV_BWD_DATA)
            check(dnnl_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &src, &w_any, &dst, strides,
                                                           pad_l, pad_r), c, "the descriptor");
        else
            check(dnnl_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &src, &w_any, NULL, &dst,
                                                              strides, pad_l, pad_r), c, "the descriptor");
        check(dnnl_primitive_desc_create(&pd, &d, NULL, engine, fpd), c, "the primitive descriptor");
        check(dnnl_primitive_desc_destroy(fpd), c, "freeing the forward primitive descriptor");
    }
    check(dnnl_primitive_create(&p->prim, pd), c, "the primitive");
    int bwd_w = c->pass == GENRT_CONV_BWD_W;
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, bwd_w ? dnnl_query_diff_weights_md
                                                                            : dnnl_query_weights_md, 0);
    /* a: x or dy; b: w or dy; out: y, dx or dw (DNNL_MEMORY_NONE: set per call) */
    p->m_a = memory(c->pass == GENRT_CONV_BWD_DATA ? &dst : &src, c, DNNL_MEMORY_NONE);
    p->m_b = memory(bwd_w ? &dst : &w_user, c, DNNL_MEMORY_NONE);
    p->m_out = memory(c->pass == GENRT_CONV_FWD ? &dst : c->pass == GENRT_CONV_BWD_DATA ? &src : &w_user, c,
                      DNNL_MEMORY_NONE);
    if (!dnnl_memory_desc_equal(w_md, &w_user)) {
        dnnl_primitive_desc_t rpd;
        p->m_w = memory(w_md, c, DNNL_MEMORY_ALLOCATE);
        check(bwd_w ? dnnl_reorder_primitive_desc_create(&rpd, w_md, engine, &w_user, engine, NULL)
                    : dnnl_reorder_primitive_desc_create(&rpd, &w_user, engine, w_md, engine, NULL),
              c, "the weights' reorder descriptor");
        check(dnnl_primitive_create(&p->reorder, rpd), c, "the weights' reorder");
        check(dnnl_primitive_desc_destroy(rpd), c, "freeing the reorder descriptor");
    }
    check(dnnl_primitive_desc_destroy(pd), c, "freeing the primitive descriptor");
    p->next = prims;
    prims = p;
    return p;
}

static struct genrt_conv_prim *find(struct genrt_conv *c)
{
    if (c->prim)
        return c->prim;
    for (struct genrt_conv_prim *p = prims; p; p = p->next) /* the ints before prim: the pass and geometry */
        if (memcmp(&p->key, c, offsetof(struct genrt_conv, prim)) == 0)
            return c->prim = p;
    return c->prim = make(c);
}

static void run(dnnl_primitive_t prim, const struct genrt_conv *c, int n, const dnnl_exec_arg_t *args, const char *what)
{
    check(dnnl_primitive_execute(prim, stream, n, args), c, what);
}

void genrt_conv_run(struct genrt_conv *c, const float *a, const float *b, float *out)
{
    struct genrt_conv_prim *p = find(c);
    check(dnnl_memory_set_data_handle(p->m_a, (void *)a), c, "setting an input");
    check(dnnl_memory_set_data_handle(p->m_b, (void *)b), c, "setting an input");
    check(dnnl_memory_set_data_handle(p->m_out, out), c, "setting the output");
    dnnl_exec_arg_t args[3];
    switch (c->pass) {
    case GENRT_CONV_FWD:
        args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, p->m_a};
        args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, p->m_w ? p->m_w : p->m_b};
        args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, p->m_out};
        break;
    case GENRT_CONV_BWD_DATA:
        args[0] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, p->m_a};
        args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, p->m_w ? p->m_w : p->m_b};
        args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, p->m_out};
        break;
    default:
        args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, p->m_a};
        args[1] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, p->m_b};
        args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, p->m_w ? p->m_w : p->m_out};
        break;
    }
    int bwd_w = c->pass == GENRT_CONV_BWD_W;
    if (p->reorder && !bwd_w)
        run(p->reorder, c, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, p->m_b}, {DNNL_ARG_TO, p->m_w}}, "the weights' reorder");
    run(p->prim, c, 3, args, "running the primitive");
    if (p->reorder && bwd_w)
        run(p->reorder, c, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, p->m_w}, {DNNL_ARG_TO, p->m_out}},
            "the weights' reorder");
    check(dnnl_stream_wait(stream), c, "waiting for the stream");
}

void genrt_sgemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float *c, int ldc)
{
    dnnl_status_t s = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    if (s != dnnl_success) {
        fprintf(stderr, "error: oneDNN: a %dx%dx%d sgemm failed (status %d); GENC_DNNL=0 runs OpenBLAS's instead\n",
                m, n, k, (int)s);
        exit(1);
    }
}
