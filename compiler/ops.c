/* ops.c: the IR's nodes and, per op, side by side: its builder (the shape
 * rule), its VJP and its double-precision reference.  The table itself is
 * expanded from ops.def at the end.  The C an op becomes is the emitter's
 * (emit/ops_c.c); nothing here knows C.
 *
 * VJPs build more IR from these same ops, so a backward graph can be
 * differentiated again (WGAN-GP's gradient penalty and R1 need this).
 * References evaluate an op in double, for constant folding and for the
 * tests that hold the emitted C to them. */
#include "genc.h"
#include "genrt_hash.h"

#include <math.h>
#include <string.h>

/* ---- nodes -------------------------------------------------------------- */

struct node *ir_node(struct ir *g, int id) {
    if (id < 0 || id >= g->nodes.len)
        unreachable();
    return &g->nodes.data[id];
}

int ir_add(struct ir *g, enum op op, const int *in, int n_in, struct shape shape) {
    const struct op_info *info = &op_table[op];
    if (n_in < info->min_in || n_in > info->max_in)
        unreachable();
    struct node n = {.op = op, .n_in = n_in, .shape = shape, .loc = g->cur_loc,
                     .what = g->cur_what, .fused_into = -1, .buf = -1};
    for (int i = 0; i < n_in; i++) {
        if (in[i] < 0 || in[i] >= g->nodes.len)
            unreachable();
        n.in[i] = in[i];
    }
    vec_push(&g->nodes, n);
    return g->nodes.len - 1;
}

int ir_storage(const struct ir *g, int id) {
    while (op_table[g->nodes.data[id].op].sched == S_VIEW)
        id = g->nodes.data[id].in[0];
    return id;
}

static struct shape shape1(int a) { return (struct shape){1, {a}}; }
static struct shape shape2(int a, int b) { return (struct shape){2, {a, b}}; }

static struct shape shape_of(struct ir *g, int id) { return ir_node(g, id)->shape; }

static bool is_scalar(struct shape s) { return shape_size(s) == 1; }

static int channels(struct shape s) { return s.d[s.n - 1]; }

/* the shape of node n's input i */
static struct shape in_shape(const struct ir *g, const struct node *n, int i) {
    return g->nodes.data[n->in[i]].shape;
}

/* ---- sources ------------------------------------------------------------ */

int ir_input(struct ir *g, int slot, struct shape s) {
    int id = ir_add(g, OP_INPUT, NULL, 0, s);
    ir_node(g, id)->a.input.slot = slot;
    return id;
}

int ir_param(struct ir *g, int tensor, struct shape s) {
    int id = ir_add(g, OP_PARAM, NULL, 0, s);
    ir_node(g, id)->a.param.tensor = tensor;
    return id;
}

/* inputs and parameters hold what the caller put there */
static void ref_source(const struct ir *g, const struct node *n, const struct ref_io *io) {
    (void)g, (void)n, (void)io;
}

int ir_fill(struct ir *g, double v, struct shape s) {
    int id = ir_add(g, OP_FILL, NULL, 0, s);
    ir_node(g, id)->a.fill.value = v;
    return id;
}

static double elem_fill(const struct node *n, const double *a, long i, long step) {
    (void)a, (void)i, (void)step;
    return n->a.fill.value;
}

/* ---- matmul: C = op(A) op(B), op = transpose when ta/tb ----------------- */

int ir_matmul(struct ir *g, int a, int b, bool ta, bool tb) {
    struct shape sa = shape_of(g, a), sb = shape_of(g, b);
    if (sa.n != 2 || sb.n != 2)
        unreachable();
    int m = ta ? sa.d[1] : sa.d[0], k = ta ? sa.d[0] : sa.d[1];
    int kb = tb ? sb.d[1] : sb.d[0], n = tb ? sb.d[0] : sb.d[1];
    if (k != kb)
        unreachable();
    int in[2] = {a, b};
    int id = ir_add(g, OP_MATMUL, in, 2, shape2(m, n));
    ir_node(g, id)->a.matmul.ta = ta;
    ir_node(g, id)->a.matmul.tb = tb;
    return id;
}

/* An im2col operand is cheap to rebuild and large to keep: the backward
 * makes its own copy, so the forward's dies right after its GEMM. */
static int remat(struct ir *g, int id) {
    struct node n = *ir_node(g, id);
    if (n.op != OP_IM2COL)
        return id;
    return ir_im2col(g, n.in[0], n.a.geom);
}

static void vjp_matmul(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    int a = n->in[0], b = n->in[1];
    bool ta = n->a.matmul.ta, tb = n->a.matmul.tb;
    if (need[1])
        a = remat(g, a);
    if (need[0])
        b = remat(g, b);
    if (need[0]) {
        if (!ta)
            dx[0] = tb ? ir_matmul(g, dy, b, false, false) : ir_matmul(g, dy, b, false, true);
        else
            dx[0] = tb ? ir_matmul(g, b, dy, true, true) : ir_matmul(g, b, dy, false, true);
    }
    if (need[1]) {
        if (!tb)
            dx[1] = ta ? ir_matmul(g, a, dy, false, false) : ir_matmul(g, a, dy, true, false);
        else
            dx[1] = ta ? ir_matmul(g, dy, a, true, true) : ir_matmul(g, dy, a, true, false);
    }
}

static void ref_matmul(const struct ir *g, const struct node *n, const struct ref_io *io) {
    struct shape sa = in_shape(g, n, 0), sb = in_shape(g, n, 1);
    bool ta = n->a.matmul.ta, tb = n->a.matmul.tb;
    int m = n->shape.d[0], nn = n->shape.d[1], k = ta ? sa.d[0] : sa.d[1];
    const double *a = io->in[0], *b = io->in[1];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < nn; j++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (ta ? a[(long)p * sa.d[1] + i] : a[(long)i * sa.d[1] + p]) *
                     (tb ? b[(long)j * sb.d[1] + p] : b[(long)p * sb.d[1] + j]);
            io->out[(long)i * nn + j] = s;
        }
}

/* ---- add_bias: x[..., C] + b[C], channels last -------------------------- */

int ir_add_bias(struct ir *g, int x, int b) {
    struct shape sx = shape_of(g, x), sb = shape_of(g, b);
    if (sx.n < 2 || sb.n != 1 || sb.d[0] != channels(sx))
        unreachable();
    int in[2] = {x, b};
    return ir_add(g, OP_ADD_BIAS, in, 2, sx);
}

static void vjp_add_bias(struct ir *g, int node, int dy, const bool *need, int *dx) {
    (void)node;
    if (need[0])
        dx[0] = dy;
    if (need[1])
        dx[1] = ir_sum_channel(g, dy);
}

/* add, add_bias and add_row: the operands' kinds say which b an element meets */
static double elem_add(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return a[0] + a[1];
}

static double elem_mul(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return a[0] * a[1];
}

/* ---- sum_channel: x[..., C] -> [C] ------------------------------------- */

int ir_sum_channel(struct ir *g, int x) {
    struct shape sx = shape_of(g, x);
    if (sx.n < 2)
        unreachable();
    return ir_add(g, OP_SUM_CHANNEL, &x, 1, shape1(channels(sx)));
}

static void vjp_sum_channel(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0]) {
        struct shape sx = shape_of(g, ir_node(g, node)->in[0]);
        dx[0] = ir_add_bias(g, ir_fill(g, 0, sx), dy);
    }
}

static void ref_sum_channel(const struct ir *g, const struct node *n, const struct ref_io *io) {
    struct shape sx = in_shape(g, n, 0);
    int c = channels(sx);
    for (int j = 0; j < c; j++)
        io->out[j] = 0;
    for (long i = 0; i < shape_size(sx); i++)
        io->out[i % c] += io->in[0][i];
}

/* ---- mul_channel: x[..., C] * s[C], as batchnorm scales -------------------- */

int ir_mul_channel(struct ir *g, int x, int sc) {
    struct shape sx = shape_of(g, x), ss = shape_of(g, sc);
    if (sx.n < 2 || ss.n != 1 || ss.d[0] != channels(sx))
        unreachable();
    int in[2] = {x, sc};
    return ir_add(g, OP_MUL_CHANNEL, in, 2, sx);
}

static void vjp_mul_channel(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    int x = n->in[0], sc = n->in[1];
    if (need[0])
        dx[0] = ir_mul_channel(g, dy, sc);
    if (need[1])
        dx[1] = ir_sum_channel(g, ir_binary(g, OP_MUL, dy, x));
}

/* ---- rsqrt: 1/sqrt(x), for batchnorm's 1/sqrt(var + eps) ------------------ */

static double elem_rsqrt(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return 1 / sqrt(a[0]);
}

/* d x^(-1/2) = -y^3 / 2, from the output */
static void vjp_rsqrt(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0]) {
        int y3 = ir_binary(g, OP_MUL, node, ir_unary(g, OP_SQUARE, node));
        dx[0] = ir_binary(g, OP_MUL, dy, ir_scale(g, y3, -0.5));
    }
}

/* ---- sqrt, for gradient norms ---------------------------------------------- */

static double elem_sqrt(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return sqrt(a[0]);
}

/* d sqrt(x) = 1 / (2 y), with 1/y as rsqrt(y^2), from the output */
static void vjp_sqrt(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_binary(g, OP_MUL, dy, ir_scale(g, ir_unary(g, OP_RSQRT, ir_unary(g, OP_SQUARE, node)), 0.5));
}

/* ---- uniform: U[0, 1) per element from a hash of (step, salt, element) -----
 * The reference draws through the runtime's own hash (runtime/genrt_hash.h). */

int ir_uniform(struct ir *g, struct shape s, int salt) {
    int id = ir_add(g, OP_UNIFORM, NULL, 0, s);
    ir_node(g, id)->a.uniform.salt = salt;
    return id;
}

static double elem_uniform(const struct node *n, const double *a, long i, long step) {
    (void)a;
    return hash_uniform(step, n->a.uniform.salt, i);
}

/* N(0, 1) per element, the same way (Box-Muller on two of the hash's
 * uniforms): the VAE's reparameterization noise */
int ir_normal(struct ir *g, struct shape s, int salt) {
    int id = ir_add(g, OP_NORMAL, NULL, 0, s);
    ir_node(g, id)->a.normal.salt = salt;
    return id;
}

static double elem_normal(const struct node *n, const double *a, long i, long step) {
    (void)a;
    return hash_normal(step, n->a.normal.salt, i);
}

static double elem_exp(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return exp(a[0]);
}

static void vjp_exp(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_binary(g, OP_MUL, dy, node);
}

/* ---- row broadcasts: r[N] over x[N, ...] ---------------------------------- */

static int rows_of(struct shape s) { return s.d[0]; }

int ir_row_op(struct ir *g, enum op op, int x, int r) {
    struct shape sx = shape_of(g, x), sr = shape_of(g, r);
    if (sr.n != 1 || sr.d[0] != rows_of(sx) || sx.n < 2)
        unreachable();
    int in[2] = {x, r};
    return ir_add(g, op, in, 2, sx);
}

int ir_sum_row(struct ir *g, int x) {
    struct shape sx = shape_of(g, x);
    if (sx.n < 2)
        unreachable();
    return ir_add(g, OP_SUM_ROW, &x, 1, shape1(rows_of(sx)));
}

static void vjp_add_row(struct ir *g, int node, int dy, const bool *need, int *dx) {
    (void)node;
    if (need[0])
        dx[0] = dy;
    if (need[1])
        dx[1] = ir_sum_row(g, dy);
}

static void vjp_mul_row(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    int x = n->in[0], r = n->in[1];
    if (need[0])
        dx[0] = ir_row_op(g, OP_MUL_ROW, dy, r);
    if (need[1])
        dx[1] = ir_sum_row(g, ir_binary(g, OP_MUL, dy, x));
}

static void vjp_sum_row(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0]) {
        struct shape sx = shape_of(g, ir_node(g, node)->in[0]);
        dx[0] = ir_row_op(g, OP_ADD_ROW, ir_fill(g, 0, sx), dy);
    }
}

static void ref_sum_row(const struct ir *g, const struct node *n, const struct ref_io *io) {
    struct shape sx = in_shape(g, n, 0);
    long per_row = shape_size(sx) / rows_of(sx);
    for (int r = 0; r < rows_of(sx); r++) {
        double s = 0;
        for (long q = 0; q < per_row; q++)
            s += io->in[0][r * per_row + q];
        io->out[r] = s;
    }
}

/* ---- labels: one-hot, learned embeddings, and their spread over pixels ---- */

int ir_onehot(struct ir *g, int y, int k) {
    return ir_add(g, OP_ONEHOT, &y, 1, shape2(shape_of(g, y).d[0], k));
}

static void ref_onehot(const struct ir *g, const struct node *n, const struct ref_io *io) {
    (void)g;
    int rows = n->shape.d[0], k = n->shape.d[1];
    memset(io->out, 0, sizeof(double) * (size_t)rows * (size_t)k);
    for (int r = 0; r < rows; r++)
        io->out[(long)r * k + (int)io->in[0][r]] = 1;
}

/* embed(y, table[K, D]) = the rows of the table the labels pick */
int ir_embed(struct ir *g, int y, int table) {
    int in[2] = {y, table};
    return ir_add(g, OP_EMBED, in, 2, shape2(shape_of(g, y).d[0], shape_of(g, table).d[1]));
}

/* embed_grad(y, dy[N, D]) -> [K, D]: each row of dy added to its label's row */
int ir_embed_grad(struct ir *g, int y, int dy, int k) {
    int in[2] = {y, dy};
    return ir_add(g, OP_EMBED_GRAD, in, 2, shape2(k, shape_of(g, dy).d[1]));
}

static void vjp_embed(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    if (need[1])
        dx[1] = ir_embed_grad(g, n->in[0], dy, shape_of(g, n->in[1]).d[0]);
}

static void vjp_embed_grad(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    if (need[1])
        dx[1] = ir_embed(g, n->in[0], dy);
}

static void ref_embed(const struct ir *g, const struct node *n, const struct ref_io *io) {
    (void)g;
    int rows = n->shape.d[0], d = n->shape.d[1];
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < d; j++)
            io->out[(long)r * d + j] = io->in[1][(long)(int)io->in[0][r] * d + j];
}

static void ref_embed_grad(const struct ir *g, const struct node *n, const struct ref_io *io) {
    int k = n->shape.d[0], d = n->shape.d[1], rows = in_shape(g, n, 1).d[0];
    memset(io->out, 0, sizeof(double) * (size_t)k * (size_t)d);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < d; j++)
            io->out[(long)(int)io->in[0][r] * d + j] += io->in[1][(long)r * d + j];
}

/* bcast_hw(v[N, C]) -> [N, H, W, C]: the same vector at every pixel */
int ir_bcast_hw(struct ir *g, int v, int h, int w) {
    struct shape s = shape_of(g, v);
    return ir_add(g, OP_BCAST_HW, &v, 1, (struct shape){4, {s.d[0], h, w, s.d[1]}});
}

int ir_sum_hw(struct ir *g, int x) {
    struct shape s = shape_of(g, x);
    return ir_add(g, OP_SUM_HW, &x, 1, shape2(s.d[0], s.d[3]));
}

static void vjp_bcast_hw(struct ir *g, int node, int dy, const bool *need, int *dx) {
    (void)node;
    if (need[0])
        dx[0] = ir_sum_hw(g, dy);
}

static void vjp_sum_hw(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct shape s = shape_of(g, ir_node(g, node)->in[0]);
    if (need[0])
        dx[0] = ir_bcast_hw(g, dy, s.d[1], s.d[2]);
}

static void ref_bcast_hw(const struct ir *g, const struct node *n, const struct ref_io *io) {
    (void)g;
    long rows = n->shape.d[0], hw = (long)n->shape.d[1] * n->shape.d[2], c = n->shape.d[3];
    for (long r = 0; r < rows; r++)
        for (long q = 0; q < hw; q++)
            for (long j = 0; j < c; j++)
                io->out[(r * hw + q) * c + j] = io->in[0][r * c + j];
}

static void ref_sum_hw(const struct ir *g, const struct node *n, const struct ref_io *io) {
    struct shape sx = in_shape(g, n, 0);
    long rows = sx.d[0], hw = (long)sx.d[1] * sx.d[2], c = sx.d[3];
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < c; j++) {
            double s = 0;
            for (long q = 0; q < hw; q++)
                s += io->in[0][(r * hw + q) * c + j];
            io->out[r * c + j] = s;
        }
}

/* logsumexp(x)[r] = m + log sum_j exp(x[r, j] - m), m = max_j x[r, j]: the
 * softmax's log-normalizer, so log_softmax(x) = x - logsumexp(x) */
int ir_logsumexp(struct ir *g, int x) {
    struct shape sx = shape_of(g, x);
    if (sx.n < 2)
        unreachable();
    return ir_add(g, OP_LOGSUMEXP, &x, 1, shape1(rows_of(sx)));
}

/* d logsumexp / dx = softmax(x) = exp(x - y), per row; built from exp,
 * add_row and mul_row, so it differentiates again */
static void vjp_logsumexp(struct ir *g, int node, int dy, const bool *need, int *dx) {
    int x = ir_node(g, node)->in[0];
    if (need[0])
        dx[0] = ir_row_op(g, OP_MUL_ROW, ir_unary(g, OP_EXP, ir_row_op(g, OP_ADD_ROW, x, ir_unary(g, OP_NEG, node))),
                          dy);
}

static void ref_logsumexp(const struct ir *g, const struct node *n, const struct ref_io *io) {
    struct shape sx = in_shape(g, n, 0);
    long k = shape_size(sx) / rows_of(sx);
    for (int r = 0; r < rows_of(sx); r++) {
        const double *x = io->in[0] + r * k;
        double mx = x[0], s = 0;
        for (long j = 1; j < k; j++)
            mx = x[j] > mx ? x[j] : mx;
        for (long j = 0; j < k; j++)
            s += exp(x[j] - mx);
        io->out[r] = mx + log(s);
    }
}

int ir_argmax(struct ir *g, int x) {
    struct shape sx = shape_of(g, x);
    if (sx.n < 2)
        unreachable();
    return ir_add(g, OP_ARGMAX, &x, 1, shape1(rows_of(sx)));
}

static void ref_argmax(const struct ir *g, const struct node *n, const struct ref_io *io) {
    struct shape sx = in_shape(g, n, 0);
    long k = shape_size(sx) / rows_of(sx);
    for (int r = 0; r < rows_of(sx); r++) {
        const double *x = io->in[0] + r * k;
        long best = 0;
        for (long j = 1; j < k; j++)
            if (x[j] > x[best])
                best = j;
        io->out[r] = (double)best;
    }
}


/* ---- rows: a view of rows [off, off + len) of x, for multi-batch inputs ---- */

int ir_rows(struct ir *g, int x, int off, int len) {
    struct shape s = shape_of(g, x);
    if (off < 0 || len < 1 || off + len > s.d[0])
        unreachable();
    long per_row = shape_size(s) / s.d[0];
    s.d[0] = len;
    int id = ir_add(g, OP_ROWS, &x, 1, s);
    ir_node(g, id)->a.rows.offset = off * per_row;
    return id;
}

/* reshape and rows: the values they view, from the view's first */
static void ref_view(const struct ir *g, const struct node *n, const struct ref_io *io) {
    (void)g;
    long off = n->op == OP_ROWS ? n->a.rows.offset : 0;
    memcpy(io->out, io->in[0] + off, sizeof(double) * (size_t)shape_size(n->shape));
}

/* ---- data-parallel training (genc --mpi) ----------------------------------
 * rank_mean: the mean over the ranks of a value each computes from its own
 * rows; each rank's adjoint is the mean of every rank's, so its VJP is
 * itself.  allreduce: a gradient averaged over the ranks in place.  With
 * one process, what the references evaluate, both are the identity. */

int ir_rank_mean(struct ir *g, int x) {
    return ir_add(g, OP_RANK_MEAN, &x, 1, shape_of(g, x));
}

static void vjp_rank_mean(struct ir *g, int node, int dy, const bool *need, int *dx) {
    (void)node;
    if (need[0])
        dx[0] = ir_rank_mean(g, dy);
}

static void ref_nothing(const struct ir *g, const struct node *n, const struct ref_io *io) {
    (void)g, (void)n, (void)io;
}

/* ---- dropout: a mask from a hash of (step, salt, element) ------------------
 * Stateless, so the backward, a resumed run and a gradient check all see
 * the mask the forward saw.  Linear in x, so its VJP is itself. */

int ir_dropout(struct ir *g, int x, double p, int salt) {
    int id = ir_unary(g, OP_DROPOUT, x);
    ir_node(g, id)->a.dropout.p = p;
    ir_node(g, id)->a.dropout.salt = salt;
    return id;
}

static double elem_dropout(const struct node *n, const double *a, long i, long step) {
    double p = n->a.dropout.p;
    return hash_uniform(step, n->a.dropout.salt, i) >= p ? a[0] * (1 / (1 - p)) : 0;
}

static void vjp_dropout(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    if (need[0])
        dx[0] = ir_dropout(g, dy, n->a.dropout.p, n->a.dropout.salt);
}

/* ---- DiffAugment (Zhao et al. 2020) on images x[N, H, W, C] ----------------
 * Per-example draws of the step's hash (runtime/genrt_hash.h), so the
 * backward, a gradient check and a resumed run see the same ones. */

/* translate: y[b, i, j] = x[b, i + ti, j + tj], zero outside, with ti in
 * [-sh, sh] and tj in [-sw, sw] drawn per example; its adjoint translates
 * by the opposite offsets (sign -1) */
int ir_translate(struct ir *g, int x, int sh, int sw, int salt, int sign) {
    if (shape_of(g, x).n != 4)
        unreachable();
    int id = ir_unary(g, OP_TRANSLATE, x);
    struct node *n = ir_node(g, id);
    n->a.translate.sh = sh, n->a.translate.sw = sw, n->a.translate.salt = salt, n->a.translate.sign = sign;
    return id;
}

static void ref_translate(const struct ir *g, const struct node *n, const struct ref_io *io) {
    (void)g;
    struct shape s = n->shape;
    long h = s.d[1], w = s.d[2], c = s.d[3];
    for (long b = 0; b < s.d[0]; b++) {
        long ti = n->a.translate.sign * hash_shift(io->step, n->a.translate.salt, b, 0, n->a.translate.sh);
        long tj = n->a.translate.sign * hash_shift(io->step, n->a.translate.salt, b, 1, n->a.translate.sw);
        for (long i = 0; i < h; i++)
            for (long j = 0; j < w; j++)
                for (long k = 0; k < c; k++) {
                    long si = i + ti, sj = j + tj;
                    bool in = si >= 0 && si < h && sj >= 0 && sj < w;
                    io->out[((b * h + i) * w + j) * c + k] = in ? io->in[0][((b * h + si) * w + sj) * c + k] : 0;
                }
    }
}

static void vjp_translate(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node n = *ir_node(g, node);
    if (need[0])
        dx[0] = ir_translate(g, dy, n.a.translate.sh, n.a.translate.sw, n.a.translate.salt, -n.a.translate.sign);
}

/* cutout: x times a per-example mask that zeroes an sh x sw square */
int ir_cutout(struct ir *g, int x, int sh, int sw, int salt) {
    if (shape_of(g, x).n != 4)
        unreachable();
    int id = ir_unary(g, OP_CUTOUT, x);
    struct node *n = ir_node(g, id);
    n->a.cutout.sh = sh, n->a.cutout.sw = sw, n->a.cutout.salt = salt;
    return id;
}

static double elem_cutout(const struct node *n, const double *a, long i, long step) {
    long h = n->shape.d[1], w = n->shape.d[2], c = n->shape.d[3];
    long b = i / (h * w * c), row = i / (w * c) % h, col = i / c % w;
    return hash_cutout_keeps(step, n->a.cutout.salt, b, row, col, h, w, n->a.cutout.sh, n->a.cutout.sw) ? a[0] : 0;
}

static void vjp_cutout(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node n = *ir_node(g, node);
    if (need[0])
        dx[0] = ir_cutout(g, dy, n.a.cutout.sh, n.a.cutout.sw, n.a.cutout.salt);
}

/* ---- im2col / col2im: x[N, H, W, C] <-> cols[N*Ho*Wo, k*k*C] ---------------
 * Row (n, ho, wo) of cols holds the k x k x C patch under output pixel
 * (ho, wo), zero outside the image.  col2im scatters and adds a patch matrix
 * back; the two are each other's adjoint, so conv = matmul(im2col(x), W^T)
 * and deconv = col2im(matmul(x, W)) differentiate, twice, for free.  The
 * image geometry is in the [N, H, W, C] side. */

int ir_im2col(struct ir *g, int x, struct geom_attr geom) {
    struct shape sx = shape_of(g, x);
    if (sx.n != 4)
        unreachable();
    int id = ir_add(g, OP_IM2COL, &x, 1, shape2(sx.d[0] * geom.ho * geom.wo, geom.k * geom.k * sx.d[3]));
    ir_node(g, id)->a.geom = geom;
    return id;
}

int ir_col2im(struct ir *g, int cols, struct shape img, struct geom_attr geom) {
    struct shape sc = shape_of(g, cols);
    if (img.n != 4 || sc.n != 2 || sc.d[0] != img.d[0] * geom.ho * geom.wo || sc.d[1] != geom.k * geom.k * img.d[3])
        unreachable();
    int id = ir_add(g, OP_COL2IM, &cols, 1, img);
    ir_node(g, id)->a.geom = geom;
    return id;
}

static void vjp_im2col(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node n = *ir_node(g, node);
    if (need[0])
        dx[0] = ir_col2im(g, dy, shape_of(g, n.in[0]), n.a.geom);
}

static void vjp_col2im(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node n = *ir_node(g, node);
    if (need[0])
        dx[0] = ir_im2col(g, dy, n.a.geom);
}

/* Both directions: for each patch entry inside the image, cols[] and img[]
 * offsets; to_cols copies the image into the patches, else patches are
 * added back into the image. */
static void ref_patches(struct geom_attr ge, struct shape img, double *cols, double *im, bool to_cols) {
    int h = img.d[1], w = img.d[2], c = img.d[3], k = ge.k;
    for (int n = 0; n < img.d[0]; n++)
        for (int oh = 0; oh < ge.ho; oh++)
            for (int ow = 0; ow < ge.wo; ow++)
                for (int kh = 0; kh < k; kh++)
                    for (int kw = 0; kw < k; kw++) {
                        long row = ((long)(n * ge.ho + oh) * ge.wo + ow) * k * k * c + (kh * k + kw) * c;
                        int ih = oh * ge.stride - ge.pad + kh, iw = ow * ge.stride - ge.pad + kw;
                        bool inside = ih >= 0 && ih < h && iw >= 0 && iw < w;
                        long pix = ((long)(n * h + ih) * w + iw) * c;
                        for (int j = 0; j < c; j++) {
                            if (to_cols)
                                cols[row + j] = inside ? im[pix + j] : 0;
                            else if (inside)
                                im[pix + j] += cols[row + j];
                        }
                    }
}

static void ref_im2col(const struct ir *g, const struct node *n, const struct ref_io *io) {
    ref_patches(n->a.geom, in_shape(g, n, 0), io->out, io->in[0], true);
}

static void ref_col2im(const struct ir *g, const struct node *n, const struct ref_io *io) {
    (void)g;
    memset(io->out, 0, sizeof(double) * (size_t)shape_size(n->shape));
    ref_patches(n->a.geom, n->shape, io->in[0], io->out, false);
}

/* ---- upsample (nearest) and sumpool: an adjoint pair; avgpool = sumpool / k^2 */

int ir_upsample(struct ir *g, int x, int f) {
    struct shape sx = shape_of(g, x);
    int id = ir_add(g, OP_UPSAMPLE, &x, 1, (struct shape){4, {sx.d[0], sx.d[1] * f, sx.d[2] * f, sx.d[3]}});
    ir_node(g, id)->a.pool.factor = f;
    return id;
}

int ir_sumpool(struct ir *g, int x, int f) {
    struct shape sx = shape_of(g, x);
    if (sx.n != 4 || sx.d[1] % f || sx.d[2] % f)
        unreachable();
    int id = ir_add(g, OP_SUMPOOL, &x, 1, (struct shape){4, {sx.d[0], sx.d[1] / f, sx.d[2] / f, sx.d[3]}});
    ir_node(g, id)->a.pool.factor = f;
    return id;
}

static void vjp_upsample(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_sumpool(g, dy, ir_node(g, node)->a.pool.factor);
}

static void vjp_sumpool(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_upsample(g, dy, ir_node(g, node)->a.pool.factor);
}

/* for each value of the big (upsampled) image: the offset of its small pixel */
static long small_of(struct shape big, int f, long i) {
    long c = big.d[3], w = big.d[2], h = big.d[1];
    long ch = i % c, x = i / c % w, y = i / c / w % h, n = i / c / w / h;
    return ((n * (h / f) + y / f) * (w / f) + x / f) * c + ch;
}

static void ref_upsample(const struct ir *g, const struct node *n, const struct ref_io *io) {
    (void)g;
    for (long i = 0; i < shape_size(n->shape); i++)
        io->out[i] = io->in[0][small_of(n->shape, n->a.pool.factor, i)];
}

static void ref_sumpool(const struct ir *g, const struct node *n, const struct ref_io *io) {
    struct shape big = in_shape(g, n, 0);
    memset(io->out, 0, sizeof(double) * (size_t)shape_size(n->shape));
    for (long i = 0; i < shape_size(big); i++)
        io->out[small_of(big, n->a.pool.factor, i)] += io->in[0][i];
}

/* ---- concat, slice, pad along the last (channel or feature) axis ------------ */

static struct shape with_channels(struct shape s, int c) {
    s.d[s.n - 1] = c;
    return s;
}

int ir_concat(struct ir *g, int a, int b) {
    struct shape sa = shape_of(g, a), sb = shape_of(g, b);
    if (sa.n != sb.n || shape_size(sa) / channels(sa) != shape_size(sb) / channels(sb))
        unreachable();
    int in[2] = {a, b};
    return ir_add(g, OP_CONCAT, in, 2, with_channels(sa, channels(sa) + channels(sb)));
}

int ir_slice(struct ir *g, int x, int off, int len) {
    struct shape sx = shape_of(g, x);
    if (off < 0 || len < 1 || off + len > channels(sx))
        unreachable();
    int id = ir_add(g, OP_SLICE, &x, 1, with_channels(sx, len));
    ir_node(g, id)->a.slice.off = off;
    return id;
}

int ir_pad(struct ir *g, int x, int before, int after) {
    struct shape sx = shape_of(g, x);
    int id = ir_add(g, OP_PAD, &x, 1, with_channels(sx, before + channels(sx) + after));
    ir_node(g, id)->a.pad.before = before;
    return id;
}

static void vjp_concat(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    int a = n->in[0], b = n->in[1];
    int ca = channels(shape_of(g, a)), cb = channels(shape_of(g, b));
    if (need[0])
        dx[0] = ir_slice(g, dy, 0, ca);
    if (need[1])
        dx[1] = ir_slice(g, dy, ca, cb);
}

static void vjp_slice(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    int c = channels(shape_of(g, n->in[0])), off = n->a.slice.off, len = channels(n->shape);
    if (need[0])
        dx[0] = ir_pad(g, dy, off, c - off - len);
}

static void vjp_pad(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    if (need[0])
        dx[0] = ir_slice(g, dy, n->a.pad.before, channels(shape_of(g, n->in[0])));
}

/* dst[r, off .. off+len) = src[r, soff .. soff+len), over every row r */
static void ref_rows_copy(long rows, double *dst, int dst_c, int off, const double *src, int src_c, int soff, int len) {
    for (long r = 0; r < rows; r++)
        memcpy(dst + r * dst_c + off, src + r * src_c + soff, sizeof(double) * (size_t)len);
}

static void ref_concat(const struct ir *g, const struct node *n, const struct ref_io *io) {
    int ca = channels(in_shape(g, n, 0)), cb = channels(in_shape(g, n, 1));
    long rows = shape_size(n->shape) / (ca + cb);
    ref_rows_copy(rows, io->out, ca + cb, 0, io->in[0], ca, 0, ca);
    ref_rows_copy(rows, io->out, ca + cb, ca, io->in[1], cb, 0, cb);
}

static void ref_slice(const struct ir *g, const struct node *n, const struct ref_io *io) {
    int c = channels(in_shape(g, n, 0)), len = channels(n->shape);
    ref_rows_copy(shape_size(n->shape) / len, io->out, len, 0, io->in[0], c, n->a.slice.off, len);
}

static void ref_pad(const struct ir *g, const struct node *n, const struct ref_io *io) {
    int c = channels(in_shape(g, n, 0)), out = channels(n->shape);
    memset(io->out, 0, sizeof(double) * (size_t)shape_size(n->shape));
    ref_rows_copy(shape_size(n->shape) / out, io->out, out, n->a.pad.before, io->in[0], c, 0, c);
}

/* ---- binary elementwise: same shapes, or one side a scalar -------------- */

int ir_binary(struct ir *g, enum op op, int a, int b) {
    struct shape sa = shape_of(g, a), sb = shape_of(g, b);
    struct shape s = sa;
    if (!shape_eq(sa, sb)) {
        if (is_scalar(sa))
            s = sb;
        else if (!is_scalar(sb))
            unreachable();
    }
    int in[2] = {a, b};
    return ir_add(g, op, in, 2, s);
}

static double elem_sub(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return a[0] - a[1];
}

/* The gradient reaching operand `x` of a broadcasting binary op: summed
 * back to a scalar when x was broadcast. */
static int unbroadcast(struct ir *g, int node, int x, int grad) {
    if (shape_size(shape_of(g, x)) == shape_size(ir_node(g, node)->shape))
        return grad;
    return ir_sum_all(g, grad);
}

static void vjp_add(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    int a = n->in[0], b = n->in[1];
    if (need[0])
        dx[0] = unbroadcast(g, node, a, dy);
    if (need[1])
        dx[1] = unbroadcast(g, node, b, dy);
}

static void vjp_sub(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    int a = n->in[0], b = n->in[1];
    if (need[0])
        dx[0] = unbroadcast(g, node, a, dy);
    if (need[1])
        dx[1] = unbroadcast(g, node, b, ir_unary(g, OP_NEG, dy));
}

static void vjp_mul(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    int a = n->in[0], b = n->in[1];
    if (need[0])
        dx[0] = unbroadcast(g, node, a, ir_binary(g, OP_MUL, dy, b));
    if (need[1])
        dx[1] = unbroadcast(g, node, b, ir_binary(g, OP_MUL, dy, a));
}

/* ---- unary elementwise -------------------------------------------------- */

int ir_unary(struct ir *g, enum op op, int x) {
    return ir_add(g, op, &x, 1, shape_of(g, x));
}

int ir_scale(struct ir *g, int x, double c) {
    int id = ir_unary(g, OP_SCALE, x);
    ir_node(g, id)->a.scale.c = c;
    return id;
}

int ir_addc(struct ir *g, int x, double c) {
    int id = ir_unary(g, OP_ADDC, x);
    ir_node(g, id)->a.addc.c = c;
    return id;
}

static double elem_neg(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return -a[0];
}

static void vjp_neg(struct ir *g, int node, int dy, const bool *need, int *dx) {
    (void)node;
    if (need[0])
        dx[0] = ir_unary(g, OP_NEG, dy);
}

static double elem_scale(const struct node *n, const double *a, long i, long step) {
    (void)i, (void)step;
    return n->a.scale.c * a[0];
}

static void vjp_scale(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_scale(g, dy, ir_node(g, node)->a.scale.c);
}

static double elem_addc(const struct node *n, const double *a, long i, long step) {
    (void)i, (void)step;
    return a[0] + n->a.addc.c;
}

static void vjp_addc(struct ir *g, int node, int dy, const bool *need, int *dx) {
    (void)g, (void)node;
    if (need[0])
        dx[0] = dy;
}

static double elem_square(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return a[0] * a[0];
}

static void vjp_square(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_binary(g, OP_MUL, dy, ir_scale(g, ir_node(g, node)->in[0], 2));
}

/* |x|, for L1 losses: its VJP is lrelu_grad(x, dy) with slope -1, the sign
 * of x times dy (0 counts as negative, a subgradient). */
static double elem_abs(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return fabs(a[0]);
}

static void vjp_abs(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_leaky_relu_grad(g, ir_node(g, node)->in[0], dy, -1);
}

/* leaky_relu(x) = x > 0 ? x : a*x, with 0 <= a < 1.  Its VJP reads the
 * output y instead of x (y > 0 exactly when x > 0), so the pre-activation
 * need not be kept and bias + activation fuse into one pass. */
int ir_leaky_relu(struct ir *g, int x, double alpha) {
    int id = ir_unary(g, OP_LEAKY_RELU, x);
    ir_node(g, id)->a.leaky_relu.alpha = alpha;
    return id;
}

static double elem_leaky_relu(const struct node *n, const double *a, long i, long step) {
    (void)i, (void)step;
    return a[0] > 0 ? a[0] : n->a.leaky_relu.alpha * a[0];
}

static void vjp_leaky_relu(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_leaky_relu_grad(g, node, dy, ir_node(g, node)->a.leaky_relu.alpha);
}

/* lrelu_grad(y, dy) = y > 0 ? dy : a*dy.  Linear in dy; piecewise constant
 * in y, whose gradient is zero almost everywhere. */
int ir_leaky_relu_grad(struct ir *g, int y, int dy, double alpha) {
    int in[2] = {y, dy};
    int id = ir_add(g, OP_LRELU_GRAD, in, 2, shape_of(g, dy));
    ir_node(g, id)->a.lrelu_grad.alpha = alpha;
    return id;
}

static double elem_lrelu_grad(const struct node *n, const double *a, long i, long step) {
    (void)i, (void)step;
    return a[0] > 0 ? a[1] : n->a.lrelu_grad.alpha * a[1];
}

static void vjp_lrelu_grad(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    if (need[1])
        dx[1] = ir_leaky_relu_grad(g, n->in[0], dy, n->a.lrelu_grad.alpha);
}

/* elu(x) = x > 0 ? x : alpha (e^x - 1), alpha > 0 (Clevert et al. 2016;
 * PyTorch's ELU).  As leaky_relu's, its VJP reads the output: y > 0 exactly
 * when x > 0, and below, alpha e^x = y + alpha. */
int ir_elu(struct ir *g, int x, double alpha) {
    if (!(alpha > 0))
        unreachable();
    int id = ir_unary(g, OP_ELU, x);
    ir_node(g, id)->a.elu.alpha = alpha;
    return id;
}

static double elem_elu(const struct node *n, const double *a, long i, long step) {
    (void)i, (void)step;
    return a[0] > 0 ? a[0] : n->a.elu.alpha * expm1(a[0]);
}

static void vjp_elu(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_elu_grad(g, node, dy, ir_node(g, node)->a.elu.alpha);
}

/* elu_grad(y, dy) = y > 0 ? dy : (y + alpha) dy.  Linear in dy; in y its
 * derivative is 0 above zero and dy below: dy - (y > 0 ? dy : 0), as
 * lrelu_grad with slope 0 masks it, so the backward differentiates again. */
int ir_elu_grad(struct ir *g, int y, int dy, double alpha) {
    int in[2] = {y, dy};
    int id = ir_add(g, OP_ELU_GRAD, in, 2, shape_of(g, dy));
    ir_node(g, id)->a.elu_grad.alpha = alpha;
    return id;
}

static double elem_elu_grad(const struct node *n, const double *a, long i, long step) {
    (void)i, (void)step;
    return a[0] > 0 ? a[1] : (a[0] + n->a.elu_grad.alpha) * a[1];
}

static void vjp_elu_grad(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node n = *ir_node(g, node);
    if (need[0]) {
        int t = ir_binary(g, OP_MUL, dy, n.in[1]);
        dx[0] = ir_binary(g, OP_SUB, t, ir_leaky_relu_grad(g, n.in[0], t, 0));
    }
    if (need[1])
        dx[1] = ir_elu_grad(g, n.in[0], dy, n.a.elu_grad.alpha);
}

static double elem_tanh(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return tanh(a[0]);
}

/* d tanh = 1 - y^2, from the output */
static void vjp_tanh(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0]) {
        int one_minus = ir_addc(g, ir_unary(g, OP_NEG, ir_unary(g, OP_SQUARE, node)), 1);
        dx[0] = ir_binary(g, OP_MUL, dy, one_minus);
    }
}

static double elem_sigmoid(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return 1 / (1 + exp(-a[0]));
}

/* d sigmoid = y (1 - y), from the output */
static void vjp_sigmoid(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0]) {
        int one_minus = ir_addc(g, ir_unary(g, OP_NEG, node), 1);
        dx[0] = ir_binary(g, OP_MUL, dy, ir_binary(g, OP_MUL, node, one_minus));
    }
}

/* softplus(x) = log(1 + e^x), computed without overflow:
 * max(x, 0) + log1p(e^-|x|).  Binary cross-entropy with logits is built
 * from it: -log sigmoid(x) = softplus(-x), -log(1 - sigmoid(x)) = softplus(x). */
static double elem_softplus(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return (a[0] > 0 ? a[0] : 0) + log1p(exp(-fabs(a[0])));
}

static void vjp_softplus(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_binary(g, OP_MUL, dy, ir_unary(g, OP_SIGMOID, ir_node(g, node)->in[0]));
}

/* broadcast: a scalar [1] spread over a shape */
int ir_broadcast(struct ir *g, int s, struct shape shape) {
    if (!is_scalar(shape_of(g, s)))
        unreachable();
    return ir_add(g, OP_BROADCAST, &s, 1, shape);
}

static double elem_broadcast(const struct node *n, const double *a, long i, long step) {
    (void)n, (void)i, (void)step;
    return a[0];
}

static void vjp_broadcast(struct ir *g, int node, int dy, const bool *need, int *dx) {
    (void)node;
    if (need[0])
        dx[0] = ir_sum_all(g, dy);
}

/* ---- reductions to a scalar --------------------------------------------- */

int ir_sum_all(struct ir *g, int x) {
    return ir_add(g, OP_SUM_ALL, &x, 1, shape1(1));
}

int ir_mean_all(struct ir *g, int x) {
    return ir_scale(g, ir_sum_all(g, x), 1.0 / (double)shape_size(shape_of(g, x)));
}

static void vjp_sum_all(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_broadcast(g, dy, shape_of(g, ir_node(g, node)->in[0]));
}

static void ref_sum_all(const struct ir *g, const struct node *n, const struct ref_io *io) {
    double s = 0;
    for (long i = 0; i < shape_size(in_shape(g, n, 0)); i++)
        s += io->in[0][i];
    io->out[0] = s;
}

/* ---- views -------------------------------------------------------------- */

int ir_reshape(struct ir *g, int x, struct shape shape) {
    if (shape_size(shape) != shape_size(shape_of(g, x)))
        unreachable();
    return ir_add(g, OP_RESHAPE, &x, 1, shape);
}

static void vjp_reshape(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_reshape(g, dy, shape_of(g, ir_node(g, node)->in[0]));
}

/* ---- effects ------------------------------------------------------------ *
 * Each updates, in place, the operands its row writes.  The references
 * follow torch.optim's update rules. */

static int effect(struct ir *g, enum op op, const int *in, int n_in) {
    return ir_add(g, op, in, n_in, shape1(1));
}

static long size_of_in(const struct ir *g, const struct node *n, int i) { return shape_size(in_shape(g, n, i)); }

int ir_allreduce(struct ir *g, int grad) {
    return effect(g, OP_ALLREDUCE, &grad, 1);
}

/* adam(param, grad, m, v), with L2 weight decay added to the gradient */
int ir_adam(struct ir *g, int p, int grad, int m, int v, struct adam_attr a) {
    int in[4] = {p, grad, m, v};
    int id = effect(g, OP_ADAM, in, 4);
    ir_node(g, id)->a.adam = a;
    return id;
}

static void ref_adam(const struct ir *g, const struct node *n, const struct ref_io *io) {
    const struct adam_attr *a = &n->a.adam;
    double t = a->runs > 1 ? (double)((io->step - 1) * a->runs + a->run + 1) : (double)io->step;
    double bc1 = 1 - pow(a->beta1, t), bc2 = 1 - pow(a->beta2, t);
    double *p = io->in[0], *gr = io->in[1], *m = io->in[2], *v = io->in[3];
    for (long i = 0; i < size_of_in(g, n, 0); i++) {
        double gi = gr[i] + a->weight_decay * p[i];
        m[i] = a->beta1 * m[i] + (1 - a->beta1) * gi;
        v[i] = a->beta2 * v[i] + (1 - a->beta2) * gi * gi;
        p[i] -= a->lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + a->eps);
    }
}

/* sgd(param, grad[, momentum buffer]), dampening 0 */
int ir_sgd(struct ir *g, int p, int grad, int buf, struct sgd_attr a) {
    int in[3] = {p, grad, buf};
    int id = effect(g, OP_SGD, in, buf >= 0 ? 3 : 2);
    ir_node(g, id)->a.sgd = a;
    return id;
}

static void ref_sgd(const struct ir *g, const struct node *n, const struct ref_io *io) {
    const struct sgd_attr *a = &n->a.sgd;
    double *p = io->in[0], *gr = io->in[1], *buf = n->n_in > 2 ? io->in[2] : NULL;
    for (long i = 0; i < size_of_in(g, n, 0); i++) {
        double d = gr[i] + a->weight_decay * p[i];
        if (buf) {
            buf[i] = a->momentum * buf[i] + d;
            d = a->nesterov ? d + a->momentum * buf[i] : buf[i];
        }
        p[i] -= a->lr * d;
    }
}

/* rmsprop(param, grad, square_avg[, grad_avg][, momentum buffer]) */
int ir_rmsprop(struct ir *g, int p, int grad, int square_avg, int grad_avg, int buf, struct rmsprop_attr a) {
    int in[5] = {p, grad, square_avg};
    int n_in = 3;
    a.grad_avg = grad_avg >= 0 ? n_in : -1;
    if (grad_avg >= 0)
        in[n_in++] = grad_avg;
    a.buf = buf >= 0 ? n_in : -1;
    if (buf >= 0)
        in[n_in++] = buf;
    int id = effect(g, OP_RMSPROP, in, n_in);
    ir_node(g, id)->a.rmsprop = a;
    return id;
}

static void ref_rmsprop(const struct ir *g, const struct node *n, const struct ref_io *io) {
    const struct rmsprop_attr *a = &n->a.rmsprop;
    double *p = io->in[0], *gr = io->in[1], *v = io->in[2];
    double *gavg = a->grad_avg >= 0 ? io->in[a->grad_avg] : NULL, *buf = a->buf >= 0 ? io->in[a->buf] : NULL;
    for (long i = 0; i < size_of_in(g, n, 0); i++) {
        double gi = gr[i] + a->weight_decay * p[i];
        v[i] = a->alpha * v[i] + (1 - a->alpha) * gi * gi;
        double avg = v[i];
        if (gavg) {
            gavg[i] = a->alpha * gavg[i] + (1 - a->alpha) * gi;
            avg -= gavg[i] * gavg[i];
        }
        avg = sqrt(avg) + a->eps;
        if (buf) {
            buf[i] = a->momentum * buf[i] + gi / avg;
            p[i] -= a->lr * buf[i];
        } else {
            p[i] -= a->lr * gi / avg;
        }
    }
}

/* clip(param): WGAN's weight clipping to [-c, c], after the critic's step */
int ir_clip(struct ir *g, int p, double c) {
    int id = effect(g, OP_CLIP, &p, 1);
    ir_node(g, id)->a.clip.c = c;
    return id;
}

static void ref_clip(const struct ir *g, const struct node *n, const struct ref_io *io) {
    double c = n->a.clip.c;
    for (long i = 0; i < size_of_in(g, n, 0); i++)
        io->in[0][i] = io->in[0][i] < -c ? -c : io->in[0][i] > c ? c : io->in[0][i];
}

/* ema(param, average): the exponential moving average of a parameter,
 * after its optimizer step (a generator's `ema`, Yazici et al. 2019) */
int ir_ema(struct ir *g, int p, int avg, double decay) {
    int in[2] = {p, avg};
    int id = effect(g, OP_EMA, in, 2);
    ir_node(g, id)->a.ema.decay = decay;
    return id;
}

static void ref_ema(const struct ir *g, const struct node *n, const struct ref_io *io) {
    double d = n->a.ema.decay;
    for (long i = 0; i < size_of_in(g, n, 0); i++)
        io->in[1][i] = d * io->in[1][i] + (1 - d) * io->in[0][i];
}

/* sn_power(W [R, C], r [R], c [C]): one step of the power iteration
 * behind spectral_norm, as torch.nn.utils.spectral_norm's in train mode:
 * c = normalize(W^T r), then r = normalize(W c); rows_first: r = normalize(W c),
 * then c = normalize(W^T r).  normalize(x) = x / max(|x|, 1e-12). */
int ir_sn_power(struct ir *g, int w, int r, int c, bool rows_first) {
    struct shape sw = shape_of(g, w);
    if (sw.n != 2 || shape_size(shape_of(g, r)) != sw.d[0] || shape_size(shape_of(g, c)) != sw.d[1])
        unreachable();
    int in[3] = {w, r, c};
    int id = effect(g, OP_SN_POWER, in, 3);
    ir_node(g, id)->a.sn_power.rows_first = rows_first;
    return id;
}

static void sn_normalize(double *x, long n) {
    double s = 0;
    for (long i = 0; i < n; i++)
        s += x[i] * x[i];
    s = fmax(sqrt(s), 1e-12);
    for (long i = 0; i < n; i++)
        x[i] /= s;
}

static void ref_sn_power(const struct ir *g, const struct node *n, const struct ref_io *io) {
    struct shape sw = in_shape(g, n, 0);
    long rows = sw.d[0], cols = sw.d[1];
    const double *w = io->in[0];
    double *r = io->in[1], *c = io->in[2];
    for (int pass = 0; pass < 2; pass++) {
        if ((pass == 0) != n->a.sn_power.rows_first) { /* c = W^T r */
            for (long j = 0; j < cols; j++) {
                double s = 0;
                for (long i = 0; i < rows; i++)
                    s += w[i * cols + j] * r[i];
                c[j] = s;
            }
            sn_normalize(c, cols);
        } else { /* r = W c */
            for (long i = 0; i < rows; i++) {
                double s = 0;
                for (long j = 0; j < cols; j++)
                    s += w[i * cols + j] * c[j];
                r[i] = s;
            }
            sn_normalize(r, rows);
        }
    }
}

/* bn_stats(mean, var, running_mean, running_var): the running statistics
 * batchnorm keeps for eval mode, as torch.nn.BatchNorm (unbiased variance) */
int ir_bn_stats(struct ir *g, int mean, int var, int rmean, int rvar, double momentum, double unbias) {
    int in[4] = {mean, var, rmean, rvar};
    int id = effect(g, OP_BN_STATS, in, 4);
    ir_node(g, id)->a.bn_stats.momentum = momentum;
    ir_node(g, id)->a.bn_stats.unbias = unbias;
    return id;
}

static void ref_bn_stats(const struct ir *g, const struct node *n, const struct ref_io *io) {
    double m = n->a.bn_stats.momentum;
    for (long i = 0; i < size_of_in(g, n, 0); i++) {
        io->in[2][i] = (1 - m) * io->in[2][i] + m * io->in[0][i];
        io->in[3][i] = (1 - m) * io->in[3][i] + m * io->in[1][i] * n->a.bn_stats.unbias;
    }
}

/* output(x): a metric or a loss into the caller's out[] */
int ir_output(struct ir *g, int x, int slot, int stride) {
    int id = effect(g, OP_OUTPUT, &x, 1);
    ir_node(g, id)->a.output.slot = slot;
    ir_node(g, id)->a.output.stride = stride;
    return id;
}

static void ref_output(const struct ir *g, const struct node *n, const struct ref_io *io) {
    long size = size_of_in(g, n, 0);
    for (long i = 0; i < size; i++)
        io->metrics[size == 1 ? n->a.output.slot : i * n->a.output.stride + n->a.output.slot] = io->in[0][i];
}

/* store_grad(x): a parameter gradient into the caller's g */
int ir_store_grad(struct ir *g, int x, long offset) {
    int id = effect(g, OP_STORE_GRAD, &x, 1);
    ir_node(g, id)->a.store_grad.offset = offset;
    return id;
}

static void ref_store_grad(const struct ir *g, const struct node *n, const struct ref_io *io) {
    memcpy(io->grads + n->a.store_grad.offset, io->in[0], sizeof(double) * (size_t)size_of_in(g, n, 0));
}

/* ---- the table ---------------------------------------------------------- */

#define BC0 {BC_NONE}
#define BC1(a) {BC_##a}
#define BC2(a, b) {BC_##a, BC_##b}
#define W(i) (1u << (i))
#define ELEM(f) f, NULL
#define REF(f) NULL, f

const struct op_info op_table[] = {
#define OP(name, str, min_in, max_in, sched, reduce, operands, writes, flags, vjp, eval) \
    {str, min_in, max_in, S_##sched, RED_##reduce, operands, writes, flags, vjp, eval},
#include "ops.def"
#undef OP
};

_Static_assert(sizeof op_table / sizeof op_table[0] == OP_COUNT, "ops.def and op_table disagree");

void op_vjp(struct ir *g, int node, int dy, const bool *need, int *dx) {
    const struct op_info *info = &op_table[ir_node(g, node)->op];
    for (int i = 0; i < OP_MAX_IN; i++)
        dx[i] = -1;
    if (!info->vjp)
        unreachable();
    info->vjp(g, node, dy, need, dx);
}

/* operand k's value at element i of an elementwise op's loop */
static double operand_at(const struct ir *g, const struct node *n, int k, const double *x, long i) {
    struct shape s = in_shape(g, n, k);
    switch (op_table[n->op].operand[k]) {
    case BC_SAME: return x[i];
    case BC_SCALAR: return shape_size(s) == 1 ? x[0] : x[i];
    case BC_CHANNEL: return x[i % channels(n->shape)];
    case BC_ROW: return x[i / (shape_size(n->shape) / rows_of(n->shape))];
    case BC_NONE: break;
    }
    unreachable();
}

void op_ref(const struct ir *g, int id, const struct ref_io *io) {
    const struct node *n = &g->nodes.data[id];
    const struct op_info *info = &op_table[n->op];
    if (!info->ref_elem) {
        info->ref(g, n, io);
        return;
    }
    double a[OP_MAX_IN];
    for (long i = 0; i < shape_size(n->shape); i++) {
        for (int k = 0; k < n->n_in; k++)
            a[k] = operand_at(g, n, k, io->in[k], i);
        io->out[i] = info->ref_elem(n, a, i, io->step);
    }
}
