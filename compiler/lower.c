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
    if (b->mode == MODE_TRAIN) {
        int in[4] = {mean, var, rmean, rvar};
        struct node *e = ir_node(g, ir_effect(g, OP_BN_STATS, in, 4));
        e->f[0] = l->momentum;
        e->f[1] = rows > 1 ? (double)rows / (double)(rows - 1) : 1;
    }
    return y;
}

/* The forward pass of network `n` on x, one IR node or a few per layer. */
static int forward(struct builder *b, int n, int x) {
    const struct network *net = &b->m->nets.data[n];
    struct ir *g = b->g;
    for (int i = 0; i < net->layers.len; i++) {
        const struct layer *l = &net->layers.data[i];
        g->cur_loc = l->loc;
        switch (l->kind) {
        case L_DENSE:
            g->cur_what = xprintf("%s dense %d", net->name, l->units);
            x = ir_matmul(g, x, param(b, params_of[n].weight[i]), false, true);
            if (l->bias)
                x = ir_add_bias(g, x, param(b, params_of[n].bias[i]));
            break;
        case L_RELU:
            g->cur_what = xprintf("%s relu", net->name);
            x = ir_leaky_relu(g, x, 0);
            break;
        case L_LEAKY_RELU:
            g->cur_what = xprintf("%s leaky_relu %g", net->name, l->alpha);
            x = ir_leaky_relu(g, x, l->alpha);
            break;
        case L_TANH:
            g->cur_what = xprintf("%s tanh", net->name);
            x = ir_unary(g, OP_TANH, x);
            break;
        case L_SIGMOID:
            g->cur_what = xprintf("%s sigmoid", net->name);
            x = ir_unary(g, OP_SIGMOID, x);
            break;
        case L_RESHAPE: case L_FLATTEN:
            g->cur_what = xprintf("%s %s", net->name, l->kind == L_FLATTEN ? "flatten" : "reshape");
            x = ir_reshape(g, x, batched(b->p->batch, l->out));
            break;
        case L_CONV: {
            g->cur_what = xprintf("%s conv %d k%d s%d p%d", net->name, l->units, l->k, l->stride, l->pad);
            int n_ = b->p->batch, ho = l->out.d[1], wo = l->out.d[2];
            int cols = ir_im2col(g, x, l->k, l->stride, l->pad, ho, wo);
            x = ir_matmul(g, cols, param(b, params_of[n].weight[i]), false, true);
            if (l->bias)
                x = ir_add_bias(g, x, param(b, params_of[n].bias[i]));
            x = ir_reshape(g, x, (struct shape){4, {n_, ho, wo, l->units}});
            break;
        }
        case L_DECONV: {
            g->cur_what = xprintf("%s deconv %d k%d s%d p%d", net->name, l->units, l->k, l->stride, l->pad);
            int n_ = b->p->batch, hi = l->in.d[1], wi = l->in.d[2], ci = l->in.d[0];
            int x2 = ir_reshape(g, x, (struct shape){2, {n_ * hi * wi, ci}});
            int cols = ir_matmul(g, x2, param(b, params_of[n].weight[i]), false, false);
            x = ir_col2im(g, cols, n_, l->out.d[1], l->out.d[2], l->units, l->k, l->stride, l->pad, hi, wi);
            if (l->bias)
                x = ir_add_bias(g, x, param(b, params_of[n].bias[i]));
            break;
        }
        case L_BATCHNORM:
            g->cur_what = xprintf("%s batchnorm", net->name);
            x = batchnorm(b, l, x, param(b, params_of[n].weight[i]), param(b, params_of[n].bias[i]),
                          param(b, params_of[n].run_mean[i]), param(b, params_of[n].run_var[i]));
            break;
        case L_DROPOUT:
            g->cur_what = xprintf("%s dropout %g", net->name, l->p);
            if (b->mode != MODE_EVAL)
                x = ir_dropout(g, x, l->p, ++b->salt);
            break;
        case L_UPSAMPLE:
            g->cur_what = xprintf("%s upsample %d", net->name, l->factor);
            x = ir_upsample(g, x, l->factor);
            break;
        case L_AVGPOOL:
            g->cur_what = xprintf("%s avgpool %d", net->name, l->factor);
            x = ir_scale(g, ir_sumpool(g, x, l->factor), 1.0 / (l->factor * l->factor));
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

static void optimizer_step(struct builder *b, unsigned mask, int loss) {
    int *tensors = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    int *nodes = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    int *grads = xalloc(sizeof(int) * (size_t)b->lo->tensors.len);
    int n = trained_params(b, mask, tensors, nodes);
    autodiff(b->g, loss, nodes, n, grads);
    for (int k = 0; k < n; k++) {
        const struct ptensor *t = &b->lo->tensors.data[tensors[k]];
        const struct optim *o = &b->m->opts.data[b->m->nets.data[t->net].opt];
        if (grads[k] < 0)
            continue;
        b->g->cur_what = xprintf("%s step of %s", o->kind == OPT_ADAM ? "adam" : "sgd", t->name);
        b->g->cur_loc = o->loc;
        if (o->kind == OPT_ADAM) {
            int in[4] = {nodes[k], grads[k], param(b, find_tensor(b->lo, xprintf("%s.adam_m", t->name))),
                         param(b, find_tensor(b->lo, xprintf("%s.adam_v", t->name)))};
            struct node *e = ir_node(b->g, ir_effect(b->g, OP_ADAM, in, 4));
            e->f[0] = o->lr, e->f[1] = o->beta1, e->f[2] = o->beta2, e->f[3] = o->eps, e->f[4] = o->weight_decay;
        } else {
            int in[3] = {nodes[k], grads[k], -1};
            int n_in = 2;
            if (o->momentum > 0)
                in[n_in++] = param(b, find_tensor(b->lo, xprintf("%s.momentum", t->name)));
            struct node *e = ir_node(b->g, ir_effect(b->g, OP_SGD, in, n_in));
            e->f[0] = o->lr, e->f[1] = o->momentum, e->f[2] = o->weight_decay, e->i[0] = o->nesterov;
        }
    }
}

static void output(struct builder *b, int x, int slot) {
    int id = ir_effect(b->g, OP_OUTPUT, &x, 1);
    ir_node(b->g, id)->i[0] = slot;
}

/* ---- the GAN objective -------------------------------------------------- */

enum { TERM_D, TERM_G };

struct gan {
    int x, z, fake;
};

static struct gan gan_inputs(struct builder *b) {
    const struct model *m = b->m;
    const struct network *d = &m->nets.data[m->objective.disc];
    struct gan s;
    b->g->cur_loc = m->objective.loc;
    b->g->cur_what = "inputs";
    s.x = ir_input(b->g, 0, batched(b->p->batch, d->in));
    s.z = ir_input(b->g, 1, batched(b->p->batch, (struct shape){1, {m->latent.dim}}));
    s.fake = forward(b, m->objective.gen, s.z);
    return s;
}

/* D's loss, binary cross-entropy with logits:
 * mean(-log sigmoid(D(x))) + mean(-log(1 - sigmoid(D(G(z))))). */
static int gan_loss_d(struct builder *b, const struct gan *s, int *real_logit, int *fake_logit) {
    const struct model *m = b->m;
    int lr = forward(b, m->objective.disc, s->x);
    int lf = forward(b, m->objective.disc, s->fake);
    struct ir *g = b->g;
    g->cur_loc = m->objective.loc;
    g->cur_what = "loss_D";
    int loss = ir_binary(g, OP_ADD, ir_mean_all(g, ir_unary(g, OP_SOFTPLUS, ir_unary(g, OP_NEG, lr))),
                         ir_mean_all(g, ir_unary(g, OP_SOFTPLUS, lf)));
    *real_logit = lr;
    *fake_logit = lf;
    return loss;
}

/* G's loss.  minimax: G descends on mean(log(1 - D(G(z)))) = -mean(softplus(l));
 * non-saturating: on mean(-log D(G(z))) = mean(softplus(-l)). */
static int gan_loss_g(struct builder *b, const struct gan *s) {
    const struct model *m = b->m;
    int lf = forward(b, m->objective.disc, s->fake);
    struct ir *g = b->g;
    g->cur_loc = m->objective.loc;
    g->cur_what = "loss_G";
    if (m->objective.form == FORM_MINIMAX)
        return ir_unary(g, OP_NEG, ir_mean_all(g, ir_unary(g, OP_SOFTPLUS, lf)));
    return ir_mean_all(g, ir_unary(g, OP_SOFTPLUS, ir_unary(g, OP_NEG, lf)));
}

static unsigned net_bit(int n) { return 1u << n; }

/* One training step: D's step on real and (detached) fake batches, then
 * G's step through the updated D on the same fakes, as in PyTorch's DCGAN. */
static void gan_train(struct builder *b) {
    const struct model *m = b->m;
    struct ir *g = b->g;
    struct gan s = gan_inputs(b);
    int lr, lf;
    int loss_d = gan_loss_d(b, &s, &lr, &lf);
    g->cur_what = "metrics";
    output(b, loss_d, 0);
    output(b, ir_mean_all(g, ir_unary(g, OP_SIGMOID, lr)), 2);
    output(b, ir_mean_all(g, ir_unary(g, OP_SIGMOID, lf)), 3);
    optimizer_step(b, net_bit(m->objective.disc), loss_d);
    int loss_g = gan_loss_g(b, &s);
    output(b, loss_g, 1);
    optimizer_step(b, net_bit(m->objective.gen), loss_g);
}

static int gan_term_loss(struct builder *b, int term) {
    struct gan s = gan_inputs(b);
    int lr, lf;
    return term == TERM_D ? gan_loss_d(b, &s, &lr, &lf) : gan_loss_g(b, &s);
}

static unsigned gan_term_nets(const struct model *m, int term) {
    return net_bit(term == TERM_D ? m->objective.disc : m->objective.gen);
}

/* ---- programs ----------------------------------------------------------- */

static struct program *new_program(struct builder *b, const char *name, enum prog_kind kind, int batch,
                                   int term) {
    b->mode = kind == PROG_TRAIN ? MODE_TRAIN : kind == PROG_GENERATE ? MODE_EVAL : MODE_CHECK;
    b->salt = 0;
    struct program p = {.name = name, .kind = kind, .batch = batch, .term = term, .result = -1};
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
    *lo = (struct lowered){0};
    layout_state(m, lo);
    uint64_t h = 14695981039346656037ull;
    for (int t = 0; t < lo->tensors.len; t++) {
        const struct ptensor *pt = &lo->tensors.data[t];
        h = fnv(h, pt->name, strlen(pt->name) + 1);
        h = fnv(h, &pt->shape, sizeof pt->shape);
    }
    lo->shape_hash = h;
    static const char *const metrics[] = {"loss_D", "loss_G", "D_x", "D_G_z"};
    for (int i = 0; i < 4; i++)
        vec_push(&lo->metrics, metrics[i]);
    vec_push(&lo->terms, "loss_D");
    vec_push(&lo->term_nets, gan_term_nets(m, TERM_D));
    vec_push(&lo->terms, "loss_G");
    vec_push(&lo->term_nets, gan_term_nets(m, TERM_G));
    lo->gc_batch = m->train.batch < 4 ? m->train.batch : 4;

    struct builder b = {.m = m, .lo = lo};
    new_program(&b, "train_step", PROG_TRAIN, m->train.batch, -1);
    gan_train(&b);

    struct program *p = new_program(&b, "generate", PROG_GENERATE, m->train.batch, -1);
    b.g->cur_loc = m->objective.loc;
    b.g->cur_what = "inputs";
    int z = ir_input(b.g, 1, batched(p->batch, (struct shape){1, {m->latent.dim}}));
    p->result = forward(&b, m->objective.gen, z);

    for (int k = 0; k < lo->terms.len; k++) {
        p = new_program(&b, xprintf("gc_loss_%d", k), PROG_GC_LOSS, lo->gc_batch, k);
        output(&b, gan_term_loss(&b, k), 0);
        p = new_program(&b, xprintf("gc_grad_%d", k), PROG_GC_GRAD, lo->gc_batch, k);
        int loss = gan_term_loss(&b, k);
        int *tensors = xalloc(sizeof(int) * (size_t)lo->tensors.len);
        int *nodes = xalloc(sizeof(int) * (size_t)lo->tensors.len);
        int *grads = xalloc(sizeof(int) * (size_t)lo->tensors.len);
        int n = trained_params(&b, lo->term_nets.data[k], tensors, nodes);
        autodiff(b.g, loss, nodes, n, grads);
        b.g->cur_what = "gradients out";
        for (int i = 0; i < n; i++) {
            if (grads[i] < 0)
                continue;
            int id = ir_effect(b.g, OP_STORE_GRAD, &grads[i], 1);
            ir_node(b.g, id)->i[1] = (int)lo->tensors.data[tensors[i]].offset;
        }
    }
}
