/* genrt_run.c: the state every subcommand sets up (see genrt_cli.h):
 * parameters, latents, the run state a checkpoint carries, checkpoints and
 * the data sources. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_cli.h"

#include "genrt_file.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

#if defined(__SSE2__) || defined(__x86_64__)
#include <pmmintrin.h>
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

void genrt_run_init_state(const struct genrt_model *m, uint64_t seed)
{
    struct genrt_rng r;
    genrt_rng_seed(&r, genrt_rng_derive(seed, GENRT_STREAM_INIT));
    memset(m->state, 0, genrt_run_state_bytes(m)); /* optimizer state and anything untabled */
    for (int i = 0; i < m->n_tensors; i++) {
        const struct genrt_tensor *t = &m->tensors[i];
        if (t->role == GENRT_OPT_STATE || t->role == GENRT_EMA)
            continue;
        double bound = t->fan_in > 0 ? 1.0 / sqrt((double)t->fan_in) : 0.0, norm = 0.0;
        for (long j = 0; j < t->size; j++) {
            double v = 0.0;
            if (t->init == GENRT_INIT_ONE)
                v = 1.0;
            else if (t->init == GENRT_INIT_FANIN_UNIFORM)
                v = bound * (2.0 * genrt_rng_uniform(&r) - 1.0);
            else if (t->init == GENRT_INIT_UNIT_NORMAL)
                v = genrt_rng_normal(&r), norm += v * v;
            genrt_run_real_set(m, m->state, t->offset + j, v);
        }
        for (long j = 0; j < t->size && t->init == GENRT_INIT_UNIT_NORMAL; j++) /* torch's eps: 1e-12 */
            genrt_run_real_set(m, m->state, t->offset + j,
                               genrt_run_real_get(m, m->state, t->offset + j) / fmax(sqrt(norm), 1e-12));
    }
    /* a moving average starts as its parameter */
    char *s = m->state;
    size_t rs = (size_t)m->real_size;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct genrt_tensor *t = &m->tensors[i];
        if (t->role == GENRT_EMA)
            memcpy(s + (size_t)t->offset * rs, s + (size_t)m->tensors[t->source].offset * rs,
                   (size_t)t->size * rs);
    }
}

int genrt_run_has_ema(const struct genrt_model *m)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].role == GENRT_EMA)
            return 1;
    return 0;
}

void genrt_run_swap_ema(const struct genrt_model *m)
{
    char *s = m->state;
    size_t rs = (size_t)m->real_size;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct genrt_tensor *t = &m->tensors[i];
        if (t->role != GENRT_EMA)
            continue;
        char *a = s + (size_t)t->offset * rs, *b = s + (size_t)m->tensors[t->source].offset * rs;
        for (size_t j = 0; j < (size_t)t->size * rs; j++) {
            char x = a[j];
            a[j] = b[j];
            b[j] = x;
        }
    }
}

int genrt_run_load_sampling_state(const struct genrt_model *m, const struct genrt_opts *o,
                                  struct genrt_err *err)
{
    if (genrt_run_load_state(m, o->checkpoint, err))
        return 1;
    if (!o->no_ema)
        genrt_run_swap_ema(m);
    return 0;
}

void genrt_run_fill_latent(const struct genrt_model *m, struct genrt_rng *r, float *z, long n)
{
    if (m->latent_kind == GENRT_LATENT_UNIFORM)
        genrt_rng_fill_uniform(r, z, n, -1.0f, 1.0f);
    else
        genrt_rng_fill_normal(r, z, n);
}

void genrt_run_compute_setup(const struct genrt_opts *o)
{
#ifdef HAVE_MXCSR
    /* Denormals are slow on x86 and irrelevant to training. */
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
#endif
    genrt_run_set_threads(o->has[F_THREADS] ? (int)o->threads : GENRT_DEFAULT_THREADS);
}

/* libgomp's, when the trainer is built with -fopenmp (its loops then split
 * over threads, genrt_kernels.h); the runtime itself needs no OpenMP. */
extern void omp_set_num_threads(int n) __attribute__((weak));

void genrt_run_set_threads(int n)
{
    openblas_set_num_threads(n);
    /* OpenBLAS's pthread build (1) keeps its own threads spinning between
     * calls: loops split over libgomp's threads beside them fight them for
     * the cores (dcgan 2.7x slower on 2), so they then stay on one thread.
     * Its OpenMP build (2) shares libgomp's pool with them. */
    if (omp_set_num_threads)
        omp_set_num_threads(openblas_get_parallel() == 1 ? 1 : n);
}

char *genrt_run_metrics_header(const struct genrt_model *m)
{
    const char *scores[GENRT_SCORES_MAX];
    int n_scores = m->score_every ? genrt_scoring_names(m, scores) : 0;
    size_t n = 32;
    for (int i = 0; i < m->n_metrics; i++)
        n += strlen(m->metric_names[i]) + 1;
    for (int i = 0; i < n_scores; i++)
        n += strlen(scores[i]) + 1;
    char *h = genrt_file_xmalloc(n);
    strcpy(h, "step");
    for (int i = 0; i < m->n_metrics; i++) {
        strcat(h, ",");
        strcat(h, m->metric_names[i]);
    }
    for (int i = 0; i < n_scores; i++) {
        strcat(h, ",");
        strcat(h, scores[i]);
    }
    strcat(h, ",seconds");
    return h;
}

const char *genrt_run_domain_name(const struct genrt_model *m, int domain)
{
    return domain == GENRT_DOMAIN_B ? m->domain_b->name : m->domain_a;
}

const char *genrt_run_split_name(int split)
{
    return split == GENRT_SPLIT_TEST ? "test" : "train";
}

void genrt_run_note_examples(const struct genrt_cli *c, const char *cmd, int split,
                             const char *dir, long n)
{
    if (split != GENRT_SPLIT_TRAIN)
        return;
    fprintf(stderr, "%s: %s: %s has no test split, so the examples are its first %ld training "
            "image%s (in file order)\n", c->prog, cmd, dir, n, n == 1 ? "" : "s");
}

int genrt_run_open_domain(const struct genrt_model *m, int dom, const char *path, int split,
                          uint64_t seed, struct genrt_data *d, struct genrt_err *err)
{
    struct genrt_model md;
    genrt_data_domain_model(m, dom, &md);
    if (dom == GENRT_DOMAIN_B) {
        memset(d, 0, sizeof *d);
        if ((!path || !path[0]) && (!md.data_path || !md.data_path[0]))
            return genrt_err_set(err, "no data directory given for domain %s (use --data-b DIR)",
                                 genrt_run_domain_name(m, dom));
        seed = genrt_rng_derive(seed, GENRT_STREAM_DOMAIN_B);
    }
    return genrt_data_open_split(d, &md, path, split, seed, err);
}

/* ------------------------------------------------------ run-state blob */

/* The blob holds fixed-size little-endian words: the seed, the latent
 * stream, the data loader; a two-domain model's goes on with domain B's
 * loader (the others keep the size they always had). */
#define RNG_WORDS 6
#define DATA_WORDS (2 + RNG_WORDS) /* epoch, cursor, ring8's stream */
#define BLOB_WORDS (1 + RNG_WORDS + DATA_WORDS)
#define BLOB_MAX (8 * (BLOB_WORDS + DATA_WORDS))

static uint64_t blob_size(const struct genrt_model *m)
{
    return 8 * (uint64_t)(BLOB_WORDS + (m->domain_b ? DATA_WORDS : 0));
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
    r->has_spare = (int)has;
    memcpy(&r->spare, &spare, 8);
    if (has > 1 || (has && !isfinite(r->spare))) /* a cached normal is finite */
        *ok = 0;
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

static void encode_run(const struct genrt_model *m, const struct genrt_run_state *rs,
                       unsigned char *b)
{
    genrt_ckpt_put_u64(b, rs->seed);
    unsigned char *p = put_rng(b + 8, &rs->latent);
    p = put_data(p, &rs->data);
    if (m->domain_b)
        put_data(p, &rs->data_b);
}

int genrt_run_decode(const struct genrt_model *m, const struct genrt_ckpt *ck, const char *path,
                     struct genrt_run_state *rs, struct genrt_err *err)
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
    if (m->domain_b)
        get_data(p, &rs->data_b, &ok);
    /* xoshiro's all-zero state only ever gives zeros, and normals of log 0 */
    if (m->latent_batches > 0 && genrt_rng_is_zero(&rs->latent))
        ok = 0;
    if (!ok)
        return genrt_err_set(err, "%s: corrupt (bad RNG state)", path);
    return 0;
}

int genrt_run_save_checkpoint(const struct genrt_model *m, const char *path, long step,
                              const struct genrt_run_state *rs, struct genrt_err *err)
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

int genrt_run_read_checkpoint(const struct genrt_model *m, const char *path,
                              struct genrt_ckpt *ck, struct genrt_err *err)
{
    struct genrt_ckpt_want w = {m->shape_hash, (uint32_t)m->real_size, (uint64_t)m->n_state,
                                blob_size(m)};
    return genrt_ckpt_read_want(path, &w, ck, err);
}

int genrt_run_load_state(const struct genrt_model *m, const char *path, struct genrt_err *err)
{
    struct genrt_ckpt ck;
    if (genrt_run_read_checkpoint(m, path, &ck, err))
        return -1;
    memcpy(m->state, ck.state, genrt_run_state_bytes(m));
    genrt_ckpt_free(&ck);
    return 0;
}
