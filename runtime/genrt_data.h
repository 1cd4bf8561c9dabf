/* genrt_data.h: the training data, served in batches of floats (and labels).
 *
 * Three sources, as in genrt_model.h:
 *  - fashion_mnist: IDX files (gzip'd or not) loaded whole, kept as uint8.
 *  - images: the .png/.jpg/.jpeg files (any case) of a directory, in byte
 *    order of their names; hidden entries are skipped.  If subfolders hold
 *    images, each such subfolder is a class (label = its index in name
 *    order) and the images must all be in them; else every image is class
 *    0.  All are decoded once at open with stb_image, RGBA -> RGB and
 *    gray+alpha -> gray (alpha dropped), and resized (stretched) to the
 *    model's w x h with stb_image_resize; a file with fewer or more color
 *    channels than the model's C is an error.  Kept as uint8, channels-last.
 *    A file must start as a PNG or a JPEG does, and its header must
 *    announce at most GENRT_DATA_MAX_IMAGE_PIXELS pixels: both are checked
 *    before anything is decoded, so a small file cannot make the decoder
 *    allocate gigabytes.
 *  - ring8: 8 Gaussians (std 0.05) on a circle of radius 2, centers at
 *    angles 2*pi*k/8 (label k); an endless stream from the loader's own RNG.
 * Images of both kinds become floats per batch, pixel 0 -> range_lo and
 * 255 -> range_hi, and are served [H, W, C] (channels fastest).  Each epoch
 * is a Fisher-Yates shuffle drawn from a stream derived from (seed, epoch),
 * so the loader's whole state is (epoch, cursor); the last incomplete batch
 * of an epoch is dropped.  struct genrt_data_state is everything a
 * checkpoint needs to resume.
 *
 * Classes: fashion_mnist has 10 (more if a label file holds larger labels),
 * images 1 or one per class subfolder, ring8 8 (one per mode).  For a
 * conditional model (m->n_classes > 0) genrt_data_open checks that the data
 * have exactly the model's classes, so every label is below n_classes.
 *
 * Class filter: when m->data_class >= 0, only the examples whose label is
 * that class are kept (fashion_mnist, images with class subfolders), in
 * the order of the files, before the first shuffle; n counts them, and
 * their labels stay as they are.  A class with no examples in the split
 * is an error naming the directory and the class; ring8 has no filter.
 *
 * Limit: when m->data_limit > 0 (the spec's `limit N`), the model's own
 * split keeps only its first N examples, in file order, after the class
 * filter; fewer examples than N keep them all.  A split opened by name
 * (GENRT_SPLIT_TRAIN or _TEST: eval, score's real features) is whole.
 *
 * Splits: fashion_mnist has a train split (train-* files) and a test split
 * (t10k-* files); a spec picks one (m->data_train) and training reads only
 * that, but `X eval`, `X reconstruct` and `X translate` open either by
 * name.  An images directory is one set with no test split: it is the
 * train split.  ring8 is an endless stream with no split and no fixed
 * examples.
 *
 * Domains: a CycleGAN reads two sources.  The model's own data fields
 * describe domain A and m->domain_b domain B; genrt_data_domain_model
 * gives the model as either domain's loader sees it, so that
 * genrt_data_open reads domain B unchanged. */
#ifndef GENRT_DATA_H
#define GENRT_DATA_H

#include <stdint.h>

#include "genrt_err.h"
#include "genrt_model.h"
#include "genrt_rng.h"

#define GENRT_DATA_MAX_CLASSES 256  /* labels are uint8; also genrt_model's bound */
#define GENRT_DATA_FMNIST_CLASSES 10
#define GENRT_DATA_RING8_MODES 8
#define GENRT_DATA_RING8_RADIUS 2.0
#define GENRT_DATA_RING8_STD 0.05
#ifndef GENRT_DATA_MAX_IMAGE_PIXELS /* the fuzz harness lowers it, to stay fast */
#define GENRT_DATA_MAX_IMAGE_PIXELS (1L << 26) /* 8192 x 8192: 192 MiB decoded as RGB */
#endif

struct genrt_data_state {
    uint64_t epoch;       /* IDX: epochs started before the current one */
    uint64_t cursor;      /* IDX: examples of this epoch already served */
    struct genrt_rng rng; /* ring8: the example stream */
};

struct genrt_data {
    int kind;             /* enum genrt_data_kind */
    uint64_t seed;
    long sample_size;     /* floats per example */

    /* fashion_mnist, images: n examples of h x w pixels of c channels */
    long n;
    int c, h, w;
    uint8_t *images;      /* n * h * w * c, channels-last */
    uint8_t *labels;      /* n, each < n_classes (ring8: NULL) */
    int n_classes;        /* fashion_mnist: 10, or max label + 1 if larger; images: 1 or the
                           * subfolders; ring8: 8 (the source's, whatever the filter) */
    int data_class;       /* the only class kept (m->data_class), or -1 for all */
    char **class_names;   /* images with class subfolders: their n_classes names; else NULL */
    uint32_t *order;      /* this epoch's permutation of [0, n) */
    float lut[256];       /* pixel value -> float */

    struct genrt_data_state st;
};

/* A CycleGAN's domains: translate()'s dir is the domain translated from. */
enum genrt_data_domain {
    GENRT_DOMAIN_A, /* the model's own data fields */
    GENRT_DOMAIN_B, /* m->domain_b */
};

enum genrt_data_split {
    GENRT_SPLIT_MODEL, /* the spec's: m->data_train */
    GENRT_SPLIT_TRAIN,
    GENRT_SPLIT_TEST,  /* fashion_mnist only */
};

/* Opens the model's data source.  path overrides m->data_path (NULL: use
 * the model's).  Checks the files against the model's image shape and, for
 * a conditional model, the classes against m->n_classes.  On failure d is
 * left empty (safe to close) and err says which file and why. */
int genrt_data_open(struct genrt_data *d, const struct genrt_model *m, const char *path,
                    uint64_t seed, struct genrt_err *err);
/* The same, for a split (enum genrt_data_split): a split the source does
 * not have is an error that says so. */
int genrt_data_open_split(struct genrt_data *d, const struct genrt_model *m, const char *path,
                          int split, uint64_t seed, struct genrt_err *err);
/* The model as domain `domain`'s loader sees it (enum genrt_data_domain):
 * *m for domain A; for domain B, *m with the data fields of m->domain_b
 * (kind, path, split, class, range, image shape, sample_size) and no
 * classes.  m must have a domain_b for GENRT_DOMAIN_B. */
void genrt_data_domain_model(const struct genrt_model *m, int domain, struct genrt_model *out);
/* 1 if a source of this kind has the split (GENRT_SPLIT_MODEL: always). */
int genrt_data_has_split(int kind, int split);
void genrt_data_close(struct genrt_data *d);

/* Writes batch * sample_size floats.  Returns -1 (and writes nothing) if
 * the data set holds fewer than `batch` examples. */
int genrt_data_next_batch(struct genrt_data *d, float *out, int batch);
/* The same, and the batch's labels into labels[batch] (if not NULL): the
 * class of each example, in [0, n_classes).  Serves the same batches as
 * genrt_data_next_batch, so the two can be mixed freely. */
int genrt_data_next_batch_labels(struct genrt_data *d, float *out, int *labels, int batch);

/* Examples first .. first + count - 1 in the order of the files, not the
 * epoch's shuffle, and without moving the loader: count * sample_size
 * floats into out and, if labels is not NULL, their classes.  Returns -1
 * (and writes nothing) if they are not all in [0, n), or for ring8. */
int genrt_data_read(const struct genrt_data *d, long first, long count, float *out,
                    int *labels);

/* The center of ring8's mode k (label k), k in [0, GENRT_DATA_RING8_MODES):
 * radius * (cos, sin)(2 pi k / modes).  genrt_score's ring8 metrics use it too. */
void genrt_data_ring8_mode(int k, double *x, double *y);

/* "fashion_mnist", "ring8", "images" (as in a spec), or "unknown". */
const char *genrt_data_kind_name(int kind);

void genrt_data_get_state(const struct genrt_data *d, struct genrt_data_state *st);
/* Restores a state saved by genrt_data_get_state (from a run on the same
 * data and seed); fails if it does not fit this data set. */
int genrt_data_set_state(struct genrt_data *d, const struct genrt_data_state *st,
                         struct genrt_err *err);

#endif
