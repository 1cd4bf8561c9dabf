/* test_ops.c: every op in the table, walked.
 *
 * Each op has at least one case here, and the walk fails for an op
 * without one, so an op cannot be added to ops.def without both checks:
 *   - its reference evaluator (ops.c, in double) against the C genc emits
 *     for it: the cases' graphs go through the real passes and emitter,
 *     are compiled with -DGENC_DOUBLE and run, and an interpreter runs the
 *     same graphs node by node on op_ref; outputs, the state (effects
 *     update it in place) and stored gradients must agree;
 *   - for an op with a VJP, the gradient of sum(case * w) with respect to
 *     the case's differentiable tensors, from the emitted backward, against
 *     central differences of the emitted forward.
 * All cases go into one C file per check, compiled once. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit/emit.h"
#include "genc.h"
#include "genrt_hash.h"
#include "genrt_model.h"
#include "helpers.h"

TestSuite(ops, .fini = genc_free_all);

enum { MAX_T = 6, OUT_MAX = 4096, IN_X = 6 };

struct op_case {
    const char *name;
    enum op op;
    int n_tensors, n_diff;   /* tensors [0, n_diff) are differentiated (ops with a VJP) */
    struct shape shapes[MAX_T];
    double lo[MAX_T], hi[MAX_T]; /* uniform in [lo, hi); both 0: [-1, 1) */
    unsigned labels;         /* bit t: tensor t holds class indices 0 .. hi[t] - 1 */
    /* The graph on the tensors' PARAM nodes: the node whose value is
     * compared, or -1 when the case is an effect (the state is). */
    int (*build)(struct ir *g, const int *t);
};

/* shapes, as initializers (and as values: SHAPE(S2(2, 3))) */
#define S1(a) {1, {a}}
#define S2(a, b) {2, {a, b}}
#define S4(a, b, c, d) {4, {a, b, c, d}}
#define SHAPE(s) ((struct shape)s)

static int bin(struct ir *g, enum op op, const int *t) { return ir_binary(g, op, t[0], t[1]); }
static int un(struct ir *g, enum op op, const int *t) { return ir_unary(g, op, t[0]); }

/* ---- the cases, in ops.def's order ------------------------------------------ */

static int b_input(struct ir *g, const int *t) { (void)t; return ir_input(g, GENRT_SLOT_X, SHAPE(S2(2, 3))); }
static int b_param(struct ir *g, const int *t) { (void)g; return t[0]; }
static int b_fill(struct ir *g, const int *t) { (void)t; return ir_fill(g, 0.37, SHAPE(S2(2, 3))); }
static int b_mm_nn(struct ir *g, const int *t) { return ir_matmul(g, t[0], t[1], false, false); }
static int b_mm_nt(struct ir *g, const int *t) { return ir_matmul(g, t[0], t[1], false, true); }
static int b_mm_tn(struct ir *g, const int *t) { return ir_matmul(g, t[0], t[1], true, false); }
static int b_mm_tt(struct ir *g, const int *t) { return ir_matmul(g, t[0], t[1], true, true); }
static int b_im2col(struct ir *g, const int *t) { return ir_im2col(g, t[0], (struct geom_attr){3, 2, 1, 3, 3}); }
static int b_col2im(struct ir *g, const int *t) {
    return ir_col2im(g, t[0], SHAPE(S4(2, 5, 5, 2)), (struct geom_attr){3, 2, 1, 3, 3});
}
static int b_upsample(struct ir *g, const int *t) { return ir_upsample(g, t[0], 2); }
static int b_sumpool(struct ir *g, const int *t) { return ir_sumpool(g, t[0], 2); }
static int b_concat(struct ir *g, const int *t) { return ir_concat(g, t[0], t[1]); }
static int b_slice(struct ir *g, const int *t) { return ir_slice(g, t[0], 1, 2); }
static int b_pad(struct ir *g, const int *t) { return ir_pad(g, t[0], 2, 1); }
static int b_onehot(struct ir *g, const int *t) { return ir_onehot(g, t[0], 4); }
static int b_embed(struct ir *g, const int *t) { return ir_embed(g, t[1], t[0]); }
static int b_embed_grad(struct ir *g, const int *t) { return ir_embed_grad(g, t[1], t[0], 4); }
static int b_bcast_hw(struct ir *g, const int *t) { return ir_bcast_hw(g, t[0], 2, 3); }
static int b_sum_hw(struct ir *g, const int *t) { return ir_sum_hw(g, t[0]); }
static int b_add_bias(struct ir *g, const int *t) { return ir_add_bias(g, t[0], t[1]); }
static int b_mul_channel(struct ir *g, const int *t) { return ir_mul_channel(g, t[0], t[1]); }
static int b_rsqrt(struct ir *g, const int *t) { return un(g, OP_RSQRT, t); }
static int b_sqrt(struct ir *g, const int *t) { return un(g, OP_SQRT, t); }
static int b_uniform(struct ir *g, const int *t) { (void)t; return ir_uniform(g, SHAPE(S2(4, 5)), 3); }
static int b_normal(struct ir *g, const int *t) { (void)t; return ir_normal(g, SHAPE(S2(4, 5)), 4); }
static int b_exp(struct ir *g, const int *t) { return un(g, OP_EXP, t); }
static int b_add_row(struct ir *g, const int *t) { return ir_row_op(g, OP_ADD_ROW, t[0], t[1]); }
static int b_mul_row(struct ir *g, const int *t) { return ir_row_op(g, OP_MUL_ROW, t[0], t[1]); }
static int b_dropout(struct ir *g, const int *t) { return ir_dropout(g, t[0], 0.3, 7); }
static int b_translate(struct ir *g, const int *t) { return ir_translate(g, t[0], 2, 1, 11, 1); }
static int b_translate_back(struct ir *g, const int *t) { return ir_translate(g, t[0], 1, 2, 12, -1); }
static int b_cutout(struct ir *g, const int *t) { return ir_cutout(g, t[0], 3, 2, 13); }
static int b_add(struct ir *g, const int *t) { return bin(g, OP_ADD, t); }
static int b_sub(struct ir *g, const int *t) { return bin(g, OP_SUB, t); }
static int b_mul(struct ir *g, const int *t) { return bin(g, OP_MUL, t); }
static int b_neg(struct ir *g, const int *t) { return un(g, OP_NEG, t); }
static int b_scale(struct ir *g, const int *t) { return ir_scale(g, t[0], -2.5); }
static int b_addc(struct ir *g, const int *t) { return ir_addc(g, t[0], 0.75); }
static int b_square(struct ir *g, const int *t) { return un(g, OP_SQUARE, t); }
static int b_abs(struct ir *g, const int *t) { return un(g, OP_ABS, t); }
static int b_lrelu(struct ir *g, const int *t) { return ir_leaky_relu(g, t[0], 0.2); }
static int b_relu(struct ir *g, const int *t) { return ir_leaky_relu(g, t[0], 0); }
static int b_lrelu_grad(struct ir *g, const int *t) { return ir_leaky_relu_grad(g, t[1], t[0], 0.2); }
static int b_elu(struct ir *g, const int *t) { return ir_elu(g, t[0], 1); }
static int b_elu_half(struct ir *g, const int *t) { return ir_elu(g, t[0], 0.5); }
static int b_elu_grad(struct ir *g, const int *t) { return ir_elu_grad(g, t[1], t[0], 0.7); }
static int b_tanh(struct ir *g, const int *t) { return un(g, OP_TANH, t); }
static int b_sigmoid(struct ir *g, const int *t) { return un(g, OP_SIGMOID, t); }
static int b_logsumexp(struct ir *g, const int *t) { return ir_logsumexp(g, t[0]); }
static int b_argmax(struct ir *g, const int *t) { return ir_argmax(g, t[0]); }
static int b_softplus(struct ir *g, const int *t) { return un(g, OP_SOFTPLUS, t); }
static int b_broadcast(struct ir *g, const int *t) { return ir_broadcast(g, t[0], SHAPE(S2(3, 4))); }
static int b_sum_all(struct ir *g, const int *t) { return ir_sum_all(g, t[0]); }
/* a product summed per channel: the mul is computed in the sum's loop */
static int b_sum_channel(struct ir *g, const int *t) { return ir_sum_channel(g, bin(g, OP_MUL, t)); }
static int b_sum_channel1(struct ir *g, const int *t) { return ir_sum_channel(g, t[0]); }
static int b_sum_row(struct ir *g, const int *t) { return ir_sum_row(g, ir_unary(g, OP_TANH, t[0])); }
static int b_reshape(struct ir *g, const int *t) { return ir_unary(g, OP_TANH, ir_reshape(g, t[0], SHAPE(S4(2, 3, 2, 1)))); }
static int b_rows(struct ir *g, const int *t) { return ir_rows(g, ir_scale(g, t[0], 1.5), 1, 2); }
static int b_adam(struct ir *g, const int *t) {
    ir_adam(g, t[0], t[1], t[2], t[3], (struct adam_attr){0.01, 0.8, 0.95, 1e-6, 0.01, 3, 1});
    return -1;
}
static int b_sgd(struct ir *g, const int *t) {
    ir_sgd(g, t[0], t[1], t[2], (struct sgd_attr){0.1, 0.9, 0.01, true});
    return -1;
}
static int b_sgd_plain(struct ir *g, const int *t) {
    ir_sgd(g, t[0], t[1], -1, (struct sgd_attr){0.1, 0, 0, false});
    return -1;
}
/* a scalar to out[1], a vector to every third slot from out[2] */
static int b_output(struct ir *g, const int *t) {
    ir_output(g, ir_sum_all(g, t[0]), 1, 0);
    ir_output(g, ir_scale(g, t[0], 2), 2, 3);
    return -1;
}
static int b_bn_stats(struct ir *g, const int *t) {
    ir_bn_stats(g, t[0], t[1], t[2], t[3], 0.1, 1.25);
    return -1;
}
static int b_rmsprop(struct ir *g, const int *t) {
    ir_rmsprop(g, t[0], t[1], t[2], t[3], t[4], (struct rmsprop_attr){0.01, 0.9, 1e-6, 0.01, 0.9, -1, -1});
    return -1;
}
static int b_rmsprop_plain(struct ir *g, const int *t) {
    ir_rmsprop(g, t[0], t[1], t[2], -1, -1, (struct rmsprop_attr){0.01, 0.99, 1e-8, 0, 0, -1, -1});
    return -1;
}
static int b_clip(struct ir *g, const int *t) {
    ir_clip(g, t[0], 0.5);
    return -1;
}
static int b_ema(struct ir *g, const int *t) {
    ir_ema(g, t[0], t[1], 0.9);
    return -1;
}
static int b_rank_mean(struct ir *g, const int *t) { return ir_rank_mean(g, t[0]); }
/* a value computed, reduced over the ranks (here: one), then read: the
 * emitted C starts the all-reduce after the value's loop, waits at the node */
static int b_allreduce(struct ir *g, const int *t) {
    int y = ir_scale(g, t[0], 2);
    ir_allreduce(g, y);
    return ir_unary(g, OP_NEG, y);
}
static int b_sn_power(struct ir *g, const int *t) {
    ir_sn_power(g, t[0], t[1], t[2], false);
    return -1;
}
static int b_sn_power_rows(struct ir *g, const int *t) {
    ir_sn_power(g, t[0], t[1], t[2], true);
    return -1;
}

/* STORE_GRAD writes the caller's gradient buffer: its case is a gradient
 * program of its own (see compile_ref). */
static int b_store_grad(struct ir *g, const int *t) { (void)g, (void)t; return -1; }

static const struct op_case cases[] = {
    {"input", OP_INPUT, 0, 0, {{0}}, .build = b_input},
    {"param", OP_PARAM, 1, 0, {S2(2, 3)}, .build = b_param},
    {"fill", OP_FILL, 0, 0, {{0}}, .build = b_fill},
    {"matmul_nn", OP_MATMUL, 2, 2, {S2(3, 4), S2(4, 5)}, .build = b_mm_nn},
    {"matmul_nt", OP_MATMUL, 2, 2, {S2(3, 4), S2(5, 4)}, .build = b_mm_nt},
    {"matmul_tn", OP_MATMUL, 2, 2, {S2(4, 3), S2(4, 5)}, .build = b_mm_tn},
    {"matmul_tt", OP_MATMUL, 2, 2, {S2(4, 3), S2(5, 4)}, .build = b_mm_tt},
    {"im2col", OP_IM2COL, 1, 1, {S4(2, 5, 5, 3)}, .build = b_im2col},
    {"col2im", OP_COL2IM, 1, 1, {S2(18, 18)}, .build = b_col2im},
    {"upsample", OP_UPSAMPLE, 1, 1, {S4(2, 3, 2, 3)}, .build = b_upsample},
    {"sumpool", OP_SUMPOOL, 1, 1, {S4(2, 4, 6, 3)}, .build = b_sumpool},
    {"concat_features", OP_CONCAT, 2, 2, {S2(3, 4), S2(3, 2)}, .build = b_concat},
    {"concat_channels", OP_CONCAT, 2, 2, {S4(2, 3, 3, 2), S4(2, 3, 3, 3)}, .build = b_concat},
    {"slice", OP_SLICE, 1, 1, {S4(2, 3, 3, 4)}, .build = b_slice},
    {"pad", OP_PAD, 1, 1, {S2(3, 4)}, .build = b_pad},
    {"onehot", OP_ONEHOT, 1, 0, {S1(5)}, {0}, {4}, .labels = 1, .build = b_onehot},
    {"embed", OP_EMBED, 2, 1, {S2(4, 3), S1(5)}, {0, 0}, {0, 4}, .labels = 2, .build = b_embed},
    {"embed_grad", OP_EMBED_GRAD, 2, 1, {S2(5, 3), S1(5)}, {0, 0}, {0, 4}, .labels = 2, .build = b_embed_grad},
    {"bcast_hw", OP_BCAST_HW, 1, 1, {S2(2, 3)}, .build = b_bcast_hw},
    {"sum_hw", OP_SUM_HW, 1, 1, {S4(2, 2, 3, 3)}, .build = b_sum_hw},
    {"logsumexp", OP_LOGSUMEXP, 1, 1, {S2(3, 5)}, {-20}, {20}, .build = b_logsumexp},
    {"logsumexp_4d", OP_LOGSUMEXP, 1, 1, {S4(2, 2, 2, 3)}, .build = b_logsumexp},
    /* distinct values: the walk's random draws tie with probability 0 */
    {"argmax", OP_ARGMAX, 1, 0, {S2(4, 6)}, .build = b_argmax},
    /* one process, as the references and these programs run: the identity */
    {"rank_mean", OP_RANK_MEAN, 1, 1, {S2(3, 4)}, .build = b_rank_mean},
    {"add_bias", OP_ADD_BIAS, 2, 2, {S2(3, 5), S1(5)}, .build = b_add_bias},
    {"add_bias_4d", OP_ADD_BIAS, 2, 2, {S4(2, 2, 2, 3), S1(3)}, .build = b_add_bias},
    {"mul_channel", OP_MUL_CHANNEL, 2, 2, {S4(2, 3, 3, 4), S1(4)}, .build = b_mul_channel},
    {"rsqrt", OP_RSQRT, 1, 1, {S2(3, 4)}, {0.2}, {3}, .build = b_rsqrt},
    {"sqrt", OP_SQRT, 1, 1, {S2(3, 4)}, {0.1}, {3}, .build = b_sqrt},
    {"uniform", OP_UNIFORM, 0, 0, {{0}}, .build = b_uniform},
    {"normal", OP_NORMAL, 0, 0, {{0}}, .build = b_normal},
    {"exp", OP_EXP, 1, 1, {S2(3, 4)}, .build = b_exp},
    {"add_row", OP_ADD_ROW, 2, 2, {S4(3, 2, 2, 2), S1(3)}, .build = b_add_row},
    {"mul_row", OP_MUL_ROW, 2, 2, {S4(3, 2, 2, 2), S1(3)}, .build = b_mul_row},
    {"dropout", OP_DROPOUT, 1, 1, {S2(8, 16)}, .build = b_dropout},
    {"translate", OP_TRANSLATE, 1, 1, {S4(4, 5, 6, 2)}, .build = b_translate},
    {"translate_back", OP_TRANSLATE, 1, 1, {S4(4, 5, 6, 2)}, .build = b_translate_back},
    {"cutout", OP_CUTOUT, 1, 1, {S4(4, 6, 5, 2)}, .build = b_cutout},
    {"add", OP_ADD, 2, 2, {S2(3, 4), S2(3, 4)}, .build = b_add},
    {"add_scalar", OP_ADD, 2, 2, {S2(3, 4), S1(1)}, .build = b_add},
    {"sub", OP_SUB, 2, 2, {S2(3, 4), S2(3, 4)}, .build = b_sub},
    {"sub_scalar", OP_SUB, 2, 2, {S1(1), S2(3, 4)}, .build = b_sub},
    {"mul", OP_MUL, 2, 2, {S2(3, 4), S2(3, 4)}, .build = b_mul},
    {"mul_scalar", OP_MUL, 2, 2, {S2(3, 4), S1(1)}, .build = b_mul},
    {"neg", OP_NEG, 1, 1, {S2(3, 4)}, .build = b_neg},
    {"scale", OP_SCALE, 1, 1, {S2(3, 4)}, .build = b_scale},
    {"addc", OP_ADDC, 1, 1, {S2(3, 4)}, .build = b_addc},
    {"square", OP_SQUARE, 1, 1, {S2(3, 4)}, .build = b_square},
    {"abs", OP_ABS, 1, 1, {S2(3, 4)}, .build = b_abs},
    {"leaky_relu", OP_LEAKY_RELU, 1, 1, {S2(3, 4)}, .build = b_lrelu},
    {"relu", OP_LEAKY_RELU, 1, 1, {S2(3, 4)}, .build = b_relu},
    {"lrelu_grad", OP_LRELU_GRAD, 2, 1, {S2(3, 4), S2(3, 4)}, .build = b_lrelu_grad},
    {"elu", OP_ELU, 1, 1, {S2(3, 4)}, {-3}, {2}, .build = b_elu},
    {"elu_alpha", OP_ELU, 1, 1, {S2(3, 4)}, {-3}, {2}, .build = b_elu_half},
    /* dy and y, both differentiated: y > -alpha as elu's outputs are */
    {"elu_grad", OP_ELU_GRAD, 2, 2, {S2(3, 4), S2(3, 4)}, {0, -0.6}, {0, 1}, .build = b_elu_grad},
    {"tanh", OP_TANH, 1, 1, {S2(3, 4)}, {-3}, {3}, .build = b_tanh},
    {"sigmoid", OP_SIGMOID, 1, 1, {S2(3, 4)}, {-4}, {4}, .build = b_sigmoid},
    {"softplus", OP_SOFTPLUS, 1, 1, {S2(3, 4)}, {-30}, {30}, .build = b_softplus},
    {"broadcast", OP_BROADCAST, 1, 1, {S1(1)}, .build = b_broadcast},
    {"sum_all", OP_SUM_ALL, 1, 1, {S2(3, 4)}, .build = b_sum_all},
    {"sum_channel", OP_SUM_CHANNEL, 2, 2, {S4(2, 2, 2, 3), S4(2, 2, 2, 3)}, .build = b_sum_channel},
    {"sum_channel_wide", OP_SUM_CHANNEL, 1, 1, {S2(2, 1500)}, .build = b_sum_channel1},
    {"sum_row", OP_SUM_ROW, 1, 1, {S2(3, 5)}, .build = b_sum_row},
    {"reshape", OP_RESHAPE, 1, 1, {S2(3, 4)}, .build = b_reshape},
    {"rows", OP_ROWS, 1, 0, {S2(4, 3)}, .build = b_rows},
    {"adam", OP_ADAM, 4, 0, {S2(3, 4), S2(3, 4), S2(3, 4), S2(3, 4)}, {0, 0, 0, 0}, {0, 0, 0, 2},
     .build = b_adam},
    {"sgd_nesterov", OP_SGD, 3, 0, {S1(7), S1(7), S1(7)}, .build = b_sgd},
    {"sgd", OP_SGD, 2, 0, {S1(7), S1(7)}, .build = b_sgd_plain},
    {"output", OP_OUTPUT, 1, 0, {S1(5)}, .build = b_output},
    {"store_grad", OP_STORE_GRAD, 2, 0, {S2(2, 3), S2(2, 3)}, .build = b_store_grad},
    {"bn_stats", OP_BN_STATS, 4, 0, {S1(6), S1(6), S1(6), S1(6)}, {0, 0, 0, 0}, {0, 2, 0, 2},
     .build = b_bn_stats},
    {"rmsprop_centered_momentum", OP_RMSPROP, 5, 0, {S1(9), S1(9), S1(9), S1(9), S1(9)},
     {0, 0, 0.5, 0, 0}, {0, 0, 2, 0.1, 0}, .build = b_rmsprop},
    {"rmsprop", OP_RMSPROP, 3, 0, {S1(9), S1(9), S1(9)}, {0, 0, 0}, {0, 0, 2}, .build = b_rmsprop_plain},
    {"clip", OP_CLIP, 1, 0, {S2(3, 4)}, {-2}, {2}, .build = b_clip},
    {"ema", OP_EMA, 2, 0, {S2(3, 4), S2(3, 4)}, .build = b_ema},
    {"allreduce", OP_ALLREDUCE, 1, 0, {S2(3, 4)}, .build = b_allreduce},
    {"sn_power", OP_SN_POWER, 3, 0, {S2(5, 7), S1(5), S1(7)}, .build = b_sn_power},
    {"sn_power_rows_first", OP_SN_POWER, 3, 0, {S2(5, 7), S1(5), S1(7)}, .build = b_sn_power_rows},
};

enum { N_CASES = sizeof cases / sizeof cases[0] };

/* ---- state ----------------------------------------------------------------- */

static char *tensor_name(int c, int t) { return xprintf("c%d_t%d", c, t); }

/* Case c's tensors in lo (and their first index); values drawn into st. */
static int add_tensors(struct lowered *lo, int c) {
    int first = lo->tensors.len;
    for (int t = 0; t < cases[c].n_tensors; t++) {
        struct ptensor pt = {.name = tensor_name(c, t), .cname = tensor_name(c, t), .role = GENRT_PARAM,
                             .shape = cases[c].shapes[t], .offset = lo->n_state, .ema = -1, .source = -1};
        lo->n_state += (shape_size(pt.shape) + 15) / 16 * 16;
        vec_push(&lo->tensors, pt);
    }
    return first;
}

static void draw_state(const struct lowered *lo, const int *first, double *st) {
    for (int c = 0; c < N_CASES; c++)
        for (int t = 0; t < cases[c].n_tensors; t++) {
            const struct ptensor *pt = &lo->tensors.data[first[c] + t];
            double a = cases[c].lo[t], b = cases[c].hi[t];
            bool label = cases[c].labels >> t & 1u;
            if (a == 0 && b == 0)
                a = -1, b = 1;
            for (long i = 0; i < shape_size(pt->shape); i++)
                st[pt->offset + i] = label ? (double)(int)(test_uniform() * b) : a + (b - a) * test_uniform();
        }
}

static struct program *add_program(struct lowered *lo, const char *name, enum prog_kind kind, int term) {
    struct program p = {.name = name, .kind = kind, .batch = 1, .term = term, .result = -1, .result2 = -1};
    vec_push(&lo->progs, p);
    struct program *q = &lo->progs.data[lo->progs.len - 1];
    q->ir.cur_loc = (struct loc){1, 1, 1, 1};
    return q;
}

static int params(struct ir *g, const struct lowered *lo, int c, int first, int *t) {
    for (int k = 0; k < cases[c].n_tensors; k++)
        t[k] = ir_param(g, first + k, lo->tensors.data[first + k].shape);
    return cases[c].n_tensors;
}

/* ---- compiling ------------------------------------------------------------- */

typedef double real;
typedef void (*step_fn)(long t, double *out);
typedef void (*grad_fn)(real *g);
typedef void (*loss_fn)(double *out);

/* Compile lo's programs in double, with a harness exporting the state, in_x
 * and tables of the programs by kind. */
static void *compile(struct lowered *lo, const char *name) {
    run_passes(lo);
    size_t len;
    char *code = emit_c_programs(lo, name, &len);
    char *dir = test_tmpdir();
    char *src = xprintf("%s/%s.c", dir, name), *harness = xprintf("%s/%s_h.c", dir, name);
    write_file(src, code, len);
    char *h = xprintf("#include \"%s\"\nreal *h_state(void) { return state; }\n"
                      "/* one process: the ranks' mean is the identity (runtime/genrt_mpi.c's stand-in) */\n"
                      "void genrt_mpi_mean(void *x, long n, size_t r) { (void)x, (void)n, (void)r; }\n"
                      "void genrt_mpi_start(int k, void *x, long n, size_t r) { (void)k, (void)x, (void)n, (void)r; }\n"
                      "void genrt_mpi_wait(int k) { (void)k; }\n", src);
    bool has_x = false;
    for (int i = 0; i < lo->progs.len; i++)
        for (int v = 0; v < lo->progs.data[i].ir.nodes.len; v++)
            has_x |= lo->progs.data[i].ir.nodes.data[v].op == OP_INPUT;
    if (has_x)
        h = xprintf("%sreal *h_in_x(void) { return in_x; }\n", h);
    static const char *const types[] = {[PROG_TRAIN] = "void (*const h_step[])(long, double *)",
                                        [PROG_GC_LOSS] = "void (*const h_loss[])(double *)",
                                        [PROG_GC_GRAD] = "void (*const h_grad[])(real *)"};
    const enum prog_kind kinds_used[] = {PROG_TRAIN, PROG_GC_LOSS, PROG_GC_GRAD};
    for (int k = 0; k < 3; k++) {
        char *list = xprintf("%s", "");
        for (int i = 0; i < lo->progs.len; i++)
            if (lo->progs.data[i].kind == kinds_used[k])
                list = xprintf("%s%s, ", list, lo->progs.data[i].name);
        h = xprintf("%s%s = {%sNULL};\n", h, types[kinds_used[k]], list);
    }
    write_file(harness, h, strlen(h));
    return load_double_so(harness, xprintf("%s/%s.so", dir, name));
}

/* ---- the reference interpreter ----------------------------------------------- */

/* Program p run node by node on op_ref: PARAM nodes are the state itself
 * (effects update it in place), INPUT nodes read in_x. */
static void interpret(const struct program *p, const struct lowered *lo, double *st, const double *in_x, long step,
                      double *out, double *grads) {
    int n = p->ir.nodes.len;
    double **val = xalloc(sizeof(double *) * (size_t)n);
    for (int v = 0; v < n; v++) {
        const struct node *nd = &p->ir.nodes.data[v];
        if (nd->op == OP_PARAM) {
            val[v] = st + lo->tensors.data[nd->a.param.tensor].offset;
            continue;
        }
        struct ref_io io = {.step = step, .metrics = out, .grads = grads};
        io.out = xalloc(sizeof(double) * (size_t)shape_size(nd->shape));
        if (nd->op == OP_INPUT)
            memcpy(io.out, in_x, sizeof(double) * (size_t)shape_size(nd->shape));
        for (int i = 0; i < nd->n_in; i++)
            io.in[i] = val[nd->in[i]];
        op_ref(&p->ir, v, &io);
        val[v] = io.out;
    }
}

static double rel_err(double a, double b) { return fabs(a - b) / fmax(1, fmax(fabs(a), fabs(b))); }

/* ---- every op has a case ------------------------------------------------------- */

Test(ops, every_op_has_a_case) {
    bool has[OP_COUNT] = {false}, has_vjp[OP_COUNT] = {false};
    for (int c = 0; c < N_CASES; c++) {
        has[cases[c].op] = true;
        has_vjp[cases[c].op] |= cases[c].n_diff > 0;
        cr_expect(cases[c].n_diff == 0 || op_table[cases[c].op].vjp, "%s: differentiates an op without a VJP",
                  cases[c].name);
    }
    for (int op = 0; op < OP_COUNT; op++) {
        cr_expect(has[op], "op '%s' has no case in tests/test_ops.c", op_table[op].name);
        cr_expect(!op_table[op].vjp || has_vjp[op], "op '%s' has a VJP but no case checks it", op_table[op].name);
        cr_expect(!!(op_table[op].flags & F_EFFECT) == (op_table[op].sched == S_EFFECT),
                  "op '%s': F_EFFECT and the EFFECT schedule disagree", op_table[op].name);
        cr_expect(!op_table[op].writes || (op_table[op].flags & F_EFFECT), "op '%s' writes but has no effect",
                  op_table[op].name);
    }
}

/* ---- the reference against the emitted C ----------------------------------------- */

Test(ops, reference_matches_emitted_c, .timeout = 120) {
    struct lowered lo = {0};
    lo.real_batches = IN_X; /* in_x holds IN_X values: REAL_BATCHES * BATCH * SAMPLE */
    vec_push(&lo.terms, "store_grad");
    int first[N_CASES], prog[N_CASES], store_prog = -1;
    for (int c = 0; c < N_CASES; c++)
        first[c] = add_tensors(&lo, c);
    for (int c = 0; c < N_CASES; c++) {
        bool store = cases[c].op == OP_STORE_GRAD;
        struct program *p = add_program(&lo, xprintf("%s_%d", store ? "gc_grad" : "step", c),
                                        store ? PROG_GC_GRAD : PROG_TRAIN, 0);
        prog[c] = lo.progs.len - 1;
        struct ir *g = &p->ir;
        g->cur_what = cases[c].name;
        int t[MAX_T];
        params(g, &lo, c, first[c], t);
        if (store) { /* 2 t0 into g, at t1's offset */
            ir_store_grad(g, ir_scale(g, t[0], 2), lo.tensors.data[first[c] + 1].offset);
            store_prog = c;
            continue;
        }
        int r = cases[c].build(g, t);
        if (r >= 0)
            ir_output(g, r, 0, 1);
    }
    void *so = compile(&lo, "ops_ref");
    real *(*state)(void) = (real * (*)(void)) dlsym(so, "h_state");
    real *(*in_x)(void) = (real * (*)(void)) dlsym(so, "h_in_x");
    step_fn *steps = dlsym(so, "h_step");
    grad_fn *grads = dlsym(so, "h_grad");
    cr_assert(state && in_x && steps && grads);

    double *st = xalloc(sizeof(double) * (size_t)lo.n_state), *ref = xalloc(sizeof(double) * (size_t)lo.n_state);
    draw_state(&lo, first, st);
    double x[IN_X];
    for (int i = 0; i < IN_X; i++)
        x[i] = i * 0.25 - 0.7;
    const long step = 5; /* Adam's run 1 of 3 at step 5 counts 14 */
    int n_step = 0;
    for (int c = 0; c < N_CASES; c++) {
        const struct program *p = &lo.progs.data[prog[c]];
        memcpy(state(), st, sizeof(double) * (size_t)lo.n_state);
        memcpy(ref, st, sizeof(double) * (size_t)lo.n_state);
        for (int i = 0; i < IN_X; i++)
            in_x()[i] = x[i];
        double out[OUT_MAX] = {0}, out_ref[OUT_MAX] = {0};
        double *g = xalloc(sizeof(double) * (size_t)lo.n_state), *g_ref = xalloc(sizeof(double) * (size_t)lo.n_state);
        if (c == store_prog) {
            grads[0](g);
        } else {
            steps[n_step++](step, out);
        }
        interpret(p, &lo, ref, x, step, out_ref, g_ref);
        double worst = 0;
        for (int i = 0; i < OUT_MAX; i++)
            worst = fmax(worst, rel_err(out[i], out_ref[i]));
        for (long i = 0; i < lo.n_state; i++)
            worst = fmax(worst, fmax(rel_err(state()[i], ref[i]), rel_err(g[i], g_ref[i])));
        cr_log_info("%s: reference against emitted C, worst %.3g", cases[c].name, worst);
        cr_expect(worst <= 1e-12, "%s (op %s): the emitted C and the reference differ by %.3g", cases[c].name,
                  op_table[cases[c].op].name, worst);
        /* the case did something: an output, a state change or a gradient */
        bool moved = false;
        for (int i = 0; i < OUT_MAX; i++)
            moved |= out_ref[i] != 0;
        for (long i = 0; i < lo.n_state; i++)
            moved |= ref[i] != st[i] || g_ref[i] != 0;
        cr_expect(moved, "%s: the case computes nothing", cases[c].name);
    }
    dlclose(so);
}

/* ---- VJPs against central differences --------------------------------------------- */

Test(ops, vjp_matches_central_differences, .timeout = 120) {
    struct lowered lo = {0};
    int first[N_CASES], wfirst[N_CASES];
    int loss_prog[N_CASES], n_prog = 0;
    for (int c = 0; c < N_CASES; c++)
        first[c] = add_tensors(&lo, c);
    /* the weights w of each case's loss sum(case * w), one tensor each */
    for (int c = 0; c < N_CASES; c++) {
        wfirst[c] = -1;
        if (cases[c].n_diff == 0)
            continue;
        struct ir scratch = {0};
        int t[MAX_T];
        params(&scratch, &lo, c, first[c], t);
        struct shape s = scratch.nodes.data[cases[c].build(&scratch, t)].shape;
        struct ptensor pt = {.name = xprintf("c%d_w", c), .cname = xprintf("c%d_w", c), .role = GENRT_PARAM,
                             .shape = s, .offset = lo.n_state, .ema = -1, .source = -1};
        lo.n_state += (shape_size(s) + 15) / 16 * 16;
        vec_push(&lo.tensors, pt);
        wfirst[c] = lo.tensors.len - 1;
    }
    for (int c = 0; c < N_CASES; c++) {
        if (cases[c].n_diff == 0)
            continue;
        vec_push(&lo.terms, cases[c].name);
        for (int grad = 0; grad < 2; grad++) {
            struct program *p = add_program(&lo, xprintf("%s_%d", grad ? "gc_grad" : "gc_loss", c),
                                            grad ? PROG_GC_GRAD : PROG_GC_LOSS, lo.terms.len - 1);
            struct ir *g = &p->ir;
            g->cur_what = cases[c].name;
            int t[MAX_T];
            params(g, &lo, c, first[c], t);
            int w = ir_param(g, wfirst[c], lo.tensors.data[wfirst[c]].shape);
            int loss = ir_sum_all(g, ir_binary(g, OP_MUL, cases[c].build(g, t), w));
            if (!grad) {
                ir_output(g, loss, 0, 0);
                continue;
            }
            int dx[MAX_T];
            autodiff(g, loss, t, cases[c].n_diff, dx);
            for (int k = 0; k < cases[c].n_diff; k++) {
                if (dx[k] < 0) /* no path: the gradient is zero, and so must the differences be */
                    dx[k] = ir_fill(g, 0, cases[c].shapes[k]);
                ir_store_grad(g, dx[k], lo.tensors.data[first[c] + k].offset);
            }
        }
        loss_prog[c] = n_prog++;
    }
    void *so = compile(&lo, "ops_vjp");
    real *(*state)(void) = (real * (*)(void)) dlsym(so, "h_state");
    loss_fn *losses = dlsym(so, "h_loss");
    grad_fn *grads = dlsym(so, "h_grad");
    cr_assert(state && losses && grads);
    double *st = state();
    draw_state(&lo, first, st);
    for (int c = 0; c < N_CASES; c++)
        if (wfirst[c] >= 0)
            for (long i = 0; i < shape_size(lo.tensors.data[wfirst[c]].shape); i++)
                st[lo.tensors.data[wfirst[c]].offset + i] = 2 * test_uniform() - 1;
    real *g = xalloc(sizeof(real) * (size_t)lo.n_state);
    for (int c = 0; c < N_CASES; c++) {
        if (cases[c].n_diff == 0)
            continue;
        int k = loss_prog[c];
        grads[k](g);
        double worst = 0;
        for (int t = 0; t < cases[c].n_diff; t++) {
            const struct ptensor *pt = &lo.tensors.data[first[c] + t];
            for (long i = 0; i < shape_size(pt->shape); i++) {
                long at = pt->offset + i;
                double h = 1e-5, saved = st[at], lp, lm;
                st[at] = saved + h;
                losses[k](&lp);
                st[at] = saved - h;
                losses[k](&lm);
                st[at] = saved;
                double num = (lp - lm) / (2 * h), ana = g[at];
                worst = fmax(worst, fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), 1e-3));
            }
        }
        cr_log_info("%s: VJP against central differences, worst %.3g", cases[c].name, worst);
        cr_expect(worst <= 1e-6, "%s (op %s): VJP off by %.3g", cases[c].name, op_table[cases[c].op].name, worst);
    }
    dlclose(so);
}

/* docs/architecture.md's op table names every op of ops.def */
/* DiffAugment's draws (runtime/genrt_hash.h), which the emitted C and the
 * reference share: translations cover [-s, s] evenly, and a cutout zeroes
 * exactly its square, clipped to the image, somewhere over it. */
Test(ops, diffaugment_draws_are_the_papers) {
    int seen[7] = {0};
    for (long t = 1; t <= 200; t++)
        for (long b = 0; b < 16; b++) {
            long v = hash_shift(t, 5, b, (int)(t & 1), 3);
            cr_assert(v >= -3 && v <= 3, "shift %ld", v);
            seen[v + 3]++;
        }
    for (int k = 0; k < 7; k++) /* 3200 draws: 457 each on average */
        cr_expect(seen[k] > 380 && seen[k] < 540, "shift %d drawn %d times of 3200", k - 3, seen[k]);
    long h = 28, w = 28, sh = 14, sw = 14, full = 0, clipped = 0;
    for (long t = 1; t <= 50; t++)
        for (long b = 0; b < 8; b++) {
            long zeros = 0, r0 = h, r1 = -1, c0 = w, c1 = -1;
            for (long i = 0; i < h; i++)
                for (long j = 0; j < w; j++)
                    if (!hash_cutout_keeps(t, 9, b, i, j, h, w, sh, sw)) {
                        zeros++;
                        r0 = i < r0 ? i : r0, r1 = i > r1 ? i : r1, c0 = j < c0 ? j : c0, c1 = j > c1 ? j : c1;
                    }
            cr_assert(zeros > 0 && zeros == (r1 - r0 + 1) * (c1 - c0 + 1), "not one rectangle: %ld zeros", zeros);
            cr_assert(r1 - r0 < sh && c1 - c0 < sw);
            if (zeros == sh * sw) {
                full++;
            } else {
                clipped++;
                cr_assert(r0 == 0 || c0 == 0 || r1 == h - 1 || c1 == w - 1, "cut short inside the image");
            }
        }
    cr_expect(full > 0 && clipped > 0, "%ld whole squares, %ld clipped", full, clipped);
}

Test(ops, every_op_is_documented) {
    char *doc = read_whole("docs/architecture.md", NULL);
    cr_assert(doc, "run the tests from the repository root");
    char *table = strstr(doc, "| op | schedule |");
    cr_assert(table, "docs/architecture.md has no op table");
    char *end = strstr(table, "\n\n");
    *end = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        const char *name = op_table[op].name;
        bool found = strstr(table, xprintf("`%s`", name)) || strstr(table, xprintf("`%s ", name));
        cr_expect(found, "op '%s' is missing from docs/architecture.md's op table", name);
    }
}
