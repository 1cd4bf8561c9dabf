/* ops.c: each IR op's shape rule (its builder), its C emitter and its VJP,
 * side by side.  The table itself is expanded from ops.def at the end.
 *
 * VJPs build more IR from these same ops, so a backward graph can be
 * differentiated again (WGAN-GP's gradient penalty needs this). */
#include "genc.h"

#include <math.h>
#include <string.h>

static struct shape shape1(int a) { return (struct shape){1, {a}}; }
static struct shape shape2(int a, int b) { return (struct shape){2, {a, b}}; }

static struct shape shape_of(struct ir *g, int id) { return ir_node(g, id)->shape; }

static bool is_scalar(struct shape s) { return shape_size(s) == 1; }

/* ---- sources ------------------------------------------------------------ */

int ir_input(struct ir *g, int slot, struct shape s) {
    int id = ir_add(g, OP_INPUT, NULL, 0, s);
    ir_node(g, id)->i[0] = slot;
    return id;
}

int ir_param(struct ir *g, int tensor, struct shape s) {
    int id = ir_add(g, OP_PARAM, NULL, 0, s);
    ir_node(g, id)->i[0] = tensor;
    return id;
}

int ir_fill(struct ir *g, double v, struct shape s) {
    int id = ir_add(g, OP_FILL, NULL, 0, s);
    ir_node(g, id)->f[0] = v;
    return id;
}

static const char *elem_fill(const struct node *n, const char *const *a) {
    (void)a;
    return emit_real(n->f[0]);
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
    ir_node(g, id)->i[0] = ta;
    ir_node(g, id)->i[1] = tb;
    return id;
}

static void emit_matmul(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    const struct node *a = &p->ir.nodes.data[n->in[0]];
    bool ta = n->i[0], tb = n->i[1];
    int m = n->shape.d[0], nn = n->shape.d[1];
    int k = ta ? a->shape.d[0] : a->shape.d[1];
    int lda = a->shape.d[1], ldb = p->ir.nodes.data[n->in[1]].shape.d[1];
    emit_line(e, "gemm(%s, %s, %d, %d, %d, %s, %d, %s, %d, %s, %d);",
              ta ? "CblasTrans" : "CblasNoTrans", tb ? "CblasTrans" : "CblasNoTrans",
              m, nn, k, emit_ref(e, p, n->in[0]), lda, emit_ref(e, p, n->in[1]), ldb,
              emit_ref(e, p, id), nn);
}

/* An im2col operand is cheap to rebuild and large to keep: the backward
 * makes its own copy, so the forward's dies right after its GEMM. */
static int remat(struct ir *g, int id) {
    struct node n = *ir_node(g, id);
    if (n.op != OP_IM2COL)
        return id;
    return ir_im2col(g, n.in[0], n.i[0], n.i[1], n.i[2], n.i[3], n.i[4]);
}

static void vjp_matmul(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    int a = n->in[0], b = n->in[1];
    bool ta = n->i[0], tb = n->i[1];
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

/* ---- add_bias: x[..., C] + b[C], channels last -------------------------- */

static int channels(struct shape s) { return s.d[s.n - 1]; }

int ir_add_bias(struct ir *g, int x, int b) {
    struct shape sx = shape_of(g, x), sb = shape_of(g, b);
    if (sx.n < 2 || sb.n != 1 || sb.d[0] != channels(sx))
        unreachable();
    int in[2] = {x, b};
    return ir_add(g, OP_ADD_BIAS, in, 2, sx);
}

static const char *elem_add_bias(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("%s + %s", a[0], a[1]);
}

static void vjp_add_bias(struct ir *g, int node, int dy, const bool *need, int *dx) {
    (void)node;
    if (need[0])
        dx[0] = dy;
    if (need[1])
        dx[1] = ir_sum_channel(g, dy);
}

/* ---- sum_channel: x[..., C] -> [C] ------------------------------------- */

int ir_sum_channel(struct ir *g, int x) {
    struct shape sx = shape_of(g, x);
    if (sx.n < 2)
        unreachable();
    return ir_add(g, OP_SUM_CHANNEL, &x, 1, shape1(channels(sx)));
}

/* ---- mul_channel: x[..., C] * s[C], as batchnorm scales -------------------- */

int ir_mul_channel(struct ir *g, int x, int sc) {
    struct shape sx = shape_of(g, x), ss = shape_of(g, sc);
    if (sx.n < 2 || ss.n != 1 || ss.d[0] != channels(sx))
        unreachable();
    int in[2] = {x, sc};
    return ir_add(g, OP_MUL_CHANNEL, in, 2, sx);
}

static const char *elem_mul_channel(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("(%s) * %s", a[0], a[1]);
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

static const char *elem_rsqrt(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("1 / sqrt(%s)", a[0]);
}

/* d x^(-1/2) = -y^3 / 2, from the output */
static void vjp_rsqrt(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0]) {
        int y3 = ir_binary(g, OP_MUL, node, ir_unary(g, OP_SQUARE, node));
        dx[0] = ir_binary(g, OP_MUL, dy, ir_scale(g, y3, -0.5));
    }
}

/* ---- sqrt, for gradient norms ---------------------------------------------- */

static const char *elem_sqrt(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("sqrt(%s)", a[0]);
}

/* d sqrt(x) = 1 / (2 y), with 1/y as rsqrt(y^2), from the output */
static void vjp_sqrt(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_binary(g, OP_MUL, dy, ir_scale(g, ir_unary(g, OP_RSQRT, ir_unary(g, OP_SQUARE, node)), 0.5));
}

/* ---- uniform: U[0, 1) per element from a hash of (step, salt, element) ----- */

int ir_uniform(struct ir *g, struct shape s, int salt) {
    int id = ir_add(g, OP_UNIFORM, NULL, 0, s);
    ir_node(g, id)->i[0] = salt;
    return id;
}

static const char *elem_uniform(const struct node *n, const char *const *a) {
    (void)a;
    return xprintf("(real)hash_uniform(step_t, %d, i)", n->i[0]);
}

/* N(0, 1) per element, the same way: the VAE's reparameterization noise */
int ir_normal(struct ir *g, struct shape s, int salt) {
    int id = ir_add(g, OP_NORMAL, NULL, 0, s);
    ir_node(g, id)->i[0] = salt;
    return id;
}

static const char *elem_normal(const struct node *n, const char *const *a) {
    (void)a;
    return xprintf("(real)hash_normal(step_t, %d, i)", n->i[0]);
}

static const char *elem_exp(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("exp(%s)", a[0]);
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

static const char *elem_add_row(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("%s + %s", a[0], a[1]);
}

static const char *elem_mul_row(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("(%s) * %s", a[0], a[1]);
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

/* ---- labels: one-hot, learned embeddings, and their spread over pixels ---- */

int ir_onehot(struct ir *g, int y, int k) {
    int id = ir_add(g, OP_ONEHOT, &y, 1, shape2(shape_of(g, y).d[0], k));
    return id;
}

static void emit_onehot(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    int rows = n->shape.d[0], k = n->shape.d[1];
    const char *y = emit_ref(e, p, n->in[0]), *o = emit_ref(e, p, id);
    emit_line(e, "memset(%s, 0, %d * sizeof(real));", o, rows * k);
    emit_line(e, "for (int r = 0; r < %d; r++) (%s)[r * %d + (int)(%s)[r]] = 1;", rows, o, k, y);
}

/* embed(y, table[K, D]) = the rows of the table the labels pick */
int ir_embed(struct ir *g, int y, int table) {
    int in[2] = {y, table};
    return ir_add(g, OP_EMBED, in, 2, shape2(shape_of(g, y).d[0], shape_of(g, table).d[1]));
}

/* embed_grad(y, dy[N, D]) -> [K, D]: each row of dy added to its label's row */
static int ir_embed_grad(struct ir *g, int y, int dy, int k) {
    int in[2] = {y, dy};
    return ir_add(g, OP_EMBED_GRAD, in, 2, shape2(k, shape_of(g, dy).d[1]));
}

static void emit_embed(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    int rows = n->shape.d[0], d = n->shape.d[1];
    emit_line(e, "for (int r = 0; r < %d; r++) memcpy(%s + r * %d, %s + (int)(%s)[r] * %d, %d * sizeof(real));",
              rows, emit_ref(e, p, id), d, emit_ref(e, p, n->in[1]), emit_ref(e, p, n->in[0]), d, d);
}

static void emit_embed_grad(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    int k = n->shape.d[0], d = n->shape.d[1], rows = p->ir.nodes.data[n->in[1]].shape.d[0];
    const char *o = emit_ref(e, p, id), *dy = emit_ref(e, p, n->in[1]), *y = emit_ref(e, p, n->in[0]);
    emit_line(e, "memset(%s, 0, %d * sizeof(real));", o, k * d);
    emit_line(e, "for (int r = 0; r < %d; r++) for (int j = 0; j < %d; j++) (%s)[(int)(%s)[r] * %d + j] += (%s)[r * %d + j];",
              rows, d, o, y, d, dy, d);
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

/* bcast_hw(v[N, C]) -> [N, H, W, C]: the same vector at every pixel */
int ir_bcast_hw(struct ir *g, int v, int h, int w) {
    struct shape s = shape_of(g, v);
    return ir_add(g, OP_BCAST_HW, &v, 1, (struct shape){4, {s.d[0], h, w, s.d[1]}});
}

int ir_sum_hw(struct ir *g, int x) {
    struct shape s = shape_of(g, x);
    return ir_add(g, OP_SUM_HW, &x, 1, shape2(s.d[0], s.d[3]));
}

static void emit_bcast_hw(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    int rows = n->shape.d[0], hw = n->shape.d[1] * n->shape.d[2], c = n->shape.d[3];
    emit_line(e, "for (int r = 0; r < %d; r++) for (int q = 0; q < %d; q++) memcpy(%s + ((long)r * %d + q) * %d, "
              "%s + r * %d, %d * sizeof(real));", rows, hw, emit_ref(e, p, id), hw, c, emit_ref(e, p, n->in[0]), c, c);
}

static void emit_sum_hw(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    struct shape sx = p->ir.nodes.data[n->in[0]].shape;
    int rows = sx.d[0], hw = sx.d[1] * sx.d[2], c = sx.d[3];
    const char *o = emit_ref(e, p, id), *x = emit_ref(e, p, n->in[0]);
    emit_line(e, "memset(%s, 0, %d * sizeof(real));", o, rows * c);
    emit_line(e, "for (int r = 0; r < %d; r++) for (int q = 0; q < %d; q++) for (int j = 0; j < %d; j++) "
              "(%s)[r * %d + j] += (%s)[((long)r * %d + q) * %d + j];", rows, hw, c, o, c, x, hw, c);
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

/* ---- rows: a view of rows [off, off + len) of x, for multi-batch inputs ---- */

int ir_rows(struct ir *g, int x, int off, int len) {
    struct shape s = shape_of(g, x);
    if (off < 0 || len < 1 || off + len > s.d[0])
        unreachable();
    long per_row = shape_size(s) / s.d[0];
    s.d[0] = len;
    int id = ir_add(g, OP_ROWS, &x, 1, s);
    ir_node(g, id)->i[0] = (int)(off * per_row);
    return id;
}

/* ---- dropout: a mask from a hash of (step, salt, element) ------------------
 * Stateless, so the backward, a resumed run and a gradient check all see
 * the mask the forward saw.  Linear in x, so its VJP is itself. */

int ir_dropout(struct ir *g, int x, double p, int salt) {
    int id = ir_unary(g, OP_DROPOUT, x);
    ir_node(g, id)->f[0] = p;
    ir_node(g, id)->i[0] = salt;
    return id;
}

static const char *elem_dropout(const struct node *n, const char *const *a) {
    return xprintf("hash_uniform(step_t, %d, i) >= %s ? %s * %s : 0", n->i[0], emit_real(n->f[0]), a[0],
                   emit_real(1 / (1 - n->f[0])));
}

static void vjp_dropout(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    if (need[0])
        dx[0] = ir_dropout(g, dy, n->f[0], n->i[0]);
}

/* ---- im2col / col2im: x[N, H, W, C] <-> cols[N*Ho*Wo, k*k*C] ---------------
 * Row (n, ho, wo) of cols holds the k x k x C patch under output pixel
 * (ho, wo), zero outside the image.  col2im scatters and adds a patch matrix
 * back; the two are each other's adjoint, so conv = matmul(im2col(x), W^T)
 * and deconv = col2im(matmul(x, W)) differentiate, twice, for free.
 * i = k, stride, pad, ho, wo; the image geometry is in the [N, H, W, C] side. */

static void set_geom(struct node *n, int k, int s, int p, int ho, int wo) {
    n->i[0] = k, n->i[1] = s, n->i[2] = p, n->i[3] = ho, n->i[4] = wo;
}

int ir_im2col(struct ir *g, int x, int k, int s, int p, int ho, int wo) {
    struct shape sx = shape_of(g, x);
    if (sx.n != 4)
        unreachable();
    int id = ir_add(g, OP_IM2COL, &x, 1, shape2(sx.d[0] * ho * wo, k * k * sx.d[3]));
    set_geom(ir_node(g, id), k, s, p, ho, wo);
    return id;
}

int ir_col2im(struct ir *g, int cols, int n, int h, int w, int c, int k, int s, int p, int ho, int wo) {
    struct shape sc = shape_of(g, cols);
    if (sc.n != 2 || sc.d[0] != n * ho * wo || sc.d[1] != k * k * c)
        unreachable();
    int id = ir_add(g, OP_COL2IM, &cols, 1, (struct shape){4, {n, h, w, c}});
    set_geom(ir_node(g, id), k, s, p, ho, wo);
    return id;
}

/* The loop nest both directions share: for each patch row and kernel tap
 * inside the image, `body` moves C contiguous values. */
static void emit_patch_loops(struct emit *e, const struct node *n, struct shape img, bool read_cols, const char *body) {
    int k = n->i[0], s = n->i[1], p = n->i[2], ho = n->i[3], wo = n->i[4];
    int h = img.d[1], w = img.d[2], c = img.d[3];
    emit_open(e, "for (int n = 0; n < %d; n++) {", img.d[0]);
    emit_open(e, "for (int oh = 0; oh < %d; oh++) {", ho);
    emit_open(e, "for (int ow = 0; ow < %d; ow++) {", wo);
    emit_line(e, "long row = ((long)(n * %d + oh) * %d + ow) * %d;", ho, wo, k * k * c);
    emit_open(e, "for (int kh = 0; kh < %d; kh++) {", k);
    emit_line(e, "int ih = oh * %d - %d + kh;", s, p);
    emit_open(e, "for (int kw = 0; kw < %d; kw++) {", k);
    emit_line(e, "int iw = ow * %d - %d + kw;", s, p);
    emit_line(e, "%sreal *col = cols + row + (kh * %d + kw) * %d;", read_cols ? "const " : "", k, c);
    emit_line(e, "long pix = ((long)(n * %d + ih) * %d + iw) * %d;", h, w, c);
    emit_line(e, "%s", body);
    emit_close(e, NULL);
    emit_close(e, NULL);
    emit_close(e, NULL);
    emit_close(e, NULL);
    emit_close(e, NULL);
}

static void emit_im2col(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    struct shape img = p->ir.nodes.data[n->in[0]].shape;
    int c = img.d[3];
    emit_open(e, "{");
    emit_line(e, "const real *img = %s;", emit_ref(e, p, n->in[0]));
    emit_line(e, "real *cols = %s;", emit_ref(e, p, id));
    emit_patch_loops(e, n, img, false, xprintf("if (ih >= 0 && ih < %d && iw >= 0 && iw < %d) memcpy(col, img + pix, "
                                        "%d * sizeof(real)); else memset(col, 0, %d * sizeof(real));",
                                        img.d[1], img.d[2], c, c));
    emit_close(e, NULL);
}

static void emit_col2im(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    struct shape img = n->shape;
    int c = img.d[3];
    emit_open(e, "{");
    emit_line(e, "const real *cols = %s;", emit_ref(e, p, n->in[0]));
    emit_line(e, "real *img = %s;", emit_ref(e, p, id));
    emit_line(e, "memset(img, 0, %ld * sizeof(real));", shape_size(img));
    emit_patch_loops(e, n, img, true, xprintf("if (ih >= 0 && ih < %d && iw >= 0 && iw < %d) for (int c = 0; c < %d; "
                                        "c++) img[pix + c] += col[c];", img.d[1], img.d[2], c));
    emit_close(e, NULL);
}

static void vjp_im2col(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node n = *ir_node(g, node);
    struct shape img = shape_of(g, n.in[0]);
    if (need[0])
        dx[0] = ir_col2im(g, dy, img.d[0], img.d[1], img.d[2], img.d[3], n.i[0], n.i[1], n.i[2], n.i[3], n.i[4]);
}

static void vjp_col2im(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node n = *ir_node(g, node);
    if (need[0])
        dx[0] = ir_im2col(g, dy, n.i[0], n.i[1], n.i[2], n.i[3], n.i[4]);
}

/* ---- upsample (nearest) and sumpool: an adjoint pair; avgpool = sumpool / k^2 */

int ir_upsample(struct ir *g, int x, int f) {
    struct shape sx = shape_of(g, x);
    int id = ir_add(g, OP_UPSAMPLE, &x, 1, (struct shape){4, {sx.d[0], sx.d[1] * f, sx.d[2] * f, sx.d[3]}});
    ir_node(g, id)->i[0] = f;
    return id;
}

int ir_sumpool(struct ir *g, int x, int f) {
    struct shape sx = shape_of(g, x);
    if (sx.n != 4 || sx.d[1] % f || sx.d[2] % f)
        unreachable();
    int id = ir_add(g, OP_SUMPOOL, &x, 1, (struct shape){4, {sx.d[0], sx.d[1] / f, sx.d[2] / f, sx.d[3]}});
    ir_node(g, id)->i[0] = f;
    return id;
}

/* for each big (upsampled) pixel: its small pixel; body moves C values */
static void emit_pool_loops(struct emit *e, struct shape big, int f, const char *body) {
    emit_open(e, "for (int n = 0; n < %d; n++) {", big.d[0]);
    emit_open(e, "for (int h = 0; h < %d; h++) {", big.d[1]);
    emit_open(e, "for (int w = 0; w < %d; w++) {", big.d[2]);
    emit_line(e, "long b = ((long)(n * %d + h) * %d + w) * %d;", big.d[1], big.d[2], big.d[3]);
    emit_line(e, "long s = ((long)(n * %d + h / %d) * %d + w / %d) * %d;", big.d[1] / f, f, big.d[2] / f, f, big.d[3]);
    emit_line(e, "for (int c = 0; c < %d; c++) %s", big.d[3], body);
    emit_close(e, NULL);
    emit_close(e, NULL);
    emit_close(e, NULL);
}

static void emit_upsample(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    emit_open(e, "{");
    emit_line(e, "const real *x = %s;", emit_ref(e, p, n->in[0]));
    emit_line(e, "real *y = %s;", emit_ref(e, p, id));
    emit_pool_loops(e, n->shape, n->i[0], "y[b + c] = x[s + c];");
    emit_close(e, NULL);
}

static void emit_sumpool(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    emit_open(e, "{");
    emit_line(e, "const real *x = %s;", emit_ref(e, p, n->in[0]));
    emit_line(e, "real *y = %s;", emit_ref(e, p, id));
    emit_line(e, "memset(y, 0, %ld * sizeof(real));", shape_size(n->shape));
    emit_pool_loops(e, p->ir.nodes.data[n->in[0]].shape, n->i[0], "y[s + c] += x[b + c];");
    emit_close(e, NULL);
}

static void vjp_upsample(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_sumpool(g, dy, ir_node(g, node)->i[0]);
}

static void vjp_sumpool(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_upsample(g, dy, ir_node(g, node)->i[0]);
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
    ir_node(g, id)->i[0] = off;
    return id;
}

int ir_pad(struct ir *g, int x, int before, int after) {
    struct shape sx = shape_of(g, x);
    int id = ir_add(g, OP_PAD, &x, 1, with_channels(sx, before + channels(sx) + after));
    ir_node(g, id)->i[0] = before;
    return id;
}

/* y[r, off .. off+len) = x[r, 0 .. len), over rows r */
static void emit_rows_copy(struct emit *e, long rows, const char *dst, int dst_c, int dst_off, const char *src,
                           int src_c, int src_off, int len) {
    emit_line(e, "for (long r = 0; r < %ld; r++) memcpy(%s + r * %d + %d, %s + r * %d + %d, %d * sizeof(real));",
              rows, dst, dst_c, dst_off, src, src_c, src_off, len);
}

static void emit_concat(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    int ca = channels(p->ir.nodes.data[n->in[0]].shape), cb = channels(p->ir.nodes.data[n->in[1]].shape);
    long rows = shape_size(n->shape) / (ca + cb);
    emit_rows_copy(e, rows, emit_ref(e, p, id), ca + cb, 0, emit_ref(e, p, n->in[0]), ca, 0, ca);
    emit_rows_copy(e, rows, emit_ref(e, p, id), ca + cb, ca, emit_ref(e, p, n->in[1]), cb, 0, cb);
}

static void emit_slice(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    int c = channels(p->ir.nodes.data[n->in[0]].shape), len = channels(n->shape);
    emit_rows_copy(e, shape_size(n->shape) / len, emit_ref(e, p, id), len, 0, emit_ref(e, p, n->in[0]), c, n->i[0],
                   len);
}

static void emit_pad(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    int c = channels(p->ir.nodes.data[n->in[0]].shape), out = channels(n->shape);
    emit_line(e, "memset(%s, 0, %ld * sizeof(real));", emit_ref(e, p, id), shape_size(n->shape));
    emit_rows_copy(e, shape_size(n->shape) / out, emit_ref(e, p, id), out, n->i[0], emit_ref(e, p, n->in[0]), c, 0,
                   c);
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
    int c = channels(shape_of(g, n->in[0])), off = n->i[0], len = channels(n->shape);
    if (need[0])
        dx[0] = ir_pad(g, dy, off, c - off - len);
}

static void vjp_pad(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    if (need[0])
        dx[0] = ir_slice(g, dy, n->i[0], channels(shape_of(g, n->in[0])));
}

static void vjp_sum_channel(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0]) {
        struct shape sx = shape_of(g, ir_node(g, node)->in[0]);
        dx[0] = ir_add_bias(g, ir_fill(g, 0, sx), dy);
    }
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

static const char *elem_add(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("%s + %s", a[0], a[1]);
}

static const char *elem_sub(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("%s - (%s)", a[0], a[1]);
}

static const char *elem_mul(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("(%s) * (%s)", a[0], a[1]);
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
    ir_node(g, id)->f[0] = c;
    return id;
}

int ir_addc(struct ir *g, int x, double c) {
    int id = ir_unary(g, OP_ADDC, x);
    ir_node(g, id)->f[0] = c;
    return id;
}

static const char *elem_neg(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("-(%s)", a[0]);
}

static void vjp_neg(struct ir *g, int node, int dy, const bool *need, int *dx) {
    (void)node;
    if (need[0])
        dx[0] = ir_unary(g, OP_NEG, dy);
}

static const char *elem_scale(const struct node *n, const char *const *a) {
    return xprintf("%s * (%s)", emit_real(n->f[0]), a[0]);
}

static void vjp_scale(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_scale(g, dy, ir_node(g, node)->f[0]);
}

static const char *elem_addc(const struct node *n, const char *const *a) {
    return xprintf("%s + %s", a[0], emit_real(n->f[0]));
}

static void vjp_addc(struct ir *g, int node, int dy, const bool *need, int *dx) {
    (void)g, (void)node;
    if (need[0])
        dx[0] = dy;
}

static const char *elem_square(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("(%s) * (%s)", a[0], a[0]);
}

static void vjp_square(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_binary(g, OP_MUL, dy, ir_scale(g, ir_node(g, node)->in[0], 2));
}

/* |x|, for L1 losses: its VJP is lrelu_grad(x, dy) with slope -1, the sign
 * of x times dy (0 counts as negative, a subgradient). */
static const char *elem_abs(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("fabs(%s)", a[0]);
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
    ir_node(g, id)->f[0] = alpha;
    return id;
}

static const char *elem_leaky_relu(const struct node *n, const char *const *a) {
    if (n->f[0] == 0)
        return xprintf("%s > 0 ? %s : 0", a[0], a[0]);
    return xprintf("%s > 0 ? %s : %s * %s", a[0], a[0], emit_real(n->f[0]), a[0]);
}

static void vjp_leaky_relu(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0])
        dx[0] = ir_leaky_relu_grad(g, node, dy, ir_node(g, node)->f[0]);
}

/* lrelu_grad(y, dy) = y > 0 ? dy : a*dy.  Linear in dy; piecewise constant
 * in y, whose gradient is zero almost everywhere. */
int ir_leaky_relu_grad(struct ir *g, int y, int dy, double alpha) {
    int in[2] = {y, dy};
    int id = ir_add(g, OP_LRELU_GRAD, in, 2, shape_of(g, dy));
    ir_node(g, id)->f[0] = alpha;
    return id;
}

static const char *elem_lrelu_grad(const struct node *n, const char *const *a) {
    if (n->f[0] == 0)
        return xprintf("%s > 0 ? %s : 0", a[0], a[1]);
    return xprintf("%s > 0 ? %s : %s * %s", a[0], a[1], emit_real(n->f[0]), a[1]);
}

static void vjp_lrelu_grad(struct ir *g, int node, int dy, const bool *need, int *dx) {
    struct node *n = ir_node(g, node);
    if (need[1])
        dx[1] = ir_leaky_relu_grad(g, n->in[0], dy, n->f[0]);
}

static const char *elem_tanh(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("tanh(%s)", a[0]);
}

/* d tanh = 1 - y^2, from the output */
static void vjp_tanh(struct ir *g, int node, int dy, const bool *need, int *dx) {
    if (need[0]) {
        int one_minus = ir_addc(g, ir_unary(g, OP_NEG, ir_unary(g, OP_SQUARE, node)), 1);
        dx[0] = ir_binary(g, OP_MUL, dy, one_minus);
    }
}

static const char *elem_sigmoid(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("1 / (1 + exp(-(%s)))", a[0]);
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
static const char *elem_softplus(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("softplus(%s)", a[0]);
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

static const char *elem_broadcast(const struct node *n, const char *const *a) {
    (void)n;
    return xstrdup(a[0]);
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

/* ---- effects ------------------------------------------------------------ */

int ir_effect(struct ir *g, enum op op, const int *in, int n_in) {
    return ir_add(g, op, in, n_in, shape1(1));
}

/* adam(param, grad, m, v): f = lr, beta1, beta2, eps, weight_decay */
static void emit_adam(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    const struct node *w = &p->ir.nodes.data[n->in[0]];
    /* run k of `steps` per training step: Adam counts every run */
    const char *t = n->i[0] > 1 ? xprintf("(t - 1) * %d + %d", n->i[0], n->i[1] + 1) : "t";
    emit_line(e, "adam_update(%s, %s, %s, %s, %ld, %s, %s, %s, %s, %s, %s);",
              emit_ref(e, p, n->in[0]), emit_ref(e, p, n->in[1]), emit_ref(e, p, n->in[2]),
              emit_ref(e, p, n->in[3]), shape_size(w->shape), emit_real(n->f[0]),
              emit_real(n->f[1]), emit_real(n->f[2]), emit_real(n->f[3]), emit_real(n->f[4]), t);
}

/* sgd(param, grad[, momentum buffer]): f = lr, momentum, weight_decay; i[0] = nesterov */
static void emit_sgd(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    const struct node *w = &p->ir.nodes.data[n->in[0]];
    emit_line(e, "sgd_update(%s, %s, %s, %ld, %s, %s, %s, %d);",
              emit_ref(e, p, n->in[0]), emit_ref(e, p, n->in[1]),
              n->n_in > 2 ? emit_ref(e, p, n->in[2]) : "NULL", shape_size(w->shape),
              emit_real(n->f[0]), emit_real(n->f[1]), emit_real(n->f[2]), n->i[0]);
}

/* output(x): out[slot] = x[0], a metric or a loss; a vector x[N] goes to
 * out[i * stride + slot] (i[1] = stride), per-example values */
static void emit_output(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    long size = shape_size(p->ir.nodes.data[n->in[0]].shape);
    if (size == 1)
        emit_line(e, "out[%d] = (double)*(%s);", n->i[0], emit_ref(e, p, n->in[0]));
    else
        emit_line(e, "for (int i = 0; i < %ld; i++) out[i * %d + %d] = (double)(%s)[i];", size, n->i[1], n->i[0],
                  emit_ref(e, p, n->in[0]));
}

/* store_grad(x): a parameter gradient into the caller's g, at the
 * parameter's offset in the state array */
static void emit_store_grad(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    emit_line(e, "memcpy(g + %ld, %s, %ld * sizeof(real));", (long)n->i[1],
              emit_ref(e, p, n->in[0]), shape_size(p->ir.nodes.data[n->in[0]].shape));
}

/* rmsprop(param, grad, square_avg[, grad_avg][, momentum]): f = lr, alpha,
 * eps, weight_decay, momentum; i[0] = centered, i[1] = has a momentum buffer */
static void emit_rmsprop(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    const char *gavg = n->i[0] ? emit_ref(e, p, n->in[3]) : "NULL";
    const char *buf = n->i[1] ? emit_ref(e, p, n->in[3 + n->i[0]]) : "NULL";
    emit_line(e, "rmsprop_update(%s, %s, %s, %s, %s, %ld, %s, %s, %s, %s, %s);", emit_ref(e, p, n->in[0]),
              emit_ref(e, p, n->in[1]), emit_ref(e, p, n->in[2]), gavg, buf,
              shape_size(p->ir.nodes.data[n->in[0]].shape), emit_real(n->f[0]), emit_real(n->f[1]),
              emit_real(n->f[2]), emit_real(n->f[3]), emit_real(n->f[4]));
}

/* clip(param): WGAN's weight clipping to [-c, c], after the critic's step */
static void emit_clip(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    emit_line(e, "clip_update(%s, %ld, %s);", emit_ref(e, p, n->in[0]), shape_size(p->ir.nodes.data[n->in[0]].shape),
              emit_real(n->f[0]));
}

/* bn_stats(mean, var, running_mean, running_var): the running statistics
 * batchnorm keeps for eval mode; f = momentum, the unbiased-variance factor */
static void emit_bn_stats(struct emit *e, const struct program *p, int id) {
    const struct node *n = &p->ir.nodes.data[id];
    emit_line(e, "bn_running_update(%s, %s, %s, %s, %ld, %s, %s);", emit_ref(e, p, n->in[2]), emit_ref(e, p, n->in[3]),
              emit_ref(e, p, n->in[0]), emit_ref(e, p, n->in[1]), shape_size(p->ir.nodes.data[n->in[0]].shape),
              emit_real(n->f[0]), emit_real(n->f[1]));
}

/* ---- the table ---------------------------------------------------------- */

const struct op_info op_table[OP_COUNT] = {
#define OP(name, str, arity, kind, elem, stmt, vjp) [OP_##name] = {str, arity, kind, elem, stmt, vjp},
#include "ops.def"
#undef OP
};

_Static_assert(sizeof op_table / sizeof op_table[0] == OP_COUNT, "ops.def and op_table disagree");

void op_vjp(struct ir *g, int node, int dy, const bool *need, int *dx) {
    const struct op_info *info = &op_table[ir_node(g, node)->op];
    for (int i = 0; i < 4; i++)
        dx[i] = -1;
    if (!info->vjp)
        unreachable();
    info->vjp(g, node, dy, need, dx);
}
