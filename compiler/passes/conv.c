/* conv.c: the convolution passes in the IR, which the emitter may hand to
 * oneDNN (runtime/genrt_dnnl.h) instead of running them as im2col and GEMM.
 *
 * The IR has no convolution op: conv = matmul(im2col(x), W^T) and deconv
 * = col2im(matmul(x, W)), which differentiate (twice) into the same three
 * shapes, each a convolution pass with W[Co, k*k*Ci]:
 *   CONV_FWD       matmul(im2col(x), W, tb)         y[N*Ho*Wo, Co]   (x: Ci channels)
 *   CONV_BWD_W     matmul(dy, im2col(x), ta)        dW[Co, k*k*Ci]
 *   CONV_BWD_DATA  col2im(matmul(dy, W))            dx[N, H, W, Ci]
 * The matmul (fwd, bwd-w) or the col2im (bwd-data) is marked with its pass;
 * its guest (the im2col, or the GEMM before the col2im) is computed only
 * when oneDNN does not run the pass, so the marked node reads the guest's
 * inputs itself, and the memory plan keeps them live until it runs.
 *
 * Not marked: a guest something else also reads; a pass with an effect
 * between guest and node (the weights may change there); backward-data
 * into one channel, where oneDNN measured slower than the GEMM (make
 * bench-kernels: 0.6-0.8x); geometries whose bottom/right padding would be
 * negative. */
#include "../genc.h"

int conv_guest_of(const struct program *p, int v) {
    const struct node *n = &p->ir.nodes.data[v];
    switch (n->conv) {
    case CONV_FWD: return n->in[0];
    case CONV_BWD_W: return n->in[1];
    case CONV_BWD_DATA: return n->in[0];
    default: return -1;
    }
}

static bool is(const struct program *p, int v, enum op op) { return p->ir.nodes.data[v].op == op; }

/* the image side of pass v's convolution and its window */
static bool geometry_fits(struct shape img, struct geom_attr ge) {
    int k = ge.k, s = ge.stride;
    return img.n == 4 && (ge.ho - 1) * s + k - img.d[1] - ge.pad >= 0 && (ge.wo - 1) * s + k - img.d[2] - ge.pad >= 0;
}

static enum conv_pass find(const struct program *p, int v) {
    const struct ir *g = &p->ir;
    const struct node *n = &g->nodes.data[v];
    if (n->op == OP_MATMUL && !n->a.matmul.ta && n->a.matmul.tb && is(p, n->in[0], OP_IM2COL)) {
        const struct node *c = &g->nodes.data[n->in[0]];
        return geometry_fits(g->nodes.data[c->in[0]].shape, c->a.geom) ? CONV_FWD : CONV_NONE;
    }
    if (n->op == OP_MATMUL && n->a.matmul.ta && !n->a.matmul.tb && is(p, n->in[1], OP_IM2COL)) {
        const struct node *c = &g->nodes.data[n->in[1]];
        return geometry_fits(g->nodes.data[c->in[0]].shape, c->a.geom) ? CONV_BWD_W : CONV_NONE;
    }
    if (n->op == OP_COL2IM && is(p, n->in[0], OP_MATMUL)) {
        const struct node *m = &g->nodes.data[n->in[0]];
        if (m->a.matmul.ta || m->a.matmul.tb || m->n_users != 1 || n->shape.d[3] == 1)
            return CONV_NONE;
        return geometry_fits(n->shape, n->a.geom) ? CONV_BWD_DATA : CONV_NONE;
    }
    return CONV_NONE;
}

/* no effect between the guest and the node that reads its inputs instead */
static bool no_effect_between(const struct program *p, int from, int to) {
    for (int u = from + 1; u < to; u++) {
        const struct node *n = &p->ir.nodes.data[u];
        if (!n->dead && op_table[n->op].sched == S_EFFECT)
            return false;
    }
    return true;
}

void pass_conv(struct program *p) {
    struct ir *g = &p->ir;
    int n = g->nodes.len;
    for (int v = 0; v < n; v++) {
        g->nodes.data[v].conv = CONV_NONE;
        g->nodes.data[v].conv_guest = false;
    }
    for (int v = 0; v < n; v++) {
        struct node *nd = &g->nodes.data[v];
        if (nd->dead)
            continue;
        nd->conv = find(p, v);
        if (nd->conv != CONV_NONE && !no_effect_between(p, conv_guest_of(p, v), v))
            nd->conv = CONV_NONE;
    }
    /* a guest: every user is a convolution it is the guest of */
    int *hosted = xalloc(sizeof(int) * (size_t)(n + 1));
    for (int v = 0; v < n; v++)
        hosted[v] = 0;
    for (int v = 0; v < n; v++)
        if (!g->nodes.data[v].dead && g->nodes.data[v].conv != CONV_NONE)
            hosted[conv_guest_of(p, v)]++;
    for (int v = 0; v < n; v++)
        if (hosted[v] > 0 && hosted[v] == g->nodes.data[v].n_users && v != p->result && v != p->result2)
            g->nodes.data[v].conv_guest = true;
}
