/* summary.c: --summary, a table of the layers (output shapes, parameters,
 * MACs) and of what one training step costs. */
#include "genc.h"

#include <stdio.h>

void print_summary(FILE *f, const struct model *m, const struct lowered *lo) {
    fprintf(f, "model %s (%s), batch %d\n\n", m->name, m->path, m->train.batch);
    fprintf(f, "%-8s %-3s %-20s %-16s %12s %14s\n", "network", "#", "layer", "output", "params", "MACs/sample");
    long total_params = 0, total_macs = 0;
    for (int n = 0; n < m->nets.len; n++) {
        const struct network *net = &m->nets.data[n];
        long np = 0, nm = 0;
        for (int i = 0; i < net->layers.len; i++) {
            const struct layer *l = &net->layers.data[i];
            const char *what = layer_label(l);
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
    long arena = 0, arena_main = 0;
    for (int i = 0; i < lo->progs.len; i++) {
        if (lo->progs.data[i].arena > arena)
            arena = lo->progs.data[i].arena;
        if (lo->progs.data[i].arena_main > arena_main)
            arena_main = lo->progs.data[i].arena_main;
    }
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
    fprintf(f, "state             %12ld bytes (parameters, optimizer state, moving averages)\n", lo->n_state * 4);
    fprintf(f, "arena             %12ld bytes (train step: %ld; peak of live tensors: %ld)\n", arena * 4,
            train->arena * 4, train->peak_live * 4);
    if (arena_main < arena)
        fprintf(f, "oneDNN arena      %12ld bytes (what trainers running oneDNN's convolutions touch; the rest is "
                "their im2col and GEMM buffers)\n", arena_main * 4);
}
