/* dot.c: --dot, the model drawn as a Graphviz graph: one cluster per
 * network with its layers (as --summary labels them, their output shapes
 * and parameters), the data, the latent, the labels and the loss, wired as
 * the objective's module says (objective_def.wiring). */
#include "genc.h"

#include <string.h>

void wire_add(struct wiring *w, struct wire_end from, struct wire_end to, const char *label, enum wire_style style) {
    vec_push(&w->wires, ((struct wire){from, to, label, style}));
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static int utf8_len(const unsigned char *s, size_t n) {
    int len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || (size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    unsigned cp = len == 1 ? s[0] : len == 2 ? s[0] & 0x1fu : len == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
    for (int i = 1; i < len; i++)
        cp = cp << 6 | (s[i] & 0x3fu);
    static const unsigned least[5] = {0, 0, 0x80, 0x800, 0x10000}; /* no overlong forms */
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* s as the inside of a DOT string that Graphviz draws as s: quotes and
 * backslashes escaped (else \N, \G would name the node, the graph), & as
 * an entity (else "&lt;" would draw as <), a newline as a line break, and
 * other control bytes and invalid UTF-8 as U+FFFD. */
static const char *esc(const char *s) {
    size_t n = strlen(s);
    char *out = xalloc(6 * n + 1), *p = out;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        int len = utf8_len((const unsigned char *)s + i, n - i);
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c == '&') {
            memcpy(p, "&amp;", 5);
            p += 5;
        } else if (c == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else if (len == 0 || c < 0x20 || c == 0x7f) {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3;
            i += len ? (size_t)len : 1;
            continue;
        } else {
            memcpy(p, s + i, (size_t)len);
            p += len;
            i += (size_t)len;
            continue;
        }
        i++;
    }
    *p = 0;
    return out;
}

static const char *data_label(const struct model *m, const struct dataset *ds) {
    const char *s = ds->domain ? xprintf("data %s: %s", ds->domain, data_kinds[ds->kind])
                               : xprintf("data: %s", data_kinds[ds->kind]);
    if (ds->kind == DATA_FASHION_MNIST)
        s = xprintf("%s, %s split", s, ds->train ? "train" : "test");
    if (ds->select >= 0)
        s = xprintf("%s, class %d", s, ds->select);
    if (ds->path)
        s = xprintf("%s\n%s", s, ds->path);
    s = xprintf("%s\n%s", s, shape_str(ds->shape));
    if (ds->kind != DATA_RING8)
        s = xprintf("%s in [%g, %g]", s, ds->lo, ds->hi);
    if (ds == &m->data && m->conditional)
        s = xprintf("%s, %d classes", s, m->n_classes);
    return s;
}

/* The node an edge leaves from (tail) or arrives at. */
static const char *end_node(struct wire_end e, bool tail) {
    switch (e.kind) {
    case WIRE_NET:
        return xprintf("n%d_%s", e.index, tail ? "out" : "in");
    case WIRE_DATA:
        return xprintf("data%d", e.index);
    case WIRE_LATENT:
        return "latent";
    case WIRE_LOSS:
        return "loss";
    }
    unreachable();
}

static void print_network(FILE *f, const struct model *m, int n) {
    const struct network *net = &m->nets.data[n];
    long params = 0;
    for (int i = 0; i < net->layers.len; i++)
        params += net->layers.data[i].n_params;
    fprintf(f, "    subgraph cluster_%d {\n", n);
    /* the name heads the input node, not the cluster: edges into the
     * network would cross a cluster's label */
    fprintf(f, "        label=\"\"; style=\"rounded,filled\"; fillcolor=\"#f4f6fa\"; color=\"#8090b0\";\n");
    fprintf(f, "        n%d_in [label=\"%s\", shape=plaintext, style=\"\", fontsize=12];\n", n,
            esc(xprintf("network %s, %ld params\ninput %s", net->name, params, shape_str(net->in))));
    for (int i = 0; i < net->layers.len; i++) {
        const struct layer *l = &net->layers.data[i];
        const char *label = xprintf("%s\n%s, %ld params", layer_label(l), shape_str(l->out), l->n_params);
        const char *extra = l->n_params ? ", fillcolor=\"#fff4d6\"" : "";
        if (l->kind == L_RESIDUAL || l->kind == L_ADD)
            extra = ", shape=ellipse, fillcolor=\"#e6f2e6\"";
        fprintf(f, "        n%d_l%d [label=\"%s\"%s];\n", n, i, esc(label), extra);
    }
    fprintf(f, "        n%d_out [label=\"%s\", shape=plaintext, style=\"\"];\n", n,
            esc(xprintf("output %s", shape_str(net->out))));
    /* the chain, and each residual block's skip from its start to its add */
    fprintf(f, "        n%d_in", n);
    for (int i = 0; i < net->layers.len; i++)
        fprintf(f, " -> n%d_l%d", n, i);
    fprintf(f, " -> n%d_out;\n", n);
    int open[MAX_LAYERS], depth = 0;
    for (int i = 0; i < net->layers.len; i++) {
        enum layer_kind k = net->layers.data[i].kind;
        if (k == L_RESIDUAL && depth < MAX_LAYERS)
            open[depth++] = i;
        else if (k == L_ADD && depth > 0)
            fprintf(f, "        n%d_l%d -> n%d_l%d [style=dashed, label=\"skip\", constraint=false];\n", n,
                    open[--depth], n, i);
    }
    fprintf(f, "    }\n");
}

void print_dot(FILE *f, const struct model *m) {
    fprintf(f, "// generated by genc --dot from %s; draw with: dot -Tpng -o %s.png\n", esc(m->path), esc(m->name));
    fprintf(f, "digraph \"%s\" {\n", esc(m->name));
    fprintf(f, "    graph [label=\"%s\", labelloc=t, fontname=\"Helvetica\", fontsize=14, newrank=true, "
            "nodesep=0.3, ranksep=0.3];\n", esc(xprintf("model %s (%s)", m->name, m->path)));
    fprintf(f, "    node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\", "
            "fontsize=10];\n");
    fprintf(f, "    edge [fontname=\"Helvetica\", fontsize=9];\n");
    const struct dataset *domains[2] = {&m->data, &m->data_b};
    for (int d = 0; d < m->n_domains && d < 2; d++)
        fprintf(f, "    data%d [label=\"%s\", shape=cylinder, fillcolor=\"#dde8fb\"];\n", d,
                esc(data_label(m, domains[d])));
    if (m->latent.name)
        fprintf(f, "    latent [label=\"%s\", shape=ellipse, fillcolor=\"#ede1f7\"];\n",
                esc(xprintf("latent %s ~ %s(%d)\n[%d]", m->latent.name,
                            m->latent.kind == LATENT_NORMAL ? "normal" : "uniform", m->latent.dim,
                            m->latent.dim)));
    if (m->conditional)
        fprintf(f, "    labels [label=\"%s\", shape=ellipse, fillcolor=\"#fde2e2\"];\n",
                esc(xprintf("labels y\n%d classes", m->n_classes)));
    struct wiring w = {0};
    if (m->objective.def->wiring)
        m->objective.def->wiring(m, &w);
    if (w.loss)
        fprintf(f, "    loss [label=\"%s\", shape=octagon, fillcolor=\"#fbe3cf\"];\n", esc(w.loss));
    for (int n = 0; n < m->nets.len; n++)
        print_network(f, m, n);
    static const char *const styles[] = {
        [WIRE_FLOW] = "penwidth=1.5",
        [WIRE_TERM] = "color=\"#c06020\", fontcolor=\"#c06020\"",
        [WIRE_CYCLE] = "style=dashed, color=\"#2060c0\", fontcolor=\"#2060c0\", constraint=false",
    };
    for (int i = 0; i < w.wires.len; i++) {
        const struct wire *e = &w.wires.data[i];
        fprintf(f, "    %s -> %s [label=\"%s\", %s];\n", end_node(e->from, true), end_node(e->to, false),
                esc(e->label), styles[e->style]);
    }
    /* a label reaches a network at its cond layer */
    for (int n = 0; n < m->nets.len; n++) {
        const struct network *net = &m->nets.data[n];
        for (int i = 0; i < net->layers.len; i++)
            if (net->layers.data[i].kind == L_COND)
                fprintf(f, "    labels -> n%d_l%d [label=\"y\", color=\"#c03030\", fontcolor=\"#c03030\"];\n", n,
                        i);
    }
    fprintf(f, "}\n");
}
