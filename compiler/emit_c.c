/* emit_c.c: the C emitter.  One function per program, every loop bound a
 * constant, GEMMs through cblas, fused elementwise groups as single loops,
 * all scratch in one static arena.  Same model in, same bytes out. */
#include "genc.h"
#include "genrt_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct emit {
    char *buf;
    size_t len, cap;
    int indent;
    const char *path; /* the spec, for comments */
    const struct lowered *lo;
    const char *const *const_names; /* samplers: PARAM i[0] names a constant array */
};

struct emit *emit_new(const char *path, const struct lowered *lo, const char *const *const_names) {
    struct emit *e = xalloc(sizeof *e);
    e->path = path;
    e->lo = lo;
    e->const_names = const_names;
    return e;
}

char *emit_text(struct emit *e, size_t *len) {
    *len = e->len;
    return e->buf ? e->buf : xstrdup("");
}

static void put(struct emit *e, const char *s, size_t n) {
    if (e->len + n + 1 > e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 1 << 16;
        while (nc < e->len + n + 1)
            nc *= 2;
        e->buf = xrealloc_arr(e->buf, e->len, nc, 1);
        e->cap = nc;
    }
    memcpy(e->buf + e->len, s, n);
    e->len += n;
    e->buf[e->len] = 0;
}

static void vline(struct emit *e, const char *fmt, va_list ap) {
    char *s;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    s = xalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    if (n > 0)
        for (int i = 0; i < e->indent; i++)
            put(e, "    ", 4);
    put(e, s, (size_t)n);
    put(e, "\n", 1);
}

void emit_line(struct emit *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vline(e, fmt, ap);
    va_end(ap);
}

void emit_open(struct emit *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vline(e, fmt, ap);
    va_end(ap);
    e->indent++;
}

void emit_close(struct emit *e, const char *tail) {
    e->indent--;
    emit_line(e, "}%s", tail ? tail : "");
}

const char *emit_real(double v) {
    if (v == floor(v) && fabs(v) < 1e15)
        return xprintf("%s%.0f", v < 0 ? "-" : "", fabs(v));
    /* the shortest decimal that reads back as the same double */
    for (int prec = 6; prec < 17; prec++) {
        char *s = xprintf("%.*g", prec, v);
        if (strtod(s, NULL) == v)
            return xprintf("(real)%s", s);
    }
    return xprintf("(real)%.17g", v);
}

static bool is_gc(const struct program *p) { return p->kind == PROG_GC_LOSS || p->kind == PROG_GC_GRAD; }

const char *emit_ref(struct emit *e, const struct program *p, int id) {
    long off = 0; /* a rows view starts inside what it views */
    for (int v = id; op_table[p->ir.nodes.data[v].op].sched == S_VIEW; v = p->ir.nodes.data[v].in[0])
        if (p->ir.nodes.data[v].op == OP_ROWS)
            off += p->ir.nodes.data[v].a.rows.offset;
    const struct node *n = &p->ir.nodes.data[ir_storage(&p->ir, id)];
    static const char *const inputs[] = {"x", "z", "y", "xb"};
    const char *base;
    switch (n->op) {
    case OP_INPUT:
        base = xprintf("%s_%s", is_gc(p) ? "gc" : "in", inputs[n->a.input.slot]);
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

static const char *shape_comment(struct shape s) {
    char *p = xprintf("(");
    for (int i = 0; i < s.n; i++)
        p = xprintf("%s%s%d", p, i ? ", " : "", s.d[i]);
    return xprintf("%s)", p);
}

static void comment(struct emit *e, const struct node *n) {
    emit_line(e, "/* %s:%d: %s %s */", e->path, n->loc.line, n->what ? n->what : op_table[n->op].name,
              shape_comment(n->shape));
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
        emit_line(e, "/*   with %s:%d: %s */", e->path, g->nodes.data[members.data[k]].loc.line,
                  g->nodes.data[members.data[k]].what ? g->nodes.data[members.data[k]].what
                                                      : op_table[g->nodes.data[members.data[k]].op].name);
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
    if (red == RED_CHANNEL)
        emit_line(e, "double acc[%d] = {0};", nc);
    /* per-example operands: rows are examples, the rest pixels x channels */
    int n_ex = ls.d[0];
    long per_ex = size / n_ex;
    if (row) {
        emit_open(e, "for (long r = 0; r < %d; r++) {", n_ex);
        if (red == RED_ROW)
            emit_line(e, "double acc = 0;");
        emit_open(e, "for (long q = 0; q < %ld; q++) {", per_ex);
        emit_line(e, "long i = r * %ld + q;", per_ex);
        if (channel)
            emit_line(e, "int c = (int)(q %% %d);", nc);
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
        const char *expr = op_c_expr(nd, a);
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
void emit_body(struct emit *e, const struct program *p) {
    const struct ir *g = &p->ir;
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
            op_c_stmt(e, p, v);
            break;
        }
    }
}

static void emit_program(struct emit *e, const struct program *p) {
    switch (p->kind) {
    case PROG_TRAIN:
        emit_line(e, "/* One training step at batch %d. t counts steps from 1; out gets the metrics. */", p->batch);
        emit_open(e, "static void %s(long t, double *out) {", p->name);
        emit_line(e, "step_t = t;");
        break;
    case PROG_GENERATE:
        emit_line(e, "/* The generator's forward pass at batch %d, from in_z. */", p->batch);
        emit_open(e, "static const real *%s(void) {", p->name);
        break;
    case PROG_GC_LOSS:
        emit_line(e, "/* Gradient check: %s at batch %d. */", e->lo->terms.data[p->term], p->batch);
        emit_open(e, "static void %s(double *out) {", p->name);
        break;
    case PROG_GC_GRAD:
        emit_line(e, "/* Gradient check: d %s / d parameters at batch %d, into g. */", e->lo->terms.data[p->term], p->batch);
        emit_open(e, "static void %s(real *g) {", p->name);
        break;
    case PROG_ELBO:
        emit_line(e, "/* Per example of in_x: -ELBO, reconstruction, KL into out[3 i + 0..2]. */");
        emit_open(e, "static void %s(double *out) {", p->name);
        break;
    case PROG_RECONSTRUCT:
        emit_line(e, "/* The decoder at the encoder's posterior mean of in_x. */");
        emit_open(e, "static const real *%s(void) {", p->name);
        break;
    case PROG_TRANSLATE:
        emit_line(e, "/* Translation at batch %d of %s: a generator, then the other back. */", p->batch,
                  p->ir.nodes.data[0].a.input.slot == GENRT_SLOT_X ? "in_x" : "in_xb");
        emit_open(e, "static void %s(const real **out, const real **back) {", p->name);
        break;
    case PROG_SAMPLE:
        unreachable(); /* samplers are emitted by emit_sampler.c */
    }
    emit_body(e, p);
    if (p->kind == PROG_GENERATE || p->kind == PROG_RECONSTRUCT)
        emit_line(e, "return %s;", emit_ref(e, p, p->result));
    if (p->kind == PROG_TRANSLATE) {
        emit_line(e, "*out = %s;", emit_ref(e, p, p->result));
        emit_line(e, "*back = %s;", emit_ref(e, p, p->result2));
    }
    emit_close(e, NULL);
    emit_line(e, "%s", "");
}

/* ---- the file ----------------------------------------------------------- */

static void emit_tensor_table(struct emit *e) {
    const struct lowered *lo = e->lo;
    static const char *const roles[] = {"GENRT_PARAM", "GENRT_OPT_STATE", "GENRT_RUNNING"};
    static const char *const inits[] = {"GENRT_INIT_ZERO", "GENRT_INIT_ONE", "GENRT_INIT_FANIN_UNIFORM"};
    emit_open(e, "static const struct genrt_tensor tensors[%d] = {", lo->tensors.len);
    for (int t = 0; t < lo->tensors.len; t++) {
        const struct ptensor *pt = &lo->tensors.data[t];
        char *dims = xprintf("%s", "");
        for (int i = 0; i < pt->shape.n; i++)
            dims = xprintf("%s%s%d", dims, i ? ", " : "", pt->shape.d[i]);
        emit_line(e, "{\"%s\", %s, %d, %s, %d, %d, {%s}, %ld, %ld},", pt->name, roles[pt->role], pt->net,
                  inits[pt->init], pt->fan_in, pt->shape.n, dims, pt->offset, shape_size(pt->shape));
    }
    emit_close(e, ";");
}

static const char *names_list(const char *const *names, int n) {
    char *s = xprintf("%s", "");
    for (int i = 0; i < n; i++)
        s = xprintf("%s%s\"%s\"", s, i ? ", " : "", names[i]);
    return s;
}

/* The part of the file every program needs: includes, the scalar type,
 * state and arena, and one function per program. */
static void emit_programs(struct emit *e, const char *banner, int batch, int gc_batch, long sample, int latent,
                          int real_batches, int latent_batches, long sample_b) {
    const struct lowered *lo = e->lo;
    long arena = 0;
    for (int i = 0; i < lo->progs.len; i++)
        if (lo->progs.data[i].arena > arena)
            arena = lo->progs.data[i].arena;

    emit_line(e, "/* generated by genc %s from %s; do not edit */", GENC_VERSION, e->path);
    emit_line(e, "%s", banner);
    emit_line(e, "/* Build: cc -O2 X.c -lgenrt -lopenblas -lm; -DGENC_DOUBLE builds it in double. */");
    emit_line(e, "#include <string.h>");
    emit_line(e, "#include <tgmath.h>");
    emit_line(e, "#include <cblas.h>");
    emit_line(e, "#include \"genrt_model.h\"");
    emit_line(e, "%s", "");
    emit_line(e, "#ifdef GENC_DOUBLE");
    emit_line(e, "typedef double real;");
    emit_line(e, "#ifndef GENC_MODEL_SYM");
    emit_line(e, "#define GENC_MODEL_SYM genc_model_f64");
    emit_line(e, "#endif");
    emit_line(e, "#ifndef GENC_NO_MAIN");
    emit_line(e, "#define GENC_NO_MAIN");
    emit_line(e, "#endif");
    emit_line(e, "#else");
    emit_line(e, "typedef float real;");
    emit_line(e, "#endif");
    emit_line(e, "#ifndef GENC_MODEL_SYM");
    emit_line(e, "#define GENC_MODEL_SYM genc_model");
    emit_line(e, "#endif");
    emit_line(e, "#include \"genrt_kernels.h\"");
    emit_line(e, "%s", "");
    emit_line(e, "enum {");
    emit_line(e, "    BATCH = %d, GC_BATCH = %d, SAMPLE = %ld, LATENT = %d,", batch, gc_batch, sample, latent);
    emit_line(e, "    REAL_BATCHES = %d, LATENT_BATCHES = %d,", real_batches, latent_batches);
    if (sample_b)
        emit_line(e, "    SAMPLE_B = %ld, /* domain B */", sample_b);
    emit_line(e, "    N_STATE = %ld, N_ARENA = %ld, N_TENSORS = %d,", lo->n_state, arena, lo->tensors.len);
    emit_line(e, "};");
    emit_line(e, "%s", "");
    emit_line(e, "/* parameters and optimizer state, saved in checkpoints */");
    emit_line(e, "static real state[N_STATE] __attribute__((aligned(64)));");
    emit_line(e, "/* activations, gradients and scratch: offsets planned at compile time */");
    emit_line(e, "static real arena[N_ARENA] __attribute__((aligned(64)));");
    if (sample_b) {
        emit_line(e, "/* inputs: real examples of domains A and B */");
        emit_line(e, "static real in_x[REAL_BATCHES * BATCH * SAMPLE], in_xb[REAL_BATCHES * BATCH * SAMPLE_B];");
        emit_line(e, "static real gc_x[GC_BATCH * SAMPLE], gc_xb[GC_BATCH * SAMPLE_B];");
    } else {
        emit_line(e, "/* inputs: real examples, latent vectors, labels */");
        emit_line(e, "static real in_x[REAL_BATCHES * BATCH * SAMPLE], in_z[(LATENT_BATCHES ? LATENT_BATCHES : 1) * "
                     "BATCH * LATENT];");
        emit_line(e, "static real in_y[REAL_BATCHES * BATCH];");
        emit_line(e, "static real gc_x[GC_BATCH * SAMPLE], gc_z[GC_BATCH * LATENT], gc_y[GC_BATCH];");
    }
    emit_line(e, "/* the training step being run: seeds dropout masks */");
    emit_line(e, "static long step_t;");
    emit_line(e, "%s", "");
    for (int t = 0; t < lo->tensors.len; t++) {
        const struct ptensor *pt = &lo->tensors.data[t];
        emit_line(e, "static real *const %s = state + %ld; /* %s */", pt->cname, pt->offset,
                  shape_comment(pt->shape));
    }
    emit_line(e, "%s", "");
    emit_tensor_table(e);
    emit_line(e, "%s", "");
    for (int i = 0; i < lo->progs.len; i++)
        emit_program(e, &lo->progs.data[i]);
}

char *emit_c_programs(const struct lowered *lo, const char *path, size_t *len) {
    struct emit e = {.path = path, .lo = lo};
    emit_programs(&e, "/* test programs */", 1, 1, 1, 1, 1, 1, 0);
    *len = e.len;
    return e.buf;
}

/* set_input and gc_set_input for slots 0-2, generate(), and a VAE's
 * elbo_batch and reconstruct */
static void emit_sampling_entries(struct emit *e, const struct model *m) {
    emit_open(e, "static void set_input(int slot, const float *src) {");
    emit_line(e, "real *dst = slot == 0 ? in_x : slot == 1 ? in_z : in_y;");
    emit_line(e, "long n = slot == 0 ? (long)REAL_BATCHES * BATCH * SAMPLE : slot == 1 ? "
                  "(long)LATENT_BATCHES * BATCH * LATENT : (long)REAL_BATCHES * BATCH;");
    emit_line(e, "for (long i = 0; i < n; i++)");
    emit_line(e, "    dst[i] = (real)src[i];");
    emit_close(e, NULL);
    emit_line(e, "%s", "");
    emit_open(e, "static void gc_set_input(int slot, const float *src) {");
    emit_line(e, "real *dst = slot == 0 ? gc_x : slot == 1 ? gc_z : gc_y;");
    emit_line(e, "long n = slot == 0 ? (long)GC_BATCH * SAMPLE : slot == 1 ? (long)GC_BATCH * LATENT : GC_BATCH;");
    emit_line(e, "for (long i = 0; i < n; i++)");
    emit_line(e, "    dst[i] = (real)src[i];");
    emit_close(e, NULL);
    emit_line(e, "%s", "");
    emit_open(e, "static void generate_batch(const float *z, const float *y, float *out) {");
    emit_line(e, "for (long i = 0; i < (long)BATCH * LATENT; i++)");
    emit_line(e, "    in_z[i] = (real)z[i];");
    emit_line(e, "for (long i = 0; y && i < BATCH; i++)");
    emit_line(e, "    in_y[i] = (real)y[i];");
    emit_line(e, "const real *x = generate();");
    emit_line(e, "for (long i = 0; i < (long)BATCH * SAMPLE; i++)");
    emit_line(e, "    out[i] = (float)x[i];");
    emit_close(e, NULL);
    emit_line(e, "%s", "");
    bool vae = m->objective.kind == OBJ_VAE;
    if (vae) {
        emit_open(e, "static void elbo_batch(const float *x, double *out) {");
        emit_line(e, "static long calls; /* a fixed sequence of noise, one draw per batch */");
        emit_line(e, "for (long i = 0; i < (long)BATCH * SAMPLE; i++)");
        emit_line(e, "    in_x[i] = (real)x[i];");
        emit_line(e, "step_t = -1 - calls++;");
        emit_line(e, "elbo(out);");
        emit_close(e, NULL);
        emit_line(e, "%s", "");
        emit_open(e, "static void reconstruct(const float *x, float *out) {");
        emit_line(e, "for (long i = 0; i < (long)BATCH * SAMPLE; i++)");
        emit_line(e, "    in_x[i] = (real)x[i];");
        emit_line(e, "const real *r = reconstruct_fwd();");
        emit_line(e, "for (long i = 0; i < (long)BATCH * SAMPLE; i++)");
        emit_line(e, "    out[i] = (float)r[i];");
        emit_close(e, NULL);
        emit_line(e, "%s", "");
    }
}

/* CycleGAN: set_input and gc_set_input for slots 0 and 3, and translate */
static void emit_cycle_entries(struct emit *e) {
    static const char *const pre[] = {"in", "gc"}, *const fn[] = {"set_input", "gc_set_input"};
    static const char *const rows[] = {"(long)REAL_BATCHES * BATCH", "(long)GC_BATCH"};
    for (int k = 0; k < 2; k++) {
        emit_open(e, "static void %s(int slot, const float *src) {", fn[k]);
        emit_line(e, "real *dst = slot == 0 ? %s_x : %s_xb;", pre[k], pre[k]);
        emit_line(e, "long n = %s * (slot == 0 ? SAMPLE : SAMPLE_B);", rows[k]);
        emit_line(e, "for (long i = 0; i < n; i++)");
        emit_line(e, "    dst[i] = (real)src[i];");
        emit_close(e, NULL);
        emit_line(e, "%s", "");
    }
    emit_open(e, "static void translate(int dir, const float *x, float *out, float *back) {");
    emit_line(e, "real *in = dir == 0 ? in_x : in_xb;");
    emit_line(e, "long n_in = (long)BATCH * (dir == 0 ? SAMPLE : SAMPLE_B), n_out = (long)BATCH * (dir == 0 ? "
                 "SAMPLE_B : SAMPLE);");
    emit_line(e, "const real *o, *b;");
    emit_line(e, "for (long i = 0; i < n_in; i++)");
    emit_line(e, "    in[i] = (real)x[i];");
    emit_line(e, "if (dir == 0)");
    emit_line(e, "    translate_ab(&o, &b);");
    emit_line(e, "else");
    emit_line(e, "    translate_ba(&o, &b);");
    emit_line(e, "for (long i = 0; i < n_out; i++)");
    emit_line(e, "    out[i] = (float)o[i];");
    emit_line(e, "for (long i = 0; i < n_in; i++)");
    emit_line(e, "    back[i] = (float)b[i];");
    emit_close(e, NULL);
    emit_line(e, "%s", "");
}

char *emit_c(const struct model *m, const struct lowered *lo, size_t *len) {
    struct emit e = {.path = m->path, .lo = lo};
    bool vae = m->objective.kind == OBJ_VAE, cyclegan = m->objective.kind == OBJ_CYCLEGAN;
    const struct network *G = &m->nets.data[m->objective.gen];
    const struct network *D = &m->nets.data[m->objective.disc];
    emit_programs(&e, xprintf("/* model %s: %s %s -> %s, %s %s -> %s, batch %d. */", m->name, G->name,
                              shape_str(G->in), shape_str(G->out), D->name, shape_str(D->in), shape_str(D->out),
                              m->train.batch),
                  m->train.batch, lo->gc_batch, shape_size(m->data.shape), m->latent.dim, m->objective.critic_steps,
                  latent_batches(m), cyclegan ? shape_size(m->data_b.shape) : 0);

    /* the runtime's entry points */
    if (cyclegan)
        emit_cycle_entries(&e);
    else
        emit_sampling_entries(&e, m);
    emit_open(&e, "static double gc_loss(int k) {");
    emit_line(&e, "double out[1] = {0};");
    emit_open(&e, "switch (k) {");
    for (int k = 0; k < lo->terms.len; k++)
        emit_line(&e, "case %d: gc_loss_%d(out); break;", k, k);
    emit_close(&e, NULL);
    emit_line(&e, "return out[0];");
    emit_close(&e, NULL);
    emit_line(&e, "%s", "");
    emit_open(&e, "static void gc_grad(int k, void *g) {");
    emit_open(&e, "switch (k) {");
    for (int k = 0; k < lo->terms.len; k++)
        emit_line(&e, "case %d: gc_grad_%d(g); break;", k, k);
    emit_close(&e, NULL);
    emit_close(&e, NULL);
    emit_line(&e, "%s", "");

    const char **nets = xalloc(sizeof(char *) * (size_t)m->nets.len);
    for (int i = 0; i < m->nets.len; i++)
        nets[i] = m->nets.data[i].name;
    emit_line(&e, "static const char *const net_names[] = {%s};", names_list(nets, m->nets.len));
    emit_line(&e, "static const char *const metric_names[] = {%s};", names_list(lo->metrics.data, lo->metrics.len));
    emit_open(&e, "static const struct genrt_term terms[] = {");
    for (int k = 0; k < lo->terms.len; k++)
        emit_line(&e, "{\"%s\", %uu},", lo->terms.data[k], lo->term_nets.data[k]);
    emit_close(&e, ";");
    emit_line(&e, "%s", "");
    static const char *const kinds[] = {"GENRT_DATA_FASHION_MNIST", "GENRT_DATA_RING8", "GENRT_DATA_IMAGES"};
    if (cyclegan) {
        const struct dataset *B = &m->data_b;
        emit_open(&e, "static const struct genrt_domain domain_b = {");
        emit_line(&e, ".name = \"%s\",", B->domain);
        emit_line(&e, ".data_kind = %s,", kinds[B->kind]);
        emit_line(&e, ".data_path = \"%s\",", B->path ? B->path : "");
        emit_line(&e, ".data_train = %d,", B->train);
        emit_line(&e, ".data_class = %d,", B->select);
        emit_line(&e, ".range_lo = %.9g, .range_hi = %.9g,", B->lo, B->hi);
        emit_line(&e, ".img_c = %d, .img_h = %d, .img_w = %d,", B->shape.d[0], B->shape.d[1], B->shape.d[2]);
        emit_line(&e, ".sample_size = SAMPLE_B,");
        emit_close(&e, ";");
        emit_line(&e, "%s", "");
    }
    emit_open(&e, "const struct genrt_model GENC_MODEL_SYM = {");
    emit_line(&e, ".abi = GENRT_ABI,");
    emit_line(&e, ".objective = %s,", vae ? "GENRT_OBJ_VAE" : cyclegan ? "GENRT_OBJ_CYCLEGAN" : "GENRT_OBJ_GAN");
    emit_line(&e, ".name = \"%s\",", m->name);
    emit_line(&e, ".spec = \"%s\",", m->path);
    emit_line(&e, ".shape_hash = 0x%016llxull,", (unsigned long long)lo->shape_hash);
    emit_line(&e, ".real_size = sizeof(real),");
    emit_line(&e, ".data_kind = %s,", kinds[m->data.kind]);
    emit_line(&e, ".data_path = \"%s\",", m->data.path ? m->data.path : "");
    emit_line(&e, ".data_train = %d,", m->data.train);
    emit_line(&e, ".data_class = %d,", m->data.select);
    emit_line(&e, ".range_lo = %.9g, .range_hi = %.9g,", m->data.lo, m->data.hi);
    if (m->data.shape.n == 3)
        emit_line(&e, ".img_c = %d, .img_h = %d, .img_w = %d,", m->data.shape.d[0], m->data.shape.d[1],
                  m->data.shape.d[2]);
    emit_line(&e, ".sample_size = SAMPLE,");
    emit_line(&e, ".latent_kind = %s,", m->latent.kind == LATENT_NORMAL ? "GENRT_LATENT_NORMAL" : "GENRT_LATENT_UNIFORM");
    emit_line(&e, ".latent_dim = LATENT,");
    if (cyclegan) {
        emit_line(&e, ".domain_a = \"%s\",", m->data.domain);
        emit_line(&e, ".domain_b = &domain_b,");
    }
    emit_line(&e, ".n_classes = %d,", m->conditional ? m->n_classes : 0);
    emit_line(&e, ".real_batches = REAL_BATCHES,");
    emit_line(&e, ".latent_batches = LATENT_BATCHES,");
    emit_line(&e, ".batch = BATCH,");
    emit_line(&e, ".steps = %ld,", m->train.steps);
    emit_line(&e, ".seed = %lluu,", (unsigned long long)m->train.seed);
    emit_line(&e, ".sample_every = %ld,", m->train.sample_every);
    emit_line(&e, ".checkpoint_every = %ld,", m->train.checkpoint_every);
    emit_line(&e, ".n_state = N_STATE,");
    emit_line(&e, ".state = state,");
    emit_line(&e, ".n_tensors = N_TENSORS,");
    emit_line(&e, ".tensors = tensors,");
    emit_line(&e, ".n_nets = %d,", m->nets.len);
    emit_line(&e, ".nets = net_names,");
    emit_line(&e, ".n_metrics = %d,", lo->metrics.len);
    emit_line(&e, ".metric_names = metric_names,");
    emit_line(&e, ".set_input = set_input,");
    emit_line(&e, ".train_step = train_step,");
    if (cyclegan)
        emit_line(&e, ".translate = translate,");
    else
        emit_line(&e, ".generate = generate_batch,");
    if (vae) {
        emit_line(&e, ".elbo_batch = elbo_batch,");
        emit_line(&e, ".reconstruct = reconstruct,");
    }
    emit_line(&e, ".gc_batch = GC_BATCH,");
    emit_line(&e, ".n_terms = %d,", lo->terms.len);
    emit_line(&e, ".terms = terms,");
    emit_line(&e, ".gc_set_input = gc_set_input,");
    emit_line(&e, ".gc_loss = gc_loss,");
    emit_line(&e, ".gc_grad = gc_grad,");
    emit_close(&e, ";");
    emit_line(&e, "%s", "");
    emit_line(&e, "#ifndef GENC_NO_MAIN");
    emit_line(&e, "/* the double-precision build, when linked in, serves `gradcheck` */");
    emit_line(&e, "extern const struct genrt_model genc_model_f64 __attribute__((weak));");
    emit_line(&e, "%s", "");
    emit_open(&e, "int main(int argc, char **argv) {");
    emit_line(&e, "return genrt_main(&GENC_MODEL_SYM, &genc_model_f64, argc, argv);");
    emit_close(&e, NULL);
    emit_line(&e, "#endif");
    *len = e.len;
    return e.buf;
}

/* ---- --summary ---------------------------------------------------------- */

static const char *const layer_kind_names[] = {"dense", "relu",    "leaky_relu", "tanh",     "sigmoid",
                                               "reshape", "flatten", "conv", "deconv", "batchnorm",
                                               "dropout", "upsample", "avgpool", "layernorm", "cond",
                                               "instancenorm", "residual", "residual add"};
_Static_assert(sizeof layer_kind_names / sizeof *layer_kind_names == L_ADD + 1, "a name per layer kind");

void print_summary(FILE *f, const struct model *m, const struct lowered *lo) {
    fprintf(f, "model %s (%s), batch %d\n\n", m->name, m->path, m->train.batch);
    fprintf(f, "%-8s %-3s %-20s %-16s %12s %14s\n", "network", "#", "layer", "output", "params", "MACs/sample");
    long total_params = 0, total_macs = 0;
    for (int n = 0; n < m->nets.len; n++) {
        const struct network *net = &m->nets.data[n];
        long np = 0, nm = 0;
        for (int i = 0; i < net->layers.len; i++) {
            const struct layer *l = &net->layers.data[i];
            const char *what = layer_kind_names[l->kind];
            if (l->kind == L_DENSE)
                what = xprintf("dense %d%s", l->units, l->bias ? "" : " nobias");
            else if (l->kind == L_LEAKY_RELU)
                what = xprintf("leaky_relu %g", l->alpha);
            else if (l->kind == L_CONV || l->kind == L_DECONV)
                what = xprintf("%s %d k%d s%d p%d", what, l->units, l->k, l->stride, l->pad);
            else if (l->kind == L_DROPOUT)
                what = xprintf("dropout %g", l->p);
            else if (l->kind == L_UPSAMPLE || l->kind == L_AVGPOOL)
                what = xprintf("%s %d", what, l->factor);
            fprintf(f, "%-8s %-3d %-20s %-16s %12ld %14ld\n", net->name, l->index, what, shape_str(l->out),
                    l->n_params, l->macs);
            np += l->n_params;
            nm += l->macs;
        }
        fprintf(f, "%-8s %-3s %-20s %-16s %12ld %14ld\n\n", net->name, "", "total", "", np, nm);
        total_params += np;
        total_macs += nm;
    }
    const struct program *train = &lo->progs.data[0];
    long arena = 0;
    for (int i = 0; i < lo->progs.len; i++)
        if (lo->progs.data[i].arena > arena)
            arena = lo->progs.data[i].arena;
    /* every GEMM of one whole training step, forward and backward */
    long long flops = 0;
    for (int v = 0; v < train->ir.nodes.len; v++) {
        const struct node *n = &train->ir.nodes.data[v];
        if (n->dead || n->op != OP_MATMUL)
            continue;
        const struct node *a = &train->ir.nodes.data[n->in[0]];
        long k = n->a.matmul.ta ? a->shape.d[0] : a->shape.d[1];
        flops += 2LL * n->shape.d[0] * n->shape.d[1] * k;
    }
    fprintf(f, "parameters        %12ld\n", total_params);
    fprintf(f, "forward MACs      %12ld per sample, all networks once\n", total_macs);
    fprintf(f, "step FLOPs        %12lld per training step (GEMMs, forward and backward)\n", flops);
    fprintf(f, "state             %12ld bytes (parameters and optimizer state)\n", lo->n_state * 4);
    fprintf(f, "arena             %12ld bytes (train step: %ld; peak of live tensors: %ld)\n", arena * 4,
            train->arena * 4, train->peak_live * 4);
}
