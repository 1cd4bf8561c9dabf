/* lower.c: from a checked model to IR programs.  It lays out the
 * persistent state (parameters, the objective's own tensors, optimizer
 * state) and builds one program per emitted function: the objective's
 * training step and other programs (objectives/), and, per gradient-check
 * term, a loss and a loss-with-gradient.  The machinery objectives build
 * with (forward passes, gradients, optimizer steps, metrics) is here,
 * declared in lower.h. */
#include "lower.h"

#include <math.h>
#include <string.h>

enum { ALIGN = 16 }; /* scalars: 64-byte alignment for float */

static long align_up(long n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

int add_tensor(struct lowered *lo, const char *name, int role, int net, int init, int fan_in, struct shape s) {
    struct ptensor t = {.name = name, .role = role, .net = net, .init = init, .fan_in = fan_in,
                        .shape = s, .offset = lo->n_state};
    char *c = xstrdup(name);
    for (char *p = c; *p; p++)
        if (*p == '.')
            *p = '_';
    t.cname = c;
    for (int k = 0; k < N_OPT_STATE; k++)
        t.opt_state[k] = -1;
    t.ema = t.source = -1;
    lo->n_state += align_up(shape_size(s));
    vec_push(&lo->tensors, t);
    return lo->tensors.len - 1;
}

/* Each optimizer's state tensors (enum opt_state), named after the
 * parameter: "G.l1.weight.adam_m". */
static const char *const opt_state_name[][N_OPT_STATE] = {
    [OPT_SGD] = {[OPT_SGD_MOMENTUM] = "momentum"},
    [OPT_ADAM] = {[OPT_ADAM_M] = "adam_m", [OPT_ADAM_V] = "adam_v"},
    [OPT_RMSPROP] = {[OPT_RMS_SQUARE_AVG] = "square_avg", [OPT_RMS_GRAD_AVG] = "grad_avg", [OPT_RMS_MOMENTUM] = "momentum"},
};

/* whether optimizer o keeps state k */
static bool has_opt_state(const struct optim *o, int k) {
    switch (o->kind) {
    case OPT_SGD: return o->momentum > 0;
    case OPT_ADAM: return true;
    case OPT_RMSPROP: return k == OPT_RMS_SQUARE_AVG || (k == OPT_RMS_GRAD_AVG ? o->centered : o->momentum > 0);
    }
    unreachable();
}

/* Per layer, its persistent tensors, -1 for none.  Batchnorm's gamma and
 * beta are its weight and bias. */
struct layer_tensors {
    int weight, bias, run_mean, run_var;
    int sn_u, sn_v; /* spectral_norm: the power iteration's vectors */
};

/* spectral_norm's matrix: the weight viewed as [rows, cols], and whether u
 * (torch's: one per output channel) runs along its columns.  Dense and conv
 * weights are [out, fan_in] (conv's columns ordered kh, kw, Ci, a column
 * permutation of torch's, which leaves sigma and u as they are); deconv's
 * [Ci, kh*kw*Co] is viewed [Ci*kh*kw, Co], the transpose of torch's
 * [Co, Ci*kh*kw] up to a row permutation. */
static void sn_matrix(const struct layer *l, struct shape w, int *rows, int *cols, bool *u_on_cols) {
    *u_on_cols = l->kind == L_DECONV;
    *cols = *u_on_cols ? l->units : w.d[1];
    *rows = (int)(shape_size(w) / *cols);
}

static void layout_state(const struct model *m, struct lowered *lo) {
    lo->layer_tensors = xalloc(sizeof(struct layer_tensors *) * (size_t)m->nets.len);
    for (int n = 0; n < m->nets.len; n++) {
        const struct network *net = &m->nets.data[n];
        struct layer_tensors *lt = xalloc(sizeof *lt * (size_t)(net->layers.len + 1));
        lo->layer_tensors[n] = lt;
        for (int i = 0; i < net->layers.len; i++) {
            const struct layer *l = &net->layers.data[i];
            struct layer_tensors *np = &lt[i];
            np->weight = np->bias = np->run_mean = np->run_var = np->sn_u = np->sn_v = -1;
            const char *pre = xprintf("%s.l%d", net->name, l->index);
            int fan_in, units = l->units;
            struct shape w;
            switch (l->kind) {
            case L_DENSE:
                fan_in = l->in.d[0];
                w = (struct shape){2, {l->units, fan_in}};
                break;
            case L_CONV: /* [Co, kh, kw, Ci] flattened: rows of W meet im2col's rows */
                fan_in = l->in.d[0] * l->k * l->k;
                w = (struct shape){2, {l->units, fan_in}};
                break;
            case L_DECONV: /* [Ci, kh, kw, Co]; PyTorch's fan-in for it is Co * k * k */
                fan_in = l->units * l->k * l->k;
                w = (struct shape){2, {l->in.d[0], fan_in}};
                break;
            case L_LAYERNORM: case L_INSTANCENORM: {
                struct shape c = {1, {l->in.d[0]}};
                np->weight = add_tensor(lo, xprintf("%s.gamma", pre), GENRT_PARAM, n, GENRT_INIT_ONE, 0, c);
                np->bias = add_tensor(lo, xprintf("%s.beta", pre), GENRT_PARAM, n, GENRT_INIT_ZERO, 0, c);
                continue;
            }
            case L_COND:
                if (l->embed) /* U(-1, 1), through a fan-in of 1 */
                    np->weight = add_tensor(lo, xprintf("%s.embedding", pre), GENRT_PARAM, n, GENRT_INIT_FANIN_UNIFORM,
                                            1, (struct shape){2, {m->n_classes, l->embed}});
                continue;
            case L_BATCHNORM: {
                struct shape c = {1, {l->in.d[0]}};
                np->weight = add_tensor(lo, xprintf("%s.gamma", pre), GENRT_PARAM, n, GENRT_INIT_ONE, 0, c);
                np->bias = add_tensor(lo, xprintf("%s.beta", pre), GENRT_PARAM, n, GENRT_INIT_ZERO, 0, c);
                np->run_mean = add_tensor(lo, xprintf("%s.running_mean", pre), GENRT_RUNNING, n, GENRT_INIT_ZERO, 0, c);
                np->run_var = add_tensor(lo, xprintf("%s.running_var", pre), GENRT_RUNNING, n, GENRT_INIT_ONE, 0, c);
                continue;
            }
            default:
                continue;
            }
            np->weight = add_tensor(lo, xprintf("%s.weight", pre), GENRT_PARAM, n, GENRT_INIT_FANIN_UNIFORM, fan_in, w);
            if (l->bias)
                np->bias = add_tensor(lo, xprintf("%s.bias", pre), GENRT_PARAM, n, GENRT_INIT_FANIN_UNIFORM, fan_in,
                                      (struct shape){1, {units}});
            if (l->sn) { /* torch's weight_u and weight_v: random unit vectors, then the iteration's */
                int rows, cols;
                bool u_on_cols;
                sn_matrix(l, w, &rows, &cols, &u_on_cols);
                np->sn_u = add_tensor(lo, xprintf("%s.weight_u", pre), GENRT_RUNNING, n, GENRT_INIT_UNIT_NORMAL, 0,
                                      (struct shape){1, {u_on_cols ? cols : rows}});
                np->sn_v = add_tensor(lo, xprintf("%s.weight_v", pre), GENRT_RUNNING, n, GENRT_INIT_UNIT_NORMAL, 0,
                                      (struct shape){1, {u_on_cols ? rows : cols}});
            }
        }
    }
    /* the objective's own (a VAE's learned log-variance) */
    if (m->objective.def->layout)
        m->objective.def->layout(m, lo);
    /* Optimizer state after all parameters, in the same order; running
     * statistics are not trained and have none. */
    int n_params = lo->tensors.len;
    for (int t = 0; t < n_params; t++) {
        struct ptensor p = lo->tensors.data[t];
        const struct network *net = &m->nets.data[p.net];
        if (p.role != GENRT_PARAM || net->opt < 0)
            continue;
        const struct optim *o = &m->opts.data[net->opt];
        for (int k = 0; k < N_OPT_STATE; k++) {
            if (!opt_state_name[o->kind][k] || !has_opt_state(o, k))
                continue;
            int id = add_tensor(lo, xprintf("%s.%s", p.name, opt_state_name[o->kind][k]), GENRT_OPT_STATE, p.net,
                                GENRT_INIT_ZERO, 0, p.shape);
            lo->tensors.data[t].opt_state[k] = id; /* after add_tensor: the vector moves */
        }
    }
    /* Moving averages last, one per parameter of a network whose optimizer
     * has `ema`: "G.l1.weight.ema".  It starts equal to its parameter. */
    for (int t = 0; t < n_params; t++) {
        struct ptensor p = lo->tensors.data[t];
        const struct network *net = &m->nets.data[p.net];
        if (p.role != GENRT_PARAM || net->opt < 0 || m->opts.data[net->opt].ema == 0)
            continue;
        int id = add_tensor(lo, xprintf("%s.ema", p.name), GENRT_EMA, p.net, p.init, p.fan_in, p.shape);
        lo->tensors.data[id].source = t;
        lo->tensors.data[t].ema = id;
    }
}

/* ---- building programs -------------------------------------------------- */

int param(struct builder *b, int tensor) {
    if (b->param_node[tensor] < 0) {
        const struct ptensor *t = &b->lo->tensors.data[tensor];
        b->param_node[tensor] = ir_param(b->g, tensor, t->shape);
    }
    return b->param_node[tensor];
}

/* The IR shape of a batch of DSL shape s.  Images are [C, H, W] in the
 * DSL and channels-last [N, H, W, C] in memory, so a convolution is one
 * GEMM over all N*H*W pixels and per-channel work indexes the last axis. */
struct shape batched(int batch, struct shape s) {
    if (s.n == 3)
        return (struct shape){4, {batch, s.d[1], s.d[2], s.d[0]}};
    struct shape r = {s.n + 1, {batch}};
    for (int i = 0; i < s.n; i++)
        r.d[i + 1] = s.d[i];
    return r;
}

void at_objective(struct builder *b, const char *what) {
    b->g->cur_loc = b->m->objective.loc;
    b->g->cur_what = what;
}

int batch_input(struct builder *b, enum genrt_slot slot, int rows, struct shape example) {
    at_objective(b, "inputs");
    return ir_input(b->g, slot, batched(rows, example));
}

int label_input(struct builder *b, int rows) {
    return b->m->conditional ? batch_input(b, GENRT_SLOT_Y, rows, (struct shape){0}) : -1;
}

bool per_example(const struct model *m, int n) {
    const struct network *net = &m->nets.data[n];
    for (int i = 0; i < net->layers.len; i++) {
        const struct layer *l = &net->layers.data[i];
        if (l->kind == L_BATCHNORM || l->kind == L_DROPOUT || l->kind == L_COND || l->sn)
            return false;
    }
    return true;
}

/* x [N, ...] and y [M, ...] of one example shape as [N + M, ...]: each
 * flattened into one row, joined, and viewed as rows again */
int stack_rows(struct builder *b, int x, int y) {
    struct ir *g = b->g;
    struct shape sx = ir_node(g, x)->shape, sy = ir_node(g, y)->shape;
    long nx = shape_size(sx), ny = shape_size(sy);
    int xy = ir_concat(g, ir_reshape(g, x, (struct shape){2, {1, (int)nx}}),
                       ir_reshape(g, y, (struct shape){2, {1, (int)ny}}));
    sx.d[0] += sy.d[0];
    return ir_reshape(g, xy, sx);
}

/* rows [off, off + len) of x, as a slice of x flattened into one row (so
 * that the gradient flows back, as it does not through a view of rows) */
int take_rows(struct builder *b, int x, int off, int len) {
    struct ir *g = b->g;
    struct shape s = ir_node(g, x)->shape;
    long per_row = shape_size(s) / s.d[0];
    int row = ir_reshape(g, x, (struct shape){2, {1, (int)shape_size(s)}});
    s.d[0] = len;
    return ir_reshape(g, ir_slice(g, row, (int)(off * per_row), (int)(len * per_row)), s);
}

int flat(struct builder *b, int x) {
    struct shape s = ir_node(b->g, x)->shape;
    return ir_reshape(b->g, x, (struct shape){2, {s.d[0], (int)(shape_size(s) / s.d[0])}});
}

/* batchnorm over the last axis of x: per feature, or per channel */
static int batchnorm(struct builder *b, const struct layer *l, int x, int gamma, int beta, int rmean, int rvar) {
    struct ir *g = b->g;
    struct shape sx = ir_node(g, x)->shape;
    long rows = shape_size(sx) / sx.d[sx.n - 1];
    if (b->mode == MODE_EVAL) {
        int scale = ir_binary(g, OP_MUL, ir_unary(g, OP_RSQRT, ir_addc(g, rvar, l->eps)), gamma);
        int shift = ir_binary(g, OP_SUB, beta, ir_binary(g, OP_MUL, rmean, scale));
        return ir_add_bias(g, ir_mul_channel(g, x, scale), shift);
    }
    /* sync_batchnorm in a --mpi step: the global batch's statistics, the
     * mean over the ranks of each one's (every rank has as many rows) */
    bool sync = b->p->ranks != 0 && b->m->train.sync_batchnorm;
    int mean = ir_scale(g, ir_sum_channel(g, x), 1.0 / (double)rows);
    if (sync)
        mean = ir_rank_mean(g, mean);
    int xc = ir_add_bias(g, x, ir_unary(g, OP_NEG, mean));
    int var = ir_scale(g, ir_sum_channel(g, ir_unary(g, OP_SQUARE, xc)), 1.0 / (double)rows);
    if (sync)
        var = ir_rank_mean(g, var);
    int inv = ir_unary(g, OP_RSQRT, ir_addc(g, var, l->eps));
    int y = ir_add_bias(g, ir_mul_channel(g, xc, ir_binary(g, OP_MUL, inv, gamma)), beta);
    /* the running variance is unbiased over the values the statistics are of
     * (a --per-rank-batch step does not know how many ranks there are: its own) */
    long n = sync && b->p->ranks > 0 ? rows * b->p->ranks : rows;
    if (b->mode == MODE_TRAIN)
        ir_bn_stats(g, mean, var, rmean, rvar, l->momentum, n > 1 ? (double)n / (double)(n - 1) : 1);
    return y;
}

/* layernorm: each example normalized over all its values, then a learned
 * scale and shift per channel (or feature) */
static int layernorm(struct builder *b, const struct layer *l, int x, int gamma, int beta) {
    struct ir *g = b->g;
    struct shape sx = ir_node(g, x)->shape;
    double per_ex = (double)(shape_size(sx) / sx.d[0]);
    int mean = ir_scale(g, ir_sum_row(g, x), 1 / per_ex);
    int xc = ir_row_op(g, OP_ADD_ROW, x, ir_unary(g, OP_NEG, mean));
    int var = ir_scale(g, ir_sum_row(g, ir_unary(g, OP_SQUARE, xc)), 1 / per_ex);
    int inv = ir_unary(g, OP_RSQRT, ir_addc(g, var, l->eps));
    return ir_add_bias(g, ir_mul_channel(g, ir_row_op(g, OP_MUL_ROW, xc, inv), gamma), beta);
}

/* instancenorm: each channel of each example normalized over its pixels,
 * then a learned scale and shift per channel; the same in every mode */
static int instancenorm(struct builder *b, const struct layer *l, int x, int gamma, int beta) {
    struct ir *g = b->g;
    struct shape sx = ir_node(g, x)->shape;
    int h = sx.d[1], w = sx.d[2];
    double hw = (double)h * w;
    int mean = ir_scale(g, ir_sum_hw(g, x), 1 / hw);
    int xc = ir_binary(g, OP_SUB, x, ir_bcast_hw(g, mean, h, w));
    int var = ir_scale(g, ir_sum_hw(g, ir_unary(g, OP_SQUARE, xc)), 1 / hw);
    int inv = ir_unary(g, OP_RSQRT, ir_addc(g, var, l->eps));
    int y = ir_binary(g, OP_MUL, xc, ir_bcast_hw(g, inv, h, w));
    return ir_add_bias(g, ir_mul_channel(g, y, gamma), beta);
}

/* cond: the labels y, one-hot or embedded, joined to the features, or to
 * the channels of every pixel */
static int cond(struct builder *b, const struct layer *l, int x, int y, int table) {
    struct ir *g = b->g;
    int v = l->embed ? ir_embed(g, y, table) : ir_onehot(g, y, b->m->n_classes);
    struct shape sx = ir_node(g, x)->shape;
    if (sx.n == 4)
        v = ir_bcast_hw(g, v, sx.d[1], sx.d[2]);
    return ir_concat(g, x, v);
}

/* A dense, conv or deconv layer's weight as the layer uses it: the
 * parameter, or with spectral_norm W / sigma(W) (Miyato et al. 2018), sigma
 * = u^T W v from the power iteration's vectors, which are state and not
 * differentiated (as torch.nn.utils.spectral_norm).  Training runs one
 * iteration per forward pass first, as torch does in train mode; eval and
 * gradient checks use the stored vectors.  sigma is a sum of elementwise
 * products of parameters, so samplers fold W / sigma into a constant. */
static int layer_weight(struct builder *b, const struct layer *l, const struct layer_tensors *lt) {
    int w = param(b, lt->weight);
    if (!l->sn)
        return w;
    struct ir *g = b->g;
    int rows, cols;
    bool u_on_cols;
    sn_matrix(l, ir_node(g, w)->shape, &rows, &cols, &u_on_cols);
    int m = ir_reshape(g, w, (struct shape){2, {rows, cols}});
    int u = param(b, lt->sn_u), v = param(b, lt->sn_v);
    int r = u_on_cols ? v : u, c = u_on_cols ? u : v; /* the vectors along rows and along columns */
    if (b->mode == MODE_TRAIN)
        ir_sn_power(g, m, r, c, u_on_cols);
    int sigma = ir_sum_all(g, ir_mul_channel(g, ir_row_op(g, OP_MUL_ROW, m, r), c));
    int inv = ir_unary(g, OP_RSQRT, ir_unary(g, OP_SQUARE, sigma)); /* 1 / sigma, sigma > 0 */
    return ir_binary(g, OP_MUL, w, inv);
}

/* DiffAugment (Zhao et al. 2020), its policy 'color,translation,cutout' as
 * the paper's code (DiffAugment_pytorch.py) has it: each transform draws
 * per example from the step's hash, under salts of its own per call, and
 * all are differentiable, so G's gradient flows through them. */
int augment(struct builder *b, int x) {
    const struct model *m = b->m;
    if (!m->augment.on || b->mode == MODE_EVAL)
        return x;
    struct ir *g = b->g;
    struct shape s = ir_node(g, x)->shape;
    if (s.n != 4)
        unreachable();
    int n = s.d[0], h = s.d[1], w = s.d[2], c = s.d[3];
    int salt = SALT_AUG_BASE + 8 * b->augments++;
    const char *saved = g->cur_what;
    g->cur_what = "augment";
    g->cur_loc = m->augment.loc;
    struct shape rows = {1, {n}};
    if (m->augment.color) {
        /* brightness: x + (r - 0.5) */
        x = ir_row_op(g, OP_ADD_ROW, x, ir_addc(g, ir_uniform(g, rows, salt), -0.5));
        /* saturation: (x - mean_c) 2r + mean_c, the mean over each pixel's
         * channels; a no-op on one channel, so left out there */
        if (c > 1) {
            int flat = ir_reshape(g, x, (struct shape){2, {n * h * w, c}});
            int mean = ir_matmul(g, flat, ir_fill(g, 1.0 / c, (struct shape){2, {c, 1}}), false, false);
            int spread = ir_reshape(g, ir_matmul(g, mean, ir_fill(g, 1, (struct shape){2, {1, c}}), false, false), s);
            int r = ir_scale(g, ir_uniform(g, rows, salt + 1), 2);
            x = ir_binary(g, OP_ADD, ir_row_op(g, OP_MUL_ROW, ir_binary(g, OP_SUB, x, spread), r), spread);
        }
        /* contrast: (x - mean) (r + 0.5) + mean, the mean over each example */
        int mean = ir_scale(g, ir_sum_row(g, x), 1.0 / ((double)h * w * c));
        int r = ir_addc(g, ir_uniform(g, rows, salt + 2), 0.5);
        x = ir_row_op(g, OP_ADD_ROW, ir_row_op(g, OP_MUL_ROW, ir_row_op(g, OP_ADD_ROW, x, ir_unary(g, OP_NEG, mean)), r),
                      mean);
    }
    /* translation by up to int(H ratio + 0.5) pixels, zero-filled */
    if (m->augment.translation > 0)
        x = ir_translate(g, x, (int)(h * m->augment.translation + 0.5), (int)(w * m->augment.translation + 0.5),
                         salt + 3, 1);
    /* cutout of an int(H ratio + 0.5) square */
    if (m->augment.cutout > 0)
        x = ir_cutout(g, x, (int)(h * m->augment.cutout + 0.5), (int)(w * m->augment.cutout + 0.5), salt + 4);
    g->cur_what = saved;
    return x;
}

/* The forward pass of network `n` on x (and labels y, or -1), one IR node or
 * a few per layer. */
int forward(struct builder *b, int n, int x, int y) {
    return forward_layers(b, n, x, y, 0, b->m->nets.data[n].layers.len);
}

/* Layers [from, to) of network `n` on x (and labels y, or -1), one IR node
 * or a few per layer. */
int forward_layers(struct builder *b, int n, int x, int y, int from, int to) {
    const struct network *net = &b->m->nets.data[n];
    struct ir *g = b->g;
    const struct layer_tensors *lt = b->lo->layer_tensors[n];
    int *skip = xalloc(sizeof(int) * (size_t)(net->layers.len + 1)), depth = 0; /* the open residual blocks' inputs */
    for (int i = from; i < to; i++) {
        const struct layer *l = &net->layers.data[i];
        g->cur_loc = l->loc;
        g->cur_what = xprintf("%s %s", net->name, layer_label(l));
        switch (l->kind) {
        case L_DENSE:
            x = ir_matmul(g, x, layer_weight(b, l, &lt[i]), false, true);
            if (l->bias)
                x = ir_add_bias(g, x, param(b, lt[i].bias));
            break;
        case L_RELU:
            x = ir_leaky_relu(g, x, 0);
            break;
        case L_LEAKY_RELU:
            x = ir_leaky_relu(g, x, l->alpha);
            break;
        case L_ELU:
            x = ir_elu(g, x, l->alpha);
            break;
        case L_TANH:
            x = ir_unary(g, OP_TANH, x);
            break;
        case L_SIGMOID:
            x = ir_unary(g, OP_SIGMOID, x);
            break;
        case L_RESHAPE: case L_FLATTEN:
            x = ir_reshape(g, x, batched(ir_node(g, x)->shape.d[0], l->out));
            break;
        case L_CONV: {
            int n_ = ir_node(g, x)->shape.d[0], ho = l->out.d[1], wo = l->out.d[2];
            int cols = ir_im2col(g, x, (struct geom_attr){l->k, l->stride, l->pad, ho, wo});
            x = ir_matmul(g, cols, layer_weight(b, l, &lt[i]), false, true);
            if (l->bias)
                x = ir_add_bias(g, x, param(b, lt[i].bias));
            x = ir_reshape(g, x, (struct shape){4, {n_, ho, wo, l->units}});
            break;
        }
        case L_DECONV: {
            int n_ = ir_node(g, x)->shape.d[0], hi = l->in.d[1], wi = l->in.d[2], ci = l->in.d[0];
            int x2 = ir_reshape(g, x, (struct shape){2, {n_ * hi * wi, ci}});
            int cols = ir_matmul(g, x2, layer_weight(b, l, &lt[i]), false, false);
            x = ir_col2im(g, cols, (struct shape){4, {n_, l->out.d[1], l->out.d[2], l->units}},
                          (struct geom_attr){l->k, l->stride, l->pad, hi, wi});
            if (l->bias)
                x = ir_add_bias(g, x, param(b, lt[i].bias));
            break;
        }
        case L_BATCHNORM:
            x = batchnorm(b, l, x, param(b, lt[i].weight), param(b, lt[i].bias),
                          param(b, lt[i].run_mean), param(b, lt[i].run_var));
            break;
        case L_DROPOUT:
            if (b->mode != MODE_EVAL)
                x = ir_dropout(g, x, l->p, ++b->salt);
            break;
        case L_LAYERNORM:
            x = layernorm(b, l, x, param(b, lt[i].weight), param(b, lt[i].bias));
            break;
        case L_COND:
            x = cond(b, l, x, y, l->embed ? param(b, lt[i].weight) : -1);
            break;
        case L_UPSAMPLE:
            x = ir_upsample(g, x, l->factor);
            break;
        case L_AVGPOOL:
            x = ir_scale(g, ir_sumpool(g, x, l->factor), 1.0 / (l->factor * l->factor));
            break;
        case L_INSTANCENORM:
            x = instancenorm(b, l, x, param(b, lt[i].weight), param(b, lt[i].bias));
            break;
        case L_RESIDUAL:
            skip[depth++] = x;
            break;
        case L_ADD:
            x = ir_binary(g, OP_ADD, x, skip[--depth]);
            break;
        }
    }
    return x;
}

/* The parameter tensors of the networks in mask, and their PARAM nodes. */
static int trained_params(struct builder *b, unsigned mask, int *tensors, int *nodes) {
    int n = 0;
    for (int t = 0; t < b->lo->tensors.len; t++) {
        const struct ptensor *pt = &b->lo->tensors.data[t];
        if (pt->role == GENRT_PARAM && (mask >> pt->net & 1u)) {
            tensors[n] = t;
            nodes[n++] = param(b, t);
        }
    }
    return n;
}

struct grads gradients(struct builder *b, unsigned mask, int loss) {
    struct grads gr;
    gr.tensors = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    gr.nodes = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    gr.grads = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    gr.n = trained_params(b, mask, gr.tensors, gr.nodes);
    autodiff(b->g, loss, gr.nodes, gr.n, gr.grads);
    return gr;
}

void optimizer_step(struct builder *b, unsigned mask, int loss, int runs, int run) {
    struct grads gr = gradients(b, mask, loss);
    apply_gradients(b, &gr, runs, run);
}

/* Each parameter's optimizer step, from its gradient. */
void apply_gradients(struct builder *b, const struct grads *gr, int runs, int run) {
    int n = gr->n, *tensors = gr->tensors, *nodes = gr->nodes, *grads = gr->grads;
    static const char *const names[] = {"sgd", "adam", "rmsprop"};
    /* a --mpi step: every rank steps with the mean of the ranks' gradients */
    for (int j = 0; j < n && b->p->ranks != 0; j++) {
        if (grads[j] < 0)
            continue;
        b->g->cur_what = xprintf("the ranks' mean gradient of %s", b->lo->tensors.data[tensors[j]].name);
        ir_allreduce(b->g, grads[j]);
    }
    for (int j = 0; j < n; j++) {
        const struct ptensor *t = &b->lo->tensors.data[tensors[j]];
        const struct optim *o = &b->m->opts.data[b->m->nets.data[t->net].opt];
        if (grads[j] < 0)
            continue;
        b->g->cur_what = xprintf("%s step of %s", names[o->kind], t->name);
        b->g->cur_loc = o->loc;
        /* the state's PARAM nodes in the layout's order */
        int st[N_OPT_STATE];
        for (int k = 0; k < N_OPT_STATE; k++)
            st[k] = t->opt_state[k] >= 0 ? param(b, t->opt_state[k]) : -1;
        if (o->kind == OPT_ADAM) {
            ir_adam(b->g, nodes[j], grads[j], st[OPT_ADAM_M], st[OPT_ADAM_V],
                    (struct adam_attr){o->lr, o->beta1, o->beta2, o->eps, o->weight_decay, runs, run});
        } else if (o->kind == OPT_RMSPROP) {
            ir_rmsprop(b->g, nodes[j], grads[j], st[OPT_RMS_SQUARE_AVG], st[OPT_RMS_GRAD_AVG], st[OPT_RMS_MOMENTUM],
                       (struct rmsprop_attr){o->lr, o->alpha, o->eps, o->weight_decay, o->momentum, -1, -1});
        } else {
            int buf = st[OPT_SGD_MOMENTUM];
            ir_sgd(b->g, nodes[j], grads[j], buf, (struct sgd_attr){o->lr, o->momentum, o->weight_decay, o->nesterov});
        }
    }
    /* then the moving averages, from the updated parameters */
    for (int j = 0; j < n; j++) {
        const struct ptensor *t = &b->lo->tensors.data[tensors[j]];
        if (grads[j] < 0 || t->ema < 0)
            continue;
        const struct optim *o = &b->m->opts.data[b->m->nets.data[t->net].opt];
        b->g->cur_what = xprintf("moving average of %s", t->name);
        b->g->cur_loc = o->ema_loc;
        ir_ema(b->g, nodes[j], param(b, t->ema), o->ema);
    }
}

/* ---- metrics and terms ---------------------------------------------------- */

void declare_metrics(struct lowered *lo, const char *const *names, const bool *present, int n) {
    for (int id = 0; id < n; id++) {
        vec_push(&lo->metric_slot, present[id] ? lo->metrics.len : -1);
        if (present[id])
            vec_push(&lo->metrics, names[id]);
    }
}

void metric(struct builder *b, int id, int x) {
    if (id >= b->lo->metric_slot.len || b->lo->metric_slot.data[id] < 0)
        unreachable();
    ir_output(b->g, x, b->lo->metric_slot.data[id], 0);
}

void declare_term(struct lowered *lo, const char *name, unsigned nets) {
    vec_push(&lo->terms, name);
    vec_push(&lo->term_nets, nets);
}

/* ---- programs ----------------------------------------------------------- */

struct program *new_program(struct builder *b, const char *name, enum prog_kind kind, int batch, int term) {
    b->mode = kind == PROG_TRAIN ? MODE_TRAIN
            : kind == PROG_GC_LOSS || kind == PROG_GC_GRAD ? MODE_CHECK : MODE_EVAL;
    b->salt = 0;
    b->augments = 0;
    struct program p = {.name = name, .kind = kind, .batch = batch, .term = term, .result = -1, .result2 = -1};
    vec_push(&b->lo->progs, p);
    b->p = &b->lo->progs.data[b->lo->progs.len - 1];
    b->g = &b->p->ir;
    b->param_node = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    for (int t = 0; t < b->lo->tensors.len; t++)
        b->param_node[t] = -1;
    return b->p;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

void lower_model(const struct model *m, struct lowered *lo) {
    const struct objective_def *def = m->objective.def;
    *lo = (struct lowered){0};
    lo->genrt_objective = def->genrt_kind;
    lo->objective_title = def->title;
    layout_state(m, lo);
    uint64_t h = 14695981039346656037ull;
    for (int t = 0; t < lo->tensors.len; t++) {
        const struct ptensor *pt = &lo->tensors.data[t];
        h = fnv(h, pt->name, strlen(pt->name) + 1);
        h = fnv(h, &pt->shape, sizeof pt->shape);
    }
    lo->shape_hash = h;
    lo->real_batches = 1;
    lo->n_samplers = 1;
    lo->n_classes = m->conditional ? m->n_classes : 0;
    def->declare(m, lo);
    lo->gc_batch = m->train.batch < 4 ? m->train.batch : 4;

    struct builder b = {.m = m, .lo = lo};
    new_program(&b, "train_step", PROG_TRAIN, m->train.batch, -1);
    def->train(&b);
    def->programs(&b);

    for (int k = 0; k < lo->terms.len; k++) {
        new_program(&b, xprintf("gc_loss_%d", k), PROG_GC_LOSS, lo->gc_batch, k);
        ir_output(b.g, def->term_loss(&b, k), 0, 0);
        new_program(&b, xprintf("gc_grad_%d", k), PROG_GC_GRAD, lo->gc_batch, k);
        int loss = def->term_loss(&b, k);
        struct grads gr = gradients(&b, lo->term_nets.data[k], loss);
        b.g->cur_what = "gradients out";
        for (int i = 0; i < gr.n; i++)
            if (gr.grads[i] >= 0)
                ir_store_grad(b.g, gr.grads[i], lo->tensors.data[gr.tensors[i]].offset);
    }
}

/* genc --mpi: the train step again, for data-parallel training.  For each
 * R > 1 that divides the batch B (up to GENC_MPI_MAX_RANKS), a step at batch
 * B / R: R ranks share the global batch B; and one at batch B for any number
 * of ranks (--per-rank-batch: the global batch is R B).  Each averages its
 * gradients over the ranks before every optimizer step, and its random ops
 * draw, for each of its rows, what one rank would for that row of the
 * global batch, so R ranks compute what one does. */
/* One --mpi step: for `ranks` ranks at batch B / ranks, or -1: any, at B. */
static void lower_mpi_step(struct builder *b, int ranks) {
    int B = b->m->train.batch;
    struct program *p = new_program(b, ranks > 0 ? xprintf("train_step_r%d", ranks) : "train_step_any", PROG_TRAIN,
                                    ranks > 0 ? B / ranks : B, -1);
    p->ranks = ranks;
    b->m->objective.def->train(b);
    for (int v = 0; v < p->ir.nodes.len; v++) {
        struct node *n = &p->ir.nodes.data[v];
        if (op_table[n->op].flags & F_RANDOM)
            n->per_rank = p->batch;
    }
}

void lower_mpi_steps(const struct model *m, struct lowered *lo, uint64_t ranks) {
    struct builder b = {.m = m, .lo = lo};
    for (int r = 2; r <= m->train.batch && r <= GENC_MPI_MAX_RANKS; r++)
        if (m->train.batch % r == 0 && (ranks >> (r - 1) & 1u))
            lower_mpi_step(&b, r);
    lower_mpi_step(&b, -1);
}

struct program *lower_sampler(const struct model *m, struct lowered *lo, int k) {
    struct builder b = {.m = m, .lo = lo};
    struct program *p = new_program(&b, "forward", PROG_SAMPLE, 1, -1);
    m->objective.def->sampler(&b, k);
    return p;
}
