/* test_grad.c: gradient checks in double precision, by central differences.
 *
 * Each op's VJP is checked on a tiny graph built by hand: the IR goes
 * through the real passes and emitter, the C is compiled with
 * -DGENC_DOUBLE into a shared object and loaded, so what is checked is the
 * code genc emits.  Second derivatives (a gradient of a gradient, as
 * WGAN-GP needs) and every spec's whole objective are checked the same way. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genc.h"
#include "genrt_model.h"
#include "helpers.h"

TestSuite(vjp, .fini = genc_free_all);
TestSuite(autodiff, .fini = genc_free_all);
TestSuite(objective, .fini = genc_free_all);

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
    struct ptensor t = {.name = name, .cname = name, .role = GENRT_PARAM, .shape = s, .offset = lo->n_state};
    lo->n_state += (shape_size(s) + 15) / 16 * 16;
    vec_push(&lo->tensors, t);
    return lo->tensors.len - 1;
}

static void build_program(struct lowered *lo, const struct case_ *c, bool grad) {
    struct program p = {.name = grad ? "gc_grad_0" : "gc_loss_0", .kind = grad ? PROG_GC_GRAD : PROG_GC_LOSS,
                        .batch = 1, .result = -1};
    vec_push(&lo->progs, p);
    struct ir *g = &lo->progs.data[lo->progs.len - 1].ir;
    g->cur_what = c->name;
    g->cur_loc = (struct loc){1, 1, 1, 1};
    int nodes[8];
    for (int t = 0; t < c->n_tensors; t++)
        nodes[t] = ir_param(g, t, c->shapes[t]);
    int loss = c->loss(g, nodes);
    if (!grad) {
        int id = ir_effect(g, OP_OUTPUT, &loss, 1);
        ir_node(g, id)->i[0] = 0;
        return;
    }
    int grads[8];
    autodiff(g, loss, nodes, c->n_wrt, grads);
    for (int k = 0; k < c->n_wrt; k++) {
        /* no path from the tensor to the loss: the gradient is zero, and
         * the finite differences must agree */
        if (grads[k] < 0)
            grads[k] = ir_fill(g, 0, c->shapes[k]);
        int id = ir_effect(g, OP_STORE_GRAD, &grads[k], 1);
        ir_node(g, id)->i[1] = (int)lo->tensors.data[k].offset;
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

/* sum(y * w): a loss whose gradient reaches every element of y with a
 * different weight, so no VJP mistake can cancel out. */
static int weighted(struct ir *g, int y, int w) { return ir_sum_all(g, ir_binary(g, OP_MUL, y, w)); }

static int sq(struct ir *g, int x) { return ir_unary(g, OP_SQUARE, x); }

static struct shape S1(int a) { return (struct shape){1, {a}}; }
static struct shape S2(int a, int b) { return (struct shape){2, {a, b}}; }
static struct shape S4(int a, int b, int c, int d) { return (struct shape){4, {a, b, c, d}}; }

#define CHECK(c) do { \
        double worst_ = check_case(&(c)); \
        cr_log_info("%s: worst relative error %.3g", (c).name, worst_); \
        cr_expect(worst_ <= TOL, "%s: worst relative error %.3g > %g", (c).name, worst_, TOL); \
    } while (0)

/* ---- one test per op ------------------------------------------------------ */

static int l_matmul_nn(struct ir *g, const int *p) { return weighted(g, ir_matmul(g, p[0], p[1], 0, 0), p[2]); }
static int l_matmul_nt(struct ir *g, const int *p) { return weighted(g, ir_matmul(g, p[0], p[1], 0, 1), p[2]); }
static int l_matmul_tn(struct ir *g, const int *p) { return weighted(g, ir_matmul(g, p[0], p[1], 1, 0), p[2]); }
static int l_matmul_tt(struct ir *g, const int *p) { return weighted(g, ir_matmul(g, p[0], p[1], 1, 1), p[2]); }

Test(vjp, matmul) {
    struct case_ nn = {"matmul_nn", 3, 2, {S2(3, 4), S2(4, 5), S2(3, 5)}, .loss = l_matmul_nn};
    struct case_ nt = {"matmul_nt", 3, 2, {S2(3, 4), S2(5, 4), S2(3, 5)}, .loss = l_matmul_nt};
    struct case_ tn = {"matmul_tn", 3, 2, {S2(4, 3), S2(4, 5), S2(3, 5)}, .loss = l_matmul_tn};
    struct case_ tt = {"matmul_tt", 3, 2, {S2(4, 3), S2(5, 4), S2(3, 5)}, .loss = l_matmul_tt};
    CHECK(nn);
    CHECK(nt);
    CHECK(tn);
    CHECK(tt);
}

static int l_bias(struct ir *g, const int *p) { return weighted(g, ir_add_bias(g, p[0], p[1]), p[2]); }
static int l_sumch(struct ir *g, const int *p) { return weighted(g, ir_sum_channel(g, p[0]), p[1]); }

Test(vjp, add_bias_and_sum_channel) {
    struct case_ dense = {"add_bias_2d", 3, 2, {S2(3, 5), S1(5), S2(3, 5)}, .loss = l_bias};
    struct case_ conv = {"add_bias_4d", 3, 2, {S4(2, 3, 2, 2), S1(3), S4(2, 3, 2, 2)}, .loss = l_bias};
    struct case_ sum = {"sum_channel", 2, 1, {S4(2, 3, 2, 2), S1(3)}, .loss = l_sumch};
    CHECK(dense);
    CHECK(conv);
    CHECK(sum);
}

static int l_add(struct ir *g, const int *p) { return weighted(g, ir_binary(g, OP_ADD, p[0], p[1]), p[2]); }
static int l_sub(struct ir *g, const int *p) { return weighted(g, ir_binary(g, OP_SUB, p[0], p[1]), p[2]); }
static int l_mul(struct ir *g, const int *p) { return weighted(g, ir_binary(g, OP_MUL, p[0], p[1]), p[2]); }

Test(vjp, binary_and_scalar_broadcast) {
    struct case_ add = {"add", 3, 2, {S2(3, 4), S2(3, 4), S2(3, 4)}, .loss = l_add};
    struct case_ sub = {"sub", 3, 2, {S2(3, 4), S2(3, 4), S2(3, 4)}, .loss = l_sub};
    struct case_ mul = {"mul", 3, 2, {S2(3, 4), S2(3, 4), S2(3, 4)}, .loss = l_mul};
    struct case_ adds = {"add_scalar", 3, 2, {S2(3, 4), S1(1), S2(3, 4)}, .loss = l_add};
    struct case_ subs = {"sub_scalar", 3, 2, {S1(1), S2(3, 4), S2(3, 4)}, .loss = l_sub};
    struct case_ muls = {"mul_scalar", 3, 2, {S2(3, 4), S1(1), S2(3, 4)}, .loss = l_mul};
    CHECK(add);
    CHECK(sub);
    CHECK(mul);
    CHECK(adds);
    CHECK(subs);
    CHECK(muls);
}

static int l_neg(struct ir *g, const int *p) { return weighted(g, ir_unary(g, OP_NEG, p[0]), p[1]); }
static int l_scale(struct ir *g, const int *p) { return weighted(g, ir_scale(g, p[0], -2.5), p[1]); }
static int l_addc(struct ir *g, const int *p) { return weighted(g, sq(g, ir_addc(g, p[0], 0.75)), p[1]); }
static int l_square(struct ir *g, const int *p) { return weighted(g, ir_unary(g, OP_SQUARE, p[0]), p[1]); }
static int l_tanh(struct ir *g, const int *p) { return weighted(g, ir_unary(g, OP_TANH, p[0]), p[1]); }
static int l_sigmoid(struct ir *g, const int *p) { return weighted(g, ir_unary(g, OP_SIGMOID, p[0]), p[1]); }
static int l_softplus(struct ir *g, const int *p) { return weighted(g, ir_unary(g, OP_SOFTPLUS, p[0]), p[1]); }
static int l_relu(struct ir *g, const int *p) { return weighted(g, ir_leaky_relu(g, p[0], 0), p[1]); }
static int l_lrelu(struct ir *g, const int *p) { return weighted(g, ir_leaky_relu(g, p[0], 0.2), p[1]); }
static int l_lrelu_grad(struct ir *g, const int *p) {
    return weighted(g, ir_leaky_relu_grad(g, p[2], p[0], 0.2), p[1]);
}

Test(vjp, unary) {
    struct case_ cases[] = {
        {"neg", 2, 1, {S2(3, 4), S2(3, 4)}, .loss = l_neg},
        {"scale", 2, 1, {S2(3, 4), S2(3, 4)}, .loss = l_scale},
        {"addc", 2, 1, {S2(3, 4), S2(3, 4)}, .loss = l_addc},
        {"square", 2, 1, {S2(3, 4), S2(3, 4)}, .loss = l_square},
        {"tanh", 2, 1, {S2(3, 4), S2(3, 4)}, {-3, 0}, {3, 0}, .loss = l_tanh},
        {"sigmoid", 2, 1, {S2(3, 4), S2(3, 4)}, {-4, 0}, {4, 0}, .loss = l_sigmoid},
        {"softplus", 2, 1, {S2(3, 4), S2(3, 4)}, {-30, 0}, {30, 0}, .loss = l_softplus},
        {"relu", 2, 1, {S2(3, 4), S2(3, 4)}, .loss = l_relu},
        {"leaky_relu", 2, 1, {S2(3, 4), S2(3, 4)}, .loss = l_lrelu},
        {"lrelu_grad", 3, 1, {S2(3, 4), S2(3, 4), S2(3, 4)}, .loss = l_lrelu_grad},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(cases[i]);
}

static int l_sum_all(struct ir *g, const int *p) {
    return sq(g, ir_sum_all(g, ir_binary(g, OP_MUL, p[0], p[1])));
}
static int l_mean(struct ir *g, const int *p) { return sq(g, ir_mean_all(g, ir_binary(g, OP_MUL, p[0], p[1]))); }
static int l_broadcast(struct ir *g, const int *p) { return weighted(g, ir_broadcast(g, p[0], S2(3, 4)), p[1]); }
static int l_reshape(struct ir *g, const int *p) {
    return weighted(g, ir_unary(g, OP_TANH, ir_reshape(g, p[0], S4(2, 3, 2, 1))), p[1]);
}

Test(vjp, reductions_and_views) {
    struct case_ cases[] = {
        {"sum_all", 2, 1, {S2(3, 4), S2(3, 4)}, .loss = l_sum_all},
        {"mean_all", 2, 1, {S2(3, 4), S2(3, 4)}, .loss = l_mean},
        {"broadcast", 2, 1, {S1(1), S2(3, 4)}, .loss = l_broadcast},
        {"reshape", 2, 1, {S2(3, 4), S4(2, 3, 2, 1)}, .loss = l_reshape},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(cases[i]);
}

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

Test(objective, every_spec_gradcheck_in_double, .timeout = 300) {
    char **specs;
    int n = list_specs(&specs);
    cr_assert(n >= 2, "no specs found");
    for (int s = 0; s < n; s++) {
        char *dir = test_tmpdir();
        char *so = xprintf("%s/%s.so", dir, specs[s]);
        void *h = load_double_so(xprintf("generated/%s.c", specs[s]), so);
        const struct genrt_model *m = dlsym(h, "genc_model_f64");
        cr_assert(m, "%s: no genc_model_f64", specs[s]);
        double worst = model_gradcheck(m, 1e-5, 20);
        cr_log_info("%s: whole-objective worst relative error %.3g", specs[s], worst);
        cr_expect(worst <= TOL, "%s: whole-objective gradient error %.3g > %g", specs[s], worst, TOL);
        dlclose(h);
    }
}
