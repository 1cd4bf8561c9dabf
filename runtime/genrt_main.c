/* genrt_main.c: the command line of every trainer genc emits.
 *
 *     X train | gradcheck | bench | help | --help | --version
 *     X sample                                    (models with generate: GANs, VAEs)
 *     X eval | reconstruct                        (with elbo_batch and reconstruct: VAEs)
 *     X translate                                 (with translate: CycleGANs)
 *     X report RUN_DIR                            (all: the run's report.html)
 *     X eval | features                           (with classify: classifiers)
 *     X score                                     (with generate or translate)
 *
 * Flags and subcommands are declared once, in the two tables below; the
 * parser and the usage text are driven by them, and which of them a model
 * has follows from its entry points, never from its objective.  Every failure is one line
 * "X: error: ..." on stderr and exit status 1, and all input (flags, data,
 * checkpoints, old metrics) is checked before the first file is written. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genrt_mpi.h"

/* ---------------------------------------------------------------- flags */

enum flag_kind { FK_BOOL, FK_LONG, FK_U64, FK_STRING, FK_CHOICE };

#define BIT(f) (1u << (f))

/* What a model has, read from its entry points: which commands and flags
 * it gets follows from these, never from its objective. */
static int has_generate(const struct genrt_model *m)
{
    return m->generate != NULL;
}

static int has_elbo(const struct genrt_model *m)
{
    return m->elbo_batch != NULL; /* and reconstruct: check_model sees to it */
}

static int has_translate(const struct genrt_model *m)
{
    return m->translate != NULL;
}

static int has_classify(const struct genrt_model *m)
{
    return m->classify != NULL;
}

/* eval: a VAE's ELBO or a classifier's accuracy */
static int has_eval(const struct genrt_model *m)
{
    return has_elbo(m) || has_classify(m);
}

/* score: what samples (a generator, translators) */
static int has_samples(const struct genrt_model *m)
{
    return has_generate(m) || has_translate(m);
}

static int is_conditional(const struct genrt_model *m)
{
    return m->n_classes > 0 && !m->classify;
}

static int has_mpi_steps(const struct genrt_model *m)
{
    return m->n_mpi_steps > 0;
}

static int has_ema(const struct genrt_model *m)
{
    return genrt_run_has_ema(m);
}

static int has_domain_b(const struct genrt_model *m)
{
    return m->domain_b != NULL;
}

/* A model that translates and has nothing to sample: its sample flags are
 * translate's. */
static int translates_only(const struct genrt_model *m)
{
    return m->translate && !m->generate;
}

struct flag_def {
    const char *name;
    enum flag_kind kind;
    const char *arg; /* placeholder in the usage text */
    long min, max;   /* FK_LONG */
    const char *help;
    const char *const *choices; /* FK_CHOICE: the values, NULL-terminated, in enum order */
    const char *elbo_help; /* appended to help for a model with eval and reconstruct */
    const char *alt_help;  /* instead of help when alt_when(m) */
    int (*alt_when)(const struct genrt_model *m);
    int (*when)(const struct genrt_model *m); /* the models that have it; NULL: all */
    const char *who; /* those models, in the message to the others */
};

static const char *const nonfinite_choices[] = {"stop", "skip", "ignore", NULL};

static const struct flag_def flag_defs[F_COUNT] = {
    [F_STEPS] = {"--steps", FK_LONG, "N", 1, 1000000000000L,
                 "train: the step to train up to; bench: steps to time"},
    [F_SEED] = {"--seed", FK_U64, "S", 0, 0, "seed of every random stream (decimal or 0x hex)"},
    [F_DATA] = {"--data", FK_STRING, "PATH", 0, 0, "data directory (default: the spec's)", NULL,
                NULL, "the first domain's data directory (default: the spec's)", has_domain_b},
    [F_DATA_B] = {"--data-b", FK_STRING, "PATH", 0, 0,
                  "the second domain's data directory (default: the spec's)", .when = has_domain_b,
                  .who = "models with two domains"},
    [F_OUT] = {"--out", FK_STRING, "DIR", 0, 0, "output directory (default: runs/<model>)"},
    [F_RESUME] = {"--resume", FK_STRING, "CKPT", 0, 0, "continue the run saved in CKPT"},
    [F_FORCE] = {"--force", FK_BOOL, NULL, 0, 0,
                 "start afresh in a directory that holds a checkpoint, replacing that run"},
    [F_ON_NONFINITE] = {"--on-nonfinite", FK_CHOICE, "MODE", 0, 0,
                        "on a NaN or Inf: stop (default; exit 1), skip the step, or ignore",
                        nonfinite_choices},
    [F_THREADS] = {"--threads", FK_LONG, "N", 1, 1024, "BLAS threads (default 2)"},
    [F_QUIET] = {"--quiet", FK_BOOL, NULL, 0, 0, "no progress output"},
    [F_NO_EMA] = {"--no-ema", FK_BOOL, NULL, 0, 0,
                  "the raw weights, not their moving average (ema), for what samples",
                  .when = has_ema, .who = "models with an ema"},
    [F_PER_RANK_BATCH] = {"--per-rank-batch", FK_BOOL, NULL, 0, 0,
                          "under mpirun: every rank trains on a whole batch (R ranks: R times "
                          "the spec's batch in all) instead of its share of one",
                          .when = has_mpi_steps, .who = "trainers built with MPI=1"},
    [F_CHECKPOINT] = {"--checkpoint", FK_STRING, "CKPT", 0, 0,
                      "the checkpoint to load (score: default runs/<model>/checkpoint.ckpt)",
                      NULL, NULL, "checkpoint to translate with (score: default "
                      "runs/<model>/checkpoint.ckpt)", translates_only},
    [F_FROM] = {"--from", FK_STRING, "DOMAIN", 0, 0,
                "the domain to translate from, by its name (default: the first)",
                .when = has_translate, .who = "CycleGANs"},
    [F_N] = {"-n", FK_LONG, "N", 1, 10000000,
             "number of samples (default 64; a conditional model's .png: a row per class; score: "
             "10000)", NULL,
             "; reconstruct: default 32", "number of test examples to translate (default 8)",
             translates_only},
    [F_OUTPUT] = {"-o", FK_STRING, "FILE", 0, 0,
                  "output file: .png, .npy or .csv; report: .html (default RUN_DIR/report.html)",
                  NULL, "; reconstruct: .png",
                  "output file: .png (rows of x | translated | back) or .npy (the translations); "
                  "report: .html (default RUN_DIR/report.html)",
                  translates_only},
    /* the bound is the model's: genrt_cmd_sample checks it, with a clearer message */
    [F_LABEL] = {"--label", FK_LONG, "K", 0, 1000000000L,
                 "every sample of class K (default: all classes)", .when = is_conditional,
                 .who = "conditional models"},
    [F_INPUT] = {"--input", FK_STRING, "FILE", 0, 0,
                 "examples to classify: .npy, N x C x H x W, float32 in the data's range or "
                 "uint8 pixels", .when = has_classify, .who = "classifiers"},
    [F_CLASSIFIER] = {"--classifier", FK_STRING, "CKPT", 0, 0,
                      "the checkpoint of the classifier whose features score images",
                      .when = has_samples, .who = "models that sample"},
    [F_SPEC] = {"--spec", FK_STRING, "SPEC", 0, 0,
                "the classifier's spec: its trainer is the NAME built beside it or here "
                "(default: the trainer its run recorded)", .when = has_samples,
                .who = "models that sample"},
    [F_REFERENCE] = {"--reference", FK_BOOL, NULL, 0, 0,
                     "score the real test set against the real training set (the floor)",
                     .when = has_samples, .who = "models that sample"},
    [F_FLOAT] = {"--float", FK_BOOL, NULL, 0, 0,
                 "gradcheck: the float build's gradients (train's, oneDNN's convolutions included) "
                 "against the double build's, instead of central differences"},
};

/* ---------------------------------------------------------- subcommands */

struct command {
    const char *name;
    unsigned flags;    /* BIT(F_...) of the flags it takes (those the model has) */
    unsigned required; /* ... and of those it needs */
    const char *summary;
    int (*run)(const struct genrt_cli *c, const struct genrt_opts *o);
    int (*when)(const struct genrt_model *m); /* the models it is listed and run for; NULL: all */
    const char *who; /* those models, in the message to the others */
    const char *operand; /* the placeholder of a positional argument it needs, or NULL */
};

static const struct command commands[] = {
    {"train",
     BIT(F_STEPS) | BIT(F_SEED) | BIT(F_DATA) | BIT(F_DATA_B) | BIT(F_OUT) | BIT(F_RESUME) |
         BIT(F_FORCE) | BIT(F_ON_NONFINITE) | BIT(F_THREADS) | BIT(F_QUIET) | BIT(F_NO_EMA) |
         BIT(F_PER_RANK_BATCH),
     0,
     "train; write metrics.csv, samples/, checkpoint.ckpt and report.html to the output "
     "directory",
     genrt_cmd_train, NULL, NULL, NULL},
    {"sample",
     BIT(F_CHECKPOINT) | BIT(F_N) | BIT(F_OUTPUT) | BIT(F_LABEL) | BIT(F_SEED) | BIT(F_THREADS) |
         BIT(F_NO_EMA),
     BIT(F_CHECKPOINT) | BIT(F_OUTPUT), "generate samples from a checkpoint", genrt_cmd_sample,
     has_generate, "models with a generator", NULL},
    {"gradcheck", BIT(F_SEED) | BIT(F_DATA) | BIT(F_DATA_B) | BIT(F_FLOAT),
     0, "check every gradient against central differences", genrt_cmd_gradcheck, NULL, NULL, NULL},
    {"bench", BIT(F_STEPS) | BIT(F_THREADS) | BIT(F_SEED),
     0, "time training steps on random inputs, without I/O", genrt_cmd_bench, NULL, NULL, NULL},
    {"eval", BIT(F_CHECKPOINT) | BIT(F_DATA) | BIT(F_THREADS), BIT(F_CHECKPOINT),
     "VAEs: the negative ELBO per example, classifiers: the accuracy and cross-entropy, on "
     "the train and the test split (images: one set, train)",
     genrt_cmd_eval, has_eval, "VAEs and classifiers", NULL},
    {"reconstruct",
     BIT(F_CHECKPOINT) | BIT(F_N) | BIT(F_OUTPUT) | BIT(F_DATA) | BIT(F_THREADS) | BIT(F_NO_EMA),
     BIT(F_CHECKPOINT) | BIT(F_OUTPUT),
     "a .png of the first N test examples (images: train), each beside its reconstruction",
     genrt_cmd_reconstruct, has_elbo, "VAEs", NULL},
    {"translate",
     BIT(F_CHECKPOINT) | BIT(F_FROM) | BIT(F_N) | BIT(F_OUTPUT) | BIT(F_DATA) | BIT(F_DATA_B) |
         BIT(F_NO_EMA) |
         BIT(F_THREADS),
     BIT(F_CHECKPOINT) | BIT(F_OUTPUT),
     "translate the first N test examples (images: train) of a domain into a .png or .npy",
     genrt_cmd_translate, has_translate, "CycleGANs", NULL},
    {"features", BIT(F_CHECKPOINT) | BIT(F_INPUT) | BIT(F_OUTPUT) | BIT(F_THREADS),
     BIT(F_CHECKPOINT) | BIT(F_INPUT) | BIT(F_OUTPUT),
     "the penultimate-layer features and the logits of the examples in a .npy, into a .npy",
     genrt_cmd_features, has_classify, "classifiers", NULL},
    {"score",
     BIT(F_CHECKPOINT) | BIT(F_CLASSIFIER) | BIT(F_SPEC) | BIT(F_N) | BIT(F_SEED) |
         BIT(F_OUTPUT) | BIT(F_REFERENCE) | BIT(F_DATA) | BIT(F_DATA_B) | BIT(F_NO_EMA) |
         BIT(F_THREADS),
     0, "sample quality: fd, precision, recall (and label_acc) in a classifier's features; "
     "ring8: mode coverage", genrt_cmd_score, has_samples, "models that sample", NULL},
    {"report", BIT(F_OUTPUT), 0,
     "rebuild the report page of a train run's directory (train writes RUN_DIR/report.html)",
     genrt_cmd_report, NULL, NULL, "RUN_DIR"},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

/* ------------------------------------------------------------- messages */

int genrt_cli_fail(const struct genrt_cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: error: ", c->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int genrt_cli_fail_err(const struct genrt_cli *c, const struct genrt_err *err)
{
    return genrt_cli_fail(c, "%s", err->msg);
}

static int runs_for(const struct command *cmd, const struct genrt_model *m)
{
    return !cmd->when || cmd->when(m);
}

/* Flag k, if the model has it, as command cmd takes it. */
static int takes_flag(const struct command *cmd, const struct genrt_model *m, int k)
{
    const struct flag_def *fd = &flag_defs[k];
    return (cmd->flags & BIT(k)) && (!fd->when || fd->when(m));
}

static const char *flag_help(const struct genrt_model *m, int k, const char **suffix)
{
    const struct flag_def *fd = &flag_defs[k];
    *suffix = has_elbo(m) && fd->elbo_help ? fd->elbo_help : "";
    return fd->alt_when && fd->alt_when(m) ? fd->alt_help : fd->help;
}

/* " (fashion_mnist)", " (images, class 3)": the source in the usage text. */
static void print_source(FILE *f, const char *flag, const char *path, int kind, int cls,
                         long limit)
{
    fprintf(f, " %s %s (%s", flag, path && path[0] ? path : "(none)", genrt_data_kind_name(kind));
    if (cls >= 0)
        fprintf(f, ", class %d", cls);
    if (limit > 0)
        fprintf(f, ", the first %ld examples", limit);
    fprintf(f, ")");
}

static void usage(const struct genrt_cli *c, FILE *f)
{
    const struct genrt_model *m = c->m;
    unsigned listed = 0; /* the flags of the commands listed */
    fprintf(f, "usage: %s <command> [flags]\n\n", c->prog);
    fprintf(f, "Trains the %s \"%s\" compiled by genc from %s.\n\n", m->objective_name, m->name,
            m->spec);
    fprintf(f, "commands:\n");
    for (int i = 0; i < N_COMMANDS; i++) {
        const struct command *cmd = &commands[i];
        if (!runs_for(cmd, m))
            continue;
        fprintf(f, "  %-9s", cmd->name);
        if (cmd->operand)
            fprintf(f, " %s", cmd->operand);
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
    char lhs[F_COUNT][32];
    int width = 18; /* the widest flag, and at least this */
    for (int k = 0; k < F_COUNT; k++) {
        const struct flag_def *fd = &flag_defs[k];
        snprintf(lhs[k], sizeof lhs[k], "%s%s%s", fd->name, fd->arg ? " " : "",
                 fd->arg ? fd->arg : "");
        if (listed & BIT(k) && (int)strlen(lhs[k]) > width)
            width = (int)strlen(lhs[k]);
    }
    for (int k = 0; k < F_COUNT; k++) {
        if (!(listed & BIT(k)))
            continue;
        const char *suffix;
        const char *help = flag_help(m, k, &suffix);
        fprintf(f, "  %-*s %s%s\n", width, lhs[k], help, suffix);
    }
    fprintf(f, "\nspec defaults: --steps %ld --seed %" PRIu64, m->steps, m->seed);
    if (m->data_kind == GENRT_DATA_RING8)
        fprintf(f, " (data: ring8, generated)");
    else
        print_source(f, "--data", m->data_path, m->data_kind, m->data_class, m->data_limit);
    if (has_domain_b(m)) {
        const struct genrt_domain *b = m->domain_b;
        print_source(f, "--data-b", b->data_path, b->data_kind, b->data_class, b->data_limit);
        fprintf(f, "; domains %s (--data) and %s (--data-b)", m->domain_a, b->name);
    }
    if (m->n_classes > 0)
        fprintf(f, "; %s %d classes", m->classify ? "classifies" : "conditional on",
                m->n_classes);
    fprintf(f, "; bench times %d steps by default\n", GENRT_DEFAULT_BENCH_STEPS);
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

static int parse_flags(const struct genrt_cli *c, const struct command *cmd, int argc, char **argv,
                       struct genrt_opts *o)
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
        if (k < F_COUNT && (cmd->flags & BIT(k)) && flag_defs[k].who && !takes_flag(cmd, c->m, k))
            return genrt_cli_fail(c, "%s: %s is for %s only, and this model is not one",
                                  cmd->name, flag_defs[k].name, flag_defs[k].who);
        if (k == F_COUNT && arg[0] != '-' && cmd->operand && !o->operand) {
            o->operand = arg;
            continue;
        }
        if (k == F_COUNT || !takes_flag(cmd, c->m, k)) {
            if (arg[0] != '-')
                return genrt_cli_fail(c, "%s: unexpected argument '%s' (try '%s --help')",
                                      cmd->name, arg, c->prog);
            return genrt_cli_fail(c, "%s: unknown flag '%.*s' (try '%s --help')", cmd->name,
                                  (int)nlen, arg, c->prog);
        }
        const struct flag_def *fd = &flag_defs[k];
        if (o->has[k])
            return genrt_cli_fail(c, "%s: %s given twice", cmd->name, fd->name);
        o->has[k] = 1;
        if (fd->kind == FK_BOOL) {
            if (eq)
                return genrt_cli_fail(c, "%s: %s takes no value", cmd->name, fd->name);
            *(k == F_FORCE ? &o->force : k == F_NO_EMA ? &o->no_ema
              : k == F_REFERENCE ? &o->reference : k == F_PER_RANK_BATCH ? &o->per_rank_batch
              : k == F_FLOAT ? &o->use_float
              : &o->quiet) = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc)
                return genrt_cli_fail(c, "%s: %s needs a value (%s)", cmd->name, fd->name,
                                      fd->arg);
            val = argv[++i];
        }
        if (fd->kind == FK_CHOICE) {
            int v = 0;
            while (fd->choices[v] && strcmp(fd->choices[v], val))
                v++;
            if (!fd->choices[v])
                return genrt_cli_fail(c, "%s: %s expects %s, %s or %s, got '%s'", cmd->name,
                                      fd->name, fd->choices[0], fd->choices[1], fd->choices[2],
                                      val);
            o->on_nonfinite = v; /* the only choice flag */
        } else if (fd->kind == FK_STRING) {
            if (!*val)
                return genrt_cli_fail(c, "%s: %s needs a non-empty value", cmd->name, fd->name);
            const char **dst = k == F_DATA ? &o->data : k == F_DATA_B ? &o->data_b
                             : k == F_FROM ? &o->from : k == F_OUT ? &o->out
                             : k == F_RESUME ? &o->resume : k == F_CHECKPOINT ? &o->checkpoint
                             : k == F_INPUT ? &o->input : k == F_CLASSIFIER ? &o->classifier
                             : k == F_SPEC ? &o->spec : &o->output;
            *dst = val;
        } else if (fd->kind == FK_U64) {
            if (parse_u64(val, &o->seed))
                return genrt_cli_fail(c, "%s: %s expects an unsigned 64-bit integer, got '%s'",
                                      cmd->name, fd->name, val);
        } else {
            uint64_t x;
            if (parse_u64(val, &x) || x < (uint64_t)fd->min || x > (uint64_t)fd->max)
                return genrt_cli_fail(c, "%s: %s expects an integer from %ld to %ld, got '%s'",
                                      cmd->name, fd->name, fd->min, fd->max, val);
            long *dst = k == F_STEPS ? &o->steps : k == F_THREADS ? &o->threads
                      : k == F_LABEL ? &o->label : &o->n;
            *dst = (long)x;
        }
    }
    if (o->help)
        return 0;
    if (cmd->operand && !o->operand)
        return genrt_cli_fail(c, "%s: missing %s (try '%s --help')", cmd->name, cmd->operand,
                              c->prog);
    for (int k = 0; k < F_COUNT; k++)
        if ((cmd->required & BIT(k)) && !o->has[k])
            return genrt_cli_fail(c, "%s: missing %s %s (try '%s --help')", cmd->name,
                                  flag_defs[k].name, flag_defs[k].arg, c->prog);
    return 0;
}

/* ------------------------------------------------------- model checking */

/* A second domain: its name, domain A's, and both image sources. */
static int check_domains(const struct genrt_cli *c, const struct genrt_model *m, const char *what)
{
    if (!m->domain_a || !m->domain_b->name)
        return genrt_cli_fail(c, "%s error: a domain_b without domain_a or domain_b->name", what);
    for (int dom = GENRT_DOMAIN_A; dom <= GENRT_DOMAIN_B; dom++) {
        struct genrt_model md;
        genrt_data_domain_model(m, dom, &md);
        if ((md.data_kind != GENRT_DATA_FASHION_MNIST && md.data_kind != GENRT_DATA_IMAGES) ||
            (md.img_c != 1 && md.img_c != 3) || md.img_h <= 0 || md.img_w <= 0)
            return genrt_cli_fail(c, "%s error: domain %s is %s data of %dx%dx%d, not images",
                                  what, genrt_run_domain_name(m, dom),
                                  genrt_data_kind_name(md.data_kind), md.img_c, md.img_h,
                                  md.img_w);
        if ((long)md.img_c * md.img_h * md.img_w != md.sample_size)
            return genrt_cli_fail(c, "%s error: domain %s has images %dx%dx%d but sample_size %ld",
                                  what, genrt_run_domain_name(m, dom), md.img_c, md.img_h,
                                  md.img_w, md.sample_size);
    }
    return 0;
}

/* The entry points come in groups, each with what it needs from the rest
 * of the descriptor; which ones a model has is its own business. */
static int check_entry_points(const struct genrt_cli *c, const struct genrt_model *m,
                              const char *what)
{
    if (!m->set_input || !m->train_step)
        return genrt_cli_fail(c, "%s error: missing step functions", what);
    if (!m->generate && !m->translate && !m->classify)
        return genrt_cli_fail(c, "%s error: neither generate, translate nor classify", what);
    if (m->classify && (m->n_classes < 1 || m->n_features < 1 || m->generate || m->translate))
        return genrt_cli_fail(c, "%s error: classify with %d classes and %d features (and "
                              "nothing else to run)", what, m->n_classes, m->n_features);
    if (!m->elbo_batch != !m->reconstruct)
        return genrt_cli_fail(c, "%s error: %s without %s (the two come together)", what,
                              m->elbo_batch ? "elbo_batch" : "reconstruct",
                              m->elbo_batch ? "reconstruct" : "elbo_batch");
    /* translate takes no labels (a conditional VAE's elbo_batch and
     * reconstruct read theirs from GENRT_SLOT_Y) */
    if (m->translate && m->n_classes != 0)
        return genrt_cli_fail(c, "%s error: translate takes no labels, but the model has %d "
                              "classes", what, m->n_classes);
    if (m->translate && !m->domain_b)
        return genrt_cli_fail(c, "%s error: translate without domain_a or domain_b", what);
    if (m->domain_b && check_domains(c, m, what))
        return 1;
    if (m->generate && m->latent_dim <= 0)
        return genrt_cli_fail(c, "%s error: generate with latent_dim %d (it needs a latent)",
                              what, m->latent_dim);
    return 0;
}

/* The emitted model is trusted, but a wrong table would corrupt memory
 * silently; these checks turn a compiler bug into a clear message. */
static int check_model(const struct genrt_cli *c, const struct genrt_model *m)
{
    const char *what = m == c->m64 ? "double-precision model" : "model";
    if (m->abi != GENRT_ABI)
        return genrt_cli_fail(c, "%s was built for runtime ABI %d, this runtime has ABI %d", what,
                              m->abi, GENRT_ABI);
    if (m->real_size != 4 && m->real_size != 8)
        return genrt_cli_fail(c, "%s error: real_size %d", what, m->real_size);
    if (!m->objective_name || !m->objective_name[0])
        return genrt_cli_fail(c, "%s error: no objective_name", what);
    if (check_entry_points(c, m, what))
        return 1;
    if (m->batch <= 0 || m->latent_dim < 0 || m->sample_size <= 0)
        return genrt_cli_fail(c, "%s error: batch %d, latent_dim %d, sample_size %ld", what,
                              m->batch, m->latent_dim, m->sample_size);
    if (m->n_classes < 0 || m->n_classes > GENRT_DATA_MAX_CLASSES)
        return genrt_cli_fail(c, "%s error: n_classes %d (must be 0 to %d)", what, m->n_classes,
                              GENRT_DATA_MAX_CLASSES);
    if (m->real_batches < 1 || m->latent_batches < 0 ||
        (m->latent_batches > 0 && m->latent_dim <= 0))
        return genrt_cli_fail(c, "%s error: real_batches %d, latent_batches %d, latent_dim %d "
                              "(real_batches must be at least 1, latent_batches at least 0, and "
                              "latent batches need a latent)", what, m->real_batches,
                              m->latent_batches, m->latent_dim);
    if (m->latent_kind != GENRT_LATENT_NORMAL && m->latent_kind != GENRT_LATENT_UNIFORM)
        return genrt_cli_fail(c, "%s error: unknown latent kind %d", what, m->latent_kind);
    if (m->img_c > 0 && (long)m->img_c * m->img_h * m->img_w != m->sample_size)
        return genrt_cli_fail(c, "%s error: images %dx%dx%d but sample_size %ld", what, m->img_c,
                              m->img_h, m->img_w, m->sample_size);
    if (m->n_state < 0 || (m->n_state > 0 && !m->state) || m->n_metrics < 0 ||
        (m->n_metrics > 0 && !m->metric_names))
        return genrt_cli_fail(c, "%s error: bad state or metrics table", what);
    for (int i = 0; i < m->n_tensors; i++) {
        const struct genrt_tensor *t = &m->tensors[i];
        if (t->offset < 0 || t->size < 0 || t->offset + t->size > m->n_state ||
            t->net < 0 || t->net >= m->n_nets)
            return genrt_cli_fail(c, "%s error: tensor %s lies outside the state or its net", what,
                                  t->name);
        if (t->role == GENRT_PARAM && t->init == GENRT_INIT_FANIN_UNIFORM && t->fan_in <= 0)
            return genrt_cli_fail(c, "%s error: tensor %s has fan_in %d", what, t->name,
                                  t->fan_in);
        if (t->role == GENRT_EMA &&
            (t->source < 0 || t->source >= m->n_tensors || m->tensors[t->source].role != GENRT_PARAM ||
             m->tensors[t->source].size != t->size))
            return genrt_cli_fail(c, "%s error: moving average %s has no parameter of its size", what,
                                  t->name);
    }
    return 0;
}

/* ----------------------------------------------------------------- main */

/* A command this model does not have. */
static int refuse(const struct genrt_cli *c, const struct command *cmd)
{
    const struct genrt_model *m = c->m;
    if (cmd->run == genrt_cmd_sample && has_translate(m))
        return genrt_cli_fail(c, "sample: this model is a %s, which translates images and has no "
                              "latent space to sample from; use translate --from %s|%s",
                              m->objective_name, m->domain_a,
                              genrt_run_domain_name(m, GENRT_DOMAIN_B));
    return genrt_cli_fail(c, "%s: this model is a %s; %s is for %s only", cmd->name,
                          m->objective_name, cmd->name, cmd->who);
}

static int run_main(struct genrt_cli *c, const struct genrt_model *m, const struct genrt_model *m64,
                    int argc, char **argv);

int genrt_main(const struct genrt_model *m, const struct genrt_model *m64, int argc, char **argv)
{
    struct genrt_cli c = {"trainer", m, m64};
    char prog[300];
    genrt_mpi_init(&argc, &argv);
    if (argc > 0 && argv[0] && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        c.prog = slash && slash[1] ? slash + 1 : argv[0];
    }
    if (genrt_mpi_size() > 1 && genrt_mpi_rank() > 0) { /* "dcgan (rank 3)" */
        snprintf(prog, sizeof prog, "%.200s (rank %d)", c.prog, genrt_mpi_rank());
        c.prog = prog;
    }
    int rc = run_main(&c, m, m64, argc, argv);
    genrt_mpi_finalize();
    return rc;
}

static int run_main(struct genrt_cli *cp, const struct genrt_model *m, const struct genrt_model *m64,
                    int argc, char **argv)
{
    struct genrt_cli c = *cp;
    if (check_model(&c, m) || (m64 && check_model(&c, m64)))
        return 1;
    /* A file over RLIMIT_FSIZE is then a write error (EFBIG) that names the
     * file and leaves the old one, not a core dump. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2)
        return genrt_cli_fail(&c, "missing command (try '%s --help')", c.prog);
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        if (argc > 2)
            return genrt_cli_fail(&c, "help takes no arguments");
        usage(&c, stdout);
        return 0;
    }
    if (!strcmp(name, "--version")) {
        if (argc > 2)
            return genrt_cli_fail(&c, "--version takes no arguments");
        printf("%s: model %s from %s; genc runtime ABI %d; %s reals\n", c.prog, m->name, m->spec,
               GENRT_ABI, m->real_size == 8 ? "double" : "float");
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i].name))
            continue;
        if (!runs_for(&commands[i], m))
            return refuse(&c, &commands[i]);
        if (genrt_mpi_size() > 1 && commands[i].run != genrt_cmd_train)
            return genrt_mpi_rank() > 0 ? 1 /* rank 0 says why */
                   : genrt_cli_fail(&c, "%s runs as one process; of the subcommands only "
                                    "train runs on %d ranks", name, genrt_mpi_size());
        struct genrt_opts o;
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
    return genrt_cli_fail(&c, "unknown command '%s' (try '%s --help')", name, c.prog);
}
