/* ir.c: the IR graph: adding nodes and dumping a program. */
#include "genc.h"

#include <string.h>

struct node *ir_node(struct ir *g, int id) {
    if (id < 0 || id >= g->nodes.len)
        unreachable();
    return &g->nodes.data[id];
}

int ir_add(struct ir *g, enum op op, const int *in, int n_in, struct shape shape) {
    const struct op_info *info = &op_table[op];
    if (n_in > 5 || (info->arity >= 0 && n_in != info->arity))
        unreachable();
    struct node n = {.op = op, .n_in = n_in, .shape = shape, .loc = g->cur_loc,
                     .what = g->cur_what, .fused_into = -1, .buf = -1};
    for (int i = 0; i < n_in; i++) {
        if (in[i] < 0 || in[i] >= g->nodes.len)
            unreachable();
        n.in[i] = in[i];
    }
    vec_push(&g->nodes, n);
    return g->nodes.len - 1;
}

static const char *shape_paren(struct shape s) {
    char *p = xprintf("(");
    for (int i = 0; i < s.n; i++)
        p = xprintf("%s%s%d", p, i ? ", " : "", s.d[i]);
    return xprintf("%s)", p);
}

void ir_dump(FILE *f, const struct program *p, const struct ptensor *pt) {
    fprintf(f, "program %s (batch %d, arena %ld scalars, peak live %ld)\n", p->name, p->batch,
            p->arena, p->peak_live);
    for (int id = 0; id < p->ir.nodes.len; id++) {
        const struct node *n = &p->ir.nodes.data[id];
        if (n->dead)
            continue;
        fprintf(f, "  %%%d = %s", id, op_table[n->op].name);
        for (int i = 0; i < n->n_in; i++)
            fprintf(f, "%s%%%d", i ? ", " : " ", n->in[i]);
        switch (n->op) {
        case OP_INPUT: fprintf(f, " slot=%d", n->i[0]); break;
        case OP_PARAM: fprintf(f, " %s", pt[n->i[0]].name); break;
        case OP_MATMUL: fprintf(f, " ta=%d tb=%d", n->i[0], n->i[1]); break;
        case OP_FILL: case OP_SCALE: case OP_ADDC: case OP_LEAKY_RELU: case OP_LRELU_GRAD:
            fprintf(f, " %g", n->f[0]);
            break;
        case OP_OUTPUT: fprintf(f, " slot=%d", n->i[0]); break;
        default: break;
        }
        fprintf(f, " : %s", shape_paren(n->shape));
        if (n->fused_into >= 0)
            fprintf(f, " fused->%%%d", n->fused_into);
        else if (n->buf >= 0)
            fprintf(f, " @%ld", p->bufs.data[n->buf].offset);
        if (n->what)
            fprintf(f, "  ; %s (line %d)", n->what, n->loc.line);
        fputc('\n', f);
    }
}
