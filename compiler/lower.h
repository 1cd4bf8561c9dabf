/* lower.h: lowering's internal header, for lower.c and the objectives
 * (compiler/objectives/).  lower.c owns what every objective shares: the
 * persistent state's layout, the programs' builder, the networks' forward
 * passes, gradients and optimizer steps, metrics and gradient-check terms.
 * An objective builds its losses and programs from these. */
#ifndef GENC_LOWER_H
#define GENC_LOWER_H

#include "genc.h"
#include "genrt_model.h"

/* How a forward pass runs: training (batch statistics, running statistics
 * updated, dropout on), eval (running statistics, no dropout), or a
 * gradient check (batch statistics, no state changed). */
enum mode { MODE_TRAIN, MODE_EVAL, MODE_CHECK };

/* The program being built. */
struct builder {
    const struct model *m;
    struct lowered *lo;
    struct program *p;
    struct ir *g;
    enum mode mode;
    int *param_node; /* per tensor: its PARAM node in this program, or -1 */
    int salt;        /* numbers dropout layers apart, per forward pass */
    int augments;    /* DiffAugment calls so far in this program */
};

/* Salts of the step's hash (UNIFORM, NORMAL, DROPOUT nodes), so no two
 * draws of one step coincide: dropout layers take 1, 2, ... in the order a
 * program runs them; the others are the objectives'. */
enum {
    SALT_VAE_TRAIN = 1,    /* the VAE's reparameterization noise, training */
    SALT_VAE_ELBO = 7,     /* the same, for ./X eval */
    SALT_GP_BASE = 1000,   /* WGAN-GP's interpolation weights, + the critic step */
    SALT_AUG_BASE = 2000,  /* DiffAugment: + 8 per call in a program, + the transform */
};

/* ---- state -------------------------------------------------------------- */

/* A persistent tensor, laid out after the ones before it. */
int add_tensor(struct lowered *lo, const char *name, int role, int net, int init, int fan_in, struct shape s);

/* ---- programs ----------------------------------------------------------- */

/* A new program, the builder's current one; its mode follows its kind. */
struct program *new_program(struct builder *b, const char *name, enum prog_kind kind, int batch, int term);
/* The PARAM node of a tensor in the current program (one per tensor). */
int param(struct builder *b, int tensor);
/* The IR shape of a batch of DSL shape s: images [C, H, W] are
 * channels-last [N, H, W, C]. */
struct shape batched(int batch, struct shape s);
/* The next nodes come from the objective's declaration, doing `what`. */
void at_objective(struct builder *b, const char *what);
/* An input of `rows` examples of shape `example` (labels: an empty shape,
 * one per row). */
int batch_input(struct builder *b, enum genrt_slot slot, int rows, struct shape example);
/* A conditional model's labels, one per row of `rows`; -1 for an
 * unconditional model. */
int label_input(struct builder *b, int rows);
/* Network `net`'s forward pass on x (and labels y, or -1). */
int forward(struct builder *b, int net, int x, int y);
/* DiffAugment (`augment`) of a batch of images x [N, H, W, C] on its way
 * into a discriminator: x itself without it, and in eval mode. */
int augment(struct builder *b, int x);
/* Whether network n's pass over a batch is a pass over each example on
 * its own: no batchnorm (the batch's statistics), dropout (one draw per
 * pass), labels or spectral norm (one power iteration per pass), so that
 * one pass over two batches stacked equals a pass over each. */
bool per_example(const struct model *m, int n);
/* x [N, ...] and y [M, ...], of one example shape, as [N + M, ...] */
int stack_rows(struct builder *b, int x, int y);
/* rows [off, off + len) of x, differentiable */
int take_rows(struct builder *b, int x, int off, int len);
/* Its layers [from, to) only (no residual block may straddle either end). */
int forward_layers(struct builder *b, int net, int x, int y, int from, int to);
static inline unsigned net_bit(int net) { return 1u << net; }

/* ---- gradients and optimizer steps ------------------------------------- */

struct grads {
    int n;
    int *tensors, *nodes, *grads; /* per trained parameter: its tensor, PARAM node and gradient (-1: none) */
};

/* The gradient of loss with respect to the parameters of the networks in mask. */
struct grads gradients(struct builder *b, unsigned mask, int loss);
/* Each parameter's optimizer step.  The optimizer runs `runs` times per
 * training step and this is run `run` (from 0): Adam counts every run. */
void apply_gradients(struct builder *b, const struct grads *gr, int runs, int run);
void optimizer_step(struct builder *b, unsigned mask, int loss, int runs, int run);

/* ---- metrics and gradient-check terms ---------------------------------- */

/* An objective's metrics: ids 0 .. n-1 of its own enum, names[id] their
 * metrics.csv columns, present[id] whether this model reports it.  The
 * reported ones are out[0], out[1], ... in id order. */
void declare_metrics(struct lowered *lo, const char *const *names, const bool *present, int n);
/* metric id's value x, into its column of the train step's out[] */
void metric(struct builder *b, int id, int x);
void declare_term(struct lowered *lo, const char *name, unsigned nets);

/* ---- scalar helpers ------------------------------------------------------ */

static inline int mean(struct builder *b, int x) { return ir_mean_all(b->g, x); }
static inline int neg(struct builder *b, int x) { return ir_unary(b->g, OP_NEG, x); }
static inline int add(struct builder *b, int x, int y) { return ir_binary(b->g, OP_ADD, x, y); }
static inline int softplus(struct builder *b, int x) { return ir_unary(b->g, OP_SOFTPLUS, x); }
static inline int sq(struct builder *b, int x) { return ir_unary(b->g, OP_SQUARE, x); }
static inline int relu(struct builder *b, int x) { return ir_leaky_relu(b->g, x, 0); }
/* examples as rows: [N, ...] -> [N, values] */
int flat(struct builder *b, int x);

/* ---- objectives/gan.c: the adversarial losses, shared with CycleGAN ----- */

enum gan_form { FORM_MINIMAX, FORM_NONSATURATING, FORM_LSGAN, FORM_HINGE, FORM_WGAN, FORM_WGAN_GP, N_FORMS };
extern const char *const gan_forms[N_FORMS];
/* `form F`: F, or -1 after an error or when s is NULL */
int gan_form_of(const struct stmt *s);
/* The discriminator's loss on real x and fakes (detached or not) by form;
 * lr and lf return its raw outputs. */
int gan_loss_d(struct builder *b, enum gan_form form, int disc, int x, int fake, int y, int *lr, int *lf);
/* The generator's loss on fakes through the discriminator, by form. */
int gan_loss_g(struct builder *b, enum gan_form form, int disc, int fake, int y);
/* a GAN model's form, for tests */
enum gan_form gan_form(const struct model *m);

#endif
