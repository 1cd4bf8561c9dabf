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

enum decl_kind { DECL_MODEL, DECL_DATA, DECL_LATENT, DECL_NETWORK, DECL_OBJECTIVE, DECL_OPTIMIZE, DECL_TRAIN };

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
    L_DENSE, L_RELU, L_LEAKY_RELU, L_TANH, L_SIGMOID, L_RESHAPE, L_FLATTEN,
    L_CONV, L_DECONV, L_BATCHNORM, L_DROPOUT, L_UPSAMPLE, L_AVGPOOL, L_LAYERNORM, L_COND,
    L_INSTANCENORM,
    L_RESIDUAL,   /* opens a residual block: the layers up to its L_ADD ... */
    L_ADD,        /* ... whose output is added to the block's input */
};

struct layer {
    enum layer_kind kind;
    struct loc loc;
    int index;          /* 1-based position in the network */
    int units;          /* dense; conv and deconv: output channels */
    bool bias;          /* dense, conv, deconv */
    int k, stride, pad, out_pad; /* conv, deconv */
    int factor;         /* upsample, avgpool */
    double alpha;       /* leaky_relu */
    double momentum, eps; /* batchnorm, layernorm */
    double p;           /* dropout */
    int embed;          /* cond: 0 for one-hot, else the embedding width */
    int cond_width;     /* cond: features or channels added (classes or embed) */
    int depth;          /* residual blocks this layer is in */
    struct shape in, out;
    long n_params, macs;
};

struct network {
    const char *name;
    struct loc loc;
    struct shape in, out;
    VEC(struct layer) layers;
    int opt;            /* index into model.opts, -1 until an optimize names it */
};

enum data_kind { DATA_FASHION_MNIST, DATA_RING8, DATA_IMAGES };
enum latent_kind { LATENT_NORMAL, LATENT_UNIFORM };
enum objective_kind { OBJ_GAN, OBJ_VAE, OBJ_CYCLEGAN };
enum likelihood { LIK_BERNOULLI, LIK_GAUSSIAN };
enum gan_form { FORM_MINIMAX, FORM_NONSATURATING, FORM_LSGAN, FORM_HINGE, FORM_WGAN, FORM_WGAN_GP };
enum opt_kind { OPT_SGD, OPT_ADAM, OPT_RMSPROP };

struct optim {
    enum opt_kind kind;
    int net;
    struct loc loc;
    double lr, beta1, beta2, eps, weight_decay, momentum, alpha;
    bool nesterov, centered;
};

/* A data source: the model's, or one CycleGAN domain. */
struct dataset {
    enum data_kind kind;
    const char *domain;   /* "A", or NULL when the source is not named */
    const char *path;
    bool train;
    int select;           /* only examples of this class; -1 for all */
    double lo, hi;
    struct shape shape;   /* one example */
    struct loc loc;
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
    } latent;
    VEC(struct network) nets;
    struct {
        enum objective_kind kind;
        enum gan_form form;
        int gen, disc;        /* network indices */
        struct loc loc;
        double clip;          /* wgan: weight clipping, 0 for none */
        int critic_steps;     /* critic updates per generator update */
        double lambda;        /* wgan_gp: the penalty's weight */
        int enc, dec;         /* vae: network indices */
        enum likelihood likelihood;
        double sigma2;        /* vae, gaussian: the fixed variance; 0 when learned */
        int g_ab, g_ba, d_a, d_b; /* cyclegan: G: A -> B, F: B -> A, D_A, D_B */
        double cycle, identity;   /* cyclegan: the L1 terms' weights */
    } objective;
    int n_classes;            /* labels of the data; 0 when it has none */
    bool conditional;         /* some network has a cond layer */
    VEC(struct optim) opts;
    struct {
        int batch;
        long steps, sample_every, checkpoint_every;
        uint64_t seed;
    } train;
};

bool sema(const struct ast *ast, const struct source *src, struct model *m);
int find_network(const struct model *m, const char *name);

/* ---- ir.c + ops.c: the IR ----------------------------------------------- */

enum op {
#define OP(name, str, arity, kind, elem, stmt, vjp) OP_##name,
#include "ops.def"
#undef OP
    OP_COUNT
};

/* How an op is emitted and scheduled. */
enum op_kind {
    K_SOURCE,   /* no computation: inputs, parameters, constants */
    K_ELEM,     /* elementwise: may fuse into one loop with its neighbours */
    K_REDUCE,   /* reduction: may absorb an elementwise producer */
    K_VIEW,     /* same storage, new shape */
    K_KERNEL,   /* its own statement (GEMM, ...) */
    K_EFFECT,   /* side effect: parameter updates, outputs; never removed */
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
};

struct node {
    enum op op;
    int in[5];           /* rmsprop, centered with momentum, takes 5 */
    int n_in;
    struct shape shape;  /* includes the batch dimension where there is one */
    double f[5];         /* float attributes: alpha, scale, hyper-parameters */
    int i[8];            /* int attributes: transposes, slots, tensor ids, geometry */
    struct loc loc;      /* spec location it came from */
    const char *what;    /* short description for comments: "G dense 256" */
    /* filled by passes */
    bool dead;
    int n_users;
    int fused_into;      /* -1, or the node whose loop computes this one */
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
    int result;     /* PROG_GENERATE, _RECONSTRUCT, _TRANSLATE, _SAMPLE: the node whose value is returned */
    int result2;    /* PROG_TRANSLATE: the translation back */
    struct ir ir;
    VEC(struct buffer) bufs;
    long arena;     /* scalars this program needs */
    long peak_live; /* most scalars simultaneously live */
};

struct emit;
typedef const char *(*elem_fn)(const struct node *n, const char *const *a);
typedef void (*stmt_fn)(struct emit *e, const struct program *p, int id);
typedef void (*vjp_fn)(struct ir *g, int node, int dy, const bool *need, int *dx);

struct op_info {
    const char *name;
    int arity;
    enum op_kind kind;
    elem_fn elem;   /* K_ELEM: the scalar expression, given its operands' */
    stmt_fn stmt;   /* K_KERNEL, K_EFFECT: print the statement */
    vjp_fn vjp;     /* NULL: not differentiable */
};
extern const struct op_info op_table[OP_COUNT];

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
int ir_sum_all(struct ir *g, int x);
int ir_mean_all(struct ir *g, int x);
int ir_broadcast(struct ir *g, int s, struct shape shape);
int ir_reshape(struct ir *g, int x, struct shape shape);
/* channels-last geometry: x is [N, H, W, C] */
int ir_im2col(struct ir *g, int x, int k, int s, int p, int ho, int wo);
int ir_col2im(struct ir *g, int cols, int n, int h, int w, int c, int k, int s, int p, int ho, int wo);
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
int ir_bcast_hw(struct ir *g, int v, int h, int w);
int ir_sum_hw(struct ir *g, int x);
/* a view of examples [off, off + len) of x */
int ir_rows(struct ir *g, int x, int off, int len);
int ir_effect(struct ir *g, enum op op, const int *in, int n_in);
void ir_dump(FILE *f, const struct program *p, const struct ptensor *pt);

/* VJP: given the node's output gradient dy, append the nodes computing the
 * gradient of each input i with need[i] set, and store their ids in dx[i]
 * (-1 where there is none). */
void op_vjp(struct ir *g, int node, int dy, const bool *need, int *dx);

/* ---- autodiff.c --------------------------------------------------------- */

/* Append the gradient of scalar `loss` with respect to each of wrt[0..n)
 * to g; grads[k] is the node id (or -1 when loss does not depend on it). */
void autodiff(struct ir *g, int loss, const int *wrt, int n, int *grads);

/* ---- lower.c: the objective layer, from a model to programs ------------ */

struct lowered {
    VEC(struct ptensor) tensors;
    long n_state;
    VEC(struct program) progs;
    VEC(const char *) metrics;
    VEC(const char *) terms;      /* gradient-check terms: "loss_D", ... */
    long step_flops;              /* one training step's GEMM FLOPs, 2*M*N*K each */
    VEC(unsigned) term_nets;      /* net mask per term */
    int gc_batch;
    uint64_t shape_hash;
};

void lower_model(const struct model *m, struct lowered *out);
/* The generator's eval-mode forward pass at batch 1, for samplers; for a
 * CycleGAN, G's (dir 0) or F's (dir 1). */
struct program *lower_sampler(const struct model *m, struct lowered *lo, int dir);
/* latent batches one training step draws: one, or one per critic step and
 * one for the generator's */
int latent_batches(const struct model *m);

/* ---- driver.c: one compile, for main.c and the fuzzer -------------------- */

/* A trainer keeps its state, arena and input batches in static arrays, in
 * float and again in double (for gradcheck): 12 bytes per value.  C's
 * default code model links at most 2 GiB of static data and code, so genc
 * refuses models that need more than this. */
#define GENC_MAX_STATIC_BYTES ((size_t)3 << 29) /* 1.5 GiB */

/* Names and shapes, lowering, passes, then the size bounds above; false
 * after diagnostics.  Callers reset with genc_free_all() and diag_init(). */
bool genc_build(const struct ast *ast, const struct source *src, struct model *m, struct lowered *lo);

/* ---- passes ------------------------------------------------------------- */

/* The node whose loop computes n: n itself unless fused into another. */
int fuse_root(const struct program *p, int n);
void pass_dce(struct program *p);
void pass_fuse(struct program *p);
extern bool fuse_disabled; /* --no-fuse: every node its own loop, for testing fusion */
void pass_plan(struct program *p);
void run_passes(struct lowered *lo);

/* ---- emit_sampler.c ------------------------------------------------------ */

struct sampler_out {
    char *c, *h, *blob; /* blob: the weights, with --weights-file */
    size_t c_len, h_len, blob_len;
};

/* NAME.c and NAME.h: the generator in eval mode with the weights of state
 * (the checkpoint's, as floats) baked in, or, with weights_file, in a blob
 * the caller hands to NAME_init. */
bool emit_sampler(const struct model *m, struct lowered *lo, const float *state, long step, const char *ckpt,
                  const char *name, bool weights_file, struct sampler_out *out);

/* ---- emit_c.c ----------------------------------------------------------- */

/* The writer that op emitters print through.  Samplers make their own, with
 * constant arrays standing for the parameters. */
struct emit *emit_new(const char *path, const struct lowered *lo, const char *const *const_names);
char *emit_text(struct emit *e, size_t *len);
void emit_body(struct emit *e, const struct program *p);
void emit_line(struct emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_open(struct emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_close(struct emit *e, const char *tail);
/* C expression for the first element of node id's storage: "arena + 64". */
const char *emit_ref(struct emit *e, const struct program *p, int id);
/* A real constant, exact in double: "(real)0.20000000000000001". */
const char *emit_real(double v);

char *emit_c(const struct model *m, const struct lowered *lo, size_t *len);
/* Only the programs, with state and arena: for tests that build IR by hand. */
char *emit_c_programs(const struct lowered *lo, const char *path, size_t *len);
void print_summary(FILE *f, const struct model *m, const struct lowered *lo);

#endif
