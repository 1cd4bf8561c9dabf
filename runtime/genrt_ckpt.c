/* genrt_ckpt.c: see genrt_ckpt.h. */
#include "genrt_ckpt.h"

#include <stdlib.h>
#include <string.h>
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
    c->state = buf + HEADER_SIZE;
    c->blob = buf + HEADER_SIZE + state_bytes + 8;
    c->buf = buf;
    return 0;
fail:
    free(buf);
    memset(c, 0, sizeof *c);
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
