/* genrt_scoring.c: `X score`, the sample-quality metrics of genrt_score.h
 * in the feature space of a classifier genc trained (a spec with
 * `objective classifier`), and ring8's mode coverage.
 *
 * How an image trainer runs a classifier compiled from another spec: it
 * runs the classifier's own trainer as a child process,
 *     CLASSIFIER features --checkpoint CKPT --input IN.npy -o OUT.npy
 * on the images as uint8 pixels (quantized as a PNG would be; the real
 * examples are exactly their bytes) in a private temporary directory, and
 * reads back the features and logits.  The classifier's trainer is the
 * only program that knows its shapes: it checks the checkpoint against its
 * spec (shape hash) and the images against its input, so nothing has to
 * be compiled at score time, no ABI is shared between the two trainers,
 * and it works wherever both trainers run.  The trainer is found as
 * DIR/trainer beside the classifier's checkpoint (a symlink its `train`
 * writes) or, with --spec SPEC, as the NAME built from SPEC.gm beside it
 * or in the current directory (make NAME, genc-build SPEC). */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_cli.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "genrt_file.h"
#include "genrt_npy.h"
#include "genrt_score.h"

extern char **environ;

static void put(struct genrt_scores *s, const char *name, double v)
{
    if (s->n < GENRT_SCORES_MAX) {
        s->names[s->n] = name;
        s->values[s->n++] = v;
    }
}

/* A set of images in the model's layout (channels-last, the data's range). */
struct image_set {
    long n;
    const struct genrt_model *md; /* its domain's shape and range */
    float *x;
};

/* The classifier's view of the sets: features (n x d) and logits (n x k). */
struct feature_set {
    long n;
    float *f, *logits;
};

/* ------------------------------------------------------- the classifier */

static int executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The classifier's trainer, malloc'd: from --spec, else beside the checkpoint. */
static char *find_trainer(const struct genrt_cli *c, const struct genrt_opts *o)
{
    if (o->spec) {
        struct stat st;
        if (stat(o->spec, &st) != 0) {
            genrt_cli_fail(c, "score: --spec %s: no such file", o->spec);
            return NULL;
        }
        const char *base = strrchr(o->spec, '/');
        base = base ? base + 1 : o->spec;
        size_t len = strlen(base);
        if (len > 3 && !strcmp(base + len - 3, ".gm"))
            len -= 3;
        char *name = genrt_file_xmalloc(len + 3);
        snprintf(name, len + 3, "%.*s", (int)len, base);
        char *dir = genrt_file_xmalloc(strlen(o->spec) + 2);
        snprintf(dir, strlen(o->spec) + 2, "%.*s", (int)(base - o->spec), o->spec);
        char *beside = genrt_file_join(dir[0] ? dir : ".", name);
        char *here = genrt_file_join(".", name);
        char *found = executable(beside) ? beside : executable(here) ? here : NULL;
        if (!found)
            genrt_cli_fail(c, "score: --spec %s: no trainer built from it (looked for %s and %s; "
                           "build it with 'make %s' or 'genc-build %s')", o->spec, beside, here,
                           name, o->spec);
        if (found != beside)
            free(beside);
        if (found != here)
            free(here);
        free(name);
        free(dir);
        return found;
    }
    const char *slash = strrchr(o->classifier, '/');
    char *dir = genrt_file_xmalloc(strlen(o->classifier) + 2);
    snprintf(dir, strlen(o->classifier) + 2, "%.*s",
             slash ? (int)(slash - o->classifier) : 0, o->classifier);
    char *path = genrt_file_join(dir[0] ? dir : (slash ? "/" : "."), "trainer");
    free(dir);
    if (!executable(path)) {
        genrt_cli_fail(c, "score: no classifier trainer beside %s (%s, which a classifier's train "
                       "writes, is missing); name the classifier's spec with --spec SPEC",
                       o->classifier, path);
        free(path);
        return NULL;
    }
    return path;
}

/* Runs argv with stdout into out (NUL-terminated); its exit status, or -1. */
static int run_child(char *const *argv, char *out, size_t cap)
{
    int fd[2];
    if (pipe(fd))
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (r) {
        close(fd[0]);
        errno = r;
        return -1;
    }
    size_t used = 0;
    for (;;) {
        char buf[512];
        ssize_t k = read(fd[0], buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        size_t take = (size_t)k < cap - 1 - used ? (size_t)k : cap - 1 - used;
        memcpy(out + used, buf, take);
        used += take;
    }
    out[used] = 0;
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* The images as uint8 pixels, N x C x H x W: x in [lo, hi] -> round(255 (x - lo) / (hi - lo)). */
static void quantize(const struct image_set *s, uint8_t *out)
{
    const struct genrt_model *md = s->md;
    long hw = (long)md->img_h * md->img_w;
    int ch = md->img_c;
    double lo = md->range_lo, scale = 255.0 / ((double)md->range_hi - md->range_lo);
    for (long e = 0; e < s->n; e++)
        for (long p = 0; p < hw; p++)
            for (int k = 0; k < ch; k++) {
                double v = ((double)s->x[(e * hw + p) * ch + k] - lo) * scale;
                v = v != v ? 0 : v < 0 ? 0 : v > 255 ? 255 : v; /* NaN: 0 */
                out[(e * ch + k) * hw + p] = (uint8_t)lrint(v);
            }
}

struct classifier {
    char *trainer;   /* its trainer's path */
    const char *ckpt;
    long threads;
    int d, k;        /* features and classes, from its answer */
};

static int rm_tree(char *dir, const char *a, const char *b)
{
    char *pa = genrt_file_join(dir, a), *pb = genrt_file_join(dir, b);
    unlink(pa);
    unlink(pb);
    free(pa);
    free(pb);
    return rmdir(dir);
}

/* The classifier's features and logits of n_sets sets, in one run of its
 * trainer. */
static int classify_sets(const struct genrt_cli *c, struct classifier *cl,
                         const struct image_set *sets, int n_sets, struct feature_set *fs)
{
    const struct genrt_model *md = sets[0].md;
    long total = 0, per = (long)md->img_c * md->img_h * md->img_w;
    for (int i = 0; i < n_sets; i++) {
        if (sets[i].md->img_c != md->img_c || sets[i].md->img_h != md->img_h ||
            sets[i].md->img_w != md->img_w)
            return genrt_cli_fail(c, "score: the two domains' images differ in shape, and one "
                                  "classifier takes one shape");
        total += sets[i].n;
    }
    const char *tmpenv = getenv("TMPDIR");
    char *tmpl = genrt_file_join(tmpenv && tmpenv[0] ? tmpenv : "/tmp", "genc-score.XXXXXX");
    if (!mkdtemp(tmpl)) {
        int e = errno;
        free(tmpl);
        return genrt_cli_fail(c, "score: cannot make a temporary directory: %s", strerror(e));
    }
    char *in = genrt_file_join(tmpl, "images.npy"), *out = genrt_file_join(tmpl, "features.npy");
    uint8_t *px = genrt_file_xmalloc((size_t)(total * per));
    for (long i = 0, off = 0; i < n_sets; off += sets[i].n * per, i++)
        quantize(&sets[i], px + off);
    struct genrt_err err;
    long dims[4] = {total, md->img_c, md->img_h, md->img_w};
    int rc = 1;
    struct genrt_npy a = {0};
    if (genrt_npy_write_u8(in, px, 4, dims, &err)) {
        genrt_cli_fail_err(c, &err);
        goto done;
    }
    char threads[32], answer[512];
    snprintf(threads, sizeof threads, "%ld", cl->threads);
    char *argv[] = {cl->trainer, "features", "--checkpoint", (char *)cl->ckpt, "--input", in,
                    "-o", out, "--threads", threads, NULL};
    int st = run_child(argv, answer, sizeof answer);
    if (st < 0) {
        genrt_cli_fail(c, "score: cannot run the classifier's trainer %s: %s", cl->trainer,
                       strerror(errno));
        goto done;
    }
    long n_ans;
    if (st != 0 || sscanf(answer, "features=%d classes=%d n=%ld", &cl->d, &cl->k, &n_ans) != 3 ||
        n_ans != total || cl->d < 1 || cl->k < 1) {
        genrt_cli_fail(c, "score: the classifier's trainer %s could not classify the images with "
                       "%s (%s)", cl->trainer, cl->ckpt,
                       st ? "it said why above" : "it is not a classifier's trainer");
        goto done;
    }
    if (genrt_npy_read(out, &a, &err) || a.n_dims != 2 || a.dims[0] != total ||
        a.dims[1] != cl->d + cl->k || a.u8) {
        genrt_cli_fail(c, "score: the classifier's features: %s",
                       a.x ? "an array of the wrong shape" : err.msg);
        goto done;
    }
    long W = cl->d + cl->k;
    for (long i = 0, row = 0; i < n_sets; i++) {
        fs[i].n = sets[i].n;
        fs[i].f = genrt_file_xmalloc((size_t)(fs[i].n * cl->d) * sizeof(float));
        fs[i].logits = genrt_file_xmalloc((size_t)(fs[i].n * cl->k) * sizeof(float));
        for (long r = 0; r < fs[i].n; r++, row++) {
            memcpy(fs[i].f + r * cl->d, a.x + row * W, (size_t)cl->d * sizeof(float));
            memcpy(fs[i].logits + r * cl->k, a.x + row * W + cl->d, (size_t)cl->k * sizeof(float));
        }
    }
    rc = 0;
done:
    genrt_npy_free(&a);
    free(px);
    rm_tree(tmpl, "images.npy", "features.npy");
    free(in);
    free(out);
    free(tmpl);
    return rc;
}

static void free_features(struct feature_set *fs, int n)
{
    for (int i = 0; i < n; i++) {
        free(fs[i].f);
        free(fs[i].logits);
    }
}

/* ------------------------------------------------------------- the sets */

/* The first n examples of a domain's split (file order), and their labels
 * if wanted; *n is cut to what the split has. */
static int real_set(const struct genrt_cli *c, const struct genrt_opts *o, int dom, int split,
                    long *n, struct image_set *s, const struct genrt_model *md, int **labels)
{
    const struct genrt_model *m = c->m;
    struct genrt_data d;
    struct genrt_err err;
    const char *path = dom == GENRT_DOMAIN_B ? o->data_b : o->data;
    if (genrt_run_open_domain(m, dom, path, split, m->seed, &d, &err))
        return genrt_cli_fail(c, "score: %s", err.msg);
    *n = *n < d.n ? *n : d.n;
    s->n = *n;
    s->md = md;
    s->x = genrt_file_xmalloc((size_t)(*n * md->sample_size) * sizeof *s->x);
    if (labels)
        *labels = genrt_file_xmalloc((size_t)*n * sizeof **labels);
    genrt_data_read(&d, 0, *n, s->x, labels ? *labels : NULL);
    genrt_data_close(&d);
    return 0;
}

static int metric_fd_pr(const struct genrt_cli *c, const struct classifier *cl,
                        const struct feature_set *real, const struct feature_set *fake,
                        struct genrt_scores *out, const char *fd, const char *p, const char *r)
{
    struct genrt_err err;
    double v;
    struct genrt_score_pr pr;
    if (real->n <= GENRT_SCORE_PR_K || fake->n <= GENRT_SCORE_PR_K)
        return genrt_cli_fail(c, "score: %ld and %ld examples are too few (more than %d each)",
                              real->n, fake->n, GENRT_SCORE_PR_K);
    if (genrt_score_fd(fake->f, fake->n, real->f, real->n, cl->d, &v, &err) ||
        genrt_score_pr(real->f, real->n, fake->f, fake->n, cl->d, GENRT_SCORE_PR_K, &pr, &err))
        return genrt_cli_fail(c, "score: %s", err.msg);
    put(out, fd, v);
    put(out, p, pr.precision);
    put(out, r, pr.recall);
    return 0;
}

/* ---------------------------------------------------------------- ring8 */

static int score_ring8(const struct genrt_cli *c, const struct genrt_opts *o, long n,
                       uint64_t seed, struct genrt_scores *out)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    float *x = genrt_file_xmalloc((size_t)(n * 2) * sizeof *x);
    if (o->reference) {
        struct genrt_data d;
        if (genrt_data_open(&d, m, NULL, seed, &err))
            return genrt_cli_fail(c, "score: %s", err.msg);
        for (long i = 0; i < n; i++)
            genrt_data_next_batch(&d, x + 2 * i, 1);
        genrt_data_close(&d);
    } else {
        struct genrt_rng r;
        genrt_rng_seed(&r, genrt_rng_derive(seed, GENRT_STREAM_SAMPLE));
        float *z = genrt_file_xmalloc((size_t)(n * m->latent_dim) * sizeof *z);
        genrt_run_fill_latent(m, &r, z, n * m->latent_dim);
        genrt_sample_generate_n(m, z, NULL, n, x);
        free(z);
    }
    struct genrt_score_ring8 s;
    int rc = genrt_score_ring8(x, n, &s, &err);
    free(x);
    if (rc)
        return genrt_cli_fail(c, "score: %s", err.msg);
    put(out, "modes", s.modes);
    put(out, "high_quality", s.high_quality);
    return 0;
}

/* --------------------------------------------------------------- images */

/* A two-domain model's class for domain dom: its class filter, or, for
 * unfiltered domains, class 0 for A and 1 for B of a two-class classifier. */
static int domain_class(const struct genrt_cli *c, const struct genrt_model *md, int dom, int k,
                        int *cls)
{
    const struct genrt_model *m = c->m;
    if (md[0].data_class >= 0 && md[1].data_class >= 0) {
        *cls = md[dom].data_class;
        if (*cls < k)
            return 0;
        return genrt_cli_fail(c, "score: domain %s is class %d of its data, but the classifier has "
                              "%d classes", genrt_run_domain_name(m, dom), *cls, k);
    }
    *cls = dom;
    if (k == 2)
        return 0;
    return genrt_cli_fail(c, "score: the classifier has %d classes, but the model's two domains %s "
                          "and %s need a classifier of 2 (class 0 %s, class 1 %s)", k,
                          m->domain_a, genrt_run_domain_name(m, GENRT_DOMAIN_B), m->domain_a,
                          genrt_run_domain_name(m, GENRT_DOMAIN_B));
}

/* the share of rows classified as cls */
static int share_of(const struct genrt_cli *c, const struct feature_set *f, int k, int cls,
                    double *v)
{
    struct genrt_err err;
    if (genrt_score_label_acc(f->logits, f->n, k, NULL, cls, v, &err))
        return genrt_cli_fail(c, "score: %s", err.msg);
    return 0;
}

static int score_two_domains(const struct genrt_cli *c, const struct genrt_opts *o,
                             struct classifier *cl, long n, struct genrt_scores *out)
{
    const struct genrt_model *m = c->m;
    struct genrt_model md[2];
    struct image_set s[4] = {{0}};
    struct feature_set fs[4] = {{0}};
    int rc = 1;
    const char *flat[GENRT_SCORES_MAX], *names[2][4];
    genrt_scoring_names(m, flat); /* fd_A, precision_A, recall_A, class_A, then _B */
    for (int i = 0; i < 8; i++)
        names[i / 4][i % 4] = flat[i];
    for (int dom = 0; dom < 2; dom++) {
        genrt_data_domain_model(m, dom, &md[dom]);
        int test = genrt_data_has_split(md[dom].data_kind, GENRT_SPLIT_TEST);
        if (o->reference && !test) {
            genrt_cli_fail(c, "score --reference: domain %s's images are one set, with no test "
                           "split to compare with the training set", genrt_run_domain_name(m, dom));
            goto done;
        }
        long k = n;
        if (real_set(c, o, dom, test ? GENRT_SPLIT_TEST : GENRT_SPLIT_TRAIN, &k, &s[dom],
                     &md[dom], NULL))
            goto done;
        if (!test)
            genrt_run_note_examples(c, "score", GENRT_SPLIT_TRAIN,
                                    dom ? (o->data_b ? o->data_b : md[1].data_path)
                                        : (o->data ? o->data : md[0].data_path), k);
    }
    /* s[2 + dom]: what domain dom translates to, which is compared with
     * the other domain's set: G(a) (or, for --reference, B's training
     * examples) for dom A, F(b) (A's) for dom B */
    for (int dom = 0; dom < 2; dom++) {
        struct image_set *t = &s[2 + dom];
        if (o->reference) {
            long k = n;
            if (real_set(c, o, 1 - dom, GENRT_SPLIT_TRAIN, &k, t, &md[1 - dom], NULL))
                goto done;
        } else {
            t->n = s[dom].n;
            t->md = &md[1 - dom];
            t->x = genrt_file_xmalloc((size_t)(t->n * md[1 - dom].sample_size) * sizeof *t->x);
            float *back = genrt_file_xmalloc((size_t)(t->n * md[dom].sample_size) * sizeof *back);
            genrt_translate_n(m, dom, s[dom].x, t->n, t->x, back);
            free(back);
        }
    }
    if (classify_sets(c, cl, s, 4, fs))
        goto done;
    /* per target domain T: the translations into T against T's real set */
    for (int T = 0; T < 2; T++) {
        const struct feature_set *fake = &fs[2 + (1 - T)];
        int cls;
        double v;
        if (domain_class(c, md, T, cl->k, &cls) ||
            metric_fd_pr(c, cl, &fs[T], fake, out, names[T][0], names[T][1], names[T][2]) ||
            share_of(c, fake, cl->k, cls, &v))
            goto done;
        put(out, names[T][3], v);
    }
    rc = 0;
done:
    for (int i = 0; i < 4; i++)
        free(s[i].x);
    free_features(fs, 4);
    return rc;
}

static int score_images(const struct genrt_cli *c, const struct genrt_opts *o,
                        struct classifier *cl, long n, uint64_t seed, struct genrt_scores *out)
{
    const struct genrt_model *m = c->m;
    if (m->domain_b)
        return score_two_domains(c, o, cl, n, out);
    int test = genrt_data_has_split(m->data_kind, GENRT_SPLIT_TEST);
    if (o->reference && !test)
        return genrt_cli_fail(c, "score --reference: a folder of images is one set, with no test "
                              "split to compare with the training set");
    struct image_set s[2] = {{0}};
    struct feature_set fs[2] = {{0}};
    int *labels = NULL, *want = NULL, rc = 1;
    long k = n;
    int cond = m->n_classes > 0;
    if (real_set(c, o, GENRT_DOMAIN_A, test ? GENRT_SPLIT_TEST : GENRT_SPLIT_TRAIN, &k, &s[0], m,
                 o->reference && cond ? &labels : NULL))
        goto done;
    if (!test)
        genrt_run_note_examples(c, "score", GENRT_SPLIT_TRAIN, o->data ? o->data : m->data_path,
                                k);
    if (o->reference) {
        long k2 = n;
        if (real_set(c, o, GENRT_DOMAIN_A, GENRT_SPLIT_TRAIN, &k2, &s[1], m, NULL))
            goto done;
        want = labels;
    } else {
        struct genrt_rng r;
        genrt_rng_seed(&r, genrt_rng_derive(seed, GENRT_STREAM_SAMPLE));
        float *z = genrt_file_xmalloc((size_t)(n * m->latent_dim) * sizeof *z);
        genrt_run_fill_latent(m, &r, z, n * m->latent_dim);
        float *y = genrt_sample_labels(m, n, -1, 0); /* sample i is class i % n_classes */
        s[1].n = n;
        s[1].md = m;
        s[1].x = genrt_file_xmalloc((size_t)(n * m->sample_size) * sizeof *s[1].x);
        genrt_sample_generate_n(m, z, y, n, s[1].x);
        if (y) {
            want = genrt_file_xmalloc((size_t)n * sizeof *want);
            for (long i = 0; i < n; i++)
                want[i] = (int)y[i];
        }
        free(z);
        free(y);
    }
    if (classify_sets(c, cl, s, 2, fs))
        goto done;
    if (cond && cl->k != m->n_classes) {
        genrt_cli_fail(c, "score: the classifier has %d classes, but the model is conditional on %d: "
                       "label_acc needs a classifier of the same classes", cl->k, m->n_classes);
        goto done;
    }
    /* the reference: test (as the real set) against train (as the samples) */
    if (metric_fd_pr(c, cl, &fs[0], &fs[1], out, "fd", "precision", "recall"))
        goto done;
    if (cond) {
        struct genrt_err err;
        double v;
        const struct feature_set *f = o->reference ? &fs[0] : &fs[1];
        if (genrt_score_label_acc(f->logits, f->n, cl->k, want, 0, &v, &err)) {
            genrt_cli_fail(c, "score: %s", err.msg);
            goto done;
        }
        put(out, "label_acc", v);
    }
    rc = 0;
done:
    free(s[0].x);
    free(s[1].x);
    free(labels);
    if (want != labels)
        free(want);
    free_features(fs, 2);
    return rc;
}

/* --------------------------------------------------------------- output */

static int write_csv(const struct genrt_cli *c, const char *path, const struct genrt_scores *s)
{
    struct genrt_file af;
    struct genrt_err err;
    if (genrt_file_create(&af, path, &err))
        return genrt_cli_fail_err(c, &err);
    for (int i = 0; i < s->n; i++)
        fprintf(af.f, "%s%c", s->names[i], i + 1 < s->n ? ',' : '\n');
    for (int i = 0; i < s->n; i++)
        fprintf(af.f, "%.9g%c", s->values[i], i + 1 < s->n ? ',' : '\n');
    if (genrt_file_commit(&af, &err))
        return genrt_cli_fail_err(c, &err);
    return 0;
}

/* The checks of score's input that need no samples; finds the classifier's
 * trainer (for score_images) into *trainer. */
static int check_request(const struct genrt_cli *c, const struct genrt_opts *o, char **trainer)
{
    const struct genrt_model *m = c->m;
    int ring8 = m->data_kind == GENRT_DATA_RING8;
    *trainer = NULL;
    if (!ring8 && !genrt_run_is_image(m))
        return genrt_cli_fail(c, "score: this %s's examples are %ld-dimensional vectors, neither "
                              "images (scored in a classifier's features) nor ring8 points",
                              m->objective_name, m->sample_size);
    if (ring8 && (o->classifier || o->spec))
        return genrt_cli_fail(c, "score: ring8 samples are scored by the modes they cover, without "
                              "a classifier (drop --classifier and --spec)");
    if (!ring8 && !o->classifier)
        return genrt_cli_fail(c, "score: missing --classifier CKPT, the checkpoint of a classifier "
                              "of the data (train one from specs/fmnist_classifier.gm, or a spec "
                              "with 'objective classifier')");
    if (!ring8 && !(*trainer = find_trainer(c, o)))
        return 1;
    return 0;
}

int genrt_scoring_check(const struct genrt_cli *c, const struct genrt_opts *o)
{
    char *trainer;
    int rc = check_request(c, o, &trainer);
    free(trainer);
    return rc;
}

int genrt_scoring_measure(const struct genrt_cli *c, const struct genrt_opts *o, long n,
                          uint64_t seed, struct genrt_scores *s)
{
    struct classifier cl = {.ckpt = o->classifier,
                            .threads = o->has[F_THREADS] ? o->threads : GENRT_DEFAULT_THREADS};
    memset(s, 0, sizeof *s);
    if (check_request(c, o, &cl.trainer))
        return 1;
    int rc = c->m->data_kind == GENRT_DATA_RING8 ? score_ring8(c, o, n, seed, s)
                                                 : score_images(c, o, &cl, n, seed, s);
    free(cl.trainer);
    return rc;
}

int genrt_scoring_names(const struct genrt_model *m, const char **names)
{
    int n = 0;
    if (m->data_kind == GENRT_DATA_RING8) {
        names[n++] = "modes";
        names[n++] = "high_quality";
    } else if (m->domain_b) {
        static char buf[2][4][96];
        static const char *const what[4] = {"fd", "precision", "recall", "class"};
        for (int dom = 0; dom < 2; dom++)
            for (int i = 0; i < 4; i++) {
                snprintf(buf[dom][i], sizeof buf[dom][i], "%s_%.64s", what[i],
                         genrt_run_domain_name(m, dom));
                names[n++] = buf[dom][i];
            }
    } else {
        names[n++] = "fd";
        names[n++] = "precision";
        names[n++] = "recall";
        if (m->n_classes > 0)
            names[n++] = "label_acc";
    }
    return n;
}

int genrt_cmd_score(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const struct genrt_model *m = c->m;
    struct genrt_err err;
    if (o->output) {
        const char *ext = strrchr(o->output, '.');
        if (!ext || strchr(ext, '/') || strcmp(ext, ".csv"))
            return genrt_cli_fail(c, "score: -o %s: unknown format (the name must end in .csv)",
                                  o->output);
    }
    if (genrt_scoring_check(c, o))
        return 1;
    long n = o->has[F_N] ? o->n : GENRT_SCORE_DEFAULT_N;
    uint64_t seed = o->has[F_SEED] ? o->seed : m->seed;
    struct genrt_opts lo = *o; /* the checkpoint: given, or the run's default */
    char *def = NULL;
    if (!o->reference && !lo.checkpoint) {
        char *dir = genrt_file_join("runs", m->name);
        def = genrt_file_join(dir, "checkpoint.ckpt");
        free(dir);
        if (access(def, F_OK)) {
            genrt_cli_fail(c, "score: no --checkpoint given, and the run's default %s does not "
                           "exist (train first, or give --checkpoint CKPT)", def);
            free(def);
            return 1;
        }
        lo.checkpoint = def;
    }
    int rc = 0;
    if (!o->reference && genrt_run_load_sampling_state(m, &lo, &err))
        rc = genrt_cli_fail_err(c, &err);
    free(def);
    struct genrt_scores s = {0};
    if (!rc) {
        genrt_run_compute_setup(o);
        rc = genrt_scoring_measure(c, o, n, seed, &s);
    }
    if (!rc) {
        for (int i = 0; i < s.n; i++)
            printf("%s%s=%.6g", i ? " " : "", s.names[i], s.values[i]);
        printf("\n");
        if (o->output)
            rc = write_csv(c, o->output, &s);
    }
    return rc;
}
