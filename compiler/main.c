/* main.c: the genc driver: read a spec, run the passes, write C. */
#include "genc.h"
#include "emit/emit.h"
#include "genrt_ckpt.h"
#include "genrt_model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: genc SPEC.gm [-o OUT.c] [--mpi|--mpi-ranks R,...] [--summary] [--dump-tokens|--dump-ast|--dump-ir] [--no-fuse]\n"
    "       genc SPEC.gm --dot [-o OUT.dot]\n"
    "       genc SPEC.gm --sampler --weights CKPT [--weights-file] [--quantize int8] -o NAME.c\n"
    "       genc SPEC.gm --sampler --weights CKPT [--quantize int8] --target wasm -o NAME\n"
    "\n"
    "Compile a generative-model spec into standalone C that trains it on CPU.\n"
    "\n"
    "  -o FILE        write the trainer's C to FILE (default: standard output): a\n"
    "                 regular FILE is replaced atomically, and only when its bytes\n"
    "                 change; a FIFO or device (/dev/stdout) is written in place\n"
    "  --mpi          also emit the train steps of data-parallel training over MPI\n"
    "                 (a step per rank count that divides the batch, and one for\n"
    "                 --per-rank-batch), for a trainer built with make NAME MPI=1\n"
    "  --mpi-ranks R,...\n"
    "                 --mpi with the steps of these rank counts only (2 to 64, each\n"
    "                 dividing the batch), and --per-rank-batch's: a smaller file\n"
    "  --summary      print one row per layer (output shape, parameters,\n"
    "                 MACs per sample), totals and the arena size, then exit\n"
    "  --dot          write the networks (a cluster each, a node per layer with its\n"
    "                 output shape and parameters) and the objective's wiring as\n"
    "                 Graphviz DOT (to -o FILE, as the C), then exit:\n"
    "                 genc X.gm --dot | dot -Tpng -o X.png\n"
    "  --dump-tokens  print the tokens and exit\n"
    "  --dump-ast     print the syntax tree and exit\n"
    "  --dump-ir      print the IR of every program after the passes and exit\n"
    "  --no-fuse      emit every elementwise op as its own loop (to test fusion)\n"
    "  --sampler      emit a dependency-free sampler, NAME.c and NAME.h, with the\n"
    "                 weights of --weights CKPT (a checkpoint of this spec) baked in:\n"
    "                 NAME_sample (a CycleGAN's: NAME_translate_ab and _ba)\n"
    "  --weights-file with --sampler: the weights go to NAME.bin, which the\n"
    "                 caller reads and hands to NAME_init, instead of into NAME.c\n"
    "  --no-ema       with --sampler: bake the raw weights of a network with an\n"
    "                 `ema`, not their moving average\n"
    "  --quantize int8\n"
    "                 with --sampler: dense, conv and deconv weights as int8 with a\n"
    "                 float scale per output channel (about a quarter of the bytes);\n"
    "                 activations, biases and the rest stay float\n"
    "  --target T     with --sampler: c (the default) or wasm: NAME.wasm (the\n"
    "                 sampler and its weights, built by clang for wasm32), its\n"
    "                 loader NAME.js and NAME.html, a page that draws samples\n"
    "  --help         print this help\n"
    "  --version      print the version\n"
    "\n"
    "Then: make NAME (in the genc tree) or, with genc installed, genc-build NAME.c\n"
    "builds the trainer ./NAME, whose gradcheck runs in double.  By hand:\n"
    "  cc -c -DGENC_DOUBLE NAME.c -o NAME.f64.o $(pkg-config --cflags genrt)\n"
    "  cc NAME.c NAME.f64.o $(pkg-config --cflags --libs genrt) -o NAME\n"
    "./NAME --help lists its subcommands (man genc-trainer).  The DSL is described\n"
    "in docs/dsl.md.\n";

/* A spec is a small text file; anything larger is a mistake (a data file
 * named .gm, /dev/zero). */
#define MAX_SPEC_BYTES ((size_t)16 << 20)

/* The spec's bytes, or NULL after printing why not. */
static char *read_spec(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "genc: error: cannot read '%s': %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "genc: error: cannot read '%s': it is a directory, not a spec\n", path);
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = xalloc(cap + 1);
    for (;;) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fprintf(stderr, "genc: error: cannot read '%s': %s\n", path, strerror(errno));
            close(fd);
            return NULL;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n == cap) {
            if (cap >= MAX_SPEC_BYTES) {
                fprintf(stderr, "genc: error: '%s' is larger than %zu MiB, too large for a spec\n", path,
                        MAX_SPEC_BYTES >> 20);
                close(fd);
                return NULL;
            }
            buf = xrealloc_arr(buf, n, cap * 2 + 1, 1);
            cap *= 2;
        }
    }
    close(fd);
    buf[n] = 0;
    *len = n;
    return buf;
}

static bool same_file(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* An output must not be one of the inputs: `genc X.gm -o X.gm`, through a
 * symlink or a hard link too, would replace the spec with C.  (A terminal
 * or a pipe may be both: nothing is replaced there.) */
static bool check_not_input(const char *out, const char *in, const char *what) {
    struct stat so, si;
    if (stat(out, &so) == 0 && S_ISREG(so.st_mode) && stat(in, &si) == 0 && same_file(&so, &si)) {
        fprintf(stderr, "genc: error: the output '%s' is the %s '%s' itself; write to another file\n", out, what,
                in);
        return false;
    }
    return true;
}

static bool write_fd(int fd, const char *path, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "genc: error: cannot write '%s': %s\n", path, n < 0 ? strerror(errno) : "short write");
            return false;
        }
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Does the regular file at path hold exactly these bytes?  Opened without
 * blocking, and checked to be the file stat saw. */
static bool unchanged(const char *path, const struct stat *st, const char *data, size_t len) {
    if ((size_t)st->st_size != len)
        return false;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat now;
    if (fd < 0)
        return false;
    bool same = fstat(fd, &now) == 0 && S_ISREG(now.st_mode) && same_file(&now, st);
    char buf[1 << 16];
    for (size_t off = 0; same && off < len;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        same = n > 0 && (size_t)n <= len - off && !memcmp(buf, data + off, (size_t)n);
        off += n > 0 ? (size_t)n : 0;
    }
    close(fd);
    return same;
}

/* Where path leads through symlinks that may dangle (realpath needs the
 * target to exist): the file to create. */
static char *follow_links(const char *path) {
    char *p = xstrdup(path);
    for (int hops = 0; hops < 40; hops++) {
        struct stat ls;
        char target[4096];
        ssize_t n;
        if (lstat(p, &ls) != 0 || !S_ISLNK(ls.st_mode) || (n = readlink(p, target, sizeof target - 1)) < 0)
            return p;
        target[n] = 0;
        const char *slash = strrchr(p, '/');
        p = target[0] == '/' || !slash ? xstrdup(target) : xprintf("%.*s/%s", (int)(slash - p), p, target);
    }
    errno = ELOOP;
    return NULL;
}

/* Write a regular file atomically: a temp file created with O_EXCL next to
 * it, fsync'd and renamed over it, then the directory fsync'd.  old is the
 * file being replaced (its mode is kept), or NULL. */
static bool replace_file(const char *shown, const char *path, const struct stat *old, const char *data, size_t len) {
    static unsigned counter;
    char *tmp = NULL;
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        tmp = xprintf("%s.tmp.%ld.%u", path, (long)getpid(), counter++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        fprintf(stderr, "genc: error: cannot write '%s': cannot create '%s': %s\n", shown, tmp, strerror(errno));
        return false;
    }
    if (old)
        (void)fchmod(fd, old->st_mode & 07777); /* best effort, as a copy would */
    bool ok = write_fd(fd, shown, data, len);
    if (ok && fsync(fd) != 0) {
        fprintf(stderr, "genc: error: cannot write '%s': %s\n", shown, strerror(errno));
        ok = false;
    }
    if (close(fd) != 0 && ok) {
        fprintf(stderr, "genc: error: cannot write '%s': %s\n", shown, strerror(errno));
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        fprintf(stderr, "genc: error: cannot write '%s': %s\n", shown, strerror(errno));
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        return false;
    }
    const char *slash = strrchr(path, '/');
    char *dir = !slash ? xstrdup(".") : slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd); /* the rename is durable; some file systems cannot, which is fine */
        close(dfd);
    }
    return true;
}

/* Write an output as a compiler does, never replacing what is not a file
 * genc made: a device, FIFO or socket (or /dev/stdout) is opened and
 * written in place; a symlink is followed and its target written; only a
 * regular file is replaced, atomically, and only when its bytes change, so
 * builds that depend on it do not rerun for nothing. */
static bool write_output(const char *path, const char *data, size_t len) {
    struct stat st, fs;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            fprintf(stderr, "genc: error: cannot write '%s': %s\n", path, strerror(errno));
            return false;
        }
        char *target = follow_links(path);
        if (!target) {
            fprintf(stderr, "genc: error: cannot write '%s': %s\n", path, strerror(errno));
            return false;
        }
        return replace_file(path, target, NULL, data, len);
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "genc: error: cannot write '%s': it is a directory\n", path);
        return false;
    }
    /* Our own standard output or error (-o /dev/stdout): write to it, in
     * the mode the shell opened it with (> or >>). */
    for (int fd = 1; fd <= 2; fd++) {
        if (fstat(fd, &fs) == 0 && same_file(&fs, &st)) {
            fflush(fd == 1 ? stdout : stderr);
            return write_fd(fd, path, data, len);
        }
    }
    if (!S_ISREG(st.st_mode)) {
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            fprintf(stderr, "genc: error: cannot write '%s': %s\n", path, strerror(errno));
            return false;
        }
        bool ok = write_fd(fd, path, data, len);
        if (close(fd) != 0 && ok) {
            fprintf(stderr, "genc: error: cannot write '%s': %s\n", path, strerror(errno));
            ok = false;
        }
        return ok;
    }
    if (unchanged(path, &st, data, len))
        return true;
    char *real = realpath(path, NULL);
    if (!real) {
        fprintf(stderr, "genc: error: cannot write '%s': %s\n", path, strerror(errno));
        return false;
    }
    char *target = xstrdup(real);
    free(real);
    return replace_file(path, target, &st, data, len);
}

/* The tensor that holds state index i, for messages. */
static const char *tensor_at(const struct lowered *lo, long i) {
    for (int t = 0; t < lo->tensors.len; t++) {
        const struct ptensor *pt = &lo->tensors.data[t];
        if (i >= pt->offset && i < pt->offset + shape_size(pt->shape))
            return pt->name;
    }
    return "padding between tensors";
}

/* genc --sampler: read the checkpoint, emit NAME.c and NAME.h (and NAME.bin),
 * or, for --target wasm, NAME.wasm, NAME.js and NAME.html. */
static int write_sampler(const struct model *m, struct lowered *lo, const char *ckpt_path, const char *out,
                         bool weights_file, bool no_ema, enum sampler_quant quant, bool wasm) {
    size_t len = strlen(out), stem = len; /* the outputs' path, up to their suffix */
    if (wasm && len > 5 && !strcmp(out + len - 5, ".wasm"))
        stem = len - 5;
    if (!wasm && (len < 3 || strcmp(out + len - 2, ".c"))) {
        fprintf(stderr, "genc: error: the sampler's output must be NAME.c, got '%s'\n", out);
        return 1;
    }
    if (!wasm)
        stem = len - 2;
    const char *base = out;
    for (size_t i = 0; i < stem; i++)
        base = out[i] == '/' ? out + i + 1 : base;
    char *name = xstrndup(base, stem - (size_t)(base - out));
    if (!*name) {
        fprintf(stderr, "genc: error: the sampler's output '%s' has no name: -o DIR/NAME%s\n", out, wasm ? "" : ".c");
        return 1;
    }
    for (char *p = name; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (p > name && *p >= '0' && *p <= '9');
        if (!ok) {
            fprintf(stderr, "genc: error: '%s' is not a C identifier, so it cannot prefix the sampler's API\n", name);
            return 1;
        }
    }
    const char *suffix[2][3] = {{".c", ".h", ".bin"}, {".wasm", ".js", ".html"}};
    char *outs[3];
    for (int k = 0; k < 3; k++)
        outs[k] = xprintf("%.*s%s", (int)stem, out, suffix[wasm][k]);
    if (!wasm && !weights_file)
        outs[2] = NULL;
    for (int k = 0; k < 3; k++)
        if (outs[k] && (!check_not_input(outs[k], m->path, "spec") || !check_not_input(outs[k], ckpt_path, "checkpoint")))
            return 1;
    if (lo->n_samplers == 0) {
        fprintf(stderr, "genc: error: --sampler: a %s generates nothing, so it has no sampler\n", lo->objective_title);
        return 1;
    }
    struct genrt_ckpt ck;
    struct genrt_err err = {0};
    if (genrt_ckpt_read(ckpt_path, &ck, &err) ||
        genrt_ckpt_match(&ck, ckpt_path, lo->shape_hash, ck.real_size, (uint64_t)lo->n_state, &err)) {
        fprintf(stderr, "genc: error: %s\n", err.msg);
        return 1;
    }
    /* A diverged run's NaN or Inf (or a double too large for a float)
     * would become C that does not compile, or a sampler that draws NaN. */
    float *state = xalloc(sizeof(float) * (size_t)(lo->n_state + 1));
    for (long i = 0; i < lo->n_state; i++) {
        double v = ck.real_size == 8 ? ((const double *)ck.state)[i] : ((const float *)ck.state)[i];
        state[i] = (float)v;
        if (!isfinite(state[i])) {
            fprintf(stderr, "genc: error: checkpoint %s holds a %s (%g at state index %ld, in %s): the run "
                    "diverged; use an earlier checkpoint\n", ckpt_path,
                    isfinite(v) ? "weight too large for a float" : "non-finite weight", v, i, tensor_at(lo, i));
            genrt_ckpt_free(&ck);
            return 1;
        }
    }
    long step = (long)ck.step;
    genrt_ckpt_free(&ck);
    /* the moving averages (`ema`) in their parameters' place, as sample does */
    for (int t = 0; t < lo->tensors.len && !no_ema; t++) {
        const struct ptensor *pt = &lo->tensors.data[t];
        if (pt->source >= 0)
            memcpy(state + lo->tensors.data[pt->source].offset, state + pt->offset,
                   sizeof(float) * (size_t)shape_size(pt->shape));
    }
    struct sampler_out so;
    if (!emit_sampler(m, lo, state, step, ckpt_path, name, weights_file, quant, &so))
        return 1;
    if (wasm) {
        struct wasm_out wo;
        if (!emit_wasm(m, name, &so, &wo))
            return 1;
        /* the page last: it loads the other two */
        return write_output(outs[0], wo.wasm, wo.wasm_len) && write_output(outs[1], wo.js, wo.js_len) &&
               write_output(outs[2], wo.html, wo.html_len) ? 0 : 1;
    }
    if (weights_file && !write_output(outs[2], so.blob, so.blob_len))
        return 1;
    return write_output(outs[0], so.c, so.c_len) && write_output(outs[1], so.h, so.h_len) ? 0 : 1;
}

/* genc --dot: to standard output, or to -o FILE as any output. */
static int write_dot(const struct model *m, const char *out) {
    if (!out) {
        print_dot(stdout, m);
        return 0;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        fprintf(stderr, "genc: error: cannot write '%s': %s\n", out, strerror(errno));
        return 1;
    }
    print_dot(f, m);
    fclose(f);
    int rc = write_output(out, buf, len) ? 0 : 1;
    free(buf);
    return rc;
}

/* Output to stdout is buffered: a full disk shows only at the flush. */
static int finish(int rc) {
    genc_free_all();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "genc: error: cannot write to standard output: %s\n", strerror(errno));
        return 1;
    }
    return rc;
}

/* --mpi-ranks 2,4: a bit per rank count, or 0 after an error message */
static uint64_t parse_ranks(const char *list) {
    uint64_t set = 1; /* one rank: train_step itself */
    for (const char *p = list;;) {
        char *end;
        errno = 0;
        long r = strtol(p, &end, 10);
        if (end == p || errno || r < 2 || r > GENC_MPI_MAX_RANKS || (*end && *end != ',')) {
            fprintf(stderr, "genc: error: --mpi-ranks takes rank counts from 2 to %d, comma-separated, "
                    "like 2,4; got '%s'\n", GENC_MPI_MAX_RANKS, list);
            return 0;
        }
        set |= 1ull << (r - 1);
        if (!*end)
            return set;
        p = end + 1;
    }
}

int main(int argc, char **argv) {
    const char *spec = NULL, *out = NULL;
    bool summary = false, dot = false, dump_tokens_f = false, dump_ast = false, dump_ir = false, sampler = false;
    const char *weights = NULL;
    bool weights_file = false, no_ema = false, wasm = false;
    uint64_t mpi = 0; /* --mpi: bit R - 1 for a step of R ranks */
    const char *target = NULL;
    const char *quantize = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return finish(0);
        } else if (!strcmp(a, "--version")) {
            printf("genc %s (runtime ABI %d)\n", GENC_VERSION, GENRT_ABI);
            return finish(0);
        } else if (!strcmp(a, "-o")) {
            if (++i == argc) {
                fprintf(stderr, "genc: error: -o needs a file name\n");
                return 1;
            }
            out = argv[i];
        } else if (!strcmp(a, "--summary")) {
            summary = true;
        } else if (!strcmp(a, "--dot")) {
            dot = true;
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
        } else if (!strcmp(a, "--mpi")) {
            mpi = ~0ull;
        } else if (!strcmp(a, "--mpi-ranks")) {
            if (++i == argc) {
                fprintf(stderr, "genc: error: --mpi-ranks needs rank counts, like 2,4\n");
                return 1;
            }
            if (!(mpi = parse_ranks(argv[i])))
                return 1;
        } else if (!strcmp(a, "--weights-file")) {
            weights_file = true;
        } else if (!strcmp(a, "--no-ema")) {
            no_ema = true;
        } else if (!strcmp(a, "--target")) {
            if (++i == argc) {
                fprintf(stderr, "genc: error: --target needs c or wasm\n");
                return 1;
            }
            target = argv[i];
            if (strcmp(target, "c") && strcmp(target, "wasm")) {
                fprintf(stderr, "genc: error: unknown target '%s' (--target takes c or wasm)\n", target);
                return 1;
            }
            wasm = !strcmp(target, "wasm");
        } else if (!strcmp(a, "--weights")) {
            if (++i == argc) {
                fprintf(stderr, "genc: error: --weights needs a checkpoint\n");
                return 1;
            }
            weights = argv[i];
        } else if (!strcmp(a, "--quantize")) {
            if (++i == argc) {
                fprintf(stderr, "genc: error: --quantize needs a mode: int8\n");
                return 1;
            }
            quantize = argv[i];
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
        fprintf(stderr, "genc: error: --sampler needs --weights CKPT and -o %s\n", wasm ? "NAME" : "NAME.c");
        return 1;
    }
    if (target && !sampler) {
        fprintf(stderr, "genc: error: --target goes with --sampler\n");
        return 1;
    }
    if (wasm && weights_file) {
        fprintf(stderr, "genc: error: --weights-file goes with --target c: a wasm sampler has its weights inside "
                "NAME.wasm\n");
        return 1;
    }
    if (dot && sampler) {
        fprintf(stderr, "genc: error: --dot draws the spec and writes no sampler; use one or the other\n");
        return 1;
    }
    if (weights && !sampler) {
        fprintf(stderr, "genc: error: --weights goes with --sampler\n");
        return 1;
    }
    if (no_ema && !sampler) {
        fprintf(stderr, "genc: error: --no-ema goes with --sampler\n");
        return 1;
    }
    if (quantize && strcmp(quantize, "int8")) {
        fprintf(stderr, "genc: error: unknown --quantize mode '%s'; the one mode is int8\n", quantize);
        return 1;
    }
    if (mpi && (sampler || dot)) {
        fprintf(stderr, "genc: error: --mpi adds train steps to a trainer; it goes with neither --sampler nor --dot\n");
        return 1;
    }
    if (quantize && !sampler) {
        fprintf(stderr, "genc: error: --quantize int8 quantizes a sampler's weights; it goes with --sampler\n");
        return 1;
    }
    if (out && !sampler && !check_not_input(out, spec, "spec"))
        return 1;
    struct source src = {.path = spec};
    char *text = read_spec(spec, &src.len);
    if (!text)
        return finish(1);
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
               genc_build(&ast, &src, &m, &lo, mpi)) {
        if (sampler) {
            rc = write_sampler(&m, &lo, weights, out, weights_file, no_ema, quantize ? QUANT_INT8 : QUANT_NONE, wasm);
        } else if (dump_ir) {
            for (int i = 0; i < lo.progs.len; i++)
                ir_dump(stdout, &lo.progs.data[i], lo.tensors.data);
            rc = 0;
        } else if (dot) {
            rc = write_dot(&m, out);
        } else if (summary) {
            print_summary(stdout, &m, &lo);
            rc = 0;
        } else {
            size_t len;
            char *c = emit_c(&m, &lo, &src, &len);
            if (!out)
                rc = fwrite(c, 1, len, stdout) == len ? 0 : 1;
            else
                rc = write_output(out, c, len) ? 0 : 1;
        }
    } else if (dump_ast && diag_error_count() == 0) {
        rc = 0;
    }
    return finish(rc);
}
