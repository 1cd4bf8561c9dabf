/* genrt_model.h: the contract between the C that genc emits and the runtime.
 *
 * An emitted trainer defines one `const struct genrt_model` that describes
 * the model (shapes, data source, persistent state, training settings) and
 * points at its shape-specialized step functions.  The runtime owns
 * everything else: flags, data, RNG, checkpoints, images, progress.
 *
 * The emitted file can be compiled twice: as float (the trainer) and with
 * -DGENC_REAL=double -DGENC_MODEL_SYM=genc_model_f64 -DGENC_NO_MAIN, linked
 * into the same binary, so `./X gradcheck` runs in double precision. */
#ifndef GENRT_MODEL_H
#define GENRT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define GENRT_ABI 10

enum genrt_data_kind {
    GENRT_DATA_FASHION_MNIST, /* IDX files in a directory, gzip'd or not */
    GENRT_DATA_RING8,         /* 8 Gaussians on a circle, radius 2, std 0.05 */
    GENRT_DATA_IMAGES,        /* PNG/JPEG files in a directory; class subfolders optional */
};

/* The input slots set_input and gc_set_input fill, and the IR's input
 * nodes read: one number each, shared by the compiler and the runtime. */
enum genrt_slot {
    GENRT_SLOT_X,  /* the real batches (CycleGAN: domain A) */
    GENRT_SLOT_Z,  /* the latent batches */
    GENRT_SLOT_Y,  /* conditional models: the real examples' labels */
    GENRT_SLOT_XB, /* CycleGAN: the real batches of domain B */
    GENRT_N_SLOTS
};

enum genrt_latent_kind {
    GENRT_LATENT_NORMAL,  /* N(0, 1) per dimension */
    GENRT_LATENT_UNIFORM, /* U(-1, 1) per dimension */
};

/* What a persistent tensor is, and how it starts. */
enum genrt_role {
    GENRT_PARAM,     /* a trained parameter */
    GENRT_OPT_STATE, /* optimizer state (momentum, Adam moments): starts at 0 */
    GENRT_RUNNING,   /* running statistics (batchnorm): starts at its init, not trained */
    GENRT_EMA,       /* a parameter's moving average (`ema`): starts equal to it, see source */
};

enum genrt_init {
    GENRT_INIT_ZERO,
    GENRT_INIT_ONE,
    GENRT_INIT_FANIN_UNIFORM, /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as PyTorch's Linear */
    GENRT_INIT_UNIT_NORMAL,   /* N(0, 1) per value, then scaled to length 1 (spectral_norm's u, v) */
};

/* A persistent tensor, living in model->state at [offset, offset + size). */
struct genrt_tensor {
    const char *name; /* "G.l1.weight", "G.l1.weight.adam_m" */
    int role;         /* enum genrt_role */
    int net;          /* index into model->nets */
    int init;         /* enum genrt_init */
    int fan_in;
    int n_dims;
    int dims[4];
    long offset;
    long size;
    int source;       /* GENRT_EMA: the index of the parameter it averages; -1 otherwise */
};

/* One objective term, for gradient checks: a scalar loss and the networks
 * whose parameters it trains (bit i of net_mask = nets[i]). */
struct genrt_term {
    const char *name; /* "loss_D", "loss_G" */
    unsigned net_mask;
};

enum genrt_objective_kind {
    GENRT_OBJ_GAN, /* generator and discriminator */
    GENRT_OBJ_VAE, /* encoder and decoder, trained on the negative ELBO */
    GENRT_OBJ_CYCLEGAN, /* generators G: A -> B and F: B -> A, discriminators D_A and D_B */
    GENRT_OBJ_CLASSIFIER, /* one network from an example to a logit per class */
};

/* A second data source (CycleGAN's domain B), described as the model's own
 * fields describe the first (domain A). */
struct genrt_domain {
    const char *name;         /* the spec's domain name: "B" */
    int data_kind;            /* enum genrt_data_kind; never ring8 */
    const char *data_path;    /* --data-b overrides it */
    int data_train;
    int data_class;           /* only examples of this class; -1 for all */
    long data_limit;          /* only the first N examples (after the class filter); 0 for all */
    float range_lo, range_hi;
    int img_c, img_h, img_w;
    long sample_size;
};

struct genrt_model {
    int abi;            /* GENRT_ABI */
    int objective;      /* enum genrt_objective_kind: for tools; the runtime does not read it */
    const char *objective_name; /* "GAN", "VAE", "CycleGAN": what the help and messages call it */
    const char *name;   /* the spec's model name */
    const char *spec;   /* the spec's path, as given to genc */
    /* For the run report (X report): the spec's text, genc --summary's
     * table and genc --dot's graph of it; NULL when not known. */
    const char *spec_text;
    const char *spec_summary;
    const char *spec_dot;
    uint64_t shape_hash;/* hash of every shape in the model; checkpoints must match */
    int real_size;      /* sizeof(real) in this build: 4 or 8 */

    /* data: one example has sample_size scalars.  Images are [C, H, W] in
     * the spec but channels-last in memory: H*W*C floats, pixel-major with
     * the channels fastest (HWC), in the real batch and in generate()'s
     * output alike.  For C = 1 that is the same as CHW. */
    int data_kind;      /* enum genrt_data_kind */
    const char *data_path; /* fashion_mnist, images: the directory (--data overrides it) */
    int data_train;     /* fashion_mnist: 1 the train split, 0 the test split */
    int data_class;     /* only examples of this class (their labels); -1 for all */
    long data_limit;    /* the spec's `limit N`: only the first N examples of the model's split
                         * (in file order, after the class filter); 0 for all */
    float range_lo, range_hi; /* pixel 0 maps to lo, 255 to hi */
    int img_c, img_h, img_w;  /* C is 1 or 3; all 0 when the data are not images (ring8) */
    long sample_size;

    int latent_kind;    /* enum genrt_latent_kind */
    int latent_dim;

    /* Two-domain models (CycleGAN): the two domains' names ("A", "B") and
     * domain B's source, which gives the trainer --data-b and fills slot
     * GENRT_SLOT_XB; the model's own data fields describe domain A.  NULL
     * otherwise. */
    const char *domain_a;
    const struct genrt_domain *domain_b;

    /* Conditional models and classifiers: 0 for none, else labels 0 ..
     * n_classes-1 feed slot GENRT_SLOT_Y (as floats, one per example) in
     * training, and generate() takes them. */
    int n_classes;

    /* Batches one training step consumes: real_batches real batches (WGAN's
     * critic steps each take one) and latent_batches latent batches (0 for
     * CycleGAN, which has no latent: latent_dim is 0 too; 0 for a VAE, whose
     * training noise is drawn inside train_step). */
    int real_batches;
    int latent_batches;

    /* the train block */
    int batch;
    long steps;
    uint64_t seed;
    long sample_every;
    long checkpoint_every;
    /* `score_every K`: train scores every K steps (0: never) into extra
     * metrics.csv columns, with the classifier whose checkpoint is
     * score_classifier (NULL: none, as ring8 needs) */
    long score_every;
    const char *score_classifier;

    /* persistent state: parameters and optimizer state, real[n_state] */
    long n_state;
    void *state;
    int n_tensors;
    const struct genrt_tensor *tensors;
    int n_nets;
    const char *const *nets; /* "G", "D" */

    /* one metrics.csv column per metric (after "step", before "seconds") */
    int n_metrics;
    const char *const *metric_names;

    /* Training: load inputs, then run one step (t counts from 1).
     * GENRT_SLOT_X: the real batches, real_batches * batch * sample_size floats;
     * GENRT_SLOT_Z: the latent batches, latent_batches * batch * latent_dim floats;
     * GENRT_SLOT_Y (conditional models): the real examples' labels,
     *         real_batches * batch floats; the fakes use the same labels;
     * GENRT_SLOT_XB (two domains): the real batches of domain B, real_batches
     *         * batch * domain_b->sample_size floats (GENRT_SLOT_X holds A's).
     * train_step writes the n_metrics metrics (losses among them) to
     * metrics[]; the trainer checks each for NaN and Inf every step. */
    void (*set_input)(int slot, const float *src);
    void (*train_step)(long t, double *metrics);

    /* The entry points below say what the trainer can do: `X sample` exists
     * when generate does, `X eval` and `X reconstruct` when elbo_batch and
     * reconstruct do (both or neither), `X translate` when translate does;
     * train previews with generate, else with translate.  A model has
     * generate or translate, or both.
     *
     * Sampling (GANs, VAEs): G on exactly `batch` latent vectors, eval mode.
     * z: batch * latent_dim floats in; y: batch labels (as floats) for a
     * conditional model, NULL otherwise; out: batch * sample_size floats. */
    void (*generate)(const float *z, const float *y, float *out);

    /* VAEs (NULL otherwise).
     * elbo_batch: on exactly `batch` real examples x (sample_size floats
     * each), writes each example's negative ELBO, reconstruction term and
     * KL term (nats) to out[3*i + 0..2]; one posterior sample per example,
     * from a fixed seed.
     * reconstruct: x -> decoder(mean of the posterior), `batch` examples.
     * A conditional VAE (n_classes > 0) reads the examples' labels from
     * slot GENRT_SLOT_Y: the caller passes them, `batch` floats, with
     * set_input(GENRT_SLOT_Y, y) before each call. */
    void (*elbo_batch)(const float *x, double *out);
    void (*reconstruct)(const float *x, float *out);

    /* CycleGANs (NULL otherwise; needs domain_a and domain_b, and takes no
     * labels): translation on exactly `batch`
     * examples, eval mode.  dir 0: x from A; out = G(x) (B's sample_size
     * each), back = F(G(x)) (A's).  dir 1: x from B; out = F(x), back =
     * G(F(x)).  Values are in the data's range (channels-last). */
    void (*translate)(int dir, const float *x, float *out, float *back);

    /* Classifiers (NULL otherwise; needs n_classes > 0): on exactly `batch`
     * examples x, eval mode, the n_features features of each (the input of
     * the classifier's last dense layer, its penultimate layer) into
     * features and its n_classes logits into logits, row by row.  `X eval`
     * and `X features` exist when it does; `X score` of other trainers runs
     * it through `X features`. */
    int n_features;
    void (*classify)(const float *x, float *features, float *logits);

    /* Gradient checks, on a small batch of gc_batch examples.
     * gc_set_input takes the same slots as set_input, with gc_batch rows
     * (one batch, whatever real_batches and latent_batches are).
     * gc_loss(k) is term k's loss; gc_grad(k, g) writes d loss_k / d state
     * into g (real[n_state]) for the parameters of term k's networks and
     * leaves the rest of g untouched. */
    int gc_batch;
    int n_terms;
    const struct genrt_term *terms;
    void (*gc_set_input)(int slot, const float *src);
    double (*gc_loss)(int k);
    void (*gc_grad)(int k, void *g);

    /* Data-parallel training (genc --mpi; 0 and NULL without): the train
     * steps of ranks that share a global batch, and set_input_rows, which
     * fills their inputs with rows [row0, row0 + rows) of every sub-batch
     * of `global` rows in src (src laid out as set_input's, at that batch). */
    int n_mpi_steps;
    const struct genrt_mpi_step *mpi_steps;
    void (*set_input_rows)(int slot, const float *src, long global, long row0, long rows);
};

/* A train step of data-parallel training.  `ranks` ranks share the global
 * batch, each computing `batch` rows of it; ranks -1: any number of ranks,
 * each computing a whole batch (--per-rank-batch).  row0 is the rank's
 * first row of the global batch: its random draws are those rows'. */
struct genrt_mpi_step {
    int ranks;
    int batch;
    void (*train_step)(long t, double *metrics, long row0);
};

/* The mean over every rank of x[n] (float, or double when real_size is 8),
 * in place: what a --mpi step calls for its gradients and sync_batchnorm's
 * statistics.  In one process (a trainer built without MPI=1), nothing. */
void genrt_mpi_mean(void *x, long n, size_t real_size);
/* The same, started (slot k, from 0) as soon as x is computed and finished
 * by genrt_mpi_wait(k) before x is read: a --mpi step's gradients, so the
 * all-reduce overlaps the rest of the backward. */
void genrt_mpi_start(int k, void *x, long n, size_t real_size);
void genrt_mpi_wait(int k);

/* The runtime's entry point: parse argv, run a subcommand, return the exit
 * status.  m64 is the double-precision build of the same model, or NULL. */
int genrt_main(const struct genrt_model *m, const struct genrt_model *m64,
               int argc, char **argv);

#endif
