/* dce.c: dead-code elimination.  Effects (optimizer steps, outputs) and a
 * program's result are live; so is everything they read. */
#include "../genc.h"

void pass_dce(struct program *p) {
    struct ir *g = &p->ir;
    int n = g->nodes.len;
    bool *live = xalloc((size_t)n);
    for (int v = 0; v < n; v++)
        live[v] = (op_table[g->nodes.data[v].op].flags & F_EFFECT) || v == p->result || v == p->result2;
    for (int v = n - 1; v >= 0; v--) {
        if (!live[v])
            continue;
        struct node *nd = &g->nodes.data[v];
        for (int i = 0; i < nd->n_in; i++)
            live[nd->in[i]] = true;
    }
    for (int v = 0; v < n; v++) {
        g->nodes.data[v].dead = !live[v];
        g->nodes.data[v].n_users = 0;
    }
    for (int v = 0; v < n; v++) {
        struct node *nd = &g->nodes.data[v];
        if (nd->dead)
            continue;
        for (int i = 0; i < nd->n_in; i++)
            g->nodes.data[nd->in[i]].n_users++;
    }
}
