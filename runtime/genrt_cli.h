/* genrt_cli.h: what the files of the trainer CLI share (internal to libgenrt).
 *
 * genrt_main.c holds the flag and command tables, the usage text, the
 * model checks and the dispatch; each subcommand family has a file:
 *     genrt_train.c      train
 *     genrt_sample.c     sample (and the sample grids train previews with)
 *     genrt_gradcheck.c  gradcheck, bench
 *     genrt_vae.c        eval, reconstruct
 *     genrt_translate.c  translate (and the translation previews of train)
 *     genrt_report.c     report (the page itself: genrt_report.h)
 *     genrt_classify.c   a classifier's eval and features
 *     genrt_scoring.c    score: a classifier's features of samples, and the metrics
 * genrt_run.c sets up what they all need: the parameters, the run state a
 * checkpoint carries beside them, checkpoints and the data sources. */
#ifndef GENRT_CLI_H
#define GENRT_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "genrt_ckpt.h"
#include "genrt_data.h"
#include "genrt_err.h"
#include "genrt_image.h"
#include "genrt_model.h"
#include "genrt_rng.h"

#define GENRT_DEFAULT_THREADS 2
#define GENRT_DEFAULT_BENCH_STEPS 50
#define GENRT_CLASS_COLS 8 /* conditional image grids: a row of 8 per class */

/* ---------------------------------------------------------------- flags */

enum genrt_flag { /* in the order the usage text lists them */
    F_STEPS,
    F_CHECKPOINT,
    F_FROM,
    F_N,
    F_OUTPUT,
    F_LABEL,
    F_SEED,
    F_DATA,
    F_DATA_B,
    F_OUT,
    F_RESUME,
    F_FORCE,
    F_ON_NONFINITE,
    F_THREADS,
    F_QUIET,
    F_NO_EMA,
    F_PER_RANK_BATCH,
    F_INPUT,
    F_CLASSIFIER,
    F_SPEC,
    F_REFERENCE,
    F_FLOAT,
    F_COUNT
};

/* What train does about a NaN or an infinity in a metric or the state
 * (--on-nonfinite). */
enum genrt_nonfinite {
    GENRT_NONFINITE_STOP,   /* say where, keep the last good checkpoint, exit 1 */
    GENRT_NONFINITE_SKIP,   /* undo that step's update and go on */
    GENRT_NONFINITE_IGNORE, /* train on; a non-finite state is still never saved */
};

/* The parsed flags of one command: has[k] says whether flag k was given. */
struct genrt_opts {
    int has[F_COUNT];
    long steps, threads, n, label;
    uint64_t seed;
    const char *data, *data_b, *from, *out, *resume, *checkpoint, *output;
    const char *operand; /* a command's positional argument (report: RUN_DIR) */
    const char *input, *classifier, *spec;
    int quiet, force, help, no_ema, reference, per_rank_batch, use_float;
    int on_nonfinite; /* enum genrt_nonfinite */
};

struct genrt_cli {
    const char *prog; /* argv[0]'s last component: every message starts with it */
    const struct genrt_model *m, *m64;
};

/* Prints "prog: error: ..." and returns 1, the exit status. */
int genrt_cli_fail(const struct genrt_cli *c, const char *fmt, ...) GENRT_PRINTF(2, 3);
int genrt_cli_fail_err(const struct genrt_cli *c, const struct genrt_err *err);

/* The subcommands: each returns the exit status. */
int genrt_cmd_train(const struct genrt_cli *c, const struct genrt_opts *o);
int genrt_cmd_sample(const struct genrt_cli *c, const struct genrt_opts *o);
int genrt_cmd_gradcheck(const struct genrt_cli *c, const struct genrt_opts *o);
int genrt_cmd_bench(const struct genrt_cli *c, const struct genrt_opts *o);
int genrt_cmd_eval(const struct genrt_cli *c, const struct genrt_opts *o);
int genrt_cmd_reconstruct(const struct genrt_cli *c, const struct genrt_opts *o);
int genrt_cmd_translate(const struct genrt_cli *c, const struct genrt_opts *o);
int genrt_cmd_report(const struct genrt_cli *c, const struct genrt_opts *o);
int genrt_cmd_features(const struct genrt_cli *c, const struct genrt_opts *o);
int genrt_cmd_score(const struct genrt_cli *c, const struct genrt_opts *o);

/* ---------------------------------------------------------- genrt_run.c */

/* The state array holds float or double per real_size. */
static inline double genrt_run_real_get(const struct genrt_model *m, const void *s, long i)
{
    return m->real_size == 8 ? ((const double *)s)[i] : (double)((const float *)s)[i];
}

static inline void genrt_run_real_set(const struct genrt_model *m, void *s, long i, double v)
{
    if (m->real_size == 8)
        ((double *)s)[i] = v;
    else
        ((float *)s)[i] = (float)v;
}

static inline size_t genrt_run_state_bytes(const struct genrt_model *m)
{
    return (size_t)m->n_state * (size_t)m->real_size;
}

static inline int genrt_run_is_image(const struct genrt_model *m)
{
    return m->img_c > 0;
}

/* Parameters from their initializers (seeded), everything else zero. */
void genrt_run_init_state(const struct genrt_model *m, uint64_t seed);

/* n latent values from the model's latent distribution. */
void genrt_run_fill_latent(const struct genrt_model *m, struct genrt_rng *r, float *z, long n);

/* Flush-to-zero and the BLAS threads (--threads, or the default), before
 * a command runs the model. */
void genrt_run_compute_setup(const struct genrt_opts *o);
/* n threads for the BLAS and, in a trainer built with -fopenmp, for the
 * emitted loops. */
void genrt_run_set_threads(int n);

/* metrics.csv's header: "step,<the metrics>,seconds", malloc'd. */
char *genrt_run_metrics_header(const struct genrt_model *m);

/* A two-domain model's domain names: index GENRT_DOMAIN_A or GENRT_DOMAIN_B. */
const char *genrt_run_domain_name(const struct genrt_model *m, int domain);

/* "train" or "test". */
const char *genrt_run_split_name(int split);

/* For reconstruct and translate, whose examples are the first n of the
 * test split: when a source has none (a folder of images), one line on
 * stderr saying that the first n training examples of dir, in file order,
 * stand in for them; nothing otherwise. */
void genrt_run_note_examples(const struct genrt_cli *c, const char *cmd, int split,
                             const char *dir, long n);

/* Opens a domain's data (domain A: the model's own, as
 * genrt_data_open_split; domain B through m->domain_b), path overriding
 * the spec's directory.  B's loader draws its shuffles from its own
 * stream, so the two domains are not shuffled alike. */
int genrt_run_open_domain(const struct genrt_model *m, int dom, const char *path, int split,
                          uint64_t seed, struct genrt_data *d, struct genrt_err *err);

/* What a checkpoint needs beyond the state array: the run's seed, the
 * latent stream and the data loader(s). */
struct genrt_run_state {
    uint64_t seed;
    struct genrt_rng latent;
    struct genrt_data_state data;   /* domain A's, for a two-domain model */
    struct genrt_data_state data_b; /* a two-domain model: domain B's */
};

/* Saves m->state and rs at `step` to path, atomically. */
int genrt_run_save_checkpoint(const struct genrt_model *m, const char *path, long step,
                              const struct genrt_run_state *rs, struct genrt_err *err);
/* Reads a checkpoint that must fit m, without touching m->state. */
int genrt_run_read_checkpoint(const struct genrt_model *m, const char *path,
                              struct genrt_ckpt *ck, struct genrt_err *err);
/* Decodes the run state of a checkpoint read for m. */
int genrt_run_decode(const struct genrt_model *m, const struct genrt_ckpt *ck, const char *path,
                     struct genrt_run_state *rs, struct genrt_err *err);
/* Loads a checkpoint that must fit m into m->state. */
int genrt_run_load_state(const struct genrt_model *m, const char *path, struct genrt_err *err);

/* Whether the model keeps moving averages of weights (`ema`). */
int genrt_run_has_ema(const struct genrt_model *m);
/* Swaps every moving average with the parameter it averages, so that what
 * samples runs on the averaged weights; a second call swaps them back,
 * exactly (it only moves bytes). */
void genrt_run_swap_ema(const struct genrt_model *m);
/* genrt_run_load_state, then the moving averages in the parameters' place
 * unless --no-ema: for the commands that sample. */
int genrt_run_load_sampling_state(const struct genrt_model *m, const struct genrt_opts *o,
                                  struct genrt_err *err);

/* ----------------------------------------------------- genrt_classify.c */

/* DIR/trainer: a symlink to this trainer's executable, replaced atomically,
 * so that `X score --classifier DIR/checkpoint.ckpt` finds the program
 * that reads the checkpoint. */
int genrt_classify_record_trainer(const char *dir, struct genrt_err *err);
/* eval's line for one split: the accuracy and the mean cross-entropy. */
int genrt_classify_eval_split(const struct genrt_cli *c, const struct genrt_opts *o, int split);

/* ------------------------------------------------------ genrt_scoring.c */

#define GENRT_SCORES_MAX 12
#define GENRT_SCORE_DEFAULT_N 10000

/* score's metrics, in the order it prints them */
struct genrt_scores {
    int n;
    const char *names[GENRT_SCORES_MAX];
    double values[GENRT_SCORES_MAX];
};

/* The names score gives for model m, into names[GENRT_SCORES_MAX]; how many. */
int genrt_scoring_names(const struct genrt_model *m, const char **names);
/* What score checks before it samples (the model's data, --classifier and
 * its trainer); 0, or 1 after the message. */
int genrt_scoring_check(const struct genrt_cli *c, const struct genrt_opts *o);
/* score's metrics of n samples drawn from seed with the state as it is in
 * m->state (the caller swaps the moving averages in), or of the reference
 * with o->reference; 0, or 1 after the message. */
int genrt_scoring_measure(const struct genrt_cli *c, const struct genrt_opts *o, long n,
                          uint64_t seed, struct genrt_scores *s);

/* ------------------------------------------------------- genrt_sample.c */

/* generate() on n latents z (and labels y, NULL for an unconditional
 * model), in calls of exactly m->batch. */
void genrt_sample_generate_n(const struct genrt_model *m, const float *z, const float *y, long n,
                             float *out);
/* The labels of n samples of a conditional model (NULL for an
 * unconditional one): all `label` if label >= 0; else, in a grid of `cols`
 * columns, row r is class r; else sample i is class i % n_classes. */
float *genrt_sample_labels(const struct genrt_model *m, long n, long label, long cols);
/* A picture of n samples: a grid for images (of cols columns; 0: square),
 * a scatter plot for 2-D data. */
int genrt_sample_write_picture(const struct genrt_model *m, const char *path, const float *x,
                               long n, long cols, struct genrt_err *err);

/* ---------------------------------------------------- genrt_translate.c */

/* translate() on n examples x of domain dom, in calls of exactly m->batch:
 * out gets their translations, back the translations back. */
void genrt_translate_n(const struct genrt_model *m, int dom, const float *x, long n, float *out,
                       float *back);

/* A two-domain model's training previews: the first n examples of each
 * domain's data, in file order (the same in every preview), and row i of
 * the grid is a_i | G(a_i) | F(G(a_i)) | b_i | F(b_i) | G(F(b_i)). */
struct genrt_cycle_preview {
    struct genrt_model md[2];
    long n;
    float *x[2], *out[2], *back[2];
};

void genrt_cycle_preview_init(struct genrt_cycle_preview *p, const struct genrt_model *m,
                              const struct genrt_data *a, const struct genrt_data *b);
int genrt_cycle_preview_write(struct genrt_cycle_preview *p, const struct genrt_model *m,
                              const char *path, struct genrt_err *err);
void genrt_cycle_preview_free(struct genrt_cycle_preview *p);

#endif
