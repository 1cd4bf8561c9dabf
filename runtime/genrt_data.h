/* genrt_data.h: the training data, served in batches of floats.
 *
 * Two sources, as in genrt_model.h:
 *  - fashion_mnist: IDX files (gzip'd or not) loaded whole, kept as uint8,
 *    converted to floats per batch so that pixel 0 -> range_lo and
 *    255 -> range_hi.  Each epoch is a Fisher-Yates shuffle drawn from a
 *    stream derived from (seed, epoch), so the loader's whole state is
 *    (epoch, cursor); the last incomplete batch of an epoch is dropped.
 *  - ring8: 8 Gaussians (std 0.05) on a circle of radius 2, centers at
 *    angles 2*pi*k/8; an endless stream drawn from the loader's own RNG.
 * struct genrt_data_state is everything a checkpoint needs to resume. */
#ifndef GENRT_DATA_H
#define GENRT_DATA_H

#include <stdint.h>

#include "genrt_err.h"
#include "genrt_model.h"
#include "genrt_rng.h"

struct genrt_data_state {
    uint64_t epoch;       /* IDX: epochs started before the current one */
    uint64_t cursor;      /* IDX: examples of this epoch already served */
    struct genrt_rng rng; /* ring8: the example stream */
};

struct genrt_data {
    int kind;             /* enum genrt_data_kind */
    uint64_t seed;
    long sample_size;     /* floats per example */

    /* IDX images: n examples of c x h x w pixels */
    long n;
    int c, h, w;
    uint8_t *images;      /* n * c * h * w */
    uint8_t *labels;      /* n */
    uint32_t *order;      /* this epoch's permutation of [0, n) */
    float lut[256];       /* pixel value -> float */

    struct genrt_data_state st;
};

/* Opens the model's data source.  path overrides m->data_path (NULL: use
 * the model's).  Checks the files against the model's image shape.  On
 * failure d is left empty (safe to close) and err says which file and why. */
int genrt_data_open(struct genrt_data *d, const struct genrt_model *m, const char *path,
                    uint64_t seed, struct genrt_err *err);
void genrt_data_close(struct genrt_data *d);

/* Writes batch * sample_size floats.  Returns -1 (and writes nothing) if
 * the data set holds fewer than `batch` examples. */
int genrt_data_next_batch(struct genrt_data *d, float *out, int batch);

void genrt_data_get_state(const struct genrt_data *d, struct genrt_data_state *st);
/* Restores a state saved by genrt_data_get_state (from a run on the same
 * data and seed); fails if it does not fit this data set. */
int genrt_data_set_state(struct genrt_data *d, const struct genrt_data_state *st,
                         struct genrt_err *err);

#endif
