/* genrt_gradcheck.c: `X gradcheck` (the generated backward against central
 * differences) and `X bench` (training steps timed on random inputs). */
#include "genrt_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "genrt_file.h"
#include "genrt_progress.h"

#define BENCH_WARMUP 5
#define GC_ENTRIES 24      /* entries probed per tensor */
#define GC_NOISE_ULPS 64.0 /* rounding noise in a loss, in units of epsilon */

/* ------------------------------------------------------------ gradcheck */

/* The central difference of term k in state entry i at step h, and its
 * error relative to the analytic gradient a (never to less than floor).
 * Returns 1 at a kink: in double precision, when the one-sided slopes
 * differ by more than 1e-4 of the gradients' scale. */
static int central_difference(const struct genrt_model *g, int k, long i, double h, double l0, double a,
                              double floor, int dbl, double *num, double *rel)
{
    double x0 = genrt_run_real_get(g, g->state, i);
    genrt_run_real_set(g, g->state, i, x0 + h);
    double xp = genrt_run_real_get(g, g->state, i); /* as rounded to real */
    double lp = g->gc_loss(k);
    genrt_run_real_set(g, g->state, i, x0 - h);
    double xm = genrt_run_real_get(g, g->state, i);
    double lm = g->gc_loss(k);
    genrt_run_real_set(g, g->state, i, x0); /* exact: x0 came from a real */
    *num = (lp - lm) / (xp - xm);
    double scale = fmax(fmax(fabs(a), fabs(*num)), floor);
    *rel = fabs(a - *num) / scale;
    if (*rel != *rel)
        *rel = INFINITY; /* NaN anywhere is a failure */
    double up = (lp - l0) / (xp - x0), down = (l0 - lm) / (x0 - xm);
    return dbl && fabs(up - down) > 1e-4 * scale;
}

/* Model g's state from seed and its gradient-check inputs: one batch of
 * gc_batch rows of the data (slot 0, and a CycleGAN's slot 3, domain B),
 * whatever real_batches and latent_batches are, and the latent batch from
 * r; 0, or 1 after the message. */
static int gc_setup(const struct genrt_cli *c, const struct genrt_opts *o, const struct genrt_model *g,
                    uint64_t seed, struct genrt_rng *r)
{
    struct genrt_err err;
    struct genrt_data data;
    genrt_run_set_threads(GENRT_DEFAULT_THREADS);
    genrt_run_init_state(g, seed);
    int n_dom = g->domain_b ? 2 : 1;
    int *labels = genrt_file_xmalloc((size_t)g->gc_batch * sizeof *labels);
    for (int dom = 0; dom < n_dom; dom++) {
        struct genrt_model md;
        genrt_data_domain_model(g, dom, &md);
        if (genrt_run_open_domain(g, dom, dom == GENRT_DOMAIN_B ? o->data_b : o->data, GENRT_SPLIT_MODEL,
                        seed, &data, &err)) {
            free(labels);
            return genrt_cli_fail_err(c, &err);
        }
        float *real = genrt_file_xmalloc((size_t)g->gc_batch * (size_t)md.sample_size *
                                         sizeof *real);
        int short_set = genrt_data_next_batch_labels(&data, real, labels, g->gc_batch);
        genrt_data_close(&data);
        if (short_set) {
            free(real);
            free(labels);
            if (g->domain_b)
                return genrt_cli_fail(c, "gradcheck: the data set of domain %s has fewer than %d examples",
                            genrt_run_domain_name(g, dom), g->gc_batch);
            return genrt_cli_fail(c, "gradcheck: the data set has fewer than %d examples", g->gc_batch);
        }
        g->gc_set_input(dom == GENRT_DOMAIN_B ? GENRT_SLOT_XB : GENRT_SLOT_X, real);
        free(real);
    }
    if (g->latent_batches > 0) {
        float *z = genrt_file_xmalloc((size_t)g->gc_batch * (size_t)g->latent_dim * sizeof *z);
        genrt_run_fill_latent(g, r, z, (long)g->gc_batch * g->latent_dim);
        g->gc_set_input(GENRT_SLOT_Z, z);
        free(z);
    }
    if (g->n_classes > 0) {
        float *y = genrt_file_xmalloc((size_t)g->gc_batch * sizeof *y);
        for (int i = 0; i < g->gc_batch; i++)
            y[i] = (float)labels[i];
        g->gc_set_input(GENRT_SLOT_Y, y);
        free(y);
    }
    free(labels);
    return 0;
}

/* gradcheck --float: the float build's gradients, as train computes them
 * (oneDNN's convolutions included, when it runs them), against the double
 * build's at the same weights and inputs.  Per tensor, the largest
 * difference over the tensor's largest double gradient. */
#define FLOAT_TOL 1e-4
static int float_vs_double(const struct genrt_cli *c, const struct genrt_opts *o, uint64_t seed)
{
    const struct genrt_model *f = c->m, *d = c->m64;
    if (!d || f->real_size != 4)
        return genrt_cli_fail(c, "gradcheck --float: this trainer has no double build to compare with");
    struct genrt_rng rf, rd;
    genrt_rng_seed(&rf, genrt_rng_derive(seed, GENRT_STREAM_GRADCHECK));
    genrt_rng_seed(&rd, genrt_rng_derive(seed, GENRT_STREAM_GRADCHECK));
    if (gc_setup(c, o, f, seed, &rf) || gc_setup(c, o, d, seed, &rd))
        return 1;
    for (long i = 0; i < f->n_state; i++) /* the float weights, exactly */
        genrt_run_real_set(d, d->state, i, genrt_run_real_get(f, f->state, i));
    printf("gradcheck --float: the float gradients against the double ones, %d examples, tolerance %.0e\n",
           f->gc_batch, FLOAT_TOL);
    void *gf = genrt_file_xcalloc((size_t)f->n_state, (size_t)f->real_size);
    void *gd = genrt_file_xcalloc((size_t)d->n_state, (size_t)d->real_size);
    double worst = 0.0;
    for (int k = 0; k < f->n_terms; k++) {
        const struct genrt_term *term = &f->terms[k];
        memset(gf, 0, genrt_run_state_bytes(f));
        memset(gd, 0, genrt_run_state_bytes(d));
        f->gc_grad(k, gf);
        d->gc_grad(k, gd);
        double tworst = 0.0;
        const char *wname = "-";
        int n_tensors = 0;
        for (int ti = 0; ti < f->n_tensors; ti++) {
            const struct genrt_tensor *t = &f->tensors[ti];
            if (t->role != GENRT_PARAM || !(term->net_mask >> t->net & 1u) || t->size == 0)
                continue;
            n_tensors++;
            double scale = 0.0, diff = 0.0;
            for (long j = t->offset; j < t->offset + t->size; j++) {
                double a = genrt_run_real_get(f, gf, j), b = genrt_run_real_get(d, gd, j);
                scale = fmax(scale, fabs(b));
                diff = fmax(diff, fabs(a - b));
                if (a != a)
                    diff = INFINITY;
            }
            double rel = scale > 0 ? diff / scale : diff > 0 ? INFINITY : 0.0;
            if (rel > tworst || n_tensors == 1) {
                tworst = rel;
                wname = t->name;
            }
        }
        printf("gradcheck --float: %s: %d tensors, worst relative difference %.1e in %s\n", term->name, n_tensors,
               tworst, wname);
        if (tworst > worst)
            worst = tworst;
    }
    free(gf);
    free(gd);
    int ok = worst <= FLOAT_TOL;
    printf("gradcheck --float: worst relative difference %.1e (tolerance %.0e): %s\n", worst, FLOAT_TOL,
           ok ? "ok" : "FAILED");
    fflush(stdout);
    return ok ? 0 : 1;
}

/* Central differences on the gc_* functions, in double precision when the
 * double build (m64) is linked in.  An entry's error is relative to the
 * larger of the two gradients, but never to less than the rounding noise of
 * the difference quotient over the tolerance: a gradient that is zero up
 * to noise has no meaningful relative error. */
int genrt_cmd_gradcheck(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const struct genrt_model *g = c->m64 ? c->m64 : c->m;
    int dbl = g->real_size == 8;
    double tol = dbl ? 1e-6 : 2e-2;
    double h = dbl ? 1e-6 : 1e-2;
    double eps = dbl ? 2.220446049250313e-16 : 1.1920928955078125e-07;
    uint64_t seed = o->has[F_SEED] ? o->seed : g->seed;

    if (!g->gc_set_input || !g->gc_loss || !g->gc_grad || g->gc_batch <= 0 || g->n_terms <= 0)
        return genrt_cli_fail(c, "gradcheck: this model has no gradient-check functions");
    if (o->use_float)
        return float_vs_double(c, o, seed);
    struct genrt_rng r;
    genrt_rng_seed(&r, genrt_rng_derive(seed, GENRT_STREAM_GRADCHECK));
    if (gc_setup(c, o, g, seed, &r))
        return 1;
    printf("gradcheck: %s precision, %d examples, h %.0e, tolerance %.0e\n",
           dbl ? "double" : "float", g->gc_batch, h, tol);
    void *grad = genrt_file_xcalloc((size_t)g->n_state, (size_t)g->real_size);
    double worst = 0.0;
    for (int k = 0; k < g->n_terms; k++) {
        const struct genrt_term *term = &g->terms[k];
        memset(grad, 0, genrt_run_state_bytes(g));
        g->gc_grad(k, grad);
        double loss = g->gc_loss(k);
        double floor = GC_NOISE_ULPS * eps * fmax(1.0, fabs(loss)) / h / tol;
        double tworst = 0.0, wa = 0.0, wn = 0.0;
        const char *wname = "-";
        long widx = 0, n_checked = 0, n_kinks = 0;
        int n_tensors = 0;
        for (int ti = 0; ti < g->n_tensors; ti++) {
            const struct genrt_tensor *t = &g->tensors[ti];
            if (t->role != GENRT_PARAM || !(term->net_mask >> t->net & 1u) || t->size == 0)
                continue;
            n_tensors++;
            long pick[GC_ENTRIES];
            long n_pick = t->size <= GC_ENTRIES ? t->size : GC_ENTRIES;
            for (long j = 0; j < n_pick; j++) {
                if (t->size <= GC_ENTRIES) {
                    pick[j] = j;
                    continue;
                }
                int dup;
                do { /* distinct entries */
                    pick[j] = (long)genrt_rng_below(&r, (uint64_t)t->size);
                    dup = 0;
                    for (long q = 0; q < j; q++)
                        dup |= pick[q] == pick[j];
                } while (dup);
            }
            for (long j = 0; j < n_pick; j++) {
                long i = t->offset + pick[j];
                double a = genrt_run_real_get(g, grad, i), num = 0, rel = INFINITY;
                /* at h, then at h/10 and h/100 while that is not good enough:
                 * a kink (relu, |x|) within the step makes the one-sided slopes
                 * disagree, and the central difference is no reference there.
                 * Real images have flat regions, whose units all cross a relu
                 * at once; a smaller step rarely meets one.  Rounding noise
                 * grows as the step shrinks, and so does the floor. */
                int kink = 1;
                for (double step = h; step >= h / 100 * 0.99 && (kink || rel > tol); step /= 10) {
                    double nm, rl;
                    int kk = central_difference(g, k, i, step, loss, a, floor * h / step, dbl, &nm, &rl);
                    if (kk && !kink)
                        continue;
                    if (kink || rl < rel)
                        num = nm, rel = rl;
                    kink = kk;
                }
                if (kink) {
                    n_kinks++;
                    continue;
                }
                n_checked++;
                if (rel > tworst || n_checked == 1) {
                    tworst = rel;
                    wname = t->name;
                    widx = pick[j];
                    wa = a;
                    wn = num;
                }
            }
        }
        if (n_checked == 0 && n_kinks == 0) {
            printf("gradcheck: %s: no parameters to check\n", term->name);
            continue;
        }
        printf("gradcheck: %s: %ld entries of %d tensors, worst relative error %.1e at %s[%ld] "
               "(analytic %.9g, numeric %.9g)",
               term->name, n_checked, n_tensors, tworst, wname, widx, wa, wn);
        if (n_kinks)
            printf("; %ld entries at a kink skipped", n_kinks);
        printf("\n");
        if (n_kinks * 10 > n_checked + n_kinks) { /* too many to be kinks */
            printf("gradcheck: %s: %ld of %ld entries skipped at kinks: too many\n", term->name, n_kinks,
                   n_checked + n_kinks);
            tworst = INFINITY;
        }
        if (tworst > worst)
            worst = tworst;
    }
    free(grad);
    int ok = worst <= tol;
    printf("gradcheck: worst relative error %.1e (tolerance %.0e): %s\n", worst, tol,
           ok ? "ok" : "FAILED");
    fflush(stdout);
    return ok ? 0 : 1;
}

/* ---------------------------------------------------------------- bench */

int genrt_cmd_bench(const struct genrt_cli *c, const struct genrt_opts *o)
{
    const struct genrt_model *m = c->m;
    long steps = o->has[F_STEPS] ? o->steps : GENRT_DEFAULT_BENCH_STEPS;
    long threads = o->has[F_THREADS] ? o->threads : GENRT_DEFAULT_THREADS;
    uint64_t seed = o->has[F_SEED] ? o->seed : m->seed;

    genrt_run_compute_setup(o);
    genrt_run_init_state(m, seed);
    struct genrt_rng r;
    genrt_rng_seed(&r, genrt_rng_derive(seed, GENRT_STREAM_BENCH));
    long ny = (long)m->real_batches * m->batch;
    long nr = ny * m->sample_size, nz = (long)m->latent_batches * m->batch * m->latent_dim;
    float *real = genrt_file_xmalloc((size_t)nr * sizeof *real);
    float *real_b = NULL;
    float *z = nz > 0 ? genrt_file_xmalloc((size_t)nz * sizeof *z) : NULL;
    float *y = m->n_classes > 0 ? genrt_file_xmalloc((size_t)ny * sizeof *y) : NULL;
    double *metrics = genrt_file_xcalloc((size_t)m->n_metrics + 1, sizeof *metrics);
    if (genrt_run_is_image(m))
        genrt_rng_fill_uniform(&r, real, nr, m->range_lo, m->range_hi);
    else
        genrt_rng_fill_normal(&r, real, nr);
    m->set_input(GENRT_SLOT_X, real);
    if (m->domain_b) {
        const struct genrt_domain *b = m->domain_b;
        real_b = genrt_file_xmalloc((size_t)(ny * b->sample_size) * sizeof *real_b);
        genrt_rng_fill_uniform(&r, real_b, ny * b->sample_size, b->range_lo, b->range_hi);
        m->set_input(GENRT_SLOT_XB, real_b);
    }
    if (z) {
        genrt_run_fill_latent(m, &r, z, nz);
        m->set_input(GENRT_SLOT_Z, z);
    }
    if (y) {
        for (long i = 0; i < ny; i++)
            y[i] = (float)genrt_rng_below(&r, (uint64_t)m->n_classes);
        m->set_input(GENRT_SLOT_Y, y);
    }
    for (long t = 1; t <= BENCH_WARMUP; t++)
        m->train_step(t, metrics);
    double t0 = genrt_progress_now();
    for (long t = 1; t <= steps; t++)
        m->train_step(BENCH_WARMUP + t, metrics);
    double dt = genrt_progress_now() - t0;
    printf("bench: %.3f ms/step over %ld steps (threads %ld)\n", 1e3 * dt / steps, steps,
           threads);
    free(real);
    free(real_b);
    free(z);
    free(y);
    free(metrics);
    return 0;
}
