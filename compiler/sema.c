/* sema.c: resolve names and check every shape, from the AST to a model.
 *
 * Every block other than a network body is a list of settings `key args`;
 * one table per block says which keys exist, so unknown keys get a
 * did-you-mean and duplicates a note at the first one.  Network bodies are
 * layers, whose shapes are inferred one after the other. */
#include "genc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- declarations ------------------------------------------------------- */

static void check_range(const struct stmt *s, struct dataset *ds) {
    if (!s || !want_args(s, 2, 2))
        return;
    double lo, hi;
    if (arg_num(&s->args.data[0], "range low", &lo) && arg_num(&s->args.data[1], "range high", &hi)) {
        if (!(lo < hi))
            error_at(s->loc, "range must be increasing, got %g to %g", lo, hi);
        ds->lo = lo;
        ds->hi = hi;
    }
}

/* `class K`: only the examples of class K, of `classes` (0 when unknown). */
static void check_select(const struct stmt *s, struct dataset *ds, int classes) {
    long k;
    if (!s || !want_args(s, 1, 1) || !arg_int(&s->args.data[0], "class", 0, 255, &k))
        return;
    if (classes == 0)
        error_at(s->loc, "'class' picks one class of labelled data, but these images have no 'classes N'");
    else if (k >= classes)
        error_at(s->args.data[0].loc, "class %ld does not exist: the classes are 0 to %d", k, classes - 1);
    else
        ds->select = (int)k;
}

/* `limit N`: train on the first N examples only (a small data set). */
static void check_limit(const struct stmt *s, struct dataset *ds) {
    long n;
    if (s && want_args(s, 1, 1) && arg_int(&s->args.data[0], "limit", 1, 1L << 30, &n))
        ds->limit = n;
}

/* images { dir "photos/"; shape [3, 64, 64]; range -1 1 }: a folder of PNG
 * or JPEG files, resized to the shape; one subfolder per class, if any. */
static void check_images(const struct decl *d, struct model *m, struct dataset *ds) {
    static const char *const keys[] = {"dir", "shape", "range", "classes", "class", "limit"};
    const struct stmt *s[6];
    settings(&d->body, "images", keys, 6, s);
    long classes = 0;
    if (s[3] && want_args(s[3], 1, 1) && arg_int(&s[3]->args.data[0], "classes", 1, 256, &classes) &&
        ds == &m->data)
        m->n_classes = (int)classes;
    ds->shape = (struct shape){3, {3, 64, 64}};
    int before = diag_error_count();
    if (!s[0])
        error_at(d->name_loc, "images needs 'dir \"path/\"', the folder of PNG or JPEG files");
    else if (want_args(s[0], 1, 1)) {
        if (s[0]->args.data[0].kind != ARG_STR)
            error_at(s[0]->args.data[0].loc, "dir must be a string in double quotes");
        else
            ds->path = s[0]->args.data[0].text;
    }
    if (!s[1])
        error_at(d->name_loc, "images needs 'shape [C, H, W]', the size examples are resized to");
    else if (want_args(s[1], 1, 1)) {
        const struct arg *a = &s[1]->args.data[0];
        if (a->kind != ARG_SHAPE || a->shape.n != 3)
            error_at(a->loc, "shape must be [channels, height, width]");
        else if (a->shape.d[0] != 1 && a->shape.d[0] != 3)
            error_at(a->loc, "images have 1 (gray) or 3 (RGB) channels, not %d", a->shape.d[0]);
        else if (a->shape.d[1] > 4096 || a->shape.d[2] > 4096)
            error_at(a->loc, "images of at most 4096 x 4096 are supported");
        else
            ds->shape = a->shape;
    }
    check_range(s[2], ds);
    check_select(s[4], ds, (int)classes);
    check_limit(s[5], ds);
    if (diag_error_count() != before)
        ds->ok = false; /* its shape may be the default, not the one meant */
}

/* `data fashion_mnist { ... }`, or a named domain of a CycleGAN:
 * `data A fashion_mnist { class 7 }`. */
static void check_data(const struct decl *d, struct model *m) {
    struct dataset *ds = m->n_domains == 0 ? &m->data : &m->data_b;
    m->n_domains++;
    ds->loc = d->domain ? d->domain_loc : d->name_loc;
    ds->domain = d->domain;
    ds->select = -1;
    int kind = 0;
    while (kind < N_OF(data_kinds) && strcmp(data_kinds[kind], d->name))
        kind++;
    if (kind == N_OF(data_kinds)) {
        unknown(d->name_loc, "data source", d->name, data_kinds, N_OF(data_kinds));
        ds->shape = (struct shape){1, {1}};
        return;
    }
    ds->kind = kind;
    ds->ok = true;
    ds->train = true;
    ds->lo = -1;
    ds->hi = 1;
    if (kind == DATA_IMAGES) {
        check_images(d, m, ds);
        return;
    }
    static const char *const keys[] = {"path", "split", "range", "class", "limit"};
    const struct stmt *s[5];
    settings(&d->body, "data", keys, 5, s);
    if (kind == DATA_RING8) {
        ds->shape = (struct shape){1, {2}};
        for (int k = 0; k < 5; k++)
            if (s[k])
                error_at(s[k]->loc, "ring8 is synthetic and takes no '%s'", keys[k]);
        return;
    }
    ds->shape = (struct shape){3, {1, 28, 28}};
    ds->path = "/usr/share/datasets/fashion-mnist";
    if (ds == &m->data)
        m->n_classes = 10;
    if (s[0] && want_args(s[0], 1, 1)) {
        if (s[0]->args.data[0].kind != ARG_STR)
            error_at(s[0]->args.data[0].loc, "path must be a string in double quotes");
        else
            ds->path = s[0]->args.data[0].text;
    }
    if (s[1] && want_args(s[1], 1, 1)) {
        const char *v;
        static const char *const splits[] = {"train", "test"};
        if (arg_ident(&s[1]->args.data[0], "split", &v)) {
            if (!strcmp(v, "train") || !strcmp(v, "test"))
                ds->train = !strcmp(v, "train");
            else
                unknown(s[1]->args.data[0].loc, "split", v, splits, 2);
        }
    }
    check_range(s[2], ds);
    check_select(s[3], ds, 10);
    check_limit(s[4], ds);
}

static const char *const dists[] = {"normal", "uniform"};

static void check_latent(const struct decl *d, struct model *m) {
    m->latent.name = d->name;
    m->latent.loc = d->loc;
    m->latent.dim = 1;
    int kind = 0;
    while (kind < N_OF(dists) && strcmp(dists[kind], d->kind_name))
        kind++;
    if (kind == N_OF(dists))
        unknown(d->kind_loc, "distribution", d->kind_name, dists, N_OF(dists));
    else
        m->latent.kind = kind;
    if (d->args.len != 1) {
        error_at(d->kind_loc, "%s takes 1 argument, the latent dimension, got %d", d->kind_name, d->args.len);
        return;
    }
    long dim;
    if (arg_int(&d->args.data[0], "the latent dimension", 1, 1 << 20, &dim)) {
        m->latent.dim = (int)dim;
        m->latent.ok = true;
    }
}

static struct model *cur_model; /* the model being checked, for layers that need it */

/* The layers a spec can name, from layers.def. */
static int layer_words(const char **words, enum layer_kind *kinds) {
    int n = 0;
    for (int k = 0; k < L_COUNT; k++)
        if (layer_name(k)) {
            words[n] = layer_name(k);
            kinds[n++] = k;
        }
    return n;
}

/* conv and deconv: `conv 64 k4 s2 p1 [op1] [nobias] [spectral_norm]`, stride 1 and
 * padding 0 by default; op (output padding) for deconv only. */
static bool conv_args(const struct stmt *s, struct layer *l) {
    if (s->args.len < 2) {
        error_at(s->loc, "%s takes the output channels and a kernel size, like '%s 64 k4 s2 p1'", s->name, s->name);
        return false;
    }
    long ch;
    if (!arg_int(&s->args.data[0], "output channels", 1, 1 << 16, &ch))
        return false;
    l->units = (int)ch;
    l->bias = true;
    l->stride = 1;
    bool have_k = false;
    for (int i = 1; i < s->args.len; i++) {
        const struct arg *a = &s->args.data[i];
        if (a->kind == ARG_IDENT && !strcmp(a->text, "nobias")) {
            l->bias = false;
            continue;
        }
        if (a->kind == ARG_IDENT && !strcmp(a->text, "spectral_norm")) {
            l->sn = true;
            continue;
        }
        /* kN, sN, pN or (deconv) opN, with N in decimal digits */
        const char *t = a->kind == ARG_IDENT ? a->text : NULL;
        int skip = t && !strncmp(t, "op", 2) ? 2 : 1;
        bool ok = t && (skip == 2 ? l->kind == L_DECONV : (t[0] == 'k' || t[0] == 's' || t[0] == 'p'));
        long v = 0;
        for (const char *q = ok ? t + skip : ""; *q && ok; q++) {
            ok = *q >= '0' && *q <= '9';
            v = v > 1024 ? v : v * 10 + (*q - '0');
        }
        if (!ok || !t[skip]) {
            error_at(a->loc, "%s takes kN (kernel), sN (stride), pN (padding)%s, nobias and spectral_norm, got '%s'", s->name,
                     l->kind == L_DECONV ? ", opN (output padding)" : "",
                     a->kind == ARG_SHAPE ? shape_str(a->shape) : a->text);
            return false;
        }
        if (v > 1024) {
            error_at(a->loc, "'%s' is too large", t);
            return false;
        }
        if (skip == 2)
            l->out_pad = (int)v;
        else if (t[0] == 'k')
            l->k = (int)v, have_k = true;
        else if (t[0] == 's')
            l->stride = (int)v;
        else
            l->pad = (int)v;
    }
    if (!have_k || l->k < 1 || l->stride < 1) {
        error_at(s->loc, "%s needs a kernel size k1 or more and a stride s1 or more", s->name);
        return false;
    }
    if (l->kind == L_DECONV && l->out_pad >= l->stride) {
        error_at(s->loc, "deconv's output padding must be smaller than its stride");
        return false;
    }
    return true;
}

static bool want_image(const struct stmt *s, const char *net, const struct layer *l) {
    if (l->in.n == 3)
        return true;
    error_at(s->loc, "%s: %s expects [channels, height, width] input, got %s%s", net, s->name, shape_str(l->in),
             l->in.n == 1 ? "; add 'reshape [C, H, W]' before it" : "");
    return false;
}

/* Parse one layer and apply its shape rule to `in`; false after an error. */
static bool check_layer(const struct stmt *s, const char *net, struct layer *l) {
    const char *words[L_COUNT];
    enum layer_kind kinds[L_COUNT];
    int n_words = layer_words(words, kinds), word = 0;
    while (word < n_words && strcmp(words[word], s->name))
        word++;
    if (word == n_words) {
        unknown(s->loc, "layer", s->name, words, n_words);
        return false;
    }
    /* `dense 256 relu`: a layer's name among the arguments is a missing ';' */
    for (int i = 0; i < s->args.len; i++) {
        const struct arg *a = &s->args.data[i];
        for (int w = 0; a->kind == ARG_IDENT && w < n_words; w++) {
            if (!strcmp(words[w], a->text)) {
                error_at(a->loc, "%s: expected ';' between layers, before '%s'", net, a->text);
                return false;
            }
        }
    }
    enum layer_kind kind = kinds[word];
    l->kind = kind;
    l->loc = s->loc;
    l->out = l->in;
    if (s->has_body) {
        error_at(s->loc, "%s: only 'residual' takes a block of layers, not %s", net, s->name);
        return false;
    }
    if (kind == L_RESIDUAL) {
        error_at(s->loc, "%s: residual takes a block of layers: 'residual { conv 64 k3 p1; relu }'", net);
        return false;
    }
    switch (l->kind) {
    case L_DENSE: {
        if (!want_args(s, 1, 3))
            return false;
        long units;
        if (!arg_int(&s->args.data[0], "dense units", 1, 1 << 24, &units))
            return false;
        l->units = (int)units;
        l->bias = true;
        for (int i = 1; i < s->args.len; i++) {
            const struct arg *a = &s->args.data[i];
            bool nobias = a->kind == ARG_IDENT && !strcmp(a->text, "nobias");
            bool sn = a->kind == ARG_IDENT && !strcmp(a->text, "spectral_norm");
            if ((!nobias && !sn) || (nobias && !l->bias) || (sn && l->sn)) {
                error_at(a->loc, "dense takes its unit count and optionally 'nobias' and 'spectral_norm'");
                return false;
            }
            l->bias = l->bias && !nobias;
            l->sn = l->sn || sn;
        }
        if (l->in.n != 1) {
            error_at(s->loc, "%s: dense expects [features] input, got %s; add 'flatten' before it",
                     net, shape_str(l->in));
            return false;
        }
        if (l->in.d[0] > GENC_MAX_VALUES / l->units) {
            error_at(s->loc, "%s: dense %d on %s needs a weight of %ld values; at most %ld per tensor are supported",
                     net, l->units, shape_str(l->in), (long)l->in.d[0] * l->units, GENC_MAX_VALUES);
            return false;
        }
        l->out = (struct shape){1, {l->units}};
        l->n_params = (long)l->in.d[0] * l->units + (l->bias ? l->units : 0);
        l->macs = (long)l->in.d[0] * l->units;
        return true;
    }
    case L_LEAKY_RELU:
        if (!want_args(s, 0, 1))
            return false;
        l->alpha = 0.01;
        if (s->args.len == 1 && !arg_range(&s->args.data[0], "the leaky_relu slope", 0, 1, true, &l->alpha))
            return false;
        return true;
    case L_ELU:
        if (!want_args(s, 0, 1))
            return false;
        l->alpha = 1;
        if (s->args.len == 1 && !arg_range(&s->args.data[0], "elu's alpha", 0, 1e3, false, &l->alpha))
            return false;
        if (!(l->alpha > 0)) {
            error_at(s->args.data[0].loc, "elu's alpha must be positive");
            return false;
        }
        return true;
    case L_RELU: case L_TANH: case L_SIGMOID:
        return want_args(s, 0, 0);
    case L_FLATTEN:
        if (!want_args(s, 0, 0))
            return false;
        l->out = (struct shape){1, {(int)shape_size(l->in)}};
        return true;
    case L_CONV: case L_DECONV: {
        if (!conv_args(s, l) || !want_image(s, net, l))
            return false;
        /* in long: dimensions are below 2^31 and k, s, p at most 1024 */
        long c = l->in.d[0], h = l->in.d[1], w = l->in.d[2], k = l->k, st = l->stride, p = l->pad;
        long ho, wo;
        if (l->kind == L_CONV) {
            ho = h + 2 * p >= k ? (h + 2 * p - k) / st + 1 : 0;
            wo = w + 2 * p >= k ? (w + 2 * p - k) / st + 1 : 0;
        } else {
            ho = (h - 1) * st - 2 * p + k + l->out_pad;
            wo = (w - 1) * st - 2 * p + k + l->out_pad;
        }
        if (ho < 1 || wo < 1 || p >= k) {
            error_at(s->loc, "%s: %s k%ld s%ld p%ld does not fit input %s", net, s->name, k, st, p, shape_str(l->in));
            return false;
        }
        /* ho, wo < 2^42 and units <= 2^16, so wo * units does not overflow */
        long weights = c * k * k; /* per output channel: below 2^52 */
        bool big_out = ho > GENC_MAX_VALUES / (wo * l->units);
        if (big_out || weights > GENC_MAX_VALUES / l->units) {
            error_at(s->loc, "%s: %s k%ld s%ld p%ld on %s needs %s of %.4g values; at most %ld per tensor are "
                     "supported", net, s->name, k, st, p, shape_str(l->in), big_out ? "an output" : "a weight",
                     (double)l->units * (big_out ? (double)ho * wo : weights), GENC_MAX_VALUES);
            return false;
        }
        l->out = (struct shape){3, {l->units, (int)ho, (int)wo}};
        l->n_params = l->units * weights + (l->bias ? l->units : 0);
        l->macs = l->units * weights * (l->kind == L_CONV ? ho * wo : h * w);
        return true;
    }
    case L_BATCHNORM: {
        static const char *const keys[] = {"momentum", "eps"};
        l->momentum = 0.1;
        l->eps = 1e-5;
        if (s->args.len % 2) {
            error_at(s->loc, "batchnorm takes settings in pairs: 'batchnorm momentum 0.1 eps 1e-5'");
            return false;
        }
        for (int i = 0; i < s->args.len; i += 2) {
            const struct arg *a = &s->args.data[i];
            if (a->kind != ARG_IDENT || (strcmp(a->text, "momentum") && strcmp(a->text, "eps"))) {
                unknown(a->loc, "batchnorm setting", a->kind == ARG_IDENT ? a->text : "?", keys, 2);
                return false;
            }
            double *dst = !strcmp(a->text, "momentum") ? &l->momentum : &l->eps;
            if (!arg_range(&s->args.data[i + 1], a->text, 0, 1, false, dst))
                return false;
        }
        if (l->in.n != 1 && l->in.n != 3) {
            error_at(s->loc, "%s: batchnorm normalizes [features] or [channels, height, width], got %s", net,
                     shape_str(l->in));
            return false;
        }
        l->n_params = 2L * l->in.d[0];
        return true;
    }
    case L_LAYERNORM: case L_INSTANCENORM:
        l->eps = 1e-5;
        if (!want_args(s, 0, 2) || (l->kind == L_INSTANCENORM && !want_image(s, net, l)))
            return false;
        if (s->args.len) {
            const struct arg *a = &s->args.data[0];
            if (a->kind != ARG_IDENT || strcmp(a->text, "eps") || s->args.len != 2) {
                error_at(a->loc, "%s takes 'eps E' or nothing", s->name);
                return false;
            }
            if (!arg_range(&s->args.data[1], "eps", 0, 1, false, &l->eps))
                return false;
        }
        l->n_params = 2L * l->in.d[0];
        return true;
    case L_RESIDUAL: case L_ADD:
        unreachable(); /* check_layers handles blocks */
    case L_COND: {
        /* cond onehot | cond embed D: the example's label joins the features,
         * or the channels of every pixel */
        if (!want_args(s, 1, 2))
            return false;
        const struct arg *a = &s->args.data[0];
        long width = 0;
        if (a->kind == ARG_IDENT && !strcmp(a->text, "onehot") && s->args.len == 1) {
            l->embed = 0;
        } else if (a->kind == ARG_IDENT && !strcmp(a->text, "embed") && s->args.len == 2) {
            if (!arg_int(&s->args.data[1], "the embedding width", 1, 4096, &width))
                return false;
            l->embed = (int)width;
        } else {
            error_at(a->loc, "cond takes 'onehot' or 'embed D'");
            return false;
        }
        if (l->in.n != 1 && l->in.n != 3) {
            error_at(s->loc, "%s: cond joins a label to [features] or [channels, height, width], got %s", net,
                     shape_str(l->in));
            return false;
        }
        if (!cur_model->data.ok)
            return false; /* the classes are unknown: the data's error says why */
        if (cur_model->n_classes == 0) {
            error_at(s->loc, "%s: cond needs labels, but %s data have none (labelled sources: fashion_mnist, "
                     "images with 'classes N')", net, data_kinds[cur_model->data.kind]);
            return false;
        }
        l->cond_width = l->embed ? l->embed : cur_model->n_classes;
        long per_channel = shape_size(l->in) / l->in.d[0], channels = (long)l->in.d[0] + l->cond_width;
        if (channels > GENC_MAX_VALUES / per_channel) {
            error_at(s->loc, "%s: cond on %s makes %.4g values; at most %ld per tensor are supported", net,
                     shape_str(l->in), (double)channels * per_channel, GENC_MAX_VALUES);
            return false;
        }
        l->out = l->in;
        l->out.d[0] += l->cond_width;
        l->n_params = l->embed ? (long)cur_model->n_classes * l->embed : 0;
        cur_model->conditional = true;
        return true;
    }
    case L_DROPOUT:
        if (!want_args(s, 1, 1) || !arg_range(&s->args.data[0], "the dropout probability", 0, 1, true, &l->p))
            return false;
        return true;
    case L_UPSAMPLE: case L_AVGPOOL: {
        long f;
        if (!want_args(s, 1, 1) || !arg_int(&s->args.data[0], "the factor", 1, 64, &f) || !want_image(s, net, l))
            return false;
        l->factor = (int)f;
        if (l->kind == L_UPSAMPLE) {
            if (shape_size(l->in) > GENC_MAX_VALUES / l->factor / l->factor) {
                error_at(s->loc, "%s: upsample %d on %s makes %.4g values; at most %ld per tensor are supported", net,
                         l->factor, shape_str(l->in), (double)shape_size(l->in) * l->factor * l->factor,
                         GENC_MAX_VALUES);
                return false;
            }
            l->out = (struct shape){3, {l->in.d[0], l->in.d[1] * l->factor, l->in.d[2] * l->factor}};
        } else {
            if (l->in.d[1] % l->factor || l->in.d[2] % l->factor) {
                error_at(s->args.data[0].loc, "%s: avgpool %d does not divide %s", net, l->factor, shape_str(l->in));
                return false;
            }
            l->out = (struct shape){3, {l->in.d[0], l->in.d[1] / l->factor, l->in.d[2] / l->factor}};
        }
        return true;
    }
    case L_RESHAPE:
        if (!want_args(s, 1, 1))
            return false;
        if (s->args.data[0].kind != ARG_SHAPE) {
            error_at(s->args.data[0].loc, "reshape takes a shape, like [128, 7, 7]");
            return false;
        }
        l->out = s->args.data[0].shape;
        if (shape_size(l->out) != shape_size(l->in)) {
            error_at(s->args.data[0].loc, "%s: reshape from %s (%ld values) to %s (%ld values)", net,
                     shape_str(l->in), shape_size(l->in), shape_str(l->out), shape_size(l->out));
            return false;
        }
        return true;
    }
    unreachable();
}

/* The layers of body, from shape *cur, appended to net; false after an
 * error.  `residual { ... }` becomes L_RESIDUAL, its layers, then L_ADD,
 * which adds the block's input to its output: they must have one shape. */
static bool check_layers(const stmt_vec *body, struct network *net, struct shape *cur, int depth) {
    for (int i = 0; i < body->len; i++) {
        const struct stmt *s = &body->data[i];
        if (net->layers.len >= MAX_LAYERS) {
            error_at(s->loc, "network '%s' has more than %d layers; at most %d are supported", net->name, MAX_LAYERS,
                     MAX_LAYERS);
            return false;
        }
        struct layer l = {.in = *cur, .out = *cur, .index = net->layers.len + 1, .loc = s->loc, .depth = depth};
        if (!strcmp(s->name, "residual") && s->has_body) {
            if (s->args.len) {
                error_at(s->args.data[0].loc, "%s: residual takes no arguments, only a block of layers", net->name);
                return false;
            }
            if (s->body.len == 0) {
                error_at(s->loc, "%s: this residual block has no layers", net->name);
                return false;
            }
            l.kind = L_RESIDUAL;
            vec_push(&net->layers, l);
            struct shape in = *cur;
            if (!check_layers(&s->body, net, cur, depth + 1))
                return false;
            if (!shape_eq(*cur, in)) {
                error_at(s->loc, "%s: a residual block adds its input to its output, but it maps %s to %s", net->name,
                         shape_str(in), shape_str(*cur));
                return false;
            }
            l = (struct layer){.kind = L_ADD, .in = in, .out = in, .index = net->layers.len + 1, .loc = s->loc,
                               .depth = depth};
            vec_push(&net->layers, l);
            continue;
        }
        if (!check_layer(s, net->name, &l))
            return false;
        vec_push(&net->layers, l);
        *cur = l.out;
    }
    return true;
}

static void check_network(const struct decl *d, struct model *m) {
    for (int i = 0; i < m->nets.len; i++) {
        if (!strcmp(m->nets.data[i].name, d->name)) {
            error_at(d->name_loc, "network '%s' is defined twice", d->name);
            note_at(m->nets.data[i].loc, "first defined here");
            return;
        }
    }
    struct network net = {.name = d->name, .loc = d->name_loc, .in = d->in, .out = d->out, .opt = -1};
    struct shape cur = d->in;
    bool ok = true;
    if (d->body.len == 0)
        error_at(d->name_loc, "network '%s' has no layers", d->name);
    ok = check_layers(&d->body, &net, &cur, 0);
    net.complete = ok;
    if (ok && d->body.len && !shape_eq(cur, d->out)) {
        const struct layer *last = &net.layers.data[net.layers.len - 1];
        error_at(last->loc, "network '%s' is declared to output %s, but its layers produce %s",
                 d->name, shape_str(d->out), shape_str(cur));
        note_at(d->out_loc, "output declared here");
    }
    vec_push(&m->nets, net);
}

static void check_objective(const struct decl *d, struct model *m) {
    m->objective.loc = d->kind_loc;
    const struct objective_def *def = objective_find(d->kind_name);
    if (!def) {
        int n;
        const char *const *names = objective_names(&n);
        unknown(d->kind_loc, "objective", d->kind_name, names, n);
        return;
    }
    m->objective.def = def;
    def->check(d, m);
}

static const char *const optimizers[] = {"sgd", "adam", "rmsprop"};

static void check_optimize(const struct decl *d, struct model *m) {
    int net = find_network(m, d->name);
    if (net < 0) {
        unknown(d->name_loc, "network", d->name, net_names(m), m->nets.len);
        return;
    }
    struct optim o = {.net = net, .loc = d->loc};
    const struct stmt *ema = NULL;
    if (!strcmp(d->kind_name, "adam")) {
        o.kind = OPT_ADAM;
        o.lr = 1e-3, o.beta1 = 0.9, o.beta2 = 0.999, o.eps = 1e-8;
        static const char *const keys[] = {"lr", "beta1", "beta2", "eps", "weight_decay", "ema"};
        const struct stmt *s[6];
        settings(&d->body, "adam", keys, 6, s);
        ema = s[5];
        double *dst[] = {&o.lr, &o.beta1, &o.beta2, &o.eps, &o.weight_decay};
        double hi[] = {1e6, 1, 1, 1, 1e6};
        for (int k = 0; k < 5; k++)
            if (s[k] && want_args(s[k], 1, 1))
                arg_range(&s[k]->args.data[0], keys[k], 0, hi[k], k >= 1 && k <= 2, dst[k]);
        if (s[0] && o.lr <= 0)
            error_at(s[0]->args.data[0].loc, "lr must be positive");
    } else if (!strcmp(d->kind_name, "sgd")) {
        o.kind = OPT_SGD;
        o.lr = 1e-2;
        static const char *const keys[] = {"lr", "momentum", "nesterov", "weight_decay", "ema"};
        const struct stmt *s[5];
        settings(&d->body, "sgd", keys, 5, s);
        ema = s[4];
        if (s[0] && want_args(s[0], 1, 1) && arg_range(&s[0]->args.data[0], "lr", 0, 1e6, false, &o.lr) && o.lr <= 0)
            error_at(s[0]->args.data[0].loc, "lr must be positive");
        if (s[1] && want_args(s[1], 1, 1))
            arg_range(&s[1]->args.data[0], "momentum", 0, 1, true, &o.momentum);
        if (s[2] && want_args(s[2], 0, 1)) {
            o.nesterov = true;
            if (s[2]->args.len == 1) {
                const char *v;
                if (arg_ident(&s[2]->args.data[0], "nesterov", &v)) {
                    if (strcmp(v, "true") && strcmp(v, "false"))
                        error_at(s[2]->args.data[0].loc, "nesterov is 'true' or 'false'");
                    o.nesterov = !strcmp(v, "true");
                }
            }
            if (o.nesterov && o.momentum == 0)
                error_at(s[2]->loc, "nesterov needs a momentum above 0");
        }
        if (s[3] && want_args(s[3], 1, 1))
            arg_range(&s[3]->args.data[0], "weight_decay", 0, 1e6, false, &o.weight_decay);
    } else if (!strcmp(d->kind_name, "rmsprop")) {
        o.kind = OPT_RMSPROP;
        o.lr = 1e-2, o.alpha = 0.99, o.eps = 1e-8;
        static const char *const keys[] = {"lr", "alpha", "eps", "momentum", "centered", "weight_decay", "ema"};
        const struct stmt *s[7];
        settings(&d->body, "rmsprop", keys, 7, s);
        ema = s[6];
        double *dst[] = {&o.lr, &o.alpha, &o.eps, &o.momentum, NULL, &o.weight_decay};
        double hi[] = {1e6, 1, 1, 1, 0, 1e6};
        for (int k = 0; k < 6; k++) {
            if (!s[k] || k == 4)
                continue;
            if (want_args(s[k], 1, 1))
                arg_range(&s[k]->args.data[0], keys[k], 0, hi[k], k == 1 || k == 3, dst[k]);
        }
        if (s[0] && o.lr <= 0)
            error_at(s[0]->args.data[0].loc, "lr must be positive");
        if (s[4] && want_args(s[4], 0, 1)) {
            o.centered = true;
            const char *v;
            if (s[4]->args.len == 1 && arg_ident(&s[4]->args.data[0], "centered", &v)) {
                if (strcmp(v, "true") && strcmp(v, "false"))
                    error_at(s[4]->args.data[0].loc, "centered is 'true' or 'false'");
                o.centered = !strcmp(v, "true");
            }
        }
    } else {
        unknown(d->kind_loc, "optimizer", d->kind_name, optimizers, N_OF(optimizers));
        if (m->nets.data[net].opt == -1)
            m->nets.data[net].opt = OPT_FAILED; /* no "has no optimizer" on top */
        return;
    }
    /* every optimizer's: a moving average of the weights it trains, for
     * sampling (lower.c checks that the network generates) */
    if (ema && want_args(ema, 1, 1) && arg_range(&ema->args.data[0], "ema", 0, 1, true, &o.ema)) {
        o.ema_loc = ema->loc;
        if (o.ema == 0)
            error_at(ema->args.data[0].loc, "ema must be above 0 (0.999 is usual); leave it out for none");
    }
    struct network *nw = &m->nets.data[net];
    if (nw->opt >= 0) {
        error_at(d->name_loc, "network '%s' already has an optimizer", d->name);
        note_at(m->opts.data[nw->opt].loc, "first optimizer here");
        return;
    }
    nw->opt = m->opts.len;
    vec_push(&m->opts, o);
}

static void check_train(const struct decl *d, struct model *m) {
    static const char *const keys[] = {"batch", "steps", "seed", "sample_every", "checkpoint_every",
                                       "score_every", "classifier", "sync_batchnorm"};
    const struct stmt *s[8];
    settings(&d->body, "train", keys, 8, s);
    long v;
    if (s[0] && want_args(s[0], 1, 1) && arg_int(&s[0]->args.data[0], "batch", 1, 65536, &v))
        m->train.batch = (int)v;
    if (s[1] && want_args(s[1], 1, 1) && arg_int(&s[1]->args.data[0], "steps", 1, 1000000000, &v))
        m->train.steps = v;
    if (s[2] && want_args(s[2], 1, 1) && arg_int(&s[2]->args.data[0], "seed", 0, 2147483647, &v))
        m->train.seed = (uint64_t)v;
    if (s[3] && want_args(s[3], 1, 1) && arg_int(&s[3]->args.data[0], "sample_every", 1, 1000000000, &v))
        m->train.sample_every = v;
    if (s[4] && want_args(s[4], 1, 1) && arg_int(&s[4]->args.data[0], "checkpoint_every", 1, 1000000000, &v))
        m->train.checkpoint_every = v;
    if (s[5] && want_args(s[5], 1, 1) && arg_int(&s[5]->args.data[0], "score_every", 1, 1000000000, &v)) {
        m->train.score_every = v;
        m->train.score_loc = s[5]->loc;
    }
    if (s[6] && want_args(s[6], 1, 1)) {
        if (s[6]->args.data[0].kind != ARG_STR)
            error_at(s[6]->args.data[0].loc, "classifier must be a string in double quotes: its checkpoint");
        else
            m->train.classifier = s[6]->args.data[0].text;
        m->train.classifier_loc = s[6]->loc;
    }
    if (s[7] && want_args(s[7], 0, 0))
        m->train.sync_batchnorm = true;
}

/* score_every K scores samples during training: images need a classifier
 * (`classifier "PATH"`), ring8 none; a classifier itself samples nothing. */
static void check_scoring(struct model *m) {
    const struct loc at = m->train.score_every ? m->train.score_loc : m->train.classifier_loc;
    if (!m->train.score_every && !m->train.classifier_loc.line)
        return;
    if (m->objective.def && !strcmp(m->objective.def->name, "classifier")) {
        error_at(at, "a classifier draws no samples to score: '%s' is for the models that do",
                 m->train.score_every ? "score_every" : "classifier");
        return;
    }
    bool ring8 = m->data.ok && m->data.kind == DATA_RING8;
    if (!m->train.score_every)
        error_at(at, "'classifier' names the classifier of 'score_every K', which is missing");
    else if (ring8 && m->train.classifier_loc.line)
        error_at(m->train.classifier_loc, "ring8 samples are scored by the modes they cover, without a classifier");
    else if (!ring8 && m->data.ok && !m->train.classifier_loc.line)
        error_at(at, "score_every needs 'classifier \"PATH\"', the checkpoint of a classifier of the data "
                 "(specs/fmnist_classifier.gm)");
}

/* `augment { translation [R]; cutout [R]; color }` (DiffAugment, Zhao et
 * al. 2020): ratios of the image's size, 0.125 and 0.5 by default as the
 * paper's; the objective checks that it is a GAN's on images. */
static void check_augment(const struct decl *d, struct model *m) {
    static const char *const keys[] = {"translation", "cutout", "color"};
    const struct stmt *s[3];
    settings(&d->body, "augment", keys, 3, s);
    m->augment.loc = d->loc;
    m->augment.on = true;
    double dflt[2] = {0.125, 0.5}, *dst[2] = {&m->augment.translation, &m->augment.cutout};
    for (int k = 0; k < 2; k++) {
        if (!s[k] || !want_args(s[k], 0, 1))
            continue;
        *dst[k] = dflt[k];
        if (s[k]->args.len == 1 && arg_range(&s[k]->args.data[0], keys[k], 0, 1, false, dst[k]) && *dst[k] == 0)
            error_at(s[k]->args.data[0].loc, "%s 0 does nothing; leave it out", keys[k]);
    }
    if (s[2] && want_args(s[2], 0, 0))
        m->augment.color = true;
    if (!s[0] && !s[1] && !s[2])
        error_at(d->loc, "augment needs at least one of translation, cutout and color");
}

/* ---- the whole model ---------------------------------------------------- */

/* Every tensor, batch included, must be indexable by the emitted C. */
static bool check_sizes(struct model *m) {
    for (int n = 0; n < m->nets.len; n++) {
        const struct network *net = &m->nets.data[n];
        if ((double)shape_size(net->in) * m->train.batch > 2147483647.0) {
            error_at(net->loc, "network '%s' takes %s: a batch of %d is %.4g values; at most 2^31 per tensor are "
                     "supported", net->name, shape_str(net->in), m->train.batch,
                     (double)shape_size(net->in) * m->train.batch);
            return false;
        }
        for (int i = 0; i < net->layers.len; i++) {
            const struct layer *l = &net->layers.data[i];
            double biggest = (double)shape_size(l->out) * m->train.batch;
            if (l->kind == L_CONV)
                biggest = (double)m->train.batch * l->out.d[1] * l->out.d[2] * l->k * l->k * l->in.d[0];
            else if (l->kind == L_DECONV)
                biggest = (double)m->train.batch * l->in.d[1] * l->in.d[2] * l->k * l->k * l->units;
            if (biggest > 2147483647.0) {
                error_at(l->loc, "%s: this layer needs %.3g values at batch %d; at most 2^31 per tensor are supported",
                         net->name, biggest, m->train.batch);
                return false;
            }
        }
    }
    return true;
}

/* A second data declaration is CycleGAN's domain B: both must be named. */
static bool second_data(const struct decl *first, const struct decl *d, struct model *m) {
    if (m->n_domains >= 2) {
        error_at(d->loc, "a model has at most two data domains");
        return false;
    }
    if (!first->domain || !d->domain) {
        error_at(d->loc, "more than one 'data' declaration");
        note_at(first->loc, "first one here; two domains (for a CycleGAN) are named: 'data A fashion_mnist { ... }'");
        return false;
    }
    if (!strcmp(first->domain, d->domain)) {
        error_at(d->domain_loc, "domain '%s' is declared twice", d->domain);
        note_at(first->domain_loc, "first declared here");
        return false;
    }
    return true;
}

/* An optimizer for a network the objective does not name trains nothing. */
static void check_unused_optimizers(const struct ast *ast, const struct decl *objective, const struct model *m) {
    for (int i = 0; i < ast->decls.len; i++) {
        const struct decl *d = &ast->decls.data[i];
        if (d->kind != DECL_OPTIMIZE || find_network(m, d->name) < 0)
            continue;
        bool used = false;
        for (int k = 0; k < objective->args.len; k++)
            used |= !strcmp(objective->args.data[k].text, d->name);
        if (!used) {
            warning_at(d->name_loc, "network '%s' has an optimizer, but objective %s does not use it, so nothing "
                       "trains it", d->name, objective->kind_name);
            note_at(objective->kind_loc, "the objective names its networks here");
        }
    }
}

static bool check_all(const struct ast *ast, const struct source *src, struct model *m) {
    const char *path = src->path;
    int before = diag_error_count();
    *m = (struct model){.path = path};
    m->train.batch = 64;
    m->train.steps = 10000;
    m->train.seed = 1;
    m->train.sample_every = 1000;
    m->train.checkpoint_every = 1000;
    const struct decl *first[DECL_COUNT] = {0};
    static const char *const names[] = {"model", "data", "latent", "network", "objective", "optimize", "train",
                                        "augment"};
    /* Data, latent and settings first (a cond layer needs the class count),
     * then networks, then what names them, so declarations come in any order. */
    cur_model = m;
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < ast->decls.len; i++) {
            const struct decl *d = &ast->decls.data[i];
            int want = d->kind == DECL_NETWORK ? 1 : d->kind == DECL_OPTIMIZE ? 2 : 0;
            if (want != pass)
                continue;
            if (d->kind == DECL_DATA && first[DECL_DATA] && !second_data(first[DECL_DATA], d, m)) {
                /* still domain B, in error: checks that count the
                 * domains count it, and those of its shape skip it */
                m->n_domains = 2;
                continue;
            }
            if (d->kind != DECL_NETWORK && d->kind != DECL_OPTIMIZE && !(d->kind == DECL_DATA && first[d->kind])) {
                if (first[d->kind]) {
                    error_at(d->loc, "more than one '%s' declaration", names[d->kind]);
                    note_at(first[d->kind]->loc, "first one here");
                    continue;
                }
                first[d->kind] = d;
            }
            switch (d->kind) {
            case DECL_MODEL: m->name = d->name; break;
            case DECL_DATA: check_data(d, m); break;
            case DECL_LATENT: check_latent(d, m); break;
            case DECL_NETWORK: check_network(d, m); break;
            case DECL_OBJECTIVE: break; /* after the optimizers */
            case DECL_OPTIMIZE: check_optimize(d, m); break;
            case DECL_TRAIN: check_train(d, m); break;
            case DECL_AUGMENT: check_augment(d, m); break;
            case DECL_COUNT: unreachable();
            }
        }
    }
    int objective_errors = diag_error_count();
    if (first[DECL_OBJECTIVE])
        check_objective(first[DECL_OBJECTIVE], m);
    objective_errors = diag_error_count() - objective_errors;
    /* Missing declarations are whole-file errors: there is no line to point
     * at.  An objective of two domains counts them itself; one without a
     * latent needs none; with no known objective, whether a latent is
     * needed is unknown. */
    const struct objective_def *def = m->objective.def;
    for (int k = 0; k < DECL_COUNT; k++) {
        if (first[k] || k == DECL_NETWORK || k == DECL_OPTIMIZE || k == DECL_TRAIN || k == DECL_AUGMENT)
            continue;
        if (k == DECL_LATENT && !(def && def->latent))
            continue;
        if (k == DECL_DATA && def && def->domains > 1)
            continue;
        error_at(WHOLE_FILE, "the spec has no '%s' declaration", names[k]);
    }
    if (def && m->augment.on && strcmp(def->name, "gan")) {
        error_at(m->augment.loc, "augment is for objective gan's discriminator, not %s's", def->name);
        note_at(m->objective.loc, "the objective is here");
    }
    if (def && m->n_domains > def->domains && m->data_b.ok) {
        error_at(m->data_b.loc, "two data domains are for a CycleGAN, but the objective is %s",
                 first[DECL_OBJECTIVE]->kind_name);
        note_at(m->objective.loc, "the objective is here");
    }
    check_scoring(m);
    if (def) {
        def->check_model(m);
        if (!objective_errors) /* else its list of networks may not be the one meant */
            check_unused_optimizers(ast, first[DECL_OBJECTIVE], m);
    }
    check_sizes(m);
    return diag_error_count() == before;
}

/* Every check runs unless it depends on one that failed (an unknown
 * network, a data source or latent in error, a network whose layers
 * stopped short), so one run reports every independent mistake; the
 * diagnostics come out sorted by position. */
bool sema(const struct ast *ast, const struct source *src, struct model *m) {
    diag_hold();
    bool ok = check_all(ast, src, m);
    diag_flush();
    return ok;
}
