/* fuse.c: fusion of elementwise chains.
 *
 * An elementwise node whose only consumer is another elementwise node of
 * the same size (or a reduction over it) is computed inside that
 * consumer's loop, in a local variable, and never stored.  So a GEMM is
 * followed by one loop doing bias + activation, and a loss is one loop
 * doing softplus and the mean.  Fusing moves a computation to its
 * consumer's place, so it never moves a read across an effect that writes
 * what is read (an optimizer step and the parameters it updates). */
#include "../genc.h"

int fuse_root(const struct program *p, int n) {
    while (p->ir.nodes.data[n].fused_into >= 0)
        n = p->ir.nodes.data[n].fused_into;
    return n;
}

bool fuse_disabled;

/* a and b are the same persistent tensor or the same value */
static bool same_storage(const struct ir *g, int a, int b) {
    a = ir_storage(g, a), b = ir_storage(g, b);
    const struct node *x = &g->nodes.data[a], *y = &g->nodes.data[b];
    return a == b || (x->op == OP_PARAM && y->op == OP_PARAM && x->a.param.tensor == y->a.param.tensor);
}

/* Does the group rooted at v (v and what is fused into it) read storage
 * that an effect between v and c writes?  Then it cannot run at c. */
static bool read_written_between(const struct program *p, const int *writers, int n_writers, int v, int c) {
    const struct ir *g = &p->ir;
    for (int k = 0; k < n_writers; k++) {
        int w = writers[k];
        if (w <= v || w >= c)
            continue;
        const struct node *wn = &g->nodes.data[w];
        for (int u = 0; u <= v; u++) {
            const struct node *un = &g->nodes.data[u];
            if (un->dead || fuse_root(p, u) != v)
                continue;
            for (int i = 0; i < un->n_in; i++)
                for (int j = 0; j < wn->n_in; j++)
                    if ((op_table[wn->op].writes >> j & 1u) && same_storage(g, un->in[i], wn->in[j]))
                        return true;
        }
    }
    return false;
}

void pass_fuse(struct program *p) {
    struct ir *g = &p->ir;
    int n = g->nodes.len;
    /* user[v]: v's only consumer, -1 for none, -2 for several */
    int *user = xalloc(sizeof(int) * (size_t)n);
    /* the effects that update their operands in place, in order */
    int *writers = xalloc(sizeof(int) * (size_t)(n + 1));
    int n_writers = 0;
    for (int v = 0; v < n; v++)
        user[v] = -1;
    for (int v = 0; v < n; v++) {
        struct node *nd = &g->nodes.data[v];
        if (nd->dead)
            continue;
        if (op_table[nd->op].writes)
            writers[n_writers++] = v;
        for (int i = 0; i < nd->n_in; i++) {
            int u = nd->in[i];
            user[u] = user[u] == -1 || user[u] == v ? v : -2;
        }
    }
    for (int v = 0; v < n; v++) {
        struct node *nd = &g->nodes.data[v];
        nd->fused_into = -1;
        if (fuse_disabled || nd->dead || op_table[nd->op].sched != S_ELEM || v == p->result ||
            v == p->result2)
            continue;
        int c = user[v];
        if (c < 0)
            continue;
        struct node *cn = &g->nodes.data[c];
        enum op_sched cs = op_table[cn->op].sched;
        if (cs != S_ELEM && cs != S_REDUCE)
            continue;
        if (shape_size(cn->shape) != shape_size(nd->shape) && cs != S_REDUCE)
            continue;
        bool indexed = true; /* a per-channel or per-example operand is not indexed by element */
        for (int i = 0; i < cn->n_in; i++)
            if (cn->in[i] == v && op_table[cn->op].operand[i] != BC_SAME && op_table[cn->op].operand[i] != BC_SCALAR)
                indexed = false;
        if (!indexed)
            continue;
        if (cs == S_ELEM && !shape_eq(cn->shape, nd->shape))
            continue; /* one loop, one shape: channels must line up */
        if (cs == S_REDUCE && !shape_eq(nd->shape, g->nodes.data[cn->in[0]].shape))
            continue;
        if (read_written_between(p, writers, n_writers, v, c))
            continue;
        nd->fused_into = c;
    }
}
