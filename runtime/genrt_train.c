/* genrt_train.c: `X train`: the training loop, metrics.csv, previews and
 * checkpoints, and what keeps a run's files safe:
 *  - a fresh run refuses a directory that holds a checkpoint (--resume
 *    continues it, --force replaces it); one trainer at a time holds a
 *    directory (flock), and it first removes the temporaries a killed run
 *    left there;
 *  - metrics.csv: a fresh run writes a temporary that replaces the old file
 *    with the run's first checkpoint; a resumed run appends in place, after
 *    the rows its checkpoint covers (the rows of a killed run's later steps
 *    are cut);
 *  - the metrics are checked every step and the whole state before every
 *    checkpoint (and after every step with --on-nonfinite skip): nothing
 *    non-finite is ever saved;
 *  - SIGINT, SIGTERM and SIGHUP end the run after the current step, with a
 *    checkpoint, and exit 128 + the signal; a second one exits at once,
 *    removing the temporaries being written and touching nothing else;
 *  - sessions.csv and report.html (genrt_report.h) follow each checkpoint:
 *    the sessions every time, the report at the first, at the last and,
 *    between them, when it costs at most REPORT_SHARE of the time since
 *    the last one.  A report that cannot be written is a warning: the
 *    checkpoint is what a run must not lose.
 *  - data parallel (a trainer built with MPI=1, genrt_mpi.h): every rank
 *    runs this loop on the same global batches, each computing its rows of
 *    them; rank 0 alone writes files and prints progress, and tells the
 *    others how each of its writes went, so all stop together. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>

#include "genrt_file.h"
#include "genrt_mpi.h"
#include "genrt_progress.h"
#include "genrt_report.h"

#define PREVIEW_IMAGES 64      /* an 8x8 grid */
#define PREVIEW_POINTS 1024    /* a scatter plot of 2-D samples */
#define MAX_SKIPS_IN_A_ROW 100 /* --on-nonfinite skip: a run that cannot take a step stops */
#define MAX_SKIP_WARNINGS 10   /* skipped steps or unsaved checkpoints; then a count at the end */
#define REPORT_SHARE 0.05      /* of the run's time, at most, goes to rewriting report.html */

/* -------------------------------------------------------------- signals */

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_STOP_SIGNALS ((int)(sizeof stop_signals / sizeof stop_signals[0]))

static volatile sig_atomic_t stop_signal; /* the first stop signal, or 0 */

static void on_stop_signal(int sig)
{
    if (stop_signal) {
        /* the second: at once, leaving every finished file as it was */
        genrt_file_unlink_live();
        _exit(128 + sig);
    }
    stop_signal = sig;
}

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
}

/* Catches the stop signals that are not ignored (as nohup ignores SIGHUP,
 * and a shell without job control SIGINT for `X train &`). */
static void catch_stop_signals(struct sigaction old[N_STOP_SIGNALS])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    stop_signal = 0;
    for (int i = 0; i < N_STOP_SIGNALS; i++) {
        sigaction(stop_signals[i], NULL, &old[i]);
        if (old[i].sa_handler != SIG_IGN)
            sigaction(stop_signals[i], &sa, NULL);
    }
}

static void restore_stop_signals(const struct sigaction old[N_STOP_SIGNALS])
{
    for (int i = 0; i < N_STOP_SIGNALS; i++)
        sigaction(stop_signals[i], &old[i], NULL);
}

/* -------------------------------------------------------------- metrics */

/* The metrics.csv of a run being resumed from `step`: *keep gets the
 * length of its header and the rows up to `step` (later rows belong to
 * steps that will be redone; a half-written last line is dropped), and
 * *seconds the last kept time so the column goes on from there. */
static int metrics_keep(const char *path, const char *header, long step, size_t *keep,
                        double *seconds, struct genrt_err *err)
{
    unsigned char *buf;
    size_t len;
    size_t hlen = strlen(header);
    *seconds = 0.0;
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
    *keep = (size_t)(end - s);
    free(buf);
    return 0;
}

/* ------------------------------------------------------------ the run */

/* Everything one `X train` holds. */
struct trainer {
    const struct genrt_cli *c;
    const struct genrt_opts *o;
    const struct genrt_model *m;
    struct genrt_model mb; /* two domains: the model as domain B's loader sees it */
    int two;               /* the model has a domain B */
    int mode;              /* enum genrt_nonfinite */
    long steps, start;     /* this run does steps start+1 .. steps */
    struct genrt_ckpt ck;  /* --resume: the checkpoint, until its state is loaded */
    struct genrt_run_state rs;
    struct genrt_data data, data_b;

    char *default_dir, *metrics_path, *ckpt_path, *samples_dir, *header;
    char *sessions_path, *report_path;
    struct genrt_report_session *ss; /* sessions.csv's rows, this run's last */
    int n_ss;
    struct genrt_report report;
    long report_step;     /* the step of the last report.html this run wrote, or -1 */
    double report_at;     /* ... and when */
    int report_off;       /* a report failed: warned once, not tried again */
    const char *dir;
    int lock_fd;
    struct genrt_file mf; /* metrics.csv */
    int mf_open;
    int mf_pending;       /* mf is a temporary, published with the run's first checkpoint */
    int had_metrics;      /* a metrics.csv was there before this run */
    size_t keep;          /* --resume: the bytes of metrics.csv the checkpoint covers */
    double seconds0;

    long n_real, n_z, n_preview, pcols;
    float *real, *real_b, *z, *y, *pz, *py, *px;
    int *labels;
    double *metrics;
    void *snapshot; /* --on-nonfinite skip: the state before the step */
    struct genrt_cycle_preview cp;

    struct genrt_progress prog;
    int progress_on;
    double t0;
    long saved_step; /* the step of the last checkpoint this run wrote, or -1 */
    struct genrt_opts score_o; /* score_every: score's request */
    long skipped, skips_in_a_row;
    long unsaved; /* --on-nonfinite ignore: checkpoints not saved for a non-finite state */
    char unsaved_what[256]; /* ... and the last one's first non-finite value */

    int rank, ranks;        /* data parallel: this process's rank of how many (else 0 of 1) */
    const struct genrt_mpi_step *mstep; /* ... the step each rank runs, or NULL for train_step */
    long global, row0;      /* the global batch (m->batch but with --per-rank-batch), and
                             * this rank's first row of it */
};

/* What rank 0 returned, on every rank (a status of a write only it does). */
static int from_rank0(const struct trainer *tr, int r)
{
    return tr->ranks > 1 ? genrt_mpi_bcast(r) : r;
}

/* Ranks other than 0 hold their messages while they start (stderr into
 * memory), and print them only when rank 0 did not fail too: a failure
 * every rank has is said once, by rank 0. */
static FILE *held_stderr;
static char *held_buf;
static size_t held_len;

static void hold_messages(const struct trainer *tr)
{
#ifdef __GLIBC__ /* where stderr may be assigned */
    FILE *f;
    if (tr->rank == 0 || held_stderr || !(f = open_memstream(&held_buf, &held_len)))
        return;
    held_stderr = stderr;
    stderr = f;
#else
    (void)tr;
#endif
}

static void release_messages(int show)
{
    if (!held_stderr)
        return;
    fclose(stderr);
    stderr = held_stderr;
    held_stderr = NULL;
    if (show)
        fwrite(held_buf, 1, held_len, stderr);
    free(held_buf);
    held_buf = NULL;
}

/* How long the ranks wait for each other to start (GENC_MPI_TIMEOUT
 * seconds, default 600): a rank stuck on its data or its checkpoint ends
 * the job instead of hanging it. */
static double start_timeout(void)
{
    const char *s = getenv("GENC_MPI_TIMEOUT");
    char *end;
    double v = s ? strtod(s, &end) : 0;
    return s && *s && !*end && v > 0 ? v : 600;
}

/* A status every rank had: the worst of them.  Rank 0 names a failure that
 * was another rank's alone (that rank printed why).  The first call waits
 * start_timeout() at most. */
static int all_ranks(const struct trainer *tr, int rc)
{
    static int started;
    if (tr->ranks == 1)
        return rc;
    int worst, late = 0;
    double limit = start_timeout();
    worst = started++ ? genrt_mpi_max(rc) : genrt_mpi_max_within(rc, limit, &late);
    if (late) {
        release_messages(1);
        fprintf(stderr, "%s: error: train: the other ranks did not start within %.0f s "
                "(a rank stuck reading its data or checkpoint?; GENC_MPI_TIMEOUT sets the "
                "limit); ending the job\n", tr->c->prog, limit);
        genrt_mpi_abort(1);
    }
    int rc0 = genrt_mpi_bcast(rc);
    release_messages(rc && !rc0);
    if (worst && !rc && tr->rank == 0)
        genrt_cli_fail(tr->c, "train: another rank failed to start (its message says why); "
                       "stopped");
    return worst;
}

/* Data parallel: the step of this trainer's ranks, and their rows. */
static int choose_mpi_step(struct trainer *tr)
{
    const struct genrt_model *m = tr->m;
    int R = tr->ranks, any = tr->o->per_rank_batch;
    tr->global = any ? (long)R * m->batch : m->batch;
    if (R == 1)
        return 0; /* train_step itself */
    if (m->n_mpi_steps == 0)
        return genrt_cli_fail(tr->c, "train: %d ranks, but this trainer has no data-parallel "
                              "steps (build it with make %s MPI=1)", R, m->name);
    if (!any && m->batch % R != 0)
        return genrt_cli_fail(tr->c, "train: the batch of %d does not split among %d ranks: "
                              "run a number of ranks that divides it, or give "
                              "--per-rank-batch (a batch of %d on every rank, %ld in all)",
                              m->batch, R, m->batch, (long)R * m->batch);
    for (int i = 0; i < m->n_mpi_steps; i++)
        if (m->mpi_steps[i].ranks == (any ? -1 : R))
            tr->mstep = &m->mpi_steps[i];
    if (!tr->mstep)
        return genrt_cli_fail(tr->c, "train: this trainer has no step for %d ranks sharing a "
                              "batch (genc emits them up to 64 ranks); give --per-rank-batch", R);
    tr->row0 = (long)tr->rank * tr->mstep->batch;
    return 0;
}

/* zlib's CRC of the state, the seed and the first step: what every rank
 * must agree on before the first step (the data's order follows from them). */
static uint64_t state_hash(const struct trainer *tr)
{
    uint64_t more[2] = {tr->rs.seed, (uint64_t)tr->start};
    uLong h = crc32(0L, tr->m->state, (uInt)genrt_run_state_bytes(tr->m));
    return crc32(h, (const Bytef *)more, sizeof more);
}

/* Ends the live progress line, so that a message gets a line of its own. */
static void break_progress(struct trainer *tr)
{
    if (tr->progress_on)
        genrt_progress_end(&tr->prog);
}

static int fail_err(struct trainer *tr, const struct genrt_err *err)
{
    break_progress(tr);
    return genrt_cli_fail_err(tr->c, err);
}

static void warn(struct trainer *tr, const char *fmt, ...) GENRT_PRINTF(2, 3);

static void warn(struct trainer *tr, const char *fmt, ...)
{
    if (tr->rank > 0)
        return;
    break_progress(tr);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: warning: ", tr->c->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
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

/* This run's row of sessions.csv after the rows a resumed run keeps (those
 * of the steps up to its checkpoint's); a fresh run's replaces the file. */
static int prepare_sessions(struct trainer *tr)
{
    struct genrt_err err;
    tr->sessions_path = genrt_file_join(tr->dir, "sessions.csv");
    tr->report_path = genrt_file_join(tr->dir, "report.html");
    if (tr->o->resume) {
        if (genrt_report_read_sessions(tr->sessions_path, &tr->ss, &tr->n_ss, &err))
            return genrt_cli_fail(tr->c, "train: %s (remove the file to resume without the "
                                  "record of the earlier sessions)", err.msg);
        int n = 0;
        for (int i = 0; i < tr->n_ss; i++) {
            if (tr->ss[i].first > tr->start)
                continue;
            if (tr->ss[i].last > tr->start)
                tr->ss[i].last = tr->start;
            tr->ss[n++] = tr->ss[i];
        }
        tr->n_ss = n;
    }
    tr->ss = genrt_file_xrealloc(tr->ss, (size_t)(tr->n_ss + 1) * sizeof *tr->ss);
    struct genrt_report_session *me = &tr->ss[tr->n_ss++];
    memset(me, 0, sizeof *me);
    me->first = tr->start + 1;
    me->last = tr->start;
    me->threads = tr->o->has[F_THREADS] ? (int)tr->o->threads : GENRT_DEFAULT_THREADS;
    me->started = time(NULL);
    genrt_report_cpu(me->cpu, sizeof me->cpu);
    return 0;
}

/* The checks before anything is written: flags, the checkpoint to resume,
 * the data, the output directory.  Returns the exit status (0: go on). */
static int prepare(struct trainer *tr)
{
    const struct genrt_cli *c = tr->c;
    const struct genrt_opts *o = tr->o;
    const struct genrt_model *m = tr->m;
    struct genrt_err err;
    if (tr->steps < 1)
        return genrt_cli_fail(c, "train: the spec asks for %ld steps; give --steps N", tr->steps);
    if (choose_mpi_step(tr))
        return 1;
    if (o->resume && o->force)
        return genrt_cli_fail(c, "train: --resume continues a run and --force starts one afresh: "
                              "give one of them");
    if (o->resume) {
        if (genrt_run_read_checkpoint(m, o->resume, &tr->ck, &err) ||
            genrt_run_decode(m, &tr->ck, o->resume, &tr->rs, &err))
            return genrt_cli_fail_err(c, &err);
        if (o->has[F_SEED] && o->seed != tr->rs.seed)
            return genrt_cli_fail(c, "train: --seed %" PRIu64 " differs from the seed %" PRIu64
                                  " of the run in %s", o->seed, tr->rs.seed, o->resume);
        tr->start = (long)tr->ck.step; /* at most GENRT_CKPT_MAX_STEP */
        if (tr->steps <= tr->start)
            return genrt_cli_fail(c, "train: %s is already at step %ld; --steps %ld leaves "
                                  "nothing to do", o->resume, tr->start, tr->steps);
    }
    if (genrt_data_open(&tr->data, m, o->data, tr->rs.seed, &err))
        return genrt_cli_fail_err(c, &err);
    if (tr->data.kind != GENRT_DATA_RING8 && tr->global > tr->data.n) {
        if (tr->two)
            return genrt_cli_fail(c, "train: the data set of domain %s has %ld examples, fewer "
                                  "than one batch of %ld", m->domain_a, tr->data.n, tr->global);
        return genrt_cli_fail(c, "train: the data set has %ld examples, fewer than one batch of "
                              "%ld", tr->data.n, tr->global);
    }
    if (o->resume && genrt_data_set_state(&tr->data, &tr->rs.data, &err))
        return genrt_cli_fail(c, "checkpoint %s: %s", o->resume, err.msg);
    if (tr->two) {
        genrt_data_domain_model(m, GENRT_DOMAIN_B, &tr->mb);
        if (genrt_run_open_domain(m, GENRT_DOMAIN_B, o->data_b, GENRT_SPLIT_MODEL, tr->rs.seed,
                                  &tr->data_b, &err))
            return genrt_cli_fail_err(c, &err);
        if (tr->global > tr->data_b.n)
            return genrt_cli_fail(c, "train: the data set of domain %s has %ld examples, fewer "
                                  "than one batch of %ld",
                                  genrt_run_domain_name(m, GENRT_DOMAIN_B), tr->data_b.n,
                                  tr->global);
        if (o->resume && genrt_data_set_state(&tr->data_b, &tr->rs.data_b, &err))
            return genrt_cli_fail(c, "checkpoint %s: %s", o->resume, err.msg);
    }

    tr->default_dir = genrt_file_join("runs", m->name);
    tr->dir = o->out ? o->out : tr->default_dir;
    tr->metrics_path = genrt_file_join(tr->dir, "metrics.csv");
    tr->ckpt_path = genrt_file_join(tr->dir, "checkpoint.ckpt");
    tr->samples_dir = genrt_file_join(tr->dir, "samples");
    tr->header = genrt_run_metrics_header(m);
    /* score_every: the classifier and its trainer are there before a step runs */
    if (m->score_every) {
        tr->score_o = *o;
        tr->score_o.classifier = m->score_classifier;
        tr->score_o.spec = NULL;
        tr->score_o.reference = 0;
        if (genrt_scoring_check(c, &tr->score_o))
            return 1;
    }
    /* a 300-step run is not replaced by a 5-step one by accident */
    if (!o->resume && !o->force && access(tr->ckpt_path, F_OK) == 0)
        return genrt_cli_fail(c, "train: %s already holds a checkpoint; continue that run with "
                              "--resume %s, or start afresh over it with --force", tr->dir,
                              tr->ckpt_path);
    tr->had_metrics = access(tr->metrics_path, F_OK) == 0;
    if (o->resume && tr->had_metrics &&
        metrics_keep(tr->metrics_path, tr->header, tr->start, &tr->keep, &tr->seconds0, &err))
        return genrt_cli_fail_err(c, &err);
    return prepare_sessions(tr);
}

static int ours_in_dir(const char *name)
{
    return !strcmp(name, "checkpoint.ckpt") || !strcmp(name, "metrics.csv") ||
           !strcmp(name, "sessions.csv") || !strcmp(name, "report.html");
}

static int ours_in_samples(const char *name)
{
    size_t n = strlen(name);
    return n > 9 && !strncmp(name, "step-", 5) && !strcmp(name + n - 4, ".png");
}

/* The output directory, held for this run, without a killed run's
 * temporaries, and metrics.csv open for the new rows. */
static int open_outputs(struct trainer *tr)
{
    const struct genrt_cli *c = tr->c;
    struct genrt_err err;
    if (genrt_file_mkdirs(tr->samples_dir, &err))
        return genrt_cli_fail_err(c, &err);
    tr->lock_fd = open(tr->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tr->lock_fd >= 0 && flock(tr->lock_fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
        return genrt_cli_fail(c, "train: another trainer is writing to %s (wait for it to end, "
                              "or give another --out)", tr->dir);
    int n1 = genrt_file_remove_stale(tr->dir, ours_in_dir, &err);
    int n2 = n1 < 0 ? -1 : genrt_file_remove_stale(tr->samples_dir, ours_in_samples, &err);
    if (n1 < 0 || n2 < 0)
        return genrt_cli_fail_err(c, &err);
    if (n1 + n2 > 0 && !tr->o->quiet)
        fprintf(stderr, "%s: removed %d temporary file%s a killed run left in %s\n", c->prog,
                n1 + n2, n1 + n2 == 1 ? "" : "s", tr->dir);
    if (tr->o->resume && tr->had_metrics) {
        if (genrt_file_append(&tr->mf, tr->metrics_path, tr->keep, &err))
            return genrt_cli_fail_err(c, &err);
    } else {
        if (genrt_file_create(&tr->mf, tr->metrics_path, &err))
            return genrt_cli_fail_err(c, &err);
        fprintf(tr->mf.f, "%s\n", tr->header);
        tr->mf_pending = 1;
    }
    tr->mf_open = 1;
    return 0;
}

/* The state, and the fixed inputs of the previews.  Fixed preview latents
 * come from their own stream: previews never shift the training streams,
 * and every preview shows the same z.  A conditional model's image grid
 * has a row of GENRT_CLASS_COLS per class.  A model without generate
 * previews translations of fixed examples instead. */
static void set_up_state(struct trainer *tr)
{
    const struct genrt_model *m = tr->m;
    genrt_run_compute_setup(tr->o);
    if (tr->o->resume) {
        memcpy(m->state, tr->ck.state, genrt_run_state_bytes(m));
    } else {
        genrt_run_init_state(m, tr->rs.seed);
        genrt_rng_seed(&tr->rs.latent, genrt_rng_derive(tr->rs.seed, GENRT_STREAM_LATENT));
    }
    genrt_ckpt_free(&tr->ck);

    int image = genrt_run_is_image(m);
    tr->n_preview = image ? PREVIEW_IMAGES : PREVIEW_POINTS;
    if (image && m->n_classes > 0) {
        tr->pcols = GENRT_CLASS_COLS;
        tr->n_preview = tr->pcols * m->n_classes;
    }
    if (m->translate && !m->generate) {
        genrt_cycle_preview_init(&tr->cp, m, &tr->data, &tr->data_b);
    } else if (m->generate) {
        struct genrt_rng prng;
        genrt_rng_seed(&prng, genrt_rng_derive(tr->rs.seed, GENRT_STREAM_PREVIEW));
        tr->pz = genrt_file_xmalloc((size_t)(tr->n_preview * m->latent_dim) * sizeof *tr->pz);
        tr->px = genrt_file_xmalloc((size_t)(tr->n_preview * m->sample_size) * sizeof *tr->px);
        genrt_run_fill_latent(m, &prng, tr->pz, tr->n_preview * m->latent_dim);
        tr->py = genrt_sample_labels(m, tr->n_preview, -1, tr->pcols);
    }

    /* One step takes real_batches real and latent_batches latent batches
     * (two domains: real_batches of each). */
    tr->n_real = (long)m->real_batches * tr->global;
    tr->n_z = (long)m->latent_batches * tr->global * m->latent_dim;
    tr->real = genrt_file_xmalloc((size_t)tr->n_real * (size_t)m->sample_size * sizeof(float));
    if (tr->two)
        tr->real_b = genrt_file_xmalloc((size_t)tr->n_real * (size_t)tr->mb.sample_size *
                                        sizeof(float));
    if (tr->n_z > 0)
        tr->z = genrt_file_xmalloc((size_t)tr->n_z * sizeof(float));
    if (m->n_classes > 0) {
        tr->y = genrt_file_xmalloc((size_t)tr->n_real * sizeof(float));
        tr->labels = genrt_file_xmalloc((size_t)tr->n_real * sizeof(int));
    }
    tr->metrics = genrt_file_xcalloc((size_t)m->n_metrics + 1, sizeof(double));
    if (tr->mode == GENRT_NONFINITE_SKIP)
        tr->snapshot = genrt_file_xmalloc(genrt_run_state_bytes(m));
}

/* slot's global batch, or this rank's rows of it */
static void set_input(const struct trainer *tr, int slot, const float *src)
{
    if (tr->mstep)
        tr->m->set_input_rows(slot, src, tr->global, tr->row0, tr->mstep->batch);
    else
        tr->m->set_input(slot, src);
}

static void load_inputs(struct trainer *tr)
{
    const struct genrt_model *m = tr->m;
    int batch = (int)tr->global; /* at most the data set's size */
    next_real_batches(m, &tr->data, tr->real, tr->y, tr->labels, m->real_batches, batch);
    set_input(tr, GENRT_SLOT_X, tr->real);
    if (tr->two) {
        next_real_batches(&tr->mb, &tr->data_b, tr->real_b, NULL, NULL, m->real_batches, batch);
        set_input(tr, GENRT_SLOT_XB, tr->real_b);
    }
    if (tr->n_z > 0) {
        genrt_run_fill_latent(m, &tr->rs.latent, tr->z, tr->n_z);
        set_input(tr, GENRT_SLOT_Z, tr->z);
    }
    if (tr->y)
        set_input(tr, GENRT_SLOT_Y, tr->y);
}

/* "loss_D is nan": the first metric that is not finite, into what; 0 if
 * all are. */
static int bad_metric(const struct trainer *tr, char *what, size_t n)
{
    for (int i = 0; i < tr->m->n_metrics; i++) {
        double v = tr->metrics[i];
        if (v - v != 0.0) { /* NaN or an infinity */
            snprintf(what, n, "%s is %s", tr->m->metric_names[i],
                     v != v ? "nan" : v > 0 ? "inf" : "-inf");
            return 1;
        }
    }
    return 0;
}

/* "G.l1.weight[17] is nan": the first state value that is not finite, by
 * its tensor; 0 if all are. */
static int bad_state(const struct trainer *tr, char *what, size_t n)
{
    const struct genrt_model *m = tr->m;
    long long i = genrt_ckpt_first_nonfinite(m->state, (uint32_t)m->real_size,
                                             (uint64_t)m->n_state);
    if (i < 0)
        return 0;
    const char *v = genrt_ckpt_value_name(m->state, (uint32_t)m->real_size, (uint64_t)i);
    for (int k = 0; k < m->n_tensors; k++) {
        const struct genrt_tensor *t = &m->tensors[k];
        if (i >= t->offset && i < t->offset + t->size) {
            snprintf(what, n, "%s[%lld] is %s", t->name, i - t->offset, v);
            return 1;
        }
    }
    snprintf(what, n, "state value %lld is %s", i, v);
    return 1;
}

/* Stops the run on a non-finite value: exit status 1. */
static int stop_nonfinite(struct trainer *tr, long t, const char *what)
{
    break_progress(tr);
    if (tr->saved_step >= 0)
        return genrt_cli_fail(tr->c, "train: step %ld: %s; stopped (%s keeps step %ld, the last "
                              "good one; --on-nonfinite skip would undo such steps)", t, what,
                              tr->ckpt_path, tr->saved_step);
    return genrt_cli_fail(tr->c, "train: step %ld: %s; stopped before this run saved a "
                          "checkpoint (--on-nonfinite skip would undo such steps)", t, what);
}

/* sessions.csv and report.html after the checkpoint of step saved_step;
 * the report only when forced or cheap enough (REPORT_SHARE). */
static void write_report(struct trainer *tr, int force)
{
    struct genrt_err err;
    if (tr->report_off || tr->saved_step < 0)
        return;
    double now = genrt_progress_now();
    if (!force && tr->report_step >= 0 &&
        now - tr->report_at < tr->report.last_cost / REPORT_SHARE)
        return;
    tr->ss[tr->n_ss - 1].last = tr->saved_step;
    if (genrt_report_write_sessions(tr->sessions_path, tr->ss, tr->n_ss, &err) ||
        genrt_report_write(&tr->report, tr->dir, tr->report_path, &err)) {
        warn(tr, "%s; no more reports this run (training goes on; '%s report %s' writes one)",
             err.msg, tr->c->prog, tr->dir);
        tr->report_off = 1;
        return;
    }
    tr->report_step = tr->saved_step;
    tr->report_at = genrt_progress_now();
}

/* Saves step t: metrics.csv first (it holds every row the checkpoint
 * covers), then the checkpoint.  Returns 0, 1 on an error (reported), or
 * 2 when the state is not finite and --on-nonfinite ignore goes on
 * without saving (a warning says so). */
static int save(struct trainer *tr, long t)
{
    struct genrt_err err;
    char what[256];
    if (bad_state(tr, what, sizeof what)) {
        if (tr->mode != GENRT_NONFINITE_IGNORE)
            return stop_nonfinite(tr, t, what);
        snprintf(tr->unsaved_what, sizeof tr->unsaved_what, "%s", what);
        /* the last step's gets the run's error instead */
        if (++tr->unsaved <= MAX_SKIP_WARNINGS && t < tr->steps)
            warn(tr, "step %ld: %s; checkpoint not saved (%s)", t, what,
                 tr->saved_step >= 0 ? "the last good one is kept" : "none saved yet");
        return 2;
    }
    int r = tr->mf_pending ? genrt_file_publish(&tr->mf, &err) : genrt_file_sync(&tr->mf, &err);
    if (r) {
        tr->mf_open = 0; /* publish released it */
        return fail_err(tr, &err);
    }
    tr->mf_pending = 0;
    genrt_data_get_state(&tr->data, &tr->rs.data);
    if (tr->two)
        genrt_data_get_state(&tr->data_b, &tr->rs.data_b);
    if (genrt_run_save_checkpoint(tr->m, tr->ckpt_path, t, &tr->rs, &err))
        return fail_err(tr, &err);
    /* a classifier's run names its trainer, which `X score` of others runs */
    if (tr->m->classify && tr->saved_step < 0 && genrt_classify_record_trainer(tr->dir, &err))
        return fail_err(tr, &err);
    tr->saved_step = t;
    write_report(tr, t == tr->steps || stop_signal);
    return 0;
}

static int write_preview(struct trainer *tr, long t)
{
    const struct genrt_model *m = tr->m;
    struct genrt_err err;
    char name[64];
    if (!m->generate && !m->translate)
        return 0; /* a classifier draws nothing */
    snprintf(name, sizeof name, "step-%06ld.png", t);
    char *path = genrt_file_join(tr->samples_dir, name);
    int r;
    if (!tr->o->no_ema) /* previews show what sample will: the moving averages */
        genrt_run_swap_ema(m);
    if (!m->generate) {
        r = genrt_cycle_preview_write(&tr->cp, m, path, &err);
    } else {
        genrt_sample_generate_n(m, tr->pz, tr->py, tr->n_preview, tr->px);
        r = genrt_sample_write_picture(m, path, tr->px, tr->n_preview, tr->pcols, &err);
    }
    if (!tr->o->no_ema)
        genrt_run_swap_ema(m);
    free(path);
    return r ? fail_err(tr, &err) : 0;
}

/* One step's update, checked: returns 0 when it stands, 1 when the run
 * stops (reported), 2 when --on-nonfinite skip undid it. */
static int take_step(struct trainer *tr, long t)
{
    const struct genrt_model *m = tr->m;
    char what[256];
    load_inputs(tr);
    if (tr->snapshot)
        memcpy(tr->snapshot, m->state, genrt_run_state_bytes(m));
    if (tr->mstep) {
        /* the step's metrics: the mean of the ranks' (each a mean over its rows) */
        tr->mstep->train_step(t, tr->metrics, tr->row0);
        genrt_mpi_sum(tr->metrics, m->n_metrics);
        for (int i = 0; i < m->n_metrics; i++)
            tr->metrics[i] /= tr->ranks;
    } else {
        m->train_step(t, tr->metrics);
    }
    if (tr->mode == GENRT_NONFINITE_IGNORE)
        return 0;
    if (!bad_metric(tr, what, sizeof what) && !(tr->snapshot && bad_state(tr, what, sizeof what))) {
        tr->skips_in_a_row = 0;
        return 0;
    }
    if (tr->mode == GENRT_NONFINITE_STOP)
        return stop_nonfinite(tr, t, what);
    memcpy(m->state, tr->snapshot, genrt_run_state_bytes(m));
    tr->skipped++;
    if (++tr->skips_in_a_row >= MAX_SKIPS_IN_A_ROW) {
        break_progress(tr);
        return genrt_cli_fail(tr->c, "train: step %ld: %s; stopped after %d steps in a row that "
                              "were not finite (%s)", t, what, MAX_SKIPS_IN_A_ROW,
                              tr->saved_step >= 0 ? "the last good checkpoint is kept"
                                                  : "no checkpoint saved");
    }
    if (tr->skipped <= MAX_SKIP_WARNINGS)
        warn(tr, "step %ld: %s; step skipped (its update undone)", t, what);
    return 2;
}

/* score_every: the scores of step t's state, what samples as sample would
 * (the moving averages unless --no-ema), from the run's seed */
static int score_step(struct trainer *tr, struct genrt_scores *s)
{
    const struct genrt_model *m = tr->m;
    if (!tr->o->no_ema)
        genrt_run_swap_ema(m);
    int rc = genrt_scoring_measure(tr->c, &tr->score_o, GENRT_SCORE_DEFAULT_N, tr->rs.seed, s);
    if (!tr->o->no_ema)
        genrt_run_swap_ema(m);
    return rc;
}

/* A row; a model with score_every has its score cells, blank but every
 * score_every steps (s NULL). */
static void write_row(struct trainer *tr, long t, const struct genrt_scores *s)
{
    FILE *f = tr->mf.f;
    fprintf(f, "%ld", t);
    for (int i = 0; i < tr->m->n_metrics; i++)
        fprintf(f, ",%.9g", tr->metrics[i]);
    if (tr->m->score_every) {
        const char *names[GENRT_SCORES_MAX];
        int n = genrt_scoring_names(tr->m, names);
        for (int i = 0; i < n; i++)
            if (s && i < s->n)
                fprintf(f, ",%.9g", s->values[i]);
            else
                fputs(",", f);
    }
    fprintf(f, ",%.3f\n", tr->seconds0 + genrt_progress_now() - tr->t0);
}

/* The steps; returns the exit status. */
static int run_steps(struct trainer *tr)
{
    const struct genrt_model *m = tr->m;
    genrt_progress_begin(&tr->prog, tr->start + 1, tr->steps, m->n_metrics, m->metric_names,
                         tr->o->quiet || tr->rank > 0);
    tr->progress_on = 1;
    tr->t0 = genrt_progress_now();
    int unsaved = 0; /* --on-nonfinite ignore: the last checkpoint due was not saved */
    for (long t = tr->start + 1; t <= tr->steps; t++) {
        int r = take_step(tr, t);
        if (r == 1)
            return 1;
        if (tr->ranks > 1) /* a signal one rank got stops them all after this step */
            stop_signal = genrt_mpi_max(stop_signal);
        int rank0 = tr->rank == 0;
        if (r == 0) {
            struct genrt_scores sc;
            int scored = m->score_every > 0 && t % m->score_every == 0;
            if (scored && from_rank0(tr, rank0 && score_step(tr, &sc)))
                return 1;
            if (rank0) {
                write_row(tr, t, scored ? &sc : NULL);
                genrt_progress_update(&tr->prog, t, tr->metrics);
            }
        }
        int last = t == tr->steps;
        if ((last || (m->sample_every > 0 && t % m->sample_every == 0)) &&
            from_rank0(tr, rank0 && write_preview(tr, t)))
            return 1;
        int due = last || (m->checkpoint_every > 0 && t % m->checkpoint_every == 0);
        if (due || stop_signal) {
            r = from_rank0(tr, rank0 ? save(tr, t) : 0);
            if (r == 1)
                return 1;
            unsaved = r == 2;
        }
        if (stop_signal && !rank0) {
            return 128 + stop_signal;
        } else if (stop_signal) {
            int sig = stop_signal;
            break_progress(tr);
            if (unsaved)
                fprintf(stderr, "%s: %s after step %ld; its state is not finite, so nothing was "
                        "saved%s%s\n", tr->c->prog, signal_name(sig), t,
                        tr->saved_step >= 0 ? "; the last good checkpoint is " : "",
                        tr->saved_step >= 0 ? tr->ckpt_path : "");
            else
                fprintf(stderr, "%s: %s after step %ld; checkpoint %s (continue with --resume "
                        "%s)\n", tr->c->prog, signal_name(sig), t, tr->ckpt_path,
                        tr->ckpt_path);
            return 128 + sig;
        }
    }
    break_progress(tr);
    tr->progress_on = 0;
    if (tr->skipped > MAX_SKIP_WARNINGS)
        warn(tr, "%ld steps skipped in all (warnings after the first %d left out)", tr->skipped,
             MAX_SKIP_WARNINGS);
    if (tr->unsaved > MAX_SKIP_WARNINGS)
        warn(tr, "%ld checkpoints not saved in all (warnings after the first %d left out)",
             tr->unsaved, MAX_SKIP_WARNINGS);
    if (unsaved)
        return genrt_cli_fail(tr->c, "train: step %ld: %s; its checkpoint was not saved (%s)",
                              tr->steps, tr->unsaved_what,
                              tr->saved_step >= 0 ? "the last good one is kept" : "none was");
    return 0;
}

/* Closes metrics.csv: a temporary never published (the run saved no
 * checkpoint) replaces only a file that was not there before. */
static int close_metrics(struct trainer *tr, int ok)
{
    struct genrt_err err;
    if (!tr->mf_open)
        return 0;
    tr->mf_open = 0;
    if (tr->mf_pending && tr->had_metrics) {
        genrt_file_discard(&tr->mf);
        return 0;
    }
    if (genrt_file_commit(&tr->mf, &err))
        return ok ? genrt_cli_fail_err(tr->c, &err) : 0; /* after an error, one message */
    return 0;
}

static void free_trainer(struct trainer *tr)
{
    if (tr->lock_fd >= 0)
        close(tr->lock_fd);
    genrt_ckpt_free(&tr->ck);
    genrt_data_close(&tr->data);
    genrt_data_close(&tr->data_b);
    genrt_cycle_preview_free(&tr->cp);
    free(tr->default_dir);
    free(tr->metrics_path);
    free(tr->ckpt_path);
    free(tr->samples_dir);
    free(tr->header);
    free(tr->real);
    free(tr->real_b);
    free(tr->z);
    free(tr->y);
    free(tr->labels);
    free(tr->pz);
    free(tr->py);
    free(tr->px);
    free(tr->metrics);
    free(tr->snapshot);
    free(tr->sessions_path);
    free(tr->report_path);
    free(tr->ss);
    genrt_report_free(&tr->report);
}

int genrt_cmd_train(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const struct genrt_model *m = c->m;
    struct trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.c = c;
    tr.o = o;
    tr.m = m;
    tr.mb = *m;
    tr.two = m->domain_b != NULL;
    tr.mode = o->has[F_ON_NONFINITE] ? o->on_nonfinite : GENRT_NONFINITE_STOP;
    tr.steps = o->has[F_STEPS] ? o->steps : m->steps;
    tr.rs.seed = o->has[F_SEED] ? o->seed : m->seed;
    tr.lock_fd = -1;
    tr.saved_step = -1;
    tr.rank = genrt_mpi_rank();
    tr.ranks = genrt_mpi_size();
    tr.report_off = tr.rank > 0; /* rank 0 writes every file */
    tr.report_step = -1;
    genrt_report_init(&tr.report, m);

    /* Everything is checked before the first file is written. */
    hold_messages(&tr);
    int rc = all_ranks(&tr, prepare(&tr));
    if (!rc)
        rc = all_ranks(&tr, tr.rank == 0 ? open_outputs(&tr) : 0);
    if (!rc) {
        set_up_state(&tr);
        if (!genrt_mpi_same(state_hash(&tr))) {
            if (tr.rank == 0)
                genrt_cli_fail(c, "train: the ranks start from different states: each must read "
                               "the same checkpoint (%s) and the same data", o->resume ? o->resume
                               : "none: a fresh run");
            free_trainer(&tr);
            return 1;
        }
    }
    if (!rc) {
        struct sigaction old[N_STOP_SIGNALS];
        catch_stop_signals(old);
        rc = run_steps(&tr);
        restore_stop_signals(old);
        stop_signal = 0;
        if (close_metrics(&tr, rc == 0) && rc == 0)
            rc = 1;
        /* a run that stopped: the page of its last checkpoint */
        if (tr.report_step != tr.saved_step)
            write_report(&tr, 1);
        double took = genrt_progress_now() - tr.t0;
        if (!rc && !o->quiet && tr.rank == 0 && tr.ranks > 1)
            fprintf(stderr, "%s: trained steps %ld-%ld in %.1f s on %d ranks (%.1f%% of it in "
                    "all-reduce on rank 0); checkpoint %s\n", c->prog, tr.start + 1, tr.steps,
                    took, tr.ranks, 100 * genrt_mpi_comm_seconds() / (took > 0 ? took : 1),
                    tr.ckpt_path);
        else if (!rc && !o->quiet && tr.rank == 0)
            fprintf(stderr, "%s: trained steps %ld-%ld in %.1f s; checkpoint %s\n", c->prog,
                    tr.start + 1, tr.steps, took, tr.ckpt_path);
    } else {
        close_metrics(&tr, 0);
    }
    free_trainer(&tr);
    return rc;
}
