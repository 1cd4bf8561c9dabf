/* genrt_ckpt.h: checkpoint files.
 *
 * Layout, all integers little-endian:
 *     "GENCCKPT"          8 bytes
 *     u32 version         GENRT_CKPT_VERSION
 *     u64 shape_hash      the model's; a checkpoint only fits its own spec
 *     u32 real_size       4 (float) or 8 (double)
 *     u64 step            training steps done
 *     u64 n_state
 *     state               n_state * real_size bytes, raw
 *     u64 blob_size
 *     blob                RNG and data-loader state, encoded by the caller
 *     u32 crc32           zlib crc32 of every byte before it
 * Saving is atomic (see genrt_file.h); loading checks everything before
 * handing anything back, so a bad file never clobbers the caller's state.
 * Beyond the CRC, a checkpoint's step is at most GENRT_CKPT_MAX_STEP and
 * every state value is finite: a file that says otherwise is refused when
 * read, and never written. */
#ifndef GENRT_CKPT_H
#define GENRT_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "genrt_err.h"

#define GENRT_CKPT_MAGIC "GENCCKPT"
/* 2: batchnorm's running statistics lost the optimizer slots they wrongly
 * had, which changed those models' state; a version 1 file gets an error
 * that names both versions. */
#define GENRT_CKPT_VERSION 2u

#define GENRT_CKPT_MAX_STEP 1000000000000ull /* the trainers' --steps bound */

struct genrt_ckpt {
    uint64_t shape_hash;
    uint32_t real_size;
    uint64_t step;
    uint64_t n_state;
    const void *state;  /* n_state * real_size bytes */
    uint64_t blob_size;
    const void *blob;
    unsigned char *buf; /* genrt_ckpt_read: the file, which state and blob point into */
};

int genrt_ckpt_save(const char *path, const struct genrt_ckpt *c, struct genrt_err *err);

/* Reads and validates a checkpoint's format (magic, version, size, CRC).
 * On success c->state and c->blob point into c->buf: genrt_ckpt_free it. */
int genrt_ckpt_read(const char *path, struct genrt_ckpt *c, struct genrt_err *err);

/* What a model's checkpoint must be. */
struct genrt_ckpt_want {
    uint64_t shape_hash;
    uint32_t real_size;
    uint64_t n_state;
    uint64_t blob_size;
};

/* genrt_ckpt_read for a file that must fit a model: its header is checked
 * against w (genrt_ckpt_match's messages) and its size against the size
 * such a checkpoint has before the rest is read, so a forged size never
 * makes it read more than the model's own checkpoint. */
int genrt_ckpt_read_want(const char *path, const struct genrt_ckpt_want *w, struct genrt_ckpt *c,
                         struct genrt_err *err);

/* Checks that a read checkpoint fits a model (shape hash, real size, state
 * size); path is only used in the message. */
int genrt_ckpt_match(const struct genrt_ckpt *c, const char *path, uint64_t shape_hash,
                     uint32_t real_size, uint64_t n_state, struct genrt_err *err);

void genrt_ckpt_free(struct genrt_ckpt *c);

/* The index of the first value of n reals (real_size 4 or 8) that is NaN
 * or infinite, or -1 if all are finite. */
long long genrt_ckpt_first_nonfinite(const void *state, uint32_t real_size, uint64_t n);
/* "nan", "inf" or "-inf" for value i of the same array (or "finite"). */
const char *genrt_ckpt_value_name(const void *state, uint32_t real_size, uint64_t i);

/* Little-endian encoding, for the caller's blob. */
void genrt_ckpt_put_u64(unsigned char *p, uint64_t v);
uint64_t genrt_ckpt_get_u64(const unsigned char *p);

#endif
