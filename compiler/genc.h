/* genc.h: the compiler's one internal header, sectioned per pass. */
#ifndef GENC_H
#define GENC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GENC_VERSION "0.1.0"
#define MAX_DIMS 4

/* ---- util.c: memory, strings, vectors ---------------------------------- */

/* Every compiler allocation comes from one arena, freed at once at exit. */
void *xalloc(size_t n);
void *xrealloc_arr(void *p, size_t old_n, size_t new_n, size_t elem);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void genc_free_all(void);
_Noreturn void unreachable_at(const char *file, int line);
#define unreachable() unreachable_at(__FILE__, __LINE__)

/* A growable array of T: `VEC(int) v = {0}; vec_push(&v, 3);` */
#define VEC(T) struct { T *data; int len, cap; }
#define vec_push(v, x) do { \
        if ((v)->len == (v)->cap) { \
            int nc_ = (v)->cap ? 2 * (v)->cap : 8; \
            (v)->data = xrealloc_arr((v)->data, (v)->cap, nc_, sizeof *(v)->data); \
            (v)->cap = nc_; \
        } \
        (v)->data[(v)->len++] = (x); \
    } while (0)

int edit_distance(const char *a, const char *b);
/* The candidate closest to `name`, or NULL when none is close enough. */
const char *closest_name(const char *name, const char *const *cands, int n);

/* ---- diag.c: diagnostics ------------------------------------------------ */

struct loc {
    int line, col;         /* 1-based, first character */
    int end_line, end_col; /* last character, inclusive */
};

struct source {
    const char *path;
    const char *text;
    size_t len;
};

void diag_init(const struct source *src);
/* Where diagnostics go: stderr when f is NULL (the fuzzer discards them). */
void diag_set_stream(FILE *f);
void error_at(struct loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void warning_at(struct loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void note_at(struct loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Between diag_hold and diag_flush (sema), diagnostics are kept and then
 * printed sorted by position, each error or warning with its notes. */
void diag_hold(void);
void diag_flush(void);
/* A location of the whole file: diagnostics there have no line or caret. */
#define WHOLE_FILE ((struct loc){0, 0, 0, 0})
int diag_error_count(void);
bool diag_too_many(void);

/* ---- ast.c: the syntax tree --------------------------------------------- */

struct shape {
    int n;
    int d[MAX_DIMS];
};

enum arg_kind { ARG_NUM, ARG_IDENT, ARG_STR, ARG_SHAPE };

struct arg {
    enum arg_kind kind;
    struct loc loc;
    double num;       /* ARG_NUM */
    const char *text; /* ARG_NUM (as written), ARG_IDENT, ARG_STR */
    struct shape shape;
};

typedef VEC(struct arg) arg_vec;

struct stmt;
typedef struct stmt_vec {
    struct stmt *data;
    int len, cap;
} stmt_vec;

/* `name arg arg ...`: a layer in a network, a setting in any other block;
 * `name arg ... { ... }` nests a block (a residual block's layers). */
struct stmt {
    const char *name;
    struct loc loc;
    arg_vec args;
    bool has_body;
    stmt_vec body;
};

enum decl_kind { DECL_MODEL, DECL_DATA, DECL_LATENT, DECL_NETWORK, DECL_OBJECTIVE, DECL_OPTIMIZE, DECL_TRAIN,
                 DECL_AUGMENT, DECL_COUNT };

struct decl {
    enum decl_kind kind;
    struct loc loc;       /* the keyword */
    const char *name;     /* model/data source/latent/network name, optimized network */
    struct loc name_loc;
    const char *domain;   /* data: the domain's name in `data A fashion_mnist`, or NULL */
    struct loc domain_loc;
    const char *kind_name;/* latent distribution, optimizer */
    struct loc kind_loc;
    arg_vec args;         /* latent distribution args, objective networks */
    struct shape in, out; /* network */
    struct loc in_loc, out_loc;
    stmt_vec body;
};

typedef VEC(struct decl) decl_vec;

struct ast {
    decl_vec decls;
};

/* Bounds on sizes, so that no size computation can overflow and the
 * emitted C can index every tensor with an int.  A dimension written in a
 * spec is at most GENC_MAX_DIM; any tensor, batch included, holds at most
 * GENC_MAX_VALUES values. */
#define GENC_MAX_DIM 100000000
#define GENC_MAX_VALUES 2147483647L
/* genc --mpi emits a train step for each R up to this many ranks that
 * divides the batch (more ranks: --per-rank-batch) */
#define GENC_MPI_MAX_RANKS 64

const char *shape_str(struct shape s);
/* The number of values; saturates at LONG_MAX (never overflows). */
long shape_size(struct shape s);
bool shape_eq(struct shape a, struct shape b);
void ast_dump(FILE *f, const struct ast *ast);

/* ---- parse: lexer.l + parser.y ------------------------------------------ */

bool parse_source(const struct source *src, struct ast *out);
void dump_tokens(FILE *f, const struct source *src);

/* ---- sema.c: names and shapes ------------------------------------------- */

enum layer_kind {
#define LAYER(kind, name, label) L_##kind,
#include "layers.def"
#undef LAYER
};
enum {
    L_COUNT = 0
#define LAYER(kind, name, label) + 1
#include "layers.def"
#undef LAYER
};

struct layer {
    enum layer_kind kind;
    struct loc loc;
    int index;          /* 1-based position in the network */
    int units;          /* dense; conv and deconv: output channels */
    bool bias;          /* dense, conv, deconv */
    bool sn;            /* dense, conv, deconv: `spectral_norm`, the weight over its largest singular value */
    int k, stride, pad, out_pad; /* conv, deconv */
    int factor;         /* upsample, avgpool */
    double alpha;       /* leaky_relu, elu */
    double momentum, eps; /* batchnorm, layernorm */
    double p;           /* dropout */
    int embed;          /* cond: 0 for one-hot, else the embedding width */
    int cond_width;     /* cond: features or channels added (classes or embed) */
    int depth;          /* residual blocks this layer is in */
    struct shape in, out;
    long n_params, macs;
};

/* Layers a network may have, residual blocks' markers included. */
#define MAX_LAYERS 256

struct network {
    const char *name;
    struct loc loc;
    struct shape in, out;
    VEC(struct layer) layers;
    bool complete;      /* every layer checked: the last one is really the last */
    int opt;            /* index into model.opts, -1 until an optimize names it,
                         * OPT_FAILED when that optimize is in error */
};

enum data_kind { DATA_FASHION_MNIST, DATA_RING8, DATA_IMAGES, N_DATA_KINDS };
enum latent_kind { LATENT_NORMAL, LATENT_UNIFORM };
enum opt_kind { OPT_SGD, OPT_ADAM, OPT_RMSPROP };

/* A parameter's optimizer state tensors (ptensor.opt_state), by optimizer:
 * Adam's moments; RMSprop's square average, its gradient average
 * (centered) and momentum buffer; SGD's momentum buffer. */
enum opt_state {
    OPT_ADAM_M = 0, OPT_ADAM_V = 1,
    OPT_RMS_SQUARE_AVG = 0, OPT_RMS_GRAD_AVG = 1, OPT_RMS_MOMENTUM = 2,
    OPT_SGD_MOMENTUM = 0,
    N_OPT_STATE = 3
};

#define OPT_FAILED (-2)

struct optim {
    enum opt_kind kind;
    int net;
    struct loc loc;
    double lr, beta1, beta2, eps, weight_decay, momentum, alpha;
    bool nesterov, centered;
    double ema;        /* `ema D`: decay of the weights' moving average, 0 for none */
    struct loc ema_loc;
};

/* A data source: the model's, or one CycleGAN domain. */
struct dataset {
    enum data_kind kind;
    const char *domain;   /* "A", or NULL when the source is not named */
    const char *path;
    bool train;
    int select;           /* only examples of this class; -1 for all */
    long limit;           /* `limit N`: only the first N examples (after select); 0 for all */
    double lo, hi;
    struct shape shape;   /* one example */
    struct loc loc;
    bool ok;              /* declared without error: its shape can be checked against */
};

struct model {
    const char *path;
    const char *name;
    struct dataset data;      /* the data; CycleGAN's domain A */
    struct dataset data_b;    /* CycleGAN's domain B */
    int n_domains;            /* data declarations: 1, or 2 for CycleGAN */
    struct {
        const char *name;
        enum latent_kind kind;
        int dim;
        struct loc loc;
        bool ok;              /* declared, with a valid dimension */
    } latent;
    VEC(struct network) nets;
    /* Tagged by its definition (one row of objectives/objectives.def); its
     * settings are the objective module's own struct, private to it. */
    struct {
        const struct objective_def *def;
        struct loc loc;       /* the objective's name in `objective gan(...)` */
        void *settings;
    } objective;
    int n_classes;            /* labels of the data; 0 when it has none */
    bool conditional;         /* some network has a cond layer */
    VEC(struct optim) opts;
    struct {
        int batch;
        long steps, sample_every, checkpoint_every;
        uint64_t seed;
        long score_every;            /* `score_every K`: 0 for none */
        bool sync_batchnorm;         /* `sync_batchnorm`: --mpi steps normalize over the global batch */
        const char *classifier;      /* `classifier "PATH"`: its checkpoint, or NULL */
        struct loc score_loc, classifier_loc;
    } train;
    /* `augment { translation R; cutout R; color }`: DiffAugment of every
     * batch a GAN's discriminator sees; a ratio of 0 for none */
    struct {
        bool on, color;
        double translation, cutout;
        struct loc loc;
    } augment;
};

bool sema(const struct ast *ast, const struct source *src, struct model *m);

/* ---- settings.c: the checks sema and the objectives share ---------------- */

extern const char *const data_kinds[N_DATA_KINDS]; /* the DSL's words */
/* An unknown name, with the closest candidate or the list of them. */
void unknown(struct loc at, const char *what, const char *name, const char *const *cands, int n);
/* s has lo to hi arguments, else an error */
bool want_args(const struct stmt *s, int lo, int hi);
bool arg_num(const struct arg *a, const char *what, double *out);
bool arg_int(const struct arg *a, const char *what, long lo, long hi, long *out);
bool arg_range(const struct arg *a, const char *what, double lo, double hi, bool hi_open, double *out);
bool arg_ident(const struct arg *a, const char *what, const char **out);
/* Look up each statement's key in `keys`; report unknown and repeated
 * ones.  found[k] is the statement for keys[k], or NULL. */
void settings(const stmt_vec *body, const char *block, const char *const *keys, int n_keys,
              const struct stmt **found);
int find_network(const struct model *m, const char *name);
const char **net_names(const struct model *m);
/* the network an argument names, or -1 after an error */
int resolve_network(const struct model *m, const struct arg *a);
/* an error unless the network has an optimizer */
void require_optimizer(const struct model *m, int net);

/* layers.c: the DSL's word for a kind (NULL for L_ADD), and a layer's
 * label with the arguments that set it apart: "dense 256 nobias",
 * "cond embed 16" */
const char *layer_name(enum layer_kind k);
const char *layer_label(const struct layer *l);
int find_network(const struct model *m, const char *name);

/* ---- ops.c + ir.c: the IR ---------------------------------------------- */

enum op {
#define OP(name, str, min_in, max_in, sched, reduce, operands, writes, flags, vjp, eval) OP_##name,
#include "ops.def"
#undef OP
    OP_COUNT
};

/* The most inputs any op takes, from ops.def: a node's input array fits
 * every row by construction. */
union op_max_in_ {
#define OP(name, str, min_in, max_in, sched, reduce, operands, writes, flags, vjp, eval) char name[max_in + 1];
#include "ops.def"
#undef OP
};
#define OP_MAX_IN ((int)sizeof(union op_max_in_) - 1)

/* How an op is scheduled (ops.def). */
enum op_sched {
    S_SOURCE,   /* no computation: inputs, parameters */
    S_ELEM,     /* one value per element: fuses into one loop with its neighbours */
    S_REDUCE,   /* a sum over an elementwise loop: may absorb its producers */
    S_VIEW,     /* same storage, new shape */
    S_KERNEL,   /* its own statement (GEMM, ...) */
    S_EFFECT,   /* changes state or the caller's buffers; never removed */
};

/* What a reduction sums (ops.def). */
enum reduce_kind {
    RED_NONE,
    RED_ALL,     /* every element, to a scalar */
    RED_CHANNEL, /* every axis but the last: x[..., C] -> [C] */
    RED_ROW,     /* each example: x[N, ...] -> [N] */
};

/* How an elementwise op's operand is indexed in its loop (ops.def). */
enum bcast_kind {
    BC_NONE,     /* not an elementwise operand */
    BC_SAME,     /* the loop's shape */
    BC_SCALAR,   /* the loop's shape, or a scalar spread over it */
    BC_CHANNEL,  /* [C], along the last axis */
    BC_ROW,      /* [N], one per example */
};

enum op_flags {
    F_RANDOM = 1, /* reads the step's hash (dropout, noise): never a constant */
    F_EFFECT = 2, /* has effects: live in DCE, an ordering point */
};

/* Persistent tensors: parameters and optimizer state, in the model's state array. */
struct ptensor {
    const char *name;  /* "G.l1.weight" */
    const char *cname; /* "G_l1_weight" */
    int role;          /* enum genrt_role */
    int net;
    int init;          /* enum genrt_init */
    int fan_in;
    struct shape shape;
    long offset;
    int opt_state[N_OPT_STATE]; /* a parameter's optimizer state tensors (enum opt_state), -1 for none */
    int ema;           /* a parameter's moving average (GENRT_EMA), -1 for none */
    int source;        /* a GENRT_EMA tensor: the parameter it averages; -1 otherwise */
};

/* Each op's attributes, in union op_attr: the member named after the op
 * (n->a.matmul.ta), or shared by an adjoint pair (n->a.geom, n->a.pool). */
struct geom_attr { int k, stride, pad, ho, wo; }; /* im2col, col2im: the conv window and its output size */
/* adam: hyper-parameters; the optimizer runs `runs` times per training step
 * and this is run `run` (from 0), so its step count is (t - 1) * runs + run + 1 */
struct adam_attr { double lr, beta1, beta2, eps, weight_decay; int runs, run; };
struct sgd_attr { double lr, momentum, weight_decay; bool nesterov; };
/* rmsprop: grad_avg and buf are operand indices (centered; momentum > 0), -1 for none */
struct rmsprop_attr { double lr, alpha, eps, weight_decay, momentum; int grad_avg, buf; };

union op_attr {
    struct { int slot; } input;                   /* enum genrt_slot */
    struct { int tensor; } param;                 /* index into lowered.tensors (samplers: a constant) */
    struct { double value; } fill;
    struct { bool ta, tb; } matmul;               /* C = op(A) op(B), op a transpose when set */
    struct geom_attr geom;                        /* im2col, col2im */
    struct { int factor; } pool;                  /* upsample, sumpool */
    struct { int off; } slice;                    /* the first channel kept */
    struct { int before; } pad;                   /* zero channels before the input's */
    struct { int salt; } uniform, normal;         /* which draws of the step's hash */
    struct { double p; int salt; } dropout;
    struct { int sh, sw, salt, sign; } translate; /* by up to sh rows, sw columns; sign -1: the adjoint */
    struct { int sh, sw, salt; } cutout;          /* zero an sh x sw square per example */
    struct { double c; } scale, addc;             /* c x; x + c */
    struct { double alpha; } leaky_relu, lrelu_grad;
    struct { double alpha; } elu, elu_grad;       /* alpha > 0 */
    struct { long offset; } rows;                 /* scalars into what it views */
    struct adam_attr adam;
    struct sgd_attr sgd;
    struct rmsprop_attr rmsprop;
    struct { double c; } clip;                    /* to [-c, c] */
    struct { double decay; } ema;                 /* avg = decay avg + (1 - decay) param */
    struct { bool rows_first; } sn_power;         /* which vector the power iteration updates first */
    struct { double momentum, unbias; } bn_stats; /* unbias: R / (R - 1) for R values per channel */
    struct { int slot, stride; } output;          /* out[slot], or out[i * stride + slot] per element */
    struct { long offset; } store_grad;           /* into g at the parameter's state offset */
};

/* The convolution passes pass_conv finds (compiler/passes/conv.c), as
 * runtime/genrt_dnnl.h numbers them, plus one. */
enum conv_pass { CONV_NONE, CONV_FWD, CONV_BWD_DATA, CONV_BWD_W };

struct node {
    enum op op;
    int in[OP_MAX_IN];
    int n_in;
    struct shape shape;  /* includes the batch dimension where there is one */
    union op_attr a;
    struct loc loc;      /* spec location it came from */
    const char *what;    /* short description for comments: "G dense 256" */
    int per_rank;        /* a random op of a --mpi step: the step's batch, of which each rank's rows
                          * are its share of the global batch (0: not such a step) */
    /* filled by passes */
    bool dead;
    int n_users;
    int fused_into;      /* -1, or the node whose loop computes this one */
    int conv;            /* pass_conv: the convolution pass this node is (enum conv_pass), which
                          * the emitter may hand to oneDNN; CONV_NONE: none */
    bool conv_guest;     /* pass_conv: computed only when that convolution is not handed over
                          * (its im2col, or the GEMM before its col2im) */
    int buf;             /* memory plan: buffer id, -1 for none */
};

struct ir {
    VEC(struct node) nodes;
    /* New nodes take their location and description from here: lowering
     * sets them per layer, autodiff per node it differentiates. */
    struct loc cur_loc;
    const char *cur_what;
};

/* One emitted function: a graph built for one purpose, planned on its own. */
enum prog_kind {
    PROG_TRAIN, PROG_GENERATE, PROG_GC_LOSS, PROG_GC_GRAD, PROG_SAMPLE, PROG_ELBO, PROG_RECONSTRUCT,
    PROG_TRANSLATE, /* CycleGAN: one generator, then the other back */
    PROG_CLASSIFY,  /* classifier: the features (result) and the logits (result2) */
};

struct buffer {
    long size;      /* scalars */
    int first, last;/* live range, in node indices */
    long offset;    /* in the arena, scalars */
};

struct program {
    const char *name;
    enum prog_kind kind;
    int term;       /* gradient-check term */
    int batch;
    int ranks;      /* a --mpi train step: R ranks share the global batch, each computes batch = B / R
                     * of it; -1: any number of ranks, each with a whole batch; 0: not a --mpi step */
    int result;     /* PROG_GENERATE, _RECONSTRUCT, _TRANSLATE, _SAMPLE: the node whose value is returned */
    int result2;    /* PROG_TRANSLATE: the translation back; PROG_CLASSIFY: the logits */
    struct ir ir;
    VEC(struct buffer) bufs;
    long arena;     /* scalars this program needs */
    long peak_live; /* most scalars simultaneously live */
    long arena_main; /* the arena but its end, the buffers of convolution guests (passes/conv.c) */
};

/* The reference evaluator's operands: in double, one array per input (in
 * the input's shape) and the node's own value; effects update the inputs
 * their row writes, OUTPUT the metrics and STORE_GRAD the gradients. */
struct ref_io {
    double *in[OP_MAX_IN];
    double *out;
    long step;        /* the training step t: the random ops' hash */
    double *metrics;  /* OUTPUT */
    double *grads;    /* STORE_GRAD */
};

typedef void (*vjp_fn)(struct ir *g, int node, int dy, const bool *need, int *dx);
/* ELEM ops: element i's value from its operands' (a[k], indexed by the row's
 * operand kinds) and the step */
typedef double (*ref_elem_fn)(const struct node *n, const double *a, long i, long step);
typedef void (*ref_fn)(const struct ir *g, const struct node *n, const struct ref_io *io);

struct op_info {
    const char *name;
    int min_in, max_in;
    enum op_sched sched;
    enum reduce_kind reduce;
    enum bcast_kind operand[OP_MAX_IN];
    unsigned writes;     /* bit i: input i is updated in place */
    unsigned flags;      /* enum op_flags */
    vjp_fn vjp;          /* NULL: not differentiable */
    ref_elem_fn ref_elem; /* the reference: ELEM ops, one element */
    ref_fn ref;           /* the reference: the others, the whole op */
};
extern const struct op_info op_table[];

int ir_add(struct ir *g, enum op op, const int *in, int n_in, struct shape shape);
struct node *ir_node(struct ir *g, int id);
/* Node builders: each infers and asserts its shape rule. */
int ir_input(struct ir *g, int slot, struct shape s);
int ir_param(struct ir *g, int tensor, struct shape s);
int ir_fill(struct ir *g, double v, struct shape s);
int ir_matmul(struct ir *g, int a, int b, bool ta, bool tb);
int ir_add_bias(struct ir *g, int x, int b);
int ir_sum_channel(struct ir *g, int x);
int ir_binary(struct ir *g, enum op op, int a, int b);
int ir_unary(struct ir *g, enum op op, int x);
int ir_scale(struct ir *g, int x, double c);
int ir_addc(struct ir *g, int x, double c);
int ir_leaky_relu(struct ir *g, int x, double alpha);
int ir_leaky_relu_grad(struct ir *g, int y, int dy, double alpha);
int ir_elu(struct ir *g, int x, double alpha);
int ir_elu_grad(struct ir *g, int y, int dy, double alpha);
int ir_sum_all(struct ir *g, int x);
int ir_mean_all(struct ir *g, int x);
int ir_broadcast(struct ir *g, int s, struct shape shape);
int ir_reshape(struct ir *g, int x, struct shape shape);
/* channels-last geometry: x is [N, H, W, C] */
int ir_im2col(struct ir *g, int x, struct geom_attr geom);
int ir_col2im(struct ir *g, int cols, struct shape img, struct geom_attr geom);
int ir_mul_channel(struct ir *g, int x, int s);
int ir_upsample(struct ir *g, int x, int f);
int ir_sumpool(struct ir *g, int x, int f);
int ir_concat(struct ir *g, int a, int b);
int ir_slice(struct ir *g, int x, int off, int len);
int ir_pad(struct ir *g, int x, int before, int after);
int ir_dropout(struct ir *g, int x, double p, int salt);
int ir_uniform(struct ir *g, struct shape s, int salt);
int ir_normal(struct ir *g, struct shape s, int salt);
/* ADD_ROW or MUL_ROW: r[N] broadcast over each example of x[N, ...] */
int ir_row_op(struct ir *g, enum op op, int x, int r);
int ir_sum_row(struct ir *g, int x);
int ir_onehot(struct ir *g, int y, int k);
int ir_embed(struct ir *g, int y, int table);
/* embed's adjoint: dy[N, D] added into the rows [K, D] the labels pick */
int ir_embed_grad(struct ir *g, int y, int dy, int k);
int ir_bcast_hw(struct ir *g, int v, int h, int w);
int ir_sum_hw(struct ir *g, int x);
/* per example (row) of x[N, ...]: log sum exp of its values, stable, and
 * the index of its largest value (the first, on a tie), both [N] */
int ir_logsumexp(struct ir *g, int x);
int ir_argmax(struct ir *g, int x);
/* a view of examples [off, off + len) of x */
int ir_rows(struct ir *g, int x, int off, int len);
/* effects */
int ir_adam(struct ir *g, int p, int grad, int m, int v, struct adam_attr a);
/* buf: the momentum buffer, -1 for none */
int ir_sgd(struct ir *g, int p, int grad, int buf, struct sgd_attr a);
/* grad_avg (centered), buf (momentum): -1 for none */
int ir_rmsprop(struct ir *g, int p, int grad, int square_avg, int grad_avg, int buf, struct rmsprop_attr a);
int ir_clip(struct ir *g, int p, double c);
int ir_rank_mean(struct ir *g, int x);
int ir_allreduce(struct ir *g, int grad);
int ir_ema(struct ir *g, int p, int avg, double decay);
int ir_sn_power(struct ir *g, int w, int r, int c, bool rows_first);
int ir_translate(struct ir *g, int x, int sh, int sw, int salt, int sign);
int ir_cutout(struct ir *g, int x, int sh, int sw, int salt);
int ir_bn_stats(struct ir *g, int mean, int var, int rmean, int rvar, double momentum, double unbias);
/* out[slot] = x, or out[i * stride + slot] = x[i] for a vector */
int ir_output(struct ir *g, int x, int slot, int stride);
int ir_store_grad(struct ir *g, int x, long offset);
void ir_dump(FILE *f, const struct program *p, const struct ptensor *pt);

/* VJP: given the node's output gradient dy, append the nodes computing the
 * gradient of each input i with need[i] set, and store their ids in dx[i]
 * (-1 where there is none). */
void op_vjp(struct ir *g, int node, int dy, const bool *need, int *dx);
/* Node id's value by its op's reference, in double. */
void op_ref(const struct ir *g, int id, const struct ref_io *io);
/* The storage node id reads: views resolve to what they view. */
int ir_storage(const struct ir *g, int id);

/* ---- autodiff.c --------------------------------------------------------- */

/* Append the gradient of scalar `loss` with respect to each of wrt[0..n)
 * to g; grads[k] is the node id (or -1 when loss does not depend on it). */
void autodiff(struct ir *g, int loss, const int *wrt, int n, int *grads);

/* ---- lower.c: from a model to programs --------------------------------- */

struct lowered {
    VEC(struct ptensor) tensors;
    long n_state;
    VEC(struct program) progs;
    VEC(const char *) metrics;    /* metrics.csv's columns: out[i] of the train step */
    VEC(int) metric_slot;         /* per metric id of the objective: its column, -1 when not reported */
    VEC(const char *) terms;      /* gradient-check terms: "loss_D", ... */
    VEC(unsigned) term_nets;      /* net mask per term */
    int gc_batch;
    int real_batches;             /* real batches one training step takes (the critic's steps) */
    int latent_batches;           /* latent batches it draws: 0 when the noise is in the IR or there is none */
    int n_samplers;               /* programs a sampler runs: lower_sampler(m, lo, 0 .. n_samplers - 1) */
    int n_classes;                /* the descriptor's classes: a conditional model's labels, or a classifier's */
    int n_features;               /* a classifier: the features classify() gives per example */
    int genrt_objective;          /* the descriptor's .objective, enum genrt_objective_kind */
    const char *objective_title;  /* the descriptor's .objective_name: "GAN", "VAE", ... */
    void *objective;              /* the objective's own lowering state (its tensors) */
    struct layer_tensors **layer_tensors; /* lower.c: per network and layer, its tensors */
    uint64_t shape_hash;
};

void lower_model(const struct model *m, struct lowered *out);
/* ranks: bit R - 1 for a step of R ranks sharing the batch (those that divide it) */
void lower_mpi_steps(const struct model *m, struct lowered *lo, uint64_t ranks);
/* Sampler program k: the objective's network(s) in eval mode at batch 1
 * (a GAN's generator, a VAE's decoder, a CycleGAN's G for k = 0 and F
 * for k = 1), its input an INPUT node whose slot says what it takes. */
struct program *lower_sampler(const struct model *m, struct lowered *lo, int k);

/* ---- objectives/: each objective behind one interface ------------------ */

struct builder; /* lower.h */
struct wiring;  /* dot.c's section */

/* Everything genc asks an objective, in one table row (objectives.def):
 * the checks, its state, the programs it needs, its metrics and terms. */
struct objective_def {
    const char *name;  /* the DSL's word: objective gan(G, D) */
    int genrt_kind;    /* enum genrt_objective_kind, for the runtime */
    const char *title; /* how the runtime names it to users: "GAN" */
    int domains;       /* data declarations it takes: 1, or 2 (CycleGAN counts its own) */
    bool latent;       /* it draws a latent, so the spec declares one */
    /* `objective NAME(networks) { settings }`: sets m->objective.settings */
    void (*check)(const struct decl *d, struct model *m);
    /* after every declaration: the networks chain with the data and the
     * latent, and every trained network has an optimizer */
    void (*check_model)(struct model *m);
    /* its persistent tensors beyond the networks' (NULL: none), laid out
     * after theirs; may set lo->objective */
    void (*layout)(const struct model *m, struct lowered *lo);
    /* its metrics and gradient-check terms, batches per step, samplers */
    void (*declare)(const struct model *m, struct lowered *lo);
    /* the training step, in the builder's current program */
    void (*train)(struct builder *b);
    /* the other programs the runtime calls: generate, elbo, reconstruct, translate */
    void (*programs)(struct builder *b);
    /* gradient-check term k's loss, in the builder's current program */
    int (*term_loss)(struct builder *b, int k);
    /* sampler program k: its input and result */
    void (*sampler)(struct builder *b, int k);
    /* --dot: the edges its programs draw between the networks, the data,
     * the latent and its loss (dot.c adds the labels' edges to cond layers) */
    void (*wiring)(const struct model *m, struct wiring *w);
};

/* The objective named `name`, or NULL; and the names of them all. */
const struct objective_def *objective_find(const char *name);
const char *const *objective_names(int *n);

/* ---- driver.c: one compile, for main.c and the fuzzer -------------------- */

/* A trainer keeps its state, arena and input batches in static arrays, in
 * float and again in double (for gradcheck): 12 bytes per value.  C's
 * default code model links at most 2 GiB of static data and code, so genc
 * refuses models that need more than this. */
#define GENC_MAX_STATIC_BYTES ((size_t)3 << 29) /* 1.5 GiB */

/* Names and shapes, lowering, passes, then the size bounds above; false
 * after diagnostics.  Callers reset with genc_free_all() and diag_init(). */
/* mpi_ranks: 0, or genc --mpi's rank counts (lower_mpi_steps) */
bool genc_build(const struct ast *ast, const struct source *src, struct model *m, struct lowered *lo,
                uint64_t mpi_ranks);

/* ---- passes ------------------------------------------------------------- */

/* The node whose loop computes n: n itself unless fused into another. */
int fuse_root(const struct program *p, int n);
void pass_dce(struct program *p);
void pass_fuse(struct program *p);
void pass_conv(struct program *p);
/* a convolution node's guest (its im2col or GEMM), or -1 */
int conv_guest_of(const struct program *p, int v);
extern bool fuse_disabled; /* --no-fuse: every node its own loop, for testing fusion */
void pass_plan(struct program *p);
void run_passes(struct lowered *lo);

/* ---- summary.c: --summary ------------------------------------------------ */

void print_summary(FILE *f, const struct model *m, const struct lowered *lo);

/* ---- dot.c: --dot --------------------------------------------------------- */

/* An end of an edge between the blocks of a --dot drawing. */
enum wire_kind {
    WIRE_NET,    /* network `index` (its input as a head, its output as a tail) */
    WIRE_DATA,   /* data domain `index`: 0 the data or domain A, 1 domain B */
    WIRE_LATENT, /* the latent */
    WIRE_LOSS,   /* the objective's loss */
};
struct wire_end {
    enum wire_kind kind;
    int index;
};
#define AT_NET(i) ((struct wire_end){WIRE_NET, (i)})
#define AT_DATA(i) ((struct wire_end){WIRE_DATA, (i)})
#define AT_LATENT ((struct wire_end){WIRE_LATENT, 0})
#define AT_LOSS ((struct wire_end){WIRE_LOSS, 0})

enum wire_style {
    WIRE_FLOW,  /* the forward pass */
    WIRE_TERM,  /* into the loss */
    WIRE_CYCLE, /* a reconstruction or translation back (drawn dashed, not ranked) */
};

struct wire {
    struct wire_end from, to;
    const char *label;
    enum wire_style style;
};

struct wiring {
    VEC(struct wire) wires;
    const char *loss; /* the loss node's label: "GAN loss (nonsaturating)" */
};

void wire_add(struct wiring *w, struct wire_end from, struct wire_end to, const char *label, enum wire_style style);
/* Graphviz DOT of the model: a cluster per network, a node per layer
 * (label, output shape, parameters), the data, latent and loss, and the
 * objective's wiring. */
void print_dot(FILE *f, const struct model *m);

#endif
