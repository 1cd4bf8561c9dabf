/* test_frontend.c: lexer, parser, semantic analysis (names, shapes),
 * diagnostics against golden files, and generated/ against genc's output. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genc.h"
#include "helpers.h"

TestSuite(lexer, .fini = genc_free_all);
TestSuite(parser, .fini = genc_free_all);
TestSuite(shapes, .fini = genc_free_all);
TestSuite(names, .fini = genc_free_all);
TestSuite(diagnostics, .fini = genc_free_all);
TestSuite(emit, .fini = genc_free_all);

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
    cr_expect_eq(m.objective.form, FORM_MINIMAX);
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
