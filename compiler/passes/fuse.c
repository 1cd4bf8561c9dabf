/* fuse.c: fusion of elementwise chains.
 *
 * An elementwise node whose only consumer is another elementwise node of
 * the same size (or a reduction over it) is computed inside that
 * consumer's loop, in a local variable, and never stored.  So a GEMM is
 * followed by one loop doing bias + activation, and a loss is one loop
 * doing softplus and the mean.  A node is not moved across an effect (an
 * optimizer step), since the parameters it reads may change there. */
#include "../genc.h"

int fuse_root(const struct program *p, int n) {
    while (p->ir.nodes.data[n].fused_into >= 0)
        n = p->ir.nodes.data[n].fused_into;
    return n;
}

bool fuse_disabled;

void pass_fuse(struct program *p) {
    struct ir *g = &p->ir;
    int n = g->nodes.len;
    /* user[v]: v's only consumer, -1 for none, -2 for several */
    int *user = xalloc(sizeof(int) * (size_t)n);
    /* optimizer steps change parameters: nothing moves across one */
    int *barriers_before = xalloc(sizeof(int) * (size_t)(n + 1));
    for (int v = 0; v < n; v++)
        user[v] = -1;
    for (int v = 0; v < n; v++) {
        struct node *nd = &g->nodes.data[v];
        barriers_before[v + 1] = barriers_before[v] + (!nd->dead && (nd->op == OP_ADAM || nd->op == OP_SGD));
        if (nd->dead)
            continue;
        for (int i = 0; i < nd->n_in; i++) {
            int u = nd->in[i];
            user[u] = user[u] == -1 || user[u] == v ? v : -2;
        }
    }
    for (int v = 0; v < n; v++) {
        struct node *nd = &g->nodes.data[v];
        nd->fused_into = -1;
        if (fuse_disabled || nd->dead || op_table[nd->op].kind != K_ELEM || v == p->result ||
            v == p->result2)
            continue;
        int c = user[v];
        if (c < 0)
            continue;
        struct node *cn = &g->nodes.data[c];
        enum op_kind ck = op_table[cn->op].kind;
        if (ck != K_ELEM && ck != K_REDUCE)
            continue;
        if (shape_size(cn->shape) != shape_size(nd->shape) && ck != K_REDUCE)
            continue;
        bool broadcast = cn->op == OP_ADD_BIAS || cn->op == OP_MUL_CHANNEL || cn->op == OP_ADD_ROW ||
                         cn->op == OP_MUL_ROW;
        if (broadcast && cn->in[1] == v)
            continue; /* a per-channel or per-example operand is not indexed by element */
        if (ck == K_ELEM && !shape_eq(cn->shape, nd->shape))
            continue; /* one loop, one shape: channels must line up */
        if (ck == K_REDUCE && !shape_eq(nd->shape, g->nodes.data[cn->in[0]].shape))
            continue;
        if (barriers_before[c] != barriers_before[v + 1])
            continue;
        nd->fused_into = c;
    }
}
