/* fake_model.c: hand-written stand-ins for the trainers genc emits, so the
 * runtime's whole CLI can be tested without the compiler.
 *
 *     G: x = gain * (W z) + b                       (linear, z -> sample)
 *     D: s = w2 . tanh(W1 x + b1) + b2              (one hidden layer)
 *     loss_D = mean softplus(-D(real)) + softplus(D(G(z)))
 *     loss_G = mean softplus(-D(G(z)))              (non-saturating)
 * trained with SGD with momentum: D first, then G against the updated D.
 *
 * Like genc's output, the model body is written once over a `real` type and
 * compiled twice, float and double: this file includes itself once per
 * configuration (FAKE_BODY set), giving six models:
 *     fake_model, fake_model_f64              ring8, z(4) -> 2
 *     fake_image_model, fake_image_model_f64  fashion_mnist, z(8) -> 1x28x28
 *     fake_rgb_model, fake_rgb_model_f64      images (no default directory),
 *                                             z(4) -> 3x6x8, stored HWC */
#ifndef FAKE_BODY
#define FAKE_BODY

#include <math.h>
#include <string.h>

#include "genrt_model.h"

static const char *const fake_nets[] = {"G", "D"};
static const char *const fake_metric_names[] = {"loss_D", "loss_G"};
static const struct genrt_term fake_terms[] = {
    {"loss_D", 1u << 1}, /* trains D */
    {"loss_G", 1u << 0}, /* trains G */
};

#define FAKE_LR 0.01
#define FAKE_MOMENTUM 0.5
#define FAKE_GC_BATCH 4

/* ring8 */
#define real float
#define FAKE_ID _ring_f32
#define FAKE_SYM fake_model
#define FAKE_NAME "fake"
#define FAKE_HASH 0x52494e4738000001ULL
#define FAKE_KIND GENRT_DATA_RING8
#define FAKE_DATA ""
#define FAKE_LATENT GENRT_LATENT_NORMAL
#define FAKE_S 2
#define FAKE_C 0
#define FAKE_IH 0
#define FAKE_IW 0
#define FAKE_Z 4
#define FAKE_HID 8
#define FAKE_B 16
#include "fake_model.c"
#undef real
#undef FAKE_ID
#undef FAKE_SYM
#define real double
#define FAKE_ID _ring_f64
#define FAKE_SYM fake_model_f64
#include "fake_model.c"
#undef real
#undef FAKE_ID
#undef FAKE_SYM
#undef FAKE_NAME
#undef FAKE_HASH
#undef FAKE_KIND
#undef FAKE_DATA
#undef FAKE_LATENT
#undef FAKE_S
#undef FAKE_C
#undef FAKE_IH
#undef FAKE_IW
#undef FAKE_Z

/* fashion_mnist */
#define real float
#define FAKE_ID _img_f32
#define FAKE_SYM fake_image_model
#define FAKE_NAME "fake_image"
#define FAKE_HASH 0x494d414745000001ULL
#define FAKE_KIND GENRT_DATA_FASHION_MNIST
#define FAKE_DATA "/usr/share/datasets/fashion-mnist"
#define FAKE_LATENT GENRT_LATENT_UNIFORM
#define FAKE_S 784
#define FAKE_C 1
#define FAKE_IH 28
#define FAKE_IW 28
#define FAKE_Z 8
#include "fake_model.c"
#undef real
#undef FAKE_ID
#undef FAKE_SYM
#define real double
#define FAKE_ID _img_f64
#define FAKE_SYM fake_image_model_f64
#include "fake_model.c"
#undef real
#undef FAKE_ID
#undef FAKE_SYM
#undef FAKE_NAME
#undef FAKE_HASH
#undef FAKE_KIND
#undef FAKE_DATA
#undef FAKE_LATENT
#undef FAKE_S
#undef FAKE_C
#undef FAKE_IH
#undef FAKE_IW
#undef FAKE_Z

/* images, RGB; H != W so that a swapped height and width shows */
#define real float
#define FAKE_ID _rgb_f32
#define FAKE_SYM fake_rgb_model
#define FAKE_NAME "fake_rgb"
#define FAKE_HASH 0x5247420000000001ULL
#define FAKE_KIND GENRT_DATA_IMAGES
#define FAKE_DATA ""
#define FAKE_LATENT GENRT_LATENT_NORMAL
#define FAKE_S (3 * 6 * 8)
#define FAKE_C 3
#define FAKE_IH 6
#define FAKE_IW 8
#define FAKE_Z 4
#include "fake_model.c"
#undef real
#undef FAKE_ID
#undef FAKE_SYM
#define real double
#define FAKE_ID _rgb_f64
#define FAKE_SYM fake_rgb_model_f64
#include "fake_model.c"

#else /* FAKE_BODY: one model, over `real` */

#define FAKE_CAT_(a, b) a##b
#define FAKE_CAT(a, b) FAKE_CAT_(a, b)
#define N(x) FAKE_CAT(x, FAKE_ID)

/* Parameters, then one momentum buffer per parameter. */
#define OFF_GW 0                                   /* G.weight [S, Z] */
#define OFF_GG (OFF_GW + FAKE_S * FAKE_Z)          /* G.gain [S] */
#define OFF_GB (OFF_GG + FAKE_S)                   /* G.bias [S] */
#define OFF_D1W (OFF_GB + FAKE_S)                  /* D.l1.weight [HID, S] */
#define OFF_D1B (OFF_D1W + FAKE_HID * FAKE_S)      /* D.l1.bias [HID] */
#define OFF_D2W (OFF_D1B + FAKE_HID)               /* D.l2.weight [1, HID] */
#define OFF_D2B (OFF_D2W + FAKE_HID)               /* D.l2.bias [1] */
#define N_PARAMS (OFF_D2B + 1)
#define N_G_PARAMS OFF_D1W                         /* G's are [0, OFF_D1W) */

static real N(state)[2 * N_PARAMS];
static real N(grad)[N_PARAMS];
static float N(in_real)[FAKE_B * FAKE_S], N(in_z)[FAKE_B * FAKE_Z];
static float N(gc_real)[FAKE_GC_BATCH * FAKE_S], N(gc_z)[FAKE_GC_BATCH * FAKE_Z];

static real N(softplus)(real x)
{
    return (real)(fmax((double)x, 0.0) + log1p(exp(-fabs((double)x))));
}

static real N(sigmoid)(real x)
{
    return (real)(1.0 / (1.0 + exp(-(double)x)));
}

static void N(gen)(const real *p, const float *z, real *x)
{
    for (int i = 0; i < FAKE_S; i++) {
        real acc = 0;
        for (int j = 0; j < FAKE_Z; j++)
            acc += p[OFF_GW + i * FAKE_Z + j] * (real)z[j];
        x[i] = p[OFF_GG + i] * acc + p[OFF_GB + i];
    }
}

static real N(disc)(const real *p, const real *x, real *hid)
{
    real s = p[OFF_D2B];
    for (int k = 0; k < FAKE_HID; k++) {
        real a = p[OFF_D1B + k];
        for (int i = 0; i < FAKE_S; i++)
            a += p[OFF_D1W + k * FAKE_S + i] * x[i];
        hid[k] = (real)tanh((double)a);
        s += p[OFF_D2W + k] * hid[k];
    }
    return s;
}

/* ds = d loss / d s.  Adds D's gradients into g (if g) and d loss / d x
 * into dx (if dx). */
static void N(disc_back)(const real *p, const real *x, const real *hid, real ds, real *g,
                         real *dx)
{
    if (g)
        g[OFF_D2B] += ds;
    for (int k = 0; k < FAKE_HID; k++) {
        real da = ds * p[OFF_D2W + k] * (1 - hid[k] * hid[k]);
        if (g) {
            g[OFF_D2W + k] += ds * hid[k];
            g[OFF_D1B + k] += da;
            for (int i = 0; i < FAKE_S; i++)
                g[OFF_D1W + k * FAKE_S + i] += da * x[i];
        }
        if (dx)
            for (int i = 0; i < FAKE_S; i++)
                dx[i] += da * p[OFF_D1W + k * FAKE_S + i];
    }
}

static void N(gen_back)(const real *p, const float *z, const real *dx, real *g)
{
    for (int i = 0; i < FAKE_S; i++) {
        real acc = 0;
        for (int j = 0; j < FAKE_Z; j++)
            acc += p[OFF_GW + i * FAKE_Z + j] * (real)z[j];
        g[OFF_GG + i] += dx[i] * acc;
        g[OFF_GB + i] += dx[i];
        for (int j = 0; j < FAKE_Z; j++)
            g[OFF_GW + i * FAKE_Z + j] += dx[i] * p[OFF_GG + i] * (real)z[j];
    }
}

/* loss_D over n examples; adds d loss_D / d D-params into g if g. */
static real N(loss_d)(const real *p, const float *xr, const float *z, int n, real *g)
{
    real x[FAKE_S], hid[FAKE_HID], loss = 0;
    for (int b = 0; b < n; b++) {
        for (int i = 0; i < FAKE_S; i++)
            x[i] = (real)xr[b * FAKE_S + i];
        real s = N(disc)(p, x, hid);
        loss += N(softplus)(-s);
        if (g)
            N(disc_back)(p, x, hid, -N(sigmoid)(-s) / n, g, NULL);
        N(gen)(p, z + b * FAKE_Z, x);
        s = N(disc)(p, x, hid);
        loss += N(softplus)(s);
        if (g)
            N(disc_back)(p, x, hid, N(sigmoid)(s) / n, g, NULL);
    }
    return loss / n;
}

/* loss_G over n examples; adds d loss_G / d G-params into g if g. */
static real N(loss_g)(const real *p, const float *z, int n, real *g)
{
    real x[FAKE_S], hid[FAKE_HID], dx[FAKE_S], loss = 0;
    for (int b = 0; b < n; b++) {
        N(gen)(p, z + b * FAKE_Z, x);
        real s = N(disc)(p, x, hid);
        loss += N(softplus)(-s);
        if (g) {
            memset(dx, 0, sizeof dx);
            N(disc_back)(p, x, hid, -N(sigmoid)(-s) / n, NULL, dx);
            N(gen_back)(p, z + b * FAKE_Z, dx, g);
        }
    }
    return loss / n;
}

static void N(sgd)(int lo, int hi)
{
    real *p = N(state), *v = N(state) + N_PARAMS;
    for (int i = lo; i < hi; i++) {
        v[i] = (real)FAKE_MOMENTUM * v[i] + N(grad)[i];
        p[i] -= (real)FAKE_LR * v[i];
    }
}

static void N(set_input)(int slot, const float *src)
{
    if (slot == 0)
        memcpy(N(in_real), src, sizeof N(in_real));
    else
        memcpy(N(in_z), src, sizeof N(in_z));
}

static void N(train_step)(long t, double *metrics)
{
    (void)t;
    memset(N(grad), 0, sizeof N(grad));
    metrics[0] = N(loss_d)(N(state), N(in_real), N(in_z), FAKE_B, N(grad));
    N(sgd)(N_G_PARAMS, N_PARAMS);
    memset(N(grad), 0, sizeof N(grad));
    metrics[1] = N(loss_g)(N(state), N(in_z), FAKE_B, N(grad));
    N(sgd)(0, N_G_PARAMS);
}

static void N(generate)(const float *z, float *out)
{
    real x[FAKE_S];
    for (int b = 0; b < FAKE_B; b++) {
        N(gen)(N(state), z + b * FAKE_Z, x);
        for (int i = 0; i < FAKE_S; i++)
            out[b * FAKE_S + i] = (float)x[i];
    }
}

static void N(gc_set_input)(int slot, const float *src)
{
    if (slot == 0)
        memcpy(N(gc_real), src, sizeof N(gc_real));
    else
        memcpy(N(gc_z), src, sizeof N(gc_z));
}

static double N(gc_loss)(int k)
{
    if (k == 0)
        return N(loss_d)(N(state), N(gc_real), N(gc_z), FAKE_GC_BATCH, NULL);
    return N(loss_g)(N(state), N(gc_z), FAKE_GC_BATCH, NULL);
}

static void N(gc_grad)(int k, void *g)
{
    if (k == 0)
        N(loss_d)(N(state), N(gc_real), N(gc_z), FAKE_GC_BATCH, g);
    else
        N(loss_g)(N(state), N(gc_z), FAKE_GC_BATCH, g);
}

#define FAKE_T(name, role, net, init, fan_in, d0, d1, off, size) \
    {name, role, net, init, fan_in, (d1) ? 2 : 1, {d0, d1}, off, size}
#define FAKE_P(name, net, init, fan_in, d0, d1, off) \
    FAKE_T(name, GENRT_PARAM, net, init, fan_in, d0, d1, off, (d0) * ((d1) ? (d1) : 1)), \
    FAKE_T(name ".momentum", GENRT_OPT_STATE, net, GENRT_INIT_ZERO, 0, d0, d1, \
           N_PARAMS + (off), (d0) * ((d1) ? (d1) : 1))

static const struct genrt_tensor N(tensors)[] = {
    FAKE_P("G.weight", 0, GENRT_INIT_FANIN_UNIFORM, FAKE_Z, FAKE_S, FAKE_Z, OFF_GW),
    FAKE_P("G.gain", 0, GENRT_INIT_ONE, 0, FAKE_S, 0, OFF_GG),
    FAKE_P("G.bias", 0, GENRT_INIT_ZERO, 0, FAKE_S, 0, OFF_GB),
    FAKE_P("D.l1.weight", 1, GENRT_INIT_FANIN_UNIFORM, FAKE_S, FAKE_HID, FAKE_S, OFF_D1W),
    FAKE_P("D.l1.bias", 1, GENRT_INIT_FANIN_UNIFORM, FAKE_S, FAKE_HID, 0, OFF_D1B),
    FAKE_P("D.l2.weight", 1, GENRT_INIT_FANIN_UNIFORM, FAKE_HID, 1, FAKE_HID, OFF_D2W),
    FAKE_P("D.l2.bias", 1, GENRT_INIT_FANIN_UNIFORM, FAKE_HID, 1, 0, OFF_D2B),
};

const struct genrt_model FAKE_SYM = {
    .abi = GENRT_ABI,
    .name = FAKE_NAME,
    .spec = "tests/fake_model.c",
    .shape_hash = FAKE_HASH,
    .real_size = (int)sizeof(real),
    .data_kind = FAKE_KIND,
    .data_path = FAKE_DATA,
    .data_train = 1,
    .range_lo = -1.0f,
    .range_hi = 1.0f,
    .img_c = FAKE_C,
    .img_h = FAKE_IH,
    .img_w = FAKE_IW,
    .sample_size = FAKE_S,
    .latent_kind = FAKE_LATENT,
    .latent_dim = FAKE_Z,
    .batch = FAKE_B,
    .steps = 200,
    .seed = 42,
    .sample_every = 100,
    .checkpoint_every = 100,
    .n_state = 2 * N_PARAMS,
    .state = N(state),
    .n_tensors = (int)(sizeof N(tensors) / sizeof N(tensors)[0]),
    .tensors = N(tensors),
    .n_nets = 2,
    .nets = fake_nets,
    .n_metrics = 2,
    .metric_names = fake_metric_names,
    .set_input = N(set_input),
    .train_step = N(train_step),
    .generate = N(generate),
    .gc_batch = FAKE_GC_BATCH,
    .n_terms = 2,
    .terms = fake_terms,
    .gc_set_input = N(gc_set_input),
    .gc_loss = N(gc_loss),
    .gc_grad = N(gc_grad),
};

#endif /* FAKE_BODY */
