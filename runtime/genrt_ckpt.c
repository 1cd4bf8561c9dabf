/* genrt_ckpt.c: see genrt_ckpt.h. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_ckpt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "genrt_file.h"

#define HEADER_SIZE 40 /* magic 8, version 4, hash 8, real_size 4, step 8, n_state 8 */

void genrt_ckpt_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t genrt_ckpt_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

long long genrt_ckpt_first_nonfinite(const void *state, uint32_t real_size, uint64_t n)
{
    /* by the exponent bits: all ones is NaN or an infinity */
    if (real_size == 8) {
        const unsigned char *p = state;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t b;
            memcpy(&b, p + 8 * i, 8);
            if ((b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull)
                return (long long)i;
        }
    } else {
        const unsigned char *p = state;
        for (uint64_t i = 0; i < n; i++) {
            uint32_t b;
            memcpy(&b, p + 4 * i, 4);
            if ((b & 0x7f800000u) == 0x7f800000u)
                return (long long)i;
        }
    }
    return -1;
}

const char *genrt_ckpt_value_name(const void *state, uint32_t real_size, uint64_t i)
{
    double v;
    if (real_size == 8) {
        memcpy(&v, (const unsigned char *)state + 8 * i, 8);
    } else {
        float f;
        memcpy(&f, (const unsigned char *)state + 4 * i, 4);
        v = f;
    }
    return isnan(v) ? "nan" : isinf(v) ? (v > 0 ? "inf" : "-inf") : "finite";
}

/* Writes bytes and folds them into the running CRC. */
struct crc_writer {
    FILE *f;
    uLong crc;
};

static void put(struct crc_writer *w, const void *p, uint64_t n)
{
    const unsigned char *b = p;
    w->crc = crc32_z(w->crc, b, (z_size_t)n);
    fwrite(b, 1, (size_t)n, w->f);
}

int genrt_ckpt_save(const char *path, const struct genrt_ckpt *c, struct genrt_err *err)
{
    if (c->real_size != 4 && c->real_size != 8)
        return genrt_err_set(err, "%s: real size %u is neither 4 nor 8", path, c->real_size);
    if (c->step > GENRT_CKPT_MAX_STEP)
        return genrt_err_set(err, "%s: step %llu is beyond any run's (at most %llu)", path,
                             (unsigned long long)c->step, GENRT_CKPT_MAX_STEP);
    long long bad = genrt_ckpt_first_nonfinite(c->state, c->real_size, c->n_state);
    if (bad >= 0)
        return genrt_err_set(err, "%s: not saved: state value %lld is %s", path, bad,
                             genrt_ckpt_value_name(c->state, c->real_size, (uint64_t)bad));
    struct genrt_file af;
    if (genrt_file_create(&af, path, err))
        return -1;
    struct crc_writer w = {af.f, crc32(0L, Z_NULL, 0)};
    unsigned char h[HEADER_SIZE], b[8];
    memcpy(h, GENRT_CKPT_MAGIC, 8);
    put_u32(h + 8, GENRT_CKPT_VERSION);
    genrt_ckpt_put_u64(h + 12, c->shape_hash);
    put_u32(h + 20, c->real_size);
    genrt_ckpt_put_u64(h + 24, c->step);
    genrt_ckpt_put_u64(h + 32, c->n_state);
    put(&w, h, sizeof h);
    put(&w, c->state, c->n_state * c->real_size);
    genrt_ckpt_put_u64(b, c->blob_size);
    put(&w, b, 8);
    if (c->blob_size)
        put(&w, c->blob, c->blob_size);
    put_u32(b, (uint32_t)w.crc);
    fwrite(b, 1, 4, af.f);
    /* commit checks ferror, so a failed fwrite above is caught there */
    return genrt_file_commit(&af, err);
}

int genrt_ckpt_read(const char *path, struct genrt_ckpt *c, struct genrt_err *err)
{
    memset(c, 0, sizeof *c);
    unsigned char *buf;
    size_t len;
    if (genrt_file_read_all(path, &buf, &len, err))
        return -1;
    size_t m = len < 8 ? len : 8;
    if (memcmp(buf, GENRT_CKPT_MAGIC, m) != 0) {
        genrt_err_set(err, "%s: not a genc checkpoint (bad magic)", path);
        goto fail;
    }
    if (len < HEADER_SIZE) {
        genrt_err_set(err, "%s: truncated: %zu bytes, shorter than the %d-byte header", path, len,
                      HEADER_SIZE);
        goto fail;
    }
    uint32_t version = get_u32(buf + 8);
    if (version != GENRT_CKPT_VERSION) {
        genrt_err_set(err, "%s: checkpoint format version %u; this build of genc reads version "
                      "%u (retrain, or use the genc that wrote it)", path, version,
                      GENRT_CKPT_VERSION);
        goto fail;
    }
    c->shape_hash = genrt_ckpt_get_u64(buf + 12);
    c->real_size = get_u32(buf + 20);
    c->step = genrt_ckpt_get_u64(buf + 24);
    c->n_state = genrt_ckpt_get_u64(buf + 32);
    if (c->real_size != 4 && c->real_size != 8) {
        genrt_err_set(err, "%s: corrupt (real size %u)", path, c->real_size);
        goto fail;
    }
    /* Sizes are checked against len before any arithmetic can overflow. */
    uint64_t state_bytes = c->n_state * c->real_size;
    if (c->n_state > len || HEADER_SIZE + state_bytes + 8 > len) {
        genrt_err_set(err, "%s: truncated: %zu bytes, too short for the %llu state values its "
                      "header announces", path, len, (unsigned long long)c->n_state);
        goto fail;
    }
    c->blob_size = genrt_ckpt_get_u64(buf + HEADER_SIZE + state_bytes);
    uint64_t fixed = HEADER_SIZE + state_bytes + 8 + 4;
    if (c->blob_size > len || fixed + c->blob_size > len) {
        genrt_err_set(err, "%s: truncated: expected at least %llu bytes, got %zu", path,
                      (unsigned long long)(fixed + (c->blob_size > len ? 0 : c->blob_size)), len);
        goto fail;
    }
    uint64_t total = fixed + c->blob_size;
    if (total != len) {
        genrt_err_set(err, "%s: corrupt (expected %llu bytes, got %zu)", path,
                      (unsigned long long)total, len);
        goto fail;
    }
    uint32_t want = get_u32(buf + len - 4);
    uint32_t got = (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), buf, len - 4);
    if (want != got) {
        genrt_err_set(err, "%s: corrupt (CRC mismatch)", path);
        goto fail;
    }
    if (c->step > GENRT_CKPT_MAX_STEP) {
        genrt_err_set(err, "%s: corrupt (step %llu; no run is longer than %llu steps)", path,
                      (unsigned long long)c->step, GENRT_CKPT_MAX_STEP);
        goto fail;
    }
    long long bad = genrt_ckpt_first_nonfinite(buf + HEADER_SIZE, c->real_size, c->n_state);
    if (bad >= 0) {
        genrt_err_set(err, "%s: corrupt (state value %lld of %llu is %s; a genc checkpoint holds "
                      "finite values only)", path, bad, (unsigned long long)c->n_state,
                      genrt_ckpt_value_name(buf + HEADER_SIZE, c->real_size, (uint64_t)bad));
        goto fail;
    }
    c->state = buf + HEADER_SIZE;
    c->blob = buf + HEADER_SIZE + state_bytes + 8;
    c->buf = buf;
    return 0;
fail:
    free(buf);
    memset(c, 0, sizeof *c);
    return -1;
}

int genrt_ckpt_read_want(const char *path, const struct genrt_ckpt_want *w, struct genrt_ckpt *c,
                         struct genrt_err *err)
{
    memset(c, 0, sizeof *c);
    /* The header alone first: the magic, the version and the model's own
     * sizes decide how long the file must be before any of it is read. */
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return genrt_err_set(err, "%s: no such file", path);
        return genrt_err_set(err, "%s: %s", path, strerror(errno));
    }
    unsigned char h[HEADER_SIZE];
    size_t got = fread(h, 1, sizeof h, f);
    struct stat st;
    int stat_ok = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    fclose(f);
    if (got == sizeof h && memcmp(h, GENRT_CKPT_MAGIC, 8) == 0 &&
        get_u32(h + 8) == GENRT_CKPT_VERSION && stat_ok) {
        struct genrt_ckpt hc = {
            .shape_hash = genrt_ckpt_get_u64(h + 12),
            .real_size = get_u32(h + 20),
            .n_state = genrt_ckpt_get_u64(h + 32),
        };
        if (genrt_ckpt_match(&hc, path, w->shape_hash, w->real_size, w->n_state, err))
            return -1;
        uint64_t want = HEADER_SIZE + w->n_state * w->real_size + 8 + w->blob_size + 4;
        if ((uint64_t)st.st_size < want)
            return genrt_err_set(err, "%s: truncated: %lld bytes, a checkpoint of this model has "
                                 "%llu", path, (long long)st.st_size, (unsigned long long)want);
        if ((uint64_t)st.st_size > want)
            return genrt_err_set(err, "%s: corrupt (%lld bytes, a checkpoint of this model has "
                                 "%llu)", path, (long long)st.st_size, (unsigned long long)want);
    }
    /* anything else (a short or foreign file) gets genrt_ckpt_read's message */
    if (genrt_ckpt_read(path, c, err))
        return -1;
    if (genrt_ckpt_match(c, path, w->shape_hash, w->real_size, w->n_state, err))
        goto fail;
    if (c->blob_size != w->blob_size) {
        genrt_err_set(err, "%s: corrupt (run state of %llu bytes, expected %llu)", path,
                      (unsigned long long)c->blob_size, (unsigned long long)w->blob_size);
        goto fail;
    }
    return 0;
fail:
    genrt_ckpt_free(c);
    return -1;
}

int genrt_ckpt_match(const struct genrt_ckpt *c, const char *path, uint64_t shape_hash,
                     uint32_t real_size, uint64_t n_state, struct genrt_err *err)
{
    if (c->shape_hash != shape_hash)
        return genrt_err_set(err, "checkpoint %s was written for another spec (shape hash "
                             "0x%016llx, this model has 0x%016llx)", path,
                             (unsigned long long)c->shape_hash, (unsigned long long)shape_hash);
    if (c->real_size != real_size)
        return genrt_err_set(err, "checkpoint %s holds %u-byte reals, this model uses %u-byte "
                             "reals", path, c->real_size, real_size);
    if (c->n_state != n_state)
        return genrt_err_set(err, "checkpoint %s holds %llu state values, this model has %llu",
                             path, (unsigned long long)c->n_state, (unsigned long long)n_state);
    return 0;
}

void genrt_ckpt_free(struct genrt_ckpt *c)
{
    free(c->buf);
    memset(c, 0, sizeof *c);
}
