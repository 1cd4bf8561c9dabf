/* lower.c: the objective layer.  From a checked model it lays out the
 * persistent state (parameters, optimizer state) and builds one IR program
 * per emitted function: the training step, the sampler's generator pass,
 * and, per objective term, a loss and a loss-with-gradient for gradcheck.
 *
 * Each objective is a function that builds its losses from the networks'
 * forward passes; the training step adds autodiff and the optimizer steps
 * around those losses. */
#include "genc.h"
#include "genrt_model.h"

#include <math.h>
#include <string.h>

enum { ALIGN = 16 }; /* scalars: 64-byte alignment for float */

static long align_up(long n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

static int add_tensor(struct lowered *lo, const char *name, int role, int net, int init, int fan_in,
                      struct shape s) {
    struct ptensor t = {.name = name, .role = role, .net = net, .init = init, .fan_in = fan_in,
                        .shape = s, .offset = lo->n_state};
    char *c = xstrdup(name);
    for (char *p = c; *p; p++)
        if (*p == '.')
            *p = '_';
    t.cname = c;
    lo->n_state += align_up(shape_size(s));
    vec_push(&lo->tensors, t);
    return lo->tensors.len - 1;
}

/* Per network, the persistent tensors of each layer, in layer order; -1
 * for none.  Batchnorm's gamma and beta are its weight and bias. */
struct net_params {
    int weight[256], bias[256], run_mean[256], run_var[256];
};

static struct net_params *params_of;
static int vae_logvar; /* tensor of a learned gaussian log-variance, or -1 */

static void layout_state(const struct model *m, struct lowered *lo) {
    params_of = xalloc(sizeof(struct net_params) * (size_t)m->nets.len);
    for (int n = 0; n < m->nets.len; n++) {
        const struct network *net = &m->nets.data[n];
        struct net_params *np = &params_of[n];
        for (int i = 0; i < net->layers.len && i < 256; i++) {
            const struct layer *l = &net->layers.data[i];
            np->weight[i] = np->bias[i] = np->run_mean[i] = np->run_var[i] = -1;
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
                np->weight[i] = add_tensor(lo, xprintf("%s.gamma", pre), GENRT_PARAM, n, GENRT_INIT_ONE, 0, c);
                np->bias[i] = add_tensor(lo, xprintf("%s.beta", pre), GENRT_PARAM, n, GENRT_INIT_ZERO, 0, c);
                continue;
            }
            case L_COND:
                if (l->embed) /* U(-1, 1), through a fan-in of 1 */
                    np->weight[i] = add_tensor(lo, xprintf("%s.embedding", pre), GENRT_PARAM, n,
                                               GENRT_INIT_FANIN_UNIFORM, 1,
                                               (struct shape){2, {m->n_classes, l->embed}});
                continue;
            case L_BATCHNORM: {
                struct shape c = {1, {l->in.d[0]}};
                np->weight[i] = add_tensor(lo, xprintf("%s.gamma", pre), GENRT_PARAM, n, GENRT_INIT_ONE, 0, c);
                np->bias[i] = add_tensor(lo, xprintf("%s.beta", pre), GENRT_PARAM, n, GENRT_INIT_ZERO, 0, c);
                np->run_mean[i] = add_tensor(lo, xprintf("%s.running_mean", pre), GENRT_RUNNING, n, GENRT_INIT_ZERO,
                                             0, c);
                np->run_var[i] = add_tensor(lo, xprintf("%s.running_var", pre), GENRT_RUNNING, n, GENRT_INIT_ONE, 0, c);
                continue;
            }
            default:
                continue;
            }
            np->weight[i] = add_tensor(lo, xprintf("%s.weight", pre), GENRT_PARAM, n, GENRT_INIT_FANIN_UNIFORM,
                                       fan_in, w);
            if (l->bias)
                np->bias[i] = add_tensor(lo, xprintf("%s.bias", pre), GENRT_PARAM, n, GENRT_INIT_FANIN_UNIFORM, fan_in,
                                         (struct shape){1, {units}});
        }
    }
    /* a VAE's learned gaussian log-variance, the decoder's */
    vae_logvar = -1;
    if (m->objective.kind == OBJ_VAE && m->objective.likelihood == LIK_GAUSSIAN && m->objective.sigma2 == 0)
        vae_logvar = add_tensor(lo, xprintf("%s.logvar", m->nets.data[m->objective.dec].name), GENRT_PARAM,
                                m->objective.dec, GENRT_INIT_ZERO, 0, (struct shape){1, {1}});
    /* Optimizer state after all parameters, in the same order. */
    int n_params = lo->tensors.len;
    for (int t = 0; t < n_params; t++) {
        struct ptensor p = lo->tensors.data[t];
        const struct network *net = &m->nets.data[p.net];
        if (net->opt < 0)
            continue;
        const struct optim *o = &m->opts.data[net->opt];
        if (o->kind == OPT_ADAM) {
            add_tensor(lo, xprintf("%s.adam_m", p.name), GENRT_OPT_STATE, p.net, GENRT_INIT_ZERO, 0, p.shape);
            add_tensor(lo, xprintf("%s.adam_v", p.name), GENRT_OPT_STATE, p.net, GENRT_INIT_ZERO, 0, p.shape);
        } else if (o->kind == OPT_RMSPROP) {
            add_tensor(lo, xprintf("%s.square_avg", p.name), GENRT_OPT_STATE, p.net, GENRT_INIT_ZERO, 0, p.shape);
            if (o->centered)
                add_tensor(lo, xprintf("%s.grad_avg", p.name), GENRT_OPT_STATE, p.net, GENRT_INIT_ZERO, 0, p.shape);
            if (o->momentum > 0)
                add_tensor(lo, xprintf("%s.momentum", p.name), GENRT_OPT_STATE, p.net, GENRT_INIT_ZERO, 0, p.shape);
        } else if (o->momentum > 0) {
            add_tensor(lo, xprintf("%s.momentum", p.name), GENRT_OPT_STATE, p.net, GENRT_INIT_ZERO, 0, p.shape);
        }
    }
}

static int find_tensor(const struct lowered *lo, const char *name) {
    for (int i = 0; i < lo->tensors.len; i++)
        if (!strcmp(lo->tensors.data[i].name, name))
            return i;
    return -1;
}

/* ---- building programs -------------------------------------------------- */

/* How a forward pass runs: training (batch statistics, running statistics
 * updated, dropout on), eval (running statistics, no dropout), or a
 * gradient check (batch statistics, no state changed). */
enum mode { MODE_TRAIN, MODE_EVAL, MODE_CHECK };

struct builder {
    const struct model *m;
    struct lowered *lo;
    struct program *p;
    struct ir *g;
    enum mode mode;
    int *param_node; /* per tensor: its PARAM node in this program, or -1 */
    int salt;        /* numbers dropout layers apart, per forward pass */
};

static int param(struct builder *b, int tensor) {
    if (b->param_node[tensor] < 0) {
        const struct ptensor *t = &b->lo->tensors.data[tensor];
        b->param_node[tensor] = ir_param(b->g, tensor, t->shape);
    }
    return b->param_node[tensor];
}

/* The IR shape of a batch of DSL shape s.  Images are [C, H, W] in the
 * DSL and channels-last [N, H, W, C] in memory, so a convolution is one
 * GEMM over all N*H*W pixels and per-channel work indexes the last axis. */
static struct shape batched(int batch, struct shape s) {
    if (s.n == 3)
        return (struct shape){4, {batch, s.d[1], s.d[2], s.d[0]}};
    struct shape r = {s.n + 1, {batch}};
    for (int i = 0; i < s.n; i++)
        r.d[i + 1] = s.d[i];
    return r;
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
    int mean = ir_scale(g, ir_sum_channel(g, x), 1.0 / (double)rows);
    int xc = ir_add_bias(g, x, ir_unary(g, OP_NEG, mean));
    int var = ir_scale(g, ir_sum_channel(g, ir_unary(g, OP_SQUARE, xc)), 1.0 / (double)rows);
    int inv = ir_unary(g, OP_RSQRT, ir_addc(g, var, l->eps));
    int y = ir_add_bias(g, ir_mul_channel(g, xc, ir_binary(g, OP_MUL, inv, gamma)), beta);
    if (b->mode == MODE_TRAIN)
        ir_bn_stats(g, mean, var, rmean, rvar, l->momentum, rows > 1 ? (double)rows / (double)(rows - 1) : 1);
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

/* The forward pass of network `n` on x (and labels y, or -1), one IR node or
 * a few per layer. */
static int forward(struct builder *b, int n, int x, int y) {
    const struct network *net = &b->m->nets.data[n];
    struct ir *g = b->g;
    int skip[256], depth = 0; /* the inputs of the open residual blocks */
    for (int i = 0; i < net->layers.len; i++) {
        const struct layer *l = &net->layers.data[i];
        g->cur_loc = l->loc;
        g->cur_what = xprintf("%s %s", net->name, layer_label(l));
        switch (l->kind) {
        case L_DENSE:
            x = ir_matmul(g, x, param(b, params_of[n].weight[i]), false, true);
            if (l->bias)
                x = ir_add_bias(g, x, param(b, params_of[n].bias[i]));
            break;
        case L_RELU:
            x = ir_leaky_relu(g, x, 0);
            break;
        case L_LEAKY_RELU:
            x = ir_leaky_relu(g, x, l->alpha);
            break;
        case L_TANH:
            x = ir_unary(g, OP_TANH, x);
            break;
        case L_SIGMOID:
            x = ir_unary(g, OP_SIGMOID, x);
            break;
        case L_RESHAPE: case L_FLATTEN:
            x = ir_reshape(g, x, batched(b->p->batch, l->out));
            break;
        case L_CONV: {
            int n_ = b->p->batch, ho = l->out.d[1], wo = l->out.d[2];
            int cols = ir_im2col(g, x, (struct geom_attr){l->k, l->stride, l->pad, ho, wo});
            x = ir_matmul(g, cols, param(b, params_of[n].weight[i]), false, true);
            if (l->bias)
                x = ir_add_bias(g, x, param(b, params_of[n].bias[i]));
            x = ir_reshape(g, x, (struct shape){4, {n_, ho, wo, l->units}});
            break;
        }
        case L_DECONV: {
            int n_ = b->p->batch, hi = l->in.d[1], wi = l->in.d[2], ci = l->in.d[0];
            int x2 = ir_reshape(g, x, (struct shape){2, {n_ * hi * wi, ci}});
            int cols = ir_matmul(g, x2, param(b, params_of[n].weight[i]), false, false);
            x = ir_col2im(g, cols, (struct shape){4, {n_, l->out.d[1], l->out.d[2], l->units}},
                          (struct geom_attr){l->k, l->stride, l->pad, hi, wi});
            if (l->bias)
                x = ir_add_bias(g, x, param(b, params_of[n].bias[i]));
            break;
        }
        case L_BATCHNORM:
            x = batchnorm(b, l, x, param(b, params_of[n].weight[i]), param(b, params_of[n].bias[i]),
                          param(b, params_of[n].run_mean[i]), param(b, params_of[n].run_var[i]));
            break;
        case L_DROPOUT:
            if (b->mode != MODE_EVAL)
                x = ir_dropout(g, x, l->p, ++b->salt);
            break;
        case L_LAYERNORM:
            x = layernorm(b, l, x, param(b, params_of[n].weight[i]), param(b, params_of[n].bias[i]));
            break;
        case L_COND:
            x = cond(b, l, x, y, l->embed ? param(b, params_of[n].weight[i]) : -1);
            break;
        case L_UPSAMPLE:
            x = ir_upsample(g, x, l->factor);
            break;
        case L_AVGPOOL:
            x = ir_scale(g, ir_sumpool(g, x, l->factor), 1.0 / (l->factor * l->factor));
            break;
        case L_INSTANCENORM:
            x = instancenorm(b, l, x, param(b, params_of[n].weight[i]), param(b, params_of[n].bias[i]));
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

/* One optimizer step of the networks in mask on loss.  `steps` and `k`: the
 * optimizer runs `steps` times per training step and this is run k (from 0),
 * so Adam's step count is (t - 1) * steps + k + 1. */
struct grads {
    int n;
    int *tensors, *nodes, *grads;
};

/* The gradient of loss with respect to the parameters of the networks in mask. */
static struct grads gradients(struct builder *b, unsigned mask, int loss) {
    struct grads gr;
    gr.tensors = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    gr.nodes = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    gr.grads = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    gr.n = trained_params(b, mask, gr.tensors, gr.nodes);
    autodiff(b->g, loss, gr.nodes, gr.n, gr.grads);
    return gr;
}

static void apply_gradients(struct builder *b, const struct grads *gr, int steps, int k);

static void optimizer_step(struct builder *b, unsigned mask, int loss, int steps, int k) {
    struct grads gr = gradients(b, mask, loss);
    apply_gradients(b, &gr, steps, k);
}

/* Each parameter's optimizer step, from its gradient. */
static void apply_gradients(struct builder *b, const struct grads *gr, int steps, int k) {
    int n = gr->n, *tensors = gr->tensors, *nodes = gr->nodes, *grads = gr->grads;
    static const char *const names[] = {"sgd", "adam", "rmsprop"};
    for (int j = 0; j < n; j++) {
        const struct ptensor *t = &b->lo->tensors.data[tensors[j]];
        const struct optim *o = &b->m->opts.data[b->m->nets.data[t->net].opt];
        if (grads[j] < 0)
            continue;
        b->g->cur_what = xprintf("%s step of %s", names[o->kind], t->name);
        b->g->cur_loc = o->loc;
        if (o->kind == OPT_ADAM) {
            ir_adam(b->g, nodes[j], grads[j], param(b, find_tensor(b->lo, xprintf("%s.adam_m", t->name))),
                    param(b, find_tensor(b->lo, xprintf("%s.adam_v", t->name))),
                    (struct adam_attr){o->lr, o->beta1, o->beta2, o->eps, o->weight_decay, steps, k});
        } else if (o->kind == OPT_RMSPROP) {
            int gavg = o->centered ? param(b, find_tensor(b->lo, xprintf("%s.grad_avg", t->name))) : -1;
            int buf = o->momentum > 0 ? param(b, find_tensor(b->lo, xprintf("%s.momentum", t->name))) : -1;
            ir_rmsprop(b->g, nodes[j], grads[j], param(b, find_tensor(b->lo, xprintf("%s.square_avg", t->name))),
                       gavg, buf, (struct rmsprop_attr){o->lr, o->alpha, o->eps, o->weight_decay, o->momentum, -1, -1});
        } else {
            int buf = o->momentum > 0 ? param(b, find_tensor(b->lo, xprintf("%s.momentum", t->name))) : -1;
            ir_sgd(b->g, nodes[j], grads[j], buf, (struct sgd_attr){o->lr, o->momentum, o->weight_decay, o->nesterov});
        }
    }
}

static void output(struct builder *b, int x, int slot) { ir_output(b->g, x, slot, 0); }

/* ---- the GAN objective -------------------------------------------------- */

enum { TERM_D, TERM_G };

static bool is_wgan(const struct model *m) {
    return m->objective.form == FORM_WGAN || m->objective.form == FORM_WGAN_GP;
}

/* mean of a [N, 1] score, and its helpers */
static int mean(struct builder *b, int x) { return ir_mean_all(b->g, x); }
static int neg(struct builder *b, int x) { return ir_unary(b->g, OP_NEG, x); }
static int add(struct builder *b, int x, int y) { return ir_binary(b->g, OP_ADD, x, y); }
static int softplus(struct builder *b, int x) { return ir_unary(b->g, OP_SOFTPLUS, x); }
static int sq(struct builder *b, int x) { return ir_unary(b->g, OP_SQUARE, x); }
static int relu(struct builder *b, int x) { return ir_leaky_relu(b->g, x, 0); }

/* WGAN-GP's penalty: lambda * mean((|grad_xh D(xh)| - 1)^2) at xh, random
 * points between real and fake examples.  The gradient is AD-built IR, and
 * the critic's step differentiates it again. */
static int gradient_penalty(struct builder *b, int x, int fake, int y, int k) {
    const struct model *m = b->m;
    struct ir *g = b->g;
    g->cur_loc = m->objective.loc;
    g->cur_what = "gradient penalty";
    int rows = ir_node(g, x)->shape.d[0];
    int eps = ir_uniform(g, (struct shape){1, {rows}}, 1000 + k);
    int xh = add(b, ir_row_op(g, OP_MUL_ROW, ir_binary(g, OP_SUB, x, fake), eps), fake);
    int score = ir_sum_all(g, forward(b, m->objective.disc, xh, y));
    g->cur_loc = m->objective.loc;
    g->cur_what = "gradient penalty";
    int gx;
    autodiff(g, score, &xh, 1, &gx);
    int norm = ir_unary(g, OP_SQRT, ir_addc(g, ir_sum_row(g, sq(b, gx)), 1e-12));
    return ir_scale(g, mean(b, sq(b, ir_addc(g, norm, -1))), m->objective.lambda);
}

/* The critic's (D's) loss on a real batch x and fakes, by form. lr and lf
 * return D's raw outputs for the metrics. */
static int loss_d(struct builder *b, int disc, int x, int fake, int y, int k, int *lr, int *lf) {
    const struct model *m = b->m;
    *lr = forward(b, disc, x, y);
    *lf = forward(b, disc, fake, y);
    struct ir *g = b->g;
    g->cur_loc = m->objective.loc;
    g->cur_what = "loss_D";
    int r = *lr, f = *lf, loss = -1;
    switch (m->objective.form) {
    case FORM_MINIMAX:
    case FORM_NONSATURATING: /* binary cross-entropy with logits */
        loss = add(b, mean(b, softplus(b, neg(b, r))), mean(b, softplus(b, f)));
        break;
    case FORM_LSGAN: /* 0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2] */
        loss = ir_scale(g, add(b, mean(b, sq(b, ir_addc(g, r, -1))), mean(b, sq(b, f))), 0.5);
        break;
    case FORM_HINGE: /* E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] */
        loss = add(b, mean(b, relu(b, ir_addc(g, neg(b, r), 1))), mean(b, relu(b, ir_addc(g, f, 1))));
        break;
    case FORM_WGAN:
    case FORM_WGAN_GP: /* E[D(G(z))] - E[D(x)] */
        loss = ir_binary(g, OP_SUB, mean(b, f), mean(b, r));
        break;
    }
    if (m->objective.form == FORM_WGAN_GP)
        loss = add(b, loss, gradient_penalty(b, x, fake, y, k));
    return loss;
}

/* G's loss on fakes through D, by form. */
static int loss_g(struct builder *b, int disc, int fake, int y) {
    const struct model *m = b->m;
    int f = forward(b, disc, fake, y);
    struct ir *g = b->g;
    g->cur_loc = m->objective.loc;
    g->cur_what = "loss_G";
    switch (m->objective.form) {
    case FORM_MINIMAX: /* G descends on E[log(1 - D(G(z)))] = -E[softplus(l)] */
        return neg(b, mean(b, softplus(b, f)));
    case FORM_NONSATURATING: /* E[-log D(G(z))] */
        return mean(b, softplus(b, neg(b, f)));
    case FORM_LSGAN: /* 0.5 E[(D(G(z)) - 1)^2] */
        return ir_scale(g, mean(b, sq(b, ir_addc(g, f, -1))), 0.5);
    default: /* hinge and the WGANs: -E[D(G(z))] */
        return neg(b, mean(b, f));
    }
}

static unsigned net_bit(int n) { return 1u << n; }

struct inputs {
    int x, z, y; /* all batches of the step; y is -1 without labels */
};

static struct inputs inputs(struct builder *b, int real_batches, int latent_batches) {
    const struct model *m = b->m;
    const struct network *d = &m->nets.data[m->objective.disc];
    int n = b->p->batch;
    struct inputs in = {.y = -1};
    b->g->cur_loc = m->objective.loc;
    b->g->cur_what = "inputs";
    in.x = ir_input(b->g, 0, batched(n * real_batches, d->in));
    in.z = ir_input(b->g, 1, batched(n * latent_batches, (struct shape){1, {m->latent.dim}}));
    if (m->conditional)
        in.y = ir_input(b->g, 2, (struct shape){1, {n * real_batches}});
    return in;
}

/* batch k of a multi-batch input */
static int batch_of(struct builder *b, int x, int k) {
    if (x < 0)
        return -1;
    int n = b->p->batch;
    if (ir_node(b->g, x)->shape.d[0] == n)
        return x;
    return ir_rows(b->g, x, k * n, n);
}

int latent_batches(const struct model *m) {
    if (m->objective.kind != OBJ_GAN) /* a VAE draws its noise in the IR; a CycleGAN has none */
        return 0;
    return m->objective.critic_steps == 1 ? 1 : m->objective.critic_steps + 1;
}

/* One training step: critic_steps steps of D, each on its own real batch
 * and fakes detached from G (clipped after each, for WGAN), then one step of
 * G through the updated D.  With one critic step G's step reuses the same
 * fakes, as PyTorch's DCGAN example does; with more it draws new ones. */
static void gan_train(struct builder *b) {
    const struct model *m = b->m;
    struct ir *g = b->g;
    int steps = m->objective.critic_steps;
    struct inputs in = inputs(b, steps, latent_batches(m));
    int fake = -1, y = -1;
    for (int k = 0; k < steps; k++) {
        int x = batch_of(b, in.x, k), z = batch_of(b, in.z, k);
        y = batch_of(b, in.y, k);
        fake = forward(b, m->objective.gen, z, y);
        int lr, lf;
        int loss = loss_d(b, m->objective.disc, x, fake, y, k, &lr, &lf);
        if (k == steps - 1) {
            g->cur_what = "metrics";
            output(b, loss, 0);
            bool prob = m->objective.form == FORM_MINIMAX || m->objective.form == FORM_NONSATURATING;
            int dx = mean(b, prob ? ir_unary(g, OP_SIGMOID, lr) : lr);
            int dgz = mean(b, prob ? ir_unary(g, OP_SIGMOID, lf) : lf);
            output(b, dx, 2);
            output(b, dgz, 3);
            if (is_wgan(m)) /* the critic's estimate of the Wasserstein distance */
                output(b, ir_binary(g, OP_SUB, dx, dgz), 4);
        }
        optimizer_step(b, net_bit(m->objective.disc), loss, steps, k);
        if (m->objective.clip > 0) {
            for (int t = 0; t < b->lo->tensors.len; t++) {
                const struct ptensor *pt = &b->lo->tensors.data[t];
                if (pt->role != GENRT_PARAM || pt->net != m->objective.disc)
                    continue;
                g->cur_what = xprintf("clip %s", pt->name);
                ir_clip(g, param(b, t), m->objective.clip);
            }
        }
    }
    if (steps > 1)
        fake = forward(b, m->objective.gen, batch_of(b, in.z, steps), y);
    int loss = loss_g(b, m->objective.disc, fake, y);
    g->cur_what = "metrics";
    output(b, loss, 1);
    optimizer_step(b, net_bit(m->objective.gen), loss, 1, 0);
}

static int gan_term_loss(struct builder *b, int term) {
    const struct model *m = b->m;
    struct inputs in = inputs(b, 1, 1);
    int fake = forward(b, m->objective.gen, in.z, in.y);
    int lr, lf;
    return term == TERM_D ? loss_d(b, m->objective.disc, in.x, fake, in.y, 0, &lr, &lf)
                          : loss_g(b, m->objective.disc, fake, in.y);
}

static unsigned gan_term_nets(const struct model *m, int term) {
    return net_bit(term == TERM_D ? m->objective.disc : m->objective.gen);
}

/* ---- the VAE objective -------------------------------------------------- */

/* examples as rows: [N, ...] -> [N, values] */
static int flat(struct builder *b, int x) {
    struct shape s = ir_node(b->g, x)->shape;
    return ir_reshape(b->g, x, (struct shape){2, {s.d[0], (int)(shape_size(s) / s.d[0])}});
}

/* The decoder's output as the data's mean: sigmoid of Bernoulli logits. */
static int decode_mean(struct builder *b, int z, int y) {
    int out = forward(b, b->m->objective.gen, z, y);
    if (b->m->objective.kind == OBJ_VAE && b->m->objective.likelihood == LIK_BERNOULLI) {
        b->g->cur_what = "bernoulli mean";
        out = ir_unary(b->g, OP_SIGMOID, out);
    }
    return out;
}

/* Per example: the reconstruction term -log p(x|z) and the closed-form KL
 * of N(mu, exp(logvar)) to N(0, I), for z = mu + exp(logvar / 2) eps with
 * eps ~ N(0, I) drawn inside the IR (or z = mu without sampling). */
static void vae_terms(struct builder *b, int x, bool sample, int salt, int *rec, int *kl, int *mu_out) {
    const struct model *m = b->m;
    struct ir *g = b->g;
    int L = m->latent.dim, n = b->p->batch;
    int h = forward(b, m->objective.enc, x, -1);
    g->cur_loc = m->objective.loc;
    g->cur_what = "reparameterization";
    int mu = ir_slice(g, h, 0, L), lv = ir_slice(g, h, L, L);
    int z = mu;
    if (sample)
        z = add(b, mu, ir_binary(g, OP_MUL, ir_unary(g, OP_EXP, ir_scale(g, lv, 0.5)),
                                  ir_normal(g, (struct shape){2, {n, L}}, salt)));
    int out = flat(b, forward(b, m->objective.dec, z, -1));
    g->cur_loc = m->objective.loc;
    g->cur_what = "negative ELBO";
    int xf = flat(b, x);
    double d = (double)ir_node(g, xf)->shape.d[1];
    if (m->objective.likelihood == LIK_BERNOULLI) {
        /* -log p(x|z) = sum softplus(l) - x l, binary cross-entropy with logits */
        *rec = ir_sum_row(g, ir_binary(g, OP_SUB, softplus(b, out), ir_binary(g, OP_MUL, xf, out)));
    } else {
        int se = ir_sum_row(g, sq(b, ir_binary(g, OP_SUB, xf, out)));
        if (m->objective.sigma2 > 0) { /* sum (x - mean)^2 / 2 s2 + d/2 log(2 pi s2) */
            *rec = ir_addc(g, ir_scale(g, se, 0.5 / m->objective.sigma2),
                           0.5 * d * log(2 * M_PI * m->objective.sigma2));
        } else { /* learned log-variance s: sum (x - mean)^2 e^-s / 2 + d/2 (s + log 2 pi) */
            int lvar = param(b, vae_logvar);
            int inv = ir_scale(g, ir_unary(g, OP_EXP, neg(b, lvar)), 0.5);
            *rec = add(b, ir_binary(g, OP_MUL, se, inv), ir_addc(g, ir_scale(g, lvar, 0.5 * d), 0.5 * d * log(2 * M_PI)));
        }
    }
    /* KL = -1/2 sum (1 + logvar - mu^2 - exp(logvar)) */
    int inner = ir_binary(g, OP_SUB, ir_binary(g, OP_SUB, ir_addc(g, lv, 1), sq(b, mu)), ir_unary(g, OP_EXP, lv));
    *kl = ir_scale(g, ir_sum_row(g, inner), -0.5);
    if (mu_out)
        *mu_out = mu;
}

static int vae_input(struct builder *b) {
    const struct model *m = b->m;
    b->g->cur_loc = m->objective.loc;
    b->g->cur_what = "inputs";
    return ir_input(b->g, 0, batched(b->p->batch, m->nets.data[m->objective.enc].in));
}

static int vae_loss(struct builder *b, int x, int *rec, int *kl) {
    vae_terms(b, x, true, 1, rec, kl, NULL);
    return mean(b, add(b, *rec, *kl));
}

static unsigned vae_nets(const struct model *m) { return net_bit(m->objective.enc) | net_bit(m->objective.dec); }

/* One training step on the negative ELBO per example, averaged over the
 * batch: both networks, one optimizer step each. */
static void vae_train(struct builder *b) {
    int rec, kl;
    int loss = vae_loss(b, vae_input(b), &rec, &kl);
    b->g->cur_what = "metrics";
    output(b, loss, 0);
    output(b, mean(b, rec), 1);
    output(b, mean(b, kl), 2);
    optimizer_step(b, vae_nets(b->m), loss, 1, 0);
}

/* ---- the CycleGAN objective --------------------------------------------- */

enum { TERM_CYCLE_G, TERM_CYCLE_DA, TERM_CYCLE_DB };

struct domains {
    int a, b; /* a batch of each domain */
};

static struct domains domain_inputs(struct builder *b) {
    const struct model *m = b->m;
    b->g->cur_loc = m->objective.loc;
    b->g->cur_what = "inputs";
    return (struct domains){ir_input(b->g, 0, batched(b->p->batch, m->data.shape)),
                            ir_input(b->g, 3, batched(b->p->batch, m->data_b.shape))};
}

/* mean |x - y| over every value, as PyTorch's L1Loss */
static int l1(struct builder *b, int x, int y) { return mean(b, ir_unary(b->g, OP_ABS, ir_binary(b->g, OP_SUB, x, y))); }

/* A generator's adversarial term.  LSGAN's is E[(D(G(a)) - 1)^2], without
 * the 1/2 of the plain GAN's, as the CycleGAN paper weighs it against the
 * cycle term. */
static int cycle_adv(struct builder *b, int disc, int fake) {
    int loss = loss_g(b, disc, fake, -1);
    return b->m->objective.form == FORM_LSGAN ? ir_scale(b->g, loss, 2) : loss;
}

struct cycle_losses {
    int g, da, db;  /* the generators' loss, and each discriminator's */
    int cycle;      /* (|F(G(a)) - a|_1 + |G(F(b)) - b|_1) / 2, unweighted */
    int identity;   /* (|G(b) - b|_1 + |F(a) - a|_1) / 2, or -1 */
};

/* G(a), F(G(a)), F(b), G(F(b)) and the losses:
 *   loss_G  = adv(D_B, G(a)) + adv(D_A, F(b))
 *           + cycle (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)
 *           + identity (|G(b) - b|_1 + |F(a) - a|_1)
 *   loss_DA = the form's discriminator loss on a against F(b); loss_DB on b
 *             against G(a), the fakes detached (only D's parameters train). */
static struct cycle_losses cycle_losses(struct builder *b, struct domains in) {
    const struct model *m = b->m;
    struct ir *g = b->g;
    int G = m->objective.g_ab, F = m->objective.g_ba;
    int fake_b = forward(b, G, in.a, -1), rec_a = forward(b, F, fake_b, -1);
    int fake_a = forward(b, F, in.b, -1), rec_b = forward(b, G, fake_a, -1);
    struct cycle_losses c = {.identity = -1};
    int adv = add(b, cycle_adv(b, m->objective.d_b, fake_b), cycle_adv(b, m->objective.d_a, fake_a));
    g->cur_loc = m->objective.loc;
    g->cur_what = "cycle consistency";
    int cyc = add(b, l1(b, rec_a, in.a), l1(b, rec_b, in.b));
    c.cycle = ir_scale(g, cyc, 0.5);
    c.g = add(b, adv, ir_scale(g, cyc, m->objective.cycle));
    if (m->objective.identity > 0) {
        int id_b = forward(b, G, in.b, -1), id_a = forward(b, F, in.a, -1);
        g->cur_loc = m->objective.loc;
        g->cur_what = "identity";
        int idt = add(b, l1(b, id_b, in.b), l1(b, id_a, in.a));
        c.identity = ir_scale(g, idt, 0.5);
        c.g = add(b, c.g, ir_scale(g, idt, m->objective.identity));
    }
    int lr, lf;
    c.da = loss_d(b, m->objective.d_a, in.a, fake_a, -1, 0, &lr, &lf);
    c.db = loss_d(b, m->objective.d_b, in.b, fake_b, -1, 0, &lr, &lf);
    return c;
}

static unsigned cycle_term_nets(const struct model *m, int term) {
    return term == TERM_CYCLE_G ? net_bit(m->objective.g_ab) | net_bit(m->objective.g_ba)
         : term == TERM_CYCLE_DA ? net_bit(m->objective.d_a)
                                 : net_bit(m->objective.d_b);
}

/* One step updates all four networks at once: the generators on loss_G
 * through the discriminators as they were, the discriminators on the same
 * fakes, as PyTorch's CycleGAN does (without its pool of past fakes). */
static void cycle_train(struct builder *b) {
    const struct model *m = b->m;
    struct cycle_losses c = cycle_losses(b, domain_inputs(b));
    b->g->cur_what = "metrics";
    output(b, c.g, 0);
    output(b, c.da, 1);
    output(b, c.db, 2);
    output(b, c.cycle, 3);
    if (c.identity >= 0)
        output(b, c.identity, 4);
    struct grads gg = gradients(b, cycle_term_nets(m, TERM_CYCLE_G), c.g);
    struct grads ga = gradients(b, cycle_term_nets(m, TERM_CYCLE_DA), c.da);
    struct grads gb = gradients(b, cycle_term_nets(m, TERM_CYCLE_DB), c.db);
    apply_gradients(b, &gg, 1, 0);
    apply_gradients(b, &ga, 1, 0);
    apply_gradients(b, &gb, 1, 0);
}

static int cycle_term_loss(struct builder *b, int term) {
    struct cycle_losses c = cycle_losses(b, domain_inputs(b));
    return term == TERM_CYCLE_G ? c.g : term == TERM_CYCLE_DA ? c.da : c.db;
}

/* translate_ab: x from A -> G(x) and F(G(x)); translate_ba the other way. */
static void cycle_translate(struct builder *b, struct program *p, int dir) {
    const struct model *m = b->m;
    int there = dir == 0 ? m->objective.g_ab : m->objective.g_ba;
    int back = dir == 0 ? m->objective.g_ba : m->objective.g_ab;
    b->g->cur_loc = m->objective.loc;
    b->g->cur_what = "inputs";
    int x = ir_input(b->g, dir == 0 ? 0 : 3, batched(p->batch, dir == 0 ? m->data.shape : m->data_b.shape));
    p->result = forward(b, there, x, -1);
    p->result2 = forward(b, back, p->result, -1);
}

/* ---- programs ----------------------------------------------------------- */

static struct program *new_program(struct builder *b, const char *name, enum prog_kind kind, int batch,
                                   int term) {
    b->mode = kind == PROG_TRAIN ? MODE_TRAIN
            : kind == PROG_GC_LOSS || kind == PROG_GC_GRAD ? MODE_CHECK : MODE_EVAL;
    b->salt = 0;
    struct program p = {.name = name, .kind = kind, .batch = batch, .term = term, .result = -1, .result2 = -1};
    vec_push(&b->lo->progs, p);
    b->p = &b->lo->progs.data[b->lo->progs.len - 1];
    b->g = &b->p->ir;
    b->param_node = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    for (int t = 0; t < b->lo->tensors.len; t++)
        b->param_node[t] = -1;
    return b->p;
}

/* gradient-check term k's loss, for any objective */
static int term_loss(struct builder *b, int k) {
    int rec, kl;
    switch (b->m->objective.kind) {
    case OBJ_VAE: return vae_loss(b, vae_input(b), &rec, &kl);
    case OBJ_CYCLEGAN: return cycle_term_loss(b, k);
    case OBJ_GAN: return gan_term_loss(b, k);
    }
    unreachable();
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

void lower_model(const struct model *m, struct lowered *lo) {
    *lo = (struct lowered){0};
    layout_state(m, lo);
    uint64_t h = 14695981039346656037ull;
    for (int t = 0; t < lo->tensors.len; t++) {
        const struct ptensor *pt = &lo->tensors.data[t];
        h = fnv(h, pt->name, strlen(pt->name) + 1);
        h = fnv(h, &pt->shape, sizeof pt->shape);
    }
    lo->shape_hash = h;
    bool vae = m->objective.kind == OBJ_VAE, cyclegan = m->objective.kind == OBJ_CYCLEGAN;
    static const char *const metrics[] = {"loss_D", "loss_G", "D_x", "D_G_z", "W"};
    static const char *const vae_metrics[] = {"loss", "rec", "kl"};
    static const char *const cycle_metrics[] = {"loss_G", "loss_DA", "loss_DB", "cycle", "identity"};
    if (cyclegan) {
        for (int i = 0; i < (m->objective.identity > 0 ? 5 : 4); i++)
            vec_push(&lo->metrics, cycle_metrics[i]);
    } else {
        for (int i = 0; i < (vae ? 3 : is_wgan(m) ? 5 : 4); i++)
            vec_push(&lo->metrics, vae ? vae_metrics[i] : metrics[i]);
    }
    if (cyclegan) {
        static const char *const terms[] = {"loss_G", "loss_DA", "loss_DB"};
        for (int k = 0; k < 3; k++) {
            vec_push(&lo->terms, terms[k]);
            vec_push(&lo->term_nets, cycle_term_nets(m, k));
        }
    } else if (vae) {
        vec_push(&lo->terms, "loss");
        vec_push(&lo->term_nets, vae_nets(m));
    } else {
        vec_push(&lo->terms, "loss_D");
        vec_push(&lo->term_nets, gan_term_nets(m, TERM_D));
        vec_push(&lo->terms, "loss_G");
        vec_push(&lo->term_nets, gan_term_nets(m, TERM_G));
    }
    lo->gc_batch = m->train.batch < 4 ? m->train.batch : 4;

    struct builder b = {.m = m, .lo = lo};
    new_program(&b, "train_step", PROG_TRAIN, m->train.batch, -1);
    if (vae)
        vae_train(&b);
    else if (cyclegan)
        cycle_train(&b);
    else
        gan_train(&b);

    struct program *p;
    if (cyclegan) {
        cycle_translate(&b, new_program(&b, "translate_ab", PROG_TRANSLATE, m->train.batch, -1), 0);
        cycle_translate(&b, new_program(&b, "translate_ba", PROG_TRANSLATE, m->train.batch, -1), 1);
    } else {
        p = new_program(&b, "generate", PROG_GENERATE, m->train.batch, -1);
        b.g->cur_loc = m->objective.loc;
        b.g->cur_what = "inputs";
        int z = ir_input(b.g, 1, batched(p->batch, (struct shape){1, {m->latent.dim}}));
        int y = m->conditional ? ir_input(b.g, 2, (struct shape){1, {p->batch}}) : -1;
        p->result = decode_mean(&b, z, y);
    }

    if (vae) {
        /* per-example -ELBO, reconstruction and KL, for ./X eval */
        new_program(&b, "elbo", PROG_ELBO, m->train.batch, -1);
        int rec, kl;
        vae_terms(&b, vae_input(&b), true, 7, &rec, &kl, NULL);
        int parts[3] = {add(&b, rec, kl), rec, kl};
        for (int i = 0; i < 3; i++)
            ir_output(b.g, parts[i], i, 3);
        /* the decoder at the posterior mean, for ./X reconstruct */
        p = new_program(&b, "reconstruct_fwd", PROG_RECONSTRUCT, m->train.batch, -1);
        int mu;
        vae_terms(&b, vae_input(&b), false, 0, &rec, &kl, &mu);
        p->result = decode_mean(&b, mu, -1);
    }

    for (int k = 0; k < lo->terms.len; k++) {
        p = new_program(&b, xprintf("gc_loss_%d", k), PROG_GC_LOSS, lo->gc_batch, k);
        output(&b, term_loss(&b, k), 0);
        p = new_program(&b, xprintf("gc_grad_%d", k), PROG_GC_GRAD, lo->gc_batch, k);
        int loss = term_loss(&b, k);
        int *tensors = xalloc(sizeof(int) * (size_t)lo->tensors.len);
        int *nodes = xalloc(sizeof(int) * (size_t)lo->tensors.len);
        int *grads = xalloc(sizeof(int) * (size_t)lo->tensors.len);
        int n = trained_params(&b, lo->term_nets.data[k], tensors, nodes);
        autodiff(b.g, loss, nodes, n, grads);
        b.g->cur_what = "gradients out";
        for (int i = 0; i < n; i++) {
            if (grads[i] < 0)
                continue;
            ir_store_grad(b.g, grads[i], lo->tensors.data[tensors[i]].offset);
        }
    }
}

struct program *lower_sampler(const struct model *m, struct lowered *lo, int dir) {
    struct builder b = {.m = m, .lo = lo};
    struct program *p = new_program(&b, "forward", PROG_SAMPLE, 1, -1);
    if (m->objective.kind == OBJ_CYCLEGAN) { /* one generator: G (dir 0) or F */
        b.g->cur_loc = m->objective.loc;
        b.g->cur_what = "inputs";
        int x = ir_input(b.g, dir == 0 ? 0 : 3, batched(1, dir == 0 ? m->data.shape : m->data_b.shape));
        p->result = forward(&b, dir == 0 ? m->objective.g_ab : m->objective.g_ba, x, -1);
        return p;
    }
    b.g->cur_loc = m->objective.loc;
    b.g->cur_what = "inputs";
    int z = ir_input(b.g, 1, batched(1, (struct shape){1, {m->latent.dim}}));
    int y = m->conditional ? ir_input(b.g, 2, (struct shape){1, {1}}) : -1;
    p->result = decode_mean(&b, z, y);
    return p;
}
