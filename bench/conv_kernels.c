/* conv_kernels.c: dcgan's four convolution layers, genc's way against
 * oneDNN's, to decide whether genc's emitter should call oneDNN for convs.
 *
 * genc's way is what generated/dcgan.c does: im2col into a
 * (N*Ho*Wo, k*k*C) column buffer and cblas_sgemm, or sgemm into columns
 * and col2im, on NHWC activations; conv weights are (O, kh, kw, I) and
 * deconv weights (I, kh, kw, O), row-major.  oneDNN gets the same NHWC
 * tensors (no activation reorders) and picks its own weight layout
 * ("any"); the reorder between genc's weights and that layout is timed
 * apart, since genc would pay it after every optimizer step unless it
 * kept its weights in oneDNN's layout.
 *
 * Build (OpenBLAS's OpenMP build, as genc's trainers load it):
 *   cc -std=c11 -O2 -march=native -fopenmp -Wall -Wextra bench/conv_kernels.c \
 *      $(pkg-config --cflags --libs openblas) -ldnnl \
 *      -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp -o conv_kernels
 *   ./conv_kernels [THREADS]      (default 2; OpenBLAS, genc's loops and
 *                                  oneDNN all run on libgomp)
 *
 * Output: one line per layer and pass: median ms of REPS calls after
 * WARMUP (genc, oneDNN and the reorder take turns, so that a noisy
 * neighbour slows them alike) and each side's GFLOP/s
 * (2*N*Ho*Wo*k*k*Cin*Cout, the small side's pixels for both conv and
 * deconv); "reord" the weight reorder (genc's layout into oneDNN's for
 * fwd and bwd-data, oneDNN's diff weights back into genc's for bwd-w; 0
 * when oneDNN chose genc's layout); "x" genc's time over oneDNN's
 * including the reorder; "err" max|onednn - genc| / max|genc| over the
 * pass's output; and oneDNN's implementation.
 * Passes as genc times them: conv bwd-w includes genc's im2col of x (it
 * recomputes the columns); deconv bwd-w reuses the columns of dy that
 * bwd-data built, so its im2col counts in bwd-data only.  "total" is the
 * plain sum of the 12 lines; "step" weights each line by how often one
 * dcgan training step runs it (uses[] below), counting each reorder once.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <cblas.h>
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_bench.h"

#define BATCH 64
#define KSIZE 4
#define STRIDE 2
#define PAD 1
#define WARMUP 5
#define REPS 50
#define ALIGN 64

/* A layer maps a big image (hb x hb x cb) to a small one (hs x hs x cs):
 * a conv's input is the big side, a deconv's output is.  genc's columns
 * are always (N*hs*hs, k*k*cb), its weights always (cs, k*k*cb). */
struct layer {
    const char *name;
    int deconv;
    int cb, hb, cs, hs;
};

static const struct layer layers[] = {
    {"D conv1", 0, 1, 28, 64, 14},
    {"D conv2", 0, 64, 14, 128, 7},
    {"G deconv1", 1, 64, 14, 128, 7},
    {"G deconv2", 1, 1, 28, 64, 14},
};
#define N_LAYERS 4
_Static_assert(sizeof layers / sizeof *layers == N_LAYERS, "N_LAYERS");

enum pass { FWD, BWD_DATA, BWD_W, N_PASSES };
static const char *const pass_names[N_PASSES] = {"fwd", "bwd-data", "bwd-w"};

/* Calls per training step, counted in generated/dcgan.c's train_step: D
 * runs forward on real and fake for its own step and on fake for G's, and
 * its backward twice in D's step (dW) and once in G's (data only); G runs
 * forward for both steps and backward once. */
static const int uses[][N_PASSES] = {{3, 1, 2}, {3, 3, 2}, {2, 1, 1}, {2, 1, 1}}; /* rows as layers[] */
_Static_assert(sizeof uses / sizeof *uses == N_LAYERS, "one row of uses per layer");

/* Everything one layer needs.  "src" and "dst" are the conv/deconv's own
 * input and output: big and small for a conv, small and big for a
 * deconv.  *_in are random inputs (x, dy); *_out are results. */
struct bench {
    const struct layer *l;
    long n_big, n_small, n_w, n_cols, rows, kc; /* element counts; kc = k*k*cb */
    float *big_in, *small_in, *w, *cols;
    float *big_out, *small_out, *dw;                      /* genc's results */
    float *d_big_out, *d_small_out, *d_dw;                /* oneDNN's, dw in genc's layout */
    dnnl_memory_t m_src_in, m_dst_in, m_src_out, m_dst_out, m_w_user, m_dw_user;
    dnnl_primitive_desc_t pd[N_PASSES]; /* kept: pd[FWD] hints the others, each owns its impl name */
    dnnl_primitive_t prim[N_PASSES], reorder[N_PASSES];   /* reorder NULL when not needed */
    dnnl_memory_t m_w_prim[N_PASSES];                     /* weights in oneDNN's layout */
    const char *impl[N_PASSES];
};

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static void check(dnnl_status_t s, const char *what)
{
    if (s != dnnl_success) {
        fprintf(stderr, "conv_kernels: %s failed: status %d\n", what, (int)s);
        exit(1);
    }
}

static float *alloc_floats(long n)
{
    size_t bytes = ((size_t)n * sizeof(float) + ALIGN - 1) / ALIGN * ALIGN;
    float *p = aligned_alloc(ALIGN, bytes);
    if (!p) {
        fprintf(stderr, "conv_kernels: out of memory for %ld floats\n", n);
        exit(1);
    }
    return p;
}

/* Values in [-scale, scale): no zeros or denormals to short-cut anything. */
static void fill(float *p, long n, float scale, unsigned *state)
{
    for (long i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        p[i] = scale * ((float)(*state >> 8) / (float)(1u << 23) - 1.0f);
    }
}

/* genc's im2col and col2im, as generated/dcgan.c emits them. */
static void im2col(const struct layer *l, const float *img, float *cols)
{
    int hb = l->hb, hs = l->hs, c = l->cb;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < BATCH; n++)
        for (int oh = 0; oh < hs; oh++)
            for (int ow = 0; ow < hs; ow++) {
                long row = ((long)(n * hs + oh) * hs + ow) * KSIZE * KSIZE * c;
                for (int kh = 0; kh < KSIZE; kh++) {
                    int ih = oh * STRIDE - PAD + kh;
                    for (int kw = 0; kw < KSIZE; kw++) {
                        int iw = ow * STRIDE - PAD + kw;
                        float *col = cols + row + (kh * KSIZE + kw) * c;
                        long pix = ((long)(n * hb + ih) * hb + iw) * c;
                        if (ih >= 0 && ih < hb && iw >= 0 && iw < hb)
                            memcpy(col, img + pix, c * sizeof(float));
                        else
                            memset(col, 0, c * sizeof(float));
                    }
                }
            }
}

static void col2im(const struct layer *l, const float *cols, float *img)
{
    int hb = l->hb, hs = l->hs, c = l->cb;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < BATCH; n++) {
        memset(img + (long)n * hb * hb * c, 0, (size_t)hb * hb * c * sizeof(float));
        for (int oh = 0; oh < hs; oh++)
            for (int ow = 0; ow < hs; ow++) {
                long row = ((long)(n * hs + oh) * hs + ow) * KSIZE * KSIZE * c;
                for (int kh = 0; kh < KSIZE; kh++) {
                    int ih = oh * STRIDE - PAD + kh;
                    for (int kw = 0; kw < KSIZE; kw++) {
                        int iw = ow * STRIDE - PAD + kw;
                        const float *col = cols + row + (kh * KSIZE + kw) * c;
                        long pix = ((long)(n * hb + ih) * hb + iw) * c;
                        if (ih >= 0 && ih < hb && iw >= 0 && iw < hb)
                            for (int i = 0; i < c; i++) img[pix + i] += col[i];
                    }
                }
            }
    }
}

/* big -> small: conv fwd, deconv bwd-data.  small = cols(big) W^T. */
static void genc_down(struct bench *b)
{
    im2col(b->l, b->big_in, b->cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b->rows, b->l->cs, b->kc, 1.0f, b->cols, b->kc,
                b->w, b->kc, 0.0f, b->small_out, b->l->cs);
}

/* small -> big: conv bwd-data, deconv fwd.  big = col2im(small W). */
static void genc_up(struct bench *b)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b->rows, b->kc, b->l->cs, 1.0f, b->small_in,
                b->l->cs, b->w, b->kc, 0.0f, b->cols, b->kc);
    col2im(b->l, b->cols, b->big_out);
}

/* dW = small^T cols(big), the columns already built. */
static void genc_wgrad(struct bench *b)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b->l->cs, b->kc, b->rows, 1.0f, b->small_in,
                b->l->cs, b->cols, b->kc, 0.0f, b->dw, b->kc);
}

static void run_genc(struct bench *b, enum pass p)
{
    int conv = !b->l->deconv;
    if (p == BWD_W) {
        if (conv) im2col(b->l, b->big_in, b->cols);
        genc_wgrad(b);
    } else if ((p == FWD) == conv) {
        genc_down(b);
    } else {
        genc_up(b);
    }
}

static void run_dnnl(struct bench *b, enum pass p)
{
    dnnl_exec_arg_t args[3];
    dnnl_memory_t w = b->m_w_prim[p] ? b->m_w_prim[p] : (p == BWD_W ? b->m_dw_user : b->m_w_user);
    if (p == FWD) {
        args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, b->m_src_in};
        args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, w};
        args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, b->m_dst_out};
    } else if (p == BWD_DATA) {
        args[0] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, b->m_dst_in};
        args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, w};
        args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, b->m_src_out};
    } else {
        args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, b->m_src_in};
        args[1] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, b->m_dst_in};
        args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, w};
    }
    check(dnnl_primitive_execute(b->prim[p], stream, 3, args), "execute");
    check(dnnl_stream_wait(stream), "stream wait");
}

/* genc's weights into oneDNN's layout, or oneDNN's diff weights back. */
static void run_reorder(struct bench *b, enum pass p)
{
    if (!b->reorder[p]) return;
    dnnl_memory_t user = p == BWD_W ? b->m_dw_user : b->m_w_user;
    dnnl_exec_arg_t args[2] = {
        {DNNL_ARG_FROM, p == BWD_W ? b->m_w_prim[p] : user},
        {DNNL_ARG_TO, p == BWD_W ? user : b->m_w_prim[p]},
    };
    check(dnnl_primitive_execute(b->reorder[p], stream, 2, args), "reorder");
    check(dnnl_stream_wait(stream), "stream wait");
}

static void md_nhwc(dnnl_memory_desc_t *md, int c, int h)
{
    dnnl_dims_t dims = {BATCH, c, h, h};
    check(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nhwc), "nhwc md");
}

static dnnl_memory_t memory(const dnnl_memory_desc_t *md, void *handle)
{
    dnnl_memory_t m;
    check(dnnl_memory_create(&m, md, engine, handle), "memory");
    return m;
}

/* One pass's primitive, its weight memory and reorder when oneDNN's
 * layout differs from genc's. */
static void make_pass(struct bench *b, enum pass p, const_dnnl_op_desc_t desc, const dnnl_memory_desc_t *w_user)
{
    const_dnnl_primitive_desc_t hint = p == FWD ? NULL : b->pd[FWD];
    check(dnnl_primitive_desc_create(&b->pd[p], desc, NULL, engine, hint), "primitive desc");
    const_dnnl_primitive_desc_t pd = b->pd[p];
    check(dnnl_primitive_create(&b->prim[p], pd), "primitive");
    check(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &b->impl[p]), "impl query");
    const dnnl_memory_desc_t *w_md =
        dnnl_primitive_desc_query_md(pd, p == BWD_W ? dnnl_query_diff_weights_md : dnnl_query_weights_md, 0);
    if (!dnnl_memory_desc_equal(w_md, w_user)) {
        dnnl_primitive_desc_t rpd;
        b->m_w_prim[p] = memory(w_md, DNNL_MEMORY_ALLOCATE);
        if (p == BWD_W)
            check(dnnl_reorder_primitive_desc_create(&rpd, w_md, engine, w_user, engine, NULL), "reorder desc");
        else
            check(dnnl_reorder_primitive_desc_create(&rpd, w_user, engine, w_md, engine, NULL), "reorder desc");
        check(dnnl_primitive_create(&b->reorder[p], rpd), "reorder");
        dnnl_primitive_desc_destroy(rpd);
    }
}

static void setup(struct bench *b, const struct layer *l, unsigned *rng)
{
    memset(b, 0, sizeof *b);
    b->l = l;
    b->n_big = (long)BATCH * l->hb * l->hb * l->cb;
    b->n_small = (long)BATCH * l->hs * l->hs * l->cs;
    b->kc = (long)KSIZE * KSIZE * l->cb;
    b->n_w = l->cs * b->kc;
    b->rows = (long)BATCH * l->hs * l->hs;
    b->n_cols = b->rows * b->kc;
    b->big_in = alloc_floats(b->n_big), b->small_in = alloc_floats(b->n_small);
    b->big_out = alloc_floats(b->n_big), b->small_out = alloc_floats(b->n_small);
    b->d_big_out = alloc_floats(b->n_big), b->d_small_out = alloc_floats(b->n_small);
    b->w = alloc_floats(b->n_w), b->dw = alloc_floats(b->n_w), b->d_dw = alloc_floats(b->n_w);
    b->cols = alloc_floats(b->n_cols);
    fill(b->big_in, b->n_big, 1.0f, rng);
    fill(b->small_in, b->n_small, 1.0f, rng);
    fill(b->w, b->n_w, 0.1f, rng);

    /* genc's (cs, kh, kw, cb) is ohwi for a conv (O = cs, I = cb) and,
     * for a deconv (dims {O = cb, I = cs, kh, kw}), ihwo. */
    dnnl_memory_desc_t big, small, w_user, w_any;
    md_nhwc(&big, l->cb, l->hb);
    md_nhwc(&small, l->cs, l->hs);
    dnnl_dims_t wdims = {l->deconv ? l->cb : l->cs, l->deconv ? l->cs : l->cb, KSIZE, KSIZE};
    check(dnnl_memory_desc_init_by_tag(&w_user, 4, wdims, dnnl_f32, l->deconv ? dnnl_ihwo : dnnl_ohwi), "w md");
    check(dnnl_memory_desc_init_by_tag(&w_any, 4, wdims, dnnl_f32, dnnl_format_tag_any), "w any md");
    const dnnl_memory_desc_t *src = l->deconv ? &small : &big, *dst = l->deconv ? &big : &small;
    float *src_in = l->deconv ? b->small_in : b->big_in, *dst_in = l->deconv ? b->big_in : b->small_in;
    b->m_src_in = memory(src, src_in);
    b->m_dst_in = memory(dst, dst_in);
    b->m_src_out = memory(src, l->deconv ? b->d_small_out : b->d_big_out);
    b->m_dst_out = memory(dst, l->deconv ? b->d_big_out : b->d_small_out);
    b->m_w_user = memory(&w_user, b->w);
    b->m_dw_user = memory(&w_user, b->d_dw);

    dnnl_dims_t strides = {STRIDE, STRIDE}, pad = {PAD, PAD};
    /* the deconvolution calls take the same arguments (and desc type) */
    int d = l->deconv;
    dnnl_alg_kind_t alg = d ? dnnl_deconvolution_direct : dnnl_convolution_direct;
    dnnl_convolution_desc_t f, bd, bw;
    check((d ? dnnl_deconvolution_forward_desc_init : dnnl_convolution_forward_desc_init)(
              &f, dnnl_forward_training, alg, src, &w_any, NULL, dst, strides, pad, pad), "fwd desc");
    check((d ? dnnl_deconvolution_backward_data_desc_init : dnnl_convolution_backward_data_desc_init)(
              &bd, alg, src, &w_any, dst, strides, pad, pad), "bwd-data desc");
    check((d ? dnnl_deconvolution_backward_weights_desc_init : dnnl_convolution_backward_weights_desc_init)(
              &bw, alg, src, &w_any, NULL, dst, strides, pad, pad), "bwd-w desc");
    make_pass(b, FWD, &f, &w_user);
    make_pass(b, BWD_DATA, &bd, &w_user);
    make_pass(b, BWD_W, &bw, &w_user);
}

typedef void pass_fn(struct bench *, enum pass);

/* Median ms of REPS calls of each fn after WARMUP, the fns taking turns. */
static void time_ms(pass_fn *const fn[], int n_fn, struct bench *b, enum pass p, double *ms)
{
    double t[3][REPS];
    for (int i = 0; i < WARMUP; i++)
        for (int f = 0; f < n_fn; f++) fn[f](b, p);
    for (int i = 0; i < REPS; i++)
        for (int f = 0; f < n_fn; f++) {
            double t0 = bench_now();
            fn[f](b, p);
            t[f][i] = 1e3 * (bench_now() - t0);
        }
    for (int f = 0; f < n_fn; f++)
        ms[f] = bench_median(t[f], REPS);
}

/* Both sides once, oneDNN's result against genc's. */
static double verify(struct bench *b, enum pass p)
{
    int conv = !b->l->deconv;
    run_genc(b, p);
    if (p == BWD_W) {
        run_dnnl(b, p), run_reorder(b, p);
        return bench_max_rel_err(b->d_dw, b->dw, b->n_w);
    }
    run_reorder(b, p), run_dnnl(b, p);
    if ((p == FWD) == conv) return bench_max_rel_err(b->d_small_out, b->small_out, b->n_small);
    return bench_max_rel_err(b->d_big_out, b->big_out, b->n_big);
}

int main(int argc, char **argv)
{
    int threads = 2;
    if (argc > 2 || (argc == 2 && (threads = atoi(argv[1])) < 1)) {
        fprintf(stderr, "usage: conv_kernels [THREADS]\n");
        return 1;
    }
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
    check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine");
    check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "stream");
    const dnnl_version_t *v = dnnl_version();
    printf("threads %d, batch %d, oneDNN %d.%d.%d (cpu runtime %s), median of %d after %d warm-up\n", threads,
           BATCH, v->major, v->minor, v->patch, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other", REPS,
           WARMUP);
    printf("%-9s %-8s %8s %6s %8s %6s %7s %6s %8s  %s\n", "layer", "pass", "genc ms", "GF/s", "dnnl ms", "GF/s",
           "reord", "x", "err", "oneDNN impl");

    pass_fn *const fns[3] = {run_genc, run_dnnl, run_reorder};
    unsigned rng = 12345u;
    double sum_genc = 0, sum_dnnl = 0, sum_reorder = 0, worst_err = 0;
    double step_genc = 0, step_dnnl = 0, step_reorder = 0;
    for (int li = 0; li < N_LAYERS; li++) {
        struct bench b;
        setup(&b, &layers[li], &rng);
        double gflop = 2e-9 * b.rows * b.kc * b.l->cs;
        for (int p = 0; p < N_PASSES; p++) {
            if (p == BWD_W && b.l->deconv) im2col(b.l, b.big_in, b.cols); /* bwd-data's columns of dy */
            double err = verify(&b, p);
            double ms[3] = {0, 0, 0};
            time_ms(fns, b.reorder[p] ? 3 : 2, &b, p, ms);
            double tg = ms[0], td = ms[1], tr = ms[2];
            printf("%-9s %-8s %8.3f %6.1f %8.3f %6.1f %7.3f %6.2f %8.1e  %s\n", b.l->name, pass_names[p], tg,
                   gflop / tg * 1e3, td, gflop / td * 1e3, tr, tg / (td + tr), err, b.impl[p]);
            sum_genc += tg, sum_dnnl += td, sum_reorder += tr;
            step_genc += uses[li][p] * tg, step_dnnl += uses[li][p] * td, step_reorder += tr;
            if (err > worst_err) worst_err = err;
        }
    }
    printf("%-9s %-8s %8.3f %6s %8.3f %6s %7.3f %6.2f %8.1e\n", "total", "all", sum_genc, "", sum_dnnl, "",
           sum_reorder, sum_genc / (sum_dnnl + sum_reorder), worst_err);
    printf("%-9s %-8s %8.3f %6s %8.3f %6s %7.3f %6.2f\n", "step", "weighted", step_genc, "", step_dnnl, "",
           step_reorder, step_genc / (step_dnnl + step_reorder));
    if (worst_err > 1e-4) {
        fprintf(stderr, "conv_kernels: oneDNN and genc disagree (max rel err %.1e)\n", worst_err);
        return 1;
    }
    return 0;
}
