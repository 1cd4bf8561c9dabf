/* vae.c: the VAE objective, `objective vae(E, Dec) { likelihood ... }`: an
 * encoder E from the data to the posterior's mean and log-variance, a
 * decoder Dec from the latent back, trained on the negative ELBO (Kingma &
 * Welling 2014) with the reparameterization noise drawn inside the IR.
 * With cond layers it is a conditional VAE (Sohn et al. 2015): the
 * example's label joins the decoder's input (and the encoder's, if it has
 * a cond layer), so the bound is on log p(x | y). */
#include "../lower.h"

#include <math.h>
#include <string.h>

enum likelihood { LIK_BERNOULLI, LIK_GAUSSIAN };

struct vae {
    int enc, dec;              /* network indices */
    enum likelihood likelihood;
    double sigma2;             /* gaussian: the fixed variance; 0 when learned */
};

/* the lowering's own state */
struct vae_tensors {
    int logvar;                /* a learned gaussian log-variance, or -1 */
};

static const struct vae *vae_of(const struct model *m) { return m->objective.settings; }

/* ---- checks --------------------------------------------------------------- */

/* objective vae(E, Dec) { likelihood bernoulli | gaussian [S2 | learned] } */
static void check(const struct decl *d, struct model *m) {
    struct vae *o = xalloc(sizeof *o);
    m->objective.settings = o;
    o->enc = o->dec = -1;
    if (d->args.len != 2) {
        error_at(d->kind_loc, "vae takes 2 networks, the encoder and the decoder, got %d%s", d->args.len,
                 d->args.len == 1 ? " (a VAE without an encoder?)" : "");
        return;
    }
    o->enc = resolve_network(m, &d->args.data[0]);
    o->dec = resolve_network(m, &d->args.data[1]);
    if (o->enc >= 0 && o->enc == o->dec)
        error_at(d->args.data[1].loc, "the encoder and the decoder must be different networks");
    static const char *const keys[] = {"likelihood"};
    const struct stmt *s[1];
    settings(&d->body, "vae objective", keys, 1, s);
    o->likelihood = LIK_BERNOULLI;
    if (s[0] && want_args(s[0], 1, 2)) {
        const char *lik;
        static const char *const liks[] = {"bernoulli", "gaussian"};
        if (!arg_ident(&s[0]->args.data[0], "likelihood", &lik))
            return;
        if (!strcmp(lik, "bernoulli") && s[0]->args.len == 1) {
            o->likelihood = LIK_BERNOULLI;
        } else if (!strcmp(lik, "gaussian")) {
            o->likelihood = LIK_GAUSSIAN;
            o->sigma2 = 1;
            if (s[0]->args.len == 2) {
                const struct arg *a = &s[0]->args.data[1];
                if (a->kind == ARG_IDENT && !strcmp(a->text, "learned"))
                    o->sigma2 = 0;
                else if (arg_range(a, "the gaussian variance", 0, 1e6, false, &o->sigma2) && o->sigma2 <= 0)
                    error_at(a->loc, "the gaussian variance must be positive (or 'learned')");
            }
        } else if (strcmp(lik, "bernoulli")) {
            unknown(s[0]->args.data[0].loc, "likelihood", lik, liks, 2);
        } else {
            error_at(s[0]->args.data[1].loc, "bernoulli takes no parameter");
        }
    }
}

/* the first cond layer of network n, or NULL */
static const struct layer *cond_layer(const struct network *n) {
    for (int i = 0; i < n->layers.len; i++)
        if (n->layers.data[i].kind == L_COND)
            return &n->layers.data[i];
    return NULL;
}

/* The networks must chain: data -> E -> [2 L] = (mu, logvar), [L] -> Dec -> data. */
static void check_model(struct model *m) {
    const struct vae *o = vae_of(m);
    if (m->latent.ok && m->latent.kind != LATENT_NORMAL) {
        error_at(m->latent.loc, "a VAE's KL term is against the prior N(0, I), so its latent must be normal: "
                 "'latent %s ~ normal(%d)'", m->latent.name, m->latent.dim);
        note_at(m->objective.loc, "the objective is vae here");
    }
    if (o->enc < 0 || o->dec < 0)
        return;
    const struct network *e = &m->nets.data[o->enc];
    const struct network *d = &m->nets.data[o->dec];
    int L = m->latent.dim;
    if (m->data.ok && shape_size(e->in) != shape_size(m->data.shape)) {
        error_at(e->loc, "encoder '%s' takes %s, but %s examples are %s", e->name, shape_str(e->in),
                 data_kinds[m->data.kind], shape_str(m->data.shape));
        note_at(m->data.loc, "data declared here");
    }
    if (m->latent.ok && (e->out.n != 1 || e->out.d[0] != 2 * L)) {
        error_at(e->loc, "encoder '%s' outputs %s, which cannot split into mu and logvar of latent '%s' [%d]: "
                 "it must output [%d]", e->name, shape_str(e->out), m->latent.name, L, 2 * L);
        note_at(m->latent.loc, "latent declared here");
    }
    struct shape z = {1, {L}};
    if (m->latent.ok && !shape_eq(d->in, z)) {
        error_at(d->loc, "decoder '%s' takes %s, but latent '%s' is %s", d->name, shape_str(d->in), m->latent.name,
                 shape_str(z));
        note_at(m->latent.loc, "latent declared here");
    }
    if (m->data.ok && shape_size(d->out) != shape_size(m->data.shape)) {
        error_at(d->loc, "decoder '%s' makes %s, but %s examples are %s", d->name, shape_str(d->out),
                 data_kinds[m->data.kind], shape_str(m->data.shape));
        note_at(m->data.loc, "data declared here");
    }
    if (o->likelihood == LIK_BERNOULLI && m->data.ok && (m->data.lo != 0 || m->data.hi != 1))
        error_at(m->objective.loc, "a bernoulli likelihood needs data in [0, 1]: set 'range 0 1' in the data block");
    /* A conditional VAE: the label must reach the decoder, or sampling by
     * label means nothing; the encoder may see it too (q(z | x, y)). */
    const struct layer *ec = cond_layer(e);
    if (m->conditional && !cond_layer(d)) {
        error_at(d->loc, "decoder '%s' does not take the label, so a conditional VAE cannot sample by class: "
                 "add 'cond onehot' (or 'cond embed D') to it", d->name);
        if (ec)
            note_at(ec->loc, "the encoder takes it here");
    }
    require_optimizer(m, o->enc);
    require_optimizer(m, o->dec);
}

/* ---- state, metrics, terms ------------------------------------------------ */

/* a learned gaussian log-variance is the decoder's parameter */
static void layout(const struct model *m, struct lowered *lo) {
    const struct vae *o = vae_of(m);
    struct vae_tensors *t = xalloc(sizeof *t);
    lo->objective = t;
    t->logvar = -1;
    if (o->likelihood == LIK_GAUSSIAN && o->sigma2 == 0)
        t->logvar = add_tensor(lo, xprintf("%s.logvar", m->nets.data[o->dec].name), GENRT_PARAM, o->dec,
                               GENRT_INIT_ZERO, 0, (struct shape){1, {1}});
}

enum { M_LOSS, M_REC, M_KL, N_METRICS };
static const char *const metric_names[N_METRICS] = {
    [M_LOSS] = "loss", /* the negative ELBO per example, nats */
    [M_REC] = "rec",   /* its reconstruction term, -log p(x|z) */
    [M_KL] = "kl",     /* its KL term */
};

static unsigned nets(const struct model *m) { return net_bit(vae_of(m)->enc) | net_bit(vae_of(m)->dec); }

static void declare(const struct model *m, struct lowered *lo) {
    static const bool present[N_METRICS] = {true, true, true};
    declare_metrics(lo, metric_names, present, N_METRICS);
    declare_term(lo, "loss", nets(m));
    lo->latent_batches = 0; /* the noise is drawn in the IR */
}

/* ---- the negative ELBO ---------------------------------------------------- */

/* The decoder's output as the data's mean: sigmoid of Bernoulli logits. */
static int decode_mean(struct builder *b, int z, int y) {
    int out = forward(b, vae_of(b->m)->dec, z, y);
    if (vae_of(b->m)->likelihood == LIK_BERNOULLI) {
        b->g->cur_what = "bernoulli mean";
        out = ir_unary(b->g, OP_SIGMOID, out);
    }
    return out;
}

/* Per example of x (labels y, or -1): the reconstruction term -log p(x|z)
 * and the closed-form KL of N(mu, exp(logvar)) to N(0, I), for z = mu +
 * exp(logvar / 2) eps with eps ~ N(0, I) drawn inside the IR (or z = mu
 * without sampling). */
static void terms(struct builder *b, int x, int y, bool sample, int salt, int *rec, int *kl, int *mu_out) {
    const struct model *m = b->m;
    const struct vae *o = vae_of(m);
    struct ir *g = b->g;
    int L = m->latent.dim, n = b->p->batch;
    int h = forward(b, o->enc, x, y);
    at_objective(b, "reparameterization");
    int mu = ir_slice(g, h, 0, L), lv = ir_slice(g, h, L, L);
    int z = mu;
    if (sample)
        z = add(b, mu, ir_binary(g, OP_MUL, ir_unary(g, OP_EXP, ir_scale(g, lv, 0.5)),
                                  ir_normal(g, (struct shape){2, {n, L}}, salt)));
    int out = flat(b, forward(b, o->dec, z, y));
    at_objective(b, "negative ELBO");
    int xf = flat(b, x);
    double d = (double)ir_node(g, xf)->shape.d[1];
    if (o->likelihood == LIK_BERNOULLI) {
        /* -log p(x|z) = sum softplus(l) - x l, binary cross-entropy with logits */
        *rec = ir_sum_row(g, ir_binary(g, OP_SUB, softplus(b, out), ir_binary(g, OP_MUL, xf, out)));
    } else {
        int se = ir_sum_row(g, sq(b, ir_binary(g, OP_SUB, xf, out)));
        if (o->sigma2 > 0) { /* sum (x - mean)^2 / 2 s2 + d/2 log(2 pi s2) */
            *rec = ir_addc(g, ir_scale(g, se, 0.5 / o->sigma2), 0.5 * d * log(2 * M_PI * o->sigma2));
        } else { /* learned log-variance s: sum (x - mean)^2 e^-s / 2 + d/2 (s + log 2 pi) */
            const struct vae_tensors *t = b->lo->objective;
            int lvar = param(b, t->logvar);
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

/* a batch of examples x and, for a conditional VAE, their labels y (else -1) */
static void data_input(struct builder *b, int *x, int *y) {
    *x = batch_input(b, GENRT_SLOT_X, b->p->batch, b->m->nets.data[vae_of(b->m)->enc].in);
    *y = label_input(b, b->p->batch);
}

static int loss(struct builder *b, int *rec, int *kl) {
    int x, y;
    data_input(b, &x, &y);
    terms(b, x, y, true, SALT_VAE_TRAIN, rec, kl, NULL);
    return mean(b, add(b, *rec, *kl));
}

/* ---- programs ------------------------------------------------------------- */

/* One training step on the negative ELBO per example, averaged over the
 * batch: both networks, one optimizer step each. */
static void train(struct builder *b) {
    int rec, kl;
    int l = loss(b, &rec, &kl);
    b->g->cur_what = "metrics";
    metric(b, M_LOSS, l);
    metric(b, M_REC, mean(b, rec));
    metric(b, M_KL, mean(b, kl));
    optimizer_step(b, nets(b->m), l, 1, 0);
}

static int term_loss(struct builder *b, int k) {
    (void)k;
    int rec, kl;
    return loss(b, &rec, &kl);
}

/* the decoder at latent vectors (and labels), in eval mode */
static int decoder(struct builder *b) {
    int z = batch_input(b, GENRT_SLOT_Z, b->p->batch, (struct shape){1, {b->m->latent.dim}});
    return decode_mean(b, z, label_input(b, b->p->batch));
}

/* generate(), and for ./X eval and ./X reconstruct: elbo(), the
 * per-example -ELBO, reconstruction and KL, and reconstruct_fwd(), the
 * decoder at the posterior mean; a conditional VAE's take each example's
 * own label */
static void programs(struct builder *b) {
    int batch = b->m->train.batch;
    struct program *p = new_program(b, "generate", PROG_GENERATE, batch, -1);
    p->result = decoder(b);
    new_program(b, "elbo", PROG_ELBO, batch, -1);
    int x, y, rec, kl;
    data_input(b, &x, &y);
    terms(b, x, y, true, SALT_VAE_ELBO, &rec, &kl, NULL);
    int parts[3] = {add(b, rec, kl), rec, kl};
    for (int i = 0; i < 3; i++)
        ir_output(b->g, parts[i], i, 3);
    p = new_program(b, "reconstruct_fwd", PROG_RECONSTRUCT, batch, -1);
    int mu;
    data_input(b, &x, &y);
    terms(b, x, y, false, 0, &rec, &kl, &mu);
    p->result = decode_mean(b, mu, y);
}

static void sampler(struct builder *b, int k) {
    (void)k;
    b->p->result = decoder(b);
}

/* data -> E -> z -> Dec, and the ELBO's two terms */
static void wiring(const struct model *m, struct wiring *w) {
    const struct vae *o = vae_of(m);
    const char *z = m->latent.name;
    wire_add(w, AT_DATA(0), AT_NET(o->enc), "x", WIRE_FLOW);
    wire_add(w, AT_NET(o->enc), AT_LATENT, xprintf("mu, logvar; %s = mu + exp(logvar / 2) eps", z), WIRE_FLOW);
    wire_add(w, AT_LATENT, AT_NET(o->dec), z, WIRE_FLOW);
    wire_add(w, AT_NET(o->dec), AT_LOSS, xprintf("reconstruction p(x | %s)", z), WIRE_TERM);
    wire_add(w, AT_DATA(0), AT_LOSS, "x", WIRE_TERM);
    wire_add(w, AT_NET(o->enc), AT_LOSS, xprintf("KL(q(%s | x) || N(0, I))", z), WIRE_TERM);
    const char *lik = o->likelihood == LIK_BERNOULLI ? "bernoulli"
                      : o->sigma2 > 0                ? xprintf("gaussian, variance %g", o->sigma2)
                                                     : "gaussian, learned variance";
    w->loss = xprintf("-ELBO\n%s likelihood", lik);
}

const struct objective_def objective_vae = {
    .name = "vae",
    .title = "VAE",
    .genrt_kind = GENRT_OBJ_VAE,
    .domains = 1,
    .latent = true,
    .check = check,
    .check_model = check_model,
    .layout = layout,
    .declare = declare,
    .train = train,
    .programs = programs,
    .term_loss = term_loss,
    .sampler = sampler,
    .wiring = wiring,
};
