/* test_runtime.c: Criterion tests of the genc runtime.
 *
 * The modules are tested directly (rng, data, images, ckpt, npy, image), and the
 * CLI end to end (cli) through the hand-written models of fake_model.c,
 * with genrt_main called in-process and its stdout/stderr captured;
 * conditional and multi-batch models (cond) partly through spies that
 * stand in for a model's set_input or generate; VAEs' eval and reconstruct
 * (vae) through the fake VAE and a spy for its elbo_batch; CycleGANs
 * (cycle: two domains, translate) through the fake CycleGANs, and the data
 * loader's class filter with them.  Reliability (nonfinite, signals, files,
 * forged checkpoints) through a fault injector that stands in for
 * fake_model's train_step: NaN losses and parameters, signals raised in a
 * step, a file size limit in a child process.  The run report (report):
 * its SVG charts and CSV reader directly, the page and sessions.csv
 * through train and report. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw, dup, fileno, memmem under -std=c11 */
#endif

#include <criterion/criterion.h>

#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "genrt_ckpt.h"
#include "genrt_data.h"
#include "genrt_file.h"
#include "genrt_image.h"
#include "genrt_model.h"
#include "genrt_npy.h"
#include "genrt_report.h"
#include "genrt_rng.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
/* a macro's value as a string literal: STR(GENRT_ABI) is "9" */
#define STR_(x) #x
#define STR(x) STR_(x)

extern const struct genrt_model fake_model, fake_model_f64;
extern const struct genrt_model fake_image_model, fake_image_model_f64;
extern const struct genrt_model fake_rgb_model, fake_rgb_model_f64;
extern const struct genrt_model fake_cond_model, fake_cond_model_f64;
extern const struct genrt_model fake_cond_rgb_model, fake_cond_rgb_model_f64;
extern const struct genrt_model fake_vae_model, fake_vae_model_f64;
extern const struct genrt_model fake_cycle_model, fake_cycle_model_f64;
extern const struct genrt_model fake_cycle_mix_model, fake_cycle_mix_model_f64;

/* ------------------------------------------------------------- helpers */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A fresh temporary directory, removed when the test process ends. */
static char tmp_root[64];

static void rm_tmp_root(void)
{
    if (tmp_root[0])
        nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *tmpdir(void)
{
    if (!tmp_root[0]) {
        strcpy(tmp_root, "/tmp/genrt-test-XXXXXX");
        cr_assert_not_null(mkdtemp(tmp_root));
        atexit(rm_tmp_root);
    }
    return tmp_root;
}

/* tmpdir()/name, in a static ring of buffers (enough for one test). */
static const char *tpath(const char *fmt, ...)
{
    static char bufs[16][512];
    static int k;
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    char *b = bufs[k++ % 16];
    snprintf(b, 512, "%s/%s", tmpdir(), name);
    return b;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    unsigned char *data;
    struct genrt_err err;
    cr_assert_eq(genrt_file_read_all(path, &data, len, &err), 0, "%s", err.msg);
    return data;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void spit_gz(const char *path, const void *data, size_t len)
{
    gzFile g = gzopen(path, "wb");
    cr_assert_not_null(g);
    cr_assert_eq(gzwrite(g, data, (unsigned)len), (int)len);
    gzclose(g);
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Output of one CLI run. */
struct run {
    int rc;
    char out[16384];
    char err[4096];
};

static void read_capture(FILE *f, char *buf, size_t n)
{
    fflush(f);
    rewind(f);
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
}

/* Runs genrt_main(m, m64, "fake", args...) with stdout and stderr captured. */
static struct run *cli(const struct genrt_model *m, const struct genrt_model *m64, ...)
{
    static struct run r;
    char *argv[64];
    int argc = 0;
    argv[argc++] = "/some/dir/fake";
    va_list ap;
    va_start(ap, m64);
    for (char *a; (a = va_arg(ap, char *));)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    FILE *fo = tmpfile(), *fe = tmpfile();
    cr_assert(fo && fe);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    dup2(fileno(fo), 1);
    dup2(fileno(fe), 2);
    r.rc = genrt_main(m, m64, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    read_capture(fo, r.out, sizeof r.out);
    read_capture(fe, r.err, sizeof r.err);
    fclose(fo);
    fclose(fe);
    return &r;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The CLI failed with exactly one "fake: error: ..." line containing want. */
static void assert_one_error(const struct run *r, const char *want)
{
    cr_assert_eq(r->rc, 1, "exit status %d, stderr: %s", r->rc, r->err);
    cr_assert_eq(count_lines(r->err), 1, "stderr is not one line: %s", r->err);
    cr_assert(!strncmp(r->err, "fake: error: ", 13), "stderr: %s", r->err);
    cr_assert_not_null(strstr(r->err, want), "'%s' not in: %s", want, r->err);
}

/* metrics.csv without its seconds column. */
static char *metrics_sans_seconds(const char *path)
{
    size_t n;
    char *s = (char *)slurp(path, &n);
    char *o = malloc(n + 1), *q = o;
    for (char *line = s; *line;) {
        char *eol = strchr(line, '\n');
        cr_assert_not_null(eol);
        char *comma = line;
        for (char *p = line; p < eol; p++)
            if (*p == ',')
                comma = p;
        memcpy(q, line, (size_t)(comma - line));
        q += comma - line;
        *q++ = '\n';
        line = eol + 1;
    }
    *q = 0;
    free(s);
    return o;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Width, height and color type of a PNG file. */
static void png_info(const char *path, int *w, int *h, int *color)
{
    size_t n;
    unsigned char *p = slurp(path, &n);
    cr_assert(n > 33 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8), "%s is not a PNG", path);
    cr_assert(!memcmp(p + 12, "IHDR", 4));
    *w = (int)be32(p + 16);
    *h = (int)be32(p + 20);
    *color = p[25];
    free(p);
}

/* ------------------------------------------------- the fault injector */

/* A checkpoint's header fields (its pointers NULL). */
static struct genrt_ckpt ckpt_fields(const char *path)
{
    struct genrt_ckpt ck;
    struct genrt_err err;
    cr_assert_eq(genrt_ckpt_read(path, &ck, &err), 0, "%s", err.msg);
    struct genrt_ckpt f = ck;
    f.state = f.blob = NULL;
    f.buf = NULL;
    genrt_ckpt_free(&ck);
    return f;
}

/* A spy on fake_model's train_step that injects faults: a NaN metric, a
 * poisoned parameter, a step not taken, a signal raised. */
static struct {
    const struct genrt_model *m;
    long nan_metric_at;        /* this step's loss_D is NaN (0: never) */
    long nan_metric_from;      /* ... and every step's from this one */
    long poison_at;            /* after this step, G.weight[0] is NaN ... */
    int poison_sticks;         /* ... and stays NaN, as a diverged run's would */
    long no_step_at;           /* this step's update is not made at all */
    long raise_at;             /* raise raise_sig during this step ... */
    int raise_sig, raise_twice; /* ... once or twice */
    long check_at;             /* during this step, check that check_path ... */
    const char *check_path;    /* ... still holds check_bytes */
    unsigned char *check_bytes;
    size_t check_len;
    char msg[256];
} fault;

/* Two runs' metrics.csv hold the same rows (the seconds aside). */
static void assert_same_metrics(const char *a, const char *b)
{
    char *ma = metrics_sans_seconds(a), *mb = metrics_sans_seconds(b);
    cr_assert_str_eq(ma, mb, "%s and %s differ", a, b);
    free(ma);
    free(mb);
}

static long tensor_offset(const struct genrt_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return m->tensors[i].offset;
    cr_assert_fail("no tensor %s", name);
    return -1;
}

static void fault_train_step(long t, double *metrics)
{
    const struct genrt_model *m = fault.m;
    float *state = m->state;
    long gw = tensor_offset(m, "G.weight");
    if (fault.check_at == t) {
        size_t n;
        unsigned char *b;
        struct genrt_err err;
        if (genrt_file_read_all(fault.check_path, &b, &n, &err) ||
            n != fault.check_len || memcmp(b, fault.check_bytes, n))
            snprintf(fault.msg, sizeof fault.msg, "step %ld: %s changed", t, fault.check_path);
        free(b);
    }
    if (fault.no_step_at == t)
        metrics[0] = metrics[1] = 0.5;
    else
        m->train_step(t, metrics);
    if (fault.nan_metric_at == t || (fault.nan_metric_from && t >= fault.nan_metric_from))
        metrics[0] = NAN;
    if (fault.poison_at == t || (fault.poison_sticks && fault.poison_at && t > fault.poison_at))
        state[gw] = NAN;
    if (fault.raise_at == t) {
        raise(fault.raise_sig);
        if (fault.raise_twice)
            raise(fault.raise_sig);
    }
}

/* fake_model (or *base) with its steps through the spy, checkpointing every
 * `every` steps. */
static struct genrt_model faulty(const struct genrt_model *base, long every)
{
    memset(&fault, 0, sizeof fault);
    fault.m = base;
    struct genrt_model m = *base;
    m.train_step = fault_train_step;
    m.checkpoint_every = every;
    return m;
}

static uint64_t ckpt_step(const char *path)
{
    return ckpt_fields(path).step;
}

/* The entries of dir whose names contain ".tmp.". */
static int count_temps(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "exit $(find %s -name '*.tmp.*' | wc -l)", dir);
    return WEXITSTATUS(system(cmd));
}

/* -------------------------------------------------------------------- rng */

Test(rng, matches_reference_xoshiro256starstar)
{
    /* splitmix64(0) and xoshiro256** reference outputs */
    struct genrt_rng r;
    genrt_rng_seed(&r, 0);
    cr_assert_eq(r.s[0], 0xe220a8397b1dcdafULL);
    cr_assert_eq(r.s[1], 0x6e789e6aa1b965f4ULL);
    cr_assert_eq(r.s[2], 0x06c45d188009454fULL);
    cr_assert_eq(r.s[3], 0xf88bb8a8724c81ecULL);
    cr_assert_eq(genrt_rng_next_u64(&r), 0x99ec5f36cb75f2b4ULL);
    cr_assert_eq(genrt_rng_next_u64(&r), 0xbf6e1f784956452aULL);
    cr_assert_eq(genrt_rng_next_u64(&r), 0x1a5f849d4933e6e0ULL);
    genrt_rng_seed(&r, 42);
    cr_assert_eq(genrt_rng_next_u64(&r), 0x15780b2e0c2ec716ULL);
}

Test(rng, deterministic_and_seed_dependent)
{
    struct genrt_rng a, b, c;
    genrt_rng_seed(&a, 7);
    genrt_rng_seed(&b, 7);
    genrt_rng_seed(&c, 8);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        double x = genrt_rng_normal(&a), y = genrt_rng_normal(&b), z = genrt_rng_normal(&c);
        cr_assert_eq(x, y);
        differ += x != z;
    }
    cr_assert_gt(differ, 990);
    cr_assert_neq(genrt_rng_derive(7, GENRT_STREAM_INIT), genrt_rng_derive(7, GENRT_STREAM_LATENT));
    cr_assert_neq(genrt_rng_derive(7, 1), genrt_rng_derive(8, 1));
}

Test(rng, uniform_moments)
{
    struct genrt_rng r;
    genrt_rng_seed(&r, 1);
    const int n = 1000000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double u = genrt_rng_uniform(&r);
        cr_assert(u >= 0.0 && u < 1.0);
        s += u;
        s2 += u * u;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    cr_assert_float_eq(mean, 0.5, 2e-3);
    cr_assert_float_eq(var, 1.0 / 12, 1e-3);
}

Test(rng, normal_moments)
{
    struct genrt_rng r;
    genrt_rng_seed(&r, 2);
    const int n = 1000000;
    double s = 0, s2 = 0, s4 = 0;
    for (int i = 0; i < n; i++) {
        double x = genrt_rng_normal(&r);
        s += x;
        s2 += x * x;
        s4 += x * x * x * x;
    }
    cr_assert_float_eq(s / n, 0.0, 5e-3);
    cr_assert_float_eq(s2 / n, 1.0, 1e-2);
    cr_assert_float_eq(s4 / n, 3.0, 5e-2);
}

Test(rng, struct_copy_resumes_stream_with_cached_normal)
{
    struct genrt_rng r;
    genrt_rng_seed(&r, 3);
    for (int i = 0; i < 5; i++) /* odd: the second Box-Muller value is cached */
        genrt_rng_normal(&r);
    cr_assert(r.has_spare);
    struct genrt_rng saved;
    memcpy(&saved, &r, sizeof r);
    double want[100];
    for (int i = 0; i < 100; i++)
        want[i] = genrt_rng_normal(&r);
    memcpy(&r, &saved, sizeof r);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(genrt_rng_normal(&r), want[i]);
}

Test(rng, fills_and_bounded_integers)
{
    struct genrt_rng r;
    genrt_rng_seed(&r, 4);
    float x[10000];
    genrt_rng_fill_uniform(&r, x, 10000, -1.0f, 1.0f);
    double s = 0;
    for (int i = 0; i < 10000; i++) {
        cr_assert(x[i] >= -1.0f && x[i] <= 1.0f);
        s += x[i];
    }
    cr_assert_float_eq(s / 10000, 0.0, 0.03);
    genrt_rng_fill_normal(&r, x, 10000);
    s = 0;
    for (int i = 0; i < 10000; i++)
        s += (double)x[i] * x[i];
    cr_assert_float_eq(s / 10000, 1.0, 0.05);
    int count[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t k = genrt_rng_below(&r, 7);
        cr_assert_lt(k, 7);
        count[k]++;
    }
    for (int k = 0; k < 7; k++)
        cr_assert(count[k] > 9400 && count[k] < 10600, "count[%d] = %d", k, count[k]);
}

/* ------------------------------------------------------------------- data */

/* A model with the data fields of the image fake, reading from dir. */
static struct genrt_model image_model(const char *dir, int train)
{
    struct genrt_model m = fake_image_model;
    m.data_path = dir;
    m.data_train = train;
    return m;
}

Test(data, loads_fashion_mnist_train_and_test)
{
    struct genrt_model m = image_model(FMNIST_DIR, 1);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 60000);
    cr_assert_eq(d.h, 28);
    cr_assert_eq(d.w, 28);
    cr_assert_eq(d.labels[0], 9); /* the first training image is an ankle boot */
    int max_label = 0;
    for (long i = 0; i < d.n; i++)
        max_label = d.labels[i] > max_label ? d.labels[i] : max_label;
    cr_assert_eq(max_label, 9);
    genrt_data_close(&d);

    m = image_model(FMNIST_DIR, 0);
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 10000);
    genrt_data_close(&d);
}

Test(data, batches_map_pixels_to_range)
{
    struct genrt_model m = image_model(FMNIST_DIR, 1);
    m.range_lo = -1.0f;
    m.range_hi = 1.0f;
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 5, &err), 0, "%s", err.msg);
    cr_assert_eq(d.lut[0], -1.0f);
    cr_assert_eq(d.lut[255], 1.0f);
    cr_assert_float_eq(d.lut[51], -1.0f + 2.0f * 51 / 255, 1e-6);
    static float x[64 * 784];
    uint32_t first[64];
    memcpy(first, d.order, sizeof first);
    cr_assert_eq(genrt_data_next_batch(&d, x, 64), 0);
    int lo = 0, hi = 0;
    for (int b = 0; b < 64; b++)
        for (int i = 0; i < 784; i++) {
            float v = x[b * 784 + i];
            cr_assert_eq(v, d.lut[d.images[(size_t)first[b] * 784 + i]]);
            lo += v == -1.0f;
            hi += v == 1.0f;
        }
    cr_assert(lo > 0 && hi > 0, "expected both extreme pixel values in a batch");
    genrt_data_close(&d);
}

Test(data, shuffle_is_a_seeded_permutation)
{
    struct genrt_model m = image_model(FMNIST_DIR, 0);
    struct genrt_data a, b, c;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&a, &m, NULL, 11, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_data_open(&b, &m, NULL, 11, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_data_open(&c, &m, NULL, 12, &err), 0, "%s", err.msg);
    cr_assert(!memcmp(a.order, b.order, (size_t)a.n * sizeof *a.order));
    cr_assert(memcmp(a.order, c.order, (size_t)a.n * sizeof *a.order));
    char *seen = calloc((size_t)a.n, 1);
    for (long i = 0; i < a.n; i++) {
        cr_assert_lt(a.order[i], (uint32_t)a.n);
        cr_assert(!seen[a.order[i]]);
        seen[a.order[i]] = 1;
    }
    free(seen);
    genrt_data_close(&a);
    genrt_data_close(&b);
    genrt_data_close(&c);
}

Test(data, state_restores_batches_exactly)
{
    struct genrt_model m = image_model(FMNIST_DIR, 0);
    struct genrt_data a, b;
    struct genrt_err err;
    static float x[100 * 784], y[100 * 784];
    cr_assert_eq(genrt_data_open(&a, &m, NULL, 3, &err), 0, "%s", err.msg);
    for (int i = 0; i < 97; i++) /* past the end of the first epoch */
        genrt_data_next_batch(&a, x, 100);
    struct genrt_data_state st;
    genrt_data_get_state(&a, &st);
    cr_assert_eq(st.epoch, 0);
    cr_assert_eq(st.cursor, 9700);
    /* a fresh loader, as on resume */
    cr_assert_eq(genrt_data_open(&b, &m, NULL, 3, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_data_set_state(&b, &st, &err), 0, "%s", err.msg);
    for (int i = 0; i < 10; i++) {
        genrt_data_next_batch(&a, x, 100);
        genrt_data_next_batch(&b, y, 100);
        cr_assert(!memcmp(x, y, sizeof x), "batch %d differs", i);
    }
    genrt_data_get_state(&b, &st);
    cr_assert_eq(st.epoch, 1);
    cr_assert_eq(st.cursor, 700);
    st.cursor = 10001;
    cr_assert_eq(genrt_data_set_state(&b, &st, &err), -1);
    genrt_data_close(&a);
    genrt_data_close(&b);
}

/* Writes an IDX pair of n images of hxw pixels (pixel = image index) into
 * dir, gzip'd or plain. */
static void write_idx(const char *dir, const char *split, uint32_t n, uint32_t h, uint32_t w,
                      uint32_t n_labels, int gz)
{
    size_t isize = 16 + (size_t)n * h * w, lsize = 8 + n_labels;
    unsigned char *img = calloc(isize, 1), *lab = calloc(lsize, 1);
    uint32_t ih[4] = {0x803, n, h, w}, lh[2] = {0x801, n_labels};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            img[4 * i + k] = (unsigned char)(ih[i] >> (24 - 8 * k));
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++)
            lab[4 * i + k] = (unsigned char)(lh[i] >> (24 - 8 * k));
    for (uint32_t i = 0; i < n; i++)
        memset(img + 16 + (size_t)i * h * w, (int)(i & 0xff), (size_t)h * w);
    char ip[512], lp[512];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte%s", dir, split, gz ? ".gz" : "");
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte%s", dir, split, gz ? ".gz" : "");
    if (gz) {
        spit_gz(ip, img, isize);
        spit_gz(lp, lab, lsize);
    } else {
        spit(ip, img, isize);
        spit(lp, lab, lsize);
    }
    free(img);
    free(lab);
}

static void expect_open_error(const char *dir, const char *want)
{
    struct genrt_model m = image_model(dir, 1);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1, "opened %s", dir);
    cr_assert_not_null(strstr(err.msg, want), "'%s' not in: %s", want, err.msg);
    genrt_data_close(&d);
}

Test(data, small_idx_epochs_drop_incomplete_batch)
{
    const char *dir = tpath("small");
    mkdir(dir, 0777);
    write_idx(dir, "train", 10, 28, 28, 10, 1);
    struct genrt_model m = image_model(dir, 1);
    m.range_lo = 0.0f;
    m.range_hi = 255.0f; /* floats equal the pixel bytes: the image index */
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 9, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 10);
    static float x[4 * 784];
    for (int epoch = 0; epoch < 3; epoch++) {
        int seen[10] = {0};
        for (int k = 0; k < 2; k++) { /* 2 full batches of 4, then 2 left over */
            cr_assert_eq(genrt_data_next_batch(&d, x, 4), 0);
            cr_assert_eq(d.st.epoch, (uint64_t)epoch);
            for (int b = 0; b < 4; b++)
                seen[(int)x[b * 784]]++;
        }
        for (int i = 0, total = 0; i < 10; i++) {
            cr_assert_leq(seen[i], 1, "example %d served twice in epoch %d", i, epoch);
            total += seen[i];
            if (i == 9)
                cr_assert_eq(total, 8);
        }
    }
    cr_assert_eq(genrt_data_next_batch(&d, x, 11), -1);
    genrt_data_close(&d);
}

Test(data, opens_either_split_whatever_the_spec_says)
{
    /* the spec's split is train, the test split opens by name (and back) */
    struct genrt_model m = image_model(FMNIST_DIR, 1);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open_split(&d, &m, NULL, GENRT_SPLIT_TEST, 1, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(d.n, 10000);
    cr_assert_eq(d.labels[0], 9); /* the first test image is an ankle boot too */
    cr_assert_eq(d.labels[1], 2); /* and the second a pullover */
    genrt_data_close(&d);
    m.data_train = 0;
    cr_assert_eq(genrt_data_open_split(&d, &m, NULL, GENRT_SPLIT_TRAIN, 1, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(d.n, 60000);
    genrt_data_close(&d);
    cr_assert_eq(genrt_data_open_split(&d, &m, NULL, GENRT_SPLIT_MODEL, 1, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(d.n, 10000);
    genrt_data_close(&d);
    cr_assert(genrt_data_has_split(GENRT_DATA_FASHION_MNIST, GENRT_SPLIT_TEST));
    cr_assert(genrt_data_has_split(GENRT_DATA_IMAGES, GENRT_SPLIT_TRAIN));
    cr_assert(!genrt_data_has_split(GENRT_DATA_IMAGES, GENRT_SPLIT_TEST));
    cr_assert(!genrt_data_has_split(GENRT_DATA_RING8, GENRT_SPLIT_TRAIN));
    cr_assert(genrt_data_has_split(GENRT_DATA_RING8, GENRT_SPLIT_MODEL));

    /* images and ring8 have no test split; ring8 no train split either */
    m = fake_rgb_model;
    m.data_path = "/nonexistent";
    cr_assert_eq(genrt_data_open_split(&d, &m, NULL, GENRT_SPLIT_TEST, 1, &err), -1);
    cr_assert_str_eq(err.msg, "images data have no test split (the whole directory is the "
                     "train split)");
    genrt_data_close(&d);
    cr_assert_eq(genrt_data_open_split(&d, &fake_model, NULL, GENRT_SPLIT_TRAIN, 1, &err), -1);
    cr_assert_str_eq(err.msg, "ring8 data have no train split (they are an endless generated "
                     "stream)");
    genrt_data_close(&d);
}

Test(data, read_serves_examples_in_file_order)
{
    const char *dir = tpath("order");
    mkdir(dir, 0777);
    write_idx(dir, "t10k", 7, 28, 28, 7, 1);
    struct genrt_model m = image_model(dir, 1);
    m.range_lo = 0.0f;
    m.range_hi = 255.0f; /* floats equal the pixel bytes: the image index */
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open_split(&d, &m, NULL, GENRT_SPLIT_TEST, 2, &err), 0, "%s",
                 err.msg);
    static float x[8 * 784];
    int labels[8];
    x[3 * 784] = -5.0f;
    cr_assert_eq(genrt_data_read(&d, 4, 3, x, labels), 0);
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < 784; i++)
            cr_assert_eq(x[b * 784 + i], (float)(4 + b));
    cr_assert_eq(x[3 * 784], -5.0f, "wrote past the examples asked for");
    for (int b = 0; b < 3; b++)
        cr_assert_eq(labels[b], 0); /* write_idx's labels */
    /* the loader's stream is untouched */
    cr_assert_eq(d.st.cursor, 0);
    cr_assert_eq(genrt_data_read(&d, 0, 7, x, NULL), 0);
    cr_assert_eq(genrt_data_read(&d, 5, 3, x, NULL), -1);
    cr_assert_eq(genrt_data_read(&d, -1, 1, x, NULL), -1);
    cr_assert_eq(genrt_data_read(&d, 7, 0, x, NULL), 0);
    genrt_data_close(&d);
    struct genrt_data ring;
    cr_assert_eq(genrt_data_open(&ring, &fake_model, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_data_read(&ring, 0, 1, x, NULL), -1);
    genrt_data_close(&ring);
}

Test(data, reads_plain_files_too)
{
    const char *dir = tpath("plain");
    mkdir(dir, 0777);
    write_idx(dir, "t10k", 3, 28, 28, 3, 0);
    struct genrt_model m = image_model(dir, 0);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 3);
    genrt_data_close(&d);
}

Test(data, rejects_missing_files)
{
    expect_open_error(tpath("nope"), "no such directory");
    const char *dir = tpath("empty");
    mkdir(dir, 0777);
    expect_open_error(dir, "train-images-idx3-ubyte.gz: no such file");
}

Test(data, rejects_bad_magic)
{
    const char *dir = tpath("magic");
    mkdir(dir, 0777);
    write_idx(dir, "train", 3, 28, 28, 3, 0);
    char p[512];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    spit(p, "\x12\x34\x56\x78 and more bytes", 20);
    expect_open_error(dir, "train-images-idx3-ubyte: bad magic 0x12345678 (not an IDX image file)");
}

Test(data, rejects_truncated_files)
{
    const char *dir = tpath("trunc");
    mkdir(dir, 0777);
    write_idx(dir, "train", 10, 28, 28, 10, 0);
    char p[512];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    cr_assert_eq(truncate(p, 1000), 0);
    expect_open_error(dir, "train-images-idx3-ubyte: truncated: expected 7856 bytes, got 1000");
    cr_assert_eq(truncate(p, 10), 0);
    expect_open_error(dir, "truncated: expected a 16-byte header, got 10 bytes");

    /* gzip'd: the decompressed data end early */
    const char *gdir = tpath("truncgz");
    mkdir(gdir, 0777);
    write_idx(gdir, "train", 10, 28, 28, 10, 0);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", gdir);
    size_t n;
    unsigned char *all = slurp(p, &n);
    unlink(p);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", gdir);
    spit_gz(p, all, 5000);
    free(all);
    expect_open_error(gdir, "train-images-idx3-ubyte.gz: truncated: expected 7856 bytes, got 5000");
}

Test(data, rejects_truncated_gzip_stream)
{
    const char *dir = tpath("cutgz");
    mkdir(dir, 0777);
    write_idx(dir, "train", 100, 28, 28, 100, 1);
    char p[512];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    struct stat st;
    stat(p, &st);
    cr_assert_eq(truncate(p, st.st_size / 2), 0); /* the compressed stream itself is cut */
    expect_open_error(dir, "truncated: expected 78416 bytes");
}

Test(data, rejects_wrong_dims_counts_and_trailing_data)
{
    const char *dir = tpath("dims");
    mkdir(dir, 0777);
    write_idx(dir, "train", 4, 32, 32, 4, 1);
    expect_open_error(dir, "images are 1x32x32 but the model expects 1x28x28");

    const char *cdir = tpath("count");
    mkdir(cdir, 0777);
    write_idx(cdir, "train", 4, 28, 28, 5, 1);
    expect_open_error(cdir, "train-labels-idx1-ubyte.gz: 5 labels, but");

    const char *tdir = tpath("trailing");
    mkdir(tdir, 0777);
    write_idx(tdir, "train", 4, 28, 28, 4, 0);
    char p[512];
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", tdir);
    FILE *f = fopen(p, "ab");
    fputs("xyz", f);
    fclose(f);
    expect_open_error(tdir, "trailing data");
}

Test(data, ring8_points_lie_on_the_ring)
{
    struct genrt_model m = fake_model;
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    static float x[2 * 8000];
    genrt_data_next_batch(&d, x, 8000);
    int per_mode[8] = {0};
    double dev2 = 0;
    for (int i = 0; i < 8000; i++) {
        double a = atan2(x[2 * i + 1], x[2 * i]);
        int k = ((int)lround(a / (2 * M_PI / 8)) + 8) % 8;
        per_mode[k]++;
        double cx = 2 * cos(2 * M_PI * k / 8), cy = 2 * sin(2 * M_PI * k / 8);
        double dx = x[2 * i] - cx, dy = x[2 * i + 1] - cy;
        cr_assert_lt(dx * dx + dy * dy, 0.3 * 0.3);
        dev2 += dx * dx + dy * dy;
    }
    cr_assert_float_eq(sqrt(dev2 / 16000), 0.05, 0.003); /* per-coordinate std */
    for (int k = 0; k < 8; k++)
        cr_assert(per_mode[k] > 850 && per_mode[k] < 1150, "mode %d: %d", k, per_mode[k]);

    /* the stream resumes from a saved state */
    struct genrt_data_state st;
    genrt_data_get_state(&d, &st);
    float a[64], b[64];
    genrt_data_next_batch(&d, a, 32);
    cr_assert_eq(genrt_data_set_state(&d, &st, &err), 0);
    genrt_data_next_batch(&d, b, 32);
    cr_assert(!memcmp(a, b, sizeof a));
    genrt_data_close(&d);
}

Test(data, labels_follow_the_batches)
{
    struct genrt_model m = image_model(FMNIST_DIR, 0);
    struct genrt_data a, b;
    struct genrt_err err;
    static float x[32 * 784], y[32 * 784];
    int lab[32];
    cr_assert_eq(genrt_data_open(&a, &m, NULL, 4, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_data_open(&b, &m, NULL, 4, &err), 0, "%s", err.msg);
    cr_assert_eq(a.n_classes, 10);
    for (int k = 0; k < 5; k++) {
        uint32_t idx[32];
        memcpy(idx, a.order + a.st.cursor, sizeof idx);
        cr_assert_eq(genrt_data_next_batch_labels(&a, x, lab, 32), 0);
        cr_assert_eq(genrt_data_next_batch(&b, y, 32), 0); /* the same stream without labels */
        cr_assert(!memcmp(x, y, sizeof x));
        for (int i = 0; i < 32; i++)
            cr_assert_eq(lab[i], a.labels[idx[i]]);
    }
    genrt_data_close(&a);
    genrt_data_close(&b);

    /* ring8: the label is the mode the point was drawn around, and asking
     * for labels does not change the stream */
    struct genrt_model r = fake_model;
    cr_assert_eq(genrt_data_open(&a, &r, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_data_open(&b, &r, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(a.n_classes, 8);
    genrt_data_next_batch_labels(&a, x, lab, 32);
    genrt_data_next_batch(&b, y, 32);
    cr_assert(!memcmp(x, y, 64 * sizeof *x));
    for (int i = 0; i < 32; i++) {
        double ang = 2 * M_PI * lab[i] / 8;
        cr_assert_lt(hypot(x[2 * i] - 2 * cos(ang), x[2 * i + 1] - 2 * sin(ang)), 0.3);
    }
    genrt_data_close(&a);
    genrt_data_close(&b);
}

/* ----------------------------------------------------------------- images */

/* Writes px (w x h pixels of c channels, channels-last) as a JPEG of
 * quality 95 if the name ends in .jpg or .jpeg (any case), else a PNG. */
static void write_img(const char *path, int w, int h, int c, const unsigned char *px)
{
    const char *dot = strrchr(path, '.');
    int jpeg = dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
    int ok = jpeg ? stbi_write_jpg(path, w, h, c, px, 95)
                  : stbi_write_png(path, w, h, c, px, w * c);
    cr_assert(ok, "cannot write %s", path);
}

static void write_solid(const char *path, int w, int h, int c, const unsigned char *color)
{
    unsigned char *px = malloc((size_t)w * h * c);
    for (long i = 0; i < (long)w * h; i++)
        memcpy(px + i * c, color, (size_t)c);
    write_img(path, w, h, c, px);
    free(px);
}

/* A test pattern that tells every pixel and channel apart. */
static unsigned char pattern(int seed, int i, int j, int ch)
{
    return (unsigned char)(seed * 37 + i * 29 + j * 7 + ch * 83);
}

/* An image of w x h pixels of c channels with pattern(seed). */
static void write_pattern(const char *path, int w, int h, int c, int seed)
{
    unsigned char *px = malloc((size_t)w * h * c);
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
            for (int ch = 0; ch < c; ch++)
                px[((size_t)i * w + j) * c + ch] = pattern(seed, i, j, ch);
    write_img(path, w, h, c, px);
    free(px);
}

/* Makes tmpdir()/name; the path lives in a ring of its own, apart from
 * tpath's, so that it outlasts many tpath calls. */
static const char *mkdir_t(const char *fmt, ...)
{
    static char bufs[8][512];
    static int k;
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    char *p = bufs[k++ % 8];
    snprintf(p, 512, "%s", tpath("%s", name));
    cr_assert_eq(mkdir(p, 0777), 0, "mkdir %s", p);
    return p;
}

/* The RGB fake's data fields (6 x 8 pixels) with c channels, reading dir,
 * and pixel values kept as they are (lut[i] = i). */
static struct genrt_model rgb_model(const char *dir, int c)
{
    struct genrt_model m = fake_rgb_model;
    m.data_path = dir;
    m.img_c = c;
    m.sample_size = (long)c * m.img_h * m.img_w;
    m.range_lo = 0.0f;
    m.range_hi = 255.0f;
    return m;
}

static void expect_images_error(const char *dir, int c, const char *want)
{
    struct genrt_model m = rgb_model(dir, c);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1, "opened %s", dir);
    cr_assert_not_null(strstr(err.msg, want), "'%s' not in: %s", want, err.msg);
    cr_assert_null(strchr(err.msg, '\n'), "%s", err.msg);
    genrt_data_close(&d);
}

/* Asserts that every value of an h x w x c image is v, within tol. */
static void assert_solid(const uint8_t *img, long px, const unsigned char *v, int c, int tol)
{
    for (long p = 0; p < px; p++)
        for (int ch = 0; ch < c; ch++)
            cr_assert(abs(img[p * c + ch] - v[ch]) <= tol, "pixel %ld channel %d: %d, not %d", p,
                      ch, img[p * c + ch], v[ch]);
}

Test(images, loads_sorted_resized_channels_last)
{
    const char *dir = mkdir_t("img");
    static const unsigned char c_col[3] = {200, 100, 50}, d_col[3] = {10, 220, 130},
                               e_col[3] = {1, 2, 3};
    write_pattern(tpath("img/a.png"), 8, 6, 3, 1);   /* the model's size: kept exactly */
    write_pattern(tpath("img/B.PNG"), 8, 6, 4, 2);   /* RGBA: alpha dropped, not blended */
    write_solid(tpath("img/c.jpg"), 30, 20, 3, c_col); /* shrunk */
    write_solid(tpath("img/d.JPEG"), 3, 4, 3, d_col);  /* grown */
    write_solid(tpath("img/e.png"), 17, 3, 3, e_col);  /* other aspect ratio */
    spit(tpath("img/notes.txt"), "not an image", 12);
    spit(tpath("img/.hidden.png"), "not an image", 12); /* hidden: never read */
    mkdir_t("img/no_images");                             /* not a class: nothing in it */
    spit(tpath("img/no_images/readme"), "x", 1);

    struct genrt_model m = rgb_model(dir, 3);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 5);
    cr_assert(d.c == 3 && d.h == 6 && d.w == 8);
    cr_assert_eq(d.n_classes, 1);
    cr_assert_null(d.class_names);
    /* byte order of names: "B.PNG" < "a.png" < "c.jpg" < "d.JPEG" < "e.png" */
    const long px = 6 * 8;
    for (int k = 0; k < 2; k++) {
        const uint8_t *img = d.images + (size_t)k * px * 3;
        int seed = k == 0 ? 2 : 1;
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 8; j++)
                for (int ch = 0; ch < 3; ch++)
                    cr_assert_eq(img[(i * 8 + j) * 3 + ch], pattern(seed, i, j, ch),
                                 "image %d (%d, %d, %d)", k, i, j, ch);
    }
    assert_solid(d.images + 2 * px * 3, px, c_col, 3, 3); /* JPEG: lossy */
    assert_solid(d.images + 3 * px * 3, px, d_col, 3, 3);
    assert_solid(d.images + 4 * px * 3, px, e_col, 3, 1);
    for (long i = 0; i < d.n; i++)
        cr_assert_eq(d.labels[i], 0);

    /* batches: floats in HWC order, an epoch serves every image once */
    float x[5 * 144];
    int lab[5];
    uint32_t idx[5];
    memcpy(idx, d.order, sizeof idx);
    cr_assert_eq(genrt_data_next_batch_labels(&d, x, lab, 5), 0);
    int seen = 0;
    for (int b = 0; b < 5; b++) {
        seen |= 1 << idx[b];
        cr_assert_eq(lab[b], 0);
        for (int i = 0; i < 144; i++)
            cr_assert_eq(x[b * 144 + i], (float)d.images[(size_t)idx[b] * 144 + i]);
    }
    cr_assert_eq(seen, 31);
    cr_assert_eq(genrt_data_next_batch(&d, x, 6), -1);
    genrt_data_close(&d);

    /* --data overrides the model's directory */
    m.data_path = tpath("elsewhere");
    cr_assert_eq(genrt_data_open(&d, &m, dir, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 5);
    genrt_data_close(&d);
}

Test(images, gray_spec_takes_gray_and_gray_alpha)
{
    const char *dir = mkdir_t("gray");
    static const unsigned char ga[2] = {77, 0};
    write_pattern(tpath("gray/g.png"), 8, 6, 1, 3);
    write_solid(tpath("gray/ga.png"), 5, 5, 2, ga); /* transparent, still gray 77 */
    struct genrt_model m = rgb_model(dir, 1);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 2);
    cr_assert_eq(d.c, 1);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 8; j++)
            cr_assert_eq(d.images[i * 8 + j], pattern(3, i, j, 0));
    assert_solid(d.images + 48, 48, ga, 1, 0);
    genrt_data_close(&d);

    char want[600];
    write_pattern(tpath("gray/x.png"), 8, 6, 3, 4);
    snprintf(want, sizeof want, "%s/x.png: 3 channels (RGB), but the spec wants 1 (gray)", dir);
    expect_images_error(dir, 1, want);
    unlink(tpath("gray/x.png"));
    write_pattern(tpath("gray/y.jpg"), 8, 6, 3, 4);
    expect_images_error(dir, 1, "/y.jpg: 3 channels (RGB), but the spec wants 1 (gray)");
    unlink(tpath("gray/y.jpg"));
    write_pattern(tpath("gray/z.png"), 8, 6, 4, 4);
    expect_images_error(dir, 1, "/z.png: 4 channels (RGBA), but the spec wants 1 (gray)");
}

Test(images, rgb_spec_rejects_gray)
{
    const char *dir = mkdir_t("rgb");
    write_pattern(tpath("rgb/a.png"), 8, 6, 3, 1);
    write_pattern(tpath("rgb/g.png"), 8, 6, 1, 1);
    char want[600];
    snprintf(want, sizeof want, "%s/g.png: 1 channel (gray), but the spec wants 3 (RGB)", dir);
    expect_images_error(dir, 3, want);
    unlink(tpath("rgb/g.png"));
    write_pattern(tpath("rgb/h.png"), 8, 6, 2, 1);
    expect_images_error(dir, 3, "/h.png: 2 channels (gray+alpha), but the spec wants 3 (RGB)");
}

Test(images, class_subfolders_give_labels)
{
    const char *dir = mkdir_t("classes");
    static const unsigned char col[3][3] = {{0, 0, 0}, {80, 80, 80}, {160, 160, 160}};
    mkdir_t("classes/cat");
    mkdir_t("classes/dog");
    mkdir_t("classes/empty");
    mkdir_t("classes/zebra");
    mkdir_t("classes/zebra/nested"); /* one level only */
    mkdir_t("classes/.git");         /* hidden */
    write_solid(tpath("classes/cat/2.png"), 8, 6, 3, col[0]);
    write_solid(tpath("classes/cat/1.png"), 9, 9, 3, col[0]);
    write_solid(tpath("classes/dog/a.jpg"), 8, 6, 3, col[1]);
    write_solid(tpath("classes/zebra/z.png"), 4, 4, 4, (const unsigned char[4]){160, 160, 160, 9});
    spit(tpath("classes/zebra/nested/bad.png"), "junk", 4);
    spit(tpath("classes/.git/bad.png"), "junk", 4);
    struct genrt_model m = rgb_model(dir, 3);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 7, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 4);
    cr_assert_eq(d.n_classes, 3);
    cr_assert_str_eq(d.class_names[0], "cat");
    cr_assert_str_eq(d.class_names[1], "dog");
    cr_assert_str_eq(d.class_names[2], "zebra");
    const uint8_t want_labels[4] = {0, 0, 1, 2};
    cr_assert(!memcmp(d.labels, want_labels, 4));
    float x[2 * 144];
    int lab[2];
    for (int k = 0; k < 6; k++) { /* three epochs */
        cr_assert_eq(genrt_data_next_batch_labels(&d, x, lab, 2), 0);
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 144; i++)
                cr_assert(fabsf(x[b * 144 + i] - col[lab[b]][0]) <= 3.0f, "label %d, value %g",
                          lab[b], x[b * 144 + i]);
    }
    genrt_data_close(&d);

    /* images next to class folders: ambiguous, so an error */
    write_solid(tpath("classes/stray.png"), 8, 6, 3, col[0]);
    expect_images_error(dir, 3, "holds images (stray.png) next to class subfolders (cat/)");
}

/* n_img images of one distinct color each, in dir. */
static const char *color_dir(const char *name, int n_img)
{
    const char *dir = mkdir_t("%s", name);
    for (int k = 0; k < n_img; k++) {
        unsigned char col[3] = {(unsigned char)k, (unsigned char)(2 * k), (unsigned char)(3 * k)};
        write_solid(tpath("%s/%03d.png", name, k), 8, 6, 3, col);
    }
    return dir;
}

Test(images, epochs_are_seeded_and_resume_exactly)
{
    const char *dir = color_dir("colors", 20);
    struct genrt_model m = rgb_model(dir, 3);
    struct genrt_data a, b, c;
    struct genrt_err err;
    float x[3 * 144], y[3 * 144];
    cr_assert_eq(genrt_data_open(&a, &m, NULL, 5, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_data_open(&b, &m, NULL, 5, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_data_open(&c, &m, NULL, 6, &err), 0, "%s", err.msg);
    cr_assert(!memcmp(a.images, b.images, 20 * 144)); /* decoding is deterministic */
    cr_assert(memcmp(a.order, c.order, 20 * sizeof *a.order));
    int seen[20];
    for (int k = 0; k < 20; k++) { /* 6 batches of 3 per epoch, 2 images dropped */
        if (k % 6 == 0)
            memset(seen, 0, sizeof seen);
        cr_assert_eq(genrt_data_next_batch(&a, x, 3), 0);
        cr_assert_eq(genrt_data_next_batch(&b, y, 3), 0);
        cr_assert(!memcmp(x, y, sizeof x), "batch %d differs", k);
        cr_assert_eq(a.st.epoch, (uint64_t)(k / 6));
        for (int i = 0; i < 3; i++) { /* the color tells the file */
            int f = (int)x[i * 144];
            cr_assert(f >= 0 && f < 20 && x[i * 144 + 1] == 2 * f && x[i * 144 + 2] == 3 * f);
            cr_assert_eq(seen[f]++, 0, "image %d twice in epoch %d", f, k / 6);
        }
    }
    /* resume from a state in the middle of an epoch */
    struct genrt_data_state st;
    genrt_data_get_state(&a, &st);
    cr_assert_eq(st.epoch, 3);
    cr_assert_eq(st.cursor, 6);
    genrt_data_close(&b);
    cr_assert_eq(genrt_data_open(&b, &m, NULL, 5, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_data_set_state(&b, &st, &err), 0, "%s", err.msg);
    for (int k = 0; k < 10; k++) {
        genrt_data_next_batch(&a, x, 3);
        genrt_data_next_batch(&b, y, 3);
        cr_assert(!memcmp(x, y, sizeof x), "resumed batch %d differs", k);
    }
    st.cursor = 21;
    cr_assert_eq(genrt_data_set_state(&b, &st, &err), -1);
    genrt_data_close(&a);
    genrt_data_close(&b);
    genrt_data_close(&c);
}

Test(images, errors_are_one_line_naming_the_file)
{
    char want[600];
    const char *missing = tpath("missing");
    snprintf(want, sizeof want, "%s: no such directory", missing);
    expect_images_error(missing, 3, want);

    const char *file = tpath("file.png");
    write_pattern(file, 8, 6, 3, 1);
    expect_images_error(file, 3, "file.png: not a directory");

    const char *empty = mkdir_t("empty");
    snprintf(want, sizeof want, "%s: no images (.png, .jpg, .jpeg) in it or its subfolders", empty);
    expect_images_error(empty, 3, want);
    mkdir_t("empty/sub");
    spit(tpath("empty/sub/x.gif"), "GIF89a", 6);
    expect_images_error(empty, 3, want);

    /* random bytes under an image name */
    const char *bad = mkdir_t("bad");
    write_pattern(tpath("bad/a.png"), 8, 6, 3, 1);
    unsigned char junk[300];
    struct genrt_rng r;
    genrt_rng_seed(&r, 99);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)genrt_rng_below(&r, 256);
    spit(tpath("bad/b.png"), junk, sizeof junk);
    snprintf(want, sizeof want, "%s/b.png: not a readable PNG or JPEG image (", bad);
    expect_images_error(bad, 3, want);

    /* a PNG cut short: the header is fine, the pixels are not there */
    const char *cut = mkdir_t("cut");
    write_pattern(tpath("cut/c.png"), 64, 64, 3, 1);
    struct stat st;
    stat(tpath("cut/c.png"), &st);
    cr_assert_eq(truncate(tpath("cut/c.png"), st.st_size / 2), 0);
    snprintf(want, sizeof want, "%s/c.png: not a readable PNG or JPEG image (", cut);
    expect_images_error(cut, 3, want);

    /* a dangling link under an image name */
    const char *dangling = mkdir_t("dangling");
    cr_assert_eq(symlink(tpath("nowhere.png"), tpath("dangling/l.png")), 0);
    expect_images_error(dangling, 3, "dangling/l.png: No such file or directory");

    /* a file we may not read (root may read anything) */
    if (geteuid() != 0) {
        const char *locked = mkdir_t("locked");
        write_pattern(tpath("locked/p.png"), 8, 6, 3, 1);
        cr_assert_eq(chmod(tpath("locked/p.png"), 0), 0);
        expect_images_error(locked, 3, "locked/p.png: Permission denied");
    }

    /* model errors */
    struct genrt_model m = rgb_model(tpath("colors"), 2);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1);
    cr_assert_not_null(strstr(err.msg, "C must be 1 or 3"), "%s", err.msg);
    m = rgb_model("", 3);
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1);
    cr_assert_str_eq(err.msg, "no data directory given (use --data DIR)");
}

/* Appends a PNG chunk (length, type, data, CRC) at p; returns its end. */
static unsigned char *png_chunk(unsigned char *p, const char type[4], const void *data, uint32_t n)
{
    unsigned char len[4] = {n >> 24, n >> 16, n >> 8, n};
    memcpy(p, len, 4);
    memcpy(p + 4, type, 4);
    memcpy(p + 8, data, n);
    uLong crc = crc32(crc32(0, NULL, 0), p + 4, n + 4);
    unsigned char c[4] = {crc >> 24, crc >> 16, crc >> 8, crc};
    memcpy(p + 8 + n, c, 4);
    return p + 12 + n;
}

/* A PNG whose header says w x h pixels of PNG color type `color` (0 gray,
 * 2 RGB), then a chunk of type `extra` (if not NULL) and an IDAT of a few
 * bytes. */
static size_t fake_png(unsigned char *buf, uint32_t w, uint32_t h, int color, const char *extra)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13] = {w >> 24, w >> 16, w >> 8, w, h >> 24, h >> 16, h >> 8, h, 8, color, 0, 0, 0};
    unsigned char idat[8] = {0x78, 0x9c, 0x63, 0, 0, 0, 1, 0};
    memcpy(buf, sig, 8);
    unsigned char *p = png_chunk(buf + 8, "IHDR", ihdr, 13);
    if (extra)
        p = png_chunk(p, extra, "", 0);
    p = png_chunk(p, "IDAT", idat, sizeof idat);
    p = png_chunk(p, "IEND", "", 0);
    return (size_t)(p - buf);
}

Test(images, hostile_files_get_printable_errors_and_a_pixel_cap)
{
    /* 20000 x 20000 gray in a file of 80 bytes: refused before decoding (a
     * real one of 431 KB used to decode to 786 MB) */
    unsigned char png[256];
    const char *huge = mkdir_t("huge");
    spit(tpath("huge/h.png"), png, fake_png(png, 20000, 20000, 0, NULL));
    expect_images_error(huge, 3, "h.png: 20000x20000 pixels, more than the 67108864 (8192x8192)");

    /* stb_image names an unknown critical chunk by its four bytes: here an
     * escape sequence that clears the terminal */
    const char *esc = mkdir_t("esc");
    spit(tpath("esc/e.png"), png, fake_png(png, 8, 6, 2, "\x1b[2J"));
    struct genrt_model m = rgb_model(esc, 3);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1);
    cr_expect_not_null(strstr(err.msg, "\\x1b[2J PNG chunk not known"), "%s", err.msg);
    for (const char *q = err.msg; *q; q++)
        cr_assert((unsigned char)*q >= 0x20 && *q != 0x7f, "byte 0x%02x in: %s", (unsigned char)*q, err.msg);
    genrt_data_close(&d);

    /* stb_image 2.27 writes past a Huffman table whose code counts sum
     * past 256 (found by tests/fuzz/fuzz_image) */
    static const unsigned char dht[26] = {0xff, 0xd8, 0xff, 0xff, 0xff, 0xc4, 0x81, 0xa2, 0, 0, 1, 0, 0, 0,
                                          0x10, 0, 0x44, 1, 0, 0xff, 0xd8, 0, 8, 0, 9, 0xff};
    const char *jpg = mkdir_t("dht");
    spit(tpath("dht/d.jpg"), dht, sizeof dht);
    expect_images_error(jpg, 3, "d.jpg: not a readable PNG or JPEG image (corrupt JPEG: a Huffman table holds "
                        "more than 256 codes)");
    /* the same bytes inside an EXIF-like block, or after the end of the
     * image, are not a table: such a file loads */
    write_pattern(tpath("dht/d.jpg"), 8, 6, 3, 1);
    size_t jn;
    unsigned char *j = slurp(tpath("dht/d.jpg"), &jn);
    unsigned char *withapp = malloc(jn + 4 + 24 + sizeof dht);
    memcpy(withapp, j, 2);
    memcpy(withapp + 2, "\xff\xe1\x00\x1a", 4); /* APP1 of 24 bytes */
    memcpy(withapp + 6, dht + 2, 24);
    memcpy(withapp + 30, j + 2, jn - 2);
    memcpy(withapp + 28 + jn, dht, sizeof dht); /* trailing data */
    spit(tpath("dht/d.jpg"), withapp, jn + 28 + sizeof dht);
    free(withapp);
    free(j);
    m = rgb_model(jpg, 3);
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    genrt_data_close(&d);

    /* stb_image 2.27 decodes a scan with a Huffman table that no DHT
     * defined out of uninitialized heap (an assertion in the fuzzer, found
     * by tests/fuzz/fuzz_image): here component 1's AC table 0 */
    j = slurp("tests/fuzz/regress/image/jpeg_huffman_table_never_defined.jpg", &jn);
    spit(tpath("dht/d.jpg"), j, jn);
    free(j);
    expect_images_error(jpg, 3, "d.jpg: not a readable PNG or JPEG image (corrupt JPEG: a scan uses the AC "
                        "Huffman table 0, which no DHT before it defines)");
    /* a good JPEG whose scan names DC table 2 instead of 0 */
    write_pattern(tpath("dht/d.jpg"), 8, 6, 3, 1);
    j = slurp(tpath("dht/d.jpg"), &jn);
    unsigned char *sos = memmem(j, jn, "\xff\xda\x00\x0c\x03", 5);
    cr_assert_not_null(sos);
    sos[6] = 0x20; /* component 1: DC 2, AC 0 */
    spit(tpath("dht/d.jpg"), j, jn);
    free(j);
    expect_images_error(jpg, 3, "(corrupt JPEG: a scan uses the DC Huffman table 2, which no DHT before it "
                        "defines)");
    /* libjpeg's progressive JPEGs name AC table 0 in their DC scans before
     * any DHT defines it: a DC scan does not decode with it */
    j = slurp("tests/fuzz/seeds/image/rgb_progressive.jpg", &jn);
    spit(tpath("dht/d.jpg"), j, jn);
    free(j);
    m = rgb_model(jpg, 3);
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    genrt_data_close(&d);

    /* each scan decodes the whole image again */
    unsigned char scans[2 + 101 * 4] = {0xff, 0xd8};
    for (int k = 0; k < 101; k++)
        memcpy(scans + 2 + 4 * k, "\xff\xda\x00\x02", 4);
    spit(tpath("dht/d.jpg"), scans, sizeof scans);
    expect_images_error(jpg, 3, "d.jpg: not a readable PNG or JPEG image (corrupt JPEG: more than 100 scans)");

    /* stb_image grows its buffer to a chunk's announced length first: 4 GB
     * for these 60 bytes (found by tests/fuzz/fuzz_image) */
    size_t n = fake_png(png, 8, 6, 2, NULL);
    memcpy(png + 33, "\xff\xff\xff\xf0IDAT", 8); /* the IDAT after the 33 bytes of signature and IHDR */
    const char *chunk = mkdir_t("chunk");
    spit(tpath("chunk/c.png"), png, n);
    expect_images_error(chunk, 3, "c.png: not a readable PNG or JPEG image (corrupt PNG: a chunk runs past the "
                        "end of the file)");

    /* only PNG and JPEG reach the decoder: not a BMP under a .png name */
    const char *bmp = mkdir_t("bmp");
    unsigned char px[8 * 6 * 3] = {0};
    cr_assert(stbi_write_bmp(tpath("bmp/b.png"), 8, 6, 3, px));
    expect_images_error(bmp, 3, "b.png: not a readable PNG or JPEG image (no PNG or JPEG signature)");
}

/* ------------------------------------------------------------------- ckpt */

static const unsigned char test_blob[5] = {1, 2, 3, 4, 5};

static void save_test_ckpt(const char *path, const float *state, long n)
{
    struct genrt_ckpt c = {
        .shape_hash = 0x1234, .real_size = 4, .step = 77, .n_state = (uint64_t)n,
        .state = state, .blob_size = sizeof test_blob, .blob = test_blob,
    };
    struct genrt_err err;
    cr_assert_eq(genrt_ckpt_save(path, &c, &err), 0, "%s", err.msg);
}

static void expect_read_error(const char *path, const char *want)
{
    struct genrt_ckpt c;
    struct genrt_err err;
    cr_assert_eq(genrt_ckpt_read(path, &c, &err), -1);
    cr_assert_not_null(strstr(err.msg, want), "'%s' not in: %s", want, err.msg);
    cr_assert_null(c.buf);
}

Test(ckpt, round_trip)
{
    float state[100];
    for (int i = 0; i < 100; i++)
        state[i] = (float)i * 0.5f - 3.0f;
    const char *p = tpath("a.ckpt");
    save_test_ckpt(p, state, 100);
    struct genrt_ckpt c;
    struct genrt_err err;
    cr_assert_eq(genrt_ckpt_read(p, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_ckpt_match(&c, p, 0x1234, 4, 100, &err), 0, "%s", err.msg);
    cr_assert_eq(c.step, 77);
    cr_assert_eq(c.blob_size, sizeof test_blob);
    cr_assert(!memcmp(c.blob, test_blob, sizeof test_blob));
    cr_assert(!memcmp(c.state, state, sizeof state));
    genrt_ckpt_free(&c);

    /* the layout is the documented one */
    size_t n;
    unsigned char *b = slurp(p, &n);
    cr_assert_eq(n, 8 + 4 + 8 + 4 + 8 + 8 + 400 + 8 + 5 + 4);
    cr_assert(!memcmp(b, "GENCCKPT\x02\x00\x00\x00\x34\x12\0\0\0\0\0\0\x04\0\0\0\x4d", 21));
    uint32_t crc = (uint32_t)crc32(0, b, (uInt)(n - 4));
    cr_assert_eq(b[n - 4] | b[n - 3] << 8 | b[n - 2] << 16 | (uint32_t)b[n - 1] << 24, crc);
    free(b);
}

Test(ckpt, rejects_corrupted_byte)
{
    float state[100] = {0};
    const char *p = tpath("c.ckpt");
    save_test_ckpt(p, state, 100);
    size_t n;
    unsigned char *b = slurp(p, &n);
    b[200] ^= 0x10;
    spit(p, b, n);
    free(b);
    expect_read_error(p, "c.ckpt: corrupt (CRC mismatch)");
}

Test(ckpt, rejects_truncation_and_bad_magic)
{
    float state[100] = {0};
    const char *p = tpath("t.ckpt");
    save_test_ckpt(p, state, 100);
    size_t n;
    unsigned char *b = slurp(p, &n);
    size_t cuts[] = {0, 5, 20, 39, 40, 100, 440, n - 9, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        spit(p, b, cuts[i]);
        expect_read_error(p, "truncated");
    }
    memcpy(b, "GENCCKPX", 8);
    spit(p, b, n);
    expect_read_error(p, "not a genc checkpoint (bad magic)");
    free(b);
    expect_read_error(tpath("missing.ckpt"), "missing.ckpt: no such file");
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The CRC of a checkpoint edited in memory, and the file. */
static void spit_ckpt(const char *path, unsigned char *b, size_t n)
{
    uint32_t crc = (uint32_t)crc32(0, b, (uInt)(n - 4));
    for (int k = 0; k < 4; k++)
        b[n - 4 + k] = (unsigned char)(crc >> (8 * k));
    spit(path, b, n);
}

/* A file of an older (or newer) format gets an error naming both versions,
 * whatever else is right with it (its CRC is recomputed here). */
Test(ckpt, rejects_other_format_versions)
{
    float state[100] = {0};
    const char *p = tpath("v.ckpt");
    save_test_ckpt(p, state, 100);
    size_t n;
    unsigned char *b = slurp(p, &n);
    uint32_t versions[] = {1, 3, 0xffffffffu};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        for (int k = 0; k < 4; k++)
            b[8 + k] = (unsigned char)(versions[i] >> (8 * k));
        spit_ckpt(p, b, n);
        char want[256];
        snprintf(want, sizeof want, "v.ckpt: checkpoint format version %u; this build of genc "
                 "reads version 2 (retrain, or use the genc that wrote it)", versions[i]);
        expect_read_error(p, want);
    }
    free(b);
    /* through the trainer: one line, exit 1 */
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "2", "--out", tpath("v1"),
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    b = slurp(tpath("v1/checkpoint.ckpt"), &n);
    b[8] = 1;
    spit_ckpt(tpath("old.ckpt"), b, n);
    free(b);
    assert_one_error(cli(&fake_model, NULL, "sample", "--checkpoint", tpath("old.ckpt"), "-o",
                         tpath("old.png"), NULL),
                     "old.ckpt: checkpoint format version 1; this build of genc reads version 2 "
                     "(retrain, or use the genc that wrote it)");
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", "4", "--out", tpath("v1"),
                         "--resume", tpath("old.ckpt"), NULL), "checkpoint format version 1");
    cr_assert(!file_exists(tpath("old.png")));
}

Test(ckpt, rejects_other_spec)
{
    float state[10] = {0};
    const char *p = tpath("o.ckpt");
    save_test_ckpt(p, state, 10);
    struct genrt_ckpt c;
    struct genrt_err err;
    cr_assert_eq(genrt_ckpt_read(p, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_ckpt_match(&c, "o.ckpt", 0xabcd, 4, 10, &err), -1);
    cr_assert_str_eq(err.msg, "checkpoint o.ckpt was written for another spec (shape hash "
                              "0x0000000000001234, this model has 0x000000000000abcd)");
    cr_assert_eq(genrt_ckpt_match(&c, "o.ckpt", 0x1234, 8, 10, &err), -1);
    cr_assert_eq(genrt_ckpt_match(&c, "o.ckpt", 0x1234, 4, 11, &err), -1);
    genrt_ckpt_free(&c);
}

Test(ckpt, save_is_atomic)
{
    float a[10] = {1}, b[10] = {2};
    const char *dir = tpath("atomic");
    mkdir(dir, 0777);
    const char *p = tpath("atomic/x.ckpt");
    save_test_ckpt(p, a, 10);
    save_test_ckpt(p, b, 10); /* replaces */
    struct genrt_ckpt c;
    struct genrt_err err;
    cr_assert_eq(genrt_ckpt_read(p, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(((const float *)c.state)[0], 2.0f);
    genrt_ckpt_free(&c);
    /* no temporary files are left behind, and the mode is not mkstemp's 0600 */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
    cr_assert_eq(system(cmd), 0);
    struct stat st;
    stat(p, &st);
    mode_t mask = umask(0);
    umask(mask);
    cr_assert_eq(st.st_mode & 0777, 0666 & ~mask);
    /* a failed save reports and leaves nothing */
    struct genrt_ckpt bad = {.real_size = 4, .n_state = 1, .state = a};
    cr_assert_eq(genrt_ckpt_save(tpath("no/such/dir/x.ckpt"), &bad, &err), -1);
    cr_assert_not_null(strstr(err.msg, "cannot create"), "%s", err.msg);
}

/* -------------------------------------------------------------------- npy */

Test(npy, header_is_correct)
{
    float x[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 7.0f};
    long dims[2] = {3, 2};
    const char *p = tpath("x.npy");
    struct genrt_err err;
    cr_assert_eq(genrt_npy_write(p, x, 2, dims, &err), 0, "%s", err.msg);
    size_t n;
    unsigned char *b = slurp(p, &n);
    cr_assert(!memcmp(b, "\x93NUMPY\x01\x00", 8));
    size_t hlen = b[8] | (size_t)b[9] << 8;
    cr_assert_eq((10 + hlen) % 64, 0);
    cr_assert_eq(n, 10 + hlen + sizeof x);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
    cr_assert(!memcmp(b + 10, dict, strlen(dict)));
    for (size_t i = 10 + strlen(dict); i < 10 + hlen - 1; i++)
        cr_assert_eq(b[i], ' ');
    cr_assert_eq(b[10 + hlen - 1], '\n');
    for (int i = 0; i < 6; i++) { /* little-endian float32 */
        uint32_t u = b[10 + hlen + 4 * i] | b[11 + hlen + 4 * i] << 8 |
                     b[12 + hlen + 4 * i] << 16 | (uint32_t)b[13 + hlen + 4 * i] << 24;
        float v;
        memcpy(&v, &u, 4);
        cr_assert_eq(v, x[i]);
    }
    free(b);

    long one[1] = {6};
    cr_assert_eq(genrt_npy_write(p, x, 1, one, &err), 0, "%s", err.msg);
    b = slurp(p, &n);
    cr_assert_not_null(strstr((char *)b + 10, "'shape': (6,), }"));
    free(b);
}

Test(npy, csv_rows)
{
    float x[4] = {0.1f, 2.0f, -3.0f, 1e-7f};
    const char *p = tpath("x.csv");
    struct genrt_err err;
    cr_assert_eq(genrt_npy_write_csv(p, x, 2, 2, &err), 0, "%s", err.msg);
    size_t n;
    char *s = (char *)slurp(p, &n);
    cr_assert_str_eq(s, "0.100000001,2\n-3,1.00000001e-07\n");
    free(s);
}

Test(npy, hwc_to_chw)
{
    /* two 2x3 images of 3 channels: value = 100 k + 10 ch + pixel */
    float hwc[2 * 6 * 3], chw[2 * 6 * 3];
    for (int k = 0; k < 2; k++)
        for (int p = 0; p < 6; p++)
            for (int ch = 0; ch < 3; ch++)
                hwc[(k * 6 + p) * 3 + ch] = (float)(100 * k + 10 * ch + p);
    genrt_npy_hwc_to_chw(chw, hwc, 2, 3, 2, 3);
    for (int k = 0; k < 2; k++)
        for (int ch = 0; ch < 3; ch++)
            for (int p = 0; p < 6; p++)
                cr_assert_eq(chw[(k * 3 + ch) * 6 + p], (float)(100 * k + 10 * ch + p));
    genrt_npy_hwc_to_chw(chw, hwc, 2, 1, 6, 3); /* one channel: a copy */
    cr_assert(!memcmp(chw, hwc, sizeof hwc));
}

/* ------------------------------------------------------------------ image */

Test(image, grid_and_scatter_pngs)
{
    static float x[64 * 3 * 28 * 28];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = (float)(i % 300) / 150.0f - 1.0f;
    struct genrt_err err;
    int w, h, color;
    const char *p = tpath("g.png");
    cr_assert_eq(genrt_image_write_grid(p, x, 64, 1, 28, 28, -1, 1, &err), 0, "%s", err.msg);
    png_info(p, &w, &h, &color);
    cr_assert_eq(w, 8 * 30 + 2);
    cr_assert_eq(h, 8 * 30 + 2);
    cr_assert_eq(color, 0); /* gray */
    cr_assert_eq(genrt_image_write_grid(p, x, 10, 3, 28, 28, -1, 1, &err), 0, "%s", err.msg);
    png_info(p, &w, &h, &color);
    cr_assert_eq(w, 4 * 30 + 2);
    cr_assert_eq(h, 3 * 30 + 2);
    cr_assert_eq(color, 2); /* RGB */
    cr_assert_eq(genrt_image_write_grid(p, x, 10, 2, 28, 28, -1, 1, &err), -1);

    const char *s = tpath("s.png");
    cr_assert_eq(genrt_image_write_scatter(s, x, 100, &err), 0, "%s", err.msg);
    png_info(s, &w, &h, &color);
    cr_assert_eq(w, 512);
    cr_assert_eq(h, 512);
}

Test(image, grid_reads_channels_last)
{
    /* two 3x4 RGB images, HWC; byte b(k, i, j, ch) = v * 255 exactly */
    enum { N = 2, H = 3, W = 4, C = 3 };
    float x[N * H * W * C];
    for (int k = 0; k < N; k++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                for (int ch = 0; ch < C; ch++)
                    x[((k * H + i) * W + j) * C + ch] =
                        (float)(k * 100 + i * 20 + j * 4 + ch) / 255.0f;
    const char *p = tpath("hwc.png");
    struct genrt_err err;
    cr_assert_eq(genrt_image_write_grid(p, x, N, C, H, W, 0.0f, 1.0f, &err), 0, "%s", err.msg);
    int gw, gh, comp;
    unsigned char *px = stbi_load(p, &gw, &gh, &comp, 0);
    cr_assert_not_null(px, "%s", stbi_failure_reason());
    cr_assert_eq(comp, 3);
    cr_assert_eq(gw, 2 * (W + 2) + 2); /* 2 columns, 1 row, 2 px padding */
    cr_assert_eq(gh, 1 * (H + 2) + 2);
    for (int y = 0; y < gh; y++)
        for (int xx = 0; xx < gw; xx++)
            for (int ch = 0; ch < C; ch++) {
                int k = (xx - 2) / (W + 2), j = (xx - 2) % (W + 2), i = y - 2;
                int inside = xx >= 2 && y >= 2 && i < H && j < W;
                int want = inside ? k * 100 + i * 20 + j * 4 + ch : 255;
                cr_assert_eq(px[(y * gw + xx) * C + ch], want, "(%d, %d) channel %d", y, xx, ch);
            }
    stbi_image_free(px);

    /* gray: unchanged, one value per pixel */
    cr_assert_eq(genrt_image_write_grid(p, x, 1, 1, 6, 4, 0.0f, 1.0f, &err), 0, "%s", err.msg);
    px = stbi_load(p, &gw, &gh, &comp, 0);
    cr_assert_not_null(px);
    cr_assert_eq(comp, 1);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++)
            cr_assert_eq(px[(2 + i) * gw + 2 + j], (int)lroundf(x[i * 4 + j] * 255.0f));
    stbi_image_free(px);
}

Test(image, cells_center_mixed_shapes_and_show_gray_as_rgb)
{
    /* a 2x2 gray image in [0, 1], a 3x4 RGB one in [0, 255], an empty cell */
    const float gray[4] = {0.0f, 0.2f, 0.6f, 1.0f};
    float rgb[3 * 4 * 3];
    for (int i = 0; i < 36; i++)
        rgb[i] = (float)(7 * i);
    const struct genrt_image_cell cells[3] = {
        {gray, 1, 2, 2, 0.0f, 1.0f},
        {rgb, 3, 3, 4, 0.0f, 255.0f},
        {NULL, 0, 0, 0, 0.0f, 0.0f},
    };
    const char *p = tpath("cells.png");
    struct genrt_err err;
    cr_assert_eq(genrt_image_write_cells(p, cells, 1, 3, &err), 0, "%s", err.msg);
    int gw, gh, comp;
    unsigned char *px = stbi_load(p, &gw, &gh, &comp, 0);
    cr_assert_not_null(px, "%s", stbi_failure_reason());
    cr_assert_eq(comp, 3);
    cr_assert_eq(gw, 3 * (4 + 2) + 2); /* cells of the largest image: 3 x 4 */
    cr_assert_eq(gh, 1 * (3 + 2) + 2);
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++)
            for (int ch = 0; ch < 3; ch++) {
                int want = 255;
                int gi = y - 2 - 0, gj = x - 2 - 1; /* gray, centered: (3-2)/2 = 0, (4-2)/2 = 1 */
                int ri = y - 2, rj = x - 8;
                if (gi >= 0 && gi < 2 && gj >= 0 && gj < 2)
                    want = (int)lroundf(gray[gi * 2 + gj] * 255.0f); /* in all three channels */
                else if (ri >= 0 && ri < 3 && rj >= 0 && rj < 4)
                    want = 7 * ((ri * 4 + rj) * 3 + ch);
                cr_assert_eq(px[(y * gw + x) * 3 + ch], want, "(%d, %d) channel %d", y, x, ch);
            }
    stbi_image_free(px);

    /* one shape and range: the same bytes as the grid writer's */
    static float x[5 * 28 * 28];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = (float)(i % 300) / 150.0f - 1.0f;
    struct genrt_image_cell same[6];
    for (int k = 0; k < 6; k++)
        same[k] = (struct genrt_image_cell){k < 5 ? x + k * 784 : NULL, 1, 28, 28, -1.0f, 1.0f};
    cr_assert_eq(genrt_image_write_cells(tpath("c1.png"), same, 2, 3, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_image_write_grid_cols(tpath("c2.png"), x, 5, 3, 1, 28, 28, -1.0f, 1.0f,
                                             &err), 0, "%s", err.msg);
    cr_assert(same_file(tpath("c1.png"), tpath("c2.png")));

    same[0].c = 2;
    cr_assert_eq(genrt_image_write_cells(p, same, 2, 3, &err), -1);
    cr_assert_not_null(strstr(err.msg, "cannot draw 2-channel images"), "%s", err.msg);
    same[0].c = 1;
    same[1].hi = -1.0f;
    cr_assert_eq(genrt_image_write_cells(p, same, 2, 3, &err), -1);
    cr_assert_not_null(strstr(err.msg, "empty value range"), "%s", err.msg);
    cr_assert_eq(genrt_image_write_cells(p, same + 5, 1, 1, &err), -1);
    cr_assert_not_null(strstr(err.msg, "nothing to draw"), "%s", err.msg);
}

/* -------------------------------------------------------------------- cli */

Test(cli, resume_equals_uninterrupted_run)
{
    const char *a = tpath("a"), *b = tpath("b");
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "20", "--out", a, "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_model, NULL, "train", "--steps", "10", "--out", b, "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *ck = tpath("b/checkpoint.ckpt"), *ck10 = tpath("b10.ckpt");
    cr_assert_eq(rename(ck, ck10), 0);
    r = cli(&fake_model, NULL, "train", "--steps", "20", "--out", b, "--resume", ck10, "--quiet",
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(same_file(tpath("a/checkpoint.ckpt"), ck), "checkpoints differ");
    char *ma = metrics_sans_seconds(tpath("a/metrics.csv"));
    char *mb = metrics_sans_seconds(tpath("b/metrics.csv"));
    cr_assert_str_eq(ma, mb);
    cr_assert_eq(count_lines(ma), 21);
    cr_assert(!strncmp(ma, "step,loss_D,loss_G\n1,", 21), "%s", ma);
    free(ma);
    free(mb);
}

Test(cli, resume_restores_fashion_mnist_loader)
{
    const char *a = tpath("ia"), *b = tpath("ib");
    struct run *r = cli(&fake_image_model, NULL, "train", "--steps", "12", "--out", a, "--quiet",
                        NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_image_model, NULL, "train", "--steps", "5", "--out", b, "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_image_model, NULL, "train", "--steps", "12", "--out", b, "--resume",
            tpath("ib/checkpoint.ckpt"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(same_file(tpath("ia/checkpoint.ckpt"), tpath("ib/checkpoint.ckpt")));
    char *ma = metrics_sans_seconds(tpath("ia/metrics.csv"));
    char *mb = metrics_sans_seconds(tpath("ib/metrics.csv"));
    cr_assert_str_eq(ma, mb);
    free(ma);
    free(mb);
    int w, h, color;
    png_info(tpath("ia/samples/step-000012.png"), &w, &h, &color);
    cr_assert_eq(w, 242);
    cr_assert_eq(h, 242);
}

/* A resumed run appends to metrics.csv in place, after the rows its
 * checkpoint covers: those of a killed run's later steps are dropped, and
 * every row is there once. */
Test(cli, resume_drops_rows_after_checkpoint)
{
    const char *a = tpath("a"), *b = tpath("b");
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "20", "--out", a, "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_model, NULL, "train", "--steps", "10", "--out", b, "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *mc = tpath("b/metrics.csv");
    size_t n0;
    unsigned char *m0 = slurp(mc, &n0);
    struct stat st0, st1;
    cr_assert_eq(stat(mc, &st0), 0);
    /* a run killed after step 13, its checkpoint at 10 */
    FILE *f = fopen(mc, "a");
    fputs("11,9,9,1.0\n12,9,9,1.1\n13,9", f);
    fclose(f);
    /* during the resumed run, before its first checkpoint, the rows up to
     * the checkpoint's step are all there */
    struct genrt_model m = faulty(&fake_model, 100);
    fault.check_at = 12;
    fault.check_path = mc;
    fault.check_bytes = m0;
    fault.check_len = n0;
    r = cli(&m, NULL, "train", "--steps", "20", "--out", b, "--resume",
            tpath("b/checkpoint.ckpt"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_eq(stat(mc, &st1), 0);
    cr_assert_eq(st0.st_ino, st1.st_ino, "metrics.csv was replaced, not appended to");
    size_t n1;
    unsigned char *m1 = slurp(mc, &n1);
    cr_assert(n1 > n0 && !memcmp(m0, m1, n0), "the rows up to step 10 changed");
    assert_same_metrics(tpath("a/metrics.csv"), mc);
    free(m0);
    free(m1);
}

Test(cli, same_seed_same_bytes)
{
    struct run *r;
    r = cli(&fake_model, NULL, "train", "--steps", "30", "--out", tpath("s1"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_model, NULL, "train", "--steps", "30", "--out", tpath("s2"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_model, NULL, "train", "--steps", "30", "--out", tpath("s3"), "--seed", "43",
            "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(same_file(tpath("s1/checkpoint.ckpt"), tpath("s2/checkpoint.ckpt")));
    cr_assert(same_file(tpath("s1/samples/step-000030.png"), tpath("s2/samples/step-000030.png")));
    cr_assert(!same_file(tpath("s1/checkpoint.ckpt"), tpath("s3/checkpoint.ckpt")));
    char *m1 = metrics_sans_seconds(tpath("s1/metrics.csv"));
    char *m2 = metrics_sans_seconds(tpath("s2/metrics.csv"));
    cr_assert_str_eq(m1, m2);
    free(m1);
    free(m2);
}

Test(cli, trains_ring8_to_a_plausible_fit)
{
    /* A linear G can at best match the ring's mean (0) and covariance (2 I);
     * this fails if the data, the latents or the update loop are wrong. */
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "3000", "--out", tpath("q"),
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(file_exists(tpath("q/samples/step-003000.png")));
    r = cli(&fake_model, NULL, "sample", "--checkpoint", tpath("q/checkpoint.ckpt"), "-n", "4000",
            "-o", tpath("q.csv"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    FILE *f = fopen(tpath("q.csv"), "r");
    double x, y, sx = 0, sy = 0, sxx = 0, syy = 0;
    int n = 0;
    while (fscanf(f, "%lf,%lf", &x, &y) == 2) {
        sx += x, sy += y, sxx += x * x, syy += y * y;
        n++;
    }
    fclose(f);
    cr_assert_eq(n, 4000);
    cr_assert_lt(fabs(sx / n), 0.5);
    cr_assert_lt(fabs(sy / n), 0.5);
    cr_assert(sxx / n > 1.0 && sxx / n < 4.5, "E[x^2] = %g", sxx / n);
    cr_assert(syy / n > 1.0 && syy / n < 4.5, "E[y^2] = %g", syy / n);
}

Test(cli, sample_formats)
{
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "5", "--out", tpath("r"),
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *ck = tpath("r/checkpoint.ckpt");
    r = cli(&fake_model, NULL, "sample", "--checkpoint", ck, "-n", "37", "-o", tpath("s.npy"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    size_t n;
    unsigned char *b = slurp(tpath("s.npy"), &n);
    cr_assert_not_null(strstr((char *)b + 10, "'shape': (37, 2), }"));
    cr_assert_eq(n, 128 + 37 * 2 * 4);
    free(b);
    r = cli(&fake_model, NULL, "sample", "--checkpoint", ck, "-o", tpath("s.png"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    int w, h, color;
    png_info(tpath("s.png"), &w, &h, &color);
    cr_assert_eq(w, 512);
    r = cli(&fake_model, NULL, "sample", "--checkpoint", ck, "-n", "3", "-o", tpath("s.csv"),
            "--seed", "9", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    char *s = (char *)slurp(tpath("s.csv"), &n);
    cr_assert_eq(count_lines(s), 3);
    free(s);

    r = cli(&fake_image_model, NULL, "train", "--steps", "2", "--out", tpath("ri"), "--quiet",
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_image_model, NULL, "sample", "--checkpoint", tpath("ri/checkpoint.ckpt"), "-n",
            "5", "-o", tpath("i.npy"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    b = slurp(tpath("i.npy"), &n);
    cr_assert_not_null(strstr((char *)b + 10, "'shape': (5, 1, 28, 28), }"));
    free(b);

    r = cli(&fake_model, NULL, "sample", "--checkpoint", ck, "-o", tpath("s.jpg"), NULL);
    assert_one_error(r, "unknown format");
    cr_assert(!file_exists(tpath("s.jpg")));
    /* a checkpoint of another spec */
    r = cli(&fake_model, NULL, "sample", "--checkpoint", tpath("ri/checkpoint.ckpt"), "-o",
            tpath("t.png"), NULL);
    assert_one_error(r, "was written for another spec (shape hash 0x494d414745000001, this "
                        "model has 0x52494e4738000001)");
    cr_assert(!file_exists(tpath("t.png")));
}

Test(cli, bad_input_is_one_line_and_exit_1)
{
    assert_one_error(cli(&fake_model, NULL, NULL), "missing command");
    assert_one_error(cli(&fake_model, NULL, "fly", NULL), "unknown command 'fly'");
    assert_one_error(cli(&fake_model, NULL, "train", "--stpes", "3", NULL),
                     "train: unknown flag '--stpes'");
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", NULL), "--steps needs a value");
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", "12x", NULL),
                     "--steps expects an integer");
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", "-3", NULL),
                     "--steps expects an integer");
    assert_one_error(cli(&fake_model, NULL, "train", "--seed", "abc", NULL),
                     "--seed expects an unsigned 64-bit integer, got 'abc'");
    assert_one_error(cli(&fake_model, NULL, "train", "--threads", "0", NULL),
                     "--threads expects an integer from 1");
    assert_one_error(cli(&fake_model, NULL, "train", "extra", NULL), "unexpected argument 'extra'");
    assert_one_error(cli(&fake_model, NULL, "bench", "--out", "x", NULL),
                     "bench: unknown flag '--out'");
    assert_one_error(cli(&fake_model, NULL, "sample", "-o", "x.png", NULL),
                     "missing --checkpoint");
    assert_one_error(cli(&fake_model, NULL, "train", "--quiet=1", NULL), "takes no value");
}

Test(cli, bad_data_or_checkpoint_overwrites_nothing)
{
    const char *dir = tpath("keep");
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "10", "--out", dir, "--quiet",
                        NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *ck = tpath("keep/checkpoint.ckpt"), *mc = tpath("keep/metrics.csv");
    size_t nck, nm;
    unsigned char *ck0 = slurp(ck, &nck), *m0 = slurp(mc, &nm);

    /* corrupt copy of the checkpoint */
    const char *bad = tpath("bad.ckpt");
    ck0[100] ^= 1;
    spit(bad, ck0, nck);
    ck0[100] ^= 1;
    r = cli(&fake_model, NULL, "train", "--steps", "20", "--out", dir, "--resume", bad, NULL);
    assert_one_error(r, "bad.ckpt: corrupt (CRC mismatch)");
    spit(bad, ck0, nck / 2);
    r = cli(&fake_model, NULL, "train", "--steps", "20", "--out", dir, "--resume", bad, NULL);
    assert_one_error(r, "truncated");
    /* a checkpoint of another spec */
    r = cli(&fake_image_model, NULL, "train", "--steps", "20", "--out", dir, "--resume", ck, NULL);
    assert_one_error(r, "was written for another spec");
    /* nothing left to do */
    r = cli(&fake_model, NULL, "train", "--steps", "10", "--out", dir, "--resume", ck, NULL);
    assert_one_error(r, "already at step 10");
    /* another seed than the checkpoint's */
    r = cli(&fake_model, NULL, "train", "--steps", "20", "--seed", "1", "--out", dir, "--resume",
            ck, NULL);
    assert_one_error(r, "differs from the seed 42");
    /* missing data */
    r = cli(&fake_image_model, NULL, "train", "--out", dir, "--data", tpath("nodata"), NULL);
    assert_one_error(r, "no such directory");
    r = cli(&fake_image_model, NULL, "train", "--out", tpath("never"), "--data", tpath("nodata"),
            NULL);
    assert_one_error(r, "no such directory");
    cr_assert(!file_exists(tpath("never")));

    size_t n1, n2;
    unsigned char *ck1 = slurp(ck, &n1), *m1 = slurp(mc, &n2);
    cr_assert(n1 == nck && !memcmp(ck0, ck1, nck), "checkpoint was overwritten");
    cr_assert(n2 == nm && !memcmp(m0, m1, nm), "metrics.csv was overwritten");
    free(ck0);
    free(ck1);
    free(m0);
    free(m1);
}

Test(cli, gradcheck_passes_in_double_and_float)
{
    struct run *r = cli(&fake_model, &fake_model_f64, "gradcheck", NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);
    cr_assert_not_null(strstr(r->out, "gradcheck: loss_D: "), "%s", r->out);
    cr_assert_not_null(strstr(r->out, "gradcheck: loss_G: "), "%s", r->out);
    cr_assert_not_null(strstr(r->out, "(tolerance 1e-06): ok\n"), "%s", r->out);

    r = cli(&fake_model, NULL, "gradcheck", "--seed", "5", NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);
    cr_assert_not_null(strstr(r->out, "(tolerance 2e-02): ok\n"), "%s", r->out);

    r = cli(&fake_image_model, &fake_image_model_f64, "gradcheck", NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);
    r = cli(&fake_image_model, &fake_image_model_f64, "gradcheck", "--data", tpath("nodata"),
            NULL);
    assert_one_error(r, "no such directory");
}

/* The double model's gradient, with one entry of D's first layer off by
 * 0.1%: a bug gradcheck must catch. */
static void (*true_grad)(int k, void *g);

static void skewed_grad(int k, void *g)
{
    true_grad(k, g);
    if (k == 0)
        for (int i = 0; i < fake_model_f64.n_tensors; i++)
            if (!strcmp(fake_model_f64.tensors[i].name, "D.l1.weight"))
                ((double *)g)[fake_model_f64.tensors[i].offset + 3] *= 1.001;
}

Test(cli, gradcheck_catches_a_wrong_gradient)
{
    struct genrt_model bad = fake_model_f64;
    true_grad = bad.gc_grad;
    bad.gc_grad = skewed_grad;
    struct run *r = cli(&fake_model, &bad, "gradcheck", NULL);
    cr_assert_eq(r->rc, 1, "%s", r->out);
    cr_assert_not_null(strstr(r->out, "at D.l1.weight[3]"), "%s", r->out);
    cr_assert_not_null(strstr(r->out, "FAILED"), "%s", r->out);
}

Test(cli, bench_help_and_version)
{
    struct run *r = cli(&fake_model, NULL, "bench", "--steps", "7", "--threads", "1", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(!strncmp(r->out, "bench: ", 7) && strstr(r->out, " ms/step over 7 steps (threads 1)"),
              "%s", r->out);
    r = cli(&fake_model, NULL, "--help", NULL);
    cr_assert_eq(r->rc, 0);
    const char *want[] = {"usage: fake ", "train", "sample", "gradcheck", "bench", "--resume CKPT",
                          "--threads N", "--quiet", "-o FILE", "--checkpoint CKPT"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_not_null(strstr(r->out, want[i]), "'%s' not in help", want[i]);
    /* flags for other kinds of model are not offered */
    cr_assert_null(strstr(r->out, "--label"), "%s", r->out);
    cr_assert_null(strstr(r->out, "--data-b"), "%s", r->out);
    r = cli(&fake_model, NULL, "help", NULL);
    cr_assert_eq(r->rc, 0);
    r = cli(&fake_model, NULL, "train", "--help", NULL);
    cr_assert_eq(r->rc, 0);
    r = cli(&fake_model, NULL, "--version", NULL);
    cr_assert_eq(r->rc, 0);
    cr_assert_not_null(strstr(r->out, "model fake"), "%s", r->out);
}

Test(cli, progress_lines_when_not_quiet)
{
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "40", "--out", tpath("p"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    /* stderr is a file here: one plain line per 5% (2 steps), no '\r' */
    cr_assert_null(strchr(r->err, '\r'));
    cr_assert_not_null(strstr(r->err, "step 2/40  loss_D "), "%s", r->err);
    cr_assert_not_null(strstr(r->err, "step 40/40  loss_D "), "%s", r->err);
    cr_assert_eq(count_lines(r->err), 21, "%s", r->err);
}

/* The data of an .npy file written by genrt_npy_write. */
static float *npy_data(const char *path, const char *shape, long n)
{
    size_t len;
    unsigned char *b = slurp(path, &len);
    cr_assert_not_null(strstr((char *)b + 10, shape), "%s not in %s", shape, (char *)b + 10);
    size_t hlen = 10 + (b[8] | (size_t)b[9] << 8);
    cr_assert_eq(len, hlen + 4 * (size_t)n);
    float *x = malloc(4 * (size_t)n);
    memcpy(x, b + hlen, 4 * (size_t)n); /* little-endian host */
    free(b);
    return x;
}

Test(cli, trains_and_samples_rgb_images)
{
    const char *dir = color_dir("rgbdata", 20);
    const char *a = tpath("ra"), *b = tpath("rb");
    struct run *r = cli(&fake_rgb_model, NULL, "train", "--steps", "6", "--data", dir, "--out",
                        a, "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    int w, h, color;
    png_info(tpath("ra/samples/step-000006.png"), &w, &h, &color);
    cr_assert_eq(w, 8 * 10 + 2);
    cr_assert_eq(h, 8 * 8 + 2);
    cr_assert_eq(color, 2);
    /* resumed in the second epoch (16 of 20 images per epoch) */
    r = cli(&fake_rgb_model, NULL, "train", "--steps", "3", "--data", dir, "--out", b, "--quiet",
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_rgb_model, NULL, "train", "--steps", "6", "--data", dir, "--out", b, "--resume",
            tpath("rb/checkpoint.ckpt"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(same_file(tpath("ra/checkpoint.ckpt"), tpath("rb/checkpoint.ckpt")));

    /* .npy is [N, C, H, W]; .csv rows are in the same order; the .png
     * shows the same samples (same seed) */
    const char *ck = tpath("ra/checkpoint.ckpt");
    r = cli(&fake_rgb_model, NULL, "sample", "--checkpoint", ck, "-n", "5", "-o", tpath("r.npy"),
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_rgb_model, NULL, "sample", "--checkpoint", ck, "-n", "5", "-o", tpath("r.csv"),
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_rgb_model, NULL, "sample", "--checkpoint", ck, "-n", "5", "-o", tpath("r.png"),
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    float *x = npy_data(tpath("r.npy"), "'shape': (5, 3, 6, 8), }", 5 * 144);
    FILE *f = fopen(tpath("r.csv"), "r");
    cr_assert_not_null(f);
    for (int i = 0; i < 5 * 144; i++) {
        float v;
        cr_assert_eq(fscanf(f, "%f%*c", &v), 1);
        cr_assert_eq(v, x[i], "csv value %d", i);
    }
    fclose(f);
    int gw, gh, comp;
    unsigned char *px = stbi_load(tpath("r.png"), &gw, &gh, &comp, 3);
    cr_assert_not_null(px);
    cr_assert_eq(gw, 3 * 10 + 2); /* 5 images: 3 columns, 2 rows */
    int distinct = 0;
    for (int k = 0; k < 5; k++) {
        int x0 = 2 + (k % 3) * 10, y0 = 2 + (k / 3) * 8;
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 8; j++) {
                    float v = x[((k * 3 + ch) * 6 + i) * 8 + j];
                    float t = (v + 1.0f) * 127.5f; /* range [-1, 1] */
                    int want = t <= 0 ? 0 : t >= 255 ? 255 : (int)(t + 0.5f);
                    int got = px[((y0 + i) * gw + x0 + j) * 3 + ch];
                    cr_assert(abs(got - want) <= 1, "sample %d (%d, %d, %d): png %d, npy %d", k,
                              ch, i, j, got, want);
                    distinct += want != px[((y0 + i) * gw + x0 + j) * 3];
                }
    }
    cr_assert_gt(distinct, 100, "the channels of the samples should differ");
    stbi_image_free(px);
    free(x);
}

Test(cli, rgb_images_gradcheck_and_errors)
{
    const char *dir = color_dir("gcdata", 6);
    struct run *r = cli(&fake_rgb_model, &fake_rgb_model_f64, "gradcheck", "--data", dir, NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);
    cr_assert_not_null(strstr(r->out, "(tolerance 1e-06): ok\n"), "%s", r->out);

    /* fewer images than one batch of 16 */
    r = cli(&fake_rgb_model, NULL, "train", "--data", dir, "--out", tpath("few"), NULL);
    assert_one_error(r, "the data set has 6 examples, fewer than one batch of 16");
    cr_assert(!file_exists(tpath("few")));
    /* the spec names no directory */
    r = cli(&fake_rgb_model, NULL, "train", "--out", tpath("none"), NULL);
    assert_one_error(r, "no data directory given (use --data DIR)");
    r = cli(&fake_rgb_model, NULL, "train", "--data", tpath("nodir"), "--out", tpath("none"),
            NULL);
    assert_one_error(r, "nodir: no such directory");
    /* a gray file among RGB ones */
    write_pattern(tpath("gcdata/gray.png"), 8, 6, 1, 1);
    r = cli(&fake_rgb_model, NULL, "train", "--data", dir, "--out", tpath("none"), NULL);
    assert_one_error(r, "gcdata/gray.png: 1 channel (gray), but the spec wants 3 (RGB)");
    cr_assert(!file_exists(tpath("none")));

    r = cli(&fake_rgb_model, NULL, "--help", NULL);
    cr_assert_eq(r->rc, 0);
    cr_assert_not_null(strstr(r->out, "--data (none) (images)"), "%s", r->out);
}

/* ------------------------------------------- conditional, multi-batch */

/* n_classes subfolders c0, c1, .. of per_class images each; image i of
 * class k is the solid color (80 k, 10 i, 7). */
static const char *class_dir(const char *name, int n_classes, int per_class)
{
    const char *dir = mkdir_t("%s", name);
    for (int k = 0; k < n_classes; k++) {
        mkdir_t("%s/c%d", name, k);
        for (int i = 0; i < per_class; i++) {
            unsigned char col[3] = {(unsigned char)(80 * k), (unsigned char)(10 * i), 7};
            write_solid(tpath("%s/c%d/%02d.png", name, k, i), 8, 6, 3, col);
        }
    }
    return dir;
}

Test(cond, data_classes_must_match_the_model)
{
    struct genrt_data d;
    struct genrt_err err;
    /* fashion_mnist: 10 classes, even where a subset shows fewer */
    struct genrt_model m = image_model(FMNIST_DIR, 0);
    m.n_classes = 10;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n_classes, 10);
    genrt_data_close(&d);
    m.n_classes = 5;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1);
    cr_assert_str_eq(err.msg, FMNIST_DIR ": the fashion_mnist data have 10 classes, but the model "
                              "has 5 classes");
    cr_assert_null(d.images);
    const char *small = mkdir_t("small10");
    write_idx(small, "train", 5, 28, 28, 5, 1); /* every label 0 */
    m = image_model(small, 1);
    m.n_classes = 10;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    genrt_data_close(&d);

    /* ring8: one class per mode */
    m = fake_cond_model;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    genrt_data_close(&d);
    m.n_classes = 1;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1);
    cr_assert_str_eq(err.msg, "ring8 has 8 classes (one per mode), but the model has 1 class");

    /* images: the class subfolders, or one class */
    const char *dir = class_dir("three", 3, 2);
    m = rgb_model(dir, 3);
    m.n_classes = 3;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    genrt_data_close(&d);
    m.n_classes = 5;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: 3 class subfolders, but the model has 5 classes", dir);
    cr_assert_str_eq(err.msg, want);
    cr_assert_null(d.images);
    cr_assert_null(d.class_names);
    const char *flat = color_dir("flat", 3);
    m = rgb_model(flat, 3);
    m.n_classes = 1;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    genrt_data_close(&d);
    m.n_classes = 2;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1);
    snprintf(want, sizeof want, "%s: no class subfolders (all images are one class), but the "
             "model has 2 classes", flat);
    cr_assert_str_eq(err.msg, want);
}

Test(cond, model_check_rejects_bad_class_and_batch_counts)
{
    struct genrt_model m = fake_cond_model;
    m.n_classes = 257;
    assert_one_error(cli(&m, NULL, "bench", NULL), "model error: n_classes 257 (must be 0 to 256)");
    m.n_classes = -1;
    assert_one_error(cli(&m, NULL, "bench", NULL), "model error: n_classes -1");
    m = fake_cond_rgb_model;
    m.real_batches = 0;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: real_batches 0, latent_batches 4, latent_dim 4 (real_batches "
                     "must be at least 1");
    m = fake_cond_rgb_model;
    m.latent_batches = -2;
    assert_one_error(cli(&fake_cond_rgb_model, &m, "bench", NULL),
                     "double-precision model error: real_batches 3, latent_batches -2");
}

/* A spy stands in for the model's set_input and train_step and checks,
 * step by step, that the slots hold what an independent loader and latent
 * stream give: real_batches consecutive batches, their labels, and
 * latent_batches batches of latents.  Failures are kept in spy_msg (an
 * assert inside genrt_main would leave stdout redirected). */
static struct {
    const struct genrt_model *m; /* the model spied on */
    struct genrt_data data;
    struct genrt_rng latent;
    float *real, *z, *y;         /* what set_input got for this step */
    float *want_real, *want_z;
    int *want_labels;
    unsigned slots;              /* bit s: slot s was set for this step */
    long steps;
    char msg[512];
} spy;

static void spy_fail(const char *fmt, ...)
{
    if (spy.msg[0])
        return; /* the first failure tells most */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(spy.msg, sizeof spy.msg, fmt, ap);
    va_end(ap);
}

static long spy_n_real(void)
{
    return (long)spy.m->real_batches * spy.m->batch;
}

static long spy_n_z(void)
{
    return (long)spy.m->latent_batches * spy.m->batch * spy.m->latent_dim;
}

static void spy_set_input(int slot, const float *src)
{
    /* copies exactly the promised sizes: ASan catches a shorter buffer */
    if (slot == 0)
        memcpy(spy.real, src, (size_t)(spy_n_real() * spy.m->sample_size) * sizeof *src);
    else if (slot == 1)
        memcpy(spy.z, src, (size_t)spy_n_z() * sizeof *src);
    else if (slot == 2)
        memcpy(spy.y, src, (size_t)spy_n_real() * sizeof *src);
    else
        spy_fail("set_input slot %d", slot);
    spy.slots |= 1u << slot;
    spy.m->set_input(slot, src);
}

static void spy_train_step(long t, double *metrics)
{
    const struct genrt_model *m = spy.m;
    long n = spy_n_real(), S = m->sample_size;
    unsigned want_slots = m->n_classes > 0 ? 7u : 3u;
    if (spy.slots != want_slots)
        spy_fail("step %ld: slots 0x%x set, not 0x%x", t, spy.slots, want_slots);
    spy.slots = 0;
    for (int r = 0; r < m->real_batches; r++)
        genrt_data_next_batch_labels(&spy.data, spy.want_real + r * m->batch * S,
                                     spy.want_labels + r * m->batch, m->batch);
    genrt_rng_fill_normal(&spy.latent, spy.want_z, spy_n_z());
    if (memcmp(spy.real, spy.want_real, (size_t)(n * S) * sizeof *spy.real))
        spy_fail("step %ld: slot 0 is not the next %d batches", t, m->real_batches);
    if (memcmp(spy.z, spy.want_z, (size_t)spy_n_z() * sizeof *spy.z))
        spy_fail("step %ld: slot 1 is not the next %d latent batches", t, m->latent_batches);
    for (long i = 0; i < n && m->n_classes > 0; i++) {
        if (spy.y[i] != (float)spy.want_labels[i])
            spy_fail("step %ld: label %ld is %g, not %d", t, i, spy.y[i], spy.want_labels[i]);
        /* class_dir's images: red is 80 * class, here in [-1, 1] */
        int k = (int)lroundf((spy.real[i * S] + 1.0f) * 127.5f / 80.0f);
        if (k != spy.want_labels[i])
            spy_fail("step %ld: example %ld looks like class %d, labelled %d", t, i, k,
                     spy.want_labels[i]);
    }
    spy.steps++;
    m->train_step(t, metrics);
}

/* A copy of m that trains through the spy, on dir with the given seed. */
static struct genrt_model spy_on(const struct genrt_model *m, const char *dir, uint64_t seed)
{
    struct genrt_err err;
    memset(&spy, 0, sizeof spy);
    spy.m = m;
    cr_assert_eq(genrt_data_open(&spy.data, m, dir, seed, &err), 0, "%s", err.msg);
    genrt_rng_seed(&spy.latent, genrt_rng_derive(seed, GENRT_STREAM_LATENT));
    long n = spy_n_real();
    spy.real = malloc((size_t)(n * m->sample_size) * sizeof *spy.real);
    spy.want_real = malloc((size_t)(n * m->sample_size) * sizeof *spy.want_real);
    spy.z = malloc((size_t)spy_n_z() * sizeof *spy.z);
    spy.want_z = malloc((size_t)spy_n_z() * sizeof *spy.want_z);
    spy.y = calloc((size_t)n, sizeof *spy.y);
    spy.want_labels = calloc((size_t)n, sizeof *spy.want_labels);
    struct genrt_model s = *m;
    s.set_input = spy_set_input;
    s.train_step = spy_train_step;
    return s;
}

static void spy_end(void)
{
    genrt_data_close(&spy.data);
    free(spy.real);
    free(spy.want_real);
    free(spy.z);
    free(spy.want_z);
    free(spy.y);
    free(spy.want_labels);
}

Test(cond, a_step_takes_its_real_and_latent_batches_and_labels)
{
    /* 21 images, 12 a step (3 batches of 4): epochs end mid-step */
    const char *dir = class_dir("spydata", 3, 7);
    struct genrt_model m = spy_on(&fake_cond_rgb_model, dir, 42);
    struct run *r = cli(&m, NULL, "train", "--steps", "9", "--data", dir, "--out", tpath("spy"),
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_eq(spy.steps, 9);
    cr_assert_eq(spy.msg[0], 0, "%s", spy.msg);
    cr_assert_eq(spy.data.st.epoch, 5, "9 steps x 3 batches at 5 batches an epoch");
    spy_end();

    /* the unconditional ring8 model: slots 0 and 1 only, as before */
    m = spy_on(&fake_model, NULL, 7);
    r = cli(&m, NULL, "train", "--steps", "5", "--seed", "7", "--out", tpath("spy1"), "--quiet",
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_eq(spy.steps, 5);
    cr_assert_eq(spy.msg[0], 0, "%s", spy.msg);
    spy_end();
}

Test(cond, multi_batch_resume_equals_uninterrupted_run)
{
    const char *dir = class_dir("resdata", 3, 7);
    const char *a = tpath("ma"), *b = tpath("mb");
    struct run *r = cli(&fake_cond_rgb_model, NULL, "train", "--steps", "8", "--data", dir,
                        "--out", a, "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_cond_rgb_model, NULL, "train", "--steps", "3", "--data", dir, "--out", b,
            "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    /* step 3 ends 4 batches into epoch 1 (5 batches an epoch): mid-epoch */
    r = cli(&fake_cond_rgb_model, NULL, "train", "--steps", "8", "--data", dir, "--out", b,
            "--resume", tpath("mb/checkpoint.ckpt"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(same_file(tpath("ma/checkpoint.ckpt"), tpath("mb/checkpoint.ckpt")));
    char *ma = metrics_sans_seconds(tpath("ma/metrics.csv"));
    char *mb = metrics_sans_seconds(tpath("mb/metrics.csv"));
    cr_assert_str_eq(ma, mb);
    cr_assert_eq(count_lines(ma), 9);
    free(ma);
    free(mb);
    cr_assert(same_file(tpath("ma/samples/step-000008.png"), tpath("mb/samples/step-000008.png")));
}

/* A generate() that draws each sample as a flat image of its class:
 * value -1 + 2 (y + 1) / (K + 1), in the fake's range [-1, 1]. */
static const struct genrt_model *label_model;
static char label_msg[256];

static void label_generate(const float *z, const float *y, float *out)
{
    (void)z;
    const struct genrt_model *m = label_model;
    for (int b = 0; b < m->batch; b++) {
        if (!(y[b] >= 0 && y[b] < m->n_classes && y[b] == floorf(y[b])) && !label_msg[0])
            snprintf(label_msg, sizeof label_msg, "generate: label %g", y[b]);
        for (long i = 0; i < m->sample_size; i++)
            out[b * m->sample_size + i] = -1.0f + 2.0f * (y[b] + 1) / (m->n_classes + 1);
    }
}

static int label_byte(int k, int n_classes)
{
    float v = -1.0f + 2.0f * (float)(k + 1) / (float)(n_classes + 1);
    return (int)((v + 1.0f) * 127.5f + 0.5f);
}

/* The PNG is a grid of rows x cols images of 6 x 8 pixels whose cell
 * (r, c) shows class label_of(r, c); -1: an empty cell. */
static void assert_class_grid(const char *path, int rows, int cols, int n_classes,
                              int (*label_of)(int r, int c, int cols))
{
    int gw, gh, comp;
    unsigned char *px = stbi_load(path, &gw, &gh, &comp, 3);
    cr_assert_not_null(px, "%s: %s", path, stbi_failure_reason());
    cr_assert_eq(gw, cols * (8 + 2) + 2, "%s: width %d", path, gw);
    cr_assert_eq(gh, rows * (6 + 2) + 2, "%s: height %d, not %d rows", path, gh, rows);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            int k = label_of(r, c, cols);
            int want = k < 0 ? 255 : label_byte(k, n_classes);
            int got = px[((2 + r * 8 + 3) * gw + 2 + c * 10 + 4) * 3]; /* the cell's middle */
            cr_assert(abs(got - want) <= 1, "%s: cell (%d, %d) is %d, want class %d (%d)", path,
                      r, c, got, k, want);
        }
    stbi_image_free(px);
}

static int row_is_class(int r, int c, int cols)
{
    (void)c;
    (void)cols;
    return r;
}

static int all_class_1(int r, int c, int cols)
{
    return r * cols + c < 5 ? 1 : -1; /* 5 samples in a 3 x 2 grid */
}

Test(cond, grids_have_a_row_per_class)
{
    const char *dir = class_dir("griddata", 3, 4);
    struct genrt_model m = fake_cond_rgb_model;
    m.generate = label_generate;
    label_model = &m;
    label_msg[0] = 0;
    /* the training previews: 3 rows of 8 */
    struct run *r = cli(&m, NULL, "train", "--steps", "2", "--data", dir, "--out", tpath("g"),
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    assert_class_grid(tpath("g/samples/step-000002.png"), 3, 8, 3, row_is_class);

    const char *ck = tpath("g/checkpoint.ckpt");
    r = cli(&m, NULL, "sample", "--checkpoint", ck, "-o", tpath("g8.png"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    assert_class_grid(tpath("g8.png"), 3, 8, 3, row_is_class);
    /* -n 10: rows per class of ceil(10 / 3) = 4 */
    r = cli(&m, NULL, "sample", "--checkpoint", ck, "-n", "10", "-o", tpath("g4.png"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    assert_class_grid(tpath("g4.png"), 3, 4, 3, row_is_class);
    r = cli(&m, NULL, "sample", "--checkpoint", ck, "-n", "2", "-o", tpath("g1.png"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    assert_class_grid(tpath("g1.png"), 3, 1, 3, row_is_class);
    /* --label: every sample of that class, in the usual square grid */
    r = cli(&m, NULL, "sample", "--checkpoint", ck, "-n", "5", "--label", "1", "-o",
            tpath("l1.png"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    assert_class_grid(tpath("l1.png"), 2, 3, 3, all_class_1);
    /* arrays: n samples as asked, sample i of class i % 3, or all --label */
    r = cli(&m, NULL, "sample", "--checkpoint", ck, "-n", "7", "-o", tpath("c.npy"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    float *x = npy_data(tpath("c.npy"), "'shape': (7, 3, 6, 8), }", 7 * 144);
    for (int i = 0; i < 7; i++)
        cr_assert_eq(x[i * 144 + 100], -1.0f + 2.0f * (float)(i % 3 + 1) / 4, "sample %d", i);
    free(x);
    r = cli(&m, NULL, "sample", "--checkpoint", ck, "-n", "7", "--label", "2", "-o",
            tpath("c2.npy"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    x = npy_data(tpath("c2.npy"), "'shape': (7, 3, 6, 8), }", 7 * 144);
    for (int i = 0; i < 7; i++)
        cr_assert_eq(x[i * 144], 0.5f, "sample %d", i);
    free(x);
    cr_assert_eq(label_msg[0], 0, "%s", label_msg);

    /* the real model draws the same geometry */
    r = cli(&fake_cond_rgb_model, NULL, "sample", "--checkpoint", ck, "-o", tpath("real.png"),
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    int w, h, color;
    png_info(tpath("real.png"), &w, &h, &color);
    cr_assert(w == 82 && h == 26 && color == 2, "%dx%d", w, h);
}

Test(cond, label_and_class_errors_are_one_line)
{
    const char *dir = class_dir("errdata", 3, 4);
    struct run *r = cli(&fake_cond_rgb_model, NULL, "train", "--steps", "1", "--data", dir,
                        "--out", tpath("e"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *ck = tpath("e/checkpoint.ckpt");
    r = cli(&fake_cond_rgb_model, NULL, "sample", "--checkpoint", ck, "--label", "3", "-o",
            tpath("x.png"), NULL);
    assert_one_error(r, "sample: --label 3 is out of range: the model has 3 classes (0 to 2)");
    r = cli(&fake_cond_rgb_model, NULL, "sample", "--checkpoint", ck, "--label", "-1", "-o",
            tpath("x.png"), NULL);
    assert_one_error(r, "sample: --label expects an integer");
    r = cli(&fake_cond_rgb_model, NULL, "sample", "--checkpoint", ck, "--label", "1", "--label",
            "2", "-o", tpath("x.png"), NULL);
    assert_one_error(r, "--label given twice");
    r = cli(&fake_cond_rgb_model, NULL, "train", "--label", "1", NULL);
    assert_one_error(r, "train: unknown flag '--label'");

    r = cli(&fake_model, NULL, "train", "--steps", "1", "--out", tpath("u"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_model, NULL, "sample", "--checkpoint", tpath("u/checkpoint.ckpt"), "--label",
            "0", "-o", tpath("x.csv"), NULL);
    assert_one_error(r, "sample: --label is for conditional models only, and this model is not one");
    cr_assert(!file_exists(tpath("x.png")) && !file_exists(tpath("x.csv")));

    /* the data's classes against the model's, before anything is written */
    const char *five = class_dir("five", 5, 4);
    char want[600];
    snprintf(want, sizeof want, "%s: 5 class subfolders, but the model has 3 classes", five);
    r = cli(&fake_cond_rgb_model, NULL, "train", "--data", five, "--out", tpath("never"), NULL);
    assert_one_error(r, want);
    cr_assert(!file_exists(tpath("never")));
    r = cli(&fake_cond_rgb_model, &fake_cond_rgb_model_f64, "gradcheck", "--data", five, NULL);
    assert_one_error(r, want);
    r = cli(&fake_cond_rgb_model, NULL, "train", "--data", color_dir("flatdata", 20), "--out",
            tpath("never"), NULL);
    assert_one_error(r, "flatdata: no class subfolders (all images are one class), but the model "
                        "has 3 classes");
    struct genrt_model m = fake_cond_model;
    m.n_classes = 5;
    r = cli(&m, NULL, "train", "--out", tpath("never"), NULL);
    assert_one_error(r, "ring8 has 8 classes (one per mode), but the model has 5 classes");
    cr_assert(!file_exists(tpath("never")));
}

/* The spy on gc_set_input: slot 2 must hold the gc batch's labels. */
static void (*true_gc_set_input)(int slot, const float *src);
static float gc_labels[64];
static unsigned gc_slots;

static void spy_gc_set_input(int slot, const float *src)
{
    if (slot == 2)
        memcpy(gc_labels, src, (size_t)fake_cond_rgb_model_f64.gc_batch * sizeof *src);
    gc_slots |= 1u << slot;
    true_gc_set_input(slot, src);
}

Test(cond, gradcheck_bench_and_help)
{
    struct run *r = cli(&fake_cond_model, &fake_cond_model_f64, "gradcheck", NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);
    cr_assert_not_null(strstr(r->out, "(tolerance 1e-06): ok\n"), "%s", r->out);
    /* the class embeddings are checked too */
    cr_assert_not_null(strstr(r->out, "gradcheck: loss_D: 97 entries of 5 tensors"), "%s", r->out);
    cr_assert_not_null(strstr(r->out, "gradcheck: loss_G: 28 entries of 4 tensors"), "%s", r->out);

    const char *dir = class_dir("gcdata", 3, 3);
    struct genrt_model g = fake_cond_rgb_model_f64;
    true_gc_set_input = g.gc_set_input;
    g.gc_set_input = spy_gc_set_input;
    gc_slots = 0;
    r = cli(&fake_cond_rgb_model, &g, "gradcheck", "--data", dir, "--seed", "3", NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);
    cr_assert_not_null(strstr(r->out, "(tolerance 1e-06): ok\n"), "%s", r->out);
    cr_assert_eq(gc_slots, 7);
    struct genrt_data d;
    struct genrt_err err;
    float x[4 * 144];
    int lab[4];
    cr_assert_eq(genrt_data_open(&d, &g, dir, 3, &err), 0, "%s", err.msg);
    genrt_data_next_batch_labels(&d, x, lab, g.gc_batch);
    genrt_data_close(&d);
    for (int i = 0; i < g.gc_batch; i++)
        cr_assert_eq(gc_labels[i], (float)lab[i], "gc label %d", i);

    r = cli(&fake_cond_rgb_model, NULL, "bench", "--steps", "3", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_not_null(strstr(r->out, "ms/step over 3 steps"), "%s", r->out);

    r = cli(&fake_cond_rgb_model, NULL, "sample", "--help", NULL);
    cr_assert_eq(r->rc, 0);
    cr_assert_not_null(strstr(r->out, "[--label K]"), "%s", r->out);
    cr_assert_not_null(strstr(r->out, "conditional on 3 classes"), "%s", r->out);
}

Test(cond, conditional_ring_puts_each_class_on_its_mode)
{
    /* G's class embedding can carry each class to its mode; a run whose
     * labels were wrong, shuffled or unused could not. */
    struct run *r = cli(&fake_cond_model, NULL, "train", "--steps", "2000", "--out",
                        tpath("cr"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *ck = tpath("cr/checkpoint.ckpt");
    for (int k = 0; k < 8; k += 3) {
        char lab[16];
        snprintf(lab, sizeof lab, "%d", k);
        r = cli(&fake_cond_model, NULL, "sample", "--checkpoint", ck, "-n", "500", "--label",
                lab, "-o", tpath("cr%d.csv", k), NULL);
        cr_assert_eq(r->rc, 0, "%s", r->err);
        FILE *f = fopen(tpath("cr%d.csv", k), "r");
        double x, y, sx = 0, sy = 0;
        int n = 0;
        while (fscanf(f, "%lf,%lf", &x, &y) == 2) {
            sx += x, sy += y;
            n++;
        }
        fclose(f);
        cr_assert_eq(n, 500);
        double cx = 2 * cos(2 * M_PI * k / 8), cy = 2 * sin(2 * M_PI * k / 8);
        cr_assert_lt(hypot(sx / n - cx, sy / n - cy), 0.3, "class %d: mean (%g, %g), mode (%g, %g)",
                     k, sx / n, sy / n, cx, cy);
    }
    /* without --label, sample i is of class i % 8 */
    r = cli(&fake_cond_model, NULL, "sample", "--checkpoint", ck, "-n", "800", "-o",
            tpath("crall.csv"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    FILE *f = fopen(tpath("crall.csv"), "r");
    double x, y, sx[8] = {0}, sy[8] = {0};
    for (int i = 0; fscanf(f, "%lf,%lf", &x, &y) == 2; i++) {
        sx[i % 8] += x / 100;
        sy[i % 8] += y / 100;
    }
    fclose(f);
    for (int k = 0; k < 8; k++)
        cr_assert_lt(hypot(sx[k] - 2 * cos(2 * M_PI * k / 8), sy[k] - 2 * sin(2 * M_PI * k / 8)),
                     0.3, "class %d: mean (%g, %g)", k, sx[k], sy[k]);
    r = cli(&fake_cond_model, NULL, "sample", "--checkpoint", ck, "-o", tpath("cr.png"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err); /* a scatter plot: no grid */
}

/* -------------------------------------------------------------------- vae */

/* One line of `X eval`. */
struct eval_line {
    char split[8]; /* "train:" or "test:", without the colon */
    double elbo, rec, kl;
    long n;
};

/* Parses eval's stdout into want_lines lines. */
static void parse_eval(const char *out, struct eval_line *e, int want_lines)
{
    cr_assert_eq(count_lines(out), want_lines, "%s", out);
    const char *p = out;
    for (int i = 0; i < want_lines; i++) {
        cr_assert_eq(sscanf(p, "%7[a-z]: -ELBO %lf nats per example (reconstruction %lf, KL %lf) "
                            "over %ld examples", e[i].split, &e[i].elbo, &e[i].rec, &e[i].kl,
                            &e[i].n), 5, "line %d of: %s", i, p);
        p = strchr(p, '\n') + 1;
    }
}

/* Loads a checkpoint into the fake VAE's state, as eval does. */
static void load_vae_state(const char *path)
{
    struct genrt_ckpt ck;
    struct genrt_err err;
    cr_assert_eq(genrt_ckpt_read(path, &ck, &err), 0, "%s", err.msg);
    cr_assert_eq(ck.n_state, (uint64_t)fake_vae_model.n_state);
    memcpy(fake_vae_model.state, ck.state, (size_t)ck.n_state * sizeof(float));
    genrt_ckpt_free(&ck);
}

/* The mean terms of the fake VAE's elbo_batch over a split, batched here
 * from the raw pixels: batch b holds examples 64 b .., the last batch
 * zero-padded (eval pads with copies: the pads must not count either way). */
static void reference_elbo(int split, double *mean, long *n)
{
    const struct genrt_model *m = &fake_vae_model;
    struct genrt_model mm = *m;
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open_split(&d, &mm, NULL, split, 1, &err), 0, "%s", err.msg);
    long B = m->batch, S = m->sample_size;
    float *x = malloc((size_t)(B * S) * sizeof *x);
    double *o = malloc((size_t)(3 * B) * sizeof *o), sum[3] = {0, 0, 0};
    for (long i = 0; i < d.n; i += B) {
        long k = d.n - i < B ? d.n - i : B;
        memset(x, 0, (size_t)(B * S) * sizeof *x);
        for (long j = 0; j < k * S; j++)
            x[j] = -1.0f + 2.0f * d.images[(size_t)(i * S + j)] / 255.0f;
        m->elbo_batch(x, o);
        for (long b = 0; b < k; b++)
            for (int t = 0; t < 3; t++)
                sum[t] += o[3 * b + t];
    }
    *n = d.n;
    for (int t = 0; t < 3; t++)
        mean[t] = sum[t] / d.n;
    free(x);
    free(o);
    genrt_data_close(&d);
}

Test(vae, eval_averages_every_train_and_test_example)
{
    struct run *r = cli(&fake_vae_model, NULL, "train", "--steps", "20", "--out", tpath("ev"),
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *ck = tpath("ev/checkpoint.ckpt");
    r = cli(&fake_vae_model, NULL, "eval", "--checkpoint", ck, NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_str_empty(r->err);
    char first[sizeof r->out];
    strcpy(first, r->out);
    struct eval_line e[2];
    parse_eval(r->out, e, 2);
    cr_assert_str_eq(e[0].split, "train");
    cr_assert_str_eq(e[1].split, "test");
    cr_assert_eq(e[0].n, 60000); /* 937 batches of 64 and 32 more */
    cr_assert_eq(e[1].n, 10000); /* 156 batches of 64 and 16 more */
    cr_assert(!strncmp(r->out, "train: -ELBO ", 13), "%s", r->out);

    load_vae_state(ck);
    for (int s = 0; s < 2; s++) {
        double want[3];
        long n;
        reference_elbo(s == 0 ? GENRT_SPLIT_TRAIN : GENRT_SPLIT_TEST, want, &n);
        cr_assert_eq(n, e[s].n);
        /* printed with 2 decimals; the sums may round differently in the last bit */
        cr_assert_float_eq(e[s].elbo, want[0], 0.0051, "%s: %.4f, want %.4f", e[s].split,
                           e[s].elbo, want[0]);
        cr_assert_float_eq(e[s].rec, want[1], 0.0051, "%s rec: %.4f, want %.4f", e[s].split,
                           e[s].rec, want[1]);
        cr_assert_float_eq(e[s].kl, want[2], 0.0051, "%s kl: %.4f, want %.4f", e[s].split,
                           e[s].kl, want[2]);
        cr_assert_float_eq(e[s].elbo, e[s].rec + e[s].kl, 0.0101);
        cr_assert_gt(e[s].kl, 0.0);
    }
    /* deterministic, whatever the threads */
    r = cli(&fake_vae_model, NULL, "eval", "--checkpoint", ck, "--threads", "1", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_str_eq(r->out, first);
}

/* A spy for elbo_batch: example i of write_idx's data is all pixels i (the
 * range maps pixel p to p), and the spy returns rec = i, kl = 1, so the
 * printed means tell which examples counted.  It records every row it sees
 * (the pads too); failures are kept in elbo_spy.msg. */
static struct {
    int batch;
    long sample_size;
    int rows[256];
    int n_rows;
    char msg[256];
    /* a conditional spy: the labels set_input last gave slot Y, how many
     * times, and the label each recorded row came with */
    float y[64];
    int y_calls, calls;
    int labels[256];
} elbo_spy;

/* A conditional spy's set_input: slot Y is the spy's (the fake VAE takes
 * no labels), the rest the fake's. */
static void elbo_spy_set_input(int slot, const float *src)
{
    if (slot == GENRT_SLOT_Y) {
        memcpy(elbo_spy.y, src, (size_t)elbo_spy.batch * sizeof *src);
        elbo_spy.y_calls++;
    } else {
        fake_vae_model.set_input(slot, src);
    }
}

static void spy_elbo_batch(const float *x, double *out)
{
    elbo_spy.calls++;
    for (int b = 0; b < elbo_spy.batch; b++) {
        if (elbo_spy.n_rows < 256)
            elbo_spy.labels[elbo_spy.n_rows] = (int)elbo_spy.y[b];
        const float *row = x + b * elbo_spy.sample_size;
        for (long j = 1; j < elbo_spy.sample_size; j++)
            if (row[j] != row[0] && !elbo_spy.msg[0])
                snprintf(elbo_spy.msg, sizeof elbo_spy.msg, "row %d is not one example", b);
        if (elbo_spy.n_rows < 256)
            elbo_spy.rows[elbo_spy.n_rows++] = (int)row[0];
        out[3 * b] = row[0] + 1.0;
        out[3 * b + 1] = row[0];
        out[3 * b + 2] = 1.0;
    }
}

/* The fake VAE with batch 4, reading dir, pixel p as p, eval through the spy. */
static struct genrt_model spy_vae(const char *dir)
{
    struct genrt_model m = fake_vae_model;
    m.data_path = dir;
    m.batch = 4;
    m.range_lo = 0.0f;
    m.range_hi = 255.0f;
    m.elbo_batch = spy_elbo_batch;
    memset(&elbo_spy, 0, sizeof elbo_spy);
    elbo_spy.batch = m.batch;
    elbo_spy.sample_size = m.sample_size;
    return m;
}

/* A checkpoint that fits the fake VAE (zero state), for spy runs. */
static const char *vae_ckpt(void)
{
    const char *path = tpath("vae0.ckpt");
    static float zeros[1 << 14];
    static unsigned char run_state[8 * 15]; /* a run state's size: eval does not read it */
    cr_assert_geq((long)(sizeof zeros / sizeof zeros[0]), fake_vae_model.n_state);
    struct genrt_ckpt c = {
        .shape_hash = fake_vae_model.shape_hash, .real_size = 4, .step = 1,
        .n_state = (uint64_t)fake_vae_model.n_state, .state = zeros,
        .blob_size = sizeof run_state, .blob = run_state,
    };
    struct genrt_err err;
    cr_assert_eq(genrt_ckpt_save(path, &c, &err), 0, "%s", err.msg);
    return path;
}

Test(vae, eval_pads_the_last_batch_and_counts_only_real_examples)
{
    const char *dir = tpath("pad");
    mkdir(dir, 0777);
    write_idx(dir, "train", 10, 28, 28, 10, 1);
    write_idx(dir, "t10k", 5, 28, 28, 5, 0);
    struct genrt_model m = spy_vae(dir);
    m.data_train = 0; /* the spec reads the test split: eval reads both all the same */
    const char *ck = vae_ckpt();
    struct run *r = cli(&m, NULL, "eval", "--checkpoint", ck, NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_str_empty(elbo_spy.msg, "%s", elbo_spy.msg);
    /* 10 = 4 + 4 + 2 (+ 2 copies of 9), then 5 = 4 + 1 (+ 3 copies of 4) */
    static const int want_rows[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9,
                                    0, 1, 2, 3, 4, 4, 4, 4};
    cr_assert_eq(elbo_spy.n_rows, 20);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(elbo_spy.rows[i], want_rows[i], "row %d: example %d, not %d", i,
                     elbo_spy.rows[i], want_rows[i]);
    cr_assert_str_eq(r->out,
                     "train: -ELBO 5.50 nats per example (reconstruction 4.50, KL 1.00) over 10 "
                     "examples\n"
                     "test: -ELBO 3.00 nats per example (reconstruction 2.00, KL 1.00) over 5 "
                     "examples\n");

    /* a split smaller than one batch, --data over the spec's directory */
    const char *one = tpath("pad1");
    mkdir(one, 0777);
    write_idx(one, "train", 3, 28, 28, 3, 1);
    write_idx(one, "t10k", 1, 28, 28, 1, 1);
    m = spy_vae("/nonexistent");
    r = cli(&m, NULL, "eval", "--checkpoint", ck, "--data", one, NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_eq(elbo_spy.n_rows, 8);
    cr_assert_str_eq(r->out,
                     "train: -ELBO 2.00 nats per example (reconstruction 1.00, KL 1.00) over 3 "
                     "examples\n"
                     "test: -ELBO 1.00 nats per example (reconstruction 0.00, KL 1.00) over 1 "
                     "examples\n");
}

/* A conditional VAE: before each elbo_batch (and reconstruct) the runtime
 * gives slot Y the batch's own labels, the pads' those of the example they
 * copy.  Example i of the train split is class (3 i + 1) mod 10. */
Test(vae, a_conditional_vae_gets_each_examples_own_label)
{
    const char *dir = tpath("cond");
    mkdir(dir, 0777);
    write_idx(dir, "train", 10, 28, 28, 10, 0);
    write_idx(dir, "t10k", 5, 28, 28, 5, 0);
    unsigned char lab[8 + 10] = {0, 0, 8, 1, 0, 0, 0, 10};
    for (int i = 0; i < 10; i++)
        lab[8 + i] = (unsigned char)((3 * i + 1) % 10);
    spit(tpath("cond/train-labels-idx1-ubyte"), lab, sizeof lab);
    struct genrt_model m = spy_vae(dir);
    m.n_classes = 10;
    m.set_input = elbo_spy_set_input;
    struct run *r = cli(&m, NULL, "eval", "--checkpoint", vae_ckpt(), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_str_empty(elbo_spy.msg, "%s", elbo_spy.msg);
    cr_assert_eq(elbo_spy.calls, 5); /* 3 batches of train, 2 of test */
    cr_assert_eq(elbo_spy.y_calls, 5, "labels set %d times for 5 batches", elbo_spy.y_calls);
    cr_assert_eq(elbo_spy.n_rows, 20);
    for (int i = 0; i < 12; i++) /* the train split's rows: 0 .. 9, 9, 9 */
        cr_assert_eq(elbo_spy.labels[i], (3 * elbo_spy.rows[i] + 1) % 10, "row %d (example %d): label %d", i,
                     elbo_spy.rows[i], elbo_spy.labels[i]);
    for (int i = 12; i < 20; i++) /* write_idx's labels: all 0 */
        cr_assert_eq(elbo_spy.labels[i], 0, "test row %d: label %d", i, elbo_spy.labels[i]);
}

Test(vae, images_are_one_train_split)
{
    const char *dir = mkdir_t("vaeimg");
    for (int i = 0; i < 6; i++) {
        unsigned char v = (unsigned char)(10 * i);
        write_solid(tpath("vaeimg/%02d.png", i), 28, 28, 1, &v);
    }
    struct genrt_model m = spy_vae(dir);
    m.data_kind = GENRT_DATA_IMAGES;
    const char *ck = vae_ckpt();
    struct run *r = cli(&m, NULL, "eval", "--checkpoint", ck, NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_str_empty(elbo_spy.msg, "%s", elbo_spy.msg);
    cr_assert_eq(elbo_spy.n_rows, 8);
    cr_assert_str_eq(r->out,
                     "train: -ELBO 26.00 nats per example (reconstruction 25.00, KL 1.00) over "
                     "6 examples\n");

    /* reconstruct takes the train split: 6 pairs (fewer than the default 32) */
    m = fake_vae_model;
    m.data_kind = GENRT_DATA_IMAGES;
    m.data_path = dir;
    r = cli(&m, NULL, "reconstruct", "--checkpoint", ck, "-o", tpath("vi.png"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    /* one line says which examples stand in for test examples */
    char want[512];
    snprintf(want, sizeof want, "fake: reconstruct: %s has no test split, so the examples are its "
             "first 6 training images (in file order)\n", dir);
    cr_assert_str_eq(r->err, want);
    int w, h, comp;
    unsigned char *px = stbi_load(tpath("vi.png"), &w, &h, &comp, 1);
    cr_assert_not_null(px);
    cr_assert_eq(w, 12 * 30 + 2);
    cr_assert_eq(h, 30 + 2);
    cr_assert_eq(comp, 1);
    for (int i = 0; i < 6; i++) {
        int in = px[(2 + 14) * w + 2 + 2 * i * 30 + 14];
        int out = px[(2 + 14) * w + 2 + (2 * i + 1) * 30 + 14];
        cr_assert(abs(in - 10 * i) <= 1, "input %d: %d", i, in);
        cr_assert(abs(out - 128) <= 1, "a zero state reconstructs 0 (gray): %d", out);
    }
    stbi_image_free(px);
    r = cli(&m, NULL, "reconstruct", "--checkpoint", ck, "-o", tpath("vi.png"), "-n", "7", NULL);
    assert_one_error(r, "reconstruct: -n 7, but the train split has only 6 examples");
}

static int to_byte(float v)
{
    float t = (v + 1.0f) * 127.5f; /* range [-1, 1] */
    return t <= 0 ? 0 : t >= 255 ? 255 : (int)(t + 0.5f);
}

/* The tile of image k in a grid of cols columns of 28 x 28 gray images. */
static unsigned char tile_px(const unsigned char *px, int w, int cols, int k, int i, int j)
{
    int x0 = 2 + (k % cols) * 30, y0 = 2 + (k / cols) * 30;
    return px[(y0 + i) * w + x0 + j];
}

/* Checks that a reconstruct grid (16 images a row) holds n pairs of x[k]
 * and rec[k]; how many pixels differ between the two. */
static long assert_pairs(const char *path, int n, const float *x, const float *rec)
{
    int w, h, comp;
    unsigned char *px = stbi_load(path, &w, &h, &comp, 1);
    cr_assert_not_null(px, "%s", path);
    int cols = 2 * n < 16 ? 2 * n : 16;
    cr_assert_eq(w, cols * 30 + 2);
    cr_assert_eq(h, (2 * n + 15) / 16 * 30 + 2);
    long differ = 0;
    for (int k = 0; k < n; k++)
        for (int i = 0; i < 28; i++)
            for (int j = 0; j < 28; j++) {
                int in = tile_px(px, w, cols, 2 * k, i, j);
                int out = tile_px(px, w, cols, 2 * k + 1, i, j);
                int want_in = to_byte(x[k * 784 + i * 28 + j]);
                int want_out = to_byte(rec[k * 784 + i * 28 + j]);
                cr_assert(abs(in - want_in) <= 1, "example %d (%d, %d): %d, not %d", k, i, j, in,
                          want_in);
                cr_assert(abs(out - want_out) <= 1, "reconstruction %d (%d, %d): %d, not %d", k,
                          i, j, out, want_out);
                differ += abs(in - out) > 8;
            }
    stbi_image_free(px);
    return differ;
}

Test(vae, reconstruct_shows_test_examples_beside_their_reconstructions)
{
    struct run *r = cli(&fake_vae_model, NULL, "train", "--steps", "30", "--out", tpath("rc"),
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *ck = tpath("rc/checkpoint.ckpt");
    r = cli(&fake_vae_model, NULL, "reconstruct", "--checkpoint", ck, "-o", tpath("rc.png"),
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_str_empty(r->out);

    /* the reference: the first two batches of the test split, reconstructed here */
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open_split(&d, &fake_vae_model, NULL, GENRT_SPLIT_TEST, 1, &err), 0,
                 "%s", err.msg);
    static float x[128 * 784], rec[128 * 784];
    for (long j = 0; j < 128 * 784; j++)
        x[j] = -1.0f + 2.0f * d.images[j] / 255.0f;
    genrt_data_close(&d);
    load_vae_state(ck);
    fake_vae_model.reconstruct(x, rec);
    fake_vae_model.reconstruct(x + 64 * 784, rec + 64 * 784);

    /* 32 pairs, 8 a row: 16 gray images of 28 x 28 a row, 4 rows */
    int w, h, color;
    png_info(tpath("rc.png"), &w, &h, &color);
    cr_assert_eq(color, 0);
    cr_assert_eq(w, 16 * 30 + 2);
    cr_assert_eq(h, 4 * 30 + 2);
    cr_assert_gt(assert_pairs(tpath("rc.png"), 32, x, rec), 1000,
                 "the reconstructions should not be copies of the inputs");

    /* fewer pairs than a row; more than a batch (two calls, the second padded) */
    r = cli(&fake_vae_model, NULL, "reconstruct", "--checkpoint", ck, "-o", tpath("rc5.png"),
            "-n", "5", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    png_info(tpath("rc5.png"), &w, &h, &color);
    cr_assert_eq(w, 10 * 30 + 2);
    cr_assert_eq(h, 30 + 2);
    assert_pairs(tpath("rc5.png"), 5, x, rec);
    r = cli(&fake_vae_model, NULL, "reconstruct", "--checkpoint", ck, "-o", tpath("rc70.png"),
            "-n", "70", "--threads", "1", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    png_info(tpath("rc70.png"), &w, &h, &color);
    cr_assert_eq(h, 9 * 30 + 2); /* 140 images: 8 full rows and 12 */
    assert_pairs(tpath("rc70.png"), 70, x, rec);
}

Test(vae, trains_samples_gradchecks_and_learns)
{
    struct run *r = cli(&fake_vae_model, &fake_vae_model_f64, "gradcheck", NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);
    cr_assert_not_null(strstr(r->out, "gradcheck: loss: "), "%s", r->out);
    cr_assert_not_null(strstr(r->out, "(tolerance 1e-06): ok\n"), "%s", r->out);
    r = cli(&fake_vae_model, NULL, "gradcheck", NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);

    r = cli(&fake_vae_model, NULL, "train", "--steps", "1", "--out", tpath("l1"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    char *csv = metrics_sans_seconds(tpath("l1/metrics.csv"));
    cr_assert(!strncmp(csv, "step,loss,rec,kl\n1,", 19), "%s", csv);
    free(csv);
    r = cli(&fake_vae_model, NULL, "train", "--steps", "300", "--out", tpath("l300"), "--quiet",
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    struct eval_line e1[2], e300[2];
    r = cli(&fake_vae_model, NULL, "eval", "--checkpoint", tpath("l1/checkpoint.ckpt"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    parse_eval(r->out, e1, 2);
    r = cli(&fake_vae_model, NULL, "eval", "--checkpoint", tpath("l300/checkpoint.ckpt"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    parse_eval(r->out, e300, 2);
    /* a linear VAE with 2 latents gets well under half its first loss */
    for (int s = 0; s < 2; s++)
        cr_assert_lt(e300[s].elbo, 0.5 * e1[s].elbo, "%s: %.2f after 300 steps, %.2f after 1",
                     e300[s].split, e300[s].elbo, e1[s].elbo);

    /* prior samples through generate(z, NULL, out) */
    r = cli(&fake_vae_model, NULL, "sample", "--checkpoint", tpath("l300/checkpoint.ckpt"), "-n",
            "10", "-o", tpath("vs.npy"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    float *s = npy_data(tpath("vs.npy"), "'shape': (10, 1, 28, 28), }", 10 * 784);
    free(s);
}

Test(vae, help_lists_eval_and_reconstruct_for_vaes_only)
{
    struct run *r = cli(&fake_vae_model, NULL, "--help", NULL);
    cr_assert_eq(r->rc, 0);
    const char *want[] = {"Trains the VAE \"fake_vae\"", "\n  eval      --checkpoint CKPT",
                          "\n  reconstruct --checkpoint CKPT", "-o FILE", "-n N", "train",
                          "sample", "gradcheck", "bench"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_not_null(strstr(r->out, want[i]), "'%s' not in help: %s", want[i], r->out);
    r = cli(&fake_vae_model, NULL, "eval", "--help", NULL);
    cr_assert_eq(r->rc, 0);
    const struct genrt_model *gans[] = {&fake_model, &fake_image_model, &fake_cond_rgb_model};
    for (int i = 0; i < 3; i++) {
        r = cli(gans[i], NULL, "--help", NULL);
        cr_assert_eq(r->rc, 0);
        cr_assert_not_null(strstr(r->out, "Trains the GAN"), "%s", r->out);
        cr_assert_null(strstr(r->out, "eval"), "%s", r->out);
        cr_assert_null(strstr(r->out, "reconstruct"), "%s", r->out);
        cr_assert_null(strstr(r->out, "ELBO"), "%s", r->out);
    }
}

Test(vae, errors_are_one_line)
{
    /* GANs have no ELBO */
    assert_one_error(cli(&fake_image_model, NULL, "eval", "--checkpoint", "x.ckpt", NULL),
                     "eval: this model is a GAN; eval is for VAEs and classifiers only");
    assert_one_error(cli(&fake_image_model, NULL, "reconstruct", NULL),
                     "reconstruct: this model is a GAN; reconstruct is for VAEs only");

    const char *ck = vae_ckpt();
    struct run *r = cli(&fake_vae_model, NULL, "reconstruct", "--checkpoint", ck, "-o",
                        tpath("r.npy"), NULL);
    assert_one_error(r, "reconstruct: -o ");
    assert_one_error(r, "r.npy: unknown format (the name must end in .png)");
    cr_assert(!file_exists(tpath("r.npy")));
    assert_one_error(cli(&fake_vae_model, NULL, "reconstruct", "--checkpoint", ck, "-o",
                         tpath("png"), NULL), "unknown format");
    assert_one_error(cli(&fake_vae_model, NULL, "reconstruct", "--checkpoint", ck, NULL),
                     "reconstruct: missing -o FILE");
    assert_one_error(cli(&fake_vae_model, NULL, "eval", NULL), "eval: missing --checkpoint CKPT");
    assert_one_error(cli(&fake_vae_model, NULL, "eval", "--checkpoint", ck, "-n", "3", NULL),
                     "eval: unknown flag '-n'");
    /* checkpoints: missing, or another model's */
    r = cli(&fake_vae_model, NULL, "eval", "--checkpoint", tpath("none.ckpt"), NULL);
    assert_one_error(r, "none.ckpt: no such file");
    cr_assert_str_empty(r->out);
    r = cli(&fake_vae_model, NULL, "reconstruct", "--checkpoint", tpath("none.ckpt"), "-o",
            tpath("none.png"), NULL);
    assert_one_error(r, "none.ckpt: no such file");
    cr_assert(!file_exists(tpath("none.png")));
    r = cli(&fake_image_model, NULL, "train", "--steps", "1", "--out", tpath("gan"), "--quiet",
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    assert_one_error(cli(&fake_vae_model, NULL, "eval", "--checkpoint",
                         tpath("gan/checkpoint.ckpt"), NULL), "was written for another spec");
    /* data */
    r = cli(&fake_vae_model, NULL, "eval", "--checkpoint", ck, "--data", tpath("nodata"), NULL);
    assert_one_error(r, "eval: ");
    assert_one_error(r, "nodata: no such directory");
    r = cli(&fake_vae_model, NULL, "reconstruct", "--checkpoint", ck, "-o", tpath("nd.png"),
            "--data", tpath("nodata"), NULL);
    assert_one_error(r, "nodata: no such directory");
    cr_assert(!file_exists(tpath("nd.png")));
    r = cli(&fake_vae_model, NULL, "reconstruct", "--checkpoint", ck, "-o", tpath("big.png"),
            "-n", "10001", NULL);
    assert_one_error(r, "reconstruct: -n 10001, but the test split has only 10000 examples");
    /* a VAE of 2-D points: no data set to evaluate, no images to draw */
    struct genrt_model m = fake_vae_model;
    m.data_kind = GENRT_DATA_RING8;
    m.img_c = m.img_h = m.img_w = 0;
    assert_one_error(cli(&m, NULL, "eval", "--checkpoint", ck, NULL),
                     "eval: ring8 data are generated, not a set of examples to evaluate on");
    assert_one_error(cli(&m, NULL, "reconstruct", "--checkpoint", ck, "-o", tpath("p.png"), NULL),
                     "reconstruct: draws images, and this model's examples are 784-dimensional");
}

Test(vae, model_check_wants_an_objective_name_and_both_elbo_functions)
{
    struct genrt_model m = fake_vae_model;
    m.elbo_batch = NULL;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: reconstruct without elbo_batch (the two come together)");
    m = fake_vae_model;
    m.reconstruct = NULL;
    assert_one_error(cli(&fake_vae_model, &m, "bench", NULL),
                     "double-precision model error: elbo_batch without reconstruct");
    m = fake_vae_model;
    m.objective_name = NULL;
    assert_one_error(cli(&m, NULL, "bench", NULL), "model error: no objective_name");
    m.objective_name = "";
    assert_one_error(cli(&m, NULL, "--help", NULL), "model error: no objective_name");
    /* the commands follow the entry points, whatever the objective says */
    m = fake_vae_model;
    m.objective = GENRT_OBJ_GAN;
    struct run *r = cli(&m, NULL, "--help", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_not_null(strstr(r->out, "\n  eval "), "%s", r->out);
    m = fake_image_model;
    m.elbo_batch = fake_vae_model.elbo_batch;
    assert_one_error(cli(&m, NULL, "bench", NULL), "elbo_batch without reconstruct");
    /* a conditional VAE: eval and reconstruct pass labels through slot Y */
    m = fake_vae_model;
    m.n_classes = 10;
    r = cli(&m, NULL, "--help", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_not_null(strstr(r->out, "conditional on 10 classes"), "%s", r->out);
    cr_assert_not_null(strstr(r->out, "\n  eval "), "%s", r->out);
    m = fake_vae_model;
    m.generate = NULL;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: neither generate, translate nor classify");
    m = fake_vae_model;
    m.latent_dim = 0;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: generate with latent_dim 0 (it needs a latent)");
    m = fake_vae_model;
    m.abi = 2;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model was built for runtime ABI 2, this runtime has ABI " STR(GENRT_ABI));
}

/* --------------------------------------------------------------- cycle */

/* Fashion-MNIST's classes: 6000 train and 1000 test images each. */
#define FMNIST_PER_CLASS 6000
#define FMNIST_TEST_PER_CLASS 1000

Test(data, class_filter_keeps_one_class_in_file_order)
{
    struct genrt_model m = image_model(FMNIST_DIR, 1);
    struct genrt_data all, d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&all, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(all.data_class, -1);
    m.data_class = 7;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, FMNIST_PER_CLASS);
    cr_assert_eq(d.data_class, 7);
    cr_assert_eq(d.n_classes, 10); /* the source's classes; the labels stay as they are */
    long k = 0;
    for (long i = 0; i < all.n; i++) {
        if (all.labels[i] != 7)
            continue;
        cr_assert_eq(d.labels[k], 7);
        cr_assert(!memcmp(d.images + k * 784, all.images + i * 784, 784), "example %ld", k);
        k++;
    }
    cr_assert_eq(k, d.n);
    /* the epochs shuffle the kept examples only */
    char *seen = calloc((size_t)d.n, 1);
    for (long i = 0; i < d.n; i++) {
        cr_assert_lt(d.order[i], (uint32_t)d.n);
        cr_assert(!seen[d.order[i]]);
        seen[d.order[i]] = 1;
    }
    free(seen);
    static float x[16 * 784];
    int lab[16];
    for (int b = 0; b < 400; b++) { /* 375 batches an epoch */
        cr_assert_eq(genrt_data_next_batch_labels(&d, x, lab, 16), 0);
        for (int i = 0; i < 16; i++)
            cr_assert_eq(lab[i], 7);
    }
    cr_assert_eq(d.st.epoch, 1);
    genrt_data_close(&d);
    genrt_data_close(&all);

    m.data_class = 9;
    cr_assert_eq(genrt_data_open_split(&d, &m, NULL, GENRT_SPLIT_TEST, 1, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(d.n, FMNIST_TEST_PER_CLASS);
    cr_assert_eq(d.labels[0], 9);
    genrt_data_close(&d);

    /* images: the class subfolder's images (class_dir: red is 80 * class) */
    const char *dir = class_dir("filtered", 3, 4);
    struct genrt_model r = rgb_model(dir, 3);
    r.data_class = 1;
    cr_assert_eq(genrt_data_open(&d, &r, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 4);
    cr_assert_eq(d.n_classes, 3);
    for (long i = 0; i < d.n; i++) {
        cr_assert_eq(d.labels[i], 1);
        cr_assert_eq(d.images[i * 144], 80);
        cr_assert_eq(d.images[i * 144 + 1], 10 * i, "file order");
    }
    genrt_data_close(&d);
    /* without class subfolders every image is class 0 */
    r = rgb_model(color_dir("filtered0", 5), 3);
    r.data_class = 0;
    cr_assert_eq(genrt_data_open(&d, &r, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 5);
    genrt_data_close(&d);
}

/* `limit N`: the first N examples of the model's split, after the class
 * filter, in file order; a split opened by name is whole. */
Test(data, limit_keeps_the_first_examples_of_the_models_split)
{
    struct genrt_model m = image_model(FMNIST_DIR, 1);
    struct genrt_data all, d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&all, &m, NULL, 1, &err), 0, "%s", err.msg);
    m.data_limit = 100;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 100);
    cr_assert(!memcmp(d.images, all.images, 100 * 784));
    cr_assert(!memcmp(d.labels, all.labels, 100));
    static float x[64 * 784];
    for (int b = 0; b < 4; b++) /* an epoch is one batch of 64 (the last 36 dropped) */
        cr_assert_eq(genrt_data_next_batch(&d, x, 64), 0);
    cr_assert_eq(d.st.epoch, 3);
    for (long i = 0; i < d.n; i++)
        cr_assert_lt(d.order[i], 100u);
    genrt_data_close(&d);
    /* after the class filter: the first 10 sneakers */
    m.data_class = 7;
    m.data_limit = 10;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 10);
    long k = 0;
    for (long i = 0; i < all.n && k < 10; i++)
        if (all.labels[i] == 7) {
            cr_assert_eq(d.labels[k], 7);
            cr_assert(!memcmp(d.images + k * 784, all.images + i * 784, 784), "example %ld", k);
            k++;
        }
    genrt_data_close(&d);
    /* the splits eval and score open by name are whole; a limit above n keeps all */
    m.data_class = -1;
    cr_assert_eq(genrt_data_open_split(&d, &m, NULL, GENRT_SPLIT_TEST, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 10 * FMNIST_TEST_PER_CLASS);
    genrt_data_close(&d);
    m.data_limit = 1000000;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, all.n);
    genrt_data_close(&d);
    genrt_data_close(&all);
}

Test(data, class_filter_errors_name_the_path_and_class)
{
    struct genrt_model m = image_model(FMNIST_DIR, 1);
    struct genrt_data d;
    struct genrt_err err;
    m.data_class = 10;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1);
    cr_assert_str_eq(err.msg, FMNIST_DIR ": no examples of class 10 in the train split (its "
                              "classes are 0 to 9)");
    cr_assert_null(d.images);
    const char *small = mkdir_t("zeros");
    write_idx(small, "t10k", 5, 28, 28, 5, 1); /* every label 0 */
    m = image_model(small, 0);
    m.data_class = 3;
    cr_assert_eq(genrt_data_open(&d, &m, NULL, 1, &err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: no examples of class 3 in the test split (its classes are "
             "0 to 9)", small);
    cr_assert_str_eq(err.msg, want);

    const char *dir = class_dir("filtered3", 3, 2);
    struct genrt_model r = rgb_model(dir, 3);
    r.data_class = 5;
    cr_assert_eq(genrt_data_open(&d, &r, NULL, 1, &err), -1);
    snprintf(want, sizeof want, "%s: no examples of class 5 (its 3 class subfolders are classes "
             "0 to 2)", dir);
    cr_assert_str_eq(err.msg, want);
    cr_assert_null(d.class_names);
    const char *flat = color_dir("flat1", 3);
    r = rgb_model(flat, 3);
    r.data_class = 1;
    cr_assert_eq(genrt_data_open(&d, &r, NULL, 1, &err), -1);
    snprintf(want, sizeof want, "%s: no examples of class 1 (no class subfolders: every image is "
             "class 0)", flat);
    cr_assert_str_eq(err.msg, want);

    struct genrt_model ring = fake_model;
    ring.data_class = 2;
    cr_assert_eq(genrt_data_open(&d, &ring, NULL, 1, &err), -1);
    cr_assert_str_eq(err.msg, "model error: ring8 data have no class filter (data_class 2)");

    /* through the CLI: one line, before anything is written */
    struct genrt_model c = fake_cycle_model;
    c.data_class = 12;
    struct run *run = cli(&c, NULL, "train", "--out", tpath("never"), NULL);
    assert_one_error(run, FMNIST_DIR ": no examples of class 12 in the train split");
    cr_assert(!file_exists(tpath("never")));
}

Test(data, domain_model_reads_domain_b)
{
    const struct genrt_model *m = &fake_cycle_mix_model;
    struct genrt_model a, b;
    genrt_data_domain_model(m, GENRT_DOMAIN_A, &a);
    cr_assert(!memcmp(&a, m, sizeof a));
    genrt_data_domain_model(m, GENRT_DOMAIN_B, &b);
    cr_assert_eq(b.data_kind, GENRT_DATA_IMAGES);
    cr_assert_str_eq(b.data_path, "");
    cr_assert_eq(b.data_class, -1);
    cr_assert(b.img_c == 3 && b.img_h == 6 && b.img_w == 8 && b.sample_size == 144);
    cr_assert(b.range_lo == -1.0f && b.range_hi == 1.0f);
    cr_assert_eq(b.batch, m->batch);
    cr_assert_eq(b.shape_hash, m->shape_hash);
    /* domain B of the fashion_mnist CycleGAN: the boots */
    genrt_data_domain_model(&fake_cycle_model, GENRT_DOMAIN_B, &b);
    struct genrt_data d;
    struct genrt_err err;
    cr_assert_eq(genrt_data_open(&d, &b, NULL, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, FMNIST_PER_CLASS);
    cr_assert_eq(d.labels[0], 9);
    genrt_data_close(&d);
}

/* Loads a checkpoint into a float model's state. */
static void load_float_state(const struct genrt_model *m, const char *path)
{
    struct genrt_ckpt ck;
    struct genrt_err err;
    cr_assert_eq(genrt_ckpt_read(path, &ck, &err), 0, "%s", err.msg);
    cr_assert_eq(ck.n_state, (uint64_t)m->n_state);
    memcpy(m->state, ck.state, (size_t)ck.n_state * sizeof(float));
    genrt_ckpt_free(&ck);
}

static uint64_t ckpt_blob_size(const char *path)
{
    return ckpt_fields(path).blob_size;
}

/* Trains to `steps` straight, and to `mid` then resumed to `steps`: the
 * two runs must end byte for byte alike.  data_b: --data-b, if not NULL
 * (last, so that a NULL ends the arguments there). */
static void assert_cycle_resume(const struct genrt_model *m, const char *data_b, const char *name,
                                const char *steps, const char *mid)
{
    const char *a = tpath("%s_a", name), *b = tpath("%s_b", name);
    const char *flag_b = data_b ? "--data-b" : NULL;
    struct run *r = cli(m, NULL, "train", "--steps", steps, "--out", a, "--quiet", flag_b, data_b,
                        NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(m, NULL, "train", "--steps", mid, "--out", b, "--quiet", flag_b, data_b, NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *ck = tpath("%s_b/checkpoint.ckpt", name), *ckmid = tpath("%s_mid.ckpt", name);
    cr_assert_eq(rename(ck, ckmid), 0);
    r = cli(m, NULL, "train", "--steps", steps, "--out", b, "--resume", ckmid, "--quiet", flag_b,
            data_b, NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(same_file(tpath("%s_a/checkpoint.ckpt", name), ck), "%s: checkpoints differ", name);
    char *ma = metrics_sans_seconds(tpath("%s_a/metrics.csv", name));
    char *mb = metrics_sans_seconds(tpath("%s_b/metrics.csv", name));
    cr_assert_str_eq(ma, mb);
    cr_assert_eq(count_lines(ma), atoi(steps) + 1);
    cr_assert(!strncmp(ma, "step,loss_G,loss_DA,loss_DB,cycle\n1,", 35), "%s", ma);
    free(ma);
    free(mb);
    char png[32];
    snprintf(png, sizeof png, "samples/step-%06d.png", atoi(steps));
    cr_assert(same_file(tpath("%s_a/%s", name, png), tpath("%s_b/%s", name, png)));
    /* the run state holds domain B's loader after A's: 8 more words */
    cr_assert_eq(ckpt_blob_size(ck), 8 * (15 + 8));
}

Test(cycle, resume_equals_uninterrupted_run)
{
    assert_cycle_resume(&fake_cycle_model, NULL, "fm", "12", "5");
    /* domain B of 10 images, 2 batches of 4 an epoch: the resumed run
     * starts mid-epoch in B, several epochs in */
    const char *colors = color_dir("cyccolors", 10);
    assert_cycle_resume(&fake_cycle_mix_model, colors, "mix", "9", "5");

    /* the other models' run state keeps its size: their old checkpoints load */
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "2", "--out", tpath("old"),
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_eq(ckpt_blob_size(tpath("old/checkpoint.ckpt")), 8 * 15);
    /* a GAN's checkpoint is not a CycleGAN's, whatever its blob */
    r = cli(&fake_cycle_model, NULL, "train", "--steps", "20", "--out", tpath("fm_b"), "--resume",
            tpath("old/checkpoint.ckpt"), NULL);
    assert_one_error(r, "was written for another spec");
}

/* The spy on a CycleGAN's set_input: slot 0 must hold the next batch of
 * domain A's loader (seeded with the run's seed) and slot 3 that of domain
 * B's (seeded from GENRT_STREAM_DOMAIN_B); no other slot. */
static struct {
    const struct genrt_model *m;
    struct genrt_data a, b;
    float *got[2], *want[2];
    unsigned slots;
    long steps;
    char msg[256];
} cspy;

static void cspy_set_input(int slot, const float *src)
{
    const struct genrt_model *m = cspy.m;
    long n = (long)m->batch;
    if (slot == 0)
        memcpy(cspy.got[0], src, (size_t)(n * m->sample_size) * sizeof *src);
    else if (slot == 3)
        memcpy(cspy.got[1], src, (size_t)(n * m->domain_b->sample_size) * sizeof *src);
    else if (!cspy.msg[0])
        snprintf(cspy.msg, sizeof cspy.msg, "set_input slot %d", slot);
    cspy.slots |= 1u << slot;
    m->set_input(slot, src);
}

static void cspy_train_step(long t, double *metrics)
{
    const struct genrt_model *m = cspy.m;
    if (cspy.slots != 9u && !cspy.msg[0])
        snprintf(cspy.msg, sizeof cspy.msg, "step %ld: slots 0x%x set, not 0x9", t, cspy.slots);
    cspy.slots = 0;
    genrt_data_next_batch(&cspy.a, cspy.want[0], m->batch);
    genrt_data_next_batch(&cspy.b, cspy.want[1], m->batch);
    long size[2] = {m->sample_size, m->domain_b->sample_size};
    for (int d = 0; d < 2; d++)
        if (memcmp(cspy.got[d], cspy.want[d], (size_t)(m->batch * size[d]) * sizeof(float)) &&
            !cspy.msg[0])
            snprintf(cspy.msg, sizeof cspy.msg, "step %ld: slot %d is not domain %c's next batch",
                     t, d ? 3 : 0, d ? 'B' : 'A');
    cspy.steps++;
    m->train_step(t, metrics);
}

Test(cycle, a_step_takes_a_batch_of_each_domain)
{
    const struct genrt_model *m = &fake_cycle_model;
    struct genrt_model mb;
    struct genrt_err err;
    memset(&cspy, 0, sizeof cspy);
    cspy.m = m;
    genrt_data_domain_model(m, GENRT_DOMAIN_B, &mb);
    cr_assert_eq(genrt_data_open(&cspy.a, m, NULL, 42, &err), 0, "%s", err.msg);
    cr_assert_eq(genrt_data_open(&cspy.b, &mb, NULL, genrt_rng_derive(42, GENRT_STREAM_DOMAIN_B),
                                 &err), 0, "%s", err.msg);
    /* the two domains (6000 examples each) are not shuffled alike */
    cr_assert_eq(cspy.a.n, cspy.b.n);
    cr_assert(memcmp(cspy.a.order, cspy.b.order, (size_t)cspy.a.n * sizeof *cspy.a.order));
    for (int d = 0; d < 2; d++) {
        cspy.got[d] = malloc((size_t)m->batch * 784 * sizeof(float));
        cspy.want[d] = malloc((size_t)m->batch * 784 * sizeof(float));
    }
    struct genrt_model s = *m;
    s.set_input = cspy_set_input;
    s.train_step = cspy_train_step;
    struct run *r = cli(&s, NULL, "train", "--steps", "6", "--out", tpath("cspy"), "--quiet",
                        NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_eq(cspy.steps, 6);
    cr_assert_str_empty(cspy.msg, "%s", cspy.msg);
    genrt_data_close(&cspy.a);
    genrt_data_close(&cspy.b);
    for (int d = 0; d < 2; d++) {
        free(cspy.got[d]);
        free(cspy.want[d]);
    }
}

/* The first n examples of a domain's split, in file order (floats). */
static float *domain_examples(const struct genrt_model *m, int dom, const char *path, int split,
                              long n)
{
    struct genrt_model md;
    struct genrt_data d;
    struct genrt_err err;
    genrt_data_domain_model(m, dom, &md);
    cr_assert_eq(genrt_data_open_split(&d, &md, path, split, 1, &err), 0, "%s", err.msg);
    float *x = malloc((size_t)(n * md.sample_size) * sizeof *x);
    cr_assert_eq(genrt_data_read(&d, 0, n, x, NULL), 0);
    genrt_data_close(&d);
    return x;
}

/* m->translate on n examples x of domain dom (n a multiple of the batch). */
static void reference_translate(const struct genrt_model *m, int dom, const float *x, long n,
                                float *out, float *back)
{
    long S = dom ? m->domain_b->sample_size : m->sample_size;
    long T = dom ? m->sample_size : m->domain_b->sample_size;
    cr_assert_eq(n % m->batch, 0);
    for (long i = 0; i < n; i += m->batch)
        m->translate(dom, x + i * S, out + i * T, back + i * S);
}

/* Asserts that cell (r, c) of a grid of 28 x 28 cells holds the w x h x ch
 * image x (range [-1, 1]), centered; gray images in RGB grids fill every
 * channel. */
static void assert_cell(const unsigned char *px, int gw, int comp, int r, int c, const float *x,
                        int ch, int h, int w)
{
    int y0 = 2 + r * 30 + (28 - h) / 2, x0 = 2 + c * 30 + (28 - w) / 2;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
            for (int q = 0; q < comp; q++) {
                int want = to_byte(x[(i * w + j) * ch + (ch == comp ? q : 0)]);
                int got = px[((y0 + i) * gw + x0 + j) * comp + q];
                cr_assert(abs(got - want) <= 1, "cell (%d, %d) pixel (%d, %d, %d): %d, not %d", r,
                          c, i, j, q, got, want);
            }
}

Test(cycle, previews_show_both_domains_both_ways)
{
    const struct genrt_model *m = &fake_cycle_model;
    struct run *r = cli(m, NULL, "train", "--steps", "3", "--out", tpath("pv"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *png = tpath("pv/samples/step-000003.png");
    int gw, gh, comp;
    unsigned char *px = stbi_load(png, &gw, &gh, &comp, 0);
    cr_assert_not_null(px, "%s", stbi_failure_reason());
    cr_assert_eq(comp, 1);
    cr_assert_eq(gw, 6 * 30 + 2); /* a | G(a) | F(G(a)) | b | F(b) | G(F(b)) */
    cr_assert_eq(gh, 8 * 30 + 2); /* the first 8 of each */
    load_float_state(m, tpath("pv/checkpoint.ckpt"));
    static float out[2][16 * 784], back[2][16 * 784];
    float *x[2];
    for (int d = 0; d < 2; d++) {
        x[d] = domain_examples(m, d, NULL, GENRT_SPLIT_TRAIN, 16);
        reference_translate(m, d, x[d], 16, out[d], back[d]);
        for (int row = 0; row < 8; row++) {
            assert_cell(px, gw, 1, row, 3 * d, x[d] + row * 784, 1, 28, 28);
            assert_cell(px, gw, 1, row, 3 * d + 1, out[d] + row * 784, 1, 28, 28);
            assert_cell(px, gw, 1, row, 3 * d + 2, back[d] + row * 784, 1, 28, 28);
        }
        free(x[d]);
    }
    stbi_image_free(px);

    /* domains of other shapes and channels: RGB cells of 28 x 28, the 6 x 8
     * colors in their middle, the gray shoes in all three channels */
    const struct genrt_model *mix = &fake_cycle_mix_model;
    const char *colors = color_dir("pvcolors", 6);
    r = cli(mix, NULL, "train", "--steps", "2", "--out", tpath("pvm"), "--data-b", colors,
            "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    px = stbi_load(tpath("pvm/samples/step-000002.png"), &gw, &gh, &comp, 0);
    cr_assert_not_null(px, "%s", stbi_failure_reason());
    cr_assert_eq(comp, 3);
    cr_assert_eq(gw, 6 * 30 + 2);
    cr_assert_eq(gh, 6 * 30 + 2, "as many rows as the smaller domain has examples");
    load_float_state(mix, tpath("pvm/checkpoint.ckpt"));
    float *a = domain_examples(mix, GENRT_DOMAIN_A, NULL, GENRT_SPLIT_TRAIN, 8);
    float *b6 = domain_examples(mix, GENRT_DOMAIN_B, colors, GENRT_SPLIT_TRAIN, 6);
    float *b = calloc(8 * 144, sizeof *b); /* two batches of 4 */
    memcpy(b, b6, 6 * 144 * sizeof *b);
    free(b6);
    static float ga[8 * 144], fga[8 * 784], fb[8 * 784], gfb[8 * 144];
    reference_translate(mix, GENRT_DOMAIN_A, a, 8, ga, fga);
    reference_translate(mix, GENRT_DOMAIN_B, b, 8, fb, gfb);
    for (int row = 0; row < 6; row++) {
        assert_cell(px, gw, 3, row, 0, a + row * 784, 1, 28, 28);
        assert_cell(px, gw, 3, row, 1, ga + row * 144, 3, 6, 8);
        assert_cell(px, gw, 3, row, 2, fga + row * 784, 1, 28, 28);
        assert_cell(px, gw, 3, row, 3, b + row * 144, 3, 6, 8);
        assert_cell(px, gw, 3, row, 4, fb + row * 784, 1, 28, 28);
        assert_cell(px, gw, 3, row, 5, gfb + row * 144, 3, 6, 8);
    }
    /* white around the small images */
    cr_assert_eq(px[((2 + 1) * gw + 2 + 30 + 1) * 3], 255);
    stbi_image_free(px);
    free(a);
    free(b);
}

Test(cycle, translate_writes_png_and_npy)
{
    const struct genrt_model *m = &fake_cycle_model;
    struct run *r = cli(m, NULL, "train", "--steps", "4", "--out", tpath("tr"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *ck = tpath("tr/checkpoint.ckpt");
    load_float_state(m, ck);
    static float out[2][16 * 784], back[2][16 * 784];
    float *x[2];
    for (int d = 0; d < 2; d++) { /* the first test images of class 7, and of 9 */
        x[d] = domain_examples(m, d, NULL, GENRT_SPLIT_TEST, 16);
        reference_translate(m, d, x[d], 16, out[d], back[d]);
    }

    /* .png: 8 rows of x | G(x) | F(G(x)) by default */
    r = cli(m, NULL, "translate", "--checkpoint", ck, "-o", tpath("t.png"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_str_empty(r->out);
    int gw, gh, comp;
    unsigned char *px = stbi_load(tpath("t.png"), &gw, &gh, &comp, 0);
    cr_assert_not_null(px, "%s", stbi_failure_reason());
    cr_assert(gw == 3 * 30 + 2 && gh == 8 * 30 + 2 && comp == 1, "%dx%dx%d", gw, gh, comp);
    for (int row = 0; row < 8; row++) {
        assert_cell(px, gw, 1, row, 0, x[0] + row * 784, 1, 28, 28);
        assert_cell(px, gw, 1, row, 1, out[0] + row * 784, 1, 28, 28);
        assert_cell(px, gw, 1, row, 2, back[0] + row * 784, 1, 28, 28);
    }
    stbi_image_free(px);
    /* --from B, -n 3: x | F(x) | G(F(x)) */
    r = cli(m, NULL, "translate", "--checkpoint", ck, "--from", "B", "-n", "3", "-o",
            tpath("tb.png"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    px = stbi_load(tpath("tb.png"), &gw, &gh, &comp, 0);
    cr_assert_not_null(px);
    cr_assert(gw == 3 * 30 + 2 && gh == 3 * 30 + 2, "%dx%d", gw, gh);
    for (int row = 0; row < 3; row++) {
        assert_cell(px, gw, 1, row, 0, x[1] + row * 784, 1, 28, 28);
        assert_cell(px, gw, 1, row, 1, out[1] + row * 784, 1, 28, 28);
        assert_cell(px, gw, 1, row, 2, back[1] + row * 784, 1, 28, 28);
    }
    stbi_image_free(px);

    /* .npy: the translations alone, [N, C, H, W], in the data's range;
     * 20 examples take two calls, the second padded */
    r = cli(m, NULL, "translate", "--checkpoint", ck, "-n", "20", "-o", tpath("t.npy"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    float *y = npy_data(tpath("t.npy"), "'shape': (20, 1, 28, 28), }", 20 * 784);
    for (long i = 0; i < 16 * 784; i++)
        cr_assert_eq(y[i], out[0][i], "value %ld", i);
    for (long i = 0; i < 20 * 784; i++)
        cr_assert(y[i] >= -1.0f && y[i] <= 1.0f, "value %ld: %g", i, y[i]);
    free(y);
    r = cli(m, NULL, "translate", "--checkpoint", ck, "--from", "B", "-o", tpath("tb.npy"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    y = npy_data(tpath("tb.npy"), "'shape': (8, 1, 28, 28), }", 8 * 784);
    cr_assert(!memcmp(y, out[1], 8 * 784 * sizeof *y));
    free(y);
    /* --data names domain A's directory, --data-b B's */
    r = cli(m, NULL, "translate", "--checkpoint", ck, "--from", "B", "-o", tpath("tb2.npy"),
            "--data", tpath("nodata"), "--data-b", FMNIST_DIR, "--threads", "1", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(same_file(tpath("tb.npy"), tpath("tb2.npy")));
    free(x[0]);
    free(x[1]);

    /* other shapes: shoes (gray 28 x 28) to colors (RGB 6 x 8) and back */
    const struct genrt_model *mix = &fake_cycle_mix_model;
    const char *colors = color_dir("trcolors", 5);
    r = cli(mix, NULL, "train", "--steps", "2", "--out", tpath("trm"), "--data-b", colors,
            "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *mck = tpath("trm/checkpoint.ckpt");
    load_float_state(mix, mck);
    float *a = domain_examples(mix, GENRT_DOMAIN_A, NULL, GENRT_SPLIT_TEST, 8);
    static float ga[8 * 144], fga[8 * 784];
    reference_translate(mix, GENRT_DOMAIN_A, a, 8, ga, fga);
    r = cli(mix, NULL, "translate", "--checkpoint", mck, "--from", "shoes", "-n", "6", "-o",
            tpath("m.npy"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    y = npy_data(tpath("m.npy"), "'shape': (6, 3, 6, 8), }", 6 * 144);
    for (int k = 0; k < 6; k++) /* CHW in the file, HWC in memory */
        for (int ch = 0; ch < 3; ch++)
            for (int p = 0; p < 48; p++)
                cr_assert_eq(y[(k * 3 + ch) * 48 + p], ga[k * 144 + p * 3 + ch]);
    free(y);
    free(a);
    r = cli(mix, NULL, "translate", "--checkpoint", mck, "--from", "colors", "--data-b", colors,
            "-o", tpath("mc.npy"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err); /* 5 of the default 8: all there are */
    y = npy_data(tpath("mc.npy"), "'shape': (5, 1, 28, 28), }", 5 * 784);
    free(y);
    r = cli(mix, NULL, "translate", "--checkpoint", mck, "--from", "colors", "--data-b", colors,
            "-o", tpath("mc.png"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    png_info(tpath("mc.png"), &gw, &gh, &comp);
    cr_assert(gw == 3 * 30 + 2 && gh == 5 * 30 + 2 && comp == 2, "%dx%d color %d", gw, gh, comp);
}

Test(cycle, translate_errors_are_one_line)
{
    const struct genrt_model *m = &fake_cycle_model;
    struct run *r = cli(m, NULL, "train", "--steps", "1", "--out", tpath("te"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *ck = tpath("te/checkpoint.ckpt");
    const char *o = tpath("x.png");
    assert_one_error(cli(m, NULL, "translate", "--checkpoint", ck, "--from", "C", "-o", o, NULL),
                     "translate: --from C: no such domain (the model's domains are A and B)");
    assert_one_error(cli(m, NULL, "translate", "--checkpoint", ck, "-o", tpath("x.csv"), NULL),
                     "x.csv: unknown format (the name must end in .png or .npy)");
    assert_one_error(cli(m, NULL, "translate", "--checkpoint", ck, "-o", tpath("png"), NULL),
                     "unknown format");
    assert_one_error(cli(m, NULL, "translate", "--checkpoint", ck, "-n", "1001", "-o", o, NULL),
                     "translate: -n 1001, but the test split of domain A has only 1000 examples "
                     "of class 7");
    assert_one_error(cli(m, NULL, "translate", "--checkpoint", ck, "--from", "B", "-n", "1001",
                         "-o", o, NULL),
                     "the test split of domain B has only 1000 examples of class 9");
    assert_one_error(cli(m, NULL, "translate", "-o", o, NULL), "translate: missing --checkpoint");
    assert_one_error(cli(m, NULL, "translate", "--checkpoint", ck, NULL),
                     "translate: missing -o FILE");
    assert_one_error(cli(m, NULL, "translate", "--checkpoint", tpath("none.ckpt"), "-o", o, NULL),
                     "none.ckpt: no such file");
    assert_one_error(cli(m, NULL, "translate", "--checkpoint", ck, "--from", "B", "-o", o,
                         "--data-b", tpath("nodata"), NULL),
                     "translate: ");
    assert_one_error(cli(m, NULL, "translate", "--checkpoint", ck, "--label", "1", "-o", o, NULL),
                     "translate: unknown flag '--label'");
    r = cli(&fake_model, NULL, "train", "--steps", "1", "--out", tpath("teg"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    assert_one_error(cli(m, NULL, "translate", "--checkpoint", tpath("teg/checkpoint.ckpt"), "-o",
                         o, NULL), "was written for another spec");
    cr_assert(!file_exists(o) && !file_exists(tpath("x.csv")));

    /* the commands of other models */
    assert_one_error(cli(m, NULL, "sample", "--checkpoint", ck, "-o", o, NULL),
                     "sample: this model is a CycleGAN, which translates images and has no "
                     "latent space to sample from; use translate --from A|B");
    assert_one_error(cli(m, NULL, "eval", "--checkpoint", ck, NULL),
                     "eval: this model is a CycleGAN; eval is for VAEs and classifiers only");
    assert_one_error(cli(m, NULL, "reconstruct", NULL),
                     "reconstruct: this model is a CycleGAN; reconstruct is for VAEs only");
    assert_one_error(cli(&fake_model, NULL, "translate", NULL),
                     "translate: this model is a GAN; translate is for CycleGANs only");
    assert_one_error(cli(&fake_vae_model, NULL, "translate", NULL),
                     "translate: this model is a VAE; translate is for CycleGANs only");
    assert_one_error(cli(&fake_model, NULL, "train", "--data-b", "x", NULL),
                     "train: --data-b is for models with two domains only, and this model is not one");
    cr_assert(!file_exists(o));

    /* domain B's data: none given, too few, unreadable; nothing written */
    const struct genrt_model *mix = &fake_cycle_mix_model;
    assert_one_error(cli(mix, NULL, "train", "--out", tpath("never"), NULL),
                     "no data directory given for domain colors (use --data-b DIR)");
    assert_one_error(cli(mix, NULL, "gradcheck", NULL),
                     "no data directory given for domain colors (use --data-b DIR)");
    const char *three = color_dir("tecolors", 3);
    assert_one_error(cli(mix, NULL, "train", "--out", tpath("never"), "--data-b", three, NULL),
                     "train: the data set of domain colors has 3 examples, fewer than one batch "
                     "of 4");
    assert_one_error(cli(mix, NULL, "train", "--out", tpath("never"), "--data-b", tpath("nodir"),
                         NULL), "nodir: no such directory");
    struct genrt_model a = fake_cycle_mix_model;
    a.data_path = three;
    a.data_kind = GENRT_DATA_IMAGES;
    a.data_class = -1;
    assert_one_error(cli(&a, NULL, "train", "--out", tpath("never"), "--data-b", three, NULL),
                     "/tecolors/000.png: 3 channels (RGB), but the spec wants 1 (gray)");
    cr_assert(!file_exists(tpath("never")));
}

/* The spy on gc_set_input: which slots were set, and slot 3's rows. */
static void (*cycle_gc_set_input)(int slot, const float *src);
static float gc_rows_b[4 * 784];

static void spy_cycle_gc_set_input(int slot, const float *src)
{
    if (slot == 3)
        memcpy(gc_rows_b, src, sizeof gc_rows_b);
    gc_slots |= 1u << slot;
    cycle_gc_set_input(slot, src);
}

Test(cycle, gradcheck_bench_and_help)
{
    struct genrt_model g = fake_cycle_model_f64;
    cycle_gc_set_input = g.gc_set_input;
    g.gc_set_input = spy_cycle_gc_set_input;
    gc_slots = 0;
    struct run *r = cli(&fake_cycle_model, &g, "gradcheck", NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);
    cr_assert_not_null(strstr(r->out, "gradcheck: loss_G: 96 entries of 4 tensors"), "%s", r->out);
    cr_assert_not_null(strstr(r->out, "gradcheck: loss_DA: 9 entries of 2 tensors"), "%s", r->out);
    cr_assert_not_null(strstr(r->out, "gradcheck: loss_DB: 9 entries of 2 tensors"), "%s", r->out);
    cr_assert_not_null(strstr(r->out, "(tolerance 1e-06): ok\n"), "%s", r->out);
    cr_assert_eq(gc_slots, 9u, "slots 0x%x", gc_slots);
    /* slot 3: the first gc batch of domain B's loader */
    struct genrt_model mb;
    struct genrt_data d;
    struct genrt_err err;
    static float want[4 * 784];
    genrt_data_domain_model(&g, GENRT_DOMAIN_B, &mb);
    cr_assert_eq(genrt_data_open(&d, &mb, NULL, genrt_rng_derive(42, GENRT_STREAM_DOMAIN_B),
                                 &err), 0, "%s", err.msg);
    genrt_data_next_batch(&d, want, 4);
    genrt_data_close(&d);
    cr_assert(!memcmp(gc_rows_b, want, sizeof want));
    r = cli(&fake_cycle_model, NULL, "gradcheck", "--seed", "3", NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);
    cr_assert_not_null(strstr(r->out, "(tolerance 2e-02): ok\n"), "%s", r->out);
    const char *colors = color_dir("gccolors", 4);
    r = cli(&fake_cycle_mix_model, &fake_cycle_mix_model_f64, "gradcheck", "--data-b", colors,
            NULL);
    cr_assert_eq(r->rc, 0, "%s%s", r->out, r->err);
    r = cli(&fake_cycle_mix_model, &fake_cycle_mix_model_f64, "gradcheck", "--data-b",
            color_dir("gcfew", 3), NULL);
    assert_one_error(r, "gradcheck: the data set of domain colors has fewer than 4 examples");

    r = cli(&fake_cycle_model, NULL, "bench", "--steps", "3", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_not_null(strstr(r->out, "ms/step over 3 steps"), "%s", r->out);
    r = cli(&fake_cycle_mix_model, NULL, "bench", "--steps", "2", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);

    r = cli(&fake_cycle_model, NULL, "--help", NULL);
    cr_assert_eq(r->rc, 0);
    const char *want_help[] = {
        "Trains the CycleGAN \"fake_cycle\"", "\n  translate --checkpoint CKPT [--from DOMAIN] "
        "[-n N] -o FILE [--data PATH] [--data-b PATH]", "[--data-b PATH]", "\n  --data-b PATH ",
        "\n  --from DOMAIN ", "(fashion_mnist, class 7)", "(fashion_mnist, class 9)",
        "domains A (--data) and B (--data-b)", "train", "gradcheck", "bench"};
    for (size_t i = 0; i < sizeof want_help / sizeof want_help[0]; i++)
        cr_assert_not_null(strstr(r->out, want_help[i]), "'%s' not in help: %s", want_help[i],
                           r->out);
    const char *unwanted[] = {"\n  sample", "--label", "eval", "reconstruct", "latent"};
    for (size_t i = 0; i < sizeof unwanted / sizeof unwanted[0]; i++)
        cr_assert_null(strstr(r->out, unwanted[i]), "'%s' in help: %s", unwanted[i], r->out);
    r = cli(&fake_cycle_model, NULL, "translate", "--help", NULL);
    cr_assert_eq(r->rc, 0);
    const struct genrt_model *others[] = {&fake_model, &fake_image_model, &fake_vae_model};
    for (int i = 0; i < 3; i++) {
        r = cli(others[i], NULL, "--help", NULL);
        cr_assert_eq(r->rc, 0);
        cr_assert_null(strstr(r->out, "translate"), "%s", r->out);
        cr_assert_null(strstr(r->out, "--data-b"), "%s", r->out);
        cr_assert_null(strstr(r->out, "--from"), "%s", r->out);
        cr_assert_null(strstr(r->out, "domain"), "%s", r->out);
    }
}

Test(cycle, model_check_wants_domains_and_translate)
{
    struct genrt_model m = fake_cycle_model;
    m.translate = NULL;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: neither generate, translate nor classify");
    m = fake_cycle_model;
    m.domain_b = NULL;
    assert_one_error(cli(&fake_cycle_model, &m, "bench", NULL),
                     "double-precision model error: translate without domain_a or domain_b");
    m = fake_cycle_model;
    m.domain_a = NULL;
    assert_one_error(cli(&m, NULL, "--help", NULL),
                     "model error: a domain_b without domain_a or domain_b->name");
    /* a generator beside translate: sample and translate both, previews by generate */
    m = fake_cycle_model;
    m.latent_dim = 4;
    m.generate = fake_model.generate;
    struct run *r = cli(&m, NULL, "--help", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(strstr(r->out, "\n  sample ") && strstr(r->out, "\n  translate "), "%s", r->out);
    m.latent_dim = 0;
    assert_one_error(cli(&m, NULL, "bench", NULL), "model error: generate with latent_dim 0");
    m = fake_cycle_model;
    m.latent_batches = 2;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: real_batches 1, latent_batches 2, latent_dim 0 (real_batches "
                     "must be at least 1, latent_batches at least 0, and latent batches need a "
                     "latent)");
    m = fake_cycle_model;
    m.n_classes = 10;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: translate takes no labels, but the model has 10 classes");
    m = fake_cycle_model;
    m.real_batches = 0;
    assert_one_error(cli(&m, NULL, "bench", NULL), "model error: real_batches 0, latent_batches 0");
    struct genrt_domain b = *fake_cycle_model.domain_b;
    b.sample_size = 100;
    m = fake_cycle_model;
    m.domain_b = &b;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: domain B has images 1x28x28 but sample_size 100");
    b = *fake_cycle_model.domain_b;
    b.data_kind = GENRT_DATA_RING8;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: domain B is ring8 data of 1x28x28, not images");
    b = *fake_cycle_model.domain_b;
    b.img_c = 2;
    b.sample_size = 2 * 28 * 28;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: domain B is fashion_mnist data of 2x28x28, not images");
    m = fake_cycle_model;
    m.sample_size = 10;
    assert_one_error(cli(&m, NULL, "bench", NULL),
                     "model error: domain A has images 1x28x28 but sample_size 10");
    /* the objective field is not what the runtime goes by */
    m = fake_cycle_model;
    m.objective = GENRT_OBJ_GAN;
    r = cli(&m, NULL, "sample", NULL);
    assert_one_error(r, "sample: this model is a CycleGAN, which translates images");
    m = fake_image_model;
    m.objective = GENRT_OBJ_CYCLEGAN;
    r = cli(&m, NULL, "translate", NULL);
    assert_one_error(r, "translate: this model is a GAN; translate is for CycleGANs only");
}

/* ---------------------------------------------------------- reliability */

Test(nonfinite, stop_says_where_and_keeps_the_last_good_checkpoint)
{
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "5", "--out", tpath("ref5"),
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    r = cli(&fake_model, NULL, "train", "--steps", "10", "--out", tpath("ref10"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);

    /* a loss: the run stops at once, step 5's checkpoint stays */
    struct genrt_model m = faulty(&fake_model, 5);
    fault.nan_metric_at = 7;
    const char *ck = tpath("s/checkpoint.ckpt");
    r = cli(&m, NULL, "train", "--steps", "20", "--out", tpath("s"), "--quiet", NULL);
    char want[600];
    snprintf(want, sizeof want, "train: step 7: loss_D is nan; stopped (%s keeps step 5, the last "
             "good one; --on-nonfinite skip would undo such steps)", ck);
    assert_one_error(r, want);
    cr_assert(same_file(ck, tpath("ref5/checkpoint.ckpt")));
    char *csv = metrics_sans_seconds(tpath("s/metrics.csv"));
    cr_assert_eq(count_lines(csv), 7, "%s", csv); /* the header and steps 1-6 */
    cr_assert_null(strstr(csv, "nan"), "%s", csv);
    free(csv);

    /* a parameter, found before the checkpoint that would have held it */
    m = faulty(&fake_model, 5);
    fault.poison_at = 10;
    r = cli(&m, NULL, "train", "--steps", "20", "--out", tpath("p"), "--quiet", NULL);
    snprintf(want, sizeof want, "train: step 10: G.weight[0] is nan; stopped (%s keeps step 5",
             tpath("p/checkpoint.ckpt"));
    assert_one_error(r, want);
    cr_assert(same_file(tpath("p/checkpoint.ckpt"), tpath("ref5/checkpoint.ckpt")));
    /* before any checkpoint: none is written, and a resumed run's own
     * checkpoint stays as it was */
    m = faulty(&fake_model, 100);
    fault.nan_metric_at = 3;
    r = cli(&m, NULL, "train", "--steps", "20", "--out", tpath("n"), "--quiet", NULL);
    assert_one_error(r, "train: step 3: loss_D is nan; stopped before this run saved a checkpoint");
    cr_assert(!file_exists(tpath("n/checkpoint.ckpt")));
    fault.nan_metric_at = 12;
    r = cli(&m, NULL, "train", "--steps", "20", "--out", tpath("ref10"), "--resume",
            tpath("ref10/checkpoint.ckpt"), "--quiet", NULL);
    assert_one_error(r, "train: step 12: loss_D is nan; stopped before this run saved");
    cr_assert_eq(ckpt_step(tpath("ref10/checkpoint.ckpt")), 10);
    /* inf counts too, and a state that the last step leaves NaN */
    m = faulty(&fake_model, 100);
    fault.poison_at = 8;
    r = cli(&m, NULL, "train", "--steps", "8", "--out", tpath("l"), "--quiet", NULL);
    assert_one_error(r, "train: step 8: G.weight[0] is nan; stopped before this run saved");
    cr_assert(!file_exists(tpath("l/checkpoint.ckpt")));
    assert_one_error(cli(&fake_model, NULL, "train", "--on-nonfinite", "drop", NULL),
                     "train: --on-nonfinite expects stop, skip or ignore, got 'drop'");
}

Test(nonfinite, skip_undoes_the_step_and_goes_on)
{
    /* a run whose step 7 was never taken, and one whose step 7 went NaN and
     * was skipped: the same bytes, but for the row of step 7 */
    struct genrt_model m = faulty(&fake_model, 100);
    fault.no_step_at = 7;
    struct run *r = cli(&m, NULL, "train", "--steps", "20", "--out", tpath("none"), "--quiet",
                        NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    m = faulty(&fake_model, 100);
    fault.nan_metric_at = 7;
    fault.poison_at = 7;
    r = cli(&m, NULL, "train", "--steps", "20", "--out", tpath("skip"), "--quiet",
            "--on-nonfinite", "skip", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_str_eq(r->err, "fake: warning: step 7: loss_D is nan; step skipped (its update "
                             "undone)\n");
    cr_assert(same_file(tpath("none/checkpoint.ckpt"), tpath("skip/checkpoint.ckpt")));
    char *a = metrics_sans_seconds(tpath("none/metrics.csv"));
    char *b = metrics_sans_seconds(tpath("skip/metrics.csv"));
    char *row7 = strstr(a, "\n7,") + 1;
    char *row8 = strstr(a, "\n8,") + 1;
    memmove(row7, row8, strlen(row8) + 1);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    /* a parameter alone (the metrics finite) is caught after the step too */
    m = faulty(&fake_model, 100);
    fault.poison_at = 4;
    r = cli(&m, NULL, "train", "--steps", "6", "--out", tpath("skip2"), "--quiet",
            "--on-nonfinite", "skip", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_not_null(strstr(r->err, "warning: step 4: G.weight[0] is nan; step skipped"),
                       "%s", r->err);
    /* a run that cannot take a step any more stops */
    m = faulty(&fake_model, 10);
    fault.nan_metric_from = 13;
    r = cli(&m, NULL, "train", "--steps", "1000", "--out", tpath("skip3"), "--quiet",
            "--on-nonfinite", "skip", NULL);
    cr_assert_eq(r->rc, 1);
    cr_assert_not_null(strstr(r->err, "fake: error: train: step 112: loss_D is nan; stopped after "
                              "100 steps in a row that were not finite (the last good checkpoint "
                              "is kept)\n"), "%s", r->err);
    cr_assert_not_null(strstr(r->err, "warning: step 22: loss_D is nan"), "%s", r->err);
    cr_assert_null(strstr(r->err, "warning: step 23:"), "%s", r->err); /* ten warnings at most */
    cr_assert_eq(ckpt_step(tpath("skip3/checkpoint.ckpt")), 110); /* skipped steps still count */
}

Test(nonfinite, ignore_trains_on_but_never_saves_a_non_finite_state)
{
    struct genrt_model m = faulty(&fake_model, 5);
    fault.nan_metric_at = 3;
    struct run *r = cli(&m, NULL, "train", "--steps", "6", "--out", tpath("i"), "--quiet",
                        "--on-nonfinite", "ignore", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    char *csv = metrics_sans_seconds(tpath("i/metrics.csv"));
    cr_assert_not_null(strstr(csv, "\n3,nan,"), "%s", csv);
    free(csv);

    m = faulty(&fake_model, 5);
    fault.poison_at = 12;
    fault.poison_sticks = 1;
    r = cli(&m, NULL, "train", "--steps", "20", "--out", tpath("j"), "--quiet", "--on-nonfinite",
            "ignore", NULL);
    cr_assert_eq(r->rc, 1);
    cr_assert_str_eq(r->err,
                     "fake: warning: step 15: G.weight[0] is nan; checkpoint not saved (the last "
                     "good one is kept)\n"
                     "fake: error: train: step 20: G.weight[0] is nan; its checkpoint was not "
                     "saved (the last good one is kept)\n");
    cr_assert_eq(ckpt_step(tpath("j/checkpoint.ckpt")), 10);
    /* and genrt_ckpt_save itself refuses */
    float state[4] = {1, 2, NAN, 4};
    struct genrt_ckpt c = {.shape_hash = 1, .real_size = 4, .step = 1, .n_state = 4,
                           .state = state};
    struct genrt_err err;
    cr_assert_eq(genrt_ckpt_save(tpath("nan.ckpt"), &c, &err), -1);
    cr_assert_not_null(strstr(err.msg, "nan.ckpt: not saved: state value 2 is nan"), "%s",
                       err.msg);
    cr_assert(!file_exists(tpath("nan.ckpt")));
}

Test(cli, fresh_train_refuses_a_directory_that_holds_a_checkpoint)
{
    const char *d = tpath("used"), *ck = tpath("used/checkpoint.ckpt");
    const char *mc = tpath("used/metrics.csv");
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "10", "--out", d, "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    size_t nck, nm;
    unsigned char *ck0 = slurp(ck, &nck), *m0 = slurp(mc, &nm);
    char want[600];
    snprintf(want, sizeof want, "train: %s already holds a checkpoint; continue that run with "
             "--resume %s, or start afresh over it with --force", d, ck);
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", "5", "--out", d, NULL), want);
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", "20", "--out", d, "--force",
                         "--resume", ck, NULL),
                     "train: --resume continues a run and --force starts one afresh: give one of "
                     "them");

    /* --force: the old files stay until the new run's first checkpoint ... */
    struct genrt_model m = faulty(&fake_model, 5);
    fault.check_at = 4;
    fault.check_path = mc;
    fault.check_bytes = m0;
    fault.check_len = nm;
    r = cli(&m, NULL, "train", "--steps", "7", "--out", d, "--force", "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_str_empty(fault.msg, "%s", fault.msg);
    cr_assert_eq(ckpt_step(ck), 7);
    char *csv = metrics_sans_seconds(mc);
    cr_assert_eq(count_lines(csv), 8, "%s", csv);
    free(csv);
    /* ... and a --force run that fails before it leaves them as they were */
    spit(ck, ck0, nck);
    spit(mc, m0, nm);
    m = faulty(&fake_model, 5);
    fault.nan_metric_at = 3;
    r = cli(&m, NULL, "train", "--steps", "7", "--out", d, "--force", "--quiet", NULL);
    assert_one_error(r, "step 3: loss_D is nan");
    size_t n1, n2;
    unsigned char *ck1 = slurp(ck, &n1), *m1 = slurp(mc, &n2);
    cr_assert(n1 == nck && !memcmp(ck0, ck1, nck), "checkpoint.ckpt was replaced");
    cr_assert(n2 == nm && !memcmp(m0, m1, nm), "metrics.csv was replaced");
    cr_assert_eq(count_temps(d), 0);
    free(ck0);
    free(ck1);
    free(m0);
    free(m1);
}

/* ---------------------------------------------------------------- signals */

static void assert_interrupted(int sig, int status, const char *name)
{
    const char *d = tpath("sig%d", sig);
    const char *ck = tpath("sig%d/checkpoint.ckpt", sig);
    struct genrt_model m = faulty(&fake_model, 100);
    fault.raise_at = 7;
    fault.raise_sig = sig;
    struct run *r = cli(&m, NULL, "train", "--steps", "20", "--out", d, "--quiet", NULL);
    cr_assert_eq(r->rc, status, "%s: exit %d: %s", name, r->rc, r->err);
    char want[600];
    snprintf(want, sizeof want, "fake: %s after step 7; checkpoint %s (continue with --resume "
             "%s)\n", name, ck, ck);
    cr_assert_str_eq(r->err, want);
    cr_assert_eq(ckpt_step(ck), 7);
    /* the handlers are the caller's again */
    struct sigaction sa;
    sigaction(sig, NULL, &sa);
    cr_assert(sa.sa_handler == SIG_DFL, "%s is still caught", name);
    /* and the run goes on as if never stopped */
    r = cli(&fake_model, NULL, "train", "--steps", "20", "--out", d, "--resume", ck, "--quiet",
            NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert(same_file(ck, tpath("ref/checkpoint.ckpt")), "%s: the resumed run differs", name);
    assert_same_metrics(tpath("ref/metrics.csv"), tpath("sig%d/metrics.csv", sig));
}

Test(signals, end_the_step_save_and_exit_128_plus_the_signal)
{
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "20", "--out", tpath("ref"),
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    assert_interrupted(SIGINT, 130, "SIGINT");
    assert_interrupted(SIGTERM, 143, "SIGTERM");
    assert_interrupted(SIGHUP, 129, "SIGHUP");
    /* an ignored signal stays ignored (nohup) */
    signal(SIGHUP, SIG_IGN);
    struct genrt_model m = faulty(&fake_model, 100);
    fault.raise_at = 3;
    fault.raise_sig = SIGHUP;
    r = cli(&m, NULL, "train", "--steps", "6", "--out", tpath("nohup"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_eq(ckpt_step(tpath("nohup/checkpoint.ckpt")), 6);
    signal(SIGHUP, SIG_DFL);
}

Test(signals, a_second_sigint_exits_at_once_and_touches_no_checkpoint)
{
    const char *d = tpath("twice"), *ck = tpath("twice/checkpoint.ckpt");
    struct genrt_model m = faulty(&fake_model, 4);
    fault.raise_at = 6;
    fault.raise_sig = SIGINT;
    fault.raise_twice = 1;
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        cli(&m, NULL, "train", "--steps", "20", "--out", d, "--quiet", NULL);
        _exit(0); /* not reached: the second SIGINT exits */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 130, "status 0x%x", status);
    cr_assert_eq(ckpt_step(ck), 4); /* step 6 was not saved */
    cr_assert_eq(count_temps(d), 0);
    /* the next run in the directory goes on from step 4 */
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "8", "--out", d, "--resume", ck,
                        "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
}

/* ------------------------------------------------------ files, leftovers */

Test(files, a_killed_runs_temporaries_are_removed_by_the_next_run)
{
    const char *d = tpath("left");
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "3", "--out", d, "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    const char *stale[] = {"left/checkpoint.ckpt.tmp.a1B2c3", "left/metrics.csv.tmp.ZZZZZZ",
                           "left/samples/step-000100.png.tmp.q0q0q0"};
    const char *others[] = {"left/notes.tmp.abcdef", "left/checkpoint.ckpt.tmp.toolong",
                            "left/checkpoint.ckpt.tmp.ab-cde", "left/samples/x.png.tmp.abcdef"};
    for (size_t i = 0; i < 3; i++)
        spit(tpath("%s", stale[i]), "x", 1);
    for (size_t i = 0; i < 4; i++)
        spit(tpath("%s", others[i]), "y", 1);
    r = cli(&fake_model, NULL, "train", "--steps", "6", "--out", d, "--resume",
            tpath("left/checkpoint.ckpt"), NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    char want[600];
    snprintf(want, sizeof want, "fake: removed 3 temporary files a killed run left in %s\n", d);
    cr_assert(!strncmp(r->err, want, strlen(want)), "%s", r->err);
    for (size_t i = 0; i < 3; i++)
        cr_assert(!file_exists(tpath("%s", stale[i])), "%s is still there", stale[i]);
    for (size_t i = 0; i < 4; i++)
        cr_assert(file_exists(tpath("%s", others[i])), "%s was removed", others[i]);
}

Test(files, a_second_trainer_in_the_same_directory_is_refused)
{
    const char *d = tpath("busy");
    cr_assert_eq(mkdir(d, 0777), 0);
    int fd = open(d, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(fd, 0);
    fflush(NULL);
    pid_t pid = fork(); /* flock locks are per open file: another process holds this one */
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        flock(fd, LOCK_EX);
        sleep(30);
        _exit(0);
    }
    close(fd); /* the child's copy holds the lock, until it dies */
    for (int i = 0; i < 1000; i++) { /* until the child holds it */
        int probe = open(d, O_RDONLY | O_DIRECTORY);
        int free_now = flock(probe, LOCK_EX | LOCK_NB) == 0;
        close(probe);
        if (!free_now)
            break;
        usleep(1000);
    }
    char want[600];
    snprintf(want, sizeof want, "train: another trainer is writing to %s (wait for it to end, or "
             "give another --out)", d);
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", "3", "--out", d, NULL), want);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "3", "--out", d, "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
}

/* Runs `train ARGS` for m in a child whose files may not grow beyond
 * limit bytes; its exit status, and its stderr in err. */
static int train_limited(const struct genrt_model *m, rlim_t limit, char *err, size_t n,
                         const char *steps, const char *dir, const char *resume)
{
    const char *errfile = tpath("limited.err");
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        dup2(fd, 2);
        struct rlimit rl = {limit, limit};
        setrlimit(RLIMIT_FSIZE, &rl);
        char *argv[] = {"fake", "train", "--steps", (char *)steps, "--out", (char *)dir,
                        "--quiet", resume ? "--resume" : NULL, (char *)resume, NULL};
        _exit(genrt_main(m, NULL, resume ? 9 : 7, argv));
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    size_t len;
    char *e = (char *)slurp(errfile, &len);
    snprintf(err, n, "%s", e);
    free(e);
    cr_assert(WIFEXITED(status), "killed by signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

Test(files, a_file_too_large_is_a_write_error_that_names_it)
{
    /* the fake image model's checkpoint is 50 KB */
    const char *d = tpath("big"), *ck = tpath("big/checkpoint.ckpt");
    struct run *r = cli(&fake_image_model, NULL, "train", "--steps", "2", "--out", d, "--quiet",
                        NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    size_t n0;
    unsigned char *ck0 = slurp(ck, &n0);
    cr_assert_gt(n0, 40000);
    char err[4096], want[600];
    int rc = train_limited(&fake_image_model, 20000, err, sizeof err, "4", d, ck);
    /* the last step's preview comes first, and it is the file that fails */
    snprintf(want, sizeof want, "fake: error: %s/samples/step-000004.png: cannot write: File too "
             "large\n", d);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert_str_eq(err, want);
    /* the checkpoint, of step 3 of 4, when no preview is due */
    struct genrt_model every = fake_image_model;
    every.checkpoint_every = 1;
    rc = train_limited(&every, 20000, err, sizeof err, "4", d, ck);
    snprintf(want, sizeof want, "fake: error: %s: cannot write: File too large\n", ck);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert_str_eq(err, want);
    size_t n1;
    unsigned char *ck1 = slurp(ck, &n1);
    cr_assert(n1 == n0 && !memcmp(ck0, ck1, n0), "the old checkpoint did not survive");
    cr_assert_eq(count_temps(d), 0);
    free(ck0);
    free(ck1);
    /* the library call alone */
    static char big[30000];
    struct genrt_err e;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {20000, 20000};
        setrlimit(RLIMIT_FSIZE, &rl);
        int bad = genrt_file_write_all(tpath("big/x.bin"), big, sizeof big, &e);
        _exit(bad && strstr(e.msg, "x.bin: cannot write: File too large") ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
    cr_assert(!file_exists(tpath("big/x.bin")));
    cr_assert_eq(count_temps(d), 0);
}

/* ---------------------------------------------------- forged checkpoints */

Test(ckpt, forged_files_get_a_clear_error)
{
    struct run *r = cli(&fake_model, NULL, "train", "--steps", "4", "--out", tpath("f"), "--quiet",
                        NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    size_t n;
    unsigned char *b0 = slurp(tpath("f/checkpoint.ckpt"), &n), *b = malloc(n + 1000);
    const char *p = tpath("forged.ckpt");
    long state = 40, blob = state + 4 * fake_model.n_state + 8;
#define FORGE() memcpy(b, b0, n)
    /* a step beyond any run */
    FORGE();
    put_le64(b + 24, 1ull << 63);
    spit_ckpt(p, b, n);
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", "20", "--resume", p, "--out",
                         tpath("g"), NULL),
                     "forged.ckpt: corrupt (step 9223372036854775808; no run is longer than "
                     "1000000000000 steps)");
    /* non-finite values, named with their index */
    float v = NAN;
    FORGE();
    memcpy(b + state + 4 * 3, &v, 4);
    spit_ckpt(p, b, n);
    char want[300];
    snprintf(want, sizeof want, "forged.ckpt: corrupt (state value 3 of %ld is nan; a genc "
             "checkpoint holds finite values only)", fake_model.n_state);
    assert_one_error(cli(&fake_model, NULL, "sample", "--checkpoint", p, "-o", tpath("x.csv"),
                         NULL), want);
    v = -INFINITY;
    FORGE();
    memcpy(b + state + 4 * 7, &v, 4);
    spit_ckpt(p, b, n);
    assert_one_error(cli(&fake_model, NULL, "sample", "--checkpoint", p, "-o", tpath("x.csv"),
                         NULL), "state value 7 of");
    assert_one_error(cli(&fake_model, NULL, "sample", "--checkpoint", p, "-o", tpath("x.csv"),
                         NULL), "is -inf");
    /* sizes: longer than the model's own checkpoint, or a run state of
     * another size, before the file is read */
    FORGE();
    memset(b + n, 0, 1000);
    spit_ckpt(p, b, n + 1000);
    snprintf(want, sizeof want, "forged.ckpt: corrupt (%zu bytes, a checkpoint of this model has "
             "%zu)", n + 1000, n);
    assert_one_error(cli(&fake_model, NULL, "sample", "--checkpoint", p, "-o", tpath("x.csv"),
                         NULL), want);
    FORGE();
    put_le64(b + blob - 8, 8 * 14);
    spit_ckpt(p, b, n - 8);
    assert_one_error(cli(&fake_model, NULL, "sample", "--checkpoint", p, "-o", tpath("x.csv"),
                         NULL), "truncated");
    /* run states that no run has: a zero latent stream, a zero ring8
     * stream, a cached normal that is NaN */
    FORGE();
    memset(b + blob + 8, 0, 32);
    spit_ckpt(p, b, n);
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", "20", "--resume", p, "--out",
                         tpath("g"), NULL), "forged.ckpt: corrupt (bad RNG state)");
    FORGE();
    memset(b + blob + 8 + 48 + 16, 0, 32);
    spit_ckpt(p, b, n);
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", "20", "--resume", p, "--out",
                         tpath("g"), NULL),
                     "the ring8 stream's state is all zeros, which no seed gives");
    double dn = NAN;
    FORGE();
    put_le64(b + blob + 8 + 32, 1);
    memcpy(b + blob + 8 + 40, &dn, 8);
    spit_ckpt(p, b, n);
    assert_one_error(cli(&fake_model, NULL, "train", "--steps", "20", "--resume", p, "--out",
                         tpath("g"), NULL), "forged.ckpt: corrupt (bad RNG state)");
    cr_assert(!file_exists(tpath("g")) && !file_exists(tpath("x.csv")));
#undef FORGE
    free(b);
    free(b0);
}

/* ----------------------------------------------------------------- report */

/* A chart of n points of ns series, as SVG text (malloc'd). */
static char *chart_of(long n, const double *x, const double *y, int ns, int n_marks,
                      const double *marks)
{
    static const char *const names[] = {"loss_D", "loss_G", "third"};
    struct genrt_report_series se[3];
    for (int s = 0; s < ns; s++)
        se[s] = (struct genrt_report_series){names[s], y + s, ns};
    struct genrt_report_chart c = {"Losses", "step", "loss", n, x, 1, ns, se, n_marks, marks};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    genrt_report_chart_svg(f, &c);
    fclose(f);
    return buf;
}

static int count_of(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* The d attribute of the k-th series path. */
static char *series_path(const char *svg, int k)
{
    const char *p = svg;
    for (int i = 0; i <= k; i++) {
        p = strstr(p, "<path class=\"series\"");
        cr_assert_not_null(p, "no series path %d in %s", k, svg);
        p++;
    }
    p = strstr(p, " d=\"") + 4;
    size_t n = strcspn(p, "\"");
    char *d = malloc(n + 1);
    memcpy(d, p, n);
    d[n] = 0;
    return d;
}

Test(report, chart_has_axes_ticks_labels_legend_and_marks)
{
    double x[50], y[100], mark = 25;
    for (int i = 0; i < 50; i++) {
        x[i] = i + 1;
        y[2 * i] = 1.0 + 0.01 * i;
        y[2 * i + 1] = 2.0 - 0.02 * i;
    }
    char *svg = chart_of(50, x, y, 2, 1, &mark);
    cr_assert(!strncmp(svg, "<svg class=\"chart\"", 18), "%.80s", svg);
    cr_assert_not_null(strstr(svg, "</svg>\n"));
    cr_assert_not_null(strstr(svg, "<g class=\"axis x\""));
    cr_assert_not_null(strstr(svg, "<g class=\"axis y\""));
    cr_assert_not_null(strstr(svg, ">step</text>"), "no x label");
    cr_assert_not_null(strstr(svg, ">loss</text>"), "no y label");
    cr_assert_geq(count_of(svg, "<text class=\"tick\""), 6, "%s", svg);
    /* y from 0.98 to 2: ticks at round values */
    cr_assert_not_null(strstr(svg, ">1</text>"), "%s", svg);
    cr_assert_not_null(strstr(svg, ">2</text>"), "%s", svg);
    cr_assert_not_null(strstr(svg, "<g class=\"legend\""));
    cr_assert_not_null(strstr(svg, ">loss_D</text>"));
    cr_assert_not_null(strstr(svg, ">loss_G</text>"));
    cr_assert_not_null(strstr(svg, ">resumed run joined</text>"));
    cr_assert_eq(count_of(svg, "<line class=\"resume\""), 1);
    for (int k = 0; k < 2; k++) {
        char *d = series_path(svg, k);
        cr_assert_eq(count_of(d, "M"), 1, "%s", d);
        cr_assert_eq(count_of(d, " L"), 49, "%s", d);
        free(d);
    }
    cr_assert_null(strstr(svg, "no finite values"));
    free(svg);
}

Test(report, chart_breaks_at_nonfinite_values)
{
    double x[6] = {1, 2, 3, 4, 5, 6};
    double y[6] = {1, 2, NAN, 3, INFINITY, 4};
    char *svg = chart_of(6, x, y, 1, 0, NULL);
    char *d = series_path(svg, 0);
    /* 1-2, then 4 alone (a dot), then 6 alone */
    cr_assert_eq(count_of(d, "M"), 3, "%s", d);
    cr_assert_eq(count_of(d, " L"), 1, "%s", d);
    cr_assert_eq(count_of(svg, "<circle class=\"point\""), 2, "%s", svg);
    cr_assert_null(strstr(svg, "nan"), "%s", svg);
    cr_assert_null(strstr(svg, "inf"), "%s", svg);
    cr_assert_null(strstr(svg, ">resumed run joined<"), "a legend entry without marks");
    free(d);
    free(svg);
    double z[3] = {NAN, -INFINITY, NAN};
    svg = chart_of(3, x, z, 1, 0, NULL);
    cr_assert_not_null(strstr(svg, "no finite values"), "%s", svg);
    cr_assert_null(strstr(svg, "nan"), "%s", svg);
    free(svg);
}

Test(report, chart_of_no_rows_and_of_one_row)
{
    char *svg = chart_of(0, NULL, NULL, 2, 0, NULL);
    cr_assert_not_null(strstr(svg, "no rows yet"), "%s", svg);
    cr_assert_not_null(strstr(svg, "<g class=\"axis x\""));
    cr_assert_not_null(strstr(svg, "</svg>"));
    cr_assert_null(strstr(svg, "nan"), "%s", svg);
    free(svg);
    /* a range within rounding: drawn as a constant, in finitely many ticks */
    double x2[2] = {1, 2}, y2[2] = {1.0, nextafter(1.0, 2.0)};
    svg = chart_of(2, x2, y2, 1, 0, NULL);
    cr_assert_lt(count_of(svg, "<text class=\"tick\""), 30, "%s", svg);
    cr_assert_null(strstr(svg, "nan"), "%s", svg);
    free(svg);
    double x = 7, y[2] = {0.5, 0.5};
    svg = chart_of(1, &x, y, 2, 0, NULL);
    cr_assert_eq(count_of(svg, "<circle class=\"point\""), 2, "%s", svg);
    cr_assert_not_null(strstr(svg, ">7</text>"), "the step is a tick: %s", svg);
    cr_assert_null(strstr(svg, "nan"), "%s", svg);
    cr_assert_null(strstr(svg, "inf"), "%s", svg);
    free(svg);
}

Test(report, chart_averages_long_runs)
{
    long n = 5000;
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    for (long i = 0; i < n; i++) {
        x[i] = (double)(i + 1);
        y[i] = (double)(i % 2); /* the means of 7 are near 0.5 */
    }
    char *svg = chart_of(n, x, y, 1, 0, NULL);
    cr_assert_not_null(strstr(svg, "data-points=\"715\""), "%.300s", svg);
    cr_assert_not_null(strstr(svg, "(means of 7 steps)"));
    char *d = series_path(svg, 0);
    cr_assert_eq(count_of(d, " L"), 714);
    /* the last step is on the axis */
    cr_assert_not_null(strstr(svg, ">5000</text>"), "%s", svg);
    free(d);
    free(svg);
    free(x);
    free(y);
}

Test(report, csv_reads_numbers_and_refuses_malformed_rows)
{
    struct genrt_report_csv t;
    struct genrt_err err;
    const char *p = tpath("m.csv");
    const char ok[] = "step,loss_D,seconds\n1,0.5,0.1\n2,nan,0.2\n3,-inf,0.3\n4,1";
    spit(p, ok, sizeof ok - 1);
    cr_assert_eq(genrt_report_read_csv(p, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.n_cols, 3);
    cr_assert_str_eq(t.names[1], "loss_D");
    cr_assert_eq(t.n_rows, 3, "the torn last line is left out");
    cr_assert(isnan(t.v[4]) && isinf(t.v[7]) && t.v[7] < 0);
    genrt_report_csv_free(&t);
    spit(p, "step,loss\n", 10);
    cr_assert_eq(genrt_report_read_csv(p, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.n_rows, 0);
    genrt_report_csv_free(&t);
    spit(p, "", 0);
    cr_assert_eq(genrt_report_read_csv(p, &t, &err), -1);
    cr_assert_not_null(strstr(err.msg, "no header"), "%s", err.msg);
    spit(p, "step,a,b\n1,2,3\n2,3\n", 20);
    cr_assert_eq(genrt_report_read_csv(p, &t, &err), -1);
    cr_assert_not_null(strstr(err.msg, "m.csv:3: 2 fields, the header has 3"), "%s", err.msg);
    spit(p, "step,a\n1,2,3\n", 14);
    cr_assert_eq(genrt_report_read_csv(p, &t, &err), -1);
    cr_assert_not_null(strstr(err.msg, "m.csv:2: more fields than the header's 2"), "%s", err.msg);
    spit(p, "step,a\n1,x\n", 12);
    cr_assert_eq(genrt_report_read_csv(p, &t, &err), -1);
    cr_assert_not_null(strstr(err.msg, "m.csv:2: field 2 is not a number"), "%s", err.msg);
}

static void spit_str(const char *path, const char *text)
{
    spit(path, text, strlen(text));
}

/* The page holds what. */
static int page_has(const char *page, const char *what)
{
    return strstr(page, what) != NULL;
}

Test(report, train_writes_the_page_and_sessions_and_report_rebuilds_it)
{
    const char *d = tpath("rep");
    struct genrt_model m = fake_image_model;
    m.sample_every = 5;
    m.checkpoint_every = 5;
    struct run *r = cli(&m, NULL, "train", "--steps", "10", "--out", d, "--quiet", "--threads",
                        "1", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_str_empty(r->err);
    r = cli(&m, NULL, "train", "--steps", "20", "--out", d, "--resume",
            tpath("rep/checkpoint.ckpt"), "--quiet", NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    size_t n;
    char *ss = (char *)slurp(tpath("rep/sessions.csv"), &n);
    cr_assert(!strncmp(ss, "first_step,last_step,threads,started,cpu\n1,10,1,", 48), "%s", ss);
    cr_assert_not_null(strstr(ss, "\n11,20,2,"), "%s", ss);
    cr_assert_eq(count_lines(ss), 3, "%s", ss);
    free(ss);
    char *page = (char *)slurp(tpath("rep/report.html"), &n);
    cr_assert(!strncmp(page, "<!DOCTYPE html>", 15));
    cr_assert(page_has(page, "<h2 id=\"metrics\">") && page_has(page, "<h2 id=\"samples\">") &&
              page_has(page, "<h2 id=\"run\">"), "headings");
    cr_assert_eq(count_of(page, "<svg class=\"chart\""), 1, "one chart, the losses");
    cr_assert_eq(count_of(page, "<line class=\"resume\""), 1, "the resume at step 11");
    cr_assert_eq(count_of(page, "<img alt=\"samples at step "), 4, "steps 5, 10, 15, 20");
    cr_assert(page_has(page, "src=\"data:image/png;base64,iVBORw0KGgo"), "a PNG data URI");
    cr_assert(page_has(page, "11 to 20 (resumed)"));
    cr_assert(page_has(page, "no genc --dot graph"), "fake models have no DOT text");
    cr_assert_null(strstr(page, "<script"));
    cr_assert_eq(count_of(page, "http"), count_of(page, "http://www.w3.org/"),
                 "nothing off the page but XML namespaces");
    free(page);

    /* rebuilt where asked, from the same files */
    const char *o = tpath("rep/again.html");
    r = cli(&m, NULL, "report", d, "-o", o, NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    cr_assert_not_null(strstr(r->out, "again.html"), "%s", r->out);
    page = (char *)slurp(o, &n);
    cr_assert_eq(count_of(page, "<img alt=\"samples at step "), 4);
    free(page);
    cr_assert_eq(count_temps(d), 0);
}

Test(report, report_refuses_what_is_not_a_run)
{
    assert_one_error(cli(&fake_model, NULL, "report", NULL), "report: missing RUN_DIR");
    assert_one_error(cli(&fake_model, NULL, "report", tpath("nowhere"), NULL),
                     "nowhere: No such file or directory");
    const char *e = tpath("empty");
    cr_assert_eq(mkdir(e, 0755), 0);
    assert_one_error(cli(&fake_model, NULL, "report", e, NULL), "has no metrics.csv");
    assert_one_error(cli(&fake_model, NULL, "report", e, "x", NULL), "unexpected argument 'x'");
    spit_str(tpath("empty/metrics.csv"), "step,W,seconds\n");
    assert_one_error(cli(&fake_model, NULL, "report", e, NULL),
                     "columns 'step,W,seconds' are not this model's 'step,loss_D,loss_G,seconds'");
    spit_str(tpath("empty/metrics.csv"), "step,loss_D,loss_G,seconds\n1,2\n");
    assert_one_error(cli(&fake_model, NULL, "report", e, NULL), "metrics.csv:2: 2 fields");
    assert_one_error(cli(&fake_model, NULL, "report", e, "-o", tpath("r.txt"), NULL),
                     "name it FILE.html");
    cr_assert_eq(mkdir(tpath("d.html"), 0755), 0);
    assert_one_error(cli(&fake_model, NULL, "report", e, "-o", tpath("d.html"), NULL),
                     "is not a regular file");
    assert_one_error(cli(&fake_model, NULL, "report", tpath("empty/metrics.csv"), NULL),
                     "is not a directory");
    cr_assert(!file_exists(tpath("empty/report.html")) && !file_exists(tpath("r.txt")));
    /* a header alone: a page that says there is nothing yet */
    spit_str(tpath("empty/metrics.csv"), "step,loss_D,loss_G,seconds\n");
    struct run *r = cli(&fake_model, NULL, "report", e, NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    size_t n;
    char *page = (char *)slurp(tpath("empty/report.html"), &n);
    cr_assert(page_has(page, "no rows yet") && page_has(page, "No sample grids yet"));
    free(page);
    /* a malformed sessions.csv: report says where */
    spit_str(tpath("empty/sessions.csv"), "first_step,last_step,threads,started,cpu\n1,x\n");
    assert_one_error(cli(&fake_model, NULL, "report", e, NULL), "sessions.csv:2: malformed row");
}

Test(report, draws_the_networks_with_dot_or_says_why_not)
{
    struct genrt_model m = fake_model;
    m.spec_dot = "digraph fake { G -> D }\n";
    m.spec_text = "model fake # <b>&</b>\n";
    m.spec_summary = "network  #   layer\n";
    const char *d = tpath("dot");
    cr_assert_eq(mkdir(d, 0755), 0);
    spit_str(tpath("dot/metrics.csv"), "step,loss_D,loss_G,seconds\n1,1,2,0.5\n2,1,2,1\n");
    struct run *r = cli(&m, NULL, "report", d, NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    size_t n;
    char *page = (char *)slurp(tpath("dot/report.html"), &n);
    cr_assert(page_has(page, "<div class=\"diagram\"><svg"), "no diagram (is dot installed?)");
    cr_assert(page_has(page, "<title>G&#45;&gt;D</title>"), "not the model's graph");
    cr_assert(page_has(page, "model fake # &lt;b&gt;&amp;&lt;/b&gt;"), "the spec, escaped");
    cr_assert(page_has(page, "<pre>network  #   layer\n</pre>"));
    cr_assert(page_has(page, "steps per second</th><td>2.00"), "2 steps in 1 s");
    free(page);
    cr_assert_eq(setenv("PATH", "/nonexistent", 1), 0);
    r = cli(&m, NULL, "report", d, NULL);
    cr_assert_eq(r->rc, 0, "%s", r->err);
    page = (char *)slurp(tpath("dot/report.html"), &n);
    cr_assert_null(strstr(page, "class=\"diagram\""));
    cr_assert(page_has(page, "dot is not installed (not on PATH)"), "no note");
    free(page);
}
