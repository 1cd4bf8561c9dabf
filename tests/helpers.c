/* helpers.c: temp files, compiling emitted C, whole-model gradient checks. */
#include "helpers.h"
#include "genc.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

static void remove_tmpdir(void) {
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    }
}

char *test_tmpdir(void) {
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/genc-test-XXXXXX");
        cr_assert(mkdtemp(tmpdir), "mkdtemp failed");
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    cr_assert(fwrite(data, 1, len, f) == len);
    fclose(f);
}

char *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = xalloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    if (len)
        *len = got;
    return buf;
}

static unsigned long long lcg = 0x9e3779b97f4a7c15ull;

double test_uniform(void) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) / 9007199254740992.0;
}

int run(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void *load_double_so(const char *c_path, const char *so_path) {
    int rc = run("${CC:-cc} -std=c11 -O1 -shared -fPIC -DGENC_DOUBLE -Iruntime "
                 "$(pkg-config --cflags openblas) '%s' -o '%s' $(pkg-config --libs openblas) -lm",
                 c_path, so_path);
    cr_assert(rc == 0, "compiling %s failed", c_path);
    void *h = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h, "dlopen %s: %s", so_path, dlerror());
    return h;
}

const char *genc_path(void) {
    const char *b = getenv("GENC_BIN");
    return b ? b : "build/genc";
}

char *build_trainer(const char *spec, const char *name) {
    char *dir = test_tmpdir(), *bin = xprintf("%s/%s", dir, name);
    const char *cc = "${CC:-cc} -std=c11 -O1 -fno-math-errno -Iruntime $(pkg-config --cflags openblas)";
    cr_assert_eq(run("%s '%s' -o '%s.c'", genc_path(), spec, bin), 0, "genc %s failed", spec);
    cr_assert_eq(run("%s -DGENC_DOUBLE -c '%s.c' -o '%s.f64.o'", cc, bin, bin), 0, "compiling %s in double failed", name);
    cr_assert_eq(run("%s '%s.c' '%s.f64.o' build/libgenrt.a -lstb $(pkg-config --libs openblas) -lz -lm -o '%s'", cc, bin,
                     bin, bin), 0, "linking %s failed", name);
    return bin;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int list_specs(char ***names) {
    DIR *d = opendir("specs");
    cr_assert(d, "run the tests from the repository root");
    int n = 0;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 3 && !strcmp(e->d_name + len - 3, ".gm")) {
            v = xrealloc_arr(v, (size_t)n, (size_t)n + 1, sizeof *v);
            v[n++] = xstrndup(e->d_name, len - 3);
        }
    }
    closedir(d);
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *names = v;
    return n;
}

int gradcheck_kinks, gradcheck_entries;

/* The relative error of gradient `ana` of entry i of term k against a
 * central difference with step h, or -1 when a relu kink lies within h. */
static double central_error(const struct genrt_model *m, int k, double *st, long i, double ana, double h) {
    double saved = st[i];
    double l0 = m->gc_loss(k);
    st[i] = saved + h;
    double lp = m->gc_loss(k);
    st[i] = saved - h;
    double lm = m->gc_loss(k);
    st[i] = saved;
    double num = (lp - lm) / (2 * h);
    /* The difference quotient carries rounding of about 64 eps |L| / h; an
     * error below that cannot be measured, so gradients smaller than
     * noise / tolerance are compared absolutely, at the noise (the same
     * floor as the trainers' gradcheck). */
    double noise = 64 * 2.220446049250313e-16 * fmax(1, fabs(l0)) / h;
    double scale = fmax(fmax(fabs(num), fabs(ana)), fmax(noise / 1e-6, 1e-3));
    /* a kink within h makes the one-sided slopes disagree: the central
     * difference is then no reference (a wrong gradient on a smooth
     * stretch still fails) */
    if (fabs((lp - l0) / h - (l0 - lm) / h) > 1e-4 * scale)
        return -1;
    return fabs(num - ana) / scale;
}

/* A stream of uniforms in [0, 1) of its own per name: a tensor's values
 * (and the entries checked) depend on its name, not on the tensors laid
 * out before it or the models checked before this one. */
static unsigned long long stream_of(const char *model, const char *name) {
    unsigned long long h = 14695981039346656037ull;
    for (const char *p = model; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ '/') * 1099511628211ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static double stream_uniform(unsigned long long *s) {
    unsigned long long z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

double model_gradcheck(const struct genrt_model *m, double h, int per_tensor) {
    gradcheck_kinks = gradcheck_entries = 0;
    cr_assert(m->real_size == sizeof(double));
    double *st = m->state;
    for (int t = 0; t < m->n_tensors; t++) {
        const struct genrt_tensor *tt = &m->tensors[t];
        double b = tt->init == GENRT_INIT_FANIN_UNIFORM ? 1 / sqrt((double)tt->fan_in) : 0;
        unsigned long long r = stream_of(m->name, tt->name);
        double norm = 0;
        for (long i = 0; i < tt->size; i++) {
            double u = 2 * stream_uniform(&r) - 1;
            st[tt->offset + i] = tt->init == GENRT_INIT_ONE ? 1 : tt->init == GENRT_INIT_UNIT_NORMAL ? u : b * u;
            norm += u * u;
        }
        /* spectral_norm's vectors are unit vectors, as the runtime starts them */
        for (long i = 0; i < tt->size && tt->init == GENRT_INIT_UNIT_NORMAL; i++)
            st[tt->offset + i] /= sqrt(norm);
    }
    unsigned long long r = stream_of(m->name, "inputs");
    long nx = (long)m->gc_batch * m->sample_size, nz = (long)m->gc_batch * m->latent_dim;
    float *x = malloc(sizeof *x * (size_t)nx), *z = malloc(sizeof *z * (size_t)(nz + 1));
    for (long i = 0; i < nx; i++)
        x[i] = (float)(m->range_lo + (m->range_hi - m->range_lo) * stream_uniform(&r));
    for (long i = 0; i < nz; i++) {
        double u = stream_uniform(&r), v = stream_uniform(&r);
        z[i] = (float)(sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v));
    }
    m->gc_set_input(0, x);
    if (nz)
        m->gc_set_input(1, z);
    if (m->domain_b) { /* CycleGAN: a batch of domain B */
        const struct genrt_domain *b = m->domain_b;
        long nb = (long)m->gc_batch * b->sample_size;
        float *xb = malloc(sizeof *xb * (size_t)nb);
        for (long i = 0; i < nb; i++)
            xb[i] = (float)(b->range_lo + (b->range_hi - b->range_lo) * stream_uniform(&r));
        m->gc_set_input(3, xb);
        free(xb);
    }
    if (m->n_classes > 0) {
        float y[4096];
        for (int i = 0; i < m->gc_batch && i < 4096; i++)
            y[i] = (float)(int)(stream_uniform(&r) * m->n_classes);
        m->gc_set_input(2, y);
    }
    double *g = calloc((size_t)m->n_state, sizeof *g);
    double worst = 0;
    for (int k = 0; k < m->n_terms; k++) {
        memset(g, 0, sizeof *g * (size_t)m->n_state);
        m->gc_grad(k, g);
        for (int t = 0; t < m->n_tensors; t++) {
            const struct genrt_tensor *tt = &m->tensors[t];
            if (tt->role != GENRT_PARAM || !(m->terms[k].net_mask >> tt->net & 1u))
                continue;
            unsigned long long pick = stream_of(m->name, xprintf("%s/entries/%d", tt->name, k));
            for (int j = 0; j < per_tensor && j < tt->size; j++) {
                long i = tt->offset + (tt->size <= per_tensor ? j : (long)(stream_uniform(&pick) * (double)tt->size));
                gradcheck_entries++;
                /* at h, and once more at h/10 when that disagrees: a wrong
                 * gradient fails at both, rounding or a kink rarely does */
                double err = -1;
                for (double step = h; step >= h / 10 && (err < 0 || err > 1e-6); step /= 10) {
                    double e1 = central_error(m, k, st, i, g[i], step);
                    if (isnan(e1)) { /* a NaN loss or gradient is no pass, and no kink */
                        err = INFINITY;
                        break;
                    }
                    if (e1 >= 0 && (err < 0 || e1 < err))
                        err = e1;
                }
                if (err < 0) {
                    gradcheck_kinks++;
                    continue;
                }
                if (err > worst) {
                    worst = err;
                    if (getenv("GENC_GRADCHECK_DEBUG"))
                        fprintf(stderr, "  worst so far: %s[%ld] term %d: analytic %.10g, error %.3g\n", tt->name,
                                i - tt->offset, k, g[i], err);
                }
            }
        }
    }
    free(g);
    free(x);
    free(z);
    return worst;
}
