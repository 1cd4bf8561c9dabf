/* cyclegan.c: the CycleGAN objective (Zhu et al. 2017),
 * `objective cyclegan(G, F, DA, DB) { form lsgan; cycle 10; identity 0 }`:
 * generators G: A -> B and F: B -> A between two data domains, and a
 * discriminator per domain, with L1 cycle-consistency (and identity)
 * terms; the adversarial terms are the GAN forms' (gan.c). */
#include "../lower.h"

#include <string.h>

struct cyclegan {
    int g_ab, g_ba, d_a, d_b; /* G: A -> B, F: B -> A, D_A, D_B */
    enum gan_form form;
    double cycle, identity;   /* the L1 terms' weights */
};

static const struct cyclegan *cyclegan_of(const struct model *m) { return m->objective.settings; }

/* ---- checks --------------------------------------------------------------- */

/* objective cyclegan(G, F, DA, DB) { form lsgan; cycle 10; identity 0 }:
 * G maps domain A to B, F maps B to A, DA and DB judge each domain. */
static void check(const struct decl *d, struct model *m) {
    struct cyclegan *o = xalloc(sizeof *o);
    m->objective.settings = o;
    o->g_ab = o->g_ba = o->d_a = o->d_b = -1;
    o->form = FORM_LSGAN;
    o->cycle = 10;
    if (d->args.len != 4) {
        error_at(d->kind_loc, "cyclegan takes 4 networks: the generators G (A to B) and F (B to A), then the "
                 "discriminators of A and of B; got %d", d->args.len);
        return;
    }
    int n[4];
    for (int i = 0; i < 4; i++) {
        n[i] = resolve_network(m, &d->args.data[i]);
        for (int j = 0; j < i; j++)
            if (n[i] >= 0 && n[i] == n[j])
                error_at(d->args.data[i].loc, "'%s' is named twice: the four networks must be different",
                         d->args.data[i].text);
    }
    o->g_ab = n[0], o->g_ba = n[1], o->d_a = n[2], o->d_b = n[3];
    static const char *const keys[] = {"form", "cycle", "identity"};
    const struct stmt *s[3];
    settings(&d->body, "cyclegan objective", keys, 3, s);
    int k = gan_form_of(s[0]);
    if (k == FORM_WGAN || k == FORM_WGAN_GP)
        error_at(s[0]->args.data[0].loc, "cyclegan's adversarial terms support minimax, nonsaturating, lsgan and "
                 "hinge, not %s", gan_forms[k]);
    else if (k >= 0)
        o->form = k;
    if (s[1] && want_args(s[1], 1, 1))
        arg_range(&s[1]->args.data[0], "the cycle weight", 0, 1e6, false, &o->cycle);
    if (s[2] && want_args(s[2], 1, 1))
        arg_range(&s[2]->args.data[0], "the identity weight", 0, 1e6, false, &o->identity);
}

/* The networks must map the domains: G A -> B, F B -> A, DA on A, DB on B. */
static void check_model(struct model *m) {
    const struct cyclegan *o = cyclegan_of(m);
    if (m->n_domains < 2) {
        error_at(m->objective.loc, "a CycleGAN translates between two data domains, but the spec declares %s",
                 m->n_domains ? "one" : "none");
        if (m->n_domains)
            note_at(m->data.loc, "add the other, and name both: 'data A fashion_mnist { class 7 }' and "
                    "'data B fashion_mnist { class 9 }'");
        return;
    }
    if (m->latent.name)
        error_at(m->latent.loc, "a CycleGAN translates data and draws no latent; remove this declaration");
    int ids[4] = {o->g_ab, o->g_ba, o->d_a, o->d_b};
    for (int k = 0; k < 4; k++)
        if (ids[k] < 0)
            return;
    const struct dataset *A = &m->data, *B = &m->data_b;
    if (!A->ok || !B->ok) { /* the domain in error has its own message */
        for (int k = 0; k < 4; k++)
            require_optimizer(m, ids[k]);
        return;
    }
    const struct dataset *from[2] = {A, B}, *to[2] = {B, A};
    for (int k = 0; k < 2; k++) {
        const struct network *g = &m->nets.data[ids[k]];
        if (!shape_eq(g->in, from[k]->shape) || !shape_eq(g->out, to[k]->shape)) {
            error_at(g->loc, "generator '%s' maps %s to %s, but it must map domain %s %s to domain %s %s", g->name,
                     shape_str(g->in), shape_str(g->out), from[k]->domain, shape_str(from[k]->shape), to[k]->domain,
                     shape_str(to[k]->shape));
            note_at(from[k]->loc, "domain %s declared here", from[k]->domain);
        }
    }
    for (int k = 0; k < 2; k++) {
        const struct network *dn = &m->nets.data[ids[2 + k]];
        if (!shape_eq(dn->in, from[k]->shape)) {
            error_at(dn->loc, "discriminator '%s' judges domain %s, whose examples are %s, but it takes %s", dn->name,
                     from[k]->domain, shape_str(from[k]->shape), shape_str(dn->in));
            note_at(from[k]->loc, "domain %s declared here", from[k]->domain);
        }
    }
    if (o->identity > 0 && !shape_eq(A->shape, B->shape))
        error_at(m->objective.loc, "the identity term compares G(b) with b, so it needs domains of one shape, "
                 "not %s and %s", shape_str(A->shape), shape_str(B->shape));
    if (A->kind == DATA_RING8 || B->kind == DATA_RING8)
        error_at(A->kind == DATA_RING8 ? A->loc : B->loc, "a CycleGAN translates images; ring8 has none");
    if (m->conditional)
        error_at(m->objective.loc, "conditional CycleGANs are not supported: remove the cond layers");
    for (int k = 0; k < 4; k++)
        require_optimizer(m, ids[k]);
}

/* ---- metrics, terms --------------------------------------------------------- */

enum { M_LOSS_G, M_LOSS_DA, M_LOSS_DB, M_CYCLE, M_IDENTITY, N_METRICS };
static const char *const metric_names[N_METRICS] = {
    [M_LOSS_G] = "loss_G",     /* both generators' */
    [M_LOSS_DA] = "loss_DA",   /* each discriminator's */
    [M_LOSS_DB] = "loss_DB",
    [M_CYCLE] = "cycle",       /* (|F(G(a)) - a|_1 + |G(F(b)) - b|_1) / 2, unweighted */
    [M_IDENTITY] = "identity", /* (|G(b) - b|_1 + |F(a) - a|_1) / 2, when weighed */
};

enum { TERM_G, TERM_DA, TERM_DB };

static unsigned term_nets(const struct model *m, int term) {
    const struct cyclegan *o = cyclegan_of(m);
    return term == TERM_G ? net_bit(o->g_ab) | net_bit(o->g_ba) : term == TERM_DA ? net_bit(o->d_a) : net_bit(o->d_b);
}

static void declare(const struct model *m, struct lowered *lo) {
    bool present[N_METRICS] = {true, true, true, true, cyclegan_of(m)->identity > 0};
    declare_metrics(lo, metric_names, present, N_METRICS);
    static const char *const terms[] = {[TERM_G] = "loss_G", [TERM_DA] = "loss_DA", [TERM_DB] = "loss_DB"};
    for (int k = 0; k < 3; k++)
        declare_term(lo, terms[k], term_nets(m, k));
    lo->latent_batches = 0; /* no latent */
    lo->n_samplers = 2;     /* G and F */
}

/* ---- the losses ----------------------------------------------------------- */

struct domains {
    int a, b; /* a batch of each domain */
};

static struct domains domain_inputs(struct builder *b) {
    const struct model *m = b->m;
    return (struct domains){batch_input(b, GENRT_SLOT_X, b->p->batch, m->data.shape),
                            batch_input(b, GENRT_SLOT_XB, b->p->batch, m->data_b.shape)};
}

/* mean |x - y| over every value, as PyTorch's L1Loss */
static int l1(struct builder *b, int x, int y) { return mean(b, ir_unary(b->g, OP_ABS, ir_binary(b->g, OP_SUB, x, y))); }

/* A generator's adversarial term.  LSGAN's is E[(D(G(a)) - 1)^2], without
 * the 1/2 of the plain GAN's, as the CycleGAN paper weighs it against the
 * cycle term. */
static int adversarial(struct builder *b, int disc, int fake) {
    enum gan_form form = cyclegan_of(b->m)->form;
    int loss = gan_loss_g(b, form, disc, fake, -1);
    return form == FORM_LSGAN ? ir_scale(b->g, loss, 2) : loss;
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
static struct cycle_losses losses(struct builder *b, struct domains in) {
    const struct cyclegan *o = cyclegan_of(b->m);
    struct ir *g = b->g;
    int G = o->g_ab, F = o->g_ba;
    int fake_b = forward(b, G, in.a, -1), rec_a = forward(b, F, fake_b, -1);
    int fake_a = forward(b, F, in.b, -1), rec_b = forward(b, G, fake_a, -1);
    struct cycle_losses c = {.identity = -1};
    int adv = add(b, adversarial(b, o->d_b, fake_b), adversarial(b, o->d_a, fake_a));
    at_objective(b, "cycle consistency");
    int cyc = add(b, l1(b, rec_a, in.a), l1(b, rec_b, in.b));
    c.cycle = ir_scale(g, cyc, 0.5);
    c.g = add(b, adv, ir_scale(g, cyc, o->cycle));
    if (o->identity > 0) {
        int id_b = forward(b, G, in.b, -1), id_a = forward(b, F, in.a, -1);
        at_objective(b, "identity");
        int idt = add(b, l1(b, id_b, in.b), l1(b, id_a, in.a));
        c.identity = ir_scale(g, idt, 0.5);
        c.g = add(b, c.g, ir_scale(g, idt, o->identity));
    }
    int lr, lf;
    c.da = gan_loss_d(b, o->form, o->d_a, in.a, fake_a, -1, &lr, &lf);
    c.db = gan_loss_d(b, o->form, o->d_b, in.b, fake_b, -1, &lr, &lf);
    return c;
}

/* One step updates all four networks at once: the generators on loss_G
 * through the discriminators as they were, the discriminators on the same
 * fakes, as PyTorch's CycleGAN does (without its pool of past fakes). */
static void train(struct builder *b) {
    const struct model *m = b->m;
    struct cycle_losses c = losses(b, domain_inputs(b));
    b->g->cur_what = "metrics";
    metric(b, M_LOSS_G, c.g);
    metric(b, M_LOSS_DA, c.da);
    metric(b, M_LOSS_DB, c.db);
    metric(b, M_CYCLE, c.cycle);
    if (c.identity >= 0)
        metric(b, M_IDENTITY, c.identity);
    struct grads gg = gradients(b, term_nets(m, TERM_G), c.g);
    struct grads ga = gradients(b, term_nets(m, TERM_DA), c.da);
    struct grads gb = gradients(b, term_nets(m, TERM_DB), c.db);
    apply_gradients(b, &gg, 1, 0);
    apply_gradients(b, &ga, 1, 0);
    apply_gradients(b, &gb, 1, 0);
}

static int term_loss(struct builder *b, int term) {
    struct cycle_losses c = losses(b, domain_inputs(b));
    return term == TERM_G ? c.g : term == TERM_DA ? c.da : c.db;
}

/* A batch of domain A (dir 0) or B, and the generator from it: G or F. */
static int from_domain(struct builder *b, int dir, int *gen) {
    const struct model *m = b->m;
    const struct cyclegan *o = cyclegan_of(m);
    *gen = dir == 0 ? o->g_ab : o->g_ba;
    return batch_input(b, dir == 0 ? GENRT_SLOT_X : GENRT_SLOT_XB, b->p->batch, dir == 0 ? m->data.shape : m->data_b.shape);
}

/* translate_ab: x from A -> G(x) and F(G(x)); translate_ba the other way:
 * for ./X translate and the preview grids. */
static void programs(struct builder *b) {
    const struct cyclegan *o = cyclegan_of(b->m);
    for (int dir = 0; dir < 2; dir++) {
        struct program *p = new_program(b, dir == 0 ? "translate_ab" : "translate_ba", PROG_TRANSLATE,
                                         b->m->train.batch, -1);
        int there, x = from_domain(b, dir, &there);
        p->result = forward(b, there, x, -1);
        p->result2 = forward(b, there == o->g_ab ? o->g_ba : o->g_ab, p->result, -1);
    }
}

/* sampler k: G (k = 0) or F, on one example */
static void sampler(struct builder *b, int k) {
    int gen;
    int x = from_domain(b, k, &gen);
    b->p->result = forward(b, gen, x, -1);
}

/* A -> G -> DB <- B and B -> F -> DA <- A, the cycles back through the
 * other generator (and the identity terms, when weighed) */
static void wiring(const struct model *m, struct wiring *w) {
    const struct cyclegan *o = cyclegan_of(m);
    const int gen[2] = {o->g_ab, o->g_ba}, disc[2] = {o->d_b, o->d_a};
    const char *dom[2] = {m->data.domain, m->data_b.domain};
    for (int k = 0; k < 2; k++) {
        const char *g = m->nets.data[gen[k]].name, *back = m->nets.data[gen[1 - k]].name;
        wire_add(w, AT_DATA(k), AT_NET(gen[k]), dom[k], WIRE_FLOW);
        wire_add(w, AT_NET(gen[k]), AT_NET(disc[k]), xprintf("fake %s(%s)", g, dom[k]), WIRE_FLOW);
        wire_add(w, AT_DATA(1 - k), AT_NET(disc[k]), xprintf("real %s", dom[1 - k]), WIRE_FLOW);
        wire_add(w, AT_NET(gen[k]), AT_NET(gen[1 - k]), xprintf("cycle %s(%s(%s))", back, g, dom[k]), WIRE_CYCLE);
        if (o->identity > 0)
            wire_add(w, AT_DATA(1 - k), AT_NET(gen[k]), xprintf("identity %s(%s)", g, dom[1 - k]), WIRE_CYCLE);
    }
    for (int k = 0; k < 2; k++)
        wire_add(w, AT_NET(disc[1 - k]), AT_LOSS, xprintf("%s scores", m->nets.data[disc[1 - k]].name), WIRE_TERM);
    for (int k = 0; k < 2; k++)
        wire_add(w, AT_NET(gen[1 - k]), AT_LOSS,
                 xprintf("|%s(%s(%s)) - %s|", m->nets.data[gen[1 - k]].name, m->nets.data[gen[k]].name, dom[k],
                         dom[k]),
                 WIRE_TERM);
    const char *s = xprintf("CycleGAN loss, %s\ncycle weight %g", gan_forms[o->form], o->cycle);
    if (o->identity > 0)
        s = xprintf("%s, identity weight %g", s, o->identity);
    w->loss = s;
}


const struct objective_def objective_cyclegan = {
    .name = "cyclegan",
    .title = "CycleGAN",
    .genrt_kind = GENRT_OBJ_CYCLEGAN,
    .domains = 2,
    .latent = false,
    .check = check,
    .check_model = check_model,
    .declare = declare,
    .train = train,
    .programs = programs,
    .term_loss = term_loss,
    .sampler = sampler,
    .wiring = wiring,
};
