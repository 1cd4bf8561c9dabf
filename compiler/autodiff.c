/* autodiff.c: reverse-mode AD that builds the backward pass as more IR.
 *
 * Only nodes on a path from some wrt node to the loss are differentiated,
 * so a detached input (the fakes in D's step) or a network whose weights
 * are not being trained costs nothing.  The gradient graph is made of the
 * same ops as the forward, so it can be differentiated again. */
#include "genc.h"

#include <string.h>

void autodiff(struct ir *g, int loss, const int *wrt, int n, int *grads) {
    int n_old = g->nodes.len;
    if (shape_size(ir_node(g, loss)->shape) != 1)
        unreachable();
    /* from[v]: v depends on some wrt node; to[v]: the loss depends on v */
    bool *from = xalloc((size_t)n_old), *to = xalloc((size_t)n_old);
    for (int k = 0; k < n; k++)
        from[wrt[k]] = true;
    for (int v = 0; v < n_old; v++) {
        struct node *nd = ir_node(g, v);
        if (op_table[nd->op].vjp == NULL)
            continue;
        for (int i = 0; i < nd->n_in; i++)
            if (from[nd->in[i]])
                from[v] = true;
    }
    to[loss] = true;
    for (int v = loss; v >= 0; v--) {
        if (!to[v] || op_table[ir_node(g, v)->op].vjp == NULL)
            continue;
        struct node *nd = ir_node(g, v);
        for (int i = 0; i < nd->n_in; i++)
            to[nd->in[i]] = true;
    }

    int *adj = xalloc(sizeof(int) * (size_t)n_old);
    for (int v = 0; v < n_old; v++)
        adj[v] = -1;
    struct loc saved_loc = g->cur_loc;
    const char *saved_what = g->cur_what;
    adj[loss] = ir_fill(g, 1, ir_node(g, loss)->shape);

    for (int v = loss; v >= 0; v--) {
        if (adj[v] < 0 || !from[v] || !to[v])
            continue;
        struct node nd = *ir_node(g, v); /* copy: the vector may grow */
        if (op_table[nd.op].vjp == NULL)
            continue;
        bool need[OP_MAX_IN] = {false};
        for (int i = 0; i < nd.n_in; i++)
            need[i] = from[nd.in[i]] && to[nd.in[i]];
        g->cur_loc = nd.loc;
        g->cur_what = nd.what ? xprintf("backward of %s", nd.what) : "backward";
        int dx[OP_MAX_IN];
        op_vjp(g, v, adj[v], need, dx);
        for (int i = 0; i < nd.n_in; i++) {
            if (!need[i] || dx[i] < 0)
                continue;
            int u = nd.in[i];
            if (!shape_eq(ir_node(g, dx[i])->shape, ir_node(g, u)->shape) &&
                shape_size(ir_node(g, dx[i])->shape) == shape_size(ir_node(g, u)->shape))
                dx[i] = ir_reshape(g, dx[i], ir_node(g, u)->shape);
            /* every gradient has its primal's shape */
            if (!shape_eq(ir_node(g, dx[i])->shape, ir_node(g, u)->shape))
                unreachable();
            adj[u] = adj[u] < 0 ? dx[i] : ir_binary(g, OP_ADD, adj[u], dx[i]);
        }
    }
    for (int k = 0; k < n; k++)
        grads[k] = adj[wrt[k]];
    g->cur_loc = saved_loc;
    g->cur_what = saved_what;
}
