/* test_e2e.c: the emitted trainers, driven as a user would.
 *
 * Trainers come from GENC_TRAINER_DIR (default: the repository root, where
 * `make gan_ring` puts them; the sanitized suite points at build/san).
 * With GENC_QUICK set (the sanitized run), long trainings are skipped. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit/emit.h"
#include "genc.h"
#include "genrt_image.h"
#include "helpers.h"

TestSuite(e2e, .fini = genc_free_all);
TestSuite(sampler, .fini = genc_free_all);

static const char *trainer(const char *name) {
    static char buf[4][256];
    static int k;
    const char *dir = getenv("GENC_TRAINER_DIR");
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir ? dir : ".", name);
    return buf[k];
}

static const char *cwd(void) {
    static char buf[1024];
    if (!buf[0])
        cr_assert(getcwd(buf, sizeof buf));
    return buf;
}

static bool quick(void) { return getenv("GENC_QUICK") != NULL; }

static char *path(const char *name) { return xprintf("%s/%s", test_tmpdir(), name); }

/* metrics.csv without its last column (seconds), which is wall time */
static char *metrics_sans_time(const char *file) {
    char *s = read_whole(file, NULL);
    cr_assert(s, "no %s", file);
    char *out = xalloc(strlen(s) + 1), *o = out;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        char *last = strrchr(line, ',');
        size_t n = last ? (size_t)(last - line) : strlen(line);
        memcpy(o, line, n);
        o += n;
        *o++ = '\n';
    }
    *o = 0;
    return out;
}

static bool same_file(const char *a, const char *b) {
    size_t la, lb;
    char *x = read_whole(a, &la), *y = read_whole(b, &lb);
    bool same = x && y && la == lb && !memcmp(x, y, la);
    return same;
}

/* ---- quality: gan_ring covers the modes ------------------------------------- */

struct coverage {
    int modes;
    double high_quality;
};

/* A sample is high quality within 3 std (0.15) of a mode; a mode is
 * covered when it holds at least 1% of the samples. */
static struct coverage ring_coverage(const char *csv) {
    FILE *f = fopen(csv, "r");
    cr_assert(f, "no %s", csv);
    int count[8] = {0}, n = 0, hq = 0;
    double x, y;
    while (fscanf(f, "%lf,%lf", &x, &y) == 2) {
        n++;
        for (int k = 0; k < 8; k++) {
            double cx = 2 * cos(2 * M_PI * k / 8), cy = 2 * sin(2 * M_PI * k / 8);
            if (hypot(x - cx, y - cy) <= 0.15) {
                count[k]++;
                hq++;
                break;
            }
        }
    }
    fclose(f);
    cr_assert_eq(n, 2500, "%s has %d samples", csv, n);
    struct coverage c = {0, (double)hq / n};
    for (int k = 0; k < 8; k++)
        c.modes += count[k] >= 0.01 * n;
    return c;
}

Test(e2e, gan_ring_covers_the_modes, .timeout = 240) {
    if (quick())
        cr_skip_test("long training: run in the plain suite");
    const char *dir = test_tmpdir();
    /* three seeds, two at a time on two cores */
    int rc = run("cd %s && for s in 0 1 2; do (%s/%s train --steps 5000 --seed $s --threads 1 --quiet "
                 "--out ring$s && %s/%s sample --checkpoint ring$s/checkpoint.ckpt -n 2500 --seed 7 "
                 "-o ring$s.csv) & [ $s = 1 ] && wait; done; wait",
                 dir, cwd(), trainer("gan_ring"), cwd(), trainer("gan_ring"));
    cr_assert_eq(rc, 0);
    int modes[3];
    for (int s = 0; s < 3; s++) {
        char name[32];
        snprintf(name, sizeof name, "ring%d.csv", s);
        struct coverage c = ring_coverage(path(name));
        cr_log_info("gan_ring seed %d: %d of 8 modes, %.1f%% high quality", s, c.modes, 100 * c.high_quality);
        printf("gan_ring seed %d: %d of 8 modes, %.1f%% within 3 std of a mode\n", s, c.modes,
               100 * c.high_quality);
        cr_expect_geq(c.modes, 6, "seed %d covers %d modes", s, c.modes);
        cr_expect_geq(c.high_quality, 0.8, "seed %d: %.3f high quality", s, c.high_quality);
        modes[s] = c.modes;
    }
    int lo = modes[0], hi = modes[0];
    for (int s = 1; s < 3; s++) {
        lo = modes[s] < lo ? modes[s] : lo;
        hi = modes[s] > hi ? modes[s] : hi;
    }
    int median = modes[0] + modes[1] + modes[2] - lo - hi;
    cr_expect_geq(median, 7, "median seed covers %d modes", median);
}

/* ---- determinism and resume --------------------------------------------------- */

Test(e2e, same_seed_same_bits_and_resume_continues_exactly, .timeout = 120) {
    const char *dir = test_tmpdir();
    int n = quick() ? 40 : 300, half = n / 2;
    const char *t = trainer("gan_ring");
    cr_assert_eq(run("cd %s && %s/%s train --steps %d --seed 3 --quiet --out a", dir, cwd(), t, n), 0);
    cr_assert_eq(run("cd %s && %s/%s train --steps %d --seed 3 --quiet --out b", dir, cwd(), t, n), 0);
    cr_assert_eq(run("cd %s && %s/%s train --steps %d --seed 3 --quiet --out c && "
                     "cp c/checkpoint.ckpt half.ckpt && "
                     "%s/%s train --steps %d --seed 3 --quiet --out c --resume half.ckpt",
                     dir, cwd(), t, half, cwd(), t, n), 0);
    cr_expect(same_file(path("a/checkpoint.ckpt"), path("b/checkpoint.ckpt")), "same seed, different checkpoints");
    cr_expect(same_file(path("a/checkpoint.ckpt"), path("c/checkpoint.ckpt")), "resumed run differs");
    char *ma = metrics_sans_time(path("a/metrics.csv"));
    char *mb = metrics_sans_time(path("b/metrics.csv"));
    char *mc = metrics_sans_time(path("c/metrics.csv"));
    cr_expect_str_eq(ma, mb);
    cr_expect_str_eq(ma, mc);
    cr_assert_eq(run("cd %s && %s/%s train --steps %d --seed 4 --quiet --out d", dir, cwd(), t, n), 0);
    cr_expect(!same_file(path("a/checkpoint.ckpt"), path("d/checkpoint.ckpt")), "the seed changed nothing");
}

/* ---- bad input: one clear line, exit 1, nothing overwritten ------------------ */

static void expect_error(const char *what, const char *cmd_fmt, const char *needle) {
    char *err = path("err.txt");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, cmd_fmt, test_tmpdir());
    int rc = run("cd %s && %s 2> %s", cwd(), cmd, err);
    char *text = read_whole(err, NULL);
    cr_expect_eq(rc, 1, "%s: exit %d", what, rc);
    cr_expect(text && strstr(text, needle), "%s: expected '%s' in: %s", what, needle, text ? text : "(nothing)");
}

Test(e2e, bad_input_is_one_clear_error, .timeout = 120) {
    const char *dir = test_tmpdir();
    const char *ring = trainer("gan_ring"), *mlp = trainer("gan_mlp");
    cr_assert_eq(run("%s train --steps 20 --quiet --out %s/ok", ring, dir), 0);
    char *ckpt = path("ok/checkpoint.ckpt");
    /* a file the failing commands must leave alone */
    write_file(path("keep.png"), "precious", 8);
    char cmd[1024];

    snprintf(cmd, sizeof cmd, "%s train --bogus", ring);
    expect_error("unknown flag", cmd, "unknown flag '--bogus'");
    snprintf(cmd, sizeof cmd, "%s train --steps", ring);
    expect_error("missing value", cmd, "error:");
    snprintf(cmd, sizeof cmd, "%s train --steps ten", ring);
    expect_error("non-numeric value", cmd, "error:");
    snprintf(cmd, sizeof cmd, "%s dance", ring);
    expect_error("unknown subcommand", cmd, "error:");

    cr_assert_eq(run("cp %s %s/corrupt.ckpt && printf '\\377' | dd of=%s/corrupt.ckpt bs=1 seek=200 conv=notrunc "
                     "2>/dev/null", ckpt, dir, dir), 0);
    snprintf(cmd, sizeof cmd, "%s sample --checkpoint %%s/corrupt.ckpt -o %%s/keep.png", ring);
    char full[1024];
    snprintf(full, sizeof full, cmd, dir, dir);
    expect_error("corrupt checkpoint", full, "corrupt");
    cr_assert_eq(run("head -c 300 %s > %s/short.ckpt", ckpt, dir), 0);
    snprintf(full, sizeof full, "%s sample --checkpoint %s/short.ckpt -o %s/keep.png", ring, dir, dir);
    expect_error("truncated checkpoint", full, "truncated");
    snprintf(full, sizeof full, "%s sample --checkpoint %s -o %s/keep.png", mlp, ckpt, dir);
    expect_error("checkpoint of another spec", full, "another spec");
    snprintf(full, sizeof full, "%s train --resume %s/corrupt.ckpt --out %s/ok", ring, dir, dir);
    expect_error("resume from a corrupt checkpoint", full, "corrupt");
    cr_expect(same_file(path("keep.png"), path("keep.png")));
    size_t len;
    char *kept = read_whole(path("keep.png"), &len);
    cr_expect(len == 8 && !memcmp(kept, "precious", 8), "a failing command overwrote its output");

    /* data: missing, truncated, wrong magic */
    snprintf(full, sizeof full, "%s train --steps 2 --data %s/nowhere --out %s/m", mlp, dir, dir);
    expect_error("missing data", full, "error:");
    cr_assert_eq(run("mkdir -p %s/trunc && head -c 5000 /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
                     " > %s/trunc/train-images-idx3-ubyte.gz && cp /usr/share/datasets/fashion-mnist/"
                     "train-labels-idx1-ubyte.gz %s/trunc/", dir, dir, dir), 0);
    snprintf(full, sizeof full, "%s train --steps 2 --data %s/trunc --out %s/m", mlp, dir, dir);
    expect_error("truncated data", full, "train-images-idx3-ubyte");
    cr_assert_eq(run("mkdir -p %s/magic && cp /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz "
                     "%s/magic/train-images-idx3-ubyte.gz && cp /usr/share/datasets/fashion-mnist/"
                     "train-labels-idx1-ubyte.gz %s/magic/", dir, dir, dir), 0);
    snprintf(full, sizeof full, "%s train --steps 2 --data %s/magic --out %s/m", mlp, dir, dir);
    expect_error("wrong magic", full, "magic");
}

/* ---- subcommands ------------------------------------------------------------------ */

Test(e2e, gradcheck_passes_in_every_trainer, .timeout = 120) {
    cr_expect_eq(run("%s gradcheck > /dev/null", trainer("gan_ring")), 0);
    cr_expect_eq(run("%s gradcheck > /dev/null", trainer("gan_mlp")), 0);
}

/* A GAN's metrics.csv: the header, one row per step, every metric finite. */
static void expect_gan_metrics(const char *csv, int steps) {
    FILE *f = fopen(csv, "r");
    cr_assert(f, "no %s", csv);
    char line[512];
    cr_assert(fgets(line, sizeof line, f));
    cr_expect(strstr(line, "step,loss_D,loss_G,D_x,D_G_z,seconds"), "header: %s", line);
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        double v[5];
        cr_assert_eq(sscanf(line, "%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4]), 5);
        for (int i = 1; i < 5; i++)
            cr_expect(isfinite(v[i]), "step %g: metric %d is %g", v[0], i, v[i]);
        rows++;
    }
    fclose(f);
    cr_expect_eq(rows, steps);
}

/* rmsprop with both documented settings has five operands (parameter,
 * gradient, square_avg, grad_avg, momentum buffer): it crashed genc when
 * nodes had four inputs.  Every other optimizer setting rides along on G. */
Test(e2e, rmsprop_centered_with_momentum_trains_and_gradchecks, .timeout = 120) {
    const char *dir = test_tmpdir();
    char *spec = read_whole("specs/gan_ring.gm", NULL);
    cr_assert(spec);
    char *g = strstr(spec, "optimize G with adam"), *d = strstr(spec, "optimize D with adam");
    cr_assert(g && d && g < d);
    *g = 0;
    char *text = xprintf("%soptimize G with sgd { lr 1e-2; momentum 0.9; nesterov; weight_decay 1e-4 }\n"
                         "optimize D with rmsprop { lr 1e-3; alpha 0.9; eps 1e-6; centered; momentum 0.9; "
                         "weight_decay 1e-4 }\n%s", spec, strchr(d, '\n') + 1);
    char *file = path("rms.gm");
    write_file(file, text, strlen(text));
    char *bin = build_trainer(file, "rms");
    char *c = read_whole(xprintf("%s.c", bin), NULL);
    cr_expect(strstr(c, "rmsprop_update(D_l1_weight, ") && strstr(c, "D_l1_weight_grad_avg, D_l1_weight_momentum, "),
              "D's step does not pass grad_avg and the momentum buffer");
    cr_assert_eq(run("%s train --steps 20 --quiet --threads 1 --out %s/rms_run", bin, dir), 0);
    expect_gan_metrics(path("rms_run/metrics.csv"), 20);
    cr_expect_eq(run("%s gradcheck > %s/rms.gc", bin, dir), 0, "%s", read_whole(path("rms.gc"), NULL));
}

/* A bias gradient over 1.1M units is a per-channel sum of 8.8 MB of
 * doubles: more than a stack holds (it was on the stack, and segfaulted). */
Test(e2e, wide_dense_layer_trains, .timeout = 120) {
    const char *dir = test_tmpdir();
    const char *text = "model wide\ndata ring8 { }\nlatent z ~ normal(2)\n"
                       "network G : [2] -> [2] { dense 1100000; relu; dense 2 }\n"
                       "network D : [2] -> [1] { dense 8; relu; dense 1 }\n"
                       "objective gan(G, D) { }\noptimize G with sgd { lr 1e-4 }\noptimize D with sgd { }\n"
                       "train { batch 2 }\n";
    char *file = path("wide.gm");
    write_file(file, text, strlen(text));
    char *bin = build_trainer(file, "wide");
    cr_assert_eq(run("%s train --steps 2 --quiet --threads 1 --out %s/wide_run", bin, dir), 0);
    expect_gan_metrics(path("wide_run/metrics.csv"), 2);
}

Test(e2e, samples_as_png_npy_csv, .timeout = 120) {
    const char *dir = test_tmpdir();
    const char *ring = trainer("gan_ring");
    cr_assert_eq(run("%s train --steps 30 --quiet --out %s/s", ring, dir), 0);
    cr_assert_eq(run("%s sample --checkpoint %s/s/checkpoint.ckpt -n 100 -o %s/s.npy", ring, dir, dir), 0);
    cr_assert_eq(run("%s sample --checkpoint %s/s/checkpoint.ckpt -n 100 -o %s/s.csv", ring, dir, dir), 0);
    cr_assert_eq(run("%s sample --checkpoint %s/s/checkpoint.ckpt -n 100 -o %s/s.png", ring, dir, dir), 0);
    size_t len;
    char *npy = read_whole(path("s.npy"), &len);
    cr_assert(npy && len > 10 && !memcmp(npy, "\x93NUMPY", 6), "not an npy file");
    cr_expect(strstr(npy + 10, "'descr': '<f4'") && strstr(npy + 10, "'shape': (100, 2)"), "header: %.80s", npy + 10);
    size_t header = 10 + (size_t)(unsigned char)npy[8] + 256 * (size_t)(unsigned char)npy[9];
    cr_expect_eq(len, header + 100 * 2 * 4);
    char *png = read_whole(path("s.png"), &len);
    cr_expect(png && len > 8 && !memcmp(png, "\x89PNG", 4), "not a PNG");
    cr_expect_eq(run("test $(wc -l < %s/s.csv) -eq 100", dir), 0);
}

Test(e2e, gan_mlp_trains_on_fashion_mnist, .timeout = 120) {
    const char *dir = test_tmpdir();
    int steps = quick() ? 5 : 200;
    cr_assert_eq(run("%s train --steps %d --quiet --out %s/mlp", trainer("gan_mlp"), steps, dir), 0);
    char png[64];
    snprintf(png, sizeof png, "mlp/samples/step-%06d.png", steps);
    cr_expect_eq(run("test -s %s", path(png)), 0, "no sample grid %s", png);
    expect_gan_metrics(path("mlp/metrics.csv"), steps);
}

/* ---- dcgan ---------------------------------------------------------------------- */

Test(e2e, dcgan_smoke_losses_finite_and_samples_written, .timeout = 300) {
    const char *dir = test_tmpdir();
    int steps = quick() ? 3 : 40;
    cr_assert_eq(run("%s train --steps %d --quiet --out %s/dc", trainer("dcgan"), steps, dir), 0);
    cr_expect_eq(run("test -s %s/dc/samples/step-%06d.png", dir, steps), 0, "no sample grid");
    cr_expect_eq(run("test -s %s/dc/checkpoint.ckpt", dir), 0, "no checkpoint");
    expect_gan_metrics(path("dc/metrics.csv"), steps);
    cr_expect_eq(run("%s gradcheck > /dev/null", trainer("dcgan")), 0, "dcgan gradcheck failed");
}

/* Every convolution path against the double build: oneDNN with its kernels
 * for this CPU, oneDNN capped at AVX2 (what a CPU without AVX-512 runs),
 * and genc's own im2col and GEMM (GENC_DNNL=0) must each give the float
 * gradients the double build gives (gradcheck --float), for convs,
 * deconvs, a conditional model, a classifier and WGAN-GP's double
 * backprop through convolutions; and oneDNN must be what ran. */
Test(e2e, float_gradients_match_double_on_every_convolution_path, .timeout = 300) {
    static const char *const models[] = {"dcgan", "cgan", "wgan_gp", "fmnist_classifier"};
    static const char *const paths[] = {"", "ONEDNN_MAX_CPU_ISA=AVX2 ", "GENC_DNNL=0 "};
    const char *dir = test_tmpdir();
    for (size_t m = 0; m < sizeof models / sizeof *models; m++)
        for (size_t k = 0; k < sizeof paths / sizeof *paths; k++)
            cr_expect_eq(run("%s%s gradcheck --float > %s/gc.txt", paths[k], trainer(models[m]), dir), 0, "%s%s:\n%s",
                         paths[k], models[m], read_whole(path("gc.txt"), NULL));
    cr_expect_eq(run("ONEDNN_VERBOSE=1 %s gradcheck --float 2>&1 | grep -q 'exec,cpu,convolution'", trainer("dcgan")),
                 0, "oneDNN ran no convolution in dcgan");
    cr_expect_eq(run("ONEDNN_VERBOSE=1 GENC_DNNL=0 %s gradcheck --float 2>&1 | grep -q 'exec,cpu,convolution'",
                     trainer("dcgan")), 1, "GENC_DNNL=0 still ran oneDNN");
}

/* The fused kernels against unfused references: the same spec compiled with
 * --no-fuse (every elementwise op its own loop, every value stored) must
 * train to the same numbers. */
Test(e2e, fused_kernels_match_unfused_reference, .timeout = 300) {
    if (quick())
        cr_skip_test("builds two trainers: run in the plain suite");
    const char *dir = test_tmpdir();
    const char *genc = getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc";
    for (int k = 0; k < 2; k++) {
        const char *spec = k ? "dcgan" : "gan_ring";
        cr_assert_eq(run("%s specs/%s.gm -o %s/%s_fused.c && %s specs/%s.gm --no-fuse -o %s/%s_unfused.c",
                         genc, spec, dir, spec, genc, spec, dir, spec), 0);
        for (int u = 0; u < 2; u++) {
            const char *which = u ? "unfused" : "fused";
            cr_assert_eq(run("${CC:-cc} -std=c11 -O2 -Iruntime $(pkg-config --cflags openblas) "
                             "%s/%s_%s.c build/libgenrt.a -lstb $(pkg-config --libs openblas) -lz -lm "
                             "-o %s/%s_%s && %s/%s_%s train --steps 20 --seed 5 --quiet --out %s/%s_%s_run",
                             dir, spec, which, dir, spec, which, dir, spec, which, dir, spec, which), 0);
        }
        char *a = metrics_sans_time(xprintf("%s/%s_fused_run/metrics.csv", dir, spec));
        char *b = metrics_sans_time(xprintf("%s/%s_unfused_run/metrics.csv", dir, spec));
        cr_expect_str_eq(a, b, "%s: fused and unfused training differ", spec);
        cr_expect(same_file(xprintf("%s/%s_fused_run/checkpoint.ckpt", dir, spec),
                            xprintf("%s/%s_unfused_run/checkpoint.ckpt", dir, spec)),
                  "%s: fused and unfused checkpoints differ", spec);
    }
}

/* `t train FLAGS` for n steps in dir/a, and for n/2 steps in dir/c resumed
 * to n from a copy of its checkpoint: the two must end in the same bytes.
 * t is the trainer's absolute path. */
static void expect_resume_exact(const char *dir, const char *t, const char *flags, int n) {
    cr_assert_eq(run("cd %s && %s train --steps %d --quiet %s --out a", dir, t, n, flags), 0);
    cr_assert_eq(run("cd %s && %s train --steps %d --quiet %s --out c && cp c/checkpoint.ckpt half.ckpt && "
                     "%s train --steps %d --quiet %s --out c --resume half.ckpt", dir, t, n / 2, flags, t, n, flags),
                 0);
    cr_expect(same_file(xprintf("%s/a/checkpoint.ckpt", dir), xprintf("%s/c/checkpoint.ckpt", dir)),
              "resumed run differs");
    cr_expect_str_eq(metrics_sans_time(xprintf("%s/a/metrics.csv", dir)),
                     metrics_sans_time(xprintf("%s/c/metrics.csv", dir)));
}

/* ---- the adversarial family ------------------------------------------------------ */

/* WGAN-GP on the ring: five critic steps per step, each on its own batches,
 * and a penalty built by double backprop; resuming must still be exact. */
Test(e2e, wgan_gp_ring_multi_batch_steps_resume_exactly, .timeout = 120) {
    const char *dir = test_tmpdir();
    const char *t = trainer("wgan_gp_ring");
    expect_resume_exact(dir, xprintf("%s/%s", cwd(), t), "", quick() ? 6 : 60);
    char *head = read_whole(path("a/metrics.csv"), NULL);
    cr_expect(!strncmp(head, "step,loss_D,loss_G,D_x,D_G_z,W,seconds", 38), "header: %.60s", head);
    cr_expect_eq(run("%s gradcheck > /dev/null", t), 0, "wgan_gp_ring gradcheck failed");
}

/* R1 on the ring: the critic's gradient on real data, by double backprop,
 * reported as a metric; resuming is exact and the trainer's gradcheck,
 * in double, passes with the penalty in loss_D. */
Test(e2e, r1_ring_trains_resumes_exactly_and_gradchecks, .timeout = 120) {
    const char *dir = test_tmpdir();
    char *spec = read_whole("specs/gan_ring.gm", NULL);
    cr_assert(spec);
    char *at = strstr(spec, "{ form nonsaturating }");
    cr_assert(at);
    *at = 0;
    char *text = xprintf("%s{ form nonsaturating; r1 10 }%s", spec, at + strlen("{ form nonsaturating }"));
    char *file = path("r1.gm");
    write_file(file, text, strlen(text));
    char *bin = build_trainer(file, "r1");
    expect_resume_exact(dir, bin, "--threads 1", quick() ? 6 : 40);
    char *head = read_whole(path("a/metrics.csv"), NULL);
    cr_expect(!strncmp(head, "step,loss_D,loss_G,D_x,D_G_z,R1,seconds", 38), "header: %.60s", head);
    /* the penalty is a positive number on every row */
    int rows = 0;
    for (char *line = strchr(head, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        double v[6];
        cr_assert_eq(sscanf(line + 1, "%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6);
        cr_expect(isfinite(v[5]) && v[5] > 0, "step %g: R1 is %g", v[0], v[5]);
        rows++;
    }
    cr_expect_eq(rows, quick() ? 6 : 40);
    cr_expect_eq(run("%s gradcheck > %s/r1.gc", bin, dir), 0, "%s", read_whole(path("r1.gc"), NULL));
}

Test(e2e, cgan_samples_by_label, .timeout = 300) {
    const char *dir = test_tmpdir();
    const char *t = trainer("cgan");
    cr_assert_eq(run("%s train --steps 3 --quiet --out %s/cg", t, dir), 0);
    cr_expect_eq(run("%s sample --checkpoint %s/cg/checkpoint.ckpt --label 7 -n 16 -o %s/boots.png", t, dir, dir), 0);
    cr_expect_eq(run("%s sample --checkpoint %s/cg/checkpoint.ckpt -o %s/grid.png", t, dir, dir), 0);
    cr_expect_eq(run("test -s %s/boots.png && test -s %s/grid.png", dir, dir), 0);
    char full[1024];
    snprintf(full, sizeof full, "%s sample --checkpoint %s/cg/checkpoint.ckpt --label 10 -o %s/x.png", t, dir, dir);
    expect_error("label out of range", full, "error:");
    snprintf(full, sizeof full, "%s sample --checkpoint %s/ok.ckpt --label 1 -o %s/x.png", trainer("gan_ring"), dir,
             dir);
    expect_error("label on an unconditional model", full, "error:");
}

/* ---- VAEs ------------------------------------------------------------------------ */

/* A PNG's width and height, from its IHDR. */
static void png_size(const char *file, long *w, long *h) {
    size_t len;
    const unsigned char *p = (const unsigned char *)read_whole(file, &len);
    cr_assert(p && len > 24 && !memcmp(p, "\x89PNG", 4), "%s is not a PNG", file);
    *w = (long)p[16] << 24 | (long)p[17] << 16 | (long)p[18] << 8 | p[19];
    *h = (long)p[20] << 24 | (long)p[21] << 16 | (long)p[22] << 8 | p[23];
}

/* The -ELBO on a split's line of `X eval`'s output, or NAN. */
static double eval_elbo(const char *text, const char *split, long *n) {
    const char *at = strstr(text, xprintf("%s: -ELBO ", split));
    double v = NAN, rec, kl;
    if (!at || sscanf(at + strlen(split) + 8, "%lf nats per example (reconstruction %lf, KL %lf) over %ld examples",
                      &v, &rec, &kl, n) != 4)
        return NAN;
    return fabs(rec + kl - v) < 0.02 ? v : NAN;
}

/* The conditional VAE: the label reaches the decoder (two labels, one
 * latent, different samples), an unlabelled PNG is a grid of a row per
 * class, eval prints the -ELBO of both splits, reconstruct and gradcheck
 * run, and a resumed run continues exactly. */
Test(e2e, cvae_samples_by_label_and_evaluates, .timeout = 300) {
    const char *dir = test_tmpdir();
    const char *t = trainer("cvae");
    int n = quick() ? 4 : 40;
    expect_resume_exact(dir, xprintf("%s/%s", cwd(), t), "--threads 1", n);
    char *head = read_whole(path("a/metrics.csv"), NULL);
    cr_expect(!strncmp(head, "step,loss,rec,kl,seconds", 24), "header: %.60s", head);
    char *ck = path("a/checkpoint.ckpt");
    cr_assert_eq(run("%s sample --checkpoint %s --label 7 -n 16 -o %s/sneakers.png", t, ck, dir), 0);
    cr_assert_eq(run("%s sample --checkpoint %s -o %s/grid.png", t, ck, dir), 0);
    long w, h, cell = 28 + GENRT_IMAGE_PAD;
    png_size(path("grid.png"), &w, &h);
    cr_expect(w == 8 * cell + GENRT_IMAGE_PAD && h == 10 * cell + GENRT_IMAGE_PAD,
              "the grid is %ldx%ld, not 8 columns by 10 rows (one per class)", w, h);
    cr_assert_eq(run("%s sample --checkpoint %s --label 0 -n 4 --seed 5 -o %s/l0.npy && "
                     "%s sample --checkpoint %s --label 9 -n 4 --seed 5 -o %s/l9.npy", t, ck, dir, t, ck, dir), 0);
    cr_expect(!same_file(path("l0.npy"), path("l9.npy")), "the label changed nothing");
    char full[1024];
    snprintf(full, sizeof full, "%s sample --checkpoint %s --label 10 -o %s/x.png", t, ck, dir);
    expect_error("label out of range", full, "out of range");
    cr_assert_eq(run("%s eval --checkpoint %s --threads 1 > %s/eval.txt", t, ck, dir), 0);
    char *ev = read_whole(path("eval.txt"), NULL);
    long ntrain = 0, ntest = 0;
    double train = eval_elbo(ev, "train", &ntrain), test = eval_elbo(ev, "test", &ntest);
    cr_expect(isfinite(train) && train > 0 && ntrain == 60000, "train line: %s", ev);
    cr_expect(isfinite(test) && test > 0 && ntest == 10000, "test line: %s", ev);
    cr_log_info("cvae after %d steps: test -ELBO %.2f nats", n, test);
    /* the examples' own labels: nothing on stderr, for a split of test examples */
    cr_assert_eq(run("%s reconstruct --checkpoint %s -n 8 -o %s/r.png 2> %s/r.err", t, ck, dir, dir), 0);
    png_size(path("r.png"), &w, &h);
    cr_expect(w == 16 * cell + GENRT_IMAGE_PAD && h == cell + GENRT_IMAGE_PAD, "reconstructions %ldx%ld", w, h);
    cr_expect_eq(run("test ! -s %s/r.err", dir), 0, "reconstruct said: %s", read_whole(path("r.err"), NULL));
    cr_expect_eq(run("%s gradcheck > %s/gc.txt", t, dir), 0, "%s", read_whole(path("gc.txt"), NULL));
}

/* ---- CycleGAN ------------------------------------------------------------------- */

/* The cycle column of a CycleGAN's metrics.csv, row `step` (1-based). */
static double cycle_at(const char *csv, int step) {
    FILE *f = fopen(csv, "r");
    cr_assert(f, "no %s", csv);
    char line[512];
    double v = NAN;
    for (int row = 0; fgets(line, sizeof line, f); row++) {
        double g, da, db, c;
        if (row == step && sscanf(line, "%*d,%lf,%lf,%lf,%lf", &g, &da, &db, &c) == 4)
            v = isfinite(g) && isfinite(da) && isfinite(db) ? c : NAN;
    }
    fclose(f);
    return v;
}

/* Sneakers to boots and back: two loaders, four networks, the cycle term
 * falling, a resumed run continuing bit for bit (both loaders included),
 * and translate writing .npy and .png. */
Test(e2e, cyclegan_trains_translates_and_resumes_exactly, .timeout = 600) {
    const char *dir = test_tmpdir();
    const char *t = trainer("cyclegan");
    int n = quick() ? 4 : 40;
    expect_resume_exact(dir, xprintf("%s/%s", cwd(), t), "", n);
    char *head = read_whole(path("a/metrics.csv"), NULL);
    cr_expect(!strncmp(head, "step,loss_G,loss_DA,loss_DB,cycle,seconds", 41), "header: %.60s", head);
    double first = cycle_at(path("a/metrics.csv"), 1), last = cycle_at(path("a/metrics.csv"), n);
    cr_expect(isfinite(first) && isfinite(last), "metrics not finite");
    if (!quick())
        cr_expect(last < 0.5 * first, "the cycle L1 went from %g to %g in %d steps", first, last, n);
    cr_assert_eq(run("%s translate --checkpoint %s/a/checkpoint.ckpt --from A -n 5 -o %s/g.npy", t, dir, dir), 0);
    size_t len;
    char *npy = read_whole(path("g.npy"), &len);
    cr_assert(npy && len > 10 && !memcmp(npy, "\x93NUMPY", 6), "not an npy file");
    cr_expect(strstr(npy + 10, "'shape': (5, 1, 28, 28)"), "header: %.80s", npy + 10);
    size_t header = 10 + (size_t)(unsigned char)npy[8] + 256 * (size_t)(unsigned char)npy[9];
    cr_assert_eq(len, header + 5 * 784 * 4);
    const float *g = (const float *)(const void *)(npy + header);
    for (int i = 0; i < 5 * 784; i++)
        cr_assert(g[i] >= -1 && g[i] <= 1, "G(a)[%d] = %g is outside the data range", i, g[i]);
    cr_assert_eq(run("%s translate --checkpoint %s/a/checkpoint.ckpt --from B -n 3 -o %s/f.png", t, dir, dir), 0);
    char *png = read_whole(path("f.png"), &len);
    cr_expect(png && len > 8 && !memcmp(png, "\x89PNG", 4), "not a PNG");
}

/* Writes n random PNGs of 20x20 (any size: the loader resizes), RGB or
 * gray (channels 3 or 1), into dir, with Python's zlib, so the test needs
 * no image library of its own. */
static void random_pngs_of(const char *dir, int n, int seed, int channels) {
    cr_assert_eq(run("mkdir -p %s && python3 - %s %d %d %d <<'EOF'\n"
                     "import random, struct, sys, zlib\n"
                     "d, n, seed, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])\n"
                     "random.seed(seed)\n"
                     "def chunk(t, c):\n"
                     "    return struct.pack('>I', len(c)) + t + c + struct.pack('>I', zlib.crc32(t + c))\n"
                     "for i in range(n):\n"
                     "    rows = b''.join(b'\\0' + bytes(random.randrange(256) for _ in range(20 * c)) for _ in range(20))\n"
                     "    open(f'{d}/{i:02d}.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n'\n"
                     "        + chunk(b'IHDR', struct.pack('>IIBBBBB', 20, 20, 8, 2 if c == 3 else 0, 0, 0, 0))\n"
                     "        + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))\n"
                     "EOF", dir, dir, n, seed, channels), 0);
}

static void random_pngs(const char *dir, int n, int seed) { random_pngs_of(dir, n, seed, 3); }

/* The same spec shape on two folders of RGB images, with an identity term
 * and one optimizer of each kind: trains from --data and --data-b, resumes
 * exactly, translates, and its sampler's translators (RGB, so the layout
 * conversions run) match the trainer. */
Test(e2e, cyclegan_on_two_image_folders, .timeout = 300) {
    const char *dir = test_tmpdir();
    const char *genc = getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc";
    random_pngs(xprintf("%s/horses", dir), 8, 1);
    random_pngs(xprintf("%s/zebras", dir), 6, 2);
    cr_assert_eq(run("%s tests/specs/cyclegan_images.gm -o %s/cgi.c", genc, dir), 0);
    const char *cc = "${CC:-cc} -std=c11 -O2 -Iruntime $(pkg-config --cflags openblas)";
    const char *libs = "build/libgenrt.a -lstb $(pkg-config --libs openblas) -lz -lm";
    cr_assert_eq(run("%s %s/cgi.c %s -o %s/cgi", cc, dir, libs, dir), 0);
    const char *t = xprintf("%s/cgi", dir), *data = xprintf("--data %s/horses --data-b %s/zebras", dir, dir);
    expect_resume_exact(dir, t, data, 6);
    char *head = read_whole(path("a/metrics.csv"), NULL);
    cr_expect(!strncmp(head, "step,loss_G,loss_DA,loss_DB,cycle,identity,seconds", 50), "header: %.60s", head);
    cr_expect_eq(run("test -s %s/a/samples/step-000005.png", dir), 0);
    cr_assert_eq(run("%s translate --checkpoint %s/a/checkpoint.ckpt %s --from B -n 2 -o %s/f.npy 2> %s/f.err", t,
                     dir, data, dir, dir), 0);
    /* a folder has no test split: translate says which examples it took */
    char *said = read_whole(path("f.err"), NULL);
    char *want = xprintf("cgi: translate: %s/zebras has no test split, so the examples are its first 2 training "
                         "images (in file order)\n", dir);
    cr_expect(said && !strcmp(said, want), "stderr: %s", said ? said : "(nothing)");
    char *npy = read_whole(path("f.npy"), NULL);
    cr_expect(npy && strstr(npy + 10, "'shape': (2, 3, 16, 16)"), "header: %.80s", npy ? npy + 10 : "");
    /* the translators of its sampler */
    cr_assert_eq(run("%s tests/specs/cyclegan_images.gm --sampler --weights %s/a/checkpoint.ckpt -o %s/cgi_s.c",
                     genc, dir, dir), 0);
    cr_assert_eq(run("%s -DGENC_NO_MAIN -I%s -DSAMPLER_H='\"cgi_s.h\"' -DTRANSLATE_AB=cgi_s_translate_ab "
                     "-DTRANSLATE_BA=cgi_s_translate_ba tests/sampler_check.c %s/cgi_s.c %s/cgi.c %s -o %s/check",
                     cc, dir, dir, dir, libs, dir), 0);
    cr_expect_eq(run("%s/check %s/a/checkpoint.ckpt", dir, dir), 0, "the translators differ from the trainer's");
}

/* A folder of images has no test split: reconstruct's examples are its
 * first training images, and it says so on stderr. */
Test(e2e, reconstruct_on_image_folder_names_its_examples, .timeout = 120) {
    const char *dir = test_tmpdir();
    random_pngs(xprintf("%s/pics", dir), 6, 3);
    const char *text = "model vae_pics\ndata images { dir \"pics/\"; shape [3, 16, 16]; range -1 1 }\n"
                       "latent z ~ normal(4)\nnetwork E : [3, 16, 16] -> [8] { flatten; dense 8 }\n"
                       "network Dec : [4] -> [3, 16, 16] { dense 768; reshape [3, 16, 16]; tanh }\n"
                       "objective vae(E, Dec) { likelihood gaussian }\noptimize E with adam { }\n"
                       "optimize Dec with adam { }\ntrain { batch 4; seed 1 }\n";
    char *file = path("vae_pics.gm");
    write_file(file, text, strlen(text));
    char *bin = build_trainer(file, "vae_pics");
    cr_assert_eq(run("%s train --steps 2 --quiet --data %s/pics --out %s/vp", bin, dir, dir), 0);
    cr_assert_eq(run("%s reconstruct --checkpoint %s/vp/checkpoint.ckpt --data %s/pics -n 5 -o %s/r.png 2> %s/r.err",
                     bin, dir, dir, dir, dir), 0);
    char *err = read_whole(path("r.err"), NULL);
    char *want = xprintf("vae_pics: reconstruct: %s/pics has no test split, so the examples are its first 5 "
                         "training images (in file order)\n", dir);
    cr_expect(err && !strcmp(err, want), "stderr: %s", err ? err : "(nothing)");
}

/* ---- samplers ------------------------------------------------------------------- */
/* The unconditional sampler dir/NAME.c gives what the trainer built from
 * TRAINER.c computes on checkpoint ckpt (tests/sampler_check.c). */
static void expect_sampler_matches(const char *dir, const char *name, const char *trainer_bin, const char *ckpt) {
    cr_assert_eq(run("${CC:-cc} -std=c11 -O2 -Iruntime -I%s $(pkg-config --cflags openblas) -DGENC_NO_MAIN "
                     "-DSAMPLER_H='\"%s.h\"' -DSAMPLE=%s_sample -DSAMPLER_CLASSES=0 tests/sampler_check.c "
                     "%s/%s.c %s.c build/libgenrt.a -lstb $(pkg-config --libs openblas) -lz -lm "
                     "-o %s/%s_check 2>/dev/null", dir, name, name, dir, name, trainer_bin, dir, name), 0);
    cr_expect_eq(run("%s/%s_check %s", dir, name, ckpt), 0, "the %s sampler differs from its trainer", name);
}

/* `ema 0.9` on gan_ring's G: the averages follow their formula step by
 * step, resume exactly, and are what sample, the previews and the sampler
 * use (--no-ema: the raw weights). */
Test(e2e, ema_averages_the_generator_and_samples_with_it, .timeout = 180) {
    const char *dir = test_tmpdir();
    char *spec = read_whole("specs/gan_ring.gm", NULL);
    cr_assert(spec);
    const char *g = "optimize G with adam { lr 1e-3; beta1 0.5; beta2 0.999 }";
    char *at = strstr(spec, g);
    cr_assert(at);
    *at = 0;
    char *text = xprintf("%soptimize G with adam { lr 1e-3; beta1 0.5; beta2 0.999; ema 0.9 }%s", spec, at + strlen(g));
    char *file = path("ema.gm");
    write_file(file, text, strlen(text));
    char *bin = build_trainer(file, "ema");
    expect_resume_exact(dir, bin, "--threads 1", quick() ? 6 : 20);
    /* step by step: after step t, avg_t = 0.9 avg_{t-1} + 0.1 p_t, avg_0 = p_0 */
    cr_assert_eq(run("cd %s && %s train --steps 1 --quiet --threads 1 --out e && cp e/checkpoint.ckpt e1.ckpt && "
                     "%s train --steps 2 --quiet --threads 1 --out e --resume e1.ckpt && cp e/checkpoint.ckpt e2.ckpt",
                     dir, bin, bin), 0);
    cr_expect_eq(run("python3 tests/ema_check.py %s/e1.ckpt %s/e2.ckpt %s.c 0.9 > %s/ema.txt 2>&1", dir, dir, bin, dir),
                 0, "%s", read_whole(path("ema.txt"), NULL));
    /* sample: the averages unless --no-ema; a model without ema refuses the flag */
    cr_assert_eq(run("cd %s && %s sample --checkpoint a/checkpoint.ckpt -n 50 -o avg.npy && "
                     "%s sample --checkpoint a/checkpoint.ckpt -n 50 --no-ema -o raw.npy", dir, bin, bin), 0);
    cr_expect(!same_file(path("avg.npy"), path("raw.npy")), "--no-ema changed nothing");
    expect_error("--no-ema without an ema", xprintf("%s sample --checkpoint %s/a/checkpoint.ckpt --no-ema -o %%s/x.npy",
                 trainer("gan_ring"), dir), "is for models with an ema only");
    /* the sampler bakes the averages: the same numbers as the trainer's
     * generator on them (sampler_check swaps them in) */
    const char *genc = getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc";
    cr_assert_eq(run("%s %s --sampler --weights %s/a/checkpoint.ckpt -o %s/ema_s.c && "
                     "%s %s --sampler --no-ema --weights %s/a/checkpoint.ckpt -o %s/raw_s.c",
                     genc, file, dir, dir, genc, file, dir, dir), 0);
    cr_expect(!same_file(path("ema_s.c"), path("raw_s.c")), "the sampler ignored --no-ema");
    expect_sampler_matches(dir, "ema_s", bin, path("a/checkpoint.ckpt"));
}
/* A copy of spec `from` with each `old` replaced by `new`, built as `name`. */
static char *build_variant(const char *from, const char *name, const char *const *edits, int n) {
    char *text = read_whole(from, NULL);
    cr_assert(text, "no %s", from);
    for (int k = 0; k < n; k++) {
        char *at = strstr(text, edits[2 * k]);
        cr_assert(at, "'%s' is not in %s", edits[2 * k], from);
        *at = 0;
        text = xprintf("%s%s%s", text, edits[2 * k + 1], at + strlen(edits[2 * k]));
    }
    char *file = path(xprintf("%s.gm", name));
    write_file(file, text, strlen(text));
    return build_trainer(file, name);
}

/* spectral_norm.  On gan_ring's D (dense): after 300 steps of one power
 * iteration each, sigma = u^T W v is W's largest singular value to 1e-3
 * (tests/sn_check.py finds it independently).  On sngan with the
 * generator's deconvs normalized too (their u runs along the columns):
 * gradients check, runs resume exactly, the sampler folds W / sigma into
 * its weights and matches the trainer, and after a few steps sigma is near
 * the largest singular value of every layer, deconvs included. */
Test(e2e, spectral_norm_converges_resumes_and_folds_into_samplers, .timeout = 300) {
    const char *dir = test_tmpdir();
    const char *ring_edits[] = {"network D : [2] -> [1]  { dense 128; relu; dense 128; relu; dense 1 }",
                                "network D : [2] -> [1]  { dense 128 spectral_norm; relu; dense 128 spectral_norm; "
                                "relu; dense 1 spectral_norm }",
                                "{ form nonsaturating }", "{ form hinge }"};
    char *ring = build_variant("specs/gan_ring.gm", "sn_ring", ring_edits, 2);
    cr_assert_eq(run("%s train --steps 300 --quiet --threads 1 --out %s/ring", ring, dir), 0);
    cr_expect_eq(run("python3 tests/sn_check.py %s/ring/checkpoint.ckpt %s.c 1e-3 > %s/ring.txt 2>&1", dir, ring, dir),
                 0, "%s", read_whole(path("ring.txt"), NULL));

    const char *gan_edits[] = {"deconv 64 k4 s2 p1 nobias;", "deconv 64 k4 s2 p1 nobias spectral_norm;",
                               "deconv 1 k4 s2 p1;", "deconv 1 k4 s2 p1 spectral_norm;"};
    char *bin = build_variant("specs/sngan.gm", "sng", gan_edits, 2);
    cr_expect_eq(run("%s gradcheck > %s/sng.gc", bin, dir), 0, "%s", read_whole(path("sng.gc"), NULL));
    expect_resume_exact(dir, bin, "--threads 1", 6);
    /* 6 steps from random vectors: not converged, but a vector on the
     * wrong side of a weight would be far off */
    cr_expect_eq(run("python3 tests/sn_check.py %s/a/checkpoint.ckpt %s.c 0.15 > %s/sng.txt 2>&1", dir, bin, dir), 0,
                 "%s", read_whole(path("sng.txt"), NULL));
    const char *genc = getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc";
    cr_assert_eq(run("%s %s/sng.gm --sampler --weights %s/a/checkpoint.ckpt -o %s/sng_s.c", genc, dir, dir, dir), 0);
    cr_expect_eq(run("grep -q 'sn_power\\|weight_u' %s/sng_s.c", dir), 1, "the sampler runs the power iteration");
    expect_sampler_matches(dir, "sng_s", bin, path("a/checkpoint.ckpt"));
}
/* augment (DiffAugment) on tests/specs/zoo.gm, a small image GAN: its
 * draws come from the step's hash, so a run resumes exactly; and they
 * change what D sees (the run without them differs from step 1).  The
 * transforms' semantics and gradients are checked in test_ops and
 * test_grad (zoo's whole-objective gradcheck runs through them). */
Test(e2e, augment_resumes_exactly_and_changes_what_d_sees, .timeout = 300) {
    const char *dir = test_tmpdir();
    char *bin = build_trainer("tests/specs/zoo.gm", "zoo");
    expect_resume_exact(dir, bin, "--threads 1", quick() ? 4 : 10);
    const char *edits[] = {"augment { translation; cutout 0.3; color }\n", ""};
    char *plain = build_variant("tests/specs/zoo.gm", "zoo_plain", edits, 1);
    cr_assert_eq(run("cd %s && %s train --steps 1 --quiet --threads 1 --out p", dir, plain), 0);
    char *with = metrics_sans_time(path("a/metrics.csv")), *without = metrics_sans_time(path("p/metrics.csv"));
    char *row1 = strchr(with, '\n'), *row1p = strchr(without, '\n');
    cr_assert(row1 && row1p);
    cr_expect(strncmp(row1, row1p, (size_t)(strchr(row1 + 1, '\n') - row1)), "step 1 is the same without augment: %s",
              row1);
}

/* genc --sampler on a checkpoint of `model`: strict C99 with gcc and clang
 * at -O0, -Os and -O2, libc and libm symbols only, and the same numbers as
 * the trainer's eval-mode generator. */
static const char *upper_name(const char *s) {
    char *u = xstrdup(s);
    for (char *p = u; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    return u;
}

static void check_sampler(const char *model, int steps, double int8_tol) {
    const char *dir = test_tmpdir();
    const char *genc = getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc";
    cr_assert_eq(run("%s train --steps %d --quiet --out %s/%s_run", trainer(model), steps, dir, model), 0);
    cr_assert_eq(run("%s specs/%s.gm --sampler --weights %s/%s_run/checkpoint.ckpt -o %s/%s_s.c", genc, model, dir,
                     model, dir, model), 0);
    const char *ccs[] = {"gcc", "clang"}, *opts[] = {"-O0", "-Os", "-O2"};
    for (int c = 0; c < 2; c++)
        for (int o = quick() ? 2 : 0; o < 3; o++) /* the quick run builds -O2 only */
            cr_expect_eq(run("%s -std=c99 -Wall -Wextra -Wpedantic -Werror %s -c %s/%s_s.c -o %s/%s_s%d%d.o", ccs[c],
                             opts[o], dir, model, dir, model, c, o), 0, "%s %s rejects the %s sampler", ccs[c],
                         opts[o], model);
    cr_expect_eq(run("nm -u %s/%s_s02.o | grep -Ev ' (cos|sin|log|exp|sqrt|tanh|memset|memcpy)f?$' | "
                     "grep -q .", dir, model), 1, "the %s sampler needs symbols beyond libc and libm", model);
    cr_expect_eq(run("nm -u %s/%s_s02.o | grep -Eq 'malloc|printf|free|fopen|cblas|genrt'", dir, model), 1);
    bool cond = !strcmp(model, "cgan") || !strcmp(model, "cvae");
    const char *api = !strcmp(model, "cyclegan")
        ? xprintf("-DTRANSLATE_AB=%s_s_translate_ab -DTRANSLATE_BA=%s_s_translate_ba", model, model)
        : xprintf("-DSAMPLE=%s_s_sample -DSAMPLER_CLASSES=%d", model, cond);
    /* the trainer's C once, for both checks, unoptimized: it only runs the
     * generator on a few batches, and at -O2 cyclegan's takes 45 s to
     * compile (-O0: 4 s; the same float semantics either way) */
    cr_assert_eq(run("${CC:-cc} -std=c11 -O0 -Iruntime $(pkg-config --cflags openblas) -DGENC_NO_MAIN -c "
                     "generated/%s.c -o %s/%s_trainer.o", model, dir, model), 0);
    cr_assert_eq(run("${CC:-cc} -std=c11 -O2 -Iruntime -I%s $(pkg-config --cflags openblas) "
                     "-DSAMPLER_H='\"%s_s.h\"' %s tests/sampler_check.c "
                     "%s/%s_s.c %s/%s_trainer.o build/libgenrt.a -lstb $(pkg-config --libs openblas) -lz -lm "
                     "-o %s/%s_check 2>/dev/null", dir, model, api, dir, model, dir, model, dir, model), 0);
    cr_expect_eq(run("%s/%s_check %s/%s_run/checkpoint.ckpt", dir, model, dir, model), 0,
                 "the %s sampler differs from the trainer's generator", model);

    /* --quantize int8 on the same checkpoint: strict C99 as well, says so in
     * its header, and stays near the trainer (int8_tol of the output's
     * scale; measured: well under half of it) */
    cr_assert_eq(run("%s specs/%s.gm --sampler --weights %s/%s_run/checkpoint.ckpt --quantize int8 -o %s/%s_q.c", genc,
                     model, dir, model, dir, model), 0);
    for (int c = 0; c < 2; c++)
        cr_expect_eq(run("%s -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -c %s/%s_q.c -o %s/%s_q%d.o", ccs[c], dir,
                         model, dir, model, c), 0, "%s rejects the int8 %s sampler", ccs[c], model);
    cr_expect_eq(run("nm -u %s/%s_q0.o | grep -Ev ' (cos|sin|log|exp|sqrt|tanh|memset|memcpy)f?$' | grep -q .", dir,
                     model), 1, "the int8 %s sampler needs symbols beyond libc and libm", model);
    cr_expect_eq(run("grep -q '^#define %s_Q_QUANTIZE \"int8\"$' %s/%s_q.h", upper_name(model), dir, model), 0);
    cr_expect_eq(run("grep -q QUANTIZE %s/%s_s.h", dir, model), 1, "the float sampler's header names a quantization");
    const char *qapi = !strcmp(model, "cyclegan")
        ? xprintf("-DTRANSLATE_AB=%s_q_translate_ab -DTRANSLATE_BA=%s_q_translate_ba", model, model)
        : xprintf("-DSAMPLE=%s_q_sample -DSAMPLER_CLASSES=%d", model, cond);
    cr_assert_eq(run("${CC:-cc} -std=c11 -O2 -Iruntime -I%s $(pkg-config --cflags openblas) "
                     "-DSAMPLER_H='\"%s_q.h\"' -DSAMPLER_TOLERANCE=%g %s tests/sampler_check.c "
                     "%s/%s_q.c %s/%s_trainer.o build/libgenrt.a -lstb $(pkg-config --libs openblas) -lz -lm "
                     "-o %s/%s_qcheck 2>/dev/null", dir, model, int8_tol, qapi, dir, model, dir, model, dir, model), 0);
    cr_expect_eq(run("%s/%s_qcheck %s/%s_run/checkpoint.ckpt", dir, model, dir, model), 0,
                 "the int8 %s sampler is further than %g from the trainer's generator", model, int8_tol);
}

Test(sampler, dcgan_matches_trainer_and_builds_strictly, .timeout = 600) { check_sampler("dcgan", 30, 0.1); }

/* --weights-file: the same numbers from weights in a blob the caller loads,
 * float (NAME blobbed) and int8 (qblob, within 0.1 of the output's scale) */
Test(sampler, weights_file_blob, .timeout = 600) {
    const char *dir = test_tmpdir();
    const char *genc = getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc";
    cr_assert_eq(run("%s train --steps 20 --quiet --out %s/run", trainer("dcgan"), dir), 0);
    cr_assert_eq(run("${CC:-cc} -std=c11 -O2 -Iruntime $(pkg-config --cflags openblas) -DGENC_NO_MAIN -c "
                     "generated/dcgan.c -o %s/trainer.o", dir), 0);
    const char *names[] = {"blobbed", "qblob"}, *flags[] = {"", "--quantize int8"};
    const double tol[] = {1e-5, 0.1};
    const long max_c[] = {100000, 100000}, max_bin[] = {4000000, 1000000};
    for (int k = 0; k < 2; k++) {
        const char *n = names[k];
        cr_assert_eq(run("%s specs/dcgan.gm --sampler --weights %s/run/checkpoint.ckpt --weights-file %s -o %s/%s.c",
                         genc, dir, flags[k], dir, n), 0);
        cr_expect_eq(run("test $(stat -c %%s %s/%s.c) -lt %ld", dir, n, max_c[k]), 0, "weights went into the C anyway");
        cr_expect_eq(run("test $(stat -c %%s %s/%s.bin) -lt %ld", dir, n, max_bin[k]), 0, "%s.bin is too large", n);
        cr_assert_eq(run("${CC:-cc} -std=c11 -O2 -Iruntime -I%s $(pkg-config --cflags openblas) "
                         "-DSAMPLER_H='\"%s.h\"' -DSAMPLE=%s_sample -DSAMPLER_INIT=%s_init -DSAMPLER_CLASSES=0 "
                         "-DSAMPLER_TOLERANCE=%g tests/sampler_check.c %s/%s.c %s/trainer.o build/libgenrt.a -lstb "
                         "$(pkg-config --libs openblas) -lz -lm -o %s/%s_check 2>/dev/null", dir, n, n, n, tol[k], dir,
                         n, dir, dir, n), 0);
    }
    for (int k = 0; k < 2; k++) {
        const char *n = names[k];
        cr_expect_eq(run("%s/%s_check %s/run/checkpoint.ckpt %s/%s.bin", dir, n, dir, dir, n), 0);
        /* and the other one's blob is refused */
        cr_expect_eq(run("%s/%s_check %s/run/checkpoint.ckpt %s/%s.bin", dir, n, dir, dir, names[1 - k]), 2,
                     "%s took %s's blob", n, names[1 - k]);
    }
}
Test(sampler, cgan_matches_trainer_and_builds_strictly, .timeout = 600) { check_sampler("cgan", 20, 0.1); }
Test(sampler, gan_ring_matches_trainer_and_builds_strictly, .timeout = 600) { check_sampler("gan_ring", 100, 0.02); }
Test(sampler, vae_decoder_matches_trainer_and_builds_strictly, .timeout = 600) { check_sampler("vae", 50, 0.02); }
Test(sampler, cvae_decoder_takes_a_label_and_matches_trainer, .timeout = 600) { check_sampler("cvae", 20, 0.02); }
Test(sampler, cyclegan_translators_match_trainer_and_build_strictly, .timeout = 600) { check_sampler("cyclegan", 5, 0.1); }
Test(sampler, gan_mlp_matches_trainer_and_builds_strictly, .timeout = 600) { check_sampler("gan_mlp", 20, 0.02); }

/* ---- int8 samplers (--quantize int8) --------------------------------------------- */

/* The bytes of a sampler's weight arrays, counted in its C: 4 per float
 * (real) value, 1 per int8 (signed char) one. */
static long weight_bytes(const char *c_path) {
    char *s = read_whole(c_path, NULL);
    cr_assert(s, "no %s", c_path);
    long total = 0;
    for (char *l = strtok(s, "\n"); l; l = strtok(NULL, "\n")) {
        char name[64];
        long n;
        if (sscanf(l, "static const real %63[a-z0-9_][%ld] = {", name, &n) == 2)
            total += 4 * n;
        else if (sscanf(l, "static const signed char %63[a-z0-9_][%ld] = {", name, &n) == 2)
            total += n;
    }
    return total;
}

struct deviation {
    double max_dev, rel_range, mad, worst_channel;
};

/* tests/quant_check.c on the float sampler F and the int8 sampler Q of the
 * same weights (DIR/F.c and DIR/Q.c): n samples from seeds 1 .. n. */
static struct deviation int8_deviation(const char *f, const char *q, int out_c, long out_size, long n) {
    const char *dir = test_tmpdir();
    cr_assert_eq(run("gcc -std=c99 -O2 -I%s -DFLOAT_H='\"%s.h\"' -DFLOAT_SEED=%s_sample_seed -DINT8_H='\"%s.h\"' "
                     "-DINT8_SEED=%s_sample_seed -DOUT_C=%d -DOUT_SIZE=%ld tests/quant_check.c %s/%s.c %s/%s.c -lm "
                     "-o %s/%s_qc", dir, f, f, q, q, out_c, out_size, dir, f, dir, q, dir, q), 0);
    cr_assert_eq(run("%s/%s_qc %ld > %s/%s_qc.txt", dir, q, n, dir, q), 0);
    char *out = read_whole(xprintf("%s/%s_qc.txt", dir, q), NULL);
    struct deviation d;
    long got;
    cr_assert(out && sscanf(out, "max_dev %lf rel_range %lf mad %lf worst_channel %lf samples %ld", &d.max_dev,
                            &d.rel_range, &d.mad, &d.worst_channel, &got) == 5 && got == n,
              "quant_check said: %s", out ? out : "(nothing)");
    return d;
}

/* For dcgan: the int8 weights take at most 0.3 of the float weights'
 * bytes, and the samples stay near the float sampler's (tanh outputs, in
 * [-1, 1]).  Measured on this 30-step checkpoint: see the printed line. */
Test(sampler, int8_dcgan_bytes_and_deviation, .timeout = 300) {
    if (quick())
        cr_skip_test("a minute of compiling: run in the plain suite (the other sampler tests emit int8 samplers)");
    const char *dir = test_tmpdir();
    const char *genc = getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc";
    cr_assert_eq(run("%s train --steps 30 --quiet --out %s/run", trainer("dcgan"), dir), 0);
    cr_assert_eq(run("%s specs/dcgan.gm --sampler --weights %s/run/checkpoint.ckpt -o %s/dcgan_f.c", genc, dir, dir), 0);
    cr_assert_eq(run("%s specs/dcgan.gm --sampler --weights %s/run/checkpoint.ckpt --quantize int8 -o %s/dcgan_q.c",
                     genc, dir, dir), 0);
    long fb = weight_bytes(path("dcgan_f.c")), qb = weight_bytes(path("dcgan_q.c"));
    cr_assert_gt(fb, 3000000, "the float dcgan sampler's weights: %ld bytes", fb);
    cr_expect_leq(qb, 0.3 * fb, "int8 weights %ld bytes against %ld as floats", qb, fb);
    cr_expect_eq(run("grep -q '^#define DCGAN_Q_WEIGHT_BYTES %ld$' %s/dcgan_q.h", qb, dir), 0,
                 "the header's weight bytes are not the %ld of the C's arrays", qb);
    struct deviation d = int8_deviation("dcgan_f", "dcgan_q", 1, 784, 1000);
    fprintf(stderr, "int8 dcgan sampler (30 steps): weights %ld bytes, %.3f of the float sampler's %ld; over 1,000 "
            "samples, max deviation %.4f (%.4f of the output range), mean absolute deviation %.5f\n", qb,
            (double)qb / (double)fb, fb, d.max_dev, d.rel_range, d.mad);
    cr_expect_leq(d.rel_range, 0.1, "max deviation %.4f of the output range", d.rel_range);
    cr_expect_leq(d.mad, 0.02, "mean absolute deviation %.5f", d.mad);
}

/* The quantizer alone: a scale per output channel, the channel of column j
 * being j % n_ch, on channels whose magnitudes differ by 1000x. */
Test(sampler, int8_quantizer_scales_each_output_channel) {
    enum { ROWS = 5, COLS = 12 };
    const int n_chs[] = {COLS, 3}; /* dense or conv; a deconv's (kh, kw, c) columns */
    for (int t = 0; t < 2; t++) {
        int n_ch = n_chs[t];
        double w[ROWS * COLS];
        signed char q[ROWS * COLS];
        float scale[COLS], max[COLS] = {0};
        for (int i = 0; i < ROWS * COLS; i++) {
            int c = i % COLS % n_ch;
            w[i] = c == 1 ? 0 : (2 * test_uniform() - 1) * pow(10, c % 4 - 2); /* channel 1: all zeros */
            max[c] = fmaxf(max[c], fabsf((float)w[i]));
        }
        quantize_int8(w, ROWS, COLS, n_ch, q, scale);
        for (int c = 0; c < n_ch; c++)
            cr_expect_eq(scale[c], max[c] / 127, "channel %d of %d: scale %g, max %g", c, n_ch, scale[c], max[c]);
        bool full[COLS] = {false};
        for (int i = 0; i < ROWS * COLS; i++) {
            int c = i % COLS % n_ch;
            cr_expect(q[i] >= -127 && q[i] <= 127);
            cr_expect_leq(fabs(q[i] * (double)scale[c] - (float)w[i]), 0.5 * scale[c] * (1 + 1e-6),
                          "entry %d (channel %d of %d): %g quantized to %d x %g", i, c, n_ch, w[i], q[i], scale[c]);
            full[c] |= q[i] == 127 || q[i] == -127;
        }
        for (int c = 0; c < n_ch; c++)
            cr_expect(c == 1 ? scale[c] == 0 : full[c], "channel %d of %d does not use the int8 range", c, n_ch);
    }
}

/* A compiled spec (data: a folder of images of shape out, or with data
 * NULL Fashion-MNIST) and (unless *state holds it already) the state a
 * checkpoint would hold, with the last layer's output channels scaled
 * 0.001, 1, 1000, 0.001, ... */
static void int8_axis_spec(const char *name, const char *out, const char *body, bool deconv, int out_c,
                           struct model *m, struct lowered *lo, float **state) {
    struct source *src = xalloc(sizeof *src);
    src->path = xprintf("%s/%s.gm", test_tmpdir(), name);
    const char *data = strcmp(out, "[1, 28, 28]") ? xprintf("images { dir \"%s/none/\"; shape %s }", test_tmpdir(), out)
                                                  : "fashion_mnist { range -1 1 }";
    src->text = xprintf("model %s\ndata %s\nlatent z ~ normal(8)\n"
                        "network G : [8] -> %s { %s }\nnetwork D : %s -> [1] { flatten; dense 1 }\n"
                        "objective gan(G, D) { form nonsaturating }\noptimize G with adam { lr 1e-3 }\n"
                        "optimize D with adam { lr 1e-3 }\ntrain { batch 4 }\n",
                        name, data, out, body, out);
    src->len = strlen(src->text);
    diag_init(src);
    struct ast ast;
    cr_assert(parse_source(src, &ast) && genc_build(&ast, src, m, lo, 0), "%s", src->text);
    if (*state)
        return;
    float *s = xalloc(sizeof(float) * (size_t)(lo->n_state + 1));
    int last = -1;
    for (int t = 0; t < lo->tensors.len; t++) {
        const struct ptensor *pt = &lo->tensors.data[t];
        float bound = pt->fan_in > 0 ? 1.0f / sqrtf((float)pt->fan_in) : 1.0f;
        for (long i = 0; i < shape_size(pt->shape); i++)
            s[pt->offset + i] = pt->init == GENRT_INIT_ONE ? 1 : pt->init == GENRT_INIT_ZERO ? 0
                              : bound * (float)(2 * test_uniform() - 1);
        size_t len = strlen(pt->name);
        if (!strncmp(pt->name, "G.", 2) && len > 7 && !strcmp(pt->name + len - 7, ".weight"))
            last = t;
    }
    cr_assert_geq(last, 0);
    const struct ptensor *w = &lo->tensors.data[last];
    long cols = w->shape.d[1];
    for (long i = 0; i < shape_size(w->shape); i++) {
        /* dense and conv weights are [out][in...]; a deconv's [in][(kh, kw, out)] */
        long ch = deconv ? i % cols % out_c : i / cols;
        s[w->offset + i] *= (float)pow(10, 3 * (ch % 3) - 3);
    }
    *state = s;
}

/* Each layer kind's int8 weights scaled along its output channels: with
 * channel magnitudes 1000x apart, a scale taken along another axis leaves
 * the small channels no levels (errors of 100% of the channel's size); per
 * output channel they stay within a few percent.  out_c: the channels
 * quant_check tells apart ([C][H][W]; a dense layer's every unit). */
static void check_int8_axis(const char *name, const char *out, const char *body, bool deconv, int out_c,
                            long out_size) {
    const char *dir = test_tmpdir();
    float *state = NULL; /* the same weights for both */
    for (int k = 0; k < 2; k++) {
        struct model m;
        struct lowered lo;
        int8_axis_spec(name, out, body, deconv, out_c, &m, &lo, &state);
        const char *sname = xprintf("%s_%s", name, k ? "q" : "f");
        struct sampler_out so;
        cr_assert(emit_sampler(&m, &lo, state, 1, "crafted.ckpt", sname, false, k ? QUANT_INT8 : QUANT_NONE, &so));
        write_file(xprintf("%s/%s.c", dir, sname), so.c, so.c_len);
        write_file(xprintf("%s/%s.h", dir, sname), so.h, so.h_len);
    }
    struct deviation d = int8_deviation(xprintf("%s_f", name), xprintf("%s_q", name), out_c, out_size, 200);
    fprintf(stderr, "int8 %s: worst output channel's deviation %.4f of its magnitude\n", name, d.worst_channel);
    cr_expect_leq(d.worst_channel, 0.05, "%s: a channel's deviation is %.3f of its magnitude", name, d.worst_channel);
}

Test(sampler, int8_dense_scales_per_output_unit) {
    check_int8_axis("qdense", "[1, 28, 28]", "dense 32; relu; dense 784 nobias; reshape [1, 28, 28]", false, 784, 784);
}
Test(sampler, int8_conv_scales_per_output_channel) {
    check_int8_axis("qconv", "[3, 4, 4]", "dense 64; relu; reshape [4, 4, 4]; conv 3 k3 s1 p1 nobias", false, 3, 48);
}
Test(sampler, int8_deconv_scales_per_output_channel) {
    check_int8_axis("qdeconv", "[3, 8, 8]", "dense 64; relu; reshape [4, 4, 4]; deconv 3 k4 s2 p1 nobias", true, 3,
                    192);
}

/* --quantize: int8 only, and only with --sampler; nothing written */
Test(sampler, quantize_flag_errors) {
    const char *dir = test_tmpdir();
    const char *genc = getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc";
    const char *cases[][2] = {
        {"--sampler --weights x.ckpt --quantize int4 -o %s/q.c",
         "genc: error: unknown --quantize mode 'int4'; the one mode is int8\n"},
        {"--quantize int8 -o %s/q.c",
         "genc: error: --quantize int8 quantizes a sampler's weights; it goes with --sampler\n"},
        {"--sampler --weights x.ckpt -o %s/q.c --quantize", "genc: error: --quantize needs a mode: int8\n"},
    };
    for (int k = 0; k < 3; k++) {
        const char *args = xprintf(cases[k][0], dir);
        cr_expect_eq(run("%s specs/dcgan.gm %s 2> %s/err", genc, args, dir), 1, "genc %s", args);
        char *err = read_whole(path("err"), NULL);
        cr_expect(err && !strcmp(err, cases[k][1]), "genc %s: %s", args, err ? err : "(nothing)");
        cr_expect_neq(run("test -e %s/q.c", dir), 0, "genc %s wrote q.c", args);
    }
}

/* ---- the classifier and score --------------------------------------------------- */

static double score_value(const char *line, const char *name) {
    const char *p = line ? strstr(line, xprintf("%s=", name)) : NULL;
    cr_assert(p, "no %s= in: %s", name, line ? line : "(nothing)");
    return strtod(p + strlen(name) + 1, NULL);
}

/* specs/fmnist_classifier.gm trains, evaluates, and scores a briefly
 * trained dcgan and gan_ring end to end: the metrics of samples, and the
 * real test set against the real training set, which must be closer. */
Test(e2e, classifier_trains_evaluates_and_scores_samples, .timeout = 300) {
    const char *dir = test_tmpdir();
    const char *cls = trainer("fmnist_classifier"), *dc = trainer("dcgan"), *ring = trainer("gan_ring");
    int steps = quick() ? 10 : 100, n = quick() ? 100 : 500;
    cr_assert_eq(run("%s train --steps %d --quiet --out %s/cls", cls, steps, dir), 0);
    char *head = read_whole(path("cls/metrics.csv"), NULL);
    cr_expect(head && !strncmp(head, "step,loss,acc,seconds\n", 22), "header: %.40s", head ? head : "");
    cr_expect_eq(run("test -x %s/cls/trainer", dir), 0, "the classifier's run names no trainer");
    if (!quick()) { /* eval reads all 70,000 examples */
        cr_assert_eq(run("%s eval --checkpoint %s/cls/checkpoint.ckpt > %s/eval.txt", cls, dir, dir), 0);
        char *ev = read_whole(path("eval.txt"), NULL);
        const char *t = ev ? strstr(ev, "test: accuracy ") : NULL;
        cr_assert(t, "eval: %s", ev ? ev : "(nothing)");
        double acc = strtod(t + 15, NULL);
        cr_expect(acc > 0.6 && acc <= 1, "test accuracy %g after %d steps", acc, steps);
    }
    cr_assert_eq(run("%s train --steps %d --quiet --out %s/dc", dc, quick() ? 2 : 20, dir), 0);
    const char *ck = xprintf("--classifier %s/cls/checkpoint.ckpt -n %d", dir, n);
    cr_assert_eq(run("%s score %s --checkpoint %s/dc/checkpoint.ckpt -o %s/s.csv > %s/s.txt", dc, ck, dir, dir, dir),
                 0);
    cr_assert_eq(run("%s score %s --reference > %s/r.txt", dc, ck, dir), 0);
    char *s = read_whole(path("s.txt"), NULL), *r = read_whole(path("r.txt"), NULL);
    double fd = score_value(s, "fd"), fd_ref = score_value(r, "fd");
    printf("score: dcgan after a few steps fd %.3f precision %.3f recall %.3f; real test vs train fd %.3f\n", fd,
           score_value(s, "precision"), score_value(s, "recall"), fd_ref);
    cr_expect(fd > 0 && isfinite(fd), "fd %g", fd);
    cr_expect(fd_ref < fd / 5, "the reference fd %g is not well below the samples' %g", fd_ref, fd);
    cr_expect(score_value(r, "precision") > 0.5 && score_value(r, "recall") > 0.5, "reference: %s", r);
    char *csv = read_whole(path("s.csv"), NULL);
    cr_expect(csv && !strncmp(csv, "fd,precision,recall\n", 20), "csv: %s", csv ? csv : "(nothing)");
    /* the same again: the same numbers */
    cr_assert_eq(run("%s score %s --checkpoint %s/dc/checkpoint.ckpt > %s/s2.txt", dc, ck, dir, dir), 0);
    cr_expect(same_file(path("s.txt"), path("s2.txt")), "score is not deterministic");
    /* ring8: modes and high quality, without a classifier */
    cr_assert_eq(run("%s train --steps 20 --quiet --out %s/ring && %s score --checkpoint %s/ring/checkpoint.ckpt "
                     "-n 1000 > %s/ring.txt && %s score --reference -n 1000 > %s/ringref.txt", ring, dir, ring, dir,
                     dir, ring, dir), 0);
    char *rr = read_whole(path("ringref.txt"), NULL);
    score_value(read_whole(path("ring.txt"), NULL), "high_quality");
    cr_expect_eq(score_value(rr, "modes"), 8, "the real ring: %s", rr);
    cr_expect_gt(score_value(rr, "high_quality"), 0.97, "the real ring: %s", rr);
    /* a CycleGAN (sneakers, class 7 <-> ankle boots, class 9): each
     * direction's fd, precision, recall and the share of translations the
     * classifier calls the other domain's class; the reference compares
     * each domain's test examples with the other's training examples */
    const char *cg = trainer("cyclegan");
    cr_assert_eq(run("%s train --steps 2 --quiet --out %s/cg && %s score %s --checkpoint %s/cg/checkpoint.ckpt "
                     "> %s/cg.txt && %s score %s --reference > %s/cgref.txt", cg, dir, cg, ck, dir, dir, cg, ck, dir),
                 0);
    char *cs = read_whole(path("cg.txt"), NULL), *cr = read_whole(path("cgref.txt"), NULL);
    printf("score: cyclegan after 2 steps %s", cs ? cs : "(nothing)\n");
    static const char *const names[] = {"fd_A", "precision_A", "recall_A", "class_A",
                                        "fd_B", "precision_B", "recall_B", "class_B"};
    for (int i = 0; i < 8; i++) {
        double v = score_value(cs, names[i]), ref = score_value(cr, names[i]);
        cr_expect(isfinite(v) && v >= 0 && (i % 4 == 0 || v <= 1), "%s=%g: %s", names[i], v, cs);
        cr_expect(isfinite(ref) && ref >= 0, "reference %s=%g: %s", names[i], ref, cr);
    }
    if (!quick()) { /* a 100-step classifier tells a real sneaker from a real boot */
        cr_expect_gt(score_value(cr, "class_A"), 0.8, "reference: %s", cr);
        cr_expect_gt(score_value(cr, "class_B"), 0.8, "reference: %s", cr);
        cr_expect_lt(score_value(cr, "fd_A"), score_value(cs, "fd_A"), "reference: %s; samples: %s", cr, cs);
    }
}

/* step's row of a metrics.csv, or NULL */
static char *row_of(const char *csv, int step) {
    const char *p = csv ? strstr(csv, xprintf("\n%d,", step)) : NULL;
    if (!p)
        return NULL;
    const char *end = strchr(p + 1, '\n');
    return xstrndup(p + 1, end ? (size_t)(end - p - 1) : strlen(p + 1));
}

/* A trainer of a test spec, built with genc and the plain runtime. */
static const char *build_test_spec(const char *dir, const char *name) {
    const char *genc = getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc";
    cr_assert_eq(run("%s tests/specs/%s.gm -o %s/%s.c && ${CC:-cc} -std=c11 -O1 -Iruntime "
                     "$(pkg-config --cflags openblas) %s/%s.c build/libgenrt.a -lstb $(pkg-config --libs openblas) "
                     "-lz -lm -o %s/%s", genc, name, dir, name, dir, name, dir, name), 0);
    return xprintf("%s/%s", dir, name);
}

/* train { score_every K; classifier "PATH" }: score's columns in
 * metrics.csv every K steps (blank cells between), and a resumed run's
 * rows, scores included, are the uninterrupted run's */
Test(e2e, score_every_adds_columns_and_resumes_exactly, .timeout = 300) {
    const char *dir = test_tmpdir();
    const char *ring = build_test_spec(dir, "scored_ring");
    expect_resume_exact(dir, ring, "", 30);
    char *m = read_whole(path("a/metrics.csv"), NULL);
    cr_assert(m && !strncmp(m, "step,loss_D,loss_G,D_x,D_G_z,modes,high_quality,seconds\n", 55), "%.80s", m);
    char *four = row_of(m, 4), *five = row_of(m, 5);
    cr_expect(four && strstr(four, ",,,"), "step 4 is not blank: %s", four);
    cr_expect(five && !strstr(five, ",,"), "step 5 has no scores: %s", five);
    if (quick()) /* 10,000 samples a score: the plain suite's */
        return;
    cr_assert_eq(run("%s train --steps 5 --quiet --out %s/cls", trainer("fmnist_classifier"), dir), 0);
    const char *mlp = build_test_spec(dir, "scored_mlp");
    cr_assert_eq(run("cd %s && rm -r a c half.ckpt", dir), 0);
    expect_resume_exact(dir, mlp, "", 20);
    m = read_whole(path("a/metrics.csv"), NULL);
    cr_expect(m && !strncmp(m, "step,loss_D,loss_G,D_x,D_G_z,fd,precision,recall,seconds\n", 56), "%.80s", m);
    char *ten = row_of(m, 10);
    cr_expect(ten && !strstr(ten, ",,"), "step 10 has no scores: %s", ten);
    expect_error("score_every without its classifier", xprintf("cd %s && rm -r cls && %s train --out b --quiet",
                 dir, mlp), "no classifier trainer beside cls/checkpoint.ckpt");
}

/* score's bad input: one clear line, exit 1 */
Test(e2e, score_refuses_bad_input, .timeout = 300) {
    const char *dir = test_tmpdir();
    const char *cls = trainer("fmnist_classifier"), *dc = trainer("dcgan"), *cg = trainer("cgan");
    cr_assert_eq(run("%s train --steps 2 --quiet --out %s/cls && %s train --steps 2 --quiet --out %s/dc && "
                     "%s train --steps 2 --quiet --out %s/cg", cls, dir, dc, dir, cg, dir), 0);
    char *ck = xprintf("%s/cls/checkpoint.ckpt", dir);
    expect_error("no classifier", xprintf("%s score --checkpoint %s/dc/checkpoint.ckpt", dc, dir),
                 "missing --classifier");
    expect_error("no checkpoint", xprintf("cd %s && %s/%s score --classifier %s", dir, cwd(), dc, ck),
                 "runs/dcgan/checkpoint.ckpt does not exist");
    /* a dcgan checkpoint is no classifier's: its own directory names no
     * trainer, and the classifier's trainer refuses it */
    expect_error("no trainer beside", xprintf("%s score --checkpoint %s/dc/checkpoint.ckpt --classifier "
                 "%s/dc/checkpoint.ckpt", dc, dir, dir), "no classifier trainer beside");
    expect_error("classifier of another spec", xprintf("cp %s specs/fmnist_classifier.gm %s/ && %s score --checkpoint %s/dc/checkpoint.ckpt "
                 "--classifier %s/dc/checkpoint.ckpt --spec %s/fmnist_classifier.gm", cls, dir, dc, dir, dir, dir),
                 "another spec");
    expect_error("no trainer for the spec", xprintf("touch %s/nothing.gm && %s score --checkpoint %s/dc/checkpoint.ckpt "
                 "--classifier %s --spec %s/nothing.gm", dir, dc, dir, ck, dir), "no trainer built from it");
    expect_error("ring8 with a classifier", xprintf("%s score --classifier %s", trainer("gan_ring"), ck),
                 "without a classifier");
    expect_error("a .png", xprintf("%s score --classifier %s --checkpoint %s/dc/checkpoint.ckpt -o %s/x.png", dc, ck,
                 dir, dir), "must end in .csv");
    /* a two-class classifier of a folder: not the cgan's 10 classes */
    const char *genc = getenv("GENC_BIN") ? getenv("GENC_BIN") : "build/genc";
    random_pngs_of(xprintf("%s/cls2/a", dir), 4, 1, 1);
    random_pngs_of(xprintf("%s/cls2/b", dir), 4, 2, 1);
    cr_assert_eq(run("%s tests/specs/classifier2.gm -o %s/classifier2.c && ${CC:-cc} -std=c11 -O1 -Iruntime "
                     "$(pkg-config --cflags openblas) %s/classifier2.c build/libgenrt.a -lstb "
                     "$(pkg-config --libs openblas) -lz -lm -o %s/classifier2 && cd %s && ./classifier2 train "
                     "--quiet --out c2", genc, dir, dir, dir, dir), 0);
    expect_error("classes that do not match", xprintf("%s score --checkpoint %s/cg/checkpoint.ckpt --classifier "
                 "%s/c2/checkpoint.ckpt -n 50", cg, dir, dir), "the classifier has 2 classes, but the model is "
                 "conditional on 10");
    /* features of something that is no .npy */
    expect_error("features of a checkpoint", xprintf("%s features --checkpoint %s --input "
                 "%s/cls/checkpoint.ckpt -o %s/f.npy", cls, ck, dir, dir), "not a NumPy .npy file");
}
