/* genrt_main.c: the command line of every trainer genc emits.
 *
 *     X train | sample | gradcheck | bench | help | --help | --version
 *     X eval | reconstruct                        (VAEs only)
 *     X translate                                 (CycleGANs only, which have no sample)
 *
 * Flags and subcommands are declared once, in the two tables below; the
 * parser and the usage text are driven by them.  Every failure is one line
 * "X: error: ..." on stderr and exit status 1, and all input (flags, data,
 * checkpoints, old metrics) is checked before the first file is written. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_model.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "genrt_ckpt.h"
#include "genrt_data.h"
#include "genrt_err.h"
#include "genrt_file.h"
#include "genrt_image.h"
#include "genrt_npy.h"
#include "genrt_progress.h"
#include "genrt_rng.h"

#if defined(__SSE2__) || defined(__x86_64__)
#include <pmmintrin.h>
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

#define DEFAULT_THREADS 2
#define DEFAULT_SAMPLES 64
#define DEFAULT_BENCH_STEPS 50
#define BENCH_WARMUP 5
#define PREVIEW_IMAGES 64   /* an 8x8 grid */
#define PREVIEW_POINTS 1024 /* a scatter plot of 2-D samples */
#define CLASS_COLS 8        /* conditional image grids: a row of 8 per class */
#define GC_ENTRIES 24       /* entries probed per tensor */
#define GC_NOISE_ULPS 64.0  /* rounding noise in a loss, in units of epsilon */
#define DEFAULT_RECONSTRUCT 32
#define RECON_PAIRS_PER_ROW 8 /* input | reconstruction pairs: 16 images a row */
#define DEFAULT_TRANSLATE 8
#define PREVIEW_CYCLES 8      /* CycleGAN previews: 8 rows of a | G(a) | F(G(a)) | b | .. */
#define CYCLE_COLS 3          /* x | translated | back */

/* ---------------------------------------------------------------- flags */

enum flag_id { /* in the order the usage text lists them */
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
    F_THREADS,
    F_QUIET,
    F_COUNT
};

enum flag_kind { FK_BOOL, FK_LONG, FK_U64, FK_STRING };

#define BIT(f) (1u << (f))
#define OBJ_ALL (BIT(GENRT_OBJ_GAN) | BIT(GENRT_OBJ_VAE) | BIT(GENRT_OBJ_CYCLEGAN))

struct flag_def {
    const char *name;
    enum flag_kind kind;
    const char *arg; /* placeholder in the usage text */
    long min, max;   /* FK_LONG */
    const char *help;
    const char *vae_help;   /* appended to help for a VAE, whose commands take it too */
    const char *cycle_help; /* instead of help for a CycleGAN, if not NULL */
    unsigned objectives;    /* BIT(GENRT_OBJ_...) of the models that have it; 0: all */
};

static const struct flag_def flag_defs[F_COUNT] = {
    [F_STEPS] = {"--steps", FK_LONG, "N", 1, 1000000000000L,
                 "train: the step to train up to; bench: steps to time"},
    [F_SEED] = {"--seed", FK_U64, "S", 0, 0, "seed of every random stream (decimal or 0x hex)"},
    [F_DATA] = {"--data", FK_STRING, "PATH", 0, 0, "data directory (default: the spec's)", NULL,
                "the first domain's data directory (default: the spec's)", 0},
    [F_DATA_B] = {"--data-b", FK_STRING, "PATH", 0, 0, NULL, NULL,
                  "the second domain's data directory (default: the spec's)",
                  BIT(GENRT_OBJ_CYCLEGAN)},
    [F_OUT] = {"--out", FK_STRING, "DIR", 0, 0, "output directory (default: runs/<model>)"},
    [F_RESUME] = {"--resume", FK_STRING, "CKPT", 0, 0, "continue the run saved in CKPT"},
    [F_THREADS] = {"--threads", FK_LONG, "N", 1, 1024, "BLAS threads (default 2)"},
    [F_QUIET] = {"--quiet", FK_BOOL, NULL, 0, 0, "no progress output"},
    [F_CHECKPOINT] = {"--checkpoint", FK_STRING, "CKPT", 0, 0, "checkpoint to sample from",
                      " or evaluate", "checkpoint to translate with", 0},
    [F_FROM] = {"--from", FK_STRING, "DOMAIN", 0, 0, NULL, NULL,
                "the domain to translate from, by its name (default: the first)",
                BIT(GENRT_OBJ_CYCLEGAN)},
    [F_N] = {"-n", FK_LONG, "N", 1, 10000000,
             "number of samples (default 64; a conditional model's .png: a row per class)",
             "; reconstruct: default 32", "number of test examples to translate (default 8)", 0},
    [F_OUTPUT] = {"-o", FK_STRING, "FILE", 0, 0, "output file: .png, .npy or .csv",
                  " (reconstruct: .png)",
                  "output file: .png (rows of x | translated | back) or .npy (the translations)",
                  0},
    /* the bound is the model's: cmd_sample checks it, with a clearer message */
    [F_LABEL] = {"--label", FK_LONG, "K", 0, 1000000000L,
                 "conditional models: every sample of class K (default: all classes)"},
};

struct opts {
    int has[F_COUNT];
    long steps, threads, n, label;
    uint64_t seed;
    const char *data, *data_b, *from, *out, *resume, *checkpoint, *output;
    int quiet, help;
};

struct cli {
    const char *prog;
    const struct genrt_model *m, *m64;
};

/* ---------------------------------------------------------- subcommands */

static int cmd_train(const struct cli *c, const struct opts *o);
static int cmd_sample(const struct cli *c, const struct opts *o);
static int cmd_gradcheck(const struct cli *c, const struct opts *o);
static int cmd_bench(const struct cli *c, const struct opts *o);
static int cmd_eval(const struct cli *c, const struct opts *o);
static int cmd_reconstruct(const struct cli *c, const struct opts *o);
static int cmd_translate(const struct cli *c, const struct opts *o);

struct command {
    const char *name;
    unsigned flags;      /* BIT(F_...) of the flags it takes (those the model has) */
    unsigned required;   /* ... and of those it needs */
    const char *summary;
    int (*run)(const struct cli *c, const struct opts *o);
    unsigned objectives; /* BIT(GENRT_OBJ_...) of the models it is listed and run for */
};

static const struct command commands[] = {
    {"train",
     BIT(F_STEPS) | BIT(F_SEED) | BIT(F_DATA) | BIT(F_DATA_B) | BIT(F_OUT) | BIT(F_RESUME) |
         BIT(F_THREADS) | BIT(F_QUIET),
     0, "train; write metrics.csv, samples/ and checkpoint.ckpt to the output directory",
     cmd_train, OBJ_ALL},
    {"sample",
     BIT(F_CHECKPOINT) | BIT(F_N) | BIT(F_OUTPUT) | BIT(F_LABEL) | BIT(F_SEED) | BIT(F_THREADS),
     BIT(F_CHECKPOINT) | BIT(F_OUTPUT), "generate samples from a checkpoint", cmd_sample,
     BIT(GENRT_OBJ_GAN) | BIT(GENRT_OBJ_VAE)},
    {"gradcheck", BIT(F_SEED) | BIT(F_DATA) | BIT(F_DATA_B),
     0, "check every gradient against central differences", cmd_gradcheck, OBJ_ALL},
    {"bench", BIT(F_STEPS) | BIT(F_THREADS) | BIT(F_SEED),
     0, "time training steps on random inputs, without I/O", cmd_bench, OBJ_ALL},
    {"eval", BIT(F_CHECKPOINT) | BIT(F_DATA) | BIT(F_THREADS), BIT(F_CHECKPOINT),
     "the negative ELBO per example on the train and the test split (images: one set, train)",
     cmd_eval, BIT(GENRT_OBJ_VAE)},
    {"reconstruct",
     BIT(F_CHECKPOINT) | BIT(F_N) | BIT(F_OUTPUT) | BIT(F_DATA) | BIT(F_THREADS),
     BIT(F_CHECKPOINT) | BIT(F_OUTPUT),
     "a .png of the first N test examples (images: train), each beside its reconstruction",
     cmd_reconstruct, BIT(GENRT_OBJ_VAE)},
    {"translate",
     BIT(F_CHECKPOINT) | BIT(F_FROM) | BIT(F_N) | BIT(F_OUTPUT) | BIT(F_DATA) | BIT(F_DATA_B) |
         BIT(F_THREADS),
     BIT(F_CHECKPOINT) | BIT(F_OUTPUT),
     "translate the first N test examples (images: train) of a domain into a .png or .npy",
     cmd_translate, BIT(GENRT_OBJ_CYCLEGAN)},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

/* ------------------------------------------------------------- messages */

static int fail(const struct cli *c, const char *fmt, ...) GENRT_PRINTF(2, 3);

static int fail(const struct cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: error: ", c->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int fail_err(const struct cli *c, const struct genrt_err *err)
{
    return fail(c, "%s", err->msg);
}

static int is_vae(const struct genrt_model *m)
{
    return m->objective == GENRT_OBJ_VAE;
}

static int is_cycle(const struct genrt_model *m)
{
    return m->objective == GENRT_OBJ_CYCLEGAN;
}

/* "GAN", "VAE", "CycleGAN"; plural adds an s. */
static const char *objective_name(int objective)
{
    return objective == GENRT_OBJ_VAE ? "VAE" : objective == GENRT_OBJ_CYCLEGAN ? "CycleGAN"
                                                                                 : "GAN";
}

static int runs_for(const struct command *cmd, const struct genrt_model *m)
{
    return (cmd->objectives & BIT(m->objective)) != 0;
}

/* Flag k, if the model has it, as command cmd takes it. */
static int takes_flag(const struct command *cmd, const struct genrt_model *m, int k)
{
    unsigned objs = flag_defs[k].objectives;
    return (cmd->flags & BIT(k)) && (!objs || (objs & BIT(m->objective)));
}

static const char *flag_help(const struct genrt_model *m, int k, const char **suffix)
{
    const struct flag_def *fd = &flag_defs[k];
    *suffix = is_vae(m) && fd->vae_help ? fd->vae_help : "";
    return is_cycle(m) && fd->cycle_help ? fd->cycle_help : fd->help;
}

/* A CycleGAN's domain names: index GENRT_DOMAIN_A or GENRT_DOMAIN_B. */
static const char *domain_name(const struct genrt_model *m, int domain)
{
    return domain == GENRT_DOMAIN_B ? m->domain_b->name : m->domain_a;
}

/* " (fashion_mnist)", " (images, class 3)": the source in the usage text. */
static void print_source(FILE *f, const char *flag, const char *path, int kind, int cls)
{
    fprintf(f, " %s %s (%s", flag, path && path[0] ? path : "(none)", genrt_data_kind_name(kind));
    if (cls >= 0)
        fprintf(f, ", class %d", cls);
    fprintf(f, ")");
}

static void usage(const struct cli *c, FILE *f)
{
    const struct genrt_model *m = c->m;
    unsigned listed = 0; /* the flags of the commands listed */
    fprintf(f, "usage: %s <command> [flags]\n\n", c->prog);
    fprintf(f, "Trains the %s \"%s\" compiled by genc from %s.\n\n",
            objective_name(m->objective), m->name, m->spec);
    fprintf(f, "commands:\n");
    for (int i = 0; i < N_COMMANDS; i++) {
        const struct command *cmd = &commands[i];
        if (!runs_for(cmd, m))
            continue;
        fprintf(f, "  %-9s", cmd->name);
        for (int k = 0; k < F_COUNT; k++) {
            if (!takes_flag(cmd, m, k))
                continue;
            listed |= BIT(k);
            const struct flag_def *fd = &flag_defs[k];
            int req = (cmd->required & BIT(k)) != 0;
            fprintf(f, " %s%s%s%s%s", req ? "" : "[", fd->name, fd->arg ? " " : "",
                    fd->arg ? fd->arg : "", req ? "" : "]");
        }
        fprintf(f, "\n            %s\n", cmd->summary);
    }
    fprintf(f, "  help       show this text (also --help, -h)\n");
    fprintf(f, "  --version  show the model and runtime versions\n\n");
    fprintf(f, "flags:\n");
    for (int k = 0; k < F_COUNT; k++) {
        const struct flag_def *fd = &flag_defs[k];
        if (!(listed & BIT(k)))
            continue;
        char lhs[32];
        const char *suffix;
        const char *help = flag_help(m, k, &suffix);
        snprintf(lhs, sizeof lhs, "%s%s%s", fd->name, fd->arg ? " " : "", fd->arg ? fd->arg : "");
        fprintf(f, "  %-18s %s%s\n", lhs, help, suffix);
    }
    fprintf(f, "\nspec defaults: --steps %ld --seed %" PRIu64, m->steps, m->seed);
    if (m->data_kind == GENRT_DATA_RING8)
        fprintf(f, " (data: ring8, generated)");
    else
        print_source(f, "--data", m->data_path, m->data_kind, m->data_class);
    if (is_cycle(m)) {
        const struct genrt_domain *b = m->domain_b;
        print_source(f, "--data-b", b->data_path, b->data_kind, b->data_class);
        fprintf(f, "; domains %s (--data) and %s (--data-b)", m->domain_a, b->name);
    }
    if (m->n_classes > 0)
        fprintf(f, "; conditional on %d classes", m->n_classes);
    fprintf(f, "; bench times %d steps by default\n", DEFAULT_BENCH_STEPS);
}

/* -------------------------------------------------------------- parsing */

static int parse_u64(const char *s, uint64_t *v)
{
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, base);
    if (errno || *end || end == s)
        return -1;
    *v = x;
    return 0;
}

static int parse_flags(const struct cli *c, const struct command *cmd, int argc, char **argv,
                       struct opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            o->help = 1;
            continue;
        }
        /* "--flag=value" or "--flag value" */
        const char *eq = !strncmp(arg, "--", 2) ? strchr(arg, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        int k = 0;
        while (k < F_COUNT &&
               !(strlen(flag_defs[k].name) == nlen && !strncmp(flag_defs[k].name, arg, nlen)))
            k++;
        if (k == F_COUNT || !takes_flag(cmd, c->m, k)) {
            if (arg[0] != '-')
                return fail(c, "%s: unexpected argument '%s' (try '%s --help')", cmd->name, arg,
                            c->prog);
            return fail(c, "%s: unknown flag '%.*s' (try '%s --help')", cmd->name, (int)nlen,
                        arg, c->prog);
        }
        const struct flag_def *fd = &flag_defs[k];
        if (o->has[k])
            return fail(c, "%s: %s given twice", cmd->name, fd->name);
        o->has[k] = 1;
        if (fd->kind == FK_BOOL) {
            if (eq)
                return fail(c, "%s: %s takes no value", cmd->name, fd->name);
            o->quiet = 1; /* the only boolean flag */
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc)
                return fail(c, "%s: %s needs a value (%s)", cmd->name, fd->name, fd->arg);
            val = argv[++i];
        }
        if (fd->kind == FK_STRING) {
            if (!*val)
                return fail(c, "%s: %s needs a non-empty value", cmd->name, fd->name);
            const char **dst = k == F_DATA ? &o->data : k == F_DATA_B ? &o->data_b
                             : k == F_FROM ? &o->from : k == F_OUT ? &o->out
                             : k == F_RESUME ? &o->resume : k == F_CHECKPOINT ? &o->checkpoint
                             : &o->output;
            *dst = val;
        } else if (fd->kind == FK_U64) {
            if (parse_u64(val, &o->seed))
                return fail(c, "%s: %s expects an unsigned 64-bit integer, got '%s'", cmd->name,
                            fd->name, val);
        } else {
            uint64_t x;
            if (parse_u64(val, &x) || x < (uint64_t)fd->min || x > (uint64_t)fd->max)
                return fail(c, "%s: %s expects an integer from %ld to %ld, got '%s'", cmd->name,
                            fd->name, fd->min, fd->max, val);
            long *dst = k == F_STEPS ? &o->steps : k == F_THREADS ? &o->threads
                      : k == F_LABEL ? &o->label : &o->n;
            *dst = (long)x;
        }
    }
    if (o->help)
        return 0;
    for (int k = 0; k < F_COUNT; k++)
        if ((cmd->required & BIT(k)) && !o->has[k])
            return fail(c, "%s: missing %s %s (try '%s --help')", cmd->name, flag_defs[k].name,
                        flag_defs[k].arg, c->prog);
    return 0;
}

/* ------------------------------------------------------- model checking */

/* A CycleGAN's two image sources, its translate and no latent. */
static int check_cycle(const struct cli *c, const struct genrt_model *m, const char *what)
{
    if (!m->translate || !m->domain_a || !m->domain_b || !m->domain_b->name)
        return fail(c, "%s error: a CycleGAN without translate, domain_a or domain_b", what);
    if (m->generate || m->elbo_batch || m->reconstruct)
        return fail(c, "%s error: a CycleGAN with generate, elbo_batch or reconstruct", what);
    /* translate takes no labels, and slot 2 is not fed */
    if (m->n_classes != 0)
        return fail(c, "%s error: a CycleGAN with %d classes (CycleGANs cannot be conditional)",
                    what, m->n_classes);
    if (m->latent_dim != 0 || m->latent_batches != 0)
        return fail(c, "%s error: a CycleGAN with latent_dim %d, latent_batches %d (it has no "
                    "latent: both must be 0)", what, m->latent_dim, m->latent_batches);
    for (int dom = GENRT_DOMAIN_A; dom <= GENRT_DOMAIN_B; dom++) {
        struct genrt_model md;
        genrt_data_domain_model(m, dom, &md);
        if ((md.data_kind != GENRT_DATA_FASHION_MNIST && md.data_kind != GENRT_DATA_IMAGES) ||
            (md.img_c != 1 && md.img_c != 3) || md.img_h <= 0 || md.img_w <= 0)
            return fail(c, "%s error: domain %s is %s data of %dx%dx%d, not images", what,
                        domain_name(m, dom), genrt_data_kind_name(md.data_kind), md.img_c,
                        md.img_h, md.img_w);
        if ((long)md.img_c * md.img_h * md.img_w != md.sample_size)
            return fail(c, "%s error: domain %s has images %dx%dx%d but sample_size %ld", what,
                        domain_name(m, dom), md.img_c, md.img_h, md.img_w, md.sample_size);
    }
    return 0;
}

/* The emitted model is trusted, but a wrong table would corrupt memory
 * silently; these checks turn a compiler bug into a clear message. */
static int check_model(const struct cli *c, const struct genrt_model *m)
{
    const char *what = m == c->m64 ? "double-precision model" : "model";
    if (m->abi != GENRT_ABI)
        return fail(c, "%s was built for runtime ABI %d, this runtime has ABI %d", what, m->abi,
                    GENRT_ABI);
    if (m->real_size != 4 && m->real_size != 8)
        return fail(c, "%s error: real_size %d", what, m->real_size);
    if (m->objective != GENRT_OBJ_GAN && m->objective != GENRT_OBJ_VAE &&
        m->objective != GENRT_OBJ_CYCLEGAN)
        return fail(c, "%s error: unknown objective %d", what, m->objective);
    if (m->objective == GENRT_OBJ_VAE && (!m->elbo_batch || !m->reconstruct))
        return fail(c, "%s error: a VAE without elbo_batch or reconstruct", what);
    if (m->objective == GENRT_OBJ_GAN && (m->elbo_batch || m->reconstruct))
        return fail(c, "%s error: a GAN with elbo_batch or reconstruct (is objective set?)",
                    what);
    if (!is_cycle(m) && m->translate)
        return fail(c, "%s error: a %s with translate (is objective set?)", what,
                    objective_name(m->objective));
    /* elbo_batch and reconstruct take no labels */
    if (m->objective == GENRT_OBJ_VAE && m->n_classes != 0)
        return fail(c, "%s error: a VAE with %d classes (VAEs cannot be conditional)", what,
                    m->n_classes);
    if (is_cycle(m) && check_cycle(c, m, what))
        return 1;
    if (m->batch <= 0 || (!is_cycle(m) && m->latent_dim <= 0) || m->sample_size <= 0)
        return fail(c, "%s error: batch %d, latent_dim %d, sample_size %ld", what, m->batch,
                    m->latent_dim, m->sample_size);
    if (m->n_classes < 0 || m->n_classes > GENRT_DATA_MAX_CLASSES)
        return fail(c, "%s error: n_classes %d (must be 0 to %d)", what, m->n_classes,
                    GENRT_DATA_MAX_CLASSES);
    if (is_cycle(m) && m->real_batches < 1)
        return fail(c, "%s error: real_batches %d (must be at least 1)", what, m->real_batches);
    if (!is_cycle(m) && (m->real_batches < 1 || m->latent_batches < !is_vae(m)))
        return fail(c, "%s error: real_batches %d, latent_batches %d (each must be at least 1%s)", what,
                    m->real_batches, m->latent_batches, is_vae(m) ? "; a VAE's latent_batches may be 0" : "");
    if (m->latent_kind != GENRT_LATENT_NORMAL && m->latent_kind != GENRT_LATENT_UNIFORM)
        return fail(c, "%s error: unknown latent kind %d", what, m->latent_kind);
    if (m->img_c > 0 && (long)m->img_c * m->img_h * m->img_w != m->sample_size)
        return fail(c, "%s error: images %dx%dx%d but sample_size %ld", what, m->img_c, m->img_h,
                    m->img_w, m->sample_size);
    if (m->n_state < 0 || (m->n_state > 0 && !m->state) || m->n_metrics < 0)
        return fail(c, "%s error: bad state or metrics table", what);
    if (!m->set_input || !m->train_step || (!is_cycle(m) && !m->generate))
        return fail(c, "%s error: missing step functions", what);
    for (int i = 0; i < m->n_tensors; i++) {
        const struct genrt_tensor *t = &m->tensors[i];
        if (t->offset < 0 || t->size < 0 || t->offset + t->size > m->n_state ||
            t->net < 0 || t->net >= m->n_nets)
            return fail(c, "%s error: tensor %s lies outside the state or its net", what,
                        t->name);
        if (t->role == GENRT_PARAM && t->init == GENRT_INIT_FANIN_UNIFORM && t->fan_in <= 0)
            return fail(c, "%s error: tensor %s has fan_in %d", what, t->name, t->fan_in);
    }
    return 0;
}

/* ---------------------------------------------------------------- state */

/* The state array holds float or double per real_size. */
static double real_get(const struct genrt_model *m, const void *s, long i)
{
    return m->real_size == 8 ? ((const double *)s)[i] : (double)((const float *)s)[i];
}

static void real_set(const struct genrt_model *m, void *s, long i, double v)
{
    if (m->real_size == 8)
        ((double *)s)[i] = v;
    else
        ((float *)s)[i] = (float)v;
}

static size_t state_bytes(const struct genrt_model *m)
{
    return (size_t)m->n_state * (size_t)m->real_size;
}

static void init_state(const struct genrt_model *m, uint64_t seed)
{
    struct genrt_rng r;
    genrt_rng_seed(&r, genrt_rng_derive(seed, GENRT_STREAM_INIT));
    memset(m->state, 0, state_bytes(m)); /* optimizer state and anything untabled */
    for (int i = 0; i < m->n_tensors; i++) {
        const struct genrt_tensor *t = &m->tensors[i];
        if (t->role == GENRT_OPT_STATE)
            continue;
        double bound = t->fan_in > 0 ? 1.0 / sqrt((double)t->fan_in) : 0.0;
        for (long j = 0; j < t->size; j++) {
            double v = 0.0;
            if (t->init == GENRT_INIT_ONE)
                v = 1.0;
            else if (t->init == GENRT_INIT_FANIN_UNIFORM)
                v = bound * (2.0 * genrt_rng_uniform(&r) - 1.0);
            real_set(m, m->state, t->offset + j, v);
        }
    }
}

static void fill_latent(const struct genrt_model *m, struct genrt_rng *r, float *z, long n)
{
    if (m->latent_kind == GENRT_LATENT_UNIFORM)
        genrt_rng_fill_uniform(r, z, n, -1.0f, 1.0f);
    else
        genrt_rng_fill_normal(r, z, n);
}

/* generate() takes exactly m->batch latents (and labels y, NULL for an
 * unconditional model); n samples take ceil(n/batch) calls, the last one
 * padded with zero latents of class 0. */
static void generate_n(const struct genrt_model *m, const float *z, const float *y, long n,
                       float *out)
{
    long B = m->batch, L = m->latent_dim, S = m->sample_size;
    float *zb = genrt_file_xcalloc((size_t)(B * L), sizeof *zb);
    float *yb = y ? genrt_file_xcalloc((size_t)B, sizeof *yb) : NULL;
    float *ob = genrt_file_xmalloc((size_t)(B * S) * sizeof *ob);
    for (long i = 0; i < n; i += B) {
        long k = n - i < B ? n - i : B;
        memcpy(zb, z + i * L, (size_t)(k * L) * sizeof *zb);
        memset(zb + k * L, 0, (size_t)((B - k) * L) * sizeof *zb);
        if (y) {
            memcpy(yb, y + i, (size_t)k * sizeof *yb);
            memset(yb + k, 0, (size_t)(B - k) * sizeof *yb);
        }
        m->generate(zb, yb, ob);
        memcpy(out + i * S, ob, (size_t)(k * S) * sizeof *ob);
    }
    free(zb);
    free(yb);
    free(ob);
}

/* The labels of n samples of a conditional model (NULL for an unconditional
 * one): all `label` if label >= 0; else, in a grid of `cols` columns, row r
 * is class r; else sample i is class i % n_classes. */
static float *sample_labels(const struct genrt_model *m, long n, long label, long cols)
{
    if (m->n_classes <= 0)
        return NULL;
    float *y = genrt_file_xmalloc((size_t)n * sizeof *y);
    for (long i = 0; i < n; i++)
        y[i] = (float)(label >= 0 ? label : cols > 0 ? i / cols : i % m->n_classes);
    return y;
}

/* Draws n_batches batches of real examples into real (concatenated in
 * draw order) and, for a conditional model, their labels as floats into y. */
static void next_real_batches(const struct genrt_model *m, struct genrt_data *data, float *real,
                              float *y, int *labels, int n_batches, int batch)
{
    long per = (long)batch * m->sample_size;
    for (int r = 0; r < n_batches; r++) {
        /* batch <= the data set's size is checked before the first draw */
        genrt_data_next_batch_labels(data, real + r * per, y ? labels + (long)r * batch : NULL,
                                     batch);
    }
    if (y)
        for (long i = 0; i < (long)n_batches * batch; i++)
            y[i] = (float)labels[i];
}

static int is_image(const struct genrt_model *m)
{
    return m->img_c > 0;
}

/* A picture of n samples: a grid for images (of cols columns; 0: square),
 * a scatter plot for 2-D data. */
static int write_picture(const struct genrt_model *m, const char *path, const float *x, long n,
                         long cols, struct genrt_err *err)
{
    if (n > 1L << 24)
        return genrt_err_set(err, "%s: %ld samples are too many for one picture", path, n);
    if (is_image(m))
        return genrt_image_write_grid_cols(path, x, (int)n, (int)cols, m->img_c, m->img_h,
                                           m->img_w, m->range_lo, m->range_hi, err);
    if (m->sample_size == 2)
        return genrt_image_write_scatter(path, x, (int)n, err);
    return genrt_err_set(err, "%s: cannot draw %ld-dimensional samples (use .npy or .csv)", path,
                         m->sample_size);
}

static void set_ftz(void)
{
#ifdef HAVE_MXCSR
    /* Denormals are slow on x86 and irrelevant to training. */
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
#endif
}

/* ------------------------------------------------------ run-state blob */

/* What a checkpoint needs beyond the state array: the run's seed, the
 * latent stream and the data loader, as fixed-size little-endian words;
 * a CycleGAN's blob goes on with domain B's loader (the others keep the
 * size they always had, so their old checkpoints still load). */
struct run_state {
    uint64_t seed;
    struct genrt_rng latent;
    struct genrt_data_state data;   /* domain A's, for a CycleGAN */
    struct genrt_data_state data_b; /* CycleGAN: domain B's */
};

#define RNG_WORDS 6
#define DATA_WORDS (2 + RNG_WORDS) /* epoch, cursor, ring8's stream */
#define BLOB_WORDS (1 + RNG_WORDS + DATA_WORDS)
#define BLOB_MAX (8 * (BLOB_WORDS + DATA_WORDS))

static uint64_t blob_size(const struct genrt_model *m)
{
    return 8 * (uint64_t)(BLOB_WORDS + (is_cycle(m) ? DATA_WORDS : 0));
}

static unsigned char *put_rng(unsigned char *p, const struct genrt_rng *r)
{
    uint64_t spare;
    memcpy(&spare, &r->spare, 8);
    for (int i = 0; i < 4; i++)
        genrt_ckpt_put_u64(p + 8 * i, r->s[i]);
    genrt_ckpt_put_u64(p + 32, (uint64_t)r->has_spare);
    genrt_ckpt_put_u64(p + 40, spare);
    return p + 8 * RNG_WORDS;
}

static const unsigned char *get_rng(const unsigned char *p, struct genrt_rng *r, int *ok)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < 4; i++)
        r->s[i] = genrt_ckpt_get_u64(p + 8 * i);
    uint64_t has = genrt_ckpt_get_u64(p + 32), spare = genrt_ckpt_get_u64(p + 40);
    if (has > 1)
        *ok = 0;
    r->has_spare = (int)has;
    memcpy(&r->spare, &spare, 8);
    return p + 8 * RNG_WORDS;
}

static unsigned char *put_data(unsigned char *p, const struct genrt_data_state *st)
{
    genrt_ckpt_put_u64(p, st->epoch);
    genrt_ckpt_put_u64(p + 8, st->cursor);
    return put_rng(p + 16, &st->rng);
}

static const unsigned char *get_data(const unsigned char *p, struct genrt_data_state *st,
                                     int *ok)
{
    memset(st, 0, sizeof *st);
    st->epoch = genrt_ckpt_get_u64(p);
    st->cursor = genrt_ckpt_get_u64(p + 8);
    return get_rng(p + 16, &st->rng, ok);
}

static void encode_run(const struct genrt_model *m, const struct run_state *rs, unsigned char *b)
{
    genrt_ckpt_put_u64(b, rs->seed);
    unsigned char *p = put_rng(b + 8, &rs->latent);
    p = put_data(p, &rs->data);
    if (is_cycle(m))
        put_data(p, &rs->data_b);
}

static int decode_run(const struct genrt_model *m, const struct genrt_ckpt *ck, const char *path,
                      struct run_state *rs, struct genrt_err *err)
{
    if (ck->blob_size != blob_size(m))
        return genrt_err_set(err, "%s: corrupt (run state of %llu bytes, expected %llu)", path,
                             (unsigned long long)ck->blob_size,
                             (unsigned long long)blob_size(m));
    const unsigned char *b = ck->blob;
    int ok = 1;
    memset(rs, 0, sizeof *rs);
    rs->seed = genrt_ckpt_get_u64(b);
    const unsigned char *p = get_rng(b + 8, &rs->latent, &ok);
    p = get_data(p, &rs->data, &ok);
    if (is_cycle(m))
        get_data(p, &rs->data_b, &ok);
    if (!ok)
        return genrt_err_set(err, "%s: corrupt (bad RNG state)", path);
    return 0;
}

static int save_checkpoint(const struct genrt_model *m, const char *path, long step,
                           const struct run_state *rs, struct genrt_err *err)
{
    unsigned char blob[BLOB_MAX];
    encode_run(m, rs, blob);
    struct genrt_ckpt ck = {
        .shape_hash = m->shape_hash,
        .real_size = (uint32_t)m->real_size,
        .step = (uint64_t)step,
        .n_state = (uint64_t)m->n_state,
        .state = m->state,
        .blob_size = blob_size(m),
        .blob = blob,
    };
    return genrt_ckpt_save(path, &ck, err);
}

/* Reads a checkpoint that must fit m, without touching m->state. */
static int read_checkpoint(const struct genrt_model *m, const char *path, struct genrt_ckpt *ck,
                           struct genrt_err *err)
{
    if (genrt_ckpt_read(path, ck, err))
        return -1;
    if (genrt_ckpt_match(ck, path, m->shape_hash, (uint32_t)m->real_size, (uint64_t)m->n_state,
                         err)) {
        genrt_ckpt_free(ck);
        return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- metrics */

static char *metrics_header(const struct genrt_model *m)
{
    size_t n = 32;
    for (int i = 0; i < m->n_metrics; i++)
        n += strlen(m->metric_names[i]) + 1;
    char *h = genrt_file_xmalloc(n);
    strcpy(h, "step");
    for (int i = 0; i < m->n_metrics; i++) {
        strcat(h, ",");
        strcat(h, m->metric_names[i]);
    }
    strcat(h, ",seconds");
    return h;
}

/* The metrics.csv of a run being resumed from `step`: keeps the header and
 * the rows up to `step` (later rows belong to steps that will be redone; a
 * half-written last line is dropped).  *seconds gets the last kept time so
 * the column goes on from there.  A missing file starts afresh. */
static int metrics_keep(const char *path, const char *header, long step, char **kept,
                        double *seconds, struct genrt_err *err)
{
    unsigned char *buf;
    size_t len;
    size_t hlen = strlen(header);
    *seconds = 0.0;
    if (access(path, F_OK) != 0) {
        *kept = genrt_file_xmalloc(hlen + 2);
        memcpy(*kept, header, hlen);
        memcpy(*kept + hlen, "\n", 2);
        return 0;
    }
    if (genrt_file_read_all(path, &buf, &len, err))
        return -1;
    char *s = (char *)buf;
    char *nl = strchr(s, '\n');
    if (!nl || (size_t)(nl - s) != hlen || strncmp(s, header, hlen) != 0) {
        if (nl)
            *nl = 0;
        genrt_err_set(err, "%s: columns '%.200s' are not this model's '%s' (resume into "
                      "another --out?)", path, s, header);
        free(buf);
        return -1;
    }
    char *end = nl + 1; /* end of the kept text */
    int line = 2;
    for (char *p = nl + 1; *p; line++) {
        char *eol = strchr(p, '\n');
        if (!eol)
            break; /* half-written: the run stopped mid-line */
        char *q;
        errno = 0;
        long st = strtol(p, &q, 10);
        if (q == p || *q != ',' || errno) {
            genrt_err_set(err, "%s:%d: malformed row", path, line);
            free(buf);
            return -1;
        }
        if (st > step)
            break;
        *eol = 0;
        const char *comma = strrchr(p, ',');
        *seconds = strtod(comma + 1, NULL);
        *eol = '\n';
        end = eol + 1;
        p = eol + 1;
    }
    *end = 0;
    *kept = (char *)buf;
    return 0;
}

/* ------------------------------------------------------------- CycleGAN */

/* Opens a CycleGAN domain's data (domain A: the model's own, as
 * genrt_data_open_split; domain B through m->domain_b), path overriding
 * the spec's directory.  B's loader draws its shuffles from its own
 * stream, so the two domains are not shuffled alike. */
static int open_domain(const struct genrt_model *m, int dom, const char *path, int split,
                       uint64_t seed, struct genrt_data *d, struct genrt_err *err)
{
    struct genrt_model md;
    genrt_data_domain_model(m, dom, &md);
    if (dom == GENRT_DOMAIN_B) {
        memset(d, 0, sizeof *d);
        if ((!path || !path[0]) && (!md.data_path || !md.data_path[0]))
            return genrt_err_set(err, "no data directory given for domain %s (use --data-b DIR)",
                                 domain_name(m, dom));
        seed = genrt_rng_derive(seed, GENRT_STREAM_DOMAIN_B);
    }
    return genrt_data_open_split(d, &md, path, split, seed, err);
}

/* translate() takes exactly m->batch examples: n examples x of domain dom
 * take ceil(n/batch) calls, the last one padded with copies of the last
 * example so the model sees only real data.  out gets their translations
 * (the other domain's examples), back the translations back (dom's). */
static void translate_n(const struct genrt_model *m, int dom, const float *x, long n, float *out,
                        float *back)
{
    long B = m->batch;
    long S = dom == GENRT_DOMAIN_B ? m->domain_b->sample_size : m->sample_size;
    long T = dom == GENRT_DOMAIN_B ? m->sample_size : m->domain_b->sample_size;
    float *xb = genrt_file_xmalloc((size_t)(B * S) * sizeof *xb);
    float *ob = genrt_file_xmalloc((size_t)(B * T) * sizeof *ob);
    float *bb = genrt_file_xmalloc((size_t)(B * S) * sizeof *bb);
    for (long i = 0; i < n; i += B) {
        long k = n - i < B ? n - i : B;
        memcpy(xb, x + i * S, (size_t)(k * S) * sizeof *xb);
        for (long j = k; j < B; j++)
            memcpy(xb + j * S, x + (i + k - 1) * S, (size_t)S * sizeof *xb);
        m->translate(dom, xb, ob, bb);
        memcpy(out + i * T, ob, (size_t)(k * T) * sizeof *ob);
        memcpy(back + i * S, bb, (size_t)(k * S) * sizeof *bb);
    }
    free(xb);
    free(ob);
    free(bb);
}

static struct genrt_image_cell cell_of(const struct genrt_model *md, const float *x)
{
    struct genrt_image_cell e = {x, md->img_c, md->img_h, md->img_w, md->range_lo, md->range_hi};
    return e;
}

/* Columns col0 .. col0 + 2 of n rows of a grid of cols columns: example i
 * of domain dom (x), its translation and its translation back.  md[d] is
 * domain d's view of the model. */
static void cycle_cells(struct genrt_image_cell *cells, int cols, int col0,
                        const struct genrt_model md[2], int dom, long n, const float *x,
                        const float *out, const float *back)
{
    long S = md[dom].sample_size, T = md[1 - dom].sample_size;
    for (long i = 0; i < n; i++) {
        struct genrt_image_cell *row = cells + i * cols + col0;
        row[0] = cell_of(&md[dom], x + i * S);
        row[1] = cell_of(&md[1 - dom], out + i * T);
        row[2] = cell_of(&md[dom], back + i * S);
    }
}

/* A CycleGAN's training previews: the first n examples of each domain's
 * data, in file order (the same in every preview), and row i of the grid
 * is a_i | G(a_i) | F(G(a_i)) | b_i | F(b_i) | G(F(b_i)). */
struct cycle_preview {
    struct genrt_model md[2];
    long n;
    float *x[2], *out[2], *back[2];
};

static void cycle_preview_init(struct cycle_preview *p, const struct genrt_model *m,
                               const struct genrt_data *a, const struct genrt_data *b)
{
    const struct genrt_data *d[2] = {a, b};
    memset(p, 0, sizeof *p);
    p->n = PREVIEW_CYCLES;
    for (int dom = 0; dom < 2; dom++) {
        genrt_data_domain_model(m, dom, &p->md[dom]);
        p->n = d[dom]->n < p->n ? d[dom]->n : p->n;
    }
    for (int dom = 0; dom < 2; dom++) {
        size_t S = (size_t)p->md[dom].sample_size, T = (size_t)p->md[1 - dom].sample_size;
        p->x[dom] = genrt_file_xmalloc((size_t)p->n * S * sizeof(float));
        p->out[dom] = genrt_file_xmalloc((size_t)p->n * T * sizeof(float));
        p->back[dom] = genrt_file_xmalloc((size_t)p->n * S * sizeof(float));
        genrt_data_read(d[dom], 0, p->n, p->x[dom], NULL); /* n <= d->n */
    }
}

static int cycle_preview_write(struct cycle_preview *p, const struct genrt_model *m,
                               const char *path, struct genrt_err *err)
{
    int cols = 2 * CYCLE_COLS;
    struct genrt_image_cell *cells = genrt_file_xcalloc((size_t)(p->n * cols), sizeof *cells);
    for (int dom = 0; dom < 2; dom++) {
        translate_n(m, dom, p->x[dom], p->n, p->out[dom], p->back[dom]);
        cycle_cells(cells, cols, dom * CYCLE_COLS, p->md, dom, p->n, p->x[dom], p->out[dom],
                    p->back[dom]);
    }
    int rc = genrt_image_write_cells(path, cells, (int)p->n, cols, err);
    free(cells);
    return rc;
}

static void cycle_preview_free(struct cycle_preview *p)
{
    for (int dom = 0; dom < 2; dom++) {
        free(p->x[dom]);
        free(p->out[dom]);
        free(p->back[dom]);
    }
    memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------- train */

static int cmd_train(const struct cli *c, const struct opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    struct genrt_data data, data_b;
    struct genrt_model mb = *m; /* CycleGAN: the model as domain B's loader sees it */
    struct genrt_ckpt ck;
    struct genrt_progress prog;
    struct run_state rs;
    struct cycle_preview cp;
    char *out = NULL, *metrics_path = NULL, *ckpt_path = NULL, *samples_dir = NULL;
    char *header = NULL, *kept = NULL;
    float *real = NULL, *real_b = NULL, *z = NULL, *y = NULL, *pz = NULL, *py = NULL, *px = NULL;
    int *labels = NULL;
    double *metrics = NULL;
    FILE *mf = NULL;
    int rc = 1, progress_on = 0, cyc = is_cycle(m);
    long steps = o->has[F_STEPS] ? o->steps : m->steps;
    long start = 0;
    double seconds0 = 0.0;

    memset(&data, 0, sizeof data);
    memset(&data_b, 0, sizeof data_b);
    memset(&ck, 0, sizeof ck);
    memset(&rs, 0, sizeof rs);
    memset(&cp, 0, sizeof cp);
    rs.seed = o->has[F_SEED] ? o->seed : m->seed;

    /* Everything is checked before the first file is written. */
    if (steps < 1) {
        rc = fail(c, "train: the spec asks for %ld steps; give --steps N", steps);
        goto out;
    }
    if (o->resume) {
        if (read_checkpoint(m, o->resume, &ck, &err) ||
            decode_run(m, &ck, o->resume, &rs, &err)) {
            rc = fail_err(c, &err);
            goto out;
        }
        if (o->has[F_SEED] && o->seed != rs.seed) {
            rc = fail(c, "train: --seed %" PRIu64 " differs from the seed %" PRIu64
                         " of the run in %s", o->seed, rs.seed, o->resume);
            goto out;
        }
        start = (long)ck.step;
        if (steps <= start) {
            rc = fail(c, "train: %s is already at step %ld; --steps %ld leaves nothing to do",
                      o->resume, start, steps);
            goto out;
        }
    }
    if (genrt_data_open(&data, m, o->data, rs.seed, &err)) {
        rc = fail_err(c, &err);
        goto out;
    }
    if (data.kind != GENRT_DATA_RING8 && m->batch > data.n) {
        if (cyc)
            rc = fail(c, "train: the data set of domain %s has %ld examples, fewer than one "
                      "batch of %d", m->domain_a, data.n, m->batch);
        else
            rc = fail(c, "train: the data set has %ld examples, fewer than one batch of %d",
                      data.n, m->batch);
        goto out;
    }
    if (o->resume && genrt_data_set_state(&data, &rs.data, &err)) {
        rc = fail(c, "checkpoint %s: %s", o->resume, err.msg);
        goto out;
    }
    if (cyc) {
        genrt_data_domain_model(m, GENRT_DOMAIN_B, &mb);
        if (open_domain(m, GENRT_DOMAIN_B, o->data_b, GENRT_SPLIT_MODEL, rs.seed, &data_b,
                        &err)) {
            rc = fail_err(c, &err);
            goto out;
        }
        if (m->batch > data_b.n) {
            rc = fail(c, "train: the data set of domain %s has %ld examples, fewer than one "
                      "batch of %d", domain_name(m, GENRT_DOMAIN_B), data_b.n, m->batch);
            goto out;
        }
        if (o->resume && genrt_data_set_state(&data_b, &rs.data_b, &err)) {
            rc = fail(c, "checkpoint %s: %s", o->resume, err.msg);
            goto out;
        }
    }
    out = genrt_file_join("runs", m->name);
    const char *dir = o->out ? o->out : out;
    metrics_path = genrt_file_join(dir, "metrics.csv");
    ckpt_path = genrt_file_join(dir, "checkpoint.ckpt");
    samples_dir = genrt_file_join(dir, "samples");
    header = metrics_header(m);
    if (o->resume) {
        if (metrics_keep(metrics_path, header, start, &kept, &seconds0, &err)) {
            rc = fail_err(c, &err);
            goto out;
        }
    } else {
        kept = genrt_file_xmalloc(strlen(header) + 2);
        sprintf(kept, "%s\n", header);
    }

    /* From here on we write. */
    if (genrt_file_mkdirs(samples_dir, &err) ||
        genrt_file_write_all(metrics_path, kept, strlen(kept), &err)) {
        rc = fail_err(c, &err);
        goto out;
    }
    mf = fopen(metrics_path, "a");
    if (!mf) {
        rc = fail(c, "%s: %s", metrics_path, strerror(errno));
        goto out;
    }

    set_ftz();
    openblas_set_num_threads(o->has[F_THREADS] ? (int)o->threads : DEFAULT_THREADS);
    if (o->resume)
        memcpy(m->state, ck.state, state_bytes(m));
    else {
        init_state(m, rs.seed);
        genrt_rng_seed(&rs.latent, genrt_rng_derive(rs.seed, GENRT_STREAM_LATENT));
    }
    genrt_ckpt_free(&ck);

    /* Fixed preview latents from their own stream: previews never shift
     * the training streams, and every preview shows the same z.  A
     * conditional model's image grid has a row of CLASS_COLS per class.
     * A CycleGAN previews fixed examples instead. */
    long n_preview = is_image(m) ? PREVIEW_IMAGES : PREVIEW_POINTS, pcols = 0;
    if (is_image(m) && m->n_classes > 0) {
        pcols = CLASS_COLS;
        n_preview = pcols * m->n_classes;
    }
    if (cyc) {
        cycle_preview_init(&cp, m, &data, &data_b);
    } else {
        struct genrt_rng prng;
        genrt_rng_seed(&prng, genrt_rng_derive(rs.seed, GENRT_STREAM_PREVIEW));
        pz = genrt_file_xmalloc((size_t)(n_preview * m->latent_dim) * sizeof *pz);
        px = genrt_file_xmalloc((size_t)(n_preview * m->sample_size) * sizeof *px);
        fill_latent(m, &prng, pz, n_preview * m->latent_dim);
        py = sample_labels(m, n_preview, -1, pcols);
    }

    /* One step takes real_batches real and latent_batches latent batches
     * (a CycleGAN: real_batches of each domain and no latent). */
    long n_real = (long)m->real_batches * m->batch;
    long n_z = (long)m->latent_batches * m->batch * m->latent_dim;
    real = genrt_file_xmalloc((size_t)n_real * (size_t)m->sample_size * sizeof *real);
    if (cyc)
        real_b = genrt_file_xmalloc((size_t)n_real * (size_t)mb.sample_size * sizeof *real_b);
    if (n_z > 0)
        z = genrt_file_xmalloc((size_t)n_z * sizeof *z);
    if (m->n_classes > 0) {
        y = genrt_file_xmalloc((size_t)n_real * sizeof *y);
        labels = genrt_file_xmalloc((size_t)n_real * sizeof *labels);
    }
    metrics = genrt_file_xcalloc((size_t)m->n_metrics + 1, sizeof *metrics);

    genrt_progress_begin(&prog, start + 1, steps, m->n_metrics, m->metric_names, o->quiet);
    progress_on = 1;
    double t0 = genrt_progress_now();
    for (long t = start + 1; t <= steps; t++) {
        next_real_batches(m, &data, real, y, labels, m->real_batches, m->batch);
        m->set_input(0, real);
        if (cyc) {
            next_real_batches(&mb, &data_b, real_b, NULL, NULL, m->real_batches, m->batch);
            m->set_input(3, real_b);
        }
        if (n_z > 0) {
            fill_latent(m, &rs.latent, z, n_z);
            m->set_input(1, z);
        }
        if (y)
            m->set_input(2, y);
        m->train_step(t, metrics);

        fprintf(mf, "%ld", t);
        for (int i = 0; i < m->n_metrics; i++)
            fprintf(mf, ",%.9g", metrics[i]);
        fprintf(mf, ",%.3f\n", seconds0 + genrt_progress_now() - t0);
        genrt_progress_update(&prog, t, metrics);

        int last = t == steps;
        if (last || (m->sample_every > 0 && t % m->sample_every == 0)) {
            char name[64];
            snprintf(name, sizeof name, "step-%06ld.png", t);
            char *path = genrt_file_join(samples_dir, name);
            int r;
            if (cyc) {
                r = cycle_preview_write(&cp, m, path, &err);
            } else {
                generate_n(m, pz, py, n_preview, px);
                r = write_picture(m, path, px, n_preview, pcols, &err);
            }
            free(path);
            if (r) {
                genrt_progress_end(&prog);
                rc = fail_err(c, &err);
                goto out;
            }
        }
        if (last || (m->checkpoint_every > 0 && t % m->checkpoint_every == 0)) {
            /* metrics.csv must hold every row the checkpoint covers */
            if (fflush(mf) != 0 || ferror(mf)) {
                genrt_progress_end(&prog);
                rc = fail(c, "%s: cannot write: %s", metrics_path, strerror(errno));
                goto out;
            }
            genrt_data_get_state(&data, &rs.data);
            if (cyc)
                genrt_data_get_state(&data_b, &rs.data_b);
            if (save_checkpoint(m, ckpt_path, t, &rs, &err)) {
                genrt_progress_end(&prog);
                rc = fail_err(c, &err);
                goto out;
            }
        }
    }
    genrt_progress_end(&prog);
    progress_on = 0;
    if (fclose(mf) != 0) {
        mf = NULL;
        rc = fail(c, "%s: cannot write: %s", metrics_path, strerror(errno));
        goto out;
    }
    mf = NULL;
    if (!o->quiet)
        fprintf(stderr, "%s: trained steps %ld-%ld in %.1f s; checkpoint %s\n", c->prog,
                start + 1, steps, genrt_progress_now() - t0, ckpt_path);
    rc = 0;
out:
    if (progress_on)
        genrt_progress_end(&prog);
    if (mf)
        fclose(mf);
    genrt_ckpt_free(&ck);
    genrt_data_close(&data);
    genrt_data_close(&data_b);
    cycle_preview_free(&cp);
    free(out);
    free(metrics_path);
    free(ckpt_path);
    free(samples_dir);
    free(header);
    free(kept);
    free(real);
    free(real_b);
    free(z);
    free(y);
    free(labels);
    free(pz);
    free(py);
    free(px);
    free(metrics);
    return rc;
}

/* --------------------------------------------------------------- sample */

static int cmd_sample(const struct cli *c, const struct opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    struct genrt_ckpt ck;
    long n = o->has[F_N] ? o->n : DEFAULT_SAMPLES;
    uint64_t seed = o->has[F_SEED] ? o->seed : m->seed;
    const char *ext = strrchr(o->output, '.');
    const char *slash = strrchr(o->output, '/');
    if (!ext || (slash && ext < slash) ||
        (strcmp(ext, ".png") && strcmp(ext, ".npy") && strcmp(ext, ".csv")))
        return fail(c, "sample: -o %s: unknown format (the name must end in .png, .npy or .csv)",
                    o->output);
    int png = !strcmp(ext, ".png");
    if (png && !is_image(m) && m->sample_size != 2)
        return fail(c, "sample: -o %s: cannot draw %ld-dimensional samples (use .npy or .csv)",
                    o->output, m->sample_size);
    long label = -1, cols = 0;
    if (o->has[F_LABEL]) {
        if (m->n_classes <= 0)
            return fail(c, "sample: --label %ld: this model is unconditional (it has no classes)",
                        o->label);
        if (o->label >= m->n_classes)
            return fail(c, "sample: --label %ld is out of range: the model has %d class%s "
                        "(0 to %d)", o->label, m->n_classes, m->n_classes == 1 ? "" : "es",
                        m->n_classes - 1);
        label = o->label;
    } else if (png && is_image(m) && m->n_classes > 0) {
        /* a row per class: CLASS_COLS, or as many as n samples need */
        cols = o->has[F_N] ? (n + m->n_classes - 1) / m->n_classes : CLASS_COLS;
        n = cols * m->n_classes;
    }
    if (read_checkpoint(m, o->checkpoint, &ck, &err))
        return fail_err(c, &err);

    set_ftz();
    openblas_set_num_threads(o->has[F_THREADS] ? (int)o->threads : DEFAULT_THREADS);
    memcpy(m->state, ck.state, state_bytes(m));
    genrt_ckpt_free(&ck);

    struct genrt_rng r;
    genrt_rng_seed(&r, genrt_rng_derive(seed, GENRT_STREAM_SAMPLE));
    float *z = genrt_file_xmalloc((size_t)n * (size_t)m->latent_dim * sizeof *z);
    float *x = genrt_file_xmalloc((size_t)n * (size_t)m->sample_size * sizeof *x);
    fill_latent(m, &r, z, n * m->latent_dim);
    float *y = sample_labels(m, n, label, cols);
    generate_n(m, z, y, n, x);

    int rcw;
    float *chw = NULL;
    if (png) {
        rcw = write_picture(m, o->output, x, n, cols, &err);
    } else {
        /* Arrays of images are [N, C, H, W], as NumPy users expect; csv rows
         * follow the same order. */
        const float *a = x;
        if (is_image(m) && m->img_c > 1) {
            chw = genrt_file_xmalloc((size_t)n * (size_t)m->sample_size * sizeof *chw);
            genrt_npy_hwc_to_chw(chw, x, n, m->img_c, m->img_h, m->img_w);
            a = chw;
        }
        if (!strcmp(ext, ".npy")) {
            long dims[4] = {n, m->img_c, m->img_h, m->img_w};
            if (!is_image(m))
                dims[1] = m->sample_size;
            rcw = genrt_npy_write(o->output, a, is_image(m) ? 4 : 2, dims, &err);
        } else {
            rcw = genrt_npy_write_csv(o->output, a, n, m->sample_size, &err);
        }
    }
    free(z);
    free(y);
    free(x);
    free(chw);
    return rcw ? fail_err(c, &err) : 0;
}

/* ------------------------------------------------------ eval, reconstruct */

/* Loads a checkpoint that must fit m into m->state. */
static int load_state(const struct genrt_model *m, const char *path, struct genrt_err *err)
{
    struct genrt_ckpt ck;
    if (read_checkpoint(m, path, &ck, err))
        return -1;
    memcpy(m->state, ck.state, state_bytes(m));
    genrt_ckpt_free(&ck);
    return 0;
}

/* Fills xb (batch * sample_size floats) with examples first .. of d, in
 * file order: as many as are left, at most one batch, the rest of the
 * batch padded with copies of the last one, so the model sees only real
 * data.  Returns how many are real. */
static long fill_batch(const struct genrt_model *m, const struct genrt_data *d, long first,
                       float *xb)
{
    long k = d->n - first < m->batch ? d->n - first : m->batch;
    long S = m->sample_size;
    genrt_data_read(d, first, k, xb, NULL); /* in range: 0 < k <= n - first */
    for (long i = k; i < m->batch; i++)
        memcpy(xb + i * S, xb + (k - 1) * S, (size_t)S * sizeof *xb);
    return k;
}

static const char *split_name(int split)
{
    return split == GENRT_SPLIT_TEST ? "test" : "train";
}

/* The mean negative ELBO, reconstruction and KL terms over every example
 * of a split, summed in file order, so the numbers are deterministic. */
static int eval_split(const struct cli *c, const struct opts *o, int split)
{
    const struct genrt_model *m = c->m;
    struct genrt_data d;
    struct genrt_err err;
    if (genrt_data_open_split(&d, m, o->data, split, m->seed, &err))
        return fail(c, "eval: %s", err.msg);
    float *xb = genrt_file_xmalloc((size_t)m->batch * (size_t)m->sample_size * sizeof *xb);
    double *ob = genrt_file_xmalloc((size_t)m->batch * 3 * sizeof *ob);
    double sum[3] = {0.0, 0.0, 0.0};
    for (long i = 0; i < d.n;) {
        long k = fill_batch(m, &d, i, xb);
        m->elbo_batch(xb, ob);
        for (long b = 0; b < k; b++)
            for (int t = 0; t < 3; t++)
                sum[t] += ob[3 * b + t];
        i += k;
    }
    printf("%s: -ELBO %.2f nats per example (reconstruction %.2f, KL %.2f) over %ld examples\n",
           split_name(split), sum[0] / d.n, sum[1] / d.n, sum[2] / d.n, d.n);
    fflush(stdout);
    free(xb);
    free(ob);
    genrt_data_close(&d);
    return 0;
}

/* One line per split: train, then test.  An images directory has no test
 * split, so it gets the train line only; ring8 has no fixed examples. */
static int cmd_eval(const struct cli *c, const struct opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    if (!genrt_data_has_split(m->data_kind, GENRT_SPLIT_TRAIN))
        return fail(c, "eval: %s data are generated, not a set of examples to evaluate on",
                    genrt_data_kind_name(m->data_kind));
    if (load_state(m, o->checkpoint, &err))
        return fail_err(c, &err);
    set_ftz();
    openblas_set_num_threads(o->has[F_THREADS] ? (int)o->threads : DEFAULT_THREADS);
    if (eval_split(c, o, GENRT_SPLIT_TRAIN))
        return 1;
    if (genrt_data_has_split(m->data_kind, GENRT_SPLIT_TEST) &&
        eval_split(c, o, GENRT_SPLIT_TEST))
        return 1;
    return 0;
}

/* A grid of input | reconstruction pairs: image 2i is test example i and
 * image 2i+1 its reconstruction, RECON_PAIRS_PER_ROW pairs a row. */
static int cmd_reconstruct(const struct cli *c, const struct opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    struct genrt_data d;
    const char *ext = strrchr(o->output, '.');
    const char *slash = strrchr(o->output, '/');
    if (!ext || (slash && ext < slash) || strcmp(ext, ".png"))
        return fail(c, "reconstruct: -o %s: unknown format (the name must end in .png)",
                    o->output);
    if (!is_image(m))
        return fail(c, "reconstruct: draws images, and this model's examples are "
                    "%ld-dimensional vectors", m->sample_size);
    int split = genrt_data_has_split(m->data_kind, GENRT_SPLIT_TEST) ? GENRT_SPLIT_TEST
                                                                     : GENRT_SPLIT_TRAIN;
    if (!genrt_data_has_split(m->data_kind, split))
        return fail(c, "reconstruct: %s data are generated, not a set of examples",
                    genrt_data_kind_name(m->data_kind));
    if (load_state(m, o->checkpoint, &err))
        return fail_err(c, &err);
    if (genrt_data_open_split(&d, m, o->data, split, m->seed, &err))
        return fail(c, "reconstruct: %s", err.msg);
    long n = o->has[F_N] ? o->n : DEFAULT_RECONSTRUCT;
    if (n > d.n && o->has[F_N]) {
        long have = d.n;
        genrt_data_close(&d);
        return fail(c, "reconstruct: -n %ld, but the %s split has only %ld examples", n,
                    split_name(split), have);
    }
    n = n < d.n ? n : d.n;

    set_ftz();
    openblas_set_num_threads(o->has[F_THREADS] ? (int)o->threads : DEFAULT_THREADS);
    long B = m->batch, S = m->sample_size;
    float *xb = genrt_file_xmalloc((size_t)(B * S) * sizeof *xb);
    float *rb = genrt_file_xmalloc((size_t)(B * S) * sizeof *rb);
    float *pairs = genrt_file_xmalloc((size_t)(2 * n * S) * sizeof *pairs);
    for (long i = 0; i < n;) {
        long k = fill_batch(m, &d, i, xb);
        k = k < n - i ? k : n - i;
        m->reconstruct(xb, rb);
        for (long b = 0; b < k; b++) {
            memcpy(pairs + (2 * (i + b)) * S, xb + b * S, (size_t)S * sizeof *xb);
            memcpy(pairs + (2 * (i + b) + 1) * S, rb + b * S, (size_t)S * sizeof *rb);
        }
        i += k;
    }
    genrt_data_close(&d);
    int rc = write_picture(m, o->output, pairs, 2 * n, 2 * RECON_PAIRS_PER_ROW, &err);
    free(xb);
    free(rb);
    free(pairs);
    return rc ? fail_err(c, &err) : 0;
}

/* ------------------------------------------------------------ translate */

/* The first N test examples of a domain (its only split if it has no test
 * split), each beside its translation and its translation back (.png), or
 * the translations alone as [N, C, H, W] of the other domain (.npy). */
static int cmd_translate(const struct cli *c, const struct opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    struct genrt_data d;
    struct genrt_model md[2];
    const char *ext = strrchr(o->output, '.');
    const char *slash = strrchr(o->output, '/');
    if (!ext || (slash && ext < slash) || (strcmp(ext, ".png") && strcmp(ext, ".npy")))
        return fail(c, "translate: -o %s: unknown format (the name must end in .png or .npy)",
                    o->output);
    int png = !strcmp(ext, ".png");
    int dom = GENRT_DOMAIN_A;
    if (o->from) {
        while (dom <= GENRT_DOMAIN_B && strcmp(o->from, domain_name(m, dom)))
            dom++;
        if (dom > GENRT_DOMAIN_B)
            return fail(c, "translate: --from %s: no such domain (the model's domains are %s "
                        "and %s)", o->from, m->domain_a, domain_name(m, GENRT_DOMAIN_B));
    }
    for (int k = 0; k < 2; k++)
        genrt_data_domain_model(m, k, &md[k]);
    int split = genrt_data_has_split(md[dom].data_kind, GENRT_SPLIT_TEST) ? GENRT_SPLIT_TEST
                                                                          : GENRT_SPLIT_TRAIN;
    if (load_state(m, o->checkpoint, &err))
        return fail_err(c, &err);
    if (open_domain(m, dom, dom == GENRT_DOMAIN_B ? o->data_b : o->data, split, m->seed, &d,
                    &err))
        return fail(c, "translate: %s", err.msg);
    long n = o->has[F_N] ? o->n : DEFAULT_TRANSLATE;
    if (n > d.n && o->has[F_N]) {
        char cls[32] = "";
        if (d.data_class >= 0)
            snprintf(cls, sizeof cls, " of class %d", d.data_class);
        long have = d.n;
        genrt_data_close(&d);
        return fail(c, "translate: -n %ld, but the %s split of domain %s has only %ld examples%s",
                    n, split_name(split), domain_name(m, dom), have, cls);
    }
    n = n < d.n ? n : d.n;

    set_ftz();
    openblas_set_num_threads(o->has[F_THREADS] ? (int)o->threads : DEFAULT_THREADS);
    long S = md[dom].sample_size, T = md[1 - dom].sample_size;
    float *x = genrt_file_xmalloc((size_t)(n * S) * sizeof *x);
    float *out = genrt_file_xmalloc((size_t)(n * T) * sizeof *out);
    float *back = genrt_file_xmalloc((size_t)(n * S) * sizeof *back);
    genrt_data_read(&d, 0, n, x, NULL); /* n <= d.n */
    genrt_data_close(&d);
    translate_n(m, dom, x, n, out, back);
    int rc;
    if (png) {
        struct genrt_image_cell *cells = genrt_file_xcalloc((size_t)(n * CYCLE_COLS),
                                                            sizeof *cells);
        cycle_cells(cells, CYCLE_COLS, 0, md, dom, n, x, out, back);
        rc = genrt_image_write_cells(o->output, cells, (int)n, CYCLE_COLS, &err);
        free(cells);
    } else {
        const struct genrt_model *to = &md[1 - dom];
        float *chw = genrt_file_xmalloc((size_t)(n * T) * sizeof *chw);
        genrt_npy_hwc_to_chw(chw, out, n, to->img_c, to->img_h, to->img_w);
        long dims[4] = {n, to->img_c, to->img_h, to->img_w};
        rc = genrt_npy_write(o->output, chw, 4, dims, &err);
        free(chw);
    }
    free(x);
    free(out);
    free(back);
    return rc ? fail_err(c, &err) : 0;
}

/* ------------------------------------------------------------ gradcheck */

/* The central difference of term k in state entry i at step h, and its
 * error relative to the analytic gradient a (never to less than floor).
 * Returns 1 at a kink: in double precision, when the one-sided slopes
 * differ by more than 1e-4 of the gradients' scale. */
static int central_difference(const struct genrt_model *g, int k, long i, double h, double l0, double a,
                              double floor, int dbl, double *num, double *rel)
{
    double x0 = real_get(g, g->state, i);
    real_set(g, g->state, i, x0 + h);
    double xp = real_get(g, g->state, i); /* as rounded to real */
    double lp = g->gc_loss(k);
    real_set(g, g->state, i, x0 - h);
    double xm = real_get(g, g->state, i);
    double lm = g->gc_loss(k);
    real_set(g, g->state, i, x0); /* exact: x0 came from a real */
    *num = (lp - lm) / (xp - xm);
    double scale = fmax(fmax(fabs(a), fabs(*num)), floor);
    *rel = fabs(a - *num) / scale;
    if (*rel != *rel)
        *rel = INFINITY; /* NaN anywhere is a failure */
    double up = (lp - l0) / (xp - x0), down = (l0 - lm) / (x0 - xm);
    return dbl && fabs(up - down) > 1e-4 * scale;
}

/* Central differences on the gc_* functions, in double precision when the
 * double build (m64) is linked in.  An entry's error is relative to the
 * larger of the two gradients, but never to less than the rounding noise of
 * the difference quotient over the tolerance: a gradient that is zero up
 * to noise has no meaningful relative error. */
static int cmd_gradcheck(const struct cli *c, const struct opts *o)
{
    const struct genrt_model *g = c->m64 ? c->m64 : c->m;
    int dbl = g->real_size == 8;
    double tol = dbl ? 1e-6 : 2e-2;
    double h = dbl ? 1e-6 : 1e-2;
    double eps = dbl ? 2.220446049250313e-16 : 1.1920928955078125e-07;
    uint64_t seed = o->has[F_SEED] ? o->seed : g->seed;
    struct genrt_err err;
    struct genrt_data data;

    if (!g->gc_set_input || !g->gc_loss || !g->gc_grad || g->gc_batch <= 0 || g->n_terms <= 0)
        return fail(c, "gradcheck: this model has no gradient-check functions");
    openblas_set_num_threads(DEFAULT_THREADS);
    init_state(g, seed);
    /* one batch of gc_batch rows, whatever real_batches and latent_batches
     * are: slot 0 (and a CycleGAN's slot 3, domain B) from the data */
    int n_dom = is_cycle(g) ? 2 : 1;
    int *labels = genrt_file_xmalloc((size_t)g->gc_batch * sizeof *labels);
    for (int dom = 0; dom < n_dom; dom++) {
        struct genrt_model md;
        genrt_data_domain_model(g, dom, &md);
        if (open_domain(g, dom, dom == GENRT_DOMAIN_B ? o->data_b : o->data, GENRT_SPLIT_MODEL,
                        seed, &data, &err)) {
            free(labels);
            return fail_err(c, &err);
        }
        float *real = genrt_file_xmalloc((size_t)g->gc_batch * (size_t)md.sample_size *
                                         sizeof *real);
        int r = genrt_data_next_batch_labels(&data, real, labels, g->gc_batch);
        genrt_data_close(&data);
        if (r) {
            free(real);
            free(labels);
            if (is_cycle(g))
                return fail(c, "gradcheck: the data set of domain %s has fewer than %d examples",
                            domain_name(g, dom), g->gc_batch);
            return fail(c, "gradcheck: the data set has fewer than %d examples", g->gc_batch);
        }
        g->gc_set_input(dom == GENRT_DOMAIN_B ? 3 : 0, real);
        free(real);
    }
    struct genrt_rng r;
    genrt_rng_seed(&r, genrt_rng_derive(seed, GENRT_STREAM_GRADCHECK));
    if (g->latent_batches > 0) {
        float *z = genrt_file_xmalloc((size_t)g->gc_batch * (size_t)g->latent_dim * sizeof *z);
        fill_latent(g, &r, z, (long)g->gc_batch * g->latent_dim);
        g->gc_set_input(1, z);
        free(z);
    }
    if (g->n_classes > 0) {
        float *y = genrt_file_xmalloc((size_t)g->gc_batch * sizeof *y);
        for (int i = 0; i < g->gc_batch; i++)
            y[i] = (float)labels[i];
        g->gc_set_input(2, y);
        free(y);
    }
    free(labels);

    printf("gradcheck: %s precision, %d examples, h %.0e, tolerance %.0e\n",
           dbl ? "double" : "float", g->gc_batch, h, tol);
    void *grad = genrt_file_xcalloc((size_t)g->n_state, (size_t)g->real_size);
    double worst = 0.0;
    for (int k = 0; k < g->n_terms; k++) {
        const struct genrt_term *term = &g->terms[k];
        memset(grad, 0, state_bytes(g));
        g->gc_grad(k, grad);
        double loss = g->gc_loss(k);
        double floor = GC_NOISE_ULPS * eps * fmax(1.0, fabs(loss)) / h / tol;
        double tworst = 0.0, wa = 0.0, wn = 0.0;
        const char *wname = "-";
        long widx = 0, n_checked = 0, n_kinks = 0;
        int n_tensors = 0;
        for (int ti = 0; ti < g->n_tensors; ti++) {
            const struct genrt_tensor *t = &g->tensors[ti];
            if (t->role != GENRT_PARAM || !(term->net_mask >> t->net & 1u) || t->size == 0)
                continue;
            n_tensors++;
            long pick[GC_ENTRIES];
            long n_pick = t->size <= GC_ENTRIES ? t->size : GC_ENTRIES;
            for (long j = 0; j < n_pick; j++) {
                if (t->size <= GC_ENTRIES) {
                    pick[j] = j;
                    continue;
                }
                int dup;
                do { /* distinct entries */
                    pick[j] = (long)genrt_rng_below(&r, (uint64_t)t->size);
                    dup = 0;
                    for (long q = 0; q < j; q++)
                        dup |= pick[q] == pick[j];
                } while (dup);
            }
            for (long j = 0; j < n_pick; j++) {
                long i = t->offset + pick[j];
                double a = real_get(g, grad, i), num = 0, rel = INFINITY;
                /* at h, then at h/10 and h/100 while that is not good enough:
                 * a kink (relu, |x|) within the step makes the one-sided slopes
                 * disagree, and the central difference is no reference there.
                 * Real images have flat regions, whose units all cross a relu
                 * at once; a smaller step rarely meets one.  Rounding noise
                 * grows as the step shrinks, and so does the floor. */
                int kink = 1;
                for (double step = h; step >= h / 100 * 0.99 && (kink || rel > tol); step /= 10) {
                    double nm, rl;
                    int kk = central_difference(g, k, i, step, loss, a, floor * h / step, dbl, &nm, &rl);
                    if (kk && !kink)
                        continue;
                    if (kink || rl < rel)
                        num = nm, rel = rl;
                    kink = kk;
                }
                if (kink) {
                    n_kinks++;
                    continue;
                }
                n_checked++;
                if (rel > tworst || n_checked == 1) {
                    tworst = rel;
                    wname = t->name;
                    widx = pick[j];
                    wa = a;
                    wn = num;
                }
            }
        }
        if (n_checked == 0 && n_kinks == 0) {
            printf("gradcheck: %s: no parameters to check\n", term->name);
            continue;
        }
        printf("gradcheck: %s: %ld entries of %d tensors, worst relative error %.1e at %s[%ld] "
               "(analytic %.9g, numeric %.9g)",
               term->name, n_checked, n_tensors, tworst, wname, widx, wa, wn);
        if (n_kinks)
            printf("; %ld entries at a kink skipped", n_kinks);
        printf("\n");
        if (n_kinks * 10 > n_checked + n_kinks) { /* too many to be kinks */
            printf("gradcheck: %s: %ld of %ld entries skipped at kinks: too many\n", term->name, n_kinks,
                   n_checked + n_kinks);
            tworst = INFINITY;
        }
        if (tworst > worst)
            worst = tworst;
    }
    free(grad);
    int ok = worst <= tol;
    printf("gradcheck: worst relative error %.1e (tolerance %.0e): %s\n", worst, tol,
           ok ? "ok" : "FAILED");
    fflush(stdout);
    return ok ? 0 : 1;
}

/* ---------------------------------------------------------------- bench */

static int cmd_bench(const struct cli *c, const struct opts *o)
{
    const struct genrt_model *m = c->m;
    long steps = o->has[F_STEPS] ? o->steps : DEFAULT_BENCH_STEPS;
    long threads = o->has[F_THREADS] ? o->threads : DEFAULT_THREADS;
    uint64_t seed = o->has[F_SEED] ? o->seed : m->seed;

    set_ftz();
    openblas_set_num_threads((int)threads);
    init_state(m, seed);
    struct genrt_rng r;
    genrt_rng_seed(&r, genrt_rng_derive(seed, GENRT_STREAM_BENCH));
    long ny = (long)m->real_batches * m->batch;
    long nr = ny * m->sample_size, nz = (long)m->latent_batches * m->batch * m->latent_dim;
    float *real = genrt_file_xmalloc((size_t)nr * sizeof *real);
    float *real_b = NULL;
    float *z = nz > 0 ? genrt_file_xmalloc((size_t)nz * sizeof *z) : NULL;
    float *y = m->n_classes > 0 ? genrt_file_xmalloc((size_t)ny * sizeof *y) : NULL;
    double *metrics = genrt_file_xcalloc((size_t)m->n_metrics + 1, sizeof *metrics);
    if (is_image(m))
        genrt_rng_fill_uniform(&r, real, nr, m->range_lo, m->range_hi);
    else
        genrt_rng_fill_normal(&r, real, nr);
    m->set_input(0, real);
    if (is_cycle(m)) {
        const struct genrt_domain *b = m->domain_b;
        real_b = genrt_file_xmalloc((size_t)(ny * b->sample_size) * sizeof *real_b);
        genrt_rng_fill_uniform(&r, real_b, ny * b->sample_size, b->range_lo, b->range_hi);
        m->set_input(3, real_b);
    }
    if (z) {
        fill_latent(m, &r, z, nz);
        m->set_input(1, z);
    }
    if (y) {
        for (long i = 0; i < ny; i++)
            y[i] = (float)genrt_rng_below(&r, (uint64_t)m->n_classes);
        m->set_input(2, y);
    }
    for (long t = 1; t <= BENCH_WARMUP; t++)
        m->train_step(t, metrics);
    double t0 = genrt_progress_now();
    for (long t = 1; t <= steps; t++)
        m->train_step(BENCH_WARMUP + t, metrics);
    double dt = genrt_progress_now() - t0;
    printf("bench: %.3f ms/step over %ld steps (threads %ld)\n", 1e3 * dt / steps, steps,
           threads);
    free(real);
    free(real_b);
    free(z);
    free(y);
    free(metrics);
    return 0;
}

/* ----------------------------------------------------------------- main */

/* A command this kind of model does not have. */
static int refuse(const struct cli *c, const struct command *cmd)
{
    const struct genrt_model *m = c->m;
    if (is_cycle(m) && cmd->run == cmd_sample)
        return fail(c, "sample: this model is a CycleGAN, which translates images and has no "
                    "latent space to sample from; use translate --from %s|%s", m->domain_a,
                    domain_name(m, GENRT_DOMAIN_B));
    char kinds[64] = "";
    for (int k = GENRT_OBJ_GAN; k <= GENRT_OBJ_CYCLEGAN; k++) {
        if (!(cmd->objectives & BIT(k)))
            continue;
        size_t n = strlen(kinds);
        snprintf(kinds + n, sizeof kinds - n, "%s%ss", n ? " and " : "", objective_name(k));
    }
    return fail(c, "%s: this model is a %s; %s is for %s only", cmd->name,
                objective_name(m->objective), cmd->name, kinds);
}

int genrt_main(const struct genrt_model *m, const struct genrt_model *m64, int argc, char **argv)
{
    struct cli c = {"trainer", m, m64};
    if (argc > 0 && argv[0] && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        c.prog = slash && slash[1] ? slash + 1 : argv[0];
    }
    if (check_model(&c, m) || (m64 && check_model(&c, m64)))
        return 1;
    if (argc < 2)
        return fail(&c, "missing command (try '%s --help')", c.prog);
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        if (argc > 2)
            return fail(&c, "help takes no arguments");
        usage(&c, stdout);
        return 0;
    }
    if (!strcmp(name, "--version")) {
        if (argc > 2)
            return fail(&c, "--version takes no arguments");
        printf("%s: model %s from %s; genc runtime ABI %d; %s reals\n", c.prog, m->name, m->spec,
               GENRT_ABI, m->real_size == 8 ? "double" : "float");
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i].name))
            continue;
        if (!runs_for(&commands[i], m))
            return refuse(&c, &commands[i]);
        struct opts o;
        if (parse_flags(&c, &commands[i], argc, argv, &o))
            return 1;
        if (o.help) {
            usage(&c, stdout);
            return 0;
        }
        int rc = commands[i].run(&c, &o);
        fflush(stdout);
        return rc;
    }
    return fail(&c, "unknown command '%s' (try '%s --help')", name, c.prog);
}
