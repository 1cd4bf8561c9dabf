/* main.c: the genc driver: read a spec, run the passes, write C. */
#include "genc.h"
#include "genrt_ckpt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: genc SPEC.gm [-o OUT.c] [--summary] [--dump-tokens|--dump-ast|--dump-ir] [--no-fuse]\n"
    "       genc SPEC.gm --sampler --weights CKPT [--weights-file] -o NAME.c\n"
    "\n"
    "Compile a generative-model spec into standalone C that trains it on CPU.\n"
    "\n"
    "  -o FILE        write the trainer's C to FILE (default: standard output)\n"
    "  --summary      print one row per layer (output shape, parameters,\n"
    "                 MACs per sample), totals and the arena size, then exit\n"
    "  --dump-tokens  print the tokens and exit\n"
    "  --dump-ast     print the syntax tree and exit\n"
    "  --dump-ir      print the IR of every program after the passes and exit\n"
    "  --no-fuse      emit every elementwise op as its own loop (to test fusion)\n"
    "  --sampler      emit a dependency-free sampler, NAME.c and NAME.h, with the\n"
    "                 weights of --weights CKPT (a checkpoint of this spec) baked in:\n"
    "                 NAME_sample (a CycleGAN's: NAME_translate_ab and _ba)\n"
    "  --weights-file with --sampler: the weights go to NAME.bin, which the\n"
    "                 caller reads and hands to NAME_init, instead of into NAME.c\n"
    "  --help         print this help\n"
    "  --version      print the version\n"
    "\n"
    "Then: make NAME (in the genc tree) or cc NAME.c $(pkg-config --cflags --libs genrt)\n"
    "builds a trainer; ./NAME --help lists its subcommands.  The DSL is described in\n"
    "docs/dsl.md.\n";

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = xalloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            if (cap >= (size_t)1 << 28) {
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            buf = xrealloc_arr(buf, n, cap * 2 + 1, 1);
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        errno = EIO;
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Write atomically, and only when the bytes differ, so builds that depend
 * on the file do not rerun for nothing. */
static bool write_if_changed(const char *path, const char *data, size_t len) {
    size_t old_len;
    char *old = read_file(path, &old_len);
    if (old && old_len == len && !memcmp(old, data, len))
        return true;
    char *tmp = xprintf("%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "genc: error: cannot write '%s': %s\n", tmp, strerror(errno));
        return false;
    }
    bool ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "genc: error: cannot write '%s': %s\n", path, strerror(errno));
        remove(tmp);
        return false;
    }
    return true;
}

/* genc --sampler: read the checkpoint, emit NAME.c and NAME.h. */
static int write_sampler(const struct model *m, struct lowered *lo, const char *ckpt_path, const char *out,
                         bool weights_file) {
    struct genrt_ckpt ck;
    struct genrt_err err = {0};
    if (genrt_ckpt_read(ckpt_path, &ck, &err) ||
        genrt_ckpt_match(&ck, ckpt_path, lo->shape_hash, ck.real_size, (uint64_t)lo->n_state, &err)) {
        fprintf(stderr, "genc: error: %s\n", err.msg);
        return 1;
    }
    float *state = xalloc(sizeof(float) * (size_t)(lo->n_state + 1));
    for (long i = 0; i < lo->n_state; i++)
        state[i] = ck.real_size == 8 ? (float)((const double *)ck.state)[i] : ((const float *)ck.state)[i];
    long step = (long)ck.step;
    genrt_ckpt_free(&ck);
    size_t len = strlen(out);
    if (len < 3 || strcmp(out + len - 2, ".c")) {
        fprintf(stderr, "genc: error: the sampler's output must be NAME.c, got '%s'\n", out);
        return 1;
    }
    const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
    char *name = xstrndup(base, strlen(base) - 2);
    for (char *p = name; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (p > name && *p >= '0' && *p <= '9');
        if (!ok) {
            fprintf(stderr, "genc: error: '%s' is not a C identifier, so it cannot prefix the sampler's API\n", name);
            return 1;
        }
    }
    struct sampler_out so;
    if (!emit_sampler(m, lo, state, step, ckpt_path, name, weights_file, &so))
        return 1;
    char *h_path = xprintf("%.*s.h", (int)(len - 2), out);
    if (weights_file && !write_if_changed(xprintf("%.*s.bin", (int)(len - 2), out), so.blob, so.blob_len))
        return 1;
    return write_if_changed(out, so.c, so.c_len) && write_if_changed(h_path, so.h, so.h_len) ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *spec = NULL, *out = NULL;
    bool summary = false, dump_tokens_f = false, dump_ast = false, dump_ir = false, sampler = false;
    const char *weights = NULL;
    bool weights_file = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("genc %s\n", GENC_VERSION);
            return 0;
        } else if (!strcmp(a, "-o")) {
            if (++i == argc) {
                fprintf(stderr, "genc: error: -o needs a file name\n");
                return 1;
            }
            out = argv[i];
        } else if (!strcmp(a, "--summary")) {
            summary = true;
        } else if (!strcmp(a, "--dump-tokens")) {
            dump_tokens_f = true;
        } else if (!strcmp(a, "--dump-ast")) {
            dump_ast = true;
        } else if (!strcmp(a, "--dump-ir")) {
            dump_ir = true;
        } else if (!strcmp(a, "--no-fuse")) {
            fuse_disabled = true;
        } else if (!strcmp(a, "--sampler")) {
            sampler = true;
        } else if (!strcmp(a, "--weights-file")) {
            weights_file = true;
        } else if (!strcmp(a, "--weights")) {
            if (++i == argc) {
                fprintf(stderr, "genc: error: --weights needs a checkpoint\n");
                return 1;
            }
            weights = argv[i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "genc: error: unknown option '%s' (see genc --help)\n", a);
            return 1;
        } else if (spec) {
            fprintf(stderr, "genc: error: more than one spec given ('%s' and '%s')\n", spec, a);
            return 1;
        } else {
            spec = a;
        }
    }
    if (!spec) {
        fprintf(stderr, "genc: error: no spec given\n%s", usage);
        return 1;
    }
    if (sampler && (!weights || !out)) {
        fprintf(stderr, "genc: error: --sampler needs --weights CKPT and -o NAME.c\n");
        return 1;
    }
    if (weights && !sampler) {
        fprintf(stderr, "genc: error: --weights goes with --sampler\n");
        return 1;
    }
    struct source src = {.path = spec};
    char *text = read_file(spec, &src.len);
    if (!text) {
        fprintf(stderr, "genc: error: cannot read '%s': %s\n", spec, strerror(errno));
        genc_free_all();
        return 1;
    }
    src.text = text;
    diag_init(&src);
    int rc = 1;
    struct ast ast;
    struct model m;
    struct lowered lo;
    if (dump_tokens_f) {
        dump_tokens(stdout, &src);
        rc = 0;
    } else if (parse_source(&src, &ast) && !(dump_ast && (ast_dump(stdout, &ast), 1)) &&
               genc_build(&ast, &src, &m, &lo)) {
        if (sampler) {
            rc = write_sampler(&m, &lo, weights, out, weights_file);
        } else if (dump_ir) {
            for (int i = 0; i < lo.progs.len; i++)
                ir_dump(stdout, &lo.progs.data[i], lo.tensors.data);
            rc = 0;
        } else if (summary) {
            print_summary(stdout, &m, &lo);
            rc = 0;
        } else {
            size_t len;
            char *c = emit_c(&m, &lo, &len);
            if (!out)
                rc = fwrite(c, 1, len, stdout) == len ? 0 : 1;
            else
                rc = write_if_changed(out, c, len) ? 0 : 1;
        }
    } else if (dump_ast && diag_error_count() == 0) {
        rc = 0;
    }
    genc_free_all();
    return rc;
}
