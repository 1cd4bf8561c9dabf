/* ir.c: printing a program, for --dump-ir. */
#include "genc.h"

#include <string.h>

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
        const union op_attr *a = &n->a;
        switch (n->op) {
        case OP_INPUT: fprintf(f, " slot=%d", a->input.slot); break;
        case OP_PARAM: fprintf(f, " %s", pt[a->param.tensor].name); break;
        case OP_MATMUL: fprintf(f, " ta=%d tb=%d", a->matmul.ta, a->matmul.tb); break;
        case OP_FILL: fprintf(f, " %g", a->fill.value); break;
        case OP_SCALE: fprintf(f, " %g", a->scale.c); break;
        case OP_ADDC: fprintf(f, " %g", a->addc.c); break;
        case OP_LEAKY_RELU: fprintf(f, " %g", a->leaky_relu.alpha); break;
        case OP_LRELU_GRAD: fprintf(f, " %g", a->lrelu_grad.alpha); break;
        case OP_ELU: fprintf(f, " %g", a->elu.alpha); break;
        case OP_ELU_GRAD: fprintf(f, " %g", a->elu_grad.alpha); break;
        case OP_IM2COL: case OP_COL2IM:
            fprintf(f, " k=%d s=%d p=%d out=%dx%d", a->geom.k, a->geom.stride, a->geom.pad, a->geom.ho, a->geom.wo);
            break;
        case OP_UPSAMPLE: case OP_SUMPOOL: fprintf(f, " factor=%d", a->pool.factor); break;
        case OP_SLICE: fprintf(f, " off=%d", a->slice.off); break;
        case OP_PAD: fprintf(f, " before=%d", a->pad.before); break;
        case OP_DROPOUT: fprintf(f, " p=%g salt=%d", a->dropout.p, a->dropout.salt); break;
        case OP_UNIFORM: fprintf(f, " salt=%d", a->uniform.salt); break;
        case OP_NORMAL: fprintf(f, " salt=%d", a->normal.salt); break;
        case OP_ROWS: fprintf(f, " offset=%ld", a->rows.offset); break;
        case OP_CLIP: fprintf(f, " %g", a->clip.c); break;
        case OP_OUTPUT: fprintf(f, " slot=%d", a->output.slot); break;
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
