/* test_frontend.c: lexer, parser, semantic analysis (names, shapes),
 * diagnostics against golden files, and generated/ against genc's output. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "genc.h"
#include "genrt_ckpt.h"
#include "helpers.h"
#include "emit/emit.h"
#include "lower.h"

TestSuite(lexer, .fini = genc_free_all);
TestSuite(parser, .fini = genc_free_all);
TestSuite(shapes, .fini = genc_free_all);
TestSuite(names, .fini = genc_free_all);
TestSuite(diagnostics, .fini = genc_free_all);
TestSuite(emit, .fini = genc_free_all);
TestSuite(output, .fini = genc_free_all);

static const char *genc_bin(void) {
    const char *b = getenv("GENC_BIN");
    return b ? b : "build/genc";
}

/* Parse and check a spec given as a string; diagnostics go to a file. */
static bool compile_str(const char *text, struct model *m, char **diags) {
    char *path = xprintf("%s/diag.txt", test_tmpdir());
    FILE *saved = stderr;
    stderr = fopen(path, "w");
    struct source src = {.path = "t.gm", .text = text, .len = strlen(text)};
    diag_init(&src);
    struct ast ast;
    bool ok = parse_source(&src, &ast) && sema(&ast, &src, m);
    fclose(stderr);
    stderr = saved;
    if (diags)
        *diags = read_whole(path, NULL);
    return ok;
}

static const char *const ring_prefix =
    "model t\ndata ring8 { }\nlatent z ~ normal(16)\n"
    "objective gan(G, D) { form nonsaturating }\n"
    "optimize G with adam { lr 1e-3 }\noptimize D with sgd { lr 0.1; momentum 0.9; nesterov }\n";

static char *with_nets(const char *nets) { return xprintf("%s%s", ring_prefix, nets); }

/* ---- lexer and parser ----------------------------------------------------- */

Test(lexer, numbers_words_and_strings) {
    struct model m;
    char *d;
    cr_assert(compile_str("# a comment\nmodel m\ndata fashion_mnist { path \"/x\"; split test; range -1 1 }\n"
                          "latent z ~ uniform(100)\nnetwork G : [100] -> [784] { dense 784; tanh }\n"
                          "network D : [784] -> [1] { dense 1 }\nobjective gan(G, D) { form minimax }\n"
                          "optimize G with adam { lr 2e-4; beta1 .5 }\noptimize D with adam { lr 2.0E-4 }\n"
                          "train { batch 8; steps 3; seed 7 }\n", &m, &d), "%s", d);
    cr_expect_str_eq(m.data.path, "/x");
    cr_expect(!m.data.train);
    cr_expect_float_eq(m.data.lo, -1, 0);
    cr_expect_eq(m.latent.kind, LATENT_UNIFORM);
    cr_expect_float_eq(m.opts.data[0].lr, 2e-4, 1e-12);
    cr_expect_float_eq(m.opts.data[0].beta1, 0.5, 1e-12);
    cr_expect_eq(gan_form(&m), FORM_MINIMAX);
    cr_expect_eq(m.train.batch, 8);
    cr_expect_eq(m.train.seed, 7);
}

Test(lexer, rejects_unterminated_string) {
    struct model m;
    char *d;
    cr_assert(!compile_str("model m\ndata fashion_mnist { path \"/x; }\n", &m, &d));
    cr_expect(strstr(d, "t.gm:2:27: error: unterminated string"), "%s", d);
}

Test(lexer, rejects_stray_bytes_and_huge_numbers) {
    struct model m;
    char *d;
    cr_assert(!compile_str("model m\x01\n", &m, &d));
    cr_expect(strstr(d, "t.gm:1:8: error: stray byte 0x01 in spec"), "%s", d);
    cr_assert(!compile_str("latent z ~ normal(1e999)\n", &m, &d));
    cr_expect(strstr(d, "t.gm:1:19: error: number '1e999' is out of range"), "%s", d);
}

Test(parser, last_statement_needs_no_semicolon) {
    struct model m;
    cr_assert(compile_str(with_nets("network G : [16] -> [2] { dense 2 }\n"
                                    "network D : [2] -> [1] { dense 1; }\n"), &m, NULL));
    cr_expect_eq(m.nets.len, 2);
}

Test(parser, reports_several_errors_and_recovers) {
    struct model m;
    char *d;
    cr_assert(!compile_str(with_nets("network G : [16] -> [2] { dense 2 2 2; dense ; ] ; dense 2 }\n"
                                     "network D : [2] -> [1] { dense 1 +; }\n"), &m, &d));
    int n = 0;
    for (char *p = d; (p = strstr(p, "error:")); p++)
        n++;
    cr_expect_geq(n, 2, "%s", d);
}

Test(parser, deep_nesting_is_an_error_not_a_crash) {
    size_t n = 10000;
    char *s = xalloc(3 * n + 64);
    strcpy(s, "model m\nnetwork G : ");
    for (size_t i = 0; i < n; i++)
        strcat(s, "[");
    struct model m;
    char *d;
    cr_assert(!compile_str(s, &m, &d));
    cr_expect(strstr(d, "error:"), "%s", d);
}

Test(parser, unterminated_block_points_at_its_start) {
    struct model m;
    char *d;
    cr_assert(!compile_str(with_nets("network G : [16] -> [2] { dense 2;\n"), &m, &d));
    cr_expect(strstr(d, "unterminated block: expected '}' before end of file"), "%s", d);
    cr_expect(strstr(d, "note: the block began here"), "%s", d);
}

/* ---- shapes ---------------------------------------------------------------- */

Test(shapes, deconv_output_padding) {
    struct model m;
    char *d;
    cr_assert(compile_str(with_nets("network G : [16] -> [2] { reshape [1, 4, 4]; deconv 2 k3 s2 op1; flatten; "
                                    "dense 2 }\nnetwork D : [2] -> [1] { dense 1 }\n"), &m, &d), "%s", d);
    const struct layer *l = &m.nets.data[0].layers.data[1];
    cr_expect_eq(l->out_pad, 1);
    cr_expect_str_eq(shape_str(l->out), "[2, 10, 10]"); /* (4 - 1) * 2 + 3 + 1 */
}

Test(shapes, rmsprop_centered_with_momentum_lowers) {
    /* its step takes 5 inputs; genc stopped with an internal error */
    struct model m;
    char *d;
    cr_assert(compile_str(read_whole("tests/fuzz/regress/compiler/rmsprop_centered_momentum.gm", NULL), &m, &d),
              "%s", d);
    struct lowered lo;
    lower_model(&m, &lo);
    run_passes(&lo);
    size_t len;
    cr_expect(strstr(emit_c(&m, &lo, NULL, &len), "rmsprop_update("));
}

Test(shapes, sizes_never_overflow) {
    cr_expect_eq(shape_size((struct shape){3, {100000000, 100000000, 100000000}}), LONG_MAX);
    cr_expect_eq(shape_size((struct shape){2, {50000, 50000}}), 2500000000L);
}

Test(shapes, inferred_per_layer) {
    struct model m;
    char *d;
    cr_assert(compile_str(with_nets("network G : [16] -> [2] { dense 12; relu; reshape [3, 2, 2]; flatten; "
                                    "dense 2 nobias }\n"
                                    "network D : [2] -> [1] { dense 5; leaky_relu; dense 1 }\n"), &m, &d), "%s", d);
    const struct network *g = &m.nets.data[0];
    cr_assert_eq(g->layers.len, 5);
    cr_expect_str_eq(shape_str(g->layers.data[0].out), "[12]");
    cr_expect_str_eq(shape_str(g->layers.data[2].out), "[3, 2, 2]");
    cr_expect_str_eq(shape_str(g->layers.data[3].out), "[12]");
    cr_expect_eq(g->layers.data[0].n_params, 16 * 12 + 12);
    cr_expect_eq(g->layers.data[4].n_params, 12 * 2);
    cr_expect_eq(g->layers.data[4].macs, 12 * 2);
    cr_expect_float_eq(m.nets.data[1].layers.data[1].alpha, 0.01, 1e-12);
}

Test(shapes, mismatches_name_the_layer_and_both_shapes) {
    struct model m;
    char *d;
    cr_assert(!compile_str(with_nets("network G : [16] -> [2] { reshape [4, 4]; dense 2 }\n"
                                     "network D : [2] -> [1] { dense 1 }\n"), &m, &d));
    cr_expect(strstr(d, "G: dense expects [features] input, got [4, 4]"), "%s", d);
    cr_assert(!compile_str(with_nets("network G : [16] -> [3] { dense 3 }\n"
                                     "network D : [2] -> [1] { dense 1 }\n"), &m, &d));
    cr_expect(strstr(d, "discriminator 'D' takes [2], but generator 'G' makes [3]"), "%s", d);
    cr_assert(!compile_str(with_nets("network G : [16] -> [2] { dense 3 }\n"
                                     "network D : [2] -> [1] { dense 1 }\n"), &m, &d));
    cr_expect(strstr(d, "declared to output [2], but its layers produce [3]"), "%s", d);
}

Test(names, unknown_names_suggest_the_closest) {
    struct model m;
    char *d;
    cr_assert(!compile_str(with_nets("network G : [16] -> [2] { dens 2 }\nnetwork D : [2] -> [1] { dense 1 }\n"),
                           &m, &d));
    cr_expect(strstr(d, "unknown layer 'dens'; did you mean 'dense'?"), "%s", d);
}

/* ---- golden diagnostics ----------------------------------------------------- */

Test(diagnostics, golden_files) {
    DIR *dir = opendir("tests/bad");
    cr_assert(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".gm"))
            continue;
        char *base = xstrndup(e->d_name, len - 3);
        char *out = xprintf("%s/%s.out", test_tmpdir(), base);
        /* a spec that compiles by mistake writes its C in the test's directory */
        int rc = run("cd tests/bad && ../../%s %s.gm -o %s/%s.c 2> %s", genc_bin(), base, test_tmpdir(), base, out);
        cr_expect_eq(rc, 1, "%s: exit status %d, expected 1", base, rc);
        char *got = read_whole(out, NULL);
        char *want = read_whole(xprintf("tests/bad/%s.err", base), NULL);
        cr_assert(want, "tests/bad/%s.err is missing", base);
        cr_expect_str_eq(got, want, "%s: diagnostics differ from the golden file", base);
        n++;
    }
    closedir(dir);
    cr_expect_geq(n, 20, "only %d malformed specs", n);
}

Test(diagnostics, binary_garbage_and_empty_files) {
    char *dir = test_tmpdir();
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(test_uniform() * 256);
    write_file(xprintf("%s/junk.gm", dir), junk, sizeof junk);
    write_file(xprintf("%s/empty.gm", dir), "", 0);
    cr_expect_eq(run("%s %s/junk.gm -o %s/junk.c 2>/dev/null", genc_bin(), dir, dir), 1);
    cr_expect_eq(run("%s %s/empty.gm -o %s/empty.c 2>/dev/null", genc_bin(), dir, dir), 1);
    cr_expect_eq(run("%s %s/missing.gm 2>/dev/null", genc_bin(), dir), 1);
    cr_expect_eq(run("%s --bogus 2>/dev/null", genc_bin()), 1);
}

Test(diagnostics, spec_that_is_a_directory) {
    char *out = xprintf("%s/dir.out", test_tmpdir());
    cr_expect_eq(run("%s %s 2> %s", genc_bin(), test_tmpdir(), out), 1);
    char *d = read_whole(out, NULL);
    cr_expect(strstr(d, "it is a directory, not a spec"), "%s", d);
}

Test(diagnostics, failed_stdout_write_is_an_error) {
    /* /dev/full only as the shell's redirection target: writing fails with ENOSPC */
    char *out = xprintf("%s/full.out", test_tmpdir());
    cr_expect_eq(run("%s specs/gan_ring.gm > /dev/full 2> %s", genc_bin(), out), 1);
    char *d = read_whole(out, NULL);
    cr_expect(strstr(d, "cannot write to standard output: No space left on device"), "%s", d);
    cr_expect_eq(run("%s --help > /dev/full 2> %s", genc_bin(), out), 1);
}

/* ---- -o: what genc writes, and what it never replaces ------------------------ */

/* A new directory in the test's temp directory. */
static char *fresh_dir(const char *name) {
    char *dir = xprintf("%s/%s", test_tmpdir(), name);
    cr_assert_eq(mkdir(dir, 0777), 0);
    return dir;
}

static char *reference_c(size_t *len) {
    char *path = xprintf("%s/ref.c", test_tmpdir());
    cr_assert_eq(run("%s specs/gan_ring.gm > %s", genc_bin(), path), 0);
    return read_whole(path, len);
}

static bool has_bytes(const char *path, const char *want, size_t want_len) {
    size_t len;
    char *got = read_whole(path, &len);
    return got && len == want_len && !memcmp(got, want, len);
}

/* No temp file (X.tmp.*) is left next to the outputs in dir. */
static int temp_files_in(const char *dir) {
    return run("ls -a %s | grep -q '\\.tmp\\.'", dir) == 0;
}

Test(output, fifo_is_written_in_place) {
    size_t len;
    char *want = reference_c(&len);
    char *dir = fresh_dir("fifo");
    char *fifo = xprintf("%s/out.c", dir);
    cr_assert_eq(mkfifo(fifo, 0666), 0);
    cr_assert_eq(run("timeout 60 cat %s > %s/got.c & timeout 60 %s specs/gan_ring.gm -o %s; rc=$?; wait; exit $rc", fifo, dir,
                     genc_bin(), fifo), 0);
    struct stat st;
    cr_assert_eq(stat(fifo, &st), 0);
    cr_expect(S_ISFIFO(st.st_mode), "the FIFO was replaced");
    cr_expect(has_bytes(xprintf("%s/got.c", dir), want, len));
    cr_expect(!temp_files_in(dir));
}

Test(output, dev_stdout_through_a_pipe) {
    size_t len;
    char *want = reference_c(&len);
    char *got = xprintf("%s/piped.c", test_tmpdir());
    /* First through /dev/fd/1, which lives in /proc: a genc that renamed
     * over its output could not replace it.  genc used to read its output
     * first, and hung on the pipe. */
    cr_assert_eq(run("timeout 60 %s specs/gan_ring.gm -o /dev/fd/1 | cat > %s", genc_bin(), got), 0);
    cr_assert(has_bytes(got, want, len), "-o /dev/fd/1 | cat");
    char *log = xprintf("%s/log", test_tmpdir());
    write_file(log, "kept\n", 5);
    cr_assert_eq(run("%s specs/gan_ring.gm -o /dev/fd/1 >> %s", genc_bin(), log), 0);
    size_t n;
    char *l = read_whole(log, &n);
    cr_assert(n == 5 + len && !memcmp(l, "kept\n", 5) && !memcmp(l + 5, want, len), "-o /dev/fd/1 >> log");
    /* Only then /dev/stdout itself, which a rename would replace for the
     * whole machine. */
    cr_assert_eq(run("timeout 60 %s specs/gan_ring.gm -o /dev/stdout | cat > %s", genc_bin(), got), 0);
    cr_expect(has_bytes(got, want, len), "-o /dev/stdout | cat");
    struct stat st;
    cr_expect(lstat("/dev/stdout", &st) == 0 && S_ISLNK(st.st_mode), "/dev/stdout is no longer a symlink!");
}

Test(output, symlinks_are_followed) {
    size_t len;
    char *want = reference_c(&len);
    char *dir = fresh_dir("links");
    char *link = xprintf("%s/link.c", dir), *target = xprintf("%s/target.c", dir);
    cr_assert_eq(symlink("target.c", link), 0);
    cr_assert_eq(run("%s specs/gan_ring.gm -o %s", genc_bin(), link), 0); /* dangling: creates the target */
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_expect(S_ISLNK(st.st_mode), "the symlink was replaced");
    cr_expect(has_bytes(target, want, len));
    write_file(target, "old\n", 4);
    cr_assert_eq(run("%s specs/gan_ring.gm -o %s", genc_bin(), link), 0);
    cr_assert_eq(lstat(link, &st), 0);
    cr_expect(S_ISLNK(st.st_mode), "the symlink was replaced");
    cr_expect(has_bytes(target, want, len));
    cr_expect(!temp_files_in(dir));
}

Test(output, regular_file_is_replaced_only_when_it_changes) {
    size_t len;
    char *want = reference_c(&len);
    char *dir = fresh_dir("regular");
    char *out = xprintf("%s/out.c", dir);
    cr_assert_eq(run("%s specs/gan_ring.gm -o %s", genc_bin(), out), 0);
    struct stat a, b;
    cr_assert_eq(stat(out, &a), 0);
    cr_assert_eq(run("%s specs/gan_ring.gm -o %s", genc_bin(), out), 0);
    cr_assert_eq(stat(out, &b), 0);
    cr_expect(a.st_ino == b.st_ino && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec, "an unchanged output was rewritten");
    write_file(out, "old\n", 4);
    cr_assert_eq(chmod(out, 0640), 0);
    cr_assert_eq(run("%s specs/gan_ring.gm -o %s", genc_bin(), out), 0);
    cr_assert_eq(stat(out, &b), 0);
    cr_expect(has_bytes(out, want, len));
    cr_expect_eq(b.st_mode & 0777, 0640, "the file's mode was not kept");
    cr_expect(!temp_files_in(dir));
}

Test(output, never_the_input) {
    char *dir = fresh_dir("same");
    size_t len;
    char *spec = read_whole("specs/gan_ring.gm", &len);
    char *gm = xprintf("%s/x.gm", dir);
    write_file(gm, spec, len);
    cr_assert_eq(link(gm, xprintf("%s/hard.gm", dir)), 0);
    cr_assert_eq(symlink("x.gm", xprintf("%s/soft.gm", dir)), 0);
    char *err = xprintf("%s/err", dir);
    cr_expect_eq(run("%s %s -o %s 2> %s", genc_bin(), gm, gm, err), 1);
    cr_expect(strstr(read_whole(err, NULL), "is the spec"), "%s", read_whole(err, NULL));
    cr_expect_eq(run("%s %s -o %s/hard.gm 2> /dev/null", genc_bin(), gm, dir), 1);
    cr_expect_eq(run("%s %s/soft.gm -o %s 2> /dev/null", genc_bin(), dir, gm), 1);
    cr_expect(has_bytes(gm, spec, len), "the spec was overwritten");
}

/* A checkpoint of gan_ring in reals of real_size bytes, with state value
 * n / 2 set to bad, laid out as genrt_ckpt.h says (the sanitized suites do
 * not link libgenrt, and its writer refuses non-finite values). */
static void write_ring_ckpt(const char *path, int real_size, double bad) {
    struct model m;
    char *d;
    cr_assert(compile_str(read_whole("specs/gan_ring.gm", NULL), &m, &d), "%s", d);
    struct lowered lo;
    lower_model(&m, &lo);
    size_t n = (size_t)lo.n_state, len = 40 + (size_t)real_size * n + 8 + 4;
    unsigned char *b = xalloc(len);
    memcpy(b, GENRT_CKPT_MAGIC, 8);
    uint64_t fields[] = {GENRT_CKPT_VERSION, lo.shape_hash, (uint64_t)real_size, 0, n};
    int at[] = {8, 12, 20, 24, 32}, size[] = {4, 8, 4, 8, 8};
    for (int f = 0; f < 5; f++)
        for (int i = 0; i < size[f]; i++)
            b[at[f] + i] = (unsigned char)(fields[f] >> (8 * i));
    for (size_t i = 0; i < n; i++) {
        double v = i == n / 2 ? bad : 0.01 * (double)(i % 7);
        float f = (float)v;
        memcpy(b + 40 + (size_t)real_size * i, real_size == 8 ? (void *)&v : (void *)&f, (size_t)real_size);
    }
    uint32_t crc = (uint32_t)crc32(0, b, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        b[len - 4 + i] = (unsigned char)(crc >> (8 * i));
    write_file(path, b, len);
}

Test(output, sampler_refuses_non_finite_weights) {
    char *dir = test_tmpdir(), *ck = xprintf("%s/nan.ckpt", dir), *err = xprintf("%s/nan.err", dir);
    write_ring_ckpt(ck, 4, NAN);
    cr_expect_eq(run("%s specs/gan_ring.gm --sampler --weights %s -o %s/nan_s.c 2> %s", genc_bin(), ck, dir, err), 1);
    char *e = read_whole(err, NULL);
    cr_expect(strstr(e, "nan") && strchr(e, '\n') && !strchr(strchr(e, '\n') + 1, '\n'), "not one line naming the NaN: %s",
              e);
    cr_expect(access(xprintf("%s/nan_s.c", dir), F_OK) != 0, "a sampler was written");
    write_ring_ckpt(ck, 4, -INFINITY);
    cr_expect_eq(run("%s specs/gan_ring.gm --sampler --weights %s -o %s/inf_s.c 2> /dev/null", genc_bin(), ck, dir), 1);
    /* finite in double, but not as the sampler's float */
    write_ring_ckpt(ck, 8, 1e300);
    cr_expect_eq(run("%s specs/gan_ring.gm --sampler --weights %s -o %s/big_s.c 2> %s", genc_bin(), ck, dir, err), 1);
    e = read_whole(err, NULL);
    cr_expect(strstr(e, "holds a weight too large for a float (1e+300 at state index"), "%s", e);
    write_ring_ckpt(ck, 4, 0.5);
    cr_expect_eq(run("%s specs/gan_ring.gm --sampler --weights %s -o %s/ok_s.c", genc_bin(), ck, dir), 0);
    write_ring_ckpt(ck, 8, 0.5);
    cr_expect_eq(run("%s specs/gan_ring.gm --sampler --weights %s -o %s/ok_s.c", genc_bin(), ck, dir), 0);
}

Test(output, sampler_never_overwrites_its_inputs) {
    char *dir = fresh_dir("samp");
    char *ck = xprintf("%s/s.bin", dir);
    write_ring_ckpt(ck, 4, 0.5);
    size_t len;
    char *bytes = read_whole(ck, &len);
    /* --weights-file writes s.bin: the checkpoint */
    cr_expect_eq(run("%s specs/gan_ring.gm --sampler --weights %s --weights-file -o %s/s.c 2> /dev/null",
                     genc_bin(), ck, dir), 1);
    cr_assert_eq(rename(ck, xprintf("%s/s.h", dir)), 0);
    cr_expect_eq(run("%s specs/gan_ring.gm --sampler --weights %s/s.h -o %s/s.c 2> /dev/null", genc_bin(), dir, dir),
                 1);
    cr_assert_eq(rename(xprintf("%s/s.h", dir), xprintf("%s/s.c", dir)), 0);
    cr_expect_eq(run("%s specs/gan_ring.gm --sampler --weights %s/s.c -o %s/s.c 2> /dev/null", genc_bin(), dir, dir),
                 1);
    cr_expect(has_bytes(xprintf("%s/s.c", dir), bytes, len), "the checkpoint was overwritten");
}

/* ---- emitted C ------------------------------------------------------------- */

Test(emit, generated_is_current_and_deterministic) {
    char **specs;
    int n = list_specs(&specs);
    for (int i = 0; i < n; i++) {
        char *out = xprintf("%s/%s.c", test_tmpdir(), specs[i]);
        cr_assert_eq(run("%s specs/%s.gm -o %s", genc_bin(), specs[i], out), 0);
        size_t la, lb;
        char *a = read_whole(out, &la), *b = read_whole(xprintf("generated/%s.c", specs[i]), &lb);
        cr_assert(b, "generated/%s.c is missing: run make generated", specs[i]);
        cr_expect(la == lb && !memcmp(a, b, la), "generated/%s.c is stale: run make generated", specs[i]);
        cr_assert_eq(run("%s specs/%s.gm -o %s.again", genc_bin(), specs[i], out), 0);
        char *c = read_whole(xprintf("%s.again", out), &lb);
        cr_expect(la == lb && !memcmp(a, c, la), "%s: two runs gave different bytes", specs[i]);
    }
}

Test(emit, plan_fits_in_peak_and_fuses_bias_with_activation) {
    struct model m;
    char *d;
    cr_assert(compile_str(with_nets("network G : [16] -> [2] { dense 8; relu; dense 2 }\n"
                                    "network D : [2] -> [1] { dense 8; tanh; dense 1 }\n"), &m, &d), "%s", d);
    struct lowered lo;
    lower_model(&m, &lo);
    run_passes(&lo);
    const struct program *p = &lo.progs.data[0];
    cr_expect_leq(p->arena, p->peak_live);
    int fused = 0;
    for (int v = 0; v < p->ir.nodes.len; v++) {
        const struct node *n = &p->ir.nodes.data[v];
        if (n->op == OP_ADD_BIAS && !n->dead && n->fused_into >= 0 &&
            p->ir.nodes.data[n->fused_into].op == OP_LEAKY_RELU)
            fused++;
    }
    cr_expect_geq(fused, 1, "no bias was fused with its activation");
}

Test(diagnostics, gradient_penalty_critic_with_batchnorm_warns) {
    struct model m;
    char *d;
    char *spec = read_whole("specs/wgan_gp.gm", NULL);
    cr_assert(spec);
    char *bn = xprintf("%s", spec);
    char *at = strstr(bn, "layernorm;");
    cr_assert(at);
    memcpy(at, "batchnorm", 9);
    cr_assert(compile_str(bn, &m, &d), "a warning is not an error: %s", d);
    cr_expect(strstr(d, "warning: batchnorm couples the examples of a batch"), "%s", d);
    cr_expect(strstr(d, "use 'layernorm'"), "%s", d);
}

/* An optimizer for a network the objective never names is a warning, in
 * GNU form; genc still succeeds. */
Test(diagnostics, unused_optimizer_warns) {
    char *spec = xprintf("%s/unused.gm", test_tmpdir()), *err = xprintf("%s/unused.err", test_tmpdir());
    char *text = with_nets("network G : [16] -> [2] { dense 2 }\nnetwork D : [2] -> [1] { dense 1 }\n"
                           "network C : [2] -> [1] { dense 1 }\noptimize C with adam { }\n");
    write_file(spec, text, strlen(text));
    cr_assert_eq(run("%s %s -o %s/unused.c 2> %s", genc_bin(), spec, test_tmpdir(), err), 0,
                 "a warning must not change the exit status");
    char *d = read_whole(err, NULL);
    cr_expect(strstr(d, "unused.gm:10:10: warning: network 'C' has an optimizer, but objective gan does not use "
                        "it"), "%s", d);
    cr_expect(!strstr(d, "error"), "%s", d);
}

/* Diagnostics come sorted by position, whatever order sema finds them in
 * (optimizers are checked after networks), and the cap of 20 keeps the
 * first 20 by position. */
Test(diagnostics, sorted_by_position_with_the_cap) {
    char *text = xprintf("%s", "model t\ndata ring8 { }\nlatent z ~ normal(16)\n");
    for (int i = 0; i < 12; i++)
        text = xprintf("%soptimize N%d with adam { lrr 1 }\n", text, i);
    for (int i = 0; i < 12; i++)
        text = xprintf("%snetwork N%d : [2] -> [2] { rleu }\n", text, i);
    text = xprintf("%sobjective gan(N0, N1) { }\n", text);
    struct model m;
    char *d;
    cr_assert(!compile_str(text, &m, &d));
    int last = 0, n = 0;
    for (char *p = d; (p = strstr(p, "t.gm:")); p++) {
        int line;
        if (sscanf(p, "t.gm:%d:", &line) != 1 || !strstr(p, ": error: ") || strchr(p, '\n') < strstr(p, "error"))
            continue;
        cr_expect_geq(line, last, "line %d after line %d:\n%s", line, last, d);
        last = line;
        n++;
    }
    cr_expect_eq(n, 20, "%d errors shown:\n%s", n, d);
    cr_expect(strstr(d, "t.gm:4:25: error: unknown adam setting 'lrr'"), "%s", d);
    cr_expect(strstr(d, "t.gm: too many errors, stopping\n"), "%s", d);
    cr_expect(!strstr(d, "t.gm:24:"), "the 21st error by position is shown:\n%s", d);
}

/* Paths and names reach the emitted C as string literals and in comments:
 * quotes, backslashes, trigraphs, a comment's end and bytes outside ASCII
 * must neither break the file nor change the strings. */
Test(emit, strings_and_comments_are_escaped) {
    char *dir = xprintf("%s/we\"ird*", test_tmpdir());
    cr_assert_eq(run("mkdir -p '%s'", dir), 0);
    const char *data = "/tmp/x?\?=y\\\\z/*\xc3\xa9*/";
    char *spec = xprintf("%s/s.gm", dir);
    char *text = xprintf("model t\ndata fashion_mnist { path \"%s\" }\nlatent z ~ normal(4)\n"
                         "network G : [4] -> [784] { dense 784 }\nnetwork D : [784] -> [1] { dense 1 }\n"
                         "objective gan(G, D) { }\noptimize G with adam { }\noptimize D with adam { }\n"
                         "train { batch 2 }\n", data);
    write_file(spec, text, strlen(text));
    char *c = xprintf("%s/s.c", test_tmpdir()), *so = xprintf("%s/s.so", test_tmpdir());
    cr_assert_eq(run("%s '%s' -o %s", genc_bin(), spec, c), 0);
    cr_assert_eq(run("${CC:-cc} -std=c11 -Wall -Wextra -Wtrigraphs -Werror -shared -fPIC -DGENC_DOUBLE -Iruntime "
                     "$(pkg-config --cflags openblas) %s -o %s $(pkg-config --libs openblas) -lm", c, so), 0,
                 "the emitted C does not compile cleanly");
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h, "%s", dlerror());
    const struct genrt_model *m = dlsym(h, "genc_model_f64");
    cr_assert(m);
    cr_expect_str_eq(m->spec, spec);
    cr_expect_str_eq(m->data_path, "/tmp/x?\?=y\\\\z/*\xc3\xa9*/");
    dlclose(h);
}

/* One label per layer, from layers.def, for --summary and the emitted
 * comments: the two kinds of cond are told apart (they were both 'cond'). */
Test(emit, summary_labels_tell_layers_apart) {
    char *spec = xprintf("%s/cond.gm", test_tmpdir());
    const char *text = "model c\ndata fashion_mnist { }\nlatent z ~ normal(8)\n"
                       "network G : [8] -> [784] { cond onehot; dense 784 nobias; tanh }\n"
                       "network D : [784] -> [1] { reshape [1, 28, 28]; cond embed 3; conv 2 k3 s2 p1; flatten;"
                       " dropout 0.25; dense 1 }\n"
                       "objective gan(G, D) { }\noptimize G with adam { }\noptimize D with adam { }\n";
    write_file(spec, text, strlen(text));
    char *out = xprintf("%s/cond.txt", test_tmpdir());
    cr_assert_eq(run("%s %s --summary > %s", genc_bin(), spec, out), 0);
    char *s = read_whole(out, NULL);
    cr_expect(strstr(s, " cond onehot ") && strstr(s, " cond embed 3 "), "%s", s);
    cr_expect(strstr(s, " dense 784 nobias ") && strstr(s, " dropout 0.25 ") && strstr(s, " conv 2 k3 s2 p1 "), "%s",
              s);
}

/* The optimizer state is laid out once, per trained parameter: batchnorm's
 * running statistics are not trained and get none (dcgan kept 12 tensors
 * of zeros for them). */
Test(emit, optimizer_state_only_for_parameters) {
    struct model m;
    char *d;
    char *spec = read_whole("specs/dcgan.gm", NULL);
    cr_assert(spec && compile_str(spec, &m, &d), "%s", d);
    struct lowered lo;
    lower_model(&m, &lo);
    int params = 0, states = 0;
    for (int t = 0; t < lo.tensors.len; t++) {
        const struct ptensor *pt = &lo.tensors.data[t];
        cr_expect(!(strstr(pt->name, "running_") && pt->role == GENRT_OPT_STATE), "%s", pt->name);
        for (int k = 0; k < N_OPT_STATE; k++) {
            int s = pt->opt_state[k];
            cr_expect(s < 0 || pt->role == GENRT_PARAM, "%s has optimizer state", pt->name);
            if (s >= 0) {
                cr_expect_eq(lo.tensors.data[s].role, GENRT_OPT_STATE);
                cr_expect(!strncmp(lo.tensors.data[s].name, pt->name, strlen(pt->name)), "%s of %s",
                          lo.tensors.data[s].name, pt->name);
                states++;
            }
        }
        params += pt->role == GENRT_PARAM;
    }
    cr_expect_eq(states, 2 * params, "Adam keeps two moments per parameter: %d for %d", states, params);
    cr_expect_eq(lo.tensors.len, 3 * params + 3 * 2, "parameters, their moments, and 3 batchnorms' running stats");
}

/* ---- --dot ------------------------------------------------------------------ */

TestSuite(dot, .fini = genc_free_all);

/* genc SPEC --dot, in the test's temporary directory; its text. */
static char *dot_of(const char *spec, const char *name) {
    char *out = xprintf("%s/%s.dot", test_tmpdir(), name);
    cr_assert_eq(run("%s '%s' --dot > %s", genc_bin(), spec, out), 0, "genc %s --dot failed", spec);
    return read_whole(out, NULL);
}

/* Every network is a cluster whose input node names it with its
 * parameters and input shape, and every layer a node labelled as
 * --summary labels it, with its output shape and parameters. */
static void expect_networks(const char *spec, const char *dot) {
    struct model m;
    char *d;
    char *text = read_whole(spec, NULL);
    cr_assert(text && compile_str(text, &m, &d), "%s", d);
    for (int n = 0; n < m.nets.len; n++) {
        const struct network *net = &m.nets.data[n];
        long params = 0;
        for (int i = 0; i < net->layers.len; i++) {
            const struct layer *l = &net->layers.data[i];
            params += l->n_params;
            char *node = xprintf("n%d_l%d [label=\"%s\\n%s, %ld params\"", n, i, layer_label(l), shape_str(l->out),
                                 l->n_params);
            cr_expect(strstr(dot, node), "%s: no node %s", spec, node);
        }
        cr_expect(strstr(dot, xprintf("subgraph cluster_%d {", n)), "%s: no cluster for %s", spec, net->name);
        char *in = xprintf("n%d_in [label=\"network %s, %ld params\\ninput %s\"", n, net->name, params,
                           shape_str(net->in));
        cr_expect(strstr(dot, in), "%s: no %s", spec, in);
        char *out = xprintf("n%d_out [label=\"output %s\"", n, shape_str(net->out));
        cr_expect(strstr(dot, out), "%s: no %s", spec, out);
    }
}

static void expect_edges(const char *what, const char *dot, const char *const *edges, int n) {
    for (int i = 0; i < n; i++)
        cr_expect(strstr(dot, edges[i]), "%s: no edge '%s' in\n%s", what, edges[i], dot);
}

Test(dot, gan_latent_to_g_to_d_from_the_data) {
    char *dot = dot_of("specs/dcgan.gm", "dcgan");
    expect_networks("specs/dcgan.gm", dot);
    cr_expect(strstr(dot, "digraph \"dcgan\" {") && strstr(dot, "latent [label=\"latent z ~ normal(100)\\n[100]\""));
    cr_expect(strstr(dot, "n0_l0 [label=\"dense 6272 nobias\\n[6272], 627200 params\""), "%s", dot);
    cr_expect(strstr(dot, "loss [label=\"GAN loss, nonsaturating\""), "%s", dot);
    static const char *const edges[] = {
        "latent -> n0_in [label=\"z\"", "n0_out -> n1_in [label=\"fake G(z)\"", "data0 -> n1_in [label=\"real x\"",
        "n1_out -> loss [label=\"D(x), D(G(z))\"",
        "n0_in -> n0_l0 -> n0_l1 -> n0_l2 -> n0_l3 -> n0_l4 -> n0_l5 -> n0_l6 -> n0_l7 -> n0_l8 -> n0_out;"};
    expect_edges("dcgan", dot, edges, 5);
    cr_expect(!strstr(dot, "labels"), "an unconditional GAN has no labels:\n%s", dot);
}

Test(dot, vae_data_to_e_to_z_to_dec) {
    char *dot = dot_of("specs/vae.gm", "vae");
    expect_networks("specs/vae.gm", dot);
    cr_expect(strstr(dot, "loss [label=\"-ELBO\\nbernoulli likelihood\""), "%s", dot);
    static const char *const edges[] = {
        "data0 -> n0_in [label=\"x\"", "n0_out -> latent [label=\"mu, logvar;", "latent -> n1_in [label=\"z\"",
        "n1_out -> loss [label=\"reconstruction p(x | z)\"", "n0_out -> loss [label=\"KL(q(z | x) || N(0, I))\""};
    expect_edges("vae", dot, edges, 5);
}

Test(dot, cyclegan_generators_critics_and_cycles) {
    char *dot = dot_of("specs/cyclegan.gm", "cyclegan");
    expect_networks("specs/cyclegan.gm", dot);
    cr_expect(strstr(dot, "data0 [label=\"data A: fashion_mnist, train split, class 7\\n") &&
              strstr(dot, "data1 [label=\"data B: fashion_mnist, train split, class 9\\n"), "%s", dot);
    /* G = n0, F = n1, DA = n2, DB = n3 */
    static const char *const edges[] = {
        "data0 -> n0_in [label=\"A\"", "n0_out -> n3_in [label=\"fake G(A)\"", "data1 -> n3_in [label=\"real B\"",
        "data1 -> n1_in [label=\"B\"", "n1_out -> n2_in [label=\"fake F(B)\"", "data0 -> n2_in [label=\"real A\"",
        "n0_out -> n1_in [label=\"cycle F(G(A))\", style=dashed", "n1_out -> n0_in [label=\"cycle G(F(B))\", style=dashed",
        "n2_out -> loss [label=\"DA scores\"", "n3_out -> loss [label=\"DB scores\"",
        "n1_out -> loss [label=\"|F(G(A)) - A|\"", "n0_out -> loss [label=\"|G(F(B)) - B|\"",
        /* G's two residual blocks: each block's start skips to its add */
        "n0_l6 -> n0_l12 [style=dashed, label=\"skip\"", "n0_l13 -> n0_l19 [style=dashed, label=\"skip\""};
    expect_edges("cyclegan", dot, edges, 14);
    cr_expect(strstr(dot, "loss [label=\"CycleGAN loss, lsgan\\ncycle weight 10\""), "%s", dot);
    cr_expect(!strstr(dot, "identity"), "no identity term is weighed:\n%s", dot);
}

/* The labels reach each network at its cond layer. */
Test(dot, labels_into_cond_layers) {
    char *dot = dot_of("specs/cgan.gm", "cgan");
    expect_networks("specs/cgan.gm", dot);
    cr_expect(strstr(dot, "labels [label=\"labels y\\n10 classes\""), "%s", dot);
    static const char *const edges[] = {"labels -> n0_l0 [label=\"y\"", "labels -> n1_l0 [label=\"y\""};
    expect_edges("cgan", dot, edges, 2);
    char *cvae = dot_of("specs/cvae.gm", "cvae");
    expect_edges("cvae", cvae, edges, 2);
}

static bool have_dot(void) {
    return run("command -v dot > %s/which-dot 2>&1", test_tmpdir()) == 0;
}

/* A path from the spec may hold what DOT or Graphviz would read as syntax:
 * a quote is impossible in a spec string, but backslashes (\N is the
 * node's name), entities, control bytes and invalid UTF-8 are not. */
Test(dot, spec_strings_are_escaped) {
    char *spec = xprintf("%s/esc.gm", test_tmpdir());
    const char *path = "C:\\N\\&lt;\t\xff\xc3\xa9\\";
    char *text = xprintf("model t\ndata fashion_mnist { path \"%s\" }\nlatent z ~ normal(4)\n"
                         "network G : [4] -> [784] { dense 784 }\nnetwork D : [784] -> [1] { dense 1 }\n"
                         "objective gan(G, D) { }\noptimize G with adam { }\noptimize D with adam { }\n", path);
    write_file(spec, text, strlen(text));
    char *dot = dot_of(spec, "esc");
    const char *want = "\\nC:\\\\N\\\\&amp;lt;\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\\\\\\n[1, 28, 28]";
    cr_expect(strstr(dot, want), "no '%s' in\n%s", want, dot);
    if (!have_dot())
        cr_skip_test("dot is not installed (Debian graphviz): the drawing is not checked");
    char *svg = xprintf("%s/esc.svg", test_tmpdir()), *err = xprintf("%s/esc.err", test_tmpdir());
    cr_assert_eq(run("dot -Tsvg %s/esc.dot -o %s 2> %s", test_tmpdir(), svg, err), 0, "%s", read_whole(err, NULL));
    cr_expect_str_eq(read_whole(err, NULL), "");
    /* as drawn: SVG escapes & once more */
    cr_expect(strstr(read_whole(svg, NULL), ">C:\\N\\&amp;lt;\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\\<"), "%s",
              read_whole(svg, NULL));
}

/* Same spec, same bytes; -o FILE gets what standard output does. */
Test(dot, deterministic_and_written_with_o) {
    char *a = dot_of("specs/cyclegan.gm", "one"), *b = dot_of("specs/cyclegan.gm", "two");
    cr_expect_str_eq(a, b);
    char *out = xprintf("%s/o.dot", test_tmpdir());
    cr_assert_eq(run("%s specs/cyclegan.gm --dot -o %s", genc_bin(), out), 0);
    cr_expect_str_eq(read_whole(out, NULL), a);
}

/* What every spec draws is a graph dot accepts, without a warning. */
Test(dot, every_spec_draws) {
    if (!have_dot())
        cr_skip_test("dot is not installed (Debian graphviz; make deps installs it)");
    char **specs;
    int n = list_specs(&specs);
    cr_assert_gt(n, 0);
    for (int i = 0; i < n; i++) {
        char *dot = xprintf("%s/%s.dot", test_tmpdir(), specs[i]), *svg = xprintf("%s/%s.svg", test_tmpdir(), specs[i]);
        char *err = xprintf("%s/%s.err", test_tmpdir(), specs[i]);
        cr_assert_eq(run("%s specs/%s.gm --dot -o %s", genc_bin(), specs[i], dot), 0, "%s", specs[i]);
        cr_expect_eq(run("dot -Tsvg %s -o %s 2> %s", dot, svg, err), 0, "%s: %s", specs[i], read_whole(err, NULL));
        cr_expect_str_eq(read_whole(err, NULL), "", "%s", specs[i]);
        size_t len = 0;
        char *s = read_whole(svg, &len);
        cr_expect(s && strstr(s, "<svg") && strstr(s, "class=\"cluster\""), "%s: no clusters in the SVG", specs[i]);
    }
}
