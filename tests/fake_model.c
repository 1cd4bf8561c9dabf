/* fake_model.c: hand-written stand-ins for the trainers genc emits, so the
 * runtime's whole CLI can be tested without the compiler.
 *
 *     G: x = gain * (W z) + b [+ E[:, y]]              (linear, z -> sample)
 *     D: s = w2 . tanh(W1 x + b1 [+ V[:, y]]) + b2     (one hidden layer)
 *     loss_D = mean softplus(-D(real)) + softplus(D(G(z)))
 *     loss_G = mean softplus(-D(G(z)))                 (non-saturating)
 * trained with SGD with momentum: D first, then G against the updated D.
 * A conditional model (FAKE_K classes) adds the class embeddings E and V;
 * the fakes take the real examples' labels.  A step of a model with
 * FAKE_RB real and FAKE_LB latent batches makes FAKE_RB D updates (update
 * r on real batch r and latent batch r % FAKE_LB, as WGAN's critic steps),
 * then one G update on the last latent batch.
 *
 * Like genc's output, the model body is written once over a `real` type and
 * compiled twice, float and double: this file includes itself once per
 * configuration (FAKE_BODY set), giving ten GANs (8 hidden units in D
 * unless said):
 *     fake_model, fake_model_f64              ring8, z(4) -> 2
 *     fake_image_model, fake_image_model_f64  fashion_mnist, z(8) -> 1x28x28
 *     fake_rgb_model, fake_rgb_model_f64      images (no default directory),
 *                                             z(4) -> 3x6x8, stored HWC
 *     fake_cond_model, fake_cond_model_f64    ring8 conditional on its 8
 *                                             modes, z(4) -> 2, 32 hidden
 *     fake_cond_rgb_model, _f64               images in 3 class subfolders,
 *                                             z(4) -> 3x6x8, batch 4, 3 real
 *                                             and 4 latent batches a step
 * The body aborts on a label that is not a class, or on labels given to an
 * unconditional model: the runtime must never pass either.
 *
 * A second body (FAKE_VAE set) is a linear VAE with a Gaussian decoder:
 *     E: mu = W_e x + b_e, log sigma^2 = lv (a parameter, the same for all x)
 *     D: x^ = W_d z + b_d, z = mu + exp(lv / 2) eps
 *     rec = |x - x^|^2 / 2 (-log N(x; x^, 1) up to its constant),
 *     kl = sum (mu^2 + exp(lv) - lv - 1) / 2,  loss = rec + kl
 * trained with the same SGD, eps from slot 1 (latent batches).  elbo_batch
 * takes its one posterior sample per row from a fixed hash of the row, as
 * genc's fixed seed does, and reconstruct decodes mu.  Two more models:
 *     fake_vae_model, fake_vae_model_f64      fashion_mnist, 1x28x28, z(2),
 *                                             batch 64 (divides neither
 *                                             60000 nor 10000)
 *
 * A third body (FAKE_CYCLE set) is a CycleGAN between domain A (S values
 * an example) and domain B (SB values), with per-pixel generators and
 * linear discriminators on FAKE_DP fixed pixels:
 *     G: A -> B, G(a)_i = tanh(gw_i a_{i mod S} + gb_i)
 *     F: B -> A, F(b)_j = tanh(fw_j b_{j mod SB} + fb_j)
 *     D_A(x) = c_A + sum_k v_A,k x_{pix(k)},  D_B likewise on B
 *     cycle = mean |F(G(a)) - a|^2 / S + |G(F(b)) - b|^2 / SB
 *     loss_G = mean (D_B(G(a)) - 1)^2 + (D_A(F(b)) - 1)^2 + 10 cycle
 *     loss_DA = mean (D_A(a) - 1)^2 + D_A(F(b))^2,  loss_DB likewise
 * (least squares, and squared cycle errors so that every loss is smooth
 * for gradcheck), trained with the same SGD: G and F first, then D_A and
 * D_B against the updated generators.  It takes slots 0 and 3 only, and
 * aborts on any other.  Two models:
 *     fake_cycle_model, _f64                  fashion_mnist class 7
 *                                             (sneakers) -> class 9 (ankle
 *                                             boots), 1x28x28 both, batch 16
 *     fake_cycle_mix_model, _f64              domains "shoes" (fashion_mnist
 *                                             class 7, 1x28x28) and "colors"
 *                                             (images, no default directory,
 *                                             3x6x8), batch 4 */
#ifndef FAKE_BODY
#define FAKE_BODY

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genrt_model.h"

static const char *const fake_nets[] = {"G", "D"};
static const char *const fake_metric_names[] = {"loss_D", "loss_G"};
static const struct genrt_term fake_terms[] = {
    {"loss_D", 1u << 1}, /* trains D */
    {"loss_G", 1u << 0}, /* trains G */
};

static const char *const fake_cycle_nets[] = {"G", "F", "D_A", "D_B"};
static const char *const fake_cycle_metric_names[] = {"loss_G", "loss_DA", "loss_DB", "cycle"};
static const struct genrt_term fake_cycle_terms[] = {
    {"loss_G", 3u},       /* trains G and F */
    {"loss_DA", 1u << 2}, /* trains D_A */
    {"loss_DB", 1u << 3}, /* trains D_B */
};

static const char *const fake_vae_nets[] = {"E", "D"};
static const char *const fake_vae_metric_names[] = {"loss", "rec", "kl"};
static const struct genrt_term fake_vae_terms[] = {
    {"loss", 3u}, /* trains E and D */
};

#define FAKE_MOMENTUM 0.5
#define FAKE_GC_BATCH 4
#define FAKE_DP 8        /* the pixels a CycleGAN discriminator sees */
#define FAKE_CYCLE_W 10  /* the weight of the cycle term */

/* Each configuration defines its FAKE_* sizes, includes the body as float
 * and as double (defining real, FAKE_ID and FAKE_SYM, which the body
 * undefines), then includes this file with FAKE_UNDEF to undefine them. */

/* ring8 */
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
#define FAKE_B 16
#define FAKE_K 0
#define FAKE_RB 1
#define FAKE_LB 1
#define FAKE_HID 8
#define FAKE_LR 0.01
#define real float
#define FAKE_ID _ring_f32
#define FAKE_SYM fake_model
#include "fake_model.c"
#define real double
#define FAKE_ID _ring_f64
#define FAKE_SYM fake_model_f64
#include "fake_model.c"
#define FAKE_UNDEF
#include "fake_model.c"

/* fashion_mnist */
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
#define FAKE_B 16
#define FAKE_K 0
#define FAKE_RB 1
#define FAKE_LB 1
#define FAKE_HID 8
#define FAKE_LR 0.01
#define real float
#define FAKE_ID _img_f32
#define FAKE_SYM fake_image_model
#include "fake_model.c"
#define real double
#define FAKE_ID _img_f64
#define FAKE_SYM fake_image_model_f64
#include "fake_model.c"
#define FAKE_UNDEF
#include "fake_model.c"

/* images, RGB; H != W so that a swapped height and width shows */
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
#define FAKE_B 16
#define FAKE_K 0
#define FAKE_RB 1
#define FAKE_LB 1
#define FAKE_HID 8
#define FAKE_LR 0.01
#define real float
#define FAKE_ID _rgb_f32
#define FAKE_SYM fake_rgb_model
#include "fake_model.c"
#define real double
#define FAKE_ID _rgb_f64
#define FAKE_SYM fake_rgb_model_f64
#include "fake_model.c"
#define FAKE_UNDEF
#include "fake_model.c"

/* ring8, conditional: the label is the mode */
#define FAKE_NAME "fake_cond"
#define FAKE_HASH 0x434f4e4438000001ULL
#define FAKE_KIND GENRT_DATA_RING8
#define FAKE_DATA ""
#define FAKE_LATENT GENRT_LATENT_NORMAL
#define FAKE_S 2
#define FAKE_C 0
#define FAKE_IH 0
#define FAKE_IW 0
#define FAKE_Z 4
#define FAKE_B 16
#define FAKE_K 8
#define FAKE_RB 1
#define FAKE_LB 1
#define FAKE_HID 32 /* a wider D and a faster rate: every seed learns the modes */
#define FAKE_LR 0.05
#define real float
#define FAKE_ID _cond_f32
#define FAKE_SYM fake_cond_model
#include "fake_model.c"
#define real double
#define FAKE_ID _cond_f64
#define FAKE_SYM fake_cond_model_f64
#include "fake_model.c"
#define FAKE_UNDEF
#include "fake_model.c"

/* images in 3 class subfolders, several batches a step */
#define FAKE_NAME "fake_cond_rgb"
#define FAKE_HASH 0x4352474233000001ULL
#define FAKE_KIND GENRT_DATA_IMAGES
#define FAKE_DATA ""
#define FAKE_LATENT GENRT_LATENT_NORMAL
#define FAKE_S (3 * 6 * 8)
#define FAKE_C 3
#define FAKE_IH 6
#define FAKE_IW 8
#define FAKE_Z 4
#define FAKE_B 4
#define FAKE_K 3
#define FAKE_RB 3
#define FAKE_LB 4
#define FAKE_HID 8
#define FAKE_LR 0.01
#define real float
#define FAKE_ID _crgb_f32
#define FAKE_SYM fake_cond_rgb_model
#include "fake_model.c"
#define real double
#define FAKE_ID _crgb_f64
#define FAKE_SYM fake_cond_rgb_model_f64
#include "fake_model.c"
#define FAKE_UNDEF
#include "fake_model.c"

/* a VAE on fashion_mnist (FAKE_HID is unused) */
#define FAKE_VAE
#define FAKE_NAME "fake_vae"
#define FAKE_HASH 0x5641450000000001ULL
#define FAKE_KIND GENRT_DATA_FASHION_MNIST
#define FAKE_DATA "/usr/share/datasets/fashion-mnist"
#define FAKE_LATENT GENRT_LATENT_NORMAL
#define FAKE_S 784
#define FAKE_C 1
#define FAKE_IH 28
#define FAKE_IW 28
#define FAKE_Z 2
#define FAKE_B 64
#define FAKE_K 0
#define FAKE_RB 1
#define FAKE_LB 1
#define FAKE_HID 0
#define FAKE_LR 0.02
#define real float
#define FAKE_ID _vae_f32
#define FAKE_SYM fake_vae_model
#include "fake_model.c"
#define real double
#define FAKE_ID _vae_f64
#define FAKE_SYM fake_vae_model_f64
#include "fake_model.c"
#define FAKE_UNDEF
#include "fake_model.c"

/* CycleGANs (FAKE_Z, FAKE_K, FAKE_LB, FAKE_HID are unused) */
#define FAKE_CYCLE
#define FAKE_NAME "fake_cycle"
#define FAKE_HASH 0x4359434c45000001ULL
#define FAKE_KIND GENRT_DATA_FASHION_MNIST
#define FAKE_DATA "/usr/share/datasets/fashion-mnist"
#define FAKE_CLASS 7
#define FAKE_S 784
#define FAKE_C 1
#define FAKE_IH 28
#define FAKE_IW 28
#define FAKE_A_NAME "A"
#define FAKE_B_NAME "B"
#define FAKE_B_KIND GENRT_DATA_FASHION_MNIST
#define FAKE_B_DATA "/usr/share/datasets/fashion-mnist"
#define FAKE_B_CLASS 9
#define FAKE_SB 784
#define FAKE_B_C 1
#define FAKE_B_IH 28
#define FAKE_B_IW 28
#define FAKE_B 16
#define FAKE_LR 0.01
#define real float
#define FAKE_ID _cyc_f32
#define FAKE_SYM fake_cycle_model
#include "fake_model.c"
#define real double
#define FAKE_ID _cyc_f64
#define FAKE_SYM fake_cycle_model_f64
#include "fake_model.c"
#define FAKE_UNDEF
#include "fake_model.c"

#define FAKE_CYCLE
#define FAKE_NAME "fake_cycle_mix"
#define FAKE_HASH 0x4d49580000000001ULL
#define FAKE_KIND GENRT_DATA_FASHION_MNIST
#define FAKE_DATA "/usr/share/datasets/fashion-mnist"
#define FAKE_CLASS 7
#define FAKE_S 784
#define FAKE_C 1
#define FAKE_IH 28
#define FAKE_IW 28
#define FAKE_A_NAME "shoes"
#define FAKE_B_NAME "colors"
#define FAKE_B_KIND GENRT_DATA_IMAGES
#define FAKE_B_DATA ""
#define FAKE_B_CLASS -1
#define FAKE_SB (3 * 6 * 8)
#define FAKE_B_C 3
#define FAKE_B_IH 6
#define FAKE_B_IW 8
#define FAKE_B 4
#define FAKE_LR 0.01
#define real float
#define FAKE_ID _mix_f32
#define FAKE_SYM fake_cycle_mix_model
#include "fake_model.c"
#define real double
#define FAKE_ID _mix_f64
#define FAKE_SYM fake_cycle_mix_model_f64
#include "fake_model.c"
#define FAKE_UNDEF
#include "fake_model.c"

#elif defined(FAKE_UNDEF) /* the end of a configuration */

#undef FAKE_UNDEF
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
#undef FAKE_B
#undef FAKE_K
#undef FAKE_RB
#undef FAKE_LB
#undef FAKE_HID
#undef FAKE_LR
#undef FAKE_VAE
#undef FAKE_CYCLE
#undef FAKE_CLASS
#undef FAKE_A_NAME
#undef FAKE_B_NAME
#undef FAKE_B_KIND
#undef FAKE_B_DATA
#undef FAKE_B_CLASS
#undef FAKE_SB
#undef FAKE_B_C
#undef FAKE_B_IH
#undef FAKE_B_IW

#elif defined(FAKE_CYCLE) /* FAKE_BODY: one CycleGAN, over `real` */

#define FAKE_CAT_(a, b) a##b
#define FAKE_CAT(a, b) FAKE_CAT_(a, b)
#define N(x) FAKE_CAT(x, FAKE_ID)

/* Parameters, then one momentum buffer per parameter. */
#define COFF_GW 0                     /* G.weight [SB] */
#define COFF_GB (COFF_GW + FAKE_SB)   /* G.bias [SB] */
#define COFF_FW (COFF_GB + FAKE_SB)   /* F.weight [S] */
#define COFF_FB (COFF_FW + FAKE_S)    /* F.bias [S] */
#define COFF_AW (COFF_FB + FAKE_S)    /* D_A.weight [DP] */
#define COFF_AB (COFF_AW + FAKE_DP)   /* D_A.bias [1] */
#define COFF_BW (COFF_AB + 1)         /* D_B.weight [DP] */
#define COFF_BB (COFF_BW + FAKE_DP)   /* D_B.bias [1] */
#define C_PARAMS (COFF_BB + 1)
#define C_GEN_PARAMS COFF_AW          /* G's and F's are [0, COFF_AW) */

static real N(state)[2 * C_PARAMS];
static real N(grad)[C_PARAMS];
static float N(in_a)[FAKE_B * FAKE_S], N(in_b)[FAKE_B * FAKE_SB];
static float N(gc_a)[FAKE_GC_BATCH * FAKE_S], N(gc_b)[FAKE_GC_BATCH * FAKE_SB];

/* y_i = tanh(w_i x_{i mod n_in} + b_i), i < n_out */
static void N(map)(const real *w, const real *b, const real *x, int n_in, int n_out, real *y)
{
    for (int i = 0; i < n_out; i++)
        y[i] = (real)tanh((double)(w[i] * x[i % n_in] + b[i]));
}

/* Adds d/dw, d/db into gw, gb (if gw) and d/dx into dx (if dx). */
static void N(map_back)(const real *w, const real *x, const real *y, const real *dy, int n_in,
                        int n_out, real *gw, real *gb, real *dx)
{
    for (int i = 0; i < n_out; i++) {
        real t = dy[i] * (1 - y[i] * y[i]);
        if (gw) {
            gw[i] += t * x[i % n_in];
            gb[i] += t;
        }
        if (dx)
            dx[i % n_in] += t * w[i];
    }
}

static int N(pix)(int k, int n)
{
    return (k * 97 + 13) % n;
}

/* A discriminator with weights at p[off], bias at p[off + FAKE_DP]. */
static real N(disc)(const real *p, int off, const real *x, int n)
{
    real s = p[off + FAKE_DP];
    for (int k = 0; k < FAKE_DP; k++)
        s += p[off + k] * x[N(pix)(k, n)];
    return s;
}

static void N(disc_back)(const real *p, int off, const real *x, int n, real ds, real *g,
                         real *dx)
{
    for (int k = 0; k < FAKE_DP; k++) {
        if (g)
            g[off + k] += ds * x[N(pix)(k, n)];
        if (dx)
            dx[N(pix)(k, n)] += ds * p[off + k];
    }
    if (g)
        g[off + FAKE_DP] += ds;
}

static void N(to_real)(const float *src, int n, real *dst)
{
    for (int i = 0; i < n; i++)
        dst[i] = (real)src[i];
}

/* loss_G over n pairs (a, b); *cycle gets the cycle term; adds d loss_G /
 * d (G, F params) into g if g. */
static real N(loss_gen)(const real *p, const float *af, const float *bf, int n, real *g,
                        real *cycle)
{
    real a[FAKE_S], b[FAKE_SB], ga[FAKE_SB], fga[FAKE_S], fb[FAKE_S], gfb[FAKE_SB];
    real d_ga[FAKE_SB], d_fga[FAKE_S], d_fb[FAKE_S], d_gfb[FAKE_SB];
    real adv = 0, cyc = 0;
    for (int e = 0; e < n; e++) {
        N(to_real)(af + e * FAKE_S, FAKE_S, a);
        N(to_real)(bf + e * FAKE_SB, FAKE_SB, b);
        N(map)(p + COFF_GW, p + COFF_GB, a, FAKE_S, FAKE_SB, ga);
        N(map)(p + COFF_FW, p + COFF_FB, ga, FAKE_SB, FAKE_S, fga);
        N(map)(p + COFF_FW, p + COFF_FB, b, FAKE_SB, FAKE_S, fb);
        N(map)(p + COFF_GW, p + COFF_GB, fb, FAKE_S, FAKE_SB, gfb);
        real sb = N(disc)(p, COFF_BW, ga, FAKE_SB), sa = N(disc)(p, COFF_AW, fb, FAKE_S);
        adv += (sb - 1) * (sb - 1) + (sa - 1) * (sa - 1);
        for (int j = 0; j < FAKE_S; j++)
            cyc += (fga[j] - a[j]) * (fga[j] - a[j]) / FAKE_S;
        for (int i = 0; i < FAKE_SB; i++)
            cyc += (gfb[i] - b[i]) * (gfb[i] - b[i]) / FAKE_SB;
        if (!g)
            continue;
        /* a -> G -> F, and G's output into D_B */
        memset(d_ga, 0, sizeof d_ga);
        for (int j = 0; j < FAKE_S; j++)
            d_fga[j] = 2 * (real)FAKE_CYCLE_W * (fga[j] - a[j]) / FAKE_S / n;
        N(map_back)(p + COFF_FW, ga, fga, d_fga, FAKE_SB, FAKE_S, g + COFF_FW, g + COFF_FB, d_ga);
        N(disc_back)(p, COFF_BW, ga, FAKE_SB, 2 * (sb - 1) / n, NULL, d_ga);
        N(map_back)(p + COFF_GW, a, ga, d_ga, FAKE_S, FAKE_SB, g + COFF_GW, g + COFF_GB, NULL);
        /* b -> F -> G, and F's output into D_A */
        memset(d_fb, 0, sizeof d_fb);
        for (int i = 0; i < FAKE_SB; i++)
            d_gfb[i] = 2 * (real)FAKE_CYCLE_W * (gfb[i] - b[i]) / FAKE_SB / n;
        N(map_back)(p + COFF_GW, fb, gfb, d_gfb, FAKE_S, FAKE_SB, g + COFF_GW, g + COFF_GB, d_fb);
        N(disc_back)(p, COFF_AW, fb, FAKE_S, 2 * (sa - 1) / n, NULL, d_fb);
        N(map_back)(p + COFF_FW, b, fb, d_fb, FAKE_SB, FAKE_S, g + COFF_FW, g + COFF_FB, NULL);
    }
    *cycle = cyc / n;
    return adv / n + (real)FAKE_CYCLE_W * cyc / n;
}

/* loss_DA and loss_DB over n pairs; adds the gradients of the losses in
 * mask (bit 0: loss_DA, bit 1: loss_DB) into g if g, each into its own
 * discriminator's parameters. */
static void N(loss_disc)(const real *p, const float *af, const float *bf, int n, unsigned mask,
                         real *g, real *la, real *lb)
{
    real a[FAKE_S], b[FAKE_SB], ga[FAKE_SB], fb[FAKE_S];
    *la = *lb = 0;
    for (int e = 0; e < n; e++) {
        N(to_real)(af + e * FAKE_S, FAKE_S, a);
        N(to_real)(bf + e * FAKE_SB, FAKE_SB, b);
        N(map)(p + COFF_GW, p + COFF_GB, a, FAKE_S, FAKE_SB, ga);
        N(map)(p + COFF_FW, p + COFF_FB, b, FAKE_SB, FAKE_S, fb);
        real ra = N(disc)(p, COFF_AW, a, FAKE_S), fa = N(disc)(p, COFF_AW, fb, FAKE_S);
        real rb = N(disc)(p, COFF_BW, b, FAKE_SB), fbs = N(disc)(p, COFF_BW, ga, FAKE_SB);
        *la += ((ra - 1) * (ra - 1) + fa * fa) / n;
        *lb += ((rb - 1) * (rb - 1) + fbs * fbs) / n;
        if (g && (mask & 1u)) {
            N(disc_back)(p, COFF_AW, a, FAKE_S, 2 * (ra - 1) / n, g, NULL);
            N(disc_back)(p, COFF_AW, fb, FAKE_S, 2 * fa / n, g, NULL);
        }
        if (g && (mask & 2u)) {
            N(disc_back)(p, COFF_BW, b, FAKE_SB, 2 * (rb - 1) / n, g, NULL);
            N(disc_back)(p, COFF_BW, ga, FAKE_SB, 2 * fbs / n, g, NULL);
        }
    }
}

static void N(sgd)(int lo, int hi)
{
    real *p = N(state), *v = N(state) + C_PARAMS;
    for (int i = lo; i < hi; i++) {
        v[i] = (real)FAKE_MOMENTUM * v[i] + N(grad)[i];
        p[i] -= (real)FAKE_LR * v[i];
    }
}

static void N(set_input)(int slot, const float *src)
{
    if (slot == 0)
        memcpy(N(in_a), src, sizeof N(in_a));
    else if (slot == 3)
        memcpy(N(in_b), src, sizeof N(in_b));
    else {
        fprintf(stderr, "%s: set_input: no slot %d\n", FAKE_NAME, slot);
        abort();
    }
}

static void N(train_step)(long t, double *metrics)
{
    real cyc, la, lb;
    (void)t;
    memset(N(grad), 0, sizeof N(grad));
    metrics[0] = N(loss_gen)(N(state), N(in_a), N(in_b), FAKE_B, N(grad), &cyc);
    metrics[3] = cyc;
    N(sgd)(0, C_GEN_PARAMS);
    memset(N(grad), 0, sizeof N(grad));
    N(loss_disc)(N(state), N(in_a), N(in_b), FAKE_B, 3u, N(grad), &la, &lb);
    metrics[1] = la;
    metrics[2] = lb;
    N(sgd)(C_GEN_PARAMS, C_PARAMS);
}

static void N(translate)(int dir, const float *x, float *out, float *back)
{
    real in[FAKE_S > FAKE_SB ? FAKE_S : FAKE_SB], mid[FAKE_S > FAKE_SB ? FAKE_S : FAKE_SB];
    real bk[FAKE_S > FAKE_SB ? FAKE_S : FAKE_SB];
    const real *p = N(state);
    if (dir != 0 && dir != 1) {
        fprintf(stderr, "%s: translate: no direction %d\n", FAKE_NAME, dir);
        abort();
    }
    int s_in = dir ? FAKE_SB : FAKE_S, s_out = dir ? FAKE_S : FAKE_SB;
    const real *w1 = p + (dir ? COFF_FW : COFF_GW), *b1 = p + (dir ? COFF_FB : COFF_GB);
    const real *w2 = p + (dir ? COFF_GW : COFF_FW), *b2 = p + (dir ? COFF_GB : COFF_FB);
    for (int e = 0; e < FAKE_B; e++) {
        N(to_real)(x + e * s_in, s_in, in);
        N(map)(w1, b1, in, s_in, s_out, mid);
        N(map)(w2, b2, mid, s_out, s_in, bk);
        for (int i = 0; i < s_out; i++)
            out[e * s_out + i] = (float)mid[i];
        for (int j = 0; j < s_in; j++)
            back[e * s_in + j] = (float)bk[j];
    }
}

static void N(gc_set_input)(int slot, const float *src)
{
    if (slot == 0)
        memcpy(N(gc_a), src, sizeof N(gc_a));
    else if (slot == 3)
        memcpy(N(gc_b), src, sizeof N(gc_b));
    else {
        fprintf(stderr, "%s: gc_set_input: no slot %d\n", FAKE_NAME, slot);
        abort();
    }
}

static double N(gc_loss)(int k)
{
    real cyc, la, lb;
    if (k == 0)
        return N(loss_gen)(N(state), N(gc_a), N(gc_b), FAKE_GC_BATCH, NULL, &cyc);
    N(loss_disc)(N(state), N(gc_a), N(gc_b), FAKE_GC_BATCH, 0u, NULL, &la, &lb);
    return k == 1 ? la : lb;
}

static void N(gc_grad)(int k, void *g)
{
    real cyc, la, lb;
    if (k == 0)
        N(loss_gen)(N(state), N(gc_a), N(gc_b), FAKE_GC_BATCH, g, &cyc);
    else
        N(loss_disc)(N(state), N(gc_a), N(gc_b), FAKE_GC_BATCH, k == 1 ? 1u : 2u, g, &la, &lb);
}

#define CYC_P(name, net, init, fan_in, d0, off) \
    {name, GENRT_PARAM, net, init, fan_in, 1, {d0}, off, d0, -1}, \
    {name ".momentum", GENRT_OPT_STATE, net, GENRT_INIT_ZERO, 0, 1, {d0}, C_PARAMS + (off), d0, -1}

static const struct genrt_tensor N(tensors)[] = {
    CYC_P("G.weight", 0, GENRT_INIT_ONE, 0, FAKE_SB, COFF_GW),
    CYC_P("G.bias", 0, GENRT_INIT_ZERO, 0, FAKE_SB, COFF_GB),
    CYC_P("F.weight", 1, GENRT_INIT_ONE, 0, FAKE_S, COFF_FW),
    CYC_P("F.bias", 1, GENRT_INIT_ZERO, 0, FAKE_S, COFF_FB),
    CYC_P("D_A.weight", 2, GENRT_INIT_FANIN_UNIFORM, FAKE_DP, FAKE_DP, COFF_AW),
    CYC_P("D_A.bias", 2, GENRT_INIT_FANIN_UNIFORM, FAKE_DP, 1, COFF_AB),
    CYC_P("D_B.weight", 3, GENRT_INIT_FANIN_UNIFORM, FAKE_DP, FAKE_DP, COFF_BW),
    CYC_P("D_B.bias", 3, GENRT_INIT_FANIN_UNIFORM, FAKE_DP, 1, COFF_BB),
};

static const struct genrt_domain N(domain_b) = {
    .name = FAKE_B_NAME,
    .data_kind = FAKE_B_KIND,
    .data_path = FAKE_B_DATA,
    .data_train = 1,
    .data_class = FAKE_B_CLASS,
    .range_lo = -1.0f,
    .range_hi = 1.0f,
    .img_c = FAKE_B_C,
    .img_h = FAKE_B_IH,
    .img_w = FAKE_B_IW,
    .sample_size = FAKE_SB,
};

const struct genrt_model FAKE_SYM = {
    .abi = GENRT_ABI,
    .objective = GENRT_OBJ_CYCLEGAN,
    .objective_name = "CycleGAN",
    .name = FAKE_NAME,
    .spec = "tests/fake_model.c",
    .shape_hash = FAKE_HASH,
    .real_size = (int)sizeof(real),
    .data_kind = FAKE_KIND,
    .data_path = FAKE_DATA,
    .data_train = 1,
    .data_class = FAKE_CLASS,
    .range_lo = -1.0f,
    .range_hi = 1.0f,
    .img_c = FAKE_C,
    .img_h = FAKE_IH,
    .img_w = FAKE_IW,
    .sample_size = FAKE_S,
    .latent_kind = GENRT_LATENT_NORMAL,
    .latent_dim = 0,
    .domain_a = FAKE_A_NAME,
    .domain_b = &N(domain_b),
    .n_classes = 0,
    .real_batches = 1,
    .latent_batches = 0,
    .batch = FAKE_B,
    .steps = 200,
    .seed = 42,
    .sample_every = 100,
    .checkpoint_every = 100,
    .n_state = 2 * C_PARAMS,
    .state = N(state),
    .n_tensors = (int)(sizeof N(tensors) / sizeof N(tensors)[0]),
    .tensors = N(tensors),
    .n_nets = 4,
    .nets = fake_cycle_nets,
    .n_metrics = 4,
    .metric_names = fake_cycle_metric_names,
    .set_input = N(set_input),
    .train_step = N(train_step),
    .generate = NULL,
    .translate = N(translate),
    .gc_batch = FAKE_GC_BATCH,
    .n_terms = 3,
    .terms = fake_cycle_terms,
    .gc_set_input = N(gc_set_input),
    .gc_loss = N(gc_loss),
    .gc_grad = N(gc_grad),
};

#undef real
#undef FAKE_ID
#undef FAKE_SYM

#elif defined(FAKE_VAE) /* FAKE_BODY: one VAE, over `real` */

#define FAKE_CAT_(a, b) a##b
#define FAKE_CAT(a, b) FAKE_CAT_(a, b)
#define N(x) FAKE_CAT(x, FAKE_ID)

/* Parameters, then one momentum buffer per parameter. */
#define VOFF_EW 0                             /* E.weight [Z, S] */
#define VOFF_EB (VOFF_EW + FAKE_Z * FAKE_S)   /* E.bias [Z] */
#define VOFF_ELV (VOFF_EB + FAKE_Z)           /* E.logvar [Z] */
#define VOFF_DW (VOFF_ELV + FAKE_Z)           /* D.weight [S, Z] */
#define VOFF_DB (VOFF_DW + FAKE_S * FAKE_Z)   /* D.bias [S] */
#define V_PARAMS (VOFF_DB + FAKE_S)

static real N(state)[2 * V_PARAMS];
static real N(grad)[V_PARAMS];
static float N(in_real)[FAKE_B * FAKE_S], N(in_z)[FAKE_B * FAKE_Z];
static float N(gc_real)[FAKE_GC_BATCH * FAKE_S], N(gc_z)[FAKE_GC_BATCH * FAKE_Z];

static void N(encode)(const real *p, const real *x, real *mu)
{
    for (int k = 0; k < FAKE_Z; k++) {
        real a = p[VOFF_EB + k];
        for (int j = 0; j < FAKE_S; j++)
            a += p[VOFF_EW + k * FAKE_S + j] * x[j];
        mu[k] = a;
    }
}

static void N(decode)(const real *p, const real *z, real *xh)
{
    for (int j = 0; j < FAKE_S; j++) {
        real a = p[VOFF_DB + j];
        for (int k = 0; k < FAKE_Z; k++)
            a += p[VOFF_DW + j * FAKE_Z + k] * z[k];
        xh[j] = a;
    }
}

/* One example's loss, rec and kl into terms[0..2] for noise eps; adds
 * scale * d loss / d params into g if g. */
static void N(example)(const real *p, const float *xf, const float *eps, real scale, real *g,
                       real *terms)
{
    real x[FAKE_S], xh[FAKE_S], mu[FAKE_Z], sd[FAKE_Z], z[FAKE_Z], dz[FAKE_Z];
    for (int j = 0; j < FAKE_S; j++)
        x[j] = (real)xf[j];
    N(encode)(p, x, mu);
    real kl = 0;
    for (int k = 0; k < FAKE_Z; k++) {
        real lv = p[VOFF_ELV + k];
        sd[k] = (real)exp(0.5 * (double)lv);
        z[k] = mu[k] + sd[k] * (real)eps[k];
        kl += (real)0.5 * (mu[k] * mu[k] + sd[k] * sd[k] - lv - 1);
    }
    N(decode)(p, z, xh);
    real rec = 0;
    for (int j = 0; j < FAKE_S; j++)
        rec += (real)0.5 * (x[j] - xh[j]) * (x[j] - xh[j]);
    terms[0] = rec + kl;
    terms[1] = rec;
    terms[2] = kl;
    if (!g)
        return;
    memset(dz, 0, sizeof dz);
    for (int j = 0; j < FAKE_S; j++) {
        real dxh = scale * (xh[j] - x[j]);
        g[VOFF_DB + j] += dxh;
        for (int k = 0; k < FAKE_Z; k++) {
            g[VOFF_DW + j * FAKE_Z + k] += dxh * z[k];
            dz[k] += dxh * p[VOFF_DW + j * FAKE_Z + k];
        }
    }
    for (int k = 0; k < FAKE_Z; k++) {
        real dmu = dz[k] + scale * mu[k];
        g[VOFF_ELV + k] += dz[k] * (real)eps[k] * sd[k] * (real)0.5 +
                           scale * (real)0.5 * (sd[k] * sd[k] - 1);
        g[VOFF_EB + k] += dmu;
        for (int j = 0; j < FAKE_S; j++)
            g[VOFF_EW + k * FAKE_S + j] += dmu * x[j];
    }
}

/* The mean terms over n examples; adds the mean's gradient into g if g. */
static void N(batch_loss)(const real *p, const float *x, const float *eps, int n, real *g,
                          double *mean)
{
    real t[3];
    mean[0] = mean[1] = mean[2] = 0;
    for (int b = 0; b < n; b++) {
        N(example)(p, x + b * FAKE_S, eps + b * FAKE_Z, (real)1 / n, g, t);
        for (int i = 0; i < 3; i++)
            mean[i] += (double)t[i] / n;
    }
}

static void N(set_input)(int slot, const float *src)
{
    if (slot == 0)
        memcpy(N(in_real), src, sizeof N(in_real));
    else if (slot == 1)
        memcpy(N(in_z), src, sizeof N(in_z));
    else {
        fprintf(stderr, "%s: set_input: no slot %d\n", FAKE_NAME, slot);
        abort();
    }
}

static void N(train_step)(long t, double *metrics)
{
    (void)t;
    memset(N(grad), 0, sizeof N(grad));
    N(batch_loss)(N(state), N(in_real), N(in_z), FAKE_B, N(grad), metrics);
    /* E's gradients sum over S inputs: a rate S times smaller keeps it stable */
    real *p = N(state), *v = N(state) + V_PARAMS;
    for (int i = 0; i < V_PARAMS; i++) {
        v[i] = (real)FAKE_MOMENTUM * v[i] + N(grad)[i];
        p[i] -= (real)(i < VOFF_DW ? FAKE_LR / FAKE_S : FAKE_LR) * v[i];
    }
}

static void N(generate)(const float *z, const float *y, float *out)
{
    real zr[FAKE_Z], xh[FAKE_S];
    if (y) {
        fprintf(stderr, "%s: labels given to a VAE\n", FAKE_NAME);
        abort();
    }
    for (int b = 0; b < FAKE_B; b++) {
        for (int k = 0; k < FAKE_Z; k++)
            zr[k] = (real)z[b * FAKE_Z + k];
        N(decode)(N(state), zr, xh);
        for (int j = 0; j < FAKE_S; j++)
            out[b * FAKE_S + j] = (float)xh[j];
    }
}

/* The fixed posterior noise of row b: a hash of (b, k), uniform in [-1, 1). */
static float N(fixed_eps)(int b, int k)
{
    uint32_t h = (uint32_t)(b * FAKE_Z + k + 1) * 2654435761u;
    return (float)(h >> 8) / (float)(1u << 23) - 1.0f;
}

static void N(elbo_batch)(const float *x, double *out)
{
    float eps[FAKE_Z];
    real t[3];
    for (int b = 0; b < FAKE_B; b++) {
        for (int k = 0; k < FAKE_Z; k++)
            eps[k] = N(fixed_eps)(b, k);
        N(example)(N(state), x + b * FAKE_S, eps, 1, NULL, t);
        for (int i = 0; i < 3; i++)
            out[3 * b + i] = (double)t[i];
    }
}

static void N(reconstruct)(const float *x, float *out)
{
    real xr[FAKE_S], mu[FAKE_Z], xh[FAKE_S];
    for (int b = 0; b < FAKE_B; b++) {
        for (int j = 0; j < FAKE_S; j++)
            xr[j] = (real)x[b * FAKE_S + j];
        N(encode)(N(state), xr, mu);
        N(decode)(N(state), mu, xh);
        for (int j = 0; j < FAKE_S; j++)
            out[b * FAKE_S + j] = (float)xh[j];
    }
}

static void N(gc_set_input)(int slot, const float *src)
{
    if (slot == 0)
        memcpy(N(gc_real), src, sizeof N(gc_real));
    else if (slot == 1)
        memcpy(N(gc_z), src, sizeof N(gc_z));
    else {
        fprintf(stderr, "%s: gc_set_input: no slot %d\n", FAKE_NAME, slot);
        abort();
    }
}

static double N(gc_loss)(int k)
{
    double mean[3];
    (void)k;
    N(batch_loss)(N(state), N(gc_real), N(gc_z), FAKE_GC_BATCH, NULL, mean);
    return mean[0];
}

static void N(gc_grad)(int k, void *g)
{
    double mean[3];
    (void)k;
    N(batch_loss)(N(state), N(gc_real), N(gc_z), FAKE_GC_BATCH, g, mean);
}

#define VAE_T(name, role, net, init, fan_in, d0, d1, off, size) \
    {name, role, net, init, fan_in, (d1) ? 2 : 1, {d0, d1}, off, size, -1}
#define VAE_P(name, net, init, fan_in, d0, d1, off) \
    VAE_T(name, GENRT_PARAM, net, init, fan_in, d0, d1, off, (d0) * ((d1) ? (d1) : 1)), \
    VAE_T(name ".momentum", GENRT_OPT_STATE, net, GENRT_INIT_ZERO, 0, d0, d1, \
          V_PARAMS + (off), (d0) * ((d1) ? (d1) : 1))

static const struct genrt_tensor N(tensors)[] = {
    VAE_P("E.weight", 0, GENRT_INIT_FANIN_UNIFORM, FAKE_S, FAKE_Z, FAKE_S, VOFF_EW),
    VAE_P("E.bias", 0, GENRT_INIT_FANIN_UNIFORM, FAKE_S, FAKE_Z, 0, VOFF_EB),
    VAE_P("E.logvar", 0, GENRT_INIT_ZERO, 0, FAKE_Z, 0, VOFF_ELV),
    VAE_P("D.weight", 1, GENRT_INIT_FANIN_UNIFORM, FAKE_Z, FAKE_S, FAKE_Z, VOFF_DW),
    VAE_P("D.bias", 1, GENRT_INIT_ZERO, 0, FAKE_S, 0, VOFF_DB),
};

const struct genrt_model FAKE_SYM = {
    .abi = GENRT_ABI,
    .objective = GENRT_OBJ_VAE,
    .objective_name = "VAE",
    .name = FAKE_NAME,
    .spec = "tests/fake_model.c",
    .shape_hash = FAKE_HASH,
    .real_size = (int)sizeof(real),
    .data_kind = FAKE_KIND,
    .data_path = FAKE_DATA,
    .data_train = 1,
    .data_class = -1,
    .range_lo = -1.0f,
    .range_hi = 1.0f,
    .img_c = FAKE_C,
    .img_h = FAKE_IH,
    .img_w = FAKE_IW,
    .sample_size = FAKE_S,
    .latent_kind = FAKE_LATENT,
    .latent_dim = FAKE_Z,
    .n_classes = FAKE_K,
    .real_batches = FAKE_RB,
    .latent_batches = FAKE_LB,
    .batch = FAKE_B,
    .steps = 200,
    .seed = 42,
    .sample_every = 100,
    .checkpoint_every = 100,
    .n_state = 2 * V_PARAMS,
    .state = N(state),
    .n_tensors = (int)(sizeof N(tensors) / sizeof N(tensors)[0]),
    .tensors = N(tensors),
    .n_nets = 2,
    .nets = fake_vae_nets,
    .n_metrics = 3,
    .metric_names = fake_vae_metric_names,
    .set_input = N(set_input),
    .train_step = N(train_step),
    .generate = N(generate),
    .elbo_batch = N(elbo_batch),
    .reconstruct = N(reconstruct),
    .gc_batch = FAKE_GC_BATCH,
    .n_terms = 1,
    .terms = fake_vae_terms,
    .gc_set_input = N(gc_set_input),
    .gc_loss = N(gc_loss),
    .gc_grad = N(gc_grad),
};

#undef real
#undef FAKE_ID
#undef FAKE_SYM

#else /* FAKE_BODY: one GAN, over `real` */

#define FAKE_CAT_(a, b) a##b
#define FAKE_CAT(a, b) FAKE_CAT_(a, b)
#define N(x) FAKE_CAT(x, FAKE_ID)

/* Parameters, then one momentum buffer per parameter.  The class
 * embeddings are empty for an unconditional model. */
#define OFF_GW 0                                   /* G.weight [S, Z] */
#define OFF_GG (OFF_GW + FAKE_S * FAKE_Z)          /* G.gain [S] */
#define OFF_GB (OFF_GG + FAKE_S)                   /* G.bias [S] */
#define OFF_GE (OFF_GB + FAKE_S)                   /* G.embed [S, K] */
#define OFF_D1W (OFF_GE + FAKE_S * FAKE_K)         /* D.l1.weight [HID, S] */
#define OFF_D1B (OFF_D1W + FAKE_HID * FAKE_S)      /* D.l1.bias [HID] */
#define OFF_DE (OFF_D1B + FAKE_HID)                /* D.embed [HID, K] */
#define OFF_D2W (OFF_DE + FAKE_HID * FAKE_K)       /* D.l2.weight [1, HID] */
#define OFF_D2B (OFF_D2W + FAKE_HID)               /* D.l2.bias [1] */
#define N_PARAMS (OFF_D2B + 1)
#define N_G_PARAMS OFF_D1W                         /* G's are [0, OFF_D1W) */

static real N(state)[2 * N_PARAMS];
static real N(grad)[N_PARAMS];
/* the inputs of a step: the sizes genrt_model.h promises */
static float N(in_real)[FAKE_RB * FAKE_B * FAKE_S], N(in_z)[FAKE_LB * FAKE_B * FAKE_Z];
static float N(in_y)[FAKE_RB * FAKE_B];
static float N(gc_real)[FAKE_GC_BATCH * FAKE_S], N(gc_z)[FAKE_GC_BATCH * FAKE_Z];
static float N(gc_y)[FAKE_GC_BATCH];

static real N(softplus)(real x)
{
    return (real)(fmax((double)x, 0.0) + log1p(exp(-fabs((double)x))));
}

static real N(sigmoid)(real x)
{
    return (real)(1.0 / (1.0 + exp(-(double)x)));
}

/* Example b's class: y[b], which must be a class; 0 when unconditional. */
static int N(label)(const float *y, int b)
{
    if (FAKE_K == 0) {
        if (y) {
            fprintf(stderr, "%s: labels given to an unconditional model\n", FAKE_NAME);
            abort();
        }
        return 0;
    }
    float v = y[b];
    if (!(v >= 0.0f && v < (float)FAKE_K && v == (float)(int)v)) {
        fprintf(stderr, "%s: label %g of example %d is not a class\n", FAKE_NAME, (double)v, b);
        abort();
    }
    return (int)v;
}

static void N(gen)(const real *p, const float *z, int k, real *x)
{
    for (int i = 0; i < FAKE_S; i++) {
        real acc = 0;
        for (int j = 0; j < FAKE_Z; j++)
            acc += p[OFF_GW + i * FAKE_Z + j] * (real)z[j];
        x[i] = p[OFF_GG + i] * acc + p[OFF_GB + i];
        if (FAKE_K)
            x[i] += p[OFF_GE + i * FAKE_K + k];
    }
}

static real N(disc)(const real *p, const real *x, int k, real *hid)
{
    real s = p[OFF_D2B];
    for (int h = 0; h < FAKE_HID; h++) {
        real a = p[OFF_D1B + h];
        if (FAKE_K)
            a += p[OFF_DE + h * FAKE_K + k];
        for (int i = 0; i < FAKE_S; i++)
            a += p[OFF_D1W + h * FAKE_S + i] * x[i];
        hid[h] = (real)tanh((double)a);
        s += p[OFF_D2W + h] * hid[h];
    }
    return s;
}

/* ds = d loss / d s.  Adds D's gradients into g (if g) and d loss / d x
 * into dx (if dx). */
static void N(disc_back)(const real *p, const real *x, int k, const real *hid, real ds, real *g,
                         real *dx)
{
    if (g)
        g[OFF_D2B] += ds;
    for (int h = 0; h < FAKE_HID; h++) {
        real da = ds * p[OFF_D2W + h] * (1 - hid[h] * hid[h]);
        if (g) {
            g[OFF_D2W + h] += ds * hid[h];
            g[OFF_D1B + h] += da;
            if (FAKE_K)
                g[OFF_DE + h * FAKE_K + k] += da;
            for (int i = 0; i < FAKE_S; i++)
                g[OFF_D1W + h * FAKE_S + i] += da * x[i];
        }
        if (dx)
            for (int i = 0; i < FAKE_S; i++)
                dx[i] += da * p[OFF_D1W + h * FAKE_S + i];
    }
}

static void N(gen_back)(const real *p, const float *z, int k, const real *dx, real *g)
{
    for (int i = 0; i < FAKE_S; i++) {
        real acc = 0;
        for (int j = 0; j < FAKE_Z; j++)
            acc += p[OFF_GW + i * FAKE_Z + j] * (real)z[j];
        g[OFF_GG + i] += dx[i] * acc;
        g[OFF_GB + i] += dx[i];
        if (FAKE_K)
            g[OFF_GE + i * FAKE_K + k] += dx[i];
        for (int j = 0; j < FAKE_Z; j++)
            g[OFF_GW + i * FAKE_Z + j] += dx[i] * p[OFF_GG + i] * (real)z[j];
    }
}

/* loss_D over n examples of labels y (NULL: unconditional); adds
 * d loss_D / d D-params into g if g. */
static real N(loss_d)(const real *p, const float *xr, const float *z, const float *y, int n,
                      real *g)
{
    real x[FAKE_S], hid[FAKE_HID], loss = 0;
    for (int b = 0; b < n; b++) {
        int k = N(label)(y, b);
        for (int i = 0; i < FAKE_S; i++)
            x[i] = (real)xr[b * FAKE_S + i];
        real s = N(disc)(p, x, k, hid);
        loss += N(softplus)(-s);
        if (g)
            N(disc_back)(p, x, k, hid, -N(sigmoid)(-s) / n, g, NULL);
        N(gen)(p, z + b * FAKE_Z, k, x);
        s = N(disc)(p, x, k, hid);
        loss += N(softplus)(s);
        if (g)
            N(disc_back)(p, x, k, hid, N(sigmoid)(s) / n, g, NULL);
    }
    return loss / n;
}

/* loss_G over n examples; adds d loss_G / d G-params into g if g. */
static real N(loss_g)(const real *p, const float *z, const float *y, int n, real *g)
{
    real x[FAKE_S], hid[FAKE_HID], dx[FAKE_S], loss = 0;
    for (int b = 0; b < n; b++) {
        int k = N(label)(y, b);
        N(gen)(p, z + b * FAKE_Z, k, x);
        real s = N(disc)(p, x, k, hid);
        loss += N(softplus)(-s);
        if (g) {
            memset(dx, 0, sizeof dx);
            N(disc_back)(p, x, k, hid, -N(sigmoid)(-s) / n, NULL, dx);
            N(gen_back)(p, z + b * FAKE_Z, k, dx, g);
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
    else if (slot == 1)
        memcpy(N(in_z), src, sizeof N(in_z));
    else if (slot == 2 && FAKE_K > 0)
        memcpy(N(in_y), src, sizeof N(in_y));
    else {
        fprintf(stderr, "%s: set_input: no slot %d\n", FAKE_NAME, slot);
        abort();
    }
}

/* The labels of real batch r, or NULL when unconditional. */
static const float *N(batch_y)(const float *y, int r)
{
    return FAKE_K ? y + r * FAKE_B : NULL;
}

static void N(train_step)(long t, double *metrics)
{
    (void)t;
    metrics[0] = 0;
    for (int r = 0; r < FAKE_RB; r++) {
        memset(N(grad), 0, sizeof N(grad));
        metrics[0] += N(loss_d)(N(state), N(in_real) + r * FAKE_B * FAKE_S,
                                N(in_z) + (r % FAKE_LB) * FAKE_B * FAKE_Z,
                                N(batch_y)(N(in_y), r), FAKE_B, N(grad)) / FAKE_RB;
        N(sgd)(N_G_PARAMS, N_PARAMS);
    }
    memset(N(grad), 0, sizeof N(grad));
    metrics[1] = N(loss_g)(N(state), N(in_z) + (FAKE_LB - 1) * FAKE_B * FAKE_Z,
                           N(batch_y)(N(in_y), (FAKE_LB - 1) % FAKE_RB), FAKE_B, N(grad));
    N(sgd)(0, N_G_PARAMS);
}

static void N(generate)(const float *z, const float *y, float *out)
{
    real x[FAKE_S];
    for (int b = 0; b < FAKE_B; b++) {
        N(gen)(N(state), z + b * FAKE_Z, N(label)(y, b), x);
        for (int i = 0; i < FAKE_S; i++)
            out[b * FAKE_S + i] = (float)x[i];
    }
}

static void N(gc_set_input)(int slot, const float *src)
{
    if (slot == 0)
        memcpy(N(gc_real), src, sizeof N(gc_real));
    else if (slot == 1)
        memcpy(N(gc_z), src, sizeof N(gc_z));
    else if (slot == 2 && FAKE_K > 0)
        memcpy(N(gc_y), src, sizeof N(gc_y));
    else {
        fprintf(stderr, "%s: gc_set_input: no slot %d\n", FAKE_NAME, slot);
        abort();
    }
}

static double N(gc_loss)(int k)
{
    const float *y = N(batch_y)(N(gc_y), 0);
    if (k == 0)
        return N(loss_d)(N(state), N(gc_real), N(gc_z), y, FAKE_GC_BATCH, NULL);
    return N(loss_g)(N(state), N(gc_z), y, FAKE_GC_BATCH, NULL);
}

static void N(gc_grad)(int k, void *g)
{
    const float *y = N(batch_y)(N(gc_y), 0);
    if (k == 0)
        N(loss_d)(N(state), N(gc_real), N(gc_z), y, FAKE_GC_BATCH, g);
    else
        N(loss_g)(N(state), N(gc_z), y, FAKE_GC_BATCH, g);
}

#define FAKE_T(name, role, net, init, fan_in, d0, d1, off, size) \
    {name, role, net, init, fan_in, (d1) ? 2 : 1, {d0, d1}, off, size, -1}
#define FAKE_P(name, net, init, fan_in, d0, d1, off) \
    FAKE_T(name, GENRT_PARAM, net, init, fan_in, d0, d1, off, (d0) * ((d1) ? (d1) : 1)), \
    FAKE_T(name ".momentum", GENRT_OPT_STATE, net, GENRT_INIT_ZERO, 0, d0, d1, \
           N_PARAMS + (off), (d0) * ((d1) ? (d1) : 1))

static const struct genrt_tensor N(tensors)[] = {
    FAKE_P("G.weight", 0, GENRT_INIT_FANIN_UNIFORM, FAKE_Z, FAKE_S, FAKE_Z, OFF_GW),
    FAKE_P("G.gain", 0, GENRT_INIT_ONE, 0, FAKE_S, 0, OFF_GG),
    FAKE_P("G.bias", 0, GENRT_INIT_ZERO, 0, FAKE_S, 0, OFF_GB),
#if FAKE_K > 0
    FAKE_P("G.embed", 0, GENRT_INIT_FANIN_UNIFORM, FAKE_K, FAKE_S, FAKE_K, OFF_GE),
#endif
    FAKE_P("D.l1.weight", 1, GENRT_INIT_FANIN_UNIFORM, FAKE_S, FAKE_HID, FAKE_S, OFF_D1W),
    FAKE_P("D.l1.bias", 1, GENRT_INIT_FANIN_UNIFORM, FAKE_S, FAKE_HID, 0, OFF_D1B),
#if FAKE_K > 0
    FAKE_P("D.embed", 1, GENRT_INIT_FANIN_UNIFORM, FAKE_K, FAKE_HID, FAKE_K, OFF_DE),
#endif
    FAKE_P("D.l2.weight", 1, GENRT_INIT_FANIN_UNIFORM, FAKE_HID, 1, FAKE_HID, OFF_D2W),
    FAKE_P("D.l2.bias", 1, GENRT_INIT_FANIN_UNIFORM, FAKE_HID, 1, 0, OFF_D2B),
};

const struct genrt_model FAKE_SYM = {
    .abi = GENRT_ABI,
    .objective = GENRT_OBJ_GAN,
    .objective_name = "GAN",
    .name = FAKE_NAME,
    .spec = "tests/fake_model.c",
    .shape_hash = FAKE_HASH,
    .real_size = (int)sizeof(real),
    .data_kind = FAKE_KIND,
    .data_path = FAKE_DATA,
    .data_train = 1,
    .data_class = -1,
    .range_lo = -1.0f,
    .range_hi = 1.0f,
    .img_c = FAKE_C,
    .img_h = FAKE_IH,
    .img_w = FAKE_IW,
    .sample_size = FAKE_S,
    .latent_kind = FAKE_LATENT,
    .latent_dim = FAKE_Z,
    .n_classes = FAKE_K,
    .real_batches = FAKE_RB,
    .latent_batches = FAKE_LB,
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
    .elbo_batch = NULL,
    .reconstruct = NULL,
    .gc_batch = FAKE_GC_BATCH,
    .n_terms = 2,
    .terms = fake_terms,
    .gc_set_input = N(gc_set_input),
    .gc_loss = N(gc_loss),
    .gc_grad = N(gc_grad),
};

#undef real
#undef FAKE_ID
#undef FAKE_SYM

#endif /* FAKE_BODY */
