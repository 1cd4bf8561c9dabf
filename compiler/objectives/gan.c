/* gan.c: the GAN objective, `objective gan(G, D) { form F; ... }`: a
 * generator G from the latent (and labels, when conditional) and a
 * discriminator (critic) D, trained in turns.  Its adversarial losses per
 * form are shared with CycleGAN (lower.h). */
#include "../lower.h"

#include <math.h>
#include <string.h>

struct gan {
    int gen, disc;     /* network indices */
    enum gan_form form;
    double clip;       /* wgan: weight clipping, 0 for none */
    int critic_steps;  /* critic updates per generator update */
    double lambda;     /* wgan_gp: the penalty's weight */
    double r1;         /* the R1 penalty's gamma on real data, 0 for none */
};

static const struct gan *gan_of(const struct model *m) { return m->objective.settings; }

enum gan_form gan_form(const struct model *m) { return gan_of(m)->form; }

static bool is_wgan(enum gan_form f) { return f == FORM_WGAN || f == FORM_WGAN_GP; }

/* ---- checks --------------------------------------------------------------- */

const char *const gan_forms[N_FORMS] = {"minimax", "nonsaturating", "lsgan", "hinge", "wgan", "wgan_gp"};

int gan_form_of(const struct stmt *s) {
    const char *f;
    if (!s || !want_args(s, 1, 1) || !arg_ident(&s->args.data[0], "form", &f))
        return -1;
    for (int k = 0; k < N_FORMS; k++)
        if (!strcmp(gan_forms[k], f))
            return k;
    unknown(s->args.data[0].loc, "gan form", f, gan_forms, N_FORMS);
    return -1;
}

static void check(const struct decl *d, struct model *m) {
    struct gan *o = xalloc(sizeof *o);
    m->objective.settings = o;
    o->gen = o->disc = -1;
    o->form = FORM_NONSATURATING;
    o->critic_steps = 1;
    o->lambda = 10;
    if (d->args.len != 2) {
        error_at(d->kind_loc, "gan takes 2 networks, the generator and the discriminator, got %d", d->args.len);
        return;
    }
    o->gen = resolve_network(m, &d->args.data[0]);
    o->disc = resolve_network(m, &d->args.data[1]);
    if (o->gen >= 0 && o->gen == o->disc) {
        error_at(d->args.data[1].loc, "the generator and the discriminator must be different networks");
        o->disc = -1; /* the checks of a discriminator would only repeat this */
    }
    static const char *const keys[] = {"form", "clip", "critic_steps", "lambda", "r1"};
    const struct stmt *s[5];
    settings(&d->body, "gan objective", keys, 5, s);
    if (s[0]) {
        int k = gan_form_of(s[0]);
        if (k < 0)
            return; /* the other settings depend on the form */
        o->form = k;
    }
    enum gan_form form = o->form;
    if (form == FORM_WGAN && !s[1]) {
        /* without clipping the critic is unconstrained, and W means nothing */
        error_at(s[0]->loc, "'form wgan' needs 'clip C': WGAN keeps its critic Lipschitz by clipping its weights");
        note_at(s[0]->loc, "the WGAN paper clips to 0.01: 'form wgan; clip 0.01' (or use 'form wgan_gp')");
    }
    if (s[1] && want_args(s[1], 1, 1)) {
        if (form != FORM_WGAN)
            error_at(s[1]->loc, "'clip' is WGAN's weight clipping; it needs 'form wgan', not '%s'", gan_forms[form]);
        else
            arg_range(&s[1]->args.data[0], "clip", 0, 1e6, false, &o->clip);
        if (o->clip <= 0 && form == FORM_WGAN)
            error_at(s[1]->args.data[0].loc, "clip must be positive");
    }
    if (s[2] && want_args(s[2], 1, 1)) {
        double v;
        if (arg_num(&s[2]->args.data[0], "critic_steps", &v)) {
            if (v != floor(v) || v < 1 || v > 100)
                error_at(s[2]->args.data[0].loc, "critic_steps must be a whole number from 1 to 100, got %s",
                         s[2]->args.data[0].text);
            else
                o->critic_steps = (int)v;
        }
    }
    if (s[3] && want_args(s[3], 1, 1)) {
        if (form != FORM_WGAN_GP)
            error_at(s[3]->loc, "'lambda' weighs WGAN-GP's gradient penalty; it needs 'form wgan_gp', not '%s'",
                     gan_forms[form]);
        else
            arg_range(&s[3]->args.data[0], "lambda", 0, 1e6, false, &o->lambda);
    }
    if (s[4] && want_args(s[4], 1, 1)) {
        if (form == FORM_WGAN_GP) {
            error_at(s[4]->loc, "'r1' penalizes D's gradient on real data in place of a gradient penalty; "
                     "'form wgan_gp' has one already (its 'lambda')");
            note_at(s[0]->loc, "the form is set here");
        } else if (arg_range(&s[4]->args.data[0], "r1", 0, 1e6, false, &o->r1) && !(o->r1 > 0)) {
            error_at(s[4]->args.data[0].loc, "r1 must be positive");
        }
    }
}

/* D against the data, its output, and what its form asks of it. */
static void check_critic(const struct model *m, const struct gan *o, const struct network *d) {
    if (m->data.ok && shape_size(d->in) != shape_size(m->data.shape)) {
        error_at(d->loc, "discriminator '%s' takes %s, but %s examples are %s", d->name,
                 shape_str(d->in), data_kinds[m->data.kind], shape_str(m->data.shape));
        note_at(m->data.loc, "data declared here");
    }
    if (shape_size(d->out) != 1)
        error_at(d->loc, "discriminator '%s' must output one logit, [1], not %s", d->name, shape_str(d->out));
    if (m->augment.on && d->in.n != 3) {
        error_at(m->augment.loc, "augment transforms images, but discriminator '%s' takes %s", d->name,
                 shape_str(d->in));
        note_at(d->loc, "the discriminator is declared here");
    }
    enum gan_form form = o->form;
    if (is_wgan(form) && d->complete && d->layers.len) {
        const struct layer *last = &d->layers.data[d->layers.len - 1];
        if (last->kind == L_SIGMOID || last->kind == L_TANH) {
            error_at(last->loc, "the critic of a %s must output an unbounded score; remove this %s",
                     form == FORM_WGAN ? "WGAN" : "WGAN-GP", last->kind == L_SIGMOID ? "sigmoid" : "tanh");
            note_at(m->objective.loc, "the objective is %s here", form == FORM_WGAN ? "wgan" : "wgan_gp");
        }
    }
    if (form == FORM_WGAN_GP || o->r1 > 0) {
        for (int i = 0; i < d->layers.len; i++) {
            if (d->layers.data[i].kind == L_BATCHNORM) {
                warning_at(d->layers.data[i].loc, "batchnorm couples the examples of a batch, so the gradient "
                           "penalty no longer sees each example's own gradient; use 'layernorm'");
                break;
            }
        }
    }
}

/* The networks must chain: latent -> G -> D -> [1], data -> D.  Each check
 * needs only what it compares to have been checked without error. */
static void check_model(struct model *m) {
    const struct gan *o = gan_of(m);
    const struct network *g = o->gen >= 0 ? &m->nets.data[o->gen] : NULL;
    const struct network *d = o->disc >= 0 ? &m->nets.data[o->disc] : NULL;
    struct shape z = {1, {m->latent.dim}};
    if (g && m->latent.ok && !shape_eq(g->in, z)) {
        error_at(g->loc, "generator '%s' takes %s, but latent '%s' is %s", g->name, shape_str(g->in),
                 m->latent.name, shape_str(z));
        note_at(m->latent.loc, "latent declared here");
    }
    /* G's output is D's input as it is: only the data are reshaped */
    if (g && d && !shape_eq(g->out, d->in)) {
        error_at(d->loc, "discriminator '%s' takes %s, but generator '%s' makes %s", d->name,
                 shape_str(d->in), g->name, shape_str(g->out));
        if (shape_size(g->out) == shape_size(d->in))
            note_at(g->loc, "generator declared here; for the same values in D's shape, end it with 'reshape %s' "
                    "and declare it '-> %s'", shape_str(d->in), shape_str(d->in));
        else
            note_at(g->loc, "generator declared here");
    }
    if (d)
        check_critic(m, o, d);
    if (g)
        require_optimizer(m, o->gen);
    if (d)
        require_optimizer(m, o->disc);
}

/* ---- the losses, by form -------------------------------------------------- */

/* D on a batch: through `augment` first (DiffAugment: every real and fake
 * batch D sees, in every term, each with draws of its own) */
static int disc_forward(struct builder *b, int disc, int x, int y) {
    return forward(b, disc, augment(b, x), y);
}

/* D on real x and on the fakes: one pass over both stacked when that is two
 * passes (D treats each example on its own, and augment, which draws per
 * pass, is off), since a GEMM of 2N rows runs faster than two of N; two
 * passes otherwise.  Either way its gradient is the same, up to the order
 * of float sums.  Not for a WGAN's critic, whose loss E[D(G(z))] - E[D(x)]
 * is a difference of the two passes: stacked, wgan_gp_ring on 2 ranks
 * drifted from 1 rank (40 float steps: 3.5e-5 -> 4.6e-3 apart, over
 * tests/mpi.sh's 1e-4; 10 double steps: 5e-15 -> 4e-12). */
static void disc_forward_both(struct builder *b, enum gan_form form, int disc, int x, int fake, int y, int *lr,
                              int *lf) {
    if (y >= 0 || is_wgan(form) || b->m->augment.on || !per_example(b->m, disc)) {
        *lr = disc_forward(b, disc, x, y);
        *lf = disc_forward(b, disc, fake, y);
        return;
    }
    int n = ir_node(b->g, x)->shape.d[0];
    int both = forward(b, disc, stack_rows(b, x, fake), -1);
    *lr = take_rows(b, both, 0, n);
    *lf = take_rows(b, both, n, ir_node(b->g, fake)->shape.d[0]);
}

int gan_loss_d(struct builder *b, enum gan_form form, int disc, int x, int fake, int y, int *lr, int *lf) {
    disc_forward_both(b, form, disc, x, fake, y, lr, lf);
    struct ir *g = b->g;
    at_objective(b, "loss_D");
    int r = *lr, f = *lf;
    switch (form) {
    case FORM_MINIMAX:
    case FORM_NONSATURATING: /* binary cross-entropy with logits */
        return add(b, mean(b, softplus(b, neg(b, r))), mean(b, softplus(b, f)));
    case FORM_LSGAN: /* 0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2] */
        return ir_scale(g, add(b, mean(b, sq(b, ir_addc(g, r, -1))), mean(b, sq(b, f))), 0.5);
    case FORM_HINGE: /* E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] */
        return add(b, mean(b, relu(b, ir_addc(g, neg(b, r), 1))), mean(b, relu(b, ir_addc(g, f, 1))));
    case FORM_WGAN:
    case FORM_WGAN_GP: /* E[D(G(z))] - E[D(x)] */
        return ir_binary(g, OP_SUB, mean(b, f), mean(b, r));
    case N_FORMS:
        break;
    }
    unreachable();
}

int gan_loss_g(struct builder *b, enum gan_form form, int disc, int fake, int y) {
    int f = disc_forward(b, disc, fake, y);
    struct ir *g = b->g;
    at_objective(b, "loss_G");
    switch (form) {
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

/* WGAN-GP's penalty: lambda * mean((|grad_xh D(xh)| - 1)^2) at xh, random
 * points between real and fake examples.  The gradient is AD-built IR, and
 * the critic's step differentiates it again. */
static int gradient_penalty(struct builder *b, int x, int fake, int y, int k) {
    const struct gan *o = gan_of(b->m);
    struct ir *g = b->g;
    at_objective(b, "gradient penalty");
    int rows = ir_node(g, x)->shape.d[0];
    int eps = ir_uniform(g, (struct shape){1, {rows}}, SALT_GP_BASE + k);
    int xh = add(b, ir_row_op(g, OP_MUL_ROW, ir_binary(g, OP_SUB, x, fake), eps), fake);
    int score = ir_sum_all(g, disc_forward(b, o->disc, xh, y));
    at_objective(b, "gradient penalty");
    int gx;
    autodiff(g, score, &xh, 1, &gx);
    int norm = ir_unary(g, OP_SQRT, ir_addc(g, ir_sum_row(g, sq(b, gx)), 1e-12));
    return ir_scale(g, mean(b, sq(b, ir_addc(g, norm, -1))), o->lambda);
}

/* R1 (Mescheder et al. 2018): gamma/2 E_x |grad_x D(x)|^2 on the real
 * batch x, |.| the L2 norm of each example's gradient of D's logit.  The
 * gradient is AD-built IR on the real batch's own forward pass (D(x) is
 * the sum's only use of x), and D's step differentiates it again, as
 * WGAN-GP's penalty. */
static int r1_penalty(struct builder *b, int x, int real) {
    const struct gan *o = gan_of(b->m);
    struct ir *g = b->g;
    at_objective(b, "R1 penalty");
    int gx;
    autodiff(g, ir_sum_all(g, real), &x, 1, &gx);
    at_objective(b, "R1 penalty");
    int rows = ir_node(g, x)->shape.d[0];
    return ir_scale(g, ir_sum_all(g, sq(b, gx)), o->r1 / 2 / rows);
}

/* D's loss with the form's penalty and R1, at critic step k; r1 returns
 * R1's term, or -1 */
static int loss_d(struct builder *b, int x, int fake, int y, int k, int *lr, int *lf, int *r1) {
    const struct gan *o = gan_of(b->m);
    int loss = gan_loss_d(b, o->form, o->disc, x, fake, y, lr, lf);
    if (o->form == FORM_WGAN_GP)
        loss = add(b, loss, gradient_penalty(b, x, fake, y, k));
    *r1 = -1;
    if (o->r1 > 0)
        loss = add(b, loss, *r1 = r1_penalty(b, x, *lr));
    return loss;
}

/* ---- metrics, terms, batches ---------------------------------------------- */

enum { M_LOSS_D, M_LOSS_G, M_D_X, M_D_G_Z, M_W, M_R1, N_METRICS };
static const char *const metric_names[N_METRICS] = {
    [M_LOSS_D] = "loss_D", [M_LOSS_G] = "loss_G",
    [M_D_X] = "D_x",       /* D's mean output on real data: a probability, or the critic's score */
    [M_D_G_Z] = "D_G_z",   /* the same on the fakes */
    [M_W] = "W",           /* WGANs: the critic's estimate of the Wasserstein distance */
    [M_R1] = "R1",         /* with r1: its term of loss_D, gamma/2 E|grad_x D(x)|^2 */
};

enum { TERM_D, TERM_G };

static unsigned term_nets(const struct model *m, int term) {
    return net_bit(term == TERM_D ? gan_of(m)->disc : gan_of(m)->gen);
}

/* Latent batches one step draws: one, or one per critic step and one for
 * G's step. */
static int latent_batches(const struct gan *o) { return o->critic_steps == 1 ? 1 : o->critic_steps + 1; }

static void declare(const struct model *m, struct lowered *lo) {
    const struct gan *o = gan_of(m);
    bool present[N_METRICS] = {true, true, true, true, is_wgan(o->form), o->r1 > 0};
    declare_metrics(lo, metric_names, present, N_METRICS);
    declare_term(lo, "loss_D", term_nets(m, TERM_D));
    declare_term(lo, "loss_G", term_nets(m, TERM_G));
    lo->real_batches = o->critic_steps;
    lo->latent_batches = latent_batches(o);
}

/* ---- programs ------------------------------------------------------------- */

struct inputs {
    int x, z, y; /* all batches of the step; y is -1 without labels */
};

static struct inputs inputs(struct builder *b, int real_batches, int latent_batches) {
    const struct model *m = b->m;
    int n = b->p->batch;
    struct inputs in = {.y = -1};
    in.x = batch_input(b, GENRT_SLOT_X, n * real_batches, m->nets.data[gan_of(m)->disc].in);
    in.z = batch_input(b, GENRT_SLOT_Z, n * latent_batches, (struct shape){1, {m->latent.dim}});
    in.y = label_input(b, n * real_batches);
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

/* One training step: critic_steps steps of D, each on its own real batch
 * and fakes detached from G (clipped after each, for WGAN), then one step of
 * G through the updated D.  With one critic step G's step reuses the same
 * fakes, as PyTorch's DCGAN example does; with more it draws new ones. */
static void train(struct builder *b) {
    const struct model *m = b->m;
    const struct gan *o = gan_of(m);
    struct ir *g = b->g;
    int steps = o->critic_steps;
    struct inputs in = inputs(b, steps, latent_batches(o));
    int fake = -1, y = -1;
    for (int k = 0; k < steps; k++) {
        int x = batch_of(b, in.x, k), z = batch_of(b, in.z, k);
        y = batch_of(b, in.y, k);
        fake = forward(b, o->gen, z, y);
        int lr, lf, r1;
        int loss = loss_d(b, x, fake, y, k, &lr, &lf, &r1);
        if (k == steps - 1) {
            g->cur_what = "metrics";
            metric(b, M_LOSS_D, loss);
            bool prob = o->form == FORM_MINIMAX || o->form == FORM_NONSATURATING;
            int dx = mean(b, prob ? ir_unary(g, OP_SIGMOID, lr) : lr);
            int dgz = mean(b, prob ? ir_unary(g, OP_SIGMOID, lf) : lf);
            metric(b, M_D_X, dx);
            metric(b, M_D_G_Z, dgz);
            if (is_wgan(o->form))
                metric(b, M_W, ir_binary(g, OP_SUB, dx, dgz));
            if (r1 >= 0)
                metric(b, M_R1, r1);
        }
        optimizer_step(b, net_bit(o->disc), loss, steps, k);
        if (o->clip > 0) {
            for (int t = 0; t < b->lo->tensors.len; t++) {
                const struct ptensor *pt = &b->lo->tensors.data[t];
                if (pt->role != GENRT_PARAM || pt->net != o->disc)
                    continue;
                g->cur_what = xprintf("clip %s", pt->name);
                ir_clip(g, param(b, t), o->clip);
            }
        }
    }
    if (steps > 1)
        fake = forward(b, o->gen, batch_of(b, in.z, steps), y);
    int loss = gan_loss_g(b, o->form, o->disc, fake, y);
    g->cur_what = "metrics";
    metric(b, M_LOSS_G, loss);
    optimizer_step(b, net_bit(o->gen), loss, 1, 0);
}

static int term_loss(struct builder *b, int term) {
    const struct gan *o = gan_of(b->m);
    struct inputs in = inputs(b, 1, 1);
    int fake = forward(b, o->gen, in.z, in.y);
    int lr, lf, r1;
    return term == TERM_D ? loss_d(b, in.x, fake, in.y, 0, &lr, &lf, &r1) : gan_loss_g(b, o->form, o->disc, fake, in.y);
}

/* G's forward pass from latent vectors (and labels), in eval mode */
static int generator(struct builder *b) {
    const struct model *m = b->m;
    int n = b->p->batch;
    int z = batch_input(b, GENRT_SLOT_Z, n, (struct shape){1, {m->latent.dim}});
    int y = label_input(b, n);
    return forward(b, gan_of(m)->gen, z, y);
}

static void programs(struct builder *b) {
    struct program *p = new_program(b, "generate", PROG_GENERATE, b->m->train.batch, -1);
    p->result = generator(b);
}

static void sampler(struct builder *b, int k) {
    (void)k;
    b->p->result = generator(b);
}

/* latent -> G -> D <- data, and D's scores into the loss */
static void wiring(const struct model *m, struct wiring *w) {
    const struct gan *o = gan_of(m);
    const char *g = m->nets.data[o->gen].name, *d = m->nets.data[o->disc].name, *z = m->latent.name;
    wire_add(w, AT_LATENT, AT_NET(o->gen), z, WIRE_FLOW);
    wire_add(w, AT_NET(o->gen), AT_NET(o->disc), xprintf("fake %s(%s)", g, z), WIRE_FLOW);
    wire_add(w, AT_DATA(0), AT_NET(o->disc), "real x", WIRE_FLOW);
    wire_add(w, AT_NET(o->disc), AT_LOSS, xprintf("%s(x), %s(%s(%s))", d, d, g, z), WIRE_TERM);
    const char *s = xprintf("GAN loss, %s", gan_forms[o->form]);
    if (o->clip > 0)
        s = xprintf("%s\nweights clipped to %g", s, o->clip);
    if (o->form == FORM_WGAN_GP)
        s = xprintf("%s\ngradient penalty, lambda %g", s, o->lambda);
    if (o->r1 > 0)
        s = xprintf("%s\nR1 penalty, gamma %g", s, o->r1);
    if (o->critic_steps > 1)
        s = xprintf("%s\n%d %s steps per %s step", s, o->critic_steps, d, g);
    w->loss = s;
}

const struct objective_def objective_gan = {
    .name = "gan",
    .title = "GAN",
    .genrt_kind = GENRT_OBJ_GAN,
    .domains = 1,
    .latent = true,
    .check = check,
    .check_model = check_model,
    .declare = declare,
    .train = train,
    .programs = programs,
    .term_loss = term_loss,
    .sampler = sampler,
    .wiring = wiring,
};
