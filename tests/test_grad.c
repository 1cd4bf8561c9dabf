/* test_grad.c: gradient checks in double precision, by central differences.
 *
 * Graphs built by hand go through the real passes and emitter, the C is
 * compiled with -DGENC_DOUBLE into a shared object and loaded, so what is
 * checked is the code genc emits: composites, convolution geometry,
 * second derivatives (a gradient of a gradient, as WGAN-GP and R1 need),
 * and every spec's whole objective.  Each op's own VJP is in the op walk,
 * tests/test_ops.c. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genc.h"
#include "emit/emit.h"
#include "genrt_model.h"
#include "helpers.h"

TestSuite(vjp, .fini = genc_free_all);
TestSuite(autodiff, .fini = genc_free_all);
TestSuite(objective, .fini = genc_free_all);
TestSuite(conv, .fini = genc_free_all);

#define TOL 1e-6

/* ---- building test programs --------------------------------------------- */

struct case_ {
    const char *name;
    int n_tensors, n_wrt;  /* tensors [0, n_wrt) are differentiated; the rest are constants */
    struct shape shapes[8];
    double lo[8], hi[8];   /* initial values: uniform in [lo, hi), [-1, 1) by default */
    /* Builds the scalar loss from the tensors' PARAM nodes. */
    int (*loss)(struct ir *g, const int *p);
};

static int add_tensor(struct lowered *lo, const char *name, struct shape s) {
    struct ptensor t = {.name = name, .cname = name, .role = GENRT_PARAM, .shape = s, .offset = lo->n_state,
                        .ema = -1, .source = -1};
    lo->n_state += (shape_size(s) + 15) / 16 * 16;
    vec_push(&lo->tensors, t);
    return lo->tensors.len - 1;
}

static void build_program(struct lowered *lo, const struct case_ *c, bool grad) {
    struct program p = {.name = grad ? "gc_grad_0" : "gc_loss_0", .kind = grad ? PROG_GC_GRAD : PROG_GC_LOSS,
                        .batch = 1, .result = -1, .result2 = -1};
    vec_push(&lo->progs, p);
    struct ir *g = &lo->progs.data[lo->progs.len - 1].ir;
    g->cur_what = c->name;
    g->cur_loc = (struct loc){1, 1, 1, 1};
    int nodes[8];
    for (int t = 0; t < c->n_tensors; t++)
        nodes[t] = ir_param(g, t, c->shapes[t]);
    int loss = c->loss(g, nodes);
    if (!grad) {
        ir_output(g, loss, 0, 0);
        return;
    }
    int grads[8];
    autodiff(g, loss, nodes, c->n_wrt, grads);
    for (int k = 0; k < c->n_wrt; k++) {
        /* no path from the tensor to the loss: the gradient is zero, and
         * the finite differences must agree */
        if (grads[k] < 0)
            grads[k] = ir_fill(g, 0, c->shapes[k]);
        ir_store_grad(g, grads[k], lo->tensors.data[k].offset);
    }
}

typedef double real;
struct loaded {
    void *so;
    real *(*state)(void);
    double (*loss)(void);
    void (*grad)(real *g);
};

static struct loaded compile_case(const struct case_ *c, long *n_state) {
    struct lowered lo = {0};
    static const char *names[] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"};
    for (int t = 0; t < c->n_tensors; t++)
        add_tensor(&lo, names[t], c->shapes[t]);
    vec_push(&lo.terms, c->name);
    build_program(&lo, c, false);
    build_program(&lo, c, true);
    run_passes(&lo);
    size_t len;
    char *code = emit_c_programs(&lo, c->name, &len);
    char *dir = test_tmpdir();
    char *src = xprintf("%s/%s.c", dir, c->name), *harness = xprintf("%s/%s_h.c", dir, c->name);
    write_file(src, code, len);
    char *h = xprintf("#include \"%s\"\n"
                      "real *h_state(void) { return state; }\n"
                      "double h_loss(void) { double o[1]; gc_loss_0(o); return o[0]; }\n"
                      "void h_grad(real *g) { gc_grad_0(g); }\n", src);
    write_file(harness, h, strlen(h));
    char *so = xprintf("%s/%s.so", dir, c->name);
    struct loaded l = {.so = load_double_so(harness, so)};
    l.state = (real *(*)(void))dlsym(l.so, "h_state");
    l.loss = (double (*)(void))dlsym(l.so, "h_loss");
    l.grad = (void (*)(real *))dlsym(l.so, "h_grad");
    cr_assert(l.state && l.loss && l.grad);
    *n_state = lo.n_state;
    for (int t = 0; t < c->n_tensors; t++) {
        double a = c->lo[t], b = c->hi[t];
        if (a == 0 && b == 0)
            a = -1, b = 1;
        real *s = l.state() + lo.tensors.data[t].offset;
        for (long i = 0; i < shape_size(c->shapes[t]); i++)
            s[i] = a + (b - a) * test_uniform();
    }
    return l;
}

/* Worst relative error of the emitted gradient over every differentiated
 * scalar, against central differences. */
static double check_case(const struct case_ *c) {
    long n_state;
    struct loaded l = compile_case(c, &n_state);
    real *st = l.state();
    real *g = calloc((size_t)n_state, sizeof *g);
    l.grad(g);
    double worst = 0;
    long off = 0;
    for (int t = 0; t < c->n_wrt; t++) {
        long size = shape_size(c->shapes[t]);
        for (long i = 0; i < size; i++) {
            double h = 1e-5, saved = st[off + i];
            st[off + i] = saved + h;
            double lp = l.loss();
            st[off + i] = saved - h;
            double lm = l.loss();
            st[off + i] = saved;
            double num = (lp - lm) / (2 * h), ana = g[off + i];
            double err = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), 1e-3);
            if (err > worst)
                worst = err;
        }
        off += (size + 15) / 16 * 16;
    }
    free(g);
    dlclose(l.so);
    return worst;
}

/* Compile c and return its gradient (all of the state) and its state. */
static double *case_grad(const struct case_ *c, double **state, struct loaded *keep) {
    long n_state;
    struct loaded l = compile_case(c, &n_state);
    double *g = xalloc(sizeof(double) * (size_t)n_state);
    l.grad(g);
    *state = l.state();
    *keep = l;
    return g;
}

static long tensor_offset(const struct case_ *c, int t) {
    long off = 0;
    for (int k = 0; k < t; k++)
        off += (shape_size(c->shapes[k]) + 15) / 16 * 16;
    return off;
}

/* sum(y * w): a loss whose gradient reaches every element of y with a
 * different weight, so no VJP mistake can cancel out. */
static int weighted(struct ir *g, int y, int w) { return ir_sum_all(g, ir_binary(g, OP_MUL, y, w)); }


static struct shape S1(int a) { return (struct shape){1, {a}}; }
static struct shape S2(int a, int b) { return (struct shape){2, {a, b}}; }
static struct shape S4(int a, int b, int c, int d) { return (struct shape){4, {a, b, c, d}}; }

#define CHECK(c) do { \
        double worst_ = check_case(&(c)); \
        cr_log_info("%s: worst relative error %.3g", (c).name, worst_); \
        cr_expect(worst_ <= TOL, "%s: worst relative error %.3g > %g", (c).name, worst_, TOL); \
    } while (0)

/* ---- composites ------------------------------------------------------------ *
 * Every op's own VJP is checked by the op walk (tests/test_ops.c). */

/* Binary cross-entropy with logits as the GAN losses build it:
 * mean(softplus(-l_real)) + mean(softplus(l_fake)), at large logits too. */
static int l_bce(struct ir *g, const int *p) {
    int real_ = ir_mean_all(g, ir_unary(g, OP_SOFTPLUS, ir_unary(g, OP_NEG, p[0])));
    int fake = ir_mean_all(g, ir_unary(g, OP_SOFTPLUS, p[1]));
    return ir_binary(g, OP_ADD, real_, fake);
}

Test(vjp, bce_with_logits) {
    struct case_ c = {"bce_logits", 2, 2, {S2(8, 1), S2(8, 1)}, {-40, -40}, {40, 40}, .loss = l_bce};
    CHECK(c);
}

/* ---- second derivatives ----------------------------------------------------- */

/* A small dense network f(x) = sum(act(x W1^T + b1) W2^T); the loss is
 * sum((df/dx)^2), whose gradient with respect to W1, b1 and W2 comes from
 * differentiating the AD-built backward graph. */
static int second_order(struct ir *g, const int *p, int act) {
    int x = p[3];
    int h = ir_add_bias(g, ir_matmul(g, x, p[0], 0, 1), p[1]);
    h = act == 0 ? ir_unary(g, OP_TANH, h) : act == 1 ? ir_leaky_relu(g, h, 0.2) : ir_unary(g, OP_SOFTPLUS, h);
    int f = ir_sum_all(g, ir_matmul(g, h, p[2], 0, 1));
    int gx;
    autodiff(g, f, &x, 1, &gx);
    return ir_sum_all(g, ir_unary(g, OP_SQUARE, gx));
}

static int l_second_tanh(struct ir *g, const int *p) { return second_order(g, p, 0); }
static int l_second_lrelu(struct ir *g, const int *p) { return second_order(g, p, 1); }
static int l_second_softplus(struct ir *g, const int *p) { return second_order(g, p, 2); }

Test(autodiff, second_derivative_through_dense_network) {
    struct case_ cases[] = {
        {"second_tanh", 4, 3, {S2(6, 3), S1(6), S2(1, 6), S2(4, 3)}, .loss = l_second_tanh},
        {"second_lrelu", 4, 3, {S2(6, 3), S1(6), S2(1, 6), S2(4, 3)}, .loss = l_second_lrelu},
        {"second_softplus", 4, 3, {S2(6, 3), S1(6), S2(1, 6), S2(4, 3)}, .loss = l_second_softplus},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(cases[i]);
}

/* ---- whole objectives, for every spec ------------------------------------ */

/* Every spec's whole objective, in four tests of every fourth spec (in
 * name order), so that --jobs runs them side by side. */
static void gradcheck_specs(int part) {
    char **specs;
    int n = list_specs(&specs);
    cr_assert(n >= 2, "no specs found");
    for (int s = part; s < n; s += 4) {
        /* The sanitized run (GENC_QUICK) loads the same unsanitized .so, so
         * only the checker itself is under the sanitizers there: three small
         * specs of three objectives exercise all of it. */
        if (getenv("GENC_QUICK") && strcmp(specs[s], "gan_ring") && strcmp(specs[s], "vae") &&
            strcmp(specs[s], "wgan_gp_ring"))
            continue;
        char *dir = test_tmpdir();
        char *so = xprintf("%s/%s.so", dir, specs[s]);
        void *h = load_double_so(xprintf("generated/%s.c", specs[s]), so);
        const struct genrt_model *m = dlsym(h, "genc_model_f64");
        cr_assert(m, "%s: no genc_model_f64", specs[s]);
        /* fewer entries for the big models: each loss costs a forward pass
         * (a CycleGAN's, eight network passes) */
        double worst = model_gradcheck(m, 1e-6, m->domain_b ? 4 : m->n_state > 4000000 ? 6 : 20);
        cr_log_info("%s: whole-objective worst relative error %.3g (%d entries at a kink skipped)", specs[s], worst,
                    gradcheck_kinks);
        cr_expect(worst <= TOL, "%s: whole-objective gradient error %.3g > %g", specs[s], worst, TOL);
        cr_expect(gradcheck_kinks * 10 <= gradcheck_entries, "%s: %d of %d entries skipped at kinks", specs[s],
                  gradcheck_kinks, gradcheck_entries);
        dlclose(h);
    }
}

Test(objective, every_spec_gradcheck_in_double_part1, .timeout = 900) { gradcheck_specs(0); }
Test(objective, every_spec_gradcheck_in_double_part2, .timeout = 900) { gradcheck_specs(1); }
Test(objective, every_spec_gradcheck_in_double_part3, .timeout = 900) { gradcheck_specs(2); }
Test(objective, every_spec_gradcheck_in_double_part4, .timeout = 900) { gradcheck_specs(3); }

/* Every layer kind, lowered by genc from tests/specs/zoo.gm. */
Test(objective, every_layer_kind_gradcheck_in_double, .timeout = 120) {
    char *dir = test_tmpdir();
    char *c = xprintf("%s/zoo.c", dir);
    cr_assert_eq(run("%s tests/specs/zoo.gm -o %s", getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc", c), 0);
    void *h = load_double_so(c, xprintf("%s/zoo.so", dir));
    const struct genrt_model *m = dlsym(h, "genc_model_f64");
    cr_assert(m);
    double worst = model_gradcheck(m, 1e-6, 20);
    cr_log_info("zoo: whole-objective worst relative error %.3g", worst);
    cr_expect(worst <= TOL, "zoo: whole-objective gradient error %.3g > %g", worst, TOL);
    dlclose(h);
}

/* ---- convolution geometry ----------------------------------------------------- */

struct geom {
    int n, h, w, ci, co, k, s, p, op;
};

static struct geom cur;

static int out_size(int in, bool deconv) {
    return deconv ? (in - 1) * cur.s - 2 * cur.p + cur.k + cur.op : (in + 2 * cur.p - cur.k) / cur.s + 1;
}

/* conv as genc lowers it: y = im2col(x) W^T, loss = sum(y * r) */
static int l_conv(struct ir *g, const int *p) {
    int ho = out_size(cur.h, false), wo = out_size(cur.w, false);
    return weighted(g, ir_matmul(g, ir_im2col(g, p[0], (struct geom_attr){cur.k, cur.s, cur.p, ho, wo}), p[1], 0, 1), p[2]);
}

/* deconv as genc lowers it: y = col2im(x W) */
static int l_deconv(struct ir *g, const int *p) {
    int ho = out_size(cur.h, true), wo = out_size(cur.w, true);
    int x2 = ir_reshape(g, p[0], S2(cur.n * cur.h * cur.w, cur.ci));
    int y = ir_col2im(g, ir_matmul(g, x2, p[1], 0, 0), S4(cur.n, ho, wo, cur.co),
                      (struct geom_attr){cur.k, cur.s, cur.p, cur.h, cur.w});
    return weighted(g, y, p[2]);
}

static const struct geom geoms[] = {
    {2, 5, 5, 3, 4, 3, 1, 1, 0}, {2, 6, 6, 2, 3, 4, 2, 1, 0}, {1, 7, 5, 3, 2, 3, 2, 0, 1},
    {3, 4, 4, 1, 5, 2, 2, 0, 1}, {2, 5, 6, 2, 2, 5, 3, 2, 2}, {1, 3, 3, 4, 3, 1, 1, 0, 0},
};

/* The emitted conv and deconv against direct loops: d loss / d r is y itself. */
Test(conv, conv_and_deconv_match_direct_loops) {
    for (size_t gi = 0; gi < sizeof geoms / sizeof geoms[0]; gi++) {
        cur = geoms[gi];
        for (int deconv = 0; deconv < 2; deconv++) {
            int ho = out_size(cur.h, deconv), wo = out_size(cur.w, deconv), kk = cur.k * cur.k;
            struct case_ c = {deconv ? "deconv_direct" : "conv_direct", 3, 3,
                              {S4(cur.n, cur.h, cur.w, cur.ci),
                               deconv ? S2(cur.ci, kk * cur.co) : S2(cur.co, kk * cur.ci),
                               deconv ? S4(cur.n, ho, wo, cur.co) : S2(cur.n * ho * wo, cur.co)},
                              .loss = deconv ? l_deconv : l_conv};
            double *st;
            struct loaded l;
            double *g = case_grad(&c, &st, &l);
            const double *x = st, *w = st + tensor_offset(&c, 1), *y = g + tensor_offset(&c, 2);
            double worst = 0;
            for (int n = 0; n < cur.n; n++)
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++)
                        for (int o = 0; o < cur.co; o++) {
                            double want = 0;
                            if (!deconv) {
                                for (int kh = 0; kh < cur.k; kh++)
                                    for (int kw = 0; kw < cur.k; kw++)
                                        for (int i = 0; i < cur.ci; i++) {
                                            int ih = oh * cur.s - cur.p + kh, iw = ow * cur.s - cur.p + kw;
                                            if (ih >= 0 && ih < cur.h && iw >= 0 && iw < cur.w)
                                                want += x[((n * cur.h + ih) * cur.w + iw) * cur.ci + i] *
                                                        w[o * kk * cur.ci + (kh * cur.k + kw) * cur.ci + i];
                                        }
                            } else {
                                /* every input pixel whose kernel footprint covers (oh, ow) */
                                for (int ih = 0; ih < cur.h; ih++)
                                    for (int iw = 0; iw < cur.w; iw++) {
                                        int kh = oh + cur.p - ih * cur.s, kw = ow + cur.p - iw * cur.s;
                                        if (kh < 0 || kh >= cur.k || kw < 0 || kw >= cur.k)
                                            continue;
                                        for (int i = 0; i < cur.ci; i++)
                                            want += x[((n * cur.h + ih) * cur.w + iw) * cur.ci + i] *
                                                    w[i * kk * cur.co + (kh * cur.k + kw) * cur.co + o];
                                    }
                            }
                            double got = y[((n * ho + oh) * wo + ow) * cur.co + o];
                            worst = fmax(worst, fabs(got - want));
                        }
            cr_expect_leq(worst, 1e-12, "%s geometry %zu: off by %g", c.name, gi, worst);
            dlclose(l.so);
        }
    }
}

Test(conv, conv_and_deconv_gradients) {
    for (size_t gi = 0; gi < sizeof geoms / sizeof geoms[0]; gi++) {
        cur = geoms[gi];
        int kk = cur.k * cur.k;
        int ho = out_size(cur.h, false), wo = out_size(cur.w, false);
        struct case_ conv = {"conv_grad", 3, 2, {S4(cur.n, cur.h, cur.w, cur.ci), S2(cur.co, kk * cur.ci),
                                               S2(cur.n * ho * wo, cur.co)}, .loss = l_conv};
        CHECK(conv);
        ho = out_size(cur.h, true), wo = out_size(cur.w, true);
        struct case_ deconv = {"deconv_grad", 3, 2, {S4(cur.n, cur.h, cur.w, cur.ci), S2(cur.ci, kk * cur.co),
                                                   S4(cur.n, ho, wo, cur.co)}, .loss = l_deconv};
        CHECK(deconv);
    }
}

/* WGAN-GP's path: the gradient of a critic with layernorm-style row ops,
 * its per-example norm, and that differentiated again. */
static int l_penalty(struct ir *g, const int *p) {
    int x = p[2];
    int h = ir_add_bias(g, ir_matmul(g, x, p[0], 0, 1), p[1]);
    int mean = ir_scale(g, ir_sum_row(g, h), 1.0 / 5);
    h = ir_leaky_relu(g, ir_row_op(g, OP_ADD_ROW, h, ir_unary(g, OP_NEG, mean)), 0.2);
    int f = ir_sum_all(g, ir_matmul(g, h, p[3], 0, 1));
    int gx;
    autodiff(g, f, &x, 1, &gx);
    int norm = ir_unary(g, OP_SQRT, ir_addc(g, ir_sum_row(g, ir_unary(g, OP_SQUARE, gx)), 1e-12));
    return ir_mean_all(g, ir_unary(g, OP_SQUARE, ir_addc(g, norm, -1)));
}

Test(autodiff, gradient_penalty_second_order) {
    struct case_ c = {"penalty", 4, 2, {S2(5, 3), S1(5), S2(4, 3), S2(1, 5)}, .loss = l_penalty};
    CHECK(c);
}

/* Second order through a conv: the gradient penalty's path. */
static int l_conv_second(struct ir *g, const int *p) {
    cur = (struct geom){2, 5, 5, 2, 3, 3, 2, 1, 0};
    int x = p[2];
    int y = ir_matmul(g, ir_im2col(g, x, (struct geom_attr){3, 2, 1, 3, 3}), p[0], 0, 1);
    int f = ir_sum_all(g, ir_binary(g, OP_MUL, ir_unary(g, OP_SOFTPLUS, y), p[1]));
    int gx;
    autodiff(g, f, &x, 1, &gx);
    return ir_sum_all(g, ir_unary(g, OP_SQUARE, gx));
}

Test(autodiff, second_derivative_through_conv) {
    struct case_ c = {"second_conv", 3, 2, {S2(3, 18), S2(18, 3), S4(2, 5, 5, 2)}, .loss = l_conv_second};
    CHECK(c);
}

/* ---- the R1 penalty ------------------------------------------------------------ */

/* A spec's C in double, with a harness that exports the gradient check's
 * real batch (static in the emitted file) so it can be moved in double. */
static const struct genrt_model *load_spec_text(const char *name, const char *text, double **gc_x, void **so) {
    char *dir = test_tmpdir();
    char *spec = xprintf("%s/%s.gm", dir, name), *c = xprintf("%s/%s.c", dir, name);
    write_file(spec, text, strlen(text));
    cr_assert_eq(run("%s %s -o %s", genc_path(), spec, c), 0, "genc %s failed", name);
    char *harness = xprintf("%s/%s_h.c", dir, name);
    char *h = xprintf("#include \"%s\"\nreal *h_gc_x(void) { return gc_x; }\n", c);
    write_file(harness, h, strlen(h));
    *so = load_double_so(harness, xprintf("%s/%s.so", dir, name));
    double *(*x)(void) = (double *(*)(void))dlsym(*so, "h_gc_x");
    const struct genrt_model *m = dlsym(*so, "genc_model_f64");
    cr_assert(x && m);
    *gc_x = x();
    return m;
}

/* a ring GAN whose critic has elu and leaky_relu: R1's gradient of the
 * critic, differentiated again, goes through both */
static char *ring_spec(const char *objective) {
    return xprintf("model r\ndata ring8 { }\nlatent z ~ normal(4)\n"
                   "network G : [4] -> [2] { dense 16; relu; dense 2 }\n"
                   "network D : [2] -> [1] { dense 16; elu; dense 16; leaky_relu 0.2; dense 1 }\n"
                   "objective gan(G, D) { %s }\n"
                   "optimize G with adam { }\noptimize D with adam { }\ntrain { batch 4 }\n", objective);
}

/* R1's value is gamma/2 E_x |grad_x D(x)|^2 on the real batch: the loss_D
 * of a WGAN with 'r1 3' less the same model's without it, against the
 * gradient of D by central differences.  For a WGAN, d loss_D / d x_i =
 * -grad D(x_i) / N, so |grad D(x_i)|^2 = N^2 |d loss_D / d x_i|^2. */
Test(objective, r1_is_half_gamma_times_the_mean_squared_gradient_of_d_on_real_data) {
    void *so_a, *so_b;
    double *xa, *xb;
    const struct genrt_model *a = load_spec_text("r1_a", ring_spec("form wgan; clip 0.01; r1 3"), &xa, &so_a);
    const struct genrt_model *b = load_spec_text("r1_b", ring_spec("form wgan; clip 0.01"), &xb, &so_b);
    cr_assert_eq(a->n_state, b->n_state, "r1 adds no state");
    cr_assert_eq(a->shape_hash, b->shape_hash);
    double *sa = a->state, *sb = b->state;
    for (long i = 0; i < a->n_state; i++)
        sa[i] = sb[i] = test_uniform() - 0.5;
    int n = a->gc_batch, d = (int)a->sample_size;
    float z[64];
    for (int i = 0; i < n * a->latent_dim; i++)
        z[i] = (float)(2 * test_uniform() - 1);
    a->gc_set_input(GENRT_SLOT_Z, z);
    b->gc_set_input(GENRT_SLOT_Z, z);
    for (int i = 0; i < n * d; i++)
        xa[i] = xb[i] = 4 * test_uniform() - 2;
    double penalty = a->gc_loss(0) - b->gc_loss(0), want = 0;
    for (int i = 0; i < n * d; i++) {
        double h = 1e-5, saved = xb[i];
        xb[i] = saved + h;
        double lp = b->gc_loss(0);
        xb[i] = saved - h;
        double lm = b->gc_loss(0);
        xb[i] = saved;
        double dldx = (lp - lm) / (2 * h);
        want += (double)n * n * dldx * dldx;
    }
    want *= 3.0 / 2 / n;
    cr_log_info("R1: %.12g, from central differences %.12g", penalty, want);
    cr_expect(want > 1e-6, "a degenerate critic: its gradient is %g", want);
    cr_expect(fabs(penalty - want) <= 1e-7 * fmax(want, 1e-6), "R1 is %.12g, gamma/2 E|grad D|^2 is %.12g", penalty,
              want);
    dlclose(so_a);
    dlclose(so_b);
}

/* The whole objective with R1, in double, for a form with sigmoid
 * probabilities, a hinge and a conditional conv critic. */
Test(objective, r1_gradcheck_in_double, .timeout = 120) {
    const char *specs[] = {
        ring_spec("form nonsaturating; r1 10"),
        ring_spec("form hinge; r1 0.5; critic_steps 2"),
        "model c\ndata fashion_mnist { range -1 1 }\nlatent z ~ normal(8)\n"
        "network G : [8] -> [1, 28, 28] { cond onehot; dense 784; tanh; reshape [1, 28, 28] }\n"
        "network D : [1, 28, 28] -> [1] { cond embed 3; conv 2 k4 s4; elu 0.5; flatten; dense 1 }\n"
        "objective gan(G, D) { form lsgan; r1 1 }\n"
        "optimize G with adam { }\noptimize D with sgd { lr 0.01; momentum 0.9 }\ntrain { batch 4 }\n",
    };
    for (int k = 0; k < 3; k++) {
        void *so;
        double *x;
        const struct genrt_model *m = load_spec_text(xprintf("r1_gc%d", k), specs[k], &x, &so);
        double worst = model_gradcheck(m, 1e-6, 20);
        cr_log_info("r1 spec %d: whole-objective worst relative error %.3g", k, worst);
        cr_expect(worst <= TOL, "r1 spec %d: whole-objective gradient error %.3g > %g", k, worst, TOL);
        dlclose(so);
    }
}
