/* layers.c: the layer kinds' names and labels, from layers.def. */
#include "genc.h"

static const struct {
    const char *name, *label;
} layer_table[] = {
#define LAYER(kind, name, label) {name, label},
#include "layers.def"
#undef LAYER
};

_Static_assert(sizeof layer_table / sizeof layer_table[0] == L_COUNT, "layers.def and layer_table disagree");

const char *layer_name(enum layer_kind k) { return layer_table[k].name; }

/* The label and the arguments that tell two layers of a kind apart. */
const char *layer_label(const struct layer *l) {
    const char *base = layer_table[l->kind].label;
    switch (l->kind) {
    case L_DENSE:
        return xprintf("%s %d%s%s", base, l->units, l->bias ? "" : " nobias", l->sn ? " spectral_norm" : "");
    case L_LEAKY_RELU:
    case L_ELU:
        return xprintf("%s %g", base, l->alpha);
    case L_CONV:
    case L_DECONV:
        return xprintf("%s %d k%d s%d p%d%s%s", base, l->units, l->k, l->stride, l->pad,
                       l->out_pad ? xprintf(" op%d", l->out_pad) : "", l->sn ? " spectral_norm" : "");
    case L_DROPOUT:
        return xprintf("%s %g", base, l->p);
    case L_UPSAMPLE:
    case L_AVGPOOL:
        return xprintf("%s %d", base, l->factor);
    case L_COND:
        return l->embed ? xprintf("%s embed %d", base, l->embed) : xprintf("%s onehot", base);
    default:
        return base;
    }
}
