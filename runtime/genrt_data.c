/* genrt_data.c: see genrt_data.h. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_data.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "genrt_file.h"

#define GENRT_TWO_PI 6.283185307179586476925286766559
#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define RING8_RADIUS 2.0
#define RING8_STD 0.05

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Finds DIR/BASE, else DIR/BASE.gz; *out is malloc'd. */
static int find_idx(const char *dir, const char *base, char **out, struct genrt_err *err)
{
    struct stat st;
    char *plain = genrt_file_join(dir, base);
    if (stat(plain, &st) == 0) {
        *out = plain;
        return 0;
    }
    size_t n = strlen(plain);
    char *gz = genrt_file_xmalloc(n + 4);
    memcpy(gz, plain, n);
    memcpy(gz + n, ".gz", 4);
    if (stat(gz, &st) == 0) {
        free(plain);
        *out = gz;
        return 0;
    }
    if (stat(dir, &st) != 0)
        genrt_err_set(err, "%s: no such directory (looking for %s)", dir, base);
    else
        genrt_err_set(err, "%s: no such file (nor %s)", gz, plain);
    free(plain);
    free(gz);
    return -1;
}

/* Reads up to n bytes, adding the count to *got; short only at the end of
 * the data.  A gzip stream that stops early counts as the end (the caller
 * reports truncation); corrupt gzip data is an error. */
static int gz_read_full(gzFile g, const char *path, unsigned char *p, uint64_t n, uint64_t *got,
                        struct genrt_err *err)
{
    uint64_t done = 0;
    while (done < n) {
        uint64_t want = n - done;
        unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
        int r = gzread(g, p + done, chunk);
        if (r <= 0) {
            int code;
            const char *msg = gzerror(g, &code);
            if (code == Z_OK || code == Z_BUF_ERROR) /* end of data, or "unexpected end of file" */
                break;
            if (code == Z_ERRNO)
                return genrt_err_set(err, "%s: cannot read: %s", path, strerror(errno));
            return genrt_err_set(err, "%s: corrupt gzip data (%s)", path, msg);
        }
        done += (uint64_t)r;
    }
    *got += done;
    return 0;
}

/* Opens an IDX file and reads its header: magic, then n_dims big-endian
 * u32 dims. */
static int idx_open(const char *path, uint32_t magic, const char *kind, int n_dims,
                    uint32_t *dims, gzFile *out, struct genrt_err *err)
{
    errno = 0;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return genrt_err_set(err, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    gzbuffer(g, 1 << 17);
    uint64_t hsize = 4 + 4 * (uint64_t)n_dims, got = 0;
    unsigned char hdr[16];
    if (gz_read_full(g, path, hdr, hsize, &got, err))
        goto fail;
    if (got >= 4 && be32(hdr) != magic) {
        genrt_err_set(err, "%s: bad magic 0x%08x (not an IDX %s file)", path, be32(hdr), kind);
        goto fail;
    }
    if (got < hsize) {
        genrt_err_set(err, "%s: truncated: expected a %llu-byte header, got %llu bytes", path,
                      (unsigned long long)hsize, (unsigned long long)got);
        goto fail;
    }
    for (int i = 0; i < n_dims; i++)
        dims[i] = be32(hdr + 4 + 4 * i);
    *out = g;
    return 0;
fail:
    gzclose(g);
    return -1;
}

/* Reads exactly `size` payload bytes after a header of hsize bytes and
 * closes g.  The buffer grows as data arrive, so a corrupt header that
 * announces terabytes fails as "truncated", not as out-of-memory. */
static int idx_read_payload(gzFile g, const char *path, uint64_t hsize, uint64_t size,
                            uint8_t **data, struct genrt_err *err)
{
    uint64_t cap = size < (64u << 20) ? size : (64u << 20), got = 0;
    uint8_t *buf = genrt_file_xmalloc(cap);
    for (;;) {
        if (gz_read_full(g, path, buf + got, cap - got, &got, err))
            goto fail;
        if (got < cap || got == size)
            break;
        cap = cap * 2 < size ? cap * 2 : size;
        uint8_t *nb = realloc(buf, cap);
        if (!nb) {
            genrt_err_set(err, "%s: out of memory", path);
            goto fail;
        }
        buf = nb;
    }
    if (got < size) {
        genrt_err_set(err, "%s: truncated: expected %llu bytes, got %llu", path,
                      (unsigned long long)(hsize + size), (unsigned long long)(hsize + got));
        goto fail;
    }
    unsigned char extra;
    uint64_t more = 0;
    if (gz_read_full(g, path, &extra, 1, &more, err))
        goto fail;
    if (more) {
        genrt_err_set(err, "%s: trailing data after the %llu bytes its header announces", path,
                      (unsigned long long)(hsize + size));
        goto fail;
    }
    gzclose(g);
    *data = buf;
    return 0;
fail:
    gzclose(g);
    free(buf);
    return -1;
}

static int load_idx(struct genrt_data *d, const struct genrt_model *m, const char *dir,
                    struct genrt_err *err)
{
    const char *split = m->data_train ? "train" : "t10k";
    char base[64];
    char *ipath = NULL, *lpath = NULL;
    uint32_t idims[3], ldims[1];
    gzFile g;
    int rc = -1;

    snprintf(base, sizeof base, "%s-images-idx3-ubyte", split);
    if (find_idx(dir, base, &ipath, err))
        goto out;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", split);
    if (find_idx(dir, base, &lpath, err))
        goto out;

    if (idx_open(ipath, IDX_IMAGES_MAGIC, "image", 3, idims, &g, err))
        goto out;
    if (m->img_c != 1 || idims[1] != (uint32_t)m->img_h || idims[2] != (uint32_t)m->img_w) {
        genrt_err_set(err, "%s: images are 1x%ux%u but the model expects %dx%dx%d", ipath,
                      idims[1], idims[2], m->img_c, m->img_h, m->img_w);
        gzclose(g);
        goto out;
    }
    if (idims[0] == 0) {
        genrt_err_set(err, "%s: holds no images", ipath);
        gzclose(g);
        goto out;
    }
    /* img_h, img_w are ints, so this cannot overflow 64 bits */
    uint64_t isize = (uint64_t)idims[0] * idims[1] * idims[2];
    if (idx_read_payload(g, ipath, 16, isize, &d->images, err))
        goto out;

    if (idx_open(lpath, IDX_LABELS_MAGIC, "label", 1, ldims, &g, err))
        goto out;
    if (ldims[0] != idims[0]) {
        genrt_err_set(err, "%s: %u labels, but %s has %u images", lpath, ldims[0], ipath,
                      idims[0]);
        gzclose(g);
        goto out;
    }
    if (idx_read_payload(g, lpath, 8, ldims[0], &d->labels, err))
        goto out;

    d->n = (long)idims[0];
    d->c = 1;
    d->h = (int)idims[1];
    d->w = (int)idims[2];
    rc = 0;
out:
    free(ipath);
    free(lpath);
    return rc;
}

/* This epoch's order: a Fisher-Yates shuffle of the identity, drawn from a
 * stream that depends only on (seed, epoch), so any epoch can be rebuilt. */
static void shuffle(struct genrt_data *d)
{
    struct genrt_rng r;
    uint64_t s = genrt_rng_derive(d->seed, GENRT_STREAM_SHUFFLE);
    genrt_rng_seed(&r, genrt_rng_derive(s, d->st.epoch));
    for (long i = 0; i < d->n; i++)
        d->order[i] = (uint32_t)i;
    for (long i = d->n - 1; i > 0; i--) {
        long j = (long)genrt_rng_below(&r, (uint64_t)i + 1);
        uint32_t t = d->order[i];
        d->order[i] = d->order[j];
        d->order[j] = t;
    }
}

int genrt_data_open(struct genrt_data *d, const struct genrt_model *m, const char *path,
                    uint64_t seed, struct genrt_err *err)
{
    memset(d, 0, sizeof *d);
    d->kind = m->data_kind;
    d->seed = seed;
    d->sample_size = m->sample_size;
    if (!path)
        path = m->data_path;

    switch (m->data_kind) {
    case GENRT_DATA_FASHION_MNIST: {
        if (!path || !path[0])
            return genrt_err_set(err, "no data directory given (use --data DIR)");
        if (m->sample_size != (long)m->img_c * m->img_h * m->img_w)
            return genrt_err_set(err, "model error: sample_size %ld is not %dx%dx%d",
                                 m->sample_size, m->img_c, m->img_h, m->img_w);
        if (load_idx(d, m, path, err)) {
            genrt_data_close(d);
            return -1;
        }
        /* Exact ends: computing 255 * ((hi - lo) / 255) could miss hi. */
        for (int i = 0; i < 256; i++)
            d->lut[i] = (float)(m->range_lo + ((double)m->range_hi - m->range_lo) * i / 255.0);
        d->lut[0] = m->range_lo;
        d->lut[255] = m->range_hi;
        d->order = genrt_file_xmalloc((size_t)d->n * sizeof *d->order);
        shuffle(d);
        return 0;
    }
    case GENRT_DATA_RING8:
        if (m->sample_size != 2)
            return genrt_err_set(err, "model error: ring8 examples are 2-D, sample_size is %ld",
                                 m->sample_size);
        genrt_rng_seed(&d->st.rng, genrt_rng_derive(seed, GENRT_STREAM_RING8));
        return 0;
    default:
        return genrt_err_set(err, "model error: unknown data kind %d", m->data_kind);
    }
}

void genrt_data_close(struct genrt_data *d)
{
    free(d->images);
    free(d->labels);
    free(d->order);
    memset(d, 0, sizeof *d);
}

int genrt_data_next_batch(struct genrt_data *d, float *out, int batch)
{
    if (d->kind == GENRT_DATA_RING8) {
        for (int b = 0; b < batch; b++) {
            double a = GENRT_TWO_PI * (double)genrt_rng_below(&d->st.rng, 8) / 8.0;
            double x = RING8_RADIUS * cos(a) + RING8_STD * genrt_rng_normal(&d->st.rng);
            double y = RING8_RADIUS * sin(a) + RING8_STD * genrt_rng_normal(&d->st.rng);
            out[2 * b] = (float)x;
            out[2 * b + 1] = (float)y;
        }
        return 0;
    }
    if (batch <= 0 || batch > d->n)
        return -1;
    /* Drop the epoch's last incomplete batch: every batch is full-size. */
    if (d->st.cursor + (uint64_t)batch > (uint64_t)d->n) {
        d->st.epoch++;
        d->st.cursor = 0;
        shuffle(d);
    }
    long px = (long)d->c * d->h * d->w;
    for (int b = 0; b < batch; b++) {
        const uint8_t *img = d->images + (size_t)d->order[d->st.cursor + b] * px;
        float *o = out + (size_t)b * px;
        for (long i = 0; i < px; i++)
            o[i] = d->lut[img[i]];
    }
    d->st.cursor += (uint64_t)batch;
    return 0;
}

void genrt_data_get_state(const struct genrt_data *d, struct genrt_data_state *st)
{
    *st = d->st;
}

int genrt_data_set_state(struct genrt_data *d, const struct genrt_data_state *st,
                         struct genrt_err *err)
{
    if (d->kind == GENRT_DATA_RING8) {
        d->st = *st;
        return 0;
    }
    if (st->cursor > (uint64_t)d->n)
        return genrt_err_set(err, "loader state is at example %llu of an epoch, but the data "
                             "set has only %ld examples", (unsigned long long)st->cursor, d->n);
    d->st = *st;
    shuffle(d);
    return 0;
}
