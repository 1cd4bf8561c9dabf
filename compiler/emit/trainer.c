/* trainer.c: the trainer's C.  One function per program, every loop bound a
 * constant, GEMMs through cblas, fused elementwise groups as single loops,
 * all scratch in one static arena.  Same model in, same bytes out. */
#include "emit.h"
#include "genrt_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void emit_program(struct emit *e, const struct program *p) {
    switch (p->kind) {
    case PROG_TRAIN:
        if (p->ranks) {
            emit_line(e, "/* A data-parallel training step at batch %d, %s; this rank's rows", p->batch,
                      p->ranks > 0 ? xprintf("%d ranks sharing the global batch", p->ranks)
                                   : "any number of ranks, each with a whole batch");
            emit_line(e, " * start at row r0 of the global batch (genrt_mpi.h). */");
            emit_open(e, "static void %s(long t, double *out, long r0) {", p->name);
            emit_line(e, "row0 = r0;");
        } else {
            emit_line(e, "/* One training step at batch %d. t counts steps from 1; out gets the metrics. */", p->batch);
            emit_open(e, "static void %s(long t, double *out) {", p->name);
        }
        emit_line(e, "step_t = t;");
        break;
    case PROG_GENERATE:
        emit_line(e, "/* The generator's forward pass at batch %d, from in_z. */", p->batch);
        emit_open(e, "static const real *%s(void) {", p->name);
        break;
    case PROG_GC_LOSS:
        emit_line(e, "/* Gradient check: %s at batch %d. */", c_comment(e->lo->terms.data[p->term]), p->batch);
        emit_open(e, "static void %s(double *out) {", p->name);
        break;
    case PROG_GC_GRAD:
        emit_line(e, "/* Gradient check: d %s / d parameters at batch %d, into g. */", c_comment(e->lo->terms.data[p->term]),
                  p->batch);
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
        emit_line(e, "/* Translation at batch %d of in_%s: a generator, then the other back. */", p->batch,
                  slot_names[p->ir.nodes.data[0].a.input.slot]);
        emit_open(e, "static void %s(const real **out, const real **back) {", p->name);
        break;
    case PROG_CLASSIFY:
        emit_line(e, "/* The classifier at batch %d of in_x, eval mode: its features and its logits. */", p->batch);
        emit_open(e, "static void %s(const real **features, const real **logits) {", p->name);
        break;
    case PROG_SAMPLE:
        unreachable(); /* samplers are emitted by sampler.c */
    }
    emit_body(e, p);
    if (p->kind == PROG_GENERATE || p->kind == PROG_RECONSTRUCT)
        emit_line(e, "return %s;", emit_ref(e, p, p->result));
    if (p->kind == PROG_CLASSIFY) {
        emit_line(e, "*features = %s;", emit_ref(e, p, p->result));
        emit_line(e, "*logits = %s;", emit_ref(e, p, p->result2));
    }
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
    static const char *const roles[] = {"GENRT_PARAM", "GENRT_OPT_STATE", "GENRT_RUNNING", "GENRT_EMA"};
    static const char *const inits[] = {"GENRT_INIT_ZERO", "GENRT_INIT_ONE", "GENRT_INIT_FANIN_UNIFORM",
                                        "GENRT_INIT_UNIT_NORMAL"};
    emit_open(e, "static const struct genrt_tensor tensors[%d] = {", lo->tensors.len);
    for (int t = 0; t < lo->tensors.len; t++) {
        const struct ptensor *pt = &lo->tensors.data[t];
        char *dims = xprintf("%s", "");
        for (int i = 0; i < pt->shape.n; i++)
            dims = xprintf("%s%s%d", dims, i ? ", " : "", pt->shape.d[i]);
        emit_line(e, "{\"%s\", %s, %d, %s, %d, %d, {%s}, %ld, %ld, %d},", c_str(pt->name), roles[pt->role], pt->net,
                  inits[pt->init], pt->fan_in, pt->shape.n, dims, pt->offset, shape_size(pt->shape), pt->source);
    }
    emit_close(e, ";");
}

static const char *names_list(const char *const *names, int n) {
    char *s = xprintf("%s", "");
    for (int i = 0; i < n; i++)
        s = xprintf("%s%s\"%s\"", s, i ? ", " : "", c_str(names[i]));
    return s;
}

/* ---- inputs ---------------------------------------------------------------- */

/* What set_input and gc_set_input take for each slot (genrt_model.h),
 * and the train step's buffer (a generate() batch of latents is one batch
 * even when the step draws none). */
static const struct slot_size {
    const char *train, *buffer, *gc, *gc_buffer;
    const char *what;
} slot_sizes[GENRT_N_SLOTS] = {
    [GENRT_SLOT_X] = {"(long)REAL_BATCHES * BATCH * SAMPLE", "REAL_BATCHES * BATCH * SAMPLE", "(long)GC_BATCH * SAMPLE",
                      "GC_BATCH * SAMPLE", "real examples"},
    [GENRT_SLOT_Z] = {"(long)LATENT_BATCHES * BATCH * LATENT", "(LATENT_BATCHES ? LATENT_BATCHES : 1) * BATCH * LATENT",
                      "(long)GC_BATCH * LATENT", "GC_BATCH * LATENT", "latent vectors"},
    [GENRT_SLOT_Y] = {"(long)REAL_BATCHES * BATCH", "REAL_BATCHES * BATCH", "GC_BATCH", "GC_BATCH", "labels"},
    [GENRT_SLOT_XB] = {"(long)REAL_BATCHES * BATCH * SAMPLE_B", "REAL_BATCHES * BATCH * SAMPLE_B",
                       "(long)GC_BATCH * SAMPLE_B", "GC_BATCH * SAMPLE_B", "real examples of domain B"},
};

/* The slots program p reads, a bit each. */
static unsigned slots_of(const struct program *p) {
    unsigned used = 0;
    for (int v = 0; v < p->ir.nodes.len; v++)
        if (p->ir.nodes.data[v].op == OP_INPUT && !p->ir.nodes.data[v].dead)
            used |= 1u << p->ir.nodes.data[v].a.input.slot;
    return used;
}

static bool is_gc(const struct program *p) { return p->kind == PROG_GC_LOSS || p->kind == PROG_GC_GRAD; }

static bool has_mpi_steps(const struct lowered *lo) {
    for (int i = 0; i < lo->progs.len; i++)
        if (lo->progs.data[i].ranks)
            return true;
    return false;
}

/* The slots any program (gc: a gradient check) reads. */
static unsigned slots_used(const struct lowered *lo, bool gc) {
    unsigned used = 0;
    for (int i = 0; i < lo->progs.len; i++)
        if (is_gc(&lo->progs.data[i]) == gc)
            used |= slots_of(&lo->progs.data[i]);
    return used;
}

static const struct program *program_of(const struct lowered *lo, enum prog_kind kind, int k) {
    for (int i = 0; i < lo->progs.len; i++)
        if (lo->progs.data[i].kind == kind && k-- == 0)
            return &lo->progs.data[i];
    return NULL;
}

/* The part of the file every program needs: includes, the scalar type,
 * state, arena and inputs, and one function per program. */
static void emit_programs(struct emit *e, const char *banner, int batch, int gc_batch, long sample, int latent,
                          long sample_b) {
    const struct lowered *lo = e->lo;
    long arena = 0;
    for (int i = 0; i < lo->progs.len; i++)
        if (lo->progs.data[i].arena > arena)
            arena = lo->progs.data[i].arena;

    emit_line(e, "/* generated by genc %s from %s; do not edit */", GENC_VERSION, c_comment(e->path));
    emit_line(e, "%s", banner);
    emit_line(e, "/* Build: cc -O2 X.c $(pkg-config --cflags --libs genrt) -o X, this file as X.c; */");
    emit_line(e, "/* -DGENC_DOUBLE builds it in double (gradcheck's; a trainer with -DGENC_DOUBLE_MAIN). */");
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
    emit_line(e, "#if !defined(GENC_NO_MAIN) && !defined(GENC_DOUBLE_MAIN)");
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
    emit_line(e, "    REAL_BATCHES = %d, LATENT_BATCHES = %d,", lo->real_batches, lo->latent_batches);
    if (sample_b)
        emit_line(e, "    SAMPLE_B = %ld, /* domain B */", sample_b);
    emit_line(e, "    N_STATE = %ld, N_ARENA = %ld, N_TENSORS = %d,", lo->n_state, arena, lo->tensors.len);
    emit_line(e, "};");
    emit_line(e, "%s", "");
    emit_line(e, "/* parameters and optimizer state, saved in checkpoints */");
    emit_line(e, "static real state[N_STATE] __attribute__((aligned(64)));");
    emit_line(e, "/* activations, gradients and scratch: offsets planned at compile time */");
    emit_line(e, "static real arena[N_ARENA] __attribute__((aligned(64)));");
    unsigned train = slots_used(lo, false), gc = slots_used(lo, true);
    if (train | gc)
        emit_line(e, "/* inputs, for the steps (in_) and the gradient checks (gc_) */");
    for (int s = 0; s < GENRT_N_SLOTS; s++) {
        const char *in = train >> s & 1u ? xprintf("in_%s[%s]", slot_names[s], slot_sizes[s].buffer) : NULL;
        const char *gcb = gc >> s & 1u ? xprintf("gc_%s[%s]", slot_names[s], slot_sizes[s].gc_buffer) : NULL;
        if (in || gcb)
            emit_line(e, "static real %s%s%s; /* %s */", in ? in : "", in && gcb ? ", " : "", gcb ? gcb : "",
                      slot_sizes[s].what);
    }
    emit_line(e, "/* the training step being run: seeds dropout masks */");
    emit_line(e, "static long step_t;");
    if (has_mpi_steps(lo))
        emit_line(e, "/* a data-parallel step: this rank's first row of the global batch */\nstatic long row0;");
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
    struct emit e = {.path = path, .lo = lo, .parallel = true};
    emit_programs(&e, "/* test programs */", 1, 1, 1, 1, 0);
    *len = e.len;
    return e.buf;
}

/* ---- the runtime's entry points ------------------------------------------- */

/* set_input (gc: gc_set_input): every slot the programs read, by name */
static void emit_set_input(struct emit *e, bool gc) {
    unsigned used = slots_used(e->lo, gc);
    emit_open(e, "static void %s(int slot, const float *src) {", gc ? "gc_set_input" : "set_input");
    emit_line(e, "real *dst;");
    emit_line(e, "long n;");
    emit_open(e, "switch (slot) {");
    static const char *const enums[GENRT_N_SLOTS] = {"GENRT_SLOT_X", "GENRT_SLOT_Z", "GENRT_SLOT_Y", "GENRT_SLOT_XB"};
    for (int s = 0; s < GENRT_N_SLOTS; s++)
        if (used >> s & 1u)
            emit_line(e, "case %s: dst = %s_%s, n = %s; break;", enums[s], gc ? "gc" : "in", slot_names[s],
                      gc ? slot_sizes[s].gc : slot_sizes[s].train);
    emit_line(e, "default: return;");
    emit_close(e, NULL);
    emit_line(e, "for (long i = 0; i < n; i++)");
    emit_line(e, "    dst[i] = (real)src[i];");
    emit_close(e, NULL);
    emit_line(e, "%s", "");
}

/* genc --mpi: the data-parallel steps' inputs, this rank's rows of each
 * sub-batch of the global batch, and the table of those steps. */
static void emit_mpi_steps(struct emit *e) {
    static const char *const enums[GENRT_N_SLOTS] = {"GENRT_SLOT_X", "GENRT_SLOT_Z", "GENRT_SLOT_Y", "GENRT_SLOT_XB"};
    static const char *const sizes[GENRT_N_SLOTS] = {"SAMPLE, k = REAL_BATCHES", "LATENT, k = LATENT_BATCHES",
                                                     "1, k = REAL_BATCHES", "SAMPLE_B, k = REAL_BATCHES"};
    unsigned used = slots_used(e->lo, false);
    emit_line(e, "/* A data-parallel step's inputs: rows [r0, r0 + rows) of each sub-batch of");
    emit_line(e, " * `global` rows in src, side by side in the step's buffer. */");
    emit_open(e, "static void set_input_rows(int slot, const float *src, long global, long r0, long rows) {");
    emit_line(e, "real *dst;");
    emit_line(e, "long size, k;");
    emit_open(e, "switch (slot) {");
    for (int s = 0; s < GENRT_N_SLOTS; s++)
        if (used >> s & 1u)
            emit_line(e, "case %s: dst = in_%s, size = %s; break;", enums[s], slot_names[s], sizes[s]);
    emit_line(e, "default: return;");
    emit_close(e, NULL);
    emit_line(e, "for (long b = 0; b < k; b++)");
    emit_line(e, "    for (long i = 0; i < rows * size; i++)");
    emit_line(e, "        dst[b * rows * size + i] = (real)src[(b * global + r0) * size + i];");
    emit_close(e, NULL);
    emit_line(e, "%s", "");
    emit_open(e, "static const struct genrt_mpi_step mpi_steps[] = {");
    for (int i = 0; i < e->lo->progs.len; i++) {
        const struct program *p = &e->lo->progs.data[i];
        if (p->ranks)
            emit_line(e, "{%d, %d, %s},", p->ranks, p->batch, p->name);
    }
    emit_close(e, ";");
    emit_line(e, "%s", "");
}

/* copy `rows` examples of n scalars each from a float array into a real one */
static void copy_in(struct emit *e, const char *dst, const char *src, const char *n) {
    emit_line(e, "for (long i = 0; i < %s; i++)", n);
    emit_line(e, "    %s[i] = (real)%s[i];", dst, src);
}

static void copy_out(struct emit *e, const char *dst, const char *src, const char *n) {
    emit_line(e, "for (long i = 0; i < %s; i++)", n);
    emit_line(e, "    %s[i] = (float)%s[i];", dst, src);
}

/* The entry points of the programs the objective built: generate (a
 * generate() program), elbo_batch (elbo()), reconstruct
 * (reconstruct_fwd()), translate (the two translate programs).  Returns
 * the descriptor's fields for them. */
static const char *emit_entries(struct emit *e) {
    const struct lowered *lo = e->lo;
    const char *fields = "";
    const struct program *p = program_of(lo, PROG_GENERATE, 0);
    if (p) {
        emit_open(e, "static void generate_batch(const float *z, const float *y, float *out) {");
        copy_in(e, "in_z", "z", "(long)BATCH * LATENT");
        if (slots_of(p) >> GENRT_SLOT_Y & 1u) {
            emit_line(e, "for (long i = 0; y && i < BATCH; i++)");
            emit_line(e, "    in_y[i] = (real)y[i];");
        } else {
            emit_line(e, "(void)y; /* no labels */");
        }
        emit_line(e, "const real *x = %s();", p->name);
        copy_out(e, "out", "x", "(long)BATCH * SAMPLE");
        emit_close(e, NULL);
        emit_line(e, "%s", "");
        fields = xprintf("%s.generate = generate_batch,\n", fields);
    }
    if ((p = program_of(lo, PROG_ELBO, 0))) {
        emit_open(e, "static void elbo_batch(const float *x, double *out) {");
        emit_line(e, "static long calls; /* a fixed sequence of noise, one draw per batch */");
        copy_in(e, "in_x", "x", "(long)BATCH * SAMPLE");
        emit_line(e, "step_t = -1 - calls++;");
        emit_line(e, "%s(out);", p->name);
        emit_close(e, NULL);
        emit_line(e, "%s", "");
        fields = xprintf("%s.elbo_batch = elbo_batch,\n", fields);
    }
    if ((p = program_of(lo, PROG_RECONSTRUCT, 0))) {
        emit_open(e, "static void reconstruct(const float *x, float *out) {");
        copy_in(e, "in_x", "x", "(long)BATCH * SAMPLE");
        emit_line(e, "const real *r = %s();", p->name);
        copy_out(e, "out", "r", "(long)BATCH * SAMPLE");
        emit_close(e, NULL);
        emit_line(e, "%s", "");
        fields = xprintf("%s.reconstruct = reconstruct,\n", fields);
    }
    const struct program *ab = program_of(lo, PROG_TRANSLATE, 0), *ba = program_of(lo, PROG_TRANSLATE, 1);
    if (ab && ba) {
        if (!(slots_of(ab) >> GENRT_SLOT_X & 1u) || !(slots_of(ba) >> GENRT_SLOT_XB & 1u))
            unreachable(); /* dir 0 translates domain A */
        emit_open(e, "static void translate(int dir, const float *x, float *out, float *back) {");
        emit_line(e, "real *in = dir == 0 ? in_x : in_xb;");
        emit_line(e, "long n_in = (long)BATCH * (dir == 0 ? SAMPLE : SAMPLE_B), n_out = (long)BATCH * (dir == 0 ? "
                     "SAMPLE_B : SAMPLE);");
        emit_line(e, "const real *o, *b;");
        copy_in(e, "in", "x", "n_in");
        emit_line(e, "if (dir == 0)");
        emit_line(e, "    %s(&o, &b);", ab->name);
        emit_line(e, "else");
        emit_line(e, "    %s(&o, &b);", ba->name);
        copy_out(e, "out", "o", "n_out");
        copy_out(e, "back", "b", "n_in");
        emit_close(e, NULL);
        emit_line(e, "%s", "");
        fields = xprintf("%s.translate = translate,\n", fields);
    }
    if ((p = program_of(lo, PROG_CLASSIFY, 0))) {
        emit_open(e, "static void classify(const float *x, float *features, float *logits) {");
        emit_line(e, "const real *f, *l;");
        copy_in(e, "in_x", "x", "(long)BATCH * SAMPLE");
        emit_line(e, "%s(&f, &l);", p->name);
        copy_out(e, "features", "f", xprintf("(long)BATCH * %d", lo->n_features));
        copy_out(e, "logits", "l", xprintf("(long)BATCH * %d", lo->n_classes));
        emit_close(e, NULL);
        emit_line(e, "%s", "");
        fields = xprintf("%s.n_features = %d,\n.classify = classify,\n", fields, lo->n_features);
    }
    return fields;
}

static const char *const data_kind_names[N_DATA_KINDS] = {"GENRT_DATA_FASHION_MNIST", "GENRT_DATA_RING8",
                                                           "GENRT_DATA_IMAGES"};

/* The fields of a data source that the model and a genrt_domain share. */
static void emit_data_fields(struct emit *e, const struct dataset *d) {
    emit_line(e, ".data_kind = %s,", data_kind_names[d->kind]);
    emit_line(e, ".data_path = \"%s\",", c_str(d->path ? d->path : ""));
    emit_line(e, ".data_train = %d,", d->train);
    emit_line(e, ".data_class = %d,", d->select);
    if (d->limit)
        emit_line(e, ".data_limit = %ld,", d->limit);
    emit_line(e, ".range_lo = %.9g, .range_hi = %.9g,", d->lo, d->hi);
    if (d->shape.n == 3)
        emit_line(e, ".img_c = %d, .img_h = %d, .img_w = %d,", d->shape.d[0], d->shape.d[1], d->shape.d[2]);
}

/* A text as a C string, a literal per line: the spec's and genc's own
 * outputs, which the run report shows. */
static void emit_text_const(struct emit *e, const char *name, const char *text) {
    if (!*text) {
        emit_line(e, "static const char %s[] = \"\";", name);
        return;
    }
    emit_line(e, "static const char %s[] =", name);
    e->indent++;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        char *line = xprintf("%.*s", (int)n, p);
        p += n;
        emit_line(e, "\"%s\"%s", c_str(line), *p ? "" : ";");
    }
    e->indent--;
}

/* What a memstream printer writes, as a string. */
static char *printed(void (*print)(FILE *, const struct model *, const struct lowered *), const struct model *m,
                     const struct lowered *lo) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) {
        fprintf(stderr, "genc: out of memory\n");
        exit(1);
    }
    print(f, m, lo);
    fclose(f);
    char *s = xprintf("%s", buf);
    free(buf);
    return s;
}

static void print_dot_of(FILE *f, const struct model *m, const struct lowered *lo) {
    (void)lo;
    print_dot(f, m);
}

/* The spec's text, --summary and --dot, for the run report. */
static void emit_report_texts(struct emit *e, const struct model *m, const struct lowered *lo,
                              const struct source *src) {
    emit_line(e, "/* For the run report (X report): the spec, genc --summary and genc --dot. */");
    emit_text_const(e, "spec_text", src ? xprintf("%.*s", (int)src->len, src->text) : "");
    emit_text_const(e, "spec_summary", printed(print_summary, m, lo));
    emit_text_const(e, "spec_dot", printed(print_dot_of, m, lo));
    emit_line(e, "%s", "");
}

char *emit_c(const struct model *m, const struct lowered *lo, const struct source *src, size_t *len) {
    struct emit e = {.path = m->path, .lo = lo, .parallel = true};
    bool two = m->n_domains == 2;
    char *nets = xprintf("%s", "");
    for (int i = 0; i < m->nets.len; i++) {
        const struct network *n = &m->nets.data[i];
        nets = xprintf("%s%s %s -> %s, ", nets, c_comment(n->name), shape_str(n->in), shape_str(n->out));
    }
    emit_programs(&e, xprintf("/* model %s: %sbatch %d. */", c_comment(m->name), nets, m->train.batch),
                  m->train.batch, lo->gc_batch, shape_size(m->data.shape), m->latent.dim,
                  two ? shape_size(m->data_b.shape) : 0);

    emit_set_input(&e, false);
    emit_set_input(&e, true);
    if (has_mpi_steps(lo))
        emit_mpi_steps(&e);
    const char *entries = emit_entries(&e);
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

    const char **names = xalloc(sizeof(char *) * (size_t)m->nets.len);
    for (int i = 0; i < m->nets.len; i++)
        names[i] = m->nets.data[i].name;
    emit_line(&e, "static const char *const net_names[] = {%s};", names_list(names, m->nets.len));
    emit_line(&e, "static const char *const metric_names[] = {%s};", names_list(lo->metrics.data, lo->metrics.len));
    emit_open(&e, "static const struct genrt_term terms[] = {");
    for (int k = 0; k < lo->terms.len; k++)
        emit_line(&e, "{\"%s\", %uu},", c_str(lo->terms.data[k]), lo->term_nets.data[k]);
    emit_close(&e, ";");
    emit_line(&e, "%s", "");
    if (two) {
        const struct dataset *B = &m->data_b;
        emit_open(&e, "static const struct genrt_domain domain_b = {");
        emit_line(&e, ".name = \"%s\",", c_str(B->domain));
        emit_data_fields(&e, B);
        emit_line(&e, ".sample_size = SAMPLE_B,");
        emit_close(&e, ";");
        emit_line(&e, "%s", "");
    }
    static const char *const objectives[] = {[GENRT_OBJ_GAN] = "GENRT_OBJ_GAN", [GENRT_OBJ_VAE] = "GENRT_OBJ_VAE",
                                             [GENRT_OBJ_CYCLEGAN] = "GENRT_OBJ_CYCLEGAN",
                                             [GENRT_OBJ_CLASSIFIER] = "GENRT_OBJ_CLASSIFIER"};
    emit_report_texts(&e, m, lo, src);
    emit_open(&e, "const struct genrt_model GENC_MODEL_SYM = {");
    emit_line(&e, ".abi = GENRT_ABI,");
    emit_line(&e, ".objective = %s,", objectives[lo->genrt_objective]);
    emit_line(&e, ".objective_name = \"%s\",", c_str(lo->objective_title));
    emit_line(&e, ".name = \"%s\",", c_str(m->name));
    emit_line(&e, ".spec = \"%s\",", c_str(m->path));
    emit_line(&e, ".spec_text = spec_text,");
    emit_line(&e, ".spec_summary = spec_summary,");
    emit_line(&e, ".spec_dot = spec_dot,");
    emit_line(&e, ".shape_hash = 0x%016llxull,", (unsigned long long)lo->shape_hash);
    emit_line(&e, ".real_size = sizeof(real),");
    emit_data_fields(&e, &m->data);
    emit_line(&e, ".sample_size = SAMPLE,");
    emit_line(&e, ".latent_kind = %s,", m->latent.kind == LATENT_NORMAL ? "GENRT_LATENT_NORMAL" : "GENRT_LATENT_UNIFORM");
    emit_line(&e, ".latent_dim = LATENT,");
    if (two) {
        emit_line(&e, ".domain_a = \"%s\",", c_str(m->data.domain));
        emit_line(&e, ".domain_b = &domain_b,");
    }
    emit_line(&e, ".n_classes = %d,", lo->n_classes);
    emit_line(&e, ".real_batches = REAL_BATCHES,");
    emit_line(&e, ".latent_batches = LATENT_BATCHES,");
    emit_line(&e, ".batch = BATCH,");
    emit_line(&e, ".steps = %ld,", m->train.steps);
    emit_line(&e, ".seed = %lluu,", (unsigned long long)m->train.seed);
    emit_line(&e, ".sample_every = %ld,", m->train.sample_every);
    emit_line(&e, ".checkpoint_every = %ld,", m->train.checkpoint_every);
    if (m->train.score_every) {
        emit_line(&e, ".score_every = %ld,", m->train.score_every);
        if (m->train.classifier)
            emit_line(&e, ".score_classifier = \"%s\",", c_str(m->train.classifier));
    }
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
    for (const char *f = entries; *f;) {
        const char *nl = strchr(f, '\n');
        emit_line(&e, "%.*s", (int)(nl - f), f);
        f = nl + 1;
    }
    emit_line(&e, ".gc_batch = GC_BATCH,");
    emit_line(&e, ".n_terms = %d,", lo->terms.len);
    emit_line(&e, ".terms = terms,");
    emit_line(&e, ".gc_set_input = gc_set_input,");
    emit_line(&e, ".gc_loss = gc_loss,");
    emit_line(&e, ".gc_grad = gc_grad,");
    if (has_mpi_steps(lo)) {
        emit_line(&e, ".n_mpi_steps = sizeof mpi_steps / sizeof mpi_steps[0],");
        emit_line(&e, ".mpi_steps = mpi_steps,");
        emit_line(&e, ".set_input_rows = set_input_rows,");
    }
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
