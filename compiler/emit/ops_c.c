/* ops_c.c: the C each IR op becomes.  One row per op, in ops.def's order:
 * an elementwise op gives its scalar expression (fused loops are built
 * around it), a kernel or an effect prints its statements.  Sources, views
 * and reductions have no row of their own: the loops around them are the
 * emitter's (emit_body).  A kernel's row is where the choice of its code
 * lives (a BLAS call or a loop nest), per op and per shape. */
#include "emit.h"
#include "genrt_model.h"

#include <string.h>

/* elementwise: the C expression of one element, given its operands' */
typedef const char *(*c_expr_fn)(const struct node *n, const char *const *a);
/* kernels and effects: the statements computing node id */
typedef void (*c_stmt_fn)(struct emit *e, const struct program *p, int id);

static const struct node *node_of(const struct program *p, int id) { return &p->ir.nodes.data[id]; }
static const struct node *in_node(const struct program *p, const struct node *n, int i) {
    return &p->ir.nodes.data[n->in[i]];
}
static int channels(struct shape s) { return s.d[s.n - 1]; }

/* ---- elementwise ---------------------------------------------------------- */

static const char *c_fill(const struct node *n, const char *const *a) {
    (void)a;
    return emit_real(n->a.fill.value);
}

static const char *c_add(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("%s + %s", a[0], a[1]);
}

/* a per-channel or per-example factor is a plain load */
static const char *c_mul_bcast(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("(%s) * %s", a[0], a[1]);
}

static const char *c_rsqrt(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("1 / sqrt(%s)", a[0]);
}

static const char *c_sqrt(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("sqrt(%s)", a[0]);
}

/* The element index a random op hashes: i, or, in a --mpi step, i's index
 * in the global batch (this rank's rows start at row0 of it). */
static const char *hash_index(const struct node *n) {
    long rs = shape_size(n->shape) / n->shape.d[0];
    if (!n->per_rank)
        return "i";
    if (n->shape.d[0] == n->per_rank)
        return xprintf("(i + row0 * %ld)", rs);
    return xprintf("(rank_row(i / %ld, %d, BATCH, row0) * %ld + i %% %ld)", rs, n->per_rank, rs, rs);
}

/* ... and the example index of a per-example draw, b */
static const char *hash_example(const struct node *n, const char *b) {
    return n->per_rank ? xprintf("rank_row(%s, %d, BATCH, row0)", b, n->per_rank) : b;
}

static const char *c_uniform(const struct node *n, const char *const *a) {
    (void)a;
    return xprintf("(real)hash_uniform(step_t, %d, %s)", n->a.uniform.salt, hash_index(n));
}

static const char *c_normal(const struct node *n, const char *const *a) {
    (void)a;
    return xprintf("(real)hash_normal(step_t, %d, %s)", n->a.normal.salt, hash_index(n));
}

static const char *c_exp(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("exp(%s)", a[0]);
}

static const char *c_cutout(const struct node *n, const char *const *a) {
    long h = n->shape.d[1], w = n->shape.d[2], c = n->shape.d[3];
    return xprintf("hash_cutout_keeps(step_t, %d, %s, i / %ld %% %ld, i / %ld %% %ld, %ld, %ld, %d, %d) ? %s : 0",
                   n->a.cutout.salt, hash_example(n, xprintf("i / %ld", h * w * c)), w * c, h, c, w, h, w,
                   n->a.cutout.sh, n->a.cutout.sw, a[0]);
}

static const char *c_dropout(const struct node *n, const char *const *a) {
    double p = n->a.dropout.p;
    return xprintf("hash_uniform(step_t, %d, %s) >= %s ? %s * %s : 0", n->a.dropout.salt, hash_index(n), emit_real(p), a[0],
                   emit_real(1 / (1 - p)));
}

static const char *c_sub(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("%s - (%s)", a[0], a[1]);
}

static const char *c_mul(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("(%s) * (%s)", a[0], a[1]);
}

static const char *c_neg(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("-(%s)", a[0]);
}

static const char *c_scale(const struct node *n, const char *const *a) {
    return xprintf("%s * (%s)", emit_real(n->a.scale.c), a[0]);
}

static const char *c_addc(const struct node *n, const char *const *a) {
    return xprintf("%s + %s", a[0], emit_real(n->a.addc.c));
}

static const char *c_square(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("(%s) * (%s)", a[0], a[0]);
}

static const char *c_abs(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("fabs(%s)", a[0]);
}

/* x > 0 ? v : alpha v, for the activation (v = x) and its gradient (v = dy) */
static const char *c_slope(double alpha, const char *x, const char *v) {
    if (alpha == 0)
        return xprintf("%s > 0 ? %s : 0", x, v);
    return xprintf("%s > 0 ? %s : %s * %s", x, v, emit_real(alpha), v);
}

static const char *c_leaky_relu(const struct node *n, const char *const *a) {
    return c_slope(n->a.leaky_relu.alpha, a[0], a[0]);
}

static const char *c_lrelu_grad(const struct node *n, const char *const *a) {
    return c_slope(n->a.lrelu_grad.alpha, a[0], a[1]);
}

static const char *c_elu(const struct node *n, const char *const *a) {
    return xprintf("%s > 0 ? %s : %s * expm1(%s)", a[0], a[0], emit_real(n->a.elu.alpha), a[0]);
}

static const char *c_elu_grad(const struct node *n, const char *const *a) {
    return xprintf("%s > 0 ? %s : (%s + %s) * %s", a[0], a[1], a[0], emit_real(n->a.elu_grad.alpha), a[1]);
}

static const char *c_tanh(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("tanh(%s)", a[0]);
}

static const char *c_sigmoid(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("1 / (1 + exp(-(%s)))", a[0]);
}

static const char *c_softplus(const struct node *n, const char *const *a) {
    (void)n;
    return xprintf("softplus(%s)", a[0]);
}

static const char *c_broadcast(const struct node *n, const char *const *a) {
    (void)n;
    return xstrdup(a[0]);
}

/* ---- convolutions oneDNN may run (compiler/passes/conv.c) ----------------- */

/* Before a guest's statement: it runs only when oneDNN does not run its
 * convolution. */
static void guest_open(struct emit *e, const struct node *n) {
    if (!n->conv_guest)
        return;
    emit_line(e, "#if GENC_DNNL");
    emit_line(e, "if (!genrt_dnnl())");
    emit_line(e, "#endif");
}

/* Before a convolution node's own statement (genc's im2col and GEMM, which
 * follows as the else branch): oneDNN's call of the same pass, when it is
 * on (genrt_dnnl.h). */
static void conv_open(struct emit *e, const struct program *p, int id) {
    static const char *const pass[] = {[CONV_FWD] = "GENRT_CONV_FWD", [CONV_BWD_DATA] = "GENRT_CONV_BWD_DATA",
                                       [CONV_BWD_W] = "GENRT_CONV_BWD_W"};
    const struct node *n = node_of(p, id);
    if (n->conv == CONV_NONE)
        return;
    const struct node *gn = node_of(p, conv_guest_of(p, id));
    struct shape img = n->conv == CONV_BWD_DATA ? n->shape : in_node(p, gn, 0)->shape;
    struct geom_attr ge = n->conv == CONV_BWD_DATA ? n->a.geom : gn->a.geom;
    int co = n->conv == CONV_FWD ? n->shape.d[1] : n->conv == CONV_BWD_W ? n->shape.d[0] : in_node(p, gn, 1)->shape.d[0];
    /* the inputs as genrt_conv_run takes them: x and W, dy and W, x and dy */
    int a = gn->in[0], b = n->conv == CONV_FWD ? n->in[1] : n->conv == CONV_BWD_W ? n->in[0] : gn->in[1];
    emit_line(e, "#if GENC_DNNL");
    emit_open(e, "if (genrt_dnnl()) {");
    emit_line(e, "static struct genrt_conv conv = {%s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, NULL};", pass[n->conv],
              img.d[0], img.d[1], img.d[2], img.d[3], co, ge.k, ge.stride, ge.pad, ge.ho, ge.wo);
    emit_line(e, "genrt_conv_run(&conv, %s, %s, %s);", emit_ref(e, p, a), emit_ref(e, p, b), emit_ref(e, p, id));
    emit_close(e, " else");
    emit_line(e, "#endif");
}

/* ---- matmul -------------------------------------------------------------- */

static void c_matmul(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id), *a = in_node(p, n, 0);
    bool ta = n->a.matmul.ta, tb = n->a.matmul.tb;
    int m = n->shape.d[0], nn = n->shape.d[1];
    int k = ta ? a->shape.d[0] : a->shape.d[1];
    int lda = a->shape.d[1], ldb = in_node(p, n, 1)->shape.d[1];
    const struct node *b = in_node(p, n, 1);
    if (e->const_int8 && b->op == OP_PARAM && e->const_int8[b->a.param.tensor]) {
        /* a sampler's int8 weights (NoTrans: quantize_weights picks only those) */
        const char *w = emit_ref(e, p, n->in[1]);
        emit_line(e, "qgemm(%d, %d, %d, %s, %d, %s, %d, %s_scale, %d, %s, %d);", m, nn, k, emit_ref(e, p, n->in[0]), lda,
                  w, ldb, w, e->const_int8[b->a.param.tensor], emit_ref(e, p, id), nn);
        return;
    }
    guest_open(e, n);
    conv_open(e, p, id);
    emit_line(e, "gemm(%s, %s, %d, %d, %d, %s, %d, %s, %d, %s, %d);",
              ta ? "CblasTrans" : "CblasNoTrans", tb ? "CblasTrans" : "CblasNoTrans",
              m, nn, k, emit_ref(e, p, n->in[0]), lda, emit_ref(e, p, n->in[1]), ldb,
              emit_ref(e, p, id), nn);
}

/* ---- im2col / col2im ------------------------------------------------------ */

/* The loop nest both directions share: for each patch row and kernel tap
 * inside the image, `body` moves C contiguous values. */
static void patch_loops(struct emit *e, struct geom_attr ge, struct shape img, bool read_cols, const char *body) {
    int k = ge.k, s = ge.stride, p = ge.pad, ho = ge.ho, wo = ge.wo;
    int h = img.d[1], w = img.d[2], c = img.d[3];
    /* each image's patches and pixels are its own: split over threads */
    if (e->parallel && (long)img.d[0] * ho * wo * k * k * c >= EMIT_PAR_MIN)
        emit_line(e, "PARALLEL_FOR");
    emit_open(e, "for (int n = 0; n < %d; n++) {", img.d[0]);
    if (read_cols) /* col2im: this image's sums start at zero */
        emit_line(e, "memset(img + (long)n * %ld, 0, %ld * sizeof(real));", (long)h * w * c, (long)h * w * c);
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
    for (int i = 0; i < 5; i++)
        emit_close(e, NULL);
}

static void c_im2col(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    struct shape img = in_node(p, n, 0)->shape;
    int c = img.d[3];
    guest_open(e, n);
    emit_open(e, "{");
    emit_line(e, "const real *img = %s;", emit_ref(e, p, n->in[0]));
    emit_line(e, "real *cols = %s;", emit_ref(e, p, id));
    patch_loops(e, n->a.geom, img, false, xprintf("if (ih >= 0 && ih < %d && iw >= 0 && iw < %d) memcpy(col, img + pix, "
                                                  "%d * sizeof(real)); else memset(col, 0, %d * sizeof(real));",
                                                  img.d[1], img.d[2], c, c));
    emit_close(e, NULL);
}

static void c_col2im(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    struct shape img = n->shape;
    int c = img.d[3];
    conv_open(e, p, id);
    emit_open(e, "{");
    emit_line(e, "const real *cols = %s;", emit_ref(e, p, n->in[0]));
    emit_line(e, "real *img = %s;", emit_ref(e, p, id));
    patch_loops(e, n->a.geom, img, true, xprintf("if (ih >= 0 && ih < %d && iw >= 0 && iw < %d) for (int c = 0; c < %d; "
                                                 "c++) img[pix + c] += col[c];", img.d[1], img.d[2], c));
    emit_close(e, NULL);
}

/* ---- upsample, sumpool ---------------------------------------------------- */

/* for each big (upsampled) pixel: its small pixel; body moves C values */
static void pool_loops(struct emit *e, struct shape big, int f, const char *body) {
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

static void c_upsample(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    emit_open(e, "{");
    emit_line(e, "const real *x = %s;", emit_ref(e, p, n->in[0]));
    emit_line(e, "real *y = %s;", emit_ref(e, p, id));
    pool_loops(e, n->shape, n->a.pool.factor, "y[b + c] = x[s + c];");
    emit_close(e, NULL);
}

static void c_translate(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    struct shape s = n->shape;
    /* a --mpi step's examples are its rank's of the global batch */
    const char *rows = n->per_rank ? xprintf("row0, %d, BATCH", n->per_rank) : xprintf("0, %d, %d", s.d[0], s.d[0]);
    emit_line(e, "translate_images(%s, %s, %d, %d, %d, %d, %d, %d, step_t, %d, %d, %s);", emit_ref(e, p, n->in[0]),
              emit_ref(e, p, id), s.d[0], s.d[1], s.d[2], s.d[3], n->a.translate.sh, n->a.translate.sw,
              n->a.translate.salt, n->a.translate.sign, rows);
}

static void c_sumpool(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    emit_open(e, "{");
    emit_line(e, "const real *x = %s;", emit_ref(e, p, n->in[0]));
    emit_line(e, "real *y = %s;", emit_ref(e, p, id));
    emit_line(e, "memset(y, 0, %ld * sizeof(real));", shape_size(n->shape));
    pool_loops(e, in_node(p, n, 0)->shape, n->a.pool.factor, "y[s + c] += x[b + c];");
    emit_close(e, NULL);
}

/* ---- concat, slice, pad --------------------------------------------------- */

/* y[r, off .. off+len) = x[r, 0 .. len), over rows r */
static void rows_copy(struct emit *e, long rows, const char *dst, int dst_c, int dst_off, const char *src, int src_c,
                      int src_off, int len) {
    emit_line(e, "for (long r = 0; r < %ld; r++) memcpy(%s + r * %d + %d, %s + r * %d + %d, %d * sizeof(real));",
              rows, dst, dst_c, dst_off, src, src_c, src_off, len);
}

static void c_concat(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    int ca = channels(in_node(p, n, 0)->shape), cb = channels(in_node(p, n, 1)->shape);
    long rows = shape_size(n->shape) / (ca + cb);
    rows_copy(e, rows, emit_ref(e, p, id), ca + cb, 0, emit_ref(e, p, n->in[0]), ca, 0, ca);
    rows_copy(e, rows, emit_ref(e, p, id), ca + cb, ca, emit_ref(e, p, n->in[1]), cb, 0, cb);
}

static void c_slice(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    int c = channels(in_node(p, n, 0)->shape), len = channels(n->shape);
    rows_copy(e, shape_size(n->shape) / len, emit_ref(e, p, id), len, 0, emit_ref(e, p, n->in[0]), c,
              n->a.slice.off, len);
}

static void c_pad(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    int c = channels(in_node(p, n, 0)->shape), out = channels(n->shape);
    emit_line(e, "memset(%s, 0, %ld * sizeof(real));", emit_ref(e, p, id), shape_size(n->shape));
    rows_copy(e, shape_size(n->shape) / out, emit_ref(e, p, id), out, n->a.pad.before, emit_ref(e, p, n->in[0]), c, 0,
              c);
}

/* ---- labels ---------------------------------------------------------------- */

static void c_onehot(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    int rows = n->shape.d[0], k = n->shape.d[1];
    const char *y = emit_ref(e, p, n->in[0]), *o = emit_ref(e, p, id);
    emit_line(e, "memset(%s, 0, %d * sizeof(real));", o, rows * k);
    emit_line(e, "for (int r = 0; r < %d; r++) (%s)[r * %d + (int)(%s)[r]] = 1;", rows, o, k, y);
}

static void c_embed(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    int rows = n->shape.d[0], d = n->shape.d[1];
    emit_line(e, "for (int r = 0; r < %d; r++) memcpy(%s + r * %d, %s + (int)(%s)[r] * %d, %d * sizeof(real));",
              rows, emit_ref(e, p, id), d, emit_ref(e, p, n->in[1]), emit_ref(e, p, n->in[0]), d, d);
}

static void c_embed_grad(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    int k = n->shape.d[0], d = n->shape.d[1], rows = in_node(p, n, 1)->shape.d[0];
    const char *o = emit_ref(e, p, id), *dy = emit_ref(e, p, n->in[1]), *y = emit_ref(e, p, n->in[0]);
    emit_line(e, "memset(%s, 0, %d * sizeof(real));", o, k * d);
    emit_line(e, "for (int r = 0; r < %d; r++) for (int j = 0; j < %d; j++) (%s)[(int)(%s)[r] * %d + j] += (%s)[r * %d + j];",
              rows, d, o, y, d, dy, d);
}

static void c_bcast_hw(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    int rows = n->shape.d[0], hw = n->shape.d[1] * n->shape.d[2], c = n->shape.d[3];
    emit_line(e, "for (int r = 0; r < %d; r++) for (int q = 0; q < %d; q++) memcpy(%s + ((long)r * %d + q) * %d, "
              "%s + r * %d, %d * sizeof(real));", rows, hw, emit_ref(e, p, id), hw, c, emit_ref(e, p, n->in[0]), c, c);
}

static void c_sum_hw(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    struct shape sx = in_node(p, n, 0)->shape;
    int rows = sx.d[0], hw = sx.d[1] * sx.d[2], c = sx.d[3];
    const char *o = emit_ref(e, p, id), *x = emit_ref(e, p, n->in[0]);
    emit_line(e, "memset(%s, 0, %d * sizeof(real));", o, rows * c);
    emit_line(e, "for (int r = 0; r < %d; r++) for (int q = 0; q < %d; q++) for (int j = 0; j < %d; j++) "
              "(%s)[r * %d + j] += (%s)[((long)r * %d + q) * %d + j];", rows, hw, c, o, c, x, hw, c);
}

/* per row: the max, then the sum of exp(x - max) in double */
static void c_logsumexp(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    long rows = n->shape.d[0], k = shape_size(in_node(p, n, 0)->shape) / rows;
    const char *x = emit_ref(e, p, n->in[0]), *o = emit_ref(e, p, id);
    emit_open(e, "for (long r = 0; r < %ld; r++) {", rows);
    emit_line(e, "const real *xr = %s + r * %ld;", x, k);
    emit_line(e, "real mx = xr[0];");
    emit_line(e, "double s = 0;");
    emit_line(e, "for (long j = 1; j < %ld; j++) mx = xr[j] > mx ? xr[j] : mx;", k);
    emit_line(e, "for (long j = 0; j < %ld; j++) s += exp((double)(xr[j] - mx));", k);
    emit_line(e, "(%s)[r] = mx + (real)log(s);", o);
    emit_close(e, NULL);
}

static void c_argmax(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    long rows = n->shape.d[0], k = shape_size(in_node(p, n, 0)->shape) / rows;
    const char *x = emit_ref(e, p, n->in[0]), *o = emit_ref(e, p, id);
    emit_open(e, "for (long r = 0; r < %ld; r++) {", rows);
    emit_line(e, "const real *xr = %s + r * %ld;", x, k);
    emit_line(e, "long best = 0;");
    emit_line(e, "for (long j = 1; j < %ld; j++) best = xr[j] > xr[best] ? j : best;", k);
    emit_line(e, "(%s)[r] = (real)best;", o);
    emit_close(e, NULL);
}

/* ---- effects -------------------------------------------------------------- */

static long in_size(const struct program *p, const struct node *n, int i) { return shape_size(in_node(p, n, i)->shape); }

static void c_adam(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    const struct adam_attr *a = &n->a.adam;
    /* run k of `runs` per training step: Adam counts every run */
    const char *t = a->runs > 1 ? xprintf("(t - 1) * %d + %d", a->runs, a->run + 1) : "t";
    emit_line(e, "adam_update(%s, %s, %s, %s, %ld, %s, %s, %s, %s, %s, %s);",
              emit_ref(e, p, n->in[0]), emit_ref(e, p, n->in[1]), emit_ref(e, p, n->in[2]),
              emit_ref(e, p, n->in[3]), in_size(p, n, 0), emit_real(a->lr),
              emit_real(a->beta1), emit_real(a->beta2), emit_real(a->eps), emit_real(a->weight_decay), t);
}

static void c_sgd(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    const struct sgd_attr *a = &n->a.sgd;
    emit_line(e, "sgd_update(%s, %s, %s, %ld, %s, %s, %s, %d);",
              emit_ref(e, p, n->in[0]), emit_ref(e, p, n->in[1]),
              n->n_in > 2 ? emit_ref(e, p, n->in[2]) : "NULL", in_size(p, n, 0),
              emit_real(a->lr), emit_real(a->momentum), emit_real(a->weight_decay), a->nesterov);
}

/* out[slot] = x[0], a metric or a loss; a vector x[N] goes to
 * out[i * stride + slot], per-example values */
static void c_output(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    long size = in_size(p, n, 0);
    if (size == 1)
        emit_line(e, "out[%d] = (double)*(%s);", n->a.output.slot, emit_ref(e, p, n->in[0]));
    else
        emit_line(e, "for (int i = 0; i < %ld; i++) out[i * %d + %d] = (double)(%s)[i];", size, n->a.output.stride,
                  n->a.output.slot, emit_ref(e, p, n->in[0]));
}

/* a parameter gradient into the caller's g, at the parameter's offset in
 * the state array */
static void c_store_grad(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    emit_line(e, "memcpy(g + %ld, %s, %ld * sizeof(real));", n->a.store_grad.offset, emit_ref(e, p, n->in[0]),
              in_size(p, n, 0));
}

static void c_bn_stats(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    emit_line(e, "bn_running_update(%s, %s, %s, %s, %ld, %s, %s);", emit_ref(e, p, n->in[2]), emit_ref(e, p, n->in[3]),
              emit_ref(e, p, n->in[0]), emit_ref(e, p, n->in[1]), in_size(p, n, 0),
              emit_real(n->a.bn_stats.momentum), emit_real(n->a.bn_stats.unbias));
}

static void c_rmsprop(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    const struct rmsprop_attr *a = &n->a.rmsprop;
    const char *gavg = a->grad_avg >= 0 ? emit_ref(e, p, n->in[a->grad_avg]) : "NULL";
    const char *buf = a->buf >= 0 ? emit_ref(e, p, n->in[a->buf]) : "NULL";
    emit_line(e, "rmsprop_update(%s, %s, %s, %s, %s, %ld, %s, %s, %s, %s, %s);", emit_ref(e, p, n->in[0]),
              emit_ref(e, p, n->in[1]), emit_ref(e, p, n->in[2]), gavg, buf, in_size(p, n, 0), emit_real(a->lr),
              emit_real(a->alpha), emit_real(a->eps), emit_real(a->weight_decay), emit_real(a->momentum));
}

static void c_clip(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    emit_line(e, "clip_update(%s, %ld, %s);", emit_ref(e, p, n->in[0]), in_size(p, n, 0), emit_real(n->a.clip.c));
}

static void c_ema(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    emit_line(e, "ema_update(%s, %s, %ld, %s);", emit_ref(e, p, n->in[0]), emit_ref(e, p, n->in[1]),
              in_size(p, n, 0), emit_real(n->a.ema.decay));
}

static void c_sn_power(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    struct shape sw = in_node(p, n, 0)->shape;
    emit_line(e, "sn_power_update(%s, %s, %s, %d, %d, %d);", emit_ref(e, p, n->in[0]), emit_ref(e, p, n->in[1]),
              emit_ref(e, p, n->in[2]), sw.d[0], sw.d[1], n->a.sn_power.rows_first);
}

/* genc --mpi: the mean over the ranks (genrt_model.h, genrt_mpi_mean) */
static void c_rank_mean(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    const char *x = emit_ref(e, p, n->in[0]), *y = emit_ref(e, p, id);
    if (strcmp(x, y) != 0)
        emit_line(e, "memcpy(%s, %s, %ld * sizeof(real));", y, x, shape_size(n->shape));
    emit_line(e, "genrt_mpi_mean(%s, %ld, sizeof(real));", y, shape_size(n->shape));
}

static void c_allreduce(struct emit *e, const struct program *p, int id) {
    const struct node *n = node_of(p, id);
    if (e->ar_slot && e->ar_slot[id] >= 0)
        emit_line(e, "genrt_mpi_wait(%d); /* started after the gradient was computed */", e->ar_slot[id]);
    else
        emit_line(e, "genrt_mpi_mean(%s, %ld, sizeof(real));", emit_ref(e, p, n->in[0]), in_size(p, n, 0));
}

/* ---- the table: one row per op, in ops.def's order ------------------------ */

struct op_c {
    enum op op;
    c_expr_fn expr;  /* S_ELEM */
    c_stmt_fn stmt;  /* S_KERNEL, S_EFFECT */
};

static const struct op_c op_c_table[] = {
    {OP_INPUT, NULL, NULL},
    {OP_PARAM, NULL, NULL},
    {OP_FILL, c_fill, NULL},
    {OP_MATMUL, NULL, c_matmul},
    {OP_IM2COL, NULL, c_im2col},
    {OP_COL2IM, NULL, c_col2im},
    {OP_UPSAMPLE, NULL, c_upsample},
    {OP_TRANSLATE, NULL, c_translate},
    {OP_SUMPOOL, NULL, c_sumpool},
    {OP_CONCAT, NULL, c_concat},
    {OP_SLICE, NULL, c_slice},
    {OP_PAD, NULL, c_pad},
    {OP_ONEHOT, NULL, c_onehot},
    {OP_EMBED, NULL, c_embed},
    {OP_EMBED_GRAD, NULL, c_embed_grad},
    {OP_BCAST_HW, NULL, c_bcast_hw},
    {OP_SUM_HW, NULL, c_sum_hw},
    {OP_LOGSUMEXP, NULL, c_logsumexp},
    {OP_ARGMAX, NULL, c_argmax},
    {OP_RANK_MEAN, NULL, c_rank_mean},
    {OP_ADD_BIAS, c_add, NULL},
    {OP_MUL_CHANNEL, c_mul_bcast, NULL},
    {OP_RSQRT, c_rsqrt, NULL},
    {OP_SQRT, c_sqrt, NULL},
    {OP_UNIFORM, c_uniform, NULL},
    {OP_NORMAL, c_normal, NULL},
    {OP_EXP, c_exp, NULL},
    {OP_ADD_ROW, c_add, NULL},
    {OP_MUL_ROW, c_mul_bcast, NULL},
    {OP_DROPOUT, c_dropout, NULL},
    {OP_CUTOUT, c_cutout, NULL},
    {OP_ADD, c_add, NULL},
    {OP_SUB, c_sub, NULL},
    {OP_MUL, c_mul, NULL},
    {OP_NEG, c_neg, NULL},
    {OP_SCALE, c_scale, NULL},
    {OP_ADDC, c_addc, NULL},
    {OP_SQUARE, c_square, NULL},
    {OP_ABS, c_abs, NULL},
    {OP_LEAKY_RELU, c_leaky_relu, NULL},
    {OP_LRELU_GRAD, c_lrelu_grad, NULL},
    {OP_ELU, c_elu, NULL},
    {OP_ELU_GRAD, c_elu_grad, NULL},
    {OP_TANH, c_tanh, NULL},
    {OP_SIGMOID, c_sigmoid, NULL},
    {OP_SOFTPLUS, c_softplus, NULL},
    {OP_BROADCAST, c_broadcast, NULL},
    {OP_SUM_ALL, NULL, NULL},
    {OP_SUM_CHANNEL, NULL, NULL},
    {OP_SUM_ROW, NULL, NULL},
    {OP_RESHAPE, NULL, NULL},
    {OP_ROWS, NULL, NULL},
    {OP_ADAM, NULL, c_adam},
    {OP_SGD, NULL, c_sgd},
    {OP_OUTPUT, NULL, c_output},
    {OP_STORE_GRAD, NULL, c_store_grad},
    {OP_BN_STATS, NULL, c_bn_stats},
    {OP_RMSPROP, NULL, c_rmsprop},
    {OP_CLIP, NULL, c_clip},
    {OP_EMA, NULL, c_ema},
    {OP_SN_POWER, NULL, c_sn_power},
    {OP_ALLREDUCE, NULL, c_allreduce},
};

_Static_assert(sizeof op_c_table / sizeof op_c_table[0] == OP_COUNT, "emit/ops_c.c needs one row per op in ops.def");

/* Row i is op i, and has what its schedule needs: checked once, before
 * the first op is emitted. */
static void check_table(void) {
    static bool checked;
    if (checked)
        return;
    for (int i = 0; i < OP_COUNT; i++) {
        const struct op_c *r = &op_c_table[i];
        enum op_sched s = op_table[i].sched;
        if ((int)r->op != i || (s == S_ELEM) != (r->expr != NULL) ||
            (s == S_KERNEL || s == S_EFFECT) != (r->stmt != NULL))
            unreachable();
    }
    checked = true;
}


/* ---- a program's body ------------------------------------------------------ */

static bool is_gc(const struct program *p) { return p->kind == PROG_GC_LOSS || p->kind == PROG_GC_GRAD; }

const char *const slot_names[GENRT_N_SLOTS] = {
    [GENRT_SLOT_X] = "x", [GENRT_SLOT_Z] = "z", [GENRT_SLOT_Y] = "y", [GENRT_SLOT_XB] = "xb",
};

const char *emit_ref(struct emit *e, const struct program *p, int id) {
    long off = 0; /* a rows view starts inside what it views */
    for (int v = id; op_table[p->ir.nodes.data[v].op].sched == S_VIEW; v = p->ir.nodes.data[v].in[0])
        if (p->ir.nodes.data[v].op == OP_ROWS)
            off += p->ir.nodes.data[v].a.rows.offset;
    const struct node *n = &p->ir.nodes.data[ir_storage(&p->ir, id)];
    const char *base;
    switch (n->op) {
    case OP_INPUT:
        base = xprintf("%s_%s", is_gc(p) ? "gc" : "in", slot_names[n->a.input.slot]);
        break;
    case OP_PARAM:
        base = e->const_names ? e->const_names[n->a.param.tensor] : e->lo->tensors.data[n->a.param.tensor].cname;
        break;
    default:
        if (n->buf < 0)
            unreachable();
        return xprintf("arena + %ld", p->bufs.data[n->buf].offset + off);
    }
    return off ? xprintf("%s + %ld", base, off) : base;
}

const char *shape_comment(struct shape s) {
    char *p = xprintf("(");
    for (int i = 0; i < s.n; i++)
        p = xprintf("%s%s%d", p, i ? ", " : "", s.d[i]);
    return xprintf("%s)", p);
}

static const char *what_of(const struct node *n) { return n->what ? n->what : op_table[n->op].name; }

static void comment(struct emit *e, const struct node *n) {
    emit_line(e, "/* %s:%d: %s %s */", c_comment(e->path), n->loc.line, c_comment(what_of(n)), shape_comment(n->shape));
}

/* ---- fused elementwise loops -------------------------------------------- */

/* One loop for root r and every node fused into it, in node order.  The
 * loop's structure comes from the operands' kinds and the reduction's:
 * per-channel operands and sums need a channel index, per-example ones a
 * row index. */
static void emit_group(struct emit *e, const struct program *p, int r) {
    const struct ir *g = &p->ir;
    const struct node *root = &g->nodes.data[r];
    enum reduce_kind red = op_table[root->op].reduce;
    bool reduce = op_table[root->op].sched == S_REDUCE;
    VEC(int) members = {0};
    bool channel = red == RED_CHANNEL, row = red == RED_ROW;
    for (int v = 0; v <= r; v++) {
        if (g->nodes.data[v].dead || fuse_root(p, v) != r)
            continue;
        if (v != r || !reduce)
            vec_push(&members, v);
        const struct node *nd = &g->nodes.data[v];
        for (int i = 0; i < nd->n_in; i++) {
            channel |= op_table[nd->op].operand[i] == BC_CHANNEL;
            row |= op_table[nd->op].operand[i] == BC_ROW;
        }
    }
    /* the loop runs over the elementwise shape (a reduction's input); with
     * a per-channel operand it is rows x channels, channels last */
    struct shape ls = reduce ? g->nodes.data[root->in[0]].shape : root->shape;
    long size = shape_size(ls);
    int nc = ls.d[ls.n - 1];
    long rows = size / nc;

    comment(e, root);
    for (int k = 0; k < members.len - (reduce ? 0 : 1); k++)
        emit_line(e, "/*   with %s:%d: %s */", c_comment(e->path), g->nodes.data[members.data[k]].loc.line,
                  c_comment(what_of(&g->nodes.data[members.data[k]])));
    emit_open(e, "{");
    /* operands read from memory, one pointer each */
    VEC(int) srcs = {0};
    for (int k = 0; k <= members.len; k++) {
        const struct node *nd = &g->nodes.data[k < members.len ? members.data[k] : r];
        if (k == members.len && !reduce)
            break;
        for (int i = 0; i < nd->n_in; i++) {
            int u = nd->in[i];
            if (fuse_root(p, u) == r && u != r)
                continue;
            bool seen = false;
            for (int j = 0; j < srcs.len; j++)
                seen |= srcs.data[j] == u;
            if (!seen)
                vec_push(&srcs, u);
        }
    }
    for (int j = 0; j < srcs.len; j++)
        emit_line(e, "const real *x%d = %s; /* %s */", srcs.data[j], emit_ref(e, p, srcs.data[j]),
                  shape_comment(g->nodes.data[srcs.data[j]].shape));
    emit_line(e, "real *y = %s;", emit_ref(e, p, r));
    if (red == RED_ALL)
        emit_line(e, "double acc = 0;");
    if (red == RED_CHANNEL && nc <= EMIT_STACK_MAX)
        emit_line(e, "double acc[%d] = {0};", nc);
    else if (red == RED_CHANNEL) {
        emit_line(e, "static double acc[%d];", nc);
        emit_line(e, "memset(acc, 0, sizeof acc);");
    }
    /* per-example operands: rows are examples, the rest pixels x channels */
    int n_ex = ls.d[0];
    long per_ex = size / n_ex;
    /* Split over threads, each owning whole rows, or for a per-channel sum
     * whole blocks of channels (each at most 32 blocks of a multiple of 16
     * channels), so every sum runs in one order whatever the thread count:
     * results are the same bits on 1 thread or 8.  A sum over everything
     * stays on one thread. */
    bool par = e->parallel && size >= EMIT_PAR_MIN && red != RED_ALL && !(row && red == RED_CHANNEL);
    int cw = (nc + 32 * 16 - 1) / (32 * 16) * 16, n_cb = (nc + cw - 1) / cw;
    bool cblocks = par && red == RED_CHANNEL; /* the loops over channel blocks */
    if (cblocks && n_cb < 2)
        par = cblocks = false;
    if (par)
        emit_line(e, "PARALLEL_FOR");
    if (row) {
        emit_open(e, "for (long r = 0; r < %d; r++) {", n_ex);
        if (red == RED_ROW)
            emit_line(e, "double acc = 0;");
        emit_open(e, "for (long q = 0; q < %ld; q++) {", per_ex);
        emit_line(e, "long i = r * %ld + q;", per_ex);
        if (channel)
            emit_line(e, "int c = (int)(q %% %d);", nc);
    } else if (cblocks) {
        emit_open(e, "for (int cb = 0; cb < %d; cb++) {", n_cb);
        emit_line(e, "int c1 = cb * %d + %d < %d ? cb * %d + %d : %d;", cw, cw, nc, cw, cw, nc);
        emit_open(e, "for (long r = 0; r < %ld; r++) {", rows);
        emit_open(e, "for (int c = cb * %d; c < c1; c++) {", cw);
        emit_line(e, "long i = r * %d + c;", nc);
    } else if (channel) {
        emit_open(e, "for (long r = 0; r < %ld; r++) {", rows);
        emit_open(e, "for (int c = 0; c < %d; c++) {", nc);
        emit_line(e, "long i = r * %d + c;", nc);
    } else {
        emit_open(e, "for (long i = 0; i < %ld; i++) {", size);
    }

    for (int k = 0; k < members.len; k++) {
        int v = members.data[k];
        const struct node *nd = &g->nodes.data[v];
        const char *a[OP_MAX_IN];
        for (int i = 0; i < nd->n_in; i++) {
            int u = nd->in[i];
            long us = shape_size(g->nodes.data[u].shape);
            enum bcast_kind bk = op_table[nd->op].operand[i];
            if (fuse_root(p, u) == r && u != r)
                a[i] = xprintf("v%d", u);
            else if (bk == BC_CHANNEL)
                a[i] = xprintf("x%d[c]", u);
            else if (bk == BC_ROW)
                a[i] = xprintf("x%d[r]", u);
            else if (us == size)
                a[i] = xprintf("x%d[i]", u);
            else if (us == 1 && bk == BC_SCALAR)
                a[i] = xprintf("x%d[0]", u);
            else
                unreachable();
        }
        const char *expr = op_c_table[nd->op].expr(nd, a);
        if (v == r)
            emit_line(e, "y[i] = %s;", expr);
        else
            emit_line(e, "real v%d = %s;", v, expr);
    }
    if (reduce) {
        int u = root->in[0];
        const char *val = fuse_root(p, u) == r ? xprintf("v%d", u) : xprintf("x%d[i]", u);
        emit_line(e, red == RED_CHANNEL ? "acc[c] += %s;" : "acc += %s;", val);
    }
    if (row) {
        emit_close(e, NULL);
        if (red == RED_ROW)
            emit_line(e, "y[r] = (real)acc;");
    } else if (channel) {
        emit_close(e, NULL);
        if (cblocks)
            emit_close(e, NULL);
    }
    emit_close(e, NULL);
    if (red == RED_ALL)
        emit_line(e, "y[0] = (real)acc;");
    if (red == RED_CHANNEL)
        emit_line(e, "for (int c = 0; c < %d; c++) y[c] = (real)acc[c];", nc);
    emit_close(e, NULL);
}

/* Every node's code, in order: one loop per fused group, one statement per
 * kernel or effect. */
/* Where node v's statement is: its own, or its fused group's. */
static int emitted_at(const struct program *p, int v) {
    return p->ir.nodes.data[v].fused_into >= 0 ? fuse_root(p, v) : v;
}

/* A --mpi step's gradients: each one's all-reduce starts right after the
 * statement that computes it (genrt_mpi_start) and is waited for at its
 * allreduce node, before the optimizer step (genrt_mpi_wait), so it
 * overlaps the rest of the backward, as PyTorch DDP's buckets do.  A
 * gradient something reads before its allreduce is reduced there instead
 * (genrt_mpi_mean).  Fills slot[v] for each allreduce node v, and for
 * slot k after[k], the statement it starts after, and node[k], its
 * allreduce node; returns the number of slots. */
static int plan_overlap(const struct program *p, int *slot, int *after, int *node) {
    const struct ir *g = &p->ir;
    int k = 0;
    for (int a = 0; a < g->nodes.len; a++) {
        slot[a] = -1;
        if (g->nodes.data[a].op != OP_ALLREDUCE || g->nodes.data[a].dead)
            continue;
        int s = ir_storage(g, g->nodes.data[a].in[0]), at = emitted_at(p, s);
        bool read = false;
        for (int u = s + 1; u < a && !read; u++) {
            const struct node *n = &g->nodes.data[u];
            if (n->dead || op_table[n->op].sched == S_VIEW || emitted_at(p, u) <= at)
                continue;
            for (int i = 0; i < n->n_in; i++)
                read |= ir_storage(g, n->in[i]) == s;
        }
        if (!read && op_table[g->nodes.data[s].op].sched != S_SOURCE) {
            slot[a] = k;
            node[k] = a;
            after[k++] = at;
        }
    }
    return k;
}

void emit_body(struct emit *e, const struct program *p) {
    const struct ir *g = &p->ir;
    check_table();
    size_t bytes = sizeof(int) * (size_t)(g->nodes.len + 1);
    int *slot = xalloc(bytes), *after = xalloc(bytes), *node = xalloc(bytes);
    int n_slots = plan_overlap(p, slot, after, node);
    e->ar_slot = slot;
    for (int v = 0; v < g->nodes.len; v++) {
        const struct node *n = &g->nodes.data[v];
        if (n->dead || n->fused_into >= 0)
            continue;
        switch (op_table[n->op].sched) {
        case S_SOURCE:
        case S_VIEW:
            break;
        case S_ELEM:
        case S_REDUCE:
            emit_group(e, p, v);
            break;
        case S_KERNEL:
        case S_EFFECT:
            comment(e, n);
            op_c_table[n->op].stmt(e, p, v);
            break;
        }
        for (int k = 0; k < n_slots; k++) {
            int grad = g->nodes.data[node[k]].in[0];
            if (after[k] == v)
                emit_line(e, "genrt_mpi_start(%d, %s, %ld, sizeof(real)); /* the ranks' mean of this gradient */", k,
                          emit_ref(e, p, grad), shape_size(g->nodes.data[grad].shape));
        }
    }
    e->ar_slot = NULL;
}

