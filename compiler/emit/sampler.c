/* emit_sampler.c: a dependency-free sampler, NAME.c and NAME.h, from a spec
 * and a trained checkpoint.
 *
 * The generator's eval-mode forward pass at batch 1 is lowered as usual,
 * then specialized to its weights: every value computed from parameters
 * alone (batchnorm's scale and shift from the running statistics) is
 * evaluated now, batchnorm's scale is folded into the preceding dense,
 * conv or deconv weights, and weights used transposed are stored
 * transposed, so every GEMM is a row-times-matrix loop the C compiler
 * vectorizes.  The code needs libc's memcpy/memset and libm, nothing else:
 * no BLAS, no runtime, no stdio, no malloc.  Scratch is static. */
#include "emit.h"
#include "genrt_model.h"

#include <math.h>
#include <string.h>

struct consts {
    VEC(double *) val;
    VEC(long) size;
    VEC(const char *) name;
    VEC(int) int8;        /* --quantize int8: the channels of its scales; 0: floats */
    VEC(float *) scale;   /* int8 only: per output channel; val holds the q */
};

static int add_const(struct consts *c, double *v, long n) {
    vec_push(&c->val, v);
    vec_push(&c->size, n);
    vec_push(&c->name, xprintf("w%d", c->val.len - 1));
    vec_push(&c->int8, 0);
    vec_push(&c->scale, (float *)NULL);
    return c->val.len - 1;
}

/* ---- constant folding ----------------------------------------------------- */

/* The matmul whose output columns are x's channels, through a reshape or a
 * col2im, with its weight operand and how a column maps to a channel. */
static int producing_matmul(const struct program *p, int x, int *co) {
    const struct node *n = &p->ir.nodes.data[x];
    *co = 0;
    if (n->op == OP_RESHAPE)
        return producing_matmul(p, n->in[0], co);
    if (n->op == OP_COL2IM) {
        *co = n->shape.d[3]; /* cols are (kh, kw, c) with c fastest */
        return p->ir.nodes.data[n->in[0]].op == OP_MATMUL ? n->in[0] : -1;
    }
    return n->op == OP_MATMUL ? x : -1;
}

struct sampler {
    const struct model *m;
    struct lowered *lo;
    struct program *p;
    struct consts c;
    int *cid; /* per node: its constant, or -1 */
};

/* Turn node v into a constant source. */
static void make_const(struct sampler *s, int v, double *val) {
    struct node *n = &s->p->ir.nodes.data[v];
    s->cid[v] = add_const(&s->c, val, shape_size(n->shape));
    n->op = OP_PARAM;
    n->n_in = 0;
    n->a.param.tensor = s->cid[v];
}

static void fold_constants(struct sampler *s, const float *state) {
    struct ir *g = &s->p->ir;
    for (int v = 0; v < g->nodes.len; v++) {
        struct node *n = &g->nodes.data[v];
        if (n->dead)
            continue;
        if (n->op == OP_PARAM) {
            const struct ptensor *t = &s->lo->tensors.data[n->a.param.tensor];
            long size = shape_size(t->shape);
            double *val = xalloc(sizeof(double) * (size_t)size);
            for (long i = 0; i < size; i++)
                val[i] = state[t->offset + i];
            make_const(s, v, val);
            continue;
        }
        /* Elementwise ops and sums of constants are evaluated by the op's
         * reference; kernels are left to run (folding one would bake its
         * larger output into the sampler), and random draws stay draws. */
        enum op_sched k = op_table[n->op].sched;
        if ((k != S_ELEM && k != S_REDUCE) || (op_table[n->op].flags & F_RANDOM))
            continue;
        struct ref_io io = {.out = NULL};
        bool all = true;
        for (int i = 0; i < n->n_in; i++) {
            int u = n->in[i];
            all &= s->cid[u] >= 0;
            if (s->cid[u] >= 0)
                io.in[i] = s->c.val.data[s->cid[u]];
        }
        if (!all)
            continue;
        io.out = xalloc(sizeof(double) * (size_t)shape_size(n->shape));
        op_ref(g, v, &io);
        make_const(s, v, io.out);
    }
}

/* y = x * s[c] right after a GEMM: scale the GEMM's weights instead. */
static void fold_channel_scales(struct sampler *s) {
    struct ir *g = &s->p->ir;
    pass_dce(s->p);
    for (int v = 0; v < g->nodes.len; v++) {
        struct node *n = &g->nodes.data[v];
        if (n->dead || n->op != OP_MUL_CHANNEL || s->cid[n->in[1]] < 0)
            continue;
        int co;
        int mm = producing_matmul(s->p, n->in[0], &co);
        if (mm < 0 || g->nodes.data[n->in[0]].n_users != 1 || g->nodes.data[mm].n_users != 1)
            continue;
        int w = g->nodes.data[mm].in[1], x = n->in[0];
        bool transposed = g->nodes.data[mm].a.matmul.tb;
        if (s->cid[w] < 0)
            continue;
        const double *scale = s->c.val.data[s->cid[n->in[1]]];
        struct shape ws = g->nodes.data[w].shape;
        /* a copy: the same weights may serve elsewhere unscaled */
        long size = shape_size(ws);
        double *val = xalloc(sizeof(double) * (size_t)size);
        memcpy(val, s->c.val.data[s->cid[w]], sizeof(double) * (size_t)size);
        for (long i = 0; i < size; i++) {
            long row = i / ws.d[1], col = i % ws.d[1];
            /* output channel of this weight: its row when used transposed
             * (dense, conv), else its column (deconv: column mod Co) */
            long ch = transposed ? row : co ? col % co : col;
            val[i] *= scale[ch];
        }
        int nw = ir_param(g, 0, ws); /* g->nodes may move: no node pointers below */
        make_const(s, nw, val);
        g->nodes.data[mm].in[1] = nw;
        /* users of the scaled value now read the GEMM's (rescaled) output */
        for (int u = v + 1; u < g->nodes.len; u++)
            for (int i = 0; i < g->nodes.data[u].n_in; i++)
                if (g->nodes.data[u].in[i] == v)
                    g->nodes.data[u].in[i] = x;
        if (s->p->result == v)
            s->p->result = x;
        pass_dce(s->p);
    }
}

/* Store weights used transposed (dense, conv) transposed, so every GEMM
 * runs rows of its input against rows of its weights. */
static void transpose_weights(struct sampler *s) {
    struct ir *g = &s->p->ir;
    for (int v = 0; v < g->nodes.len; v++) {
        struct node *n = &g->nodes.data[v];
        if (n->dead || n->op != OP_MATMUL || !n->a.matmul.tb || n->a.matmul.ta || s->cid[n->in[1]] < 0)
            continue;
        struct shape ws = g->nodes.data[n->in[1]].shape;
        const double *w = s->c.val.data[s->cid[n->in[1]]];
        double *t = xalloc(sizeof(double) * (size_t)shape_size(ws));
        for (int r = 0; r < ws.d[0]; r++)
            for (int c = 0; c < ws.d[1]; c++)
                t[(long)c * ws.d[0] + r] = w[(long)r * ws.d[1] + c];
        int nt = ir_param(g, 0, (struct shape){2, {ws.d[1], ws.d[0]}});
        make_const(s, nt, t);
        n = &g->nodes.data[v];
        n->in[1] = nt;
        n->a.matmul.tb = false;
    }
}

/* ---- --quantize int8 ---------------------------------------------------------- */

void quantize_int8(const double *w, long rows, long cols, int n_ch, signed char *q, float *scale) {
    for (int c = 0; c < n_ch; c++)
        scale[c] = 0;
    /* the float sampler's weights are these, rounded to float */
    for (long i = 0; i < rows * cols; i++)
        scale[i % cols % n_ch] = fmaxf(scale[i % cols % n_ch], fabsf((float)w[i]));
    for (int c = 0; c < n_ch; c++)
        scale[c] /= 127;
    for (long i = 0; i < rows * cols; i++) {
        float sc = scale[i % cols % n_ch];
        double r = sc > 0 ? round((float)w[i] / (double)sc) : 0;
        q[i] = (signed char)(r > 127 ? 127 : r < -127 ? -127 : r);
    }
}

/* Every GEMM's weights (dense, conv, deconv; batchnorm already folded in,
 * already transposed, so each is a NoTrans B[k][n]) become int8 with a
 * float scale per output channel.  Biases, batchnorm's shifts, embedding
 * tables and activations stay float. */
static void quantize_weights(struct sampler *s) {
    struct ir *g = &s->p->ir;
    for (int v = 0; v < g->nodes.len; v++) {
        const struct node *n = &g->nodes.data[v];
        if (n->dead || n->op != OP_MATMUL || n->a.matmul.ta || n->a.matmul.tb || s->cid[n->in[1]] < 0)
            continue;
        /* a deconv's GEMM makes (kh, kw, c) columns that col2im sums into c */
        int n_ch = n->shape.d[1];
        for (int u = v + 1; u < g->nodes.len; u++)
            if (!g->nodes.data[u].dead && g->nodes.data[u].op == OP_COL2IM && g->nodes.data[u].in[0] == v)
                n_ch = g->nodes.data[u].shape.d[3];
        struct shape ws = g->nodes.data[n->in[1]].shape;
        long size = shape_size(ws);
        signed char *q = xalloc((size_t)size);
        float *scale = xalloc(sizeof(float) * (size_t)n_ch);
        quantize_int8(s->c.val.data[s->cid[n->in[1]]], ws.d[0], ws.d[1], n_ch, q, scale);
        double *val = xalloc(sizeof(double) * (size_t)size);
        for (long i = 0; i < size; i++)
            val[i] = q[i];
        int nq = ir_param(g, 0, ws); /* g->nodes may move */
        make_const(s, nq, val);
        s->c.int8.data[s->cid[nq]] = n_ch;
        s->c.scale.data[s->cid[nq]] = scale;
        g->nodes.data[v].in[1] = nq;
    }
}

/* ---- emission ----------------------------------------------------------------- */

/* The weight arrays of NAME.c: each live constant, and after an int8 one
 * its scales, NAME_scale. */
struct warray {
    const char *name;
    bool int8;     /* signed char, else float */
    bool quant;    /* an int8 array or its scales */
    long n;
    const double *v;
};

static int weight_arrays(const struct sampler *s, const bool *live, struct warray *a) {
    int n = 0;
    for (int k = 0; k < s->c.val.len; k++) {
        if (!live[k])
            continue;
        int n_ch = s->c.int8.data[k];
        a[n++] = (struct warray){s->c.name.data[k], n_ch > 0, n_ch > 0, s->c.size.data[k], s->c.val.data[k]};
        if (n_ch) {
            double *sc = xalloc(sizeof(double) * (size_t)n_ch);
            for (int c = 0; c < n_ch; c++)
                sc[c] = s->c.scale.data[k][c];
            a[n++] = (struct warray){xprintf("%s_scale", s->c.name.data[k]), false, true, n_ch, sc};
        }
    }
    return n;
}

static long array_bytes(const struct warray *a) { return a->n * (a->int8 ? 1 : 4); }

static void put_weights(struct emit *e, const struct warray *a) {
    long n = a->n;
    const double *v = a->v;
    emit_line(e, "static const %s %s[%ld] = {", a->int8 ? "signed char" : "real", a->name, n);
    char line[256];
    size_t len = 0;
    for (long i = 0; i < n; i++) {
        if (a->int8)
            len += (size_t)snprintf(line + len, sizeof line - len, "%d,", (int)v[i]);
        else
            len += (size_t)snprintf(line + len, sizeof line - len, "%.9g,", (double)(float)v[i]);
        if (len > 100 || i == n - 1) {
            emit_line(e, "    %s", line);
            len = 0;
        } else {
            line[len++] = ' ';
            line[len] = 0;
        }
    }
    emit_line(e, "};");
}

/* a float constant C accepts: 1 -> "1.0f", 0.25 -> "0.25f" */
static const char *float_literal(double v) {
    char *s = xprintf("%.9g", v);
    return strpbrk(s, ".eEn") ? xprintf("%sf", s) : xprintf("%s.0f", s);
}

static const char *upper(const char *s) {
    char *u = xstrdup(s);
    for (char *p = u; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return u;
}

/* The --weights-file blob: its magic ("GENCWTS1"; "GENCWTS8" when int8
 * arrays are among them), u32 count of arrays, u32 values per array, then
 * each array's values (float32, or int8), every array 64-byte aligned. */
static char *weights_blob(const struct warray *a, int n_arrays, const char *magic, long *offsets, size_t *len) {
    size_t pos = 8 + 4 + 4 * (size_t)n_arrays;
    pos = (pos + 63) / 64 * 64;
    for (int k = 0; k < n_arrays; k++) {
        offsets[k] = (long)pos;
        pos += ((size_t)array_bytes(&a[k]) + 63) / 64 * 64;
    }
    unsigned char *b = xalloc(pos);
    memcpy(b, magic, 8);
    uint32_t u = (uint32_t)n_arrays;
    memcpy(b + 8, &u, 4);
    for (int k = 0; k < n_arrays; k++) {
        u = (uint32_t)a[k].n;
        memcpy(b + 12 + 4 * k, &u, 4);
        for (long i = 0; i < a[k].n; i++) {
            if (a[k].int8) {
                b[offsets[k] + i] = (unsigned char)(signed char)a[k].v[i];
            } else {
                float f = (float)a[k].v[i];
                memcpy(b + offsets[k] + 4 * i, &f, 4);
            }
        }
    }
    *len = pos;
    return (char *)b;
}

/* The slot a sampler program reads its example or latent from. */
static int input_slot(const struct program *p) {
    for (int v = 0; v < p->ir.nodes.len; v++)
        if (p->ir.nodes.data[v].op == OP_INPUT && p->ir.nodes.data[v].a.input.slot != GENRT_SLOT_Y)
            return p->ir.nodes.data[v].a.input.slot;
    unreachable();
}

/* ---- CycleGAN: the two translators -------------------------------------------- */

static void translator_defs(struct emit *h, const struct model *m, const char *N) {
    const struct dataset *ds[2] = {&m->data, &m->data_b};
    const char *ab[2] = {"A", "B"};
    for (int k = 0; k < 2; k++) {
        struct shape sh = ds[k]->shape;
        emit_line(h, "/* domain %s: '%s' in the spec */", ab[k], c_comment(ds[k]->domain));
        emit_line(h, "#define %s_%s_C %d", N, ab[k], sh.d[0]);
        emit_line(h, "#define %s_%s_H %d", N, ab[k], sh.d[1]);
        emit_line(h, "#define %s_%s_W %d", N, ab[k], sh.d[2]);
        emit_line(h, "#define %s_%s_SIZE %ld /* floats per example: C x H x W, channel-major */", N, ab[k],
                  shape_size(sh));
        emit_line(h, "#define %s_%s_RANGE_LO %s", N, ab[k], float_literal(ds[k]->lo));
        emit_line(h, "#define %s_%s_RANGE_HI %s", N, ab[k], float_literal(ds[k]->hi));
    }
    emit_line(h, "%s", "");
}

/* channel-major [C][H][W] <-> the programs' channels-last [H][W][C] */
static void put_layout(struct emit *e, const char *dst, const char *src, struct shape sh, bool to_hwc) {
    int c = sh.d[0], hw = sh.d[1] * sh.d[2];
    if (c == 1)
        emit_line(e, "memcpy(%s, %s, %d * sizeof(float));", dst, src, hw);
    else if (to_hwc)
        emit_line(e, "for (int c = 0; c < %d; c++) for (int i = 0; i < %d; i++) %s[i * %d + c] = %s[c * %d + i];", c,
                  hw, dst, c, src, hw);
    else
        emit_line(e, "for (int c = 0; c < %d; c++) for (int i = 0; i < %d; i++) %s[c * %d + i] = %s[i * %d + c];", c,
                  hw, dst, hw, src, c);
}

static void translator_api(struct emit *e, const struct model *m, struct program *const *progs, const char *name) {
    const struct dataset *ds[2] = {&m->data, &m->data_b};
    emit_line(e, "static real in_x[%ld], in_xb[%ld];", shape_size(ds[0]->shape), shape_size(ds[1]->shape));
    emit_line(e, "%s", "");
    static const char *const fn[] = {"ab", "ba"}, *const arg[] = {"a", "b"};
    for (int d = 0; d < 2; d++) {
        const struct program *p = progs[d];
        emit_open(e, "static void forward_%s(void) {", fn[d]);
        emit_body(e, p);
        emit_close(e, NULL);
        emit_line(e, "%s", "");
        emit_open(e, "void %s_translate_%s(const float *%s, float *%s) {", name, fn[d], arg[d], arg[1 - d]);
        put_layout(e, d == 0 ? "in_x" : "in_xb", arg[d], ds[d]->shape, true);
        emit_line(e, "forward_%s();", fn[d]);
        emit_line(e, "const real *y = %s;", emit_ref(e, p, p->result));
        put_layout(e, arg[1 - d], "y", ds[1 - d]->shape, false);
        emit_close(e, NULL);
        emit_line(e, "%s", "");
    }
}

bool emit_sampler(const struct model *m, struct lowered *lo, const float *state, long step, const char *ckpt,
                  const char *name, bool weights_file, enum sampler_quant quant, struct sampler_out *out) {
    struct sampler s = {.m = m, .lo = lo};
    int n_progs = lo->n_samplers, first = lo->progs.len;
    if (n_progs == 0) { /* a classifier generates nothing (main.c says so first) */
        error_plain("a %s generates nothing, so it has no sampler", lo->objective_title);
        return false;
    }
    for (int d = 0; d < n_progs; d++) /* all first: lowering moves lo->progs */
        lower_sampler(m, lo, d);
    struct program **progs = xalloc(sizeof *progs * (size_t)n_progs);
    long arena = 0;
    for (int d = 0; d < n_progs; d++) {
        s.p = progs[d] = &lo->progs.data[first + d];
        pass_dce(s.p);
        s.cid = xalloc(sizeof(int) * (size_t)(s.p->ir.nodes.len * 3 + 64)); /* the folds add nodes */
        for (int v = 0; v < s.p->ir.nodes.len * 3 + 64; v++)
            s.cid[v] = -1;
        fold_constants(&s, state);
        fold_channel_scales(&s);
        transpose_weights(&s);
        if (quant == QUANT_INT8)
            quantize_weights(&s); /* after the folds: what is quantized is what runs */
        pass_dce(s.p);
        pass_fuse(s.p);
        pass_plan(s.p);
        if (s.p->arena > arena)
            arena = s.p->arena;
    }

    /* A sampler from the latent (NAME_sample), or translators between the
     * two domains (NAME_translate_ab and _ba), by what the programs read. */
    const struct program *p = progs[0];
    bool cyclegan = input_slot(p) != GENRT_SLOT_Z;
    if (cyclegan && (n_progs != 2 || input_slot(p) != GENRT_SLOT_X || input_slot(progs[1]) != GENRT_SLOT_XB))
        unreachable();
    if (!cyclegan && n_progs != 1)
        unreachable();
    /* the result is [1, H, W, C] channels-last, or [1, values] */
    struct shape os = p->ir.nodes.data[p->result].shape;
    long out_size = shape_size(os);
    bool *live = xalloc((size_t)s.c.val.len + 1); /* per constant: read by a program */
    for (int d = 0; d < n_progs; d++) {
        for (int v = 0; v < progs[d]->ir.nodes.len; v++) {
            const struct node *n = &progs[d]->ir.nodes.data[v];
            if (!n->dead && n->op == OP_PARAM)
                live[n->a.param.tensor] = true;
        }
    }
    long weights = 0;
    for (int k = 0; k < s.c.val.len; k++)
        weights += live[k] ? s.c.size.data[k] : 0;
    struct warray *arrays = xalloc(sizeof *arrays * (size_t)(2 * s.c.val.len + 1));
    int n_arrays = weight_arrays(&s, live, arrays);
    long int8_bytes = 0, float_bytes = 0; /* int8 arrays with their scales; the rest */
    for (int k = 0; k < n_arrays; k++)
        *(arrays[k].quant ? &int8_bytes : &float_bytes) += array_bytes(&arrays[k]);
    const char *N = upper(name);
    int oc = os.n == 4 ? os.d[3] : 1, oh = os.n == 4 ? os.d[1] : 1, ow = os.n == 4 ? os.d[2] : (int)out_size;
    int classes = m->conditional ? m->n_classes : 0;

    /* ---- NAME.h ---- */
    struct emit *h = emit_new(m->path, lo, NULL);
    emit_line(h, "/* %s.h: a sampler of model %s, generated by genc %s from %s and %s (step %ld). */", name,
              c_comment(m->name), GENC_VERSION, c_comment(m->path), c_comment(ckpt), step);
    emit_line(h, "#ifndef %s_H", N);
    emit_line(h, "#define %s_H", N);
    emit_line(h, "%s", "");
    emit_line(h, "#include <stdint.h>");
    emit_line(h, "%s", "");
    if (cyclegan)
        emit_line(h, "/* The generators of CycleGAN %s in eval mode (batchnorm's running statistics folded", c_comment(m->name));
    else
        emit_line(h, "/* The generator of %s in eval mode (batchnorm's running statistics folded", c_comment(m->name));
    if (weights_file)
        emit_line(h, " * into the weights), %ld weights in %s.bin.  C99, libm only: no allocation,", weights, name);
    else
        emit_line(h, " * into the weights), %ld weights baked in.  C99, libm only: no allocation,", weights);
    emit_line(h, " * no I/O.  Scratch space is static and fixed at %ld floats, so the calls", arena);
    emit_line(h, " * below are not re-entrant: serialize them if threads share this sampler. */");
    if (quant == QUANT_INT8) {
        emit_line(h, "%s", "");
        emit_line(h, "/* Quantized (genc --quantize int8): the dense, conv and deconv weights are");
        emit_line(h, " * symmetric int8 with a float scale per output channel, %ld bytes with their", int8_bytes);
        emit_line(h, " * scales; biases, batchnorm's shifts and the activations are float, %ld bytes.", float_bytes);
        emit_line(h, " * Weight bytes: %ld, %.3f of the float sampler's %ld. */", int8_bytes + float_bytes,
                  (double)(int8_bytes + float_bytes) / (double)(4 * weights), 4 * weights);
        emit_line(h, "#define %s_QUANTIZE \"int8\"", N);
        emit_line(h, "#define %s_WEIGHT_BYTES %ld", N, int8_bytes + float_bytes);
    }
    if (cyclegan) {
        translator_defs(h, m, N);
    } else {
        emit_line(h, "#define %s_LATENT_DIM %d", N, m->latent.dim);
        emit_line(h, "#define %s_OUT_C %d", N, oc);
        emit_line(h, "#define %s_OUT_H %d", N, oh);
        emit_line(h, "#define %s_OUT_W %d", N, ow);
        emit_line(h, "#define %s_OUT_SIZE %ld /* floats per sample: C x H x W, channel-major */", N, out_size);
        emit_line(h, "#define %s_N_CLASSES %d", N, classes);
        emit_line(h, "#define %s_RANGE_LO %s /* the data range the model was trained on */", N, float_literal(m->data.lo));
        emit_line(h, "#define %s_RANGE_HI %s", N, float_literal(m->data.hi));
        emit_line(h, "%s", "");
    }
    if (weights_file) {
        emit_line(h, "/* Hand the weights to the sampler before sampling: blob is %s.bin's bytes,", name);
        emit_line(h, " * read by the caller, 4-byte aligned, kept alive while sampling.  Returns 0,");
        emit_line(h, " * or -1 when the blob is not this sampler's. */");
        emit_line(h, "int %s_init(const void *blob, unsigned long size);", name);
        emit_line(h, "%s", "");
    }
    if (cyclegan) {
        emit_line(h, "/* Translate one example of domain %s (%s_A_SIZE floats, [C][H][W], in the data", c_comment(m->data.domain),
                  N);
        emit_line(h, " * range) into domain %s (%s_B_SIZE floats): G.  And back: F. */", c_comment(m->data_b.domain), N);
        emit_line(h, "void %s_translate_ab(const float *a, float *b);", name);
        emit_line(h, "void %s_translate_ba(const float *b, float *a);", name);
        emit_line(h, "%s", "");
    } else {
        const char *lab = classes ? "int label, " : "";
        emit_line(h, "/* One sample from latent vector z (%s_LATENT_DIM floats, N(0, 1)%s) into out", N,
                  m->latent.kind == LATENT_NORMAL ? "" : " or U(-1, 1)");
        emit_line(h, " * (%s_OUT_SIZE floats, [C][H][W]).%s */", N, classes ? " label: 0 .. N_CLASSES-1." : "");
        emit_line(h, "void %s_sample(const float *z, %sfloat *out);", name, lab);
        emit_line(h, "%s", "");
        emit_line(h, "/* The same, with z drawn from the built-in generator seeded by seed. */");
        emit_line(h, "void %s_sample_seed(uint64_t seed, %sfloat *out);", name, lab);
        emit_line(h, "%s", "");
    }
    emit_line(h, "#endif");

    /* ---- NAME.c ---- */
    const char **names = xalloc(sizeof(char *) * (size_t)(s.c.val.len + 1));
    for (int k = 0; k < s.c.val.len; k++)
        names[k] = s.c.name.data[k];
    struct emit *e = emit_new(m->path, lo, names);
    e->const_int8 = s.c.int8.data;
    emit_line(e, "/* generated by genc %s from %s and %s (step %ld); do not edit */", GENC_VERSION, c_comment(m->path),
              c_comment(ckpt), step);
    emit_line(e, "/* %s: the %s of model %s, dependency-free (see %s.h). */", name,
              cyclegan ? "generators" : "generator", c_comment(m->name), name);
    emit_line(e, "#include \"%s.h\"", c_str(name));
    emit_line(e, "%s", "");
    emit_line(e, "#include <math.h>");
    emit_line(e, "#include <string.h>");
    emit_line(e, "%s", "");
    emit_line(e, "typedef float real;");
    emit_line(e, "enum { CblasNoTrans = 111, CblasTrans = 112 };");
    emit_line(e, "%s", "");
    /* int8 samplers: gemm only if a GEMM is left with float weights */
    bool float_gemm = quant == QUANT_NONE;
    for (int d = 0; d < n_progs; d++)
        for (int v = 0; v < progs[d]->ir.nodes.len; v++) {
            const struct node *n = &progs[d]->ir.nodes.data[v];
            if (n->dead || n->op != OP_MATMUL)
                continue;
            const struct node *b = &progs[d]->ir.nodes.data[n->in[1]];
            float_gemm |= !(b->op == OP_PARAM && s.c.int8.data[b->a.param.tensor]);
        }
    if (float_gemm) {
        emit_line(e, "/* C = op(A) op(B), row-major.  The sampler stores weights so that every");
        emit_line(e, " * call is NoTrans x NoTrans: rows of C accumulate scaled rows of B. */");
        emit_line(e, "static void gemm(int ta, int tb, int m, int n, int k, const real *a, int lda, const real *b,");
        emit_line(e, "                 int ldb, real *c, int ldc) {");
        emit_line(e, "    for (int i = 0; i < m; i++) {");
        emit_line(e, "        real *ci = c + (long)i * ldc;");
        emit_line(e, "        for (int j = 0; j < n; j++)");
        emit_line(e, "            ci[j] = 0;");
        emit_line(e, "        for (int p = 0; p < k; p++) {");
        emit_line(e, "            real aip = ta == CblasTrans ? a[(long)p * lda + i] : a[(long)i * lda + p];");
        emit_line(e, "            if (tb == CblasTrans)");
        emit_line(e, "                for (int j = 0; j < n; j++)");
        emit_line(e, "                    ci[j] += aip * b[(long)j * ldb + p];");
        emit_line(e, "            else");
        emit_line(e, "                for (int j = 0; j < n; j++)");
        emit_line(e, "                    ci[j] += aip * b[(long)p * ldb + j];");
        emit_line(e, "        }");
        emit_line(e, "    }");
        emit_line(e, "}");
        emit_line(e, "%s", "");
    }
    if (quant == QUANT_INT8) {
        emit_line(e, "/* C = A Q with int8 weights Q[k][n], row-major: output column j is scaled by");
        emit_line(e, " * its channel's scale[j %% nc] once, after accumulating a x q in float (a deconv's");
        emit_line(e, " * columns are (kh, kw, c), c fastest; dense and conv have nc = n).  restrict:");
        emit_line(e, " * q's char type may alias anything, and gcc -O2 vectorizes no loop that needs");
        emit_line(e, " * a runtime overlap check (5x slower without). */");
        emit_line(e, "static void qgemm(int m, int n, int k, const real *restrict a, int lda, const signed char *restrict q,");
        emit_line(e, "                  int ldq, const float *restrict scale, int nc, real *restrict c, int ldc) {");
        emit_line(e, "    for (int i = 0; i < m; i++) {");
        emit_line(e, "        real *ci = c + (long)i * ldc;");
        emit_line(e, "        for (int j = 0; j < n; j++)");
        emit_line(e, "            ci[j] = 0;");
        emit_line(e, "        for (int p = 0; p < k; p++) {");
        emit_line(e, "            real aip = a[(long)i * lda + p];");
        emit_line(e, "            const signed char *qp = q + (long)p * ldq;");
        emit_line(e, "            for (int j = 0; j < n; j++)");
        emit_line(e, "                ci[j] += aip * (real)qp[j];");
        emit_line(e, "        }");
        emit_line(e, "        for (int j = 0; j < n; j += nc)");
        emit_line(e, "            for (int ch = 0; ch < nc; ch++)");
        emit_line(e, "                ci[j + ch] *= scale[ch];");
        emit_line(e, "    }");
        emit_line(e, "}");
        emit_line(e, "%s", "");
    }
    if (weights_file) {
        long *offsets = xalloc(sizeof(long) * (size_t)(n_arrays + 1));
        const char *magic = quant == QUANT_INT8 ? "GENCWTS8" : "GENCWTS1";
        out->blob = weights_blob(arrays, n_arrays, magic, offsets, &out->blob_len);
        emit_line(e, "/* weights, batchnorm folded in: views of the blob %s_init checks */", name);
        for (int k = 0; k < n_arrays; k++)
            emit_line(e, "static const %s *%s; /* %ld %s at byte %ld */", arrays[k].int8 ? "signed char" : "real",
                      arrays[k].name, arrays[k].n, arrays[k].int8 ? "int8" : "floats", offsets[k]);
        emit_line(e, "%s", "");
        emit_open(e, "int %s_init(const void *blob, unsigned long size) {", name);
        emit_line(e, "const unsigned char *b = blob;");
        emit_line(e, "if (size != %zuu || memcmp(b, \"%s\", 8))", out->blob_len, magic);
        emit_line(e, "    return -1;");
        for (int k = 0; k < n_arrays; k++) {
            emit_open(e, "{");
            emit_line(e, "unsigned long n = (unsigned long)b[%d] | (unsigned long)b[%d] << 8 | (unsigned long)b[%d] << 16 | "
                         "(unsigned long)b[%d] << 24;", 12 + 4 * k, 13 + 4 * k, 14 + 4 * k, 15 + 4 * k);
            emit_line(e, "if (n != %ldu)", arrays[k].n);
            emit_line(e, "    return -1;");
            emit_line(e, "%s = (const %s *)(const void *)(b + %ld);", arrays[k].name,
                      arrays[k].int8 ? "signed char" : "real", offsets[k]);
            emit_close(e, NULL);
        }
        emit_line(e, "return 0;");
        emit_close(e, NULL);
    } else {
        emit_line(e, "/* weights, batchnorm folded in%s */", quant == QUANT_INT8 ? "; int8 ones with their scales" : "");
        for (int k = 0; k < n_arrays; k++)
            put_weights(e, &arrays[k]);
    }
    emit_line(e, "%s", "");
    emit_line(e, "/* scratch: activations, planned at compile time */");
    emit_line(e, "static real arena[%ld];", arena > 0 ? arena : 1);
    if (cyclegan) {
        translator_api(e, m, progs, name);
        out->c = emit_text(e, &out->c_len);
        out->h = emit_text(h, &out->h_len);
        return true;
    }
    emit_line(e, "static real in_z[%d], in_y[1];", m->latent.dim);
    emit_line(e, "%s", "");
    emit_open(e, "static void forward(void) {");
    emit_body(e, p);
    emit_line(e, "(void)in_y;");
    emit_close(e, NULL);
    emit_line(e, "%s", "");
    const char *labarg = classes ? "int label, " : "";
    emit_open(e, "void %s_sample(const float *z, %sfloat *out) {", name, labarg);
    emit_line(e, "memcpy(in_z, z, sizeof in_z);");
    if (classes)
        emit_line(e, "in_y[0] = (real)(label < 0 ? 0 : label >= %d ? %d : label);", classes, classes - 1);
    emit_line(e, "forward();");
    /* the result is channels-last; the API is channel-major */
    emit_line(e, "const real *y = %s;", emit_ref(e, p, p->result));
    if (oc > 1)
        emit_line(e, "for (int c = 0; c < %d; c++) for (int i = 0; i < %d; i++) out[c * %d + i] = y[i * %d + c];", oc,
                  oh * ow, oh * ow, oc);
    else
        emit_line(e, "memcpy(out, y, %ld * sizeof(float));", out_size);
    emit_close(e, NULL);
    emit_line(e, "%s", "");
    emit_line(e, "/* splitmix64, then Box-Muller: the built-in normal generator */");
    emit_open(e, "static uint64_t next(uint64_t *s) {");
    emit_line(e, "uint64_t z = (*s += 0x9e3779b97f4a7c15u);");
    emit_line(e, "z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;");
    emit_line(e, "z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;");
    emit_line(e, "return z ^ (z >> 31);");
    emit_close(e, NULL);
    emit_line(e, "%s", "");
    emit_open(e, "void %s_sample_seed(uint64_t seed, %sfloat *out) {", name, labarg);
    emit_line(e, "%sfloat z[%d];", m->latent.dim > EMIT_STACK_MAX ? "static " : "", m->latent.dim);
    emit_line(e, "uint64_t s = seed;");
    emit_open(e, "for (int i = 0; i < %d; i++) {", m->latent.dim);
    emit_line(e, "double u1 = ((double)(next(&s) >> 11) + 1) / 9007199254740993.0;");
    emit_line(e, "double u2 = (double)(next(&s) >> 11) / 9007199254740992.0;");
    if (m->latent.kind == LATENT_NORMAL)
        emit_line(e, "z[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));");
    else
        emit_line(e, "z[i] = (float)(2 * u2 - 1); (void)u1;");
    emit_close(e, NULL);
    emit_line(e, "%s_sample(z, %sout);", name, classes ? "label, " : "");
    emit_close(e, NULL);
    out->c = emit_text(e, &out->c_len);
    out->h = emit_text(h, &out->h_len);
    return true;
}
