/* driver.c: one compile, from a parsed spec to planned programs ready to
 * emit, with the bounds every emitted trainer must fit in.  main.c and the
 * fuzzer (tests/fuzz/) run exactly this. */
#include "genc.h"

/* Scalars the trainer keeps in static arrays: the state, the arena and the
 * input batches.  Inputs are counted per program, which overcounts batches
 * that programs share, so the bound errs on the safe side. */
static size_t static_scalars(const struct lowered *lo, long *arena_out, long *inputs_out) {
    long arena = 0, inputs = 0;
    for (int i = 0; i < lo->progs.len; i++) {
        const struct program *p = &lo->progs.data[i];
        arena = p->arena > arena ? p->arena : arena;
        for (int v = 0; v < p->ir.nodes.len; v++)
            if (p->ir.nodes.data[v].op == OP_INPUT)
                inputs += shape_size(p->ir.nodes.data[v].shape);
    }
    *arena_out = arena;
    *inputs_out = inputs;
    return (size_t)lo->n_state + (size_t)arena + (size_t)inputs;
}

/* Every tensor must be indexable by the emitted C's ints, and all static
 * memory must link (see GENC_MAX_STATIC_BYTES). */
static bool check_bounds(const struct lowered *lo) {
    long arena, inputs;
    size_t scalars = static_scalars(lo, &arena, &inputs), bytes;
    if (__builtin_mul_overflow(scalars, sizeof(float) + sizeof(double), &bytes) || bytes > GENC_MAX_STATIC_BYTES) {
        error_plain("model too large: %zu bytes of state (%ld values: parameters and optimizer state) and %zu "
                    "bytes of scratch, %.4g bytes with the trainer's double build (for gradcheck); at most %zu "
                    "(1.5 GiB) link", (size_t)lo->n_state * sizeof(float), lo->n_state,
                    (size_t)(arena + inputs) * sizeof(float), (double)scalars * (sizeof(float) + sizeof(double)),
                    (size_t)GENC_MAX_STATIC_BYTES);
        return false;
    }
    for (int i = 0; i < lo->progs.len; i++) {
        const struct program *p = &lo->progs.data[i];
        for (int v = 0; v < p->ir.nodes.len; v++) {
            const struct node *n = &p->ir.nodes.data[v];
            if (shape_size(n->shape) > GENC_MAX_VALUES) {
                error_at(n->loc, "model too large: %s needs a tensor of %ld values; at most %ld are supported",
                         n->what ? n->what : "this layer", shape_size(n->shape), GENC_MAX_VALUES);
                return false;
            }
        }
    }
    return true;
}

/* `ema` averages the weights that sampling reads: a network no program
 * that generates (sample, translate, reconstruct) reads has no use for one. */
static bool check_ema(const struct model *m, const struct lowered *lo) {
    bool ok = true;
    for (int k = 0; k < m->opts.len; k++) {
        const struct optim *o = &m->opts.data[k];
        if (o->ema == 0)
            continue;
        bool read = false;
        for (int i = 0; i < lo->progs.len && !read; i++) {
            const struct program *p = &lo->progs.data[i];
            if (p->kind != PROG_GENERATE && p->kind != PROG_TRANSLATE && p->kind != PROG_RECONSTRUCT)
                continue;
            for (int v = 0; v < p->ir.nodes.len && !read; v++) {
                const struct node *n = &p->ir.nodes.data[v];
                read = n->op == OP_PARAM && lo->tensors.data[n->a.param.tensor].net == o->net;
            }
        }
        if (!read) {
            error_at(o->ema_loc, "ema on '%s', which does not generate: the moving average is of the weights "
                     "that sample with (a generator's, a decoder's)", m->nets.data[o->net].name);
            ok = false;
        }
    }
    return ok;
}

bool genc_build(const struct ast *ast, const struct source *src, struct model *m, struct lowered *lo,
                uint64_t mpi_ranks) {
    if (!sema(ast, src, m))
        return false;
    lower_model(m, lo);
    if (mpi_ranks != ~0ull) /* --mpi-ranks: each must split the batch */
        for (int r = 2; r <= GENC_MPI_MAX_RANKS; r++)
            if ((mpi_ranks >> (r - 1) & 1u) && m->train.batch % r != 0) {
                error_plain("--mpi-ranks %d: the batch of %d does not split among %d ranks", r, m->train.batch, r);
                return false;
            }
    if (mpi_ranks)
        lower_mpi_steps(m, lo, mpi_ranks);
    if (!check_ema(m, lo))
        return false;
    run_passes(lo);
    return check_bounds(lo);
}
