/* classifier.c: `objective classifier(C)`, a network C from an example to
 * one logit per class of the data, trained on the softmax cross-entropy of
 * the data's labels.  genc trains it as the feature extractor of its own
 * sample-quality scores (`X score`): the features are the input of C's
 * last dense layer (the penultimate layer), exposed with the logits by
 * the classify() entry point. */
#include "../lower.h"

#include <string.h>

struct classifier {
    int net;          /* the network */
    int last_dense;   /* its last dense layer: the features are that layer's input */
};

static const struct classifier *classifier_of(const struct model *m) { return m->objective.settings; }

/* ---- checks --------------------------------------------------------------- */

static void check(const struct decl *d, struct model *m) {
    struct classifier *o = xalloc(sizeof *o);
    m->objective.settings = o;
    o->net = o->last_dense = -1;
    if (d->args.len != 1) {
        error_at(d->kind_loc, "classifier takes 1 network, the classifier, got %d", d->args.len);
        return;
    }
    o->net = resolve_network(m, &d->args.data[0]);
    if (d->body.len)
        error_at(d->body.data[0].loc, "the classifier objective takes no settings, got '%s'", d->body.data[0].name);
}

/* The data are labelled images, the network maps one to a logit per
 * class, and its last dense layer is not inside a residual block (its
 * input is the features). */
static void check_model(struct model *m) {
    struct classifier *o = m->objective.settings;
    if (o->net < 0)
        return;
    const struct network *n = &m->nets.data[o->net];
    if (m->data.ok) {
        if (m->data.kind == DATA_RING8 || m->n_classes == 0) {
            error_at(m->data.loc, "a classifier learns labelled examples, and %s: use fashion_mnist, or images "
                     "with 'classes N' (one subfolder per class)",
                     m->data.kind == DATA_RING8 ? "ring8 is a stream of points" : "these images have no classes");
            note_at(m->objective.loc, "the objective is classifier here");
        } else if (m->data.select >= 0) {
            error_at(m->data.loc, "a classifier learns every class of the data, but 'class %d' keeps only one",
                     m->data.select);
            note_at(m->objective.loc, "the objective is classifier here");
        }
        if (shape_size(n->in) != shape_size(m->data.shape)) {
            error_at(n->loc, "classifier '%s' takes %s, but %s examples are %s", n->name, shape_str(n->in),
                     data_kinds[m->data.kind], shape_str(m->data.shape));
            note_at(m->data.loc, "data declared here");
        } else if (m->n_classes > 0 && (n->out.n != 1 || n->out.d[0] != m->n_classes)) {
            error_at(n->loc, "classifier '%s' outputs %s, but the data have %d classes: it must output [%d], a "
                     "logit per class", n->name, shape_str(n->out), m->n_classes, m->n_classes);
            note_at(m->data.loc, "data declared here");
        }
    }
    if (m->conditional)
        error_at(n->loc, "classifier '%s' has a cond layer, but a classifier predicts the label it would take",
                 n->name);
    int depth = 0;
    for (int i = 0; i < n->layers.len; i++) {
        enum layer_kind k = n->layers.data[i].kind;
        depth += k == L_RESIDUAL ? 1 : k == L_ADD ? -1 : 0;
        if (k == L_DENSE)
            o->last_dense = depth ? -2 : i;
    }
    if (o->last_dense == -1)
        error_at(n->loc, "classifier '%s' has no dense layer: its features for 'score' are the input of its "
                 "last dense layer", n->name);
    else if (o->last_dense == -2)
        error_at(n->loc, "classifier '%s' ends its dense layers inside a residual block: its features for "
                 "'score' are the input of its last dense layer, which must be outside any block", n->name);
    require_optimizer(m, o->net);
}

/* ---- metrics, terms ------------------------------------------------------- */

enum { M_LOSS, M_ACC, N_METRICS };
static const char *const metric_names[N_METRICS] = {
    [M_LOSS] = "loss", /* the batch's mean cross-entropy, nats */
    [M_ACC] = "acc",   /* the share of the batch whose largest logit is its label */
};

static void declare(const struct model *m, struct lowered *lo) {
    static const bool present[N_METRICS] = {true, true};
    declare_metrics(lo, metric_names, present, N_METRICS);
    declare_term(lo, "loss", net_bit(classifier_of(m)->net));
    lo->latent_batches = 0;
    lo->n_samplers = 0;
    lo->n_classes = m->n_classes;
    const struct network *n = &m->nets.data[classifier_of(m)->net];
    lo->n_features = (int)shape_size(n->layers.data[classifier_of(m)->last_dense].in);
}

/* ---- the cross-entropy ---------------------------------------------------- */

/* Per example: -log softmax(l)[y] = logsumexp(l) - l[y], with l[y] the
 * logits dotted with the label's one-hot row. */
static int cross_entropy(struct builder *b, int logits, int y) {
    struct ir *g = b->g;
    at_objective(b, "softmax cross-entropy");
    int picked = ir_sum_row(g, ir_binary(g, OP_MUL, logits, ir_onehot(g, y, b->m->n_classes)));
    return ir_binary(g, OP_SUB, ir_logsumexp(g, logits), picked);
}

static int inputs(struct builder *b, int *y) {
    const struct network *n = &b->m->nets.data[classifier_of(b->m)->net];
    int x = batch_input(b, GENRT_SLOT_X, b->p->batch, n->in);
    *y = batch_input(b, GENRT_SLOT_Y, b->p->batch, (struct shape){0});
    return x;
}

static int loss(struct builder *b, int *logits, int *y) {
    int x = inputs(b, y);
    *logits = forward(b, classifier_of(b->m)->net, x, -1);
    return mean(b, cross_entropy(b, *logits, *y));
}

/* ---- programs ------------------------------------------------------------- */

static void train(struct builder *b) {
    int logits, y;
    int l = loss(b, &logits, &y);
    struct ir *g = b->g;
    g->cur_what = "metrics";
    metric(b, M_LOSS, l);
    /* correct when the one-hot rows of the prediction and the label meet */
    int k = b->m->n_classes;
    int hit = ir_sum_row(g, ir_binary(g, OP_MUL, ir_onehot(g, ir_argmax(g, logits), k), ir_onehot(g, y, k)));
    metric(b, M_ACC, mean(b, hit));
    optimizer_step(b, net_bit(classifier_of(b->m)->net), l, 1, 0);
}

static int term_loss(struct builder *b, int k) {
    (void)k;
    int logits, y;
    return loss(b, &logits, &y);
}

/* classify(): eval mode, the features (the last dense layer's input) and
 * the logits */
static void programs(struct builder *b) {
    const struct classifier *o = classifier_of(b->m);
    const struct network *n = &b->m->nets.data[o->net];
    struct program *p = new_program(b, "classify_fwd", PROG_CLASSIFY, b->m->train.batch, -1);
    int x = batch_input(b, GENRT_SLOT_X, p->batch, n->in);
    int f = forward_layers(b, o->net, x, -1, 0, o->last_dense);
    p->result = f;
    p->result2 = forward_layers(b, o->net, f, -1, o->last_dense, n->layers.len);
}

static void sampler(struct builder *b, int k) {
    (void)b, (void)k;
    unreachable(); /* n_samplers is 0 */
}

static void wiring(const struct model *m, struct wiring *w) {
    const struct classifier *o = classifier_of(m);
    wire_add(w, AT_DATA(0), AT_NET(o->net), "x", WIRE_FLOW);
    wire_add(w, AT_NET(o->net), AT_LOSS, "logits", WIRE_TERM);
    wire_add(w, AT_DATA(0), AT_LOSS, "labels y", WIRE_TERM);
    w->loss = xprintf("softmax cross-entropy\n%d classes", m->n_classes);
}

const struct objective_def objective_classifier = {
    .name = "classifier",
    .title = "classifier",
    .genrt_kind = GENRT_OBJ_CLASSIFIER,
    .domains = 1,
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
